"""framedb's tables (SQLAlchemy Core, created and upgraded by the migrations) and the plain rows
the store hands out: a stored video, and the columns of a run of frames."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData()
# SQLite makes an INTEGER PRIMARY KEY the rowid (compact, fast); elsewhere ids are 64-bit.
Id = BigInteger().with_variant(Integer, "sqlite")

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

videos = Table(
    "videos",
    metadata,
    Column("id", Id, primary_key=True),
    Column("path", LargeBinary, nullable=False, unique=True),
    Column("size", BigInteger, nullable=False),
    Column("mtime", Float, nullable=False),
    Column("fingerprint", String(64), nullable=False, index=True),
    Column("codec", String(64)),
    Column("width", Integer),
    Column("height", Integer),
    Column("rotation", Integer),
    Column("time_base", String(32)),
    Column("average_rate", String(32)),
    Column("frame_count", BigInteger, nullable=False),
    Column("duration", Float, nullable=False),
    Column("status", String(16), nullable=False),
    Column("error", Text),
    Column("hash_kind", String(16), nullable=False),
    Column("hash_size", Integer, nullable=False),
    Column("has_inner", Boolean, nullable=False, server_default=false()),  # migration 0002
    Column("has_mid", Boolean, nullable=False, server_default=false()),  # migration 0004
    Column("has_turned", Boolean, nullable=False, server_default=false()),  # migration 0005
    # migration 0003: the matcher key its stored segments were found with; NULL: none stored
    Column("segments", String(128)),
    Column("ingested_at", String(32), nullable=False),
)

frames = Table(
    "frames",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=False),
    Column("video_id", Id, ForeignKey("videos.id"), nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("pts", BigInteger, nullable=False),
    Column("time", Float, nullable=False),
    Column("hash", LargeBinary, nullable=False),
    Column("detail", Float, nullable=False),
    Column("inner_hash", LargeBinary),  # migration 0002; NULL for frames stored before it
    Column("mid_hash", LargeBinary),  # migration 0004; NULL for frames stored before it
    # migration 0005: the clockwise and counter-clockwise turned hashes (framedb.turned), one
    # after the other; NULL for frames stored before it, or of a hash without them
    Column("turned_hash", LargeBinary),
    UniqueConstraint("video_id", "ordinal", name="uq_frames_video_ordinal"),
)
Index("ix_videos_status", videos.c.status)

# migration 0003: pair segments, frames a_start..a_end of video_a showing what b_start..b_end of
# video_b show (inclusive ordinals) along t_b = rate * t_a + dt, b mirrored if so; `distance`:
# the median Hamming distance of the aligned frames. video_a <= video_b; a loop is a = b.
segments = Table(
    "segments",
    metadata,
    Column("id", Id, primary_key=True),
    Column("video_a", Id, ForeignKey("videos.id"), nullable=False, index=True),
    Column("video_b", Id, ForeignKey("videos.id"), nullable=False, index=True),
    Column("a_start", Integer, nullable=False),
    Column("a_end", Integer, nullable=False),
    Column("b_start", Integer, nullable=False),
    Column("b_end", Integer, nullable=False),
    Column("a_start_time", Float, nullable=False),
    Column("a_end_time", Float, nullable=False),
    Column("b_start_time", Float, nullable=False),
    Column("b_end_time", Float, nullable=False),
    Column("dt", Float, nullable=False),
    Column("rate", Float, nullable=False),
    Column("mirrored", Boolean, nullable=False),
    Column("distance", Float, nullable=False),
)

# migration 0003: every frame's time of a video, as little-endian float64 in ordinal order:
# what grouping stored segments needs of a video, read in one row instead of one per frame.
timelines = Table(
    "timelines",
    metadata,
    Column("video_id", Id, ForeignKey("videos.id"), primary_key=True),
    Column("times", LargeBinary, nullable=False),
)

DONE, PARTIAL, FAILED = "done", "partial", "failed"


@dataclass(frozen=True)
class VideoRow:
    """One stored video, as the API hands it out."""

    id: int
    path: str
    raw_path: bytes
    size: int
    mtime: float
    fingerprint: str
    codec: str | None
    width: int | None
    height: int | None
    frame_count: int
    duration: float
    average_rate: str | None
    status: str
    error: str | None
    has_inner: bool = False  # its frames have inner hashes (stored since migration 0002)
    has_mid: bool = False  # its frames have middle hashes (stored since migration 0004)
    has_turned: bool = False  # its frames have turned hashes (stored since migration 0005)
    segments: str | None = None  # key of the matcher its stored segments were found with

    @property
    def fps(self) -> float | None:
        if not self.average_rate:
            return None
        num, _, den = self.average_rate.partition("/")
        return float(num) / float(den or 1)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form `framedb videos --json` prints."""
        return {
            "id": self.id,
            "path": self.path,
            "frames": self.frame_count,
            "duration": self.duration,
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
            "codec": self.codec,
            "status": self.status,
            "error": self.error,
        }


@dataclass
class FrameArrays:
    """Columns of a run of frames, in ordinal order."""

    ids: np.ndarray
    video_ids: np.ndarray
    ordinals: np.ndarray
    times: np.ndarray
    codes: np.ndarray
    detail: np.ndarray
    inner: np.ndarray | None = None  # read only where asked for, and stored (framedb.hashing)
    mid: np.ndarray | None = None  # the same for the middle hashes
    turned: np.ndarray | None = None  # and the turned hashes (twice as wide: framedb.turned)


@dataclass(frozen=True)
class SegmentRow:
    """One stored pair segment (the `segments` table, without its id)."""

    video_a: int
    video_b: int
    a_start: int
    a_end: int
    b_start: int
    b_end: int
    a_start_time: float
    a_end_time: float
    b_start_time: float
    b_end_time: float
    dt: float
    rate: float
    mirrored: bool
    distance: float


def display_path(raw: bytes) -> str:
    """A path for people: exact for UTF-8 names, other bytes shown as \\xNN escapes."""
    return raw.decode("utf-8", "backslashreplace")
