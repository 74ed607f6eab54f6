"""A long video decoded as two halves at once, one per core.

Two decoders on one thread each outrun one decoder on two threads (frame threads hand frames
back and forth; 720p H.264 on 2 cores: 1,230 frames/s on two threads, 2 x 700 on one), and each
scales and hashes its own frames. The decoding process (A) decodes from the start, as always,
after forking a second (B) that seeks to the key frame nearest the middle and decodes, scales
and hashes from there to the end. When A reaches the first frame B decoded, it takes B's
work only if it joins its own exactly:

- the frames A decoded from B's first on (the rest of A's chunk, up to 64) have the same
  timestamps and the same grey pictures in both (B's decoder started clean; no frame shown out
  of order across the junction);
- batches are cut every BATCH frames from the start of the file, and what a batch's pictures are
  hashed in (its black-bar box, a picture-in-picture inset) depends on all of them: so B cuts
  its batches where the file's are cut, counting the frames before its first from its timestamp
  (exact at a constant frame rate), A checks that count, and hashes the batch across the junction
  itself (from B's first pictures).

Then the rows are those one pass from the start gives, and A stops. Otherwise (and if B found no
key frame, failed or died) A decodes the second half itself: slower, never different.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from framedb import hashing
from framedb.errors import DecodeError
from framedb.hashspec import HashSpec
from framedb.ingest.container import plain_error
from framedb.ingest.decode import BATCH, Greyer, NoKeyFrame, VideoReader
from framedb.ingest.forked import ForkedChild, can_fork
from framedb.ingest.offload import BatchHasher, HashedBatch, InlineHasher

# The halves are cut at a key frame (every 250 frames by x264's default), so they differ by up
# to half a GOP, and the second opens the file again (0.2 s for the index of a 24-hour MP4):
# 720p, 20 s gained nothing, 40 s 9 %; worth it from about a minute of video.
SPLIT_MIN_FRAMES = 1500
HEAD = BATCH - 1  # B's first pictures, sent as they are for the batch across the junction


@dataclass
class Tail:
    """What B gives A once it is checked: the second half's batches and pts, and why decoding
    ended early, if it did (the frames before are kept)."""

    batches: list[HashedBatch]
    pts: np.ndarray
    error: str | None


def worth_splitting(reader: VideoReader, cores: int) -> bool:
    """Whether two cores are there, and the video is long and can seek to its middle."""
    long = reader.expected_frames >= SPLIT_MIN_FRAMES
    return cores >= 2 and long and reader.can_seek and can_fork()


class SecondHalf:
    """A's side of the second decoder: fork it, take its messages as they come (`poll`), find
    where A stops (`stop_at`), and check and take its work there (`join`)."""

    def __init__(self, reader: VideoReader, spec: HashSpec) -> None:
        self.reader = reader
        self.first_pts: int | None = None  # B's first frame, once B has said
        self.head = np.empty((0, hashing.GREY_SIZE, hashing.GREY_SIZE), np.uint8)
        self.first_grey = self.head  # its picture
        self.across = 0  # B's frames in the batch across the junction, as B counted them
        self.batches: list[HashedBatch] = []
        self.end: tuple[Any, ...] | None = None
        self.failed = False  # B cannot help: A decodes everything itself
        self._received = 0
        self.child = ForkedChild(lambda conn: _second_half(conn, reader, spec))

    def __enter__(self) -> SecondHalf:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop B if it is still running (A took over, or failed) and reap it."""
        self.child.close(kill=True)

    def stop_at(self, pts: list[int], last: int | None) -> int | None:
        """Where in a chunk of A's frames (`pts`, after the frame at `last`) B's first frame
        is, if B has one and A has not passed it."""
        self.poll()
        if self.failed or self.first_pts is None:
            return None
        if last is not None and last >= self.first_pts:  # B was too late: A went past
            self._give_up()
            return None
        if not pts or pts[-1] < self.first_pts:
            return None
        return next(i for i, p in enumerate(pts) if p >= self.first_pts)

    @property
    def received(self) -> int:
        """Frames B has hashed and sent so far (none once its work is refused)."""
        return 0 if self.failed else self._received

    def poll(self) -> None:
        """Take B's messages that have come, without waiting."""
        while not self.failed and self.end is None and self.child.conn.poll():
            self._receive()

    def join(
        self, hasher: InlineHasher, frames: list[Any], pts: list[int], count: int
    ) -> Tail | None:
        """B's work, if it joins A's exactly: `frames` (at `pts`) are A's from B's first on, to
        the end of the chunk A decoded, after A's `count` frames, whose last pictures wait in
        `hasher`. None if A must go on decoding."""
        across = -count % BATCH  # B's frames in the batch across the junction
        pictures = Greyer(self.reader.info.rotation)(frames)
        if (
            pts[0] != self.first_pts
            or across != self.across  # B counted other frames before it: its cuts are not ours
            or not np.array_equal(pictures[:1], self.first_grey)
        ):
            self._give_up()  # at once, before waiting for B's end
            return None
        while not self.failed and self.end is None:
            self._receive()
        if self.end is None:
            return None
        _, b_pts, stop = self.end
        same = b_pts[: len(pts)].tolist() == pts and np.array_equal(
            self.head[: len(pictures)], pictures
        )
        if not same:
            self._give_up()
            return None
        hasher.hashes.add(self.head[:across])
        batches = [*hasher.ready(), *_after(self.batches, across)]
        return Tail(batches, b_pts, self._error(stop, count))

    def _error(self, stop: tuple[Any, ...] | None, count: int) -> str | None:
        if stop is None:
            return None
        kind, cause, frames = stop
        if kind == "scale":
            return str(self.reader.stopped(cause, count + frames))
        failure = self.reader.failure(cause, count + frames)
        return str(failure) if failure is not None else None

    def _give_up(self) -> None:
        """A decodes the rest itself: B's work is no use, and B must not take A's core."""
        self.failed = True
        self.close()

    def _receive(self) -> None:
        try:
            kind, *args = self.child.conn.recv()
        except (EOFError, OSError):  # B died
            self._give_up()
            return
        if kind == "start":
            self.first_pts, self.first_grey, self.across = args
        elif kind == "head":
            self.head = args[0]
        elif kind == "batch":
            self.batches.append(HashedBatch(*args))
            self._received += len(args[0])
        elif kind == "end":
            self.end = (kind, *args)
        else:  # "none": no key frame B can start from
            self._give_up()


def _after(batches: list[HashedBatch], skip: int) -> Iterator[HashedBatch]:
    """B's batches without their first `skip` frames."""
    for batch in batches:
        if skip >= len(batch.codes):
            skip -= len(batch.codes)
            continue
        yield batch.after(skip)
        skip = 0


def _second_half(conn: Connection, first: VideoReader, spec: HashSpec) -> None:
    """B's life: open the file again, start at the key frame nearest the middle, and send
    A its first frame and pictures and where it cuts its first batch, its hashed batches, then
    its pts and why decoding ended if it ended early."""
    with VideoReader(first.path, max_pixels=first.max_pixels, threads=1) as reader:
        if not reader.start_near(0.5):
            conn.send(("none",))
            return
        greyer = Greyer(reader.info.rotation)
        display = reader.info.display_size
        hashes = BatchHasher(spec, display)  # stands only if B decodes nothing: at its first
        # frame B takes one that cuts its first batch where the file's batches are cut
        pts: list[int] = []
        head: list[np.ndarray] = []
        stop: tuple[Any, ...] | None = None
        try:
            for chunk_pts, frames in reader.chunks():
                grey = greyer(frames)
                if not pts:
                    if not len(grey):  # A meets the same failure at this frame itself
                        conn.send(("none",))
                        return
                    across = -reader.frames_before(chunk_pts[0]) % BATCH
                    hashes = BatchHasher(spec, display, first=across)
                    conn.send(("start", chunk_pts[0], grey[:1].copy(), across))
                before = len(pts)  # B's frames before this chunk
                pts.extend(chunk_pts[: len(grey)])
                if before < HEAD:
                    head.append(grey[: HEAD - before].copy())
                    if len(pts) >= HEAD:
                        conn.send(("head", np.concatenate(head)))
                hashes.add(grey)
                for batch in hashes.ready():
                    conn.send(batch.message())
                if greyer.error is not None:
                    hashes.flush()
                    stop = ("scale", plain_error(greyer.error), hashes.done)
                    break
        except NoKeyFrame:
            conn.send(("none",))
            return
        except DecodeError as exc:
            cause = exc.__cause__
            stop = ("decode", None if cause is None else plain_error(cause), len(pts))
        if not pts:
            conn.send(("none",))
            return
        hashes.flush()
        for batch in hashes.ready():
            conn.send(batch.message())
        if len(pts) < HEAD:  # fewer pictures than a head: all of them
            conn.send(("head", np.concatenate(head)))
        done = np.array(pts[: hashes.done], np.int64)
        conn.send(("end", done, stop))
