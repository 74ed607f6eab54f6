"""Loop summaries: the groups of one video that repeat inside it, described as a person would
("00:00:04.00–00:00:30.84 repeats 3 times, period 26.88 s, 95 % of the video")."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from framedb.match.tracks import Group, Occurrence, Track, format_time
from framedb.store.tables import VideoRow


@dataclass(frozen=True)
class Loops:
    """Footage repeated inside one video: the groups, and their summaries for a person."""

    video: VideoRow
    groups: list[Group]
    summaries: list[LoopSummary]

    @property
    def coverage(self) -> float:
        """Fraction of the video that is repeated footage (0 when nothing repeats)."""
        return max((s.coverage for s in self.summaries), default=0.0)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form `framedb loops --json` prints."""
        return {
            "video": self.video.path,
            "duration": self.video.duration,
            "coverage": self.coverage,
            "summary": [s.as_dict() for s in self.summaries],
            "groups": [g.as_dict() for g in self.groups],
        }


@dataclass(frozen=True)
class LoopSummary:
    """Footage repeated inside one video, as a person would describe it.

    `start_time`..`end_time` is the first occurrence (inclusive frame times); `repeats` counts the
    occurrences of its start (the last repetition may be cut short); `period` is the median time
    between successive starts; `coverage` the fraction of the video covered by all repetitions.
    """

    start_time: float
    end_time: float
    repeats: int
    period: float
    coverage: float

    def text(self) -> str:
        """E.g. '00:00:04.00–00:00:30.84 repeats 3 times, period 26.88 s, 95 % of the video'."""
        return (
            f"{format_time(self.start_time)}–{format_time(self.end_time)} repeats "
            f"{self.repeats} times, period {self.period:.2f} s, "
            f"{self.coverage * 100:.0f} % of the video"
        )

    def __str__(self) -> str:
        return self.text()

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "text": self.text()}


def summarise_loops(track: Track, groups: Sequence[Group]) -> list[LoopSummary]:
    """Loops of one video: each group with >= 2 occurrences in it, as a human summary.

    Groups that continue each other with the same period (a loop whose last repetition is cut short
    comes out as two groups) are described together. Longest coverage first.
    """
    loops = []
    for g in groups:
        occ = [o for o in g.occurrences if o.video_id == track.video_id]
        if len(occ) >= 2:
            starts = np.array([o.start_time for o in occ])
            loops.append((occ, float(np.median(np.diff(starts)))))
    loops.sort(key=lambda item: (item[1], item[0][0].start_time))
    merged: list[tuple[list[list[Occurrence]], float]] = []
    step = track.step
    for occ, period in loops:
        if merged:
            runs, p = merged[-1]
            tail = runs[-1][0]
            if abs(period - p) <= 1.5 * step and abs(occ[0].start_time - tail.end_time - step) <= (
                1.5 * step
            ):
                runs.append(occ)
                continue
        merged.append(([occ], period))
    summaries = [_summary(track, runs, period) for runs, period in merged]
    summaries.sort(key=lambda s: (-s.coverage, s.start_time))
    return summaries


def _summary(track: Track, runs: list[list[Occurrence]], period: float) -> LoopSummary:
    spans = sorted((o.start_time, o.end_time + track.step) for occ in runs for o in occ)
    covered, reach = 0.0, -math.inf
    for lo, hi in spans:
        lo = max(lo, reach)
        if hi > lo:
            covered += hi - lo
            reach = hi
    total = track.duration
    return LoopSummary(
        start_time=runs[0][0].start_time,
        end_time=runs[-1][0].end_time,
        repeats=len(runs[0]),
        period=period,
        coverage=min(1.0, covered / total) if total > 0 else 0.0,
    )
