"""The `framedb` command line: parse arguments, call FrameDB, print text or JSON, map errors to exit
codes (0 success, 1 user error, 2 some inputs of an ingest failed while others were stored)."""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import click

from framedb.errors import FrameDBError

if TYPE_CHECKING:
    from framedb.api import FrameDB, Group, WhereResult


def _open(ctx: click.Context) -> FrameDB:
    from framedb.api import FrameDB

    db = FrameDB.open(
        ctx.obj["db"],
        hash_kind=ctx.obj["hash_kind"],
        hash_size=ctx.obj["hash_size"],
        index_path=ctx.obj.get("index"),
    )
    ctx.call_on_close(db.close)
    return db


def _emit(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    default="framedb.db",
    envvar="FRAMEDB_DB",
    show_default=True,
    help="Database file (SQLite) or SQLAlchemy URL; also $FRAMEDB_DB.",
)
@click.option(
    "--hash",
    "hash_name",
    default="dct8",
    show_default=True,
    help="Hash for a NEW database: dct, phash, ahash or dhash with N (N x N bits), e.g. ahash24.",
)
@click.option(
    "--index",
    "index_path",
    envvar="FRAMEDB_INDEX",
    type=click.Path(dir_okay=False),
    help="Where this machine keeps the FAISS index; also $FRAMEDB_INDEX. Default: DB.faiss "
    "beside a SQLite file, a per-database file in ~/.cache/framedb for a server URL.",
)
@click.version_option(package_name="framedb")
@click.pass_context
def cli(ctx: click.Context, db: str, hash_name: str, index_path: str | None) -> None:
    """Find repeated and reused footage in video: ingest once, query many times."""
    from framedb.hashspec import KINDS

    kind = hash_name.rstrip("0123456789")
    size = hash_name[len(kind) :]
    if kind not in KINDS or not size:
        raise click.BadParameter(
            f"{hash_name!r}: use a kind and a size, e.g. dct8 or ahash24", param_hint="--hash"
        )
    ctx.obj = {"db": db, "hash_kind": kind, "hash_size": int(size), "index": index_path}


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 64),
    help="Videos decoded at once, each in its own process.  [default: one per core, at most one "
    "per video]",
)
@click.option(
    "--timeout",
    default=600.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Give up a file whose decoder makes no progress for this long (hung or looping).",
)
@click.option(
    "--cluster",
    metavar="ADDRESS",
    help="Decode on a Dask cluster (tcp://scheduler:8786; `local` starts --jobs local workers); "
    "the files must be readable by the workers at the same paths.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per video (JSON lines).")
@click.pass_context
def ingest(
    ctx: click.Context,
    paths: tuple[str, ...],
    jobs: int | None,
    timeout: float,
    cluster: str | None,
    as_json: bool,
) -> int:
    """Decode every frame of the videos in PATHS (files or folders) and store their hashes."""
    if cluster:
        from framedb.api import default_jobs

        jobs = default_jobs(paths, jobs)
    else:  # start decoding the first files while the database is being opened
        from framedb.api import prefetch

        jobs = prefetch(paths, ctx.obj["hash_kind"], ctx.obj["hash_size"], jobs)
    from framedb.terminal import IngestView

    db = _open(ctx)
    started = time.perf_counter()
    view = IngestView(as_json)
    try:
        results = db.ingest(
            list(paths),
            jobs=jobs,
            timeout=timeout,
            on_result=view.show,
            on_progress=view.progress,
            cluster=cluster,
        )
    finally:
        view.close()
    seconds = time.perf_counter() - started
    counts = Counter(r.status for r in results)
    decoded = sum(r.frames for r in results if r.status in ("done", "partial"))
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    if not results:
        raise click.UsageError("no video files found in " + ", ".join(paths))
    click.echo(
        f"{summary} in {seconds:.1f} s ({decoded / max(seconds, 1e-9):,.0f} frames/s)", err=True
    )
    failed = counts["failed"] + counts["partial"]
    if not failed:
        return 0
    return 2 if any(r.stored for r in results) else 1


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def videos(ctx: click.Context, as_json: bool) -> None:
    """List the stored videos."""
    from framedb.api import format_time

    rows = _open(ctx).videos()
    if as_json:
        _emit([v.as_dict() for v in rows])
        return
    if not rows:
        click.echo("no videos stored yet; add some with `framedb ingest PATH`", err=True)
    for v in rows:
        size = f"{v.width}x{v.height}" if v.width else "-"
        fps = f"{v.fps:.3g} fps" if v.fps else "-"
        click.echo(
            f"{v.id:>5}  {v.status:<7} {format_time(v.duration)}  {v.frame_count:>9} frames"
            f"  {size:>9}  {fps:>9}  {v.codec or '-':<6} {v.path}"
        )


@cli.command()
@click.argument("video")
@click.pass_context
def remove(ctx: click.Context, video: str) -> None:
    """Delete VIDEO (path, name or id), its frames and their index entries."""
    row = _open(ctx).remove(video)
    click.echo(f"removed {row.path} ({row.frame_count} frames)")


@cli.command()
@click.option(
    "--repair", is_flag=True, help="Fix what can be fixed: drop broken rows, rebuild the index."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def check(ctx: click.Context, repair: bool, as_json: bool) -> int:
    """Check that the database agrees with itself and the index with the database."""
    report = _open(ctx).check(repair=repair)
    if as_json:
        _emit(report.as_dict())
    else:
        for note in report.repaired:
            click.echo(f"repaired: {note}", err=True)
        for problem in report.problems:
            click.echo(f"problem: {problem}", err=True)
        state = "ok" if report.ok else "PROBLEMS (run `framedb check --repair`)"
        click.echo(
            f"{state}: {report.videos} videos, {report.frames} frames, "
            f"{report.index_frames} in the index"
        )
    return 0 if report.ok else 1


@cli.command()
@click.argument("video", required=False)
@click.argument("frame", required=False)
@click.option("--image", type=click.Path(), help="Search for a picture instead of a stored frame.")
@click.option(
    "--radius",
    "-r",
    type=click.IntRange(0, 1024),
    default=None,
    help="Hamming radius (bits); default from the database's hash.",
)
@click.option("--limit", "-k", type=click.IntRange(1), default=20, show_default=True)
@click.option("--segments", is_flag=True, help="Extend each hit to the whole shared segment.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def where(
    ctx: click.Context,
    video: str | None,
    frame: str | None,
    image: str | None,
    radius: int | None,
    limit: int,
    segments: bool,
    as_json: bool,
) -> None:
    """Where else does FRAME of VIDEO appear? FRAME: an ordinal (120) or a time (12.5s, 1:02.5)."""
    from framedb.api import DEFAULT_RADIUS

    db = _open(ctx)
    radius = DEFAULT_RADIUS if radius is None else radius
    if image:
        if video or frame:
            raise click.UsageError("give either VIDEO FRAME or --image PICTURE, not both")
        result = db.where_image(image, radius=radius, limit=limit)
    elif video is None or frame is None:
        raise click.UsageError("give VIDEO and FRAME (e.g. `framedb where a.mp4 12.5s`) or --image")
    else:
        result = db.where(video, frame, radius=radius, limit=limit)
    if segments:
        if image:
            raise click.UsageError("--segments needs VIDEO FRAME; a picture has no segment")
        result = db.where_segments(result)
    _print_where(result, image, as_json)


def _print_where(result: WhereResult, image: str | None, as_json: bool) -> None:
    if as_json:
        _emit(result.as_dict(image))
        return
    click.echo(result.text(image))


@cli.command()
@click.argument("first")
@click.argument("second")
@click.option(
    "--output", "-o", required=True, type=click.Path(dir_okay=False), help="PNG to write."
)
@click.option(
    "--gain",
    type=click.IntRange(1, 255),
    default=4,
    show_default=True,
    help="Amplification of the difference image.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show(
    ctx: click.Context, first: str, second: str, output: str, gain: int, as_json: bool
) -> None:
    """Two frames side by side with their difference: FIRST and SECOND are VIDEO@FRAME, FRAME an
    ordinal (120) or a time (12.5s, 00:01:02.500)."""
    result = _open(ctx).compare(first, second, gain=gain)
    size = result.save(output)
    if as_json:
        _emit({"output": output, "bytes": size, **result.as_dict()})
    else:
        click.echo(f"wrote {output}: {result.text()}")
    for f in (result.first, result.second):
        if f.drift:
            click.echo(
                f"warning: frame {f.ordinal} of {f.video.path} decodes {f.drift} bits away from "
                "its stored hash",
                err=True,
            )


@cli.command()
@click.argument("video")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="PNG chart to write.")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(["ahash", "dhash", "phash", "dct"]),
    help="Hash kind to sweep (repeatable); default ahash and the database's kind.",
)
@click.option(
    "--sizes",
    default="4,8,12,16,20,24,28,32",
    show_default=True,
    help="Hash sizes N (N x N bits), comma-separated.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Sweep only the first SECONDS of the video (large hashes are slow on long videos).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def tune(
    ctx: click.Context,
    video: str,
    output: str | None,
    kinds: tuple[str, ...],
    sizes: str,
    duration: float | None,
    as_json: bool,
) -> None:
    """Sweep hash settings over VIDEO (stored, or any file): exact-hash buckets and the loop groups
    found per setting, from one decoding pass."""
    try:
        wanted = [int(s) for s in sizes.split(",") if s.strip()]
    except ValueError as exc:
        raise click.BadParameter(
            f"{sizes!r}: give numbers such as 8,16,24", param_hint="--sizes"
        ) from exc
    result = _open(ctx).tune(video, kinds=kinds, sizes=wanted, duration=duration)
    if output:
        result.plot(output)
    if as_json:
        _emit(result.as_dict())
        return
    click.echo(f"{result.path}: {result.frames} frames, {result.detailed} with detail")
    click.echo("hash      buckets  mean  largest  radius  groups  loops  covered")
    for s in result.settings:
        click.echo(
            f"{s.kind}{s.size:<4} {s.buckets:>8} {s.mean_bucket:>5.1f} {s.max_bucket:>8}"
            f" {s.radius:>7} {s.groups:>7} {s.loops:>6} {100 * s.coverage:>7.0f} %"
        )
    if output:
        click.echo(f"wrote {output}", err=True)


@cli.command()
@click.argument("videos", nargs=-1)
@click.option(
    "--output", "-o", required=True, type=click.Path(dir_okay=False), help="HTML to write."
)
@click.option(
    "--strips",
    type=click.IntRange(0),
    default=50,
    show_default=True,
    help="Groups that get thumbnail strips (the strongest).",
)
@click.pass_context
def report(ctx: click.Context, videos: tuple[str, ...], output: str, strips: int) -> None:
    """Write one self-contained HTML page about VIDEOS (default: all): loops, timelines, dot plots,
    thumbnails of the strongest groups and the commands that reproduce them."""

    def progress(text: str) -> None:
        if sys.stderr.isatty():
            click.echo(f"report: {text}", err=True)

    result = _open(ctx).report(output, list(videos), strips=strips, on_progress=progress)
    click.echo(
        f"wrote {output}: {result.videos} video(s), {result.groups} group(s), "
        f"{result.strips} with thumbnails, {result.bytes / 1e6:.1f} MB in {result.seconds:.1f} s"
    )


RECOMPUTE = click.option(
    "--recompute", is_flag=True, help="Find the segments again from the frames and store them."
)


def _note(text: str | None) -> None:
    """Say why stored segments do not answer (the answer then comes from the frames)."""
    if text:
        click.echo(f"note: {text}", err=True)


@cli.command()
@click.argument("video")
@click.option("--min-length", type=float, default=None, help="Shortest repeat to report (s).")
@RECOMPUTE
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def loops(
    ctx: click.Context, video: str, min_length: float | None, recompute: bool, as_json: bool
) -> None:
    """The footage that repeats inside VIDEO, and how much of it is repeated."""
    db = _open(ctx)
    _note(None if recompute else db.segments_note([video], min_length))
    found = db.loops(video, min_length=min_length, recompute=recompute)
    if as_json:
        _emit(found.as_dict())
        return
    if not found.groups:
        click.echo(f"{found.video.path}: no repeated footage")
        return
    click.echo(f"{found.video.path}:")
    for summary_line in found.summaries:
        click.echo(f"  {summary_line.text()}")
    _print_groups(found.groups, with_names=False)


@cli.command()
@click.argument("videos", nargs=-1)
@click.option("--min-length", type=float, default=None, help="Shortest shared segment (s).")
@RECOMPUTE
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def matches(
    ctx: click.Context,
    videos: tuple[str, ...],
    min_length: float | None,
    recompute: bool,
    as_json: bool,
) -> None:
    """Footage shared across the collection (only groups involving VIDEOS, if given), from the
    segments found at ingest."""
    db = _open(ctx)
    _note(None if recompute else db.segments_note([], min_length))
    groups = db.matches(list(videos), min_length=min_length, recompute=recompute)
    if as_json:
        _emit({"groups": [g.as_dict() for g in groups]})
    elif not groups:
        click.echo("no shared footage found")
    else:
        _print_groups(groups, with_names=True)


@cli.command()
@click.argument("clip", type=click.Path())
@click.option("--min-length", type=float, default=None, help="Shortest shared segment (s).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def find(ctx: click.Context, clip: str, min_length: float | None, as_json: bool) -> None:
    """Where the footage of CLIP appears in the collection (CLIP is not stored)."""
    groups = _open(ctx).find(clip, min_length=min_length)
    if as_json:
        _emit({"groups": [g.as_dict() for g in groups]})
    elif not groups:
        click.echo(f"{clip}: its footage appears nowhere in the collection")
    else:
        _print_groups(groups, with_names=True)


def _print_groups(groups: list[Group], *, with_names: bool) -> None:
    for rank, group in enumerate(groups, 1):
        click.echo(group.text(rank, with_names=with_names))


def run(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit code (tests call this in-process)."""
    try:
        code = cli.main(args=argv, prog_name="framedb", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("framedb: interrupted", err=True)
        return 130
    except click.ClickException as exc:
        click.echo(f"framedb: {exc.format_message()}", err=True)
        return 1
    except FrameDBError as exc:
        click.echo(f"framedb: {exc}", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo("framedb: interrupted", err=True)
        return 130
    return code if isinstance(code, int) else 0


def main() -> None:
    """The `framedb` program. Its work is committed and closed when `run` returns, so it exits
    at once, without the interpreter's tear-down of every module (~0.15 s after an ingest),
    unless a profiler or coverage tool is watching (they write their data at exit)."""
    # framedb's matrix products are small (a batch of 64x64 pictures at most): OpenBLAS's own
    # threads, started when numpy loads, cost ~0.1 s of CPU and never help. A user's setting stays.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    code = run()
    if sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe: nothing more can be said
        code = code or 1
    os._exit(code)
