"""Stored segments as matching sees them: pair segments to rows of the `segments` table and
back, the key of the matcher that found them, and groups formed from them on demand.

Groups are derived from the stored pair segments each time they are asked for, not kept: a group
changes whenever a video that shares its footage comes or goes, and grouping the segments of a
collection is quick (union-find over their pieces; no frame is compared again), while keeping
groups up to date would rewrite every group a new video touches."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Collection, Sequence

import numpy as np
from sqlalchemy import Connection

from framedb.match.align import Line
from framedb.match.diagonals import Pair
from framedb.match.groups import groups_of
from framedb.match.tracks import Group, MatchParams, Track
from framedb.store.rows import Store
from framedb.store.tables import SegmentRow

# Bumped whenever the matcher changes what it finds for the same parameters: segments stored by
# another version are then stale, like segments found with other parameters.
MATCHER_VERSION = 3  # 3: rates refined within 3 %, loose plain lines tried at other rates
# (2: candidates looked up by their inner hashes among inner hashes too)


def matcher_key(params: MatchParams) -> str:
    """What stored segments record of the matcher that found them: its version and parameters."""
    fields = ",".join(f"{k}={v!r}" for k, v in sorted(dataclasses.asdict(params).items()))
    return f"v{MATCHER_VERSION}-" + hashlib.sha256(fields.encode()).hexdigest()[:16]


def rows_of(tracks: Sequence[Track], pairs: Sequence[Pair]) -> list[SegmentRow]:
    """The pair segments (in positions of `tracks`) as rows, the lower video id first."""
    rows = []
    for p in pairs:
        ta, tb, line = tracks[p.a], tracks[p.b], p.line
        a0, a1, b0, b1 = p.a0, p.a1, p.b0, p.b1
        if ta.video_id > tb.video_id or (ta.video_id == tb.video_id and a0 > b0):
            ta, tb, line, a0, a1, b0, b1 = tb, ta, line.inverse(), b0, b1, a0, a1
        rows.append(
            SegmentRow(
                ta.video_id,
                tb.video_id,
                int(a0),
                int(a1),
                int(b0),
                int(b1),
                float(ta.times[a0]),
                float(ta.times[a1]),
                float(tb.times[b0]),
                float(tb.times[b1]),
                float(line.dt),
                float(line.rate),
                bool(p.mirrored),
                float(p.distance),
            )
        )
    return rows


def pairs_of(rows: Sequence[SegmentRow], position: dict[int, int]) -> list[Pair]:
    """The rows as pair segments between the tracks at `position[video id]`."""
    return [
        Pair(
            position[r.video_a],
            position[r.video_b],
            Line(r.dt, r.rate),
            r.a_start,
            r.a_end,
            r.b_start,
            r.b_end,
            r.mirrored,
            r.distance,
        )
        for r in rows
    ]


def connected(rows: Sequence[SegmentRow], ids: Collection[int]) -> set[int]:
    """The videos that share footage with `ids`, directly or through others (and `ids`)."""
    links: dict[int, set[int]] = {}
    for r in rows:
        links.setdefault(r.video_a, set()).add(r.video_b)
        links.setdefault(r.video_b, set()).add(r.video_a)
    seen, todo = set(ids), list(ids)
    while todo:
        for other in links.get(todo.pop(), ()):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def long_enough(rows: Sequence[SegmentRow], tracks: dict[int, Track], seconds: float) -> list:
    """The rows whose first side lasts at least `seconds` (as the matcher measures a segment)."""
    return [
        r for r in rows if r.a_end_time - r.a_start_time + tracks[r.video_a].step >= seconds - 1e-9
    ]


def stored_groups(
    rows: Sequence[SegmentRow],
    tracks: dict[int, Track],
    params: MatchParams,
    *,
    only: Collection[int] | None = None,
) -> list[Group]:
    """The groups the stored segments form (`tracks`: each video they touch, of which only
    its times are read: `timeline`), keeping segments of at least `params.min_length` seconds."""
    ids = sorted(tracks)
    position = {v: k for k, v in enumerate(ids)}
    kept = long_enough(
        [r for r in rows if r.video_a in tracks and r.video_b in tracks], tracks, params.min_length
    )
    kept.sort(key=_canonical)  # the order they were stored in must not change the groups
    return groups_of([tracks[v] for v in ids], pairs_of(kept, position), params, only=only)


def timelines(times: dict[int, np.ndarray]) -> dict[int, Track]:
    """Tracks of times only, by video id (`segments.times_of` gives the times)."""
    return {v: timeline(v, t) for v, t in times.items()}


def same_rows(a: Sequence[SegmentRow], b: Sequence[SegmentRow], frames: int = 1) -> bool:
    """Whether two lists hold the same segments (videos, mirroring), each end within `frames`."""
    left, right = sorted(a, key=_canonical), sorted(b, key=_canonical)
    return len(left) == len(right) and all(
        (x.video_a, x.video_b, x.mirrored) == (y.video_a, y.video_b, y.mirrored)
        and max(abs(u - v) for u, v in zip(_canonical(x)[2:], _canonical(y)[2:], strict=True))
        <= frames
        for x, y in zip(left, right, strict=True)
    )


def track_of(store: Store, conn: Connection, video_id: int, nbytes: int) -> Track:
    """A stored video as matching sees it: its frames' times, hashes, detail, inner, middle and
    turned hashes."""
    data = store.frames_of(conn, video_id, nbytes)
    return Track(
        video_id, data.times, data.codes, data.detail, data.inner, mid=data.mid, turned=data.turned
    )


def timeline(video_id: int, times: np.ndarray) -> Track:
    """A track of times only: what grouping and loop summaries read of a video."""
    n = len(times)
    return Track(video_id, times, np.empty((n, 0), np.uint8), np.zeros(n, np.float32))


def _canonical(r: SegmentRow) -> tuple[int, ...]:
    return (r.video_a, r.video_b, r.a_start, r.b_start, r.a_end, r.b_end)
