/* Private contract between vecmath.c (dispatch, scalar code) and the per-ISA files. */
#ifndef FFL_VECMATH_INTERNAL_H
#define FFL_VECMATH_INTERNAL_H

#include <stdint.h>

/* exp(x) = 2^k * exp(r) with k = round(x / ln 2) and |r| <= ln 2 / 2; ln 2 is split into a part with
 * few mantissa bits (k * LN2_HI is exact for |k| < 2^15) and the rest. exp(r) by its Taylor series to
 * r^7: the truncation error is below r^8 / 8! < 6e-9, a tenth of a float ulp. Inputs are clamped to
 * [EXP_MIN_ARG, EXP_MAX_ARG] (exp underflows to 0 below, overflows to inf above) and 2^k is applied as
 * two halves so k = 128 and gradual underflow come out right. */
#define FFL_EXP_LOG2E 1.44269504088896341f
#define FFL_EXP_LN2_HI 0.693359375f
#define FFL_EXP_LN2_LO (-2.12194440054690583e-4f)
#define FFL_EXP_MIN_ARG (-104.0f)
#define FFL_EXP_MAX_ARG 89.0f
#define FFL_EXP_C2 (1.0f / 2)
#define FFL_EXP_C3 (1.0f / 6)
#define FFL_EXP_C4 (1.0f / 24)
#define FFL_EXP_C5 (1.0f / 120)
#define FFL_EXP_C6 (1.0f / 720)
#define FFL_EXP_C7 (1.0f / 5040)

#if defined(__x86_64__)
void ffl_swiglu_avx2(float *g, const float *u, int64_t n);
double ffl_exp_shift_avx2(float *x, int64_t n, float shift);
void ffl_to_half_avx2(uint16_t *h, const float *x, int64_t n);
float ffl_scale_causal_max_avx2(float *x, const int32_t *cell_pos, int64_t n, int32_t pos, float scale);
/* whole arrays, tails included */
void ffl_swiglu_avx512(float *g, const float *u, int64_t n);
double ffl_exp_shift_avx512(float *x, int64_t n, float shift);
#endif
#if defined(__aarch64__)
void ffl_swiglu_neon(float *g, const float *u, int64_t n);
double ffl_exp_shift_neon(float *x, int64_t n, float shift);
void ffl_to_half_neon(uint16_t *h, const float *x, int64_t n);
float ffl_scale_causal_max_neon(float *x, const int32_t *cell_pos, int64_t n, int32_t pos, float scale);
#endif

#endif
