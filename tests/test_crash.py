"""`kill -9` at any moment: the database passes `check`, the next ingest resumes and ends with the
same rows as a run that was never interrupted, and the index file is the old or the new one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from framedb import FrameDB
from framedb.store.index import FrameIndex, Manifest
from framedb.store.tables import frames, segments, videos
from tests import hostile
from tests.media import Segment, write_video

ROOT = Path(__file__).resolve().parent.parent
SEED = 20240611
KILLS = 16


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Many small videos, so that kills land between, inside and after their transactions; plus
    files that fail and one that is stored partially."""
    path = tmp_path_factory.mktemp("crash") / "videos"
    path.mkdir()
    for i in range(18):
        write_video(path / f"v{i:02d}.mp4", [Segment(100 + i, 0.0, 1.0)], size=(128, 72))
    # footage shared by three of them, and a loop: segments that must come and go with them
    shared = [Segment(150, 0.0, 2.0), Segment(151, 0.0, 1.0)]
    write_video(path / "s0.mp4", shared, size=(128, 72))
    write_video(path / "s1.mp4", [Segment(152, 0.0, 0.5), *shared], size=(128, 72), crf=30)
    write_video(path / "s2.mp4", [Segment(150, 0.5, 1.5), Segment(150, 0.5, 1.5)], size=(128, 72))
    (path / "text.mp4").write_text("not a video\n" * 20)
    (path / "empty.mkv").write_bytes(b"")
    whole = path.parent / "whole.mp4"
    hostile.write_mp4(whole, 60, faststart=True)
    hostile.cut(whole, path / "cut.mp4", 0.5)
    return path


def content(db_path: Path) -> dict[bytes, tuple]:
    """Everything stored, keyed by raw path: the video's row and all its frames (ids aside, which
    depend on the order of retries)."""
    with FrameDB.open(db_path) as db, db.store.reading() as conn:
        out = {}
        columns = [frames.c[name] for name in ("ordinal", "pts", "time", "hash", "detail")]
        for v in conn.execute(select(videos)).mappings():
            rows = conn.execute(
                select(*columns).where(frames.c.video_id == v["id"]).order_by(frames.c.ordinal)
            ).all()
            key = bytes(v["path"])
            assert key not in out
            out[key] = (v["status"], v["frame_count"], v["error"], v["width"], tuple(rows))
        return out


def shared(db_path: Path) -> set[frozenset[tuple[str, int, int]]]:
    """Every stored segment as the two (file name, first frame, last frame) it joins (ids and
    which side is which depend on the order of retries)."""
    with FrameDB.open(db_path) as db, db.store.reading() as conn:
        names = {
            v["id"]: Path(os.fsdecode(v["path"])).name
            for v in conn.execute(select(videos)).mappings()
        }
        return {
            frozenset(
                {(names[r.video_a], r.a_start, r.a_end), (names[r.video_b], r.b_start, r.b_end)}
            )
            for r in conn.execute(select(segments))
        }


def ingest(db_path: Path, folder: Path, *, own_group: bool = False) -> subprocess.Popen[str]:
    """`framedb ingest --json` in its own process, one result line per input as it happens;
    `own_group` puts it in a process group of its own (to signal it as a terminal would)."""
    return subprocess.Popen(
        [sys.executable, "-m", "framedb", "--db", str(db_path), "ingest", "--json", str(folder)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=own_group,
    )


def test_kill_9_at_random_moments_then_resume(folder: Path, tmp_path: Path) -> None:
    reference = tmp_path / "reference.db"
    run = ingest(reference, folder)
    out, err = run.communicate()
    assert run.returncode == 2, err  # some files fail, by design
    truth = content(reference)
    inputs = len(out.splitlines())
    assert inputs == len(truth) == 24 and sum(s == "done" for s, *_ in truth.values()) == 21
    links = shared(reference)
    assert len({name for pair in links for name, *_ in pair}) == 3  # s0, s1, s2 and no other

    rng = np.random.default_rng(SEED)
    db = tmp_path / "crash.db"
    kills = interrupted = rounds = stored = 0
    points = []
    while kills < KILLS:
        run = ingest(db, folder)
        assert run.stdout is not None
        # Kill after the k-th result (0: while starting; `inputs`: while the index is saved),
        # a random fraction of a file's work later; past the files already stored, mostly.
        after = 0 if rng.uniform() < 0.125 else int(rng.integers(stored, inputs + 1))
        if after == 0:
            time.sleep(float(rng.uniform(0.0, 1.0)))
        for _ in range(after):
            if not run.stdout.readline():
                break
        time.sleep(float(rng.uniform(0.0, 0.03)))
        if run.poll() is None:
            os.kill(run.pid, signal.SIGKILL)
            interrupted += 1
        run.communicate()
        kills += 1
        with FrameDB.open(db) as opened:
            report = opened.check()
            assert report.ok, report.problems
        now = content(db)
        stored = len(now)
        points.append((after, stored))
        for key, row in now.items():  # whatever is stored is stored whole
            assert row == truth[key], key
        names = {Path(os.fsdecode(key)).name for key in now}  # and so are its segments
        assert shared(db) == {p for p in links if {n for n, *_ in p} <= names}
        if run.returncode != -signal.SIGKILL:
            assert now == truth  # the run finished before the kill
        if now == truth:  # start again from nothing, so that later kills hit real work
            rounds, stored = rounds + 1, 0
            for leftover in tmp_path.glob("crash.db*"):
                leftover.unlink()
    final = ingest(db, folder)
    _, err = final.communicate()
    assert final.returncode == 2, err
    assert content(db) == truth
    assert shared(db) == links
    with FrameDB.open(db) as opened:
        assert opened.check().ok
        assert sorted(opened.index().ids().tolist()) == sorted(_frame_ids(opened))
    assert not list(tmp_path.glob("*.tmp-*"))  # no temporary index file left behind
    print(f"{kills} kills ({interrupted} interrupted a run), {rounds} databases completed")
    print(f"(kill after result k, videos stored then): {points}")
    assert interrupted >= KILLS // 2


def _frame_ids(db: FrameDB) -> list[int]:
    with db.store.reading() as conn:
        return list(conn.execute(select(frames.c.id)).scalars())


SAVER = """
import sys
import numpy as np
from pathlib import Path
from framedb.store.index import FrameIndex, Manifest
path, n = Path(sys.argv[1]), int(sys.argv[2])
codes = np.random.default_rng(0).integers(0, 256, (n + 10_000, 8), np.uint8)
for generation in range(1, 10_000):
    index = FrameIndex(64)
    index.add(np.arange(n + generation), codes[: n + generation])
    index.save(path, Manifest("db", generation, n + generation, 64))
    print(generation, flush=True)
"""


def test_kill_9_while_the_index_is_saved(tmp_path: Path) -> None:
    """A process saving ever newer indexes (several MB each) is killed at random moments: the
    file is always a complete index, of the last finished save or of the one under way."""
    path = tmp_path / "x.db.faiss"
    rng = np.random.default_rng(SEED)
    n = 400_000
    torn = 0
    for _ in range(8):
        saver = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(path), str(n)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert saver.stdout is not None
        saver.stdout.readline()  # one save finished
        time.sleep(float(rng.uniform(0.0, 0.3)))
        os.kill(saver.pid, signal.SIGKILL)
        done = [int(line) for line in saver.stdout.read().split()]
        saver.wait()
        last = done[-1] if done else 1
        loaded = [g for g in (last, last + 1) if FrameIndex.load(path, "db", g, 64) is not None]
        assert len(loaded) == 1, (last, loaded)
        torn += any(p.name.startswith("x.db.faiss.tmp-") for p in tmp_path.iterdir())
    # A later save removes what killed savers left half-written.
    index = FrameIndex(64)
    index.save(path, Manifest("db", 1, 0, 64))
    assert [p.name for p in tmp_path.iterdir()] == ["x.db.faiss"]
    print(f"8 kills, {torn} left a half-written temporary file")


def test_ctrl_c_stops_cleanly_and_the_next_run_resumes(folder: Path, tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) mid-run: one line, exit
    130, no decoder left running, a database that passes `check`; the next run finishes the job."""
    db = tmp_path / "interrupted.db"
    run = ingest(db, folder, own_group=True)
    assert run.stdout is not None
    for _ in range(5):
        run.stdout.readline()
    workers = _children(run.pid)
    os.killpg(run.pid, signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130, err
    assert err.strip().splitlines()[-1] == "framedb: interrupted" and "Traceback" not in err
    assert workers and not any(_running(pid) for pid in workers)
    with FrameDB.open(db) as opened:
        assert opened.check().ok
        assert 5 <= len(opened.videos()) < len(list(folder.iterdir()))
    again = ingest(db, folder)
    again.communicate()
    assert again.returncode == 2
    with FrameDB.open(db) as opened:
        assert opened.check().ok and len(opened.videos()) == len(list(folder.iterdir()))


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
