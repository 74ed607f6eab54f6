"""Reading and writing framedb's rows through SQLAlchemy Core: meta and its generation, videos,
frames. SQLite is the embedded default; any SQLAlchemy URL goes through the same code, and
PostgreSQL serialises its writers with an advisory lock (SQLite's BEGIN IMMEDIATE). Frames are
written and read in bulk (framedb.store.bulk). Every change of frames bumps the `generation` in
`meta`, which the index manifest must match.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Text,
    bindparam,
    cast,
    delete,
    func,
    insert,
    select,
    update,
)

from framedb.errors import DatabaseError, VideoNotFoundError
from framedb.store import bulk
from framedb.store import segments as stored_segments
from framedb.store.engine import is_postgres, serialise_writes
from framedb.store.tables import (
    FrameArrays,
    VideoRow,
    display_path,
    frames,
    meta,
    timelines,
    videos,
)

if TYPE_CHECKING:
    from framedb.hashspec import HashSpec
    from framedb.store.hashed import HashedVideo

# Statements run once per stored video, built once: SQLAlchemy then finds each compiled in its cache
# instead of building and keying a new statement every time (about 1 ms a video in all).
_GENERATION = select(meta.c.value).where(meta.c.key == "generation")
_BUMP_GENERATION = (
    update(meta)
    .where(meta.c.key == "generation")
    .values(value=cast(cast(meta.c.value, BigInteger) + 1, Text))
)
_ADD_VIDEO = insert(videos)
_NEXT_FRAME_ID = select(func.coalesce(func.max(frames.c.id), 0) + 1)
_VIDEO_BY_PATH = select(videos).where(videos.c.path == bindparam("path"))
_VIDEOS_BY_FINGERPRINT = (
    select(videos).where(videos.c.fingerprint == bindparam("fingerprint")).order_by(videos.c.id)
)


class Store:
    """Reads and writes framedb's rows. One writer at a time; readers never block it (WAL in
    SQLite, MVCC in PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Binary COPY needs psycopg 3; another PostgreSQL driver takes the generic path.
        self.copy = is_postgres(engine) and engine.dialect.driver == "psycopg"

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn = conn.execution_options(framedb_write=True)
            with conn.begin():
                serialise_writes(conn)
                yield conn

    # -- meta --------------------------------------------------------------------------------
    def meta(self, conn: Connection) -> dict[str, str]:
        return {k: v for k, v in conn.execute(select(meta.c.key, meta.c.value))}

    def init_meta(self, settings: dict[str, str]) -> dict[str, str]:
        """Fill in missing meta keys (database id, generation, hash settings) once. Opening an
        existing database only reads, so it never waits for a writer."""
        with self.reading() as conn:
            current = self.meta(conn)
        if {"database_id", "generation", *settings} <= current.keys():
            return current
        with self.writing() as conn:
            current = self.meta(conn)
            fresh = {"database_id": uuid.uuid4().hex, "generation": "0", **settings}
            missing = {k: v for k, v in fresh.items() if k not in current}
            if missing:
                conn.execute(insert(meta), [{"key": k, "value": v} for k, v in missing.items()])
            return {**missing, **current}

    def bump_generation(self, conn: Connection) -> None:
        conn.execute(_BUMP_GENERATION)

    def generation(self, conn: Connection) -> int:
        return int(conn.execute(_GENERATION).scalar_one())

    # -- videos ------------------------------------------------------------------------------
    def videos(self, conn: Connection, ids: Sequence[int] | None = None) -> list[VideoRow]:
        query = select(videos).order_by(videos.c.id)
        if ids is not None:
            query = query.where(videos.c.id.in_(list(ids)))
        return [_video_row(r) for r in conn.execute(query).mappings()]

    def video_by_path(self, conn: Connection, raw_path: bytes) -> VideoRow | None:
        row = conn.execute(_VIDEO_BY_PATH, {"path": raw_path}).mappings().first()
        return _video_row(row) if row else None

    def video_named(self, conn: Connection, name: str | os.PathLike[str] | int) -> VideoRow:
        """A stored video by path, by id, or by a file name that only one stored video has."""
        if isinstance(name, int):
            found = self.videos(conn, [name])
            if found:
                return found[0]
            raise VideoNotFoundError(f"no video with id {name}; run `framedb videos` to list them")
        row = self.video_by_path(conn, os.fsencode(os.path.abspath(name)))
        if row:
            return row
        text = os.fspath(name)
        if text.isdigit():
            found = self.videos(conn, [int(text)])
            if found:
                return found[0]
        same_name = [v for v in self.videos(conn) if Path(v.path).name == Path(text).name]
        if len(same_name) == 1:
            return same_name[0]
        if len(same_name) > 1:
            raise VideoNotFoundError(
                f"{text}: {len(same_name)} stored videos have this name; "
                "give the full path or the id"
            )
        raise VideoNotFoundError(
            f"{text}: not in the database; ingest it with `framedb ingest {text}` "
            "or run `framedb videos` to see what is stored"
        )

    def videos_by_fingerprint(self, conn: Connection, fingerprint: str) -> list[VideoRow]:
        rows = conn.execute(_VIDEOS_BY_FINGERPRINT, {"fingerprint": fingerprint}).mappings()
        return [_video_row(r) for r in rows]

    def move_video(self, conn: Connection, video_id: int, raw_path: bytes, mtime: float) -> None:
        conn.execute(
            update(videos).where(videos.c.id == video_id).values(path=raw_path, mtime=mtime)
        )

    def delete_video(self, conn: Connection, video_id: int) -> np.ndarray:
        """Delete a video, its frames and its segments; returns the frame ids that were removed."""
        ids = np.fromiter(
            conn.execute(select(frames.c.id).where(frames.c.video_id == video_id)).scalars(),
            dtype=np.int64,
        )
        stored_segments.delete_of(conn, [video_id])
        conn.execute(delete(timelines).where(timelines.c.video_id == video_id))
        conn.execute(delete(frames).where(frames.c.video_id == video_id))
        conn.execute(delete(videos).where(videos.c.id == video_id))
        if len(ids):
            self.bump_generation(conn)
        return ids

    def add_video(
        self,
        conn: Connection,
        row: dict[str, Any],
        pts: np.ndarray,
        times: np.ndarray,
        codes: np.ndarray,
        detail: np.ndarray,
        inner: np.ndarray | None = None,
        mid: np.ndarray | None = None,
        turned: np.ndarray | None = None,
    ) -> tuple[int, np.ndarray]:
        """Insert one video and all its frames in bulk; returns (video id, frame ids). `inner`,
        `mid`, `turned`: the frames' inner, middle and turned hashes, if they have them."""
        row = {
            **row,
            "has_inner": inner is not None,
            "has_mid": mid is not None,
            "has_turned": turned is not None,
            "ingested_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        inserted = conn.execute(_ADD_VIDEO, row).inserted_primary_key
        if inserted is None:
            raise DatabaseError("the database did not return the new video's id")
        video_id = int(inserted[0])
        n = len(pts)
        if n:
            timeline = np.ascontiguousarray(times, dtype="<f8").tobytes()
            conn.execute(insert(timelines), {"video_id": video_id, "times": timeline})
        first = int(conn.execute(_NEXT_FRAME_ID).scalar_one())
        ids = np.arange(first, first + n, dtype=np.int64)
        if n and self.copy:
            bulk.copy_frames(conn, ids, video_id, pts, times, codes, detail, inner, mid, turned)
            self.bump_generation(conn)
        elif n and conn.dialect.name == "sqlite":
            bulk.sqlite_frames(conn, ids, video_id, pts, times, codes, detail, inner, mid, turned)
            self.bump_generation(conn)
        elif n:
            cols = bulk.COLUMNS
            values = zip(
                ids.tolist(),
                [video_id] * n,
                range(n),
                pts.tolist(),
                times.tolist(),
                bulk.blobs(codes, 0, n),
                detail.astype(np.float64).tolist(),
                bulk.blobs(inner, 0, n),
                bulk.blobs(mid, 0, n),
                bulk.blobs(turned, 0, n),
                strict=True,
            )
            conn.execute(insert(frames), [dict(zip(cols, v, strict=True)) for v in values])
            self.bump_generation(conn)
        return video_id, ids

    # -- frames ------------------------------------------------------------------------------
    def frames_of(self, conn: Connection, video_id: int, nbytes: int) -> FrameArrays:
        """Every frame of a video, with its inner, middle and turned hashes where it has them."""
        query = (
            select(
                frames.c.id,
                frames.c.ordinal,
                frames.c.time,
                frames.c.hash,
                frames.c.detail,
                frames.c.inner_hash,
                frames.c.mid_hash,
                frames.c.turned_hash,
            )
            .where(frames.c.video_id == video_id)
            .order_by(frames.c.ordinal)
        )
        rows = conn.execute(query).all()
        found = _arrays([r[:5] for r in rows], nbytes, video_id=video_id)
        found.inner, found.mid = (_codes([r[k] for r in rows], nbytes) for k in (5, 6))
        found.turned = _codes([r[7] for r in rows], 2 * nbytes)
        return found

    def frame_at(self, conn: Connection, video_id: int, ordinal: int, nbytes: int) -> FrameArrays:
        """One frame of a video by ordinal (empty arrays if there is no such frame)."""
        query = select(
            frames.c.id, frames.c.ordinal, frames.c.time, frames.c.hash, frames.c.detail
        ).where(frames.c.video_id == video_id, frames.c.ordinal == ordinal)
        return _arrays(conn.execute(query).all(), nbytes, video_id=video_id)

    def frame_pts(
        self, conn: Connection, video_id: int, ordinals: Sequence[int]
    ) -> list[tuple[int, int, float, bytes]]:
        """(ordinal, pts, time, hash) of these frames of one video, what seeking to a frame in its
        file needs (any order; ordinals with no stored frame are left out)."""
        rows: list[tuple[int, int, float, bytes]] = []
        cols = (frames.c.ordinal, frames.c.pts, frames.c.time, frames.c.hash)
        for start in range(0, len(ordinals), 5000):
            chunk = [int(o) for o in ordinals[start : start + 5000]]
            query = select(*cols).where(frames.c.video_id == video_id, frames.c.ordinal.in_(chunk))
            rows.extend((int(o), int(p), float(t), bytes(h)) for o, p, t, h in conn.execute(query))
        return rows

    def ordinal_at(self, conn: Connection, video_id: int, seconds: float, count: int) -> int:
        """The last frame shown at or before `seconds` (-1 if none): a binary search over
        ordinals with point queries, as frame times rise with ordinals."""
        query = select(frames.c.time).where(frames.c.video_id == video_id)
        lo, hi = 0, count  # invariant: frames before lo start at or before `seconds`
        while lo < hi:
            mid = (lo + hi) // 2
            t = conn.execute(query.where(frames.c.ordinal == mid)).scalar_one()
            if t <= seconds:
                lo = mid + 1
            else:
                hi = mid
        return lo - 1

    def frames_by_id(self, conn: Connection, ids: np.ndarray, nbytes: int) -> FrameArrays:
        """Rows for these frame ids (any order; unknown ids are left out)."""
        rows: list[Any] = []
        cols = (
            frames.c.id,
            frames.c.video_id,
            frames.c.ordinal,
            frames.c.time,
            frames.c.hash,
            frames.c.detail,
        )
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000].tolist()
            rows.extend(conn.execute(select(*cols).where(frames.c.id.in_(chunk))).all())
        return _arrays(rows, nbytes)

    def all_codes(
        self, conn: Connection, nbytes: int, chunk: int = 200_000, column: str = "hash"
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every (ids, codes of `column`) of stored frames that have one, in chunks, for
        rebuilding an index."""
        if self.copy:
            yield from bulk.copy_codes(conn, nbytes, chunk, column)
            return
        col = frames.c[column]
        result = conn.execution_options(stream_results=True, yield_per=chunk).execute(
            select(frames.c.id, col).where(col.is_not(None)).order_by(frames.c.id)
        )
        for part in result.partitions(chunk):
            ids = np.fromiter((r[0] for r in part), dtype=np.int64, count=len(part))
            codes = np.frombuffer(b"".join(r[1] for r in part), dtype=np.uint8)
            yield ids, codes.reshape(len(part), nbytes)

    def frame_count(self, conn: Connection) -> int:
        return int(conn.execute(select(func.count()).select_from(frames)).scalar_one())


def _arrays(rows: Sequence[Any], nbytes: int, video_id: int | None = None) -> FrameArrays:
    n = len(rows)
    if video_id is None:
        ids, vids, ords, times, hashes, detail = zip(*rows, strict=True) if n else ((),) * 6
        vid = np.asarray(vids, dtype=np.int64)
    else:
        ids, ords, times, hashes, detail = zip(*rows, strict=True) if n else ((),) * 5
        vid = np.full(n, video_id, dtype=np.int64)
    return FrameArrays(
        ids=np.asarray(ids, dtype=np.int64),
        video_ids=vid,
        ordinals=np.asarray(ords, dtype=np.int64),
        times=np.asarray(times, dtype=np.float64),
        codes=np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(n, nbytes),
        detail=np.asarray(detail, dtype=np.float32),
    )


def _codes(blobs: list[bytes | None], nbytes: int) -> np.ndarray | None:
    """Codes stored in one blob each, or None unless every frame has one."""
    if not blobs or any(b is None for b in blobs):
        return None
    return np.frombuffer(b"".join(blobs), dtype=np.uint8).reshape(len(blobs), nbytes)  # type: ignore[arg-type]


def _video_row(r: Any) -> VideoRow:
    return VideoRow(
        id=int(r["id"]),
        path=display_path(bytes(r["path"])),
        raw_path=bytes(r["path"]),
        size=int(r["size"]),
        mtime=float(r["mtime"]),
        fingerprint=r["fingerprint"],
        codec=r["codec"],
        width=r["width"],
        height=r["height"],
        frame_count=int(r["frame_count"]),
        duration=float(r["duration"]),
        average_rate=r["average_rate"],
        status=r["status"],
        error=r["error"],
        has_inner=bool(r["has_inner"]),
        has_mid=bool(r["has_mid"]),
        has_turned=bool(r["has_turned"]),
        segments=r["segments"],
    )


def no_frames(spec: HashSpec) -> tuple:
    return (
        np.empty(0, np.int64),
        np.empty(0, np.float64),
        np.empty((0, spec.nbytes), np.uint8),
        np.empty(0, np.float32),
    )


def video_row_values(
    path: Path,
    size: int,
    mtime: float,
    fingerprint: str,
    spec: HashSpec,
    hashed: HashedVideo | None,
    status: str,
    error: str | None,
) -> dict:
    """The `videos` row for one ingested (or failed) file."""
    info = hashed.info if hashed else None
    n = len(hashed) if hashed else 0
    duration = 0.0
    if hashed is not None and n:
        step = (
            float(np.median(np.diff(hashed.times)))
            if n > 1
            else (float(1 / info.average_rate) if info and info.average_rate else 0.0)
        )
        duration = float(hashed.times[-1] - hashed.times[0]) + step
    return {
        "path": os.fsencode(path),
        "size": size,
        "mtime": mtime,
        "fingerprint": fingerprint,
        "codec": info.codec if info else None,
        "width": info.width if info else None,
        "height": info.height if info else None,
        "rotation": info.rotation if info else None,
        "time_base": str(info.time_base) if info else None,
        "average_rate": str(info.average_rate) if info and info.average_rate else None,
        "frame_count": n,
        "duration": duration,
        "status": status,
        "error": error,
        "hash_kind": spec.kind,
        "hash_size": spec.size,
    }
