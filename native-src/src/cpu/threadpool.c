/* Worker threads wait on a generation counter: they spin briefly (a token's layers come
 * back-to-back) and then sleep on a condition variable, so idle pools cost no CPU.
 * Each thread id's share of a task is a slot claimed once; after its own share the caller claims
 * the slots no worker has started yet and runs them itself, so a worker that the OS has not
 * scheduled (a busy machine) never stalls the caller at a barrier. */
#include "common/ffl_internal.h"
#include "cpu/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ volatile("yield")
#else
#define cpu_relax() ((void)0)
#endif

#define SPIN_ITERATIONS 20000

struct ffl_threadpool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    pthread_cond_t done_cond;
    atomic_uint_fast64_t generation;
    atomic_int pending; /* slots of the current task not finished yet */
    atomic_int *claimed; /* per thread id: 1 once someone runs that slot of the current task */
    atomic_int stop;
    ffl_task_fn fn;
    void *ctx;
};

typedef struct {
    ffl_threadpool *tp;
    int ith;
} worker_arg;

static void *worker_main(void *p) {
    worker_arg arg = *(worker_arg *)p;
    free(p);
    ffl_threadpool *tp = arg.tp;
    uint64_t seen = 0;
    for (;;) {
        uint64_t gen = atomic_load_explicit(&tp->generation, memory_order_acquire);
        for (int spin = 0; gen == seen && spin < SPIN_ITERATIONS; spin++) {
            cpu_relax();
            gen = atomic_load_explicit(&tp->generation, memory_order_acquire);
        }
        if (gen == seen) {
            pthread_mutex_lock(&tp->mutex);
            while ((gen = atomic_load(&tp->generation)) == seen && !atomic_load(&tp->stop))
                pthread_cond_wait(&tp->wake, &tp->mutex);
            pthread_mutex_unlock(&tp->mutex);
        }
        if (atomic_load(&tp->stop)) return NULL;
        seen = gen;
        int expected = 0;
        if (!atomic_compare_exchange_strong(&tp->claimed[arg.ith], &expected, 1)) continue; /* the caller took it */
        tp->fn(tp->ctx, arg.ith, tp->n_threads);
        if (atomic_fetch_sub_explicit(&tp->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&tp->mutex);
            pthread_cond_signal(&tp->done_cond);
            pthread_mutex_unlock(&tp->mutex);
        }
    }
}

ffl_threadpool *ffl_threadpool_new(int n_threads) {
    if (n_threads < 1 || n_threads > 512) {
        ffl_fail(FFL_ERR_INVALID_ARGUMENT, "thread count %d out of range [1, 512]", n_threads);
        return NULL;
    }
    ffl_threadpool *tp = calloc(1, sizeof *tp);
    if (!tp) {
        ffl_fail(FFL_ERR_OUT_OF_MEMORY, "out of memory for the thread pool");
        return NULL;
    }
    tp->n_threads = n_threads;
    pthread_mutex_init(&tp->mutex, NULL);
    pthread_cond_init(&tp->wake, NULL);
    pthread_cond_init(&tp->done_cond, NULL);
    tp->threads = calloc((size_t)n_threads, sizeof *tp->threads);
    tp->claimed = calloc((size_t)n_threads, sizeof *tp->claimed);
    if (!tp->threads || !tp->claimed) {
        ffl_threadpool_free(tp);
        ffl_fail(FFL_ERR_OUT_OF_MEMORY, "out of memory for the thread pool");
        return NULL;
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *arg = malloc(sizeof *arg);
        if (arg) {
            arg->tp = tp;
            arg->ith = i;
        }
        if (!arg || pthread_create(&tp->threads[i], NULL, worker_main, arg) != 0) {
            free(arg);
            tp->n_threads = i; /* free() joins the ones that started */
            ffl_threadpool_free(tp);
            ffl_fail(FFL_ERR_INTERNAL, "cannot start worker thread %d", i);
            return NULL;
        }
    }
    return tp;
}

void ffl_threadpool_free(ffl_threadpool *tp) {
    if (!tp) return;
    pthread_mutex_lock(&tp->mutex);
    atomic_store(&tp->stop, 1);
    pthread_cond_broadcast(&tp->wake);
    pthread_mutex_unlock(&tp->mutex);
    if (tp->threads)
        for (int i = 1; i < tp->n_threads; i++) pthread_join(tp->threads[i], NULL);
    pthread_mutex_destroy(&tp->mutex);
    pthread_cond_destroy(&tp->wake);
    pthread_cond_destroy(&tp->done_cond);
    free(tp->threads);
    free((void *)tp->claimed);
    free(tp);
}

int ffl_threadpool_size(const ffl_threadpool *tp) { return tp ? tp->n_threads : 1; }

void ffl_threadpool_run(ffl_threadpool *tp, ffl_task_fn fn, void *ctx) {
    if (!tp || tp->n_threads == 1) {
        fn(ctx, 0, 1);
        return;
    }
    /* order matters: a late worker that claims a slot of this task must already see fn and ctx */
    tp->fn = fn;
    tp->ctx = ctx;
    atomic_store(&tp->pending, tp->n_threads - 1);
    for (int i = 1; i < tp->n_threads; i++) atomic_store(&tp->claimed[i], 0);
    pthread_mutex_lock(&tp->mutex);
    atomic_fetch_add_explicit(&tp->generation, 1, memory_order_release);
    pthread_cond_broadcast(&tp->wake);
    pthread_mutex_unlock(&tp->mutex);
    fn(ctx, 0, tp->n_threads);
    for (int i = 1; i < tp->n_threads; i++) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&tp->claimed[i], &expected, 1)) {
            fn(ctx, i, tp->n_threads);
            atomic_fetch_sub_explicit(&tp->pending, 1, memory_order_acq_rel);
        }
    }
    for (int spin = 0; atomic_load_explicit(&tp->pending, memory_order_acquire) > 0 && spin < SPIN_ITERATIONS; spin++)
        cpu_relax();
    if (atomic_load(&tp->pending) > 0) {
        pthread_mutex_lock(&tp->mutex);
        while (atomic_load(&tp->pending) > 0) pthread_cond_wait(&tp->done_cond, &tp->mutex);
        pthread_mutex_unlock(&tp->mutex);
    }
}
