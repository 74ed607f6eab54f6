"""How many cores this process may use, and how many each of `jobs` decoders gets."""

from __future__ import annotations

import os


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, where the system has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def job_threads(jobs: int) -> int:
    """The cores each of `jobs` files decoded at once may use: 0 (all of them) for one job."""
    return 0 if jobs == 1 else max(1, available_cores() // jobs)
