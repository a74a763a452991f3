/* Machine measurements for fflama bench: streaming read bandwidth and peak arithmetic throughput
 * of the kernel level in use, so benchmark results can be stated as fractions of the machine's limits. */
#include "common/ffl_internal.h"
#include "cpu/cpu_features.h"
#include "cpu/membench_internal.h"
#include "cpu/threadpool.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define DEFAULT_READ_BYTES (1ull << 30)
/* Each timed read run covers at least this much, so small buffers still give a stable rate. */
#define MIN_BYTES_PER_RUN (256ull << 20)
#define READ_RUNS 8
#define PEAK_RUNS 5
#define PEAK_RUN_SECONDS 0.05
#define MAX_THREADS 512
/* Per-thread result slots one cache line apart, so the threads do not share lines. */
#define SINK_STRIDE 8

#if defined(__x86_64__) || defined(__i386__)
#define OPAQUE_INT(x) __asm__ volatile("" : "+r"(x))
#define OPAQUE_FLOAT(x) __asm__ volatile("" : "+x"(x))
#elif defined(__aarch64__)
#define OPAQUE_INT(x) __asm__ volatile("" : "+r"(x))
#define OPAQUE_FLOAT(x) __asm__ volatile("" : "+w"(x))
#else
#define OPAQUE_INT(x) __asm__ volatile("" : "+m"(x))
#define OPAQUE_FLOAT(x) __asm__ volatile("" : "+m"(x))
#endif

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- portable kernels (whatever the compiler makes of plain C for the baseline ISA) ---- */

static uint64_t read_sum_scalar(const void *p, size_t n) {
    const uint64_t *w = (const uint64_t *)p;
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (size_t i = 0, count = n / 8; i < count; i += 4) {
        a0 += w[i + 0];
        a1 += w[i + 1];
        a2 += w[i + 2];
        a3 += w[i + 3];
    }
    return a0 + a1 + a2 + a3;
}

static uint64_t peak_fma_scalar(int64_t iters) {
    float a = 0.999f, b = 0.001f;
#define INIT(i) float acc##i = (float)(i);
#define STEP(i) acc##i = acc##i * a + b;
#define SUM(i) s += acc##i;
    FFL_REP12(INIT)
    for (int64_t i = 0; i < iters; i++) {
        OPAQUE_FLOAT(a);
        OPAQUE_FLOAT(b);
        FFL_REP12(STEP)
    }
    float s = 0;
    FFL_REP12(SUM)
#undef INIT
#undef STEP
#undef SUM
    return (uint64_t)s;
}

static uint64_t peak_dot_scalar(int64_t iters) {
    int32_t u = 3, s = -2;
#define INIT(i) uint32_t acc##i = (uint32_t)(i);
#define STEP(i)     \
    OPAQUE_INT(u);  \
    acc##i += (uint32_t)(u * s);
#define SUM(i) t += acc##i;
    FFL_REP8(INIT)
    for (int64_t i = 0; i < iters; i++) {
        FFL_REP8(STEP)
    }
    uint32_t t = 0;
    FFL_REP8(SUM)
#undef INIT
#undef STEP
#undef SUM
    return t;
}

/* ---- kernel choice for the level in use ---- */

static ffl_read_kernel_fn read_kernel(void) {
#if defined(__x86_64__)
    switch (ffl_cpu_level()) {
    case FFL_CPU_AVX512: return ffl_read_sum_avx512;
    case FFL_CPU_AVX2: return ffl_read_sum_avx2;
    default: break;
    }
#endif
    return read_sum_scalar;
}

static int peak_kernel(int32_t kind, ffl_peak_kernel *out) {
    if (kind != FFL_PEAK_F32_FMA && kind != FFL_PEAK_INT8_DOT && kind != FFL_PEAK_INT16_DOT) return 0;
    const double chains = FFL_PEAK_CHAINS, dot_chains = FFL_PEAK_DOT_CHAINS;
#if defined(__x86_64__)
    const int vnni = ffl_cpu_info_get()->avx512vnni;
    switch (ffl_cpu_level()) {
    case FFL_CPU_AVX512:
        if (kind == FFL_PEAK_F32_FMA) *out = (ffl_peak_kernel){ffl_peak_fma_avx512, chains * 16 * 2, "vfmadd231ps zmm"};
        else if (kind == FFL_PEAK_INT16_DOT)
            *out = vnni ? (ffl_peak_kernel){ffl_peak_vnni16_avx512, chains * 32 * 2, "vpdpwssd zmm"}
                        : (ffl_peak_kernel){ffl_peak_madd16_avx512, dot_chains * 32 * 2, "vpmaddwd+vpaddd zmm"};
        else if (vnni) *out = (ffl_peak_kernel){ffl_peak_vnni_avx512, chains * 64 * 2, "vpdpbusd zmm"};
        else *out = (ffl_peak_kernel){ffl_peak_dot_avx512, dot_chains * 64 * 2, "vpmaddubsw+vpmaddwd zmm"};
        return 1;
    case FFL_CPU_AVX2:
        if (kind == FFL_PEAK_F32_FMA) *out = (ffl_peak_kernel){ffl_peak_fma_avx2, chains * 8 * 2, "vfmadd231ps ymm"};
        else if (kind == FFL_PEAK_INT16_DOT) *out = (ffl_peak_kernel){ffl_peak_madd16_avx2, dot_chains * 16 * 2, "vpmaddwd+vpaddd ymm"};
        else *out = (ffl_peak_kernel){ffl_peak_dot_avx2, dot_chains * 32 * 2, "vpmaddubsw+vpmaddwd ymm"};
        return 1;
    default: break;
    }
#endif
    if (kind == FFL_PEAK_F32_FMA) *out = (ffl_peak_kernel){peak_fma_scalar, chains * 2, "scalar f32 mul+add"};
    else *out = (ffl_peak_kernel){peak_dot_scalar, dot_chains * 2, "scalar int32 mul+add"};
    return 1;
}

static int32_t resolve_threads(int32_t n_threads, int32_t *out) {
    if (n_threads <= 0) n_threads = ffl_cpu_physical_cores();
    if (n_threads <= 0) n_threads = 1;
    if (n_threads > MAX_THREADS)
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "thread count %d out of range [1, %d]", n_threads, MAX_THREADS);
    *out = n_threads;
    return FFL_OK;
}

/* ---- read bandwidth ---- */

typedef struct {
    uint8_t *buf;
    uint64_t blocks;
    ffl_read_kernel_fn fn;
    uint64_t passes;
    int fill;
    uint64_t *sink;
} read_ctx;

static void read_task(void *p, int ith, int nth) {
    read_ctx *ctx = (read_ctx *)p;
    int64_t b, e;
    ffl_split_range((int64_t)ctx->blocks, ith, nth, &b, &e);
    uint8_t *start = ctx->buf + (uint64_t)b * FFL_MEMBENCH_BLOCK;
    size_t n = (size_t)(e - b) * FFL_MEMBENCH_BLOCK;
    if (ctx->fill) {
        /* first touch on the thread that reads it later (NUMA placement), with non-zero data */
        memset(start, ith + 1, n);
        return;
    }
    uint64_t s = 0;
    for (uint64_t pass = 0; pass < ctx->passes; pass++) s += ctx->fn(start, n);
    ctx->sink[(size_t)ith * SINK_STRIDE] += s;
}

struct ffl_bandwidth_probe {
    uint8_t *buf;
    uint64_t bytes;
    int32_t n_threads;
    uint64_t *sink;
    ffl_threadpool *tp;
    read_ctx ctx;
};

int32_t ffl_bandwidth_probe_new(int32_t n_threads, uint64_t bytes, ffl_bandwidth_probe **out) {
    if (!out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "out is NULL");
    *out = NULL;
    int32_t nth = 1;
    int32_t st = resolve_threads(n_threads, &nth);
    if (st != FFL_OK) return st;
    if (bytes == 0) bytes = DEFAULT_READ_BYTES;
    uint64_t blocks = bytes / FFL_MEMBENCH_BLOCK;
    if (blocks < (uint64_t)nth)
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "buffer of %llu bytes is too small for %d threads (need %llu)",
                        (unsigned long long)bytes, nth, (unsigned long long)nth * FFL_MEMBENCH_BLOCK);
    if (blocks > (SIZE_MAX / 2) / FFL_MEMBENCH_BLOCK)
        return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "buffer of %llu bytes is too large", (unsigned long long)bytes);
    bytes = blocks * FFL_MEMBENCH_BLOCK;

    ffl_bandwidth_probe *p = calloc(1, sizeof *p);
    if (!p) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "out of memory");
    /* huge pages where the system grants them (as for models read into memory): the figure is the
     * best streaming rate the machine offers, so ratios against it are never flattered */
    void *buf = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) {
        free(p);
        return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "cannot allocate %llu bytes for the read benchmark", (unsigned long long)bytes);
    }
#ifdef MADV_HUGEPAGE
    (void)madvise(buf, (size_t)bytes, MADV_HUGEPAGE);
#endif
    p->buf = buf;
    p->bytes = bytes;
    p->n_threads = nth;
    p->sink = calloc((size_t)nth * SINK_STRIDE, sizeof *p->sink);
    p->tp = p->sink ? ffl_threadpool_new(nth) : NULL;
    if (!p->tp) {
        int32_t err = p->sink ? ffl_last_status() : ffl_fail(FFL_ERR_OUT_OF_MEMORY, "out of memory");
        ffl_bandwidth_probe_free(p);
        return err;
    }
    p->ctx = (read_ctx){p->buf, blocks, read_kernel(), (MIN_BYTES_PER_RUN + bytes - 1) / bytes, 1, p->sink};
    ffl_threadpool_run(p->tp, read_task, &p->ctx);
    p->ctx.fill = 0;
    *out = p;
    return FFL_OK;
}

int32_t ffl_bandwidth_probe_run(ffl_bandwidth_probe *p, double *out_bytes_per_second) {
    if (!out_bytes_per_second) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "out_bytes_per_second is NULL");
    *out_bytes_per_second = 0;
    if (!p) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "probe is NULL");
    /* the kernel level may have changed since the probe was made */
    p->ctx.fn = read_kernel();
    double t0 = now_seconds();
    ffl_threadpool_run(p->tp, read_task, &p->ctx);
    double dt = now_seconds() - t0;
    double rate = dt > 0 ? (double)p->bytes * (double)p->ctx.passes / dt : 0;
    if (!(rate > 0) || !isfinite(rate)) return ffl_fail(FFL_ERR_INTERNAL, "read benchmark measured no time");
    *out_bytes_per_second = rate;
    return FFL_OK;
}

void ffl_bandwidth_probe_free(ffl_bandwidth_probe *p) {
    if (!p) return;
    if (p->sink) {
        uint64_t total = 0;
        for (int i = 0; i < p->n_threads; i++) total += p->sink[(size_t)i * SINK_STRIDE];
        FFL_LOGD("read probe: %d threads, %llu bytes x %llu passes per run (checksum %llx)", p->n_threads,
                 (unsigned long long)p->bytes, (unsigned long long)p->ctx.passes, (unsigned long long)total);
    }
    ffl_threadpool_free(p->tp);
    free(p->sink);
    if (p->buf) munmap(p->buf, (size_t)p->bytes);
    free(p);
}

int32_t ffl_measure_read_bandwidth(int32_t n_threads, uint64_t bytes, double *out_bytes_per_second) {
    if (!out_bytes_per_second) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "out_bytes_per_second is NULL");
    *out_bytes_per_second = 0;
    ffl_bandwidth_probe *p = NULL;
    int32_t st = ffl_bandwidth_probe_new(n_threads, bytes, &p);
    if (st != FFL_OK) return st;
    double best = 0;
    for (int run = 0; run < READ_RUNS && st == FFL_OK; run++) {
        double rate = 0;
        st = ffl_bandwidth_probe_run(p, &rate);
        if (rate > best) best = rate;
    }
    ffl_bandwidth_probe_free(p);
    if (st != FFL_OK) return st;
    *out_bytes_per_second = best;
    return FFL_OK;
}

/* ---- peak arithmetic ---- */

typedef struct {
    ffl_peak_kernel_fn fn;
    int64_t iters;
    uint64_t *sink;
} peak_ctx;

static void peak_task(void *p, int ith, int nth) {
    (void)nth;
    peak_ctx *ctx = (peak_ctx *)p;
    ctx->sink[(size_t)ith * SINK_STRIDE] += ctx->fn(ctx->iters);
}

static double timed_peak_run(ffl_threadpool *tp, peak_ctx *ctx) {
    double t0 = now_seconds();
    ffl_threadpool_run(tp, peak_task, ctx);
    return now_seconds() - t0;
}

int32_t ffl_measure_peak_flops(int32_t n_threads, int32_t kind, double *out_ops_per_second) {
    if (!out_ops_per_second) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "out_ops_per_second is NULL");
    *out_ops_per_second = 0;
    ffl_peak_kernel k;
    if (!peak_kernel(kind, &k)) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "unknown peak kind %d", kind);
    int32_t nth = 1;
    int32_t st = resolve_threads(n_threads, &nth);
    if (st != FFL_OK) return st;
    uint64_t *sink = calloc((size_t)nth * SINK_STRIDE, sizeof *sink);
    ffl_threadpool *tp = sink ? ffl_threadpool_new(nth) : NULL;
    if (!tp) {
        free(sink);
        return sink ? ffl_last_status() : ffl_fail(FFL_ERR_OUT_OF_MEMORY, "out of memory");
    }
    /* grow the iteration count until one run lasts long enough to time, then scale to the target */
    peak_ctx ctx = {k.fn, 1024, sink};
    double dt = timed_peak_run(tp, &ctx);
    while (dt < PEAK_RUN_SECONDS / 10 && ctx.iters < (INT64_C(1) << 40)) {
        ctx.iters *= 4;
        dt = timed_peak_run(tp, &ctx);
    }
    if (dt > 0 && dt < PEAK_RUN_SECONDS) ctx.iters = (int64_t)((double)ctx.iters * (PEAK_RUN_SECONDS / dt));
    double best = 0;
    for (int run = 0; run < PEAK_RUNS; run++) {
        dt = timed_peak_run(tp, &ctx);
        double rate = dt > 0 ? (double)nth * (double)ctx.iters * k.ops_per_iter / dt : 0;
        if (rate > best) best = rate;
    }
    FFL_LOGD("peak %s: %d threads, %lld iterations: %.1f Gop/s", k.name, nth, (long long)ctx.iters, best / 1e9);
    ffl_threadpool_free(tp);
    free(sink);
    if (!(best > 0) || !isfinite(best)) return ffl_fail(FFL_ERR_INTERNAL, "peak benchmark measured no time");
    *out_ops_per_second = best;
    return FFL_OK;
}

const char *ffl_measure_peak_kernel_name(int32_t kind) {
    ffl_peak_kernel k;
    return peak_kernel(kind, &k) ? k.name : NULL;
}
