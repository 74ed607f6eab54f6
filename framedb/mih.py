"""Multi-index hashing primitives shared by the point index (framedb.index) and the all-pairs
joins (framedb.match, framedb.partjoin): codes cut into chunks, each chunk a table key, and
near keys found by flipping up to a few bits of a key (Norouzi et al., multi-index hashing)."""

from __future__ import annotations

import itertools
import math

import numpy as np


def plan(n: int, nbits: int, radius: int, max_probes: int) -> tuple[int, int, float] | None:
    """(chunks, flips, estimated cost) for joining `n` codes of `nbits` within `radius`, the
    plan with the fewest probes x expected bucket size; None if every plan probes too much."""
    best: tuple[int, int, float] | None = None
    low = max(1, math.ceil(nbits / 64))
    for m in range(low, max(low, radius + 1) + 1):
        width_min, width_max = nbits // m, math.ceil(nbits / m)
        flips = radius // m
        probes = sum(math.comb(width_max, k) for k in range(flips + 1))
        if probes > max_probes:
            continue
        cost = m * n * probes * (1.0 + n / 2.0**width_min)
        if best is None or cost < best[2]:
            best = (m, flips, cost)
    return best


def chunk_keys(bits: np.ndarray) -> np.ndarray:
    """(n, width) unpacked bits -> n integer keys (bit k of the chunk is bit k of the key)."""
    keys = np.zeros(bits.shape[0], np.uint64)
    for k in range(bits.shape[1]):
        keys |= bits[:, k].astype(np.uint64) << np.uint64(k)
    return keys


def flip_masks(width: int, flips: int) -> np.ndarray:
    """Every mask of up to `flips` set bits among `width`: XORed with a key, its near keys."""
    masks = [0]
    for k in range(1, flips + 1):
        masks += [sum(1 << b for b in combo) for combo in itertools.combinations(range(width), k)]
    return np.array(masks, np.uint64)


def ragged(start: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Concatenated ranges start[k] .. start[k] + count[k] - 1, without a Python loop."""
    total = int(count.sum())
    if not total:
        return np.empty(0, np.int64)
    first = np.cumsum(count) - count
    return np.repeat(start - first, count) + np.arange(total, dtype=start.dtype)
