"""`framedb tune`: the hash-resolution sweep. One decoding of a video, hashed with every (kind,
size); per setting, how many frames share an exact hash and what the matcher finds. The chart is
drawn by framedb.evidence.plots.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from framedb import hashing
from framedb.errors import BadArgumentError, NotAVideoError
from framedb.evidence.spans import coverage
from framedb.hashspec import HashSpec
from framedb.match.groups import find_groups
from framedb.match.loops import summarise_loops
from framedb.match.tracks import MatchParams, Track
from framedb.store.atomic import write_bytes

TUNE_SIZES = (4, 8, 12, 16, 20, 24, 28, 32)


@dataclass(frozen=True)
class TuneSetting:
    """One hash setting applied to every frame of a video.

    Exact-hash view (the published sweep): `buckets` is how many hash values more than one frame
    shares, `mean_bucket` and `max_bucket` their mean and largest size in frames. Segment view
    (what framedb reports): `groups` found by the matcher with `radius` scaled to the hash size,
    `loops` the loop summaries they make and `coverage` the fraction of the video they cover.
    """

    kind: str
    size: int
    bits: int
    buckets: int
    mean_bucket: float
    max_bucket: int
    radius: int
    groups: int
    loops: int
    coverage: float


@dataclass(frozen=True)
class TuneResult:
    name: str
    path: str
    frames: int
    detailed: int
    duration: float
    kinds: tuple[str, ...]
    settings: tuple[TuneSetting, ...]
    current: int | None
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "video": self.path,
            "frames": self.frames,
            "detailed_frames": self.detailed,
            "duration": self.duration,
            "seconds": round(self.seconds, 3),
            "settings": [s.__dict__ for s in self.settings],
        }

    def plot(self, out: str | os.PathLike[str]) -> int:
        """Draw the sweep as a PNG; returns its size in bytes."""
        from framedb.evidence.plots import tune_plot

        data = tune_plot(self).png
        write_bytes(data, out)
        return len(data)


def tune(
    path: str | os.PathLike[str],
    *,
    kinds: Sequence[str] = ("ahash",),
    sizes: Sequence[int] = TUNE_SIZES,
    params: MatchParams | None = None,
    current: HashSpec | None = None,
    duration: float | None = None,
) -> TuneResult:
    """Decode `path` once to small grey pictures, hash them with every (kind, size) and measure
    both the exact-hash buckets and the segments the matcher finds with each setting.
    `duration`: sweep only the first that many seconds (a long video's sample)."""
    from framedb.ingest.decode import VideoReader

    started = time.perf_counter()
    params = params or MatchParams()
    specs = [HashSpec(kind, size) for kind in dict.fromkeys(kinds) for size in sorted(set(sizes))]
    if not specs:
        raise BadArgumentError("give at least one hash kind and size to sweep")
    codes: dict[HashSpec, list[np.ndarray]] = {spec: [] for spec in specs}
    times: list[np.ndarray] = []
    detail: list[np.ndarray] = []
    if duration is not None and duration <= 0:
        raise BadArgumentError(f"duration {duration}: give a positive number of seconds")
    with VideoReader(path) as reader:
        for batch in reader.batches():
            grey = batch.grey
            if duration is not None:
                end = float((times[0] if times else batch.times)[0]) + duration
                keep = int(np.searchsorted(batch.times, end, side="left"))
                grey = grey[:keep]
            times.append(batch.times[: len(grey)])
            detail.append(hashing.detail(grey))
            for spec in specs:
                codes[spec].append(hashing.compute(grey, spec))
            if len(grey) < len(batch.grey):
                break
    if not times:
        raise NotAVideoError(f"{path}: no frames decoded")
    all_times, all_detail = np.concatenate(times), np.concatenate(detail)
    detailed = all_detail >= params.min_detail
    settings = []
    for spec in specs:
        stacked = np.concatenate(codes[spec])
        track = Track(0, all_times, stacked, all_detail)
        settings.append(_measure(spec, track, detailed, params.for_bits(spec.bits)))
    step = float(np.median(np.diff(all_times))) if len(all_times) > 1 else 0.0
    return TuneResult(
        name=Path(path).name,
        path=str(path),
        frames=len(all_times),
        detailed=int(detailed.sum()),
        duration=float(all_times[-1] - all_times[0]) + step,
        kinds=tuple(dict.fromkeys(kinds)),
        settings=tuple(settings),
        current=current.size if current is not None and current.kind in kinds else None,
        seconds=time.perf_counter() - started,
    )


def _measure(
    spec: HashSpec, track: Track, detailed: np.ndarray, params: MatchParams
) -> TuneSetting:
    codes = np.ascontiguousarray(track.codes[detailed])
    view = codes.view(np.dtype((np.void, codes.shape[1]))).ravel()
    _, counts = np.unique(view, return_counts=True)
    shared = counts[counts > 1]
    groups = find_groups([track], params)
    return TuneSetting(
        kind=spec.kind,
        size=spec.size,
        bits=spec.bits,
        buckets=len(shared),
        mean_bucket=float(shared.mean()) if len(shared) else 0.0,
        max_bucket=int(shared.max()) if len(shared) else 0,
        radius=params.radius,
        groups=len(groups),
        loops=len(summarise_loops(track, groups)),
        coverage=coverage(track, groups),
    )
