"""Ingest speed of one 720p H.264 file against a decode-only PyAV process, in the same run."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import BIN, THREADINGS, best_of, best_threading, decode_only, run_process, test_video


def measure(seconds: int = 60, repeats: int = 3) -> list[tuple[str, str, str]]:
    video = test_video(f"720p30-{seconds}s.mp4", size="1280x720", seconds=seconds)
    frames = seconds * 30

    def ingest() -> float:
        with tempfile.TemporaryDirectory() as tmp:
            return run_process([BIN / "framedb", "--db", Path(tmp) / "b.db", "ingest", video])

    *bases, ours = best_of(repeats, *(decode_only(video, t) for t in THREADINGS), ingest)
    base, note = best_threading(bases, frames)
    return [
        (
            f"decode only, 720p H.264 2 Mbit/s, {frames} frames",
            f"{frames / base:,.0f} frames/s",
            note,
        ),
        ("framedb ingest (whole process)", f"{frames / ours:,.0f} frames/s", f"{base / ours:.2f}"),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for row in measure(args.seconds, args.repeats):
        print(" | ".join(row))
