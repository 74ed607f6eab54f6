"""Overlays: a logo or a caption's words over moving footage are found and painted over, so that
the copy hashes like its source; footage without one, still footage and a fixed camera's picture
are left as they are."""

from __future__ import annotations

import numpy as np

from framedb import hashing
from framedb.hashspec import HashSpec
from framedb.overlays import Overlays
from framedb.synth import Caption, Logo
from tests.media import render

WHOLE = (slice(0, 64), slice(0, 64))
SPEC = HashSpec()


def batch(scene: int, look: object = None, seconds: float = 4.0) -> np.ndarray:
    """64 x 64 grey pictures of a scene, 16 a second, as decoding hands them over."""
    out = []
    for t in np.arange(0.0, seconds, 1 / 16):
        rgb = render(scene, float(t), 320, 180)
        if look is not None:
            rgb = look(rgb, float(t), 0)
        y = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        out.append(hashing.resize(y, 64, 64)[0].round().astype(np.uint8))
    return np.stack(out)


def held(pictures: np.ndarray) -> np.ndarray:
    """The batch's first picture, held as long as the batch: a still shot."""
    return np.repeat(pictures[:1], len(pictures), axis=0)


def bits_apart(a: np.ndarray, b: np.ndarray) -> float:
    return float(hashing.hamming(hashing.compute(a, SPEC), hashing.compute(b, SPEC)).mean())


def test_a_logo_over_moving_footage_is_painted_over() -> None:
    plain, logo = batch(3), batch(3, Logo())
    overlays = Overlays()
    filled = overlays.fill(logo, WHOLE)
    assert overlays.mask is not None
    rows, cols = np.nonzero(overlays.mask)
    # the badge: 32 px from 10 px below the top and 10 px left of the right edge of 320 x 180
    assert rows.min() >= 3 and rows.max() <= 15 and cols.min() >= 55 and cols.max() <= 62
    assert overlays.mask.sum() >= 0.8 * (32 / 5) * (32 / 180 * 64)
    assert bits_apart(plain, logo) >= 8  # the logo alone puts the copy out of reach
    assert bits_apart(plain, filled) <= 3
    assert np.array_equal(filled[:, ~overlays.mask], logo[:, ~overlays.mask])


def test_a_captions_words_are_found() -> None:
    overlays = Overlays()
    overlays.fill(batch(42, Caption()), WHOLE)
    assert overlays.mask is not None
    rows = np.nonzero(overlays.mask.any(axis=1))[0]
    assert rows.min() >= 64 * 0.85 - 1  # in the caption's box, the bottom 15 %


def test_footage_without_an_overlay_is_left_alone() -> None:
    for scene in (3, 41, 44):
        pictures = batch(scene)
        assert Overlays().fill(pictures, WHOLE) is pictures


def test_a_still_picture_or_a_fixed_camera_has_no_overlay() -> None:
    still = held(batch(3, Logo()))  # a logo over a still shot: nothing moves around it
    assert Overlays().fill(still, WHOLE) is still
    camera = batch(3, Logo())
    camera[:, :, :14] = camera[0, :, :14]  # a still fifth of the picture: a fixed camera's wall
    assert Overlays().fill(camera, WHOLE) is camera


def test_a_found_overlay_stays_while_the_footage_under_it_stills() -> None:
    overlays = Overlays()
    overlays.fill(batch(3, Logo()), WHOLE)
    found = overlays.mask
    assert found is not None
    still = held(batch(7, Logo()))  # the same video, holding a picture for a while
    filled = overlays.fill(still, WHOLE)
    assert overlays.mask is found and not np.array_equal(filled, still)
    plain = batch(5)  # the logo gone: its pixels move again, and nothing is painted over
    assert overlays.fill(plain, WHOLE) is plain and overlays.mask is None
