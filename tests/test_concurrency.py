"""Readers work while a writer ingests (no "database is locked", only completed videos visible);
a second writer is refused with a clear message; a killed writer's lock is gone at once."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from framedb import FrameDB
from tests.media import Segment, write_video

ROOT = Path(__file__).resolve().parent.parent
FRAMEDB = [sys.executable, "-m", "framedb"]


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("many")
    for i in range(30):
        write_video(folder / f"c{i:02d}.mp4", [Segment(200 + i, 0.0, 1.0)], size=(128, 72))
    return folder


def reader(db: Path, stop: Path, rounds: int = 0) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "tests.reader", str(db), str(stop)]
    return subprocess.Popen(
        [*args, str(rounds)] if rounds else args,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stored(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM videos").fetchone()[0])
        except sqlite3.OperationalError:  # not created yet
            return 0


def test_readers_query_while_a_writer_ingests(many: Path, tmp_path: Path) -> None:
    db, stop = tmp_path / "shared.db", tmp_path / "stop"
    writer = subprocess.Popen(
        [*FRAMEDB, "--db", str(db), "ingest", str(many)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    while not db.exists() or stored(db) == 0:  # readers open an existing database
        if writer.poll() is not None:
            break
        time.sleep(0.02)
    readers = [reader(db, stop) for _ in range(2)]
    # Freeze the writer part-way (possibly inside its transaction, holding SQLite's write lock):
    # the command-line readers still answer, and show exactly the videos committed so far.
    frozen = None
    while writer.poll() is None and stored(db) < 10:
        time.sleep(0.02)
    if writer.poll() is None:
        os.kill(writer.pid, signal.SIGSTOP)
        try:
            frozen = stored(db)
            listed = subprocess.run(
                [*FRAMEDB, "--db", str(db), "videos", "--json"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert listed.returncode == 0, listed.stderr
            assert len(json.loads(listed.stdout)) == frozen
            found = subprocess.run(
                [*FRAMEDB, "--db", str(db), "where", str(many / "c00.mp4"), "15", "--json"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert found.returncode == 0, found.stderr
            assert json.loads(found.stdout)["query"]["frame"] == 15
        finally:
            os.kill(writer.pid, signal.SIGCONT)
    _, err = writer.communicate(timeout=300)
    assert writer.returncode == 0, err
    stop.touch()
    for proc in readers:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "database is locked" not in err
        report = json.loads(out)
        assert report["queries"] >= 1 and report["seen"][-1] == 30
        print(f"reader: {report['queries']} rounds, saw {report['seen']}; frozen at {frozen}")


def test_readers_never_wait_for_a_write_lock(many: Path, tmp_path: Path) -> None:
    db = tmp_path / "locked.db"
    with FrameDB.open(db) as opened:
        opened.ingest([many / "c00.mp4", many / "c01.mp4"])
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a writer in the middle of its transaction
    holder.execute("UPDATE meta SET value = value WHERE key = 'generation'")
    try:
        proc = reader(db, tmp_path / "stop", rounds=3)
        out, err = proc.communicate(timeout=120)
    finally:
        holder.rollback()
        holder.close()
    assert proc.returncode == 0, err
    assert json.loads(out) == {"queries": 3, "seen": [2]}


HOLDER = """
import sys
from pathlib import Path
from framedb.store.lock import WriterLock
with WriterLock(Path(sys.argv[1]), "test"):
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_a_second_writer_is_refused_and_a_dead_ones_lock_is_gone(
    many: Path, tmp_path: Path
) -> None:
    db = tmp_path / "two.db"
    with FrameDB.open(db) as opened:
        opened.ingest([many / "c00.mp4"])
        index_path = opened.index_path
    first = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(index_path)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert first.stdout is not None and first.stdout.readline() == "locked\n"
    for command in (["ingest", str(many / "c01.mp4")], ["remove", str(many / "c00.mp4")]):
        second = subprocess.run(
            [*FRAMEDB, "--db", str(db), *command], cwd=ROOT, capture_output=True, text=True
        )
        assert second.returncode == 1
        assert second.stderr.strip() == (
            f"framedb: {db}: another framedb process (pid {first.pid}) is writing to this "
            "database; wait for it to finish, then run the command again"
        )
    listed = subprocess.run(
        [*FRAMEDB, "--db", str(db), "videos", "--json"], cwd=ROOT, capture_output=True, text=True
    )
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 1  # reading still works
    first.kill()  # kill -9: the kernel drops the lock with the process
    first.wait()
    again = subprocess.run(
        [*FRAMEDB, "--db", str(db), "ingest", str(many / "c01.mp4")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0, again.stderr
