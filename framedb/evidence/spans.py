"""Time spans on a track, shared by the sweep's and the report's measures of repeated footage: a
track's extent, the union of intervals, and how much of a video some groups cover."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from framedb.match.tracks import Group, Track


def span(track: Track) -> tuple[float, float]:
    """(start, end) of a track in seconds, never empty (a chart axis or a timeline bar)."""
    if not len(track):
        return 0.0, 1.0
    return float(track.times[0]), float(track.times[0]) + max(track.duration, 1e-3)


def merge(spans: Iterable[tuple[float, float]], join: float) -> list[tuple[float, float]]:
    """Union of intervals; intervals closer than `join` are merged too."""
    merged: list[tuple[float, float]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1] + join:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def coverage(track: Track, groups: Sequence[Group]) -> float:
    """Fraction of the track covered by its occurrences in any of these groups."""
    spans = merge(
        [
            (o.start_time, o.end_time + track.step)
            for g in groups
            for o in g.occurrences
            if o.video_id == track.video_id
        ],
        0.0,
    )
    total = track.duration
    return min(1.0, sum(hi - lo for lo, hi in spans) / total) if total > 0 else 0.0
