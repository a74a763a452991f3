/* Tokens -> bytes: token pieces, whole-sequence detokenization and the streaming UTF-8 decoder. */
#include "common/ffl_internal.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab_impl.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <string>

namespace ffl_tok {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* "<0xAB>" -> 0xAB, or -1. */
int byte_of_token_text(const std::string &t) {
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
    int hi = hex_value(t[3]), lo = hex_value(t[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

} // namespace

std::string token_to_piece(const ffl_vocab &v, int32_t id) {
    const std::string &t = v.text[(size_t)id];
    const int32_t attr = v.attr[(size_t)id];
    if (attr & (ATTR_UNKNOWN | ATTR_CONTROL | ATTR_USER_DEFINED)) return t;
    if (attr & ATTR_BYTE) {
        int b = byte_of_token_text(t);
        return b < 0 ? std::string() : std::string(1, (char)b);
    }
    if (!(attr & ATTR_NORMAL)) return std::string(); /* unused and undefined tokens print nothing */
    std::string out;
    if (v.type == FFL_VOCAB_BPE) {
        std::vector<uint32_t> cps;
        utf8_decode(t.data(), t.size(), cps);
        for (uint32_t cp : cps) {
            int b = unicode_to_byte(cp);
            /* A character outside the byte map (not a byte-level vocabulary) passes through as UTF-8. */
            if (b >= 0) out.push_back((char)b);
            else utf8_append(out, cp);
        }
        return out;
    }
    /* SPM and WPM: U+2581 stands for a space. */
    out.reserve(t.size());
    for (size_t i = 0; i < t.size(); ++i) {
        if (i + 2 < t.size() && (uint8_t)t[i] == 0xE2 && (uint8_t)t[i + 1] == 0x96 && (uint8_t)t[i + 2] == 0x81) {
            out.push_back(' ');
            i += 2;
        } else {
            out.push_back(t[i]);
        }
    }
    return out;
}

namespace {

/* The piece as the flags ask: special tokens hidden unless rendered. */
const std::string &piece_of(const ffl_vocab &v, int32_t id, int32_t flags) {
    static const std::string empty;
    if (!(flags & FFL_DETOKENIZE_RENDER_SPECIAL) && (v.attr[(size_t)id] & (ATTR_UNKNOWN | ATTR_CONTROL))) return empty;
    return v.piece[(size_t)id];
}

/* clean_up_tokenization_spaces, the three passes llama.cpp applies. */
void clean_spaces(std::string &s) {
    std::string a;
    for (size_t i = 0; i < s.size(); ++i) { /* " ?", " !", " .", " ," lose the space */
        char x = s[i];
        if (i > 0 && s[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',') && !a.empty()) a.pop_back();
        a.push_back(x);
    }
    std::string b;
    for (size_t i = 0; i < a.size(); ++i) { /* " ' " -> "'" */
        char x = a[i];
        if (x == '\'' && i > 0 && i + 1 < a.size() && a[i - 1] == ' ' && a[i + 1] == ' ') {
            if (!b.empty()) b.pop_back();
            b.push_back(x);
            ++i;
            continue;
        }
        b.push_back(x);
    }
    std::string c;
    for (size_t i = 0; i < b.size(); ++i) { /* " 's", " 'm", " 're", " 've" lose the space */
        char x = b[i];
        if (x == '\'' && i > 0 && b[i - 1] == ' ' && i + 1 < b.size()) {
            char x1 = b[i + 1];
            bool drop = x1 == 's' || x1 == 'm' ||
                        (i + 2 < b.size() && ((x1 == 'r' && b[i + 2] == 'e') || (x1 == 'v' && b[i + 2] == 'e')));
            if (drop && !c.empty()) c.pop_back();
        }
        c.push_back(x);
    }
    s.swap(c);
}

} // namespace

} // namespace ffl_tok

using namespace ffl_tok;

static const int32_t kDetokFlags = FFL_DETOKENIZE_RENDER_SPECIAL | FFL_DETOKENIZE_REMOVE_SPECIAL |
                                   FFL_DETOKENIZE_REMOVE_LEADING_SPACE | FFL_DETOKENIZE_CLEAN_SPACES;

extern "C" int32_t ffl_vocab_token_piece(const ffl_vocab *v, int32_t token, char *buf, int32_t capacity, int32_t flags) {
    if (!v) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_vocab_token_piece: vocab is NULL");
    if (token < 0 || token >= v->n_tokens())
        return ffl_fail(FFL_ERR_OUT_OF_RANGE, "ffl_vocab_token_piece: token %d is outside [0, %d)", token, v->n_tokens());
    if (capacity < 0 || (capacity > 0 && !buf))
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_vocab_token_piece: capacity %d with buf %p", capacity, (void *)buf);
    if (flags & ~kDetokFlags) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_vocab_token_piece: unknown flags 0x%x", flags);
    const std::string &p = piece_of(*v, token, flags);
    const char *data = p.data();
    size_t n = p.size();
    if ((flags & FFL_DETOKENIZE_REMOVE_LEADING_SPACE) && n > 0 && data[0] == ' ') {
        ++data;
        --n;
    }
    if (n <= (size_t)capacity && n > 0) memcpy(buf, data, n);
    return (int32_t)n;
}

extern "C" int32_t ffl_detokenize(const ffl_vocab *v, const int32_t *tokens, int32_t n_tokens, char *buf, int32_t capacity,
                                  int32_t flags) {
    if (!v) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_detokenize: vocab is NULL");
    if (n_tokens < 0 || (n_tokens > 0 && !tokens))
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_detokenize: n_tokens %d with tokens %p", n_tokens, (const void *)tokens);
    if (capacity < 0 || (capacity > 0 && !buf))
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_detokenize: capacity %d with buf %p", capacity, (void *)buf);
    if (flags & ~kDetokFlags) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_detokenize: unknown flags 0x%x", flags);
    for (int32_t i = 0; i < n_tokens; ++i)
        if (tokens[i] < 0 || tokens[i] >= v->n_tokens())
            return ffl_fail(FFL_ERR_OUT_OF_RANGE, "ffl_detokenize: tokens[%d] = %d is outside [0, %d)", i, tokens[i], v->n_tokens());
    try {
        int32_t first = 0, last = n_tokens;
        if (flags & FFL_DETOKENIZE_REMOVE_SPECIAL) {
            if (v->add_bos && last > first && tokens[first] == v->bos) ++first;
            if (v->add_eos && last > first && tokens[last - 1] == v->eos) --last;
        }
        /* SentencePiece (add_space_prefix) and WordPiece (phantom U+2581 on every word) both put a space in front. */
        bool strip = (flags & FFL_DETOKENIZE_REMOVE_LEADING_SPACE) && (v->add_space_prefix || v->type == FFL_VOCAB_WPM);
        std::string text;
        for (int32_t i = first; i < last; ++i) {
            const std::string &p = piece_of(*v, tokens[i], flags);
            if (p.empty()) continue;
            if (strip && p[0] == ' ') text.append(p, 1, std::string::npos);
            else text.append(p);
            strip = false;
        }
        if ((flags & FFL_DETOKENIZE_CLEAN_SPACES) && v->clean_spaces) clean_spaces(text);
        if (text.size() > (size_t)std::numeric_limits<int32_t>::max())
            return ffl_fail(FFL_ERR_OUT_OF_RANGE, "ffl_detokenize: %zu bytes do not fit in int32", text.size());
        if (text.size() <= (size_t)capacity && !text.empty()) memcpy(buf, text.data(), text.size());
        return (int32_t)text.size();
    } catch (const std::bad_alloc &) {
        return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "ffl_detokenize: out of memory");
    }
}

/* ---- streaming UTF-8 ---- */

struct ffl_utf8_stream {
    std::string held; /* an incomplete but so far valid sequence */
    std::string out;
};

namespace {

/* Bytes a well-formed sequence starting with b has (0: b cannot start one), and the allowed range
 * of its second byte (Unicode Table 3-7, which excludes overlongs, surrogates and > U+10FFFF). */
int seq_len(uint8_t b, uint8_t *lo, uint8_t *hi) {
    *lo = 0x80;
    *hi = 0xBF;
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF) return 2;
    if (b == 0xE0) { *lo = 0xA0; return 3; }
    if (b >= 0xE1 && b <= 0xEC) return 3;
    if (b == 0xED) { *hi = 0x9F; return 3; }
    if (b >= 0xEE && b <= 0xEF) return 3;
    if (b == 0xF0) { *lo = 0x90; return 4; }
    if (b >= 0xF1 && b <= 0xF3) return 4;
    if (b == 0xF4) { *hi = 0x8F; return 4; }
    return 0;
}

const char kReplacement[] = "\xEF\xBF\xBD";

/* Appends the valid part of held+data to out; keeps a trailing incomplete sequence in held. */
void stream_feed(ffl_utf8_stream &s, const char *data, size_t len) {
    std::string in;
    in.reserve(s.held.size() + len);
    in.append(s.held);
    in.append(data, len);
    s.held.clear();
    size_t i = 0;
    while (i < in.size()) {
        uint8_t lo, hi;
        int n = seq_len((uint8_t)in[i], &lo, &hi);
        if (n == 0) {
            s.out.append(kReplacement, 3);
            ++i;
            continue;
        }
        int k = 1; /* bytes of the sequence present and valid */
        while (k < n && i + (size_t)k < in.size()) {
            uint8_t c = (uint8_t)in[i + (size_t)k];
            uint8_t l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
            if (c < l || c > h) break;
            ++k;
        }
        if (k == n) {
            s.out.append(in, i, (size_t)n);
            i += (size_t)n;
        } else if (i + (size_t)k == in.size()) {
            s.held.assign(in, i, (size_t)k); /* wait for the rest */
            break;
        } else {
            s.out.append(kReplacement, 3); /* maximal invalid subpart -> one U+FFFD */
            i += (size_t)k;
        }
    }
}

int32_t stream_result(ffl_utf8_stream *s, const char **out, int64_t *out_length) {
    *out = s->out.c_str();
    *out_length = (int64_t)s->out.size();
    return FFL_OK;
}

} // namespace

extern "C" int32_t ffl_utf8_stream_new(ffl_utf8_stream **out) {
    if (!out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_utf8_stream_new: out is NULL");
    *out = new (std::nothrow) ffl_utf8_stream();
    return *out ? FFL_OK : ffl_fail(FFL_ERR_OUT_OF_MEMORY, "ffl_utf8_stream_new: out of memory");
}

extern "C" void ffl_utf8_stream_free(ffl_utf8_stream *s) { delete s; }

extern "C" int32_t ffl_utf8_stream_push(ffl_utf8_stream *s, const char *bytes, int64_t length, const char **out, int64_t *out_length) {
    if (!s || !out || !out_length || (!bytes && length != 0) || length < 0)
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_utf8_stream_push: bad argument");
    try {
        s->out.clear();
        stream_feed(*s, bytes ? bytes : "", (size_t)length);
        return stream_result(s, out, out_length);
    } catch (const std::bad_alloc &) {
        return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "ffl_utf8_stream_push: out of memory");
    }
}

extern "C" int32_t ffl_utf8_stream_push_token(ffl_utf8_stream *s, const ffl_vocab *v, int32_t token, int32_t flags,
                                              const char **out, int64_t *out_length) {
    if (!s || !v || !out || !out_length) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_utf8_stream_push_token: bad argument");
    if (token < 0 || token >= v->n_tokens())
        return ffl_fail(FFL_ERR_OUT_OF_RANGE, "ffl_utf8_stream_push_token: token %d is outside [0, %d)", token, v->n_tokens());
    if (flags & ~kDetokFlags) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_utf8_stream_push_token: unknown flags 0x%x", flags);
    const std::string &p = piece_of(*v, token, flags);
    size_t skip = (flags & FFL_DETOKENIZE_REMOVE_LEADING_SPACE) && !p.empty() && p[0] == ' ' ? 1 : 0;
    return ffl_utf8_stream_push(s, p.data() + skip, (int64_t)(p.size() - skip), out, out_length);
}

extern "C" int32_t ffl_utf8_stream_flush(ffl_utf8_stream *s, const char **out, int64_t *out_length) {
    if (!s || !out || !out_length) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_utf8_stream_flush: bad argument");
    try {
        s->out.clear();
        if (!s->held.empty()) s->out.append(kReplacement, 3);
        s->held.clear();
        return stream_result(s, out, out_length);
    } catch (const std::bad_alloc &) {
        return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "ffl_utf8_stream_flush: out of memory");
    }
}

extern "C" int32_t ffl_utf8_stream_pending(const ffl_utf8_stream *s) {
    if (!s) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_utf8_stream_pending: stream is NULL");
    return (int32_t)s->held.size();
}
