/* Text -> tokens: special-token partitioning, then SentencePiece BPE (SPM), byte-level BPE or
 * WordPiece on the raw-text fragments, following llama.cpp's behaviour token for token. */
#include "common/ffl_internal.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab_impl.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

namespace ffl_tok {

namespace {

struct Fragment {
    int32_t token; /* -1: raw text */
    size_t offset, length;
};

/* Splits the text around special tokens, longest token text first, as llama.cpp does. Control and
 * unknown tokens are matched only when parse_special; user-defined tokens always. */
void partition(const ffl_vocab &v, const char *text, size_t len, bool parse_special, std::vector<Fragment> &frags) {
    frags.clear();
    if (len == 0) return;
    frags.push_back({-1, 0, len});
    if (v.special_tokens.empty()) return;

    /* Which applicable special tokens occur anywhere? Only those can split a fragment. */
    std::vector<int32_t> by_first[256];
    bool any = false;
    for (int32_t id : v.special_tokens) {
        if (!parse_special && (v.attr[(size_t)id] & (ATTR_CONTROL | ATTR_UNKNOWN))) continue;
        by_first[(uint8_t)v.text[(size_t)id][0]].push_back(id);
        any = true;
    }
    if (!any) return;
    std::vector<uint8_t> occurs((size_t)v.n_tokens(), 0);
    bool found = false;
    for (size_t p = 0; p < len; ++p) {
        const auto &group = by_first[(uint8_t)text[p]];
        for (int32_t id : group) {
            if (occurs[(size_t)id]) continue;
            const std::string &t = v.text[(size_t)id];
            if (t.size() <= len - p && memcmp(text + p, t.data(), t.size()) == 0) {
                occurs[(size_t)id] = 1;
                found = true;
            }
        }
    }
    if (!found) return;

    std::vector<Fragment> next;
    for (int32_t id : v.special_tokens) {
        if (!occurs[(size_t)id]) continue;
        const std::string &t = v.text[(size_t)id];
        next.clear();
        for (const Fragment &f : frags) {
            if (f.token >= 0) {
                next.push_back(f);
                continue;
            }
            size_t base = f.offset, remaining = f.length;
            while (remaining > 0) {
                const void *hit = memmem(text + base, remaining, t.data(), t.size());
                if (!hit) {
                    next.push_back({-1, base, remaining});
                    break;
                }
                size_t pos = (size_t)((const char *)hit - text);
                if (pos > base) next.push_back({-1, base, pos - base});
                next.push_back({id, 0, 0});
                size_t end = pos + t.size();
                remaining = base + remaining - end;
                base = end;
            }
        }
        frags.swap(next);
    }
}

/* ---- SentencePiece BPE: merge the best-scoring adjacent pair that forms a token, repeatedly ---- */

struct Symbol {
    int32_t prev, next;
    uint32_t start, n;
};

struct SpmBigram {
    int32_t left, right;
    float score;
    uint32_t size;
};
struct SpmOrder {
    bool operator()(const SpmBigram &a, const SpmBigram &b) const {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
};

/* Merges within one run of text (no token spans its ends), appending its tokens. */
void spm_merge(const ffl_vocab &v, const char *s, size_t len, std::vector<int32_t> &out) {
    thread_local std::vector<Symbol> sym;
    sym.clear();
    for (size_t off = 0; off < len;) {
        uint32_t n = (uint32_t)std::min(utf8_len((uint8_t)s[off]), len - off);
        int32_t idx = (int32_t)sym.size();
        sym.push_back({idx - 1, off + n == len ? -1 : idx + 1, (uint32_t)off, n});
        off += n;
    }
    if (sym.empty()) return;

    std::priority_queue<SpmBigram, std::vector<SpmBigram>, SpmOrder> queue;
    auto try_add = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        uint32_t size = sym[(size_t)left].n + sym[(size_t)right].n;
        int32_t id = v.find(s + sym[(size_t)left].start, size);
        if (id < 0) return;
        queue.push({left, right, v.score[(size_t)id], size});
    };
    for (size_t i = 1; i < sym.size(); ++i) try_add((int32_t)i - 1, (int32_t)i);

    while (!queue.empty()) {
        SpmBigram b = queue.top();
        queue.pop();
        Symbol &l = sym[(size_t)b.left];
        Symbol &r = sym[(size_t)b.right];
        if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue; /* stale */
        l.n += r.n;
        r.n = 0;
        l.next = r.next;
        if (r.next >= 0) sym[(size_t)r.next].prev = b.left;
        try_add(l.prev, b.left);
        try_add(b.left, l.next);
    }

    for (int32_t i = 0; i != -1; i = sym[(size_t)i].next) {
        const Symbol &x = sym[(size_t)i];
        int32_t id = v.find(s + x.start, x.n);
        if (id >= 0) {
            out.push_back(id);
            continue;
        }
        /* Byte fallback: a merged symbol is always a token, so this is one character. */
        for (uint32_t k = 0; k < x.n; ++k) {
            int32_t bt = v.byte_tokens[(uint8_t)s[x.start + k]];
            if (bt < 0) bt = v.unk;
            if (bt >= 0) out.push_back(bt);
        }
    }
}

using SegmentCache = std::unordered_map<std::string, std::pair<uint32_t, uint32_t>>; /* text -> span of a pool */

void tokenize_spm(const ffl_vocab &v, const char *frag, size_t len, bool space_prefix, SegmentCache &cache,
                  std::vector<int32_t> &pool, std::vector<int32_t> &out) {
    static const char kSpace[] = "\xe2\x96\x81";
    std::string s;
    s.reserve(len + len / 2 + 3);
    if (space_prefix) s.append(kSpace, 3);
    for (size_t i = 0; i < len; ++i) {
        if (frag[i] == ' ') s.append(kSpace, 3);
        else s.push_back(frag[i]);
    }
    if (!v.spm_split_safe) {
        spm_merge(v, s.data(), s.size(), out);
        return;
    }
    /* No token has U+2581 after a non-U+2581 character, so nothing merges across the start of a
     * "▁" that follows another character: runs between such points are tokenized on their own
     * (same result as one pass over everything, much faster, and repeated words hit the cache). */
    auto is_space_at = [&](size_t p) { return p + 3 <= s.size() && memcmp(s.data() + p, kSpace, 3) == 0; };
    size_t seg = 0, off = 0;
    auto flush = [&](size_t end) {
        if (end == seg) return;
        if (end - seg > 64) {
            spm_merge(v, s.data() + seg, end - seg, out);
        } else {
            std::string key(s, seg, end - seg);
            auto it = cache.find(key);
            if (it == cache.end()) {
                uint32_t start = (uint32_t)pool.size();
                spm_merge(v, key.data(), key.size(), pool);
                it = cache.emplace(std::move(key), std::make_pair(start, (uint32_t)pool.size() - start)).first;
            }
            out.insert(out.end(), pool.begin() + it->second.first, pool.begin() + it->second.first + it->second.second);
        }
        seg = end;
    };
    while (off < s.size()) {
        size_t n = std::min(utf8_len((uint8_t)s[off]), s.size() - off);
        /* Split before a U+2581 symbol unless the three bytes before it are U+2581 too (the exact
         * condition the load-time check on the token texts makes safe). */
        if (n == 3 && off >= 3 && is_space_at(off) && !is_space_at(off - 3)) flush(off);
        off += n;
    }
    flush(s.size());
}

/* ---- byte-level BPE: regex pre-tokenizer, then merges by rank within each word ---- */

struct BpeBigram {
    int32_t left, right;
    int32_t rank;
    uint32_t size;
};
struct BpeOrder {
    bool operator()(const BpeBigram &a, const BpeBigram &b) const {
        return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    }
};

void bpe_word(const ffl_vocab &v, const std::string &w, std::vector<int32_t> &out) {
    if (w.empty()) return;
    if (v.ignore_merges) {
        int32_t id = v.find(w.data(), w.size());
        if (id >= 0) {
            out.push_back(id);
            return;
        }
    }
    thread_local std::vector<Symbol> sym;
    sym.clear();
    for (size_t off = 0; off < w.size();) {
        uint32_t n = (uint32_t)std::min(utf8_len((uint8_t)w[off]), w.size() - off);
        int32_t idx = (int32_t)sym.size();
        sym.push_back({idx - 1, off + n == w.size() ? -1 : idx + 1, (uint32_t)off, n});
        off += n;
    }
    std::priority_queue<BpeBigram, std::vector<BpeBigram>, BpeOrder> queue;
    auto try_add = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        const Symbol &l = sym[(size_t)left], &r = sym[(size_t)right];
        int32_t rank = v.merges.rank(w.data() + l.start, l.n, w.data() + r.start, r.n);
        if (rank < 0) return;
        queue.push({left, right, rank, l.n + r.n});
    };
    for (size_t i = 1; i < sym.size(); ++i) try_add((int32_t)i - 1, (int32_t)i);
    while (!queue.empty()) {
        BpeBigram b = queue.top();
        queue.pop();
        Symbol &l = sym[(size_t)b.left];
        Symbol &r = sym[(size_t)b.right];
        if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue; /* stale */
        l.n += r.n;
        r.n = 0;
        l.next = r.next;
        if (r.next >= 0) sym[(size_t)r.next].prev = b.left;
        try_add(l.prev, b.left);
        try_add(b.left, l.next);
    }
    for (int32_t i = 0; i != -1; i = sym[(size_t)i].next) {
        const Symbol &x = sym[(size_t)i];
        int32_t id = v.find(w.data() + x.start, x.n);
        if (id >= 0) {
            out.push_back(id);
            continue;
        }
        /* llama.cpp looks each raw byte of the symbol up as a one-byte token and drops misses. */
        for (uint32_t k = 0; k < x.n; ++k) {
            int32_t bt = v.find(w.data() + x.start + k, 1);
            if (bt >= 0) out.push_back(bt);
        }
    }
}

struct BpeCache {
    std::unordered_map<std::string, std::pair<uint32_t, uint32_t>> words; /* encoded word -> span of pool */
    std::vector<int32_t> pool;
};

void tokenize_bpe(const ffl_vocab &v, const char *frag, size_t len, BpeCache &cache, std::vector<int32_t> &out) {
    thread_local std::vector<uint32_t> cps, lengths;
    utf8_decode(frag, len, cps);
    v.pre->split(cps, lengths);
    std::string utf8, w;
    size_t pos = 0;
    for (uint32_t n : lengths) {
        /* The word's UTF-8 (invalid input already became U+FFFD), each byte as its GPT-2 codepoint. */
        utf8.clear();
        for (size_t k = pos; k < pos + n; ++k) utf8_append(utf8, cps[k]);
        pos += n;
        w.clear();
        for (char c : utf8) w += byte_to_unicode((uint8_t)c);
        if (w.size() > 256) {
            bpe_word(v, w, out);
            continue;
        }
        auto it = cache.words.find(w);
        if (it == cache.words.end()) {
            uint32_t start = (uint32_t)cache.pool.size();
            bpe_word(v, w, cache.pool);
            it = cache.words.emplace(w, std::make_pair(start, (uint32_t)cache.pool.size() - start)).first;
        }
        out.insert(out.end(), cache.pool.begin() + it->second.first, cache.pool.begin() + it->second.first + it->second.second);
    }
}

/* ---- WordPiece (BERT): normalize, split on whitespace and punctuation, greedy longest match ---- */

bool is_chinese_char(uint32_t c) {
    /* The CJK ranges BERT's BasicTokenizer isolates (its _is_chinese_char, incl. HF's 0x2B920 quirk). */
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

void tokenize_wpm(const ffl_vocab &v, const char *frag, size_t len, std::vector<int32_t> &out) {
    std::vector<uint32_t> cps;
    utf8_decode(frag, len, cps);
    std::vector<std::string> words(1);
    for (uint32_t c : cps) {
        c = uc_nfd_first(c);
        uint16_t f = uc_flags(c);
        if (f & UC_WHITESPACE) {
            if (!words.back().empty()) words.emplace_back();
            continue;
        }
        if (c == 0 || c == 0xFFFD || (f & UC_CONTROL)) continue;
        std::string s;
        utf8_append(s, uc_tolower(c));
        if ((f & UC_PUNCT) || (c < 0x7F && (f & UC_SYMBOL)) || is_chinese_char(c)) {
            if (!words.back().empty()) words.emplace_back();
            words.back() = s;
            words.emplace_back();
        } else {
            words.back() += s;
        }
    }
    for (const std::string &word : words) {
        if (word.empty()) continue;
        const std::string w = "\xe2\x96\x81" + word;
        const size_t n = w.size(), before = out.size();
        for (size_t i = 0; i < n; ++i) {
            bool match = false;
            for (size_t j = std::min(n, i + v.max_token_len + 1); j > i; --j) {
                int32_t id = v.find(w.data() + i, j - i);
                if (id >= 0) {
                    out.push_back(id);
                    match = true;
                    i = j - 1;
                    break;
                }
            }
            if (!match) {
                out.resize(before);
                break;
            }
        }
        if (out.size() == before && v.unk >= 0) out.push_back(v.unk);
    }
}

} // namespace

void tokenize(const ffl_vocab &v, const char *text, size_t len, bool add_special, bool parse_special, std::vector<int32_t> &out) {
    out.clear();
    if (v.type == FFL_VOCAB_NONE) return;
    std::vector<Fragment> frags;
    partition(v, text, len, parse_special, frags);

    switch (v.type) {
    case FFL_VOCAB_SPM: {
        SegmentCache cache;
        std::vector<int32_t> pool;
        bool prev_special = true; /* SentencePiece puts a space in front of text that starts the input or follows a special token */
        if (add_special && v.add_bos) out.push_back(v.bos);
        for (const Fragment &f : frags) {
            if (f.token >= 0) {
                out.push_back(f.token);
                prev_special = true;
            } else {
                tokenize_spm(v, text + f.offset, f.length, v.add_space_prefix && prev_special, cache, pool, out);
                prev_special = false;
            }
        }
        if (add_special && v.add_eos) out.push_back(v.eos);
        break;
    }
    case FFL_VOCAB_BPE: {
        BpeCache cache;
        if (add_special && v.add_bos) out.push_back(v.bos);
        for (const Fragment &f : frags) {
            if (f.token >= 0) out.push_back(f.token);
            else tokenize_bpe(v, text + f.offset, f.length, cache, out);
        }
        if (add_special && v.add_eos) out.push_back(v.eos);
        break;
    }
    case FFL_VOCAB_WPM: {
        if (add_special && v.bos >= 0) out.push_back(v.bos);
        for (const Fragment &f : frags) {
            if (f.token >= 0) out.push_back(f.token);
            else tokenize_wpm(v, text + f.offset, f.length, out);
        }
        if (add_special && v.sep >= 0) out.push_back(v.sep);
        break;
    }
    default: break;
    }
}

} // namespace ffl_tok

extern "C" int32_t ffl_tokenize(const ffl_vocab *v, const char *text, int64_t text_len, int32_t *tokens, int32_t capacity,
                                int32_t flags) {
    if (!v) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_tokenize: vocab is NULL");
    if (!text && text_len != 0) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_tokenize: text is NULL");
    if (text_len < -1) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_tokenize: text_len %lld", (long long)text_len);
    if (capacity < 0 || (capacity > 0 && !tokens))
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_tokenize: capacity %d with tokens %p", capacity, (void *)tokens);
    if (flags & ~(FFL_TOKENIZE_ADD_SPECIAL | FFL_TOKENIZE_PARSE_SPECIAL))
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_tokenize: unknown flags 0x%x", flags);
    size_t len = text_len < 0 ? strlen(text) : (size_t)text_len;
    if (!text) text = "";
    try {
        std::vector<int32_t> out;
        ffl_tok::tokenize(*v, text, len, (flags & FFL_TOKENIZE_ADD_SPECIAL) != 0, (flags & FFL_TOKENIZE_PARSE_SPECIAL) != 0, out);
        if (out.size() > (size_t)std::numeric_limits<int32_t>::max())
            return ffl_fail(FFL_ERR_OUT_OF_RANGE, "ffl_tokenize: %zu tokens do not fit in int32", out.size());
        size_t n = std::min(out.size(), (size_t)capacity);
        if (n) memcpy(tokens, out.data(), n * sizeof(int32_t));
        return (int32_t)out.size();
    } catch (const std::bad_alloc &) {
        return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "ffl_tokenize: out of memory");
    } catch (const std::exception &e) {
        return ffl_fail(FFL_ERR_INTERNAL, "ffl_tokenize: %s", e.what());
    }
}
