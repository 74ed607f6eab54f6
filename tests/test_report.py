"""`framedb report`: one self-contained HTML page (checked in a real headless browser when one is
installed)."""

from __future__ import annotations

import html as html_module
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from framedb import FrameDB
from framedb.cli import run
from framedb.match.tracks import Group, Occurrence


def images_of(html: str) -> list[str]:
    return re.findall(r'<img src="([^"]*)"', html)


def test_report_is_self_contained(collection, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    db, videos = collection
    out = tmp_path / "report.html"
    result = db.report(out)
    html = out.read_text()
    assert result.bytes == out.stat().st_size < 3_000_000
    sources = images_of(html)
    assert sources and all(
        s.startswith(("data:image/png;base64,", "data:image/jpeg;base64,")) for s in sources
    )
    assert not re.search(r"""(src|href)=["']?(https?:|file:|//)""", html)
    assert "repeats 3 times, period 3.00 s" in html
    assert f"--db {db.location} show {videos / 'looped.mp4'}@" in html
    assert re.search(r"ffmpeg -ss [0-9.]+ -to [0-9.]+ -i \S+looped.mp4 -c copy", html)
    assert html.count('<section class="group"') == result.strips == min(50, result.groups)
    # dot plots: looped.mp4 against itself (the others have no loops), and each pair that shares
    assert html.count('against itself" width') == 1 and html.count("Dot plot: empty") == 3
    assert 'alt="dot plot of copy.mp4 against looped.mp4"' in html
    assert result.plots == html.count('<img src="data:image/png')
    # the page's own command reproduces the first group's picture
    command = html_module.unescape(re.search(r"<pre>(framedb [^\n]*)", html).group(1))
    monkeypatch.chdir(tmp_path)
    assert run(shlex.split(command)[1:]) == 0
    assert (tmp_path / "group-1.png").stat().st_size > 10_000


def test_report_command(collection, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    db, _ = collection
    out = tmp_path / "r.html"
    assert run(["--db", db.location, "report", "looped.mp4", "-o", str(out), "--strips", "1"]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"wrote {out}: 1 video(s),") and "1 with thumbnails" in said
    assert out.read_text().count('<section class="group"') == 1
    assert run(["--db", db.location, "report", "-o", str(tmp_path / "no" / "r.html")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_report_on_named_videos_keeps_their_groups(collection, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, videos = collection
    result = db.report(tmp_path / "one.html", ["crisp.mp4"])
    html = (tmp_path / "one.html").read_text()
    assert result.videos == 1
    assert "<h3>crisp.mp4</h3>" in html and "<h3>looped.mp4</h3>" not in html


def test_report_with_thousands_of_groups_stays_small(collection, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    db, videos = collection
    row = db.video(videos / "looped.mp4")
    track = db.tracks([row])[row.id]

    def occurrence(first: int) -> Occurrence:
        return Occurrence(row.id, first, first + 9, track.times[first], track.times[first + 9])

    many = [
        Group((occurrence(k % 80), occurrence(90 + k % 80), occurrence(180 + k % 80)), 10, 1 / 3)
        for k in range(3000)
    ]
    monkeypatch.setattr(FrameDB, "matches", lambda *a, **k: many)
    out = tmp_path / "many.html"
    result = db.report(out, strips=10)
    html = out.read_text()
    assert result.groups == 3000 and result.strips == 10
    assert html.count('<section class="group"') == 10
    assert html.count('<tr><td class="num">') == 990  # the table stops at 1000 groups
    assert "framedb matches --json" in html and '<details id="more-groups">' in html
    assert result.bytes < 3_000_000


def test_report_without_the_files_shows_placeholders(library: Path, tmp_path: Path) -> None:
    with FrameDB.open(tmp_path / "t.db") as db:
        db.ingest([library])
        (library / "copy.mp4").rename(tmp_path / "elsewhere.mp4")
        html_path = tmp_path / "r.html"
        db.report(html_path)
        html = html_path.read_text()
    assert 'class="missing"' in html and "the file is gone" in html
    assert all(src.startswith("data:image/") for src in images_of(html))


# -- the report in a real browser -------------------------------------------------------------


def browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def run_browser(page: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    executable = browser()
    if executable is None:
        pytest.skip("no headless Chromium (`apt-get install chromium`; `make test` tries)")
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [
                executable,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=5000",
                *extra,
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def body_state(dom: str) -> dict[str, str]:
    tag = re.search(r"<body([^>]*)>", dom)
    assert tag, dom[:500]
    return dict(re.findall(r'data-([a-z]+)="([^"]*)"', tag.group(1)))


@pytest.fixture(scope="module")
def page(collection, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    db, _ = collection
    out = tmp_path_factory.mktemp("page") / "report with space.html"
    db.report(out)
    return out


def test_report_renders_in_a_browser(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    done = run_browser(page, f"--screenshot={shot}", "--window-size=1280,2000")
    assert shot.exists(), done.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.size == (1280, 2000)
        pixels = np.asarray(image.convert("RGB")).astype(int)
    # the dot plots' dots (dark blue) and the thumbnails' colours made it to the screen
    dots = (pixels[..., 2] > 110) & (pixels[..., 0] < 70) & (pixels[..., 1] < 100)
    assert dots.sum() > 500

    dumped = run_browser(page, "--dump-dom", "--enable-logging=stderr", "--v=0")
    state = body_state(dumped.stdout)
    expected = len(images_of(page.read_text()))
    assert int(state["images"]) == expected > 10
    assert state["broken"] == "0" and state["errors"] == "0"
    assert all(int(w) > 0 for w in state["widths"].split(","))
    assert "Uncaught" not in dumped.stderr


def test_the_browser_check_catches_a_broken_image(page: Path, tmp_path: Path) -> None:
    html = page.read_text()
    first = images_of(html)[0]
    broken = tmp_path / "broken.html"
    broken.write_text(html.replace(first, "data:image/png;base64,AAAAbm90IGEgcG5n", 1))
    state = body_state(run_browser(broken, "--dump-dom").stdout)
    assert state["broken"] == "1" and state["images"] == str(len(images_of(html)))
