"""The command line, run in-process: output, JSON documents, exit codes and every error path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from framedb.cli import run
from tests.conftest import LOOP_STARTS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run `framedb --db tmp/test.db ARGS...`; returns (exit code, stdout, stderr)."""

    def invoke(*args: object) -> tuple[int, str, str]:
        code = run(["--db", str(tmp_path / "test.db"), *map(str, args)])
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err

    return invoke


def test_ingest_videos_where_remove_check(cli, library: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("ingest", library)
    assert code == 0
    assert out.splitlines() == [
        f"done      {library / 'copy.mp4'}  105 frames",
        f"done      {library / 'looped.mp4'}  390 frames",
    ]
    assert "2 done in" in err
    code, out, _ = cli("videos", "--json")
    listed = json.loads(out)
    assert code == 0 and [v["frames"] for v in listed] == [105, 390]
    assert set(listed[0]) >= {
        "id",
        "path",
        "frames",
        "duration",
        "fps",
        "width",
        "height",
        "codec",
        "status",
    }
    code, out, _ = cli("where", library / "looped.mp4", LOOP_STARTS[0] + 30, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["query"] == {
        "video": str(library / "looped.mp4"),
        "frame": 90,
        "time": pytest.approx(3.0),
    }
    assert len(doc["hits"]) == 3
    assert set(doc["hits"][0]) >= {
        "video",
        "frame",
        "time",
        "distance",
        "first_frame",
        "last_frame",
    }
    code, out, _ = cli("where", "looped.mp4", "00:00:03.000")  # a unique file name is enough
    assert code == 0 and "appears 3 more time(s)" in out
    code, out, _ = cli("remove", library / "copy.mp4")
    assert code == 0 and out.startswith("removed ")
    code, out, _ = cli("check", "--json")
    assert code == 0 and json.loads(out)["ok"] and json.loads(out)["frames"] == 390


def test_ingest_json_lines_and_partial_failure_exit_code(
    cli,
    library: Path,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    bogus = tmp_path / "bogus.mp4"
    bogus.write_text("not a video at all\n" * 100)
    code, out, err = cli("ingest", "--json", library / "copy.mp4", bogus, tmp_path / "gone.mp4")
    assert code == 2
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(Path(d["path"]).name, d["status"]) for d in lines] == [
        ("copy.mp4", "done"),
        ("bogus.mp4", "failed"),
        ("gone.mp4", "failed"),
    ]
    assert "bogus.mp4: not a video file" in lines[1]["reason"]
    assert "gone.mp4: no such file" in lines[2]["reason"]


def test_ingest_decodes_one_video_per_core_by_default(  # type: ignore[no-untyped-def]
    cli, library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--jobs defaults to the usable cores, but a lone video gets one job (its two halves then
    keep both cores busy); files that cannot be read do not count."""
    from framedb.api import FrameDB

    seen: list[int] = []
    ingest = FrameDB.ingest

    def spy(self: FrameDB, paths: list[str], **options: object) -> object:
        seen.append(int(options["jobs"]))  # type: ignore[call-overload]
        return ingest(self, paths, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(FrameDB, "ingest", spy)
    for cores, args, jobs in (
        (2, [library], 2),  # two videos
        (4, [library], 2),
        (2, [library / "copy.mp4", tmp_path / "gone.mp4"], 1),
        (1, [library], 1),
        (2, ["-j", 3, library], 3),
    ):
        monkeypatch.setattr("framedb.ingest.jobs.available_cores", lambda cores=cores: cores)
        code, _, _ = cli("ingest", *args)
        assert code in (0, 2) and seen[-1] == jobs


def test_ingest_errors(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bogus = tmp_path / "bogus.mp4"
    bogus.write_bytes(b"\x00" * 4096)
    code, _, err = cli("ingest", bogus)
    assert code == 1 and f"failed    {bogus}: not a video file" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = cli("ingest", empty)
    assert code == 1 and err.strip() == f"framedb: no video files found in {empty}"


def test_where_errors_are_one_line_with_the_next_step(cli, library: Path) -> None:  # type: ignore[no-untyped-def]
    cli("ingest", library / "copy.mp4")
    cases = [
        (("where", "nothing.mp4", "3"), "nothing.mp4: not in the database; ingest it with"),
        (("where", library / "copy.mp4", "999"), "frame 999 is outside 0..104"),
        (("where", library / "copy.mp4", "later"), "give an ordinal (120) or a time"),
        (("where", library / "copy.mp4"), "give VIDEO and FRAME"),
        (("where", "--image", library / "nope.png"), "nope.png: no such file"),
        (("where", "--image", library / "copy.mp4"), "copy.mp4: not a picture"),
        (("where", "copy.mp4", "1", "--image", "x.png"), "not both"),
        (("remove", "nothing.mp4"), "nothing.mp4: not in the database"),
        (("--hash", "zhash9", "videos"), "use a kind and a size"),
        (("where", "copy.mp4", "1", "--radius", "-1"), "--radius"),
    ]
    for args, message in cases:
        code, out, err = cli(*args)
        assert (code, out) == (1, ""), args
        assert len(err.strip().splitlines()) == 1, err
        assert err.startswith("framedb: ") and message in err, err


def test_database_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_db = tmp_path / "notes.txt"
    not_db.write_text("hello\n" * 1000)
    assert run(["--db", str(not_db), "videos"]) == 1
    err = capsys.readouterr().err
    assert "notes.txt: cannot open as a framedb database" in err and "Traceback" not in err
    assert run(["--db", str(tmp_path / "missing" / "x.db"), "videos"]) == 1
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "cli.py"],
        [sys.executable, "-m", "framedb"],
        [str(Path(sys.executable).parent / "framedb")],
    ],
)
def test_every_entry_point_runs(command: list[str], tmp_path: Path) -> None:
    done = subprocess.run(
        [*command, "--db", str(tmp_path / "x.db"), "videos", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, json.loads(done.stdout)) == (0, [])
