"""`matches`, `loops` and `where --segments`, answered from the stored segments where they hold,
else from the frames; and the finder (framedb.match.finder) that stores them at ingest and on
`--recompute`.

Stored segments answer when every video the answer involves had its segments found by the
current matcher (`matcher_key`) and the answer's parameters differ from the stored ones at most
by a longer `min_length` (a filter on stored segments). Otherwise the segments are found from the
frames the way the finder finds them, grouped the same way, and `note` says why."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence

import numpy as np
from sqlalchemy import Connection

from framedb.match.align import Line
from framedb.match.finder import SegmentFinder
from framedb.match.hits import Hit, WhereResult, extend_hits
from framedb.match.stored import (
    connected,
    matcher_key,
    stored_groups,
    timeline,
    timelines,
    track_of,
)
from framedb.match.tracks import Group, MatchParams, Occurrence, Track
from framedb.store import segments
from framedb.store.database import Database
from framedb.store.tables import DONE, PARTIAL, SegmentRow, VideoRow


class StoredAnswers:
    """Answers for one database, whose segments are found with `params` (the defaults for its
    hash) and the hash's `mirror` mask."""

    def __init__(self, db: Database, params: MatchParams, mirror: np.ndarray | None) -> None:
        self.db = db
        self.store = db.store
        self.params = params
        self.mirror = mirror
        self.nbytes = db.spec.nbytes
        self.key = matcher_key(params)

    def finder(self, params: MatchParams | None = None) -> SegmentFinder:
        """Finds each video's segments against the collection as it is now (ingest, recompute;
        with other `params`, an answer from the frames)."""
        indexes = (self.db.cache.index(), self.db.inner.index())
        return SegmentFinder(
            self.store, params or self.params, self.mirror, indexes, self.db.spec.bits
        )

    # -- answers -------------------------------------------------------------------------------
    def usable(self, videos: Sequence[VideoRow], params: MatchParams) -> bool:
        return not self.stale(videos) and self._same(params)

    def note(self, videos: Sequence[VideoRow], params: MatchParams) -> str | None:
        """Why an answer about `videos` with `params` comes from the frames (None: it does not)."""
        if not self._same(params):
            if dataclasses.replace(params, min_length=self.params.min_length) == self.params:
                return (
                    f"segments are stored for {self.params.min_length:g} s and longer; "
                    f"--min-length {params.min_length:g} is answered from the frames"
                )
            return "other matching parameters than the stored segments': answered from the frames"
        stale = self.stale(videos)
        if not stale:
            return None
        never = sum(v.segments is None for v in stale)
        what = (
            "have no stored segments (stored before framedb kept them)"
            if never == len(stale)
            else "have segments stored by another matcher (another framedb version)"
        )
        return (
            f"{len(stale)} of {len(videos)} videos {what}: answered from the frames; "
            "run it with --recompute to store them"
        )

    def matches(
        self,
        videos: Sequence[VideoRow],
        params: MatchParams,
        only: Collection[int] | None = None,
        tracks: dict[int, Track] | None = None,
    ) -> list[Group]:
        """The groups among `videos` (those involving `only`, if given), strongest first."""
        if self.usable(videos, params):
            with self.store.reading() as conn:
                rows = segments.of_videos(conn, None if only is None else connected_ids(conn, only))
                involved = {v for r in rows for v in (r.video_a, r.video_b)} | set(only or ())
                times = segments.times_of(conn, involved)
            return stored_groups(rows, timelines(times), params, only=only)
        if tracks is None:
            tracks = self.tracks(videos)
        rows = self.finder(params).rows_for(videos, tracks)
        return stored_groups(rows, tracks, params, only=only)

    def loops(self, video: VideoRow, params: MatchParams) -> tuple[Track, list[Group]]:
        """The groups of footage repeated inside `video`; and its track (of times only, when
        answered from stored segments)."""
        if not self.usable([video], params):
            track = self.tracks([video])[video.id]
            rows = self.finder(params).loops_of(track)
            return track, stored_groups(rows, {video.id: track}, params)
        with self.store.reading() as conn:
            rows = [r for r in segments.of_videos(conn, [video.id]) if r.video_a == r.video_b]
            times = segments.times_of(conn, [video.id])
        track = timeline(video.id, times[video.id])
        return track, stored_groups(rows, {video.id: track}, params)

    def where_segments(self, result: WhereResult, names: dict[int, str]) -> WhereResult:
        """`result` with each hit grown into the pair of occurrences it belongs to: from the
        stored segment that holds both frames, else (a hit no segment holds, stale segments)
        from the frames of the two videos."""
        query = result.query
        if query is None or not result.hits:
            return result
        ids = {query.video_id} | {h.video_id for h in result.hits}
        with self.store.reading() as conn:
            rows_by_id = {v.id: v for v in self.store.videos(conn, sorted(ids))}
        stored: list[SegmentRow] = []
        if self.usable(list(rows_by_id.values()), self.params):
            with self.store.reading() as conn:
                stored = segments.of_videos(conn, [query.video_id])
        hits, missing = [], []
        for hit in result.hits:
            pair = _stored_pair(stored, query.video_id, query.frame, hit)
            if pair is None:
                missing.append(hit)
                hits.append(hit)
                continue
            named = tuple(dataclasses.replace(o, video=names[o.video_id]) for o in pair)
            hits.append(dataclasses.replace(hit, segment=(named[0], named[1])))
        if missing:
            wanted = {query.video_id} | {h.video_id for h in missing}
            tracks = self.tracks([rows_by_id[i] for i in sorted(wanted)])
            grown = extend_hits(
                dataclasses.replace(result, hits=missing), tracks, names, self.params, self.mirror
            )
            by_key = {(h.video_id, h.frame): h for h in grown.hits}
            hits = [by_key.get((h.video_id, h.frame), h) if h in missing else h for h in hits]
        return dataclasses.replace(result, hits=hits)

    def matchable(self) -> list[VideoRow]:
        """The stored videos that have frames to match (done, or partly decoded)."""
        with self.store.reading() as conn:
            return [
                v for v in self.store.videos(conn) if v.status in (DONE, PARTIAL) and v.frame_count
            ]

    def tracks(self, videos: Sequence[VideoRow]) -> dict[int, Track]:
        with self.store.reading() as conn:
            return {v.id: track_of(self.store, conn, v.id, self.nbytes) for v in videos}

    def stale(self, videos: Sequence[VideoRow]) -> list[VideoRow]:
        """The videos whose stored segments another matcher found, or that have none."""
        return [v for v in videos if v.segments != self.key]

    def _same(self, params: MatchParams) -> bool:
        same = dataclasses.replace(params, min_length=self.params.min_length) == self.params
        return same and params.min_length >= self.params.min_length

    # -- writes --------------------------------------------------------------------------------
    def recompute(self, conn: Connection, videos: Sequence[VideoRow]) -> int:
        """Find every segment of the collection (`videos`: all its stored videos) from the
        frames and store them in place of what was stored; returns how many."""
        return self.finder().recompute(conn, videos)


def connected_ids(conn: Connection, ids: Collection[int]) -> set[int]:
    """`ids` and every video that shares footage with them, directly or through others."""
    seen, todo = set(ids), set(ids)
    while todo:
        rows = segments.of_videos(conn, todo)
        todo = connected(rows, todo) - seen
        seen |= todo
    return seen


def _stored_pair(
    rows: Sequence[SegmentRow], video: int, frame: int, hit: Hit
) -> tuple[Occurrence, Occurrence] | None:
    """The occurrences of the stored segment between two videos that shows `frame` of `video`
    as `hit` shows it (the hit's run of frames meets the segment's side), or None."""
    for r in rows:
        sides = [
            (r.video_a, r.a_start, r.a_end, r.a_start_time, r.a_end_time),
            (r.video_b, r.b_start, r.b_end, r.b_start_time, r.b_end_time),
        ]
        line = Line(r.dt, r.rate)
        for mine, theirs, along in ((0, 1, line), (1, 0, line.inverse())):
            (v, q0, q1, qt0, qt1), (w, h0, h1, ht0, ht1) = sides[mine], sides[theirs]
            if v == w or v != video or w != hit.video_id or not q0 <= frame <= q1:
                continue  # (a loop's hit is cut to one period from the frames: extend_hits)
            if hit.last_frame < h0 or hit.first_frame > h1 or hit.mirrored != r.mirrored:
                continue
            return (
                Occurrence(v, q0, q1, qt0, qt1),
                Occurrence(w, h0, h1, ht0, ht1, rate=1.0 / along.rate, mirrored=r.mirrored),
            )
    return None
