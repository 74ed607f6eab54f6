"""Comparing two tracks frame by frame along a line t_b = rate * t_a + dt: each frame against the
other track's frame at its mapped time, walks that extend a match both ways, the refinement of
the offset (and of a rate) to a fraction of a frame, and the check that an alignment is specific
(the footage moves). Also the growing of a single-frame hit into the pair of occurrences it
belongs to (`where --segments`)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from framedb.hashing import hamming
from framedb.match.tracks import MatchParams, Occurrence, Track, nearest, occurrence

SETTLE_FRAMES = 8  # how far a single hit may sit from its true alignment (where --segments)
# Rounds of 1 % steps (3 each way) a rate is refined by, each from the best of the last: a rate
# fitted to the seeds of slow footage can be 8 % off.
RATE_ROUNDS = 4
# A line of another rate is not tilted closer to 1 than this (log of the rate): footage within
# 3 % of rate 1 is the plain lines' (framedb.match.diagonals), which a tilted line would shadow.
PLAIN_BAND = 0.03
END_MARGIN = 6  # bits beyond a segment's median distance its end frames may sit (`trimmed`)
SLOW_LAGS = (2, 4)  # multiples of motion_lag that slow footage must be specific over instead
# `_in_step`: rates tried around a refined one (0.25 % apart, up to 3 % each way), how much
# farther (bits a frame) their frames may be, and how much better the footage's changes must
# line up along one, and at least how well, for it to win
STEP_RATES = 12
STEP_SHIFT = 8  # quarter frames each way
STEP_COST = 0.25
STEP_GAIN = 0.2
STEP_CORRELATION = 0.3
MIN_STEP_FRAMES = 16  # frames whose changes are correlated, at least


@dataclass(frozen=True)
class Line:
    """An alignment: time t in track a shows what time rate * t + dt shows in track b."""

    dt: float
    rate: float = 1.0

    def at(self, t: np.ndarray | float) -> np.ndarray | float:
        return self.rate * t + self.dt

    def inverse(self) -> Line:
        return Line(-self.dt / self.rate, 1.0 / self.rate)

    def shifted(self, seconds: float) -> Line:
        return Line(self.dt + seconds, self.rate)


def distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distances of frames' codes, pairwise along the first axis: (n, bytes) each, or
    (n, codes, bytes) each (`Track.beside`), then the least over every pair of their codes."""
    if a.ndim == 2:
        return hamming(a, b)
    return hamming(a[:, :, None, :], b[:, None, :, :]).min(axis=(1, 2))


def compare(
    ta: Track, tb: Track, line: Line, idx: np.ndarray, params: MatchParams, *, both: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Frames `idx` of `ta` against `tb` along `line`: (distance, status).

    Status: 1 match (<= extend_radius), 0 both flat, -1 miss, -2 off the end. Each frame is
    compared with the frame of `tb` nearest its mapped time and, when the mapped time falls well
    between two frames, with the other one too (the closer code counts): an offset that is off by
    part of a frame still finds each side's own boundary, and one on the frame grid stays exact.
    `both=False` compares with the nearest frame only.
    """
    t = line.at(ta.times[idx])
    right = np.clip(np.searchsorted(tb.times, t), 0, len(tb) - 1)
    left = np.maximum(right - 1, 0)
    to_left, to_right = np.abs(t - tb.times[left]), np.abs(tb.times[right] - t)
    if both:
        reach, far = 0.7 * tb.step, np.int32(1 << 20)
        dist = np.minimum(
            np.where(
                (to_left <= to_right) | (to_left < reach),
                distance(ta.codes[idx], tb.codes[left]),
                far,
            ),
            np.where(
                (to_right < to_left) | (to_right < reach),
                distance(ta.codes[idx], tb.codes[right]),
                far,
            ),
        )
    else:  # one code comparison a frame, not two (refinement compares thousands of lines)
        dist = distance(ta.codes[idx], tb.codes[np.where(to_left <= to_right, left, right)])
    slack = 0.75 * max(tb.step, ta.step * line.rate)
    off = (t < tb.times[0] - slack) | (t > tb.times[-1] + slack)
    gap = np.minimum(to_left, to_right) > slack
    flat_a = ta.detail[idx] < params.min_detail
    flat_b = np.maximum(tb.detail[left], tb.detail[right]) < params.min_detail
    status = np.where((dist <= params.extend_radius) & ~flat_a & ~flat_b & ~gap, 1, -1)
    status[flat_a & flat_b & ~gap] = 0
    status[off] = -2
    return dist, status.astype(np.int8)


def _walk(
    ta: Track, tb: Track, line: Line, start: int, way: int, params: MatchParams
) -> tuple[int, int]:
    """Walk from `start` going `way` (+1/-1) along `line` until max_gap seconds of misses or the
    end. Returns (last matching frame, last frame looked at); `start` counts as matching."""
    max_miss = max(1, int(round(params.max_gap / ta.step)))
    last, pos, misses, block = start, start, 0, 64
    while True:
        idx = pos + way * np.arange(1, block + 1)
        idx = idx[(idx >= 0) & (idx < len(ta))]
        if not len(idx):
            return last, pos
        status = compare(ta, tb, line, idx, params)[1]
        for frame, s in zip(idx.tolist(), status.tolist(), strict=True):
            if s == 1:
                last, misses = frame, 0
            elif s < 0:
                misses += 1
                if s == -2 or misses >= max_miss:
                    return last, frame
        pos = int(idx[-1])
        block = min(block * 2, 1 << 16)


def extent(
    ta: Track, tb: Track, line: Line, first: int, last: int, params: MatchParams
) -> tuple[int, int, int, int]:
    """(first, last matching frame, first, last frame looked at) of `ta` grown from first..last."""
    lo, seen_lo = _walk(ta, tb, line, first, -1, params)
    hi, seen_hi = _walk(ta, tb, line, last, +1, params)
    return lo, hi, seen_lo, seen_hi


def cost(ta: Track, tb: Track, line: Line, idx: np.ndarray, params: MatchParams) -> float:
    """How badly `line` aligns frames `idx`: their mean distance, frames off the end at 64."""
    dist, status = compare(ta, tb, line, idx, params, both=False)
    inside = status > -2
    if not inside.any():
        return math.inf
    return float(dist[inside].mean()) + 64.0 * (1.0 - inside.mean())


def refine(
    ta: Track,
    tb: Track,
    line: Line,
    first: int,
    last: int,
    params: MatchParams,
    *,
    same: bool,
) -> Line:
    """The line within a frame of `line` that best matches frames first..last of `ta`: the
    offset to a quarter of a frame and, for a line of another rate, the rate to 0.25 % (1 %
    steps, 3 each way, from the best again while it is at their edge, up to RATE_ROUNDS times;
    then quarters around the best; then `_in_step`).

    Seeds scatter by a frame or two (slow motion, other frame rates, heavy compression); the
    occurrences are aligned at their starts, so the offset has to be right to a fraction of one.
    A rate fitted to the seeds of slow footage can be several % off (1.28 for 1.25 on the
    transforms benchmark's box clip played faster in an inset, 1.33 on a generated scene at a
    third of its speed), which puts the far end frames or seconds off.
    """
    idx = np.arange(first, last + 1)
    idx = idx[ta.detail[idx] >= params.min_detail]
    if len(idx) > 1024:
        idx = idx[np.linspace(0, len(idx) - 1, 1024).astype(np.int64)]
    if not len(idx):
        return line
    middle = float(ta.times[idx].mean())
    found = _tilts(ta, tb, line, idx, middle, 0.0, params, same=same)
    if line.rate != 1.0:
        for _ in range(RATE_ROUNDS):  # 1 % steps, again from the best while it is at the edge
            around = found[0]
            found = _tilts(ta, tb, around, idx, middle, 0.01, params, same=same, best=found)
            if abs(found[0].rate / around.rate - 1) < 0.025:
                break
        found = _tilts(ta, tb, found[0], idx, middle, 0.0025, params, same=same, best=found)
        return _in_step(ta, tb, found, idx, middle, params, same=same)
    return found[0]


def _in_step(
    ta: Track,
    tb: Track,
    found: tuple[Line, float],
    idx: np.ndarray,
    middle: float,
    params: MatchParams,
    *,
    same: bool,
) -> Line:
    """Of lines of another rate near `found` (the best fit, and its cost), the one along which
    the footage changes at the same moments in both tracks, if clearly so; else found's.

    Footage shot at 10 pictures a second and shown at 30 holds each picture for three frames;
    played 1.25x faster in an inset, its hashes fit a rate 1.3 % off as well as the true one
    (vtest: 1.48 bits a frame at 1.234, 1.54 at 1.25), which puts the far end frames off. Where
    each picture gives way to the next does not blur: the frame-to-frame changes of the two
    tracks correlate 0.12 along the line at 1.234, 0.48 at 1.245-1.255."""
    line, best_cost = found
    idx = idx[idx < len(ta) - 1]
    width = max(ta.step, tb.step)
    lines = [line]
    for k in range(-STEP_RATES, STEP_RATES + 1):
        rate = line.rate * (1 + k * 0.0025)
        if abs(math.log(rate)) >= PLAIN_BAND:
            pivot = Line(float(line.at(middle)) - rate * middle, rate)
            lines += [pivot.shifted(s / 4 * width) for s in range(-STEP_SHIFT, STEP_SHIFT + 1)]
    if same:
        lines = [c for c in lines if c.dt >= params.min_gap]
    if len(idx) < MIN_STEP_FRAMES or len(lines) < 2:
        return line
    scores = _lined_up(ta, tb, lines, idx)
    here = scores[0] if lines[0] is line else -1.0
    for k in np.argsort(-scores, kind="stable"):  # the best lined up whose frames are near enough
        if scores[k] < max(STEP_CORRELATION, here + STEP_GAIN):
            break
        if cost(ta, tb, lines[k], idx, params) <= best_cost + STEP_COST:
            return lines[k]
    return line


def _lined_up(ta: Track, tb: Track, lines: list[Line], idx: np.ndarray) -> np.ndarray:
    """Per line, the correlation of the changes from frames `idx` of `ta` to the next with
    those of `tb` at the times the line maps them to (between the same two moments); -1 where
    fewer than MIN_STEP_FRAMES map inside `tb`, or either side does not change."""
    mine = changes(ta.codes, idx)
    rate, dt = (np.array([[getattr(c, k)] for c in lines]) for k in ("rate", "dt"))
    t = rate * ((ta.times[idx] + ta.times[idx + 1]) / 2)[None, :] + dt
    lo = max(0, int(np.searchsorted(tb.times, t.min())) - 2)  # the stretch of tb mapped to
    hi = min(len(tb) - 1, int(np.searchsorted(tb.times, t.max())) + 2)
    if hi <= lo:
        return np.full(len(lines), -1.0)
    frames = np.arange(lo, hi)
    theirs, middles = changes(tb.codes, frames), (tb.times[frames] + tb.times[frames + 1]) / 2
    first, last = (tb.times[0] + tb.times[1]) / 2, (tb.times[-2] + tb.times[-1]) / 2
    weight = ((t >= first) & (t <= last)).astype(np.float64)
    y = theirs[nearest(middles, t.ravel())].reshape(t.shape)
    count = np.maximum(weight.sum(axis=1, keepdims=True), 1.0)
    dx = mine[None, :] - (mine[None, :] * weight).sum(axis=1, keepdims=True) / count
    dy = y - (y * weight).sum(axis=1, keepdims=True) / count
    spread = np.sqrt((dx * dx * weight).sum(axis=1) * (dy * dy * weight).sum(axis=1))
    together = (dx * dy * weight).sum(axis=1)
    usable = (count[:, 0] >= MIN_STEP_FRAMES) & (spread > 0)
    return np.where(usable, together / np.where(usable, spread, 1.0), -1.0)


def changes(codes: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Bits between each of `frames`' code and the next frame's (the first code of each frame
    of a `Track.beside`)."""
    codes = codes if codes.ndim == 2 else codes[:, 0]
    return hamming(codes[frames + 1], codes[frames]).astype(np.float64)


def _tilts(
    ta: Track,
    tb: Track,
    line: Line,
    idx: np.ndarray,
    middle: float,
    step: float,
    params: MatchParams,
    *,
    same: bool,
    best: tuple[Line, float] = (Line(0.0), math.inf),
) -> tuple[Line, float]:
    """The best of `best` and `line` tilted about time `middle` by k x `step` of its rate (k
    from -3 to 3; none for a step of 0) and shifted by up to a frame, with its cost."""
    for k in sorted(range(-3, 4), key=abs) if step else [0]:
        rate = line.rate * (1 + k * step)
        if k and abs(math.log(rate)) < PLAIN_BAND:
            continue
        pivot = Line(float(line.at(middle)) - rate * middle, rate)
        for candidate, here in _shifts(ta, tb, pivot, idx, params, same=same):
            if here < best[1] - 1e-9:
                best = (candidate, here)
    return best


def _shifts(
    ta: Track, tb: Track, line: Line, idx: np.ndarray, params: MatchParams, *, same: bool
) -> Iterator[tuple[Line, float]]:
    """`line` shifted by up to a frame in quarters, nearest first, with the cost of each (lines
    of one video with itself closer than min_gap are left out)."""
    width = max(ta.step, tb.step)
    for shift in sorted(np.arange(-4, 5) / 4, key=abs):
        candidate = line.shifted(float(shift) * width)
        if not (same and candidate.dt < params.min_gap):
            yield candidate, cost(ta, tb, candidate, idx, params)


def _settle(
    query: Track, other: Track, line: Line, frame: int, params: MatchParams, *, same: bool
) -> Line:
    """The offset, within SETTLE_FRAMES of `line`'s, that best aligns the second of footage around
    `frame`; then refined to a quarter of a frame.

    A single hit is only as well placed as its best frame, and slow footage hashes alike for
    several frames: the hit can sit a few frames off the true alignment.
    """
    half = max(1, int(round(0.5 / query.step)))
    lo, hi = max(0, frame - half), min(len(query) - 1, frame + half)
    idx = np.arange(lo, hi + 1)
    width = max(query.step, other.step)
    best, best_cost = line, math.inf
    for shift in sorted(range(-SETTLE_FRAMES, SETTLE_FRAMES + 1), key=abs):
        candidate = line.shifted(shift * width)
        if same and candidate.dt < params.min_gap:
            continue
        here = cost(query, other, candidate, idx, params)
        if here < best_cost - 1e-9:
            best, best_cost = candidate, here
    return refine(query, other, best, lo, hi, params, same=same)


def moving(ta: Track, tb: Track, line: Line, frames: np.ndarray, params: MatchParams) -> bool:
    """Whether the alignment is specific: for at least a quarter of the matched `frames`, the
    aligned picture is min_motion bits closer than the pictures motion_lag seconds before and
    after it in the other track; or, for slow footage, than those SLOW_LAGS x motion_lag
    away, looked at only where those stay inside the matched stretch (beyond it other footage
    would differ whatever the alignment).

    A still shot, or footage so slow that every frame looks like those around it for seconds,
    matches itself at any offset; only footage that moves pins down an alignment. This also
    rejects an offset that merely happens to pass with look-alike pictures.
    """
    if len(frames) > 256:
        frames = frames[np.linspace(0, len(frames) - 1, 256).astype(np.int64)]
    if not len(frames):
        return False
    aligned, _ = compare(ta, tb, line, frames, params)
    if _contrast(ta, tb, line, frames, aligned, params.motion_lag, params, None):
        return True
    mapped = line.at(ta.times[frames])
    inside = (float(np.min(mapped)), float(np.max(mapped)))
    return any(
        _contrast(ta, tb, line, frames, aligned, k * params.motion_lag, params, inside)
        for k in SLOW_LAGS
    )


def _contrast(
    ta: Track,
    tb: Track,
    line: Line,
    frames: np.ndarray,
    aligned: np.ndarray,
    lag: float,
    params: MatchParams,
    inside: tuple[float, float] | None,
) -> bool:
    """Whether the pictures `lag` seconds off are min_motion bits farther than the aligned ones
    for a quarter of the frames; with `inside`, only at times of tb within it, and only if a
    quarter of the frames have such a picture."""
    before, status_before = compare(ta, tb, line.shifted(-lag), frames, params)
    after, status_after = compare(ta, tb, line.shifted(lag), frames, params)
    ok_before, ok_after = status_before > -2, status_after > -2
    if inside is not None:
        mapped = line.at(ta.times[frames])
        ok_before &= mapped - lag >= inside[0]
        ok_after &= mapped + lag <= inside[1]
    before = np.where(ok_before, before, after)
    after = np.where(ok_after, after, before)
    usable = ok_before | ok_after
    if not usable.any() or (inside is not None and usable.mean() < 0.25):
        return False
    contrast = np.minimum(before, after)[usable] - aligned[usable]
    return bool(np.quantile(contrast, 0.75) >= params.min_motion)


def trimmed(
    ta: Track,
    tb: Track,
    line: Line,
    ends: tuple[int, int, int, int],
    a_side: tuple[np.ndarray, np.ndarray],
    median: float,
    params: MatchParams,
) -> tuple[int, int, int, int]:
    """The ends (a0, a1, b0, b1) of a pair segment along `line`, of median distance `median`,
    without the frames at either end of either side farther than END_MARGIN bits beyond it (or
    the seed radius): none left on a side, its first > its last. `a_side`: the (distance,
    status) of frames a0..a1, as `compare` gave them.

    The walk along a line (`extent`) ends at the last frame within extend_radius: next to a
    copy's footage it can walk a few frames into unrelated footage that happens to be that
    close (a clip in a phone's frame began 4 frames early, its filler 14 bits from the
    original's, the clip's frames 0-2)."""
    limit = max(params.radius, median + END_MARGIN)
    a0, a1, b0, b1 = ends
    b_side = compare(tb, ta, line.inverse(), np.arange(b0, b1 + 1), params)
    return (*_close_ends(a0, a1, *a_side, limit), *_close_ends(b0, b1, *b_side, limit))


def _close_ends(
    first: int, last: int, dist: np.ndarray, status: np.ndarray, limit: float
) -> tuple[int, int]:
    """The first and last of frames first..last (their `dist` and `status`) matched within
    `limit`; first > last if none is."""
    close = first + np.flatnonzero((status == 1) & (dist <= limit))
    return (int(close[0]), int(close[-1])) if len(close) else (last + 1, last)


def snap(ta: Track, tb: Track, i: int, j: int, params: MatchParams) -> tuple[int, int]:
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
    return options[int(np.argmin(distance(code[None], track.codes[options])))]


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
    period, phased from the start of the repeating stretch, so that they do not overlap. A
    mirrored hit is grown on `other`'s mirrored view (`Track.mirrored`).
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
    first = Line(float(other.times[other_frame] - query.times[frame]))
    line = _settle(query, other, first, frame, params, same=same)
    lo, hi, _, _ = extent(query, other, line, frame, frame, params)
    if same:
        period = other_frame - frame
        lo += (frame - lo) // period * period
        hi = min(hi, lo + period - 1)
        b0, b1 = lo + period, hi + period
    else:
        b0, b1, _, _ = extent(other, query, line.inverse(), other_frame, other_frame, params)
    mirrored = query.mirrored != other.mirrored
    return occurrence(query, lo, hi), occurrence(other, b0, b1, mirrored=mirrored)
