"""The worker layer: a job that crashes, hangs, raises or runs out of memory fails alone; the pool
replaces the worker and goes on; workers never outlive framedb."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from framedb.hashspec import HashSpec
from framedb.ingest.extract import hash_video
from framedb.ingest.workers import Failed, WorkerPool, run_all
from tests import hostile

ROOT = Path(__file__).resolve().parent.parent


def test_failures_are_reported_with_their_reason() -> None:
    jobs = [
        (0, ("echo", "first")),
        (1, ("crash",)),
        (2, ("hang",)),
        (3, ("raises",)),
        (4, ("exits", 3)),
        (5, ("echo", "last")),
    ]
    with WorkerPool(2, timeout=1.5, target=hostile.mixed) as pool:
        results = dict(run_all(pool, jobs))
        assert pool.outstanding == 0
    assert results[0] == "first" and results[5] == "last"
    assert results[1] == Failed("decoder crashed (signal 11)")
    assert results[2] == Failed("timed out after 1.5 s without decoding a frame")
    assert results[3] == Failed("decoder error (KeyError: 'boom')")
    assert results[4] == Failed("decoder exited unexpectedly (exit code 3)")


def test_progress_keeps_a_slow_job_alive_and_silence_ends_it() -> None:
    seen: list[tuple[object, int]] = []
    # 30 frames 0.05 s apart span 1.5 s, longer than the 1 s timeout: still alive until they stop.
    # The worker tells them a tenth of a second's worth at a time (the last one or two, never
    # told, are lost with the hung job).
    with WorkerPool(
        1, timeout=1.0, target=hostile.slow_then_hang, on_progress=lambda k, n: seen.append((k, n))
    ) as pool:
        [(key, result)] = list(run_all(pool, [("slow", (30,))]))
    assert key == "slow" and {k for k, _ in seen} == {"slow"}
    assert 28 <= sum(n for _, n in seen) <= 30
    assert 5 <= len(seen) <= 15 and all(n >= 1 for _, n in seen)
    assert result == Failed("timed out after 1 s without decoding a frame")


def test_a_quick_job_tells_its_frames_once_with_its_result() -> None:
    seen: list[tuple[object, int]] = []
    tell = WorkerPool(1, target=hostile.tell_quickly, on_progress=lambda k, n: seen.append((k, n)))
    with tell as pool:
        pool.submit("a", (600,))
        assert pool.poll() == [("a", 600)] and seen == [("a", 600)]  # told before the result
        pool.submit("b", (3,))
        assert pool.poll() == [("b", 3)] and seen == [("a", 600), ("b", 3)]


def test_workers_run_capped_with_one_blas_thread() -> None:
    with WorkerPool(1, memory_limit=1 << 30, target=hostile.address_space_limit) as pool:
        [(_, limit)] = list(run_all(pool, [(0, ())]))
    assert limit == 1 << 30
    with WorkerPool(1, memory_limit=1 << 30, target=hostile.allocate) as pool:
        results = dict(run_all(pool, [("big", (2 << 30,)), ("small", (1 << 20,))]))
    assert results["big"] == Failed("decoder ran out of memory (limit 1 GiB per decoder)")
    assert results["small"] == 1 << 20
    with WorkerPool(1, target=hostile.thread_settings) as pool:
        [(_, env)] = list(run_all(pool, [(0, ())]))
    assert env == dict.fromkeys(env, "1")


def test_decoding_in_a_worker_gives_what_decoding_here_gives(media: Path) -> None:
    spec = HashSpec()
    path = media / "looped.mp4"
    with WorkerPool(1) as pool:
        [(_, (hashed, error))] = list(run_all(pool, [(0, (path, spec, 0))]))
    here = hash_video(path, spec)
    assert error is None and len(hashed) == len(here) == 390
    assert (hashed.codes == here.codes).all() and (hashed.pts == here.pts).all()


PARENT = """
import sys, time
from framedb.ingest.workers import WorkerPool
from tests import hostile
pool = WorkerPool(2, target=hostile.mixed)
pool.submit(0, ("pids",))
pool.submit(1, ("hang_and_tell", sys.argv[1]))
[(_, (parent, idle))] = pool.poll()
print(idle, flush=True)
time.sleep(60)
"""


def test_workers_die_with_a_killed_parent(tmp_path: Path) -> None:
    # A kill -9 of framedb leaves no decoder behind, idle or busy.
    pid_file = tmp_path / "busy.pid"
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(pid_file)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    idle = int(parent.stdout.readline())
    while not pid_file.exists() or not pid_file.read_text():
        time.sleep(0.02)
    busy = int(pid_file.read_text())
    assert _alive(idle) and _alive(busy) and idle != busy
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    for _ in range(400):
        if not _alive(idle) and not _alive(busy):
            break
        time.sleep(0.05)
    assert not _alive(idle) and not _alive(busy)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one worker"):
        WorkerPool(0)
    with pytest.raises(ValueError, match="positive"):
        WorkerPool(1, timeout=0)


def test_a_queued_job_starts_as_soon_as_a_worker_is_free() -> None:
    """The next job starts when the last one's result comes in, not when the caller, done
    storing that result, asks again: with one worker, it would otherwise idle meanwhile."""
    with WorkerPool(1, target=hostile.started_at) as pool:
        pool.submit("first", ())
        pool.submit("second", ())
        [(key, _)] = pool.poll()
        returned = time.time()
        time.sleep(1.0)  # the caller storing the first result
        [(second, started)] = pool.poll()
    assert key == "first" and second == "second"
    assert started < returned + 0.5  # not after the sleep: a loaded machine may be slow to start it


def test_a_short_jobs_successor_is_sent_ahead_and_starts_unasked() -> None:
    """Behind a short job, the next is sent to the worker at once: it starts when the first
    ends, even while the caller is busy elsewhere. Behind any other job it waits for the caller."""
    for short in (True, False):
        with WorkerPool(1, target=hostile.mixed) as pool:
            pool.submit("first", ("nap", 0.2), short=short)
            pool.submit("second", ("nap", 0.0), short=short)
            asked = time.time() + 2.0
            time.sleep(2.0)  # the caller busy elsewhere (a loaded machine may start workers slowly)
            results = dict(run_all(pool, []))
        (_, _, first_ended), (_, second_started, _) = results["first"], results["second"]
        if short:
            assert first_ended <= second_started < asked
        else:
            assert second_started >= asked


def test_a_job_sent_ahead_outlives_the_failure_of_the_one_before() -> None:
    """A worker that crashes or hangs loses its running job only: the job sent ahead to it never
    started, and runs on its replacement."""
    with WorkerPool(1, timeout=1.0, target=hostile.mixed) as pool:
        for n, kind in enumerate(("crash", "hang")):
            pool.submit(("failing", n), (kind,), short=True)
            pool.submit(("next", n), ("echo", n), short=True)
        results = dict(run_all(pool, []))
        assert pool.outstanding == 0
    assert results[("failing", 0)] == Failed("decoder crashed (signal 11)")
    assert results[("failing", 1)] == Failed("timed out after 1 s without decoding a frame")
    assert results[("next", 0)] == 0 and results[("next", 1)] == 1


def test_no_job_is_sent_ahead_behind_a_long_one() -> None:
    """A job sent ahead cannot move to a worker that falls idle: it goes only behind a short
    job, never behind one that may take long."""
    with WorkerPool(2, target=hostile.mixed) as pool:
        pool.submit("long", ("nap", 1.5))
        pool.submit("short", ("nap", 0.2), short=True)
        pool.submit("next", ("nap", 0.0), short=True)
        results = dict(run_all(pool, []))
    long_pid, _, long_ended = results["long"]
    short_pid, _, short_ended = results["short"]
    next_pid, next_started, _ = results["next"]
    assert next_pid == short_pid != long_pid
    assert short_ended <= next_started < long_ended
