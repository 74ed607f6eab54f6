"""Cuts: where a video's picture changes at once from one shot to the next, the sharpest evidence
of timing two videos have. Footage that barely moves (a hall filmed at ten pictures a second,
people walking slowly) hashes alike for several frames: in a crop to 75 % of it, matched on the
source's inner picture (6 % off in scale), every offset from four frames early to the true one
is 9.1-9.3 bits a frame, and the line found sat eight frames late (a generated scene at a sixth
of its speed: 25 frames). Where the copy's footage begins and ends at a cut in both videos, the
cuts say where it is: a plain segment between two videos whose start and end each lie near a
cut in both, the two ends agreeing on how far off the line is, is moved onto the cuts
(`on_cuts`), if its frames match about as well there; it is then checked as any line is."""

from __future__ import annotations

import math

import numpy as np

from framedb.match.align import Line, changes, cost
from framedb.match.tracks import MatchParams, Track

CUT_SHARE = 0.25  # a cut changes at least this share of the bits from one frame to the next ...
CUT_RATIO = 2.0  # ... and this many times as many as any other change within CUT_CALM frames
CUT_CALM = 4
CUT_REACH = 1.0  # seconds from a segment's end a cut may be to count as that end's
CUT_AGREE = 1.0  # frames the two ends' shifts may differ by
CUT_MOVE = 1.5  # frames off at least before the line is moved (nearer, `snap` sees to it)
# Bits a frame the moved line may match worse by: a 75 % crop of slow footage, 6 % off in scale
# from the inner picture, matched best off its cuts (vtest 0.2 bits, a generated scene 0.7).
CUT_COST = 1.0


def cuts(track: Track, params: MatchParams, first: int = 1, last: int | None = None) -> np.ndarray:
    """The frames of `track` from `first` to `last` (by default all) that begin a shot: far from
    the frame before (CUT_SHARE of the bits, and CUT_RATIO times any change within CUT_CALM
    frames either side), both frames detailed. Only the frames around them are compared."""
    n = len(track)
    last = n - 1 if last is None else min(last, n - 1)
    first = max(first, 1)
    if first > last:
        return np.empty(0, np.int64)
    lo, hi = max(1, first - CUT_CALM), min(n - 1, last + CUT_CALM)  # changes looked at
    change = changes(track.codes, np.arange(lo - 1, hi))  # change[k - lo]: frame k - 1 to k
    calm = np.zeros(len(change))  # the largest other change within CUT_CALM frames
    for k in range(1, CUT_CALM + 1):
        calm[:-k] = np.maximum(calm[:-k], change[k:])
        calm[k:] = np.maximum(calm[k:], change[:-k])
    bits = 8 * track.codes.shape[-1]
    sharp = (change >= CUT_SHARE * bits) & (change >= CUT_RATIO * calm)
    detailed = track.detail[lo - 1 : hi + 1] >= params.min_detail  # frames lo - 1 .. hi
    sharp &= detailed[1:] & detailed[:-1]
    frames = np.arange(lo, hi + 1)
    return frames[sharp & (frames >= first) & (frames <= last)]


def on_cuts(
    ta: Track, tb: Track, line: Line, ends: tuple[int, int, int, int], params: MatchParams
) -> Line | None:
    """`line` (plain) moved so that the cuts next to both ends of the segment `ends` (a0, a1, b0,
    b1) line up in both tracks, or None where there is no such pair of cuts at each end, the two
    ends disagree, the line is already within CUT_MOVE frames of them, or its frames a0..a1
    match more than CUT_COST bits a frame worse moved."""
    a0, a1, b0, b1 = ends
    if line.rate != 1.0 or a0 > a1 or b0 > b1:
        return None
    shifts = []
    for fa, fb in ((a0, b0), (a1 + 1, b1 + 1)):  # a shot begins at a0, the next after a1
        ca, cb = _near(ta, fa, params), _near(tb, fb, params)
        if ca is None or cb is None:
            return None
        shifts.append(float(tb.times[cb]) - float(line.at(ta.times[ca])))
    width = max(ta.step, tb.step)
    if abs(shifts[0] - shifts[1]) > CUT_AGREE * width + 1e-9:
        return None
    shift = (shifts[0] + shifts[1]) / 2
    if abs(shift) < CUT_MOVE * width:
        return None
    moved = line.shifted(shift)
    idx = np.arange(a0, a1 + 1)
    idx = idx[ta.detail[idx] >= params.min_detail]
    if not len(idx):
        return None
    before, after = cost(ta, tb, line, idx, params), cost(ta, tb, moved, idx, params)
    return moved if math.isfinite(after) and after <= before + CUT_COST else None


def _near(track: Track, frame: int, params: MatchParams) -> int | None:
    """The cut of `track` nearest `frame` within CUT_REACH seconds, or None."""
    reach = int(CUT_REACH / track.step + 1e-9)
    cut = cuts(track, params, frame - reach, frame + reach)
    if not len(cut):
        return None
    return int(cut[np.argmin(np.abs(cut - frame))])
