"""`make bench`: every benchmark with its baseline from the same run, as one Markdown table.

Inputs are generated on first use and kept in bench-data/ (FRAMEDB_BENCH_DATA to move it).
`--quick` runs smaller cases (for a smoke test); the README's table comes from a full run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest_speed  # noqa: E402
import queries  # noqa: E402
from common import machine, table  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small inputs: a smoke test")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = []
    rows += ingest_speed.measure(seconds=20 if args.quick else 180, repeats=2 if args.quick else 3)
    rows += queries.measure(frames=200_000 if args.quick else 1_000_000)
    print(f"framedb benchmarks on {machine()}, {time.strftime('%Y-%m-%d')}")
    print(table(rows))
    print(f"(took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
