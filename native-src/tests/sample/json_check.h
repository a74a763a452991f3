/* Test-side JSON reader and JSON Schema validator for the subset the converter supports,
 * written independently of the library's own reader. */
#ifndef FFL_TEST_JSON_CHECK_H
#define FFL_TEST_JSON_CHECK_H

#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace jc {

struct Value {
    enum Type { Null, Bool, Num, Str, Arr, Obj } type = Null;
    bool b = false;
    double n = 0;
    bool integral = false; /* written without fraction or exponent */
    std::string s;
    std::vector<Value> a;
    std::vector<std::pair<std::string, Value>> o;
    const Value *get(const std::string &k) const {
        for (const auto &m : o)
            if (m.first == k) return &m.second;
        return nullptr;
    }
};

class Reader {
public:
    explicit Reader(const std::string &t) : t_(t) {}
    bool read(Value &v) {
        ok_ = true;
        i_ = 0;
        value(v);
        ws();
        return ok_ && i_ == t_.size();
    }

private:
    void ws() {
        while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\n' || t_[i_] == '\t' || t_[i_] == '\r')) i_++;
    }
    bool eat(char c) {
        ws();
        if (i_ < t_.size() && t_[i_] == c) {
            i_++;
            return true;
        }
        return false;
    }
    void bad() { ok_ = false; }
    void value(Value &v) {
        ws();
        if (!ok_ || i_ >= t_.size()) return bad();
        char c = t_[i_];
        if (c == '{') {
            v.type = Value::Obj;
            i_++;
            if (eat('}')) return;
            do {
                ws();
                Value k;
                if (i_ >= t_.size() || t_[i_] != '"') return bad();
                str(k.s);
                if (!eat(':')) return bad();
                v.o.emplace_back(k.s, Value());
                value(v.o.back().second);
                if (!ok_) return;
            } while (eat(','));
            if (!eat('}')) bad();
        } else if (c == '[') {
            v.type = Value::Arr;
            i_++;
            if (eat(']')) return;
            do {
                v.a.emplace_back();
                value(v.a.back());
                if (!ok_) return;
            } while (eat(','));
            if (!eat(']')) bad();
        } else if (c == '"') {
            v.type = Value::Str;
            str(v.s);
        } else if (t_.compare(i_, 4, "true") == 0) {
            v.type = Value::Bool;
            v.b = true;
            i_ += 4;
        } else if (t_.compare(i_, 5, "false") == 0) {
            v.type = Value::Bool;
            i_ += 5;
        } else if (t_.compare(i_, 4, "null") == 0) {
            i_ += 4;
        } else {
            num(v);
        }
    }
    void str(std::string &out) {
        i_++;
        while (i_ < t_.size() && t_[i_] != '"') {
            unsigned char c = (unsigned char)t_[i_];
            if (c < 0x20) return bad();
            if (c == '\\') {
                if (++i_ >= t_.size()) return bad();
                char e = t_[i_];
                if (e == 'u') {
                    if (i_ + 4 >= t_.size()) return bad();
                    for (int k = 1; k <= 4; k++)
                        if (!isxdigit((unsigned char)t_[i_ + k])) return bad();
                    out += '?';
                    i_ += 4;
                } else if (std::string("\"\\/bfnrt").find(e) != std::string::npos) {
                    out += e;
                } else {
                    return bad();
                }
                i_++;
            } else {
                out += (char)c;
                i_++;
            }
        }
        if (i_ >= t_.size()) return bad();
        i_++;
    }
    void num(Value &v) {
        size_t st = i_;
        if (t_[i_] == '-') i_++;
        if (i_ >= t_.size() || !isdigit((unsigned char)t_[i_])) return bad();
        if (t_[i_] == '0') {
            i_++;
        } else {
            while (i_ < t_.size() && isdigit((unsigned char)t_[i_])) i_++;
        }
        v.integral = true;
        if (i_ < t_.size() && t_[i_] == '.') {
            v.integral = false;
            i_++;
            if (i_ >= t_.size() || !isdigit((unsigned char)t_[i_])) return bad();
            while (i_ < t_.size() && isdigit((unsigned char)t_[i_])) i_++;
        }
        if (i_ < t_.size() && (t_[i_] == 'e' || t_[i_] == 'E')) {
            v.integral = false;
            i_++;
            if (i_ < t_.size() && (t_[i_] == '+' || t_[i_] == '-')) i_++;
            if (i_ >= t_.size() || !isdigit((unsigned char)t_[i_])) return bad();
            while (i_ < t_.size() && isdigit((unsigned char)t_[i_])) i_++;
        }
        v.type = Value::Num;
        v.n = strtod(t_.substr(st, i_ - st).c_str(), nullptr);
    }
    const std::string &t_;
    size_t i_ = 0;
    bool ok_ = true;
};

inline bool equal(const Value &x, const Value &y) {
    if (x.type != y.type) return false;
    switch (x.type) {
    case Value::Null: return true;
    case Value::Bool: return x.b == y.b;
    case Value::Num: return x.n == y.n;
    case Value::Str: return x.s == y.s;
    case Value::Arr:
        if (x.a.size() != y.a.size()) return false;
        for (size_t i = 0; i < x.a.size(); i++)
            if (!equal(x.a[i], y.a[i])) return false;
        return true;
    case Value::Obj:
        if (x.o.size() != y.o.size()) return false;
        for (const auto &m : x.o) {
            const Value *w = y.get(m.first);
            if (!w || !equal(m.second, *w)) return false;
        }
        return true;
    }
    return false;
}

inline size_t utf8_length(const std::string &s) {
    size_t n = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80) n++;
    return n;
}

/* Validates v against schema s (root for $ref). why receives the first failure. */
inline bool validate(const Value &v, const Value &s, const Value &root, std::string &why, int depth = 0) {
    auto no = [&](const std::string &m) {
        why = m;
        return false;
    };
    if (depth > 100) return no("too deep");
    if (s.type == Value::Bool) return s.b ? true : no("false schema");
    if (const Value *ref = s.get("$ref")) {
        const Value *cur = &root;
        std::string path = ref->s.substr(2);
        size_t p = 0;
        while (p <= path.size()) {
            size_t q = path.find('/', p);
            std::string part = path.substr(p, q == std::string::npos ? std::string::npos : q - p);
            cur = cur->get(part);
            if (!cur) return no("bad ref");
            if (q == std::string::npos) break;
            p = q + 1;
        }
        return validate(v, *cur, root, why, depth + 1);
    }
    if (const Value *c = s.get("const")) return equal(v, *c) ? true : no("const");
    if (const Value *e = s.get("enum")) {
        for (const auto &x : e->a)
            if (equal(v, x)) return true;
        return no("enum");
    }
    for (const char *k : {"anyOf", "oneOf"}) {
        if (const Value *alts = s.get(k)) {
            for (const auto &a : alts->a) {
                std::string w;
                if (validate(v, a, root, w, depth + 1)) return true;
            }
            return no(std::string("no ") + k + " branch");
        }
    }
    if (const Value *all = s.get("allOf")) {
        for (const auto &a : all->a)
            if (!validate(v, a, root, why, depth + 1)) return false;
    }
    const Value *type = s.get("type");
    if (!type) return true;
    const std::string &t = type->s;
    if (t == "null") return v.type == Value::Null ? true : no("null");
    if (t == "boolean") return v.type == Value::Bool ? true : no("boolean");
    if (t == "number") return v.type == Value::Num ? true : no("number");
    if (t == "integer") {
        if (v.type != Value::Num || !v.integral) return no("integer");
        if (const Value *mn = s.get("minimum"))
            if (v.n < mn->n) return no("minimum");
        return true;
    }
    if (t == "string") {
        if (v.type != Value::Str) return no("string");
        size_t len = utf8_length(v.s);
        if (const Value *m = s.get("minLength"))
            if (len < (size_t)m->n) return no("minLength");
        if (const Value *m = s.get("maxLength"))
            if (len > (size_t)m->n) return no("maxLength");
        return true;
    }
    if (t == "array") {
        if (v.type != Value::Arr) return no("array");
        if (const Value *m = s.get("minItems"))
            if (v.a.size() < (size_t)m->n) return no("minItems");
        if (const Value *m = s.get("maxItems"))
            if (v.a.size() > (size_t)m->n) return no("maxItems");
        if (const Value *it = s.get("items"))
            for (const auto &x : v.a)
                if (!validate(x, *it, root, why, depth + 1)) return false;
        return true;
    }
    if (t == "object") {
        if (v.type != Value::Obj) return no("object");
        const Value *props = s.get("properties");
        if (const Value *req = s.get("required"))
            for (const auto &r : req->a)
                if (!v.get(r.s)) return no("missing " + r.s);
        const Value *addl = s.get("additionalProperties");
        for (const auto &m : v.o) {
            const Value *ps = props ? props->get(m.first) : nullptr;
            if (ps) {
                if (!validate(m.second, *ps, root, why, depth + 1)) return false;
            } else if (!addl || (addl->type == Value::Bool && !addl->b)) {
                return no("unexpected property " + m.first);
            } else if (!validate(m.second, *addl, root, why, depth + 1)) {
                return false;
            }
        }
        return true;
    }
    return no("unknown type " + t);
}

} // namespace jc

#endif
