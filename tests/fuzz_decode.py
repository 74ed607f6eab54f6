"""Fuzz "open and decode" with atheris (libFuzzer): `python tests/fuzz_decode.py [libFuzzer options]
[CORPUS_DIR...]`. `make fuzz` runs it for long; `tests/test_fuzz.py` for ~20 s in `make test`.

Each input is written to a file and decoded with framedb's decoder, in this process (a native crash
or hang is reported by libFuzzer with the input that caused it; in an ingest it would cost that file
only, in a worker). The property: decoding either raises a FrameDBError, whose message is one line
naming the file, or returns consistent arrays. Any other exception is a bug. The seed corpus is a
set of tiny valid videos in many containers and codecs, written into the first corpus folder when
it is empty, so mutations start from real structure.
"""

from __future__ import annotations

import os
import sys
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports(include=["framedb"]):
    from framedb.errors import FrameDBError
    from framedb.hashspec import HashSpec
    from framedb.ingest.extract import hash_video

SPEC = HashSpec()
MAX_PIXELS = 2048 * 2048  # mutated headers claim huge frames: refuse them early and cheaply
WORK = Path(tempfile.mkdtemp(prefix="framedb-fuzz-"))
TARGET = WORK / "input.mp4"
# container, codec, pixel format, extra options (a sound track: an audio codec under "audio")
SEEDS = [
    ("mp4", "libx264", "yuv420p", {}),
    ("mp4", "libx264", "yuv420p", {"audio": "aac"}),
    ("matroska", "mpeg4", "yuv420p", {"audio": "mp2"}),
    ("mp4", "libx264", "yuv420p", {"movflags": "faststart"}),
    ("mov", "mjpeg", "yuvj420p", {}),
    ("matroska", "mpeg4", "yuv420p", {}),
    ("avi", "mjpeg", "yuvj420p", {}),
    ("mpegts", "mpeg2video", "yuv420p", {}),
    ("webm", "libvpx", "yuv420p", {}),
    ("h264", "libx264", "yuv420p", {}),
    ("ivf", "libvpx-vp9", "yuv420p", {}),
    ("flv", "flv", "yuv420p", {}),
    ("yuv4mpegpipe", "rawvideo", "yuv420p", {}),
    ("matroska", "ffv1", "yuv420p", {}),
    ("mp4", "hevc", "yuv420p", {}),
]


def write_seeds(folder: Path) -> None:
    """Tiny (32 x 18, 6 frames) videos of a moving gradient, one per container and codec."""
    import av
    import numpy as np

    for i, (fmt, codec, pix_fmt, settings) in enumerate(SEEDS):
        path = folder / f"seed-{i:02d}-{fmt}-{codec}"
        options = {k: v for k, v in settings.items() if k != "audio"}
        try:
            with av.open(str(path), "w", format=fmt, options=options) as out:
                stream = out.add_stream(codec, rate=10)
                stream.width, stream.height, stream.pix_fmt = 32, 18, pix_fmt
                if codec == "hevc":
                    stream.options = {"x265-params": "log-level=none"}
                if "audio" in settings:
                    write_sound(out, settings["audio"])
                for n in range(6):
                    ramp = (np.arange(32 * 18 * 3, dtype=np.uint32) * (n + 3)) % 251
                    picture = ramp.astype(np.uint8).reshape(18, 32, 3)
                    frame = av.VideoFrame.from_ndarray(picture, "rgb24").reformat(format=pix_fmt)
                    frame.pts, frame.time_base = n, Fraction(1, 10)
                    for packet in stream.encode(frame):
                        out.mux(packet)
                for packet in stream.encode():
                    out.mux(packet)
        except (av.error.FFmpegError, ValueError):  # an encoder this build of PyAV lacks
            path.unlink(missing_ok=True)


def write_sound(out: Any, codec: str) -> None:
    """0.2 s of a quiet tone as a second stream of `out`."""
    import av
    import numpy as np

    audio = out.add_stream(codec, rate=44100)
    audio.layout = "stereo"
    fmt = audio.format.name
    step = audio.codec_context.frame_size or 1152
    for n in range(0, 8820, step):
        tone = (np.sin(np.arange(n, n + step) / 10) * 0.1).astype(np.float32)
        samples = (tone * 32767).astype(np.int16) if fmt.startswith("s16") else tone
        planar = np.stack([samples, samples]).astype(samples.dtype)
        layout = planar if audio.format.is_planar else planar.T.reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(layout, format=fmt, layout="stereo")
        frame.sample_rate, frame.pts = 44100, n
        for packet in audio.encode(frame):
            out.mux(packet)
    for packet in audio.encode():
        out.mux(packet)


def test_one_input(data: bytes) -> None:
    TARGET.write_bytes(data)
    try:
        hashed = hash_video(TARGET, SPEC, max_pixels=MAX_PIXELS, threads=1)
    except FrameDBError as exc:
        message = str(exc)
        if "\n" in message or not message.startswith(str(TARGET)):
            raise AssertionError(f"a reason must be one line naming the file: {message!r}") from exc
        return
    n = len(hashed)
    shapes = (hashed.times.shape, hashed.codes.shape, hashed.detail.shape)
    if shapes != ((n,), (n, SPEC.nbytes), (n,)):
        raise AssertionError(f"inconsistent arrays for {n} frames: {shapes}")
    if hashed.error is not None and "\n" in hashed.error:
        raise AssertionError(f"a reason must be one line: {hashed.error!r}")


def main() -> None:
    folders = [a for a in sys.argv[1:] if not a.startswith("-")]
    if folders:
        corpus = Path(folders[0])
        corpus.mkdir(parents=True, exist_ok=True)
        if not any(corpus.iterdir()):
            write_seeds(corpus)
    atheris.Setup(sys.argv, test_one_input)
    try:
        atheris.Fuzz()
    finally:
        TARGET.unlink(missing_ok=True)
        os.rmdir(WORK)


if __name__ == "__main__":
    main()
