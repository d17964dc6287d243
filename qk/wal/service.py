"""The WAL writer process: consume every ring, log each record once, commit ring cursors after pwrite.

Per loop the service drains up to ``drain_bytes`` from each ring into one staging buffer, writes it with
one ``pwrite``, then commits each ring's consumer cursor (the producer may reuse those slots: the
records are in the file), and lets the writer's group commit decide when to ``fdatasync``.

Restart is the same code path as start: the writer recovers the log, the service finds the last stream
seq logged for each ring and moves its consumer past it, so a SIGKILLed service neither loses nor
duplicates a record. A frame's stream key is the ring's stream id and the record's ring position.

Run it as a process::

    python -m qk.wal.service --dir /var/lib/qk/wal --name main --ring md --ring intents:7
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from qk.rings import BackPressure, Ring, RingClosed, WaitStrategy
from qk.wal.reader import last_stream_seqs
from qk.wal.segment import DEFAULT_SEGMENT_SIZE
from qk.wal.writer import WalWriter, WriterOptions

log = structlog.get_logger(__name__)

CONSUMER_NAME = "wal"
DEFAULT_DRAIN_BYTES = 256 << 10
_IDLE_WAIT_S = 0.001


@dataclass(frozen=True, slots=True)
class RingSource:
    """A ring the service logs.

    Attributes:
        name: the ring's name.
        stream: stream id for its frames (None: the ring's own ``stream_id``).
        ts_offset: where each record holds its i64 ts_event (None: the ring carries raw bytes).
    """

    name: str
    stream: int | None = None
    ts_offset: int | None = 16


@dataclass(slots=True)
class _Attached:
    source: RingSource
    ring: Ring
    consumer: Any
    stream: int
    buffer: np.ndarray
    closed: bool = False
    logged: int = 0


@dataclass(slots=True)
class ResumeGap:
    """Records a ring released before they reached the WAL (the log lost its tail, or started late)."""

    ring: str
    stream: int
    wal_next: int
    ring_position: int


@dataclass(slots=True)
class ServiceStats:
    """Counters of a running service."""

    records: int = 0
    loops: int = 0
    gaps: list[ResumeGap] = field(default_factory=list)


class WalService:
    """Consumes rings into a :class:`~qk.wal.writer.WalWriter`."""

    def __init__(
        self,
        writer: WalWriter,
        sources: Sequence[RingSource],
        *,
        consumer_name: str = CONSUMER_NAME,
        drain_bytes: int = DEFAULT_DRAIN_BYTES,
    ) -> None:
        """Attach to every ring and position each consumer after what the WAL already holds.

        Args:
            writer: an open writer (recovered).
            sources: the rings to log; their stream ids must differ.
            consumer_name: the consumer name registered in each ring.
            drain_bytes: most bytes taken from one ring per loop.

        Raises:
            RingNotFoundError: a ring does not exist.
            ValueError: two sources share a stream id.
        """
        self.writer = writer
        self.stats = ServiceStats()
        self._rings: list[_Attached] = []
        try:
            self._attach(sources, consumer_name, drain_bytes)
        except BaseException:
            self.close()
            raise

    def _attach(self, sources: Sequence[RingSource], consumer_name: str, drain_bytes: int) -> None:
        for source in sources:
            ring = Ring.attach(source.name)
            consumer = ring.consumer(
                consumer_name,
                policy=BackPressure.BLOCK,
                wait=WaitStrategy.SPIN_THEN_BLOCK,
                start="earliest",
                auto_commit=False,
            )
            stream = ring.stream_id if source.stream is None else source.stream
            count = max(1, drain_bytes // ring.slot_size)
            self._rings.append(
                _Attached(
                    source, ring, consumer, stream, np.empty(count * ring.slot_size, np.uint8)
                )
            )
        streams = [attached.stream for attached in self._rings]
        if len(set(streams)) != len(streams):
            raise ValueError(f"two rings share a stream id: {streams}")
        last = last_stream_seqs(self.writer.directory, streams)
        for attached in self._rings:
            wal_next = last.get(attached.stream, -1) + 1
            position = attached.consumer.position
            if wal_next > position:
                attached.consumer.seek(wal_next)
            elif wal_next < position:
                gap = ResumeGap(attached.source.name, attached.stream, wal_next, position)
                self.stats.gaps.append(gap)
                log.warning(
                    "wal.resume_gap",
                    ring=gap.ring,
                    stream=gap.stream,
                    wal_next=wal_next,
                    ring_position=position,
                )
            log.info(
                "wal.ring_attached",
                ring=attached.source.name,
                stream=attached.stream,
                position=attached.consumer.position,
            )

    @property
    def all_closed(self) -> bool:
        """True when every ring's producer closed it and the service read everything."""
        return all(attached.closed for attached in self._rings)

    def run_once(self, timeout: float | None = None) -> int:
        """Drain every ring once, write, commit cursors, group-commit. Returns records logged.

        Args:
            timeout: wait this long for a first record when every ring is empty (None: until the
                next group commit is due, at most 1 ms per ring).
        """
        writer = self.writer
        total = 0
        for attached in self._rings:
            if attached.closed:
                continue
            total += self._drain(attached, 0.0)
        if total == 0:
            wait = writer.seconds_until_commit()
            wait = _IDLE_WAIT_S if wait is None else min(wait, _IDLE_WAIT_S)
            if timeout is not None:
                wait = min(wait, timeout)
            for attached in self._rings:
                if not attached.closed:
                    total += self._drain(attached, wait / max(1, len(self._rings)))
        if total:
            writer.flush()
            for attached in self._rings:
                attached.consumer.commit()
        writer.poll()
        self.stats.records += total
        self.stats.loops += 1
        return total

    def _drain(self, attached: _Attached, timeout: float) -> int:
        consumer = attached.consumer
        first = consumer.position
        try:
            count = int(consumer.read_batch(attached.buffer, timeout=timeout))
        except RingClosed:
            attached.closed = True
            return 0
        if count:
            slot = attached.ring.slot_size
            self.writer.append_records(
                attached.buffer.data[: count * slot],
                slot,
                attached.stream,
                first,
                ts_offset=attached.source.ts_offset,
            )
            attached.logged += count
        return count

    def run(
        self,
        stop: threading.Event | Callable[[], bool] | None = None,
        *,
        stop_when_closed: bool = False,
    ) -> None:
        """Loop until ``stop`` is set (or returns True), or every ring is closed and drained."""

        def stopped() -> bool:
            if stop is None:
                return False
            return stop.is_set() if isinstance(stop, threading.Event) else bool(stop())

        while not stopped():
            self.run_once()
            if stop_when_closed and self.all_closed:
                break
        self.writer.sync()

    def close(self) -> None:
        """Detach from the rings (the writer stays open: its owner closes it)."""
        for attached in self._rings:
            attached.ring.close()
        self._rings.clear()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the WAL writer process."""
    parser = argparse.ArgumentParser(prog="qk-wal-writer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, required=True, help="WAL directory")
    parser.add_argument(
        "--name", required=True, help="WAL name (shared-memory mark /qk.<name>.wal)"
    )
    parser.add_argument(
        "--ring",
        action="append",
        default=[],
        metavar="NAME[:STREAM]",
        help="ring to log (repeat); STREAM overrides the ring's stream id",
    )
    parser.add_argument("--raw", action="store_true", help="rings carry raw bytes (ts_event = 0)")
    parser.add_argument("--segment-size", type=int, default=DEFAULT_SEGMENT_SIZE)
    parser.add_argument("--commit-interval-ms", type=float, default=1.0)
    parser.add_argument("--commit-bytes", type=int, default=1 << 20)
    parser.add_argument(
        "--stop-when-closed",
        action="store_true",
        help="exit once every ring is closed by its producer and drained",
    )
    args = parser.parse_args(argv)
    sources = []
    for spec in args.ring:
        name, _, stream = spec.partition(":")
        sources.append(RingSource(name, int(stream) if stream else None, None if args.raw else 16))
    options = WriterOptions(
        segment_size=args.segment_size,
        group_commit_interval_s=args.commit_interval_ms / 1000.0,
        group_commit_bytes=args.commit_bytes,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with WalWriter(args.dir, name=args.name, options=options) as writer:
        for dropped in writer.recovery.dropped:
            log.warning(
                "wal.recovery_dropped",
                segment=dropped.segment_index,
                offset=dropped.offset,
                bytes=dropped.length,
                last_good_seq=dropped.last_good_seq,
                reason=dropped.reason,
                quarantine=str(dropped.quarantine_path),
            )
        service = WalService(writer, sources)
        try:
            service.run(stop, stop_when_closed=args.stop_when_closed)
        finally:
            service.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
