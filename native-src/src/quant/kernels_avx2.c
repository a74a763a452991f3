/* AVX2 + FMA + F16C kernels (compiled with those -m flags only, chosen at run time).
 *
 * One weight row at a time against up to 4 tokens; each block is decoded once into 32 bytes and
 * reused for every token. Integer products use vpmaddubsw: unsigned weights times signed activations
 * where the weights are unsigned (Q4_1, Q5_1, K-quants), otherwise |w| times sign(a, w); then
 * vpmaddwd with ones (or with the K-quant sub-block scales) widens to 32 bits. No sum can saturate:
 * unsigned weights stay below 64 and |w| <= 128 meets |a| <= 127. */
#include <immintrin.h>
#include <string.h>

#include "quant/kernels_internal.h"

#define AI static inline __attribute__((always_inline))

AI float h2f(uint16_t h) { return _cvtsh_ss(h); }
AI uint16_t ld16(const void *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}
AI uint32_t ld32(const void *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
AI float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
AI double hsum256d(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

#define MM_ARGS                                                                                                    \
    const void *w, size_t wrb, const void *xq, size_t xrb, int64_t n, int64_t nt_all, float *y, int64_t ldy,       \
        int64_t r0, int64_t r1

/* Calls ROW(type, nt, ...) for every row and every group of up to 4 tokens. */
#define FOR_ROWS_AND_TOKENS(ROW, T, XPTR)                                                                          \
    for (int64_t t0 = 0; t0 < nt_all; t0 += 4) {                                                                   \
        int nt = (int)(nt_all - t0 < 4 ? nt_all - t0 : 4);                                                         \
        const void *x[4];                                                                                          \
        for (int t = 0; t < nt; t++) x[t] = (const char *)xq + (size_t)(t0 + t) * xrb;                             \
        for (int64_t r = r0; r < r1; r++) {                                                                        \
            const uint8_t *wr = (const uint8_t *)w + (size_t)r * wrb;                                              \
            float out[4];                                                                                          \
            switch (nt) {                                                                                          \
            case 1: ROW(T, 1, wr, x, n, out); break;                                                               \
            case 2: ROW(T, 2, wr, x, n, out); break;                                                               \
            case 3: ROW(T, 3, wr, x, n, out); break;                                                               \
            default: ROW(T, 4, wr, x, n, out); break;                                                              \
            }                                                                                                      \
            for (int t = 0; t < nt; t++) y[(t0 + t) * ldy + r] = out[t];                                           \
        }                                                                                                          \
    }

/* ================================================================ float weights (double accumulation) */

AI __m256 load8f(int type, const void *p, int64_t i) {
    if (type == FFL_TYPE_F32) return _mm256_loadu_ps((const float *)p + i);
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)p + i));
    if (type == FFL_TYPE_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
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

/* Sums of up to 128 products in float, added in double (see the AVX-512 file for why). */
AI __m256d fold_pd(__m256d acc, __m256 s) {
    return _mm256_add_pd(acc, _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(s)), _mm256_cvtps_pd(_mm256_extractf128_ps(s, 1))));
}

AI void float_row(int type, int nt, const uint8_t *w, const void *const *x, int64_t n, float *out) {
    const int xtype = type; /* activations come in the weights' float format */
    __m256d acc[4];
    for (int t = 0; t < 4; t++) acc[t] = _mm256_setzero_pd();
    int64_t i = 0;
    while (i + 32 <= n) {
        const int64_t end = n - i >= 128 ? i + 128 : i + ((n - i) & ~(int64_t)31);
        __m256 s[4][2];
        for (int t = 0; t < 4; t++) s[t][0] = s[t][1] = _mm256_setzero_ps();
        for (; i < end; i += 32) {
            const __m256 w0 = load8f(type, w, i), w1 = load8f(type, w, i + 8);
            const __m256 w2 = load8f(type, w, i + 16), w3 = load8f(type, w, i + 24);
            for (int t = 0; t < nt; t++) {
                s[t][0] = _mm256_fmadd_ps(w0, load8f(xtype, x[t], i), s[t][0]);
                s[t][1] = _mm256_fmadd_ps(w1, load8f(xtype, x[t], i + 8), s[t][1]);
                s[t][0] = _mm256_fmadd_ps(w2, load8f(xtype, x[t], i + 16), s[t][0]);
                s[t][1] = _mm256_fmadd_ps(w3, load8f(xtype, x[t], i + 24), s[t][1]);
            }
        }
        for (int t = 0; t < nt; t++) acc[t] = fold_pd(acc[t], _mm256_add_ps(s[t][0], s[t][1]));
    }
    for (; i + 8 <= n; i += 8) {
        const __m256 wv = load8f(type, w, i);
        for (int t = 0; t < nt; t++) acc[t] = fold_pd(acc[t], _mm256_mul_ps(wv, load8f(xtype, x[t], i)));
    }
    for (int t = 0; t < nt; t++) {
        double s = hsum256d(acc[t]);
        for (int64_t j = i; j < n; j++) s += (double)load1f(type, w, j) * load1f(xtype, x[t], j);
        out[t] = (float)s;
    }
}

static void float_direct(int type, MM_ARGS) { FOR_ROWS_AND_TOKENS(float_row, type, x) }

/* ================================================================ 32-element blocks */

AI int wstride32(int type) {
    switch (type) {
    case FFL_TYPE_Q4_0: return sizeof(block_q4_0);
    case FFL_TYPE_Q4_1: return sizeof(block_q4_1);
    case FFL_TYPE_Q5_0: return sizeof(block_q5_0);
    case FFL_TYPE_Q5_1: return sizeof(block_q5_1);
    case FFL_TYPE_Q8_0: return sizeof(block_q8_0);
    default: return sizeof(block_iq4_nl);
    }
}
AI int has_min32(int type) { return type == FFL_TYPE_Q4_1 || type == FFL_TYPE_Q5_1; }

AI __m256i nibbles32(const uint8_t *qs) {
    __m128i q = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0x0F));
}

/* Bit j of a 32-bit word into bit 4 of byte j. */
AI __m256i bits_to_bytes(uint32_t bits) {
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3,
                                          3, 3, 3, 3, 3);
    const __m256i sel = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), shuf);
    v = _mm256_cmpeq_epi8(_mm256_and_si256(v, sel), sel);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

/* The block's 32 weights: signed for the offset types, unsigned (0..31) for Q4_1 / Q5_1. */
AI __m256i decode32(int type, const uint8_t *p) {
    switch (type) {
    case FFL_TYPE_Q8_0: return _mm256_loadu_si256((const __m256i *)(p + 2));
    case FFL_TYPE_Q4_0: return _mm256_sub_epi8(nibbles32(p + 2), _mm256_set1_epi8(8));
    case FFL_TYPE_Q4_1: return nibbles32(p + 4);
    case FFL_TYPE_Q5_0: return _mm256_sub_epi8(_mm256_or_si256(nibbles32(p + 6), bits_to_bytes(ld32(p + 2))), _mm256_set1_epi8(16));
    case FFL_TYPE_Q5_1: return _mm256_or_si256(nibbles32(p + 8), bits_to_bytes(ld32(p + 4)));
    default: {
        const __m128i lut = _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
        return _mm256_shuffle_epi8(_mm256_set_m128i(lut, lut), nibbles32(p + 2));
    }
    }
}

/* Signed x signed bytes, summed in 8 int32 lanes. */
AI __m256i dot_i8(__m256i w, __m256i a) {
    __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}
AI __m256i dot_u8(__m256i u, __m256i a) { return _mm256_madd_epi16(_mm256_maddubs_epi16(u, a), _mm256_set1_epi16(1)); }

AI void row32(int type, int nt, const uint8_t *w, const void *const *x, int64_t n, float *out) {
    const int ws = wstride32(type), q81 = has_min32(type);
    const int as = q81 ? (int)sizeof(block_q8_1) : (int)sizeof(block_q8_0), ao = q81 ? 4 : 2;
    const int64_t nb = n / 32;
    __m256 acc[4][2];
    float macc[4] = {0, 0, 0, 0};
    for (int t = 0; t < 4; t++) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
#define BLOCK32(B, K)                                                                                              \
    do {                                                                                                           \
        const uint8_t *p = w + (B) * ws;                                                                           \
        const __m256i wv = decode32(type, p);                                                                      \
        const float dw = h2f(ld16(p));                                                                             \
        for (int t = 0; t < nt; t++) {                                                                             \
            const uint8_t *a = (const uint8_t *)x[t] + (B) * as;                                                   \
            const __m256i av = _mm256_loadu_si256((const __m256i *)(a + ao));                                      \
            __m256i s = q81 ? dot_u8(wv, av) : dot_i8(wv, av);                                                     \
            acc[t][K] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(dw * h2f(ld16(a))), acc[t][K]);      \
            if (q81) macc[t] += h2f(ld16(p + 2)) * h2f(ld16(a + 2));                                               \
        }                                                                                                          \
    } while (0)
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        BLOCK32(b, 0);
        BLOCK32(b + 1, 1);
    }
    if (b < nb) BLOCK32(b, 0);
#undef BLOCK32
    for (int t = 0; t < nt; t++) out[t] = hsum256(_mm256_add_ps(acc[t][0], acc[t][1])) + macc[t];
}

static void direct32(int type, MM_ARGS) { FOR_ROWS_AND_TOKENS(row32, type, x) }

/* ================================================================ K-quants (Q8_K activations) */

AI int kstride(int type) {
    switch (type) {
    case FFL_TYPE_Q2_K: return sizeof(block_q2_K);
    case FFL_TYPE_Q3_K: return sizeof(block_q3_K);
    case FFL_TYPE_Q4_K: return sizeof(block_q4_K);
    case FFL_TYPE_Q5_K: return sizeof(block_q5_K);
    case FFL_TYPE_Q6_K: return sizeof(block_q6_K);
    default: return sizeof(block_iq4_xs);
    }
}

/* One super-block decoded: 8 chunks of 32 weights (unsigned, or signed for IQ4_XS), the int16
 * multiplier of each 16-weight half chunk (words 2c, 2c+1 for chunk c), the multipliers of the 16
 * bsums for the offset or minimum term, and the float factors. Scales are built in registers: byte
 * stores followed by wider loads would stall on store forwarding. */
typedef struct {
    __m256i q[8];
    __m256i scw;   /* 16 int16 */
    __m256i bmul;  /* 16 int16 */
    float d, dmin; /* Q2_K/Q4_K/Q5_K: the bsum term is a minimum with its own scale dmin */
} kblock;

AI __m256i shr_and(__m256i v, int s, int mask) { return _mm256_and_si256(_mm256_srli_epi16(v, s), _mm256_set1_epi8((char)mask)); }

/* 8 bytes -> 16 words, each byte twice. */
AI __m256i bytes_doubled(uint64_t v) {
    __m128i w = _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)v));
    return _mm256_set_m128i(_mm_unpackhi_epi16(w, w), _mm_unpacklo_epi16(w, w));
}

AI void decode_k(int type, const uint8_t *p, kblock *kb) {
    switch (type) {
    case FFL_TYPE_Q4_K:
    case FFL_TYPE_Q5_K: {
        const uint8_t *qs = type == FFL_TYPE_Q4_K ? ((const block_q4_K *)p)->qs : ((const block_q5_K *)p)->qs;
        __m256i qh = type == FFL_TYPE_Q5_K ? _mm256_loadu_si256((const __m256i *)((const block_q5_K *)p)->qh) : _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
            kb->q[2 * c] = _mm256_and_si256(q, _mm256_set1_epi8(0x0F));
            kb->q[2 * c + 1] = shr_and(q, 4, 0x0F);
            if (type == FFL_TYPE_Q5_K) {
                /* bit 2c of qh -> bit 4 (shift left), bit 2c+1 -> bit 4 */
                __m256i h0 = 2 * c <= 4 ? _mm256_slli_epi16(qh, 4 - 2 * c) : _mm256_srli_epi16(qh, 2 * c - 4);
                __m256i h1 = 2 * c + 1 <= 4 ? _mm256_slli_epi16(qh, 3 - 2 * c) : _mm256_srli_epi16(qh, 2 * c - 3);
                kb->q[2 * c] = _mm256_or_si256(kb->q[2 * c], _mm256_and_si256(h0, _mm256_set1_epi8(0x10)));
                kb->q[2 * c + 1] = _mm256_or_si256(kb->q[2 * c + 1], _mm256_and_si256(h1, _mm256_set1_epi8(0x10)));
            }
        }
        /* 6-bit scales and mins of the 8 sub-blocks (bytes of two 64-bit words) */
        const uint8_t *q = p + 4;
        uint32_t w0 = ld32(q), w1 = ld32(q + 4), w2 = ld32(q + 8);
        uint64_t sc = (w0 & 0x3f3f3f3fu) | ((uint64_t)((w2 & 0x0f0f0f0fu) | (((w0 >> 6) & 0x03030303u) << 4)) << 32);
        uint64_t mn = (w1 & 0x3f3f3f3fu) | ((uint64_t)(((w2 >> 4) & 0x0f0f0f0fu) | (((w1 >> 6) & 0x03030303u) << 4)) << 32);
        kb->scw = bytes_doubled(sc);
        kb->bmul = bytes_doubled(mn);
        kb->d = h2f(ld16(p));
        kb->dmin = h2f(ld16(p + 2));
    } break;
    case FFL_TYPE_Q6_K: {
        const block_q6_K *x = (const block_q6_K *)p;
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            __m256i l0 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h));
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)(x->qh + 32 * h));
            const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
            kb->q[4 * h + 0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
            kb->q[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
            kb->q[4 * h + 2] = _mm256_or_si256(shr_and(l0, 4, 0x0F), _mm256_and_si256(qh, m30));
            kb->q[4 * h + 3] = _mm256_or_si256(shr_and(l1, 4, 0x0F), _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
        }
        kb->scw = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->scales));
        kb->bmul = _mm256_slli_epi16(kb->scw, 5); /* offset 32 */
        kb->d = h2f(x->d);
        kb->dmin = 0;
    } break;
    case FFL_TYPE_Q2_K: {
        const block_q2_K *x = (const block_q2_K *)p;
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * h));
            kb->q[4 * h + 0] = _mm256_and_si256(q, _mm256_set1_epi8(3));
            kb->q[4 * h + 1] = shr_and(q, 2, 3);
            kb->q[4 * h + 2] = shr_and(q, 4, 3);
            kb->q[4 * h + 3] = shr_and(q, 6, 3);
        }
        const __m128i sb = _mm_loadu_si128((const __m128i *)x->scales);
        kb->scw = _mm256_cvtepu8_epi16(_mm_and_si128(sb, _mm_set1_epi8(0x0F)));
        kb->bmul = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sb, 4), _mm_set1_epi8(0x0F)));
        kb->d = h2f(x->d);
        kb->dmin = h2f(x->dmin);
    } break;
    case FFL_TYPE_Q3_K: {
        const block_q3_K *x = (const block_q3_K *)p;
        __m256i hm = _mm256_loadu_si256((const __m256i *)x->hmask);
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * h));
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                const int bit = 4 * h + j; /* hmask bit of this chunk -> value 4 */
                __m256i hb = bit <= 2 ? _mm256_slli_epi16(hm, 2 - bit) : _mm256_srli_epi16(hm, bit - 2);
                kb->q[4 * h + j] = _mm256_or_si256(shr_and(q, 2 * j, 3), _mm256_and_si256(hb, _mm256_set1_epi8(4)));
            }
        }
        /* the 16 6-bit scales, minus 32 */
        uint32_t a0 = ld32(x->scales), a1 = ld32(x->scales + 4), tmp = ld32(x->scales + 8);
        uint32_t s0 = (a0 & 0x0f0f0f0fu) | (((tmp >> 0) & 0x03030303u) << 4);
        uint32_t s1 = (a1 & 0x0f0f0f0fu) | (((tmp >> 2) & 0x03030303u) << 4);
        uint32_t s2 = ((a0 >> 4) & 0x0f0f0f0fu) | (((tmp >> 4) & 0x03030303u) << 4);
        uint32_t s3 = ((a1 >> 4) & 0x0f0f0f0fu) | (((tmp >> 6) & 0x03030303u) << 4);
        __m128i sc8 = _mm_sub_epi8(_mm_setr_epi32((int)s0, (int)s1, (int)s2, (int)s3), _mm_set1_epi8(32));
        kb->scw = _mm256_cvtepi8_epi16(sc8);
        kb->bmul = _mm256_slli_epi16(kb->scw, 2); /* offset 4 */
        kb->d = h2f(x->d);
        kb->dmin = 0;
    } break;
    default: { /* IQ4_XS: signed values */
        const block_iq4_xs *x = (const block_iq4_xs *)p;
        const __m128i lut = _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
        const __m256i l2 = _mm256_set_m128i(lut, lut);
        for (int ib = 0; ib < 8; ib++) kb->q[ib] = _mm256_shuffle_epi8(l2, nibbles32(x->qs + 16 * ib));
        const uint32_t sl = ld32(x->scales_l), sh = x->scales_h;
        uint64_t ls = 0;
        for (int j = 0; j < 8; j++)
            ls |= (uint64_t)(((((sl >> (4 * j)) & 0xF) | (((sh >> (2 * j)) & 3) << 4)) - 32) & 0xFF) << (8 * j);
        __m128i w = _mm_cvtepi8_epi16(_mm_cvtsi64_si128((long long)ls));
        kb->scw = _mm256_set_m128i(_mm_unpackhi_epi16(w, w), _mm_unpacklo_epi16(w, w));
        kb->bmul = _mm256_setzero_si256();
        kb->d = h2f(x->d);
        kb->dmin = 0;
    } break;
    }
}

AI void row_k(int type, int nt, const uint8_t *w, const void *const *x, int64_t n, float *out) {
    const int ws = kstride(type);
    const int has_min = type == FFL_TYPE_Q2_K || type == FFL_TYPE_Q4_K || type == FFL_TYPE_Q5_K;
    const int64_t nb = n / QK_K;
    __m256 acc[4], macc[4];
    for (int t = 0; t < 4; t++) acc[t] = macc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        kblock kb;
        decode_k(type, w + b * ws, &kb);
        /* chunk c multiplies its first 16 weights by word 2c and the last 16 by word 2c+1: pick them
         * with a byte shuffle from the 8 words replicated in both 128-bit lanes */
        __m256i scv[8];
        const __m256i s_lo = _mm256_permute2x128_si256(kb.scw, kb.scw, 0x00);
        const __m256i s_hi = _mm256_permute2x128_si256(kb.scw, kb.scw, 0x11);
#pragma GCC unroll 8
        for (int c = 0; c < 8; c++) {
            const int a = (4 * c) % 16, e = (4 * c + 2) % 16; /* byte offsets of words 2c, 2c+1 within 8 */
            const __m256i idx = _mm256_setr_epi8(a, a + 1, a, a + 1, a, a + 1, a, a + 1, a, a + 1, a, a + 1, a, a + 1, a, a + 1,
                                                 e, e + 1, e, e + 1, e, e + 1, e, e + 1, e, e + 1, e, e + 1, e, e + 1, e, e + 1);
            scv[c] = _mm256_shuffle_epi8(c < 4 ? s_lo : s_hi, idx);
        }
        for (int t = 0; t < nt; t++) {
            const block_q8_K *a = (const block_q8_K *)x[t] + b;
            __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int c = 0; c < 8; c += 2) {
                __m256i a0 = _mm256_loadu_si256((const __m256i *)(a->qs + 32 * c));
                __m256i a1 = _mm256_loadu_si256((const __m256i *)(a->qs + 32 * c + 32));
                __m256i p0, p1;
                if (type == FFL_TYPE_IQ4_XS) {
                    p0 = _mm256_maddubs_epi16(_mm256_sign_epi8(kb.q[c], kb.q[c]), _mm256_sign_epi8(a0, kb.q[c]));
                    p1 = _mm256_maddubs_epi16(_mm256_sign_epi8(kb.q[c + 1], kb.q[c + 1]), _mm256_sign_epi8(a1, kb.q[c + 1]));
                } else {
                    p0 = _mm256_maddubs_epi16(kb.q[c], a0);
                    p1 = _mm256_maddubs_epi16(kb.q[c + 1], a1);
                }
                s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(p0, scv[c]));
                s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(p1, scv[c + 1]));
            }
            __m256i s = _mm256_add_epi32(s0, s1);
            __m256i bt = _mm256_madd_epi16(kb.bmul, _mm256_loadu_si256((const __m256i *)a->bsums));
            if (!has_min) s = _mm256_sub_epi32(s, bt);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(kb.d * a->d), acc[t]);
            if (has_min) macc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(bt), _mm256_set1_ps(kb.dmin * a->d), macc[t]);
        }
    }
    for (int t = 0; t < nt; t++) out[t] = hsum256(acc[t]) - hsum256(macc[t]);
}

static void direct_k(int type, MM_ARGS) { FOR_ROWS_AND_TOKENS(row_k, type, x) }

/* ================================================================ entry points */

#define ENTRY(name, fn, T)                                                                                         \
    static void name(MM_ARGS) { fn(T, w, wrb, xq, xrb, n, nt_all, y, ldy, r0, r1); }

ENTRY(mm_f32, float_direct, FFL_TYPE_F32)
ENTRY(mm_f16, float_direct, FFL_TYPE_F16)
ENTRY(mm_bf16, float_direct, FFL_TYPE_BF16)
ENTRY(mm_q4_0, direct32, FFL_TYPE_Q4_0)
ENTRY(mm_q4_1, direct32, FFL_TYPE_Q4_1)
ENTRY(mm_q5_0, direct32, FFL_TYPE_Q5_0)
ENTRY(mm_q5_1, direct32, FFL_TYPE_Q5_1)
ENTRY(mm_q8_0, direct32, FFL_TYPE_Q8_0)
ENTRY(mm_iq4_nl, direct32, FFL_TYPE_IQ4_NL)
ENTRY(mm_q2_K, direct_k, FFL_TYPE_Q2_K)
ENTRY(mm_q3_K, direct_k, FFL_TYPE_Q3_K)
ENTRY(mm_q4_K, direct_k, FFL_TYPE_Q4_K)
ENTRY(mm_q5_K, direct_k, FFL_TYPE_Q5_K)
ENTRY(mm_q6_K, direct_k, FFL_TYPE_Q6_K)
ENTRY(mm_iq4_xs, direct_k, FFL_TYPE_IQ4_XS)

static void quantize_f16_avx2(const float *x, void *xq, int64_t n) {
    uint16_t *y = xq;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; i++) y[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

void ffl_kernels_fill_avx2(ffl_kernel_table *t) {
    t->quantize[FFL_ACT_F16] = quantize_f16_avx2;
    t->matmul[FFL_TYPE_F32] = mm_f32;
    t->matmul[FFL_TYPE_F16] = mm_f16;
    t->matmul[FFL_TYPE_BF16] = mm_bf16;
    t->matmul[FFL_TYPE_Q4_0] = mm_q4_0;
    t->matmul[FFL_TYPE_Q4_1] = mm_q4_1;
    t->matmul[FFL_TYPE_Q5_0] = mm_q5_0;
    t->matmul[FFL_TYPE_Q5_1] = mm_q5_1;
    t->matmul[FFL_TYPE_Q8_0] = mm_q8_0;
    t->matmul[FFL_TYPE_IQ4_NL] = mm_iq4_nl;
    t->matmul[FFL_TYPE_Q2_K] = mm_q2_K;
    t->matmul[FFL_TYPE_Q3_K] = mm_q3_K;
    t->matmul[FFL_TYPE_Q4_K] = mm_q4_K;
    t->matmul[FFL_TYPE_Q5_K] = mm_q5_K;
    t->matmul[FFL_TYPE_Q6_K] = mm_q6_K;
    t->matmul[FFL_TYPE_IQ4_XS] = mm_iq4_xs;
    ffl_kernels_fill_avx2_gemm(t);
}
