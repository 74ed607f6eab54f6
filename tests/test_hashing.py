"""Hashes: fixed expected values, and the properties matching relies on."""

from __future__ import annotations

import numpy as np
import pytest

from framedb import hashing
from framedb.errors import BadArgumentError
from framedb.hashing import FrameHash
from framedb.hashspec import KINDS, HashSpec
from framedb.ingest.offload import hash_batch
from framedb.synth import Crop, Dim, Phone
from tests.media import render


def grey(scene: int, t: float, width: int = 320, height: int = 180) -> np.ndarray:
    """A frame as decode would hand it over: 64 x 64 grey, area-averaged."""
    return _grey_of(render(scene, t, width, height))


def _grey_of(rgb: np.ndarray) -> np.ndarray:
    y = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return hashing.resize(y, 64, 64)[0].round().astype(np.uint8)


def hex_of(picture: np.ndarray, kind: str) -> str:
    return str(FrameHash(hashing.compute(picture, HashSpec(kind, 8))[0].tobytes()))


def test_fixed_values_on_a_gradient() -> None:
    ramp = np.tile(np.arange(64, dtype=np.uint8) * 4, (64, 1))
    picture = np.maximum(ramp, ramp.T)  # brighter to the right and to the bottom
    got = {k: hex_of(picture, k) for k in KINDS}
    # ahash by hand: 8 x 8 cells of 4 * max(row, col) against their mean (about 4 * 42) are bright
    # from the sixth column and the sixth row on. phash: the picture is symmetric, so most of its
    # DCT coefficients are 0 in exact arithmetic, as is their median; only the first row's odd
    # frequencies and four more are above it, on every machine (float rounding used to decide).
    assert got == {
        "ahash": "0707070707ffffff",
        "dhash": "ffff7f3f1f0f0701",
        "phash": "aa00800080008000",
        "dct": "2844082010100200",  # the signs of the same transform's coefficients
    }


def test_fixed_values_on_generated_footage() -> None:
    got = {k: hex_of(grey(1, 0.5), k) for k in KINDS}
    assert got == {
        "ahash": "1c1f1f6300103830",
        "dhash": "f0f2f68e86e0e0e0",
        "phash": "8999de5a72e2360e",
        "dct": "a22f7787a47f3c89",
    }


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("size", [8, 16, 24])
def test_batch_equals_one_by_one_and_has_n_squared_bits(kind: str, size: int) -> None:
    spec = HashSpec(kind, size)
    batch = np.stack([grey(2, t) for t in (0.0, 0.4, 0.8)])
    together = hashing.compute(batch, spec)
    assert together.shape == (3, size * size // 8)
    for i in range(3):
        assert np.array_equal(hashing.compute(batch[i], spec)[0], together[i])


@pytest.mark.parametrize("size", [8, 16])
def test_phash_takes_the_low_frequencies_of_the_whole_transform(size: int) -> None:
    # The simple way, as the phash literature writes it: the whole DCT, then its top-left corner.
    spec = HashSpec("phash", size)
    batch = np.stack([grey(scene, t) for scene in (1, 2, 3) for t in np.arange(0, 2, 0.1)])
    side = 4 * size
    dct = hashing.dct_matrix(side)
    whole = np.matmul(np.matmul(dct, hashing.resize(batch, side, side)), dct.T)
    low = whole[:, :size, :size].reshape(len(batch), -1)
    bits = low > np.median(low, axis=1, keepdims=True)
    assert np.array_equal(hashing.compute(batch, spec), np.packbits(bits, axis=1))


@pytest.mark.parametrize("rows, cols", [(64, 64), (52, 52), (58, 44), (40, 64), (20, 30)])
def test_dct_of_any_box_equals_resizing_then_transforming(rows: int, cols: int) -> None:
    # The simple way: area-average to the transform's side, then the DCT's low rows; `compute`
    # folds both into one matrix per axis. Boxes as hashed: whole, inner, crops, a band.
    spec = HashSpec("dct", 8)
    batch = np.stack([grey(scene, t) for scene in (1, 2, 3, 4) for t in np.arange(0, 3, 0.1)])
    batch = batch[:, (64 - rows) // 2 :][:, :rows, (64 - cols) // 2 :][:, :, :cols]
    us, vs, block = hashing.dct_positions(8)
    side = max(min(32, rows, cols), block)
    low = hashing.dct_matrix(side)[:block]
    coeffs = np.matmul(np.matmul(low, hashing.resize(batch, side, side)), low.T)
    bits = np.round(coeffs[:, us, vs] * np.float32(hashing.PHASH_GRID)) > 0
    assert np.array_equal(hashing.compute(batch, spec), np.packbits(bits, axis=1))


@pytest.mark.parametrize("kind", KINDS)
def test_rescaled_frame_is_near_and_different_frame_is_far(kind: str) -> None:
    spec = HashSpec(kind, 8)
    a = hashing.compute(grey(3, 1.0), spec)
    same_smaller = hashing.compute(grey(3, 1.0, 160, 90), spec)
    noisy = grey(3, 1.0).astype(np.int16) + np.random.default_rng(0).integers(-6, 7, (64, 64))
    same_noisy = hashing.compute(np.clip(noisy, 0, 255).astype(np.uint8), spec)
    other_scene = hashing.compute(grey(8, 1.0), spec)
    later = hashing.compute(grey(3, 3.0), spec)
    assert hashing.hamming(a, same_smaller)[0] <= 4
    assert hashing.hamming(a, same_noisy)[0] <= 6
    assert hashing.hamming(a, other_scene)[0] >= 16
    assert hashing.hamming(a, later)[0] >= 10


def test_detail_separates_flat_from_textured() -> None:
    black = np.zeros((64, 64), np.uint8)
    noise = np.random.default_rng(1).integers(0, 4, (64, 64)).astype(np.uint8)
    scores = hashing.detail(np.stack([black, noise, grey(1, 0.0)]))
    assert scores[0] == 0
    assert scores[1] < 1.0
    assert scores[2] > 10  # well above the flat-frame cut-off


def test_value_type_round_trips_and_subtracts() -> None:
    a = FrameHash.from_hex("00000000000000ff")
    b = FrameHash.from_hex("000000000000000f")
    assert a - b == 4
    assert str(FrameHash.from_hex(str(a))) == "00000000000000ff"
    with pytest.raises(BadArgumentError):
        FrameHash.from_hex("xyz")
    with pytest.raises(BadArgumentError):
        _ = a - FrameHash.from_hex("00ff")


@pytest.mark.parametrize(("kind", "size"), [("bhash", 8), ("ahash", 3), ("phash", 33)])
def test_bad_specs_are_refused(kind: str, size: int) -> None:
    with pytest.raises(BadArgumentError):
        HashSpec(kind, size)


@pytest.mark.parametrize(("kind", "far"), [("phash", 10), ("dct", 9)])
def test_black_bars_are_left_out_of_the_hash(kind: str, far: int) -> None:
    # The same footage squeezed between letterbox bars, and between pillarbox bars.
    frames = np.stack([grey(4, t) for t in (0.0, 0.5, 1.0)])
    boxed = np.zeros_like(frames)
    boxed[:, 8:56] = hashing.resize(frames, 48, 64).round().astype(np.uint8)
    pillar = np.zeros_like(frames)
    pillar[:, :, 10:54] = hashing.resize(frames, 64, 44).round().astype(np.uint8)
    assert hashing.content_box(boxed) == (slice(8, 56), slice(0, 64))
    assert hashing.content_box(pillar) == (slice(0, 64), slice(10, 54))
    assert hashing.content_box(frames) == (slice(0, 64), slice(0, 64))
    spec = HashSpec(kind, 8)
    plain = hashing.compute(frames, spec)
    for picture in (boxed, pillar):
        rows, cols = hashing.content_box(picture)
        assert hashing.hamming(plain, hashing.compute(picture[:, rows, cols], spec)).max() <= 6
        # untrimmed: beyond the seed radius (8)
        assert hashing.hamming(plain, hashing.compute(picture, spec)).min() >= far


def test_dark_scenes_are_not_mistaken_for_bars() -> None:
    dim = (grey(4, 0.0) // 16).astype(np.uint8)[None]  # everything below the bar level
    assert hashing.content_box(dim) == (slice(0, 64), slice(0, 64))


def test_the_mirrored_hash_follows_from_the_stored_bits() -> None:
    spec = HashSpec("dct", 8)
    mask = hashing.mirror_mask(spec)
    assert mask is not None and hashing.mirror_mask(HashSpec("phash", 8)) is None
    pictures = np.stack([grey(scene, t) for scene in (1, 2, 3) for t in (0.0, 0.7, 1.4)])
    codes = hashing.compute(pictures, spec)
    mirrored = hashing.compute(np.ascontiguousarray(pictures[:, :, ::-1]), spec)
    assert np.array_equal(mirrored, codes ^ mask)
    flipped = hashing.compute(np.ascontiguousarray(pictures[:, ::-1, :]), spec)  # upside down
    assert hashing.hamming(flipped, codes ^ mask).min() >= 10  # the mask is left-right only
    assert hashing.hamming(mirrored, codes).min() >= 10  # a mirror is far from the original


def test_the_inner_picture_is_the_centre_or_a_portrait_frames_band() -> None:
    whole = (slice(0, 64), slice(0, 64))
    assert hashing.inner_box(whole, None) == (slice(6, 58), slice(6, 58))
    assert hashing.inner_box((slice(8, 56), slice(0, 64)), None) == (slice(13, 51), slice(6, 58))
    assert hashing.band_of(1280, 720) is None and hashing.band_of(720, 800) is None
    band = hashing.band_of(1080, 1920)  # 16:9 across a 9:16 frame: 31.6 % of its height
    assert band is not None and band == pytest.approx((0.3418, 0.6582), abs=1e-4)
    assert hashing.inner_box(whole, band) == (slice(22, 42), slice(0, 64))
    # a clip in the band of a phone frame: the band's hash is the clip's hash
    clip = np.stack([grey(5, t) for t in (0.0, 0.5)])
    phone = np.full((2, 64, 64), 40, np.uint8)
    phone[:, 22:42] = hashing.resize(clip, 20, 64).round().astype(np.uint8)
    rows, cols = hashing.inner_box(whole, band)
    spec = HashSpec("dct", 8)
    near = hashing.hamming(hashing.compute(clip, spec), hashing.compute(phone[:, rows, cols], spec))
    assert near.max() <= 6


@pytest.mark.parametrize("scene", [3, 5, 41])
def test_a_crop_of_90_percent_hashes_like_its_sources_middle(scene: int) -> None:
    """A copy cropped to 90 % is ~10 % off in scale from every pairing of the whole and inner
    pictures (no hash sees it), and near the source's middle picture; the copy's own middle is
    near the source's inner picture."""
    spec, whole = HashSpec("dct", 8), (slice(0, 64), slice(0, 64))
    mid, inner = hashing.centre_box(whole, hashing.MID_SCALE), hashing.inner_box(whole, None)
    assert mid == (slice(3, 61), slice(3, 61))
    times = np.arange(0.0, 2.0, 0.25)
    source = np.stack([grey(scene, t) for t in times])
    crop = Crop(0.9)
    copy = np.stack([_grey_of(crop(render(scene, t, 320, 180), t, 0)) for t in times])

    def far(a: np.ndarray, box_a: tuple[slice, slice], b: np.ndarray, box_b: tuple) -> float:
        codes = [hashing.compute(x[:, r, c], spec) for x, (r, c) in ((a, box_a), (b, box_b))]
        return float(hashing.hamming(*codes).mean())

    assert far(copy, whole, source, mid) <= 2 and far(copy, mid, source, inner) <= 2
    for box_a, box_b in ((whole, whole), (whole, inner), (inner, inner), (inner, whole)):
        assert far(copy, box_a, source, box_b) >= 6


def _phone_frames(scene: int, width: int, height: int, contrast: float) -> np.ndarray:
    """Grey pictures of a phone frame (framedb.synth.Phone) around footage of this size whose
    contrast is scaled by `contrast` (slow indoor footage is low in contrast)."""
    phone, dim = Phone(), Dim(contrast)
    out = []
    for k, t in enumerate(np.arange(0.0, 3.0, 0.2)):
        out.append(_grey_of(phone(dim(render(scene, t, width, height), t, k), t, k)))
    return np.stack(out)


@pytest.mark.parametrize("width, height", [(320, 180), (320, 240), (320, 128)])
@pytest.mark.parametrize("contrast", [1.0, 0.35])
def test_a_phone_frames_clip_band_is_found_whatever_its_shape(
    width: int, height: int, contrast: float
) -> None:
    # the clip fills the frame's width, centred: 16:9, 4:3 and 2.5:1 clips, at full and low
    # contrast; its rows are found to within one of 64
    band = hashing.clip_band(_phone_frames(3, width, height, contrast))
    half = 360 * height / width / 640 / 2
    assert band is not None
    assert band == pytest.approx((0.5 - half, 0.5 + half), abs=1 / 64 + 1e-9)


def test_portrait_footage_without_a_clip_has_no_band() -> None:
    frames = [grey(scene, t, 360, 640) for scene in (1, 4) for t in np.arange(0, 3, 0.2)]
    assert hashing.clip_band(np.stack(frames[:15])) is None
    assert hashing.clip_band(np.stack(frames[15:])) is None


@pytest.mark.parametrize("kind", ["ahash", "dhash", "phash", "dct"])
@pytest.mark.parametrize("shape", [(9, 64), (64, 5), (3, 3), (1, 1)])
def test_pictures_smaller_than_the_transform_still_hash(kind: str, shape: tuple[int, int]) -> None:
    # a mangled file's portrait band can be a few rows: stretched, never an IndexError
    rng = np.random.default_rng(7)
    pictures = rng.integers(0, 256, size=(3, *shape), dtype=np.uint8)
    spec = HashSpec(kind, 8)
    codes = hashing.compute(pictures, spec)
    assert codes.shape == (3, spec.nbytes)
    assert np.array_equal(codes[1], hashing.compute(pictures[1], spec)[0])


def test_a_picture_in_picture_inset_is_found_and_hashed_as_its_footage() -> None:
    """Footage at half size over other moving footage (rows 5-36, columns 28-59): the batch's
    inset is exactly that rectangle, found inside black bars too, and its hash is the footage's;
    without an inset (the footage alone, or under a static caption box) there is none."""
    times = np.arange(48) / 30
    clip = np.stack([grey(41, t) for t in times])
    pip = np.stack([grey(46, t) for t in times])
    pip[:, 5:37, 28:60] = hashing.resize(clip, 32, 32).round().astype(np.uint8)
    assert hashing.inset_box(pip) == (slice(5, 37), slice(28, 60))
    assert hashing.inset_box(pip[:8]) is None  # too few pictures to tell a border from an edge
    assert hashing.inset_box(clip) is None
    captioned = clip.copy()
    captioned[:, 50:60, 4:60] = 20
    assert hashing.inset_box(captioned) is None
    spec = HashSpec("dct", 8)
    boxed = np.zeros_like(pip)
    boxed[:, 8:56] = hashing.resize(pip, 48, 64).round().astype(np.uint8)
    found = hash_batch(boxed, spec)
    assert found.box == (slice(8, 56), slice(0, 64))
    assert hashing.hamming(found.inner, hashing.compute(clip, spec)).mean() <= 6
    plain = hash_batch(clip, spec)  # no inset: the inner hash is the centre's
    assert np.array_equal(plain.inner, hashing.compute(clip[:, 6:58, 6:58], spec))
