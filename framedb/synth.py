"""Synthetic footage with known ground truth, encoded with PyAV: for the demo, tests and benchmarks.

Footage is a function of (scene, time) drawn in coordinates relative to the picture size, so the
same scene at the same time looks the same at any resolution, frame rate, codec or quality. A video
is a list of segments laid end to end; the test knows exactly which source time every frame shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import numpy as np


@dataclass(frozen=True)
class Segment:
    """`duration` seconds of `scene` starting at source time `start`.

    kind "scene" moves; "still" holds the picture of `start`; "black" is black; "fade" fades the
    scene's picture at `start` from full brightness to black.
    """

    scene: int
    start: float
    duration: float
    kind: str = "scene"


@lru_cache(maxsize=32)
def _scene(scene: int) -> tuple[tuple[float, ...], np.ndarray]:
    """Random but fixed parameters of a scene: a grating and seven blobs."""
    rng = np.random.default_rng(scene)
    grating = (rng.uniform(0, np.pi), rng.uniform(3, 9), rng.uniform(0.5, 2.0))
    tint = rng.uniform(0.5, 1.0, size=3)
    blobs = np.array(
        [
            [
                *rng.uniform(0, 1, 2),
                *rng.uniform(-0.25, 0.25, 2),
                rng.uniform(0.05, 0.18),
                *rng.uniform(0, 1, 3),
            ]
            for _ in range(7)
        ]
    )
    return (*grating, *tint), blobs


def render(scene: int, t: float, width: int, height: int) -> np.ndarray:
    """An RGB picture of `scene` at source time `t`: a drifting grating under moving soft blobs."""
    (angle, freq, speed, *tint), blobs = _scene(scene)
    ys = ((np.arange(height, dtype=np.float32) + 0.5) / height)[:, None]
    xs = ((np.arange(width, dtype=np.float32) + 0.5) / width)[None, :]
    phase = (np.cos(angle) * xs + np.sin(angle) * ys) * (freq * 2 * np.pi) - t * speed * 2 * np.pi
    grey = (0.35 + 0.15 * np.sin(phase)).astype(np.float32)
    img = grey[..., None] * np.asarray(tint, np.float32)
    for cx, cy, vx, vy, radius, *colour in blobs:
        px, py = (cx + vx * t) % 1.0, (cy + vy * t) % 1.0
        weight = np.exp(-(((xs - px) / radius) ** 2) - ((ys - py) / radius) ** 2)[..., None]
        img += weight * (np.asarray(colour, np.float32) - img)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def picture(segment: Segment, offset: float, width: int, height: int) -> np.ndarray:
    """The picture `offset` seconds into `segment`."""
    if segment.kind == "scene":
        return render(segment.scene, segment.start + offset, width, height)
    if segment.kind == "still":
        return render(segment.scene, segment.start, width, height)
    if segment.kind == "black":
        return np.zeros((height, width, 3), np.uint8)
    if segment.kind == "fade":
        level = max(0.0, 1.0 - offset / segment.duration)
        return (render(segment.scene, segment.start, width, height) * level).astype(np.uint8)
    raise ValueError(f"unknown segment kind {segment.kind!r}")


def locate(segments: Sequence[Segment], t: float) -> tuple[int, float]:
    """(segment index, offset into it) of video time `t`."""
    edge = 0.0
    for i, seg in enumerate(segments):
        if t < edge + seg.duration - 1e-9:
            return i, t - edge
        edge += seg.duration
    raise ValueError(f"time {t} is past the end ({edge} s)")


def write_video(
    path: Path,
    segments: Sequence[Segment],
    *,
    fps: int = 30,
    size: tuple[int, int] = (320, 180),
    codec: str = "libx264",
    crf: int = 20,
    bframes: int = 0,
    start_pts: int = 0,
    frame_times: Sequence[float] | None = None,
) -> list[float]:
    """Encode `segments` to `path` and return the video time of every frame written.

    `frame_times` gives explicit (variable-rate) frame times instead of a constant `fps`;
    `start_pts` shifts every timestamp so that the stream starts later than zero.
    """
    total = sum(seg.duration for seg in segments)
    if frame_times is None:
        frame_times = [i / fps for i in range(int(round(total * fps)))]
    width, height = size
    time_base = Fraction(1, fps * 1000)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        if not isinstance(stream, av.VideoStream):
            raise ValueError(f"{codec} is not a video codec")
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        if codec == "libx264":
            stream.options = {"crf": str(crf), "preset": "veryfast", "bf": str(bframes)}
        elif codec in ("mpeg4", "mpeg2video"):
            stream.options = {"qscale": str(max(1, crf // 4)), "bf": str(bframes)}
        for t in frame_times:
            seg, offset = locate(segments, t)
            frame = av.VideoFrame.from_ndarray(
                picture(segments[seg], offset, width, height), "rgb24"
            )
            frame.pts = start_pts + int(round(t / time_base))
            frame.time_base = time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return list(frame_times)


def decoded_times(path: Path) -> list[float]:
    """What PyAV itself reports, frame by frame: the reference for frame counts and times."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [float(f.time) for f in container.decode(stream) if f.time is not None]


def write_demo(folder: Path) -> list[Path]:
    """The demo's sample: a '24 s' video that is a 6 s clip shown three times between an intro and
    an outro, and a smaller, lower-quality re-upload that borrows 3 s of that clip."""
    folder.mkdir(parents=True, exist_ok=True)
    looped, reupload = folder / "looped.mp4", folder / "reupload.mp4"
    clip = Segment(1, 0.0, 6.0)
    write_video(looped, [Segment(7, 0.0, 3.0), clip, clip, clip, Segment(9, 0.0, 3.0)])
    write_video(
        reupload,
        [Segment(4, 0.0, 2.0), Segment(1, 2.0, 3.0), Segment(5, 0.0, 2.0)],
        size=(240, 136),
        crf=32,
    )
    return [looped, reupload]


if __name__ == "__main__":
    import sys

    for written in write_demo(Path(sys.argv[1] if len(sys.argv) > 1 else "demo")):
        print(f"wrote {written}")
