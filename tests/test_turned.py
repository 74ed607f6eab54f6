"""Turned hashes (framedb.turned): a copy turned 5° either way, zoomed to fill its frame, is near
its source through them, and through nothing else."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from framedb import hashing
from framedb.hashspec import HashSpec
from framedb.ingest.decode import VideoReader
from framedb.ingest.extract import hash_video
from framedb.synth import Rotate, Segment, write_video
from framedb.turned import turned
from tests.media import render
from tests.test_hashing import _grey_of

SPEC = HashSpec("dct", 8)
WHOLE = (slice(0, 64), slice(0, 64))
TIMES = np.arange(0.0, 2.0, 0.25)


def _pictures(scene: int, degrees: float | None, width: int, height: int) -> np.ndarray:
    look = Rotate(degrees) if degrees is not None else None
    frames = (render(scene, float(t), width, height) for t in TIMES)
    return np.stack([_grey_of(look(f, 0.0, 0) if look else f) for f in frames])


def _far(a: np.ndarray, b: np.ndarray) -> float:
    return float(hashing.hamming(a, b).mean())


@pytest.mark.parametrize(
    ("scene", "width", "height"), [(3, 320, 180), (5, 320, 240), (12, 320, 180)]
)
def test_a_copy_turned_either_way_is_near_its_source_through_turned_hashes(
    scene: int, width: int, height: int
) -> None:
    """Turned 5° clockwise (16:9 and 4:3 pictures): the source's clockwise hash is near the
    copy's hash, and the copy's counter-clockwise hash (turned back) near the source's inner
    hash; counter-clockwise, the other way round. No pairing of the hashes stored before is
    near (10+ bits)."""
    source = _pictures(scene, None, width, height)
    plain, inner = _plain_and_inner(source)
    source_turned = turned(source, WHOLE, width / height, SPEC)
    assert source_turned is not None and source_turned.shape == (len(TIMES), 16)
    for degrees, own, back in ((5.0, slice(0, 8), slice(8, 16)), (-5.0, slice(8, 16), slice(0, 8))):
        copy = _pictures(scene, degrees, width, height)
        copy_turned = turned(copy, WHOLE, width / height, SPEC)
        assert copy_turned is not None
        copy_plain = hashing.compute(copy, SPEC)
        assert _far(source_turned[:, own], copy_plain) <= 4
        assert _far(copy_turned[:, back], inner) <= 7
        assert min(_far(copy_plain, plain), _far(copy_plain, inner)) >= 10


def test_a_wide_picture_turned_is_nearer_its_source_than_before_but_not_both_ways() -> None:
    """A 2.35:1 picture turned 5° is zoomed 1.2x to fill its frame: 83 % of it is left, a little
    less than the turned box (88 %), 8-9 bits; turned back the copy is 73 % of its source, too
    far from the inner box (80 %) to be near it (a known limit: README)."""
    source = _pictures(41, None, 376, 160)
    plain, inner = _plain_and_inner(source)
    source_turned = turned(source, WHOLE, 376 / 160, SPEC)
    copy = _pictures(41, 5.0, 376, 160)
    copy_plain = hashing.compute(copy, SPEC)
    assert source_turned is not None
    near = _far(source_turned[:, :8], copy_plain)
    assert near <= 9 and near + 4 <= min(_far(copy_plain, plain), _far(copy_plain, inner))


def _plain_and_inner(pictures: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = hashing.inner_box(WHOLE, None)
    return hashing.compute(pictures, SPEC), hashing.compute(pictures[:, rows, cols], SPEC)


def test_turned_in_display_proportions_not_the_grey_pictures_square() -> None:
    """The 64 x 64 grey picture squeezes a 16:9 frame: turned as if it were square, the source's
    turned hash is far from the turned copy."""
    source, copy = _pictures(3, None, 320, 180), _pictures(3, 5.0, 320, 180)
    copy_plain = hashing.compute(copy, SPEC)
    right, square = (turned(source, WHOLE, aspect, SPEC) for aspect in (16 / 9, 1.0))
    assert right is not None and square is not None
    assert _far(right[:, :8], copy_plain) <= 2 and _far(square[:, :8], copy_plain) >= 5


def test_turned_hashes_follow_the_content_box() -> None:
    """Letterboxed, the picture turned is the content box's, as for every other hash."""
    source = _pictures(5, None, 320, 180)
    boxed = np.zeros((len(source), 64, 64), np.uint8)
    boxed[:, 8:56] = hashing.resize(source, 48, 64).round().astype(np.uint8)
    box = hashing.content_box(boxed)
    assert box == (slice(8, 56), slice(0, 64))
    alone, inside = turned(source, WHOLE, 16 / 9, SPEC), turned(boxed, box, 16 / 9 * 48 / 64, SPEC)
    assert alone is not None and inside is not None
    assert _far(alone, inside) <= 3


@pytest.mark.parametrize("scene", [3, 12])
def test_anamorphic_video_is_turned_as_shown(tmp_path: Path, scene: int) -> None:
    """16:9 pictures stored squeezed into 240 x 180 pixels of aspect 4:3 (as DVDs and broadcast
    store them): decoded, their turned hashes turn the picture as shown, near a copy of it shown
    turned 5° (mean 2.2 bits; turned in the stored pixel grid 4.1-4.3)."""
    original, copy = tmp_path / "original.mp4", tmp_path / "copy.mp4"
    clip = [Segment(scene, 0.0, 3.0)]
    write_video(original, clip, size=(320, 180), pixel_aspect=Fraction(4, 3))
    write_video(copy, clip, size=(320, 180), crf=28, look=Rotate(5.0))
    with VideoReader(original) as reader:
        assert (reader.info.width, reader.info.display_size) == (240, (320, 180))
    source, turned_copy = hash_video(original, HashSpec()), hash_video(copy, HashSpec())
    assert source.turned is not None
    assert _far(source.turned[:, :8], turned_copy.codes) <= 3


@pytest.mark.parametrize("kind", ["ahash", "dhash", "phash"])
def test_only_the_dct_hash_has_turned_hashes(kind: str) -> None:
    assert turned(_pictures(3, None, 320, 180), WHOLE, 16 / 9, HashSpec(kind, 8)) is None
