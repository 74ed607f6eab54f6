"""Seeds: detailed frames collapsed into runs of equal codes, the distinct codes joined once, and
each run linked to the nearest repetition of a near code (in its own video, then in the next
video that has it). A clip repeated 3000 times is a chain of 2999 links, not 3000 squared.

Tracks are seen in up to eight views, in blocks of one view per track (framedb.match.groups):
their hashes, the hashes mirrored, their inner hashes, those mirrored, their middle hashes,
those mirrored, their clockwise and their counter-clockwise turned hashes. The plain links join
the first block with itself; RELATIONS link other blocks to each other the same way (each run to
the first near run in the next track that has one), so that a mirrored, cropped, captioned or
turned copy is seeded from the view that sees it as it is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from framedb.match.join import near_pairs
from framedb.match.tracks import MatchParams, Track
from framedb.store import mih

EXPAND_CHUNK = 1 << 21  # (run, near code) expansions materialised at a time
# Distinct codes are found by hashing when a sample of FEW_SAMPLE codes holds fewer than one
# distinct code in FEW_SHARE (a long loop's 9.7 M runs have 6,838 codes: 0.34 s instead of 1.9).
FEW_SAMPLE, FEW_SHARE = 1 << 16, 8
# Views linked beyond hashes with hashes: (block of the run, block it links to, also inside one
# video). Hashes with mirrored hashes (a mirrored copy, or a mirrored repeat in one video);
# hashes with inner hashes (a crop or zoom of the other's centre, or a clip in a phone's
# vertical frame); inner with inner (a caption or logo outside the centre); and the last two
# mirrored. Then, between videos, the middle hashes: with hashes (a crop of 90 % of the other)
# and with inner hashes (the middle of a copy cropped to 90 % is the inner box of its source,
# within 1 %), and those mirrored. Then, between videos, the turned hashes (framedb.turned):
# with hashes (a source turned as its copy was), with inner hashes (a copy turned back is the
# centre of its source: it was zoomed to fill its frame). The rest follow by symmetry (hashes
# mirrored with inner = hashes with inner mirrored).
RELATIONS = (
    (0, 1, True),
    (0, 2, False),
    (2, 2, False),
    (0, 3, False),
    (2, 3, False),
    (0, 4, False),
    (2, 4, False),
    (0, 5, False),
    (2, 5, False),
    (6, 0, False),
    (7, 0, False),
    (6, 2, False),
    (7, 2, False),
)
# Every link has a run of one of these blocks at one end (the plain links join block 0 with
# itself; every relation has block 0 or 2 in it): the join of near codes looks for the pairs with
# a code of theirs in them only.
LINKED = (0, 2)


@dataclass(frozen=True)
class Runs:
    """Runs of consecutive equal, detailed codes over all tracks, in (track, time) order."""

    track: np.ndarray  # track position
    frame: np.ndarray  # first ordinal of the run
    time: np.ndarray
    code: np.ndarray  # id into `codes`
    offsets: np.ndarray  # run index where each track begins (len = tracks + 1)
    codes: np.ndarray  # the distinct codes


def runs_of(tracks: Sequence[Track], min_detail: float) -> Runs:
    frames, owners, counts = [], [], [0]
    for k, track in enumerate(tracks):
        ok = track.detail >= min_detail
        same = np.zeros(len(track), bool)
        if len(track) > 1:
            same[1:] = ok[1:] & ok[:-1] & _repeats(track.codes)
        head = np.flatnonzero(ok & ~same)
        frames.append(head)
        owners.append(np.full(len(head), k, np.int64))
        counts.append(len(head))
    frame = np.concatenate(frames).astype(np.int64, copy=False)
    track_of = np.concatenate(owners)
    nbytes = tracks[0].codes.shape[1]
    raw = (
        np.concatenate([t.codes[f] for t, f in zip(tracks, frames, strict=True)])
        if len(frame)
        else np.empty((0, nbytes), np.uint8)
    )
    distinct, code = _distinct(raw)
    times = np.concatenate([t.times[f] for t, f in zip(tracks, frames, strict=True)])
    return Runs(
        track=track_of,
        frame=frame,
        time=times.astype(np.float64, copy=False),
        code=code.astype(np.int64, copy=False),
        offsets=np.cumsum(counts).astype(np.int64),
        codes=distinct,
    )


def _repeats(codes: np.ndarray) -> np.ndarray:
    """Whether each code but the first equals the one before it."""
    if codes.shape[1] == 8:
        words = np.ascontiguousarray(codes).view(np.uint64).ravel()
        return words[1:] == words[:-1]
    return np.all(codes[1:] == codes[:-1], axis=1)


def _distinct(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of `codes` (uint8, one code per row) in byte order, and each row's
    index among them. 64-bit codes are sorted as big-endian integers: the same order, several
    times faster than rows of bytes."""
    nbytes = codes.shape[1]
    rows = np.ascontiguousarray(codes)
    if nbytes != 8:
        distinct, index = np.unique(
            rows.view(np.dtype((np.void, nbytes))).ravel(), return_inverse=True
        )
        return distinct.view(np.uint8).reshape(-1, nbytes), index.ravel()
    keys = rows.view(">u8").ravel().astype(np.uint64)
    values = _few_values(keys)
    if values is None:
        values, index = np.unique(keys, return_inverse=True)
    else:  # a long loop: millions of runs, thousands of codes
        index = np.searchsorted(values, keys)
    return values.astype(">u8").view(np.uint8).reshape(-1, 8), index.ravel()


def _few_values(keys: np.ndarray) -> np.ndarray | None:
    """The sorted distinct keys, if a sample shows they are few (then hashing them and looking
    each key up costs a fifth of sorting them all); else None."""
    sample = keys[:: max(1, len(keys) // FEW_SAMPLE)]
    if len(keys) < FEW_SAMPLE or len(np.unique(sample)) * FEW_SHARE > len(sample):
        return None
    try:
        return np.sort(np.unique(keys, sorted=False))
    except TypeError:  # numpy < 2.3 has no hashing unique
        return None


@dataclass(frozen=True)
class _Linker:
    """Runs sorted by (code, run index) with their near codes: finds the first run of a code at
    or after a given run index in one binary search."""

    runs: Runs
    order: np.ndarray  # run indices sorted by (code, run index)
    keys: np.ndarray  # code * runs + run index, in that order
    src: np.ndarray  # ordered near-code pairs (src -> dst at distance dist), sorted by src
    dst: np.ndarray
    dist: np.ndarray

    @classmethod
    def build(cls, runs: Runs, radius: int, anchored: np.ndarray | None = None) -> _Linker:
        """`anchored`: the codes a link can start or end at (`near_pairs`); None: all."""
        total, nc = len(runs.code), len(runs.codes)
        iu, iv, dd = near_pairs(runs.codes, radius, anchored)
        ids = np.arange(nc, dtype=np.int64)
        src = np.concatenate([iu, iv, ids])
        by_src = np.argsort(src, kind="stable")
        order = np.argsort(runs.code, kind="stable")
        return cls(
            runs=runs,
            order=order,
            keys=runs.code[order] * total + order,
            src=src[by_src],
            dst=np.concatenate([iv, iu, ids])[by_src],
            dist=np.concatenate([dd, dd, np.zeros(nc, np.int32)])[by_src],
        )

    def links(
        self, x: np.ndarray, start: np.ndarray, stop: np.ndarray, params: MatchParams
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per run x[k] and near code v: the first run y of v with start[k] <= y < stop[k]; then
        the closest per (x, track of y). `x`: increasing run indices. Expands a bounded number
        of (run, code) at a time, always whole codes, so every run's candidates are reduced
        together."""
        total = len(self.runs.code)
        code = self.runs.code[x]
        by_code = np.argsort(code, kind="stable")  # each code's runs in run order
        x, start, stop = x[by_code], start[by_code], stop[by_code]
        count = np.bincount(code, minlength=len(self.runs.codes))
        first = np.cumsum(count) - count
        sizes = np.cumsum(count[self.src])
        code_end = np.flatnonzero(np.r_[self.src[1:] != self.src[:-1], True]) + 1
        parts = []
        lo = 0
        while lo < len(self.src):
            done = int(sizes[lo - 1]) if lo else 0
            target = max(int(np.searchsorted(sizes, done + EXPAND_CHUNK)), lo + 1)
            hi = int(code_end[min(int(np.searchsorted(code_end, target)), len(code_end) - 1)])
            pair = np.repeat(np.arange(lo, hi), count[self.src[lo:hi]])
            at = mih.ragged(first[self.src[lo:hi]], count[self.src[lo:hi]])
            v = self.dst[pair]
            pos = np.searchsorted(self.keys, v * total + start[at])
            y = self.order[np.minimum(pos, total - 1)]
            hit = (pos < total) & (self.runs.code[y] == v) & (y < stop[at])
            parts.append(
                _closest_links(self.runs, x[at[hit]], y[hit], self.dist[pair[hit]], params)
            )
            lo = hi
        return _stack(parts)


def seeds_of(
    runs: Runs, params: MatchParams, blocks: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seed pairs of runs (x, y, distance), over views in `blocks` blocks of one per track.

    For every distinct code v within the radius of its own code, run x of the first block is
    linked to the first run of v at least min_gap later in its own track (its nearest
    repetition) and, unless x repeats something earlier in its track, to the first run of v in
    the next track that has v. Per partner track only the closest code within `seed_window` of
    the earliest link is kept. Costs runs x near codes, never the square of the repetitions: a
    loop is a chain of links. Then the RELATIONS between blocks, from runs that repeat nothing.
    """
    n = (len(runs.offsets) - 1) // blocks
    anchored = None
    if blocks > 1:
        anchored = np.zeros(len(runs.codes), bool)
        anchored[runs.code[np.isin(runs.track // n, LINKED)]] = True
    linker = _Linker.build(runs, params.radius, anchored)
    plain = np.arange(runs.offsets[n])  # the first block's runs
    track_end = runs.offsets[runs.track[plain] + 1]
    same_from = _same_track_from(runs, n, params.min_gap)
    sx, sy, sd = linker.links(plain, same_from, track_end, params)
    found = [(sx, sy, sd)]
    first_showing = np.ones(len(plain), bool)
    first_showing[sy] = False
    if n > 1:
        x = np.flatnonzero(first_showing)
        found.append(linker.links(x, track_end[x], np.full(len(x), runs.offsets[n]), params))
    if blocks > 1:
        fresh = _fresh(runs, first_showing, n)
        for k1, k2, own in RELATIONS:
            if max(k1, k2) < blocks:
                lo = runs.offsets[k1 * n]
                x = lo + np.flatnonzero(fresh[lo : runs.offsets[k1 * n + n]])
                found += _related(linker, runs, x, k2, own, n, params, symmetric=k1 == k2)
    return _stack(found)


def _fresh(runs: Runs, first_showing: np.ndarray, n: int) -> np.ndarray:
    """Runs of every view whose first frame is not a repetition inside its track: the first
    block's run holding that frame is a first showing (`first_showing`, over the first block;
    footage seen before in the track was linked to other tracks from its first showing)."""
    out = np.ones(len(runs.code), bool)
    for t in range(n):
        lo, hi = runs.offsets[t], runs.offsets[t + 1]
        heads = runs.frame[lo:hi]
        for v in range(t + n, len(runs.offsets) - 1, n):
            a, b = runs.offsets[v], runs.offsets[v + 1]
            at = np.searchsorted(heads, runs.frame[a:b], "right") - 1
            out[a:b] = (at < 0) | first_showing[lo + np.maximum(at, 0)]
    out[: runs.offsets[n]] = first_showing
    return out


def _related(
    linker: _Linker,
    runs: Runs,
    x: np.ndarray,
    block: int,
    own: bool,
    n: int,
    params: MatchParams,
    *,
    symmetric: bool,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Links from the runs `x` (increasing, all of one block) to views of block `block`: to
    the first near run in the next track after theirs; unless the relation is `symmetric` (a
    block with itself, whose pairs the later track's runs find), else in the first track from
    the start; and, when `own`, in their own track at least min_gap later."""
    view = block * n + runs.track[x] % n  # each run's own track, seen in block `block`
    block_end = np.full(len(x), runs.offsets[block * n + n])
    found = [linker.links(x, runs.offsets[view + 1], block_end, params)]
    if not symmetric:
        wrap = np.ones(len(x), bool)
        wrap[np.searchsorted(x, found[0][0])] = False
        rest, before = x[wrap], runs.offsets[view[wrap]]
        found.append(
            linker.links(rest, np.full(len(rest), runs.offsets[block * n]), before, params)
        )
    if own:
        start = _from_time(runs, view, runs.time[x] + params.min_gap - 1e-9)
        found.append(linker.links(x, start, runs.offsets[view + 1], params))
    return found


def _from_time(runs: Runs, view: np.ndarray, times: np.ndarray) -> np.ndarray:
    """For each k, the first run of view `view[k]` (increasing) at or after `times[k]`."""
    out = np.empty(len(view), np.int64)
    if not len(view):
        return out
    bounds = np.flatnonzero(np.r_[True, view[1:] != view[:-1], True])
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        lo, hi = runs.offsets[view[a]], runs.offsets[view[a] + 1]
        out[a:b] = lo + np.searchsorted(runs.time[lo:hi], times[a:b])
    return out


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


def _same_track_from(runs: Runs, n: int, min_gap: float) -> np.ndarray:
    """For each run of the first block (of `n` tracks), the first run of its track at least
    min_gap later."""
    out = np.empty(runs.offsets[n], np.int64)
    for k in range(n):
        lo, hi = runs.offsets[k], runs.offsets[k + 1]
        t = runs.time[lo:hi]
        out[lo:hi] = lo + np.searchsorted(t, t + min_gap - 1e-9, "left")
    return out


def _closest_links(
    runs: Runs, x: np.ndarray, y: np.ndarray, d: np.ndarray, params: MatchParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per run, in the first partner track only: the closest link within seed_window of the
    earliest one. (One partner track per run keeps footage shared by many videos a chain of
    links from each video to the next, not links between every two of them.)"""
    if not len(x):
        return x, y, d
    # The links come as sorted runs of x (one per near code), which a stable sort merges fast.
    # Runs are in (track, time) order: in one track, the lower run index is the earlier.
    order = np.argsort(x, kind="stable")
    x, y, d = x[order], y[order], d[order]
    keep = runs.track[y] == _per_run(np.minimum, x, runs.track[y])
    x, y, d = x[keep], y[keep], d[keep]
    window = min(params.seed_window, params.min_gap / 2)
    keep = runs.time[y] <= runs.time[_per_run(np.minimum, x, y)] + window
    x, y, d = x[keep], y[keep], d[keep]
    keep = d == _per_run(np.minimum, x, d)
    x, y, d = x[keep], y[keep], d[keep]
    keep = y == _per_run(np.minimum, x, y)
    return x[keep], y[keep], d[keep]


def _per_run(reduce: np.ufunc, x: np.ndarray, values: np.ndarray) -> np.ndarray:
    """`reduce` over the values of each run x (equal x are contiguous), repeated per link."""
    new = np.ones(len(x), bool)
    new[1:] = x[1:] != x[:-1]
    return reduce.reduceat(values, np.flatnonzero(new))[np.cumsum(new) - 1]
