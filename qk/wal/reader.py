"""Replay: read a WAL in log order, per record or in numpy batches, from a seq or an event time.

Segments are memory-mapped read-only; the batch API walks and CRC-checks frames in C and returns numpy
arrays, so replay runs at C speed. :class:`WalReader` reads the segments that exist when it is opened;
to follow a live log use :class:`qk.wal.tailer.WalTailer`.
"""

from __future__ import annotations

import bisect
import contextlib
import mmap
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from qk.wal._frames import (
    STREAM_SEQ_MASK,
    WALK_BAD_CRC,
    WALK_BAD_LENGTH,
    WALK_BAD_SEQ,
    WALK_END,
    WALK_LIMIT,
    WALK_SEALED,
    gather,
    seek,
    walk,
)
from qk.wal.errors import WalCorruptError
from qk.wal.segment import SEGMENT_HEADER_SIZE, SegmentFile, list_segments

DEFAULT_BATCH = 65536
_NO_LIMIT = 2**64 - 1
_STATUS_NAMES = {
    WALK_BAD_CRC: "CRC mismatch",
    WALK_BAD_SEQ: "sequence out of order",
    WALK_BAD_LENGTH: "frame length runs past the end of the segment",
}


class WalRecord(NamedTuple):
    """One logged payload with its frame fields."""

    seq: int
    ts_event: int
    stream: int
    stream_seq: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class FrameBatch:
    """Consecutive frames of one segment as numpy arrays.

    ``offset[i]``/``length[i]`` locate frame i's payload in ``data`` (the segment's read-only mapping).
    Keep a batch only as long as needed: it pins the segment mapping.
    """

    seq: npt.NDArray[np.uint64]
    ts_event: npt.NDArray[np.int64]
    stream_key: npt.NDArray[np.uint64]
    offset: npt.NDArray[np.uint64]
    length: npt.NDArray[np.uint32]
    data: npt.NDArray[np.uint8]
    segment_index: int

    def __len__(self) -> int:
        return int(self.seq.shape[0])

    @property
    def stream(self) -> npt.NDArray[np.uint16]:
        """Stream id of each frame."""
        return (self.stream_key >> np.uint64(48)).astype(np.uint16)

    @property
    def stream_seq(self) -> npt.NDArray[np.uint64]:
        """Position of each frame in its stream."""
        return self.stream_key & np.uint64(STREAM_SEQ_MASK)

    def payload(self, i: int) -> memoryview:
        """The payload of frame ``i`` (a view into the mapping)."""
        start = int(self.offset[i])
        return self.data.data[start : start + int(self.length[i])]

    def records(self, record_size: int) -> npt.NDArray[np.uint8]:
        """Copy the payloads into a ``(len, record_size)`` uint8 array (short ones zero-filled).

        ``batch.records(dtype.itemsize).view(dtype).ravel()`` gives a structured record array.
        """
        out = np.empty((len(self), record_size), dtype=np.uint8)
        gather(self.data, self.offset, self.length, out.reshape(-1), record_size)
        return out

    def iter_records(self) -> Iterator[WalRecord]:
        """The frames one by one."""
        view = self.data.data
        for seq, ts, key, off, length in zip(
            self.seq.tolist(),
            self.ts_event.tolist(),
            self.stream_key.tolist(),
            self.offset.tolist(),
            self.length.tolist(),
            strict=True,
        ):
            yield WalRecord(
                seq, ts, key >> 48, key & STREAM_SEQ_MASK, bytes(view[off : off + length])
            )


class MappedSegment:
    """A segment file mapped read-only."""

    def __init__(self, segment: SegmentFile) -> None:
        self.segment = segment
        with open(segment.path, "rb") as handle:
            size = min(os.fstat(handle.fileno()).st_size, segment.size)
            self._map = mmap.mmap(handle.fileno(), size, access=mmap.ACCESS_READ)
        self.data: npt.NDArray[np.uint8] = np.frombuffer(self._map, dtype=np.uint8)
        self.size = size

    def close(self) -> None:
        """Unmap (deferred to garbage collection while batches still use the mapping)."""
        self.data = np.empty(0, dtype=np.uint8)
        with contextlib.suppress(BufferError):
            self._map.close()

    def read(
        self, offset: int, expect_seq: int, max_seq: int, max_frames: int, verify: bool
    ) -> tuple[FrameBatch | None, int, int, int, int]:
        """Walk up to ``max_frames`` frames from ``offset``.

        Returns:
            ``(batch or None, status, stop_offset, next_seq, seal_seq)``.
        """
        seq = np.empty(max_frames, dtype=np.uint64)
        ts = np.empty(max_frames, dtype=np.int64)
        key = np.empty(max_frames, dtype=np.uint64)
        off = np.empty(max_frames, dtype=np.uint64)
        length = np.empty(max_frames, dtype=np.uint32)
        status, count, stop, next_seq, seal_seq, _, _ = walk(
            self.data,
            offset,
            self.size,
            expect_seq,
            max_seq,
            max_frames,
            verify,
            seq,
            ts,
            key,
            off,
            length,
        )
        batch = None
        if count:
            batch = FrameBatch(
                seq[:count],
                ts[:count],
                key[:count],
                off[:count],
                length[:count],
                self.data,
                self.segment.index,
            )
        return batch, status, stop, next_seq, seal_seq


class ReadPosition(NamedTuple):
    """Where a read starts: a segment (position in the reader's list), an offset and the seq there."""

    segment: int
    offset: int
    seq: int


class WalReader:
    """Replays the WAL in a directory in log order.

    Example::

        with WalReader(path) as reader:
            for batch in reader.batches(start_ts=t0):
                handle(batch.seq, batch.records(64))
    """

    def __init__(self, directory: Path | str, *, verify: bool = True) -> None:
        """Open the WAL in ``directory`` for reading.

        Args:
            directory: the WAL directory.
            verify: check each frame's CRC while reading.

        Raises:
            WalDirectoryError: missing directory or a segment gap.
            SegmentHeaderError: a damaged segment header.
        """
        self.directory = Path(directory)
        self.verify = verify
        self.segments = list_segments(self.directory)
        self._first_seqs = [segment.first_seq for segment in self.segments]
        self._maps: dict[int, MappedSegment] = {}
        self.stopped_at: tuple[Path, int, str] | None = None

    def close(self) -> None:
        """Unmap every segment."""
        for mapped in self._maps.values():
            mapped.close()
        self._maps.clear()

    def __enter__(self) -> WalReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _map(self, position: int) -> MappedSegment:
        mapped = self._maps.get(position)
        if mapped is None:
            mapped = MappedSegment(self.segments[position])
            self._maps[position] = mapped
        return mapped

    # -- seeking ----------------------------------------------------------------------------------

    def seek_seq(self, seq: int) -> ReadPosition:
        """The position of the first frame with a seq >= ``seq``."""
        if not self.segments:
            return ReadPosition(0, SEGMENT_HEADER_SIZE, 0)
        position = max(0, bisect.bisect_right(self._first_seqs, seq) - 1)
        mapped = self._map(position)
        _, offset, found = seek(mapped.data, SEGMENT_HEADER_SIZE, mapped.size, seq, False)
        return ReadPosition(position, offset, found or self.segments[position].first_seq)

    def seek_time(self, ts_event: int) -> ReadPosition:
        """The position of the first frame, in log order, with ``ts_event >= ts_event``."""
        for position in range(len(self.segments)):
            mapped = self._map(position)
            status, offset, found = seek(
                mapped.data, SEGMENT_HEADER_SIZE, mapped.size, ts_event, True
            )
            if status == WALK_LIMIT:
                return ReadPosition(position, offset, found)
            if status != WALK_SEALED:
                return ReadPosition(position, offset, found or self.segments[position].first_seq)
            if position + 1 < len(self.segments):
                self._release(position)
        last = len(self.segments)
        return ReadPosition(last, SEGMENT_HEADER_SIZE, 0)

    def _release(self, position: int) -> None:
        mapped = self._maps.pop(position, None)
        if mapped is not None:
            mapped.close()

    # -- reading ----------------------------------------------------------------------------------

    def batches(
        self,
        *,
        start_seq: int | None = None,
        start_ts: int | None = None,
        max_records: int = DEFAULT_BATCH,
    ) -> Iterator[FrameBatch]:
        """Frames in log order, in batches of at most ``max_records`` (never across segments).

        Args:
            start_seq: begin at the first frame with seq >= this.
            start_ts: begin at the first frame (log order) with ts_event >= this.
            max_records: largest batch.

        Raises:
            WalCorruptError: a damaged frame before the last segment. In the last segment the
                iteration stops at the first damaged frame (a torn tail not yet recovered) and
                :attr:`stopped_at` says where and why.
        """
        if max_records <= 0:
            raise ValueError("max_records must be > 0")
        if start_seq is not None and start_ts is not None:
            raise ValueError("give start_seq or start_ts, not both")
        if start_ts is not None:
            start = self.seek_time(start_ts)
        elif start_seq is not None:
            start = self.seek_seq(start_seq)
        else:
            start = ReadPosition(
                0, SEGMENT_HEADER_SIZE, self._first_seqs[0] if self.segments else 0
            )
        self.stopped_at = None
        position, offset, expect = start
        while position < len(self.segments):
            mapped = self._map(position)
            is_last = position == len(self.segments) - 1
            batch, status, offset, expect, seal_seq = mapped.read(
                offset, expect, _NO_LIMIT, max_records, self.verify
            )
            if batch is not None:
                yield batch
            if status == WALK_LIMIT:
                continue
            if status == WALK_SEALED:
                if not is_last and self.segments[position + 1].first_seq != seal_seq:
                    raise WalCorruptError(
                        f"{mapped.segment.path}: sealed before seq {seal_seq} but the next segment"
                        f" starts at {self.segments[position + 1].first_seq}"
                    )
                self._release(position)
                position += 1
                offset = SEGMENT_HEADER_SIZE
                expect = seal_seq
                continue
            if status == WALK_END and is_last:
                return
            reason = _STATUS_NAMES.get(status, "segment ends without a seal")
            if is_last:
                self.stopped_at = (mapped.segment.path, offset, reason)
                return
            raise WalCorruptError(
                f"{mapped.segment.path}: {reason} at offset {offset} (seq {expect})"
            )

    def records(
        self, *, start_seq: int | None = None, start_ts: int | None = None
    ) -> Iterator[WalRecord]:
        """Frames one by one in log order (see :meth:`batches`)."""
        for batch in self.batches(start_seq=start_seq, start_ts=start_ts):
            yield from batch.iter_records()

    def __iter__(self) -> Iterator[WalRecord]:
        return self.records()


def last_stream_seqs(directory: Path | str, streams: Iterable[int] | None = None) -> dict[int, int]:
    """The last stream seq logged for each stream, scanning segments from the newest back.

    Args:
        directory: the WAL directory (recovered: the scan trusts the frames it walks).
        streams: stop as soon as these streams are all found (None: scan the whole log).

    Returns:
        stream id → last stream seq, for the streams that have frames.
    """
    wanted = None if streams is None else set(streams)
    last = np.full(65536, -1, dtype=np.int64)
    found: dict[int, int] = {}
    for segment in reversed(list_segments(Path(directory))):
        mapped = MappedSegment(segment)
        try:
            last[:] = -1
            walk(
                mapped.data,
                SEGMENT_HEADER_SIZE,
                mapped.size,
                0,
                _NO_LIMIT,
                -1,
                False,
                stream_last=last,
            )
        finally:
            mapped.close()
        for stream in np.flatnonzero(last >= 0).tolist():
            found.setdefault(stream, int(last[stream]))
        if wanted is not None and wanted <= found.keys():
            break
    return found if wanted is None else {s: found[s] for s in wanted if s in found}
