"""`framedb check`: does the database agree with itself, and the index with the database?"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import case, func, select

from framedb.store.cache import IndexCache
from framedb.store.database import Database
from framedb.store.index import FrameIndex
from framedb.store.lock import writer_lock
from framedb.store.tables import VideoRow, frames, timelines


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


def check(db: Database, *, repair: bool = False) -> CheckReport:
    """Videos against their frames (and their inner, middle and turned hashes), then each index
    against the frames. A stale or missing index file is not a fault (it is rebuilt from SQL,
    which is the truth); a disagreement is."""
    report = CheckReport()
    broken: list[int] = []
    store, nbytes = db.store, db.spec.nbytes
    inner, mid, turned = frames.c.inner_hash, frames.c.mid_hash, frames.c.turned_hash
    with store.reading() as conn:
        per_video = {
            int(vid): tuple(int(v) for v in counts)
            for vid, *counts in conn.execute(
                select(
                    frames.c.video_id,
                    func.count(),
                    func.max(frames.c.ordinal),
                    func.count(inner),
                    func.count(case((func.length(inner) != nbytes, 1))),
                    func.count(mid),
                    func.count(case((func.length(mid) != nbytes, 1))),
                    func.count(turned),
                    func.count(case((func.length(turned) != 2 * nbytes, 1))),
                ).group_by(frames.c.video_id)
            )
        }
        rows = store.videos(conn)
        timeline_bytes = {
            int(vid): int(size)
            for vid, size in conn.execute(
                select(timelines.c.video_id, func.length(timelines.c.times))
            )
        }
        generation = store.generation(conn)
        sql_ids = np.sort(np.fromiter(conn.execute(select(frames.c.id)).scalars(), dtype=np.int64))
        inner_ids = np.sort(
            np.fromiter(
                conn.execute(select(frames.c.id).where(inner.is_not(None))).scalars(), np.int64
            )
        )
    report.videos, report.frames = len(rows), len(sql_ids)
    known = {v.id for v in rows}
    for video in rows:
        count, top, *parts = per_video.get(video.id, (0, -1, 0, 0, 0, 0, 0, 0))
        wrong = _parts_held(video, count, parts)
        if count != video.frame_count or top != count - 1:
            report.problems.append(
                f"{video.path}: {count} frames stored (ordinals up to {top}), "
                f"the video row says {video.frame_count}"
            )
            broken.append(video.id)
        elif wrong:
            report.problems.append(wrong)
            broken.append(video.id)
        elif timeline_bytes.get(video.id, 8 * count) != 8 * count:
            report.problems.append(
                f"{video.path}: its timeline holds {timeline_bytes[video.id] // 8} frame times, "
                f"the video has {count} frames"
            )
            broken.append(video.id)
    orphans = sorted((set(per_video) | set(timeline_bytes)) - known)
    if orphans:
        report.problems.append(
            f"frames or timelines of {len(orphans)} unknown video id(s): {orphans[:5]}"
        )
    for cache, wanted in ((db.cache, sql_ids), (db.inner, inner_ids)):
        held = _index_ids(cache, generation, report)
        if cache is db.cache:
            report.index_frames = len(held)
        if not np.array_equal(held, wanted):
            report.problems.append(
                f"{cache.path}: holds {len(held)} frame ids, the database {len(wanted)}"
            )
    if repair and report.problems:
        notes = _repair(db, broken, orphans)
        again = check(db)
        again.repaired = report.repaired + notes + again.repaired
        return again
    return report


def _parts_held(video: VideoRow, count: int, parts: list[int]) -> str | None:
    """What is wrong with the inner, middle and turned hashes of a video's `count` frames
    (`parts`: how many have one, and how many of the wrong size, of each), or None."""
    for what, has, (held, bad) in (
        ("an inner", video.has_inner, parts[0:2]),
        ("a middle", video.has_mid, parts[2:4]),
        ("a turned", video.has_turned, parts[4:6]),
    ):
        if held != (count if has else 0) or bad:
            return (
                f"{video.path}: {held} of {count} frames have {what} hash ({bad} of the wrong "
                f"size), the video row says {'all' if has else 'none'}"
            )
    return None


def _index_ids(cache: IndexCache, generation: int, report: CheckReport) -> np.ndarray:
    """The frame ids the current index holds, sorted; its file is verified (and rebuilt from SQL
    if stale, missing or damaged, which `report` notes as repaired)."""
    on_disk = FrameIndex.load(cache.path, cache.database_id, generation, cache.bits)
    if on_disk is None:
        report.repaired.append(f"{cache.path}: missing or stale; brought up to date from SQL")
    elif not on_disk.verify():  # queries read it in place: check every byte of it here
        cache.path.unlink(missing_ok=True)
        cache.forget()
        report.repaired.append(f"{cache.path}: damaged (checksum); rebuilt from SQL")
    return np.sort(cache.index().ids())


def _repair(db: Database, broken: list[int], orphans: list[int]) -> list[str]:
    """Drop videos whose frames disagree with their row (the next ingest stores them again) and
    orphan frames; the indexes follow from the new generation."""
    notes = []
    store = db.store
    with writer_lock(store.engine, db.cache.path, db.location), store.writing() as conn:
        for video_id in broken:
            store.delete_video(conn, video_id)
            notes.append(f"video {video_id}: removed; ingest it again")
        if orphans:
            conn.execute(frames.delete().where(frames.c.video_id.in_(orphans)))
            conn.execute(timelines.delete().where(timelines.c.video_id.in_(orphans)))
            notes.append(f"frames of unknown videos {orphans[:5]}: removed")
        store.bump_generation(conn)
    return notes
