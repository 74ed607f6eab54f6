"""Dot plots: the matching frame pairs of two videos (or of one against itself) and their chart."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from framedb.evidence.dots import dot_plot, match_dots
from framedb.match.tracks import MatchParams, Track

PERIOD = 3.0  # seconds between the loop starts of looped.mp4 (LOOP_STARTS at 30 fps)


def test_dot_plot_of_a_loop_has_diagonals_at_the_period(collection) -> None:  # type: ignore[no-untyped-def]
    db, videos = collection
    looped = db.video(videos / "looped.mp4")
    track = db.tracks([looped])[looped.id]
    params = MatchParams()
    xs, ys = match_dots(track, track, radius=params.radius, min_detail=4.0, min_gap=1.0)
    frames = np.round((ys - xs) * 30).astype(int)  # offsets in frames; the period is 90
    values, counts = np.unique(frames, return_counts=True)
    assert len(xs) > 300
    # slow footage repeats a hash for a few frames, so the diagonals are a few frames thick,
    # but they are centred on the period and its multiples, and there is nothing else
    assert set(values[counts == counts.max()].tolist()) == {-90, 90}
    assert counts[values == 180][0] == counts[values == -180][0] > 50
    assert (np.abs(frames - 90 * np.round(frames / 90)) <= 12).mean() > 0.97

    plot = dot_plot(track, track, ("looped.mp4", "looped.mp4"), params)
    image = np.asarray(Image.open(io.BytesIO(plot.png)).convert("L"))

    def darkest(x: float, y: float) -> int:
        col, row = plot.pixel(x, y)
        return int(image[row - 1 : row + 2, col - 1 : col + 2].min())

    diagonal = [darkest(x, x + PERIOD) for x in np.arange(2.5, 7.5, 0.5)]
    between = [darkest(x, x + PERIOD / 2) for x in np.arange(2.5, 7.5, 0.5)]
    assert max(diagonal) < 128, diagonal  # dots drawn on y = x + period
    assert min(between) > 200, between  # and nothing half way


def test_dot_plot_of_a_copy_against_its_source(collection) -> None:  # type: ignore[no-untyped-def]
    db, videos = collection
    rows = [db.video(videos / "copy.mp4"), db.video(videos / "looped.mp4")]
    tracks = db.tracks(rows)
    copy, looped = (tracks[r.id] for r in rows)
    xs, ys = match_dots(copy, looped, radius=8, min_detail=4.0, min_gap=1.0)
    # copy frame c shows clip frame c, which looped shows at 60 + c, 150 + c and 240 + c
    offsets = np.round((ys - xs) * 30).astype(int)
    for centre in (60, 150, 240):
        band = offsets[np.abs(offsets - centre) <= 12]
        assert len(band) > 30 and abs(np.median(band) - centre) <= 1
    assert (np.abs(offsets - 60 - 90 * np.round((offsets - 60) / 90)) <= 12).mean() > 0.97


def test_dots_of_a_still_shot_are_capped() -> None:
    n = 20_000  # ten minutes of one picture: every frame matches every other
    times = np.arange(n) / 30
    codes = np.tile(np.arange(8, dtype=np.uint8), (n, 1))
    still = Track(1, times, codes, np.full(n, 50.0, np.float32))
    xs, ys = match_dots(still, still, radius=0, min_detail=4.0, min_gap=1.0, max_dots=5000)
    assert 4000 < len(xs) <= 5000  # a uniform sample, less the pairs closer than min_gap
    assert np.all(np.abs(ys - xs) >= 1.0)
    assert xs.min() < 60 and xs.max() > times[-1] - 60  # spread over the whole video
