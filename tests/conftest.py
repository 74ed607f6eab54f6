"""Shared fixtures: real videos made with PyAV once per test session, with known ground truth."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.backends import backend, pg  # noqa: F401  (fixtures: SQLite and PostgreSQL stores)
from tests.evidence import collection  # noqa: F401  (fixture: the ingested collection)
from tests.media import Segment, write_video

FPS = 30
CLIP = Segment(1, 0.0, 3.0)
# looped.mp4: 2 s intro, the 3 s clip three times (from 2 s, 5 s and 8 s), 2 s outro: 390 frames.
LOOPED = [Segment(7, 0.0, 2.0), CLIP, CLIP, CLIP, Segment(9, 0.0, 2.0)]
LOOP_STARTS = [60, 150, 240]
# copy.mp4: smaller and worse; shows clip time 1.0-2.5 s from its own 1.0 s (frame 30).
COPY = [Segment(4, 0.0, 1.0), Segment(1, 1.0, 1.5), Segment(5, 0.0, 1.0)]
COPY_OFFSET = 30 - 30  # copy frame = clip frame - 30 + 30


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of generated videos, written once per session; tests copy what they change."""
    folder = tmp_path_factory.mktemp("media")
    write_video(folder / "looped.mp4", LOOPED, fps=FPS)
    write_video(folder / "copy.mp4", COPY, fps=FPS, size=(192, 108), crf=34)
    write_video(folder / "other.mkv", [Segment(11, 0.0, 2.0), Segment(12, 0.0, 1.0, "still")])
    return folder


@pytest.fixture()
def library(media: Path, tmp_path: Path) -> Path:
    """A writable copy of the looped video and its re-encoded copy."""
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("looped.mp4", "copy.mp4"):
        (folder / name).write_bytes((media / name).read_bytes())
    return folder
