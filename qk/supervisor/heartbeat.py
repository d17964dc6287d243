"""The child side of supervision: find this process's slot and beat.

A supervised process calls :meth:`Heartbeat.from_environment` once (the supervisor sets
``QK_SESSION`` and ``QK_PROCESS``) and then :meth:`Heartbeat.beat` in its main loop. ``beat`` is one
aligned 8-byte store of ``CLOCK_MONOTONIC`` into shared memory, cheap enough for a hot loop; the
supervisor kills and restarts a process whose last beat is older than its heartbeat timeout.

This module imports neither numpy nor psutil, so a child pays almost nothing for it at start-up.
"""

from __future__ import annotations

import mmap
import os
import struct
import time

import posix_ipc

from qk.supervisor import layout

__all__ = ["Heartbeat", "HeartbeatError", "find_slot", "open_table"]


class HeartbeatError(RuntimeError):
    """The heartbeat table is missing, malformed, or has no slot for this process."""


def open_table(session: str) -> mmap.mmap:
    """Map the heartbeat table of ``session`` after checking its header; HeartbeatError if not."""
    name = layout.table_name(session)
    try:
        shm = posix_ipc.SharedMemory(name)
    except posix_ipc.ExistentialError as exc:
        raise HeartbeatError(
            f"no heartbeat table {name}: is a supervisor running session {session!r}?"
        ) from exc
    try:
        size = os.fstat(shm.fd).st_size
        if size < layout.HEADER_SIZE:
            raise HeartbeatError(f"shared memory {name} ({size} bytes) is too small for a header")
        block = mmap.mmap(shm.fd, size)
    finally:
        shm.close_fd()
    magic, version, slots, slot_size = struct.unpack_from("<QIII", block, 0)
    if magic != layout.MAGIC or version != layout.VERSION or slot_size != layout.SLOT_SIZE:
        block.close()
        raise HeartbeatError(
            f"shared memory {name} is not a heartbeat table of version {layout.VERSION} "
            f"(magic {magic:#x}, version {version}, slot size {slot_size})"
        )
    if size < layout.table_size(slots):
        block.close()
        raise HeartbeatError(f"shared memory {name}: {slots} slots do not fit in {size} bytes")
    return block


def find_slot(block: mmap.mmap, process: str) -> int:
    """Index of the slot named ``process`` in a mapped table, or -1."""
    (slots,) = struct.unpack_from("<I", block, layout.HEADER_SLOT_COUNT)
    wanted = process.encode()
    for index in range(slots):
        start = layout.slot_offset(index) + layout.SLOT_NAME
        raw = bytes(block[start : start + layout.NAME_SIZE]).split(b"\0", 1)[0]
        if raw == wanted:
            return index
    return -1


class Heartbeat:
    """This process's heartbeat cell in its session's table."""

    def __init__(self, session: str, process: str, block: mmap.mmap, index: int) -> None:
        self.session = session
        self.process = process
        self.index = index
        self._block = block
        offset = layout.slot_offset(index) + layout.SLOT_LAST_BEAT_NS
        self._cell = memoryview(block)[offset : offset + 8].cast("q")
        self._clock = time.monotonic_ns

    @classmethod
    def attach(cls, session: str, process: str) -> Heartbeat:
        """Attach to the slot of ``process`` in the table of ``session``.

        Raises:
            HeartbeatError: no table for the session, a malformed table, or no slot of that name.
        """
        layout.validate_process_name(process)
        block = open_table(session)
        index = find_slot(block, process)
        if index < 0:
            block.close()
            raise HeartbeatError(
                f"heartbeat table of session {session!r} has no slot for process {process!r}"
            )
        return cls(session, process, block, index)

    @classmethod
    def from_environment(cls) -> Heartbeat | None:
        """Attach using ``QK_SESSION``/``QK_PROCESS``; None when not started by a supervisor."""
        process = os.environ.get(layout.PROCESS_ENV)
        if not process:
            return None
        return cls.attach(os.environ.get(layout.SESSION_ENV, layout.DEFAULT_SESSION), process)

    def beat(self) -> None:
        """Record that this process is alive now (one int64 store)."""
        self._cell[0] = self._clock()

    def beat_at(self, now_ns: int) -> None:
        """Record a beat at ``now_ns`` (CLOCK_MONOTONIC ns) that the caller already read."""
        self._cell[0] = now_ns

    @property
    def last_beat_ns(self) -> int:
        """The last beat stored in this slot (CLOCK_MONOTONIC ns; 0 before the first)."""
        return int(self._cell[0])

    def close(self) -> None:
        """Unmap the table (the supervisor owns and unlinks it)."""
        if self._block.closed:
            return
        self._cell.release()
        self._block.close()

    def __enter__(self) -> Heartbeat:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
