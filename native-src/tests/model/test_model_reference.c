/* Logits against llama.cpp's for every reference file: teacher-forced over prompt and
 * continuation, F32 KV cache, per-position NMSE and argmax checks, in three feeding modes
 * (prompt as a batch + one token at a time; everything one at a time on 1 thread; everything
 * in one batch), plus greedy decoding of the real stories260K model. */
#include "fflama.h"
#include "json_min.h"
#include "test_util.h"

#include <dirent.h>
#include <math.h>

typedef struct {
    double nmse_limit;
    int argmax_everywhere; /* else only where the reference top-1/top-2 margin >= 0.25 */
} tolerance;

static tolerance tolerance_for(const char *model) {
    tolerance t = {2e-3, 0};
    if (strstr(model, "-f32")) t = (tolerance){1e-6, 1};
    else if (strstr(model, "-f16") || strstr(model, "-bf16")) t = (tolerance){1e-4, 0};
    return t;
}

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static double ref_margin(const jv *ref, int *top) {
    double a = -INFINITY, b = -INFINITY;
    *top = 0;
    for (int i = 0; i < ref->n; i++) {
        double v = ref->items[i]->num;
        if (v > a) {
            b = a;
            a = v;
            *top = i;
        } else if (v > b) {
            b = v;
        }
    }
    return a - b;
}

/* Compares one logits row with the reference; returns the NMSE. */
static double compare(const char *what, int index, const float *got, const jv *ref, int n_vocab, tolerance tol) {
    double num = 0, den = 0;
    for (int i = 0; i < n_vocab; i++) {
        double r = ref->items[i]->num, d = got[i] - r;
        num += d * d;
        den += r * r;
    }
    double nmse = den > 0 ? num / den : num;
    CHECK_MSG(nmse <= tol.nmse_limit, "%s position %d: NMSE %.3g > %.3g", what, index, nmse, tol.nmse_limit);
    int top;
    double margin = ref_margin(ref, &top);
    if (tol.argmax_everywhere || margin >= 0.25)
        CHECK_MSG(argmax(got, n_vocab) == top, "%s position %d: argmax %d, reference %d (margin %.3f)", what, index,
                  argmax(got, n_vocab), top, margin);
    return nmse;
}

enum { MODE_PROMPT_BATCH, MODE_ONE_BY_ONE, MODE_ALL_BATCH };
static const char *mode_names[] = {"prompt-batch", "one-by-one/1 thread", "all-batch"};

static double run_mode(ffl_model *model, const jv *doc, int mode, const char *name) {
    tolerance tol = tolerance_for(name);
    int n_prompt, n_gen;
    int *prompt = jv_ints(jv_get(doc, "prompt_tokens"), &n_prompt);
    int *gen = jv_ints(jv_get(doc, "generated_tokens"), &n_gen);
    const jv *plog = jv_get(doc, "prompt_logits"), *glog = jv_get(doc, "generated_logits");
    const int n_vocab = ffl_model_n_vocab(model);
    CHECK(plog && glog && plog->n == n_prompt && glog->n == n_gen);
    CHECK(plog->items[0]->n == n_vocab);

    ffl_session_params sp;
    ffl_session_default_params(&sp);
    sp.n_ctx = 256;
    sp.kv_type = FFL_TYPE_F32;
    sp.n_threads = mode == MODE_ONE_BY_ONE ? 1 : 2;
    ffl_session *s = NULL;
    int32_t st = ffl_session_new(model, &sp, &s);
    CHECK_MSG(st == FFL_OK, "session: %s", ffl_last_error());
    double worst = 0;
    char what[256];
    snprintf(what, sizeof what, "%s [%s]", name, mode_names[mode]);

    int n_all = n_prompt + n_gen;
    int32_t *all = malloc((size_t)n_all * sizeof *all);
    int8_t *want = malloc((size_t)n_all);
    for (int i = 0; i < n_prompt; i++) all[i] = prompt[i];
    for (int i = 0; i < n_gen; i++) all[n_prompt + i] = gen[i];
    memset(want, 1, (size_t)n_all);

    if (mode == MODE_ALL_BATCH) {
        st = ffl_session_decode(s, all, NULL, NULL, want, n_all);
        CHECK_MSG(st == FFL_OK, "decode: %s", ffl_last_error());
        for (int i = 0; st == FFL_OK && i < n_all; i++) {
            const jv *ref = i < n_prompt ? plog->items[i] : glog->items[i - n_prompt];
            double e = compare(what, i, ffl_session_logits(s, i), ref, n_vocab, tol);
            worst = e > worst ? e : worst;
        }
    } else {
        int first = 0;
        if (mode == MODE_PROMPT_BATCH) {
            st = ffl_session_decode(s, all, NULL, NULL, want, n_prompt);
            CHECK_MSG(st == FFL_OK, "decode: %s", ffl_last_error());
            for (int i = 0; st == FFL_OK && i < n_prompt; i++) {
                double e = compare(what, i, ffl_session_logits(s, i), plog->items[i], n_vocab, tol);
                worst = e > worst ? e : worst;
            }
            first = n_prompt;
        }
        for (int i = first; i < n_all; i++) {
            st = ffl_session_decode(s, &all[i], NULL, NULL, NULL, 1);
            CHECK_MSG(st == FFL_OK, "decode %d: %s", i, ffl_last_error());
            if (st != FFL_OK) break;
            const jv *ref = i < n_prompt ? plog->items[i] : glog->items[i - n_prompt];
            double e = compare(what, i, ffl_session_logits(s, -1), ref, n_vocab, tol);
            worst = e > worst ? e : worst;
        }
    }
    CHECK(ffl_session_n_past(s, 0) == n_all);
    ffl_session_free(s);
    free(all);
    free(want);
    free(prompt);
    free(gen);
    return worst;
}

/* Greedy decoding from the prompt must reproduce llama.cpp's continuation token for token. */
static void check_greedy(ffl_model *model, const jv *doc, const char *name) {
    int n_prompt, n_gen;
    int *prompt = jv_ints(jv_get(doc, "prompt_tokens"), &n_prompt);
    int *gen = jv_ints(jv_get(doc, "generated_tokens"), &n_gen);
    ffl_session_params sp;
    ffl_session_default_params(&sp);
    sp.n_ctx = 256;
    sp.kv_type = FFL_TYPE_F32;
    ffl_session *s = NULL;
    CHECK(ffl_session_new(model, &sp, &s) == FFL_OK);
    int32_t *toks = malloc((size_t)n_prompt * sizeof *toks);
    for (int i = 0; i < n_prompt; i++) toks[i] = prompt[i];
    int32_t st = ffl_session_decode(s, toks, NULL, NULL, NULL, n_prompt);
    int same = 0;
    for (int i = 0; st == FFL_OK && i < n_gen; i++) {
        int32_t next = argmax(ffl_session_logits(s, -1), ffl_model_n_vocab(model));
        if (next != gen[i]) break;
        same++;
        st = ffl_session_decode(s, &next, NULL, NULL, NULL, 1);
    }
    CHECK_MSG(same == n_gen, "%s: greedy decoding matches %d of %d tokens", name, same, n_gen);
    printf("  %-34s greedy: %d/%d tokens identical\n", name, same, n_gen);
    ffl_session_free(s);
    free(toks);
    free(prompt);
    free(gen);
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(void) {
    char dir[1024], path[2048];
    testdata_path(dir, sizeof dir, "reference");
    DIR *d = opendir(dir);
    CHECK_MSG(d != NULL, "cannot open %s", dir);
    if (!d) return test_finish("test_model_reference");
    char *names[256];
    int n_names = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n_names < 256) {
        size_t len = strlen(e->d_name);
        if (len > 9 && strcmp(e->d_name + len - 9, ".ref.json") == 0) names[n_names++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n_names, sizeof names[0], cmp_names);
    CHECK(n_names >= 20);

    for (int f = 0; f < n_names; f++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[f]);
        jv *doc = jv_parse_file(path);
        CHECK_MSG(doc != NULL, "cannot parse %s", path);
        if (!doc) continue;
        const jv *mname = jv_get(doc, "model");
        char mpath[1024], rel[512];
        snprintf(rel, sizeof rel, "models/%s", mname ? mname->str : "?");
        testdata_path(mpath, sizeof mpath, rel);
        ffl_model *model = NULL;
        int32_t st = ffl_model_load(mpath, NULL, &model);
        CHECK_MSG(st == FFL_OK, "load %s: %s", mpath, ffl_last_error());
        if (st == FFL_OK) {
            double w[3];
            for (int mode = 0; mode < 3; mode++) w[mode] = run_mode(model, doc, mode, names[f]);
            printf("  %-34s max NMSE: prompt-batch %.2e  one-by-one %.2e  all-batch %.2e\n", names[f], w[0], w[1],
                   w[2]);
            if (strstr(names[f], "stories260K-f32")) check_greedy(model, doc, names[f]);
            ffl_model_free(model);
        }
        jv_free(doc);
        free(names[f]);
    }
    return test_finish("test_model_reference");
}
