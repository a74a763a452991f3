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

/* Q4_0 with the blocks of a row interleaved by 16 (rows of n % 512 == 256 end with a group of 8).
 * A group of G blocks takes 18 G bytes: first the quants, 32-bit word v (0..3) of block j's 16 quant
 * bytes at byte 4 (G v + j), then the G scales. One 64-byte load then holds a word of each of 16
 * blocks, so vpdpbusd sums every block in its own lane and no byte shuffles are needed. */
#define FFL_WTYPE_Q4_0_X16 ((int32_t)FFL_TYPE_COUNT)
#define FFL_WTYPE_COUNT (FFL_TYPE_COUNT + 1)
#define FFL_X16_GROUP 16

/* Blocks in the group that starts at block b of a row of nb blocks (16, or 8 for the last). */
static inline int ffl_x16_group_blocks(int64_t b, int64_t nb) { return nb - b >= FFL_X16_GROUP ? FFL_X16_GROUP : 8; }

/* 1 if rows of n_cols elements of wtype can take layout rtype (Q4_0 -> X16: n_cols % 256 == 0). */
int ffl_repack_fits(int32_t rtype, int32_t wtype, int64_t n_cols);

/* Rewrites n_rows rows of Q4_0 (row_bytes apart, n_cols each) into rtype at dst (same row size). */
void ffl_repack_rows(int32_t rtype, const void *src, void *dst, size_t row_bytes, int64_t n_cols, int64_t n_rows);

/* The G blocks of one X16 group back in Q4_0 form. */
void ffl_x16_unpack_group(const uint8_t *group, int G, block_q4_0 *out);

#ifdef __cplusplus
}
#endif

#endif
