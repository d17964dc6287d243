"""The WAL directory lock: one writer (or recovery) at a time."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from qk.wal.errors import WalLockedError

LOCK_NAME = ".lock"


class DirectoryLock:
    """An exclusive ``flock`` on ``<directory>/.lock``, released on close or process death."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_NAME
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(self._fd)
            raise WalLockedError(
                f"WAL {directory} is locked by another writer (pid {holder})"
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def close(self) -> None:
        """Release the lock."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
