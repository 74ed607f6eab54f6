"""Files replaced atomically (the index beside the database, the evidence written for people):
written under a temporary name carrying the writer's process id, fsynced, renamed, and the
folder fsynced; temporaries left by a writer that died mid-save are removed by the next one."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from framedb.errors import BadArgumentError


def replace(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Replace `path` whole or not at all: `write(file)` fills a temporary file, which is then
    fsynced and renamed over it, and the rename made durable."""
    remove_abandoned(path)
    tmp = temporary(path)
    try:
        with open(tmp, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def write_bytes(data: bytes, out: str | os.PathLike[str]) -> None:
    """`replace` for an output file named by the user: a reader never sees half of it, and a
    missing folder is the user's mistake, said in one line."""
    target = Path(out)
    if not target.parent.is_dir():
        raise BadArgumentError(f"{target}: folder {target.parent} does not exist")
    replace(target, lambda f: f.write(data))


def temporary(path: Path) -> Path:
    """Where this process writes `path`'s next version before renaming it into place (the name
    `remove_abandoned` recognises)."""
    return path.with_name(f"{path.name}.tmp-{os.getpid()}")


def remove_abandoned(path: Path) -> None:
    """Delete temporary files of saves whose process died (killed mid-save); a live process's
    file is its own business."""
    prefix = f"{path.name}.tmp-"
    try:
        names = [e.name for e in os.scandir(path.parent) if e.name.startswith(prefix)]
    except OSError:
        return
    for name in names:
        pid = name[len(prefix) :]
        if pid.isdigit() and not _running(int(pid)):
            (path.parent / name).unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (where the platform lets a folder be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
