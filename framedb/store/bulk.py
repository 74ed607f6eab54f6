"""Frames in bulk: PostgreSQL's binary COPY in both directions, and SQLite inserts of up to 128
rows a statement through the sqlite3 cursor, without SQLAlchemy's per-row binding."""

from __future__ import annotations

import functools
import itertools
import struct
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from sqlalchemy import Connection

from framedb.errors import DatabaseError

# Every column framedb bulk-moves has a fixed width, so a whole run of rows in COPY's binary format
# is one numpy structured array: no per-row Python work in either direction.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
_COPY_ROWS = 1 << 16  # rows per buffer handed to the driver (about 5 MB)
_INSERT_ROWS = 1 << 16  # rows made into Python values at a time for SQLite
# Columns of a frames row, and rows a statement: at most 896 parameters, under the 999 that
# SQLite before 3.32 allows by default.
COLUMNS = (
    "id",
    "video_id",
    "ordinal",
    "pts",
    "time",
    "hash",
    "detail",
    "inner_hash",
    "mid_hash",
    "turned_hash",
)
_VALUES_ROWS = 896 // len(COLUMNS)


def _field(name: str, kind: str | tuple[str, tuple[int]]) -> list[tuple[Any, ...]]:
    return [(f"{name}_len", ">i4"), (name, *kind) if isinstance(kind, tuple) else (name, kind)]


def _frame_row_type(nbytes: int, inner: bool, mid: bool, turned: bool) -> np.dtype:
    """A frames row in COPY's binary format: field count, then (length, big-endian value) per
    column: bigint id, bigint video_id, integer ordinal, bigint pts, double time, bytea hash,
    double detail (migration 0001), bytea inner_hash (0002), bytea mid_hash (0004), bytea
    turned_hash (0005, twice as wide; without `inner`, `mid` or `turned`, a NULL: length -1)."""
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
    for name, present, width in (("inner", inner, 1), ("mid", mid, 1), ("turned", turned, 2)):
        kind = ("u1", (width * nbytes,))
        fields += _field(name, kind) if present else [(f"{name}_len", ">i4")]
    return np.dtype(fields)


def copy_frames(
    conn: Connection,
    ids: np.ndarray,
    video_id: int,
    pts: np.ndarray,
    times: np.ndarray,
    codes: np.ndarray,
    detail: np.ndarray,
    inner: np.ndarray | None,
    mid: np.ndarray | None = None,
    turned: np.ndarray | None = None,
) -> None:
    """Insert frames with `COPY ... FROM STDIN (FORMAT BINARY)` inside the open transaction."""
    n, nbytes = codes.shape
    parts = (("inner", inner), ("mid", mid), ("turned", turned))
    rows = np.empty(n, _frame_row_type(nbytes, *(some is not None for _, some in parts)))
    rows["count"] = len(COLUMNS)
    for name, width in (("id", 8), ("video_id", 8), ("ordinal", 4), ("pts", 8), ("time", 8)):
        rows[f"{name}_len"] = width
    rows["hash_len"], rows["detail_len"] = nbytes, 8
    rows["id"], rows["video_id"], rows["ordinal"] = ids, video_id, np.arange(n)
    rows["pts"], rows["time"], rows["hash"], rows["detail"] = pts, times, codes, detail
    for name, some in parts:
        if some is None:
            rows[f"{name}_len"] = -1
        else:
            rows[f"{name}_len"], rows[name] = some.shape[1], some
    columns = ", ".join('"time"' if c == "time" else c for c in COLUMNS)
    query = f"COPY frames ({columns}) FROM STDIN (FORMAT BINARY)"
    with _driver_cursor(conn) as cur, cur.copy(query) as copy:
        copy.write(_COPY_HEADER)
        for start in range(0, n, _COPY_ROWS):
            copy.write(rows[start : start + _COPY_ROWS].tobytes())
        copy.write(_COPY_TRAILER)


# The columns of codes an index is built from, and the query that reads each in bulk.
_COPY_CODES = {
    "hash": "COPY (SELECT id, hash FROM frames ORDER BY id) TO STDOUT (FORMAT BINARY)",
    "inner_hash": "COPY (SELECT id, inner_hash FROM frames WHERE inner_hash IS NOT NULL "
    "ORDER BY id) TO STDOUT (FORMAT BINARY)",
}


def copy_codes(
    conn: Connection, nbytes: int, chunk: int, column: str = "hash"
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every (ids, codes of `column`) in id order with `COPY ... TO STDOUT (FORMAT BINARY)`, in
    chunks; frames without a code there are left out."""
    row = np.dtype([("count", ">i2"), *_field("id", ">i8"), *_field("hash", ("u1", (nbytes,)))])
    pending = bytearray()
    header = len(_COPY_HEADER)
    query = _COPY_CODES[column]
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


def sqlite_frames(
    conn: Connection,
    ids: np.ndarray,
    video_id: int,
    pts: np.ndarray,
    times: np.ndarray,
    codes: np.ndarray,
    detail: np.ndarray,
    inner: np.ndarray | None,
    mid: np.ndarray | None = None,
    turned: np.ndarray | None = None,
) -> None:
    """Insert frames through the sqlite3 cursor, up to 89 rows a statement: the rows the
    generic path writes, without SQLAlchemy's binding of a dict per row (about 5x faster), and
    with one statement step per 89 rows instead of one per row (another 1.7x at 128 rows of seven
    columns: 600 rows 1.6 -> 0.9 ms). The parameters are made a block at a time as SQLite takes
    them: 2.6 M rows peaked at ~600 MB of Python objects when made all at once."""
    n = len(codes)
    wide = detail.astype(np.float64)
    width = len(COLUMNS)
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        for start in range(0, n, _INSERT_ROWS):
            stop = min(n, start + _INSERT_ROWS)
            flat = list(  # row after row, ten values each
                itertools.chain.from_iterable(
                    zip(
                        ids[start:stop].tolist(),
                        itertools.repeat(video_id, stop - start),
                        range(start, stop),
                        pts[start:stop].tolist(),
                        times[start:stop].tolist(),
                        blobs(codes, start, stop),
                        wide[start:stop].tolist(),
                        blobs(inner, start, stop),
                        blobs(mid, start, stop),
                        blobs(turned, start, stop),
                        strict=True,
                    )
                )
            )
            done, rows = 0, stop - start
            while done < rows:
                # 89 rows, then the rest in falling powers of two (64, 32, ... 1): eight
                # statement texts in all, which sqlite3 keeps prepared, where one of every
                # length would be prepared anew for most videos (~0.15 ms for 100 rows).
                step = min(_VALUES_ROWS, 1 << ((rows - done).bit_length() - 1))
                cur.execute(_insert_values(step), flat[width * done : width * (done + step)])
                done += step
    finally:
        cur.close()


def blobs(codes: np.ndarray | None, start: int, stop: int) -> Iterable[bytes | None]:
    """Codes start..stop-1 (rows of packed bytes) as one bytes value each, cut from one copy of
    them; all NULL if None."""
    if codes is None:
        return itertools.repeat(None, stop - start)
    raw = np.ascontiguousarray(codes[start:stop], dtype=np.uint8).tobytes()
    nbytes = codes.shape[1]
    return [raw[k : k + nbytes] for k in range(0, len(raw), nbytes)]


@functools.cache
def _insert_values(rows: int) -> str:
    """INSERT of `rows` frames in one statement (the same text each time, so that sqlite3 finds
    it prepared in its statement cache)."""
    values = "(" + ", ".join(["?"] * len(COLUMNS)) + ")"
    return f"INSERT INTO frames ({', '.join(COLUMNS)}) VALUES " + ", ".join([values] * rows)
