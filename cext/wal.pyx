# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""WAL framing in C: CRC32C, batch frame encoding, frame walking/verification and shared sequence marks.

Compiled as ``qk.wal._frames``. Every function here takes whole buffers (bytes, numpy arrays, mmaps) so a
batch of records costs one Python call. The frame format is described in ``cext/qk_wal.h`` and
``docs/wal.md``.
"""

from cpython.exc cimport PyErr_CheckSignals
from libc.stdint cimport INT64_MIN, int64_t, uint8_t, uint32_t, uint64_t


cdef extern from "qk_wal.h" nogil:
    ctypedef uint32_t (*qk_crc32c_fn)(uint32_t, const void *, size_t)
    qk_crc32c_fn qk_crc32c_hw_impl
    const char *qk_crc32c_impl_name
    void qk_crc32c_init()
    uint32_t qk_crc32c(uint32_t crc, const void *buf, size_t length)
    uint32_t qk_crc32c_sw(uint32_t crc, const void *buf, size_t length)

    unsigned int QK_FRAME_HEADER
    unsigned int QK_FRAME_SEAL
    int QK_WALK_END, QK_WALK_SEALED, QK_WALK_BAD_CRC, QK_WALK_BAD_SEQ, QK_WALK_BAD_LENGTH, QK_WALK_LIMIT

    size_t qk_frame_size(uint32_t length)
    size_t qk_frame_encode(uint8_t *dst, const uint8_t *payload, uint32_t length, uint64_t seq,
                           int64_t ts_event, uint64_t stream_key)
    size_t qk_seal_encode(uint8_t *dst, uint64_t next_seq, int64_t max_ts)
    size_t qk_frame_encode_records(uint8_t *dst, size_t capacity, const uint8_t *src,
                                   size_t record_size, size_t count, uint64_t first_seq,
                                   uint64_t stream_id, uint64_t first_stream_seq, long ts_offset,
                                   int64_t ts_default, size_t *out_bytes, int64_t *io_max_ts)

    ctypedef struct qk_walk_out:
        uint64_t *seq
        int64_t *ts_event
        uint64_t *stream_key
        uint64_t *offset
        uint32_t *length
        int64_t *stream_last

    ctypedef struct qk_walk_result:
        int status
        size_t count
        size_t offset
        uint64_t next_seq
        uint64_t seal_seq
        int64_t seal_ts
        int64_t max_ts

    void qk_frame_walk(const uint8_t *buf, size_t start, size_t end, uint64_t expect_seq,
                       uint64_t max_seq, size_t max_frames, int verify, const qk_walk_out *out,
                       qk_walk_result *res)
    void qk_frame_seek(const uint8_t *buf, size_t start, size_t end, int by_ts, int64_t target,
                       qk_walk_result *res)
    size_t qk_last_nonzero(const uint8_t *buf, size_t start, size_t end)
    void qk_gather(const uint8_t *buf, const uint64_t *offsets, const uint32_t *lengths, size_t n,
                   uint8_t *out, size_t record_size)

    void qk_mark_publish(uint64_t *value, uint32_t *gen, uint32_t *waiters, uint64_t v)
    int qk_mark_wait_slice(uint64_t *value, uint32_t *gen, uint32_t *waiters, uint64_t target,
                           int64_t deadline_ns, int64_t spin_ns, int64_t slice_ns)
    uint64_t qk_load_acquire_u64(const uint64_t *p)
    void qk_store_release_u64(uint64_t *p, uint64_t v)
    int64_t qk_monotonic_ns()


qk_crc32c_init()

FRAME_HEADER_SIZE = QK_FRAME_HEADER
SEAL_LENGTH = QK_FRAME_SEAL
MAX_PAYLOAD = 0xFFFFFFF0
STREAM_SEQ_BITS = 48
STREAM_SEQ_MASK = (1 << 48) - 1
MAX_STREAM_ID = 0xFFFF

WALK_END = QK_WALK_END
WALK_SEALED = QK_WALK_SEALED
WALK_BAD_CRC = QK_WALK_BAD_CRC
WALK_BAD_SEQ = QK_WALK_BAD_SEQ
WALK_BAD_LENGTH = QK_WALK_BAD_LENGTH
WALK_LIMIT = QK_WALK_LIMIT

# Offsets of the fields in the shared-memory mark block (see qk/wal/durable.py).
MARK_WRITTEN = 64
MARK_WRITTEN_GEN = 72
MARK_WRITTEN_WAITERS = 76
MARK_DURABLE = 128
MARK_DURABLE_GEN = 136
MARK_DURABLE_WAITERS = 140
MARK_HEARTBEAT = 192
MARK_SIZE = 256


# ---- CRC32C --------------------------------------------------------------------------------------

def crc32c(const uint8_t[::1] data, uint32_t value=0):
    """CRC32C of ``data`` with the fastest implementation this CPU has, continuing from ``value``."""
    cdef size_t n = data.shape[0]
    cdef const uint8_t *p = &data[0] if n else NULL
    if n > 65536:
        with nogil:
            value = qk_crc32c(value, p, n)
        return value
    return qk_crc32c(value, p, n)


def crc32c_software(const uint8_t[::1] data, uint32_t value=0):
    """CRC32C with the portable slicing-by-8 table implementation."""
    cdef size_t n = data.shape[0]
    return qk_crc32c_sw(value, &data[0] if n else NULL, n)


def crc32c_hardware(const uint8_t[::1] data, uint32_t value=0):
    """CRC32C with the CPU instruction (SSE4.2 or ARMv8 CRC); RuntimeError when this CPU has none."""
    if qk_crc32c_hw_impl == NULL:
        raise RuntimeError("this CPU has no CRC32C instruction (SSE4.2 / ARMv8 CRC)")
    cdef size_t n = data.shape[0]
    return qk_crc32c_hw_impl(value, &data[0] if n else NULL, n)


def crc32c_hardware_available():
    """True when a CRC32C CPU instruction is in use."""
    return qk_crc32c_hw_impl != NULL


def crc32c_implementation():
    """Name of the implementation :func:`crc32c` uses: ``sse4.2``, ``armv8-crc`` or ``slicing-by-8``."""
    return qk_crc32c_impl_name.decode()


# ---- encoding ------------------------------------------------------------------------------------

def frame_size(Py_ssize_t length):
    """Bytes a frame with a payload of ``length`` bytes occupies (header + payload padded to 8)."""
    if length < 0 or length > MAX_PAYLOAD:
        raise ValueError(f"payload length {length} out of range")
    return qk_frame_size(<uint32_t>length)


cdef inline void _check_room(Py_ssize_t have, Py_ssize_t offset, size_t need) except *:
    if offset < 0 or offset % 8 or <size_t>(have - offset) < need or offset > have:
        raise ValueError(f"no room for {need} bytes at offset {offset} in a buffer of {have} bytes"
                         " (offsets must be multiples of 8)")


def encode_frame(uint8_t[::1] out, Py_ssize_t offset, const uint8_t[::1] payload, uint64_t seq,
                 int64_t ts_event=0, uint64_t stream_key=0):
    """Encode one frame at ``out[offset:]``; returns the offset just past it."""
    cdef size_t length = payload.shape[0]
    if length == 0 or length > MAX_PAYLOAD:
        raise ValueError(f"payload length {length} out of range (1..{MAX_PAYLOAD})")
    if seq == 0:
        raise ValueError("seq starts at 1")
    cdef size_t size = qk_frame_size(<uint32_t>length)
    _check_room(out.shape[0], offset, size)
    qk_frame_encode(&out[offset], &payload[0], <uint32_t>length, seq, ts_event, stream_key)
    return offset + <Py_ssize_t>size


def encode_seal(uint8_t[::1] out, Py_ssize_t offset, uint64_t next_seq, int64_t max_ts):
    """Encode a seal frame (end of segment) at ``out[offset:]``; returns the offset just past it."""
    _check_room(out.shape[0], offset, QK_FRAME_HEADER)
    qk_seal_encode(&out[offset], next_seq, max_ts)
    return offset + QK_FRAME_HEADER


def encode_records(uint8_t[::1] out, Py_ssize_t offset, Py_ssize_t end, const uint8_t[::1] records,
                   Py_ssize_t record_size, uint64_t first_seq, unsigned int stream_id,
                   uint64_t first_stream_seq, Py_ssize_t ts_offset=-1, int64_t ts_default=0,
                   object max_ts=None):
    """Frame as many of the fixed-size ``records`` as fit in ``out[offset:end]``.

    Record ``i`` gets seq ``first_seq + i`` and stream key ``stream_id << 48 | first_stream_seq + i``;
    its ts_event is the i64 at ``ts_offset`` inside the record (``ts_offset < 0``: ``ts_default``).

    Returns ``(records_encoded, new_offset, max_ts)``.
    """
    if record_size <= 0 or record_size > MAX_PAYLOAD:
        raise ValueError(f"record_size {record_size} out of range")
    if records.shape[0] % record_size:
        raise ValueError(f"buffer of {records.shape[0]} bytes is not a whole number of"
                         f" {record_size}-byte records")
    if ts_offset >= 0 and ts_offset + 8 > record_size:
        raise ValueError(f"ts_offset {ts_offset} outside a {record_size}-byte record")
    if stream_id > 0xFFFF:
        raise ValueError(f"stream id {stream_id} does not fit in 16 bits")
    if first_seq == 0:
        raise ValueError("seq starts at 1")
    if end > out.shape[0] or offset < 0 or offset % 8 or end < offset:
        raise ValueError(f"bad region [{offset}, {end}) of a {out.shape[0]}-byte buffer")
    cdef size_t count = records.shape[0] // record_size
    cdef size_t nbytes = 0
    cdef size_t n = 0
    cdef int64_t mts = INT64_MIN if max_ts is None else <int64_t>max_ts
    if count == 0:
        return 0, offset, mts
    with nogil:
        n = qk_frame_encode_records(&out[offset] if end > offset else NULL, <size_t>(end - offset),
                                    &records[0], <size_t>record_size, count, first_seq, stream_id,
                                    first_stream_seq, <long>ts_offset, ts_default, &nbytes, &mts)
    return n, offset + <Py_ssize_t>nbytes, mts


# ---- walking -------------------------------------------------------------------------------------

cdef inline Py_ssize_t _bounded(Py_ssize_t value, Py_ssize_t size) noexcept:
    if value < 0 or value > size:
        return size
    return value


def walk(const uint8_t[::1] buf, Py_ssize_t start, Py_ssize_t end, uint64_t expect_seq=0,
         uint64_t max_seq=0xFFFFFFFFFFFFFFFF, Py_ssize_t max_frames=-1, bint verify=True,
         uint64_t[::1] seq=None, int64_t[::1] ts_event=None, uint64_t[::1] stream_key=None,
         uint64_t[::1] offset=None, uint32_t[::1] length=None, int64_t[::1] stream_last=None):
    """Walk the frames in ``buf[start:end]`` and optionally record each one in the given arrays.

    Stops at the first frame that is absent (length 0), a seal, damaged (CRC, length), out of sequence
    (``expect_seq`` then dense; 0 = accept the first seq found), beyond ``max_seq``, or after
    ``max_frames`` frames (the output arrays must hold that many; -1 = no limit, then no arrays).

    Returns ``(status, count, stop_offset, next_seq, seal_seq, seal_ts, max_ts)``; status is one of the
    ``WALK_*`` constants; ``offset[i]`` is the offset of frame i's payload in ``buf``.
    """
    cdef Py_ssize_t size = buf.shape[0]
    if start < 0 or start > size or start % 8:
        raise ValueError(f"bad start offset {start} for a {size}-byte buffer")
    end = _bounded(end, size)
    cdef qk_walk_out out
    cdef Py_ssize_t cap = -1
    out.seq = NULL
    out.ts_event = NULL
    out.stream_key = NULL
    out.offset = NULL
    out.length = NULL
    out.stream_last = NULL
    if seq is not None:
        out.seq = &seq[0]
        cap = seq.shape[0]
    if ts_event is not None:
        out.ts_event = &ts_event[0]
        cap = ts_event.shape[0] if cap < 0 else min(cap, ts_event.shape[0])
    if stream_key is not None:
        out.stream_key = &stream_key[0]
        cap = stream_key.shape[0] if cap < 0 else min(cap, stream_key.shape[0])
    if offset is not None:
        out.offset = &offset[0]
        cap = offset.shape[0] if cap < 0 else min(cap, offset.shape[0])
    if length is not None:
        out.length = &length[0]
        cap = length.shape[0] if cap < 0 else min(cap, length.shape[0])
    if stream_last is not None:
        if stream_last.shape[0] < 65536:
            raise ValueError("stream_last must have 65536 entries")
        out.stream_last = &stream_last[0]
    if cap >= 0 and (max_frames < 0 or max_frames > cap):
        max_frames = cap
    cdef size_t limit = <size_t>max_frames if max_frames >= 0 else <size_t>-1
    cdef qk_walk_result res
    cdef const uint8_t *base = &buf[0] if size else NULL
    with nogil:
        qk_frame_walk(base, <size_t>start, <size_t>end, expect_seq, max_seq, limit, verify, &out,
                      &res)
    return (res.status, res.count, res.offset, res.next_seq, res.seal_seq, res.seal_ts, res.max_ts)


def seek(const uint8_t[::1] buf, Py_ssize_t start, Py_ssize_t end, int64_t target, bint by_ts):
    """Skip (without CRC checks) to the first frame with ``seq >= target`` (or ``ts_event >= target``).

    Returns ``(status, offset, seq)``: ``WALK_LIMIT`` when found (offset/seq of that frame),
    otherwise ``WALK_END``/``WALK_SEALED``/``WALK_BAD_LENGTH`` with the offset where the walk stopped
    and the seq expected there (for a seal: the seal's seq; 0 when no frame preceded the stop).
    """
    cdef Py_ssize_t size = buf.shape[0]
    if start < 0 or start > size or start % 8:
        raise ValueError(f"bad start offset {start} for a {size}-byte buffer")
    end = _bounded(end, size)
    cdef qk_walk_result res
    cdef const uint8_t *base = &buf[0] if size else NULL
    with nogil:
        qk_frame_seek(base, <size_t>start, <size_t>end, by_ts, target, &res)
    return res.status, res.offset, res.next_seq


def last_nonzero(const uint8_t[::1] buf, Py_ssize_t start, Py_ssize_t end):
    """One past the last non-zero byte of ``buf[start:end]``, or ``start`` if it is all zeros."""
    cdef Py_ssize_t size = buf.shape[0]
    end = _bounded(end, size)
    if start < 0 or start > end:
        raise ValueError(f"bad range [{start}, {end})")
    if start == end:
        return start
    cdef size_t r
    with nogil:
        r = qk_last_nonzero(&buf[0], <size_t>start, <size_t>end)
    return r


def gather(const uint8_t[::1] buf, const uint64_t[::1] offsets, const uint32_t[::1] lengths,
           uint8_t[::1] out, Py_ssize_t record_size):
    """Copy payloads ``buf[offsets[i]:offsets[i]+lengths[i]]`` into rows of ``record_size`` bytes.

    Payloads shorter than ``record_size`` are zero-filled, longer ones cut.
    """
    cdef Py_ssize_t n = offsets.shape[0]
    if lengths.shape[0] != n:
        raise ValueError("offsets and lengths differ in length")
    if record_size <= 0 or out.shape[0] < n * record_size:
        raise ValueError(f"out holds {out.shape[0]} bytes, need {n} x {record_size}")
    cdef Py_ssize_t i
    cdef Py_ssize_t size = buf.shape[0]
    for i in range(n):
        if offsets[i] + lengths[i] > <uint64_t>size:
            raise ValueError(f"payload {i} lies outside the buffer")
    if n == 0:
        return
    with nogil:
        qk_gather(&buf[0], &offsets[0], &lengths[0], <size_t>n, &out[0], <size_t>record_size)


# ---- sequence marks ------------------------------------------------------------------------------

def monotonic_ns():
    """CLOCK_MONOTONIC in ns (the clock of mark heartbeats; shared by all processes on the host)."""
    return qk_monotonic_ns()


cdef class MarkView:
    """The written/durable sequence counters of a WAL in a shared-memory block (see ``durable.py``).

    Holds a buffer export of the mapping, so the mapping cannot be closed under it.
    """

    cdef uint8_t[::1] _buf
    cdef uint8_t *_base

    def __cinit__(self, uint8_t[::1] buf):
        if buf.shape[0] < MARK_SIZE:
            raise ValueError(f"mark block needs {MARK_SIZE} bytes, got {buf.shape[0]}")
        if (<size_t>&buf[0]) % 64:
            raise ValueError("mark block must be 64-byte aligned")
        self._buf = buf
        self._base = &buf[0]

    def release(self):
        """Drop the buffer export (the view is unusable afterwards)."""
        self._buf = None
        self._base = NULL

    cdef inline uint64_t *_u64(self, Py_ssize_t off) except NULL:
        if self._base == NULL:
            raise ValueError("mark view released")
        return <uint64_t *>(self._base + off)

    cdef inline uint32_t *_u32(self, Py_ssize_t off) except NULL:
        if self._base == NULL:
            raise ValueError("mark view released")
        return <uint32_t *>(self._base + off)

    @property
    def written(self):
        """Highest seq whose frame has been written to the file (pwrite returned)."""
        return qk_load_acquire_u64(self._u64(MARK_WRITTEN))

    @property
    def durable(self):
        """Highest seq covered by a completed fdatasync."""
        return qk_load_acquire_u64(self._u64(MARK_DURABLE))

    @property
    def heartbeat_ns(self):
        """CLOCK_MONOTONIC ns of the writer's last loop."""
        return <int64_t>qk_load_acquire_u64(self._u64(MARK_HEARTBEAT))

    def set_heartbeat(self, int64_t ns):
        qk_store_release_u64(self._u64(MARK_HEARTBEAT), <uint64_t>ns)

    def publish_written(self, uint64_t seq):
        qk_mark_publish(self._u64(MARK_WRITTEN), self._u32(MARK_WRITTEN_GEN),
                        self._u32(MARK_WRITTEN_WAITERS), seq)

    def publish_durable(self, uint64_t seq):
        qk_mark_publish(self._u64(MARK_DURABLE), self._u32(MARK_DURABLE_GEN),
                        self._u32(MARK_DURABLE_WAITERS), seq)

    def wait_written(self, uint64_t target, timeout=None, int64_t spin_ns=20000):
        """Wait until ``written >= target``; False on timeout (seconds, None = forever)."""
        return self._wait(MARK_WRITTEN, target, timeout, spin_ns)

    def wait_durable(self, uint64_t target, timeout=None, int64_t spin_ns=20000):
        """Wait until ``durable >= target``; False on timeout (seconds, None = forever)."""
        return self._wait(MARK_DURABLE, target, timeout, spin_ns)

    cdef bint _wait(self, Py_ssize_t off, uint64_t target, object timeout, int64_t spin_ns) except -1:
        cdef uint64_t *value = self._u64(off)
        cdef uint32_t *gen = self._u32(off + 8)
        cdef uint32_t *waiters = self._u32(off + 12)
        cdef int64_t deadline = -1
        cdef int reached = 0
        if qk_load_acquire_u64(value) >= target:
            return True
        if timeout is not None:
            if timeout <= 0:
                return False
            deadline = qk_monotonic_ns() + <int64_t>(float(timeout) * 1e9)
        while True:
            with nogil:
                reached = qk_mark_wait_slice(value, gen, waiters, target, deadline, spin_ns,
                                             100000000)
            if reached:
                return True
            if deadline >= 0 and qk_monotonic_ns() >= deadline:
                return False
            PyErr_CheckSignals()
            spin_ns = 0
