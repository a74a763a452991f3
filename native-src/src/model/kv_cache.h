/* KV cache in llama.cpp's style: a pool of cells, each holding one token's keys and values
 * for every layer, tagged with its position and the set of sequences that see it. Sequences
 * sharing a prefix share the cells (seq_cp adds a tag, it copies no data). */
#ifndef FFL_MODEL_KV_CACHE_H
#define FFL_MODEL_KV_CACHE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FFL_KV_MAX_SEQ 64

typedef struct {
    int32_t pos;  /* -1: free */
    uint64_t seq; /* bit s set: sequence s sees this cell */
} ffl_kv_cell;

typedef struct {
    int32_t n_cells;
    int32_t n_layer;
    int32_t n_seq_max;
    int32_t type;       /* FFL_TYPE_F16 or FFL_TYPE_F32 */
    size_t elt;         /* bytes per element */
    int32_t n_head_kv;
    int64_t head_dim_k;
    int64_t n_embd_k;   /* per cell and layer: n_head_kv * head_dim_k */
    int64_t n_embd_v;
    ffl_kv_cell *cells;
    int32_t used;       /* cells with pos >= 0 */
    int32_t head;       /* where the next free-cell search starts */
    /* Keys, per layer and KV head: [n_head_kv][n_cells][head_dim_k], so the keys one head's
     * attention reads are contiguous. Values, per layer, transposed: [n_embd_v][n_cells], so
     * attention multiplies probabilities by contiguous rows of one channel. */
    uint8_t *k;
    uint8_t *v;
    size_t layer_k_bytes;
    size_t layer_v_bytes;
} ffl_kv_cache;

int32_t ffl_kv_init(ffl_kv_cache *kv, int32_t n_cells, int32_t n_layer, int32_t n_head_kv, int64_t head_dim_k,
                    int64_t n_embd_v, int32_t type, int32_t n_seq_max);
void ffl_kv_free(ffl_kv_cache *kv);
void ffl_kv_clear(ffl_kv_cache *kv);

/* Index of a free cell (marked used with pos/seq), or -1 when the cache is full. */
int32_t ffl_kv_alloc_cell(ffl_kv_cache *kv, int32_t pos, int32_t seq);
void ffl_kv_free_cell(ffl_kv_cache *kv, int32_t cell);
/* One past the highest used cell: attention looks at cells [0, n_active). */
int32_t ffl_kv_n_active(const ffl_kv_cache *kv);

/* seq < 0: every sequence. p0 < 0 = 0, p1 < 0 = infinity. */
void ffl_kv_seq_rm(ffl_kv_cache *kv, int32_t seq, int32_t p0, int32_t p1);
void ffl_kv_seq_cp(ffl_kv_cache *kv, int32_t src, int32_t dst, int32_t p0, int32_t p1);
void ffl_kv_seq_keep(ffl_kv_cache *kv, int32_t seq);
/* Largest position of the sequence, -1 if it has none. */
int32_t ffl_kv_seq_pos_max(const ffl_kv_cache *kv, int32_t seq);

/* Keys of KV head h in a cell of a layer; the cell after it follows head_dim_k elements on. */
static inline uint8_t *ffl_kv_k_head(const ffl_kv_cache *kv, int32_t layer, int32_t h, int32_t cell) {
    return kv->k + (size_t)layer * kv->layer_k_bytes + ((size_t)h * (size_t)kv->n_cells + (size_t)cell) * (size_t)kv->head_dim_k * kv->elt;
}
/* A cell's keys of all heads (n_embd_k elements, head after head) from or into a flat buffer. */
void ffl_kv_k_get(const ffl_kv_cache *kv, int32_t layer, int32_t cell, void *dst);
void ffl_kv_k_set(ffl_kv_cache *kv, int32_t layer, int32_t cell, const void *src);
/* Row of channel c of a layer's transposed values. */
static inline uint8_t *ffl_kv_v_row(const ffl_kv_cache *kv, int32_t layer, int64_t c) {
    return kv->v + (size_t)layer * kv->layer_v_bytes + (size_t)c * (size_t)kv->n_cells * kv->elt;
}

#ifdef __cplusplus
}
#endif

#endif
