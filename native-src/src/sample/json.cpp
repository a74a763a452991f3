/* JSON reader and compact writer. */
#include "sample/json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ffl_sample {

const JsonValue *JsonValue::get(const std::string &key) const {
    if (kind != OBJECT) return nullptr;
    for (size_t i = members.size(); i-- > 0;)
        if (members[i].first == key) return &members[i].second;
    return nullptr;
}

bool JsonValue::is_integer() const {
    return kind == NUMBER && std::isfinite(number) && number == std::floor(number);
}

namespace {

constexpr int kMaxDepth = 512;

struct Reader {
    Reader(const char *text, size_t length) : s(text), n(length) {}
    const char *s;
    size_t n;
    size_t pos = 0;
    std::string error;
    size_t error_at = 0;

    bool fail(const char *msg) {
        if (error.empty()) {
            error = msg;
            error_at = pos;
        }
        return false;
    }

    void skip_ws() {
        while (pos < n && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r')) pos++;
    }

    bool literal(const char *word) {
        size_t len = strlen(word);
        if (n - pos < len || memcmp(s + pos, word, len) != 0) return fail("invalid literal");
        pos += len;
        return true;
    }

    static int hex(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    bool hex4(uint32_t &v) {
        if (n - pos < 4) return fail("truncated \\u escape");
        v = 0;
        for (int i = 0; i < 4; i++) {
            int h = hex(s[pos + i]);
            if (h < 0) return fail("invalid \\u escape");
            v = v * 16 + (uint32_t)h;
        }
        pos += 4;
        return true;
    }

    static void put_utf8(std::string &out, uint32_t cp) {
        if (cp < 0x80) {
            out += (char)cp;
        } else if (cp < 0x800) {
            out += (char)(0xC0 | (cp >> 6));
            out += (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += (char)(0xE0 | (cp >> 12));
            out += (char)(0x80 | ((cp >> 6) & 0x3F));
            out += (char)(0x80 | (cp & 0x3F));
        } else {
            out += (char)(0xF0 | (cp >> 18));
            out += (char)(0x80 | ((cp >> 12) & 0x3F));
            out += (char)(0x80 | ((cp >> 6) & 0x3F));
            out += (char)(0x80 | (cp & 0x3F));
        }
    }

    bool string(std::string &out) {
        pos++; /* opening quote */
        out.clear();
        for (;;) {
            if (pos >= n) return fail("unterminated string");
            unsigned char c = (unsigned char)s[pos];
            if (c == '"') {
                pos++;
                return true;
            }
            if (c < 0x20) return fail("control character in string");
            if (c >= 0x80) {
                /* copy one UTF-8 sequence, checking it (JSON text must be UTF-8) */
                int len = c >= 0xC2 && c < 0xE0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : c >= 0xF0 && c < 0xF5 ? 4 : 0;
                if (len == 0 || n - pos < (size_t)len) return fail("invalid UTF-8 in string");
                for (int i = 1; i < len; i++)
                    if (((unsigned char)s[pos + i] & 0xC0) != 0x80) return fail("invalid UTF-8 in string");
                out.append(s + pos, (size_t)len);
                pos += (size_t)len;
                continue;
            }
            if (c != '\\') {
                out += (char)c;
                pos++;
                continue;
            }
            if (++pos >= n) return fail("unterminated string");
            char e = s[pos++];
            switch (e) {
            case '"': out += '"'; break;
            case '\\': out += '\\'; break;
            case '/': out += '/'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                uint32_t cp;
                if (!hex4(cp)) return false;
                if (cp >= 0xD800 && cp < 0xDC00) {
                    uint32_t lo;
                    if (n - pos < 2 || s[pos] != '\\' || s[pos + 1] != 'u') return fail("unpaired surrogate");
                    pos += 2;
                    if (!hex4(lo)) return false;
                    if (lo < 0xDC00 || lo > 0xDFFF) return fail("unpaired surrogate");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp < 0xE000) {
                    return fail("unpaired surrogate");
                }
                put_utf8(out, cp);
                break;
            }
            default: pos--; return fail("invalid escape");
            }
        }
    }

    bool number(JsonValue &v) {
        size_t start = pos;
        if (s[pos] == '-') pos++;
        if (pos >= n) return fail("invalid number");
        if (s[pos] == '0') {
            pos++;
        } else if (s[pos] >= '1' && s[pos] <= '9') {
            while (pos < n && s[pos] >= '0' && s[pos] <= '9') pos++;
        } else {
            return fail("invalid number");
        }
        if (pos < n && s[pos] == '.') {
            pos++;
            if (pos >= n || s[pos] < '0' || s[pos] > '9') return fail("invalid number");
            while (pos < n && s[pos] >= '0' && s[pos] <= '9') pos++;
        }
        if (pos < n && (s[pos] == 'e' || s[pos] == 'E')) {
            pos++;
            if (pos < n && (s[pos] == '+' || s[pos] == '-')) pos++;
            if (pos >= n || s[pos] < '0' || s[pos] > '9') return fail("invalid number");
            while (pos < n && s[pos] >= '0' && s[pos] <= '9') pos++;
        }
        v.kind = JsonValue::NUMBER;
        v.text.assign(s + start, pos - start);
        v.number = strtod(v.text.c_str(), nullptr);
        return true;
    }

    bool value(JsonValue &v, int depth) {
        if (depth > kMaxDepth) return fail("nested too deeply");
        skip_ws();
        if (pos >= n) return fail("unexpected end of input");
        char c = s[pos];
        switch (c) {
        case 'n': v.kind = JsonValue::NUL; return literal("null");
        case 't': v.kind = JsonValue::BOOL; v.boolean = true; return literal("true");
        case 'f': v.kind = JsonValue::BOOL; v.boolean = false; return literal("false");
        case '"': v.kind = JsonValue::STRING; return string(v.text);
        case '[': {
            v.kind = JsonValue::ARRAY;
            pos++;
            skip_ws();
            if (pos < n && s[pos] == ']') {
                pos++;
                return true;
            }
            for (;;) {
                v.items.emplace_back();
                if (!value(v.items.back(), depth + 1)) return false;
                skip_ws();
                if (pos < n && s[pos] == ',') {
                    pos++;
                    continue;
                }
                if (pos < n && s[pos] == ']') {
                    pos++;
                    return true;
                }
                return fail("expecting ',' or ']'");
            }
        }
        case '{': {
            v.kind = JsonValue::OBJECT;
            pos++;
            skip_ws();
            if (pos < n && s[pos] == '}') {
                pos++;
                return true;
            }
            for (;;) {
                skip_ws();
                if (pos >= n || s[pos] != '"') return fail("expecting a member name");
                std::string key;
                if (!string(key)) return false;
                skip_ws();
                if (pos >= n || s[pos] != ':') return fail("expecting ':'");
                pos++;
                v.members.emplace_back(std::move(key), JsonValue());
                if (!value(v.members.back().second, depth + 1)) return false;
                skip_ws();
                if (pos < n && s[pos] == ',') {
                    pos++;
                    continue;
                }
                if (pos < n && s[pos] == '}') {
                    pos++;
                    return true;
                }
                return fail("expecting ',' or '}'");
            }
        }
        default:
            if (c == '-' || (c >= '0' && c <= '9')) return number(v);
            return fail("unexpected character");
        }
    }
};

} // namespace

bool json_parse(const char *text, size_t length, JsonValue &out, std::string &error) {
    Reader r(text, length);
    out = JsonValue();
    bool ok = r.value(out, 0);
    if (ok) {
        r.skip_ws();
        if (r.pos < length) ok = r.fail("trailing characters after the value");
    }
    if (!ok) {
        int line = 1, column = 1;
        for (size_t i = 0; i < r.error_at && i < length; i++) {
            if (text[i] == '\n') {
                line++;
                column = 1;
            } else {
                column++;
            }
        }
        error = std::to_string(line) + ":" + std::to_string(column) + ": " + r.error;
    }
    return ok;
}

void json_append_string(std::string &out, const std::string &s) {
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            if (c < 0x20) {
                char buf[8];
                snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += (char)c;
            }
        }
    }
    out += '"';
}

static void dump_to(std::string &out, const JsonValue &v) {
    switch (v.kind) {
    case JsonValue::NUL: out += "null"; break;
    case JsonValue::BOOL: out += v.boolean ? "true" : "false"; break;
    case JsonValue::NUMBER: out += v.text; break;
    case JsonValue::STRING: json_append_string(out, v.text); break;
    case JsonValue::ARRAY:
        out += '[';
        for (size_t i = 0; i < v.items.size(); i++) {
            if (i) out += ',';
            dump_to(out, v.items[i]);
        }
        out += ']';
        break;
    case JsonValue::OBJECT:
        out += '{';
        for (size_t i = 0; i < v.members.size(); i++) {
            if (i) out += ',';
            json_append_string(out, v.members[i].first);
            out += ':';
            dump_to(out, v.members[i].second);
        }
        out += '}';
        break;
    }
}

std::string json_dump(const JsonValue &v) {
    std::string s;
    dump_to(s, v);
    return s;
}

} // namespace ffl_sample
