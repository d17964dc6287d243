# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Cython side of the shared-memory ring: the producer and consumer hot paths.

The segment itself (create, attach, validate, unlink) is managed in Python by ``qk.rings.ring``;
this module binds a mapped segment to the C protocol in ``qk_ring.h`` and exposes the calls that
run per record or per batch. The GIL is released only while a call has to wait.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset


cdef extern from "qk_ring.h" nogil:
    ctypedef struct qk_ring_meta:
        uint64_t magic
        uint32_t version
        uint32_t slot_size
        uint64_t capacity
        uint64_t schema_hash
        uint32_t max_consumers
        uint32_t stream_id
        uint64_t data_offset
        uint64_t total_size
        int64_t created_ns
        int64_t owner_pid
        int64_t owner_start_time
        uint32_t closed
        char name[128]
        int64_t producer_pid
        int64_t producer_start_time

    ctypedef struct qk_ring_producer:
        uint64_t published
        uint32_t pub_futex
        uint64_t claimed
        uint64_t gate_limit
        uint32_t join_epoch

    ctypedef struct qk_ring_consumer:
        uint64_t cursor
        uint64_t gaps
        uint32_t state
        uint32_t policy
        int64_t pid
        char name[32]
        int64_t start_time

    ctypedef struct qk_ring:
        unsigned char *base
        qk_ring_meta *meta
        qk_ring_producer *prod
        qk_ring_consumer *cons
        unsigned char *data
        uint64_t mask
        uint64_t capacity
        uint32_t slot_size
        uint32_t max_consumers
        uint32_t seen_epoch

    ctypedef struct qk_waiter:
        int strategy
        uint32_t spins
        int64_t deadline
        uint32_t iteration

    uint64_t QK_RING_MAGIC
    uint32_t QK_RING_VERSION
    uint32_t QK_RING_NAME_LEN
    int QK_CONSUMER_FREE, QK_CONSUMER_CLAIMING, QK_CONSUMER_ACTIVE
    int QK_POLICY_BLOCK, QK_POLICY_LOSSY
    int QK_OK, QK_TIMEOUT, QK_CLOSED

    uint64_t qk_ring_data_offset(uint32_t max_consumers)
    uint64_t qk_ring_total_size(uint32_t slot_size, uint64_t capacity, uint32_t max_consumers)
    void qk_ring_bind(qk_ring *r, unsigned char *base)
    void qk_ring_init(unsigned char *base, uint32_t slot_size, uint64_t capacity, uint32_t max_consumers,
                      uint64_t schema_hash, uint32_t stream_id, int64_t pid, int64_t start_time,
                      const char *name)
    void qk_waiter_init(qk_waiter *w, int strategy, uint32_t spins, int64_t timeout_ns)
    int qk_ring_claim(qk_ring *r, uint64_t first, uint64_t n, qk_waiter *w)
    void qk_ring_publish(qk_ring *r, uint64_t end)
    void qk_ring_copy_in(qk_ring *r, uint64_t first, const unsigned char *src, uint64_t n, uint32_t stride)
    void qk_ring_notify_space(qk_ring *r)
    int qk_ring_wait_readable(qk_ring *r, uint64_t next, qk_waiter *w, uint64_t *published_out)
    int64_t qk_ring_copy_out(qk_ring *r, uint64_t *next, uint64_t published, unsigned char *dst,
                             uint64_t max_n, int lossy, uint64_t *gaps)

    uint64_t qk_load_acquire_u64(const uint64_t *p)
    uint64_t qk_load_seq_cst_u64(const uint64_t *p)
    uint64_t qk_load_relaxed_u64(const uint64_t *p)
    void qk_store_release_u64(uint64_t *p, uint64_t v)
    void qk_store_relaxed_u64(uint64_t *p, uint64_t v)
    uint32_t qk_load_acquire_u32(const uint32_t *p)
    void qk_store_release_u32(uint32_t *p, uint32_t v)
    uint32_t qk_fetch_add_u32(uint32_t *p, uint32_t v)
    int qk_cas_u32(uint32_t *p, uint32_t expected, uint32_t desired)
    void qk_fence_seq_cst()
    int64_t qk_monotonic_ns()
    void qk_futex_wake_all(uint32_t *word)


class RingTimeout(TimeoutError):
    """A ring call did not complete before its timeout."""


class RingClosed(EOFError):
    """The producer closed the ring and every record has been read."""


MAGIC = QK_RING_MAGIC
VERSION = QK_RING_VERSION
NAME_LEN = QK_RING_NAME_LEN
POLICY_BLOCK = QK_POLICY_BLOCK
POLICY_LOSSY = QK_POLICY_LOSSY
STATE_FREE = QK_CONSUMER_FREE
STATE_ACTIVE = QK_CONSUMER_ACTIVE

# Busy iterations before a spin-then-yield or spin-then-block waiter yields or sleeps. ~2-20 µs of
# pause instructions: long enough to catch a reply from a process on the other core, short enough
# not to starve a process that shares ours.
DEFAULT_SPINS = 2000


cdef inline int64_t _timeout_ns(object timeout) except? -2:
    if timeout is None:
        return -1
    t = float(timeout)
    if t <= 0.0:
        return 0
    return <int64_t>(t * 1e9)


def layout_size(uint32_t slot_size, uint64_t capacity, uint32_t max_consumers):
    """Bytes a segment needs for this geometry (header, cursor lines and page-aligned slots)."""
    return qk_ring_total_size(slot_size, capacity, max_consumers)


cdef class RingView:
    """A mapped ring segment bound to the C protocol. Owns a reference to the buffer it maps."""

    cdef qk_ring r
    cdef object _buffer
    cdef Py_buffer _view
    cdef bint _has_view

    def __cinit__(self, object buffer):
        PyObject_GetBuffer(buffer, &self._view, PyBUF_SIMPLE | PyBUF_WRITABLE)
        self._has_view = True
        self._buffer = buffer

    def __dealloc__(self):
        if self._has_view:
            PyBuffer_Release(&self._view)
            self._has_view = False

    def release(self):
        """Drop the buffer export so the mapping can be closed."""
        if self._has_view:
            PyBuffer_Release(&self._view)
            self._has_view = False
        self._buffer = None
        self.r.base = NULL

    def initialise(self, uint32_t slot_size, uint64_t capacity, uint32_t max_consumers,
                   uint64_t schema_hash, uint32_t stream_id, int64_t pid, int64_t start_time,
                   bytes name):
        """Write a fresh header into a zero-filled segment, then bind to it."""
        qk_ring_init(<unsigned char *>self._view.buf, slot_size, capacity, max_consumers, schema_hash,
                     stream_id, pid, start_time, name)
        self.bind()

    def bind(self):
        """Bind to a segment whose header has already been validated."""
        qk_ring_bind(&self.r, <unsigned char *>self._view.buf)

    cdef inline void _check(self) except *:
        if self.r.base == NULL:
            raise ValueError("ring is closed")

    @property
    def published(self):
        self._check()
        return qk_load_acquire_u64(&self.r.prod.published)

    @property
    def claimed(self):
        self._check()
        return qk_load_acquire_u64(&self.r.prod.claimed)

    @property
    def closed(self):
        self._check()
        return qk_load_acquire_u32(&self.r.meta.closed) != 0

    def set_closed(self, bint closed):
        """Mark the ring closed (no more records) and wake every waiting reader."""
        self._check()
        qk_store_release_u32(&self.r.meta.closed, 1 if closed else 0)
        # Change the futex word so a reader that checked `closed` just before cannot sleep through it.
        qk_fetch_add_u32(&self.r.prod.pub_futex, 1)
        qk_futex_wake_all(&self.r.prod.pub_futex)

    def set_producer(self, int64_t pid, int64_t start_time):
        """Record the process that now produces into this ring (0, 0: none)."""
        self._check()
        self.r.meta.producer_pid = pid
        self.r.meta.producer_start_time = start_time

    def reset_claim(self):
        """After a producer crash: forget a claim that was never published."""
        self._check()
        qk_store_release_u64(&self.r.prod.claimed, qk_load_acquire_u64(&self.r.prod.published))

    def consumer_table(self):
        """Snapshot of every consumer slot: (index, state, policy, name, pid, start_time, cursor, gaps)."""
        self._check()
        out = []
        cdef uint32_t i
        cdef qk_ring_consumer *c
        for i in range(self.r.max_consumers):
            c = &self.r.cons[i]
            state = qk_load_acquire_u32(&c.state)
            name = c.name[:QK_RING_NAME_LEN].split(b"\0", 1)[0].decode("utf-8", "replace")
            out.append((i, state, c.policy, name, c.pid, c.start_time, qk_load_acquire_u64(&c.cursor),
                        c.gaps))
        return out

    def join(self, bytes name, int policy, int64_t pid, int64_t start_time, bint earliest, int index=-1):
        """Claim a consumer slot (or take over ``index``, an existing slot of the same name).

        Returns ``(index, cursor)``. A new consumer starts at the newest record (``earliest`` false)
        or at the oldest record still in the ring.
        """
        self._check()
        cdef qk_ring_consumer *c
        cdef uint32_t i
        cdef uint64_t cursor, claimed
        if index >= 0:
            c = &self.r.cons[index]
            c.pid = pid
            c.start_time = start_time
            qk_fence_seq_cst()
            return index, qk_load_acquire_u64(&c.cursor)
        for i in range(self.r.max_consumers):
            c = &self.r.cons[i]
            if qk_cas_u32(&c.state, QK_CONSUMER_FREE, QK_CONSUMER_CLAIMING):
                memset(c.name, 0, QK_RING_NAME_LEN)
                memcpy(c.name, <char *>name, min(len(name), QK_RING_NAME_LEN))
                c.policy = policy
                c.pid = pid
                c.start_time = start_time
                c.gaps = 0
                claimed = qk_load_acquire_u64(&self.r.prod.claimed)
                if earliest:
                    cursor = claimed - self.r.capacity if claimed > self.r.capacity else 0
                else:
                    cursor = qk_load_acquire_u64(&self.r.prod.published)
                qk_store_release_u64(&c.cursor, cursor)
                qk_store_release_u32(&c.state, QK_CONSUMER_ACTIVE)
                if policy == QK_POLICY_BLOCK:
                    self._announce(c)
                return i, qk_load_acquire_u64(&c.cursor)
        raise RuntimeError(f"every one of the {self.r.max_consumers} consumer slots is taken")

    cdef void _announce(self, qk_ring_consumer *c):
        # Tell the producer a blocking cursor appeared or moved back, then make sure it had not
        # already claimed past what this cursor protects (the join protocol in qk_ring.h).
        cdef uint64_t claimed, cursor
        while True:
            qk_fetch_add_u32(&self.r.prod.join_epoch, 1)
            claimed = qk_load_seq_cst_u64(&self.r.prod.claimed)
            cursor = qk_load_acquire_u64(&c.cursor)
            if claimed <= cursor + self.r.capacity:
                return
            qk_store_release_u64(&c.cursor, claimed - self.r.capacity)

    def detach(self, int index):
        """Keep the slot and its cursor but record that no process is attached (resume later)."""
        self._check()
        cdef qk_ring_consumer *c = &self.r.cons[index]
        c.pid = 0
        c.start_time = 0

    def leave(self, int index):
        """Free a consumer slot; a blocking consumer stops holding the producer back."""
        self._check()
        cdef qk_ring_consumer *c = &self.r.cons[index]
        qk_store_release_u32(&c.state, QK_CONSUMER_FREE)
        qk_ring_notify_space(&self.r)

    def producer(self, int wait, uint32_t spins):
        """A producer bound to this ring (the caller enforces that there is only one)."""
        self._check()
        p = Producer()
        p._bind(self, wait, spins)
        return p

    def consumer(self, int index, int wait, uint32_t spins, bint auto_commit):
        """A consumer bound to slot ``index`` (claimed with :meth:`join`)."""
        self._check()
        c = Consumer()
        c._bind(self, index, wait, spins, auto_commit)
        return c


cdef class Producer:
    """The single writer of a ring. ``write`` copies one record, ``write_batch`` many."""

    cdef qk_ring r
    cdef RingView owner
    cdef int wait
    cdef uint32_t spins
    cdef uint64_t next_seq
    cdef unsigned char *scratch

    cdef void _bind(self, RingView owner, int wait, uint32_t spins):
        self.owner = owner
        self.r = owner.r
        self.wait = wait
        self.spins = spins
        self.next_seq = qk_load_acquire_u64(&self.r.prod.published)

    @property
    def slot_size(self):
        return self.r.slot_size

    @property
    def capacity(self):
        return self.r.capacity

    @property
    def position(self):
        """Sequence number the next record will get."""
        return self.next_seq

    cdef int _claim(self, uint64_t n, int64_t timeout_ns) except -1:
        cdef qk_waiter w
        cdef int rc
        qk_waiter_init(&w, self.wait, self.spins, 0)
        rc = qk_ring_claim(&self.r, self.next_seq, n, &w)
        if rc == QK_OK:
            return 0
        if timeout_ns == 0:
            raise RingTimeout("ring is full: a blocking consumer has not caught up")
        qk_waiter_init(&w, self.wait, self.spins, timeout_ns)
        with nogil:
            rc = qk_ring_claim(&self.r, self.next_seq, n, &w)
        if rc != QK_OK:
            raise RingTimeout("ring stayed full until the timeout: a blocking consumer is stuck")
        return 0

    def write(self, object data, timeout=None):
        """Copy one record (at most ``slot_size`` bytes; a shorter one is zero-padded) and publish it.

        Blocks, per the wait strategy, while a blocking consumer is a full ring behind. Returns the
        record's sequence number. Raises :class:`RingTimeout` if ``timeout`` seconds pass first.
        """
        cdef Py_buffer view
        cdef const unsigned char *src
        cdef Py_ssize_t n
        cdef uint64_t seq = self.next_seq
        cdef unsigned char *slot
        cdef bint is_bytes = PyBytes_CheckExact(data)
        if is_bytes:
            src = <const unsigned char *>PyBytes_AS_STRING(data)
            n = PyBytes_GET_SIZE(data)
        else:
            PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
            src = <const unsigned char *>view.buf
            n = view.len
        try:
            if n > self.r.slot_size:
                raise ValueError(f"record of {n} bytes does not fit a {self.r.slot_size}-byte slot")
            self._claim(1, _timeout_ns(timeout))
            slot = self.r.data + (seq & self.r.mask) * self.r.slot_size
            memcpy(slot, src, n)
            if n < self.r.slot_size:
                memset(slot + n, 0, self.r.slot_size - n)
        finally:
            if not is_bytes:
                PyBuffer_Release(&view)
        self.next_seq = seq + 1
        qk_ring_publish(&self.r, self.next_seq)
        return seq

    def write_batch(self, object records, timeout=None):
        """Copy and publish a contiguous block of records, publishing once per chunk.

        ``records`` is any buffer of ``k * record_size`` bytes: a numpy structured array (its
        itemsize is the record size), or bytes holding whole slots. Returns the sequence number of the
        first record. Blocks while the ring is full; a batch larger than the ring is written in
        ring-sized chunks.
        """
        cdef Py_buffer view
        cdef uint64_t first = self.next_seq
        cdef uint64_t total, done = 0, n
        cdef uint32_t stride
        cdef int64_t tns = _timeout_ns(timeout)
        PyObject_GetBuffer(records, &view, PyBUF_SIMPLE)
        try:
            itemsize = getattr(records, "itemsize", None)
            stride = <uint32_t>(itemsize if itemsize is not None and getattr(records, "dtype", None) is not None
                                and records.dtype.names is not None else self.r.slot_size)
            if stride == 0 or stride > self.r.slot_size:
                raise ValueError(f"records of {stride} bytes do not fit a {self.r.slot_size}-byte slot")
            if view.len % stride:
                raise ValueError(f"buffer of {view.len} bytes is not a whole number of {stride}-byte records")
            total = view.len // stride
            while done < total:
                n = total - done
                if n > self.r.capacity:
                    n = self.r.capacity
                self._claim(n, tns)
                qk_ring_copy_in(&self.r, self.next_seq, <const unsigned char *>view.buf + done * stride, n, stride)
                self.next_seq += n
                qk_ring_publish(&self.r, self.next_seq)
                done += n
        finally:
            PyBuffer_Release(&view)
        return first


cdef class Consumer:
    """One reader of a ring, with its own cursor in shared memory."""

    cdef qk_ring r
    cdef RingView owner
    cdef qk_ring_consumer *slot
    cdef int index
    cdef int wait
    cdef uint32_t spins
    cdef bint lossy
    cdef bint auto_commit
    cdef uint64_t next_seq
    cdef uint64_t known_published  # a published cursor seen earlier: records below it need no wait
    cdef uint64_t gaps

    cdef void _bind(self, RingView owner, int index, int wait, uint32_t spins, bint auto_commit):
        self.owner = owner
        self.r = owner.r
        self.index = index
        self.slot = &self.r.cons[index]
        self.wait = wait
        self.spins = spins
        self.lossy = self.slot.policy == QK_POLICY_LOSSY
        self.auto_commit = auto_commit
        self.next_seq = qk_load_acquire_u64(&self.slot.cursor)
        self.gaps = self.slot.gaps

    @property
    def index(self):
        return self.index

    @property
    def lossy(self):
        """True for a lossy consumer (the producer does not wait for it)."""
        return self.lossy

    @property
    def slot_size(self):
        return self.r.slot_size

    @property
    def position(self):
        """Sequence number of the next record this consumer will read."""
        return self.next_seq

    @property
    def committed(self):
        """The cursor in shared memory: everything below it is consumed."""
        return qk_load_acquire_u64(&self.slot.cursor)

    @property
    def gaps(self):
        """Records this (lossy) consumer missed because the producer overwrote them."""
        return self.gaps

    @property
    def available(self):
        """Records published and not yet read by this consumer."""
        return qk_load_acquire_u64(&self.r.prod.published) - self.next_seq

    def commit(self):
        """Publish the cursor: everything read so far is consumed and its slots may be reused."""
        self._commit()

    cdef inline void _commit(self):
        if self.lossy:
            self.slot.gaps = self.gaps
            qk_store_release_u64(&self.slot.cursor, self.next_seq)
        else:
            qk_store_release_u64(&self.slot.cursor, self.next_seq)
            qk_ring_notify_space(&self.r)

    def seek(self, uint64_t position):
        """Move the read position. Forward: up to the published cursor. Backward: only to records
        still in the ring, and only before anything past them was committed by a blocking consumer."""
        cdef uint64_t published = qk_load_acquire_u64(&self.r.prod.published)
        cdef uint64_t claimed = qk_load_acquire_u64(&self.r.prod.claimed)
        cdef uint64_t oldest = claimed - self.r.capacity if claimed > self.r.capacity else 0
        if position > published:
            raise ValueError(f"cannot seek to {position}: only {published} records were published")
        if position < oldest:
            raise ValueError(f"cannot seek to {position}: the oldest record still in the ring is {oldest}")
        cdef uint64_t committed = qk_load_acquire_u64(&self.slot.cursor)
        self.next_seq = position
        if position < committed:
            qk_store_release_u64(&self.slot.cursor, position)
            if not self.lossy:
                self.owner._announce(self.slot)
                self.next_seq = qk_load_acquire_u64(&self.slot.cursor)
                if self.next_seq != position:
                    raise ValueError(f"cannot seek to {position}: the producer overwrote it meanwhile")

    cdef int _wait(self, int64_t timeout_ns, uint64_t *published) except -1:
        cdef qk_waiter w
        cdef int rc
        if self.next_seq < self.known_published:
            published[0] = self.known_published
            return 1
        qk_waiter_init(&w, self.wait, self.spins, 0)
        rc = qk_ring_wait_readable(&self.r, self.next_seq, &w, published)
        if rc == QK_OK:
            self.known_published = published[0]
            return 1
        if rc == QK_CLOSED:
            raise RingClosed("the producer closed the ring and every record has been read")
        if timeout_ns == 0:
            return 0
        qk_waiter_init(&w, self.wait, self.spins, timeout_ns)
        with nogil:
            rc = qk_ring_wait_readable(&self.r, self.next_seq, &w, published)
        if rc == QK_CLOSED:
            raise RingClosed("the producer closed the ring and every record has been read")
        if rc != QK_OK:
            return 0
        self.known_published = published[0]
        return 1

    cdef int64_t _copy(self, unsigned char *dst, uint64_t published, uint64_t max_n) except -1:
        cdef int64_t n = qk_ring_copy_out(&self.r, &self.next_seq, published, dst, max_n,
                                          self.lossy, &self.gaps)
        if self.auto_commit:
            self._commit()
        return n

    def read(self, timeout=None):
        """The next record as ``bytes`` (one slot), or ``None`` if ``timeout`` seconds pass first.

        ``timeout=None`` waits forever, ``0`` only polls. Raises :class:`RingClosed` when the producer
        closed the ring and everything was read.
        """
        cdef uint64_t published
        cdef int64_t n = 0
        cdef int64_t tns = _timeout_ns(timeout)
        out = PyBytes_FromStringAndSize(NULL, self.r.slot_size)
        while n == 0:  # 0: a lossy consumer skipped a whole overwritten span; wait again
            if not self._wait(tns, &published):
                return None
            n = self._copy(<unsigned char *>PyBytes_AS_STRING(out), published, 1)
        return out

    def read_into(self, object buffer, timeout=None):
        """Copy the next record into ``buffer`` (a writable buffer of at least one slot).

        Returns True, or False if ``timeout`` passed. No allocation per record.
        """
        cdef uint64_t published
        cdef Py_buffer view
        cdef int64_t n
        PyObject_GetBuffer(buffer, &view, PyBUF_SIMPLE | PyBUF_WRITABLE)
        try:
            if view.len < self.r.slot_size:
                raise ValueError(f"buffer of {view.len} bytes cannot hold a {self.r.slot_size}-byte slot")
            n = 0
            while n == 0:  # 0: a lossy consumer skipped a whole overwritten span; wait again
                if not self._wait(_timeout_ns(timeout), &published):
                    return False
                n = self._copy(<unsigned char *>view.buf, published, 1)
            return True
        finally:
            PyBuffer_Release(&view)

    def read_batch(self, object out, timeout=None):
        """Copy up to ``len(out) // slot_size`` available records into ``out``; return the count.

        Waits (per the wait strategy) for at least one record unless ``timeout`` is 0; returns 0 on
        timeout. ``out`` is a writable buffer: a numpy structured array whose itemsize equals the slot
        size, or a uint8 array of whole slots. The cursor is published once per batch.
        """
        cdef uint64_t published
        cdef Py_buffer view
        cdef int64_t n
        PyObject_GetBuffer(out, &view, PyBUF_SIMPLE | PyBUF_WRITABLE)
        try:
            if view.len < self.r.slot_size:
                raise ValueError(f"buffer of {view.len} bytes cannot hold a {self.r.slot_size}-byte slot")
            n = 0
            while n == 0:  # 0: a lossy consumer skipped a whole overwritten span; wait again
                if not self._wait(_timeout_ns(timeout), &published):
                    return 0
                n = self._copy(<unsigned char *>view.buf, published,
                               <uint64_t>(view.len // self.r.slot_size))
            return n
        finally:
            PyBuffer_Release(&view)
