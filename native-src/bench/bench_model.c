/* Prompt-processing and generation throughput of a model, llama-bench style:
 *   bench_model <model.gguf> [n_prompt=128] [n_gen=64] [n_threads=physical cores] [kv=f16|f32] [reps=3]
 * pp: one batch of n_prompt tokens into an empty cache; tg: n_gen single-token steps after it.
 * Prints the best of `reps` runs. */
#include "fflama.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s <model.gguf> [n_prompt] [n_gen] [n_threads] [f16|f32] [reps] [mmap|read]\n", argv[0]);
        return 2;
    }
    const int n_prompt = argc > 2 ? atoi(argv[2]) : 128;
    const int n_gen = argc > 3 ? atoi(argv[3]) : 64;
    const int n_threads = argc > 4 ? atoi(argv[4]) : ffl_cpu_physical_cores();
    const int kv_type = argc > 5 && strcmp(argv[5], "f32") == 0 ? FFL_TYPE_F32 : FFL_TYPE_F16;
    const int reps = argc > 6 ? atoi(argv[6]) : 3;

    ffl_model *m = NULL;
    ffl_model_params mp;
    ffl_model_default_params(&mp);
    mp.use_mmap = !(argc > 7 && strcmp(argv[7], "read") == 0);
    if (ffl_model_load(argv[1], &mp, &m) != FFL_OK) {
        fprintf(stderr, "load: %s\n", ffl_last_error());
        return 1;
    }
    ffl_session_params sp;
    ffl_session_default_params(&sp);
    sp.n_ctx = n_prompt + n_gen + 1;
    sp.n_batch = n_prompt > 0 ? n_prompt : 1;
    sp.n_threads = n_threads;
    sp.kv_type = kv_type;
    ffl_session *s = NULL;
    if (ffl_session_new(m, &sp, &s) != FFL_OK) {
        fprintf(stderr, "session: %s\n", ffl_last_error());
        return 1;
    }
    const int nv = ffl_model_n_vocab(m);
    int32_t *toks = malloc((size_t)(n_prompt > 0 ? n_prompt : 1) * sizeof *toks);
    for (int i = 0; i < n_prompt; i++) toks[i] = (int32_t)((i * 7919 + 1) % nv);

    double best_pp = 0, best_tg = 0;
    for (int r = 0; r < reps; r++) {
        ffl_session_clear(s);
        double t0 = now();
        if (n_prompt > 0 && ffl_session_decode(s, toks, NULL, NULL, NULL, n_prompt) != FFL_OK) {
            fprintf(stderr, "decode: %s\n", ffl_last_error());
            return 1;
        }
        double t1 = now();
        for (int i = 0; i < n_gen; i++) {
            int32_t t = (int32_t)((i * 31 + 7) % nv);
            if (ffl_session_decode(s, &t, NULL, NULL, NULL, 1) != FFL_OK) {
                fprintf(stderr, "decode: %s\n", ffl_last_error());
                return 1;
            }
        }
        double t2 = now();
        double pp = n_prompt / (t1 - t0), tg = n_gen / (t2 - t1);
        if (pp > best_pp) best_pp = pp;
        if (tg > best_tg) best_tg = tg;
    }
    char desc[128];
    ffl_model_desc(m, desc, sizeof desc);
    printf("model %s (%s, %.1f MiB), cpu %s, %d threads, kv %s\n", argv[1], desc,
           (double)ffl_model_size(m) / (1024.0 * 1024.0), ffl_cpu_level_name(ffl_cpu_level()), n_threads,
           kv_type == FFL_TYPE_F16 ? "f16" : "f32");
    printf("pp%d: %.1f tokens/s\n", n_prompt, best_pp);
    printf("tg%d: %.1f tokens/s\n", n_gen, best_tg);
    free(toks);
    ffl_session_free(s);
    ffl_model_free(m);
    return 0;
}
