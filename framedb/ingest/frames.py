"""Stored frames as pictures again: a frame is fetched from its file by seeking to its stored pts
and decoding forward to exactly that frame; its hash is recomputed and compared with the stored
one, so a picture shown is the very frame that was ingested.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from framedb import hashing
from framedb.errors import BadArgumentError, DecodeError, VideoNotFoundError
from framedb.hashing import GREY_SIZE
from framedb.hashspec import HashSpec
from framedb.ingest.container import (
    MAX_PIXELS,
    open_container,
    open_video,
    pick_stream,
    reason,
    rotation_of,
)
from framedb.ingest.files import shown
from framedb.store.rows import Store
from framedb.store.tables import VideoRow

# Seeking lands on the keyframe before a pts; a frame this far ahead of the decoder's position is
# reached by decoding forward instead of seeking again (cheaper than re-decoding a whole GOP).
FORWARD_SECONDS = 4.0
# When the frame is not where the seek left the decoder (or decodes differently from the ingest),
# seek again this much earlier, then decode forward.
RETRY_SECONDS = (2.0, 30.0)


@dataclass(frozen=True)
class StoredFrame:
    """What the database holds about one frame: ordinal, pts (stream time base), time, hash."""

    ordinal: int
    pts: int
    time: float
    code: np.ndarray


@dataclass(frozen=True)
class DecodedFrame:
    """A frame decoded again from its file. `drift` is the Hamming distance between the hash of
    this decoding and the stored hash: 0 means it is the very frame that was ingested."""

    video: VideoRow
    stored: StoredFrame
    rgb: np.ndarray
    drift: int

    @property
    def ordinal(self) -> int:
        return self.stored.ordinal

    @property
    def time(self) -> float:
        return self.stored.time


class _NoTimestamps(Exception):
    """The stream carries no pts (raw streams): frames can only be counted from the start."""


def stored_frames(store: Store, video_id: int, ordinals: Iterable[int]) -> dict[int, StoredFrame]:
    """The stored pts, time and hash of these frames of one video, by ordinal."""
    wanted = sorted(set(int(o) for o in ordinals))
    with store.reading() as conn:
        rows = store.frame_pts(conn, video_id, wanted)
    return {
        ordinal: StoredFrame(ordinal, pts, when, np.frombuffer(code, np.uint8))
        for ordinal, pts, when, code in rows
    }


def source_path(row: VideoRow) -> Path:
    """The file of a stored video, checked to be the one that was ingested (same size and mtime)."""
    path = Path(os.fsdecode(row.raw_path))
    try:
        stat = path.stat()
    except FileNotFoundError as exc:
        raise VideoNotFoundError(
            f"{row.path}: the file is gone; ingest it again where it is now "
            f"(`framedb ingest NEW_PATH`)"
        ) from exc
    if stat.st_size != row.size or abs(stat.st_mtime - row.mtime) > 1e-3:
        raise VideoNotFoundError(
            f"{row.path}: the file changed since it was ingested; run `framedb ingest {row.path}` "
            "to store its frames again"
        )
    return path


class FrameGrabber:
    """One stored video opened for frame-accurate random access by stored pts."""

    def __init__(self, row: VideoRow, spec: HashSpec) -> None:
        self.row = row
        self.spec = spec
        self.path = source_path(row)
        self.decoded = 0  # frames decoded so far: seeking keeps this near the GOP length
        self._container, self._handle = open_video(self.path, MAX_PIXELS)
        try:
            self._use_video_stream()
        except BaseException:
            self.close()
            raise
        self._rotation = rotation_of(self._stream) // 90
        tb = self._stream.time_base
        self._per_second = float(1 / tb) if tb else 90000.0
        self._reformatter = VideoReformatter()

    def _use_video_stream(self) -> None:
        self._stream = pick_stream(self._container, self.path)
        self._stream.thread_type = "AUTO"

    def _reopen(self) -> None:
        """The file opened again from its start (a stream without timestamps cannot seek)."""
        self._container.close()
        self._container = None
        self._container = open_container(self._handle, shown(self.path), MAX_PIXELS)
        self._use_video_stream()

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
        self._handle.close()

    def __enter__(self) -> FrameGrabber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def grab(self, wanted: Sequence[StoredFrame], width: int | None = None) -> list[DecodedFrame]:
        """Decode these frames (any order), at full size or scaled to `width` pixels wide."""
        order = sorted(range(len(wanted)), key=lambda k: (wanted[k].pts, wanted[k].ordinal))
        try:
            try:
                decoded = self._by_pts([wanted[k] for k in order], width)
            except _NoTimestamps:
                decoded = self._by_count([wanted[k] for k in order], width)
        except av.error.FFmpegError as exc:
            raise DecodeError(f"{self.path}: decoding failed ({reason(exc)})") from exc
        result: list[DecodedFrame | None] = [None] * len(wanted)
        for k, frame in zip(order, decoded, strict=True):
            result[k] = frame
        return [f for f in result if f is not None]

    def _by_pts(self, targets: Sequence[StoredFrame], width: int | None) -> list[DecodedFrame]:
        out: list[DecodedFrame] = []
        frames_iter: Any = None
        position: int | None = None  # pts of the last decoded frame
        reach = FORWARD_SECONDS * self._per_second
        for target in targets:
            best: DecodedFrame | None = None
            for back in (0.0, *RETRY_SECONDS):
                ahead = position is not None and position < target.pts <= position + reach
                if frames_iter is None or back or not ahead:
                    start = int(target.pts - back * self._per_second)
                    try:
                        self._container.seek(
                            start, stream=self._stream, backward=True, any_frame=False
                        )
                    except av.error.FFmpegError as exc:  # raw streams cannot seek
                        raise _NoTimestamps from exc
                    frames_iter = self._container.decode(self._stream)
                frame, position = self._forward(frames_iter, target.pts)
                if frame is None:
                    frames_iter = None
                    continue
                candidate = self._decoded(frame, target, width)
                if best is None or candidate.drift < best.drift:
                    best = candidate
                if best.drift == 0:
                    break
                frames_iter = None  # decoded differently: try again from an earlier keyframe
            if best is None:
                raise DecodeError(
                    f"{self.path}: frame {target.ordinal} (pts {target.pts}) is not in the file "
                    f"any more; run `framedb ingest {self.row.path}` to store it again"
                )
            out.append(best)
        return out

    def _by_count(self, targets: Sequence[StoredFrame], width: int | None) -> list[DecodedFrame]:
        """Streams without timestamps: decode from the start and count frames."""
        self._reopen()
        by_ordinal = {t.ordinal: t for t in targets}
        found: dict[int, DecodedFrame] = {}
        last = max(by_ordinal)
        for ordinal, frame in enumerate(self._container.decode(self._stream)):
            self.decoded += 1
            if ordinal in by_ordinal:
                found[ordinal] = self._decoded(frame, by_ordinal[ordinal], width)
            if ordinal >= last:
                break
        missing = sorted(set(by_ordinal) - set(found))
        if missing:
            raise DecodeError(f"{self.path}: frame {missing[0]} is past the end of the file now")
        return [found[t.ordinal] for t in targets]

    def _forward(self, frames_iter: Any, pts: int) -> tuple[Any, int | None]:
        """Decode forward to the frame whose pts is `pts`: (frame, its pts), or (None, the last
        pts seen) when the decoder is already past it or the file ends."""
        last = None
        for frame in frames_iter:
            self.decoded += 1
            if frame.pts is None:
                raise _NoTimestamps
            last = int(frame.pts)
            if last == pts:
                return frame, last
            if last > pts:
                return None, last
        return None, last

    def _decoded(self, frame: Any, target: StoredFrame, width: int | None) -> DecodedFrame:
        grey = self._reformatter.reformat(
            frame,
            width=GREY_SIZE,
            height=GREY_SIZE,
            format="gray",
            interpolation=Interpolation.AREA,
        ).to_ndarray()
        if width is None:
            rgb = frame.to_ndarray(format="rgb24")
        else:
            shown_width = frame.height if self._rotation % 2 else frame.width
            scale = min(1.0, width / max(1, shown_width))
            rgb = frame.reformat(
                width=max(2, int(round(frame.width * scale))),
                height=max(2, int(round(frame.height * scale))),
                format="rgb24",
                interpolation=Interpolation.AREA,
            ).to_ndarray()
        if self._rotation:
            grey = np.rot90(grey, self._rotation)
            rgb = np.rot90(rgb, self._rotation)
        code = hashing.compute(np.ascontiguousarray(grey)[None], self.spec)[0]
        drift = int(hashing.hamming(code, target.code))
        return DecodedFrame(self.row, target, np.ascontiguousarray(rgb), drift)


def grab(
    store: Store, spec: HashSpec, row: VideoRow, ordinals: Sequence[int], width: int | None = None
) -> list[DecodedFrame]:
    """Decode these frames of a stored video (full size, or `width` pixels wide)."""
    stored = stored_frames(store, row.id, ordinals)
    missing = [o for o in ordinals if o not in stored]
    if missing:
        raise BadArgumentError(f"{row.path}: no stored frame {missing[0]}")
    with FrameGrabber(row, spec) as grabber:
        return grabber.grab([stored[o] for o in ordinals], width)
