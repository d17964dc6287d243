/*
 * qk_wal.h — the WAL frame format and the loops that walk it, in C so a batch costs one Python call.
 *
 * A frame is a 32-byte header followed by the payload, padded to 8 bytes:
 *
 *   0  u32 length      payload bytes (0 = not written yet; QK_FRAME_SEAL = end of segment)
 *   4  u32 crc32c      over bytes [8, 32 + length): the rest of the header and the payload
 *   8  u64 seq         global WAL sequence, dense, starting at 1
 *  16  i64 ts_event    event time of the payload (ns since epoch UTC), 0 when unknown
 *  24  u64 stream_key  stream id (u16) << 48 | stream sequence (48 bits)
 *
 * A seal frame has length QK_FRAME_SEAL, no payload, seq = the first seq of the next segment, ts_event =
 * the largest ts_event in the segment (so a time seek can skip whole segments), stream_key = 0, and its
 * CRC covers header bytes [8, 32).
 *
 * The mark functions at the end implement the durable/written sequence counters that live in POSIX
 * shared memory: a 64-bit value, a 32-bit generation word (the futex) and a waiter count.
 */
#ifndef QK_WAL_H
#define QK_WAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "qk_crc32c.h"
#include "qk_sync.h"

#define QK_FRAME_HEADER 32u
#define QK_FRAME_SEAL 0xFFFFFFFFu
#define QK_STREAM_SEQ_MASK ((uint64_t)0x0000FFFFFFFFFFFFull)

enum {
    QK_WALK_END = 0,        /* a zero length word: nothing written here yet */
    QK_WALK_SEALED = 1,     /* a valid seal frame: the segment continues in the next file */
    QK_WALK_BAD_CRC = 2,    /* the frame's CRC does not match */
    QK_WALK_BAD_SEQ = 3,    /* the frame's seq is not the expected next seq */
    QK_WALK_BAD_LENGTH = 4, /* the frame would run past the end of the region */
    QK_WALK_LIMIT = 5,      /* stopped at max_frames or max_seq: more may follow */
};

static inline size_t qk_frame_size(uint32_t length) {
    return QK_FRAME_HEADER + (((size_t)length + 7u) & ~(size_t)7u);
}

static inline uint32_t qk_rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t qk_rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline int64_t qk_rdi64(const uint8_t *p) { int64_t v; memcpy(&v, p, 8); return v; }
static inline void qk_wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void qk_wr64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* Encode one frame at dst (caller checked the room: qk_frame_size(length) bytes). Returns its size. */
static inline size_t qk_frame_encode(uint8_t *dst, const uint8_t *payload, uint32_t length,
                                     uint64_t seq, int64_t ts_event, uint64_t stream_key) {
    size_t size = qk_frame_size(length);
    qk_wr32(dst, length);
    qk_wr64(dst + 8, seq);
    memcpy(dst + 16, &ts_event, 8);
    qk_wr64(dst + 24, stream_key);
    if (length) memcpy(dst + QK_FRAME_HEADER, payload, length);
    if (size > QK_FRAME_HEADER + length)
        memset(dst + QK_FRAME_HEADER + length, 0, size - QK_FRAME_HEADER - length);
    qk_wr32(dst + 4, qk_crc32c(0, dst + 8, (size_t)QK_FRAME_HEADER - 8 + length));
    return size;
}

static inline size_t qk_seal_encode(uint8_t *dst, uint64_t next_seq, int64_t max_ts) {
    qk_wr32(dst, QK_FRAME_SEAL);
    qk_wr64(dst + 8, next_seq);
    memcpy(dst + 16, &max_ts, 8);
    qk_wr64(dst + 24, 0);
    qk_wr32(dst + 4, qk_crc32c(0, dst + 8, QK_FRAME_HEADER - 8));
    return QK_FRAME_HEADER;
}

/*
 * Encode up to `count` fixed-size records from `src` (contiguous, record_size bytes each) into dst,
 * stopping before the frame that would not fit in `capacity` bytes. ts_event comes from the i64 at
 * ts_offset in each record (ts_offset < 0: ts_default). Returns the number of records encoded.
 */
static size_t qk_frame_encode_records(uint8_t *dst, size_t capacity, const uint8_t *src,
                                      size_t record_size, size_t count, uint64_t first_seq,
                                      uint64_t stream_id, uint64_t first_stream_seq, long ts_offset,
                                      int64_t ts_default, size_t *out_bytes, int64_t *io_max_ts) {
    size_t fsize = qk_frame_size((uint32_t)record_size);
    size_t n = capacity / fsize;
    if (n > count) n = count;
    int64_t max_ts = *io_max_ts;
    uint64_t key_hi = stream_id << 48;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *rec = src + i * record_size;
        int64_t ts = ts_offset >= 0 ? qk_rdi64(rec + ts_offset) : ts_default;
        if (ts > max_ts) max_ts = ts;
        qk_frame_encode(dst + i * fsize, rec, (uint32_t)record_size, first_seq + i, ts,
                        key_hi | ((first_stream_seq + i) & QK_STREAM_SEQ_MASK));
    }
    *out_bytes = n * fsize;
    *io_max_ts = max_ts;
    return n;
}

typedef struct {
    uint64_t *seq;      /* optional outputs, one entry per frame walked (NULL: not wanted) */
    int64_t *ts_event;
    uint64_t *stream_key;
    uint64_t *offset;   /* offset of the payload in the buffer */
    uint32_t *length;
    int64_t *stream_last; /* optional [65536]: last stream seq seen per stream id */
} qk_walk_out;

typedef struct {
    int status;
    size_t count;       /* frames walked */
    size_t offset;      /* where the walk stopped: the first frame not returned */
    uint64_t next_seq;  /* seq expected at `offset` */
    uint64_t seal_seq;  /* when status == SEALED: the seal's seq and ts */
    int64_t seal_ts;
    int64_t max_ts;     /* largest ts_event among the frames walked */
} qk_walk_result;

/*
 * Walk the frames in buf[start, end). expect_seq: the seq the first frame must carry (0: take what is
 * there, then require density). max_seq: stop before any frame with a larger seq (the written mark of a
 * live log). verify: check each CRC. Stops at the first frame that is absent, sealed, damaged, out of
 * sequence, beyond max_seq, or after max_frames.
 */
static void qk_frame_walk(const uint8_t *buf, size_t start, size_t end, uint64_t expect_seq,
                          uint64_t max_seq, size_t max_frames, int verify, const qk_walk_out *out,
                          qk_walk_result *res) {
    size_t off = start, n = 0;
    uint64_t next = expect_seq;
    int64_t max_ts = INT64_MIN;
    int status = QK_WALK_END;
    res->seal_seq = 0;
    res->seal_ts = 0;
    for (;;) {
        if (n >= max_frames) { status = QK_WALK_LIMIT; break; }
        if (off + QK_FRAME_HEADER > end) { status = QK_WALK_END; break; }
        const uint8_t *f = buf + off;
        uint32_t length = qk_rd32(f);
        if (length == 0) { status = QK_WALK_END; break; }
        uint64_t seq = qk_rd64(f + 8);
        if (length == QK_FRAME_SEAL) {
            if (verify && qk_rd32(f + 4) != qk_crc32c(0, f + 8, QK_FRAME_HEADER - 8)) {
                status = QK_WALK_BAD_CRC; break;
            }
            if (next != 0 && seq != next) { status = QK_WALK_BAD_SEQ; break; }
            res->seal_seq = seq;
            res->seal_ts = qk_rdi64(f + 16);
            status = QK_WALK_SEALED;
            break;
        }
        size_t fsize = qk_frame_size(length);
        if (fsize > end - off) { status = QK_WALK_BAD_LENGTH; break; }
        if (verify && qk_rd32(f + 4) != qk_crc32c(0, f + 8, (size_t)QK_FRAME_HEADER - 8 + length)) {
            status = QK_WALK_BAD_CRC; break;
        }
        if (next != 0 && seq != next) { status = QK_WALK_BAD_SEQ; break; }
        if (seq > max_seq) { status = QK_WALK_LIMIT; next = seq; break; }
        int64_t ts = qk_rdi64(f + 16);
        uint64_t key = qk_rd64(f + 24);
        if (ts > max_ts) max_ts = ts;
        if (out) {
            if (out->seq) out->seq[n] = seq;
            if (out->ts_event) out->ts_event[n] = ts;
            if (out->stream_key) out->stream_key[n] = key;
            if (out->offset) out->offset[n] = off + QK_FRAME_HEADER;
            if (out->length) out->length[n] = length;
            if (out->stream_last) out->stream_last[key >> 48] = (int64_t)(key & QK_STREAM_SEQ_MASK);
        }
        n++;
        next = seq + 1;
        off += fsize;
    }
    res->status = status;
    res->count = n;
    res->offset = off;
    res->next_seq = next;
    res->max_ts = max_ts;
}

/* Skip (without CRC checks) to the first frame with seq >= target or ts_event >= target_ts.
 * res->next_seq: the seq at the stop offset (0 when no frame was seen before it). */
static void qk_frame_seek(const uint8_t *buf, size_t start, size_t end, int by_ts, int64_t target,
                          qk_walk_result *res) {
    size_t off = start;
    int status = QK_WALK_END;
    uint64_t next = 0; /* seq expected at `off`: 0 until a frame has been seen */
    for (;;) {
        if (off + QK_FRAME_HEADER > end) { status = QK_WALK_END; break; }
        const uint8_t *f = buf + off;
        uint32_t length = qk_rd32(f);
        if (length == 0) { status = QK_WALK_END; break; }
        uint64_t seq = qk_rd64(f + 8);
        if (length == QK_FRAME_SEAL) { status = QK_WALK_SEALED; next = seq; break; }
        size_t fsize = qk_frame_size(length);
        if (fsize > end - off) { status = QK_WALK_BAD_LENGTH; break; }
        if (by_ts ? qk_rdi64(f + 16) >= target : seq >= (uint64_t)target) {
            status = QK_WALK_LIMIT; next = seq; break;
        }
        next = seq + 1;
        off += fsize;
    }
    res->status = status;
    res->count = 0;
    res->offset = off;
    res->next_seq = next;
    res->seal_seq = 0;
    res->seal_ts = 0;
    res->max_ts = 0;
}

/* One past the last non-zero byte in buf[start, end), or start when the whole range is zero. */
static size_t qk_last_nonzero(const uint8_t *buf, size_t start, size_t end) {
    size_t e = end;
    while (e > start && (e & 7)) {
        if (buf[e - 1]) return e;
        e--;
    }
    while (e >= start + 8) {
        if (qk_rd64(buf + e - 8)) break;
        e -= 8;
    }
    while (e > start) {
        if (buf[e - 1]) return e;
        e--;
    }
    return start;
}

/* Copy n payloads (offsets/lengths into buf) into rows of record_size bytes, zero-filling short ones. */
static void qk_gather(const uint8_t *buf, const uint64_t *offsets, const uint32_t *lengths, size_t n,
                      uint8_t *out, size_t record_size) {
    for (size_t i = 0; i < n; i++) {
        size_t len = lengths[i] < record_size ? lengths[i] : record_size;
        memcpy(out + i * record_size, buf + offsets[i], len);
        if (len < record_size) memset(out + i * record_size + len, 0, record_size - len);
    }
}

/* ---- sequence marks in shared memory ---------------------------------------------------------- */

/*
 * Publish a new value: store it, bump the generation word (the futex), and wake sleepers only when one
 * registered. A waiter reads the generation before it re-checks the value, so a publish that lands in
 * between makes its futex wait return at once.
 */
static inline void qk_mark_publish(volatile uint64_t *value, volatile uint32_t *gen,
                                   volatile uint32_t *waiters, uint64_t v) {
    qk_store_release_u64(value, v);
    qk_fetch_add_u32(gen, 1);
    if (qk_load_seq_cst_u32(waiters) != 0) qk_futex_wake_all(gen);
}

/*
 * Wait until *value >= target, for at most timeout_ns (< 0: no limit) and at most slice_ns in one
 * futex sleep (so the caller can check for signals between slices). Spins spin_ns first.
 * Returns 1 when reached, 0 on timeout of this slice.
 */
static int qk_mark_wait_slice(volatile uint64_t *value, volatile uint32_t *gen,
                              volatile uint32_t *waiters, uint64_t target, int64_t deadline_ns,
                              int64_t spin_ns, int64_t slice_ns) {
    if (qk_load_acquire_u64(value) >= target) return 1;
    int64_t now = qk_monotonic_ns();
    int64_t spin_until = now + spin_ns;
    while (now < spin_until) {
        for (int i = 0; i < 64; i++) {
            if (qk_load_acquire_u64(value) >= target) return 1;
            qk_cpu_relax();
        }
        now = qk_monotonic_ns();
    }
    int64_t slice_end = now + slice_ns;
    for (;;) {
        uint32_t g = qk_load_seq_cst_u32(gen);
        if (qk_load_acquire_u64(value) >= target) return 1;
        now = qk_monotonic_ns();
        int64_t until = slice_end;
        if (deadline_ns >= 0 && deadline_ns < until) until = deadline_ns;
        if (now >= until) return 0;
        qk_fetch_add_u32(waiters, 1);
        if (qk_load_acquire_u64(value) >= target) {
            qk_fetch_sub_u32(waiters, 1);
            return 1;
        }
        qk_futex_wait(gen, g, until - now);
        qk_fetch_sub_u32(waiters, 1);
    }
}

#endif /* QK_WAL_H */
