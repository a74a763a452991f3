/* Unicode facts the tokenizers need: UTF-8 decoding, general-category flags, lowercase,
 * NFD first codepoint, and GPT-2's byte <-> printable-codepoint map. */
#ifndef FFL_TOKENIZER_UNICODE_H
#define FFL_TOKENIZER_UNICODE_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ffl_tok {

enum : uint16_t {
    UC_UNDEFINED = 1,   /* Cn, or not a codepoint */
    UC_NUMBER = 2,      /* N* */
    UC_LETTER = 4,      /* L* */
    UC_SEPARATOR = 8,   /* Z* */
    UC_MARK = 16,       /* M* */
    UC_PUNCT = 32,      /* P* */
    UC_SYMBOL = 64,     /* S* */
    UC_CONTROL = 128,   /* Cc Cf Co Cs */
    UC_WHITESPACE = 256 /* White_Space property */
};
constexpr uint16_t UC_CATEGORY_MASK = 0xFF;

uint16_t uc_flags(uint32_t cp);
inline bool uc_is_whitespace(uint32_t cp) { return (uc_flags(cp) & UC_WHITESPACE) != 0; }
uint32_t uc_tolower(uint32_t cp);
/* First codepoint of the canonical decomposition (cp itself when it has none). */
uint32_t uc_nfd_first(uint32_t cp);

/* Length of the UTF-8 sequence a lead byte announces (1 for continuation/invalid bytes), as llama.cpp counts it. */
inline size_t utf8_len(uint8_t lead) {
    static const uint8_t lookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lookup[lead >> 4];
}

/* Decodes text into codepoints. A byte that does not start a structurally valid sequence becomes
 * U+FFFD and decoding resumes at the next byte; values above U+10FFFF also become U+FFFD.
 * offsets (optional) receives the byte offset of each codepoint. */
void utf8_decode(const char *text, size_t len, std::vector<uint32_t> &cps, std::vector<uint32_t> *offsets = nullptr);
void utf8_append(std::string &out, uint32_t cp);

/* GPT-2 byte-level BPE: every byte maps to one printable codepoint, stored as UTF-8. */
const std::string &byte_to_unicode(uint8_t byte);
/* The same map as a table of (UTF-8 bytes, length <= 2) for hot loops. */
struct ByteUnicode {
    char bytes[2];
    uint8_t len;
};
const ByteUnicode *byte_unicode_table();
/* Inverse map: returns the byte for a codepoint of the map, or -1. */
int unicode_to_byte(uint32_t cp);

} // namespace ffl_tok

#endif
