"""The supervisor's side of the heartbeat table: create, write process state, read beats.

The layout is in :mod:`qk.supervisor.layout`; here the header and the slots are numpy structured
arrays over the same mapping, so the supervisor (and ``qk status``) read a whole table at once.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import posix_ipc

from qk.process import current_identity, is_alive
from qk.supervisor import layout
from qk.supervisor.heartbeat import open_table
from qk.supervisor.layout import ProcessState

__all__ = [
    "HEADER_DTYPE",
    "SLOT_DTYPE",
    "HeartbeatTable",
    "SessionBusyError",
    "SlotSnapshot",
    "TableSnapshot",
]

HEADER_DTYPE = np.dtype(
    {
        "names": [
            "magic",
            "version",
            "slot_count",
            "slot_size",
            "supervisor_pid",
            "supervisor_start_ns",
            "created_ns",
            "session",
        ],
        "formats": ["<u8", "<u4", "<u4", "<u4", "<u4", "<i8", "<i8", f"S{layout.SESSION_SIZE}"],
        "offsets": [
            layout.HEADER_MAGIC,
            layout.HEADER_VERSION,
            layout.HEADER_SLOT_COUNT,
            layout.HEADER_SLOT_SIZE,
            layout.HEADER_SUPERVISOR_PID,
            layout.HEADER_SUPERVISOR_START_NS,
            layout.HEADER_CREATED_NS,
            layout.HEADER_SESSION,
        ],
        "itemsize": layout.HEADER_SIZE,
    }
)

SLOT_DTYPE = np.dtype(
    {
        "names": [
            "name",
            "pid",
            "state",
            "flags",
            "start_ns",
            "spawned_ns",
            "last_beat_ns",
            "restarts",
            "exit_code",
        ],
        "formats": [f"S{layout.NAME_SIZE}", "<i4", "u1", "u1", "<i8", "<i8", "<i8", "<u4", "<i4"],
        "offsets": [
            layout.SLOT_NAME,
            layout.SLOT_PID,
            layout.SLOT_STATE,
            layout.SLOT_FLAGS,
            layout.SLOT_START_NS,
            layout.SLOT_SPAWNED_NS,
            layout.SLOT_LAST_BEAT_NS,
            layout.SLOT_RESTARTS,
            layout.SLOT_EXIT_CODE,
        ],
        "itemsize": layout.SLOT_SIZE,
    }
)


class SessionBusyError(RuntimeError):
    """Another live supervisor already runs this session."""


@dataclass(frozen=True, slots=True)
class SlotSnapshot:
    """One process as read from the table."""

    name: str
    pid: int
    state: ProcessState
    start_ns: int
    spawned_ns: int
    last_beat_ns: int
    restarts: int
    exit_code: int | None

    def beat_age_s(self, now_ns: int) -> float | None:
        """Seconds since the last beat at CLOCK_MONOTONIC ``now_ns``; None before the first."""
        return None if self.last_beat_ns == 0 else (now_ns - self.last_beat_ns) / 1e9


@dataclass(frozen=True, slots=True)
class TableSnapshot:
    """A copy of a whole table: the supervisor's identity and every slot."""

    session: str
    supervisor_pid: int
    supervisor_start_ns: int
    created_ns: int
    slots: tuple[SlotSnapshot, ...]

    @property
    def supervisor_alive(self) -> bool:
        """The recorded supervisor still runs (pid and start time both match)."""
        return is_alive(self.supervisor_pid, self.supervisor_start_ns)


def _snapshot(header: npt.NDArray[np.void], slots: npt.NDArray[np.void]) -> TableSnapshot:
    head = header.copy()[0]
    rows = slots.copy()
    out = []
    for row in rows:
        flags = int(row["flags"])
        out.append(
            SlotSnapshot(
                name=bytes(row["name"]).decode("utf-8", "replace"),
                pid=int(row["pid"]),
                state=ProcessState(int(row["state"])),
                start_ns=int(row["start_ns"]),
                spawned_ns=int(row["spawned_ns"]),
                last_beat_ns=int(row["last_beat_ns"]),
                restarts=int(row["restarts"]),
                exit_code=int(row["exit_code"]) if flags & layout.FLAG_EXIT_CODE_VALID else None,
            )
        )
    return TableSnapshot(
        session=bytes(head["session"]).decode("utf-8", "replace"),
        supervisor_pid=int(head["supervisor_pid"]),
        supervisor_start_ns=int(head["supervisor_start_ns"]),
        created_ns=int(head["created_ns"]),
        slots=tuple(out),
    )


def _recorded_supervisor(fd: int) -> int:
    """The supervisor pid in the header of the table open on ``fd`` (0 if unreadable)."""
    try:
        raw = os.pread(fd, 4, layout.HEADER_SUPERVISOR_PID)
    except OSError:
        return 0
    return int.from_bytes(raw, "little") if len(raw) == 4 else 0


class HeartbeatTable:
    """A mapped heartbeat table: :meth:`create` in the supervisor, :meth:`read` anywhere else."""

    def __init__(self, session: str, block: mmap.mmap, slot_count: int, owner: bool) -> None:
        self.session = session
        self.owner = owner
        self._block = block
        self.header: npt.NDArray[np.void] = np.ndarray(
            (1,), dtype=HEADER_DTYPE, buffer=block, offset=0
        )
        self.slots: npt.NDArray[np.void] = np.ndarray(
            (slot_count,), dtype=SLOT_DTYPE, buffer=block, offset=layout.HEADER_SIZE
        )
        self._last_beat: npt.NDArray[np.int64] = self.slots["last_beat_ns"]
        self._index = {bytes(n).decode(): i for i, n in enumerate(self.slots["name"]) if n}
        self._lock_fd = -1

    @classmethod
    def create(cls, session: str, process_names: Sequence[str]) -> HeartbeatTable:
        """Create the table of ``session`` with one slot per name, as this process's supervisor.

        Ownership is an exclusive ``flock`` on the segment, held until :meth:`close`: the kernel
        drops it when the supervisor dies, however it dies, so a table left by a dead supervisor
        is taken over and re-initialised in place, and two live supervisors of one session are
        impossible.

        Raises:
            SessionBusyError: a live supervisor already owns the session.
            ValueError: a bad session or process name, or a duplicate process name.
        """
        name = layout.table_name(session)
        names = [layout.validate_process_name(n) for n in process_names]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate process names in session {session!r}: {duplicates}")
        shm = posix_ipc.SharedMemory(name, posix_ipc.O_CREAT, mode=0o600, size=0)
        lock_fd = shm.fd
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _recorded_supervisor(lock_fd)
            shm.close_fd()
            raise SessionBusyError(
                f"session {session!r} is already supervised by pid {holder} "
                f"(shared memory {name} is locked)"
            ) from None
        size = layout.table_size(len(names))
        try:
            os.ftruncate(lock_fd, size)
            block = mmap.mmap(lock_fd, size)
        except OSError:
            shm.close_fd()
            raise
        # Wipe whatever a dead supervisor left, magic included: readers see no table until the
        # new magic is written last.
        block[:] = bytes(size)
        table = cls(session, block, len(names), owner=True)
        table._lock_fd = lock_fd
        for index, process in enumerate(names):
            table.slots[index]["name"] = process.encode()
            table.slots[index]["state"] = ProcessState.PENDING
        table._index = {n: i for i, n in enumerate(names)}
        pid, start_ns = current_identity()
        head = table.header
        head["version"] = layout.VERSION
        head["slot_count"] = len(names)
        head["slot_size"] = layout.SLOT_SIZE
        head["supervisor_pid"] = pid
        head["supervisor_start_ns"] = start_ns
        head["created_ns"] = time.time_ns()
        head["session"] = session.encode()
        # Magic last: a reader that sees it sees a fully initialised table.
        head["magic"] = layout.MAGIC
        return table

    @classmethod
    def attach(cls, session: str) -> HeartbeatTable:
        """Map an existing table for reading (``qk status``/``qk stop``).

        Raises:
            HeartbeatError: no table for the session, or not a heartbeat table.
        """
        block = open_table(session)
        (slot_count,) = np.frombuffer(block, dtype="<u4", count=1, offset=layout.HEADER_SLOT_COUNT)
        return cls(session, block, int(slot_count), owner=False)

    @classmethod
    def read(cls, session: str) -> TableSnapshot:
        """A snapshot of the table of ``session`` (attach, copy, unmap)."""
        table = cls.attach(session)
        try:
            return table.snapshot()
        finally:
            table.close()

    @staticmethod
    def unlink(session: str) -> bool:
        """Remove the table of ``session``; False when there was none."""
        try:
            posix_ipc.unlink_shared_memory(layout.table_name(session))
        except posix_ipc.ExistentialError:
            return False
        return True

    def index(self, process: str) -> int:
        """Slot index of ``process``; KeyError naming it when the table has no such slot."""
        try:
            return self._index[process]
        except KeyError:
            raise KeyError(f"session {self.session!r} has no process {process!r}") from None

    def snapshot(self) -> TableSnapshot:
        """A copy of the header and every slot."""
        return _snapshot(self.header, self.slots)

    def last_beat_ns(self, index: int) -> int:
        """The last heartbeat of slot ``index`` (CLOCK_MONOTONIC ns; 0 before the first)."""
        return int(self._last_beat[index])

    def mark_spawned(self, index: int, pid: int, start_ns: int, spawned_ns: int) -> None:
        """Record a new incarnation of slot ``index``; its beat restarts from 0.

        The exit code of the previous incarnation stays, so ``qk status`` shows why it restarted.
        """
        slot = self.slots[index : index + 1]
        slot["last_beat_ns"] = 0
        slot["pid"] = pid
        slot["start_ns"] = start_ns
        slot["spawned_ns"] = spawned_ns
        slot["state"] = ProcessState.STARTING

    def set_state(self, index: int, state: ProcessState) -> None:
        """Store the state of slot ``index``."""
        self.slots["state"][index] = state

    def set_exit(self, index: int, exit_code: int) -> None:
        """Store how the last incarnation of slot ``index`` ended."""
        self.slots["exit_code"][index] = exit_code
        self.slots["flags"][index] |= layout.FLAG_EXIT_CODE_VALID

    def set_restarts(self, index: int, restarts: int) -> None:
        """Store the restart count of slot ``index``."""
        self.slots["restarts"][index] = restarts

    def close(self) -> None:
        """Drop the numpy views, unmap, and (owner) release the session lock.

        The shared memory itself stays until :meth:`unlink`.
        """
        if self._block.closed:
            return
        del self.header, self.slots, self._last_beat
        self._block.close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1
