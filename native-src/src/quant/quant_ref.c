/* Reference dequantizers for every stored type, reference quantizers for the float and legacy
 * (32-element block) types, and the public row API. The quantizers follow llama.cpp's
 * quantize_row_<type>_ref arithmetic step by step (same operation order, float accumulation,
 * truncating casts), because llama-quantize takes that path when it has no importance matrix. */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "quant/quant_ref.h"

#include "common/ffl_internal.h"
#include "common/fp16.h"
#include "quant/blocks.h"
#include "quant/kernels.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* float -> small unsigned level as C's truncating cast does; out-of-range and NaN inputs (which a
 * valid block never produces) get a defined value instead of undefined behaviour. */
static inline int trunc_level(float v) {
    if (!(v > -128.0f && v < 128.0f)) return v > 0 ? 127 : 0;
    return (int)(int8_t)(int)v;
}

static inline int imin(int a, int b) { return a < b ? a : b; }

/* ---- float types ---- */

static uint16_t to_half_ggml(float f) {
    /* ggml writes NaN as the canonical quiet NaN, keeping only the sign */
    if (isnan(f)) return (uint16_t)((ffl_f32_bits(f) >> 16 & 0x8000) | 0x7e00);
    return ffl_float_to_half(f);
}

/* ---- legacy types ---- */

static void quant_q4_0(const float *x, block_q4_0 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK4_0) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK4_0; j++) {
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        const float d = max / -8;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = ffl_float_to_half(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            const int lo = imin(15, trunc_level(x[j] * id + 8.5f));
            const int hi = imin(15, trunc_level(x[j + QK4_0 / 2] * id + 8.5f));
            y[i].qs[j] = (uint8_t)(lo | (hi << 4));
        }
    }
}

static void quant_q4_1(const float *x, block_q4_1 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK4_1) {
        float min = FLT_MAX, max = -FLT_MAX;
        for (int j = 0; j < QK4_1; j++) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        const float d = (max - min) / 15;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = ffl_float_to_half(d);
        y[i].m = ffl_float_to_half(min);
        for (int j = 0; j < QK4_1 / 2; j++) {
            const int lo = imin(15, trunc_level((x[j] - min) * id + 0.5f));
            const int hi = imin(15, trunc_level((x[j + QK4_1 / 2] - min) * id + 0.5f));
            y[i].qs[j] = (uint8_t)(lo | (hi << 4));
        }
    }
}

static void quant_q5_0(const float *x, block_q5_0 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK5_0) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK5_0; j++) {
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        const float d = max / -16;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = ffl_float_to_half(d);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_0 / 2; j++) {
            const int lo = imin(31, trunc_level(x[j] * id + 16.5f));
            const int hi = imin(31, trunc_level(x[j + QK5_0 / 2] * id + 16.5f));
            y[i].qs[j] = (uint8_t)((lo & 0x0f) | ((hi & 0x0f) << 4));
            qh |= (uint32_t)((lo & 0x10) >> 4) << j;
            qh |= (uint32_t)((hi & 0x10) >> 4) << (j + QK5_0 / 2);
        }
        memcpy(y[i].qh, &qh, 4);
    }
}

static void quant_q5_1(const float *x, block_q5_1 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK5_1) {
        float min = FLT_MAX, max = -FLT_MAX;
        for (int j = 0; j < QK5_1; j++) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        const float d = (max - min) / 31;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = ffl_float_to_half(d);
        y[i].m = ffl_float_to_half(min);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_1 / 2; j++) {
            /* llama.cpp casts to uint8_t here without clamping */
            const int lo = trunc_level((x[j] - min) * id + 0.5f) & 0xff;
            const int hi = trunc_level((x[j + QK5_1 / 2] - min) * id + 0.5f) & 0xff;
            y[i].qs[j] = (uint8_t)((lo & 0x0f) | ((hi & 0x0f) << 4));
            qh |= (uint32_t)((lo & 0x10) >> 4) << j;
            qh |= (uint32_t)((hi & 0x10) >> 4) << (j + QK5_1 / 2);
        }
        memcpy(y[i].qh, &qh, 4);
    }
}

static void quant_q8_0(const float *x, block_q8_0 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; j++) amax = amax > fabsf(x[j]) ? amax : fabsf(x[j]);
        const float d = amax / 127;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = ffl_float_to_half(d);
        for (int j = 0; j < QK8_0; j++) {
            const float r = roundf(x[j] * id);
            y[i].qs[j] = (int8_t)(r >= -128.0f && r <= 127.0f ? (int)r : 0);
        }
    }
}

int ffl_quant_ref_supported(int32_t type) {
    switch (type) {
    case FFL_TYPE_F32: case FFL_TYPE_F16: case FFL_TYPE_BF16:
    case FFL_TYPE_Q4_0: case FFL_TYPE_Q4_1: case FFL_TYPE_Q5_0: case FFL_TYPE_Q5_1: case FFL_TYPE_Q8_0:
    case FFL_TYPE_Q2_K: case FFL_TYPE_Q3_K: case FFL_TYPE_Q4_K: case FFL_TYPE_Q5_K: case FFL_TYPE_Q6_K:
    case FFL_TYPE_IQ4_NL: case FFL_TYPE_IQ4_XS:
        return 1;
    default:
        return 0;
    }
}

void ffl_quant_ref_row(int32_t type, const float *src, void *dst, int64_t n) {
    switch (type) {
    case FFL_TYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
    case FFL_TYPE_F16: {
        uint16_t *h = dst;
        for (int64_t i = 0; i < n; i++) h[i] = to_half_ggml(src[i]);
        break;
    }
    case FFL_TYPE_BF16: {
        uint16_t *h = dst;
        for (int64_t i = 0; i < n; i++) h[i] = ffl_float_to_bf16(src[i]);
        break;
    }
    case FFL_TYPE_Q4_0: quant_q4_0(src, dst, n / QK4_0); break;
    case FFL_TYPE_Q4_1: quant_q4_1(src, dst, n / QK4_1); break;
    case FFL_TYPE_Q5_0: quant_q5_0(src, dst, n / QK5_0); break;
    case FFL_TYPE_Q5_1: quant_q5_1(src, dst, n / QK5_1); break;
    case FFL_TYPE_Q8_0: quant_q8_0(src, dst, n / QK8_0); break;
    case FFL_TYPE_Q2_K: ffl_quant_ref_q2_K(src, dst, n); break;
    case FFL_TYPE_Q3_K: ffl_quant_ref_q3_K(src, dst, n); break;
    case FFL_TYPE_Q4_K: ffl_quant_ref_q4_K(src, dst, n); break;
    case FFL_TYPE_Q5_K: ffl_quant_ref_q5_K(src, dst, n); break;
    case FFL_TYPE_Q6_K: ffl_quant_ref_q6_K(src, dst, n); break;
    case FFL_TYPE_IQ4_NL: ffl_quant_ref_iq4_nl(src, dst, n); break;
    case FFL_TYPE_IQ4_XS: ffl_quant_ref_iq4_xs(src, dst, n); break;
    default: break;
    }
}

/* ---- dequantizers (ggml's to_float arithmetic, so results match it bit for bit) ---- */

static void get_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

static void deq_q4_0(const block_q4_0 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK4_0) {
        const float d = ffl_half_to_float(x[i].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            y[j] = ((x[i].qs[j] & 0x0f) - 8) * d;
            y[j + QK4_0 / 2] = ((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

static void deq_q4_1(const block_q4_1 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK4_1) {
        const float d = ffl_half_to_float(x[i].d), m = ffl_half_to_float(x[i].m);
        for (int j = 0; j < QK4_1 / 2; j++) {
            y[j] = (x[i].qs[j] & 0x0f) * d + m;
            y[j + QK4_1 / 2] = (x[i].qs[j] >> 4) * d + m;
        }
    }
}

static void deq_q5_0(const block_q5_0 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK5_0) {
        const float d = ffl_half_to_float(x[i].d);
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < QK5_0 / 2; j++) {
            const int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
            y[j] = (((x[i].qs[j] & 0x0f) | h0) - 16) * d;
            y[j + QK5_0 / 2] = (((x[i].qs[j] >> 4) | h1) - 16) * d;
        }
    }
}

static void deq_q5_1(const block_q5_1 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK5_1) {
        const float d = ffl_half_to_float(x[i].d), m = ffl_half_to_float(x[i].m);
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < QK5_1 / 2; j++) {
            const int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
            y[j] = ((x[i].qs[j] & 0x0f) | h0) * d + m;
            y[j + QK5_1 / 2] = ((x[i].qs[j] >> 4) | h1) * d + m;
        }
    }
}

static void deq_q8_0(const block_q8_0 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK8_0) {
        const float d = ffl_half_to_float(x[i].d);
        for (int j = 0; j < QK8_0; j++) y[j] = x[i].qs[j] * d;
    }
}

static void deq_q8_1(const block_q8_1 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK8_1) {
        const float d = ffl_half_to_float(x[i].d);
        for (int j = 0; j < QK8_1; j++) y[j] = x[i].qs[j] * d;
    }
}

static void deq_q2_K(const block_q2_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = ffl_half_to_float(x[i].d), min = ffl_half_to_float(x[i].dmin);
        const uint8_t *q = x[i].qs;
        int is = 0;
        for (int n = 0; n < QK_K; n += 128, q += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int half = 0; half < 2; half++) {
                    const uint8_t sc = x[i].scales[is++];
                    const float dl = d * (sc & 0xf), ml = min * (sc >> 4);
                    for (int l = 0; l < 16; l++) *y++ = dl * ((q[l + 16 * half] >> shift) & 3) - ml;
                }
            }
        }
    }
}

/* The 16 six-bit scales of a q3_K block, minus 32. */
static void q3_K_scales(const uint8_t *packed, int8_t out[16]) {
    for (int j = 0; j < 16; j++) {
        const int lo = j < 8 ? packed[j] & 0xf : packed[j - 8] >> 4;
        const int hi = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
        out[j] = (int8_t)((lo | (hi << 4)) - 32);
    }
}

static void deq_q3_K(const block_q3_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d_all = ffl_half_to_float(x[i].d);
        int8_t scales[16];
        q3_K_scales(x[i].scales, scales);
        const uint8_t *q = x[i].qs, *hm = x[i].hmask;
        uint8_t m = 1;
        int is = 0;
        for (int n = 0; n < QK_K; n += 128, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
                for (int half = 0; half < 2; half++) {
                    const float dl = d_all * scales[is++];
                    for (int l = 16 * half; l < 16 * half + 16; l++)
                        *y++ = dl * (((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
                }
            }
        }
    }
}

static void deq_q4_K(const block_q4_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = ffl_half_to_float(x[i].d), min = ffl_half_to_float(x[i].dmin);
        const uint8_t *q = x[i].qs;
        for (int is = 0; is < 8; is += 2, q += 32) {
            uint8_t sc, m;
            get_scale_min_k4(is, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0xf) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
        }
    }
}

static void deq_q5_K(const block_q5_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = ffl_half_to_float(x[i].d), min = ffl_half_to_float(x[i].dmin);
        const uint8_t *ql = x[i].qs, *qh = x[i].qh;
        uint8_t u1 = 1, u2 = 2;
        for (int is = 0; is < 8; is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
            uint8_t sc, m;
            get_scale_min_k4(is, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * ((ql[l] & 0xf) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        }
    }
}

static void deq_q6_K(const block_q6_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = ffl_half_to_float(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int n = 0; n < QK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * sc[is] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
        }
    }
}

static void deq_q8_K(const block_q8_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++)
        for (int j = 0; j < QK_K; j++) *y++ = x[i].d * x[i].qs[j];
}

static void deq_iq4_nl(const block_iq4_nl *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK4_NL) {
        const float d = ffl_half_to_float(x[i].d);
        for (int j = 0; j < QK4_NL / 2; j++) {
            y[j] = d * ffl_iq4nl_values[x[i].qs[j] & 0xf];
            y[j + QK4_NL / 2] = d * ffl_iq4nl_values[x[i].qs[j] >> 4];
        }
    }
}

static void deq_iq4_xs(const block_iq4_xs *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = ffl_half_to_float(x[i].d);
        const uint8_t *qs = x[i].qs;
        for (int ib = 0; ib < QK_K / 32; ib++, qs += 16, y += 32) {
            const int ls = ((x[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((x[i].scales_h >> 2 * ib) & 3) << 4);
            const float dl = d * (ls - 32);
            for (int j = 0; j < 16; j++) {
                y[j] = dl * ffl_iq4nl_values[qs[j] & 0xf];
                y[j + 16] = dl * ffl_iq4nl_values[qs[j] >> 4];
            }
        }
    }
}

int ffl_dequant_ref_supported(int32_t type) {
    switch (type) {
    case FFL_TYPE_Q8_1: case FFL_TYPE_Q8_K:
        return 1;
    default:
        return ffl_quant_ref_supported(type);
    }
}

void ffl_dequantize_row_internal(int32_t type, const void *src, float *dst, int64_t n) {
    switch (type) {
    case FFL_TYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
    case FFL_TYPE_F16: {
        const uint16_t *h = src;
        for (int64_t i = 0; i < n; i++) dst[i] = ffl_half_to_float(h[i]);
        break;
    }
    case FFL_TYPE_BF16: {
        const uint16_t *h = src;
        for (int64_t i = 0; i < n; i++) dst[i] = ffl_bf16_to_float(h[i]);
        break;
    }
    case FFL_TYPE_Q4_0: deq_q4_0(src, dst, n / QK4_0); break;
    case FFL_TYPE_Q4_1: deq_q4_1(src, dst, n / QK4_1); break;
    case FFL_TYPE_Q5_0: deq_q5_0(src, dst, n / QK5_0); break;
    case FFL_TYPE_Q5_1: deq_q5_1(src, dst, n / QK5_1); break;
    case FFL_TYPE_Q8_0: deq_q8_0(src, dst, n / QK8_0); break;
    case FFL_TYPE_Q8_1: deq_q8_1(src, dst, n / QK8_1); break;
    case FFL_TYPE_Q2_K: deq_q2_K(src, dst, n / QK_K); break;
    case FFL_TYPE_Q3_K: deq_q3_K(src, dst, n / QK_K); break;
    case FFL_TYPE_Q4_K: deq_q4_K(src, dst, n / QK_K); break;
    case FFL_TYPE_Q5_K: deq_q5_K(src, dst, n / QK_K); break;
    case FFL_TYPE_Q6_K: deq_q6_K(src, dst, n / QK_K); break;
    case FFL_TYPE_Q8_K: deq_q8_K(src, dst, n / QK_K); break;
    case FFL_TYPE_IQ4_NL: deq_iq4_nl(src, dst, n / QK4_NL); break;
    case FFL_TYPE_IQ4_XS: deq_iq4_xs(src, dst, n / QK_K); break;
    default: memset(dst, 0, (size_t)n * sizeof(float)); break;
    }
}

/* ---- public API ---- */

static int32_t check_row_args(const char *what, int32_t type, const void *src, const void *dst, int64_t n,
                              int (*supported)(int32_t)) {
    if (!src || !dst) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "%s: NULL buffer", what);
    const char *name = ffl_type_name(type);
    if (!name) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "%s: unknown type %d", what, type);
    if (!supported(type)) return ffl_fail(FFL_ERR_UNSUPPORTED, "%s: type %s is not supported", what, name);
    if (n < 0 || ffl_type_row_bytes(type, n) < 0)
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "%s: %lld elements is not a whole number of %s blocks (%lld)", what,
                        (long long)n, name, (long long)ffl_type_block_size(type));
    return FFL_OK;
}

int32_t ffl_quantize_supported(int32_t type) { return ffl_quant_ref_supported(type); }

int32_t ffl_dequantize_supported(int32_t type) { return ffl_dequant_ref_supported(type); }

int32_t ffl_quantize_row(int32_t type, const float *src, void *dst, int64_t n) {
    int32_t st = check_row_args("ffl_quantize_row", type, src, dst, n, ffl_quant_ref_supported);
    if (st != FFL_OK) return st;
    ffl_quant_ref_row(type, src, dst, n);
    return FFL_OK;
}

int32_t ffl_dequantize_row(int32_t type, const void *src, float *dst, int64_t n) {
    int32_t st = check_row_args("ffl_dequantize_row", type, src, dst, n, ffl_dequant_ref_supported);
    if (st != FFL_OK) return st;
    ffl_dequantize_row_internal(type, src, dst, n);
    return FFL_OK;
}
