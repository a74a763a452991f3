/* C API of the sampler chain, grammars and the JSON Schema converter. */
#include "common/ffl_internal.h"
#include "sample/grammar.h"
#include "sample/json_schema.h"
#include "sample/sampler.h"
#include "sample/sample_api_internal.h"

#include <cmath>
#include <cstring>
#include <new>
#include <stdexcept>

using namespace ffl_sample;

struct ffl_sampler {
    explicit ffl_sampler(uint64_t seed) : chain(seed) {}
    ffl_sampler(const ffl_sampler &other) = default;
    Chain chain;
};

namespace {

/* Token ids above this are rejected: no vocabulary comes close, and histories index by id. */
constexpr int32_t kMaxTokenId = 1 << 22;

template <class F>
int32_t guarded(F &&body) {
    try {
        return body();
    } catch (const std::bad_alloc &) {
        return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "out of memory");
    } catch (const std::exception &e) {
        return ffl_fail(FFL_ERR_INTERNAL, "%s", e.what());
    } catch (...) {
        return ffl_fail(FFL_ERR_INTERNAL, "unexpected exception");
    }
}

int32_t check_chain(const ffl_sampler *chain) {
    if (!chain) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "chain is NULL");
    return FFL_OK;
}

bool is_nan(float x) { return x != x; }

int32_t add(ffl_sampler *chain, std::unique_ptr<Sampler> s) {
    chain->chain.add(std::move(s));
    return FFL_OK;
}

} // namespace

namespace ffl_sample {

int32_t chain_add_internal(ffl_sampler *chain, std::unique_ptr<Sampler> s) {
    int32_t st = check_chain(chain);
    if (st < 0) return st;
    return guarded([&] { return add(chain, std::move(s)); });
}

Chain *chain_internal(ffl_sampler *chain) { return chain ? &chain->chain : nullptr; }

int32_t chain_add_grammar_table(ffl_sampler *chain, std::shared_ptr<const TokenTable> table,
                                std::shared_ptr<const TokenTrie> trie, const char *grammar, const char *root) {
    int32_t st = check_chain(chain);
    if (st < 0) return st;
    if (!grammar) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "grammar is NULL");
    if (!root || !*root) root = "root";
    return guarded([&] {
        auto g = std::make_shared<Grammar>();
        std::string err;
        int32_t rc = parse_gbnf(grammar, strlen(grammar), root, *g, err);
        if (rc < 0) return ffl_fail(rc, "grammar: %s", err.c_str());
        if (!trie) {
            auto t = std::make_shared<TokenTrie>();
            t->build(*table);
            trie = t;
        }
        chain->chain.add(make_grammar(g, table, trie));
        return (int32_t)FFL_OK;
    });
}

int32_t token_table_from_vocab(const ffl_vocab *vocab, int32_t piece_flags, std::shared_ptr<TokenTable> &out) {
    int32_t n = ffl_vocab_n_tokens(vocab);
    if (n < 0) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "vocab is NULL");
    auto table = std::make_shared<TokenTable>();
    table->pieces.resize((size_t)n);
    table->is_eog.assign((size_t)n, 0);
    std::vector<char> buf(256);
    for (int32_t t = 0; t < n; t++) {
        int32_t len = ffl_vocab_token_piece(vocab, t, buf.data(), (int32_t)buf.size(), piece_flags);
        if (len > (int32_t)buf.size()) {
            buf.resize((size_t)len);
            len = ffl_vocab_token_piece(vocab, t, buf.data(), (int32_t)buf.size(), piece_flags);
        }
        if (len < 0) return len;
        table->pieces[t].assign(buf.data(), (size_t)len);
        table->is_eog[t] = ffl_vocab_is_eog(vocab, t) == 1;
    }
    out = std::move(table);
    return FFL_OK;
}

} // namespace ffl_sample

extern "C" {

FFL_API int32_t ffl_sampler_chain_add_grammar(ffl_sampler *chain, const ffl_vocab *vocab, const char *grammar, const char *root) {
    int32_t st = check_chain(chain);
    if (st < 0) return st;
    if (!vocab) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "vocab is NULL");
    if (!grammar) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "grammar is NULL");
    if (!root || !*root) root = "root";
    return guarded([&] {
        /* check the grammar before the (longer) work on the vocabulary */
        Grammar g;
        std::string err;
        int32_t rc = parse_gbnf(grammar, strlen(grammar), root, g, err);
        if (rc < 0) return ffl_fail(rc, "grammar: %s", err.c_str());
        std::shared_ptr<TokenTable> table;
        rc = token_table_from_vocab(vocab, 0, table);
        if (rc < 0) return rc;
        return chain_add_grammar_table(chain, table, nullptr, grammar, root);
    });
}

FFL_API int32_t ffl_sampler_chain_add_dry(ffl_sampler *chain, const ffl_vocab *vocab, int32_t context_size, float multiplier,
                                          float base, int32_t allowed_length, int32_t last_n, const char **breakers,
                                          int32_t n_breakers) {
    int32_t st = check_chain(chain);
    if (st < 0) return st;
    if (!std::isfinite(multiplier) || !std::isfinite(base))
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "dry: multiplier and base must be finite");
    if (allowed_length < 0 || last_n < -1 || context_size < 0 || context_size > kMaxTokenId || last_n > kMaxTokenId)
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "dry: need allowed_length >= 0, last_n >= -1, 0 <= context_size <= %d", kMaxTokenId);
    if (last_n == -1 && context_size == 0) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "dry: last_n -1 needs context_size > 0");
    if (n_breakers < 0 || (n_breakers > 0 && !breakers)) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "dry: breakers is NULL");
    if (n_breakers > 0 && !vocab) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "dry: sequence breakers need a vocab");
    return guarded([&] {
        DryBreakers processed;
        const bool enabled = multiplier != 0.0f && base >= 1.0f && last_n != 0;
        if (enabled && n_breakers > 0) {
            std::vector<std::string> strs;
            for (int32_t i = 0; i < n_breakers; i++)
                if (breakers[i]) strs.push_back(breakers[i]);
            std::shared_ptr<TokenTable> table;
            int32_t rc = token_table_from_vocab(vocab, FFL_DETOKENIZE_RENDER_SPECIAL, table);
            if (rc < 0) return rc;
            Tokenize tokenize = [vocab](const std::string &text) {
                std::vector<int32_t> toks(text.size() + 8);
                int32_t n = ffl_tokenize(vocab, text.data(), (int64_t)text.size(), toks.data(), (int32_t)toks.size(), 0);
                if (n > (int32_t)toks.size()) {
                    toks.resize((size_t)n);
                    n = ffl_tokenize(vocab, text.data(), (int64_t)text.size(), toks.data(), (int32_t)toks.size(), 0);
                }
                toks.resize(n > 0 ? (size_t)n : 0);
                return toks;
            };
            dry_process_breakers(*table, tokenize, strs, processed);
        }
        chain->chain.add(make_dry(context_size, multiplier, base, allowed_length, last_n, std::move(processed)));
        return (int32_t)FFL_OK;
    });
}

FFL_API int32_t ffl_sampler_chain_new(uint64_t seed, ffl_sampler **out) {
    if (!out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "out is NULL");
    *out = nullptr;
    return guarded([&] {
        *out = new ffl_sampler(seed);
        return (int32_t)FFL_OK;
    });
}

FFL_API void ffl_sampler_free(ffl_sampler *chain) {
    try {
        delete chain;
    } catch (...) {
    }
}

FFL_API int32_t ffl_sampler_clone(const ffl_sampler *chain, ffl_sampler **out) {
    if (!out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "out is NULL");
    *out = nullptr;
    int32_t st = check_chain(chain);
    if (st < 0) return st;
    return guarded([&] {
        *out = new ffl_sampler(*chain);
        return (int32_t)FFL_OK;
    });
}

FFL_API int32_t ffl_sampler_reset(ffl_sampler *chain) {
    int32_t st = check_chain(chain);
    if (st < 0) return st;
    return guarded([&] {
        chain->chain.reset();
        return (int32_t)FFL_OK;
    });
}

FFL_API int32_t ffl_sampler_set_seed(ffl_sampler *chain, uint64_t seed) {
    int32_t st = check_chain(chain);
    if (st < 0) return st;
    chain->chain.set_seed(seed);
    return FFL_OK;
}

FFL_API int32_t ffl_sampler_chain_length(const ffl_sampler *chain) {
    int32_t st = check_chain(chain);
    if (st < 0) return st;
    return (int32_t)chain->chain.size();
}

FFL_API const char *ffl_sampler_chain_name(const ffl_sampler *chain, int32_t index) {
    if (!chain || index < 0 || (size_t)index >= chain->chain.size()) {
        ffl_fail(FFL_ERR_OUT_OF_RANGE, "no sampler at index %d", index);
        return nullptr;
    }
    return const_cast<ffl_sampler *>(chain)->chain.at((size_t)index)->name();
}

FFL_API int32_t ffl_sampler_chain_add_greedy(ffl_sampler *chain) { return chain_add_internal(chain, make_greedy()); }

FFL_API int32_t ffl_sampler_chain_add_dist(ffl_sampler *chain) {
    int32_t st = check_chain(chain);
    if (st < 0) return st;
    return chain_add_internal(chain, make_dist(chain->chain.seed_for_position(chain->chain.size())));
}

FFL_API int32_t ffl_sampler_chain_add_temp(ffl_sampler *chain, float temp) {
    if (is_nan(temp)) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "temperature is NaN");
    return chain_add_internal(chain, make_temp(temp));
}

FFL_API int32_t ffl_sampler_chain_add_temp_ext(ffl_sampler *chain, float temp, float delta, float exponent) {
    if (is_nan(temp) || is_nan(delta) || !std::isfinite(exponent))
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "temp_ext parameters must be numbers");
    return chain_add_internal(chain, make_temp_ext(temp, delta, exponent));
}

FFL_API int32_t ffl_sampler_chain_add_top_k(ffl_sampler *chain, int32_t k) { return chain_add_internal(chain, make_top_k(k)); }

FFL_API int32_t ffl_sampler_chain_add_top_p(ffl_sampler *chain, float p, int32_t min_keep) {
    if (is_nan(p) || min_keep < 0) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "top_p: p must be a number, min_keep >= 0");
    return chain_add_internal(chain, make_top_p(p, (size_t)min_keep));
}

FFL_API int32_t ffl_sampler_chain_add_min_p(ffl_sampler *chain, float p, int32_t min_keep) {
    if (is_nan(p) || min_keep < 0) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "min_p: p must be a number, min_keep >= 0");
    return chain_add_internal(chain, make_min_p(p, (size_t)min_keep));
}

FFL_API int32_t ffl_sampler_chain_add_typical(ffl_sampler *chain, float p, int32_t min_keep) {
    if (is_nan(p) || min_keep < 0) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "typical: p must be a number, min_keep >= 0");
    return chain_add_internal(chain, make_typical(p, (size_t)min_keep));
}

FFL_API int32_t ffl_sampler_chain_add_penalties(ffl_sampler *chain, int32_t last_n, float repeat, float frequency,
                                                float presence) {
    if (last_n < 0 || last_n > kMaxTokenId) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "penalties: last_n must be in [0, %d]", kMaxTokenId);
    if (!std::isfinite(repeat) || repeat <= 0.0f || !std::isfinite(frequency) || !std::isfinite(presence))
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "penalties: repeat must be > 0, all penalties finite");
    return chain_add_internal(chain, make_penalties(last_n, repeat, frequency, presence));
}

FFL_API int32_t ffl_sampler_chain_add_logit_bias(ffl_sampler *chain, int32_t n_biases, const int32_t *tokens,
                                                 const float *biases) {
    if (n_biases < 0 || (n_biases > 0 && (!tokens || !biases)))
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "logit_bias: need n_biases >= 0 and non-NULL arrays");
    for (int32_t i = 0; i < n_biases; i++) {
        if (tokens[i] < 0 || tokens[i] >= kMaxTokenId) return ffl_fail(FFL_ERR_OUT_OF_RANGE, "logit_bias: token %d out of range", tokens[i]);
        if (is_nan(biases[i])) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "logit_bias: bias of token %d is NaN", tokens[i]);
    }
    return chain_add_internal(chain, make_logit_bias(tokens, biases, (size_t)n_biases));
}

FFL_API int32_t ffl_sampler_chain_add_mirostat_v2(ffl_sampler *chain, float tau, float eta) {
    if (!std::isfinite(tau) || !std::isfinite(eta)) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "mirostat_v2: tau and eta must be finite");
    int32_t st = check_chain(chain);
    if (st < 0) return st;
    return chain_add_internal(chain, make_mirostat_v2(chain->chain.seed_for_position(chain->chain.size()), tau, eta));
}

FFL_API int32_t ffl_sampler_chain_add_xtc(ffl_sampler *chain, float probability, float threshold, int32_t min_keep) {
    if (is_nan(probability) || is_nan(threshold) || min_keep < 0)
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "xtc: probability and threshold must be numbers, min_keep >= 0");
    int32_t st = check_chain(chain);
    if (st < 0) return st;
    return chain_add_internal(chain, make_xtc(probability, threshold, (size_t)min_keep,
                                              chain->chain.seed_for_position(chain->chain.size())));
}

FFL_API int32_t ffl_sampler_sample(ffl_sampler *chain, const float *logits, int32_t n_vocab, int32_t *out_token,
                                   float *out_logprob) {
    int32_t st = check_chain(chain);
    if (st < 0) return st;
    if (!logits || !out_token) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "logits and out_token must not be NULL");
    if (n_vocab <= 0 || n_vocab > kMaxTokenId) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "n_vocab %d out of range", n_vocab);
    *out_token = -1;
    return guarded([&] { return chain->chain.sample(logits, n_vocab, out_token, out_logprob); });
}

FFL_API int32_t ffl_sampler_accept(ffl_sampler *chain, int32_t token) {
    int32_t st = check_chain(chain);
    if (st < 0) return st;
    if (token < 0 || token >= kMaxTokenId) return ffl_fail(FFL_ERR_OUT_OF_RANGE, "token %d out of range", token);
    return guarded([&] { return chain->chain.accept(token); });
}

FFL_API int32_t ffl_sampler_accept_prompt(ffl_sampler *chain, const int32_t *tokens, int32_t n_tokens) {
    int32_t st = check_chain(chain);
    if (st < 0) return st;
    if (n_tokens < 0 || (n_tokens > 0 && !tokens)) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "tokens is NULL");
    for (int32_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= kMaxTokenId) return ffl_fail(FFL_ERR_OUT_OF_RANGE, "token %d out of range", tokens[i]);
    return guarded([&] {
        for (int32_t i = 0; i < n_tokens; i++) chain->chain.accept_history(tokens[i]);
        return (int32_t)FFL_OK;
    });
}

FFL_API int32_t ffl_grammar_validate(const char *grammar, const char *root) {
    if (!grammar) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "grammar is NULL");
    if (!root || !*root) root = "root";
    return guarded([&] {
        Grammar g;
        std::string err;
        int32_t rc = parse_gbnf(grammar, strlen(grammar), root, g, err);
        if (rc < 0) return ffl_fail(rc, "grammar: %s", err.c_str());
        return (int32_t)FFL_OK;
    });
}

FFL_API int32_t ffl_json_schema_to_grammar(const char *schema_json, char *out, int64_t capacity, int64_t *out_length) {
    if (out_length) *out_length = 0;
    if (!schema_json) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "schema_json is NULL");
    if (capacity < 0 || (capacity > 0 && !out)) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "out is NULL or capacity negative");
    return guarded([&] {
        std::string grammar, err;
        int32_t rc = json_schema_to_gbnf(schema_json, strlen(schema_json), grammar, err);
        if (rc < 0) return ffl_fail(rc, "json schema: %s", err.c_str());
        if (out_length) *out_length = (int64_t)grammar.size();
        if ((int64_t)grammar.size() >= capacity) {
            if (capacity > 0) out[0] = '\0';
            return ffl_fail(FFL_ERR_OUT_OF_RANGE, "buffer too small: the grammar needs %zu bytes plus the terminating NUL",
                            grammar.size());
        }
        memcpy(out, grammar.data(), grammar.size());
        out[grammar.size()] = '\0';
        return (int32_t)FFL_OK;
    });
}

} // extern "C"
