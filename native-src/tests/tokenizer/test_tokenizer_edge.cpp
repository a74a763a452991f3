/* Edge cases: empty, NUL bytes, invalid UTF-8, very long input, buffer-size conventions, bad
 * arguments, special-token parsing, end-of-generation ids and streaming UTF-8 decoding. */
#include "tok_test_common.h"

#include <map>

static std::map<std::string, ffl_vocab *> vocabs;

static ffl_vocab *V(const char *name) { return vocabs[name]; }

static std::string stream_all(ffl_utf8_stream *s, const ffl_vocab *v, const std::vector<int32_t> &ids, std::vector<std::string> *chunks) {
    std::string all;
    for (int32_t id : ids) {
        const char *out = nullptr;
        int64_t n = -1;
        CHECK(ffl_utf8_stream_push_token(s, v, id, 0, &out, &n) == FFL_OK);
        if (n > 0) {
            all.append(out, (size_t)n);
            if (chunks) chunks->emplace_back(out, (size_t)n);
        }
    }
    const char *out = nullptr;
    int64_t n = -1;
    CHECK(ffl_utf8_stream_flush(s, &out, &n) == FFL_OK);
    all.append(out, (size_t)n);
    return all;
}

static void test_empty_and_specials() {
    for (const char *name : k_vocab_names) CHECK_MSG(encode(V(name), "", 0).empty(), "%s", name);
    CHECK(encode(V("llama-spm"), "", FFL_TOKENIZE_ADD_SPECIAL) == std::vector<int32_t>{1});
    CHECK(encode(V("gpt-2"), "", FFL_TOKENIZE_ADD_SPECIAL).empty()); /* gpt-2 adds no BOS */
    CHECK(encode(V("deepseek-coder"), "", FFL_TOKENIZE_ADD_SPECIAL) == std::vector<int32_t>{32013});
    CHECK(encode(V("bert-bge"), "", FFL_TOKENIZE_ADD_SPECIAL) == (std::vector<int32_t>{101, 102}));
    CHECK(encode(V("bert-bge"), "hello", FFL_TOKENIZE_ADD_SPECIAL).front() == 101);
    CHECK(encode(V("bert-bge"), "hello", FFL_TOKENIZE_ADD_SPECIAL).back() == 102);

    /* Special ids. */
    CHECK(ffl_vocab_special_token(V("gpt-2"), FFL_TOKEN_EOS) == 50256);
    CHECK(ffl_vocab_is_eog(V("gpt-2"), 50256) == 1);
    CHECK(ffl_vocab_special_token(V("deepseek-coder"), FFL_TOKEN_BOS) == 32013);
    CHECK(ffl_vocab_special_token(V("deepseek-coder"), FFL_TOKEN_EOS) == 32014);
    CHECK(ffl_vocab_special_token(V("deepseek-coder"), FFL_TOKEN_FIM_PRE) == 32016);
    CHECK(ffl_vocab_special_token(V("deepseek-coder"), FFL_TOKEN_FIM_SUF) == 32015);
    CHECK(ffl_vocab_special_token(V("deepseek-coder"), FFL_TOKEN_FIM_MID) == 32017);
    CHECK(ffl_vocab_special_token(V("starcoder"), FFL_TOKEN_FIM_PRE) == 1);
    CHECK(ffl_vocab_special_token(V("starcoder"), FFL_TOKEN_FIM_MID) == 2);
    CHECK(ffl_vocab_special_token(V("starcoder"), FFL_TOKEN_FIM_SUF) == 3);
    CHECK(ffl_vocab_special_token(V("starcoder"), FFL_TOKEN_FIM_PAD) == 4);
    CHECK(ffl_vocab_is_eog(V("starcoder"), 0) == 1); /* <|endoftext|> */
    CHECK(ffl_vocab_is_eog(V("starcoder"), 4) == 1); /* <fim_pad> ends generation as in llama.cpp */
    CHECK(ffl_vocab_special_token(V("bert-bge"), FFL_TOKEN_CLS) == 101);
    CHECK(ffl_vocab_special_token(V("bert-bge"), FFL_TOKEN_SEP) == 102);
    CHECK(ffl_vocab_special_token(V("bert-bge"), FFL_TOKEN_MASK) == 103);
    CHECK(ffl_vocab_special_token(V("bert-bge"), FFL_TOKEN_UNK) == 100);
    CHECK(ffl_vocab_special_token(V("gpt-2"), 999) == -1);
    CHECK(ffl_vocab_get_type(V("gpt-2")) == FFL_VOCAB_BPE && ffl_vocab_get_type(V("bert-bge")) == FFL_VOCAB_WPM);
    CHECK(std::string(ffl_vocab_pre_name(V("falcon"))) == "falcon");
    CHECK(std::string(ffl_vocab_pre_name(V("llama-spm"))) == "default");
    CHECK(std::string(ffl_vocab_model_name(V("gpt-2"))) == "gpt2");
    CHECK(ffl_vocab_find_token(V("gpt-2"), "<|endoftext|>", -1) == 50256);
    CHECK(ffl_vocab_find_token(V("gpt-2"), "no such token at all", -1) == -1);
    float score = 1;
    CHECK(ffl_vocab_token_score(V("llama-spm"), 260, &score) == FFL_OK && score == -1.0f);
    CHECK(ffl_vocab_token_type(V("llama-spm"), 1) == 3 && ffl_vocab_token_type(V("llama-spm"), 3) == 6);
    const char *text = nullptr;
    uint64_t len = 0;
    CHECK(ffl_vocab_token_text(V("llama-spm"), 1, &text, &len) == FFL_OK && std::string(text, len) == "<s>");

    /* Parsing special-token text. */
    const std::string eot = "<|endoftext|>";
    CHECK(encode(V("gpt-2"), eot, FFL_TOKENIZE_PARSE_SPECIAL) == std::vector<int32_t>{50256});
    CHECK(encode(V("gpt-2"), eot, 0).size() > 1);
    CHECK(encode(V("gpt-2"), "a" + eot + "b", FFL_TOKENIZE_PARSE_SPECIAL).size() == 3);
    std::vector<int32_t> spm = encode(V("llama-spm"), "<s>Hello</s>", FFL_TOKENIZE_PARSE_SPECIAL);
    CHECK(spm.size() >= 3 && spm.front() == 1 && spm.back() == 2);
    /* Text after a special token gets SentencePiece's space prefix, as with llama.cpp. */
    CHECK(std::vector<int32_t>(spm.begin() + 1, spm.end() - 1) == encode(V("llama-spm"), "Hello", 0));
    CHECK(decode(V("llama-spm"), spm, FFL_DETOKENIZE_RENDER_SPECIAL) == "<s> Hello</s>");
    CHECK(decode(V("llama-spm"), spm, 0) == " Hello");
    CHECK(decode(V("llama-spm"), spm, FFL_DETOKENIZE_REMOVE_LEADING_SPACE) == "Hello");
    CHECK(decode(V("llama-spm"), spm, FFL_DETOKENIZE_REMOVE_SPECIAL | FFL_DETOKENIZE_RENDER_SPECIAL) == " Hello</s>");
    /* User-defined tokens are matched even without parse_special (mpt's whitespace runs). */
    CHECK(encode(V("mpt"), "a    b", 0) == encode(V("mpt"), "a    b", FFL_TOKENIZE_PARSE_SPECIAL));
    /* clean_up_tokenization_spaces on request only. */
    std::vector<int32_t> q = encode(V("gpt-2"), "Hello , world ! It 's", 0);
    CHECK(decode(V("gpt-2"), q, 0) == "Hello , world ! It 's");
    CHECK(decode(V("gpt-2"), q, FFL_DETOKENIZE_CLEAN_SPACES) == "Hello, world! It's");
}

static void test_bytes() {
    const std::string nul("a\0b\0", 4);
    for (const char *name : {"llama-spm", "gpt-2", "falcon", "starcoder", "mpt", "deepseek-coder"}) {
        std::vector<int32_t> ids = encode(V(name), nul, 0);
        CHECK_MSG(!ids.empty() && decode(V(name), ids, FFL_DETOKENIZE_REMOVE_LEADING_SPACE) == nul, "%s: NUL bytes", name);
    }
    /* NUL-terminated form. */
    CHECK(ffl_tokenize(V("gpt-2"), "Hello world", -1, nullptr, 0, 0) == 2);

    /* Invalid UTF-8: SentencePiece keeps every byte (byte fallback); byte-level BPE reads each
     * invalid byte as U+FFFD, as llama.cpp does; WordPiece drops it. */
    const std::string bad = "ok \xff\xfe\xc3 end \xe2\x82";
    CHECK(decode(V("gpt-2"), encode(V("gpt-2"), bad, 0), 0) ==
          "ok \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD end \xEF\xBF\xBD\xEF\xBF\xBD");
    CHECK(decode(V("bert-bge"), encode(V("bert-bge"), bad, 0), 0) == " ok end");
    /* SentencePiece cuts characters by their lead byte like llama.cpp, so a bad lead byte swallows the
     * next bytes; they all come back through byte fallback... */
    const std::string bad2 = "ok \xff" "abc\xfe\xc3xyz end \xe2\x82";
    CHECK(decode(V("llama-spm"), encode(V("llama-spm"), bad2, 0), FFL_DETOKENIZE_REMOVE_LEADING_SPACE) == bad2);
    /* ...except a space it swallows, which stays the U+2581 it was escaped to. */
    CHECK(decode(V("llama-spm"), encode(V("llama-spm"), "a\xff b", 0), FFL_DETOKENIZE_REMOVE_LEADING_SPACE) ==
          "a\xff\xe2\x96\x81" "b");

    /* Every single byte value, alone, encodes without error. */
    for (const char *name : k_vocab_names)
        for (int b = 0; b < 256; ++b) {
            char c = (char)b;
            CHECK_MSG(ffl_tokenize(V(name), &c, 1, nullptr, 0, 0) >= 0, "%s: byte %d", name, b);
        }
}

static void test_long() {
    /* A 2 MB text, and 128 KB of degenerate input: one endless word, one run of spaces (these cost
     * O(n log n) merges inside a single pre-tokenizer word, as in llama.cpp). */
    std::string words, letters(1 << 17, 'a'), spaces(1 << 17, ' ');
    while (words.size() < (1u << 21)) words += "The quick brown fox jumps over the lazy dog 1234567, again!\n";
    for (const char *name : k_vocab_names) {
        for (const std::string *s : {&words, &letters, &spaces}) {
            int32_t n = ffl_tokenize(V(name), s->data(), (int64_t)s->size(), nullptr, 0, 0);
            CHECK_MSG(n > 0 || (n == 0 && s == &spaces && std::string(name) == "bert-bge"), "%s: %d tokens", name, n);
        }
    }
    std::vector<int32_t> ids = encode(V("gpt-2"), words, 0);
    CHECK(decode(V("gpt-2"), ids, 0) == words);
    ids = encode(V("llama-spm"), letters, 0);
    CHECK(decode(V("llama-spm"), ids, FFL_DETOKENIZE_REMOVE_LEADING_SPACE) == letters);
}

static void test_buffers_and_errors() {
    const ffl_vocab *v = V("gpt-2");
    const char *s = "Hello world, this is a test";
    int32_t n = ffl_tokenize(v, s, -1, nullptr, 0, 0);
    CHECK(n > 3);
    std::vector<int32_t> full((size_t)n), part(3, -7);
    CHECK(ffl_tokenize(v, s, -1, full.data(), n, 0) == n);
    CHECK(ffl_tokenize(v, s, -1, part.data(), 2, 0) == n); /* count reported, first 2 written, rest untouched */
    CHECK(part[0] == full[0] && part[1] == full[1] && part[2] == -7);

    char buf[4] = {'x', 'x', 'x', 'x'};
    int32_t len = ffl_vocab_token_piece(v, full[1], buf, 1, 0); /* " world" needs 6 bytes */
    CHECK(len == 6 && buf[0] == 'x');
    char big[16];
    CHECK(ffl_vocab_token_piece(v, full[1], big, 16, 0) == 6 && std::string(big, 6) == " world");
    CHECK(ffl_vocab_token_piece(v, full[1], big, 16, FFL_DETOKENIZE_REMOVE_LEADING_SPACE) == 5 && std::string(big, 5) == "world");
    CHECK(ffl_vocab_token_piece(v, 50256, big, 16, 0) == 0); /* control token hidden */
    CHECK(ffl_vocab_token_piece(v, 50256, big, 16, FFL_DETOKENIZE_RENDER_SPECIAL) == 13);
    int32_t dn = ffl_detokenize(v, full.data(), n, buf, 4, 0);
    CHECK(dn == (int32_t)strlen(s) && buf[0] == 'x');

    CHECK(ffl_vocab_token_piece(v, -1, big, 16, 0) == FFL_ERR_OUT_OF_RANGE);
    CHECK(ffl_vocab_token_piece(v, 50257, big, 16, 0) == FFL_ERR_OUT_OF_RANGE);
    CHECK(ffl_vocab_token_piece(nullptr, 1, big, 16, 0) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_vocab_token_piece(v, 1, nullptr, 16, 0) == FFL_ERR_INVALID_ARGUMENT);
    int32_t bad_ids[2] = {5, 1000000};
    CHECK(ffl_detokenize(v, bad_ids, 2, big, 16, 0) == FFL_ERR_OUT_OF_RANGE);
    CHECK(ffl_detokenize(v, nullptr, 2, big, 16, 0) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_detokenize(v, bad_ids, 0, nullptr, 0, 0) == 0);
    CHECK(ffl_tokenize(nullptr, s, -1, nullptr, 0, 0) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_tokenize(v, nullptr, 5, nullptr, 0, 0) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_tokenize(v, nullptr, 0, nullptr, 0, 0) == 0);
    CHECK(ffl_tokenize(v, s, -2, nullptr, 0, 0) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_tokenize(v, s, -1, nullptr, 5, 0) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_tokenize(v, s, -1, nullptr, 0, 64) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_vocab_n_tokens(nullptr) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_vocab_is_eog(nullptr, 0) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_vocab_token_attr(v, 99999999) == FFL_ERR_OUT_OF_RANGE);
    ffl_vocab_free(nullptr);
}

static void test_stream() {
    ffl_utf8_stream *s = nullptr;
    CHECK(ffl_utf8_stream_new(&s) == FFL_OK && s);

    /* llama-spm has no token for the llama emoji: byte fallback splits it over four tokens. */
    const std::string text = "I like \xf0\x9f\xa6\x99 and \xe4\xbd\xa0\xe5\xa5\xbd!";
    std::vector<int32_t> ids = encode(V("llama-spm"), text, 0);
    std::vector<std::string> chunks;
    std::string all = stream_all(s, V("llama-spm"), ids, &chunks);
    CHECK(all == " " + text);
    bool emoji_whole = false;
    for (const std::string &c : chunks) {
        CHECK_MSG(c.find('\xf0') == std::string::npos || c.find("\xf0\x9f\xa6\x99") != std::string::npos, "split emoji");
        if (c.find("\xf0\x9f\xa6\x99") != std::string::npos) emoji_whole = true;
    }
    CHECK(emoji_whole);
    /* gpt-2 splits it too (byte-level pieces). */
    ids = encode(V("gpt-2"), text, 0);
    chunks.clear();
    CHECK(stream_all(s, V("gpt-2"), ids, &chunks) == text);
    for (const std::string &c : chunks) {
        std::string u = c;
        CHECK_MSG(u.find("\xf0\x9f\xa6") == std::string::npos || u.find("\xf0\x9f\xa6\x99") != std::string::npos, "split emoji");
    }

    /* Byte by byte, one push at a time. */
    const char *out = nullptr;
    int64_t n = 0;
    std::string got;
    for (char c : text) {
        CHECK(ffl_utf8_stream_push(s, &c, 1, &out, &n) == FFL_OK);
        got.append(out, (size_t)n);
    }
    CHECK(got == text && ffl_utf8_stream_pending(s) == 0);

    /* Held bytes and invalid input. */
    CHECK(ffl_utf8_stream_push(s, "\xe4\xbd", 2, &out, &n) == FFL_OK && n == 0 && ffl_utf8_stream_pending(s) == 2);
    CHECK(ffl_utf8_stream_flush(s, &out, &n) == FFL_OK && std::string(out, (size_t)n) == "\xEF\xBF\xBD");
    CHECK(ffl_utf8_stream_pending(s) == 0);
    CHECK(ffl_utf8_stream_push(s, "a\xff" "b\xe4\xbdz\xc0\x80", 8, &out, &n) == FFL_OK);
    CHECK(std::string(out, (size_t)n) == "a\xEF\xBF\xBD" "b\xEF\xBF\xBDz\xEF\xBF\xBD\xEF\xBF\xBD");
    CHECK(ffl_utf8_stream_push(s, "\xed\xa0\x80", 3, &out, &n) == FFL_OK); /* a surrogate is not valid UTF-8 */
    CHECK(std::string(out, (size_t)n).find("\xed\xa0\x80") == std::string::npos);
    CHECK(ffl_utf8_stream_push(s, nullptr, 0, &out, &n) == FFL_OK && n == 0);
    CHECK(ffl_utf8_stream_push(nullptr, "a", 1, &out, &n) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_utf8_stream_push_token(s, V("gpt-2"), -3, 0, &out, &n) == FFL_ERR_OUT_OF_RANGE);
    ffl_utf8_stream_free(s);
    ffl_utf8_stream_free(nullptr);
}

int main() {
    for (const char *name : k_vocab_names) {
        ffl_vocab *v = nullptr;
        CHECK_MSG(ffl_vocab_load(vocab_path(name).c_str(), &v) == FFL_OK, "%s: %s", name, ffl_last_error());
        if (!v) return test_finish("test_tokenizer_edge");
        vocabs[name] = v;
    }
    test_empty_and_specials();
    test_bytes();
    test_long();
    test_buffers_and_errors();
    test_stream();
    for (auto &kv : vocabs) ffl_vocab_free(kv.second);
    return test_finish("test_tokenizer_edge");
}
