"""The all-pairs join of codes: every pair of rows within a Hamming radius, by multi-index
hashing in numpy (framedb.store.mih), threads over blocks of rows."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from framedb.cores import available_cores
from framedb.hashing import hamming
from framedb.store import mih

# Up to this many codes the all-pairs join is a plain blockwise comparison (64-bit codes, one
# core: 1,000 codes 2.8 ms against 4.4 ms by multi-index; 2,000 codes 15.7 ms against 4.5 ms)
BRUTE_MAX = 1024
JOIN_THREADS = 4  # threads of the all-pairs join, at most (and at most the cores allowed)


def near_pairs(
    codes: np.ndarray, radius: int, anchored: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair i < j of rows of `codes` (packed bits) within `radius` bits; with `anchored`
    (a bool per row), only the pairs with an anchored row in them.

    Returns (i, j, distance), sorted by (i, j). Small inputs are compared blockwise; larger ones by
    multi-index hashing: split the bits into m chunks; a pair within r bits differs in at most
    r // m bits of some chunk (pigeonhole), so probing each chunk's exact key with up to r // m
    flipped bits finds every pair, which is then verified on the full code. Anchored, only the
    anchored rows probe (the matcher's views: of eight views of a track, only pairs with its
    hashes or inner hashes in them are ever linked, 30 % of all pairs).
    """
    codes = np.ascontiguousarray(codes)
    if codes.ndim != 2 or codes.dtype != np.uint8:
        raise ValueError(f"codes must be a uint8 array (n, bytes), got {codes.dtype} {codes.shape}")
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    n = codes.shape[0]
    if anchored is not None and len(anchored) != n:
        raise ValueError(f"anchored must have one flag per row: {len(anchored)} for {n}")
    probing = np.arange(n) if anchored is None else np.flatnonzero(anchored)
    if n < 2 or not len(probing):
        empty = np.empty(0, np.int64)
        return empty, empty.copy(), np.empty(0, np.int32)
    plan = mih.plan(n, codes.shape[1] * 8, radius, mih.MAX_PROBES)
    if n <= BRUTE_MAX or plan is None or plan[2] > n * n:
        return _brute_pairs(codes, radius, probing, anchored is None)
    return _mih_pairs(codes, radius, plan[0], plan[1], probing, anchored is None)


def _brute_pairs(
    codes: np.ndarray, radius: int, probing: np.ndarray, every: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows `probing` against every row (`every`: all rows probe, each against the later ones)."""
    n, nbytes = codes.shape
    rows = max(1, (1 << 22) // (n * nbytes))
    found_i, found_j, found_d = [], [], []
    words = codes.view(np.uint64) if nbytes % 8 == 0 else None
    for s in range(0, len(probing), rows):
        mine = probing[s : s + rows]
        later = mine[0] if every else 0  # all rows probe: each pair from its first row only
        if words is None:
            dist = hamming(codes[mine, None, :], codes[None, later:, :])
        else:  # one popcount per 64-bit word: ~7x faster than per byte
            xor = words[mine, None, :] ^ words[None, later:, :]
            dist = np.bitwise_count(xor).sum(axis=-1, dtype=np.int32)
        k, j = np.nonzero(dist <= radius)
        i, j, d = mine[k], j + later, dist[k, j]
        keep = j > i if every else j != i
        found_i.append(np.minimum(i, j)[keep])
        found_j.append(np.maximum(i, j)[keep])
        found_d.append(d[keep])
    i, j, d = (np.concatenate(f) for f in (found_i, found_j, found_d))
    if not every:  # a pair of two probing rows is found from both
        i, first = np.unique(i * n + j, return_index=True)
        i, j, d = i // n, i % n, d[first]
    return _sorted_pairs(i, j, d)


def _sorted_pairs(
    i: np.ndarray, j: np.ndarray, d: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.lexsort((j, i))
    return i[order].astype(np.int64), j[order].astype(np.int64), d[order].astype(np.int32)


def _mih_pairs(
    codes: np.ndarray, radius: int, chunks: int, flips: int, probing: np.ndarray, every: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n, nbytes = codes.shape
    bits = np.unpackbits(codes, axis=1)
    words = codes.view(np.uint64) if nbytes % 8 == 0 else None
    index = np.int32 if n < 1 << 31 else np.int64  # row numbers: half the bytes to move
    edges = np.linspace(0, nbytes * 8, chunks + 1).round().astype(int)
    found: list[np.ndarray] = []
    # numpy releases the GIL in the gathers, sorts and ufuncs that make up a block, so blocks of
    # rows run side by side on the cores this process may use.
    with ThreadPoolExecutor(max(1, min(JOIN_THREADS, available_cores()))) as pool:
        for c in range(chunks):
            width = int(edges[c + 1] - edges[c])
            # Signed keys and masks: table indexes as they are, one order for probes and keys.
            keys = mih.chunk_keys(bits[:, edges[c] : edges[c + 1]]).astype(np.intp)
            order = np.argsort(keys, kind="stable").astype(index)
            chunk = _Chunk(keys, order, mih.Buckets(keys[order], width), flips, width, index)
            rows = max(1, (1 << 20) // len(chunk.masks))
            blocks = [probing[s : s + rows] for s in range(0, len(probing), rows)]
            found += pool.map(lambda b, ch=chunk: ch.pairs(b, codes, words, radius, every), blocks)
    pairs = mih.distinct(np.concatenate(found)) if found else np.empty(0, np.int64)
    i, j = pairs // n, pairs % n
    return i, j, hamming(codes[i], codes[j])


class _Chunk:
    """One chunk of the multi-index join: every row's key, the rows in key order, their buckets,
    and the flip masks that probe them."""

    def __init__(
        self,
        keys: np.ndarray,
        order: np.ndarray,
        bucket: mih.Buckets,
        flips: int,
        width: int,
        index: type,
    ) -> None:
        self.keys, self.order, self.bucket, self.index = keys, order, bucket, index
        self.masks = mih.flip_masks(width, flips).astype(np.intp)
        self.flipped = self.masks != 0

    def pairs(
        self,
        rows: np.ndarray,
        codes: np.ndarray,
        words: np.ndarray | None,
        radius: int,
        every: bool,
    ) -> np.ndarray:
        """min * n + max of the pairs within `radius` found from `rows` (increasing); `every`:
        all rows probe, so each pair needs finding from one of its rows only."""
        n, m, index = len(self.keys), len(self.masks), self.index
        own = self.keys[rows, None]
        probe = own ^ self.masks[None, :]
        # When every row probes, a pair of rows whose keys differ is probed from the row with
        # the smaller key only (half the probes and candidates); rows with equal keys find each
        # other once.
        upward = np.flatnonzero(probe >= own) if every else np.arange(probe.size)
        lo, count = self.bucket.find(probe.ravel()[upward])
        hit = np.flatnonzero(count)  # most probes find an empty bucket
        lo, count = lo[hit].astype(index), count[hit].astype(index)
        at = upward[hit]  # row-major: row rows[at // m], mask at % m
        i: np.ndarray = np.repeat(rows[at // m].astype(index), count)
        j = self.order[mih.ragged(lo, count)]
        ok = _within(codes, words, i, j, radius)  # verify first (few pass), then sort out
        i, j = i[ok].astype(np.int64), j[ok].astype(np.int64)
        keep = np.repeat(self.flipped[at % m], count)[ok] | (j > i) | (not every) & (j != i)
        i, j = i[keep], j[keep]
        return mih.distinct(np.minimum(i, j) * n + np.maximum(i, j))


def _within(
    codes: np.ndarray, words: np.ndarray | None, i: np.ndarray, j: np.ndarray, radius: int
) -> np.ndarray:
    """Whether rows i and j of `codes` are within `radius` bits: one popcount per 64-bit word
    when the codes are whole words (the same distances as `hamming`, several times faster)."""
    if words is None:
        return hamming(codes[i], codes[j]) <= radius
    if words.shape[1] == 1:
        flat = words.ravel()
        return np.bitwise_count(flat[i] ^ flat[j]) <= radius
    return np.bitwise_count(words[i] ^ words[j]).sum(axis=1, dtype=np.int32) <= radius
