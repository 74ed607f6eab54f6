"""Files replaced atomically beside the database: written under a temporary name carrying the
writer's process id, fsynced, renamed, and the folder fsynced; temporaries left by a writer that
died mid-save are removed by the next one."""

from __future__ import annotations

import os
from pathlib import Path


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
