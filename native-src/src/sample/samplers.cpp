/* The samplers. Semantics follow llama.cpp's llama-sampling.cpp (early 2025): the same
 * candidate sets and probabilities for the same inputs; random draws come from our own
 * seeded generator, so the same seed gives the same tokens on every machine. */
#include "sample/sampler.h"

#include "common/ffl_internal.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <numeric>

namespace ffl_sample {

/* ---- generator ---- */

static uint64_t splitmix64(uint64_t &x) {
    uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void Rng::seed_with(uint64_t seed) {
    uint64_t x = seed;
    for (auto &w : s_) w = splitmix64(x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t Rng::next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
}

/* ---- candidate helpers ---- */

/* Total order: logit descending, then id ascending, so every sort gives the same result. */
static inline bool better(const TokenData &a, const TokenData &b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

void sort_candidates(Candidates &c) {
    if (!c.sorted) std::sort(c.data, c.data + c.size, better);
    c.sorted = true;
}

void keep_top_k(Candidates &c, size_t k) {
    if (k > c.size) k = c.size;
    if (!c.sorted) {
        if (k <= 128 || k * 4 >= c.size) {
            std::partial_sort(c.data, c.data + k, c.data + c.size, better);
        } else {
            std::nth_element(c.data, c.data + k - 1, c.data + c.size, better);
            std::sort(c.data, c.data + k, better);
        }
    }
    c.size = k;
    c.sorted = true;
}

static float max_logit(const Candidates &c) {
    if (c.sorted) return c.data[0].logit;
    float m = -INFINITY;
    for (size_t i = 0; i < c.size; i++) m = std::max(m, c.data[i].logit);
    return m;
}

void softmax(Candidates &c, bool do_sort) {
    if (c.size == 0) return;
    if (do_sort) sort_candidates(c);
    const float m = max_logit(c);
    if (m == -INFINITY) {
        for (size_t i = 0; i < c.size; i++) c.data[i].p = 0.0f;
        return;
    }
    double sum = 0.0;
    for (size_t i = 0; i < c.size; i++) {
        float p = expf(c.data[i].logit - m);
        c.data[i].p = p;
        sum += p;
    }
    const float inv = (float)(1.0 / sum);
    for (size_t i = 0; i < c.size; i++) c.data[i].p *= inv;
}

/* Draws an index with probability proportional to p (p need not be normalised).
 * Returns -1 when every p is zero. */
static int64_t draw(const Candidates &c, Rng &rng) {
    double sum = 0.0;
    for (size_t i = 0; i < c.size; i++) sum += c.data[i].p;
    if (!(sum > 0.0)) return -1;
    const double target = rng.uniform() * sum;
    double run = 0.0;
    int64_t last_nonzero = -1;
    for (size_t i = 0; i < c.size; i++) {
        if (c.data[i].p <= 0.0f) continue;
        run += c.data[i].p;
        last_nonzero = (int64_t)i;
        if (run > target) return (int64_t)i;
    }
    return last_nonzero; /* rounding left target just above the total */
}

namespace {

/* ---- greedy ---- */

class Greedy final : public Sampler {
public:
    const char *name() const override { return "greedy"; }
    int32_t apply(Candidates &c) override {
        if (c.size == 0) return FFL_OK;
        size_t best = 0;
        for (size_t i = 1; i < c.size; i++)
            if (c.data[i].logit > c.data[best].logit) best = i;
        c.selected = (int64_t)best;
        return FFL_OK;
    }
    std::unique_ptr<Sampler> clone() const override { return std::make_unique<Greedy>(*this); }
};

/* ---- dist ---- */

class Dist final : public Sampler {
public:
    explicit Dist(uint64_t seed) : seed_(seed), rng_(seed) {}
    const char *name() const override { return "dist"; }
    int32_t apply(Candidates &c) override {
        if (c.size == 0) return FFL_OK;
        softmax(c, false);
        int64_t i = draw(c, rng_);
        c.selected = i < 0 ? 0 : i;
        return FFL_OK;
    }
    void reset() override { rng_.seed_with(seed_); }
    void reseed(uint64_t seed) override {
        seed_ = seed;
        rng_.seed_with(seed);
    }
    std::unique_ptr<Sampler> clone() const override { return std::make_unique<Dist>(*this); }

private:
    uint64_t seed_;
    Rng rng_;
};

/* ---- temperature ---- */

/* temp <= 0 keeps only the best candidate (the rest get -inf), as llama.cpp does. */
static void apply_temperature(Candidates &c, float temp) {
    if (c.size == 0) return;
    if (temp <= 0.0f) {
        size_t best = 0;
        for (size_t i = 1; i < c.size; i++) {
            if (c.data[i].logit > c.data[best].logit) {
                c.data[best].logit = -INFINITY;
                best = i;
            } else {
                c.data[i].logit = -INFINITY;
            }
        }
        return;
    }
    for (size_t i = 0; i < c.size; i++) c.data[i].logit /= temp;
}

class Temp final : public Sampler {
public:
    explicit Temp(float t) : temp_(t) {}
    const char *name() const override { return "temp"; }
    int32_t apply(Candidates &c) override {
        apply_temperature(c, temp_);
        return FFL_OK;
    }
    std::unique_ptr<Sampler> clone() const override { return std::make_unique<Temp>(*this); }

private:
    float temp_;
};

/* Dynamic temperature: maps the normalised entropy of the distribution into
 * [temp - delta, temp + delta] through a power curve. */
class TempExt final : public Sampler {
public:
    TempExt(float t, float d, float e) : temp_(t), delta_(d), exponent_(e) {}
    const char *name() const override { return "temp-ext"; }
    int32_t apply(Candidates &c) override {
        if (delta_ <= 0.0f) {
            apply_temperature(c, temp_);
            return FFL_OK;
        }
        if (c.size <= 1) return FFL_OK;
        const float min_temp = std::max(0.0f, temp_ - delta_);
        const float max_temp = temp_ + delta_;
        const float max_entropy = -logf(1.0f / (float)c.size);
        softmax(c, true);
        float entropy = 0.0f;
        for (size_t i = 0; i < c.size; i++) {
            float p = c.data[i].p;
            if (p > 0.0f) entropy -= p * logf(p);
        }
        const float normalized = entropy / max_entropy;
        const float dyn_temp = min_temp + (max_temp - min_temp) * powf(normalized, exponent_);
        apply_temperature(c, dyn_temp);
        /* probabilities again, after rescaling (the order is unchanged) */
        const double m = c.data[0].logit;
        double sum = 0.0;
        for (size_t i = 0; i < c.size; i++) {
            double p = exp(c.data[i].logit - m);
            c.data[i].p = (float)p;
            sum += p;
        }
        for (size_t i = 0; i < c.size; i++) c.data[i].p = (float)(c.data[i].p / sum);
        return FFL_OK;
    }
    std::unique_ptr<Sampler> clone() const override { return std::make_unique<TempExt>(*this); }

private:
    float temp_, delta_, exponent_;
};

/* ---- truncation ---- */

class TopK final : public Sampler {
public:
    explicit TopK(int32_t k) : k_(k) {}
    const char *name() const override { return "top-k"; }
    int32_t apply(Candidates &c) override {
        if (k_ <= 0 || c.size == 0) return FFL_OK;
        keep_top_k(c, (size_t)k_);
        return FFL_OK;
    }
    std::unique_ptr<Sampler> clone() const override { return std::make_unique<TopK>(*this); }

private:
    int32_t k_;
};

class TopP final : public Sampler {
public:
    TopP(float p, size_t min_keep) : p_(p), min_keep_(min_keep) {}
    const char *name() const override { return "top-p"; }
    int32_t apply(Candidates &c) override {
        if (p_ >= 1.0f || c.size == 0) return FFL_OK;
        softmax(c, false);
        /* The nucleus is usually small: sort a prefix of the best candidates and grow it
         * (x4 each time) only while the running mass stays below p. */
        size_t sorted_upto = c.sorted ? c.size : 0;
        float cum = 0.0f;
        size_t last = c.size;
        for (size_t i = 0; i < c.size; i++) {
            if (i == sorted_upto) {
                size_t next = std::min(c.size, std::max<size_t>(256, sorted_upto * 4));
                if (next < c.size) std::nth_element(c.data + sorted_upto, c.data + next - 1, c.data + c.size, better);
                std::sort(c.data + sorted_upto, c.data + next, better);
                sorted_upto = next;
            }
            cum += c.data[i].p;
            if (cum >= p_ && i + 1 >= min_keep_) {
                last = i + 1;
                break;
            }
        }
        c.sorted = true;
        c.size = last;
        return FFL_OK;
    }
    std::unique_ptr<Sampler> clone() const override { return std::make_unique<TopP>(*this); }

private:
    float p_;
    size_t min_keep_;
};

class MinP final : public Sampler {
public:
    MinP(float p, size_t min_keep) : p_(p), min_keep_(min_keep) {}
    const char *name() const override { return "min-p"; }
    int32_t apply(Candidates &c) override {
        if (p_ <= 0.0f || c.size == 0) return FFL_OK;
        if (!c.sorted) {
            /* p_i >= p * p_max  <=>  logit_i >= max_logit + log(p) */
            float m = -FLT_MAX;
            for (size_t i = 0; i < c.size; i++) m = std::max(m, c.data[i].logit);
            const float min_logit = m + logf(p_);
            size_t keep = 0;
            for (size_t i = 0; i < c.size; i++)
                if (c.data[i].logit >= min_logit) keep++;
            if (keep > 0 && keep >= min_keep_) {
                size_t j = 0;
                for (size_t i = 0; i < c.size; i++)
                    if (c.data[i].logit >= min_logit) c.data[j++] = c.data[i];
                c.size = j;
                return FFL_OK;
            }
        }
        sort_candidates(c);
        const float min_logit = c.data[0].logit + logf(p_);
        size_t i = 1;
        for (; i < c.size; i++)
            if (c.data[i].logit < min_logit && i >= min_keep_) break;
        c.size = i;
        return FFL_OK;
    }
    std::unique_ptr<Sampler> clone() const override { return std::make_unique<MinP>(*this); }

private:
    float p_;
    size_t min_keep_;
};

/* Locally typical sampling: keep the tokens whose surprise is closest to the entropy
 * until their mass exceeds p. */
class Typical final : public Sampler {
public:
    Typical(float p, size_t min_keep) : p_(p), min_keep_(min_keep) {}
    const char *name() const override { return "typical"; }
    int32_t apply(Candidates &c) override {
        if (p_ >= 1.0f || c.size == 0) return FFL_OK;
        softmax(c, true);
        float entropy = 0.0f;
        for (size_t i = 0; i < c.size; i++) {
            float p = c.data[i].p;
            if (p > 0.0f) entropy -= p * logf(p);
        }
        shifted_.resize(c.size);
        order_.resize(c.size);
        for (size_t i = 0; i < c.size; i++) {
            float p = c.data[i].p;
            shifted_[i] = p > 0.0f ? fabsf(-logf(p) - entropy) : INFINITY;
            order_[i] = i;
        }
        std::stable_sort(order_.begin(), order_.end(), [&](size_t a, size_t b) { return shifted_[a] < shifted_[b]; });
        float cum = 0.0f;
        size_t last = c.size;
        for (size_t i = 0; i < c.size; i++) {
            cum += c.data[order_[i]].p;
            if (cum > p_ && (min_keep_ == 0 || i + 1 >= min_keep_)) {
                last = i + 1;
                break;
            }
        }
        tmp_.resize(last);
        for (size_t i = 0; i < last; i++) tmp_[i] = c.data[order_[i]];
        std::copy(tmp_.begin(), tmp_.end(), c.data);
        c.size = last;
        c.sorted = false;
        return FFL_OK;
    }
    std::unique_ptr<Sampler> clone() const override { return std::make_unique<Typical>(p_, min_keep_); }

private:
    float p_;
    size_t min_keep_;
    std::vector<float> shifted_;
    std::vector<size_t> order_;
    std::vector<TokenData> tmp_;
};

/* XTC ("exclude top choices"): with some probability, drop every candidate above the
 * threshold except the least likely of them. */
class Xtc final : public Sampler {
public:
    Xtc(float probability, float threshold, size_t min_keep, uint64_t seed)
        : probability_(probability), threshold_(threshold), min_keep_(min_keep), seed_(seed), rng_(seed) {}
    const char *name() const override { return "xtc"; }
    int32_t apply(Candidates &c) override {
        if (probability_ <= 0.0f || threshold_ > 0.5f || c.size < 2) return FFL_OK;
        if (rng_.uniform_float() > probability_) return FFL_OK;
        softmax(c, true);
        size_t last_above = 0;
        for (size_t i = 0; i < c.size; i++) {
            if (c.data[i].p >= threshold_) {
                last_above = i;
            } else {
                break;
            }
        }
        if (c.size - last_above >= min_keep_ && last_above > 0) {
            c.data += last_above;
            c.size -= last_above;
        }
        return FFL_OK;
    }
    void reset() override { rng_.seed_with(seed_); }
    void reseed(uint64_t seed) override {
        seed_ = seed;
        rng_.seed_with(seed);
    }
    std::unique_ptr<Sampler> clone() const override { return std::make_unique<Xtc>(*this); }

private:
    float probability_, threshold_;
    size_t min_keep_;
    uint64_t seed_;
    Rng rng_;
};

/* ---- penalties ---- */

/* Fixed-capacity FIFO of the last tokens. */
class TokenRing {
public:
    explicit TokenRing(size_t capacity = 0) : data_(capacity) {}
    size_t capacity() const { return data_.size(); }
    size_t size() const { return size_; }
    bool full() const { return size_ == data_.size(); }
    int32_t oldest() const { return data_[first_]; }
    /* i-th most recent (0 = last pushed) */
    int32_t from_end(size_t i) const { return data_[(first_ + size_ - 1 - i) % data_.size()]; }
    void push(int32_t t) {
        if (data_.empty()) return;
        size_t pos = (first_ + size_) % data_.size();
        if (full()) {
            data_[first_] = t;
            first_ = (first_ + 1) % data_.size();
        } else {
            data_[pos] = t;
            size_++;
        }
    }
    void clear() {
        size_ = 0;
        first_ = 0;
    }

private:
    std::vector<int32_t> data_;
    size_t first_ = 0, size_ = 0;
};

/* Repetition (divide positive / multiply negative logits), frequency (count-scaled) and
 * presence penalties over the last n accepted tokens. */
class Penalties final : public Sampler {
public:
    Penalties(int32_t last_n, float repeat, float frequency, float presence)
        : last_n_(last_n), repeat_(repeat), frequency_(frequency), presence_(presence), ring_((size_t)last_n) {}
    const char *name() const override { return "penalties"; }
    void accept(int32_t token) override {
        if (last_n_ == 0) return;
        if ((size_t)token >= counts_.size()) counts_.resize((size_t)token + 1, 0);
        counts_[token]++;
        if (ring_.full()) counts_[ring_.oldest()]--;
        ring_.push(token);
    }
    void accept_history(int32_t token) override { accept(token); }
    int32_t apply(Candidates &c) override {
        if (last_n_ == 0 || ring_.size() == 0 || (repeat_ == 1.0f && frequency_ == 0.0f && presence_ == 0.0f))
            return FFL_OK;
        const size_t nc = counts_.size();
        for (size_t i = 0; i < c.size; i++) {
            const int32_t id = c.data[i].id;
            if ((size_t)id >= nc) continue;
            const int32_t count = counts_[id];
            if (count <= 0) continue;
            float &l = c.data[i].logit;
            if (l <= 0.0f) {
                l *= repeat_;
            } else {
                l /= repeat_;
            }
            l -= (float)count * frequency_ + presence_;
        }
        c.sorted = false;
        return FFL_OK;
    }
    void reset() override {
        ring_.clear();
        std::fill(counts_.begin(), counts_.end(), 0);
    }
    std::unique_ptr<Sampler> clone() const override { return std::make_unique<Penalties>(*this); }

private:
    int32_t last_n_;
    float repeat_, frequency_, presence_;
    TokenRing ring_;
    std::vector<int32_t> counts_; /* occurrences in the ring, by token id */
};

/* ---- logit bias ---- */

class LogitBias final : public Sampler {
public:
    LogitBias(const int32_t *tokens, const float *biases, size_t n) {
        for (size_t i = 0; i < n; i++) bias_.push_back({tokens[i], biases[i]});
        std::sort(bias_.begin(), bias_.end(), [](const Entry &a, const Entry &b) { return a.token < b.token; });
        /* a token listed twice gets the sum of its biases */
        std::vector<Entry> merged;
        for (const auto &e : bias_) {
            if (!merged.empty() && merged.back().token == e.token) {
                merged.back().bias += e.bias;
            } else {
                merged.push_back(e);
            }
        }
        bias_ = std::move(merged);
    }
    const char *name() const override { return "logit-bias"; }
    int32_t apply(Candidates &c) override {
        if (bias_.empty()) return FFL_OK;
        search_.clear();
        for (const auto &e : bias_) {
            /* candidates still in vocabulary order can be addressed directly */
            if ((size_t)e.token < c.size && c.data[e.token].id == e.token) {
                c.data[e.token].logit += e.bias;
            } else {
                search_.push_back(e);
            }
        }
        if (!search_.empty()) {
            for (size_t i = 0; i < c.size; i++) {
                const int32_t id = c.data[i].id;
                auto it = std::lower_bound(search_.begin(), search_.end(), id,
                                           [](const Entry &e, int32_t v) { return e.token < v; });
                if (it != search_.end() && it->token == id) c.data[i].logit += it->bias;
            }
        }
        c.sorted = false;
        return FFL_OK;
    }
    std::unique_ptr<Sampler> clone() const override { return std::make_unique<LogitBias>(*this); }

private:
    struct Entry {
        int32_t token;
        float bias;
    };
    std::vector<Entry> bias_;
    std::vector<Entry> search_;
};

/* ---- mirostat v2 ---- */

/* Keeps the candidates whose surprise (-log2 p) is at most mu, samples one, and steers mu
 * towards the target surprise tau. mu is updated when the sampled token is accepted. */
class MirostatV2 final : public Sampler {
public:
    MirostatV2(uint64_t seed, float tau, float eta) : seed_(seed), tau_(tau), eta_(eta), mu_(2.0f * tau), rng_(seed) {}
    const char *name() const override { return "mirostat-v2"; }
    int32_t apply(Candidates &c) override {
        if (c.size == 0) return FFL_OK;
        softmax(c, true);
        size_t keep = 0;
        while (keep < c.size && !(-log2f(c.data[keep].p) > mu_)) keep++;
        c.size = keep == 0 ? 1 : keep;
        softmax(c, true);
        int64_t i = draw(c, rng_);
        if (i < 0) i = 0;
        c.selected = i;
        pending_token_ = c.data[i].id;
        pending_surprise_ = -log2f(c.data[i].p);
        return FFL_OK;
    }
    void accept(int32_t token) override {
        if (token == pending_token_) mu_ -= eta_ * (pending_surprise_ - tau_);
        pending_token_ = -1;
    }
    void reset() override {
        mu_ = 2.0f * tau_;
        pending_token_ = -1;
        rng_.seed_with(seed_);
    }
    void reseed(uint64_t seed) override {
        seed_ = seed;
        rng_.seed_with(seed);
    }
    std::unique_ptr<Sampler> clone() const override { return std::make_unique<MirostatV2>(*this); }
    float mu() const { return mu_; }

private:
    uint64_t seed_;
    float tau_, eta_, mu_;
    Rng rng_;
    int32_t pending_token_ = -1;
    float pending_surprise_ = 0.0f;
};

/* ---- DRY ---- */

/* "Don't repeat yourself": penalises tokens that would extend a sequence already seen in
 * the context, exponentially in the length of the repeat; sequence breakers (tokens of
 * e.g. "\n", ":", "\"") end the repeat search. Koboldcpp's algorithm as llama.cpp has it. */
class Dry final : public Sampler {
public:
    Dry(int32_t context_size, float multiplier, float base, int32_t allowed_length, int32_t last_n, DryBreakers breakers)
        : context_size_(context_size), multiplier_(multiplier), base_(base), allowed_length_(allowed_length),
          last_n_(last_n), breakers_(std::move(breakers)) {
        effective_last_n_ = last_n == -1 ? context_size : std::max(last_n, 0);
        if (enabled()) ring_ = TokenRing((size_t)effective_last_n_);
    }
    const char *name() const override { return "dry"; }
    bool enabled() const { return multiplier_ != 0.0f && base_ >= 1.0f && last_n_ != 0 && effective_last_n_ > 0; }
    void accept(int32_t token) override {
        if (enabled()) ring_.push(token);
    }
    void accept_history(int32_t token) override { accept(token); }
    void reset() override { ring_.clear(); }
    std::unique_ptr<Sampler> clone() const override { return std::make_unique<Dry>(*this); }

    int32_t apply(Candidates &c) override {
        if (!enabled()) return FFL_OK;
        int32_t n = std::min((int32_t)ring_.size(), effective_last_n_);
        if (context_size_ > 0) n = std::min(n, context_size_);
        if (n <= allowed_length_) return FFL_OK;

        /* 1. The most recent breaker limits how far back a repeat may reach. */
        int32_t rep_limit = n;
        for (int32_t i = 0; i < n; i++) {
            auto it = breakers_.find(ring_.from_end((size_t)i));
            if (it == breakers_.end()) continue;
            int32_t longest = -1;
            for (const auto &tail : it->second) {
                int32_t len = (int32_t)tail.size();
                if (len <= longest || len > i) continue;
                bool match = true;
                for (int32_t k = 0; k < len && match; k++) match = tail[k] == ring_.from_end((size_t)(i - k - 1));
                if (match) longest = len;
            }
            if (longest >= 0) {
                rep_limit = i - longest;
                break;
            }
        }
        if (rep_limit < allowed_length_) return FFL_OK;

        /* 2. Z-algorithm over the reversed context: repeat_[last - k] is the length of the
         *    longest suffix of the context that also ends k tokens earlier. */
        repeat_.assign((size_t)n, 0);
        const int32_t last = n - 1;
        int32_t lt = 0, rt = 0;
        for (int32_t k = 1; k < n; k++) {
            if (k > rt) {
                int32_t len = 0;
                while (len + k < n && ring_.from_end((size_t)len) == ring_.from_end((size_t)(len + k))) len++;
                repeat_[last - k] = std::min(len, rep_limit);
                if (len > 0) {
                    lt = k;
                    rt = k + len - 1;
                }
            } else {
                int32_t pair = k - lt;
                int32_t right = rt - k + 1;
                if (repeat_[last - pair] < right) {
                    repeat_[last - k] = std::min(repeat_[last - pair], rep_limit);
                } else {
                    int32_t i = rt + 1;
                    while (i < n && ring_.from_end((size_t)i) == ring_.from_end((size_t)(i - k))) i++;
                    repeat_[last - k] = std::min(i - k, rep_limit);
                    lt = k;
                    rt = i - 1;
                }
            }
        }

        /* 3. The token right after each repeat would extend it: remember the longest per token. */
        max_repeat_.clear();
        for (int32_t i = 0; i < n - 1; i++) {
            int32_t len = repeat_[i];
            if (len < allowed_length_) continue;
            int32_t token = ring_.from_end((size_t)(n - 2 - i));
            auto it = max_repeat_.find(token);
            if (it == max_repeat_.end()) {
                max_repeat_.emplace(token, len);
            } else if (it->second < len) {
                it->second = len;
            }
        }
        if (max_repeat_.empty()) return FFL_OK;

        /* 4. Penalty multiplier * base^(len - allowed), the exponent clamped so the power stays finite. */
        const float kFloatMaxLog = 88.7228391f;
        int32_t max_exponent = 0;
        if (base_ > 1.000001f) max_exponent = (int32_t)(kFloatMaxLog / logf(base_));
        for (size_t i = 0; i < c.size; i++) {
            auto it = max_repeat_.find(c.data[i].id);
            if (it == max_repeat_.end()) continue;
            auto br = breakers_.find(c.data[i].id);
            bool single_token_breaker = false;
            if (br != breakers_.end())
                for (const auto &tail : br->second)
                    if (tail.empty()) single_token_breaker = true;
            if (single_token_breaker) continue;
            int32_t exponent = it->second - allowed_length_;
            if (max_exponent > 0 && exponent > max_exponent) exponent = max_exponent;
            c.data[i].logit -= multiplier_ * powf(base_, (float)exponent);
        }
        c.sorted = false;
        return FFL_OK;
    }

private:
    int32_t context_size_;
    float multiplier_, base_;
    int32_t allowed_length_, last_n_, effective_last_n_ = 0;
    DryBreakers breakers_;
    TokenRing ring_;
    std::vector<int32_t> repeat_;
    std::unordered_map<int32_t, int32_t> max_repeat_;
};

/* ---- grammar ---- */

class GrammarSampler final : public Sampler {
public:
    GrammarSampler(std::shared_ptr<const Grammar> g, std::shared_ptr<const TokenTable> table,
                   std::shared_ptr<const TokenTrie> trie)
        : table_(std::move(table)), trie_(std::move(trie)), matcher_(std::move(g)) {}
    const char *name() const override { return "grammar"; }
    int32_t apply(Candidates &c) override {
        matcher_.maybe_compact();
        const int32_t nt = table_->size();
        size_t live = 0;
        if (c.size * 8 >= (size_t)nt) {
            allowed_.resize((size_t)nt);
            matcher_.allowed_tokens(*table_, *trie_, allowed_.data());
            for (size_t i = 0; i < c.size; i++) {
                const int32_t id = c.data[i].id;
                if (id < nt && allowed_[id]) {
                    if (c.data[i].logit != -INFINITY) live++;
                } else {
                    c.data[i].logit = -INFINITY;
                }
            }
        } else {
            for (size_t i = 0; i < c.size; i++) {
                if (matcher_.token_allowed(*table_, c.data[i].id)) {
                    if (c.data[i].logit != -INFINITY) live++;
                } else {
                    c.data[i].logit = -INFINITY;
                }
            }
        }
        c.sorted = false;
        if (live == 0) return ffl_fail(FFL_ERR_STATE, "the grammar allows none of the candidate tokens");
        return FFL_OK;
    }
    bool can_accept(int32_t token) override { return matcher_.token_allowed(*table_, token); }
    void accept(int32_t token) override { matcher_.accept_token(*table_, token); }
    void reset() override { matcher_.reset(); }
    std::unique_ptr<Sampler> clone() const override { return std::make_unique<GrammarSampler>(*this); }
    Matcher &matcher() { return matcher_; }

private:
    std::shared_ptr<const TokenTable> table_;
    std::shared_ptr<const TokenTrie> trie_;
    Matcher matcher_;
    std::vector<uint8_t> allowed_;
};

} // namespace

std::unique_ptr<Sampler> make_greedy() { return std::make_unique<Greedy>(); }
std::unique_ptr<Sampler> make_dist(uint64_t seed) { return std::make_unique<Dist>(seed); }
std::unique_ptr<Sampler> make_temp(float temp) { return std::make_unique<Temp>(temp); }
std::unique_ptr<Sampler> make_temp_ext(float temp, float delta, float exponent) {
    return std::make_unique<TempExt>(temp, delta, exponent);
}
std::unique_ptr<Sampler> make_top_k(int32_t k) { return std::make_unique<TopK>(k); }
std::unique_ptr<Sampler> make_top_p(float p, size_t min_keep) { return std::make_unique<TopP>(p, min_keep); }
std::unique_ptr<Sampler> make_min_p(float p, size_t min_keep) { return std::make_unique<MinP>(p, min_keep); }
std::unique_ptr<Sampler> make_typical(float p, size_t min_keep) { return std::make_unique<Typical>(p, min_keep); }
std::unique_ptr<Sampler> make_penalties(int32_t last_n, float repeat, float frequency, float presence) {
    return std::make_unique<Penalties>(last_n, repeat, frequency, presence);
}
std::unique_ptr<Sampler> make_logit_bias(const int32_t *tokens, const float *biases, size_t n) {
    return std::make_unique<LogitBias>(tokens, biases, n);
}
std::unique_ptr<Sampler> make_mirostat_v2(uint64_t seed, float tau, float eta) {
    return std::make_unique<MirostatV2>(seed, tau, eta);
}
std::unique_ptr<Sampler> make_xtc(float probability, float threshold, size_t min_keep, uint64_t seed) {
    return std::make_unique<Xtc>(probability, threshold, min_keep, seed);
}
std::unique_ptr<Sampler> make_dry(int32_t context_size, float multiplier, float base, int32_t allowed_length,
                                  int32_t last_n, DryBreakers breakers) {
    return std::make_unique<Dry>(context_size, multiplier, base, allowed_length, last_n, std::move(breakers));
}
std::unique_ptr<Sampler> make_grammar(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenTable> table,
                                      std::shared_ptr<const TokenTrie> trie) {
    return std::make_unique<GrammarSampler>(std::move(grammar), std::move(table), std::move(trie));
}

Matcher *grammar_matcher(Sampler *s) {
    auto *g = dynamic_cast<GrammarSampler *>(s);
    return g ? &g->matcher() : nullptr;
}

void dry_process_breakers(const TokenTable &table, const Tokenize &tokenize, const std::vector<std::string> &breakers,
                          DryBreakers &out) {
    const size_t kMaxChars = 40, kMaxTail = 20; /* llama.cpp's limits keep step 1 linear */
    std::unordered_map<std::string, std::vector<int32_t>> tail_cache;
    auto add = [&](int32_t token, std::vector<int32_t> tail) {
        auto &tails = out[token];
        if (std::find(tails.begin(), tails.end(), tail) == tails.end()) tails.push_back(std::move(tail));
    };
    for (std::string br : breakers) {
        if (br.empty()) continue;
        if (br.size() > kMaxChars) br.resize(kMaxChars);
        for (int32_t t = 0; t < table.size(); t++) {
            const std::string &word = table.pieces[t];
            if (word.empty()) continue;
            if (word.find(br) != std::string::npos) {
                add(t, {});
                continue;
            }
            /* the token ends with a proper prefix of the breaker: the tail completes it */
            for (size_t pos = word.find(br[0]); pos != std::string::npos; pos = word.find(br[0], pos + 1)) {
                size_t len = word.size() - pos;
                if (len >= br.size() || word.compare(pos, len, br, 0, len) != 0) continue;
                std::string rest = br.substr(len);
                auto it = tail_cache.find(rest);
                if (it == tail_cache.end()) {
                    std::vector<int32_t> toks = tokenize ? tokenize(rest) : std::vector<int32_t>();
                    if (toks.size() > kMaxTail) toks.resize(kMaxTail);
                    it = tail_cache.emplace(rest, std::move(toks)).first;
                }
                if (!it->second.empty()) add(t, it->second);
            }
        }
    }
}

/* ---- chain ---- */

Chain::Chain(const Chain &other) : seed_(other.seed_) {
    for (const auto &s : other.samplers_) samplers_.push_back(s->clone());
}

uint64_t Chain::seed_for_position(size_t position) const {
    uint64_t x = seed_ ^ (0xD1B54A32D192ED03ull * (uint64_t)(position + 1));
    return splitmix64(x);
}

int32_t Chain::sample(const float *logits, int32_t n_vocab, int32_t *token, float *logprob) {
    if (samplers_.empty()) return ffl_fail(FFL_ERR_STATE, "the sampler chain is empty");
    if ((size_t)n_vocab > buf_.size()) buf_.resize((size_t)n_vocab);
    for (int32_t i = 0; i < n_vocab; i++) {
        float l = logits[i];
        buf_[i] = {i, l == l ? l : -INFINITY, 0.0f}; /* NaN would break the sort order */
    }
    cand_ = Candidates();
    cand_.data = buf_.data();
    cand_.size = (size_t)n_vocab;
    for (auto &s : samplers_) {
        int32_t st = s->apply(cand_);
        if (st < 0) return st;
    }
    if (cand_.selected < 0 || (size_t)cand_.selected >= cand_.size)
        return ffl_fail(FFL_ERR_STATE, "no sampler of the chain selected a token (end it with greedy, dist or mirostat)");
    const TokenData &sel = cand_.data[cand_.selected];
    if (sel.logit == -INFINITY) return ffl_fail(FFL_ERR_STATE, "every candidate token has probability zero");
    *token = sel.id;
    if (logprob) {
        float m = max_logit(cand_);
        double sum = 0.0;
        for (size_t i = 0; i < cand_.size; i++) sum += exp((double)cand_.data[i].logit - m);
        *logprob = (float)((double)sel.logit - m - log(sum));
    }
    return FFL_OK;
}

int32_t Chain::accept(int32_t token) {
    for (auto &s : samplers_)
        if (!s->can_accept(token))
            return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "token %d is not allowed by the %s sampler", token, s->name());
    for (auto &s : samplers_) s->accept(token);
    return FFL_OK;
}

void Chain::accept_history(int32_t token) {
    for (auto &s : samplers_) s->accept_history(token);
}

void Chain::reset() {
    for (auto &s : samplers_) s->reset();
}

void Chain::set_seed(uint64_t seed) {
    seed_ = seed;
    for (size_t i = 0; i < samplers_.size(); i++) samplers_[i]->reseed(seed_for_position(i));
}

} // namespace ffl_sample
