"""Decode one video and hash every frame: the unit of work of an ingest, compact enough to send
between processes (a few dozen bytes per frame; framedb.store.hashed holds the result's types)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from typing import Any, cast

import numpy as np

from framedb.cores import available_cores
from framedb.errors import DecodeError
from framedb.hashspec import HashSpec
from framedb.ingest.decode import MAX_PIXELS, SMALL_FRAME, VideoReader
from framedb.ingest.forked import can_fork
from framedb.ingest.offload import ForkedHasher, HashedBatch, InlineHasher, ScaleError
from framedb.ingest.split import SecondHalf, worth_splitting
from framedb.store.hashed import HashedVideo


def hash_video(
    path: str | os.PathLike[str],
    spec: HashSpec,
    *,
    max_pixels: int = MAX_PIXELS,
    threads: int = 0,
    on_batch: Callable[[int], None] | None = None,
) -> HashedVideo:
    """Decode `path` once and hash each frame. Raises NotAVideoError when it cannot be opened;
    `on_batch(n)` is told how many frames each batch added. `threads` is the number of cores this
    video may use (0: all of them). With two, a long video that can seek decodes as two halves
    at once (framedb.ingest.split); otherwise small frames, which decode fastest on one thread, are
    scaled and hashed in a helper process on the core left over (framedb.ingest.offload)."""
    with VideoReader(path, max_pixels=max_pixels, threads=threads) as reader:
        half = _second_half(reader, spec, threads)
        with (
            half or contextlib.nullcontext(),
            _hasher(reader, spec, threads, split=half is not None) as hasher,
        ):
            return _hash_all(reader, hasher, spec, on_batch, half)


def _second_half(reader: VideoReader, spec: HashSpec, threads: int) -> SecondHalf | None:
    """For a long video with two cores, a second process decoding the second half
    (framedb.ingest.split; each decoder then runs on one thread); None if not worth it or the
    system refuses a process."""
    if not worth_splitting(reader, threads or available_cores()):
        return None
    try:
        half = SecondHalf(reader, spec)
    except OSError:
        return None
    reader.use_one_thread()
    return half


def _hasher(
    reader: VideoReader, spec: HashSpec, threads: int, *, split: bool
) -> InlineHasher | ForkedHasher:
    """A forked helper when a core is spare, else (or if the system refuses a new process, out
    of processes or memory) the decoding thread itself."""
    display = reader.info.display_size
    if not split and _spare_core(reader, threads):
        try:
            return ForkedHasher(spec, reader.info.rotation, reader.name, display)
        except OSError:
            pass
    return InlineHasher(spec, reader.info.rotation, display)


# Starting a helper costs ~30 ms (fork, copy-on-write faults, its exit): worth it from a few
# thousand frames (a 600-frame 160x90 clip took 41 ms hashed inline, 71 ms with a helper).
OFFLOAD_MIN_FRAMES = 3000


def _spare_core(reader: VideoReader, threads: int) -> bool:
    """Whether a core is left over after the decoder's threads, and the video is long and its
    frames small enough to be worth handing to a helper process."""
    cores = threads or available_cores()
    small = reader.info.width * reader.info.height <= SMALL_FRAME
    long = reader.expected_frames >= OFFLOAD_MIN_FRAMES
    return small and long and cores > reader.decoder_threads and can_fork()


def _hash_all(
    reader: VideoReader,
    hasher: InlineHasher | ForkedHasher,
    spec: HashSpec,
    on_batch: Callable[[int], None] | None,
    half: SecondHalf | None = None,
) -> HashedVideo:
    pts: list[int] = []
    tail_pts = np.empty(0, np.int64)  # the second half's, when its work is taken
    batches: list[HashedBatch] = []
    error = None
    hashed = told = 0  # frames hashed here or taken from the second half; frames told on_batch

    def keep(found: Iterable[HashedBatch]) -> None:
        nonlocal hashed
        for batch in found:
            batches.append(batch)
            hashed += len(batch.codes)

    def tell() -> None:
        """Progress: these frames, and the second half's as they come (taken back if refused)."""
        nonlocal told
        now = hashed + (half.received if half else 0)
        if on_batch and now != told:
            on_batch(now - told)
        told = now

    def put(chunk_pts: list[int], frames: list[Any]) -> None:
        pts.extend(chunk_pts)
        hasher.put(frames)
        keep(hasher.ready())

    try:
        try:
            for chunk_pts, frames in reader.chunks():
                at = half.stop_at(chunk_pts, pts[-1] if pts else None) if half else None
                if half is None or at is None:
                    put(chunk_pts, frames)
                    tell()
                    continue
                put(chunk_pts[:at], frames[:at])
                hashing_here = cast(InlineHasher, hasher)
                tail = half.join(hashing_here, frames[at:], chunk_pts[at:], len(pts))
                half = None  # joined, or this process decodes the rest
                if tail is not None:  # the second half's rows, checked to join these exactly
                    keep(tail.batches)
                    tail_pts, error = tail.pts, tail.error
                    break
                put(chunk_pts[at:], frames[at:])
                tell()
        except DecodeError as exc:
            error = str(exc)
        keep(hasher.finish())
    except ScaleError as exc:
        keep(hasher.ready())
        error = str(reader.stopped(exc.reason, exc.kept))
    half = None
    tell()
    none = np.empty((0, spec.nbytes), np.uint8)
    codes = np.concatenate([b.codes for b in batches] or [none])
    inner = np.concatenate([b.inner for b in batches] or [none])
    mid = np.concatenate([b.mid for b in batches] or [none])
    turned = _turned([b.turned for b in batches], spec)
    detail = np.concatenate([b.detail for b in batches] or [np.empty(0, np.float32)])
    # frames after a scaling failure are dropped
    kept = np.concatenate([np.array(pts, np.int64), tail_pts])[: len(codes)]
    return HashedVideo(
        reader.info,
        kept,
        reader.seconds(kept),
        codes,
        detail,
        inner,
        mid=mid,
        turned=turned,
        error=error,
    )


def _turned(parts: list[np.ndarray | None], spec: HashSpec) -> np.ndarray | None:
    """The batches' turned hashes as one array; None for a hash without them (framedb.turned)."""
    if spec.kind != "dct" or any(p is None for p in parts):
        return None
    kept = [p for p in parts if p is not None]
    return np.concatenate(kept or [np.empty((0, 2 * spec.nbytes), np.uint8)])
