"""The FAISS index wrapper: inclusive radius, removal, and files that are never trusted blindly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from framedb.errors import BadArgumentError
from framedb.store.index import FrameIndex, Manifest


def codes_at_distances(base: np.ndarray, distances: list[int]) -> np.ndarray:
    """Copies of `base` with the first d bits flipped, one per distance."""
    out = np.repeat(base[None], len(distances), axis=0)
    bits = np.unpackbits(out, axis=1)
    for row, d in enumerate(distances):
        bits[row, :d] ^= 1
    return np.packbits(bits, axis=1)


def test_radius_is_inclusive_and_ids_are_frame_ids() -> None:
    base = np.frombuffer(bytes.fromhex("0123456789abcdef"), np.uint8)
    index = FrameIndex(64)
    index.add(np.array([100, 101, 102, 103]), codes_at_distances(base, [0, 5, 6, 7]))
    ids, dist = index.search_radius(base, 6)
    assert sorted(zip(ids.tolist(), dist.tolist(), strict=True)) == [(100, 0), (101, 5), (102, 6)]
    assert index.remove(np.array([101, 999])) == 1
    assert sorted(index.search_radius(base, 64)[0].tolist()) == [100, 102, 103]


def test_save_and_load_check_the_manifest(tmp_path: Path) -> None:
    index = FrameIndex(64)
    index.add(np.arange(1, 11), np.random.default_rng(0).integers(0, 256, (10, 8), np.uint8))
    path = tmp_path / "x.faiss"
    index.save(path, Manifest("db1", 7, 10, 64))
    assert sorted(FrameIndex.load(path, "db1", 7, 64).ids().tolist()) == list(range(1, 11))
    assert FrameIndex.load(path, "db1", 8, 64) is None  # stale generation
    assert FrameIndex.load(path, "db2", 7, 64) is None  # another database
    assert FrameIndex.load(path, "db1", 7, 128) is None  # another width
    path.write_bytes(path.read_bytes()[:-3])  # torn
    assert FrameIndex.load(path, "db1", 7, 64) is None
    assert FrameIndex.load(tmp_path / "missing.faiss", "db1", 7, 64) is None
    assert [p.name for p in tmp_path.iterdir()] == ["x.faiss"]  # no temporary files left
    with pytest.raises(BadArgumentError):
        index.save(path, Manifest("db1", 7, 11, 64))
