"""Recovery: make the log on disk whole again. Start-up runs it every time (crash-only).

Recovery verifies the CRC and sequence of every frame in the last segment (every segment with
``verify_all``), keeps every complete frame before the first damage and nothing after it: the damaged
tail is copied to ``<dir>/quarantine/`` (fsynced) before it is zeroed in place, and later segments are
moved there whole. It returns a :class:`RecoveryReport` saying what it dropped and why.

A torn tail is the normal result of a crash mid-write; damage anywhere else is reported the same way
but means the disk or an operator changed the files.
"""

from __future__ import annotations

import mmap
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from qk.wal._frames import (
    FRAME_HEADER_SIZE,
    WALK_BAD_CRC,
    WALK_BAD_LENGTH,
    WALK_BAD_SEQ,
    WALK_END,
    WALK_SEALED,
    last_nonzero,
    walk,
)
from qk.wal.errors import WalCorruptError
from qk.wal.lock import DirectoryLock
from qk.wal.preparer import remove_stale_prepared
from qk.wal.segment import (
    SEGMENT_HEADER_SIZE,
    SegmentFile,
    fsync_directory,
    list_segments,
    require_directory,
)

QUARANTINE_DIR = "quarantine"

_REASONS = {
    WALK_BAD_CRC: "CRC mismatch",
    WALK_BAD_SEQ: "sequence out of order",
    WALK_BAD_LENGTH: "frame length runs past the end of the segment",
}


@dataclass(frozen=True, slots=True)
class DroppedRange:
    """Bytes recovery removed from the log (after saving them to ``quarantine_path``)."""

    segment_index: int
    path: Path
    offset: int
    length: int
    last_good_seq: int
    reason: str
    quarantine_path: Path


@dataclass(slots=True)
class RecoveryReport:
    """What recovery found: where the log ends and what it dropped.

    Attributes:
        directory: the WAL directory.
        segments: the segments of the log after recovery, in order.
        last_seq: seq of the last intact frame (0 for an empty log).
        tail_offset: where the next frame goes in the last segment.
        tail_sealed: the last segment is sealed; the next frame starts a new segment.
        tail_max_ts: the largest ts_event in the last segment (for its seal).
        dropped: what was removed, in log order; empty after a clean shutdown.
        removed_prepared: half-written or stale pre-zeroed segment files, deleted.
    """

    directory: Path
    segments: list[SegmentFile] = field(default_factory=list)
    last_seq: int = 0
    tail_offset: int = SEGMENT_HEADER_SIZE
    tail_sealed: bool = False
    tail_max_ts: int = 0
    dropped: list[DroppedRange] = field(default_factory=list)
    removed_prepared: list[Path] = field(default_factory=list)

    @property
    def next_seq(self) -> int:
        """The seq the next appended frame gets."""
        return self.last_seq + 1

    @property
    def clean(self) -> bool:
        """True when nothing was dropped."""
        return not self.dropped


def recover(
    directory: Path | str, *, verify_all: bool = False, lock: bool = True
) -> RecoveryReport:
    """Recover the WAL in ``directory`` and report what was dropped.

    Args:
        directory: the WAL directory (must exist).
        verify_all: verify every frame of every segment, not only the last segment.
        lock: take the directory lock (the writer already holds it and passes False).

    Raises:
        WalDirectoryError: the directory is missing or has a segment gap.
        SegmentHeaderError: a segment header is damaged.
        WalLockedError: a live writer holds the directory.
        WalCorruptError: segments disagree about seqs in a way no crash can cause.
    """
    directory = Path(directory)
    require_directory(directory)
    held = DirectoryLock(directory) if lock else None
    try:
        return _recover(directory, verify_all)
    finally:
        if held is not None:
            held.close()


def _recover(directory: Path, verify_all: bool) -> RecoveryReport:
    report = RecoveryReport(directory=directory)
    segments = list_segments(directory)
    report.removed_prepared = remove_stale_prepared(
        directory, segments[-1].index if segments else -1
    )
    if not segments:
        return report
    start = 0 if verify_all else len(segments) - 1
    expect_seq = segments[start].first_seq
    for position in range(start, len(segments)):
        segment = segments[position]
        if segment.first_seq != expect_seq:
            raise WalCorruptError(
                f"{segment.path}: starts at seq {segment.first_seq}, but the segment before it ends"
                f" with seq {expect_seq - 1}"
            )
        is_last = position == len(segments) - 1
        outcome = _scan(segment, report, is_last)
        if outcome is None:
            expect_seq = report.last_seq + 1
            continue
        # Damage inside a segment that has successors: nothing after the damage is kept.
        _quarantine_segments(directory, segments[position + 1 :], report)
        del segments[position + 1 :]
        break
    report.segments = segments
    _sync_file(segments[-1].path)
    return report


def _scan(segment: SegmentFile, report: RecoveryReport, is_last: bool) -> str | None:
    """Verify one segment; truncate it at the first damage. Returns the damage reason or None."""
    path = segment.path
    size = segment.size
    with open(path, "r+b") as handle:
        if os.fstat(handle.fileno()).st_size < size:
            # A shortened file: the missing bytes read as zeros, as in a pre-zeroed segment.
            os.ftruncate(handle.fileno(), size)
        with mmap.mmap(handle.fileno(), size, access=mmap.ACCESS_READ) as mapped:
            status, _, offset, next_seq, seal_seq, seal_ts, max_ts = walk(
                mapped, SEGMENT_HEADER_SIZE, size, expect_seq=segment.first_seq, verify=True
            )
            report.last_seq = next_seq - 1
            report.tail_max_ts = max_ts if max_ts != -(2**63) else 0
            report.tail_offset = offset
            report.tail_sealed = False
            damage: str | None = None
            if status == WALK_SEALED:
                if not is_last:
                    return None
                report.tail_sealed = True
                report.last_seq = seal_seq - 1
                report.tail_max_ts = seal_ts
                offset += FRAME_HEADER_SIZE
                if last_nonzero(mapped, offset, size) != offset:
                    damage = "non-zero bytes after the seal frame"
            elif status == WALK_END:
                if not is_last:
                    damage = "segment is not sealed but another segment follows it"
                elif last_nonzero(mapped, offset, size) != offset:
                    damage = "non-zero bytes after the end of the log (torn write)"
            else:
                reason = _REASONS.get(status, f"walk status {status}")
                damage = f"{reason} at seq {next_seq}"
            if damage is None:
                return None
            end = last_nonzero(mapped, offset, size)
            dropped = bytes(mapped[offset:end])
        if dropped:
            quarantine = _quarantine_bytes(report.directory, segment, offset, dropped)
            _zero(handle.fileno(), offset, len(dropped))
            report.dropped.append(
                DroppedRange(
                    segment_index=segment.index,
                    path=path,
                    offset=offset,
                    length=len(dropped),
                    last_good_seq=report.last_seq,
                    reason=damage,
                    quarantine_path=quarantine,
                )
            )
        elif not is_last:
            report.dropped.append(
                DroppedRange(segment.index, path, offset, 0, report.last_seq, damage, Path())
            )
        return damage


def _quarantine_dir(directory: Path) -> Path:
    target = directory / QUARANTINE_DIR
    target.mkdir(exist_ok=True)
    return target


def _quarantine_bytes(directory: Path, segment: SegmentFile, offset: int, data: bytes) -> Path:
    target = _quarantine_dir(directory) / f"{segment.index:016d}-{offset:012d}-{time.time_ns()}.bin"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_directory(target.parent)
    return target


def _quarantine_segments(directory: Path, later: list[SegmentFile], report: RecoveryReport) -> None:
    if not later:
        return
    target = _quarantine_dir(directory)
    for segment in later:
        moved = target / f"{segment.path.name}.{time.time_ns()}"
        os.rename(segment.path, moved)
        report.dropped.append(
            DroppedRange(
                segment_index=segment.index,
                path=segment.path,
                offset=0,
                length=segment.size,
                last_good_seq=report.last_seq,
                reason="follows damage in an earlier segment",
                quarantine_path=moved,
            )
        )
    fsync_directory(target)
    fsync_directory(directory)


def _zero(fd: int, offset: int, length: int) -> None:
    chunk = bytes(min(length, 1 << 20))
    end = offset + length
    while offset < end:
        offset += os.pwrite(fd, chunk[: end - offset], offset)
    os.fdatasync(fd)


def _sync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)
