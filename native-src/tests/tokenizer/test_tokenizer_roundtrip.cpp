/* Round trips for every test vocabulary:
 *  - every ordinary token decodes to text that encodes and decodes back to the same text;
 *  - decode(encode(s)) == s for every test string, except where the tokenizer is lossy by design:
 *    WordPiece (bert) lowercases, strips accents, drops control characters and does not keep
 *    whitespace, so only its word-level round trip is checked. */
#include "tok_test_common.h"

static bool valid_utf8(const std::string &s) {
    size_t i = 0;
    while (i < s.size()) {
        unsigned char b = (unsigned char)s[i];
        size_t n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (size_t k = 1; k < n; ++k)
            if (((unsigned char)s[i + k] & 0xC0) != 0x80) return false;
        i += n;
    }
    return true;
}

static std::string piece(const ffl_vocab *v, int32_t id, int32_t flags) {
    int32_t n = ffl_vocab_token_piece(v, id, nullptr, 0, flags);
    if (n < 0) return "<error>";
    std::string s((size_t)n, '\0');
    if (n > 0 && ffl_vocab_token_piece(v, id, &s[0], n, flags) != n) return "<error2>";
    return s;
}

int main() {
    for (const char *name : k_vocab_names) {
        ffl_vocab *v = nullptr;
        if (ffl_vocab_load(vocab_path(name).c_str(), &v) != FFL_OK) {
            CHECK_MSG(false, "%s: %s", name, ffl_last_error());
            continue;
        }
        const bool wpm = ffl_vocab_get_type(v) == FFL_VOCAB_WPM;
        const int32_t dflags = FFL_DETOKENIZE_REMOVE_LEADING_SPACE;

        /* Single tokens. */
        int32_t n_vocab = ffl_vocab_n_tokens(v), checked = 0, failed = 0;
        for (int32_t id = 0; id < n_vocab; ++id) {
            int32_t attr = ffl_vocab_token_attr(v, id);
            if (!(attr & (FFL_TOKEN_ATTR_NORMAL | FFL_TOKEN_ATTR_USER_DEFINED)) || (attr & FFL_TOKEN_ATTR_CONTROL)) continue;
            std::string text = piece(v, id, 0);
            if (text.empty() || !valid_utf8(text)) continue; /* partial UTF-8 (byte pieces) is not text */
            if (wpm) {
                /* A word-start piece of lowercase letters is its own WordPiece encoding. */
                bool word = text.size() > 1 && text[0] == ' ';
                for (size_t k = 1; k < text.size() && word; ++k) word = text[k] >= 'a' && text[k] <= 'z';
                if (!word) continue;
                ++checked;
                if (encode(v, text, 0) != std::vector<int32_t>{id}) ++failed;
                continue;
            }
            ++checked;
            std::string back = decode(v, encode(v, text, 0), dflags);
            if (back != text) {
                if (++failed <= 5) CHECK_MSG(back == text, "%s: token %d '%s' came back as '%s'", name, id, text.c_str(), back.c_str());
            }
        }
        CHECK_MSG(failed == 0 && checked > 1000, "%s: %d of %d single-token round trips failed", name, failed, checked);
        printf("%s: %d single-token round trips, %d failed\n", name, checked, failed);

        /* The test strings. */
        std::vector<std::string> inputs = read_inputs(vocab_path(name, ".inp"));
        int lossless = 0;
        for (const std::string &s : inputs) {
            std::string back = decode(v, encode(v, s, 0), dflags);
            if (back == s) {
                ++lossless;
                continue;
            }
            if (wpm) continue;
            CHECK_MSG(back == s, "%s: '%s' came back as '%s'", name, s.c_str(), back.c_str());
        }
        printf("%s: %d/%zu test strings round-trip exactly\n", name, lossless, inputs.size());
        if (!wpm) CHECK(lossless == (int)inputs.size());
        /* With add_special the leading BOS is dropped by REMOVE_SPECIAL (or hidden as a control token). */
        for (const std::string &s : inputs) {
            std::string back = decode(v, encode(v, s, FFL_TOKENIZE_ADD_SPECIAL), dflags | FFL_DETOKENIZE_REMOVE_SPECIAL);
            if (!wpm) CHECK_MSG(back == s, "%s: with specials '%s' came back as '%s'", name, s.c_str(), back.c_str());
        }
        ffl_vocab_free(v);
    }
    return test_finish("test_tokenizer_roundtrip");
}
