/* GBNF: parse errors with positions, matching strings, partial UTF-8 tokens, EOG, masking
 * through the trie against the token-by-token check, and constrained sampling. */
#include "test_util.h"

#include "fflama.h"
#include "sample/grammar.h"
#include "sample/sample_api_internal.h"
#include "sample/sampler.h"

#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <vector>

using namespace ffl_sample;

namespace {

std::shared_ptr<Grammar> parse(const std::string &text, std::string *err = nullptr, const char *root = "root") {
    auto g = std::make_shared<Grammar>();
    std::string e;
    int32_t rc = parse_gbnf(text.data(), text.size(), root, *g, e);
    if (err) *err = e;
    return rc == FFL_OK ? g : nullptr;
}

/* The error message of a grammar that must fail, "" if it parsed. */
std::string parse_error(const std::string &text) {
    std::string e;
    return parse(text, &e) ? std::string() : e;
}

bool starts_with(const std::string &s, const std::string &p) { return s.compare(0, p.size(), p) == 0; }

/* Does the grammar accept the whole text? (prefix = only check it can continue) */
bool accepts(const std::shared_ptr<Grammar> &g, const std::string &text, bool prefix = false) {
    Matcher m(g);
    Matcher::State s = m.state();
    if (!m.step_bytes(s, (const uint8_t *)text.data(), text.size())) return false;
    return prefix ? m.partial_viable(s) : m.can_end(s);
}

void test_parse_errors() {
    struct Case {
        const char *text;
        const char *where_what;
    } cases[] = {
        {"root ::= foo", "1:10: undefined rule 'foo'"},
        {"root ::= \"abc", "1:10: unterminated string literal"},
        {"root ::= [a-", "1:10: unterminated character class"},
        {"root ::= \"a\"\n  ::= \"b\"", "2:3: expecting a rule name"},
        {"root ::= \"\\q\"", "1:11: unknown escape"},
        {"root ::= (\"a\" ", "1:15: expecting ')'"},
        {"root ::= \"a\"{3,1}", "1:13: repetition maximum is below its minimum"},
        {"root ::= \"a\"{2001}", "1:13: too many repetitions"},
        {"root ::= *", "1:10: expecting an item before the repetition operator"},
        {"root ::= \"a\" ::= \"b\"", "1:14: expecting newline or end of input"},
        {"root = \"a\"", "1:6: expecting '::='"},
        {"root ::= [z-a]", "1:12: character range is reversed"},
        {"root ::= \"\\x4\"", "1:11: expecting 2 hex digits"},
        {"root ::= \"a\"\nroot ::= \"b\"", "2:1: rule 'root' is defined twice"},
        {"other ::= \"a\"", "the grammar has no rule named 'root'"},
        {"root ::= expr\nexpr ::= expr \"+\" term | term\nterm ::= [0-9]", "2:1: left recursion in rule 'expr'"},
        {"root ::= a\na ::= b \"x\"\nb ::= a | \"y\"", "left recursion in rule"},
        /* recursion through a nullable prefix is left recursion too */
        {"root ::= n root \"x\" | \"y\"\nn ::= \"\" | \"z\"", "1:1: left recursion in rule 'root'"},
        /* repeating something that matches nothing would loop forever */
        {"root ::= (\"a\"?)* \"b\"", "left recursion"},
    };
    for (const auto &c : cases) {
        std::string e = parse_error(c.text);
        bool ok = !e.empty() && e.find(c.where_what) != std::string::npos;
        CHECK_MSG(ok, "grammar %s: got '%s', want '%s'", c.text, e.c_str(), c.where_what);
    }
    /* the public validator reports through ffl_last_error */
    CHECK(ffl_grammar_validate("root ::= \"a\" bad", nullptr) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(std::string(ffl_last_error()) == "grammar: 1:14: undefined rule 'bad'");
    CHECK(ffl_grammar_validate("root ::= [a-z]+ # comment\n", nullptr) == FFL_OK);
    CHECK(ffl_grammar_validate("start ::= \"x\"", "start") == FFL_OK);
    CHECK(ffl_grammar_validate(nullptr, nullptr) == FFL_ERR_INVALID_ARGUMENT);
}

void test_matching() {
    auto g = parse("root ::= \"cat\" | \"dog\" | \"bird\"");
    CHECK(g && accepts(g, "cat") && accepts(g, "dog") && accepts(g, "bird"));
    CHECK(!accepts(g, "ca") && accepts(g, "ca", true) && !accepts(g, "cow", true) && !accepts(g, "cats"));

    g = parse("root ::= [a-c]+ [^a-z] \".\"? x{2} y{1,} z{0,2} w{2,3}\n"
              "x ::= \"x\"\ny ::= \"y\"\nz ::= \"z\"\nw ::= \"w\"");
    CHECK(g != nullptr);
    CHECK(accepts(g, "abc9xxyww") && accepts(g, "a!.xxyyyzzwww"));
    CHECK(!accepts(g, "abcdxxyww") && !accepts(g, "a9xyww") && !accepts(g, "a9xxww") && !accepts(g, "a9xxyzzzww") &&
          !accepts(g, "a9xxywwww") && !accepts(g, "a9xxyw"));

    /* escapes, any char, UTF-8 literals and classes */
    g = parse("root ::= \"\\x41\\u00e9\\U0001F600\\t\\n\\\\\\\"\" . [\\u0400-\\u04FF] \"ü\" [^\\x00-\\x7F]");
    CHECK(g != nullptr);
    CHECK(accepts(g, "A\xC3\xA9\xF0\x9F\x98\x80\t\n\\\"?\xD0\x96\xC3\xBC\xE2\x82\xAC"));
    CHECK(!accepts(g, "A\xC3\xA9\xF0\x9F\x98\x80\t\n\\\"?Z\xC3\xBC\xE2\x82\xAC"));
    CHECK(!accepts(g, "A\xC3\xA9\xF0\x9F\x98\x80\t\n\\\"?\xD0\x96\xC3\xBCz"));

    /* recursion: balanced parentheses; groups spanning lines; comments */
    g = parse("# balanced\nroot ::= (\n  \"(\" root \")\"  # nest\n) root | \"\"\n");
    CHECK(g != nullptr);
    CHECK(accepts(g, "") && accepts(g, "()") && accepts(g, "(())()") && !accepts(g, "(()") && !accepts(g, ")("));
    CHECK(accepts(g, "((", true));

    /* a JSON grammar in the style of llama.cpp's examples */
    const char *json =
        "root   ::= object\n"
        "value  ::= object | array | string | number | (\"true\" | \"false\" | \"null\") ws\n"
        "object ::= \"{\" ws ( string \":\" ws value (\",\" ws string \":\" ws value)* )? \"}\" ws\n"
        "array  ::= \"[\" ws ( value (\",\" ws value)* )? \"]\" ws\n"
        "string ::= \"\\\"\" ( [^\"\\\\\\x7F\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4}) )* \"\\\"\" ws\n"
        "number ::= (\"-\"? ([0-9] | [1-9] [0-9]{0,15})) (\".\" [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws\n"
        "ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n";
    g = parse(json);
    CHECK(g != nullptr);
    CHECK(accepts(g, "{\"a\": [1, 2.5, -3e+4, true, null, {\"b\": \"x\\u00e9\\n\"}]}"));
    CHECK(!accepts(g, "{\"a\": [1, 2.5,]}") && !accepts(g, "{\"a\" 1}") && !accepts(g, "[1]"));

    /* a non-default root */
    std::string e;
    g = parse("greeting ::= \"hi\" | \"hello\"", &e, "greeting");
    CHECK(g && accepts(g, "hello"));

    /* the grammar printer round-trips */
    g = parse(json);
    auto g2 = parse(grammar_to_text(*g));
    CHECK(g2 && accepts(g2, "{\"k\": [true, {\"z\": -0.5}]}") && !accepts(g2, "{\"k\" :: 1}"));
}

std::shared_ptr<TokenTable> make_table(const std::vector<std::string> &pieces, const std::vector<int32_t> &eog = {}) {
    auto t = std::make_shared<TokenTable>();
    t->pieces = pieces;
    t->is_eog.assign(pieces.size(), 0);
    for (int32_t e : eog) t->is_eog[e] = 1;
    return t;
}

std::vector<int32_t> allowed_by_trie(Matcher &m, const TokenTable &table) {
    TokenTrie trie;
    trie.build(table);
    std::vector<uint8_t> a(table.pieces.size());
    m.allowed_tokens(table, trie, a.data());
    std::vector<int32_t> out;
    for (size_t i = 0; i < a.size(); i++)
        if (a[i]) out.push_back((int32_t)i);
    return out;
}

std::vector<int32_t> allowed_one_by_one(Matcher &m, const TokenTable &table) {
    std::vector<int32_t> out;
    for (int32_t t = 0; t < table.size(); t++)
        if (m.token_allowed(table, t)) out.push_back(t);
    return out;
}

void test_partial_utf8_and_eog() {
    /* é = C3 A9, € = E2 82 AC, 😀 = F0 9F 98 80 */
    auto table = make_table({"\xC3", "\xA9", "\xC3\xA9", "a", "\xE2\x82", "\xAC", "\xF0\x9F", "\x98\x80", "", "ab", "\xC2",
                             "\xFF", "b"},
                            {8});
    const int EOG = 8;
    auto g = parse("root ::= \"\xC3\xA9\" \"\xE2\x82\xAC\" \"\xF0\x9F\x98\x80\"");
    Matcher m(g);
    CHECK(allowed_by_trie(m, *table) == std::vector<int32_t>({0, 2}));
    CHECK(allowed_one_by_one(m, *table) == std::vector<int32_t>({0, 2}));
    CHECK(m.accept_token(*table, 0));           /* half of é */
    CHECK(allowed_by_trie(m, *table) == std::vector<int32_t>({1}));
    CHECK(!m.accept_token(*table, 3));          /* 'a' cannot finish é */
    CHECK(m.accept_token(*table, 1));
    CHECK(allowed_by_trie(m, *table) == std::vector<int32_t>({4}));
    CHECK(m.accept_token(*table, 4));
    CHECK(m.accept_token(*table, 5));
    CHECK(m.accept_token(*table, 6));
    CHECK(!m.token_allowed(*table, EOG));       /* in the middle of the emoji */
    CHECK(m.accept_token(*table, 7));
    CHECK(allowed_by_trie(m, *table) == std::vector<int32_t>({EOG}));
    CHECK(m.token_allowed(*table, EOG) && m.accept_token(*table, EOG));

    /* classes and partial characters: C3 can start U+00C0..U+00FF, C2 only U+0080..U+00BF */
    Matcher mr(parse("root ::= [\\u00e0-\\u00ff]"));
    CHECK(allowed_by_trie(mr, *table) == std::vector<int32_t>({0, 2}));
    Matcher ml(parse("root ::= [a-z]+"));
    CHECK(allowed_by_trie(ml, *table) == std::vector<int32_t>({3, 9, 12}));
    Matcher mn(parse("root ::= [^a]"));
    /* any character but 'a': every valid start (not the lone continuation bytes, not 0xFF) */
    CHECK(allowed_by_trie(mn, *table) == std::vector<int32_t>({0, 2, 4, 6, 10, 12}));
    Matcher many(parse("root ::= .*"));
    CHECK(allowed_by_trie(many, *table) == std::vector<int32_t>({0, 2, 3, 4, 6, 8, 9, 10, 12}));

    /* EOG only where the grammar may end */
    Matcher me(parse("root ::= \"a\" | \"ab\""));
    CHECK(allowed_by_trie(me, *table) == std::vector<int32_t>({3, 9}));
    CHECK(me.accept_token(*table, 3));
    CHECK(allowed_by_trie(me, *table) == std::vector<int32_t>({EOG, 12}));
    CHECK(me.accept_token(*table, 12));
    CHECK(allowed_by_trie(me, *table) == std::vector<int32_t>({EOG}));
    CHECK(!me.accept_token(*table, 12));
}

/* The trie walk and the one-token check must agree in every state of a random walk over
 * random byte strings (valid and invalid UTF-8). */
void test_trie_matches_per_token() {
    Rng rng(99);
    std::vector<std::string> pieces;
    const char *alphabet[] = {"a", "b", "{", "}", "\"", ":", ",", " ", "1", "-", "\xC3", "\xA9", "\xE2\x82\xAC", "\xF0",
                              "\x9F\x98\x80", "\x80", "x", "\\", "n"};
    const size_t na = sizeof alphabet / sizeof *alphabet;
    for (int i = 0; i < 3000; i++) {
        std::string p;
        int len = 1 + (int)(rng.next() % 5);
        for (int k = 0; k < len; k++) p += alphabet[rng.next() % na];
        pieces.push_back(p);
    }
    pieces.push_back("");
    auto table = make_table(pieces, {(int32_t)pieces.size() - 1});
    auto g = parse(
        "root ::= \"{\" ws (pair (\",\" ws pair)*)? \"}\"\n"
        "pair ::= str \":\" ws (str | num)\n"
        "str ::= \"\\\"\" ([^\"\\\\] | \"\\\\\" [\"n\\\\])* \"\\\"\" ws\n"
        "num ::= \"-\"? [0-9]+ ws\nws ::= \" \"?");
    CHECK(g != nullptr);
    TokenTrie trie;
    trie.build(*table);
    int agree = 0, steps = 0;
    for (int walk = 0; walk < 20; walk++) {
        Matcher m(g);
        for (int step = 0; step < 40; step++) {
            std::vector<uint8_t> a(pieces.size());
            m.allowed_tokens(*table, trie, a.data());
            std::vector<int32_t> by_trie, single;
            for (size_t i = 0; i < a.size(); i++)
                if (a[i]) by_trie.push_back((int32_t)i);
            single = allowed_one_by_one(m, *table);
            steps++;
            if (by_trie == single) agree++;
            std::vector<int32_t> choices;
            for (int32_t t : by_trie)
                if (!table->is_eog[t]) choices.push_back(t);
            if (choices.empty()) break;
            CHECK(m.accept_token(*table, choices[rng.next() % choices.size()]));
        }
    }
    CHECK_MSG(agree == steps, "%d of %d states agree", agree, steps);

    /* dropping the memo tables mid-walk changes nothing */
    Matcher a(g), b(g);
    int same = 0, n = 0;
    for (int step = 0; step < 60; step++) {
        b.maybe_compact(1, 1);
        CHECK(b.memo_sets() <= 1);
        std::vector<uint8_t> ma(pieces.size()), mb(pieces.size());
        a.allowed_tokens(*table, trie, ma.data());
        b.allowed_tokens(*table, trie, mb.data());
        n++;
        same += ma == mb;
        std::vector<int32_t> choices;
        for (size_t i = 0; i < ma.size(); i++)
            if (ma[i] && !table->is_eog[i]) choices.push_back((int32_t)i);
        if (choices.empty()) break;
        int32_t t = choices[rng.next() % choices.size()];
        CHECK(a.accept_token(*table, t) && b.accept_token(*table, t));
    }
    CHECK_MSG(same == n, "%d of %d masks equal after compaction", same, n);
}

/* Words from a table of letters and letter pairs: sampling with random logits only ever
 * spells the grammar's words, and stops with EOG right after one. */
void test_sampling_fixed_words() {
    std::vector<std::string> pieces;
    for (char a = 'a'; a <= 'z'; a++) pieces.push_back(std::string(1, a));
    for (char a = 'a'; a <= 'z'; a++)
        for (char b = 'a'; b <= 'z'; b++) pieces.push_back(std::string(1, a) + b);
    pieces.push_back(" ");
    pieces.push_back("</s>");
    const int32_t eog = (int32_t)pieces.size() - 1;
    auto table = make_table(pieces, {eog});
    const std::set<std::string> words = {"cat", "dog", "bird", "horse"};
    ffl_sampler *c = nullptr;
    CHECK(ffl_sampler_chain_new(5, &c) == FFL_OK);
    CHECK(chain_add_grammar_table(c, table, nullptr, "root ::= (\"cat\" | \"dog\" | \"bird\" | \"horse\")", nullptr) == FFL_OK);
    CHECK(ffl_sampler_chain_add_dist(c) == FFL_OK);
    Rng rng(17);
    std::set<std::string> seen;
    bool all_ok = true;
    for (int run = 0; run < 200; run++) {
        ffl_sampler_reset(c);
        std::string text;
        bool ended = false;
        for (int step = 0; step < 10 && !ended; step++) {
            std::vector<float> l(pieces.size());
            for (auto &x : l) x = (float)(rng.uniform() * 6.0 - 3.0);
            int32_t tok = -1;
            if (ffl_sampler_sample(c, l.data(), (int32_t)l.size(), &tok, nullptr) != FFL_OK) break;
            CHECK(ffl_sampler_accept(c, tok) == FFL_OK);
            if (tok == eog) {
                ended = true;
            } else {
                text += pieces[tok];
            }
        }
        if (!ended || !words.count(text)) all_ok = false;
        seen.insert(text);
    }
    CHECK(all_ok);
    CHECK(seen == words);
    /* accepting a token the grammar forbids fails and changes nothing */
    ffl_sampler_reset(c);
    CHECK(ffl_sampler_accept(c, 0) == FFL_ERR_INVALID_ARGUMENT); /* "a" */
    CHECK(ffl_sampler_accept(c, eog) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_sampler_accept(c, 2) == FFL_OK);                   /* "c" */
    /* a grammar that can only continue with tokens the logits ban: error, not a token */
    std::vector<float> l(pieces.size(), 0.0f);
    for (size_t i = 0; i < 26; i++) l[i] = -INFINITY;
    l[26 + 0] = -INFINITY; /* "aa" */
    for (size_t i = 26; i < 26 + 26 * 26; i++) l[i] = -INFINITY;
    int32_t tok;
    CHECK(ffl_sampler_sample(c, l.data(), (int32_t)l.size(), &tok, nullptr) == FFL_ERR_STATE);
    /* with logits for more tokens than the vocabulary has, the extra ones are masked */
    std::vector<float> wide(pieces.size() + 10, 0.0f);
    wide[pieces.size() + 3] = 100.0f;
    CHECK(ffl_sampler_sample(c, wide.data(), (int32_t)wide.size(), &tok, nullptr) == FFL_OK && tok < (int32_t)pieces.size());
    /* a clone carries the grammar position */
    ffl_sampler *cl = nullptr;
    CHECK(ffl_sampler_clone(c, &cl) == FFL_OK);
    CHECK(ffl_sampler_accept(cl, 0) == FFL_OK); /* "ca" */
    CHECK(ffl_sampler_accept(c, 0) == FFL_OK);
    ffl_sampler_free(cl);
    ffl_sampler_free(c);
}

} // namespace

int main() {
    test_parse_errors();
    test_matching();
    test_partial_utf8_and_eog();
    test_trie_matches_per_token();
    test_sampling_fixed_words();
    return test_finish("test_grammar");
}
