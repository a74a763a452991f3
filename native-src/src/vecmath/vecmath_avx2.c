/* AVX2 + FMA elementwise math: whole vectors of 8 floats (the caller finishes the tail). */
#include "vecmath/vecmath_internal.h"

#include <immintrin.h>
#include <math.h>

static inline __m256 exp8(__m256 x) {
    const __m256 nan_lanes = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(FFL_EXP_MIN_ARG)), _mm256_set1_ps(FFL_EXP_MAX_ARG));
    const __m256 k = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(FFL_EXP_LOG2E)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(FFL_EXP_LN2_HI), xc);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(FFL_EXP_LN2_LO), r);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(FFL_EXP_C7), r, _mm256_set1_ps(FFL_EXP_C6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(FFL_EXP_C5));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(FFL_EXP_C4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(FFL_EXP_C3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(FFL_EXP_C2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    /* 2^k as 2^(k/2) * 2^(k - k/2): each half is a normal float for k in [-150, 129] */
    const __m256i ki = _mm256_cvtps_epi32(k);
    const __m256i k1 = _mm256_srai_epi32(ki, 1), k2 = _mm256_sub_epi32(ki, k1);
    const __m256i bias = _mm256_set1_epi32(127);
    const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k1, bias), 23));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k2, bias), 23));
    return _mm256_blendv_ps(_mm256_mul_ps(_mm256_mul_ps(p, s1), s2), x, nan_lanes);
}

void ffl_swiglu_avx2(float *g, const float *u, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        const __m256 e = exp8(_mm256_xor_ps(x, sign));
        _mm256_storeu_ps(g + i, _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)), _mm256_loadu_ps(u + i)));
    }
}

double ffl_exp_shift_avx2(float *x, int64_t n, float shift) {
    const __m256 sh = _mm256_set1_ps(shift);
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    for (int64_t i = 0; i + 8 <= n; i += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), sh));
        _mm256_storeu_ps(x + i, e);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(s0, s1));
    return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
}

void ffl_to_half_avx2(uint16_t *h, const float *x, int64_t n) {
    for (int64_t i = 0; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(h + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

float ffl_scale_causal_max_avx2(float *x, const int32_t *cell_pos, int64_t n, int32_t pos, float scale) {
    const __m256 s = _mm256_set1_ps(scale);
    const __m256i p = _mm256_set1_epi32(pos);
    __m256 mx = _mm256_set1_ps(-INFINITY);
    for (int64_t i = 0; i + 8 <= n; i += 8) {
        const __m256i hidden = _mm256_cmpgt_epi32(_mm256_loadu_si256((const __m256i *)(cell_pos + i)), p);
        const __m256 y = _mm256_blendv_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), s), _mm256_set1_ps(-INFINITY),
                                          _mm256_castsi256_ps(hidden));
        _mm256_storeu_ps(x + i, y);
        mx = _mm256_max_ps(y, mx); /* a NaN y leaves mx as it was, like the scalar comparison */
    }
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}
