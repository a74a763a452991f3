/* Grammars and DRY with real vocabularies (llama-spm: 32000 tokens, gpt-2: 50257): fixed word
 * lists, JSON Schema generations that parse and validate, partial UTF-8 byte tokens, EOG, and
 * the masking time per token (printed, not asserted). */
#include "test_util.h"

#include "json_check.h"

#include "fflama.h"
#include "sample/grammar.h"
#include "sample/sample_api_internal.h"
#include "sample/sampler.h"

#include <algorithm>
#include <ctime>
#include <cmath>
#include <set>
#include <string>
#include <vector>

using namespace ffl_sample;

namespace {

std::string vocab_file(const char *name) {
    return std::string(testdata_dir()) + "/vocab/ggml-vocab-" + name + ".gguf";
}

std::string piece(const ffl_vocab *v, int32_t t) {
    char buf[256];
    int32_t n = ffl_vocab_token_piece(v, t, buf, sizeof buf, 0);
    return n > 0 && n <= (int32_t)sizeof buf ? std::string(buf, (size_t)n) : std::string();
}

int32_t eos_of(const ffl_vocab *v) {
    int32_t eos = ffl_vocab_special_token(v, FFL_TOKEN_EOS);
    return eos >= 0 ? eos : ffl_vocab_special_token(v, FFL_TOKEN_EOT);
}

/* Samples with random logits until EOG; text gets the pieces. */
bool generate(ffl_sampler *c, const ffl_vocab *v, Rng &rng, int max_steps, std::string &text, int &steps) {
    const int32_t n = ffl_vocab_n_tokens(v);
    std::vector<float> l((size_t)n);
    text.clear();
    for (steps = 0; steps < max_steps; steps++) {
        for (auto &x : l) x = (float)(rng.uniform() * 6.0 - 3.0);
        int32_t tok = -1;
        if (ffl_sampler_sample(c, l.data(), n, &tok, nullptr) != FFL_OK) {
            fprintf(stderr, "sample failed: %s\n", ffl_last_error());
            return false;
        }
        if (ffl_sampler_accept(c, tok) != FFL_OK) return false;
        if (ffl_vocab_is_eog(v, tok)) return true;
        text += piece(v, tok);
    }
    return false;
}

bool is_word_list(const std::string &text, const std::set<std::string> &words) {
    size_t pos = 0;
    int count = 0;
    for (;;) {
        size_t end = text.find(',', pos);
        std::string w = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
        if (count > 0 && !w.empty() && w[0] == ' ') w.erase(0, 1);
        if (!words.count(w)) return false;
        count++;
        if (end == std::string::npos) break;
        pos = end + 1;
    }
    return count >= 1 && count <= 3;
}

void test_fixed_words(const char *name, const ffl_vocab *v) {
    const std::set<std::string> words = {"cat", "dog", "bird", "horse"};
    const char *grammar =
        "root ::= word (\",\" \" \"? word){0,2}\n"
        "word ::= \"cat\" | \"dog\" | \"bird\" | \"horse\"\n";
    ffl_sampler *c = nullptr;
    CHECK(ffl_sampler_chain_new(11, &c) == FFL_OK);
    CHECK(ffl_sampler_chain_add_grammar(c, v, grammar, nullptr) == FFL_OK);
    CHECK(ffl_sampler_chain_add_dist(c) == FFL_OK);
    Rng rng(3);
    int good = 0;
    std::set<std::string> seen;
    for (int run = 0; run < 60; run++) {
        ffl_sampler_reset(c);
        std::string text;
        int steps;
        bool ended = generate(c, v, rng, 40, text, steps);
        bool ok = ended && is_word_list(text, words);
        CHECK_MSG(ok, "%s: run %d produced '%s' (ended %d)", name, run, text.c_str(), ended);
        good += ok;
        seen.insert(text);
    }
    CHECK(good == 60);
    CHECK(seen.size() >= 20);
    /* syntax errors come back with a position, and the chain is unchanged */
    int32_t len = ffl_sampler_chain_length(c);
    CHECK(ffl_sampler_chain_add_grammar(c, v, "root ::= \"a\"\nx ::= (\"b\"", nullptr) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(std::string(ffl_last_error()) == "grammar: 2:11: expecting ')'");
    CHECK(ffl_sampler_chain_length(c) == len);
    CHECK(ffl_sampler_chain_add_grammar(c, nullptr, grammar, nullptr) == FFL_ERR_INVALID_ARGUMENT);
    ffl_sampler_free(c);
}

const char *kSchema = R"({
  "type": "object",
  "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 16},
    "age": {"type": "integer", "minimum": 0},
    "score": {"type": "number"},
    "active": {"type": "boolean"},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 8}, "maxItems": 3},
    "kind": {"enum": ["cat", "dog", 3, null]},
    "home": {"$ref": "#/$defs/place"},
    "nick": {"anyOf": [{"type": "string", "maxLength": 6}, {"type": "null"}]}
  },
  "required": ["name", "age", "kind"],
  "$defs": {
    "place": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 10}, "zip": {"type": "string", "minLength": 5, "maxLength": 5}}, "required": ["city"]}
  }
})";

/* CPU time of this thread: the machine is shared, wall time would count other processes. */
double thread_ms() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct Timing {
    std::vector<double> ms;
    double avg() const {
        double s = 0;
        for (double x : ms) s += x;
        return ms.empty() ? 0 : s / (double)ms.size();
    }
    double pct(double q) {
        if (ms.empty()) return 0;
        std::sort(ms.begin(), ms.end());
        return ms[std::min(ms.size() - 1, (size_t)(q * (double)ms.size()))];
    }
};

void test_json_schema(const char *name, const ffl_vocab *v) {
    int64_t len = 0;
    ffl_json_schema_to_grammar(kSchema, nullptr, 0, &len);
    std::string grammar((size_t)len + 1, '\0');
    CHECK(ffl_json_schema_to_grammar(kSchema, &grammar[0], len + 1, &len) == FFL_OK);
    grammar.resize((size_t)len);
    ffl_sampler *c = nullptr;
    CHECK(ffl_sampler_chain_new(99, &c) == FFL_OK);
    CHECK(ffl_sampler_chain_add_grammar(c, v, grammar.c_str(), "root") == FFL_OK);
    CHECK(ffl_sampler_chain_add_temp(c, 1.0f) == FFL_OK);
    CHECK(ffl_sampler_chain_add_dist(c) == FFL_OK);
    jc::Value schema;
    CHECK(jc::Reader(kSchema).read(schema));

    /* a table and trie like the sampler's, to time the mask alone in the same states */
    std::shared_ptr<TokenTable> table;
    CHECK(token_table_from_vocab(v, 0, table) == FFL_OK);
    TokenTrie trie;
    double t0 = thread_ms();
    trie.build(*table);
    double trie_ms = thread_ms() - t0;
    std::vector<uint8_t> allowed(table->pieces.size());
    Timing cold, warm;
    /* a fresh matcher: empty memo tables */
    double fresh_ms;
    {
        auto g = std::make_shared<Grammar>();
        std::string err;
        CHECK(parse_gbnf(grammar.data(), grammar.size(), "root", *g, err) == FFL_OK);
        Matcher fresh(g);
        double a = thread_ms();
        fresh.allowed_tokens(*table, trie, allowed.data());
        fresh_ms = thread_ms() - a;
    }

    Rng rng(2025);
    int valid = 0, total_steps = 0;
    std::set<std::string> distinct;
    for (int run = 0; run < 50; run++) {
        ffl_sampler_reset(c);
        Matcher *m = grammar_matcher(chain_internal(c)->at(0));
        CHECK(m != nullptr);
        if (!m) break;
        const int32_t n = ffl_vocab_n_tokens(v);
        std::vector<float> l((size_t)n);
        std::string text;
        bool ended = false;
        int steps = 0;
        for (; steps < 400 && !ended; steps++) {
            /* the mask twice in this state: first may fill memo tables, second is steady state */
            for (int pass = 0; pass < 2; pass++) {
                double a = thread_ms();
                m->allowed_tokens(*table, trie, allowed.data());
                (pass == 0 ? cold : warm).ms.push_back(thread_ms() - a);
            }
            for (auto &x : l) x = (float)(rng.uniform() * 6.0 - 3.0);
            int32_t tok = -1;
            if (ffl_sampler_sample(c, l.data(), n, &tok, nullptr) != FFL_OK) {
                fprintf(stderr, "sample failed: %s\n", ffl_last_error());
                break;
            }
            CHECK(allowed[tok]);
            if (ffl_sampler_accept(c, tok) != FFL_OK) break;
            if (ffl_vocab_is_eog(v, tok)) {
                ended = true;
            } else {
                text += piece(v, tok);
            }
        }
        total_steps += steps;
        jc::Value val;
        std::string why;
        bool ok = ended && jc::Reader(text).read(val) && jc::validate(val, schema, schema, why);
        CHECK_MSG(ok, "%s: run %d (ended %d, %d steps): %s -> %s", name, run, ended, steps, text.c_str(), why.c_str());
        valid += ok;
        distinct.insert(text);
    }
    CHECK(valid == 50);
    CHECK(distinct.size() >= 45);
    printf("%s: %zu tokens, trie of %zu nodes built in %.1f ms; first mask of a new grammar %.3f ms; 50 JSON generations, %d tokens; mask per token "
           "(thread CPU ms): first visit avg %.3f p50 %.3f p99 %.3f max %.3f; memoised avg %.3f p50 %.3f p99 %.3f max %.3f\n",
           name, table->pieces.size(), trie.byte.size(), trie_ms, fresh_ms, total_steps, cold.avg(), cold.pct(0.5), cold.pct(0.99),
           cold.pct(1.0), warm.avg(), warm.pct(0.5), warm.pct(0.99), warm.pct(1.0));
    ffl_sampler_free(c);
}

/* Byte tokens of a byte-level vocabulary end inside characters; EOG only at the end. */
void test_partial_bytes(const ffl_vocab *v) {
    const int32_t n = ffl_vocab_n_tokens(v);
    int32_t c3 = -1, a9 = -1, e_acute = -1, ascii_e = -1;
    for (int32_t t = 0; t < n; t++) {
        std::string p = piece(v, t);
        if (p == "\xC3") c3 = t;
        if (p == "\xA9") a9 = t;
        if (p == "\xC3\xA9") e_acute = t;
        if (p == "e") ascii_e = t;
    }
    CHECK(c3 >= 0 && a9 >= 0 && e_acute >= 0 && ascii_e >= 0);
    std::shared_ptr<TokenTable> table;
    CHECK(token_table_from_vocab(v, 0, table) == FFL_OK);
    TokenTrie trie;
    trie.build(*table);
    auto g = std::make_shared<Grammar>();
    std::string err;
    const char *text = "root ::= \"\xC3\xA9\"+ \"!\"";
    CHECK(parse_gbnf(text, strlen(text), "root", *g, err) == FFL_OK);
    Matcher m(g);
    std::vector<uint8_t> allowed((size_t)n);
    m.allowed_tokens(*table, trie, allowed.data());
    CHECK(allowed[c3] && allowed[e_acute] && !allowed[a9] && !allowed[ascii_e]);
    const int32_t eos = eos_of(v);
    CHECK(eos >= 0 && !allowed[eos]);
    CHECK(m.accept_token(*table, c3));
    m.allowed_tokens(*table, trie, allowed.data());
    int count = 0;
    for (int32_t t = 0; t < n; t++) count += allowed[t];
    CHECK_MSG(count == 1 && allowed[a9], "after a lead byte %d tokens are allowed", count);
    CHECK(m.accept_token(*table, a9));
    m.allowed_tokens(*table, trie, allowed.data());
    CHECK(allowed[c3] && allowed[e_acute] && !allowed[eos]);
    int32_t bang = -1;
    for (int32_t t = 0; t < n && bang < 0; t++)
        if (piece(v, t) == "!") bang = t;
    CHECK(bang >= 0 && allowed[bang]);
    CHECK(m.accept_token(*table, bang));
    m.allowed_tokens(*table, trie, allowed.data());
    count = 0;
    for (int32_t t = 0; t < n; t++) count += allowed[t];
    CHECK(allowed[eos] && count == 1);
}

std::vector<int32_t> tokenize(const ffl_vocab *v, const std::string &s) {
    std::vector<int32_t> t(s.size() + 8);
    int32_t n = ffl_tokenize(v, s.data(), (int64_t)s.size(), t.data(), (int32_t)t.size(), 0);
    t.resize(n > 0 ? (size_t)n : 0);
    return t;
}

/* DRY with breakers from strings: "\n" inside a repeat stops it. */
void test_dry_breakers(const ffl_vocab *v) {
    const int32_t n = ffl_vocab_n_tokens(v);
    std::vector<int32_t> x = tokenize(v, "x"), nl = tokenize(v, "\n"), y = tokenize(v, "y");
    CHECK(x.size() == 1 && nl.size() == 1 && y.size() == 1);
    if (x.size() != 1 || nl.size() != 1 || y.size() != 1) return;
    const std::vector<int32_t> history = {x[0], nl[0], y[0], x[0], nl[0], y[0]};
    const char *breakers[] = {"\n", ":", "\"", "*"};
    std::vector<float> logits((size_t)n, 0.0f);
    for (int with_breakers = 0; with_breakers < 2; with_breakers++) {
        ffl_sampler *c = nullptr;
        ffl_sampler_chain_new(1, &c);
        CHECK(ffl_sampler_chain_add_dry(c, v, 4096, 0.8f, 1.75f, 2, -1, with_breakers ? breakers : nullptr,
                                        with_breakers ? 4 : 0) == FFL_OK);
        ffl_sampler_chain_add_greedy(c);
        CHECK(ffl_sampler_accept_prompt(c, history.data(), (int32_t)history.size()) == FFL_OK);
        int32_t tok;
        CHECK(ffl_sampler_sample(c, logits.data(), n, &tok, nullptr) == FFL_OK);
        const Candidates &cand = chain_internal(c)->last();
        float lx = 0.0f;
        for (size_t i = 0; i < cand.size; i++)
            if (cand.data[i].id == x[0]) lx = cand.data[i].logit;
        /* without breakers "x \n y" repeats (length 3): x gets 0.8 * 1.75^(3-2) */
        if (with_breakers) {
            CHECK_MSG(lx == 0.0f, "x penalised by %f despite the breaker", lx);
        } else {
            CHECK_MSG(fabsf(lx + 0.8f * 1.75f) < 1e-5f, "x logit %f", lx);
        }
        ffl_sampler_free(c);
    }
    ffl_sampler *c = nullptr;
    ffl_sampler_chain_new(1, &c);
    CHECK(ffl_sampler_chain_add_dry(c, nullptr, 4096, 0.8f, 1.75f, 2, -1, breakers, 4) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_sampler_chain_add_dry(c, v, 0, 0.8f, 1.75f, 2, -1, nullptr, 0) == FFL_ERR_INVALID_ARGUMENT);
    ffl_sampler_free(c);
}

} // namespace

int main() {
    for (const char *name : {"llama-spm", "gpt-2"}) {
        ffl_vocab *v = nullptr;
        int32_t rc = ffl_vocab_load(vocab_file(name).c_str(), &v);
        CHECK_MSG(rc == FFL_OK, "%s: %s", name, ffl_last_error());
        if (rc != FFL_OK) continue;
        test_fixed_words(name, v);
        test_json_schema(name, v);
        if (std::string(name) == "gpt-2") {
            /* byte-level BPE: "x", "\n" and "y" are single tokens, and every byte is a token */
            test_dry_breakers(v);
            test_partial_bytes(v);
        }
        ffl_vocab_free(v);
    }
    return test_finish("test_grammar_vocab");
}
