"""Decoding: every frame once, with exactly the count and timestamps PyAV itself reports."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from framedb.errors import NotAVideoError, VideoNotFoundError
from framedb.hashspec import HashSpec
from framedb.ingest import decode
from framedb.ingest.extract import hash_video
from tests.media import Segment, write_video

SCENE = [Segment(3, 0.0, 2.0)]


def reference(path: Path) -> tuple[list[int | None], list[float | None]]:
    """Frame pts and times as a plain PyAV decode loop sees them."""
    with av.open(str(path)) as container:
        frames = list(container.decode(container.streams.video[0]))
    return [f.pts for f in frames], [f.time for f in frames]


CASES = {
    "cfr.mp4": {},
    "bframes.mp4": {"bframes": 3},
    "late-start.mp4": {"start_pts": 45_000},
    "vfr.mkv": {"frame_times": [0, 0.05, 0.07, 0.2, 0.21, 0.5, 0.9, 0.933, 1.5]},
    "mpeg4.avi": {"codec": "mpeg4", "fps": 25},
    "b-late.mkv": {"bframes": 2, "start_pts": 123_456},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_count_and_times_equal_pyav(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    written = write_video(path, SCENE, **CASES[name])  # type: ignore[arg-type]
    pts, times = reference(path)
    hashed = hash_video(path, HashSpec())
    assert len(hashed) == len(pts) == len(written)
    assert hashed.pts.tolist() == pts
    np.testing.assert_allclose(hashed.times, np.array(times, dtype=np.float64), rtol=0, atol=1e-9)
    assert np.all(np.diff(hashed.times) > 0)
    assert hashed.error is None


def test_raw_stream_without_pts_gets_nominal_times(tmp_path: Path) -> None:
    path = tmp_path / "raw.h264"
    write_video(path, SCENE)
    pts, _ = reference(path)
    assert all(p is None for p in pts)  # the premise: raw H.264 carries no timestamps
    hashed = hash_video(path, HashSpec())
    assert len(hashed) == len(pts) == 60
    rate = hashed.info.average_rate
    assert rate is not None
    np.testing.assert_allclose(hashed.times, np.arange(60) / float(rate), atol=1e-6)


def test_frames_come_in_presentation_order_with_b_frames(tmp_path: Path) -> None:
    # The same footage with and without B-frames must hash identically frame by frame (up to
    # compression noise): ordinals follow presentation order, not decode order.
    plain, reordered = tmp_path / "plain.mp4", tmp_path / "reordered.mp4"
    write_video(plain, SCENE, crf=12)
    write_video(reordered, SCENE, crf=12, bframes=3)
    a, b = hash_video(plain, HashSpec()), hash_video(reordered, HashSpec())
    from framedb.hashing import hamming

    assert np.median(hamming(a.codes, b.codes)) <= 2
    assert np.median(hamming(a.codes[:-10], b.codes[10:])) > np.median(hamming(a.codes, b.codes))


def test_missing_and_non_video_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(VideoNotFoundError, match="nothing.mp4: no such file"):
        hash_video(tmp_path / "nothing.mp4", HashSpec())
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    with pytest.raises(NotAVideoError, match="notes.mp4"):
        hash_video(text, HashSpec())


def test_names_with_colons_are_files_not_protocols(tmp_path: Path) -> None:
    path = tmp_path / "file:clip 1.mp4"
    write_video(path, SCENE)
    assert len(hash_video(path, HashSpec())) == 60


def test_a_batcher_started_mid_batch_cuts_where_one_from_the_start_does() -> None:
    """A part of a video that starts 3 pictures before a batch ends (the second half of a split
    video) is cut 3, then every `size`: the cuts of the whole video, whatever the chunks."""
    pictures = np.arange(40, dtype=np.uint8).reshape(-1, 1, 1)
    whole = decode.Batcher(size=8)
    cuts = [b[0, 0, 0] for c in range(0, 40, 5) for b in whole.add(pictures[c : c + 5])]
    part = decode.Batcher(size=8, first=3)
    got = [b for c in range(13, 40, 7) for b in part.add(pictures[c : c + 7])] + part.rest()
    assert [len(b) for b in got] == [3, 8, 8, 8]
    assert [b[0, 0, 0] for b in got[1:]] == [k for k in cuts if k > 13]
