"""Small frames scaled and hashed in a forked helper: the same batches, hashes and errors as in
the decoding thread itself, on generated videos (no timings here: benchmarks/)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from framedb.cores import available_cores
from framedb.errors import FrameDBError
from framedb.hashspec import HashSpec
from framedb.ingest import decode, extract, forked, offload, workers
from framedb.ingest.extract import hash_video
from framedb.ingest.offload import ForkedHasher, HashedBatch, InlineHasher, ScaleError
from tests.media import Segment, write_video

pytestmark = pytest.mark.skipif(not forked.can_fork(), reason="the helper is forked (Linux)")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small videos longer than one batch: one plain, one letterboxed inside its 160x90."""
    folder = tmp_path_factory.mktemp("offload")
    write_video(folder / "small.mp4", [Segment(31, 0.0, 11.0)], size=(160, 90), bframes=2)
    write_video(folder / "medium.mp4", [Segment(32, 0.0, 3.0)], size=(320, 180))
    _encode(folder / "boxed.mkv", [_boxed(i) for i in range(300)])
    noise = np.random.default_rng(5).integers(0, 256, (60, 90, 160, 3), np.uint8)
    _encode(folder / "noise.mp4", list(noise), crf=12)  # small frames, heavy to decode
    return folder


def _encode(path: Path, pictures: list[np.ndarray], crf: int = 23) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 160, 90, "yuv420p"
        stream.options = {"crf": str(crf)}
        for i, picture in enumerate(pictures):
            frame = av.VideoFrame.from_ndarray(picture, "rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


def _boxed(i: int) -> np.ndarray:
    rgb = np.zeros((90, 160, 3), np.uint8)
    y, x = np.mgrid[0:60, 0:120]
    rgb[15:75, 20:140] = ((x * 3 + y * 5 + i * 7) % 256)[..., None].astype(np.uint8)
    return rgb


def _decoded(path: Path) -> list[Any]:
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


def _run(hasher: InlineHasher | ForkedHasher, chunks: list[list[Any]]) -> list[HashedBatch]:
    batches: list[HashedBatch] = []
    with hasher:
        for chunk in chunks:
            hasher.put(chunk)
            batches.extend(hasher.ready())
        batches.extend(hasher.finish())
    return batches


def _same(a: list[HashedBatch], b: list[HashedBatch]) -> None:
    assert [len(x.codes) for x in a] == [len(x.codes) for x in b]
    assert all(np.array_equal(x.codes, y.codes) for x, y in zip(a, b, strict=True))
    assert all(np.array_equal(x.detail, y.detail) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("rotation", [0, 90, 270])
@pytest.mark.parametrize("name", ["small.mp4", "boxed.mkv"])
def test_the_helper_gives_the_batches_of_the_decoding_thread(
    clips: Path, name: str, rotation: int
) -> None:
    frames = _decoded(clips / name)
    spec = HashSpec()
    cuts = [1, 7, 64, 100, 3, 200]  # chunks of every size, cut anywhere, bigger than a slot
    chunks, start = [], 0
    for n in cuts * 10:
        if start < len(frames):
            chunks.append(frames[start : start + n])
            start += n
    inline = _run(InlineHasher(spec, rotation), chunks)
    forked = _run(ForkedHasher(spec, rotation, name), chunks)
    assert sum(len(b.codes) for b in forked) == len(frames) > decode.BATCH
    assert [len(b.codes) for b in forked][0] == decode.BATCH
    _same(inline, forked)


def test_mid_stream_changes_give_the_batches_of_the_decoding_thread(clips: Path) -> None:
    """A stream that changes size, pixel format, range or colour matrix mid-way (frames the
    helper cannot take are scaled by the decoder and sent as grey pictures)."""
    small = _decoded(clips / "small.mp4")[:300]
    big = _decoded(clips / "medium.mp4")[:40]
    rgb = [f.reformat(format="rgb24") for f in small[:30]]
    jpeg = [f.reformat(format="yuvj420p") for f in small[:30]]
    marked = _decoded(clips / "small.mp4")[:20]  # range and colour matrix change the grey
    for frame in marked[:10]:
        frame.color_range = 2
    for frame in marked[10:]:
        frame.colorspace = 5
    mixed = small[:100] + big + small[100:150] + rgb + jpeg + marked + small[150:]
    chunks = [mixed[i : i + 64] for i in range(0, len(mixed), 64)]
    spec = HashSpec("dhash", 8)
    _same(_run(InlineHasher(spec, 0), chunks), _run(ForkedHasher(spec, 0, "mixed"), chunks))


@pytest.mark.parametrize("name", ["small.mp4", "boxed.mkv", "medium.mp4"])
def test_hash_video_through_the_helper_equals_hashing_in_the_decoder(
    clips: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(extract, "_spare_core", lambda *args: True)
    forked = hash_video(clips / name, HashSpec())
    monkeypatch.setattr(extract, "_spare_core", lambda *args: False)
    inline = hash_video(clips / name, HashSpec())
    assert len(forked) == len(inline) > 0 and forked.error is inline.error is None
    for field in ("pts", "times", "codes", "detail"):
        assert np.array_equal(getattr(forked, field), getattr(inline, field)), field


def test_small_light_frames_decode_on_one_thread_and_use_the_helper_with_a_core_to_spare(
    clips: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with decode.VideoReader(clips / "small.mp4") as reader:
        assert reader.decoder_threads == 1 and reader.expected_frames == 330
        assert not extract._spare_core(reader, 2)  # too short to be worth starting a helper
        monkeypatch.setattr(extract, "OFFLOAD_MIN_FRAMES", 330)
        assert extract._spare_core(reader, 2) and not extract._spare_core(reader, 1)
    for heavy in ("medium.mp4", "noise.mp4"):  # bigger, or as small but many bytes a frame
        with decode.VideoReader(clips / heavy, threads=2) as reader:
            assert reader.decoder_threads == min(2, available_cores())
            assert not extract._spare_core(reader, 2)
        with decode.VideoReader(clips / heavy, threads=1) as reader:
            assert reader.decoder_threads == 1 and not extract._spare_core(reader, 1)


def test_a_frame_that_cannot_be_scaled_ends_the_video_after_the_frames_before_it(
    clips: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = hash_video(clips / "small.mp4", HashSpec())
    calls = [0]
    scale = decode._scale

    def failing(reformatter: Any, frame: Any) -> Any:
        calls[0] += 1  # counted in the helper's own copy when it runs there
        if calls[0] == 300:
            raise ValueError("no scaling for this one")
        return scale(reformatter, frame)

    monkeypatch.setattr(decode, "_scale", failing)
    errors = []
    for spare in (True, False):
        calls[0] = 0
        monkeypatch.setattr(extract, "_spare_core", lambda *args, spare=spare: spare)
        cut = hash_video(clips / "small.mp4", HashSpec())
        assert len(cut) == 299
        assert np.array_equal(cut.codes, whole.codes[:299])
        assert np.array_equal(cut.pts, whole.pts[:299])
        errors.append(cut.error)
    assert errors[0] == errors[1]
    assert errors[0] is not None
    assert errors[0].endswith("decoding stopped after 299 frames: no scaling for this one")


def test_a_helper_that_dies_fails_the_video_with_a_clear_error(
    clips: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def dies(*args: Any) -> Any:
        os._exit(9)

    monkeypatch.setattr(offload, "_scale_slot", dies)
    monkeypatch.setattr(extract, "_spare_core", lambda *args: True)
    with pytest.raises(FrameDBError, match="small.mp4: the process hashing its frames died"):
        hash_video(clips / "small.mp4", HashSpec())


def test_scale_errors_carry_the_frames_kept() -> None:
    error = ScaleError(12, ValueError("bad"))
    assert error.kept == 12 and str(error) == "bad"


def test_decoded_frames_are_held_a_few_megabytes_at_a_time(
    clips: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = hash_video(clips / "medium.mp4", HashSpec())
    frame_bytes = 320 * 180 * 3 // 2
    monkeypatch.setattr(decode, "CHUNK_BYTES", 3 * frame_bytes)
    with decode.VideoReader(clips / "medium.mp4") as reader:
        sizes = [len(frames) for _, frames in reader.chunks()]
    assert sizes[:-1] == [3] * (len(sizes) - 1) and sum(sizes) == len(whole)
    cut = hash_video(clips / "medium.mp4", HashSpec())  # batches are cut as before
    assert np.array_equal(cut.codes, whole.codes) and np.array_equal(cut.pts, whole.pts)


def test_the_helper_dies_with_the_process_that_forked_it() -> None:
    """A decoder killed with -9 (a crash, a timeout) leaves no helper behind."""
    code = (
        "import time\n"
        "from framedb.hashspec import HashSpec\n"
        "from framedb.ingest.offload import ForkedHasher\n"
        "hasher = ForkedHasher(HashSpec(), 0, 'x.mp4')\n"
        "print(hasher.child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    decoder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert decoder.stdout is not None
        helper = int(decoder.stdout.readline())
        assert _running(helper)
    finally:
        decoder.kill()
        decoder.wait()
    deadline = time.monotonic() + 10
    while _running(helper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(helper)


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_file_cut_short_keeps_the_same_frames_through_the_helper(
    clips: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = tmp_path / "faststart.mp4"  # index first, so that a cut file still opens
    with (
        av.open(str(clips / "small.mp4")) as src,
        av.open(str(whole), "w", options={"movflags": "faststart"}) as out,
    ):
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(video=0):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    results = []
    for spare in (True, False):
        monkeypatch.setattr(extract, "_spare_core", lambda *args, spare=spare: spare)
        results.append(hash_video(cut, HashSpec()))
    forked, inline = results
    assert 0 < len(forked) < 330
    assert forked.error is not None and "cut short" in forked.error
    assert forked.error == inline.error
    for field in ("pts", "times", "codes", "detail"):
        assert np.array_equal(getattr(forked, field), getattr(inline, field)), field


def test_a_system_out_of_processes_hashes_in_the_decoder(
    clips: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inline = hash_video(clips / "small.mp4", HashSpec())

    def refuse() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(extract, "_spare_core", lambda *args: True)
    monkeypatch.setattr(workers.os, "fork", refuse)  # where the helper is forked
    refused = hash_video(clips / "small.mp4", HashSpec())
    assert refused.error is None and np.array_equal(refused.codes, inline.codes)
