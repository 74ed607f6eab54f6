"""framedb, vPDQ and FFmpeg's `signature` on transformed copies of real and generated footage.

    python benchmarks/transforms.py [--quick] [--rows NAME...] [--sources NAME...] [--keep DIR]
                                    [--by-source]

For each source (bikes.mp4, box.mp4, a 10 s piece of vtest.avi, a generated scene) and each row:
an original O = [filler, S, filler] and a copy C = [filler, T(S), filler], S being 7 s of the
source, the fillers ~2 s of generated footage used nowhere else (other lengths in every copy),
encoded with PyAV's libx264 at 30 fps. Every frame's truth is known: which source time it shows.
Negative rows are pairs of videos that share nothing worth finding (same logo and caption, a
shared still shot, fades, black frames).

All three tools get the same files and the same scoring. Truth: for each C frame showing S, the
O frame nearest to its source time (within half a frame). A predicted (O, C) pair is true when
its O frame is within one frame of that (or shows the same source frame: a 10 fps source holds
each picture three frames at 30 fps). Precision = true / predicted pairs; recall = C frames with
a true pair predicted / C frames with a truth. End error: the median absolute error (seconds) of
the four ends (start and end in O and in C) of each tool's best segment. s/min: wall time of
all the tool does for the row (decoding, hashing, matching both videos) per minute of video.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import footage  # noqa: E402
from common import machine  # noqa: E402
from footage import (  # noqa: E402
    LENGTH,
    SOURCES,
    Black,
    Fade,
    Part,
    Piece,
    Scene,
    Source,
    Still,
    Truth,
    Video,
    number,
    piece,
)
from rivals import (  # noqa: E402
    RIVALS,
    Found,
    Score,
    cell,
    negative_cell,
    score,
    versions,
    warm_up,
)

from framedb.synth import (  # noqa: E402
    Blur,
    Caption,
    Chain,
    Crop,
    Grey,
    Logo,
    Mirror,
    Noise,
    Phone,
    PiP,
    Resize,
    Rotate,
)

# ---------------------------------------------------------------------------------------------
# Sources, rows and cases


@dataclass(frozen=True)
class Row:
    """How a copy differs from its original: its looks, quality, frame rates, speed, PiP."""

    looks: tuple[object, ...] = ()
    crf: int = 20
    fps: tuple[int, int] = (30, 30)  # O, C
    rate: float = 1.0  # C plays S this many times as fast
    pip: bool = False


ROWS = {
    "re-encode crf 38": Row(crf=38),
    "160x90 (160 px wide)": Row((Resize(160),)),
    "25 -> 24 fps": Row(fps=(25, 24)),
    "mirror": Row((Mirror(),)),
    "crop 90 %": Row((Crop(0.9),)),
    "crop 75 %": Row((Crop(0.75),)),
    "zoom 1.2x": Row((Crop(1 / 1.2),)),
    "caption box 15 %": Row((Caption(),)),
    "corner logo": Row((Logo(),)),
    "PiP 50 %": Row(pip=True),
    "speed 1.25x": Row(rate=1.25),
    "speed 0.8x": Row(rate=0.8),
    "rotate 5 deg": Row((Rotate(5.0),)),
    "phone frame, blurred fill": Row((Phone(),)),
    "greyscale": Row((Grey(),)),
    "blur radius 2.5": Row((Blur(2.5),)),
    "noise sd 10": Row((Noise(10.0),)),
    "mirror + crop 90 % + caption": Row((Mirror(), Crop(0.9), Caption())),
    "PiP + speed 1.25x": Row(rate=1.25, pip=True),
}
NEGATIVES = ("same logo + caption", "static shots", "fades to/from black", "black frames")
QUICK = ("re-encode crf 38", "mirror", "crop 90 %", "speed 1.25x", "static shots")


@dataclass
class Case:
    """One row on one source: the original O and the copy C."""

    row: str
    source: str
    o: Video
    c: Video


def cases(sources: Sequence[Source], rows: Sequence[str]) -> list[Case]:
    """The pairs of videos to match: every row on every source, the negatives once."""
    out = []
    for src in sources:
        for row_name in (r for r in rows if r in ROWS):
            row = ROWS[row_name]
            o_fps, c_fps = row.fps
            key = f"{src.name}/o{o_fps}"
            o = Video(
                f"{src.name}-o{o_fps}",
                (Scene(number(key, "head"), 2.0), piece(src), Scene(number(key, "tail"), 2.2)),
                fps=o_fps,
                size=src.size,
            )
            h = int(hashlib.sha1(row_name.encode()).hexdigest()[:6], 16)
            head, tail = 1.2 + (h % 16) / 10, 1.5 + (h // 16 % 11) / 10
            looks = row.looks + ((PiP(number(src.name, row_name, "pip")),) if row.pip else ())
            c = Video(
                f"{src.name}-c-{hashlib.sha1(row_name.encode()).hexdigest()[:6]}",
                (
                    Scene(number(src.name, row_name, "head"), head),
                    piece(src, row.rate),
                    Scene(number(src.name, row_name, "tail"), tail),
                ),
                fps=c_fps,
                size=src.size,
                crf=row.crf,
                look=Chain(looks) if looks else footage.plain,
            )
            out.append(Case(row_name, src.name, o, c))
    src = sources[0]
    for name in (r for r in rows if r in NEGATIVES):
        o_parts, c_parts, look = negative(name, src)
        o = Video(f"neg-o-{name[:5]}", o_parts, size=src.size, look=look)
        c = Video(f"neg-c-{name[:5]}", c_parts, size=src.size, look=look)
        out.append(Case(name, src.name, o, c))
    return out


def negative(name: str, src: Source) -> tuple[tuple[Part, ...], tuple[Part, ...], object]:
    """O's parts, C's parts and the look of both, for a pair that shares nothing to find."""

    def filler(tag: str, seconds: float = 2.0) -> Scene:
        return Scene(number("negative", name, tag), seconds)

    if name == "same logo + caption":
        own = piece(src, label=None) if src.clip else filler("footage", LENGTH)
        return (
            (filler("o1"), own, filler("o2")),
            (filler("c1", 1.5), filler("c-footage", 6.0), filler("c2", 2.5)),
            Chain((Logo(), Caption())),
        )
    if name == "static shots":
        shared = Still(Piece(src.clip, src.start + 2.0, 1.0) if src.clip else filler("shared"), 4.0)
        return (
            (filler("o1"), shared, filler("o2"), Still(filler("o-still"), 3.0), filler("o3", 1.5)),
            (
                filler("c1", 1.5),
                Still(shared.part, 5.0),
                filler("c2", 2.5),
                Still(filler("c-still"), 3.0),
            ),
            footage.plain,
        )
    if name == "fades to/from black":

        def fades(tag: str, gap: float) -> tuple[Part, ...]:
            return (Fade(filler(tag + "out", 1.5)), Black(gap), Fade(filler(tag + "in", 1.5), True))

        return (
            (filler("o1"), *fades("o", 0.5), filler("o2")),
            (filler("c1", 1.5), *fades("c", 0.7), filler("c2", 2.5)),
            footage.plain,
        )
    return (
        (filler("o1"), Black(2.0), filler("o2"), Black(1.0), filler("o3")),
        (filler("c1", 1.5), Black(3.0), filler("c2", 2.5)),
        footage.plain,
    )


# ---------------------------------------------------------------------------------------------
# Running


def run(
    todo: list[Case], files: dict[str, Path]
) -> tuple[dict[str, dict[str, Score]], dict[str, dict[str, Score]], list[str]]:
    """Every tool on every case, one after another: (row -> tool -> score, the same per source
    "row / source", and what failed)."""
    truths: dict[str, Truth] = {}
    out: dict[str, dict[str, Score]] = {}
    each: dict[str, dict[str, Score]] = {}
    failures: list[str] = []
    warm_up()
    for case in todo:
        paths = files[case.o.filename()], files[case.c.filename()]
        o, c = (truths.setdefault(v.filename(), v.truth()) for v in (case.o, case.c))
        line = [f"{case.source:9s} {case.row:30s}"]
        for tool, runner in RIVALS.items():
            got: Found | None = None
            try:
                got = runner(paths[0], paths[1], (o.times, c.times))
            except Exception as exc:  # one failure costs that tool that case, and is shown
                failures.append(f"{NAMES[tool]} on {case.source} / {case.row}: {exc}")
                print(failures[-1], file=sys.stderr)
            one = each.setdefault(f"{case.row} / {case.source}", {}).setdefault(tool, Score())
            for into in one, out.setdefault(case.row, {}).setdefault(tool, Score()):
                score(into, got, o, c)
            line.append(f"{tool} {cell(one)} ({f'{got.found:.0f}' if got else 'failed'})")
        print(" | ".join(line), file=sys.stderr, flush=True)
    return out, each, failures


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="bikes only, a few rows")
    parser.add_argument("--rows", nargs="+", metavar="NAME", help="only these rows")
    parser.add_argument("--sources", nargs="+", choices=list(SOURCES), help="only these sources")
    parser.add_argument("--keep", type=Path, help="write the videos here and reuse them")
    parser.add_argument("--by-source", action="store_true", help="also a row per source")
    args = parser.parse_args(argv)
    names = list(ROWS) + list(NEGATIVES)
    rows = args.rows or (list(QUICK) if args.quick else names)
    unknown = [r for r in rows if r not in names]
    if unknown:
        parser.error(f"unknown rows {unknown}; the rows: {', '.join(map(repr, names))}")
    sources = [SOURCES[s] for s in (args.sources or (["bikes"] if args.quick else SOURCES))]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="framedb-transforms-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        todo = cases(sources, rows)
        files = footage.prepare([v for case in todo for v in (case.o, case.c)], sources, folder)
        made = time.perf_counter()
        results, each, failures = run(todo, files)
    report(rows, sources, results, each if args.by_source else {}, failures)
    took = time.perf_counter() - started
    print(
        f"\n{machine()}; {versions()}; {time.strftime('%Y-%m-%d')}; "
        f"took {took:.0f} s ({made - started:.0f} s making videos)"
    )


TOOLS = ("framedb", "vpdq", "signature")
NAMES = {"framedb": "framedb", "vpdq": "vPDQ", "signature": "FFmpeg signature"}


def report(
    rows: Sequence[str],
    sources: Sequence[Source],
    results: dict[str, dict[str, Score]],
    each: dict[str, dict[str, Score]],
    failures: list[str],
) -> None:
    """The accuracy table (one row per transformation, the sources together), the negatives,
    optionally one row per transformation and source, and what the figures mean."""
    print(
        f"Transformed copies: {', '.join(s.name for s in sources)}; S = {LENGTH:.0f} s of footage "
        "between ~2 s fillers, 30 fps. Each cell: precision / recall of frame pairs (within one "
        "frame) / median end error of the best segment, s / s per video minute.\n"
    )
    head = (
        "framedb P / R / end err s / s per min | vPDQ + dihedral PDQ P / R / err / s per min "
        "| FFmpeg signature P / R / err / s per min |\n| --- | --- | --- | --- |"
    )
    print(f"| row | {head}")
    for row in (r for r in rows if r in ROWS):
        print(f"| {row} | " + " | ".join(cell(results[row][t]) for t in TOOLS) + " |")
    if any(r in NEGATIVES for r in rows):
        print(
            "\n| negative (nothing to find) | framedb groups / pairs "
            "| vPDQ + dihedral: % of C's frames matched / pairs "
            "| FFmpeg signature matches / pairs |\n| --- | --- | --- | --- |"
        )
        for row in (r for r in rows if r in NEGATIVES):
            cells = " | ".join(negative_cell(t, results[row][t]) for t in TOOLS)
            print(f"| {row} | {cells} |")
    split = [k for k in each if k.rsplit(" / ", 1)[0] in ROWS]
    if split:
        print(f"\n| row / source | {head}")
        for key in split:
            print(f"| {key} | " + " | ".join(cell(each[key][t]) for t in TOOLS) + " |")
    vpdq = [s for r in results.values() for t, s in r.items() if t == "vpdq"]
    minutes = sum(s.minutes for s in vpdq) or 1.0
    plain = sum(s.parts.get("vpdq", 0) for s in vpdq) / minutes
    extra = sum(s.parts.get("dihedral", 0) for s in vpdq) / minutes
    print(
        f"\nvPDQ: every frame of both videos hashed by vpdq ({plain:.1f} s per min), plus the 8 "
        f"dihedral PDQ hashes of O's frames by pdqhash ({extra:.1f} s per min); distance < 31, "
        "quality >= 50. FFmpeg: one pairwise signature run (detectmode full); its one match "
        "placed by walking the diagonal through its anchor at rate 1. framedb: ingest + matches "
        "in a fresh database."
    )
    for failure in failures:
        print(f"failed: {failure}")


if __name__ == "__main__":
    main()
