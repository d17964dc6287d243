"""The WAL writer: frames staged in memory, one ``pwrite`` per loop, one ``fdatasync`` per group commit.

The writer is single-threaded and driven by its owner's loop (the ring-consuming service, a test, a
benchmark)::

    writer = WalWriter.open("/var/lib/qk/wal", name="main")
    seq = writer.append(payload, ts_event=ts, stream=3, stream_seq=41)
    last = writer.append_records(block, record_size=64, stream=3, first_stream_seq=42)
    writer.poll()        # pwrite what is staged; fdatasync + publish the durable mark when due

Group commit: :meth:`WalWriter.poll` syncs when the interval has passed since the last sync (default
1 ms) or when the unsynced bytes reach ``group_commit_bytes``. The durable mark is published only after
``fdatasync`` returned for every frame up to it; the written mark after ``pwrite`` returned.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qk.wal._frames import (
    FRAME_HEADER_SIZE,
    MAX_STREAM_ID,
    STREAM_SEQ_MASK,
    encode_frame,
    encode_records,
    encode_seal,
    frame_size,
)
from qk.wal.durable import DurableMark
from qk.wal.lock import DirectoryLock
from qk.wal.preparer import SegmentPreparer
from qk.wal.recovery import RecoveryReport, recover
from qk.wal.segment import (
    DEFAULT_SEGMENT_SIZE,
    SEGMENT_HEADER_SIZE,
    SegmentFile,
    SegmentHeader,
    check_segment_size,
    frames_limit,
    fsync_directory,
    require_directory,
    segment_name,
)

# Indirection so tests can observe every sync the writer makes.
_fdatasync: Callable[[int], None] = os.fdatasync

_INT64_MIN = -(2**63)


def _byte_view(data: bytearray | memoryview | np.ndarray) -> memoryview:
    """A flat byte view of a contiguous buffer (ValueError when it is not contiguous)."""
    view = data.data if isinstance(data, np.ndarray) else memoryview(data)
    if not view.c_contiguous:
        raise ValueError("payload buffer must be C-contiguous")
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


@dataclass(frozen=True, slots=True)
class WriterOptions:
    """How the writer lays out segments and commits.

    Attributes:
        segment_size: bytes per segment file (multiple of 4096).
        group_commit_interval_s: sync at most this long after the previous sync when data waits.
        group_commit_bytes: sync as soon as this many bytes are written but not synced.
        stage_bytes: staging buffer size; a full buffer is written at once.
        prepare_ahead: prepare the next segment on a background thread.
        zero_fill: prepare segments by writing zeros instead of ``posix_fallocate``.
        verify_all: recovery verifies every segment, not only the last.
    """

    segment_size: int = DEFAULT_SEGMENT_SIZE
    group_commit_interval_s: float = 0.001
    group_commit_bytes: int = 1 << 20
    stage_bytes: int = 512 << 10
    prepare_ahead: bool = True
    zero_fill: bool = False
    verify_all: bool = False

    def check(self) -> None:
        """Raise ValueError for an unusable option."""
        check_segment_size(self.segment_size)
        if self.group_commit_interval_s < 0:
            raise ValueError("group_commit_interval_s must be >= 0")
        if self.group_commit_bytes <= 0:
            raise ValueError("group_commit_bytes must be > 0")
        if self.stage_bytes < 4096 or self.stage_bytes % 8:
            raise ValueError("stage_bytes must be a multiple of 8, at least 4096")


class WalWriter:
    """Appends frames to the WAL in one directory. Exactly one writer per directory (a file lock).

    Opening runs recovery (crash-only: start-up and crash recovery are the same code path); the report
    is :attr:`recovery`.
    """

    def __init__(
        self,
        directory: Path | str,
        *,
        name: str | None = None,
        options: WriterOptions | None = None,
        create: bool = True,
        clock_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        """Open (recover) the WAL in ``directory`` for appending.

        Args:
            directory: the WAL directory; created when missing and ``create`` is set.
            name: publish the written/durable marks in shared memory ``/qk.<name>.wal``.
            options: segment and commit settings.
            create: create the directory when it does not exist.
            clock_ns: monotonic clock for group-commit timing (tests pass a fake).

        Raises:
            WalDirectoryError: the directory is missing and ``create`` is False.
            WalLockedError: another writer has the directory open.
            SegmentHeaderError, WalCorruptError: see :func:`qk.wal.recovery.recover`.
        """
        self.options = options or WriterOptions()
        self.options.check()
        self.directory = Path(directory)
        if create:
            self.directory.mkdir(parents=True, exist_ok=True)
        require_directory(self.directory)
        self._clock_ns = clock_ns
        self._lock = DirectoryLock(self.directory)
        self._fd = -1
        self._closed = False
        self.mark: DurableMark | None = None
        try:
            self._open(name)
        except BaseException:
            self._release()
            raise

    @classmethod
    def open(cls, directory: Path | str, **kwargs: Any) -> WalWriter:
        """Same as the constructor; reads well at call sites."""
        return cls(directory, **kwargs)

    def _open(self, name: str | None) -> None:
        opts = self.options
        self.recovery: RecoveryReport = recover(
            self.directory, verify_all=opts.verify_all, lock=False
        )
        report = self.recovery
        self._segment_size = opts.segment_size
        self._preparer = SegmentPreparer(
            self.directory, opts.segment_size, opts.prepare_ahead, opts.zero_fill
        )
        self._stage = np.zeros(opts.stage_bytes, dtype=np.uint8)
        self._stage_view = self._stage.data
        self._staged = 0
        self._next_seq = report.next_seq
        self._written_seq = report.last_seq
        self._durable_seq = report.last_seq
        self._unsynced_bytes = 0
        self._last_sync_ns = self._clock_ns()
        self._seal_buffer = np.zeros(FRAME_HEADER_SIZE, dtype=np.uint8)
        self.segments: list[SegmentFile] = list(report.segments)
        if name is not None:
            self.mark = DurableMark.create(name)
            self.mark.publish_written(report.last_seq)
            self.mark.publish_durable(report.last_seq)
        if not report.segments:
            self._start_segment(0)
        elif report.tail_sealed:
            self._start_segment(report.segments[-1].index + 1)
        else:
            tail = report.segments[-1]
            # The tail keeps its own size; segments made from now on use the option.
            self._fd = os.open(tail.path, os.O_RDWR)
            self._segment_index = tail.index
            self._offset = report.tail_offset
            self._limit = frames_limit(tail.size)
            self._segment_max_ts = (
                report.tail_max_ts if report.tail_offset > SEGMENT_HEADER_SIZE else _INT64_MIN
            )
            self._preparer.request(self._segment_index + 1)

    # -- properties -------------------------------------------------------------------------------

    @property
    def next_seq(self) -> int:
        """The seq the next appended frame gets."""
        return self._next_seq

    @property
    def last_seq(self) -> int:
        """The seq of the last appended (maybe only staged) frame; 0 for an empty log."""
        return self._next_seq - 1

    @property
    def written_seq(self) -> int:
        """Highest seq written to the file (pwrite returned)."""
        return self._written_seq

    @property
    def durable_seq(self) -> int:
        """Highest seq covered by a completed fdatasync."""
        return self._durable_seq

    @property
    def staged_bytes(self) -> int:
        """Bytes appended but not yet written to the file."""
        return self._staged

    @property
    def unsynced_bytes(self) -> int:
        """Bytes written to the file but not yet covered by fdatasync."""
        return self._unsynced_bytes

    @property
    def segment_index(self) -> int:
        """Index of the segment being written."""
        return self._segment_index

    @property
    def max_payload(self) -> int:
        """The largest payload one frame can carry with these options."""
        return frames_limit(self._segment_size) - SEGMENT_HEADER_SIZE - FRAME_HEADER_SIZE

    # -- appending --------------------------------------------------------------------------------

    def append(
        self,
        payload: bytes | bytearray | memoryview | np.ndarray,
        *,
        ts_event: int = 0,
        stream: int = 0,
        stream_seq: int = 0,
    ) -> int:
        """Stage one frame and return its seq. It reaches the file on the next flush/poll.

        Args:
            payload: the bytes to log (1 byte up to :attr:`max_payload`).
            ts_event: event time of the payload, ns since epoch UTC (0 when not known).
            stream: stream id (0..65535), e.g. the ring the payload came from.
            stream_seq: position of the payload in its stream (0 .. 2**48-1).

        Raises:
            ValueError: empty or oversized payload, stream or stream_seq out of range.
        """
        self._check_open()
        if not 0 <= stream <= MAX_STREAM_ID:
            raise ValueError(f"stream {stream} out of range 0..{MAX_STREAM_ID}")
        if not 0 <= stream_seq <= STREAM_SEQ_MASK:
            raise ValueError(f"stream_seq {stream_seq} does not fit in 48 bits")
        data = payload if isinstance(payload, bytes) else _byte_view(payload)
        size = frame_size(len(data))
        self._reserve(size)
        seq = self._next_seq
        self._staged = encode_frame(
            self._stage, self._staged, data, seq, ts_event, stream << 48 | stream_seq
        )
        if ts_event > self._segment_max_ts:
            self._segment_max_ts = ts_event
        self._next_seq = seq + 1
        return seq

    def append_records(
        self,
        records: bytes | bytearray | memoryview | np.ndarray,
        record_size: int,
        stream: int,
        first_stream_seq: int,
        *,
        ts_offset: int | None = 16,
    ) -> int:
        """Stage a contiguous block of fixed-size records, one frame each, in C.

        Record ``i`` gets stream seq ``first_stream_seq + i`` and the ts_event stored at ``ts_offset``
        inside it (the common record header's ``ts_event``; None: 0).

        Returns:
            The seq of the last record staged (``last_seq`` unchanged for an empty block).

        Raises:
            ValueError: the block is not a whole number of records, or a record does not fit a frame.
        """
        self._check_open()
        data = records if isinstance(records, bytes) else _byte_view(records)
        if not 0 <= stream <= MAX_STREAM_ID:
            raise ValueError(f"stream {stream} out of range 0..{MAX_STREAM_ID}")
        if record_size <= 0 or record_size > self.max_payload:
            raise ValueError(f"record_size {record_size} out of range 1..{self.max_payload}")
        total = len(data)
        if total % record_size:
            raise ValueError(f"{total} bytes is not a whole number of {record_size}-byte records")
        count = total // record_size
        if first_stream_seq < 0 or first_stream_seq + count - 1 > STREAM_SEQ_MASK:
            raise ValueError("stream seqs do not fit in 48 bits")
        fsize = frame_size(record_size)
        offset_in_record = -1 if ts_offset is None else ts_offset
        view = memoryview(data)
        done = 0
        while done < count:
            segment_room = self._limit - (self._offset + self._staged)
            if segment_room < fsize:
                self._roll()
                continue
            stage_room = len(self._stage) - self._staged
            if stage_room < fsize:
                self._flush_stage()
                continue
            room = min(segment_room, stage_room)
            encoded, self._staged, self._segment_max_ts = encode_records(
                self._stage,
                self._staged,
                self._staged + room,
                view[done * record_size :],
                record_size,
                self._next_seq,
                stream,
                first_stream_seq + done,
                offset_in_record,
                0,
                self._segment_max_ts,
            )
            self._next_seq += encoded
            done += encoded
        return self._next_seq - 1

    # -- writing and committing -------------------------------------------------------------------

    def flush(self) -> int:
        """Write everything staged with one pwrite; returns the written seq (publishes it)."""
        self._check_open()
        self._flush_stage()
        return self._written_seq

    def sync(self) -> int:
        """Flush, fdatasync now, publish and return the durable seq."""
        self._check_open()
        self._flush_stage()
        self._sync()
        return self._durable_seq

    def commit_due(self, now_ns: int | None = None) -> bool:
        """True when group commit wants a sync now (interval elapsed or byte threshold reached)."""
        if self._written_seq == self._durable_seq and self._staged == 0:
            return False
        if self._unsynced_bytes + self._staged >= self.options.group_commit_bytes:
            return True
        now = self._clock_ns() if now_ns is None else now_ns
        return now - self._last_sync_ns >= self.options.group_commit_interval_s * 1e9

    def seconds_until_commit(self) -> float | None:
        """Seconds until the interval makes a sync due; None when nothing waits for one."""
        if self._written_seq == self._durable_seq and self._staged == 0:
            return None
        elapsed = (self._clock_ns() - self._last_sync_ns) / 1e9
        return max(0.0, self.options.group_commit_interval_s - elapsed)

    def poll(self) -> int:
        """One writer-loop step: write what is staged, sync when group commit is due.

        Returns:
            The durable seq.
        """
        self._check_open()
        self._flush_stage()
        if self.commit_due():
            self._sync()
        if self.mark is not None:
            self.mark.beat()
        return self._durable_seq

    def wait_prepared(self) -> None:
        """Block until the next segment file is prepared (a warm-up step for benchmarks and tests)."""
        self._preparer.wait()

    def close(self) -> None:
        """Sync everything and release the directory (the shared-memory mark stays)."""
        if self._closed:
            return
        try:
            if self._fd >= 0:
                self._flush_stage()
                self._sync()
        finally:
            self._release()

    def __enter__(self) -> WalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------------------

    def _release(self) -> None:
        self._closed = True
        preparer = getattr(self, "_preparer", None)
        if preparer is not None:
            preparer.close()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self.mark is not None:
            self.mark.close()
        self._lock.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("WAL writer is closed")

    def _reserve(self, size: int) -> None:
        if size > self.max_payload + FRAME_HEADER_SIZE:
            raise ValueError(f"frame of {size} bytes exceeds the segment capacity")
        if self._offset + self._staged + size > self._limit:
            self._roll()
        if self._staged + size > len(self._stage):
            self._flush_stage()
            if size > len(self._stage):
                self._stage = np.zeros(size, dtype=np.uint8)
                self._stage_view = self._stage.data

    def _flush_stage(self) -> None:
        staged = self._staged
        if staged == 0:
            return
        view = self._stage_view[:staged]
        offset = self._offset
        while view:
            written = os.pwrite(self._fd, view, offset)
            view = view[written:]
            offset += written
        self._offset += staged
        self._staged = 0
        self._unsynced_bytes += staged
        self._written_seq = self._next_seq - 1
        if self.mark is not None:
            self.mark.publish_written(self._written_seq)
        if self._unsynced_bytes >= self.options.group_commit_bytes:
            self._sync()

    def _sync(self, force: bool = False) -> None:
        """fdatasync the current segment, then publish everything written before the call."""
        covered = self._written_seq
        if covered == self._durable_seq and not force:
            self._last_sync_ns = self._clock_ns()
            return
        _fdatasync(self._fd)
        self._durable_seq = covered
        self._unsynced_bytes = 0
        self._last_sync_ns = self._clock_ns()
        if self.mark is not None:
            self.mark.publish_durable(covered)

    def _roll(self) -> None:
        """Seal the current segment (synced) and continue in a new one."""
        self._flush_stage()
        encode_seal(self._seal_buffer, 0, self._next_seq, self._segment_max_ts)
        os.pwrite(self._fd, self._seal_buffer.data, self._offset)
        # The seal must be on disk before the next segment exists (recovery relies on it).
        self._sync(force=True)
        os.close(self._fd)
        self._fd = -1
        self._start_segment(self._segment_index + 1)

    def _start_segment(self, index: int) -> None:
        """Turn the prepared file for ``index`` into the live segment starting at the next seq."""
        prepared = self._preparer.take(index)
        header = SegmentHeader(
            index=index,
            first_seq=self._next_seq,
            segment_size=self._segment_size,
            created_ns=time.time_ns(),
        )
        fd = os.open(prepared, os.O_RDWR)
        try:
            os.pwrite(fd, header.encode(), 0)
            _fdatasync(fd)
            path = self.directory / segment_name(index)
            os.rename(prepared, path)
            fsync_directory(self.directory)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._segment_index = index
        self._offset = SEGMENT_HEADER_SIZE
        self._limit = frames_limit(self._segment_size)
        self._segment_max_ts = _INT64_MIN
        self.segments.append(SegmentFile(path, header))
        self._preparer.request(index + 1)
