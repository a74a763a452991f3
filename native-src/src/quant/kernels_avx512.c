/* AVX-512 kernels (F, BW, VL, DQ, VNNI; compiled with those -m flags only, chosen at run time).
 *
 * Two paths per weight type:
 *  - direct: one weight row at a time against up to 4 tokens, weights decoded in registers straight
 *    from the memory map (matrix x vector is bound by memory bandwidth, so the decode must be lean);
 *  - tiled (the matrix x matrix sections below): for many tokens, a block of weight rows is decoded
 *    once and multiplied against packed activations with vpdpbusd, one token per 32-bit lane.
 *
 * Integer dot products: weights are decoded to unsigned bytes (offset added where the format is
 * signed) and multiplied with the signed activation bytes; the offset times the activation block sum
 * is subtracted exactly in integers. K-quant sub-block scales are applied in integers too
 * (vpmaddubsw then vpdpwssd with the scales), so only one float multiply per super-block remains. */
/* VBMI (byte permutes), GFNI (bit-field moves) and BF16 are checked at run time next to VNNI; the
 * build flags of this file cover F/BW/VL/DQ/VNNI only, so enable the three extensions here. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512vbmi,avx512bf16,gfni"))), apply_to = function)
#else
#pragma GCC target("avx512vbmi,avx512bf16,gfni")
#endif

#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "common/fp16.h"
#include "cpu/cpu_features.h"
#include "quant/kernels_internal.h"

#define AI static inline __attribute__((always_inline))

AI float h2f(uint16_t h) { return _cvtsh_ss(h); }

/* Single-token kernels on the GGUF block layouts prefetch the weights this far ahead into L2 (not L1;
 * the load-time layouts below do without): on Zen 4 one thread's Q4_0 stream went from ~0.60 to ~0.72
 * of a plain read, and TinyLlama generation with 2 threads rose by 8-24 % (Q4_K_M, Q4_0, Q8_0).
 * Prefetching into L1, or nearer than 8 KiB, was slower;
 * F16 rows gain nothing from it (slower with 4 KiB, the same with 16 KiB) and rely on the hardware prefetcher. */
#define MV_PREFETCH_L2 16384
AI void prefetch_l2(const void *p, int bytes) {
    for (int o = 0; o < bytes; o += 64) _mm_prefetch((const char *)p + o, _MM_HINT_T1);
}
/* A one-byte load of the line at p, result unused (see row_x16). */
AI void touch_line(const void *p) { __asm__ volatile("" : : "r"(*(const volatile uint8_t *)p)); }
AI float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
AI float hsum512(__m512 v) {
    return hsum256(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)));
}

/* ================================================================ float weights */

/* 16 weights of row p starting at element i as floats (masked lanes are zero). */
/* Masked loads only for tails: streaming weights from memory with masked loads is much slower. */
AI __m512 load_wf(int type, const void *p, int64_t i, __mmask16 m) {
    if (type == FFL_TYPE_F32)
        return m == 0xFFFF ? _mm512_loadu_ps((const float *)p + i) : _mm512_maskz_loadu_ps(m, (const float *)p + i);
    __m256i h = m == 0xFFFF ? _mm256_loadu_si256((const __m256i *)((const uint16_t *)p + i))
                            : _mm256_maskz_loadu_epi16(m, (const uint16_t *)p + i);
    if (type == FFL_TYPE_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); /* BF16 */
}

/* Float weights against up to 4 tokens. Sums of up to 256 products are formed in float and then
 * added in double: close to exact at the cost of a few conversions, so results hardly depend on
 * summation order (F16/BF16 models round activations afterwards, which would amplify order effects).
 * BF16 x BF16 uses vdpbf16ps when present (exact products). */
AI __m512d fold_pd(__m512d acc, __m512 s) {
    return _mm512_add_pd(acc, _mm512_add_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(s)), _mm512_cvtps_pd(_mm512_extractf32x8_ps(s, 1))));
}

/* F16 weights as F32 without vcvtph2ps (two per 16 products made it the limit, ~31 GB/s per core from
 * L2 on Zen 4): each half's bits go to the matching F32 fields, which gives its value times 2^-112
 * exactly (subnormal halves included; infinities and NaNs come out finite). The even and odd halves of
 * 32 are converted apart, so the activations are stored in that order and scaled by 2^112. */
AI void f16_pairs_scaled(__m512i h, __m512 *even, __m512 *odd) {
    const __m512i fields = _mm512_set1_epi32((int)0x8FFFE000); /* sign, 5 exponent bits, 10 mantissa bits */
    *even = _mm512_castsi512_ps(_mm512_and_si512(_mm512_srai_epi32(_mm512_slli_epi32(h, 16), 3), fields));
    *odd = _mm512_castsi512_ps(_mm512_and_si512(_mm512_srai_epi32(h, 3), fields));
}

/* xw: one token's F16 activations widened by widen_f16_pairs (then nt is 1; NULL: convert on load). */
AI void float_row(int type, int dpbf, int nt, const void *w, const void *const *x, const float *xw, int64_t n, float *out) {
    __m512d acc[4];
    for (int t = 0; t < 4; t++) acc[t] = _mm512_setzero_pd();
    int64_t i = 0;
    while (i + 64 <= n) {
        const int64_t end = n - i >= 256 ? i + 256 : i + ((n - i) & ~(int64_t)63);
        __m512 s[4][2];
        for (int t = 0; t < 4; t++) s[t][0] = s[t][1] = _mm512_setzero_ps();
        for (; i < end; i += 64) {
            if (type == FFL_TYPE_F16 && xw) {
                __m512 e0, o0, e1, o1;
                f16_pairs_scaled(_mm512_loadu_si512((const uint16_t *)w + i), &e0, &o0);
                f16_pairs_scaled(_mm512_loadu_si512((const uint16_t *)w + i + 32), &e1, &o1);
                s[0][0] = _mm512_fmadd_ps(e0, _mm512_loadu_ps(xw + i), s[0][0]);
                s[0][1] = _mm512_fmadd_ps(o0, _mm512_loadu_ps(xw + i + 16), s[0][1]);
                s[0][0] = _mm512_fmadd_ps(e1, _mm512_loadu_ps(xw + i + 32), s[0][0]);
                s[0][1] = _mm512_fmadd_ps(o1, _mm512_loadu_ps(xw + i + 48), s[0][1]);
                continue;
            }
            if (dpbf) {
                const __m512bh w0 = (__m512bh)_mm512_loadu_si512((const uint16_t *)w + i);
                const __m512bh w1 = (__m512bh)_mm512_loadu_si512((const uint16_t *)w + i + 32);
                for (int t = 0; t < nt; t++) {
                    s[t][0] = _mm512_dpbf16_ps(s[t][0], w0, (__m512bh)_mm512_loadu_si512((const uint16_t *)x[t] + i));
                    s[t][1] = _mm512_dpbf16_ps(s[t][1], w1, (__m512bh)_mm512_loadu_si512((const uint16_t *)x[t] + i + 32));
                }
            } else {
                const __m512 w0 = load_wf(type, w, i, 0xFFFF), w1 = load_wf(type, w, i + 16, 0xFFFF);
                const __m512 w2 = load_wf(type, w, i + 32, 0xFFFF), w3 = load_wf(type, w, i + 48, 0xFFFF);
                for (int t = 0; t < nt; t++) {
                    s[t][0] = _mm512_fmadd_ps(w0, load_wf(type, x[t], i, 0xFFFF), s[t][0]);
                    s[t][1] = _mm512_fmadd_ps(w1, load_wf(type, x[t], i + 16, 0xFFFF), s[t][1]);
                    s[t][0] = _mm512_fmadd_ps(w2, load_wf(type, x[t], i + 32, 0xFFFF), s[t][0]);
                    s[t][1] = _mm512_fmadd_ps(w3, load_wf(type, x[t], i + 48, 0xFFFF), s[t][1]);
                }
            }
        }
        for (int t = 0; t < nt; t++) acc[t] = fold_pd(acc[t], _mm512_add_ps(s[t][0], s[t][1]));
    }
    for (; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? 0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m512 wv = load_wf(type, w, i, m);
        for (int t = 0; t < nt; t++) acc[t] = fold_pd(acc[t], _mm512_mul_ps(wv, load_wf(type, x[t], i, m)));
    }
    for (int t = 0; t < nt; t++) out[t] = (float)_mm512_reduce_add_pd(acc[t]);
}

/* The first n64 F16 activations as F32 times 2^112, per 32 the even ones then the odd ones (the order
 * f16_pairs_scaled gives the weights). Exact: |x| <= 65504 stays below 2^128. */
static void widen_f16_pairs(const uint16_t *h, int64_t n64, float *d) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512 scale = _mm512_set1_ps(0x1p112f);
    for (int64_t i = 0; i < n64; i += 32) {
        const __m512 a = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(h + i)));
        const __m512 b = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(h + i + 16)));
        _mm512_storeu_ps(d + i, _mm512_mul_ps(_mm512_permutex2var_ps(a, even, b), scale));
        _mm512_storeu_ps(d + i + 16, _mm512_mul_ps(_mm512_permutex2var_ps(a, odd, b), scale));
    }
}

/* One token against F16 rows of up to 4096 columns takes widened activations: 2048 columns stream from
 * L2 at ~47 instead of ~31 GB/s per core (Zen 4), from memory the same. Otherwise the activations convert
 * on load: an F32 copy of 22 KiB (5632 columns) crowds the weights out of L1 and streaming from memory
 * halved (28 -> 15 GB/s); 4 tokens of 2048 columns (32 KiB) ran pp4 at 27 instead of 35 t/s, and 2 tokens
 * (16 KiB) showed no gain. Splitting long rows into column panels per block of 8 rows kept the copy in L1
 * (44 GB/s from L2) but the jumps between row segments cut streaming from memory to 11 GB/s. */
#define F16_WIDEN_MAX_COLS 4096
AI void float_direct(int type, int dpbf, const void *w, size_t wrb, const void *xq, size_t xrb, int64_t n, int64_t nt_all,
                     float *y, int64_t ldy, int64_t r0, int64_t r1) {
    for (int64_t t0 = 0; t0 < nt_all; t0 += 4) {
        int nt = (int)(nt_all - t0 < 4 ? nt_all - t0 : 4);
        const void *x[4];
        for (int t = 0; t < nt; t++) x[t] = (const char *)xq + (size_t)(t0 + t) * xrb;
        const float *wide = NULL; /* without scratch memory the rows convert on load */
        if (type == FFL_TYPE_F16 && nt == 1 && n >= 64 && n <= F16_WIDEN_MAX_COLS) {
            /* widened on every call rather than kept for the span (ffl_kernel_prepared): kept, TinyLlama F16
             * tg ran 0.988x when the host's memory was fast (alternating 8-token blocks, 200 s) */
            float *d = ffl_kernel_scratch((size_t)n * sizeof(float));
            if (d) widen_f16_pairs(x[0], n & ~(int64_t)63, d);
            wide = d;
        }
        for (int64_t r = r0; r < r1; r++) {
            const void *wr = (const char *)w + (size_t)r * wrb;
            float out[4];
            switch (nt) {
            case 1: float_row(type, dpbf, 1, wr, x, wide, n, out); break;
            case 2: float_row(type, dpbf, 2, wr, x, wide, n, out); break;
            case 3: float_row(type, dpbf, 3, wr, x, wide, n, out); break;
            default: float_row(type, dpbf, 4, wr, x, wide, n, out); break;
            }
            for (int t = 0; t < nt; t++) y[(t0 + t) * ldy + r] = out[t];
        }
    }
}

/* ================================================================ 32-element blocks (Q8_0 / Q8_1 activations) */

/* Activations of one token, prepared once per call. Blocks are handled in fours: one 512-bit
 * register holds the first 16 weights of four blocks (one 128-bit lane each), another the last 16
 * (that is how the nibbles of Q4/Q5 blocks come apart), so each 32-bit lane sums 8 products of one
 * block and four blocks share one convert and one FMA. The activation bytes are stored in that
 * order (128 bytes per 4 blocks); the offset correction -offset * sum(block) is the starting value
 * of the block's integer sum (one 64-byte vector per 4 blocks, in the first lane of each block). */
typedef struct {
    const int8_t *qs;      /* raw qs of block 0 (tail blocks); blocks are `astride` bytes apart */
    const uint8_t *quads;  /* 128 bytes per 4 blocks */
    const float *da;       /* block scales */
    const float *corr;     /* -offset * sum(qs) of each block (tail blocks) */
    const int32_t *icorr;  /* the same per 4 blocks: 16 lanes, block i's value in lane 4i, others 0 */
    const float *s;        /* Q8_1: d * sum(qs) of each block (for the weight minimum) */
} tok32;

AI int has_min32(int type) { return type == FFL_TYPE_Q4_1 || type == FFL_TYPE_Q5_1; }
int ffl_avx512_offset32(int type) {
    switch (type) {
    case FFL_TYPE_Q4_0: return 8;
    case FFL_TYPE_Q5_0: return 16;
    case FFL_TYPE_Q8_0:
    case FFL_TYPE_IQ4_NL: return 128;
    default: return 0;
    }
}
AI int qs_offset32(int type) {
    switch (type) {
    case FFL_TYPE_Q4_1: return 4;
    case FFL_TYPE_Q5_0: return 6;
    case FFL_TYPE_Q5_1: return 8;
    default: return 2;
    }
}

AI __m256i iq4_lut256(void) {
    return _mm256_setr_epi8(1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141, (char)153, (char)166, (char)181,
                            (char)197, (char)217, (char)241, 1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141,
                            (char)153, (char)166, (char)181, (char)197, (char)217, (char)241);
}

/* The 32 weights of block p as unsigned bytes in natural order (tail blocks). */
AI __m256i decode32(int type, const uint8_t *p) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    if (type == FFL_TYPE_Q8_0)
        return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(p + 2)), _mm256_set1_epi8((char)0x80));
    __m128i q = _mm_loadu_si128((const __m128i *)(p + qs_offset32(type)));
    __m256i v = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), m4);
    if (type == FFL_TYPE_IQ4_NL) return _mm256_shuffle_epi8(iq4_lut256(), v);
    if (type == FFL_TYPE_Q5_0 || type == FFL_TYPE_Q5_1)
        v = _mm256_or_si256(v, _mm256_maskz_mov_epi8((__mmask32)ffl_ld32(p + qs_offset32(type) - 4), _mm256_set1_epi8(0x10)));
    return v;
}

/* Byte and word permutation indices that gather 4 consecutive blocks from a 128-byte window,
 * filled once by ffl_kernels_fill_avx512 (slot = block size in bytes / 2 - 9). */
static uint8_t quad_qs_idx[9][64] __attribute__((aligned(64))), q8_hi_idx[64] __attribute__((aligned(64)));
static uint16_t quad_d_idx[9][32] __attribute__((aligned(64))), quad_m_idx[9][32] __attribute__((aligned(64)));
/* 8 blocks of 18 bytes: qs of blocks 0-3 from (bytes [0, 64), [64, 128)), of blocks 4-7 from
 * ([64, 128), [80, 144)); the 8 scales from the first pair */
static uint8_t oct18_qs_idx[2][64] __attribute__((aligned(64)));
static uint16_t oct18_d_idx[32] __attribute__((aligned(64)));

static void init_quad_tables(void) {
    for (int slot = 0; slot < 9; slot++) {
        const int s = 2 * (slot + 9);
        const int o = s == 18 ? 2 : s == 20 ? 4 : s == 22 ? 6 : s == 24 ? 8 : 2; /* Q4_0/IQ4_NL, Q4_1, Q5_0, Q5_1, Q8_0 */
        /* window: z0 = bytes [0, 64), z1 = bytes [4s - 64, 4s) (the last 64 bytes of the 4 blocks) */
        const int z1_start = s == 34 ? 64 : 4 * s - 64; /* Q8_0 uses [0, 128) for its first halves */
#define QUAD_BYTE(b) ((b) < 64 ? (b) : 64 + (b) - z1_start)
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 16; j++) quad_qs_idx[slot][16 * i + j] = (uint8_t)QUAD_BYTE(s * i + o + j);
            quad_d_idx[slot][i] = (uint16_t)(QUAD_BYTE(s * i) / 2);
            quad_m_idx[slot][i] = (uint16_t)(QUAD_BYTE(s * i + 2) / 2);
        }
#undef QUAD_BYTE
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 16; j++) {
            const int first = 18 * i + 2 + j, second = 18 * (i + 4) + 2 + j;
            oct18_qs_idx[0][16 * i + j] = (uint8_t)first;
            oct18_qs_idx[1][16 * i + j] = (uint8_t)(second < 128 ? second - 64 : 64 + second - 80);
        }
    for (int i = 0; i < 8; i++) oct18_d_idx[i] = (uint16_t)(9 * i);
    /* Q8_0 second halves come from the window starting 8 bytes in */
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 16; j++) q8_hi_idx[16 * i + j] = (uint8_t)(34 * i + 18 + j - 8);
}

/* Pins loaded vectors to registers: left alone, GCC folds the load into each instruction that reads
 * the vector, and loading the same unaligned 64 bytes again cost ~5 % of Q4_0 speed (Zen 4). */
AI void keep_in_register2(__m512i *a, __m512i *b) { __asm__("" : "+v"(*a), "+v"(*b)); }

/* Nibbles of a 64-byte qs vector: low ones, high ones (IQ4_NL: looked up). */
AI void split_nibbles(int type, __m512i q, __m512i *lo, __m512i *hi) {
    const __m512i m4b = _mm512_set1_epi8(0x0F);
    __m512i l = _mm512_and_si512(q, m4b), h = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4b);
    if (type == FFL_TYPE_IQ4_NL) {
        const __m512i lut = _mm512_broadcast_i32x4(_mm256_castsi256_si128(iq4_lut256()));
        l = _mm512_shuffle_epi8(lut, l);
        h = _mm512_shuffle_epi8(lut, h);
    }
    *lo = l;
    *hi = h;
}

/* Blocks p .. p + 7 * 18 of Q4_0 or IQ4_NL: decode_quad's layout for blocks 0-3 and 4-7, and the 8
 * scales. Three loads instead of four and one scale gather and convert instead of two: ~8 % faster
 * than two decode_quad calls from L2 (Zen 4). Never reads past the 8 blocks. */
AI void decode_oct18(int type, const uint8_t *p, __m512i lo[2], __m512i hi[2], __m256 *d8) {
    __m512i z0 = _mm512_loadu_si512(p), z1 = _mm512_loadu_si512(p + 64), z2 = _mm512_loadu_si512(p + 80);
    keep_in_register2(&z0, &z1);
    split_nibbles(type, _mm512_permutex2var_epi8(z0, _mm512_load_si512(oct18_qs_idx[0]), z1), &lo[0], &hi[0]);
    split_nibbles(type, _mm512_permutex2var_epi8(z1, _mm512_load_si512(oct18_qs_idx[1]), z2), &lo[1], &hi[1]);
    *d8 = _mm256_cvtph_ps(_mm512_castsi512_si128(_mm512_permutex2var_epi16(z0, _mm512_load_si512(oct18_d_idx), z1)));
}

/* Blocks p .. p + 3 * stride: lo = the first 16 weights of each block (one 128-bit lane per block),
 * hi = the last 16; d and m (Q4_1/Q5_1) of the 4 blocks as floats. Never reads past the 4 blocks. */
AI void decode_quad(int type, const uint8_t *p, __m512i *lo, __m512i *hi, __m128 *d4, __m128 *m4) {
    const int s = ffl_block_bytes32(type), slot = s / 2 - 9;
    if (type == FFL_TYPE_Q8_0) {
        const __m512i x80 = _mm512_set1_epi8((char)0x80);
        __m512i z0 = _mm512_loadu_si512(p), z1 = _mm512_loadu_si512(p + 64);
        __m512i z2 = _mm512_loadu_si512(p + 8), z3 = _mm512_loadu_si512(p + 72);
        keep_in_register2(&z0, &z1);
        *lo = _mm512_xor_si512(_mm512_permutex2var_epi8(z0, _mm512_load_si512(quad_qs_idx[slot]), z1), x80);
        *hi = _mm512_xor_si512(_mm512_permutex2var_epi8(z2, _mm512_load_si512(q8_hi_idx), z3), x80);
        *d4 = _mm_cvtph_ps(_mm512_castsi512_si128(_mm512_permutex2var_epi16(z0, _mm512_load_si512(quad_d_idx[slot]), z1)));
        return;
    }
    /* the 4 blocks span 72..96 bytes: the first and the last 64 of them (no read past the end) */
    __m512i z0 = _mm512_loadu_si512(p), z1 = _mm512_loadu_si512(p + 4 * s - 64);
    keep_in_register2(&z0, &z1);
    __m512i l, h;
    split_nibbles(type, _mm512_permutex2var_epi8(z0, _mm512_load_si512(quad_qs_idx[slot]), z1), &l, &h);
    if (type == FFL_TYPE_Q5_0 || type == FFL_TYPE_Q5_1) {
        const int o = qs_offset32(type) - 4;
        uint64_t q0 = ffl_ld32(p + o), q1 = ffl_ld32(p + s + o), q2 = ffl_ld32(p + 2 * s + o), q3 = ffl_ld32(p + 3 * s + o);
        uint64_t ml = (q0 & 0xFFFF) | (q1 & 0xFFFF) << 16 | (q2 & 0xFFFF) << 32 | (q3 & 0xFFFF) << 48;
        uint64_t mh = (q0 >> 16) | (q1 >> 16) << 16 | (q2 >> 16) << 32 | (q3 >> 16) << 48;
        const __m512i b4 = _mm512_set1_epi8(0x10);
        l = _mm512_or_si512(l, _mm512_maskz_mov_epi8(ml, b4));
        h = _mm512_or_si512(h, _mm512_maskz_mov_epi8(mh, b4));
    }
    *lo = l;
    *hi = h;
    /* blocks of up to 20 bytes keep all four scales (and minimums) in the first 64 bytes: a
     * one-source word permute is cheaper than the two-source one */
    if (s <= 20) {
        *d4 = _mm_cvtph_ps(_mm512_castsi512_si128(_mm512_permutexvar_epi16(_mm512_load_si512(quad_d_idx[slot]), z0)));
        if (has_min32(type))
            *m4 = _mm_cvtph_ps(_mm512_castsi512_si128(_mm512_permutexvar_epi16(_mm512_load_si512(quad_m_idx[slot]), z0)));
        return;
    }
    *d4 = _mm_cvtph_ps(_mm512_castsi512_si128(_mm512_permutex2var_epi16(z0, _mm512_load_si512(quad_d_idx[slot]), z1)));
    if (has_min32(type))
        *m4 = _mm_cvtph_ps(_mm512_castsi512_si128(_mm512_permutex2var_epi16(z0, _mm512_load_si512(quad_m_idx[slot]), z1)));
}

/* The integer dot products of 4 blocks (quad q of a token) with their offset corrections, as floats:
 * 4 lanes per block, in decode_quad's layout. */
AI __m512 quad_sums(int off, const tok32 *tk, int64_t q, __m512i lo, __m512i hi) {
    const uint8_t *pa = tk->quads + (size_t)q * 128;
    __m512i s = off ? _mm512_load_si512(tk->icorr + (size_t)q * 16) : _mm512_setzero_si512();
    s = _mm512_dpbusd_epi32(s, lo, _mm512_load_si512(pa));
    s = _mm512_dpbusd_epi32(s, hi, _mm512_load_si512(pa + 64));
    return _mm512_cvtepi32_ps(s);
}

/* One weight row against nt tokens (up to 4); the tokens share the weight decode. */
AI void row32(int type, int nt, const uint8_t *w, int64_t nb, const tok32 *tk, int astride, float out[4]) {
    const int ws = ffl_block_bytes32(type), off = ffl_avx512_offset32(type);
    const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    const __m512i spread_hi = _mm512_add_epi32(spread, _mm512_set1_epi32(4));
    /* two groups of 4 blocks per step, each with its own accumulator (no loop-carried index) */
    __m512 acc[4][2];
    __m128 macc[4];
    for (int t = 0; t < 4; t++) {
        acc[t][0] = acc[t][1] = _mm512_setzero_ps();
        macc[t] = _mm_setzero_ps();
    }
    int64_t b = 0;
#define QUAD_STEP(K)                                                                                                   \
    do {                                                                                                               \
        __m512i lo, hi;                                                                                                \
        __m128 d4, m4 = _mm_setzero_ps();                                                                              \
        decode_quad(type, w + (b + 4 * (K)) * ws, &lo, &hi, &d4, &m4);                                                 \
        for (int t = 0; t < nt; t++) {                                                                                 \
            const __m128 sc4 = _mm_mul_ps(d4, _mm_loadu_ps(tk[t].da + b + 4 * (K)));                                    \
            acc[t][K] = _mm512_fmadd_ps(quad_sums(off, &tk[t], b / 4 + (K), lo, hi),                                   \
                                        _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(sc4)), acc[t][K]);        \
            if (has_min32(type)) macc[t] = _mm_fmadd_ps(m4, _mm_loadu_ps(tk[t].s + b + 4 * (K)), macc[t]);             \
        }                                                                                                              \
    } while (0)
    for (; b + 8 <= nb; b += 8) {
        prefetch_l2(w + b * ws + MV_PREFETCH_L2, 8 * ws);
        if (ws == 18) { /* Q4_0, IQ4_NL: 8 blocks decoded at once */
            __m512i lo[2], hi[2];
            __m256 d8;
            decode_oct18(type, w + b * ws, lo, hi, &d8);
            for (int t = 0; t < nt; t++) {
                const __m512 sc8 = _mm512_castps256_ps512(_mm256_mul_ps(d8, _mm256_loadu_ps(tk[t].da + b)));
                for (int k = 0; k < 2; k++)
                    acc[t][k] = _mm512_fmadd_ps(quad_sums(off, &tk[t], b / 4 + k, lo[k], hi[k]),
                                                _mm512_permutexvar_ps(k ? spread_hi : spread, sc8), acc[t][k]);
            }
        } else {
            QUAD_STEP(0);
            QUAD_STEP(1);
        }
    }
    if (b + 4 <= nb) {
        QUAD_STEP(0);
        b += 4;
    }
#undef QUAD_STEP
    float tail[4] = {0};
    for (; b < nb; b++) {
        const uint8_t *wb = w + b * ws;
        __m256i wv = decode32(type, wb);
        float dw = h2f(ffl_ld16(wb));
        for (int t = 0; t < nt; t++) {
            const __m256i av = _mm256_loadu_si256((const __m256i *)(tk[t].qs + b * astride));
            __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), wv, av);
            tail[t] += (hsum256(_mm256_cvtepi32_ps(s)) + tk[t].corr[b]) * (dw * tk[t].da[b]);
            if (has_min32(type)) tail[t] += h2f(ffl_ld16(wb + 2)) * tk[t].s[b];
        }
    }
    for (int t = 0; t < nt; t++) {
        __m128 m = macc[t];
        m = _mm_add_ps(m, _mm_movehl_ps(m, m));
        m = _mm_add_ss(m, _mm_movehdup_ps(m));
        out[t] = hsum512(_mm512_add_ps(acc[t][0], acc[t][1])) + _mm_cvtss_f32(m) + tail[t];
    }
}

/* Prepares one token row of Q8_0 (or Q8_1) blocks: float scales, corrections and, per 4 blocks
 * (128 bytes, 64-byte aligned), the first 16 activations of each block, then the last 16 of each. */
void ffl_avx512_prep32(int q81, int offset, const void *xrow, int64_t nb, float *da, float *corr, float *s, uint8_t *quads,
                       int32_t *icorr) {
    const int astride = q81 ? (int)sizeof(block_q8_1) : (int)sizeof(block_q8_0);
    const int qo = q81 ? 4 : 2;
    const uint8_t *p = xrow;
    for (int64_t b = 0; b < nb; b++, p += astride) {
        da[b] = h2f(ffl_ld16(p));
        if (q81) s[b] = h2f(ffl_ld16(p + 2));
        corr[b] = 0;
        if (offset) {
            /* sum of signed bytes = sum of (byte ^ 0x80) - 32 * 128 */
            __m256i v = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(p + qo)), _mm256_set1_epi8((char)0x80));
            __m256i sad = _mm256_sad_epu8(v, _mm256_setzero_si256());
            __m128i s2 = _mm_add_epi64(_mm256_castsi256_si128(sad), _mm256_extracti128_si256(sad, 1));
            int sum = (int)(_mm_cvtsi128_si64(s2) + _mm_extract_epi64(s2, 1)) - 32 * 128;
            corr[b] = (float)(-offset * sum);
        }
    }
    const uint8_t *x = xrow;
    for (int64_t q = 0; q < nb / 4; q++) {
        for (int l = 0; l < 16; l++) icorr[16 * q + l] = l % 4 ? 0 : (int32_t)corr[4 * q + l / 4];
        uint8_t *o = quads + q * 128;
        for (int i = 0; i < 4; i++) {
            const uint8_t *a = x + (4 * q + i) * astride + qo;
            _mm_store_si128((__m128i *)(o + 16 * i), _mm_loadu_si128((const __m128i *)a));
            _mm_store_si128((__m128i *)(o + 64 + 16 * i), _mm_loadu_si128((const __m128i *)(a + 16)));
        }
    }
}

AI void direct32(int type, const void *w, size_t wrb, const void *xq, size_t xrb, int64_t n, int64_t nt_all, float *y,
                 int64_t ldy, int64_t r0, int64_t r1) {
    const int64_t nb = n / 32;
    const int q81 = has_min32(type);
    const int astride = q81 ? (int)sizeof(block_q8_1) : (int)sizeof(block_q8_0);
    const size_t per_tok = ((size_t)nb * 12 + (size_t)(nb / 4) * 192 + 127) & ~(size_t)63;
    for (int64_t t0 = 0; t0 < nt_all; t0 += 4) {
        int nt = (int)(nt_all - t0 < 4 ? nt_all - t0 : 4);
        int ready;
        char *scr = ffl_kernel_prepared(FFL_PREP_TAG(FFL_PREP_32, type), xq, xrb, n, t0, nt, per_tok * 4, &ready);
        if (!scr) { /* no memory for the prepared activations: scalar path */
            for (int64_t r = r0; r < r1; r++)
                for (int t = 0; t < nt; t++)
                    y[(t0 + t) * ldy + r] = ffl_dot_scalar(type, n, (const char *)w + (size_t)r * wrb,
                                                           (const char *)xq + (size_t)(t0 + t) * xrb);
            continue;
        }
        tok32 tk[4];
        for (int t = 0; t < nt; t++) {
            uint8_t *quads = (uint8_t *)scr + per_tok * t;
            int32_t *icorr = (int32_t *)(quads + (size_t)(nb / 4) * 128);
            float *da = (float *)(icorr + (size_t)(nb / 4) * 16);
            float *corr = da + nb, *s = corr + nb;
            const char *xr = (const char *)xq + (size_t)(t0 + t) * xrb;
            if (!ready) ffl_avx512_prep32(q81, ffl_avx512_offset32(type), xr, nb, da, corr, s, quads, icorr);
            tk[t] = (tok32){(const int8_t *)(xr + (q81 ? 4 : 2)), quads, da, corr, icorr, s};
        }
        /* one row at a time: two rows per pass share the activation loads and run ~10 % faster from L2,
         * but generation was no faster (Zen 4, weights prefetched into L2; without that prefetch two
         * interleaved streams defeated the hardware prefetcher) */
        for (int64_t r = r0; r < r1; r++) {
            const uint8_t *wr = (const uint8_t *)w + (size_t)r * wrb;
            float out[4] = {0};
#define ROW32_CASE(T)                                                                                              \
    case T:                                                                                                        \
        switch (nt) {                                                                                              \
        case 1: row32(T, 1, wr, nb, tk, astride, out); break;                                                      \
        case 2: row32(T, 2, wr, nb, tk, astride, out); break;                                                      \
        case 3: row32(T, 3, wr, nb, tk, astride, out); break;                                                      \
        default: row32(T, 4, wr, nb, tk, astride, out); break;                                                     \
        }                                                                                                          \
        break;
            switch (type) {
                ROW32_CASE(FFL_TYPE_Q4_0)
                ROW32_CASE(FFL_TYPE_Q4_1)
                ROW32_CASE(FFL_TYPE_Q5_0)
                ROW32_CASE(FFL_TYPE_Q5_1)
                ROW32_CASE(FFL_TYPE_Q8_0)
                ROW32_CASE(FFL_TYPE_IQ4_NL)
            default: break;
            }
#undef ROW32_CASE
            for (int t = 0; t < nt; t++) y[(t0 + t) * ldy + r] = out[t];
        }
    }
}

/* Affine byte map (gf2p8affineqb matrix) taking bits 2g, 2g+1 to bits 4, 5: row 7 - i of the
 * matrix is the byte that selects output bit i. */
#define Q6_GROUP(g) ((long long)((1ull << (2 * (g))) << 24 | (1ull << (2 * (g) + 1)) << 16))

/* ================================================================ layouts repacked at load (quant/repack.h)
 *
 * One 64-byte load holds quant word v of 16 blocks (Q4_K: 32-element, Q6_K: 16-element sub-blocks),
 * one per 32-bit lane, so vpdpbusd sums the products of 16 blocks with no shuffles and one convert and
 * one FMA apply their 16 scales. From L2 (Zen 4, one thread, 2048 columns) Q4_0 runs 1.9 times, Q8_0
 * 2.2, Q4_K 1.57 and Q6_K 1.39 times as fast as the kernels above. A group of 8 blocks at the end of
 * a row takes the same steps on 256-bit vectors. The activations of a token are laid out per group
 * of G blocks the same way (word v of block j at 4 (G v + j), G x 32 bytes), then per block a
 * correction and the scale (float): 40 G bytes. The correction is -offset * sum(block) (int32); for
 * Q4_K it is the float da * sum(sub-block) its minimum multiplies. Q6_K has a section of its own below. */

/* 16 rows of 8 dwords -> 8 vectors of 16 dwords (vector k = dword k of every row), 64 bytes apart. */
AI void transpose_16x8(const __m256i r[16], uint8_t *dst, __m512i flip) {
    __m512i a[8], b[8], c[8];
    for (int t = 0; t < 8; t++) a[t] = _mm512_inserti64x4(_mm512_castsi256_si512(r[t]), r[t + 8], 1);
    for (int i = 0; i < 4; i++) {
        b[2 * i] = _mm512_unpacklo_epi32(a[2 * i], a[2 * i + 1]);
        b[2 * i + 1] = _mm512_unpackhi_epi32(a[2 * i], a[2 * i + 1]);
    }
    for (int h = 0; h < 2; h++) {
        c[4 * h + 0] = _mm512_unpacklo_epi64(b[4 * h + 0], b[4 * h + 2]);
        c[4 * h + 1] = _mm512_unpackhi_epi64(b[4 * h + 0], b[4 * h + 2]);
        c[4 * h + 2] = _mm512_unpacklo_epi64(b[4 * h + 1], b[4 * h + 3]);
        c[4 * h + 3] = _mm512_unpackhi_epi64(b[4 * h + 1], b[4 * h + 3]);
    }
    const __m512i lane0 = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13), lane1 = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    for (int j = 0; j < 4; j++) {
        _mm512_store_si512(dst + 64 * j, _mm512_xor_si512(_mm512_permutex2var_epi64(c[j], lane0, c[4 + j]), flip));
        _mm512_store_si512(dst + 64 * (4 + j), _mm512_xor_si512(_mm512_permutex2var_epi64(c[j], lane1, c[4 + j]), flip));
    }
}

#define X16_ACT_BYTES_PER_BLOCK 40

/* One token's Q8_0 or Q8_K activations (rtype's) in the layout above, for nb blocks of 32. */
static void prep_x16(int rtype, const void *xrow, int64_t nb, uint8_t *dst) {
    const int k4 = rtype == FFL_WTYPE_Q4_K_X16, offset = k4 ? 0 : ffl_avx512_offset32(ffl_x16_base(rtype));
    for (int64_t b = 0; b < nb;) {
        const int G = ffl_x16_group_blocks(b, nb);
        uint8_t *q = dst + b * X16_ACT_BYTES_PER_BLOCK;
        float *corr = (float *)(q + 32 * G), *da = corr + G;
        const int8_t *qs[16];
        for (int j = 0; j < G; j++) {
            const int64_t i = b + j;
            if (k4) {
                const block_q8_K *a = (const block_q8_K *)xrow + i / 8;
                qs[j] = a->qs + 32 * (i % 8);
                da[j] = a->d;
            } else {
                const block_q8_0 *a = (const block_q8_0 *)xrow + i;
                qs[j] = a->qs;
                da[j] = h2f(a->d);
            }
        }
        int32_t sums[16];
        if (G == 16) { /* transposed 16 x 8 words; block sums as the dot with ones */
            __m256i rows[16];
            for (int j = 0; j < 16; j++) rows[j] = _mm256_loadu_si256((const __m256i *)qs[j]);
            transpose_16x8(rows, q, _mm512_setzero_si512());
            __m512i sum = _mm512_setzero_si512();
            for (int v = 0; v < 8; v++) sum = _mm512_dpbusd_epi32(sum, _mm512_set1_epi8(1), _mm512_load_si512(q + 64 * v));
            _mm512_storeu_si512(sums, sum);
        } else {
            for (int j = 0; j < 8; j++) {
                sums[j] = 0;
                for (int v = 0; v < 8; v++) memcpy(q + 4 * (8 * v + j), qs[j] + 4 * v, 4);
                for (int k = 0; k < 32; k++) sums[j] += qs[j][k];
            }
        }
        for (int j = 0; j < G; j++) {
            if (k4) {
                corr[j] = da[j] * (float)sums[j];
            } else { /* the integer start value of the block's sum */
                const int32_t c = -offset * sums[j];
                memcpy(&corr[j], &c, 4);
            }
        }
        b += G;
    }
}

/* Integer sums of the 16 blocks of a group for one prepared token. Q4_0 / Q4_K: the high nibbles are
 * multiplied in place (byte & 0xF0 = 16 x nibble) and their sum shifted back once, which saves a
 * shift per load. Q8_0: the weights are made unsigned by flipping the sign bit (offset 128). */
AI __m512i x16_sums(int q8, __m512i s0, const __m512i *wq, const uint8_t *a) {
    __m512i s1 = _mm512_setzero_si512();
    if (q8) {
        for (int v = 0; v < 8; v += 2) {
            s0 = _mm512_dpbusd_epi32(s0, wq[v], _mm512_load_si512(a + 64 * v));
            s1 = _mm512_dpbusd_epi32(s1, wq[v + 1], _mm512_load_si512(a + 64 * v + 64));
        }
        return _mm512_add_epi32(s0, s1);
    }
    for (int v = 0; v < 4; v++) {
        s0 = _mm512_dpbusd_epi32(s0, wq[v], _mm512_load_si512(a + 64 * v));
        s1 = _mm512_dpbusd_epi32(s1, wq[v + 4], _mm512_load_si512(a + 256 + 64 * v));
    }
    return _mm512_add_epi32(s0, _mm512_srai_epi32(s1, 4));
}
AI __m256i x8_sums(int q8, __m256i s0, const __m256i *wq, const uint8_t *a) {
    __m256i s1 = _mm256_setzero_si256();
    if (q8) {
        for (int v = 0; v < 8; v += 2) {
            s0 = _mm256_dpbusd_epi32(s0, wq[v], _mm256_load_si256((const __m256i *)(a + 32 * v)));
            s1 = _mm256_dpbusd_epi32(s1, wq[v + 1], _mm256_load_si256((const __m256i *)(a + 32 * v + 32)));
        }
        return _mm256_add_epi32(s0, s1);
    }
    for (int v = 0; v < 4; v++) {
        s0 = _mm256_dpbusd_epi32(s0, wq[v], _mm256_load_si256((const __m256i *)(a + 32 * v)));
        s1 = _mm256_dpbusd_epi32(s1, wq[v + 4], _mm256_load_si256((const __m256i *)(a + 128 + 32 * v)));
    }
    return _mm256_add_epi32(s0, _mm256_srai_epi32(s1, 4));
}

/* Q4_K: per sub-block lane d * scale (f1) and dmin * minimum (f2) from a group's metadata words. The
 * words' top halves are d0, d1, dmin0, dmin1: all 16 halves of the metadata go through one convert
 * and a permute broadcasts the four, which from L2 ran 3 % faster (Zen 4, one thread) than
 * gathering them as halves first (vpermw, then two converts). */
#define K4_SIX_BITS 0x2A241E18120C0600ll /* vpmultishiftqb: bytes from bits 0, 6, ..., 42 of each word */
AI void k4x16_factors(const uint8_t *meta, __m512 *f1, __m512 *f2) {
    const __m256i m = _mm256_loadu_si256((const __m256i *)meta);
    const __m256i six = _mm256_and_si256(_mm256_multishift_epi64_epi8(_mm256_set1_epi64x(K4_SIX_BITS), m), _mm256_set1_epi8(63));
    const __m512 h = _mm512_cvtph_ps(m);
    const __m512i d = _mm512_setr_epi32(3, 3, 3, 3, 3, 3, 3, 3, 7, 7, 7, 7, 7, 7, 7, 7);
    const __m512i dmin = _mm512_setr_epi32(11, 11, 11, 11, 11, 11, 11, 11, 15, 15, 15, 15, 15, 15, 15, 15);
    *f1 = _mm512_mul_ps(_mm512_permutexvar_ps(d, h), _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_castsi256_si128(six))));
    *f2 = _mm512_mul_ps(_mm512_permutexvar_ps(dmin, h), _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_extracti128_si256(six, 1))));
}
AI void k4x8_factors(const uint8_t *meta, __m256 *f1, __m256 *f2) {
    const __m128i m = _mm_loadu_si128((const __m128i *)meta);
    const __m128i six = _mm_and_si128(_mm_multishift_epi64_epi8(_mm_set1_epi64x(K4_SIX_BITS), m), _mm_set1_epi8(63));
    const __m256 h = _mm256_cvtph_ps(m); /* d0 in lane 3, dmin0 in lane 7 */
    *f1 = _mm256_mul_ps(_mm256_permutexvar_ps(_mm256_set1_epi32(3), h), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(six)));
    *f2 = _mm256_mul_ps(_mm256_permutexvar_ps(_mm256_set1_epi32(7), h), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(six, 8))));
}

/* One weight row against nt prepared tokens (up to 4); wq[] holds the group's 8 unsigned weight
 * vectors (Q4_0, Q4_K: 4 of low nibbles, then 4 of high nibbles in place). No software prefetch: with
 * the line touches below it only slowed the stream (Zen 4, bench_kernels q4_K_x16: one thread 78 ->
 * 81 % of a read, two threads 91 -> 96 % when memory was slow and 74-78 -> 80-81 % when fast;
 * TinyLlama Q4_K_M tg64 in turns 0.924 -> 0.948 and 0.926 -> 0.940 of the probes, the same when fast).
 * Nor with the folded Q4_K loads below: 2 KiB ahead, 2048-column rows streamed 1.046x when memory was
 * fast, but TinyLlama Q4_K_M ran 0.913x (fast) and 0.974x (slow) in alternating blocks.
 * From memory, where generation runs, every weight line streams faster when it is read twice (Zen 4,
 * one thread, bench_kernels' paired column: share of a plain read's speed). Single-token Q4_0 and Q4_K
 * let GCC fold each weight load into both ANDs: Q4_0 77 -> 87 % (TinyLlama tg64 1.07-1.17x in turns,
 * although 49 instead of 62 GB/s per core from L2); Q4_K 82-85 -> 94-95 % with one thread and 91-94 ->
 * 98-100 % with two, TinyLlama Q4_K_M tg in alternating 8-token blocks 1.030x (memory slow) and 1.010x
 * (fast), against the one-byte line load it had before (which had taken it from 80 to 84 %). Q8_0 keeps
 * one 64-byte load per vector and adds a one-byte load of its line: 72 -> 95 % (tg64 1.12x). Extra
 * arithmetic instead did not do it (80 %); the byte load one group ahead was no better (96 %), four
 * groups ahead worse (79 %); Q6_K rows gain nothing from it, nor from folding their loads. */
AI void row_x16(int rtype, int nt, const uint8_t *w, int64_t nb, const uint8_t *const *pa, __m512 acc[4]) {
    const int q8 = rtype == FFL_WTYPE_Q8_0_X16, k4 = rtype == FFL_WTYPE_Q4_K_X16;
    const int bb = q8 ? (int)sizeof(block_q8_0) : 18, qb = q8 ? 32 : 16; /* bytes per 32 elements, of them quants */
    for (int t = 0; t < 4; t++) acc[t] = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 16 <= nb; b += 16) {
        const uint8_t *p = w + b * bb;
        __m512i wq[8];
        for (int v = 0; v < qb / 4; v++) {
            __m512i q = _mm512_loadu_si512(p + 64 * v);
            if (q8 || nt > 1) {
                __asm__("" : "+v"(q)); /* one load: GCC would fold it into both ANDs */
                touch_line(p + 64 * v);
            }
            if (q8) {
                wq[v] = _mm512_xor_si512(q, _mm512_set1_epi8((char)0x80));
            } else {
                wq[v] = _mm512_and_si512(q, _mm512_set1_epi8(0x0F));
                wq[v + 4] = _mm512_and_si512(q, _mm512_set1_epi8((char)0xF0));
            }
        }
        __m512 f1, f2 = _mm512_setzero_ps();
        if (k4) k4x16_factors(p + 16 * qb, &f1, &f2);
        else f1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + 16 * qb)));
        for (int t = 0; t < nt; t++) {
            const uint8_t *a = pa[t] + b * X16_ACT_BYTES_PER_BLOCK;
            const __m512i s = x16_sums(q8, k4 ? _mm512_setzero_si512() : _mm512_load_si512(a + 512), wq, a);
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(f1, _mm512_load_ps((const float *)(a + 576))), acc[t]);
            if (k4) acc[t] = _mm512_fnmadd_ps(f2, _mm512_load_ps((const float *)(a + 512)), acc[t]);
        }
    }
    if (b < nb) { /* the last 8 blocks */
        const uint8_t *p = w + b * bb;
        __m256i wq[8];
        for (int v = 0; v < qb / 4; v++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(p + 32 * v));
            if (q8) {
                wq[v] = _mm256_xor_si256(q, _mm256_set1_epi8((char)0x80));
            } else {
                wq[v] = _mm256_and_si256(q, _mm256_set1_epi8(0x0F));
                wq[v + 4] = _mm256_and_si256(q, _mm256_set1_epi8((char)0xF0));
            }
        }
        __m256 f1, f2 = _mm256_setzero_ps();
        if (k4) k4x8_factors(p + 8 * qb, &f1, &f2);
        else f1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 8 * qb)));
        for (int t = 0; t < nt; t++) {
            const uint8_t *a = pa[t] + b * X16_ACT_BYTES_PER_BLOCK;
            const __m256i s = x8_sums(q8, k4 ? _mm256_setzero_si256() : _mm256_load_si256((const __m256i *)(a + 256)), wq, a);
            __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(f1, _mm256_load_ps((const float *)(a + 288))));
            if (k4) f = _mm256_fnmadd_ps(f2, _mm256_load_ps((const float *)(a + 256)), f);
            acc[t] = _mm512_add_ps(acc[t], _mm512_zextps256_ps512(f));
        }
    }
}

/* ---- Q6_K interleaved (one lane per 16-element sub-block, a super-block per group). Activations per
 * super-block: word v of lane s = elements 16 s + 4 v .. + 3 (256 bytes), then -32 * sum(sub-block)
 * (int32) and da (float) per lane: 384 bytes. */
#define K6_ACT_BYTES 384

/* 16 rows of 4 words (z[k] = rows 4k .. 4k + 3) -> 4 vectors of 16 words (out[v] = word v of every row). */
AI void transpose_16x4(const __m512i z[4], __m512i out[4]) {
    static const int32_t pick[4][16] = {{0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28},
                                        {1, 5, 9, 13, 17, 21, 25, 29, 1, 5, 9, 13, 17, 21, 25, 29},
                                        {2, 6, 10, 14, 18, 22, 26, 30, 2, 6, 10, 14, 18, 22, 26, 30},
                                        {3, 7, 11, 15, 19, 23, 27, 31, 3, 7, 11, 15, 19, 23, 27, 31}};
    for (int v = 0; v < 4; v++) {
        const __m512i idx = _mm512_loadu_si512(pick[v]);
        /* lanes 0-7 from rows 0-7 (z0, z1), lanes 8-15 from rows 8-15 (z2, z3) */
        out[v] = _mm512_shuffle_i64x2(_mm512_permutex2var_epi32(z[0], idx, z[1]), _mm512_permutex2var_epi32(z[2], idx, z[3]), 0x44);
    }
}

static void prep_k6x16(const block_q8_K *x, int64_t nsb, uint8_t *dst) {
    for (int64_t b = 0; b < nsb; b++) {
        uint8_t *o = dst + b * K6_ACT_BYTES;
        const __m512i z[4] = {_mm512_loadu_si512(x[b].qs), _mm512_loadu_si512(x[b].qs + 64), _mm512_loadu_si512(x[b].qs + 128),
                              _mm512_loadu_si512(x[b].qs + 192)};
        __m512i t[4];
        transpose_16x4(z, t);
        for (int v = 0; v < 4; v++) _mm512_store_si512(o + 64 * v, t[v]);
        const __m512i bs = _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)x[b].bsums));
        _mm512_store_si512(o + 256, _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(bs, 5)));
        _mm512_store_ps(o + 320, _mm512_set1_ps(x[b].d));
    }
}

/* The four weight vectors of a Q6_K super-block, unsigned 6-bit values: vector v lane s = elements
 * 4 v .. 4 v + 3 of sub-block s. */
AI void k6x16_weights(const uint8_t *p, __m512i w[4]) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m512i q0 = _mm512_loadu_si512(p), q1 = _mm512_loadu_si512(p + 64), h = _mm512_loadu_si512(p + 128);
    __asm__("" : "+v"(q0), "+v"(q1), "+v"(h)); /* one load each */
    /* (nibbles & 0x0F) | high bits placed at 4-5 */
    w[0] = _mm512_ternarylogic_epi32(q0, _mm512_gf2p8affine_epi64_epi8(h, _mm512_set1_epi64(Q6_GROUP(0)), 0), m4, 0xEC);
    w[1] = _mm512_ternarylogic_epi32(q1, _mm512_gf2p8affine_epi64_epi8(h, _mm512_set1_epi64(Q6_GROUP(1)), 0), m4, 0xEC);
    w[2] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(q0, 4), _mm512_gf2p8affine_epi64_epi8(h, _mm512_set1_epi64(Q6_GROUP(2)), 0),
                                     m4, 0xEC);
    w[3] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(q1, 4), _mm512_gf2p8affine_epi64_epi8(h, _mm512_set1_epi64(Q6_GROUP(3)), 0),
                                     m4, 0xEC);
}

/* d * scale of each sub-block */
AI __m512 k6x16_scales(const uint8_t *p) {
    return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p + 192)))),
                         _mm512_set1_ps(h2f(ffl_ld16(p + 208))));
}

/* No software prefetch: TinyLlama Q4_K_M tg32 was the same with it (16 rounds in turns, Zen 4). */
AI void row_k6x16(int nt, const uint8_t *w, int64_t nsb, const uint8_t *const *pa, __m512 acc[4]) {
    for (int t = 0; t < 4; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nsb; b++) {
        const uint8_t *p = w + b * sizeof(block_q6_K);
        __m512i wv[4];
        k6x16_weights(p, wv);
        const __m512 f = k6x16_scales(p);
        for (int t = 0; t < nt; t++) {
            const uint8_t *a = pa[t] + b * K6_ACT_BYTES;
            __m512i s0 = _mm512_load_si512(a + 256), s1 = _mm512_setzero_si512();
            s0 = _mm512_dpbusd_epi32(s0, wv[0], _mm512_load_si512(a));
            s1 = _mm512_dpbusd_epi32(s1, wv[1], _mm512_load_si512(a + 64));
            s0 = _mm512_dpbusd_epi32(s0, wv[2], _mm512_load_si512(a + 128));
            s1 = _mm512_dpbusd_epi32(s1, wv[3], _mm512_load_si512(a + 192));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), _mm512_mul_ps(f, _mm512_load_ps(a + 320)), acc[t]);
        }
    }
}

/* One row of n columns in any of the four layouts: per token a vector whose lanes sum to the result. */
AI void row_layout(int rtype, int nt, const uint8_t *wr, int64_t n, const uint8_t *const *pa, __m512 acc[4]) {
    if (rtype == FFL_WTYPE_Q6_K_X16) row_k6x16(nt, wr, n / QK_K, pa, acc);
    else row_x16(rtype, nt, wr, n / 32, pa, acc);
}

/* Lane i of the result: the sum of the lanes of v[REDUCE16_SLOT[i]] (the order the four halving steps
 * leave the vectors in; the table is its own inverse). 45 instructions for 16 vectors, hsum512 8 each. */
static const uint8_t REDUCE16_SLOT[16] = {0, 2, 1, 3, 8, 10, 9, 11, 4, 6, 5, 7, 12, 14, 13, 15};
AI __m512 reduce16(const __m512 v[16]) {
    __m512 w[8], y[4], z[2];
    for (int k = 0; k < 8; k++) /* 256-bit halves: vector k's partial sums low, vector k + 8's high */
        w[k] = _mm512_add_ps(_mm512_shuffle_f32x4(v[k], v[k + 8], 0x44), _mm512_shuffle_f32x4(v[k], v[k + 8], 0xEE));
    for (int k = 0; k < 4; k++) /* 128-bit quarters */
        y[k] = _mm512_add_ps(_mm512_shuffle_f32x4(w[k], w[k + 4], 0x88), _mm512_shuffle_f32x4(w[k], w[k + 4], 0xDD));
    for (int k = 0; k < 2; k++) /* pairs of lanes */
        z[k] = _mm512_add_ps(_mm512_shuffle_ps(y[k], y[k + 2], 0x44), _mm512_shuffle_ps(y[k], y[k + 2], 0xEE));
    return _mm512_add_ps(_mm512_shuffle_ps(z[0], z[1], 0x88), _mm512_shuffle_ps(z[0], z[1], 0xDD));
}

AI void direct_x16(int rtype, const void *w, size_t wrb, const void *xq, size_t xrb, int64_t n, int64_t nt_all, float *y,
                   int64_t ldy, int64_t r0, int64_t r1) {
    const int k6 = rtype == FFL_WTYPE_Q6_K_X16;
    const int64_t nb = n / 32;
    const size_t per_tok = k6 ? (size_t)(n / QK_K) * K6_ACT_BYTES : ((size_t)nb * X16_ACT_BYTES_PER_BLOCK + 63) & ~(size_t)63;
    for (int64_t t0 = 0; t0 < nt_all; t0 += 4) {
        const int nt = (int)(nt_all - t0 < 4 ? nt_all - t0 : 4);
        int ready;
        uint8_t *scr = ffl_kernel_prepared(FFL_PREP_TAG(FFL_PREP_X16, rtype), xq, xrb, n, t0, nt, per_tok * 4, &ready);
        if (!scr) { /* no memory for the prepared activations: scalar path */
            for (int64_t r = r0; r < r1; r++)
                for (int t = 0; t < nt; t++)
                    y[(t0 + t) * ldy + r] =
                        ffl_dot_scalar(rtype, n, (const char *)w + (size_t)r * wrb, (const char *)xq + (size_t)(t0 + t) * xrb);
            continue;
        }
        const uint8_t *pa[4];
        for (int t = 0; t < nt; t++) {
            const void *xr = (const char *)xq + (size_t)(t0 + t) * xrb;
            if (!ready && k6) prep_k6x16(xr, n / QK_K, scr + per_tok * t);
            else if (!ready) prep_x16(rtype, xr, nb, scr + per_tok * t);
            pa[t] = scr + per_tok * t;
        }
        /* A single token's prepared activations, when small, get a second copy that every other row reads.
         * Rows whose activations were re-read a row later from the same lines streamed from memory far slower
         * when the rows were short (Zen 4, bench_kernels, 2048 columns, one thread: q4_K_x16 74-77 -> 89-92 %
         * of a read, q6_K_x16 87 -> 92-93 %, q4_0_x16 87-91 -> 93-96 %; two threads when the host's memory was
         * fast, q4_K_x16 0.75 -> 0.92 of the read, 1.21x pass by pass; TinyLlama Q4_K_M tg in alternating
         * 8-token blocks 1.038x over 180 s). The copy lies right after the first (4 KiB away it gained
         * nothing in a scratch microbenchmark); a third copy gained nothing more, and two copies of 5632 columns
         * (14 KB) streamed slower (q4_K_x16 92-95 -> 88 %), hence the size limit. */
        const uint8_t *row_act[2][1] = {{scr}, {scr}}; /* scr: the first token's, pa[0] */
        if (nt == 1 && 2 * per_tok <= 8192) {
            if (!ready) memcpy(scr + per_tok, scr, per_tok);
            row_act[1][0] = scr + per_tok;
        }
        int64_t r = r0;
        /* Single tokens: the vectors of 16 rows summed across lanes together instead of one by one, which
         * takes ~5 instructions a row off the stream (Zen 4, TinyLlama Q4_K_M tg64, 2 threads, builds in
         * turns: 0.76 -> 0.82 of the read bandwidth when the host's memory is fast, 51.3 -> 52.3 t/s when
         * slow; one thread q4_K_x16 87 -> 88 % of a read). Q6_K rows keep their own sums: with the shared
         * ones they streamed 1 % slower (91-93 -> 90-91 %) and the model was no faster. */
        if (nt == 1 && !k6)
            for (; r + 16 <= r1; r += 16) {
                __m512 v[16];
                for (int i = 0; i < 16; i++) {
                    __m512 acc[4];
                    row_layout(rtype, 1, (const uint8_t *)w + (size_t)(r + i) * wrb, n, row_act[(r + i) & 1], acc);
                    v[REDUCE16_SLOT[i]] = acc[0];
                }
                _mm512_storeu_ps(y + t0 * ldy + r, reduce16(v));
            }
        for (; r < r1; r++) {
            const uint8_t *wr = (const uint8_t *)w + (size_t)r * wrb;
            __m512 acc[4];
            switch (nt) {
            case 1: row_layout(rtype, 1, wr, n, row_act[r & 1], acc); break;
            case 2: row_layout(rtype, 2, wr, n, pa, acc); break;
            case 3: row_layout(rtype, 3, wr, n, pa, acc); break;
            default: row_layout(rtype, 4, wr, n, pa, acc); break;
            }
            for (int t = 0; t < nt; t++) y[(t0 + t) * ldy + r] = hsum512(acc[t]);
        }
    }
}

/* ================================================================ K-quants (Q8_K activations) */

/* Index vectors for vpermw: replicate word j of a 16-word scale vector into the lanes of its
 * sub-block. For 16-element sub-blocks a 64-byte weight vector k covers sub-blocks 4k..4k+3 (8 words
 * of pair sums each); for 32-element sub-blocks it covers 2k, 2k+1 (16 words each). */
AI __m512i scale_idx16(int k) {
    static const uint16_t quarter[32] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                         2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};
    return _mm512_add_epi16(_mm512_loadu_si512(quarter), _mm512_set1_epi16((short)(4 * k)));
}
AI __m512i scale_idx32(int k) {
    __m512i a = _mm512_set1_epi16((short)(2 * k)), b = _mm512_set1_epi16((short)(2 * k + 1));
    return _mm512_mask_blend_epi16(0xFFFF0000u, a, b);
}

/* Q4_K / Q5_K 6-bit scales and mins of the 8 sub-blocks, one byte each. */
AI void k4_scales(const uint8_t *q, uint64_t *sc, uint64_t *mn) {
    uint32_t w0 = ffl_ld32(q), w1 = ffl_ld32(q + 4), w2 = ffl_ld32(q + 8);
    uint32_t sc_hi = (w2 & 0x0f0f0f0fu) | (((w0 >> 6) & 0x03030303u) << 4);
    uint32_t mn_hi = ((w2 >> 4) & 0x0f0f0f0fu) | (((w1 >> 6) & 0x03030303u) << 4);
    *sc = (w0 & 0x3f3f3f3fu) | ((uint64_t)sc_hi << 32);
    *mn = (w1 & 0x3f3f3f3fu) | ((uint64_t)mn_hi << 32);
}

/* Q3_K: 16 signed scales (6-bit minus 32). */
AI __m128i q3_scales(const uint8_t *p) {
    uint32_t a0 = ffl_ld32(p), a1 = ffl_ld32(p + 4), tmp = ffl_ld32(p + 8);
    uint32_t s0 = (a0 & 0x0f0f0f0fu) | (((tmp >> 0) & 0x03030303u) << 4);
    uint32_t s1 = (a1 & 0x0f0f0f0fu) | (((tmp >> 2) & 0x03030303u) << 4);
    uint32_t s2 = ((a0 >> 4) & 0x0f0f0f0fu) | (((tmp >> 4) & 0x03030303u) << 4);
    uint32_t s3 = ((a1 >> 4) & 0x0f0f0f0fu) | (((tmp >> 6) & 0x03030303u) << 4);
    return _mm_sub_epi8(_mm_setr_epi32((int)s0, (int)s1, (int)s2, (int)s3), _mm_set1_epi8(32));
}

/* One super-block of weights decoded: 4 x 64 unsigned bytes in natural order, the int16 scale vector
 * for each (pair-sum lanes), the integer correction per token computed from bsums, and the float
 * factors. Filled by decode_k(); consumed per token by dot_k(). */
typedef struct {
    __m512i w[4];
    __m512i sc[4];  /* int16 scales (int32 for IQ4_XS) */
    __m256i bsc;    /* 16 int16 multipliers of bsums for the offset/min term */
    float d, dmin;  /* super-block scale; dmin: factor of the bsum term kept in float (Q2_K/Q4_K/Q5_K) */
} kblock;

AI __m512i lo_hi_nibbles(__m256i q) {
    __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 4), 1);
    return _mm512_and_si512(z, _mm512_set1_epi8(0x0F));
}

AI void decode_k(int type, const uint8_t *p, kblock *kb) {
    switch (type) {
    case FFL_TYPE_Q4_K:
    case FFL_TYPE_Q5_K: {
        const block_q4_K *x4 = (const block_q4_K *)p;
        const block_q5_K *x5 = (const block_q5_K *)p;
        const uint8_t *qs = type == FFL_TYPE_Q4_K ? x4->qs : x5->qs;
        uint64_t sc, mn;
        k4_scales(type == FFL_TYPE_Q4_K ? x4->scales : x5->scales, &sc, &mn);
        for (int c = 0; c < 4; c++) kb->w[c] = lo_hi_nibbles(_mm256_loadu_si256((const __m256i *)(qs + 32 * c)));
        if (type == FFL_TYPE_Q5_K) {
            __m256i qh = _mm256_loadu_si256((const __m256i *)x5->qh);
            __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(qh), _mm256_srli_epi16(qh, 1), 1);
            const __m512i b4 = _mm512_set1_epi8(0x10);
            kb->w[0] = _mm512_or_si512(kb->w[0], _mm512_and_si512(_mm512_slli_epi16(z, 4), b4));
            kb->w[1] = _mm512_or_si512(kb->w[1], _mm512_and_si512(_mm512_slli_epi16(z, 2), b4));
            kb->w[2] = _mm512_or_si512(kb->w[2], _mm512_and_si512(z, b4));
            kb->w[3] = _mm512_or_si512(kb->w[3], _mm512_and_si512(_mm512_srli_epi16(z, 2), b4));
        }
        __m512i s16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)sc)));
        for (int c = 0; c < 4; c++) kb->sc[c] = _mm512_permutexvar_epi16(scale_idx32(c), s16);
        /* mins apply to pairs of bsums: m0 m0 m1 m1 ... */
        __m128i m8 = _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)mn));
        kb->bsc = _mm256_set_m128i(_mm_unpackhi_epi16(m8, m8), _mm_unpacklo_epi16(m8, m8));
        kb->d = h2f(type == FFL_TYPE_Q4_K ? x4->d : x5->d);
        kb->dmin = h2f(type == FFL_TYPE_Q4_K ? x4->dmin : x5->dmin);
    } break;
    case FFL_TYPE_Q6_K: {
        const block_q6_K *x = (const block_q6_K *)p;
        /* the 2-bit high parts: GF(2) affine byte maps move bits (2g, 2g+1) of qh to bits 4, 5 and clear
         * the rest, group g per 256-bit half (one instruction instead of an insert, shift and mask;
         * ~6 % faster from L2 on Zen 4) */
        const __m512i m4 = _mm512_set1_epi8(0x0F);
        const __m512i lo_groups = _mm512_setr_epi64(Q6_GROUP(0), Q6_GROUP(0), Q6_GROUP(0), Q6_GROUP(0), Q6_GROUP(1),
                                                    Q6_GROUP(1), Q6_GROUP(1), Q6_GROUP(1));
        const __m512i hi_groups = _mm512_setr_epi64(Q6_GROUP(2), Q6_GROUP(2), Q6_GROUP(2), Q6_GROUP(2), Q6_GROUP(3),
                                                    Q6_GROUP(3), Q6_GROUP(3), Q6_GROUP(3));
        for (int h = 0; h < 2; h++) {
            const __m512i l = _mm512_loadu_si512(x->ql + 64 * h);
            const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x->qh + 32 * h)));
            kb->w[2 * h] = _mm512_or_si512(_mm512_and_si512(l, m4), _mm512_gf2p8affine_epi64_epi8(qh, lo_groups, 0));
            kb->w[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4),
                                               _mm512_gf2p8affine_epi64_epi8(qh, hi_groups, 0));
        }
        __m256i s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->scales));
        __m512i s = _mm512_castsi256_si512(s16);
        for (int k = 0; k < 4; k++) kb->sc[k] = _mm512_permutexvar_epi16(scale_idx16(k), s);
        kb->bsc = _mm256_slli_epi16(s16, 5); /* offset 32 */
        kb->d = h2f(x->d);
        kb->dmin = 0;
    } break;
    case FFL_TYPE_Q2_K: {
        const block_q2_K *x = (const block_q2_K *)p;
        for (int h = 0; h < 2; h++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * h));
            __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 2), 1);
            const __m512i m3 = _mm512_set1_epi8(3);
            kb->w[2 * h] = _mm512_and_si512(z, m3);
            kb->w[2 * h + 1] = _mm512_and_si512(_mm512_srli_epi16(z, 4), m3);
        }
        __m128i sb = _mm_loadu_si128((const __m128i *)x->scales);
        __m512i s = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(_mm_and_si128(sb, _mm_set1_epi8(0x0F))));
        for (int k = 0; k < 4; k++) kb->sc[k] = _mm512_permutexvar_epi16(scale_idx16(k), s);
        kb->bsc = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sb, 4), _mm_set1_epi8(0x0F)));
        kb->d = h2f(x->d);
        kb->dmin = h2f(x->dmin);
    } break;
    case FFL_TYPE_Q3_K: {
        const block_q3_K *x = (const block_q3_K *)p;
        __m256i hm = _mm256_loadu_si256((const __m256i *)x->hmask);
        __m512i zh = _mm512_inserti64x4(_mm512_castsi256_si512(hm), _mm256_srli_epi16(hm, 1), 1);
        for (int h = 0; h < 2; h++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * h));
            __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 2), 1);
            const __m512i m3 = _mm512_set1_epi8(3), b2 = _mm512_set1_epi8(4);
            __m512i zhh = h ? _mm512_srli_epi16(zh, 4) : zh;
            kb->w[2 * h] = _mm512_or_si512(_mm512_and_si512(z, m3), _mm512_and_si512(_mm512_slli_epi16(zhh, 2), b2));
            kb->w[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(z, 4), m3), _mm512_and_si512(zhh, b2));
        }
        __m256i s16 = _mm256_cvtepi8_epi16(q3_scales(x->scales));
        __m512i s = _mm512_castsi256_si512(s16);
        for (int k = 0; k < 4; k++) kb->sc[k] = _mm512_permutexvar_epi16(scale_idx16(k), s);
        kb->bsc = _mm256_slli_epi16(s16, 2); /* offset 4 */
        kb->d = h2f(x->d);
        kb->dmin = 0;
    } break;
    case FFL_TYPE_IQ4_XS: {
        const block_iq4_xs *x = (const block_iq4_xs *)p;
        const __m512i lut = _mm512_broadcast_i32x4(_mm_setr_epi8(1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141,
                                                                 (char)153, (char)166, (char)181, (char)197, (char)217,
                                                                 (char)241));
        for (int k = 0; k < 4; k++) {
            /* sub-blocks 2k, 2k+1: 16 bytes each, low nibbles first */
            __m512i z = lo_hi_nibbles(_mm256_loadu_si256((const __m256i *)(x->qs + 32 * k)));
            z = _mm512_shuffle_i64x2(z, z, 0xD8); /* lanes lo0 hi0 lo1 hi1 */
            kb->w[k] = _mm512_shuffle_epi8(lut, z);
        }
        int32_t ls[8];
        int16_t ls16[16];
        for (int ib = 0; ib < 8; ib++) {
            ls[ib] = ffl_iq4xs_scale(x, ib);
            ls16[2 * ib] = ls16[2 * ib + 1] = (int16_t)(ls[ib] * 128);
        }
        __m512i s32 = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)ls));
        for (int k = 0; k < 4; k++) {
            __m512i idx = _mm512_mask_blend_epi32(0xFF00, _mm512_set1_epi32(2 * k), _mm512_set1_epi32(2 * k + 1));
            kb->sc[k] = _mm512_permutexvar_epi32(idx, s32);
        }
        kb->bsc = _mm256_loadu_si256((const __m256i *)ls16);
        kb->d = h2f(x->d);
        kb->dmin = 0;
    } break;
    default: break;
    }
}

/* Integer dot of a decoded super-block with one Q8_K block; returns the per-lane int32 sums
 * (scaled by the sub-block scales, minus the offset term) and, for types with mins, the min term. */
AI __m512i dot_k(int type, const kblock *kb, const block_q8_K *a, __m256i *mins) {
    /* two independent chains: the 4 accumulations would otherwise wait on each other */
    __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
    if (type == FFL_TYPE_IQ4_XS) {
#pragma GCC unroll 2
        for (int k = 0; k < 4; k += 2) {
            __m512i s0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), kb->w[k], _mm512_loadu_si512(a->qs + 64 * k));
            __m512i s1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), kb->w[k + 1], _mm512_loadu_si512(a->qs + 64 * k + 64));
            acc0 = _mm512_add_epi32(acc0, _mm512_mullo_epi32(s0, kb->sc[k]));
            acc1 = _mm512_add_epi32(acc1, _mm512_mullo_epi32(s1, kb->sc[k + 1]));
        }
    } else {
#pragma GCC unroll 2
        for (int k = 0; k < 4; k += 2) {
            acc0 = _mm512_dpwssd_epi32(acc0, _mm512_maddubs_epi16(kb->w[k], _mm512_loadu_si512(a->qs + 64 * k)), kb->sc[k]);
            acc1 = _mm512_dpwssd_epi32(acc1, _mm512_maddubs_epi16(kb->w[k + 1], _mm512_loadu_si512(a->qs + 64 * k + 64)),
                                       kb->sc[k + 1]);
        }
    }
    __m512i acc = _mm512_add_epi32(acc0, acc1);
    __m256i bs = _mm256_loadu_si256((const __m256i *)a->bsums);
    __m256i t = _mm256_madd_epi16(kb->bsc, bs);
    if (type == FFL_TYPE_Q2_K || type == FFL_TYPE_Q4_K || type == FFL_TYPE_Q5_K) {
        *mins = t;
    } else {
        acc = _mm512_sub_epi32(acc, _mm512_zextsi256_si512(t));
    }
    return acc;
}

AI int has_kmin(int type) { return type == FFL_TYPE_Q2_K || type == FFL_TYPE_Q4_K || type == FFL_TYPE_Q5_K; }
AI void row_k(int type, int nt, const uint8_t *w, int64_t nb, const block_q8_K *const *x, float *out) {
    const int ws = ffl_block_bytes_k(type);
    __m512 acc[4];
    __m256 macc[4];
    for (int t = 0; t < 4; t++) acc[t] = _mm512_setzero_ps(), macc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        kblock kb;
        prefetch_l2(w + b * ws + MV_PREFETCH_L2, ws);
        decode_k(type, w + b * ws, &kb);
        for (int t = 0; t < nt; t++) {
            __m256i mins = _mm256_setzero_si256();
            __m512i s = dot_k(type, &kb, x[t] + b, &mins);
            const float da = x[t][b].d;
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_set1_ps(kb.d * da), acc[t]);
            if (has_kmin(type)) macc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mins), _mm256_set1_ps(kb.dmin * da), macc[t]);
        }
    }
    for (int t = 0; t < nt; t++) out[t] = hsum512(acc[t]) - hsum256(macc[t]);
}

/* ---- Q4_K / Q5_K / IQ4_XS against prepared activations.
 * Loading 64 bytes of nibbles at once splits them into two 256-bit halves that are not adjacent
 * sub-blocks (Q4_K: lanes hold sub-blocks 0|2 and 1|3); the activations are permuted once per call
 * to that order instead of shuffling every weight block. Per super-block the prepared row holds the
 * 256 permuted bytes, the 8 sums of 32 activations (for the minimums / the IQ4_XS offset) and d. */

#define K4_PREP_BYTES 320

AI void prep_k4(int type, const block_q8_K *x, int64_t nb, uint8_t *dst) {
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *o = dst + b * K4_PREP_BYTES;
        const int8_t *q = x[b].qs;
        if (type == FFL_TYPE_IQ4_XS) {
            /* per 64 bytes: the first 16 of each of 4 sub-blocks, then the last 16 of each */
            for (int k = 0; k < 2; k++)
                for (int j = 0; j < 4; j++) {
                    memcpy(o + 128 * k + 16 * j, q + 128 * k + 32 * j, 16);
                    memcpy(o + 128 * k + 64 + 16 * j, q + 128 * k + 32 * j + 16, 16);
                }
        } else {
            /* sub-blocks in the order 0 2 1 3 4 6 5 7 */
            static const int order[8] = {0, 2, 1, 3, 4, 6, 5, 7};
            for (int j = 0; j < 8; j++) memcpy(o + 32 * j, q + 32 * order[j], 32);
        }
        int16_t bs[8];
        for (int j = 0; j < 8; j++) bs[j] = (int16_t)(x[b].bsums[2 * j] + x[b].bsums[2 * j + 1]);
        memcpy(o + 256, bs, 16);
        memcpy(o + 272, &x[b].d, 4);
    }
}

/* One super-block of one row against nt prepared tokens, added to acc / macc. Rows are streamed one
 * at a time: interleaving two rows is ~10% faster from cache but 2-3x slower from memory (the
 * hardware prefetcher loses the streams). */
AI void k4_superblock(int type, int nt, const uint8_t *w, int64_t b, const uint8_t *const *px, __m512 *acc, __m128 *macc) {
    const int ws = ffl_block_bytes_k(type);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const uint8_t *p = w + b * ws;
    prefetch_l2(p + MV_PREFETCH_L2, ws);
    __m512i wv[4], sc[4];
    __m128i mn16, corr16 = _mm_setzero_si128();
    float d, dmin = 0;
    if (type == FFL_TYPE_IQ4_XS) {
        const block_iq4_xs *x = (const block_iq4_xs *)p;
        const __m512i lut = _mm512_broadcast_i32x4(_mm_setr_epi8(1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141,
                                                                 (char)153, (char)166, (char)181, (char)197, (char)217,
                                                                 (char)241));
        for (int k = 0; k < 2; k++) {
            __m512i q = _mm512_loadu_si512(x->qs + 64 * k);
            wv[2 * k] = _mm512_shuffle_epi8(lut, _mm512_and_si512(q, m4));
            wv[2 * k + 1] = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(q, 4), m4));
        }
        /* scales: 4 bits from scales_l, 2 from scales_h, minus 32; int32 lanes, 4 per sub-block */
        /* bit fields to bytes with vpmultishiftqb: nibble j of scales_l (bits 4j..) and the 2 bits
         * 2j.. of scales_h (placed at bit 32 of the same word) */
        const __m128i bits = _mm_cvtsi64_si128((long long)((uint64_t)ffl_ld32(x->scales_l) | (uint64_t)x->scales_h << 32));
        const __m128i lo = _mm_and_si128(_mm_multishift_epi64_epi8(_mm_set1_epi64x(0x1c1814100c080400ll), bits), _mm_set1_epi8(0x0F));
        const __m128i hi = _mm_and_si128(_mm_multishift_epi64_epi8(_mm_set1_epi64x(0x2e2c2a2826242220ll), bits), _mm_set1_epi8(0x03));
        const __m128i ls8 = _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi16(hi, 4)), _mm_set1_epi8(32));
        const __m512i l8 = _mm512_castsi256_si512(_mm256_cvtepi8_epi32(ls8));
        const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
        sc[0] = _mm512_permutexvar_epi32(spread, l8);
        sc[1] = _mm512_permutexvar_epi32(_mm512_add_epi32(spread, _mm512_set1_epi32(4)), l8);
        /* offset 128 of the lookup values: 128 * ls_j per pair sum */
        corr16 = _mm_slli_epi16(_mm_cvtepi8_epi16(ls8), 7);
        mn16 = _mm_setzero_si128();
        d = h2f(x->d);
    } else {
        const uint8_t *qs = p + (type == FFL_TYPE_Q4_K ? 16 : 48), *scales = p + 4;
        uint64_t s8, m8;
        k4_scales(scales, &s8, &m8);
        for (int k = 0; k < 2; k++) {
            __m512i q = _mm512_loadu_si512(qs + 64 * k);
            wv[2 * k] = _mm512_and_si512(q, m4);
            wv[2 * k + 1] = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
        }
        if (type == FFL_TYPE_Q5_K) {
            __m256i qh = _mm256_loadu_si256((const __m256i *)((const block_q5_K *)p)->qh);
            __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(qh), _mm256_srli_epi16(qh, 2), 1);
            const __m512i b4 = _mm512_set1_epi8(0x10);
            wv[0] = _mm512_or_si512(wv[0], _mm512_and_si512(_mm512_slli_epi16(z, 4), b4)); /* bits 0 | 2 */
            wv[1] = _mm512_or_si512(wv[1], _mm512_and_si512(_mm512_slli_epi16(z, 3), b4)); /* bits 1 | 3 */
            wv[2] = _mm512_or_si512(wv[2], _mm512_and_si512(z, b4));                       /* bits 4 | 6 */
            wv[3] = _mm512_or_si512(wv[3], _mm512_and_si512(_mm512_srli_epi16(z, 1), b4)); /* bits 5 | 7 */
        }
        /* int16 scale words: vector v covers sub-blocks (0,2) (1,3) (4,6) (5,7) */
        const __m512i s16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)s8)));
        static const uint16_t pick[4][32] = {
            {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2},
            {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3},
            {4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6},
            {5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7}};
        for (int k = 0; k < 4; k++) sc[k] = _mm512_permutexvar_epi16(_mm512_loadu_si512(pick[k]), s16);
        mn16 = _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)m8));
        d = h2f(ffl_ld16(p));
        dmin = h2f(ffl_ld16(p + 2));
    }
    for (int t = 0; t < nt; t++) {
        const uint8_t *a = px[t] + b * K4_PREP_BYTES;
        const __m128i bs = _mm_loadu_si128((const __m128i *)(a + 256));
        float da;
        memcpy(&da, a + 272, 4);
        __m512i s0, s1;
        if (type == FFL_TYPE_IQ4_XS) {
            s0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wv[0], _mm512_load_si512(a));
            s1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wv[2], _mm512_load_si512(a + 128));
            s0 = _mm512_dpbusd_epi32(s0, wv[1], _mm512_load_si512(a + 64));
            s1 = _mm512_dpbusd_epi32(s1, wv[3], _mm512_load_si512(a + 192));
            s0 = _mm512_add_epi32(_mm512_mullo_epi32(s0, sc[0]), _mm512_mullo_epi32(s1, sc[1]));
            s0 = _mm512_sub_epi32(s0, _mm512_zextsi128_si512(_mm_madd_epi16(corr16, bs)));
        } else {
            s0 = _mm512_dpwssd_epi32(_mm512_setzero_si512(), _mm512_maddubs_epi16(wv[0], _mm512_load_si512(a)), sc[0]);
            s1 = _mm512_dpwssd_epi32(_mm512_setzero_si512(), _mm512_maddubs_epi16(wv[1], _mm512_load_si512(a + 64)), sc[1]);
            s0 = _mm512_dpwssd_epi32(s0, _mm512_maddubs_epi16(wv[2], _mm512_load_si512(a + 128)), sc[2]);
            s1 = _mm512_dpwssd_epi32(s1, _mm512_maddubs_epi16(wv[3], _mm512_load_si512(a + 192)), sc[3]);
            s0 = _mm512_add_epi32(s0, s1);
            macc[t] = _mm_fmadd_ps(_mm_cvtepi32_ps(_mm_madd_epi16(mn16, bs)), _mm_set1_ps(dmin * da), macc[t]);
        }
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0), _mm512_set1_ps(d * da), acc[t]);
    }
}

AI void row_k4(int type, int nr, int nt, const uint8_t *w, size_t wrb, int64_t nb, const uint8_t *const *px, float out[2][4]) {
    __m512 acc[2][4];
    __m128 macc[2][4];
    for (int r = 0; r < 2; r++)
        for (int t = 0; t < 4; t++) acc[r][t] = _mm512_setzero_ps(), macc[r][t] = _mm_setzero_ps();
    for (int64_t b = 0; b < nb; b++)
        for (int r = 0; r < nr; r++) k4_superblock(type, nt, w + r * wrb, b, px, acc[r], macc[r]);
    for (int r = 0; r < nr; r++)
        for (int t = 0; t < nt; t++) {
            __m128 m = macc[r][t];
            m = _mm_add_ps(m, _mm_movehl_ps(m, m));
            m = _mm_add_ss(m, _mm_movehdup_ps(m));
            out[r][t] = hsum512(acc[r][t]) - _mm_cvtss_f32(m);
        }
}

AI void direct_k(int type, const void *w, size_t wrb, const void *xq, size_t xrb, int64_t n, int64_t nt_all, float *y,
                     int64_t ldy, int64_t r0, int64_t r1) {
    const int64_t nb = n / QK_K;
    const int k4 = type == FFL_TYPE_Q4_K || type == FFL_TYPE_Q5_K || type == FFL_TYPE_IQ4_XS;
    for (int64_t t0 = 0; t0 < nt_all; t0 += 4) {
        int nt = (int)(nt_all - t0 < 4 ? nt_all - t0 : 4);
        int ready = 0;
        const size_t prep_bytes = (size_t)nb * K4_PREP_BYTES * 4 + 64;
        uint8_t *prep = k4 ? ffl_kernel_prepared(FFL_PREP_TAG(FFL_PREP_K4, type), xq, xrb, n, t0, nt, prep_bytes, &ready) : NULL;
        const block_q8_K *x[4];
        const uint8_t *px[4];
        for (int t = 0; t < nt; t++) {
            x[t] = (const block_q8_K *)((const char *)xq + (size_t)(t0 + t) * xrb);
            if (prep) {
                if (!ready) prep_k4(type, x[t], nb, prep + (size_t)t * nb * K4_PREP_BYTES);
                px[t] = prep + (size_t)t * nb * K4_PREP_BYTES;
            }
        }
        for (int64_t r = r0; r < r1;) {
            const uint8_t *wr = (const uint8_t *)w + (size_t)r * wrb;
            float out[2][4] = {{0}};
            int rows = 1;
#define ROWK_CASE(T)                                                \
    case T:                                                         \
        switch (nt) {                                               \
        case 1: row_k(T, 1, wr, nb, x, out[0]); break;              \
        case 2: row_k(T, 2, wr, nb, x, out[0]); break;              \
        case 3: row_k(T, 3, wr, nb, x, out[0]); break;              \
        default: row_k(T, 4, wr, nb, x, out[0]); break;             \
        }                                                           \
        break;
#define ROWK4_CASE(T)                                               \
    case T:                                                         \
        if (!prep) {                                                \
            switch (nt) {                                           \
            case 1: row_k(T, 1, wr, nb, x, out[0]); break;          \
            default: row_k(T, 4, wr, nb, x, out[0]); break;         \
            }                                                       \
            break;                                                  \
        }                                                           \
        switch (nt) {                                               \
        case 1: row_k4(T, 1, 1, wr, wrb, nb, px, out); break;       \
        case 2: row_k4(T, 1, 2, wr, wrb, nb, px, out); break;       \
        case 3: row_k4(T, 1, 3, wr, wrb, nb, px, out); break;       \
        default: row_k4(T, 1, 4, wr, wrb, nb, px, out); break;      \
        }                                                           \
        break;
            switch (type) {
                ROWK_CASE(FFL_TYPE_Q2_K)
                ROWK_CASE(FFL_TYPE_Q3_K)
                ROWK4_CASE(FFL_TYPE_Q4_K)
                ROWK4_CASE(FFL_TYPE_Q5_K)
                ROWK_CASE(FFL_TYPE_Q6_K)
                ROWK4_CASE(FFL_TYPE_IQ4_XS)
            default: break;
            }
#undef ROWK_CASE
#undef ROWK4_CASE
            for (int i = 0; i < rows; i++)
                for (int t = 0; t < nt; t++) y[(t0 + t) * ldy + r + i] = out[i][t];
            r += rows;
        }
    }
}

/* ================================================================ tiled matrix x matrix (many tokens)
 *
 * Layout: one token per 32-bit lane. The activations of 16 tokens are packed once per call as
 * [32-element group][4-byte step k][token] bytes, stored as a + 128 (unsigned, vpdpbusd's first
 * operand); each weight row is decoded once per row block into signed bytes plus, per sub-block, the
 * integer correction 128 * sum(w) (which removes the +128), the float scale s and the float minimum
 * m (x = s * w + m). The kernel then broadcasts 4 weight bytes against 16 tokens per vpdpbusd and keeps
 * 8 rows x 16 tokens of float accumulators in registers; every decoded weight and packed activation
 * is read from cache many times, so the decode cost is spread over all tokens. */

/* A tile's results, nr rows x 16 token lanes, into y (token t's row i at y[t * ldy + i]), the first nt
 * tokens. 8 rows are transposed into 8 consecutive floats per token (stored element by element, the F16
 * products of 512 tokens ran at 161 instead of 172 GFLOP/s on one core). */
AI void store_tile(const __m512 *out, int nr, int nt, float *y, int64_t ldy) {
    if (nr != 8) {
        for (int i = 0; i < nr; i++) {
            float tmp[16];
            _mm512_storeu_ps(tmp, out[i]);
            for (int t = 0; t < nt; t++) y[t * ldy + i] = tmp[t];
        }
        return;
    }
    __m512 u[8];
    for (int h = 0; h < 2; h++) { /* rows 4h..4h+3: u[4h + k] 128-bit lane j = token 4j + k */
        const __m512 t0 = _mm512_unpacklo_ps(out[4 * h], out[4 * h + 1]), t1 = _mm512_unpackhi_ps(out[4 * h], out[4 * h + 1]);
        const __m512 t2 = _mm512_unpacklo_ps(out[4 * h + 2], out[4 * h + 3]), t3 = _mm512_unpackhi_ps(out[4 * h + 2], out[4 * h + 3]);
        u[4 * h + 0] = _mm512_shuffle_ps(t0, t2, 0x44);
        u[4 * h + 1] = _mm512_shuffle_ps(t0, t2, 0xEE);
        u[4 * h + 2] = _mm512_shuffle_ps(t1, t3, 0x44);
        u[4 * h + 3] = _mm512_shuffle_ps(t1, t3, 0xEE);
    }
    for (int k = 0; k < 4; k++)
        for (int half = 0; half < 2; half++) { /* tokens k + 8 half and k + 8 half + 4 */
            const __m512 p = half ? _mm512_shuffle_f32x4(u[k], u[4 + k], 0xEE) : _mm512_shuffle_f32x4(u[k], u[4 + k], 0x44);
            const __m512 q = _mm512_shuffle_f32x4(p, p, 0xD8);
            const int t = k + 8 * half;
            if (t < nt) _mm256_storeu_ps(y + t * ldy, _mm512_castps512_ps256(q));
            if (t + 4 < nt) _mm256_storeu_ps(y + (t + 4) * ldy, _mm512_extractf32x8_ps(q, 1));
        }
}

#define GEMM_MIN_TOKENS 8
#define GEMM_ROW_BLOCK 32
#define APANEL_GROUP_BYTES 704 /* 8 x 64 activation bytes, da, ds (first sub-block), ds (second) */

AI int gemm_sub16(int type) {
    type = ffl_x16_base(type);
    return type == FFL_TYPE_Q2_K || type == FFL_TYPE_Q3_K || type == FFL_TYPE_Q6_K;
}
AI int gemm_has_min(int type) {
    type = ffl_x16_base(type);
    return type == FFL_TYPE_Q4_1 || type == FFL_TYPE_Q5_1 || type == FFL_TYPE_Q2_K || type == FFL_TYPE_Q4_K ||
           type == FFL_TYPE_Q5_K;
}
AI int is_ktype(int type) {
    type = ffl_x16_base(type);
    return type == FFL_TYPE_Q2_K || type == FFL_TYPE_Q3_K || type == FFL_TYPE_Q4_K || type == FFL_TYPE_Q5_K ||
           type == FFL_TYPE_Q6_K || type == FFL_TYPE_IQ4_XS;
}

/* Packs tokens [t0, t0 + nt), nt <= 16, into one activation panel (missing tokens are zero). */
static void pack_act_panel(int type, const uint8_t *xq, size_t xrb, int64_t t0, int nt, int64_t n, uint8_t *dst) {
    const int64_t ng = n / 32;
    const int sub16 = gemm_sub16(type);
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (int64_t g = 0; g < ng; g++) {
        uint8_t *o = dst + g * APANEL_GROUP_BYTES;
        float *da = (float *)(o + 512), *ds0 = da + 16, *ds1 = da + 32;
        __m256i rows[16];
        for (int t = 0; t < 16; t++) {
            if (t >= nt) {
                rows[t] = _mm256_set1_epi8((char)0x80); /* zero after the flip */
                da[t] = ds0[t] = ds1[t] = 0.0f;
                continue;
            }
            const uint8_t *xr = xq + (size_t)(t0 + t) * xrb;
            const uint8_t *qs;
            if (is_ktype(type)) {
                const block_q8_K *b = (const block_q8_K *)xr + g / 8;
                const int j = (int)(g % 8);
                qs = (const uint8_t *)b->qs + 32 * j;
                da[t] = b->d;
                if (sub16) {
                    ds0[t] = b->d * (float)b->bsums[2 * j];
                    ds1[t] = b->d * (float)b->bsums[2 * j + 1];
                } else {
                    ds0[t] = b->d * (float)(b->bsums[2 * j] + b->bsums[2 * j + 1]);
                    ds1[t] = 0.0f;
                }
            } else if (has_min32(type)) {
                const block_q8_1 *b = (const block_q8_1 *)xr + g;
                qs = (const uint8_t *)b->qs;
                da[t] = h2f(b->d);
                ds0[t] = h2f(b->s);
                ds1[t] = 0.0f;
            } else {
                const block_q8_0 *b = (const block_q8_0 *)xr + g;
                qs = (const uint8_t *)b->qs;
                da[t] = h2f(b->d);
                ds0[t] = ds1[t] = 0.0f;
            }
            rows[t] = _mm256_loadu_si256((const __m256i *)qs);
        }
        transpose_16x8(rows, o, flip);
    }
}

/* Sum of 32 signed bytes. */
AI int sum32_i8(__m256i w) {
    __m256i sad = _mm256_sad_epu8(_mm256_xor_si256(w, _mm256_set1_epi8((char)0x80)), _mm256_setzero_si256());
    __m128i s2 = _mm_add_epi64(_mm256_castsi256_si128(sad), _mm256_extracti128_si256(sad, 1));
    return (int)(_mm_cvtsi128_si64(s2) + _mm_extract_epi64(s2, 1)) - 32 * 128;
}
/* Sums of the two 16-byte halves of 32 signed bytes. */
AI void sum16x2_i8(__m256i w, int *a, int *b) {
    __m256i sad = _mm256_sad_epu8(_mm256_xor_si256(w, _mm256_set1_epi8((char)0x80)), _mm256_setzero_si256());
    *a = (int)(_mm256_extract_epi64(sad, 0) + _mm256_extract_epi64(sad, 1)) - 16 * 128;
    *b = (int)(_mm256_extract_epi64(sad, 2) + _mm256_extract_epi64(sad, 3)) - 16 * 128;
}

AI int koffset(int type) {
    switch (type) {
    case FFL_TYPE_Q3_K: return 4;
    case FFL_TYPE_Q6_K: return 32;
    case FFL_TYPE_IQ4_XS: return 128;
    default: return 0;
    }
}

/* decode_row for nb blocks of 32 elements */
AI void decode_blocks32(int type, const uint8_t *wr, int64_t nb, int8_t *wb, int32_t *corr, float *s, float *m) {
    const int ws = ffl_block_bytes32(type);
    const __m256i off = _mm256_set1_epi8((char)ffl_avx512_offset32(type));
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *p = wr + b * ws;
        __m256i w = _mm256_sub_epi8(decode32(type, p), off);
        _mm256_storeu_si256((__m256i *)(wb + 32 * b), w);
        corr[b] = 128 * sum32_i8(w);
        s[b] = h2f(ffl_ld16(p));
        m[b] = has_min32(type) ? h2f(ffl_ld16(p + 2)) : 0.0f;
    }
}

AI void decode_blocks_k(int type, const uint8_t *wr, int64_t nsb, int8_t *wb, int32_t *corr, float *s, float *m);

/* decode_row for one Q6_K super-block in the interleaved layout: the weights back in element order
 * by word permutes (output vector k = sub-blocks 4k .. 4k + 3, words from w[0], w[1] and w[2], w[3]
 * blended), the sums by vpdpbusd with ones. */
AI void decode_k6x16(const uint8_t *p, int8_t *wb, int32_t *corr, float *s, float *m) {
    __m512i w[4];
    k6x16_weights(p, w);
    __m512i sum = _mm512_setzero_si512();
    for (int v = 0; v < 4; v++) sum = _mm512_dpbusd_epi32(sum, w[v], _mm512_set1_epi8(1));
    _mm512_storeu_si512(corr, _mm512_slli_epi32(_mm512_sub_epi32(sum, _mm512_set1_epi32(16 * 32)), 7));
    /* output k, word 4 i + j = lane 4 k + i of w[j] (words 0, 1 from w[0], w[1]; 2, 3 blended in from w[2], w[3]) */
    static const int32_t order[4][16] = {{0, 16, 0, 16, 1, 17, 1, 17, 2, 18, 2, 18, 3, 19, 3, 19},
                                         {4, 20, 4, 20, 5, 21, 5, 21, 6, 22, 6, 22, 7, 23, 7, 23},
                                         {8, 24, 8, 24, 9, 25, 9, 25, 10, 26, 10, 26, 11, 27, 11, 27},
                                         {12, 28, 12, 28, 13, 29, 13, 29, 14, 30, 14, 30, 15, 31, 15, 31}};
    const __m512i off = _mm512_set1_epi8(32);
    for (int k = 0; k < 4; k++) {
        const __m512i ix = _mm512_loadu_si512(order[k]);
        const __m512i o =
            _mm512_mask_blend_epi32(0xCCCC, _mm512_permutex2var_epi32(w[0], ix, w[1]), _mm512_permutex2var_epi32(w[2], ix, w[3]));
        _mm512_storeu_si512(wb + 64 * k, _mm512_sub_epi8(o, off));
    }
    _mm512_storeu_ps(s, k6x16_scales(p));
    _mm512_storeu_ps(m, _mm512_setzero_ps());
}

/* decode_row for one Q4_K group of 16 sub-blocks (quant/repack.h): the words of the 16 lanes are
 * transposed back 4 x 4 within each 128-bit lane, so vector r holds sub-blocks r, 4 + r, 8 + r,
 * 12 + r; the sums come from vpdpbusd with ones before the transpose. */
AI void decode_k4x16_group(const uint8_t *p, int8_t *wb, int32_t *corr, float *s, float *m) {
    const __m512i m4 = _mm512_set1_epi8(0x0F), ones = _mm512_set1_epi8(1);
    __m512i q[4], sum = _mm512_setzero_si512();
    for (int v = 0; v < 4; v++) {
        q[v] = _mm512_loadu_si512(p + 64 * v);
        sum = _mm512_dpbusd_epi32(sum, _mm512_and_si512(q[v], m4), ones);
        sum = _mm512_dpbusd_epi32(sum, _mm512_and_si512(_mm512_srli_epi16(q[v], 4), m4), ones);
    }
    _mm512_storeu_si512(corr, _mm512_slli_epi32(sum, 7));
    const __m512i a01 = _mm512_unpacklo_epi32(q[0], q[1]), b01 = _mm512_unpackhi_epi32(q[0], q[1]);
    const __m512i a23 = _mm512_unpacklo_epi32(q[2], q[3]), b23 = _mm512_unpackhi_epi32(q[2], q[3]);
    const __m512i t[4] = {_mm512_unpacklo_epi64(a01, a23), _mm512_unpackhi_epi64(a01, a23), _mm512_unpacklo_epi64(b01, b23),
                          _mm512_unpackhi_epi64(b01, b23)};
    for (int r = 0; r < 4; r++) {
        const __m512i lo = _mm512_and_si512(t[r], m4), hi = _mm512_and_si512(_mm512_srli_epi16(t[r], 4), m4);
        /* lane L of lo / hi: the first / last 16 weights of sub-block 4 L + r; pair them per lane */
        const __m512i z01 = _mm512_shuffle_i64x2(lo, hi, 0x44), z23 = _mm512_shuffle_i64x2(lo, hi, 0xEE);
        const __m512i o01 = _mm512_shuffle_i64x2(z01, z01, 0xD8), o23 = _mm512_shuffle_i64x2(z23, z23, 0xD8);
        _mm256_storeu_si256((__m256i *)(wb + 32 * r), _mm512_castsi512_si256(o01));
        _mm256_storeu_si256((__m256i *)(wb + 32 * (4 + r)), _mm512_extracti64x4_epi64(o01, 1));
        _mm256_storeu_si256((__m256i *)(wb + 32 * (8 + r)), _mm512_castsi512_si256(o23));
        _mm256_storeu_si256((__m256i *)(wb + 32 * (12 + r)), _mm512_extracti64x4_epi64(o23, 1));
    }
    __m512 f1, f2;
    k4x16_factors(p + 256, &f1, &f2);
    _mm512_storeu_ps(s, f1);
    _mm512_storeu_ps(m, _mm512_sub_ps(_mm512_setzero_ps(), f2));
}

/* Decodes one weight row: signed bytes, and per sub-block (32 elements, or 16 for Q2_K/Q3_K/Q6_K)
 * the correction 128 * sum(w), the scale s and the minimum m. */
AI void decode_row(int type, const uint8_t *wr, int64_t n, int8_t *wb, int32_t *corr, float *s, float *m) {
    if (type == FFL_WTYPE_Q6_K_X16) {
        for (int64_t b = 0; b < n / QK_K; b++)
            decode_k6x16(wr + b * sizeof(block_q6_K), wb + 256 * b, corr + 16 * b, s + 16 * b, m + 16 * b);
        return;
    }
    if (type == FFL_WTYPE_Q4_K_X16) {
        for (int64_t b = 0; b < n / 32;) {
            const int G = ffl_x16_group_blocks(b, n / 32);
            const uint8_t *p = wr + b * (sizeof(block_q4_K) / 8);
            if (G == 16) {
                decode_k4x16_group(p, wb + 32 * b, corr + b, s + b, m + b);
            } else { /* a last single super-block: back to Q4_K */
                block_q4_K block;
                ffl_x16_unpack_group(type, p, G, &block);
                decode_blocks_k(FFL_TYPE_Q4_K, (const uint8_t *)&block, 1, wb + 32 * b, corr + b, s + b, m + b);
            }
            b += G;
        }
        return;
    }
    if (type == FFL_WTYPE_Q4_0_X16 || type == FFL_WTYPE_Q8_0_X16) { /* back to plain blocks a group at a time */
        const int32_t base = ffl_x16_base(type);
        block_q8_0 blocks[FFL_X16_GROUP]; /* room for either */
        for (int64_t b = 0; b < n / 32;) {
            const int G = ffl_x16_group_blocks(b, n / 32);
            ffl_x16_unpack_group(type, wr + b * ffl_block_bytes32(base), G, blocks);
            decode_blocks32(base, (const uint8_t *)blocks, G, wb + 32 * b, corr + b, s + b, m + b);
            b += G;
        }
        return;
    }
    if (!is_ktype(type)) {
        decode_blocks32(type, wr, n / 32, wb, corr, s, m);
        return;
    }
    decode_blocks_k(type, wr, n / QK_K, wb, corr, s, m);
}

/* decode_row for nsb super-blocks of a K-quant */
AI void decode_blocks_k(int type, const uint8_t *wr, int64_t nsb, int8_t *wb, int32_t *corr, float *s, float *m) {
    const int ws = ffl_block_bytes_k(type);
    const __m512i off = _mm512_set1_epi8((char)koffset(type));
    for (int64_t b = 0; b < nsb; b++) {
        const uint8_t *p = wr + b * ws;
        kblock kb;
        decode_k(type, p, &kb);
        int8_t *o = wb + 256 * b;
        for (int k = 0; k < 4; k++) _mm512_storeu_si512(o + 64 * k, _mm512_sub_epi8(kb.w[k], off));
        if (gemm_sub16(type)) {
            int32_t *c = corr + 16 * b;
            float *sb = s + 16 * b, *mb = m + 16 * b;
            for (int k = 0; k < 8; k++) {
                int lo, hi;
                sum16x2_i8(_mm256_loadu_si256((const __m256i *)(o + 32 * k)), &lo, &hi);
                c[2 * k] = 128 * lo, c[2 * k + 1] = 128 * hi;
            }
            if (type == FFL_TYPE_Q2_K) {
                const block_q2_K *x = (const block_q2_K *)p;
                const float d = h2f(x->d), dmin = h2f(x->dmin);
                for (int j = 0; j < 16; j++) sb[j] = d * (float)(x->scales[j] & 0xF), mb[j] = -dmin * (float)(x->scales[j] >> 4);
            } else if (type == FFL_TYPE_Q3_K) {
                const block_q3_K *x = (const block_q3_K *)p;
                int8_t sc[16];
                _mm_storeu_si128((__m128i *)sc, q3_scales(x->scales));
                const float d = h2f(x->d);
                for (int j = 0; j < 16; j++) sb[j] = d * (float)sc[j], mb[j] = 0.0f;
            } else {
                const block_q6_K *x = (const block_q6_K *)p;
                const float d = h2f(x->d);
                for (int j = 0; j < 16; j++) sb[j] = d * (float)x->scales[j], mb[j] = 0.0f;
            }
        } else {
            int32_t *c = corr + 8 * b;
            float *sb = s + 8 * b, *mb = m + 8 * b;
            for (int k = 0; k < 8; k++) c[k] = 128 * sum32_i8(_mm256_loadu_si256((const __m256i *)(o + 32 * k)));
            if (type == FFL_TYPE_IQ4_XS) {
                const block_iq4_xs *x = (const block_iq4_xs *)p;
                const float d = h2f(x->d);
                for (int j = 0; j < 8; j++) sb[j] = d * (float)ffl_iq4xs_scale(x, j), mb[j] = 0.0f;
            } else {
                const uint8_t *scales = type == FFL_TYPE_Q4_K ? ((const block_q4_K *)p)->scales : ((const block_q5_K *)p)->scales;
                const float d = h2f(ffl_ld16(p)), dmin = h2f(ffl_ld16(p + 2));
                for (int j = 0; j < 8; j++) {
                    uint8_t sc, mn;
                    ffl_k4_scale_min(j, scales, &sc, &mn);
                    sb[j] = d * (float)sc, mb[j] = -dmin * (float)mn;
                }
            }
        }
    }
}

/* nr decoded rows (row r at wrows + r * rstride, its metadata at meta + r * mstride) times one
 * activation panel: out[r] = 16 token results. */
AI void gemm_tile(int type, int nr, const uint8_t *panel, int64_t ng, const int8_t *wrows, size_t rstride,
                  const uint8_t *meta, size_t mstride, int64_t nsub, __m512 *out) {
    const int sub16 = gemm_sub16(type), hasm = gemm_has_min(type);
    __m512 acc[8];
    for (int r = 0; r < 8; r++) acc[r] = _mm512_setzero_ps();
    for (int64_t g = 0; g < ng; g++) {
        const uint8_t *A = panel + g * APANEL_GROUP_BYTES;
        __m512i a[8];
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++) a[k] = _mm512_load_si512(A + 64 * k);
        const __m512 da = _mm512_load_ps((const float *)(A + 512));
        const __m512 ds0 = _mm512_load_ps((const float *)(A + 576)), ds1 = _mm512_load_ps((const float *)(A + 640));
#pragma GCC unroll 8
        for (int r = 0; r < nr; r++) {
            const int8_t *w = wrows + r * rstride + 32 * g;
            const int32_t *corr = (const int32_t *)(meta + r * mstride);
            const float *s = (const float *)(corr + nsub), *m = s + nsub;
            if (!sub16) {
                /* two dependency chains of 4: vpdpbusd latency would otherwise bound the loop */
                __m512i i0 = _mm512_setzero_si512(), i1 = _mm512_setzero_si512();
#pragma GCC unroll 4
                for (int k = 0; k < 4; k++) {
                    i0 = _mm512_dpbusd_epi32(i0, a[k], _mm512_set1_epi32((int)ffl_ld32(w + 4 * k)));
                    i1 = _mm512_dpbusd_epi32(i1, a[k + 4], _mm512_set1_epi32((int)ffl_ld32(w + 16 + 4 * k)));
                }
                __m512i i = _mm512_sub_epi32(_mm512_add_epi32(i0, i1), _mm512_set1_epi32(corr[g]));
                __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(i), da);
                acc[r] = _mm512_fmadd_ps(f, _mm512_set1_ps(s[g]), acc[r]);
                if (hasm) acc[r] = _mm512_fmadd_ps(ds0, _mm512_set1_ps(m[g]), acc[r]);
            } else {
                __m512i i0 = _mm512_setzero_si512(), i1 = _mm512_setzero_si512();
#pragma GCC unroll 4
                for (int k = 0; k < 4; k++) {
                    i0 = _mm512_dpbusd_epi32(i0, a[k], _mm512_set1_epi32((int)ffl_ld32(w + 4 * k)));
                    i1 = _mm512_dpbusd_epi32(i1, a[k + 4], _mm512_set1_epi32((int)ffl_ld32(w + 16 + 4 * k)));
                }
                i0 = _mm512_sub_epi32(i0, _mm512_set1_epi32(corr[2 * g]));
                i1 = _mm512_sub_epi32(i1, _mm512_set1_epi32(corr[2 * g + 1]));
                __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(i0), _mm512_set1_ps(s[2 * g]));
                f = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i1), _mm512_set1_ps(s[2 * g + 1]), f);
                acc[r] = _mm512_fmadd_ps(f, da, acc[r]);
                if (hasm) {
                    acc[r] = _mm512_fmadd_ps(ds0, _mm512_set1_ps(m[2 * g]), acc[r]);
                    acc[r] = _mm512_fmadd_ps(ds1, _mm512_set1_ps(m[2 * g + 1]), acc[r]);
                }
            }
        }
    }
    for (int r = 0; r < nr; r++) out[r] = acc[r];
}

AI void gemm_int8_chunk(int type, const void *w, size_t wrb, const void *xq, size_t xrb, int64_t n, int64_t T, float *y,
                  int64_t ldy, int64_t r0, int64_t r1) {
    const int64_t ng = n / 32, nsub = gemm_sub16(type) ? n / 16 : n / 32;
    const int64_t ntg = (T + 15) / 16;
    const size_t panel_bytes = (size_t)ng * APANEL_GROUP_BYTES;
    const size_t rstride = ((size_t)n + 63) & ~(size_t)63, mstride = ((size_t)nsub * 12 + 63) & ~(size_t)63;
    const size_t need = panel_bytes * (size_t)ntg + (rstride + mstride) * GEMM_ROW_BLOCK + 64;
    uint8_t *scr = ffl_kernel_scratch(need);
    if (!scr) {
        for (int64_t r = r0; r < r1; r++)
            for (int64_t t = 0; t < T; t++)
                y[t * ldy + r] = ffl_dot_scalar(type, n, (const char *)w + (size_t)r * wrb, (const char *)xq + (size_t)t * xrb);
        return;
    }
    uint8_t *panels = scr;
    int8_t *wrows = (int8_t *)(panels + panel_bytes * (size_t)ntg);
    uint8_t *meta = (uint8_t *)wrows + rstride * GEMM_ROW_BLOCK;
    for (int64_t tg = 0; tg < ntg; tg++) {
        int nt = (int)(T - 16 * tg < 16 ? T - 16 * tg : 16);
        pack_act_panel(type, xq, xrb, 16 * tg, nt, n, panels + panel_bytes * (size_t)tg);
    }
    for (int64_t rb = r0; rb < r1; rb += GEMM_ROW_BLOCK) {
        const int rows = (int)(r1 - rb < GEMM_ROW_BLOCK ? r1 - rb : GEMM_ROW_BLOCK);
        for (int r = 0; r < rows; r++) {
            int32_t *corr = (int32_t *)(meta + r * mstride);
            float *s = (float *)(corr + nsub), *m = s + nsub;
            decode_row(type, (const uint8_t *)w + (size_t)(rb + r) * wrb, n, wrows + r * rstride, corr, s, m);
        }
        for (int64_t tg = 0; tg < ntg; tg++) {
            const uint8_t *panel = panels + panel_bytes * (size_t)tg;
            const int nt = (int)(T - 16 * tg < 16 ? T - 16 * tg : 16);
            for (int r = 0; r < rows;) {
                __m512 out[8];
                int nr = rows - r >= 8 ? 8 : rows - r >= 4 ? 4 : 1;
                const int8_t *wr8 = wrows + r * rstride;
                const uint8_t *mt = meta + r * mstride;
                if (nr == 8) gemm_tile(type, 8, panel, ng, wr8, rstride, mt, mstride, nsub, out);
                else if (nr == 4) gemm_tile(type, 4, panel, ng, wr8, rstride, mt, mstride, nsub, out);
                else gemm_tile(type, 1, panel, ng, wr8, rstride, mt, mstride, nsub, out);
                store_tile(out, nr, nt, y + 16 * tg * ldy + rb + r, ldy);
                r += nr;
            }
        }
    }
}

/* ================================================================ tiled matrix x matrix, float weights
 *
 * Same token-per-lane layout as the integer path: activations of 16 tokens are packed as [k][token]
 * floats (BF16: [k pair][token][2 x bf16] for vdpbf16ps), weights are broadcast from the row, 8 rows x
 * 16 tokens of accumulators stay in registers. F16 rows take the integer products of the next section,
 * which packs its panels with pack_float_panel too. */

#define FGEMM_ROW_BLOCK 32

/* Packs tokens [t0, t0 + nt) of float rows into a panel of n_pad columns (zero padded). */
static void pack_float_panel(int half, const void *x, size_t xrb, int64_t t0, int nt, int64_t n, int64_t n_pad, void *dst) {
    /* 8 dwords per token at a time: 8 floats, or 8 pairs of 16-bit values */
    const int64_t nd = half ? (n + 1) / 2 : n, nd_pad = half ? n_pad / 2 : n_pad;
    for (int64_t k = 0; k < nd_pad; k += 8) {
        __m256i rows[16];
        for (int t = 0; t < 16; t++) {
            if (t >= nt || k >= nd) {
                rows[t] = _mm256_setzero_si256();
                continue;
            }
            const uint8_t *xr = (const uint8_t *)x + (size_t)(t0 + t) * xrb;
            /* 512 bytes ahead in the row, and the start of the row 16 tokens on (the next panel's):
             * a single-token step packs KV cache rows that no other access brought in (TinyLlama
             * after a 1024-token prompt, one thread: attention 7.5-8.1 -> 6.9 ms per token) */
            _mm_prefetch((const char *)xr + 4 * k + 512, _MM_HINT_T0);
            if (k == 0) {
                _mm_prefetch((const char *)xr + 16 * xrb, _MM_HINT_T0);
                _mm_prefetch((const char *)xr + 16 * xrb + 64, _MM_HINT_T0);
            }
            if (half) {
                const int64_t left = n - 2 * k; /* 16-bit elements left in this row */
                const __mmask16 m = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
                rows[t] = _mm256_maskz_loadu_epi16(m, xr + 4 * k);
            } else {
                const int64_t left = n - k;
                const __mmask8 m = left >= 8 ? 0xFF : (__mmask8)((1u << left) - 1);
                rows[t] = _mm256_maskz_loadu_epi32(m, xr + 4 * k);
            }
        }
        transpose_16x8(rows, (uint8_t *)dst + 64 * k, _mm512_setzero_si512());
    }
}

/* nr weight rows (floats, or bf16 pairs) against one packed panel: float activations, or (bf16)
 * bf16 pairs multiplied with vdpbf16ps. */
AI void fgemm_tile(int bf16, int nr, const void *panel, int64_t n_pad, const uint8_t *wrows, size_t rstride, __m512 *out) {
    __m512 acc[8][2];
    for (int r = 0; r < 8; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    if (!bf16) {
        for (int64_t k = 0; k < n_pad; k += 2) {
            const float *A = panel;
            const __m512 a0 = _mm512_load_ps(A + 16 * k), a1 = _mm512_load_ps(A + 16 * k + 16);
#pragma GCC unroll 8
            for (int r = 0; r < nr; r++) {
                const float *w = (const float *)(wrows + r * rstride);
                acc[r][0] = _mm512_fmadd_ps(a0, _mm512_set1_ps(w[k]), acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(a1, _mm512_set1_ps(w[k + 1]), acc[r][1]);
            }
        }
    } else {
        const uint16_t *A = panel;
        for (int64_t k = 0; k < n_pad; k += 4) {
            const __m512bh a0 = (__m512bh)_mm512_load_si512(A + 16 * k), a1 = (__m512bh)_mm512_load_si512(A + 16 * k + 32);
#pragma GCC unroll 8
            for (int r = 0; r < nr; r++) {
                const uint8_t *w = wrows + r * rstride + 2 * k;
                acc[r][0] = _mm512_dpbf16_ps(acc[r][0], a0, (__m512bh)_mm512_set1_epi32((int)ffl_ld32(w)));
                acc[r][1] = _mm512_dpbf16_ps(acc[r][1], a1, (__m512bh)_mm512_set1_epi32((int)ffl_ld32(w + 4)));
            }
        }
    }
    for (int r = 0; r < nr; r++) out[r] = _mm512_add_ps(acc[r][0], acc[r][1]);
}

/* F32 and BF16 rows (F16 ones take gemm_f16_i16_chunk). */
AI void gemm_float_chunk(int type, const void *w, size_t wrb, const void *xq, size_t xrb, int64_t n, int64_t T, float *y,
                   int64_t ldy, int64_t r0, int64_t r1) {
    const int bf16 = type == FFL_TYPE_BF16;
    const int64_t n_pad = (n + 15) & ~(int64_t)15; /* whole steps of the packing and kernel loops */
    const int64_t ntg = (T + 15) / 16;
    const size_t panel_bytes = (size_t)n_pad * 16 * (bf16 ? 2 : 4);
    /* rows are used in place unless their length needs padding */
    const int convert = n_pad != n;
    const size_t rstride = ((size_t)n_pad * (bf16 ? 2 : 4) + 63) & ~(size_t)63;
    const size_t need = panel_bytes * (size_t)ntg + (convert ? rstride * FGEMM_ROW_BLOCK : 0) + 64;
    uint8_t *scr = ffl_kernel_scratch(need);
    if (!scr) {
        float_direct(type, 0, w, wrb, xq, xrb, n, T, y, ldy, r0, r1);
        return;
    }
    uint8_t *panels = scr, *conv = scr + panel_bytes * (size_t)ntg;
    for (int64_t tg = 0; tg < ntg; tg++) {
        int nt = (int)(T - 16 * tg < 16 ? T - 16 * tg : 16);
        pack_float_panel(bf16, xq, xrb, 16 * tg, nt, n, n_pad, panels + panel_bytes * (size_t)tg);
    }
    for (int64_t rb = r0; rb < r1; rb += FGEMM_ROW_BLOCK) {
        const int rows = (int)(r1 - rb < FGEMM_ROW_BLOCK ? r1 - rb : FGEMM_ROW_BLOCK);
        const uint8_t *wrows;
        size_t rs;
        if (convert) {
            for (int r = 0; r < rows; r++) {
                const uint8_t *src = (const uint8_t *)w + (size_t)(rb + r) * wrb;
                uint8_t *dst = conv + r * rstride;
                memset(dst, 0, rstride);
                memcpy(dst, src, (size_t)n * (bf16 ? 2 : 4));
            }
            wrows = conv;
            rs = rstride;
        } else {
            wrows = (const uint8_t *)w + (size_t)rb * wrb;
            rs = wrb;
        }
        for (int64_t tg = 0; tg < ntg; tg++) {
            const uint8_t *panel = panels + panel_bytes * (size_t)tg;
            const int nt = (int)(T - 16 * tg < 16 ? T - 16 * tg : 16);
            for (int r = 0; r < rows;) {
                __m512 out[8];
                int nr = rows - r >= 8 ? 8 : rows - r >= 4 ? 4 : 1;
                const uint8_t *wr = wrows + r * rs;
                if (bf16) {
                    if (nr == 8) fgemm_tile(1, 8, panel, n_pad, wr, rs, out);
                    else if (nr == 4) fgemm_tile(1, 4, panel, n_pad, wr, rs, out);
                    else fgemm_tile(1, 1, panel, n_pad, wr, rs, out);
                } else {
                    if (nr == 8) fgemm_tile(0, 8, panel, n_pad, wr, rs, out);
                    else if (nr == 4) fgemm_tile(0, 4, panel, n_pad, wr, rs, out);
                    else fgemm_tile(0, 1, panel, n_pad, wr, rs, out);
                }
                store_tile(out, nr, nt, y + 16 * tg * ldy + rb + r, ldy);
                r += nr;
            }
        }
    }
}

/* ================================================================ F16 rows through 16-bit integer products
 *
 * Many tokens against F16 rows. Float FMAs make 16 products per instruction, which caps this at the
 * machine's FP32 peak; vpdpwssd makes 32 products of 16-bit integers per instruction at the same rate.
 * Per block of 64 columns:
 * - weights are integers times 2^(e - 12), e the exponent of the block's largest magnitude: |q| <= 8188,
 *   every weight of the block's top three binades (at least an eighth of the largest) is exact, and
 *   smaller ones are rounded to that step (an error of at most 2^(e - 13));
 * - activations (F16 values, as every F16 product here takes them) are integers times amax / 4095: at
 *   most amax / 8190 off, a quarter of the F16 rounding step of the largest.
 * The 64 products of a block then sum exactly in 32 bits (64 * 8188 * 4095 < 2^31) and the blocks are
 * added in float: a convert, a multiply and an FMA per block, row and 16 tokens, which with blocks of
 * 32 (and activations up to 8191) held one Zen 4 core to 172 instead of 194 GFLOP/s (2048 x 2048
 * weights, 512 tokens). TinyLlama F16 pp512, 2 threads: 103.6 -> 177 t/s. */

#define I16_BLOCK 64
#define I16_X_MAX 4095.0f
/* 16 tokens of n_pad columns: [column pair][token][2 x int16], then per block 16 float scales */
#define I16_PANEL_INT_BYTES(n_pad) ((size_t)(n_pad) * 32)
#define I16_PANEL_BYTES(n_pad) (I16_PANEL_INT_BYTES(n_pad) + (size_t)(n_pad) / I16_BLOCK * 64)

/* 64 halves from p (only the first `left` when fewer, zeros after) as four vectors of floats, and the
 * largest magnitude among them (NaN when one is a NaN: vmaxps would pass over it). */
AI float load_half64(const uint16_t *p, int64_t left, __m512 v[4]) {
    for (int i = 0; i < 2; i++, p += 32, left -= 32) {
        const __mmask32 m = left >= 32 ? 0xFFFFFFFFu : left <= 0 ? 0 : (__mmask32)((1u << left) - 1);
        const __m512i h = m == 0xFFFFFFFFu ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi16(m, p);
        v[2 * i] = _mm512_cvtph_ps(_mm512_castsi512_si256(h));
        v[2 * i + 1] = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1));
    }
    const __m512 a = _mm512_max_ps(_mm512_abs_ps(v[0]), _mm512_abs_ps(v[1]));
    const __m512 b = _mm512_max_ps(_mm512_abs_ps(v[2]), _mm512_abs_ps(v[3]));
    if (_mm512_cmp_ps_mask(_mm512_add_ps(v[0], v[1]), _mm512_add_ps(v[2], v[3]), _CMP_UNORD_Q)) return __builtin_nanf("");
    return _mm512_reduce_max_ps(_mm512_max_ps(a, b));
}

/* v times f, rounded to the nearest integers (ties to even), as 64 int16 at q. */
AI void store_i16x64(const __m512 v[4], float f, int16_t *q) {
    const __m512 fv = _mm512_set1_ps(f);
    for (int i = 0; i < 4; i++)
        _mm256_store_si256((__m256i *)(q + 16 * i), _mm512_cvtsepi32_epi16(_mm512_cvtps_epi32(_mm512_mul_ps(v[i], fv))));
}

/* One token's F16 activations: n_pad integers (zeros past n) and a scale per block (sstride apart). */
static void x_to_i16(const uint16_t *x, int64_t n, int64_t n_pad, int16_t *q, float *s, size_t sstride) {
    for (int64_t b = 0; b < n_pad; b += I16_BLOCK) {
        __m512 v[4];
        const float amax = load_half64(x + b, n - b, v);
        /* |x| * (4095 / amax) stays below 4095.5, so no integer passes 4095; a NaN or infinite block
         * gets a NaN scale (as its products would be) */
        const int finite = amax <= 65504.0f;
        store_i16x64(v, finite && amax > 0 ? I16_X_MAX / amax : 0.0f, q + b);
        s[b / I16_BLOCK * sstride] = finite ? amax / I16_X_MAX : __builtin_nanf("");
    }
}

/* One F16 weight row: n_pad integers (zeros past n) and the power of two each block is scaled by. */
static void w_to_i16(const uint16_t *w, int64_t n, int64_t n_pad, int16_t *q, float *s) {
    for (int64_t b = 0; b < n_pad; b += I16_BLOCK) {
        __m512 v[4];
        const float amax = load_half64(w + b, n - b, v);
        if (!(amax > 0 && amax <= 65504.0f)) { /* all zeros; or an infinity or NaN: a NaN scale */
            memset(q + b, 0, 2 * I16_BLOCK);
            s[b / I16_BLOCK] = amax == 0.0f ? 0.0f : __builtin_nanf("");
            continue;
        }
        uint32_t bits;
        memcpy(&bits, &amax, 4);
        const int e = (int)(bits >> 23) - 127; /* -24..15: halves, subnormal ones too, are normal floats */
        const uint32_t up = (uint32_t)(127 + 12 - e) << 23, down = (uint32_t)(127 - 12 + e) << 23;
        float f, d;
        memcpy(&f, &up, 4);
        memcpy(&d, &down, 4);
        store_i16x64(v, f, q + b);
        s[b / I16_BLOCK] = d;
    }
}

/* *acc += pairwise products of a and the two int16 at p, broadcast from memory (GCC broadcasts them
 * with an instruction of its own: bench_kernels f16, 2 threads, 281 instead of 326 GFLOP/s). */
AI void dpwssd_bcast(__m512i *acc, __m512i a, const int16_t *p) {
    __asm__("vpdpwssd %2%{1to16%}, %1, %0" : "+v"(*acc) : "v"(a), "m"(*(const int32_t *)p));
}

/* nr rows (nblk blocks of integers, rstride apart; their scales sstride apart) against one panel. */
AI void i16_tile(int nr, const uint8_t *panel, int64_t nblk, const int16_t *wq, size_t rstride, const float *ws,
                 size_t sstride, __m512 *out) {
    const int16_t *A = (const int16_t *)panel;
    const float *xs = (const float *)(panel + I16_PANEL_INT_BYTES(nblk * I16_BLOCK));
    __m512 acc[8];
    for (int r = 0; r < nr; r++) acc[r] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nblk; b++) {
        __m512i s[8];
        for (int r = 0; r < nr; r++) s[r] = _mm512_setzero_si512();
#pragma GCC unroll 32
        for (int kp = 0; kp < I16_BLOCK / 2; kp++) {
            const __m512i a = _mm512_load_si512(A + 16 * I16_BLOCK * b + 32 * kp);
#pragma GCC unroll 8
            for (int r = 0; r < nr; r++) dpwssd_bcast(&s[r], a, wq + r * rstride + I16_BLOCK * b + 2 * kp);
        }
        const __m512 x = _mm512_load_ps(xs + 16 * b);
        for (int r = 0; r < nr; r++)
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[r]), _mm512_mul_ps(x, _mm512_set1_ps(ws[r * sstride + b])), acc[r]);
    }
    for (int r = 0; r < nr; r++) out[r] = acc[r];
}

AI void gemm_f16_i16_chunk(const void *w, size_t wrb, const void *xq, size_t xrb, int64_t n, int64_t T, float *y, int64_t ldy,
                           int64_t r0, int64_t r1) {
    const int64_t n_pad = (n + I16_BLOCK - 1) & ~(int64_t)(I16_BLOCK - 1), nblk = n_pad / I16_BLOCK, ntg = (T + 15) / 16;
    const size_t panel_bytes = I16_PANEL_BYTES(n_pad), rstride = (size_t)n_pad, sstride = (size_t)nblk;
    /* the rows of one block, their scales, and 16 tokens' integers before they are interleaved */
    const size_t wbytes = rstride * 2 * FGEMM_ROW_BLOCK, sbytes = (sstride * 4 * FGEMM_ROW_BLOCK + 63) & ~(size_t)63;
    uint8_t *scr = ffl_kernel_scratch(wbytes + sbytes + (size_t)n_pad * 2 * 16 + 64);
    int ready = 0;
    uint8_t *panels = scr ? ffl_kernel_prepared(FFL_PREP_TAG(FFL_PREP_I16, FFL_TYPE_F16), xq, xrb, n, 0, (int)T,
                                                panel_bytes * (size_t)ntg, &ready)
                          : NULL;
    if (!panels) {
        float_direct(FFL_TYPE_F16, 0, w, wrb, xq, xrb, n, T, y, ldy, r0, r1);
        return;
    }
    int16_t *wq = (int16_t *)scr, *xrows = (int16_t *)(scr + wbytes + sbytes);
    float *ws = (float *)(scr + wbytes);
    for (int64_t tg = 0; tg < ntg && !ready; tg++) {
        const int nt = (int)(T - 16 * tg < 16 ? T - 16 * tg : 16);
        uint8_t *panel = panels + panel_bytes * (size_t)tg;
        float *xs = (float *)(panel + I16_PANEL_INT_BYTES(n_pad)); /* [block][token] */
        for (int t = 0; t < 16; t++) {
            if (t < nt)
                x_to_i16((const uint16_t *)((const uint8_t *)xq + (size_t)(16 * tg + t) * xrb), n, n_pad, xrows + (size_t)t * n_pad,
                         xs + t, 16);
            else
                for (int64_t b = 0; b < nblk; b++) xs[16 * b + t] = 0.0f;
        }
        pack_float_panel(1, xrows, (size_t)n_pad * 2, 0, nt, n_pad, n_pad, panel);
    }
    for (int64_t rb = r0; rb < r1; rb += FGEMM_ROW_BLOCK) {
        const int rows = (int)(r1 - rb < FGEMM_ROW_BLOCK ? r1 - rb : FGEMM_ROW_BLOCK);
        for (int r = 0; r < rows; r++)
            w_to_i16((const uint16_t *)((const uint8_t *)w + (size_t)(rb + r) * wrb), n, n_pad, wq + r * rstride, ws + r * sstride);
        for (int64_t tg = 0; tg < ntg; tg++) {
            const uint8_t *panel = panels + panel_bytes * (size_t)tg;
            const int nt = (int)(T - 16 * tg < 16 ? T - 16 * tg : 16);
            for (int r = 0; r < rows;) {
                __m512 out[8];
                const int nr = rows - r >= 8 ? 8 : rows - r >= 4 ? 4 : 1;
                const int16_t *wr = wq + r * rstride;
                const float *sr = ws + r * sstride;
                if (nr == 8) i16_tile(8, panel, nblk, wr, rstride, sr, sstride, out);
                else if (nr == 4) i16_tile(4, panel, nblk, wr, rstride, sr, sstride, out);
                else i16_tile(1, panel, nblk, wr, rstride, sr, sstride, out);
                store_tile(out, nr, nt, y + 16 * tg * ldy + rb + r, ldy);
                r += nr;
            }
        }
    }
}

/* Tokens in chunks of GEMM_TOKEN_CHUNK keep the packed activations (and the scratch memory) bounded;
 * weights are decoded again per chunk, which is cheap next to the chunk's arithmetic. */
#define GEMM_TOKEN_CHUNK 512
AI void gemm_int8(int type, const void *w, size_t wrb, const void *xq, size_t xrb, int64_t n, int64_t T, float *y,
                  int64_t ldy, int64_t r0, int64_t r1) {
    for (int64_t t = 0; t < T; t += GEMM_TOKEN_CHUNK)
        gemm_int8_chunk(type, w, wrb, (const char *)xq + (size_t)t * xrb, xrb, n, T - t < GEMM_TOKEN_CHUNK ? T - t : GEMM_TOKEN_CHUNK,
                        y + t * ldy, ldy, r0, r1);
}
/* F16 rows take the 16-bit integer products, F32 and BF16 rows the float tiles. */
AI void gemm_float(int type, const void *w, size_t wrb, const void *xq, size_t xrb, int64_t n, int64_t T, float *y,
                   int64_t ldy, int64_t r0, int64_t r1) {
    for (int64_t t = 0; t < T; t += GEMM_TOKEN_CHUNK) {
        const void *x = (const char *)xq + (size_t)t * xrb;
        const int64_t nt = T - t < GEMM_TOKEN_CHUNK ? T - t : GEMM_TOKEN_CHUNK;
        if (type == FFL_TYPE_F16) gemm_f16_i16_chunk(w, wrb, x, xrb, n, nt, y + t * ldy, ldy, r0, r1);
        else gemm_float_chunk(type, w, wrb, x, xrb, n, nt, y + t * ldy, ldy, r0, r1);
    }
}

/* ================================================================ activation quantizers
 * Bit-identical to the scalar reference (kernels.c): same float operations in the same order. */

/* roundf: round half away from zero. */
AI __m512 round_away(__m512 v) {
    __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m512 frac = _mm512_sub_ps(v, t); /* exact */
    __mmask16 up = _mm512_cmp_ps_mask(_mm512_abs_ps(frac), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    __m512 one = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(v, _mm512_set1_ps(-0.0f)));
    return _mm512_mask_add_ps(t, up, t, one);
}

AI void quant_q8_0_block(const float *x, int8_t *qs, uint16_t *dh, int *sum) {
    __m512 a = _mm512_loadu_ps(x), b = _mm512_loadu_ps(x + 16);
    float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(b)));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    *dh = ffl_float_to_half(d);
    __m512i qa = _mm512_cvttps_epi32(round_away(_mm512_mul_ps(a, _mm512_set1_ps(id))));
    __m512i qb = _mm512_cvttps_epi32(round_away(_mm512_mul_ps(b, _mm512_set1_ps(id))));
    _mm_storeu_si128((__m128i *)qs, _mm512_cvtepi32_epi8(qa));
    _mm_storeu_si128((__m128i *)(qs + 16), _mm512_cvtepi32_epi8(qb));
    if (sum) *sum = _mm512_reduce_add_epi32(_mm512_add_epi32(qa, qb));
}

static void quantize_q8_0_avx512(const float *x, void *xq, int64_t n) {
    block_q8_0 *y = xq;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        uint16_t d;
        quant_q8_0_block(x + 32 * i, y[i].qs, &d, NULL);
        y[i].d = d;
    }
}

static void quantize_q8_1_avx512(const float *x, void *xq, int64_t n) {
    block_q8_1 *y = xq;
    for (int64_t i = 0; i < n / QK8_1; i++) {
        uint16_t d;
        int sum;
        quant_q8_0_block(x + 32 * i, y[i].qs, &d, &sum);
        y[i].d = d;
        /* s = fp16(sum * d) with d the unrounded float scale, as the reference */
        __m512 a = _mm512_loadu_ps(x + 32 * i), b = _mm512_loadu_ps(x + 32 * i + 16);
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(b)));
        y[i].s = ffl_float_to_half((float)sum * (amax / 127.0f));
    }
}

/* Each block is built on the stack and copied out whole, as the AVX2 form does: the 33 small stores
 * of a block straight into the activation buffer stalled on lines the other thread had just read
 * (Zen 4, TinyLlama Q4_K_M tg64, 2 threads, when the host's memory is in its fast state the two
 * vCPUs seem to sit on different dies: encoding for the down projection 12.1 -> 7.3 ms a run, all
 * single-thread phases 50 -> 40 ms of ~870; slow state 2.9 -> 2.4 ms). */
static void quantize_q8_K_avx512(const float *x, void *xq, int64_t n) {
    block_q8_K *y = xq;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        __m512 m = _mm512_setzero_ps();
        for (int j = 0; j < QK_K; j += 16) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + j)));
        const float amax = _mm512_reduce_max_ps(m);
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        /* the signed value of the first element with the largest magnitude */
        float max = 0.0f;
        for (int j = 0; j < QK_K; j += 16) {
            __mmask16 hit = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + j)), _mm512_set1_ps(amax), _CMP_EQ_OQ);
            if (hit) {
                max = x[j + __builtin_ctz(hit)];
                break;
            }
        }
        const float iscale = -127.0f / max;
        const __m512 is = _mm512_set1_ps(iscale);
        block_q8_K blk;
        for (int g = 0; g < QK_K / 16; g++) {
            __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(is, _mm512_loadu_ps(x + 16 * g))); /* nearest, ties to even */
            v = _mm512_min_epi32(v, _mm512_set1_epi32(127));
            _mm_storeu_si128((__m128i *)(blk.qs + 16 * g), _mm512_cvtepi32_epi8(v));
            blk.bsums[g] = (int16_t)_mm512_reduce_add_epi32(v);
        }
        blk.d = 1.0f / iscale;
        memcpy(&y[i], &blk, sizeof blk);
    }
}

static void quantize_f16_avx512(const float *x, void *xq, int64_t n) {
    uint16_t *y = xq;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(y + i), _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; i++) y[i] = ffl_float_to_half(x[i]);
}

static void quantize_bf16_avx512(const float *x, void *xq, int64_t n) {
    uint16_t *y = xq;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i u = _mm512_castps_si512(_mm512_loadu_ps(x + i));
        __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1))));
        r = _mm512_srli_epi32(r, 16);
        /* NaN: keep the top half, force quiet */
        __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
        r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), _mm512_set1_epi32(64));
        _mm256_storeu_si256((__m256i *)(y + i), _mm512_cvtepi32_epi16(r));
    }
    for (; i < n; i++) y[i] = ffl_float_to_bf16(x[i]);
}

/* ================================================================ load-time layouts (repack.c's conversions, vectorized) */

/* Four 16-byte rows into one vector. */
AI __m512i four_rows(const uint8_t *p0, const uint8_t *p1, const uint8_t *p2, const uint8_t *p3) {
    const __m512i z = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)p0));
    return _mm512_inserti32x4(_mm512_inserti32x4(_mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)p1), 1),
                                                 _mm_loadu_si128((const __m128i *)p2), 2),
                              _mm_loadu_si128((const __m128i *)p3), 3);
}
AI __m512i four_xmm(__m128i a, __m128i b, __m128i c, __m128i d) {
    return _mm512_inserti32x4(_mm512_inserti32x4(_mm512_inserti32x4(_mm512_castsi128_si512(a), b, 1), c, 2), d, 3);
}

static void pack_rows_x16(int32_t rtype, const void *src, void *dst, size_t row_bytes, int64_t n_cols, int64_t n_rows) {
    const int64_t nb = n_cols / 32;
    const size_t bb = rtype == FFL_WTYPE_Q8_0_X16 ? sizeof(block_q8_0) : 18; /* bytes per 32 elements */
    for (int64_t r = 0; r < n_rows; r++) {
        const uint8_t *s = (const uint8_t *)src + (size_t)r * row_bytes;
        uint8_t *d = (uint8_t *)dst + (size_t)r * row_bytes;
        int64_t b = 0;
        for (; b + 16 <= nb; b += 16) {
            const uint8_t *x = s + b * bb;
            uint8_t *o = d + b * bb;
            if (rtype == FFL_WTYPE_Q8_0_X16) {
                __m256i rows[16];
                __attribute__((aligned(64))) uint8_t t[512];
                for (int j = 0; j < 16; j++) rows[j] = _mm256_loadu_si256((const __m256i *)(x + 34 * j + 2));
                transpose_16x8(rows, t, _mm512_setzero_si512());
                memcpy(o, t, 512);
                for (int j = 0; j < 16; j++) memcpy(o + 512 + 2 * j, x + 34 * j, 2);
            } else if (rtype == FFL_WTYPE_Q4_0_X16) {
                __m512i z[4], t[4];
                for (int k = 0; k < 4; k++) {
                    const uint8_t *q = x + 18 * 4 * k + 2; /* the quants of blocks 4k .. 4k + 3 */
                    z[k] = four_rows(q, q + 18, q + 36, q + 54);
                }
                transpose_16x4(z, t);
                for (int v = 0; v < 4; v++) _mm512_storeu_si512(o + 64 * v, t[v]);
                for (int j = 0; j < 16; j++) memcpy(o + 256 + 2 * j, x + 18 * j, 2);
            } else { /* Q4_K: two super-blocks, sub-block 2p / 2p + 1 are the low / high nibbles of qs pair p */
                const block_q4_K *k = (const block_q4_K *)x;
                const __m256i m4 = _mm256_set1_epi8(0x0F);
                __m128i sub16[16];
                for (int i = 0; i < 2; i++)
                    for (int p = 0; p < 4; p++) {
                        const __m256i q = _mm256_loadu_si256((const __m256i *)(k[i].qs + 32 * p));
                        const __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
                        /* element l and l + 16 of a sub-block share byte l */
                        sub16[8 * i + 2 * p] =
                            _mm_or_si128(_mm256_castsi256_si128(lo), _mm_slli_epi16(_mm256_extracti128_si256(lo, 1), 4));
                        sub16[8 * i + 2 * p + 1] =
                            _mm_or_si128(_mm256_castsi256_si128(hi), _mm_slli_epi16(_mm256_extracti128_si256(hi, 1), 4));
                    }
                __m512i z[4], t[4];
                for (int q = 0; q < 4; q++) z[q] = four_xmm(sub16[4 * q], sub16[4 * q + 1], sub16[4 * q + 2], sub16[4 * q + 3]);
                transpose_16x4(z, t);
                for (int v = 0; v < 4; v++) _mm512_storeu_si512(o + 64 * v, t[v]);
                const uint64_t meta[4] = {ffl_x16_k4_meta_word(&k[0], 0), ffl_x16_k4_meta_word(&k[1], 0),
                                          ffl_x16_k4_meta_word(&k[0], 1), ffl_x16_k4_meta_word(&k[1], 1)};
                memcpy(o + 256, meta, 32);
            }
        }
        if (b < nb) ffl_x16_pack_group(rtype, s + b * bb, 8, d + b * bb); /* a last group of 8 */
    }
}

static void pack_rows_q6_K(const void *src, void *dst, size_t row_bytes, int64_t n_cols, int64_t n_rows) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t b = 0; b < n_cols / QK_K; b++) {
            const size_t at = (size_t)r * row_bytes + (size_t)b * sizeof(block_q6_K);
            const uint8_t *x = (const uint8_t *)src + at;
            uint8_t *o = (uint8_t *)dst + at;
            kblock kb; /* the 6-bit values in element order */
            decode_k(FFL_TYPE_Q6_K, x, &kb);
            __m512i u[4];
            transpose_16x4(kb.w, u); /* u[c] lane s: elements 16 s + 4 c .. + 3 */
            _mm512_storeu_si512(o, _mm512_or_si512(_mm512_and_si512(u[0], m4), _mm512_slli_epi16(_mm512_and_si512(u[2], m4), 4)));
            _mm512_storeu_si512(o + 64, _mm512_or_si512(_mm512_and_si512(u[1], m4), _mm512_slli_epi16(_mm512_and_si512(u[3], m4), 4)));
            const __m512i h = _mm512_or_si512(
                _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(u[0], 4), _mm512_set1_epi8(0x03)),
                                _mm512_and_si512(_mm512_srli_epi16(u[1], 2), _mm512_set1_epi8(0x0C))),
                _mm512_or_si512(_mm512_and_si512(u[2], _mm512_set1_epi8(0x30)),
                                _mm512_and_si512(_mm512_slli_epi16(u[3], 2), _mm512_set1_epi8((char)0xC0))));
            _mm512_storeu_si512(o + 128, h);
            memcpy(o + 192, x + offsetof(block_q6_K, scales), 16 + 2); /* scales, d */
        }
}

#define REPACK_ENTRY(name, R)                                                                                      \
    static void name(const void *s, void *d, size_t rb, int64_t n, int64_t rows) { pack_rows_x16(R, s, d, rb, n, rows); }
REPACK_ENTRY(repack_q4_0, FFL_WTYPE_Q4_0_X16)
REPACK_ENTRY(repack_q8_0, FFL_WTYPE_Q8_0_X16)
REPACK_ENTRY(repack_q4_K, FFL_WTYPE_Q4_K_X16)

/* ================================================================ entry points */

#define MM_ENTRY(name, body)                                                                                       \
    static void name(const void *w, size_t wrb, const void *xq, size_t xrb, int64_t n, int64_t nt, float *y,      \
                     int64_t ldy, int64_t r0, int64_t r1) {                                                         \
        body;                                                                                                       \
    }

#define FLOAT_ENTRY(name, T)                                                                                       \
    MM_ENTRY(name, if (nt >= GEMM_MIN_TOKENS) gemm_float(T, w, wrb, xq, xrb, n, nt, y, ldy, r0, r1);               \
             else float_direct(T, T == FFL_TYPE_BF16, w, wrb, xq, xrb, n, nt, y, ldy, r0, r1))
FLOAT_ENTRY(mm_f32, FFL_TYPE_F32)
FLOAT_ENTRY(mm_f16, FFL_TYPE_F16)
FLOAT_ENTRY(mm_bf16, FFL_TYPE_BF16)
#define INT8_ENTRY(name, T, direct)                                                                                \
    MM_ENTRY(name, if (nt >= GEMM_MIN_TOKENS) gemm_int8(T, w, wrb, xq, xrb, n, nt, y, ldy, r0, r1);                 \
             else direct(T, w, wrb, xq, xrb, n, nt, y, ldy, r0, r1))
INT8_ENTRY(mm_q4_0, FFL_TYPE_Q4_0, direct32)
#define X16_ENTRY(name, R)                                                                                         \
    MM_ENTRY(name, if (nt >= GEMM_MIN_TOKENS) gemm_int8(R, w, wrb, xq, xrb, n, nt, y, ldy, r0, r1);                 \
             else direct_x16(R, w, wrb, xq, xrb, n, nt, y, ldy, r0, r1))
X16_ENTRY(mm_q4_0_x16, FFL_WTYPE_Q4_0_X16)
X16_ENTRY(mm_q8_0_x16, FFL_WTYPE_Q8_0_X16)
X16_ENTRY(mm_q4_K_x16, FFL_WTYPE_Q4_K_X16)
X16_ENTRY(mm_q6_K_x16, FFL_WTYPE_Q6_K_X16)
INT8_ENTRY(mm_q4_1, FFL_TYPE_Q4_1, direct32)
INT8_ENTRY(mm_q5_0, FFL_TYPE_Q5_0, direct32)
INT8_ENTRY(mm_q5_1, FFL_TYPE_Q5_1, direct32)
INT8_ENTRY(mm_q8_0, FFL_TYPE_Q8_0, direct32)
INT8_ENTRY(mm_iq4_nl, FFL_TYPE_IQ4_NL, direct32)
INT8_ENTRY(mm_q2_K, FFL_TYPE_Q2_K, direct_k)
INT8_ENTRY(mm_q3_K, FFL_TYPE_Q3_K, direct_k)
INT8_ENTRY(mm_q4_K, FFL_TYPE_Q4_K, direct_k)
INT8_ENTRY(mm_q5_K, FFL_TYPE_Q5_K, direct_k)
INT8_ENTRY(mm_q6_K, FFL_TYPE_Q6_K, direct_k)
INT8_ENTRY(mm_iq4_xs, FFL_TYPE_IQ4_XS, direct_k)

/* ================================================================ attention
 *
 * Query rows against one KV head's cache rows: a token's heads that share the KV head (grouped-query
 * attention), or a prompt block's tokens of one head. For a single token the general products cost
 * more in packing than in arithmetic: the cells were transposed into token panels, and the products
 * transposed back (TinyLlama after a 1024-token prompt: a sixth of a token's time, most of it moving
 * data). Here the keys are read in place (a head's keys are contiguous rows, model/kv_cache.h), 16
 * cells at a time, and each row's 16 dot products are summed across lanes together. */

/* Lane i of the result: the sum of the 16 lanes of a[i] (45 instructions for 16 sums). */
AI __m512 hsum16x16(const __m512 a[16]) {
    __m512 b[8], d[4];
    for (int k = 0; k < 8; k++) /* per 128-bit lane: the halves of a[2k] and a[2k + 1] added */
        b[k] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * k], a[2 * k + 1]), _mm512_unpackhi_ps(a[2 * k], a[2 * k + 1]));
    for (int k = 0; k < 4; k++) { /* per 128-bit lane: the lane sums of a[4k] .. a[4k + 3] */
        const __m512d x = _mm512_castps_pd(b[2 * k]), y = _mm512_castps_pd(b[2 * k + 1]);
        d[k] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)), _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
    }
    const __m512 u0 = _mm512_add_ps(_mm512_shuffle_f32x4(d[0], d[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                    _mm512_shuffle_f32x4(d[0], d[1], _MM_SHUFFLE(3, 1, 3, 1)));
    const __m512 u1 = _mm512_add_ps(_mm512_shuffle_f32x4(d[2], d[3], _MM_SHUFFLE(2, 0, 2, 0)),
                                    _mm512_shuffle_f32x4(d[2], d[3], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm512_add_ps(_mm512_shuffle_f32x4(u0, u1, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_f32x4(u0, u1, _MM_SHUFFLE(3, 1, 3, 1)));
}

/* 16 cache elements (n < 16: the first n, zeros after) as floats. */
AI __m512 load_kv16(int half, const uint8_t *p, int n) {
    const __mmask16 m = n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1);
    return half ? _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)) : _mm512_maskz_loadu_ps(m, p);
}

/* x rounded to F16 and back (ggml converts the F32 side of an F16 product to F16). */
AI __m512 round_half16(__m512 x) { return _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)); }

#define ATT_MAX_HD 256

static int attn_scores_avx512(int32_t kvt, const float *q, int32_t nh, int32_t hd, int64_t qs, const void *k, size_t ks, int32_t w,
                              float *scores) {
    if (nh < 1 || hd < 1 || hd > ATT_MAX_HD) return 0;
    const int half = kvt == FFL_TYPE_F16, nc = (hd + 15) / 16, hdp = 16 * nc; /* rows zero-padded to 16 */
    const size_t eb = half ? 2 : 4;
    float *kf = ffl_kernel_scratch((size_t)(16 + nh) * (size_t)hdp * sizeof(float)); /* 16 key rows, then q */
    if (!kf) return 0;
    float *qr = kf + 16 * hdp;
    for (int32_t h = 0; h < nh; h++) /* the query rows, rounded, contiguous and zero-padded */
        for (int c = 0; c < nc; c++) {
            const int n = hd - 16 * c < 16 ? hd - 16 * c : 16;
            const __m512 x = _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), q + (int64_t)h * qs + 16 * c);
            _mm512_store_ps(qr + (int64_t)h * hdp + 16 * c, half ? round_half16(x) : x);
        }
    for (int32_t j0 = 0; j0 < w; j0 += 16) {
        const int nj = w - j0 < 16 ? w - j0 : 16;
        for (int j = 0; j < 16; j++) { /* the block's keys as floats, rows past w as zeros */
            const uint8_t *row = (const uint8_t *)k + (size_t)(j0 + j) * ks;
            for (int c = 0; c < nc; c++)
                _mm512_store_ps(kf + j * hdp + 16 * c, j < nj ? load_kv16(half, row + 16 * eb * c, hd - 16 * c) : _mm512_setzero_ps());
        }
        const __mmask16 m = nj == 16 ? 0xFFFF : (__mmask16)((1u << nj) - 1);
        for (int32_t h = 0; h < nh; h++) {
            const float *qh = qr + (int64_t)h * hdp;
            __m512 a[16];
#pragma GCC unroll 16
            for (int j = 0; j < 16; j++) a[j] = _mm512_setzero_ps();
            for (int c = 0; c < nc; c++) {
                const __m512 qc = _mm512_load_ps(qh + 16 * c);
#pragma GCC unroll 16
                for (int j = 0; j < 16; j++) a[j] = _mm512_fmadd_ps(qc, _mm512_load_ps(kf + j * hdp + 16 * c), a[j]);
            }
            _mm512_mask_storeu_ps(scores + (int64_t)h * w + j0, m, hsum16x16(a));
        }
    }
    return 1;
}

/* Values: a pass takes H heads and C = 16 / H channels (16 accumulators), the heads' probabilities
 * loaded once per 16 cells for all C channel rows. ph: H rows of wp probabilities. */
AI void values_pass(int half, int H, int C, const float *ph, int32_t wp, int32_t w, const void *v, size_t vs, int32_t hdv,
                    float *out, int64_t os) {
    const size_t eb = half ? 2 : 4;
    for (int32_t c0 = 0; c0 < hdv; c0 += C) {
        const int nC = hdv - c0 < C ? hdv - c0 : C;
        const uint8_t *vr[16];
        for (int cc = 0; cc < C; cc++) vr[cc] = (const uint8_t *)v + (size_t)(c0 + (cc < nC ? cc : 0)) * vs;
        __m512 acc[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) acc[i] = _mm512_setzero_ps();
        for (int32_t j0 = 0; j0 < wp; j0 += 16) {
            const int n = w - j0 < 16 ? w - j0 : 16;
            __m512 p[8];
#pragma GCC unroll 8
            for (int hh = 0; hh < H; hh++) p[hh] = _mm512_load_ps(ph + (int64_t)hh * wp + j0);
#pragma GCC unroll 16
            for (int cc = 0; cc < C; cc++) { /* channels past hdv repeat the first one, unused */
                const __m512 x = load_kv16(half, vr[cc] + (size_t)j0 * eb, n);
#pragma GCC unroll 8
                for (int hh = 0; hh < H; hh++) acc[hh * C + cc] = _mm512_fmadd_ps(p[hh], x, acc[hh * C + cc]);
            }
        }
        float r[16];
        _mm512_storeu_ps(r, hsum16x16(acc));
        for (int hh = 0; hh < H; hh++)
            for (int cc = 0; cc < nC; cc++) out[(int64_t)hh * os + c0 + cc] = r[hh * C + cc];
    }
}

static int attn_values_avx512(int32_t kvt, const float *p, int32_t nh, int32_t w, const void *v, size_t vs, int32_t hdv,
                              float *out, int64_t os) {
    if (nh < 1 || hdv < 1) return 0;
    const int half = kvt == FFL_TYPE_F16;
    const int32_t wp = (w + 15) & ~15;
    float *pr = ffl_kernel_scratch((size_t)nh * (size_t)wp * sizeof(float)); /* p rounded, zero-padded to 16 cells */
    if (!pr) return 0;
    for (int32_t h = 0; h < nh; h++)
        for (int32_t j0 = 0; j0 < wp; j0 += 16) {
            const int n = w - j0 < 16 ? w - j0 : 16;
            const __m512 x = _mm512_maskz_loadu_ps(n == 16 ? 0xFFFF : (__mmask16)((1u << n) - 1), p + (int64_t)h * w + j0);
            _mm512_store_ps(pr + (int64_t)h * wp + j0, half ? round_half16(x) : x);
        }
    for (int32_t h0 = 0; h0 < nh; h0 += 8) {
        const int H = nh - h0 < 8 ? nh - h0 : 8;
        const float *ph = pr + (int64_t)h0 * wp;
        float *o = out + (int64_t)h0 * os;
        switch (H) { /* constant H and C keep the accumulators in registers */
        case 1: values_pass(half, 1, 16, ph, wp, w, v, vs, hdv, o, os); break;
        case 2: values_pass(half, 2, 8, ph, wp, w, v, vs, hdv, o, os); break;
        case 3: values_pass(half, 3, 5, ph, wp, w, v, vs, hdv, o, os); break;
        case 4: values_pass(half, 4, 4, ph, wp, w, v, vs, hdv, o, os); break;
        case 5: values_pass(half, 5, 3, ph, wp, w, v, vs, hdv, o, os); break;
        case 6: values_pass(half, 6, 2, ph, wp, w, v, vs, hdv, o, os); break;
        case 7: values_pass(half, 7, 2, ph, wp, w, v, vs, hdv, o, os); break;
        default: values_pass(half, 8, 2, ph, wp, w, v, vs, hdv, o, os); break;
        }
    }
    return 1;
}

void ffl_kernels_fill_avx512(ffl_kernel_table *t) {
    const ffl_cpu_info *ci = ffl_cpu_info_get();
    if (!ci->avx512vnni || !ci->avx512vbmi || !ci->gfni) return; /* without VNNI/VBMI/GFNI the AVX2 kernels stay */
    init_quad_tables();
    t->quantize[FFL_ACT_Q8_0] = quantize_q8_0_avx512;
    t->quantize[FFL_ACT_Q8_1] = quantize_q8_1_avx512;
    t->quantize[FFL_ACT_Q8_K] = quantize_q8_K_avx512;
    t->quantize[FFL_ACT_BF16] = quantize_bf16_avx512;
    t->quantize[FFL_ACT_F16] = quantize_f16_avx512;
    t->attn_scores = attn_scores_avx512;
    t->attn_values = attn_values_avx512;
    t->matmul[FFL_TYPE_F32] = mm_f32;
    t->matmul[FFL_TYPE_F16] = mm_f16;
    t->f16_int16 = 1;
    if (ci->avx512bf16) t->matmul[FFL_TYPE_BF16] = mm_bf16; /* the tiled path uses vdpbf16ps */
    t->matmul[FFL_TYPE_Q4_0] = mm_q4_0;
    t->matmul[FFL_WTYPE_Q4_0_X16] = mm_q4_0_x16;
    t->matmul[FFL_WTYPE_Q8_0_X16] = mm_q8_0_x16;
    t->matmul[FFL_WTYPE_Q4_K_X16] = mm_q4_K_x16;
    t->matmul[FFL_WTYPE_Q6_K_X16] = mm_q6_K_x16;
    t->repack[FFL_WTYPE_Q4_0_X16] = repack_q4_0;
    t->repack[FFL_WTYPE_Q8_0_X16] = repack_q8_0;
    t->repack[FFL_WTYPE_Q4_K_X16] = repack_q4_K;
    t->repack[FFL_WTYPE_Q6_K_X16] = pack_rows_q6_K;
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
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
