/* Samplers with llama.cpp's semantics (llama-sampling.cpp, early 2025) and the chain that
 * runs them. Internal C++ interface; the C API in sample_api.cpp wraps it. */
#ifndef FFL_SAMPLE_SAMPLER_H
#define FFL_SAMPLE_SAMPLER_H

#include "sample/grammar.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace ffl_sample {

struct TokenData {
    int32_t id;
    float logit;
    float p;
};

/* The candidates a chain works on. Samplers shrink, reorder or rescore them; a selecting
 * sampler (greedy, dist, mirostat) sets `selected` to an index into data. */
struct Candidates {
    TokenData *data = nullptr;
    size_t size = 0;
    int64_t selected = -1;
    bool sorted = false; /* by logit, descending */
};

/* xoshiro256** seeded through splitmix64: small, fast, the same on every platform. */
class Rng {
public:
    explicit Rng(uint64_t seed = 0) { seed_with(seed); }
    void seed_with(uint64_t seed);
    uint64_t next();
    /* uniform in [0, 1) */
    double uniform() { return (double)(next() >> 11) * 0x1.0p-53; }
    float uniform_float() { return (float)(next() >> 40) * 0x1.0p-24f; }

private:
    uint64_t s_[4];
};

/* Candidate helpers shared by the samplers (and tests). */
void sort_candidates(Candidates &c);
/* Keeps the k best (sorted), k <= size. */
void keep_top_k(Candidates &c, size_t k);
/* p = softmax(logit); sorts first when do_sort. */
void softmax(Candidates &c, bool do_sort);

class Sampler {
public:
    virtual ~Sampler() = default;
    virtual const char *name() const = 0;
    /* Returns FFL_OK or a negative status (with ffl_fail called). */
    virtual int32_t apply(Candidates &c) = 0;
    /* May the token be accepted? Checked for every sampler before any accepts it. */
    virtual bool can_accept(int32_t /*token*/) { return true; }
    virtual void accept(int32_t /*token*/) {}
    /* Prompt tokens: only histories (penalties, DRY) take them, never grammar state. */
    virtual void accept_history(int32_t /*token*/) {}
    virtual void reset() {}
    /* Random samplers derive their generator from the chain seed and their position. */
    virtual void reseed(uint64_t /*seed*/) {}
    virtual std::unique_ptr<Sampler> clone() const = 0;
};

std::unique_ptr<Sampler> make_greedy();
std::unique_ptr<Sampler> make_dist(uint64_t seed);
std::unique_ptr<Sampler> make_temp(float temp);
std::unique_ptr<Sampler> make_temp_ext(float temp, float delta, float exponent);
std::unique_ptr<Sampler> make_top_k(int32_t k);
std::unique_ptr<Sampler> make_top_p(float p, size_t min_keep);
std::unique_ptr<Sampler> make_min_p(float p, size_t min_keep);
std::unique_ptr<Sampler> make_typical(float p, size_t min_keep);
std::unique_ptr<Sampler> make_penalties(int32_t last_n, float repeat, float frequency, float presence);
std::unique_ptr<Sampler> make_logit_bias(const int32_t *tokens, const float *biases, size_t n);
std::unique_ptr<Sampler> make_mirostat_v2(uint64_t seed, float tau, float eta);
std::unique_ptr<Sampler> make_xtc(float probability, float threshold, size_t min_keep, uint64_t seed);

/* DRY breakers, processed: head token -> tails (the rest of the breaker's tokens). An empty
 * tail means the head token alone breaks repetition. */
using DryBreakers = std::unordered_map<int32_t, std::vector<std::vector<int32_t>>>;
/* Tokenizes text without special tokens (used to tokenize the tail of a breaker). */
using Tokenize = std::function<std::vector<int32_t>(const std::string &)>;
/* Finds, for every token whose text contains a breaker or ends with the breaker's start,
 * the token sequences that complete the breaker (llama.cpp's / koboldcpp's method). */
void dry_process_breakers(const TokenTable &table, const Tokenize &tokenize, const std::vector<std::string> &breakers,
                          DryBreakers &out);
std::unique_ptr<Sampler> make_dry(int32_t context_size, float multiplier, float base, int32_t allowed_length,
                                  int32_t last_n, DryBreakers breakers);

/* Grammar sampler: masks candidates the grammar cannot accept; accept() advances it. */
std::unique_ptr<Sampler> make_grammar(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenTable> table,
                                      std::shared_ptr<const TokenTrie> trie);

/* Access to a grammar sampler's matcher (tests and timing). */
Matcher *grammar_matcher(Sampler *s);

/* The chain: runs samplers in order over a reused candidate buffer. */
class Chain {
public:
    explicit Chain(uint64_t seed) : seed_(seed) {}
    Chain(const Chain &other);

    uint64_t seed() const { return seed_; }
    /* Random samplers get a generator derived from (seed, their position). */
    uint64_t seed_for_position(size_t position) const;
    void add(std::unique_ptr<Sampler> s) { samplers_.push_back(std::move(s)); }
    size_t size() const { return samplers_.size(); }
    Sampler *at(size_t i) { return samplers_[i].get(); }

    /* Copies logits, runs every sampler; returns the chosen token (>= 0) or a negative status. */
    int32_t sample(const float *logits, int32_t n_vocab, int32_t *token, float *logprob);
    int32_t accept(int32_t token);
    void accept_history(int32_t token);
    void reset();
    void set_seed(uint64_t seed);
    /* Candidates left after the last sample() (valid until the next call). */
    const Candidates &last() const { return cand_; }

private:
    uint64_t seed_;
    std::vector<std::unique_ptr<Sampler>> samplers_;
    std::vector<TokenData> buf_;
    Candidates cand_;
};

} // namespace ffl_sample

#endif
