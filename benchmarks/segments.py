"""Shared footage found once, at ingest: on a 10 M-frame synthetic collection, `matches --json`
answered from the stored segments as a whole process (against the same question answered from
the frames, on a 300,000-frame slice, in the same run), the finder's time for one 100,000-frame
video against the rest, adding one 720p video against decode-only of the same file, and bytes
per stored frame with and without what this stores (segments and timelines).

The synthetic codes are random: two videos share nothing, so what ingest would store for them is
no segment. The build (queries.build, framedb's bulk path) records each video's segments as
found (none); one video's are found for real against the other 9.9 M frames and must be none."""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path

from common import BIN, DATA, THREADINGS, best_threading, decode_only, run_process, test_video
from long_loop import _run_peak
from queries import build

from framedb import FrameDB
from framedb.match.stored import track_of
from framedb.store import segments


def _mark_found(path: Path) -> float:
    """Record every video's segments as found by the current matcher; the finder's seconds for
    the last video against all the others (its segments: none, the codes being random)."""
    with FrameDB.open(path) as db:
        answers = db._answers()
        finder = answers.finder()
        last = db.videos()[-1]
        with db.store.writing() as conn:
            segments.mark(conn, [v.id for v in db.videos()], answers.key)
            track = track_of(db.store, conn, last.id, db.spec.nbytes)
            started = time.perf_counter()
            found = finder.store_for(conn, track)
            seconds = time.perf_counter() - started
        if found:
            raise SystemExit(f"random codes gave {found} segments: the finder is wrong")
        return seconds


def _sql_bytes(path: Path) -> tuple[int, int]:
    """(bytes of the SQLite file, bytes it takes without segments and timelines) after VACUUM."""
    with sqlite3.connect(path) as conn:
        conn.execute("VACUUM")
    whole = path.stat().st_size
    bare = path.with_name("bare.db")
    with sqlite3.connect(path) as conn:
        conn.execute("VACUUM INTO ?", (str(bare),))
    with sqlite3.connect(bare) as conn:
        conn.execute("DELETE FROM segments")
        conn.execute("DELETE FROM timelines")
        conn.commit()
        conn.execute("VACUUM")
    without = bare.stat().st_size
    bare.unlink()
    return whole, without


def measure(frames: int = 10_000_000, seconds: int = 180) -> list[tuple[str, str, str]]:
    video = test_video(f"720p30-{seconds}s.mp4", size="1280x720", seconds=seconds)
    DATA.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(dir=DATA) as tmp:
        small = Path(tmp) / "small.db"  # the baseline: the same question from the frames
        build(small, 300_000, seed=2)
        slice_s, _, _ = _run_peak([BIN / "framedb", "--db", small, "matches", "--json"])
        _mark_found(small)
        slice_stored_s, _, _ = _run_peak([BIN / "framedb", "--db", small, "matches", "--json"])
        path = Path(tmp) / "big.db"
        build(path, frames)
        finder_s = _mark_found(path)
        whole, bare = _sql_bytes(path)
        matches = []
        for _ in range(3):
            took, peak, out = _run_peak([BIN / "framedb", "--db", path, "matches", "--json"])
            matches.append((took, peak, len(json.loads(out)["groups"])))
        took, peak, groups = min(matches)
        bases = [decode_only(video, t)() for t in THREADINGS]
        base, note = best_threading(bases, seconds * 30)
        added = []
        for _ in range(2):
            added.append(run_process([BIN / "framedb", "--db", path, "ingest", video]))
            run_process([BIN / "framedb", "--db", path, "remove", video])
        ours = min(added)
    rows += [
        (
            f"`framedb matches --json` over {frames:,} frames, from stored segments",
            f"{took * 1000:.0f} ms, peak {peak:,.0f} MiB",
            f"{groups} groups (none to find); target < 1 s",
        ),
        (
            "`framedb matches --json` over 300,000 frames: from the frames / from stored segments",
            f"{slice_s:.1f} s / {slice_stored_s * 1000:.0f} ms",
            f"{slice_s / slice_stored_s:,.0f}x",
        ),
        (
            "finding one 100,000-frame video's segments against the other "
            f"{frames - 100_000:,} frames",
            f"{finder_s:.1f} s",
            f"{100_000 / finder_s:,.0f} frames/s",
        ),
        (
            f"decode only, the 720p video ({seconds * 30:,} frames)",
            f"{seconds * 30 / base:,.0f} frames/s",
            note,
        ),
        (
            f"adding it to the {frames:,}-frame collection (whole process, segments included)",
            f"{ours:.1f} s",
            f"{ours / base:.2f}x decode-only; target <= 1.3x",
        ),
        (
            "SQL per frame, with segments and timelines / without",
            f"{whole / frames:.1f} B / {bare / frames:.1f} B",
            f"+{(whole - bare) / bare:.0%}",
        ),
    ]
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=10_000_000)
    parser.add_argument("--seconds", type=int, default=180)
    args = parser.parse_args()
    started = time.perf_counter()
    for row in measure(args.frames, args.seconds):
        print(" | ".join(row))
    print(f"({time.perf_counter() - started:.0f} s)")
