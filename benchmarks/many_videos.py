"""Many small videos: `framedb ingest --jobs 2` against `--jobs 1` on folders of short clips,
whole processes, in the same run.

Each run ingests into a database made beforehand (creating the schema is a once-only step, not
ingest work) and is timed twice: the whole process, and its throughput once running, over the
middle 80 % of the videos it reports stored (the JSON lines, timed as they arrive). The second
is the rate a folder of thousands of files sees; the first adds start-up (~0.4 s of imports in
each process, which --jobs cannot divide) and the index saved at the end.

Two folders of distinct footage, every file a generated scene of its own (a folder of one clip
copied many times would be one video shared by all: n copies are n^2/2 pairs of shared footage
to find and store, a worst case, not a folder). 480 160x90 clips of moving scenes at ordinary
bitrates (a few hundred bytes a frame): one thread decodes such frames fastest, so one decoder
cannot keep both cores busy, the case `--jobs` is for. 96 320x180 clips with noise at 18-41
crf (a few KB a frame): with `--jobs 1` a decoder takes two frame threads there, which use the
two cores less well than two decoders on one thread each. Enough files that a whole process is
mostly throughput, as in a real folder of hundreds of videos; made once (two at a time) and
kept in bench-data."""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import BIN, DATA


def clips(count: int, seconds: int, size: str) -> tuple[Path, int]:
    """`count` H.264 clips, each of a generated scene of its own at its own quality (320x180:
    with noise, for a busy bitrate), made once; returns the folder and the total frames."""
    folder = DATA / f"scenes-{count}x{seconds}s-{size}"
    frames = count * seconds * 30
    if folder.is_dir() and len(list(folder.glob("*.mp4"))) == count:
        return folder, frames
    folder.mkdir(parents=True, exist_ok=True)
    todo = [(folder, k, seconds, size) for k in range(count)]
    with concurrent.futures.ProcessPoolExecutor(2) as pool:
        list(pool.map(_clip, todo))
    (folder / "making").rmdir()
    return folder, frames


def _clip(job: tuple[Path, int, int, str]) -> Path:
    from framedb.synth import Noise, Segment, write_video

    folder, k, seconds, size = job
    width, height = (int(v) for v in size.split("x"))
    path = folder / f"clip{k:03d}.mp4"
    if path.exists():  # made by an earlier, interrupted run
        return path
    part = folder / "making" / path.name  # moved in once whole: an interrupted run leaves none
    part.parent.mkdir(exist_ok=True)
    busy = size != "160x90"
    write_video(
        part,
        [Segment(1000 + k, 0.0, float(seconds))],
        size=(width, height),
        crf=18 + k % 24 if busy else 23 + k % 8,
        bframes=k % 3,
        look=Noise(6.0) if busy else None,
    )
    part.rename(path)
    return path


def timed_ingest(folder: Path, jobs: int) -> tuple[float, float]:
    """(whole-process seconds, frames/s once running) of one `framedb ingest --jobs N --json`
    of `folder` into a new, empty database."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "m.db"
        framedb = [str(BIN / "framedb"), "--db", str(db)]
        subprocess.run([*framedb, "videos"], check=True, capture_output=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # each line as its video is stored
        started = time.perf_counter()
        with subprocess.Popen(
            [*framedb, "ingest", "-j", str(jobs), "--json", str(folder)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
        ) as proc:
            lines = proc.stdout or ()
            stored = [(time.perf_counter(), json.loads(line)["frames"]) for line in lines]
        whole = time.perf_counter() - started
        if proc.returncode or len(stored) < 2:
            raise RuntimeError(f"framedb ingest of {folder} failed (exit code {proc.returncode})")
    # The middle 80 % of the results: past the start, where the first N come in together, and
    # before the end, where fewer than N files are left to share the cores.
    a, b = len(stored) // 10, len(stored) - 1 - len(stored) // 10
    return whole, sum(frames for _, frames in stored[a + 1 : b + 1]) / (stored[b][0] - stored[a][0])


def measure(count: int = 24, seconds: int = 20, repeats: int = 3) -> list[tuple[str, str, str]]:
    rows = []
    # Five times as many light clips: each decodes in ~40 ms, a heavier one in ~0.1 s.
    for size, n in (("160x90", 20 * count), ("320x180", 4 * count)):
        folder, frames = clips(n, seconds, size)
        runs: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
        for _ in range(repeats):  # alternately: noise on a shared machine hits both alike
            for jobs, times in runs.items():
                times.append(timed_ingest(folder, jobs))
        one, two = (min(w for w, _ in runs[j]) for j in (1, 2))
        rate_one, rate_two = (max(r for _, r in runs[j]) for j in (1, 2))
        rows += [
            (
                f"ingest {n} distinct clips {size} ({frames:,} frames), --jobs 1",
                f"{frames / one:,.0f} frames/s (once running: {rate_one:,.0f})",
                "baseline",
            ),
            (
                "same, --jobs 2 (one writer)",
                f"{frames / two:,.0f} frames/s (once running: {rate_two:,.0f})",
                f"{one / two:.2f}x (once running: {rate_two / rate_one:.2f}x)",
            ),
        ]
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sys.stdout.write(
        "\n".join(" | ".join(r) for r in measure(args.count, args.seconds, args.repeats))
    )
    print()
