"""Records onto and off the session's rings: zero-padded slots, typed views, closed rings.

A ring that carries several record types (``bars``, ``exec``) has slots as large as the largest;
a record is written zero-padded to the slot so that what the WAL logs (whole slots) does not
depend on what an earlier record left in that slot. Reading views each slot as the record type
its header names (``qk.schemas.as_record`` validates type, version and size).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import posix_ipc

from qk.rings import BackPressure, Ring, RingClosed, RingTimeout, WaitStrategy
from qk.runtime.plan import RingPlan
from qk.schemas import SCHEMA_HASH, as_record

__all__ = ["RingReader", "RingWriter", "attach", "open_bell", "pack"]


def open_bell(name: str) -> posix_ipc.Semaphore | None:
    """Open a doorbell semaphore ``qk start`` created; None when there is none (no session)."""
    try:
        return posix_ipc.Semaphore(name)
    except posix_ipc.ExistentialError:
        return None


def attach(plan: RingPlan) -> Ring:
    """Attach to a session ring, checking its geometry and schema against this build."""
    return Ring.attach(
        plan.name, slot_size=plan.slot_size, capacity=plan.capacity, schema_hash=SCHEMA_HASH
    )


def pack(
    records: Sequence[npt.NDArray[np.void] | np.void], slot_size: int
) -> npt.NDArray[np.uint8]:
    """Copy records (1-element arrays or record scalars) into zero-padded slots."""
    out = np.zeros((len(records), slot_size), dtype=np.uint8)
    for i, record in enumerate(records):
        raw = np.asarray(record).reshape(-1).view(np.uint8)
        out[i, : raw.size] = raw
    return out


class RingWriter:
    """This process as the single producer of one ring.

    Args:
        plan: The ring.
        beat: Called while a full ring makes the write wait (the process stays alive to its
            supervisor while a slow consumer holds it back).
        bell: A doorbell to post after each publish (the OMS waits on it, not on the ring).
    """

    def __init__(
        self, plan: RingPlan, beat: Any = None, bell: posix_ipc.Semaphore | None = None
    ) -> None:
        self.plan = plan
        self.ring = attach(plan)
        self.producer = self.ring.producer(WaitStrategy.SPIN_THEN_BLOCK)
        self._beat = beat
        self._bell = bell
        self.written = 0
        self.closed_here = False

    def write(self, records: Sequence[npt.NDArray[np.void] | np.void]) -> None:
        """Publish records in order (zero-padded), waiting for room as long as it takes."""
        if not records:
            return
        self.write_slots(pack(records, self.plan.slot_size))

    def write_slots(self, slots: npt.NDArray[Any]) -> None:
        """Publish a block of whole slots (or a record array whose itemsize is the slot size)."""
        chunk = self.plan.capacity // 4
        for start in range(0, len(slots), chunk):
            part = slots[start : start + chunk]
            while True:
                try:
                    self.producer.write_batch(part, timeout=0.05)
                    break
                except RingTimeout:
                    if self._beat is not None:
                        self._beat()
            self.written += len(part)
        if self._bell is not None:
            self._bell.release()

    def close(self) -> None:
        """Mark the ring closed (its consumers drain it, then see RingClosed) and unmap it."""
        self.closed_here = True
        self.ring.close()


class RingReader:
    """One blocking consumer of a ring, reading in batches.

    Args:
        plan: The ring.
        name: Consumer name (registered by ``qk start`` before any process starts, so nothing
            published before this process attached is missed).
        batch: Most records per read.
        auto_commit: See :meth:`qk.rings.Ring.consumer`.
    """

    def __init__(
        self, plan: RingPlan, name: str, *, batch: int = 1024, auto_commit: bool = True
    ) -> None:
        self.plan = plan
        self.ring = attach(plan)
        self.consumer = self.ring.consumer(
            name, BackPressure.BLOCK, WaitStrategy.SPIN_THEN_BLOCK, start="earliest",
            auto_commit=auto_commit,
        )  # fmt: skip
        self._buffer = np.zeros((batch, plan.slot_size), dtype=np.uint8)
        self.closed = False
        self.read = 0

    @property
    def position(self) -> int:
        """Ring position of the next record this reader returns."""
        return int(self.consumer.position)

    def poll_slots(self, timeout: float | None = 0.0) -> npt.NDArray[np.uint8]:
        """The next available slots (possibly none); sets :attr:`closed` when the producer closed
        the ring and everything was read."""
        if self.closed:
            return self._buffer[:0]
        try:
            count = int(self.consumer.read_batch(self._buffer, timeout=timeout))
        except RingClosed:
            self.closed = True
            return self._buffer[:0]
        except RingTimeout:
            return self._buffer[:0]
        self.read += count
        return self._buffer[:count]

    def poll(self, timeout: float | None = 0.0) -> list[npt.NDArray[np.void]]:
        """The next available records, each a 1-element array of its own dtype (copies)."""
        return [as_record(slot).copy() for slot in self.poll_slots(timeout)]

    def close(self) -> None:
        """Detach (the consumer keeps its cursor) and unmap."""
        self.ring.close()
