/* Kernel dispatch and the scalar reference kernels: activation quantizers (rounding exactly like
 * ggml's reference quantizers) and dot products of every weight type with its activation type.
 * The SIMD files must agree with these up to float summation order. */
#include "quant/kernels.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/ffl_internal.h"
#include "cpu/cpu_features.h"
#include "common/fp16.h"
#include "quant/blocks.h"
#include "quant/kernels_internal.h"
#include "quant/repack.h"

/* ---------------------------------------------------------------- types */

int ffl_act_format(int32_t wtype) {
    switch (wtype) {
    case FFL_TYPE_F32: return FFL_ACT_F32;
    /* as ggml: half x half and bf16 x bf16 products are exact in float */
    case FFL_TYPE_F16: return FFL_ACT_F16;
    case FFL_TYPE_BF16: return FFL_ACT_BF16;
    case FFL_TYPE_Q4_0:
    case FFL_WTYPE_Q4_0_X16:
    case FFL_TYPE_Q5_0:
    case FFL_TYPE_Q8_0:
    case FFL_WTYPE_Q8_0_X16:
    case FFL_TYPE_IQ4_NL: return FFL_ACT_Q8_0;
    case FFL_TYPE_Q4_1:
    case FFL_TYPE_Q5_1: return FFL_ACT_Q8_1;
    case FFL_TYPE_Q2_K:
    case FFL_TYPE_Q3_K:
    case FFL_TYPE_Q4_K:
    case FFL_WTYPE_Q4_K_X16:
    case FFL_TYPE_Q5_K:
    case FFL_TYPE_Q6_K:
    case FFL_WTYPE_Q6_K_X16:
    case FFL_TYPE_IQ4_XS: return FFL_ACT_Q8_K;
    default: return -1;
    }
}

int32_t ffl_vec_dot_type(int32_t wtype) {
    switch (ffl_act_format(wtype)) {
    case FFL_ACT_F32: return FFL_TYPE_F32;
    case FFL_ACT_Q8_0: return FFL_TYPE_Q8_0;
    case FFL_ACT_Q8_1: return FFL_TYPE_Q8_1;
    case FFL_ACT_Q8_K: return FFL_TYPE_Q8_K;
    case FFL_ACT_BF16: return FFL_TYPE_BF16;
    case FFL_ACT_F16: return FFL_TYPE_F16;
    default: return -1;
    }
}

int ffl_matmul_supported(int32_t wtype) { return ffl_act_format(wtype) >= 0; }

size_t ffl_activation_row_bytes(int32_t wtype, int64_t n_cols) {
    switch (ffl_act_format(wtype)) {
    case FFL_ACT_F32: return (size_t)n_cols * sizeof(float);
    case FFL_ACT_Q8_0: return (size_t)(n_cols / QK8_0) * sizeof(block_q8_0);
    case FFL_ACT_Q8_1: return (size_t)(n_cols / QK8_1) * sizeof(block_q8_1);
    case FFL_ACT_Q8_K: return (size_t)(n_cols / QK_K) * sizeof(block_q8_K);
    case FFL_ACT_BF16:
    case FFL_ACT_F16: return (size_t)n_cols * sizeof(uint16_t);
    default: return 0;
    }
}

/* ---------------------------------------------------------------- activation quantizers */

static void quantize_f32_copy(const float *x, void *xq, int64_t n) { memcpy(xq, x, (size_t)n * sizeof(float)); }

void ffl_quantize_f16_scalar(const float *x, void *xq, int64_t n) {
    uint16_t *y = xq;
    for (int64_t i = 0; i < n; i++) y[i] = ffl_float_to_half(x[i]);
}

void ffl_quantize_bf16_scalar(const float *x, void *xq, int64_t n) {
    uint16_t *y = xq;
    for (int64_t i = 0; i < n; i++) y[i] = ffl_float_to_bf16(x[i]);
}

void ffl_quantize_q8_0_scalar(const float *x, void *xq, int64_t n) {
    block_q8_0 *y = xq;
    for (int64_t i = 0; i < n / QK8_0; i++, x += QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = ffl_float_to_half(d);
        for (int j = 0; j < QK8_0; j++) y[i].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

void ffl_quantize_q8_1_scalar(const float *x, void *xq, int64_t n) {
    block_q8_1 *y = xq;
    for (int64_t i = 0; i < n / QK8_1; i++, x += QK8_1) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_1; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < QK8_1; j++) {
            y[i].qs[j] = (int8_t)roundf(x[j] * id);
            sum += y[i].qs[j];
        }
        y[i].d = ffl_float_to_half(d);
        y[i].s = ffl_float_to_half((float)sum * d);
    }
}

/* Round half to even, as ggml's nearest_int does for |v| < 2^22. */
static inline int round_even(float v) { return (int)lrintf(v); }

static void quantize_block_q8_K(const float *x, block_q8_K *y) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK_K; j++) {
        float ax = fabsf(x[j]);
        if (ax > amax) {
            amax = ax;
            max = x[j];
        }
    }
    if (amax == 0.0f) {
        memset(y, 0, sizeof *y);
        return;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < QK_K; j++) {
        int v = round_even(iscale * x[j]);
        y->qs[j] = (int8_t)(v > 127 ? 127 : v);
    }
    for (int g = 0; g < QK_K / 16; g++) {
        int sum = 0;
        for (int j = 0; j < 16; j++) sum += y->qs[16 * g + j];
        y->bsums[g] = (int16_t)sum;
    }
    y->d = 1.0f / iscale;
}

void ffl_quantize_q8_K_scalar(const float *x, void *xq, int64_t n) {
    /* each block is built in an aligned local and copied out: activation rows may start at any address */
    block_q8_K block;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        quantize_block_q8_K(x, &block);
        memcpy((char *)xq + i * (int64_t)sizeof block, &block, sizeof block);
    }
}

/* ---------------------------------------------------------------- scalar dot products */

/* Float weights: exact products summed in double (memory-bound, so this costs nothing), which keeps
 * results independent of summation order across kernel levels. */
/* Element i of a float array that may sit at any address (callers may pass unaligned rows). */
static inline float load_f32(const void *p, int64_t i) {
    float v;
    memcpy(&v, (const char *)p + i * (int64_t)sizeof v, sizeof v);
    return v;
}

static inline uint16_t load_u16(const void *p, int64_t i) {
    uint16_t v;
    memcpy(&v, (const char *)p + i * (int64_t)sizeof v, sizeof v);
    return v;
}

static float dot_f32(int64_t n, const void *w, const void *x) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)load_f32(w, i) * load_f32(x, i);
    return (float)s;
}

static float dot_f16(int64_t n, const void *w, const void *x) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)(ffl_half_to_float(load_u16(w, i)) * ffl_half_to_float(load_u16(x, i)));
    return (float)s;
}

static float dot_bf16(int64_t n, const void *w, const void *x) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)(ffl_bf16_to_float(load_u16(w, i)) * ffl_bf16_to_float(load_u16(x, i)));
    return (float)s;
}

static inline float block_dot_q8_0(const block_q8_0 *a, const block_q8_0 *b) {
    int s = 0;
    for (int j = 0; j < QK8_0; j++) s += a->qs[j] * b->qs[j];
    return (float)s * (ffl_half_to_float(a->d) * ffl_half_to_float(b->d));
}

static float dot_q8_0(int64_t n, const void *w, const void *x) {
    const block_q8_0 *a = w, *b = x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK8_0; i++) sum += block_dot_q8_0(&a[i], &b[i]);
    return sum;
}

static inline float block_dot_q4_0(const block_q4_0 *a, const block_q8_0 *b) {
    int s = 0;
    for (int j = 0; j < 16; j++) {
        s += ((a->qs[j] & 0xF) - 8) * b->qs[j];
        s += ((a->qs[j] >> 4) - 8) * b->qs[j + 16];
    }
    return (float)s * (ffl_half_to_float(a->d) * ffl_half_to_float(b->d));
}

static float dot_q4_0(int64_t n, const void *w, const void *x) {
    const block_q4_0 *a = w;
    const block_q8_0 *b = x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK4_0; i++) sum += block_dot_q4_0(&a[i], &b[i]);
    return sum;
}

/* Interleaved layouts (quant/repack.h): the same sums in the same order as on the rows before. */
static inline float dot_x16(int32_t rtype, int64_t n, const void *w, const void *x) {
    const block_q8_0 *b = x;
    const int64_t nb = n / 32;
    const size_t bb = rtype == FFL_WTYPE_Q4_0_X16 ? sizeof(block_q4_0) : sizeof(block_q8_0);
    union {
        block_q4_0 q4[FFL_X16_GROUP];
        block_q8_0 q8[FFL_X16_GROUP];
    } blocks;
    float sum = 0.0f;
    for (int64_t i = 0; i < nb;) {
        const int G = ffl_x16_group_blocks(i, nb);
        ffl_x16_unpack_group(rtype, (const uint8_t *)w + i * bb, G, &blocks);
        for (int j = 0; j < G; j++)
            sum += rtype == FFL_WTYPE_Q4_0_X16 ? block_dot_q4_0(&blocks.q4[j], &b[i + j]) : block_dot_q8_0(&blocks.q8[j], &b[i + j]);
        i += G;
    }
    return sum;
}
static float dot_q4_0_x16(int64_t n, const void *w, const void *x) { return dot_x16(FFL_WTYPE_Q4_0_X16, n, w, x); }
static float dot_q8_0_x16(int64_t n, const void *w, const void *x) { return dot_x16(FFL_WTYPE_Q8_0_X16, n, w, x); }

static float dot_q4_1(int64_t n, const void *w, const void *x) {
    const block_q4_1 *a = w;
    const block_q8_1 *b = x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK4_1; i++) {
        int s = 0;
        for (int j = 0; j < 16; j++) s += (a[i].qs[j] & 0xF) * b[i].qs[j] + (a[i].qs[j] >> 4) * b[i].qs[j + 16];
        sum += (float)s * (ffl_half_to_float(a[i].d) * ffl_half_to_float(b[i].d)) +
               ffl_half_to_float(a[i].m) * ffl_half_to_float(b[i].s);
    }
    return sum;
}

static float dot_q5_0(int64_t n, const void *w, const void *x) {
    const block_q5_0 *a = w;
    const block_q8_0 *b = x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK5_0; i++) {
        uint32_t qh;
        memcpy(&qh, a[i].qh, 4);
        int s = 0;
        for (int j = 0; j < 16; j++) {
            int lo = (a[i].qs[j] & 0xF) | (((qh >> j) & 1) << 4);
            int hi = (a[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
            s += (lo - 16) * b[i].qs[j] + (hi - 16) * b[i].qs[j + 16];
        }
        sum += (float)s * (ffl_half_to_float(a[i].d) * ffl_half_to_float(b[i].d));
    }
    return sum;
}

static float dot_q5_1(int64_t n, const void *w, const void *x) {
    const block_q5_1 *a = w;
    const block_q8_1 *b = x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK5_1; i++) {
        uint32_t qh;
        memcpy(&qh, a[i].qh, 4);
        int s = 0;
        for (int j = 0; j < 16; j++) {
            int lo = (a[i].qs[j] & 0xF) | (((qh >> j) & 1) << 4);
            int hi = (a[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
            s += lo * b[i].qs[j] + hi * b[i].qs[j + 16];
        }
        sum += (float)s * (ffl_half_to_float(a[i].d) * ffl_half_to_float(b[i].d)) +
               ffl_half_to_float(a[i].m) * ffl_half_to_float(b[i].s);
    }
    return sum;
}

static float dot_iq4_nl(int64_t n, const void *w, const void *x) {
    const block_iq4_nl *a = w;
    const block_q8_0 *b = x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK4_NL; i++) {
        int s = 0;
        for (int j = 0; j < 16; j++)
            s += ffl_iq4nl_values[a[i].qs[j] & 0xF] * b[i].qs[j] + ffl_iq4nl_values[a[i].qs[j] >> 4] * b[i].qs[j + 16];
        sum += (float)s * (ffl_half_to_float(a[i].d) * ffl_half_to_float(b[i].d));
    }
    return sum;
}

/* Integer dot of 16 weights with 16 activations. */
static inline int idot16(const int8_t *q, const int8_t *a) {
    int s = 0;
    for (int l = 0; l < 16; l++) s += q[l] * a[l];
    return s;
}

static float dot_q2_K(int64_t n, const void *w, const void *x) {
    const block_q2_K *a = w;
    const block_q8_K *b = x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int8_t q[QK_K];
        for (int c = 0; c < 2; c++)          /* two halves of 128 */
            for (int j = 0; j < 4; j++)      /* shift 2j */
                for (int l = 0; l < 32; l++) q[128 * c + 32 * j + l] = (int8_t)((a[i].qs[32 * c + l] >> (2 * j)) & 3);
        int isum = 0, msum = 0;
        for (int g = 0; g < 16; g++) {
            isum += (a[i].scales[g] & 0xF) * idot16(q + 16 * g, b[i].qs + 16 * g);
            msum += (a[i].scales[g] >> 4) * b[i].bsums[g];
        }
        sum += b[i].d * (ffl_half_to_float(a[i].d) * (float)isum - ffl_half_to_float(a[i].dmin) * (float)msum);
    }
    return sum;
}

static float dot_q3_K(int64_t n, const void *w, const void *x) {
    const block_q3_K *a = w;
    const block_q8_K *b = x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int8_t q[QK_K], sc[16];
        for (int c = 0; c < 2; c++)
            for (int j = 0; j < 4; j++) {
                const uint8_t bit = (uint8_t)(1u << (4 * c + j));
                for (int l = 0; l < 32; l++) {
                    int v = (a[i].qs[32 * c + l] >> (2 * j)) & 3;
                    q[128 * c + 32 * j + l] = (int8_t)(v - ((a[i].hmask[l] & bit) ? 0 : 4));
                }
            }
        ffl_q3k_scales(a[i].scales, sc);
        int isum = 0;
        for (int g = 0; g < 16; g++) isum += sc[g] * idot16(q + 16 * g, b[i].qs + 16 * g);
        sum += b[i].d * ffl_half_to_float(a[i].d) * (float)isum;
    }
    return sum;
}

static float block_dot_q4_K(const block_q4_K *a, const block_q8_K *b) {
    int8_t q[QK_K];
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            q[64 * c + l] = (int8_t)(a->qs[32 * c + l] & 0xF);
            q[64 * c + 32 + l] = (int8_t)(a->qs[32 * c + l] >> 4);
        }
    int isum = 0, msum = 0;
    for (int j = 0; j < 8; j++) {
        uint8_t sc, mn;
        ffl_k4_scale_min(j, a->scales, &sc, &mn);
        isum += sc * (idot16(q + 32 * j, b->qs + 32 * j) + idot16(q + 32 * j + 16, b->qs + 32 * j + 16));
        msum += mn * (b->bsums[2 * j] + b->bsums[2 * j + 1]);
    }
    return b->d * (ffl_half_to_float(a->d) * (float)isum - ffl_half_to_float(a->dmin) * (float)msum);
}

static float dot_q4_K(int64_t n, const void *w, const void *x) {
    const block_q4_K *a = w;
    const block_q8_K *b = x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) sum += block_dot_q4_K(&a[i], &b[i]);
    return sum;
}

/* Q4_K interleaved (quant/repack.h): the same sums in the same order as dot_q4_K on the rows before. */
static float dot_q4_K_x16(int64_t n, const void *w, const void *x) {
    const block_q8_K *b = x;
    const int64_t nsub = n / 32;
    block_q4_K blocks[2];
    float sum = 0.0f;
    for (int64_t s = 0; s < nsub;) {
        const int G = ffl_x16_group_blocks(s, nsub);
        ffl_x16_unpack_group(FFL_WTYPE_Q4_K_X16, (const uint8_t *)w + s * (sizeof(block_q4_K) / 8), G, blocks);
        for (int i = 0; i < G / 8; i++) sum += block_dot_q4_K(&blocks[i], &b[s / 8 + i]);
        s += G;
    }
    return sum;
}

static float dot_q5_K(int64_t n, const void *w, const void *x) {
    const block_q5_K *a = w;
    const block_q8_K *b = x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int8_t q[QK_K];
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++) {
                int h = a[i].qh[l];
                q[64 * c + l] = (int8_t)((a[i].qs[32 * c + l] & 0xF) | (((h >> (2 * c)) & 1) << 4));
                q[64 * c + 32 + l] = (int8_t)((a[i].qs[32 * c + l] >> 4) | (((h >> (2 * c + 1)) & 1) << 4));
            }
        int isum = 0, msum = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, mn;
            ffl_k4_scale_min(j, a[i].scales, &sc, &mn);
            isum += sc * (idot16(q + 32 * j, b[i].qs + 32 * j) + idot16(q + 32 * j + 16, b[i].qs + 32 * j + 16));
            msum += mn * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]);
        }
        sum += b[i].d * (ffl_half_to_float(a[i].d) * (float)isum - ffl_half_to_float(a[i].dmin) * (float)msum);
    }
    return sum;
}

static float block_dot_q6_K(const block_q6_K *a, const block_q8_K *b) {
    int8_t q[QK_K];
    for (int c = 0; c < 2; c++) {
        const uint8_t *ql = a->ql + 64 * c, *qh = a->qh + 32 * c;
        int8_t *o = q + 128 * c;
        for (int l = 0; l < 32; l++) {
            o[l] = (int8_t)(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
            o[l + 32] = (int8_t)(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
            o[l + 64] = (int8_t)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
            o[l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
        }
    }
    int isum = 0;
    for (int g = 0; g < 16; g++) isum += a->scales[g] * idot16(q + 16 * g, b->qs + 16 * g);
    return b->d * ffl_half_to_float(a->d) * (float)isum;
}

static float dot_q6_K(int64_t n, const void *w, const void *x) {
    const block_q6_K *a = w;
    const block_q8_K *b = x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) sum += block_dot_q6_K(&a[i], &b[i]);
    return sum;
}

/* Q6_K interleaved (quant/repack.h): the same sums in the same order as dot_q6_K on the rows before. */
static float dot_q6_K_x16(int64_t n, const void *w, const void *x) {
    const block_q8_K *b = x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        block_q6_K block;
        ffl_x16_unpack_group(FFL_WTYPE_Q6_K_X16, (const uint8_t *)w + i * sizeof(block_q6_K), 16, &block);
        sum += block_dot_q6_K(&block, &b[i]);
    }
    return sum;
}

static float dot_iq4_xs(int64_t n, const void *w, const void *x) {
    const block_iq4_xs *a = w;
    const block_q8_K *b = x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int isum = 0;
        for (int ib = 0; ib < 8; ib++) {
            const uint8_t *qs = a[i].qs + 16 * ib;
            const int8_t *y = b[i].qs + 32 * ib;
            int s = 0;
            for (int j = 0; j < 16; j++)
                s += ffl_iq4nl_values[qs[j] & 0xF] * y[j] + ffl_iq4nl_values[qs[j] >> 4] * y[j + 16];
            isum += ffl_iq4xs_scale(&a[i], ib) * s;
        }
        sum += b[i].d * ffl_half_to_float(a[i].d) * (float)isum;
    }
    return sum;
}

typedef float (*dot_fn)(int64_t n, const void *w, const void *x);

static dot_fn scalar_dot(int32_t wtype) {
    switch (wtype) {
    case FFL_TYPE_F32: return dot_f32;
    case FFL_TYPE_F16: return dot_f16;
    case FFL_TYPE_BF16: return dot_bf16;
    case FFL_TYPE_Q8_0: return dot_q8_0;
    case FFL_TYPE_Q4_0: return dot_q4_0;
    case FFL_WTYPE_Q4_0_X16: return dot_q4_0_x16;
    case FFL_WTYPE_Q8_0_X16: return dot_q8_0_x16;
    case FFL_TYPE_Q4_1: return dot_q4_1;
    case FFL_TYPE_Q5_0: return dot_q5_0;
    case FFL_TYPE_Q5_1: return dot_q5_1;
    case FFL_TYPE_IQ4_NL: return dot_iq4_nl;
    case FFL_TYPE_Q2_K: return dot_q2_K;
    case FFL_TYPE_Q3_K: return dot_q3_K;
    case FFL_TYPE_Q4_K: return dot_q4_K;
    case FFL_WTYPE_Q4_K_X16: return dot_q4_K_x16;
    case FFL_TYPE_Q5_K: return dot_q5_K;
    case FFL_TYPE_Q6_K: return dot_q6_K;
    case FFL_WTYPE_Q6_K_X16: return dot_q6_K_x16;
    case FFL_TYPE_IQ4_XS: return dot_iq4_xs;
    default: return NULL;
    }
}

float ffl_dot_scalar(int32_t wtype, int64_t n, const void *w, const void *x) { return scalar_dot(wtype)(n, w, x); }

/* One scalar matmul per weight type, so the table has a plain function pointer for each. */
#define SCALAR_MATMUL(name, dot)                                                                                    \
    static void name(const void *w, size_t wrb, const void *xq, size_t xrb, int64_t n_cols, int64_t n_tokens,      \
                     float *y, int64_t ldy, int64_t r0, int64_t r1) {                                                \
        for (int64_t r = r0; r < r1; r++) {                                                                          \
            const char *wr = (const char *)w + (size_t)r * wrb;                                                      \
            for (int64_t t = 0; t < n_tokens; t++) y[t * ldy + r] = dot(n_cols, wr, (const char *)xq + (size_t)t * xrb); \
        }                                                                                                            \
    }

SCALAR_MATMUL(mm_f32, dot_f32)
SCALAR_MATMUL(mm_f16, dot_f16)
SCALAR_MATMUL(mm_bf16, dot_bf16)
SCALAR_MATMUL(mm_q8_0, dot_q8_0)
SCALAR_MATMUL(mm_q4_0, dot_q4_0)
SCALAR_MATMUL(mm_q4_0_x16, dot_q4_0_x16)
SCALAR_MATMUL(mm_q8_0_x16, dot_q8_0_x16)
SCALAR_MATMUL(mm_q4_1, dot_q4_1)
SCALAR_MATMUL(mm_q5_0, dot_q5_0)
SCALAR_MATMUL(mm_q5_1, dot_q5_1)
SCALAR_MATMUL(mm_iq4_nl, dot_iq4_nl)
SCALAR_MATMUL(mm_q2_K, dot_q2_K)
SCALAR_MATMUL(mm_q3_K, dot_q3_K)
SCALAR_MATMUL(mm_q4_K, dot_q4_K)
SCALAR_MATMUL(mm_q4_K_x16, dot_q4_K_x16)
SCALAR_MATMUL(mm_q5_K, dot_q5_K)
SCALAR_MATMUL(mm_q6_K, dot_q6_K)
SCALAR_MATMUL(mm_q6_K_x16, dot_q6_K_x16)
SCALAR_MATMUL(mm_iq4_xs, dot_iq4_xs)

void ffl_kernels_fill_scalar(ffl_kernel_table *t) {
    t->quantize[FFL_ACT_F32] = quantize_f32_copy;
    t->quantize[FFL_ACT_Q8_0] = ffl_quantize_q8_0_scalar;
    t->quantize[FFL_ACT_Q8_1] = ffl_quantize_q8_1_scalar;
    t->quantize[FFL_ACT_Q8_K] = ffl_quantize_q8_K_scalar;
    t->quantize[FFL_ACT_BF16] = ffl_quantize_bf16_scalar;
    t->quantize[FFL_ACT_F16] = ffl_quantize_f16_scalar;
    t->matmul[FFL_TYPE_F32] = mm_f32;
    t->matmul[FFL_TYPE_F16] = mm_f16;
    t->matmul[FFL_TYPE_BF16] = mm_bf16;
    t->matmul[FFL_TYPE_Q8_0] = mm_q8_0;
    t->matmul[FFL_TYPE_Q4_0] = mm_q4_0;
    t->matmul[FFL_WTYPE_Q4_0_X16] = mm_q4_0_x16;
    t->matmul[FFL_WTYPE_Q8_0_X16] = mm_q8_0_x16;
    t->matmul[FFL_TYPE_Q4_1] = mm_q4_1;
    t->matmul[FFL_TYPE_Q5_0] = mm_q5_0;
    t->matmul[FFL_TYPE_Q5_1] = mm_q5_1;
    t->matmul[FFL_TYPE_IQ4_NL] = mm_iq4_nl;
    t->matmul[FFL_TYPE_Q2_K] = mm_q2_K;
    t->matmul[FFL_TYPE_Q3_K] = mm_q3_K;
    t->matmul[FFL_TYPE_Q4_K] = mm_q4_K;
    t->matmul[FFL_WTYPE_Q4_K_X16] = mm_q4_K_x16;
    t->matmul[FFL_TYPE_Q5_K] = mm_q5_K;
    t->matmul[FFL_TYPE_Q6_K] = mm_q6_K;
    t->matmul[FFL_WTYPE_Q6_K_X16] = mm_q6_K_x16;
    t->matmul[FFL_TYPE_IQ4_XS] = mm_iq4_xs;
}

/* ---------------------------------------------------------------- scratch */

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static _Thread_local void *scratch_ptr;
static _Thread_local size_t scratch_size;

static void scratch_free(void *p) { free(p); }
static void scratch_key_init(void) { pthread_key_create(&scratch_key, scratch_free); }

/* *buf with room for at least `bytes` (64-byte aligned, a quarter and `extra` spare): the old buffer is
 * kept when large enough, else replaced (its contents dropped). NULL, *buf untouched, without memory. */
static void *grow_buffer(void **buf, size_t *size, size_t bytes, size_t extra) {
    if (bytes <= *size) return *buf;
    const size_t want = (bytes + bytes / 4 + extra + 63) & ~(size_t)63;
    void *p = NULL;
    if (posix_memalign(&p, 64, want) != 0) return NULL;
    free(*buf);
    *buf = p;
    *size = want;
    return p;
}

void *ffl_kernel_scratch(size_t bytes) {
    if (bytes <= scratch_size) return scratch_ptr;
    pthread_once(&scratch_once, scratch_key_init);
    void *p = grow_buffer(&scratch_ptr, &scratch_size, bytes, 4096);
    if (p) pthread_setspecific(scratch_key, p); /* frees the buffer when the thread exits */
    return p;
}

/* ---------------------------------------------------------------- prepared activations */

/* A job has up to three matrices (q, k, v) in as many layouts, and 5-8 tokens take two calls each:
 * four slots keep the common cases; a miss only costs preparing again. */
#define PREP_SLOTS 4

typedef struct {
    uint64_t span; /* the span that filled it; 0: none */
    const void *xq;
    size_t xrb, size;
    int64_t n, t0;
    int32_t tag, nt;
    void *buf;
} prep_slot;

typedef struct {
    prep_slot slot[PREP_SLOTS];
    unsigned next;
} prep_cache;

static pthread_key_t prep_key;
static pthread_once_t prep_once = PTHREAD_ONCE_INIT;
static _Thread_local prep_cache *prep_tls;
static _Thread_local uint64_t prep_span, prep_spans; /* the open span's number (0: none open), spans so far */

static void prep_cache_free(void *p) {
    prep_cache *c = p;
    for (int i = 0; i < PREP_SLOTS; i++) free(c->slot[i].buf);
    free(c);
}
static void prep_key_init(void) { pthread_key_create(&prep_key, prep_cache_free); }

void ffl_kernel_act_span(int open) { prep_span = open ? ++prep_spans : 0; }

void *ffl_kernel_prepared(int32_t tag, const void *xq, size_t xrb, int64_t n, int64_t t0, int nt, size_t bytes, int *ready) {
    *ready = 0;
    if (!prep_tls) {
        pthread_once(&prep_once, prep_key_init);
        prep_tls = calloc(1, sizeof *prep_tls);
        if (!prep_tls) return NULL;
        pthread_setspecific(prep_key, prep_tls); /* frees the cache when the thread exits */
    }
    prep_cache *c = prep_tls;
    if (prep_span)
        for (int i = 0; i < PREP_SLOTS; i++) {
            const prep_slot *x = &c->slot[i];
            if (x->span == prep_span && x->xq == xq && x->xrb == xrb && x->n == n && x->t0 == t0 && x->tag == tag && x->nt == nt &&
                x->size >= bytes) {
                *ready = 1;
                return x->buf;
            }
        }
    prep_slot *sl = &c->slot[prep_span ? c->next++ % PREP_SLOTS : 0];
    if (!grow_buffer(&sl->buf, &sl->size, bytes, 0)) return NULL;
    /* filled by the caller now: valid for this span only (outside one, for no later call) */
    *sl = (prep_slot){prep_span, xq, xrb, sl->size, n, t0, tag, nt, sl->buf};
    return sl->buf;
}

/* ---------------------------------------------------------------- dispatch */

#define N_LEVELS (FFL_CPU_NEON_DOTPROD + 1)
static ffl_kernel_table tables[N_LEVELS];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* Each level's table starts as a copy of the level below it, so missing kernels fall back. */
static void build_tables(void) {
    ffl_kernels_fill_scalar(&tables[FFL_CPU_SCALAR]);
    for (int l = 1; l < N_LEVELS; l++) tables[l] = tables[FFL_CPU_SCALAR];
#if defined(__x86_64__)
    const ffl_cpu_info *ci = ffl_cpu_info_get();
    if (ci->max_level >= FFL_CPU_AVX2) {
        ffl_kernels_fill_avx2(&tables[FFL_CPU_AVX2]);
        tables[FFL_CPU_AVX512] = tables[FFL_CPU_AVX2];
    }
    if (ci->max_level >= FFL_CPU_AVX512) ffl_kernels_fill_avx512(&tables[FFL_CPU_AVX512]);
#elif defined(__aarch64__)
    ffl_kernels_fill_neon(&tables[FFL_CPU_NEON], 0);
    tables[FFL_CPU_NEON_DOTPROD] = tables[FFL_CPU_NEON];
    if (ffl_cpu_info_get()->dotprod) ffl_kernels_fill_neon(&tables[FFL_CPU_NEON_DOTPROD], 1);
#endif
}

static inline const ffl_kernel_table *current_table(void) {
    pthread_once(&tables_once, build_tables);
    int32_t level = ffl_cpu_level();
    if (level < 0 || level >= N_LEVELS) level = FFL_CPU_SCALAR;
    return &tables[level];
}

int32_t ffl_matmul_peak_kind(int32_t wtype) {
    switch (ffl_act_format(wtype)) {
    case -1: return -1;
    case FFL_ACT_F32:
    case FFL_ACT_BF16: return FFL_PEAK_F32_FMA;
    case FFL_ACT_F16: return current_table()->f16_int16 ? FFL_PEAK_INT16_DOT : FFL_PEAK_F32_FMA;
    default: return FFL_PEAK_INT8_DOT;
    }
}

int32_t ffl_repack_type(int32_t wtype, int64_t n_cols) {
    const int32_t r = ffl_x16_layout(wtype);
    if (r < 0 || !ffl_repack_fits(r, wtype, n_cols)) return -1;
    /* only where the current level has a kernel of its own for the layout: the scalar one is a reference */
    return current_table()->matmul[r] != tables[FFL_CPU_SCALAR].matmul[r] ? r : -1;
}

void ffl_repack_rows_fast(int32_t rtype, const void *src, void *dst, size_t row_bytes, int64_t n_cols, int64_t n_rows) {
    const ffl_repack_fn f = rtype >= 0 && rtype < FFL_WTYPE_COUNT && src != dst ? current_table()->repack[rtype] : NULL;
    if (f && ffl_repack_fits(rtype, ffl_x16_base(rtype), n_cols)) f(src, dst, row_bytes, n_cols, n_rows);
    else ffl_repack_rows(rtype, src, dst, row_bytes, n_cols, n_rows);
}

void ffl_quantize_activations(int32_t wtype, const float *x, int64_t ldx, void *xq, int64_t n_cols, int64_t r0,
                              int64_t r1) {
    int fmt = ffl_act_format(wtype);
    if (fmt < 0) return;
    ffl_act_quantize_fn q = current_table()->quantize[fmt];
    size_t rb = ffl_activation_row_bytes(wtype, n_cols);
    for (int64_t r = r0; r < r1; r++) q(x + r * ldx, (char *)xq + (size_t)r * rb, n_cols);
}

void ffl_matmul_rows(int32_t wtype, const void *w, size_t w_row_bytes, const void *xq, int64_t n_cols,
                     int64_t n_tokens, float *y, int64_t ldy, int64_t r0, int64_t r1) {
    if (ffl_act_format(wtype) < 0 || r0 >= r1 || n_tokens <= 0) return;
    ffl_matmul_fn mm = current_table()->matmul[wtype];
    mm(w, w_row_bytes, xq, ffl_activation_row_bytes(wtype, n_cols), n_cols, n_tokens, y, ldy, r0, r1);
}

int ffl_attn_scores(int32_t kv_type, const float *q, int32_t nh, int32_t hd, int64_t q_stride, const void *k, size_t k_stride,
                    int32_t w, float *scores) {
    const ffl_attn_scores_fn f = current_table()->attn_scores;
    return f && w > 0 && (kv_type == FFL_TYPE_F16 || kv_type == FFL_TYPE_F32) ? f(kv_type, q, nh, hd, q_stride, k, k_stride, w, scores)
                                                                             : 0;
}

int ffl_attn_values(int32_t kv_type, const float *p, int32_t nh, int32_t w, const void *v, size_t v_stride, int32_t hdv,
                    float *out, int64_t out_stride) {
    const ffl_attn_values_fn f = current_table()->attn_values;
    return f && w > 0 && (kv_type == FFL_TYPE_F16 || kv_type == FFL_TYPE_F32) ? f(kv_type, p, nh, w, v, v_stride, hdv, out, out_stride)
                                                                             : 0;
}

void ffl_matmul_rows_strided(int32_t wtype, const void *w, size_t w_row_bytes, const void *x, size_t x_row_bytes,
                             int64_t n_cols, int64_t n_tokens, float *y, int64_t ldy, int64_t r0, int64_t r1) {
    if ((wtype != FFL_TYPE_F32 && wtype != FFL_TYPE_F16 && wtype != FFL_TYPE_BF16) || r0 >= r1 || n_tokens <= 0) return;
    current_table()->matmul[wtype](w, w_row_bytes, x, x_row_bytes, n_cols, n_tokens, y, ldy, r0, r1);
}
