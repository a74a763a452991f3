/* Load-time weight layouts (see repack.h): the conversions both ways, shared by all kernel levels. */
#include "quant/repack.h"

#include <string.h>

int ffl_repack_fits(int32_t rtype, int32_t wtype, int64_t n_cols) {
    return rtype == FFL_WTYPE_Q4_0_X16 && wtype == FFL_TYPE_Q4_0 && n_cols > 0 && n_cols % 256 == 0;
}

static void x16_pack_group(const block_q4_0 *in, int G, uint8_t *group) {
    for (int j = 0; j < G; j++) {
        for (int v = 0; v < 4; v++) memcpy(group + 4 * (G * v + j), in[j].qs + 4 * v, 4);
        memcpy(group + 16 * G + 2 * j, &in[j].d, 2);
    }
}

void ffl_x16_unpack_group(const uint8_t *group, int G, block_q4_0 *out) {
    for (int j = 0; j < G; j++) {
        for (int v = 0; v < 4; v++) memcpy(out[j].qs + 4 * v, group + 4 * (G * v + j), 4);
        memcpy(&out[j].d, group + 16 * G + 2 * j, 2);
    }
}

void ffl_repack_rows(int32_t rtype, const void *src, void *dst, size_t row_bytes, int64_t n_cols, int64_t n_rows) {
    if (!ffl_repack_fits(rtype, FFL_TYPE_Q4_0, n_cols)) return;
    const int64_t nb = n_cols / QK4_0;
    block_q4_0 blocks[FFL_X16_GROUP];
    for (int64_t r = 0; r < n_rows; r++) {
        const uint8_t *s = (const uint8_t *)src + (size_t)r * row_bytes;
        uint8_t *d = (uint8_t *)dst + (size_t)r * row_bytes;
        for (int64_t b = 0; b < nb;) {
            const int G = ffl_x16_group_blocks(b, nb);
            memcpy(blocks, s + b * sizeof(block_q4_0), (size_t)G * sizeof(block_q4_0)); /* src may be dst */
            x16_pack_group(blocks, G, d + b * sizeof(block_q4_0));
            b += G;
        }
    }
}
