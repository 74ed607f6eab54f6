"""How many videos an ingest decodes at once, and how many cores each of them gets."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from framedb.cores import available_cores

if TYPE_CHECKING:
    from framedb.ingest.files import Input


# A file this small decodes in well under a second: a short clip, which a worker may be sent
# ahead of time (WorkerPool's `short`); a bigger one may be a long video.
SHORT_FILE = 2 << 20


def job_threads(jobs: int, size: int = 0) -> int:
    """The cores a file of `size` bytes may use while `jobs` files are decoded at once: 0 (all of
    them) for one job, and for a file that is not short. A job's share is fixed when it starts,
    and a long video given one core would go on alone on it once the other jobs end, the other
    cores idle; given all, it is decoded as two halves (framedb.ingest.split), which share the cores
    with the other jobs while they run and take them over when they end."""
    if jobs == 1 or size >= SHORT_FILE:
        return 0
    return max(1, available_cores() // jobs)


def first_inputs(
    paths: Sequence[str | os.PathLike[str]], jobs: int | None
) -> tuple[list[Input], int]:
    """The jobs an ingest of `paths` runs, and the first video each decodes (a folder's walk
    only begins). `jobs`, or by default one per usable core but no more than there are videos:
    a lone video keeps the cores busy by itself (its two halves are decoded at once), which it
    cannot beside another job. Paths that cannot be listed give no inputs: the ingest says why."""
    from framedb.errors import FrameDBError
    from framedb.ingest import files

    found = (i for i in files.expand(list(paths)) if not i.problem and not i.skip)
    try:
        inputs = list(itertools.islice(found, jobs or available_cores()))
    except (FrameDBError, OSError, ValueError):
        inputs = []
    return inputs, jobs or max(1, len(inputs))
