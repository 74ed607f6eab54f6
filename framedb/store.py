"""The SQL store, through SQLAlchemy Core: tables, the engine and its pragmas, bulk writes, queries.

SQLite is the embedded default; any SQLAlchemy URL (PostgreSQL included) goes through the same code.
The schema is created and upgraded by the Alembic migrations (framedb.schema); this module only
reads and writes rows. Every change of frames bumps the `generation` in `meta`, which the index
manifest must match.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)

from framedb.errors import DatabaseError

metadata = MetaData()
# SQLite makes an INTEGER PRIMARY KEY the rowid (compact, fast); elsewhere ids are 64-bit.
Id = BigInteger().with_variant(Integer, "sqlite")

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

videos = Table(
    "videos",
    metadata,
    Column("id", Id, primary_key=True),
    Column("path", LargeBinary, nullable=False, unique=True),
    Column("size", BigInteger, nullable=False),
    Column("mtime", Float, nullable=False),
    Column("fingerprint", String(64), nullable=False, index=True),
    Column("codec", String(64)),
    Column("width", Integer),
    Column("height", Integer),
    Column("rotation", Integer),
    Column("time_base", String(32)),
    Column("average_rate", String(32)),
    Column("frame_count", BigInteger, nullable=False),
    Column("duration", Float, nullable=False),
    Column("status", String(16), nullable=False),
    Column("error", Text),
    Column("hash_kind", String(16), nullable=False),
    Column("hash_size", Integer, nullable=False),
    Column("ingested_at", String(32), nullable=False),
)

frames = Table(
    "frames",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=False),
    Column("video_id", Id, ForeignKey("videos.id"), nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("pts", BigInteger, nullable=False),
    Column("time", Float, nullable=False),
    Column("hash", LargeBinary, nullable=False),
    Column("detail", Float, nullable=False),
    UniqueConstraint("video_id", "ordinal", name="uq_frames_video_ordinal"),
)
Index("ix_videos_status", videos.c.status)

DONE, PARTIAL, FAILED = "done", "partial", "failed"


@dataclass(frozen=True)
class VideoRow:
    """One stored video, as the API hands it out."""

    id: int
    path: str
    raw_path: bytes
    size: int
    mtime: float
    fingerprint: str
    codec: str | None
    width: int | None
    height: int | None
    frame_count: int
    duration: float
    average_rate: str | None
    status: str
    error: str | None

    @property
    def fps(self) -> float | None:
        if not self.average_rate:
            return None
        num, _, den = self.average_rate.partition("/")
        return float(num) / float(den or 1)


@dataclass
class FrameArrays:
    """Columns of a run of frames, in ordinal order."""

    ids: np.ndarray
    video_ids: np.ndarray
    ordinals: np.ndarray
    times: np.ndarray
    codes: np.ndarray
    detail: np.ndarray


def display_path(raw: bytes) -> str:
    """A path for people: exact for UTF-8 names, other bytes shown as \\xNN escapes."""
    return raw.decode("utf-8", "backslashreplace")


def no_space_left(folder: str | os.PathLike[str]) -> bool:
    """Whether the filesystem holding `folder` is full (SQLite reports only "disk I/O error" when
    it cannot even create its journal files)."""
    try:
        return os.statvfs(folder).f_bavail == 0
    except OSError:
        return False


def make_engine(url: str) -> Engine:
    """An engine; for SQLite with WAL, a busy timeout, and BEGIN IMMEDIATE for writers."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before the index file that follows it, so that after a power
        # cut the index is never ahead of the rows (its generation would match other frames).
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("framedb_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Store:
    """Reads and writes framedb's rows. One writer at a time; readers never block it (WAL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn = conn.execution_options(framedb_write=True)
            with conn.begin():
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

    def bump_generation(self, conn: Connection) -> int:
        gen = int(conn.execute(select(meta.c.value).where(meta.c.key == "generation")).scalar_one())
        conn.execute(update(meta).where(meta.c.key == "generation").values(value=str(gen + 1)))
        return gen + 1

    def generation(self, conn: Connection) -> int:
        return int(
            conn.execute(select(meta.c.value).where(meta.c.key == "generation")).scalar_one()
        )

    # -- videos ------------------------------------------------------------------------------
    def videos(self, conn: Connection, ids: Sequence[int] | None = None) -> list[VideoRow]:
        query = select(videos).order_by(videos.c.id)
        if ids is not None:
            query = query.where(videos.c.id.in_(list(ids)))
        return [_video_row(r) for r in conn.execute(query).mappings()]

    def video_by_path(self, conn: Connection, raw_path: bytes) -> VideoRow | None:
        row = conn.execute(select(videos).where(videos.c.path == raw_path)).mappings().first()
        return _video_row(row) if row else None

    def videos_by_fingerprint(self, conn: Connection, fingerprint: str) -> list[VideoRow]:
        query = select(videos).where(videos.c.fingerprint == fingerprint).order_by(videos.c.id)
        return [_video_row(r) for r in conn.execute(query).mappings()]

    def move_video(self, conn: Connection, video_id: int, raw_path: bytes, mtime: float) -> None:
        conn.execute(
            update(videos).where(videos.c.id == video_id).values(path=raw_path, mtime=mtime)
        )

    def delete_video(self, conn: Connection, video_id: int) -> np.ndarray:
        """Delete a video and its frames; returns the frame ids that were removed."""
        ids = np.fromiter(
            conn.execute(select(frames.c.id).where(frames.c.video_id == video_id)).scalars(),
            dtype=np.int64,
        )
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
    ) -> tuple[int, np.ndarray]:
        """Insert one video and all its frames in bulk; returns (video id, frame ids)."""
        row = {**row, "ingested_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        inserted = conn.execute(insert(videos).values(**row)).inserted_primary_key
        if inserted is None:
            raise DatabaseError("the database did not return the new video's id")
        video_id = int(inserted[0])
        n = len(pts)
        first = int(conn.execute(select(func.coalesce(func.max(frames.c.id), 0))).scalar_one()) + 1
        ids = np.arange(first, first + n, dtype=np.int64)
        if n:
            cols = ("id", "video_id", "ordinal", "pts", "time", "hash", "detail")
            hashes = [bytes(c) for c in np.ascontiguousarray(codes)]
            values = zip(
                ids.tolist(),
                [video_id] * n,
                range(n),
                pts.tolist(),
                times.tolist(),
                hashes,
                detail.astype(np.float64).tolist(),
                strict=True,
            )
            conn.execute(insert(frames), [dict(zip(cols, v, strict=True)) for v in values])
            self.bump_generation(conn)
        return video_id, ids

    # -- frames ------------------------------------------------------------------------------
    def frames_of(self, conn: Connection, video_id: int, nbytes: int) -> FrameArrays:
        query = (
            select(frames.c.id, frames.c.ordinal, frames.c.time, frames.c.hash, frames.c.detail)
            .where(frames.c.video_id == video_id)
            .order_by(frames.c.ordinal)
        )
        return _arrays(conn.execute(query).all(), nbytes, video_id=video_id)

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
        self, conn: Connection, nbytes: int, chunk: int = 200_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every (ids, codes) of stored frames, in chunks, for rebuilding the index."""
        result = conn.execution_options(stream_results=True, yield_per=chunk).execute(
            select(frames.c.id, frames.c.hash).order_by(frames.c.id)
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
    )
