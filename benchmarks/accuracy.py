"""Accuracy of `framedb.match.find_groups` on generated footage with exact ground truth.

    python benchmarks/accuracy.py [--quick] [--sweep] [--keep DIR]

Videos are made with PyAV from the synthetic scenes of tests/media.py: loops, segments shared across
videos, and copies transformed the ways reused footage is (re-encoded at low quality, rescaled,
another codec and container, letterboxed, cropped, brighter, another frame rate), plus videos with
still shots, fades, black frames and no reuse at all. Every frame's footage is known: (clip, time
into the clip), clips being reused only on purpose.

Scores are frame pairs aligned within one frame. Truth: for each frame of each copy of a clip, the
frame of every other copy that shows the same moment. Predicted: the pairs implied by each group's
occurrences aligned at their starts. Precision = predicted pairs that are true / predicted pairs;
recall = true pairs predicted (to within one frame) / true pairs. `--sweep` repeats the scoring
over hash kinds, sizes and radii, so that defaults can be chosen from it.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from framedb.hashing import mirror_mask  # noqa: E402
from framedb.hashspec import HashSpec  # noqa: E402
from framedb.ingest.extract import hash_video  # noqa: E402
from framedb.match.groups import find_groups  # noqa: E402
from framedb.match.tracks import Group, MatchParams, Track  # noqa: E402
from framedb.store.hashed import HashedVideo  # noqa: E402
from tests.media import Segment, locate, picture  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Footage and how copies are transformed


@dataclass(frozen=True)
class Clip:
    """A piece of footage; the same `name` placed twice is reuse, anything else is unique."""

    name: str
    segments: tuple[Segment, ...]

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.segments)

    def head(self, seconds: float) -> Clip:
        """The first `seconds` of the clip (a repetition cut short), under the same name."""
        out, left = [], seconds
        for s in self.segments:
            if left <= 1e-9:
                break
            out.append(replace(s, duration=min(s.duration, left)))
            left -= s.duration
        return Clip(self.name, tuple(out))


@dataclass(frozen=True)
class Plain:
    """The footage as it is; the other looks transform it the ways reused footage is."""

    def __call__(self, seg: Segment, offset: float, width: int, height: int) -> np.ndarray:
        return picture(seg, offset, width, height)


@dataclass(frozen=True)
class Letterbox(Plain):
    """The footage squeezed into a band (`fraction` of the height) between black bars."""

    fraction: float = 0.75

    def __call__(self, seg: Segment, offset: float, width: int, height: int) -> np.ndarray:
        inner = int(round(height * self.fraction / 2)) * 2
        canvas = np.zeros((height, width, 3), np.uint8)
        top = (height - inner) // 2
        canvas[top : top + inner] = picture(seg, offset, width, inner)
        return canvas


@dataclass(frozen=True)
class Pillarbox(Plain):
    """The footage squeezed into a column (`fraction` of the width) between black bars."""

    fraction: float = 0.75

    def __call__(self, seg: Segment, offset: float, width: int, height: int) -> np.ndarray:
        inner = int(round(width * self.fraction / 2)) * 2
        canvas = np.zeros((height, width, 3), np.uint8)
        left = (width - inner) // 2
        canvas[:, left : left + inner] = picture(seg, offset, inner, height)
        return canvas


@dataclass(frozen=True)
class Crop(Plain):
    """The centre `keep` fraction of the footage, blown up to the full frame."""

    keep: float = 0.9

    def __call__(self, seg: Segment, offset: float, width: int, height: int) -> np.ndarray:
        big_w, big_h = int(round(width / self.keep)), int(round(height / self.keep))
        full = picture(seg, offset, big_w, big_h)
        x0, y0 = (big_w - width) // 2, (big_h - height) // 2
        return np.ascontiguousarray(full[y0 : y0 + height, x0 : x0 + width])


@dataclass(frozen=True)
class Brightness(Plain):
    """Brighter or darker footage: levels (0..1) ** gamma * gain + bias."""

    gain: float = 1.0
    bias: float = 0.0
    gamma: float = 1.0

    def __call__(self, seg: Segment, offset: float, width: int, height: int) -> np.ndarray:
        rgb = picture(seg, offset, width, height).astype(np.float32) / 255
        rgb = np.clip(rgb**self.gamma * self.gain + self.bias, 0, 1)
        return (rgb * 255).astype(np.uint8)


@dataclass(frozen=True)
class Slow(Plain):
    """The footage slowed down `factor` times: barely moving, like a talking head or a
    static shot (not reuse, but every frame looks like the frames around it)."""

    factor: float = 20.0

    def __call__(self, seg: Segment, offset: float, width: int, height: int) -> np.ndarray:
        return picture(
            replace(seg, duration=seg.duration / self.factor), offset / self.factor, width, height
        )


@dataclass
class Video:
    """One file to write: clips laid end to end, and how this copy is encoded and transformed."""

    name: str
    clips: list[Clip]
    fps: int = 30
    size: tuple[int, int] = (320, 180)
    codec: str = "libx264"
    crf: int = 20
    ext: str = ".mp4"
    look: Plain = Plain()
    times: np.ndarray = field(default_factory=lambda: np.empty(0))

    def filename(self) -> str:
        """A name that changes whenever the content would, so kept files are reused safely."""
        recipe = repr((self.clips, self.fps, self.size, self.codec, self.crf, self.look))
        return f"{self.name}-{hashlib.sha1(recipe.encode()).hexdigest()[:8]}{self.ext}"


def encode(path: Path, video: Video) -> np.ndarray:
    """Write `video` with PyAV and return the time of every frame written."""
    segments = [s for clip in video.clips for s in clip.segments]
    total = sum(s.duration for s in segments)
    times = np.arange(int(round(total * video.fps))) / video.fps
    width, height = video.size
    time_base = Fraction(1, video.fps * 1000)
    with av.open(str(path), "w") as container:
        stream: Any = container.add_stream(video.codec, rate=video.fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        if video.codec == "libx264":
            stream.options = {"crf": str(video.crf), "preset": "veryfast", "bf": "0"}
        else:
            stream.options = {"qscale": str(max(1, video.crf // 4))}
        for t in times:
            k, offset = locate(segments, float(t))
            rgb = video.look(segments[k], offset, width, height)
            frame = av.VideoFrame.from_ndarray(rgb, "rgb24")
            frame.pts = int(round(t / time_base))
            frame.time_base = time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return times


# ---------------------------------------------------------------------------------------------
# The evaluation set


class Scenes:
    """Hands out scene numbers never used before, so that footage is only shared on purpose."""

    def __init__(self) -> None:
        self.next = 100

    def clip(self, name: str, *segments: tuple[str, float]) -> Clip:
        """A clip of fresh scenes: (kind, duration) each."""
        out = []
        for kind, duration in segments:
            self.next += 1
            out.append(Segment(self.next, 1.0, duration, kind))
        return Clip(name, tuple(out))

    def filler(self, seconds: float = 2.0) -> Clip:
        """Moving footage that appears nowhere else."""
        self.next += 1
        return self.clip(f"filler{self.next}", ("scene", seconds))


def cases(quick: bool) -> dict[str, list[Video]]:
    """Named cases, each a list of videos matched together."""
    sc = Scenes()
    n = 3.0 if quick else 5.0
    out: dict[str, list[Video]] = {}

    clip = sc.clip("loop", ("scene", n))
    out["loop x3"] = [Video("loop", [sc.filler(), clip, clip, clip, sc.filler()])]

    clip = sc.clip("slowloop", ("scene", n))
    out["3x slower loop x3"] = [
        Video("slowloop", [sc.filler(), clip, clip, clip, sc.filler()], look=Slow(3.0))
    ]

    clip = sc.clip("loopcut", ("scene", n))
    out["loop x2.5"] = [Video("loopcut", [sc.filler(), clip, clip, clip.head(n / 2), sc.filler()])]

    clip = sc.clip("shortloop", ("scene", 1.5))
    out["short loop x8"] = [Video("shortloop", [sc.filler(), *[clip] * 8, sc.filler()])]

    clip = sc.clip("reenc", ("scene", n))
    out["re-encode crf 38"] = [
        Video("reenc-a", [sc.filler(), clip, sc.filler()], crf=18),
        Video("reenc-b", [sc.filler(1.0), clip, sc.filler(3.0)], crf=38),
    ]

    clip = sc.clip("rescale", ("scene", n))
    out["rescale 160/320/640"] = [
        Video("rescale-a", [sc.filler(), clip, sc.filler()], size=(320, 180)),
        Video("rescale-b", [sc.filler(3.0), clip, sc.filler()], size=(640, 360)),
        Video("rescale-c", [clip, sc.filler()], size=(160, 90), crf=30),
    ]

    clip = sc.clip("codec", ("scene", n))
    out["mpeg4 avi/mkv"] = [
        Video("codec-a", [sc.filler(), clip, sc.filler()]),
        Video("codec-b", [sc.filler(1.5), clip, sc.filler()], codec="mpeg4", ext=".avi", crf=16),
        Video("codec-c", [clip, sc.filler()], codec="mpeg4", ext=".mkv", crf=24),
    ]

    clip = sc.clip("fps", ("scene", n))
    out["25 vs 30 fps"] = [
        Video("fps-a", [sc.filler(), clip, sc.filler()], fps=30),
        Video("fps-b", [sc.filler(1.0), clip, sc.filler()], fps=25, crf=28),
    ]

    clip = sc.clip("box", ("scene", n))
    out["letterbox/pillarbox"] = [
        Video("box-a", [sc.filler(), clip, sc.filler()]),
        Video("box-b", [sc.filler(1.0), clip, sc.filler()], look=Letterbox(0.75)),
        Video("box-c", [clip, sc.filler()], look=Pillarbox(0.75)),
    ]

    clip = sc.clip("crop", ("scene", n))
    out["crop 90 %"] = [
        Video("crop-a", [sc.filler(), clip, sc.filler()]),
        Video("crop-b", [sc.filler(1.0), clip, sc.filler()], look=Crop(0.9)),
    ]

    clip = sc.clip("bright", ("scene", n))
    out["brightness/gamma"] = [
        Video("bright-a", [sc.filler(), clip, sc.filler()]),
        Video("bright-b", [sc.filler(1.0), clip, sc.filler()], look=Brightness(1.2, 0.05)),
        Video("bright-c", [clip, sc.filler()], look=Brightness(gamma=0.7)),
    ]

    clip = sc.clip("hard", ("scene", n))
    out["160x90 crf 40 25 fps gamma"] = [
        Video("hard-a", [sc.filler(), clip, sc.filler()]),
        Video(
            "hard-b",
            [sc.filler(1.0), clip, sc.filler()],
            size=(160, 90),
            crf=40,
            fps=25,
            look=Brightness(gamma=0.8),
        ),
    ]

    clip = sc.clip("many", ("scene", n))
    loop = sc.clip("many-loop", ("scene", n))
    out["shared x3 + loop"] = [
        Video("many-a", [sc.filler(), clip, loop, loop, sc.filler()]),
        Video("many-b", [sc.filler(1.0), clip, sc.filler()], size=(480, 270), crf=30),
        Video("many-c", [loop, sc.filler(), clip], fps=25),
    ]

    mixed = [("still", 2.0), ("black", 1.0), ("fade", 1.5), ("scene", 2.0), ("still", 3.0)]
    still = sc.clip("u-still", ("still", 2.0))
    out["no reuse"] = [
        Video("plain-a", [sc.clip("u1", *mixed)]),
        Video("plain-b", [sc.clip("u2", ("scene", 3.0), ("black", 2.0), ("scene", 3.0))]),
        Video("plain-c", [sc.clip("u3", ("fade", 2.0), ("still", 4.0), ("scene", 2.0))], fps=25),
        Video("plain-d", [still, sc.filler(), replace(still, name="u-still-again")]),
    ]

    slow = sc.clip("slow", ("scene", 20.0 if quick else 40.0))
    out["slow footage, no reuse"] = [Video("slow", [slow], look=Slow(20.0))]

    # One scene at other moments: the same look (colours, grating, blobs), never the same footage.
    scene = sc.next + 1
    sc.next += 1
    moments = [Clip(f"moment{k}", (Segment(scene, 10.0 * k, 4.0),)) for k in range(4)]
    long = Clip("long", (Segment(scene + 1, 0.0, 12.0 if quick else 30.0),))
    sc.next += 1
    out["same scene, other times"] = [
        Video("moments-a", [moments[0], sc.filler(), moments[1]]),
        Video("moments-b", [moments[2], moments[3]], size=(480, 270), crf=28),
        Video("moments-long", [long]),
    ]
    if quick:
        keep = (
            "loop x3",
            "re-encode crf 38",
            "rescale 160/320/640",
            "25 vs 30 fps",
            "no reuse",
            "same scene, other times",
            "slow footage, no reuse",
        )
        out = {k: v for k, v in out.items() if k in keep}
    return out


# ---------------------------------------------------------------------------------------------
# Ground truth and scoring


@dataclass
class Truth:
    """Per video and frame: clip name, which copy (instance) of it, time into it."""

    clip: list[np.ndarray]
    instance: list[np.ndarray]
    offset: list[np.ndarray]
    times: list[np.ndarray]
    steps: list[float]
    copies: dict[str, list[tuple[int, int, float]]]  # clip -> (video, instance, start time)


def truth_of(videos: Sequence[Video]) -> Truth:
    """Which clip, copy and time into the clip every frame of every video shows."""
    clips: list[np.ndarray] = []
    instances: list[np.ndarray] = []
    offsets: list[np.ndarray] = []
    copies: dict[str, list[tuple[int, int, float]]] = {}
    serial = 0
    for v, video in enumerate(videos):
        edges = np.cumsum([0.0] + [c.duration for c in video.clips])
        k = np.clip(
            np.searchsorted(edges, video.times + 1e-9, "right") - 1, 0, len(video.clips) - 1
        )
        names = np.array([c.name for c in video.clips])
        ids = np.arange(serial, serial + len(video.clips))
        for i, c in enumerate(video.clips):
            copies.setdefault(c.name, []).append((v, int(ids[i]), float(edges[i])))
        serial += len(video.clips)
        clips.append(names[k])
        instances.append(ids[k])
        offsets.append(video.times - edges[k])
    return Truth(
        clips, instances, offsets, [v.times for v in videos], [1 / v.fps for v in videos], copies
    )


def _nearest(times: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Index of the frame time nearest to each of `t`."""
    idx = np.clip(np.searchsorted(times, t), 1, max(1, len(times) - 1))
    left = np.abs(t - times[idx - 1]) <= np.abs(times[np.minimum(idx, len(times) - 1)] - t)
    return np.minimum(idx - left, len(times) - 1)


def true_pairs(truth: Truth) -> dict[tuple[int, int], np.ndarray]:
    """(video a, video b) -> array of (frame a, frame b) that show the same moment (directed)."""
    out: dict[tuple[int, int], list[np.ndarray]] = {}
    for copies in truth.copies.values():
        for va, ia, _ in copies:
            frames = np.flatnonzero(truth.instance[va] == ia)
            for vb, ib, start in copies:
                if ib == ia:
                    continue
                target = start + truth.offset[va][frames]
                fb = _nearest(truth.times[vb], target)
                ok = (truth.instance[vb][fb] == ib) & (
                    np.abs(truth.times[vb][fb] - target) <= 0.5 * truth.steps[vb] + 1e-6
                )
                out.setdefault((va, vb), []).append(np.stack([frames[ok], fb[ok]], axis=1))
    return {k: np.concatenate(v) for k, v in out.items()}


def predicted_pairs(
    groups: Sequence[Group], truth: Truth, index: dict[int, int]
) -> dict[tuple[int, int], np.ndarray]:
    """(video a, video b) -> (frame a, frame b) pairs implied by aligning occurrences at starts."""
    out: dict[tuple[int, int], list[np.ndarray]] = {}
    for g in groups:
        for oa in g.occurrences:
            va = index[oa.video_id]
            frames = np.arange(oa.start_frame, oa.end_frame + 1)
            rel = truth.times[va][frames] - oa.start_time
            for ob in g.occurrences:
                if ob is oa:
                    continue
                vb = index[ob.video_id]
                fb = _nearest(truth.times[vb], ob.start_time + rel)
                ok = (fb >= ob.start_frame) & (fb <= ob.end_frame)
                ok &= ob.start_time + rel <= ob.end_time + 0.5 * truth.steps[vb]
                out.setdefault((va, vb), []).append(np.stack([frames[ok], fb[ok]], axis=1))
    return {k: np.unique(np.concatenate(v), axis=0) for k, v in out.items()}


@dataclass
class Score:
    """Frame-pair counts of one or more cases, and the groups found."""

    true_positive: int = 0
    predicted: int = 0
    found: int = 0
    truth: int = 0
    groups: int = 0

    def add(self, other: Score) -> None:
        self.true_positive += other.true_positive
        self.predicted += other.predicted
        self.found += other.found
        self.truth += other.truth
        self.groups += other.groups

    @property
    def precision(self) -> float:
        return self.true_positive / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.truth if self.truth else 1.0


def score(groups: Sequence[Group], truth: Truth, index: dict[int, int]) -> Score:
    """Predicted pairs are true when both frames show the same clip, in different copies, at
    times into it no more than one frame apart; a true pair is found when a predicted pair has
    its first frame and a second frame within one of it. `index`: video_id -> video position."""
    real = true_pairs(truth)
    guessed = predicted_pairs(groups, truth, index)
    s = Score(groups=len(groups))
    for (va, vb), pairs in guessed.items():
        fa, fb = pairs[:, 0], pairs[:, 1]
        same_clip = truth.clip[va][fa] == truth.clip[vb][fb]
        other_copy = truth.instance[va][fa] != truth.instance[vb][fb]
        step = max(truth.steps[va], truth.steps[vb])
        aligned = np.abs(truth.offset[va][fa] - truth.offset[vb][fb]) <= step + 1e-6
        s.true_positive += int((same_clip & other_copy & aligned).sum())
        s.predicted += len(pairs)
    for (va, vb), pairs in real.items():
        s.truth += len(pairs)
        got = guessed.get((va, vb))
        if got is None:
            continue
        keys = got[:, 0] * 1_000_000 + got[:, 1]
        hit = np.zeros(len(pairs), bool)
        for shift in (-1, 0, 1):
            hit |= np.isin(pairs[:, 0] * 1_000_000 + pairs[:, 1] + shift, keys)
        s.found += int(hit.sum())
    return s


# ---------------------------------------------------------------------------------------------
# Running


@dataclass
class Prepared:
    """One case on disk: its videos, their files and the ground truth."""

    videos: list[Video]
    paths: list[Path]
    truth: Truth


def frame_times(video: Video) -> np.ndarray:
    total = sum(c.duration for c in video.clips)
    return np.arange(int(round(total * video.fps))) / video.fps


def prepare(folder: Path, quick: bool, reuse: bool) -> dict[str, Prepared]:
    """Write every case's videos into `folder` (or, with `reuse`, keep those already there)."""
    out = {}
    for name, videos in cases(quick).items():
        paths = []
        for video in videos:
            path = folder / video.filename()
            video.times = frame_times(video) if reuse and path.exists() else encode(path, video)
            paths.append(path)
        out[name] = Prepared(videos, paths, truth_of(videos))
    return out


@functools.lru_cache(maxsize=512)
def hashed(path: Path, spec: HashSpec) -> HashedVideo:
    """Decode and hash once per (file, hash), however many parameter sets are scored."""
    return hash_video(path, spec)


def tracks_of(prepared: Prepared, spec: HashSpec, first_id: int) -> list[Track]:
    tracks = []
    for k, path in enumerate(prepared.paths):
        h = hashed(path, spec)
        if len(h.times) != len(prepared.videos[k].times):
            raise RuntimeError(
                f"{path}: decoded {len(h.times)} frames, wrote {len(prepared.videos[k].times)}"
            )
        tracks.append(Track.of(first_id + k, h))
    return tracks


def evaluate(
    data: dict[str, Prepared], spec: HashSpec, params: MatchParams, *, verbose: bool
) -> tuple[Score, dict[str, Score], float, float]:
    """Match each case on its own: (total, per case, seconds hashing, seconds matching)."""
    total = Score()
    per_case: dict[str, Score] = {}
    hash_seconds = match_seconds = 0.0
    for name, prepared in data.items():
        t0 = time.perf_counter()
        tracks = tracks_of(prepared, spec, 1)
        t1 = time.perf_counter()
        groups = find_groups(tracks, params, mirror=mirror_mask(spec))
        t2 = time.perf_counter()
        hash_seconds += t1 - t0
        match_seconds += t2 - t1
        s = score(groups, prepared.truth, {t.video_id: k for k, t in enumerate(tracks)})
        per_case[name] = s
        total.add(s)
        if verbose:
            print(
                f"  {name:26s} {s.precision:9.3f} {s.recall:7.3f} {s.groups:7d} "
                f"{s.truth:8d} {(t2 - t1) * 1000:9.1f}"
            )
    return total, per_case, hash_seconds, match_seconds


def joint_false_pairs(data: dict[str, Prepared], spec: HashSpec, params: MatchParams) -> Score:
    """All cases matched together: footage is never shared across cases, so this catches
    false matches between unrelated videos."""
    tracks: list[Track] = []
    videos: list[Video] = []
    for prepared in data.values():
        tracks += tracks_of(prepared, spec, len(tracks) + 1)
        videos += prepared.videos
    groups = find_groups(tracks, params, mirror=mirror_mask(spec))
    return score(groups, truth_of(videos), {t.video_id: k for k, t in enumerate(tracks)})


TARGETS = ("re-encode crf 38", "rescale 160/320/640")  # precision and recall >= 0.97 wanted


def summary(per_case: dict[str, Score]) -> tuple[Score, int]:
    """The target cases together, and how many groups the cases without reuse produced."""
    targets = Score()
    for name in TARGETS:
        if name in per_case:
            targets.add(per_case[name])
    false_groups = sum(s.groups for s in per_case.values() if s.truth == 0)
    return targets, false_groups


def report(data: dict[str, Prepared], spec: HashSpec, params: MatchParams) -> None:
    print(f"hash {spec}, {params}")
    head = ("case", "precision", "recall", "groups", "pairs", "match ms")
    print("  {:26s} {:>9s} {:>7s} {:>7s} {:>8s} {:>9s}".format(*head))
    total, per_case, hash_s, match_s = evaluate(data, spec, params, verbose=True)
    print(
        f"  {'overall':26s} {total.precision:9.3f} {total.recall:7.3f} {total.groups:7d} "
        f"{total.truth:8d}"
    )
    targets, false_groups = summary(per_case)
    met = "met" if min(targets.precision, targets.recall) >= 0.97 else "NOT met"
    print(
        f"  targets ({', '.join(TARGETS)}): precision {targets.precision:.3f} "
        f"recall {targets.recall:.3f} ({met}: >= 0.97)"
    )
    print(f"  groups on videos without reuse: {false_groups}")
    joint = joint_false_pairs(data, spec, params)
    print(
        f"  all cases matched together: precision {joint.precision:.3f} "
        f"recall {joint.recall:.3f} ({joint.groups} groups)"
    )
    print(f"  decode+hash {hash_s:.1f} s, matching {match_s:.2f} s")


def sweep(data: dict[str, Prepared]) -> None:
    """Score hash kinds and sizes against seed and extension radii (scaled to the hash size)."""
    specs = [
        HashSpec("phash", 8),
        HashSpec("dhash", 8),
        HashSpec("ahash", 8),
        HashSpec("phash", 16),
    ]
    head = ("hash", "radius", "extend", "P", "R", "target P", "target R", "false", "joint P")
    print("{:8s} {:>6s} {:>6s} {:>6s} {:>6s} {:>8s} {:>8s} {:>5s} {:>7s}  lowest P".format(*head))
    for spec in specs:
        scale = spec.bits / 64
        for radius in (4, 6, 8, 10, 12):
            for extend in (10, 14, 18):
                if extend < radius:
                    continue
                params = MatchParams(
                    radius=int(radius * scale),
                    extend_radius=int(extend * scale),
                    min_motion=int(MatchParams().min_motion * scale),
                )
                total, per_case, _, _ = evaluate(data, spec, params, verbose=False)
                targets, false_groups = summary(per_case)
                joint = joint_false_pairs(data, spec, params)
                worst = min(per_case.items(), key=lambda kv: kv[1].precision)
                print(
                    f"{str(spec):8s} {params.radius:6d} {params.extend_radius:6d} "
                    f"{total.precision:6.3f} {total.recall:6.3f} {targets.precision:8.3f} "
                    f"{targets.recall:8.3f} {false_groups:5d} {joint.precision:7.3f}  "
                    f"{worst[0]} {worst[1].precision:.2f}"
                )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter cases")
    parser.add_argument("--sweep", action="store_true", help="sweep hash kind, size and radii")
    parser.add_argument(
        "--keep", type=Path, help="write the videos here and keep them (reused by the next run)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="framedb-accuracy-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        data = prepare(folder, args.quick, reuse=args.keep is not None)
        count = sum(len(p.paths) for p in data.values())
        print(f"{count} videos ready in {time.perf_counter() - t0:.1f} s")
        if args.sweep:
            sweep(data)
        else:
            report(data, HashSpec(), MatchParams())


if __name__ == "__main__":
    main()
