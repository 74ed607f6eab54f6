"""Perceptual hashes of small grey pictures, vectorised over batches (numpy in, numpy out).

Decoding hands over each frame as a GREY_SIZE x GREY_SIZE uint8 picture; every hash is computed from
that, a whole batch at once. A hash of N x N bits is stored packed, most significant bit first, as
N*N/8 bytes (so 8 x 8 gives 8 bytes, the form FAISS binary indexes take).

`dct` (the default) keeps the signs of the N x N lowest frequencies of the picture's DCT. Mirroring
a picture left to right flips the sign of every coefficient of odd horizontal frequency and no
other, so the hash of the mirrored picture is the stored hash XOR a fixed mask (`mirror_mask`):
a mirrored copy is found from the bits already stored, as PDQ derives its dihedral hashes from one
DCT. (phash compares its coefficients with their median, which mirroring moves: no such mask.)

Each frame also gets an inner hash (`inner_box`): of the centre of its picture, of the landscape
band of a portrait frame (`clip_band`), or of a picture-in-picture inset (`inset_box`), so that a
cropped, zoomed or captioned copy, a clip inside a phone's vertical frame, and footage shrunk into
a corner of another, have a hash that sees the same part of the picture as the other copy's; and a
middle hash (`centre_box` at MID_SCALE), for a crop between the whole picture and the inner one;
and two turned hashes, of its centre turned a few degrees each way (framedb.turned). A batch's
overlay (a logo, a caption's words: framedb.overlays) is painted over before any of
them is computed (framedb.ingest.offload.hash_batch).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from framedb.errors import BadArgumentError
from framedb.hashspec import HashSpec

GREY_SIZE = 64
DETAIL_SIZE = 16
FLAT_DETAIL = 4.0  # below this a frame is flat (black, a fade's end): it matches everything
BAR_LEVEL = 24  # grey level below which an edge row or column counts as a black bar
# Every DCT hash compares its coefficients on a grid of 1/1024 grey level (phash with their
# median, the dct and turned hashes with 0): float32 sums differ by ~1e-6 between CPUs' matrix
# kernels, which must not flip a bit. Coefficients equal in exact arithmetic (a symmetric picture
# has many) then tie here too, on every machine.
PHASH_GRID = 1024.0
# The inner picture: the centre of the content box, this fraction of each side (a crop to 75 %
# and a zoom of 1.2x both land within 7 % of it, close enough for the hash).
INNER_SCALE = 0.8
# The middle picture: the centre at this fraction of each side, for crops between the two. A
# copy cropped to 90 % was 9-11 bits from every pairing of whole and inner pictures (each 10 %
# off in scale, no minimum at the true frame), 0.7-1.2 bits from this box of its source.
MID_SCALE = 0.9
# A picture this much taller than wide (display aspect) is a phone's vertical frame; a landscape
# clip in it fills its width, centred, at 16:9.
PORTRAIT = 1.3
BAND_ASPECT = 9 / 16  # the band assumed where none stands out (`clip_band`)
# A clip's band is at least this many times as active as the fill around it (2.7-4.0 on the
# transforms benchmark's four phone copies; a portrait video without a band is near 1).
BAND_CONTRAST = 1.5
# A picture-in-picture inset (`inset_box`): at least INSET_SIDE of each side of the picture, at most
# INSET_AREA of it; each of its four sides stands out along INSET_COVER of its length; a line
# stands out where the change of the difference across it is INSET_CONTRAST times that two lines
# to either side, plus INSET_LEVEL grey levels; INSET_FRAMES pictures at least. Set on the
# transforms benchmark's PiP copies (19 of 20 batches found) and 36 other videos (no inset).
INSET_SIDE = 0.3
INSET_AREA = 0.8
INSET_COVER = 0.5
INSET_CONTRAST = 1.4
INSET_LEVEL = 0.5
INSET_FRAMES = 16
SAMPLE = 64  # pictures of a batch looked at to find an inset or a band (evenly spread)
INSET_LINES = 6  # the lines standing out over most of their length, tried as sides


@lru_cache(maxsize=64)
def _area_matrix(src: int, dst: int) -> np.ndarray:
    """Weights that average a length-`src` axis to `dst` cells by area (a box filter); a picture
    smaller than `dst` (a tiny band of a mangled file) is stretched the same way."""
    if src < 1 or dst < 1:
        raise BadArgumentError(f"cannot resize {src} samples to {dst}")
    edges = np.arange(dst + 1, dtype=np.float64) * (src / dst)
    lo, hi = edges[:-1, None], edges[1:, None]
    pix = np.arange(src, dtype=np.float64)[None, :]
    overlap = np.clip(np.minimum(hi, pix + 1) - np.maximum(lo, pix), 0.0, None)
    weights = overlap / overlap.sum(axis=1, keepdims=True)
    return weights.astype(np.float32)


@lru_cache(maxsize=16)
def dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix: `D @ x` is the DCT of the column vector x."""
    k = np.arange(n, dtype=np.float64)[:, None]
    i = np.arange(n, dtype=np.float64)[None, :]
    d = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    d[0] /= np.sqrt(2.0)
    return d.astype(np.float32)


@lru_cache(maxsize=64)
def _area_dct(src: int, side: int, block: int) -> np.ndarray:
    """The first `block` rows of the side-`side` DCT applied to a length-`src` axis averaged to
    `side` cells: one (block, src) matrix, so that a picture of any size (an inner box, a crop)
    takes two small products instead of a resize and a transform (2.5x faster on 52 x 52
    pictures). Float sums differ from the two-step way by ~1e-6, which PHASH_GRID absorbs: the
    same bits (tests/test_hashing)."""
    low = dct_matrix(side)[:block].astype(np.float64)
    return (low @ _area_matrix(src, side).astype(np.float64)).astype(np.float32)


@lru_cache(maxsize=16)
def dct_positions(n: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The n*n lowest-frequency coefficients but the DC, as (rows u, columns v, block): in order
    of u + v, then v; `block` is how many rows of the DCT they need."""
    side = 2 * n
    cells = sorted(
        ((u, v) for u in range(side) for v in range(side) if u or v),
        key=lambda p: (p[0] + p[1], p[1]),
    )[: n * n]
    us = np.array([u for u, _ in cells])
    vs = np.array([v for _, v in cells])
    return us, vs, int(max(us.max(), vs.max())) + 1


@lru_cache(maxsize=16)
def _mirror_mask(n: int) -> np.ndarray:
    _, vs, _ = dct_positions(n)
    return np.packbits((vs % 2 == 1).astype(np.uint8))


def mirror_mask(spec: HashSpec) -> np.ndarray | None:
    """XOR with this turns a hash into the hash of the mirrored picture (left to right); None
    for a hash whose mirrored form does not follow from its bits (ahash, dhash, phash)."""
    return _mirror_mask(spec.size) if spec.kind == "dct" else None


def _as_batch(grey: np.ndarray) -> np.ndarray:
    if grey.ndim == 2:
        grey = grey[None]
    if grey.ndim != 3:
        raise BadArgumentError(
            f"expected a batch of grey pictures (B, H, W), got shape {grey.shape}"
        )
    return grey.astype(np.float32, copy=False)


def resize(grey: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Area-average a batch (B, H, W) down to (B, rows, cols), as float32."""
    fast = _block_mean(grey, rows, cols)
    if fast is not None:
        return fast
    return resize_matmul(grey, rows, cols)


def _block_mean(grey: np.ndarray, rows: int, cols: int) -> np.ndarray | None:
    """The same result as `resize_matmul` for uint8 pictures whose sides are power-of-two
    multiples of the target (64 -> 32, 16, 8): integer block sums, then one exact scaling.

    Identical to the bit: the matrix product there sums pixel / 2**k terms, all of which (and all
    of whose partial sums) float32 holds exactly, so its summation order cannot matter.
    """
    if grey.dtype != np.uint8 or grey.ndim not in (2, 3):
        return None
    batch = grey[None] if grey.ndim == 2 else grey
    _, h, w = batch.shape
    if not rows or not cols or h % rows or w % cols:
        return None
    fy, fx = h // rows, w // cols
    if fy & (fy - 1) or fx & (fx - 1) or fy * fx > 1 << 12:
        return None
    if fy == fx == 1:
        return batch.astype(np.float32)
    sums: np.ndarray = batch.astype(np.uint16 if fy * fx <= 256 else np.uint32)
    while sums.shape[1] > rows:  # pairwise halving: strided adds, far faster than a reduce
        sums = sums[:, 0::2] + sums[:, 1::2]
    while sums.shape[2] > cols:
        sums = sums[:, :, 0::2] + sums[:, :, 1::2]
    return sums.astype(np.float32) * np.float32(1.0 / (fy * fx))


def resize_matmul(grey: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Area-average by two matrix products (any sizes): the reference implementation."""
    batch = _as_batch(grey)
    left = _area_matrix(batch.shape[1], rows)
    right = _area_matrix(batch.shape[2], cols).T
    return np.matmul(np.matmul(left, batch), right)


def pack(bits: np.ndarray) -> np.ndarray:
    return np.packbits(bits.reshape(bits.shape[0], -1), axis=1)


def _side(grey: np.ndarray, n: int) -> int:
    """The square a DCT hash of side n transforms: 4n, or the picture's shorter side if less.
    (Read from the shape: converting the batch to floats only to read it cost ~1.6 µs a frame.)"""
    shape = grey.shape[-2:] if grey.ndim in (2, 3) else _as_batch(grey).shape[1:]
    return min(4 * n, *shape)


def compute(grey: np.ndarray, spec: HashSpec) -> np.ndarray:
    """Hash a batch of grey pictures: (B, H, W) uint8 -> (B, spec.nbytes) uint8, packed bits."""
    n = spec.size
    if spec.kind == "ahash":
        small = resize(grey, n, n)
        bits = small > small.mean(axis=(1, 2), keepdims=True)
    elif spec.kind == "dhash":
        small = resize(grey, n, n + 1)
        bits = small[:, :, 1:] > small[:, :, :-1]
    elif spec.kind == "dct":
        us, vs, block = dct_positions(n)
        batch = _as_batch(grey)
        side = max(_side(batch, n), block)
        rows, cols = (_area_dct(length, side, block) for length in batch.shape[1:])
        coeffs = np.matmul(np.matmul(rows, batch), cols.T)
        bits = np.round(coeffs[:, us, vs] * np.float32(PHASH_GRID)) > 0
    else:
        side = max(_side(grey, n), n)
        # Only the n x n lowest frequencies are kept: n rows of the DCT, a sixth of the products
        # of the whole transform for phash8, and the same sums (the same bits: tests/test_hashing).
        low = dct_matrix(side)[:n]
        coeffs = np.matmul(np.matmul(low, resize(grey, side, side)), low.T)
        flat = np.round(coeffs.reshape(coeffs.shape[0], -1) * np.float32(PHASH_GRID))
        bits = flat > np.median(flat, axis=1, keepdims=True)
    return pack(bits)


def band_of(width: int, height: int) -> tuple[float, float] | None:
    """Where a landscape clip sits in a frame of this display size, as fractions of its height
    (top, bottom): the centred 16:9 band of a portrait (phone) frame; None for other frames."""
    if width <= 0 or height < PORTRAIT * width:
        return None
    half = min(0.5, BAND_ASPECT * width / height / 2)
    return 0.5 - half, 0.5 + half


def clip_band(grey: np.ndarray) -> tuple[float, float] | None:
    """The rows of a batch of portrait pictures (B, H, W) that hold a landscape clip centred
    between fill (the phone format: the clip's own picture, zoomed and blurred, above and below
    it), as fractions of the height; None when no band stands out.

    A row's activity is its mean left-right difference plus the smaller of its differences with
    the rows above and below (the border between clip and fill is one jump, activity of neither
    side). The band is the centred split of the rows into inside and outside that separates
    their activity best (Otsu's criterion), kept if the inside is BAND_CONTRAST times as active.
    Blurred fill is not flat at 64 rows: a threshold on sharpness alone cut a low-contrast clip
    short (0.28-0.63 of the height for 0.29-0.71 on the transforms benchmark's box copy)."""
    batch = grey if grey.ndim == 3 else grey[None]
    # SAMPLE pictures in 16-bit integers: the whole batch in floats took ~37 µs a frame (8 MB
    # through the cache), this ~1.7 µs
    batch = batch[:: max(1, len(batch) // SAMPLE)].astype(np.int16)
    count, height, width = batch.shape
    if height < 16 or width < 2:
        return None
    across = np.abs(np.diff(batch, axis=2)).sum(axis=(0, 2), dtype=np.int64) / (count * (width - 1))
    down = np.abs(np.diff(batch, axis=1)).sum(axis=(0, 2), dtype=np.int64) / (count * width)
    activity = across + np.r_[down[:1], np.minimum(down[:-1], down[1:]), down[-1:]]
    tops = np.arange(height // 16, (height - height // 8) // 2 + 1)  # bands of 1/8 to 7/8
    sums = np.r_[0.0, np.cumsum(activity, dtype=np.float64)]
    inside = sums[height - tops] - sums[tops]
    n_in, n_out = height - 2 * tops, 2 * tops
    mean_in, mean_out = inside / n_in, (sums[-1] - inside) / n_out
    split = np.where(mean_in > mean_out, n_in * n_out * (mean_in - mean_out) ** 2, -1.0)
    best = int(np.argmax(split))
    if split[best] < 0 or mean_in[best] < BAND_CONTRAST * mean_out[best]:
        return None
    top = int(tops[best])
    return top / height, (height - top) / height


def inset_box(grey: np.ndarray) -> tuple[slice, slice] | None:
    """The rectangle (rows, columns) of a picture-in-picture inset in a batch (B, H, W): footage
    shrunk over other footage, whose four sides are straight lines between unrelated pictures.
    Two neighbouring points of one footage change together, so the difference between them
    changes little from picture to picture; across such a line the two sides change apart, and
    it changes as much as they do (`_standing_out`); a still's edges, and a cut, hardly count.
    The inset is the rectangle of such lines whose weakest side stands out along the most of its
    length (then the largest). None when no rectangle qualifies, or in a batch of fewer than
    INSET_FRAMES pictures."""
    batch = grey if grey.ndim == 3 else grey[None]
    if len(batch) < INSET_FRAMES:
        return None
    batch = batch[:: max(1, len(batch) // SAMPLE)]  # evenly spread: as telling, faster
    _, h, w = batch.shape
    # Each picture's change from the one before, once for both directions (differences across
    # rows or columns and over time commute: the same integers, one conversion and pass fewer).
    changes = np.subtract(batch[1:], batch[:-1], dtype=np.int16)
    across_cols = _standing_out(changes, 2)  # (H, W-1): [r, c] between columns c and c+1
    sides = _line_pairs(across_cols, w)
    if not sides:  # no two columns could be an inset's sides: rows need not be looked at (the
        return None  # 24-hour benchmark video's batches: 6.6 -> 3.5 µs a frame, the same boxes)
    across_rows = _standing_out(changes, 1).T  # (W, H-1): [c, r] between rows r and r+1
    ends = _line_pairs(across_rows, h)
    if not ends:
        return None
    # A side covers a row where it or a line next to it stands out: a border that falls inside a
    # pixel of the small picture peaks on one side of it or the other, row by row.
    cols, rows = (np.cumsum(_widened(lines), axis=0) for lines in (across_cols, across_rows))

    def cover(sums: np.ndarray, line: int, start: int, stop: int) -> float:
        """The fraction of lines start..stop-1 along which line `line` stands out."""
        before = sums[start - 1, line] if start else 0
        return float(sums[stop - 1, line] - before) / (stop - start)

    best: tuple[float, int, tuple[slice, slice]] | None = None
    for left, right in sides:
        for top, bottom in ends:
            area = (right - left) * (bottom - top)
            if area > INSET_AREA * h * w:
                continue
            weakest = min(
                cover(cols, left, top + 1, bottom + 1),
                cover(cols, right, top + 1, bottom + 1),
                cover(rows, top, left + 1, right + 1),
                cover(rows, bottom, left + 1, right + 1),
            )
            if weakest >= INSET_COVER and (best is None or (weakest, area) > best[:2]):
                best = (weakest, area, (slice(top + 1, bottom + 1), slice(left + 1, right + 1)))
    return None if best is None else best[2]


def _standing_out(changes: np.ndarray, axis: int) -> np.ndarray:
    """Where the mean change, from one picture of the batch to the next (`changes`, int16), of the
    difference across `axis` (1: between rows, 2: between columns) peaks (at least that next to it
    on either side) and stands out from that two lines before and after it, as booleans."""
    across = np.diff(changes, axis=axis)
    spread = np.abs(across, out=across).mean(axis=0, dtype=np.float32)
    pad = [(0, 0), (0, 0)]
    pad[axis - 1] = (2, 2)
    padded = np.pad(spread, pad, mode="edge")
    if axis == 1:
        near, around = np.maximum(padded[1:-3], padded[3:-1]), (padded[:-4] + padded[4:]) / 2
    else:
        near = np.maximum(padded[:, 1:-3], padded[:, 3:-1])
        around = (padded[:, :-4] + padded[:, 4:]) / 2
    return np.asarray((spread >= near) & (spread > INSET_CONTRAST * around + INSET_LEVEL))


def _widened(standing: np.ndarray) -> np.ndarray:
    """`standing` (along, lines) with each line also standing where a line next to it does."""
    out = standing.copy()
    out[:, 1:] |= standing[:, :-1]
    out[:, :-1] |= standing[:, 1:]
    return out


def _line_pairs(standing: np.ndarray, side: int) -> list[tuple[int, int]]:
    """Pairs of lines (before, after) that may be two opposite sides of an inset: of the lines
    standing out over most of the shortest side's length, the INSET_LINES that do the most."""
    counts = standing.sum(axis=0)
    need = INSET_SIDE * standing.shape[0] * INSET_COVER
    order = np.argsort(-counts, kind="stable")[:INSET_LINES]
    lines = sorted(int(k) for k in order if counts[k] >= need)
    return [
        (a, b) for i, a in enumerate(lines) for b in lines[i + 1 :] if b - a >= INSET_SIDE * side
    ]


def inner_box(box: tuple[slice, slice], band: tuple[float, float] | None) -> tuple[slice, slice]:
    """The inner picture of a content box: the landscape `band` of a portrait frame (rows, as
    `band_of` gives them), else the box's centre, INNER_SCALE of each side."""
    if band is not None:
        rows, cols = box
        side = GREY_SIZE
        top = max(rows.start, int(round(band[0] * side)))
        bottom = min(rows.stop, int(round(band[1] * side)))
        if bottom - top >= 8:
            return slice(top, bottom), cols

    return centre_box(box, INNER_SCALE)


def centre_box(box: tuple[slice, slice], scale: float) -> tuple[slice, slice]:
    """The centre of a box (rows, columns), `scale` of each side."""

    def centre(s: slice) -> slice:
        cut = int(round((s.stop - s.start) * (1 - scale) / 2))
        return slice(s.start + cut, s.stop - cut)

    return centre(box[0]), centre(box[1])


def content_box(grey: np.ndarray, *, dark: int = BAR_LEVEL) -> tuple[slice, slice]:
    """Rows and columns of a batch that hold picture: black bars (letterbox, pillarbox) that
    stay dark in every picture of the batch are left out, so that a boxed copy hashes like its
    source. Returns the whole picture when the bars would leave less than half of it (a dark
    scene, not bars)."""
    batch = grey if grey.ndim == 3 else grey[None]
    brightest = batch.max(axis=0)  # one pass over the batch, then over one picture
    return box_of(brightest.max(axis=1) > dark, brightest.max(axis=0) > dark)


def box_of(rows: np.ndarray, cols: np.ndarray) -> tuple[slice, slice]:
    """The content box of a batch from whether each row and column holds picture anywhere in it."""
    whole = (slice(0, len(rows)), slice(0, len(cols)))
    bright_rows, bright_cols = np.flatnonzero(rows), np.flatnonzero(cols)
    if not len(bright_rows) or not len(bright_cols):
        return whole
    top, bottom = bright_rows[0], bright_rows[-1] + 1
    left, right = bright_cols[0], bright_cols[-1] + 1
    if bottom - top < len(rows) // 2 or right - left < len(cols) // 2:
        return whole
    return slice(int(top), int(bottom)), slice(int(left), int(right))


def detail(grey: np.ndarray) -> np.ndarray:
    """How much picture there is: the standard deviation of a 16 x 16 average, per picture.

    Black, white and flat frames, and the dark end of fades, score near 0; they match everything and
    are left out of matching. Averaging first keeps compression noise from counting as detail.
    """
    return resize(grey, DETAIL_SIZE, DETAIL_SIZE).std(axis=(1, 2)).astype(np.float32)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distances between packed hashes, broadcasting over all but the last axis."""
    return np.bitwise_count(np.bitwise_xor(a, b)).sum(axis=-1, dtype=np.int32)


@dataclass(frozen=True)
class FrameHash:
    """One hash as a value: `a - b` is the Hamming distance, `str(h)` its hex form."""

    data: bytes

    @classmethod
    def from_hex(cls, text: str) -> FrameHash:
        try:
            return cls(bytes.fromhex(text))
        except ValueError as exc:
            raise BadArgumentError(f"not a hex hash: {text!r}") from exc

    @property
    def array(self) -> np.ndarray:
        return np.frombuffer(self.data, dtype=np.uint8)

    def __sub__(self, other: FrameHash) -> int:
        if len(self.data) != len(other.data):
            raise BadArgumentError(
                f"cannot compare a {len(self.data) * 8}-bit hash "
                f"with a {len(other.data) * 8}-bit one"
            )
        return int(hamming(self.array, other.array))

    def __str__(self) -> str:
        return self.data.hex()
