/* GBNF parser: text -> flattened rules, with repetition rewriting, undefined-rule and
 * left-recursion checks. Errors carry a line:column position. */
#include "sample/grammar.h"

#include "common/ffl_internal.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace ffl_sample {

bool CharClass::matches(uint32_t cp) const {
    /* first range whose upper bound is >= cp */
    auto it = std::lower_bound(ranges.begin(), ranges.end(), cp,
                               [](const std::pair<uint32_t, uint32_t> &r, uint32_t v) { return r.second < v; });
    bool in = it != ranges.end() && it->first <= cp;
    return in != negated;
}

bool CharClass::matches_some(uint32_t lo, uint32_t hi) const {
    if (!negated) {
        for (const auto &r : ranges)
            if (r.first <= hi && lo <= r.second) return true;
        return false;
    }
    /* ranges are merged, so [lo, hi] is fully excluded only when one range covers it */
    for (const auto &r : ranges)
        if (r.first <= lo && hi <= r.second) return false;
    return true;
}

namespace {

constexpr int kMaxRepetitions = 2000;    /* as llama.cpp: larger counts are almost surely mistakes */
constexpr size_t kMaxElements = 1u << 22;
constexpr int kMaxNesting = 256;

struct ParseFailure {
    size_t offset;
    std::string message;
};

bool is_word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

class Parser {
public:
    Parser(const char *src, size_t n) : src_(src), n_(n) {}

    void parse_all() {
        size_t pos = skip_space(0, true);
        while (pos < n_) pos = parse_rule(pos);
    }

    void finish(const char *root_name, Grammar &out) {
        for (size_t i = 0; i < names_.size(); i++)
            if (!defined_[i]) fail(first_use_[i], "undefined rule '" + names_[i] + "'");
        auto it = ids_.find(root_name);
        if (it == ids_.end() || !defined_[it->second])
            fail(n_, std::string("the grammar has no rule named '") + root_name + "'");
        out = Grammar();
        out.root = it->second;
        out.rule_names = names_;
        out.classes = std::move(classes_);
        for (auto &r : rules_) {
            out.rule_start.push_back((uint32_t)out.elems.size());
            out.elems.insert(out.elems.end(), r.begin(), r.end());
        }
        check_left_recursion(out);
    }

private:
    [[noreturn]] void fail(size_t offset, const std::string &msg) const { throw ParseFailure{offset, msg}; }

    char at(size_t pos) const { return pos < n_ ? src_[pos] : '\0'; }

    size_t skip_space(size_t pos, bool newline_ok) const {
        while (pos < n_) {
            char c = src_[pos];
            if (c == ' ' || c == '\t') {
                pos++;
            } else if (c == '#') {
                while (pos < n_ && src_[pos] != '\n' && src_[pos] != '\r') pos++;
            } else if (newline_ok && (c == '\n' || c == '\r')) {
                pos++;
            } else {
                break;
            }
        }
        return pos;
    }

    size_t parse_name(size_t pos, std::string &name) const {
        size_t end = pos;
        while (end < n_ && is_word_char(src_[end])) end++;
        if (end == pos) return pos;
        name.assign(src_ + pos, end - pos);
        return end;
    }

    uint32_t symbol(const std::string &name, size_t offset) {
        auto it = ids_.find(name);
        if (it != ids_.end()) return it->second;
        uint32_t id = (uint32_t)names_.size();
        ids_.emplace(name, id);
        names_.push_back(name);
        rules_.emplace_back();
        defined_.push_back(false);
        first_use_.push_back(offset);
        defined_at_.push_back(offset);
        return id;
    }

    uint32_t generated_symbol(const std::string &base, size_t offset) {
        for (;;) {
            std::string name = base + "-" + std::to_string(++generated_);
            if (ids_.find(name) == ids_.end()) {
                uint32_t id = symbol(name, offset);
                defined_[id] = true;
                return id;
            }
        }
    }

    size_t parse_rule(size_t pos) {
        std::string name;
        size_t end = parse_name(pos, name);
        if (end == pos) fail(pos, "expecting a rule name");
        uint32_t id = symbol(name, pos);
        if (defined_[id]) fail(pos, "rule '" + name + "' is defined twice");
        defined_[id] = true;
        defined_at_[id] = pos;
        pos = skip_space(end, false);
        if (!(at(pos) == ':' && at(pos + 1) == ':' && at(pos + 2) == '=')) fail(pos, "expecting '::='");
        pos = skip_space(pos + 3, true);
        pos = parse_alternates(pos, name, id, false);
        if (at(pos) == '\r') pos++;
        if (at(pos) == '\n') {
            pos++;
        } else if (pos < n_) {
            fail(pos, "expecting newline or end of input");
        }
        return skip_space(pos, true);
    }

    size_t parse_alternates(size_t pos, const std::string &rule_name, uint32_t rule_id, bool nested) {
        if (++nesting_ > kMaxNesting) fail(pos, "groups nested too deeply");
        std::vector<Elem> rule;
        pos = parse_sequence(pos, rule_name, rule, nested);
        while (at(pos) == '|') {
            rule.push_back({GE_ALT, 0});
            pos = skip_space(pos + 1, true);
            pos = parse_sequence(pos, rule_name, rule, nested);
        }
        rule.push_back({GE_END, 0});
        count_elements(rule.size(), pos);
        rules_[rule_id] = std::move(rule);
        nesting_--;
        return pos;
    }

    void count_elements(size_t n, size_t pos) {
        total_elements_ += n;
        if (total_elements_ > kMaxElements) fail(pos, "grammar too large");
    }

    /* One character of a literal or class: an escape or a UTF-8 sequence. */
    size_t parse_char(size_t pos, uint32_t &cp) const {
        if (pos >= n_) fail(pos, "unexpected end of input");
        unsigned char c = (unsigned char)src_[pos];
        if (c == '\\') {
            char e = at(pos + 1);
            int digits = 0;
            switch (e) {
            case 'x': digits = 2; break;
            case 'u': digits = 4; break;
            case 'U': digits = 8; break;
            case 't': cp = '\t'; return pos + 2;
            case 'r': cp = '\r'; return pos + 2;
            case 'n': cp = '\n'; return pos + 2;
            case '\\': case '"': case '[': case ']': case '-': case '^':
                cp = (uint32_t)e;
                return pos + 2;
            default:
                fail(pos, "unknown escape");
            }
            uint32_t v = 0;
            for (int i = 0; i < digits; i++) {
                int h = hex_value(at(pos + 2 + i));
                if (h < 0) fail(pos, "expecting " + std::to_string(digits) + " hex digits");
                v = v * 16 + (uint32_t)h;
            }
            if (v > 0x10FFFF) fail(pos, "code point out of range");
            cp = v;
            return pos + 2 + digits;
        }
        int len;
        uint32_t v;
        if (c < 0x80) { len = 1; v = c; }
        else if ((c & 0xE0) == 0xC0) { len = 2; v = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { len = 3; v = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { len = 4; v = c & 0x07; }
        else fail(pos, "invalid UTF-8");
        for (int i = 1; i < len; i++) {
            unsigned char d = (unsigned char)at(pos + i);
            if ((d & 0xC0) != 0x80) fail(pos, "invalid UTF-8");
            v = (v << 6) | (d & 0x3F);
        }
        cp = v;
        return pos + len;
    }

    size_t parse_int(size_t pos, int &value) const {
        size_t start = pos;
        long v = 0;
        while (pos < n_ && src_[pos] >= '0' && src_[pos] <= '9') {
            v = v * 10 + (src_[pos] - '0');
            if (v > 1000000) fail(start, "number too large");
            pos++;
        }
        if (pos == start) fail(start, "expecting an integer");
        value = (int)v;
        return pos;
    }

    size_t parse_sequence(size_t pos, const std::string &rule_name, std::vector<Elem> &out, bool nested) {
        size_t last_sym_start = out.size();
        while (pos < n_) {
            char c = src_[pos];
            if (c == '"') {
                size_t start = pos++;
                last_sym_start = out.size();
                while (at(pos) != '"') {
                    if (pos >= n_ || src_[pos] == '\n') fail(start, "unterminated string literal");
                    uint32_t cp;
                    pos = parse_char(pos, cp);
                    out.push_back({GE_CHAR, cp});
                }
                pos = skip_space(pos + 1, nested);
            } else if (c == '[') {
                size_t start = pos++;
                CharClass cls;
                if (at(pos) == '^') {
                    cls.negated = true;
                    pos++;
                }
                while (at(pos) != ']') {
                    if (pos >= n_) fail(start, "unterminated character class");
                    uint32_t lo, hi;
                    pos = parse_char(pos, lo);
                    hi = lo;
                    if (at(pos) == '-' && at(pos + 1) != ']' && pos + 1 < n_) {
                        size_t range_at = pos;
                        pos = parse_char(pos + 1, hi);
                        if (hi < lo) fail(range_at, "character range is reversed");
                    }
                    cls.ranges.push_back({lo, hi});
                }
                pos++;
                normalize(cls);
                last_sym_start = out.size();
                out.push_back({GE_CLASS, (uint32_t)classes_.size()});
                classes_.push_back(std::move(cls));
                pos = skip_space(pos, nested);
            } else if (is_word_char(c)) {
                std::string name;
                size_t end = parse_name(pos, name);
                uint32_t ref = symbol(name, pos);
                last_sym_start = out.size();
                out.push_back({GE_RULE_REF, ref});
                pos = skip_space(end, nested);
            } else if (c == '(') {
                size_t start = pos;
                pos = skip_space(pos + 1, true);
                uint32_t sub = generated_symbol(rule_name, start);
                pos = parse_alternates(pos, rule_name, sub, true);
                last_sym_start = out.size();
                out.push_back({GE_RULE_REF, sub});
                if (at(pos) != ')') fail(pos, "expecting ')'");
                pos = skip_space(pos + 1, nested);
            } else if (c == '.') {
                last_sym_start = out.size();
                out.push_back({GE_ANY, 0});
                pos = skip_space(pos + 1, nested);
            } else if (c == '*' || c == '+' || c == '?') {
                int lo = c == '+' ? 1 : 0, hi = c == '?' ? 1 : -1;
                repeat(out, last_sym_start, lo, hi, rule_name, pos);
                pos = skip_space(pos + 1, nested);
            } else if (c == '{') {
                size_t start = pos;
                pos = skip_space(pos + 1, nested);
                int lo, hi;
                pos = parse_int(pos, lo);
                pos = skip_space(pos, nested);
                hi = lo;
                if (at(pos) == ',') {
                    pos = skip_space(pos + 1, nested);
                    if (at(pos) >= '0' && at(pos) <= '9') {
                        pos = parse_int(pos, hi);
                        pos = skip_space(pos, nested);
                    } else {
                        hi = -1;
                    }
                }
                if (at(pos) != '}') fail(pos, "expecting '}'");
                if (hi >= 0 && hi < lo) fail(start, "repetition maximum is below its minimum");
                if (lo > kMaxRepetitions || hi > kMaxRepetitions) fail(start, "too many repetitions");
                repeat(out, last_sym_start, lo, hi, rule_name, start);
                pos = skip_space(pos + 1, nested);
            } else {
                break;
            }
        }
        return pos;
    }

    static void normalize(CharClass &cls) {
        auto &r = cls.ranges;
        std::sort(r.begin(), r.end());
        std::vector<std::pair<uint32_t, uint32_t>> merged;
        for (const auto &x : r) {
            if (!merged.empty() && x.first <= merged.back().second + 1) {
                merged.back().second = std::max(merged.back().second, x.second);
            } else {
                merged.push_back(x);
            }
        }
        r = std::move(merged);
    }

    /* S{lo,hi} -> S x lo, then S* as `R ::= S R |` or the optional tail as nested
     * `R1 ::= S |`, `R2 ::= S R1 |` ... (hi = -1: unbounded). */
    void repeat(std::vector<Elem> &out, size_t sym_start, int lo, int hi, const std::string &rule_name, size_t pos) {
        if (sym_start == out.size()) fail(pos, "expecting an item before the repetition operator");
        std::vector<Elem> sym(out.begin() + (long)sym_start, out.end());
        out.resize(sym_start);
        count_elements(sym.size() * (size_t)(lo + (hi > lo ? hi - lo : 1)), pos);
        for (int i = 0; i < lo; i++) out.insert(out.end(), sym.begin(), sym.end());
        if (hi < 0) {
            uint32_t r = generated_symbol(rule_name, pos);
            std::vector<Elem> rule = sym;
            rule.push_back({GE_RULE_REF, r});
            rule.push_back({GE_ALT, 0});
            rule.push_back({GE_END, 0});
            rules_[r] = std::move(rule);
            out.push_back({GE_RULE_REF, r});
        } else if (hi > lo) {
            int32_t prev = -1;
            for (int k = 0; k < hi - lo; k++) {
                uint32_t r = generated_symbol(rule_name, pos);
                std::vector<Elem> rule = sym;
                if (prev >= 0) rule.push_back({GE_RULE_REF, (uint32_t)prev});
                rule.push_back({GE_ALT, 0});
                rule.push_back({GE_END, 0});
                rules_[r] = std::move(rule);
                prev = (int32_t)r;
            }
            out.push_back({GE_RULE_REF, (uint32_t)prev});
        }
    }

    /* A rule is left-recursive when it can reach itself without consuming a character:
     * through references at the start of an alternative, skipping nullable rules. */
    void check_left_recursion(const Grammar &g) {
        size_t nr = g.rule_start.size();
        std::vector<uint8_t> nullable(nr, 0);
        for (bool changed = true; changed;) {
            changed = false;
            for (size_t r = 0; r < nr; r++) {
                if (nullable[r]) continue;
                uint32_t p = g.rule_start[r];
                for (;;) {
                    bool all = true;
                    for (; g.elems[p].type != GE_END && g.elems[p].type != GE_ALT; p++) {
                        const Elem &e = g.elems[p];
                        if (e.type != GE_RULE_REF || !nullable[e.value]) all = false;
                    }
                    if (all) {
                        nullable[r] = 1;
                        changed = true;
                        break;
                    }
                    if (g.elems[p].type == GE_END) break;
                    p++;
                }
            }
        }
        std::vector<std::vector<uint32_t>> left(nr);
        for (size_t r = 0; r < nr; r++) {
            uint32_t p = g.rule_start[r];
            for (;;) {
                bool open = true;
                for (; g.elems[p].type != GE_END && g.elems[p].type != GE_ALT; p++) {
                    const Elem &e = g.elems[p];
                    if (!open) continue;
                    if (e.type == GE_RULE_REF) {
                        left[r].push_back(e.value);
                        if (!nullable[e.value]) open = false;
                    } else {
                        open = false;
                    }
                }
                if (g.elems[p].type == GE_END) break;
                p++;
            }
        }
        /* iterative DFS: 0 = new, 1 = on the path, 2 = done */
        std::vector<uint8_t> color(nr, 0);
        std::vector<std::pair<uint32_t, size_t>> stack;
        for (size_t s = 0; s < nr; s++) {
            if (color[s]) continue;
            stack.push_back({(uint32_t)s, 0});
            color[s] = 1;
            while (!stack.empty()) {
                auto &top = stack.back();
                if (top.second < left[top.first].size()) {
                    uint32_t nxt = left[top.first][top.second++];
                    if (color[nxt] == 1) fail(defined_at_[nxt], "left recursion in rule '" + g.rule_names[nxt] + "'");
                    if (color[nxt] == 0) {
                        color[nxt] = 1;
                        stack.push_back({nxt, 0});
                    }
                } else {
                    color[top.first] = 2;
                    stack.pop_back();
                }
            }
        }
    }

    const char *src_;
    size_t n_;
    std::unordered_map<std::string, uint32_t> ids_;
    std::vector<std::string> names_;
    std::vector<std::vector<Elem>> rules_;
    std::vector<bool> defined_;
    std::vector<size_t> first_use_;
    std::vector<size_t> defined_at_;
    std::vector<CharClass> classes_;
    int generated_ = 0;
    int nesting_ = 0;
    size_t total_elements_ = 0;
};

void line_column(const char *text, size_t length, size_t offset, int &line, int &column) {
    line = 1;
    column = 1;
    for (size_t i = 0; i < offset && i < length; i++) {
        if (text[i] == '\n') {
            line++;
            column = 1;
        } else {
            column++;
        }
    }
}

} // namespace

int32_t parse_gbnf(const char *text, size_t length, const char *root_name, Grammar &out, std::string &error) {
    Parser parser(text, length);
    try {
        parser.parse_all();
        parser.finish(root_name, out);
    } catch (const ParseFailure &f) {
        int line, column;
        line_column(text, length, f.offset, line, column);
        error = std::to_string(line) + ":" + std::to_string(column) + ": " + f.message;
        return FFL_ERR_INVALID_ARGUMENT;
    }
    return FFL_OK;
}

static void append_char(std::string &s, uint32_t cp, bool in_class) {
    if (cp == '"' || cp == '\\' || (in_class && (cp == ']' || cp == '-' || cp == '[' || cp == '^'))) {
        s += '\\';
        s += (char)cp;
    } else if (cp == '\n') {
        s += "\\n";
    } else if (cp == '\t') {
        s += "\\t";
    } else if (cp == '\r') {
        s += "\\r";
    } else if (cp < 0x20 || cp == 0x7F) {
        char buf[8];
        snprintf(buf, sizeof buf, "\\x%02X", cp);
        s += buf;
    } else if (cp < 0x80) {
        s += (char)cp;
    } else {
        char buf[12];
        snprintf(buf, sizeof buf, cp > 0xFFFF ? "\\U%08X" : "\\u%04X", cp);
        s += buf;
    }
}

std::string grammar_to_text(const Grammar &g) {
    std::string s;
    for (size_t r = 0; r < g.rule_start.size(); r++) {
        s += g.rule_names[r];
        s += " ::=";
        for (uint32_t p = g.rule_start[r];; p++) {
            const Elem &e = g.elems[p];
            /* an empty alternative is written "" (a trailing "|" would swallow the newline) */
            bool alt_start = p == g.rule_start[r] || g.elems[p - 1].type == GE_ALT;
            if (alt_start && (e.type == GE_ALT || e.type == GE_END)) s += " \"\"";
            if (e.type == GE_END) break;
            switch (e.type) {
            case GE_ALT: s += " |"; break;
            case GE_RULE_REF: s += " " + g.rule_names[e.value]; break;
            case GE_CHAR:
                s += " \"";
                append_char(s, e.value, false);
                s += "\"";
                break;
            case GE_ANY: s += " ."; break;
            case GE_CLASS: {
                const CharClass &c = g.classes[e.value];
                s += c.negated ? " [^" : " [";
                for (const auto &rg : c.ranges) {
                    append_char(s, rg.first, true);
                    if (rg.second != rg.first) {
                        s += '-';
                        append_char(s, rg.second, true);
                    }
                }
                s += "]";
                break;
            }
            default: break;
            }
        }
        s += "\n";
    }
    return s;
}

} // namespace ffl_sample
