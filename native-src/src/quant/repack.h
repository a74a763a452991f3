/* Weight layouts the kernels may rearrange a tensor into when a model loads. They are internal
 * weight types numbered after the GGUF ones; a row keeps its size, so only the bytes inside move. */
#ifndef FFL_QUANT_REPACK_H
#define FFL_QUANT_REPACK_H

#include <stddef.h>
#include <stdint.h>

#include "fflama.h"
#include "quant/blocks.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Q4_0 / Q8_0 with the blocks of a row interleaved by 16 (rows of n % 512 == 256 end with a group of
 * 8). A group of G blocks takes G block sizes: first the quants, 32-bit word v of block j's quant
 * bytes at byte 4 (G v + j) (v < 4 for Q4_0, < 8 for Q8_0), then the G scales. One 64-byte load then
 * holds a word of each of 16 blocks, so vpdpbusd sums every block in its own lane with no shuffles. */
#define FFL_WTYPE_Q4_0_X16 ((int32_t)FFL_TYPE_COUNT)
#define FFL_WTYPE_Q8_0_X16 ((int32_t)FFL_TYPE_COUNT + 1)
/* Q4_K the same way with one lane per 32-element sub-block: a group is 2 super-blocks (a row with an
 * odd number ends with one), 288 bytes: the 16 sub-blocks' quants as 16 bytes each (byte k holds
 * elements k and k + 16 in its low and high nibble), interleaved by word as above, then per group
 * four 64-bit words [scales of block 0 | d0 << 48], [scales of block 1 | d1 << 48], [minimums of
 * block 0 | dmin0 << 48], [minimums of block 1 | dmin1 << 48] with the eight 6-bit values of a block
 * at bits 6 i (a group of one block: the first and third word). vpmultishiftqb then extracts all 32
 * six-bit values at once. */
#define FFL_WTYPE_Q4_K_X16 ((int32_t)FFL_TYPE_COUNT + 2)
/* Q6_K with one lane per 16-element sub-block, so a super-block (210 bytes) is a group: for element
 * k of sub-block s as the 6-bit value u = q + 32, byte k of the word at 4 s holds the low nibbles of
 * u[k] and u[k + 8] (k < 4), byte k of the word at 64 + 4 s those of u[4 + k] and u[12 + k], byte k
 * of the word at 128 + 4 s the high 2-bit parts of u[k], u[k + 4], u[k + 8], u[k + 12] (bits 0, 2,
 * 4, 6); then the 16 scales and d as in Q6_K. Each quant word then expands to 4 bytes of one lane
 * with a GF(2) affine map and one ternary logic instruction. */
#define FFL_WTYPE_Q6_K_X16 ((int32_t)FFL_TYPE_COUNT + 3)
#define FFL_WTYPE_COUNT (FFL_TYPE_COUNT + 4)
#define FFL_X16_GROUP 16

/* The GGUF type whose blocks a layout holds (the type itself for GGUF types). */
static inline int32_t ffl_x16_base(int32_t type) {
    switch (type) {
    case FFL_WTYPE_Q4_0_X16: return FFL_TYPE_Q4_0;
    case FFL_WTYPE_Q8_0_X16: return FFL_TYPE_Q8_0;
    case FFL_WTYPE_Q4_K_X16: return FFL_TYPE_Q4_K;
    case FFL_WTYPE_Q6_K_X16: return FFL_TYPE_Q6_K;
    default: return type;
    }
}

/* The layout that holds wtype's blocks, or -1. */
static inline int32_t ffl_x16_layout(int32_t wtype) {
    switch (wtype) {
    case FFL_TYPE_Q4_0: return FFL_WTYPE_Q4_0_X16;
    case FFL_TYPE_Q8_0: return FFL_WTYPE_Q8_0_X16;
    case FFL_TYPE_Q4_K: return FFL_WTYPE_Q4_K_X16;
    case FFL_TYPE_Q6_K: return FFL_WTYPE_Q6_K_X16;
    default: return -1;
    }
}

/* Blocks in the group that starts at block b of a row of nb blocks (16, or 8 for the last); for
 * Q4_K count in 32-element sub-blocks (8 per super-block). */
static inline int ffl_x16_group_blocks(int64_t b, int64_t nb) { return nb - b >= FFL_X16_GROUP ? FFL_X16_GROUP : 8; }

/* 1 if rows of n_cols elements of wtype can take layout rtype (n_cols % 256 == 0). */
int ffl_repack_fits(int32_t rtype, int32_t wtype, int64_t n_cols);

/* Rewrites n_rows rows of the base type (row_bytes apart, n_cols each) into rtype at dst (same row size). */
void ffl_repack_rows(int32_t rtype, const void *src, void *dst, size_t row_bytes, int64_t n_cols, int64_t n_rows);

/* One group of layout rtype from G blocks of the base type (Q4_K: G / 8 super-blocks; Q6_K: one
 * super-block, G is ignored). */
void ffl_x16_pack_group(int32_t rtype, const void *blocks, int G, uint8_t *group);

/* Q4_K: the metadata word of a block (part 0: scales and d, 1: minimums and dmin). */
uint64_t ffl_x16_k4_meta_word(const block_q4_K *x, int part);

/* The G blocks (Q4_K: G / 8 super-blocks; Q6_K: one super-block, G is ignored) of one group of layout
 * rtype back in the base type's form. */
void ffl_x16_unpack_group(int32_t rtype, const uint8_t *group, int G, void *blocks);

#ifdef __cplusplus
}
#endif

#endif
