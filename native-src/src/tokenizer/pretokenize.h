/* BPE pre-tokenizers: the regex sequence llama.cpp applies for each tokenizer.ggml.pre value. */
#ifndef FFL_TOKENIZER_PRETOKENIZE_H
#define FFL_TOKENIZER_PRETOKENIZE_H

#include "tokenizer/regex.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ffl_tok {

struct PreTokenizerConfig {
    std::vector<std::string> patterns;
    bool ignore_merges = false; /* a word that is a whole token skips the merges (Llama 3) */
    bool add_bos = false;       /* default for add_bos before the GGUF flag overrides it */
    bool clean_spaces = true;   /* clean_up_tokenization_spaces default */
    bool add_sep = false;
    bool no_bos = false;        /* the pre-tokenizer has no BOS token (ChatGLM) */
};

/* Fills cfg for a tokenizer.ggml.pre name ("" means default); false when the name is unknown. */
bool pre_tokenizer_config(const std::string &name, PreTokenizerConfig *cfg);
/* Every tokenizer.ggml.pre value this build knows. */
std::vector<std::string> pre_tokenizer_names();

class PreTokenizer {
public:
    explicit PreTokenizer(const std::vector<std::string> &patterns); /* throws on unsupported patterns */
    /* Splits codepoints into words: appends their lengths (in codepoints, never 0) to lengths.
     * Each pattern splits every fragment the previous ones produced; unmatched text between
     * matches stays a fragment of its own. */
    void split(const std::vector<uint32_t> &cps, std::vector<uint32_t> &lengths) const;

private:
    std::vector<Regex> regexes_;
    bool any_collapsed_ = false, any_wide_ = false;
};

} // namespace ffl_tok

#endif
