/* A fixed pool of worker threads kept alive across calls; work is a parallel-for over thread ids.
 * The calling thread takes part as thread 0, so a pool of n threads starts n-1 workers. */
#ifndef FFL_THREADPOOL_H
#define FFL_THREADPOOL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ffl_threadpool ffl_threadpool;

/* Runs on each thread: ith in [0, nth). */
typedef void (*ffl_task_fn)(void *ctx, int ith, int nth);

/* NULL on failure (error recorded). n_threads >= 1. */
ffl_threadpool *ffl_threadpool_new(int n_threads);
void ffl_threadpool_free(ffl_threadpool *tp);
int ffl_threadpool_size(const ffl_threadpool *tp);
/* Runs fn on every thread of the pool and returns when all have finished. Not reentrant:
 * one caller at a time per pool (a session owns its pool use). tp may be NULL: runs fn(ctx, 0, 1). */
void ffl_threadpool_run(ffl_threadpool *tp, ffl_task_fn fn, void *ctx);

/* Splits [0, n) evenly: the range of thread ith. */
static inline void ffl_split_range(int64_t n, int ith, int nth, int64_t *begin, int64_t *end) {
    int64_t per = (n + nth - 1) / nth;
    int64_t b = per * ith;
    int64_t e = b + per;
    *begin = b < n ? b : n;
    *end = e < n ? e : n;
}

#ifdef __cplusplus
}
#endif

#endif
