"""Scaling figures for docs/scaling.md: bulk insert and read-back rates of SQLite and PostgreSQL,
and ingest through a Dask LocalCluster of 2 workers against local `--jobs 2`.

    python benchmarks/scaling.py --pg postgresql://USER:PASS@HOST/DB [--frames 1000000]

Without --pg (or $FRAMEDB_TEST_PG) only the SQLite and cluster figures are measured. Each
PostgreSQL case uses a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BIN, machine, run_process, table, test_video  # noqa: E402

from framedb.store.engine import database_url, make_engine  # noqa: E402
from framedb.store.rows import Store  # noqa: E402


def _frames(n: int, nbytes: int = 8) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(1)
    return (
        np.arange(n, dtype=np.int64) * 1000,
        np.arange(n, dtype=np.float64) / 30,
        rng.integers(0, 256, (n, nbytes), dtype=np.uint8),
        rng.uniform(0, 60, n).astype(np.float32),
    )


def _row(i: int) -> dict:
    return {
        "path": f"/bench/{i}.mp4".encode(),
        "size": 1,
        "mtime": 0.0,
        "fingerprint": f"{i:064x}",
        "frame_count": 0,
        "duration": 0.0,
        "status": "done",
        "hash_kind": "phash",
        "hash_size": 8,
    }


def store_rates(
    url: str, frames: int, per_video: int, generic: bool = False
) -> tuple[float, float]:
    """(rows/s inserted, rows/s read back by all_codes) for `frames` rows in videos of
    `per_video`; `generic` forces SQLAlchemy's executemany path instead of COPY."""
    from framedb.store.schema import ensure_schema

    engine = make_engine(url)
    ensure_schema(engine, "bench")
    store = Store(engine)
    store.init_meta({"hash_kind": "phash", "hash_size": "8"})
    if generic:
        store.copy = False
    data = _frames(per_video)
    started = time.perf_counter()
    for v in range(frames // per_video):
        with store.writing() as conn:
            store.add_video(conn, _row(v), *data)
    insert = frames / (time.perf_counter() - started)
    started = time.perf_counter()
    with store.reading() as conn:
        read = sum(len(ids) for ids, _ in store.all_codes(conn, 8))
    scan = read / (time.perf_counter() - started)
    engine.dispose()
    return insert, scan


def pg_schema(base: str) -> tuple[str, str]:
    import psycopg

    schema = f"framedb_bench_{uuid.uuid4().hex[:8]}"
    admin = database_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    join = "&" if "?" in base else "?"
    return f"{base}{join}options={quote(f'-csearch_path={schema}')}", schema


def drop_schema(base: str, schema: str) -> None:
    import psycopg

    admin = database_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def insert_rows(pg: str | None, frames: int) -> list[tuple[str, str, str]]:
    per_video = 100_000
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base_in, base_out = store_rates(f"sqlite:///{tmp}/b.db", frames, per_video)
    rows.append(
        (
            f"SQLite: insert {frames:,} frames ({per_video:,} per transaction)",
            f"{base_in:,.0f} rows/s",
            "baseline",
        )
    )
    rows.append(("SQLite: read back (index rebuild)", f"{base_out:,.0f} rows/s", "baseline"))
    if pg:
        for generic in (False, True):
            url, schema = pg_schema(pg)
            try:
                ins, out = store_rates(url, frames, per_video, generic=generic)
            finally:
                drop_schema(pg, schema)
            how = "executemany (no COPY)" if generic else "binary COPY"
            rows.append(
                (f"PostgreSQL: insert, {how}", f"{ins:,.0f} rows/s", f"{ins / base_in:.2f}")
            )
            if not generic:
                rows.append(
                    (
                        "PostgreSQL: read back, binary COPY",
                        f"{out:,.0f} rows/s",
                        f"{out / base_out:.2f}",
                    )
                )
    return rows


def cluster_rows(files: int, seconds: int, repeats: int) -> list[tuple[str, str, str]]:
    """Whole `framedb ingest` processes: --jobs 2, and --cluster local --jobs 2 (start-up of the
    cluster included), and ingest through an already running 2-worker LocalCluster."""
    from distributed import LocalCluster

    from framedb import FrameDB

    videos = [
        test_video(f"360p30-{seconds + i}s.mp4", size="640x360", seconds=seconds + i)
        for i in range(files)
    ]
    frames = sum((seconds + i) * 30 for i in range(files))
    folder = Path(tempfile.mkdtemp())
    for v in videos:
        (folder / v.name).symlink_to(v)

    def whole(*extra: str) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            args = [BIN / "framedb", "--db", Path(tmp) / "b.db", "ingest", "-j", "2", *extra]
            return run_process([*args, folder])

    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )

    def in_process(address: str | None) -> float:
        with tempfile.TemporaryDirectory() as tmp, FrameDB.open(Path(tmp) / "b.db") as db:
            started = time.perf_counter()
            db.ingest([folder], jobs=2, cluster=address)
            return time.perf_counter() - started

    times: dict[str, list[float]] = {"jobs": [], "local": [], "pool": [], "running": []}
    try:
        for _ in range(repeats):
            times["jobs"].append(whole())
            times["local"].append(whole("--cluster", "local"))
            times["pool"].append(in_process(None))
            times["running"].append(in_process(cluster.scheduler_address))
    finally:
        cluster.close()
    base, pool = min(times["jobs"]), min(times["pool"])
    what = f"{files} files 640x360, {frames:,} frames"
    return [
        (f"ingest --jobs 2 ({what}, whole process)", f"{frames / base:,.0f} frames/s", "baseline"),
        (
            "ingest --cluster local --jobs 2 (whole process, cluster start-up included)",
            f"{frames / min(times['local']):,.0f} frames/s",
            f"{base / min(times['local']):.2f}",
        ),
        (
            "FrameDB.ingest(jobs=2) in-process (worker start-up included)",
            f"{frames / pool:,.0f} frames/s",
            "baseline",
        ),
        (
            "FrameDB.ingest through a running 2-worker LocalCluster",
            f"{frames / min(times['running']):,.0f} frames/s",
            f"{pool / min(times['running']):.2f}",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg", default=os.environ.get("FRAMEDB_TEST_PG"))
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-cluster", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = insert_rows(args.pg, args.frames)
    if not args.skip_cluster:
        rows += cluster_rows(args.files, args.seconds, args.repeats)
    print(f"framedb scaling benchmarks on {machine()}, {time.strftime('%Y-%m-%d')}")
    print(table(rows))
    print(f"(took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
