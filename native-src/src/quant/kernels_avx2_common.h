/* Pieces shared by the AVX2 kernel files (kernels_avx2.c: rows against a few tokens;
 * kernels_avx2_gemm.c: tiles for many tokens). Include only from files built with -mavx2 -mfma -mf16c. */
#ifndef FFL_QUANT_KERNELS_AVX2_COMMON_H
#define FFL_QUANT_KERNELS_AVX2_COMMON_H

#include <immintrin.h>
#include <string.h>

#include "quant/kernels_internal.h"

#define AI static inline __attribute__((always_inline))

/* The matmul contract of kernels_internal.h (ffl_matmul_fn) as parameters. */
#define MM_ARGS                                                                                                    \
    const void *w, size_t wrb, const void *xq, size_t xrb, int64_t n, int64_t nt_all, float *y, int64_t ldy,       \
        int64_t r0, int64_t r1

AI float h2f(uint16_t h) { return _cvtsh_ss(h); }

/* Offset of the unsigned 32-block weights (w = q - offset). */
AI int offset32(int type) { return type == FFL_TYPE_Q4_0 ? 8 : type == FFL_TYPE_Q5_0 ? 16 : 0; }

AI __m256i shr_and(__m256i v, int s, int mask) { return _mm256_and_si256(_mm256_srli_epi16(v, s), _mm256_set1_epi8((char)mask)); }

AI __m256i nibbles32(const uint8_t *qs) {
    const __m128i q = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0x0F));
}

/* Floats i..i+7 (or float i) of a row of `type`: F32, F16 or BF16. */
AI __m256 load8f(int type, const void *p, int64_t i) {
    if (type == FFL_TYPE_F32) return _mm256_loadu_ps((const float *)p + i);
    const __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)p + i));
    if (type == FFL_TYPE_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

AI float load1f(int type, const void *p, int64_t i) {
    if (type == FFL_TYPE_F32) {
        float f;
        memcpy(&f, (const float *)p + i, 4);
        return f;
    }
    const uint16_t h = ffl_ld16((const uint16_t *)p + i);
    if (type == FFL_TYPE_F16) return h2f(h);
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

#endif
