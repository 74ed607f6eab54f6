"""A reader process for the concurrency tests: `python -m tests.reader DB STOP_FILE [ROUNDS]`.

It opens the database again and again and queries it (videos, frame counts, where) until STOP_FILE
exists (then one last round), with SQLite's busy timeout at 0: any wait for a lock would be an
immediate "database is locked" error. Every video it sees must be complete. Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, func, select

import framedb.api
from framedb.store.engine import make_engine
from framedb.store.tables import frames


def _never_wait(url: str) -> Engine:
    engine = make_engine(url)

    @event.listens_for(engine, "connect")
    def _no_busy_timeout(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout=0")

    return engine


def main() -> None:
    framedb.api.make_engine = _never_wait  # type: ignore[attr-defined]
    db_path, stop = sys.argv[1], Path(sys.argv[2])
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    queries, seen = 0, set()
    while True:
        last = stop.exists() or (rounds and queries + 1 >= rounds)
        with framedb.api.FrameDB.open(db_path) as db:
            with db.store.reading() as conn:
                rows = db.store.videos(conn)
                counts = dict(
                    conn.execute(
                        select(frames.c.video_id, func.count()).group_by(frames.c.video_id)
                    ).all()
                )
            for video in rows:
                if video.status not in ("done", "partial", "failed"):
                    raise AssertionError(f"unfinished video visible: {video}")
                if counts.get(video.id, 0) != video.frame_count:
                    raise AssertionError(f"incomplete frames visible: {video}")
            done = [v for v in rows if v.status == "done"]
            if done:
                result = db.where(done[-1].id, done[-1].frame_count // 2)
                if result.query is None or result.query.video_id != done[-1].id:
                    raise AssertionError(f"where answered for another video: {result}")
            queries += 1
            seen.add(len(rows))
        if last:
            break
    print(json.dumps({"queries": queries, "seen": sorted(seen)}))


if __name__ == "__main__":
    main()
