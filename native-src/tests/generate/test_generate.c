/* ffl_generate: reproduces the reference greedy text, matches a loop written against the public
 * API token for token (ids and logprobs, any sampler), continues from a previous decode, stops at
 * end tokens, reports a full context with the tokens so far, and rejects bad arguments.
 * ffl_abort_flag_check: aborts on the flag without polling, polls at most once per interval. */
#include "fflama.h"
#include "test_util.h"

#include <math.h>

/* stories260K-f32: "Once upon a time there was a" and llama.cpp's 32 greedy tokens after it (reference/stories260K-f32.ref.json) */
static const int32_t PROMPT[] = {1, 403, 407, 261, 378, 383, 286, 261};
#define N_PROMPT 8
static const int32_t REF_GREEDY[] = {376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419, 292,
                                     411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352};
#define N_REF 32

static ffl_session *new_session(const ffl_model *m, int32_t n_ctx) {
    ffl_session_params p;
    ffl_session_default_params(&p);
    p.n_ctx = n_ctx;
    p.kv_type = FFL_TYPE_F32;
    p.n_threads = 2;
    ffl_session *s = NULL;
    int32_t st = ffl_session_new(m, &p, &s);
    CHECK_MSG(st == FFL_OK, "session: %s", ffl_last_error());
    return s;
}

static ffl_sampler *greedy(void) {
    ffl_sampler *c = NULL;
    CHECK(ffl_sampler_chain_new(1, &c) == FFL_OK);
    CHECK(ffl_sampler_chain_add_greedy(c) == FFL_OK);
    return c;
}

static ffl_sampler *random_chain(uint64_t seed) {
    ffl_sampler *c = NULL;
    CHECK(ffl_sampler_chain_new(seed, &c) == FFL_OK);
    CHECK(ffl_sampler_chain_add_penalties(c, 16, 1.3f, 0.1f, 0.1f) == FFL_OK);
    CHECK(ffl_sampler_chain_add_top_k(c, 40) == FFL_OK);
    CHECK(ffl_sampler_chain_add_temp(c, 1.0f) == FFL_OK);
    CHECK(ffl_sampler_chain_add_dist(c) == FFL_OK);
    return c;
}

/* The same loop through single public calls, as a binding would write it. */
static int32_t manual_loop(ffl_session *s, ffl_sampler *c, int32_t n_vocab, int32_t n, int32_t *toks, float *lps) {
    if (ffl_session_decode(s, PROMPT, NULL, NULL, NULL, N_PROMPT) != FFL_OK) return -1;
    if (ffl_sampler_accept_prompt(c, PROMPT, N_PROMPT) != FFL_OK) return -1;
    for (int32_t i = 0; i < n; i++) {
        if (i > 0 && ffl_session_decode(s, &toks[i - 1], NULL, NULL, NULL, 1) != FFL_OK) return -1;
        if (ffl_sampler_sample(c, ffl_session_logits(s, -1), n_vocab, &toks[i], &lps[i]) != FFL_OK) return -1;
        if (ffl_sampler_accept(c, toks[i]) != FFL_OK) return -1;
    }
    return n;
}

static void test_reference_and_manual_loop(const ffl_model *m) {
    const int32_t nv = ffl_model_n_vocab(m);
    ffl_session *s = new_session(m, 128);
    ffl_sampler *g = greedy();
    int32_t toks[N_REF];
    float lps[N_REF];
    int32_t n = ffl_generate(s, g, PROMPT, N_PROMPT, toks, lps, N_REF, 0);
    CHECK_MSG(n == N_REF, "ffl_generate returned %d: %s", n, ffl_last_error());
    for (int i = 0; i < N_REF; i++) CHECK_MSG(toks[i] == REF_GREEDY[i], "token %d: %d, reference %d", i, toks[i], REF_GREEDY[i]);
    for (int i = 0; i < N_REF; i++) CHECK(isfinite(lps[i]) && lps[i] <= 0.0f);
    /* the last token is sampled, not evaluated: the cache holds the prompt and all but one */
    CHECK(ffl_session_n_past(s, 0) == N_PROMPT + N_REF - 1);
    ffl_sampler_free(g);

    /* a random chain with penalties: identical tokens and logprobs to the hand-written loop */
    int32_t a[48], b[48];
    float la[48], lb[48];
    ffl_sampler *c1 = random_chain(77), *c2 = random_chain(77);
    CHECK(ffl_session_clear(s) == FFL_OK);
    CHECK(ffl_generate(s, c1, PROMPT, N_PROMPT, a, la, 48, 0) == 48);
    int32_t past = ffl_session_n_past(s, 0);
    CHECK(ffl_session_clear(s) == FFL_OK);
    CHECK(manual_loop(s, c2, nv, 48, b, lb) == 48);
    CHECK(ffl_session_n_past(s, 0) == past);
    for (int i = 0; i < 48; i++) {
        CHECK_MSG(a[i] == b[i], "token %d: %d vs %d", i, a[i], b[i]);
        CHECK(la[i] == lb[i]);
    }
    ffl_sampler_free(c1);
    ffl_sampler_free(c2);

    /* without logprobs, and continuing: 10 tokens, evaluate the last, 22 more = the 32 of the reference */
    g = greedy();
    CHECK(ffl_session_clear(s) == FFL_OK);
    CHECK(ffl_generate(s, g, PROMPT, N_PROMPT, toks, NULL, 10, 0) == 10);
    CHECK(ffl_session_decode(s, &toks[9], NULL, NULL, NULL, 1) == FFL_OK);
    CHECK(ffl_generate(s, g, NULL, 0, toks + 10, NULL, N_REF - 10, 0) == N_REF - 10);
    for (int i = 0; i < N_REF; i++) CHECK(toks[i] == REF_GREEDY[i]);
    /* n_max = 0 evaluates the prompt only */
    CHECK(ffl_session_clear(s) == FFL_OK);
    CHECK(ffl_generate(s, g, PROMPT, N_PROMPT, NULL, NULL, 0, 0) == 0);
    CHECK(ffl_session_n_past(s, 0) == N_PROMPT);
    ffl_sampler_free(g);
    ffl_session_free(s);
}

static void test_end_token(const ffl_model *m) {
    const ffl_vocab *v = ffl_model_vocab(m);
    int32_t eos = ffl_vocab_special_token(v, FFL_TOKEN_EOS);
    CHECK(eos >= 0 && ffl_vocab_is_eog(v, eos) > 0);
    ffl_session *s = new_session(m, 64);
    /* a huge bias makes EOS the greedy choice at once */
    ffl_sampler *c = NULL;
    float bias = 1000.0f;
    CHECK(ffl_sampler_chain_new(3, &c) == FFL_OK);
    CHECK(ffl_sampler_chain_add_logit_bias(c, 1, &eos, &bias) == FFL_OK);
    CHECK(ffl_sampler_chain_add_greedy(c) == FFL_OK);
    int32_t toks[8] = {0};
    CHECK(ffl_generate(s, c, PROMPT, N_PROMPT, toks, NULL, 8, FFL_GENERATE_STOP_AT_EOG) == 0);
    CHECK(ffl_session_n_past(s, 0) == N_PROMPT);
    /* without the flag the end token is just a token */
    CHECK(ffl_session_clear(s) == FFL_OK);
    CHECK(ffl_generate(s, c, PROMPT, N_PROMPT, toks, NULL, 3, 0) == 3);
    CHECK(toks[0] == eos && toks[1] == eos && toks[2] == eos);
    ffl_sampler_free(c);
    ffl_session_free(s);
}

static void test_errors(const ffl_model *m) {
    ffl_session *s = new_session(m, 16);
    ffl_sampler *g = greedy();
    int32_t toks[32];
    /* context of 16 cells: 8 prompt + 8 decoded, the 9th decode fails; the 9 sampled tokens are kept */
    int32_t n = ffl_generate(s, g, PROMPT, N_PROMPT, toks, NULL, 32, 0);
    CHECK_MSG(n == FFL_ERR_CONTEXT_FULL, "got %d", n);
    for (int i = 0; i < 9; i++) CHECK(toks[i] == REF_GREEDY[i]);
    CHECK(ffl_session_n_past(s, 0) == 16);

    CHECK(ffl_session_clear(s) == FFL_OK);
    CHECK(ffl_generate(s, g, NULL, 0, toks, NULL, 4, 0) == FFL_ERR_STATE); /* nothing to continue from */
    CHECK(ffl_generate(NULL, g, PROMPT, N_PROMPT, toks, NULL, 4, 0) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_generate(s, NULL, PROMPT, N_PROMPT, toks, NULL, 4, 0) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_generate(s, g, NULL, 3, toks, NULL, 4, 0) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_generate(s, g, PROMPT, -1, toks, NULL, 4, 0) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_generate(s, g, PROMPT, N_PROMPT, NULL, NULL, 4, 0) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_generate(s, g, PROMPT, N_PROMPT, toks, NULL, -2, 0) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_generate(s, g, PROMPT, N_PROMPT, toks, NULL, 4, 6) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(strlen(ffl_last_error()) > 0);
    const int32_t bad = 1 << 20;
    CHECK(ffl_generate(s, g, &bad, 1, toks, NULL, 4, 0) == FFL_ERR_OUT_OF_RANGE);
    CHECK(ffl_session_kv_used(s) == 0);
    ffl_sampler_free(g);
    ffl_session_free(s);
}

static int polls;
static int32_t poll_answer;

static int32_t count_poll(void *user_data) {
    (void)user_data;
    polls++;
    return poll_answer;
}

static void test_abort_flag(const ffl_model *m) {
    CHECK(ffl_abort_flag_check(NULL) == 0);
    ffl_abort_flag f;
    memset(&f, 0, sizeof f);
    CHECK(ffl_abort_flag_check(&f) == 0); /* no poll function: only the flag counts */
    f.flag = 1;
    CHECK(ffl_abort_flag_check(&f) == 1);

    memset(&f, 0, sizeof f);
    f.poll = count_poll;
    f.poll_interval_us = 60 * 1000 * 1000; /* a minute: no check polls */
    polls = 0;
    poll_answer = 1;
    CHECK(ffl_abort_flag_check(&f) == 0); /* the first check starts the interval */
    CHECK(f.last_poll_us != 0);
    for (int i = 0; i < 1000; i++) CHECK(ffl_abort_flag_check(&f) == 0);
    CHECK(polls == 0);
    f.flag = 7;
    CHECK(ffl_abort_flag_check(&f) == 1);
    CHECK(polls == 0); /* the flag answers without asking */
    f.flag = 0;
    f.poll_interval_us = 0; /* every check polls */
    CHECK(ffl_abort_flag_check(&f) == 1);
    CHECK(polls == 1);
    poll_answer = 0;
    CHECK(ffl_abort_flag_check(&f) == 0);
    CHECK(polls == 2);
    f.last_poll_us = (int64_t)1 << 62; /* a clock that went back: poll at once */
    f.poll_interval_us = 60 * 1000 * 1000;
    CHECK(ffl_abort_flag_check(&f) == 0);
    CHECK(polls == 3);

    /* as a session's abort callback: the flag aborts a decode and leaves the cache as it was */
    ffl_session *s = new_session(m, 64);
    memset(&f, 0, sizeof f);
    f.poll = count_poll;
    f.poll_interval_us = 0;
    poll_answer = 0;
    polls = 0;
    CHECK(ffl_session_set_abort_callback(s, ffl_abort_flag_check, &f) == FFL_OK);
    CHECK(ffl_session_decode(s, PROMPT, NULL, NULL, NULL, N_PROMPT) == FFL_OK);
    /* a check before every layer and one before the output; the first only starts the interval */
    CHECK_MSG(polls == ffl_model_n_layer(m), "%d polls for %d layers", polls, ffl_model_n_layer(m));
    /* a poll that says stop aborts the next decode at its first check */
    poll_answer = 1;
    CHECK(ffl_session_decode(s, PROMPT, NULL, NULL, NULL, 1) == FFL_ERR_ABORTED);
    CHECK(ffl_session_n_past(s, 0) == N_PROMPT);
    poll_answer = 0;
    f.flag = 1;
    CHECK(ffl_session_decode(s, PROMPT, NULL, NULL, NULL, 1) == FFL_ERR_ABORTED);
    CHECK(ffl_session_n_past(s, 0) == N_PROMPT);
    f.flag = 0;
    f.poll_interval_us = 60 * 1000 * 1000;
    polls = 0;
    int32_t toks[16];
    ffl_sampler *g = greedy();
    CHECK(ffl_session_clear(s) == FFL_OK);
    CHECK(ffl_generate(s, g, PROMPT, N_PROMPT, toks, NULL, 16, 0) == 16);
    CHECK(polls == 0); /* a minute's interval: 16 decodes x layers of checks, no poll */
    for (int i = 0; i < 16; i++) CHECK(toks[i] == REF_GREEDY[i]);
    ffl_sampler_free(g);
    ffl_session_free(s);
}

int main(void) {
    char path[1024];
    testdata_path(path, sizeof path, "models/stories260K-f32.gguf");
    ffl_model *m = NULL;
    int32_t st = ffl_model_load(path, NULL, &m);
    CHECK_MSG(st == FFL_OK, "load %s: %s", path, ffl_last_error());
    if (st != FFL_OK) return test_finish("test_generate");
    test_reference_and_manual_loop(m);
    test_end_token(m);
    test_errors(m);
    test_abort_flag(m);
    ffl_model_free(m);
    return test_finish("test_generate");
}
