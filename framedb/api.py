"""`FrameDB`, the library's one front door: open a database, ingest videos, ask where frames appear.

from framedb import FrameDB
db = FrameDB.open("archive.db")
db.ingest(["videos/"])
result = db.where("videos/a.mp4", "12.5s")

Importing this module costs only the standard library: each method imports the stage it calls
(framedb.ingest, framedb.store, framedb.match, framedb.evidence), so that `framedb ingest` starts
its first decoders before numpy, SQLAlchemy and PyAV load (`prefetch`). The result types of the
stages are handed on from here by name (`from framedb.api import IngestResult`).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framedb.errors import BadArgumentError, NotAVideoError, VideoNotFoundError
from framedb.hashspec import HashSpec

if TYPE_CHECKING:
    import numpy as np

    from framedb.evidence.report import ReportResult
    from framedb.evidence.show import Comparison
    from framedb.evidence.tune import TuneResult
    from framedb.ingest.run import IngestResult
    from framedb.match.answers import StoredAnswers
    from framedb.match.hits import FrameRef, Hit, WhereResult
    from framedb.match.loops import Loops
    from framedb.match.tracks import Group, MatchParams, Track, format_time, parse_time
    from framedb.store.cache import IndexUpdate
    from framedb.store.index import FrameIndex
    from framedb.store.integrity import CheckReport
    from framedb.store.rows import Store
    from framedb.store.tables import VideoRow

DEFAULT_DB = "framedb.db"
# Re-encoded and rescaled copies of a frame stay within 8 bits of a 64-bit phash for nearly every
# frame (benchmarks/accuracy.py); unrelated frames sit near 32.
DEFAULT_RADIUS = 8

# The stages' types and helpers that callers of the API use, by the module that defines them.
_HANDED_ON = {
    "IngestResult": "framedb.ingest.run",
    "CheckReport": "framedb.store.integrity",
    "VideoRow": "framedb.store.tables",
    "FrameRef": "framedb.match.hits",
    "Hit": "framedb.match.hits",
    "WhereResult": "framedb.match.hits",
    "Loops": "framedb.match.loops",
    "LoopSummary": "framedb.match.loops",
    "Group": "framedb.match.tracks",
    "Occurrence": "framedb.match.tracks",
    "MatchParams": "framedb.match.tracks",
    "Track": "framedb.match.tracks",
    "format_time": "framedb.match.tracks",
    "parse_time": "framedb.match.tracks",
}


def __getattr__(name: str) -> Any:
    if name in _HANDED_ON:
        return getattr(importlib.import_module(_HANDED_ON[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


ProgressFn = Callable[[str, int], None]
ResultFn = Callable[["IngestResult"], None]


def prefetch(
    paths: Sequence[str | os.PathLike[str]], hash_kind: str, hash_size: int, jobs: int | None
) -> int:
    """Start decoding the first videos of an ingest of `paths` now, before the database is
    opened; returns the jobs the ingest should run (`jobs`, or one per core, at most one per
    video). The next `FrameDB.ingest` with the same paths and jobs adopts them."""
    from framedb.ingest.workers import prefetch as start

    return start(paths, hash_kind, hash_size, jobs)


def default_jobs(paths: Sequence[str | os.PathLike[str]], jobs: int | None) -> int:
    """The jobs an ingest of `paths` runs: `jobs`, or one per core, at most one per video."""
    from framedb.ingest.jobs import first_inputs

    return first_inputs(paths, jobs)[1]


class FrameDB:
    """A framedb database: SQL rows (the truth) plus the FAISS index kept beside them."""

    def __init__(self, database: Any) -> None:
        self._db = database  # framedb.store.database.Database
        self.store: Store = database.store
        self.spec: HashSpec = database.spec
        self.database_id: str = database.database_id
        self.location: str = database.location

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        target: str | os.PathLike[str] = DEFAULT_DB,
        *,
        hash_kind: str = "dct",
        hash_size: int = 8,
        index_path: str | os.PathLike[str] | None = None,
    ) -> FrameDB:
        """Open (creating if needed) a database: a file path for SQLite, or a SQLAlchemy URL.

        The hash settings apply when the database is created; an existing database keeps the
        settings it was built with.
        """
        from framedb.store.database import open_database

        return cls(open_database(target, HashSpec(hash_kind, hash_size), index_path))

    @property
    def index_path(self) -> Path:
        return self._db.cache.path

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> FrameDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- videos ------------------------------------------------------------------------------
    def videos(self) -> list[VideoRow]:
        with self.store.reading() as conn:
            return self.store.videos(conn)

    def video(self, name: str | os.PathLike[str] | int) -> VideoRow:
        """A stored video by path, by id, or by a file name that only one stored video has."""
        with self.store.reading() as conn:
            return self.store.video_named(conn, name)

    def remove(self, name: str | os.PathLike[str] | int) -> VideoRow:
        """Delete a video, its frames, its segments and their index entries (the segments of
        the others never depend on it: framedb.match.finder)."""
        row = self.video(name)
        with self._writing() as changes, self.store.writing() as conn:
            changes.removed.append(self.store.delete_video(conn, row.id))
        return row

    # -- ingest ------------------------------------------------------------------------------
    def ingest(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        jobs: int = 1,
        timeout: float | None = 600.0,
        on_result: ResultFn | None = None,
        on_progress: ProgressFn | None = None,
        cluster: str | None = None,
    ) -> list[IngestResult]:
        """Decode and store every frame of every new or changed video under `paths`.

        Unchanged files are skipped; a moved file is recognised by its content and only its path
        is updated. Each video is written in one transaction, with its segments (the footage it
        shares with itself and the videos stored before it); the index is updated once at the end.
        Files are decoded in worker processes; one that makes no progress for `timeout` seconds
        (or crashes its decoder) fails alone. `cluster` (a Dask scheduler address, or "local" for
        `jobs` local Dask workers) decodes on a cluster instead; this process still stores.
        """
        from framedb.ingest import files
        from framedb.ingest.run import Ingest

        results: list[IngestResult] = []
        with self._writing() as changes:
            run = Ingest(self.store, self.spec, changes, on_progress, self._answers().finder())
            inputs = files.expand(list(paths))
            for result in run.run(inputs, jobs=jobs, timeout=timeout, cluster=cluster):
                results.append(result)
                if on_result:
                    on_result(result)
        return results

    @contextmanager
    def _writing(self) -> Iterator[IndexUpdate]:
        """The writer lock (framedb.store.lock), held while an index update collects the ids this
        writer adds and removes; the index is brought up to date once, at the end."""
        from framedb.store.lock import writer_lock

        with (
            writer_lock(self.store.engine, self.index_path, self.location),
            self._db.updating() as changes,
        ):
            yield changes

    # -- where -------------------------------------------------------------------------------
    def frame(self, video: str | os.PathLike[str] | int, frame: str | int) -> FrameRef:
        """Resolve a frame given as an ordinal (`120`) or a time (`12.5s`, `00:01:02.500`)."""
        from framedb.match.hits import FrameRef, frame_at, ordinal_of

        row = self.video(video)
        ordinal = ordinal_of(self.store, row, frame, self.spec.nbytes)
        time = float(frame_at(self.store, row, ordinal, self.spec.nbytes).times[0])
        return FrameRef(row.path, row.id, ordinal, time)

    def where(
        self,
        video: str | os.PathLike[str] | int,
        frame: str | int,
        *,
        radius: int = DEFAULT_RADIUS,
        limit: int | None = 20,
    ) -> WhereResult:
        """Every other place in the collection where this frame appears, nearest first."""
        from framedb.hashing import FLAT_DETAIL
        from framedb.match.hits import FrameRef, WhereResult, flat_note, frame_at, ordinal_of

        row = self.video(video)
        ordinal = ordinal_of(self.store, row, frame, self.spec.nbytes)
        data = frame_at(self.store, row, ordinal, self.spec.nbytes)
        ref = FrameRef(row.path, row.id, ordinal, float(data.times[0]))
        if data.detail[0] < FLAT_DETAIL:
            return WhereResult(ref, [], flat_note(f"frame {ordinal} of {row.path}"))
        hits = self._search(data.codes[0], radius, limit, exclude=(row.id, ordinal))
        return WhereResult(ref, hits)

    def where_segments(self, result: WhereResult) -> WhereResult:
        """The same hits, each extended from the matching frame to the whole shared segment
        (the query's side and the hit's side, aligned)."""
        return self._answers().where_segments(result, {v.id: v.path for v in self.videos()})

    def where_image(
        self, image: str | os.PathLike[str], *, radius: int = DEFAULT_RADIUS, limit: int | None = 20
    ) -> WhereResult:
        """Where a picture (a screenshot, a thumbnail) appears in the collection."""
        from framedb import hashing
        from framedb.ingest.decode import grey_of_image
        from framedb.match.hits import WhereResult, flat_note

        grey = grey_of_image(Path(image))
        if hashing.detail(grey)[0] < hashing.FLAT_DETAIL:
            return WhereResult(None, [], flat_note(str(image)))
        code = hashing.compute(grey, self.spec)[0]
        return WhereResult(None, self._search(code, radius, limit, exclude=None))

    def _search(
        self, code: np.ndarray, radius: int, limit: int | None, exclude: tuple[int, int] | None
    ) -> list[Hit]:
        from framedb.match.hits import search

        if radius < 0 or radius > self.spec.bits:
            raise BadArgumentError(f"radius {radius} is outside 0..{self.spec.bits}")
        hits = search(self.index(), self.store, code, radius, self._mirror(), exclude)
        return hits[:limit] if limit else hits

    # -- loops and shared footage ------------------------------------------------------------
    def match_params(self, min_length: float | None = None) -> MatchParams:
        """The matcher's thresholds for this database's hash (defaults tuned on 64 bits)."""
        from framedb.match.tracks import MatchParams

        params = MatchParams().for_bits(self.spec.bits)
        if min_length is not None:
            if min_length < 0:
                raise BadArgumentError(f"--min-length {min_length}: give seconds >= 0")
            params = replace(params, min_length=min_length)
        return params

    def tracks(self, videos: Sequence[VideoRow] | None = None) -> dict[int, Track]:
        """Stored videos (all with frames, if None) as matching sees them, by video id."""
        return self._answers().tracks(self._matchable() if videos is None else list(videos))

    def loops(
        self,
        video: str | os.PathLike[str] | int,
        *,
        min_length: float | None = None,
        recompute: bool = False,
    ) -> Loops:
        """Footage that repeats inside one video, as groups and a summary per loop; from its
        stored segments (`recompute`: found again from the frames and stored first)."""
        from framedb.match.loops import Loops, summarise_loops
        from framedb.match.tracks import named

        row = self.video(video)
        answers = self._answers()
        if recompute:
            with self._writing(), self.store.writing() as conn:
                answers.finder().store_for(conn, self.tracks([row])[row.id])
            row = self.video(row.id)
        track, found = answers.loops(row, self.match_params(min_length))
        groups = named(found, {row.id: row.path})
        return Loops(row, groups, summarise_loops(track, groups))

    def matches(
        self,
        videos: Sequence[str | os.PathLike[str] | int | VideoRow] = (),
        *,
        min_length: float | None = None,
        params: MatchParams | None = None,
        tracks: dict[int, Track] | None = None,
        recompute: bool = False,
    ) -> list[Group]:
        """Footage shared across the collection and inside videos, strongest first, from the
        stored segments (`recompute`: every segment found again from the frames and stored
        first). With `videos`, only the groups that involve at least one of them. `tracks` lets
        a caller that has loaded them already pass them in (used when answering from frames)."""
        from framedb.match.tracks import named
        from framedb.store.tables import VideoRow

        chosen = [v if isinstance(v, VideoRow) else self.video(v) for v in videos]
        answers = self._answers()
        if recompute:
            with self._writing(), self.store.writing() as conn:
                answers.recompute(conn, self._matchable())
        rows = {v.id: v for v in self._matchable()} | {v.id: v for v in chosen}
        params = params or self.match_params(min_length)
        only = {v.id for v in chosen} if chosen else None
        found = answers.matches(list(rows.values()), params, only=only, tracks=tracks)
        return named(found, {i: v.path for i, v in rows.items()})

    def segments_note(
        self, videos: Sequence[str | os.PathLike[str] | int] = (), min_length: float | None = None
    ) -> str | None:
        """Why `matches` (or `loops` of one of `videos`) answers from the frames rather than
        from stored segments; None when stored segments answer."""
        rows = [self.video(v) for v in videos] if videos else self._matchable()
        return self._answers().note(rows, self.match_params(min_length))

    def _answers(self) -> StoredAnswers:
        """Matching answered from stored segments, and the writes that keep them true."""
        from framedb.match.answers import StoredAnswers

        return StoredAnswers(self._db, self.match_params(), self._mirror())

    def find(self, clip: str | os.PathLike[str], *, min_length: float | None = None) -> list[Group]:
        """Where the footage of `clip` (hashed, not stored) appears in the collection. The clip's
        occurrences have video id 0 and its path."""
        from framedb.ingest.extract import hash_video
        from framedb.match.groups import find_groups
        from framedb.match.hits import videos_near
        from framedb.match.tracks import Track, named

        path = Path(clip)
        if not path.is_file():
            raise VideoNotFoundError(f"{path}: no such file")
        hashed = hash_video(path, self.spec)
        if not len(hashed):
            raise NotAVideoError(f"{path}: no frames could be decoded")
        probe = Track.of(0, hashed)
        params = self.match_params(min_length)
        rows = {v.id: v for v in self._matchable()}
        indexes = (self.index(), self._db.inner.index())
        candidates = videos_near(indexes, self.store, probe, params, self._mirror())
        tracks = self.tracks([rows[i] for i in sorted(candidates) if i in rows])
        found = find_groups([probe, *tracks.values()], params, only={0}, mirror=self._mirror())
        return named(found, {i: v.path for i, v in rows.items()} | {0: str(path)})

    def _mirror(self) -> np.ndarray | None:
        """This database's hash's mirror mask (None if its mirrored form is not in its bits)."""
        from framedb.hashing import mirror_mask

        return mirror_mask(self.spec)

    def _matchable(self) -> list[VideoRow]:
        return self._answers().matchable()

    # -- evidence ----------------------------------------------------------------------------
    def compare(self, first: str, second: str, *, gain: int = 4) -> Comparison:
        """Two stored frames (`VIDEO@FRAME` each) side by side with their amplified difference."""
        from framedb.evidence.show import compare_frames, parse_ref
        from framedb.ingest.frames import grab

        if not 1 <= gain <= 255:
            raise BadArgumentError(f"gain {gain}: use 1 to 255")
        pictures = []
        for ref in (first, second):
            video, frame = parse_ref(ref)
            where = self.frame(video, frame)
            row = self.video(where.video_id)
            pictures.append(grab(self.store, self.spec, row, [where.frame])[0])
        return compare_frames(pictures[0], pictures[1], self.spec, gain=gain)

    def tune(
        self,
        video: str,
        *,
        kinds: Sequence[str] = (),
        sizes: Sequence[int] | None = None,
        duration: float | None = None,
    ) -> TuneResult:
        """Sweep hash kinds and sizes over `video` (a stored video, or any video file) from one
        decoding pass; `kinds` default to ahash and this database's kind."""
        from framedb.evidence.tune import TUNE_SIZES, tune

        source = (
            Path(video) if Path(video).is_file() else Path(os.fsdecode(self.video(video).raw_path))
        )
        return tune(
            source,
            kinds=kinds or ("ahash", self.spec.kind),
            sizes=TUNE_SIZES if sizes is None else sizes,
            current=self.spec,
            duration=duration,
        )

    def report(
        self,
        out: str | os.PathLike[str],
        videos: Sequence[str] = (),
        *,
        params: MatchParams | None = None,
        strips: int = 50,
        on_progress: Callable[[str], None] | None = None,
    ) -> ReportResult:
        """Match the collection (or the groups that involve `videos`) and write one HTML file
        with everything found embedded (framedb.evidence.report)."""
        import time

        from framedb.evidence.report import ReportInput, write_report

        started = time.perf_counter()
        say = on_progress or (lambda _text: None)
        if not Path(out).parent.is_dir():
            raise BadArgumentError(f"{out}: folder {Path(out).parent} does not exist")
        params = params or self.match_params()
        everything = self._matchable()
        chosen = [self.video(v) for v in videos] if videos else everything
        if not chosen:
            raise BadArgumentError(
                "no ingested videos to report on; add some with `framedb ingest`"
            )
        rows = {v.id: v for v in everything} | {v.id: v for v in chosen}
        say(f"loading {len(rows)} videos")
        tracks = self.tracks(list(rows.values()))
        say("matching")
        groups = self.matches(chosen if videos else (), params=params, tracks=tracks)
        source = ReportInput(
            self.location, self.store, self.spec, params, chosen, rows, tracks, groups
        )
        return write_report(source, out, strips=strips, on_progress=on_progress, started=started)

    # -- the index and its health ------------------------------------------------------------
    def index(self) -> FrameIndex:
        """The index for the current generation: the one in memory or in its file, caught up
        with the videos added and removed since (framedb.store.catchup), or rebuilt from SQL."""
        return self._db.cache.index()

    def check(self, *, repair: bool = False) -> CheckReport:
        """Compare the database with itself, the index with the database, and the stored
        segments with the frames (`repair`: fix what can be fixed)."""
        from framedb.match.audit import check_segments
        from framedb.store.integrity import check

        report = check(self._db, repair=repair)
        check_segments(self._answers(), report, repair=repair)
        return report


__all__ = [
    "CheckReport",
    "FrameDB",
    "FrameRef",
    "Hit",
    "IngestResult",
    "Loops",
    "WhereResult",
    "default_jobs",
    "format_time",
    "parse_time",
    "prefetch",
]
