"""The partitioned all-pairs join gives exactly `near_pairs`'s pairs, and `matches` the same groups
with it, on generated data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import framedb.match.seeds
from framedb import FrameDB
from framedb.match import partjoin
from framedb.match.join import near_pairs


def clustered_codes(n: int, nbytes: int, seed: int) -> np.ndarray:
    """Random codes, a third of them near copies (a few bits flipped) of others."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, (n, nbytes), dtype=np.uint8)
    copies = rng.integers(0, n, n // 3)
    for k, src in zip(range(n - n // 3, n), copies, strict=True):
        bits = np.unpackbits(codes[src])
        bits[rng.choice(len(bits), rng.integers(0, 10), replace=False)] ^= 1
        codes[k] = np.packbits(bits)
    return np.unique(codes, axis=0)


@pytest.mark.parametrize(
    ("n", "nbytes", "radius", "prefix_bits"),
    [(500, 8, 6, 3), (6000, 8, 8, 4), (6000, 8, 4, 6), (3000, 8, 1, 2), (2500, 72, 20, 4)],
)
def test_partitions_give_exactly_the_pairs(
    n: int, nbytes: int, radius: int, prefix_bits: int
) -> None:
    codes = clustered_codes(n, nbytes, seed=n + radius)
    want = near_pairs(codes, radius)
    parts = list(partjoin.partitions(codes, radius, prefix_bits))
    assert len(parts) > 1
    got = partjoin.near_pairs(codes, radius, prefix_bits)
    assert len(want[0]) > 0
    for a, b in zip(got, want, strict=True):
        assert np.array_equal(a, b)
    assert sum(len(p[0]) for p in parts) == len(want[0])  # each pair from one partition only


def test_matches_finds_the_same_groups(
    tmp_path: Path, media: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FrameDB.open(tmp_path / "m.db") as db:
        db.ingest([media], jobs=2)
        before = db.matches()
        monkeypatch.setattr(
            framedb.match.seeds,
            "near_pairs",
            lambda codes, radius: partjoin.near_pairs(codes, radius, 3),
        )
        assert before and db.matches() == before
