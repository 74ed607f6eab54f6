"""Create or upgrade a database's schema with the Alembic migrations shipped with framedb.

Opening a database that is already at the current revision costs one small query; Alembic itself is
imported only when there is something to do.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sqlalchemy import Engine, inspect, text

from framedb.errors import DatabaseError
from framedb.store.engine import serialise_writes

HEAD = "0005"


def migrations_dir() -> Path:
    """The Alembic folder: `framedb.migrations` when installed, `migrations/` in a checkout."""
    spec = importlib.util.find_spec("framedb.migrations")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parent.parent / "migrations"


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def ensure_schema(engine: Engine, where: str) -> None:
    """Bring the schema to HEAD; refuse a database made by a newer framedb."""
    revision = current_revision(engine)
    if revision == HEAD:
        return
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    known = {rev.revision for rev in ScriptDirectory.from_config(config).walk_revisions()}
    if revision is not None and revision not in known:
        raise DatabaseError(
            f"{where}: made by a newer framedb (schema {revision}); upgrade framedb to open it"
        )
    with engine.connect() as conn:
        conn = conn.execution_options(framedb_write=True)
        serialise_writes(conn)  # PostgreSQL: two first opens must not both create the tables
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        conn.commit()
