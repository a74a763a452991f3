/* NEON kernels for AArch64 (compiled with +dotprod+fp16; the dotprod instructions run only when
 * the CPU reports them, the other level uses widening multiplies).
 *
 * One weight row at a time against up to 4 tokens; each block is decoded once into signed bytes
 * (unsigned formats fit: they stay below 64) and reused for every token. Integer dots: sdot, or
 * smull + sadalp without dotprod (|w * a| <= 128 * 127 fits 16 bits). K-quant sub-block scales are
 * applied to the 32-bit lane sums with a multiply-accumulate, so each super-block converts once. */
#include <arm_neon.h>
#include <string.h>

#include "quant/kernels_internal.h"

#define AI static inline __attribute__((always_inline))

AI float h2f(uint16_t h) {
    __fp16 f;
    memcpy(&f, &h, 2);
    return (float)f;
}
/* 16 signed bytes times 16 signed bytes, accumulated into 4 int32 lanes. */
AI int32x4_t dot16(int dp, int32x4_t acc, int8x16_t w, int8x16_t a) {
    if (dp) return vdotq_s32(acc, w, a);
    int16x8_t lo = vmull_s8(vget_low_s8(w), vget_low_s8(a));
    int16x8_t hi = vmull_high_s8(w, a);
    return vpadalq_s16(vpadalq_s16(acc, lo), hi);
}

#define MM_ARGS                                                                                                    \
    const void *w, size_t wrb, const void *xq, size_t xrb, int64_t n, int64_t nt_all, float *y, int64_t ldy,       \
        int64_t r0, int64_t r1

#define FOR_ROWS_AND_TOKENS(ROW, DP, T)                                                                            \
    for (int64_t t0 = 0; t0 < nt_all; t0 += 4) {                                                                   \
        int nt = (int)(nt_all - t0 < 4 ? nt_all - t0 : 4);                                                         \
        const void *x[4];                                                                                          \
        for (int t = 0; t < nt; t++) x[t] = (const char *)xq + (size_t)(t0 + t) * xrb;                             \
        for (int64_t r = r0; r < r1; r++) {                                                                        \
            const uint8_t *wr = (const uint8_t *)w + (size_t)r * wrb;                                              \
            float out[4];                                                                                          \
            switch (nt) {                                                                                          \
            case 1: ROW(DP, T, 1, wr, x, n, out); break;                                                           \
            case 2: ROW(DP, T, 2, wr, x, n, out); break;                                                           \
            case 3: ROW(DP, T, 3, wr, x, n, out); break;                                                           \
            default: ROW(DP, T, 4, wr, x, n, out); break;                                                          \
            }                                                                                                      \
            for (int t = 0; t < nt; t++) y[(t0 + t) * ldy + r] = out[t];                                           \
        }                                                                                                          \
    }

/* ================================================================ float weights (double accumulation) */

AI float32x4_t load4f(int type, const void *p, int64_t i) {
    if (type == FFL_TYPE_F32) return vld1q_f32((const float *)p + i);
    uint16x4_t h = vld1_u16((const uint16_t *)p + i);
    if (type == FFL_TYPE_F16) return vcvt_f32_f16(vreinterpret_f16_u16(h));
    return vreinterpretq_f32_u32(vshll_n_u16(h, 16));
}
AI float load1f(int type, const void *p, int64_t i) {
    if (type == FFL_TYPE_F32) return ((const float *)p)[i];
    uint16_t h = ((const uint16_t *)p)[i];
    if (type == FFL_TYPE_F16) return h2f(h);
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

AI void float_row(int dp, int type, int nt, const uint8_t *w, const void *const *x, int64_t n, float *out) {
    (void)dp;
    const int xtype = type; /* activations come in the weights' float format */
    float64x2_t acc[4][2];
    for (int t = 0; t < 4; t++) acc[t][0] = acc[t][1] = vdupq_n_f64(0);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t wv = load4f(type, w, i);
        float64x2_t wl = vcvt_f64_f32(vget_low_f32(wv)), wh = vcvt_high_f64_f32(wv);
        for (int t = 0; t < nt; t++) {
            float32x4_t xv = load4f(xtype, x[t], i);
            acc[t][0] = vfmaq_f64(acc[t][0], wl, vcvt_f64_f32(vget_low_f32(xv)));
            acc[t][1] = vfmaq_f64(acc[t][1], wh, vcvt_high_f64_f32(xv));
        }
    }
    for (int t = 0; t < nt; t++) {
        double s = vaddvq_f64(vaddq_f64(acc[t][0], acc[t][1]));
        for (int64_t j = i; j < n; j++) s += (double)load1f(type, w, j) * load1f(xtype, x[t], j);
        out[t] = (float)s;
    }
}

/* ================================================================ 32-element blocks */

AI int has_min32(int type) { return type == FFL_TYPE_Q4_1 || type == FFL_TYPE_Q5_1; }

/* Bits 0..15 of `bits` into bit 4 of bytes 0..15. */
AI uint8x16_t bits16_to_bytes(uint32_t bits) {
    static const uint8_t sel[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    uint8x16_t v = vcombine_u8(vdup_n_u8((uint8_t)bits), vdup_n_u8((uint8_t)(bits >> 8)));
    return vandq_u8(vtstq_u8(v, vld1q_u8(sel)), vdupq_n_u8(0x10));
}

/* The block's 32 weights as signed bytes (Q4_1/Q5_1: their unsigned values). */
AI void decode32(int type, const uint8_t *p, int8x16_t *lo, int8x16_t *hi) {
    if (type == FFL_TYPE_Q8_0) {
        *lo = vld1q_s8((const int8_t *)p + 2);
        *hi = vld1q_s8((const int8_t *)p + 18);
        return;
    }
    const int o = type == FFL_TYPE_Q4_1 ? 4 : type == FFL_TYPE_Q5_0 ? 6 : type == FFL_TYPE_Q5_1 ? 8 : 2;
    uint8x16_t q = vld1q_u8(p + o);
    uint8x16_t l = vandq_u8(q, vdupq_n_u8(0x0F)), h = vshrq_n_u8(q, 4);
    if (type == FFL_TYPE_Q5_0 || type == FFL_TYPE_Q5_1) {
        uint32_t qh = ffl_ld32(p + o - 4);
        l = vorrq_u8(l, bits16_to_bytes(qh));
        h = vorrq_u8(h, bits16_to_bytes(qh >> 16));
    }
    if (type == FFL_TYPE_IQ4_NL) {
        const int8x16_t lut = vld1q_s8(ffl_iq4nl_values);
        *lo = vqtbl1q_s8(lut, l);
        *hi = vqtbl1q_s8(lut, h);
        return;
    }
    const int off = type == FFL_TYPE_Q4_0 ? 8 : type == FFL_TYPE_Q5_0 ? 16 : 0;
    *lo = vsubq_s8(vreinterpretq_s8_u8(l), vdupq_n_s8((int8_t)off));
    *hi = vsubq_s8(vreinterpretq_s8_u8(h), vdupq_n_s8((int8_t)off));
}

AI void row32(int dp, int type, int nt, const uint8_t *w, const void *const *x, int64_t n, float *out) {
    const int ws = ffl_block_bytes32(type), q81 = has_min32(type);
    const int as = q81 ? (int)sizeof(block_q8_1) : (int)sizeof(block_q8_0), ao = q81 ? 4 : 2;
    float32x4_t acc[4];
    float macc[4] = {0, 0, 0, 0};
    for (int t = 0; t < 4; t++) acc[t] = vdupq_n_f32(0);
    for (int64_t b = 0; b < n / 32; b++) {
        const uint8_t *p = w + b * ws;
        int8x16_t lo, hi;
        decode32(type, p, &lo, &hi);
        const float dw = h2f(ffl_ld16(p));
        for (int t = 0; t < nt; t++) {
            const uint8_t *a = (const uint8_t *)x[t] + b * as;
            int32x4_t s = dot16(dp, vdupq_n_s32(0), lo, vld1q_s8((const int8_t *)a + ao));
            s = dot16(dp, s, hi, vld1q_s8((const int8_t *)a + ao + 16));
            acc[t] = vfmaq_n_f32(acc[t], vcvtq_f32_s32(s), dw * h2f(ffl_ld16(a)));
            if (q81) macc[t] += h2f(ffl_ld16(p + 2)) * h2f(ffl_ld16(a + 2));
        }
    }
    for (int t = 0; t < nt; t++) out[t] = vaddvq_f32(acc[t]) + macc[t];
}

/* ================================================================ K-quants (Q8_K activations) */

AI int has_kmin(int type) { return type == FFL_TYPE_Q2_K || type == FFL_TYPE_Q4_K || type == FFL_TYPE_Q5_K; }

/* A super-block as 16 chunks of 16 signed weights in natural order, the scale of each chunk, and
 * for the types with minimums the minimum of each 16-element group (applied to the bsums). */
typedef struct {
    int8x16_t q[16];
    int32_t sc[16];
    int32_t mn[16];
    float d, dmin;
} kblock;

AI void decode_k(int type, const uint8_t *p, kblock *kb) {
    switch (type) {
    case FFL_TYPE_Q4_K:
    case FFL_TYPE_Q5_K: {
        const uint8_t *qs = type == FFL_TYPE_Q4_K ? ((const block_q4_K *)p)->qs : ((const block_q5_K *)p)->qs;
        const uint8_t *scales = type == FFL_TYPE_Q4_K ? ((const block_q4_K *)p)->scales : ((const block_q5_K *)p)->scales;
        const uint8_t *qh = type == FFL_TYPE_Q5_K ? ((const block_q5_K *)p)->qh : NULL;
        for (int c = 0; c < 4; c++)
            for (int half = 0; half < 2; half++) {
                uint8x16_t q = vld1q_u8(qs + 32 * c + 16 * half);
                uint8x16_t l = vandq_u8(q, vdupq_n_u8(0x0F)), h = vshrq_n_u8(q, 4);
                if (qh) {
                    uint8x16_t hb = vld1q_u8(qh + 16 * half);
                    const uint8x16_t m0 = vdupq_n_u8((uint8_t)(1u << (2 * c))), m1 = vdupq_n_u8((uint8_t)(2u << (2 * c)));
                    l = vorrq_u8(l, vandq_u8(vtstq_u8(hb, m0), vdupq_n_u8(0x10)));
                    h = vorrq_u8(h, vandq_u8(vtstq_u8(hb, m1), vdupq_n_u8(0x10)));
                }
                kb->q[4 * c + half] = vreinterpretq_s8_u8(l);
                kb->q[4 * c + 2 + half] = vreinterpretq_s8_u8(h);
            }
        for (int j = 0; j < 8; j++) {
            uint8_t sc, mn;
            ffl_k4_scale_min(j, scales, &sc, &mn);
            kb->sc[2 * j] = kb->sc[2 * j + 1] = sc;
            kb->mn[2 * j] = kb->mn[2 * j + 1] = mn;
        }
        kb->d = h2f(ffl_ld16(p));
        kb->dmin = h2f(ffl_ld16(p + 2));
    } break;
    case FFL_TYPE_Q6_K: {
        const block_q6_K *x = (const block_q6_K *)p;
        for (int h = 0; h < 2; h++)
            for (int half = 0; half < 2; half++) {
                uint8x16_t l0 = vld1q_u8(x->ql + 64 * h + 16 * half), l1 = vld1q_u8(x->ql + 64 * h + 32 + 16 * half);
                uint8x16_t qh = vld1q_u8(x->qh + 32 * h + 16 * half);
                const uint8x16_t m3 = vdupq_n_u8(3);
                uint8x16_t v0 = vorrq_u8(vandq_u8(l0, vdupq_n_u8(0x0F)), vshlq_n_u8(vandq_u8(qh, m3), 4));
                uint8x16_t v1 = vorrq_u8(vandq_u8(l1, vdupq_n_u8(0x0F)), vshlq_n_u8(vandq_u8(vshrq_n_u8(qh, 2), m3), 4));
                uint8x16_t v2 = vorrq_u8(vshrq_n_u8(l0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(qh, 4), m3), 4));
                uint8x16_t v3 = vorrq_u8(vshrq_n_u8(l1, 4), vshlq_n_u8(vshrq_n_u8(qh, 6), 4));
                const int8x16_t o32 = vdupq_n_s8(32);
                kb->q[8 * h + 0 + half] = vsubq_s8(vreinterpretq_s8_u8(v0), o32);
                kb->q[8 * h + 2 + half] = vsubq_s8(vreinterpretq_s8_u8(v1), o32);
                kb->q[8 * h + 4 + half] = vsubq_s8(vreinterpretq_s8_u8(v2), o32);
                kb->q[8 * h + 6 + half] = vsubq_s8(vreinterpretq_s8_u8(v3), o32);
            }
        for (int j = 0; j < 16; j++) kb->sc[j] = x->scales[j], kb->mn[j] = 0;
        kb->d = h2f(x->d);
        kb->dmin = 0;
    } break;
    case FFL_TYPE_Q2_K: {
        const block_q2_K *x = (const block_q2_K *)p;
        for (int h = 0; h < 2; h++)
            for (int half = 0; half < 2; half++) {
                uint8x16_t q = vld1q_u8(x->qs + 32 * h + 16 * half);
                const uint8x16_t m3 = vdupq_n_u8(3);
                kb->q[8 * h + 0 + half] = vreinterpretq_s8_u8(vandq_u8(q, m3));
                kb->q[8 * h + 2 + half] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(q, 2), m3));
                kb->q[8 * h + 4 + half] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(q, 4), m3));
                kb->q[8 * h + 6 + half] = vreinterpretq_s8_u8(vshrq_n_u8(q, 6));
            }
        for (int j = 0; j < 16; j++) kb->sc[j] = x->scales[j] & 0xF, kb->mn[j] = x->scales[j] >> 4;
        kb->d = h2f(x->d);
        kb->dmin = h2f(x->dmin);
    } break;
    case FFL_TYPE_Q3_K: {
        const block_q3_K *x = (const block_q3_K *)p;
        for (int h = 0; h < 2; h++)
            for (int half = 0; half < 2; half++) {
                uint8x16_t q = vld1q_u8(x->qs + 32 * h + 16 * half);
                uint8x16_t hm = vld1q_u8(x->hmask + 16 * half);
                for (int j = 0; j < 4; j++) {
                    uint8x16_t low = vandq_u8(vshlq_u8(q, vdupq_n_s8((int8_t)(-2 * j))), vdupq_n_u8(3));
                    /* missing high bit means minus 4 */
                    uint8x16_t sub = vandq_u8(vmvnq_u8(vtstq_u8(hm, vdupq_n_u8((uint8_t)(1u << (4 * h + j))))), vdupq_n_u8(4));
                    kb->q[8 * h + 2 * j + half] = vsubq_s8(vreinterpretq_s8_u8(low), vreinterpretq_s8_u8(sub));
                }
            }
        int8_t sc[16];
        ffl_q3k_scales(x->scales, sc);
        for (int j = 0; j < 16; j++) kb->sc[j] = sc[j], kb->mn[j] = 0;
        kb->d = h2f(x->d);
        kb->dmin = 0;
    } break;
    default: { /* IQ4_XS */
        const block_iq4_xs *x = (const block_iq4_xs *)p;
        const int8x16_t lut = vld1q_s8(ffl_iq4nl_values);
        for (int ib = 0; ib < 8; ib++) {
            uint8x16_t q = vld1q_u8(x->qs + 16 * ib);
            kb->q[2 * ib] = vqtbl1q_s8(lut, vandq_u8(q, vdupq_n_u8(0x0F)));
            kb->q[2 * ib + 1] = vqtbl1q_s8(lut, vshrq_n_u8(q, 4));
            kb->sc[2 * ib] = kb->sc[2 * ib + 1] = ffl_iq4xs_scale(x, ib);
            kb->mn[2 * ib] = kb->mn[2 * ib + 1] = 0;
        }
        kb->d = h2f(x->d);
        kb->dmin = 0;
    } break;
    }
}

AI void row_k(int dp, int type, int nt, const uint8_t *w, const void *const *x, int64_t n, float *out) {
    const int ws = ffl_block_bytes_k(type);
    float acc[4] = {0, 0, 0, 0};
    for (int64_t b = 0; b < n / QK_K; b++) {
        kblock kb;
        decode_k(type, w + b * ws, &kb);
        for (int t = 0; t < nt; t++) {
            const block_q8_K *a = (const block_q8_K *)x[t] + b;
            int32x4_t s = vdupq_n_s32(0);
            for (int c = 0; c < 16; c++)
                s = vmlaq_n_s32(s, dot16(dp, vdupq_n_s32(0), kb.q[c], vld1q_s8(a->qs + 16 * c)), kb.sc[c]);
            float r = kb.d * a->d * (float)vaddvq_s32(s);
            if (has_kmin(type)) {
                int32_t m = 0;
                for (int j = 0; j < 16; j++) m += kb.mn[j] * a->bsums[j];
                r -= kb.dmin * a->d * (float)m;
            }
            acc[t] += r;
        }
    }
    for (int t = 0; t < nt; t++) out[t] = acc[t];
}

/* ================================================================ entry points */

#define FLOAT_ROW(DP, T, NT, WR, X, N, OUT) float_row(DP, T, NT, WR, X, N, OUT)
#define ROW32(DP, T, NT, WR, X, N, OUT) row32(DP, T, NT, WR, X, N, OUT)
#define ROWK(DP, T, NT, WR, X, N, OUT) row_k(DP, T, NT, WR, X, N, OUT)

#define ENTRY(name, ROW, DP, T)                                                                                    \
    static void name(MM_ARGS) { FOR_ROWS_AND_TOKENS(ROW, DP, T) }

#define LEVEL_ENTRIES(SFX, DP)                                                                                     \
    ENTRY(mm_f32_##SFX, FLOAT_ROW, DP, FFL_TYPE_F32)                                                               \
    ENTRY(mm_f16_##SFX, FLOAT_ROW, DP, FFL_TYPE_F16)                                                               \
    ENTRY(mm_bf16_##SFX, FLOAT_ROW, DP, FFL_TYPE_BF16)                                                             \
    ENTRY(mm_q4_0_##SFX, ROW32, DP, FFL_TYPE_Q4_0)                                                                 \
    ENTRY(mm_q4_1_##SFX, ROW32, DP, FFL_TYPE_Q4_1)                                                                 \
    ENTRY(mm_q5_0_##SFX, ROW32, DP, FFL_TYPE_Q5_0)                                                                 \
    ENTRY(mm_q5_1_##SFX, ROW32, DP, FFL_TYPE_Q5_1)                                                                 \
    ENTRY(mm_q8_0_##SFX, ROW32, DP, FFL_TYPE_Q8_0)                                                                 \
    ENTRY(mm_iq4_nl_##SFX, ROW32, DP, FFL_TYPE_IQ4_NL)                                                             \
    ENTRY(mm_q2_K_##SFX, ROWK, DP, FFL_TYPE_Q2_K)                                                                  \
    ENTRY(mm_q3_K_##SFX, ROWK, DP, FFL_TYPE_Q3_K)                                                                  \
    ENTRY(mm_q4_K_##SFX, ROWK, DP, FFL_TYPE_Q4_K)                                                                  \
    ENTRY(mm_q5_K_##SFX, ROWK, DP, FFL_TYPE_Q5_K)                                                                  \
    ENTRY(mm_q6_K_##SFX, ROWK, DP, FFL_TYPE_Q6_K)                                                                  \
    ENTRY(mm_iq4_xs_##SFX, ROWK, DP, FFL_TYPE_IQ4_XS)                                                              \
    static void fill_##SFX(ffl_kernel_table *t) {                                                                  \
        t->matmul[FFL_TYPE_F32] = mm_f32_##SFX;                                                                    \
        t->matmul[FFL_TYPE_F16] = mm_f16_##SFX;                                                                    \
        t->matmul[FFL_TYPE_BF16] = mm_bf16_##SFX;                                                                  \
        t->matmul[FFL_TYPE_Q4_0] = mm_q4_0_##SFX;                                                                  \
        t->matmul[FFL_TYPE_Q4_1] = mm_q4_1_##SFX;                                                                  \
        t->matmul[FFL_TYPE_Q5_0] = mm_q5_0_##SFX;                                                                  \
        t->matmul[FFL_TYPE_Q5_1] = mm_q5_1_##SFX;                                                                  \
        t->matmul[FFL_TYPE_Q8_0] = mm_q8_0_##SFX;                                                                  \
        t->matmul[FFL_TYPE_IQ4_NL] = mm_iq4_nl_##SFX;                                                              \
        t->matmul[FFL_TYPE_Q2_K] = mm_q2_K_##SFX;                                                                  \
        t->matmul[FFL_TYPE_Q3_K] = mm_q3_K_##SFX;                                                                  \
        t->matmul[FFL_TYPE_Q4_K] = mm_q4_K_##SFX;                                                                  \
        t->matmul[FFL_TYPE_Q5_K] = mm_q5_K_##SFX;                                                                  \
        t->matmul[FFL_TYPE_Q6_K] = mm_q6_K_##SFX;                                                                  \
        t->matmul[FFL_TYPE_IQ4_XS] = mm_iq4_xs_##SFX;                                                              \
    }

LEVEL_ENTRIES(neon, 0)
LEVEL_ENTRIES(dot, 1)

static void quantize_f16_neon(const float *x, void *xq, int64_t n) {
    uint16_t *y = xq;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1_u16(y + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i)))); /* nearest even */
    for (; i < n; i++) {
        __fp16 h = (__fp16)x[i];
        memcpy(y + i, &h, 2);
    }
}

void ffl_kernels_fill_neon(ffl_kernel_table *t, int dotprod) {
    t->quantize[FFL_ACT_F16] = quantize_f16_neon;
    if (dotprod) fill_dot(t);
    else fill_neon(t);
}
