"""The frame index over hashes, keyed by `frames.id`, and its file beside the database.

SQL is the source of truth. The index file is the FAISS index of record
(`IndexBinaryIDMap(IndexBinaryFlat)`) plus, for 64-bit codes, a multi-index over the same codes:
the codes split into m chunks, and per chunk the codes sorted by that chunk with a direct-address
table of where each chunk value begins. A code within r bits of a query agrees with it to within
r // m bits in at least one chunk (pigeonhole), so probing each chunk's buckets with up to r // m
bits flipped finds every code within r, which is then verified on the whole code: exactly the hits
of a flat range search, at a few hundred candidates instead of every code.

The arrays sit uncompressed at aligned offsets in the file and are memory-mapped on load
(`np.memmap`, read-only), so opening a 10 M-frame index reads only its header and a query touches a
few pages; FAISS itself is built only when something needs it (a radius the multi-index cannot
serve, or `faiss_index()`). Changes are kept beside the mapped arrays (new codes, removed ids) and
folded in on the next save.

The header holds a manifest (database id, generation, count, bits, what each video contributed,
checksums); `load` returns None for any file that does not match what the database expects.
Files are written to a temporary name, fsynced and renamed, so a reader sees the old index or the
new one, never half of one.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from framedb.errors import BadArgumentError
from framedb.store import atomic, mih

MAGIC = b"FRAMEDB-INDEX-2\n"
_HEADER = struct.Struct("<16sQ")
_ALIGN = 64

_faiss: Any = None


def _faiss_module() -> Any:
    """FAISS, imported on first use (a `where` from the command line never needs it), with one
    OpenMP thread: one query at a time gains nothing from more, and on a shared machine they spin
    against each other (a range search at 1 M codes took 18 ms with 2 threads, 0.9 ms with 1)."""
    global _faiss
    if _faiss is None:
        import faiss

        faiss.omp_set_num_threads(1)
        _faiss = faiss
    return _faiss


@dataclass(frozen=True)
class Manifest:
    """What an index file claims to be: it is used only if every field matches the database.

    `videos` lists what each video contributed, (video id, first frame id, frames, fingerprint),
    so that a stale index can be brought up to date by the videos added and removed since.
    """

    database_id: str
    generation: int
    count: int
    bits: int
    videos: tuple[tuple[int, int, int, str], ...] | None = field(default=None, compare=False)


# -- the index -------------------------------------------------------------------------------------
class FrameIndex:
    """Exact Hamming search over packed codes keyed by frame id.

    The codes of the last save (memory-mapped) serve queries through the multi-index; codes added
    since are scanned directly and ids removed since are masked out, so a stale index can be
    brought up to date cheaply. `faiss_index()` gives the FAISS index of the same contents.
    """

    def __init__(self, bits: int, index: Any | None = None) -> None:
        if bits <= 0 or bits % 8:
            raise BadArgumentError(f"index width must be a positive multiple of 8 bits, not {bits}")
        self.bits = bits
        self._base_ids = np.empty(0, np.int64)  # ascending
        self._base_codes = np.empty((0, bits // 8), np.uint8)
        self._mih: mih.MultiIndex | None = None
        self._dead: np.ndarray | None = None  # per base position: removed since the save
        self._dead_count = 0
        self._new_ids: list[np.ndarray] = []
        self._new_codes: list[np.ndarray] = []
        self._flat: Any | None = None  # FAISS index of the current contents, built on demand
        self._grown: mih.Growing | None = None  # the codes added since the save (`near_ids`)
        self._body: tuple[Path, int, int, int] | None = None  # the saved FAISS body: where, crc
        self.manifest: Manifest | None = None
        if index is not None:
            faiss = _faiss_module()
            index = faiss.downcast_IndexBinary(index)
            ids = faiss.vector_to_array(index.id_map).astype(np.int64)
            inner = faiss.downcast_IndexBinary(index.index)
            codes = faiss.vector_to_array(inner.xb).reshape(-1, bits // 8)
            self.add(ids, codes)

    # -- contents ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._base_ids) - self._dead_count + sum(len(i) for i in self._new_ids)

    def _new(self) -> tuple[np.ndarray, np.ndarray]:
        if len(self._new_ids) > 1:
            self._new_ids = [np.concatenate(self._new_ids)]
            self._new_codes = [np.concatenate(self._new_codes)]
        if not self._new_ids:
            return np.empty(0, np.int64), np.empty((0, self.bits // 8), np.uint8)
        return self._new_ids[0], self._new_codes[0]

    def add(self, ids: np.ndarray, codes: np.ndarray) -> None:
        """Add codes (n, bits/8) uint8 under the given frame ids."""
        if len(ids) == 0:
            return
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        if codes.shape != (len(ids), self.bits // 8):
            raise BadArgumentError(
                f"codes of shape {codes.shape} do not fit a {self.bits}-bit index"
            )
        self._new_ids.append(np.array(ids, dtype=np.int64))
        self._new_codes.append(codes.copy())
        if self._grown is not None and self.bits == 64:
            self._grown.add(self._new_ids[-1], mih.as_words(codes))
        if self._flat is not None:
            self._flat.add_with_ids(codes, np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> int:
        """Remove these frame ids; returns how many were present."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return 0
        gone = 0
        if len(self._base_ids):
            at = np.clip(np.searchsorted(self._base_ids, ids), 0, len(self._base_ids) - 1)
            hit = at[self._base_ids[at] == ids]
            if self._dead is None:
                self._dead = np.zeros(len(self._base_ids), bool)
            fresh = int((~self._dead[hit]).sum())
            gone += fresh
            self._dead_count += fresh
            self._dead[hit] = True
        self._grown = None
        new_ids, new_codes = self._new()
        if len(new_ids):
            keep = ~np.isin(new_ids, ids)
            gone += int((~keep).sum())
            self._new_ids, self._new_codes = [new_ids[keep]], [new_codes[keep]]
        if self._flat is not None:
            self._flat.remove_ids(_faiss_module().IDSelectorBatch(ids))
        return gone

    def ids(self) -> np.ndarray:
        """Every frame id held: those of the last save in ascending order, then those added."""
        base = self._base_ids if self._dead is None else self._base_ids[~self._dead]
        return np.concatenate([np.asarray(base, np.int64), self._new()[0]])

    def contents(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, codes) of everything held, ids ascending."""
        new_ids, new_codes = self._new()
        base_ids, base_codes = self._base_ids, self._base_codes
        if self._dead is not None:
            base_ids, base_codes = base_ids[~self._dead], base_codes[~self._dead]
        ids = np.concatenate([np.asarray(base_ids, np.int64), new_ids])
        codes = np.concatenate([np.asarray(base_codes), new_codes])
        if len(ids) and not np.all(ids[1:] > ids[:-1]):  # ingest adds ids above the saved ones
            order = np.argsort(ids, kind="stable")
            ids, codes = ids[order], codes[order]
        return ids, codes

    def _new_words(self) -> tuple[np.ndarray, np.ndarray]:
        ids, codes = self._new()
        return ids, mih.as_words(codes)

    def faiss_index(self) -> Any:
        """`IndexBinaryIDMap(IndexBinaryFlat)` holding the same codes (built once, kept current)."""
        if self._flat is None:
            faiss = _faiss_module()
            flat = faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(self.bits))
            ids, codes = self.contents()
            if len(ids):
                flat.add_with_ids(np.ascontiguousarray(codes), ids)
            self._flat = flat
        return self._flat

    # -- search ------------------------------------------------------------------------------
    def search_radius(self, code: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids and distances of every code within Hamming distance `radius` (inclusive), in
        ascending id order: exactly what a flat range search finds."""
        query = np.ascontiguousarray(code, dtype=np.uint8).reshape(1, self.bits // 8)
        radius = int(radius)
        found = self._search_mih(query, radius) if self._mih is not None else None
        if found is None:
            found = self.search_radius_flat(query, radius)
        ids, dist = found
        order = np.argsort(ids, kind="stable")
        return ids[order], dist[order]

    def near_ids(self, codes: np.ndarray, radius: int) -> np.ndarray:
        """Ids of every code within `radius` (inclusive) of any of `codes` (n, bits/8), sorted:
        the many queries of matching a new video against the collection, vectorised."""
        codes = np.ascontiguousarray(codes, dtype=np.uint8).reshape(-1, self.bits // 8)
        if self.bits != 64:  # no multi-index: FAISS's range search over everything
            lims, _, ids = self.faiss_index().range_search(codes, int(radius) + 1)
            return np.unique(ids[: int(lims[-1])].astype(np.int64))
        words = np.unique(mih.as_words(codes))
        found = [self._growing(radius).near(words, radius)]
        if len(self._base_ids):
            mi = self._mih
            hit = mi.search_many(words, radius) if mi is not None else None
            if mi is None or hit is None:
                base = np.asarray(self._base_ids, np.int64)
                live = ~self._dead if self._dead is not None else slice(None)
                held = mih.as_words(np.asarray(self._base_codes))
                found.append(mih.scan(base[live], held[live], words, radius))
            else:
                pos = hit[1] if self._dead is None else hit[1][~self._dead[hit[1]]]
                found.append(np.asarray(mi.ids, np.int64)[pos])
        return np.unique(np.concatenate(found))

    def _growing(self, radius: int) -> mih.Growing:
        """The codes added since the last save, as a growing multi-index (kept up to date by
        `add`, dropped by `remove`), laid out for queries of `radius` (the first asked)."""
        if self._grown is None:
            self._grown = mih.Growing(radius)
            new_ids, new_codes = self._new()
            if len(new_ids):
                self._grown.add(new_ids, mih.as_words(new_codes))
        return self._grown

    def search_radius_flat(self, code: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """The same search with FAISS's flat range search (the reference)."""
        query = np.ascontiguousarray(code, dtype=np.uint8).reshape(1, self.bits // 8)
        # FAISS range search is strict (distance < radius): ask for radius + 1 to include radius.
        lims, dist, ids = self.faiss_index().range_search(query, int(radius) + 1)
        end = int(lims[1])
        return ids[:end].astype(np.int64), dist[:end].astype(np.int32)

    def _search_mih(self, query: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray] | None:
        if self._mih is None:
            return None
        word = int(mih.as_words(query)[0])
        hit = self._mih.search(word, radius)
        if hit is None:
            return None
        pos, dist = hit
        if self._dead is not None:
            live = ~self._dead[pos]
            pos, dist = pos[live], dist[live]
        ids = np.asarray(self._mih.ids[pos], dtype=np.int64)
        new_ids, new_codes = self._new()
        if len(new_ids):
            near = mih.popcount(mih.as_words(new_codes) ^ np.uint64(word))
            keep = near <= radius
            ids = np.concatenate([ids, new_ids[keep]])
            dist = np.concatenate([dist, near[keep]])
        return ids, dist

    # -- files -------------------------------------------------------------------------------
    def save(self, path: Path, manifest: Manifest) -> None:
        """Write atomically: temporary file, fsync, rename, fsync of the folder. The multi-index
        serves queries over all current codes: codes only added since the last save are merged
        into it, anything else rebuilds it."""
        if manifest.count != len(self) or manifest.bits != self.bits:
            raise BadArgumentError("manifest does not describe this index")
        ids, codes = self.contents()
        multi = None
        if self._mih is not None and self._dead is None:  # only added to since: merged
            multi = self._mih.extended(*self._new_words())
        if multi is None and self.bits == 64:
            multi = mih.MultiIndex.build(ids, mih.as_words(codes))
        self._base_ids, self._base_codes = ids, codes
        self._dead, self._dead_count, self._new_ids, self._new_codes = None, 0, [], []
        self._grown = None
        self._mih = multi
        body = _faiss_module().serialize_index_binary(self.faiss_index())
        arrays = dict(self._mih.arrays) if self._mih is not None else {"ids": ids, "codes": codes}
        meta: dict[str, Any] = {
            "database_id": manifest.database_id,
            "generation": manifest.generation,
            "count": manifest.count,
            "bits": manifest.bits,
            "videos": [list(v) for v in manifest.videos] if manifest.videos is not None else None,
            "widths": list(self._mih.plan.widths) if self._mih is not None else None,
        }
        layout: dict[str, Any] = {}
        offset = 0
        for name, array in arrays.items():
            data = np.ascontiguousarray(array)
            layout[name] = [data.dtype.str, list(data.shape), offset, zlib.crc32(data.data)]
            offset += _aligned(data.nbytes)
        meta["arrays"] = layout
        meta["faiss"] = [offset, len(body), zlib.crc32(body)]
        head = json.dumps(meta, sort_keys=True).encode()
        start = _aligned(_HEADER.size + len(head) + 4)
        meta_crc = zlib.crc32(head)

        def write(out: BinaryIO) -> None:
            out.write(_HEADER.pack(MAGIC, len(head)))
            out.write(head)
            out.write(struct.pack("<I", meta_crc))
            for name, array in arrays.items():
                out.seek(start + layout[name][2])
                out.write(np.ascontiguousarray(array).tobytes())
            out.seek(start + offset)
            out.write(body.tobytes())

        atomic.replace(path, write)
        self.manifest = manifest

    @classmethod
    def load(cls, path: Path, database_id: str, generation: int, bits: int) -> FrameIndex | None:
        """The index stored at `path` if it was written for this database, generation and width;
        otherwise None (the caller rebuilds it from SQL)."""
        index = cls.load_any(path, database_id, bits)
        if index is None or index.manifest is None or index.manifest.generation != generation:
            return None
        return index

    @classmethod
    def load_any(cls, path: Path, database_id: str, bits: int) -> FrameIndex | None:
        """The index stored at `path` for this database and width, of whatever generation (its
        `manifest` says which), memory-mapped; None if there is none or it does not check out."""
        try:
            with open(path, "rb") as handle:
                fixed = handle.read(_HEADER.size)
                if len(fixed) < _HEADER.size:
                    return None
                magic, head_len = _HEADER.unpack(fixed)
                if magic != MAGIC or head_len > 1 << 30:
                    return None
                head = handle.read(head_len)
                crc = handle.read(4)
                size = os.fstat(handle.fileno()).st_size
        except OSError:
            return None
        if (
            len(head) != head_len
            or len(crc) != 4
            or struct.unpack("<I", crc)[0] != zlib.crc32(head)
        ):
            return None
        try:
            meta = json.loads(head)
            videos = meta.get("videos")
            manifest = Manifest(
                str(meta["database_id"]),
                int(meta["generation"]),
                int(meta["count"]),
                int(meta["bits"]),
                tuple((int(v), int(f), int(n), str(p)) for v, f, n, p in videos)
                if videos is not None
                else None,
            )
            layout = meta["arrays"]
            body_at, body_len, body_crc = (int(x) for x in meta["faiss"])
            widths = tuple(int(w) for w in meta["widths"]) if meta.get("widths") else None
        except (ValueError, KeyError, TypeError):
            return None
        if (manifest.database_id, manifest.bits) != (database_id, bits):
            return None
        start = _aligned(_HEADER.size + head_len + 4)
        if size != start + body_at + body_len:
            return None
        arrays: dict[str, np.ndarray] = {}
        try:
            for name, (dtype, shape, offset, _crc) in layout.items():
                count = int(np.prod(shape))
                if count == 0:
                    arrays[name] = np.empty(shape, dtype)
                    continue
                arrays[name] = np.memmap(
                    path, dtype=np.dtype(dtype), mode="r", offset=start + offset, shape=tuple(shape)
                )
        except (OSError, ValueError, TypeError):
            return None
        ids = arrays.get("ids")
        codes: Any = arrays.get("codes")
        if codes is None and "words" in arrays and bits == 64:
            codes = _LazyCodes(arrays["words"])
        if ids is None or codes is None or len(ids) != manifest.count:
            return None
        if codes.shape != (manifest.count, bits // 8):
            return None
        index = cls(bits)
        index._base_ids, index._base_codes = ids, codes
        if widths is not None and bits == 64:
            if not {"start", "pos", "sorted", "words"} <= arrays.keys():
                return None
            index._mih = mih.MultiIndex(arrays, widths)
        index._body = (path, start + body_at, body_len, body_crc)
        index.manifest = manifest
        index._layout = (path, start, layout)
        return index

    def verify(self) -> bool:
        """Whether every array and the FAISS body of the loaded file match their checksums and
        agree with each other (reads the whole file; `framedb check` does this)."""
        if self._body is None:
            return True
        if self._layout is None:
            return True
        path, start, layout = self._layout
        for dtype, shape, offset, crc in layout.values():
            size = int(np.prod(shape)) * np.dtype(dtype).itemsize
            try:
                with open(path, "rb") as handle:
                    handle.seek(start + offset)
                    data = handle.read(size)
            except OSError:
                return False
            if len(data) != size or zlib.crc32(data) != crc:
                return False
        where, offset, length, crc = self._body
        try:
            with open(where, "rb") as handle:
                handle.seek(offset)
                body = handle.read(length)
        except OSError:
            return False
        if len(body) != length or zlib.crc32(body) != crc:
            return False
        faiss = _faiss_module()
        raw = faiss.deserialize_index_binary(np.frombuffer(body, dtype=np.uint8))
        flat = faiss.downcast_IndexBinary(raw)  # a view: `raw` owns the index
        if not hasattr(flat, "id_map"):
            return False
        inner = faiss.downcast_IndexBinary(flat.index)
        if flat.ntotal != len(self._base_ids) or flat.d != self.bits:
            return False
        ids = faiss.vector_to_array(flat.id_map).astype(np.int64)
        codes = faiss.vector_to_array(inner.xb).reshape(-1, self.bits // 8)
        order = np.argsort(ids, kind="stable")
        same = np.array_equal(ids[order], self._base_ids) and np.array_equal(
            codes[order], np.asarray(self._base_codes)
        )
        del flat, inner, raw
        return bool(same)

    _layout: tuple[Path, int, dict[str, Any]] | None = None


class _LazyCodes:
    """Packed codes of memory-mapped words, converted only when read as a whole (a save)."""

    def __init__(self, words: np.ndarray) -> None:
        self.words = words
        self.shape = (len(words), 8)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        codes = mih.as_codes(self.words)
        return codes if dtype is None else codes.astype(dtype)

    def __getitem__(self, key: Any) -> np.ndarray:
        return mih.as_codes(self.words[key])


def _aligned(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN
