/* Attention kernels (ffl_attn_scores / ffl_attn_values) against a double-precision reference: F16
 * and F32 caches, 1-32 query rows (a token's heads, or a prompt block's tokens), head sizes 64, 72,
 * 80 and 128, cell counts around the 16-cell blocks, strided rows (query rows too), and NaN past the
 * rows' ends that must never be read. Levels without the kernels must decline and write nothing. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fp16.h"
#include "fflama.h"
#include "quant/kernels.h"
#include "test_levels.h"
#include "test_util.h"

static float round_half(float x) { return ffl_half_to_float(ffl_float_to_half(x)); }

/* Cache element i of a row (F16 or F32). */
static float kv_at(int half, const uint8_t *row, int64_t i) {
    if (half) {
        uint16_t h;
        memcpy(&h, row + 2 * i, 2);
        return ffl_half_to_float(h);
    }
    float f;
    memcpy(&f, row + 4 * i, 4);
    return f;
}

static void kv_put(int half, uint8_t *row, int64_t i, float x) {
    if (half) {
        const uint16_t h = ffl_float_to_half(x);
        memcpy(row + 2 * i, &h, 2);
    } else {
        memcpy(row + 4 * i, &x, 4);
    }
}

/* |got - a . row| relative to the sum of the products' magnitudes, a rounded to F16 for an F16 cache. */
static double dot_error(int half, const float *a, const uint8_t *row, int n, float got) {
    double want = 0, mag = 0;
    for (int i = 0; i < n; i++) {
        const double x = half ? round_half(a[i]) : a[i], y = kv_at(half, row, i);
        want += x * y;
        mag += fabs(x * y);
    }
    return fabs(got - want) / (mag + 1e-30);
}

static double worse(double worst, double e) { return e <= worst ? worst : e; } /* NaN counts as worst */

/* One case; returns 1 if the level ran both kernels. */
static int check_case(int32_t level, int half, int nh, int hd, int w, int pad) {
    const int32_t kvt = half ? FFL_TYPE_F16 : FFL_TYPE_F32;
    const size_t eb = half ? 2 : 4;
    const size_t ks = (size_t)(hd + pad) * eb;    /* key rows, pad elements apart */
    const size_t vs = (size_t)(w + pad + 3) * eb; /* value rows: w cells used of w + pad + 3 */
    const int hdv = hd;
    uint8_t *k = malloc(ks * (size_t)(w + 2)), *v = malloc(vs * (size_t)hdv);
    const int qs = hd + pad; /* query rows, pad floats apart (NaN in the gaps) */
    float *q = malloc(sizeof(float) * (size_t)nh * qs), *p = malloc(sizeof(float) * (size_t)nh * w);
    float *scores = malloc(sizeof(float) * ((size_t)nh * w + 1)), *out = malloc(sizeof(float) * ((size_t)nh * (hdv + 2) + 1));
    /* NaN everywhere first: what the kernels must not read stays NaN */
    memset(k, 0xFF, ks * (size_t)(w + 2));
    memset(v, 0xFF, vs * (size_t)hdv);
    for (int j = 0; j < w; j++)
        for (int d = 0; d < hd; d++) kv_put(half, k + (size_t)j * ks, d, test_rndf(-1.0f, 1.0f));
    for (int c = 0; c < hdv; c++)
        for (int j = 0; j < w; j++) kv_put(half, v + (size_t)c * vs, j, test_rndf(-1.0f, 1.0f));
    for (int i = 0; i < nh * qs; i++) q[i] = i % qs < hd ? test_rndf(-2.0f, 2.0f) : NAN;
    for (int i = 0; i < nh * w; i++) p[i] = test_rndf(0.0f, 1.0f) / (float)w;
    const float sentinel = 12345.0f;
    for (int i = 0; i <= nh * w; i++) scores[i] = sentinel;
    for (int i = 0; i <= nh * (hdv + 2); i++) out[i] = sentinel;

    const int os = hdv + 2; /* output rows with a gap the kernel must not write */
    const int ran_s = ffl_attn_scores(kvt, q, nh, hd, qs, k, ks, w, scores);
    const int ran_v = ffl_attn_values(kvt, p, nh, w, v, vs, hdv, out, os);
    double worst = 0;
    if (ran_s) {
        for (int h = 0; h < nh; h++)
            for (int j = 0; j < w; j++) worst = worse(worst, dot_error(half, q + h * qs, k + (size_t)j * ks, hd, scores[h * w + j]));
    } else {
        for (int i = 0; i < nh * w; i++) CHECK(scores[i] == sentinel);
    }
    CHECK(scores[nh * w] == sentinel);
    if (ran_v) {
        for (int h = 0; h < nh; h++) {
            for (int c = 0; c < hdv; c++) worst = worse(worst, dot_error(half, p + h * w, v + (size_t)c * vs, w, out[h * os + c]));
            CHECK(out[h * os + hdv] == sentinel && out[h * os + hdv + 1] == sentinel);
        }
    } else {
        for (int i = 0; i <= nh * os; i++) CHECK(out[i] == sentinel);
    }
    CHECK_MSG(worst < 1e-5, "level %s %s nh %d hd %d w %d pad %d: relative error %.3g", ffl_cpu_level_name(level),
              half ? "f16" : "f32", nh, hd, w, pad, worst);
    free(k);
    free(v);
    free(q);
    free(p);
    free(scores);
    free(out);
    return ran_s && ran_v;
}

int main(void) {
    const int32_t top = ffl_cpu_level();
    int32_t levels[8];
    const int nl = test_cpu_levels(levels);
    int ran_any = 0;
    for (int l = 0; l < nl; l++) {
        CHECK(ffl_cpu_set_level(levels[l]) == FFL_OK);
        const int heads[] = {1, 3, 4, 7, 8, 12, 16, 32}, cells[] = {1, 15, 16, 17, 100, 1024}, dims[] = {64, 128, 80, 72};
        int ran = 0;
        for (int half = 0; half < 2; half++)
            for (int a = 0; a < 8; a++)
                for (int b = 0; b < 6; b++)
                    ran += check_case(levels[l], half, heads[a], dims[(a + b) % 4], cells[b], (a * 7 + b) % 3 == 0 ? 16 : 0);
        printf("level %s: both kernels ran in %d of 96 cases\n", ffl_cpu_level_name(levels[l]), ran);
#if defined(__x86_64__)
        if (levels[l] >= FFL_CPU_AVX2) CHECK(ran == 96); /* head sizes that are multiples of 8 */
#endif
        ran_any += ran;
        if (ran) { /* a head size AVX2 does not take (AVX-512 does), a cache type no kernel takes */
            float q[68], sc[4] = {7, 7, 7, 7};
            uint16_t kk[68 * 4] = {0};
            for (int i = 0; i < 68; i++) q[i] = 1.0f;
            const int r68 = ffl_attn_scores(FFL_TYPE_F16, q, 1, 68, 68, kk, 136, 4, sc);
            CHECK(r68 == (levels[l] == FFL_CPU_AVX512) && sc[0] == (r68 ? 0.0f : 7.0f));
            sc[0] = 7;
            CHECK(ffl_attn_scores(FFL_TYPE_Q8_0, q, 1, 64, 64, kk, 128, 4, sc) == 0 && sc[0] == 7);
        }
    }
    ffl_cpu_set_level(top);
    printf("kernels ran at %s\n", ran_any ? "some level" : "no level (none on this CPU)");
    return test_finish("test_attn_kernels");
}
