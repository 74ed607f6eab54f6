"""Grey pictures and hashes of small frames, computed in a second process.

A small frame (160x90) decodes in ~40 µs on one thread, the fastest setting for it; scaling and
hashing it take nearly as long again, and a thread cannot share that work: the Python around each
scaling call holds the GIL the decoding thread needs. So a decoder with a core to spare forks a
helper: the decoder copies each frame's luma plane into shared memory (a few µs) and the helper,
on the other core, rebuilds the frame, scales it with the very call `decode` uses (bit-identical
grey pictures), and hashes whole batches, cut exactly where `VideoReader.batches` cuts them.
"""

from __future__ import annotations

import mmap
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import av
import numpy as np

from framedb import hashing
from framedb.errors import FrameDBError
from framedb.hashspec import HashSpec
from framedb.ingest.decode import CHUNK_FRAMES, SMALL_FRAME, Batcher, Greyer
from framedb.ingest.forked import ForkedChild
from framedb.overlays import Overlays
from framedb.turned import turned

SLOTS = 8  # chunks of frames in flight between the decoder and the helper
SLOT_BYTES = CHUNK_FRAMES * SMALL_FRAME  # a chunk of small frames, unless rows are padded wide
# 8-bit formats whose first plane is the luma a grey picture is made from (chroma is not read)
LUMA_FORMATS = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p"})


@dataclass(frozen=True)
class HashedBatch:
    """Hashes, inner, middle and turned hashes (None for a hash that has none) and detail of the
    next `len(codes)` frames, and the content box (rows, columns) their batch was hashed in."""

    codes: np.ndarray
    inner: np.ndarray
    mid: np.ndarray
    turned: np.ndarray | None
    detail: np.ndarray
    box: tuple[slice, slice]

    def message(self) -> tuple[Any, ...]:
        """The batch as a message between processes (`HashedBatch(*message[1:])` again)."""
        return ("batch", self.codes, self.inner, self.mid, self.turned, self.detail, self.box)

    def after(self, skip: int) -> HashedBatch:
        """The batch without its first `skip` frames."""
        turned = None if self.turned is None else self.turned[skip:]
        return HashedBatch(
            self.codes[skip:],
            self.inner[skip:],
            self.mid[skip:],
            turned,
            self.detail[skip:],
            self.box,
        )


class ScaleError(Exception):
    """A frame could not be scaled; the frames before it (`kept`) are hashed."""

    def __init__(self, kept: int, reason: BaseException) -> None:
        super().__init__(str(reason))
        self.kept = kept
        self.reason = reason


class BatchHasher:
    """Hashes grey pictures a batch at a time, cut as `VideoReader.batches` cuts them: `add`
    pictures, take the hashed batches from `ready`; `flush` hashes the shorter last batch.
    `display`: the video's (width, height) as shown, for a portrait frame's landscape band
    (`hashing.band_of`) and for turned hashes (None: square, without a band); `first`: the
    frames of the first batch, for a part of a video that starts mid-batch."""

    def __init__(
        self, spec: HashSpec, display: tuple[int, int] | None = None, first: int = 0
    ) -> None:
        self.spec = spec
        self.band = None if display is None else hashing.band_of(*display)
        self.aspect = 1.0 if display is None else display[0] / max(display[1], 1)
        self.batcher = Batcher(first=first)
        self.overlays = Overlays()  # a video's overlay is kept from batch to batch
        self._ready: deque[HashedBatch] = deque()

    @property
    def done(self) -> int:
        """Frames in the batches hashed so far."""
        return self.batcher.cut

    def add(self, grey: np.ndarray) -> None:
        self._ready.extend(
            hash_batch(b, self.spec, self.band, self.overlays, self.aspect)
            for b in self.batcher.add(grey)
        )

    def flush(self) -> None:
        self._ready.extend(
            hash_batch(b, self.spec, self.band, self.overlays, self.aspect)
            for b in self.batcher.rest()
        )

    def ready(self) -> Iterator[HashedBatch]:
        while self._ready:
            yield self._ready.popleft()


class InlineHasher:
    """Scales and hashes in the calling thread: for frames worth all of a decoder's cores."""

    def __init__(
        self, spec: HashSpec, rotation: int, display: tuple[int, int] | None = None
    ) -> None:
        self.greyer = Greyer(rotation)
        self.hashes = BatchHasher(spec, display)

    def __enter__(self) -> InlineHasher:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def put(self, frames: list[Any]) -> None:
        self.hashes.add(self.greyer(frames))
        if self.greyer.error is not None:
            self.hashes.flush()
            raise ScaleError(self.hashes.done, self.greyer.error)

    def ready(self) -> Iterator[HashedBatch]:
        return self.hashes.ready()

    def finish(self) -> Iterator[HashedBatch]:
        self.hashes.flush()
        return self.hashes.ready()


def hash_batch(
    grey: np.ndarray,
    spec: HashSpec,
    band: tuple[float, float] | None = None,
    overlays: Overlays | None = None,
    aspect: float = 1.0,
) -> HashedBatch:
    """Hash one batch; black bars, an overlay (framedb.overlays: `overlays` carries a video's
    from batch to batch), a phone frame's band and a picture-in-picture inset are found over the
    whole batch. `aspect`: the picture's width over its height as shown (framedb.turned)."""
    rows, cols = box = hashing.content_box(grey)
    grey = (overlays or Overlays()).fill(grey, box)
    if band is not None:  # a portrait frame: its clip's band if one stands out, else the guess
        band = hashing.clip_band(grey) or band
    inset = None if band is not None else hashing.inset_box(grey[:, rows, cols])
    if inset is not None:  # found in the content box: placed in the picture
        inner_rows, inner_cols = (
            slice(outer.start + part.start, outer.start + part.stop)
            for outer, part in zip(box, inset, strict=True)
        )
    else:
        inner_rows, inner_cols = hashing.inner_box(box, band)
    mid_rows, mid_cols = hashing.centre_box(box, hashing.MID_SCALE)
    return HashedBatch(
        hashing.compute(grey[:, rows, cols], spec),
        hashing.compute(grey[:, inner_rows, inner_cols], spec),
        hashing.compute(grey[:, mid_rows, mid_cols], spec),
        turned(grey, box, aspect, spec),
        hashing.detail(grey),
        box,
    )


class ForkedHasher:
    """Scales and hashes in a forked helper process (Linux): `put` hands over the luma planes of
    decoded frames through shared memory, `ready` and `finish` give the hashed batches in order.
    The helper dies with its parent; if it dies first, the video fails with a clear error."""

    def __init__(
        self, spec: HashSpec, rotation: int, name: str, display: tuple[int, int] | None = None
    ) -> None:
        self.name = name
        self.greyer = Greyer(rotation)  # for a frame the helper cannot take (see `put`)
        self.shm = mmap.mmap(-1, SLOTS * SLOT_BYTES)
        self.memory = np.frombuffer(self.shm, np.uint8)
        self.free = deque(range(SLOTS))
        self.batches: deque[HashedBatch] = deque()
        self.failed: tuple[int, str] | None = None
        try:
            self.child = ForkedChild(lambda c: _helper(c, self.memory, spec, rotation, display))
        except OSError:  # out of processes or memory: the caller hashes inline instead
            del self.memory
            self.shm.close()
            raise

    def __enter__(self) -> ForkedHasher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def put(self, frames: list[Any]) -> None:
        """Hand over decoded frames: luma planes of small 8-bit YUV frames go through shared
        memory, one slot per run of frames of one shape; any other frame (a mid-stream change
        to a big or exotic format) is scaled here and its grey picture sent as it is."""
        planes = [frame.planes[0] for frame in frames]
        shapes = [
            (f.width, f.height, f.format.name, f.color_range, f.colorspace, p.line_size)
            for f, p in zip(frames, planes, strict=True)
        ]
        start = 0
        while start < len(frames):
            shape = shapes[start]
            width, height, fmt, *_, line = shape
            if fmt not in LUMA_FORMATS or width * height > SMALL_FRAME:
                grey = self.greyer(frames[start : start + 1])
                if self.greyer.error is not None:
                    self._send(("fail", _words(self.greyer.error)))
                    return
                self._send(("grey", grey))  # scaled here; the helper puts it in its place
                start += 1
                continue
            size = line * height
            end = start + 1
            while (
                end < len(frames)
                and shapes[end] == shape
                and (end - start + 1) * size <= SLOT_BYTES
            ):
                end += 1
            slot = self._free_slot()
            at = slot * SLOT_BYTES
            np.concatenate(planes[start:end], out=self.memory[at : at + (end - start) * size])
            self._send(("slot", slot, end - start, shape))
            start = end

    def ready(self) -> Iterator[HashedBatch]:
        while self.child.conn.poll():
            self._receive()
        yield from self._take()

    def finish(self) -> Iterator[HashedBatch]:
        self._send(("end",))
        while not self._receive():
            pass
        yield from self._take()

    def close(self) -> None:
        self.child.close()
        del self.memory
        self.shm.close()

    def _free_slot(self) -> int:
        while not self.free:
            self._receive()
        return self.free.popleft()

    def _send(self, message: tuple[Any, ...]) -> None:
        try:
            self.child.conn.send(message)
        except OSError as exc:
            raise self._died() from exc

    def _receive(self) -> bool:
        """Take one message from the helper; True once it has said it is done."""
        try:
            message = self.child.conn.recv()
        except (EOFError, OSError) as exc:
            raise self._died() from exc
        kind = message[0]
        if kind == "free":
            self.free.append(message[1])
        elif kind == "batch":
            self.batches.append(HashedBatch(*message[1:]))
        elif kind == "failed":
            self.failed = (message[1], message[2])
        return bool(kind == "done")

    def _died(self) -> FrameDBError:
        return FrameDBError(
            f"{self.name}: the process hashing its frames died (out of memory, or killed); "
            "the next ingest tries this file again"
        )

    def _take(self) -> Iterator[HashedBatch]:
        while self.batches:
            yield self.batches.popleft()
        if self.failed is not None:
            (kept, reason), self.failed = self.failed, None
            raise ScaleError(kept, ValueError(reason))


def _helper(
    conn: Connection,
    memory: np.ndarray,
    spec: HashSpec,
    rotation: int,
    display: tuple[int, int] | None,
) -> None:
    """The helper's life: rebuild, scale and hash what the decoder sends, in order. After a
    frame that cannot be scaled it hashes what came before, says so, and ignores the rest."""
    greyer = Greyer(rotation)
    batches = BatchHasher(spec, display)
    templates: dict[tuple[Any, ...], Any] = {}
    failed = False
    while True:
        kind, *args = conn.recv()
        if kind == "slot":
            slot, count, shape = args
            if not failed:
                batches.add(_scale_slot(memory, slot, count, shape, greyer, templates))
            conn.send(("free", slot))
        elif kind == "grey" and not failed:
            batches.add(args[0])
        reason = _words(greyer.error) if greyer.error is not None else None
        reason = args[0] if kind == "fail" else reason
        stop = kind == "end" or (reason is not None and not failed)
        if stop:
            batches.flush()
        for batch in batches.ready():
            conn.send(batch.message())
        if reason is not None and not failed:
            conn.send(("failed", batches.done, reason))
            failed = True
        if kind == "end":
            conn.send(("done",))
            return


def _scale_slot(
    memory: np.ndarray,
    slot: int,
    count: int,
    shape: tuple[Any, ...],
    greyer: Greyer,
    templates: dict[tuple[Any, ...], Any],
) -> np.ndarray:
    width, height, fmt, color_range, colorspace, line = shape
    frame: Any = templates.get(shape)
    if frame is None:
        frame = templates[shape] = av.VideoFrame(width, height, fmt)
        frame.color_range, frame.colorspace = color_range, colorspace
    plane = frame.planes[0]
    target = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:height, :width]
    at = slot * SLOT_BYTES
    lumas = memory[at : at + count * line * height]
    pictures = []
    for luma in lumas.reshape(count, height, line):
        target[...] = luma[:, :width]
        picture = greyer([frame])
        if greyer.error is not None:
            break
        pictures.append(picture)
    if not pictures:
        return np.empty((0, hashing.GREY_SIZE, hashing.GREY_SIZE), np.uint8)
    return np.concatenate(pictures)


def _words(error: BaseException) -> str:
    """An exception as the text the decoding side's error message quotes."""
    return str(error) or type(error).__name__
