"""Segments found at ingest and kept in SQL: `matches` and `loops` answer from them, the same groups
whatever the order, the number of calls or the jobs the videos were ingested with, as a full
`--recompute` of the collection; `remove` re-forms the groups without the video; a changed matcher
is said, not silently answered."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select, update

from framedb import FrameDB
from framedb.cli import run
from framedb.match.hits import videos_near
from framedb.match.tracks import Group, Track
from framedb.store.segments import times_of
from framedb.store.tables import segments, timelines, videos
from framedb.synth import Mirror, Segment, write_video
from tests.backends import Backend

SHARED = 50  # the scene several videos reuse
# name: (segments, look, size, crf)
COLLECTION: dict[str, tuple[list[Segment], object, tuple[int, int], int]] = {
    "a.mp4": (
        [Segment(51, 0.0, 2.0), Segment(SHARED, 0.0, 4.0), Segment(52, 0.0, 2.0)],
        None,
        (320, 180),
        20,
    ),
    "b.mp4": ([Segment(53, 0.0, 1.0), Segment(SHARED, 1.0, 3.0)], None, (192, 108), 30),
    "c.mp4": ([Segment(SHARED, 0.0, 2.0), Segment(54, 0.0, 2.0)], Mirror(), (320, 180), 24),
    "d.mp4": (
        [
            Segment(55, 0.0, 1.0),
            Segment(56, 0.0, 2.0),
            Segment(56, 0.0, 2.0),
            Segment(57, 0.0, 1.0),
        ],
        None,
        (256, 144),
        24,
    ),
    "e.mp4": ([Segment(58, 0.0, 1.0), Segment(SHARED, 0.5, 2.4, speed=1.25)], None, (320, 180), 26),
}


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("shared")
    for name, (parts, look, size, crf) in COLLECTION.items():
        write_video(folder / name, parts, size=size, crf=crf, look=look)  # type: ignore[arg-type]
    return folder


def shape(groups: Iterable[Group]) -> list[tuple[tuple[str, int, int, float, bool], ...]]:
    """Groups as comparable tuples of (file name, start, end, rate, mirrored), in a fixed order."""
    out = []
    for g in groups:
        places = sorted(
            (Path(o.video).name, o.start_frame, o.end_frame, round(o.rate, 2), o.mirrored)
            for o in g.occurrences
        )
        out.append(tuple(places))
    return sorted(out)


def assert_same(found: list[Group], truth: list[Group], frames: int = 1, how: bool = True) -> None:
    """The same groups, occurrence for occurrence, each end within `frames` frames; with `how`,
    each playing at the same rate and mirroring against its group's first."""
    got, want = shape(found), shape(truth)
    assert len(got) == len(want), (got, want)
    for g, w in zip(got, want, strict=True):
        assert len(g) == len(w), (g, w)
        for (name, s, e, rate, mirrored), (w_name, w_s, w_e, w_rate, w_mirrored) in zip(
            g, w, strict=True
        ):
            assert name == w_name and abs(s - w_s) <= frames and abs(e - w_e) <= frames, (g, w)
            if how:
                assert mirrored == w_mirrored, (g, w)
                assert rate == pytest.approx(w_rate, abs=0.02), (g, w)


def stored_count(db: FrameDB) -> int:
    with db.store.reading() as conn:
        return int(conn.execute(select(func.count()).select_from(segments)).scalar_one())


def recomputed(db: FrameDB) -> list[Group]:
    """A full recompute from the frames: the truth stored answers must equal."""
    return db.matches(recompute=True)


def test_ingest_stores_segments_and_matches_answers_from_them(
    collection: Path, tmp_path: Path
) -> None:
    with FrameDB.open(tmp_path / "one.db") as db:
        db.ingest([collection])
        assert stored_count(db) > 0
        assert all(v.segments for v in db.videos())
        assert db.segments_note() is None
        stored = db.matches()
        names = {Path(o.video).name for g in stored for o in g.occurrences}
        assert names == set(COLLECTION)
        shared = [g for g in stored if len({Path(o.video).name for o in g.occurrences}) >= 3]
        assert shared, stored
        # the mirrored copy and the sped-up copy are in the shared footage's groups, as such
        flags = {
            (Path(o.video).name, o.mirrored, round(o.rate, 1))
            for g in shared
            for o in g.occurrences
        }
        assert ("c.mp4", True, 1.0) in flags or ("a.mp4", True, 1.0) in flags
        assert any(name == "e.mp4" and rate != 1.0 for name, _, rate in flags)
        loops = db.loops(collection / "d.mp4")
        assert [s.repeats for s in loops.summaries] == [2]
        assert_same(stored, recomputed(db))
        assert_same(db.loops(collection / "d.mp4").groups, loops.groups)


@pytest.mark.parametrize(
    "order, calls, jobs",
    [
        (["a", "b", "c", "d", "e"], "one", 1),
        (["e", "d", "c", "b", "a"], "many", 1),
        (["c", "a", "e", "b", "d"], "one", 2),
        (["b", "e", "a", "d", "c"], "many", 2),
    ],
)
def test_the_answer_does_not_depend_on_the_order_of_ingest(
    collection: Path, tmp_path: Path, order: list[str], calls: str, jobs: int
) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    paths = [shutil.copy(collection / f"{n}.mp4", folder / f"{n}.mp4") for n in order]
    with FrameDB.open(tmp_path / "order.db") as db:
        if calls == "one":
            db.ingest(paths, jobs=jobs)
        else:
            for path in paths:
                db.ingest([path], jobs=jobs)
        stored = db.matches()
        assert stored
        assert_same(stored, recomputed(db))
        assert_same(db.matches(), stored)  # what --recompute stored answers the same


def test_on_both_backends(backend: Backend, collection: Path) -> None:
    answers: list[list[Group]] = []
    for label, order in (("forth", "abcde"), ("back", "edcba")):
        target, index = backend.target(label)
        with FrameDB.open(target, index_path=index) as db:
            for name in order:
                db.ingest([collection / f"{name}.mp4"])
            stored = db.matches()
            assert stored and stored_count(db) > 0
            assert_same(stored, recomputed(db))
            answers.append(stored)
    # Across the two databases the ids differ, so each group's first occurrence (the lowest
    # id), against which the others' rate and mirroring are said, does too; a cut carried
    # through a 1.25x line then lands up to two frames from where it lands the other way.
    assert_same(answers[0], answers[1], frames=2, how=False)


def test_min_length_filters_stored_segments_and_a_shorter_one_is_said(
    collection: Path, tmp_path: Path
) -> None:
    with FrameDB.open(tmp_path / "len.db") as db:
        db.ingest([collection])
        every = db.matches()
        longer = db.matches(min_length=2.5)
        assert db.segments_note(min_length=2.5) is None  # a filter on what is stored
        assert 0 < len(longer) < len(every)
        # the groups of the segments of 2.5 s and more (a group is a piece of one: it can be
        # shorter), as stored answers give them after finding every segment again
        assert_same(longer, db.matches(min_length=2.5, recompute=True))
        note = db.segments_note(min_length=0.5)
        assert note is not None and "--min-length 0.5" in note


def test_remove_reforms_the_groups_without_the_video(collection: Path, tmp_path: Path) -> None:
    with FrameDB.open(tmp_path / "remove.db") as db:
        db.ingest([collection])
        db.remove(collection / "a.mp4")
        with db.store.reading() as conn:
            left = conn.execute(
                select(func.count())
                .select_from(segments)
                .where((segments.c.video_a == 1) | (segments.c.video_b == 1))
            ).scalar_one()
        assert left == 0
        after = db.matches()
        assert all(Path(o.video).name != "a.mp4" for g in after for o in g.occurrences)
        # b, c and e still share the footage with each other
        assert any(len(g.occurrences) >= 3 for g in after)
        assert_same(after, recomputed(db))


def test_a_changed_matcher_is_said_and_recompute_stores_again(
    collection: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "stale.db"
    with FrameDB.open(path) as db:
        db.ingest([collection / "a.mp4", collection / "b.mp4", collection / "d.mp4"])
        truth = db.matches()
        with db.store.writing() as conn:  # as if an older framedb had stored them
            conn.execute(update(videos).values(segments="v0-older"))
        note = db.segments_note()
        assert note is not None and "another matcher" in note and "--recompute" in note
        assert_same(db.matches(), truth)  # answered from the frames, right all the same
    assert run(["--db", str(path), "matches", "--json"]) == 0
    captured = capsys.readouterr()
    assert "--recompute" in captured.err
    assert run(["--db", str(path), "matches", "--recompute", "--json"]) == 0
    captured = capsys.readouterr()
    assert "note:" not in captured.err
    with FrameDB.open(path) as db:
        assert db.segments_note() is None
        assert_same(db.matches(), truth)
        assert run(["--db", str(path), "loops", str(collection / "d.mp4")]) == 0
    assert "repeats 2 times" in capsys.readouterr().out


def test_check_finds_a_segment_that_points_nowhere_and_repair_rebuilds(
    collection: Path, tmp_path: Path
) -> None:
    with FrameDB.open(tmp_path / "check.db") as db:
        db.ingest([collection / "a.mp4", collection / "b.mp4", collection / "d.mp4"])
        truth = db.matches()
        report = db.check()
        assert report.ok, report.problems
        with db.store.writing() as conn:
            first = conn.execute(select(segments.c.id).order_by(segments.c.id)).first()
            conn.execute(update(segments).where(segments.c.id == first[0]).values(a_end=10_000))
        report = db.check()
        assert not report.ok and any("segment" in p for p in report.problems)
        repaired = db.check(repair=True)
        assert repaired.ok, repaired.problems
        assert any("segments" in note for note in repaired.repaired)
        assert_same(db.matches(), truth)


def test_check_finds_a_timeline_that_disagrees_with_the_frames(
    collection: Path, tmp_path: Path
) -> None:
    with FrameDB.open(tmp_path / "timeline.db") as db:
        db.ingest([collection / "d.mp4"])
        [video] = db.videos()
        with db.store.reading() as conn:
            stored = times_of(conn, [video.id])[video.id]
        assert np.array_equal(stored, db.tracks()[video.id].times)
        with db.store.writing() as conn:
            conn.execute(
                update(timelines)
                .where(timelines.c.video_id == video.id)
                .values(times=b"\0" * 8 * (video.frame_count - 1))
            )
        report = db.check()
        assert not report.ok and any("timeline holds" in p for p in report.problems)


def test_a_video_near_by_its_inner_hashes_alone_is_a_candidate(tmp_path: Path) -> None:
    """A copy whose whole pictures differ from the original's (a caption and a logo hide the
    edges of both) may be near it by inner hashes only: the videos the finder and `find` match
    against are looked up by every view of the new video's hashes among the inner hashes too."""
    path = tmp_path / "o.mp4"
    write_video(path, [Segment(61, 0.0, 3.0)])
    with FrameDB.open(tmp_path / "t.db") as db:
        db.ingest([path])
        [row] = db.videos()
        track = db.tracks([row])[row.id]
        assert track.inner is not None
        far = np.random.default_rng(3).integers(0, 256, track.codes.shape, dtype=np.uint8)
        indexes = (db.index(), db._db.inner.index())
        params = db.match_params()
        by_inner = Track(0, track.times, far, track.detail, track.inner)
        assert videos_near(indexes, db.store, by_inner, params, None) == {row.id}
        unrelated = Track(0, track.times, far, track.detail, far[::-1].copy())
        assert videos_near(indexes, db.store, unrelated, params, None) == set()


def test_a_worker_finds_the_loops_of_what_it_decodes(collection: Path, tmp_path: Path) -> None:
    """With several jobs each worker finds the loops of the videos it decodes (the one writer
    stores them): the pairs the storing process finds, and none for a video without loops."""
    from framedb.ingest.workers import WorkerPool

    with FrameDB.open(tmp_path / "w.db") as db:
        loops_of, spec = db._answers().finder().in_worker(), db.spec
    with WorkerPool(1, then=loops_of) as pool:
        for name in ("d.mp4", "b.mp4"):
            pool.submit(name, (collection / name, spec, 1))
        done = dict(pool.poll() + pool.poll())
    looped, error = done["d.mp4"]
    assert error is None and looped.loops, "d.mp4 shows 2 s of its footage twice"
    assert looped.loops == loops_of(looped)
    plain, error = done["b.mp4"]
    assert error is None and plain.loops == []
