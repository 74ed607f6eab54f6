"""Shared pieces of the benchmarks: input files (made once, kept in bench-data/), timing, tables."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from framedb.cores import available_cores

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("FRAMEDB_BENCH_DATA", ROOT / "bench-data"))
BIN = Path(sys.executable).parent


def test_video(
    name: str,
    *,
    size: str,
    seconds: int,
    fps: int = 30,
    bitrate: int = 2_000_000,
    source: str = "testsrc2",
) -> Path:
    """An H.264 file of FFmpeg's moving test pattern, made once and kept in bench-data/."""
    import av

    path = DATA / name
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    width, height = (int(v) for v in size.split("x"))
    tmp = path.with_suffix(".tmp.mp4")
    with (
        av.open(f"{source}=size={size}:rate={fps}:duration={seconds}", format="lavfi") as src,
        av.open(str(tmp), "w") as out,
    ):
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = bitrate
        stream.options = {"preset": "veryfast"}
        for frame in pictures(src):
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    tmp.rename(path)
    return path


def pictures(source: Any) -> Iterator[Any]:
    """A lavfi source's frames as yuv420p pictures for an encoder to place as it likes: lavfi
    marks every frame an I picture, and libx264 obeys (a file of key frames only, which decodes
    unlike real video)."""
    from av.video.frame import PictureType

    for frame in source.decode(video=0):
        picture = frame.reformat(format="yuv420p")
        picture.pts, picture.pict_type = None, PictureType.NONE
        yield picture


def run_process(args: Sequence[str | os.PathLike[str]]) -> float:
    """Wall time of a whole process, start-up included."""
    started = time.perf_counter()
    subprocess.run(
        [str(a) for a in args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - started


# Thread settings a decode-only baseline is run with; the fastest is the baseline ("best
# threading"): FFmpeg's default (one more thread than cores), one thread, one per usable core.
THREADINGS = ("auto", "1", str(available_cores()))


def decode_only(video: Path, threads: str) -> Callable[[], float]:
    """A run of the decode-only baseline process with this thread setting."""
    script = Path(__file__).resolve().parent / "decode_only.py"
    return lambda: run_process([sys.executable, script, video, threads])


def best_threading(times: Sequence[float], frames: int) -> tuple[float, str]:
    """The fastest decode-only time (one per THREADINGS entry), and the table's words for it:
    which setting won, and FFmpeg's default figure beside it."""
    best = min(range(len(THREADINGS)), key=lambda i: times[i])
    setting = THREADINGS[best]
    how = "FFmpeg's default threads" if setting == "auto" else f"{setting} thread(s)"
    default = f"FFmpeg's default {frames / times[0]:,.0f}"
    return times[best], f"baseline (best threading: {how}; {default})"


def best_of(repeats: int, *runs: Callable[[], float]) -> list[float]:
    """Run the contenders alternately `repeats` times; the best time of each (noise only adds)."""
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):
        for i, fn in enumerate(runs):
            times[i].append(fn())
    return [min(t) for t in times]


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def machine() -> str:
    """CPU model, cores, memory and the versions that the figures depend on."""
    import sqlite3

    import av
    import faiss
    import numpy

    model = platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            model = next(ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{model}, {os.cpu_count()} cores (shared), {memory:.0f} GiB; Python "
        f"{platform.python_version()}, PyAV {av.__version__} (libavcodec "
        f"{av.library_versions['libavcodec'][0]}), numpy {numpy.__version__}, "
        f"faiss {faiss.__version__}, SQLite {sqlite3.sqlite_version}"
    )


def table(rows: list[tuple[str, str, str]]) -> str:
    """A Markdown table: case, figure, ratio against its baseline."""
    lines = ["| case | measured | vs. baseline |", "| --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)
