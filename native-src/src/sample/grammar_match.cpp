/* Grammar matcher: interned parse stacks and stack sets with memoised code-point
 * transitions, byte-level UTF-8 stepping, and vocabulary masking through the token trie. */
#include "sample/grammar.h"

#include <algorithm>
#include <cstring>

namespace ffl_sample {

namespace {
constexpr int32_t kUnknown = -2;
constexpr int32_t kDead = -1;
constexpr int32_t kEmptyStack = -1;
constexpr size_t kMaxNodes = 1u << 18; /* memo limits: about 10 MB per grammar sampler */
constexpr size_t kMaxSets = 1u << 14;
constexpr size_t kMaxOtherEntries = 1u << 20; /* memoised non-ASCII transitions */

inline bool end_of_sequence(const Elem &e) { return e.type == GE_END || e.type == GE_ALT; }
} // namespace

size_t Matcher::VecHash::operator()(const std::vector<int32_t> &v) const {
    uint64_t h = 1469598103934665603ull;
    for (int32_t x : v) {
        h ^= (uint32_t)x;
        h *= 1099511628211ull;
    }
    return (size_t)h;
}

Matcher::Matcher(std::shared_ptr<const Grammar> grammar) : g_(std::move(grammar)) { reset(); }

void Matcher::reset() {
    state_ = State();
    state_.set = initial_set();
}

int32_t Matcher::push(uint32_t pos, int32_t parent) {
    uint64_t key = ((uint64_t)pos << 32) | (uint32_t)parent;
    auto it = node_index_.find(key);
    if (it != node_index_.end()) return it->second;
    int32_t id = (int32_t)nodes_.size();
    nodes_.push_back({pos, parent});
    node_index_.emplace(key, id);
    return id;
}

/* Replaces rule references on top of a stack by their alternatives until every stack has a
 * character element (or nothing) on top. Left recursion was rejected by the parser, so
 * this terminates; `seen` keeps shared sub-expansions from being walked twice. */
void Matcher::expand(int32_t stack, std::vector<int32_t> &out) {
    const Grammar &g = *g_;
    scratch_work_.clear();
    if (++stamp_counter_ == 0) {
        std::fill(stamp_.begin(), stamp_.end(), 0u);
        stamp_counter_ = 1;
    }
    scratch_work_.push_back(stack);
    while (!scratch_work_.empty()) {
        int32_t s = scratch_work_.back();
        scratch_work_.pop_back();
        if (s == kEmptyStack) {
            out.push_back(kEmptyStack);
            continue;
        }
        if ((size_t)s >= stamp_.size()) stamp_.resize(nodes_.size() * 2 + 64, 0u);
        if (stamp_[s] == stamp_counter_) continue;
        stamp_[s] = stamp_counter_;
        uint32_t pos = nodes_[s].pos;
        int32_t parent = nodes_[s].parent;
        const Elem &e = g.elems[pos];
        if (e.type != GE_RULE_REF) {
            out.push_back(s);
            continue;
        }
        int32_t base = parent;
        if (!end_of_sequence(g.elems[pos + 1])) base = push(pos + 1, parent);
        uint32_t a = g.rule_start[e.value];
        for (;;) {
            if (end_of_sequence(g.elems[a])) {
                scratch_work_.push_back(base);
            } else {
                scratch_work_.push_back(push(a, base));
            }
            while (!end_of_sequence(g.elems[a])) a++;
            if (g.elems[a].type == GE_END) break;
            a++;
        }
    }
}

int32_t Matcher::intern_set(std::vector<int32_t> &stacks) {
    std::sort(stacks.begin(), stacks.end());
    stacks.erase(std::unique(stacks.begin(), stacks.end()), stacks.end());
    auto it = set_index_.find(stacks);
    if (it != set_index_.end()) return it->second;
    int32_t id = (int32_t)sets_.size();
    SetInfo info;
    info.stacks = stacks;
    info.can_end = !stacks.empty() && stacks[0] == kEmptyStack;
    info.ascii.assign(128, kUnknown);
    sets_.push_back(std::move(info));
    set_index_.emplace(stacks, id);
    return id;
}

int32_t Matcher::initial_set() {
    if (initial_ >= 0) return initial_;
    const Grammar &g = *g_;
    std::vector<int32_t> out;
    uint32_t a = g.rule_start[g.root];
    for (;;) {
        if (end_of_sequence(g.elems[a])) {
            expand(kEmptyStack, out);
        } else {
            expand(push(a, kEmptyStack), out);
        }
        while (!end_of_sequence(g.elems[a])) a++;
        if (g.elems[a].type == GE_END) break;
        a++;
    }
    initial_ = out.empty() ? kDead : intern_set(out);
    return initial_;
}

bool Matcher::elem_matches(uint32_t pos, uint32_t cp) const {
    const Elem &e = g_->elems[pos];
    switch (e.type) {
    case GE_CHAR: return e.value == cp;
    case GE_ANY: return true;
    case GE_CLASS: return g_->classes[e.value].matches(cp);
    default: return false;
    }
}

bool Matcher::elem_matches_some(uint32_t pos, uint32_t lo, uint32_t hi) const {
    const Elem &e = g_->elems[pos];
    switch (e.type) {
    case GE_CHAR: return lo <= e.value && e.value <= hi;
    case GE_ANY: return true;
    case GE_CLASS: return g_->classes[e.value].matches_some(lo, hi);
    default: return false;
    }
}

int32_t Matcher::compute_transition(int32_t set, uint32_t cp) {
    const Grammar &g = *g_;
    /* expanding grows nodes_ only; sets_ (and so this reference) stay put until intern_set */
    const std::vector<int32_t> &stacks = sets_[set].stacks;
    std::vector<int32_t> out;
    for (int32_t s : stacks) {
        if (s == kEmptyStack) continue;
        uint32_t pos = nodes_[s].pos;
        if (!elem_matches(pos, cp)) continue;
        int32_t parent = nodes_[s].parent;
        int32_t base = parent;
        if (!end_of_sequence(g.elems[pos + 1])) base = push(pos + 1, parent);
        expand(base, out);
    }
    if (out.empty()) return kDead;
    return intern_set(out);
}

int32_t Matcher::transition(int32_t set, uint32_t cp) {
    if (cp < 128) {
        int32_t v = sets_[set].ascii[cp];
        if (v != kUnknown) return v;
        v = compute_transition(set, cp);
        sets_[set].ascii[cp] = v;
        return v;
    }
    auto &other = sets_[set].other;
    auto it = other.find(cp);
    if (it != other.end()) return it->second;
    int32_t v = compute_transition(set, cp);
    sets_[set].other.emplace(cp, v);
    other_entries_++;
    return v;
}

bool Matcher::step_code_point(State &s, uint32_t cp) {
    if (s.set < 0) return false;
    s.set = transition(s.set, cp);
    return s.set >= 0;
}

bool Matcher::step_byte(State &s, uint8_t b) {
    if (s.set < 0) return false;
    if (s.remaining == 0) {
        if (b < 0x80) return step_code_point(s, b);
        uint8_t len;
        uint32_t v;
        if (b >= 0xC2 && b < 0xE0) { len = 2; v = b & 0x1F; } /* C0, C1 only start overlong forms */
        else if ((b & 0xF0) == 0xE0) { len = 3; v = b & 0x0F; }
        else if (b >= 0xF0 && b < 0xF5) { len = 4; v = b & 0x07; }
        else {
            s.set = kDead;
            return false;
        }
        s.partial = v;
        s.remaining = (uint8_t)(len - 1);
        s.lead_len = len;
        if (!partial_viable(s)) {
            s.set = kDead;
            return false;
        }
        return true;
    }
    if ((b & 0xC0) != 0x80) {
        s.set = kDead;
        return false;
    }
    s.partial = (s.partial << 6) | (b & 0x3F);
    if (--s.remaining > 0) return true;
    uint32_t cp = s.partial;
    s.partial = 0;
    s.lead_len = 0;
    return step_code_point(s, cp);
}

bool Matcher::step_bytes(State &s, const uint8_t *bytes, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!step_byte(s, bytes[i])) return false;
    return true;
}

bool Matcher::partial_viable(const State &s) const {
    if (s.set < 0) return false;
    if (s.remaining == 0) return true;
    uint32_t shift = 6u * s.remaining;
    uint32_t lo = s.partial << shift;
    uint32_t hi = lo | ((1u << shift) - 1);
    /* the smallest code point each length may encode (shorter forms are overlong) */
    uint32_t min_cp = s.lead_len == 2 ? 0x80 : s.lead_len == 3 ? 0x800 : 0x10000;
    if (lo < min_cp) lo = min_cp;
    if (hi > 0x10FFFF) hi = 0x10FFFF;
    if (lo > hi) return false;
    for (int32_t st : sets_[s.set].stacks) {
        if (st == kEmptyStack) continue;
        if (elem_matches_some(nodes_[st].pos, lo, hi)) return true;
    }
    return false;
}

bool Matcher::can_end(const State &s) const {
    return s.set >= 0 && s.remaining == 0 && sets_[s.set].can_end;
}

size_t Matcher::stack_count(const State &s) const { return s.set < 0 ? 0 : sets_[s.set].stacks.size(); }

void Matcher::allowed_tokens(const TokenTable &table, const TokenTrie &trie, uint8_t *allowed) {
    const int32_t n = table.size();
    std::memset(allowed, 0, (size_t)n);
    if (state_.set < 0) return;
    if (can_end(state_)) {
        for (int32_t t = 0; t < n; t++)
            if (table.is_eog[t]) allowed[t] = 1;
    }
    dfs_states_.resize(trie.max_depth + 1);
    dfs_states_[0] = state_;
    const uint32_t nodes = (uint32_t)trie.byte.size();
    uint32_t i = 0;
    while (i < nodes) {
        uint32_t d = trie.depth[i];
        State s = dfs_states_[d - 1];
        if (!step_byte(s, trie.byte[i])) {
            i = trie.subtree_end[i];
            continue;
        }
        dfs_states_[d] = s;
        uint32_t count = trie.tok_count[i];
        if (count && (s.remaining == 0 || partial_viable(s))) {
            const int32_t *toks = &trie.tokens[trie.tok_start[i]];
            for (uint32_t k = 0; k < count; k++) allowed[toks[k]] = 1;
        }
        i++;
    }
}

bool Matcher::token_allowed(const TokenTable &table, int32_t token) {
    if (token < 0 || token >= table.size() || state_.set < 0) return false;
    if (table.is_eog[token]) return can_end(state_);
    const std::string &piece = table.pieces[token];
    if (piece.empty()) return false;
    State s = state_;
    return step_bytes(s, (const uint8_t *)piece.data(), piece.size()) && partial_viable(s);
}

bool Matcher::accept_token(const TokenTable &table, int32_t token) {
    if (token < 0 || token >= table.size() || state_.set < 0) return false;
    if (table.is_eog[token]) return can_end(state_);
    const std::string &piece = table.pieces[token];
    if (piece.empty()) return false;
    State s = state_;
    if (!step_bytes(s, (const uint8_t *)piece.data(), piece.size()) || !partial_viable(s)) return false;
    state_ = s;
    return true;
}

void Matcher::maybe_compact(size_t max_stacks, size_t max_sets) {
    if (max_stacks == 0) max_stacks = kMaxNodes;
    if (max_sets == 0) max_sets = kMaxSets;
    if (nodes_.size() <= max_stacks && sets_.size() <= max_sets && other_entries_ <= kMaxOtherEntries) return;
    /* keep the current stacks as position lists (bottom first), rebuild everything else */
    std::vector<std::vector<uint32_t>> keep;
    bool had_empty = false;
    if (state_.set >= 0) {
        for (int32_t st : sets_[state_.set].stacks) {
            if (st == kEmptyStack) {
                had_empty = true;
                continue;
            }
            std::vector<uint32_t> positions;
            for (int32_t x = st; x != kEmptyStack; x = nodes_[x].parent) positions.push_back(nodes_[x].pos);
            std::reverse(positions.begin(), positions.end());
            keep.push_back(std::move(positions));
        }
    }
    nodes_.clear();
    node_index_.clear();
    stamp_.clear();
    sets_.clear();
    set_index_.clear();
    other_entries_ = 0;
    initial_ = -1;
    if (state_.set >= 0) {
        std::vector<int32_t> stacks;
        if (had_empty) stacks.push_back(kEmptyStack);
        for (const auto &positions : keep) {
            int32_t x = kEmptyStack;
            for (uint32_t p : positions) x = push(p, x);
            stacks.push_back(x);
        }
        state_.set = intern_set(stacks);
    }
}

void TokenTrie::build(const TokenTable &table) {
    byte.clear();
    depth.clear();
    subtree_end.clear();
    tok_start.clear();
    tok_count.clear();
    tokens.clear();
    max_depth = 0;
    std::vector<int32_t> order;
    order.reserve(table.pieces.size());
    for (int32_t t = 0; t < table.size(); t++)
        if (!table.is_eog[t] && !table.pieces[t].empty()) order.push_back(t);
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
        int c = table.pieces[a].compare(table.pieces[b]);
        return c != 0 ? c < 0 : a < b;
    });
    std::vector<uint32_t> path;
    const std::string *prev = nullptr;
    for (int32_t t : order) {
        const std::string &p = table.pieces[t];
        size_t lcp = 0;
        if (prev) {
            size_t lim = std::min(std::min(prev->size(), p.size()), path.size());
            while (lcp < lim && (*prev)[lcp] == p[lcp]) lcp++;
        }
        while (path.size() > lcp) {
            subtree_end[path.back()] = (uint32_t)byte.size();
            path.pop_back();
        }
        for (size_t j = lcp; j < p.size(); j++) {
            uint32_t id = (uint32_t)byte.size();
            byte.push_back((uint8_t)p[j]);
            depth.push_back((uint32_t)(j + 1));
            subtree_end.push_back(0);
            tok_start.push_back(0);
            tok_count.push_back(0);
            path.push_back(id);
        }
        if (p.size() > max_depth) max_depth = (uint32_t)p.size();
        uint32_t node = path.back();
        if (tok_count[node] == 0) tok_start[node] = (uint32_t)tokens.size();
        tokens.push_back(t);
        tok_count[node]++;
        prev = &p;
    }
    while (!path.empty()) {
        subtree_end[path.back()] = (uint32_t)byte.size();
        path.pop_back();
    }
}

} // namespace ffl_sample
