"""Groups: every pair segment cuts both videos at its ends and carries each cut across to the other
side along its line; the pieces each segment maps onto each other are joined (union-find, with
each piece's speed and mirroring against its root) into groups whose occurrences show the same
footage aligned at their starts. `find_pairs` runs the matcher up to pair segments (views,
seeds, diagonals), `groups_of` groups them, `find_groups` does both."""

from __future__ import annotations

import bisect
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from framedb.match.align import Line
from framedb.match.diagonals import Pair, ViewOf, chains_of, pair_segments
from framedb.match.seeds import runs_of, seeds_of
from framedb.match.tracks import (
    INNER,
    MID,
    TURNED,
    WHOLE,
    Group,
    MatchParams,
    Track,
    nearest,
    nearest_one,
    occurrence,
)
from framedb.store.hashed import HashedVideo

Piece = tuple[int, int]  # (track position, piece index)


class _Cuts:
    """Per track, the sorted ordinals where pieces begin. A new cut within `snap` frames of an
    existing one is dropped, so that propagation around a cycle of slightly inconsistent offsets
    (A-B, B-C, A-C) cannot creep along the footage and shred it into slivers."""

    def __init__(self, snap: list[int]) -> None:
        self.cuts: list[list[int]] = [[] for _ in snap]
        self.snap = snap

    def add(self, track: int, cut: int) -> bool:
        cuts, snap = self.cuts[track], self.snap[track]
        pos = bisect.bisect_left(cuts, cut)
        if (pos < len(cuts) and cuts[pos] - cut <= snap) or (pos and cut - cuts[pos - 1] <= snap):
            return False
        cuts.insert(pos, cut)
        return True


def _cut(tracks: Sequence[Track], pairs: list[Pair], snap: float) -> list[np.ndarray]:
    """Cut every track so that each pair segment maps whole pieces onto whole pieces.

    The ends of the longest pair segments are placed first (they were found on the footage
    itself); cuts carried over from other tracks only fill in, `snap` seconds from any other.
    """
    sides: list[list[tuple[int, int, int, Line]]] = [[] for _ in tracks]
    for p in pairs:
        sides[p.a].append((p.a0, p.a1, p.b, p.line))
        sides[p.b].append((p.b0, p.b1, p.a, p.line.inverse()))
    bounds = [np.array([(s[0], s[1]) for s in side], np.int64).reshape(-1, 2) for side in sides]
    cuts = _Cuts([max(1, int(round(snap / t.step))) for t in tracks])
    queue: list[tuple[int, int]] = []
    for p in sorted(pairs, key=lambda p: p.a0 - p.a1):
        for track, cut in ((p.a, p.a0), (p.a, p.a1 + 1), (p.b, p.b0), (p.b, p.b1 + 1)):
            if cuts.add(track, cut):
                queue.append((track, cut))
    while queue:
        track, cut = queue.pop()
        inside = np.flatnonzero((bounds[track][:, 0] < cut) & (cut <= bounds[track][:, 1]))
        if not len(inside):
            continue  # (a cut past a track's last frame is inside no segment)
        at = float(tracks[track].times[cut])
        for s in inside.tolist():
            _, _, other, line = sides[track][s]
            target = nearest_one(tracks[other].times, float(line.at(at)))
            if cuts.add(other, target):
                queue.append((other, target))
    return [np.array(c, np.int64) for c in cuts.cuts]


class _Union:
    """Union-find over pieces that also knows, for each piece, how fast its footage plays and
    whether it is mirrored, against its root (the first union of two pieces decides)."""

    def __init__(self) -> None:
        self.parent: dict[Piece, tuple[Piece, float, bool]] = {}

    def find(self, x: Piece) -> tuple[Piece, float, bool]:
        """(root, speed of x / speed of root, x mirrored against root); the path is pointed at
        the root with its weights."""
        path = []
        node = x
        while True:
            parent, speed, mirrored = self.parent.setdefault(node, (node, 1.0, False))
            if parent == node:
                break
            path.append((node, speed, mirrored))
            node = parent
        speed, mirrored = 1.0, False
        for piece, s, m in reversed(path):
            speed, mirrored = speed * s, mirrored != m
            self.parent[piece] = (node, speed, mirrored)
        return node, speed, mirrored

    def union(self, x: Piece, y: Piece, speed: float, mirrored: bool) -> None:
        """Join x and y, y playing `speed` times as fast as x, mirrored against it if so."""
        rx, sx, mx = self.find(x)
        ry, sy, my = self.find(y)
        if rx == ry:
            return
        # speed(y) = speed * speed(x): ry / rx = (sx * speed) / sy
        ratio, flip = sx * speed / sy, mx != mirrored != my
        if ry < rx:
            rx, ry, ratio = ry, rx, 1.0 / ratio
        self.parent[ry] = (rx, ratio, flip)


def _join(
    tracks: Sequence[Track], pairs: list[Pair], cuts: list[np.ndarray], union: _Union
) -> None:
    """Union each piece inside a pair segment's side with the piece its middle maps onto."""
    for p in pairs:
        for src, lo, hi, dst, line in (
            (p.a, p.a0, p.a1, p.b, p.line),
            (p.b, p.b0, p.b1, p.a, p.line.inverse()),
        ):
            c, times = cuts[src], tracks[src].times
            first = max(0, int(np.searchsorted(c, lo, "right")) - 1)
            last = min(int(np.searchsorted(c, hi, "right")), len(c) - 1)
            if last <= first:
                continue
            k = np.arange(first, last)
            mid = (times[c[k]] + times[c[k + 1] - 1]) / 2
            inside = (times[lo] <= mid) & (mid <= times[hi])
            k, mid = k[inside], mid[inside]
            q = np.searchsorted(cuts[dst], nearest(tracks[dst].times, line.at(mid)), "right") - 1
            ok = (q >= 0) & (q < len(cuts[dst]) - 1)
            # dst's footage covers rate-times the time: it plays 1 / rate as fast
            speed = 1.0 / line.rate
            for a, b in zip(k[ok].tolist(), q[ok].tolist(), strict=True):
                union.union((src, a), (dst, b), speed, p.mirrored)


def _groups(tracks: Sequence[Track], pairs: list[Pair], params: MatchParams) -> list[Group]:
    cuts = _cut(tracks, pairs, params.min_piece / 2)
    union = _Union()
    _join(tracks, pairs, cuts, union)
    members: dict[Piece, list[tuple[Piece, float, bool]]] = {}
    for piece in list(union.parent):
        root, speed, mirrored = union.find(piece)
        members.setdefault(root, []).append((piece, speed, mirrored))
    groups = []
    for pieces in members.values():
        if len(pieces) < 2:
            continue
        pieces.sort(key=lambda item: (tracks[item[0][0]].video_id, item[0][1]))
        (t0, _), speed0, mirrored0 = pieces[0]
        occ = [
            occurrence(
                tracks[t],
                int(cuts[t][k]),
                int(cuts[t][k + 1]) - 1,
                rate=speed / speed0,
                mirrored=mirrored != mirrored0,
            )
            for (t, k), speed, mirrored in pieces
        ]
        first = occ[0]
        duration = first.end_time - first.start_time + tracks[t0].step
        if duration < params.min_piece:
            continue
        groups.append(Group(tuple(occ), first.end_frame - first.start_frame + 1, duration))
    groups.sort(key=lambda g: (-g.duration * len(g.occurrences), _first_key(g)))
    return groups


def _first_key(group: Group) -> tuple[int, int]:
    return group.occurrences[0].video_id, group.occurrences[0].start_frame


def _check_tracks(tracks: Sequence[Track]) -> None:
    ids = [t.video_id for t in tracks]
    if len(set(ids)) != len(ids):
        raise ValueError(f"each track must have its own video_id, got {ids}")
    widths = {t.codes.shape[1] for t in tracks}
    if len(widths) > 1:
        raise ValueError(f"all tracks must use one hash size, got {sorted(widths)} bytes")


def views_of(
    tracks: Sequence[Track], mirror: np.ndarray | None
) -> tuple[list[Track], list[ViewOf], int]:
    """The views matching compares, in blocks of one per track: the hashes; with a mirror mask
    or inner hashes, also the hashes mirrored, the inner hashes, and those mirrored; between
    videos with middle hashes, also those and those mirrored, and then the clockwise and the
    counter-clockwise turned hashes, not mirrored (only other videos are related to these:
    framedb.match.seeds). An empty view where a track has none. Returns (views, what each shows,
    blocks)."""
    parts = [WHOLE]
    if mirror is not None or any(t.inner is not None for t in tracks):
        parts.append(INNER)
        if len(tracks) > 1 and any(t.mid is not None for t in tracks):
            parts.append(MID)
    kinds = [(WHOLE, False)] if parts == [WHOLE] else [(p, m) for p in parts for m in (False, True)]
    if MID in parts and any(t.turned is not None for t in tracks):
        kinds += [(part, False) for part in TURNED]
    views: list[Track] = []
    owners: list[ViewOf] = []
    for k, (part, mirrored) in enumerate(kinds):
        for position, track in enumerate(tracks):
            view = track if k == 0 else track.view(part, mirror=mirror if mirrored else None)
            if view is None or (mirrored and mirror is None):
                view = Track(track.video_id, track.times[:0], track.codes[:0], track.detail[:0])
            views.append(view)
            owners.append(ViewOf(position, mirrored, part))
    return views, owners, len(kinds)


def find_pairs(
    tracks: Sequence[Track],
    params: MatchParams = MatchParams(),
    *,
    mirror: np.ndarray | None = None,
) -> list[Pair]:
    """Every pair segment within and across the tracks (in track positions): views, seeds,
    diagonals. `mirror`: the hash's mirror mask (framedb.hashing.mirror_mask), to find mirrored
    copies."""
    _check_tracks(tracks)
    if not tracks:
        return []
    views, owners, blocks = views_of(tracks, mirror)
    runs = runs_of(views, params.min_detail)
    if len(runs.code) < 2:
        return []
    seeds = seeds_of(runs, params, blocks)
    chains = chains_of(views, owners, runs, seeds, params)
    return pair_segments(views, owners, chains, params)


def groups_of(
    tracks: Sequence[Track],
    pairs: list[Pair],
    params: MatchParams = MatchParams(),
    *,
    only: Collection[int] | None = None,
) -> list[Group]:
    """The groups the pair segments form, strongest (longest x occurrences) first. Only the
    tracks' times are used. `only`: keep only groups that involve one of these video ids."""
    groups = _groups(tracks, pairs, params) if pairs else []
    if only is not None:
        wanted = set(only)
        groups = [g for g in groups if any(o.video_id in wanted for o in g.occurrences)]
    return groups


def find_groups(
    tracks: Sequence[Track],
    params: MatchParams = MatchParams(),
    *,
    only: Collection[int] | None = None,
    mirror: np.ndarray | None = None,
) -> list[Group]:
    """All footage shared within and across the tracks, as groups, strongest first (the pairs
    of `find_pairs`, grouped by `groups_of`)."""
    return groups_of(tracks, find_pairs(tracks, params, mirror=mirror), params, only=only)


@dataclass(frozen=True)
class LoopsOf:
    """The pair segments of one video with itself, from its hashes: picklable, and importing
    nothing but numpy, so that the worker that decoded the video can find them
    (framedb.ingest.workers.DecodeThen)."""

    params: MatchParams
    mirror: np.ndarray | None

    def __call__(self, hashed: HashedVideo) -> list[Pair]:
        track = Track.of(0, hashed)
        return find_pairs([track], self.params, mirror=self.mirror)
