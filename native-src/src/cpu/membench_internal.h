/* Machine measurements for fflama bench: the per-level kernels behind ffl_measure_*.
 * Read kernels sum a buffer with wide loads so that only memory limits them; peak kernels run
 * independent register-only chains long enough to hide every latency, so only the execution
 * ports limit them. */
#ifndef FFL_MEMBENCH_INTERNAL_H
#define FFL_MEMBENCH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every read kernel consumes whole blocks of this many bytes, from 64-byte aligned addresses. */
#define FFL_MEMBENCH_BLOCK 256

/* Sums n bytes (n a multiple of FFL_MEMBENCH_BLOCK) as 64-bit lanes; the result only keeps the loads alive. */
typedef uint64_t (*ffl_read_kernel_fn)(const void *p, size_t n);
/* Runs iters iterations of a register-only kernel; the result only keeps the work alive. */
typedef uint64_t (*ffl_peak_kernel_fn)(int64_t iters);

typedef struct {
    ffl_peak_kernel_fn fn;
    double ops_per_iter; /* f32: 2 per FMA lane; int8: 2 per multiply-accumulate of a byte pair */
    const char *name;
} ffl_peak_kernel;

uint64_t ffl_read_sum_avx2(const void *p, size_t n);
uint64_t ffl_read_sum_avx512(const void *p, size_t n);

/* Independent chains per iteration: 12 covers 2 ports x 5 cycles of FMA/VNNI latency. The
 * maddubs sequence only carries an add from one iteration to the next, so 8 chains suffice and
 * leave room in AVX2's 16 registers. Chains are spelt out (REPn) because GCC spills arrays of vectors. */
#define FFL_PEAK_CHAINS 12
#define FFL_PEAK_DOT_CHAINS 8
#define FFL_REP8(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7)
#define FFL_REP12(M) FFL_REP8(M) M(8) M(9) M(10) M(11)

uint64_t ffl_peak_fma_avx2(int64_t iters);    /* vfmadd ymm: 12 x 8 lanes x 2 ops */
uint64_t ffl_peak_dot_avx2(int64_t iters);    /* vpmaddubsw + vpmaddwd + vpaddd ymm: 8 x 32 MACs x 2 ops */
uint64_t ffl_peak_fma_avx512(int64_t iters);  /* vfmadd zmm: 12 x 16 lanes x 2 ops */
uint64_t ffl_peak_dot_avx512(int64_t iters);  /* vpmaddubsw + vpmaddwd + vpaddd zmm: 8 x 64 MACs x 2 ops */
uint64_t ffl_peak_vnni_avx512(int64_t iters); /* vpdpbusd zmm: 12 x 64 MACs x 2 ops */
uint64_t ffl_peak_madd16_avx2(int64_t iters);   /* vpmaddwd + vpaddd ymm: 8 x 16 MACs x 2 ops */
uint64_t ffl_peak_madd16_avx512(int64_t iters); /* vpmaddwd + vpaddd zmm: 8 x 32 MACs x 2 ops */
uint64_t ffl_peak_vnni16_avx512(int64_t iters); /* vpdpwssd zmm: 12 x 32 MACs x 2 ops */

#ifdef __cplusplus
}
#endif

#endif
