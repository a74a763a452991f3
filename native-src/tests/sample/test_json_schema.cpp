/* JSON Schema -> GBNF: conversions accept valid and reject invalid instances, errors are
 * clear, and random constrained generations parse as JSON and validate against the schema. */
#include "test_util.h"

#include "json_check.h"

#include "fflama.h"
#include "sample/grammar.h"
#include "sample/json_schema.h"
#include "sample/sample_api_internal.h"
#include "sample/sampler.h"

#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <vector>

using namespace ffl_sample;

namespace {

std::string convert(const std::string &schema, int32_t *status = nullptr) {
    int64_t len = 0;
    int32_t rc = ffl_json_schema_to_grammar(schema.c_str(), nullptr, 0, &len);
    if (status) *status = rc;
    if (rc != FFL_ERR_OUT_OF_RANGE) return std::string();
    std::string out((size_t)len + 1, '\0');
    rc = ffl_json_schema_to_grammar(schema.c_str(), &out[0], len + 1, &len);
    if (status) *status = rc;
    out.resize((size_t)len);
    return rc == FFL_OK ? out : std::string();
}

std::shared_ptr<Grammar> grammar_of(const std::string &schema) {
    std::string text = convert(schema);
    auto g = std::make_shared<Grammar>();
    std::string err;
    if (text.empty() || parse_gbnf(text.data(), text.size(), "root", *g, err) != FFL_OK) {
        fprintf(stderr, "schema %s -> grammar failed: %s\n%s\n", schema.c_str(), err.c_str(), text.c_str());
        return nullptr;
    }
    return g;
}

bool accepts(const std::shared_ptr<Grammar> &g, const std::string &text) {
    if (!g) return false;
    Matcher m(g);
    Matcher::State s = m.state();
    return m.step_bytes(s, (const uint8_t *)text.data(), text.size()) && m.can_end(s);
}

void expect(const std::string &schema, const std::vector<std::string> &good, const std::vector<std::string> &bad) {
    auto g = grammar_of(schema);
    CHECK_MSG(g != nullptr, "%s", schema.c_str());
    if (!g) return;
    for (const auto &t : good) CHECK_MSG(accepts(g, t), "schema %s should accept %s", schema.c_str(), t.c_str());
    for (const auto &t : bad) CHECK_MSG(!accepts(g, t), "schema %s should reject %s", schema.c_str(), t.c_str());
}

void test_conversions() {
    /* any JSON */
    expect("{}", {"1", "\"x\"", "{\"a\": [1, {\"b\": null}], \"c\": -2.5e3}", "[]", "true", "{ }"},
           {"{a: 1}", "[1,]", "01", "\"\\x\"", "nul"});
    expect("true", {"[1, \"2\"]"}, {"[1 2]"});
    expect("{\"type\": \"string\"}", {"\"\"", "\"h\\u00e9llo \\\"w\\\"\"", "\"\xC3\xA9\""}, {"\"a\nb\"", "x", "\"a"});
    expect("{\"type\": \"string\", \"minLength\": 2, \"maxLength\": 3}", {"\"ab\"", "\"abc\"", "\"\xC3\xA9\xC3\xA9\""},
           {"\"a\"", "\"abcd\""});
    expect("{\"type\": \"integer\"}", {"0", "-12", "1234567890123456"}, {"1.5", "01", "1e3", "-"});
    expect("{\"type\": \"integer\", \"minimum\": 0}", {"0", "7"}, {"-1"});
    expect("{\"type\": \"integer\", \"minimum\": 1}", {"1", "70"}, {"0", "-1"});
    expect("{\"type\": \"number\"}", {"0", "-1.25", "3e10", "2.5E-3"}, {".5", "1.", "+1"});
    expect("{\"type\": \"boolean\"}", {"true", "false"}, {"null", "1"});
    expect("{\"type\": \"null\"}", {"null"}, {"\"null\""});
    expect("{\"type\": [\"string\", \"null\"]}", {"\"x\"", "null"}, {"1"});
    expect("{\"enum\": [\"red\", 2, null, {\"a\": 1}]}", {"\"red\"", "2", "null", "{\"a\":1}"}, {"\"blue\"", "{\"a\": 1}"});
    expect("{\"const\": \"v1\"}", {"\"v1\""}, {"\"v2\""});
    expect("{\"type\": \"string\", \"format\": \"date\"}", {"\"2024-02-29\""}, {"\"2024-13-01\"", "\"24-01-01\""});
    expect("{\"type\": \"string\", \"format\": \"date-time\"}", {"\"2024-02-29T12:30:00Z\"", "\"2024-02-29T12:30:00.123+01:00\""},
           {"\"2024-02-29 12:30:00\""});
    expect("{\"type\": \"string\", \"format\": \"uuid\"}", {"\"123e4567-e89b-12d3-a456-426614174000\""}, {"\"123e4567\""});
    expect("{\"type\": \"array\", \"items\": {\"type\": \"integer\"}}", {"[]", "[1]", "[1, 2, 3]", "[ 1 ,\n  2 ]"},
           {"[1,]", "[\"a\"]", "[1 2]"});
    expect("{\"type\": \"array\", \"items\": {\"type\": \"integer\"}, \"minItems\": 2, \"maxItems\": 3}", {"[1, 2]", "[1, 2, 3]"},
           {"[]", "[1]", "[1, 2, 3, 4]"});
    expect("{\"type\": \"array\", \"minItems\": 1, \"maxItems\": 1}", {"[\"x\"]"}, {"[]", "[1, 2]"});
    expect("{\"type\": \"array\", \"maxItems\": 0}", {"[]"}, {"[1]"});
    expect("{\"type\": \"array\", \"prefixItems\": [{\"type\": \"integer\"}, {\"type\": \"string\"}]}", {"[1, \"a\"]"},
           {"[1]", "[\"a\", 1]"});
    /* objects: required in order, optional skippable, no extras by default */
    const std::string person =
        "{\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\"}, \"age\": {\"type\": \"integer\"}, "
        "\"email\": {\"type\": \"string\"}}, \"required\": [\"name\"]}";
    expect(person,
           {"{\"name\": \"a\"}", "{\"name\": \"a\", \"age\": 3}", "{\"name\": \"a\", \"email\": \"e\"}",
            "{\"name\":\"a\",\"age\":3,\"email\":\"e\"}"},
           {"{}", "{\"age\": 3}", "{\"name\": \"a\", \"x\": 1}", "{\"name\": \"a\",}", "{\"age\": 3, \"name\": \"a\"}"});
    expect("{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}, \"b\": {\"type\": \"integer\"}}}",
           {"{}", "{\"a\": 1}", "{\"b\": 2}", "{\"a\": 1, \"b\": 2}"}, {"{,}", "{\"a\": 1,}", "{, \"b\": 2}"});
    expect("{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}}, \"additionalProperties\": true}",
           {"{}", "{\"a\": 1, \"zz\": [true]}", "{\"q\": null}", "{\"\": 1}", "{\"ab\": 1}", "{\"b\": 1}"},
           {"{\"a\": \"x\"}", "{\"q\": 1, \"a\": 2}"});
    expect("{\"properties\": {\"ab\": {\"type\": \"integer\"}, \"a]\": {\"type\": \"integer\"}}, \"additionalProperties\": {\"type\": \"null\"}}",
           {"{\"a\": null}", "{\"abc\": null}", "{\"b\": null}", "{\"ab\": 1, \"a]\": 2, \"x\": null}", "{\"a]]\": null}"},
           {"{\"ab\": null}", "{\"a]\": null}"});
    expect("{\"type\": \"object\", \"additionalProperties\": {\"type\": \"number\"}}", {"{}", "{\"x\": 1, \"y\": 2.5}"},
           {"{\"x\": \"1\"}"});
    expect("{\"type\": \"object\"}", {"{}"}, {"{\"a\": 1}"});
    /* key escaping */
    expect("{\"type\": \"object\", \"properties\": {\"we\\\"ird\\\\\": {\"type\": \"null\"}}, \"required\": [\"we\\\"ird\\\\\"]}",
           {"{\"we\\\"ird\\\\\": null}"}, {"{\"weird\": null}"});
    /* $ref, recursion through $defs, anyOf, allOf */
    const std::string tree =
        "{\"$ref\": \"#/$defs/node\", \"$defs\": {\"node\": {\"type\": \"object\", \"properties\": {\"v\": {\"type\": \"integer\"}, "
        "\"kids\": {\"type\": \"array\", \"items\": {\"$ref\": \"#/$defs/node\"}}}, \"required\": [\"v\"]}}}";
    expect(tree, {"{\"v\": 1}", "{\"v\": 1, \"kids\": [{\"v\": 2}, {\"v\": 3, \"kids\": []}]}"}, {"{\"v\": 1, \"kids\": [{}]}"});
    expect("{\"definitions\": {\"s\": {\"type\": \"string\"}}, \"type\": \"object\", \"properties\": {\"x\": {\"$ref\": "
           "\"#/definitions/s\"}}, \"required\": [\"x\"]}",
           {"{\"x\": \"y\"}"}, {"{\"x\": 1}"});
    expect("{\"anyOf\": [{\"type\": \"integer\"}, {\"type\": \"array\", \"items\": {\"type\": \"boolean\"}}]}", {"3", "[true]"},
           {"\"3\"", "[1]"});
    expect("{\"oneOf\": [{\"const\": 1}, {\"const\": \"one\"}]}", {"1", "\"one\""}, {"2"});
    expect("{\"allOf\": [{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}}, \"required\": [\"a\"]}, "
           "{\"properties\": {\"b\": {\"type\": \"boolean\"}}, \"required\": [\"b\"]}]}",
           {"{\"a\": 1, \"b\": true}"}, {"{\"a\": 1}", "{\"b\": true}"});
    /* annotations are ignored */
    expect("{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\", \"title\": \"T\", \"description\": \"d\", "
           "\"type\": \"boolean\", \"default\": true, \"examples\": [false]}",
           {"true"}, {"1"});
    /* rule names that collide with primitives */
    expect("{\"$defs\": {\"string\": {\"type\": \"integer\"}}, \"type\": \"array\", \"items\": [{\"$ref\": \"#/$defs/string\"}, "
           "{\"type\": \"string\"}]}",
           {"[1, \"x\"]"}, {"[\"x\", 1]"});
}

void test_errors() {
    int32_t st = 0;
    CHECK(convert("{\"type\": ", &st).empty() && st == FFL_ERR_INVALID_ARGUMENT);
    CHECK(std::string(ffl_last_error()).find("invalid JSON in schema: 1:10") != std::string::npos);
    CHECK(convert("{\"type\": \"strin\"}", &st).empty() && st == FFL_ERR_INVALID_ARGUMENT);
    CHECK(std::string(ffl_last_error()).find("unknown type 'strin'") != std::string::npos);
    CHECK(convert("{\"type\": \"string\", \"pattern\": \"^a+$\"}", &st).empty() && st == FFL_ERR_UNSUPPORTED);
    CHECK(std::string(ffl_last_error()).find("'pattern'") != std::string::npos);
    CHECK(convert("{\"$ref\": \"#/$defs/missing\"}", &st).empty() && st == FFL_ERR_INVALID_ARGUMENT);
    CHECK(convert("{\"$ref\": \"http://x/y.json\"}", &st).empty() && st == FFL_ERR_UNSUPPORTED);
    CHECK(convert("{\"enum\": []}", &st).empty() && st == FFL_ERR_INVALID_ARGUMENT);
    CHECK(convert("{\"type\": \"array\", \"minItems\": 3, \"maxItems\": 2}", &st).empty() && st == FFL_ERR_INVALID_ARGUMENT);
    CHECK(convert("{\"type\": \"string\", \"maxLength\": -1}", &st).empty() && st == FFL_ERR_INVALID_ARGUMENT);
    CHECK(convert("false", &st).empty() && st == FFL_ERR_INVALID_ARGUMENT);
    CHECK(convert("42", &st).empty() && st == FFL_ERR_INVALID_ARGUMENT);
    CHECK(convert("{\"not\": {}}", &st).empty() && st == FFL_ERR_UNSUPPORTED);
    CHECK(convert("{\"const\": \"\xC3\"}", &st).empty() && st == FFL_ERR_INVALID_ARGUMENT);
    CHECK(std::string(ffl_last_error()).find("invalid UTF-8") != std::string::npos);
    CHECK(!convert("{\"const\": \"\xC3\xA9\xE2\x82\xAC\"}", &st).empty() && st == FFL_OK);
    std::string deep;
    for (int i = 0; i < 2000; i++) deep += "[";
    CHECK(convert(deep, &st).empty() && st == FFL_ERR_INVALID_ARGUMENT);
    /* buffer protocol */
    int64_t len = -1;
    char small[8];
    CHECK(ffl_json_schema_to_grammar("{}", small, sizeof small, &len) == FFL_ERR_OUT_OF_RANGE && len > 8 && small[0] == 0);
    std::vector<char> buf((size_t)len + 1);
    CHECK(ffl_json_schema_to_grammar("{}", buf.data(), len + 1, &len) == FFL_OK && strlen(buf.data()) == (size_t)len);
    CHECK(ffl_grammar_validate(buf.data(), "root") == FFL_OK);
    CHECK(ffl_json_schema_to_grammar(nullptr, buf.data(), 10, &len) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_json_schema_to_grammar("{}", nullptr, 10, &len) == FFL_ERR_INVALID_ARGUMENT);
}

/* A byte-level vocabulary: every single byte, common JSON pieces, some multi-byte text. */
std::shared_ptr<TokenTable> synthetic_vocab() {
    auto t = std::make_shared<TokenTable>();
    for (int b = 1; b < 256; b++) t->pieces.push_back(std::string(1, (char)b));
    const char *extra[] = {"{\"", "\":", "\": ", ", \"", "\",", "\"}", "true", "false", "null", "name", "age", "tags",
                           "kind", "  ", "\n", "\n  ", "12", "3.", "e+", "\xC3\xA9", "\xE2\x82\xAC", "ab", "cd", "[\"",
                           "\"]", "},", "city", "zip", "\\n", "\\u00", "-1", "0.", "ver", "sion", "1.0", "nick", "\xC3"};
    for (const char *e : extra) t->pieces.push_back(e);
    t->pieces.push_back("<eos>");
    t->is_eog.assign(t->pieces.size(), 0);
    t->is_eog.back() = 1;
    return t;
}

const char *kSchema = R"({
  "type": "object",
  "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 12},
    "age": {"type": "integer", "minimum": 0},
    "score": {"type": "number"},
    "active": {"type": "boolean"},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 6}, "maxItems": 3},
    "kind": {"enum": ["a", "b", 3, null]},
    "address": {"$ref": "#/$defs/address"},
    "nick": {"anyOf": [{"type": "string", "maxLength": 5}, {"type": "null"}]},
    "version": {"const": "1.0"}
  },
  "required": ["name", "age", "kind", "version"],
  "$defs": {
    "address": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 8}, "zip": {"type": "string", "minLength": 5, "maxLength": 5}}, "required": ["city"]}
  }
})";

/* Samples until EOG (or max_steps); returns whether it ended. */
bool generate(ffl_sampler *c, const TokenTable &table, Rng &rng, int max_steps, std::string &text, int &steps) {
    text.clear();
    std::vector<float> l(table.pieces.size());
    for (steps = 0; steps < max_steps; steps++) {
        for (auto &x : l) x = (float)(rng.uniform() * 6.0 - 3.0);
        int32_t tok = -1;
        if (ffl_sampler_sample(c, l.data(), (int32_t)l.size(), &tok, nullptr) != FFL_OK) return false;
        if (ffl_sampler_accept(c, tok) != FFL_OK) return false;
        if (table.is_eog[tok]) return true;
        text += table.pieces[tok];
    }
    return false;
}

void test_random_generations() {
    auto table = synthetic_vocab();
    std::string grammar = convert(kSchema);
    CHECK(!grammar.empty());
    ffl_sampler *c = nullptr;
    CHECK(ffl_sampler_chain_new(2024, &c) == FFL_OK);
    CHECK(chain_add_grammar_table(c, table, nullptr, grammar.c_str(), "root") == FFL_OK);
    CHECK(ffl_sampler_chain_add_temp(c, 1.0f) == FFL_OK);
    CHECK(ffl_sampler_chain_add_dist(c) == FFL_OK);
    jc::Value schema;
    CHECK(jc::Reader(kSchema).read(schema));
    Rng rng(7);
    int valid = 0;
    std::set<std::string> distinct;
    std::set<std::string> optional_seen;
    for (int run = 0; run < 50; run++) {
        ffl_sampler_reset(c);
        std::string text, why;
        int steps = 0;
        bool ended = generate(c, *table, rng, 2000, text, steps);
        jc::Value v;
        bool parsed = ended && jc::Reader(text).read(v);
        bool ok = parsed && jc::validate(v, schema, schema, why);
        CHECK_MSG(ok, "run %d (ended %d, %d steps): %s -> %s", run, ended, steps, text.c_str(), why.c_str());
        if (ok) {
            valid++;
            for (const char *k : {"score", "active", "tags", "address", "nick"})
                if (v.get(k)) optional_seen.insert(k);
        }
        distinct.insert(text);
    }
    CHECK(valid == 50);
    CHECK(distinct.size() >= 45);
    CHECK_MSG(optional_seen.size() == 5, "optional properties seen: %zu", optional_seen.size());
    ffl_sampler_free(c);
}

} // namespace

int main() {
    test_conversions();
    test_errors();
    test_random_generations();
    return test_finish("test_json_schema");
}
