/* Elementwise math: every dispatch level this CPU supports must agree with libm's expf to a few
 * ulp over the whole float range (underflow, overflow, infinities and NaN included), SwiGLU and
 * the shifted exponentials must equal the scalar formulas built on it, the vector F16 conversion
 * must give the scalar conversion's bits for every input, and the causal scaling of attention rows
 * must give the scalar results whatever the hidden cells hold. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fp16.h"
#include "fflama.h"
#include "test_levels.h"
#include "test_util.h"
#include "vecmath/vecmath.h"

/* |got - want| in units of want's last place (ulps of FLT_MIN for subnormal results). */
static double ulps(float got, float want) {
    if (isnan(want)) return isnan(got) ? 0 : 1e30;
    if (isinf(want)) return got == want ? 0 : 1e30;
    int e;
    frexpf(fabsf(want) < FLT_MIN ? FLT_MIN : want, &e);
    return fabs((double)got - (double)want) / ldexp(1.0, e - 24);
}

#define N_VALUES 20011 /* odd: the SIMD body and the scalar tail both run */

static void fill_inputs(float *x) {
    const float specials[] = {0.0f, -0.0f, 1.0f, -1.0f, 88.0f, 88.5f, 88.72f, 88.73f, 89.0f, 100.0f, -87.0f,
                              -87.5f, -100.0f, -103.9f, -104.5f, -200.0f, INFINITY, -INFINITY, NAN, 1e-30f,
                              -1e-30f, 0.3465736f, -0.3465736f, 1e-8f, 5.0f};
    const int ns = (int)(sizeof specials / sizeof specials[0]);
    for (int i = 0; i < N_VALUES; i++) {
        if (i < ns * 8 && i % 8 == 3) x[i] = specials[i / 8]; /* specials in every lane position */
        else if (i % 3 == 0) x[i] = test_rndf(-110.0f, 95.0f);
        else if (i % 3 == 1) x[i] = test_rndf(-12.0f, 12.0f);
        else x[i] = test_rndf(-0.5f, 0.5f);
    }
}

static void test_exp_shift(int32_t level) {
    static float x[N_VALUES], y[N_VALUES];
    fill_inputs(x);
    const float shifts[] = {0.0f, 3.25f, -2.0f};
    for (int s = 0; s < 3; s++) {
        memcpy(y, x, sizeof x);
        double sum = ffl_vec_exp_shift(y, N_VALUES, shifts[s]);
        double worst = 0, want_sum = 0;
        int worst_i = 0;
        for (int i = 0; i < N_VALUES; i++) {
            const float want = expf(x[i] - shifts[s]);
            if (!isnan(want)) want_sum += want;
            double u = ulps(y[i], want);
            if (u > worst) worst = u, worst_i = i;
        }
        if (s == 0) printf("  exp: worst %.2f ulp\n", worst);
        CHECK_MSG(worst <= 3, "level %s shift %g: exp(%.9g) = %.9g, libm %.9g (%.1f ulp)", ffl_cpu_level_name(level),
                  shifts[s], x[worst_i] - shifts[s], y[worst_i], expf(x[worst_i] - shifts[s]), worst);
        /* the inputs hold NaN and +inf, so the sums are NaN/inf; check them on a finite slice too */
        CHECK(isnan(sum) || isinf(sum));
    }
    /* a softmax row: finite scores with masked cells */
    float row[37], ref[37];
    for (int i = 0; i < 37; i++) row[i] = i % 5 == 2 ? -INFINITY : test_rndf(-20.0f, 4.0f);
    memcpy(ref, row, sizeof row);
    double sum = ffl_vec_exp_shift(row, 37, 4.0f), want = 0;
    for (int i = 0; i < 37; i++) {
        want += expf(ref[i] - 4.0f);
        if (i % 5 == 2) CHECK_MSG(row[i] == 0.0f, "level %s: masked cell %d = %g", ffl_cpu_level_name(level), i, row[i]);
    }
    CHECK_MSG(fabs(sum - want) <= 1e-6 * want, "level %s: softmax sum %.9g, libm %.9g", ffl_cpu_level_name(level), sum, want);
    CHECK(ffl_vec_exp_shift(row, 0, 0.0f) == 0.0);
}

static void test_swiglu(int32_t level) {
    static float g[N_VALUES], u[N_VALUES], y[N_VALUES];
    fill_inputs(g);
    for (int i = 0; i < N_VALUES; i++) u[i] = i % 7 == 0 ? 1.0f : test_rndf(-3.0f, 3.0f);
    memcpy(y, g, sizeof g);
    ffl_vec_swiglu(y, u, N_VALUES);
    double worst = 0;
    int worst_i = 0;
    for (int i = 0; i < N_VALUES; i++) {
        const float want = g[i] / (1.0f + expf(-g[i])) * u[i];
        /* a few ulp of exp, one rounding each for the add, the divide and the multiply */
        double u_err = ulps(y[i], want);
        if (u_err > worst) worst = u_err, worst_i = i;
    }
    printf("  swiglu: worst %.2f ulp\n", worst);
    CHECK_MSG(worst <= 4, "level %s: swiglu(%.9g, %.9g) = %.9g, libm %.9g (%.1f ulp)", ffl_cpu_level_name(level),
              g[worst_i], u[worst_i], y[worst_i], g[worst_i] / (1.0f + expf(-g[worst_i])) * u[worst_i], worst);
    /* large negative gates give -0 or tiny values, large positive ones the gate itself */
    float big[8] = {-1000.0f, -90.0f, 1000.0f, 90.0f, 20.0f, -20.0f, 0.0f, 0.5f}, one[8];
    for (int i = 0; i < 8; i++) one[i] = 1.0f;
    ffl_vec_swiglu(big, one, 8);
    CHECK(fabsf(big[0]) == 0.0f && fabsf(big[1]) < 1e-30f && big[2] == 1000.0f && big[3] == 90.0f);
    CHECK(fabsf(big[4] - 20.0f) < 1e-5f && fabsf(big[5]) < 1e-7f && big[6] == 0.0f);
}

static void test_to_half(int32_t level) {
    static float x[N_VALUES];
    static uint16_t h[N_VALUES];
    /* halfway cases, the edges of the normal, subnormal and finite half ranges, NaN payloads */
    const uint32_t specials[] = {0x00000000u, 0x80000000u, 0x3f800000u, 0x3f801000u, 0x3f803000u, 0x3f802000u,
                                 0x477fe000u, 0x477fefffu, 0x477ff000u, 0x47800000u, 0x38800000u, 0x387fc000u,
                                 0x33000000u, 0x33000001u, 0x32ffffffu, 0x33800000u, 0x7f800000u, 0xff800000u,
                                 0x7fc00000u, 0xffc00001u, 0x7f800001u, 0x7fa5a5a5u, 0xff812345u, 0x00000001u};
    const int ns = (int)(sizeof specials / sizeof specials[0]);
    uint32_t r = 12345u;
    for (int i = 0; i < N_VALUES; i++) {
        r = r * 1664525u + 1013904223u;
        uint32_t bits = r;
        if (i < ns * 8 && i % 8 == 5) bits = specials[i / 8]; /* specials in every lane position */
        else if (i % 2 == 0) bits = (r & 0x8fffffffu) | 0x30000000u; /* around the half range */
        memcpy(&x[i], &bits, 4);
    }
    ffl_vec_to_half(h, x, N_VALUES);
    int bad = 0;
    for (int i = 0; i < N_VALUES; i++)
        if (h[i] != ffl_float_to_half(x[i]) && bad++ < 5)
            CHECK_MSG(0, "level %s: half of 0x%08x = 0x%04x, scalar 0x%04x", ffl_cpu_level_name(level), ffl_f32_bits(x[i]),
                      h[i], ffl_float_to_half(x[i]));
    CHECK(bad == 0);
}

static void test_scale_causal_max(int32_t level) {
    static float x[N_VALUES], y[N_VALUES];
    static int32_t cell_pos[N_VALUES];
    const int32_t pos = 500;
    for (int i = 0; i < N_VALUES; i++) {
        /* positions around the query's (equal is seen, one past is not) and empty cells */
        cell_pos[i] = i % 7 == 3 ? INT32_MAX : i % 11 == 4 ? pos : i % 11 == 5 ? pos + 1 : (int32_t)(test_rndf(0.0f, 1000.0f));
        /* hidden cells may hold anything, inf and NaN included: they must come out -inf */
        x[i] = i % 7 == 3 && i % 3 == 0 ? (i % 2 ? INFINITY : NAN) : test_rndf(-30.0f, 30.0f);
    }
    cell_pos[7] = 0;
    x[7] = 1e30f; /* the largest visible value, away from the lane the SIMD maximum starts in */
    memcpy(y, x, sizeof x);
    const float mx = ffl_vec_scale_causal_max(y, cell_pos, N_VALUES, pos, 0.125f);
    float want_mx = -INFINITY;
    int bad = 0, seen = 0;
    for (int i = 0; i < N_VALUES; i++) {
        const float want = cell_pos[i] > pos ? -INFINITY : x[i] * 0.125f;
        seen += cell_pos[i] <= pos;
        if (want > want_mx) want_mx = want;
        if (y[i] != want && bad++ < 5)
            CHECK_MSG(0, "level %s: scaled cell %d (pos %d) = %g, want %g", ffl_cpu_level_name(level), i, cell_pos[i], y[i], want);
    }
    CHECK(bad == 0 && seen > N_VALUES / 4 && seen < N_VALUES * 3 / 4);
    CHECK_MSG(mx == want_mx && mx == 1e30f * 0.125f, "level %s: max %g, want %g", ffl_cpu_level_name(level), mx, want_mx);
    /* every cell hidden (and a short row that only the scalar tail sees) */
    for (int i = 0; i < 19; i++) cell_pos[i] = i % 2 ? INT32_MAX : pos + 1 + i;
    CHECK(ffl_vec_scale_causal_max(y, cell_pos, 19, pos, 1.0f) == -INFINITY && y[18] == -INFINITY && y[0] == -INFINITY);
    CHECK(ffl_vec_scale_causal_max(y, cell_pos, 0, pos, 1.0f) == -INFINITY);
}

int main(void) {
    const int32_t top = ffl_cpu_level();
    int32_t levels[8];
    const int nl = test_cpu_levels(levels);
    for (int i = 0; i < nl; i++) {
        CHECK(ffl_cpu_set_level(levels[i]) == FFL_OK);
        printf("level %s\n", ffl_cpu_level_name(levels[i]));
        test_exp_shift(levels[i]);
        test_swiglu(levels[i]);
        test_to_half(levels[i]);
        test_scale_causal_max(levels[i]);
    }
    ffl_cpu_set_level(top);
    return test_finish("test_vecmath");
}
