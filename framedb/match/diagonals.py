"""Diagonals: the seeds of a pair of views chained along one line (an offset, and for views of
two videos a rate), each chain refined and extended along its line and checked, into pair
segments. Nearby lines over the same frames are shadows of one alignment and are not extended
twice; pair segments of one pair of videos that overlap on one line are merged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from framedb.match.align import Line, compare, extent, moving, refine, snap, trimmed
from framedb.match.cuts import on_cuts
from framedb.match.rates import (
    MAX_RATE_SEEDS,
    MIN_RATE_CHANGE,
    MIN_RATE_SEEDS,
    RATE_BIN,
    RATES,
    rate_wins,
    tilted,
)
from framedb.match.seeds import Runs
from framedb.match.tracks import PARTS, TURNED, WHOLE, MatchParams, Track

SAME_DIAGONAL = 3.0  # offsets this many frames apart over the same frames are one diagonal


@dataclass(frozen=True)
class Pair:
    """A pair segment: frames a0..a1 of track a show what b0..b1 of track b show, along `line`
    (t_b = line.rate * t_a + line.dt), b's pictures mirrored if `mirrored`; `distance`: the
    median Hamming distance of its aligned frames."""

    a: int
    b: int
    line: Line
    a0: int
    a1: int
    b0: int
    b1: int
    mirrored: bool = False
    distance: float = 0.0


@dataclass(frozen=True)
class Chain:
    """Seeds on one line between views a and b: frames i0..i1 of a, j0..j1 of b."""

    a: int
    b: int
    line: Line
    i0: int
    i1: int
    j0: int
    j1: int
    support: int


@dataclass(frozen=True)
class ViewOf:
    """Which track a view shows (its position in the tracks), whether mirrored, and which part
    of its pictures (framedb.match.tracks.PARTS)."""

    track: int
    mirrored: bool
    part: str = WHOLE


def chains_of(
    views: Sequence[Track],
    owners: Sequence[ViewOf],
    runs: Runs,
    seeds: tuple[np.ndarray, ...],
    params: MatchParams,
) -> list[Chain]:
    """Seeds binned by offset (one frame wide) and chained along time with gaps <= max_gap; for
    views of two videos, also along lines of other rates (0.5x to 2x). Strongest first.

    A chain's offset is the median of all seeds of its pair of views within two frames of its
    bin over its time span: seeds scatter over neighbouring bins (slow footage, other frame
    rates), and one bin alone would bias it by up to a frame. Seeds of a long plain chain
    are left out of the search for other rates (they are explained at rate 1).
    """
    x, y, _ = seeds
    if not len(x):
        return []
    a, b, ta = runs.track[x], runs.track[y], runs.time[x]
    ia, ib = runs.frame[x], runs.frame[y]
    tb = runs.time[y]
    order = np.lexsort((ta, b, a))
    a, b, ia, ib, ta, tb = a[order], b[order], ia[order], ib[order], ta[order], tb[order]
    edges = np.flatnonzero((a[1:] != a[:-1]) | (b[1:] != b[:-1])) + 1
    chains = []
    for s, e in zip(np.r_[0, edges], np.r_[edges, len(a)], strict=True):
        pa, pb = int(a[s]), int(b[s])
        width = max(views[pa].step, views[pb].step)
        frames = np.stack([ia[s:e], ib[s:e]])
        plain, on_plain = _pair_chains(pa, pb, frames, ta[s:e], tb[s:e] - ta[s:e], width, params)
        chains += plain
        if owners[pa].track != owners[pb].track:
            rest = ~on_plain
            chains += _rate_chains(
                pa, pb, frames[:, rest], ta[s:e][rest], tb[s:e][rest], width, params
            )

    # Best supported first; a line of another rate counts its seeds at 2/3: footage at another
    # rate is the exception, and slow footage fits lines of other rates over parts of a plain one.
    # Whole pictures before parts: they place a line more exactly (more of the picture moves).
    def rank(c: Chain) -> tuple[float, bool, int, int, int]:
        on_parts = owners[c.a].part != WHOLE or owners[c.b].part != WHOLE
        support = c.support if c.line.rate == 1.0 else c.support / 1.5
        return -support, on_parts, c.a, c.b, c.i0

    chains.sort(key=rank)
    return chains


def _pair_chains(
    a: int,
    b: int,
    frames: np.ndarray,
    ta: np.ndarray,
    dt: np.ndarray,
    width: float,
    params: MatchParams,
) -> tuple[list[Chain], np.ndarray]:
    """Chains of one pair of views at rate 1, and which seeds lie on one of at least
    2 x MIN_RATE_SEEDS; seeds (frames: rows a, b) come sorted by time in a."""
    k = np.round(dt / width).astype(np.int64)
    order = np.lexsort((ta, k))
    ks, ts = k[order], ta[order]
    brk = np.ones(len(ks), bool)
    brk[1:] = (ks[1:] != ks[:-1]) | ((ts[1:] - ts[:-1]) > params.max_gap)
    starts = np.flatnonzero(brk)
    ends = np.append(starts[1:], len(ks))
    chains = []
    long = np.zeros(len(ta), bool)
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if e - s < params.min_seeds:
            continue
        if e - s >= 2 * MIN_RATE_SEEDS:
            long[order[s:e]] = True
        lo = int(np.searchsorted(ta, ts[s], "left"))
        hi = int(np.searchsorted(ta, ts[e - 1], "right"))
        near = dt[lo:hi]
        near = near[np.abs(near - ks[s] * width) <= 2 * width]
        ia, ib = frames[0, order[s:e]], frames[1, order[s:e]]
        line = Line(float(np.median(near)))
        chains.append(
            Chain(a, b, line, int(ia.min()), int(ia.max()), int(ib.min()), int(ib.max()), e - s)
        )
    return chains, long


def _rate_chains(
    a: int,
    b: int,
    frames: np.ndarray,
    ta: np.ndarray,
    tb: np.ndarray,
    width: float,
    params: MatchParams,
) -> list[Chain]:
    """Chains of one pair of views along lines of other rates (a Hough transform over RATES):
    per rate, seeds binned by t_b - rate * t_a, RATE_BIN frames wide, chained along time; a
    chain of at least MIN_RATE_SEEDS seeds gets the line fitted to its seeds (least squares).
    Rates within 3 % of 1 are left to the plain chains."""
    if len(ta) < MIN_RATE_SEEDS:
        return []
    if len(ta) > MAX_RATE_SEEDS:
        keep = np.linspace(0, len(ta) - 1, MAX_RATE_SEEDS).astype(np.int64)
        frames, ta, tb = frames[:, keep], ta[keep], tb[keep]
    best: dict[tuple[int, int], Chain] = {}
    for rate in RATES:
        if abs(np.log(rate)) < MIN_RATE_CHANGE - 0.01:
            continue
        k = np.round((tb - rate * ta) / (RATE_BIN * width)).astype(np.int64)
        order = np.lexsort((ta, k))
        ks, ts = k[order], ta[order]
        brk = np.ones(len(ks), bool)
        brk[1:] = (ks[1:] != ks[:-1]) | ((ts[1:] - ts[:-1]) > params.max_gap)
        starts = np.flatnonzero(brk)
        ends = np.append(starts[1:], len(ks))
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            if e - s < MIN_RATE_SEEDS:
                continue
            pick = order[s:e]
            fit_rate, fit_dt = np.polyfit(ta[pick], tb[pick], 1)
            if not 0.45 <= fit_rate <= 2.2 or abs(np.log(fit_rate)) < MIN_RATE_CHANGE:
                continue
            ia, ib = frames[0, pick], frames[1, pick]
            chain = Chain(
                a,
                b,
                Line(float(fit_dt), float(fit_rate)),
                int(ia.min()),
                int(ia.max()),
                int(ib.min()),
                int(ib.max()),
                e - s,
            )
            span = (chain.i0 // 32, chain.j0 // 32)  # one chain per stretch: its best rate
            if span not in best or chain.support > best[span].support:
                best[span] = chain
    return list(best.values())


def _segment(
    ta: Track, tb: Track, chain: Chain, params: MatchParams, same: bool
) -> tuple[Pair | None, Line, int, int]:
    """Extend one chain into a checked pair segment between tracks `ta` and `tb` (as
    `compared` gives them; or None); also the line used and the range of `ta` looked at,
    so that later chains on it can be skipped. A plain segment between two videos is replaced
    by the segment along a line of another rate that fits its frames clearly better."""
    pair, line, lo, hi = _extended(ta, tb, chain, params, same)
    if pair is None or same or line.rate != 1.0:
        return pair, line, lo, hi
    tilt = tilted(ta, tb, pair.line, pair.a0, pair.a1, params)
    better = _extended(ta, tb, replace(chain, line=tilt), params, same) if tilt else None
    if better is None or better[0] is None:
        return pair, line, lo, hi
    return better[0], better[1], min(lo, better[2]), max(hi, better[3])


def _extended(
    ta: Track, tb: Track, chain: Chain, params: MatchParams, same: bool
) -> tuple[Pair | None, Line, int, int]:
    """`_segment` along the chain's own line, refined; between two videos moved onto the cuts
    at both of its ends where they show it is off (`on_cuts`)."""
    line = refine(ta, tb, chain.line, chain.i0, chain.i1, params, same=same)
    a0, a1, _, _ = extent(ta, tb, line, chain.i0, chain.i1, params)
    line = refine(ta, tb, line, a0, a1, params, same=same)  # again, on all the frames found
    if line.rate != 1.0 and not rate_wins(ta, tb, line, a0, a1, params, same):
        return None, line, chain.i0, chain.i1  # a plain line's business
    pair, seen_lo, seen_hi = _checked(ta, tb, chain, line, params, same)
    moved = None
    if pair is not None and not same:
        moved = on_cuts(ta, tb, line, (pair.a0, pair.a1, pair.b0, pair.b1), params)
    if moved is not None:
        again, lo, hi = _checked(ta, tb, chain, moved, params, same)
        if again is not None:
            return again, moved, min(seen_lo, lo), max(seen_hi, hi)
    return pair, line, seen_lo, seen_hi


def _checked(
    ta: Track, tb: Track, chain: Chain, line: Line, params: MatchParams, same: bool
) -> tuple[Pair | None, int, int]:
    """The pair segment the chain's frames grow into along `line`, if it holds (long enough,
    most of its frames matched, close, moving), its ends trimmed and snapped; and the range
    of `ta` looked at."""
    a0, a1, seen_lo, seen_hi = extent(ta, tb, line, chain.i0, chain.i1, params)
    idx = np.arange(a0, a1 + 1)
    dist, status = compare(ta, tb, line, idx, params)
    matched = idx[status == 1]
    length = ta.times[a1] - ta.times[a0] + ta.step
    # Two copies of a transformed picture may sit a little further apart than the seed radius;
    # footage repeated inside one video went through one encoder, and slow footage (a hall
    # with people walking) is within 9-10 bits of itself seconds later: there, the radius.
    limit = params.radius if same else params.radius + 2
    median = float(np.median(dist[status != 0]))
    if (
        length < params.min_length
        or (status == 1).sum() < 0.5 * (status != 0).sum()
        or median > limit
        or not moving(ta, tb, line, matched, params)
    ):
        return None, seen_lo, seen_hi
    b0, b1, _, _ = extent(tb, ta, line.inverse(), chain.j0, chain.j1, params)
    a0, a1, b0, b1 = trimmed(ta, tb, line, (a0, a1, b0, b1), (dist, status), median, params)
    if a0 <= a1 and b0 <= b1 and abs(line.at(ta.times[a0]) - tb.times[b0]) > tb.step / 4:
        a0, b0 = snap(ta, tb, a0, b0, params)  # off the frame grid
    if a0 > a1 or b0 > b1:
        return None, seen_lo, seen_hi
    return Pair(chain.a, chain.b, line, a0, a1, b0, b1, False, median), seen_lo, seen_hi


@dataclass(frozen=True)
class _Seen:
    """A line already extended: it, the frames of view a looked at, and whether it became a
    pair segment."""

    line: Line
    lo: int
    hi: int
    accepted: bool
    whole: bool = True  # found on whole pictures of both tracks


def _explained(
    chain: Chain,
    seen: list[_Seen],
    ta: Track,
    width: float,
    lag: float,
    same: bool,
    whole: bool = True,
) -> bool:
    """Whether an earlier extension already covers the chain: the same diagonal (to within
    SAME_DIAGONAL frames, at a rate within 1 %), a shadow of an accepted one (less than
    motion_lag away where the chain is, whatever its rate: slow footage matches nearly as well;
    but a plain chain on `whole` pictures is no shadow of a line found on parts of them, which it
    may place better: `_closer`), or, inside one video, a multiple k x P of a loop's period P
    found earlier (k steps of P imply it)."""
    mid = float(ta.times[(chain.i0 + chain.i1) // 2])
    for s in seen:
        if not s.lo <= chain.i0 <= chain.i1 <= s.hi:
            continue
        apart = abs(float(chain.line.at(mid)) - float(s.line.at(mid)))
        if (
            s.accepted
            and (s.whole or not whole or chain.line.rate != 1.0)
            and apart <= max(SAME_DIAGONAL * width, lag) + 1e-9
        ):
            return True
        if not _same_rate(chain.line, s.line):
            continue
        if apart <= SAME_DIAGONAL * width + 1e-9:
            return True
        dt, period = chain.line.dt, s.line.dt
        k = round(dt / period) if same and period > 0 else 0
        if (
            k >= 2
            and abs(dt - k * period) <= SAME_DIAGONAL * width + 1e-9
            and chain.i1 + (k - 1) * round(period / ta.step) <= s.hi
        ):
            return True
    return False


def pair_segments(
    views: Sequence[Track],
    owners: Sequence[ViewOf],
    chains: list[Chain],
    params: MatchParams,
) -> list[Pair]:
    """Pair segments from the chains, strongest first, skipping chains already explained; in
    track positions (`owners` of the views), mirrored where one view is and the other not. A
    chain of whole pictures is extended on whole pictures (the least of several distances lets
    near misses carry a loop's ends into look-alike footage), one on turned hashes on its own
    views, and one on another part's on every code of both frames, whole, inner and middle (a
    crop sits between the scales stored). A chain across two videos that does not hold is tried
    once more from the other video's side, its line refined on that side's frames."""
    seen: dict[tuple[int, int, bool], list[_Seen]] = {}
    found: list[Pair] = []
    position: dict[ViewOf, int] = {}
    for k, owner in enumerate(owners):
        position.setdefault(owner, k)  # the first: an empty view may repeat a key

    def compared(k: int) -> Track:
        """Every code of view k's track, mirrored like it: its views of every part it has."""
        own = owners[k]
        keys = [ViewOf(own.track, own.mirrored, part) for part in PARTS]
        whole, *others = [views[position[key]] for key in keys if key in position]
        return whole.beside(*[view for view in others if len(view)])

    for chain in chains:
        if owners[chain.a].track > owners[chain.b].track:  # one direction per pair of tracks
            chain = _flipped(chain)
        va, vb = owners[chain.a], owners[chain.b]
        same = va.track == vb.track
        ta, tb = views[chain.a], views[chain.b]
        done = seen.setdefault((va.track, vb.track, va.mirrored != vb.mirrored), [])
        whole = va.part == vb.part == WHOLE
        if _explained(chain, done, ta, max(ta.step, tb.step), params.motion_lag, same, whole):
            continue
        if not whole and not {va.part, vb.part} & set(TURNED):
            ta, tb = compared(chain.a), compared(chain.b)
        pair, line, lo, hi = _segment(ta, tb, chain, params, same)
        if pair is None and not same:
            pair = _from_other_side(ta, tb, chain, params)
        done.append(_Seen(line, min(lo, chain.i0), max(hi, chain.i1), pair is not None, whole))
        if pair is not None:
            mirrored = va.mirrored != vb.mirrored
            pair = replace(pair, a=va.track, b=vb.track, mirrored=mirrored)
            found = _closer(found, pair, views[chain.a], params.motion_lag)
    times: dict[int, np.ndarray] = {}
    for view, owner in zip(views, owners, strict=True):
        times.setdefault(owner.track, view.times)  # the first block: every track's own view
    return _merge(found, times, params)


def _closer(found: list[Pair], pair: Pair, ta: Track, lag: float) -> list[Pair]:
    """`found` with `pair` added, where it and a pair found before place the same footage of
    the same two tracks differently (less than `lag` apart where both are, but more than
    SAME_DIAGONAL frames or at rates more than 1 % apart: a line found on parts of the pictures,
    then one on whole pictures), only the one whose frames are the closer (the earlier on a tie).
    (Parts of two pictures of one size, 10 % apart in scale, match as well a few frames off
    where the footage zooms or pans, or at a slightly other rate where the camera zooms.)
    `ta`: track a's view, for its frame times."""
    rivals = []
    for q in found:
        if (q.a, q.b, q.mirrored) != (pair.a, pair.b, pair.mirrored):
            continue
        if not (pair.a0 <= q.a1 and q.a0 <= pair.a1):
            continue
        apart = _apart(pair, q, ta.times)
        one_line = _same_rate(q.line, pair.line) and apart <= SAME_DIAGONAL * ta.step
        if apart < lag and not one_line:
            rivals.append(q)
    if any(q.distance <= pair.distance for q in rivals):
        return found
    return [q for q in found if not any(q is r for r in rivals)] + [pair]


def _from_other_side(ta: Track, tb: Track, chain: Chain, params: MatchParams) -> Pair | None:
    """`_segment` of the chain seen from `tb`, as a pair from `ta`'s side again (or None)."""
    pair = _segment(tb, ta, _flipped(chain), params, False)[0]
    if pair is None:
        return None
    a0, a1, b0, b1 = pair.b0, pair.b1, pair.a0, pair.a1
    return replace(pair, a=chain.a, b=chain.b, line=pair.line.inverse(), a0=a0, a1=a1, b0=b0, b1=b1)


def _flipped(c: Chain) -> Chain:
    """The same chain seen from its other view."""
    return Chain(c.b, c.a, c.line.inverse(), c.j0, c.j1, c.i0, c.i1, c.support)


def _merge(pairs: list[Pair], times: dict[int, np.ndarray], params: MatchParams) -> list[Pair]:
    """Overlapping pair segments of one pair of tracks on one line (less than motion_lag apart
    where they overlap, rates within 1 %), as one; the line of the first found (the best
    supported) is kept."""
    out: dict[tuple[int, int, bool], list[Pair]] = {}
    for p in pairs:
        kept = out.setdefault((p.a, p.b, p.mirrored), [])
        for k, q in enumerate(kept):
            if not (p.a0 <= q.a1 + 1 and q.a0 <= p.a1 + 1):
                continue
            if _same_rate(p.line, q.line) and _apart(p, q, times[p.a]) < params.motion_lag:
                a0, a1 = min(p.a0, q.a0), max(p.a1, q.a1)
                b0, b1 = min(p.b0, q.b0), max(p.b1, q.b1)
                kept[k] = replace(q, a0=a0, a1=a1, b0=b0, b1=b1)
                break
        else:
            kept.append(p)
    return [p for kept in out.values() for p in kept]


def _same_rate(a: Line, b: Line) -> bool:
    """Whether two lines' rates are within 1 % of each other."""
    return bool(abs(np.log(a.rate / b.rate)) <= 0.01)


def _apart(p: Pair, q: Pair, times: np.ndarray) -> float:
    """Seconds between two pairs' lines in the middle of where both are (or meet) on track a
    (`times`: its frame times)."""
    mid = float(times[(max(p.a0, q.a0) + min(p.a1, q.a1)) // 2])
    return abs(float(q.line.at(mid)) - float(p.line.at(mid)))
