/* Hostile input: mutated grammars and schemas never crash; every grammar the schema
 * converter emits is valid GBNF; grammars that parse can be matched and masked. */
#include "test_util.h"

#include "fflama.h"
#include "sample/grammar.h"
#include "sample/sampler.h"

#include <memory>
#include <string>
#include <vector>

using namespace ffl_sample;

namespace {

const char *kGrammars[] = {
    "root ::= \"cat\" | \"dog\"",
    "root ::= [a-c]+ [^a-z] \".\"? x{2} y{1,} z{0,2}\nx ::= \"x\"\ny ::= \"y\"\nz ::= \"z\"",
    "root ::= \"\\x41\\u00e9\\U0001F600\\t\" . [\\u0400-\\u04FF] \"\xC3\xBC\" [^\\x00-\\x7F]",
    "root ::= (\"(\" root \")\") root | \"\"",
    "root ::= object\nvalue ::= object | array | string | (\"true\" | \"null\") ws\n"
    "object ::= \"{\" ws ( string \":\" ws value (\",\" ws string \":\" ws value)* )? \"}\" ws\n"
    "array ::= \"[\" ws ( value (\",\" ws value)* )? \"]\" ws\n"
    "string ::= \"\\\"\" ( [^\"\\\\] | \"\\\\\" [\"n] )* \"\\\"\" ws\nws ::= | \" \" | \"\\n\" [ \\t]{0,20}",
};

const char *kSchemas[] = {
    "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\", \"maxLength\": 3}, \"b\": {\"type\": \"array\", "
    "\"items\": {\"enum\": [1, \"x\", null]}, \"minItems\": 1, \"maxItems\": 4}}, \"required\": [\"a\"], "
    "\"additionalProperties\": {\"type\": \"integer\"}}",
    "{\"$ref\": \"#/$defs/n\", \"$defs\": {\"n\": {\"anyOf\": [{\"type\": \"null\"}, {\"type\": \"array\", \"items\": {\"$ref\": "
    "\"#/$defs/n\"}}]}}}",
    "{\"allOf\": [{\"properties\": {\"k]\": {\"const\": {\"z\": [1.5e3, true]}}}, \"required\": [\"k]\"]}, {\"properties\": "
    "{\"q\": {\"type\": [\"string\", \"number\"], \"format\": \"date-time\"}}}]}",
};

std::string mutate(const std::string &in, Rng &rng) {
    std::string s = in;
    int edits = 1 + (int)(rng.next() % 4);
    static const char interesting[] = "\"\\[]()|*+?{},:-^.#\n \x00\xC3\xFF" "0123456789aZ";
    for (int e = 0; e < edits; e++) {
        size_t pos = s.empty() ? 0 : rng.next() % s.size();
        switch (rng.next() % 6) {
        case 0:
            if (!s.empty()) s[pos] = interesting[rng.next() % (sizeof interesting - 1)];
            break;
        case 1: s.insert(pos, 1, interesting[rng.next() % (sizeof interesting - 1)]); break;
        case 2:
            if (!s.empty()) s.erase(pos, 1 + rng.next() % 4);
            break;
        case 3: s.resize(pos); break;
        case 4: {
            size_t len = rng.next() % 12;
            if (pos + len <= s.size()) s.insert(rng.next() % (s.size() + 1), s.substr(pos, len));
            break;
        }
        default:
            if (!s.empty()) s[pos] = (char)(rng.next() & 0xFF);
        }
    }
    /* the C API stops at NUL */
    size_t nul = s.find('\0');
    if (nul != std::string::npos) s.resize(nul);
    return s;
}

std::shared_ptr<TokenTable> small_table() {
    auto t = std::make_shared<TokenTable>();
    const char *p[] = {"a", "b", "c", "x", "y", "z", "(", ")", "\"", "{", "}", "[", "]", ":", ",", " ", "\n", "\\", "n",
                       "true", "null", "\xC3", "\xA9", "\xC3\xBC", "\xF0\x9F", "\x98\x80", "\xD0\x96", "A", "\t", "!"};
    for (const char *x : p) t->pieces.push_back(x);
    t->pieces.push_back("");
    t->is_eog.assign(t->pieces.size(), 0);
    t->is_eog.back() = 1;
    return t;
}

void exercise(const std::shared_ptr<Grammar> &g, const TokenTable &table, const TokenTrie &trie, Rng &rng) {
    Matcher m(g);
    std::vector<uint8_t> allowed(table.pieces.size());
    for (int step = 0; step < 12; step++) {
        m.allowed_tokens(table, trie, allowed.data());
        std::vector<int32_t> ok;
        for (size_t i = 0; i < allowed.size(); i++)
            if (allowed[i] && !table.is_eog[i]) ok.push_back((int32_t)i);
        if (ok.empty()) break;
        CHECK(m.accept_token(table, ok[rng.next() % ok.size()]));
    }
}

} // namespace

int main() {
    Rng rng(314159);
    auto table = small_table();
    TokenTrie trie;
    trie.build(*table);
    int parsed = 0, rejected = 0;
    for (int i = 0; i < 6000; i++) {
        std::string text = mutate(kGrammars[rng.next() % (sizeof kGrammars / sizeof *kGrammars)], rng);
        int32_t rc = ffl_grammar_validate(text.c_str(), "root");
        CHECK_MSG(rc == FFL_OK || rc == FFL_ERR_INVALID_ARGUMENT, "rc %d", rc);
        if (rc != FFL_OK) {
            rejected++;
            CHECK(strlen(ffl_last_error()) > 0);
            continue;
        }
        parsed++;
        auto g = std::make_shared<Grammar>();
        std::string err;
        CHECK(parse_gbnf(text.data(), text.size(), "root", *g, err) == FFL_OK);
        exercise(g, *table, trie, rng);
    }
    CHECK(parsed > 300 && rejected > 300);

    int converted = 0, refused = 0;
    std::vector<char> buf(1 << 16);
    for (int i = 0; i < 6000; i++) {
        std::string schema = mutate(kSchemas[rng.next() % (sizeof kSchemas / sizeof *kSchemas)], rng);
        int64_t len = 0;
        int32_t rc = ffl_json_schema_to_grammar(schema.c_str(), buf.data(), (int64_t)buf.size(), &len);
        CHECK_MSG(rc == FFL_OK || rc == FFL_ERR_INVALID_ARGUMENT || rc == FFL_ERR_UNSUPPORTED, "rc %d for %s", rc,
                  schema.c_str());
        if (rc != FFL_OK) {
            refused++;
            continue;
        }
        converted++;
        int32_t vr = ffl_grammar_validate(buf.data(), "root");
        CHECK_MSG(vr == FFL_OK, "schema %s gave an invalid grammar (%s):\n%s", schema.c_str(), ffl_last_error(), buf.data());
        if (vr == FFL_OK && i % 10 == 0) {
            auto g = std::make_shared<Grammar>();
            std::string err;
            parse_gbnf(buf.data(), (size_t)len, "root", *g, err);
            exercise(g, *table, trie, rng);
        }
    }
    CHECK(converted > 300 && refused > 300);
    printf("grammars: %d parsed, %d rejected; schemas: %d converted, %d refused\n", parsed, rejected, converted, refused);
    return test_finish("test_grammar_robust");
}
