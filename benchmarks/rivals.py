"""framedb and its rivals run on the same pair of files, each answer turned into frame pairs.

Every runner takes an original O and a copy C (paths, with the time of every frame as written)
and returns `Found`: the (frame of O, frame of C) pairs the tool's answer implies, the segment it
places (O start, O end, C start, C end, seconds, inclusive frames) and the wall time of all it did.

- framedb: `FrameDB.ingest([O, C])` with as many decoders as `framedb ingest` starts by default
  (one a core, at most one a video: FFmpeg decodes with a thread a core too) and `matches()`,
  in a fresh database; groups of occurrences aligned at their starts, each with an optional
  `rate` and `mirrored`.
- vPDQ (Meta's ThreatExchange): `vpdq.computeHash` of every frame of both videos, and the eight
  dihedral PDQ hashes of O's frames (pdqhash) so mirrored copies can match; its own rule, quality
  >= 50 on both frames and Hamming distance < 31; each C frame paired with its nearest O frame.
- FFmpeg's `signature` filter (MPEG-7 video signature), Debian's /usr/bin/ffmpeg: one pairwise
  run in detectmode full; its one match is placed by walking the diagonal through the anchor it
  reports with the exported frame signatures and its own frame threshold th_xh.

Times are each tool's work on the pair: what a tool's Python modules cost to import into the
benchmark's process, once, is not (`warm_up`). FFmpeg's process and framedb's decoders (fresh
interpreters importing numpy and PyAV) are started anew for every pair, and counted.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import numpy as np

if TYPE_CHECKING:
    from footage import Truth

FFMPEG = "/usr/bin/ffmpeg"  # Debian's 5.1: PyAV's FFmpeg lacks `signature` (a GPL filter)
VPDQ_DISTANCE = 31  # vPDQ's default tolerance, used with a strict < as in its C++ matcher
VPDQ_QUALITY = 50
TH_XH = 116  # the signature filter's default frame threshold (L1 over 380 ternary values)
BAD_FRAMES = 2  # the signature filter tolerates this many non-matching frames in a row


@dataclass
class Found:
    """What one tool found for one pair of videos."""

    pairs: np.ndarray  # (n, 2) int: frame of O, frame of C
    segment: tuple[float, float, float, float] | None  # O start, O end, C start, C end (s)
    found: float  # groups (framedb), matches (FFmpeg), % of C's frames matched (vPDQ)
    seconds: float
    parts: dict[str, float] = field(default_factory=dict)  # seconds of the steps, where useful


def nearest(times: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Index of the frame time nearest to each of `t` (`times` ascending)."""
    idx = np.clip(np.searchsorted(times, t), 1, max(1, len(times) - 1))
    left = np.abs(t - times[idx - 1]) <= np.abs(times[np.minimum(idx, len(times) - 1)] - t)
    return np.minimum(idx - left, len(times) - 1)


def span_pairs(
    times: tuple[np.ndarray, np.ndarray],
    spans: tuple[tuple[int, int], tuple[int, int]],
    starts: tuple[float, float],
    speed: float,
) -> np.ndarray:
    """The pairs implied by an O span and a C span (inclusive frames) aligned at their start
    times, C playing `speed` times as fast as O: every frame of each mapped onto the other."""
    out = []
    for side in (0, 1):
        other = 1 - side
        first, last = spans[side]
        frames = np.arange(first, last + 1)
        rel = times[side][frames] - starts[side]
        target = starts[other] + (rel / speed if side == 0 else rel * speed)
        lo, hi = spans[other]
        step = (times[other][-1] - times[other][0]) / max(1, len(times[other]) - 1)
        mapped = nearest(times[other], target)
        ok = (mapped >= lo) & (mapped <= hi)
        ok &= (target >= times[other][lo] - step / 2) & (target <= times[other][hi] + step / 2)
        pair = np.stack([frames[ok], mapped[ok]] if side == 0 else [mapped[ok], frames[ok]], 1)
        out.append(pair)
    return np.unique(np.concatenate(out), axis=0) if out else np.empty((0, 2), int)


def _no_pairs() -> np.ndarray:
    return np.empty((0, 2), int)


# ---------------------------------------------------------------------------------------------
# Scoring, the same for every tool


@dataclass
class Score:
    """One tool's counts over the sources of one row."""

    true_positive: int = 0
    predicted: int = 0
    found: int = 0
    truth: int = 0
    errors: list[float] = field(default_factory=list)
    seconds: float = 0.0
    minutes: float = 0.0
    hits: list[float] = field(default_factory=list)  # groups / % matched / matches, per case
    parts: dict[str, float] = field(default_factory=dict)
    failed: int = 0  # cases where the tool raised an error


def judge(o: Truth, c: Truth) -> tuple[np.ndarray, np.ndarray]:
    """good[a, b]: O frame a is within one frame of the O frame nearest to C frame b's source
    moment (that moment no more than a frame from O's footage), or shows the same source frame
    (a 10 fps clip holds each picture for three frames at 30 fps); truthful[b]: C frame b has a
    true pair, an O frame within half a frame of its moment."""
    same = (o.label[:, None] == c.label[None, :]) & (o.label != None)[:, None]  # noqa: E711
    gap = np.where(same, np.abs(o.source_time[:, None] - c.source_time[None, :]), np.inf)
    nearest_gap, best = gap.min(0, initial=np.inf), gap.argmin(0)
    truthful = nearest_gap <= o.step / 2 + 1e-6
    good = same & (np.abs(np.arange(len(o.times))[:, None] - best[None, :]) <= 1)
    good &= (nearest_gap <= o.step + 1e-6)[None, :]
    good |= same & (o.shown[:, None] == c.shown[None, :]) & (o.shown >= 0)[:, None]
    return good, truthful


def score(into: Score, got: Found | None, o: Truth, c: Truth) -> None:
    """Add one case to `into`; `got` None: the tool failed (its truth still counts)."""
    good, truthful = judge(o, c)
    into.truth += int(truthful.sum())
    if got is None:
        into.failed += 1
        return
    fa, fb = got.pairs[:, 0], got.pairs[:, 1]
    hit = good[fa, fb]
    into.true_positive += int(hit.sum())
    into.predicted += len(got.pairs)
    into.found += len(np.intersect1d(fb[hit], np.flatnonzero(truthful)))
    into.seconds += got.seconds
    into.minutes += (len(o.times) * o.step + len(c.times) * c.step) / 60
    into.hits.append(got.found)
    for k, v in got.parts.items():
        into.parts[k] = into.parts.get(k, 0.0) + v
    if got.segment and truthful.any():
        ends = []
        for t in (o, c):
            shown = np.flatnonzero(t.label == "S")
            ends += [t.times[shown[0]], t.times[shown[-1]]]
        into.errors.append(float(np.median(np.abs(np.array(got.segment) - np.array(ends)))))


def cell(s: Score) -> str:
    """A table cell: precision / recall / end error / seconds per video minute."""
    precision = f"{s.true_positive / s.predicted:.3f}" if s.predicted else "–"
    recall = f"{s.found / s.truth:.3f}" if s.truth else "–"
    error = f"{statistics.median(s.errors):.2f}" if s.errors else "–"
    speed = f"{s.seconds / s.minutes:.1f}" if s.minutes else "–"
    failed = f" ({s.failed} failed)" if s.failed else ""
    return f"{precision} / {recall} / {error} / {speed}{failed}"


def negative_cell(tool: str, s: Score) -> str:
    """A negative row's cell: what the tool found (groups, % matched, matches) / pairs."""
    hits = statistics.mean(s.hits) if s.hits and tool == "vpdq" else sum(s.hits)
    what = f"{hits:.0f} %" if tool == "vpdq" else f"{hits:.0f}"
    return f"{what} / {s.predicted}" + (f" ({s.failed} failed)" if s.failed else "")


def versions() -> str:
    """The versions of the rivals, for the table's last line."""
    ffmpeg = subprocess.run([FFMPEG, "-version"], capture_output=True, text=True).stdout.split()[2]
    pdq = ", ".join(f"{name} {metadata.version(name)}" for name in ("vpdq", "pdqhash"))
    return f"ffmpeg {ffmpeg}, {pdq}"


# ---------------------------------------------------------------------------------------------
# framedb


def run_framedb(o: Path, c: Path, times: tuple[np.ndarray, np.ndarray]) -> Found:
    """A fresh database, both videos ingested, `matches()`; every O-C pair of occurrences of
    every group gives pairs, the pair with the most gives the segment."""
    from framedb import FrameDB
    from framedb.api import default_jobs

    with tempfile.TemporaryDirectory(prefix="framedb-transforms-") as tmp:
        started = time.perf_counter()
        db = FrameDB.open(Path(tmp) / "bench.db")
        try:
            results = db.ingest([o, c], jobs=default_jobs([o, c], None))
            groups = db.matches()
        finally:
            db.close()
        seconds = time.perf_counter() - started
    where = {o.resolve(): 0, c.resolve(): 1}
    for r in results:
        k = where.get(Path(r.path).resolve())
        if r.status != "done" or k is None or r.frames != len(times[k]):
            raise RuntimeError(f"framedb ingest of {r.path}: {r.status} {r.reason or ''}")
    pairs, best, most = [_no_pairs()], None, 0
    for group in groups:
        for a in group.occurrences:
            for b in group.occurrences:
                sides = where.get(Path(a.video).resolve()), where.get(Path(b.video).resolve())
                if sides != (0, 1):
                    continue
                # p seconds into the group's first occurrence are start + p / rate into each.
                speed = getattr(b, "rate", 1.0) / getattr(a, "rate", 1.0)
                got = span_pairs(
                    times,
                    ((a.start_frame, a.end_frame), (b.start_frame, b.end_frame)),
                    (a.start_time, b.start_time),
                    speed,
                )
                pairs.append(got)
                if len(got) > most:
                    most, best = len(got), (a.start_time, a.end_time, b.start_time, b.end_time)
    return Found(np.unique(np.concatenate(pairs), axis=0), best, len(groups), seconds)


# ---------------------------------------------------------------------------------------------
# vPDQ with dihedral PDQ hashes


def _words(hexes: list[str]) -> np.ndarray:
    """64-character PDQ hex hashes -> (n, 4) uint64, for XOR and popcount."""
    if not hexes:
        return np.zeros((0, 4), np.uint64)
    raw = np.frombuffer(b"".join(bytes.fromhex(h) for h in hexes), np.uint8)
    return raw.reshape(-1, 32).view(">u8").astype(np.uint64)


def dihedral(path: Path) -> np.ndarray:
    """The eight dihedral PDQ hashes of every frame, (frames, 8, 4) uint64, from PyAV's RGB
    frames (bit-identical to vpdq's own hash for the original orientation)."""
    import pdqhash

    out = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            vectors, _ = pdqhash.compute_dihedral(frame.to_ndarray(format="rgb24"))
            bits = np.packbits(np.asarray(vectors, np.uint8), axis=1)  # (8, 32) bytes
            out.append(bits.view(">u8").astype(np.uint64))
    return np.stack(out)


def run_vpdq(o: Path, c: Path, times: tuple[np.ndarray, np.ndarray]) -> Found:
    """vPDQ of every frame of O and C, dihedral hashes of O, vPDQ's match rule per frame pair."""
    import vpdq

    started = time.perf_counter()
    fo = vpdq.computeHash(str(o), seconds_per_hash=0)
    fc = vpdq.computeHash(str(c), seconds_per_hash=0)
    hashed = time.perf_counter()
    turned = dihedral(o)
    turned_at = time.perf_counter()
    for feats, t, p in ((fo, times[0], o), (fc, times[1], c), (turned, times[0], o)):
        if len(feats) != len(t):
            raise RuntimeError(f"vPDQ hashed {len(feats)} frames of {p}, {len(t)} were written")
    good_o = np.array([f.quality >= VPDQ_QUALITY for f in fo])
    good_c = np.array([f.quality >= VPDQ_QUALITY for f in fc])
    plain = _words([f.hex for f in fc])
    # (C frames, O frames): the least distance over the eight orientations of O's frame.
    dist = np.bitwise_count(plain[:, None, None, :] ^ turned[None]).sum(-1).min(-1)
    dist[~good_c] = 256
    dist[:, ~good_o] = 256
    best = dist.argmin(1)
    matched = np.flatnonzero(dist[np.arange(len(fc)), best] < VPDQ_DISTANCE)
    pairs = np.stack([best[matched], matched], 1) if len(matched) else _no_pairs()
    seconds = time.perf_counter() - started
    # vPDQ has no segments: its segment is the span of its matches (first to last C frame
    # matched, and the first to last O frame those matched).
    segment = None
    if len(matched):
        t_o, t_c = times[0][pairs[:, 0]], times[1][pairs[:, 1]]
        segment = (float(t_o.min()), float(t_o.max()), float(t_c.min()), float(t_c.max()))
    share = 100 * len(matched) / max(1, int(good_c.sum()))
    parts = {"vpdq": hashed - started, "dihedral": turned_at - hashed}
    return Found(pairs, segment, share, seconds, parts)


# ---------------------------------------------------------------------------------------------
# FFmpeg signature

MATCH = re.compile(r"matching of video 0 at ([-\d.]+) and 1 at ([-\d.]+), (\d+) frames matching")
POWERS = np.array([81, 27, 9, 3, 1], np.int16)
HEADER_BITS = 32 + 1 + 32 + 16 + 16 + 32 + 32 + 16 + 1 + 32 + 32 + 32
COARSE_BITS = 32 + 32 + 1 + 32 + 32 + 5 * 243
FINE_BITS = 1 + 32 + 8 + 5 * 8 + 76 * 8


def _field(bits: np.ndarray, start: int, width: int) -> int:
    return int(bits[start : start + width] @ (1 << np.arange(width - 1, -1, -1, dtype=np.int64)))


def load_signature(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A binary signature file as FFmpeg's binary_export writes it -> (frame times in seconds,
    (frames, 380) ternary frame signatures)."""
    bits = np.unpackbits(np.frombuffer(path.read_bytes(), np.uint8)).astype(np.int64)
    frames = _field(bits, 32 + 1 + 32 + 16 + 16 + 32, 32)
    unit = _field(bits, 32 + 1 + 32 + 16 + 16 + 32 + 32, 16)  # time_base.den, 16 bits
    segments = _field(bits, HEADER_BITS - 32, 32)
    start = HEADER_BITS + segments * COARSE_BITS + 1
    fine = bits[start : start + frames * FINE_BITS]
    if len(fine) != frames * FINE_BITS:
        raise RuntimeError(f"{path}: {len(fine)} bits of frame signatures, {frames} frames")
    fine = fine.reshape(frames, FINE_BITS)
    if not fine[:, 0].all():
        raise RuntimeError(f"{path}: not the layout of FFmpeg's binary signature export")
    pts = fine[:, 1:33] @ (1 << np.arange(31, -1, -1, dtype=np.int64))
    packed = np.packbits(fine[:, 81:].astype(np.uint8), axis=1).astype(np.int16)  # (n, 76)
    ternary = (packed[:, :, None] // POWERS) % 3
    return pts / unit, ternary.reshape(frames, 380).astype(np.int16)


def walk(
    sig: tuple[np.ndarray, np.ndarray],
    times: tuple[np.ndarray, np.ndarray],
    anchor: tuple[int, int],
) -> tuple[int, int]:
    """The C frames of the match through the anchor pair: along the diagonal in time (rate 1)
    both ways while frame L1 <= th_xh, until more than BAD_FRAMES frames in a row miss."""
    i0, j0 = anchor
    ends = []
    for step in (-1, 1):
        j, last, bad = j0, j0, 0
        while 0 <= j < len(times[1]):
            target = times[0][i0] + times[1][j] - times[1][j0]
            i = int(nearest(times[0], np.array([target]))[0])
            if abs(times[0][i] - target) > times[1][1] - times[1][0]:
                break
            if np.abs(sig[0][i] - sig[1][j]).sum() <= TH_XH:
                last, bad = j, 0
            else:
                bad += 1
                if bad > BAD_FRAMES:
                    break
            j += step
        ends.append(last)
    return ends[0], ends[1]


def run_signature(o: Path, c: Path, times: tuple[np.ndarray, np.ndarray]) -> Found:
    """One pairwise `signature` run with the signatures exported; its match placed by a walk."""
    with tempfile.TemporaryDirectory(prefix="framedb-signature-") as tmp:
        graph = (
            "[0:v]setpts=PTS-STARTPTS[a];[1:v]setpts=PTS-STARTPTS[b];"
            f"[a][b]signature=nb_inputs=2:detectmode=full:format=binary:filename={tmp}/sig%d.bin"
        )
        args = [FFMPEG, "-hide_banner", "-nostats", "-loglevel", "info", "-i", str(o), "-i"]
        args += [str(c), "-filter_complex", graph, "-f", "null", "-"]
        started = time.perf_counter()
        try:
            run = subprocess.run(args, capture_output=True, text=True, check=True)
        except FileNotFoundError as exc:
            raise RuntimeError(f"{FFMPEG} missing: run `make bench-tools`") from exc
        except subprocess.CalledProcessError as exc:
            if exc.returncode < 0:
                raise RuntimeError(f"ffmpeg crashed (signal {-exc.returncode})") from exc
            last = exc.stderr.strip().splitlines()[-1:] or [""]
            raise RuntimeError(f"ffmpeg exited with {exc.returncode}: {last[0]}") from exc
        ran = time.perf_counter()
        hit = MATCH.search(run.stderr)
        if not hit:
            return Found(_no_pairs(), None, 0, ran - started)
        loaded = [load_signature(Path(tmp) / f"sig{k}.bin") for k in (0, 1)]
    sig_times, sig = [t for t, _ in loaded], [s for _, s in loaded]
    for k, p in enumerate((o, c)):
        if len(sig[k]) != len(times[k]):
            raise RuntimeError(f"signature of {p}: {len(sig[k])} frames, {len(times[k])} written")
    anchor = tuple(int(nearest(sig_times[k], np.array([float(hit[k + 1])]))[0]) for k in (0, 1))
    first, last = walk((sig[0], sig[1]), times, (anchor[0], anchor[1]))
    shift = times[0][anchor[0]] - times[1][anchor[1]]
    o_first, o_last = nearest(times[0], times[1][[first, last]] + shift)
    pairs = span_pairs(
        times, ((o_first, o_last), (first, last)), (times[0][o_first], times[1][first]), 1.0
    )
    seconds = time.perf_counter() - started
    segment = (times[0][o_first], times[0][o_last], times[1][first], times[1][last])
    return Found(pairs, tuple(float(v) for v in segment), 1, seconds, {"ffmpeg": ran - started})  # type: ignore[arg-type]


def warm_up() -> None:
    """Import what each tool's Python side imports on first use (vpdq and pdqhash; framedb's
    database, ingest and matching modules: ~0.5 s), so that no case pays it."""
    import pdqhash  # noqa: F401
    import vpdq  # noqa: F401

    from framedb import FrameDB

    with tempfile.TemporaryDirectory(prefix="framedb-warm-") as tmp:
        db = FrameDB.open(Path(tmp) / "warm.db")
        try:
            db.ingest([])
            db.matches()
        finally:
            db.close()


RIVALS: dict[str, Any] = {"framedb": run_framedb, "vpdq": run_vpdq, "signature": run_signature}
