/* Load-time weight layouts (see repack.h): the conversions both ways, shared by all kernel levels. */
#include "quant/repack.h"

#include <string.h>

#include "quant/kernels_internal.h"

int ffl_repack_fits(int32_t rtype, int32_t wtype, int64_t n_cols) {
    return rtype >= FFL_WTYPE_Q4_0_X16 && rtype < FFL_WTYPE_COUNT && wtype == ffl_x16_base(rtype) && n_cols > 0 &&
           n_cols % 256 == 0;
}

/* Q4_0 and Q8_0 blocks are a 2-byte scale followed by the quant bytes; bytes per 32 elements. */
static size_t block_bytes(int32_t rtype) {
    return rtype == FFL_WTYPE_Q4_0_X16 ? sizeof(block_q4_0) : rtype == FFL_WTYPE_Q8_0_X16 ? sizeof(block_q8_0) : sizeof(block_q4_K) / 8;
}

/* Q4_K: sub-block j of a super-block as 16 bytes, element k and k + 16 in the low and high nibble. */
static void k4_sub_block(const block_q4_K *x, int j, uint8_t out[16]) {
    const uint8_t *q = x->qs + 32 * (j / 2);
    const int shift = 4 * (j % 2);
    for (int k = 0; k < 16; k++) out[k] = (uint8_t)(((q[k] >> shift) & 0xF) | ((q[k + 16] >> shift) & 0xF) << 4);
}

/* The eight 6-bit scales (part 0) or minimums (part 1) of a Q4_K block at bits 6 i, the half at 48. */
uint64_t ffl_x16_k4_meta_word(const block_q4_K *x, int part) {
    uint64_t w = 0;
    for (int j = 0; j < 8; j++) {
        uint8_t sc, mn;
        ffl_k4_scale_min(j, x->scales, &sc, &mn);
        w |= (uint64_t)(part ? mn : sc) << (6 * j);
    }
    return w | (uint64_t)(part ? x->dmin : x->d) << 48;
}

/* Q6_K element e (0..255): where its low 4 bits and high 2 bits lie in ql / qh. */
static void q6k_locate(int e, int *ql_i, int *ql_shift, int *qh_i, int *qh_shift) {
    const int half = e / 128, j = e % 128 / 32, l = e % 32;
    *ql_i = 64 * half + l + 32 * (j & 1);
    *ql_shift = 4 * (j >> 1);
    *qh_i = 32 * half + l;
    *qh_shift = 2 * j;
}

static void k6_pack(const block_q6_K *x, uint8_t *out) {
    uint8_t words[192] = {0};
    for (int s = 0; s < 16; s++)
        for (int k = 0; k < 16; k++) {
            int a, as, h, hs;
            q6k_locate(16 * s + k, &a, &as, &h, &hs);
            const int lo = x->ql[a] >> as & 0xF, hi = x->qh[h] >> hs & 3;
            /* nibble word: k < 4 and 8..11 in the first, 4..7 and 12..15 in the second */
            const int nib_word = (k & 4) ? 1 : 0, nib_byte = k & 3, nib_shift = (k & 8) ? 4 : 0;
            words[64 * nib_word + 4 * s + nib_byte] |= (uint8_t)(lo << nib_shift);
            words[128 + 4 * s + (k & 3)] |= (uint8_t)(hi << (2 * (k / 4)));
        }
    memcpy(out, words, 192);
    memcpy(out + 192, x->scales, 16);
    memcpy(out + 208, &x->d, 2);
}

static void k6_unpack(const uint8_t *in, block_q6_K *x) {
    memset(x->ql, 0, sizeof x->ql);
    memset(x->qh, 0, sizeof x->qh);
    for (int s = 0; s < 16; s++)
        for (int k = 0; k < 16; k++) {
            const int nib_word = (k & 4) ? 1 : 0, nib_shift = (k & 8) ? 4 : 0;
            const int lo = in[64 * nib_word + 4 * s + (k & 3)] >> nib_shift & 0xF;
            const int hi = in[128 + 4 * s + (k & 3)] >> (2 * (k / 4)) & 3;
            int a, as, h, hs;
            q6k_locate(16 * s + k, &a, &as, &h, &hs);
            x->ql[a] |= (uint8_t)(lo << as);
            x->qh[h] |= (uint8_t)(hi << hs);
        }
    memcpy(x->scales, in + 192, 16);
    memcpy(&x->d, in + 208, 2);
}

static void k4_pack_group(const block_q4_K *in, int G, uint8_t *group) {
    const int nsb = G / 8;
    for (int i = 0; i < nsb; i++)
        for (int j = 0; j < 8; j++) {
            uint8_t sub[16];
            k4_sub_block(&in[i], j, sub);
            for (int v = 0; v < 4; v++) memcpy(group + 4 * (G * v + 8 * i + j), sub + 4 * v, 4);
        }
    for (int part = 0; part < 2; part++)
        for (int i = 0; i < nsb; i++) {
            const uint64_t w = ffl_x16_k4_meta_word(&in[i], part);
            memcpy(group + 16 * G + 8 * (nsb * part + i), &w, 8);
        }
}

static void k4_unpack_group(const uint8_t *group, int G, block_q4_K *out) {
    const int nsb = G / 8;
    for (int i = 0; i < nsb; i++) {
        uint64_t w[2];
        memcpy(&w[0], group + 16 * G + 8 * i, 8);
        memcpy(&w[1], group + 16 * G + 8 * (nsb + i), 8);
        out[i].d = (ffl_half)(w[0] >> 48);
        out[i].dmin = (ffl_half)(w[1] >> 48);
        uint8_t sc[8], mn[8];
        for (int j = 0; j < 8; j++) sc[j] = (uint8_t)(w[0] >> (6 * j) & 63), mn[j] = (uint8_t)(w[1] >> (6 * j) & 63);
        /* the 12-byte packing of ffl_k4_scale_min, inverted (every bit is used, so this is exact) */
        for (int j = 0; j < 4; j++) {
            out[i].scales[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
            out[i].scales[j + 4] = (uint8_t)(mn[j] | (mn[j + 4] >> 4) << 6);
            out[i].scales[j + 8] = (uint8_t)((sc[j + 4] & 0xF) | (mn[j + 4] & 0xF) << 4);
        }
        memset(out[i].qs, 0, sizeof out[i].qs);
        for (int j = 0; j < 8; j++) {
            uint8_t sub[16];
            for (int v = 0; v < 4; v++) memcpy(sub + 4 * v, group + 4 * (G * v + 8 * i + j), 4);
            uint8_t *q = out[i].qs + 32 * (j / 2);
            const int shift = 4 * (j % 2);
            for (int k = 0; k < 16; k++) {
                q[k] = (uint8_t)((q[k] & (0xF0 >> shift)) | (sub[k] & 0xF) << shift);
                q[k + 16] = (uint8_t)((q[k + 16] & (0xF0 >> shift)) | (sub[k] >> 4) << shift);
            }
        }
    }
}

void ffl_x16_pack_group(int32_t rtype, const void *blocks, int G, uint8_t *group) {
    const uint8_t *in = blocks;
    if (rtype == FFL_WTYPE_Q6_K_X16) {
        k6_pack(blocks, group);
        return;
    }
    if (rtype == FFL_WTYPE_Q4_K_X16) {
        k4_pack_group((const block_q4_K *)in, G, group);
        return;
    }
    const size_t bb = block_bytes(rtype), words = (bb - 2) / 4;
    for (int j = 0; j < G; j++) {
        const uint8_t *blk = in + j * bb;
        for (size_t v = 0; v < words; v++) memcpy(group + 4 * (G * v + j), blk + 2 + 4 * v, 4);
        memcpy(group + (bb - 2) * G + 2 * j, blk, 2);
    }
}

void ffl_x16_unpack_group(int32_t rtype, const uint8_t *group, int G, void *blocks) {
    if (rtype == FFL_WTYPE_Q6_K_X16) {
        k6_unpack(group, blocks);
        return;
    }
    if (rtype == FFL_WTYPE_Q4_K_X16) {
        k4_unpack_group(group, G, blocks);
        return;
    }
    const size_t bb = block_bytes(rtype), words = (bb - 2) / 4;
    for (int j = 0; j < G; j++) {
        uint8_t *blk = (uint8_t *)blocks + j * bb;
        for (size_t v = 0; v < words; v++) memcpy(blk + 2 + 4 * v, group + 4 * (G * v + j), 4);
        memcpy(blk, group + (bb - 2) * G + 2 * j, 2);
    }
}

void ffl_repack_rows(int32_t rtype, const void *src, void *dst, size_t row_bytes, int64_t n_cols, int64_t n_rows) {
    if (!ffl_repack_fits(rtype, ffl_x16_base(rtype), n_cols)) return;
    if (rtype == FFL_WTYPE_Q6_K_X16) { /* one super-block a group */
        for (int64_t r = 0; r < n_rows; r++)
            for (int64_t b = 0; b < n_cols / QK_K; b++) {
                const size_t o = (size_t)r * row_bytes + (size_t)b * sizeof(block_q6_K);
                block_q6_K x;
                memcpy(&x, (const uint8_t *)src + o, sizeof x); /* src may be dst */
                k6_pack(&x, (uint8_t *)dst + o);
            }
        return;
    }
    const size_t bb = block_bytes(rtype);
    const int64_t nb = n_cols / 32;
    _Alignas(8) uint8_t blocks[FFL_X16_GROUP * sizeof(block_q8_0)]; /* room for any layout's group */
    for (int64_t r = 0; r < n_rows; r++) {
        const uint8_t *s = (const uint8_t *)src + (size_t)r * row_bytes;
        uint8_t *d = (uint8_t *)dst + (size_t)r * row_bytes;
        for (int64_t b = 0; b < nb;) {
            const int G = ffl_x16_group_blocks(b, nb);
            memcpy(blocks, s + b * bb, (size_t)G * bb); /* src may be dst */
            ffl_x16_pack_group(rtype, blocks, G, d + b * bb);
            b += G;
        }
    }
}
