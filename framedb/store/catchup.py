"""Keeping the index file in step with SQL without rebuilding it.

Frame ids of one video are consecutive and never change, so what the index holds can be described
per video: (video id, first frame id, frames, content fingerprint), which the index file records.
An index written at an older generation is brought up to date by the difference with what SQL
holds now: the frames of videos gone (or replaced) are removed, the frames of videos that are new
are read by id range and added. Anything that does not add up (counts, a video without its first
frame) means a rebuild from SQL, which stays the source of truth.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, and_, select

from framedb.store.index import FrameIndex, Manifest
from framedb.store.rows import Store
from framedb.store.tables import frames, videos

Videos = tuple[tuple[int, int, int, str], ...]
CHUNK = 500_000
# A reader that had to catch up by more frames than this saves the result (queries then go
# through the multi-index again instead of scanning the frames added since the last save).
SAVE_AFTER = 200_000


class CommitWatch:
    """Tells cheaply whether anything was committed to a SQLite database since the last look:
    `PRAGMA data_version` on a read-only connection of its own changes whenever any other
    connection commits (microseconds, against a few tenths of a millisecond for reading the
    generation through the pool). `version()` is None where there is no such signal."""

    def __init__(self, engine: Engine) -> None:
        self._conn: sqlite3.Connection | None = None
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        if database and database != ":memory:" and not database.startswith("file:"):
            try:
                uri = Path(database).absolute().as_uri() + "?mode=ro"
                self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            except (sqlite3.Error, ValueError):
                self._conn = None

    def version(self) -> int | None:
        if self._conn is None:
            return None
        try:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            return None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def stored_videos(conn: Connection, column: str = "hash") -> Videos:
    """(video id, first frame id, frames, fingerprint) of every video with codes in `column`
    (all with frames for "hash"; for "inner_hash", those stored with inner hashes)."""
    first = (
        select(frames.c.id)
        .where(frames.c.video_id == videos.c.id, frames.c.ordinal == 0)
        .scalar_subquery()
    )
    query = (
        select(videos.c.id, first, videos.c.frame_count, videos.c.fingerprint)
        .where(videos.c.frame_count > 0)
        .order_by(videos.c.id)
    )
    if column == "inner_hash":
        query = query.where(videos.c.has_inner.is_(True))
    return tuple(
        (int(v), -1 if f is None else int(f), int(n), str(p)) for v, f, n, p in conn.execute(query)
    )


# The statement that reads a range of frames' codes of each column straight from sqlite3.
_SQLITE_CODES = {
    "hash": "SELECT id, hash FROM frames WHERE id BETWEEN ? AND ? ORDER BY id",
    "inner_hash": "SELECT id, inner_hash FROM frames WHERE id BETWEEN ? AND ? "
    "AND inner_hash IS NOT NULL ORDER BY id",
}


def codes_between(
    conn: Connection, lo: int, hi: int, nbytes: int, column: str = "hash"
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids, codes of `column`) of the frames with lo <= id <= hi that have one, in id order,
    in chunks."""
    if conn.dialect.name == "sqlite":
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cur.execute(_SQLITE_CODES[column], (lo, hi))
            while rows := cur.fetchmany(CHUNK):
                yield _arrays(rows, nbytes)
        finally:
            cur.close()
        return
    codes = frames.c[column]
    query = (
        select(frames.c.id, codes)
        .where(and_(frames.c.id >= lo, frames.c.id <= hi), codes.is_not(None))
        .order_by(frames.c.id)
    )
    result = conn.execution_options(stream_results=True, yield_per=CHUNK).execute(query)
    for part in result.partitions(CHUNK):
        yield _arrays(part, nbytes)


def _arrays(rows: Sequence[Any], nbytes: int) -> tuple[np.ndarray, np.ndarray]:
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    codes = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.uint8)
    return ids, codes.reshape(len(rows), nbytes)


def rebuild(
    store: Store, conn: Connection, database_id: str, bits: int, column: str = "hash"
) -> FrameIndex:
    """A new index of the codes in `column` of every stored frame, read in the transaction
    `conn` (a snapshot)."""
    index = FrameIndex(bits)
    held = stored_videos(conn, column)
    if conn.dialect.name == "sqlite":
        chunks: Iterator[tuple[np.ndarray, np.ndarray]] = codes_between(
            conn, 0, (1 << 63) - 1, bits // 8, column
        )
    else:
        chunks = store.all_codes(conn, bits // 8, column=column)
    for ids, codes in chunks:
        index.add(ids, codes)
    index.manifest = Manifest(database_id, store.generation(conn), len(index), bits, held)
    return index


def catch_up(index: FrameIndex, store: Store, conn: Connection, column: str = "hash") -> int | None:
    """Bring `index` of `column` (whose manifest lists its videos) to what SQL holds in the
    transaction `conn`: remove the frames of videos gone, add those of videos new. Returns how
    many frames were added or removed, or None when the index cannot be caught up (rebuild it
    instead)."""
    old = index.manifest
    if old is None or old.videos is None:
        return None
    generation = store.generation(conn)
    now = stored_videos(conn, column)
    if any(first < 0 for _, first, _, _ in now):
        return None
    held, wanted = set(old.videos), set(now)
    changed = 0
    gone = sorted(held - wanted)
    if gone:
        ids = np.concatenate([np.arange(f, f + n, dtype=np.int64) for _, f, n, _ in gone])
        if index.remove(ids) != len(ids):
            return None
        changed += len(ids)
    for _, first, count, _ in sorted(wanted - held):
        got = 0
        for ids, codes in codes_between(conn, first, first + count - 1, index.bits // 8, column):
            index.add(ids, codes)
            got += len(ids)
        if got != count:
            return None
        changed += count
    if len(index) != sum(n for _, _, n, _ in now):
        return None
    index.manifest = Manifest(old.database_id, generation, len(index), old.bits, now)
    return changed
