"""Matching on real encoded videos with exact ground truth, and the code join against brute force.

Every clip length is a multiple of 0.2 s, so that it is a whole number of frames at 25 and 30 fps
and each occurrence's first and last frame are known exactly.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from framedb.hashing import hamming
from framedb.hashspec import HashSpec
from framedb.ingest.extract import hash_video
from framedb.match import join, seeds
from framedb.match.align import extend_occurrence
from framedb.match.groups import find_groups
from framedb.match.join import near_pairs
from framedb.match.loops import LoopSummary, summarise_loops
from framedb.match.tracks import Group, MatchParams, Occurrence, Track, nearest, nearest_one
from tests.media import Segment, write_video

LOOP = Segment(1, 0.0, 2.4)  # the looped clip, also copied into video "c"
SHARED = Segment(5, 2.0, 2.4)  # footage shared by videos "a", "b" and "c"

VIDEOS = {
    # name: (segments, fps, size, crf)
    "loop": ([Segment(2, 0, 1.2), LOOP, LOOP, LOOP, Segment(3, 0, 1.2)], 30, (160, 90), 20),
    "a": ([Segment(4, 0, 1.2), SHARED, Segment(6, 0, 1.2)], 30, (320, 180), 18),
    "b": ([Segment(7, 0, 2.0), SHARED, Segment(8, 0, 0.8)], 30, (160, 90), 32),
    "c": ([Segment(9, 0, 0.8), SHARED, LOOP, Segment(10, 0, 0.8)], 25, (192, 108), 26),
    "plain": (
        [
            Segment(11, 0, 1.6),
            Segment(12, 0, 1.6, "still"),
            Segment(0, 0, 0.8, "black"),
            Segment(13, 0, 1.6, "fade"),
            Segment(14, 0, 1.6),
        ],
        30,
        (160, 90),
        20,
    ),
    "loop30": (
        [Segment(18, 0, 0.6), *[Segment(17, 0, 1.2)] * 30, Segment(19, 0, 0.6)],
        30,
        (160, 90),
        28,
    ),
    "still": (
        [Segment(15, 0, 3.0, "still"), Segment(16, 0, 1.2), Segment(15, 0, 2.0, "still")],
        30,
        (160, 90),
        20,
    ),
}
IDS = {name: k + 1 for k, name in enumerate(VIDEOS)}

# (video, first frame, last frame) of every occurrence, from the segment layout
LOOP_TRUTH = [("loop", 36, 107), ("loop", 108, 179), ("loop", 180, 251), ("c", 80, 139)]
SHARED_TRUTH = [("a", 36, 107), ("b", 60, 131), ("c", 20, 79)]


@pytest.fixture(scope="session")
def tracks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Track]:
    folder = tmp_path_factory.mktemp("match")
    out = {}
    for name, (segments, fps, size, crf) in VIDEOS.items():
        path = folder / f"{name}.mp4"
        written = write_video(path, segments, fps=fps, size=size, crf=crf)
        hashed = hash_video(Path(path), HashSpec())
        assert len(hashed.times) == len(written)
        out[name] = Track(IDS[name], hashed.times, hashed.codes, hashed.detail)
    return out


def occurrence_frames(group: Group) -> list[tuple[int, int, int]]:
    return [(o.video_id, o.start_frame, o.end_frame) for o in group.occurrences]


def assert_occurrences(group: Group, truth: list[tuple[str, int, int]]) -> None:
    """Same videos, in order, each boundary within one frame of the truth."""
    got = occurrence_frames(group)
    want = sorted((IDS[name], first, last) for name, first, last in truth)
    assert [g[0] for g in got] == [w[0] for w in want], (got, want)
    for (_, first, last), (_, true_first, true_last) in zip(got, want, strict=True):
        assert abs(first - true_first) <= 1 and abs(last - true_last) <= 1, (got, want)


def assert_times_match_frames(group: Group, tracks: dict[str, Track]) -> None:
    by_id = {t.video_id: t for t in tracks.values()}
    for o in group.occurrences:
        assert o.start_time == by_id[o.video_id].times[o.start_frame]
        assert o.end_time == by_id[o.video_id].times[o.end_frame]


# ---------------------------------------------------------------------------------------------
# Real videos


def test_a_clip_looped_three_times_is_one_group_of_three(tracks: dict[str, Track]) -> None:
    groups = find_groups([tracks["loop"]])
    assert len(groups) == 1
    assert_occurrences(groups[0], LOOP_TRUTH[:3])
    # inside one video (one frame grid) the boundaries are exact, not just within a frame
    assert occurrence_frames(groups[0]) == [
        (IDS[v], first, last) for v, first, last in LOOP_TRUTH[:3]
    ]
    assert_times_match_frames(groups[0], tracks)
    first = groups[0].occurrences[0]
    assert groups[0].frames == first.end_frame - first.start_frame + 1
    assert groups[0].duration == pytest.approx(2.4, abs=1 / 30 + 1e-9)


def test_thirty_encoded_repetitions_are_one_group(tracks: dict[str, Track]) -> None:
    """Each repetition is encoded anew (other frame types, other artefacts); neighbouring offsets
    match slow parts of the clip nearly as well as the true one and must not shift the period."""
    loop = tracks["loop30"]
    groups = find_groups([loop])
    assert len(groups) == 1
    # on one frame grid the period is exact, so every boundary is exact
    truth = [(IDS["loop30"], 18 + 36 * k, 18 + 36 * k + 35) for k in range(30)]
    assert occurrence_frames(groups[0]) == truth
    assert groups[0].frames == 36
    [summary] = summarise_loops(loop, groups)
    assert summary.repeats == 30
    assert summary.period == pytest.approx(1.2, abs=1e-6)
    assert summary.coverage == pytest.approx(36 / 37.2, abs=0.01)


def test_loop_summary_reads_like_a_person_would_say_it(tracks: dict[str, Track]) -> None:
    loop = tracks["loop"]
    summaries = summarise_loops(loop, find_groups([loop]))
    assert len(summaries) == 1
    s = summaries[0]
    assert s.repeats == 3
    assert s.period == pytest.approx(2.4, abs=1e-6)
    assert s.start_time == pytest.approx(1.2, abs=1 / 30 + 1e-9)
    assert s.end_time == pytest.approx(107 / 30, abs=1 / 30 + 1e-9)
    assert s.coverage == pytest.approx(7.2 / 9.6, abs=0.01)
    assert s.text() == "00:00:01.20–00:00:03.57 repeats 3 times, period 2.40 s, 75 % of the video"
    assert str(s) == s.text()


def test_shared_segment_survives_rescaling_and_reencoding(tracks: dict[str, Track]) -> None:
    groups = find_groups([tracks["a"], tracks["b"]])
    assert len(groups) == 1
    assert_occurrences(groups[0], SHARED_TRUTH[:2])
    a, b = groups[0].occurrences
    assert a.start_time == pytest.approx(1.2, abs=1 / 30 + 1e-9)
    assert b.start_time == pytest.approx(2.0, abs=1 / 30 + 1e-9)
    assert b.end_time - b.start_time == pytest.approx(2.4 - 1 / 30, abs=1 / 30 + 1e-9)


def test_25_and_30_fps_copies_align_on_timestamps(tracks: dict[str, Track]) -> None:
    groups = find_groups([tracks["a"], tracks["c"]])
    assert len(groups) == 1
    assert_occurrences(groups[0], [SHARED_TRUTH[0], SHARED_TRUTH[2]])
    a, c = groups[0].occurrences
    assert a.start_time == pytest.approx(1.2, abs=1 / 25 + 1e-9)
    assert c.start_time == pytest.approx(0.8, abs=1 / 25 + 1e-9)
    assert c.end_time == pytest.approx(3.2 - 1 / 25, abs=1 / 25 + 1e-9)


def test_collection_joins_pairs_into_groups(tracks: dict[str, Track]) -> None:
    """The loop (3 times in one video, once in another) is one group of 4; the segment shared by
    three videos is one group of 3; still shots, fades, black frames make nothing."""
    groups = find_groups([t for name, t in tracks.items() if name != "loop30"])
    assert len(groups) == 2
    assert_occurrences(groups[0], LOOP_TRUTH)  # strongest first: 4 x 2.4 s
    assert_occurrences(groups[1], SHARED_TRUTH)
    for g in groups:
        assert_times_match_frames(g, tracks)


def test_no_reuse_gives_no_groups(tracks: dict[str, Track]) -> None:
    assert find_groups([tracks["plain"]]) == []
    assert find_groups([tracks["plain"], tracks["still"]]) == []


def test_a_still_shot_is_not_a_loop(tracks: dict[str, Track]) -> None:
    """The same still picture for 3 s and again for 2 s matches itself at every offset; with no
    motion in it, it is neither a loop nor reuse."""
    still = tracks["still"]
    codes = still.codes[: 90 - 1]
    assert hamming(codes[:1], codes).max() <= 4  # really one picture
    assert find_groups([still]) == []
    assert summarise_loops(still, find_groups([still])) == []


def test_only_keeps_groups_that_involve_the_named_videos(tracks: dict[str, Track]) -> None:
    everything = [t for name, t in tracks.items() if name != "loop30"]
    only_b = find_groups(everything, only={IDS["b"]})
    assert len(only_b) == 1
    assert_occurrences(only_b[0], SHARED_TRUTH)
    only_loop = find_groups(everything, only=[IDS["loop"]])
    assert len(only_loop) == 1
    assert_occurrences(only_loop[0], LOOP_TRUTH)
    assert find_groups(everything, only={IDS["plain"], IDS["still"]}) == []
    assert find_groups(everything, only=set()) == []


def test_extend_occurrence_grows_a_hit_into_its_segment(tracks: dict[str, Track]) -> None:
    a, b = tracks["a"], tracks["b"]
    qa, qb = extend_occurrence(a, 50, b, 74)
    assert (qa.video_id, qb.video_id) == (IDS["a"], IDS["b"])
    assert abs(qa.start_frame - 36) <= 1 and abs(qa.end_frame - 107) <= 1
    assert abs(qb.start_frame - 60) <= 1 and abs(qb.end_frame - 131) <= 1
    # the hit named first gives the same pair, swapped
    rb, ra = extend_occurrence(b, 74, a, 50)
    assert (ra, rb) == (qa, qb)


def test_extend_occurrence_inside_a_loop_gives_one_period(tracks: dict[str, Track]) -> None:
    loop = tracks["loop"]
    first, second = extend_occurrence(loop, 50, loop, 122)
    assert abs(first.start_frame - 36) <= 1 and abs(first.end_frame - 107) <= 1
    assert abs(second.start_frame - 108) <= 1 and abs(second.end_frame - 179) <= 1
    later, earlier = extend_occurrence(loop, 122, loop, 50)
    assert (earlier, later) == (first, second)
    with pytest.raises(ValueError):
        extend_occurrence(loop, 50, loop, 50)
    with pytest.raises(ValueError):
        extend_occurrence(loop, len(loop), loop, 50)


# ---------------------------------------------------------------------------------------------
# Synthetic codes: fast, exact properties


def walk(rng: np.random.Generator, n: int, flips: int = 3) -> np.ndarray:
    """Codes of moving footage: each frame flips a few bits of the one before."""
    bits = np.empty((n, 64), np.uint8)
    bits[0] = rng.integers(0, 2, 64)
    for k in range(1, n):
        bits[k] = bits[k - 1]
        bits[k, rng.choice(64, flips, replace=False)] ^= 1
    return np.packbits(bits, axis=1)


def synthetic(codes: np.ndarray, video_id: int = 1, fps: float = 30.0) -> Track:
    n = len(codes)
    return Track(video_id, np.arange(n) / fps, codes, np.full(n, 20.0, np.float32))


def test_a_clip_repeated_many_times_costs_its_distinct_codes() -> None:
    """500 back-to-back repetitions: one group of 500 occurrences, found without pairing every
    repetition with every other (that would be 125 000 pair segments)."""
    rng = np.random.default_rng(1)
    clip, reps = walk(rng, 90), 500
    codes = np.concatenate([walk(rng, 60), np.tile(clip, (reps, 1)), walk(rng, 60)])
    track = synthetic(codes)
    start = time.perf_counter()
    groups = find_groups([track])
    elapsed = time.perf_counter() - start
    assert len(groups) == 1
    starts = [o.start_frame for o in groups[0].occurrences]
    assert starts == list(range(60, 60 + 90 * reps, 90))
    assert groups[0].frames == 90
    assert elapsed < 20
    [summary] = summarise_loops(track, groups)
    assert summary.repeats == reps
    assert summary.period == pytest.approx(3.0)


def test_a_loop_cut_short_is_described_once() -> None:
    """2.5 repetitions come out as the part seen 3 times and the part seen twice; the summary
    tells them as one loop."""
    rng = np.random.default_rng(2)
    clip = walk(rng, 90)
    codes = np.concatenate([walk(rng, 30), clip, clip, clip[:45], walk(rng, 30)])
    track = synthetic(codes)
    groups = find_groups([track])
    assert sorted(occurrence_frames(g) for g in groups) == [
        [(1, 30, 74), (1, 120, 164), (1, 210, 254)],
        [(1, 75, 119), (1, 165, 209)],
    ]
    [summary] = summarise_loops(track, groups)
    assert (summary.start_time, summary.end_time) == (1.0, pytest.approx(119 / 30))
    assert summary.repeats == 3
    assert summary.period == pytest.approx(3.0)
    assert summary.coverage == pytest.approx(225 / 285)


def test_loop_periods_are_at_least_min_gap() -> None:
    rng = np.random.default_rng(3)
    clip = walk(rng, 24)  # 0.8 s, four times in a row
    track = synthetic(np.concatenate([clip, clip, clip, clip, walk(rng, 30)]))
    [short] = find_groups([track], MatchParams(min_gap=0.5, min_length=0.5))
    assert [o.start_frame for o in short.occurrences] == [0, 24, 48, 72]
    # a period under min_gap is not seen; twice the clip is still a loop of period 1.6 s
    [double] = find_groups([track], MatchParams(min_gap=1.0, min_length=0.5))
    assert [(o.start_frame, o.end_frame) for o in double.occurrences] == [(0, 47), (48, 95)]
    assert find_groups([track], MatchParams(min_gap=3.5, min_length=0.5)) == []


def test_short_shared_segments_are_dropped() -> None:
    rng = np.random.default_rng(4)
    shared = walk(rng, 45)  # 1.5 s
    a = synthetic(np.concatenate([walk(rng, 30), shared, walk(rng, 30)]), 1)
    b = synthetic(np.concatenate([walk(rng, 50), shared, walk(rng, 10)]), 2)
    assert len(find_groups([a, b], MatchParams(min_length=1.0))) == 1
    assert find_groups([a, b], MatchParams(min_length=2.0)) == []


def test_ends_stop_where_the_footage_does_not_where_look_alikes_end() -> None:
    """Before the shared footage (0 bits apart) both videos show other footage that happens
    to sit 13 bits apart frame by frame, within the extension radius (14): the segment starts
    where the shared footage does, not 5 frames before it."""
    rng = np.random.default_rng(5)
    shared, before = walk(rng, 60), walk(rng, 5)
    bits = np.unpackbits(before, axis=1)
    bits[:, rng.choice(64, 13, replace=False)] ^= 1  # the same 13 bits of every frame
    near = np.packbits(bits, axis=1)
    a = synthetic(np.concatenate([walk(rng, 30), before, shared, walk(rng, 30)]), 1)
    b = synthetic(np.concatenate([walk(rng, 50), near, shared, walk(rng, 30)]), 2)
    assert int(hamming(before, near).max()) == 13
    [group] = find_groups([a, b])
    assert occurrence_frames(group) == [(1, 35, 94), (2, 55, 114)]


def random_codes(rng: np.random.Generator, n: int, nbytes: int) -> np.ndarray:
    """Random codes with clusters of near copies (0..12 bits apart), so that every distance
    around the radius occurs."""
    base = rng.integers(0, 256, (n // 4, nbytes), dtype=np.uint8)
    copies = np.repeat(base, 3, axis=0)
    bits = np.unpackbits(copies, axis=1)
    for k in range(len(bits)):
        bits[k, rng.choice(nbytes * 8, rng.integers(0, 13), replace=False)] ^= 1
    codes = np.concatenate([base, np.packbits(bits, axis=1)])
    return codes[rng.permutation(len(codes))]


def brute_force(codes: np.ndarray, radius: int) -> set[tuple[int, int, int]]:
    d = hamming(codes[:, None, :], codes[None, :, :])
    i, j = np.nonzero(np.triu(d <= radius, k=1))
    return set(zip(i.tolist(), j.tolist(), d[i, j].tolist(), strict=True))


@pytest.mark.parametrize("anchored", [False, True])
@pytest.mark.parametrize("multi_index", [False, True])
@pytest.mark.parametrize(("nbytes", "radius"), [(8, 0), (8, 3), (8, 8), (8, 11), (4, 5), (32, 20)])
def test_near_pairs_equals_brute_force(
    monkeypatch: pytest.MonkeyPatch, multi_index: bool, nbytes: int, radius: int, anchored: bool
) -> None:
    if multi_index:  # force the multi-index join even on a small input
        monkeypatch.setattr(join, "BRUTE_MAX", 0)
    rng = np.random.default_rng(radius * 100 + nbytes)
    codes = random_codes(rng, 1200, nbytes)
    anchor = rng.random(len(codes)) < 0.3 if anchored else None
    i, j, d = near_pairs(codes, radius, anchor)
    got = set(zip(i.tolist(), j.tolist(), d.tolist(), strict=True))
    expected = brute_force(codes, radius)
    if anchor is not None:  # the pairs with an anchored row, and no other
        expected = {(a, b, e) for a, b, e in expected if anchor[a] or anchor[b]}
    assert got == expected
    assert len(got) >= 50  # the clusters really produce pairs
    assert np.all(i < j) and np.all(np.diff(i * len(codes) + j) > 0)  # sorted, no repeats


def test_every_link_has_a_linked_view_at_one_end() -> None:
    # The join of near codes leaves out the pairs of codes of other views (seeds.LINKED)
    assert 0 in seeds.LINKED  # the plain links: hashes with hashes
    assert all(a in seeds.LINKED or b in seeds.LINKED for a, b, _ in seeds.RELATIONS)


@pytest.mark.parametrize("multi_index", [False, True])
def test_near_pairs_radius_is_inclusive(monkeypatch: pytest.MonkeyPatch, multi_index: bool) -> None:
    if multi_index:
        monkeypatch.setattr(join, "BRUTE_MAX", 0)
    rng = np.random.default_rng(7)
    radius = 8
    base = rng.integers(0, 256, (300, 8), dtype=np.uint8)
    bits = np.unpackbits(base, axis=1)
    at, beyond = bits.copy(), bits.copy()
    for k in range(len(bits)):
        flip = rng.choice(64, radius + 1, replace=False)
        at[k, flip[:radius]] ^= 1
        beyond[k, flip] ^= 1
    codes = np.concatenate([base, np.packbits(at, axis=1), np.packbits(beyond, axis=1)])
    i, j, d = near_pairs(codes, radius)
    found = set(zip(i.tolist(), j.tolist(), strict=True))
    n = len(base)
    for k in range(n):
        assert (k, n + k) in found  # d == radius: in
        assert (k, 2 * n + k) not in found  # d == radius + 1: out
    assert d.max() <= radius


def test_near_pairs_edge_cases() -> None:
    empty = np.empty((0, 8), np.uint8)
    assert all(len(a) == 0 for a in near_pairs(empty, 4))
    one = np.zeros((1, 8), np.uint8)
    assert all(len(a) == 0 for a in near_pairs(one, 4))
    same = np.zeros((3, 8), np.uint8)
    i, j, d = near_pairs(same, 0)
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 1), (0, 2), (1, 2)]
    assert d.tolist() == [0, 0, 0]
    with pytest.raises(ValueError):
        near_pairs(same, -1)
    with pytest.raises(ValueError):
        near_pairs(same.astype(np.int64), 2)


def test_bad_inputs_raise_value_error() -> None:
    codes = np.zeros((3, 8), np.uint8)
    with pytest.raises(ValueError):
        Track(1, np.arange(4.0), codes, np.zeros(3, np.float32))
    with pytest.raises(ValueError):
        Track(1, np.array([0.0, 2.0, 1.0]), codes, np.zeros(3, np.float32))
    with pytest.raises(ValueError):
        MatchParams(radius=10, extend_radius=8)
    with pytest.raises(ValueError):
        MatchParams(min_gap=0)
    track = synthetic(codes)
    with pytest.raises(ValueError):
        find_groups([track, track])
    assert find_groups([]) == []


def test_value_types() -> None:
    o = Occurrence(1, 0, 9, 0.0, 0.3)
    g = Group((o, o), 10, 1 / 3)
    assert g.occurrences[0] == o
    s = LoopSummary(3723.5, 3725.25, 2, 1.75, 0.5)
    assert s.text() == "01:02:03.50–01:02:05.25 repeats 2 times, period 1.75 s, 50 % of the video"


@pytest.mark.parametrize(
    "rows, distinct, nbytes", [(200_000, 300, 8), (70_000, 70_000, 8), (5_000, 40, 16)]
)
def test_distinct_codes_are_those_of_a_sort_of_rows(rows: int, distinct: int, nbytes: int) -> None:
    """Runs' distinct codes, whichever way they are found (hashed when a sample shows few, as
    in a long loop; sorted as integers; rows of bytes for wider codes): the sorted distinct rows
    and each row's index among them, as np.unique over rows of bytes gives them."""
    rng = np.random.default_rng(distinct)
    table = rng.integers(0, 256, (distinct, nbytes), np.uint8)
    codes = table[rng.integers(0, distinct, rows)]
    got, index = seeds._distinct(codes)
    want, inverse = np.unique(codes, axis=0, return_inverse=True)
    assert np.array_equal(got, want) and np.array_equal(index, inverse.ravel())
    if nbytes == 8:  # the hashing path is taken for few codes among many, and only then
        few = seeds._few_values(codes.view(">u8").ravel().astype(np.uint64))
        assert (few is not None) == (distinct * seeds.FEW_SHARE < rows)


def test_nearest_one_agrees_with_nearest() -> None:
    """The scalar lookup that cuts pieces gives the vectorised one's frame, ties and both ends
    included (a tie goes to the earlier frame)."""
    rng = np.random.default_rng(5)
    for n in (1, 2, 7, 300):
        times = np.sort(rng.uniform(-1.0, 20.0, n))
        probes = np.concatenate(
            [rng.uniform(-3.0, 23.0, 500), times, (times[:-1] + times[1:]) / 2, [-1e9, 1e9]]
        )
        expected = nearest(times, probes)
        got = [nearest_one(times, float(t)) for t in probes]
        assert got == expected.tolist(), n
