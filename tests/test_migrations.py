"""The schema comes from the Alembic migrations, from a checkout and from an installed wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from framedb import FrameDB
from framedb.store.schema import HEAD, current_revision
from framedb.store.tables import metadata

ROOT = Path(__file__).resolve().parent.parent


def test_migrated_schema_matches_the_tables_the_code_uses(tmp_path: Path) -> None:
    db = FrameDB.open(tmp_path / "m.db")
    assert current_revision(db.store.engine) == HEAD
    with create_engine(f"sqlite:///{tmp_path / 'm.db'}").connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diffs == []


def test_an_installed_wheel_creates_its_schema(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    wheel = next(wheels.glob("framedb-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "framedb/migrations/env.py" in names
    assert "framedb/migrations/versions/0001_initial.py" in names
    assert "framedb/migrations/script.py.mako" in names
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    probe = (
        "import sys, framedb, framedb.store.schema as s;"
        f"assert framedb.__file__.startswith({str(target)!r}), framedb.__file__;"
        "db = framedb.FrameDB.open(sys.argv[1]);"
        "print(s.migrations_dir(), s.current_revision(db.store.engine))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path / "w.db")],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    where, revision = done.stdout.split()
    assert revision == HEAD
    assert Path(where).is_relative_to(target)
