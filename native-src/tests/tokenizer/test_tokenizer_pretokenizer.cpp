/* The pre-tokenizers against std::regex used the way llama.cpp uses it (patterns with \p{..} run on a
 * "collapsed" text, the others on codepoints via std::wregex), on the test strings and on random
 * strings drawn from characters of every category, for every known tokenizer.ggml.pre value.
 * Also: the SentencePiece fast path (independent runs split at word starts) against one pass. */
#include "tok_test_common.h"

#include "tokenizer/pretokenize.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab_impl.h"

#include <map>
#include <random>
#include <regex>

using namespace ffl_tok;

static const char *const k_props[] = {"\\p{N}", "\\p{L}", "\\p{P}", "\\p{M}", "\\p{S}"};

/* llama.cpp's mapping of a \p{..} to a collapsed character class body. */
static std::string collapsed_class(const std::string &prop) {
    if (prop == "\\p{N}") return "\xD1\x30-\x39";
    if (prop == "\\p{L}") return "\xD2\x41-\x5A\x61-\x7A";
    if (prop == "\\p{P}") return "\xD3\x21-\x23\x25-\x2A\x2C-\x2F\x3A-\x3B\x3F-\x40\\\x5B-\\\x5D\x5F\\\x7B\\\x7D";
    if (prop == "\\p{M}") return "\xD4";
    return "\xD5\\\x24\\\x2B\x3C-\x3E\x5E\x60\\\x7C";
}

static std::vector<uint32_t> reference_split(const std::vector<std::string> &patterns, const std::vector<uint32_t> &cps) {
    std::vector<uint32_t> offsets = {(uint32_t)cps.size()};
    if (cps.empty()) return {};
    for (const std::string &re : patterns) {
        bool collapsed = false;
        for (const char *p : k_props)
            if (re.find(p) != std::string::npos) collapsed = true;
        std::vector<uint32_t> next;
        if (collapsed) {
            std::string rx;
            bool inside = false;
            for (size_t i = 0; i < re.size(); ++i) {
                if (re[i] == '[' && (i == 0 || re[i - 1] != '\\')) {
                    rx += '[';
                    inside = true;
                    continue;
                }
                if (inside && re[i] == ']' && re[i - 1] != '\\') {
                    rx += ']';
                    inside = false;
                    continue;
                }
                if (re[i] == '\\' && i + 4 < re.size() && re[i + 1] == 'p' && re[i + 2] == '{' && re[i + 4] == '}') {
                    std::string prop = re.substr(i, 5);
                    rx += inside ? collapsed_class(prop) : "[" + collapsed_class(prop) + "]";
                    i += 4;
                    continue;
                }
                rx += re[i];
            }
            std::string text;
            for (uint32_t c : cps) text.push_back((char)regex_collapse(c));
            static std::map<std::string, std::regex> compiled;
            auto found = compiled.find(rx);
            if (found == compiled.end())
                found = compiled.emplace(rx, std::regex(rx, std::regex_constants::optimize | std::regex_constants::nosubs)).first;
            const std::regex &expr = found->second;
            size_t start = 0;
            for (uint32_t len : offsets) {
                std::cregex_iterator it(text.data() + start, text.data() + start + len, expr), end;
                int64_t idx = 0;
                for (; it != end; ++it) {
                    if (it->position() > idx) next.push_back((uint32_t)(it->position() - idx));
                    if (it->length() > 0) next.push_back((uint32_t)it->length());
                    idx = it->position() + it->length();
                }
                if (idx < (int64_t)len) next.push_back((uint32_t)(len - idx));
                start += len;
            }
        } else {
            std::vector<uint32_t> pcps;
            utf8_decode(re.data(), re.size(), pcps);
            std::wstring wre(pcps.begin(), pcps.end());
            std::wstring text;
            for (uint32_t c : cps) text.push_back((wchar_t)regex_widen(c));
            static std::map<std::wstring, std::wregex> compiled;
            auto found = compiled.find(wre);
            if (found == compiled.end())
                found = compiled.emplace(wre, std::wregex(wre, std::regex_constants::optimize | std::regex_constants::nosubs)).first;
            const std::wregex &expr = found->second;
            size_t start = 0;
            for (uint32_t len : offsets) {
                std::wcregex_iterator it(text.data() + start, text.data() + start + len, expr), end;
                int64_t idx = 0;
                for (; it != end; ++it) {
                    if (it->position() > idx) next.push_back((uint32_t)(it->position() - idx));
                    if (it->length() > 0) next.push_back((uint32_t)it->length());
                    idx = it->position() + it->length();
                }
                if (idx < (int64_t)len) next.push_back((uint32_t)(len - idx));
                start += len;
            }
        }
        offsets.swap(next);
    }
    return offsets;
}

static const char *const k_pool[] = {
    "a", "b", "Z", "s", "t", "re", "ve", "ll", "d", "m", "S", "RE", "'", "'", "0", "7", "123", " ", " ", " ", "  ", "\n", "\r",
    "\t", "\v", "!", "?", ".", ",", "$", "+", "<", "=", ">", "^", "~", "|", "`", "-", "_", "/", "(", ")", "[", "\\", "\"",
    "\xc3\xa9",         /* é (L) */
    "\xc3\x9f",         /* ß */
    "\xd0\x96",         /* Ж */
    "\xe4\xb8\xad",     /* 中 */
    "\xea\xb0\x80",     /* 가 */
    "\xf0\x9f\xa6\x99", /* llama emoji (S) */
    "\xcc\x81",         /* combining acute (M) */
    "\xc2\xa0",         /* NBSP (Z, whitespace) */
    "\xe3\x80\x80",     /* ideographic space */
    "\xe2\x80\xa8",     /* line separator */
    "\xd9\xa3",         /* Arabic-Indic three (N) */
    "\xc2\xbd",         /* one half (No) */
    "\xe2\x80\x8b",     /* zero width space (Cf) */
    "\xef\xbc\x81",     /* fullwidth ! (P) */
    "\xe2\x80\x94",     /* em dash (Pd) */
    "\xe2\x80\xa6",     /* ellipsis */
    "\xc2\xb5",         /* micro sign */
    "\xe3\x80\x82",     /* ideographic full stop */
    "\xe1\x9e\xb6",     /* Khmer vowel sign (Mc) */
    "\xcd\xb8",         /* unassigned (Cn) */
    "\x01",             /* control */
    "\xff",             /* invalid byte */
};

int main() {
    std::vector<std::string> inputs = read_inputs(vocab_path("gpt-2", ".inp"));
    std::mt19937 rng(12345);
    for (int i = 0; i < 400; ++i) {
        std::string s;
        int n = (int)(rng() % 24);
        for (int k = 0; k < n; ++k) s += k_pool[rng() % (sizeof k_pool / sizeof k_pool[0])];
        inputs.push_back(s);
    }

    for (const std::string &name : pre_tokenizer_names()) {
        PreTokenizerConfig cfg;
        CHECK(pre_tokenizer_config(name, &cfg));
        PreTokenizer pre(cfg.patterns);
        int mismatches = 0;
        for (const std::string &s : inputs) {
            std::vector<uint32_t> cps, got;
            utf8_decode(s.data(), s.size(), cps);
            pre.split(cps, got);
            std::vector<uint32_t> want = reference_split(cfg.patterns, cps);
            /* llama.cpp keeps zero-length pieces from empty matches; they encode to nothing. */
            want.erase(std::remove(want.begin(), want.end(), 0u), want.end());
            if (got != want && ++mismatches <= 3) {
                std::string g, w;
                for (uint32_t x : got) g += std::to_string(x) + " ";
                for (uint32_t x : want) w += std::to_string(x) + " ";
                CHECK_MSG(got == want, "pre '%s' on '%s': got [%s] want [%s]", name.c_str(), s.c_str(), g.c_str(), w.c_str());
            }
        }
        CHECK_MSG(mismatches == 0, "pre '%s': %d mismatches", name.c_str(), mismatches);
    }

    /* SentencePiece: runs split at word starts give the same tokens as one pass over everything. */
    for (const char *file : {"vocab/ggml-vocab-llama-spm.gguf", "models/stories260K-f32.gguf"}) {
        ffl_vocab *v = nullptr;
        CHECK(ffl_vocab_load((std::string(testdata_dir()) + "/" + file).c_str(), &v) == FFL_OK);
        if (!v) continue;
        CHECK(v->spm_split_safe);
        std::string all;
        for (const std::string &s : inputs) all += s + " ";
        all += all;
        std::vector<int32_t> fast = encode(v, all, 0);
        v->spm_split_safe = false;
        std::vector<int32_t> slow = encode(v, all, 0);
        CHECK_MSG(fast == slow && !fast.empty(), "%s: split fast path differs (%zu vs %zu tokens)", file, fast.size(), slow.size());
        for (const std::string &s : inputs) {
            v->spm_split_safe = true;
            std::vector<int32_t> a = encode(v, s, 0);
            v->spm_split_safe = false;
            CHECK(a == encode(v, s, 0));
        }
        ffl_vocab_free(v);
    }
    return test_finish("test_tokenizer_pretokenizer");
}
