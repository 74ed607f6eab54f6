"""Errors framedb raises. Each also inherits the builtin it refines, so callers may catch either."""

from __future__ import annotations


class FrameDBError(Exception):
    """Base of every error framedb raises on purpose; the CLI prints its message as one line."""


class VideoNotFoundError(FrameDBError, FileNotFoundError):
    """A path does not exist, or names no video stored in the database."""


class NotAVideoError(FrameDBError, ValueError):
    """A file exists but holds no decodable video stream."""


class DecodeError(FrameDBError, RuntimeError):
    """Decoding failed part-way through a file."""


class FrameNotFoundError(FrameDBError, IndexError):
    """A frame ordinal or time is outside a stored video."""


class BadArgumentError(FrameDBError, ValueError):
    """An argument has the wrong form (a frame spec, a hash size, a radius...)."""


class DatabaseError(FrameDBError, RuntimeError):
    """The database cannot be opened, is of another kind, or disagrees with itself."""


class DiskFullError(DatabaseError):
    """The database's disk is full: the video being stored was rolled back, earlier ones kept."""
