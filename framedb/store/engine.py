"""Engines and their settings: SQLite with WAL, a busy timeout and BEGIN IMMEDIATE for writers;
PostgreSQL through psycopg 3, with advisory locks that serialise writers; where a server
database's index is cached on this machine."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from framedb.errors import DatabaseError


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


def hide_password(url: str) -> str:
    """A database URL fit for messages: its password, if any, as ***."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


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
        shown = hide_password(url)
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
