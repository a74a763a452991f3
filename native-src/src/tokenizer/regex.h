/* A small backtracking regex engine for pre-tokenizer patterns (ECMAScript semantics: leftmost
 * match, ordered alternation, greedy quantifiers, lookaheads), matching over "effective
 * characters" the way llama.cpp feeds std::regex:
 *   - patterns that use \p{..} run on a collapsed text: ASCII stays, other whitespace becomes
 *     0x0B, and every other codepoint becomes one byte per general category (0xD0..0xD5), so
 *     \p{L} means [\xD2A-Za-z] and so on (note: ASCII '~' is not in \p{S} there);
 *   - other patterns run on codepoints, with non-ASCII whitespace replaced by 0x0B.
 * Supported: | ( ) (?: ) (?= ) (?! ) [..] [^..] * + ? {n} {n,} {n,m} . ^ $ \s \S \d \D \r \n \t
 * \f \v \p{L,N,P,M,S,Lu,Ll,Lt,Lm,Lo} and escaped punctuation. Anything else throws. */
#ifndef FFL_TOKENIZER_REGEX_H
#define FFL_TOKENIZER_REGEX_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ffl_tok {

/* Maps codepoints to the effective characters a pattern of either mode matches on. */
uint32_t regex_collapse(uint32_t cp);
uint32_t regex_widen(uint32_t cp);

class Regex {
public:
    /* pattern is UTF-8; throws std::runtime_error on syntax this engine does not support. */
    explicit Regex(const std::string &pattern);

    bool collapsed() const { return collapsed_; }

    /* Leftmost match in e[begin, end) starting at or after `from`; end-of-input anchors and
     * lookaheads see only [begin, end). Returns false when there is none. */
    bool search(const uint32_t *e, size_t begin, size_t end, size_t from, size_t *match_begin, size_t *match_end) const;
    /* Match starting exactly at pos; with not_null, an empty match does not count (the next
     * alternative is tried instead), as std::regex_iterator does after an empty match. */
    bool match_at(const uint32_t *e, size_t begin, size_t end, size_t pos, bool not_null, size_t *match_end) const;

private:
    struct CharClass {
        bool negated = false;
        uint64_t bits[4] = {0, 0, 0, 0};                 /* members below 256 */
        std::vector<std::pair<uint32_t, uint32_t>> wide; /* member ranges at or above 256 */
        void add_range(uint32_t a, uint32_t b);
        bool test(uint32_t c) const;
    };
    enum Op : uint8_t { CHAR, STAR, SPLIT, JMP, MATCH, BEGIN, END, LOOK_POS, LOOK_NEG };
    struct Inst {
        Op op;
        int32_t x; /* CHAR/STAR: class; SPLIT/JMP: target; LOOK: pc after the sub-program */
        int32_t y; /* SPLIT: second target; STAR: minimum count */
    };
    struct Node;

    /* A backtracking point: resume at pc from pos; for a greedy class loop (lo != npos) give
     * back one more character each time, down to lo. */
    struct Choice {
        int32_t pc;
        size_t pos, lo;
    };
    bool exec(const uint32_t *e, size_t begin, size_t end, int32_t pc, size_t pos, bool not_null, size_t *out_end,
              std::vector<Choice> &stack) const;
    void compute_first_set();

    bool collapsed_ = false;
    std::vector<CharClass> classes_;
    std::vector<Inst> prog_;
    CharClass first_;       /* characters a non-empty match can start with (superset) */
    bool nullable_ = false; /* the pattern may match the empty string */

    friend struct RegexCompiler;
};

} // namespace ffl_tok

#endif
