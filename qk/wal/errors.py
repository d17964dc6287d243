"""Errors the WAL raises: each names the file and what is wrong with it."""

from __future__ import annotations


class WalError(Exception):
    """Base class of every WAL error."""


class WalDirectoryError(WalError):
    """The WAL directory is missing, not a directory, or holds files that do not belong together."""


class SegmentHeaderError(WalError):
    """A segment file's header is unreadable: wrong magic, unknown version, bad CRC, wrong size."""


class WalCorruptError(WalError):
    """Frames that should be intact are damaged (outside the tail that recovery may truncate)."""


class WalLockedError(WalError):
    """Another live writer holds the WAL directory's lock."""


class MarkError(WalError):
    """The shared-memory durable mark is missing or is not a WAL mark block."""
