/*
 * qk_sync.h — the few synchronisation primitives the rings and the WAL share.
 *
 * C11 atomics with explicit acquire/release orderings (correct on ARM as well as x86) and the Linux
 * futex used by the spin-then-block wait strategy. Everything here works on memory that lives in a
 * POSIX shared-memory segment mapped by several processes, so the futexes are the *shared* kind
 * (no FUTEX_PRIVATE_FLAG).
 */
#ifndef QK_SYNC_H
#define QK_SYNC_H

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QK_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define QK_CPU_RELAX() __asm__ __volatile__("yield" ::: "memory")
#else
#define QK_CPU_RELAX() ((void)0)
#endif

/* 64-bit counters. The pointers point into shared memory laid out by the ring/WAL headers. */
static inline uint64_t qk_load_acquire_u64(const volatile uint64_t *p) {
    return atomic_load_explicit((const _Atomic uint64_t *)p, memory_order_acquire);
}
static inline uint64_t qk_load_relaxed_u64(const volatile uint64_t *p) {
    return atomic_load_explicit((const _Atomic uint64_t *)p, memory_order_relaxed);
}
static inline uint64_t qk_load_seq_cst_u64(const volatile uint64_t *p) {
    return atomic_load_explicit((const _Atomic uint64_t *)p, memory_order_seq_cst);
}
static inline void qk_store_release_u64(volatile uint64_t *p, uint64_t v) {
    atomic_store_explicit((_Atomic uint64_t *)p, v, memory_order_release);
}
static inline void qk_store_relaxed_u64(volatile uint64_t *p, uint64_t v) {
    atomic_store_explicit((_Atomic uint64_t *)p, v, memory_order_relaxed);
}
static inline uint64_t qk_fetch_add_u64(volatile uint64_t *p, uint64_t v) {
    return atomic_fetch_add_explicit((_Atomic uint64_t *)p, v, memory_order_acq_rel);
}

/* 32-bit words: futex words, states and waiter counts. */
static inline uint32_t qk_load_acquire_u32(const volatile uint32_t *p) {
    return atomic_load_explicit((const _Atomic uint32_t *)p, memory_order_acquire);
}
static inline uint32_t qk_load_seq_cst_u32(const volatile uint32_t *p) {
    return atomic_load_explicit((const _Atomic uint32_t *)p, memory_order_seq_cst);
}
static inline void qk_store_release_u32(volatile uint32_t *p, uint32_t v) {
    atomic_store_explicit((_Atomic uint32_t *)p, v, memory_order_release);
}
static inline void qk_store_seq_cst_u32(volatile uint32_t *p, uint32_t v) {
    atomic_store_explicit((_Atomic uint32_t *)p, v, memory_order_seq_cst);
}
static inline uint32_t qk_fetch_add_u32(volatile uint32_t *p, uint32_t v) {
    return atomic_fetch_add_explicit((_Atomic uint32_t *)p, v, memory_order_seq_cst);
}
static inline uint32_t qk_fetch_sub_u32(volatile uint32_t *p, uint32_t v) {
    return atomic_fetch_sub_explicit((_Atomic uint32_t *)p, v, memory_order_seq_cst);
}
/* Returns 1 when *p held `expected` and now holds `desired`. */
static inline int qk_cas_u32(volatile uint32_t *p, uint32_t expected, uint32_t desired) {
    return atomic_compare_exchange_strong_explicit((_Atomic uint32_t *)p, &expected, desired,
                                                   memory_order_acq_rel, memory_order_acquire);
}

static inline void qk_fence_seq_cst(void) { atomic_thread_fence(memory_order_seq_cst); }
static inline void qk_fence_acquire(void) { atomic_thread_fence(memory_order_acquire); }
static inline void qk_fence_release(void) { atomic_thread_fence(memory_order_release); }

static inline void qk_cpu_relax(void) { QK_CPU_RELAX(); }
static inline void qk_yield(void) { sched_yield(); }

static inline int64_t qk_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline int64_t qk_realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * Sleep until *word != expected, a wake-up, a signal, or timeout_ns elapses (timeout_ns < 0: no
 * timeout). Spurious returns are allowed: every caller re-checks its condition in a loop.
 */
static inline void qk_futex_wait(volatile uint32_t *word, uint32_t expected, int64_t timeout_ns) {
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000LL);
        ts.tv_nsec = (long)(timeout_ns % 1000000000LL);
        tsp = &ts;
    }
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expected, tsp, NULL, 0);
}

static inline void qk_futex_wake_all(volatile uint32_t *word) {
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

#endif /* QK_SYNC_H */
