"""Decode one video and hash every frame: the unit of work of an ingest, compact enough to send
between processes (a few dozen bytes per frame)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from framedb import hashing
from framedb.decode import MAX_PIXELS, VideoInfo, VideoReader
from framedb.errors import DecodeError
from framedb.hashing import HashSpec


@dataclass
class HashedVideo:
    """Every frame of one video: pts, time, packed hash, detail; `error` is set when decoding
    stopped early (the frames before it are kept)."""

    info: VideoInfo
    pts: np.ndarray
    times: np.ndarray
    codes: np.ndarray
    detail: np.ndarray
    error: str | None = field(default=None)

    def __len__(self) -> int:
        return len(self.pts)


def hash_video(
    path: str | os.PathLike[str],
    spec: HashSpec,
    *,
    max_pixels: int = MAX_PIXELS,
    threads: int = 0,
    on_batch: Callable[[int], None] | None = None,
) -> HashedVideo:
    """Decode `path` once and hash each frame. Raises NotAVideoError when it cannot be opened;
    `on_batch(n)` is told how many frames each batch added; `threads` 0 lets FFmpeg choose."""
    pts, times, codes, detail = [], [], [], []
    error = None
    with VideoReader(path, max_pixels=max_pixels, threads=threads) as reader:
        try:
            for batch in reader.batches():
                pts.append(batch.pts)
                times.append(batch.times)
                rows, cols = hashing.content_box(batch.grey)
                codes.append(hashing.compute(batch.grey[:, rows, cols], spec))
                detail.append(hashing.detail(batch.grey))
                if on_batch:
                    on_batch(len(batch.pts))
        except DecodeError as exc:
            error = str(exc)
        info = reader.info
    if not pts:
        pts, times = [np.empty(0, np.int64)], [np.empty(0, np.float64)]
        codes, detail = [np.empty((0, spec.nbytes), np.uint8)], [np.empty(0, np.float32)]
    return HashedVideo(
        info=info,
        pts=np.concatenate(pts),
        times=np.concatenate(times),
        codes=np.concatenate(codes),
        detail=np.concatenate(detail),
        error=error,
    )
