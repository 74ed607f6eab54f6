"""Groups: every pair segment cuts both videos at its ends and carries each cut across to the other
side; the pieces each segment maps onto each other are joined (union-find) into groups whose
occurrences show the same footage aligned at their starts. `find_groups` runs the whole matcher:
seeds, diagonals, groups."""

from __future__ import annotations

import bisect
from collections.abc import Collection, Sequence

import numpy as np

from framedb.match.align import Pair, chains_of, pair_segments
from framedb.match.seeds import runs_of, seeds_of
from framedb.match.tracks import Group, MatchParams, Track, nearest, occurrence


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
    sides: list[list[tuple[int, int, int, float]]] = [[] for _ in tracks]
    for p in pairs:
        sides[p.a].append((p.a0, p.a1, p.b, p.dt))
        sides[p.b].append((p.b0, p.b1, p.a, -p.dt))
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
        for s in inside.tolist():
            _, _, other, dt = sides[track][s]
            target = int(nearest(tracks[other].times, tracks[track].times[cut] + dt))
            if cuts.add(other, target):
                queue.append((other, target))
    return [np.array(c, np.int64) for c in cuts.cuts]


class _Union:
    def __init__(self) -> None:
        self.parent: dict[tuple[int, int], tuple[int, int]] = {}

    def find(self, x: tuple[int, int]) -> tuple[int, int]:
        parent = self.parent
        root = parent.setdefault(x, x)
        while root != parent[root]:
            root = parent[root]
        while x != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, x: tuple[int, int], y: tuple[int, int]) -> None:
        rx, ry = self.find(x), self.find(y)
        if rx != ry:
            self.parent[max(rx, ry)] = min(rx, ry)


def _join(
    tracks: Sequence[Track], pairs: list[Pair], cuts: list[np.ndarray], union: _Union
) -> None:
    """Union each piece inside a pair segment's side with the piece its middle maps onto."""
    for p in pairs:
        for src, lo, hi, dst, dt in ((p.a, p.a0, p.a1, p.b, p.dt), (p.b, p.b0, p.b1, p.a, -p.dt)):
            c, times = cuts[src], tracks[src].times
            first = max(0, int(np.searchsorted(c, lo, "right")) - 1)
            last = int(np.searchsorted(c, hi, "right"))
            for k in range(first, min(last, len(c) - 1)):
                mid = (times[c[k]] + times[c[k + 1] - 1]) / 2
                if not times[lo] <= mid <= times[hi]:
                    continue
                target = int(nearest(tracks[dst].times, mid + dt))
                q = int(np.searchsorted(cuts[dst], target, "right")) - 1
                if 0 <= q < len(cuts[dst]) - 1:
                    union.union((src, k), (dst, q))


def _groups(tracks: Sequence[Track], pairs: list[Pair], params: MatchParams) -> list[Group]:
    cuts = _cut(tracks, pairs, params.min_piece / 2)
    union = _Union()
    _join(tracks, pairs, cuts, union)
    members: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for piece in list(union.parent):
        members.setdefault(union.find(piece), []).append(piece)
    groups = []
    for pieces in members.values():
        if len(pieces) < 2:
            continue
        pieces.sort(key=lambda piece: (tracks[piece[0]].video_id, piece[1]))
        occ = [occurrence(tracks[t], int(cuts[t][k]), int(cuts[t][k + 1]) - 1) for t, k in pieces]
        first = occ[0]
        duration = first.end_time - first.start_time + tracks[pieces[0][0]].step
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


def find_groups(
    tracks: Sequence[Track],
    params: MatchParams = MatchParams(),
    *,
    only: Collection[int] | None = None,
) -> list[Group]:
    """All footage shared within and across the tracks, as groups, strongest (longest x
    occurrences) first. `only`: keep only groups that involve at least one of these video ids."""
    _check_tracks(tracks)
    if not tracks:
        return []
    runs = runs_of(tracks, params.min_detail)
    if len(runs.code) < 2:
        return []
    seeds = seeds_of(runs, params)
    chains = chains_of(tracks, runs, seeds, params)
    pairs = pair_segments(tracks, chains, params)
    groups = _groups(tracks, pairs, params)
    if only is not None:
        wanted = set(only)
        groups = [g for g in groups if any(o.video_id in wanted for o in g.occurrences)]
    return groups
