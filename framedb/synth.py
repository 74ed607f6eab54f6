"""Synthetic footage with known ground truth, encoded with PyAV: for the demo, tests and benchmarks;
and the looks reused footage is given (mirrored, cropped, captioned, in a phone's frame, ...).

Footage is a function of (scene, time) drawn in coordinates relative to the picture size, so the
same scene at the same time looks the same at any resolution, frame rate, codec or quality. A video
is a list of segments laid end to end; the test knows exactly which source time every frame shows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageFilter


@dataclass(frozen=True)
class Segment:
    """`duration` seconds of `scene` starting at source time `start`.

    kind "scene" moves; "still" holds the picture of `start`; "black" is black; "fade" fades the
    scene's picture at `start` from full brightness to black. `pictures`: the scene as shot at
    that many pictures a second of footage, each held until the next (a 10 fps camera's footage
    shown at 30 fps holds each picture for three frames).
    """

    scene: int
    start: float
    duration: float
    kind: str = "scene"
    speed: float = 1.0  # footage seconds a second of the video shows (1.25: played faster)
    pictures: float | None = None


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
        t = segment.start + offset * segment.speed
        if segment.pictures:
            t = math.floor(t * segment.pictures + 1e-6) / segment.pictures
        return render(segment.scene, t, width, height)
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
    look: Callable[[np.ndarray, float, int], np.ndarray] | None = None,
    pixel_aspect: Fraction | None = None,
) -> list[float]:
    """Encode `segments` to `path` and return the video time of every frame written.

    `frame_times` gives explicit (variable-rate) frame times instead of a constant `fps`;
    `start_pts` shifts every timestamp so that the stream starts later than zero; `look`
    changes every picture (a look below: the frame size is that of its pictures);
    `pixel_aspect` stores the pictures anamorphically: squeezed to 1 / pixel_aspect of their
    width, with that sample aspect ratio, so that they show as drawn.
    """
    total = sum(seg.duration for seg in segments)
    if frame_times is None:
        frame_times = [i / fps for i in range(int(round(total * fps)))]
    width, height = size

    def drawn(k: int, t: float) -> np.ndarray:
        seg, offset = locate(segments, t)
        rgb = picture(segments[seg], offset, width, height)
        rgb = rgb if look is None else look(rgb, t, k)
        if pixel_aspect is None:
            return rgb
        return _resize(rgb, (round(rgb.shape[1] / pixel_aspect / 2) * 2, rgb.shape[0]))

    shown = drawn(0, frame_times[0]).shape if frame_times else (height, width)
    time_base = Fraction(1, fps * 1000)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        if not isinstance(stream, av.VideoStream):
            raise ValueError(f"{codec} is not a video codec")
        stream.height, stream.width = shown[0], shown[1]
        stream.pix_fmt = "yuv420p"
        if pixel_aspect is not None:
            stream.codec_context.sample_aspect_ratio = pixel_aspect
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        if codec == "libx264":
            stream.options = {"crf": str(crf), "preset": "veryfast", "bf": str(bframes)}
        elif codec in ("mpeg4", "mpeg2video"):
            stream.options = {"qscale": str(max(1, crf // 4)), "bf": str(bframes)}
        for k, t in enumerate(frame_times):
            frame = av.VideoFrame.from_ndarray(drawn(k, t), "rgb24")
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


# ---------------------------------------------------------------------------------------------
# Looks: how reused footage is changed. Frozen dataclasses (a repr names a recipe), each a frame
# (RGB, its time, its number) -> frame.


def _resize(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BICUBIC))


@dataclass(frozen=True)
class Resize:
    """Scaled down to `width` pixels wide, keeping the aspect (160x90 for 16:9)."""

    width: int

    def __call__(self, rgb: np.ndarray, t: float, k: int) -> np.ndarray:
        h, w = rgb.shape[:2]
        return _resize(rgb, (self.width, max(2, round(self.width * h / w / 2) * 2)))


@dataclass(frozen=True)
class Mirror:
    """Flipped left to right."""

    def __call__(self, rgb: np.ndarray, t: float, k: int) -> np.ndarray:
        return np.ascontiguousarray(rgb[:, ::-1])


@dataclass(frozen=True)
class Crop:
    """The centre `keep` of the picture, scaled back to full size (keep 1/1.2 is a 1.2x zoom)."""

    keep: float

    def __call__(self, rgb: np.ndarray, t: float, k: int) -> np.ndarray:
        h, w = rgb.shape[:2]
        cw, ch = round(w * self.keep), round(h * self.keep)
        x, y = (w - cw) // 2, (h - ch) // 2
        return _resize(np.ascontiguousarray(rgb[y : y + ch, x : x + cw]), (w, h))


@dataclass(frozen=True)
class Caption:
    """A dark box over the bottom `fraction` of the picture with two lines of white word-bars."""

    fraction: float = 0.15

    def __call__(self, rgb: np.ndarray, t: float, k: int) -> np.ndarray:
        h, w = rgb.shape[:2]
        box = round(h * self.fraction)
        out = rgb.copy()
        out[h - box :] = out[h - box :] // 5
        rng = np.random.default_rng(7)
        bar = max(2, round(box * 0.22))
        for line, right in ((0.2, 0.9), (0.58, 0.6)):
            y, x = h - box + round(box * line), round(w * 0.04)
            while x < w * right:
                word = round(w * rng.uniform(0.03, 0.09))
                out[y : y + bar, x : x + word] = 235
                x += word + round(w * 0.014)
        return out


@dataclass(frozen=True)
class Logo:
    """An opaque coloured badge (`fraction` of the width) with a white ring, top right."""

    fraction: float = 0.10

    def __call__(self, rgb: np.ndarray, t: float, k: int) -> np.ndarray:
        h, w = rgb.shape[:2]
        size, margin = round(w * self.fraction), round(w * 0.03)
        yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
        r = np.hypot(xx, yy) / size
        badge = np.empty((size, size, 3), np.uint8)
        badge[:] = (220, 70, 30)
        badge[(r > 0.18) & (r < 0.32)] = 250
        out = rgb.copy()
        out[margin : margin + size, w - margin - size : w - margin] = badge
        return out


@dataclass(frozen=True)
class PiP:
    """The footage at half width and height over other moving footage, at a fixed place."""

    scene: int
    scale: float = 0.5

    def __call__(self, rgb: np.ndarray, t: float, k: int) -> np.ndarray:
        h, w = rgb.shape[:2]
        out = render(self.scene, t, w, h)
        sw, sh = round(w * self.scale / 2) * 2, round(h * self.scale / 2) * 2
        x, y = round(w * 0.44), round(h * 0.08)
        out[y : y + sh, x : x + sw] = _resize(rgb, (sw, sh))
        return out


@dataclass(frozen=True)
class Rotate:
    """Rotated about the centre (clockwise; counter-clockwise for negative `degrees`), zoomed
    just enough to leave no empty corners."""

    degrees: float = 5.0

    def __call__(self, rgb: np.ndarray, t: float, k: int) -> np.ndarray:
        h, w = rgb.shape[:2]
        a = math.radians(self.degrees)
        zoom = math.cos(a) + max(w / h, h / w) * abs(math.sin(a))
        cos, sin = math.cos(a) / zoom, math.sin(a) / zoom
        cx, cy = w / 2, h / 2
        # Output pixel -> input pixel: the inverse rotation and zoom about the centre.
        affine = (cos, sin, cx - cos * cx - sin * cy, -sin, cos, cy + sin * cx - cos * cy)
        image = Image.fromarray(rgb).transform(
            (w, h), Image.Transform.AFFINE, affine, Image.Resampling.BICUBIC
        )
        return np.asarray(image)


@dataclass(frozen=True)
class Phone:
    """A portrait canvas: the footage at full width in the middle, a blurred zoomed copy around."""

    width: int = 360
    height: int = 640
    blur: float = 12.0

    def __call__(self, rgb: np.ndarray, t: float, k: int) -> np.ndarray:
        h, w = rgb.shape[:2]
        zoom = max(self.width / w, self.height / h)
        cw, ch = self.width / zoom, self.height / zoom  # the part that fills the canvas
        box = ((w - cw) / 2, (h - ch) / 2, (w + cw) / 2, (h + ch) / 2)
        # Blurred at a quarter of the size and scaled up: the same fill, a tenth of the time.
        small = Image.fromarray(rgb).resize((self.width // 4, self.height // 4), box=box)
        back = small.filter(ImageFilter.GaussianBlur(self.blur / 4))
        out = np.array(back.resize((self.width, self.height), Image.Resampling.BILINEAR))
        fh = round(self.width * h / w / 2) * 2
        top = (self.height - fh) // 2
        out[top : top + fh] = _resize(rgb, (self.width, fh))
        return out


@dataclass(frozen=True)
class Grey:
    """Greyscale: the luma of each pixel in all three channels."""

    def __call__(self, rgb: np.ndarray, t: float, k: int) -> np.ndarray:
        luma = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        return np.repeat(np.clip(luma + 0.5, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


@dataclass(frozen=True)
class Dim:
    """Contrast scaled by `factor` about a mid grey: a dim, flat indoor shot."""

    factor: float = 0.35
    level: float = 110.0

    def __call__(self, rgb: np.ndarray, t: float, k: int) -> np.ndarray:
        out = self.level + (rgb.astype(np.float32) - self.level) * self.factor
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Blur:
    """A Gaussian blur of `radius` pixels."""

    radius: float = 2.5

    def __call__(self, rgb: np.ndarray, t: float, k: int) -> np.ndarray:
        return np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(self.radius)))


@dataclass(frozen=True)
class Noise:
    """Gaussian noise of standard deviation `sd` grey levels, new in every frame."""

    sd: float = 10.0

    def __call__(self, rgb: np.ndarray, t: float, k: int) -> np.ndarray:
        noise = np.random.default_rng(k).normal(0, self.sd, rgb.shape).astype(np.float32)
        return np.clip(rgb + noise, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Chain:
    """Several transformations, in order."""

    looks: tuple[object, ...]

    def __call__(self, rgb: np.ndarray, t: float, k: int) -> np.ndarray:
        for look in self.looks:
            rgb = look(rgb, t, k)  # type: ignore[operator]
        return rgb


if __name__ == "__main__":
    import sys

    for written in write_demo(Path(sys.argv[1] if len(sys.argv) > 1 else "demo")):
        print(f"wrote {written}")
