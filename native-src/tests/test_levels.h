/* The kernel dispatch levels a test should cover: scalar and every SIMD level up to ffl_cpu_level()
 * (FFLAMA_CPU lowers it, so one machine can test the fallbacks too). */
#ifndef FFL_TEST_LEVELS_H
#define FFL_TEST_LEVELS_H

#include "fflama.h"

/* Fills levels (room for 8) and returns how many. */
static inline int test_cpu_levels(int32_t *levels) {
    const int32_t top = ffl_cpu_level();
    int n = 0;
    levels[n++] = FFL_CPU_SCALAR;
#if defined(__x86_64__)
    if (top >= FFL_CPU_AVX2) levels[n++] = FFL_CPU_AVX2;
    if (top >= FFL_CPU_AVX512) levels[n++] = FFL_CPU_AVX512;
#elif defined(__aarch64__)
    if (top >= FFL_CPU_NEON) levels[n++] = FFL_CPU_NEON;
    if (top >= FFL_CPU_NEON_DOTPROD) levels[n++] = FFL_CPU_NEON_DOTPROD;
#else
    (void)top;
#endif
    return n;
}

#endif
