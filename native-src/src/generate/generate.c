/* ffl_generate: the decode + sample loop run entirely inside the core. It uses only the public
 * session and sampler entry points, so it does exactly what a binding's own loop does, minus the
 * crossings of the API per token: the yardstick of binding overhead. */
#include "common/ffl_internal.h"

FFL_API int32_t ffl_generate(ffl_session *session, ffl_sampler *chain, const int32_t *prompt, int32_t n_prompt,
                             int32_t *out_tokens, float *out_logprobs, int32_t n_max, int32_t flags) {
    if (!session || !chain) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_generate: NULL session or chain");
    if (n_prompt < 0 || (n_prompt > 0 && !prompt))
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_generate: bad prompt (%d tokens)", (int)n_prompt);
    if (n_max < 0 || (n_max > 0 && !out_tokens))
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_generate: bad output (%d tokens)", (int)n_max);
    if (flags & ~FFL_GENERATE_STOP_AT_EOG) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_generate: unknown flags %d", (int)flags);

    const ffl_model *model = ffl_session_model(session);
    const int32_t n_vocab = ffl_model_n_vocab(model);
    const ffl_vocab *vocab = NULL;
    if (flags & FFL_GENERATE_STOP_AT_EOG) {
        vocab = ffl_model_vocab(model);
        if (!vocab) return ffl_last_status(); /* no tokenizer: no end tokens to stop at (error recorded) */
    }

    int32_t st;
    if (n_prompt > 0) {
        if ((st = ffl_session_decode(session, prompt, NULL, NULL, NULL, n_prompt)) < 0) return st;
        if ((st = ffl_sampler_accept_prompt(chain, prompt, n_prompt)) < 0) return st;
    } else if (ffl_session_n_outputs(session) == 0) {
        return ffl_fail(FFL_ERR_STATE, "ffl_generate: no prompt and no logits to continue from");
    }

    for (int32_t i = 0; i < n_max; i++) {
        /* the previous token goes in only now, so the last one written is never evaluated */
        if (i > 0 && (st = ffl_session_decode(session, &out_tokens[i - 1], NULL, NULL, NULL, 1)) < 0) return st;
        const float *logits = ffl_session_logits(session, -1);
        if (!logits) return ffl_last_status();
        int32_t token = -1;
        float logprob = 0.0f;
        if ((st = ffl_sampler_sample(chain, logits, n_vocab, &token, out_logprobs ? &logprob : NULL)) < 0) return st;
        if ((st = ffl_sampler_accept(chain, token)) < 0) return st;
        if (vocab && ffl_vocab_is_eog(vocab, token) > 0) return i;
        out_tokens[i] = token;
        if (out_logprobs) out_logprobs[i] = logprob;
    }
    return n_max;
}
