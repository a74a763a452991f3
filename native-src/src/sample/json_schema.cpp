/* JSON Schema -> GBNF for the subset models are usually asked for: objects (properties,
 * required, additionalProperties, false by default), arrays (items, prefixItems, minItems,
 * maxItems), strings (minLength, maxLength, a few formats), numbers, integers, booleans,
 * null, enum, const, anyOf/oneOf, allOf of objects, and $ref into #/definitions or #/$defs.
 * Output follows JSON's grammar with optional whitespace after every token ("space"),
 * the shape llama.cpp's converter produces. */
#include "sample/json_schema.h"

#include "common/ffl_internal.h"
#include "sample/json.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>
#include <vector>

namespace ffl_sample {

namespace {

constexpr int kMaxDepth = 256;
constexpr int kMaxRepeat = 2000; /* the GBNF parser's repetition limit */

struct SchemaError {
    int32_t status;
    std::string message;
};

/* Primitive rules and the rules they use. */
struct Primitive {
    const char *name;
    const char *body;
    std::vector<const char *> deps;
};

const std::vector<Primitive> &primitives() {
    static const std::vector<Primitive> p = {
        {"space", "| \" \" | \"\\n\" [ \\t]{0,20}", {}},
        {"boolean", "(\"true\" | \"false\") space", {"space"}},
        {"null", "\"null\" space", {"space"}},
        {"integral-part", "[0] | [1-9] [0-9]{0,15}", {}},
        {"decimal-part", "[0-9]{1,16}", {}},
        {"number", "(\"-\"? integral-part) (\".\" decimal-part)? ([eE] [-+]? integral-part)? space",
         {"integral-part", "decimal-part", "space"}},
        {"integer", "(\"-\"? integral-part) space", {"integral-part", "space"}},
        {"non-negative-integer", "integral-part space", {"integral-part", "space"}},
        {"positive-integer", "[1-9] [0-9]{0,15} space", {"space"}},
        {"char", "[^\"\\\\\\x7F\\x00-\\x1F] | [\\\\] ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4})", {}},
        {"string", "\"\\\"\" char* \"\\\"\" space", {"char", "space"}},
        {"value", "object | array | string | number | boolean | null",
         {"object", "array", "string", "number", "boolean", "null"}},
        {"object", "\"{\" space ( string \":\" space value (\",\" space string \":\" space value)* )? \"}\" space",
         {"string", "value", "space"}},
        {"array", "\"[\" space ( value (\",\" space value)* )? \"]\" space", {"value", "space"}},
        {"date", "[0-9]{4} \"-\" ( \"0\" [1-9] | \"1\" [0-2] ) \"-\" ( \"0\" [1-9] | [1-2] [0-9] | \"3\" [0-1] )", {}},
        {"time",
         "( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] \":\" [0-5] [0-9] ( \".\" [0-9]{3} )? "
         "( \"Z\" | ( \"+\" | \"-\" ) ( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] )",
         {}},
        {"date-time", "date \"T\" time", {"date", "time"}},
        {"uuid", "[0-9a-fA-F]{8} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{12}", {}},
        {"date-string", "\"\\\"\" date \"\\\"\" space", {"date", "space"}},
        {"time-string", "\"\\\"\" time \"\\\"\" space", {"time", "space"}},
        {"date-time-string", "\"\\\"\" date-time \"\\\"\" space", {"date-time", "space"}},
        {"uuid-string", "\"\\\"\" uuid \"\\\"\" space", {"uuid", "space"}},
    };
    return p;
}

/* A GBNF string literal for the given bytes. */
std::string gbnf_literal(const std::string &bytes) {
    std::string s = "\"";
    for (unsigned char c : bytes) {
        switch (c) {
        case '"': s += "\\\""; break;
        case '\\': s += "\\\\"; break;
        case '\n': s += "\\n"; break;
        case '\r': s += "\\r"; break;
        case '\t': s += "\\t"; break;
        default:
            if (c < 0x20 || c == 0x7F) {
                char buf[8];
                snprintf(buf, sizeof buf, "\\x%02X", c);
                s += buf;
            } else {
                s += (char)c;
            }
        }
    }
    s += "\"";
    return s;
}

std::string sanitize_name(const std::string &name) {
    std::string s;
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        s += ok ? c : '-';
    }
    if (s.empty()) s = "r";
    return s;
}

std::string repeat_suffix(int64_t lo, int64_t hi) {
    /* hi < 0: unbounded */
    if (hi >= 0 && hi > kMaxRepeat) hi = -1;
    if (lo > kMaxRepeat) lo = kMaxRepeat;
    if (hi < 0) {
        if (lo == 0) return "*";
        if (lo == 1) return "+";
        return "{" + std::to_string(lo) + ",}";
    }
    if (lo == hi) return lo == 1 ? "" : "{" + std::to_string(lo) + "}";
    if (lo == 0 && hi == 1) return "?";
    return "{" + std::to_string(lo) + "," + std::to_string(hi) + "}";
}

class Converter {
public:
    explicit Converter(const JsonValue &root) : root_(root) {
        /* "root" is written last, and primitive names stay free for the primitives */
        reserved_.insert("root");
        for (const auto &p : primitives()) reserved_.insert(p.name);
    }

    std::string run() {
        std::string expr = visit(root_, "root", 0);
        std::string out = "root ::= " + expr + "\n";
        for (const auto &name : order_) out += name + " ::= " + rules_[name] + "\n";
        return out;
    }

private:
    [[noreturn]] void fail(int32_t status, const std::string &msg) const { throw SchemaError{status, msg}; }

    void use_primitive(const std::string &name) {
        if (rules_.count(name)) return;
        for (const auto &p : primitives()) {
            if (name != p.name) continue;
            reserved_.erase(name);
            add_rule_exact(name, p.body);
            for (const char *d : p.deps) use_primitive(d);
            return;
        }
    }

    void add_rule_exact(const std::string &name, const std::string &body) {
        rules_[name] = body;
        order_.push_back(name);
    }

    /* Adds `name ::= body` under a free name (reusing an identical rule) and returns the name. */
    std::string add_rule(const std::string &wanted, const std::string &body) {
        std::string base = sanitize_name(wanted);
        std::string name = base;
        for (int i = 1;; i++) {
            auto it = rules_.find(name);
            if (it == rules_.end() && !reserved_.count(name)) break;
            if (it != rules_.end() && it->second == body) return name;
            name = base + "-" + std::to_string(i);
        }
        add_rule_exact(name, body);
        return name;
    }

    /* A name nobody else will take, for a rule defined later (recursive $ref). */
    std::string reserve_name(const std::string &wanted) {
        std::string base = sanitize_name(wanted);
        std::string name = base;
        for (int i = 1; rules_.count(name) || reserved_.count(name); i++) name = base + "-" + std::to_string(i);
        reserved_.insert(name);
        return name;
    }

    const JsonValue &resolve_ref(const std::string &ref) {
        if (ref.empty() || ref[0] != '#') fail(FFL_ERR_UNSUPPORTED, "only local $ref ('#/...') is supported: " + ref);
        const JsonValue *cur = &root_;
        size_t pos = 1;
        if (pos < ref.size() && ref[pos] != '/') fail(FFL_ERR_INVALID_ARGUMENT, "invalid $ref: " + ref);
        while (pos < ref.size()) {
            size_t next = ref.find('/', pos + 1);
            std::string part = ref.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
            std::string key;
            for (size_t i = 0; i < part.size(); i++) {
                if (part[i] == '~' && i + 1 < part.size() && (part[i + 1] == '0' || part[i + 1] == '1')) {
                    key += part[i + 1] == '0' ? '~' : '/';
                    i++;
                } else {
                    key += part[i];
                }
            }
            if (cur->kind == JsonValue::OBJECT) {
                cur = cur->get(key);
            } else if (cur->kind == JsonValue::ARRAY && !key.empty() &&
                       key.find_first_not_of("0123456789") == std::string::npos && std::stoul(key) < cur->items.size()) {
                cur = &cur->items[std::stoul(key)];
            } else {
                cur = nullptr;
            }
            if (!cur) fail(FFL_ERR_INVALID_ARGUMENT, "$ref target not found: " + ref);
            if (next == std::string::npos) break;
            pos = next;
        }
        return *cur;
    }

    std::string visit_ref(const std::string &ref, int depth) {
        auto it = ref_rules_.find(ref);
        if (it != ref_rules_.end()) return it->second;
        const JsonValue &target = resolve_ref(ref);
        size_t slash = ref.find_last_of('/');
        std::string wanted = slash == std::string::npos || slash + 1 >= ref.size() ? "ref" : ref.substr(slash + 1);
        std::string name = reserve_name(wanted);
        ref_rules_[ref] = name;
        std::string body = visit(target, name, depth + 1);
        reserved_.erase(name);
        add_rule_exact(name, body);
        return name;
    }

    static bool is_annotation_only(const std::string &key) {
        static const std::set<std::string> ignored = {
            "$schema", "$id", "$comment", "title", "description", "default", "examples", "deprecated", "readOnly",
            "writeOnly", "nullable", "format", "definitions", "$defs", "contentMediaType", "contentEncoding"};
        return ignored.count(key) > 0;
    }

    void reject_unsupported(const JsonValue &s) {
        static const std::set<std::string> unsupported = {"pattern", "patternProperties", "not", "if", "then", "else",
                                                          "contains", "dependentSchemas", "dependentRequired",
                                                          "propertyNames", "minProperties", "maxProperties",
                                                          "unevaluatedProperties", "unevaluatedItems"};
        for (const auto &m : s.members) {
            if (unsupported.count(m.first)) fail(FFL_ERR_UNSUPPORTED, "JSON Schema keyword '" + m.first + "' is not supported");
            if (m.first == "uniqueItems" && m.second.kind == JsonValue::BOOL && m.second.boolean)
                fail(FFL_ERR_UNSUPPORTED, "JSON Schema keyword 'uniqueItems' is not supported");
        }
    }

    int64_t get_count(const JsonValue &s, const char *key, int64_t dflt) {
        const JsonValue *v = s.get(key);
        if (!v) return dflt;
        if (!v->is_integer() || v->number < 0) fail(FFL_ERR_INVALID_ARGUMENT, std::string("'") + key + "' must be a non-negative integer");
        return v->number > 1e9 ? (int64_t)1000000000 : (int64_t)v->number;
    }

    /* Returns a GBNF expression (a rule name or a group) matching the schema's instances. */
    std::string visit(const JsonValue &s, const std::string &name, int depth) {
        if (depth > kMaxDepth) fail(FFL_ERR_INVALID_ARGUMENT, "schema nested too deeply");
        if (s.kind == JsonValue::BOOL) {
            if (!s.boolean) fail(FFL_ERR_INVALID_ARGUMENT, "schema 'false' at '" + name + "' allows no value");
            use_primitive("value");
            return "value";
        }
        if (s.kind != JsonValue::OBJECT) fail(FFL_ERR_INVALID_ARGUMENT, "schema at '" + name + "' must be an object or a boolean");
        reject_unsupported(s);

        if (const JsonValue *ref = s.get("$ref")) {
            if (ref->kind != JsonValue::STRING) fail(FFL_ERR_INVALID_ARGUMENT, "'$ref' must be a string");
            return visit_ref(ref->text, depth);
        }
        if (const JsonValue *c = s.get("const")) {
            use_primitive("space");
            return gbnf_literal(json_dump(*c)) + " space";
        }
        if (const JsonValue *e = s.get("enum")) {
            if (e->kind != JsonValue::ARRAY || e->items.empty()) fail(FFL_ERR_INVALID_ARGUMENT, "'enum' must be a non-empty array");
            std::string body = "(";
            for (size_t i = 0; i < e->items.size(); i++) {
                if (i) body += " | ";
                body += gbnf_literal(json_dump(e->items[i]));
            }
            body += ") space";
            use_primitive("space");
            return add_rule(name, body);
        }
        for (const char *key : {"anyOf", "oneOf"}) {
            if (const JsonValue *alts = s.get(key)) {
                if (alts->kind != JsonValue::ARRAY || alts->items.empty())
                    fail(FFL_ERR_INVALID_ARGUMENT, std::string("'") + key + "' must be a non-empty array");
                std::string body;
                for (size_t i = 0; i < alts->items.size(); i++) {
                    if (i) body += " | ";
                    body += visit(alts->items[i], name + "-" + std::to_string(i), depth + 1);
                }
                return add_rule(name, body);
            }
        }
        if (const JsonValue *all = s.get("allOf")) return visit_all_of(s, *all, name, depth);

        const JsonValue *type = s.get("type");
        if (type && type->kind == JsonValue::ARRAY) {
            if (type->items.empty()) fail(FFL_ERR_INVALID_ARGUMENT, "'type' must not be an empty array");
            std::string body;
            for (size_t i = 0; i < type->items.size(); i++) {
                if (type->items[i].kind != JsonValue::STRING) fail(FFL_ERR_INVALID_ARGUMENT, "'type' entries must be strings");
                if (i) body += " | ";
                body += visit_typed(s, type->items[i].text, name + "-" + type->items[i].text, depth);
            }
            return add_rule(name, body);
        }
        if (type && type->kind != JsonValue::STRING) fail(FFL_ERR_INVALID_ARGUMENT, "'type' must be a string or an array of strings");
        std::string t;
        if (type) {
            t = type->text;
        } else if (s.get("properties") || s.get("additionalProperties") || s.get("required")) {
            t = "object";
        } else if (s.get("items") || s.get("prefixItems") || s.get("minItems") || s.get("maxItems")) {
            t = "array";
        } else if (s.get("minLength") || s.get("maxLength")) {
            t = "string";
        } else {
            use_primitive("value");
            return "value";
        }
        return visit_typed(s, t, name, depth);
    }

    std::string visit_typed(const JsonValue &s, const std::string &t, const std::string &name, int depth) {
        if (t == "object") return visit_object(s, name, depth);
        if (t == "array") return visit_array(s, name, depth);
        if (t == "string") return visit_string(s, name);
        for (const char *bound : {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}) {
            if (s.get(bound) && !(t == "integer" && (std::string(bound) == "minimum" || std::string(bound) == "exclusiveMinimum")))
                FFL_LOGW("json schema: '%s' at '%s' is not enforced by the grammar", bound, name.c_str());
        }
        if (t == "boolean" || t == "null" || t == "number") {
            use_primitive(t);
            return t;
        }
        if (t == "integer") {
            const JsonValue *mn = s.get("minimum");
            const JsonValue *xmn = s.get("exclusiveMinimum");
            const char *prim = "integer";
            if ((mn && mn->kind == JsonValue::NUMBER && mn->number >= 1) || (xmn && xmn->kind == JsonValue::NUMBER && xmn->number >= 0)) {
                prim = "positive-integer";
            } else if (mn && mn->kind == JsonValue::NUMBER && mn->number >= 0) {
                prim = "non-negative-integer";
            }
            use_primitive(prim);
            return prim;
        }
        fail(FFL_ERR_INVALID_ARGUMENT, "unknown type '" + t + "'");
    }

    std::string visit_string(const JsonValue &s, const std::string &name) {
        if (const JsonValue *f = s.get("format")) {
            if (f->kind == JsonValue::STRING) {
                for (const char *fmt : {"date", "time", "date-time", "uuid"}) {
                    if (f->text == fmt) {
                        std::string prim = std::string(fmt) + "-string";
                        use_primitive(prim);
                        return prim;
                    }
                }
            }
        }
        int64_t lo = get_count(s, "minLength", 0);
        int64_t hi = get_count(s, "maxLength", -1);
        if (hi >= 0 && hi < lo) fail(FFL_ERR_INVALID_ARGUMENT, "maxLength is below minLength at '" + name + "'");
        if (lo == 0 && hi < 0) {
            use_primitive("string");
            return "string";
        }
        use_primitive("char");
        use_primitive("space");
        return add_rule(name, "\"\\\"\" char" + repeat_suffix(lo, hi) + " \"\\\"\" space");
    }

    std::string visit_array(const JsonValue &s, const std::string &name, int depth) {
        use_primitive("space");
        const JsonValue *items = s.get("items");
        const JsonValue *prefix = s.get("prefixItems");
        if (items && items->kind == JsonValue::ARRAY) {
            prefix = items; /* draft-4 tuple form */
            items = nullptr;
        }
        if (prefix) {
            if (prefix->kind != JsonValue::ARRAY) fail(FFL_ERR_INVALID_ARGUMENT, "'prefixItems' must be an array");
            std::string body = "\"[\" space";
            for (size_t i = 0; i < prefix->items.size(); i++) {
                if (i) body += " \",\" space";
                body += " " + visit(prefix->items[i], name + "-" + std::to_string(i), depth + 1);
            }
            body += " \"]\" space";
            return add_rule(name, body);
        }
        std::string item;
        if (items) {
            item = visit(*items, name + "-item", depth + 1);
        } else {
            use_primitive("value");
            item = "value";
        }
        int64_t lo = get_count(s, "minItems", 0);
        int64_t hi = get_count(s, "maxItems", -1);
        if (hi >= 0 && hi < lo) fail(FFL_ERR_INVALID_ARGUMENT, "maxItems is below minItems at '" + name + "'");
        std::string body;
        if (hi == 0) {
            body = "\"[\" space \"]\" space";
        } else if (lo == 0) {
            body = "\"[\" space ( " + item + " (\",\" space " + item + ")" + repeat_suffix(0, hi < 0 ? -1 : hi - 1) +
                   " )? \"]\" space";
        } else {
            std::string rest = lo == 1 && hi == 1 ? "" : " (\",\" space " + item + ")" + repeat_suffix(lo - 1, hi < 0 ? -1 : hi - 1);
            body = "\"[\" space " + item + rest + " \"]\" space";
        }
        return add_rule(name, body);
    }

    struct Property {
        std::string key;
        const JsonValue *schema;
        bool required;
    };

    std::string visit_object(const JsonValue &s, const std::string &name, int depth) {
        std::vector<Property> props;
        std::set<std::string> required;
        const JsonValue *additional = nullptr;
        collect_object(s, props, required, additional);
        return build_object(props, required, additional, name, depth);
    }

    void collect_object(const JsonValue &s, std::vector<Property> &props, std::set<std::string> &required,
                        const JsonValue *&additional) {
        if (const JsonValue *req = s.get("required")) {
            if (req->kind != JsonValue::ARRAY) fail(FFL_ERR_INVALID_ARGUMENT, "'required' must be an array");
            for (const auto &r : req->items) {
                if (r.kind != JsonValue::STRING) fail(FFL_ERR_INVALID_ARGUMENT, "'required' entries must be strings");
                required.insert(r.text);
            }
        }
        if (const JsonValue *p = s.get("properties")) {
            if (p->kind != JsonValue::OBJECT) fail(FFL_ERR_INVALID_ARGUMENT, "'properties' must be an object");
            for (const auto &m : p->members) {
                auto it = std::find_if(props.begin(), props.end(), [&](const Property &x) { return x.key == m.first; });
                if (it != props.end()) {
                    it->schema = &m.second;
                } else {
                    props.push_back({m.first, &m.second, false});
                }
            }
        }
        if (const JsonValue *a = s.get("additionalProperties")) additional = a;
    }

    /* allOf: objects merge their properties and required lists; a single entry is itself. */
    std::string visit_all_of(const JsonValue &s, const JsonValue &all, const std::string &name, int depth) {
        if (all.kind != JsonValue::ARRAY || all.items.empty()) fail(FFL_ERR_INVALID_ARGUMENT, "'allOf' must be a non-empty array");
        if (all.items.size() == 1 && !s.get("properties")) return visit(all.items[0], name, depth + 1);
        std::vector<Property> props;
        std::set<std::string> required;
        const JsonValue *additional = nullptr;
        std::vector<const JsonValue *> parts;
        for (const auto &item : all.items) parts.push_back(&item);
        parts.push_back(&s);
        for (const JsonValue *part : parts) {
            const JsonValue *p = part;
            for (int hops = 0; p->kind == JsonValue::OBJECT && p->get("$ref"); hops++) {
                if (hops > 64 || p->get("$ref")->kind != JsonValue::STRING) fail(FFL_ERR_INVALID_ARGUMENT, "invalid $ref in allOf");
                p = &resolve_ref(p->get("$ref")->text);
            }
            if (p->kind != JsonValue::OBJECT) fail(FFL_ERR_UNSUPPORTED, "allOf is supported for object schemas only");
            const JsonValue *t = p->get("type");
            bool objectish = (t && t->kind == JsonValue::STRING && t->text == "object") || p->get("properties") ||
                             p->get("required") || (p == &s);
            if (!objectish) fail(FFL_ERR_UNSUPPORTED, "allOf is supported for object schemas only");
            reject_unsupported(*p);
            collect_object(*p, props, required, additional);
        }
        return build_object(props, required, additional, name, depth);
    }

    std::string build_object(std::vector<Property> &props, const std::set<std::string> &required,
                             const JsonValue *additional, const std::string &name, int depth) {
        use_primitive("space");
        for (auto &p : props) p.required = required.count(p.key) > 0;
        /* each key-value pair as its own rule */
        std::vector<std::string> kv;
        for (const auto &p : props) {
            std::string key_json;
            json_append_string(key_json, p.key);
            std::string value = visit(*p.schema, name + "-" + p.key, depth + 1);
            kv.push_back(add_rule(name + "-" + p.key + "-kv", gbnf_literal(key_json) + " space \":\" space " + value));
        }
        /* extra members: any other key with the given value schema */
        std::string extra_kv;
        bool allow_extra = additional &&
                           !(additional->kind == JsonValue::BOOL && !additional->boolean);
        if (allow_extra) {
            std::vector<std::string> keys;
            for (const auto &p : props) keys.push_back(p.key);
            std::string key = other_key(keys, name + "-additional-key");
            std::string value = visit(*additional, name + "-additional", depth + 1);
            extra_kv = add_rule(name + "-additional-kv", key + " \":\" space " + value);
        }
        bool all_required = std::all_of(props.begin(), props.end(), [](const Property &p) { return p.required; });
        std::string body = "\"{\" space";
        if (all_required && !allow_extra) {
            for (size_t i = 0; i < kv.size(); i++) body += (i ? " \",\" space " : " ") + kv[i];
            body += " \"}\" space";
            return add_rule(name, body);
        }
        /* members(i, comma): properties i.. in order, optional ones skippable, then extras;
         * `comma` says whether a member was already written. */
        std::vector<std::string> names(2 * (props.size() + 1));
        for (size_t i = props.size() + 1; i-- > 0;) {
            for (int comma = 1; comma >= 0; comma--) {
                std::string b;
                if (i == props.size()) {
                    if (!allow_extra) continue;
                    b = comma ? "(\",\" space " + extra_kv + ")*" : "( " + extra_kv + " (\",\" space " + extra_kv + ")* )?";
                } else {
                    std::string sep = comma ? "\",\" space " : "";
                    std::string next_after = names[2 * (i + 1) + 1];
                    std::string take = sep + kv[i] + (next_after.empty() ? "" : " " + next_after);
                    if (props[i].required) {
                        b = take;
                    } else {
                        std::string skip = names[2 * (i + 1) + comma];
                        b = skip.empty() ? "( " + take + " )?" : "( " + take + " ) | " + skip;
                    }
                }
                names[2 * i + comma] = add_rule(name + "-m" + std::to_string(i) + (comma ? "c" : ""), b);
            }
        }
        body += " " + names[0] + " \"}\" space";
        return add_rule(name, body);
    }

    /* A JSON string (with trailing space) that is none of the given keys: a trie of the keys
     * where each node may close the string (unless a key ends there), leave the trie with a
     * character no key continues with, or follow a child. Keys needing escapes or outside
     * printable ASCII are not excluded (plain string). */
    std::string other_key(const std::vector<std::string> &keys, const std::string &name) {
        use_primitive("char");
        use_primitive("space");
        for (const auto &k : keys)
            for (unsigned char c : k)
                if (c < 0x20 || c >= 0x7F || c == '"' || c == '\\') {
                    use_primitive("string");
                    return "string";
                }
        if (keys.empty()) {
            use_primitive("string");
            return "string";
        }
        struct TrieNode {
            std::map<char, int> kids;
            bool end = false;
        };
        std::vector<TrieNode> nodes(1);
        for (const auto &k : keys) {
            int n = 0;
            for (char c : k) {
                auto it = nodes[n].kids.find(c);
                if (it == nodes[n].kids.end()) {
                    nodes.push_back(TrieNode());
                    it = nodes[n].kids.emplace(c, (int)nodes.size() - 1).first;
                }
                n = it->second;
            }
            nodes[n].end = true;
        }
        std::vector<std::string> rule(nodes.size());
        for (size_t n = nodes.size(); n-- > 0;) {
            std::string b;
            auto alt = [&](const std::string &x) { b += (b.empty() ? "" : " | ") + x; };
            if (!nodes[n].end) alt("\"\\\"\"");
            std::string cls = "[^\"\\\\\\x7F\\x00-\\x1F";
            for (const auto &kid : nodes[n].kids) {
                if (kid.first == ']' || kid.first == '-' || kid.first == '^' || kid.first == '[') cls += '\\';
                cls += kid.first;
            }
            cls += "]";
            alt("(" + cls + " | [\\\\] ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4})) char* \"\\\"\"");
            for (const auto &kid : nodes[n].kids) alt(gbnf_literal(std::string(1, kid.first)) + " " + rule[kid.second]);
            rule[n] = add_rule(name + "-" + std::to_string(n), b);
        }
        return add_rule(name, "\"\\\"\" " + rule[0] + " space");
    }

    const JsonValue &root_;
    std::map<std::string, std::string> rules_;
    std::vector<std::string> order_;
    std::set<std::string> reserved_;
    std::unordered_map<std::string, std::string> ref_rules_;
};

} // namespace

int32_t json_schema_to_gbnf(const char *schema, size_t length, std::string &grammar, std::string &error) {
    JsonValue root;
    std::string perr;
    if (!json_parse(schema, length, root, perr)) {
        error = "invalid JSON in schema: " + perr;
        return FFL_ERR_INVALID_ARGUMENT;
    }
    try {
        Converter conv(root);
        grammar = conv.run();
    } catch (const SchemaError &e) {
        error = e.message;
        return e.status;
    }
    return FFL_OK;
}

} // namespace ffl_sample
