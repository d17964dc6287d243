"""Shared-memory SPMC broadcast rings: create, attach, validate, register consumers, clean up.

A ring is one POSIX shared-memory segment named ``/qk.<name>`` (DESIGN.md §4). The hot paths
(``Producer.write``, ``Consumer.read_batch``...) are compiled (``cext/ring.pyx`` over
``cext/qk_ring.h``); this module owns the segment's life cycle:

* :meth:`Ring.create` sizes, zero-fills and initialises a segment; :meth:`Ring.attach` validates the
  header (magic, layout version, slot size, capacity, schema hash) before touching anything else,
  so a process built against another record layout gets :class:`RingLayoutError`, never garbage.
* :meth:`Ring.consumer` registers a named consumer with a back-pressure policy. A consumer that
  re-attaches under the same name (after a crash, say) resumes from its cursor in shared memory.
* :meth:`Ring.close` and :meth:`Ring.unlink` end a ring cleanly; :func:`cleanup_stale` removes the
  segments that a crashed session left behind.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Literal

import posix_ipc

from qk.process import current_identity, is_alive
from qk.rings import _ring
from qk.rings._ring import Consumer, Producer
from qk.rings.errors import (
    ConsumerBusyError,
    RingExistsError,
    RingLayoutError,
    RingNotFoundError,
)

SEGMENT_PREFIX = "qk."
SHM_DIR = Path("/dev/shm")
MAX_CONSUMERS = 16
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,126}$")

# Byte layout of qk_ring_meta (cext/qk_ring.h): read with struct before binding anything.
_META = struct.Struct("<QIIQQIIQQqqqII128sqq")


class WaitStrategy(IntEnum):
    """How a producer or consumer waits when it cannot proceed."""

    BUSY_SPIN = 0
    """Spin on the cursor. Lowest latency; only for a process that owns a whole core."""
    SPIN_THEN_YIELD = 1
    """Spin briefly, then ``sched_yield`` in a loop."""
    SPIN_THEN_BLOCK = 2
    """Spin briefly, then sleep on a futex until woken. The default: cheap when cores are shared."""


class BackPressure(IntEnum):
    """What happens when a consumer falls a whole ring behind."""

    BLOCK = 0
    """The producer waits: nothing is ever lost (orders, fills, the WAL writer)."""
    LOSSY = 1
    """The producer overwrites; the consumer detects it, skips ahead and counts the gap (taps)."""


@dataclass(frozen=True, slots=True)
class RingInfo:
    """The header of a ring segment plus its producer cursor."""

    name: str
    slot_size: int
    capacity: int
    schema_hash: int
    max_consumers: int
    stream_id: int
    created_ns: int
    owner_pid: int
    owner_start_time: int
    producer_pid: int
    producer_start_time: int
    closed: bool
    version: int


@dataclass(frozen=True, slots=True)
class ConsumerInfo:
    """One registered consumer as seen in shared memory."""

    index: int
    name: str
    policy: BackPressure
    pid: int
    """The attached process; 0 when the consumer is detached (kept for a resume)."""
    cursor: int
    gaps: int
    alive: bool
    """The attached process runs (pid and start time match)."""


def segment_name(name: str) -> str:
    """The POSIX shared-memory name of ring ``name``."""
    if not _NAME_RE.match(name):
        raise ValueError(
            f"invalid ring name {name!r}: use 1-127 characters from A-Z a-z 0-9 . _ - "
            "starting with a letter or digit"
        )
    return f"/{SEGMENT_PREFIX}{name}"


def _read_meta(buf: mmap.mmap, name: str) -> RingInfo:
    if len(buf) < _META.size:
        raise RingLayoutError(
            f"ring {name!r}: segment of {len(buf)} bytes is too small for a header"
        )
    (
        magic,
        version,
        slot_size,
        capacity,
        schema_hash,
        max_consumers,
        stream_id,
        _data_offset,
        total_size,
        created_ns,
        owner_pid,
        owner_start,
        closed,
        _reserved,
        raw_name,
        producer_pid,
        producer_start,
    ) = _META.unpack_from(buf, 0)
    if magic != _ring.MAGIC:
        raise RingLayoutError(
            f"ring {name!r}: wrong magic {magic:#x} (expected {_ring.MAGIC:#x}): not a QuantKubera "
            "ring, or its creator has not finished initialising it"
        )
    if version != _ring.VERSION:
        raise RingLayoutError(
            f"ring {name!r}: layout version {version}, this build speaks version {_ring.VERSION}"
        )
    if total_size != len(buf):
        raise RingLayoutError(
            f"ring {name!r}: header says {total_size} bytes but the segment has {len(buf)}"
        )
    return RingInfo(
        name=raw_name.split(b"\0", 1)[0].decode("utf-8", "replace"),
        slot_size=slot_size,
        capacity=capacity,
        schema_hash=schema_hash,
        max_consumers=max_consumers,
        stream_id=stream_id,
        created_ns=created_ns,
        owner_pid=owner_pid,
        owner_start_time=owner_start,
        producer_pid=producer_pid,
        producer_start_time=producer_start,
        closed=bool(closed),
        version=version,
    )


def _map(shm: posix_ipc.SharedMemory) -> mmap.mmap:
    try:
        return mmap.mmap(shm.fd, shm.size)
    finally:
        shm.close_fd()


class Ring:
    """A mapped ring segment. Get producers and consumers from it; close it when done."""

    def __init__(self, name: str, buf: mmap.mmap, view: _ring.RingView, info: RingInfo) -> None:
        self._name = name
        self._buf: mmap.mmap | None = buf
        self._view = view
        self._info = info
        self._producing = False
        self._consumers: dict[int, Consumer] = {}
        self._created = False

    # ---- life cycle -------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        name: str,
        *,
        slot_size: int,
        capacity: int,
        schema_hash: int = 0,
        stream_id: int = 0,
        max_consumers: int = MAX_CONSUMERS,
        replace: bool = False,
    ) -> Ring:
        """Create and initialise ring ``name``.

        Args:
            name: ring name; the segment is ``/qk.<name>``.
            slot_size: bytes per slot, a multiple of 8 (the largest record the ring carries).
            capacity: number of slots, a power of two.
            schema_hash: hash of the record layouts carried; attachers must present the same.
            stream_id: the stream id the WAL files this ring's records under.
            max_consumers: consumer slots (each one cache line pair).
            replace: unlink an existing segment of that name first (a crashed session's leftover).

        Raises:
            RingExistsError: the segment exists and ``replace`` is false.
            ValueError: an impossible geometry.
        """
        if slot_size <= 0 or slot_size % 8:
            raise ValueError(f"slot_size must be a positive multiple of 8, got {slot_size}")
        if capacity < 2 or capacity & (capacity - 1):
            raise ValueError(f"capacity must be a power of two >= 2, got {capacity}")
        if not 1 <= max_consumers <= 256:
            raise ValueError(f"max_consumers must be 1..256, got {max_consumers}")
        if not 0 <= schema_hash < 2**64:
            raise ValueError(f"schema_hash must fit in 64 bits, got {schema_hash}")
        seg = segment_name(name)
        if replace:
            with contextlib.suppress(posix_ipc.ExistentialError):
                posix_ipc.unlink_shared_memory(seg)
        size = _ring.layout_size(slot_size, capacity, max_consumers)
        try:
            shm = posix_ipc.SharedMemory(seg, posix_ipc.O_CREX, mode=0o600, size=size)
        except posix_ipc.ExistentialError:
            raise RingExistsError(
                f"ring {name!r} already exists (/dev/shm{seg}); attach to it, or pass replace=True "
                "to discard a crashed session's segment"
            ) from None
        buf = _map(shm)
        view = _ring.RingView(buf)
        pid, start = current_identity()
        view.initialise(
            slot_size, capacity, max_consumers, schema_hash, stream_id, pid, start, name.encode()
        )
        ring = cls(name, buf, view, _read_meta(buf, name))
        ring._created = True
        return ring

    @classmethod
    def attach(
        cls,
        name: str,
        *,
        slot_size: int | None = None,
        capacity: int | None = None,
        schema_hash: int | None = None,
    ) -> Ring:
        """Attach to an existing ring, checking its header against what the caller expects.

        Raises:
            RingNotFoundError: no such segment.
            RingLayoutError: wrong magic, layout version, size, slot size, capacity or schema hash.
        """
        seg = segment_name(name)
        try:
            shm = posix_ipc.SharedMemory(seg)
        except posix_ipc.ExistentialError:
            raise RingNotFoundError(f"ring {name!r} does not exist (no /dev/shm{seg})") from None
        buf = _map(shm)
        try:
            info = _read_meta(buf, name)
            if slot_size is not None and info.slot_size != slot_size:
                raise RingLayoutError(
                    f"ring {name!r} has {info.slot_size}-byte slots, this process expects {slot_size}"
                )
            if capacity is not None and info.capacity != capacity:
                raise RingLayoutError(
                    f"ring {name!r} has {info.capacity} slots, this process expects {capacity}"
                )
            if schema_hash is not None and info.schema_hash != schema_hash:
                raise RingLayoutError(
                    f"ring {name!r} carries schema {info.schema_hash:#018x}, this process was built "
                    f"for {schema_hash:#018x}: restart every process of the session on one build"
                )
        except RingLayoutError:
            buf.close()
            raise
        view = _ring.RingView(buf)
        view.bind()
        return cls(name, buf, view, info)

    def close(self) -> None:
        """Detach from the ring and unmap it.

        A blocking consumer of this process keeps its slot and cursor, detached: it goes on holding
        the producer back (nothing it has not read is lost) and the next process that asks for a
        consumer of that name resumes from its cursor. :meth:`release_consumer` unregisters one for
        good. Lossy consumers are freed. A producer that closes marks the ring closed, so readers
        drain it and then get :class:`~qk.rings.errors.RingClosed`. The segment stays until
        :meth:`unlink`.
        """
        if self._buf is None:
            return
        for index, consumer in self._consumers.items():
            if consumer.lossy:
                self._view.leave(index)
            else:
                self._view.detach(index)
        self._consumers.clear()
        if self._producing:
            self._view.set_closed(True)
            self._view.set_producer(0, 0)
            self._producing = False
        self._view.release()
        self._buf.close()
        self._buf = None

    def unlink(self) -> None:
        """Remove the segment name (mappings stay valid until closed). Idempotent."""
        with contextlib.suppress(posix_ipc.ExistentialError):
            posix_ipc.unlink_shared_memory(segment_name(self._name))

    def __enter__(self) -> Ring:
        return self

    def __exit__(self, *exc: object) -> None:
        """Close; the ``with`` block of the process that created the ring also unlinks it (a
        clean shutdown leaves nothing in /dev/shm)."""
        self.close()
        if self._created:
            self.unlink()

    # ---- producer and consumers ---------------------------------------------------------------

    def producer(
        self,
        wait: WaitStrategy = WaitStrategy.SPIN_THEN_BLOCK,
        spins: int = _ring.DEFAULT_SPINS,
    ) -> Producer:
        """Become the ring's single producer; a restarted producer continues from ``published``.

        Raises:
            ConsumerBusyError: another live process is the producer.
        """
        self._require_open()
        meta = _read_meta(self._mapped(), self._name)
        me, my_start = current_identity()
        if meta.producer_pid not in (0, me) and is_alive(
            meta.producer_pid, meta.producer_start_time
        ):
            raise ConsumerBusyError(
                f"ring {self._name!r} already has a producer: pid {meta.producer_pid}"
            )
        self._view.set_producer(me, my_start)
        self._view.reset_claim()
        self._view.set_closed(False)  # a restarted producer reopens a ring it closed
        self._producing = True
        return self._view.producer(int(wait), spins)

    def consumer(
        self,
        name: str,
        policy: BackPressure = BackPressure.BLOCK,
        wait: WaitStrategy = WaitStrategy.SPIN_THEN_BLOCK,
        *,
        spins: int = _ring.DEFAULT_SPINS,
        start: Literal["latest", "earliest"] = "latest",
        auto_commit: bool = True,
    ) -> Consumer:
        """Register (or re-attach) consumer ``name``.

        A new consumer starts at the next record published (``start="latest"``) or at the oldest
        record still in the ring (``"earliest"``). A consumer of that name that already exists in
        shared memory, whose process is gone, is taken over and resumes from its cursor with its
        original policy.

        Args:
            name: up to 32 bytes; unique per ring.
            policy: :class:`BackPressure` for a new consumer.
            wait: :class:`WaitStrategy` of this process's reads.
            spins: busy iterations before yielding/blocking.
            start: where a new consumer begins.
            auto_commit: publish the cursor after every read (at-most-once processing if the
                process dies mid-record). With ``False`` call ``commit()`` after processing: a
                consumer killed before committing re-reads that batch (at-least-once).

        Raises:
            ConsumerBusyError: a live process is attached under that name.
            RuntimeError: every consumer slot is taken.
        """
        self._require_open()
        raw = name.encode()
        if not raw or len(raw) > _ring.NAME_LEN:
            raise ValueError(f"consumer name must be 1..{_ring.NAME_LEN} bytes, got {name!r}")
        if start not in ("latest", "earliest"):
            raise ValueError(f"start must be 'latest' or 'earliest', got {start!r}")
        me, my_start = current_identity()
        existing = self._find(name)
        if existing is not None:
            if existing.pid != me and existing.alive:
                raise ConsumerBusyError(
                    f"consumer {name!r} of ring {self._name!r} is attached by live pid {existing.pid}"
                )
            index, _cursor = self._view.join(
                raw, int(existing.policy), me, my_start, False, existing.index
            )
        else:
            index, _cursor = self._view.join(raw, int(policy), me, my_start, start == "earliest")
        consumer = self._view.consumer(index, int(wait), spins, auto_commit)
        self._consumers[index] = consumer
        return consumer

    def release_consumer(self, consumer: Consumer) -> None:
        """Unregister a consumer of this process: its slot is freed and no longer holds the producer."""
        self._require_open()
        if self._consumers.pop(consumer.index, None) is None:
            raise ValueError(f"consumer {consumer.index} was not registered through this Ring")
        self._view.leave(consumer.index)

    def evict(self, name: str) -> bool:
        """Free consumer ``name`` whose process is dead (operator action: stop it gating the
        producer). Returns False if there is no such consumer.

        Raises:
            ConsumerBusyError: the consumer's process is alive.
        """
        self._require_open()
        found = self._find(name)
        if found is None:
            return False
        if found.alive:
            raise ConsumerBusyError(f"consumer {name!r} belongs to live pid {found.pid}")
        self._view.leave(found.index)
        return True

    # ---- introspection ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The ring's name (without the ``/qk.`` prefix)."""
        return self._name

    @property
    def slot_size(self) -> int:
        """Bytes per slot."""
        return self._info.slot_size

    @property
    def capacity(self) -> int:
        """Number of slots."""
        return self._info.capacity

    @property
    def stream_id(self) -> int:
        """Stream id under which the WAL files this ring's records."""
        return self._info.stream_id

    @property
    def schema_hash(self) -> int:
        """Hash of the record layouts this ring carries."""
        return self._info.schema_hash

    @property
    def published(self) -> int:
        """Number of records ever published (the producer cursor)."""
        self._require_open()
        return self._view.published

    @property
    def closed(self) -> bool:
        """True once the producer closed the ring."""
        self._require_open()
        return self._view.closed

    def info(self) -> RingInfo:
        """A fresh read of the header."""
        return _read_meta(self._mapped(), self._name)

    def consumers(self) -> list[ConsumerInfo]:
        """Every registered consumer, with its cursor, gap count and whether its process lives."""
        self._require_open()
        out = []
        for index, state, policy, name, pid, start, cursor, gaps in self._view.consumer_table():
            if state != _ring.STATE_ACTIVE:
                continue
            out.append(
                ConsumerInfo(
                    index, name, BackPressure(policy), pid, cursor, gaps, is_alive(pid, start)
                )
            )
        return out

    def _find(self, name: str) -> ConsumerInfo | None:
        return next((c for c in self.consumers() if c.name == name), None)

    def _mapped(self) -> mmap.mmap:
        self._require_open()
        assert self._buf is not None
        return self._buf

    def _require_open(self) -> None:
        if self._buf is None:
            raise ValueError(f"ring {self._name!r} is closed in this process")


def list_rings(prefix: str = SEGMENT_PREFIX) -> Iterator[str]:
    """Names of the ring segments present on this host (Linux ``/dev/shm``)."""
    if not SHM_DIR.is_dir():
        return
    for entry in sorted(SHM_DIR.iterdir()):
        if entry.name.startswith(prefix):
            try:
                with entry.open("rb") as f:
                    head = f.read(8)
            except OSError:
                continue
            if len(head) == 8 and struct.unpack("<Q", head)[0] == _ring.MAGIC:
                yield entry.name[len(SEGMENT_PREFIX) :]


def cleanup_stale(prefix: str = SEGMENT_PREFIX) -> list[str]:
    """Unlink ring segments that no live process uses: left behind by a crashed session.

    A ring is stale when its creator, its producer and every attached consumer are dead (pid and
    start time both checked, so a reused pid does not keep a segment alive). Returns the names
    removed.
    """
    removed = []
    for name in list_rings(prefix):
        try:
            ring = Ring.attach(name)
        except (RingNotFoundError, RingLayoutError):
            continue
        try:
            info = ring.info()
            users_alive = (
                is_alive(info.owner_pid, info.owner_start_time)
                or is_alive(info.producer_pid, info.producer_start_time)
                or any(c.alive and c.pid != os.getpid() for c in ring.consumers())
            )
        finally:
            ring.close()
        if not users_alive:
            ring.unlink()
            removed.append(name)
    return removed
