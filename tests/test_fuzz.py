"""A bounded fuzzing run of "open and decode" (tests/fuzz_decode.py) as part of the test suite;
`make fuzz` runs the same harness for longer, keeping its corpus."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris", reason="atheris (a dev dependency) is not installed")

ROOT = Path(__file__).resolve().parent.parent
SECONDS = 20


def test_fuzz_open_and_decode(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "fuzz_decode.py"),
            f"-max_total_time={SECONDS}",
            "-seed=1",
            "-timeout=20",
            "-rss_limit_mb=3072",
            "-print_final_stats=1",
            f"-artifact_prefix={tmp_path}/",
            str(corpus),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SECONDS + 120,
    )
    tail = "\n".join(done.stderr.splitlines()[-40:])
    assert done.returncode == 0, tail
    runs = int(re.search(r"stat::number_of_executed_units: (\d+)", done.stderr).group(1))  # type: ignore[union-attr]
    seeds = len(list(corpus.glob("seed-*")))
    print(f"fuzz: {runs} inputs in {SECONDS} s from {seeds} seed videos")
    assert seeds >= 8 and runs > seeds
