"""Many small videos: `framedb ingest --jobs 2` against `--jobs 1` on folders of short clips,
whole processes, in the same run.

Each run ingests into a database made beforehand (creating the schema is a once-only step, not
ingest work) and is timed twice: the whole process, and its throughput once running, over the
middle 80 % of the videos it reports stored (the JSON lines, timed as they arrive). The second
is the rate a folder of thousands of files sees; the first adds start-up (~0.4 s of imports in
each process, which --jobs cannot divide) and the index saved at the end.

Two folders. 480 160x90 clips of moving scenes at ordinary bitrates (a few hundred bytes a
frame): one thread decodes such frames fastest, so one decoder cannot keep both cores busy, the
case `--jobs` is for. 96 320x180 clips of FFmpeg's busy test pattern at 18-41 crf (~3 KB a
frame): with `--jobs 1` a decoder takes two frame threads there, which use the two cores less
well than two decoders on one thread each. Each folder holds its distinct clips (96 and 24; one
costs ~1.5 s to render) copied into several files that differ in a metadata tag only: decoded in
full like any other file (framedb stores the same content twice only under different bytes),
and enough of them that a whole process is mostly throughput (--jobs 2 takes ~10 s, start-up
~0.5 s), as in a real folder of hundreds of videos."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import BIN, DATA, pictures


def clips(count: int = 24, seconds: int = 20, size: str = "320x180") -> tuple[Path, int]:
    """`count` distinct H.264 clips (each its own content or quality, so that no two files are
    the same), made once; returns the folder and the total frames."""
    import av

    folder = DATA / f"clips-{count}x{seconds}s-{size}"
    frames = count * seconds * 30
    if folder.is_dir() and len(list(folder.glob("*.mp4"))) == count:
        return folder, frames
    folder.mkdir(parents=True, exist_ok=True)
    width, height = (int(v) for v in size.split("x"))
    if size == "160x90":
        from framedb.synth import Segment, write_video

        for k in range(count):
            segment = Segment(100 + k, 0.0, float(seconds))
            path = folder / f"clip{k:03d}.mp4"
            write_video(path, [segment], size=(width, height), crf=23 + k % 8, bframes=k % 3)
        return folder, frames
    with av.open(f"testsrc2=size={size}:rate=30:duration={seconds}", format="lavfi") as src:
        frames_of_clip = list(pictures(src))
    for k in range(count):
        path = folder / f"clip{k:03d}.mp4"
        with av.open(str(path), "w") as out:
            stream = out.add_stream("libx264", rate=30)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.options = {"preset": "veryfast", "crf": str(18 + k % 24), "bf": str(k % 3)}
            for n, picture in enumerate(frames_of_clip):
                picture.pts = n
                for packet in stream.encode(picture):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
    return folder, frames


def copies(folder: Path, times: int) -> Path:
    """A folder of `times` files for each video of `folder`: its packets remuxed unchanged, with
    a metadata tag that makes each file's bytes (framedb's fingerprint) its own. Made once."""
    import av

    out = folder.with_name(f"{folder.name}-x{times}")
    videos = sorted(folder.glob("*.mp4"))
    if out.is_dir() and len(list(out.glob("*.mp4"))) == times * len(videos):
        return out
    out.mkdir(exist_ok=True)
    for copy in range(times):
        for video in videos:
            with (
                av.open(str(video)) as src,
                av.open(str(out / f"{video.stem}-{copy}.mp4"), "w") as dst,
            ):
                stream = dst.add_stream_from_template(src.streams.video[0])
                dst.metadata["comment"] = f"copy {copy}"
                for packet in src.demux(src.streams.video[0]):
                    if packet.dts is not None:  # not the demuxer's empty packet at the end
                        packet.stream = stream
                        dst.mux(packet)
    return out


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
    # Four times as many light clips: each decodes in ~40 ms, a heavier one in ~0.1 s.
    for size, distinct, each in (("160x90", 4 * count, 5), ("320x180", count, 4)):
        made, frames = clips(distinct, seconds, size)
        folder, n, frames = copies(made, each), distinct * each, frames * each
        runs: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
        for _ in range(repeats):  # alternately: noise on a shared machine hits both alike
            for jobs, times in runs.items():
                times.append(timed_ingest(folder, jobs))
        one, two = (min(w for w, _ in runs[j]) for j in (1, 2))
        rate_one, rate_two = (max(r for _, r in runs[j]) for j in (1, 2))
        rows += [
            (
                f"ingest {n} clips {size} ({distinct} distinct, {frames:,} frames), --jobs 1",
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
