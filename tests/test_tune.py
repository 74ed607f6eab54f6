"""`framedb tune`: the hash-size sweep, every setting from one decoding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from framedb.cli import run
from framedb.evidence.tune import tune


def test_tune_sweeps_every_setting_from_one_decoding(collection, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    db, videos = collection
    from framedb.ingest import decode

    opened = []
    real = decode.VideoReader.__init__

    def counting(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        opened.append(args)
        real(self, *args, **kwargs)

    monkeypatch.setattr(decode.VideoReader, "__init__", counting)
    result = tune(videos / "looped.mp4", kinds=("ahash", "phash"), sizes=(4, 8, 16, 24))
    assert len(opened) == 1
    assert [(s.kind, s.size) for s in result.settings] == [
        (k, n) for k in ("ahash", "phash") for n in (4, 8, 16, 24)
    ]
    by = {(s.kind, s.size): s for s in result.settings}
    fine = by[("ahash", 24)]
    # the 3 s clip shown three times: 90 frames, each in a bucket of three
    assert 80 <= fine.buckets <= 95 and 2.8 <= fine.mean_bucket <= 3.2 and fine.max_bucket <= 4
    assert by[("ahash", 4)].max_bucket > 3 * fine.max_bucket  # a coarse hash lumps frames
    assert by[("ahash", 4)].buckets < fine.buckets
    for setting in (by[("phash", 8)], by[("ahash", 16)]):
        assert setting.groups >= 1 and setting.loops >= 1
        assert setting.coverage == pytest.approx(9 / 13, abs=0.08)

    first = tune(videos / "looped.mp4", kinds=("ahash",), sizes=(16,), duration=4.0)
    assert first.frames == 120  # the first 4 s: the clip's start has not repeated yet
    assert first.settings[0].groups == 0 and first.settings[0].max_bucket <= 2


def test_tune_command(collection, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    db, videos = collection
    out = tmp_path / "tune.png"
    code = run(
        ["--db", db.location, "tune", "looped.mp4", "--sizes", "8,16", "-o", str(out), "--json"]
    )
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["frames"] == 390
    assert [(s["kind"], s["size"]) for s in doc["settings"]] == [
        ("ahash", 8),
        ("ahash", 16),
        ("dct", 8),  # the database's kind, dct by default
        ("dct", 16),
    ]
    with Image.open(out) as image:
        assert image.width > 800 and len(image.getcolors(1 << 16) or []) > 20
    code = run(["--db", db.location, "tune", "looped.mp4", "--sizes", "6"])
    assert code == 1 and "hash size 6" in capsys.readouterr().err
