"""`framedb report`: one self-contained HTML page of everything found. Per video its loops, a
timeline bar and a dot plot; a dot plot per pair of videos that share footage; thumbnail strips of
the strongest groups; a table of the others; the commands that reproduce each finding.

Thumbnails are the very frames that were ingested (framedb.ingest.frames), dot plots come from
framedb.evidence.dots, the page from Jinja2; every picture is embedded, so the file can be sent
as it is.
"""

from __future__ import annotations

import base64
import io
import os
import shlex
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from framedb import hashing
from framedb.errors import DecodeError, NotAVideoError, VideoNotFoundError
from framedb.evidence.dots import dot_plot, dots_of
from framedb.evidence.spans import coverage, merge, span
from framedb.hashspec import HashSpec
from framedb.ingest.frames import grab
from framedb.match.loops import LoopSummary, summarise_loops
from framedb.match.tracks import Group, MatchParams, Track, format_time
from framedb.store.atomic import write_bytes
from framedb.store.rows import Store
from framedb.store.tables import VideoRow

THUMB_WIDTH = 160
STRIP_COLUMNS = (0.0, 0.5, 1.0)  # where in each occurrence a strip shows a frame
STRIP_ROWS = 4  # occurrences pictured per group; the others are listed


@dataclass(frozen=True)
class ReportResult:
    path: Path
    bytes: int
    videos: int
    groups: int
    strips: int
    plots: int
    seconds: float


@dataclass
class _Cell:
    uri: str | None
    time: float
    frame: int
    distance: int | None


@dataclass
class _Row:
    video: str
    start: float
    end: float
    cells: list[_Cell]
    note: str | None = None


Progress = Callable[[str], None]


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _jpeg(rgb: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=75, optimize=True)
    return _data_uri(buffer.getvalue(), "image/jpeg")


@dataclass(frozen=True)
class ReportInput:
    """What a report is about, gathered by the caller (framedb.api): the database (named in the
    commands the page gives, read for thumbnails), the matcher's thresholds, the videos chosen and
    every video their groups involve, their tracks, and the groups."""

    location: str
    store: Store
    spec: HashSpec
    params: MatchParams
    chosen: list[VideoRow]
    rows: dict[int, VideoRow]
    tracks: dict[int, Track]
    groups: list[Group]


def write_report(
    source: ReportInput,
    out: str | os.PathLike[str],
    *,
    strips: int = 50,
    plots: int = 40,
    table_rows: int = 1000,
    on_progress: Progress | None = None,
    started: float | None = None,
) -> ReportResult:
    """Write one HTML file with everything embedded: per video its loops, a timeline bar and a
    dot plot; a dot plot per pair of videos that share footage; thumbnail strips of the strongest
    `strips` groups; a table of the others (at most `table_rows`); and the commands that
    reproduce each finding. `started`: when the caller began (the page says how long it took)."""
    started = time.perf_counter() if started is None else started
    say = on_progress or (lambda _text: None)
    out = Path(out)
    params, chosen, rows, tracks, groups = (
        source.params,
        source.chosen,
        source.rows,
        source.tracks,
        source.groups,
    )
    names = _names(rows.values())

    say("plots")
    per_video = _video_views(chosen, tracks, groups, names, summarise_loops)
    plot_count = 0
    for view in sorted(per_video, key=lambda v: (-v["found"], v["id"]))[:plots]:
        track = tracks[view["id"]]
        dots = dots_of(track, track, params)
        view["dots"] = len(dots[0])
        if len(dots[0]):  # an empty plot would say no more than "no loops"
            picture = dot_plot(track, track, (view["name"],) * 2, params, dots)
            view["plot"] = _data_uri(picture.png, "image/png")
            plot_count += 1
    pairs = _pair_views(groups, names)
    for pair in pairs[:plots]:
        a, b = tracks[pair["a"]], tracks[pair["b"]]
        picture = dot_plot(a, b, (names[pair["a"]], names[pair["b"]]), params)
        pair["plot"] = _data_uri(picture.png, "image/png")
        plot_count += 1

    say(f"thumbnails of {min(strips, len(groups))} groups")
    strong = groups[:strips]
    strip_rows = _strips(source, strong, names)
    group_views = []
    for rank, group in enumerate(groups[: max(strips, table_rows)], start=1):
        group_views.append(
            _group_view(source.location, rank, group, rows, tracks, names, strip_rows.get(rank - 1))
        )

    say("writing")
    html = _render_html(
        location=source.location,
        spec=str(source.spec),
        params=params,
        videos=per_video,
        pairs=pairs,
        groups=group_views,
        total_groups=len(groups),
        strips=len(strong),
        seconds=time.perf_counter() - started,
    )
    data = html.encode("utf-8")
    write_bytes(data, out)
    return ReportResult(
        path=out,
        bytes=len(data),
        videos=len(chosen),
        groups=len(groups),
        strips=len(strong),
        plots=plot_count,
        seconds=time.perf_counter() - started,
    )


def _names(rows: Iterable[VideoRow]) -> dict[int, str]:
    """Short names for videos: the file name, or more of the path when file names repeat."""
    rows = list(rows)
    seen: dict[str, int] = defaultdict(int)
    for row in rows:
        seen[Path(row.path).name] += 1
    return {r.id: Path(r.path).name if seen[Path(r.path).name] == 1 else r.path for r in rows}


def _video_views(
    chosen: Sequence[VideoRow],
    tracks: dict[int, Track],
    groups: Sequence[Group],
    names: dict[int, str],
    summarise: Callable[[Track, Sequence[Group]], list[LoopSummary]],
) -> list[dict[str, Any]]:
    involving: dict[int, list[Group]] = defaultdict(list)
    for g in groups:
        for vid in {o.video_id for o in g.occurrences}:
            involving[vid].append(g)
    views = []
    for row in chosen:
        track = tracks[row.id]
        mine = involving.get(row.id, [])
        loops = summarise(track, mine)
        loop_spans: list[tuple[float, float]] = []
        shared_spans: list[tuple[float, float]] = []
        partners: dict[int, float] = defaultdict(float)
        for g in mine:
            own = [o for o in g.occurrences if o.video_id == row.id]
            others = {o.video_id for o in g.occurrences} - {row.id}
            spans = [(o.start_time, o.end_time + track.step) for o in own]
            (loop_spans if len(own) >= 2 else shared_spans).extend(spans)
            for other in others:
                partners[other] += g.duration
        start, length = span(track)
        bar = _bar(loop_spans, "loop", start, length - start) + _bar(
            shared_spans, "shared", start, length - start
        )
        views.append(
            {
                "id": row.id,
                "name": names[row.id],
                "path": row.path,
                "frames": row.frame_count,
                "duration": format_time(row.duration),
                "size": f"{row.width}x{row.height}" if row.width else "-",
                "fps": f"{row.fps:.3g}" if row.fps else "-",
                "status": row.status,
                "loops": [s.text() for s in loops],
                "coverage": coverage(track, [g for g in mine if _loops_in(g, row.id)]),
                "shared": [
                    {"name": names.get(vid, str(vid)), "seconds": seconds}
                    for vid, seconds in sorted(partners.items(), key=lambda kv: -kv[1])
                ],
                "bar": bar,
                "found": len(mine),
                "dots": None,
                "plot": None,
            }
        )
    return views


def _loops_in(group: Group, video_id: int) -> bool:
    return sum(o.video_id == video_id for o in group.occurrences) >= 2


def _bar(
    spans: Sequence[tuple[float, float]], kind: str, start: float, length: float
) -> list[dict[str, Any]]:
    """Timeline bar pieces (percent of the video), merged to at most ~500 per kind."""
    if length <= 0:
        return []
    merged = merge(spans, length / 500)
    return [
        {
            "kind": kind,
            "left": 100 * (lo - start) / length,
            "width": max(0.15, 100 * (hi - lo) / length),
            "title": f"{kind}: {format_time(lo)}–{format_time(hi)}",
        }
        for lo, hi in merged
    ]


def _pair_views(groups: Sequence[Group], names: dict[int, str]) -> list[dict[str, Any]]:
    shared: dict[tuple[int, int], list[float]] = defaultdict(lambda: [0, 0.0])
    for g in groups:
        vids = sorted({o.video_id for o in g.occurrences})
        for i, a in enumerate(vids):
            for b in vids[i + 1 :]:
                shared[(a, b)][0] += 1
                shared[(a, b)][1] += g.duration
    ranked = sorted(shared.items(), key=lambda item: (-item[1][1], item[0]))
    return [
        {
            "a": a,
            "b": b,
            "a_name": names.get(a, str(a)),
            "b_name": names.get(b, str(b)),
            "groups": int(count),
            "seconds": seconds,
            "plot": None,
        }
        for (a, b), (count, seconds) in ranked
    ]


def _cell_frames(track: Track, group: Group, occurrence_index: int) -> list[int]:
    """The frames a strip shows for one occurrence: the moments STRIP_COLUMNS of the way through
    the group's footage, aligned by time with the first occurrence."""
    first = group.occurrences[0]
    occ = group.occurrences[occurrence_index]
    length = first.end_time - first.start_time
    wanted = occ.start_time + np.asarray(STRIP_COLUMNS) * length
    idx = np.searchsorted(track.times, wanted - 1e-6)
    idx = np.clip(idx, occ.start_frame, occ.end_frame)
    return [int(i) for i in idx]


def _strips(
    source: ReportInput, groups: Sequence[Group], names: dict[int, str]
) -> dict[int, list[_Row]]:
    """Thumbnails for the first STRIP_ROWS occurrences of each group; one file open per video."""
    rows, tracks = source.rows, source.tracks
    wanted: dict[int, set[int]] = defaultdict(set)
    plan: list[list[tuple[int, list[int]]]] = []
    for g in groups:
        shown = []
        for k, occ in enumerate(g.occurrences[:STRIP_ROWS]):
            ordinals = _cell_frames(tracks[occ.video_id], g, k)
            wanted[occ.video_id].update(ordinals)
            shown.append((occ.video_id, ordinals))
        plan.append(shown)
    pictures: dict[tuple[int, int], str] = {}
    problems: dict[int, str] = {}
    for vid, needed in wanted.items():
        try:
            for frame in grab(
                source.store, source.spec, rows[vid], sorted(needed), width=THUMB_WIDTH
            ):
                pictures[(vid, frame.ordinal)] = _jpeg(frame.rgb)
        except (VideoNotFoundError, NotAVideoError, DecodeError, OSError) as exc:
            problems[vid] = str(exc)
    result: dict[int, list[_Row]] = {}
    for gi, (g, shown) in enumerate(zip(groups, plan, strict=True)):
        reference = [tracks[shown[0][0]].codes[o] for o in shown[0][1]]
        strip = []
        for (vid, ordinals), occ in zip(shown, g.occurrences, strict=False):
            track = tracks[vid]
            cells = [
                _Cell(
                    uri=pictures.get((vid, o)),
                    time=float(track.times[o]),
                    frame=o,
                    distance=int(hashing.hamming(track.codes[o], ref)),
                )
                for o, ref in zip(ordinals, reference, strict=True)
            ]
            strip.append(_Row(names[vid], occ.start_time, occ.end_time, cells, problems.get(vid)))
        result[gi] = strip
    return result


def _group_view(
    location: str,
    rank: int,
    group: Group,
    rows: dict[int, VideoRow],
    tracks: dict[int, Track],
    names: dict[int, str],
    strip: list[_Row] | None,
) -> dict[str, Any]:
    occ = group.occurrences
    same = len({o.video_id for o in occ}) == 1
    commands = [_show_command(location, rows, occ[0], occ[1], rank)]
    for k, o in enumerate(occ[:STRIP_ROWS], start=1):
        commands.append(_cut_command(rows[o.video_id], tracks[o.video_id], o, rank, k))
    if len(occ) > STRIP_ROWS:
        commands.append(f"# ... and {len(occ) - STRIP_ROWS} more occurrences")
    return {
        "rank": rank,
        "kind": "loop" if same else "shared",
        "frames": group.frames,
        "duration": group.duration,
        "count": len(occ),
        "videos": sorted({names[o.video_id] for o in occ}),
        "occurrences": [
            {
                "video": names[o.video_id],
                "start": format_time(o.start_time),
                "end": format_time(o.end_time),
                "frames": f"{o.start_frame}–{o.end_frame}",
            }
            for o in occ[:8]
        ],
        "more": max(0, len(occ) - 8),
        "strip": strip,
        "columns": [f"{int(100 * c)} %" for c in STRIP_COLUMNS],
        "commands": commands,
    }


def _show_command(location: str, rows: dict[int, VideoRow], a: Any, b: Any, rank: int) -> str:
    refs = [shlex.quote(f"{rows[o.video_id].path}@{o.start_frame}") for o in (a, b)]
    return f"framedb --db {shlex.quote(location)} show {refs[0]} {refs[1]} -o group-{rank}.png"


def _cut_command(row: VideoRow, track: Track, occ: Any, rank: int, k: int) -> str:
    # ffmpeg counts -ss/-to from the start of the file, framedb from the stream's own timestamps
    origin = float(track.times[0]) if len(track) else 0.0
    start = occ.start_time - origin
    end = occ.end_time + track.step - origin
    return (
        f"ffmpeg -ss {start:.3f} -to {end:.3f} -i {shlex.quote(row.path)} "
        f"-c copy group-{rank}-{k}{Path(row.path).suffix or '.mp4'}"
    )


def _render_html(**context: Any) -> str:
    from importlib.metadata import version

    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("framedb.evidence", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["clock"] = format_time
    template = env.get_template("report.html.j2")
    return template.render(
        version=version("framedb"),
        generated=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        **context,
    )
