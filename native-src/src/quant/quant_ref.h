/* Scalar reference quantizers: the exact arithmetic of llama.cpp's llama-quantize (no importance
 * matrix), so a quantized tensor is byte-identical to what llama.cpp writes for the same floats.
 * Internal: arguments are assumed valid (n a multiple of the type's block size). */
#ifndef FFL_QUANT_REF_H
#define FFL_QUANT_REF_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if ffl_quant_ref_row can produce the type. */
int ffl_quant_ref_supported(int32_t type);
/* 1 if ffl_dequantize_row_internal can read the type. */
int ffl_dequant_ref_supported(int32_t type);

/* Quantizes n floats (a whole number of blocks) into dst, exactly as llama-quantize does. */
void ffl_quant_ref_row(int32_t type, const float *src, void *dst, int64_t n);

/* Per-family entry points (quant_ref.c: plain and legacy types; quant_ref_k.c: K and IQ4 types). */
void ffl_quant_ref_q2_K(const float *x, void *dst, int64_t n);
void ffl_quant_ref_q3_K(const float *x, void *dst, int64_t n);
void ffl_quant_ref_q4_K(const float *x, void *dst, int64_t n);
void ffl_quant_ref_q5_K(const float *x, void *dst, int64_t n);
void ffl_quant_ref_q6_K(const float *x, void *dst, int64_t n);
void ffl_quant_ref_iq4_nl(const float *x, void *dst, int64_t n);
void ffl_quant_ref_iq4_xs(const float *x, void *dst, int64_t n);

/* llama.cpp's nearest_int: round half to even through the float adder (valid for |v| < 2^22). */
static inline int ffl_nearest_int(float v) {
    float biased = v + 12582912.f;
    int32_t bits;
    __builtin_memcpy(&bits, &biased, 4);
    return (bits & 0x007fffff) - 0x00400000;
}

#ifdef __cplusplus
}
#endif

#endif
