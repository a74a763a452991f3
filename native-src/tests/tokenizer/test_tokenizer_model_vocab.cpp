/* The model fixtures' 512-token SentencePiece vocabulary: the reference prompt with BOS, loading
 * from a full model file, special tokens and end-of-generation. */
#include "tok_test_common.h"

#include "gguf/gguf_internal.h"
#include "tokenizer/vocab.h"

#include <unistd.h>

/* The text of a JSON key's value: the [...] list or "..." string after "key": (the reference files are flat). */
static std::string json_value(const std::string &json, const char *key) {
    size_t k = json.find(std::string("\"") + key + "\"");
    if (k == std::string::npos) return "";
    size_t colon = json.find(':', k);
    size_t open = json.find_first_of("[\"", colon + 1);
    if (colon == std::string::npos || open == std::string::npos) return "";
    size_t close = json.find(json[open] == '[' ? ']' : '"', open + 1);
    return close == std::string::npos ? "" : json.substr(open + 1, close - open - 1);
}

static std::vector<int32_t> reference_ids(const std::string &json_path, const char *key) {
    std::string list = json_value(read_file(json_path), key);
    for (char &c : list)
        if (c == ',') c = ' ';
    std::istringstream ws(list);
    std::vector<int32_t> ids;
    long id;
    while (ws >> id) ids.push_back((int32_t)id);
    return ids;
}

int main() {
    const std::string models = std::string(testdata_dir()) + "/models/";
    const std::string refs = std::string(testdata_dir()) + "/reference/";
    std::vector<int32_t> expected = reference_ids(refs + "stories260K-f32.ref.json", "prompt_tokens");
    CHECK(expected.size() == 8);

    for (const char *file : {"stories260K-f32.gguf", "stories260K-f16.gguf", "llama-dense-q4_0.gguf", "qwen2-f32.gguf"}) {
        ffl_vocab *v = nullptr;
        CHECK_MSG(ffl_vocab_load((models + file).c_str(), &v) == FFL_OK, "%s: %s", file, ffl_last_error());
        if (!v) continue;
        CHECK(ffl_vocab_n_tokens(v) == 512);
        CHECK(ffl_vocab_get_type(v) == FFL_VOCAB_SPM);
        std::vector<int32_t> got = encode(v, "Once upon a time there was a", FFL_TOKENIZE_ADD_SPECIAL);
        CHECK_MSG(got == expected, "%s: got %s", file, join_ids(got).c_str());
        CHECK(ffl_vocab_special_token(v, FFL_TOKEN_BOS) == 1);
        CHECK(ffl_vocab_special_token(v, FFL_TOKEN_EOS) == 2);
        CHECK(ffl_vocab_special_token(v, FFL_TOKEN_UNK) == 0);
        CHECK(ffl_vocab_special_token(v, FFL_TOKEN_SEP) == -1); /* stored as 0xFFFFFFFF: none */
        CHECK(ffl_vocab_special_token(v, FFL_TOKEN_PAD) == -1);
        CHECK(ffl_vocab_special_token(v, FFL_TOKEN_NL) == 13);  /* <0x0A> */
        CHECK(ffl_vocab_is_eog(v, 2) == 1);
        CHECK(ffl_vocab_is_eog(v, 1) == 0);
        CHECK(ffl_vocab_is_eog(v, 403) == 0);
        CHECK(ffl_vocab_is_eog(v, -5) == 0);
        CHECK(ffl_vocab_is_eog(v, 512) == 0);
        CHECK((ffl_vocab_flags(v) & FFL_VOCAB_FLAG_ADD_BOS) != 0);
        CHECK((ffl_vocab_flags(v) & FFL_VOCAB_FLAG_ADD_SPACE_PREFIX) != 0);
        /* Decoding the reference prompt gives the prompt back. */
        CHECK(decode(v, expected, FFL_DETOKENIZE_REMOVE_LEADING_SPACE) == "Once upon a time there was a");
        CHECK(decode(v, expected, FFL_DETOKENIZE_RENDER_SPECIAL) == "<s> Once upon a time there was a");
        ffl_vocab_free(v);
    }

    /* The model loader's path: a vocabulary from an already open file, which may then be closed. */
    ffl_gguf *g = nullptr;
    CHECK(ffl_gguf_open((models + "stories260K-f32.gguf").c_str(), 0, &g) == FFL_OK);
    ffl_vocab *v = nullptr;
    CHECK(ffl_vocab_from_gguf(g, &v) == FFL_OK);
    ffl_gguf_close(g);
    CHECK(v && encode(v, "Once upon a time there was a", FFL_TOKENIZE_ADD_SPECIAL) == expected);
    /* The generated continuation of the reference decodes to its bytes. */
    std::vector<int32_t> gen = reference_ids(refs + "stories260K-f32.ref.json", "generated_tokens");
    std::string hex = json_value(read_file(refs + "stories260K-f32.ref.json"), "generated_bytes_hex"), bytes;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) bytes.push_back((char)std::stoi(hex.substr(i, 2), nullptr, 16));
    CHECK(gen.size() == 32 && bytes.size() > 32);
    CHECK(decode(v, gen, 0) == bytes);
    ffl_vocab_free(v);

    /* A model without tokenizer metadata is a format error, not a crash. */
    ffl_gguf_writer *w = nullptr;
    CHECK(ffl_gguf_writer_new(&w) == FFL_OK);
    CHECK(ffl_gguf_writer_set_string(w, "general.architecture", "llama", 5) == FFL_OK);
    std::string tmp = "/tmp/ffl_tok_no_vocab_" + std::to_string((long)getpid()) + ".gguf";
    CHECK(ffl_gguf_writer_write(w, tmp.c_str()) == FFL_OK);
    ffl_gguf_writer_free(w);
    v = nullptr;
    CHECK(ffl_vocab_load(tmp.c_str(), &v) == FFL_ERR_FORMAT && v == nullptr);
    unlink(tmp.c_str());
    CHECK(ffl_vocab_load("/nonexistent/file.gguf", &v) == FFL_ERR_IO && v == nullptr);
    CHECK(ffl_vocab_load(nullptr, &v) == FFL_ERR_INVALID_ARGUMENT);
    return test_finish("test_tokenizer_model_vocab");
}
