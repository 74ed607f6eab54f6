"""The stored pair segments (migration 0003): written with a video's frames, read by `matches`
and `loops`, deleted with either of their videos. Each video also records the key of the matcher
that found its segments (`videos.segments`), so that an answer from segments a different matcher
found is known to be stale."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence

import numpy as np
from sqlalchemy import Connection, and_, delete, func, insert, not_, or_, select, update

from framedb.store.tables import SegmentRow, frames, segments, timelines, videos

_FIELDS = [f.name for f in dataclasses.fields(SegmentRow)]
_COLUMNS = [segments.c[name] for name in _FIELDS]


def write(conn: Connection, rows: Sequence[SegmentRow]) -> None:
    if rows:
        conn.execute(insert(segments), [dataclasses.asdict(r) for r in rows])


def of_videos(conn: Connection, ids: Collection[int] | None = None) -> list[SegmentRow]:
    """The segments with either side in `ids` (every segment if None), in id order."""
    query = select(*_COLUMNS).order_by(segments.c.id)
    if ids is not None:
        wanted = sorted(ids)
        query = query.where(or_(segments.c.video_a.in_(wanted), segments.c.video_b.in_(wanted)))
    return [_row(r) for r in conn.execute(query)]


def delete_of(conn: Connection, ids: Collection[int]) -> int:
    """Delete the segments with either side in `ids`; returns how many went."""
    wanted = sorted(ids)
    done = conn.execute(
        delete(segments).where(or_(segments.c.video_a.in_(wanted), segments.c.video_b.in_(wanted)))
    )
    return int(done.rowcount or 0)


def delete_older(conn: Connection, video_id: int) -> None:
    """Delete the segments of a video with itself and with the videos stored before it (lower
    ids): those found when it was stored."""
    conn.execute(delete(segments).where(segments.c.video_b == video_id))


def delete_all(conn: Connection) -> None:
    conn.execute(delete(segments))


def mark(conn: Connection, ids: Collection[int], key: str | None) -> None:
    """Record that the segments of `ids` were found by the matcher `key` (None: not stored)."""
    if ids:
        conn.execute(update(videos).where(videos.c.id.in_(sorted(ids))).values(segments=key))


def times_of(conn: Connection, ids: Collection[int]) -> dict[int, np.ndarray]:
    """Every frame time of each video in `ids`, in ordinal order (what groups need of a track):
    from its timeline, or from its frames for a video stored before timelines were kept."""
    out: dict[int, np.ndarray] = {}
    wanted = sorted(ids)
    for start in range(0, len(wanted), 500):
        query = select(timelines.c.video_id, timelines.c.times).where(
            timelines.c.video_id.in_(wanted[start : start + 500])
        )
        for video_id, blob in conn.execute(query):
            out[int(video_id)] = np.frombuffer(blob, dtype="<f8").astype(np.float64)
    for video_id in (v for v in wanted if v not in out):
        query = (
            select(frames.c.time).where(frames.c.video_id == video_id).order_by(frames.c.ordinal)
        )
        out[video_id] = np.fromiter(conn.execute(query).scalars(), dtype=np.float64)
    return out


def dangling(conn: Connection) -> list[int]:
    """Ids of the segments that do not point at stored frames: a side's video is gone, its frame
    range is empty or beyond the video's frames, or a stored end time is not its frame's time."""
    va, vb = videos.alias("va"), videos.alias("vb")
    ends = [
        (segments.c.video_a, segments.c.a_start, segments.c.a_start_time),
        (segments.c.video_a, segments.c.a_end, segments.c.a_end_time),
        (segments.c.video_b, segments.c.b_start, segments.c.b_start_time),
        (segments.c.video_b, segments.c.b_end, segments.c.b_end_time),
    ]
    frame_ok = [
        select(frames.c.id)
        .where(frames.c.video_id == video, frames.c.ordinal == ordinal)
        .where(func.abs(frames.c.time - time) <= 1e-6)
        .exists()
        for video, ordinal, time in ends
    ]
    query = (
        select(segments.c.id)
        .outerjoin(va, va.c.id == segments.c.video_a)
        .outerjoin(vb, vb.c.id == segments.c.video_b)
        .where(
            or_(
                va.c.id.is_(None),
                vb.c.id.is_(None),
                segments.c.a_end < segments.c.a_start,
                segments.c.b_end < segments.c.b_start,
                not_(and_(*frame_ok)),
            )
        )
        .order_by(segments.c.id)
    )
    return [int(i) for i in conn.execute(query).scalars()]


def _row(r: Sequence[object]) -> SegmentRow:
    values = dict(zip(_FIELDS, r, strict=True))
    values["mirrored"] = bool(values["mirrored"])
    return SegmentRow(**values)  # type: ignore[arg-type]
