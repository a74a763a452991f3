/* Session state as a byte blob: a fixed header (magic, version, the dimensions it was written
 * with, payload size and checksum), then the used KV cells (position, sequence set), the output
 * map and rows of the last decode, and the cells' keys and values. Everything is validated
 * before the session is touched, so a bad blob is an error and the session stays as it was.
 * Little-endian hosts only (x86-64, AArch64). */
#include "common/ffl_internal.h"
#include "model/session.h"

#include <stdlib.h>
#include <string.h>

#define STATE_MAGIC "FFLSTATE"
#define STATE_VERSION 1u

typedef struct {
    char magic[8];
    uint32_t version;
    uint32_t kv_type;
    uint32_t n_layer;
    uint32_t n_embd_k;
    uint32_t n_embd_v;
    uint32_t n_vocab;
    uint32_t n_embd;
    uint32_t n_cells;   /* used cells stored */
    uint32_t n_last;    /* tokens of the last decode */
    uint32_t n_outputs;
    uint32_t has_embd;
    uint32_t reserved;
    uint64_t payload_bytes;
    uint64_t checksum;
} state_header;

#define CELL_BYTES 12 /* int32 pos + uint64 sequence set */

/* memcpy that accepts NULL pointers for empty copies (outputs of a session that never decoded). */
static void copy_bytes(void *dst, const void *src, size_t n) {
    if (n) memcpy(dst, src, n);
}

/* 64-bit FNV-1a style hash over 8-byte words, then the tail bytes. */
static uint64_t checksum(const uint8_t *p, uint64_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    const uint64_t prime = 0x100000001b3ull;
    uint64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * prime;
        h ^= h >> 29;
    }
    for (; i < n; i++) h = (h ^ p[i]) * prime;
    return h;
}

/* Payload bytes for the given counts, 0 on overflow. */
static uint64_t payload_size(const ffl_kv_cache *kv, uint64_t n_cells, uint64_t n_last, uint64_t n_outputs,
                             uint64_t n_vocab, uint64_t n_embd, int has_embd) {
    uint64_t total = 0, t;
    if (!ffl_mul_u64(n_cells, CELL_BYTES, &t) || !ffl_add_u64(total, t, &total)) return 0;
    if (!ffl_mul_u64(n_last, 4, &t) || !ffl_add_u64(total, t, &total)) return 0;
    if (!ffl_mul_u64(n_outputs, n_vocab * 4, &t) || !ffl_add_u64(total, t, &total)) return 0;
    if (has_embd && (!ffl_mul_u64(n_outputs, n_embd * 4, &t) || !ffl_add_u64(total, t, &total))) return 0;
    uint64_t per_cell = ((uint64_t)kv->n_embd_k + (uint64_t)kv->n_embd_v) * kv->elt * (uint64_t)kv->n_layer;
    if (!ffl_mul_u64(n_cells, per_cell, &t) || !ffl_add_u64(total, t, &total)) return 0;
    return total;
}

static int session_has_embd(const ffl_session *s) { return s->params.embeddings && s->embd_valid; }

uint64_t ffl_session_state_size(const ffl_session *s) {
    if (!s) return 0;
    const ffl_hparams *hp = &s->model->hp;
    return sizeof(state_header) + payload_size(&s->kv, (uint64_t)s->kv.used, (uint64_t)s->n_last,
                                               (uint64_t)s->n_outputs, (uint64_t)hp->n_vocab, (uint64_t)hp->n_embd,
                                               session_has_embd(s));
}

int32_t ffl_session_state_save(const ffl_session *s, void *buf, uint64_t buf_size, uint64_t *written) {
    if (written) *written = 0;
    if (!s || !buf) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_session_state_save: NULL argument");
    const uint64_t need = ffl_session_state_size(s);
    if (buf_size < need)
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "state buffer of %llu bytes is smaller than the %llu needed",
                        (unsigned long long)buf_size, (unsigned long long)need);
    const ffl_kv_cache *kv = &s->kv;
    const ffl_hparams *hp = &s->model->hp;
    const int has_embd = session_has_embd(s);
    state_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, STATE_MAGIC, 8);
    h.version = STATE_VERSION;
    h.kv_type = (uint32_t)kv->type;
    h.n_layer = (uint32_t)kv->n_layer;
    h.n_embd_k = (uint32_t)kv->n_embd_k;
    h.n_embd_v = (uint32_t)kv->n_embd_v;
    h.n_vocab = (uint32_t)hp->n_vocab;
    h.n_embd = (uint32_t)hp->n_embd;
    h.n_cells = (uint32_t)kv->used;
    h.n_last = (uint32_t)s->n_last;
    h.n_outputs = (uint32_t)s->n_outputs;
    h.has_embd = (uint32_t)has_embd;
    h.payload_bytes = need - sizeof h;

    uint8_t *p = (uint8_t *)buf + sizeof h;
    for (int32_t i = 0; i < kv->n_cells; i++) {
        if (kv->cells[i].pos < 0) continue;
        memcpy(p, &kv->cells[i].pos, 4);
        memcpy(p + 4, &kv->cells[i].seq, 8);
        p += CELL_BYTES;
    }
    copy_bytes(p, s->out_index, (size_t)s->n_last * 4);
    p += (size_t)s->n_last * 4;
    copy_bytes(p, s->logits, (size_t)s->n_outputs * (size_t)hp->n_vocab * 4);
    p += (size_t)s->n_outputs * (size_t)hp->n_vocab * 4;
    if (has_embd) {
        memcpy(p, s->embd, (size_t)s->n_outputs * (size_t)hp->n_embd * 4);
        p += (size_t)s->n_outputs * (size_t)hp->n_embd * 4;
    }
    const size_t krow = (size_t)kv->n_embd_k * kv->elt;
    for (int32_t il = 0; il < kv->n_layer; il++)
        for (int32_t i = 0; i < kv->n_cells; i++) {
            if (kv->cells[i].pos < 0) continue;
            ffl_kv_k_get(kv, il, i, p);
            p += krow;
        }
    for (int32_t il = 0; il < kv->n_layer; il++)
        for (int64_t c = 0; c < kv->n_embd_v; c++) {
            const uint8_t *vrow = ffl_kv_v_row(kv, il, c);
            for (int32_t i = 0; i < kv->n_cells; i++) {
                if (kv->cells[i].pos < 0) continue;
                memcpy(p, vrow + (size_t)i * kv->elt, kv->elt);
                p += kv->elt;
            }
        }
    h.checksum = checksum((const uint8_t *)buf + sizeof h, h.payload_bytes);
    memcpy(buf, &h, sizeof h);
    if (written) *written = need;
    return FFL_OK;
}

int32_t ffl_session_state_load(ffl_session *s, const void *buf, uint64_t size) {
    if (!s || !buf) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_session_state_load: NULL argument");
    ffl_kv_cache *kv = &s->kv;
    const ffl_hparams *hp = &s->model->hp;
    state_header h;
    if (size < sizeof h) return ffl_fail(FFL_ERR_STATE, "state: %llu bytes is too short", (unsigned long long)size);
    memcpy(&h, buf, sizeof h);
    if (memcmp(h.magic, STATE_MAGIC, 8) != 0) return ffl_fail(FFL_ERR_STATE, "state: bad magic");
    if (h.version != STATE_VERSION)
        return ffl_fail(FFL_ERR_STATE, "state: version %u is not supported (expected %u)", h.version, STATE_VERSION);
    if (h.kv_type != (uint32_t)kv->type)
        return ffl_fail(FFL_ERR_STATE, "state: written with KV type %u, the session uses %d", h.kv_type, kv->type);
    if (h.n_layer != (uint32_t)kv->n_layer || h.n_embd_k != (uint32_t)kv->n_embd_k ||
        h.n_embd_v != (uint32_t)kv->n_embd_v || h.n_vocab != (uint32_t)hp->n_vocab || h.n_embd != (uint32_t)hp->n_embd)
        return ffl_fail(FFL_ERR_STATE, "state: written for a model of another shape");
    if (h.n_cells > (uint32_t)kv->n_cells)
        return ffl_fail(FFL_ERR_STATE, "state: %u cells do not fit in the session's %d", h.n_cells, kv->n_cells);
    if (h.n_outputs > h.n_last || h.has_embd > 1 || h.n_last > (uint32_t)INT32_MAX)
        return ffl_fail(FFL_ERR_STATE, "state: inconsistent output counts");
    const uint64_t payload = payload_size(kv, h.n_cells, h.n_last, h.n_outputs, h.n_vocab, h.n_embd, (int)h.has_embd);
    if (payload == 0 && (h.n_cells || h.n_last))
        return ffl_fail(FFL_ERR_STATE, "state: sizes overflow");
    if (h.payload_bytes != payload || size - sizeof h != payload)
        return ffl_fail(FFL_ERR_STATE, "state: payload of %llu bytes, expected %llu", (unsigned long long)(size - sizeof h),
                        (unsigned long long)payload);
    const uint8_t *base = (const uint8_t *)buf + sizeof h;
    if (checksum(base, payload) != h.checksum) return ffl_fail(FFL_ERR_STATE, "state: checksum mismatch (corrupted)");

    /* Semantic checks of the cells and the output map. */
    const uint8_t *p = base;
    const uint64_t seq_ok = kv->n_seq_max >= 64 ? ~0ull : (1ull << kv->n_seq_max) - 1;
    for (uint32_t i = 0; i < h.n_cells; i++) {
        int32_t pos;
        uint64_t seq;
        memcpy(&pos, p + (size_t)i * CELL_BYTES, 4);
        memcpy(&seq, p + (size_t)i * CELL_BYTES + 4, 8);
        if (pos < 0 || pos == INT32_MAX || seq == 0 || (seq & ~seq_ok))
            return ffl_fail(FFL_ERR_STATE, "state: cell %u has position %d / sequences %llx outside the session's range",
                            i, pos, (unsigned long long)seq);
    }
    const uint8_t *out_map = p + (size_t)h.n_cells * CELL_BYTES;
    int32_t seen = 0;
    for (uint32_t i = 0; i < h.n_last; i++) {
        int32_t r;
        memcpy(&r, out_map + (size_t)i * 4, 4);
        if (r < -1 || r >= (int32_t)h.n_outputs || (r >= 0 && r != seen))
            return ffl_fail(FFL_ERR_STATE, "state: output map entry %u is invalid", i);
        seen += r >= 0;
    }
    if (seen != (int32_t)h.n_outputs) return ffl_fail(FFL_ERR_STATE, "state: output map does not match the outputs");

    int32_t st = ffl_session_reserve(s, (int32_t)h.n_last, (int32_t)h.n_outputs);
    if (st != FFL_OK) return st;

    /* Valid: replace the session's state. Cells are packed at the front of the cache. */
    ffl_kv_clear(kv);
    for (uint32_t i = 0; i < h.n_cells; i++) {
        memcpy(&kv->cells[i].pos, p + (size_t)i * CELL_BYTES, 4);
        memcpy(&kv->cells[i].seq, p + (size_t)i * CELL_BYTES + 4, 8);
    }
    kv->used = (int32_t)h.n_cells;
    kv->head = (int32_t)h.n_cells < kv->n_cells ? (int32_t)h.n_cells : 0;
    p = out_map;
    copy_bytes(s->out_index, p, (size_t)h.n_last * 4);
    p += (size_t)h.n_last * 4;
    copy_bytes(s->logits, p, (size_t)h.n_outputs * (size_t)hp->n_vocab * 4);
    p += (size_t)h.n_outputs * (size_t)hp->n_vocab * 4;
    s->embd_valid = 0;
    if (h.has_embd) {
        if (s->params.embeddings) {
            memcpy(s->embd, p, (size_t)h.n_outputs * (size_t)hp->n_embd * 4);
            s->embd_valid = 1;
        }
        p += (size_t)h.n_outputs * (size_t)hp->n_embd * 4;
    }
    const size_t krow = (size_t)kv->n_embd_k * kv->elt;
    for (int32_t il = 0; il < kv->n_layer; il++)
        for (uint32_t i = 0; i < h.n_cells; i++) {
            ffl_kv_k_set(kv, il, (int32_t)i, p);
            p += krow;
        }
    for (int32_t il = 0; il < kv->n_layer; il++)
        for (int64_t c = 0; c < kv->n_embd_v; c++) {
            uint8_t *vrow = ffl_kv_v_row(kv, il, c);
            copy_bytes(vrow, p, (size_t)h.n_cells * kv->elt);
            p += (size_t)h.n_cells * kv->elt;
        }
    s->n_last = (int32_t)h.n_last;
    s->n_outputs = (int32_t)h.n_outputs;
    return FFL_OK;
}
