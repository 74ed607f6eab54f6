"""Evidence a person looks at: side-by-side frames, dot plots, the hash sweep and the HTML report
(checked in a real headless browser when one is installed)."""

from __future__ import annotations

import html as html_module
import io
import json
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from framedb import FrameDB
from framedb.cli import run
from framedb.errors import BadArgumentError, VideoNotFoundError
from framedb.match import Group, MatchParams, Occurrence, Track
from framedb.report import (
    FrameGrabber,
    compare,
    dot_plot,
    match_dots,
    stored_frames,
    tune,
    write_report,
)
from tests.conftest import LOOP_STARTS
from tests.media import Segment, write_video

PERIOD = 3.0  # seconds between the loop starts of looped.mp4 (LOOP_STARTS at 30 fps)
CLIP = Segment(2, 0.0, 2.0)


@pytest.fixture(scope="module")
def collection(media: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[FrameDB, Path]:
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
    same = compare(db, f"{videos / 'crisp.mp4'}@30", f"{videos / 'rough.mp4'}@1.0s")
    assert same.second.ordinal == 30 and same.scaled
    assert same.distance <= 4
    assert panel(same, "difference").mean() < 25  # compression noise x 4, of 255
    assert same.mean_difference < 6

    moved = compare(db, f"{videos / 'crisp.mp4'}@30", f"{videos / 'crisp.mp4'}@33")
    assert panel(moved, "difference").mean() > 50  # 0.1 s of motion is plainly visible
    assert moved.mean_difference > 10


def test_panels_are_the_exact_frames_at_full_resolution(collection) -> None:  # type: ignore[no-untyped-def]
    db, videos = collection
    shown = compare(db, f"{videos / 'looped.mp4'}@300", f"{videos / 'rough.mp4'}@45")
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
    target = stored_frames(db, row.id, [380])[380]
    last_key = max(k for k in keys if k <= target.pts)
    assert last_key > 0, "the test video needs a keyframe after the first"
    with FrameGrabber(row, db.spec) as grabber:
        [frame] = grabber.grab([target])
        frames_from_key = sum(
            1
            for p in stored_frames(db, row.id, range(390)).values()
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
            compare(db, f"{target}@10", f"{library / 'looped.mp4'}@10")
        with pytest.raises(BadArgumentError, match="VIDEO@FRAME"):
            compare(db, str(library / "looped.mp4"), f"{library / 'looped.mp4'}@10")


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


# -- dot plots ----------------------------------------------------------------------------------


def test_dot_plot_of_a_loop_has_diagonals_at_the_period(collection) -> None:  # type: ignore[no-untyped-def]
    db, videos = collection
    looped = db.video(videos / "looped.mp4")
    track = db.tracks([looped])[looped.id]
    params = MatchParams()
    xs, ys = match_dots(track, track, radius=params.radius, min_detail=4.0, min_gap=1.0)
    frames = np.round((ys - xs) * 30).astype(int)  # offsets in frames; the period is 90
    values, counts = np.unique(frames, return_counts=True)
    assert len(xs) > 300
    # slow footage repeats a hash for a few frames, so the diagonals are a few frames thick,
    # but they are centred on the period and its multiples, and there is nothing else
    assert set(values[counts == counts.max()].tolist()) == {-90, 90}
    assert counts[values == 180][0] == counts[values == -180][0] > 50
    assert (np.abs(frames - 90 * np.round(frames / 90)) <= 12).mean() > 0.97

    plot = dot_plot(track, track, ("looped.mp4", "looped.mp4"), params)
    image = np.asarray(Image.open(io.BytesIO(plot.png)).convert("L"))

    def darkest(x: float, y: float) -> int:
        col, row = plot.pixel(x, y)
        return int(image[row - 1 : row + 2, col - 1 : col + 2].min())

    diagonal = [darkest(x, x + PERIOD) for x in np.arange(2.5, 7.5, 0.5)]
    between = [darkest(x, x + PERIOD / 2) for x in np.arange(2.5, 7.5, 0.5)]
    assert max(diagonal) < 128, diagonal  # dots drawn on y = x + period
    assert min(between) > 200, between  # and nothing half way


def test_dot_plot_of_a_copy_against_its_source(collection) -> None:  # type: ignore[no-untyped-def]
    db, videos = collection
    rows = [db.video(videos / "copy.mp4"), db.video(videos / "looped.mp4")]
    tracks = db.tracks(rows)
    copy, looped = (tracks[r.id] for r in rows)
    xs, ys = match_dots(copy, looped, radius=8, min_detail=4.0, min_gap=1.0)
    # copy frame c shows clip frame c, which looped shows at 60 + c, 150 + c and 240 + c
    offsets = np.round((ys - xs) * 30).astype(int)
    for centre in (60, 150, 240):
        band = offsets[np.abs(offsets - centre) <= 12]
        assert len(band) > 30 and abs(np.median(band) - centre) <= 1
    assert (np.abs(offsets - 60 - 90 * np.round((offsets - 60) / 90)) <= 12).mean() > 0.97


def test_dots_of_a_still_shot_are_capped() -> None:
    n = 20_000  # ten minutes of one picture: every frame matches every other
    times = np.arange(n) / 30
    codes = np.tile(np.arange(8, dtype=np.uint8), (n, 1))
    still = Track(1, times, codes, np.full(n, 50.0, np.float32))
    xs, ys = match_dots(still, still, radius=0, min_detail=4.0, min_gap=1.0, max_dots=5000)
    assert 4000 < len(xs) <= 5000  # a uniform sample, less the pairs closer than min_gap
    assert np.all(np.abs(ys - xs) >= 1.0)
    assert xs.min() < 60 and xs.max() > times[-1] - 60  # spread over the whole video


# -- tune ---------------------------------------------------------------------------------------


def test_tune_sweeps_every_setting_from_one_decoding(collection, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    db, videos = collection
    from framedb import decode

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
        ("phash", 8),
        ("phash", 16),
    ]
    with Image.open(out) as image:
        assert image.width > 800 and len(image.getcolors(1 << 16) or []) > 20
    code = run(["--db", db.location, "tune", "looped.mp4", "--sizes", "6"])
    assert code == 1 and "hash size 6" in capsys.readouterr().err


# -- report -------------------------------------------------------------------------------------


def images_of(html: str) -> list[str]:
    return re.findall(r'<img src="([^"]*)"', html)


def test_report_is_self_contained(collection, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    db, videos = collection
    out = tmp_path / "report.html"
    result = write_report(db, out)
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
    result = write_report(db, tmp_path / "one.html", ["crisp.mp4"])
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
    result = write_report(db, out, strips=10)
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
        write_report(db, html_path)
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
    write_report(db, out)
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
