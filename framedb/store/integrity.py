"""`framedb check`: does the database agree with itself, and the index with the database?"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, select

from framedb.store.cache import IndexCache
from framedb.store.index import FrameIndex
from framedb.store.lock import writer_lock
from framedb.store.tables import frames


@dataclass
class CheckReport:
    """`ok` when the database agrees with itself and the index with the database."""

    videos: int = 0
    frames: int = 0
    index_frames: int = 0
    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        """The JSON form `framedb check --json` prints."""
        return {"ok": self.ok, **asdict(self)}


def check(cache: IndexCache, location: str, *, repair: bool = False) -> CheckReport:
    """Videos against their frames, then the index against the frames. A stale or missing index
    file is not a fault (it is rebuilt from SQL, which is the truth); a disagreement is.
    `location` names the database in messages."""
    report = CheckReport()
    broken: list[int] = []
    store = cache.store
    with store.reading() as conn:
        per_video = {
            int(vid): (int(n), int(top))
            for vid, n, top in conn.execute(
                select(frames.c.video_id, func.count(), func.max(frames.c.ordinal)).group_by(
                    frames.c.video_id
                )
            )
        }
        rows = store.videos(conn)
        generation = store.generation(conn)
        sql_ids = np.sort(np.fromiter(conn.execute(select(frames.c.id)).scalars(), dtype=np.int64))
    report.videos, report.frames = len(rows), len(sql_ids)
    known = {v.id for v in rows}
    for video in rows:
        count, top = per_video.get(video.id, (0, -1))
        if count != video.frame_count or top != count - 1:
            report.problems.append(
                f"{video.path}: {count} frames stored (ordinals up to {top}), "
                f"the video row says {video.frame_count}"
            )
            broken.append(video.id)
    orphans = sorted(set(per_video) - known)
    if orphans:
        report.problems.append(f"frames of {len(orphans)} unknown video id(s): {orphans[:5]}")
    on_disk = FrameIndex.load(cache.path, cache.database_id, generation, cache.bits)
    if on_disk is None:
        report.repaired.append(f"{cache.path}: missing or stale; brought up to date from SQL")
    elif not on_disk.verify():  # queries read it in place: check every byte of it here
        cache.path.unlink(missing_ok=True)
        cache.forget()
        report.repaired.append(f"{cache.path}: damaged (checksum); rebuilt from SQL")
    index_ids = np.sort(cache.index().ids())
    report.index_frames = len(index_ids)
    if not np.array_equal(index_ids, sql_ids):
        report.problems.append(
            f"{cache.path}: holds {len(index_ids)} frame ids, the database {len(sql_ids)}"
        )
    if repair and report.problems:
        notes = _repair(cache, location, broken, orphans)
        again = check(cache, location)
        again.repaired = report.repaired + notes + again.repaired
        return again
    return report


def _repair(cache: IndexCache, location: str, broken: list[int], orphans: list[int]) -> list[str]:
    """Drop videos whose frames disagree with their row (the next ingest stores them again) and
    orphan frames; the index follows from the new generation."""
    notes = []
    store = cache.store
    with writer_lock(store.engine, cache.path, location), store.writing() as conn:
        for video_id in broken:
            store.delete_video(conn, video_id)
            notes.append(f"video {video_id}: removed; ingest it again")
        if orphans:
            conn.execute(frames.delete().where(frames.c.video_id.in_(orphans)))
            notes.append(f"frames of unknown videos {orphans[:5]}: removed")
        store.bump_generation(conn)
    return notes
