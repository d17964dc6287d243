"""Type stub of the compiled WAL framing module (cext/wal.pyx)."""

from typing import Any, TypeAlias

import numpy as np
from typing_extensions import Buffer as _Buffer

Buffer: TypeAlias = _Buffer | np.ndarray[Any, Any]

FRAME_HEADER_SIZE: int
SEAL_LENGTH: int
MAX_PAYLOAD: int
STREAM_SEQ_BITS: int
STREAM_SEQ_MASK: int
MAX_STREAM_ID: int
WALK_END: int
WALK_SEALED: int
WALK_BAD_CRC: int
WALK_BAD_SEQ: int
WALK_BAD_LENGTH: int
WALK_LIMIT: int
MARK_WRITTEN: int
MARK_WRITTEN_GEN: int
MARK_WRITTEN_WAITERS: int
MARK_DURABLE: int
MARK_DURABLE_GEN: int
MARK_DURABLE_WAITERS: int
MARK_HEARTBEAT: int
MARK_SIZE: int

def crc32c(data: Buffer, value: int = 0) -> int: ...
def crc32c_software(data: Buffer, value: int = 0) -> int: ...
def crc32c_hardware(data: Buffer, value: int = 0) -> int: ...
def crc32c_hardware_available() -> bool: ...
def crc32c_implementation() -> str: ...
def frame_size(length: int) -> int: ...
def encode_frame(
    out: Buffer, offset: int, payload: Buffer, seq: int, ts_event: int = 0, stream_key: int = 0
) -> int: ...
def encode_seal(out: Buffer, offset: int, next_seq: int, max_ts: int) -> int: ...
def encode_records(
    out: Buffer,
    offset: int,
    end: int,
    records: Buffer,
    record_size: int,
    first_seq: int,
    stream_id: int,
    first_stream_seq: int,
    ts_offset: int = -1,
    ts_default: int = 0,
    max_ts: int | None = None,
) -> tuple[int, int, int]: ...
def walk(
    buf: Buffer,
    start: int,
    end: int,
    expect_seq: int = 0,
    max_seq: int = ...,
    max_frames: int = -1,
    verify: bool = True,
    seq: Any = None,
    ts_event: Any = None,
    stream_key: Any = None,
    offset: Any = None,
    length: Any = None,
    stream_last: Any = None,
) -> tuple[int, int, int, int, int, int, int]: ...
def seek(buf: Buffer, start: int, end: int, target: int, by_ts: bool) -> tuple[int, int, int]: ...
def last_nonzero(buf: Buffer, start: int, end: int) -> int: ...
def gather(buf: Buffer, offsets: Any, lengths: Any, out: Buffer, record_size: int) -> None: ...
def monotonic_ns() -> int: ...

class MarkView:
    def __init__(self, buf: Buffer) -> None: ...
    def release(self) -> None: ...
    @property
    def written(self) -> int: ...
    @property
    def durable(self) -> int: ...
    @property
    def heartbeat_ns(self) -> int: ...
    def set_heartbeat(self, ns: int) -> None: ...
    def publish_written(self, seq: int) -> None: ...
    def publish_durable(self, seq: int) -> None: ...
    def wait_written(
        self, target: int, timeout: float | None = None, spin_ns: int = 20000
    ) -> bool: ...
    def wait_durable(
        self, target: int, timeout: float | None = None, spin_ns: int = 20000
    ) -> bool: ...
