"""What `where` answers with: single-frame hits grouped into occurrences (matching frames of one
video at most RUN_GAP ordinals apart are one run, named by its nearest frame)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from framedb.errors import FrameNotFoundError
from framedb.hashing import FLAT_DETAIL
from framedb.match.align import extend_occurrence
from framedb.match.tracks import MatchParams, Occurrence, Track, format_time, parse_time
from framedb.store.index import FrameIndex
from framedb.store.rows import Store
from framedb.store.tables import FrameArrays, VideoRow

# Matching frames of one video at most this many ordinals apart belong to one occurrence: a frame
# or two just over the radius (compression noise) must not split it.
RUN_GAP = 4


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
    mirrored: bool = False  # the hit shows the query's picture mirrored

    def as_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "video": self.video,
            "frame": self.frame,
            "time": self.time,
            "distance": self.distance,
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "first_time": self.first_time,
            "last_time": self.last_time,
        }
        if self.mirrored:
            doc["mirrored"] = True
        return doc | ({"segment": [o.as_dict() for o in self.segment]} if self.segment else {})


@dataclass(frozen=True)
class WhereResult:
    """The hits of one query: a stored frame (`query`), or a picture (`query` None)."""

    query: FrameRef | None
    hits: list[Hit]
    note: str | None = None

    def as_dict(self, image: str | None = None) -> dict[str, Any]:
        """The JSON form `framedb where --json` prints; `image` names a picture query."""
        query = self.query
        doc: dict[str, Any] = {
            "query": {"video": query.video, "frame": query.frame, "time": query.time}
            if query
            else {"image": image},
            "hits": [h.as_dict() for h in self.hits],
        }
        return doc | ({"note": self.note} if self.note else {})

    def text(self, image: str | None = None) -> str:
        """The hits as `framedb where` prints them; `image` names a picture query."""
        if self.note:
            return self.note
        query = self.query
        what = (
            f"frame {query.frame} ({format_time(query.time)}) of {query.video}"
            if query
            else str(image)
        )
        if not self.hits:
            return f"{what}: appears nowhere else"
        lines = [f"{what} appears {len(self.hits)} more time(s):"]
        for h in self.hits:
            if h.segment:
                q, o = h.segment
                lines.append(
                    f"  d={h.distance:<3} {o.span()}  {h.video}  (= {q.span()} of the query)"
                )
            else:
                lines.append(
                    f"  d={h.distance:<3} {format_time(h.time)}  frame {h.frame:<7} "
                    f"(frames {h.first_frame}-{h.last_frame})  {h.video}"
                    + ("  (mirrored)" if h.mirrored else "")
                )
        return "\n".join(lines)


def hit_runs(
    found: FrameArrays, distance: dict[int, int], exclude: tuple[int, int] | None
) -> Iterable[tuple[int, tuple[int, float, int], int, int, float, float]]:
    """Group matching frames into runs of near-consecutive ordinals per video; name each run's
    best (nearest) frame."""
    keep = found.detail >= FLAT_DETAIL
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


def hits_of(
    found: FrameArrays,
    distance: dict[int, int],
    names: dict[int, str],
    exclude: tuple[int, int] | None,
    *,
    mirrored: bool = False,
) -> list[Hit]:
    """The hits among `found` (frames within the radius, `distance` by frame id), one per run,
    nearest first; the run holding `exclude` (video id, ordinal: the query itself) is left out.
    `mirrored`: they were found with the query's mirrored hash."""
    hits = [
        Hit(names[vid], vid, *best, first, last, t_first, t_last, mirrored=mirrored)
        for vid, best, first, last, t_first, t_last in hit_runs(found, distance, exclude)
    ]
    hits.sort(key=lambda h: (h.distance, h.video_id, h.frame))
    return hits


def search(
    index: FrameIndex,
    store: Store,
    code: np.ndarray,
    radius: int,
    mirror: np.ndarray | None,
    exclude: tuple[int, int] | None,
) -> list[Hit]:
    """The hits of one code within `radius` (and, with the hash's `mirror` mask, of its mirrored
    form), one per run of frames, nearest first; the run holding `exclude` is left out."""
    queries = [code] if mirror is None else [code, code ^ mirror]
    found = []
    with store.reading() as conn:
        for k, query in enumerate(queries):
            ids, dists = index.search_radius(query, radius)
            rows = store.frames_by_id(conn, ids, len(code))
            names = {v.id: v.path for v in store.videos(conn, sorted(set(rows.video_ids.tolist())))}
            distance = dict(zip(ids.tolist(), dists.tolist(), strict=True))
            found.append(hits_of(rows, distance, names, exclude, mirrored=k == 1))
    return merged(found[0], found[1] if len(found) > 1 else [])


def merged(plain: list[Hit], mirrored: list[Hit]) -> list[Hit]:
    """Hits found with the hash and with its mirrored form, nearest first; a mirrored hit over
    frames a plain one already covers (a picture that looks like its own mirror) is left out."""
    covered = {(h.video_id, h.first_frame, h.last_frame) for h in plain}
    spans: dict[int, list[tuple[int, int]]] = {}
    for vid, lo, hi in covered:
        spans.setdefault(vid, []).append((lo, hi))
    extra = [
        h
        for h in mirrored
        if not any(
            lo <= h.last_frame and h.first_frame <= hi for lo, hi in spans.get(h.video_id, [])
        )
    ]
    return sorted(plain + extra, key=lambda h: (h.distance, h.video_id, h.frame))


def extend_hits(
    result: WhereResult,
    tracks: dict[int, Track],
    names: dict[int, str],
    params: MatchParams,
    mirror: np.ndarray | None = None,
) -> WhereResult:
    """`result` with each hit grown from its matching frame into the pair of occurrences it
    belongs to (the query's side, the hit's side), where it is not the query frame itself; a
    mirrored hit on the mirrored view of its video (`mirror`: the hash's mirror mask)."""
    query = result.query
    if query is None:
        return result
    hits = []
    for hit in result.hits:
        other = tracks[hit.video_id]
        if hit.mirrored and mirror is not None:
            other = other.view(mirror=mirror) or other
        try:
            ends = extend_occurrence(tracks[query.video_id], query.frame, other, hit.frame, params)
        except ValueError:  # the hit is the query frame itself, seen at another offset
            hits.append(hit)
            continue
        named = tuple(replace(o, video=names[o.video_id]) for o in ends)
        hits.append(replace(hit, segment=(named[0], named[1])))
    return replace(result, hits=hits)


def videos_near(
    indexes: tuple[FrameIndex, FrameIndex],
    store: Store,
    probe: Track,
    params: MatchParams,
    mirror: np.ndarray | None,
) -> set[int]:
    """Ids of stored videos holding a frame within the seed radius of one of the probe's
    detailed frames, as the matcher's views see them: the only videos worth matching the probe
    against (`find`). `indexes`: of the stored hashes and of the stored inner hashes. The
    probe's hashes, inner and middle hashes (and, with a mirror mask, all mirrored) are looked up
    among the hashes and among the inner hashes (the probe shows a part of a stored picture, or
    both show the same part: a caption or a logo hides the edges of both; the middle of a source
    is a copy cropped to 90 %, the middle of that copy the source's inner box); so are its two
    turned hashes, not mirrored (framedb.turned: a source turned as a stored copy was is near its
    hashes, a copy turned back near its source's inner hashes). Middle and turned hashes are not
    indexed: of two videos, the one looked up later finds the other by its own. Only detailed
    stored frames count, so that "near" is symmetric between two stored videos."""
    detailed = probe.detail >= params.min_detail
    views = [probe.codes[detailed]]
    views += [part[detailed] for part in (probe.inner, probe.mid) if part is not None]
    if mirror is not None:
        views += [v ^ mirror for v in views]
    if probe.turned is not None:
        half = probe.codes.shape[1]
        views += [probe.turned[detailed, :half], probe.turned[detailed, half:]]
    codes = np.concatenate(views)
    ids = [index.near_ids(codes, params.radius) for index in indexes if len(index) and len(codes)]
    if not ids:
        return set()
    with store.reading() as conn:
        found = store.frames_by_id(conn, np.unique(np.concatenate(ids)), probe.codes.shape[1])
    return set(found.video_ids[found.detail >= params.min_detail].tolist())


def frame_at(store: Store, row: VideoRow, ordinal: int, nbytes: int) -> FrameArrays:
    """One stored frame of `row`, or FrameNotFoundError."""
    with store.reading() as conn:
        found = store.frame_at(conn, row.id, ordinal, nbytes)
    if len(found.ids) != 1:
        raise FrameNotFoundError(f"{row.path}: frame {ordinal} is not stored")
    return found


def ordinal_of(store: Store, row: VideoRow, frame: str | int, nbytes: int) -> int:
    """The ordinal of a frame of `row` given as an ordinal (`120`) or a time (`12.5s`,
    `00:01:02.500`); FrameNotFoundError, saying the video's range, outside it."""
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
    with store.reading() as conn:
        ordinal = store.ordinal_at(conn, row.id, seconds + 1e-6, row.frame_count)
    start = float(frame_at(store, row, 0, nbytes).times[0])
    if ordinal < 0 or seconds > start + row.duration:
        raise FrameNotFoundError(
            f"{row.path}: time {frame} is outside the video "
            f"({format_time(start)} to {format_time(start + row.duration)})"
        )
    return ordinal


def flat_note(what: str) -> str:
    """Why `where` does not search for a frame with almost no detail."""
    return (
        f"{what} has almost no detail (black, flat or fading); such frames match everything, "
        "so framedb does not search for them. Pick a frame with more picture."
    )
