"""Decoding with PyAV: open a file safely, pick its video stream, yield every frame's exact
timestamp and a small grey picture, in presentation order, in batches.

The grey picture comes from one scaling call per frame (swscale, area filter, reused context), so
decoding stays the only real cost of an ingest.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from framedb.errors import DecodeError, NotAVideoError, VideoNotFoundError
from framedb.hashing import GREY_SIZE

BATCH = 256
MAX_PIXELS = 8192 * 8192


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about the chosen video stream."""

    codec: str
    width: int
    height: int
    rotation: int
    time_base: Fraction
    average_rate: Fraction | None
    start_pts: int | None


@dataclass
class FrameBatch:
    """Up to BATCH consecutive frames: integer pts, time in seconds, grey pictures (B, 64, 64)."""

    pts: np.ndarray
    times: np.ndarray
    grey: np.ndarray


def _open(path: Path) -> tuple[Any, io.BufferedReader]:
    """Open `path` as a file object, so no name is ever read as a URL or protocol by FFmpeg."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed by the caller's ExitStack)
    except FileNotFoundError as exc:
        raise VideoNotFoundError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise NotAVideoError(f"{path}: is a directory, not a video file") from exc
    except OSError as exc:
        raise NotAVideoError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        return av.open(handle, mode="r", metadata_errors="replace"), handle
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        handle.close()
        raise NotAVideoError(f"{path}: not a video file FFmpeg can open ({_reason(exc)})") from exc


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text).splitlines()[0]


def _pick_stream(container: Any, path: Path) -> Any:
    """The video stream to use: the first real one, never embedded cover art."""
    for stream in container.streams.video:
        if stream.disposition & av.stream.Disposition.attached_pic:
            continue
        if stream.codec_context is None:
            continue
        return stream
    raise NotAVideoError(f"{path}: no video stream (audio-only, cover art or another kind of file)")


def _info(stream: Any) -> VideoInfo:
    cc = stream.codec_context
    rotation = 0
    with contextlib.suppress(AttributeError, TypeError, ValueError):
        rotation = int(round(float(stream.metadata.get("rotate", 0)))) % 360
    return VideoInfo(
        codec=cc.name,
        width=int(cc.width),
        height=int(cc.height),
        rotation=rotation,
        time_base=Fraction(stream.time_base) if stream.time_base else Fraction(1, 90000),
        average_rate=Fraction(stream.average_rate) if stream.average_rate else None,
        start_pts=stream.start_time,
    )


class VideoReader:
    """One open video: `info`, then `batches()` yields every frame once, in presentation order."""

    def __init__(self, path: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS) -> None:
        self.path = Path(path)
        self._stack = contextlib.ExitStack()
        container, handle = _open(self.path)
        self._stack.callback(handle.close)
        self._stack.callback(container.close)
        try:
            self._container = container
            self._stream = _pick_stream(container, self.path)
            self.info = _info(self._stream)
            if self.info.width * self.info.height > max_pixels:
                raise NotAVideoError(
                    f"{self.path}: frame size {self.info.width}x{self.info.height} is over the "
                    f"limit of {max_pixels} pixels; refused before decoding"
                )
            cc = self._stream.codec_context
            cc.options = {**dict(cc.options or {}), "max_pixels": str(max_pixels)}
            self._stream.thread_type = "AUTO"
        except BaseException:
            self._stack.close()
            raise

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()

    def batches(self, size: int = BATCH) -> Iterator[FrameBatch]:
        """Decode every frame; if the stream breaks, yield what decoded, then raise DecodeError."""
        reformatter = VideoReformatter()
        step = self._frame_step()
        grey = np.empty((size, GREY_SIZE, GREY_SIZE), np.uint8)
        pts = np.empty(size, np.int64)
        n = 0
        last: int | None = None
        rotation = self.info.rotation // 90
        frames = self._container.decode(self._stream)
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                break
            except (av.error.FFmpegError, ValueError, MemoryError) as exc:
                if n:
                    yield self._batch(pts, grey, n)
                raise DecodeError(f"{self.path}: decoding stopped: {_reason(exc)}") from exc
            if frame.pts is not None:
                last = int(frame.pts)
            else:  # raw streams carry no timestamps: continue at the nominal frame rate
                last = (self.info.start_pts or 0) if last is None else last + step
            small = reformatter.reformat(
                frame,
                width=GREY_SIZE,
                height=GREY_SIZE,
                format="gray",
                interpolation=Interpolation.AREA,
            ).to_ndarray()
            grey[n] = np.rot90(small, rotation) if rotation else small
            pts[n] = last
            n += 1
            if n == size:
                yield self._batch(pts, grey, n)
                n = 0
        if n:
            yield self._batch(pts, grey, n)

    def _frame_step(self) -> int:
        rate = self.info.average_rate or Fraction(25)
        return max(1, int(round(1 / (rate * self.info.time_base))))

    def _batch(self, pts: np.ndarray, grey: np.ndarray, n: int) -> FrameBatch:
        p = pts[:n].copy()
        tb = self.info.time_base
        times = (p * tb.numerator) / tb.denominator
        return FrameBatch(pts=p, times=times, grey=grey[:n].copy())


def grey_of_image(path: Path) -> np.ndarray:
    """A picture file as the (1, 64, 64) grey picture a video frame would give (same scaling)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            rgb = np.asarray(image.convert("RGB"))
    except FileNotFoundError as exc:
        raise VideoNotFoundError(f"{path}: no such file") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise NotAVideoError(f"{path}: not a picture Pillow can read ({_reason(exc)})") from exc
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    small = VideoReformatter().reformat(
        frame, width=GREY_SIZE, height=GREY_SIZE, format="gray", interpolation=Interpolation.AREA
    )
    return small.to_ndarray()[None]
