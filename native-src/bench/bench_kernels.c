/* Kernel benchmark (a program, not a test): measures the machine's streaming read bandwidth with the
 * same thread count, then for each weight type the matrix x vector speed in GB/s of weight bytes
 * streamed (matrix far larger than the last-level cache) and its ratio to that bandwidth (the best read of
 * the run, and pass by pass against a read just before each), and the
 * matrix x matrix speed in GFLOP/s (prompt-processing shape).
 *
 *   bench_kernels [-t threads] [-m rows] [-k cols] [-p tokens] [-r reps] [-g GiB] [-l scalar|avx2|avx512] [types...]
 *
 * Types are GGUF type names, or q4_0_x16 / q8_0_x16 / q4_K_x16 / q6_K_x16 for the layouts models are repacked into at load
 * (quant/repack.h; whether the level has a kernel of its own for them or only the scalar one). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "common/fp16.h"
#include "cpu/threadpool.h"
#include "fflama.h"
#include "quant/kernels.h"
#include "quant/repack.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the calling thread: insensitive to other processes taking turns on the cores. */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

/* Large buffers 2 MiB aligned and hinted to transparent huge pages, as the library's read bandwidth
 * probe and models read into memory are (FFLAMA_BENCH_SMALL_PAGES=1: leave them 4 KiB). */
static void *big_alloc(size_t bytes) {
    void *p = NULL;
    const size_t huge = (size_t)2 << 20;
    if (posix_memalign(&p, huge, (bytes + huge - 1) & ~(huge - 1)) != 0) return NULL;
    const char *small = getenv("FFLAMA_BENCH_SMALL_PAGES");
#ifdef MADV_HUGEPAGE
    if (!small || strcmp(small, "1") != 0) (void)madvise(p, (bytes + huge - 1) & ~(huge - 1), MADV_HUGEPAGE);
#else
    (void)small;
#endif
    return p;
}

/* ---------------------------------------------------------------- bandwidth */

typedef struct {
    const uint64_t *buf;
    size_t words;
    volatile uint64_t sink[64];
} bw_ctx;

static void bw_task(void *p, int ith, int nth) {
    bw_ctx *c = p;
    int64_t b, e;
    ffl_split_range((int64_t)c->words / 64, ith, nth, &b, &e);
    const uint64_t *s = c->buf + b * 64;
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
    for (int64_t i = 0; i < (e - b) * 64; i += 8) {
        a0 += s[i], a1 += s[i + 1], a2 += s[i + 2], a3 += s[i + 3];
        a4 += s[i + 4], a5 += s[i + 5], a6 += s[i + 6], a7 += s[i + 7];
    }
    c->sink[ith] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
}

/* Best of `reps` streaming reads of the whole buffer, in GB/s. */
static double measure_bandwidth(ffl_threadpool *tp, const uint64_t *buf, size_t bytes, int reps) {
    bw_ctx c;
    memset(&c, 0, sizeof c);
    c.buf = buf;
    c.words = bytes / 8;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        ffl_threadpool_run(tp, bw_task, &c);
        double dt = now_s() - t0;
        if (dt < best) best = dt;
    }
    return (double)bytes / best / 1e9;
}

/* Matrix x vector passes per type (each paired with a read): at most 64. */
#define MV_PASSES(reps) ((reps) < 64 ? (reps) : 64)

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---------------------------------------------------------------- weights */

/* Offsets of the half-precision scale fields inside one block (random bits there could be NaN). */
static int half_fields(int32_t type, int *off) {
    switch (type) {
    case FFL_TYPE_Q4_0: case FFL_TYPE_Q5_0: case FFL_TYPE_Q8_0: case FFL_TYPE_IQ4_NL: case FFL_TYPE_IQ4_XS:
        off[0] = 0; return 1;
    case FFL_TYPE_Q4_1: case FFL_TYPE_Q5_1: case FFL_TYPE_Q4_K: case FFL_TYPE_Q5_K:
        off[0] = 0, off[1] = 2; return 2;
    case FFL_TYPE_Q2_K: off[0] = 80, off[1] = 82; return 2;
    case FFL_TYPE_Q3_K: off[0] = 108; return 1;
    case FFL_TYPE_Q6_K: off[0] = 208; return 1;
    default: return 0;
    }
}

static void fill_weights(int32_t type, uint8_t *p, size_t bytes) {
    for (size_t i = 0; i + 4 <= bytes; i += 4) {
        uint32_t v = rnd();
        memcpy(p + i, &v, 4);
    }
    if (type == FFL_TYPE_F32) {
        for (size_t i = 0; i + 4 <= bytes; i += 4) {
            float f = (float)(rnd() & 0xFFFF) / 65536.0f - 0.5f;
            memcpy(p + i, &f, 4);
        }
        return;
    }
    if (type == FFL_TYPE_F16 || type == FFL_TYPE_BF16) {
        for (size_t i = 0; i + 2 <= bytes; i += 2) {
            float f = (float)(rnd() & 0xFFFF) / 65536.0f - 0.5f;
            uint16_t h = type == FFL_TYPE_F16 ? ffl_float_to_half(f) : ffl_float_to_bf16(f);
            memcpy(p + i, &h, 2);
        }
        return;
    }
    int off[2];
    int nf = half_fields(type, off);
    size_t bb = (size_t)ffl_type_block_bytes(type);
    for (size_t b = 0; b + bb <= bytes; b += bb)
        for (int f = 0; f < nf; f++) {
            uint16_t h = ffl_float_to_half(0.001f + (float)(rnd() & 0xFF) * 1e-5f);
            memcpy(p + b + off[f], &h, 2);
        }
}

/* ---------------------------------------------------------------- matmul work */

typedef struct {
    int32_t type;
    const uint8_t *w;
    size_t wrb;
    const float *x;
    uint8_t *xq;
    int64_t m, k, nt;
    float *y;
} mm_ctx;

static void quant_task(void *p, int ith, int nth) {
    mm_ctx *c = p;
    int64_t b, e;
    ffl_split_range(c->nt, ith, nth, &b, &e);
    if (b < e) ffl_quantize_activations(c->type, c->x, c->k, c->xq, c->k, b, e);
}

static void mm_task(void *p, int ith, int nth) {
    mm_ctx *c = p;
    /* split rows in multiples of 16 so the tiled kernels see whole panels */
    int64_t panels = (c->m + 15) / 16, b, e;
    ffl_split_range(panels, ith, nth, &b, &e);
    b *= 16, e *= 16;
    if (e > c->m) e = c->m;
    if (b < e) ffl_matmul_rows(c->type, c->w, c->wrb, c->xq, c->k, c->nt, c->y, c->m, b, e);
}

static double run_matmul(ffl_threadpool *tp, mm_ctx *c, int reps) {
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        ffl_threadpool_run(tp, quant_task, c);
        ffl_threadpool_run(tp, mm_task, c);
        double dt = now_s() - t0;
        if (dt < best) best = dt;
    }
    return best;
}

/* Matrix x vector on a weight matrix that stays in the L2 cache, one thread: what the kernel can
 * consume per core when memory is not the limit. 192 KiB of weights (plus the activations) fit the
 * smallest L2 met so far (512 KiB on Zen 3; 512 KiB of weights did not). The fastest of many short
 * calls (~10 us each, for 0.1 s): on a shared host a busy neighbour slows some calls but rarely all of
 * them, which made the best of a few 20 ms runs of thread CPU time vary by up to 1.7x. */
static double cached_mv_gbs(int32_t type, const uint8_t *w, size_t wrb, int64_t cols, const float *x, uint8_t *xq, float *y) {
    int64_t rows = (int64_t)((192 * 1024) / wrb);
    if (rows < 1) rows = 1;
    ffl_quantize_activations(type, x, cols, xq, cols, 0, 1);
    double best = 1e30;
    const double stop = now_s() + 0.1;
    for (int calls = 0; calls < 100 || now_s() < stop; calls++) {
        double t0 = now_s();
        ffl_matmul_rows(type, w, wrb, xq, cols, 1, y, rows, 0, rows);
        double dt = now_s() - t0;
        if (dt < best) best = dt;
    }
    return (double)wrb * (double)rows / best / 1e9;
}

/* Matrix x matrix on one thread measured in thread CPU time (GFLOP/s per core, load-insensitive). */
static double cpu_mm_gflops(mm_ctx *c) {
    ffl_quantize_activations(c->type, c->x, c->k, c->xq, c->k, 0, c->nt);
    double best = 1e30;
    for (int rep = 0; rep < 2; rep++) {
        double t0 = cpu_s();
        ffl_matmul_rows(c->type, c->w, c->wrb, c->xq, c->k, c->nt, c->y, c->m, 0, c->m);
        double dt = cpu_s() - t0;
        if (dt < best) best = dt;
    }
    return 2.0 * (double)c->m * (double)c->k * (double)c->nt / best / 1e9;
}

/* Type names of the command line: GGUF names and the load-time layouts. */
static int32_t type_from_name(const char *name) {
    if (strcmp(name, "q4_0_x16") == 0) return FFL_WTYPE_Q4_0_X16;
    if (strcmp(name, "q8_0_x16") == 0) return FFL_WTYPE_Q8_0_X16;
    if (strcmp(name, "q4_K_x16") == 0) return FFL_WTYPE_Q4_K_X16;
    if (strcmp(name, "q6_K_x16") == 0) return FFL_WTYPE_Q6_K_X16;
    return ffl_type_from_name(name);
}
static const char *type_name(int32_t type) {
    return type == FFL_WTYPE_Q4_0_X16   ? "q4_0_x16"
           : type == FFL_WTYPE_Q8_0_X16 ? "q8_0_x16"
           : type == FFL_WTYPE_Q4_K_X16 ? "q4_K_x16"
           : type == FFL_WTYPE_Q6_K_X16 ? "q6_K_x16"
                                        : ffl_type_name(type);
}

static int usage(void) {
    fprintf(stderr, "usage: bench_kernels [-t threads] [-m rows] [-k cols] [-p tokens] [-r reps] [-g GiB] "
                    "[-l scalar|avx2|avx512|neon|neon-dotprod] [-v] [types...]\n"
                    "  -v: also print every matrix x vector pass and the read before it (stderr)\n");
    return 2;
}

int main(int argc, char **argv) {
    int threads = 2, reps = 10, n_types = 0, verbose = 0;
    int64_t mm_rows = 4096, cols = 4096, tokens = 512;
    double gib = 1.0;
    int32_t types[32];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-v") == 0) {
            verbose = 1;
        } else if (a[0] == '-' && i + 1 < argc) {
            const char *v = argv[++i];
            switch (a[1]) {
            case 't': threads = atoi(v); break;
            case 'm': mm_rows = atoll(v); break;
            case 'k': cols = atoll(v); break;
            case 'p': tokens = atoll(v); break;
            case 'r': reps = atoi(v); break;
            case 'g': gib = atof(v); break;
            case 'l': {
                int32_t lv = -1;
                for (int32_t l = 0; l <= FFL_CPU_NEON_DOTPROD; l++)
                    if (strcmp(ffl_cpu_level_name(l), v) == 0) lv = l;
                if (lv < 0 || ffl_cpu_set_level(lv) != FFL_OK) {
                    fprintf(stderr, "level %s not available\n", v);
                    return 2;
                }
            } break;
            default: return usage();
            }
        } else if (a[0] != '-') {
            int32_t t = type_from_name(a);
            if (t < 0 || !ffl_matmul_supported(t) || n_types >= 32) {
                fprintf(stderr, "unknown or unsupported type %s\n", a);
                return 2;
            }
            types[n_types++] = t;
        } else {
            return usage();
        }
    }
    if (threads < 1 || cols < 256 || cols % 256 || mm_rows < 16 || tokens < 1 || reps < 1) return usage();
    if (n_types == 0) {
        static const int32_t all[] = {FFL_TYPE_Q4_0, FFL_TYPE_Q8_0, FFL_TYPE_Q4_K, FFL_TYPE_Q6_K, FFL_TYPE_F16,
                                      FFL_TYPE_F32,  FFL_TYPE_BF16, FFL_TYPE_Q4_1, FFL_TYPE_Q5_0, FFL_TYPE_Q5_1,
                                      FFL_TYPE_IQ4_NL, FFL_TYPE_Q2_K, FFL_TYPE_Q3_K, FFL_TYPE_Q5_K, FFL_TYPE_IQ4_XS};
        n_types = (int)(sizeof all / sizeof all[0]);
        memcpy(types, all, sizeof all);
    }
    ffl_threadpool *tp = ffl_threadpool_new(threads);
    if (!tp) return 1;
    printf("cpu: %s\nkernel level: %s, threads: %d\n", ffl_cpu_features(), ffl_cpu_level_name(ffl_cpu_level()), threads);
    if (n_types > 32) return usage();
    size_t bw_bytes = (size_t)(gib * 1073741824.0);
    uint64_t *bw_buf = NULL;
    if (!(bw_buf = big_alloc(bw_bytes))) return 1;
    for (size_t i = 0; i < bw_bytes / 8; i++) bw_buf[i] = i * 0x9E3779B97F4A7C15ull;
    /* The read bandwidth is measured again before every type and the best value is the reference:
     * other processes on the machine only ever lower both figures. */
    double bw = measure_bandwidth(tp, bw_buf, bw_bytes, 5);
    printf("matrix x vector: %lld cols, rows to fill %.2f GiB of weights; matrix x matrix: %lld x %lld weights, %lld tokens\n",
           (long long)cols, gib, (long long)mm_rows, (long long)cols, (long long)tokens);
    printf("columns: mv = matrix x vector, GB/s of weights streamed (best of %d) and its share of the read bandwidth\n"
           "  (of bw: against the best read of the run; paired: median over the passes of each against the read timed just\n"
           "  before it, which a host whose memory speed changes from second to second cannot skew; near best: the same\n"
           "  over the passes whose read reached 90 %% of the best read, with their count: on a host that switches between\n"
           "  a slow and a fast memory state, the kernel's share of the fast state's bandwidth if the run reached it);\n"
           "  L2 = one thread on a weight matrix that stays in L2, per core (fastest of many short calls);\n"
           "  mm = matrix x matrix GFLOP/s with all threads (wall clock) and per core (one thread, thread CPU time)\n\n", MV_PASSES(reps));
    double r_mv[32], r_pair[32], r_l2[32], r_mm[32], r_mmc[32], r_us[32], r_ms[32];
    static double pass_read[32][64], pass_ratio[32][64];
    for (int ti = 0; ti < n_types; ti++) {
        int32_t type = types[ti];
        const int32_t base = ffl_x16_base(type);
        size_t wrb = (size_t)ffl_type_row_bytes(base, cols);
        int64_t mv_rows = (int64_t)(bw_bytes / wrb);
        mv_rows -= mv_rows % 16;
        int64_t max_rows = mv_rows > mm_rows ? mv_rows : mm_rows;
        int64_t max_tok = tokens;
        uint8_t *w = NULL;
        if (!(w = big_alloc(wrb * (size_t)max_rows))) return 1;
        fill_weights(base, w, wrb * (size_t)max_rows);
        if (base != type) ffl_repack_rows(type, w, w, wrb, cols, max_rows);
        float *x = malloc(sizeof(float) * (size_t)(cols * max_tok));
        uint8_t *xq = malloc(ffl_activation_row_bytes(type, cols) * (size_t)max_tok);
        float *y = malloc(sizeof(float) * (size_t)(max_rows * max_tok));
        if (!x || !xq || !y) return 1;
        for (int64_t i = 0; i < cols * max_tok; i++) x[i] = (float)(rnd() & 0xFFFF) / 32768.0f - 1.0f;

        mm_ctx c = {type, w, wrb, x, xq, mv_rows, cols, 1, y};
        double t_mv = 1e30, *ratios = pass_ratio[ti];
        const int pairs = MV_PASSES(reps);
        for (int r = 0; r < pairs; r++) { /* each pass right after a read of its own (the best one is the reference) */
            const double bw_r = measure_bandwidth(tp, bw_buf, bw_bytes, 1), t = run_matmul(tp, &c, 1);
            if (bw_r > bw) bw = bw_r;
            pass_read[ti][r] = bw_r;
            if (t < t_mv) t_mv = t;
            ratios[r] = (double)wrb * (double)mv_rows / t / 1e9 / bw_r;
            if (verbose)
                fprintf(stderr, "pass %s %d: read %.2f GB/s, matrix x vector %.2f GB/s, ratio %.3f\n", type_name(type), r,
                        bw_r, (double)wrb * (double)mv_rows / t / 1e9, ratios[r]);
        }
        double sorted[64];
        memcpy(sorted, ratios, sizeof(double) * (size_t)pairs); /* median() sorts; the passes stay in order */
        r_pair[ti] = median(sorted, pairs);
        r_mv[ti] = (double)wrb * (double)mv_rows / t_mv / 1e9;
        r_us[ti] = t_mv * 1e6;
        r_l2[ti] = cached_mv_gbs(type, w, wrb, cols, x, xq, y);

        mm_ctx g = {type, w, wrb, x, xq, mm_rows, cols, tokens, y};
        int mm_reps = reps < 3 ? reps : 3;
        double t_mm = run_matmul(tp, &g, mm_reps);
        r_mm[ti] = 2.0 * (double)mm_rows * (double)cols * (double)tokens / t_mm / 1e9;
        r_ms[ti] = t_mm * 1e3;
        mm_ctx g1 = g;
        g1.m = mm_rows / 4 < 64 ? mm_rows : mm_rows / 4; /* a quarter of the rows keeps it short */
        r_mmc[ti] = cpu_mm_gflops(&g1);
        fprintf(stderr, "%s done\n", type_name(type));
        free(w), free(x), free(xq), free(y);
    }
    printf("read bandwidth: %.2f GB/s (best streaming read of %.2f GiB, %d threads)\n\n", bw, gib, threads);
    printf("%-8s %10s %9s %7s %7s %12s %14s %11s %10s %16s\n", "type", "mv GB/s", "mv us", "of bw", "paired", "near best",
           "L2 GB/s/core", "mm GFLOP/s", "mm ms", "mm GFLOP/s/core");
    for (int ti = 0; ti < n_types; ti++) {
        double near[64];
        int n_near = 0;
        for (int r = 0; r < MV_PASSES(reps); r++)
            if (pass_read[ti][r] >= 0.9 * bw) near[n_near++] = pass_ratio[ti][r];
        char near_s[32] = "-";
        if (n_near > 0) snprintf(near_s, sizeof near_s, "%.1f%% (%d)", 100.0 * median(near, n_near), n_near);
        printf("%-8s %10.2f %9.0f %6.1f%% %6.1f%% %12s %14.2f %11.1f %10.2f %16.1f\n", type_name(types[ti]), r_mv[ti],
               r_us[ti], 100.0 * r_mv[ti] / bw, 100.0 * r_pair[ti], near_s, r_l2[ti], r_mm[ti], r_ms[ti], r_mmc[ti]);
    }
    free(bw_buf);
    ffl_threadpool_free(tp);
    return 0;
}
