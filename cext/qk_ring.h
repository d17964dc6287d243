/*
 * qk_ring.h — single-producer, multi-consumer broadcast ring in shared memory (Disruptor style).
 *
 * Layout of one segment (all offsets fixed, little or big endian as the host):
 *
 *   [0,     256)   qk_ring_meta       immutable after creation: magic, version, slot size, capacity...
 *   [256,   640)   qk_ring_producer   three lines: publish, claim, and the rarely written wake-up words
 *   [640,   640 + 128 * max_consumers) one qk_ring_consumer line per consumer slot
 *   [data_offset, data_offset + capacity * slot_size)   the slots, data_offset page aligned
 *
 * Sequences are 64-bit and never wrap; slot index = seq & (capacity - 1).
 *
 * Protocol
 *   producer, to write seq s:
 *     if s >= gate_limit or join_epoch changed: rescan the blocking consumers' cursors
 *       (gate_limit = min(cursors, published) + capacity), waiting while s >= gate_limit;
 *     claimed := s + 1 (relaxed), seq_cst fence, re-check join_epoch (rescan if it moved);
 *     copy into slot s; published := s + 1 (release); wake blocked readers if any wait.
 *   consumer, to read seq c:
 *     c < published (acquire; a consumer re-reads `published` only when it has read everything
 *     it last saw) -> copy the slot. A blocking consumer is done: the gate guarantees the slot was
 *     not reused. A lossy consumer then fences (acquire) and reads `claimed`: if claimed >
 *     c + capacity the copy may be torn, so it skips to claimed - capacity and counts the gap.
 *   a consumer joins: cursor := published, state := ACTIVE, join_epoch += 1 (seq_cst), then
 *     re-reads claimed: if the producer already claimed past cursor + capacity, move the cursor
 *     up and repeat. After that the producer's next write sees the new epoch and gates on it.
 *
 * Wake-ups (spin-then-block): readers wait on pub_futex (low 32 bits of published), counting
 * themselves in pub_waiters; the producer calls FUTEX_WAKE only when pub_waiters != 0. The
 * producer waits for space on space_futex, which a blocking consumer bumps after a commit when
 * space_waiters != 0. Both pairs are Dekker-style: a seq_cst store followed by a seq_cst load on
 * each side, so a wake-up cannot be lost.
 */
#ifndef QK_RING_H
#define QK_RING_H

#include <stdint.h>
#include <string.h>

#include "qk_sync.h"

#define QK_RING_MAGIC 0x31474E49524B51ULL /* "QKRING1" */
#define QK_RING_VERSION 1u
#define QK_RING_LINE 128u
#define QK_RING_META_SIZE 256u
#define QK_RING_NAME_LEN 32u

enum { QK_CONSUMER_FREE = 0, QK_CONSUMER_CLAIMING = 1, QK_CONSUMER_ACTIVE = 2 };
enum { QK_POLICY_BLOCK = 0, QK_POLICY_LOSSY = 1 };
enum { QK_WAIT_BUSY_SPIN = 0, QK_WAIT_SPIN_YIELD = 1, QK_WAIT_SPIN_BLOCK = 2 };

/* Result codes of the waiting calls. */
enum { QK_OK = 0, QK_TIMEOUT = 1, QK_CLOSED = 2, QK_OVERRUN = 3 };

typedef struct {
    uint64_t magic;
    uint32_t version;
    uint32_t slot_size;
    uint64_t capacity;
    uint64_t schema_hash;
    uint32_t max_consumers;
    uint32_t stream_id;
    uint64_t data_offset;
    uint64_t total_size;
    int64_t created_ns;
    int64_t owner_pid;        /* the process that created the segment (a session's supervisor) */
    int64_t owner_start_time; /* its start time, against pid reuse */
    uint32_t closed;          /* set by the producer on clean close: no more records */
    uint32_t reserved0;
    char name[128];
    int64_t producer_pid;        /* the attached producer, 0 when none */
    int64_t producer_start_time; /* its start time, against pid reuse */
    char pad[24];
} qk_ring_meta;

/* The producer's state, split by who writes it how often, one line each, so that a consumer
 * streaming records does not pull the line the producer writes on every claim, and nothing written
 * on every record shares a line with something written rarely. */
typedef struct {
    /* line 1: written on every publish; read by consumers when they run out of known records */
    uint64_t published;     /* sequences < published are readable */
    uint32_t pub_futex;     /* low 32 bits of published, the futex word readers sleep on */
    uint32_t pub_waiters;   /* readers inside futex wait */
    char pad0[QK_RING_LINE - 16];
    /* line 2: written on every claim; read by lossy consumers after each copy */
    uint64_t claimed;       /* the producer may be writing sequence claimed - 1 */
    uint64_t gate_limit;    /* producer-private cache, kept here so a restarted producer rebuilds it */
    char pad1[QK_RING_LINE - 16];
    /* line 3: written rarely: a producer sleeping for space, a consumer joining */
    uint32_t space_futex;   /* bumped by blocking consumers on commit while the producer waits */
    uint32_t space_waiters; /* 1 while the producer sleeps for space */
    uint32_t join_epoch;    /* bumped whenever a blocking consumer joins or moves its cursor back */
    uint32_t reserved0;
    char pad2[QK_RING_LINE - 16];
} qk_ring_producer;

typedef struct {
    uint64_t cursor;   /* next sequence this consumer reads; everything below is consumed */
    uint64_t gaps;     /* records a lossy consumer missed */
    uint32_t state;
    uint32_t policy;
    int64_t pid;        /* attached process, 0 when detached (the cursor is kept for a resume) */
    char name[QK_RING_NAME_LEN];
    int64_t start_time; /* the attached process's start time, against pid reuse */
    char pad[QK_RING_LINE - 72];
} qk_ring_consumer;

_Static_assert(sizeof(qk_ring_meta) == QK_RING_META_SIZE, "meta must be 256 bytes");
_Static_assert(sizeof(qk_ring_producer) == 3 * QK_RING_LINE, "producer state must be three lines");
_Static_assert(sizeof(qk_ring_consumer) == QK_RING_LINE, "consumer line must be 128 bytes");

typedef struct {
    unsigned char *base;
    qk_ring_meta *meta;
    qk_ring_producer *prod;
    qk_ring_consumer *cons;
    unsigned char *data;
    uint64_t mask;
    uint64_t capacity;
    uint32_t slot_size;
    uint32_t max_consumers;
    uint32_t seen_epoch; /* producer-side copy of join_epoch */
} qk_ring;

static inline uint64_t qk_ring_data_offset(uint32_t max_consumers) {
    uint64_t end = QK_RING_META_SIZE + sizeof(qk_ring_producer) + (uint64_t)QK_RING_LINE * max_consumers;
    return (end + 4095u) & ~(uint64_t)4095u;
}

static inline uint64_t qk_ring_total_size(uint32_t slot_size, uint64_t capacity, uint32_t max_consumers) {
    return qk_ring_data_offset(max_consumers) + (uint64_t)slot_size * capacity;
}

static inline void qk_ring_bind(qk_ring *r, unsigned char *base) {
    r->base = base;
    r->meta = (qk_ring_meta *)base;
    r->prod = (qk_ring_producer *)(base + QK_RING_META_SIZE);
    r->cons = (qk_ring_consumer *)(base + QK_RING_META_SIZE + sizeof(qk_ring_producer));
    r->data = base + r->meta->data_offset;
    r->capacity = r->meta->capacity;
    r->mask = r->capacity - 1;
    r->slot_size = r->meta->slot_size;
    r->max_consumers = r->meta->max_consumers;
    r->seen_epoch = qk_load_seq_cst_u32(&r->prod->join_epoch) - 1u; /* force a first rescan */
}

/* Initialise a zero-filled segment. */
static inline void qk_ring_init(unsigned char *base, uint32_t slot_size, uint64_t capacity,
                                uint32_t max_consumers, uint64_t schema_hash, uint32_t stream_id,
                                int64_t pid, int64_t start_time, const char *name) {
    qk_ring_meta *m = (qk_ring_meta *)base;
    m->version = QK_RING_VERSION;
    m->slot_size = slot_size;
    m->capacity = capacity;
    m->schema_hash = schema_hash;
    m->max_consumers = max_consumers;
    m->stream_id = stream_id;
    m->data_offset = qk_ring_data_offset(max_consumers);
    m->total_size = qk_ring_total_size(slot_size, capacity, max_consumers);
    m->created_ns = qk_realtime_ns();
    m->owner_pid = pid;
    m->owner_start_time = start_time;
    strncpy(m->name, name, sizeof(m->name) - 1);
    /* Magic last, with release: an attacher that sees it sees a complete header. */
    qk_store_release_u64(&m->magic, QK_RING_MAGIC);
}

/* ---- the wait loop shared by both sides ---------------------------------------------------- */

typedef struct {
    int strategy;
    uint32_t spins;    /* busy iterations before yielding or blocking */
    int64_t deadline;  /* monotonic ns; < 0 means wait forever; 0 means do not wait */
    uint32_t iteration;
} qk_waiter;

static inline void qk_waiter_init(qk_waiter *w, int strategy, uint32_t spins, int64_t timeout_ns) {
    w->strategy = strategy;
    w->spins = spins;
    w->iteration = 0;
    if (timeout_ns < 0) w->deadline = -1;
    else if (timeout_ns == 0) w->deadline = 0;
    else w->deadline = qk_monotonic_ns() + timeout_ns;
}

/* Remaining time for a futex sleep: capped so a missed edge case costs at most 50 ms. */
static inline int64_t qk_waiter_sleep_ns(const qk_waiter *w) {
    const int64_t cap = 50000000LL;
    if (w->deadline < 0) return cap;
    int64_t left = w->deadline - qk_monotonic_ns();
    if (left <= 0) return 0;
    return left < cap ? left : cap;
}

/* One idle step. Returns 1 if the deadline has passed (the caller gives up). `word`/`observed` is
 * the futex the step may sleep on and `waiters` the counter that tells the other side to wake it;
 * `still_idle` re-checks the condition after registering as a waiter. */
static inline int qk_waiter_expired(qk_waiter *w) {
    if (w->deadline == 0) return 1;
    if (w->deadline < 0) return 0;
    /* While spinning, read the clock every 64 turns. Past the spins every turn yields or sleeps,
     * which costs more than the clock: read it every turn, or a sleep cut to zero by a passed
     * deadline repeats until the next 64th turn, each paying the kernel's timer slack (~50 us). */
    if (w->iteration >= w->spins || (w->iteration & 63u) == 0) return qk_monotonic_ns() >= w->deadline;
    return 0;
}

/* ---- producer ----------------------------------------------------------------------------- */

/* Lowest cursor among active blocking consumers, or `published` when there is none. */
static inline uint64_t qk_ring_min_blocking_cursor(qk_ring *r, uint64_t published) {
    uint64_t lo = published;
    for (uint32_t i = 0; i < r->max_consumers; i++) {
        qk_ring_consumer *c = &r->cons[i];
        if (qk_load_acquire_u32(&c->state) == QK_CONSUMER_ACTIVE && c->policy == QK_POLICY_BLOCK) {
            uint64_t cur = qk_load_acquire_u64(&c->cursor);
            if (cur < lo) lo = cur;
        }
    }
    return lo;
}

/* Recompute the gate. Returns the new limit: sequences < limit may be written. */
static inline uint64_t qk_ring_rescan(qk_ring *r) {
    r->seen_epoch = qk_load_seq_cst_u32(&r->prod->join_epoch);
    uint64_t published = qk_load_relaxed_u64(&r->prod->published);
    uint64_t limit = qk_ring_min_blocking_cursor(r, published) + r->capacity;
    r->prod->gate_limit = limit;
    return limit;
}

/*
 * Make room for sequences [first, first + n) (n <= capacity), then announce the claim so lossy
 * readers can detect the overwrite that follows. The claim is stored only once space is certain:
 * a blocking reader treats `claimed` as a promise that nothing below claimed - capacity is still
 * needed. Returns QK_OK or QK_TIMEOUT.
 */
static inline int qk_ring_claim(qk_ring *r, uint64_t first, uint64_t n, qk_waiter *w) {
    qk_ring_producer *p = r->prod;
    uint64_t last = first + n; /* exclusive */
    uint64_t limit = p->gate_limit;
    for (;;) {
        if (last <= limit && qk_load_seq_cst_u32(&p->join_epoch) == r->seen_epoch) {
            qk_store_relaxed_u64(&p->claimed, last);
            qk_fence_seq_cst();
            /* A consumer that joined before seeing this claim is in the scan we already did, or
             * it re-reads `claimed` after bumping the epoch and moves its cursor up (join protocol). */
            if (qk_load_seq_cst_u32(&p->join_epoch) == r->seen_epoch) return QK_OK;
        }
        limit = qk_ring_rescan(r);
        if (last <= limit) continue;
        if (qk_waiter_expired(w)) return QK_TIMEOUT;
        w->iteration++;
        if (w->iteration < w->spins || w->strategy == QK_WAIT_BUSY_SPIN) {
            qk_cpu_relax();
        } else if (w->strategy == QK_WAIT_SPIN_YIELD) {
            qk_yield();
        } else {
            uint32_t observed = qk_load_seq_cst_u32(&p->space_futex);
            qk_store_seq_cst_u32(&p->space_waiters, 1u);
            limit = qk_ring_rescan(r);
            if (last > limit) qk_futex_wait(&p->space_futex, observed, qk_waiter_sleep_ns(w));
            qk_store_seq_cst_u32(&p->space_waiters, 0u);
        }
    }
}

static inline void qk_ring_publish(qk_ring *r, uint64_t end) {
    qk_ring_producer *p = r->prod;
    qk_store_release_u64(&p->published, end);
    qk_store_seq_cst_u32(&p->pub_futex, (uint32_t)end);
    if (qk_load_seq_cst_u32(&p->pub_waiters) != 0u) qk_futex_wake_all(&p->pub_futex);
}

/* Copy n records (n <= capacity) from src (n * slot_size bytes, records of `stride` bytes, stride
 * <= slot_size) into the slots starting at sequence `first`. */
static inline void qk_ring_copy_in(qk_ring *r, uint64_t first, const unsigned char *src, uint64_t n,
                                   uint32_t stride) {
    uint64_t idx = first & r->mask;
    if (stride == r->slot_size) {
        uint64_t head = r->capacity - idx;
        if (head > n) head = n;
        memcpy(r->data + idx * r->slot_size, src, head * r->slot_size);
        if (n > head) memcpy(r->data, src + head * r->slot_size, (n - head) * r->slot_size);
        return;
    }
    for (uint64_t i = 0; i < n; i++) {
        unsigned char *slot = r->data + ((first + i) & r->mask) * r->slot_size;
        memcpy(slot, src + i * stride, stride);
        memset(slot + stride, 0, r->slot_size - stride);
    }
}

/* Wake a producer that waits for space. Called by blocking consumers after moving their cursor. */
static inline void qk_ring_notify_space(qk_ring *r) {
    qk_ring_producer *p = r->prod;
    qk_fence_seq_cst();
    if (qk_load_seq_cst_u32(&p->space_waiters) != 0u) {
        qk_fetch_add_u32(&p->space_futex, 1u);
        qk_futex_wake_all(&p->space_futex);
    }
}

/* ---- consumer ----------------------------------------------------------------------------- */

/*
 * Wait until sequence `next` is published. Returns QK_OK (then *published_out holds the published
 * cursor), QK_TIMEOUT or QK_CLOSED (the producer closed the ring and everything was read).
 */
static inline int qk_ring_wait_readable(qk_ring *r, uint64_t next, qk_waiter *w, uint64_t *published_out) {
    qk_ring_producer *p = r->prod;
    for (;;) {
        uint64_t published = qk_load_acquire_u64(&p->published);
        if (next < published) {
            *published_out = published;
            return QK_OK;
        }
        if (qk_load_acquire_u32(&r->meta->closed)) return QK_CLOSED;
        if (qk_waiter_expired(w)) return QK_TIMEOUT;
        w->iteration++;
        if (w->iteration < w->spins || w->strategy == QK_WAIT_BUSY_SPIN) {
            qk_cpu_relax();
        } else if (w->strategy == QK_WAIT_SPIN_YIELD) {
            qk_yield();
        } else {
            qk_fetch_add_u32(&p->pub_waiters, 1u);
            uint32_t observed = qk_load_seq_cst_u32(&p->pub_futex);
            if (next >= qk_load_seq_cst_u64(&p->published) && !qk_load_acquire_u32(&r->meta->closed))
                qk_futex_wait(&p->pub_futex, observed, qk_waiter_sleep_ns(w));
            qk_fetch_sub_u32(&p->pub_waiters, 1u);
        }
    }
}

/*
 * Copy up to `max_n` published records starting at *next into dst (stride = slot_size).
 * Returns the number of valid records copied to dst[0..]. For a lossy consumer an overwrite moves
 * *next forward and adds the skipped count to *gaps (0 when everything copied was stale).
 */
static inline int64_t qk_ring_copy_out(qk_ring *r, uint64_t *next, uint64_t published, unsigned char *dst,
                                       uint64_t max_n, int lossy, uint64_t *gaps) {
    for (;;) {
        uint64_t first = *next;
        uint64_t n = published - first;
        if (n > max_n) n = max_n;
        if (n > r->capacity) n = r->capacity;
        uint64_t idx = first & r->mask;
        uint64_t head = r->capacity - idx;
        if (head > n) head = n;
        memcpy(dst, r->data + idx * r->slot_size, head * r->slot_size);
        if (n > head) memcpy(dst + head * r->slot_size, r->data, (n - head) * r->slot_size);
        if (!lossy) {
            /* The producer never claims past a blocking cursor + capacity (the gate), so the copy
             * is intact without reading the producer's claim line. */
            *next = first + n;
            return (int64_t)n;
        }
        qk_fence_acquire();
        uint64_t claimed = qk_load_relaxed_u64(&r->prod->claimed);
        /* Records with seq < claimed - capacity may have been overwritten while we copied. */
        uint64_t oldest_valid = claimed > r->capacity ? claimed - r->capacity : 0;
        if (first >= oldest_valid) {
            *next = first + n;
            return (int64_t)n;
        }
        *gaps += oldest_valid - first;
        *next = oldest_valid;
        if (oldest_valid >= first + n) {
            /* The whole copy was stale: re-read from the oldest record that is still intact. */
            published = qk_load_acquire_u64(&r->prod->published);
            if (*next >= published) return 0;
            continue;
        }
        uint64_t keep = first + n - oldest_valid;
        memmove(dst, dst + (oldest_valid - first) * r->slot_size, keep * r->slot_size);
        *next = first + n;
        return (int64_t)keep;
    }
}

#endif /* QK_RING_H */
