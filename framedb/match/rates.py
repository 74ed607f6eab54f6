"""Lines of another rate than 1 between two videos (footage played faster or slower): the rates
tried, the vote for a line of another rate over the frames of a plain segment (`tilted`), and the
test that a line of another rate is that rate's and not a plain line's (`rate_wins`)."""

from __future__ import annotations

import numpy as np

from framedb.hashing import hamming
from framedb.match.align import Line, cost, refine
from framedb.match.tracks import MatchParams, Track, nearest

# Rates tried between two videos: 0.5x to 2x, 2 % apart (seeds of the true rate then fall in the
# bins of the nearest one, two frames wide, over ten seconds of footage); 1 is the plain binning.
RATES = np.exp(np.arange(round(np.log(0.5) / 0.02), round(np.log(2.0) / 0.02) + 1) * 0.02)
RATE_BIN = 2.0  # frames
MIN_RATE_SEEDS = 8  # seeds on a line of another rate before it is worth extending
MAX_RATE_SEEDS = 20_000  # seeds of one pair of videos the rate search looks at, at most
MIN_RATE_CHANGE = 0.04  # log of a rate: closer to 1 than this (4 %), footage plays at rate 1
RATE_MARGIN = 1.5  # bits a frame a line of another rate must beat the plain line by
TILT_SPAN = 512  # frames in the middle of a plain segment looked at for a tilted line (`tilted`)
TILT_FRAMES = 128  # ... of which this many vote (a bounded table of distances, whatever its length)


def tilted(ta: Track, tb: Track, line: Line, a0: int, a1: int, params: MatchParams) -> Line | None:
    """The line of another rate (RATES) that fits frames a0..a1 of a plain segment along `line`
    best, if RATE_MARGIN bits a frame better than its own line. Found by a vote like the seeds' rate
    search, but over every near pair of frames in the middle of the segment (up to TILT_FRAMES
    of its middle TILT_SPAN frames, against every frame of the other video within half that
    span of the plain line): slow footage gives the seeds too few frames on the true line."""
    middle = (a0 + a1) // 2
    lo, hi = max(a0, middle - TILT_SPAN // 2), min(a1, middle + TILT_SPAN // 2)
    idx = np.arange(lo, hi + 1)
    idx = idx[ta.detail[idx] >= params.min_detail]
    if len(idx) > TILT_FRAMES:
        idx = idx[np.linspace(0, len(idx) - 1, TILT_FRAMES).astype(np.int64)]
    half = (ta.times[hi] - ta.times[lo]) / 2  # as far again on either side of the plain line
    ends = np.array([line.at(ta.times[lo]) - half, line.at(ta.times[hi]) + half])
    first, last = nearest(tb.times, ends)
    jdx = np.arange(first, last + 1)
    jdx = jdx[tb.detail[jdx] >= params.min_detail]
    plain = cost(ta, tb, line, idx, params)
    if len(idx) < MIN_RATE_SEEDS or not len(jdx) or plain < RATE_MARGIN:  # none can beat it
        return None
    a, b = ta.codes[idx], tb.codes[jdx]
    if a.ndim == 2:
        d = hamming(a[:, None, :], b[None, :, :])
    else:  # several codes a frame (`Track.beside`): the nearest of them
        d = hamming(a[:, None, :, None, :], b[None, :, None, :, :]).min(axis=(2, 3))
    # each frame votes for its nearest frames only: slow footage is near itself everywhere
    near = d <= np.minimum(params.radius, d.min(axis=1, keepdims=True) + 1)
    i, j = np.nonzero(near)
    t_a, t_b = ta.times[idx][i], tb.times[jdx][j]
    width = max(ta.step, tb.step)
    best, votes = None, MIN_RATE_SEEDS - 1
    for rate in RATES[np.abs(np.log(RATES)) >= MIN_RATE_CHANGE]:
        dt = t_b - rate * t_a
        cell = np.unique(np.round(dt / width).astype(np.int64) * len(idx) + i)  # a vote a frame
        bins, count = np.unique(np.floor_divide(cell, len(idx)), return_counts=True)
        top = int(np.argmax(count))
        if count[top] > votes:
            votes, best = int(count[top]), Line(float(bins[top] * width), float(rate))
    if best is None:
        return None
    if cost(ta, tb, best, idx, params) > plain - RATE_MARGIN:
        return None
    return best


def rate_wins(
    ta: Track, tb: Track, line: Line, a0: int, a1: int, params: MatchParams, same: bool
) -> bool:
    """Whether a line of another rate is that rate's: at least 4 % from 1, and over frames
    a0..a1 clearly better (RATE_MARGIN bits a frame) than every plain line through one of
    nine points along it (slow footage, or a crop, fits a line of another rate nearly as well
    as the plain one it crosses)."""
    if abs(np.log(line.rate)) < MIN_RATE_CHANGE:
        return False
    idx = np.arange(a0, a1 + 1)
    idx = idx[ta.detail[idx] >= params.min_detail]
    if not len(idx):
        return False
    own = cost(ta, tb, line, idx, params)
    for t in np.linspace(float(ta.times[idx[0]]), float(ta.times[idx[-1]]), 9):
        plain = refine(ta, tb, Line(float(line.at(t)) - t), a0, a1, params, same=same)
        if cost(ta, tb, plain, idx, params) <= own + RATE_MARGIN:
            return False
    return True
