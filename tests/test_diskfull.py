"""A full disk in the middle of an ingest: one clear message, the video's transaction rolled back,
the videos and the index stored before intact; after space is freed, the same ingest completes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Connection, insert
from sqlalchemy.exc import IntegrityError

from framedb import FrameDB
from framedb.api import IngestResult
from framedb.cli import run
from framedb.ingest.run import Ingest, Job, Outcome
from framedb.store.index import FrameIndex
from framedb.store.tables import frames
from tests.media import Segment, write_video


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs mounted for this test (needs root; skipped where it cannot be made)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("the disk-full test mounts a small tmpfs, which needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "framedb-test", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> Path:
    """Take every free byte of the filesystem."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 16, 512, 1):
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def test_disk_full_rolls_back_and_keeps_what_was_stored(
    small_disk: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second, third = (tmp_path / f"{name}.mp4" for name in ("first", "second", "third"))
    write_video(first, [Segment(51, 0.0, 1.0)], size=(96, 54))
    write_video(second, [Segment(52, 0.0, 1.0)], size=(96, 54))
    write_video(third, [Segment(53, 0.0, 20.0)], size=(64, 36))  # 600 frames
    db = small_disk / "full.db"
    assert run(["--db", str(db), "ingest", str(first)]) == 0
    with FrameDB.open(db) as opened:
        index_file = opened.index_path
    saved_index = index_file.read_bytes()
    capsys.readouterr()

    # The disk fills up while the run goes on: after `second` is stored, before `third` is.
    store = Ingest._store
    filled: list[Path] = []

    def store_then_fill(self: Ingest, job: Job, outcome: Outcome) -> IngestResult:
        if job.path == third:
            filled.append(fill(small_disk))
        return store(self, job, outcome)

    monkeypatch.setattr(Ingest, "_store", store_then_fill)
    code = run(["--db", str(db), "ingest", str(first), str(second), str(third)])
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in err
    assert out.splitlines() == [
        f"unchanged {first}  30 frames",
        f"done      {second}  30 frames",
    ]
    assert err.strip().splitlines()[-1] == (
        f"framedb: {db}: the disk is full; {third} was not stored (its transaction was rolled "
        "back, everything stored before is intact). Free some space, then run the same ingest "
        "again to continue."
    )
    assert index_file.read_bytes() == saved_index  # the old index, whole (now stale)
    assert not list(small_disk.glob("*.tmp-*"))
    with FrameDB.open(db) as opened:
        assert [(v.frame_count, v.status) for v in opened.videos()] == [(30, "done")] * 2
        report = opened.check()  # the stale index is rebuilt from SQL (in memory: no space)
        assert report.ok and report.frames == 60 and report.index_frames == 60

    # Where SQLite cannot even create its files, the message says why.
    fresh = small_disk / "fresh.db"
    assert run(["--db", str(fresh), "videos"]) == 1
    assert capsys.readouterr().err == (
        f"framedb: {fresh}: cannot open: the disk is full; free some space, then run the "
        "command again\n"
    )

    monkeypatch.setattr(Ingest, "_store", store)
    filled[0].unlink()
    assert run(["--db", str(db), "ingest", str(first), str(second), str(third)]) == 0
    with FrameDB.open(db) as opened:
        assert [v.frame_count for v in opened.videos()] == [30, 30, 600]
        assert opened.check().ok
        assert FrameIndex.load(index_file, opened.database_id, _generation(opened), 64)


def _generation(db: FrameDB) -> int:
    with db.store.reading() as conn:
        return db.store.generation(conn)


def test_a_rolled_back_removal_leaves_the_index_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the transaction that deletes a video fails, the index must keep that video's frames."""
    video = tmp_path / "keep.mp4"
    write_video(video, [Segment(54, 0.0, 1.0)], size=(96, 54))
    with FrameDB.open(tmp_path / "t.db") as db:
        db.ingest([video])
        delete = db.store.delete_video

        def delete_then_fail_at_commit(conn: Connection, video_id: int) -> np.ndarray:
            removed = delete(conn, video_id)
            conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")  # checked at COMMIT, which fails
            row = {"id": 999, "video_id": 12345, "ordinal": 0, "pts": 0, "time": 0.0}
            conn.execute(insert(frames).values(**row, hash=b"\0" * 8, detail=0.0))
            return removed

        monkeypatch.setattr(db.store, "delete_video", delete_then_fail_at_commit)
        with pytest.raises(IntegrityError):
            db.remove(video)
    with FrameDB.open(tmp_path / "t.db") as db:
        assert [v.frame_count for v in db.videos()] == [30]
        assert len(db.index()) == 30 and db.check().ok
