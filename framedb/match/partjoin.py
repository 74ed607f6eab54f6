"""The all-pairs join of `match.near_pairs`, in partitions of bounded size: the building block for
matching a collection whose codes do not fit in one machine's memory (docs/scaling.md).

Multi-index hashing splits the bits into m chunks; a pair within r bits is within f = r // m bits
in some chunk. Here each chunk's keys are further split by their top `prefix_bits` bits into
2**prefix_bits partitions. Partition P of chunk c holds the codes whose chunk-c key starts with P
("members") and is probed by every code whose key prefix is within f bits of P ("probers"): every
pair within f bits in chunk c meets in the partition of its later member. Each pair is emitted
once, by the first chunk in which it is close and by the partition of its larger index, so the
partitions need no shared state and their outputs simply add up: they can run one after another
in little memory, or as independent tasks on a cluster that read their members and probers from
storage by key prefix.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from framedb.hashing import hamming
from framedb.store import mih


def partitions(
    codes: np.ndarray, radius: int, prefix_bits: int = 4
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield (i, j, distance) with i < j for every pair of rows of `codes` within `radius` bits,
    one partition at a time; together exactly the pairs of `match.near_pairs(codes, radius)`.
    Peak memory is that of one partition: about n * V / 2**prefix_bits codes, where V is the
    number of prefixes within r // m bits (1 + p + p(p-1)/2 for two flips)."""
    codes = np.ascontiguousarray(codes)
    if codes.ndim != 2 or codes.dtype != np.uint8:
        raise ValueError(f"codes must be a uint8 array (n, bytes), got {codes.dtype} {codes.shape}")
    if radius < 0 or prefix_bits < 0:
        raise ValueError(f"radius {radius} and prefix_bits {prefix_bits} must be >= 0")
    n, nbytes = codes.shape
    if n < 2:
        return
    plan = mih.plan(n, nbytes * 8, radius, mih.MAX_PROBES)
    if plan is None:  # too many flips to probe: r + 1 chunks, one of which a close pair shares
        chunks = max(math.ceil(nbytes / 8), min(nbytes * 8, radius + 1))
        plan = (chunks, radius // chunks, 0.0)
    chunks, flips = plan[0], plan[1]
    bits = np.unpackbits(codes, axis=1)
    edges = np.linspace(0, nbytes * 8, chunks + 1).round().astype(int)
    keys = [mih.chunk_keys(bits[:, edges[c] : edges[c + 1]]) for c in range(chunks)]
    del bits
    for c in range(chunks):
        width = int(edges[c + 1] - edges[c])
        p = min(prefix_bits, width)
        prefix = (keys[c] >> np.uint64(width - p)).astype(np.int64)
        masks = mih.flip_masks(width, flips)
        for part in range(1 << p):
            members = np.flatnonzero(prefix == part)
            if not len(members):
                continue
            near = np.bitwise_count(np.bitwise_xor(prefix, part)) <= flips
            probers = np.flatnonzero(near)
            yield _partition_pairs(codes, keys, c, members, probers, masks, radius, flips)


def _partition_pairs(
    codes: np.ndarray,
    keys: list[np.ndarray],
    c: int,
    members: np.ndarray,
    probers: np.ndarray,
    masks: np.ndarray,
    radius: int,
    flips: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.argsort(keys[c][members], kind="stable")
    member_keys = keys[c][members][order]
    found_i, found_j = [], []
    rows = max(1, (1 << 20) // len(masks))
    for s in range(0, len(probers), rows):
        y = probers[s : s + rows]
        probe = (keys[c][y, None] ^ masks[None, :]).ravel()
        lo = np.searchsorted(member_keys, probe, "left")
        count = np.searchsorted(member_keys, probe, "right") - lo
        hit = np.flatnonzero(count)
        lo, count = lo[hit], count[hit]
        i = np.repeat(y[hit // len(masks)], count)
        j = members[order[mih.ragged(lo, count)]]
        keep = i < j  # the pair belongs to the partition of its larger index
        i, j = i[keep], j[keep]
        for earlier in range(c):  # ... and to the first chunk in which it is close
            keep = np.bitwise_count(keys[earlier][i] ^ keys[earlier][j]) > flips
            i, j = i[keep], j[keep]
        ok = hamming(codes[i], codes[j]) <= radius
        found_i.append(i[ok])
        found_j.append(j[ok])
    i, j = np.concatenate(found_i), np.concatenate(found_j)
    return i, j, hamming(codes[i], codes[j])


def near_pairs(
    codes: np.ndarray, radius: int, prefix_bits: int = 4
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`match.near_pairs` computed partition by partition (same result, sorted by (i, j))."""
    parts = list(partitions(codes, radius, prefix_bits))
    if not parts:
        empty = np.empty(0, np.int64)
        return empty, empty.copy(), np.empty(0, np.int32)
    i = np.concatenate([p[0] for p in parts]).astype(np.int64)
    j = np.concatenate([p[1] for p in parts]).astype(np.int64)
    d = np.concatenate([p[2] for p in parts]).astype(np.int32)
    order = np.lexsort((j, i))
    return i[order], j[order], d[order]
