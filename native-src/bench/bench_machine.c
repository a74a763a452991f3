/* Prints what ffl_measure_* find on this machine: read bandwidth and peak f32/int8 throughput.
 * Usage: bench_machine [threads] [MiB]   (defaults: physical cores, 1024 MiB) */
#include "fflama.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    int32_t threads = argc > 1 ? atoi(argv[1]) : 0;
    uint64_t mib = argc > 2 ? strtoull(argv[2], NULL, 10) : 1024;
    printf("cpu: %s\nkernels: %s\n", ffl_cpu_features(), ffl_cpu_level_name(ffl_cpu_level()));
    double bw, fma, dot, dot16;
    if (ffl_measure_read_bandwidth(threads, mib << 20, &bw) != FFL_OK ||
        ffl_measure_peak_flops(threads, FFL_PEAK_F32_FMA, &fma) != FFL_OK ||
        ffl_measure_peak_flops(threads, FFL_PEAK_INT8_DOT, &dot) != FFL_OK ||
        ffl_measure_peak_flops(threads, FFL_PEAK_INT16_DOT, &dot16) != FFL_OK) {
        fprintf(stderr, "error: %s\n", ffl_last_error());
        return 1;
    }
    printf("read bandwidth: %.2f GB/s (%llu MiB)\n", bw / 1e9, (unsigned long long)mib);
    printf("peak f32:       %.1f GFLOP/s (%s)\n", fma / 1e9, ffl_measure_peak_kernel_name(FFL_PEAK_F32_FMA));
    printf("peak int8:      %.1f Gop/s (%s)\n", dot / 1e9, ffl_measure_peak_kernel_name(FFL_PEAK_INT8_DOT));
    printf("peak int16:     %.1f Gop/s (%s)\n", dot16 / 1e9, ffl_measure_peak_kernel_name(FFL_PEAK_INT16_DOT));
    return 0;
}
