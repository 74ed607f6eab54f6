"""Diagonals: seeds of a pair of videos chained along one time offset, the offset refined to a
quarter of a frame, the run extended frame by frame both ways with the looser extend_radius, and
checked (long enough, within the seed radius, and specific: the footage moves). Also the growing
of a single-frame hit into the pair of occurrences it belongs to (`where --segments`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from framedb.hashing import hamming
from framedb.match.seeds import Runs
from framedb.match.tracks import MatchParams, Occurrence, Track, occurrence

SETTLE_FRAMES = 8  # how far a single hit may sit from its true alignment (where --segments)
SAME_DIAGONAL = 3.0  # offsets this many frames apart over the same frames are one diagonal


@dataclass(frozen=True)
class Pair:
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


def chains_of(
    tracks: Sequence[Track], runs: Runs, seeds: tuple[np.ndarray, ...], params: MatchParams
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
) -> tuple[Pair | None, float, int, int]:
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
    return Pair(chain.a, chain.b, dt, a0, a1, b0, b1), dt, seen_lo, seen_hi


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


def pair_segments(tracks: Sequence[Track], chains: list[_Chain], params: MatchParams) -> list[Pair]:
    """Pair segments from the chains, strongest first, skipping chains already explained."""
    seen: dict[tuple[int, int], list[_Seen]] = {}
    found: list[Pair] = []
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


def _merge(pairs: list[Pair], params: MatchParams) -> list[Pair]:
    """Overlapping pair segments of one pair of tracks less than motion_lag apart in offset, as
    one; the offset of the first found (the best supported) is kept."""
    out: dict[tuple[int, int], list[Pair]] = {}
    for p in pairs:
        kept = out.setdefault((p.a, p.b), [])
        for k, q in enumerate(kept):
            if abs(q.dt - p.dt) < params.motion_lag and p.a0 <= q.a1 + 1 and q.a0 <= p.a1 + 1:
                a0, a1 = min(p.a0, q.a0), max(p.a1, q.a1)
                kept[k] = Pair(q.a, q.b, q.dt, a0, a1, min(p.b0, q.b0), max(p.b1, q.b1))
                break
        else:
            kept.append(p)
    return [p for kept in out.values() for p in kept]


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
    return occurrence(query, lo, hi), occurrence(other, b0, b1)
