"""One writer at a time, held for a whole ingest: an exclusive lock file beside the index for
SQLite, a session-level advisory lock in the server for PostgreSQL (which writers on other machines
share)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from framedb.errors import DatabaseError, FrameDBError
from framedb.store.engine import is_postgres, lock_key


class DatabaseBusyError(FrameDBError, BlockingIOError):
    """Another framedb process is writing to this database."""


class WriterLock:
    """`flock` on `INDEX.lock`: released by the kernel if the holder dies, so never stale."""

    def __init__(self, index_path: Path, label: str) -> None:
        self.path = Path(f"{index_path}.lock")
        self.label = label
        self._fd: int | None = None

    def __enter__(self) -> WriterLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise DatabaseBusyError(
                f"{self.label}: another framedb process (pid {holder}) is "
                "writing to this database; wait for it to finish, then run the command again"
            ) from None
        with contextlib.suppress(OSError):  # the pid is a note for messages; a full disk is fine
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class AdvisoryWriterLock:
    """`pg_try_advisory_lock` on a connection of its own, kept open while the lock is held: the
    server releases it when that session ends, so a writer that dies or loses its machine never
    leaves it behind. The connection's application name says who holds it."""

    def __init__(self, engine: Engine, location: str) -> None:
        self.engine = engine
        self.location = location
        self._conn: Connection | None = None
        self._key = 0

    def __enter__(self) -> AdvisoryWriterLock:
        try:
            conn = self.engine.connect()
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise DatabaseError(f"{self.location}: cannot take the writer lock ({reason})") from exc
        conn.detach()  # closing it ends the session (and the lock) instead of pooling it
        try:
            me = f"framedb writer pid {os.getpid()} on {socket.gethostname()}"
            conn.execute(text("SELECT set_config('application_name', :me, false)"), {"me": me})
            self._key = lock_key(conn, "writer")
            taken = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key})
            if not taken.scalar_one():
                holder = self._holder(conn)
                raise DatabaseBusyError(
                    f"{self.location}: another framedb process ({holder}) is writing to this "
                    "database; wait for it to finish, then run the command again"
                )
            conn.commit()
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return self

    def _holder(self, conn: Connection) -> str:
        """Who holds the lock, from the server's own view of the sessions."""
        row = conn.execute(
            text(
                "SELECT a.application_name, a.client_addr FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                "AND l.granted AND l.database = (SELECT oid FROM pg_database "
                "WHERE datname = current_database()) "
                "AND (l.classid::bigint << 32 | l.objid::bigint) = :k"
            ),
            {"k": self._key},
        ).first()
        if row is None:
            return "another session"
        name = str(row[0] or "another session").removeprefix("framedb writer ")
        return f"{name}, connected from {row[1]}" if row[1] else name

    def __exit__(self, *exc: object) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        with contextlib.suppress(Exception):  # closing the session releases it anyway
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
        conn.close()


def writer_lock(engine: Engine, index_path: Path, location: str) -> WriterLock | AdvisoryWriterLock:
    """The lock that keeps writers of a database apart: in PostgreSQL across machines, in the
    server; for SQLite a lock file beside the index (`index_path`). `location` names the
    database in messages."""
    if is_postgres(engine):
        return AdvisoryWriterLock(engine, location)
    return WriterLock(index_path, location)
