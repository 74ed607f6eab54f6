"""A long video decoded as two halves at once (framedb.ingest.split): the same pts, hashes, detail
and errors as one pass from the start, whether the second half's work is taken or refused, on
generated videos (no timings here: benchmarks/)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from framedb import hashing
from framedb.hashspec import HashSpec
from framedb.ingest import decode, forked, split
from framedb.ingest.extract import hash_video
from framedb.ingest.offload import hash_batch
from framedb.store.hashed import HashedVideo
from framedb.synth import Phone, render
from tests.media import Segment, write_video

pytestmark = pytest.mark.skipif(not forked.can_fork(), reason="the second half is forked (Linux)")
FPS = 30


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Key frames every `keyint` frames (no others), so the second half starts at a known
    frame: 1200 (not a multiple of a batch) or 1280 (5 batches), the key frame nearest the
    middle; letterbox bars in frames 300-999 of the second half; a plain clip with B-frames and
    x264's own key frames (MP4 and Matroska); one with its index first (as if made for
    streaming); one with a key frame at the start only; one letterboxed throughout, with bars of
    two heights in turn; a clip in a phone's portrait frame; the plain clip in MPEG-TS, two
    transport streams end to end, and MPEG-2 in program streams (320x240, and small frames)."""
    folder = tmp_path_factory.mktemp("split")
    # Matroska: a duration and cues only for the file; MPEG-TS: no index at all
    for name in ("plain.mp4", "plain.mkv", "plain.ts"):
        write_video(folder / name, [Segment(41, 0.0, 24.0)], size=(160, 90), bframes=2)
    # A phone's frame: inner hashes of the band found in each batch, cut alike in both halves.
    write_video(
        folder / "portrait.mp4", [Segment(44, 0.0, 24.0)], size=(160, 90), look=Phone(90, 160)
    )
    # Two recordings one after the other: the timestamps start again in the middle.
    write_video(folder / "second.ts", [Segment(42, 0.0, 24.0)], size=(160, 90), bframes=2)
    both = (folder / "plain.ts").read_bytes() + (folder / "second.ts").read_bytes()
    (folder / "restart.ts").write_bytes(both)
    _encode_mpeg2(folder / "plain.mpg", [render(43, i / FPS, 320, 240) for i in range(720)])
    _encode_mpeg2(folder / "small.mpg", [_picture(i) for i in range(720)])
    for name, keyint in (("unaligned.mp4", 600), ("aligned.mp4", 640)):
        first = 2 * keyint  # the key frame nearest the middle
        boxed = range(first + 300, first + 1000)
        pictures = [_picture(i, boxed=i in boxed) for i in range(2 * first + 100)]
        _encode(folder / name, pictures, keyint)
    _encode(folder / "faststart.mp4", [_picture(i) for i in range(1200)], 150, faststart=True)
    _encode(folder / "onekey.mp4", [_picture(i) for i in range(600)], 100_000)
    bars = [_picture(i, boxed=True, bar=12 + 6 * (i % 2)) for i in range(1300)]
    _encode(folder / "letterboxed.mp4", bars, 600)
    return folder


def _picture(i: int, boxed: bool = False, bar: int = 12) -> np.ndarray:
    rgb = render(43, i / FPS, 160, 90)
    if boxed:
        rgb[:bar] = rgb[-bar:] = 0
    return rgb


def _encode(path: Path, pictures: list[np.ndarray], keyint: int, faststart: bool = False) -> None:
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 160, 90, "yuv420p"
        stream.options = {
            "preset": "veryfast",
            "bf": "2",
            "x264-params": f"keyint={keyint}:min-keyint={keyint}:scenecut=0",
        }
        for i, rgb in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(rgb, "rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


def _encode_mpeg2(path: Path, pictures: list[np.ndarray]) -> None:
    """MPEG-2 in an MPEG program stream (as on a DVD), a key frame every half second."""
    with av.open(str(path), "w", format="mpeg") as out:
        stream = out.add_stream("mpeg2video", rate=FPS)
        stream.height, stream.width = pictures[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"g": "15", "bf": "2"}
        for i, rgb in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(rgb, "rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


@pytest.fixture(autouse=True)
def short_videos_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(split, "SPLIT_MIN_FRAMES", 500)


@pytest.fixture
def joins(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, bool]]:
    """Each junction reached: (frames before it, whether the second half's work was taken)."""
    seen: list[tuple[int, bool]] = []
    join = split.SecondHalf.join

    def spy(self: split.SecondHalf, hasher: Any, frames: Any, pts: list[int], count: int) -> Any:
        tail = join(self, hasher, frames, pts, count)
        seen.append((count, tail is not None))
        return tail

    monkeypatch.setattr(split.SecondHalf, "join", spy)
    # A goes on alone when B is late to start (a busy machine): right, but not what the tests
    # that take this fixture pin. A waits for B's first frame, so the junction is reached.
    stop_at = split.SecondHalf.stop_at

    def after_b_started(self: split.SecondHalf, pts: list[int], last: int | None) -> int | None:
        while not self.failed and self.first_pts is None and self.end is None:
            self._receive()
        return stop_at(self, pts, last)

    monkeypatch.setattr(split.SecondHalf, "stop_at", after_b_started)
    return seen


def _one_pass(path: Path) -> HashedVideo:
    """Decoded from the start to the end by one process (one core: nothing to split with)."""
    return hash_video(path, HashSpec(), threads=1)


def _same(a: HashedVideo, b: HashedVideo) -> None:
    assert len(a) == len(b) > 0
    for field in ("pts", "times", "codes", "inner", "detail"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert a.error == b.error


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("plain.mp4", 250),
        ("plain.mkv", 250),
        ("plain.ts", 500),
        ("portrait.mp4", 250),
        ("plain.mpg", 375),
        ("aligned.mp4", 1280),
    ],
)
def test_two_halves_give_the_rows_of_one_pass(
    videos: Path,
    name: str,
    first: int,
    joins: list[tuple[int, bool]],
) -> None:
    counted: list[int] = []
    halves = hash_video(videos / name, HashSpec(), threads=2, on_batch=counted.append)
    assert joins == [(first, True)]  # x264's key frame at 250, nearest 360; or the one set
    assert sum(counted) == len(halves)
    _same(halves, _one_pass(videos / name))


def test_the_second_half_cuts_its_batches_where_the_file_does(
    videos: Path, joins: list[tuple[int, bool]]
) -> None:
    """Bars in 700 frames of the second half: batches cut from its first frame (1200, not a
    multiple of 256) would put them in other boxes than the file's batches; it counts the frames
    before it from its timestamp and cuts where the file does, so its work is taken."""
    halves = hash_video(videos / "unaligned.mp4", HashSpec(), threads=2)
    assert joins == [(1200, True)]
    whole = _one_pass(videos / "unaligned.mp4")
    _same(halves, whole)
    with decode.VideoReader(videos / "unaligned.mp4") as reader:
        grey = np.concatenate([batch.grey for batch in reader.batches()])
    cut_there = [hash_batch(grey[i : i + 256], HashSpec()) for i in range(1200, len(grey), 256)]
    assert not np.array_equal(np.concatenate([b.codes for b in cut_there]), whole.codes[1200:])


def test_a_second_half_that_miscounts_the_frames_before_it_is_refused(
    videos: Path, joins: list[tuple[int, bool]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a variable frame rate the count from the timestamp can be wrong: then the second
    half's batches are not the file's, and the first process decodes the rest itself."""
    count = decode.VideoReader.frames_before
    monkeypatch.setattr(decode.VideoReader, "frames_before", lambda r, pts: count(r, pts) + 1)
    counted: list[int] = []  # the second half's frames, counted as they came, are taken back
    halves = hash_video(videos / "unaligned.mp4", HashSpec(), threads=2, on_batch=counted.append)
    assert joins == [(1200, False)] and sum(counted) == len(halves)
    _same(halves, _one_pass(videos / "unaligned.mp4"))


def test_bars_throughout_put_both_halves_in_the_same_box(
    videos: Path, joins: list[tuple[int, bool]]
) -> None:
    """Every picture letterboxed (12 and 18 rows in turn): each batch's box is that of the
    thinner bars (any picture's content counts), in both halves (junction at 600)."""
    halves = hash_video(videos / "letterboxed.mp4", HashSpec(), threads=2)
    assert joins == [(600, True)]
    whole = _one_pass(videos / "letterboxed.mp4")
    _same(halves, whole)
    with decode.VideoReader(videos / "letterboxed.mp4") as reader:
        grey = np.concatenate([batch.grey for batch in reader.batches()])
    assert (grey[:, 0].max(axis=1) <= hashing.BAR_LEVEL).all()  # no picture reaches the top
    assert hashing.content_box(grey[:256]) == (slice(8, 56), slice(0, 64))  # 12 of 90 rows


def test_a_second_half_that_cannot_seek_or_dies_leaves_the_work_to_the_first(
    videos: Path, monkeypatch: pytest.MonkeyPatch, joins: list[tuple[int, bool]]
) -> None:
    whole = _one_pass(videos / "plain.mp4")
    monkeypatch.setattr(decode.VideoReader, "start_near", lambda self, fraction: False)
    _same(hash_video(videos / "plain.mp4", HashSpec(), threads=2), whole)
    monkeypatch.undo()

    def dies(*args: Any) -> None:
        os._exit(9)

    monkeypatch.setattr(split, "_second_half", dies)
    _same(hash_video(videos / "plain.mp4", HashSpec(), threads=2), whole)
    assert joins == []  # neither got as far as the junction


def test_a_video_with_no_key_frame_near_the_middle_is_decoded_by_one_process(
    videos: Path, joins: list[tuple[int, bool]]
) -> None:
    """A key frame at the start only: seeking lands there, and the second half gives up."""
    with decode.VideoReader(videos / "onekey.mp4") as reader:
        assert reader.start_near(0.5)
        with pytest.raises(decode.NoKeyFrame, match="no key frame near"):
            next(reader.frames())
    _same(
        hash_video(videos / "onekey.mp4", HashSpec(), threads=2), _one_pass(videos / "onekey.mp4")
    )
    assert joins == []


def test_a_file_cut_short_in_the_second_half_keeps_the_same_frames_and_error(
    videos: Path, tmp_path: Path, joins: list[tuple[int, bool]]
) -> None:
    data = (videos / "faststart.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 4 // 5])
    halves = hash_video(cut, HashSpec(), threads=2)
    whole = _one_pass(cut)
    _same(halves, whole)
    assert whole.error is not None and "cut short" in whole.error
    assert 600 < len(whole) < 1200 and joins == [(600, True)]


def test_a_transport_stream_cut_short_keeps_the_same_frames(
    videos: Path, tmp_path: Path, joins: list[tuple[int, bool]]
) -> None:
    """A recording copied in part: no index says so, its end is where the frames stop."""
    data = (videos / "plain.ts").read_bytes()
    cut = tmp_path / "cut.ts"
    cut.write_bytes(data[: len(data) * 9 // 10 + 77])  # mid-packet
    halves = hash_video(cut, HashSpec(), threads=2)
    _same(halves, _one_pass(cut))
    assert 600 < len(halves) < 720 and joins == [(500, True)]


def test_a_broken_stream_in_the_second_half_keeps_the_same_frames_and_error(
    videos: Path, tmp_path: Path, joins: list[tuple[int, bool]]
) -> None:
    data = bytearray((videos / "faststart.mp4").read_bytes())
    at = len(data) * 3 // 4
    data[at : at + 4096] = bytes(4096)  # zeros over a few frames' samples
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(data))
    whole = _one_pass(broken)
    assert whole.error is not None and "decoding stopped after" in whole.error
    assert 600 < len(whole) < 1200
    _same(hash_video(broken, HashSpec(), threads=2), whole)
    assert joins == [(600, True)]


def test_a_frame_that_cannot_be_scaled_in_the_second_half_ends_the_video_there(
    videos: Path, monkeypatch: pytest.MonkeyPatch, joins: list[tuple[int, bool]]
) -> None:
    scale = decode._scale
    bad = int(_one_pass(videos / "plain.mp4").pts[500])

    def failing(reformatter: Any, frame: Any) -> Any:
        if frame.pts == bad:
            raise ValueError("no scaling for this one")
        return scale(reformatter, frame)

    monkeypatch.setattr(decode, "_scale", failing)
    halves = hash_video(videos / "plain.mp4", HashSpec(), threads=2)
    _same(halves, _one_pass(videos / "plain.mp4"))
    assert len(halves) == 500 and joins == [(250, True)]
    assert halves.error is not None
    assert halves.error.endswith("decoding stopped after 500 frames: no scaling for this one")


def test_short_videos_and_single_cores_are_not_split(
    videos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with decode.VideoReader(videos / "plain.mp4") as reader:
        assert reader.can_seek and reader.expected_frames == 720
        assert split.worth_splitting(reader, 2) and not split.worth_splitting(reader, 1)
        monkeypatch.setattr(split, "SPLIT_MIN_FRAMES", 721)
        assert not split.worth_splitting(reader, 2)


def test_a_second_half_that_decodes_otherwise_is_refused_at_the_junction(
    videos: Path, monkeypatch: pytest.MonkeyPatch, joins: list[tuple[int, bool]]
) -> None:
    """Were B's decoder to start wrong (references it never had), its first picture would differ
    from A's: simulated by a scaler that darkens every picture in B."""
    parent = os.getpid()

    class Skewed(decode.Greyer):
        def __call__(self, frames: list[Any]) -> np.ndarray:
            grey = super().__call__(frames)
            return grey if os.getpid() == parent else grey // 2

    monkeypatch.setattr(split, "Greyer", Skewed)
    _same(hash_video(videos / "plain.mp4", HashSpec(), threads=2), _one_pass(videos / "plain.mp4"))
    assert joins == [(250, False)]


def test_a_transport_stream_whose_timestamps_start_again_is_refused_at_the_junction(
    videos: Path, joins: list[tuple[int, bool]]
) -> None:
    """The seek lands in the second recording, whose timestamps repeat the first's: A meets the
    same timestamp in its own footage, and the pictures there differ."""
    restart = videos / "restart.ts"
    _same(hash_video(restart, HashSpec(), threads=2), _one_pass(restart))
    assert joins and not any(taken for _, taken in joins)


def test_small_frames_in_a_program_stream_are_refused_at_the_junction(
    videos: Path, joins: list[tuple[int, bool]]
) -> None:
    """A known limit: in this small-frame MPEG-2 stream, the first pictures after a seek do not
    match the pictures of a pass from the start that carry their timestamps (the key frame was
    up to 20 grey levels off; from the next group of pictures on they agree). The junction sees
    it and refuses the second half's work."""
    small = videos / "small.mpg"
    _same(hash_video(small, HashSpec(), threads=2), _one_pass(small))
    assert joins and not any(taken for _, taken in joins)


def test_a_second_half_that_differs_after_its_first_frame_is_refused_too(
    videos: Path, monkeypatch: pytest.MonkeyPatch, joins: list[tuple[int, bool]]
) -> None:
    """The junction is checked over every frame the first process decoded from it on (frames
    250-255, the rest of its chunk), not the first alone."""
    parent = os.getpid()

    class SkewedAfterOne(decode.Greyer):
        def __call__(self, frames: list[Any]) -> np.ndarray:
            grey = super().__call__(frames)
            if os.getpid() != parent:
                first = grey[:1].copy() if not hasattr(self, "seen") else grey[:0]
                self.seen = True
                grey //= 2
                grey[: len(first)] = first
            return grey

    monkeypatch.setattr(split, "Greyer", SkewedAfterOne)
    _same(hash_video(videos / "plain.mp4", HashSpec(), threads=2), _one_pass(videos / "plain.mp4"))
    assert joins == [(250, False)]


@pytest.mark.parametrize(("fraction", "first"), [(0.4, 450), (0.45, 600), (0.5, 600)])
def test_a_reader_started_mid_file_yields_the_frames_from_the_nearest_key_frame(
    videos: Path, fraction: float, first: int
) -> None:
    """Key frames every 150 frames of 1200: the one nearest the fraction, before or after it."""
    with decode.VideoReader(videos / "faststart.mp4") as reader:
        everything = [p for p, _ in reader.frames()]
    with decode.VideoReader(videos / "faststart.mp4") as reader:
        assert reader.start_near(fraction)
        assert [p for p, _ in reader.frames()] == everything[first:]


def test_after_a_seek_frames_shown_before_the_key_frame_are_left_out_only_at_the_start() -> None:
    """The key frame's leading pictures (an open GOP's) are not the second half's; a frame shown
    before it much later (timestamps that go back) would be kept by one pass: the start alone can
    place it, so the second half gives up."""

    class Frame:
        def __init__(self, pts: int, key: bool = False) -> None:
            self.pts, self.key_frame = pts, key

    def yielded(pts: list[int], key_at: int) -> list[int]:
        frames = [Frame(p, i == key_at) for i, p in enumerate(pts)]
        return [f.pts for f in decode._from_key_frame(iter(frames), earliest=0)]

    leading = [97, 98, 100, 99, 101, 102, 103]  # a picture shown before the key frame, at once
    assert yielded(leading, key_at=2) == [100, 101, 102, 103]
    late = [100, *range(101, 101 + decode.LEADING), 50, 200]
    with pytest.raises(decode.NoKeyFrame, match="long after"):
        yielded(late, key_at=0)
    with pytest.raises(decode.NoKeyFrame, match="no key frame near"):
        list(decode._from_key_frame(iter([Frame(10, True)]), earliest=11))
