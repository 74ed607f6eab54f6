"""An index of the current generation, for one open database: kept in memory, loaded from its
file, caught up with the videos added and removed since (framedb.store.catchup) or rebuilt from
SQL, and saved beside the database when that is worth it; and the update a writer makes to its
indexes once, after its transactions, from the ids it added and removed.

A database has two: of the frames' hashes ("hash", the file beside the database) and of their
inner hashes ("inner_hash", the same name with `.inner` before `.faiss`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from framedb.store import catchup
from framedb.store.index import FrameIndex, Manifest
from framedb.store.rows import Store


def inner_path(path: Path) -> Path:
    """The inner hashes' index file beside the hashes' one (`a.db.faiss` -> `a.db.inner.faiss`)."""
    return path.with_name(f"{path.stem}.inner{path.suffix or '.faiss'}")


class IndexCache:
    """The index of one database's (`store`) codes in `column`, whose file is `path`."""

    def __init__(
        self, store: Store, path: Path, database_id: str, bits: int, column: str = "hash"
    ) -> None:
        self.store = store
        self.path = path
        self.database_id = database_id
        self.bits = bits
        self.column = column
        self._index: FrameIndex | None = None
        self._generation = -1
        self._version: int | None = None  # the database's data_version when cached
        self._watch: catchup.CommitWatch | None = None

    def close(self) -> None:
        self._index = None
        if self._watch is not None:
            self._watch.close()

    def forget(self) -> None:
        """Drop the index held in memory: the next `index()` loads, catches up or rebuilds."""
        self._index = None

    def index(self) -> FrameIndex:
        """The index for the current generation: the one in memory or in its file, caught up
        with the videos added and removed since, or rebuilt from SQL."""
        index, worth_saving = self._current()
        if worth_saving:
            self.save(index)
        return index

    def _current(self) -> tuple[FrameIndex, bool]:
        """(index, whether it is worth saving: rebuilt from SQL, or caught up by many frames);
        caching it in memory."""
        rebuilt = False
        changed: int | None = 0
        if self._watch is None:
            self._watch = catchup.CommitWatch(self.store.engine)
        version = self._watch.version()  # before the generation: a commit between is seen next time
        if self._index is not None and version is not None and version == self._version:
            return self._index, False  # nothing committed since the index was current
        with self.store.reading() as conn:
            generation = self.store.generation(conn)
            if self._index is not None and self._generation == generation:
                self._version = version
                return self._index, False
            index = self._index
            self._index = None
            if index is None:
                index = FrameIndex.load_any(self.path, self.database_id, self.bits)
            stale = index is not None and (
                index.manifest is None or index.manifest.generation != generation
            )
            if index is not None and stale:
                changed = catchup.catch_up(index, self.store, conn, self.column)
                if changed is None:
                    index = None
            if index is None:
                index = catchup.rebuild(self.store, conn, self.database_id, self.bits, self.column)
                rebuilt = True
        self._index, self._generation = index, generation
        self._version = version
        return index, rebuilt or (changed or 0) > max(catchup.SAVE_AFTER, len(index) // 8)

    def save(self, index: FrameIndex) -> None:
        if index.manifest is None:
            return
        # In a read-only place the index still serves this process.
        with contextlib.suppress(OSError):
            index.save(self.path, index.manifest)


class IndexUpdate:
    """Collects the frame ids a writer adds (with their codes of each column) and removes, then
    brings each index up to date once."""

    def __init__(self, caches: Sequence[IndexCache]) -> None:
        self.caches = caches
        self.added: list[tuple[np.ndarray, dict[str, np.ndarray]]] = []
        self.removed: list[np.ndarray] = []

    def add(self, ids: np.ndarray, codes: np.ndarray, inner: np.ndarray | None) -> None:
        """Frames stored under `ids`, with their hashes and (if they have them) inner hashes."""
        self.added.append((ids, {"hash": codes} | ({} if inner is None else {"inner_hash": inner})))

    def __enter__(self) -> IndexUpdate:
        with self.caches[0].store.reading() as conn:
            self.start = self.caches[0].store.generation(conn)
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.added and not any(len(r) for r in self.removed):
            return
        # One thread per index: their saves are mostly numpy copies, checksums and file writes,
        # which let go of the GIL (the two of a 10 M-frame database: 9.2 s one after the other).
        with ThreadPoolExecutor(len(self.caches)) as pool:
            list(pool.map(self._update, self.caches))

    def _update(self, cache: IndexCache) -> None:
        with cache.store.reading() as conn:
            generation = cache.store.generation(conn)
            held = catchup.stored_videos(conn, cache.column)
        if generation == self.start:  # the changes were rolled back (every commit bumps it)
            return
        index = FrameIndex.load(cache.path, cache.database_id, self.start, cache.bits)
        if index is None and self.start == 0:  # a new database: nothing to read back
            index = FrameIndex(cache.bits)
        if index is not None:  # apply what this writer did, in memory, without reading it back
            for ids in self.removed:
                index.remove(ids)
            for ids, codes in self.added:
                if cache.column in codes:
                    index.add(ids, codes[cache.column])
            index.manifest = Manifest(cache.database_id, generation, len(index), cache.bits, held)
            if len(index) != sum(n for _, _, n, _ in held):
                index = None
        if index is None:  # the file is older (or gone): catch it up from SQL, or rebuild
            cache.forget()
            index, _ = cache._current()
        cache.save(index)
        cache._index, cache._generation = index, generation
