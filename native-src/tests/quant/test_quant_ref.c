/* Round-trip error of every quantizer on llama.cpp's test signal (0.1 + 2*cos(i + offset), 4096
 * values) under llama.cpp's own thresholds and metric (sqrt(sum of squared errors) / n), for the
 * offset llama.cpp uses and for seeded random offsets; fixed cases (zeros, constants, a single spike);
 * argument errors of the row API. */
#include "fflama.h"
#include "test_util.h"

#include <math.h>
#include <stdint.h>

#define TEST_SIZE (32 * 128)

static const int32_t TYPES[] = {
    FFL_TYPE_F32,  FFL_TYPE_F16,  FFL_TYPE_BF16, FFL_TYPE_Q4_0, FFL_TYPE_Q4_1,   FFL_TYPE_Q5_0,   FFL_TYPE_Q5_1, FFL_TYPE_Q8_0,
    FFL_TYPE_Q2_K, FFL_TYPE_Q3_K, FFL_TYPE_Q4_K, FFL_TYPE_Q5_K, FFL_TYPE_Q6_K, FFL_TYPE_IQ4_NL, FFL_TYPE_IQ4_XS,
};

/* llama.cpp's test-quantize-fns limits */
static double max_error(int32_t type) {
    if (type == FFL_TYPE_Q2_K) return 0.0075;
    if (type == FFL_TYPE_Q3_K) return 0.0040;
    return 0.002;
}

static void generate(float offset, float *dst) {
    for (int i = 0; i < TEST_SIZE; i++) dst[i] = 0.1f + 2 * cosf((float)i + offset);
}

/* llama.cpp's metric, and the plain RMSE beside it */
static void errors(const float *a, const float *b, int n, double *llama_metric, double *rmse) {
    double sum = 0;
    for (int i = 0; i < n; i++) sum += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    *llama_metric = sqrt(sum) / n;
    *rmse = sqrt(sum / n);
}

static double next_uniform(void) { return (double)(test_rng_next() >> 11) / 9007199254740992.0; }

static void check_signal(void) {
    static float x[TEST_SIZE], y[TEST_SIZE];
    static uint8_t q[TEST_SIZE * 4];
    printf("  type     llama-metric  limit    rmse (offset 0)   worst llama-metric over 20 seeded offsets\n");
    for (size_t t = 0; t < sizeof TYPES / sizeof *TYPES; t++) {
        const int32_t type = TYPES[t];
        double metric0 = 0, rmse0 = 0, worst = 0;
        for (int trial = 0; trial <= 20; trial++) {
            const float offset = trial == 0 ? 0.0f : (float)(next_uniform() * 1000.0);
            generate(offset, x);
            CHECK(ffl_quantize_row(type, x, q, TEST_SIZE) == FFL_OK);
            CHECK(ffl_dequantize_row(type, q, y, TEST_SIZE) == FFL_OK);
            double metric, rmse;
            errors(x, y, TEST_SIZE, &metric, &rmse);
            if (trial == 0) {
                metric0 = metric;
                rmse0 = rmse;
            } else if (metric > worst) {
                worst = metric;
            }
            CHECK_MSG(metric < max_error(type), "%s offset %g: %g", ffl_type_name(type), offset, metric);
        }
        printf("  %-7s  %.7f     %.4f   %.6f          %.7f\n", ffl_type_name(type), metric0, max_error(type), rmse0, worst);
    }
}

static void check_fixed_cases(void) {
    static float x[512], y[512];
    static uint8_t q[4096];
    for (size_t t = 0; t < sizeof TYPES / sizeof *TYPES; t++) {
        const int32_t type = TYPES[t];
        const int64_t n = 512;
        /* zeros stay zeros */
        memset(x, 0, sizeof x);
        CHECK(ffl_quantize_row(type, x, q, n) == FFL_OK && ffl_dequantize_row(type, q, y, n) == FFL_OK);
        int ok = 1;
        for (int i = 0; i < n; i++) ok &= y[i] == 0.0f;
        CHECK_MSG(ok, "%s: zeros", ffl_type_name(type));
        /* a constant comes back close */
        for (int i = 0; i < n; i++) x[i] = 0.75f;
        CHECK(ffl_quantize_row(type, x, q, n) == FFL_OK && ffl_dequantize_row(type, q, y, n) == FFL_OK);
        ok = 1;
        for (int i = 0; i < n; i++) ok &= fabsf(y[i] - 0.75f) < 0.06f;
        CHECK_MSG(ok, "%s: constant gives %g", ffl_type_name(type), y[0]);
        /* one spike in a block of zeros is the block's largest level */
        memset(x, 0, sizeof x);
        x[37] = -3.0f;
        CHECK(ffl_quantize_row(type, x, q, n) == FFL_OK && ffl_dequantize_row(type, q, y, n) == FFL_OK);
        CHECK_MSG(fabsf(y[37] + 3.0f) < 0.1f, "%s: spike gives %g", ffl_type_name(type), y[37]);
        ok = 1;
        for (int i = 0; i < n; i++) ok &= i == 37 || fabsf(y[i]) < 0.2f;
        CHECK_MSG(ok, "%s: spike leaks", ffl_type_name(type));
    }
    /* exact conversions */
    x[0] = 1.0f / 3.0f;
    x[1] = 65520.0f; /* rounds to infinity in half */
    uint16_t h[2];
    CHECK(ffl_quantize_row(FFL_TYPE_F16, x, h, 2) == FFL_OK && h[0] == 0x3555 && h[1] == 0x7c00);
    CHECK(ffl_quantize_row(FFL_TYPE_BF16, x, h, 2) == FFL_OK && h[0] == 0x3eab);
}

static void check_errors(void) {
    float x[256] = {0}, y[256];
    uint8_t q[1024];
    CHECK(ffl_quantize_row(FFL_TYPE_Q4_0, x, q, 33) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_quantize_row(FFL_TYPE_Q4_K, x, q, 32) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_quantize_row(FFL_TYPE_Q8_0, x, q, -32) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_quantize_row(FFL_TYPE_Q8_0, NULL, q, 32) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_quantize_row(FFL_TYPE_Q8_0, x, NULL, 32) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_quantize_row(999, x, q, 32) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_quantize_row(-1, x, q, 32) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_quantize_row(FFL_TYPE_IQ2_XXS, x, q, 256) == FFL_ERR_UNSUPPORTED);
    CHECK(strlen(ffl_last_error()) > 0);
    CHECK(ffl_dequantize_row(FFL_TYPE_Q4_0, q, y, 31) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_dequantize_row(FFL_TYPE_Q4_0, NULL, y, 32) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_dequantize_row(FFL_TYPE_Q4_0, q, NULL, 32) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_dequantize_row(12345, q, y, 32) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_dequantize_row(FFL_TYPE_IQ1_S, q, y, 256) == FFL_ERR_UNSUPPORTED);
    CHECK(ffl_quantize_row(FFL_TYPE_Q8_0, x, q, 0) == FFL_OK);
    for (size_t t = 0; t < sizeof TYPES / sizeof *TYPES; t++) {
        CHECK(ffl_quantize_supported(TYPES[t]) == 1);
        CHECK(ffl_dequantize_supported(TYPES[t]) == 1);
    }
    CHECK(ffl_quantize_supported(FFL_TYPE_Q8_K) == 0 && ffl_dequantize_supported(FFL_TYPE_Q8_K) == 1);
    CHECK(ffl_quantize_supported(FFL_TYPE_IQ2_XS) == 0 && ffl_quantize_supported(-5) == 0 && ffl_quantize_supported(1000) == 0);
    /* hostile values never crash and stay in the format */
    for (int i = 0; i < 256; i++) x[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -1e30f;
    for (size_t t = 0; t < sizeof TYPES / sizeof *TYPES; t++) {
        CHECK(ffl_quantize_row(TYPES[t], x, q, 256) == FFL_OK);
        CHECK(ffl_dequantize_row(TYPES[t], q, y, 256) == FFL_OK);
    }
}

int main(void) {
    check_signal();
    check_fixed_cases();
    check_errors();
    return test_finish("test_quant_ref");
}
