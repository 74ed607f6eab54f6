"""The store, the command line and the migrations on SQLite and on PostgreSQL alike (the `backend`
fixture runs each test on both), and what only PostgreSQL has: binary COPY, the advisory writer
lock across processes, concurrent first opens, the URL forms and the index cache folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text

from framedb import FrameDB
from framedb.cli import run
from framedb.errors import DatabaseError
from framedb.store.engine import database_url
from framedb.store.lock import DatabaseBusyError, writer_lock
from framedb.store.schema import HEAD, current_revision
from framedb.store.tables import frames, metadata, videos
from tests.backends import Backend
from tests.conftest import LOOP_STARTS


def rows_of(db: FrameDB) -> tuple[list[tuple], list[tuple]]:
    """Every stored value that must not depend on the backend (not ingested_at)."""
    with db.store.reading() as conn:
        vids = conn.execute(
            select(*(c for c in videos.c if c.name != "ingested_at")).order_by(videos.c.id)
        ).all()
        frame_rows = conn.execute(select(frames).order_by(frames.c.id)).all()
    return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in vids], [
        tuple(r) for r in frame_rows
    ]


def test_store_round_trip(backend: Backend, library: Path, tmp_path: Path) -> None:
    target, index = backend.target()
    with FrameDB.open(target, index_path=index) as db:
        results = db.ingest([library])
        assert [(Path(r.path).name, r.status, r.frames) for r in results] == [
            ("copy.mp4", "done", 105),
            ("looped.mp4", "done", 390),
        ]
        _, stored = rows_of(db)
        assert [r[0] for r in stored] == list(range(1, 496))  # ids: 1..n, the FAISS ids
        looped = db.video(library / "looped.mp4")
        assert (looped.frame_count, looped.fps, looped.duration) == (390, 30, pytest.approx(13.0))
        with db.store.reading() as conn:
            arrays = db.store.frames_of(conn, looped.id, db.spec.nbytes)
            chunks = list(db.store.all_codes(conn, db.spec.nbytes, chunk=100))
        assert arrays.ordinals.tolist() == list(range(390))
        assert arrays.times == pytest.approx(np.arange(390) / 30)
        assert arrays.detail.dtype == np.float32 and np.all(arrays.detail > 0)
        ids = np.concatenate([c[0] for c in chunks])
        codes = np.concatenate([c[1] for c in chunks])
        assert ids.tolist() == [r[0] for r in stored]
        assert [bytes(c) for c in codes] == [bytes(r[5]) for r in stored]
        assert len(db.index()) == 495 and index.exists()
        assert [r.status for r in db.ingest([library])] == ["unchanged", "unchanged"]
        os.rename(library / "copy.mp4", tmp_path / "moved.mp4")
        assert db.ingest([tmp_path / "moved.mp4"])[0].status == "moved"
        db.remove(tmp_path / "moved.mp4")
        assert len(db.index()) == 390
        report = db.check()
        assert report.ok and (report.videos, report.frames) == (1, 390)
    index.unlink()  # rebuilt from SQL by the next process
    with FrameDB.open(target, index_path=index) as again:
        assert sorted(again.index().ids().tolist()) == [r[0] for r in stored if r[1] == looped.id]


def test_cli_on_both(
    backend: Backend, library: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target, index = backend.target()

    def cli(*args: object) -> tuple[int, str, str]:
        code = run(["--db", target, "--index", str(index), *map(str, args)])
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err

    assert cli("ingest", library)[0] == 0
    code, out, _ = cli("videos", "--json")
    assert code == 0 and [v["frames"] for v in json.loads(out)] == [105, 390]
    code, out, _ = cli("where", library / "looped.mp4", LOOP_STARTS[0] + 30, "--json")
    assert code == 0 and len(json.loads(out)["hits"]) == 3
    code, out, _ = cli("matches", "--json")
    assert code == 0 and json.loads(out)["groups"]
    code, _, err = cli("where", "nothing.mp4", "3")
    assert code == 1 and "nothing.mp4: not in the database" in err
    assert cli("remove", library / "copy.mp4")[0] == 0
    code, out, _ = cli("check", "--json")
    assert code == 0 and json.loads(out)["frames"] == 390
    # FRAMEDB_DB and FRAMEDB_INDEX name the same database as the options.
    env = {**os.environ, "FRAMEDB_DB": target, "FRAMEDB_INDEX": str(index)}
    done = subprocess.run(
        [sys.executable, "-m", "framedb", "videos", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert [v["frames"] for v in json.loads(done.stdout)] == [390]


def test_migrations_make_the_tables_the_code_uses(backend: Backend) -> None:
    target, index = backend.target()
    with FrameDB.open(target, index_path=index) as db:
        engine = db.store.engine
        assert current_revision(engine) == HEAD
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
            # A database made by a newer framedb is refused, not downgraded or damaged.
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
            conn.commit()
    with pytest.raises(DatabaseError, match="made by a newer framedb"):
        FrameDB.open(target, index_path=index)


def test_copy_handles_wide_hashes_and_empty_videos(pg: Backend, media: Path) -> None:
    """Binary COPY with 72-byte codes, and a failed video (no frames) in the same database."""
    target, index = pg.target()
    bogus = pg.folder / "bogus.mp4"
    bogus.write_bytes(b"\x00" * 4096)
    with FrameDB.open(target, index_path=index, hash_kind="ahash", hash_size=24) as db:
        results = db.ingest([media / "copy.mp4", bogus])
        assert [r.status for r in results] == ["done", "failed"]
        with db.store.reading() as conn:
            arrays = db.store.frames_of(conn, results[0].video_id or 0, db.spec.nbytes)
            (ids, codes), *rest = list(db.store.all_codes(conn, db.spec.nbytes))
        assert codes.shape == (105, 72) and rest == []
        assert np.array_equal(codes, arrays.codes) and ids.tolist() == arrays.ids.tolist()
        assert db.video(bogus).status == "failed" and db.check().ok


def test_the_writer_lock_holds_across_processes(pg: Backend, library: Path) -> None:
    """A writer in another process (standing in for another machine) holds the advisory lock:
    ingest waits for nothing and says who holds it; once that process dies the lock is free."""
    target, index = pg.target()
    db = FrameDB.open(target, index_path=index)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from framedb import FrameDB\n"
            "from framedb.store.lock import writer_lock\n"
            "db = FrameDB.open(sys.argv[1], index_path=sys.argv[2])\n"
            "with writer_lock(db.store.engine, db.index_path, db.location):\n"
            "    print('held', flush=True); time.sleep(120)\n",
            target,
            str(pg.folder / "other.faiss"),  # another machine: its own index cache
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(
            DatabaseBusyError, match=rf"another framedb process \(pid {holder.pid} on "
        ):
            db.ingest([library / "copy.mp4"])
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert [r.status for r in db.ingest([library / "copy.mp4"])] == ["done"]
    with (
        writer_lock(db.store.engine, db.index_path, db.location),
        pytest.raises(DatabaseBusyError),
    ):  # one writer in one process too
        db.ingest([library / "looped.mp4"])
    db.close()


def test_concurrent_first_opens_make_one_schema(pg: Backend) -> None:
    target, index = pg.target()
    opened: list[str] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            with FrameDB.open(target, index_path=index) as db:
                opened.append(db.database_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(opened)) == 1


def test_url_forms_and_the_index_cache(
    pg: Backend, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert database_url("postgresql://u:p@h/d").drivername == "postgresql+psycopg"
    assert database_url("postgres://u:p@h/d").drivername == "postgresql+psycopg"
    assert database_url("postgresql+psycopg2://u:p@h/d").drivername == "postgresql+psycopg2"
    target, _ = pg.target()
    plain = target.replace("postgresql+psycopg://", "postgresql://")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with FrameDB.open(plain) as db:
        assert db.store.engine.dialect.driver == "psycopg"
        assert db.index_path == tmp_path / "cache" / "framedb" / f"{db.database_id}.faiss"
        password = database_url(target).password
        assert "***" in db.location and (not password or f":{password}@" not in db.location)
        db.index()
        assert db.index_path.exists()
    with pytest.raises(DatabaseError, match="cannot open as a framedb database"):
        FrameDB.open("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    with pytest.raises(DatabaseError, match="cannot use this database URL"):
        FrameDB.open("nosuchdb+driver://x/y")
