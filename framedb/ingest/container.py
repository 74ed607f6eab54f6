"""Opening a video file for FFmpeg, the one way every reader does it: as a file object (a `:` in a
name is never read as a protocol), with no nested protocol allowed and a frame-size limit while
probing; picking its video stream (never cover art); saying in words why a file cannot be read.
"""

from __future__ import annotations

import contextlib
import os
import struct
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import av
import av.error

from framedb.errors import NotAVideoError, VideoNotFoundError
from framedb.ingest.files import NotRegularFileError, one_line, open_regular, shown
from framedb.store.hashed import VideoInfo

MAX_PIXELS = 8192 * 8192  # the largest frame any reader lets FFmpeg allocate
MAX_PIXEL_ASPECT = 4  # a sample aspect ratio past this (or under its inverse) is taken as unset

# Nested opens are what a playlist or concat list inside a file would do (read other files or URLs
# named by its content); with no protocol allowed, FFmpeg reads the one file it was handed.
_NO_PROTOCOLS = {"protocol_whitelist": "none"}
# Errors PyAV and our file object raise for broken input; they become FrameDB errors with a reason.
AV_ERRORS = (
    av.error.FFmpegError,
    OSError,
    ValueError,
    UnicodeDecodeError,
    OverflowError,
    ZeroDivisionError,
    MemoryError,
    EOFError,
)


def open_video(path: Path, max_pixels: int) -> tuple[Any, BinaryIO]:
    """Open `path` as a file object, so no name is ever read as a URL or protocol by FFmpeg.

    The frame-size limit applies while FFmpeg probes the streams, so an oversized frame is never
    allocated; special files are refused unread.
    """
    name = shown(path)
    try:
        handle = open_regular(path)
    except FileNotFoundError as exc:
        raise VideoNotFoundError(f"{name}: no such file") from exc
    except IsADirectoryError as exc:
        raise NotAVideoError(f"{name}: is a directory, not a video file") from exc
    except NotRegularFileError as exc:
        raise NotAVideoError(f"{name}: {exc}") from exc
    except OSError as exc:
        raise NotAVideoError(f"{name}: cannot read ({exc.strerror or exc})") from exc
    try:
        if os.fstat(handle.fileno()).st_size == 0:
            raise NotAVideoError(f"{name}: empty file (0 bytes)")
        return open_container(handle, name, max_pixels), handle
    except BaseException:
        handle.close()
        raise


def open_container(handle: BinaryIO, name: str, max_pixels: int) -> Any:
    """FFmpeg's container over an open file, read from its start: no protocol may be opened from
    inside it, and no frame over `max_pixels` is allocated while the streams are probed."""
    size = os.fstat(handle.fileno()).st_size
    handle.seek(0)
    head = handle.read(4096)
    handle.seek(0)
    try:
        return av.open(
            handle,
            mode="r",
            metadata_errors="replace",
            options={"max_pixels": str(max_pixels)},
            container_options=_NO_PROTOCOLS,
        )
    except MemoryError as exc:
        raise NotAVideoError(f"{name}: not enough memory to open it") from exc
    except AV_ERRORS as exc:
        raise NotAVideoError(f"{name}: {_unopenable(handle, head, size, exc)}") from exc


def plain_error(exc: BaseException) -> Exception:
    """An error as plain data another process can receive, with what messages say of it."""
    return exc if isinstance(exc, MemoryError) else ValueError(reason(exc))


def reason(exc: BaseException) -> str:
    """An exception in a few words for a one-line message."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return one_line(str(text).splitlines()[0] if str(text).strip() else type(exc).__name__)


def _unopenable(handle: BinaryIO, head: bytes, size: int, exc: BaseException) -> str:
    """Why FFmpeg could not open a file, in words a person can act on."""
    if head[4:8] == b"ftyp":
        boxes = _mp4_boxes(handle, size)
        if "moov" not in boxes:
            return (
                "MP4/MOV file without its index (no moov box): cut short or still being "
                "written; copy or download it again"
            )
        return f"damaged MP4/MOV file ({reason(exc)})"
    if b"\0" not in head:
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError as bad:
            text = head[: bad.start].decode("utf-8") if len(head) - bad.start < 4 else ""
        if text and sum(c.isprintable() or c.isspace() for c in text) >= 0.95 * len(text):
            return "not a video file (it holds text)"
    return f"not a video file FFmpeg can open ({reason(exc)})"


def _mp4_boxes(handle: BinaryIO, size: int, limit: int = 64) -> list[str]:
    """The types of an MP4's top-level boxes, as far as the file holds them."""
    found: list[str] = []
    offset = 0
    with contextlib.suppress(OSError, ValueError, struct.error):
        while offset + 8 <= size and len(found) < limit:
            handle.seek(offset)
            head = handle.read(16)
            length, kind = struct.unpack(">I4s", head[:8])
            if length == 1 and len(head) == 16:
                length = struct.unpack(">Q", head[8:16])[0]
            elif length == 0:
                length = size - offset
            if length < 8:
                break
            found.append(kind.decode("latin-1"))
            offset += length
    return found


def pick_stream(container: Any, path: Path) -> Any:
    """The video stream to use: the first real one, never embedded cover art."""
    video = list(container.streams.video)
    for stream in video:
        if stream.disposition & av.stream.Disposition.attached_pic:
            continue
        if stream.codec_context is None:
            continue
        return stream
    name = shown(path)
    if video and all(s.disposition & av.stream.Disposition.attached_pic for s in video):
        raise NotAVideoError(f"{name}: only a cover picture (attached picture), no video stream")
    if video:
        raise NotAVideoError(f"{name}: its video stream has a codec FFmpeg cannot decode")
    if container.streams.audio:
        raise NotAVideoError(f"{name}: audio only, no video stream")
    raise NotAVideoError(f"{name}: no video stream")


def rotation_of(stream: Any) -> int:
    """Degrees the stream asks to be turned by (its legacy `rotate` tag), 0 if it says nothing."""
    with contextlib.suppress(AttributeError, TypeError, ValueError):
        return int(round(float(stream.metadata.get("rotate", 0)))) % 360
    return 0


def pixel_aspect_of(stream: Any) -> Fraction:
    """A pixel's width over its height as shown (the stream's sample aspect ratio); 1 when it
    says nothing or something no display would do (0, unset, beyond MAX_PIXEL_ASPECT)."""
    with contextlib.suppress(AttributeError, TypeError, ValueError, ZeroDivisionError):
        sar = Fraction(stream.codec_context.sample_aspect_ratio or stream.sample_aspect_ratio)
        if 1 / MAX_PIXEL_ASPECT <= sar <= MAX_PIXEL_ASPECT:
            return sar
    return Fraction(1)


def stream_info(stream: Any) -> VideoInfo:
    cc = stream.codec_context
    rotation = rotation_of(stream)
    rate = stream.average_rate
    return VideoInfo(
        codec=cc.name,
        width=int(cc.width),
        height=int(cc.height),
        rotation=rotation,
        time_base=Fraction(stream.time_base) if stream.time_base else Fraction(1, 90000),
        average_rate=Fraction(rate) if rate and rate > 0 else None,
        start_pts=stream.start_time,
        pixel_aspect=pixel_aspect_of(stream),
    )
