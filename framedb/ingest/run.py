"""One ingest run: decide per file (skip, move, decode), decode in worker processes, and store each
video in its own transaction, reporting results in the order the files were given."""

from __future__ import annotations

import dataclasses
import errno
import os
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from framedb.errors import DatabaseError, DiskFullError
from framedb.hashspec import HashSpec
from framedb.ingest import files
from framedb.ingest.jobs import SHORT_FILE, job_threads
from framedb.ingest.workers import DEFAULT_TIMEOUT, Failed, WorkerPool
from framedb.store.rows import Store, no_frames, video_row_values
from framedb.store.tables import DONE, FAILED, PARTIAL

if TYPE_CHECKING:  # the parent decodes nothing: PyAV is for the workers
    import numpy as np

    from framedb.ingest.cluster import DaskPool
    from framedb.store.cache import IndexUpdate
    from framedb.store.hashed import HashedVideo

SKIPPED = "skipped"


@dataclass(frozen=True)
class IngestResult:
    """What happened to one input: status done, partial, failed, unchanged, moved or duplicate."""

    path: str
    status: str
    video_id: int | None = None
    frames: int = 0
    reason: str | None = None

    @property
    def stored(self) -> bool:
        return self.status in (DONE, PARTIAL, "unchanged", "moved", "duplicate")

    def as_dict(self) -> dict[str, Any]:
        """The JSON line `framedb ingest --json` prints for this input."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Job:
    """A file to decode, and the stored row (if any) it replaces."""

    path: Path
    size: int
    mtime: float
    fingerprint: str
    replaces: int | None


Outcome = tuple["HashedVideo | None", str | None]


@dataclass(eq=False)
class _Entry:
    """One input on its way through the run. `plan` is None while it waits for an earlier file
    with the same content to be stored (then it is planned again, and found to be a duplicate)."""

    item: files.Input
    plan: Job | IngestResult | None
    outcome: Outcome | None = field(default=None)
    fingerprint: str | None = field(default=None)


class SegmentsHook(Protocol):
    """What finds a video's shared footage as it is stored (framedb.match.finder, given by the
    API): `prepare` runs before the transaction that writes the video's frames (work that needs
    nothing stored can start), `stored` inside it, `committed` once it is committed."""

    def in_worker(self) -> Callable[[HashedVideo], Any]:
        """What a worker may find right after decoding a video (picklable), into `loops`."""
        ...

    def prepare(self, hashed: HashedVideo) -> None: ...

    def stored(self, conn: Connection, video_id: int, hashed: HashedVideo) -> None: ...

    def committed(self, ids: np.ndarray, codes: np.ndarray, inner: np.ndarray | None) -> None: ...


class Ingest:
    """Stores what the workers decode; records every id it adds or removes in `changes`; with
    `segments`, stores each video's segments with its frames."""

    def __init__(
        self,
        store: Store,
        spec: HashSpec,
        changes: IndexUpdate,
        on_progress: Callable[[str, int], None] | None,
        segments: SegmentsHook | None = None,
    ) -> None:
        self.store = store
        self.spec = spec
        self.changes = changes
        self.on_progress = on_progress
        self.segments = segments

    def run(
        self,
        inputs: Iterable[files.Input],
        *,
        jobs: int = 1,
        timeout: float | None = DEFAULT_TIMEOUT,
        cluster: str | None = None,
    ) -> Iterator[IngestResult]:
        """Ingest every input; `jobs` files are decoded at once, each in a worker process that is
        given up after `timeout` seconds without progress. With `cluster` (a Dask scheduler
        address, or "local"), the cluster's workers decode instead (framedb.ingest.cluster)."""
        if jobs < 1:
            raise ValueError(f"--jobs must be at least 1, not {jobs}")
        pool: WorkerPool | DaskPool
        if cluster is None:
            # With several decoders feeding the one writer, each finds its videos' loops; one
            # decoder and the writer have a core each, and the writer finds them beside it.
            then = self.segments.in_worker() if self.segments is not None and jobs > 1 else None
            pool = WorkerPool(jobs, timeout=timeout, on_progress=self._progress, then=then)
        else:
            from framedb.ingest.cluster import DaskPool

            pool = DaskPool.connect(cluster, jobs=jobs, timeout=timeout, on_progress=self._progress)
        with pool:
            queue: deque[_Entry] = deque()
            for item in inputs:
                queue.append(self._admit(item, queue, pool, jobs))
                yield from self._drain(queue, pool, jobs, keep=2 * pool.size)
            yield from self._drain(queue, pool, jobs, keep=0)

    def _admit(
        self, item: files.Input, queue: deque[_Entry], pool: WorkerPool | DaskPool, jobs: int
    ) -> _Entry:
        plan = self._plan(item)
        if not isinstance(plan, Job):
            return _Entry(item, plan)
        if any(e.fingerprint == plan.fingerprint for e in queue):
            return _Entry(item, None, fingerprint=plan.fingerprint)  # same content as one before
        entry = _Entry(item, plan, fingerprint=plan.fingerprint)
        self._submit(pool, entry, plan, jobs)
        return entry

    def _submit(self, pool: WorkerPool | DaskPool, entry: _Entry, job: Job, jobs: int) -> None:
        """Hand a file to the pool: with the cores it may use, and sent ahead if it is short."""
        args = (job.path, self.spec, job_threads(jobs, job.size))
        pool.submit(entry, args, short=job.size < SHORT_FILE)

    def _drain(
        self, queue: deque[_Entry], pool: WorkerPool | DaskPool, jobs: int, keep: int
    ) -> Iterator[IngestResult]:
        """Yield finished results from the head of the queue; wait for workers once `keep` jobs
        are outstanding (0: until the queue is empty)."""
        while queue:
            head = queue[0]
            if head.plan is None:  # everything before it is stored now
                head.plan = self._plan(head.item)
                if isinstance(head.plan, Job):
                    self._submit(pool, head, head.plan, jobs)
            if isinstance(head.plan, IngestResult):
                queue.popleft()
                yield head.plan
                continue
            if head.outcome is not None and isinstance(head.plan, Job):
                queue.popleft()
                yield self._store(head.plan, head.outcome)
                continue
            if keep and pool.outstanding < keep:
                return
            for key, result in pool.poll():
                entry = key if isinstance(key, _Entry) else None
                if entry is not None and isinstance(entry.plan, Job):
                    entry.outcome = self._outcome(entry.plan, result)

    def _outcome(self, job: Job, result: Any) -> Outcome:
        if isinstance(result, Failed):
            return None, f"{files.shown(job.path)}: {result.reason}"
        return result

    def _progress(self, key: Hashable, frames: int) -> None:
        if self.on_progress and isinstance(key, _Entry):
            self.on_progress(files.display(key.item.path), frames)

    def _plan(self, item: files.Input) -> Job | IngestResult:
        """Skip unchanged files, recognise moved ones, and turn the rest into jobs."""
        path, shown = item.path, files.display(item.path)
        if item.skip:
            return IngestResult(shown, SKIPPED, reason=item.skip)
        if item.problem:
            return IngestResult(shown, FAILED, reason=f"{files.shown(path)}: {item.problem}")
        try:
            st = path.stat()
            raw = files.raw_path(path)
            with self.store.reading() as conn:
                row = self.store.video_by_path(conn, raw)
                stored = row is not None and row.status in (DONE, PARTIAL)
                if stored and row and row.size == st.st_size and row.mtime == st.st_mtime:
                    return IngestResult(shown, "unchanged", row.id, row.frame_count)
                fingerprint = files.fingerprint(path, st.st_size)
                same = [
                    v
                    for v in self.store.videos_by_fingerprint(conn, fingerprint)
                    if v.status in (DONE, PARTIAL) and v.size == st.st_size
                ]
        except OSError as exc:
            return IngestResult(
                shown, FAILED, reason=f"{files.shown(path)}: cannot read ({exc.strerror or exc})"
            )
        for video in same:
            if video.raw_path == raw or not os.path.lexists(video.raw_path):
                removed = None
                with self._writing(path) as conn:
                    if row is not None and row.id != video.id:
                        removed = self.store.delete_video(conn, row.id)
                    self.store.move_video(conn, video.id, raw, st.st_mtime)
                if removed is not None:
                    self.changes.removed.append(removed)
                status = "unchanged" if video.raw_path == raw else "moved"
                return IngestResult(
                    shown,
                    status,
                    video.id,
                    video.frame_count,
                    reason=None if status == "unchanged" else f"was {files.one_line(video.path)}",
                )
        if same:
            return IngestResult(
                shown,
                "duplicate",
                same[0].id,
                same[0].frame_count,
                reason=f"same content as {files.one_line(same[0].path)}; not stored twice",
            )
        return Job(path, st.st_size, st.st_mtime, fingerprint, row.id if row else None)

    def _store(self, job: Job, outcome: Outcome) -> IngestResult:
        """Write one video (or its failure) in one transaction, replacing the row it supersedes."""
        hashed, error = outcome
        if hashed is not None and len(hashed) == 0:
            error = hashed.error or f"{files.shown(job.path)}: no frames could be decoded"
            hashed = None
        status = FAILED if hashed is None else PARTIAL if hashed.error else DONE
        error = error if hashed is None else hashed.error
        row = video_row_values(
            job.path, job.size, job.mtime, job.fingerprint, self.spec, hashed, status, error
        )
        removed = None
        if hashed is not None and self.segments is not None:
            self.segments.prepare(hashed)
        with self._writing(job.path) as conn:
            if job.replaces is not None:
                removed = self.store.delete_video(conn, job.replaces)
            if hashed is None:
                video_id, ids = self.store.add_video(conn, row, *no_frames(self.spec))
            else:
                video_id, ids = self.store.add_video(conn, row, *hashed.columns())
                if self.segments is not None:
                    self.segments.stored(conn, video_id, hashed)
        if removed is not None:  # only once committed: a rolled-back change leaves the index be
            self.changes.removed.append(removed)
        if hashed is not None:
            self.changes.add(ids, hashed.codes, hashed.inner)
            if self.segments is not None:
                self.segments.committed(ids, hashed.codes, hashed.inner)
        return IngestResult(files.display(job.path), status, video_id, len(ids), error)

    @contextmanager
    def _writing(self, path: Path) -> Iterator[Connection]:
        """A write transaction; a full disk or another database failure becomes one clear error
        (the transaction is rolled back, everything committed before stays)."""
        try:
            with self.store.writing() as conn:
                yield conn
        except (SQLAlchemyError, OSError) as exc:
            where = self.store.engine.url.database or str(self.store.engine.url)
            if _disk_full(exc):
                raise DiskFullError(
                    f"{files.shown(Path(where))}: the disk is full; {files.shown(path)} was not "
                    "stored (its transaction was rolled back, everything stored before is intact). "
                    "Free some space, then run the same ingest again to continue."
                ) from exc
            if isinstance(exc, OSError):
                raise
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise DatabaseError(
                f"{files.shown(Path(where))}: cannot store {files.shown(path)} ({reason}); "
                "nothing of it was written"
            ) from exc


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, OperationalError):
        text = str(exc.orig).lower()
        return "disk is full" in text or "disk full" in text
    return False
