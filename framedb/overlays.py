"""Overlays burnt into footage (a channel's logo, a caption's words, a score box), found and
painted over before a batch of grey pictures is hashed.

An overlay is what stays still while the picture under it moves: over a batch, the pixels that
vary by at most STILL_RANGE grey levels, in a batch where nearly all the rest (OVERLAY_MOVING of
the content box) varies by MOVING_RANGE or more. Their values are then guessed from the footage
around them (`Overlays.fill`), so that a copy with a logo hashes like its source without one, and
unrelated videos that carry the same logo do not share its bits.

Footage that is mostly still (a fixed camera, a talking head, a still shot) has no overlay found
in it: the rule sees only a still island in a moving picture, the form a logo takes over reused
footage. A cut inside the batch moves every pixel of the footage, so an overlay stands out most
there. Once found, a video's overlay is kept for its later batches while its pixels stay still,
even where the footage around them slows down: the same frames are then filled the same way
wherever they repeat.

Figures (benchmarks/transforms.py's copies, a 64 x 64 picture): a 10 %-wide opaque logo was 5-15
bits of 64 from its source's hash (15 over a low-contrast generated scene, which put it out of
reach); filled, 1-4. The logo took 48-84 pixels, a caption's words 95-156; no pixel of the
originals, fillers or the real camera clips met the rule (box.mp4 on its own: 6 % still, but only
53 % moving; vtest.avi 31 %).
"""

from __future__ import annotations

import numpy as np

STILL_RANGE = 4  # grey levels a pixel may vary over a batch and count as still
MOVING_RANGE = 24  # ... and must vary by, to count as moving
OVERLAY_MOVING = 0.8  # at least this fraction of the content box moves around an overlay
OVERLAY_AREA = 0.25  # an overlay covers at most this fraction of the content box
OVERLAY_PIXELS = 4  # ... and at least this many pixels
KEEP_STILL = 0.9  # a found overlay is kept while this fraction of its pixels stays still
SAMPLE = 64  # pictures of a batch looked at (evenly spread)
MIN_SAMPLE = 8  # fewer pictures than this say too little to find an overlay


class Overlays:
    """The overlay of one video, found batch by batch: `fill(grey, box)` returns the batch with
    its overlay painted over (the same array when it has none)."""

    def __init__(self) -> None:
        self.mask: np.ndarray | None = None  # (H, W) bool, of the whole picture
        self._plan: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def fill(self, grey: np.ndarray, box: tuple[slice, slice]) -> np.ndarray:
        """`grey` (B, H, W) uint8 with the overlay's pixels guessed from the footage around them;
        `box` (rows, columns) is the content box the overlay is looked for in."""
        mask = self._find(grey, box)
        if mask is None:
            return grey
        if self._plan is None or mask is not self.mask:
            self.mask, self._plan = mask, _plan(mask)
        where, sources, weights = self._plan
        flat = grey.reshape(len(grey), -1)
        guessed = np.einsum("bkp,kp->bp", flat[:, sources].astype(np.float32), weights)
        out = flat.copy()
        out[:, where] = np.clip(np.rint(guessed), 0, 255).astype(np.uint8)
        return out.reshape(grey.shape)

    def _find(self, grey: np.ndarray, box: tuple[slice, slice]) -> np.ndarray | None:
        sample = grey[:: max(1, len(grey) // SAMPLE)]
        spread = sample.max(axis=0).astype(np.int16) - sample.min(axis=0)
        still = spread <= STILL_RANGE
        if self.mask is not None and still[self.mask].mean() >= KEEP_STILL:
            return self.mask
        self.mask = self._plan = None
        if len(sample) < MIN_SAMPLE or grey.shape[1] < 3 or grey.shape[2] < 3:
            return None
        inside = np.zeros_like(still)
        inside[box] = True
        area = inside.sum()
        found = still & inside
        count = int(found.sum())
        if not OVERLAY_PIXELS <= count <= OVERLAY_AREA * area:
            return None
        if ((spread >= MOVING_RANGE) & inside).sum() < OVERLAY_MOVING * area:
            return None
        return found


def _plan(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How each pixel of `mask` is guessed: (its flat positions P, the flat positions of the four
    pixels it is guessed from (4, P), their weights (4, P)). Along its row and its column, the
    nearest pixels outside the mask on either side, each line's two weighed by nearness (linear
    interpolation) and the two lines by how short their span is; a line that leaves the picture
    on one side takes its one pixel, at twice the distance's span. A smooth guess is what a hash
    of the lowest frequencies needs (as close as a harmonic fill on the benchmark's copies, at a
    gather's cost)."""
    height, width = mask.shape
    ys, xs = np.nonzero(mask)
    sources, weights = [], []
    for lines, along, across, length in ((mask, xs, ys, width), (mask.T, ys, xs, height)):
        pos = np.arange(length)
        before = np.maximum.accumulate(np.where(lines, -1, pos), axis=1)[across, along]
        after = np.minimum.accumulate(np.where(lines, length, pos)[:, ::-1], axis=1)[:, ::-1]
        after = after[across, along]
        has_before, has_after = before >= 0, after < length
        near_before, near_after = along - before, after - along
        both = has_before & has_after
        span = np.where(
            both, near_before + near_after, 2 * np.where(has_before, near_before, near_after)
        )
        w_before = np.where(both, near_after / np.maximum(span, 1), has_before.astype(np.float64))
        trust = np.where(has_before | has_after, 1.0 / np.maximum(span, 1), 0.0)
        ends = np.clip(before, 0, length - 1), np.clip(after, 0, length - 1)
        for end, w in zip(ends, (w_before, 1.0 - w_before), strict=True):
            sources.append(across * width + end if lines is mask else end * width + across)
            weights.append(np.where(has_before | has_after, w, 0.0) * trust)
    weight = np.stack(weights)
    total = weight.sum(axis=0, keepdims=True)
    weight = np.where(total > 0, weight / np.where(total > 0, total, 1), 0.25)
    return ys * width + xs, np.stack(sources), weight.astype(np.float32)
