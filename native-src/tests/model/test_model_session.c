/* Session behaviour: sequences sharing cells, seq_rm/cp/keep, context overflow, bad input,
 * abort, state save/restore (and corrupted blobs), batch splitting, embeddings, thread counts,
 * several sessions on one model in parallel threads. */
#include "fflama.h"
#include "test_util.h"

#include <math.h>
#include <pthread.h>
#include <unistd.h>

static const int32_t PREFIX[] = {1, 403, 407, 261, 378, 383, 286, 261}; /* "Once upon a time there was a" */
#define N_PREFIX 8

static ffl_model *load(const char *name) {
    char rel[256], path[1024];
    snprintf(rel, sizeof rel, "models/%s", name);
    testdata_path(path, sizeof path, rel);
    ffl_model *m = NULL;
    int32_t st = ffl_model_load(path, NULL, &m);
    CHECK_MSG(st == FFL_OK, "load %s: %s", path, ffl_last_error());
    return m;
}

static ffl_session *new_session(const ffl_model *m, int32_t n_ctx, int32_t kv_type, int32_t n_seq, int32_t n_threads) {
    ffl_session_params p;
    ffl_session_default_params(&p);
    p.n_ctx = n_ctx;
    p.kv_type = kv_type;
    p.n_seq_max = n_seq;
    p.n_threads = n_threads;
    ffl_session *s = NULL;
    int32_t st = ffl_session_new(m, &p, &s);
    CHECK_MSG(st == FFL_OK, "session: %s", ffl_last_error());
    return s;
}

static double nmse(const float *a, const float *ref, int n) {
    double num = 0, den = 0;
    for (int i = 0; i < n; i++) {
        double d = (double)a[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    return den > 0 ? num / den : num;
}

/* Logits after feeding tokens into a fresh F32-cache session, one batch. */
static float *fresh_logits(const ffl_model *m, const int32_t *toks, int n) {
    ffl_session *s = new_session(m, 128, FFL_TYPE_F32, 1, 1);
    int nv = ffl_model_n_vocab(m);
    float *out = malloc((size_t)nv * sizeof(float));
    CHECK(ffl_session_decode(s, toks, NULL, NULL, NULL, n) == FFL_OK);
    memcpy(out, ffl_session_logits(s, -1), (size_t)nv * sizeof(float));
    ffl_session_free(s);
    return out;
}

static void test_shared_prefix(const ffl_model *m) {
    const int nv = ffl_model_n_vocab(m);
    ffl_session *s = new_session(m, 64, FFL_TYPE_F32, 2, 2);
    CHECK(ffl_session_decode(s, PREFIX, NULL, NULL, NULL, N_PREFIX) == FFL_OK);
    CHECK(ffl_session_seq_cp(s, 0, 1, -1, -1) == FFL_OK);
    CHECK(ffl_session_kv_used(s) == N_PREFIX); /* shared cells, no copies */
    CHECK(ffl_session_n_past(s, 1) == N_PREFIX);
    /* one batch, two sequences, different next tokens */
    int32_t toks[2] = {300, 301}, seqs[2] = {0, 1};
    int8_t want[2] = {1, 1};
    CHECK(ffl_session_decode(s, toks, NULL, seqs, want, 2) == FFL_OK);
    CHECK(ffl_session_n_outputs(s) == 2);
    int32_t a[N_PREFIX + 1], b[N_PREFIX + 1];
    memcpy(a, PREFIX, sizeof PREFIX);
    memcpy(b, PREFIX, sizeof PREFIX);
    a[N_PREFIX] = 300;
    b[N_PREFIX] = 301;
    float *ra = fresh_logits(m, a, N_PREFIX + 1), *rb = fresh_logits(m, b, N_PREFIX + 1);
    double ea = nmse(ffl_session_logits(s, 0), ra, nv), eb = nmse(ffl_session_logits(s, 1), rb, nv);
    CHECK_MSG(ea < 1e-10 && eb < 1e-10, "shared prefix: NMSE %.3g / %.3g against separate evaluation", ea, eb);

    /* seq_keep(1): sequence 0's own token goes, the shared prefix stays for 1 */
    CHECK(ffl_session_seq_keep(s, 1) == FFL_OK);
    CHECK(ffl_session_n_past(s, 0) == 0);
    CHECK(ffl_session_n_past(s, 1) == N_PREFIX + 1);
    CHECK(ffl_session_kv_used(s) == N_PREFIX + 1);

    /* seq_rm of the last token of 1, then a different token: equals the fresh evaluation of a */
    CHECK(ffl_session_seq_rm(s, 1, N_PREFIX, -1) == FFL_OK);
    CHECK(ffl_session_n_past(s, 1) == N_PREFIX);
    int32_t t = 300, q = 1;
    CHECK(ffl_session_decode(s, &t, NULL, &q, NULL, 1) == FFL_OK);
    double e2 = nmse(ffl_session_logits(s, -1), ra, nv);
    CHECK_MSG(e2 < 1e-10, "after seq_rm: NMSE %.3g", e2);

    /* seq_rm over every sequence empties the cache */
    CHECK(ffl_session_seq_rm(s, -1, -1, -1) == FFL_OK);
    CHECK(ffl_session_kv_used(s) == 0);
    /* bad sequence ids */
    CHECK(ffl_session_seq_cp(s, 0, 2, -1, -1) == FFL_ERR_OUT_OF_RANGE);
    CHECK(ffl_session_seq_keep(s, 5) == FFL_ERR_OUT_OF_RANGE);
    CHECK(ffl_session_n_past(s, -1) == FFL_ERR_OUT_OF_RANGE);
    int32_t pm = 7;
    CHECK(ffl_session_seq_pos_max(s, 0, &pm) == FFL_OK && pm == -1);
    free(ra);
    free(rb);
    ffl_session_free(s);
}

static void test_errors_and_overflow(const ffl_model *m) {
    const int nv = ffl_model_n_vocab(m);
    ffl_session *s = new_session(m, 12, FFL_TYPE_F32, 1, 2);
    CHECK(ffl_session_decode(s, PREFIX, NULL, NULL, NULL, N_PREFIX) == FFL_OK);
    int32_t more[6] = {300, 301, 302, 303, 304, 305};
    CHECK(ffl_session_decode(s, more, NULL, NULL, NULL, 6) == FFL_ERR_CONTEXT_FULL);
    CHECK(ffl_last_status() == FFL_ERR_CONTEXT_FULL);
    CHECK(ffl_session_kv_used(s) == N_PREFIX);
    CHECK(ffl_session_n_outputs(s) == 0);
    CHECK(ffl_session_logits(s, -1) == NULL);

    int32_t bad[2] = {5, nv};
    CHECK(ffl_session_decode(s, bad, NULL, NULL, NULL, 2) == FFL_ERR_OUT_OF_RANGE);
    bad[1] = -1;
    CHECK(ffl_session_decode(s, bad, NULL, NULL, NULL, 2) == FFL_ERR_OUT_OF_RANGE);
    int32_t seq = 1;
    CHECK(ffl_session_decode(s, more, NULL, &seq, NULL, 1) == FFL_ERR_OUT_OF_RANGE);
    int32_t pos = -3;
    CHECK(ffl_session_decode(s, more, &pos, NULL, NULL, 1) == FFL_ERR_OUT_OF_RANGE);
    CHECK(ffl_session_decode(s, more, NULL, NULL, NULL, 0) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_session_decode(NULL, more, NULL, NULL, NULL, 1) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_session_decode(s, NULL, NULL, NULL, NULL, 1) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_session_kv_used(s) == N_PREFIX);

    /* still usable: 4 tokens fit, and the logits equal a fresh evaluation */
    CHECK(ffl_session_decode(s, more, NULL, NULL, NULL, 4) == FFL_OK);
    int32_t all[N_PREFIX + 4];
    memcpy(all, PREFIX, sizeof PREFIX);
    memcpy(all + N_PREFIX, more, 4 * sizeof(int32_t));
    float *ref = fresh_logits(m, all, N_PREFIX + 4);
    double e = nmse(ffl_session_logits(s, -1), ref, nv);
    CHECK_MSG(e < 1e-10, "after overflow: NMSE %.3g", e);
    /* logits indexing */
    CHECK(ffl_session_logits(s, 3) != NULL && ffl_session_logits(s, 3) == ffl_session_logits(s, -1));
    CHECK(ffl_session_logits(s, 0) == NULL && ffl_last_status() == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_session_logits(s, 4) == NULL && ffl_last_status() == FFL_ERR_OUT_OF_RANGE);
    CHECK(ffl_session_logits(s, -2) == NULL && ffl_last_status() == FFL_ERR_OUT_OF_RANGE);
    CHECK(ffl_session_embeddings(s, -1) == NULL && ffl_last_status() == FFL_ERR_STATE);
    CHECK(ffl_session_decode(s, more, NULL, NULL, NULL, 1) == FFL_ERR_CONTEXT_FULL);
    CHECK(ffl_session_logits(s, -1) == NULL && ffl_last_status() == FFL_ERR_STATE);
    free(ref);
    ffl_session_free(s);
}

typedef struct {
    int calls, abort_at;
} abort_state;

static int32_t abort_cb(void *ud) {
    abort_state *a = ud;
    return ++a->calls >= a->abort_at;
}

static void test_abort(const ffl_model *m) {
    const int nv = ffl_model_n_vocab(m);
    ffl_session *s = new_session(m, 64, FFL_TYPE_F32, 1, 2);
    CHECK(ffl_session_decode(s, PREFIX, NULL, NULL, NULL, 4) == FFL_OK);
    abort_state a = {0, 3};
    CHECK(ffl_session_set_abort_callback(s, abort_cb, &a) == FFL_OK);
    CHECK(ffl_session_decode(s, PREFIX + 4, NULL, NULL, NULL, 4) == FFL_ERR_ABORTED);
    CHECK(a.calls == 3);
    CHECK(ffl_session_kv_used(s) == 4); /* the aborted call left no cells behind */
    CHECK(ffl_session_n_past(s, 0) == 4);
    CHECK(ffl_session_n_outputs(s) == 0);
    CHECK(ffl_session_set_abort_callback(s, NULL, NULL) == FFL_OK);
    CHECK(ffl_session_decode(s, PREFIX + 4, NULL, NULL, NULL, 4) == FFL_OK);
    float *ref = fresh_logits(m, PREFIX, N_PREFIX);
    double e = nmse(ffl_session_logits(s, -1), ref, nv);
    CHECK_MSG(e < 1e-10, "after abort: NMSE %.3g", e);
    free(ref);
    ffl_session_free(s);
}

static void test_state(const ffl_model *m) {
    const int nv = ffl_model_n_vocab(m);
    ffl_session *s = new_session(m, 64, FFL_TYPE_F16, 2, 2);
    CHECK(ffl_session_decode(s, PREFIX, NULL, NULL, NULL, N_PREFIX) == FFL_OK);
    CHECK(ffl_session_seq_cp(s, 0, 1, 0, 4) == FFL_OK);
    uint64_t size = ffl_session_state_size(s), written = 0;
    CHECK(size > 64);
    uint8_t *blob = malloc(size);
    CHECK(ffl_session_state_save(s, blob, size - 1, &written) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_session_state_save(s, blob, size, &written) == FFL_OK && written == size);
    float *last = malloc((size_t)nv * sizeof(float));
    memcpy(last, ffl_session_logits(s, -1), (size_t)nv * sizeof(float));

    int32_t next = 300;
    CHECK(ffl_session_decode(s, &next, NULL, NULL, NULL, 1) == FFL_OK);
    float *after = malloc((size_t)nv * sizeof(float));
    memcpy(after, ffl_session_logits(s, -1), (size_t)nv * sizeof(float));

    ffl_session *r = new_session(m, 32, FFL_TYPE_F16, 2, 1);
    CHECK(ffl_session_state_load(r, blob, size) == FFL_OK);
    CHECK(ffl_session_kv_used(r) == N_PREFIX);
    CHECK(ffl_session_n_past(r, 0) == N_PREFIX && ffl_session_n_past(r, 1) == 4);
    const float *restored = ffl_session_logits(r, -1);
    CHECK(restored && memcmp(restored, last, (size_t)nv * sizeof(float)) == 0);
    CHECK(ffl_session_logits(r, N_PREFIX - 1) != NULL);
    CHECK(ffl_session_decode(r, &next, NULL, NULL, NULL, 1) == FFL_OK);
    CHECK_MSG(memcmp(ffl_session_logits(r, -1), after, (size_t)nv * sizeof(float)) == 0,
              "logits after restore differ: NMSE %.3g", nmse(ffl_session_logits(r, -1), after, nv));

    /* corrupted, truncated and mismatched blobs are errors and leave the session alone */
    int used = ffl_session_kv_used(r);
    for (uint64_t off = 0; off < size; off += size / 37 + 1) {
        blob[off] ^= 0x5a;
        int32_t st = ffl_session_state_load(r, blob, size);
        CHECK_MSG(st == FFL_ERR_STATE, "byte %llu flipped: status %d", (unsigned long long)off, st);
        blob[off] ^= 0x5a;
    }
    CHECK(ffl_session_state_load(r, blob, size - 1) == FFL_ERR_STATE);
    CHECK(ffl_session_state_load(r, blob, 10) == FFL_ERR_STATE);
    CHECK(ffl_session_kv_used(r) == used);
    ffl_session *small = new_session(m, 4, FFL_TYPE_F16, 2, 1);
    CHECK(ffl_session_state_load(small, blob, size) == FFL_ERR_STATE); /* 8 cells do not fit in 4 */
    ffl_session *f32 = new_session(m, 64, FFL_TYPE_F32, 2, 1);
    CHECK(ffl_session_state_load(f32, blob, size) == FFL_ERR_STATE);
    ffl_session *one_seq = new_session(m, 64, FFL_TYPE_F16, 1, 1);
    CHECK(ffl_session_state_load(one_seq, blob, size) == FFL_ERR_STATE); /* uses sequence 1 */

    /* an empty session round-trips too */
    ffl_session *e = new_session(m, 16, FFL_TYPE_F16, 1, 1);
    uint64_t es = ffl_session_state_size(e);
    uint8_t *eb = malloc(es);
    CHECK(ffl_session_state_save(e, eb, es, &written) == FFL_OK);
    CHECK(ffl_session_state_load(one_seq, eb, es) == FFL_OK && ffl_session_kv_used(one_seq) == 0);
    free(eb);
    ffl_session_free(e);
    ffl_session_free(small);
    ffl_session_free(f32);
    ffl_session_free(one_seq);
    ffl_session_free(r);
    ffl_session_free(s);
    free(blob);
    free(last);
    free(after);
}

static void test_batch_split_and_threads(const ffl_model *m) {
    const int nv = ffl_model_n_vocab(m);
    int8_t want[N_PREFIX];
    memset(want, 1, sizeof want);
    ffl_session *big = new_session(m, 64, FFL_TYPE_F32, 1, 2);
    CHECK(ffl_session_decode(big, PREFIX, NULL, NULL, want, N_PREFIX) == FFL_OK);
    CHECK(ffl_session_n_outputs(big) == N_PREFIX);

    ffl_session_params p;
    ffl_session_default_params(&p);
    p.n_ctx = 64;
    p.n_batch = 3;
    p.kv_type = FFL_TYPE_F32;
    p.n_threads = 1;
    p.embeddings = 1;
    ffl_session *split = NULL;
    CHECK(ffl_session_new(m, &p, &split) == FFL_OK);
    CHECK(ffl_session_n_batch(split) == 3);
    CHECK(ffl_session_decode(split, PREFIX, NULL, NULL, want, N_PREFIX) == FFL_OK);
    for (int i = 0; i < N_PREFIX; i++) {
        double e = nmse(ffl_session_logits(split, i), ffl_session_logits(big, i), nv);
        CHECK_MSG(e < 1e-10, "n_batch 3, token %d: NMSE %.3g", i, e);
    }
    /* the default F16 KV cache stays close to the F32 one */
    ffl_session *h = new_session(m, 64, FFL_TYPE_F16, 1, 2);
    CHECK(ffl_session_decode(h, PREFIX, NULL, NULL, want, N_PREFIX) == FFL_OK);
    for (int i = 0; i < N_PREFIX; i++) {
        double e = nmse(ffl_session_logits(h, i), ffl_session_logits(big, i), nv);
        CHECK_MSG(e < 1e-5, "F16 KV cache, token %d: NMSE %.3g against F32", i, e);
    }
    ffl_session_free(h);
    /* explicit positions give the same as implicit ones */
    int32_t pos[N_PREFIX];
    for (int i = 0; i < N_PREFIX; i++) pos[i] = i;
    CHECK(ffl_session_set_threads(split, 2) == FFL_OK && ffl_session_n_threads(split) == 2);
    CHECK(ffl_session_clear(split) == FFL_OK);
    CHECK(ffl_session_decode(split, PREFIX, pos, NULL, want, N_PREFIX) == FFL_OK);
    for (int i = 0; i < N_PREFIX; i++)
        CHECK(nmse(ffl_session_logits(split, i), ffl_session_logits(big, i), nv) < 1e-10);

    /* embeddings: the final hidden state; the logits are the output matrix times it */
    const int E = ffl_model_n_embd(m);
    const float *emb = ffl_session_embeddings(split, 3);
    CHECK(emb != NULL && ffl_session_embeddings_all(split) != NULL);
    const ffl_gguf *g = ffl_model_gguf(m);
    ffl_tensor_info ti;
    int64_t idx = ffl_gguf_find_tensor(g, "output.weight");
    CHECK(idx >= 0 && ffl_gguf_tensor_info(g, idx, &ti) == FFL_OK && ti.type == FFL_TYPE_F32);
    if (emb && idx >= 0) {
        const float *w = ti.data;
        float *lg = malloc((size_t)nv * sizeof(float));
        for (int v = 0; v < nv; v++) {
            double acc = 0;
            for (int i = 0; i < E; i++) acc += (double)w[(size_t)v * E + i] * emb[i];
            lg[v] = (float)acc;
        }
        double e = nmse(lg, ffl_session_logits(split, 3), nv);
        CHECK_MSG(e < 1e-10, "logits from embeddings: NMSE %.3g", e);
        free(lg);
    }
    ffl_session_free(split);
    ffl_session_free(big);
}

/* Context shift. Attention only sees relative positions, so dropping a prefix and moving the
 * rest down must give the logits of the same cache left in place (with the next token placed
 * after the gap). (Not those of a fresh evaluation: the kept tokens were computed while seeing
 * the dropped ones.) */
static void test_context_shift(const ffl_model *m, int32_t kv_type, double tol) {
    const int nv = ffl_model_n_vocab(m);
    int32_t toks[12] = {1, 403, 407, 261, 378, 383, 286, 261, 300, 301, 302, 303};
    ffl_session *s = new_session(m, 32, kv_type, 1, 2), *r = new_session(m, 32, kv_type, 1, 2);
    CHECK(ffl_session_decode(s, toks, NULL, NULL, NULL, 12) == FFL_OK);
    CHECK(ffl_session_decode(r, toks, NULL, NULL, NULL, 12) == FFL_OK);
    CHECK(ffl_session_seq_rm(s, 0, 0, 3) == FFL_OK && ffl_session_seq_rm(r, 0, 0, 3) == FFL_OK);
    CHECK(ffl_session_seq_add(s, 0, 3, -1, -3) == FFL_OK);
    CHECK(ffl_session_n_past(s, 0) == 9 && ffl_session_kv_used(s) == 9);
    int32_t next = 304, pos = 12;
    CHECK(ffl_session_decode(s, &next, NULL, NULL, NULL, 1) == FFL_OK);
    CHECK(ffl_session_decode(r, &next, &pos, NULL, NULL, 1) == FFL_OK);
    double e = nmse(ffl_session_logits(s, -1), ffl_session_logits(r, -1), nv);
    CHECK_MSG(e < tol, "context shift (kv %d): NMSE %.3g", kv_type, e);
    /* a shift up and back down is (nearly) the identity */
    CHECK(ffl_session_seq_add(s, 0, -1, -1, 100) == FFL_OK && ffl_session_n_past(s, 0) == 110);
    CHECK(ffl_session_seq_add(s, 0, -1, -1, -100) == FFL_OK && ffl_session_n_past(s, 0) == 10);
    pos = 13;
    CHECK(ffl_session_decode(s, &next, NULL, NULL, NULL, 1) == FFL_OK);
    CHECK(ffl_session_decode(r, &next, &pos, NULL, NULL, 1) == FFL_OK);
    e = nmse(ffl_session_logits(s, -1), ffl_session_logits(r, -1), nv);
    CHECK_MSG(e < tol, "context shift up and down (kv %d): NMSE %.3g", kv_type, e);
    /* moving below position 0 removes tokens; overflowing shifts change nothing */
    CHECK(ffl_session_seq_add(s, 0, 0, 2, -5) == FFL_OK);
    CHECK(ffl_session_kv_used(s) == 9);
    CHECK(ffl_session_seq_add(s, 0, -1, -1, INT32_MAX - 3) == FFL_ERR_OUT_OF_RANGE);
    CHECK(ffl_session_kv_used(s) == 9 && ffl_session_n_past(s, 0) == 11);
    CHECK(ffl_session_seq_add(s, 3, -1, -1, 1) == FFL_ERR_OUT_OF_RANGE);
    ffl_session_free(s);
    ffl_session_free(r);
}

/* ---- parallel sessions ---- */

#define PAR_TOKENS 24
typedef struct {
    const ffl_model *m;
    int32_t toks[PAR_TOKENS];
    float *out; /* [PAR_TOKENS][n_vocab] logits of every step */
    int status;
} par_job;

static void *par_run(void *p) {
    par_job *j = p;
    const int nv = ffl_model_n_vocab(j->m);
    ffl_session_params sp;
    ffl_session_default_params(&sp);
    sp.n_ctx = 64;
    sp.n_threads = 1;
    ffl_session *s = NULL;
    j->status = ffl_session_new(j->m, &sp, &s);
    if (j->status != FFL_OK) return NULL;
    /* first half as a batch, then one at a time */
    int8_t want[PAR_TOKENS / 2];
    memset(want, 1, sizeof want);
    j->status = ffl_session_decode(s, j->toks, NULL, NULL, want, PAR_TOKENS / 2);
    for (int i = 0; j->status == FFL_OK && i < PAR_TOKENS / 2; i++)
        memcpy(j->out + (size_t)i * nv, ffl_session_logits(s, i), (size_t)nv * sizeof(float));
    for (int i = PAR_TOKENS / 2; j->status == FFL_OK && i < PAR_TOKENS; i++) {
        j->status = ffl_session_decode(s, &j->toks[i], NULL, NULL, NULL, 1);
        if (j->status == FFL_OK) memcpy(j->out + (size_t)i * nv, ffl_session_logits(s, -1), (size_t)nv * sizeof(float));
    }
    ffl_session_free(s);
    return NULL;
}

static void test_parallel(const char *name) {
    ffl_model *m = load(name);
    if (!m) return;
    const int nv = ffl_model_n_vocab(m);
    enum { N_JOBS = 4 };
    par_job jobs[N_JOBS + 1];
    for (int k = 0; k <= N_JOBS; k++) {
        jobs[k].m = m;
        for (int i = 0; i < PAR_TOKENS; i++) jobs[k].toks[i] = (int32_t)((i * 37 + (k % 2) * 11 + 1) % nv);
        jobs[k].out = malloc((size_t)PAR_TOKENS * nv * sizeof(float));
    }
    /* alone: one job per token pattern */
    par_run(&jobs[N_JOBS]);
    par_job alone_odd = jobs[1];
    alone_odd.out = malloc((size_t)PAR_TOKENS * nv * sizeof(float));
    par_run(&alone_odd);
    pthread_t th[N_JOBS];
    for (int k = 0; k < N_JOBS; k++) CHECK(pthread_create(&th[k], NULL, par_run, &jobs[k]) == 0);
    for (int k = 0; k < N_JOBS; k++) pthread_join(th[k], NULL);
    for (int k = 0; k < N_JOBS; k++) {
        CHECK(jobs[k].status == FFL_OK);
        const float *ref = k % 2 ? alone_odd.out : jobs[N_JOBS].out;
        CHECK_MSG(memcmp(jobs[k].out, ref, (size_t)PAR_TOKENS * nv * sizeof(float)) == 0,
                  "%s: parallel session %d differs from a session alone", name, k);
    }
    for (int k = 0; k <= N_JOBS; k++) free(jobs[k].out);
    free(alone_odd.out);
    ffl_model_free(m);
}

static void test_params_and_getters(const ffl_model *m) {
    ffl_session_params p;
    ffl_session_default_params(&p);
    CHECK(p.n_ctx == 4096 && p.n_batch == 512 && p.kv_type == FFL_TYPE_F16 && p.n_seq_max == 1 && p.n_threads >= 1);
    ffl_session *s = NULL;
    p.kv_type = FFL_TYPE_Q8_0;
    CHECK(ffl_session_new(m, &p, &s) == FFL_ERR_UNSUPPORTED && s == NULL);
    ffl_session_default_params(&p);
    p.n_seq_max = 65;
    CHECK(ffl_session_new(m, &p, &s) == FFL_ERR_INVALID_ARGUMENT);
    ffl_session_default_params(&p);
    p.n_ctx = -1;
    CHECK(ffl_session_new(m, &p, &s) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_session_new(NULL, NULL, &s) == FFL_ERR_INVALID_ARGUMENT);
    ffl_session_default_params(&p);
    p.n_ctx = 0; /* the training context */
    CHECK(ffl_session_new(m, &p, &s) == FFL_OK);
    CHECK(ffl_session_n_ctx(s) == ffl_model_n_ctx_train(m));
    CHECK(ffl_session_model(s) == m);
    ffl_session_free(s);
    ffl_session_free(NULL);

    char desc[64];
    CHECK(ffl_model_desc(m, desc, sizeof desc) > 0);
    CHECK(strncmp(desc, "llama", 5) == 0);
    CHECK(strcmp(ffl_model_arch(m), "llama") == 0);
    CHECK(ffl_model_n_vocab(m) == 512 && ffl_model_n_embd(m) == 64 && ffl_model_n_layer(m) == 5);
    CHECK(ffl_model_n_head(m) == 8 && ffl_model_n_head_kv(m) == 4 && ffl_model_n_expert(m) == 0);
    CHECK(ffl_model_n_ctx_train(m) == 2048);
    CHECK(ffl_model_n_params(m) > 200000 && ffl_model_n_params(m) < 400000);
    CHECK(ffl_model_size(m) == ffl_model_n_params(m) * 4);
    CHECK(ffl_model_n_vocab(NULL) == FFL_ERR_INVALID_ARGUMENT);
    /* the model's own tokenizer gives the reference prompt tokens */
    const ffl_vocab *vocab = ffl_model_vocab(m);
    CHECK(vocab != NULL && ffl_vocab_n_tokens(vocab) == 512);
    if (vocab) {
        int32_t toks[32];
        const char *text = "Once upon a time there was a";
        int32_t n = ffl_tokenize(vocab, text, -1, toks, 32, FFL_TOKENIZE_ADD_SPECIAL);
        CHECK_MSG(n == N_PREFIX && memcmp(toks, PREFIX, sizeof PREFIX) == 0, "tokenize gave %d tokens", n);
    }
}

/* Writes a llama like llama-dense-f32 but wider (dim 512, FFN 1024, 2 layers; head dim 64): the
 * fixtures' 256 columns are one block of the single-token column split, this gives every thread of
 * two a part of the residual, norm and encodings. Random weights (seeded): Q4_K matrices, a Q6_K
 * output, F32 norms and embeddings. Returns the path, or NULL. */
static const char *write_wide_llama(char *path, size_t size) {
    static const char *skip[] = {"llama.embedding_length", "llama.feed_forward_length", "llama.block_count",
                                 "llama.rope.dimension_count", "general.file_type"};
    char src_path[1024];
    testdata_path(src_path, sizeof src_path, "models/llama-dense-f32.gguf");
    ffl_gguf *src = NULL;
    if (ffl_gguf_open(src_path, 0, &src) != FFL_OK) return NULL;
    ffl_gguf_writer *w = NULL;
    if (ffl_gguf_writer_new(&w) != FFL_OK) {
        ffl_gguf_close(src);
        return NULL;
    }
    for (int64_t i = 0; i < ffl_gguf_kv_count(src); i++) {
        int keep = 1;
        for (size_t k = 0; k < sizeof skip / sizeof skip[0]; k++) keep &= strcmp(ffl_gguf_kv_key(src, i), skip[k]) != 0;
        if (keep) ffl_gguf_writer_copy_kv(w, src, i);
    }
    const uint32_t E = 512, FF = 1024, L = 2, rot = 64, V = 512, KV = 128;
    ffl_gguf_writer_set_scalar(w, "llama.embedding_length", FFL_GGUF_UINT32, &E);
    ffl_gguf_writer_set_scalar(w, "llama.feed_forward_length", FFL_GGUF_UINT32, &FF);
    ffl_gguf_writer_set_scalar(w, "llama.block_count", FFL_GGUF_UINT32, &L);
    ffl_gguf_writer_set_scalar(w, "llama.rope.dimension_count", FFL_GGUF_UINT32, &rot);
    struct {
        char name[64];
        int64_t ne0, ne1;
        int32_t type;
    } t[4 + 9 * 2];
    int n = 0;
#define ADD(nm, a, b, ty) (snprintf(t[n].name, sizeof t[n].name, "%s", nm), t[n].ne0 = (a), t[n].ne1 = (b), t[n++].type = (ty))
    ADD("token_embd.weight", E, V, FFL_TYPE_F32);
    ADD("output_norm.weight", E, 1, FFL_TYPE_F32);
    ADD("output.weight", E, V, FFL_TYPE_Q6_K);
    for (uint32_t l = 0; l < L; l++) {
        static const char *mats[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
        const int64_t in[] = {E, E, E, E, E, E, FF}, out[] = {E, KV, KV, E, FF, FF, E};
        char nm[64];
        snprintf(nm, sizeof nm, "blk.%u.attn_norm.weight", l), ADD(nm, E, 1, FFL_TYPE_F32);
        snprintf(nm, sizeof nm, "blk.%u.ffn_norm.weight", l), ADD(nm, E, 1, FFL_TYPE_F32);
        for (int k = 0; k < 7; k++) snprintf(nm, sizeof nm, "blk.%u.%s.weight", l, mats[k]), ADD(nm, in[k], out[k], FFL_TYPE_Q4_K);
    }
#undef ADD
    void *bufs[4 + 9 * 2] = {0};
    float *row = malloc(E > FF ? E * sizeof(float) : FF * sizeof(float));
    uint32_t seed = 12345;
    int ok = row != NULL;
    for (int i = 0; ok && i < n; i++) {
        const int norm = t[i].ne1 == 1;
        const int64_t rb = ffl_type_row_bytes(t[i].type, t[i].ne0);
        bufs[i] = malloc((size_t)(rb * t[i].ne1));
        ok = bufs[i] != NULL;
        for (int64_t r = 0; ok && r < t[i].ne1; r++) {
            for (int64_t c = 0; c < t[i].ne0; c++) {
                seed = seed * 1664525u + 1013904223u;
                const float u = (float)(seed >> 8) / 16777216.0f - 0.5f; /* [-0.5, 0.5) */
                row[c] = norm ? 1.0f + 0.2f * u : u * 0.25f;
            }
            ok = ffl_quantize_row(t[i].type, row, (char *)bufs[i] + r * rb, t[i].ne0) == FFL_OK;
        }
        const int64_t ne[2] = {t[i].ne0, t[i].ne1};
        ok = ok && ffl_gguf_writer_add_tensor(w, t[i].name, t[i].type, norm ? 1 : 2, ne, bufs[i], (uint64_t)(rb * t[i].ne1)) == FFL_OK;
    }
    snprintf(path, size, "/tmp/ffl_wide_llama_%d.gguf", (int)getpid());
    ok = ok && ffl_gguf_writer_write(w, path) == FFL_OK;
    CHECK_MSG(ok, "writing the wide llama: %s", ffl_last_error());
    ffl_gguf_writer_free(w);
    ffl_gguf_close(src);
    for (int i = 0; i < n; i++) free(bufs[i]);
    free(row);
    return ok ? path : NULL;
}

/* Single-token steps split attention over threads by groups of query heads sharing a KV head
 * (halved while there are fewer groups than threads), and the phases after the matmuls by heads and
 * by 256-column blocks (forward.c, unit_range; 3 and 5 threads leave some threads none): every thread
 * count gives the same logits. The context is long enough (160 cells, 8 heads) for the attention
 * phase to use the threads. */
static void test_single_token_threads(const char *name, int32_t kv_type) {
    ffl_model *m = NULL;
    char wide[256];
    if (strcmp(name, "wide") == 0) {
        if (!write_wide_llama(wide, sizeof wide)) return;
        CHECK_MSG(ffl_model_load(wide, NULL, &m) == FFL_OK, "load the wide llama: %s", ffl_last_error());
        unlink(wide);
    } else {
        m = load(name);
    }
    if (!m) return;
    const int nv = ffl_model_n_vocab(m), n_prompt = 160, n_steps = 4;
    int32_t toks[160 + 4];
    for (int i = 0; i < n_prompt + n_steps; i++) toks[i] = (int32_t)((i * 37 + 11) % nv);
    const int threads[] = {1, 2, 3, 5};
    float *ref = malloc((size_t)n_steps * nv * sizeof(float));
    for (int k = 0; k < 4; k++) {
        ffl_session *s = new_session(m, 256, kv_type, 1, threads[k]);
        CHECK(ffl_session_decode(s, toks, NULL, NULL, NULL, n_prompt) == FFL_OK);
        for (int i = 0; i < n_steps; i++) {
            CHECK(ffl_session_decode(s, &toks[n_prompt + i], NULL, NULL, NULL, 1) == FFL_OK);
            const float *lg = ffl_session_logits(s, -1);
            if (k == 0) memcpy(ref + (size_t)i * nv, lg, (size_t)nv * sizeof(float));
            else {
                double e = nmse(lg, ref + (size_t)i * nv, nv);
                CHECK_MSG(e < 1e-10, "%s, %d threads, step %d: NMSE %.3g against 1 thread", name, threads[k], i, e);
            }
        }
        ffl_session_free(s);
    }
    free(ref);
    ffl_model_free(m);
}

int main(void) {
    ffl_model *m = load("stories260K-f32.gguf");
    if (!m) return test_finish("test_model_session");
    test_params_and_getters(m);
    test_shared_prefix(m);
    test_errors_and_overflow(m);
    test_abort(m);
    test_state(m);
    test_batch_split_and_threads(m);
    test_context_shift(m, FFL_TYPE_F32, 1e-10);
    test_context_shift(m, FFL_TYPE_F16, 1e-5);
    ffl_model_free(m);
    test_parallel("llama-dense-q4_k_m.gguf");
    test_parallel("llama-moe-q4_k_m.gguf");
    test_single_token_threads("llama-dense-f32.gguf", FFL_TYPE_F32);
    test_single_token_threads("llama-dense-q4_0.gguf", FFL_TYPE_F32);
    test_single_token_threads("llama-dense-q4_k_m.gguf", FFL_TYPE_F16); /* Q8_K encodings, F16 V cells */
    test_single_token_threads("qwen2-q4_k_m.gguf", FFL_TYPE_F16);       /* q, k, v biases; NEOX RoPE */
    test_single_token_threads("llama-moe-q4_k_m.gguf", FFL_TYPE_F32);   /* one row per expert */
    test_single_token_threads("wide", FFL_TYPE_F16);                   /* all threads have columns */
    return test_finish("test_model_session");
}
