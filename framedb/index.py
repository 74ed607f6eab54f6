"""The FAISS binary index over frame hashes, keyed by `frames.id`, and its file beside the database.

SQL is the source of truth. The index file carries a manifest (database id, generation, count, bits,
checksum) in its header; `load` returns None for any file that does not match what the database
expects, and the caller rebuilds from SQL. Files are written to a temporary name, fsynced and
renamed, so a reader sees the old index or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from framedb.errors import BadArgumentError

# One query at a time gains nothing from OpenMP, and on a shared machine its threads spin against
# each other: a range search at 1 M codes took 18 ms with 2 threads and 0.9 ms with 1.
faiss.omp_set_num_threads(1)

MAGIC = b"FRAMEDB-INDEX-1\n"
_HEADER = struct.Struct("<16sQ")


@dataclass(frozen=True)
class Manifest:
    """What an index file claims to be: it is used only if every field matches the database."""

    database_id: str
    generation: int
    count: int
    bits: int


class FrameIndex:
    """Exact Hamming search over packed codes: `IndexBinaryIDMap(IndexBinaryFlat(bits))`."""

    def __init__(self, bits: int, index: Any | None = None) -> None:
        if bits <= 0 or bits % 8:
            raise BadArgumentError(f"index width must be a positive multiple of 8 bits, not {bits}")
        self.bits = bits
        self._index = (
            index if index is not None else faiss.IndexBinaryIDMap(faiss.IndexBinaryFlat(bits))
        )

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: np.ndarray, codes: np.ndarray) -> None:
        """Add codes (n, bits/8) uint8 under the given frame ids."""
        if len(ids) == 0:
            return
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        if codes.shape != (len(ids), self.bits // 8):
            raise BadArgumentError(
                f"codes of shape {codes.shape} do not fit a {self.bits}-bit index"
            )
        self._index.add_with_ids(codes, np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> int:
        """Remove these frame ids; returns how many were present."""
        if len(ids) == 0:
            return 0
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64))
        return int(self._index.remove_ids(selector))

    def ids(self) -> np.ndarray:
        """Every frame id held, in insertion order."""
        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def search_radius(self, code: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids and distances of every code within Hamming distance `radius` (inclusive)."""
        query = np.ascontiguousarray(code, dtype=np.uint8).reshape(1, self.bits // 8)
        # FAISS range search is strict (distance < radius): ask for radius + 1 to include radius.
        lims, dist, ids = self._index.range_search(query, int(radius) + 1)
        end = int(lims[1])
        return ids[:end].astype(np.int64), dist[:end].astype(np.int32)

    def save(self, path: Path, manifest: Manifest) -> None:
        """Write atomically: temporary file, fsync, rename, fsync of the folder."""
        if manifest.count != len(self) or manifest.bits != self.bits:
            raise BadArgumentError("manifest does not describe this index")
        body = faiss.serialize_index_binary(self._index).tobytes()
        meta = {**manifest.__dict__, "length": len(body), "crc32": zlib.crc32(body)}
        head = json.dumps(meta, sort_keys=True).encode()
        _remove_abandoned(path)
        tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        try:
            with open(tmp, "wb") as out:
                out.write(_HEADER.pack(MAGIC, len(head)))
                out.write(head)
                out.write(body)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(path.parent)

    @classmethod
    def load(cls, path: Path, database_id: str, generation: int, bits: int) -> FrameIndex | None:
        """The index stored at `path` if it was written for this database, generation and width
        and its checksum holds; otherwise None (the caller rebuilds it from SQL)."""
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if len(data) < _HEADER.size:
            return None
        magic, head_len = _HEADER.unpack_from(data)
        if magic != MAGIC or head_len > len(data) - _HEADER.size:
            return None
        try:
            meta = json.loads(data[_HEADER.size : _HEADER.size + head_len])
            found = Manifest(
                str(meta["database_id"]),
                int(meta["generation"]),
                int(meta["count"]),
                int(meta["bits"]),
            )
            length, crc = int(meta["length"]), int(meta["crc32"])
        except (ValueError, KeyError, TypeError):
            return None
        body = memoryview(data)[_HEADER.size + head_len :]
        if (found.database_id, found.generation, found.bits) != (database_id, generation, bits):
            return None
        if len(body) != length or zlib.crc32(body) != crc:
            return None
        index = faiss.deserialize_index_binary(np.frombuffer(body, dtype=np.uint8))
        if index.ntotal != found.count or index.d != bits:
            return None
        return cls(bits, index)


def _remove_abandoned(path: Path) -> None:
    """Delete temporary files of saves whose process died (killed mid-save); a live process's
    file is its own business."""
    prefix = f"{path.name}.tmp-"
    try:
        names = [e.name for e in os.scandir(path.parent) if e.name.startswith(prefix)]
    except OSError:
        return
    for name in names:
        pid = name[len(prefix) :]
        if pid.isdigit() and not _running(int(pid)):
            (path.parent / name).unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
