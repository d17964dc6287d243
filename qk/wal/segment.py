"""Segment files: naming, the 64-byte segment header, and listing a WAL directory.

A segment is one pre-allocated, pre-zeroed file ``NNNNNNNNNNNNNNNN.wal`` (16-digit zero-padded index).
It starts with a 64-byte header; frames follow from offset 64 (see ``docs/wal.md``)::

    0  8s  magic        b"QKWALSEG"
    8  u32 version      1
    12 u32 header_size  64
    16 u64 index        the number in the file name
    24 u64 first_seq    seq of the first frame in the segment
    32 u64 segment_size file size in bytes
    40 i64 created_ns   CLOCK_REALTIME ns when the segment was opened for writing
    48 16x reserved     zero
    60 u32 header_crc   CRC32C of bytes [0, 60)
"""

from __future__ import annotations

import itertools
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from qk.wal._frames import FRAME_HEADER_SIZE, crc32c
from qk.wal.errors import SegmentHeaderError, WalDirectoryError

SEGMENT_MAGIC = b"QKWALSEG"
SEGMENT_VERSION = 1
SEGMENT_HEADER_SIZE = 64
SEGMENT_SUFFIX = ".wal"
PREPARED_SUFFIX = ".wal.prep"
DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024
MIN_SEGMENT_SIZE = 4096

_HEADER = struct.Struct("<8sIIQQQq12x")
_NAME = re.compile(r"^(\d{16})\.wal$")


@dataclass(frozen=True, slots=True)
class SegmentHeader:
    """The parsed header of one segment file."""

    index: int
    first_seq: int
    segment_size: int
    created_ns: int
    version: int = SEGMENT_VERSION

    def encode(self) -> bytes:
        """The 64 header bytes, CRC included."""
        body = _HEADER.pack(
            SEGMENT_MAGIC,
            self.version,
            SEGMENT_HEADER_SIZE,
            self.index,
            self.first_seq,
            self.segment_size,
            self.created_ns,
        )
        return body + struct.pack("<I", crc32c(body))

    @classmethod
    def decode(cls, raw: bytes | memoryview, path: Path | str = "<buffer>") -> SegmentHeader:
        """Parse and check a header.

        Raises:
            SegmentHeaderError: short read, wrong magic, unknown version, bad size or CRC mismatch.
        """
        raw = bytes(raw[:SEGMENT_HEADER_SIZE])
        if len(raw) < SEGMENT_HEADER_SIZE:
            raise SegmentHeaderError(f"{path}: {len(raw)} bytes, shorter than a segment header")
        magic, version, header_size, index, first_seq, segment_size, created_ns = _HEADER.unpack(
            raw[:60]
        )
        if magic != SEGMENT_MAGIC:
            raise SegmentHeaderError(
                f"{path}: wrong magic {magic!r}, not a QuantKubera WAL segment"
            )
        (stored_crc,) = struct.unpack("<I", raw[60:64])
        actual_crc = crc32c(raw[:60])
        if stored_crc != actual_crc:
            raise SegmentHeaderError(
                f"{path}: header CRC mismatch (stored {stored_crc:#010x}, computed {actual_crc:#010x})"
            )
        if version != SEGMENT_VERSION:
            raise SegmentHeaderError(
                f"{path}: segment version {version}, this build reads {SEGMENT_VERSION}"
            )
        if header_size != SEGMENT_HEADER_SIZE:
            raise SegmentHeaderError(
                f"{path}: header size {header_size}, expected {SEGMENT_HEADER_SIZE}"
            )
        if segment_size < MIN_SEGMENT_SIZE or segment_size % 8:
            raise SegmentHeaderError(f"{path}: bad segment size {segment_size}")
        if first_seq < 1:
            raise SegmentHeaderError(f"{path}: first seq {first_seq} (seqs start at 1)")
        return cls(
            index=index,
            first_seq=first_seq,
            segment_size=segment_size,
            created_ns=created_ns,
            version=version,
        )


@dataclass(frozen=True, slots=True)
class SegmentFile:
    """A segment file on disk with its header."""

    path: Path
    header: SegmentHeader

    @property
    def index(self) -> int:
        return self.header.index

    @property
    def first_seq(self) -> int:
        return self.header.first_seq

    @property
    def size(self) -> int:
        return self.header.segment_size


def segment_name(index: int) -> str:
    """File name of the segment with this index."""
    return f"{index:016d}{SEGMENT_SUFFIX}"


def prepared_name(index: int) -> str:
    """File name of a pre-zeroed segment that is not part of the log yet."""
    return f"{index:016d}{PREPARED_SUFFIX}"


def frames_limit(segment_size: int) -> int:
    """End of the region frames may use: the last 32 bytes are kept for the seal frame."""
    return segment_size - FRAME_HEADER_SIZE


def check_segment_size(segment_size: int) -> None:
    """Raise ValueError unless ``segment_size`` is a usable segment size."""
    if segment_size < MIN_SEGMENT_SIZE or segment_size % 4096:
        raise ValueError(
            f"segment_size {segment_size}: must be a multiple of 4096, at least {MIN_SEGMENT_SIZE}"
        )


def require_directory(directory: Path) -> None:
    """Raise WalDirectoryError unless ``directory`` exists and is a directory."""
    if not directory.exists():
        raise WalDirectoryError(f"WAL directory {directory} does not exist")
    if not directory.is_dir():
        raise WalDirectoryError(f"WAL path {directory} is not a directory")


def read_header(path: Path) -> SegmentHeader:
    """Read and check the header of the segment file at ``path``.

    Raises:
        SegmentHeaderError: the header is damaged, or does not match the file name or size.
    """
    with open(path, "rb") as handle:
        raw = handle.read(SEGMENT_HEADER_SIZE)
        file_size = os.fstat(handle.fileno()).st_size
    header = SegmentHeader.decode(raw, path)
    match = _NAME.match(path.name)
    if match is not None and int(match.group(1)) != header.index:
        raise SegmentHeaderError(
            f"{path}: header says index {header.index}, the name says otherwise"
        )
    if file_size > header.segment_size:
        raise SegmentHeaderError(
            f"{path}: file is {file_size} bytes, longer than its segment size {header.segment_size}"
        )
    return header


def list_segments(directory: Path) -> list[SegmentFile]:
    """The segments of the WAL in ``directory``, in index order, with checked headers.

    Raises:
        WalDirectoryError: the directory is missing, or the indices or first seqs have a gap.
        SegmentHeaderError: a segment header is damaged.
    """
    require_directory(directory)
    indexed: list[tuple[int, Path]] = []
    for entry in directory.iterdir():
        match = _NAME.match(entry.name)
        if match is not None and entry.is_file():
            indexed.append((int(match.group(1)), entry))
    indexed.sort()
    segments = [SegmentFile(path, read_header(path)) for _, path in indexed]
    for before, after in itertools.pairwise(segments):
        if after.index != before.index + 1:
            raise WalDirectoryError(
                f"{directory}: segment {before.index + 1} is missing (have {before.index} and {after.index})"
            )
        if after.first_seq <= before.first_seq:
            raise WalDirectoryError(
                f"{directory}: segment {after.index} starts at seq {after.first_seq},"
                f" not after segment {before.index} (seq {before.first_seq})"
            )
    return segments


def fsync_directory(directory: Path) -> None:
    """fsync a directory so renames and creations in it survive a crash."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
