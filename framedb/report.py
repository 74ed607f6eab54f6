"""Evidence a person can look at: two frames side by side with their difference (`show`), the
hash-size sweep (`tune`) and one self-contained HTML page of everything found (`report`).

Frames are fetched from the files by seeking to their stored pts and decoding forward to exactly
that frame; its hash is recomputed and compared with the stored one, so a picture shown is the very
frame that was ingested. Charts are drawn by framedb.plots (matplotlib), the page by Jinja2.
"""

from __future__ import annotations

import base64
import io
import math
import os
import shlex
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
import av.error
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter
from sqlalchemy import select

from framedb import hashing
from framedb.errors import BadArgumentError, DecodeError, NotAVideoError, VideoNotFoundError
from framedb.hashing import GREY_SIZE, HashSpec
from framedb.match import Group, LoopSummary, MatchParams, Track, find_groups, format_time
from framedb.store import DONE, PARTIAL, VideoRow, frames

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from framedb.api import FrameDB
    from framedb.plots import Plot

DEFAULT_GAIN = 4
THUMB_WIDTH = 160
STRIP_COLUMNS = (0.0, 0.5, 1.0)  # where in each occurrence a strip shows a frame
STRIP_ROWS = 4  # occurrences pictured per group; the others are listed
TUNE_SIZES = (4, 8, 12, 16, 20, 24, 28, 32)
# Seeking lands on the keyframe before a pts; a frame this far ahead of the decoder's position is
# reached by decoding forward instead of seeking again (cheaper than re-decoding a whole GOP).
FORWARD_SECONDS = 4.0
# When the frame is not where the seek left the decoder (or decodes differently from the ingest),
# seek again this much earlier, then decode forward.
RETRY_SECONDS = (2.0, 30.0)
# The dot plot compares sampled rows with every frame; this bounds rows x distinct codes.
DOT_BUDGET = 3e8
DOT_ROWS = (200, 1500)
MAX_DOTS = 60_000


# ---------------------------------------------------------------------------------------------
# Frames from the files


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


def stored_frames(db: FrameDB, video_id: int, ordinals: Iterable[int]) -> dict[int, StoredFrame]:
    """The stored pts, time and hash of these frames of one video, by ordinal."""
    wanted = sorted(set(int(o) for o in ordinals))
    found: dict[int, StoredFrame] = {}
    cols = (frames.c.ordinal, frames.c.pts, frames.c.time, frames.c.hash)
    with db.store.reading() as conn:
        for start in range(0, len(wanted), 5000):
            chunk = wanted[start : start + 5000]
            query = select(*cols).where(frames.c.video_id == video_id, frames.c.ordinal.in_(chunk))
            for ordinal, pts, when, code in conn.execute(query):
                found[int(ordinal)] = StoredFrame(
                    int(ordinal), int(pts), float(when), np.frombuffer(code, np.uint8)
                )
    return found


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
        self._handle = open(self.path, "rb")  # noqa: SIM115 (closed by close())
        self._container: Any = None
        try:
            self._open()
        except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
            self.close()
            raise NotAVideoError(f"{self.path}: FFmpeg cannot open it ({exc})") from exc
        except BaseException:
            self.close()
            raise
        self._rotation = _rotation(self._stream) // 90
        tb = self._stream.time_base
        self._per_second = float(1 / tb) if tb else 90000.0
        self._reformatter = VideoReformatter()

    def _open(self) -> None:
        if self._container is not None:
            self._container.close()
        self._handle.seek(0)
        self._container = av.open(self._handle, mode="r", metadata_errors="replace")
        self._stream = _video_stream(self._container, self.path)
        self._stream.thread_type = "AUTO"

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
            raise DecodeError(f"{self.path}: decoding failed ({_reason(exc)})") from exc
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
        self._open()
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


def _video_stream(container: Any, path: Path) -> Any:
    """The stream ingest decodes: the first video stream that is not cover art."""
    for stream in container.streams.video:
        if stream.disposition & av.stream.Disposition.attached_pic:
            continue
        if stream.codec_context is None:
            continue
        return stream
    raise NotAVideoError(f"{path}: no video stream")


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc or type(exc).__name__).splitlines()[0]


def _rotation(stream: Any) -> int:
    try:
        return int(round(float(stream.metadata.get("rotate", 0)))) % 360
    except (AttributeError, TypeError, ValueError):
        return 0


def grab(
    db: FrameDB, row: VideoRow, ordinals: Sequence[int], width: int | None = None
) -> list[DecodedFrame]:
    """Decode these frames of a stored video (full size, or `width` pixels wide)."""
    stored = stored_frames(db, row.id, ordinals)
    missing = [o for o in ordinals if o not in stored]
    if missing:
        raise BadArgumentError(f"{row.path}: no stored frame {missing[0]}")
    with FrameGrabber(row, db.spec) as grabber:
        return grabber.grab([stored[o] for o in ordinals], width)


# ---------------------------------------------------------------------------------------------
# show: two frames side by side with their difference


@dataclass(frozen=True)
class Comparison:
    """Two frames compared: the image written, the stored hashes' distance, the pixel difference.

    `boxes` holds where each panel is in the image: (left, top, right, bottom) of "first",
    "second" and "difference".
    """

    first: DecodedFrame
    second: DecodedFrame
    distance: int
    bits: int
    gain: int
    mean_difference: float
    max_difference: int
    psnr: float
    scaled: bool
    boxes: dict[str, tuple[int, int, int, int]]
    image: PILImage.Image = field(repr=False)

    def text(self) -> str:
        def name(f: DecodedFrame) -> str:
            return f"{Path(f.video.path).name} frame {f.ordinal} ({format_time(f.time)})"

        return (
            f"{name(self.first)} vs {name(self.second)}: Hamming distance {self.distance} of "
            f"{self.bits} bits; pixel difference mean {self.mean_difference:.1f}, max "
            f"{self.max_difference} of 255, PSNR {_psnr_text(self.psnr)}"
        )


def parse_ref(text: str) -> tuple[str, str]:
    """`VIDEO@FRAME` -> (video, frame); the last `@` splits, so a path may contain `@`."""
    video, at, frame = text.rpartition("@")
    if not at or not video or not frame:
        raise BadArgumentError(
            f"{text!r}: give VIDEO@FRAME, e.g. a.mp4@120 (an ordinal) or a.mp4@12.5s (a time)"
        )
    return video, frame


def compare(db: FrameDB, first: str, second: str, *, gain: int = DEFAULT_GAIN) -> Comparison:
    """Fetch two stored frames (`VIDEO@FRAME` each) and compare them."""
    if not 1 <= gain <= 255:
        raise BadArgumentError(f"gain {gain}: use 1 to 255")
    pictures = []
    for ref in (first, second):
        video, frame = parse_ref(ref)
        where = db.frame(video, frame)
        pictures.append(grab(db, db.video(where.video_id), [where.frame])[0])
    return compare_frames(pictures[0], pictures[1], db.spec, gain=gain)


def compare_frames(
    a: DecodedFrame, b: DecodedFrame, spec: HashSpec, *, gain: int = DEFAULT_GAIN
) -> Comparison:
    """Lay out A | B | |A - B| x gain with labels and a caption (B is scaled to A's size first)."""
    from PIL import Image

    first = Image.fromarray(a.rgb)
    second = Image.fromarray(b.rgb)
    scaled = second.size != first.size
    matched = second.resize(first.size, Image.Resampling.LANCZOS) if scaled else second
    diff = np.abs(a.rgb.astype(np.int16) - np.asarray(matched).astype(np.int16))
    mse = float(np.mean(diff.astype(np.float64) ** 2))
    psnr = math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)
    amplified = Image.fromarray(np.clip(diff * gain, 0, 255).astype(np.uint8))
    distance = int(hashing.hamming(a.stored.code, b.stored.code))
    labels = [
        f"A: {Path(a.video.path).name} @ {format_time(a.time)} (frame {a.ordinal})",
        f"B: {Path(b.video.path).name} @ {format_time(b.time)} (frame {b.ordinal})",
        f"|A - B| x {gain}",
    ]
    if scaled:
        labels[2] += f" (B scaled {second.width}x{second.height} -> {first.width}x{first.height})"
    caption = [
        f"A: {a.video.path}",
        f"B: {b.video.path}",
        f"Hamming distance {distance} of {spec.bits} bits ({spec}); pixel difference mean "
        f"{diff.mean():.1f}, max {int(diff.max()) if diff.size else 0} of 255, "
        f"PSNR {_psnr_text(psnr)}",
    ]
    for f, tag in ((a, "A"), (b, "B")):
        if f.drift:
            caption.append(
                f"warning: {tag} decoded now differs from the ingested frame by {f.drift} bits"
            )
    image, boxes = _layout([first, second, amplified], labels, caption)
    return Comparison(
        first=a,
        second=b,
        distance=distance,
        bits=spec.bits,
        gain=gain,
        mean_difference=float(diff.mean()),
        max_difference=int(diff.max()) if diff.size else 0,
        psnr=psnr,
        scaled=scaled,
        boxes=boxes,
        image=image,
    )


def _psnr_text(psnr: float) -> str:
    return "infinite (identical pixels)" if math.isinf(psnr) else f"{psnr:.1f} dB"


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow before 10.1: one small bitmap font
        return ImageFont.load_default()


def _fit(draw: Any, text: str, font: Any, width: int) -> list[str]:
    """`text` as at most two lines that fit `width` pixels, cut with an ellipsis if need be."""
    if draw.textlength(text, font=font) <= width:
        return [text]
    words = text.split(" ")
    lines, current = [], ""
    for word in words:
        trial = f"{current} {word}".strip()
        if current and draw.textlength(trial, font=font) > width:
            lines.append(current)
            current = word
        else:
            current = trial
    lines.append(current)
    if len(lines) > 2:
        lines = [lines[0], " ".join(lines[1:])]
    fitted = []
    for line in lines:
        while line and draw.textlength(line, font=font) > width:
            line = line[:-2] + "…"
        fitted.append(line)
    return fitted


def _layout(
    panels: Sequence[PILImage.Image], labels: Sequence[str], caption: Sequence[str]
) -> tuple[PILImage.Image, dict[str, tuple[int, int, int, int]]]:
    from PIL import Image, ImageDraw

    tallest = max(p.height for p in panels)
    size = max(13, min(36, tallest // 22))
    font = _font(size)
    pad, line = max(8, size // 2), int(size * 1.45)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    heads = [_fit(measure, text, font, p.width) for text, p in zip(labels, panels, strict=True)]
    head = line * max(len(h) for h in heads)
    width = pad + sum(p.width + pad for p in panels)
    height = pad + head + tallest + pad + line * len(caption) + pad
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    boxes: dict[str, tuple[int, int, int, int]] = {}
    x = pad
    top = pad + head
    for name, panel, lines in zip(("first", "second", "difference"), panels, heads, strict=True):
        canvas.paste(panel, (x, top))
        draw.rectangle((x - 1, top - 1, x + panel.width, top + panel.height), outline="#888888")
        for k, text in enumerate(lines):
            draw.text((x, pad + k * line), text, fill="black", font=font)
        boxes[name] = (x, top, x + panel.width, top + panel.height)
        x += panel.width + pad
    y = top + tallest + pad
    for text in caption:
        colour = "#b00000" if text.startswith("warning") else "black"
        draw.text((pad, y), text, fill=colour, font=font)
        y += line
    return canvas, boxes


def write_png(image: PILImage.Image, out: str | os.PathLike[str]) -> int:
    """Write a PNG atomically (temporary name, then rename); returns its size in bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    _write_bytes(buffer.getvalue(), out)
    return buffer.tell()


def _write_bytes(data: bytes, out: str | os.PathLike[str]) -> None:
    target = Path(out)
    if not target.parent.is_dir():
        raise BadArgumentError(f"{target}: folder {target.parent} does not exist")
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# tune: the hash-resolution sweep


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
    from framedb.decode import VideoReader

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
    from framedb.match import summarise_loops

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
        coverage=_coverage(track, groups),
    )


def _coverage(track: Track, groups: Sequence[Group]) -> float:
    """Fraction of the track covered by its occurrences in any of these groups."""
    spans = _merge(
        [
            (o.start_time, o.end_time + track.step)
            for g in groups
            for o in g.occurrences
            if o.video_id == track.video_id
        ],
        0.0,
    )
    total = track.duration
    return min(1.0, sum(hi - lo for lo, hi in spans) / total) if total > 0 else 0.0


def _merge(spans: Iterable[tuple[float, float]], join: float) -> list[tuple[float, float]]:
    """Union of intervals; intervals closer than `join` are merged too."""
    merged: list[tuple[float, float]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1] + join:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def tune_source(db: FrameDB, video: str) -> Path:
    """The file to sweep: a stored video (path, name or id), or any video file on disk."""
    if Path(video).is_file():
        return Path(video)
    return Path(os.fsdecode(db.video(video).raw_path))


def write_tune_plot(result: TuneResult, out: str | os.PathLike[str]) -> int:
    """Draw the sweep as a PNG; returns its size in bytes."""
    from framedb.plots import tune_plot

    data = tune_plot(result).png
    _write_bytes(data, out)
    return len(data)


# ---------------------------------------------------------------------------------------------
# Dot plots: time against time, one dot per matching pair of frames


def _words(codes: np.ndarray) -> np.ndarray:
    codes = np.ascontiguousarray(codes)
    return codes.view(np.uint64) if codes.shape[1] % 8 == 0 else codes


def match_dots(
    a: Track,
    b: Track,
    *,
    radius: int,
    min_detail: float,
    min_gap: float,
    max_dots: int = MAX_DOTS,
    budget: float = DOT_BUDGET,
) -> tuple[np.ndarray, np.ndarray]:
    """(times in a, times in b) of frame pairs within `radius` bits: a sample of a's detailed
    frames (the rows) against every detailed frame of b, so that every diagonal keeps its dots
    whatever the sampling. For a == b, pairs closer than `min_gap` seconds are left out."""
    rows = np.flatnonzero(a.detail >= min_detail)
    cols = np.flatnonzero(b.detail >= min_detail)
    empty = np.empty(0, np.float64)
    if not len(rows) or not len(cols):
        return empty, empty.copy()
    col_codes = np.ascontiguousarray(b.codes[cols])
    view = col_codes.view(np.dtype((np.void, col_codes.shape[1]))).ravel()
    distinct, inverse = np.unique(view, return_inverse=True)
    distinct_words = _words(distinct.view(np.uint8).reshape(len(distinct), -1))
    inverse = inverse.ravel()
    limit = int(min(DOT_ROWS[1], max(DOT_ROWS[0], budget / len(distinct))))
    if len(rows) > limit:
        rows = rows[np.linspace(0, len(rows) - 1, limit).round().astype(np.int64)]
    row_words = _words(a.codes[rows])
    block = max(1, int(4_000_000 // max(1, len(distinct) * row_words.shape[1])))
    hit_rows, hit_codes = [], []
    for s in range(0, len(rows), block):
        dist = np.bitwise_count(row_words[s : s + block, None, :] ^ distinct_words[None]).sum(
            axis=-1, dtype=np.int32
        )
        r, c = np.nonzero(dist <= radius)
        hit_rows.append(r + s)
        hit_codes.append(c)
    r = np.concatenate(hit_rows)
    c = np.concatenate(hit_codes)
    # every frame of b that has a matching code, through the frames of b sorted by code; when
    # there are too many (a still shot matches itself everywhere), a uniform sample of them
    by_code = np.argsort(inverse, kind="stable")
    count = np.bincount(inverse, minlength=len(distinct))
    first = np.cumsum(count) - count
    n = count[c]
    total = int(n.sum())
    if not total:
        return empty, empty.copy()
    if total > max_dots:
        picks = np.sort(np.random.default_rng(0).integers(0, total, max_dots))
    else:
        picks = np.arange(total)
    ends = np.cumsum(n)
    hit = np.searchsorted(ends, picks, side="right")
    within = picks - (ends[hit] - n[hit])
    xs = a.times[rows[r[hit]]]
    ys = b.times[cols[by_code[first[c[hit]] + within]]]
    if a is b:
        keep = np.abs(ys - xs) >= min_gap
        xs, ys = xs[keep], ys[keep]
    return xs, ys


def dots_of(a: Track, b: Track, params: MatchParams) -> tuple[np.ndarray, np.ndarray]:
    """The matching frame pairs of a dot plot, with the matcher's thresholds."""
    return match_dots(
        a, b, radius=params.radius, min_detail=params.min_detail, min_gap=params.min_gap
    )


def dot_plot(
    a: Track,
    b: Track,
    names: tuple[str, str],
    params: MatchParams,
    dots: tuple[np.ndarray, np.ndarray] | None = None,
) -> Plot:
    """The dot plot of two tracks (or of one against itself); `dots` if already computed."""
    from framedb.plots import dot_plot as draw

    xs, ys = dots if dots is not None else dots_of(a, b, params)
    same = a is b
    what = f"{names[0]} against itself" if same else f"{names[0]} against {names[1]}"
    return draw(
        xs,
        ys,
        x_span=_span(a),
        y_span=_span(b),
        x_label=f"time in {_short(names[0])}",
        y_label=f"time in {_short(names[1])}",
        title=f"{what}: {len(xs):,} matching frame pairs (d <= {params.radius})",
        same_video=same,
    )


def _span(track: Track) -> tuple[float, float]:
    if not len(track):
        return 0.0, 1.0
    return float(track.times[0]), float(track.times[0]) + max(track.duration, 1e-3)


def _short(name: str, limit: int = 40) -> str:
    return name if len(name) <= limit else name[: limit - 12] + "..." + name[-9:]


# ---------------------------------------------------------------------------------------------
# report: one self-contained HTML page


@dataclass(frozen=True)
class ReportResult:
    path: Path
    bytes: int
    videos: int
    groups: int
    strips: int
    plots: int
    seconds: float


@dataclass
class _Cell:
    uri: str | None
    time: float
    frame: int
    distance: int | None


@dataclass
class _Row:
    video: str
    start: float
    end: float
    cells: list[_Cell]
    note: str | None = None


Progress = Callable[[str], None]


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _jpeg(rgb: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=75, optimize=True)
    return _data_uri(buffer.getvalue(), "image/jpeg")


def write_report(
    db: FrameDB,
    out: str | os.PathLike[str],
    videos: Sequence[str] = (),
    *,
    params: MatchParams | None = None,
    strips: int = 50,
    plots: int = 40,
    table_rows: int = 1000,
    on_progress: Progress | None = None,
) -> ReportResult:
    """Match the collection (or the groups that involve `videos`) and write one HTML file with
    everything embedded: per video its loops, a timeline bar and a dot plot; a dot plot per pair of
    videos that share footage; thumbnail strips of the strongest `strips` groups; a table of the
    others (at most `table_rows`); and the commands that reproduce each finding."""
    from framedb.match import summarise_loops

    started = time.perf_counter()
    say = on_progress or (lambda _text: None)
    out = Path(out)
    if not out.parent.is_dir():
        raise BadArgumentError(f"{out}: folder {out.parent} does not exist")
    params = params or db.match_params()
    everything = [v for v in db.videos() if v.status in (DONE, PARTIAL) and v.frame_count]
    chosen = [db.video(v) for v in videos] if videos else everything
    if not chosen:
        raise BadArgumentError("no ingested videos to report on; add some with `framedb ingest`")
    rows = {v.id: v for v in everything} | {v.id: v for v in chosen}
    say(f"loading {len(rows)} videos")
    tracks = db.tracks(list(rows.values()))
    say("matching")
    groups = db.matches(chosen if videos else (), params=params, tracks=tracks)
    names = _names(rows.values())

    say("plots")
    per_video = _video_views(chosen, tracks, groups, names, summarise_loops)
    plot_count = 0
    for view in sorted(per_video, key=lambda v: (-v["found"], v["id"]))[:plots]:
        track = tracks[view["id"]]
        dots = dots_of(track, track, params)
        view["dots"] = len(dots[0])
        if len(dots[0]):  # an empty plot would say no more than "no loops"
            picture = dot_plot(track, track, (view["name"],) * 2, params, dots)
            view["plot"] = _data_uri(picture.png, "image/png")
            plot_count += 1
    pairs = _pair_views(groups, names)
    for pair in pairs[:plots]:
        a, b = tracks[pair["a"]], tracks[pair["b"]]
        picture = dot_plot(a, b, (names[pair["a"]], names[pair["b"]]), params)
        pair["plot"] = _data_uri(picture.png, "image/png")
        plot_count += 1

    say(f"thumbnails of {min(strips, len(groups))} groups")
    strong = groups[:strips]
    strip_rows = _strips(db, rows, tracks, strong, names)
    group_views = []
    for rank, group in enumerate(groups[: max(strips, table_rows)], start=1):
        group_views.append(
            _group_view(db, rank, group, rows, tracks, names, strip_rows.get(rank - 1))
        )

    say("writing")
    html = _render_html(
        db=db,
        params=params,
        videos=per_video,
        pairs=pairs,
        groups=group_views,
        total_groups=len(groups),
        strips=len(strong),
        seconds=time.perf_counter() - started,
    )
    data = html.encode("utf-8")
    _write_bytes(data, out)
    return ReportResult(
        path=out,
        bytes=len(data),
        videos=len(chosen),
        groups=len(groups),
        strips=len(strong),
        plots=plot_count,
        seconds=time.perf_counter() - started,
    )


def _names(rows: Iterable[VideoRow]) -> dict[int, str]:
    """Short names for videos: the file name, or more of the path when file names repeat."""
    rows = list(rows)
    seen: dict[str, int] = defaultdict(int)
    for row in rows:
        seen[Path(row.path).name] += 1
    return {r.id: Path(r.path).name if seen[Path(r.path).name] == 1 else r.path for r in rows}


def _video_views(
    chosen: Sequence[VideoRow],
    tracks: dict[int, Track],
    groups: Sequence[Group],
    names: dict[int, str],
    summarise: Callable[[Track, Sequence[Group]], list[LoopSummary]],
) -> list[dict[str, Any]]:
    involving: dict[int, list[Group]] = defaultdict(list)
    for g in groups:
        for vid in {o.video_id for o in g.occurrences}:
            involving[vid].append(g)
    views = []
    for row in chosen:
        track = tracks[row.id]
        mine = involving.get(row.id, [])
        loops = summarise(track, mine)
        loop_spans: list[tuple[float, float]] = []
        shared_spans: list[tuple[float, float]] = []
        partners: dict[int, float] = defaultdict(float)
        for g in mine:
            own = [o for o in g.occurrences if o.video_id == row.id]
            others = {o.video_id for o in g.occurrences} - {row.id}
            spans = [(o.start_time, o.end_time + track.step) for o in own]
            (loop_spans if len(own) >= 2 else shared_spans).extend(spans)
            for other in others:
                partners[other] += g.duration
        start, length = _span(track)
        bar = _bar(loop_spans, "loop", start, length - start) + _bar(
            shared_spans, "shared", start, length - start
        )
        views.append(
            {
                "id": row.id,
                "name": names[row.id],
                "path": row.path,
                "frames": row.frame_count,
                "duration": format_time(row.duration),
                "size": f"{row.width}x{row.height}" if row.width else "-",
                "fps": f"{row.fps:.3g}" if row.fps else "-",
                "status": row.status,
                "loops": [s.text() for s in loops],
                "coverage": _coverage(track, [g for g in mine if _loops_in(g, row.id)]),
                "shared": [
                    {"name": names.get(vid, str(vid)), "seconds": seconds}
                    for vid, seconds in sorted(partners.items(), key=lambda kv: -kv[1])
                ],
                "bar": bar,
                "found": len(mine),
                "dots": None,
                "plot": None,
            }
        )
    return views


def _loops_in(group: Group, video_id: int) -> bool:
    return sum(o.video_id == video_id for o in group.occurrences) >= 2


def _bar(
    spans: Sequence[tuple[float, float]], kind: str, start: float, length: float
) -> list[dict[str, Any]]:
    """Timeline bar pieces (percent of the video), merged to at most ~500 per kind."""
    if length <= 0:
        return []
    merged = _merge(spans, length / 500)
    return [
        {
            "kind": kind,
            "left": 100 * (lo - start) / length,
            "width": max(0.15, 100 * (hi - lo) / length),
            "title": f"{kind}: {format_time(lo)}–{format_time(hi)}",
        }
        for lo, hi in merged
    ]


def _pair_views(groups: Sequence[Group], names: dict[int, str]) -> list[dict[str, Any]]:
    shared: dict[tuple[int, int], list[float]] = defaultdict(lambda: [0, 0.0])
    for g in groups:
        vids = sorted({o.video_id for o in g.occurrences})
        for i, a in enumerate(vids):
            for b in vids[i + 1 :]:
                shared[(a, b)][0] += 1
                shared[(a, b)][1] += g.duration
    ranked = sorted(shared.items(), key=lambda item: (-item[1][1], item[0]))
    return [
        {
            "a": a,
            "b": b,
            "a_name": names.get(a, str(a)),
            "b_name": names.get(b, str(b)),
            "groups": int(count),
            "seconds": seconds,
            "plot": None,
        }
        for (a, b), (count, seconds) in ranked
    ]


def _cell_frames(track: Track, group: Group, occurrence_index: int) -> list[int]:
    """The frames a strip shows for one occurrence: the moments STRIP_COLUMNS of the way through
    the group's footage, aligned by time with the first occurrence."""
    first = group.occurrences[0]
    occ = group.occurrences[occurrence_index]
    length = first.end_time - first.start_time
    wanted = occ.start_time + np.asarray(STRIP_COLUMNS) * length
    idx = np.searchsorted(track.times, wanted - 1e-6)
    idx = np.clip(idx, occ.start_frame, occ.end_frame)
    return [int(i) for i in idx]


def _strips(
    db: FrameDB,
    rows: dict[int, VideoRow],
    tracks: dict[int, Track],
    groups: Sequence[Group],
    names: dict[int, str],
) -> dict[int, list[_Row]]:
    """Thumbnails for the first STRIP_ROWS occurrences of each group; one file open per video."""
    wanted: dict[int, set[int]] = defaultdict(set)
    plan: list[list[tuple[int, list[int]]]] = []
    for g in groups:
        shown = []
        for k, occ in enumerate(g.occurrences[:STRIP_ROWS]):
            ordinals = _cell_frames(tracks[occ.video_id], g, k)
            wanted[occ.video_id].update(ordinals)
            shown.append((occ.video_id, ordinals))
        plan.append(shown)
    pictures: dict[tuple[int, int], str] = {}
    problems: dict[int, str] = {}
    for vid, needed in wanted.items():
        try:
            for frame in grab(db, rows[vid], sorted(needed), width=THUMB_WIDTH):
                pictures[(vid, frame.ordinal)] = _jpeg(frame.rgb)
        except (VideoNotFoundError, NotAVideoError, DecodeError, OSError) as exc:
            problems[vid] = str(exc)
    result: dict[int, list[_Row]] = {}
    for gi, (g, shown) in enumerate(zip(groups, plan, strict=True)):
        reference = [tracks[shown[0][0]].codes[o] for o in shown[0][1]]
        strip = []
        for (vid, ordinals), occ in zip(shown, g.occurrences, strict=False):
            track = tracks[vid]
            cells = [
                _Cell(
                    uri=pictures.get((vid, o)),
                    time=float(track.times[o]),
                    frame=o,
                    distance=int(hashing.hamming(track.codes[o], ref)),
                )
                for o, ref in zip(ordinals, reference, strict=True)
            ]
            strip.append(_Row(names[vid], occ.start_time, occ.end_time, cells, problems.get(vid)))
        result[gi] = strip
    return result


def _group_view(
    db: FrameDB,
    rank: int,
    group: Group,
    rows: dict[int, VideoRow],
    tracks: dict[int, Track],
    names: dict[int, str],
    strip: list[_Row] | None,
) -> dict[str, Any]:
    occ = group.occurrences
    same = len({o.video_id for o in occ}) == 1
    commands = [_show_command(db, rows, occ[0], occ[1], rank)]
    for k, o in enumerate(occ[:STRIP_ROWS], start=1):
        commands.append(_cut_command(rows[o.video_id], tracks[o.video_id], o, rank, k))
    if len(occ) > STRIP_ROWS:
        commands.append(f"# ... and {len(occ) - STRIP_ROWS} more occurrences")
    return {
        "rank": rank,
        "kind": "loop" if same else "shared",
        "frames": group.frames,
        "duration": group.duration,
        "count": len(occ),
        "videos": sorted({names[o.video_id] for o in occ}),
        "occurrences": [
            {
                "video": names[o.video_id],
                "start": format_time(o.start_time),
                "end": format_time(o.end_time),
                "frames": f"{o.start_frame}–{o.end_frame}",
            }
            for o in occ[:8]
        ],
        "more": max(0, len(occ) - 8),
        "strip": strip,
        "columns": [f"{int(100 * c)} %" for c in STRIP_COLUMNS],
        "commands": commands,
    }


def _show_command(db: FrameDB, rows: dict[int, VideoRow], a: Any, b: Any, rank: int) -> str:
    refs = [shlex.quote(f"{rows[o.video_id].path}@{o.start_frame}") for o in (a, b)]
    return f"framedb --db {shlex.quote(db.location)} show {refs[0]} {refs[1]} -o group-{rank}.png"


def _cut_command(row: VideoRow, track: Track, occ: Any, rank: int, k: int) -> str:
    # ffmpeg counts -ss/-to from the start of the file, framedb from the stream's own timestamps
    origin = float(track.times[0]) if len(track) else 0.0
    start = occ.start_time - origin
    end = occ.end_time + track.step - origin
    return (
        f"ffmpeg -ss {start:.3f} -to {end:.3f} -i {shlex.quote(row.path)} "
        f"-c copy group-{rank}-{k}{Path(row.path).suffix or '.mp4'}"
    )


def _render_html(**context: Any) -> str:
    import jinja2

    from framedb import __version__

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("framedb", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["clock"] = format_time
    template = env.get_template("report.html.j2")
    return template.render(
        version=__version__,
        generated=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        location=context["db"].location,
        spec=str(context["db"].spec),
        **{k: v for k, v in context.items() if k != "db"},
    )
