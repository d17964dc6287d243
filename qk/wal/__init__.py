"""The write-ahead log: segmented, pre-allocated, CRC32C-framed, group-committed, replayable.

See ``docs/wal.md`` for the format, the guarantees and recovery.
"""

from __future__ import annotations

from qk.wal.durable import DurableMark
from qk.wal.errors import (
    MarkError,
    SegmentHeaderError,
    WalCorruptError,
    WalDirectoryError,
    WalError,
    WalLockedError,
)
from qk.wal.reader import FrameBatch, WalReader, WalRecord, last_stream_seqs
from qk.wal.recovery import DroppedRange, RecoveryReport, recover
from qk.wal.tailer import WalTailer
from qk.wal.writer import WalWriter, WriterOptions

__all__ = [
    "DroppedRange",
    "DurableMark",
    "FrameBatch",
    "MarkError",
    "RecoveryReport",
    "SegmentHeaderError",
    "WalCorruptError",
    "WalDirectoryError",
    "WalError",
    "WalLockedError",
    "WalReader",
    "WalRecord",
    "WalTailer",
    "WalWriter",
    "WriterOptions",
    "last_stream_seqs",
    "recover",
]
