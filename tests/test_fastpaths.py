"""Every fast path against the simple implementation it replaces: identical grey pictures, hashes,
rows, index hits, `where` hits and groups on generated videos (no timings here: benchmarks/)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from av.video.reformatter import Interpolation, VideoReformatter

from framedb import FrameDB, hashing
from framedb.hashspec import HashSpec
from framedb.ingest import jobs, run, workers
from framedb.ingest.decode import VideoReader
from framedb.ingest.extract import hash_video
from framedb.store import bulk, catchup, tables
from framedb.store.index import FrameIndex, Manifest
from tests.media import Segment, write_video


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A loop, a rotated small copy of part of it, and footage of its own."""
    folder = tmp_path_factory.mktemp("fast")
    loop = Segment(21, 0.0, 1.5)
    write_video(folder / "loop.mp4", [Segment(22, 0.0, 1.0), loop, loop, loop], fps=25)
    write_video(folder / "copy.mp4", [loop, Segment(23, 0.0, 1.0)], size=(160, 90), crf=30)
    write_video(folder / "other.mkv", [Segment(24, 0.0, 1.5)], fps=30, size=(320, 240))
    return folder


def simple_grey(path: Path) -> np.ndarray:
    """The plain way: decode, scale each frame with a fresh default call, copy it out."""
    with av.open(str(path)) as container:
        return np.stack(
            [
                VideoReformatter()
                .reformat(f, width=64, height=64, format="gray", interpolation=Interpolation.AREA)
                .to_ndarray()
                for f in container.decode(video=0)
            ]
        )


@pytest.mark.parametrize("name", ["loop.mp4", "copy.mp4", "other.mkv"])
def test_grey_pictures_are_those_of_the_plain_scaling(clips: Path, name: str) -> None:
    with VideoReader(clips / name) as reader:
        fast = np.concatenate([b.grey for b in reader.batches(size=7)])  # batches cut mid-GOP
    assert np.array_equal(fast, simple_grey(clips / name))


def test_block_mean_equals_the_matrix_resize() -> None:
    rng = np.random.default_rng(0)
    pictures = rng.integers(0, 256, (40, 64, 64), np.uint8)
    pictures[:5] = 255  # extremes
    pictures[5:10] = 0
    pictures[10:20] = (pictures[10:20] // 64) * 64  # ties everywhere
    for rows, cols in [(32, 32), (16, 16), (8, 8), (4, 4), (2, 2), (1, 1), (64, 64), (8, 9)]:
        fast = hashing.resize(pictures, rows, cols)
        plain = hashing.resize_matmul(pictures, rows, cols)
        assert fast.dtype == plain.dtype == np.float32
        assert np.array_equal(fast, plain), (rows, cols)
    assert np.array_equal(
        hashing.resize(pictures[0], 16, 16), hashing.resize_matmul(pictures[0], 16, 16)
    )


def _plain_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashing, "_block_mean", lambda *args: None)


@pytest.mark.parametrize(
    "spec",
    [
        HashSpec("phash", 8),
        HashSpec("phash", 4),
        HashSpec("ahash", 8),
        HashSpec("dhash", 8),
        HashSpec("phash", 16),
    ],
)
def test_hashes_and_detail_match_the_plain_path(
    clips: Path, spec: HashSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = hash_video(clips / "loop.mp4", spec)
    _plain_hashing(monkeypatch)
    plain = hash_video(clips / "loop.mp4", spec)
    assert np.array_equal(fast.codes, plain.codes)
    assert np.array_equal(fast.detail, plain.detail)
    assert np.array_equal(fast.pts, plain.pts) and np.array_equal(fast.times, plain.times)


def _rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT id, video_id, ordinal, pts, time, hash, detail, inner_hash, mid_hash, "
            "turned_hash "
            "FROM frames "
            "ORDER BY id"
        ).fetchall()


@pytest.mark.parametrize("block", [1 << 16, 100])
def test_sqlite_bulk_insert_writes_the_rows_of_the_generic_path(
    clips: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    # loop.mp4 has 137 frames: statements of 89, 32, 16 rows; in blocks of 100 rows, of 89, 8,
    # 2 and 1, then 32, 4 and 1.
    monkeypatch.setattr(bulk, "_INSERT_ROWS", block)
    with FrameDB.open(tmp_path / "fast.db") as db:
        db.ingest([clips])
    original = bulk.sqlite_frames

    def generic(conn, ids, video_id, pts, times, codes, detail, inner, mid, turned):  # type: ignore[no-untyped-def]
        from sqlalchemy import insert

        n = len(ids)
        rows = [
            {
                "id": int(ids[k]),
                "video_id": video_id,
                "ordinal": k,
                "pts": int(pts[k]),
                "time": float(times[k]),
                "hash": bytes(codes[k]),
                "detail": float(detail[k]),
                "inner_hash": None if inner is None else bytes(inner[k]),
                "mid_hash": None if mid is None else bytes(mid[k]),
                "turned_hash": None if turned is None else bytes(turned[k]),
            }
            for k in range(n)
        ]
        conn.execute(insert(tables.frames), rows)

    monkeypatch.setattr(bulk, "sqlite_frames", generic)
    with FrameDB.open(tmp_path / "plain.db") as db:
        db.ingest([clips])
    monkeypatch.setattr(bulk, "sqlite_frames", original)
    fast, plain = _rows(tmp_path / "fast.db"), _rows(tmp_path / "plain.db")
    assert len(fast) > 100
    assert fast == plain


# -- the index -------------------------------------------------------------------------------
def _clustered_codes(rng: np.random.Generator, n: int, flip: float = 0.04) -> np.ndarray:
    """Codes in clusters (like frames of shots), each bit flipped with probability `flip`."""
    centres = rng.integers(0, 256, (max(1, n // 40), 8), np.uint8)
    codes = centres[rng.integers(0, len(centres), n)]
    noise = rng.random((n, 64)) < flip
    return np.packbits(np.unpackbits(codes, axis=1) ^ noise, axis=1)


def _same_hits(index: FrameIndex, queries: np.ndarray, radii: list[int]) -> None:
    for q in queries:
        for r in radii:
            ids, dist = index.search_radius(q, r)
            flat_ids, flat_dist = index.search_radius_flat(q, r)
            order = np.argsort(flat_ids)
            assert np.array_equal(ids, flat_ids[order]), r
            assert np.array_equal(dist, flat_dist[order]), r
            assert np.all(dist <= r)


@pytest.mark.parametrize("n", [0, 1, 37, 3000, 60000])
def test_multi_index_hits_are_the_flat_hits(tmp_path: Path, n: int) -> None:
    rng = np.random.default_rng(n)
    codes = _clustered_codes(rng, n)
    ids = np.arange(n, dtype=np.int64) * 5 + 11
    index = FrameIndex(64)
    index.add(ids, codes)
    path = tmp_path / "i.faiss"
    index.save(path, Manifest("db", 1, n, 64, ()))
    noisy = _clustered_codes(rng, 20)
    queries = np.concatenate([codes[: min(n, 20)], noisy])
    radii = [0, 1, 2, 5, 6, 8, 11, 16, 30, 64]
    _same_hits(index, queries, radii)
    loaded = FrameIndex.load(path, "db", 1, 64)
    assert loaded is not None and len(loaded) == n and loaded.verify()
    _same_hits(loaded, queries, radii)
    if n:  # changes since the save: masked and scanned, then folded in by the next save
        assert loaded.remove(ids[::3]) == len(ids[::3])
        loaded.add(ids[-1] + 1 + np.arange(n // 4 + 1), _clustered_codes(rng, n // 4 + 1))
        _same_hits(loaded, queries, radii)
        loaded.save(path, Manifest("db", 2, len(loaded), 64, ()))
        again = FrameIndex.load(path, "db", 2, 64)
        assert again is not None and again.verify()
        assert np.array_equal(np.sort(again.ids()), np.sort(loaded.ids()))
        _same_hits(again, queries, radii)


def test_a_changed_byte_fails_verification(tmp_path: Path) -> None:
    index = FrameIndex(64)
    index.add(np.arange(1, 5001), _clustered_codes(np.random.default_rng(3), 5000))
    path = tmp_path / "i.faiss"
    index.save(path, Manifest("db", 1, 5000, 64, ()))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    loaded = FrameIndex.load(path, "db", 1, 64)
    assert loaded is None or not loaded.verify()


def _where_all(db: FrameDB, flat: bool, monkeypatch: pytest.MonkeyPatch) -> list:
    if flat:
        monkeypatch.setattr(FrameIndex, "search_radius", FrameIndex.search_radius_flat)
    out = []
    for video in db.videos():
        for frame in range(0, video.frame_count, 5):
            out.append(db.where(video.id, frame, radius=8, limit=None))
    monkeypatch.undo()
    return out


def test_where_hits_and_groups_are_those_of_the_flat_index(
    clips: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FrameDB.open(tmp_path / "w.db") as db:
        db.ingest([clips])
        fast = _where_all(db, False, monkeypatch)
        assert any(r.hits for r in fast)
        assert fast == _where_all(db, True, monkeypatch)
        groups = db.matches()
        assert groups  # the loop at least
    monkeypatch.setattr(hashing, "_block_mean", lambda *args: None)
    with FrameDB.open(tmp_path / "plain.db") as db:
        db.ingest([clips])
        assert [g.occurrences for g in db.matches()] == [
            tuple(o for o in g.occurrences) for g in groups
        ]


# -- catching up a stale index ---------------------------------------------------------------
def _index_state(db: FrameDB) -> tuple[list[int], list[bytes]]:
    ids, codes = db.index().contents()
    return ids.tolist(), [bytes(c) for c in codes]


def _sql_state(db: FrameDB) -> tuple[list[int], list[bytes]]:
    with sqlite3.connect(db.location) as conn:
        rows = conn.execute("SELECT id, hash FROM frames ORDER BY id").fetchall()
    return [r[0] for r in rows], [bytes(r[1]) for r in rows]


def test_a_stale_index_catches_up_without_a_rebuild(
    clips: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.db"
    reader = FrameDB.open(path)
    with FrameDB.open(path) as writer:
        writer.ingest([clips / "loop.mp4", clips / "copy.mp4"])
    assert _index_state(reader) == _sql_state(reader)  # loaded from the writer's file
    stale_file = path.with_name("c.db.faiss").read_bytes()

    def no_rebuild(*args: object) -> None:
        raise AssertionError("rebuilt from SQL instead of catching up")

    # Another process changes the database; its index save is lost (as if killed before it).
    with FrameDB.open(path) as writer:
        writer.remove(writer.video(clips / "copy.mp4").path)  # the last video: its ids come again
        writer.ingest([clips / "other.mkv"])
    path.with_name("c.db.faiss").write_bytes(stale_file)
    monkeypatch.setattr(catchup, "rebuild", no_rebuild)
    assert _index_state(reader) == _sql_state(reader)  # the reader's index, in memory
    fresh = FrameDB.open(path)  # and a new process, from the stale file
    assert _index_state(fresh) == _sql_state(fresh)
    frames = [(v.id, f) for v in fresh.videos() for f in range(0, v.frame_count, 7)]
    fast_hits = [fresh.where(v, f, radius=12, limit=None) for v, f in frames]
    assert any(r.hits for r in fast_hits)
    monkeypatch.setattr(FrameIndex, "search_radius", FrameIndex.search_radius_flat)
    assert [fresh.where(v, f, radius=12, limit=None) for v, f in frames] == fast_hits
    reader.close()
    fresh.close()


def test_an_index_without_video_records_is_rebuilt(clips: Path, tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with FrameDB.open(path) as db:
        db.ingest([clips / "loop.mp4"])
        index = db.index()
        index.save(db.index_path, Manifest(db.database_id, 0, len(index), 64, None))
    with FrameDB.open(path) as db:
        assert _index_state(db) == _sql_state(db)
        assert db.index().manifest is not None and db.index().manifest.videos is not None


# -- starting the first decoder early --------------------------------------------------------
def test_a_prefetched_decoder_is_adopted_and_gives_the_same_rows(
    clips: Path, tmp_path: Path
) -> None:
    with FrameDB.open(tmp_path / "plain.db") as db:
        db.ingest([clips])
    workers.prefetch([str(clips)], "dct", 8, 1)
    assert len(workers._PREFETCHED) == 1
    running = workers._PREFETCHED[0]
    with FrameDB.open(tmp_path / "early.db") as db:
        results = db.ingest([clips])
    assert [r.status for r in results] == ["done"] * 3
    assert not workers._PREFETCHED
    assert running.process.poll() is not None  # adopted, then closed with its pool
    assert _rows(tmp_path / "early.db") == _rows(tmp_path / "plain.db")


LAUNCH_SPY = """
import subprocess, sys
from framedb.cli import run

launch = subprocess.Popen.__init__

def spy(self, *args, **kwargs):
    loaded = sorted(m for m in ("numpy", "sqlalchemy", "av") if m in sys.modules)
    print("launched with", loaded, file=sys.stderr)
    launch(self, *args, **kwargs)

subprocess.Popen.__init__ = spy
sys.exit(run(sys.argv[1:]))
"""


def test_the_command_line_launches_its_decoders_before_the_heavy_imports(
    clips: Path, tmp_path: Path
) -> None:
    """`framedb ingest` starts decoding while it imports numpy and SQLAlchemy, not after."""
    db = str(tmp_path / "cli.db")
    done = subprocess.run(
        [sys.executable, "-c", LAUNCH_SPY, "--db", db, "ingest", "-j", "2", str(clips)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    launches = [line for line in done.stderr.splitlines() if line.startswith("launched")]
    assert launches == ["launched with []"] * 2
    with FrameDB.open(tmp_path / "plain.db") as plain:
        plain.ingest([clips])
    assert sorted(r[2:] for r in _rows(Path(db))) == sorted(
        r[2:] for r in _rows(tmp_path / "plain.db")
    )


def test_one_prefetched_decoder_per_job_is_adopted(clips: Path, tmp_path: Path) -> None:
    with FrameDB.open(tmp_path / "plain.db") as db:
        db.ingest([clips], jobs=2)
    workers.prefetch([str(clips)], "dct", 8, 2)
    running = list(workers._PREFETCHED)
    assert len(running) == 2
    assert [w.job.args[0].name for w in running if w.job] == ["copy.mp4", "loop.mp4"]
    with FrameDB.open(tmp_path / "early.db") as db:
        results = db.ingest([clips], jobs=2)
    assert [r.status for r in results] == ["done"] * 3
    assert not workers._PREFETCHED and all(w.process.poll() is not None for w in running)
    assert _rows(tmp_path / "early.db") == _rows(tmp_path / "plain.db")


def test_prefetched_decoders_out_of_order_are_discarded(clips: Path, tmp_path: Path) -> None:
    with FrameDB.open(tmp_path / "p.db") as db:
        db.ingest([clips / "copy.mp4"])  # unchanged at the next ingest: no job for it
    workers.prefetch([str(clips)], "dct", 8, 2)
    running = list(workers._PREFETCHED)
    with FrameDB.open(tmp_path / "p.db") as db:
        results = db.ingest([clips], jobs=2)
    assert [r.status for r in results] == ["unchanged", "done", "done"]
    assert not workers._PREFETCHED and all(w.process.poll() is not None for w in running)
    with FrameDB.open(tmp_path / "q.db") as db:
        db.ingest([clips], jobs=2)
    assert _rows(tmp_path / "p.db") == _rows(tmp_path / "q.db")


def test_beside_other_jobs_a_file_that_is_not_short_may_use_every_core(
    clips: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --jobs 2 a short file gets its share of the cores, one that is not gets them all (a
    long video is then decoded as two halves, which take over the other job's core when it
    ends, instead of going on alone on one); the prefetched decoders were given the same, so
    they are adopted."""
    sizes = {p.name: p.stat().st_size for p in clips.iterdir()}
    largest = max(sizes, key=sizes.__getitem__)
    for module in (jobs, run):  # the largest file is the one that is not short
        monkeypatch.setattr(module, "SHORT_FILE", sizes[largest])
    monkeypatch.setattr(jobs, "available_cores", lambda: 2)
    submitted: dict[str, tuple[int, bool]] = {}
    submit, adopt = workers.WorkerPool.submit, workers._adopt
    adopted: list[workers._Worker] = []

    def spy(pool: workers.WorkerPool, key: object, args: tuple, *, short: bool = False) -> None:
        submitted[args[0].name] = (args[2], short)
        submit(pool, key, args, short=short)

    def adopting(job: workers._Job, target: workers.Target) -> workers._Worker | None:
        worker = adopt(job, target)
        adopted.extend([worker] if worker else [])
        return worker

    monkeypatch.setattr(workers.WorkerPool, "submit", spy)
    monkeypatch.setattr(workers, "_adopt", adopting)
    workers.prefetch([str(clips)], "dct", 8, 2)
    with FrameDB.open(tmp_path / "p.db") as db:
        results = db.ingest([clips], jobs=2)
    assert [r.status for r in results] == ["done"] * 3
    assert submitted == {name: (0, False) if name == largest else (1, True) for name in sizes}
    assert len(adopted) == 2 and not workers._PREFETCHED


def test_a_prefetched_decoder_for_another_hash_is_discarded(clips: Path, tmp_path: Path) -> None:
    workers.prefetch([str(clips / "loop.mp4")], "ahash", 8, 1)  # the database says dct
    running = workers._PREFETCHED[0]
    with FrameDB.open(tmp_path / "p.db") as db:
        results = db.ingest([clips / "loop.mp4"])
        assert results[0].status == "done"
    assert running.process.poll() is not None and not workers._PREFETCHED
    with FrameDB.open(tmp_path / "q.db") as db:
        db.ingest([clips / "loop.mp4"])
    assert _rows(tmp_path / "p.db") == _rows(tmp_path / "q.db")


def test_files_load_whatever_the_length_of_their_header(tmp_path: Path) -> None:
    """The arrays start at an aligned offset after the header and its checksum, for every
    header length (a manifest lists one entry per video)."""
    index = FrameIndex(64)
    index.add(np.arange(1, 201), _clustered_codes(np.random.default_rng(5), 200))
    path = tmp_path / "h.faiss"
    for videos in range(0, 80):
        held = tuple((v, v * 10, 1, "f" * (v % 7)) for v in range(videos))
        index.save(path, Manifest("db", videos, 200, 64, held))
        loaded = FrameIndex.load(path, "db", videos, 64)
        assert loaded is not None and loaded.manifest is not None
        assert loaded.manifest.videos == held and loaded.verify()


def test_check_finds_a_damaged_index_file_and_rebuilds_it(clips: Path, tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    with FrameDB.open(path) as db:
        db.ingest([clips / "loop.mp4"])
    faiss_file = path.with_name("d.db.faiss")
    data = bytearray(faiss_file.read_bytes())
    data[len(data) // 3] ^= 0x01  # inside the arrays: the header and sizes still check out
    faiss_file.write_bytes(bytes(data))
    with FrameDB.open(path) as db:
        report = db.check()
        assert report.ok and any("damaged" in note for note in report.repaired)
        assert _index_state(db) == _sql_state(db)
        assert FrameIndex.load(faiss_file, db.database_id, 1, 64) is not None


def test_content_box_of_pictures_is_that_of_their_float_copies() -> None:
    rng = np.random.default_rng(9)
    for _ in range(300):
        grey = rng.integers(0, 256, (int(rng.integers(1, 40)), 64, 64), np.uint8)
        top, bottom, left, right = (int(v) for v in rng.integers(0, 24, 4))
        grey[:, :top] = rng.integers(0, 30)
        grey[:, 64 - bottom :] = 0
        grey[:, :, :left] = 3
        grey[:, :, 64 - right :] = rng.integers(0, 30)
        assert hashing.content_box(grey) == hashing.content_box(grey.astype(np.float32))
