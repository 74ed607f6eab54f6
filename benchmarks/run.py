"""`make bench`: every benchmark with its baseline from the same run, as one Markdown table.

Inputs are generated on first use and kept in bench-data/ (FRAMEDB_BENCH_DATA to move it):
a 3-minute and a 20-minute 720p30 H.264 file, 96 light 160x90 clips and 24 busy 320x180 clips,
a 24-hour 160x90 loop video made by remuxing (about 1 GB), 10 M-frame synthetic collections
(written and deleted each run), and the transformed copies of benchmarks/transforms.py (real
footage fetched from the package registries, matched by framedb, vPDQ and FFmpeg's signature
filter, which `make bench-tools` installs). A full run took 2 h 18 min on 2 cores on 2026-12-03,
when `matches` over 10 M frames was answered from the frames (90 minutes of it), and writes the
tables to benchmarks/RESULTS.md; `--quick` runs small cases (a smoke test of a few minutes) and
only prints.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest_speed  # noqa: E402
import long_loop  # noqa: E402
import many_videos  # noqa: E402
import queries  # noqa: E402
import segments  # noqa: E402
import transforms  # noqa: E402
from common import machine, table  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small inputs: a smoke test")
    parser.add_argument(
        "--only",
        choices=["ingest", "jobs", "long", "queries", "segments", "transforms"],
        action="append",
        help="run only these cases (repeatable)",
    )
    args = parser.parse_args()
    quick = args.quick
    cases = args.only or ["ingest", "jobs", "long", "queries", "segments", "transforms"]
    started = time.perf_counter()
    rows: list[tuple[str, str, str]] = []
    took: list[str] = []

    def case(name: str, rows_of: object) -> None:
        t = time.perf_counter()
        rows.extend(rows_of())  # type: ignore[operator]
        took.append(f"{name} {time.perf_counter() - t:.0f} s")
        print(f"[{name} done in {time.perf_counter() - t:.0f} s]", file=sys.stderr, flush=True)

    if "ingest" in cases:
        case(
            "ingest",
            lambda: ingest_speed.measure(seconds=20 if quick else 180, repeats=2 if quick else 3),
        )
    if "jobs" in cases:
        case(
            "jobs",
            lambda: many_videos.measure(
                count=8 if quick else 24, seconds=10 if quick else 20, repeats=2 if quick else 3
            ),
        )
    if "long" in cases:
        case("long", lambda: long_loop.measure(hours=0.5 if quick else 24.0))
    if "queries" in cases:
        case("queries", lambda: queries.measure(frames=300_000 if quick else 10_000_000))
    if "segments" in cases:
        case(
            "segments",
            lambda: segments.measure(
                frames=300_000 if quick else 10_000_000, seconds=20 if quick else 1200
            ),
        )
    accuracy = io.StringIO()  # its own table: one row per transformation, three tools

    def transformed() -> list[tuple[str, str, str]]:
        with contextlib.redirect_stdout(accuracy):
            transforms.main(["--quick"] if quick else ["--by-source"])
        return []

    if "transforms" in cases:
        case("transforms", transformed)
    head = f"framedb benchmarks on {machine()}, {time.strftime('%Y-%m-%d')}"
    text = f"{head}\n\n{table(rows)}\n\n(took {time.perf_counter() - started:.0f} s: "
    text += ", ".join(took) + ")\n"
    if accuracy.getvalue():
        text += f"\n## Transformed copies\n\n{accuracy.getvalue()}"
    print(text)
    if not quick and not args.only:
        RESULTS.write_text(_results(text))


def _results(text: str) -> str:
    """RESULTS.md: the table of this run, then the profiles (PROFILES.md, written by hand from
    py-spy runs: they explain the figures and change only when the code does)."""
    command = "make bench  # = .venv/bin/python benchmarks/run.py [--quick] [--only CASE]"
    profiles = RESULTS.with_name("PROFILES.md")
    notes = profiles.read_text() if profiles.exists() else ""
    return (
        "# Benchmark results\n\n"
        "The latest full run of `make bench`; ratios compare against a baseline measured in the\n"
        "same run (alternating, best of N where repeated). Re-run with:\n\n"
        f"```\n{command}\n```\n\n{text}\n{notes}"
    )


if __name__ == "__main__":
    main()
