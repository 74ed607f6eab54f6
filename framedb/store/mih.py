"""Multi-index hashing, the one home of it (Norouzi et al.): codes cut into chunks, each chunk a
table key, near keys found by flipping up to a few bits of a key. The primitives and the bucket
tables serve the all-pairs joins (framedb.match.join, framedb.match.partjoin); `MultiIndex` is the
point index's memory-mapped form (framedb.store.index)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

MAX_PROBES = 4096  # flipped-bit probes per chunk beyond which a plan or a query probes too much
DIRECT_BITS = 22  # chunks up to this wide are looked up in a table (2**22 entries, 32 MB)
# Beyond this share of all codes as candidates, a flat scan is as cheap as the multi-index.
FLAT_SHARE = 0.25
# The multi-index's direct-address tables may take at most this many bytes per code (plus 64 KB).
TABLE_BYTES_PER_CODE = 4


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


class Buckets:
    """Where each key's run begins in sorted keys, and how long it is: a direct-address table
    for keys of up to DIRECT_BITS bits (one gather per probe), binary search beyond."""

    def __init__(self, sorted_keys: np.ndarray, width: int) -> None:
        self.sorted_keys = sorted_keys
        self.start: np.ndarray | None = None
        if width <= DIRECT_BITS:
            # One table of run starts (a key's run ends where the next key's begins): a probe
            # reads two neighbouring entries, one cache line, instead of two tables.
            count = np.bincount(sorted_keys.astype(np.intp), minlength=1 << width)
            kind = np.int32 if len(sorted_keys) < 1 << 31 else np.int64
            self.start = np.zeros((1 << width) + 1, kind)
            np.cumsum(count, out=self.start[1:])

    def find(self, probe: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(first position, number) of the sorted keys equal to each probe."""
        if self.start is not None:
            probe = probe.astype(np.intp, copy=False)
            lo = self.start[probe]
            return lo.astype(np.int64), (self.start[probe + 1] - lo).astype(np.int64)
        lo = np.searchsorted(self.sorted_keys, probe, "left")
        return lo, np.searchsorted(self.sorted_keys, probe, "right") - lo


def distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an integer array (a plain sort: faster here than np.unique)."""
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


# -- the point multi-index of FrameIndex -------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    widths: tuple[int, ...]

    @property
    def shifts(self) -> tuple[int, ...]:
        return tuple(int(s) for s in np.cumsum((0, *self.widths))[:-1])


def point_plan(n: int, radius: int = 6) -> Plan:
    """Chunk widths (summing to 64) for n codes: the fewest expected candidates and probes at
    the default radius, with tables of at most TABLE_BYTES_PER_CODE bytes per code."""
    best: tuple[float, Plan] | None = None
    for m in range(2, 9):
        wide = math.ceil(64 / m)
        narrow = 64 // m
        if wide > 24 or (1 << wide) * 4 > TABLE_BYTES_PER_CODE * n + (1 << 16):
            continue
        probes = sum(math.comb(wide, k) for k in range(radius // m + 1))
        cost = m * probes * (1.0 + n / 2.0**narrow)
        extra = 64 - narrow * m
        plan = Plan(tuple([wide] * extra + [narrow] * (m - extra)))
        if best is None or cost < best[0]:
            best = (cost, plan)
    return best[1] if best else Plan((8,) * 8)


def stable_order(keys: np.ndarray, width: int) -> np.ndarray:
    """Positions that sort `keys` (< 2**width) stably: 16-bit radix passes, which numpy sorts
    several times faster than wider keys."""
    if width <= 16:
        return np.argsort(keys.astype(np.uint16), kind="stable")
    low = (keys & 0xFFFF).astype(np.uint16)
    order = np.argsort(low, kind="stable")
    high = (keys[order] >> 16).astype(np.uint16)
    return order[np.argsort(high, kind="stable")]


def popcount(x: np.ndarray) -> np.ndarray:
    return np.bitwise_count(x).astype(np.int32)


def within(x: np.ndarray, radius: int) -> np.ndarray:
    """popcount(x) <= radius, on the popcounts' own bytes (no widening pass over them)."""
    return np.bitwise_count(x) <= radius


def as_words(codes: np.ndarray) -> np.ndarray:
    """(n, 8) uint8 packed codes (most significant bit first) -> n uint64 words."""
    return np.ascontiguousarray(codes, dtype=np.uint8).view(">u8").ravel().astype(np.uint64)


def as_codes(words: np.ndarray) -> np.ndarray:
    """The inverse of `as_words`."""
    return np.asarray(words, dtype=np.uint64).astype(">u8").view(np.uint8).reshape(-1, 8)


class MultiIndex:
    """Arrays of one snapshot: ids (ascending) and codes as words; per chunk, the positions sorted
    by that chunk (`pos`) and the codes in that order (`sorted`), each chunk's after the one
    before, and `start`: per chunk, a table of where each chunk value's run begins (indexes into
    `pos` and `sorted`), the tables one after the other. One query is a handful of numpy calls."""

    def __init__(self, arrays: dict[str, np.ndarray], widths: tuple[int, ...]) -> None:
        self.arrays = arrays
        self.plan = Plan(widths)
        self.ids = arrays["ids"]
        self.words = arrays["words"]
        self.start = arrays["start"]
        self.pos = arrays["pos"]
        self.sorted = arrays["sorted"]
        sizes = [(1 << w) + 1 for w in widths]
        self._tables = np.cumsum([0, *sizes[:-1]]).astype(np.int64)
        self._probes: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    @classmethod
    def build(cls, ids: np.ndarray, words: np.ndarray, radius: int = 6) -> MultiIndex:
        """The multi-index of these codes, its chunks chosen for queries of `radius` bits (any
        radius finds the same codes; another only costs more probes or candidates)."""
        order = np.argsort(ids, kind="stable")
        ids, words = ids[order], words[order]
        n = len(ids)
        plan = point_plan(n, radius)
        kind = np.uint32 if n * len(plan.widths) < 1 << 32 else np.int64
        starts, positions, ordered = [], [], []
        for c, (width, shift) in enumerate(zip(plan.widths, plan.shifts, strict=True)):
            keys = (words >> np.uint64(shift)) & np.uint64((1 << width) - 1)
            pos = stable_order(keys, width)
            counts = np.bincount(keys.astype(np.intp), minlength=1 << width)
            start = np.full((1 << width) + 1, c * n, np.int64)
            np.cumsum(counts, out=start[1:])
            start[1:] += c * n
            starts.append(start.astype(kind))
            positions.append(pos.astype(kind))
            ordered.append(words[pos])
        arrays = {
            "ids": ids,
            "words": words,
            "start": np.concatenate(starts),
            "pos": np.concatenate(positions) if positions else np.empty(0, kind),
            "sorted": np.concatenate(ordered) if ordered else np.empty(0, np.uint64),
        }
        return cls(arrays, plan.widths)

    def extended(self, ids: np.ndarray, words: np.ndarray) -> MultiIndex | None:
        """This index with `words` added under `ids`, all above its own ids: each chunk's new
        codes sorted alone and merged into its sorted arrays (one pass over them instead of
        sorting everything again; the arrays `build` makes of all the codes). None when the
        new size calls for other chunks (then build)."""
        order = np.argsort(ids, kind="stable")
        ids, words = np.asarray(ids, np.int64)[order], np.asarray(words, np.uint64)[order]
        old = len(self.ids)
        if old and len(ids) and ids[0] <= self.ids[-1]:
            return None
        n = old + len(ids)
        widths = point_plan(n).widths
        kind = np.uint32 if n * len(widths) < 1 << 32 else np.int64
        if widths != self.plan.widths or self.pos.dtype != kind:
            return None
        starts, positions, ordered = [], [], []
        for c, (width, shift) in enumerate(zip(widths, self.plan.shifts, strict=True)):
            table = self._tables[c]
            before = self.start[table : table + (1 << width) + 1].astype(np.int64) - c * old
            keys = (words >> np.uint64(shift)) & np.uint64((1 << width) - 1)
            added = stable_order(keys, width)
            # after the old codes of the same chunk value: a stable sort of all, old ones first
            at = before[keys[added].astype(np.intp) + 1]
            counts = np.bincount(keys.astype(np.intp), minlength=1 << width)
            start = before + c * n
            start[1:] += np.cumsum(counts)
            starts.append(start.astype(kind))
            own = slice(c * old, (c + 1) * old)
            positions.append(np.insert(self.pos[own], at, (old + added).astype(kind)))
            ordered.append(np.insert(self.sorted[own], at, words[added]))
        arrays = {
            "ids": np.concatenate([self.ids, ids]),
            "words": np.concatenate([self.words, words]),
            "start": np.concatenate(starts),
            "pos": np.concatenate(positions),
            "sorted": np.concatenate(ordered),
        }
        return MultiIndex(arrays, widths)

    def __len__(self) -> int:
        return len(self.ids)

    def _probe_plan(self, flips: int) -> tuple[np.ndarray, np.ndarray]:
        """Per probe: its chunk, and the bits it flips in that chunk's key."""
        if flips not in self._probes:
            chunk, masks = [], []
            for c, width in enumerate(self.plan.widths):
                flip = flip_masks(width, flips)
                chunk.append(np.full(len(flip), c, np.int64))
                masks.append(flip.astype(np.int64))
            self._probes[flips] = (np.concatenate(chunk), np.concatenate(masks))
        return self._probes[flips]

    def search_many(
        self, words: np.ndarray, radius: int, block: int = 256
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """(query rows, positions) of every code within `radius` of each of `words`, the
        queries vectorised `block` at a time; None when the probes would be too many."""
        m = len(self.plan.widths)
        flips = radius // m
        if sum(math.comb(max(self.plan.widths), k) for k in range(flips + 1)) > MAX_PROBES:
            return None
        chunk, masks = self._probe_plan(flips)
        keys = np.stack(
            [
                ((words >> np.uint64(shift)) & np.uint64((1 << w) - 1)).astype(np.int64)
                for w, shift in zip(self.plan.widths, self.plan.shifts, strict=True)
            ],
            axis=1,
        )
        rows, found = [], []
        for s in range(0, len(words), block):
            at_table = self._tables[chunk][None, :] + (keys[s : s + block][:, chunk] ^ masks)
            lo = self.start[at_table].astype(np.int64)
            count = self.start[at_table + 1].astype(np.int64) - lo
            at = ragged(lo.ravel(), count.ravel())
            row = np.repeat(np.arange(s, s + len(lo)), count.sum(axis=1))
            near = within(self.sorted[at] ^ words[row], radius)
            rows.append(row[near])
            found.append(self.pos[at[near]].astype(np.int64))
        if not rows:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.concatenate(rows), np.concatenate(found)

    def search(self, word: int, radius: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(positions, distances) of codes within `radius`, or None when a flat scan is cheaper."""
        m = len(self.plan.widths)
        flips = radius // m
        n = len(self.ids)
        probes = sum(math.comb(max(self.plan.widths), k) for k in range(flips + 1))
        if probes > MAX_PROBES or (flips and m * probes > FLAT_SHARE * n):
            return None
        chunk, masks = self._probe_plan(flips)
        keys = np.array(
            [
                (word >> shift) & ((1 << w) - 1)
                for w, shift in zip(self.plan.widths, self.plan.shifts, strict=True)
            ],
            np.int64,
        )
        at_table = self._tables[chunk] + (keys[chunk] ^ masks)
        lo = self.start[at_table].astype(np.int64)
        count = self.start[at_table + 1].astype(np.int64) - lo
        if n > 4096 and int(count.sum()) > FLAT_SHARE * n:
            return None
        at = ragged(lo, count)
        dist = popcount(self.sorted[at] ^ np.uint64(word))
        near = dist <= radius
        pos = self.pos[at[near]].astype(np.int64)
        pos, first = np.unique(pos, return_index=True)  # a code near in several chunks
        return pos, dist[near][first]


class Growing:
    """Codes added a few at a time and searched many at once (the frames an ingest has stored
    since its index was saved): multi-indexes that merge as they grow, each at least twice the
    size of the next, so that adding n codes costs O(n log n) in all, and the last few codes
    (under PENDING) scanned directly."""

    PENDING = 1024

    def __init__(self, radius: int = 6) -> None:
        # Chunks for the radius it is asked about: ingest's candidates look 4 bits around, which
        # five 13-bit chunks answer with one probe each (2,400 codes against 100,000: 2.8 ms;
        # 9.2 ms with the four 16-bit chunks chosen for 6 bits).
        self.radius = radius
        self.runs: list[MultiIndex] = []
        self.pending: list[tuple[np.ndarray, np.ndarray]] = []

    def add(self, ids: np.ndarray, words: np.ndarray) -> None:
        self.pending.append((np.asarray(ids, np.int64), np.asarray(words, np.uint64)))
        if sum(len(i) for i, _ in self.pending) < self.PENDING:
            return
        ids, words = (np.concatenate(a) for a in zip(*self.pending, strict=True))
        self.pending = []
        while self.runs and 2 * len(ids) > len(self.runs[-1]):
            run = self.runs.pop()
            ids, words = np.concatenate([run.ids, ids]), np.concatenate([run.words, words])
        self.runs.append(MultiIndex.build(ids, words, self.radius))

    def near(self, words: np.ndarray, radius: int) -> np.ndarray:
        """Ids of the codes within `radius` of any of `words`."""
        found = []
        for run in self.runs:
            hit = run.search_many(words, radius)
            found.append(
                run.ids[hit[1]] if hit is not None else scan(run.ids, run.words, words, radius)
            )
        for ids, held in self.pending:
            found.append(scan(ids, held, words, radius))
        return np.unique(np.concatenate(found)) if found else np.empty(0, np.int64)


def scan(ids: np.ndarray, held: np.ndarray, words: np.ndarray, radius: int) -> np.ndarray:
    """Ids of the `held` codes within `radius` of any of `words`, by brute force in blocks."""
    near = np.zeros(len(held), bool)
    step = max(1, (1 << 22) // max(1, len(held)))
    for s in range(0, len(words), step):
        near |= within(held[None, :] ^ words[s : s + step, None], radius).any(axis=0)
    return ids[near]
