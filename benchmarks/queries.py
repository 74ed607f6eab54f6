"""Query speed on a large synthetic collection written through framedb's own bulk path:
opening, `where` in-process (against a flat scan) and as a whole CLI process, and bytes per
stored frame (`matches` over it: benchmarks/segments.py)."""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
from common import BIN, DATA, median_ms, run_process

from framedb import FrameDB
from framedb.store.hashed import HashedVideo, VideoInfo
from framedb.store.rows import video_row_values

FRAMES_PER_VIDEO = 100_000


def build(path: Path, frames: int, seed: int = 0) -> float:
    """Write `frames` rows of random 64-bit codes as videos of 100,000 frames; seconds taken."""
    rng = np.random.default_rng(seed)
    info = VideoInfo("h264", 160, 90, 0, Fraction(1, 30), Fraction(30), 0)
    started = time.perf_counter()
    with FrameDB.open(path) as db, db._writing() as changes:
        for v in range(0, frames, FRAMES_PER_VIDEO):
            n = min(FRAMES_PER_VIDEO, frames - v)
            pts = np.arange(n, dtype=np.int64)
            hashed = HashedVideo(
                info,
                pts,
                pts / 30.0,
                rng.integers(0, 256, (n, 8), np.uint8),
                np.full(n, 30.0, np.float32),
                rng.integers(0, 256, (n, 8), np.uint8),
                mid=rng.integers(0, 256, (n, 8), np.uint8),
                turned=rng.integers(0, 256, (n, 16), np.uint8),
            )
            row = video_row_values(
                Path(f"/synthetic/v{v // FRAMES_PER_VIDEO:05d}.mp4"),
                1,
                0.0,
                f"{v:032x}",
                db.spec,
                hashed,
                "done",
                None,
            )
            with db.store.writing() as conn:
                _, ids = db.store.add_video(conn, row, *hashed.columns())
            changes.add(ids, hashed.codes, hashed.inner)
    return time.perf_counter() - started


def _subprocess(code: str, *args: str | Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *[str(a) for a in args]], check=True, capture_output=True
    )
    return done.stdout.decode()


_OPEN = """
import sys, time
t = time.perf_counter()
from framedb import FrameDB
db = FrameDB.open(sys.argv[1])
index = db.index()
print(time.perf_counter() - t, len(index))
"""


def measure(frames: int) -> list[tuple[str, str, str]]:
    DATA.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=DATA))
    path = folder / "big.db"
    write_s = build(path, frames)
    size = sum(p.stat().st_size for p in folder.iterdir())
    sql_size = path.stat().st_size
    open_s = min(float(_subprocess(_OPEN, path).split()[0]) for _ in range(3))
    db = FrameDB.open(path)
    index = db.index()
    rng = np.random.default_rng(1)
    videos = db.videos()
    picks = [
        (videos[int(rng.integers(len(videos)))].id, int(rng.integers(FRAMES_PER_VIDEO)))
        for _ in range(200)
    ]
    for pick in picks[:20]:  # warm the pages a first query of each kind touches
        db.where(*pick)
    queue = iter(picks * 4)
    where_ms = median_ms(lambda: db.where(*next(queue)), 200)
    flat = index.search_radius_flat
    index.search_radius = flat  # type: ignore[method-assign]  (the baseline: a flat scan)
    db.where(*picks[0])
    flat_ms = median_ms(lambda: db.where(*next(queue)), 100)
    del index.search_radius
    vid, frame = picks[0]
    cli_s = min(
        run_process([BIN / "framedb", "--db", path, "where", str(vid), str(frame)])
        for _ in range(5)
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    db.close()
    rows = [
        (f"bulk write {frames:,} frames (library path)", f"{frames / write_s:,.0f} frames/s", ""),
        ("open database + index (fresh process)", f"{open_s * 1000:.0f} ms", "target < 1000 ms"),
        (
            "`where` in-process (median of 200)",
            f"{where_ms:.2f} ms",
            f"{flat_ms / where_ms:.1f}x faster than a flat scan ({flat_ms:.2f} ms)",
        ),
        ("`framedb where` whole process", f"{cli_s * 1000:.0f} ms", "target < 500 ms"),
        (
            "disk per frame (SQL + index)",
            f"{size / frames:.0f} B ({sql_size / frames:.0f} B SQL)",
            "",
        ),
        ("peak memory of the query benchmark process", f"{rss:,.0f} MiB", ""),
    ]
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=10_000_000)
    args = parser.parse_args()
    for row in measure(args.frames):
        print(" | ".join(row))
