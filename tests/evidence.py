"""The videos that the tests of show, dot plots, tune and report share, ingested once per session
(conftest.py registers the fixture)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from framedb import FrameDB
from tests.media import Segment, write_video

CLIP = Segment(2, 0.0, 2.0)


@pytest.fixture(scope="session")
def collection(
    media: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FrameDB, Path]]:
    """looped.mp4 and copy.mp4 from the shared media, plus one scene encoded twice (crisp: crf 16,
    rough: crf 30 at a smaller size), all ingested once."""
    folder = tmp_path_factory.mktemp("report")
    videos = folder / "videos"
    videos.mkdir()
    for name in ("looped.mp4", "copy.mp4"):
        shutil.copy(media / name, videos / name)
    write_video(videos / "crisp.mp4", [CLIP], crf=16)
    write_video(videos / "rough.mp4", [CLIP], crf=30, size=(256, 144))
    db = FrameDB.open(folder / "test.db")
    assert all(r.status == "done" for r in db.ingest([videos]))
    yield db, videos
    db.close()
