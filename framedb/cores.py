"""How many cores this process may use, and how many each of `jobs` decoders gets."""

from __future__ import annotations

import os


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, where the system has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# A file this small decodes in well under a second: a short clip, which a worker may be sent
# ahead of time (WorkerPool's `short`); a bigger one may be a long video.
SHORT_FILE = 2 << 20


def job_threads(jobs: int, size: int = 0) -> int:
    """The cores a file of `size` bytes may use while `jobs` files are decoded at once: 0 (all of
    them) for one job, and for a file that is not short. A job's share is fixed when it starts,
    and a long video given one core would go on alone on it once the other jobs end, the other
    cores idle; given all, it is decoded as two halves (framedb.split), which share the cores
    with the other jobs while they run and take them over when they end."""
    if jobs == 1 or size >= SHORT_FILE:
        return 0
    return max(1, available_cores() // jobs)
