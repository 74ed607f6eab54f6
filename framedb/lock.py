"""One writer at a time: an exclusive lock file beside the index, held for a whole ingest."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from framedb.errors import FrameDBError


class DatabaseBusyError(FrameDBError, BlockingIOError):
    """Another framedb process is writing to this database."""


class WriterLock:
    """`flock` on `INDEX.lock`: released by the kernel if the holder dies, so never stale."""

    def __init__(self, index_path: Path, label: str) -> None:
        self.path = Path(f"{index_path}.lock")
        self.label = label
        self._fd: int | None = None

    def __enter__(self) -> WriterLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise DatabaseBusyError(
                f"{self.label}: another framedb process (pid {holder}) is "
                "writing to this database; wait for it to finish, then run the command again"
            ) from None
        with contextlib.suppress(OSError):  # the pid is a note for messages; a full disk is fine
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
