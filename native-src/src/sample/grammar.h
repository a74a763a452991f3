/* GBNF grammars (llama.cpp's format): parser, matcher over code points and bytes, and a
 * token trie for masking a whole vocabulary at once.
 *
 * The matcher keeps llama.cpp's model (a set of parse stacks, each a list of positions in
 * rules, advanced one code point at a time), but interns stacks and stack sets so every
 * (set, code point) transition is computed once and then looked up. Masking a vocabulary
 * is a walk of the token trie in which each node costs one table lookup. */
#ifndef FFL_SAMPLE_GRAMMAR_H
#define FFL_SAMPLE_GRAMMAR_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ffl_sample {

enum ElemType : uint8_t {
    GE_END = 0,      /* end of a rule */
    GE_ALT = 1,      /* start of the next alternative */
    GE_RULE_REF = 2, /* value: rule id */
    GE_CHAR = 3,     /* value: code point */
    GE_CLASS = 4,    /* value: index in Grammar::classes */
    GE_ANY = 5       /* "." */
};

struct Elem {
    ElemType type;
    uint32_t value;
};

struct CharClass {
    bool negated = false;
    std::vector<std::pair<uint32_t, uint32_t>> ranges; /* sorted, disjoint, inclusive */

    bool matches(uint32_t cp) const;
    /* true when some code point in [lo, hi] matches */
    bool matches_some(uint32_t lo, uint32_t hi) const;
};

struct Grammar {
    std::vector<Elem> elems;            /* every rule, flattened; each ends with GE_END */
    std::vector<uint32_t> rule_start;   /* rule id -> index of its first element */
    std::vector<std::string> rule_names;
    std::vector<CharClass> classes;
    uint32_t root = 0;
};

/* Parses GBNF text. On failure returns a negative ffl_status and sets `error` to a message
 * that starts with "line:column: " when the problem has a position. */
int32_t parse_gbnf(const char *text, size_t length, const char *root_name, Grammar &out, std::string &error);

/* Writes the grammar back as GBNF (for debugging and tests). */
std::string grammar_to_text(const Grammar &g);

/* Bytes and end-of-generation flags of every token of a vocabulary. */
struct TokenTable {
    std::vector<std::string> pieces;
    std::vector<uint8_t> is_eog;

    int32_t size() const { return (int32_t)pieces.size(); }
};

/* Prefix trie of token bytes, flattened in pre-order so a subtree is a contiguous range. */
struct TokenTrie {
    std::vector<uint8_t> byte;
    std::vector<uint32_t> depth;       /* 1 for children of the (implicit) root */
    std::vector<uint32_t> subtree_end; /* first node after this node's subtree */
    std::vector<uint32_t> tok_start;   /* tokens ending at node i: tokens[tok_start[i] .. tok_start[i] + tok_count[i]) */
    std::vector<uint32_t> tok_count;
    std::vector<int32_t> tokens;
    uint32_t max_depth = 0;

    void build(const TokenTable &table);
};

/* Interned parse state of one grammar: pools of stacks and stack sets with memoised
 * transitions. Copyable (clones of a sampler copy it). */
class Matcher {
public:
    struct State {
        int32_t set = -1;        /* stack-set id; -1 = dead */
        uint32_t partial = 0;    /* bits of an unfinished UTF-8 character */
        uint8_t remaining = 0;   /* continuation bytes it still needs */
        uint8_t lead_len = 0;    /* its total length in bytes */
    };

    explicit Matcher(std::shared_ptr<const Grammar> grammar);

    void reset();
    const State &state() const { return state_; }
    void set_state(const State &s) { state_ = s; }

    /* Advances s by one byte; false (and s.set = -1) when no parse can continue. */
    bool step_byte(State &s, uint8_t b);
    /* Advances s over bytes; false when the bytes cannot continue a valid string. */
    bool step_bytes(State &s, const uint8_t *bytes, size_t n);
    /* Advances s by one code point. */
    bool step_code_point(State &s, uint32_t cp);
    /* A state reached in the middle of a character is viable when some completion of the
     * character could be accepted. */
    bool partial_viable(const State &s) const;
    /* The grammar accepts the text consumed so far as a complete string. */
    bool can_end(const State &s) const;

    /* Stacks held by the current state (for tests). */
    size_t stack_count(const State &s) const;

    /* Masks a vocabulary: allowed[t] = 1 when token t can continue the current state.
     * Uses the trie for the whole vocabulary. */
    void allowed_tokens(const TokenTable &table, const TokenTrie &trie, uint8_t *allowed);
    /* One token's verdict from the current state. */
    bool token_allowed(const TokenTable &table, int32_t token);
    /* Accepts a token: false (state unchanged) when the grammar does not allow it. */
    bool accept_token(const TokenTable &table, int32_t token);

    /* Drops the memo tables when they grow past their limits (keeps the current state).
     * The limits default to about 10 MB of tables; tests pass smaller ones. */
    void maybe_compact(size_t max_stacks = 0, size_t max_sets = 0);

    size_t memo_sets() const { return sets_.size(); }
    size_t memo_stacks() const { return nodes_.size(); }

private:
    struct Node {
        uint32_t pos;   /* element index of the stack's top */
        int32_t parent; /* rest of the stack; -1 = empty */
    };
    struct SetInfo {
        std::vector<int32_t> stacks; /* sorted stack ids; -1 = the empty stack */
        bool can_end = false;
        std::vector<int32_t> ascii;  /* 128 transitions; -2 = not computed yet */
        std::unordered_map<uint32_t, int32_t> other;
    };
    struct VecHash {
        size_t operator()(const std::vector<int32_t> &v) const;
    };

    int32_t push(uint32_t pos, int32_t parent);
    void expand(int32_t stack, std::vector<int32_t> &out);
    int32_t intern_set(std::vector<int32_t> &stacks);
    int32_t compute_transition(int32_t set, uint32_t cp);
    int32_t transition(int32_t set, uint32_t cp);
    bool elem_matches(uint32_t pos, uint32_t cp) const;
    bool elem_matches_some(uint32_t pos, uint32_t lo, uint32_t hi) const;
    int32_t initial_set();

    std::shared_ptr<const Grammar> g_;
    std::vector<Node> nodes_;
    std::unordered_map<uint64_t, int32_t> node_index_;
    std::vector<SetInfo> sets_;
    std::unordered_map<std::vector<int32_t>, int32_t, VecHash> set_index_;
    State state_;
    int32_t initial_ = -1;
    size_t other_entries_ = 0;

    /* scratch, reused */
    std::vector<int32_t> scratch_work_;
    std::vector<uint32_t> stamp_; /* expand's visited marks, by stack id */
    uint32_t stamp_counter_ = 0;
    std::vector<State> dfs_states_;
};

} // namespace ffl_sample

#endif
