"""Process identity that survives pid reuse: (pid, start time in ns).

Shared-memory segments record which process created them, produces into them or consumes from
them. A pid alone is not enough to tell whether that process is still alive (the kernel reuses
pids), so every record of a process carries its start time too.
"""

from __future__ import annotations

import os

import psutil


def start_time_ns(pid: int) -> int:
    """Start time of process ``pid`` in ns since the epoch (0 if it does not exist)."""
    try:
        return int(psutil.Process(pid).create_time() * 1e9)
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return 0


def current_identity() -> tuple[int, int]:
    """``(pid, start_time_ns)`` of this process."""
    pid = os.getpid()
    return pid, start_time_ns(pid)


def is_alive(pid: int, start_ns: int = 0) -> bool:
    """True if ``pid`` runs and (when ``start_ns`` is given) is the same process that started then.

    Start times are compared to within 10 ms: psutil derives them from clock ticks.
    """
    if pid <= 0:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return start_ns == 0 or abs(int(proc.create_time() * 1e9) - start_ns) < 10_000_000
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
