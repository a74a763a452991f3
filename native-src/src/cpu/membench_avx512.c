/* AVX-512 read and peak kernels for ffl_measure_* (compiled with the AVX-512 -m flags, chosen at run time). */
#include "cpu/membench_internal.h"

#include <immintrin.h>

/* Horizontal sums in unsigned arithmetic: the values are only checksums, and wrapping must not be UB
 * (the reduce intrinsics add in signed types). */
static inline uint64_t sum_u64_lanes(__m512i v) {
    uint64_t lanes[8];
    _mm512_storeu_si512((void *)lanes, v);
    uint64_t s = 0;
    for (int i = 0; i < 8; i++) s += lanes[i];
    return s;
}

static inline uint64_t sum_u32_lanes(__m512i v) {
    uint32_t lanes[16];
    _mm512_storeu_si512((void *)lanes, v);
    uint32_t s = 0;
    for (int i = 0; i < 16; i++) s += lanes[i];
    return s;
}


/* See membench_avx2.c: hides a register's value from the optimizer, emits no instruction. */
#define OPAQUE(x) __asm__ volatile("" : "+v"(x))

uint64_t ffl_read_sum_avx512(const void *p, size_t n) {
    const __m512i *v = (const __m512i *)p;
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0, count = n / 64; i < count; i += 4) {
        a0 = _mm512_add_epi64(a0, _mm512_load_si512(v + i + 0));
        a1 = _mm512_add_epi64(a1, _mm512_load_si512(v + i + 1));
        a2 = _mm512_add_epi64(a2, _mm512_load_si512(v + i + 2));
        a3 = _mm512_add_epi64(a3, _mm512_load_si512(v + i + 3));
    }
    return sum_u64_lanes(_mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)));
}

uint64_t ffl_peak_fma_avx512(int64_t iters) {
    __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
#define INIT(i) __m512 acc##i = _mm512_set1_ps((float)(i));
#define STEP(i) acc##i = _mm512_fmadd_ps(acc##i, a, b);
#define SUM(i) s = _mm512_add_ps(s, acc##i);
    FFL_REP12(INIT)
    for (int64_t i = 0; i < iters; i++) {
        OPAQUE(a);
        OPAQUE(b);
        FFL_REP12(STEP)
    }
    __m512 s = _mm512_setzero_ps();
    FFL_REP12(SUM)
#undef INIT
#undef STEP
#undef SUM
    return (uint64_t)_mm512_reduce_add_ps(s);
}

/* The integer peak kernels: REP (FFL_REP8 or FFL_REP12) chains, each advanced per iteration by the
 * asm PEAK_CODE the function defines (operands %[a]: the chain's accumulator, %[t]: scratch, %[u], %[s],
 * %[ones]); in asm because GCC shuffles these registers through moves and spills when it schedules
 * them itself. */
#define ACC_INIT(i) __m512i acc##i = _mm512_set1_epi32(i);
#define ACC_STEP(i) __asm__(PEAK_CODE : [a] "+v"(acc##i), [t] "=&v"(tmp) : [u] "v"(u), [s] "v"(s), [ones] "v"(ones));
#define ACC_SUM(i) t = _mm512_add_epi32(t, acc##i);
#define INT_PEAK_BODY(REP, U, S)                                                                                    \
    __m512i u = (U), s = (S), ones = _mm512_set1_epi16(1), tmp;                                                     \
    REP(ACC_INIT)                                                                                                   \
    for (int64_t i = 0; i < iters; i++) {                                                                           \
        OPAQUE(u);                                                                                                  \
        OPAQUE(s);                                                                                                  \
        REP(ACC_STEP)                                                                                               \
    }                                                                                                               \
    __m512i t = _mm512_setzero_si512();                                                                             \
    REP(ACC_SUM)                                                                                                    \
    return sum_u32_lanes(t);

/* Without VNNI: the same three-instruction sequence as AVX2, on 64 bytes. */
uint64_t ffl_peak_dot_avx512(int64_t iters) {
#define PEAK_CODE "vpmaddubsw %[s], %[u], %[t]\n\tvpmaddwd %[ones], %[t], %[t]\n\tvpaddd %[t], %[a], %[a]"
    INT_PEAK_BODY(FFL_REP8, _mm512_set1_epi8(3), _mm512_set1_epi8(-2))
#undef PEAK_CODE
}

/* vpdpbusd: 64 unsigned x signed byte products summed into 16 lanes in one instruction. */
uint64_t ffl_peak_vnni_avx512(int64_t iters) {
#define PEAK_CODE "vpdpbusd %[s], %[u], %[a]"
    INT_PEAK_BODY(FFL_REP12, _mm512_set1_epi8(3), _mm512_set1_epi8(-2))
#undef PEAK_CODE
}

/* Without VNNI: 16-bit pairs multiplied and summed to 32-bit, then accumulated. */
uint64_t ffl_peak_madd16_avx512(int64_t iters) {
#define PEAK_CODE "vpmaddwd %[s], %[u], %[t]\n\tvpaddd %[t], %[a], %[a]"
    INT_PEAK_BODY(FFL_REP8, _mm512_set1_epi16(3), _mm512_set1_epi16(-2))
#undef PEAK_CODE
}

/* vpdpwssd: 32 signed 16-bit products summed pairwise into 16 lanes in one instruction (F16 prompts). */
uint64_t ffl_peak_vnni16_avx512(int64_t iters) {
#define PEAK_CODE "vpdpwssd %[s], %[u], %[a]"
    INT_PEAK_BODY(FFL_REP12, _mm512_set1_epi16(3), _mm512_set1_epi16(-2))
#undef PEAK_CODE
}
