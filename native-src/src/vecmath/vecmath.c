/* Scalar elementwise math (libm) and the choice of SIMD level. SIMD functions handle whole vectors
 * and leave the tail to the scalar loops here. */
#include "vecmath/vecmath.h"

#include "common/fp16.h"
#include "fflama.h"
#include "vecmath/vecmath_internal.h"

#include <math.h>

static void swiglu_scalar(float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

static double exp_shift_scalar(float *x, int64_t n, float shift) {
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - shift);
        sum += (double)x[i];
    }
    return sum;
}

/* 1: AVX2, 2: NEON, 3: AVX-512 (which also takes the AVX2 functions that have no AVX-512 form) */
static int simd_level(void) {
    int32_t level = ffl_cpu_level();
#if defined(__x86_64__)
    return level == FFL_CPU_AVX512 ? 3 : level >= FFL_CPU_AVX2 ? 1 : 0;
#elif defined(__aarch64__)
    return level >= FFL_CPU_NEON ? 2 : 0;
#else
    (void)level;
    return 0;
#endif
}

void ffl_vec_swiglu(float *g, const float *u, int64_t n) {
    switch (simd_level()) {
#if defined(__x86_64__)
    case 3: ffl_swiglu_avx512(g, u, n); return;
    case 1: ffl_swiglu_avx2(g, u, n); break;
#elif defined(__aarch64__)
    case 2: ffl_swiglu_neon(g, u, n); break;
#endif
    default: swiglu_scalar(g, u, n); return;
    }
    const int64_t done = n & ~(int64_t)7;
    swiglu_scalar(g + done, u + done, n - done);
}

void ffl_vec_to_half(uint16_t *h, const float *x, int64_t n) {
    int64_t done = 0;
    switch (simd_level()) {
#if defined(__x86_64__)
    case 1:
    case 3: ffl_to_half_avx2(h, x, n); done = n & ~(int64_t)7; break;
#elif defined(__aarch64__)
    case 2: ffl_to_half_neon(h, x, n); done = n & ~(int64_t)7; break;
#endif
    default: break;
    }
    for (int64_t i = done; i < n; i++) h[i] = ffl_float_to_half(x[i]);
}

float ffl_vec_scale_causal_max(float *x, const int32_t *cell_pos, int64_t n, int32_t pos, float scale) {
    float mx = -INFINITY;
    int64_t done = 0;
    switch (simd_level()) {
#if defined(__x86_64__)
    case 1:
    case 3: mx = ffl_scale_causal_max_avx2(x, cell_pos, n, pos, scale); done = n & ~(int64_t)7; break;
#elif defined(__aarch64__)
    case 2: mx = ffl_scale_causal_max_neon(x, cell_pos, n, pos, scale); done = n & ~(int64_t)7; break;
#endif
    default: break;
    }
    for (int64_t i = done; i < n; i++) {
        x[i] = cell_pos[i] > pos ? -INFINITY : x[i] * scale;
        if (x[i] > mx) mx = x[i];
    }
    return mx;
}

double ffl_vec_exp_shift(float *x, int64_t n, float shift) {
    double sum;
    switch (simd_level()) {
#if defined(__x86_64__)
    case 3: return ffl_exp_shift_avx512(x, n, shift);
    case 1: sum = ffl_exp_shift_avx2(x, n, shift); break;
#elif defined(__aarch64__)
    case 2: sum = ffl_exp_shift_neon(x, n, shift); break;
#endif
    default: return exp_shift_scalar(x, n, shift);
    }
    const int64_t done = n & ~(int64_t)7;
    return sum + exp_shift_scalar(x + done, n - done, shift);
}
