"""Decoding with PyAV: open a file safely, pick its video stream, yield every frame's exact
timestamp and a small grey picture, in presentation order, in batches.

The grey picture comes from one scaling call per frame (swscale, area filter, reused context, one
thread: for a 64 x 64 result, swscale's slice threads cost more than they save), read in place from
the scaled frame's plane. Decoding runs on one thread per core, or on one thread for small, light
frames, which decode fastest that way (framedb.ingest.offload then scales and hashes them on the
core left free), or on one thread when the video is decoded as two halves at once
(framedb.ingest.split).
"""

from __future__ import annotations

import contextlib
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

from framedb.cores import available_cores
from framedb.errors import DecodeError, NotAVideoError, VideoNotFoundError
from framedb.hashing import GREY_SIZE
from framedb.ingest.container import (
    AV_ERRORS,
    MAX_PIXELS,
    open_video,
    pick_stream,
    reason,
    stream_info,
)
from framedb.ingest.files import shown

BATCH = 256
CHUNK_FRAMES = 64  # decoded frames held at once, waiting to be scaled...
CHUNK_BYTES = 16 << 20  # ...or fewer, up to this many bytes of pictures
# A frame of at most this many pixels and bytes per pixel decodes fastest on one thread: frame
# threads hand off more than they gain. 160x90 H.264 on 2 cores, one thread against two: 106
# bytes/frame 1.4x faster, 638 1.36x faster, 1,013 1.13x slower, 2,288 1.44x slower; 320x180
# at 3 KB/frame 1.5x slower.
SMALL_FRAME = 40_000
LIGHT_FRAME = 0.08  # bytes per pixel (0.64 bits)
KEY_SEARCH = 1000  # index entries looked at either side of a seek's target for a key frame
LEADING = 16  # frames after a key frame that may be shown before it (an open GOP's B-frames)


class NoKeyFrame(Exception):
    """A reader started mid-file (`start_near`) found no frame to start from that decodes
    exactly as it does from the start of the file: the caller decodes from the start instead."""


@dataclass
class FrameBatch:
    """Up to BATCH consecutive frames: integer pts, time in seconds, grey pictures (B, 64, 64)."""

    pts: np.ndarray
    times: np.ndarray
    grey: np.ndarray


class VideoReader:
    """One open video: `info`, then `batches()` (or `frames()`, `chunks()`) yields every frame
    once, in presentation order. `threads` caps the decoding threads (0: no cap); within it the
    reader picks one per core, or one for small, light frames (`decoder_threads`)."""

    def __init__(
        self, path: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS, threads: int = 0
    ) -> None:
        self.path = Path(path)
        self.name = shown(self.path)
        self.max_pixels = max_pixels
        self._stack = contextlib.ExitStack()
        container, handle = open_video(self.path, max_pixels)
        self._stack.callback(handle.close)
        self._stack.callback(container.close)
        self._size = os.fstat(handle.fileno()).st_size
        self._key_after: int | None = None  # after start_near: its key frame comes after this
        try:
            self._container = container
            self._stream = pick_stream(container, self.path)
            try:
                self.info = stream_info(self._stream)
            except AV_ERRORS as exc:
                raise NotAVideoError(f"{self.name}: unreadable stream ({reason(exc)})") from exc
            if self.info.width * self.info.height > max_pixels:
                raise NotAVideoError(
                    f"{self.name}: frame size {self.info.width}x{self.info.height} is over the "
                    f"limit of {max_pixels} pixels; refused before decoding"
                )
            cc = self._stream.codec_context
            cc.options = {**dict(cc.options or {}), "max_pixels": str(max_pixels)}
            self._stream.thread_type = "AUTO"
            self.decoder_threads = min(threads or available_cores(), self._best_threads())
            cc.thread_count = self.decoder_threads
            for other in container.streams:  # demux what we decode, skip the rest
                if other.index != self._stream.index:
                    other.discard = av.stream.Discard.all
        except BaseException:
            self._stack.close()
            raise

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()

    def use_one_thread(self) -> None:
        """Decode on one thread (for a reader sharing the cores with another); before decoding."""
        self.decoder_threads = self._stream.codec_context.thread_count = 1

    @property
    def can_seek(self) -> bool:
        """Whether the container knows the stream's duration and can find a time in it: by its
        index of key frames, or (MPEG-TS and -PS) by searching the file's timestamps. A raw
        stream cannot."""
        return bool(self._duration) and (
            self._seeks_by_search or len(self._stream.index_entries) > 0
        )

    @property
    def _seeks_by_search(self) -> bool:
        """MPEG transport and program streams (.ts, .m2ts, .mpg, .vob) have no index: FFmpeg
        finds a time by bisecting the file on its timestamps, and records the places it read as
        index entries, which are not key frames."""
        return self._container.format.name in ("mpegts", "mpeg")

    def start_near(self, fraction: float) -> bool:
        """Seek to the key frame nearest `fraction` of the stream's frames (MPEG-TS and -PS, which
        have no index: to that time), so that `frames()` starts at the first key frame decoded
        there and yields only the frames from it on, in presentation order, each exactly as
        decoding from the start gives it (frames before that key frame, and its leading pictures
        shown before it, are decoded but not yielded). When that cannot be promised, iterating
        raises NoKeyFrame: no key frame after the seek, or it lies before half the fraction (one
        key frame at the start, say), or a frame shown before it comes long after it. False if
        the stream cannot seek."""
        if not self.can_seek:
            return False
        duration = self._duration
        end = (self._stream.start_time or 0) + duration
        by_time = end - int(duration * (1 - fraction))
        try:
            target = by_time  # MPEG-TS and -PS: decoding goes on from there to the next key frame
            if not self._seeks_by_search:
                target = self._key_frame_time(by_time, end, fraction)
            self._container.seek(target, stream=self._stream, backward=True)
        except AV_ERRORS:
            return False
        self._key_after = end - int(duration * (1 - fraction / 2))
        return True

    def _key_frame_time(self, by_time: int, end: int, fraction: float) -> int:
        """Where to seek for the indexed key frame nearest `fraction` of the stream (`by_time`,
        the time there, if none is flagged nearby)."""
        entries = self._stream.index_entries
        if len(entries) < 2:  # Matroska reads its index (cues) at the first seek
            self._container.seek(by_time, stream=self._stream, backward=True)
            entries = self._stream.index_entries
        # Look a few GOPs either way (each entry read is a Python object: a 24-hour file has
        # millions); with no key frame flagged there, seek by time to the one before.
        middle = int(len(entries) * fraction)
        around = range(max(0, middle - KEY_SEARCH), min(len(entries), middle + KEY_SEARCH))
        keys = [i for i in around if entries[i].is_keyframe]
        if not keys:
            return by_time
        # Index times are decoding times; a seek compares them with presentation times, which
        # B-frames put a few frames later: aim between this key frame and the next.
        key = min(keys, key=lambda i: abs(i - middle))
        later = [entries[i].timestamp for i in keys if i > key] or [end]
        return (entries[key].timestamp + later[0]) // 2

    def batches(self, size: int = BATCH) -> Iterator[FrameBatch]:
        """Decode every frame; if the stream breaks, yield what decoded, then raise DecodeError."""
        greyer = Greyer(self.info.rotation)
        batcher = Batcher(size)
        pts: list[int] = []
        error: DecodeError | None = None
        try:
            for chunk_pts, frames in self.chunks(min(size, CHUNK_FRAMES)):
                grey = greyer(frames)
                pts.extend(chunk_pts[: len(grey)])
                for batch in batcher.add(grey):
                    yield self.batch(pts, batch)
                    del pts[: len(batch)]
                if greyer.error is not None:
                    raise self.stopped(greyer.error, batcher.cut + batcher.held)
        except DecodeError as exc:
            error = exc
        for batch in batcher.rest():
            yield self.batch(pts, batch)
        if error is not None:
            raise error

    def chunks(self, size: int = CHUNK_FRAMES) -> Iterator[tuple[list[int], list[Any]]]:
        """`frames()` in lists of up to `size` (pts, decoded frames), and of no more than
        CHUNK_BYTES of pictures (a 4K frame is 12 MB); if the stream breaks, the frames decoded
        before it come first, then the DecodeError."""
        pts: list[int] = []
        frames: list[Any] = []
        held = 0
        try:
            for p, frame in self.frames():
                pts.append(p)
                frames.append(frame)
                held += frame.width * frame.height * 3 // 2
                if len(frames) == size or held >= CHUNK_BYTES:
                    yield pts, frames
                    pts, frames, held = [], [], 0
        except DecodeError:
            if frames:
                yield pts, frames
            raise
        if frames:
            yield pts, frames

    def frames(self) -> Iterator[tuple[int, Any]]:
        """Every decoded frame with its pts, in presentation order; if the stream breaks, raise
        DecodeError after the last good frame."""
        step = self._frame_step()
        last: int | None = None
        frames = self._container.decode(self._stream)
        if self._key_after is not None:
            frames = _from_key_frame(frames, self._key_after)
        decoded = 0
        error: BaseException | None = None
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                break
            except AV_ERRORS as exc:
                error = exc
                break
            if frame.pts is not None:
                last = int(frame.pts)
            else:  # raw streams carry no timestamps: continue at the nominal frame rate
                last = (self.info.start_pts or 0) if last is None else last + step
            decoded += 1
            yield last, frame
        failure = self.failure(error, decoded)
        if failure is not None:
            raise failure from error

    def failure(self, error: BaseException | None, decoded: int) -> DecodeError | None:
        """Why decoding ended after `decoded` frames, if not at the end of a whole file: cut short
        (the likelier cause of an `error`, too), or the error."""
        cut = self._cut_short() if decoded else None
        if cut:
            return DecodeError(f"{self.name}: {cut}")
        if error is not None:
            return self.stopped(error, decoded)
        return None

    def stopped(self, exc: BaseException, decoded: int) -> DecodeError:
        """The error for a frame that decoded but could not be scaled, after `decoded` frames."""
        return DecodeError(f"{self.name}: {self._stopped(exc, decoded)}")

    def _stopped(self, exc: BaseException, decoded: int) -> str:
        if isinstance(exc, MemoryError):
            return f"decoding stopped after {decoded} frames: out of memory"
        if not decoded and not (self.info.width and self.info.height):
            return (
                f"decoding failed ({reason(exc)}); the frame size is unknown: over the limit "
                f"of {self.max_pixels} pixels, or a broken stream"
            )
        return f"decoding stopped after {decoded} frames: {reason(exc)}"

    def _cut_short(self) -> str | None:
        """If the container's index places frames past the end of the file (an MP4 copied or
        downloaded only in part), say so: the frames before the cut are all there is."""
        entries = self._stream.index_entries
        count = len(entries)
        # A cut removes the end of the file, where the last entries point: look at those and at a
        # sample of the rest (a 24-hour file has millions of entries, each a Python object here).
        step = max(1, count // 4096)
        look = sorted(set(range(0, count, step)) | set(range(max(0, count - 4096), count)))
        try:
            end = max((entries[i].pos + entries[i].size for i in look), default=0)
        except AV_ERRORS:
            return None
        if end <= self._size:
            return None
        return (
            f"cut short: the index needs {end} bytes, the file has {self._size} (an unfinished "
            "copy or download?); the frames before the cut are kept"
        )

    @property
    def expected_frames(self) -> int:
        """How many frames the container says the stream has (0 if it cannot tell)."""
        frames = int(self._stream.frames or 0)
        if not frames and self._duration and self.info.average_rate:
            seconds = self._duration * self.info.time_base
            frames = int(seconds * self.info.average_rate)
        return max(0, frames)

    @property
    def _duration(self) -> int:
        """The stream's duration in its time base: its own, or the container's (Matroska gives
        only that), 0 if neither says."""
        if self._stream.duration:
            return int(self._stream.duration)
        micro = self._container.duration  # AV_TIME_BASE: microseconds
        if not micro:
            return 0
        return int(Fraction(micro, 1_000_000) / self.info.time_base)

    def _best_threads(self) -> int:
        """Decoding threads for this video: one per core (FFmpeg's own choice, one more than the
        cores, was slower on 2 cores: 720p 0.84x), or one for small, light frames."""
        pixels = self.info.width * self.info.height
        frames = self.expected_frames
        light = frames > 0 and self._size / frames <= LIGHT_FRAME * pixels
        return 1 if pixels <= SMALL_FRAME and light else available_cores()

    def frames_before(self, pts: int) -> int:
        """How many frames come before the one at `pts`, counted from its time at the average
        frame rate: exact at a constant rate, a guess (to be checked) at a variable one."""
        seconds = (pts - (self._stream.start_time or 0)) * self.info.time_base
        return max(0, round(seconds * self._rate))

    def _frame_step(self) -> int:
        return max(1, int(round(1 / (self._rate * self.info.time_base))))

    @property
    def _rate(self) -> Fraction:
        """The stream's average frame rate, 25 where it does not say."""
        return self.info.average_rate or Fraction(25)

    def batch(self, pts: list[int], grey: np.ndarray) -> FrameBatch:
        """Frames' pts and grey pictures as a batch, with their times in seconds."""
        p = np.array(pts[: len(grey)], np.int64)
        return FrameBatch(pts=p, times=self.seconds(p), grey=grey)

    def seconds(self, pts: np.ndarray) -> np.ndarray:
        """Timestamps in seconds (exact time base arithmetic, then one division)."""
        tb = self.info.time_base
        return (pts * tb.numerator) / tb.denominator


def _from_key_frame(frames: Iterator[Any], earliest: int) -> Iterator[Any]:
    """Decoded frames after a seek, from the first key frame on: the pictures decoded before it
    lack their references, and its leading pictures, shown before it (open GOPs), may lack them
    too. A broken stream before the key frame, a key frame before `earliest`, a frame without a
    timestamp, or one shown before the key frame more than LEADING frames after it: NoKeyFrame."""
    try:
        first = next(f for f in frames if f.key_frame)
    except StopIteration:
        raise NoKeyFrame("no key frame after the seek") from None
    except AV_ERRORS as exc:
        raise NoKeyFrame(f"decoding failed before the key frame: {reason(exc)}") from exc
    if first.pts is None:
        raise NoKeyFrame("the key frame has no timestamp")
    if first.pts < earliest:
        raise NoKeyFrame("no key frame near the place sought")
    yield first
    key = first.pts
    for after, frame in enumerate(frames):
        if frame.pts is None:
            raise NoKeyFrame("a frame without a timestamp")
        if frame.pts >= key:
            yield frame
        elif after >= LEADING:  # one pass would keep it: only the start can say where it goes
            raise NoKeyFrame("a frame shown before the key frame, long after it")


class Batcher:
    """Cuts grey pictures, arriving in chunks of any length, into batches of `size`: `add`
    returns the batches it completed, `rest` the shorter last one. Every batch of a video is cut
    at the same frames whoever cuts it (black bars, a phone frame's band and a picture-in-picture
    inset are found per batch, so the cuts matter): `first` cuts the first batch short, for a
    part of a video that starts mid-batch."""

    def __init__(self, size: int = BATCH, first: int = 0) -> None:
        self.size = size
        self.first = first  # pictures of the first batch, if not `size`: a part starting mid-batch
        self.held = 0  # pictures waiting for a batch
        self.cut = 0  # pictures in the batches handed out
        self._parts: list[np.ndarray] = []

    def add(self, grey: np.ndarray) -> list[np.ndarray]:
        self._parts.append(grey)
        self.held += len(grey)
        lead = 0 if self.cut else self.first
        if self.held < (lead or self.size):
            return []
        whole = np.concatenate(self._parts)
        n = lead + (len(whole) - lead) // self.size * self.size
        edges = ([0] if lead else []) + list(range(lead, n + 1, self.size))
        self._parts, self.held, self.cut = [whole[n:]], len(whole) - n, self.cut + n
        return [whole[a:b] for a, b in zip(edges, edges[1:], strict=False)]

    def rest(self) -> list[np.ndarray]:
        if not self.held:
            return []
        last = np.concatenate(self._parts)
        self._parts, self.held, self.cut = [], 0, self.cut + len(last)
        return [last]


class Greyer:
    """Scales decoded frames to grey pictures: `greyer(frames)` gives (len(frames), 64, 64), or
    fewer rows if a frame cannot be scaled (`greyer.error` then says why)."""

    def __init__(self, rotation: int = 0) -> None:
        self.turns = rotation // 90
        self.error: BaseException | None = None
        self._reformatter = VideoReformatter()  # one scaling context, reused

    def __call__(self, frames: list[Any]) -> np.ndarray:
        grey = np.empty((len(frames), GREY_SIZE, GREY_SIZE), np.uint8)
        for i, frame in enumerate(frames):
            try:
                small = _grey_view(_scale(self._reformatter, frame))
            except AV_ERRORS as exc:
                self.error = exc
                return grey[:i]
            grey[i] = np.rot90(small, self.turns) if self.turns else small
        return grey


def _grey_view(small: Any) -> np.ndarray:
    """The pixels of a GREY_SIZE x GREY_SIZE grey frame as an array view (no copy; the caller
    copies it into its batch)."""
    plane = small.planes[0]
    rows = np.frombuffer(plane, np.uint8).reshape(GREY_SIZE, plane.line_size)
    return rows[:, :GREY_SIZE]


def grey_of_image(path: Path) -> np.ndarray:
    """A picture file as the (1, 64, 64) grey picture a video frame would give (same scaling)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            rgb = np.asarray(image.convert("RGB"))
    except FileNotFoundError as exc:
        raise VideoNotFoundError(f"{path}: no such file") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise NotAVideoError(f"{path}: not a picture Pillow can read ({reason(exc)})") from exc
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    return _scale(VideoReformatter(), frame).to_ndarray()[None]


def _scale(reformatter: VideoReformatter, frame: Any) -> Any:
    """The one scaling call every picture goes through (video frames and pictures alike, so a
    screenshot hashes like the frame it shows): GREY_SIZE square, grey, area filter, one thread."""
    return reformatter.reformat(
        frame,
        width=GREY_SIZE,
        height=GREY_SIZE,
        format="gray",
        interpolation=Interpolation.AREA,
        threads=1,
    )
