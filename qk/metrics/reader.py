"""The reader side: find a session's metrics segments, read their names and take snapshots.

Readers map segments read-only and never write, so any number of them (the supervisor's exporter,
``qk`` commands, tests) can watch a process without slowing it. Counters and gauges are single
aligned 8-byte words and are read as they are. A histogram spans thousands of words; its snapshot
is copied between two reads of the histogram's sequence word and kept only if the word was even
and unchanged (a seqlock), so a snapshot is always internally consistent: its count equals the sum
of its buckets, and its sum, min and max belong to the same values.
"""

from __future__ import annotations

import contextlib
import math
import mmap
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import orjson
import posix_ipc

from qk.metrics.buckets import (
    EXPORT_BOUNDS_NS,
    bucket_index,
    percentile_from_counts,
)
from qk.metrics.errors import MetricsLayoutError
from qk.metrics.layout import (
    BUCKETS,
    COUNT,
    ENTRY,
    ENTRY_SIZE,
    ENTRY_TEXT_OFFSET,
    HEADER,
    MAGIC,
    MAX,
    MIN,
    NAME_COUNT_OFFSET,
    SEGMENT_INFIX,
    SEGMENT_PREFIX,
    SUM,
    U32,
    VERSION,
    Geometry,
    MetricKind,
    session_prefix,
)
from qk.process import is_alive

SHM_DIR = Path("/dev/shm")


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """The header of a metrics segment."""

    shm_name: str
    session: str
    process: str
    pid: int
    start_time_ns: int
    created_ns: int
    geometry: Geometry


@dataclass(frozen=True, slots=True)
class MetricInfo:
    """One name-table entry."""

    kind: MetricKind
    name: str
    labels: dict[str, str]
    help: str
    slot: int


@dataclass(frozen=True, slots=True)
class HistogramSnapshot:
    """A consistent copy of one histogram (all values in ns).

    ``counts`` holds buckets ``first_index, first_index + 1, ...``; every bucket outside that
    range is zero.
    """

    count: int
    sum_ns: int
    min_ns: int
    max_ns: int
    first_index: int
    counts: npt.NDArray[np.uint64]

    def percentile(self, quantile: float) -> float:
        """The ``quantile`` (0..1) in ns, within 0.5 % of the exact value; NaN when empty."""
        if self.count == 0:
            return math.nan
        return percentile_from_counts(
            self.counts, self.first_index, quantile, self.min_ns, self.max_ns
        )

    def cumulative(self, bounds_ns: tuple[int, ...] = EXPORT_BOUNDS_NS) -> list[int]:
        """Exact counts of values ``<= bound`` for each bucket upper edge in ``bounds_ns``."""
        if self.count == 0:
            return [0] * len(bounds_ns)
        running = np.cumsum(self.counts, dtype=np.uint64)
        result = []
        for bound in bounds_ns:
            position = bucket_index(bound) - self.first_index
            if position < 0:
                result.append(0)
            elif position >= len(running):
                result.append(self.count)
            else:
                result.append(int(running[position]))
        return result


class SegmentReader:
    """A read-only mapping of one process's metrics segment."""

    def __init__(self, info: SegmentInfo, buf: mmap.mmap) -> None:
        self.info = info
        self._buf: mmap.mmap | None = buf
        self._words: npt.NDArray[np.uint64] | None = np.frombuffer(buf, dtype=np.uint64)
        self._metrics: list[MetricInfo] = []

    @classmethod
    def attach(cls, shm_name: str) -> SegmentReader:
        """Map the segment ``shm_name`` (e.g. ``/qk.s1.metrics.feed``) read-only.

        Raises:
            FileNotFoundError: no such segment.
            MetricsLayoutError: not a metrics segment of this layout version, not initialised yet,
                or its size disagrees with its header.
        """
        try:
            shm = posix_ipc.SharedMemory(shm_name, 0, read_only=True)
        except posix_ipc.ExistentialError:
            raise FileNotFoundError(f"no metrics segment {shm_name}") from None
        try:
            size = os.fstat(shm.fd).st_size
            if size < HEADER.size:
                raise MetricsLayoutError(
                    f"{shm_name}: {size} bytes is too small for a metrics header"
                )
            buf = mmap.mmap(shm.fd, size, prot=mmap.PROT_READ)
        finally:
            shm.close_fd()
        try:
            info = _parse_header(shm_name, buf, size)
        except MetricsLayoutError:
            buf.close()
            raise
        return cls(info, buf)

    def alive(self) -> bool:
        """True while the owning process runs (pid and start time both match)."""
        return is_alive(self.info.pid, self.info.start_time_ns)

    def metrics(self) -> list[MetricInfo]:
        """Every metric registered so far (entries published since the last call are added)."""
        buf = self._mapped()
        published = U32.unpack_from(buf, NAME_COUNT_OFFSET)[0]
        if published > self.info.geometry.names:
            raise MetricsLayoutError(
                f"{self.info.shm_name}: {published} names published, table holds "
                f"{self.info.geometry.names}"
            )
        for entry in range(len(self._metrics), published):
            offset = self.info.geometry.names_offset + entry * ENTRY_SIZE
            kind, length, slot = ENTRY.unpack_from(buf, offset)
            text = bytes(buf[offset + ENTRY_TEXT_OFFSET : offset + ENTRY_TEXT_OFFSET + length])
            try:
                name, labels, help = orjson.loads(text)
                metric_kind = MetricKind(kind)
            except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
                raise MetricsLayoutError(
                    f"{self.info.shm_name}: name-table entry {entry} is damaged ({exc})"
                ) from None
            self._metrics.append(MetricInfo(metric_kind, name, labels, help, slot))
        return list(self._metrics)

    def counter(self, metric: MetricInfo) -> int:
        """Current value of a counter."""
        return int(self._array()[self.info.geometry.counters_offset // 8 + metric.slot])

    def gauge(self, metric: MetricInfo) -> float:
        """Current value of an int or float gauge."""
        index = self.info.geometry.gauges_offset // 8 + metric.slot
        word = self._array()[index : index + 1]
        if metric.kind is MetricKind.FLOAT_GAUGE:
            return float(word.view(np.float64)[0])
        return float(word.view(np.int64)[0])

    def histogram(self, metric: MetricInfo, attempts: int = 2000) -> HistogramSnapshot | None:
        """A consistent snapshot of a histogram, or None if the writer kept changing it.

        Each attempt copies the histogram's header and the buckets between those of its min and
        max between two reads of the sequence word. After ``attempts`` failures (a writer
        recording back to back, faster than one copy) it gives up rather than return a torn copy.
        """
        words = self._array()
        geometry = self.info.geometry
        base = geometry.histograms_offset // 8 + metric.slot * geometry.histogram_words
        buckets = base + BUCKETS
        for attempt in range(attempts):
            before = int(words[base])
            if before & 1 == 0:
                head = words[base + COUNT : base + MAX + 1].copy()
                count = int(head[0])
                if count == 0:
                    first, counts = 0, np.zeros(0, dtype=np.uint64)
                else:
                    first = bucket_index(int(head[MIN - COUNT]))
                    last = bucket_index(int(head[MAX - COUNT]))
                    counts = words[buckets + first : buckets + last + 1].copy()
                if int(words[base]) == before:
                    return HistogramSnapshot(
                        count=count,
                        sum_ns=int(head[SUM - COUNT]),
                        min_ns=int(head[MIN - COUNT]) if count else 0,
                        max_ns=int(head[MAX - COUNT]),
                        first_index=first,
                        counts=counts,
                    )
            if attempt % 64 == 63:
                # Give a writer that shares this core a chance to finish its update.
                time.sleep(0)
        return None

    def close(self) -> None:
        """Unmap the segment."""
        self._words = None
        if self._buf is not None:
            self._buf.close()
            self._buf = None

    def __enter__(self) -> SegmentReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _mapped(self) -> mmap.mmap:
        if self._buf is None:
            raise ValueError(f"reader of {self.info.shm_name} is closed")
        return self._buf

    def _array(self) -> npt.NDArray[np.uint64]:
        if self._words is None:
            raise ValueError(f"reader of {self.info.shm_name} is closed")
        return self._words


def _parse_header(shm_name: str, buf: mmap.mmap, size: int) -> SegmentInfo:
    (
        magic,
        version,
        pid,
        start,
        created,
        names,
        _published,
        counters,
        gauges,
        histograms,
        buckets,
        total,
        session,
        process,
    ) = HEADER.unpack_from(buf, 0)
    if magic != MAGIC:
        raise MetricsLayoutError(
            f"{shm_name}: magic {magic!r} is not {MAGIC!r} (not a metrics segment, or its creator "
            "has not finished initialising it)"
        )
    if version != VERSION:
        raise MetricsLayoutError(
            f"{shm_name}: layout version {version}, this build reads version {VERSION}"
        )
    try:
        geometry = Geometry(names, counters, gauges, histograms, buckets)
    except ValueError as exc:
        raise MetricsLayoutError(f"{shm_name}: {exc}") from None
    if total != size or geometry.total_size != size:
        raise MetricsLayoutError(
            f"{shm_name}: header says {total} bytes, capacities imply {geometry.total_size}, "
            f"the segment has {size}"
        )
    return SegmentInfo(
        shm_name=shm_name,
        session=session.rstrip(b"\0").decode("utf-8", "replace"),
        process=process.rstrip(b"\0").decode("utf-8", "replace"),
        pid=pid,
        start_time_ns=start,
        created_ns=created,
        geometry=geometry,
    )


def discover(session: str | None = None) -> list[str]:
    """Shared-memory names of the metrics segments of ``session`` (of every session if None).

    The session is checked against each segment's header too: a session name may contain dots,
    so a file-name prefix alone could match another session's segments.
    """
    if not SHM_DIR.is_dir():
        return []
    prefix = session_prefix(session) if session is not None else SEGMENT_PREFIX
    names = []
    for entry in sorted(SHM_DIR.iterdir()):
        if entry.name.startswith(prefix) and SEGMENT_INFIX in entry.name:
            try:
                with entry.open("rb") as f:
                    head = f.read(HEADER.size)
            except OSError:
                continue
            if len(head) < HEADER.size or head[: len(MAGIC)] != MAGIC:
                continue
            owner_session = HEADER.unpack(head)[12].rstrip(b"\0").decode("utf-8", "replace")
            if session is None or owner_session == session:
                names.append(f"/{entry.name}")
    return names


def cleanup_stale(session: str | None = None) -> list[str]:
    """Unlink the metrics segments of ``session`` (every session if None) whose owner is dead.

    Returns the shared-memory names removed.
    """
    removed = []
    for shm_name in discover(session):
        try:
            reader = SegmentReader.attach(shm_name)
        except (FileNotFoundError, MetricsLayoutError):
            continue
        with reader:
            dead = not reader.alive()
        if dead:
            with contextlib.suppress(posix_ipc.ExistentialError):
                posix_ipc.unlink_shared_memory(shm_name)
            removed.append(shm_name)
    return removed
