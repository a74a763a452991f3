/* Lookups over the generated Unicode tables (unicode_tables.inc, see unicode_gen/). */
#include "tokenizer/unicode.h"

#include <algorithm>

namespace ffl_tok {

#include "tokenizer/unicode_tables.inc"

uint16_t uc_flags(uint32_t cp) {
    if (cp >= 0x110000) return UC_UNDEFINED;
    return k_uc_stage2[(size_t)k_uc_stage1[cp >> 8] * 256 + (cp & 0xFF)];
}

uint32_t uc_tolower(uint32_t cp) {
    if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    size_t lo = 0, hi = sizeof k_uc_lowercase / sizeof k_uc_lowercase[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (k_uc_lowercase[mid][0] < cp) lo = mid + 1;
        else hi = mid;
    }
    if (lo < sizeof k_uc_lowercase / sizeof k_uc_lowercase[0] && k_uc_lowercase[lo][0] == cp) return k_uc_lowercase[lo][1];
    return cp;
}

uint32_t uc_nfd_first(uint32_t cp) {
    if (cp < 0xC0) return cp;
    size_t lo = 0, hi = sizeof k_uc_nfd_first / sizeof k_uc_nfd_first[0];
    while (lo < hi) { /* first range whose last >= cp */
        size_t mid = (lo + hi) / 2;
        if (k_uc_nfd_first[mid][1] < cp) lo = mid + 1;
        else hi = mid;
    }
    if (lo < sizeof k_uc_nfd_first / sizeof k_uc_nfd_first[0] && k_uc_nfd_first[lo][0] <= cp) return k_uc_nfd_first[lo][2];
    return cp;
}

void utf8_decode(const char *text, size_t len, std::vector<uint32_t> &cps, std::vector<uint32_t> *offsets) {
    const uint8_t *s = (const uint8_t *)text;
    cps.clear();
    cps.reserve(len);
    if (offsets) {
        offsets->clear();
        offsets->reserve(len);
    }
    size_t i = 0;
    while (i < len) {
        uint8_t b = s[i];
        uint32_t cp;
        size_t n;
        /* Structural check only (overlong forms and surrogates pass), like llama.cpp's decoder. */
        if (b < 0x80) {
            cp = b;
            n = 1;
        } else if ((b & 0xE0) == 0xC0 && i + 1 < len && (s[i + 1] & 0xC0) == 0x80) {
            cp = ((uint32_t)(b & 0x1F) << 6) | (s[i + 1] & 0x3F);
            n = 2;
        } else if ((b & 0xF0) == 0xE0 && i + 2 < len && (s[i + 1] & 0xC0) == 0x80 && (s[i + 2] & 0xC0) == 0x80) {
            cp = ((uint32_t)(b & 0x0F) << 12) | ((uint32_t)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
            n = 3;
        } else if ((b & 0xF8) == 0xF0 && i + 3 < len && (s[i + 1] & 0xC0) == 0x80 && (s[i + 2] & 0xC0) == 0x80 &&
                   (s[i + 3] & 0xC0) == 0x80) {
            cp = ((uint32_t)(b & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3F) << 12) | ((uint32_t)(s[i + 2] & 0x3F) << 6) |
                 (s[i + 3] & 0x3F);
            n = 4;
            if (cp > 0x10FFFF) cp = 0xFFFD;
        } else {
            cp = 0xFFFD;
            n = 1;
        }
        if (offsets) offsets->push_back((uint32_t)i);
        cps.push_back(cp);
        i += n;
    }
}

void utf8_append(std::string &out, uint32_t cp) {
    if (cp < 0x80) {
        out.push_back((char)cp);
    } else if (cp < 0x800) {
        out.push_back((char)(0xC0 | (cp >> 6)));
        out.push_back((char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back((char)(0xE0 | (cp >> 12)));
        out.push_back((char)(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back((char)(0x80 | (cp & 0x3F)));
    } else {
        out.push_back((char)(0xF0 | ((cp >> 18) & 0x07)));
        out.push_back((char)(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back((char)(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back((char)(0x80 | (cp & 0x3F)));
    }
}

namespace {
struct ByteMap {
    std::string to_unicode[256];
    uint32_t cp_of[256];
    ByteUnicode table[256];
    ByteMap() {
        /* Printable Latin-1 bytes map to themselves; the rest take codepoints 256, 257, ... in byte order. */
        int next = 256;
        for (int b = 0; b < 256; ++b) {
            bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            cp_of[b] = printable ? (uint32_t)b : (uint32_t)next++;
            utf8_append(to_unicode[b], cp_of[b]);
            table[b].len = (uint8_t)to_unicode[b].size();
            for (size_t k = 0; k < to_unicode[b].size(); ++k) table[b].bytes[k] = to_unicode[b][k];
        }
    }
};
const ByteMap &byte_map() {
    static const ByteMap map;
    return map;
}
} // namespace

const std::string &byte_to_unicode(uint8_t byte) { return byte_map().to_unicode[byte]; }

const ByteUnicode *byte_unicode_table() { return byte_map().table; }

int unicode_to_byte(uint32_t cp) {
    if (cp < 256) {
        bool printable = (cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF);
        return printable ? (int)cp : -1;
    }
    if (cp < 256 + 68) {
        const ByteMap &m = byte_map();
        for (int b = 0; b < 256; ++b)
            if (m.cp_of[b] == cp) return b;
    }
    return -1;
}

} // namespace ffl_tok
