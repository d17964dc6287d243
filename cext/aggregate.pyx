# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Tick-to-bar aggregation in C (``cext/qk_aggregate.h``), compiled as ``qk.bars._aggregate``.

``AggregatorCore`` owns one instrument's aggregation state. ``update`` runs a whole array of ticks
with the GIL released (backtests, ``qk bars``); ``on_trade`` takes one tick (live feeds) and
allocates nothing. Both call the same C function per tick, so they give identical bars. Use it
through ``qk.bars.BarAggregator``, which validates the configuration.
"""

from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc
from libc.string cimport memcpy, memset

cimport numpy as cnp
import numpy as np

from records cimport qk_bar_event_t, QK_TYPE_BAR_EVENT, QK_VERSION_BAR_EVENT

from qk.schemas import dtype_of

cnp.import_array()


cdef extern from "qk_aggregate.h" nogil:
    int QK_AGG_TIME, QK_AGG_TICK, QK_AGG_VOLUME
    int QK_TICK_ACCEPTED, QK_TICK_TOO_LATE, QK_TICK_DUPLICATE, QK_TICK_OUT_OF_SESSION
    int QK_ERR_NO_MEMORY, QK_ERR_OUTSIDE_CALENDAR, QK_ERR_INTERNAL

    ctypedef struct qk_bar_acc_t:
        # Python never reads a bar accumulator; naming the leading fields is enough for Cython.
        int64_t open_time
        int64_t close_time

    ctypedef struct qk_agg_spec_t:
        int kind
        int64_t size

    ctypedef struct qk_agg_gap_t:
        int64_t ts_from
        int64_t ts_to

    ctypedef struct qk_agg_t:
        qk_agg_spec_t *specs
        size_t n_specs
        int64_t lateness, emit_delay, idle_timeout, origin
        int contiguous_ids, emit_empty
        uint64_t max_empty_run
        const int64_t *session_start
        const int64_t *session_end
        size_t n_sessions
        int64_t max_time_size
        uint16_t rec_type, rec_size, source
        uint8_t rec_version, bar_source
        uint32_t instrument_id
        int has_max
        int64_t max_ts, w_pub, w_final
        qk_bar_event_t *out
        size_t n_out
        qk_agg_gap_t *resync
        size_t n_resync
        uint64_t accepted, too_late, duplicates, out_of_session, gap_count, revisions, published
        uint64_t empty_skipped
        int64_t error_ts

    int qk_agg_trade(qk_agg_t *a, int64_t ts, int64_t recv, int64_t price, int64_t qty,
                     uint64_t id)
    int qk_agg_gap(qk_agg_t *a, int64_t ts_from, int64_t ts_to, int64_t recv)
    int qk_agg_flush(qk_agg_t *a, int64_t now)
    int qk_agg_finish(qk_agg_t *a, int64_t recv)
    void qk_agg_free(qk_agg_t *a)


TIME = QK_AGG_TIME
TICK = QK_AGG_TICK
VOLUME = QK_AGG_VOLUME
TICK_ACCEPTED = QK_TICK_ACCEPTED
TICK_TOO_LATE = QK_TICK_TOO_LATE
TICK_DUPLICATE = QK_TICK_DUPLICATE
TICK_OUT_OF_SESSION = QK_TICK_OUT_OF_SESSION

_BAR_DTYPE = dtype_of("BarEvent")
assert _BAR_DTYPE.itemsize == sizeof(qk_bar_event_t), "BarEvent dtype and C struct disagree"


class OutsideCalendarError(ValueError):
    """A tick's event time lies outside the years the session calendar covers."""


cdef class AggregatorCore:
    """One instrument's bars for several specs at once. See ``qk.bars.BarAggregator``."""

    cdef qk_agg_t agg
    cdef object _session_start
    cdef object _session_end

    def __cinit__(self):
        memset(&self.agg, 0, sizeof(qk_agg_t))

    def __init__(self, list specs, *, int64_t lateness_ns, int64_t emit_delay_ns,
                 int64_t idle_timeout_ns, int64_t origin_ns, bint contiguous_ids,
                 bint emit_empty, uint64_t max_empty_run, object session_start,
                 object session_end, uint32_t instrument_id, uint8_t bar_source,
                 uint16_t source):
        cdef size_t k
        cdef const int64_t[::1] starts
        cdef const int64_t[::1] ends
        if self.agg.specs != NULL:
            raise RuntimeError("AggregatorCore is already initialised")
        self.agg.specs = <qk_agg_spec_t *>calloc(len(specs), sizeof(qk_agg_spec_t))
        if self.agg.specs == NULL:
            raise MemoryError()
        self.agg.n_specs = len(specs)
        for k in range(len(specs)):
            kind, size = specs[k]
            self.agg.specs[k].kind = kind
            self.agg.specs[k].size = size
            if kind == QK_AGG_TIME and size > self.agg.max_time_size:
                self.agg.max_time_size = size
        self.agg.lateness = lateness_ns
        self.agg.emit_delay = emit_delay_ns
        self.agg.idle_timeout = idle_timeout_ns
        self.agg.origin = origin_ns
        self.agg.contiguous_ids = contiguous_ids
        self.agg.emit_empty = emit_empty
        self.agg.max_empty_run = max_empty_run
        if session_start is not None:
            self._session_start = np.ascontiguousarray(session_start, dtype=np.int64)
            self._session_end = np.ascontiguousarray(session_end, dtype=np.int64)
            starts = self._session_start
            ends = self._session_end
            self.agg.session_start = &starts[0]
            self.agg.session_end = &ends[0]
            self.agg.n_sessions = starts.shape[0]
        self.agg.rec_type = QK_TYPE_BAR_EVENT
        self.agg.rec_version = QK_VERSION_BAR_EVENT
        self.agg.rec_size = sizeof(qk_bar_event_t)
        self.agg.source = source
        self.agg.instrument_id = instrument_id
        self.agg.bar_source = bar_source

    def __dealloc__(self):
        qk_agg_free(&self.agg)

    cdef int _check(self, int rc, object where) except -1:
        if rc >= 0:
            return 0
        if rc == QK_ERR_NO_MEMORY:
            raise MemoryError(f"bar aggregation ran out of memory {where}")
        if rc == QK_ERR_OUTSIDE_CALENDAR:
            raise OutsideCalendarError(
                f"tick at ts_event={self.agg.error_ts} ns {where} lies outside the session "
                "calendar's years; add that year's holidays to the calendar data file"
            )
        raise RuntimeError(f"bar aggregation internal error {rc} {where}")

    cpdef int on_trade(self, int64_t ts_event, int64_t ts_recv, int64_t price, int64_t quantity,
                       uint64_t trade_id) except -1:
        """Aggregate one tick; return the number of bars waiting in ``take_bars``."""
        cdef int rc = qk_agg_trade(&self.agg, ts_event, ts_recv, price, quantity, trade_id)
        if rc < 0:
            self._check(rc, "(on_trade)")
        return <int>self.agg.n_out

    def update(self, const int64_t[:] ts_event, const int64_t[:] ts_recv,
               const int64_t[:] price, const int64_t[:] quantity, const uint64_t[:] trade_id):
        """Aggregate arrays of ticks in one call; return the bars published (BarEvent array)."""
        cdef Py_ssize_t n = ts_event.shape[0], i
        cdef int rc = 0
        if not (ts_recv.shape[0] == price.shape[0] == quantity.shape[0] == trade_id.shape[0] == n):
            raise ValueError(
                f"tick arrays differ in length: ts_event {n}, ts_recv {ts_recv.shape[0]}, "
                f"price {price.shape[0]}, quantity {quantity.shape[0]}, "
                f"trade_id {trade_id.shape[0]}"
            )
        with nogil:
            for i in range(n):
                rc = qk_agg_trade(&self.agg, ts_event[i], ts_recv[i], price[i], quantity[i],
                                  trade_id[i])
                if rc < 0:
                    break
        if rc < 0:
            self._check(rc, f"(tick index {i})")
        return self.take_bars()

    def update_indexed(self, const int64_t[:] ts_event, const int64_t[:] ts_recv,
                       const int64_t[:] price, const int64_t[:] quantity,
                       const uint64_t[:] trade_id):
        """As ``update``, and also return, per bar, the index of the tick after which it was
        published: a backtest delivers each bar exactly where a live feed would have."""
        cdef Py_ssize_t n = ts_event.shape[0], i
        cdef int rc = 0
        cdef size_t before = self.agg.n_out, k
        if not (ts_recv.shape[0] == price.shape[0] == quantity.shape[0] == trade_id.shape[0] == n):
            raise ValueError(
                f"tick arrays differ in length: ts_event {n}, ts_recv {ts_recv.shape[0]}, "
                f"price {price.shape[0]}, quantity {quantity.shape[0]}, "
                f"trade_id {trade_id.shape[0]}"
            )
        after = []
        for i in range(n):
            rc = qk_agg_trade(&self.agg, ts_event[i], ts_recv[i], price[i], quantity[i],
                              trade_id[i])
            if rc < 0:
                break
            if self.agg.n_out != before:
                for k in range(self.agg.n_out - before):
                    after.append(i)
                before = self.agg.n_out
        if rc < 0:
            self._check(rc, f"(tick index {i})")
        return self.take_bars(), np.asarray(after, dtype=np.int64)

    def on_gap(self, int64_t ts_from, int64_t ts_to, int64_t ts_recv=0):
        """Report a venue sequence gap; return the number of bars waiting."""
        self._check(qk_agg_gap(&self.agg, ts_from, ts_to, ts_recv), "(on_gap)")
        return self.agg.n_out

    def flush(self, int64_t now_ns):
        """Wall-clock flush of a quiet feed; return the number of bars waiting."""
        self._check(qk_agg_flush(&self.agg, now_ns), "(flush)")
        return self.agg.n_out

    def finish(self, int64_t ts_recv=0):
        """End of stream: publish and finalise every bar; return the bars published."""
        self._check(qk_agg_finish(&self.agg, ts_recv), "(finish)")
        return self.take_bars()

    def take_bars(self):
        """Return the bars published since the last call (BarEvent array) and clear them."""
        cdef size_t n = self.agg.n_out
        out = np.empty(n, dtype=_BAR_DTYPE)
        cdef cnp.ndarray arr = out
        if n:
            memcpy(cnp.PyArray_DATA(arr), self.agg.out, n * sizeof(qk_bar_event_t))
        self.agg.n_out = 0
        return out

    def take_resync_requests(self):
        """Return the gaps reported since the last call as an ``(n, 2)`` int64 array
        ``[ts_from, ts_to]`` and clear them. A non-empty answer asks the feed to resync."""
        cdef size_t n = self.agg.n_resync, i
        out = np.empty((n, 2), dtype=np.int64)
        cdef int64_t[:, ::1] view = out
        for i in range(n):
            view[i, 0] = self.agg.resync[i].ts_from
            view[i, 1] = self.agg.resync[i].ts_to
        self.agg.n_resync = 0
        return out

    @property
    def bars_waiting(self):
        return self.agg.n_out

    @property
    def resync_waiting(self):
        return self.agg.n_resync

    @property
    def max_ts(self):
        return self.agg.max_ts if self.agg.has_max else None

    @property
    def watermark(self):
        return self.agg.w_final if self.agg.has_max else None

    def metrics(self):
        """Counters since construction, by name."""
        return {
            "ticks_accepted": self.agg.accepted,
            "ticks_too_late": self.agg.too_late,
            "ticks_duplicate": self.agg.duplicates,
            "ticks_out_of_session": self.agg.out_of_session,
            "gaps": self.agg.gap_count,
            "bars_published": self.agg.published,
            "bar_revisions": self.agg.revisions,
            "empty_runs_skipped": self.agg.empty_skipped,
        }
