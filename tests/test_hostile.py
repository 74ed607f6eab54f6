"""A folder of broken and hostile files, ingested as one: every input gets its status and its own
one-line reason, the good files are stored whole, and the run's exit code says some failed."""

from __future__ import annotations

import ast
import base64
import json
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from framedb import FrameDB
from framedb.cli import run
from framedb.errors import FrameDBError, NotAVideoError, VideoNotFoundError
from framedb.hashspec import HashSpec
from framedb.ingest import files
from framedb.ingest.extract import hash_video
from framedb.store.tables import frames
from tests import hostile

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def huge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("huge") / "huge.mp4"
    hostile.write_huge_frame(path)
    return path


def ingest_json(
    db: Path, *args: object, capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[dict], str]:
    code = run(["--db", str(db), "ingest", "--json", *map(str, args)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, [json.loads(line) for line in out.splitlines()], err


def test_gallery_of_bad_files(
    tmp_path: Path,
    huge: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "downloads"
    expect = hostile.gallery(folder, huge)
    kinds = {name: e for name, e in expect.items() if e.status != "done"}
    assert len(kinds) >= 15  # 16 where device nodes can be made
    # crash.mp4 really segfaults its decoder process and hang.mp4 really hangs it.
    monkeypatch.setattr("framedb.ingest.workers.decode_file", hostile.hostile_decode)
    db = tmp_path / "test.db"
    code, lines, err = ingest_json(db, "--jobs", "2", "--timeout", "3", folder, capsys=capsys)
    prefix = files.display(folder) + "/"
    got = {d["path"].removeprefix(prefix): d for d in lines}
    assert sorted(got) == sorted(expect)
    walk = [files.display(found.path) for found in files.expand([folder])]
    assert [d["path"] for d in lines] == walk  # results come in the order of the inputs
    for name, want in expect.items():
        line = got[name]
        assert (name, line["status"], line["frames"]) == (name, want.status, want.frames)
        if want.reason is None:
            assert line["reason"] is None, (name, line["reason"])
            continue
        reason = line["reason"]
        assert want.reason in reason, (name, reason)
        assert "\n" not in reason
        if want.status == "failed":  # a failure's reason names its file, as the CLI prints it
            assert reason.startswith(files.shown(folder / name) + ": "), reason
    assert code == 2
    assert err.count("\n") == 1 and "failed" in err  # the summary line

    # Stored exactly: the raw bytes of every name, the frames each good file holds.
    with FrameDB.open(db) as opened:
        stored = {v.raw_path: v for v in opened.videos()}
        for name, want in expect.items():
            if want.status not in ("done", "partial"):
                continue
            raw = os.fsencode(folder) + b"/" + name.encode("utf-8", "surrogateescape")
            if "\\x" in name:
                raw = os.fsencode(folder) + b"/latin1-\xe9t\xe9-\xff.mp4"
            row = stored[raw]
            assert (row.status, row.frame_count) == (want.status, want.frames), name
            with opened.store.reading() as conn:
                count = conn.execute(
                    select(func.count()).where(frames.c.video_id == row.id)
                ).scalar_one()
            assert count == want.frames
        assert opened.check().ok
        errors = {v.path.removeprefix(prefix): v.error for v in stored.values()}
        assert "without its index" in (errors["cut-before-index.mp4"] or "")  # kept with its row
    code, out, _ = run_cli(db, "videos", "--json", capsys=capsys)
    shown = {v["path"].removeprefix(prefix) for v in json.loads(out)}
    assert {"new\nline.mp4", "latin1-\\xe9t\\xe9-\\xff.mp4", "-leading-dash.mp4"} <= shown

    # A second run decodes only what failed: nothing stored twice, same statuses.
    code, again, _ = ingest_json(db, "--timeout", "3", folder, capsys=capsys)
    assert code == 2
    again_status = {d["path"].removeprefix(prefix): d["status"] for d in again}
    for name, want in expect.items():
        if want.status in ("done", "partial"):
            assert again_status[name] == "unchanged", name
        else:
            assert again_status[name] == want.status, name
    with FrameDB.open(db) as opened:
        assert opened.check().ok
        assert len(opened.videos()) == len(stored)


def run_cli(db: Path, *args: object, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(["--db", str(db), *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_nothing_stored_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "text.mkv").write_text("hello\n")
    code, lines, err = ingest_json(tmp_path / "t.db", folder, capsys=capsys)
    assert code == 1
    assert [d["status"] for d in lines] == ["failed", "failed"]
    code, out, err = run_cli(tmp_path / "t.db", "ingest", folder, capsys=capsys)
    assert code == 1 and out == ""
    assert err.splitlines()[:2] == [
        f"failed    {folder / 'empty.mp4'}: empty file (0 bytes)",
        f"failed    {folder / 'text.mkv'}: not a video file (it holds text)",
    ]


def test_a_partial_file_is_stored_and_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole, part = tmp_path / "whole.mp4", tmp_path / "part.mp4"
    hostile.write_mp4(whole, 90, faststart=True)
    hostile.cut(whole, part, 0.5)
    kept = hostile.decodable_pts(part)
    hashed = hash_video(part, HashSpec())
    assert hashed.pts.tolist() == kept and 0 < len(kept) < 90
    assert hashed.error and "cut short" in hashed.error
    code, lines, _ = ingest_json(tmp_path / "t.db", part, capsys=capsys)
    assert code == 2  # the frames are stored; the file still counts as not whole
    assert (lines[0]["status"], lines[0]["frames"]) == ("partial", len(kept))


# Inputs the fuzzer (tests/fuzz_decode.py) once broke the decoder with, kept as regressions.
FUZZ_FINDINGS = [
    b"",  # an empty file: PyAV's file object raised a bare OSError that ended the whole run
    base64.b64decode("AAAAAAAAEVsAAAFmdHkN"),  # a second stream: skipping it raised ValueError
]


@pytest.mark.parametrize("data", FUZZ_FINDINGS)
def test_fuzz_findings_stay_fixed(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "found.mp4"
    path.write_bytes(data)
    try:
        hashed = hash_video(path, HashSpec())
    except FrameDBError as exc:
        assert str(exc).startswith(f"{path}: ")
    else:
        assert len(hashed) == len(hashed.codes)


def test_a_video_with_sound_is_decoded_whole(tmp_path: Path) -> None:
    path = tmp_path / "with-sound.mp4"
    hostile.write_audio(path, video_frames=40)
    hashed = hash_video(path, HashSpec())
    assert hashed.error is None
    assert hashed.pts.tolist() == hostile.decodable_pts(path) and len(hashed) == 40


def test_files_are_never_opened_through_a_protocol(tmp_path: Path) -> None:
    # Names that FFmpeg would read as a protocol are files; content naming other files is refused.
    with pytest.raises(VideoNotFoundError):
        hash_video("http://127.0.0.1:9/video.mp4", HashSpec())
    target = tmp_path / "real.mp4"
    hostile.write_mp4(target, 10)
    for text in (
        f"ffconcat version 1.0\nfile {target}\n",
        f"ffconcat version 1.0\nfile {target.name}\n",
        f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile://{target}\n#EXT-X-ENDLIST\n",
    ):
        playlist = tmp_path / "list.mp4"
        playlist.write_text(text)
        cwd = os.getcwd()
        os.chdir(tmp_path)
        try:
            with pytest.raises(NotAVideoError):
                hash_video(playlist, HashSpec())
        finally:
            os.chdir(cwd)


def test_sql_is_built_with_bound_parameters_only() -> None:
    """No SQL text is made from values: sqlalchemy's text() and exec_driver_sql() take plain string
    literals, and no execute() is handed a formatted string."""
    offenders = []
    sources = sorted((ROOT / "framedb").glob("*.py")) + sorted((ROOT / "migrations").rglob("*.py"))
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            if isinstance(node.func, ast.Name):  # text() is imported by name (Pillow's is a method)
                literal_only = node.func.id == "text"
                checked = literal_only
            elif isinstance(node.func, ast.Attribute):
                literal_only = node.func.attr in ("exec_driver_sql", "executescript")
                checked = literal_only or node.func.attr == "execute"
            else:
                continue
            first = node.args[0]
            formatted = isinstance(first, (ast.JoinedStr, ast.BinOp)) or (
                isinstance(first, ast.Call) and getattr(first.func, "attr", "") == "format"
            )
            if checked and (formatted or (literal_only and not _literal(first))):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def _literal(node: ast.expr) -> bool:
    """A string literal, or a choice between literals ("BEGIN IMMEDIATE" if ... else "BEGIN")."""
    if isinstance(node, ast.IfExp):
        return _literal(node.body) and _literal(node.orelse)
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def test_nothing_is_unpickled_from_files() -> None:
    sources = [p.read_text() for p in (ROOT / "framedb").glob("*.py")]
    assert not any("pickle.load" in s or "import pickle" in s for s in sources)


def test_copies_in_one_run_are_decoded_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "copies"
    folder.mkdir()
    hostile.write_mp4(folder / "a.mp4", 20)
    for name in ("b.mp4", "c.mp4"):
        (folder / name).write_bytes((folder / "a.mp4").read_bytes())
    hostile.write_mp4(folder / "d.mp4", 20, scene=9)
    code, lines, _ = ingest_json(tmp_path / "t.db", "--jobs", "2", folder, capsys=capsys)
    assert code == 0
    assert [(Path(d["path"]).name, d["status"], d["frames"]) for d in lines] == [
        ("a.mp4", "done", 20),
        ("b.mp4", "duplicate", 20),
        ("c.mp4", "duplicate", 20),
        ("d.mp4", "done", 20),
    ]


def test_an_unreadable_folder_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "shared"
    (folder / "private").mkdir(parents=True)
    hostile.write_mp4(folder / "ok.mp4", 10)
    listing = os.scandir

    def refuse(path: str | os.PathLike[str] = ".") -> object:  # root reads any folder: pretend
        if os.fspath(path).endswith("private"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return listing(path)

    monkeypatch.setattr(os, "scandir", refuse)
    code, lines, _ = ingest_json(tmp_path / "t.db", folder, capsys=capsys)
    assert code == 2
    assert [(Path(d["path"]).name, d["status"], d["reason"]) for d in lines] == [
        ("ok.mp4", "done", None),
        ("private", "failed", f"{folder / 'private'}: cannot read this folder (Permission denied)"),
    ]
