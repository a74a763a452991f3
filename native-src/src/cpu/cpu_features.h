/* What the CPU can do; kernels pick their implementation from ffl_cpu_level(). */
#ifndef FFL_CPU_FEATURES_H
#define FFL_CPU_FEATURES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int sse3, ssse3, sse41, avx, avx2, fma, f16c, avxvnni;
    int avx512f, avx512dq, avx512bw, avx512vl, avx512vnni, avx512vbmi, avx512bf16, gfni;
    int neon, dotprod;
    int32_t max_level;
} ffl_cpu_info;

const ffl_cpu_info *ffl_cpu_info_get(void);

#ifdef __cplusplus
}
#endif

#endif
