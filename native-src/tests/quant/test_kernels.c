/* Kernel tests: every dispatch level this CPU supports must give the scalar reference's results
 * (activation blocks byte-identical, matmul sums equal up to float summation order), and the
 * quantized dot products must stay close to the exact float dot of the dequantized weights. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fp16.h"
#include "fflama.h"
#include "quant/blocks.h"
#include "quant/kernels.h"
#include "quant/kernels_internal.h"
#include "quant/repack.h"
#include "test_levels.h"
#include "test_util.h"

/* ---------------------------------------------------------------- test data */

static const int32_t TYPES[] = {FFL_TYPE_F32,  FFL_TYPE_F16,  FFL_TYPE_BF16, FFL_TYPE_Q8_0, FFL_TYPE_Q4_0,
                                FFL_TYPE_Q4_1, FFL_TYPE_Q5_0, FFL_TYPE_Q5_1, FFL_TYPE_IQ4_NL, FFL_TYPE_Q2_K,
                                FFL_TYPE_Q3_K, FFL_TYPE_Q4_K, FFL_TYPE_Q5_K, FFL_TYPE_Q6_K, FFL_TYPE_IQ4_XS};
#define N_TYPES ((int)(sizeof TYPES / sizeof TYPES[0]))

static uint16_t rnd_half(float lo, float hi) { return ffl_float_to_half(test_rndf(lo, hi)); }

/* Random but well-formed weights: random quant bits, scales in a sane range. */
static void random_weights(int32_t type, void *dst, int64_t n) {
    int64_t bs = ffl_type_block_size(type), bb = ffl_type_block_bytes(type), nb = n / bs;
    uint8_t *p = dst;
    for (int64_t i = 0; i < nb * bb; i++) p[i] = (uint8_t)test_rnd32();
    for (int64_t b = 0; b < nb; b++) {
        void *blk = p + b * bb;
        switch (type) {
        case FFL_TYPE_F32: *(float *)blk = test_rndf(-1, 1); break;
        case FFL_TYPE_F16: *(uint16_t *)blk = rnd_half(-1, 1); break;
        case FFL_TYPE_BF16: *(uint16_t *)blk = ffl_float_to_bf16(test_rndf(-1, 1)); break;
        case FFL_TYPE_Q8_0: ((block_q8_0 *)blk)->d = rnd_half(-0.01f, 0.01f); break;
        case FFL_TYPE_Q4_0: ((block_q4_0 *)blk)->d = rnd_half(-0.15f, 0.15f); break;
        case FFL_TYPE_Q5_0: ((block_q5_0 *)blk)->d = rnd_half(-0.07f, 0.07f); break;
        case FFL_TYPE_IQ4_NL: ((block_iq4_nl *)blk)->d = rnd_half(-0.01f, 0.01f); break;
        case FFL_TYPE_Q4_1: ((block_q4_1 *)blk)->d = rnd_half(0, 0.15f); ((block_q4_1 *)blk)->m = rnd_half(-1, 0); break;
        case FFL_TYPE_Q5_1: ((block_q5_1 *)blk)->d = rnd_half(0, 0.07f); ((block_q5_1 *)blk)->m = rnd_half(-1, 0); break;
        case FFL_TYPE_Q2_K: ((block_q2_K *)blk)->d = rnd_half(0, 0.05f); ((block_q2_K *)blk)->dmin = rnd_half(0, 0.05f); break;
        case FFL_TYPE_Q3_K: ((block_q3_K *)blk)->d = rnd_half(-0.01f, 0.01f); break;
        case FFL_TYPE_Q4_K: ((block_q4_K *)blk)->d = rnd_half(0, 0.003f); ((block_q4_K *)blk)->dmin = rnd_half(0, 0.01f); break;
        case FFL_TYPE_Q5_K: ((block_q5_K *)blk)->d = rnd_half(0, 0.0015f); ((block_q5_K *)blk)->dmin = rnd_half(0, 0.01f); break;
        case FFL_TYPE_Q6_K: ((block_q6_K *)blk)->d = rnd_half(-0.001f, 0.001f); break;
        case FFL_TYPE_IQ4_XS: ((block_iq4_xs *)blk)->d = rnd_half(-0.0005f, 0.0005f); break;
        default: break;
        }
        /* zero scales and zero minimums happen in real files (all-zero rows, non-negative blocks) */
        if (bs > 1 && b % 11 == 5) memset(blk, 0, 2); /* d of every type but Q2_K/Q3_K/Q6_K is first */
        if (b % 5 == 3) {
            if (type == FFL_TYPE_Q4_K || type == FFL_TYPE_Q5_K) memset((uint8_t *)blk + 2, 0, 2);
            if (type == FFL_TYPE_Q2_K) ((block_q2_K *)blk)->dmin = 0;
        }
    }
}

/* ---------------------------------------------------------------- test-side dequantizers (from the format) */

static void deq(int32_t type, const void *src, float *y, int64_t n) {
    int64_t bs = ffl_type_block_size(type), nb = n / bs;
    for (int64_t b = 0; b < nb; b++, y += bs) {
        switch (type) {
        case FFL_TYPE_F32: y[0] = ((const float *)src)[b]; break;
        case FFL_TYPE_F16: y[0] = ffl_half_to_float(((const uint16_t *)src)[b]); break;
        case FFL_TYPE_BF16: y[0] = ffl_bf16_to_float(((const uint16_t *)src)[b]); break;
        case FFL_TYPE_Q8_0: {
            const block_q8_0 *x = (const block_q8_0 *)src + b;
            for (int j = 0; j < 32; j++) y[j] = ffl_half_to_float(x->d) * x->qs[j];
        } break;
        case FFL_TYPE_Q4_0: {
            const block_q4_0 *x = (const block_q4_0 *)src + b;
            for (int j = 0; j < 16; j++) {
                y[j] = ffl_half_to_float(x->d) * ((x->qs[j] & 15) - 8);
                y[j + 16] = ffl_half_to_float(x->d) * ((x->qs[j] >> 4) - 8);
            }
        } break;
        case FFL_TYPE_Q4_1: {
            const block_q4_1 *x = (const block_q4_1 *)src + b;
            for (int j = 0; j < 16; j++) {
                y[j] = ffl_half_to_float(x->d) * (x->qs[j] & 15) + ffl_half_to_float(x->m);
                y[j + 16] = ffl_half_to_float(x->d) * (x->qs[j] >> 4) + ffl_half_to_float(x->m);
            }
        } break;
        case FFL_TYPE_Q5_0:
        case FFL_TYPE_Q5_1: {
            const uint8_t *qh, *qs;
            float d, m;
            if (type == FFL_TYPE_Q5_0) {
                const block_q5_0 *x = (const block_q5_0 *)src + b;
                qh = x->qh, qs = x->qs, d = ffl_half_to_float(x->d), m = -16 * d;
            } else {
                const block_q5_1 *x = (const block_q5_1 *)src + b;
                qh = x->qh, qs = x->qs, d = ffl_half_to_float(x->d), m = ffl_half_to_float(x->m);
            }
            uint32_t h = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
            for (int j = 0; j < 16; j++) {
                y[j] = d * ((qs[j] & 15) | ((h >> j & 1) << 4)) + m;
                y[j + 16] = d * ((qs[j] >> 4) | ((h >> (j + 16) & 1) << 4)) + m;
            }
        } break;
        case FFL_TYPE_IQ4_NL: {
            const block_iq4_nl *x = (const block_iq4_nl *)src + b;
            for (int j = 0; j < 16; j++) {
                y[j] = ffl_half_to_float(x->d) * ffl_iq4nl_values[x->qs[j] & 15];
                y[j + 16] = ffl_half_to_float(x->d) * ffl_iq4nl_values[x->qs[j] >> 4];
            }
        } break;
        case FFL_TYPE_Q2_K: {
            const block_q2_K *x = (const block_q2_K *)src + b;
            for (int e = 0; e < 256; e++) {
                int c = e / 128, j = (e % 128) / 32, l = e % 32, g = e / 16;
                int q = (x->qs[32 * c + l] >> (2 * j)) & 3;
                y[e] = ffl_half_to_float(x->d) * (x->scales[g] & 15) * q - ffl_half_to_float(x->dmin) * (x->scales[g] >> 4);
            }
        } break;
        case FFL_TYPE_Q3_K: {
            const block_q3_K *x = (const block_q3_K *)src + b;
            int8_t sc[16];
            ffl_q3k_scales(x->scales, sc);
            for (int e = 0; e < 256; e++) {
                int c = e / 128, j = (e % 128) / 32, l = e % 32, g = e / 16;
                int q = ((x->qs[32 * c + l] >> (2 * j)) & 3) - ((x->hmask[l] >> (4 * c + j) & 1) ? 0 : 4);
                y[e] = ffl_half_to_float(x->d) * sc[g] * q;
            }
        } break;
        case FFL_TYPE_Q4_K:
        case FFL_TYPE_Q5_K: {
            const uint8_t *scales, *qs, *qh = NULL;
            float d, dmin;
            if (type == FFL_TYPE_Q4_K) {
                const block_q4_K *x = (const block_q4_K *)src + b;
                scales = x->scales, qs = x->qs, d = ffl_half_to_float(x->d), dmin = ffl_half_to_float(x->dmin);
            } else {
                const block_q5_K *x = (const block_q5_K *)src + b;
                scales = x->scales, qs = x->qs, qh = x->qh, d = ffl_half_to_float(x->d), dmin = ffl_half_to_float(x->dmin);
            }
            for (int e = 0; e < 256; e++) {
                int j = e / 32, c = e / 64, l = e % 32;
                uint8_t sc, mn;
                ffl_k4_scale_min(j, scales, &sc, &mn);
                int q = (j & 1) ? qs[32 * c + l] >> 4 : qs[32 * c + l] & 15;
                if (qh) q |= ((qh[l] >> j) & 1) << 4;
                y[e] = d * sc * q - dmin * mn;
            }
        } break;
        case FFL_TYPE_Q6_K: {
            const block_q6_K *x = (const block_q6_K *)src + b;
            for (int e = 0; e < 256; e++) {
                int c = e / 128, k = (e % 128) / 32, l = e % 32;
                const uint8_t *ql = x->ql + 64 * c + (k & 1) * 32;
                int lo = (k >= 2) ? ql[l] >> 4 : ql[l] & 15;
                int hi = (x->qh[32 * c + l] >> (2 * k)) & 3;
                y[e] = ffl_half_to_float(x->d) * x->scales[e / 16] * ((lo | hi << 4) - 32);
            }
        } break;
        case FFL_TYPE_IQ4_XS: {
            const block_iq4_xs *x = (const block_iq4_xs *)src + b;
            for (int e = 0; e < 256; e++) {
                int ib = e / 32, l = e % 32;
                uint8_t q = x->qs[16 * ib + (l & 15)];
                q = l < 16 ? q & 15 : q >> 4;
                y[e] = ffl_half_to_float(x->d) * ffl_iq4xs_scale(x, ib) * ffl_iq4nl_values[q];
            }
        } break;
        default: break;
        }
    }
}

/* ---------------------------------------------------------------- helpers */

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static int64_t type_row_bytes(int32_t type, int64_t n) { return ffl_type_row_bytes(type, n); }

/* Activation quantizers of every level must equal the scalar ones byte for byte. */
static void test_activation_quantizers(int32_t level) {
    static const int32_t wtypes[] = {FFL_TYPE_F32, FFL_TYPE_Q8_0, FFL_TYPE_Q4_1, FFL_TYPE_Q4_K, FFL_TYPE_BF16, FFL_TYPE_F16};
    for (int wi = 0; wi < 6; wi++) {
        int32_t wt = wtypes[wi];
        for (int64_t n = 256; n <= 4096; n *= 4) {
            int rows = 3;
            float *x = xmalloc(sizeof(float) * (size_t)(n * rows));
            for (int64_t i = 0; i < n * rows; i++) x[i] = test_rndf(-3, 3) * ((i % 97 == 0) ? 10.0f : 1.0f);
            /* exact halves after scaling hit the rounding rule */
            x[5] = 0.0f;
            x[7] = -40.0f, x[9] = 40.0f; /* tie in magnitude: Q8_K takes the first one's sign */
            for (int64_t i = n; i < n + 32; i++) x[i] = (float)(i - n - 16) * 0.5f;
            memset(x + 2 * n, 0, sizeof(float) * 256); /* an all-zero block */
            size_t rb = ffl_activation_row_bytes(wt, n);
            uint8_t *a = xmalloc(rb * rows), *b = xmalloc(rb * rows);
            memset(a, 0xAB, rb * rows);
            memset(b, 0xCD, rb * rows);
            ffl_cpu_set_level(FFL_CPU_SCALAR);
            ffl_quantize_activations(wt, x, n, a, n, 0, rows);
            ffl_cpu_set_level(level);
            ffl_quantize_activations(wt, x, n, b, n, 0, rows);
            CHECK_MSG(memcmp(a, b, rb * rows) == 0, "activations for %s differ at level %s (n=%lld)",
                      ffl_type_name(wt), ffl_cpu_level_name(level), (long long)n);
            free(x), free(a), free(b);
        }
    }
}

/* Q8_0 activations round like ggml's reference: roundf (half away from zero) of x / (amax / 127). */
static void test_q8_0_rounding(int32_t level) {
    float x[32];
    for (int j = 0; j < 32; j++) x[j] = (float)(j - 16) * 0.5f + 0.25f; /* amax 7.75 */
    x[0] = 127.0f; /* d = 1: then x / d keeps the exact halves */
    x[1] = 2.5f, x[2] = -2.5f, x[3] = 0.5f, x[4] = -0.5f, x[5] = 1.5f;
    block_q8_0 q;
    ffl_cpu_set_level(level);
    ffl_quantize_activations(FFL_TYPE_Q8_0, x, 32, &q, 32, 0, 1);
    CHECK(q.qs[0] == 127);
    CHECK(q.qs[1] == 3 && q.qs[2] == -3 && q.qs[3] == 1 && q.qs[4] == -1 && q.qs[5] == 2);
    CHECK(ffl_half_to_float(q.d) == 1.0f);
}

/* The quantized dot product stays close to the exact dot of dequantized weights and float activations. */
static void test_accuracy(int32_t level) {
    ffl_cpu_set_level(level);
    for (int ti = 0; ti < N_TYPES; ti++) {
        int32_t type = TYPES[ti];
        const int64_t n = 4096;
        const int rows = 4;
        int64_t wrb = type_row_bytes(type, n);
        uint8_t *w = xmalloc((size_t)(wrb * rows));
        random_weights(type, w, n * rows);
        float *x = xmalloc(sizeof(float) * n), *wf = xmalloc(sizeof(float) * n);
        for (int64_t i = 0; i < n; i++) x[i] = 0.1f + 2.0f * cosf((float)i + 0.5f);
        uint8_t *xq = xmalloc(ffl_activation_row_bytes(type, n));
        ffl_quantize_activations(type, x, n, xq, n, 0, 1);
        float y[4];
        ffl_matmul_rows(type, w, (size_t)wrb, xq, n, 1, y, rows, 0, rows);
        for (int r = 0; r < rows; r++) {
            deq(type, w + r * wrb, wf, n);
            double exact = 0, mag = 0;
            for (int64_t i = 0; i < n; i++) {
                exact += (double)wf[i] * x[i];
                mag += fabs((double)wf[i] * x[i]);
            }
            double err = fabs(y[r] - exact);
            CHECK_MSG(err / n <= 0.02, "%s level %s: |dot error|/n = %g", ffl_type_name(type), ffl_cpu_level_name(level), err / n);
            CHECK_MSG(err <= 2e-3 * mag + 1e-6, "%s level %s row %d: got %g, exact %g (sum |w x| = %g)", ffl_type_name(type),
                      ffl_cpu_level_name(level), r, y[r], exact, mag);
        }
        free(w), free(x), free(wf), free(xq);
    }
}

/* How far F16 products of many tokens on 16-bit integers (kernels_avx512.c) may be from the float
 * ones, row w against F16 activations x: per block of 64 columns the activations are off by at most
 * their largest magnitude / 8190 and the weights by 2^(e - 13), e = floor(log2) of their largest. */
static double f16_int16_bound(const uint16_t *w, const uint16_t *x, int64_t n) {
    double bound = 0;
    for (int64_t k0 = 0; k0 < n; k0 += 64) {
        double wmax = 0, xmax = 0, wsum = 0, xsum = 0;
        for (int64_t k = k0; k < n && k < k0 + 64; k++) {
            const double a = fabs((double)ffl_half_to_float(w[k])), b = fabs((double)ffl_half_to_float(x[k]));
            wmax = a > wmax ? a : wmax, xmax = b > xmax ? b : xmax, wsum += a, xsum += b;
        }
        int e = 0;
        (void)frexp(wmax, &e); /* wmax = m 2^e, m in [0.5, 1): floor(log2 wmax) = e - 1 */
        bound += wsum * xmax / 8190 + (xsum + xmax / 8190 * 64) * ldexp(1, e - 14);
    }
    return bound;
}

/* Whether ffl_matmul_rows takes F16 rows against `tokens` tokens in 16-bit integers at the current
 * level (8: the tiled path's minimum). */
static int f16_int16_path(int64_t tokens) { return tokens >= 8 && ffl_matmul_peak_kind(FFL_TYPE_F16) == FFL_PEAK_INT16_DOT; }

/* ffl_matmul_rows at a level equals the scalar dot products on the same activation blocks. With a
 * load-time layout (rtype >= 0) the rows are repacked first and multiplied in that layout; the
 * reference stays the scalar dot of the rows as they were, and the layout's own scalar dot must equal
 * it bit for bit. */
static void check_matmul_as(int32_t level, int32_t type, int32_t rtype, int64_t n, int64_t rows, int64_t tokens, int64_t r0,
                            int64_t r1, int misalign) {
    int64_t wrb = type_row_bytes(type, n);
    size_t arb = ffl_activation_row_bytes(type, n);
    uint8_t *wbuf = xmalloc((size_t)(wrb * rows) + 64);
    uint8_t *w = wbuf + misalign;
    random_weights(type, w, n * rows);
    uint8_t *mbuf = NULL, *mw = w; /* the rows multiplied */
    if (rtype >= 0) {
        CHECK(ffl_activation_row_bytes(rtype, n) == arb);
        mbuf = xmalloc((size_t)(wrb * rows) + 64);
        mw = mbuf + misalign;
        ffl_repack_rows(rtype, w, mw, (size_t)wrb, n, rows);
    }
    const int32_t mtype = rtype >= 0 ? rtype : type;
    float *x = xmalloc(sizeof(float) * (size_t)(n * tokens));
    for (int64_t i = 0; i < n * tokens; i++) x[i] = test_rndf(-1, 1);
    uint8_t *xbuf = xmalloc(arb * tokens + 64);
    /* activation blocks keep the alignment their type needs (Q8_K and f32 rows hold floats) */
    int32_t act = ffl_vec_dot_type(type);
    uint8_t *xq = xbuf + (misalign && (act == FFL_TYPE_Q8_K || act == FFL_TYPE_F32) ? 4 : misalign);
    ffl_cpu_set_level(level);
    ffl_quantize_activations(mtype, x, n, xq, n, 0, tokens);
    const int64_t ldy = rows + 3;
    float *y = xmalloc(sizeof(float) * (size_t)(ldy * tokens));
    for (int64_t i = 0; i < ldy * tokens; i++) y[i] = -12345.0f;
    ffl_matmul_rows(mtype, mw, (size_t)wrb, xq, n, tokens, y, ldy, r0, r1);
    const char *layout = rtype >= 0 ? " repacked" : "";
    float *wf = xmalloc(sizeof(float) * n);
    int bad = 0;
    for (int64_t r = 0; r < rows && bad < 3; r++) {
        deq(type, w + r * wrb, wf, n);
        for (int64_t t = 0; t < tokens && bad < 3; t++) {
            float got = y[t * ldy + r];
            if (r < r0 || r >= r1) {
                if (got != -12345.0f) bad++;
                CHECK_MSG(got == -12345.0f, "%s%s: row %lld outside [%lld,%lld) was written", ffl_type_name(type), layout,
                          (long long)r, (long long)r0, (long long)r1);
                continue;
            }
            float ref = ffl_dot_scalar(type, n, w + r * wrb, xq + t * arb);
            if (rtype >= 0) {
                const float ref_layout = ffl_dot_scalar(rtype, n, mw + r * wrb, xq + t * arb);
                if (ref_layout != ref) bad++;
                CHECK_MSG(ref_layout == ref, "%s repacked scalar n=%lld: %.9g, as stored %.9g", ffl_type_name(type), (long long)n,
                          ref_layout, ref);
            }
            /* magnitude bound for the summation-order tolerance */
            double mag = 0;
            for (int64_t i = 0; i < n; i++) mag += fabs((double)wf[i] * x[t * n + i]);
            double tol = 2e-5 * mag + 1e-6;
            if (type == FFL_TYPE_F16 && f16_int16_path(tokens))
                tol += f16_int16_bound((const uint16_t *)(w + r * wrb), (const uint16_t *)(xq + t * arb), n);
            if (!(fabs(got - ref) <= tol)) bad++;
            CHECK_MSG(fabs(got - ref) <= tol, "%s%s level %s n=%lld rows=%lld tokens=%lld: y[%lld][%lld] = %.7g, scalar %.7g",
                      ffl_type_name(type), layout, ffl_cpu_level_name(level), (long long)n, (long long)rows, (long long)tokens,
                      (long long)t, (long long)r, got, ref);
        }
    }
    for (int64_t t = 0; t < tokens; t++)
        for (int64_t r = rows; r < ldy; r++) CHECK(y[t * ldy + r] == -12345.0f);
    free(wbuf), free(mbuf), free(x), free(xbuf), free(y), free(wf);
}

static void check_matmul(int32_t level, int32_t type, int64_t n, int64_t rows, int64_t tokens, int64_t r0, int64_t r1, int misalign) {
    check_matmul_as(level, type, -1, n, rows, tokens, r0, r1, misalign);
}

static void test_matmul_shapes(int32_t level) {
    static const int64_t tokens_list[] = {1, 2, 3, 7, 16, 33};
    static const int64_t rows_list[] = {1, 3, 16, 37};
    for (int ti = 0; ti < N_TYPES; ti++) {
        int32_t type = TYPES[ti];
        int64_t bs = ffl_type_block_size(type);
        int64_t unit = bs == 1 ? 1 : bs;
        int64_t ns[6];
        int nn = 0;
        if (bs == 1) {
            /* 4100: a long row with a tail after the 64-element steps */
            ns[nn++] = 1, ns[nn++] = 7, ns[nn++] = 172, ns[nn++] = 256, ns[nn++] = 1000, ns[nn++] = 4100;
        } else if (bs == 32) {
            ns[nn++] = 32, ns[nn++] = 96, ns[nn++] = 224, ns[nn++] = 256, ns[nn++] = 320, ns[nn++] = 1024; /* 320: groups of 8 blocks and a tail */
        } else {
            ns[nn++] = 256, ns[nn++] = 512, ns[nn++] = 768, ns[nn++] = 2048;
        }
        (void)unit;
        int misalign = type == FFL_TYPE_F32 ? 4 : 2;
        for (int ni = 0; ni < nn; ni++)
            for (int ri = 0; ri < 4; ri++)
                for (int tk = 0; tk < 6; tk++) {
                    int64_t rows = rows_list[ri], tokens = tokens_list[tk], n = ns[ni];
                    if (n >= 1024 && tokens > 16 && rows > 16) continue; /* keep the scalar reference quick */
                    check_matmul(level, type, n, rows, tokens, 0, rows, (ni + tk) % 2 ? misalign : 0);
                    if (rows > 3) check_matmul(level, type, n, rows, tokens, 1, rows - 1, 0);
                }
        /* a tile-sized problem with many tokens, as prompt processing runs it */
        check_matmul(level, type, bs == 256 ? 512 : 256, 48, 64, 0, 48, 0);
        check_matmul(level, type, bs == 256 ? 512 : 256, 48, 64, 5, 41, 0);
        /* tiled paths with partial token panels and row ranges that are not whole tiles */
        check_matmul(level, type, bs == 256 ? 256 : 96, 13, 9, 2, 11, 0);
        check_matmul(level, type, bs == 256 ? 256 : 32, 7, 23, 0, 7, misalign);
        check_matmul(level, type, bs == 256 ? 768 : bs == 1 ? 61 : 160, 21, 41, 3, 20, 0);
        /* more tokens than one chunk of the tiled path */
        check_matmul(level, type, bs == 256 ? 256 : 64, 3, 530, 0, 3, 0);
    }
}

/* F16 weights over the whole finite range of halves (subnormals, zeros of both signs, +-65504) and
 * activations below 64 in magnitude (subnormals included), at lengths that take the AVX-512
 * widened-activation path (up to 4096) and lengths that do not, against the exact dot in double:
 * products of halves are exact in float, so only the summation rounds. */
static void test_f16_full_range(int32_t level) {
    ffl_cpu_set_level(level);
    static const int64_t lengths[] = {64, 96, 2048, 4096, 4160};
    for (int li = 0; li < 5; li++) {
        const int64_t n = lengths[li];
        const int rows = 3;
        uint16_t *w = xmalloc(sizeof(uint16_t) * (size_t)(n * rows));
        float *x = xmalloc(sizeof(float) * (size_t)n);
        for (int64_t i = 0; i < n * rows; i++) {
            uint16_t h;
            do h = (uint16_t)(test_rndf(0, 65536)); while ((h & 0x7C00) == 0x7C00); /* finite */
            if (i % 7 == 0) h &= 0x83FF;                                            /* subnormal or zero */
            w[i] = h;
        }
        w[0] = 0x8000, w[1] = 0x0001, w[2] = 0x7BFF, w[3] = 0xFBFF; /* -0, smallest subnormal, +-65504 */
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            do h = (uint16_t)(test_rndf(0, 65536)); while ((h & 0x7C00) == 0x7C00 || (h & 0x7C00) > 0x5000);
            if (i % 5 == 0) h &= 0x83FF;
            x[i] = ffl_half_to_float(h);
        }
        uint16_t *xq = xmalloc(ffl_activation_row_bytes(FFL_TYPE_F16, n));
        ffl_quantize_activations(FFL_TYPE_F16, x, n, xq, n, 0, 1);
        float y[3];
        ffl_matmul_rows(FFL_TYPE_F16, w, (size_t)n * 2, xq, n, 1, y, rows, 0, rows);
        for (int r = 0; r < rows; r++) {
            double exact = 0, mag = 0;
            for (int64_t i = 0; i < n; i++) {
                const double p = (double)ffl_half_to_float(w[r * n + i]) * x[i];
                exact += p;
                mag += fabs(p);
            }
            CHECK_MSG(fabs(y[r] - exact) <= 1e-5 * mag, "f16 level %s n=%lld row %d: got %.9g, exact %.9g (sum |w x| = %g)",
                      ffl_cpu_level_name(level), (long long)n, r, y[r], exact, mag);
        }
        free(w), free(x), free(xq);
    }
}

/* y = F16 rows x `tokens` activation rows (y filled with a marker first). */
static void f16_int16_matmul(const uint16_t *w, const uint16_t *xq, int64_t n, int rows, int tokens, float *y) {
    for (int64_t i = 0; i < (int64_t)rows * tokens; i++) y[i] = -12345.0f;
    ffl_matmul_rows(FFL_TYPE_F16, w, (size_t)n * 2, xq, n, tokens, y, rows, 0, rows);
}

static double exact_f16_dot(const uint16_t *w, const uint16_t *x, int64_t n, double *mag) {
    double s = 0;
    *mag = 0;
    for (int64_t i = 0; i < n; i++) {
        const double p = (double)ffl_half_to_float(w[i]) * ffl_half_to_float(x[i]);
        s += p;
        *mag += fabs(p);
    }
    return s;
}

/* The 16-bit integer path for F16 rows (kernels_avx512.c): weights in the top three binades of their
 * block of 64 and activations of one magnitude per block are exact; any finite halves stay within the
 * documented rounding; the largest weights and activations do not overflow a block's 32-bit sum; an
 * infinity or NaN spoils only its own row or token. */
static void test_f16_int16(int32_t level) {
    ffl_cpu_set_level(level);
    if (!f16_int16_path(16)) return;
    enum { ROWS = 8, TOKENS = 16 };
    const int64_t n = 296; /* four blocks of 64 and a partial one */
    uint16_t *w = xmalloc(sizeof(uint16_t) * (size_t)(n * ROWS)), *x = xmalloc(sizeof(uint16_t) * (size_t)(n * TOKENS));
    float y[ROWS * TOKENS];

    /* exact cases: weights m 2^(E - 10 - j), j in 0..2 (the first of each block at j = 0, so E is the
     * block's top binade); activations +-a or 0, one a per block and token */
    for (int r = 0; r < ROWS; r++)
        for (int64_t k0 = 0; k0 < n; k0 += 64) {
            const int E = (int)test_rndf(-12, 14);
            for (int64_t k = k0; k < n && k < k0 + 64; k++) {
                const int j = k == k0 ? 0 : (int)test_rndf(0, 3), m = 1024 + (int)test_rndf(0, 1024);
                const float v = ldexpf((float)m, E - 10 - j) * (test_rnd32() & 1 ? -1.0f : 1.0f);
                w[r * n + k] = ffl_float_to_half(v);
                CHECK(ffl_half_to_float(w[r * n + k]) == v);
            }
        }
    for (int t = 0; t < TOKENS; t++)
        for (int64_t k0 = 0; k0 < n; k0 += 64) {
            const uint16_t a = rnd_half(0.01f, 30.0f);
            for (int64_t k = k0; k < n && k < k0 + 64; k++) {
                const uint32_t c = test_rnd32() % 3;
                x[t * n + k] = c == 0 ? 0 : c == 1 ? a : (uint16_t)(a | 0x8000);
            }
        }
    f16_int16_matmul(w, x, n, ROWS, TOKENS, y);
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < TOKENS; t++) {
            double mag;
            const double exact = exact_f16_dot(w + r * n, x + t * n, n, &mag);
            CHECK_MSG(fabs(y[t * ROWS + r] - exact) <= 1e-6 * mag, "f16 int16 exact case row %d token %d: %.9g, exact %.9g", r, t,
                      y[t * ROWS + r], exact);
        }

    /* any finite halves: weights over the whole range (subnormals, zeros, +-65504), activations below 64 */
    for (int64_t i = 0; i < n * ROWS; i++) {
        uint16_t h;
        do h = (uint16_t)test_rnd32(); while ((h & 0x7C00) == 0x7C00);
        w[i] = i % 7 == 0 ? h & 0x83FF : h;
    }
    w[0] = 0x8000, w[1] = 0x0001, w[2] = 0x7BFF, w[3] = 0xFBFF;
    for (int64_t i = 0; i < n * TOKENS; i++) {
        uint16_t h;
        do h = (uint16_t)test_rnd32(); while ((h & 0x7C00) > 0x5000);
        x[i] = i % 5 == 0 ? h & 0x83FF : h;
    }
    f16_int16_matmul(w, x, n, ROWS, TOKENS, y);
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < TOKENS; t++) {
            double mag;
            const double exact = exact_f16_dot(w + r * n, x + t * n, n, &mag);
            const double bound = f16_int16_bound(w + r * n, x + t * n, n) + 1e-6 * mag;
            CHECK_MSG(fabs(y[t * ROWS + r] - exact) <= bound, "f16 int16 full range row %d token %d: %.9g, exact %.9g, bound %g", r,
                      t, y[t * ROWS + r], exact, bound);
        }

    /* the largest sums: +-65504 everywhere against activations all of one sign and magnitude */
    for (int64_t i = 0; i < n * ROWS; i++) w[i] = (i / n) % 2 ? 0xFBFF : 0x7BFF;
    for (int64_t i = 0; i < n * TOKENS; i++) x[i] = (i / n) % 2 ? 0xBC00 : 0x3C00; /* -1, 1 */
    f16_int16_matmul(w, x, n, ROWS, TOKENS, y);
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < TOKENS; t++) {
            const double exact = 65504.0 * (double)n * (r % 2 ? -1 : 1) * (t % 2 ? -1 : 1);
            CHECK_MSG(fabs(y[t * ROWS + r] - exact) <= 1e-6 * fabs(exact), "f16 int16 largest sum row %d token %d: %.9g", r, t,
                      y[t * ROWS + r]);
        }

    /* an infinity in row 1, a NaN in row 2, an infinity in token 3's activations; row 0 all zeros */
    for (int64_t i = 0; i < n * ROWS; i++) w[i] = rnd_half(-1, 1);
    for (int64_t i = 0; i < n * TOKENS; i++) x[i] = rnd_half(-1, 1);
    for (int64_t k = 0; k < n; k++) w[k] = 0;
    w[1 * n + 70] = 0x7C00;
    w[2 * n + 5] = 0x7E00;
    x[3 * n + 200] = 0xFC00;
    f16_int16_matmul(w, x, n, ROWS, TOKENS, y);
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < TOKENS; t++) {
            const float got = y[t * ROWS + r];
            if (r == 1 || r == 2 || t == 3) {
                CHECK_MSG(!isfinite(got), "f16 int16 row %d token %d: %g from a non-finite input", r, t, got);
                continue;
            }
            double mag;
            const double exact = exact_f16_dot(w + r * n, x + t * n, n, &mag);
            const double bound = f16_int16_bound(w + r * n, x + t * n, n) + 1e-6 * mag;
            CHECK_MSG(r == 0 ? got == 0.0f : fabs(got - exact) <= bound, "f16 int16 row %d token %d next to non-finite ones: %.9g, exact %.9g",
                      r, t, got, exact);
        }
    free(w), free(x);
}

/* Q4_0, Q8_0, Q4_K and Q6_K rows repacked into the load-time layouts (quant/repack.h): every group
 * converts back to the same blocks, and the level's own conversion writes the same bytes as the
 * portable one. */
static void check_layout_bytes(int32_t level, int32_t rtype, int64_t n, int64_t rows) {
    const int32_t base = ffl_x16_base(rtype);
    const int64_t wrb = ffl_type_row_bytes(base, n), nb = n / 32;
    const double bb = (double)wrb / (double)nb; /* bytes per 32 elements (Q6_K: 26.25) */
    const char *name = ffl_type_name(base);
    uint8_t *orig = xmalloc((size_t)(wrb * rows)), *packed = xmalloc((size_t)(wrb * rows)), *fast = xmalloc((size_t)(wrb * rows));
    random_weights(base, orig, n * rows);
    ffl_repack_rows(rtype, orig, packed, (size_t)wrb, n, rows);
    ffl_cpu_set_level(level);
    ffl_repack_rows_fast(rtype, orig, fast, (size_t)wrb, n, rows);
    CHECK_MSG(memcmp(fast, packed, (size_t)(wrb * rows)) == 0, "%s x16 n=%lld: level %s repacks differently", name, (long long)n,
              ffl_cpu_level_name(level));
    block_q8_0 back[FFL_X16_GROUP]; /* room for a group of any layout */
    for (int64_t r = 0; r < rows; r++)
        for (int64_t b = 0; b < nb;) {
            const int G = rtype == FFL_WTYPE_Q6_K_X16 ? 8 : ffl_x16_group_blocks(b, nb); /* Q6_K: a super-block */
            const int64_t at = r * wrb + (int64_t)(b * bb);
            ffl_x16_unpack_group(rtype, packed + at, G, back);
            CHECK_MSG(memcmp(back, orig + at, (size_t)(G * bb)) == 0, "%s x16 n=%lld row %lld group at %lld does not unpack",
                      name, (long long)n, (long long)r, (long long)b);
            b += G;
        }
    free(orig), free(packed), free(fast);
}

static void test_x16(int32_t level) {
    ffl_cpu_set_level(level);
    const int top = level == FFL_CPU_AVX512;
    CHECK_MSG(ffl_repack_type(FFL_TYPE_Q4_0, 2048) == (top ? FFL_WTYPE_Q4_0_X16 : -1), "level %s: repack type %d",
              ffl_cpu_level_name(level), ffl_repack_type(FFL_TYPE_Q4_0, 2048));
    CHECK(ffl_repack_type(FFL_TYPE_Q8_0, 768) == (top ? FFL_WTYPE_Q8_0_X16 : -1));
    CHECK(ffl_repack_type(FFL_TYPE_Q4_K, 768) == (top ? FFL_WTYPE_Q4_K_X16 : -1));
    CHECK(ffl_repack_type(FFL_TYPE_Q6_K, 256) == (top ? FFL_WTYPE_Q6_K_X16 : -1));
    CHECK(ffl_repack_type(FFL_TYPE_Q4_0, 320) == -1 && ffl_repack_type(FFL_TYPE_Q4_1, 2048) == -1 &&
          ffl_repack_type(FFL_TYPE_Q5_K, 2048) == -1);
    static const int32_t rtypes[] = {FFL_WTYPE_Q4_0_X16, FFL_WTYPE_Q8_0_X16, FFL_WTYPE_Q4_K_X16, FFL_WTYPE_Q6_K_X16};
    static const int64_t ns[] = {256, 512, 768, 2048, 5632};
    static const int64_t tokens_list[] = {1, 2, 3, 4, 5, 8, 16, 33};
    static const int64_t rows_list[] = {1, 3, 16, 37};
    for (int k = 0; k < 4; k++) {
        const int32_t base = ffl_x16_base(rtypes[k]);
        for (int ni = 0; ni < 5; ni++)
            for (int ri = 0; ri < 4; ri++) {
                check_layout_bytes(level, rtypes[k], ns[ni], rows_list[ri]);
                for (int tk = 0; tk < 8; tk++) {
                    const int64_t n = ns[ni], rows = rows_list[ri], tokens = tokens_list[tk];
                    if (n >= 2048 && tokens > 8 && rows > 16) continue; /* keep the scalar reference quick */
                    check_matmul_as(level, base, rtypes[k], n, rows, tokens, 0, rows, (ni + tk) % 2 ? 2 : 0);
                    if (rows > 3) check_matmul_as(level, base, rtypes[k], n, rows, tokens, 1, rows - 1, 0);
                }
            }
        check_matmul_as(level, base, rtypes[k], 768, 48, 64, 5, 41, 0); /* tiled path, partial row tiles */
    }
}

/* The per-thread cache of prepared activations: reused only inside one span, for the same arguments. */
static void test_prepared_cache(void) {
    static const char xq[64];
    int ready = -1;
    uint8_t *a = ffl_kernel_prepared(FFL_PREP_TAG(FFL_PREP_X16, 1), xq, 64, 256, 0, 1, 1000, &ready);
    CHECK(a && ready == 0);
    CHECK(ffl_kernel_prepared(FFL_PREP_TAG(FFL_PREP_X16, 1), xq, 64, 256, 0, 1, 1000, &ready) && ready == 0); /* no span */
    ffl_kernel_act_span(1);
    a = ffl_kernel_prepared(FFL_PREP_TAG(FFL_PREP_X16, 1), xq, 64, 256, 0, 1, 1000, &ready);
    CHECK(a && ready == 0);
    memset(a, 7, 1000);
    CHECK(ffl_kernel_prepared(FFL_PREP_TAG(FFL_PREP_X16, 1), xq, 64, 256, 0, 1, 1000, &ready) == a && ready == 1 && a[999] == 7);
    /* any other argument is another entry */
    CHECK(ffl_kernel_prepared(FFL_PREP_TAG(FFL_PREP_K4, 1), xq, 64, 256, 0, 1, 1000, &ready) != a && ready == 0);
    CHECK(ffl_kernel_prepared(FFL_PREP_TAG(FFL_PREP_X16, 1), xq + 1, 64, 256, 0, 1, 1000, &ready) != a && ready == 0);
    CHECK(ffl_kernel_prepared(FFL_PREP_TAG(FFL_PREP_X16, 1), xq, 64, 512, 0, 1, 1000, &ready) != a && ready == 0);
    CHECK(ffl_kernel_prepared(FFL_PREP_TAG(FFL_PREP_X16, 1), xq, 64, 256, 4, 1, 1000, &ready) == a && ready == 0); /* 4 slots: evicts a */
    CHECK(ffl_kernel_prepared(FFL_PREP_TAG(FFL_PREP_X16, 1), xq, 64, 256, 0, 1, 1000, &ready) && ready == 0);
    CHECK(ffl_kernel_prepared(FFL_PREP_TAG(FFL_PREP_X16, 1), xq, 64, 256, 0, 1, 1000, &ready) && ready == 1);
    ffl_kernel_act_span(0);
    ffl_kernel_act_span(1); /* a new span starts empty */
    CHECK(ffl_kernel_prepared(FFL_PREP_TAG(FFL_PREP_X16, 1), xq, 64, 256, 0, 1, 1000, &ready) && ready == 0);
    ffl_kernel_act_span(0);
}

/* Chunks of rows multiplied inside a span (the prepared activations reused) equal the same chunks outside
 * one, and a new span sees activations rewritten at the same address. */
static void check_span_matmul(int32_t level, int32_t type, int32_t rtype, int64_t n, int64_t tokens) {
    const int64_t rows = 40, wrb = type_row_bytes(type, n);
    const int64_t cut[] = {0, 16, 19, 24, 40};
    const size_t arb = ffl_activation_row_bytes(type, n);
    uint8_t *w = xmalloc((size_t)(wrb * rows)), *mw = w;
    random_weights(type, w, n * rows);
    if (rtype >= 0) {
        mw = xmalloc((size_t)(wrb * rows));
        ffl_repack_rows(rtype, w, mw, (size_t)wrb, n, rows);
    }
    const int32_t mtype = rtype >= 0 ? rtype : type;
    float *x = xmalloc(sizeof(float) * (size_t)(n * tokens) * 2);
    for (int64_t i = 0; i < 2 * n * tokens; i++) x[i] = test_rndf(-1, 1);
    uint8_t *xq = xmalloc(arb * tokens), *xq2 = xmalloc(arb * tokens);
    float *ref = xmalloc(sizeof(float) * (size_t)(rows * tokens)), *ref2 = xmalloc(sizeof(float) * (size_t)(rows * tokens));
    float *y = xmalloc(sizeof(float) * (size_t)(rows * tokens));
    ffl_cpu_set_level(level);
    ffl_quantize_activations(mtype, x, n, xq, n, 0, tokens);
    ffl_quantize_activations(mtype, x + n * tokens, n, xq2, n, 0, tokens);
    for (int c = 0; c < 4; c++) {
        ffl_matmul_rows(mtype, mw, (size_t)wrb, xq, n, tokens, ref, rows, cut[c], cut[c + 1]);
        ffl_matmul_rows(mtype, mw, (size_t)wrb, xq2, n, tokens, ref2, rows, cut[c], cut[c + 1]);
    }
    float other_ref; /* row 0 of one token of other activations, as the span below multiplies it */
    ffl_matmul_rows(mtype, mw, (size_t)wrb, xq2, n, 1, &other_ref, 1, 0, 1);
    const char *name = ffl_type_name(type);
    ffl_kernel_act_span(1);
    for (int c = 0; c < 4; c++) {
        ffl_matmul_rows(mtype, mw, (size_t)wrb, xq, n, tokens, y, rows, cut[c], cut[c + 1]);
        float other; /* another matrix's activations in between */
        ffl_matmul_rows(mtype, mw, (size_t)wrb, xq2, n, 1, &other, 1, 0, 1);
        CHECK_MSG(other == other_ref, "%s%s level %s n=%lld: row 0 of the other activations %g, not %g", name,
                  rtype >= 0 ? " repacked" : "", ffl_cpu_level_name(level), (long long)n, other, other_ref);
    }
    CHECK_MSG(memcmp(y, ref, sizeof(float) * (size_t)(rows * tokens)) == 0, "%s%s level %s n=%lld tokens=%lld: chunks in a span differ",
              name, rtype >= 0 ? " repacked" : "", ffl_cpu_level_name(level), (long long)n, (long long)tokens);
    ffl_kernel_act_span(0);
    memcpy(xq, xq2, arb * tokens); /* new activations at the same address */
    ffl_kernel_act_span(1);
    for (int c = 0; c < 4; c++) ffl_matmul_rows(mtype, mw, (size_t)wrb, xq, n, tokens, y, rows, cut[c], cut[c + 1]);
    ffl_kernel_act_span(0);
    for (int64_t t = 0; t < tokens; t++) /* ref2 was computed from xq2's address: the same values */
        for (int64_t r = 0; r < rows; r++)
            CHECK_MSG(y[t * rows + r] == ref2[t * rows + r], "%s%s level %s n=%lld: a new span used stale activations (row %lld: %g, not %g)",
                      name, rtype >= 0 ? " repacked" : "", ffl_cpu_level_name(level), (long long)n, (long long)r, y[t * rows + r],
                      ref2[t * rows + r]);
    if (mw != w) free(mw);
    free(w), free(x), free(xq), free(xq2), free(ref), free(ref2), free(y);
}

static void test_span_matmul(int32_t level) {
    static const int64_t ns[] = {512, 2048};
    static const int64_t tokens_list[] = {1, 2, 5};
    for (int i = 0; i < N_TYPES; i++)
        for (int ni = 0; ni < 2; ni++)
            for (int tk = 0; tk < 3; tk++) {
                check_span_matmul(level, TYPES[i], -1, ns[ni], tokens_list[tk]);
                ffl_cpu_set_level(level);
                const int32_t rt = ffl_repack_type(TYPES[i], ns[ni]);
                if (rt >= 0) check_span_matmul(level, TYPES[i], rt, ns[ni], tokens_list[tk]);
            }
}

int main(void) {
    const char *env = getenv("FFLAMA_CPU");
    printf("cpu features: %s; max level %s; FFLAMA_CPU=%s\n", ffl_cpu_features(), ffl_cpu_level_name(ffl_cpu_max_level()),
           env ? env : "(unset)");
    CHECK(ffl_vec_dot_type(FFL_TYPE_Q4_0) == FFL_TYPE_Q8_0);
    CHECK(ffl_vec_dot_type(FFL_TYPE_Q4_1) == FFL_TYPE_Q8_1);
    CHECK(ffl_vec_dot_type(FFL_TYPE_Q4_K) == FFL_TYPE_Q8_K);
    CHECK(ffl_vec_dot_type(FFL_TYPE_F16) == FFL_TYPE_F16);
    CHECK(ffl_vec_dot_type(FFL_TYPE_BF16) == FFL_TYPE_BF16);
    CHECK(ffl_matmul_supported(FFL_TYPE_Q6_K) && !ffl_matmul_supported(FFL_TYPE_IQ2_XXS));
    CHECK(ffl_activation_row_bytes(FFL_TYPE_Q4_K, 512) == 2 * sizeof(block_q8_K));
    int32_t levels[8];
    const int nl = test_cpu_levels(levels);
    for (int i = 0; i < nl; i++) {
        printf("level %s\n", ffl_cpu_level_name(levels[i]));
        test_q8_0_rounding(levels[i]);
        if (levels[i] != FFL_CPU_SCALAR) test_activation_quantizers(levels[i]);
        test_accuracy(levels[i]);
        test_f16_full_range(levels[i]);
        test_f16_int16(levels[i]);
        test_matmul_shapes(levels[i]);
        test_x16(levels[i]);
        test_span_matmul(levels[i]);
    }
    test_prepared_cache();
    return test_finish("test_kernels");
}
