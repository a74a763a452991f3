/* Backtracking regex engine for pre-tokenizer patterns; see regex.h for the dialect. */
#include "tokenizer/regex.h"

#include "tokenizer/unicode.h"

#include <memory>
#include <stdexcept>

namespace ffl_tok {

uint32_t regex_collapse(uint32_t cp) {
    if (cp < 0x80) return cp;
    uint16_t f = uc_flags(cp);
    if (f & UC_WHITESPACE) return 0x0B;
    switch (f & UC_CATEGORY_MASK) {
    case UC_NUMBER: return 0xD1;
    case UC_LETTER: return 0xD2;
    case UC_PUNCT: return 0xD3;
    case UC_MARK: return 0xD4;
    case UC_SYMBOL: return 0xD5;
    default: return 0xD0;
    }
}

uint32_t regex_widen(uint32_t cp) { return (cp > 0x7F && uc_is_whitespace(cp)) ? 0x0B : cp; }

void Regex::CharClass::add_range(uint32_t a, uint32_t b) {
    for (uint32_t c = a; c <= b && c < 256; ++c) bits[c >> 6] |= 1ull << (c & 63);
    if (b >= 256) wide.emplace_back(a < 256 ? 256 : a, b);
}

bool Regex::CharClass::test(uint32_t c) const {
    bool in;
    if (c < 256) {
        in = (bits[c >> 6] >> (c & 63)) & 1;
    } else {
        in = false;
        for (const auto &r : wide)
            if (c >= r.first && c <= r.second) {
                in = true;
                break;
            }
    }
    return in != negated;
}

struct Regex::Node {
    enum Kind { EMPTY, CLASS, CONCAT, ALT, REPEAT, LOOK, BEGIN, END } kind;
    int32_t cls = -1;
    int min = 0, max = 0; /* REPEAT: max -1 = unbounded */
    bool negate = false;  /* LOOK */
    std::vector<std::unique_ptr<Node>> kids;
    explicit Node(Kind k) : kind(k) {}
};

struct RegexCompiler {
    Regex &re;
    std::vector<uint32_t> p;
    size_t i = 0;

    RegexCompiler(Regex &r, const std::string &pattern) : re(r) { utf8_decode(pattern.data(), pattern.size(), p); }

    [[noreturn]] void fail(const char *why) {
        throw std::runtime_error(std::string("regex: ") + why + " at position " + std::to_string(i));
    }
    bool at_end() const { return i >= p.size(); }
    uint32_t peek(size_t k = 0) const { return i + k < p.size() ? p[i + k] : 0xFFFFFFFFu; }

    using NodeP = std::unique_ptr<Regex::Node>;

    static NodeP make(Regex::Node::Kind k) { return NodeP(new Regex::Node(k)); }

    int32_t new_class() {
        re.classes_.emplace_back();
        return (int32_t)re.classes_.size() - 1;
    }

    void check_literal(uint32_t c) {
        if (re.collapsed_ && c >= 0x80) fail("non-ASCII literal in a pattern that uses \\p{..}");
    }

    static void add_space(Regex::CharClass &cc) {
        cc.add_range(9, 13);
        cc.add_range(32, 32);
    }
    static void add_not_space(Regex::CharClass &cc) {
        cc.add_range(0, 8);
        cc.add_range(14, 31);
        cc.add_range(33, 0x10FFFF);
    }
    static void add_word(Regex::CharClass &cc) {
        cc.add_range('0', '9');
        cc.add_range('A', 'Z');
        cc.add_range('_', '_');
        cc.add_range('a', 'z');
    }

    /* \p{..} in collapsed mode: the category byte plus the ASCII members llama.cpp lists. */
    void add_property(Regex::CharClass &cc) {
        std::string name;
        if (peek() != '{') fail("expected { after \\p");
        ++i;
        while (!at_end() && peek() != '}') name.push_back((char)p[i++]);
        if (at_end()) fail("unterminated \\p{");
        ++i;
        if (!re.collapsed_) fail("internal: \\p in wide mode");
        if (name == "N") {
            cc.add_range(0xD1, 0xD1);
            cc.add_range('0', '9');
        } else if (name == "L" || name == "Lu" || name == "Ll" || name == "Lt" || name == "Lm" || name == "Lo") {
            cc.add_range(0xD2, 0xD2);
            cc.add_range('A', 'Z');
            cc.add_range('a', 'z');
        } else if (name == "P") {
            cc.add_range(0xD3, 0xD3);
            cc.add_range(0x21, 0x23);
            cc.add_range(0x25, 0x2A);
            cc.add_range(0x2C, 0x2F);
            cc.add_range(0x3A, 0x3B);
            cc.add_range(0x3F, 0x40);
            cc.add_range(0x5B, 0x5D);
            cc.add_range(0x5F, 0x5F);
            cc.add_range(0x7B, 0x7B);
            cc.add_range(0x7D, 0x7D);
        } else if (name == "M") {
            cc.add_range(0xD4, 0xD4);
        } else if (name == "S") {
            cc.add_range(0xD5, 0xD5);
            cc.add_range(0x24, 0x24);
            cc.add_range(0x2B, 0x2B);
            cc.add_range(0x3C, 0x3E);
            cc.add_range(0x5E, 0x5E);
            cc.add_range(0x60, 0x60);
            cc.add_range(0x7C, 0x7C);
        } else {
            fail("unsupported \\p{..} property");
        }
    }

    uint32_t hex_digits(int n) {
        uint32_t v = 0;
        for (int k = 0; k < n; ++k) {
            uint32_t c = peek();
            int d = (c >= '0' && c <= '9') ? (int)(c - '0') : (c >= 'a' && c <= 'f') ? (int)(c - 'a' + 10)
                  : (c >= 'A' && c <= 'F') ? (int)(c - 'A' + 10) : -1;
            if (d < 0) fail("bad hex escape");
            v = v * 16 + (uint32_t)d;
            ++i;
        }
        return v;
    }

    /* Parses the escape after a backslash. Returns a single character (>= 0) or -1 when it added a set to cc. */
    int64_t escape(Regex::CharClass &cc, bool in_class) {
        if (at_end()) fail("trailing backslash");
        uint32_t c = p[i++];
        switch (c) {
        case 's': add_space(cc); return -1;
        case 'S': add_not_space(cc); return -1;
        case 'd': cc.add_range('0', '9'); return -1;
        case 'D': cc.add_range(0, '0' - 1); cc.add_range('9' + 1, 0x10FFFF); return -1;
        case 'w': add_word(cc); return -1;
        case 'W':
            cc.add_range(0, '0' - 1);
            cc.add_range('9' + 1, 'A' - 1);
            cc.add_range('Z' + 1, '_' - 1);
            cc.add_range('_' + 1, 'a' - 1);
            cc.add_range('z' + 1, 0x10FFFF);
            return -1;
        case 'p': add_property(cc); return -1;
        case 'r': return '\r';
        case 'n': return '\n';
        case 't': return '\t';
        case 'f': return '\f';
        case 'v': return '\v';
        case '0': return 0;
        case 'x': return hex_digits(2);
        case 'u': return hex_digits(4);
        case 'b':
            if (in_class) return 8;
            fail("\\b is not supported");
        default:
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) fail("unsupported escape");
            return c;
        }
    }

    NodeP parse_class() {
        /* at '[' already consumed */
        int32_t id = new_class();
        Regex::CharClass cc;
        if (peek() == '^') {
            cc.negated = true;
            ++i;
        }
        bool first = true;
        while (true) {
            if (at_end()) fail("unterminated [");
            uint32_t c = p[i];
            if (c == ']' && !first) {
                ++i;
                break;
            }
            first = false;
            int64_t lo;
            ++i;
            if (c == '\\') {
                lo = escape(cc, true);
                if (lo < 0) continue;
            } else {
                lo = c;
                check_literal(c);
            }
            if (peek() == '-' && peek(1) != ']' && peek(1) != 0xFFFFFFFFu) {
                ++i;
                uint32_t c2 = p[i++];
                int64_t hi;
                if (c2 == '\\') {
                    hi = escape(cc, true);
                    if (hi < 0) fail("class escape as range end");
                } else {
                    hi = c2;
                    check_literal(c2);
                }
                if (hi < lo) fail("reversed range");
                cc.add_range((uint32_t)lo, (uint32_t)hi);
            } else {
                cc.add_range((uint32_t)lo, (uint32_t)lo);
            }
        }
        re.classes_[(size_t)id] = cc;
        NodeP n = make(Regex::Node::CLASS);
        n->cls = id;
        return n;
    }

    NodeP parse_atom() {
        uint32_t c = p[i++];
        switch (c) {
        case '(': {
            NodeP n;
            if (peek() == '?') {
                uint32_t k = peek(1);
                i += 2;
                if (k == ':') {
                    n = parse_alt();
                } else if (k == '=' || k == '!') {
                    n = make(Regex::Node::LOOK);
                    n->negate = (k == '!');
                    n->kids.push_back(parse_alt());
                } else {
                    fail("unsupported group");
                }
            } else {
                n = parse_alt();
            }
            if (peek() != ')') fail("missing )");
            ++i;
            return n;
        }
        case '[': return parse_class();
        case '.': {
            NodeP n = make(Regex::Node::CLASS);
            n->cls = new_class();
            Regex::CharClass &cc = re.classes_[(size_t)n->cls];
            cc.negated = true;
            cc.add_range('\n', '\n');
            cc.add_range('\r', '\r');
            cc.add_range(0x2028, 0x2029);
            return n;
        }
        case '^': return make(Regex::Node::BEGIN);
        case '$': return make(Regex::Node::END);
        case '\\': {
            Regex::CharClass cc;
            int64_t ch = escape(cc, false);
            if (ch >= 0) cc.add_range((uint32_t)ch, (uint32_t)ch);
            NodeP n = make(Regex::Node::CLASS);
            n->cls = new_class();
            re.classes_[(size_t)n->cls] = cc;
            return n;
        }
        case '*': case '+': case '?': case ')': case '|':
            fail("misplaced operator");
        default: {
            check_literal(c);
            NodeP n = make(Regex::Node::CLASS);
            n->cls = new_class();
            re.classes_[(size_t)n->cls].add_range(c, c);
            return n;
        }
        }
    }

    /* Tries to read {n}, {n,}, {n,m}; leaves i unchanged and returns false if it is not one. */
    bool parse_braces(int &mn, int &mx) {
        size_t save = i;
        ++i;
        auto number = [&](int &v) {
            size_t start = i;
            v = 0;
            while (!at_end() && p[i] >= '0' && p[i] <= '9') {
                v = v * 10 + (int)(p[i] - '0');
                if (v > 1000) fail("repeat count too large");
                ++i;
            }
            return i > start;
        };
        if (!number(mn)) {
            i = save;
            return false;
        }
        mx = mn;
        if (peek() == ',') {
            ++i;
            if (!number(mx)) mx = -1;
        }
        if (peek() != '}') {
            i = save;
            return false;
        }
        ++i;
        if (mx >= 0 && mx < mn) fail("bad repeat range");
        return true;
    }

    NodeP parse_repeat() {
        NodeP atom = parse_atom();
        while (!at_end()) {
            uint32_t c = peek();
            int mn, mx;
            if (c == '*') { mn = 0; mx = -1; ++i; }
            else if (c == '+') { mn = 1; mx = -1; ++i; }
            else if (c == '?') { mn = 0; mx = 1; ++i; }
            else if (c == '{') {
                if (!parse_braces(mn, mx)) break;
            } else break;
            if (peek() == '?') fail("lazy quantifiers are not supported");
            NodeP r = make(Regex::Node::REPEAT);
            r->min = mn;
            r->max = mx;
            r->kids.push_back(std::move(atom));
            atom = std::move(r);
        }
        return atom;
    }

    NodeP parse_concat() {
        NodeP n = make(Regex::Node::CONCAT);
        while (!at_end() && peek() != '|' && peek() != ')') n->kids.push_back(parse_repeat());
        return n;
    }

    NodeP parse_alt() {
        NodeP first = parse_concat();
        if (peek() != '|') return first;
        NodeP n = make(Regex::Node::ALT);
        n->kids.push_back(std::move(first));
        while (peek() == '|') {
            ++i;
            n->kids.push_back(parse_concat());
        }
        return n;
    }

    static bool nullable(const Regex::Node &n) {
        switch (n.kind) {
        case Regex::Node::CLASS: return false;
        case Regex::Node::CONCAT:
            for (const auto &k : n.kids)
                if (!nullable(*k)) return false;
            return true;
        case Regex::Node::ALT:
            for (const auto &k : n.kids)
                if (nullable(*k)) return true;
            return false;
        case Regex::Node::REPEAT: return n.min == 0 || nullable(*n.kids[0]);
        default: return true;
        }
    }

    int32_t emit(Regex::Op op, int32_t x = 0, int32_t y = 0) {
        re.prog_.push_back({op, x, y});
        return (int32_t)re.prog_.size() - 1;
    }
    int32_t pc() const { return (int32_t)re.prog_.size(); }

    void compile(const Regex::Node &n) {
        switch (n.kind) {
        case Regex::Node::EMPTY: break;
        case Regex::Node::CLASS: emit(Regex::CHAR, n.cls); break;
        case Regex::Node::CONCAT:
            for (const auto &k : n.kids) compile(*k);
            break;
        case Regex::Node::ALT: {
            std::vector<int32_t> jumps;
            for (size_t k = 0; k < n.kids.size(); ++k) {
                if (k + 1 < n.kids.size()) {
                    int32_t split = emit(Regex::SPLIT, pc() + 1, 0);
                    compile(*n.kids[k]);
                    jumps.push_back(emit(Regex::JMP));
                    re.prog_[(size_t)split].y = pc();
                } else {
                    compile(*n.kids[k]);
                }
            }
            for (int32_t j : jumps) re.prog_[(size_t)j].x = pc();
            break;
        }
        case Regex::Node::REPEAT: {
            const Regex::Node &body = *n.kids[0];
            if (n.max != 0 && (n.max < 0 || n.max > n.min) && nullable(body)) fail("loop over a pattern that can match empty");
            if (n.max < 0 && body.kind == Regex::Node::CLASS) { /* X* / X+ over one class: one instruction */
                emit(Regex::STAR, body.cls, n.min);
                break;
            }
            for (int k = 0; k < n.min; ++k) compile(body);
            if (n.max < 0) {
                int32_t loop = emit(Regex::SPLIT, pc() + 1, 0);
                compile(body);
                emit(Regex::JMP, loop);
                re.prog_[(size_t)loop].y = pc();
            } else {
                std::vector<int32_t> splits;
                for (int k = n.min; k < n.max; ++k) {
                    splits.push_back(emit(Regex::SPLIT, pc() + 1, 0));
                    compile(body);
                }
                for (int32_t s : splits) re.prog_[(size_t)s].y = pc();
            }
            break;
        }
        case Regex::Node::LOOK: {
            int32_t look = emit(n.negate ? Regex::LOOK_NEG : Regex::LOOK_POS);
            compile(*n.kids[0]);
            emit(Regex::MATCH);
            re.prog_[(size_t)look].x = pc();
            break;
        }
        case Regex::Node::BEGIN: emit(Regex::BEGIN); break;
        case Regex::Node::END: emit(Regex::END); break;
        }
    }
};

Regex::Regex(const std::string &pattern) {
    static const char *const props[] = {"\\p{N}", "\\p{L}", "\\p{P}", "\\p{M}", "\\p{S}",
                                        "\\p{Lu}", "\\p{Ll}", "\\p{Lt}", "\\p{Lm}", "\\p{Lo}"};
    for (const char *prop : props)
        if (pattern.find(prop) != std::string::npos) collapsed_ = true;
    RegexCompiler c(*this, pattern);
    auto root = c.parse_alt();
    if (!c.at_end()) c.fail("unbalanced )");
    c.compile(*root);
    c.emit(MATCH);
    compute_first_set();
}

void Regex::compute_first_set() {
    std::vector<char> seen(prog_.size(), 0);
    std::vector<int32_t> todo{0};
    bool wide_any = false;
    while (!todo.empty()) {
        int32_t pc = todo.back();
        todo.pop_back();
        if (seen[(size_t)pc]) continue;
        seen[(size_t)pc] = 1;
        const Inst &in = prog_[(size_t)pc];
        switch (in.op) {
        case STAR:
            if (in.y == 0) todo.push_back(pc + 1);
            /* fall through */
        case CHAR: {
            const CharClass &cc = classes_[(size_t)in.x];
            for (uint32_t c = 0; c < 256; ++c)
                if (cc.test(c)) first_.bits[c >> 6] |= 1ull << (c & 63);
            if (cc.negated || !cc.wide.empty()) wide_any = true;
            break;
        }
        case SPLIT: todo.push_back(in.x); todo.push_back(in.y); break;
        case JMP: todo.push_back(in.x); break;
        case MATCH: nullable_ = true; break;
        case BEGIN: case END: todo.push_back(pc + 1); break;
        case LOOK_POS: case LOOK_NEG: todo.push_back(in.x); break;
        }
    }
    if (wide_any) first_.wide.emplace_back(256, 0xFFFFFFFFu);
}

bool Regex::exec(const uint32_t *e, size_t begin, size_t end, int32_t pc0, size_t pos0, bool not_null, size_t *out_end,
                 std::vector<Choice> &stack) const {
    static const size_t kNone = (size_t)-1;
    const size_t base = stack.size();
    stack.push_back({pc0, pos0, kNone});
    while (stack.size() > base) {
        Choice c = stack.back();
        stack.pop_back();
        int32_t pc = c.pc;
        size_t pos = c.pos;
        if (c.lo != kNone) { /* give back one character of a greedy loop */
            pos = c.pos - 1;
            if (pos > c.lo) stack.push_back({pc, pos, c.lo});
        }
        for (;;) {
            const Inst &in = prog_[(size_t)pc];
            bool ok = true;
            switch (in.op) {
            case CHAR:
                if (pos < end && classes_[(size_t)in.x].test(e[pos])) {
                    ++pos;
                    ++pc;
                } else {
                    ok = false;
                }
                break;
            case STAR: {
                const CharClass &cc = classes_[(size_t)in.x];
                size_t p = pos;
                while (p < end && cc.test(e[p])) ++p;
                size_t lo = pos + (size_t)in.y;
                if (p < lo) {
                    ok = false;
                    break;
                }
                if (p > lo) stack.push_back({pc + 1, p, lo});
                pos = p;
                ++pc;
                break;
            }
            case SPLIT: {
                /* Skip a branch whose first instruction already fails here. */
                const Inst &a = prog_[(size_t)in.x], &b = prog_[(size_t)in.y];
                bool a_dead = a.op == CHAR && !(pos < end && classes_[(size_t)a.x].test(e[pos]));
                bool b_dead = b.op == CHAR && !(pos < end && classes_[(size_t)b.x].test(e[pos]));
                if (a_dead) {
                    if (b_dead) ok = false;
                    else pc = in.y;
                } else {
                    if (!b_dead) stack.push_back({in.y, pos, kNone});
                    pc = in.x;
                }
                break;
            }
            case JMP: pc = in.x; break;
            case MATCH:
                if (not_null && pos == pos0) {
                    ok = false;
                    break;
                }
                stack.resize(base);
                *out_end = pos;
                return true;
            case BEGIN:
                if (pos == begin) ++pc;
                else ok = false;
                break;
            case END:
                if (pos == end) ++pc;
                else ok = false;
                break;
            case LOOK_POS:
            case LOOK_NEG: {
                size_t ignored;
                bool found = exec(e, begin, end, pc + 1, pos, false, &ignored, stack);
                if (found == (in.op == LOOK_POS)) pc = in.x;
                else ok = false;
                break;
            }
            }
            if (!ok) break;
        }
    }
    return false;
}

bool Regex::search(const uint32_t *e, size_t begin, size_t end, size_t from, size_t *match_begin, size_t *match_end) const {
    thread_local std::vector<Choice> stack;
    stack.clear();
    for (size_t s = from; s < end; ++s) {
        if (!nullable_ && !first_.test(e[s])) continue;
        if (exec(e, begin, end, 0, s, false, match_end, stack)) {
            *match_begin = s;
            return true;
        }
    }
    if (nullable_ && from <= end && exec(e, begin, end, 0, end, false, match_end, stack)) {
        *match_begin = end;
        return true;
    }
    return false;
}

bool Regex::match_at(const uint32_t *e, size_t begin, size_t end, size_t pos, bool not_null, size_t *match_end) const {
    thread_local std::vector<Choice> stack;
    stack.clear();
    return exec(e, begin, end, 0, pos, not_null, match_end, stack);
}

} // namespace ffl_tok
