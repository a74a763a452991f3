/* AVX2 read and peak kernels for ffl_measure_* (compiled with -mavx2 -mfma, chosen at run time). */
#include "cpu/membench_internal.h"

#include <immintrin.h>

/* Makes the compiler forget what it knows about a register, at no cost: it keeps loop-invariant
 * operands from being hoisted or merged across chains, which would measure nothing. */
#define OPAQUE(x) __asm__ volatile("" : "+v"(x))

static uint64_t hsum_epi64(__m256i v) {
    return (uint64_t)_mm256_extract_epi64(v, 0) + (uint64_t)_mm256_extract_epi64(v, 1) +
           (uint64_t)_mm256_extract_epi64(v, 2) + (uint64_t)_mm256_extract_epi64(v, 3);
}

uint64_t ffl_read_sum_avx2(const void *p, size_t n) {
    const __m256i *v = (const __m256i *)p;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0, count = n / 32; i < count; i += 8) {
        a0 = _mm256_add_epi64(a0, _mm256_load_si256(v + i + 0));
        a1 = _mm256_add_epi64(a1, _mm256_load_si256(v + i + 1));
        a2 = _mm256_add_epi64(a2, _mm256_load_si256(v + i + 2));
        a3 = _mm256_add_epi64(a3, _mm256_load_si256(v + i + 3));
        a0 = _mm256_add_epi64(a0, _mm256_load_si256(v + i + 4));
        a1 = _mm256_add_epi64(a1, _mm256_load_si256(v + i + 5));
        a2 = _mm256_add_epi64(a2, _mm256_load_si256(v + i + 6));
        a3 = _mm256_add_epi64(a3, _mm256_load_si256(v + i + 7));
    }
    return hsum_epi64(_mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3)));
}

uint64_t ffl_peak_fma_avx2(int64_t iters) {
    /* acc = acc * a + b converges to b / (1 - a) = 1: no overflow, no denormals */
    __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(0.001f);
#define INIT(i) __m256 acc##i = _mm256_set1_ps((float)(i));
#define STEP(i) acc##i = _mm256_fmadd_ps(acc##i, a, b);
#define SUM(i) s = _mm256_add_ps(s, acc##i);
    FFL_REP12(INIT)
    for (int64_t i = 0; i < iters; i++) {
        OPAQUE(a);
        OPAQUE(b);
        FFL_REP12(STEP)
    }
    __m256 s = _mm256_setzero_ps();
    FFL_REP12(SUM)
#undef INIT
#undef STEP
#undef SUM
    float out[8];
    _mm256_storeu_ps(out, s);
    return (uint64_t)(out[0] + out[7]);
}

/* The integer peak kernels: 8 chains, each advanced per iteration by the asm PEAK_CODE the function
 * defines (operands %[a]: the chain's accumulator, %[t]: scratch, %[u], %[s], %[ones]); in asm because
 * GCC shuffles these registers through moves and spills when it schedules them itself. */
#define ACC_INIT(i) __m256i acc##i = _mm256_set1_epi32(i);
#define ACC_STEP(i) __asm__(PEAK_CODE : [a] "+v"(acc##i), [t] "=&v"(tmp) : [u] "v"(u), [s] "v"(s), [ones] "v"(ones));
#define ACC_SUM(i) t = _mm256_add_epi32(t, acc##i);
#define INT_PEAK_BODY(U, S)                                                                                         \
    __m256i u = (U), s = (S), ones = _mm256_set1_epi16(1), tmp;                                                     \
    FFL_REP8(ACC_INIT)                                                                                              \
    for (int64_t i = 0; i < iters; i++) {                                                                           \
        OPAQUE(u);                                                                                                  \
        OPAQUE(s);                                                                                                  \
        FFL_REP8(ACC_STEP)                                                                                          \
    }                                                                                                               \
    __m256i t = _mm256_setzero_si256();                                                                             \
    FFL_REP8(ACC_SUM)                                                                                               \
    return (uint64_t)(uint32_t)_mm256_extract_epi32(t, 0);

/* The integer dot product of the AVX2 kernels: unsigned x signed bytes to 16-bit pairs, pairs to 32-bit. */
uint64_t ffl_peak_dot_avx2(int64_t iters) {
#define PEAK_CODE "vpmaddubsw %[s], %[u], %[t]\n\tvpmaddwd %[ones], %[t], %[t]\n\tvpaddd %[t], %[a], %[a]"
    INT_PEAK_BODY(_mm256_set1_epi8(3), _mm256_set1_epi8(-2))
#undef PEAK_CODE
}

/* 16-bit pairs multiplied and summed to 32-bit, then accumulated. */
uint64_t ffl_peak_madd16_avx2(int64_t iters) {
#define PEAK_CODE "vpmaddwd %[s], %[u], %[t]\n\tvpaddd %[t], %[a], %[a]"
    INT_PEAK_BODY(_mm256_set1_epi16(3), _mm256_set1_epi16(-2))
#undef PEAK_CODE
}
