/*
 * qk_crc32c.h — CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every WAL frame.
 *
 * Three implementations behind one function pointer chosen once at start-up:
 *   - x86-64 SSE4.2 `crc32` instruction (compiled with a per-function target attribute, so the module
 *     still loads on a CPU without it; chosen only when __builtin_cpu_supports("sse4.2") says so);
 *   - ARMv8 CRC32 extension `crc32c*` instructions (chosen when getauxval(AT_HWCAP) has HWCAP_CRC32);
 *   - a portable slicing-by-8 table fallback.
 * All three give identical results; the tests compare them against each other and the `crc32c` package.
 *
 * Convention (the same as the `crc32c` PyPI package and iSCSI): the value passed in is a previous
 * result (0 to start), the pre/post inversion happens inside, so crc(b, crc(a)) == crc(a + b).
 */
#ifndef QK_CRC32C_H
#define QK_CRC32C_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QK_CRC32C_X86 1
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#define QK_CRC32C_ARM 1
#endif

#define QK_CRC32C_POLY 0x82F63B78u

static uint32_t qk_crc32c_table[8][256];
static int qk_crc32c_table_ready = 0;

static void qk_crc32c_build_table(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ QK_CRC32C_POLY : c >> 1;
        qk_crc32c_table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = qk_crc32c_table[0][n];
        for (int t = 1; t < 8; t++) {
            c = qk_crc32c_table[0][c & 0xFF] ^ (c >> 8);
            qk_crc32c_table[t][n] = c;
        }
    }
    qk_crc32c_table_ready = 1;
}

static inline uint64_t qk_crc32c_load_le64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Portable slicing-by-8: eight table lookups per 8 input bytes. */
static uint32_t qk_crc32c_sw(uint32_t crc, const void *buf, size_t len) {
    const uint8_t *p = (const uint8_t *)buf;
    uint32_t c = ~crc;
    while (len && ((uintptr_t)p & 7)) {
        c = qk_crc32c_table[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
        len--;
    }
    while (len >= 8) {
        uint64_t v = qk_crc32c_load_le64(p) ^ (uint64_t)c;
        c = qk_crc32c_table[7][v & 0xFF] ^ qk_crc32c_table[6][(v >> 8) & 0xFF] ^
            qk_crc32c_table[5][(v >> 16) & 0xFF] ^ qk_crc32c_table[4][(v >> 24) & 0xFF] ^
            qk_crc32c_table[3][(v >> 32) & 0xFF] ^ qk_crc32c_table[2][(v >> 40) & 0xFF] ^
            qk_crc32c_table[1][(v >> 48) & 0xFF] ^ qk_crc32c_table[0][v >> 56];
        p += 8;
        len -= 8;
    }
    while (len--) c = qk_crc32c_table[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
    return ~c;
}

#if defined(QK_CRC32C_X86) && defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t qk_crc32c_sse42(uint32_t crc, const void *buf,
                                                                  size_t len) {
    const uint8_t *p = (const uint8_t *)buf;
    uint64_t c = (uint32_t)~crc;
    while (len && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        len--;
    }
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
        p += 8;
        len -= 8;
    }
    while (len--) c = _mm_crc32_u8((uint32_t)c, *p++);
    return ~(uint32_t)c;
}
#define QK_CRC32C_HAVE_HW 1
#endif

#if defined(QK_CRC32C_ARM)
__attribute__((target("+crc"))) static uint32_t qk_crc32c_armv8(uint32_t crc, const void *buf,
                                                                size_t len) {
    const uint8_t *p = (const uint8_t *)buf;
    uint32_t c = ~crc;
    while (len && ((uintptr_t)p & 7)) {
        __asm__("crc32cb %w0, %w0, %w1" : "+r"(c) : "r"((uint32_t)*p));
        p++;
        len--;
    }
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        __asm__("crc32cx %w0, %w0, %x1" : "+r"(c) : "r"(v));
        p += 8;
        len -= 8;
    }
    while (len--) {
        __asm__("crc32cb %w0, %w0, %w1" : "+r"(c) : "r"((uint32_t)*p));
        p++;
    }
    return ~c;
}
#define QK_CRC32C_HAVE_HW 1
#endif

typedef uint32_t (*qk_crc32c_fn)(uint32_t, const void *, size_t);

static qk_crc32c_fn qk_crc32c_impl = qk_crc32c_sw;
static qk_crc32c_fn qk_crc32c_hw_impl = NULL; /* NULL when this CPU has no CRC32C instruction */
static const char *qk_crc32c_impl_name = "slicing-by-8";

/* Build the table and pick the fastest implementation this CPU supports. Call once at start-up. */
static void qk_crc32c_init(void) {
    if (!qk_crc32c_table_ready) qk_crc32c_build_table();
#if defined(QK_CRC32C_X86) && defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) {
        qk_crc32c_hw_impl = qk_crc32c_sse42;
        qk_crc32c_impl_name = "sse4.2";
    }
#elif defined(QK_CRC32C_ARM)
    if (getauxval(AT_HWCAP) & HWCAP_CRC32) {
        qk_crc32c_hw_impl = qk_crc32c_armv8;
        qk_crc32c_impl_name = "armv8-crc";
    }
#endif
    if (qk_crc32c_hw_impl != NULL) qk_crc32c_impl = qk_crc32c_hw_impl;
}

static inline uint32_t qk_crc32c(uint32_t crc, const void *buf, size_t len) {
    return qk_crc32c_impl(crc, buf, len);
}

#endif /* QK_CRC32C_H */
