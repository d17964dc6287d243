/* Tick-to-bar aggregation: one instrument's trades (or quotes) into several bar specs at once.
 *
 * The protocol (docs/marketdata.md "Bars and time"):
 *   - max_ts is the largest event time accepted so far. Two watermarks derive from it:
 *       publish watermark  W_pub   = max_ts - emit_delay   (a bar is published when W_pub >= close)
 *       final watermark    W_final = max_ts - lateness     (a bar is final when W_final >= close)
 *     emit_delay <= lateness. A tick with ts < W_final is too late: counted and dropped, for every
 *     spec alike. Any other tick lands in a bar that is not final yet; if that bar was already
 *     published, the change is published at once as a revision (REVISED, revision + 1).
 *   - Duplicate trade ids (id != 0) are ignored; ids are remembered while their tick could still
 *     matter (ts >= W_final).
 *   - A venue sequence gap marks every bar overlapping it INCOMPLETE and queues a resync request.
 *   - Time bars sit on a grid: continuous (origin + k * size) or per session (session start +
 *     k * size, clipped at the session end, so no bar spans a session break).
 *   - Empty time buckets between two non-empty bars become EMPTY bars when they turn final.
 *   - Tick and volume bars follow arrival order (they have no time grid to revise).
 *
 * Everything here is plain C with no Python: the Cython wrapper (cext/aggregate.pyx) calls it with
 * the GIL released for whole arrays, or once per record for live feeds. Both paths call
 * qk_agg_trade, so they produce identical bars by construction (and tests check it).
 */
#ifndef QK_AGGREGATE_H
#define QK_AGGREGATE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "records.h"

#define QK_AGG_TIME 1
#define QK_AGG_TICK 2
#define QK_AGG_VOLUME 3

#define QK_BAR_REVISED 1
#define QK_BAR_INCOMPLETE 2
#define QK_BAR_EMPTY 4
#define QK_BAR_FLUSHED 16

/* qk_agg_trade results (>= 0 is "accepted"). */
#define QK_TICK_ACCEPTED 0
#define QK_TICK_TOO_LATE 1
#define QK_TICK_DUPLICATE 2
#define QK_TICK_OUT_OF_SESSION 3
#define QK_ERR_NO_MEMORY -1
#define QK_ERR_OUTSIDE_CALENDAR -2
#define QK_ERR_INTERNAL -3

#define QK_AGG_MAX_GAPS 64
#define QK_TS_MIN INT64_MIN
#define QK_TS_MAX INT64_MAX

typedef struct qk_bar_acc {
    int64_t open_time, close_time;
    int64_t open, high, low, close;
    int64_t volume;
    __int128 notional;          /* sum price * qty: raw prices times raw quantities overflow int64 */
    uint64_t count;
    int64_t first_ts, last_ts;  /* (ts, id) of the ticks holding open and close: out-of-order */
    uint64_t first_id, last_id; /* ticks must not move open/close to the wrong trade */
    uint16_t revision;
    uint8_t flags;
    uint8_t published;
    int32_t session;            /* session index of open_time (-1: continuous grid) */
} qk_bar_acc_t;

typedef struct qk_agg_spec {
    int kind;
    int64_t size;
    qk_bar_acc_t *pending;      /* TIME: bars not final yet, sorted by open_time */
    size_t n_pending, cap_pending;
    int64_t cache_open, cache_close; /* TIME: the last bucket computed (most ticks hit it again) */
    int32_t cache_session;
    int64_t due_pub, due_final; /* TIME: nothing to sweep while the watermarks stay below these */
    int has_final_next;         /* TIME: the next bucket to finalise is known */
    int64_t final_next_open;
    int32_t final_next_session;
    int has_last_close;
    int64_t last_close;         /* close of the last final bar: the OHLC of an EMPTY bar */
    qk_bar_acc_t cur;           /* TICK/VOLUME: the bar being filled */
    int has_cur;
    uint8_t next_flags;         /* TICK/VOLUME: flags for the next bar (a gap before it started) */
} qk_agg_spec_t;

typedef struct qk_agg_gap {
    int64_t ts_from, ts_to;
} qk_agg_gap_t;

typedef struct qk_dedup {
    uint64_t *ids;              /* open addressing, 0 = empty slot (id 0 means "no id") */
    int64_t *ts;
    size_t cap, used;
} qk_dedup_t;

/* A run of consecutive trade ids [lo, hi], all seen; max_ts is the latest event time among them.
 * Venues with contiguous ids (Binance) deliver one long run, so de-duplication costs no memory
 * traffic; ids out of order fall back to the hash set. */
typedef struct qk_id_run {
    uint64_t lo, hi;
    int64_t max_ts;
} qk_id_run_t;

#define QK_RUN_MIN_KEEP 9  /* a finished run shorter than this goes into the hash set instead */

typedef struct qk_agg {
    /* configuration */
    qk_agg_spec_t *specs;
    size_t n_specs;
    int64_t lateness, emit_delay, idle_timeout, origin;
    int contiguous_ids, emit_empty;
    uint64_t max_empty_run;
    const int64_t *session_start, *session_end; /* NULL: continuous grid */
    size_t n_sessions;
    size_t session_hint;
    int64_t max_time_size;
    /* output header fields */
    uint16_t rec_type, rec_size, source;
    uint8_t rec_version, bar_source;
    uint32_t instrument_id;
    uint64_t out_seq;
    /* state */
    int has_max;
    int64_t max_ts, last_recv, w_pub, w_final;
    uint64_t max_id;
    int64_t max_id_ts;
    qk_dedup_t dedup;
    qk_id_run_t run;            /* the current run (valid when has_run) */
    int has_run;
    qk_id_run_t *old_runs;      /* finished runs still inside the lateness, unordered */
    size_t n_old_runs, cap_old_runs;
    qk_agg_gap_t gaps[QK_AGG_MAX_GAPS];
    size_t n_gaps;
    /* output */
    qk_bar_event_t *out;
    size_t n_out, cap_out;
    qk_agg_gap_t *resync;
    size_t n_resync, cap_resync;
    /* metrics */
    uint64_t accepted, too_late, duplicates, out_of_session, gap_count, revisions, published,
             empty_skipped;
    int64_t error_ts;
} qk_agg_t;

/* ---- small helpers ------------------------------------------------------------------------- */

static inline int64_t qk_floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static int qk_grow(void **buf, size_t *cap, size_t need, size_t item) {
    if (need <= *cap) return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) ncap *= 2;
    void *p = realloc(*buf, ncap * item);
    if (!p) return QK_ERR_NO_MEMORY;
    *buf = p;
    *cap = ncap;
    return 0;
}

/* ---- de-duplication set ------------------------------------------------------------------- */

static inline size_t qk_hash_id(uint64_t id, size_t cap) {
    id ^= id >> 33;
    id *= UINT64_C(0xff51afd7ed558ccd);
    id ^= id >> 33;
    return (size_t)id & (cap - 1);
}

static int qk_dedup_insert_raw(qk_dedup_t *d, uint64_t id, int64_t ts) {
    size_t i = qk_hash_id(id, d->cap);
    while (d->ids[i] != 0) {
        if (d->ids[i] == id) return 1;
        i = (i + 1) & (d->cap - 1);
    }
    d->ids[i] = id;
    d->ts[i] = ts;
    d->used++;
    return 0;
}

/* Rebuild, keeping only ids whose tick is not too late yet (ts >= keep_from); grow if still busy. */
static int qk_dedup_rehash(qk_dedup_t *d, int64_t keep_from) {
    size_t live = 0;
    for (size_t i = 0; i < d->cap; i++)
        if (d->ids[i] != 0 && d->ts[i] >= keep_from) live++;
    size_t ncap = d->cap ? d->cap : 4096;
    while (live * 4 >= ncap) ncap *= 2;
    uint64_t *ids = calloc(ncap, sizeof(uint64_t));
    int64_t *ts = malloc(ncap * sizeof(int64_t));
    if (!ids || !ts) { free(ids); free(ts); return QK_ERR_NO_MEMORY; }
    qk_dedup_t n = {ids, ts, ncap, 0};
    for (size_t i = 0; i < d->cap; i++)
        if (d->ids[i] != 0 && d->ts[i] >= keep_from) qk_dedup_insert_raw(&n, d->ids[i], d->ts[i]);
    free(d->ids);
    free(d->ts);
    *d = n;
    return 0;
}

static inline int qk_dedup_contains(const qk_dedup_t *d, uint64_t id) {
    if (d->cap == 0) return 0;
    size_t i = qk_hash_id(id, d->cap);
    while (d->ids[i] != 0) {
        if (d->ids[i] == id) return 1;
        i = (i + 1) & (d->cap - 1);
    }
    return 0;
}

static inline int qk_dedup_insert(qk_agg_t *a, uint64_t id, int64_t ts) {
    qk_dedup_t *d = &a->dedup;
    if ((d->used + 1) * 2 > d->cap) {
        int rc = qk_dedup_rehash(d, a->has_max ? a->w_final : QK_TS_MIN);
        if (rc) return rc;
    }
    qk_dedup_insert_raw(d, id, ts);
    return 0;
}

static inline int qk_ids_contains(const qk_agg_t *a, uint64_t id) {
    if (a->has_run && id >= a->run.lo && id <= a->run.hi) return 1;
    for (size_t i = 0; i < a->n_old_runs; i++)
        if (id >= a->old_runs[i].lo && id <= a->old_runs[i].hi) return 1;
    return qk_dedup_contains(&a->dedup, id);
}

static int qk_ids_insert(qk_agg_t *a, uint64_t id, int64_t ts) {
    qk_id_run_t *r = &a->run;
    if (a->has_run && id == r->hi + 1) {
        r->hi = id;
        if (ts > r->max_ts) r->max_ts = ts;
        return 0;
    }
    if (a->has_run && id < r->lo) return qk_dedup_insert(a, id, ts);  /* out of order */
    /* A jump forward: the current run is finished. Keep it while its ticks can still arrive
     * again (max_ts >= watermark); a short one goes into the hash set. */
    if (a->has_run) {
        int64_t keep_from = a->has_max ? a->w_final : QK_TS_MIN;
        size_t keep = 0;
        for (size_t i = 0; i < a->n_old_runs; i++)
            if (a->old_runs[i].max_ts >= keep_from) a->old_runs[keep++] = a->old_runs[i];
        a->n_old_runs = keep;
        if (r->hi - r->lo + 1 < QK_RUN_MIN_KEEP) {
            for (uint64_t x = r->lo; x <= r->hi; x++) {
                int rc = qk_dedup_insert(a, x, r->max_ts);
                if (rc) return rc;
            }
        } else if (r->max_ts >= keep_from) {
            if (qk_grow((void **)&a->old_runs, &a->cap_old_runs, a->n_old_runs + 1,
                        sizeof(qk_id_run_t)))
                return QK_ERR_NO_MEMORY;
            a->old_runs[a->n_old_runs++] = *r;
        }
    }
    r->lo = r->hi = id;
    r->max_ts = ts;
    a->has_run = 1;
    return 0;
}

/* ---- calendar grid ------------------------------------------------------------------------ */

/* Index of the session holding ts, -1 if ts falls between sessions, -2 outside the table. */
static inline int32_t qk_session_of(qk_agg_t *a, int64_t ts) {
    size_t h = a->session_hint;
    if (h < a->n_sessions && ts >= a->session_start[h] && ts < a->session_end[h]) return (int32_t)h;
    if (ts < a->session_start[0] || ts >= a->session_end[a->n_sessions - 1]) return -2;
    size_t lo = 0, hi = a->n_sessions; /* first session with end > ts */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a->session_end[mid] <= ts) lo = mid + 1; else hi = mid;
    }
    if (ts < a->session_start[lo]) return -1;
    a->session_hint = lo;
    return (int32_t)lo;
}

static inline void qk_bucket(const qk_agg_t *a, int32_t session, int64_t ts, int64_t size,
                             int64_t *open, int64_t *close) {
    if (session < 0) {
        int64_t o = qk_floor_div(ts - a->origin, size) * size + a->origin;
        *open = o;
        *close = o + size;
    } else {
        int64_t s = a->session_start[session], e = a->session_end[session];
        int64_t o = s + ((ts - s) / size) * size;
        *open = o;
        *close = (e - o < size) ? e : o + size;
    }
}

/* The bucket after the one closing at `close` in `session`; returns 0 past the table's end. */
static inline int qk_next_bucket(const qk_agg_t *a, int32_t *session, int64_t close, int64_t size,
                                 int64_t *nopen, int64_t *nclose) {
    if (*session < 0) {
        *nopen = close;
        *nclose = close + size;
        return 1;
    }
    int32_t s = *session;
    if (close >= a->session_end[s]) {
        if ((size_t)(s + 1) >= a->n_sessions) return 0;
        s += 1;
        *session = s;
        close = a->session_start[s];
    }
    qk_bucket(a, s, close, size, nopen, nclose);
    return 1;
}

/* ---- publication -------------------------------------------------------------------------- */

static inline int qk_gap_overlaps(const qk_agg_t *a, int64_t open, int64_t close) {
    for (size_t g = 0; g < a->n_gaps; g++)
        if (a->gaps[g].ts_from < close && a->gaps[g].ts_to >= open) return 1;
    return 0;
}

static int qk_publish(qk_agg_t *a, const qk_agg_spec_t *sp, qk_bar_acc_t *b, int64_t recv,
                      uint64_t corr) {
    if (qk_grow((void **)&a->out, &a->cap_out, a->n_out + 1, sizeof(qk_bar_event_t)))
        return QK_ERR_NO_MEMORY;
    if (b->published) {
        b->revision++;
        b->flags |= QK_BAR_REVISED;
        a->revisions++;
    }
    b->published = 1;
    qk_bar_event_t *r = &a->out[a->n_out++];
    memset(r, 0, sizeof(*r));
    r->type = a->rec_type;
    r->version = a->rec_version;
    r->flags = b->flags;
    r->size = a->rec_size;
    r->source = a->source;
    r->seq = a->out_seq++;
    r->ts_event = b->close_time;
    r->ts_recv = recv;
    r->corr_id = corr;
    r->instrument_id = a->instrument_id;
    r->bar_source = a->bar_source;
    r->aggregation = (uint8_t)sp->kind;
    r->revision = b->revision;
    r->timeframe_ns = sp->size;
    r->open_time = b->open_time;
    r->close_time = b->close_time;
    r->open = b->open;
    r->high = b->high;
    r->low = b->low;
    r->close = b->close;
    r->volume = b->volume;
    if (b->volume > 0) {
        /* Round half away from zero at price precision + 4 decimals (AVERAGE_PRICE_EXTRA). */
        __int128 num = b->notional * 10000;
        __int128 v = b->volume;
        __int128 q = (num >= 0) ? (2 * num + v) / (2 * v) : -((-2 * num + v) / (2 * v));
        r->vwap = (int64_t)q;
    }
    r->trade_count = b->count;
    a->published++;
    return 0;
}

static inline void qk_acc_start(qk_bar_acc_t *b, int64_t open, int64_t close, int32_t session) {
    memset(b, 0, sizeof(*b));
    b->open_time = open;
    b->close_time = close;
    b->session = session;
}

static inline void qk_acc_add(qk_bar_acc_t *b, int64_t ts, int64_t price, int64_t qty,
                              uint64_t id) {
    if (b->count == 0 || (b->flags & QK_BAR_EMPTY)) {
        b->flags &= (uint8_t)~QK_BAR_EMPTY;
        b->open = b->high = b->low = b->close = price;
        b->first_ts = b->last_ts = ts;
        b->first_id = b->last_id = id;
    } else {
        if (price > b->high) b->high = price;
        if (price < b->low) b->low = price;
        if (ts < b->first_ts || (ts == b->first_ts && id < b->first_id)) {
            b->open = price; b->first_ts = ts; b->first_id = id;
        }
        if (ts > b->last_ts || (ts == b->last_ts && id >= b->last_id)) {
            b->close = price; b->last_ts = ts; b->last_id = id;
        }
    }
    b->volume += qty;
    b->notional += (__int128)price * qty;
    b->count++;
}

/* ---- time bars ---------------------------------------------------------------------------- */

static qk_bar_acc_t *qk_pending_get(qk_agg_t *a, qk_agg_spec_t *sp, int64_t open, int64_t close,
                                    int32_t session) {
    size_t i = sp->n_pending;
    while (i > 0 && sp->pending[i - 1].open_time > open) i--;   /* usually the last one */
    if (i > 0 && sp->pending[i - 1].open_time == open) return &sp->pending[i - 1];
    if (qk_grow((void **)&sp->pending, &sp->cap_pending, sp->n_pending + 1, sizeof(qk_bar_acc_t)))
        return NULL;
    memmove(&sp->pending[i + 1], &sp->pending[i], (sp->n_pending - i) * sizeof(qk_bar_acc_t));
    sp->n_pending++;
    qk_acc_start(&sp->pending[i], open, close, session);
    if (qk_gap_overlaps(a, open, close)) sp->pending[i].flags |= QK_BAR_INCOMPLETE;
    if (close < sp->due_pub) sp->due_pub = close;
    if (!sp->has_final_next && close < sp->due_final) sp->due_final = close;
    return &sp->pending[i];
}

/* The watermarks at which this spec next has something to publish or finalise. */
static void qk_spec_update_due(const qk_agg_t *a, qk_agg_spec_t *sp) {
    sp->due_pub = QK_TS_MAX;
    for (size_t i = 0; i < sp->n_pending; i++)
        if (!sp->pending[i].published) { sp->due_pub = sp->pending[i].close_time; break; }
    if (sp->has_final_next) {
        int64_t open, close;
        if (sp->final_next_session < 0) close = sp->final_next_open + sp->size;
        else qk_bucket(a, sp->final_next_session, sp->final_next_open, sp->size, &open, &close);
        sp->due_final = close;
    } else {
        sp->due_final = sp->n_pending ? sp->pending[0].close_time : QK_TS_MAX;
    }
}

/* Publish every pending bar due by `w_pub`; finalise (drop) every bar due by `w_final`, emitting
 * EMPTY bars for buckets nobody traded in. `finishing`: end of stream, finalise all pending bars. */
static int qk_sweep_time(qk_agg_t *a, qk_agg_spec_t *sp, int64_t w_pub, int64_t w_final,
                         int finishing, int64_t recv, uint64_t corr) {
    for (size_t i = 0; i < sp->n_pending && sp->pending[i].close_time <= w_pub; i++)
        if (!sp->pending[i].published && qk_publish(a, sp, &sp->pending[i], recv, corr))
            return QK_ERR_NO_MEMORY;
    uint64_t empty_run = 0;
    for (;;) {
        if (!sp->has_final_next) {
            /* Start the grid at the first bar once it is final: nothing earlier can arrive. */
            if (sp->n_pending == 0 || (!finishing && sp->pending[0].close_time > w_final)) break;
            sp->has_final_next = 1;
            sp->final_next_open = sp->pending[0].open_time;
            sp->final_next_session = sp->pending[0].session;
        }
        if (finishing && sp->n_pending == 0) break;
        int64_t open, close;
        if (sp->final_next_session < 0) {
            open = sp->final_next_open;
            close = open + sp->size;
        } else {
            qk_bucket(a, sp->final_next_session, sp->final_next_open, sp->size, &open, &close);
        }
        if (!finishing && close > w_final) break;
        if (sp->n_pending > 0 && sp->pending[0].open_time == open) {
            qk_bar_acc_t *b = &sp->pending[0];
            if (!b->published && qk_publish(a, sp, b, recv, corr)) return QK_ERR_NO_MEMORY;
            sp->last_close = b->close;
            sp->has_last_close = 1;
            memmove(&sp->pending[0], &sp->pending[1], (sp->n_pending - 1) * sizeof(qk_bar_acc_t));
            sp->n_pending--;
            empty_run = 0;
        } else if (sp->n_pending > 0 && sp->pending[0].open_time < open) {
            return QK_ERR_INTERNAL;  /* cannot happen: the grid only moves forward */
        } else if (a->emit_empty && sp->has_last_close && empty_run < a->max_empty_run) {
            qk_bar_acc_t e;
            qk_acc_start(&e, open, close, sp->final_next_session);
            e.open = e.high = e.low = e.close = sp->last_close;
            e.flags = QK_BAR_EMPTY;
            if (qk_gap_overlaps(a, open, close)) e.flags |= QK_BAR_INCOMPLETE;
            if (qk_publish(a, sp, &e, recv, corr)) return QK_ERR_NO_MEMORY;
            empty_run++;
        } else {
            /* A long quiet stretch (or empty bars off): jump to the next bar, counting the skip. */
            if (a->emit_empty && empty_run >= a->max_empty_run) a->empty_skipped++;
            if (sp->n_pending > 0) {
                sp->final_next_open = sp->pending[0].open_time;
                sp->final_next_session = sp->pending[0].session;
                continue;
            }
            sp->has_final_next = 0;
            break;
        }
        int32_t s = sp->final_next_session;
        int64_t no, nc;
        if (!qk_next_bucket(a, &s, close, sp->size, &no, &nc)) { sp->has_final_next = 0; break; }
        sp->final_next_open = no;
        sp->final_next_session = s;
    }
    qk_spec_update_due(a, sp);
    return 0;
}

/* ---- tick and volume bars ----------------------------------------------------------------- */

static int qk_count_bar_add(qk_agg_t *a, qk_agg_spec_t *sp, int64_t ts, int64_t price,
                            int64_t qty, uint64_t id, int64_t recv) {
    qk_bar_acc_t *b = &sp->cur;
    if (!sp->has_cur) {
        qk_acc_start(b, ts, ts, -1);
        b->flags = sp->next_flags;
        sp->next_flags = 0;
        sp->has_cur = 1;
    }
    qk_acc_add(b, ts, price, qty, id);
    if (ts < b->open_time) b->open_time = ts;
    if (ts > b->close_time) b->close_time = ts;
    int full = (sp->kind == QK_AGG_TICK) ? (int64_t)b->count >= sp->size : b->volume >= sp->size;
    if (full) {
        if (qk_publish(a, sp, b, recv, id)) return QK_ERR_NO_MEMORY;
        sp->has_cur = 0;
    }
    return 0;
}

/* ---- the per-tick entry point ------------------------------------------------------------- */

static int qk_agg_gap(qk_agg_t *a, int64_t ts_from, int64_t ts_to, int64_t recv);

static int qk_agg_trade(qk_agg_t *a, int64_t ts, int64_t recv, int64_t price, int64_t qty,
                        uint64_t id) {
    int rc;
    if (a->has_max && ts < a->w_final) { a->too_late++; return QK_TICK_TOO_LATE; }
    /* An id above every id seen cannot be a duplicate: skip the lookup (the common case). */
    if (id != 0 && id <= a->max_id && qk_ids_contains(a, id)) {
        a->duplicates++;
        return QK_TICK_DUPLICATE;
    }
    int32_t session = -1;
    if (a->session_start != NULL) {
        session = qk_session_of(a, ts);
        if (session == -2) { a->error_ts = ts; return QK_ERR_OUTSIDE_CALENDAR; }
    }
    if (id != 0) {
        if ((rc = qk_ids_insert(a, id, ts))) return rc;
        if (a->contiguous_ids && a->max_id != 0 && id > a->max_id + 1) {
            if ((rc = qk_agg_gap(a, a->max_id_ts, ts, recv))) return rc;
        }
        if (id > a->max_id) { a->max_id = id; a->max_id_ts = ts; }
    }
    a->last_recv = recv;
    int result = QK_TICK_ACCEPTED;
    if (session == -1 && a->session_start != NULL) {
        a->out_of_session++;
        result = QK_TICK_OUT_OF_SESSION;  /* still event-time evidence: it moves the watermark */
    } else {
        a->accepted++;
        for (size_t k = 0; k < a->n_specs; k++) {
            qk_agg_spec_t *sp = &a->specs[k];
            if (sp->kind == QK_AGG_TIME) {
                int64_t open = sp->cache_open, close = sp->cache_close;
                if (!(ts >= open && ts < close && session == sp->cache_session)) {
                    qk_bucket(a, session, ts, sp->size, &open, &close);
                    sp->cache_open = open;
                    sp->cache_close = close;
                    sp->cache_session = session;
                }
                qk_bar_acc_t *b = qk_pending_get(a, sp, open, close, session);
                if (!b) return QK_ERR_NO_MEMORY;
                qk_acc_add(b, ts, price, qty, id);
                /* Already published (revision), or due already (a late tick opened it). */
                if ((b->published || (a->has_max && close <= a->w_pub)) &&
                    qk_publish(a, sp, b, recv, id))
                    return QK_ERR_NO_MEMORY;
            } else if ((rc = qk_count_bar_add(a, sp, ts, price, qty, id, recv))) {
                return rc;
            }
        }
    }
    if (!a->has_max || ts > a->max_ts) {
        a->has_max = 1;
        a->max_ts = ts;
        a->w_pub = ts - a->emit_delay;
        a->w_final = ts - a->lateness;
        for (size_t k = 0; k < a->n_specs; k++) {
            qk_agg_spec_t *sp = &a->specs[k];
            if (sp->kind == QK_AGG_TIME && (a->w_pub >= sp->due_pub || a->w_final >= sp->due_final) &&
                (rc = qk_sweep_time(a, sp, a->w_pub, a->w_final, 0, recv, id)))
                return rc;
        }
        /* Forget gaps no bar can overlap any more. */
        size_t keep = 0;
        for (size_t g = 0; g < a->n_gaps; g++)
            if (a->gaps[g].ts_to >= a->w_final - a->max_time_size) a->gaps[keep++] = a->gaps[g];
        a->n_gaps = keep;
    }
    return result;
}

/* A venue sequence gap between ts_from and ts_to (inclusive): mark bars, queue a resync request. */
static int qk_agg_gap(qk_agg_t *a, int64_t ts_from, int64_t ts_to, int64_t recv) {
    if (a->n_gaps == QK_AGG_MAX_GAPS) {
        memmove(&a->gaps[0], &a->gaps[1], (QK_AGG_MAX_GAPS - 1) * sizeof(qk_agg_gap_t));
        a->n_gaps--;
    }
    a->gaps[a->n_gaps].ts_from = ts_from;
    a->gaps[a->n_gaps].ts_to = ts_to;
    a->n_gaps++;
    a->gap_count++;
    if (qk_grow((void **)&a->resync, &a->cap_resync, a->n_resync + 1, sizeof(qk_agg_gap_t)))
        return QK_ERR_NO_MEMORY;
    a->resync[a->n_resync].ts_from = ts_from;
    a->resync[a->n_resync].ts_to = ts_to;
    a->n_resync++;
    for (size_t k = 0; k < a->n_specs; k++) {
        qk_agg_spec_t *sp = &a->specs[k];
        if (sp->kind == QK_AGG_TIME) {
            for (size_t i = 0; i < sp->n_pending; i++) {
                qk_bar_acc_t *b = &sp->pending[i];
                if (b->open_time <= ts_to && b->close_time > ts_from &&
                    !(b->flags & QK_BAR_INCOMPLETE)) {
                    b->flags |= QK_BAR_INCOMPLETE;
                    if (b->published && qk_publish(a, sp, b, recv, 0)) return QK_ERR_NO_MEMORY;
                }
            }
        } else if (sp->has_cur) {
            sp->cur.flags |= QK_BAR_INCOMPLETE;  /* arrival order: the gap is inside this bar */
        } else {
            sp->next_flags |= QK_BAR_INCOMPLETE; /* ...or just before the next one */
        }
    }
    return 0;
}

/* Wall-clock flush of a quiet feed: publish (FLUSHED) the time bars that event time would have
 * closed by now, estimating event time as max_ts + wall time elapsed since the last tick arrived.
 * The bars stay revisable until the event-time watermark finalises them. */
static int qk_agg_flush(qk_agg_t *a, int64_t now) {
    if (!a->has_max || now - a->last_recv < a->idle_timeout) return 0;
    int64_t est = a->max_ts + (now - a->last_recv) - a->emit_delay;
    for (size_t k = 0; k < a->n_specs; k++) {
        qk_agg_spec_t *sp = &a->specs[k];
        if (sp->kind != QK_AGG_TIME) continue;
        for (size_t i = 0; i < sp->n_pending && sp->pending[i].close_time <= est; i++) {
            qk_bar_acc_t *b = &sp->pending[i];
            if (!b->published) {
                b->flags |= QK_BAR_FLUSHED;
                if (qk_publish(a, sp, b, now, 0)) return QK_ERR_NO_MEMORY;
            }
        }
    }
    return 0;
}

/* End of stream: publish and finalise everything, including partial tick/volume bars. */
static int qk_agg_finish(qk_agg_t *a, int64_t recv) {
    for (size_t k = 0; k < a->n_specs; k++) {
        qk_agg_spec_t *sp = &a->specs[k];
        if (sp->kind == QK_AGG_TIME) {
            if (qk_sweep_time(a, sp, QK_TS_MAX, QK_TS_MAX, 1, recv, 0)) return QK_ERR_NO_MEMORY;
        } else if (sp->has_cur) {
            if (qk_publish(a, sp, &sp->cur, recv, 0)) return QK_ERR_NO_MEMORY;
            sp->has_cur = 0;
        }
    }
    return 0;
}

static void qk_agg_free(qk_agg_t *a) {
    for (size_t k = 0; k < a->n_specs; k++) free(a->specs[k].pending);
    free(a->specs);
    free(a->dedup.ids);
    free(a->dedup.ts);
    free(a->out);
    free(a->resync);
    free(a->old_runs);
    memset(a, 0, sizeof(*a));
}

#endif /* QK_AGGREGATE_H */
