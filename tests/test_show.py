"""`framedb show`: stored frames fetched again by seeking (the very frames that were ingested) and
compared side by side with their difference."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from framedb import FrameDB
from framedb.cli import run
from framedb.errors import BadArgumentError, VideoNotFoundError
from framedb.ingest.frames import FrameGrabber, stored_frames
from tests.conftest import LOOP_STARTS


def decoded_by_pyav(path: Path, ordinal: int) -> np.ndarray:
    """The reference: frame `ordinal` decoded from the start by PyAV itself."""
    with av.open(str(path)) as container:
        for k, frame in enumerate(container.decode(video=0)):
            if k == ordinal:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError(f"{path} has no frame {ordinal}")


def panel(comparison, name: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    left, top, right, bottom = comparison.boxes[name]
    return np.asarray(comparison.image)[top:bottom, left:right]


# -- show ---------------------------------------------------------------------------------------


def test_one_frame_encoded_twice_leaves_a_near_black_difference(collection) -> None:  # type: ignore[no-untyped-def]
    db, videos = collection
    same = db.compare(f"{videos / 'crisp.mp4'}@30", f"{videos / 'rough.mp4'}@1.0s")
    assert same.second.ordinal == 30 and same.scaled
    assert same.distance <= 4
    assert panel(same, "difference").mean() < 25  # compression noise x 4, of 255
    assert same.mean_difference < 6

    moved = db.compare(f"{videos / 'crisp.mp4'}@30", f"{videos / 'crisp.mp4'}@33")
    assert panel(moved, "difference").mean() > 50  # 0.1 s of motion is plainly visible
    assert moved.mean_difference > 10


def test_panels_are_the_exact_frames_at_full_resolution(collection) -> None:  # type: ignore[no-untyped-def]
    db, videos = collection
    shown = db.compare(f"{videos / 'looped.mp4'}@300", f"{videos / 'rough.mp4'}@45")
    assert np.array_equal(panel(shown, "first"), decoded_by_pyav(videos / "looped.mp4", 300))
    assert np.array_equal(panel(shown, "second"), decoded_by_pyav(videos / "rough.mp4", 45))
    assert panel(shown, "difference").shape == (180, 320, 3)  # B scaled to A's size
    assert shown.first.drift == 0 and shown.second.drift == 0


def test_frames_are_reached_by_seeking_not_by_decoding_from_the_start(collection) -> None:  # type: ignore[no-untyped-def]
    db, videos = collection
    path = videos / "looped.mp4"
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        keys = sorted(p.pts for p in container.demux(stream) if p.is_keyframe and p.pts is not None)
    row = db.video(path)
    target = stored_frames(db.store, row.id, [380])[380]
    last_key = max(k for k in keys if k <= target.pts)
    assert last_key > 0, "the test video needs a keyframe after the first"
    with FrameGrabber(row, db.spec) as grabber:
        [frame] = grabber.grab([target])
        frames_from_key = sum(
            1
            for p in stored_frames(db.store, row.id, range(390)).values()
            if last_key <= p.pts <= target.pts
        )
        assert grabber.decoded <= frames_from_key + 2 < 380
    assert frame.drift == 0
    assert np.array_equal(frame.rgb, decoded_by_pyav(path, 380))


def test_a_file_changed_since_ingest_is_refused(library: Path, tmp_path: Path) -> None:
    with FrameDB.open(tmp_path / "t.db") as db:
        db.ingest([library])
        target = library / "copy.mp4"
        with open(target, "ab") as out:
            out.write(b"\0" * 16)
        with pytest.raises(VideoNotFoundError, match="changed since it was ingested"):
            db.compare(f"{target}@10", f"{library / 'looped.mp4'}@10")
        with pytest.raises(BadArgumentError, match="VIDEO@FRAME"):
            db.compare(str(library / "looped.mp4"), f"{library / 'looped.mp4'}@10")


def test_show_command(collection, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    db, videos = collection
    out = tmp_path / "pair.png"
    code = run(
        [
            "--db",
            db.location,
            "show",
            f"{videos / 'looped.mp4'}@2s",
            f"{videos / 'looped.mp4'}@{LOOP_STARTS[1]}",
            "-o",
            str(out),
            "--json",
        ]
    )
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [f["frame"] for f in doc["frames"]] == LOOP_STARTS[:2]
    assert doc["distance"] == 0 and doc["bits"] == 64
    with Image.open(out) as image:
        assert image.width >= 3 * 320 and image.height > 180
    code = run(["--db", db.location, "show", "nope.mp4@1", "looped.mp4@2", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "nope.mp4: not in the database" in err and "Traceback" not in err
