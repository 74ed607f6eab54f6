"""Many small videos: `framedb ingest --jobs 2` against `--jobs 1` on folders of short clips,
whole processes, in the same run.

Two folders. 96 160x90 clips of moving scenes at ordinary bitrates (a few hundred bytes a frame):
one thread decodes such frames fastest, so one decoder cannot keep both cores busy, the case
`--jobs` is for. 24 320x180 clips of FFmpeg's busy test pattern at 18-41 crf (~3 KB a frame): a
decoder's two frame threads already fill both cores there, so `--jobs 2` can add little."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from common import BIN, DATA, best_of, pictures, run_process


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


def measure(count: int = 24, seconds: int = 20, repeats: int = 3) -> list[tuple[str, str, str]]:
    rows = []
    # Four times as many light clips: each decodes in ~50 ms, and a whole process's fixed
    # ~0.5 s (start-up, schema, index save), which --jobs cannot divide, would otherwise
    # weigh as much as the work (24 of them: 1.15-1.2 s of 1.5-1.7 s).
    for size, n in (("160x90", 4 * count), ("320x180", count)):
        folder, frames = clips(n, seconds, size)

        def ingest(jobs: int, folder: Path = folder) -> float:
            with tempfile.TemporaryDirectory() as tmp:
                db = Path(tmp) / "m.db"
                return run_process([BIN / "framedb", "--db", db, "ingest", "-j", jobs, folder])

        one, two = best_of(repeats, lambda: ingest(1), lambda: ingest(2))
        rows += [
            (
                f"ingest {n} clips {size} ({frames:,} frames), --jobs 1",
                f"{frames / one:,.0f} frames/s",
                "baseline",
            ),
            ("same, --jobs 2 (one writer)", f"{frames / two:,.0f} frames/s", f"{one / two:.2f}x"),
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
