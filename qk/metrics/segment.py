"""The writer side: a process's own metrics segment and the handles its hot paths update.

:meth:`MetricsSegment.create` makes ``/qk.<session>.metrics.<process>``; the process registers its
metrics once at start-up (:meth:`~MetricsSegment.counter`, :meth:`~MetricsSegment.gauge`,
:meth:`~MetricsSegment.float_gauge`, :meth:`~MetricsSegment.histogram`) and then updates the
returned handles. An update is a few plain stores through a ``memoryview`` into shared memory: no
lock, no system call, no allocation beyond Python's own ints.

One thread writes a given metric (the process's event loop); readers in other processes never
write. Histogram updates are bracketed by a per-histogram sequence word (a seqlock) so a reader can
tell a consistent copy from a torn one. On x86-64 the stores become visible in program order
(TSO), which is what the seqlock needs; a weakly ordered CPU would need fences here.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import re
import time
from collections.abc import Callable, Mapping
from typing import TypeVar, cast

import orjson
import posix_ipc

from qk.metrics.buckets import (
    _BASE,
    _K_FOR_BITS,
    _POW10,
    LINEAR_MAX_NS,
    MAX_TRACKED_NS,
    OVERFLOW_INDEX,
)
from qk.metrics.errors import (
    MetricDefinitionError,
    MetricsLayoutError,
    MetricsTableFullError,
    SegmentBusyError,
)
from qk.metrics.layout import (
    BUCKETS,
    COUNT,
    EMPTY_MIN,
    ENTRY,
    ENTRY_SIZE,
    ENTRY_TEXT_MAX,
    ENTRY_TEXT_OFFSET,
    HEADER,
    MAGIC,
    MAX,
    MIN,
    NAME_COUNT_OFFSET,
    SEQ,
    SUM,
    U32,
    VERSION,
    Geometry,
    MetricKind,
    segment_name,
    validate_process,
    validate_session,
)
from qk.process import current_identity, is_alive

_METRIC_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,127}$")
_LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,63}$")
_H = TypeVar("_H", "Counter", "IntGauge", "FloatGauge", "Histogram")

RESERVED_LABELS = frozenset({"process", "le", "quantile"})
"""Label names the exporter adds itself; a metric may not define them."""


class Counter:
    """A monotonically increasing u64 in shared memory."""

    __slots__ = ("_index", "_words", "name")

    def __init__(self, name: str, words: memoryview, index: int) -> None:
        self.name = name
        self._words = words
        self._index = index

    def inc(self, amount: int = 1) -> None:
        """Add ``amount`` (an int >= 0)."""
        if amount < 0:
            raise ValueError(f"counter {self.name}: cannot add a negative amount ({amount})")
        self._words[self._index] += amount

    @property
    def value(self) -> int:
        """The current value."""
        return int(self._words[self._index])


class IntGauge:
    """A signed 64-bit gauge in shared memory."""

    __slots__ = ("_index", "_words", "name")

    def __init__(self, name: str, words: memoryview, index: int) -> None:
        self.name = name
        self._words = words
        self._index = index

    def set(self, value: int) -> None:
        """Store ``value``."""
        self._words[self._index] = value

    def inc(self, amount: int = 1) -> None:
        """Add ``amount`` (may be negative)."""
        self._words[self._index] += amount

    def dec(self, amount: int = 1) -> None:
        """Subtract ``amount``."""
        self._words[self._index] -= amount

    @property
    def value(self) -> int:
        """The current value."""
        return int(self._words[self._index])


class FloatGauge:
    """A float64 gauge in shared memory."""

    __slots__ = ("_index", "_words", "name")

    def __init__(self, name: str, words: memoryview[float], index: int) -> None:
        self.name = name
        self._words = words
        self._index = index

    def set(self, value: float) -> None:
        """Store ``value``."""
        self._words[self._index] = value

    @property
    def value(self) -> float:
        """The current value."""
        return float(self._words[self._index])


class Histogram:
    """A latency histogram in shared memory: fixed 1 % buckets, count, sum, min and max in ns."""

    __slots__ = ("_base", "_buckets", "_seq", "_words", "name")

    def __init__(self, name: str, words: memoryview, base: int) -> None:
        self.name = name
        self._words = words
        self._base = base
        self._buckets = base + BUCKETS
        self._seq = int(words[base + SEQ])

    def record(self, ns: int) -> None:
        """Add one value of ``ns`` nanoseconds (an int >= 0).

        The bucket index is :func:`qk.metrics.buckets.bucket_index` written out here: a function
        call would be a sizeable share of the cost (tests check that the two agree).
        """
        if ns <= LINEAR_MAX_NS:
            if ns < 0:
                raise ValueError(f"histogram {self.name}: latency must be >= 0 ns, got {ns}")
            index = ns
        elif ns > MAX_TRACKED_NS:
            index = OVERFLOW_INDEX
        else:
            u = ns - 1
            k = _K_FOR_BITS[u.bit_length()]
            if u >= _POW10[k + 3]:
                k += 1
            index = _BASE[k] + u // _POW10[k]
        words = self._words
        base = self._base
        seq = self._seq + 1
        words[base] = seq
        words[self._buckets + index] += 1
        words[base + COUNT] += 1
        words[base + SUM] += ns
        if ns < words[base + MIN]:
            words[base + MIN] = ns
        if ns > words[base + MAX]:
            words[base + MAX] = ns
        seq += 1
        words[base] = seq
        self._seq = seq

    @property
    def count(self) -> int:
        """Values recorded so far."""
        return int(self._words[self._base + COUNT])


def _check_definition(kind: MetricKind, name: str, labels: Mapping[str, str], help: str) -> bytes:
    if not _METRIC_NAME_RE.match(name):
        raise MetricDefinitionError(
            f"metric name {name!r} is not a Prometheus name ([a-zA-Z_][a-zA-Z0-9_]*, <= 128)"
        )
    for key, value in labels.items():
        if not _LABEL_NAME_RE.match(key) or key.startswith("__"):
            raise MetricDefinitionError(f"metric {name}: label name {key!r} is not valid")
        if key in RESERVED_LABELS:
            raise MetricDefinitionError(
                f"metric {name}: label {key!r} is reserved (the exporter sets it)"
            )
        if not isinstance(value, str):
            raise MetricDefinitionError(f"metric {name}: label {key}={value!r} must be a string")
    if kind is MetricKind.HISTOGRAM and name.endswith(("_seconds", "_bucket", "_count", "_sum")):
        raise MetricDefinitionError(
            f"histogram {name}: drop the suffix; histograms record ns and are exported as "
            f"{name}_seconds"
        )
    text = orjson.dumps([name, dict(sorted(labels.items())), help])
    if len(text) > ENTRY_TEXT_MAX:
        raise MetricDefinitionError(
            f"metric {name}: name, labels and help encode to {len(text)} bytes; a name-table "
            f"entry holds {ENTRY_TEXT_MAX}"
        )
    return text


class MetricsSegment:
    """The metrics segment this process owns and writes."""

    def __init__(
        self, shm_name: str, session: str, process: str, buf: mmap.mmap, geometry: Geometry
    ) -> None:
        self.shm_name = shm_name
        self.session = session
        self.process = process
        self.geometry = geometry
        self._buf: mmap.mmap | None = buf
        self._u64 = memoryview(buf).cast("Q")
        self._i64 = memoryview(buf).cast("q")
        self._f64 = memoryview(buf).cast("d")
        self._handles: dict[tuple[str, tuple[tuple[str, str], ...]], object] = {}
        self._kinds: dict[str, MetricKind] = {}
        self._used = {kind: 0 for kind in MetricKind}
        self._entries = 0

    @classmethod
    def create(cls, session: str, process: str, geometry: Geometry | None = None) -> MetricsSegment:
        """Create the metrics segment of ``process`` in ``session``.

        A segment of that name left by a dead process (pid and start time compared) is replaced:
        its counters restart from zero, which Prometheus reads as a counter reset.

        Raises:
            SegmentBusyError: a live process owns a segment of that name.
            ValueError: an invalid session or process name, or capacities.
        """
        validate_session(session)
        validate_process(process)
        geometry = geometry or Geometry()
        shm_name = segment_name(session, process)
        try:
            shm = posix_ipc.SharedMemory(
                shm_name, posix_ipc.O_CREX, mode=0o600, size=geometry.total_size
            )
        except posix_ipc.ExistentialError:
            _replace_dead(shm_name)
            shm = posix_ipc.SharedMemory(
                shm_name, posix_ipc.O_CREX, mode=0o600, size=geometry.total_size
            )
        try:
            buf = mmap.mmap(shm.fd, geometry.total_size)
        finally:
            shm.close_fd()
        pid, start = current_identity()
        HEADER.pack_into(
            buf,
            0,
            b"\0" * 8,
            VERSION,
            pid,
            start,
            time.time_ns(),
            geometry.names,
            0,
            geometry.counters,
            geometry.gauges,
            geometry.histograms,
            geometry.buckets,
            geometry.total_size,
            session.encode(),
            process.encode(),
        )
        segment = cls(shm_name, session, process, buf, geometry)
        for slot in range(geometry.histograms):
            segment._u64[segment._histogram_base(slot) + MIN] = EMPTY_MIN
        # The magic goes in last: a reader that sees it sees a complete header.
        buf[0:8] = MAGIC
        return segment

    # ---- registration -----------------------------------------------------------------------

    def counter(
        self, name: str, help: str = "", labels: Mapping[str, str] | None = None
    ) -> Counter:
        """Register (or get again) the counter ``name`` with ``labels``."""
        base = self.geometry.counters_offset // 8
        return self._handle(
            MetricKind.COUNTER, name, labels, help, lambda s: Counter(name, self._u64, base + s)
        )

    def gauge(self, name: str, help: str = "", labels: Mapping[str, str] | None = None) -> IntGauge:
        """Register (or get again) the signed 64-bit gauge ``name`` with ``labels``."""
        base = self.geometry.gauges_offset // 8
        return self._handle(
            MetricKind.INT_GAUGE, name, labels, help, lambda s: IntGauge(name, self._i64, base + s)
        )

    def float_gauge(
        self, name: str, help: str = "", labels: Mapping[str, str] | None = None
    ) -> FloatGauge:
        """Register (or get again) the float64 gauge ``name`` with ``labels``."""
        base = self.geometry.gauges_offset // 8
        return self._handle(
            MetricKind.FLOAT_GAUGE,
            name,
            labels,
            help,
            lambda s: FloatGauge(name, self._f64, base + s),
        )

    def histogram(
        self, name: str, help: str = "", labels: Mapping[str, str] | None = None
    ) -> Histogram:
        """Register (or get again) the latency histogram ``name`` (values in ns) with ``labels``.

        It is exported as ``<name>_seconds``; do not put a unit suffix on ``name``.
        """
        return self._handle(
            MetricKind.HISTOGRAM,
            name,
            labels,
            help,
            lambda s: Histogram(name, self._u64, self._histogram_base(s)),
        )

    def _handle(
        self,
        kind: MetricKind,
        name: str,
        labels: Mapping[str, str] | None,
        help: str,
        make: Callable[[int], _H],
    ) -> _H:
        self._require_open()
        known_kind = self._kinds.get(name)
        if known_kind is not None and known_kind is not kind:
            raise MetricDefinitionError(
                f"metric {name} in {self.shm_name} is already a {known_kind.name.lower()}, "
                f"cannot register it as a {kind.name.lower()}"
            )
        key = _key(name, labels)
        existing = self._handles.get(key)
        if existing is not None:
            return cast(_H, existing)
        handle = make(self._register(kind, name, labels or {}, help))
        self._handles[key] = handle
        return handle

    def _register(self, kind: MetricKind, name: str, labels: Mapping[str, str], help: str) -> int:
        text = _check_definition(kind, name, labels, help)
        if self._entries >= self.geometry.names:
            raise MetricsTableFullError(
                f"metrics segment {self.shm_name}: name table full ({self.geometry.names} "
                f"entries) while registering {name}; create it with a larger Geometry(names=...)"
            )
        # Int and float gauges share the gauge slots.
        slot_kind = MetricKind.INT_GAUGE if kind is MetricKind.FLOAT_GAUGE else kind
        capacity = {
            MetricKind.COUNTER: self.geometry.counters,
            MetricKind.INT_GAUGE: self.geometry.gauges,
            MetricKind.HISTOGRAM: self.geometry.histograms,
        }[slot_kind]
        slot = self._used[slot_kind]
        if slot >= capacity:
            raise MetricsTableFullError(
                f"metrics segment {self.shm_name}: all {capacity} {slot_kind.name.lower()} "
                f"slots used while registering {name}; create it with a larger Geometry"
            )
        buf = self._mapped()
        offset = self.geometry.names_offset + self._entries * ENTRY_SIZE
        ENTRY.pack_into(buf, offset, int(kind), len(text), slot)
        text_at = offset + ENTRY_TEXT_OFFSET
        buf[text_at : text_at + len(text)] = text
        self._entries += 1
        # Publishing the count after the entry is complete lets readers trust entries below it.
        U32.pack_into(buf, NAME_COUNT_OFFSET, self._entries)
        self._used[slot_kind] = slot + 1
        self._kinds[name] = kind
        return slot

    # ---- life cycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Unmap the segment (handles stop working); the segment stays for readers."""
        if self._buf is None:
            return
        for view in (self._u64, self._i64, self._f64):
            view.release()
        self._buf.close()
        self._buf = None

    def unlink(self) -> None:
        """Remove the segment's name (a clean shutdown); mappings stay valid until unmapped."""
        with contextlib.suppress(posix_ipc.ExistentialError):
            posix_ipc.unlink_shared_memory(self.shm_name)

    def __enter__(self) -> MetricsSegment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        self.unlink()

    def _histogram_base(self, slot: int) -> int:
        return self.geometry.histograms_offset // 8 + slot * self.geometry.histogram_words

    def _mapped(self) -> mmap.mmap:
        if self._buf is None:
            raise ValueError(f"metrics segment {self.shm_name} is closed")
        return self._buf

    def _require_open(self) -> None:
        self._mapped()


def _key(name: str, labels: Mapping[str, str] | None) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted((labels or {}).items()))


def _replace_dead(shm_name: str) -> None:
    """Unlink the existing segment ``shm_name`` if its owner is dead; else SegmentBusyError."""
    try:
        shm = posix_ipc.SharedMemory(shm_name, 0, read_only=True)
    except posix_ipc.ExistentialError:
        return
    try:
        size = os.fstat(shm.fd).st_size
        head = os.pread(shm.fd, HEADER.size, 0) if size >= HEADER.size else b""
    finally:
        shm.close_fd()
    if len(head) == HEADER.size:
        magic, _version, pid, start, *_ = HEADER.unpack(head)
        if magic != MAGIC and magic != b"\0" * 8:
            raise MetricsLayoutError(
                f"shared memory {shm_name} exists and is not a metrics segment (magic {magic!r})"
            )
        if is_alive(pid, start):
            raise SegmentBusyError(
                f"metrics segment {shm_name} is owned by live process {pid}; one process per "
                "session and process name"
            )
    with contextlib.suppress(posix_ipc.ExistentialError):
        posix_ipc.unlink_shared_memory(shm_name)
