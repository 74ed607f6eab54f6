"""Decoding in worker processes, so that a file which crashes or hangs FFmpeg costs that file only.

`WorkerPool` keeps N long-lived processes. Each is a fresh interpreter that imports framedb's
decoding modules and nothing of the caller (a script without a `__main__` guard is not run again,
as it would be under multiprocessing's spawn or forkserver), decodes one file at a time and sends
back the compact result (about 30 bytes per frame) over a socket, and every tenth of a second the
frames decoded since. The parent kills and replaces a worker that dies (`decoder crashed (signal
11)`) or makes no progress for `timeout` seconds (`timed out ...`), reports that file as failed,
and goes on. Each worker runs with a cap on its address space (RLIMIT_AS) and one BLAS/OpenMP
thread, and dies with the parent (a `kill -9` of an ingest leaves no decoder running).

Messages between the parent and its own workers are pickled (multiprocessing's Connection); nothing
read from a file is ever unpickled.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from framedb.errors import FrameDBError
from framedb.ingest.forked import die_with_parent
from framedb.ingest.jobs import first_inputs, job_threads

if TYPE_CHECKING:  # imported by the workers themselves: the parent starts them without numpy/av
    from framedb.hashspec import HashSpec
    from framedb.store.hashed import HashedVideo

# A decoder gives up a file after this many seconds without decoding a batch of frames (hung or
# looping); a long film that keeps decoding is never cut off.
DEFAULT_TIMEOUT = 600.0
# Address space of one worker: room for 8K frames and FFmpeg's frame threads, not for a runaway.
MEMORY_LIMIT = 4 << 30
# A worker tells the parent of the frames it decoded at most this often (seconds).
PROGRESS_EVERY = 0.1
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

Outcome: TypeAlias = "tuple[HashedVideo | None, str | None]"
Target = Callable[..., Any]


@dataclass(frozen=True)
class Failed:
    """A job that ended without a result from its target: the worker crashed, hung or raised."""

    reason: str


# -- the worker process ------------------------------------------------------------------------
def decode_file(
    path: Path, spec: HashSpec, threads: int, on_progress: Callable[[int], None]
) -> Outcome:
    """The default job: decode and hash one file; errors about the file come back as text."""
    from framedb.ingest.extract import hash_video

    try:
        return hash_video(path, spec, threads=threads, on_batch=on_progress), None
    except FrameDBError as exc:
        return None, str(exc)


@dataclass(frozen=True)
class DecodeThen:
    """`decode` (decode_file), then `then(hashed)` in the same worker, stored as
    `hashed.loops`: what needs only the video's own frames (its loops, framedb.match.finder)
    leaves the one process that stores, which otherwise sets the pace of an ingest of many
    small files. Only up to `most` frames: a long video's loops are found by the storing
    process on a thread of their own, beside the writing of its rows."""

    decode: Target
    then: Callable[[HashedVideo], Any]
    most: int = 100_000

    def __call__(
        self, path: Path, spec: HashSpec, threads: int, on_progress: Callable[[int], None]
    ) -> Outcome:
        hashed, error = self.decode(path, spec, threads, on_progress)
        if hashed is not None and 0 < len(hashed) <= self.most:
            try:
                hashed.loops = self.then(hashed)
            except Exception:  # the storing process finds them again, and says what is wrong
                hashed.loops = None
        return hashed, error


def main() -> None:
    """Entry point of a worker process: `main FD MEMORY_LIMIT PARENT_PID`."""
    fd, memory_limit, parent = (int(arg) for arg in sys.argv[1:4])
    import framedb.ingest.extract  # noqa: F401  (numpy, PyAV: loaded while the parent starts up too)

    _serve(Connection(fd), memory_limit or None, parent)
    with contextlib.suppress(OSError):
        sys.stderr.flush()
    os._exit(0)  # skip the interpreter's tear-down: the parent waits for this exit


def _serve(conn: Connection, memory_limit: int | None, parent: int) -> None:
    """A worker's life: run jobs from the parent until it says stop or goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    die_with_parent(parent)
    if memory_limit:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    try:
        conn.send(("ready", 0, None))  # the timeout of a first job starts now, not at launch
    except OSError:
        return
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        number, target, args = message
        progress = _Progress(conn, number)
        try:
            reply: tuple[Any, ...] = ("done", number, target(*args, progress))
        except (BrokenPipeError, EOFError):
            return
        except MemoryError:
            reply = ("failed", number, _out_of_memory(memory_limit))
        except (
            Exception
        ) as exc:  # a bug or an unforeseen library error: the file fails, not the run
            reply = ("failed", number, f"decoder error ({type(exc).__name__}: {exc})")
        try:
            progress.flush()  # the frames not told yet, just before the result
            conn.send(reply)
        except MemoryError:
            conn.send(("failed", number, _out_of_memory(memory_limit)))
        except (BrokenPipeError, EOFError, OSError):
            return


class _Progress:
    """The `on_progress` a job is given: it adds up frames and tells the parent at most every
    PROGRESS_EVERY seconds. Each message wakes the parent (~0.4 ms of its CPU a file, with
    --jobs 2, when a small clip's three batches each sent one), and the parent only needs them
    to move its progress bar and to see that a long job is alive."""

    def __init__(self, conn: Connection, number: int) -> None:
        self.conn = conn
        self.number = number
        self.untold = 0
        self.told_at = time.monotonic()

    def __call__(self, frames: int) -> None:
        self.untold += frames
        now = time.monotonic()
        if now - self.told_at >= PROGRESS_EVERY:
            self.flush()
            self.told_at = now

    def flush(self) -> None:
        if self.untold:
            self.conn.send(("progress", self.number, self.untold))  # BrokenPipeError: parent gone
            self.untold = 0


def _out_of_memory(limit: int | None) -> str:
    cap = f" (limit {limit / (1 << 30):g} GiB per decoder)" if limit else ""
    return f"decoder ran out of memory{cap}"


# -- the parent's side -------------------------------------------------------------------------
class _Worker:
    """One worker process, its pipe, and the job it is running."""

    def __init__(self, memory_limit: int | None) -> None:
        ours, theirs = socket.socketpair()
        with ours, theirs:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from framedb.ingest.workers import main; main()",
                    str(theirs.fileno()),
                    str(memory_limit or 0),
                    str(os.getpid()),
                ],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # the parent's stdout may be its JSON output
                env=_worker_environment(),
            )
            self.conn = Connection(ours.detach())
        self.jobs: deque[_Job] = deque()  # the one it is running first, then one sent ahead
        self.deadline = 0.0

    @property
    def job(self) -> _Job | None:
        """The job it is running."""
        return self.jobs[0] if self.jobs else None

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        self.process.wait()
        self.conn.close()

    def crash_reason(self) -> str:
        try:
            code = self.process.wait(5)
        except subprocess.TimeoutExpired:
            return "decoder stopped answering"
        if code < 0:
            return f"decoder crashed (signal {-code})"
        return f"decoder exited unexpectedly (exit code {code})"


def _can_take_ahead(worker: _Worker) -> bool:
    return len(worker.jobs) == 1 and worker.jobs[0].short


@dataclass
class _Job:
    number: int
    key: Hashable
    args: tuple[Any, ...]
    short: bool = False


class WorkerPool:
    """Up to `size` worker processes running `target(*args, on_progress)` for submitted jobs
    (with `then`, followed in the worker by `then` on what it decoded: DecodeThen).

    `submit(key, args)` queues a job; `poll()` waits until some job finishes and returns
    `[(key, result or Failed)]`. `on_progress(key, frames)` hears of the frames decoded,
    every PROGRESS_EVERY seconds and before each result.
    A worker running a job submitted as `short` is sent the next job ahead, so that it starts it
    the moment it is done instead of waiting for this process to hear of it and answer (~0.4 ms,
    and up to a few ms while this process is busy storing: a tenth of a small clip's decoding).
    Only behind a short job: a job sent ahead cannot move to a worker that falls idle meanwhile.
    """

    def __init__(
        self,
        size: int,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        memory_limit: int | None = MEMORY_LIMIT,
        target: Target | None = None,
        on_progress: Callable[[Hashable, int], None] | None = None,
        then: Callable[[HashedVideo], Any] | None = None,
    ) -> None:
        if size < 1:
            raise ValueError(f"a pool needs at least one worker, not {size}")
        if timeout is not None and timeout <= 0:
            raise ValueError(f"the timeout must be positive, not {timeout}")
        self.size = size
        self.timeout = timeout
        self.memory_limit = memory_limit
        self.target = target or decode_file
        if then is not None:  # run by the worker after each job's target (DecodeThen)
            self.target = DecodeThen(self.target, then)
        self.on_progress = on_progress
        self._workers: list[_Worker] = []
        self._backlog: deque[_Job] = deque()
        self._numbers = iter(range(1, 1 << 62))

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def outstanding(self) -> int:
        """Jobs submitted and not yet returned by `poll`."""
        return len(self._backlog) + sum(len(w.jobs) for w in self._workers)

    def submit(self, key: Hashable, args: Sequence[Any], *, short: bool = False) -> None:
        """Queue a job; it starts at once if a worker is free (or can be started), or is sent
        ahead to one running a short job. `short`: the job ends soon (a small file)."""
        self._backlog.append(_Job(next(self._numbers), key, tuple(args), short))
        self._dispatch()

    def poll(self) -> list[tuple[Hashable, Any]]:
        """Wait for at least one job to finish (if any is outstanding) and return what finished."""
        finished: list[tuple[Hashable, Any]] = []
        while self.outstanding and not finished:
            self._dispatch()
            busy = [w for w in self._workers if w.job is not None]
            if not busy:
                continue
            wait_for = None
            if self.timeout is not None:
                wait_for = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            ready = wait([w.conn for w in busy], wait_for)
            for worker in busy:
                if worker.conn in ready:
                    self._receive(worker, finished)
            now = time.monotonic()
            for worker in busy:
                if worker.job is not None and self.timeout is not None and now >= worker.deadline:
                    job = worker.job
                    self._retire(worker)
                    reason = f"timed out after {self.timeout:g} s without decoding a frame"
                    finished.append((job.key, Failed(reason)))
        self._dispatch()  # the next jobs start now, not after the caller has stored these
        return finished

    def close(self) -> None:
        """Stop every worker: idle ones are told to exit, busy ones (an interrupted run) killed."""
        for worker in self._workers:
            if worker.job is None:
                with contextlib.suppress(OSError):
                    worker.conn.send(None)
        for worker in self._workers:
            if worker.job is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    worker.process.wait(5)
            worker.kill()
        self._workers.clear()
        self._backlog.clear()
        discard_prefetched()

    # -- inside ------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        while self._backlog:
            worker = next((w for w in self._workers if not w.jobs), None)
            if worker is None and len(self._workers) < self.size:
                adopted = _adopt(self._backlog[0], self.target)
                if adopted is not None and adopted.job is not None:  # decoding this very job
                    job = self._backlog.popleft()
                    adopted.jobs[0] = _Job(adopted.job.number, job.key, job.args, job.short)
                    adopted.deadline = time.monotonic() + (self.timeout or 0.0)
                    self._workers.append(adopted)
                    continue
                worker = _Worker(self.memory_limit)
                self._workers.append(worker)
            ahead = worker is None
            if worker is None:
                worker = next((w for w in self._workers if _can_take_ahead(w)), None)
                if worker is None:
                    return
            job = self._backlog.popleft()
            try:
                worker.conn.send((job.number, self.target, job.args))
            except OSError:
                self._backlog.appendleft(job)
                if ahead:  # died running a job: poll hears of it, and of why
                    return
                self._retire(worker)  # died while idle: replace it and try again
                continue
            if not worker.jobs:
                worker.deadline = time.monotonic() + (self.timeout or 0.0)
            worker.jobs.append(job)

    def _receive(self, worker: _Worker, finished: list[tuple[Hashable, Any]]) -> None:
        job = worker.job
        if job is None:
            return
        while worker.conn.poll():
            try:
                kind, number, value = worker.conn.recv()
            except (EOFError, OSError):
                reason = worker.crash_reason()
                self._retire(worker)
                finished.append((job.key, Failed(reason)))
                return
            if kind == "ready":
                worker.deadline = time.monotonic() + (self.timeout or 0.0)
                continue
            if number != job.number:
                continue
            if kind == "progress":
                worker.deadline = time.monotonic() + (self.timeout or 0.0)
                if self.on_progress:
                    self.on_progress(job.key, value)
                continue
            worker.jobs.popleft()  # the one sent ahead (if any) starts now
            worker.deadline = time.monotonic() + (self.timeout or 0.0)
            finished.append((job.key, value if kind == "done" else Failed(value)))
            return

    def _retire(self, worker: _Worker) -> None:
        """Kill a worker. Its running job is the caller's to report; the one sent ahead, never
        started, goes back to the front of the queue."""
        worker.kill()
        self._workers.remove(worker)
        self._backlog.extendleft(reversed(list(worker.jobs)[1:]))
        worker.jobs.clear()


# -- starting early --------------------------------------------------------------------------
# Workers started by `prefetch` before the caller has opened its database, each already running
# its first job; the first pool that submits exactly that job adopts the worker.
_PREFETCHED: list[_Worker] = []
_PREFETCH_NUMBERS = itertools.count(-1, -1)  # never a pool's job number (those count up from 1)


def prefetch(
    paths: Sequence[str | os.PathLike[str]],
    hash_kind: str,
    hash_size: int,
    jobs: int | None = 1,
) -> int:
    """Start decoding the first input of each of an ingest's jobs now, before the heavy imports
    and the opening of the database: the worker processes start (and import PyAV) alongside
    them, so decoding begins a few tenths of a second earlier. Returns the jobs (`jobs`, or the
    default: `cores.first_inputs`). A worker whose file the ingest does not submit in that order
    (the file is unchanged, the database uses another hash) is killed."""
    first = _Worker(MEMORY_LIMIT)  # launched before the inputs are even listed
    inputs, jobs = first_inputs(paths, jobs)
    try:
        from framedb.hashspec import HashSpec

        spec = HashSpec(hash_kind, hash_size)
    except FrameDBError:  # the ingest says what is wrong
        inputs = []
    workers = [first] + [_Worker(MEMORY_LIMIT) for _ in inputs[1:]]
    for worker, item in zip(workers, inputs, strict=False):
        # The arguments Ingest.run gives this job (its cores, with `jobs` at once).
        threads = job_threads(jobs, _size(item.path))
        job = _Job(next(_PREFETCH_NUMBERS), None, (item.path, spec, threads))
        try:
            worker.conn.send((job.number, decode_file, job.args))
        except OSError:
            worker.kill()
            continue
        worker.jobs.append(job)
        _PREFETCHED.append(worker)
    if not inputs:
        first.kill()
    return jobs


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # the ingest reports it
        return 0


def _adopt(job: _Job, target: Target) -> _Worker | None:
    """The prefetched worker running exactly `job`, if any. When none is, the caller's jobs no
    longer follow the prefetched order, and every prefetched worker is killed."""
    # The prefetched job is decode_file's; DecodeThen's `then` is left to the storer.
    if isinstance(target, DecodeThen):
        target = target.decode
    decodes = target is decode_file
    for worker in _PREFETCHED:
        running = worker.job
        if running and decodes and running.args == job.args:
            _PREFETCHED.remove(worker)
            return worker
    discard_prefetched()
    return None


def discard_prefetched() -> None:
    """Kill prefetched workers nobody adopted."""
    while _PREFETCHED:
        _PREFETCHED.pop().kill()


def _worker_environment() -> dict[str, str]:
    """The caller's environment with one BLAS/OpenMP thread, and its module path (so a worker
    finds framedb, and a test's job functions, as the parent does)."""
    env = dict(os.environ)
    env.update(dict.fromkeys(_THREAD_VARIABLES, "1"))
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and os.path.exists(p))
    return env


def run_all(
    pool: WorkerPool, jobs: Sequence[tuple[Hashable, Sequence[Any]]]
) -> Iterator[tuple[Hashable, Any]]:
    """Submit every job and yield results as they finish (a convenience for tests and tools)."""
    for key, args in jobs:
        pool.submit(key, args)
    while pool.outstanding:
        yield from pool.poll()
