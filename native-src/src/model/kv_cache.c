#include "model/kv_cache.h"

#include "common/ffl_internal.h"

#include <stdlib.h>
#include <string.h>

int32_t ffl_kv_init(ffl_kv_cache *kv, int32_t n_cells, int32_t n_layer, int32_t n_head_kv, int64_t head_dim_k,
                    int64_t n_embd_v, int32_t type, int32_t n_seq_max) {
    memset(kv, 0, sizeof *kv);
    if (type != FFL_TYPE_F16 && type != FFL_TYPE_F32)
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "KV cache type must be F16 or F32, not %d", type);
    if (n_cells < 1 || n_layer < 1 || n_head_kv < 1 || head_dim_k < 1 || head_dim_k > INT32_MAX || n_embd_v < 1 ||
        n_seq_max < 1 || n_seq_max > FFL_KV_MAX_SEQ)
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "invalid KV cache dimensions");
    const int64_t n_embd_k = (int64_t)n_head_kv * head_dim_k;
    kv->n_cells = n_cells;
    kv->n_layer = n_layer;
    kv->n_seq_max = n_seq_max;
    kv->type = type;
    kv->elt = type == FFL_TYPE_F16 ? 2 : 4;
    kv->n_head_kv = n_head_kv;
    kv->head_dim_k = head_dim_k;
    kv->n_embd_k = n_embd_k;
    kv->n_embd_v = n_embd_v;
    uint64_t kb, vb, k_total, v_total;
    if (!ffl_mul_u64((uint64_t)n_cells * kv->elt, (uint64_t)n_embd_k, &kb) ||
        !ffl_mul_u64((uint64_t)n_cells * kv->elt, (uint64_t)n_embd_v, &vb) ||
        !ffl_mul_u64(kb, (uint64_t)n_layer, &k_total) || !ffl_mul_u64(vb, (uint64_t)n_layer, &v_total) ||
        k_total > SIZE_MAX / 2 || v_total > SIZE_MAX / 2)
        return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "KV cache size overflows");
    kv->layer_k_bytes = (size_t)kb;
    kv->layer_v_bytes = (size_t)vb;
    kv->cells = malloc((size_t)n_cells * sizeof *kv->cells);
    /* calloc: unused cells stay zero, so masked-out scores never see NaN garbage. */
    kv->k = calloc(1, (size_t)k_total);
    kv->v = calloc(1, (size_t)v_total);
    if (!kv->cells || !kv->k || !kv->v) {
        ffl_kv_free(kv);
        return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "out of memory for a KV cache of %llu bytes",
                        (unsigned long long)(k_total + v_total));
    }
    ffl_kv_clear(kv);
    return FFL_OK;
}

void ffl_kv_k_get(const ffl_kv_cache *kv, int32_t layer, int32_t cell, void *dst) {
    const size_t hb = (size_t)kv->head_dim_k * kv->elt;
    for (int32_t h = 0; h < kv->n_head_kv; h++) memcpy((uint8_t *)dst + (size_t)h * hb, ffl_kv_k_head(kv, layer, h, cell), hb);
}

void ffl_kv_k_set(ffl_kv_cache *kv, int32_t layer, int32_t cell, const void *src) {
    const size_t hb = (size_t)kv->head_dim_k * kv->elt;
    for (int32_t h = 0; h < kv->n_head_kv; h++) memcpy(ffl_kv_k_head(kv, layer, h, cell), (const uint8_t *)src + (size_t)h * hb, hb);
}

void ffl_kv_free(ffl_kv_cache *kv) {
    free(kv->cells);
    free(kv->k);
    free(kv->v);
    memset(kv, 0, sizeof *kv);
}

void ffl_kv_clear(ffl_kv_cache *kv) {
    for (int32_t i = 0; i < kv->n_cells; i++) {
        kv->cells[i].pos = -1;
        kv->cells[i].seq = 0;
    }
    kv->used = 0;
    kv->head = 0;
}

int32_t ffl_kv_alloc_cell(ffl_kv_cache *kv, int32_t pos, int32_t seq) {
    if (kv->used >= kv->n_cells) return -1;
    for (int32_t n = 0; n < kv->n_cells; n++) {
        int32_t i = kv->head + n;
        if (i >= kv->n_cells) i -= kv->n_cells;
        if (kv->cells[i].pos < 0) {
            kv->cells[i].pos = pos;
            kv->cells[i].seq = 1ull << seq;
            kv->used++;
            kv->head = i + 1 < kv->n_cells ? i + 1 : 0;
            return i;
        }
    }
    return -1;
}

static void release(ffl_kv_cache *kv, int32_t i) {
    kv->cells[i].pos = -1;
    kv->cells[i].seq = 0;
    kv->used--;
    if (i < kv->head) kv->head = i; /* keep the cache packed at the front */
}

void ffl_kv_free_cell(ffl_kv_cache *kv, int32_t cell) {
    if (cell >= 0 && cell < kv->n_cells && kv->cells[cell].pos >= 0) release(kv, cell);
}

int32_t ffl_kv_n_active(const ffl_kv_cache *kv) {
    for (int32_t i = kv->n_cells; i > 0; i--)
        if (kv->cells[i - 1].pos >= 0) return i;
    return 0;
}

static int in_range(int32_t pos, int32_t p0, int32_t p1) {
    return pos >= (p0 < 0 ? 0 : p0) && (p1 < 0 || pos < p1);
}

void ffl_kv_seq_rm(ffl_kv_cache *kv, int32_t seq, int32_t p0, int32_t p1) {
    uint64_t mask = seq < 0 ? ~0ull : 1ull << seq;
    for (int32_t i = 0; i < kv->n_cells; i++) {
        ffl_kv_cell *c = &kv->cells[i];
        if (c->pos < 0 || !(c->seq & mask) || !in_range(c->pos, p0, p1)) continue;
        c->seq &= ~mask;
        if (!c->seq) release(kv, i);
    }
}

void ffl_kv_seq_cp(ffl_kv_cache *kv, int32_t src, int32_t dst, int32_t p0, int32_t p1) {
    if (src == dst) return;
    for (int32_t i = 0; i < kv->n_cells; i++) {
        ffl_kv_cell *c = &kv->cells[i];
        if (c->pos >= 0 && (c->seq & (1ull << src)) && in_range(c->pos, p0, p1)) c->seq |= 1ull << dst;
    }
}

void ffl_kv_seq_keep(ffl_kv_cache *kv, int32_t seq) {
    uint64_t mask = 1ull << seq;
    for (int32_t i = 0; i < kv->n_cells; i++) {
        ffl_kv_cell *c = &kv->cells[i];
        if (c->pos < 0) continue;
        c->seq &= mask;
        if (!c->seq) release(kv, i);
    }
}

int32_t ffl_kv_seq_pos_max(const ffl_kv_cache *kv, int32_t seq) {
    int32_t best = -1;
    uint64_t mask = 1ull << seq;
    for (int32_t i = 0; i < kv->n_cells; i++)
        if (kv->cells[i].pos > best && (kv->cells[i].seq & mask)) best = kv->cells[i].pos;
    return best;
}
