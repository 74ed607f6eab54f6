"""Dot plots: time in one video against time in another (or in itself), one dot per pair of
frames whose hashes match, so that repeated footage draws diagonals. The pairs are computed here,
the chart is drawn by framedb.evidence.plots.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from framedb.evidence.spans import span
from framedb.match.tracks import MatchParams, Track

if TYPE_CHECKING:
    from framedb.evidence.plots import Plot

# The dot plot compares sampled rows with every frame; this bounds rows x distinct codes.
DOT_BUDGET = 3e8
DOT_ROWS = (200, 1500)
MAX_DOTS = 60_000


def _words(codes: np.ndarray) -> np.ndarray:
    codes = np.ascontiguousarray(codes)
    return codes.view(np.uint64) if codes.shape[1] % 8 == 0 else codes


def match_dots(
    a: Track,
    b: Track,
    *,
    radius: int,
    min_detail: float,
    min_gap: float,
    max_dots: int = MAX_DOTS,
    budget: float = DOT_BUDGET,
) -> tuple[np.ndarray, np.ndarray]:
    """(times in a, times in b) of frame pairs within `radius` bits: a sample of a's detailed
    frames (the rows) against every detailed frame of b, so that every diagonal keeps its dots
    whatever the sampling. For a == b, pairs closer than `min_gap` seconds are left out."""
    rows = np.flatnonzero(a.detail >= min_detail)
    cols = np.flatnonzero(b.detail >= min_detail)
    empty = np.empty(0, np.float64)
    if not len(rows) or not len(cols):
        return empty, empty.copy()
    col_codes = np.ascontiguousarray(b.codes[cols])
    view = col_codes.view(np.dtype((np.void, col_codes.shape[1]))).ravel()
    distinct, inverse = np.unique(view, return_inverse=True)
    distinct_words = _words(distinct.view(np.uint8).reshape(len(distinct), -1))
    inverse = inverse.ravel()
    limit = int(min(DOT_ROWS[1], max(DOT_ROWS[0], budget / len(distinct))))
    if len(rows) > limit:
        rows = rows[np.linspace(0, len(rows) - 1, limit).round().astype(np.int64)]
    row_words = _words(a.codes[rows])
    block = max(1, int(4_000_000 // max(1, len(distinct) * row_words.shape[1])))
    hit_rows, hit_codes = [], []
    for s in range(0, len(rows), block):
        dist = np.bitwise_count(row_words[s : s + block, None, :] ^ distinct_words[None]).sum(
            axis=-1, dtype=np.int32
        )
        r, c = np.nonzero(dist <= radius)
        hit_rows.append(r + s)
        hit_codes.append(c)
    r = np.concatenate(hit_rows)
    c = np.concatenate(hit_codes)
    # every frame of b that has a matching code, through the frames of b sorted by code; when
    # there are too many (a still shot matches itself everywhere), a uniform sample of them
    by_code = np.argsort(inverse, kind="stable")
    count = np.bincount(inverse, minlength=len(distinct))
    first = np.cumsum(count) - count
    n = count[c]
    total = int(n.sum())
    if not total:
        return empty, empty.copy()
    if total > max_dots:
        picks = np.sort(np.random.default_rng(0).integers(0, total, max_dots))
    else:
        picks = np.arange(total)
    ends = np.cumsum(n)
    hit = np.searchsorted(ends, picks, side="right")
    within = picks - (ends[hit] - n[hit])
    xs = a.times[rows[r[hit]]]
    ys = b.times[cols[by_code[first[c[hit]] + within]]]
    if a is b:
        keep = np.abs(ys - xs) >= min_gap
        xs, ys = xs[keep], ys[keep]
    return xs, ys


def dots_of(a: Track, b: Track, params: MatchParams) -> tuple[np.ndarray, np.ndarray]:
    """The matching frame pairs of a dot plot, with the matcher's thresholds."""
    return match_dots(
        a, b, radius=params.radius, min_detail=params.min_detail, min_gap=params.min_gap
    )


def dot_plot(
    a: Track,
    b: Track,
    names: tuple[str, str],
    params: MatchParams,
    dots: tuple[np.ndarray, np.ndarray] | None = None,
) -> Plot:
    """The dot plot of two tracks (or of one against itself); `dots` if already computed."""
    from framedb.evidence.plots import dot_plot as draw

    xs, ys = dots if dots is not None else dots_of(a, b, params)
    same = a is b
    what = f"{names[0]} against itself" if same else f"{names[0]} against {names[1]}"
    return draw(
        xs,
        ys,
        x_span=span(a),
        y_span=span(b),
        x_label=f"time in {_short(names[0])}",
        y_label=f"time in {_short(names[1])}",
        title=f"{what}: {len(xs):,} matching frame pairs (d <= {params.radius})",
        same_video=same,
    )


def _short(name: str, limit: int = 40) -> str:
    return name if len(name) <= limit else name[: limit - 12] + "..." + name[-9:]
