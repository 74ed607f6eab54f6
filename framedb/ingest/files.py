"""Finding input files and recognising them again: folder walks, stat, content fingerprints, and
paths shown to people exactly (names need not be UTF-8 and may hold newlines)."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

VIDEO_SUFFIXES = frozenset(
    ".mp4 .m4v .mov .mkv .webm .avi .wmv .flv .mpg .mpeg .m2v .ts .m2ts .mts .3gp .ogv .vob "
    ".h264 .264 .h265 .265 .hevc .y4m .ivf".split()
)
_SAMPLE = 1 << 20
# Control characters (a newline in a file name) as visible escapes, so a message stays one line.
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(32), 127)} | {10: "\\n", 13: "\\r", 9: "\\t"}


@dataclass(frozen=True)
class Input:
    """One file named by the user or found in a folder. `problem` says why it cannot be read (the
    file failed); `skip` why it is deliberately left alone (a symbolic link to a folder)."""

    path: Path
    problem: str | None = None
    skip: str | None = None


def expand(paths: list[str | os.PathLike[str]]) -> Iterator[Input]:
    """Files given by name, and video files found in folders (recursively, sorted, each once).

    Symbolic links to folders are reported and not followed (no loops, no walks out of the folder);
    special files (FIFOs, devices, also through a link) are reported, never opened; a folder that
    cannot be read is reported.
    """
    seen: set[Path] = set()
    for given in paths:
        path = Path(os.path.abspath(given))
        if path.is_dir():
            errors: list[OSError] = []
            for root, dirs, names in os.walk(path, onerror=errors.append):
                yield from _unreadable(errors, path)
                dirs.sort()
                for name in sorted(names):
                    found = Path(root) / name
                    if found.suffix.lower() in VIDEO_SUFFIXES and found not in seen:
                        seen.add(found)
                        yield Input(found, _problem(found))
                for name in dirs:
                    link = Path(root) / name
                    if link.is_symlink() and link not in seen:
                        seen.add(link)
                        yield Input(link, skip=_folder_link(link))
            yield from _unreadable(errors, path)
        elif path not in seen:
            seen.add(path)
            yield Input(path, _problem(path))


def _unreadable(errors: list[OSError], fallback: Path) -> Iterator[Input]:
    """Folders the walk could not list (reported by os.walk through its onerror)."""
    while errors:
        exc = errors.pop(0)
        where = Path(exc.filename) if exc.filename else fallback
        yield Input(where, f"cannot read this folder ({exc.strerror or exc})")


def _folder_link(link: Path) -> str:
    try:
        target = link.resolve()
    except (OSError, RuntimeError):
        return "symbolic link to a folder; not followed"
    if target == link.parent or target in link.parents:
        return f"symbolic link to {shown(target)}, which contains it (a loop); not followed"
    return f"symbolic link to the folder {shown(target)}; not followed (ingest that folder itself)"


def _problem(path: Path) -> str | None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            return f"broken symbolic link (to {shown(Path(os.readlink(path)))})"
        return "no such file"
    except OSError as exc:
        return f"cannot read ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None if os.access(path, os.R_OK) else "permission denied"
    return f"is {special_kind(mode)}, not a regular file; not opened"


def special_kind(mode: int) -> str:
    """What a non-regular file is, for messages: `a FIFO`, `a device`, ..."""
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "a special file"


class NotRegularFileError(OSError):
    """The path is (now) a FIFO, a device or another special file: it was not read."""


def open_regular(path: Path) -> BinaryIO:
    """Open a regular file for reading. Never blocks on a FIFO that appeared after the folder walk:
    the open does not wait, and anything but a regular file is closed again unread."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(f"is {special_kind(mode)}, not a regular file; not read")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def raw_path(path: Path) -> bytes:
    """The path's bytes exactly as on disk (names need not be UTF-8)."""
    return os.fsencode(path)


def display(path: Path | bytes) -> str:
    """A path for people and JSON: exact for UTF-8 names, other bytes as \\xNN escapes (the form
    `framedb videos` shows)."""
    raw = path if isinstance(path, bytes) else os.fsencode(path)
    return raw.decode("utf-8", "backslashreplace")


def one_line(text: str) -> str:
    """`text` with control characters (such as a newline in a file name) written as escapes."""
    return text.translate(_CONTROL)


def shown(path: Path | bytes) -> str:
    """A path inside a one-line message."""
    return one_line(display(path))


def fingerprint(path: Path, size: int) -> str:
    """A content fingerprint: BLAKE2b of the size and 1 MiB from the start, middle and end.

    Reading three samples instead of the whole file keeps skipping unchanged files instant; a moved
    or renamed file keeps its fingerprint.
    """
    digest = hashlib.blake2b(str(size).encode(), digest_size=16)
    with open_regular(path) as handle:
        for offset in sorted({0, max(0, size // 2 - _SAMPLE // 2), max(0, size - _SAMPLE)}):
            handle.seek(offset)
            digest.update(handle.read(_SAMPLE))
    return digest.hexdigest()
