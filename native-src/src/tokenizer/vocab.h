/* Internal entry points of the tokenizer for other parts of the core (the model loader). */
#ifndef FFL_TOKENIZER_VOCAB_H
#define FFL_TOKENIZER_VOCAB_H

#include "fflama.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ffl_gguf;

/* Builds the vocabulary from the tokenizer.ggml.* metadata of an open GGUF file. Copies what it
 * needs: the file may be closed afterwards. Returns FFL_OK, FFL_ERR_FORMAT (missing or malformed
 * keys), FFL_ERR_UNSUPPORTED (unknown tokenizer model or pre-tokenizer) or FFL_ERR_OUT_OF_MEMORY. */
int32_t ffl_vocab_from_gguf(const struct ffl_gguf *g, ffl_vocab **out);

#ifdef __cplusplus
}
#endif

#endif
