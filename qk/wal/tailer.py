"""Follow a live WAL: read frames as the writer publishes them, across segment seals.

With the WAL's shared-memory mark (``name``), a tailer reads only frames up to the *written* seq (their
bytes are complete) and sleeps on the mark's futex when it has caught up. Without it, the tailer
accepts only frames whose CRC checks out and polls.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterator
from pathlib import Path

from qk.wal._frames import WALK_END, WALK_LIMIT, WALK_SEALED, seek
from qk.wal.durable import DurableMark
from qk.wal.errors import WalCorruptError
from qk.wal.reader import DEFAULT_BATCH, FrameBatch, MappedSegment, WalRecord
from qk.wal.segment import (
    SEGMENT_HEADER_SIZE,
    SegmentFile,
    list_segments,
    read_header,
    segment_name,
)

_NO_LIMIT = 2**64 - 1
_POLL_INTERVAL_S = 0.0005


class WalTailer:
    """Reads a WAL that a writer (maybe in another process) is still appending to.

    Example::

        tailer = WalTailer(path, name="main", start_seq=1)
        while running:
            batch = tailer.read(timeout=1.0)
            if batch is not None:
                handle(batch)
    """

    def __init__(
        self,
        directory: Path | str,
        *,
        name: str | None = None,
        start_seq: int = 1,
        verify: bool = True,
    ) -> None:
        """Start following the WAL in ``directory`` at the first frame with seq >= ``start_seq``.

        Args:
            directory: the WAL directory (it may still be empty).
            name: the WAL's name, to use its shared-memory written mark (recommended).
            start_seq: first seq to return.
            verify: check CRCs of the frames read.

        Raises:
            MarkError: ``name`` was given but the writer has not created its mark.
        """
        self.directory = Path(directory)
        self.verify = verify
        self.mark = DurableMark.attach(name) if name is not None else None
        self._segment: MappedSegment | None = None
        self._segment_index = 0
        self._offset = SEGMENT_HEADER_SIZE
        self._next_seq = max(1, start_seq)
        self._start_seq = self._next_seq
        self._positioned = False

    @property
    def next_seq(self) -> int:
        """The seq of the next frame the tailer will return."""
        return self._next_seq

    def close(self) -> None:
        """Unmap the current segment and detach from the mark."""
        if self._segment is not None:
            self._segment.close()
            self._segment = None
        if self.mark is not None:
            self.mark.close()

    def __enter__(self) -> WalTailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _position(self) -> bool:
        """Find the segment and offset of the start seq; False while the log has no segment."""
        segments = list_segments(self.directory)
        if not segments:
            return False
        first_seqs = [segment.first_seq for segment in segments]
        position = max(0, bisect.bisect_right(first_seqs, self._start_seq) - 1)
        self._segment = MappedSegment(segments[position])
        self._segment_index = segments[position].index
        status, offset, found = seek(
            self._segment.data, SEGMENT_HEADER_SIZE, self._segment.size, self._start_seq, False
        )
        self._offset = offset
        self._next_seq = found or segments[position].first_seq
        if status == WALK_SEALED:
            # The start seq lies beyond this segment: continue in the next one once it exists.
            self._offset = offset
        self._positioned = True
        return True

    def _open_next(self) -> bool:
        path = self.directory / segment_name(self._segment_index + 1)
        if not path.exists():
            return False
        header = read_header(path)
        if self._segment is not None:
            self._segment.close()
        self._segment = MappedSegment(SegmentFile(path, header))
        self._segment_index = header.index
        self._offset = SEGMENT_HEADER_SIZE
        if header.first_seq != self._next_seq:
            raise WalCorruptError(
                f"{path}: starts at seq {header.first_seq}, expected {self._next_seq}"
            )
        return True

    def poll(self, max_records: int = DEFAULT_BATCH) -> FrameBatch | None:
        """The frames written since the last call (at most ``max_records``), or None. Never blocks."""
        if not self._positioned and not self._position():
            return None
        while True:
            assert self._segment is not None
            max_seq = self.mark.written if self.mark is not None else _NO_LIMIT
            if self._next_seq > max_seq:
                return None
            batch, status, offset, next_seq, seal_seq = self._segment.read(
                self._offset, self._next_seq, max_seq, max_records, self.verify
            )
            self._offset = offset
            self._next_seq = next_seq
            if batch is not None:
                return batch
            if status == WALK_SEALED:
                self._next_seq = seal_seq
                if not self._open_next():
                    return None
                continue
            if status in (WALK_END, WALK_LIMIT) or self.mark is None:
                # Not written yet (or, without a mark, maybe still being written).
                return None
            raise WalCorruptError(
                f"{self._segment.segment.path}: damaged frame at offset {offset} (seq {next_seq})"
                " below the written mark"
            )

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the next frame has been written; False on timeout."""
        if self.mark is not None:
            return self.mark.wait_written(self._next_seq, timeout)
        # Without a mark: poll the file. Sleep first, so a frame still being written is not spun on.
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            time.sleep(_POLL_INTERVAL_S)
            if self._peek():
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False

    def _peek(self) -> bool:
        if not self._positioned and not self._position():
            return False
        assert self._segment is not None
        return (
            bool(self._segment.data[self._offset : self._offset + 4].any())
            or (self.directory / segment_name(self._segment_index + 1)).exists()
        )

    def read(
        self, max_records: int = DEFAULT_BATCH, timeout: float | None = None
    ) -> FrameBatch | None:
        """Like :meth:`poll`, but wait up to ``timeout`` seconds (None: for ever) for frames."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            batch = self.poll(max_records)
            if batch is not None:
                return batch
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            self.wait(remaining if remaining is None else min(remaining, 0.1))

    def records(self, timeout: float | None = None) -> Iterator[WalRecord]:
        """Frames one by one as they are written; stops after ``timeout`` seconds without one."""
        while True:
            batch = self.read(timeout=timeout)
            if batch is None:
                return
            yield from batch.iter_records()
