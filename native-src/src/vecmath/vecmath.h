/* Elementwise float math of the forward pass (SiLU gating, softmax, F16 stores), dispatched at
 * run time like the matmul kernels. The SIMD levels use a polynomial exp with at most a few ulp of
 * error against libm's expf, as ggml's vectorised SiLU and softmax do. Internal, validated arguments. */
#ifndef FFL_VECMATH_H
#define FFL_VECMATH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* g[i] = silu(g[i]) * u[i] with silu(x) = x / (1 + exp(-x)). */
void ffl_vec_swiglu(float *g, const float *u, int64_t n);

/* h[i] = x[i] as an F16 bit pattern, rounded to nearest even (ffl_float_to_half, which the scalar
 * level calls: F16C and NEON convert the same way, NaN payloads included). */
void ffl_vec_to_half(uint16_t *h, const float *x, int64_t n);

/* One query's causal attention row: x[i] = x[i] * scale where cell_pos[i] <= pos (a cell the query
 * sees), -inf elsewhere whatever x held there (the caller gives hidden cells a position of INT32_MAX,
 * and pos is below it); returns the largest result (-inf if the query sees no cell). */
float ffl_vec_scale_causal_max(float *x, const int32_t *cell_pos, int64_t n, int32_t pos, float scale);

/* x[i] = exp(x[i] - shift) (so -inf becomes 0); returns the sum of the results, added in double. */
double ffl_vec_exp_shift(float *x, int64_t n, float shift);

#ifdef __cplusplus
}
#endif

#endif
