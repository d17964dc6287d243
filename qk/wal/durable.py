"""The WAL's written and durable sequence marks, in POSIX shared memory.

The writer owns the block ``/qk.<name>.wal``; any process may attach and read it or wait on it::

    0   8s  magic "QKWALMRK"   8 u32 version   12 u32 writer pid   16 i64 created ns (realtime)
    64  u64 written seq   72 u32 written generation (futex)   76 u32 written waiters
    128 u64 durable seq   136 u32 durable generation (futex)  140 u32 durable waiters
    192 i64 heartbeat (CLOCK_MONOTONIC ns of the writer's last loop)

*written* is the highest seq whose frame is in the file (``pwrite`` returned; a tailer may read up to
it). *durable* is the highest seq covered by a completed ``fdatasync``: the writer publishes it only
after the sync call returned for every frame up to it. Each is published with a release store and a
futex wake, so :meth:`DurableMark.wait` spins briefly and then sleeps in the kernel without the GIL.
"""

from __future__ import annotations

import mmap
import os
import struct
import time

import posix_ipc

from qk.wal._frames import MARK_SIZE, MarkView
from qk.wal.errors import MarkError

MARK_MAGIC = b"QKWALMRK"
MARK_VERSION = 1
_BLOCK_SIZE = 4096
_IDENTITY = struct.Struct("<8sIIq")


def mark_name(name: str) -> str:
    """The POSIX shared-memory name of the mark of the WAL called ``name``."""
    if not name or "/" in name:
        raise ValueError(f"bad WAL name {name!r}: must be non-empty without '/'")
    return f"/qk.{name}.wal"


class DurableMark:
    """A handle on a WAL's shared-memory mark block.

    Use :meth:`create` in the writer and :meth:`attach` everywhere else.
    """

    def __init__(self, shm_name: str, block: mmap.mmap, owner: bool) -> None:
        self.shm_name = shm_name
        self._block = block
        self._memory = memoryview(block)
        self._view = MarkView(self._memory[:MARK_SIZE])
        self._owner = owner

    # -- opening ----------------------------------------------------------------------------------

    @classmethod
    def create(cls, name: str) -> DurableMark:
        """Create (or take over) the mark of WAL ``name`` for the writer process.

        An existing block with the right magic is reused, so tailers attached to it keep working
        across a writer restart; its seqs are kept until the writer publishes recovered values.

        Raises:
            MarkError: an existing block of that name is not a WAL mark.
        """
        shm_name = mark_name(name)
        shm = posix_ipc.SharedMemory(shm_name, posix_ipc.O_CREAT, mode=0o600, size=0)
        try:
            if os.fstat(shm.fd).st_size < _BLOCK_SIZE:
                os.ftruncate(shm.fd, _BLOCK_SIZE)
            block = mmap.mmap(shm.fd, _BLOCK_SIZE)
        finally:
            shm.close_fd()
        magic, version, _, _ = _IDENTITY.unpack_from(block, 0)
        if magic == b"\0" * 8:
            _IDENTITY.pack_into(block, 0, MARK_MAGIC, MARK_VERSION, os.getpid(), time.time_ns())
        elif magic != MARK_MAGIC or version != MARK_VERSION:
            block.close()
            raise MarkError(
                f"shared memory {shm_name} exists but is not a WAL mark (magic {magic!r})"
            )
        else:
            struct.pack_into("<I", block, 12, os.getpid())
        mark = cls(shm_name, block, owner=True)
        mark.beat()
        return mark

    @classmethod
    def attach(cls, name: str) -> DurableMark:
        """Attach to the mark of WAL ``name`` (created by its writer).

        Raises:
            MarkError: no such mark, or the block is not a WAL mark.
        """
        shm_name = mark_name(name)
        try:
            shm = posix_ipc.SharedMemory(shm_name)
        except posix_ipc.ExistentialError as exc:
            raise MarkError(
                f"no WAL mark {shm_name}: is the writer of WAL {name!r} running?"
            ) from exc
        try:
            if os.fstat(shm.fd).st_size < _BLOCK_SIZE:
                raise MarkError(f"shared memory {shm_name} is too small to be a WAL mark")
            block = mmap.mmap(shm.fd, _BLOCK_SIZE)
        finally:
            shm.close_fd()
        magic, version, _, _ = _IDENTITY.unpack_from(block, 0)
        if magic != MARK_MAGIC or version != MARK_VERSION:
            block.close()
            raise MarkError(
                f"shared memory {shm_name} is not a WAL mark (magic {magic!r}, version {version})"
            )
        return cls(shm_name, block, owner=False)

    @staticmethod
    def unlink(name: str) -> bool:
        """Remove the mark of WAL ``name`` from shared memory; False when there was none."""
        try:
            posix_ipc.unlink_shared_memory(mark_name(name))
        except posix_ipc.ExistentialError:
            return False
        return True

    def close(self) -> None:
        """Unmap the block (the shared memory itself stays; see :meth:`unlink`)."""
        if self._block.closed:
            return
        self._view.release()
        self._memory.release()
        self._block.close()

    def __enter__(self) -> DurableMark:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------------------------

    @property
    def written(self) -> int:
        """Highest seq the writer has written to the file (readable by tailers)."""
        return int(self._view.written)

    @property
    def durable(self) -> int:
        """Highest seq covered by a completed fdatasync."""
        return int(self._view.durable)

    @property
    def writer_pid(self) -> int:
        """pid of the process that last opened the mark as writer."""
        return int(struct.unpack_from("<I", self._block, 12)[0])

    @property
    def heartbeat_ns(self) -> int:
        """CLOCK_MONOTONIC ns of the writer's last loop (compare with ``time.monotonic_ns()``)."""
        return int(self._view.heartbeat_ns)

    def wait(self, seq: int, timeout: float | None = None) -> bool:
        """Wait until everything up to ``seq`` is durable.

        Spins for a few microseconds, then sleeps on a futex without holding the GIL.

        Args:
            seq: the WAL seq that must be durable.
            timeout: seconds to wait at most; None waits for ever, 0 only checks.

        Returns:
            True when ``durable >= seq``, False on timeout.
        """
        return bool(self._view.wait_durable(seq, timeout))

    def wait_written(self, seq: int, timeout: float | None = None) -> bool:
        """Wait until the frame with ``seq`` has been written (a tailer may read it)."""
        return bool(self._view.wait_written(seq, timeout))

    # -- writing (the writer process only) --------------------------------------------------------

    def publish_written(self, seq: int) -> None:
        """Publish that every frame up to ``seq`` is in the file."""
        self._view.publish_written(seq)

    def publish_durable(self, seq: int) -> None:
        """Publish that every frame up to ``seq`` is durable. Call only after fdatasync returned."""
        self._view.publish_durable(seq)

    def beat(self) -> None:
        """Record a heartbeat now."""
        self._view.set_heartbeat(time.monotonic_ns())
