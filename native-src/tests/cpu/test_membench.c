/* Machine measurements: valid results at every kernel level, errors for bad arguments. Never asserts speed. */
#include "fflama.h"
#include "test_util.h"

#include <math.h>

static int sane(double v) { return v > 0 && isfinite(v); }

int main(void) {
    double v = -1;
    /* small buffers keep the test fast; the rate is then a cache rate, still a rate */
    CHECK(ffl_measure_read_bandwidth(1, 8u << 20, &v) == FFL_OK && sane(v));
    CHECK(ffl_measure_read_bandwidth(2, (8u << 20) + 100, &v) == FFL_OK && sane(v));
    CHECK(ffl_measure_read_bandwidth(0, 4u << 20, &v) == FFL_OK && sane(v));
    CHECK(ffl_measure_read_bandwidth(3, 3 * 256, &v) == FFL_OK && sane(v)); /* one block per thread */

    CHECK(ffl_measure_read_bandwidth(1, 1u << 20, NULL) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_measure_read_bandwidth(4, 3 * 256, &v) == FFL_ERR_INVALID_ARGUMENT && v == 0);
    CHECK(ffl_measure_read_bandwidth(100000, 1u << 20, &v) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_measure_read_bandwidth(1, UINT64_MAX, &v) == FFL_ERR_OUT_OF_MEMORY);

    /* a kept probe: one rate per run, the same argument checks as the one-shot measurement */
    ffl_bandwidth_probe *probe = NULL;
    CHECK(ffl_bandwidth_probe_new(2, 8u << 20, &probe) == FFL_OK && probe != NULL);
    for (int run = 0; run < 3; run++) {
        v = -1;
        CHECK(ffl_bandwidth_probe_run(probe, &v) == FFL_OK && sane(v));
    }
    CHECK(ffl_bandwidth_probe_run(probe, NULL) == FFL_ERR_INVALID_ARGUMENT);
    ffl_bandwidth_probe_free(probe);
    ffl_bandwidth_probe_free(NULL);
    v = -1;
    CHECK(ffl_bandwidth_probe_run(NULL, &v) == FFL_ERR_INVALID_ARGUMENT && v == 0);
    probe = (ffl_bandwidth_probe *)&v;
    CHECK(ffl_bandwidth_probe_new(4, 3 * 256, &probe) == FFL_ERR_INVALID_ARGUMENT && probe == NULL);
    CHECK(ffl_bandwidth_probe_new(-5, 1u << 20, NULL) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_bandwidth_probe_new(1, UINT64_MAX, &probe) == FFL_ERR_OUT_OF_MEMORY && probe == NULL);

    CHECK(ffl_measure_peak_flops(1, 3, &v) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_measure_peak_flops(1, -1, &v) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_measure_peak_flops(1, FFL_PEAK_F32_FMA, NULL) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_measure_peak_kernel_name(7) == NULL);

    const int32_t saved = ffl_cpu_level();
    ffl_bandwidth_probe *level_probe = NULL;
    CHECK(ffl_bandwidth_probe_new(1, 4u << 20, &level_probe) == FFL_OK);
    for (int32_t level = 0; level <= ffl_cpu_max_level(); level++) {
        if (ffl_cpu_set_level(level) != FFL_OK) continue;
        for (int32_t kind = FFL_PEAK_F32_FMA; kind <= FFL_PEAK_INT16_DOT; kind++) {
            const char *name = ffl_measure_peak_kernel_name(kind);
            CHECK(name != NULL && name[0] != 0);
            double ops = 0;
            int32_t st = ffl_measure_peak_flops(level == 0 ? 2 : 1, kind, &ops);
            CHECK_MSG(st == FFL_OK && sane(ops), "level %s kind %d: %s", ffl_cpu_level_name(level), kind, ffl_last_error());
            printf("%-7s %-28s %8.1f Gop/s\n", ffl_cpu_level_name(level), name ? name : "?", ops / 1e9);
        }
        double bw = 0;
        CHECK(ffl_measure_read_bandwidth(1, 8u << 20, &bw) == FFL_OK && sane(bw));
        /* the probe was made at the highest level; each run reads with the level now in use */
        bw = 0;
        CHECK(ffl_bandwidth_probe_run(level_probe, &bw) == FFL_OK && sane(bw));
    }
    ffl_cpu_set_level(saved);
    ffl_bandwidth_probe_free(level_probe);
    return test_finish("test_membench");
}
