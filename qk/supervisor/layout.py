"""Byte layout of a session's heartbeat table in POSIX shared memory ``/qk.<session>.supervisor``.

Plain constants and no numpy, so that a child process can beat without importing numpy; the
supervisor's numpy view (:mod:`qk.supervisor.table`) is built from the same constants and a test
checks that the two agree.

Header (128 bytes)::

    0   u64 magic "QKSUPHB1"   8  u32 version   12 u32 slot count   16 u32 slot size
    20  u32 supervisor pid     24 i64 supervisor start (ns since epoch, pid-reuse guard)
    32  i64 created (CLOCK_REALTIME ns)          40 48s session name (NUL padded)

Slot ``i`` at ``128 + 128 * i`` (128 bytes, one per process)::

    0   40s process name       40 i32 pid      44 u8 state   45 u8 flags (bit 0: exit code valid)
    48  i64 process start (ns since epoch)     56 i64 spawned (CLOCK_MONOTONIC ns)
    64  i64 last heartbeat (CLOCK_MONOTONIC ns; 0 = not yet beaten)
    72  u32 restart count      76 i32 exit code of the last ended incarnation (negative: signal)

Only the child writes ``last heartbeat``, with one aligned 8-byte store; the supervisor writes every
other field.
"""

from __future__ import annotations

import enum
import re

MAGIC = int.from_bytes(b"QKSUPHB1", "little")
VERSION = 1
HEADER_SIZE = 128
SLOT_SIZE = 128
NAME_SIZE = 40
SESSION_SIZE = 48

HEADER_MAGIC = 0
HEADER_VERSION = 8
HEADER_SLOT_COUNT = 12
HEADER_SLOT_SIZE = 16
HEADER_SUPERVISOR_PID = 20
HEADER_SUPERVISOR_START_NS = 24
HEADER_CREATED_NS = 32
HEADER_SESSION = 40

SLOT_NAME = 0
SLOT_PID = 40
SLOT_STATE = 44
SLOT_FLAGS = 45
SLOT_START_NS = 48
SLOT_SPAWNED_NS = 56
SLOT_LAST_BEAT_NS = 64
SLOT_RESTARTS = 72
SLOT_EXIT_CODE = 76

FLAG_EXIT_CODE_VALID = 1

DEFAULT_SESSION = "qk"
SESSION_ENV = "QK_SESSION"
PROCESS_ENV = "QK_PROCESS"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")


class ProcessState(enum.IntEnum):
    """Where a supervised process is in its life, as stored in its slot."""

    PENDING = 0
    """Not started yet: waiting for its dependencies."""
    STARTING = 1
    """Spawned; no heartbeat seen yet."""
    RUNNING = 2
    """Beating (or spawned, for a process without heartbeat supervision)."""
    BACKOFF = 3
    """Exited or was killed; waiting out its back-off before the restart."""
    STOPPING = 4
    """Asked to stop (SIGTERM sent); waiting for it to exit."""
    STOPPED = 5
    """Exited and not restarted: a clean exit, or stopped by the supervisor."""
    FAILED = 6
    """Exited with a failure and its policy does not restart it."""
    GAVE_UP = 7
    """Exceeded its restart budget; not restarted again."""


def slot_offset(index: int) -> int:
    """Byte offset of slot ``index`` in the table."""
    return HEADER_SIZE + SLOT_SIZE * index


def table_size(slots: int) -> int:
    """Bytes of a table with ``slots`` slots."""
    return HEADER_SIZE + SLOT_SIZE * slots


def validate_session(session: str) -> str:
    """Return ``session`` if it is a valid session name, else raise ValueError saying why."""
    if not 0 < len(session.encode()) <= 32 or not _NAME_RE.match(session) or ":" in session:
        raise ValueError(
            f"invalid session name {session!r}: use 1-32 characters from A-Z a-z 0-9 . _ - @ "
            "starting with a letter or digit"
        )
    return session


def validate_process_name(name: str) -> str:
    """Return ``name`` if it is a valid process name, else raise ValueError saying why."""
    if not 0 < len(name.encode()) <= NAME_SIZE or not _NAME_RE.match(name):
        raise ValueError(
            f"invalid process name {name!r}: use 1-{NAME_SIZE} characters from A-Z a-z 0-9 "
            ". _ : @ - starting with a letter or digit"
        )
    return name


def table_name(session: str) -> str:
    """The POSIX shared-memory name of the heartbeat table of ``session``."""
    return f"/qk.{validate_session(session)}.supervisor"
