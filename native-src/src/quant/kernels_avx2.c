/* AVX2 + FMA + F16C kernels (compiled with those -m flags only, chosen at run time).
 *
 * One weight row at a time against up to 4 tokens; each block is decoded once into 32 bytes and
 * reused for every token. Integer products use vpmaddubsw: unsigned weights times signed activations
 * where the weights are unsigned (Q4_1, Q5_1, K-quants), otherwise |w| times sign(a, w); then
 * vpmaddwd with ones (or with the K-quant sub-block scales) widens to 32 bits. No sum can saturate:
 * unsigned weights stay below 64 and |w| <= 128 meets |a| <= 127. Single-token Q4_0 / Q4_1 take two
 * rows per pass (mv32_row_pair); matrix x matrix from 8 tokens on is in kernels_avx2_gemm.c. */
#include <immintrin.h>
#include <string.h>

#include "common/fp16.h"
#include "quant/kernels_avx2_common.h"

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

/* Single-token kernels stream each weight byte once: a software prefetch this far ahead (rows of one
 * matrix are contiguous, so it runs on into the next rows) keeps more misses in flight than the
 * hardware prefetcher alone (one thread, Q4_0: ~12 -> ~16 GB/s from memory). */
#define MV_PREFETCH 2048
#define MV_PREFETCH_PAIR 4096 /* two rows at once (mv32_row_pair): 2048 -> 4096 took one thread 0.82 -> 0.88 of a plain read */
#define MV_PREFETCH_FLOAT 1024 /* float rows stream faster per instruction: nearer is better (F16: ~15 -> ~18 GB/s) */

/* Calls ROW(type, nt, ...) for every row and every group of up to 4 tokens. */
#define FOR_ROWS_AND_TOKENS(ROW, T)                                                                                \
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

/* Sums of up to 128 products in float, added in double (see the AVX-512 file for why). */
AI __m256d fold_pd(__m256d acc, __m256 s) {
    return _mm256_add_pd(acc, _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(s)), _mm256_cvtps_pd(_mm256_extractf128_ps(s, 1))));
}

AI void float_row(int type, int nt, const uint8_t *w, const void *const *x, int64_t n, float *out) {
    __m256d acc[4];
    for (int t = 0; t < 4; t++) acc[t] = _mm256_setzero_pd();
    int64_t i = 0;
    while (i + 32 <= n) {
        const int64_t end = n - i >= 128 ? i + 128 : i + ((n - i) & ~(int64_t)31);
        __m256 s[4][2];
        for (int t = 0; t < 4; t++) s[t][0] = s[t][1] = _mm256_setzero_ps();
        for (; i < end; i += 32) {
            if (nt == 1) _mm_prefetch((const char *)w + i * (type == FFL_TYPE_F32 ? 4 : 2) + MV_PREFETCH_FLOAT, _MM_HINT_T0);
            const __m256 w0 = load8f(type, w, i), w1 = load8f(type, w, i + 8);
            const __m256 w2 = load8f(type, w, i + 16), w3 = load8f(type, w, i + 24);
            for (int t = 0; t < nt; t++) {
                s[t][0] = _mm256_fmadd_ps(w0, load8f(type, x[t], i), s[t][0]);
                s[t][1] = _mm256_fmadd_ps(w1, load8f(type, x[t], i + 8), s[t][1]);
                s[t][0] = _mm256_fmadd_ps(w2, load8f(type, x[t], i + 16), s[t][0]);
                s[t][1] = _mm256_fmadd_ps(w3, load8f(type, x[t], i + 24), s[t][1]);
            }
        }
        for (int t = 0; t < nt; t++) acc[t] = fold_pd(acc[t], _mm256_add_ps(s[t][0], s[t][1]));
    }
    for (; i + 8 <= n; i += 8) {
        const __m256 wv = load8f(type, w, i);
        for (int t = 0; t < nt; t++) acc[t] = fold_pd(acc[t], _mm256_mul_ps(wv, load8f(type, x[t], i)));
    }
    for (int t = 0; t < nt; t++) {
        double s = hsum256d(acc[t]);
        for (int64_t j = i; j < n; j++) s += (double)load1f(type, w, j) * load1f(type, x[t], j);
        out[t] = (float)s;
    }
}

/* Activations come in the weights' float format and are converted on load, like the weights. Widening
 * F16 activations to F32 once per call saved a conversion per weight vector but streamed slower from
 * memory: the widened row competes for L1 with the streaming weights (TinyLlama F16 generation at this
 * level on Zen 4, 2 threads: +11 % without it; 5632-column rows 14 -> 21-24 GB/s). */
AI void float_direct(int type, MM_ARGS) {
    FOR_ROWS_AND_TOKENS(float_row, type)
}

/* ================================================================ 32-element blocks */

AI int has_min32(int type) { return type == FFL_TYPE_Q4_1 || type == FFL_TYPE_Q5_1; }

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
    case FFL_TYPE_Q5_0: return _mm256_sub_epi8(_mm256_or_si256(nibbles32(p + 6), bits_to_bytes(ffl_ld32(p + 2))), _mm256_set1_epi8(16));
    case FFL_TYPE_Q5_1: return _mm256_or_si256(nibbles32(p + 8), bits_to_bytes(ffl_ld32(p + 4)));
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
    const int ws = ffl_block_bytes32(type), q81 = has_min32(type);
    const int as = q81 ? (int)sizeof(block_q8_1) : (int)sizeof(block_q8_0), ao = q81 ? 4 : 2;
    const int64_t nb = n / 32;
    __m256 acc[4][2];
    float macc[4] = {0, 0, 0, 0};
    for (int t = 0; t < 4; t++) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
#define BLOCK32(B, K)                                                                                              \
    do {                                                                                                           \
        const uint8_t *p = w + (B) * ws;                                                                           \
        const __m256i wv = decode32(type, p);                                                                      \
        const float dw = h2f(ffl_ld16(p));                                                                             \
        for (int t = 0; t < nt; t++) {                                                                             \
            const uint8_t *a = (const uint8_t *)x[t] + (B) * as;                                                   \
            const __m256i av = _mm256_loadu_si256((const __m256i *)(a + ao));                                      \
            __m256i s = q81 ? dot_u8(wv, av) : dot_i8(wv, av);                                                     \
            acc[t][K] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(dw * h2f(ffl_ld16(a))), acc[t][K]);      \
            if (q81) macc[t] += h2f(ffl_ld16(p + 2)) * h2f(ffl_ld16(a + 2));                                               \
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

/* ---- one token (generation): per row, the fp16 block scales are turned eight at a time into their
 * products with the activation scales (and, for offset and minimum types, into the row's correction
 * term), one group ahead of the integer dots, which then need only one broadcast load per block.
 * Offset types (Q4_0, Q5_0) and minimum types (Q4_1, Q5_1) multiply their unsigned values directly
 * (values < 32 cannot saturate vpmaddubsw); the offset comes back as -offset * sum(a) per block,
 * prepared once per call. */

AI int signed32(int type) { return type == FFL_TYPE_Q8_0 || type == FFL_TYPE_IQ4_NL; }

/* The block's 32 weights: unsigned (without the offset) except for Q8_0 / IQ4_NL. */
AI __m256i decode32_u(int type, const uint8_t *p) {
    switch (type) {
    case FFL_TYPE_Q4_0: {
        /* the 16 bytes in both lanes, the upper lane shifted: one shift instead of shift + insert */
        const __m256i q = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(p + 2)));
        return _mm256_and_si256(_mm256_srlv_epi64(q, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0F));
    }
    case FFL_TYPE_Q5_0: return _mm256_or_si256(nibbles32(p + 6), bits_to_bytes(ffl_ld32(p + 2)));
    default: return decode32(type, p);
    }
}

/* Four fp16 words stride bytes apart packed in general-purpose registers (idle integer pipes), so
 * that eight of them cost two vector inserts instead of eight. */
AI uint64_t words4(const uint8_t *p, int stride) {
    uint64_t a = ffl_ld16(p), b = ffl_ld16(p + stride), c = ffl_ld16(p + 2 * stride), d = ffl_ld16(p + 3 * stride);
    /* keeps gcc's SLP vectorizer from moving the packing back onto the busy vector pipes */
    __asm__("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d));
    return a | b << 16 | c << 32 | d << 48;
}
/* The fp16 words of eight consecutive blocks (stride bytes apart) as floats. */
AI __m256 halves8(const uint8_t *p, int stride) {
    return _mm256_cvtph_ps(_mm_set_epi64x((long long)words4(p + 4 * stride, stride), (long long)words4(p, stride)));
}

/* Q4_0 and Q4_1, two rows at once: row A's 16 bytes of nibbles fill the low lane and row B's the high
 * lane, against activations whose block halves are duplicated ([a0..15 | a0..15], [a16..31 | a16..31]).
 * One and / shift / two vpmaddubsw / add / vpmaddwd / convert / FMA then serves both rows, and the
 * scales come from in-register permutes instead of a broadcast per block: ~5.6 vector instructions
 * per row-block instead of 8 (one thread, weights in L2: 17.0 -> 20.9 GB/s). The int16 sum of the two
 * vpmaddubsw results stays below 4 x 15 x 128 = 7680: no saturation. */
AI int nibble32(int type) { return type == FFL_TYPE_Q4_0 || type == FFL_TYPE_Q4_1; }

AI void mv32_row_pair(int type, const uint8_t *wa, const uint8_t *wb, const uint8_t *ad, const float *da, const float *ca,
                      int64_t nb, float *ya, float *yb) {
    const int ws = ffl_block_bytes32(type), q81 = has_min32(type), qo = q81 ? 4 : 2;
    const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    __m256 acc[4], corr_a = _mm256_setzero_ps(), corr_b = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++) acc[k] = _mm256_setzero_ps();
#define PAIR_BLOCK(B, X, K)                                                                                        \
    do {                                                                                                           \
        const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(wa + (B) * ws + qo))), \
                                                  _mm_loadu_si128((const __m128i *)(wb + (B) * ws + qo)), 1);      \
        const __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);          \
        const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_load_si256((const __m256i *)(ad + 64 * (B)))), \
                                           _mm256_maddubs_epi16(hi, _mm256_load_si256((const __m256i *)(ad + 64 * (B) + 32)))); \
        acc[K] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones)), (X), acc[K]);                  \
    } while (0)
    const int64_t ng = nb / 8;
    for (int64_t g = 0; g < ng; g++) {
        const int64_t b = 8 * g;
        /* the two rows are adjacent: prefetched as one stream read at twice the speed (a prefetch per row
         * left gaps the hardware prefetcher did not fill: 0.65 of a plain read's speed instead of ~0.88) */
        for (int o = 0; o < 16 * ws; o += 64) _mm_prefetch((const char *)wa + 2 * b * ws + MV_PREFETCH_PAIR + o, _MM_HINT_T0);
        const __m256 d8 = _mm256_loadu_ps(da + b), c8 = _mm256_loadu_ps(ca + b);
        const __m256 dwa = halves8(wa + b * ws, ws), dwb = halves8(wb + b * ws, ws);
        corr_a = _mm256_fmadd_ps(q81 ? halves8(wa + b * ws + 2, ws) : dwa, c8, corr_a);
        corr_b = _mm256_fmadd_ps(q81 ? halves8(wb + b * ws + 2, ws) : dwb, c8, corr_b);
        const __m256 sa = _mm256_mul_ps(dwa, d8), sb = _mm256_mul_ps(dwb, d8);
        const __m256 u0 = _mm256_permute2f128_ps(sa, sb, 0x20), u1 = _mm256_permute2f128_ps(sa, sb, 0x31);
        PAIR_BLOCK(b, _mm256_permute_ps(u0, 0x00), 0);
        PAIR_BLOCK(b + 1, _mm256_permute_ps(u0, 0x55), 1);
        PAIR_BLOCK(b + 2, _mm256_permute_ps(u0, 0xAA), 2);
        PAIR_BLOCK(b + 3, _mm256_permute_ps(u0, 0xFF), 3);
        PAIR_BLOCK(b + 4, _mm256_permute_ps(u1, 0x00), 0);
        PAIR_BLOCK(b + 5, _mm256_permute_ps(u1, 0x55), 1);
        PAIR_BLOCK(b + 6, _mm256_permute_ps(u1, 0xAA), 2);
        PAIR_BLOCK(b + 7, _mm256_permute_ps(u1, 0xFF), 3);
    }
    float c1a = 0.0f, c1b = 0.0f;
    for (int64_t b = 8 * ng; b < nb; b++) {
        const float fa = h2f(ffl_ld16(wa + b * ws)), fb = h2f(ffl_ld16(wb + b * ws));
        c1a += (q81 ? h2f(ffl_ld16(wa + b * ws + 2)) : fa) * ca[b];
        c1b += (q81 ? h2f(ffl_ld16(wb + b * ws + 2)) : fb) * ca[b];
        PAIR_BLOCK(b, _mm256_set_m128(_mm_set1_ps(fb * da[b]), _mm_set1_ps(fa * da[b])), 0);
    }
#undef PAIR_BLOCK
    /* lanes 0-3 belong to row A, 4-7 to row B; the corrections have one lane per block */
    __m256 sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    sum = _mm256_add_ps(sum, _mm256_add_ps(_mm256_permute2f128_ps(corr_a, corr_b, 0x20), _mm256_permute2f128_ps(corr_a, corr_b, 0x31)));
    __m128 h = _mm_hadd_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
    h = _mm_hadd_ps(h, h);
    *ya = _mm_cvtss_f32(h) + c1a;
    *yb = _mm_cvtss_f32(_mm_movehdup_ps(h)) + c1b;
}

AI int mv32_one_token(int type, const uint8_t *w, size_t wrb, const uint8_t *x, int64_t n, float *y, int64_t r0,
                      int64_t r1) {
    const int ws = ffl_block_bytes32(type), q81 = has_min32(type), off = offset32(type);
    const int as = q81 ? (int)sizeof(block_q8_1) : (int)sizeof(block_q8_0), ao = q81 ? 4 : 2;
    const int64_t nb = n / 32, nb8 = (nb + 7) & ~(int64_t)7;
    /* the activation bytes are copied to 32-byte aligned rows: loads that split cache lines are slow */
    const int pairs = nibble32(type) && r1 - r0 >= 2;
    /* [aq: 32 bytes per block][da, ca, s: nb8 floats each][pairs: 64 bytes per block, 64-aligned] */
    int ready;
    uint8_t *aq = ffl_kernel_prepared(FFL_PREP_TAG(pairs ? FFL_PREP_AVX2_32_PAIRS : FFL_PREP_AVX2_32, type), x, 0, n, 0, 1,
                                      (size_t)nb8 * (3 * sizeof(float) + 32) + (pairs ? (size_t)nb * 64 + 64 : 0), &ready);
    if (!aq) return 0;
    float *da = (float *)(aq + 32 * nb8), *ca = da + nb8, *s = da + 2 * nb8;
    /* per block of the token: its scale, and the factor of the row's offset or minimum term */
    for (int64_t b = 0; b < nb8 && !ready; b++) {
        if (b >= nb) {
            da[b] = ca[b] = 0.0f;
            continue;
        }
        const uint8_t *a = x + b * as;
        _mm256_store_si256((__m256i *)(aq + 32 * b), _mm256_loadu_si256((const __m256i *)(a + ao)));
        da[b] = h2f(ffl_ld16(a));
        if (q81) ca[b] = h2f(ffl_ld16(a + 2));
        else if (off) {
            const __m256i sa = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), _mm256_loadu_si256((const __m256i *)(a + 2))),
                                                 _mm256_set1_epi16(1));
            __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sa), _mm256_extracti128_si256(sa, 1));
            s4 = _mm_hadd_epi32(s4, s4);
            ca[b] = -(float)off * da[b] * (float)(_mm_cvtsi128_si32(s4) + _mm_extract_epi32(s4, 1));
        } else ca[b] = 0.0f;
    }
    const int64_t ng = nb / 8;
    int64_t r_single = r0;
    if (pairs) {
        uint8_t *ad = (uint8_t *)(s + nb8);
        ad += (64 - ((uintptr_t)ad & 63)) & 63;
        for (int64_t b = 0; b < nb && !ready; b++) {
            const __m256i a = _mm256_load_si256((const __m256i *)(aq + 32 * b));
            _mm256_store_si256((__m256i *)(ad + 64 * b), _mm256_permute2x128_si256(a, a, 0x00));
            _mm256_store_si256((__m256i *)(ad + 64 * b + 32), _mm256_permute2x128_si256(a, a, 0x11));
        }
        for (; r_single + 2 <= r1; r_single += 2)
            mv32_row_pair(type, w + (size_t)r_single * wrb, w + (size_t)(r_single + 1) * wrb, ad, da, ca, nb, y + r_single, y + r_single + 1);
    }
    for (int64_t r = r_single; r < r1; r++) {
        const uint8_t *wr = w + (size_t)r * wrb;
        __m256 corr = _mm256_setzero_ps();
        float corr1 = 0.0f;
        for (int64_t b = 8 * ng; b < nb; b++) {
            const float dw = h2f(ffl_ld16(wr + b * ws));
            s[b] = dw * da[b];
            if (q81) corr1 += h2f(ffl_ld16(wr + b * ws + 2)) * ca[b];
            else if (off) corr1 += dw * ca[b];
        }
        /* the scales of group g + 1 are prepared while group g is multiplied: their loads and integer
         * work then overlap the vector-bound dots */
#define MV_SCALES8(G)                                                                                              \
    do {                                                                                                           \
        const int64_t b8 = 8 * (G);                                                                                \
        for (int o = 0; o < 8 * ws; o += 64) _mm_prefetch((const char *)wr + b8 * ws + MV_PREFETCH + o, _MM_HINT_T0); \
        const __m256 dw = halves8(wr + b8 * ws, ws);                                                               \
        _mm256_storeu_ps(s + b8, _mm256_mul_ps(dw, _mm256_loadu_ps(da + b8)));                                     \
        if (q81) corr = _mm256_fmadd_ps(halves8(wr + b8 * ws + 2, ws), _mm256_loadu_ps(ca + b8), corr);            \
        else if (off) corr = _mm256_fmadd_ps(dw, _mm256_loadu_ps(ca + b8), corr);                                 \
    } while (0)
#define MV_BLOCK(B, K)                                                                                             \
    do {                                                                                                           \
        const __m256i wv = decode32_u(type, wr + (B) * ws);                                                        \
        const __m256i av = _mm256_load_si256((const __m256i *)(aq + (B) * 32));                                   \
        const __m256i d = signed32(type) ? dot_i8(wv, av) : dot_u8(wv, av);                                       \
        acc[K] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_broadcast_ss(s + (B)), acc[K]);                    \
    } while (0)
        __m256 acc[4];
        for (int k = 0; k < 4; k++) acc[k] = _mm256_setzero_ps();
        if (ng > 0) MV_SCALES8(0);
        for (int64_t g = 0; g < ng; g++) {
            if (g + 1 < ng) MV_SCALES8(g + 1);
            const int64_t b = 8 * g;
            MV_BLOCK(b, 0);
            MV_BLOCK(b + 1, 1);
            MV_BLOCK(b + 2, 2);
            MV_BLOCK(b + 3, 3);
            MV_BLOCK(b + 4, 0);
            MV_BLOCK(b + 5, 1);
            MV_BLOCK(b + 6, 2);
            MV_BLOCK(b + 7, 3);
        }
        for (int64_t b = 8 * ng; b < nb; b++) MV_BLOCK(b, 0);
#undef MV_BLOCK
#undef MV_SCALES8
        const __m256 sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        y[r] = hsum256(_mm256_add_ps(sum, corr)) + corr1;
    }
    return 1;
}

AI void direct32(int type, MM_ARGS) {
    if (nt_all == 1 && mv32_one_token(type, w, wrb, xq, n, y, r0, r1)) return;
    FOR_ROWS_AND_TOKENS(row32, type)
}

/* ================================================================ K-quants (Q8_K activations) */

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
        uint32_t w0 = ffl_ld32(q), w1 = ffl_ld32(q + 4), w2 = ffl_ld32(q + 8);
        uint64_t sc = (w0 & 0x3f3f3f3fu) | ((uint64_t)((w2 & 0x0f0f0f0fu) | (((w0 >> 6) & 0x03030303u) << 4)) << 32);
        uint64_t mn = (w1 & 0x3f3f3f3fu) | ((uint64_t)(((w2 >> 4) & 0x0f0f0f0fu) | (((w1 >> 6) & 0x03030303u) << 4)) << 32);
        kb->scw = bytes_doubled(sc);
        kb->bmul = bytes_doubled(mn);
        kb->d = h2f(ffl_ld16(p));
        kb->dmin = h2f(ffl_ld16(p + 2));
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
        uint32_t a0 = ffl_ld32(x->scales), a1 = ffl_ld32(x->scales + 4), tmp = ffl_ld32(x->scales + 8);
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
        const uint32_t sl = ffl_ld32(x->scales_l), sh = x->scales_h;
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
    const int ws = ffl_block_bytes_k(type);
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

/* ---- one token (generation) for Q4_K, Q5_K and Q6_K: each 32-weight chunk is decoded, multiplied
 * and scaled as it streams by (no decoded super-block kept in registers), against activation bytes
 * copied once per call to aligned memory. */

/* Word w of both 128-bit lanes of v (low lane word wl, high lane word wh) in every word of that lane. */
AI __m256i pick_words(__m256i v, int wl, int wh) {
    return _mm256_shuffle_epi8(v, _mm256_setr_epi8(2 * wl, 2 * wl + 1, 2 * wl, 2 * wl + 1, 2 * wl, 2 * wl + 1, 2 * wl, 2 * wl + 1,
                                                   2 * wl, 2 * wl + 1, 2 * wl, 2 * wl + 1, 2 * wl, 2 * wl + 1, 2 * wl, 2 * wl + 1,
                                                   2 * wh, 2 * wh + 1, 2 * wh, 2 * wh + 1, 2 * wh, 2 * wh + 1, 2 * wh, 2 * wh + 1,
                                                   2 * wh, 2 * wh + 1, 2 * wh, 2 * wh + 1, 2 * wh, 2 * wh + 1, 2 * wh, 2 * wh + 1));
}

/* Chunk c (32 weights, unsigned) of a Q4_K / Q5_K / Q6_K super-block. */
AI __m256i kchunk(int type, const uint8_t *p, int c) {
    if (type == FFL_TYPE_Q6_K) {
        const block_q6_K *x = (const block_q6_K *)p;
        const int h = c / 4, j = c % 4;
        const __m256i l = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h + 32 * (j & 1)));
        const __m256i qh = _mm256_loadu_si256((const __m256i *)(x->qh + 32 * h));
        const __m256i lo = j < 2 ? _mm256_and_si256(l, _mm256_set1_epi8(0x0F)) : shr_and(l, 4, 0x0F);
        const __m256i hb = j == 0 ? _mm256_slli_epi16(qh, 4) : j == 1 ? _mm256_slli_epi16(qh, 2) : j == 2 ? qh : _mm256_srli_epi16(qh, 2);
        return _mm256_or_si256(lo, _mm256_and_si256(hb, _mm256_set1_epi8(0x30)));
    }
    const uint8_t *qs = type == FFL_TYPE_Q4_K ? ((const block_q4_K *)p)->qs : ((const block_q5_K *)p)->qs;
    const __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * (c / 2)));
    __m256i v = c % 2 ? shr_and(q, 4, 0x0F) : _mm256_and_si256(q, _mm256_set1_epi8(0x0F));
    if (type == FFL_TYPE_Q5_K) {
        const __m256i qh = _mm256_loadu_si256((const __m256i *)((const block_q5_K *)p)->qh);
        const __m256i hb = c <= 4 ? _mm256_slli_epi16(qh, 4 - c) : _mm256_srli_epi16(qh, c - 4); /* bit c -> bit 4 */
        v = _mm256_or_si256(v, _mm256_and_si256(hb, _mm256_set1_epi8(0x10)));
    }
    return v;
}

AI int mvk_one_token(int type, const uint8_t *w, size_t wrb, const uint8_t *x, int64_t n, float *y, int64_t r0, int64_t r1) {
    const int ws = ffl_block_bytes_k(type), q6 = type == FFL_TYPE_Q6_K;
    const int64_t nb = n / QK_K;
    int ready;
    uint8_t *aq = ffl_kernel_prepared(FFL_PREP_TAG(FFL_PREP_AVX2_K, type), x, 0, n, 0, 1, (size_t)nb * (QK_K + 2 * sizeof(float)), &ready);
    if (!aq) return 0;
    float *da = (float *)(aq + (size_t)nb * QK_K);
    const block_q8_K *xa = (const block_q8_K *)x;
    for (int64_t b = 0; b < nb && !ready; b++) {
        for (int k = 0; k < QK_K; k += 32)
            _mm256_store_si256((__m256i *)(aq + b * QK_K + k), _mm256_loadu_si256((const __m256i *)(xa[b].qs + k)));
        da[b] = xa[b].d;
    }
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *wr = w + (size_t)r * wrb;
        __m256 acc = _mm256_setzero_ps(), macc = _mm256_setzero_ps();
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *p = wr + b * ws;
            const uint8_t *a = aq + b * QK_K;
            for (int o = 0; o < ws; o += 64) _mm_prefetch((const char *)p + MV_PREFETCH + o, _MM_HINT_T0);
            __m256i scw, bmul;
            float d, dmin = 0.0f;
            if (q6) {
                const block_q6_K *xb = (const block_q6_K *)p;
                scw = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)xb->scales));
                bmul = _mm256_slli_epi16(scw, 5); /* offset 32 */
                d = h2f(xb->d);
            } else {
                const uint8_t *q = p + 4;
                const uint32_t w0 = ffl_ld32(q), w1 = ffl_ld32(q + 4), w2 = ffl_ld32(q + 8);
                const uint64_t sc = (w0 & 0x3f3f3f3fu) | ((uint64_t)((w2 & 0x0f0f0f0fu) | (((w0 >> 6) & 0x03030303u) << 4)) << 32);
                const uint64_t mn = (w1 & 0x3f3f3f3fu) | ((uint64_t)(((w2 >> 4) & 0x0f0f0f0fu) | (((w1 >> 6) & 0x03030303u) << 4)) << 32);
                scw = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)sc)));
                bmul = bytes_doubled(mn);
                d = h2f(ffl_ld16(p));
                dmin = h2f(ffl_ld16(p + 2));
            }
            const __m256i s_lo = q6 ? _mm256_permute2x128_si256(scw, scw, 0x00) : scw;
            const __m256i s_hi = q6 ? _mm256_permute2x128_si256(scw, scw, 0x11) : scw;
            __m256i i0 = _mm256_setzero_si256(), i1 = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int c = 0; c < 8; c++) {
                /* Q6_K: 16-weight scales (words 2c, 2c + 1); Q4_K / Q5_K: one scale per chunk (word c) */
                const __m256i sv = q6 ? pick_words(c < 4 ? s_lo : s_hi, (2 * c) % 8, (2 * c + 1) % 8) : pick_words(scw, c, c);
                const __m256i pr = _mm256_madd_epi16(_mm256_maddubs_epi16(kchunk(type, p, c), _mm256_load_si256((const __m256i *)(a + 32 * c))), sv);
                if (c % 2) i1 = _mm256_add_epi32(i1, pr);
                else i0 = _mm256_add_epi32(i0, pr);
            }
            __m256i is = _mm256_add_epi32(i0, i1);
            const __m256i bt = _mm256_madd_epi16(bmul, _mm256_loadu_si256((const __m256i *)xa[b].bsums));
            if (q6) is = _mm256_sub_epi32(is, bt);
            else macc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(bt), _mm256_set1_ps(dmin * da[b]), macc);
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_set1_ps(d * da[b]), acc);
        }
        y[r] = hsum256(_mm256_sub_ps(acc, macc));
    }
    return 1;
}

AI void direct_k(int type, MM_ARGS) {
    if (nt_all == 1 && (type == FFL_TYPE_Q4_K || type == FFL_TYPE_Q5_K || type == FFL_TYPE_Q6_K) &&
        mvk_one_token(type, w, wrb, xq, n, y, r0, r1))
        return;
    FOR_ROWS_AND_TOKENS(row_k, type)
}

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

/* ================================================================ activation quantizers (byte-identical to scalar) */

/* roundf: round half away from zero. */
AI __m256 round_away(__m256 v) {
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 frac = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_sub_ps(v, t)); /* exact */
    const __m256 up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    const __m256 one = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(v, _mm256_set1_ps(-0.0f)));
    return _mm256_add_ps(t, _mm256_and_ps(up, one));
}
AI float hmax256(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}
AI int hsum256i(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    return _mm_cvtsi128_si32(_mm_add_epi32(s, _mm_shuffle_epi32(s, 1)));
}
/* 32 int32 values in [-128, 127] as bytes, in order. */
AI void store_i8x32(int8_t *dst, const __m256i q[4]) {
    const __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    _mm256_storeu_si256((__m256i *)dst, _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}
/* max |x| over 32 floats; NaN is skipped as fmaxf does (the NaN operand first: max returns the second). */
AI float amax32(const float *x) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < 32; j += 8) m = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)), m);
    return hmax256(m);
}
AI void quant_q8_0_block(const float *x, int8_t *qs, uint16_t *dh, int *sum) {
    const float d = amax32(x) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    *dh = ffl_float_to_half(d);
    __m256i q[4];
    for (int k = 0; k < 4; k++) q[k] = _mm256_cvttps_epi32(round_away(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), _mm256_set1_ps(id))));
    store_i8x32(qs, q);
    if (sum) *sum = hsum256i(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
}

static void quantize_q8_0_avx2(const float *x, void *xq, int64_t n) {
    block_q8_0 *y = xq;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        uint16_t d;
        quant_q8_0_block(x + 32 * i, y[i].qs, &d, NULL);
        y[i].d = d;
    }
}

static void quantize_q8_1_avx2(const float *x, void *xq, int64_t n) {
    block_q8_1 *y = xq;
    for (int64_t i = 0; i < n / QK8_1; i++) {
        uint16_t d;
        int sum;
        quant_q8_0_block(x + 32 * i, y[i].qs, &d, &sum);
        y[i].d = d;
        y[i].s = ffl_float_to_half((float)sum * (amax32(x + 32 * i) / 127.0f)); /* the unrounded scale, as the reference */
    }
}

static void quantize_q8_K_avx2(const float *x, void *xq, int64_t n) {
    block_q8_K *y = xq;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < QK_K; j += 8) m = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)), m);
        const float amax = hmax256(m);
        block_q8_K blk;
        if (amax == 0.0f) {
            memset(&blk, 0, sizeof blk);
            memcpy(&y[i], &blk, sizeof blk);
            continue;
        }
        float max = 0.0f; /* the signed value of the first element with the largest magnitude */
        for (int j = 0; j < QK_K; j++)
            if (__builtin_fabsf(x[j]) == amax) {
                max = x[j];
                break;
            }
        const float iscale = -127.0f / max;
        const __m256 is = _mm256_set1_ps(iscale);
        for (int g = 0; g < QK_K / 32; g++) {
            __m256i q[4];
            for (int k = 0; k < 4; k++) /* nearest, ties to even; at most 127 in magnitude but one side can round to 128 */
                q[k] = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(is, _mm256_loadu_ps(x + 32 * g + 8 * k))), _mm256_set1_epi32(127));
            store_i8x32(blk.qs + 32 * g, q);
            blk.bsums[2 * g] = (int16_t)hsum256i(_mm256_add_epi32(q[0], q[1]));
            blk.bsums[2 * g + 1] = (int16_t)hsum256i(_mm256_add_epi32(q[2], q[3]));
        }
        blk.d = 1.0f / iscale;
        memcpy(&y[i], &blk, sizeof blk); /* activation rows may start at any address */
    }
}

static void quantize_bf16_avx2(const float *x, void *xq, int64_t n) {
    uint16_t *y = xq;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i u = _mm256_castps_si256(_mm256_loadu_ps(x + i));
        __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1))));
        r = _mm256_srli_epi32(r, 16);
        /* NaN: keep the top half, force quiet */
        const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7f800000));
        r = _mm256_blendv_epi8(r, _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(64)), nan);
        const __m128i p = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
        _mm_storeu_si128((__m128i *)(y + i), p);
    }
    for (; i < n; i++) y[i] = ffl_float_to_bf16(x[i]);
}

static void quantize_f16_avx2(const float *x, void *xq, int64_t n) {
    uint16_t *y = xq;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; i++) y[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

/* ---------------------------------------------------------------- attention
 * The AVX-512 file's kernels on 8 lanes (see there): keys 8 cells at a time with a head's 8 dot
 * products summed across lanes together; values 8 accumulators of heads x channels. */

/* Lane i of the result: the sum of the 8 lanes of a[i]. */
static inline __m256 hsum8x8(const __m256 a[8]) {
    const __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
    const __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(a[4], a[5]), _mm256_hadd_ps(a[6], a[7]));
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

/* 8 cache elements (n < 8: the first n, zeros after) as floats; no read past the n-th. */
static inline __m256 load_kv8(int half, const uint8_t *p, int n) {
    uint8_t tmp[32] = {0};
    if (n < 8) p = memcpy(tmp, p, (size_t)n * (half ? 2 : 4));
    return half ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)) : _mm256_loadu_ps((const float *)p);
}

static inline __m256 round_half8(__m256 x) { return _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)); }

static int attn_scores_avx2(int32_t kvt, const float *q, int32_t nh, int32_t hd, int64_t qs, const void *k, size_t ks, int32_t w,
                            float *scores) {
    if (nh < 1 || hd < 8 || hd % 8 != 0 || hd > 256) return 0;
    const int half = kvt == FFL_TYPE_F16, nc = hd / 8;
    const size_t eb = half ? 2 : 4;
    float *kf = ffl_kernel_scratch((size_t)(8 + nh) * (size_t)hd * sizeof(float)); /* 8 key rows, then q */
    if (!kf) return 0;
    float *qr = kf + 8 * hd;
    for (int32_t h = 0; h < nh; h++) /* the query rows, rounded, contiguous */
        for (int32_t d = 0; d < hd; d += 8) {
            const __m256 x = _mm256_loadu_ps(q + (int64_t)h * qs + d);
            _mm256_store_ps(qr + (int64_t)h * hd + d, half ? round_half8(x) : x);
        }
    for (int32_t j0 = 0; j0 < w; j0 += 8) {
        const int nj = w - j0 < 8 ? w - j0 : 8;
        for (int j = 0; j < 8; j++) {
            const uint8_t *row = (const uint8_t *)k + (size_t)(j0 + j) * ks;
            for (int c = 0; c < nc; c++) _mm256_store_ps(kf + j * hd + 8 * c, j < nj ? load_kv8(half, row + 8 * eb * c, 8) : _mm256_setzero_ps());
        }
        for (int32_t h = 0; h < nh; h++) {
            const float *qh = qr + (int64_t)h * hd;
            __m256 a[8];
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++) a[j] = _mm256_setzero_ps();
            for (int c = 0; c < nc; c++) {
                const __m256 qc = _mm256_load_ps(qh + 8 * c);
#pragma GCC unroll 8
                for (int j = 0; j < 8; j++) a[j] = _mm256_fmadd_ps(qc, _mm256_load_ps(kf + j * hd + 8 * c), a[j]);
            }
            float r[8];
            _mm256_storeu_ps(r, hsum8x8(a));
            memcpy(scores + (int64_t)h * w + j0, r, (size_t)nj * sizeof(float));
        }
    }
    return 1;
}

static inline void values_pass8(int half, int H, int C, const float *ph, int32_t wp, int32_t w, const void *v, size_t vs,
                                int32_t hdv, float *out, int64_t os) {
    const size_t eb = half ? 2 : 4;
    for (int32_t c0 = 0; c0 < hdv; c0 += C) {
        const int nC = hdv - c0 < C ? hdv - c0 : C;
        const uint8_t *vr[8];
        for (int cc = 0; cc < C; cc++) vr[cc] = (const uint8_t *)v + (size_t)(c0 + (cc < nC ? cc : 0)) * vs;
        __m256 acc[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) acc[i] = _mm256_setzero_ps();
        for (int32_t j0 = 0; j0 < wp; j0 += 8) {
            const int n = w - j0 < 8 ? w - j0 : 8;
            __m256 p[4];
#pragma GCC unroll 4
            for (int hh = 0; hh < H; hh++) p[hh] = _mm256_load_ps(ph + (int64_t)hh * wp + j0);
#pragma GCC unroll 8
            for (int cc = 0; cc < C; cc++) {
                const __m256 x = load_kv8(half, vr[cc] + (size_t)j0 * eb, n);
#pragma GCC unroll 4
                for (int hh = 0; hh < H; hh++) acc[hh * C + cc] = _mm256_fmadd_ps(p[hh], x, acc[hh * C + cc]);
            }
        }
        float r[8];
        _mm256_storeu_ps(r, hsum8x8(acc));
        for (int hh = 0; hh < H; hh++)
            for (int cc = 0; cc < nC; cc++) out[(int64_t)hh * os + c0 + cc] = r[hh * C + cc];
    }
}

static int attn_values_avx2(int32_t kvt, const float *p, int32_t nh, int32_t w, const void *v, size_t vs, int32_t hdv,
                            float *out, int64_t os) {
    if (nh < 1 || hdv < 1) return 0;
    const int half = kvt == FFL_TYPE_F16;
    const int32_t wp = (w + 7) & ~7;
    float *pr = ffl_kernel_scratch((size_t)nh * (size_t)wp * sizeof(float)); /* p rounded, zero-padded to 8 cells */
    if (!pr) return 0;
    for (int32_t h = 0; h < nh; h++) {
        memcpy(pr + (int64_t)h * wp, p + (int64_t)h * w, (size_t)w * sizeof(float));
        memset(pr + (int64_t)h * wp + w, 0, (size_t)(wp - w) * sizeof(float));
        if (half)
            for (int32_t j0 = 0; j0 < wp; j0 += 8) _mm256_store_ps(pr + (int64_t)h * wp + j0, round_half8(_mm256_load_ps(pr + (int64_t)h * wp + j0)));
    }
    for (int32_t h0 = 0; h0 < nh; h0 += 4) {
        const int H = nh - h0 < 4 ? nh - h0 : 4;
        const float *ph = pr + (int64_t)h0 * wp;
        float *o = out + (int64_t)h0 * os;
        switch (H) { /* constant H and C keep the accumulators in registers */
        case 1: values_pass8(half, 1, 8, ph, wp, w, v, vs, hdv, o, os); break;
        case 2: values_pass8(half, 2, 4, ph, wp, w, v, vs, hdv, o, os); break;
        case 3: values_pass8(half, 3, 2, ph, wp, w, v, vs, hdv, o, os); break;
        default: values_pass8(half, 4, 2, ph, wp, w, v, vs, hdv, o, os); break;
        }
    }
    return 1;
}

void ffl_kernels_fill_avx2(ffl_kernel_table *t) {
    t->quantize[FFL_ACT_Q8_0] = quantize_q8_0_avx2;
    t->quantize[FFL_ACT_Q8_1] = quantize_q8_1_avx2;
    t->quantize[FFL_ACT_Q8_K] = quantize_q8_K_avx2;
    t->quantize[FFL_ACT_BF16] = quantize_bf16_avx2;
    t->quantize[FFL_ACT_F16] = quantize_f16_avx2;
    t->attn_scores = attn_scores_avx2;
    t->attn_values = attn_values_avx2;
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
