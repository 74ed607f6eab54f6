"""`check` of the stored segments: every segment points at stored frames, and on a sample of
videos the stored segments are those the frames give now; `--repair` finds them all again."""

from __future__ import annotations

from framedb.match.answers import StoredAnswers
from framedb.match.stored import same_rows, track_of
from framedb.store import segments
from framedb.store.integrity import CheckReport
from framedb.store.lock import writer_lock

SAMPLE = 3  # videos whose stored segments are found again from their frames and compared


def check_segments(answers: StoredAnswers, report: CheckReport, *, repair: bool) -> None:
    """Add what is wrong with the stored segments to `report`; with `repair`, find every
    segment again from the frames first if anything is."""
    problems = _problems(answers)
    if problems and repair:
        db = answers.db
        with writer_lock(db.store.engine, db.cache.path, db.location), db.store.writing() as conn:
            count = answers.recompute(conn, answers.matchable())
        report.repaired.append(f"segments: found again from the frames ({count} stored)")
        problems = _problems(answers)
    report.problems.extend(problems)


def _problems(answers: StoredAnswers) -> list[str]:
    with answers.store.reading() as conn:
        bad = segments.dangling(conn)
    if bad:
        return [
            f"{len(bad)} stored segment(s) point at frames that are not stored "
            f"(ids {bad[:5]}); run `framedb check --repair` to find them again"
        ]
    videos = answers.matchable()
    fingerprints = {v.id: v.fingerprint for v in videos}
    current = [v for v in videos if v.segments == answers.key]
    finder = answers.finder()
    problems = []
    for video in current[:: max(1, len(current) // SAMPLE)][:SAMPLE]:
        with answers.store.reading() as conn:
            stored = segments.of_videos(conn, [video.id])
            track = track_of(answers.store, conn, video.id, answers.nbytes)
            fresh = finder.loops_of(track)
            for other in sorted(finder.near(track) - {video.id}):
                if other in fingerprints:
                    partner = track_of(answers.store, conn, other, answers.nbytes)
                    fresh += finder.between(partner, track, fingerprints)
        if not same_rows(stored, fresh):
            problems.append(
                f"{video.path}: {len(stored)} stored segment(s), its frames give {len(fresh)}; "
                "run `framedb check --repair` to find them again"
            )
    return problems
