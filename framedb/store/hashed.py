"""What decoding one video gives: the stream's description and every frame's pts, time, hash
and detail. Plain data (no PyAV), so that the process storing it never imports a decoder."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np


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
    pixel_aspect: Fraction = Fraction(1)  # a pixel's width over its height as shown (SAR)

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) as shown: pixels stretched to their aspect (an anamorphic DVD's
        720 x 576 shows as 1024 x 576), then turned by the stream's rotation."""
        width = max(1, round(self.width * self.pixel_aspect)) if self.width else 0
        turned = self.rotation % 180 == 90
        return (self.height, width) if turned else (width, self.height)


Codes = np.ndarray | None  # a column of codes a video may be stored without


@dataclass
class HashedVideo:
    """Every frame of one video: pts, time, packed hash, detail, inner hash (framedb.hashing:
    of the centre of the picture, or a portrait frame's landscape band) and middle hash (of its
    centre 90 %; None where a test or benchmark builds one without); `error` is set when
    decoding stopped early (the frames before it are kept). `loops`: the pair segments of the
    video with itself when the worker that decoded it found them (framedb.ingest.workers.
    DecodeThen); None when they are found as it is stored."""

    info: VideoInfo
    pts: np.ndarray
    times: np.ndarray
    codes: np.ndarray
    detail: np.ndarray
    inner: np.ndarray
    mid: np.ndarray | None = field(default=None)
    turned: np.ndarray | None = field(default=None)
    error: str | None = field(default=None)
    loops: Any = field(default=None)

    def __len__(self) -> int:
        return len(self.pts)

    def columns(
        self,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, Codes, Codes]:
        """What `Store.add_video` stores of each frame, in its order: pts, times, hashes, detail,
        inner, middle and turned hashes."""
        return self.pts, self.times, self.codes, self.detail, self.inner, self.mid, self.turned
