/* Rearranges weight tensors into the layouts the active kernels multiply fastest (quant/repack.h)
 * while a mapped model loads, and copies the other weight matrices as they are: the new rows live in
 * memory of their own, on huge pages. The file mapping is left as it was (a GGUF view of the model
 * still reads the file's bytes) and its pages for those tensors are released. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/ffl_internal.h"
#include "common/sysmem.h"
#include "gguf/gguf_internal.h"
#include "model/model.h"
#include "quant/kernels.h"
#include "quant/repack.h"

#define REPACK_MAX_THREADS 16
#define REPACK_ALIGN 64

typedef struct {
    ffl_weight *w;
    int32_t rtype;
    size_t offset; /* in the new buffer */
    uint8_t *dst;
} repack_job;

typedef struct {
    repack_job *jobs;
    int n_jobs, ith, nth;
} repack_share;

/* Thread ith converts its share of every tensor's rows (shares are whole rows). */
static void *repack_thread(void *arg) {
    const repack_share *s = arg;
    for (int i = 0; i < s->n_jobs; i++) {
        const repack_job *j = &s->jobs[i];
        const int64_t rows = j->w->n_rows * j->w->n_mats;
        const int64_t r0 = rows * s->ith / s->nth, r1 = rows * (s->ith + 1) / s->nth;
        if (j->rtype == j->w->type) { /* no other layout: the rows as they are */
            memcpy(j->dst + (size_t)r0 * j->w->row_bytes, j->w->data + (size_t)r0 * j->w->row_bytes,
                   (size_t)(r1 - r0) * j->w->row_bytes);
            continue;
        }
        ffl_repack_rows_fast(j->rtype, j->w->data + (size_t)r0 * j->w->row_bytes, j->dst + (size_t)r0 * j->w->row_bytes,
                             j->w->row_bytes, j->w->n_cols, r1 - r0);
    }
    return NULL;
}

/* Drops this mapping's pages that lie wholly inside [p, p + bytes): they fault back from the file
 * if anything reads them again. */
static void release_file_pages(const uint8_t *p, size_t bytes) {
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1), b = ((uintptr_t)p + bytes) & ~(page - 1);
    if (b > a) (void)madvise((void *)a, b - a, MADV_DONTNEED);
}

/* A matrix without a faster layout is copied when huge pages are there to hold it: generation read
 * the file's mapping ~10 % slower than the same bytes on 2 MiB pages (TinyLlama F16 tg64, 2 threads,
 * Zen 4 guest, in turns: 1.10x copied; copied onto 4 KiB pages it lost the gain, 0.88x of 2 MiB). */
static int collect(ffl_weight *w, repack_job *jobs, int n, size_t *total, int copy_plain) {
    if (!w->data || w->n_rows < 1) return n;
    int32_t rtype = ffl_repack_type(w->type, w->n_cols);
    if (rtype < 0 && copy_plain && w->n_rows > 1 && ffl_matmul_supported(w->type)) rtype = w->type;
    if (rtype < 0) return n;
    jobs[n] = (repack_job){w, rtype, *total, NULL};
    *total += (w->mat_bytes * (size_t)w->n_mats + REPACK_ALIGN - 1) & ~(size_t)(REPACK_ALIGN - 1);
    return n + 1;
}

/* The jobs for every weight tensor that gets a layout of its own (or a copy); their bytes in *total. */
static int plan(ffl_model *m, repack_job *jobs, int copy_plain, size_t *total) {
    int n = 0;
    *total = 0;
    /* the token embedding is looked up row by row in its own format, so it stays (also when tied) */
    for (int32_t role = 0; role < FFL_T_GLOBAL_COUNT; role++)
        if (role != FFL_T_TOKEN_EMBD) n = collect(&m->global[role], jobs, n, total, copy_plain);
    for (int32_t il = 0; il < m->hp.n_layer; il++)
        for (int32_t i = 0; i < FFL_T_LAYER_COUNT; i++) n = collect(&m->layers[il].t[i], jobs, n, total, copy_plain);
    return n;
}

int32_t ffl_model_repack(ffl_model *m) {
    if (!m->gguf->file_mapped) return FFL_OK; /* a copy in memory already: repacking would hold two */
    const int max_jobs = FFL_T_GLOBAL_COUNT + m->hp.n_layer * FFL_T_LAYER_COUNT;
    repack_job *jobs = calloc((size_t)max_jobs, sizeof *jobs);
    if (!jobs) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "model: out of memory");
    size_t total = 0;
    const int copy_plain = ffl_huge_pages_available();
    int n = plan(m, jobs, copy_plain, &total);
    /* a copy that does not fit would swap or meet the OOM killer: the file's pages can be dropped and
     * read again, the copy's cannot */
    const size_t avail = ffl_memory_available(), room = avail / 10 * 9;
    if (total > room && copy_plain) n = plan(m, jobs, 0, &total); /* the layouts without the copies */
    if (total > room) {
        FFL_LOGW("model: %zu MiB of weights to repack but %zu MiB of memory available; using them as stored",
                 total >> 20, avail >> 20);
        n = 0;
    }
    if (n == 0) {
        free(jobs);
        return FFL_OK;
    }
    uint8_t *buf = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) { /* not fatal: the file's layout works too, only slower */
        FFL_LOGW("model: no memory to repack %zu bytes of weights; using them as stored", total);
        free(jobs);
        return FFL_OK;
    }
#ifdef MADV_HUGEPAGE
    (void)madvise(buf, total, MADV_HUGEPAGE); /* streamed once per token: 2 MiB pages spare TLB walks */
#endif
    for (int i = 0; i < n; i++) jobs[i].dst = buf + jobs[i].offset;

    int nth = ffl_cpu_physical_cores();
    nth = nth < 1 ? 1 : nth > REPACK_MAX_THREADS ? REPACK_MAX_THREADS : nth;
    repack_share shares[REPACK_MAX_THREADS];
    pthread_t threads[REPACK_MAX_THREADS];
    int started = 0;
    for (int t = 0; t < nth; t++) shares[t] = (repack_share){jobs, n, t, nth};
    for (int t = 1; t < nth; t++)
        if (pthread_create(&threads[t], NULL, repack_thread, &shares[t]) == 0) started = t;
        else break;
    /* shares of threads that did not start are done here */
    for (int t = started + 1; t < nth; t++) repack_thread(&shares[t]);
    repack_thread(&shares[0]);
    for (int t = 1; t <= started; t++) pthread_join(threads[t], NULL);

    (void)mprotect(buf, total, PROT_READ);
    int n_copied = 0;
    for (int i = 0; i < n; i++) {
        ffl_weight *w = jobs[i].w;
        n_copied += jobs[i].rtype == w->type;
        release_file_pages(w->data, w->mat_bytes * (size_t)w->n_mats);
        w->data = jobs[i].dst;
        w->type = jobs[i].rtype;
    }
    m->repacked = buf;
    m->repacked_bytes = total;
    FFL_LOGI("repacked %d weight tensors and copied %d (%.1f MiB) for the %s kernels", n - n_copied, n_copied,
             (double)total / (1024.0 * 1024.0), ffl_cpu_level_name(ffl_cpu_level()));
    free(jobs);
    return FFL_OK;
}
