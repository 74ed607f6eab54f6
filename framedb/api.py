"""`FrameDB`, the library's one front door: open a database, ingest videos, ask where frames appear.

from framedb import FrameDB
db = FrameDB.open("archive.db")
db.ingest(["videos/"])
result = db.where("videos/a.mp4", "12.5s")
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy.exc import SQLAlchemyError

from framedb import files, hashing
from framedb.errors import (
    BadArgumentError,
    DatabaseError,
    FrameNotFoundError,
    NotAVideoError,
    VideoNotFoundError,
)
from framedb.hashspec import HashSpec
from framedb.index import FrameIndex, Manifest
from framedb.lock import writer_lock
from framedb.store import (
    DONE,
    PARTIAL,
    FrameArrays,
    Store,
    VideoRow,
    index_cache_path,
    make_engine,
)

if TYPE_CHECKING:
    from framedb.catchup import CommitWatch
    from framedb.match import Group, LoopSummary, MatchParams, Occurrence, Track

DEFAULT_DB = "framedb.db"
# Re-encoded and rescaled copies of a frame stay within 8 bits of a 64-bit phash for nearly every
# frame (benchmarks/accuracy.py); unrelated frames sit near 32.
DEFAULT_RADIUS = 8
# Matching frames of one video at most this many ordinals apart belong to one occurrence: a frame
# or two just over the radius (compression noise) must not split it.
RUN_GAP = 4


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


@dataclass(frozen=True)
class FrameRef:
    """One stored frame: its video, ordinal and time."""

    video: str
    video_id: int
    frame: int
    time: float


@dataclass(frozen=True)
class Hit:
    """One occurrence of the query frame: a run of consecutive matching frames, best one named."""

    video: str
    video_id: int
    frame: int
    time: float
    distance: int
    first_frame: int
    last_frame: int
    first_time: float
    last_time: float
    segment: tuple[Occurrence, Occurrence] | None = None


@dataclass(frozen=True)
class Loops:
    """Footage repeated inside one video: the groups, and their summaries for a person."""

    video: VideoRow
    groups: list[Group]
    summaries: list[LoopSummary]

    @property
    def coverage(self) -> float:
        """Fraction of the video that is repeated footage (0 when nothing repeats)."""
        return max((s.coverage for s in self.summaries), default=0.0)


@dataclass(frozen=True)
class WhereResult:
    query: FrameRef | None
    hits: list[Hit]
    note: str | None = None


@dataclass
class CheckReport:
    """`ok` when the database agrees with itself and the index with the database."""

    videos: int = 0
    frames: int = 0
    index_frames: int = 0
    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


ProgressFn = Callable[[str, int], None]
ResultFn = Callable[[IngestResult], None]


class FrameDB:
    """A framedb database: SQL rows (the truth) plus the FAISS index kept beside them."""

    def __init__(self, store: Store, index_path: Path, settings: dict[str, str], where: str):
        self.store = store
        self.index_path = index_path
        self.spec = HashSpec(settings["hash_kind"], int(settings["hash_size"]))
        self.database_id = settings["database_id"]
        self.location = where
        self._index: FrameIndex | None = None
        self._index_generation = -1
        self._index_version: int | None = None  # the database's data_version when cached
        self._watch: CommitWatch | None = None

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        target: str | os.PathLike[str] = DEFAULT_DB,
        *,
        hash_kind: str = "phash",
        hash_size: int = 8,
        index_path: str | os.PathLike[str] | None = None,
    ) -> FrameDB:
        """Open (creating if needed) a database: a file path for SQLite, or a SQLAlchemy URL.

        The hash settings apply when the database is created; an existing database keeps the
        settings it was built with.
        """
        from framedb.schema import ensure_schema

        text = os.fspath(target)
        if "://" in text:
            url, where = text, _hide_password(text)
            default_index = None  # a server database: cached per database id, below
        else:
            path = Path(text).expanduser().absolute()
            if path.is_dir():
                raise BadArgumentError(
                    f"{path}: is a folder; give a database file such as {path}/framedb.db"
                )
            if not path.parent.is_dir():
                raise BadArgumentError(f"{path}: folder {path.parent} does not exist")
            url, where, default_index = f"sqlite:///{path}", str(path), Path(f"{path}.faiss")
        spec = HashSpec(hash_kind, hash_size)
        engine = make_engine(url)
        try:
            ensure_schema(engine, where)
            store = Store(engine)
            settings = store.init_meta({"hash_kind": spec.kind, "hash_size": str(spec.size)})
        except SQLAlchemyError as exc:
            engine.dispose()
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            from framedb.store import no_space_left

            if "disk is full" in reason or ("://" not in text and no_space_left(path.parent)):
                raise DatabaseError(
                    f"{where}: cannot open: the disk is full; free some space, then run the "
                    "command again"
                ) from exc
            raise DatabaseError(f"{where}: cannot open as a framedb database ({reason})") from exc
        index = (
            Path(index_path)
            if index_path
            else default_index or index_cache_path(settings["database_id"])
        )
        return cls(store, index, settings, where)

    def close(self) -> None:
        self.store.engine.dispose()
        self._index = None
        if self._watch is not None:
            self._watch.close()

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
            if isinstance(name, int):
                found = self.store.videos(conn, [name])
                if found:
                    return found[0]
                raise VideoNotFoundError(
                    f"no video with id {name}; run `framedb videos` to list them"
                )
            raw = files.raw_path(Path(os.path.abspath(name)))
            row = self.store.video_by_path(conn, raw)
            if row:
                return row
            text = os.fspath(name)
            if text.isdigit():
                found = self.store.videos(conn, [int(text)])
                if found:
                    return found[0]
            same_name = [v for v in self.store.videos(conn) if Path(v.path).name == Path(text).name]
        if len(same_name) == 1:
            return same_name[0]
        if len(same_name) > 1:
            raise VideoNotFoundError(
                f"{text}: {len(same_name)} stored videos have this name; "
                "give the full path or the id"
            )
        raise VideoNotFoundError(
            f"{text}: not in the database; ingest it with `framedb ingest {text}` "
            "or run `framedb videos` to see what is stored"
        )

    def remove(self, name: str | os.PathLike[str] | int) -> VideoRow:
        """Delete a video, its frames and their index entries."""
        row = self.video(name)
        with (
            writer_lock(self),
            self._updating_index() as changes,
            self.store.writing() as conn,
        ):
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
        is updated. Each video is written in one transaction; the index is updated once at the end.
        Files are decoded in worker processes; one that makes no progress for `timeout` seconds
        (or crashes its decoder) fails alone. `cluster` (a Dask scheduler address, or "local" for
        `jobs` local Dask workers) decodes on a cluster instead; this process still stores.
        """
        from framedb.ingest import Ingest

        results: list[IngestResult] = []
        with writer_lock(self), self._updating_index() as changes:
            run = Ingest(self.store, self.spec, changes, on_progress)
            inputs = files.expand(list(paths))
            for result in run.run(inputs, jobs=jobs, timeout=timeout, cluster=cluster):
                results.append(result)
                if on_result:
                    on_result(result)
        return results

    # -- where -------------------------------------------------------------------------------
    def frame(self, video: str | os.PathLike[str] | int, frame: str | int) -> FrameRef:
        """Resolve a frame given as an ordinal (`120`) or a time (`12.5s`, `00:01:02.500`)."""
        row = self.video(video)
        ordinal = self._ordinal(row, frame)
        return FrameRef(row.path, row.id, ordinal, float(self._frame_at(row, ordinal).times[0]))

    def where(
        self,
        video: str | os.PathLike[str] | int,
        frame: str | int,
        *,
        radius: int = DEFAULT_RADIUS,
        limit: int | None = 20,
    ) -> WhereResult:
        """Every other place in the collection where this frame appears, nearest first."""
        row = self.video(video)
        ordinal = self._ordinal(row, frame)
        data = self._frame_at(row, ordinal)
        ref = FrameRef(row.path, row.id, ordinal, float(data.times[0]))
        if data.detail[0] < hashing.FLAT_DETAIL:
            return WhereResult(ref, [], _flat_note(f"frame {ordinal} of {row.path}"))
        hits = self._search(data.codes[0], radius, limit, exclude=(row.id, ordinal))
        return WhereResult(ref, hits)

    def where_segments(self, result: WhereResult) -> WhereResult:
        """The same hits, each extended from the matching frame to the whole shared segment
        (the query's side and the hit's side, aligned)."""
        from framedb.match import extend_occurrence

        if result.query is None or not result.hits:
            return result
        rows = {v.id: v for v in self.videos()}
        ids = sorted({result.query.video_id} | {h.video_id for h in result.hits})
        tracks = self.tracks([rows[i] for i in ids])
        params = self.match_params()
        hits = []
        for hit in result.hits:
            try:
                ends = extend_occurrence(
                    tracks[result.query.video_id],
                    result.query.frame,
                    tracks[hit.video_id],
                    hit.frame,
                    params,
                )
            except ValueError:  # the hit is the query frame itself, seen at another offset
                hits.append(hit)
                continue
            named = tuple(replace(o, video=rows[o.video_id].path) for o in ends)
            hits.append(replace(hit, segment=(named[0], named[1])))
        return replace(result, hits=hits)

    # -- loops and shared footage ------------------------------------------------------------
    def match_params(self, min_length: float | None = None) -> MatchParams:
        """The matcher's thresholds for this database's hash (defaults tuned on 64 bits)."""
        from framedb.match import MatchParams

        params = MatchParams().for_bits(self.spec.bits)
        if min_length is not None:
            if min_length < 0:
                raise BadArgumentError(f"--min-length {min_length}: give seconds >= 0")
            params = replace(params, min_length=min_length)
        return params

    def tracks(self, videos: Sequence[VideoRow] | None = None) -> dict[int, Track]:
        """Stored videos (all with frames, if None) as matching sees them, by video id."""
        from framedb.match import Track

        rows = self._matchable() if videos is None else list(videos)
        tracks = {}
        with self.store.reading() as conn:
            for row in rows:
                data = self.store.frames_of(conn, row.id, self.spec.nbytes)
                tracks[row.id] = Track(row.id, data.times, data.codes, data.detail)
        return tracks

    def loops(
        self, video: str | os.PathLike[str] | int, *, min_length: float | None = None
    ) -> Loops:
        """Footage that repeats inside one video, as groups and a summary per loop."""
        from framedb.match import find_groups, summarise_loops

        row = self.video(video)
        track = self.tracks([row])[row.id]
        groups = self._named(
            find_groups([track], self.match_params(min_length)), {row.id: row.path}
        )
        return Loops(row, groups, summarise_loops(track, groups))

    def matches(
        self,
        videos: Sequence[str | os.PathLike[str] | int | VideoRow] = (),
        *,
        min_length: float | None = None,
        params: MatchParams | None = None,
        tracks: dict[int, Track] | None = None,
    ) -> list[Group]:
        """Footage shared across the collection and inside videos, strongest first. With
        `videos`, only the groups that involve at least one of them (matched against everything).
        `tracks` lets a caller that has loaded them already pass them in."""
        from framedb.match import find_groups

        chosen = [v if isinstance(v, VideoRow) else self.video(v) for v in videos]
        rows = {v.id: v for v in self._matchable()} | {v.id: v for v in chosen}
        tracks = tracks if tracks is not None else self.tracks(list(rows.values()))
        found = find_groups(
            list(tracks.values()),
            params or self.match_params(min_length),
            only={v.id for v in chosen} if chosen else None,
        )
        return self._named(found, {i: v.path for i, v in rows.items()})

    def find(self, clip: str | os.PathLike[str], *, min_length: float | None = None) -> list[Group]:
        """Where the footage of `clip` (hashed, not stored) appears in the collection. The clip's
        occurrences have video id 0 and its path."""
        from framedb.extract import hash_video
        from framedb.match import Track, find_groups

        path = Path(clip)
        if not path.is_file():
            raise VideoNotFoundError(f"{path}: no such file")
        hashed = hash_video(path, self.spec)
        if not len(hashed):
            raise NotAVideoError(f"{path}: no frames could be decoded")
        probe = Track(0, hashed.times, hashed.codes, hashed.detail)
        params = self.match_params(min_length)
        rows = {v.id: v for v in self._matchable()}
        candidates = self._videos_near(probe, params)
        tracks = self.tracks([rows[i] for i in sorted(candidates) if i in rows])
        found = find_groups([probe, *tracks.values()], params, only={0})
        return self._named(found, {i: v.path for i, v in rows.items()} | {0: str(path)})

    def _videos_near(self, probe: Track, params: MatchParams) -> set[int]:
        """Ids of stored videos holding a frame within the seed radius of one of the probe's
        detailed frames: the only videos worth matching the probe against."""
        detailed = probe.codes[probe.detail >= params.min_detail]
        index = self.index()
        ids: list[np.ndarray] = []
        for code in np.unique(detailed, axis=0):
            ids.append(index.search_radius(code, params.radius)[0])
        if not ids:
            return set()
        with self.store.reading() as conn:
            found = self.store.frames_by_id(conn, np.unique(np.concatenate(ids)), self.spec.nbytes)
        return set(found.video_ids.tolist())

    def _matchable(self) -> list[VideoRow]:
        return [v for v in self.videos() if v.status in (DONE, PARTIAL) and v.frame_count]

    @staticmethod
    def _named(groups: list[Group], names: dict[int, str]) -> list[Group]:
        """The groups with each occurrence's video path filled in."""
        return [
            replace(
                g, occurrences=tuple(replace(o, video=names[o.video_id]) for o in g.occurrences)
            )
            for g in groups
        ]

    def where_image(
        self, image: str | os.PathLike[str], *, radius: int = DEFAULT_RADIUS, limit: int | None = 20
    ) -> WhereResult:
        """Where a picture (a screenshot, a thumbnail) appears in the collection."""
        from framedb.decode import grey_of_image

        grey = grey_of_image(Path(image))
        if hashing.detail(grey)[0] < hashing.FLAT_DETAIL:
            return WhereResult(None, [], _flat_note(str(image)))
        code = hashing.compute(grey, self.spec)[0]
        return WhereResult(None, self._search(code, radius, limit, exclude=None))

    def _search(
        self, code: np.ndarray, radius: int, limit: int | None, exclude: tuple[int, int] | None
    ) -> list[Hit]:
        if radius < 0 or radius > self.spec.bits:
            raise BadArgumentError(f"radius {radius} is outside 0..{self.spec.bits}")
        ids, dists = self.index().search_radius(code, radius)
        with self.store.reading() as conn:
            found = self.store.frames_by_id(conn, ids, self.spec.nbytes)
            names = {
                v.id: v.path for v in self.store.videos(conn, sorted(set(found.video_ids.tolist())))
            }
        distance = dict(zip(ids.tolist(), dists.tolist(), strict=True))
        hits = [
            Hit(names[vid], vid, *best, first, last, t_first, t_last)
            for vid, best, first, last, t_first, t_last in _runs(found, distance, exclude)
        ]
        hits.sort(key=lambda h: (h.distance, h.video_id, h.frame))
        return hits[:limit] if limit else hits

    def _frame_at(self, row: VideoRow, ordinal: int) -> FrameArrays:
        with self.store.reading() as conn:
            found = self.store.frame_at(conn, row.id, ordinal, self.spec.nbytes)
        if len(found.ids) != 1:
            raise FrameNotFoundError(f"{row.path}: frame {ordinal} is not stored")
        return found

    def _ordinal(self, row: VideoRow, frame: str | int) -> int:
        if row.frame_count == 0:
            raise FrameNotFoundError(f"{row.path}: no frames stored (status {row.status})")
        if isinstance(frame, int) or str(frame).strip().isdigit():
            ordinal = int(frame)
            if not 0 <= ordinal < row.frame_count:
                raise FrameNotFoundError(
                    f"{row.path}: frame {ordinal} is outside 0..{row.frame_count - 1}"
                )
            return ordinal
        seconds = parse_time(str(frame))
        with self.store.reading() as conn:
            ordinal = self.store.ordinal_at(conn, row.id, seconds + 1e-6, row.frame_count)
        start = float(self._frame_at(row, 0).times[0])
        if ordinal < 0 or seconds > start + row.duration:
            raise FrameNotFoundError(
                f"{row.path}: time {frame} is outside the video "
                f"({format_time(start)} to {format_time(start + row.duration)})"
            )
        return ordinal

    # -- the index ---------------------------------------------------------------------------
    def index(self) -> FrameIndex:
        """The index for the current generation: the one in memory or in its file, caught up
        with the videos added and removed since (framedb.catchup), or rebuilt from SQL."""
        index, worth_saving = self._current_index()
        if worth_saving:
            self._save_index(index)
        return index

    def _current_index(self) -> tuple[FrameIndex, bool]:
        """(index, whether it is worth saving: rebuilt from SQL, or caught up by many frames);
        caching it in memory."""
        from framedb import catchup

        rebuilt = False
        changed: int | None = 0
        if self._watch is None:
            self._watch = catchup.CommitWatch(self.store.engine)
        version = self._watch.version()  # before the generation: a commit between is seen next time
        if self._index is not None and version is not None and version == self._index_version:
            return self._index, False  # nothing committed since the index was current
        with self.store.reading() as conn:
            generation = self.store.generation(conn)
            if self._index is not None and self._index_generation == generation:
                self._index_version = version
                return self._index, False
            index = self._index
            self._index = None
            if index is None:
                index = FrameIndex.load_any(self.index_path, self.database_id, self.spec.bits)
            stale = index is not None and (
                index.manifest is None or index.manifest.generation != generation
            )
            if index is not None and stale:
                changed = catchup.catch_up(index, self.store, conn)
                if changed is None:
                    index = None
            if index is None:
                index = catchup.rebuild(self.store, conn, self.database_id, self.spec.bits)
                rebuilt = True
        self._index, self._index_generation = index, generation
        self._index_version = version
        return index, rebuilt or (changed or 0) > max(catchup.SAVE_AFTER, len(index) // 8)

    def _rebuild_index(self) -> tuple[FrameIndex, int]:
        from framedb import catchup

        with self.store.reading() as conn:
            index = catchup.rebuild(self.store, conn, self.database_id, self.spec.bits)
        self._save_index(index)
        generation = index.manifest.generation if index.manifest else -1
        self._index, self._index_generation = index, generation
        return index, generation

    def _save_index(self, index: FrameIndex) -> None:
        if index.manifest is None:
            return
        # In a read-only place the index still serves this process.
        with contextlib.suppress(OSError):
            index.save(self.index_path, index.manifest)

    def _updating_index(self) -> _IndexUpdate:
        return _IndexUpdate(self)

    # -- check -------------------------------------------------------------------------------
    def check(self, *, repair: bool = False) -> CheckReport:
        """Compare the database with itself and the index with the database."""
        from framedb.integrity import check

        return check(self, repair=repair)


class _IndexUpdate:
    """Collects frame ids added and removed by a writer, then brings the index up to date once."""

    def __init__(self, db: FrameDB) -> None:
        self.db = db
        self.added: list[tuple[np.ndarray, np.ndarray]] = []
        self.removed: list[np.ndarray] = []

    def __enter__(self) -> _IndexUpdate:
        with self.db.store.reading() as conn:
            self.start = self.db.store.generation(conn)
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.added and not any(len(r) for r in self.removed):
            return
        from framedb import catchup

        db = self.db
        with db.store.reading() as conn:
            generation = db.store.generation(conn)
            held = catchup.stored_videos(conn)
        if generation == self.start:  # the changes were rolled back (every commit bumps it)
            return
        index = FrameIndex.load(db.index_path, db.database_id, self.start, db.spec.bits)
        if index is None and self.start == 0:  # a new database: nothing to read back
            index = FrameIndex(db.spec.bits)
        if index is not None:  # apply what this writer did, in memory, without reading it back
            for ids in self.removed:
                index.remove(ids)
            for ids, codes in self.added:
                index.add(ids, codes)
            index.manifest = Manifest(db.database_id, generation, len(index), db.spec.bits, held)
            if len(index) != sum(n for _, _, n, _ in held):
                index = None
        if index is None:  # the file is older (or gone): catch it up from SQL, or rebuild
            db._index = None
            index, _ = db._current_index()
        db._save_index(index)
        db._index, db._index_generation = index, generation


def _runs(
    found: FrameArrays, distance: dict[int, int], exclude: tuple[int, int] | None
) -> Iterable[tuple[int, tuple[int, float, int], int, int, float, float]]:
    """Group matching frames into runs of near-consecutive ordinals per video; name each run's
    best (nearest) frame."""
    keep = found.detail >= hashing.FLAT_DETAIL
    order = np.lexsort((found.ordinals[keep], found.video_ids[keep]))
    vids = found.video_ids[keep][order]
    ords = found.ordinals[keep][order]
    times = found.times[keep][order]
    dist = np.array([distance[i] for i in found.ids[keep][order].tolist()], dtype=np.int64)
    if not len(vids):
        return
    breaks = np.flatnonzero((np.diff(vids) != 0) | (np.diff(ords) > RUN_GAP)) + 1
    for lo, hi in zip(np.r_[0, breaks], np.r_[breaks, len(vids)], strict=True):
        vid = int(vids[lo])
        if exclude and vid == exclude[0] and ords[lo] <= exclude[1] <= ords[hi - 1]:
            continue
        ties = np.flatnonzero(dist[lo:hi] == dist[lo:hi].min())
        best = lo + int(ties[len(ties) // 2])  # slow footage ties; the middle one is likeliest
        yield (
            vid,
            (int(ords[best]), float(times[best]), int(dist[best])),
            int(ords[lo]),
            int(ords[hi - 1]),
            float(times[lo]),
            float(times[hi - 1]),
        )


def _flat_note(what: str) -> str:
    return (
        f"{what} has almost no detail (black, flat or fading); such frames match everything, "
        "so framedb does not search for them. Pick a frame with more picture."
    )


def _hide_password(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:\.\d*)?)$")


def parse_time(text: str) -> float:
    """`12.5s`, `12.5`, `01:02.5` or `00:01:02.500` -> seconds."""
    value = text.strip()
    try:
        if value.endswith("s"):
            return float(value[:-1])
        match = _CLOCK.match(value)
        if match:
            hours, minutes, seconds = match.groups()
            return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
        return float(value)
    except ValueError:
        pass
    raise BadArgumentError(f"frame {text!r}: give an ordinal (120) or a time (12.5s, 00:01:02.500)")


def format_time(seconds: float) -> str:
    """Seconds -> `HH:MM:SS.ss`."""
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{int(hours):02d}:{int(minutes):02d}:{secs:05.2f}"


__all__ = [
    "CheckReport",
    "FrameDB",
    "FrameRef",
    "Hit",
    "IngestResult",
    "Loops",
    "WhereResult",
    "format_time",
    "parse_time",
]
