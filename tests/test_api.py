"""The library's front door: ingest, skip, move, remove, where, and the index beside the db."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from framedb import FrameDB
from framedb.errors import BadArgumentError, FrameNotFoundError, VideoNotFoundError
from framedb.store.index import FrameIndex
from framedb.store.tables import frames
from tests.conftest import LOOP_STARTS
from tests.media import Segment, write_video


@pytest.fixture()
def db(tmp_path: Path) -> FrameDB:
    with FrameDB.open(tmp_path / "test.db") as opened:
        yield opened


def stored_rows(db: FrameDB) -> list[tuple]:
    with db.store.reading() as conn:
        return conn.execute(
            select(
                frames.c.video_id, frames.c.ordinal, frames.c.pts, frames.c.time, frames.c.hash
            ).order_by(frames.c.id)
        ).all()


def test_ingest_stores_one_row_per_frame(db: FrameDB, library: Path) -> None:
    results = db.ingest([library])
    assert [(Path(r.path).name, r.status, r.frames) for r in results] == [
        ("copy.mp4", "done", 105),
        ("looped.mp4", "done", 390),
    ]
    looped = db.video(library / "looped.mp4")
    assert (looped.frame_count, looped.width, looped.height, looped.codec) == (
        390,
        320,
        180,
        "h264",
    )
    assert looped.duration == pytest.approx(13.0)
    assert looped.fps == 30
    rows = [r for r in stored_rows(db) if r[0] == looped.id]
    assert [r[1] for r in rows] == list(range(390))
    assert [r[3] for r in rows] == pytest.approx([i / 30 for i in range(390)], abs=1e-9)
    assert all(len(r[4]) == 8 for r in rows)
    assert len(db.index()) == 495


def test_closing_after_an_ingest_leaves_no_write_ahead_log(tmp_path: Path, library: Path) -> None:
    # SQLite folds its WAL into the database when the last connection closes, unless that one
    # is read-only (the indexes' commit watches): the next reader would then replay all of it.
    with FrameDB.open(tmp_path / "test.db") as db:
        db.ingest([library])
        db.index()  # a reader that opened the watch, too
        assert (tmp_path / "test.db-wal").exists()
    assert not (tmp_path / "test.db-wal").exists()
    with FrameDB.open(tmp_path / "test.db") as db:
        assert len(db.index()) == 495


def test_unchanged_files_are_skipped_and_moved_files_recognised(
    db: FrameDB, library: Path, tmp_path: Path
) -> None:
    db.ingest([library])
    before = stored_rows(db)
    again = db.ingest([library])
    assert [r.status for r in again] == ["unchanged", "unchanged"]
    moved = tmp_path / "elsewhere.mp4"
    os.rename(library / "looped.mp4", moved)
    result = db.ingest([moved])[0]
    assert (result.status, result.frames) == ("moved", 390)
    assert db.video(moved).id == result.video_id
    assert stored_rows(db) == before  # nothing decoded or written again
    shutil.copy(library / "copy.mp4", tmp_path / "copy-again.mp4")
    duplicate = db.ingest([tmp_path / "copy-again.mp4"])[0]
    assert duplicate.status == "duplicate" and "copy.mp4" in (duplicate.reason or "")


def test_a_changed_file_replaces_its_rows(db: FrameDB, library: Path) -> None:
    db.ingest([library])
    target = library / "copy.mp4"
    old_ids = set(db.index().ids().tolist())
    write_video(target, [Segment(20, 0.0, 1.0)])
    result = db.ingest([target])[0]
    assert (result.status, result.frames) == ("done", 30)
    assert db.video(target).frame_count == 30
    ids = set(db.index().ids().tolist())
    assert len(ids) == 390 + 30
    assert len(ids - old_ids) == 30


def test_remove_leaves_no_ids_behind(db: FrameDB, library: Path) -> None:
    db.ingest([library])
    copy = db.video(library / "copy.mp4")
    db.remove(library / "copy.mp4")
    with db.store.reading() as conn:
        assert conn.execute(select(func.count()).where(frames.c.video_id == copy.id)).scalar() == 0
    assert len(db.index()) == 390
    reopened = FrameDB.open(db.location)
    assert len(reopened.index()) == 390
    assert reopened.check().ok
    with pytest.raises(VideoNotFoundError, match="copy.mp4: not in the database"):
        reopened.video(library / "copy.mp4")


def test_where_finds_every_occurrence_and_nothing_else(db: FrameDB, library: Path) -> None:
    db.ingest([library])
    offset = 45  # 1.5 s into the clip
    query = LOOP_STARTS[0] + offset
    result = db.where(library / "looped.mp4", query)
    assert result.query is not None and result.query.frame == query
    assert result.note is None
    found = sorted((Path(h.video).name, h.first_frame, h.frame, h.last_frame) for h in result.hits)
    # The other two repetitions of the clip, and the re-encoded copy (clip time 1.5 s = frame 45).
    truth = [
        ("copy.mp4", 45),
        ("looped.mp4", LOOP_STARTS[1] + offset),
        ("looped.mp4", LOOP_STARTS[2] + offset),
    ]
    assert [
        (name, first <= true <= last)
        for (name, first, _, last), (_, true) in zip(found, truth, strict=True)
    ] == [(name, True) for name, _ in truth]
    for (_, _, best, _), (_, true) in zip(found, truth, strict=True):
        assert abs(best - true) <= 3
    assert [h.distance for h in result.hits] == sorted(h.distance for h in result.hits)


def test_where_by_time_and_by_image(db: FrameDB, library: Path, tmp_path: Path) -> None:
    db.ingest([library])
    assert db.where(library / "looped.mp4", "5.5s").query.frame == 165  # type: ignore[union-attr]
    assert db.frame(library / "looped.mp4", "00:00:05.500").frame == 165
    assert db.frame(library / "looped.mp4", "0:05.51").frame == 165
    from PIL import Image

    from tests.media import render

    shot = tmp_path / "shot.png"
    Image.fromarray(render(1, 2.0, 640, 360)).save(shot)  # clip time 2.0 s, at another size
    hits = db.where_image(shot).hits
    names = sorted(
        (Path(h.video).name, h.first_frame <= t <= h.last_frame)
        for h, t in zip(
            sorted(hits, key=lambda h: (h.video, h.frame)), [60, 120, 210, 300], strict=False
        )
    )
    assert len(hits) == 4  # three repetitions in looped.mp4 and one in copy.mp4
    assert all(inside for _, inside in names)


def test_flat_frames_get_a_note_instead_of_hits(db: FrameDB, tmp_path: Path) -> None:
    path = tmp_path / "dark.mp4"
    write_video(path, [Segment(5, 0.0, 1.0), Segment(0, 0.0, 1.0, "black"), Segment(5, 0.0, 1.0)])
    db.ingest([path])
    result = db.where(path, 45)
    assert result.hits == []
    assert result.note is not None and "almost no detail" in result.note


def test_bad_frames_and_radius_are_refused(db: FrameDB, library: Path) -> None:
    db.ingest([library])
    with pytest.raises(FrameNotFoundError, match="frame 390 is outside 0..389"):
        db.where(library / "looped.mp4", 390)
    with pytest.raises(FrameNotFoundError, match="outside the video"):
        db.where(library / "looped.mp4", "99s")
    with pytest.raises(BadArgumentError, match="give an ordinal"):
        db.where(library / "looped.mp4", "soon")
    with pytest.raises(BadArgumentError, match="radius"):
        db.where(library / "looped.mp4", 10, radius=65)


def test_index_is_rebuilt_when_missing_stale_or_foreign(
    db: FrameDB, library: Path, tmp_path: Path
) -> None:
    db.ingest([library])
    want = sorted(db.index().ids().tolist())
    index_file = db.index_path
    assert index_file.exists()
    index_file.unlink()
    fresh = FrameDB.open(db.location)
    assert sorted(fresh.index().ids().tolist()) == want
    assert index_file.exists()  # and written back
    # A foreign index (another database's) and a corrupted one are never trusted.
    other = FrameDB.open(tmp_path / "other.db")
    other.ingest([library / "copy.mp4"])
    shutil.copy(other.index_path, index_file)
    assert sorted(FrameDB.open(db.location).index().ids().tolist()) == want
    data = bytearray(index_file.read_bytes())
    data[-5] ^= 0xFF
    index_file.write_bytes(bytes(data))
    assert FrameIndex.load(index_file, db.database_id, 0, 64) is None
    assert sorted(FrameDB.open(db.location).index().ids().tolist()) == want
    assert FrameDB.open(db.location).check().ok


def test_hash_settings_are_kept_by_the_database(tmp_path: Path, library: Path) -> None:
    path = tmp_path / "a24.db"
    with FrameDB.open(path, hash_kind="ahash", hash_size=24) as first:
        first.ingest([library / "copy.mp4"])
        assert first.index().bits == 576
    # Opening asks for the default phash8 and gets what the database was built with.
    with FrameDB.open(path) as again:
        assert (again.spec.kind, again.spec.size) == ("ahash", 24)
        assert len(again.where(library / "copy.mp4", 40).hits) == 0
        with again.store.reading() as conn:
            arrays = again.store.frames_of(conn, 1, again.spec.nbytes)
        assert arrays.codes.shape == (105, 72)
        assert np.all(arrays.detail > 0)
