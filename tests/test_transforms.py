"""Reused footage as it circulates: mirrored, cropped, zoomed, captioned, in a phone's frame,
sped up. For each look a copy is made with PyAV; `matches` and `find` must place its shared
footage against the original (both ends within 0.5 s, rate and mirroring said), and unrelated
videos given the same look (one channel's logo and caption) must not match."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from framedb import FrameDB
from framedb.match.tracks import Occurrence
from framedb.synth import (
    Blur,
    Caption,
    Chain,
    Crop,
    Dim,
    Grey,
    Logo,
    Mirror,
    Noise,
    Phone,
    PiP,
    Rotate,
    Segment,
    write_video,
)

SIZE = (320, 180)
CLIP = Segment(41, 0.0, 5.0)  # the shared footage: 5 s of scene 41
ORIGINAL = [Segment(42, 0.0, 2.0), CLIP, Segment(43, 0.0, 1.5)]  # the clip from 2 s to 7 s
HEAD = Segment(44, 0.0, 1.5)  # the copy: the clip (perhaps played faster) from 1.5 s


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("original") / "original.mp4"
    write_video(path, ORIGINAL, size=SIZE)
    return path


def _copy(folder: Path, look: object, speed: float = 1.0) -> Path:
    path = folder / "copy.mp4"
    clip = Segment(CLIP.scene, CLIP.start, CLIP.duration / speed, speed=speed)
    write_video(path, [HEAD, clip, Segment(45, 0.0, 1.5)], size=SIZE, crf=28, look=look)
    return path


LOOKS = {
    "mirror": (Mirror(), 1.0),
    "crop 90 %": (Crop(0.9), 1.0),
    "crop 75 %": (Crop(0.75), 1.0),
    "zoom 1.2x": (Crop(1 / 1.2), 1.0),
    "rotation 5 deg": (Rotate(5.0), 1.0),
    "rotation 5 deg counter-clockwise": (Rotate(-5.0), 1.0),
    "caption": (Caption(), 1.0),
    "corner logo": (Logo(), 1.0),
    "phone frame": (Phone(180, 320, 6.0), 1.0),
    "picture-in-picture 50 %": (PiP(46), 1.0),
    "picture-in-picture, speed 1.25x": (PiP(46), 1.25),
    "speed 1.25x": (None, 1.25),
    "speed 0.8x": (None, 0.8),
    "greyscale": (Grey(), 1.0),
    "blur": (Blur(1.5), 1.0),
    "noise": (Noise(8.0), 1.0),
    "mirror + crop 90 % + caption": (Chain((Mirror(), Crop(0.9), Caption())), 1.0),
}


def _check(o: Occurrence, c: Occurrence, speed: float, mirrored: bool) -> None:
    """The original's and the copy's occurrence: both ends within 0.5 s, the rate, the mirror."""
    assert abs(o.start_time - 2.0) <= 0.5 and abs(o.end_time - 7.0) <= 0.5
    assert abs(c.start_time - 1.5) <= 0.5
    assert abs(c.end_time - (1.5 + CLIP.duration / speed)) <= 0.5
    assert c.rate / o.rate == pytest.approx(speed, rel=0.02)
    assert (o.mirrored != c.mirrored) == mirrored


@pytest.mark.parametrize("name", list(LOOKS))
def test_matches_and_find_place_a_changed_copy(name: str, original: Path, tmp_path: Path) -> None:
    look, speed = LOOKS[name]
    copy = _copy(tmp_path, look, speed)
    with FrameDB.open(tmp_path / "found.db") as db:  # the clip looked for, not stored
        db.ingest([original])
        [group] = db.find(copy)
        o, c = sorted(group.occurrences, key=lambda x: x.video_id, reverse=True)
        _check(o, c, speed, name.startswith("mirror"))
    with FrameDB.open(tmp_path / "both.db") as db:
        db.ingest([original, copy])
        [group] = db.matches()
        o, c = sorted(group.occurrences, key=lambda x: Path(x.video).name != "original.mp4")
        _check(o, c, speed, name.startswith("mirror"))


@pytest.mark.parametrize("degrees", [5.0, -5.0])
def test_a_turned_copy_is_found_whichever_is_stored_first(tmp_path: Path, degrees: float) -> None:
    # Turned hashes are not indexed: stored first, the copy is found by the original's turned
    # hashes among its hashes; stored second, by its own turned back among the original's
    # inner hashes. Scene 12 turned comes within 4 bits of few other stored hashes: without the
    # turned hashes' lookups, turned clockwise it is found in neither order, counter-clockwise
    # not when the copy is stored first.
    clip = Segment(12, 0.0, 5.0)
    original, copy = tmp_path / "original.mp4", tmp_path / "copy.mp4"
    write_video(original, [Segment(42, 0.0, 2.0), clip, Segment(43, 0.0, 1.5)], size=SIZE)
    write_video(copy, [HEAD, clip, Segment(45, 0.0, 1.5)], size=SIZE, crf=28, look=Rotate(degrees))
    for order in ((original, copy), (copy, original)):
        with FrameDB.open(tmp_path / f"{order[0].stem}-first.db") as db:
            for path in order:
                db.ingest([path])
            [group] = db.matches()
            o, c = sorted(group.occurrences, key=lambda x: Path(x.video).name != "original.mp4")
            _check(o, c, 1.0, False)


def test_a_dim_4_3_clip_in_a_phone_frame_is_found(tmp_path: Path) -> None:
    # A low-contrast 4:3 clip across a phone's frame: its band is not the 16:9 one guessed from
    # the frame's shape, and the blurred fill around it is about as sharp as its dark rows.
    original, copy = tmp_path / "original.mp4", tmp_path / "copy.mp4"
    write_video(original, ORIGINAL, size=(320, 240), look=Dim())
    tail = Segment(45, 0.0, 1.5)
    phone = Chain((Dim(), Phone(180, 320, 6.0)))
    write_video(copy, [HEAD, CLIP, tail], size=(320, 240), crf=28, look=phone)
    with FrameDB.open(tmp_path / "t.db") as db:
        db.ingest([original, copy])
        [group] = db.matches()
        o, c = sorted(group.occurrences, key=lambda x: Path(x.video).name != "original.mp4")
        _check(o, c, 1.0, False)


@pytest.mark.parametrize(
    ("name", "first", "second", "look"),
    [
        (
            "one logo and caption on unrelated footage",
            [Segment(51, 0.0, 5.0)],
            [Segment(52, 0.0, 5.0)],
            Chain((Logo(), Caption())),
        ),
        (
            "other footage in a picture-in-picture inset",
            [Segment(58, 0.0, 5.0)],
            [Segment(59, 0.0, 5.0)],
            (None, PiP(60)),
        ),
        (
            "one still shot in two videos",
            [Segment(53, 0.0, 2.0), Segment(54, 1.0, 4.0, "still")],
            [Segment(54, 1.0, 4.0, "still"), Segment(55, 0.0, 2.0)],
            None,
        ),
        (
            "fades and black",
            [Segment(56, 0.0, 2.0, "fade"), Segment(0, 0.0, 2.0, "black")],
            [Segment(0, 0.0, 2.0, "black"), Segment(57, 0.0, 2.0, "fade")],
            None,
        ),
    ],
)
def test_nothing_is_found_where_nothing_is_shared(
    name: str, first: list[Segment], second: list[Segment], look: Any, tmp_path: Path
) -> None:
    """`look`: of both videos, or (first's, second's)."""
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    look_a, look_b = look if isinstance(look, tuple) else (look, look)
    write_video(a, first, size=SIZE, look=look_a)
    write_video(b, second, size=SIZE, crf=28, look=look_b)
    with FrameDB.open(tmp_path / "n.db") as db:
        db.ingest([a])
        assert db.find(b) == []
        db.ingest([b])
        assert db.matches() == []


def test_slow_footage_played_faster_in_an_inset(tmp_path: Path) -> None:
    # Slow footage (the scene at a third of its speed) fits a plain line for a while even where
    # a copy plays it 1.25x faster, and the seeds' rate can be 8 % off: the copy was placed at
    # rate 1.33, and `find` of the stored copy came out in slivers at rates 1.26, 1.59, 2.0 ...
    slow = Segment(41, 0.0, 7.0, speed=1 / 3)
    original, copy = tmp_path / "original.mp4", tmp_path / "copy.mp4"
    write_video(original, [Segment(42, 0.0, 2.0), slow, Segment(43, 0.0, 1.5)], size=SIZE)
    faster = Segment(41, 0.0, 7.0 / 1.25, speed=1.25 / 3)
    write_video(copy, [HEAD, faster, Segment(45, 0.0, 1.5)], size=SIZE, crf=28, look=PiP(46))
    with FrameDB.open(tmp_path / "t.db") as db:
        db.ingest([original, copy])
        [group] = db.matches()
        _check_slow(*sorted(group.occurrences, key=lambda x: Path(x.video).name != "original.mp4"))
        # the copy's own footage is found in its stored self too (its head and tail alone)
        [group] = [g for g in db.find(copy) if len(g.occurrences) == 3]
        clip, *stored = sorted(group.occurrences, key=lambda x: x.video_id)
        by_name = {Path(x.video).name: x for x in stored}
        _check_slow(by_name["original.mp4"], clip)
        same = by_name["copy.mp4"]
        assert same.rate == pytest.approx(clip.rate, rel=0.01)
        assert abs(same.start_time - clip.start_time) <= 0.1


def test_held_pictures_played_faster_in_an_inset_keep_their_rate(tmp_path: Path) -> None:
    # Slow footage (a sixth of the scene's speed) shown at 10 pictures a second, each held for
    # three frames (60 pictures a second of footage), played 1.25x faster in an inset: its
    # hashes fit a rate 2 % off about as well (1.226 without lining up the pictures' changes,
    # framedb.match.align._in_step), which puts the far end 0.1 s off.
    held = Segment(12, 0.0, 7.0, speed=1 / 6, pictures=60)
    original, copy = tmp_path / "original.mp4", tmp_path / "copy.mp4"
    write_video(original, [Segment(42, 0.0, 2.0), held, Segment(43, 0.0, 1.5)], size=SIZE)
    faster = replace(held, duration=7.0 / 1.25, speed=1.25 / 6)
    write_video(copy, [HEAD, faster, Segment(45, 0.0, 1.5)], size=SIZE, crf=28, look=PiP(46))
    with FrameDB.open(tmp_path / "t.db") as db:
        db.ingest([original, copy])
        [group] = db.matches()
        o, c = sorted(group.occurrences, key=lambda x: Path(x.video).name != "original.mp4")
        assert c.rate / o.rate == pytest.approx(1.25, rel=0.005)
        assert abs(o.start_time - 2.0) <= 0.05 and abs(o.end_time - 9.0) <= 0.1
        assert abs(c.start_time - 1.5) <= 0.05 and abs(c.end_time - 7.1) <= 0.1


@pytest.mark.parametrize(("scene", "speed"), [(10, 1 / 3), (7, 1 / 6)])
def test_a_crop_of_slow_held_footage_is_placed_on_its_cuts(
    tmp_path: Path, scene: int, speed: float
) -> None:
    # Slow footage (a third, a sixth of the scene's speed) shown at 10 pictures a second, each
    # held three frames, cropped to 75 %: 6 % off in scale from the original's inner picture,
    # its hashes fit offsets frames apart about as well (without the cuts, framedb.match.cuts:
    # scene 10 placed 3 frames early, scene 7 25 frames late). Both videos cut at both ends of
    # the shared footage: 2 s to 9 s of the original, 1.5 s to 8.5 s of the copy.
    held = Segment(scene, 0.0, 7.0, speed=speed, pictures=round(10 / speed))
    original, copy = tmp_path / "original.mp4", tmp_path / "copy.mp4"
    write_video(original, [Segment(42, 0.0, 2.0), held, Segment(43, 0.0, 1.5)], size=SIZE)
    write_video(copy, [HEAD, held, Segment(45, 0.0, 1.5)], size=SIZE, crf=28, look=Crop(0.75))
    with FrameDB.open(tmp_path / "t.db") as db:
        db.ingest([original, copy])
        [group] = db.matches()
        o, c = sorted(group.occurrences, key=lambda x: Path(x.video).name != "original.mp4")
        assert (o.start_frame, o.end_frame, c.start_frame, c.end_frame) == (60, 269, 45, 254)


def _check_slow(o: Occurrence, c: Occurrence) -> None:
    """The slow footage: 2 s to 9 s of the original, 1.5 s to 7.1 s of the copy, 1.25x faster."""
    assert abs(o.start_time - 2.0) <= 0.5 and abs(o.end_time - 9.0) <= 0.5
    assert abs(c.start_time - 1.5) <= 0.5 and abs(c.end_time - 7.1) <= 0.5
    assert c.rate / o.rate == pytest.approx(1.25, rel=0.02)
