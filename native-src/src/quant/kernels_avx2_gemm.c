/* AVX2 + FMA + F16C tiled matrix x matrix (prompt processing: many tokens against one matrix).
 *
 * Layout: one token per 32-bit lane. The activations of up to GEMM_TOKEN_CHUNK tokens are packed once
 * per call into panels of 8 tokens: per 32 elements, 8 vectors [4-byte step][token][4 bytes], plus
 * per-token block metadata (scale, offset sums). Weight rows are decoded once per row block into
 * plain bytes (natural element order) and per-block metadata. A register tile of R rows x V panels
 * then broadcasts 4 weight bytes per row and multiplies them with vpmaddubsw against 8 tokens at
 * once; the decode and packing costs are spread over all tokens.
 *
 * vpmaddubsw multiplies unsigned by signed bytes and saturates its int16 pair sums, so:
 *  - unsigned weights (Q4_0/Q5_0 nibbles with the offset removed through the activation sums,
 *    Q4_1/Q5_1, K-quants 0..63 with Q3_K/Q6_K offsets removed through the bsums) are the unsigned
 *    operand, the activations (|a| <= 127) the signed one; several steps are summed in int16 before
 *    vpmaddwd, as many as cannot overflow (see int16_steps);
 *  - signed weights (Q8_0, IQ4_NL, IQ4_XS) use |w| times sign(a, w): one pair is at most
 *    2 * 128 * 127 = 32512, so each product goes straight to vpmaddwd (with the sub-block scale).
 * Float weights (F32/F16/BF16) use the same token-per-lane layout with F32 panels and FMA tiles. */
#include <immintrin.h>
#include <string.h>

#include "quant/kernels_avx2_common.h"

#define GEMM_MIN_TOKENS 8    /* fewer tokens: the row kernels of kernels_avx2.c (slower from 8 on) */
#define GEMM_ROW_BLOCK 32   /* weight rows decoded at a time */
#define GEMM_TOKEN_CHUNK 512 /* bounds the packed activations (and scratch) per pass */

AI __m256i bcast32(const void *p) { return _mm256_set1_epi32((int)ffl_ld32(p)); }
AI size_t align64(size_t v) { return (v + 63) & ~(size_t)63; }
/* Keeps a sum a sequential chain: GCC would otherwise rebalance the tile's add chains into trees,
 * which keeps every product alive at once and spills the tile's registers. */
AI __m256i chain(__m256i v) {
    __asm__("" : "+x"(v));
    return v;
}

/* ================================================================ type properties */

AI int is_ktype(int type) {
    return type == FFL_TYPE_Q2_K || type == FFL_TYPE_Q3_K || type == FFL_TYPE_Q4_K || type == FFL_TYPE_Q5_K ||
           type == FFL_TYPE_Q6_K || type == FFL_TYPE_IQ4_XS;
}
AI int is_signed_w(int type) { return type == FFL_TYPE_Q8_0 || type == FFL_TYPE_IQ4_NL || type == FFL_TYPE_IQ4_XS; }
AI int sub16(int type) { return type == FFL_TYPE_Q2_K || type == FFL_TYPE_Q3_K || type == FFL_TYPE_Q6_K; }
AI int has_min(int type) {
    return type == FFL_TYPE_Q4_1 || type == FFL_TYPE_Q5_1 || type == FFL_TYPE_Q2_K || type == FFL_TYPE_Q4_K ||
           type == FFL_TYPE_Q5_K;
}
/* 4-byte steps whose vpmaddubsw results may be summed in int16: one step adds two products of
 * at most qmax * 127 to a lane, so m steps stay below 2 * m * qmax * 127, which is <= 32767 for
 * m = 8 at 4 bits (30480), m = 4 at 5 bits (31496) and m = 2 at 6 bits (32004). */
AI int int16_steps(int type) {
    switch (type) {
    case FFL_TYPE_Q5_0:
    case FFL_TYPE_Q5_1:
    case FFL_TYPE_Q5_K: return 4;
    case FFL_TYPE_Q6_K: return 2;
    default: return 8; /* Q2_K/Q3_K (<= 7), 4-bit types */
    }
}

/* ================================================================ activation panels
 *
 * 32-element types, per block of 32 (P32_BYTES): 8 x 32 bytes of [step][token][4 bytes], the 8 token
 * scales, then 8 int32 offset * sum(a) (Q4_0/Q5_0) or 8 floats d * sum(a) (Q8_1 activations).
 * K-quants, per super-block (PK_BYTES): 8 such groups of 256 bytes, the 8 token scales, then 8 vectors
 * of bsum pairs [pair][token][2 x int16] (pairs of 16-element sums; Q4_K/Q5_K: of 32-element sums). */

#define P32_BYTES 320
#define PK_BYTES 2336
#define PK_DA 2048
#define PK_BSUM 2080

/* 8 rows of 8 dwords transposed: vector k holds dword k of every row; stored 32 bytes apart. */
AI void transpose8x8_store(const __m256i r[8], uint8_t *dst) {
    __m256i t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int h = 0; h < 2; h++) {
        u[4 * h + 0] = _mm256_unpacklo_epi64(t[4 * h + 0], t[4 * h + 2]);
        u[4 * h + 1] = _mm256_unpackhi_epi64(t[4 * h + 0], t[4 * h + 2]);
        u[4 * h + 2] = _mm256_unpacklo_epi64(t[4 * h + 1], t[4 * h + 3]);
        u[4 * h + 3] = _mm256_unpackhi_epi64(t[4 * h + 1], t[4 * h + 3]);
    }
    for (int k = 0; k < 4; k++) {
        _mm256_store_si256((__m256i *)(dst + 32 * k), _mm256_permute2x128_si256(u[k], u[4 + k], 0x20));
        _mm256_store_si256((__m256i *)(dst + 32 * (k + 4)), _mm256_permute2x128_si256(u[k], u[4 + k], 0x31));
    }
}

/* Packs tokens [t0, t0 + nt), nt <= 8, into one panel; missing tokens are zero. */
static void pack_int8_panel(int type, const uint8_t *xq, size_t xrb, int64_t t0, int nt, int64_t n, uint8_t *dst) {
    __m256i rows[8];
    if (!is_ktype(type)) {
        const int q81 = type == FFL_TYPE_Q4_1 || type == FFL_TYPE_Q5_1;
        const int as = q81 ? (int)sizeof(block_q8_1) : (int)sizeof(block_q8_0), ao = q81 ? 4 : 2;
        const __m256i off = _mm256_set1_epi16((short)offset32(type));
        for (int64_t b = 0; b < n / 32; b++) {
            uint8_t *o = dst + b * P32_BYTES;
            float *da = (float *)(o + 256), *s = da + 8;
            for (int t = 0; t < 8; t++) {
                if (t >= nt) {
                    rows[t] = _mm256_setzero_si256();
                    da[t] = s[t] = 0.0f;
                    continue;
                }
                const uint8_t *a = xq + (size_t)(t0 + t) * xrb + b * as;
                rows[t] = _mm256_loadu_si256((const __m256i *)(a + ao));
                da[t] = h2f(ffl_ld16(a));
                s[t] = q81 ? h2f(ffl_ld16(a + 2)) : 0.0f;
            }
            transpose8x8_store(rows, o);
            if (offset32(type)) { /* offset * sum(a) per token: 8 steps of pairs (|pair| <= 254) in int16 */
                __m256i s16 = _mm256_setzero_si256();
                for (int k = 0; k < 8; k++)
                    s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(_mm256_set1_epi8(1), _mm256_load_si256((const __m256i *)(o + 32 * k))));
                _mm256_store_si256((__m256i *)(o + 288), _mm256_madd_epi16(s16, off));
            }
        }
        return;
    }
    const int s16 = sub16(type);
    for (int64_t b = 0; b < n / QK_K; b++) {
        uint8_t *o = dst + b * PK_BYTES;
        float *da = (float *)(o + PK_DA);
        for (int j = 0; j < 8; j++) {
            for (int t = 0; t < 8; t++) {
                const block_q8_K *a = (const block_q8_K *)(xq + (size_t)(t0 + t) * xrb) + b;
                rows[t] = t < nt ? _mm256_loadu_si256((const __m256i *)(a->qs + 32 * j)) : _mm256_setzero_si256();
            }
            transpose8x8_store(rows, o + 256 * j);
        }
        for (int t = 0; t < 8; t++) {
            if (t >= nt) {
                rows[t] = _mm256_setzero_si256();
                da[t] = 0.0f;
                continue;
            }
            const block_q8_K *a = (const block_q8_K *)(xq + (size_t)(t0 + t) * xrb) + b;
            da[t] = a->d;
            __m256i bs = _mm256_loadu_si256((const __m256i *)a->bsums); /* dword p = bsums 2p, 2p+1 */
            if (!s16) {
                /* 32-element sums (<= 4064, no wrap): words 0-3 of each lane, then dwords 0,1,4,5 -> 0..3 */
                bs = _mm256_hadd_epi16(bs, bs);
                bs = _mm256_permute4x64_epi64(bs, _MM_SHUFFLE(3, 1, 2, 0));
            }
            rows[t] = bs;
        }
        transpose8x8_store(rows, o + PK_BSUM);
    }
}

/* ================================================================ weight rows
 *
 * Bytes in natural element order (unsigned 0..63 or signed for Q8_0/IQ4_NL/IQ4_XS). Metadata:
 * 32-element types: per block the floats d, m. K-quants: per super-block 32 dwords (KMETA_BYTES):
 * [0, 16) the int16 scale of each sub-block twice, [16, 24) int16 pairs that multiply the bsum pairs
 * (minimums, or offset * scale), [24] d, [25] -dmin. */

#define KMETA_BYTES 128

AI __m256i iq4_lut(void) {
    const __m128i l = _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
    return _mm256_set_m128i(l, l);
}
/* Bit i of m -> byte i = 0x10 or 0. */
AI __m256i bits_to_0x10(uint32_t m) {
    const __m256i sel = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)m), sel);
    v = _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}
AI uint32_t pair16(int a, int b) { return (uint32_t)(uint16_t)a | (uint32_t)(uint16_t)b << 16; }

static void decode_row32(int type, const uint8_t *wr, int64_t n, uint8_t *wb, float *meta) {
    const int ws = ffl_block_bytes32(type);
    for (int64_t b = 0; b < n / 32; b++) {
        const uint8_t *p = wr + b * ws;
        __m256i v;
        switch (type) {
        case FFL_TYPE_Q8_0: v = _mm256_loadu_si256((const __m256i *)(p + 2)); break;
        case FFL_TYPE_Q4_0: v = nibbles32(p + 2); break;
        case FFL_TYPE_Q4_1: v = nibbles32(p + 4); break;
        case FFL_TYPE_Q5_0: v = _mm256_or_si256(nibbles32(p + 6), bits_to_0x10(ffl_ld32(p + 2))); break;
        case FFL_TYPE_Q5_1: v = _mm256_or_si256(nibbles32(p + 8), bits_to_0x10(ffl_ld32(p + 4))); break;
        default: v = _mm256_shuffle_epi8(iq4_lut(), nibbles32(p + 2)); break;
        }
        _mm256_store_si256((__m256i *)(wb + 32 * b), v);
        meta[2 * b] = h2f(ffl_ld16(p));
        meta[2 * b + 1] = has_min(type) ? h2f(ffl_ld16(p + 2)) : 0.0f;
    }
}

static void decode_rowk(int type, const uint8_t *wr, int64_t n, uint8_t *wb, uint8_t *meta) {
    const int ws = ffl_block_bytes_k(type);
    for (int64_t b = 0; b < n / QK_K; b++) {
        const uint8_t *p = wr + b * ws;
        __m256i *o = (__m256i *)(wb + 256 * b);
        uint32_t *sc = (uint32_t *)(meta + b * KMETA_BYTES), *mp = sc + 16;
        float *df = (float *)(sc + 24);
        memset(sc, 0, KMETA_BYTES);
        switch (type) {
        case FFL_TYPE_Q4_K:
        case FFL_TYPE_Q5_K: {
            const int q5 = type == FFL_TYPE_Q5_K;
            const uint8_t *qs = q5 ? ((const block_q5_K *)p)->qs : ((const block_q4_K *)p)->qs;
            const __m256i qh = q5 ? _mm256_loadu_si256((const __m256i *)((const block_q5_K *)p)->qh) : _mm256_setzero_si256();
            for (int c = 0; c < 4; c++) {
                const __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
                __m256i lo = _mm256_and_si256(q, _mm256_set1_epi8(0x0F)), hi = shr_and(q, 4, 0x0F);
                if (q5) { /* bit 2c of qh is bit 4 of the low nibble's value, bit 2c + 1 the high's */
                    lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(qh, 2 * c), 4), _mm256_set1_epi8(0x10)));
                    hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(qh, 2 * c + 1), 4), _mm256_set1_epi8(0x10)));
                }
                _mm256_store_si256(o + 2 * c, lo);
                _mm256_store_si256(o + 2 * c + 1, hi);
            }
            uint8_t s[8], m[8];
            for (int j = 0; j < 8; j++) ffl_k4_scale_min(j, p + 4, &s[j], &m[j]);
            for (int j = 0; j < 8; j++) sc[j] = pair16(s[j], s[j]);
            for (int j = 0; j < 4; j++) mp[j] = pair16(m[2 * j], m[2 * j + 1]);
            df[0] = h2f(ffl_ld16(p));
            df[1] = -h2f(ffl_ld16(p + 2));
        } break;
        case FFL_TYPE_Q6_K: {
            const block_q6_K *x = (const block_q6_K *)p;
            const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
            for (int h = 0; h < 2; h++) {
                const __m256i l0 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h));
                const __m256i l1 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h + 32));
                const __m256i qh = _mm256_loadu_si256((const __m256i *)(x->qh + 32 * h));
                _mm256_store_si256(o + 4 * h, _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30)));
                _mm256_store_si256(o + 4 * h + 1, _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30)));
                _mm256_store_si256(o + 4 * h + 2, _mm256_or_si256(shr_and(l0, 4, 0x0F), _mm256_and_si256(qh, m30)));
                _mm256_store_si256(o + 4 * h + 3, _mm256_or_si256(shr_and(l1, 4, 0x0F), _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30)));
            }
            for (int j = 0; j < 16; j++) sc[j] = pair16(x->scales[j], x->scales[j]);
            for (int j = 0; j < 8; j++) mp[j] = pair16(32 * x->scales[2 * j], 32 * x->scales[2 * j + 1]);
            df[0] = h2f(x->d);
        } break;
        case FFL_TYPE_Q3_K: {
            const block_q3_K *x = (const block_q3_K *)p;
            const __m256i hm = _mm256_loadu_si256((const __m256i *)x->hmask);
            for (int h = 0; h < 2; h++) {
                const __m256i q = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * h));
                for (int j = 0; j < 4; j++) { /* high bit 4h + j set: +4 (the stored value is q - 4 otherwise) */
                    const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + j), _mm256_set1_epi8(1));
                    _mm256_store_si256(o + 4 * h + j, _mm256_or_si256(shr_and(q, 2 * j, 3), _mm256_slli_epi16(hb, 2)));
                }
            }
            int8_t s[16];
            ffl_q3k_scales(x->scales, s);
            for (int j = 0; j < 16; j++) sc[j] = pair16(s[j], s[j]);
            for (int j = 0; j < 8; j++) mp[j] = pair16(4 * s[2 * j], 4 * s[2 * j + 1]);
            df[0] = h2f(x->d);
        } break;
        case FFL_TYPE_Q2_K: {
            const block_q2_K *x = (const block_q2_K *)p;
            for (int h = 0; h < 2; h++) {
                const __m256i q = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * h));
                for (int j = 0; j < 4; j++) _mm256_store_si256(o + 4 * h + j, shr_and(q, 2 * j, 3));
            }
            for (int j = 0; j < 16; j++) sc[j] = pair16(x->scales[j] & 0xF, x->scales[j] & 0xF);
            for (int j = 0; j < 8; j++) mp[j] = pair16(x->scales[2 * j] >> 4, x->scales[2 * j + 1] >> 4);
            df[0] = h2f(x->d);
            df[1] = -h2f(x->dmin);
        } break;
        default: { /* IQ4_XS */
            const block_iq4_xs *x = (const block_iq4_xs *)p;
            for (int j = 0; j < 8; j++) {
                _mm256_store_si256(o + j, _mm256_shuffle_epi8(iq4_lut(), nibbles32(x->qs + 16 * j)));
                const int s = ffl_iq4xs_scale(x, j);
                sc[j] = pair16(s, s);
            }
            df[0] = h2f(x->d);
        } break;
        }
    }
}

/* ================================================================ integer tiles */

/* R decoded rows (row r at wb + r * rs, metadata at meta + r * ms) times V panels: out[r][v] holds
 * the 8 token results of panel v. */
AI void tile32(int type, int R, int V, const uint8_t *const *pv, int64_t nb, const uint8_t *wb, size_t rs,
               const uint8_t *meta, size_t ms, __m256 out[][4]) {
    const int sgn = is_signed_w(type), ns = int16_steps(type), off = offset32(type) != 0, hm = has_min(type);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[4][4];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) acc[r][v] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m256i i32[4][4];
        if (sgn) {
#pragma GCC unroll 8
            for (int s = 0; s < 8; s++) {
                __m256i a[4];
                for (int v = 0; v < V; v++) a[v] = _mm256_load_si256((const __m256i *)(pv[v] + b * P32_BYTES + 32 * s));
                for (int r = 0; r < R; r++) {
                    const __m256i wv = bcast32(wb + r * rs + 32 * b + 4 * s), wa = _mm256_abs_epi8(wv);
                    for (int v = 0; v < V; v++) {
                        const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(wa, _mm256_sign_epi8(a[v], wv)), ones);
                        i32[r][v] = s ? chain(_mm256_add_epi32(i32[r][v], p)) : p;
                    }
                }
            }
        } else {
#pragma GCC unroll 8
            for (int s0 = 0; s0 < 8; s0 += ns) {
                __m256i i16[4][4];
#pragma GCC unroll 8
                for (int s = s0; s < s0 + ns; s++) {
                    __m256i a[4];
                    for (int v = 0; v < V; v++) a[v] = _mm256_load_si256((const __m256i *)(pv[v] + b * P32_BYTES + 32 * s));
                    for (int r = 0; r < R; r++) {
                        const __m256i wv = bcast32(wb + r * rs + 32 * b + 4 * s);
                        for (int v = 0; v < V; v++) {
                            const __m256i p = _mm256_maddubs_epi16(wv, a[v]);
                            i16[r][v] = s > s0 ? chain(_mm256_add_epi16(i16[r][v], p)) : p;
                        }
                    }
                }
                for (int r = 0; r < R; r++)
                    for (int v = 0; v < V; v++) {
                        const __m256i p = _mm256_madd_epi16(i16[r][v], ones);
                        i32[r][v] = s0 ? _mm256_add_epi32(i32[r][v], p) : p;
                    }
            }
        }
        __m256 da[4];
        for (int v = 0; v < V; v++) {
            da[v] = _mm256_load_ps((const float *)(pv[v] + b * P32_BYTES + 256));
            if (off) {
                const __m256i c = _mm256_load_si256((const __m256i *)(pv[v] + b * P32_BYTES + 288));
                for (int r = 0; r < R; r++) i32[r][v] = _mm256_sub_epi32(i32[r][v], c);
            }
        }
        for (int r = 0; r < R; r++) {
            const float *m = (const float *)(meta + r * ms) + 2 * b;
            const __m256 d = _mm256_broadcast_ss(m);
            for (int v = 0; v < V; v++) {
                acc[r][v] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i32[r][v]), _mm256_mul_ps(da[v], d), acc[r][v]);
                if (hm) {
                    const __m256 s = _mm256_load_ps((const float *)(pv[v] + b * P32_BYTES + 288));
                    acc[r][v] = _mm256_fmadd_ps(s, _mm256_broadcast_ss(m + 1), acc[r][v]);
                }
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) out[r][v] = acc[r][v];
}

AI void tilek(int type, int R, int V, const uint8_t *const *pv, int64_t nb, const uint8_t *wb, size_t rs,
              const uint8_t *meta, size_t ms, __m256 out[][4]) {
    const int sgn = is_signed_w(type), hm = has_min(type);
    const int nsub = sub16(type) ? 16 : 8, steps = 64 / nsub; /* 4-byte steps per sub-block */
    const int ns = int16_steps(type) < steps ? int16_steps(type) : steps;
    const int npair = type == FFL_TYPE_IQ4_XS ? 0 : nsub / 2;
    __m256 acc[4][4];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) acc[r][v] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m256i i32[4][4];
        for (int r = 0; r < R; r++)
            for (int v = 0; v < V; v++) i32[r][v] = _mm256_setzero_si256();
        for (int j = 0; j < nsub; j++) {
            __m256i scl[4];
            for (int r = 0; r < R; r++) scl[r] = bcast32(meta + r * ms + b * KMETA_BYTES + 4 * j);
            if (sgn) {
#pragma GCC unroll 8
                for (int s = j * steps; s < (j + 1) * steps; s++) {
                    __m256i a[4];
                    for (int v = 0; v < V; v++) a[v] = _mm256_load_si256((const __m256i *)(pv[v] + b * PK_BYTES + 32 * s));
                    for (int r = 0; r < R; r++) {
                        const __m256i wv = bcast32(wb + r * rs + 256 * b + 4 * s), wa = _mm256_abs_epi8(wv);
                        for (int v = 0; v < V; v++)
                            i32[r][v] = chain(_mm256_add_epi32(
                                i32[r][v], _mm256_madd_epi16(_mm256_maddubs_epi16(wa, _mm256_sign_epi8(a[v], wv)), scl[r])));
                    }
                }
                continue;
            }
#pragma GCC unroll 8
            for (int s0 = j * steps; s0 < (j + 1) * steps; s0 += ns) {
                __m256i i16[4][4];
#pragma GCC unroll 8
                for (int s = s0; s < s0 + ns; s++) {
                    __m256i a[4];
                    for (int v = 0; v < V; v++) a[v] = _mm256_load_si256((const __m256i *)(pv[v] + b * PK_BYTES + 32 * s));
                    for (int r = 0; r < R; r++) {
                        const __m256i wv = bcast32(wb + r * rs + 256 * b + 4 * s);
                        for (int v = 0; v < V; v++) {
                            const __m256i p = _mm256_maddubs_epi16(wv, a[v]);
                            i16[r][v] = s > s0 ? chain(_mm256_add_epi16(i16[r][v], p)) : p;
                        }
                    }
                }
                for (int r = 0; r < R; r++)
                    for (int v = 0; v < V; v++) i32[r][v] = _mm256_add_epi32(i32[r][v], _mm256_madd_epi16(i16[r][v], scl[r]));
            }
        }
        for (int v = 0; v < V; v++) {
            const uint8_t *A = pv[v] + b * PK_BYTES;
            const __m256 da = _mm256_load_ps((const float *)(A + PK_DA));
            for (int r = 0; r < R; r++) {
                const uint8_t *mt = meta + r * ms + b * KMETA_BYTES;
                __m256i m32 = _mm256_setzero_si256();
                for (int p = 0; p < npair; p++)
                    m32 = _mm256_add_epi32(m32, _mm256_madd_epi16(_mm256_load_si256((const __m256i *)(A + PK_BSUM + 32 * p)), bcast32(mt + 64 + 4 * p)));
                const __m256 d = _mm256_broadcast_ss((const float *)(mt + 96));
                if (hm) {
                    acc[r][v] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i32[r][v]), _mm256_mul_ps(da, d), acc[r][v]);
                    acc[r][v] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(m32), _mm256_mul_ps(da, _mm256_broadcast_ss((const float *)(mt + 100))), acc[r][v]);
                } else {
                    acc[r][v] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(i32[r][v], m32)), _mm256_mul_ps(da, d), acc[r][v]);
                }
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) out[r][v] = acc[r][v];
}

/* Stores an R x V tile: rows row0.., tokens of panels tv.. (only the T real tokens). */
AI void store_tile(int R, int V, __m256 out[][4], float *y, int64_t ldy, int64_t row0, int64_t tv, int64_t T) {
    for (int v = 0; v < V; v++) {
        const int64_t t0 = 8 * (tv + v);
        const int nt = (int)(T - t0 < 8 ? T - t0 : 8);
        for (int r = 0; r < R; r++) {
            float tmp[8];
            _mm256_storeu_ps(tmp, out[r][v]);
            for (int t = 0; t < nt; t++) y[(t0 + t) * ldy + row0 + r] = tmp[t];
        }
    }
}

#ifndef TILE_R
#define TILE_R 4 /* rows x panels of the main integer tile */
#define TILE_V 1
#endif

AI void int8_tile(int type, int R, int V, const uint8_t *const *pv, int64_t n, const uint8_t *wb, size_t rs,
                  const uint8_t *meta, size_t ms, __m256 out[][4]) {
    if (is_ktype(type)) tilek(type, R, V, pv, n / QK_K, wb, rs, meta, ms, out);
    else tile32(type, R, V, pv, n / 32, wb, rs, meta, ms, out);
}

AI void gemm_int8_chunk(int type, const void *w, size_t wrb, const void *xq, size_t xrb, int64_t n, int64_t T, float *y,
                        int64_t ldy, int64_t r0, int64_t r1) {
    const int kt = is_ktype(type);
    const int64_t ntv = (T + 7) / 8;
    const size_t panel_bytes = kt ? (size_t)(n / QK_K) * PK_BYTES : (size_t)(n / 32) * P32_BYTES;
    const size_t rs = align64((size_t)n), ms = align64(kt ? (size_t)(n / QK_K) * KMETA_BYTES : (size_t)(n / 32) * 8);
    uint8_t *scr = ffl_kernel_scratch(panel_bytes * (size_t)ntv + (rs + ms) * GEMM_ROW_BLOCK);
    if (!scr) {
        for (int64_t r = r0; r < r1; r++)
            for (int64_t t = 0; t < T; t++)
                y[t * ldy + r] = ffl_dot_scalar(type, n, (const char *)w + (size_t)r * wrb, (const char *)xq + (size_t)t * xrb);
        return;
    }
    uint8_t *panels = scr, *wb = scr + panel_bytes * (size_t)ntv, *meta = wb + rs * GEMM_ROW_BLOCK;
    for (int64_t tv = 0; tv < ntv; tv++)
        pack_int8_panel(type, xq, xrb, 8 * tv, (int)(T - 8 * tv < 8 ? T - 8 * tv : 8), n, panels + panel_bytes * (size_t)tv);
    for (int64_t rb = r0; rb < r1; rb += GEMM_ROW_BLOCK) {
        const int rows = (int)(r1 - rb < GEMM_ROW_BLOCK ? r1 - rb : GEMM_ROW_BLOCK);
        for (int r = 0; r < rows; r++) {
            const uint8_t *src = (const uint8_t *)w + (size_t)(rb + r) * wrb;
            if (kt) decode_rowk(type, src, n, wb + r * rs, meta + r * ms);
            else decode_row32(type, src, n, wb + r * rs, (float *)(meta + r * ms));
        }
        for (int64_t tv = 0; tv < ntv;) {
            const int V = ntv - tv >= TILE_V ? TILE_V : 1;
            const uint8_t *pv[4];
            for (int v = 0; v < V; v++) pv[v] = panels + panel_bytes * (size_t)(tv + v);
            for (int r = 0; r < rows;) {
                __m256 out[4][4];
                const int R = rows - r >= TILE_R ? TILE_R : 1;
                const uint8_t *wr = wb + r * rs, *mt = meta + r * ms;
                if (R == TILE_R && V == TILE_V) int8_tile(type, TILE_R, TILE_V, pv, n, wr, rs, mt, ms, out);
                else if (R == TILE_R) int8_tile(type, TILE_R, 1, pv, n, wr, rs, mt, ms, out);
                else if (V == TILE_V) int8_tile(type, 1, TILE_V, pv, n, wr, rs, mt, ms, out);
                else int8_tile(type, 1, 1, pv, n, wr, rs, mt, ms, out);
                store_tile(R, V, out, y, ldy, rb + r, tv, T);
                r += R;
            }
            tv += V;
        }
    }
}

/* ================================================================ float weights
 *
 * Panels of 8 tokens as [k][token] floats (F16/BF16 activations converted once), weight rows converted
 * to zero-padded floats once per row block, and an R x V tile of FMA accumulators: per k, V panel
 * loads and R broadcasts feed R * V FMAs. Half x half and bf16 x bf16 products are exact in float. */

#ifndef FTILE_R
#define FTILE_R 4
#define FTILE_V 3
#endif

/* Row of n elements -> n_pad floats (zero padded). */
AI void row_to_float(int type, const void *src, int64_t n, int64_t n_pad, float *dst) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load8f(type, src, i));
    for (; i < n; i++) dst[i] = load1f(type, src, i);
    for (; i < n_pad; i++) dst[i] = 0.0f;
}

static void pack_float_panel(int type, const uint8_t *xq, size_t xrb, int64_t t0, int nt, int64_t n, int64_t n_pad, uint8_t *dst,
                             float *tmp) {
    for (int t = 0; t < 8; t++) {
        if (t < nt) row_to_float(type, xq + (size_t)(t0 + t) * xrb, n, n_pad, tmp + t * n_pad);
        else memset(tmp + t * n_pad, 0, (size_t)n_pad * sizeof(float));
    }
    for (int64_t k = 0; k < n_pad; k += 8) {
        __m256i rows[8];
        for (int t = 0; t < 8; t++) rows[t] = _mm256_castps_si256(_mm256_loadu_ps(tmp + t * n_pad + k));
        transpose8x8_store(rows, dst + 32 * k);
    }
}

AI void ftile(int R, int V, const float *const *pv, int64_t n_pad, const float *wf, size_t rs, __m256 out[][4]) {
    __m256 acc[8][4];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) acc[r][v] = _mm256_setzero_ps();
#pragma GCC unroll 2
    for (int64_t k = 0; k < n_pad; k++) {
        __m256 a[4];
        for (int v = 0; v < V; v++) a[v] = _mm256_load_ps(pv[v] + 8 * k);
        for (int r = 0; r < R; r++) {
            const __m256 wv = _mm256_broadcast_ss(wf + r * rs + k);
            for (int v = 0; v < V; v++) acc[r][v] = _mm256_fmadd_ps(wv, a[v], acc[r][v]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < V; v++) out[r][v] = acc[r][v];
}

AI void gemm_float_chunk(int type, const void *w, size_t wrb, const void *xq, size_t xrb, int64_t n, int64_t T, float *y,
                         int64_t ldy, int64_t r0, int64_t r1) {
    const int64_t n_pad = (n + 7) & ~(int64_t)7, ntv = (T + 7) / 8;
    const size_t panel_bytes = (size_t)n_pad * 32, rs = align64((size_t)n_pad * 4) / 4;
    const size_t tmp_bytes = (size_t)n_pad * 32;
    uint8_t *scr = ffl_kernel_scratch(panel_bytes * (size_t)ntv + rs * 4 * GEMM_ROW_BLOCK + tmp_bytes);
    if (!scr) {
        for (int64_t r = r0; r < r1; r++)
            for (int64_t t = 0; t < T; t++)
                y[t * ldy + r] = ffl_dot_scalar(type, n, (const char *)w + (size_t)r * wrb, (const char *)xq + (size_t)t * xrb);
        return;
    }
    uint8_t *panels = scr;
    float *wf = (float *)(scr + panel_bytes * (size_t)ntv), *tmp = wf + rs * GEMM_ROW_BLOCK;
    for (int64_t tv = 0; tv < ntv; tv++)
        pack_float_panel(type, xq, xrb, 8 * tv, (int)(T - 8 * tv < 8 ? T - 8 * tv : 8), n, n_pad, panels + panel_bytes * (size_t)tv, tmp);
    for (int64_t rb = r0; rb < r1; rb += GEMM_ROW_BLOCK) {
        const int rows = (int)(r1 - rb < GEMM_ROW_BLOCK ? r1 - rb : GEMM_ROW_BLOCK);
        for (int r = 0; r < rows; r++) row_to_float(type, (const uint8_t *)w + (size_t)(rb + r) * wrb, n, n_pad, wf + r * rs);
        for (int64_t tv = 0; tv < ntv;) {
            /* leftover panels: fewer panels but more rows, so enough FMA chains stay independent */
            const int V = ntv - tv >= FTILE_V ? FTILE_V : (int)(ntv - tv);
            const float *pv[4];
            for (int v = 0; v < V; v++) pv[v] = (const float *)(panels + panel_bytes * (size_t)(tv + v));
            for (int r = 0; r < rows;) {
                __m256 out[8][4];
                const float *wr = wf + r * rs;
                int R = 1;
                if (V == FTILE_V && rows - r >= FTILE_R) ftile(R = FTILE_R, FTILE_V, pv, n_pad, wr, rs, out);
                else if (V == 2 && rows - r >= 4) ftile(R = 4, 2, pv, n_pad, wr, rs, out);
                else if (V == 1 && rows - r >= 8) ftile(R = 8, 1, pv, n_pad, wr, rs, out);
                else if (V == FTILE_V) ftile(1, FTILE_V, pv, n_pad, wr, rs, out);
                else if (V == 2) ftile(1, 2, pv, n_pad, wr, rs, out);
                else ftile(1, 1, pv, n_pad, wr, rs, out);
                store_tile(R, V, out, y, ldy, rb + r, tv, T);
                r += R;
            }
            tv += V;
        }
    }
}

/* ================================================================ entry points */

AI void gemm(int type, const void *w, size_t wrb, const void *xq, size_t xrb, int64_t n, int64_t T, float *y, int64_t ldy,
             int64_t r0, int64_t r1) {
    const int fl = type == FFL_TYPE_F32 || type == FFL_TYPE_F16 || type == FFL_TYPE_BF16;
    for (int64_t t = 0; t < T; t += GEMM_TOKEN_CHUNK) {
        const int64_t nt = T - t < GEMM_TOKEN_CHUNK ? T - t : GEMM_TOKEN_CHUNK;
        const void *x = (const char *)xq + (size_t)t * xrb;
        if (fl) gemm_float_chunk(type, w, wrb, x, xrb, n, nt, y + t * ldy, ldy, r0, r1);
        else gemm_int8_chunk(type, w, wrb, x, xrb, n, nt, y + t * ldy, ldy, r0, r1);
    }
}

/* The level's row kernels, used below GEMM_MIN_TOKENS (set once while the tables are built). */
static ffl_matmul_fn direct[FFL_TYPE_COUNT];

#define GEMM_ENTRY(name, T)                                                                                        \
    static void name(MM_ARGS) {                                                                                    \
        if (nt_all >= GEMM_MIN_TOKENS) gemm(T, w, wrb, xq, xrb, n, nt_all, y, ldy, r0, r1);                        \
        else direct[T](w, wrb, xq, xrb, n, nt_all, y, ldy, r0, r1);                                                \
    }
GEMM_ENTRY(mm_f32, FFL_TYPE_F32)
GEMM_ENTRY(mm_f16, FFL_TYPE_F16)
GEMM_ENTRY(mm_bf16, FFL_TYPE_BF16)
GEMM_ENTRY(mm_q4_0, FFL_TYPE_Q4_0)
GEMM_ENTRY(mm_q4_1, FFL_TYPE_Q4_1)
GEMM_ENTRY(mm_q5_0, FFL_TYPE_Q5_0)
GEMM_ENTRY(mm_q5_1, FFL_TYPE_Q5_1)
GEMM_ENTRY(mm_q8_0, FFL_TYPE_Q8_0)
GEMM_ENTRY(mm_iq4_nl, FFL_TYPE_IQ4_NL)
GEMM_ENTRY(mm_q2_K, FFL_TYPE_Q2_K)
GEMM_ENTRY(mm_q3_K, FFL_TYPE_Q3_K)
GEMM_ENTRY(mm_q4_K, FFL_TYPE_Q4_K)
GEMM_ENTRY(mm_q5_K, FFL_TYPE_Q5_K)
GEMM_ENTRY(mm_q6_K, FFL_TYPE_Q6_K)
GEMM_ENTRY(mm_iq4_xs, FFL_TYPE_IQ4_XS)

void ffl_kernels_fill_avx2_gemm(ffl_kernel_table *t) {
    static const struct {
        int32_t type;
        ffl_matmul_fn fn;
    } entries[] = {{FFL_TYPE_F32, mm_f32},     {FFL_TYPE_F16, mm_f16},     {FFL_TYPE_BF16, mm_bf16},
                   {FFL_TYPE_Q4_0, mm_q4_0},   {FFL_TYPE_Q4_1, mm_q4_1},   {FFL_TYPE_Q5_0, mm_q5_0},
                   {FFL_TYPE_Q5_1, mm_q5_1},   {FFL_TYPE_Q8_0, mm_q8_0},   {FFL_TYPE_IQ4_NL, mm_iq4_nl},
                   {FFL_TYPE_Q2_K, mm_q2_K},   {FFL_TYPE_Q3_K, mm_q3_K},   {FFL_TYPE_Q4_K, mm_q4_K},
                   {FFL_TYPE_Q5_K, mm_q5_K},   {FFL_TYPE_Q6_K, mm_q6_K},   {FFL_TYPE_IQ4_XS, mm_iq4_xs}};
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
        direct[entries[i].type] = t->matmul[entries[i].type];
        t->matmul[entries[i].type] = entries[i].fn;
    }
}
