"""What matching works on and hands out: a video as a track of frame times, codes and detail; the
matcher's thresholds; occurrences and groups of occurrences. Plain data, numpy only."""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from framedb.errors import BadArgumentError
from framedb.hashing import FLAT_DETAIL

if TYPE_CHECKING:
    from framedb.store.hashed import HashedVideo

DEFAULT_STEP = 1 / 25  # frame duration assumed for a track of fewer than two frames
# A rate this close to 1 is 1 as far as people and JSON are told (a 25 vs 24 fps copy plays at
# 1.0 in footage time; a fitted rate wobbles by a few tenths of a percent).
RATE_SHOWN = 0.01
# The parts of a picture a track has hashes of (framedb.hashing): the whole content box, its
# inner box (centre 80 %, a phone frame's band, an inset), its middle (centre 90 %); and its
# centre turned clockwise and counter-clockwise (framedb.turned).
WHOLE, INNER, MID = "whole", "inner", "mid"
PARTS = (WHOLE, INNER, MID)
CLOCKWISE, ANTICLOCKWISE = "clockwise", "anticlockwise"
TURNED = (CLOCKWISE, ANTICLOCKWISE)


@dataclass(frozen=True, eq=False)
class Track:
    """One video as matching sees it: per frame (ordinal = position) time in seconds, packed
    hash, detail, and inner, middle and turned hashes where it has them (framedb.hashing,
    framedb.turned: `turned` holds the clockwise and the counter-clockwise hash one after the
    other). Compared by identity (it holds arrays). A view of a track (`view`) has the same times
    and detail and other codes: its inner, middle or turned hashes, or its hashes mirrored
    (`mirrored`)."""

    video_id: int
    times: np.ndarray
    codes: np.ndarray
    detail: np.ndarray
    inner: np.ndarray | None = None
    mirrored: bool = False
    mid: np.ndarray | None = None
    turned: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.times)
        if self.times.ndim != 1 or self.detail.shape != (n,):
            raise ValueError(f"video {self.video_id}: times and detail must be 1-D of equal length")
        for codes in (self.codes, self.inner, self.mid, self.turned):
            if codes is None:
                continue
            if codes.ndim not in (2, 3) or codes.shape[0] != n or codes.dtype != np.uint8:
                raise ValueError(
                    f"video {self.video_id}: codes must be uint8 of shape (frames, bytes)"
                )
        if n > 1 and np.any(np.diff(self.times) < 0):
            raise ValueError(f"video {self.video_id}: frame times must be in presentation order")

    def beside(self, *others: Track) -> Track:
        """This view's codes and other views' of the same track as one (frames, codes, bytes)
        array: compared along a line (`align.distance`), two frames are as near as the nearest
        of their codes."""
        codes = np.stack([self.codes] + [o.codes for o in others], axis=1)
        return Track(self.video_id, self.times, codes, self.detail, None, self.mirrored)

    def view(self, part: str = WHOLE, mirror: np.ndarray | None = None) -> Track | None:
        """The track seen by the hashes of one `part` of its pictures (WHOLE, INNER, MID,
        CLOCKWISE, ANTICLOCKWISE), mirrored (XOR with `mirror`, the hash's mirror mask) or not;
        None when it has no such view."""
        codes: np.ndarray | None
        if part in TURNED:
            if self.turned is None:
                return None
            half = self.codes.shape[1]
            codes = self.turned[:, :half] if part == CLOCKWISE else self.turned[:, half:]
        else:
            codes = {WHOLE: self.codes, INNER: self.inner, MID: self.mid}[part]
        if codes is None:
            return None
        if mirror is not None:
            codes = codes ^ mirror
        return Track(self.video_id, self.times, codes, self.detail, None, mirror is not None)

    @classmethod
    def of(cls, video_id: int, hashed: HashedVideo) -> Track:
        """A decoded video (framedb.store.hashed) as a track, under `video_id`."""
        h = hashed
        return cls(video_id, h.times, h.codes, h.detail, h.inner, mid=h.mid, turned=h.turned)

    def __len__(self) -> int:
        return len(self.times)

    @functools.cached_property
    def step(self) -> float:
        """The typical frame duration (median positive gap between frame times)."""
        gaps = np.diff(self.times)
        gaps = gaps[gaps > 0]
        return float(np.median(gaps)) if len(gaps) else DEFAULT_STEP

    @property
    def duration(self) -> float:
        """Seconds from the first frame to the end of the last one."""
        if not len(self.times):
            return 0.0
        return float(self.times[-1] - self.times[0]) + self.step


@dataclass(frozen=True)
class MatchParams:
    """Thresholds of the matcher (distances in bits, times in seconds).

    The defaults are for 64-bit phash and come from `benchmarks/accuracy.py --sweep`: re-encoded
    and rescaled copies stay within 8 bits of each other for nearly every frame (phash distances
    are even), unrelated frames sit near 32.

    radius: seed radius (d <= radius); a segment's median distance must not exceed it either.
    extend_radius: per-frame threshold when extending along a known alignment.
    min_length: shorter shared segments are dropped.
    min_gap: pairs inside one video closer than this are ignored; also the shortest loop period.
    min_detail: frames with less detail (flat, black, the end of a fade) never seed.
    max_gap: unmatched frames a chain of seeds or an extension may cross.
    min_seeds: seeds on one diagonal before it is worth extending.
    min_motion, motion_lag: for a quarter of a segment's frames the aligned picture must be
        min_motion bits closer than the pictures motion_lag seconds off (footage that moves; a
        still shot or a talking head matches itself at any offset).
    min_piece: shorter groups (slivers left where segments cut each other) are dropped.
    seed_window: after a run's nearest repetition, how far to look for a closer code (at most
        min_gap / 2, so that it never reaches the repetition after).
    """

    radius: int = 8
    extend_radius: int = 14
    min_length: float = 1.0
    min_gap: float = 1.0
    min_detail: float = FLAT_DETAIL
    max_gap: float = 0.5
    min_seeds: int = 3
    min_motion: int = 8
    motion_lag: float = 0.5
    min_piece: float = 0.2
    seed_window: float = 0.5

    def __post_init__(self) -> None:
        if self.radius < 0 or self.extend_radius < self.radius:
            raise ValueError(
                f"radius {self.radius} and extend_radius {self.extend_radius}: "
                "use 0 <= radius <= extend_radius"
            )
        if self.min_gap <= 0 or self.motion_lag <= 0:
            raise ValueError("min_gap and motion_lag must be > 0 seconds")
        if min(self.min_length, self.max_gap, self.min_piece, self.seed_window) < 0:
            raise ValueError("min_length, max_gap, min_piece and seed_window must be >= 0")
        if self.min_seeds < 1 or self.min_motion < 0:
            raise ValueError("min_seeds must be >= 1 and min_motion >= 0")

    def for_bits(self, bits: int) -> MatchParams:
        """These thresholds (tuned for 64-bit hashes) scaled to a hash of `bits` bits."""
        if bits == 64:
            return self
        ratio = bits / 64
        radius = max(0, int(round(self.radius * ratio)))
        return dataclasses.replace(
            self,
            radius=radius,
            extend_radius=max(radius, max(1, int(round(self.extend_radius * ratio)))),
            min_motion=max(1, int(round(self.min_motion * ratio))),
        )


@dataclass(frozen=True)
class Occurrence:
    """One place a piece of footage appears: inclusive frame ordinals and their times. `video` is
    the video's path, filled in by the API (matching itself knows only ids)."""

    video_id: int
    start_frame: int
    end_frame: int
    start_time: float
    end_time: float
    video: str = field(default="", compare=False)
    # Against the group's first occurrence (or, in a pair, the other side): its footage plays
    # `rate` times as fast (p seconds into the first are p / rate seconds into this one), and
    # left and right are swapped if `mirrored`.
    rate: float = 1.0
    mirrored: bool = False

    def span(self) -> str:
        """E.g. '00:00:03.00–00:00:08.97 (frames 90–269)', and how it plays if not as the first
        occurrence does ('played 1.25x faster, mirrored')."""
        how = []
        if abs(self.rate - 1) > RATE_SHOWN:
            how.append(
                f"played {self.rate:.2f}x faster"
                if self.rate > 1
                else f"played {1 / self.rate:.2f}x slower"
            )
        if self.mirrored:
            how.append("mirrored")
        return (
            f"{format_time(self.start_time)}–{format_time(self.end_time)} "
            f"(frames {self.start_frame}–{self.end_frame})" + (f", {', '.join(how)}" if how else "")
        )

    def as_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "video": self.video,
            "start_frame": self.start_frame,
            "end_frame": self.end_frame,
            "start_time": self.start_time,
            "end_time": self.end_time,
        }
        if abs(self.rate - 1) > RATE_SHOWN:
            doc["rate"] = round(self.rate, 4)
        if self.mirrored:
            doc["mirrored"] = True
        return doc


@dataclass(frozen=True)
class Group:
    """The same footage in >= 2 places, aligned at their starts, sorted by (video_id, start_frame).

    `frames` is the length of the first occurrence; `duration` is its end_time - start_time plus one
    frame duration, so back-to-back repetitions have duration == period.
    """

    occurrences: tuple[Occurrence, ...]
    frames: int
    duration: float

    def text(self, rank: int, *, with_names: bool = True) -> str:
        """The group as `framedb matches` prints it, ranked `rank`: its length and places."""
        lines = [f"#{rank}: {self.duration:.2f} s of footage in {len(self.occurrences)} places"]
        for o in self.occurrences:
            lines.append(f"    {o.span()}" + (f"  {o.video}" if with_names else ""))
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form of a group in `matches`, `loops` and `find`."""
        return {
            "frames": self.frames,
            "duration": self.duration,
            "occurrences": [o.as_dict() for o in self.occurrences],
        }


def named(groups: list[Group], names: dict[int, str]) -> list[Group]:
    """The groups with each occurrence's video path filled in (matching itself knows only ids)."""
    return [
        dataclasses.replace(
            g,
            occurrences=tuple(
                dataclasses.replace(o, video=names[o.video_id]) for o in g.occurrences
            ),
        )
        for g in groups
    ]


def occurrence(
    track: Track, first: int, last: int, *, rate: float = 1.0, mirrored: bool = False
) -> Occurrence:
    return Occurrence(
        track.video_id,
        first,
        last,
        float(track.times[first]),
        float(track.times[last]),
        rate=rate,
        mirrored=mirrored,
    )


def nearest(times: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Index of the frame time nearest to each of `t` (times sorted)."""
    if len(times) == 1:
        return np.zeros(np.shape(t), np.int64)
    idx = np.clip(np.searchsorted(times, t), 1, len(times) - 1)
    left_closer = (t - times[idx - 1]) <= (times[idx] - t)
    return (idx - left_closer).astype(np.int64)


def nearest_one(times: np.ndarray, t: float) -> int:
    """`nearest` for one time, without numpy's per-call overhead on scalars."""
    i = int(times.searchsorted(t))
    if i == 0 or len(times) == 1:
        return 0
    if i == len(times):
        return i - 1
    return i - 1 if t - times[i - 1] <= times[i] - t else i


def format_time(seconds: float) -> str:
    """Seconds as hh:mm:ss.cc (hundredths), the form every time is shown in; a minus sign before
    a negative time (a stream that starts before zero)."""
    sign = "-" if seconds < 0 else ""
    cs = int(round(abs(seconds) * 100))
    hours, rest = divmod(cs, 360000)
    minutes, rest = divmod(rest, 6000)
    return f"{sign}{hours:02d}:{minutes:02d}:{rest // 100:02d}.{rest % 100:02d}"


_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:\.\d*)?)$")


def parse_time(text: str) -> float:
    """`12.5s`, `12.5`, `01:02.5` or `00:01:02.500` -> seconds."""
    value = text.strip()
    try:
        if value.endswith("s"):
            return float(value[:-1])
        match = _CLOCK.match(value)
        if match:
            hours, minutes, seconds = match.groups()
            return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
        return float(value)
    except ValueError:
        pass
    raise BadArgumentError(f"frame {text!r}: give an ordinal (120) or a time (12.5s, 00:01:02.500)")
