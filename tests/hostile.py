"""Broken and hostile inputs, made on the spot with PyAV, and decoder jobs that crash or hang.

`gallery(folder)` writes one file (or special file, or link) per kind of bad input next to a few
good ones and returns what an ingest of the folder must report for each: status and the words its
reason must contain. The job functions at the bottom run inside framedb's worker processes.
"""

from __future__ import annotations

import os
import signal
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from framedb.ingest.workers import decode_file
from framedb.synth import Segment, render, write_video

SMALL = (96, 54)
GOOD_FRAMES = 15  # 0.5 s at 30 fps


@dataclass(frozen=True)
class Expect:
    """What ingest must say about one input: its status, frames and words of its reason."""

    status: str
    frames: int = 0
    reason: str | None = None


def write_mp4(path: Path, frames: int = 30, *, faststart: bool = False, scene: int = 1) -> None:
    """A small H.264 MP4; `faststart` puts the index (moov) before the frames."""
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", format="mp4", options=options) as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height = SMALL
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast", "bf": "0"}
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(render(scene, i / 30, *SMALL), "rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 30)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def write_audio(path: Path, *, cover: bool = False, video_frames: int = 0) -> None:
    """An AAC audio file in an MP4 (.m4a layout); with `cover`, plus an attached cover picture;
    with `video_frames`, an ordinary video with a sound track."""
    with av.open(str(path), "w", format="mp4") as out:
        audio = out.add_stream("aac", rate=44100)
        audio.layout = "stereo"
        if video_frames:
            video = out.add_stream("libx264", rate=30)
            video.width, video.height = SMALL
            video.pix_fmt = "yuv420p"
            for i in range(video_frames):
                frame = av.VideoFrame.from_ndarray(render(34, i / 30, *SMALL), "rgb24")
                frame.pts, frame.time_base = i, Fraction(1, 30)
                for packet in video.encode(frame):
                    out.mux(packet)
            for packet in video.encode():
                out.mux(packet)
        if cover:
            picture = out.add_stream("mjpeg", rate=1)
            picture.width, picture.height = 64, 36
            picture.pix_fmt = "yuvj420p"
            picture.disposition = av.stream.Disposition.attached_pic
            image = av.VideoFrame.from_ndarray(render(3, 0.0, 64, 36), "rgb24")
            image = image.reformat(format="yuvj420p")
            image.pts = 0
            for packet in [*picture.encode(image), *picture.encode()]:
                out.mux(packet)
        tone = (np.sin(np.arange(1024, dtype=np.float32) / 10) * 0.2).astype(np.float32)
        for i in range(20):
            frame = av.AudioFrame.from_ndarray(
                np.stack([tone, tone]), format="fltp", layout="stereo"
            )
            frame.sample_rate, frame.pts = 44100, i * 1024
            for packet in audio.encode(frame):
                out.mux(packet)
        for packet in audio.encode():
            out.mux(packet)


def write_huge_frame(path: Path, width: int = 8400, height: int = 8200) -> None:
    """One flat H.264 frame larger than framedb's limit of 8192 x 8192 pixels."""
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=1)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        frame = av.VideoFrame(width, height, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes([128]) * plane.buffer_size)
        frame.pts = 0
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)


def decodable_pts(path: Path) -> list[int | None]:
    """The pts of the frames a plain PyAV loop decodes before the file ends or breaks."""
    found: list[int | None] = []
    with av.open(str(path)) as container:
        try:
            for frame in container.decode(video=0):
                found.append(frame.pts)
        except av.error.FFmpegError:
            pass
    return found


def cut(source: Path, target: Path, fraction: float) -> None:
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])


def gallery(folder: Path, huge: Path) -> dict[str, Expect]:
    """Write every kind of bad input (and some good ones with awkward names) into `folder`.

    Returns the expectations keyed by the name shown for each input (non-UTF-8 bytes as \\xNN).
    `huge` is a ready-made over-limit video (slow to make, so made once per session).
    """
    folder.mkdir(parents=True, exist_ok=True)
    expect: dict[str, Expect] = {}

    def good(name: str, scene: int) -> None:
        write_video(folder / name, [Segment(scene, 0.0, 0.5)], size=SMALL)
        expect[name] = Expect("done", GOOD_FRAMES)

    good("plain.mp4", 21)
    (folder / "sub").mkdir()
    write_video(folder / "sub" / "nested.mkv", [Segment(22, 0.0, 0.5)], size=SMALL)
    expect["sub/nested.mkv"] = Expect("done", GOOD_FRAMES)
    # Names that shells, FFmpeg or terminals read as something else; stored and shown exactly.
    for name in ("file:colon.mp4", "concat:a.mp4|b.mp4", "with space.mp4", "-leading-dash.mp4"):
        write_video(folder / name, [Segment(23 + len(expect), 0.0, 0.5)], size=SMALL)
        expect[name] = Expect("done", GOOD_FRAMES)
    write_video(folder / "new\nline.mp4", [Segment(31, 0.0, 0.5)], size=SMALL)
    expect["new\nline.mp4"] = Expect("done", GOOD_FRAMES)
    write_video(folder / "quote'; DROP TABLE videos; --.mp4", [Segment(32, 0.0, 0.5)], size=SMALL)
    expect["quote'; DROP TABLE videos; --.mp4"] = Expect("done", GOOD_FRAMES)
    raw = os.fsencode(folder) + b"/latin1-\xe9t\xe9-\xff.mp4"
    write_video(Path(os.fsdecode(raw)), [Segment(33, 0.0, 0.5)], size=SMALL)
    expect["latin1-\\xe9t\\xe9-\\xff.mp4"] = Expect("done", GOOD_FRAMES)

    (folder / "empty.mp4").write_bytes(b"")
    expect["empty.mp4"] = Expect("failed", reason="empty file (0 bytes)")
    noise = np.random.default_rng(7).integers(0, 256, 200_000, dtype=np.uint8).tobytes()
    (folder / "random.mp4").write_bytes(noise)
    expect["random.mp4"] = Expect("failed", reason="not a video file FFmpeg can open")
    (folder / "notes.mp4").write_text("Shopping list\n- milk\n- eggs\n" * 40)
    expect["notes.mp4"] = Expect("failed", reason="not a video file (it holds text)")
    # A concat list names another file: FFmpeg must not go and read it.
    (folder / "playlist.mp4").write_text("ffconcat version 1.0\nfile plain.mp4\n")
    expect["playlist.mp4"] = Expect("failed", reason="not a video file (it holds text)")
    whole = folder.parent / f"{folder.name}-whole.mp4"
    write_mp4(whole, 60)
    cut(whole, folder / "cut-before-index.mp4", 0.6)
    expect["cut-before-index.mp4"] = Expect("failed", reason="without its index (no moov box)")
    write_mp4(whole, 60, faststart=True, scene=5)
    cut(whole, folder / "cut-mid-stream.mp4", 0.5)
    kept = len(decodable_pts(folder / "cut-mid-stream.mp4"))
    expect["cut-mid-stream.mp4"] = Expect("partial", kept, "cut short: the index needs")
    whole.unlink()
    write_audio(folder / "with-sound.mp4", video_frames=GOOD_FRAMES)
    expect["with-sound.mp4"] = Expect("done", GOOD_FRAMES)
    write_audio(folder / "audio-only.mp4")
    expect["audio-only.mp4"] = Expect("failed", reason="audio only, no video stream")
    write_audio(folder / "cover-art.mp4", cover=True)
    expect["cover-art.mp4"] = Expect("failed", reason="only a cover picture")
    os.symlink(huge, folder / "huge-frame.mp4")
    expect["huge-frame.mp4"] = Expect(
        "failed", reason="frame size 8400x8200 is over the limit of 67108864 pixels"
    )
    os.mkfifo(folder / "fifo.mp4")
    expect["fifo.mp4"] = Expect("failed", reason="is a FIFO, not a regular file; not opened")
    os.symlink("/dev/zero", folder / "link-to-device.mp4")
    expect["link-to-device.mp4"] = Expect("failed", reason="is a device")
    try:
        os.mknod(folder / "device.mp4", stat.S_IFCHR | 0o600, os.makedev(1, 5))
        expect["device.mp4"] = Expect("failed", reason="is a device")
    except (PermissionError, OSError):  # not root, or a filesystem without device nodes
        pass
    os.symlink(folder / "gone.mp4", folder / "dangling.mp4")
    expect["dangling.mp4"] = Expect("failed", reason="broken symbolic link")
    os.symlink("..", folder / "sub" / "loop")
    expect["sub/loop"] = Expect("skipped", reason="(a loop); not followed")
    # Decoders that crash and hang (see the job functions below).
    good("crash.mp4", 41)
    expect["crash.mp4"] = Expect("failed", reason="decoder crashed (signal 11)")
    good("hang.mp4", 42)
    expect["hang.mp4"] = Expect("failed", reason="timed out after")
    return expect


# -- decoder jobs for the worker processes -----------------------------------------------------
def hostile_decode(
    path: Path, spec: object, threads: int, on_progress: Callable[[int], None]
) -> object:
    """framedb's decoder, except that `crash.mp4` segfaults its process and `hang.mp4` hangs it:
    what FFmpeg does with some real-world files, made reproducible."""
    if path.name == "crash.mp4":
        os.kill(os.getpid(), signal.SIGSEGV)
    if path.name == "hang.mp4":
        time.sleep(3600)
    return decode_file(path, spec, threads, on_progress)  # type: ignore[arg-type]


def crash(*_: object) -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def hang(*_: object) -> None:
    time.sleep(3600)


def slow_then_hang(steps: int, on_progress: Callable[[int], None]) -> None:
    """Report progress `steps` times, then stop making any."""
    for _ in range(steps):
        time.sleep(0.05)
        on_progress(1)
    time.sleep(3600)


def tell_quickly(frames: int, on_progress: Callable[[int], None]) -> int:
    """Report `frames` frames one at a time, as fast as it can, and return their number."""
    for _ in range(frames):
        on_progress(1)
    return frames


def echo(value: object, on_progress: Callable[[int], None]) -> object:
    on_progress(1)
    return value


def address_space_limit(on_progress: Callable[[int], None]) -> int:
    import resource

    return resource.getrlimit(resource.RLIMIT_AS)[0]


def allocate(nbytes: int, on_progress: Callable[[int], None]) -> int:
    return int(np.ones(nbytes, dtype=np.uint8).sum())


def thread_settings(on_progress: Callable[[int], None]) -> dict[str, str | None]:
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    return {name: os.environ.get(name) for name in names}


def raise_error(on_progress: Callable[[int], None]) -> None:
    raise KeyError("boom")


def exit_now(code: int, on_progress: Callable[[int], None]) -> None:
    os._exit(code)


def parent_and_self(on_progress: Callable[[int], None]) -> tuple[int, int]:
    return os.getppid(), os.getpid()


def hang_and_tell(pid_file: str, on_progress: Callable[[int], None]) -> None:
    """Write this worker's pid to `pid_file`, then hang."""
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(3600)


def nap(seconds: float, on_progress: Callable[[int], None]) -> tuple[int, float, float]:
    """Sleep; returns (this worker's pid, when it started, when it ended) on the wall clock."""
    started = time.time()
    time.sleep(seconds)
    return os.getpid(), started, time.time()


def mixed(kind: str, *args: object) -> object:
    """One target for every behaviour, so that one pool meets all of them."""
    jobs: dict[str, Callable[..., object]] = {
        "crash": crash,
        "hang": hang,
        "raises": raise_error,
        "exits": exit_now,
        "echo": echo,
        "pids": parent_and_self,
        "hang_and_tell": hang_and_tell,
        "nap": nap,
    }
    return jobs[kind](*args)


def started_at(on_progress: Callable[[int], None]) -> float:
    """When the job started (the wall clock, comparable across processes)."""
    return time.time()
