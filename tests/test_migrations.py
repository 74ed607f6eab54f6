"""The schema comes from the Alembic migrations, from a checkout and from an installed wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine

from framedb import FrameDB
from framedb.store.schema import HEAD, current_revision, migrations_dir
from framedb.store.tables import metadata

ROOT = Path(__file__).resolve().parent.parent


def migrate(path: Path, revision: str, how: Callable[[Config, str], None]) -> Engine:
    """Bring the SQLite database at `path` to `revision` with Alembic (`command.upgrade` or
    `command.downgrade`), as an older or newer framedb left it."""
    engine = create_engine(f"sqlite:///{path}")
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        how(config, revision)
    assert current_revision(engine) == revision
    return engine


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


def test_a_database_made_before_inner_hashes_upgrades_in_place_and_answers_as_before(
    tmp_path: Path, library: Path
) -> None:
    """A 0001 database (phash8, no inner hashes), written as framedb then wrote it: opening it
    upgrades it to HEAD in place; its videos answer as before; new videos get inner hashes and
    match the old ones; `check` passes, and notices an inner hash that goes missing."""
    from sqlalchemy import text

    from framedb.hashspec import HashSpec
    from framedb.ingest.extract import hash_video

    path = tmp_path / "old.db"
    engine = migrate(path, "0001", command.upgrade)
    looped = library / "looped.mp4"
    hashed = hash_video(looped, HashSpec("phash", 8))
    with engine.begin() as conn:
        for key, value in (("database_id", "0" * 32), ("generation", "1")):
            conn.execute(
                text("INSERT INTO meta (key, value) VALUES (:k, :v)"), {"k": key, "v": value}
            )
        for key, value in (("hash_kind", "phash"), ("hash_size", "8")):
            conn.execute(
                text("INSERT INTO meta (key, value) VALUES (:k, :v)"), {"k": key, "v": value}
            )
        st = looped.stat()
        conn.execute(
            text(
                "INSERT INTO videos (id, path, size, mtime, fingerprint, frame_count, duration, "
                "status, hash_kind, hash_size, ingested_at, average_rate) VALUES (1, :p, :s, :m, "
                "'f', :n, :d, 'done', 'phash', 8, 'then', '30/1')"
            ),
            {
                "p": bytes(looped),
                "s": st.st_size,
                "m": st.st_mtime,
                "n": len(hashed),
                "d": float(hashed.times[-1] - hashed.times[0]) + 1 / 30,
            },
        )
        rows = [
            {
                "id": k + 1,
                "video_id": 1,
                "ordinal": k,
                "pts": int(hashed.pts[k]),
                "time": float(hashed.times[k]),
                "hash": bytes(hashed.codes[k]),
                "detail": float(hashed.detail[k]),
            }
            for k in range(len(hashed))
        ]
        conn.execute(
            text(
                "INSERT INTO frames (id, video_id, ordinal, pts, time, hash, detail) "
                "VALUES (:id, :video_id, :ordinal, :pts, :time, :hash, :detail)"
            ),
            rows,
        )
    engine.dispose()
    with FrameDB.open(path) as db:
        assert current_revision(db.store.engine) == HEAD
        assert str(db.spec) == "phash8"  # the hash it was built with, not today's default
        [old] = db.videos()
        assert not old.has_inner and old.frame_count == len(hashed)
        loops = db.loops(old.id)
        assert [s.repeats for s in loops.summaries] == [3]
        assert db.check().ok
        db.ingest([library / "copy.mp4"])
        new = db.video("copy.mp4")
        assert new.has_inner
        shared = [g for g in db.matches() if {o.video_id for o in g.occurrences} == {1, new.id}]
        assert len(shared) == 1 and len(shared[0].occurrences) == 4
        assert db.check().ok
        _lose_one(db, new.id, "inner_hash")
        report = db.check()
        assert not report.ok and any("inner hash" in p for p in report.problems)


def test_a_database_made_before_stored_segments_upgrades_and_is_told_to_recompute(
    tmp_path: Path, library: Path
) -> None:
    """A 0002 database (inner hashes, no segments table): opening it upgrades it in place; its
    videos answer `loops` and `matches` as before, from their frames, with a note that says how
    to store their segments; `matches --recompute` stores them and the note goes."""
    path = tmp_path / "before.db"
    with FrameDB.open(path) as db:
        db.ingest([library])
        groups, loops = db.matches(), db.loops(library / "looped.mp4")
        assert db.segments_note() is None
    migrate(path, "0002", command.downgrade).dispose()
    with FrameDB.open(path) as db:
        assert current_revision(db.store.engine) == HEAD
        assert all(v.segments is None for v in db.videos())
        note = db.segments_note()
        assert note is not None and "no stored segments" in note and "--recompute" in note
        assert db.matches() == groups
        assert db.loops(library / "looped.mp4").groups == loops.groups
        assert db.check().ok
        assert db.matches(recompute=True) == groups
        assert db.segments_note() is None
        assert db.matches() == groups and db.check().ok


@pytest.mark.parametrize(
    ("before", "flag", "column", "what"),
    [
        ("0003", "has_mid", "mid_hash", "middle hash"),
        ("0004", "has_turned", "turned_hash", "turned hash"),
    ],
)
def test_a_database_made_before_a_hash_upgrades_in_place_and_answers_as_before(
    tmp_path: Path, library: Path, before: str, flag: str, column: str, what: str
) -> None:
    """A database from before the middle hashes (0003: inner hashes and stored segments) or the
    turned ones (0004): opening it upgrades it in place; its videos answer as before, from what
    is stored and from their frames; a video ingested then gets the new hashes and matches the
    old ones; `check` passes, and notices one of them that goes missing."""
    path = tmp_path / "before.db"
    with FrameDB.open(path) as db:
        db.ingest([library / "looped.mp4"])
        groups, loops = db.matches(), db.loops(library / "looped.mp4")
        assert all(getattr(v, flag) for v in db.videos())
    migrate(path, before, command.downgrade).dispose()
    with FrameDB.open(path) as db:
        assert current_revision(db.store.engine) == HEAD
        old = db.video("looped.mp4")
        assert not getattr(old, flag)
        assert db.segments_note() is None
        assert db.matches() == groups
        assert db.loops(library / "looped.mp4").groups == loops.groups
        assert db.matches(recompute=True) == groups
        assert db.check().ok
        db.ingest([library / "copy.mp4"])
        new = db.video("copy.mp4")
        assert getattr(new, flag)
        shared = [
            g for g in db.matches() if {o.video_id for o in g.occurrences} == {old.id, new.id}
        ]
        assert len(shared) == 1 and len(shared[0].occurrences) == 4
        assert db.check().ok
        _lose_one(db, new.id, column)
        report = db.check()
        assert not report.ok and any(what in p for p in report.problems)


def _lose_one(db: FrameDB, video_id: int, column: str) -> None:
    """Set one frame's `column` of the video to NULL behind framedb's back: a disagreement that
    `check` must report."""
    from sqlalchemy import select, update

    from framedb.store.tables import frames

    with db.store.writing() as conn:
        first = conn.execute(select(frames.c.id).where(frames.c.video_id == video_id)).first()
        assert first is not None
        conn.execute(update(frames).where(frames.c.id == first[0]).values({column: None}))
