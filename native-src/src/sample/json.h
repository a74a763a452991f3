/* A small JSON reader (RFC 8259) for JSON Schemas: values keep object member order and
 * the source text of numbers. */
#ifndef FFL_SAMPLE_JSON_H
#define FFL_SAMPLE_JSON_H

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace ffl_sample {

struct JsonValue {
    enum Kind { NUL, BOOL, NUMBER, STRING, ARRAY, OBJECT } kind = NUL;
    bool boolean = false;
    double number = 0.0;
    std::string text; /* STRING: the decoded string; NUMBER: the literal as written */
    std::vector<JsonValue> items;
    std::vector<std::pair<std::string, JsonValue>> members;

    /* Member by key (the last one when repeated), or nullptr. */
    const JsonValue *get(const std::string &key) const;
    bool is_integer() const;
};

/* Parses text; on failure returns false and a message with the line:column of the problem. */
bool json_parse(const char *text, size_t length, JsonValue &out, std::string &error);

/* Compact serialisation (no spaces), strings escaped as JSON requires. */
std::string json_dump(const JsonValue &v);
void json_append_string(std::string &out, const std::string &s);

} // namespace ffl_sample

#endif
