"""Finding a video's segments against the collection, as it is stored (framedb.ingest hands each
video here inside the transaction that writes its frames) or again on `--recompute`.

A video's segments are its loops (the matcher run on it alone) and, for every video stored before
it that holds a detailed frame within NEAR_RADIUS bits of one of its frames (`hits.videos_near`,
a symmetric relation), the pair segments the matcher finds between the two of them alone, the
two given to it in the order of their content fingerprints. What is stored for two videos so
depends on nothing but their frames: not on the order they came in, nor on the other videos, so
that segments found one video at a time equal those of a `--recompute`, and removing a video
leaves the others' segments true."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from concurrent.futures import Future

import numpy as np
from sqlalchemy import Connection

from framedb.match.diagonals import Pair
from framedb.match.groups import LoopsOf, find_pairs
from framedb.match.hits import videos_near
from framedb.match.stored import matcher_key, rows_of, track_of
from framedb.match.tracks import MatchParams, Track
from framedb.store import segments
from framedb.store.hashed import HashedVideo
from framedb.store.index import FrameIndex
from framedb.store.rows import Store
from framedb.store.tables import SegmentRow, VideoRow

# Shared footage of a second or more has many aligned frames within 4 bits of each other (every
# copy of tests/test_transforms.py is found so); 4 bits instead of the seed radius (8) cut the
# index probes of a new video's frames tenfold: 100,000 random codes against 1 M, 129 s -> 13 s.
# A change here changes what is stored: bump stored.MATCHER_VERSION with it.
NEAR_RADIUS = 4


class SegmentFinder:
    """Finds and stores segments for one writer. `indexes`: of the stored hashes and inner
    hashes when the writer began; the frames it commits afterwards are added to indexes of its
    own (`committed`), so that each video is matched against every one stored before it."""

    def __init__(
        self,
        store: Store,
        params: MatchParams,
        mirror: np.ndarray | None,
        indexes: tuple[FrameIndex, FrameIndex],
        bits: int,
    ) -> None:
        self.store = store
        self.params = params
        self.mirror = mirror
        self.key = matcher_key(params)
        # which stored videos are worth matching (the pair's matcher then seeds at its radius)
        self.probe = dataclasses.replace(params, radius=min(params.radius, NEAR_RADIUS))
        self.base = indexes
        self.recent = (FrameIndex(bits), FrameIndex(bits))
        self.nbytes = bits // 8
        self.ahead: tuple[HashedVideo, Future[list[Pair]]] | None = None  # loops being found

    def in_worker(self) -> LoopsOf:
        """Ingest's hook: what a worker finds of a video it has just decoded (its loops)."""
        return LoopsOf(self.params, self.mirror)

    def prepare(self, hashed: HashedVideo) -> None:
        """Ingest's hook, before `hashed` is written: its loops need nothing stored, so unless
        its worker found them they are found on another thread while its frames are written
        (numpy and SQLite let go of the GIL: the 24-hour video's 5.6 s of loops and 6.6 s of
        rows take 7.3 s together)."""
        loops: Future[list[Pair]] = Future()
        self.ahead = (hashed, loops)
        if hashed.loops is not None:
            loops.set_result(hashed.loops)
            return
        loops_of = self.in_worker()  # what a worker would have run, run here

        def find() -> None:
            try:
                loops.set_result(loops_of(hashed))
            except BaseException as exc:  # handed to `stored`, which raises it
                loops.set_exception(exc)

        threading.Thread(target=find, name="framedb-loops", daemon=True).start()

    def stored(self, conn: Connection, video_id: int, hashed: HashedVideo) -> None:
        """Ingest's hook: `hashed` was just written as `video_id` in `conn`'s transaction."""
        track = Track.of(video_id, hashed)
        ahead, self.ahead = self.ahead, None
        loops = rows_of([track], ahead[1].result()) if ahead and ahead[0] is hashed else None
        self.store_for(conn, track, loops)

    def committed(self, ids: np.ndarray, codes: np.ndarray, inner: np.ndarray | None) -> None:
        """Frames committed since the writer began: later videos are matched against them."""
        self.recent[0].add(ids, codes)
        if inner is not None:
            self.recent[1].add(ids, inner)

    def store_for(
        self, conn: Connection, track: Track, loops: list[SegmentRow] | None = None
    ) -> int:
        """Find the segments of `track` (a video whose frames `conn` has just written, or one
        stored before) with itself (unless given: `loops`) and the videos stored before it, and
        write them in `conn`'s transaction in place of those it had with them; returns how
        many."""
        candidates = sorted(v for v in self.near(track) if v < track.video_id)
        fingerprints = {
            v.id: v.fingerprint for v in self.store.videos(conn, [*candidates, track.video_id])
        }
        older = [v for v in candidates if v in fingerprints]
        rows = self.loops_of(track) if loops is None else loops
        for other in older:
            partner = track_of(self.store, conn, other, self.nbytes)
            rows += self.between(partner, track, fingerprints)
        segments.delete_older(conn, track.video_id)
        segments.write(conn, rows)
        segments.mark(conn, [track.video_id], self.key)
        return len(rows)

    def recompute(self, conn: Connection, videos: Sequence[VideoRow]) -> int:
        """Find every segment of the collection (`videos`: all its stored videos) from the
        frames in place of what was stored; returns how many."""
        tracks = {v.id: track_of(self.store, conn, v.id, self.nbytes) for v in videos}
        rows = self.rows_for(videos, tracks)
        segments.delete_all(conn)
        segments.write(conn, rows)
        segments.mark(conn, list(tracks), self.key)
        return len(rows)

    def rows_for(self, videos: Sequence[VideoRow], tracks: dict[int, Track]) -> list[SegmentRow]:
        """The segments of `videos` (`tracks`: theirs, by id) with themselves and each other,
        found video after video as ingest finds them, each against those before it."""
        fingerprints = {v.id: v.fingerprint for v in videos}
        rows = []
        for video_id, track in sorted(tracks.items()):
            rows += self.loops_of(track)
            for other in sorted(v for v in self.near(track) if v < video_id and v in tracks):
                rows += self.between(tracks[other], track, fingerprints)
        return rows

    def near(self, track: Track) -> set[int]:
        """The stored videos with a detailed frame near one of `track`'s (and `track`'s own)."""
        found: set[int] = set()
        for indexes in (self.base, self.recent):
            if len(indexes[0]):
                found |= videos_near(indexes, self.store, track, self.probe, self.mirror)
        return found

    def loops_of(self, track: Track) -> list[SegmentRow]:
        """The pair segments of footage repeated inside one video."""
        return rows_of([track], find_pairs([track], self.params, mirror=self.mirror))

    def between(self, a: Track, b: Track, fingerprints: dict[int, str]) -> list[SegmentRow]:
        """The pair segments of footage two videos share, found on those two alone."""
        pair = sorted((a, b), key=lambda t: (fingerprints[t.video_id], t.video_id))
        found = find_pairs(pair, self.params, mirror=self.mirror)
        return rows_of(pair, [p for p in found if p.a != p.b])
