"""One ingest run: decide per file (skip, move, decode), decode in this process or in worker
processes, and store each video in its own transaction."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING

from framedb import files
from framedb.errors import FrameDBError
from framedb.extract import HashedVideo, hash_video
from framedb.hashing import HashSpec
from framedb.store import DONE, FAILED, PARTIAL, Store

if TYPE_CHECKING:
    from framedb.api import IngestResult, _IndexUpdate


@dataclass(frozen=True)
class Job:
    """A file to decode, and the stored row (if any) it replaces."""

    path: Path
    size: int
    mtime: float
    fingerprint: str
    replaces: int | None


Outcome = tuple[HashedVideo | None, str | None]


def _work(path: Path, spec: HashSpec) -> Outcome:
    """Decode and hash one file (in a worker process); errors come back as their message."""
    try:
        return hash_video(path, spec), None
    except FrameDBError as exc:
        return None, str(exc)


class Ingest:
    """Stores what `run` decodes; records every id it adds or removes in `changes` for the index."""

    def __init__(
        self,
        store: Store,
        spec: HashSpec,
        changes: _IndexUpdate,
        on_progress: Callable[[str, int], None] | None,
    ) -> None:
        self.store = store
        self.spec = spec
        self.changes = changes
        self.on_progress = on_progress

    def run(self, inputs: Iterable[files.Input], *, jobs: int = 1) -> Iterator[IngestResult]:
        from framedb.api import IngestResult

        if jobs < 1:
            raise ValueError(f"--jobs must be at least 1, not {jobs}")
        planned = (self._plan(item) for item in inputs)
        if jobs == 1:
            for plan in planned:
                yield (
                    plan
                    if isinstance(plan, IngestResult)
                    else self._store(plan, self._decode(plan))
                )
            return
        with ProcessPoolExecutor(jobs, mp_context=get_context("forkserver")) as pool:
            pending: deque[tuple[Job, Future[Outcome]]] = deque()
            for plan in planned:
                if isinstance(plan, IngestResult):
                    yield plan
                    continue
                pending.append((plan, pool.submit(_work, plan.path, self.spec)))
                while len(pending) >= 2 * jobs:
                    yield self._finish(*pending.popleft())
            while pending:
                yield self._finish(*pending.popleft())

    def _finish(self, job: Job, future: Future[Outcome]) -> IngestResult:
        outcome = future.result()
        if outcome[0] is not None and self.on_progress:
            self.on_progress(str(job.path), len(outcome[0]))
        return self._store(job, outcome)

    def _decode(self, job: Job) -> Outcome:
        report = self.on_progress
        name = str(job.path)
        try:
            return hash_video(
                job.path, self.spec, on_batch=(lambda n: report(name, n)) if report else None
            ), None
        except FrameDBError as exc:
            return None, str(exc)

    def _plan(self, item: files.Input) -> Job | IngestResult:
        """Skip unchanged files, recognise moved ones, and turn the rest into jobs."""
        from framedb.api import IngestResult

        path, shown = item.path, str(item.path)
        if item.problem:
            return IngestResult(shown, FAILED, reason=f"{shown}: {item.problem}")
        try:
            st = path.stat()
            raw = files.raw_path(path)
            with self.store.reading() as conn:
                row = self.store.video_by_path(conn, raw)
            stored = row is not None and row.status in (DONE, PARTIAL)
            if stored and row and row.size == st.st_size and row.mtime == st.st_mtime:
                return IngestResult(shown, "unchanged", row.id, row.frame_count)
            fingerprint = files.fingerprint(path, st.st_size)
        except OSError as exc:
            return IngestResult(
                shown, FAILED, reason=f"{shown}: cannot read ({exc.strerror or exc})"
            )
        with self.store.reading() as conn:
            same = [
                v
                for v in self.store.videos_by_fingerprint(conn, fingerprint)
                if v.status in (DONE, PARTIAL) and v.size == st.st_size
            ]
        for video in same:
            if video.raw_path == raw or not os.path.lexists(video.raw_path):
                with self.store.writing() as conn:
                    if row is not None and row.id != video.id:
                        self.changes.removed.append(self.store.delete_video(conn, row.id))
                    self.store.move_video(conn, video.id, raw, st.st_mtime)
                status = "unchanged" if video.raw_path == raw else "moved"
                return IngestResult(
                    shown,
                    status,
                    video.id,
                    video.frame_count,
                    reason=None if status == "unchanged" else f"was {video.path}",
                )
        if same:
            return IngestResult(
                shown,
                "duplicate",
                same[0].id,
                same[0].frame_count,
                reason=f"same content as {same[0].path}; not stored twice",
            )
        return Job(path, st.st_size, st.st_mtime, fingerprint, row.id if row else None)

    def _store(self, job: Job, outcome: Outcome) -> IngestResult:
        """Write one video (or its failure) in one transaction, replacing the row it supersedes."""
        from framedb.api import IngestResult, video_row_values

        hashed, error = outcome
        if hashed is not None and len(hashed) == 0:
            error = hashed.error or f"{job.path}: no frames could be decoded"
            hashed = None
        status = FAILED if hashed is None else PARTIAL if hashed.error else DONE
        error = error if hashed is None else hashed.error
        row = video_row_values(
            job.path, job.size, job.mtime, job.fingerprint, self.spec, hashed, status, error
        )
        with self.store.writing() as conn:
            if job.replaces is not None:
                self.changes.removed.append(self.store.delete_video(conn, job.replaces))
            if hashed is None:
                video_id, ids = self.store.add_video(conn, row, *_no_frames(self.spec))
            else:
                video_id, ids = self.store.add_video(
                    conn, row, hashed.pts, hashed.times, hashed.codes, hashed.detail
                )
        if hashed is not None:
            self.changes.added.append((ids, hashed.codes))
        return IngestResult(str(job.path), status, video_id, len(ids), error)


def _no_frames(spec: HashSpec) -> tuple:
    import numpy as np

    return (
        np.empty(0, np.int64),
        np.empty(0, np.float64),
        np.empty((0, spec.nbytes), np.uint8),
        np.empty(0, np.float32),
    )
