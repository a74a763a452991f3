/* Time to first token: load (mmap) + session + the first one-token decode, then a second decode for
 * comparison. With --cold the file's pages are dropped from the page cache first (posix_fadvise), so
 * the first decode reads the weights from disk as after a reboot.
 * Usage: bench_ttft MODEL.gguf [threads] [--cold] [--no-mmap] [--no-repack] */
#include "fflama.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int drop_cache(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    int rc = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.gguf [threads] [--cold] [--no-mmap] [--no-repack]\n", argv[0]);
        return 2;
    }
    int threads = 0, cold = 0, mmap = 1, repack = 1;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--cold") == 0) cold = 1;
        else if (strcmp(argv[i], "--no-mmap") == 0) mmap = 0;
        else if (strcmp(argv[i], "--no-repack") == 0) repack = 0;
        else threads = atoi(argv[i]);
    }
    if (cold && drop_cache(argv[1]) != 0) fprintf(stderr, "warning: could not drop %s from the page cache\n", argv[1]);

    ffl_model_params mp;
    ffl_model_default_params(&mp);
    mp.use_mmap = mmap;
    mp.repack = repack;
    double t0 = now_ms();
    ffl_model *m = NULL;
    if (ffl_model_load(argv[1], &mp, &m) != FFL_OK) {
        fprintf(stderr, "load: %s\n", ffl_last_error());
        return 1;
    }
    double t1 = now_ms();
    ffl_session_params sp;
    ffl_session_default_params(&sp);
    sp.n_ctx = 64;
    sp.n_batch = 8;
    if (threads > 0) sp.n_threads = threads;
    ffl_session *s = NULL;
    if (ffl_session_new(m, &sp, &s) != FFL_OK) {
        fprintf(stderr, "session: %s\n", ffl_last_error());
        ffl_model_free(m);
        return 1;
    }
    double t2 = now_ms();
    int32_t tok = ffl_vocab_special_token(ffl_model_vocab(m), FFL_TOKEN_BOS);
    if (tok < 0) tok = 1;
    int st = ffl_session_decode(s, &tok, NULL, NULL, NULL, 1);
    double t3 = now_ms();
    tok = 100;
    if (st == FFL_OK) st = ffl_session_decode(s, &tok, NULL, NULL, NULL, 1);
    double t4 = now_ms();
    if (st != FFL_OK) fprintf(stderr, "decode: %s\n", ffl_last_error());
    char desc[128];
    ffl_model_desc(m, desc, sizeof desc);
    printf("%s (%s, %s, %d threads): load %.1f ms, session %.1f ms, first token %.1f ms => TTFT %.1f ms; "
           "second token %.1f ms\n",
           argv[1], desc, cold ? "cold cache" : "warm cache", ffl_session_n_threads(s), t1 - t0, t2 - t1, t3 - t2,
           t3 - t0, t4 - t3);
    ffl_session_free(s);
    ffl_model_free(m);
    return st == FFL_OK ? 0 : 1;
}
