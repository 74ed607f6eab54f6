"""Ingest on a Dask cluster (a LocalCluster of two worker processes): the same rows, `where` hits
and `matches` groups as local ingest, on SQLite and on PostgreSQL; a worker killed mid-run costs
the file it was decoding, the run finishes, and the next run stores that file."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import framedb.ingest.cluster
from framedb import FrameDB
from framedb.hashspec import HashSpec
from framedb.ingest.workers import decode_file
from tests.backends import PG_URL, Backend, require_pg
from tests.conftest import LOOP_STARTS
from tests.media import Segment, write_video
from tests.test_postgres import rows_of

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[Any]:
    """Two single-threaded worker processes; a task whose worker dies fails at once."""
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    try:
        yield cluster
    finally:
        cluster.close()


def answers(db: FrameDB, media: Path) -> tuple[Any, ...]:
    """Everything an ingest decides: rows, where hits, matches groups (with paths)."""
    videos, frame_rows = rows_of(db)
    hits = db.where(media / "looped.mp4", LOOP_STARTS[0] + 45).hits
    groups = db.matches()
    paths = [[o.video for o in g.occurrences] for g in groups]
    return videos, frame_rows, hits, groups, paths


def test_same_answers_on_sqlite_postgres_and_the_cluster(
    dask_cluster: Any, media: Path, tmp_path: Path
) -> None:
    kinds = ["sqlite"] + (["postgres"] if PG_URL else [])
    if not PG_URL and os.environ.get("CI"):
        require_pg()
    found = {}
    for kind in kinds:
        backend = Backend(kind, tmp_path)
        try:
            for where, cluster in (("local", None), ("cluster", dask_cluster.scheduler_address)):
                target, index = backend.target(f"{kind}-{where}")
                with FrameDB.open(target, index_path=index) as db:
                    results = db.ingest([media], jobs=2, cluster=cluster)
                    assert [r.status for r in results] == ["done"] * 3
                    found[kind, where] = answers(db, media)
        finally:
            backend.cleanup()
    reference = found["sqlite", "local"]
    assert len(reference[1]) == 390 + 105 + 90 and len(reference[2]) == 3 and reference[3]
    for key, value in found.items():
        assert value == reference, key


def slow_decode(path: Path, spec: HashSpec, threads: int, on_progress: Any) -> Any:
    """decode_file, except that for slow*.mp4 it names the Dask worker running it (the parent of
    this sandbox process) in a file beside it, then waits to be killed with that worker."""
    if path.name.startswith("slow"):
        note = path.with_suffix(".tmp")
        note.write_text(str(os.getppid()))
        note.rename(path.with_suffix(".worker"))
        time.sleep(60)
    return decode_file(path, spec, threads, on_progress)


def test_a_killed_worker_costs_its_file_only(
    dask_cluster: Any, media: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("looped.mp4", "copy.mp4", "other.mkv"):
        shutil.copy(media / name, folder / name)
    write_video(folder / "slow.mp4", [Segment(21, 0.0, 1.0)])
    killed: list[int] = []

    def kill_its_worker() -> None:
        note = folder / "slow.worker"
        deadline = time.monotonic() + 60
        while not note.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if note.exists():
            killed.append(int(note.read_text()))
            os.kill(killed[0], signal.SIGKILL)

    monkeypatch.setattr(framedb.ingest.cluster, "decode_file", slow_decode)
    killer = threading.Thread(target=kill_its_worker)
    killer.start()
    address = dask_cluster.scheduler_address
    with FrameDB.open(tmp_path / "c.db") as db:
        started = time.monotonic()
        results = {Path(r.path).name: r for r in db.ingest([folder], cluster=address)}
        killer.join()
        assert killed and time.monotonic() - started < 50  # not the 60 s sleep: it was killed
        assert {name: r.status for name, r in results.items()} == {
            "copy.mp4": "done",
            "looped.mp4": "done",
            "other.mkv": "done",
            "slow.mp4": "failed",
        }
        assert "the Dask worker decoding it died" in (results["slow.mp4"].reason or "")
        monkeypatch.undo()
        again = {Path(r.path).name: r.status for r in db.ingest([folder], cluster=address)}
        assert again == {
            "copy.mp4": "unchanged",
            "looped.mp4": "unchanged",
            "other.mkv": "unchanged",
            "slow.mp4": "done",
        }
        assert db.video(folder / "slow.mp4").frame_count == 30 and db.check().ok


def test_a_local_cluster_gives_each_file_the_cores_a_local_ingest_would() -> None:
    """Workers of `--cluster local` share this machine's cores: a task gets the cores the ingest
    chose for its file (all of them for a long one). A remote worker chooses for itself (None:
    its own cores shared among its task threads)."""

    class Scheduler:
        def __init__(self) -> None:
            self.threads: list[int | None] = []

        def nthreads(self) -> dict[str, int]:
            return {"worker": 4}

        def submit(
            self, task: Any, target: Any, path: Path, spec: Any, threads: Any, *_: Any, **__: Any
        ) -> object:
            self.threads.append(threads)
            return object()

    for local, expected in ((True, [0, 1]), (False, [None, None])):
        scheduler = Scheduler()
        pool = framedb.ingest.cluster.DaskPool(scheduler, timeout=None, local=local)
        pool.submit("long", (Path("long.mp4"), HashSpec(), 0))
        pool.submit("short", (Path("short.mp4"), HashSpec(), 1), short=True)
        assert scheduler.threads == expected
