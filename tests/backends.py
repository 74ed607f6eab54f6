"""Both stores under test: a SQLite file, and PostgreSQL when FRAMEDB_TEST_PG names a server.

`backend` is parametrised over "sqlite" and "postgres"; its `target()` gives a fresh database (a
file, or a schema of its own in the PostgreSQL database) and the index file to pair with it.
Without FRAMEDB_TEST_PG the PostgreSQL cases skip, saying so; CI starts a server and sets it
(.ci/run), and CI=true makes a missing server a failure rather than a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

from framedb.store.engine import database_url

PG_URL = os.environ.get("FRAMEDB_TEST_PG", "")
NO_PG = (
    "FRAMEDB_TEST_PG is not set: no PostgreSQL server to test against "
    "(.ci/run starts one; locally export FRAMEDB_TEST_PG=postgresql+psycopg://USER:PASS@HOST/DB)"
)


def require_pg() -> str:
    """The test server's URL; skips (fails in CI) without one."""
    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail(f"CI must test PostgreSQL: {NO_PG}")
        pytest.skip(NO_PG)
    return PG_URL


def _admin(sql: str) -> None:
    import psycopg

    url = database_url(PG_URL).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(sql)


@dataclass
class Backend:
    """Fresh databases of one kind; PostgreSQL schemas made here are dropped at the end."""

    name: str
    folder: Path
    schemas: list[str] = field(default_factory=list)

    def target(self, label: str = "test") -> tuple[str, Path]:
        """(what FrameDB.open and --db take, the index file to use with it)."""
        if self.name == "sqlite":
            return str(self.folder / f"{label}.db"), self.folder / f"{label}.db.faiss"
        index = self.folder / f"{label}.faiss"
        schema = f"framedb_test_{uuid.uuid4().hex[:12]}"
        _admin(f"CREATE SCHEMA {schema}")
        self.schemas.append(schema)
        join = "&" if "?" in PG_URL else "?"
        return f"{PG_URL}{join}options={quote(f'-csearch_path={schema}')}", index

    def cleanup(self) -> None:
        for schema in self.schemas:
            _admin(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each test that takes it runs once on SQLite and once on PostgreSQL."""
    if request.param == "postgres":
        require_pg()
    made = Backend(request.param, tmp_path)
    try:
        yield made
    finally:
        made.cleanup()


@pytest.fixture()
def pg(tmp_path: Path) -> Iterator[Backend]:
    """PostgreSQL only."""
    require_pg()
    made = Backend("postgres", tmp_path)
    try:
        yield made
    finally:
        made.cleanup()
