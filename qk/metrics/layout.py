"""Byte layout of a per-process metrics segment in POSIX shared memory.

One segment per process, named ``/qk.<session>.metrics.<process>``; all integers little-endian::

    header (256 bytes)
      0  8s  magic "QKMETRIC" (written last by the creator)   8  u32 layout version
     12  u32 owner pid    16 i64 owner start time (ns, psutil)   24 i64 created (wall clock ns)
     32  u32 name-table capacity   36 u32 names published (written after the entry it counts)
     40  u32 counter slots   44 u32 gauge slots   48 u32 histogram slots   52 u32 buckets per histogram
     56  u64 total size   64 64s session (UTF-8, NUL-padded)   128 64s process   192..255 zero
    name table: capacity x 512-byte entries
      0 u8 kind   1 u8 zero   2 u16 text length   4 u32 slot   8..15 zero   16 text: JSON [name, labels, help]
    counters: u64 per slot          gauges: 8 bytes per slot (i64 or f64, by kind)
    histograms: per slot 8 header words + the buckets, padded to 64 bytes:
      seq (even = stable, odd = being written), count, sum (ns), min (ns), max (ns), 3 zero words

Each region starts on a 64-byte boundary. Only the owning process writes; readers map the segment
read-only.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from enum import IntEnum

from qk.metrics.buckets import BUCKET_COUNT

MAGIC = b"QKMETRIC"
VERSION = 1
SEGMENT_PREFIX = "qk."
SEGMENT_INFIX = ".metrics."
HEADER_SIZE = 256
ENTRY_SIZE = 512
ENTRY_TEXT_OFFSET = 16
ENTRY_TEXT_MAX = ENTRY_SIZE - ENTRY_TEXT_OFFSET
HISTOGRAM_HEADER_WORDS = 8
NAME_COUNT_OFFSET = 36

HEADER = struct.Struct("<8sIIqqIIIIIIQ64s64s")
ENTRY = struct.Struct("<BxHI8x")
U32 = struct.Struct("<I")

# Histogram header words, relative to the start of a histogram block (in u64 words).
SEQ, COUNT, SUM, MIN, MAX = range(5)
BUCKETS = HISTOGRAM_HEADER_WORDS
EMPTY_MIN = 2**64 - 1
"""The min word of a histogram that has no value yet."""

_SESSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_PROCESS_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$")


class MetricKind(IntEnum):
    """What a name-table entry describes, and so how its slot is read."""

    COUNTER = 1
    INT_GAUGE = 2
    FLOAT_GAUGE = 3
    HISTOGRAM = 4


def _align(offset: int) -> int:
    return (offset + 63) & ~63


@dataclass(frozen=True, slots=True)
class Geometry:
    """Capacities of a segment and the byte offsets they imply."""

    names: int = 256
    counters: int = 256
    gauges: int = 128
    histograms: int = 16
    buckets: int = BUCKET_COUNT

    def __post_init__(self) -> None:
        for field in ("names", "counters", "gauges", "histograms"):
            value = getattr(self, field)
            if not 1 <= value <= 65535:
                raise ValueError(f"metrics segment capacity {field}={value} must be 1..65535")
        if self.buckets != BUCKET_COUNT:
            raise ValueError(
                f"histograms have {BUCKET_COUNT} buckets in this build, segment says {self.buckets}"
            )

    @property
    def names_offset(self) -> int:
        """Start of the name table."""
        return HEADER_SIZE

    @property
    def counters_offset(self) -> int:
        """Start of the counter slots."""
        return _align(self.names_offset + self.names * ENTRY_SIZE)

    @property
    def gauges_offset(self) -> int:
        """Start of the gauge slots."""
        return _align(self.counters_offset + self.counters * 8)

    @property
    def histogram_words(self) -> int:
        """Size of one histogram block in u64 words."""
        return _align((HISTOGRAM_HEADER_WORDS + self.buckets) * 8) // 8

    @property
    def histograms_offset(self) -> int:
        """Start of the histogram blocks."""
        return _align(self.gauges_offset + self.gauges * 8)

    @property
    def total_size(self) -> int:
        """Bytes of the whole segment."""
        return self.histograms_offset + self.histograms * self.histogram_words * 8


def validate_session(session: str) -> str:
    """Return ``session`` if it is a valid session name, else raise ValueError."""
    if not _SESSION_RE.match(session):
        raise ValueError(
            f"invalid metrics session name {session!r}: use 1-64 characters from A-Z a-z 0-9 _ . @ - "
            "starting with a letter or digit"
        )
    return session


def validate_process(process: str) -> str:
    """Return ``process`` if it is a valid process name, else raise ValueError."""
    if not _PROCESS_RE.match(process):
        raise ValueError(
            f"invalid metrics process name {process!r}: use 1-64 characters from "
            "A-Z a-z 0-9 _ . : @ - starting with a letter or digit"
        )
    return process


def session_prefix(session: str) -> str:
    """The ``/dev/shm`` file-name prefix of every metrics segment of ``session``."""
    return f"{SEGMENT_PREFIX}{validate_session(session)}{SEGMENT_INFIX}"


def segment_name(session: str, process: str) -> str:
    """The POSIX shared-memory name of the metrics segment of ``process`` in ``session``."""
    return f"/{session_prefix(session)}{validate_process(process)}"
