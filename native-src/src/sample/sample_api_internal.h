/* Internal entry points of the sampler C API, for tests and for code that already holds
 * a token table (no ffl_vocab). */
#ifndef FFL_SAMPLE_API_INTERNAL_H
#define FFL_SAMPLE_API_INTERNAL_H

#include "fflama.h"
#include "sample/grammar.h"
#include "sample/sampler.h"

#include <memory>

namespace ffl_sample {

/* Appends a sampler to a chain (status as the public add functions). */
int32_t chain_add_internal(ffl_sampler *chain, std::unique_ptr<Sampler> s);
/* The chain behind a handle. */
Chain *chain_internal(ffl_sampler *chain);
/* ffl_sampler_chain_add_grammar over an explicit token table; trie may be NULL (built here). */
int32_t chain_add_grammar_table(ffl_sampler *chain, std::shared_ptr<const TokenTable> table,
                                std::shared_ptr<const TokenTrie> trie, const char *grammar, const char *root);
/* Pieces (ffl_vocab_token_piece with piece_flags) and EOG flags of every token. */
int32_t token_table_from_vocab(const ffl_vocab *vocab, int32_t piece_flags, std::shared_ptr<TokenTable> &out);

} // namespace ffl_sample

#endif
