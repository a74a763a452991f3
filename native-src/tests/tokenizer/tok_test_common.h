/* Shared helpers of the tokenizer tests: fixture files and llama.cpp's vocab test vectors. */
#ifndef FFL_TOK_TEST_COMMON_H
#define FFL_TOK_TEST_COMMON_H

#include "fflama.h"
#include "test_util.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

static const char *const k_vocab_names[] = {"llama-spm", "gpt-2", "falcon", "starcoder", "mpt", "deepseek-coder", "bert-bge"};

static inline std::string read_file(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

static inline std::string vocab_path(const char *name, const char *suffix = "") {
    return std::string(testdata_dir()) + "/vocab/ggml-vocab-" + name + ".gguf" + suffix;
}

/* The strings of a .inp file: each is followed by "\n__ggml_vocab_test__\n". */
static inline std::vector<std::string> read_inputs(const std::string &path) {
    static const std::string sep = "\n__ggml_vocab_test__\n";
    std::string all = read_file(path);
    std::vector<std::string> out;
    size_t pos = 0;
    while (true) {
        size_t hit = all.find(sep, pos);
        if (hit == std::string::npos) break;
        out.push_back(all.substr(pos, hit - pos));
        pos = hit + sep.size();
    }
    return out;
}

/* The id lists of a .out file, one line per input string. */
static inline std::vector<std::vector<int32_t>> read_outputs(const std::string &path) {
    std::string all = read_file(path);
    std::vector<std::vector<int32_t>> out;
    std::istringstream lines(all);
    std::string line;
    while (std::getline(lines, line)) {
        std::vector<int32_t> ids;
        std::istringstream ws(line);
        long id;
        while (ws >> id) ids.push_back((int32_t)id);
        out.push_back(ids);
    }
    return out;
}

static inline std::vector<int32_t> encode(const ffl_vocab *v, const std::string &s, int32_t flags) {
    int32_t n = ffl_tokenize(v, s.data(), (int64_t)s.size(), nullptr, 0, flags);
    if (n < 0) return {-999};
    std::vector<int32_t> ids((size_t)n);
    int32_t m = ffl_tokenize(v, s.data(), (int64_t)s.size(), ids.data(), n, flags);
    if (m != n) return {-998};
    return ids;
}

static inline std::string decode(const ffl_vocab *v, const std::vector<int32_t> &ids, int32_t flags) {
    int32_t n = ffl_detokenize(v, ids.data(), (int32_t)ids.size(), nullptr, 0, flags);
    if (n < 0) return "<error>";
    std::string s((size_t)n, '\0');
    if (ffl_detokenize(v, ids.data(), (int32_t)ids.size(), &s[0], n, flags) != n) return "<error2>";
    return s;
}

static inline std::string join_ids(const std::vector<int32_t> &ids) {
    std::string s;
    for (size_t i = 0; i < ids.size(); ++i) s += (i ? " " : "") + std::to_string(ids[i]);
    return s;
}

#endif
