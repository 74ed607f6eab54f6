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


@pytest.mark.parametrize("bits", [64, 128])
def test_many_queries_at_once_find_what_one_at_a_time_finds(tmp_path: Path, bits: int) -> None:
    """`near_ids` (matching a new video against the collection) against one flat range search
    per query: over a saved index with its multi-index, codes added since (in growing runs that
    merge, and a few pending), and ids removed from both."""
    rng = np.random.default_rng(3)
    nbytes = bits // 8
    saved = rng.integers(0, 256, (30_000, nbytes), np.uint8)
    queries = rng.integers(0, 256, (300, nbytes), np.uint8)
    planted = np.concatenate([codes_at_distances(q, [0, 3, 8, 9]) for q in queries[:100]])
    index = FrameIndex(bits)
    index.add(np.arange(len(saved)), saved)
    index.save(tmp_path / "x.faiss", Manifest("db", 1, len(saved), bits))
    first = np.arange(100_000, 100_000 + len(planted))
    index.near_ids(queries, 8)  # the growing part exists before the adds: kept up to date
    index.add(first[:250], planted[:250])
    index.add(first[250:], planted[250:])
    index.add(np.arange(200_000, 202_500), rng.integers(0, 256, (2_500, nbytes), np.uint8))
    index.remove(np.concatenate([first[::7], np.arange(0, 30_000, 11)]))
    for radius in (0, 3, 8):
        expected = np.unique(
            np.concatenate([index.search_radius_flat(q, radius)[0] for q in queries])
        )
        found = index.near_ids(queries, radius)
        assert np.array_equal(found, expected), radius
        assert len(found) >= (25 if radius == 0 else 60)  # planted codes, not only chance


@pytest.mark.parametrize("added", [1, 700, 5_000])
def test_a_saved_multi_index_grows_by_merging_into_what_a_build_makes(
    tmp_path: Path, added: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ingest adds frames above every saved id: the save merges them into the loaded
    multi-index instead of sorting everything again, and must write the very arrays a build of
    all the codes writes (duplicate chunk values included); a removal since makes it build."""
    from framedb.store import mih

    rng = np.random.default_rng(added)
    base = rng.integers(0, 256, (20_000, 8), np.uint8)
    base[100:200] = base[0]  # equal codes: the merge must keep old before new in each bucket
    extra = rng.integers(0, 256, (added, 8), np.uint8)
    extra[: added // 2] = base[rng.integers(0, len(base), added // 2)]
    path = tmp_path / "x.faiss"
    index = FrameIndex(64)
    index.add(np.arange(1, len(base) + 1), base)
    index.save(path, Manifest("db", 1, len(base), 64))
    loaded = FrameIndex.load(path, "db", 1, 64)
    assert loaded is not None
    ids = np.arange(50_000, 50_000 + added)[::-1]  # added in any order, above the saved ids
    loaded.add(ids, extra[::-1])
    merged = loaded._mih.extended(ids, mih.as_words(extra[::-1]))  # type: ignore[union-attr]
    built = mih.MultiIndex.build(
        np.concatenate([np.arange(1, len(base) + 1), ids]),
        mih.as_words(np.concatenate([base, extra[::-1]])),
    )
    assert merged is not None and merged.plan == built.plan
    for name, array in built.arrays.items():
        assert np.array_equal(merged.arrays[name], array), name
    with monkeypatch.context() as patch:  # this save merges: it builds nothing
        patch.setattr(mih.MultiIndex, "build", None)
        loaded.save(path, Manifest("db", 2, len(base) + added, 64))
    again = FrameIndex.load(path, "db", 2, 64)
    assert again is not None
    for name, array in built.arrays.items():
        assert np.array_equal(again._mih.arrays[name], array), name  # type: ignore[union-attr]
    probe = extra[0] ^ np.array([1, 0, 0, 0, 0, 0, 0, 0], np.uint8)
    assert np.array_equal(again.search_radius(probe, 6)[0], again.search_radius_flat(probe, 6)[0])
    assert loaded._mih.extended(np.array([5]), mih.as_words(extra[:1])) is None  # type: ignore[union-attr]


@pytest.mark.parametrize("first", [4, 8])
def test_codes_added_since_a_save_answer_every_radius_whatever_their_layout(first: int) -> None:
    """The growing multi-index of the frames an ingest adds is laid out for the radius it is
    first asked about (ingest asks 4 bits: one probe per chunk); any radius then finds exactly
    what a flat range search finds."""
    from framedb.store import mih

    rng = np.random.default_rng(first)
    added = rng.integers(0, 256, (6_000, 8), np.uint8)
    queries = rng.integers(0, 256, (200, 8), np.uint8)
    planted = np.concatenate([codes_at_distances(q, [0, 2, 4, 5, 7]) for q in queries[:80]])
    index = FrameIndex(64)
    index.add(np.arange(len(added)), added)
    index.add(np.arange(10_000, 10_000 + len(planted)), planted)
    index.near_ids(queries, first)
    runs = index._grown.runs  # type: ignore[union-attr]
    assert runs and all(r.plan == mih.point_plan(len(r.ids), first) for r in runs)
    for radius in (0, 4, 6, 8):
        expected = np.unique(
            np.concatenate([index.search_radius_flat(q, radius)[0] for q in queries])
        )
        assert np.array_equal(index.near_ids(queries, radius), expected), radius
