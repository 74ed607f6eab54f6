"""`framedb check`: does the database agree with itself, and the index with the database?"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import func, select

from framedb.index import FrameIndex
from framedb.lock import writer_lock
from framedb.store import frames

if TYPE_CHECKING:
    from framedb.api import CheckReport, FrameDB


def check(db: FrameDB, *, repair: bool = False) -> CheckReport:
    """Videos against their frames, then the index against the frames. A stale or missing index
    file is not a fault (it is rebuilt from SQL, which is the truth); a disagreement is."""
    from framedb.api import CheckReport

    report = CheckReport()
    broken: list[int] = []
    with db.store.reading() as conn:
        per_video = {
            int(vid): (int(n), int(top))
            for vid, n, top in conn.execute(
                select(frames.c.video_id, func.count(), func.max(frames.c.ordinal)).group_by(
                    frames.c.video_id
                )
            )
        }
        rows = db.store.videos(conn)
        generation = db.store.generation(conn)
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
    on_disk = FrameIndex.load(db.index_path, db.database_id, generation, db.spec.bits)
    if on_disk is None:
        report.repaired.append(f"{db.index_path}: missing or stale; brought up to date from SQL")
    elif not on_disk.verify():  # queries read it in place: check every byte of it here
        db.index_path.unlink(missing_ok=True)
        db._index = None
        report.repaired.append(f"{db.index_path}: damaged (checksum); rebuilt from SQL")
    index_ids = np.sort(db.index().ids())
    report.index_frames = len(index_ids)
    if not np.array_equal(index_ids, sql_ids):
        report.problems.append(
            f"{db.index_path}: holds {len(index_ids)} frame ids, the database {len(sql_ids)}"
        )
    if repair and report.problems:
        notes = _repair(db, broken, orphans)
        again = check(db)
        again.repaired = report.repaired + notes + again.repaired
        return again
    return report


def _repair(db: FrameDB, broken: list[int], orphans: list[int]) -> list[str]:
    """Drop videos whose frames disagree with their row (the next ingest stores them again) and
    orphan frames; the index follows from the new generation."""
    notes = []
    with writer_lock(db), db.store.writing() as conn:
        for video_id in broken:
            db.store.delete_video(conn, video_id)
            notes.append(f"video {video_id}: removed; ingest it again")
        if orphans:
            conn.execute(frames.delete().where(frames.c.video_id.in_(orphans)))
            notes.append(f"frames of unknown videos {orphans[:5]}: removed")
        db.store.bump_generation(conn)
    return notes
