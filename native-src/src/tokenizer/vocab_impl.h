/* The in-core vocabulary: token table, lookups, special tokens and the pre-tokenizer. */
#ifndef FFL_TOKENIZER_VOCAB_IMPL_H
#define FFL_TOKENIZER_VOCAB_IMPL_H

#include "fflama.h"
#include "tokenizer/pretokenize.h"

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace ffl_tok {

/* Token attribute bits (the same meaning as llama.cpp's llama_token_attr). */
enum : int32_t {
    ATTR_UNDEFINED = 0,
    ATTR_UNKNOWN = 1 << 0,
    ATTR_UNUSED = 1 << 1,
    ATTR_NORMAL = 1 << 2,
    ATTR_CONTROL = 1 << 3,
    ATTR_USER_DEFINED = 1 << 4,
    ATTR_BYTE = 1 << 5,
    ATTR_LSTRIP = 1 << 7,
    ATTR_RSTRIP = 1 << 8,
};

inline uint64_t hash_bytes(const char *s, size_t n, uint64_t h = 1469598103934665603ull) {
    for (size_t i = 0; i < n; ++i) {
        h ^= (uint8_t)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Open-addressing map from byte strings (owned elsewhere, referenced by index) to int32 ids. */
class StringIndex {
public:
    /* keys[i] must stay alive and unchanged while the index is used. */
    void build(const std::vector<std::string> &keys) {
        keys_ = &keys;
        size_t cap = 16;
        while (cap < keys.size() * 2) cap <<= 1;
        slots_.assign(cap, -1);
        for (size_t i = 0; i < keys.size(); ++i) insert((int32_t)i); /* later duplicates win */
    }
    int32_t find(const char *s, size_t n) const {
        if (slots_.empty()) return -1;
        size_t mask = slots_.size() - 1;
        for (size_t i = hash_bytes(s, n) & mask;; i = (i + 1) & mask) {
            int32_t id = slots_[i];
            if (id < 0) return -1;
            const std::string &k = (*keys_)[(size_t)id];
            if (k.size() == n && memcmp(k.data(), s, n) == 0) return id;
        }
    }
    int32_t find(const std::string &s) const { return find(s.data(), s.size()); }

private:
    void insert(int32_t id) {
        const std::string &k = (*keys_)[(size_t)id];
        size_t mask = slots_.size() - 1;
        for (size_t i = hash_bytes(k.data(), k.size()) & mask;; i = (i + 1) & mask) {
            if (slots_[i] < 0) {
                slots_[i] = id;
                return;
            }
            const std::string &o = (*keys_)[(size_t)slots_[i]];
            if (o == k) {
                slots_[i] = id;
                return;
            }
        }
    }
    const std::vector<std::string> *keys_ = nullptr;
    std::vector<int32_t> slots_;
};

/* BPE merge ranks keyed by the (left, right) pair of symbol texts. */
class MergeIndex {
public:
    void add(std::string left, std::string right) {
        lefts_.push_back(std::move(left));
        rights_.push_back(std::move(right));
    }
    void build() {
        size_t cap = 16;
        while (cap < lefts_.size() * 2) cap <<= 1;
        slots_.assign(cap, -1);
        for (size_t r = 0; r < lefts_.size(); ++r) {
            size_t mask = cap - 1;
            for (size_t i = hash(lefts_[r].data(), lefts_[r].size(), rights_[r].data(), rights_[r].size()) & mask;;
                 i = (i + 1) & mask) {
                if (slots_[i] < 0) {
                    slots_[i] = (int32_t)r;
                    break;
                }
                if (lefts_[(size_t)slots_[i]] == lefts_[r] && rights_[(size_t)slots_[i]] == rights_[r]) break; /* first rank wins */
            }
        }
    }
    int32_t rank(const char *a, size_t an, const char *b, size_t bn) const {
        if (slots_.empty()) return -1;
        size_t mask = slots_.size() - 1;
        for (size_t i = hash(a, an, b, bn) & mask;; i = (i + 1) & mask) {
            int32_t r = slots_[i];
            if (r < 0) return -1;
            const std::string &l = lefts_[(size_t)r], &rt = rights_[(size_t)r];
            if (l.size() == an && rt.size() == bn && memcmp(l.data(), a, an) == 0 && memcmp(rt.data(), b, bn) == 0) return r;
        }
    }
    size_t size() const { return lefts_.size(); }

private:
    static uint64_t hash(const char *a, size_t an, const char *b, size_t bn) {
        uint64_t h = hash_bytes(a, an);
        h ^= 0xFF;
        h *= 1099511628211ull;
        return hash_bytes(b, bn, h) ^ (an * 0x9E3779B97F4A7C15ull);
    }
    std::vector<std::string> lefts_, rights_;
    std::vector<int32_t> slots_;
};

} // namespace ffl_tok

struct ffl_vocab {
    int32_t type = 0;            /* ffl_vocab_type */
    std::string model_name;      /* tokenizer.ggml.model */
    std::string pre_name;        /* tokenizer.ggml.pre ("" when absent) */

    std::vector<std::string> text;
    std::vector<float> score;
    std::vector<int32_t> toktype; /* GGUF token type (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte) */
    std::vector<int32_t> attr;    /* ffl_tok::ATTR_* bits */
    std::vector<std::string> piece; /* decoded bytes of each token, special tokens rendered */
    ffl_tok::StringIndex index;
    ffl_tok::MergeIndex merges;
    size_t max_token_len = 0;

    int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, sep = -1, pad = -1, mask = -1, cls = -1, nl = -1;
    int32_t fim_pre = -1, fim_suf = -1, fim_mid = -1, fim_pad = -1, fim_rep = -1, fim_sep = -1;

    bool add_bos = false, add_eos = false, add_sep = false;
    bool add_space_prefix = false, remove_extra_whitespaces = false;
    bool clean_spaces = false, ignore_merges = false, escape_whitespaces = false;
    bool spm_split_safe = false; /* no token has U+2581 after another character (see tokenize_spm) */

    std::vector<uint8_t> eog;            /* 1 where the token ends generation */
    std::vector<int32_t> special_tokens; /* control, user-defined and unknown tokens, longest text first */
    std::unique_ptr<ffl_tok::PreTokenizer> pre;
    int32_t byte_tokens[256];            /* SPM/BPE byte fallback token of each byte, -1 if none */

    int32_t n_tokens() const { return (int32_t)text.size(); }
    int32_t find(const char *s, size_t n) const { return index.find(s, n); }
};

namespace ffl_tok {
/* Tokenizes text into out; the heavy lifting behind ffl_tokenize. Throws std::bad_alloc only. */
void tokenize(const ffl_vocab &v, const char *text, size_t len, bool add_special, bool parse_special, std::vector<int32_t> &out);
/* The bytes a token stands for (special tokens rendered). */
std::string token_to_piece(const ffl_vocab &v, int32_t id);
} // namespace ffl_tok

#endif
