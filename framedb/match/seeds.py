"""Seeds: detailed frames collapsed into runs of equal codes, the distinct codes joined once, and
each run linked to the nearest repetition of a near code (in its own video, then in the next
video that has it). A clip repeated 3000 times is a chain of 2999 links, not 3000 squared.

Tracks are seen in up to four views, in blocks of one view per track (framedb.match.groups):
their hashes, the hashes mirrored, their inner hashes, those mirrored. The plain links join the
first block with itself; RELATIONS link other blocks to each other the same way (each run to the
first near run in the next track that has one), so that a mirrored, cropped or captioned copy is
seeded from the view that sees it as it is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from framedb.match.join import near_pairs
from framedb.match.tracks import MatchParams, Track
from framedb.store import mih

EXPAND_CHUNK = 1 << 21  # (run, near code) expansions materialised at a time
# Views linked beyond hashes with hashes: (block of the run, block it links to, also inside one
# video). Hashes with mirrored hashes (a mirrored copy, or a mirrored repeat in one video);
# hashes with inner hashes (a crop or zoom of the other's centre, or a clip in a phone's
# vertical frame); inner with inner (a caption or logo outside the centre); and the last two
# mirrored. The rest follow by symmetry (hashes mirrored with inner = hashes with inner mirrored).
RELATIONS = ((0, 1, True), (0, 2, False), (2, 2, False), (0, 3, False), (2, 3, False))


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
    return Runs(
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

    runs: Runs
    order: np.ndarray  # run indices sorted by (code, run index)
    keys: np.ndarray  # code * runs + run index, in that order
    first: np.ndarray  # per code: where its runs begin in `order`
    count: np.ndarray  # per code: how many runs it has
    src: np.ndarray  # ordered near-code pairs (src -> dst at distance dist), sorted by src
    dst: np.ndarray
    dist: np.ndarray

    @classmethod
    def build(cls, runs: Runs, radius: int) -> _Linker:
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
    total = len(runs.code)
    n = (len(runs.offsets) - 1) // blocks
    linker = _Linker.build(runs, params.radius)
    track_end = runs.offsets[runs.track + 1]
    plain = runs.track < n
    sx, sy, sd = linker.links(_same_track_from(runs, params.min_gap), track_end, plain, params)
    found = [(sx, sy, sd)]
    first_showing = plain.copy()
    first_showing[sy] = False
    if n > 1:
        block_end = np.full(total, runs.offsets[n])
        found.append(linker.links(track_end, block_end, first_showing, params))
    if blocks > 1:
        fresh = _fresh(runs, first_showing | ~plain, n)
        for k1, k2, own in RELATIONS:
            if k2 < blocks:
                x = fresh & (runs.track // n == k1)
                found += _related(linker, runs, x, k2, own, n, params, symmetric=k1 == k2)
    return _stack(found)


def _fresh(runs: Runs, first_showing: np.ndarray, n: int) -> np.ndarray:
    """Runs of every view whose first frame is not a repetition inside its track: the first
    block's run holding that frame is a first showing (footage seen before in the track was
    linked to other tracks from its first showing already)."""
    out = np.ones(len(runs.code), bool)
    for t in range(n):
        lo, hi = runs.offsets[t], runs.offsets[t + 1]
        heads = runs.frame[lo:hi]
        for v in range(t + n, len(runs.offsets) - 1, n):
            a, b = runs.offsets[v], runs.offsets[v + 1]
            at = np.searchsorted(heads, runs.frame[a:b], "right") - 1
            out[a:b] = (at < 0) | first_showing[lo + np.maximum(at, 0)]
    out[: runs.offsets[n]] = first_showing[: runs.offsets[n]]
    return out


def _related(
    linker: _Linker,
    runs: Runs,
    allowed: np.ndarray,
    block: int,
    own: bool,
    n: int,
    params: MatchParams,
    *,
    symmetric: bool,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Links from the `allowed` runs to views of block `block`: to the first near run in the
    next track after theirs; unless the relation is `symmetric` (a block with itself, whose
    pairs the later track's runs find), else in the first track from the start; and, when
    `own`, in their own track at least min_gap later."""
    track = runs.track % n
    base = block * n
    everything = len(runs.code)
    block_end = np.full(everything, runs.offsets[base + n])
    found = [linker.links(runs.offsets[base + track + 1], block_end, allowed, params)]
    if not symmetric:
        wrap = allowed.copy()
        wrap[found[0][0]] = False
        block_start = np.full(everything, runs.offsets[base])
        found.append(linker.links(block_start, runs.offsets[base + track], wrap, params))
    if own:
        start = _from_time(runs, base + track, runs.time + params.min_gap - 1e-9)
        found.append(linker.links(start, runs.offsets[base + track + 1], allowed, params))
    return found


def _from_time(runs: Runs, view: np.ndarray, times: np.ndarray) -> np.ndarray:
    """For each run, the first run of view `view[k]` at or after `times[k]`."""
    out = np.empty(len(view), np.int64)
    for v in np.unique(view).tolist():
        at = np.flatnonzero(view == v)
        lo, hi = runs.offsets[v], runs.offsets[v + 1]
        out[at] = lo + np.searchsorted(runs.time[lo:hi], times[at], "left")
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


def _same_track_from(runs: Runs, min_gap: float) -> np.ndarray:
    """For each run, the first run index of its track at least min_gap later."""
    out = np.empty(len(runs.code), np.int64)
    for k in range(len(runs.offsets) - 1):
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
