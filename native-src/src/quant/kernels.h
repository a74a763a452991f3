/* The compute interface the forward pass uses: activation quantization and matrix products
 * for every weight type, dispatched at run time to scalar / AVX2 / AVX-512 / NEON kernels.
 * All functions here are internal (not exported) and assume validated arguments. */
#ifndef FFL_QUANT_KERNELS_H
#define FFL_QUANT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Type the activations are converted to before a dot product with weights of `wtype`:
 * Q8_0 for Q4_0/Q5_0/Q8_0/IQ4_NL, Q8_1 for Q4_1/Q5_1, Q8_K for K-quants and IQ4_XS, F32 for F32,
 * F16 for F16 and BF16 for BF16 weights (as ggml). -1 for types without kernels. */
int32_t ffl_vec_dot_type(int32_t wtype);

/* Bytes one activation row of n_cols elements takes in ffl_vec_dot_type(wtype). */
size_t ffl_activation_row_bytes(int32_t wtype, int64_t n_cols);

/* Converts n_rows rows of n_cols floats (row stride ldx floats) into packed activation rows
 * (each ffl_activation_row_bytes(wtype, n_cols) bytes) for rows [r0, r1). Thread-splittable by rows. */
void ffl_quantize_activations(int32_t wtype, const float *x, int64_t ldx, void *xq, int64_t n_cols, int64_t r0, int64_t r1);

/* y[t * ldy + r] = dot(weight row r, activation row t) for weight rows [r0, r1) and all n_tokens
 * activation rows. w points to row 0; rows are w_row_bytes apart. xq comes from ffl_quantize_activations.
 * For n_tokens > 1 the kernels block over rows and tokens so each weight block is read once per tile. */
void ffl_matmul_rows(int32_t wtype, const void *w, size_t w_row_bytes, const void *xq, int64_t n_cols, int64_t n_tokens,
                     float *y, int64_t ldy, int64_t r0, int64_t r1);

/* Opens (1) or closes (0) a span of ffl_matmul_rows calls on this thread during which the activations
 * at any address stay the same. Kernels that rearrange a token's activations before multiplying rows
 * then do it once per span for each activation and layout, instead of once per call (per chunk of
 * rows a thread takes). Outside a span nothing is reused. */
void ffl_kernel_act_span(int open);

/* ffl_matmul_rows for float weight types (F32, F16, BF16, whose activations have the weights' own
 * format) with activation rows x_row_bytes apart instead of packed: rows of a KV cache used in place. */
void ffl_matmul_rows_strided(int32_t wtype, const void *w, size_t w_row_bytes, const void *x, size_t x_row_bytes,
                             int64_t n_cols, int64_t n_tokens, float *y, int64_t ldy, int64_t r0, int64_t r1);

/* Attention products on one KV head's cache of kv_type (F16 or F32), for nh query rows (a token's
 * heads that share the KV head, or a prompt block's tokens of one head), when the current level has
 * kernels for it (1) or not (0: nothing is written and the caller takes the matmul kernels).
 * Inputs are floats; for an F16 cache q and p are rounded to F16 first, as ggml's F16 products do.
 *   scores[h * w + j] = q_h . K_j  for nh query rows q_h of hd floats, q_stride floats apart, and w
 *                                  key rows K_j of hd elements, k_stride bytes apart;
 *   out[h * out_stride + c] = p_h . V_c  for nh probability rows p_h of w floats (contiguous) and hdv
 *                                  value rows V_c of w elements, v_stride bytes apart. */
int ffl_attn_scores(int32_t kv_type, const float *q, int32_t nh, int32_t hd, int64_t q_stride, const void *k, size_t k_stride,
                    int32_t w, float *scores);
int ffl_attn_values(int32_t kv_type, const float *p, int32_t nh, int32_t w, const void *v, size_t v_stride, int32_t hdv,
                    float *out, int64_t out_stride);

/* Dequantizes one row of n elements of any supported type to floats (embedding lookup). */
void ffl_dequantize_row_internal(int32_t type, const void *src, float *dst, int64_t n);

/* The load-time layout (quant/repack.h) the current kernel level multiplies faster than wtype's own
 * rows of n_cols elements, or -1 when there is none. */
int32_t ffl_repack_type(int32_t wtype, int64_t n_cols);

/* ffl_repack_rows (quant/repack.h) with the current level's conversion when it has one (src != dst). */
void ffl_repack_rows_fast(int32_t rtype, const void *src, void *dst, size_t row_bytes, int64_t n_cols, int64_t n_rows);

/* 1 if the kernels can multiply weights of this type. */
int ffl_matmul_supported(int32_t wtype);

#ifdef __cplusplus
}
#endif

#endif
