/* Private contract between the kernel dispatcher (kernels.c) and the per-ISA kernel files.
 * Each level provides a table; a NULL entry falls back to the next lower level (finally scalar). */
#ifndef FFL_QUANT_KERNELS_INTERNAL_H
#define FFL_QUANT_KERNELS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fflama.h"
#include "quant/blocks.h"
#include "quant/repack.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Activation formats (index of ffl_kernel_table.quantize). */
enum { FFL_ACT_F32 = 0, FFL_ACT_Q8_0 = 1, FFL_ACT_Q8_1 = 2, FFL_ACT_Q8_K = 3, FFL_ACT_BF16 = 4, FFL_ACT_F16 = 5, FFL_ACT_COUNT = 6 };

/* Converts one row of n floats into activation blocks. */
typedef void (*ffl_act_quantize_fn)(const float *x, void *xq, int64_t n);

/* The matmul contract of kernels.h with the row size of the activations precomputed. */
typedef void (*ffl_matmul_fn)(const void *w, size_t w_row_bytes, const void *xq, size_t x_row_bytes, int64_t n_cols,
                              int64_t n_tokens, float *y, int64_t ldy, int64_t r0, int64_t r1);

/* ffl_repack_rows for one layout, src != dst. */
typedef void (*ffl_repack_fn)(const void *src, void *dst, size_t row_bytes, int64_t n_cols, int64_t n_rows);

/* Attention products on one KV head (kernels.h: ffl_attn_scores / ffl_attn_values);
 * 0 when the arguments are outside what the kernel handles. */
typedef int (*ffl_attn_scores_fn)(int32_t kv_type, const float *q, int32_t nh, int32_t hd, int64_t q_stride, const void *k,
                                  size_t k_stride, int32_t w, float *scores);
typedef int (*ffl_attn_values_fn)(int32_t kv_type, const float *p, int32_t nh, int32_t w, const void *v, size_t v_stride,
                                  int32_t hdv, float *out, int64_t out_stride);

typedef struct {
    ffl_act_quantize_fn quantize[FFL_ACT_COUNT];
    ffl_attn_scores_fn attn_scores; /* NULL: the level has none (callers use the general products) */
    ffl_attn_values_fn attn_values;
    ffl_repack_fn repack[FFL_WTYPE_COUNT]; /* NULL: the portable conversion of repack.c */
    ffl_matmul_fn matmul[FFL_WTYPE_COUNT]; /* GGUF types, then the load-time layouts of repack.h */
    int f16_int16; /* many-token F16 products run on 16-bit integers (FFL_PEAK_INT16_DOT) */
} ffl_kernel_table;

/* Fills the entries a level implements (leaves the others untouched). */
void ffl_kernels_fill_scalar(ffl_kernel_table *t);
#if defined(__x86_64__)
void ffl_kernels_fill_avx2(ffl_kernel_table *t);
void ffl_kernels_fill_avx512(ffl_kernel_table *t);
/* Wraps the AVX2 entries: many tokens go to the tiled kernels of kernels_avx2_gemm.c. */
void ffl_kernels_fill_avx2_gemm(ffl_kernel_table *t);
#endif
#if defined(__aarch64__)
void ffl_kernels_fill_neon(ffl_kernel_table *t, int dotprod);
#endif

/* Thread-local 64-byte aligned scratch memory for the kernels, valid until the next call on the
 * same thread; NULL when it cannot be allocated (callers then fall back to the scalar path). */
void *ffl_kernel_scratch(size_t bytes);

/* Thread-local 64-byte aligned memory for a token block's activations as a kernel rearranged them
 * before multiplying rows: tokens [t0, t0 + nt) of xq (rows xrb bytes apart, n columns), in the form
 * tag names (FFL_PREP_TAG). *ready = 1 when a call earlier in the same span (ffl_kernel_act_span) with
 * the same arguments left them there; else the caller fills the memory. NULL when it cannot be
 * allocated (callers then fall back to the scalar path). */
void *ffl_kernel_prepared(int32_t tag, const void *xq, size_t xrb, int64_t n, int64_t t0, int nt, size_t bytes, int *ready);

/* What a kernel's prepared activations are: its own kind (FFL_PREP_...) and the weight type. */
enum { FFL_PREP_X16 = 1, FFL_PREP_32, FFL_PREP_K4, FFL_PREP_AVX2_32, FFL_PREP_AVX2_32_PAIRS, FFL_PREP_AVX2_K, FFL_PREP_I16 };
#define FFL_PREP_TAG(kind, wtype) ((int32_t)(kind) << 16 | (int32_t)(wtype))

/* Activation format of a weight type, or -1 when the type has no kernels. */
int ffl_act_format(int32_t wtype);

/* Scalar reference pieces the SIMD files reuse for tails and odd types. */
float ffl_dot_scalar(int32_t wtype, int64_t n, const void *w, const void *x);
void ffl_quantize_q8_0_scalar(const float *x, void *xq, int64_t n);
void ffl_quantize_q8_1_scalar(const float *x, void *xq, int64_t n);
void ffl_quantize_q8_K_scalar(const float *x, void *xq, int64_t n);
void ffl_quantize_bf16_scalar(const float *x, void *xq, int64_t n);
void ffl_quantize_f16_scalar(const float *x, void *xq, int64_t n);

/* Block fields sit at any address (blocks are packed): loads that assume no alignment. */
static inline uint16_t ffl_ld16(const void *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}
static inline uint32_t ffl_ld32(const void *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Bytes per block of the 32-element types (Q4_0 .. Q8_0, IQ4_NL) and of the 256-element ones
 * (K-quants, IQ4_XS); constant once inlined into a per-type kernel. */
static inline int ffl_block_bytes32(int type) {
    switch (type) {
    case FFL_TYPE_Q4_0: return sizeof(block_q4_0);
    case FFL_TYPE_Q4_1: return sizeof(block_q4_1);
    case FFL_TYPE_Q5_0: return sizeof(block_q5_0);
    case FFL_TYPE_Q5_1: return sizeof(block_q5_1);
    case FFL_TYPE_Q8_0: return sizeof(block_q8_0);
    default: return sizeof(block_iq4_nl);
    }
}
static inline int ffl_block_bytes_k(int type) {
    switch (type) {
    case FFL_TYPE_Q2_K: return sizeof(block_q2_K);
    case FFL_TYPE_Q3_K: return sizeof(block_q3_K);
    case FFL_TYPE_Q4_K: return sizeof(block_q4_K);
    case FFL_TYPE_Q5_K: return sizeof(block_q5_K);
    case FFL_TYPE_Q6_K: return sizeof(block_q6_K);
    default: return sizeof(block_iq4_xs);
    }
}

/* Q4_K / Q5_K 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes. */
static inline void ffl_k4_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *mn) {
    if (j < 4) {
        *sc = q[j] & 63;
        *mn = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *mn = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Q3_K: the 16 6-bit scales (biased by 32) unpacked from 12 bytes; out[i] = scale - 32. */
static inline void ffl_q3k_scales(const uint8_t *p, int8_t *out) {
    for (int i = 0; i < 16; i++) {
        int low = (i < 8) ? (p[i] & 0xF) : (p[i - 8] >> 4);
        int high = (p[8 + (i & 3)] >> (2 * (i >> 2))) & 3;
        out[i] = (int8_t)((low | (high << 4)) - 32);
    }
}

/* IQ4_XS 6-bit scale of sub-block ib (0..7), minus 32. */
static inline int ffl_iq4xs_scale(const block_iq4_xs *b, int ib) {
    int ls = ((b->scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((b->scales_h >> (2 * ib)) & 3) << 4);
    return ls - 32;
}

#ifdef __cplusplus
}
#endif

#endif
