"""The sample of `make demo` answers as the README shows it, to the frame: the clip's loop and the
borrowed 3 s (the sample's loop is the one place a near-miss extension once cut a group short)."""

from __future__ import annotations

from pathlib import Path

from framedb import FrameDB
from framedb.synth import write_demo


def test_the_demo_sample_is_found_to_the_frame(tmp_path: Path) -> None:
    looped, reupload = write_demo(tmp_path / "demo")
    with FrameDB.open(tmp_path / "demo.db") as db:
        db.ingest([looped, reupload])
        loops = db.loops(looped)
        [summary] = loops.summaries
        assert summary.text() == (
            "00:00:03.00–00:00:08.97 repeats 3 times, period 6.00 s, 75 % of the video"
        )
        [clip] = loops.groups
        assert [(o.start_frame, o.end_frame) for o in clip.occurrences] == [
            (90, 269),
            (270, 449),
            (450, 629),
        ]
        [borrowed] = db.matches([reupload])
        assert [(o.video, o.start_frame, o.end_frame) for o in borrowed.occurrences] == [
            (str(looped), 150, 239),
            (str(looped), 330, 419),
            (str(looped), 510, 599),
            (str(reupload), 60, 149),
        ]
