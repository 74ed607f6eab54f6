"""loops, matches, find and where --segments through the API and the CLI, against ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from framedb import FrameDB
from framedb.cli import run
from framedb.errors import BadArgumentError, VideoNotFoundError
from tests.conftest import LOOP_STARTS
from tests.media import Segment, write_video


@pytest.fixture()
def db(tmp_path: Path, library: Path) -> FrameDB:
    with FrameDB.open(tmp_path / "shared.db") as opened:
        opened.ingest([library])
        yield opened


def test_loops_of_the_looped_video(db: FrameDB, library: Path) -> None:
    found = db.loops(library / "looped.mp4")
    assert len(found.groups) == 1
    [group] = found.groups
    starts = [o.start_frame for o in group.occurrences]
    ends = [o.end_frame for o in group.occurrences]
    assert all(abs(s - t) <= 1 for s, t in zip(starts, LOOP_STARTS, strict=True))
    assert all(abs(e - (t + 89)) <= 1 for e, t in zip(ends, LOOP_STARTS, strict=True))
    assert {o.video for o in group.occurrences} == {str(library / "looped.mp4")}
    [summary] = found.summaries
    assert summary.repeats == 3
    assert summary.period == pytest.approx(3.0, abs=1 / 30)
    assert found.coverage == pytest.approx(9 / 13, abs=0.02)
    assert summary.text().startswith("00:00:02.00–00:00:04.9")


def test_no_loops_in_a_video_without_repeats(db: FrameDB, library: Path) -> None:
    found = db.loops(library / "copy.mp4")
    assert (found.groups, found.summaries, found.coverage) == ([], [], 0.0)


def test_matches_and_find_place_the_copy(db: FrameDB, library: Path, tmp_path: Path) -> None:
    groups = db.matches()
    # The copy shows clip time 1.0-2.5 s: frames 30..74 of the copy, 90..134 of each repetition.
    shared = [g for g in groups if any(o.video.endswith("copy.mp4") for o in g.occurrences)]
    assert len(shared) == 1
    spans = sorted((Path(o.video).name, o.start_frame, o.end_frame) for o in shared[0].occurrences)
    truth = [("copy.mp4", 30, 74)] + [("looped.mp4", s + 30, s + 74) for s in LOOP_STARTS]
    assert len(spans) == len(truth)
    for (name, first, last), (t_name, t_first, t_last) in zip(spans, truth, strict=True):
        assert name == t_name and abs(first - t_first) <= 1 and abs(last - t_last) <= 1
    assert db.matches([library / "copy.mp4"]) == shared
    # A clip that is not stored: clip time 0.5-2.0 s, re-encoded at another size. Clip time
    # 1.0-2.0 s is also in copy.mp4, so it comes out as two groups.
    clip = tmp_path / "clip.mkv"
    write_video(clip, [Segment(1, 0.5, 1.5)], size=(256, 144), crf=30)
    found = {len(g.occurrences): g for g in db.find(clip)}
    assert sorted(found) == [4, 5]
    with_copy = sorted(
        (Path(o.video).name, o.start_frame, o.end_frame) for o in found[5].occurrences
    )
    truth = [("clip.mkv", 15, 44), ("copy.mp4", 30, 59)] + [
        ("looped.mp4", s + 30, s + 59) for s in LOOP_STARTS
    ]
    for (name, first, last), (t_name, t_first, t_last) in zip(with_copy, truth, strict=True):
        assert name == t_name and abs(first - t_first) <= 1 and abs(last - t_last) <= 1
    assert sum(o.video_id == 0 for o in found[4].occurrences) == 1
    unrelated = tmp_path / "unrelated.mp4"
    write_video(unrelated, [Segment(30, 0.0, 2.0)])
    assert db.find(unrelated) == []


def test_find_boundaries_at_the_clip_start(db: FrameDB, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mkv"
    write_video(clip, [Segment(1, 0.5, 1.5)], size=(256, 144), crf=30)
    [start] = [g for g in db.find(clip) if len(g.occurrences) == 4]
    for o in start.occurrences:
        truth = (
            (0, 14)
            if o.video_id == 0
            else next((s + 15, s + 29) for s in LOOP_STARTS if abs(o.start_frame - s - 15) < 10)
        )
        assert abs(o.start_frame - truth[0]) <= 1 and abs(o.end_frame - truth[1]) <= 1


def test_where_segments_extends_to_the_shared_segment(db: FrameDB, library: Path) -> None:
    result = db.where_segments(db.where(library / "copy.mp4", 50))
    assert len(result.hits) == 3
    for hit in result.hits:
        assert hit.segment is not None
        query_side, other_side = hit.segment
        assert abs(query_side.start_frame - 30) <= 1 and abs(query_side.end_frame - 74) <= 1
        start = min(LOOP_STARTS, key=lambda s: abs(s + 30 - other_side.start_frame))
        assert abs(other_side.start_frame - (start + 30)) <= 1
        assert abs(other_side.end_frame - (start + 74)) <= 1


def test_bad_arguments(db: FrameDB, library: Path, tmp_path: Path) -> None:
    with pytest.raises(BadArgumentError, match="min-length"):
        db.loops(library / "looped.mp4", min_length=-1)
    with pytest.raises(VideoNotFoundError, match="nothing.mp4: no such file"):
        db.find(tmp_path / "nothing.mp4")


def test_cli_json_documents(db: FrameDB, library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--db", db.location]
    assert run([*base, "loops", str(library / "looped.mp4"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["summary"][0]["repeats"] == 3 and len(doc["groups"]) == 1
    occurrence = doc["groups"][0]["occurrences"][0]
    assert set(occurrence) == {"video", "start_frame", "end_frame", "start_time", "end_time"}
    assert run([*base, "matches", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["groups"]) >= 1 and all(len(g["occurrences"]) >= 2 for g in doc["groups"])
    assert run([*base, "loops", str(library / "looped.mp4")]) == 0
    out = capsys.readouterr().out
    assert "repeats 3 times, period 3.0" in out
    assert run([*base, "where", "copy.mp4", "50", "--segments", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert all(len(h["segment"]) == 2 for h in hits)
    assert run([*base, "find", str(library / "nothing.mp4")]) == 1
    assert "nothing.mp4: no such file" in capsys.readouterr().err
