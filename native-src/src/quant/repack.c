/* Load-time weight layouts (see repack.h): the conversions both ways, shared by all kernel levels. */
#include "quant/repack.h"

#include <string.h>

int ffl_repack_fits(int32_t rtype, int32_t wtype, int64_t n_cols) {
    return (rtype == FFL_WTYPE_Q4_0_X16 || rtype == FFL_WTYPE_Q8_0_X16) && wtype == ffl_x16_base(rtype) && n_cols > 0 &&
           n_cols % 256 == 0;
}

/* Both base types are a 2-byte scale followed by the quant bytes. */
static size_t block_bytes(int32_t rtype) { return rtype == FFL_WTYPE_Q4_0_X16 ? sizeof(block_q4_0) : sizeof(block_q8_0); }

static void pack_group(int32_t rtype, const uint8_t *in, int G, uint8_t *group) {
    const size_t bb = block_bytes(rtype), words = (bb - 2) / 4;
    for (int j = 0; j < G; j++) {
        const uint8_t *blk = in + j * bb;
        for (size_t v = 0; v < words; v++) memcpy(group + 4 * (G * v + j), blk + 2 + 4 * v, 4);
        memcpy(group + (bb - 2) * G + 2 * j, blk, 2);
    }
}

void ffl_x16_unpack_group(int32_t rtype, const uint8_t *group, int G, void *blocks) {
    const size_t bb = block_bytes(rtype), words = (bb - 2) / 4;
    for (int j = 0; j < G; j++) {
        uint8_t *blk = (uint8_t *)blocks + j * bb;
        for (size_t v = 0; v < words; v++) memcpy(blk + 2 + 4 * v, group + 4 * (G * v + j), 4);
        memcpy(blk, group + (bb - 2) * G + 2 * j, 2);
    }
}

void ffl_repack_rows(int32_t rtype, const void *src, void *dst, size_t row_bytes, int64_t n_cols, int64_t n_rows) {
    if (!ffl_repack_fits(rtype, ffl_x16_base(rtype), n_cols)) return;
    const size_t bb = block_bytes(rtype);
    const int64_t nb = n_cols / 32;
    uint8_t blocks[FFL_X16_GROUP * sizeof(block_q8_0)];
    for (int64_t r = 0; r < n_rows; r++) {
        const uint8_t *s = (const uint8_t *)src + (size_t)r * row_bytes;
        uint8_t *d = (uint8_t *)dst + (size_t)r * row_bytes;
        for (int64_t b = 0; b < nb;) {
            const int G = ffl_x16_group_blocks(b, nb);
            memcpy(blocks, s + b * bb, (size_t)G * bb); /* src may be dst */
            pack_group(rtype, blocks, G, d + b * bb);
            b += G;
        }
    }
}
