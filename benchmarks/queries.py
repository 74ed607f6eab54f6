"""Query speed on a large synthetic collection written through framedb's own bulk path:
opening, `where` in-process and as a whole CLI process, and bytes per stored frame."""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
from common import BIN, DATA, median_ms, run_process

from framedb import FrameDB
from framedb.api import video_row_values
from framedb.decode import VideoInfo
from framedb.extract import HashedVideo

FRAMES_PER_VIDEO = 100_000


def build(path: Path, frames: int, seed: int = 0) -> float:
    """Write `frames` rows of random 64-bit codes as videos of 100,000 frames; seconds taken."""
    rng = np.random.default_rng(seed)
    info = VideoInfo("h264", 160, 90, 0, Fraction(1, 30), Fraction(30), 0)
    started = time.perf_counter()
    with FrameDB.open(path) as db:
        changes = db._updating_index()
        with changes:
            for v in range(0, frames, FRAMES_PER_VIDEO):
                n = min(FRAMES_PER_VIDEO, frames - v)
                pts = np.arange(n, dtype=np.int64)
                hashed = HashedVideo(
                    info,
                    pts,
                    pts / 30.0,
                    rng.integers(0, 256, (n, 8), np.uint8),
                    np.full(n, 30.0, np.float32),
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
                    _, ids = db.store.add_video(
                        conn, row, hashed.pts, hashed.times, hashed.codes, hashed.detail
                    )
                changes.added.append((ids, hashed.codes))
    return time.perf_counter() - started


def measure(frames: int) -> list[tuple[str, str, str]]:
    DATA.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=DATA))
    path = folder / "big.db"
    write_s = build(path, frames)
    size = sum(p.stat().st_size for p in folder.iterdir())
    sql_size = path.stat().st_size
    started = time.perf_counter()
    db = FrameDB.open(path)
    db.index()
    open_s = time.perf_counter() - started
    rng = np.random.default_rng(1)
    videos = db.videos()
    picks = [
        (videos[int(rng.integers(len(videos)))].id, int(rng.integers(FRAMES_PER_VIDEO)))
        for _ in range(200)
    ]
    queue = iter(picks * 2)
    where_ms = median_ms(lambda: db.where(*next(queue)), 200)
    vid, frame = picks[0]
    cli_s = min(
        run_process([BIN / "framedb", "--db", path, "where", str(vid), str(frame)])
        for _ in range(5)
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()
    return [
        (f"bulk write {frames:,} frames", f"{frames / write_s:,.0f} frames/s", ""),
        ("open database + load index", f"{open_s * 1000:.0f} ms", ""),
        ("`where` in-process (median of 200)", f"{where_ms:.2f} ms", ""),
        ("`framedb where` whole process", f"{cli_s * 1000:.0f} ms", ""),
        (
            "disk per frame (SQL + index)",
            f"{size / frames:.0f} B ({sql_size / frames:.0f} B SQL)",
            "",
        ),
        ("peak memory of this benchmark", f"{rss:,.0f} MiB", ""),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=1_000_000)
    args = parser.parse_args()
    for row in measure(args.frames):
        print(" | ".join(row))
