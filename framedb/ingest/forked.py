"""Processes forked from a decoding worker (a long video's second half, a hashing helper) that die
with it: Linux kills them when their parent dies, so a killed ingest leaves nothing running."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process (a worker, or its hashing helper) when its parent dies, so
    that a hung decoder never outlives a killed ingest (without it, a busy worker notices at its
    next progress message)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(0)


def can_fork() -> bool:
    """Whether `ForkedChild` works here (Linux)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


class ForkedChild:
    """A forked process that runs `run(conn)` and exits (status 1 if it raised), dying with this
    one (a decoder's second half, or its hashing helper), and this side's connection to it.
    OSError if the system refuses a new process (out of processes or memory)."""

    def __init__(self, run: Callable[[Connection], None]) -> None:
        ours, theirs = socket.socketpair()
        parent = os.getpid()
        try:
            self.pid = os.fork()
        except OSError:
            ours.close()
            theirs.close()
            raise
        if self.pid == 0:
            code = 0
            try:
                ours.close()
                die_with_parent(parent)
                run(Connection(theirs.detach()))
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        theirs.close()
        self.conn = Connection(ours.detach())

    def close(self, *, kill: bool = False) -> None:
        """Close the connection and reap the child (killing it first if `kill`); once only."""
        with contextlib.suppress(OSError):
            self.conn.close()
        if self.pid:
            if kill:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.pid = 0
