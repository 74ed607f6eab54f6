"""Ingest on a Dask distributed cluster: the workers decode and hash, this process stores.

`DaskPool` has `WorkerPool`'s interface (submit, poll, outstanding), so an ingest through a cluster
plans, orders, stores, resumes and reports exactly as a local one; only where files are decoded
changes. Each Dask worker thread decodes in a sandbox process of its own (framedb's `WorkerPool`
of one, kept for the next file), so a file that crashes or hangs FFmpeg fails alone with the same
message as locally, and the Dask worker lives on. A Dask worker that dies (a lost machine, a
killed process) costs the file it was decoding: the scheduler reports it (`KilledWorker`) and the
run goes on; `--cluster local` sets the scheduler's `allowed-failures` to 0 so such a file fails at
once, a scheduler of your own may first retry it elsewhere. Workers read the files by the same
absolute path (shared storage) and return compact hash arrays (`framedb.store.hashed.HashedVideo`,
about 30 bytes a frame).

Dask moves tasks and results with pickle: run workers and scheduler only on machines you trust,
and use Dask's TLS settings on networks you do not.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any

from framedb.cores import available_cores
from framedb.errors import BadArgumentError, FrameDBError
from framedb.hashspec import HashSpec
from framedb.ingest.workers import MEMORY_LIMIT, Failed, WorkerPool, decode_file

LOCAL = "local"
CONNECT_TIMEOUT = 30.0  # seconds to reach a scheduler before giving up

Target = Callable[..., Any]


class ClusterError(FrameDBError, ConnectionError):
    """The Dask scheduler cannot be reached, or was lost during a run."""


# -- on a Dask worker --------------------------------------------------------------------------
_sandboxes = threading.local()


def decode_task(
    target: Target,
    path: Path,
    spec: HashSpec,
    threads: int | None,
    timeout: float | None,
    memory_limit: int | None,
) -> Any:
    """Decode one file in this worker thread's sandbox process; returns what local ingest's
    workers return: (HashedVideo or None, error text or None), or `Failed(reason)`."""
    key = (target, timeout, memory_limit)
    pool: WorkerPool | None = getattr(_sandboxes, "pool", None)
    if pool is None or getattr(_sandboxes, "key", None) != key:
        if pool is not None:
            pool.close()
        pool = WorkerPool(1, timeout=timeout, memory_limit=memory_limit, target=target)
        _sandboxes.pool, _sandboxes.key = pool, key
    if threads is None:  # share this machine's cores among the worker's task threads
        threads = max(1, available_cores() // max(1, _worker_threads()))
    pool.submit(path, (path, spec, threads))
    while True:
        for _, result in pool.poll():
            return result


def _worker_threads() -> int:
    from distributed import get_worker

    try:
        return int(get_worker().state.nthreads)
    except ValueError:  # not on a worker (called directly)
        return 1


# -- the storing side --------------------------------------------------------------------------
class DaskPool:
    """Decode jobs on a Dask cluster, with `WorkerPool`'s interface. At most one job per worker
    thread is handed to the scheduler at a time (the rest wait here), so a worker that dies holds
    only the file it is decoding, and jobs are spread as workers come and go."""

    def __init__(
        self,
        client: Any,
        *,
        timeout: float | None,
        memory_limit: int | None = MEMORY_LIMIT,
        target: Target | None = None,
        local: bool = False,
        on_progress: Callable[[Hashable, int], None] | None = None,
        owned: Sequence[Any] = (),
    ) -> None:
        self.client = client
        self.timeout = timeout
        self.memory_limit = memory_limit
        self.target = target or decode_file
        self.local = local  # workers on this machine: a job's cores are as the ingest gives them
        self.on_progress = on_progress
        self._owned = list(owned)  # closed with the pool: a LocalCluster we started
        self._backlog: deque[tuple[Hashable, tuple[Any, ...]]] = deque()
        self._running: dict[Any, Hashable] = {}
        self._size, self._size_at = 1, -1e9

    @classmethod
    def connect(
        cls,
        address: str,
        *,
        jobs: int,
        timeout: float | None,
        on_progress: Callable[[Hashable, int], None] | None = None,
    ) -> DaskPool:
        """A pool on the scheduler at `address` (`tcp://host:8786`), or on a new LocalCluster of
        `jobs` single-threaded worker processes for `local`."""
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise BadArgumentError(
                f"--cluster needs Dask distributed ({exc}); install it with "
                "pip install 'framedb[cluster]'"
            ) from exc
        if address == LOCAL:
            with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                local = LocalCluster(
                    n_workers=jobs,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
            client = Client(local)
            return cls(
                client,
                timeout=timeout,
                local=True,
                on_progress=on_progress,
                owned=[client, local],
            )
        try:
            client = Client(address, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterError(
                f"{address}: cannot reach a Dask scheduler ({exc}); start one with "
                "`dask scheduler` and workers with `dask worker ADDRESS`, or use --cluster local"
            ) from exc
        return cls(client, timeout=timeout, on_progress=on_progress, owned=[client])

    def __enter__(self) -> DaskPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def size(self) -> int:
        """Jobs the cluster can decode at once: its worker threads (at least one, so that jobs
        wait at the scheduler for workers that are still starting). Asked of the scheduler at
        most once a second, so the pool follows workers that come and go."""
        now = time.monotonic()
        if now - self._size_at > 1.0:
            with contextlib.suppress(OSError, TimeoutError):
                self._size = max(1, sum(self.client.nthreads().values()))
                self._size_at = now
        return self._size

    @property
    def outstanding(self) -> int:
        """Jobs submitted and not yet returned by `poll`."""
        return len(self._backlog) + len(self._running)

    def submit(self, key: Hashable, args: Sequence[Any], *, short: bool = False) -> None:
        """Queue a job: args are (path, spec, threads), as for `WorkerPool` (`short` is for its
        workers; Dask hands out tasks itself)."""
        path, spec, threads = args
        if not self.local:  # this machine's share of cores says nothing of a worker's (its own)
            threads = None
        self._backlog.append((key, (path, spec, threads)))
        self._dispatch()

    def poll(self) -> list[tuple[Hashable, Any]]:
        """Wait until at least one job finishes and return what finished."""
        from distributed import wait

        finished: list[tuple[Hashable, Any]] = []
        while self.outstanding and not finished:
            self._dispatch()
            try:
                done = wait(list(self._running), return_when="FIRST_COMPLETED").done
            except (OSError, TimeoutError) as exc:
                raise ClusterError(
                    f"lost the Dask scheduler ({exc}); everything stored so far is kept: run the "
                    "same ingest again to continue"
                ) from exc
            for future in done:
                key = self._running.pop(future)
                finished.append((key, self._result(key, future)))
        return finished

    def close(self) -> None:
        """Cancel what is still running, then close the client (and a cluster we started)."""
        running, self._running = list(self._running), {}
        self._backlog.clear()
        with contextlib.suppress(Exception):
            if running:
                self.client.cancel(running)
        for thing in self._owned:
            with contextlib.suppress(Exception):
                thing.close()
        self._owned.clear()

    # -- inside ------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        if not self._backlog:
            return
        room = self.size - len(self._running)
        while self._backlog and room > 0:
            key, (path, spec, threads) = self._backlog.popleft()
            future = self.client.submit(
                decode_task,
                self.target,
                path,
                spec,
                threads,
                self.timeout,
                self.memory_limit,
                key=f"framedb-decode-{uuid.uuid4().hex}",
                pure=False,
            )
            self._running[future] = key
            room -= 1

    def _result(self, key: Hashable, future: Any) -> Any:
        from distributed import KilledWorker

        if future.status == "finished":
            try:
                result = future.result()
            except Exception as exc:  # lost in transfer: the file fails, not the run
                return Failed(f"its result was lost on the cluster ({type(exc).__name__}: {exc})")
            hashed = result[0] if isinstance(result, tuple) else None
            if self.on_progress and hashed is not None:
                self.on_progress(key, len(hashed))
            return result
        if future.status == "cancelled":
            return Failed("cancelled on the cluster")
        error = future.exception()
        if isinstance(error, KilledWorker):
            return Failed(
                "the Dask worker decoding it died; run the same ingest again to retry this file"
            )
        return Failed(f"decoder error on the cluster ({type(error).__name__}: {error})")
