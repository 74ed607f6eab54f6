"""Cuts (framedb.match.cuts) on hand-made tracks: shots of look-alike frames, a fade, a flat frame;
and a line moved onto the cuts only where both ends of its segment agree. The end-to-end case (a
75 % crop of slow held footage) is in test_transforms."""

from __future__ import annotations

import numpy as np

from framedb.match.align import Line
from framedb.match.cuts import cuts, on_cuts
from framedb.match.tracks import MatchParams, Track

PARAMS = MatchParams()


def _shots(lengths: list[int], seed: int, fps: float = 30.0) -> tuple[Track, list[np.ndarray]]:
    """A track of shots of the given lengths: each a random 64-bit code, 0-3 bits of it flipped a
    frame (footage that moves a little); and each shot's codes."""
    rng = np.random.default_rng(seed)
    shots = []
    for n in lengths:
        base = rng.integers(0, 256, 8, dtype=np.uint8)
        noise = np.zeros((n, 64), bool)
        for row in noise:
            row[rng.choice(64, rng.integers(0, 4), replace=False)] = True
        shots.append(base ^ np.packbits(noise, axis=1))
    codes = np.concatenate(shots)
    times = np.arange(len(codes)) / fps
    return Track(0, times, codes, np.full(len(codes), 20.0)), shots


def test_shot_starts_are_cuts_and_fades_and_flat_frames_are_not() -> None:
    track, _ = _shots([40, 50, 30], seed=1)
    assert cuts(track, PARAMS).tolist() == [40, 90]
    for first, last in ((1, 39), (36, 44), (40, 40), (41, 89), (85, 119), (0, 200)):
        assert cuts(track, PARAMS, first, last).tolist() == [
            k for k in (40, 90) if first <= k <= last
        ]  # a window sees what the whole track does
    detail = track.detail.copy()
    detail[89] = 0.0  # black before the second cut: no sharp change between two pictures
    flat = Track(0, track.times, track.codes, detail)
    assert cuts(flat, PARAMS).tolist() == [40]
    # a fade from one shot to the next: 8 bits a frame for 8 frames, never sharp
    a, b = track.codes[39], track.codes[40]
    bits_a, bits_b = np.unpackbits(a), np.unpackbits(b)
    differ = np.flatnonzero(bits_a != bits_b)
    fade = []
    for k in range(1, 9):
        bits = bits_a.copy()
        turned = differ[: len(differ) * k // 8]
        bits[turned] = bits_b[turned]
        fade.append(np.packbits(bits))
    codes = np.concatenate([track.codes[:40], np.array(fade), track.codes[40:]])
    faded = Track(0, np.arange(len(codes)) / 30.0, codes, np.full(len(codes), 20.0))
    assert 40 not in cuts(faded, PARAMS).tolist()


def test_a_line_is_moved_onto_cuts_only_where_both_ends_agree() -> None:
    # the copy: a head of 30 frames, the shared shot of 100, a tail; the original: 60, 100, 40
    original, shots = _shots([60, 100, 40], seed=2)
    head, tail = _shots([30], seed=3)[1][0], _shots([50], seed=4)[1][0]
    codes = np.concatenate([head, shots[1], tail])
    copy = Track(1, np.arange(len(codes)) / 30.0, codes, np.full(len(codes), 20.0))
    truth = Line(1.0)  # copy frame 30 + k (1 s + k / 30) shows original frame 60 + k (2 s + ...)
    late = truth.shifted(5 / 30)
    # along the late line copy frames 30..124 show original frames 65..159 (its next five, the
    # original's next shot)
    moved = on_cuts(copy, original, late, (30, 124, 65, 159), PARAMS)
    assert moved is not None and abs(moved.dt - truth.dt) < 1e-9 and moved.rate == 1.0
    assert on_cuts(copy, original, truth, (30, 129, 60, 159), PARAMS) is None  # right already
    # the copy's shot goes on 20 frames past the original's: its ends disagree (5 and 25 frames)
    longer = np.concatenate([head, shots[1], shots[1][-1:].repeat(20, axis=0), tail])
    going_on = Track(1, np.arange(len(longer)) / 30.0, longer, np.full(len(longer), 20.0))
    assert on_cuts(going_on, original, late, (30, 124, 65, 159), PARAMS) is None
