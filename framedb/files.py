"""Finding input files and recognising them again: folder walks, stat, content fingerprints."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

VIDEO_SUFFIXES = frozenset(
    ".mp4 .m4v .mov .mkv .webm .avi .wmv .flv .mpg .mpeg .m2v .ts .m2ts .mts .3gp .ogv .vob "
    ".h264 .264 .h265 .265 .hevc .y4m .ivf".split()
)
_SAMPLE = 1 << 20


@dataclass(frozen=True)
class Input:
    """One file named by the user or found in a folder; `problem` says why it cannot be read."""

    path: Path
    problem: str | None = None


def expand(paths: list[str | os.PathLike[str]]) -> Iterator[Input]:
    """Files given by name, and video files found in folders (recursively, sorted, each once).

    Symbolic links to folders are not followed (no loops); special files (FIFOs, devices) are
    reported, never opened.
    """
    seen: set[Path] = set()
    for given in paths:
        path = Path(os.path.abspath(given))
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs.sort()
                for name in sorted(names):
                    found = Path(root) / name
                    if found.suffix.lower() in VIDEO_SUFFIXES and found not in seen:
                        seen.add(found)
                        yield Input(found, _problem(found))
        elif path not in seen:
            seen.add(path)
            yield Input(path, _problem(path))


def _problem(path: Path) -> str | None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        return f"cannot read ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None if os.access(path, os.R_OK) else "permission denied"
    kind = (
        "FIFO"
        if stat.S_ISFIFO(mode)
        else "device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "socket"
        if stat.S_ISSOCK(mode)
        else "special file"
    )
    return f"is a {kind}, not a regular file; not opened"


def raw_path(path: Path) -> bytes:
    """The path's bytes exactly as on disk (names need not be UTF-8)."""
    return os.fsencode(path)


def fingerprint(path: Path, size: int) -> str:
    """A content fingerprint: BLAKE2b of the size and 1 MiB from the start, middle and end.

    Reading three samples instead of the whole file keeps skipping unchanged files instant; a moved
    or renamed file keeps its fingerprint.
    """
    digest = hashlib.blake2b(str(size).encode(), digest_size=16)
    with open(path, "rb") as handle:
        for offset in sorted({0, max(0, size // 2 - _SAMPLE // 2), max(0, size - _SAMPLE)}):
            handle.seek(offset)
            digest.update(handle.read(_SAMPLE))
    return digest.hexdigest()
