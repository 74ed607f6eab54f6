"""Turned hashes: of the centre of a picture turned a few degrees each way, for copies rotated by
as much (a reaction channel tilting its source to dodge matching, a phone filmed off a screen).

A 64-bit DCT hash flips 10-14 of its bits when the picture turns by 5°, and a copy turned so is
also zoomed to fill its frame: 12-15 bits from its source's every stored box (transforms
benchmark), where unrelated pictures sit near 32 and the seed radius is 8. A hash of the source's
centre turned the same way is 2-6 bits from the copy's whole picture.

Each frame gets two (`turned`): the centre TURN_SCALE of its content box turned TURN_DEGREES
clockwise, then counter-clockwise, as one (B, 2 x bytes) array. A copy turned clockwise is then
near its source in two ways, each found from one side's stored hashes (framedb.match.seeds): the
source's clockwise hash is near the copy's hash (the same part, turned alike), and the copy's
counter-clockwise hash, which turns it back, near the source's inner hash (a centre: the copy was
zoomed). Neither is indexed: of two videos the one looked up later finds the other by its own
(framedb.match.hits.videos_near).

Computed from the picture already scaled for the other hashes: averaged to the side the DCT hash
transforms (32 x 32 for 8 x 8 bits), sampled bilinearly where the turned box's pixels fall (in
display proportions: a box of 16:9 turns as 16:9, not as the square the grey picture squeezes it
into), and transformed, all one matrix per box, aspect and hash size: one product per batch,
~2.5 µs a frame (hashing takes ~11).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from framedb import hashing
from framedb.hashspec import HashSpec

TURN_DEGREES = 5.0
# The centre of the content box turned, this fraction of each side. A copy turned by 5° and
# zoomed to fill its frame shows 83-90 % of its source (2.35:1 to 4:3): 2-6 bits at 0.88 on the
# four sources of the transforms benchmark; turned back, its own 0.88 is 0.73-0.79 of the
# source, near the inner box (0.8).
TURN_SCALE = 0.88


def turned(
    grey: np.ndarray, box: tuple[slice, slice], aspect: float, spec: HashSpec
) -> np.ndarray | None:
    """The clockwise and counter-clockwise turned hashes of a batch of grey pictures (B, H, W)
    whose content is `box` (rows, columns) and whose picture is `aspect` times as wide as high
    as shown: (B, 2 x spec.nbytes) packed bits; None for the other kinds of hash (ahash,
    dhash, phash), which get no turned hashes, as they get no mirror mask."""
    if spec.kind != "dct":
        return None
    grid = min(hashing.GREY_SIZE, 4 * spec.size)
    small = hashing.resize(grey, grid, grid).reshape(len(grey), -1)
    rows, cols = box
    scale = grid / grey.shape[-1], grid / grey.shape[-2]
    key = (
        rows.start * scale[1],
        rows.stop * scale[1],
        cols.start * scale[0],
        cols.stop * scale[0],
    )
    width, height = (
        (cols.stop - cols.start) / grey.shape[-1],
        (rows.stop - rows.start) / grey.shape[-2],
    )
    box_aspect = round(aspect * width / max(height, 1e-9), 3)
    out = []
    for degrees in (TURN_DEGREES, -TURN_DEGREES):
        transform = _turned_dct(grid, key, box_aspect, degrees, spec.size)
        coeffs = small @ transform
        out.append(hashing.pack(np.round(coeffs * np.float32(hashing.PHASH_GRID)) > 0))
    return np.concatenate(out, axis=1)


@lru_cache(maxsize=64)
def _turned_dct(
    grid: int, box: tuple[float, float, float, float], aspect: float, degrees: float, n: int
) -> np.ndarray:
    """(grid x grid pixels, n x n coefficients): the DCT hash coefficients of the centre
    TURN_SCALE of `box` (top, bottom, left, right, in pixels of the grid), turned `degrees`
    clockwise in display proportions (`aspect`: the box's width over its height as shown)."""
    us, vs, block = hashing.dct_positions(n)
    side = 4 * n  # the square a DCT hash transforms (framedb.hashing)
    dct = hashing.dct_matrix(side)[:block].astype(np.float64)
    top, bottom, left, right = box
    height, width = bottom - top, right - left
    # Each sample of the turned box, in units of the box's height about its centre ...
    steps = ((np.arange(side) + 0.5) / side - 0.5) * TURN_SCALE
    y, x = np.meshgrid(steps, steps * aspect, indexing="ij")
    # ... is the picture's point turned back (y grows downwards: clockwise on screen) ...
    a = math.radians(degrees)
    px = math.cos(a) * x + math.sin(a) * y
    py = -math.sin(a) * x + math.cos(a) * y
    # ... at this pixel of the grid, read bilinearly from its four neighbours.
    col = np.clip(left + (px / aspect + 0.5) * width - 0.5, 0, grid - 1)
    row = np.clip(top + (py + 0.5) * height - 0.5, 0, grid - 1)
    r0 = np.minimum(row.astype(np.int64), grid - 2)
    c0 = np.minimum(col.astype(np.int64), grid - 2)
    fr, fc = (row - r0).ravel(), (col - c0).ravel()
    sample = np.zeros((side * side, grid * grid))
    at = np.arange(side * side)
    for dr, dc, weight in (
        (0, 0, (1 - fr) * (1 - fc)),
        (0, 1, (1 - fr) * fc),
        (1, 0, fr * (1 - fc)),
        (1, 1, fr * fc),
    ):
        np.add.at(sample, (at, ((r0 + dr) * grid + c0 + dc).ravel()), weight)
    # The hash's coefficients of each sample: row k is the DCT basis picture of frequency (u, v)
    basis = (dct[us][:, :, None] * dct[vs][:, None, :]).reshape(len(us), side * side)
    return np.ascontiguousarray((basis @ sample).T, dtype=np.float32)
