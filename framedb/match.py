"""Matching: seed, align, extend (DESIGN.md section 4). Pure: numpy arrays in, typed results out.

Single-frame matches are seeds, not answers:

1. Seeds. Detailed frames are collapsed into runs of equal codes; the distinct codes are joined
   once (`near_pairs`, multi-index hashing); each run is linked to the nearest following
   repetition of a near code in its own video (at least min_gap later) and, if it repeats nothing
   earlier there, to the first one in the next video that has it. A clip repeated 3000 times is
   a chain of 2999 links, and footage shared by many videos a chain from each to the next.
2. Align. Seeds of a pair of videos are binned by time offset t_b - t_a (timestamps, not
   ordinals: a 25 and a 30 fps copy align), chained along time, the offset refined to a quarter
   of a frame, and the run extended frame by frame both ways with the looser extend_radius.
3. Check. A pair segment is kept when it is long enough, typically within the seed radius, and
   specific: the footage moves, so the aligned pictures beat those half a second off (a still
   shot or a talking head matched against itself is not a loop). Nearby offsets over the same
   frames are shadows of one alignment and are not extended twice.
4. Group. Every pair segment cuts both videos at its ends and carries each cut across to the
   other side; the pieces each segment maps onto each other are joined (union-find) into groups
   whose occurrences show the same footage aligned at their starts. A loop is one group with one
   occurrence per repetition.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import math
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from framedb import mih
from framedb.cores import available_cores
from framedb.hashing import FLAT_DETAIL, hamming

DEFAULT_STEP = 1 / 25  # frame duration assumed for a track of fewer than two frames
BRUTE_MAX = 2048  # below this many codes the all-pairs join is a plain blockwise comparison
MAX_PROBES = 4096  # cap on flipped-bit probes per chunk in the multi-index join
DIRECT_BITS = 22  # chunks up to this wide are looked up in a table (2**22 entries, 32 MB)
EXPAND_CHUNK = 1 << 21  # (run, near code) expansions materialised at a time
SETTLE_FRAMES = 8  # how far a single hit may sit from its true alignment (where --segments)
JOIN_THREADS = 4  # threads of the all-pairs join, at most (and at most the cores allowed)
SAME_DIAGONAL = 3.0  # offsets this many frames apart over the same frames are one diagonal


@dataclass(frozen=True, eq=False)
class Track:
    """One video as matching sees it: per frame (ordinal = position) time in seconds, packed
    hash, detail. Compared by identity (it holds arrays)."""

    video_id: int
    times: np.ndarray
    codes: np.ndarray
    detail: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.times)
        if self.times.ndim != 1 or self.detail.shape != (n,):
            raise ValueError(f"video {self.video_id}: times and detail must be 1-D of equal length")
        if self.codes.ndim != 2 or self.codes.shape[0] != n or self.codes.dtype != np.uint8:
            raise ValueError(f"video {self.video_id}: codes must be uint8 of shape (frames, bytes)")
        if n > 1 and np.any(np.diff(self.times) < 0):
            raise ValueError(f"video {self.video_id}: frame times must be in presentation order")

    def __len__(self) -> int:
        return len(self.times)

    @functools.cached_property
    def step(self) -> float:
        """The typical frame duration (median positive gap between frame times)."""
        gaps = np.diff(self.times)
        gaps = gaps[gaps > 0]
        return float(np.median(gaps)) if len(gaps) else DEFAULT_STEP

    @property
    def duration(self) -> float:
        """Seconds from the first frame to the end of the last one."""
        if not len(self.times):
            return 0.0
        return float(self.times[-1] - self.times[0]) + self.step


@dataclass(frozen=True)
class MatchParams:
    """Thresholds of the matcher (distances in bits, times in seconds).

    The defaults are for 64-bit phash and come from `benchmarks/accuracy.py --sweep`: re-encoded
    and rescaled copies stay within 8 bits of each other for nearly every frame (phash distances
    are even), unrelated frames sit near 32.

    radius: seed radius (d <= radius); a segment's median distance must not exceed it either.
    extend_radius: per-frame threshold when extending along a known alignment.
    min_length: shorter shared segments are dropped.
    min_gap: pairs inside one video closer than this are ignored; also the shortest loop period.
    min_detail: frames with less detail (flat, black, the end of a fade) never seed.
    max_gap: unmatched frames a chain of seeds or an extension may cross.
    min_seeds: seeds on one diagonal before it is worth extending.
    min_motion, motion_lag: for a quarter of a segment's frames the aligned picture must be
        min_motion bits closer than the pictures motion_lag seconds off (footage that moves; a
        still shot or a talking head matches itself at any offset).
    min_piece: shorter groups (slivers left where segments cut each other) are dropped.
    seed_window: after a run's nearest repetition, how far to look for a closer code (at most
        min_gap / 2, so that it never reaches the repetition after).
    """

    radius: int = 8
    extend_radius: int = 14
    min_length: float = 1.0
    min_gap: float = 1.0
    min_detail: float = FLAT_DETAIL
    max_gap: float = 0.5
    min_seeds: int = 3
    min_motion: int = 8
    motion_lag: float = 0.5
    min_piece: float = 0.2
    seed_window: float = 0.5

    def __post_init__(self) -> None:
        if self.radius < 0 or self.extend_radius < self.radius:
            raise ValueError(
                f"radius {self.radius} and extend_radius {self.extend_radius}: "
                "use 0 <= radius <= extend_radius"
            )
        if self.min_gap <= 0 or self.motion_lag <= 0:
            raise ValueError("min_gap and motion_lag must be > 0 seconds")
        if min(self.min_length, self.max_gap, self.min_piece, self.seed_window) < 0:
            raise ValueError("min_length, max_gap, min_piece and seed_window must be >= 0")
        if self.min_seeds < 1 or self.min_motion < 0:
            raise ValueError("min_seeds must be >= 1 and min_motion >= 0")

    def for_bits(self, bits: int) -> MatchParams:
        """These thresholds (tuned for 64-bit hashes) scaled to a hash of `bits` bits."""
        if bits == 64:
            return self
        ratio = bits / 64
        radius = max(0, int(round(self.radius * ratio)))
        return dataclasses.replace(
            self,
            radius=radius,
            extend_radius=max(radius, max(1, int(round(self.extend_radius * ratio)))),
            min_motion=max(1, int(round(self.min_motion * ratio))),
        )


@dataclass(frozen=True)
class Occurrence:
    """One place a piece of footage appears: inclusive frame ordinals and their times. `video` is
    the video's path, filled in by the API (matching itself knows only ids)."""

    video_id: int
    start_frame: int
    end_frame: int
    start_time: float
    end_time: float
    video: str = field(default="", compare=False)


@dataclass(frozen=True)
class Group:
    """The same footage in >= 2 places, aligned at their starts, sorted by (video_id, start_frame).

    `frames` is the length of the first occurrence; `duration` is its end_time - start_time plus one
    frame duration, so back-to-back repetitions have duration == period.
    """

    occurrences: tuple[Occurrence, ...]
    frames: int
    duration: float


@dataclass(frozen=True)
class LoopSummary:
    """Footage repeated inside one video, as a person would describe it.

    `start_time`..`end_time` is the first occurrence (inclusive frame times); `repeats` counts the
    occurrences of its start (the last repetition may be cut short); `period` is the median time
    between successive starts; `coverage` the fraction of the video covered by all repetitions.
    """

    start_time: float
    end_time: float
    repeats: int
    period: float
    coverage: float

    def text(self) -> str:
        """E.g. '00:00:04.00–00:00:30.84 repeats 3 times, period 26.88 s, 95 % of the video'."""
        return (
            f"{format_time(self.start_time)}–{format_time(self.end_time)} repeats "
            f"{self.repeats} times, period {self.period:.2f} s, "
            f"{self.coverage * 100:.0f} % of the video"
        )

    def __str__(self) -> str:
        return self.text()


def format_time(seconds: float) -> str:
    """Seconds as hh:mm:ss.cc (hundredths), the form loop summaries use."""
    cs = int(round(max(0.0, seconds) * 100))
    hours, rest = divmod(cs, 360000)
    minutes, rest = divmod(rest, 6000)
    return f"{hours:02d}:{minutes:02d}:{rest // 100:02d}.{rest % 100:02d}"


# ---------------------------------------------------------------------------------------------
# The all-pairs join of codes


def near_pairs(codes: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair i < j of rows of `codes` (packed bits) within `radius` bits.

    Returns (i, j, distance), sorted by (i, j). Small inputs are compared blockwise; larger ones by
    multi-index hashing: split the bits into m chunks; a pair within r bits differs in at most
    r // m bits of some chunk (pigeonhole), so probing each chunk's exact key with up to r // m
    flipped bits finds every pair, which is then verified on the full code.
    """
    codes = np.ascontiguousarray(codes)
    if codes.ndim != 2 or codes.dtype != np.uint8:
        raise ValueError(f"codes must be a uint8 array (n, bytes), got {codes.dtype} {codes.shape}")
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    n = codes.shape[0]
    if n < 2:
        empty = np.empty(0, np.int64)
        return empty, empty.copy(), np.empty(0, np.int32)
    plan = mih.plan(n, codes.shape[1] * 8, radius, MAX_PROBES)
    if n <= BRUTE_MAX or plan is None or plan[2] > n * n:
        return _brute_pairs(codes, radius)
    return _mih_pairs(codes, radius, plan[0], plan[1])


def _brute_pairs(codes: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n, nbytes = codes.shape
    rows = max(1, (1 << 22) // (n * nbytes))
    found_i, found_j, found_d = [], [], []
    for s in range(0, n, rows):
        dist = hamming(codes[s : s + rows, None, :], codes[None, s:, :])
        i, j = np.nonzero(dist <= radius)
        keep = j > i
        found_i.append(i[keep] + s)
        found_j.append(j[keep] + s)
        found_d.append(dist[i[keep], j[keep]])
    return _sorted_pairs(np.concatenate(found_i), np.concatenate(found_j), np.concatenate(found_d))


def _sorted_pairs(
    i: np.ndarray, j: np.ndarray, d: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.lexsort((j, i))
    return i[order].astype(np.int64), j[order].astype(np.int64), d[order].astype(np.int32)


def _mih_pairs(
    codes: np.ndarray, radius: int, chunks: int, flips: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n, nbytes = codes.shape
    bits = np.unpackbits(codes, axis=1)
    words = codes.view(np.uint64) if nbytes % 8 == 0 else None
    index = np.int32 if n < 1 << 31 else np.int64  # row numbers: half the bytes to move
    edges = np.linspace(0, nbytes * 8, chunks + 1).round().astype(int)
    found: list[np.ndarray] = []
    # numpy releases the GIL in the gathers, sorts and ufuncs that make up a block, so blocks of
    # rows run side by side on the cores this process may use.
    with ThreadPoolExecutor(max(1, min(JOIN_THREADS, available_cores()))) as pool:
        for c in range(chunks):
            width = int(edges[c + 1] - edges[c])
            # Signed keys and masks: table indexes as they are, one order for probes and keys.
            keys = mih.chunk_keys(bits[:, edges[c] : edges[c + 1]]).astype(np.intp)
            order = np.argsort(keys, kind="stable").astype(index)
            chunk = _Chunk(keys, order, _Buckets(keys[order], width), flips, width, index)
            rows = max(1, (1 << 20) // len(chunk.masks))
            blocks = [(s, min(n, s + rows)) for s in range(0, n, rows)]
            found += pool.map(lambda b, ch=chunk: ch.pairs(b, codes, words, radius), blocks)
    pairs = _distinct(np.concatenate(found)) if found else np.empty(0, np.int64)
    i, j = pairs // n, pairs % n
    return i, j, hamming(codes[i], codes[j])


class _Chunk:
    """One chunk of the multi-index join: every row's key, the rows in key order, their buckets,
    and the flip masks that probe them."""

    def __init__(
        self,
        keys: np.ndarray,
        order: np.ndarray,
        bucket: _Buckets,
        flips: int,
        width: int,
        index: type,
    ) -> None:
        self.keys, self.order, self.bucket, self.index = keys, order, bucket, index
        self.masks = mih.flip_masks(width, flips).astype(np.intp)
        self.flipped = self.masks != 0

    def pairs(
        self,
        block: tuple[int, int],
        codes: np.ndarray,
        words: np.ndarray | None,
        radius: int,
    ) -> np.ndarray:
        """i * n + j (i < j) of the pairs within `radius` found from rows block[0]..block[1]."""
        s, stop = block
        n, m, index = len(self.keys), len(self.masks), self.index
        own = self.keys[s:stop, None]
        probe = own ^ self.masks[None, :]
        # Each pair of rows whose keys differ is probed from the row with the smaller key only
        # (half the probes and candidates); rows with equal keys find each other once.
        upward = np.flatnonzero(probe >= own)
        lo, count = self.bucket.find(probe.ravel()[upward])
        hit = np.flatnonzero(count)  # most probes find an empty bucket
        lo, count = lo[hit].astype(index), count[hit].astype(index)
        at = upward[hit]  # row-major: row s + at // m, mask at % m
        i: np.ndarray = np.repeat((s + at // m).astype(index), count)
        j = self.order[mih.ragged(lo, count)]
        ok = _within(codes, words, i, j, radius)  # verify first (few pass), then sort out
        i, j = i[ok].astype(np.int64), j[ok].astype(np.int64)
        keep = np.repeat(self.flipped[at % m], count)[ok] | (j > i)
        i, j = i[keep], j[keep]
        return _distinct(np.minimum(i, j) * n + np.maximum(i, j))


def _within(
    codes: np.ndarray, words: np.ndarray | None, i: np.ndarray, j: np.ndarray, radius: int
) -> np.ndarray:
    """Whether rows i and j of `codes` are within `radius` bits: one popcount per 64-bit word
    when the codes are whole words (the same distances as `hamming`, several times faster)."""
    if words is None:
        return hamming(codes[i], codes[j]) <= radius
    if words.shape[1] == 1:
        flat = words.ravel()
        return np.bitwise_count(flat[i] ^ flat[j]) <= radius
    return np.bitwise_count(words[i] ^ words[j]).sum(axis=1, dtype=np.int32) <= radius


class _Buckets:
    """Where each key's run begins in sorted keys, and how long it is: a direct-address table
    for keys of up to DIRECT_BITS bits (one gather per probe), binary search beyond."""

    def __init__(self, sorted_keys: np.ndarray, width: int) -> None:
        self.sorted_keys = sorted_keys
        self.start: np.ndarray | None = None
        if width <= DIRECT_BITS:
            # One table of run starts (a key's run ends where the next key's begins): a probe
            # reads two neighbouring entries, one cache line, instead of two tables.
            count = np.bincount(sorted_keys.astype(np.intp), minlength=1 << width)
            kind = np.int32 if len(sorted_keys) < 1 << 31 else np.int64
            self.start = np.zeros((1 << width) + 1, kind)
            np.cumsum(count, out=self.start[1:])

    def find(self, probe: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(first position, number) of the sorted keys equal to each probe."""
        if self.start is not None:
            probe = probe.astype(np.intp, copy=False)
            lo = self.start[probe]
            return lo.astype(np.int64), (self.start[probe + 1] - lo).astype(np.int64)
        lo = np.searchsorted(self.sorted_keys, probe, "left")
        return lo, np.searchsorted(self.sorted_keys, probe, "right") - lo


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an integer array (a plain sort: faster here than np.unique)."""
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


# ---------------------------------------------------------------------------------------------
# Seeds: runs of equal codes, linked to their nearest repetitions


@dataclass(frozen=True)
class _Runs:
    """Runs of consecutive equal, detailed codes over all tracks, in (track, time) order."""

    track: np.ndarray  # track position
    frame: np.ndarray  # first ordinal of the run
    time: np.ndarray
    code: np.ndarray  # id into `codes`
    offsets: np.ndarray  # run index where each track begins (len = tracks + 1)
    codes: np.ndarray  # the distinct codes


def _runs(tracks: Sequence[Track], min_detail: float) -> _Runs:
    frames, owners, counts = [], [], [0]
    for k, track in enumerate(tracks):
        ok = track.detail >= min_detail
        same = np.zeros(len(track), bool)
        if len(track) > 1:
            same[1:] = ok[1:] & ok[:-1] & np.all(track.codes[1:] == track.codes[:-1], axis=1)
        head = np.flatnonzero(ok & ~same)
        frames.append(head)
        owners.append(np.full(len(head), k, np.int64))
        counts.append(len(head))
    frame = np.concatenate(frames).astype(np.int64)
    track_of = np.concatenate(owners)
    nbytes = tracks[0].codes.shape[1]
    raw = (
        np.concatenate([t.codes[f] for t, f in zip(tracks, frames, strict=True)])
        if len(frame)
        else np.empty((0, nbytes), np.uint8)
    )
    view = np.ascontiguousarray(raw).view(np.dtype((np.void, nbytes))).ravel()
    distinct, code = np.unique(view, return_inverse=True)
    times = np.concatenate([t.times[f] for t, f in zip(tracks, frames, strict=True)])
    return _Runs(
        track=track_of,
        frame=frame,
        time=times.astype(np.float64),
        code=code.ravel().astype(np.int64),
        offsets=np.cumsum(counts).astype(np.int64),
        codes=distinct.view(np.uint8).reshape(-1, nbytes),
    )


@dataclass(frozen=True)
class _Linker:
    """Runs sorted by (code, run index) with their near codes: finds the first run of a code at
    or after a given run index in one binary search."""

    runs: _Runs
    order: np.ndarray  # run indices sorted by (code, run index)
    keys: np.ndarray  # code * runs + run index, in that order
    first: np.ndarray  # per code: where its runs begin in `order`
    count: np.ndarray  # per code: how many runs it has
    src: np.ndarray  # ordered near-code pairs (src -> dst at distance dist), sorted by src
    dst: np.ndarray
    dist: np.ndarray

    @classmethod
    def build(cls, runs: _Runs, radius: int) -> _Linker:
        total, nc = len(runs.code), len(runs.codes)
        iu, iv, dd = near_pairs(runs.codes, radius)
        ids = np.arange(nc, dtype=np.int64)
        src = np.concatenate([iu, iv, ids])
        by_src = np.argsort(src, kind="stable")
        order = np.lexsort((np.arange(total), runs.code))
        return cls(
            runs=runs,
            order=order,
            keys=runs.code[order] * total + order,
            first=np.searchsorted(runs.code[order], ids),
            count=np.bincount(runs.code, minlength=nc),
            src=src[by_src],
            dst=np.concatenate([iv, iu, ids])[by_src],
            dist=np.concatenate([dd, dd, np.zeros(nc, np.int32)])[by_src],
        )

    def links(
        self, start: np.ndarray, stop: np.ndarray | None, allowed: np.ndarray, params: MatchParams
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per allowed run x and near code v: the first run y of v with start[x] <= y (< stop[x]);
        then the closest per (x, track of y). Expands a bounded number of (run, code) at a time,
        always whole codes, so every run's candidates are reduced together."""
        total = len(self.runs.code)
        sizes = np.cumsum(self.count[self.src])
        code_end = np.flatnonzero(np.r_[self.src[1:] != self.src[:-1], True]) + 1
        parts = []
        lo = 0
        while lo < len(self.src):
            done = int(sizes[lo - 1]) if lo else 0
            target = max(int(np.searchsorted(sizes, done + EXPAND_CHUNK)), lo + 1)
            hi = int(code_end[min(int(np.searchsorted(code_end, target)), len(code_end) - 1)])
            pair = np.repeat(np.arange(lo, hi), self.count[self.src[lo:hi]])
            x = self.order[mih.ragged(self.first[self.src[lo:hi]], self.count[self.src[lo:hi]])]
            keep = allowed[x]
            pair, x = pair[keep], x[keep]
            v = self.dst[pair]
            pos = np.searchsorted(self.keys, v * total + start[x])
            y = self.order[np.minimum(pos, total - 1)]
            hit = (pos < total) & (self.runs.code[y] == v)
            if stop is not None:
                hit &= y < stop[x]
            parts.append(_closest_links(self.runs, x[hit], y[hit], self.dist[pair[hit]], params))
            lo = hi
        return _stack(parts)


def _seeds(runs: _Runs, params: MatchParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seed pairs of runs (x, y, distance), x before y in (track, time) order.

    For every distinct code v within the radius of its own code, run x is linked to the first run
    of v at least min_gap later in its own track (its nearest repetition) and, unless x repeats
    something earlier in its track, to the first run of v in the next track that has v. Per
    partner track only the closest code within `seed_window` of the earliest link is kept. Costs
    runs x near codes, never the square of the repetitions: a loop is a chain of links.
    """
    total = len(runs.code)
    linker = _Linker.build(runs, params.radius)
    track_end = runs.offsets[runs.track + 1]
    everyone = np.ones(total, bool)
    sx, sy, sd = linker.links(_same_track_from(runs, params.min_gap), track_end, everyone, params)
    if len(runs.offsets) <= 2:
        return sx, sy, sd
    first_showing = np.ones(total, bool)
    first_showing[sy] = False
    ox, oy, od = linker.links(track_end, None, first_showing, params)
    return np.concatenate([sx, ox]), np.concatenate([sy, oy]), np.concatenate([sd, od])


def _stack(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not parts:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int32)
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
    )


def _same_track_from(runs: _Runs, min_gap: float) -> np.ndarray:
    """For each run, the first run index of its track at least min_gap later."""
    out = np.empty(len(runs.code), np.int64)
    for k in range(len(runs.offsets) - 1):
        lo, hi = runs.offsets[k], runs.offsets[k + 1]
        t = runs.time[lo:hi]
        out[lo:hi] = lo + np.searchsorted(t, t + min_gap - 1e-9, "left")
    return out


def _closest_links(
    runs: _Runs, x: np.ndarray, y: np.ndarray, d: np.ndarray, params: MatchParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per run, in the first partner track only: the closest link within seed_window of the
    earliest one. (One partner track per run keeps footage shared by many videos a chain of
    links from each video to the next, not links between every two of them.)"""
    ty, time_y = runs.track[y], runs.time[y]
    order = np.lexsort((time_y, ty, x))
    x, y, d, ty, time_y = x[order], y[order], d[order], ty[order], time_y[order]
    first_of_run = np.ones(len(x), bool)
    first_of_run[1:] = x[1:] != x[:-1]
    nearest = ty == ty[first_of_run][np.cumsum(first_of_run) - 1]
    x, y, d, ty, time_y = x[nearest], y[nearest], d[nearest], ty[nearest], time_y[nearest]
    new = np.ones(len(x), bool)
    new[1:] = (x[1:] != x[:-1]) | (ty[1:] != ty[:-1])
    group = np.cumsum(new) - 1
    earliest = time_y[new][group]
    near = time_y <= earliest + min(params.seed_window, params.min_gap / 2)
    x, y, d, group, time_y = x[near], y[near], d[near], group[near], time_y[near]
    order = np.lexsort((time_y, d, group))
    keep = np.ones(len(order), bool)
    keep[1:] = group[order][1:] != group[order][:-1]
    pick = order[keep]
    return x[pick], y[pick], d[pick]


# ---------------------------------------------------------------------------------------------
# Diagonals: chain seeds of one offset, refine, extend, check


@dataclass(frozen=True)
class _Pair:
    """A pair segment: frames a0..a1 of track a show what b0..b1 of track b show, t_b = t_a + dt."""

    a: int
    b: int
    dt: float
    a0: int
    a1: int
    b0: int
    b1: int


@dataclass(frozen=True)
class _Chain:
    """Seeds on one diagonal: frames i0..i1 of track a, j0..j1 of track b, t_b ~ t_a + dt."""

    a: int
    b: int
    dt: float
    i0: int
    i1: int
    j0: int
    j1: int
    support: int


def _nearest(times: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Index of the frame time nearest to each of `t` (times sorted)."""
    if len(times) == 1:
        return np.zeros(np.shape(t), np.int64)
    idx = np.clip(np.searchsorted(times, t), 1, len(times) - 1)
    left_closer = (t - times[idx - 1]) <= (times[idx] - t)
    return (idx - left_closer).astype(np.int64)


def _chains(
    tracks: Sequence[Track], runs: _Runs, seeds: tuple[np.ndarray, ...], params: MatchParams
) -> list[_Chain]:
    """Seeds binned by offset (one frame wide) and chained along time with gaps <= max_gap.

    A chain's offset is the median of all seeds of its pair of tracks within two frames of its bin
    over its time span: seeds scatter over neighbouring bins (slow footage, other frame rates),
    and one bin alone would bias it by up to a frame.
    """
    x, y, _ = seeds
    if not len(x):
        return []
    a, b, ta = runs.track[x], runs.track[y], runs.time[x]
    ia, ib = runs.frame[x], runs.frame[y]
    dt = runs.time[y] - ta
    order = np.lexsort((ta, b, a))
    a, b, ia, ib, ta, dt = a[order], b[order], ia[order], ib[order], ta[order], dt[order]
    edges = np.flatnonzero((a[1:] != a[:-1]) | (b[1:] != b[:-1])) + 1
    chains = []
    for s, e in zip(np.r_[0, edges], np.r_[edges, len(a)], strict=True):
        pa, pb = int(a[s]), int(b[s])
        width = max(tracks[pa].step, tracks[pb].step)
        frames = np.stack([ia[s:e], ib[s:e]])
        chains += _pair_chains(pa, pb, frames, ta[s:e], dt[s:e], width, params)
    chains.sort(key=lambda c: (-c.support, c.a, c.b, c.i0))
    return chains


def _pair_chains(
    a: int,
    b: int,
    frames: np.ndarray,
    ta: np.ndarray,
    dt: np.ndarray,
    width: float,
    params: MatchParams,
) -> list[_Chain]:
    """Chains of one pair of tracks; seeds (frames: rows a, b) come sorted by time in track a."""
    k = np.round(dt / width).astype(np.int64)
    order = np.lexsort((ta, k))
    ks, ts = k[order], ta[order]
    brk = np.ones(len(ks), bool)
    brk[1:] = (ks[1:] != ks[:-1]) | ((ts[1:] - ts[:-1]) > params.max_gap)
    starts = np.flatnonzero(brk)
    ends = np.append(starts[1:], len(ks))
    chains = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if e - s < params.min_seeds:
            continue
        lo = int(np.searchsorted(ta, ts[s], "left"))
        hi = int(np.searchsorted(ta, ts[e - 1], "right"))
        near = dt[lo:hi]
        near = near[np.abs(near - ks[s] * width) <= 2 * width]
        ia, ib = frames[0, order[s:e]], frames[1, order[s:e]]
        dt0 = float(np.median(near))
        chains.append(
            _Chain(a, b, dt0, int(ia.min()), int(ia.max()), int(ib.min()), int(ib.max()), e - s)
        )
    return chains


def _compare(
    ta: Track, tb: Track, dt: float, idx: np.ndarray, params: MatchParams, *, both: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Frames `idx` of `ta` against `tb` along offset dt: (distance, status).

    Status: 1 match (<= extend_radius), 0 both flat, -1 miss, -2 off the end. Each frame is
    compared with the frame of `tb` nearest its mapped time and, when the mapped time falls well
    between two frames, with the other one too (the closer code counts): an offset that is off by
    part of a frame still finds each side's own boundary, and one on the frame grid stays exact.
    `both=False` compares with the nearest frame only.
    """
    t = ta.times[idx] + dt
    right = np.clip(np.searchsorted(tb.times, t), 0, len(tb) - 1)
    left = np.maximum(right - 1, 0)
    to_left, to_right = np.abs(t - tb.times[left]), np.abs(tb.times[right] - t)
    reach = 0.7 * tb.step if both else 0.0
    far = np.int32(1 << 20)
    dist = np.minimum(
        np.where(
            (to_left <= to_right) | (to_left < reach), hamming(ta.codes[idx], tb.codes[left]), far
        ),
        np.where(
            (to_right < to_left) | (to_right < reach),
            hamming(ta.codes[idx], tb.codes[right]),
            far,
        ),
    )
    slack = 0.75 * max(tb.step, ta.step)
    off = (t < tb.times[0] - slack) | (t > tb.times[-1] + slack)
    gap = np.minimum(to_left, to_right) > slack
    flat_a = ta.detail[idx] < params.min_detail
    flat_b = np.maximum(tb.detail[left], tb.detail[right]) < params.min_detail
    status = np.where((dist <= params.extend_radius) & ~flat_a & ~flat_b & ~gap, 1, -1)
    status[flat_a & flat_b & ~gap] = 0
    status[off] = -2
    return dist, status.astype(np.int8)


def _status(ta: Track, tb: Track, dt: float, idx: np.ndarray, params: MatchParams) -> np.ndarray:
    return _compare(ta, tb, dt, idx, params)[1]


def _walk(
    ta: Track, tb: Track, dt: float, start: int, way: int, params: MatchParams
) -> tuple[int, int]:
    """Walk from `start` going `way` (+1/-1) along dt until max_gap seconds of misses or the end.

    Returns (last matching frame, last frame looked at); `start` counts as matching.
    """
    max_miss = max(1, int(round(params.max_gap / ta.step)))
    last, pos, misses, block = start, start, 0, 64
    while True:
        idx = pos + way * np.arange(1, block + 1)
        idx = idx[(idx >= 0) & (idx < len(ta))]
        if not len(idx):
            return last, pos
        status = _status(ta, tb, dt, idx, params)
        for frame, s in zip(idx.tolist(), status.tolist(), strict=True):
            if s == 1:
                last, misses = frame, 0
            elif s < 0:
                misses += 1
                if s == -2 or misses >= max_miss:
                    return last, frame
        pos = int(idx[-1])
        block = min(block * 2, 1 << 16)


def _extent(
    ta: Track, tb: Track, dt: float, first: int, last: int, params: MatchParams
) -> tuple[int, int, int, int]:
    """(first, last matching frame, first, last frame looked at) of `ta` grown from first..last."""
    lo, seen_lo = _walk(ta, tb, dt, first, -1, params)
    hi, seen_hi = _walk(ta, tb, dt, last, +1, params)
    return lo, hi, seen_lo, seen_hi


def _refine(
    ta: Track, tb: Track, dt: float, first: int, last: int, params: MatchParams, *, same: bool
) -> float:
    """The offset within a frame of `dt` that best matches frames first..last of `ta`, to a
    quarter of a frame.

    Seeds scatter by a frame or two (slow motion, other frame rates, heavy compression); the
    occurrences are aligned at their starts, so the offset has to be right to a fraction of one.
    """
    idx = np.arange(first, last + 1)
    idx = idx[ta.detail[idx] >= params.min_detail]
    if len(idx) > 1024:
        idx = idx[np.linspace(0, len(idx) - 1, 1024).astype(np.int64)]
    if not len(idx):
        return dt
    width = max(ta.step, tb.step)
    best, best_cost = dt, math.inf
    for shift in sorted(np.arange(-4, 5) / 4, key=abs):
        candidate = dt + float(shift) * width
        if same and candidate < params.min_gap:
            continue
        dist, status = _compare(ta, tb, candidate, idx, params, both=False)
        inside = status > -2
        if not inside.any():
            continue
        cost = float(dist[inside].mean()) + 64.0 * (1.0 - inside.mean())
        if cost < best_cost - 1e-9:
            best, best_cost = candidate, cost
    return best


def _settle(
    query: Track, other: Track, dt: float, frame: int, params: MatchParams, *, same: bool
) -> float:
    """The offset, within SETTLE_FRAMES of `dt`, that best aligns the second of footage around
    `frame`; then refined to a quarter of a frame.

    A single hit is only as well placed as its best frame, and slow footage hashes alike for
    several frames: the hit can sit a few frames off the true alignment.
    """
    half = max(1, int(round(0.5 / query.step)))
    lo, hi = max(0, frame - half), min(len(query) - 1, frame + half)
    idx = np.arange(lo, hi + 1)
    width = max(query.step, other.step)
    best, best_cost = dt, math.inf
    for shift in sorted(range(-SETTLE_FRAMES, SETTLE_FRAMES + 1), key=abs):
        candidate = dt + shift * width
        if same and candidate < params.min_gap:
            continue
        dist, status = _compare(query, other, candidate, idx, params, both=False)
        inside = status > -2
        if inside.any():
            cost = float(dist[inside].mean()) + 64.0 * (1.0 - inside.mean())
            if cost < best_cost - 1e-9:
                best, best_cost = candidate, cost
    return _refine(query, other, best, lo, hi, params, same=same)


def _moving(ta: Track, tb: Track, dt: float, frames: np.ndarray, params: MatchParams) -> bool:
    """Whether the alignment is specific: for at least a quarter of the matched `frames`, the
    aligned picture is min_motion bits closer than the pictures motion_lag seconds before and
    after it in the other track.

    A still shot, or footage so slow that every frame looks like those around it (a talking
    head), matches itself at any offset; only footage that moves pins down an alignment. This
    also rejects an offset that merely happens to pass with look-alike pictures.
    """
    if len(frames) > 256:
        frames = frames[np.linspace(0, len(frames) - 1, 256).astype(np.int64)]
    aligned, _ = _compare(ta, tb, dt, frames, params)
    before, status_before = _compare(ta, tb, dt - params.motion_lag, frames, params)
    after, status_after = _compare(ta, tb, dt + params.motion_lag, frames, params)
    before = np.where(status_before == -2, after, before)
    after = np.where(status_after == -2, before, after)
    usable = (status_before > -2) | (status_after > -2)
    if not usable.any():
        return False
    contrast = np.minimum(before, after)[usable] - aligned[usable]
    return bool(np.quantile(contrast, 0.75) >= params.min_motion)


def _segment(
    tracks: Sequence[Track], chain: _Chain, params: MatchParams
) -> tuple[_Pair | None, float, int, int]:
    """Extend one chain into a checked pair segment (or None); also the offset used and the
    range of track a looked at, so that later chains on the same diagonal can be skipped."""
    ta, tb = tracks[chain.a], tracks[chain.b]
    same = chain.a == chain.b
    dt = _refine(ta, tb, chain.dt, chain.i0, chain.i1, params, same=same)
    a0, a1, _, _ = _extent(ta, tb, dt, chain.i0, chain.i1, params)
    dt = _refine(ta, tb, dt, a0, a1, params, same=same)  # again, on all the frames found
    a0, a1, seen_lo, seen_hi = _extent(ta, tb, dt, chain.i0, chain.i1, params)
    idx = np.arange(a0, a1 + 1)
    dist, status = _compare(ta, tb, dt, idx, params)
    matched = idx[status == 1]
    length = ta.times[a1] - ta.times[a0] + ta.step
    if (
        length < params.min_length
        or (status == 1).sum() < 0.5 * (status != 0).sum()
        or np.median(dist[status != 0]) > params.radius
        or not _moving(ta, tb, dt, matched, params)
    ):
        return None, dt, seen_lo, seen_hi
    b0, b1, _, _ = _extent(tb, ta, -dt, chain.j0, chain.j1, params)
    if abs(ta.times[a0] + dt - tb.times[b0]) > 0.25 * tb.step:  # off the frame grid
        a0, b0 = _snap(ta, tb, a0, b0, params)
    if a0 > a1 or b0 > b1:
        return None, dt, seen_lo, seen_hi
    return _Pair(chain.a, chain.b, dt, a0, a1, b0, b1), dt, seen_lo, seen_hi


def _snap(ta: Track, tb: Track, i: int, j: int, params: MatchParams) -> tuple[int, int]:
    """Move the first frames of a pair segment (i of `ta`, j of `tb`) by at most one frame each
    so that they show the same moment: first j to the frame around it closest to frame i, then
    i to the frame around it closest to the new j; on a tie the earlier frame wins (heavy
    compression repeats a picture rather than skip one).

    Occurrences are aligned at their starts, and an offset between two frame grids (25 and 30
    fps) found from the footage can be off by a frame (heavy compression smears motion over
    frames); at a cut the closest pictures are the true starts. On one frame grid the offset is
    exact and the walk's ends are kept (a loop's seam, encoded without a cut, smears too).
    """
    if ta.detail[i] < params.min_detail or tb.detail[j] < params.min_detail:
        return i, j
    j = _closest(ta.codes[i], tb, j, params)
    i = _closest(tb.codes[j], ta, i, params)
    return i, j


def _closest(code: np.ndarray, track: Track, k: int, params: MatchParams) -> int:
    """Of frames k-1, k, k+1 of `track`, the first whose code is closest to `code`."""
    options = [f for f in (k - 1, k, k + 1) if 0 <= f < len(track)]
    options = [f for f in options if track.detail[f] >= params.min_detail]
    if not options:
        return k
    return options[int(np.argmin(hamming(code, track.codes[options])))]


@dataclass(frozen=True)
class _Seen:
    """A diagonal already extended: its offset, the frames of track a looked at, and whether it
    became a pair segment."""

    dt: float
    lo: int
    hi: int
    accepted: bool


def _explained(chain: _Chain, seen: list[_Seen], width: float, step: float, lag: float) -> bool:
    """Whether an earlier extension already covers the chain: the same diagonal (to within
    SAME_DIAGONAL frames), a shadow of an accepted one (an offset less than motion_lag away, which
    slow footage matches nearly as well), or, inside one video, a multiple k x P of a loop's
    period P found earlier (k steps of P imply it)."""
    for s in seen:
        if not s.lo <= chain.i0 <= chain.i1 <= s.hi:
            continue
        near = max(SAME_DIAGONAL * width, lag if s.accepted else 0.0) + 1e-9
        if abs(chain.dt - s.dt) <= near:
            return True
        k = round(chain.dt / s.dt) if chain.a == chain.b and s.dt > 0 else 0
        if (
            k >= 2
            and abs(chain.dt - k * s.dt) <= SAME_DIAGONAL * width + 1e-9
            and chain.i1 + (k - 1) * round(s.dt / step) <= s.hi
        ):
            return True
    return False


def _pairs(tracks: Sequence[Track], chains: list[_Chain], params: MatchParams) -> list[_Pair]:
    """Pair segments from the chains, strongest first, skipping chains already explained."""
    seen: dict[tuple[int, int], list[_Seen]] = {}
    found: list[_Pair] = []
    for chain in chains:
        ta, tb = tracks[chain.a], tracks[chain.b]
        done = seen.setdefault((chain.a, chain.b), [])
        if _explained(chain, done, max(ta.step, tb.step), ta.step, params.motion_lag):
            continue
        pair, dt, lo, hi = _segment(tracks, chain, params)
        done.append(_Seen(dt, min(lo, chain.i0), max(hi, chain.i1), pair is not None))
        if pair is not None:
            found.append(pair)
    return _merge(found, params)


def _merge(pairs: list[_Pair], params: MatchParams) -> list[_Pair]:
    """Overlapping pair segments of one pair of tracks less than motion_lag apart in offset, as
    one; the offset of the first found (the best supported) is kept."""
    out: dict[tuple[int, int], list[_Pair]] = {}
    for p in pairs:
        kept = out.setdefault((p.a, p.b), [])
        for k, q in enumerate(kept):
            if abs(q.dt - p.dt) < params.motion_lag and p.a0 <= q.a1 + 1 and q.a0 <= p.a1 + 1:
                a0, a1 = min(p.a0, q.a0), max(p.a1, q.a1)
                kept[k] = _Pair(q.a, q.b, q.dt, a0, a1, min(p.b0, q.b0), max(p.b1, q.b1))
                break
        else:
            kept.append(p)
    return [p for kept in out.values() for p in kept]


# ---------------------------------------------------------------------------------------------
# Groups: cut pair segments at each other's boundaries, join the pieces


class _Cuts:
    """Per track, the sorted ordinals where pieces begin. A new cut within `snap` frames of an
    existing one is dropped, so that propagation around a cycle of slightly inconsistent offsets
    (A-B, B-C, A-C) cannot creep along the footage and shred it into slivers."""

    def __init__(self, snap: list[int]) -> None:
        self.cuts: list[list[int]] = [[] for _ in snap]
        self.snap = snap

    def add(self, track: int, cut: int) -> bool:
        cuts, snap = self.cuts[track], self.snap[track]
        pos = bisect.bisect_left(cuts, cut)
        if (pos < len(cuts) and cuts[pos] - cut <= snap) or (pos and cut - cuts[pos - 1] <= snap):
            return False
        cuts.insert(pos, cut)
        return True


def _cut(tracks: Sequence[Track], pairs: list[_Pair], snap: float) -> list[np.ndarray]:
    """Cut every track so that each pair segment maps whole pieces onto whole pieces.

    The ends of the longest pair segments are placed first (they were found on the footage
    itself); cuts carried over from other tracks only fill in, `snap` seconds from any other.
    """
    sides: list[list[tuple[int, int, int, float]]] = [[] for _ in tracks]
    for p in pairs:
        sides[p.a].append((p.a0, p.a1, p.b, p.dt))
        sides[p.b].append((p.b0, p.b1, p.a, -p.dt))
    bounds = [np.array([(s[0], s[1]) for s in side], np.int64).reshape(-1, 2) for side in sides]
    cuts = _Cuts([max(1, int(round(snap / t.step))) for t in tracks])
    queue: list[tuple[int, int]] = []
    for p in sorted(pairs, key=lambda p: p.a0 - p.a1):
        for track, cut in ((p.a, p.a0), (p.a, p.a1 + 1), (p.b, p.b0), (p.b, p.b1 + 1)):
            if cuts.add(track, cut):
                queue.append((track, cut))
    while queue:
        track, cut = queue.pop()
        inside = np.flatnonzero((bounds[track][:, 0] < cut) & (cut <= bounds[track][:, 1]))
        for s in inside.tolist():
            _, _, other, dt = sides[track][s]
            target = int(_nearest(tracks[other].times, tracks[track].times[cut] + dt))
            if cuts.add(other, target):
                queue.append((other, target))
    return [np.array(c, np.int64) for c in cuts.cuts]


class _Union:
    def __init__(self) -> None:
        self.parent: dict[tuple[int, int], tuple[int, int]] = {}

    def find(self, x: tuple[int, int]) -> tuple[int, int]:
        parent = self.parent
        root = parent.setdefault(x, x)
        while root != parent[root]:
            root = parent[root]
        while x != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, x: tuple[int, int], y: tuple[int, int]) -> None:
        rx, ry = self.find(x), self.find(y)
        if rx != ry:
            self.parent[max(rx, ry)] = min(rx, ry)


def _join(
    tracks: Sequence[Track], pairs: list[_Pair], cuts: list[np.ndarray], union: _Union
) -> None:
    """Union each piece inside a pair segment's side with the piece its middle maps onto."""
    for p in pairs:
        for src, lo, hi, dst, dt in ((p.a, p.a0, p.a1, p.b, p.dt), (p.b, p.b0, p.b1, p.a, -p.dt)):
            c, times = cuts[src], tracks[src].times
            first = max(0, int(np.searchsorted(c, lo, "right")) - 1)
            last = int(np.searchsorted(c, hi, "right"))
            for k in range(first, min(last, len(c) - 1)):
                mid = (times[c[k]] + times[c[k + 1] - 1]) / 2
                if not times[lo] <= mid <= times[hi]:
                    continue
                target = int(_nearest(tracks[dst].times, mid + dt))
                q = int(np.searchsorted(cuts[dst], target, "right")) - 1
                if 0 <= q < len(cuts[dst]) - 1:
                    union.union((src, k), (dst, q))


def _occurrence(track: Track, first: int, last: int) -> Occurrence:
    return Occurrence(
        track.video_id, first, last, float(track.times[first]), float(track.times[last])
    )


def _groups(tracks: Sequence[Track], pairs: list[_Pair], params: MatchParams) -> list[Group]:
    cuts = _cut(tracks, pairs, params.min_piece / 2)
    union = _Union()
    _join(tracks, pairs, cuts, union)
    members: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for piece in list(union.parent):
        members.setdefault(union.find(piece), []).append(piece)
    groups = []
    for pieces in members.values():
        if len(pieces) < 2:
            continue
        pieces.sort(key=lambda piece: (tracks[piece[0]].video_id, piece[1]))
        occ = [_occurrence(tracks[t], int(cuts[t][k]), int(cuts[t][k + 1]) - 1) for t, k in pieces]
        first = occ[0]
        duration = first.end_time - first.start_time + tracks[pieces[0][0]].step
        if duration < params.min_piece:
            continue
        groups.append(Group(tuple(occ), first.end_frame - first.start_frame + 1, duration))
    groups.sort(key=lambda g: (-g.duration * len(g.occurrences), _first_key(g)))
    return groups


def _first_key(group: Group) -> tuple[int, int]:
    return group.occurrences[0].video_id, group.occurrences[0].start_frame


# ---------------------------------------------------------------------------------------------
# Public entry points


def _check_tracks(tracks: Sequence[Track]) -> None:
    ids = [t.video_id for t in tracks]
    if len(set(ids)) != len(ids):
        raise ValueError(f"each track must have its own video_id, got {ids}")
    widths = {t.codes.shape[1] for t in tracks}
    if len(widths) > 1:
        raise ValueError(f"all tracks must use one hash size, got {sorted(widths)} bytes")


def find_groups(
    tracks: Sequence[Track],
    params: MatchParams = MatchParams(),
    *,
    only: Collection[int] | None = None,
) -> list[Group]:
    """All footage shared within and across the tracks, as groups, strongest (longest x
    occurrences) first. `only`: keep only groups that involve at least one of these video ids."""
    _check_tracks(tracks)
    if not tracks:
        return []
    runs = _runs(tracks, params.min_detail)
    if len(runs.code) < 2:
        return []
    seeds = _seeds(runs, params)
    chains = _chains(tracks, runs, seeds, params)
    pairs = _pairs(tracks, chains, params)
    groups = _groups(tracks, pairs, params)
    if only is not None:
        wanted = set(only)
        groups = [g for g in groups if any(o.video_id in wanted for o in g.occurrences)]
    return groups


def summarise_loops(track: Track, groups: Sequence[Group]) -> list[LoopSummary]:
    """Loops of one video: each group with >= 2 occurrences in it, as a human summary.

    Groups that continue each other with the same period (a loop whose last repetition is cut short
    comes out as two groups) are described together. Longest coverage first.
    """
    loops = []
    for g in groups:
        occ = [o for o in g.occurrences if o.video_id == track.video_id]
        if len(occ) >= 2:
            starts = np.array([o.start_time for o in occ])
            loops.append((occ, float(np.median(np.diff(starts)))))
    loops.sort(key=lambda item: (item[1], item[0][0].start_time))
    merged: list[tuple[list[list[Occurrence]], float]] = []
    step = track.step
    for occ, period in loops:
        if merged:
            runs, p = merged[-1]
            tail = runs[-1][0]
            if abs(period - p) <= 1.5 * step and abs(occ[0].start_time - tail.end_time - step) <= (
                1.5 * step
            ):
                runs.append(occ)
                continue
        merged.append(([occ], period))
    summaries = [_summary(track, runs, period) for runs, period in merged]
    summaries.sort(key=lambda s: (-s.coverage, s.start_time))
    return summaries


def _summary(track: Track, runs: list[list[Occurrence]], period: float) -> LoopSummary:
    spans = sorted((o.start_time, o.end_time + track.step) for occ in runs for o in occ)
    covered, reach = 0.0, -math.inf
    for lo, hi in spans:
        lo = max(lo, reach)
        if hi > lo:
            covered += hi - lo
            reach = hi
    total = track.duration
    return LoopSummary(
        start_time=runs[0][0].start_time,
        end_time=runs[-1][0].end_time,
        repeats=len(runs[0]),
        period=period,
        coverage=min(1.0, covered / total) if total > 0 else 0.0,
    )


def extend_occurrence(
    query: Track,
    frame: int,
    other: Track,
    other_frame: int,
    params: MatchParams = MatchParams(),
) -> tuple[Occurrence, Occurrence]:
    """Grow a single-frame hit into the pair of occurrences it belongs to (`where --segments`).

    `query`'s `frame` and `other`'s `other_frame` are taken to show the same picture; the alignment
    t_other = t_query + (t_other_frame - t_frame) is extended both ways frame by frame with
    extend_radius, crossing up to max_gap seconds of misses. Returns (query occurrence, other
    occurrence). When both are the same video (a loop), the occurrences are cut to at most one
    period, phased from the start of the repeating stretch, so that they do not overlap.
    """
    for track, f in ((query, frame), (other, other_frame)):
        if not 0 <= f < len(track):
            raise ValueError(f"frame {f} is outside video {track.video_id} (0..{len(track) - 1})")
    same = query.video_id == other.video_id
    if same and frame == other_frame:
        raise ValueError("a frame cannot be aligned with itself: name another frame")
    if same and other_frame < frame:
        b, a = extend_occurrence(other, other_frame, query, frame, params)
        return a, b
    dt = _settle(
        query, other, float(other.times[other_frame] - query.times[frame]), frame, params, same=same
    )
    lo, hi, _, _ = _extent(query, other, dt, frame, frame, params)
    if same:
        period = other_frame - frame
        lo += (frame - lo) // period * period
        hi = min(hi, lo + period - 1)
        b0, b1 = lo + period, hi + period
    else:
        b0, b1, _, _ = _extent(other, query, -dt, other_frame, other_frame, params)
    return _occurrence(query, lo, hi), _occurrence(other, b0, b1)
