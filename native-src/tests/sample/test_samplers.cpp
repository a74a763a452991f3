/* Samplers on small hand-computed distributions, chains, determinism, penalties windows. */
#include "test_util.h"

#include "fflama.h"
#include "sample/sample_api_internal.h"
#include "sample/sampler.h"

#include <cmath>
#include <vector>

using namespace ffl_sample;

namespace {

/* Candidates with logit = log(p), in token order, like llama.cpp's sampler tests. */
struct Tester {
    std::vector<TokenData> buf;
    Candidates c;
    explicit Tester(const std::vector<float> &probs) {
        for (size_t i = 0; i < probs.size(); i++) buf.push_back({(int32_t)i, logf(probs[i]), probs[i]});
        c.data = buf.data();
        c.size = buf.size();
    }
    Tester(const Tester &o) : buf(o.buf), c(o.c) { c.data = buf.data() + (o.c.data - o.buf.data()); }
    Tester &operator=(const Tester &) = delete;
    Tester &apply(std::unique_ptr<Sampler> s) {
        s->apply(c);
        return *this;
    }
    /* softmax without reordering, as a dist sampler leaves the candidates */
    Tester &probs() {
        softmax(c, false);
        return *this;
    }
    bool expect(const std::vector<float> &p, float tol = 1e-5f) const {
        if (c.size != p.size()) {
            fprintf(stderr, "  size %zu, expected %zu\n", c.size, p.size());
            return false;
        }
        for (size_t i = 0; i < p.size(); i++) {
            if (fabsf(c.data[i].p - p[i]) > tol) {
                fprintf(stderr, "  p[%zu] = %f (token %d), expected %f\n", i, c.data[i].p, c.data[i].id, p[i]);
                return false;
            }
        }
        return true;
    }
    std::vector<int32_t> ids() const {
        std::vector<int32_t> v;
        for (size_t i = 0; i < c.size; i++) v.push_back(c.data[i].id);
        return v;
    }
};

const std::vector<float> k4 = {0.1f, 0.2f, 0.3f, 0.4f};

void test_temperature() {
    CHECK(Tester(k4).apply(make_temp(1.0f)).probs().expect(k4));
    CHECK(Tester(k4).apply(make_temp(0.0f)).probs().expect({0.0f, 0.0f, 0.0f, 1.0f}));
    /* T = 2: p_i ~ sqrt(p_i) */
    float s = sqrtf(0.1f) + sqrtf(0.2f) + sqrtf(0.3f) + sqrtf(0.4f);
    CHECK(Tester(k4).apply(make_temp(2.0f)).probs().expect({sqrtf(0.1f) / s, sqrtf(0.2f) / s, sqrtf(0.3f) / s, sqrtf(0.4f) / s}));
    CHECK(Tester(k4).apply(make_temp_ext(1.0f, 0.0f, 1.0f)).probs().expect(k4));
    CHECK(Tester(k4).apply(make_temp_ext(0.0f, 0.0f, 1.0f)).probs().expect({0.0f, 0.0f, 0.0f, 1.0f}));
    /* dynamic: H = 1.2798544 nats, max ln 4, T = 0.5 + 1.0 * H / ln 4; output sorted descending */
    double h = 0;
    for (float p : k4) h -= p * log(p);
    double t = 0.5 + 1.0 * (h / log(4.0));
    double z = 0;
    for (float p : k4) z += pow(p, 1.0 / t);
    std::vector<float> want;
    for (int i = 3; i >= 0; i--) want.push_back((float)(pow(k4[i], 1.0 / t) / z));
    Tester te(k4);
    te.apply(make_temp_ext(1.0f, 0.5f, 1.0f));
    CHECK(te.expect(want));
    CHECK(fabs(t - 1.42322) < 1e-4);
}

void test_top_k() {
    CHECK(Tester(k4).apply(make_top_k(1)).probs().expect({1.0f}));
    CHECK(Tester(k4).apply(make_top_k(3)).probs().expect({0.44444f, 0.33333f, 0.22222f}));
    CHECK(Tester(k4).apply(make_top_k(4)).probs().expect({0.4f, 0.3f, 0.2f, 0.1f}));
    CHECK(Tester(k4).apply(make_top_k(0)).probs().expect(k4));
    CHECK(Tester(k4).apply(make_top_k(100)).probs().expect({0.4f, 0.3f, 0.2f, 0.1f}));
    /* ties keep the lower token id first */
    Tester tie({0.3f, 0.3f, 0.2f, 0.2f});
    tie.apply(make_top_k(3));
    CHECK(tie.ids() == std::vector<int32_t>({0, 1, 2}));
    /* large array: top-k through the nth_element path */
    std::vector<float> big(5000);
    for (size_t i = 0; i < big.size(); i++) big[i] = (float)((i * 7919) % 5000 + 1);
    Tester tb(big);
    tb.apply(make_top_k(300));
    bool ok = tb.c.size == 300;
    for (size_t i = 0; ok && i < 300; i++) ok = tb.c.data[i].logit == logf(5000.0f - (float)i);
    CHECK(ok);
}

void test_top_p() {
    CHECK(Tester(k4).apply(make_top_p(0.0f, 0)).probs().expect({1.0f}));
    CHECK(Tester(k4).apply(make_top_p(0.7f, 0)).probs().expect({0.571429f, 0.428571f}));
    CHECK(Tester(k4).apply(make_top_p(0.8f, 0)).probs().expect({0.44444f, 0.33333f, 0.22222f}));
    CHECK(Tester(k4).apply(make_top_p(1.0f, 0)).probs().expect(k4));
    /* min_keep wins over p */
    CHECK(Tester(k4).apply(make_top_p(0.1f, 3)).probs().expect({0.44444f, 0.33333f, 0.22222f}));
    /* large unsorted array: nucleus beyond the first 256 sorted entries */
    std::vector<float> flat(3000, 1.0f / 3000.0f);
    Tester tf(flat);
    tf.apply(make_top_p(0.5f, 1));
    CHECK_MSG(tf.c.size == 1500 || tf.c.size == 1501, "size %zu", tf.c.size);
    CHECK(tf.c.data[0].id == 0 && tf.c.data[1].id == 1);
}

void test_min_p() {
    CHECK(Tester(k4).apply(make_min_p(0.00f, 0)).probs().expect(k4));
    CHECK(Tester(k4).apply(make_min_p(0.24f, 0)).probs().expect(k4));
    CHECK(Tester(k4).apply(make_min_p(0.26f, 0)).probs().expect({0.2f / 0.9f, 0.3f / 0.9f, 0.4f / 0.9f}));
    CHECK(Tester(k4).apply(make_min_p(0.49f, 0)).probs().expect({0.2f / 0.9f, 0.3f / 0.9f, 0.4f / 0.9f}));
    CHECK(Tester(k4).apply(make_min_p(0.51f, 0)).probs().expect({0.3f / 0.7f, 0.4f / 0.7f}));
    CHECK(Tester(k4).apply(make_min_p(0.74f, 0)).probs().expect({0.3f / 0.7f, 0.4f / 0.7f}));
    CHECK(Tester(k4).apply(make_min_p(0.76f, 0)).probs().expect({1.0f}));
    CHECK(Tester(k4).apply(make_min_p(1.00f, 0)).probs().expect({1.0f}));
    CHECK(Tester(k4).apply(make_min_p(1.05f, 0)).probs().expect({1.0f}));
    /* min_keep forces the sorted path and keeps 3 */
    CHECK(Tester(k4).apply(make_min_p(0.76f, 3)).probs().expect({0.4f / 0.9f, 0.3f / 0.9f, 0.2f / 0.9f}));
}

void test_typical() {
    CHECK(Tester({0.97f, 0.01f, 0.01f, 0.01f}).apply(make_typical(0.5f, 0)).expect({0.97f}));
    CHECK(Tester({0.4f, 0.2f, 0.2f, 0.2f}).apply(make_typical(0.5f, 0)).expect({0.2f, 0.2f, 0.2f}));
    CHECK(Tester(k4).apply(make_typical(1.0f, 0)).probs().expect(k4));
}

void test_xtc() {
    /* probability 0.99: the coin (uniform in [0,1)) almost surely fires for seed 0 */
    CHECK(Tester({0.4f, 0.3f, 0.2f, 0.1f}).apply(make_xtc(0.99f, 0.09f, 0, 0)).expect({0.1f}));
    CHECK(Tester({0.4f, 0.3f, 0.2f, 0.1f}).apply(make_xtc(0.99f, 0.19f, 0, 0)).expect({0.2f, 0.1f}));
    CHECK(Tester({0.4f, 0.3f, 0.2f, 0.1f}).apply(make_xtc(0.99f, 0.29f, 0, 0)).expect({0.3f, 0.2f, 0.1f}));
    CHECK(Tester({0.4f, 0.3f, 0.2f, 0.1f}).apply(make_xtc(0.99f, 0.39f, 0, 0)).expect({0.4f, 0.3f, 0.2f, 0.1f}));
    /* min_keep 3 blocks the removal that would leave 1 */
    CHECK(Tester({0.4f, 0.3f, 0.2f, 0.1f}).apply(make_xtc(0.99f, 0.09f, 3, 0)).expect({0.4f, 0.3f, 0.2f, 0.1f}));
    /* threshold > 0.5 or probability 0: no-op */
    CHECK(Tester(k4).apply(make_xtc(1.0f, 0.6f, 0, 0)).expect(k4));
    CHECK(Tester(k4).apply(make_xtc(0.0f, 0.1f, 0, 0)).expect(k4));
}

Tester penalized(const std::vector<float> &probs, const std::vector<int32_t> &last, int32_t last_n, float rep, float freq,
                 float pres) {
    auto s = make_penalties(last_n, rep, freq, pres);
    for (int32_t t : last) s->accept(t);
    Tester t(probs);
    t.apply(std::move(s)).probs();
    return t;
}

void test_penalties() {
    const std::vector<float> u5(5, 0.2f);
    CHECK(penalized(u5, {0}, 5, 50.0f, 0.0f, 0.0f).expect({0, 0.25f, 0.25f, 0.25f, 0.25f}));
    CHECK(penalized(u5, {0, 1, 2}, 5, 50.0f, 0.0f, 0.0f).expect({0, 0, 0, 0.5f, 0.5f}));
    CHECK(penalized(u5, {0, 1, 2, 0, 0}, 5, 50.0f, 0.0f, 0.0f).expect({0, 0, 0, 0.5f, 0.5f}));
    CHECK(penalized(u5, {0}, 5, 1.0f, 5.0f, 5.0f).expect({0.000011f, 0.249997f, 0.249997f, 0.249997f, 0.249997f}));
    CHECK(penalized(u5, {0, 1, 2}, 5, 1.0f, 5.0f, 5.0f).expect({0.000023f, 0.000023f, 0.000023f, 0.499966f, 0.499966f}));
    CHECK(penalized(u5, {0, 1, 2, 0, 0}, 5, 1.0f, 5.0f, 5.0f).expect({0.000000f, 0.000023f, 0.000023f, 0.499977f, 0.499977f}));
    /* window of 3: token 0 left it, 1..3 are penalised */
    CHECK(penalized({0.25f, 0.25f, 0.25f, 0.25f, 0.0f + 1e-30f}, {0, 1, 2, 3}, 3, 50.0f, 0.0f, 0.0f).c.data[0].p > 0.9f);
    Tester w = penalized({0.25f, 0.25f, 0.25f, 0.25f}, {0, 1, 2, 3}, 3, 1.0f, 0.0f, 100.0f);
    CHECK(w.c.data[0].p > 0.999f && w.c.data[1].p < 1e-6f && w.c.data[3].p < 1e-6f);
    /* frequency counts within the window: token 1 twice -> logit - 2*f */
    Tester f = penalized({0.5f, 0.5f}, {1, 1}, 10, 1.0f, 1.0f, 0.0f);
    CHECK(fabsf(f.c.data[1].p - 1.0f / (1.0f + expf(2.0f))) < 1e-6f);
    /* repetition divides positive logits and multiplies negative ones */
    {
        auto s = make_penalties(4, 2.0f, 0.0f, 0.0f);
        s->accept(0);
        s->accept(1);
        std::vector<TokenData> d = {{0, 3.0f, 0}, {1, -3.0f, 0}, {2, 1.0f, 0}};
        Candidates c;
        c.data = d.data();
        c.size = 3;
        s->apply(c);
        CHECK(d[0].logit == 1.5f && d[1].logit == -6.0f && d[2].logit == 1.0f);
        s->reset();
        d = {{0, 3.0f, 0}, {1, -3.0f, 0}, {2, 1.0f, 0}};
        s->apply(c);
        CHECK(d[0].logit == 3.0f && d[1].logit == -3.0f);
    }
}

Tester dried(const std::vector<float> &probs, const std::vector<int32_t> &last, float mult, float base, int32_t allowed,
             int32_t last_n, const std::vector<std::vector<int32_t>> &breakers) {
    DryBreakers b;
    for (const auto &br : breakers) b[br[0]].push_back(std::vector<int32_t>(br.begin() + 1, br.end()));
    auto s = make_dry(1024, mult, base, allowed, last_n, b);
    for (int32_t t : last) s->accept(t);
    Tester t(probs);
    t.apply(std::move(s)).probs();
    return t;
}

void test_dry() {
    const std::vector<float> u4(4, 0.25f), u5(5, 0.2f);
    CHECK(dried(u4, {0, 1}, 1.0f, 1.1f, 2, 4, {}).expect(u4));
    CHECK(dried(u4, {0, 1, 2, 0, 1}, 1.0f, 1.1f, 2, 5, {}).expect({0.296923f, 0.296923f, 0.109232f, 0.296923f}));
    CHECK(dried(u5, {0, 1, 3, 4, 0, 1}, 1.0f, 1.1f, 2, 6, {{3}}).expect(u5));
    CHECK(dried(u5, {0, 1, 2, 0, 1}, 2.0f, 1.1f, 2, 5, {}).expect({0.241818f, 0.241818f, 0.032727f, 0.241818f, 0.241818f}));
    CHECK(dried(u5, {0, 1, 2, 3, 4, 0, 1}, 1.0f, 1.1f, 4, 7, {}).expect(u5));
    /* a repeat of 3 (0 1 2 .. 0 1 2) -> token 3 gets mult * base^(3-2) */
    Tester t = dried(u5, {0, 1, 2, 3, 0, 1, 2}, 1.0f, 2.0f, 2, 10, {});
    float e = expf(-2.0f);
    CHECK(t.expect({0.2f / (0.8f + 0.2f * e) * 1.0f, 0.2f / (0.8f + 0.2f * e), 0.2f / (0.8f + 0.2f * e),
                    0.2f * e / (0.8f + 0.2f * e), 0.2f / (0.8f + 0.2f * e)}));
    /* "0 1 2" repeats, so token 5 would extend it ... */
    const std::vector<float> u7(7, 1.0f / 7.0f);
    float z = 6.0f + expf(-1.1f);
    CHECK(dried(u7, {0, 1, 2, 5, 6, 0, 1, 2}, 1.0f, 1.1f, 2, 10, {})
              .expect({1 / z, 1 / z, 1 / z, 1 / z, 1 / z, expf(-1.1f) / z, 1 / z}));
    /* ... unless the two-token breaker "1 2" at the end limits the repeat to nothing */
    CHECK(dried(u7, {0, 1, 2, 5, 6, 0, 1, 2}, 1.0f, 1.1f, 2, 10, {{1, 2}}).expect(u7));
    /* a multi-token breaker's head is still penalised (only single-token breakers are exempt) */
    z = 0.8f + 0.2f * expf(-1.0f);
    CHECK(dried(u5, {0, 1, 3, 4, 0, 1}, 1.0f, 1.1f, 2, 6, {{3, 4}})
              .expect({0.2f / z, 0.2f / z, 0.2f / z, 0.2f * expf(-1.0f) / z, 0.2f / z}));
    /* last_n window shorter than the repeat distance: nothing seen */
    CHECK(dried(u4, {0, 1, 2, 0, 1}, 1.0f, 1.1f, 2, 3, {}).expect(u4));
}

void test_logit_bias() {
    const int32_t toks[] = {3, 1, 3};
    const float bias[] = {-INFINITY, 1.0f, 0.0f};
    Tester t(k4);
    t.apply(make_logit_bias(toks, bias, 3)).probs();
    float z = 0.1f + 0.2f * expf(1.0f) + 0.3f;
    CHECK(t.expect({0.1f / z, 0.2f * expf(1.0f) / z, 0.3f / z, 0.0f}));
    /* shuffled candidates go through the search path */
    Tester s(k4);
    sort_candidates(s.c);
    s.apply(make_logit_bias(toks, bias, 3));
    s.probs();
    CHECK(s.c.data[0].id == 3 && s.c.data[0].p == 0.0f);
    CHECK(fabsf(s.c.data[2].p - 0.2f * expf(1.0f) / z) < 1e-6f);
}

void test_mirostat() {
    /* surprises 1, 2, 3, 3 bits; tau = 1 -> mu = 2 keeps {0.5, 0.25} -> {2/3, 1/3} */
    Tester t({0.5f, 0.25f, 0.125f, 0.125f});
    t.apply(make_mirostat_v2(7, 1.0f, 0.1f));
    CHECK(t.expect({2.0f / 3.0f, 1.0f / 3.0f}));
    CHECK(t.c.selected == 0 || t.c.selected == 1);
    /* mu falls when accepted tokens are more surprising than tau: with tau = 0.5 on a
     * uniform pair (surprise 1 bit) mu drops below 1 and truncation leaves one token */
    auto m = make_mirostat_v2(7, 0.5f, 1.0f);
    for (int i = 0; i < 3; i++) {
        Tester u({0.5f, 0.5f});
        m->apply(u.c);
        if (i < 1) CHECK(u.c.size == 2);
        m->accept(u.c.data[u.c.selected].id);
    }
    Tester u({0.5f, 0.5f});
    m->apply(u.c);
    CHECK(u.c.size == 1);
    m->reset();
    Tester r({0.5f, 0.5f});
    m->apply(r.c);
    CHECK(r.c.size == 2);
}

/* ---- chains through the C API ---- */

std::vector<float> random_logits(Rng &rng, int n) {
    std::vector<float> l((size_t)n);
    for (auto &x : l) x = (float)(rng.uniform() * 8.0 - 4.0);
    return l;
}

ffl_sampler *typical_chain(uint64_t seed) {
    ffl_sampler *c = nullptr;
    CHECK(ffl_sampler_chain_new(seed, &c) == FFL_OK);
    CHECK(ffl_sampler_chain_add_penalties(c, 64, 1.1f, 0.0f, 0.0f) == FFL_OK);
    CHECK(ffl_sampler_chain_add_top_k(c, 40) == FFL_OK);
    CHECK(ffl_sampler_chain_add_top_p(c, 0.95f, 1) == FFL_OK);
    CHECK(ffl_sampler_chain_add_min_p(c, 0.05f, 1) == FFL_OK);
    CHECK(ffl_sampler_chain_add_xtc(c, 0.5f, 0.1f, 1) == FFL_OK);
    CHECK(ffl_sampler_chain_add_temp(c, 0.8f) == FFL_OK);
    CHECK(ffl_sampler_chain_add_dist(c) == FFL_OK);
    return c;
}

std::vector<int32_t> run(ffl_sampler *c, uint64_t logit_seed, int steps, int n_vocab = 1000) {
    Rng rng(logit_seed);
    std::vector<int32_t> out;
    for (int i = 0; i < steps; i++) {
        std::vector<float> l = random_logits(rng, n_vocab);
        int32_t tok = -1;
        if (ffl_sampler_sample(c, l.data(), n_vocab, &tok, nullptr) != FFL_OK) break;
        ffl_sampler_accept(c, tok);
        out.push_back(tok);
    }
    return out;
}

void test_chain_determinism() {
    ffl_sampler *a = typical_chain(42), *b = typical_chain(42), *d = typical_chain(43);
    CHECK(ffl_sampler_chain_length(a) == 7);
    CHECK(std::string(ffl_sampler_chain_name(a, 1)) == "top-k");
    CHECK(ffl_sampler_chain_name(a, 7) == nullptr);
    std::vector<int32_t> ra = run(a, 1, 200), rb = run(b, 1, 200), rd = run(d, 1, 200);
    CHECK(ra.size() == 200);
    CHECK(ra == rb);
    CHECK(ra != rd);
    /* reset restarts the same sequence; a clone continues identically */
    CHECK(ffl_sampler_reset(a) == FFL_OK);
    CHECK(run(a, 1, 200) == ra);
    CHECK(ffl_sampler_reset(a) == FFL_OK);
    run(a, 5, 50);
    ffl_sampler *cl = nullptr;
    CHECK(ffl_sampler_clone(a, &cl) == FFL_OK);
    CHECK(run(a, 9, 100) == run(cl, 9, 100));
    /* set_seed (+ reset for the penalty history) makes a chain equal to one built with that seed */
    CHECK(ffl_sampler_set_seed(d, 42) == FFL_OK);
    CHECK(ffl_sampler_reset(d) == FFL_OK);
    CHECK(run(d, 1, 200) == ra);
    ffl_sampler_free(a);
    ffl_sampler_free(b);
    ffl_sampler_free(d);
    ffl_sampler_free(cl);
}

void test_dist_frequencies() {
    ffl_sampler *c = nullptr;
    ffl_sampler_chain_new(123, &c);
    ffl_sampler_chain_add_dist(c);
    const float l[4] = {logf(0.1f), logf(0.2f), logf(0.3f), logf(0.4f)};
    int counts[4] = {0, 0, 0, 0};
    const int n = 40000;
    for (int i = 0; i < n; i++) {
        int32_t t;
        ffl_sampler_sample(c, l, 4, &t, nullptr);
        counts[t]++;
    }
    for (int i = 0; i < 4; i++) CHECK_MSG(fabs(counts[i] / (double)n - 0.1 * (i + 1)) < 0.01, "token %d: %d", i, counts[i]);
    ffl_sampler_free(c);
}

void test_chain_behaviour() {
    const float l[5] = {1.0f, 3.0f, 2.0f, 0.5f, 2.5f};
    ffl_sampler *c = nullptr;
    int32_t tok = -1;
    float lp = 0;
    ffl_sampler_chain_new(1, &c);
    CHECK(ffl_sampler_sample(c, l, 5, &tok, nullptr) == FFL_ERR_STATE); /* empty chain */
    ffl_sampler_chain_add_top_k(c, 3);
    CHECK(ffl_sampler_sample(c, l, 5, &tok, nullptr) == FFL_ERR_STATE); /* nothing selects */
    ffl_sampler_chain_add_greedy(c);
    CHECK(ffl_sampler_sample(c, l, 5, &tok, &lp) == FFL_OK && tok == 1);
    /* log-probability under the final (top-3) distribution */
    double z = exp(3.0) + exp(2.5) + exp(2.0);
    CHECK(fabs(lp - (3.0 - log(z))) < 1e-5);
    CHECK(chain_internal(c)->last().size == 3);
    ffl_sampler_free(c);

    /* order matters: min_p before temperature sees the sharper distribution */
    ffl_sampler *a = nullptr, *b = nullptr;
    ffl_sampler_chain_new(1, &a);
    ffl_sampler_chain_add_min_p(a, 0.3f, 1);
    ffl_sampler_chain_add_temp(a, 3.0f);
    ffl_sampler_chain_add_dist(a);
    ffl_sampler_chain_new(1, &b);
    ffl_sampler_chain_add_temp(b, 3.0f);
    ffl_sampler_chain_add_min_p(b, 0.3f, 1);
    ffl_sampler_chain_add_dist(b);
    ffl_sampler_sample(a, l, 5, &tok, nullptr);
    ffl_sampler_sample(b, l, 5, &tok, nullptr);
    /* before: exp(l - 3) >= 0.3 <=> l >= 1.796 -> {3, 2.5, 2}; after T=3: l >= 3 + 3 ln 0.3 = -0.61 -> all 5 */
    CHECK(chain_internal(a)->last().size == 3);
    CHECK(chain_internal(b)->last().size == 5);
    ffl_sampler_free(a);
    ffl_sampler_free(b);

    /* logit bias -inf on the best token, then greedy */
    ffl_sampler_chain_new(1, &c);
    const int32_t ban = 1;
    const float minf = -INFINITY;
    CHECK(ffl_sampler_chain_add_logit_bias(c, 1, &ban, &minf) == FFL_OK);
    ffl_sampler_chain_add_greedy(c);
    CHECK(ffl_sampler_sample(c, l, 5, &tok, nullptr) == FFL_OK && tok == 4);
    ffl_sampler_free(c);

    /* prompt tokens feed the penalty history */
    ffl_sampler_chain_new(1, &c);
    ffl_sampler_chain_add_penalties(c, 16, 1.0f, 0.0f, 10.0f);
    ffl_sampler_chain_add_greedy(c);
    const int32_t prompt[2] = {1, 4};
    CHECK(ffl_sampler_accept_prompt(c, prompt, 2) == FFL_OK);
    CHECK(ffl_sampler_sample(c, l, 5, &tok, nullptr) == FFL_OK && tok == 2);
    CHECK(ffl_sampler_accept(c, 2) == FFL_OK);
    CHECK(ffl_sampler_sample(c, l, 5, &tok, nullptr) == FFL_OK && tok == 0);
    ffl_sampler_free(c);

    /* all logits -inf: an error, not a token */
    ffl_sampler_chain_new(1, &c);
    ffl_sampler_chain_add_dist(c);
    const float dead[3] = {-INFINITY, -INFINITY, -INFINITY};
    CHECK(ffl_sampler_sample(c, dead, 3, &tok, nullptr) == FFL_ERR_STATE);
    const float nan3[3] = {NAN, 1.0f, NAN};
    CHECK(ffl_sampler_sample(c, nan3, 3, &tok, nullptr) == FFL_OK && tok == 1);
    ffl_sampler_free(c);

    /* mirostat v2 through the API selects a token */
    ffl_sampler_chain_new(1, &c);
    CHECK(ffl_sampler_chain_add_mirostat_v2(c, 5.0f, 0.1f) == FFL_OK);
    std::vector<int32_t> r = run(c, 3, 50);
    CHECK(r.size() == 50);
    ffl_sampler_free(c);

    /* bad arguments */
    ffl_sampler *x = nullptr;
    CHECK(ffl_sampler_chain_new(1, nullptr) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_sampler_chain_add_greedy(nullptr) == FFL_ERR_INVALID_ARGUMENT);
    ffl_sampler_chain_new(1, &x);
    CHECK(ffl_sampler_chain_add_penalties(x, -1, 1.1f, 0, 0) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_sampler_chain_add_top_p(x, NAN, 1) == FFL_ERR_INVALID_ARGUMENT);
    const int32_t badtok = -5;
    const float one = 1.0f;
    CHECK(ffl_sampler_chain_add_logit_bias(x, 1, &badtok, &one) == FFL_ERR_OUT_OF_RANGE);
    ffl_sampler_chain_add_greedy(x);
    CHECK(ffl_sampler_sample(x, nullptr, 5, &tok, nullptr) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_sampler_sample(x, l, 0, &tok, nullptr) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_sampler_accept(x, -1) == FFL_ERR_OUT_OF_RANGE);
    CHECK(ffl_sampler_accept(x, 1 << 30) == FFL_ERR_OUT_OF_RANGE);
    CHECK(ffl_sampler_accept_prompt(x, nullptr, 3) == FFL_ERR_INVALID_ARGUMENT);
    ffl_sampler_free(x);
    ffl_sampler_free(nullptr);
}

} // namespace

int main() {
    test_temperature();
    test_top_k();
    test_top_p();
    test_min_p();
    test_typical();
    test_xtc();
    test_penalties();
    test_dry();
    test_logit_bias();
    test_mirostat();
    test_chain_determinism();
    test_dist_frequencies();
    test_chain_behaviour();
    return test_finish("test_samplers");
}
