"""The SQL store, through SQLAlchemy Core: tables, the engine and its pragmas, bulk writes, queries.

SQLite is the embedded default; any SQLAlchemy URL goes through the same code. PostgreSQL is the
shared store for many machines: `postgresql://` means psycopg 3, write transactions are serialised
with a transaction-level advisory lock (SQLite's BEGIN IMMEDIATE), and frames are written and read
in bulk with binary COPY. The schema is created and upgraded by the Alembic migrations
(framedb.schema); this module only reads and writes rows. Every change of frames bumps the
`generation` in `meta`, which the index manifest must match.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import re
import struct
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
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
    bindparam,
    cast,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

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


def index_cache_path(database_id: str) -> Path:
    """Where this machine caches the index of a server database by default: one file per database
    id in the user's cache folder ($XDG_CACHE_HOME/framedb, else ~/.cache/framedb)."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = Path(root) / "framedb"
    with contextlib.suppress(OSError):  # unwritable: the index is rebuilt in memory each time
        folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{database_id}.faiss"


def database_url(url: str) -> URL:
    """A SQLAlchemy URL; plain `postgresql://` (or `postgres://`) means psycopg 3, the driver
    framedb installs with its `postgres` extra (SQLAlchemy's own default is psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_postgres(engine_or_conn: Engine | Connection) -> bool:
    return engine_or_conn.dialect.name == "postgresql"


def lock_key(conn: Connection, purpose: str) -> int:
    """A 64-bit advisory lock key for `purpose` in this database and schema, computed by the
    server so that every machine and client version agrees on it."""
    key = conn.execute(
        text(
            "SELECT hashtextextended(:p || ':' || current_database() || '.' || current_schema(), 0)"
        ),
        {"p": f"framedb.{purpose}"},
    ).scalar_one()
    return int(key)


def serialise_writes(conn: Connection) -> None:
    """PostgreSQL's counterpart of SQLite's BEGIN IMMEDIATE: one write transaction at a time per
    database, so read-modify-write steps (meta, generation, next frame id) never race. The lock is
    released by the commit or rollback."""
    if is_postgres(conn):
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(conn, "write")})


def make_engine(url: str) -> Engine:
    """An engine; for SQLite with WAL, a busy timeout, and BEGIN IMMEDIATE for writers."""
    try:
        parsed = database_url(url)
        backend = parsed.get_backend_name()
        if backend == "postgresql":
            return create_engine(
                parsed, pool_pre_ping=True, connect_args={"application_name": "framedb"}
            )
        if backend != "sqlite":
            return create_engine(parsed, pool_pre_ping=True)
    except (ArgumentError, ImportError) as exc:
        shown = re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)
        extra = " (pip install 'framedb[postgres]')" if "postgres" in url else ""
        raise DatabaseError(
            f"{shown}: cannot use this database URL: {exc}{extra}".replace("\n", " ")
        ) from exc
    engine = create_engine(parsed, connect_args={"timeout": 60})

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

    def videos_by_fingerprint(self, conn: Connection, fingerprint: str) -> list[VideoRow]:
        rows = conn.execute(_VIDEOS_BY_FINGERPRINT, {"fingerprint": fingerprint}).mappings()
        return [_video_row(r) for r in rows]

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
        inserted = conn.execute(_ADD_VIDEO, row).inserted_primary_key
        if inserted is None:
            raise DatabaseError("the database did not return the new video's id")
        video_id = int(inserted[0])
        n = len(pts)
        first = int(conn.execute(_NEXT_FRAME_ID).scalar_one())
        ids = np.arange(first, first + n, dtype=np.int64)
        if n and self.copy:
            _copy_frames(conn, ids, video_id, pts, times, codes, detail)
            self.bump_generation(conn)
        elif n and conn.dialect.name == "sqlite":
            _sqlite_frames(conn, ids, video_id, pts, times, codes, detail)
            self.bump_generation(conn)
        elif n:
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
        if self.copy:
            yield from _copy_codes(conn, nbytes, chunk)
            return
        result = conn.execution_options(stream_results=True, yield_per=chunk).execute(
            select(frames.c.id, frames.c.hash).order_by(frames.c.id)
        )
        for part in result.partitions(chunk):
            ids = np.fromiter((r[0] for r in part), dtype=np.int64, count=len(part))
            codes = np.frombuffer(b"".join(r[1] for r in part), dtype=np.uint8)
            yield ids, codes.reshape(len(part), nbytes)

    def frame_count(self, conn: Connection) -> int:
        return int(conn.execute(select(func.count()).select_from(frames)).scalar_one())


# -- PostgreSQL binary COPY ------------------------------------------------------------------------
# Every column framedb bulk-moves has a fixed width, so a whole run of rows in COPY's binary format
# is one numpy structured array: no per-row Python work in either direction.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
_COPY_ROWS = 1 << 16  # rows per buffer handed to the driver (about 5 MB)
_INSERT_ROWS = 1 << 16  # rows made into Python values at a time for SQLite
# Rows a statement (a power of two): 896 parameters, under the 999 that SQLite before 3.32 allows
# by default.
_VALUES_ROWS = 128


def _field(name: str, kind: str | tuple[str, tuple[int]]) -> list[tuple[Any, ...]]:
    return [(f"{name}_len", ">i4"), (name, *kind) if isinstance(kind, tuple) else (name, kind)]


def _frame_row_type(nbytes: int) -> np.dtype:
    """A frames row in COPY's binary format: field count, then (length, big-endian value) per
    column: bigint id, bigint video_id, integer ordinal, bigint pts, double time, bytea hash,
    double detail (the types of migration 0001 in PostgreSQL)."""
    fields: list[tuple[Any, ...]] = [("count", ">i2")]
    for name, kind in (
        ("id", ">i8"),
        ("video_id", ">i8"),
        ("ordinal", ">i4"),
        ("pts", ">i8"),
        ("time", ">f8"),
        ("hash", ("u1", (nbytes,))),
        ("detail", ">f8"),
    ):
        fields += _field(name, kind)
    return np.dtype(fields)


def _copy_frames(
    conn: Connection,
    ids: np.ndarray,
    video_id: int,
    pts: np.ndarray,
    times: np.ndarray,
    codes: np.ndarray,
    detail: np.ndarray,
) -> None:
    """Insert frames with `COPY ... FROM STDIN (FORMAT BINARY)` inside the open transaction."""
    n, nbytes = codes.shape
    rows = np.empty(n, _frame_row_type(nbytes))
    rows["count"] = 7
    for name, width in (("id", 8), ("video_id", 8), ("ordinal", 4), ("pts", 8), ("time", 8)):
        rows[f"{name}_len"] = width
    rows["hash_len"], rows["detail_len"] = nbytes, 8
    rows["id"], rows["video_id"], rows["ordinal"] = ids, video_id, np.arange(n)
    rows["pts"], rows["time"], rows["hash"], rows["detail"] = pts, times, codes, detail
    columns = 'id, video_id, ordinal, pts, "time", hash, detail'
    query = f"COPY frames ({columns}) FROM STDIN (FORMAT BINARY)"
    with _driver_cursor(conn) as cur, cur.copy(query) as copy:
        copy.write(_COPY_HEADER)
        for start in range(0, n, _COPY_ROWS):
            copy.write(rows[start : start + _COPY_ROWS].tobytes())
        copy.write(_COPY_TRAILER)


def _copy_codes(
    conn: Connection, nbytes: int, chunk: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every (ids, codes) in id order with `COPY ... TO STDOUT (FORMAT BINARY)`, in chunks."""
    row = np.dtype([("count", ">i2"), *_field("id", ">i8"), *_field("hash", ("u1", (nbytes,)))])
    pending = bytearray()
    header = len(_COPY_HEADER)
    query = "COPY (SELECT id, hash FROM frames ORDER BY id) TO STDOUT (FORMAT BINARY)"
    with _driver_cursor(conn) as cur, cur.copy(query) as copy:
        for data in copy:
            pending += data
            if header:
                if len(pending) < header:
                    continue
                if bytes(pending[:11]) != _COPY_HEADER[:11]:
                    raise DatabaseError("PostgreSQL sent COPY data in an unknown format")
                ext = struct.unpack_from(">i", pending, 15)[0]
                del pending[: header + ext]
                header = 0
            whole = len(pending) // row.itemsize
            if whole >= chunk:
                yield _codes_of(pending, row, whole)
    whole = len(pending) // row.itemsize
    if whole:
        yield _codes_of(pending, row, whole)
    if bytes(pending) not in (b"", _COPY_TRAILER):
        raise DatabaseError("PostgreSQL ended COPY data in the middle of a row")


def _codes_of(pending: bytearray, row: np.dtype, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Take `count` whole rows off the front of `pending` as (ids, codes)."""
    parsed = np.frombuffer(bytes(pending[: count * row.itemsize]), dtype=row)
    del pending[: count * row.itemsize]
    return parsed["id"].astype(np.int64), np.ascontiguousarray(parsed["hash"])


@contextmanager
def _driver_cursor(conn: Connection) -> Iterator[Any]:
    """A psycopg 3 cursor on the connection's own transaction."""
    driver = conn.connection.driver_connection
    if driver is None:
        raise DatabaseError("the database connection was closed during a bulk copy")
    with driver.cursor() as cur:
        yield cur


def _sqlite_frames(
    conn: Connection,
    ids: np.ndarray,
    video_id: int,
    pts: np.ndarray,
    times: np.ndarray,
    codes: np.ndarray,
    detail: np.ndarray,
) -> None:
    """Insert frames through the sqlite3 cursor, up to 128 rows a statement: the rows the
    generic path writes, without SQLAlchemy's binding of a dict per row (about 5x faster), and
    with one statement step per 128 rows instead of one per row (another 1.7x: 600 rows 1.6 ->
    0.9 ms). The parameters are made a block at a time as SQLite takes them: 2.6 M rows peaked
    at ~600 MB of Python objects when made all at once."""
    n, nbytes = codes.shape
    raw = np.ascontiguousarray(codes, dtype=np.uint8).tobytes()
    wide = detail.astype(np.float64)
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        for start in range(0, n, _INSERT_ROWS):
            stop = min(n, start + _INSERT_ROWS)
            flat = list(  # row after row, seven values each
                itertools.chain.from_iterable(
                    zip(
                        ids[start:stop].tolist(),
                        itertools.repeat(video_id, stop - start),
                        range(start, stop),
                        pts[start:stop].tolist(),
                        times[start:stop].tolist(),
                        [raw[k : k + nbytes] for k in range(start * nbytes, stop * nbytes, nbytes)],
                        wide[start:stop].tolist(),
                        strict=True,
                    )
                )
            )
            done, rows = 0, stop - start
            while done < rows:
                # 128 rows, then the rest in falling powers of two (64, 32, ... 1): eight
                # statement texts in all, which sqlite3 keeps prepared, where one of every
                # length would be prepared anew for most videos (~0.15 ms for 100 rows).
                step = min(_VALUES_ROWS, 1 << ((rows - done).bit_length() - 1))
                cur.execute(_insert_values(step), flat[7 * done : 7 * (done + step)])
                done += step
    finally:
        cur.close()


@functools.cache
def _insert_values(rows: int) -> str:
    """INSERT of `rows` frames in one statement (the same text each time, so that sqlite3 finds
    it prepared in its statement cache)."""
    return (
        "INSERT INTO frames (id, video_id, ordinal, pts, time, hash, detail) VALUES "
        + ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * rows)
    )


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
