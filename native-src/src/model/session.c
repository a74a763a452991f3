/* Sessions: creation, the decode driver (validation, KV cell placement, splitting into steps,
 * roll-back on failure), outputs and sequence operations. */
#include "model/session.h"

#include "common/ffl_internal.h"
#include "quant/kernels.h"

#include <stdlib.h>
#include <string.h>

#define MAX_CTX (1 << 24)

void ffl_session_default_params(ffl_session_params *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    out->n_ctx = 4096;
    out->n_batch = 512;
    out->n_threads = ffl_cpu_physical_cores();
    out->kv_type = FFL_TYPE_F16;
    out->n_seq_max = 1;
}

static int32_t clamp_threads(int32_t n) {
    if (n == 0) n = ffl_cpu_physical_cores();
    return n < 1 ? 1 : n;
}

int32_t ffl_session_new(const ffl_model *model, const ffl_session_params *params, ffl_session **out) {
    if (out) *out = NULL;
    if (!model || !out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_session_new: NULL argument");
    ffl_session_params p;
    if (params) p = *params;
    else ffl_session_default_params(&p);
    if (p.n_ctx == 0) p.n_ctx = model->hp.n_ctx_train;
    if (p.n_ctx < 1 || p.n_ctx > MAX_CTX)
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "n_ctx %d out of range [1, %d]", p.n_ctx, MAX_CTX);
    if (p.n_batch < 1) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "n_batch %d must be >= 1", p.n_batch);
    if (p.n_batch > p.n_ctx) p.n_batch = p.n_ctx;
    if (p.n_threads < 0 || p.n_threads > 512)
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "n_threads %d out of range [0, 512]", p.n_threads);
    p.n_threads = clamp_threads(p.n_threads);
    if (p.kv_type != FFL_TYPE_F16 && p.kv_type != FFL_TYPE_F32)
        return ffl_fail(FFL_ERR_UNSUPPORTED, "kv_type %d: only FFL_TYPE_F16 and FFL_TYPE_F32 are supported", p.kv_type);
    if (p.n_seq_max < 1 || p.n_seq_max > FFL_KV_MAX_SEQ)
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "n_seq_max %d out of range [1, %d]", p.n_seq_max, FFL_KV_MAX_SEQ);
    p.embeddings = p.embeddings != 0;

    ffl_session *s = calloc(1, sizeof *s);
    if (!s) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "out of memory for a session");
    s->model = model;
    s->params = p;
    s->n_threads = p.n_threads;
    s->n_ub = p.n_batch;
    const ffl_hparams *hp = &model->hp;
    int32_t st = ffl_kv_init(&s->kv, p.n_ctx, hp->n_layer, hp->n_head_kv, hp->head_dim_k,
                             (int64_t)hp->n_head_kv * hp->head_dim_v, p.kv_type, p.n_seq_max);
    if (st == FFL_OK) st = ffl_forward_alloc(s);
    if (st == FFL_OK && !(s->pool = ffl_threadpool_new(s->n_threads))) st = ffl_last_status();
    if (st != FFL_OK) {
        ffl_session_free(s);
        return st;
    }
    *out = s;
    return FFL_OK;
}

void ffl_session_free(ffl_session *s) {
    if (!s) return;
    ffl_threadpool_free(s->pool);
    ffl_forward_free(s);
    ffl_kv_free(&s->kv);
    free(s->call_pos);
    free(s->call_seq);
    free(s->call_cell);
    free(s->call_out);
    free(s->out_index);
    free(s->logits);
    free(s->embd);
    free(s);
}

const ffl_model *ffl_session_model(const ffl_session *s) { return s ? s->model : NULL; }

#define SESSION_GETTER(fn, expr)                                                       \
    int32_t fn(const ffl_session *s) {                                                 \
        if (!s) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, #fn ": NULL session");       \
        return (expr);                                                                 \
    }
SESSION_GETTER(ffl_session_n_ctx, s->kv.n_cells)
SESSION_GETTER(ffl_session_n_batch, s->n_ub)
SESSION_GETTER(ffl_session_n_seq_max, s->kv.n_seq_max)
SESSION_GETTER(ffl_session_n_threads, s->n_threads)
SESSION_GETTER(ffl_session_kv_used, s->kv.used)
SESSION_GETTER(ffl_session_n_outputs, s->n_outputs)

int32_t ffl_session_set_threads(ffl_session *s, int32_t n_threads) {
    if (!s) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_session_set_threads: NULL session");
    if (n_threads < 0 || n_threads > 512)
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "n_threads %d out of range [0, 512]", n_threads);
    n_threads = clamp_threads(n_threads);
    if (n_threads == s->n_threads) return FFL_OK;
    ffl_threadpool *pool = ffl_threadpool_new(n_threads);
    if (!pool) return ffl_last_status();
    int32_t st = ffl_forward_alloc_thread_scratch(s, n_threads);
    if (st != FFL_OK) {
        ffl_threadpool_free(pool);
        return st;
    }
    ffl_threadpool_free(s->pool);
    s->pool = pool;
    s->n_threads = n_threads;
    s->params.n_threads = n_threads;
    return FFL_OK;
}

int32_t ffl_session_set_abort_callback(ffl_session *s, ffl_abort_fn callback, void *user_data) {
    if (!s) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_session_set_abort_callback: NULL session");
    s->params.abort_callback = callback;
    s->params.abort_user_data = user_data;
    return FFL_OK;
}

static int grow_i32(int32_t **p, int32_t n) {
    int32_t *q = realloc(*p, (size_t)n * sizeof(int32_t));
    if (!q) return 0;
    *p = q;
    return 1;
}

/* Makes room for a call of n tokens with n_out output rows. */
int32_t ffl_session_reserve(ffl_session *s, int32_t n, int32_t n_out) {
    if (n > s->call_cap) {
        if (!grow_i32(&s->call_pos, n) || !grow_i32(&s->call_seq, n) || !grow_i32(&s->call_cell, n) ||
            !grow_i32(&s->call_out, n))
            return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "out of memory for a batch of %d tokens", n);
        s->call_cap = n;
    }
    if (n > s->out_index_cap) {
        if (!grow_i32(&s->out_index, n)) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "out of memory for outputs");
        s->out_index_cap = n;
    }
    if (n_out > s->out_cap) {
        const ffl_hparams *hp = &s->model->hp;
        uint64_t lb, eb;
        if (!ffl_mul_u64((uint64_t)n_out * sizeof(float), (uint64_t)hp->n_vocab, &lb) ||
            !ffl_mul_u64((uint64_t)n_out * sizeof(float), (uint64_t)hp->n_embd, &eb) || lb > SIZE_MAX / 2)
            return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "logits of %d tokens do not fit in memory", n_out);
        float *l = realloc(s->logits, (size_t)lb);
        if (!l) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "out of memory for the logits of %d tokens", n_out);
        s->logits = l;
        if (s->params.embeddings) {
            float *e = realloc(s->embd, (size_t)eb);
            if (!e) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "out of memory for the embeddings of %d tokens", n_out);
            s->embd = e;
        }
        s->out_cap = n_out;
    }
    return FFL_OK;
}

int32_t ffl_session_decode(ffl_session *s, const int32_t *tokens, const int32_t *pos, const int32_t *seq_id,
                           const int8_t *want_logits, int32_t n) {
    if (!s || !tokens) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_session_decode: NULL argument");
    s->n_outputs = 0;
    s->n_last = 0;
    s->embd_valid = 0;
    if (n < 1) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_session_decode: n_tokens %d must be >= 1", n);
    const ffl_hparams *hp = &s->model->hp;
    ffl_kv_cache *kv = &s->kv;

    int32_t n_out = 0;
    for (int32_t i = 0; i < n; i++) n_out += want_logits ? want_logits[i] != 0 : i == n - 1;
    int32_t st = ffl_session_reserve(s, n, n_out);
    if (st != FFL_OK) return st;

    int32_t next_pos[FFL_KV_MAX_SEQ];
    for (int32_t q = 0; q < kv->n_seq_max; q++) next_pos[q] = -1;
    for (int32_t i = 0, row = 0; i < n; i++) {
        if (tokens[i] < 0 || tokens[i] >= hp->n_vocab)
            return ffl_fail(FFL_ERR_OUT_OF_RANGE, "token %d at index %d is outside the vocabulary [0, %d)", tokens[i],
                            i, hp->n_vocab);
        const int32_t q = seq_id ? seq_id[i] : 0;
        if (q < 0 || q >= kv->n_seq_max)
            return ffl_fail(FFL_ERR_OUT_OF_RANGE, "sequence id %d at index %d is outside [0, %d)", q, i,
                            kv->n_seq_max);
        int32_t p;
        if (pos) {
            p = pos[i];
        } else {
            if (next_pos[q] < 0) next_pos[q] = ffl_kv_seq_pos_max(kv, q) + 1;
            p = next_pos[q]++;
        }
        if (p < 0 || p == INT32_MAX)
            return ffl_fail(FFL_ERR_OUT_OF_RANGE, "position %d at index %d is out of range", p, i);
        s->call_pos[i] = p;
        s->call_seq[i] = q;
        s->call_out[i] = (want_logits ? want_logits[i] != 0 : i == n - 1) ? row++ : -1;
    }
    if (kv->n_cells - kv->used < n)
        return ffl_fail(FFL_ERR_CONTEXT_FULL, "context full: %d tokens do not fit in the %d free of %d KV cells", n,
                        kv->n_cells - kv->used, kv->n_cells);

    for (int32_t b0 = 0; b0 < n; b0 += s->n_ub) {
        const int32_t nb = n - b0 < s->n_ub ? n - b0 : s->n_ub;
        int32_t ub_out = 0;
        for (int32_t i = b0; i < b0 + nb; i++) {
            s->call_cell[i] = ffl_kv_alloc_cell(kv, s->call_pos[i], s->call_seq[i]);
            ub_out += s->call_out[i] >= 0;
        }
        ffl_ubatch ub = {nb, tokens + b0, s->call_pos + b0, s->call_seq + b0, s->call_cell + b0, s->call_out + b0, ub_out};
        st = ffl_forward(s, &ub);
        if (st != FFL_OK) {
            /* Roll back the whole call: the cache holds exactly what it held before. */
            for (int32_t i = 0; i < b0 + nb; i++) ffl_kv_free_cell(kv, s->call_cell[i]);
            return st;
        }
    }
    memcpy(s->out_index, s->call_out, (size_t)n * sizeof(int32_t));
    s->n_last = n;
    s->n_outputs = n_out;
    s->embd_valid = s->params.embeddings;
    return FFL_OK;
}

static const float *output_row(ffl_session *s, const float *base, int64_t width, int32_t i, const char *what) {
    if (!s) {
        ffl_fail(FFL_ERR_INVALID_ARGUMENT, "NULL session");
        return NULL;
    }
    if (!base || s->n_outputs == 0) {
        ffl_fail(FFL_ERR_STATE, "no %s: the last decode produced none", what);
        return NULL;
    }
    int32_t row;
    if (i < 0) {
        row = s->n_outputs + i;
        if (row < 0) {
            ffl_fail(FFL_ERR_OUT_OF_RANGE, "output %d out of range (%d outputs)", i, s->n_outputs);
            return NULL;
        }
    } else {
        if (i >= s->n_last) {
            ffl_fail(FFL_ERR_OUT_OF_RANGE, "token index %d out of range (last decode had %d tokens)", i, s->n_last);
            return NULL;
        }
        row = s->out_index[i];
        if (row < 0) {
            ffl_fail(FFL_ERR_INVALID_ARGUMENT, "token %d of the last decode did not request %s", i, what);
            return NULL;
        }
    }
    return base + (int64_t)row * width;
}

const float *ffl_session_logits(ffl_session *s, int32_t i) {
    return output_row(s, s ? s->logits : NULL, s ? s->model->hp.n_vocab : 0, i, "logits");
}

const float *ffl_session_logits_all(ffl_session *s) {
    if (!s || s->n_outputs == 0) {
        ffl_fail(s ? FFL_ERR_STATE : FFL_ERR_INVALID_ARGUMENT, "no logits available");
        return NULL;
    }
    return s->logits;
}

const float *ffl_session_embeddings(ffl_session *s, int32_t i) {
    if (s && (!s->params.embeddings || !s->embd_valid)) {
        ffl_fail(FFL_ERR_STATE, "no embeddings: not enabled in the session parameters, or not in the restored state");
        return NULL;
    }
    return output_row(s, s ? s->embd : NULL, s ? s->model->hp.n_embd : 0, i, "embeddings");
}

const float *ffl_session_embeddings_all(ffl_session *s) {
    if (!s || !s->embd_valid || s->n_outputs == 0) {
        ffl_fail(s ? FFL_ERR_STATE : FFL_ERR_INVALID_ARGUMENT, "no embeddings available");
        return NULL;
    }
    return s->embd;
}

/* ---- sequences ---- */

static int32_t check_seq(const ffl_session *s, int32_t seq, const char *fn) {
    if (!s) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "%s: NULL session", fn);
    if (seq < 0 || seq >= s->kv.n_seq_max)
        return ffl_fail(FFL_ERR_OUT_OF_RANGE, "%s: sequence id %d outside [0, %d)", fn, seq, s->kv.n_seq_max);
    return FFL_OK;
}

int32_t ffl_session_seq_pos_max(const ffl_session *s, int32_t seq, int32_t *out_pos) {
    int32_t st = check_seq(s, seq, "ffl_session_seq_pos_max");
    if (st != FFL_OK) return st;
    if (!out_pos) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_session_seq_pos_max: NULL out_pos");
    *out_pos = ffl_kv_seq_pos_max(&s->kv, seq);
    return FFL_OK;
}

int32_t ffl_session_n_past(const ffl_session *s, int32_t seq) {
    int32_t st = check_seq(s, seq, "ffl_session_n_past");
    if (st != FFL_OK) return st;
    return ffl_kv_seq_pos_max(&s->kv, seq) + 1;
}

int32_t ffl_session_seq_rm(ffl_session *s, int32_t seq, int32_t p0, int32_t p1) {
    if (seq >= 0) {
        int32_t st = check_seq(s, seq, "ffl_session_seq_rm");
        if (st != FFL_OK) return st;
    } else if (!s) {
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_session_seq_rm: NULL session");
    }
    ffl_kv_seq_rm(&s->kv, seq < 0 ? -1 : seq, p0, p1);
    return FFL_OK;
}

int32_t ffl_session_seq_cp(ffl_session *s, int32_t src, int32_t dst, int32_t p0, int32_t p1) {
    int32_t st = check_seq(s, src, "ffl_session_seq_cp");
    if (st == FFL_OK) st = check_seq(s, dst, "ffl_session_seq_cp");
    if (st != FFL_OK) return st;
    ffl_kv_seq_cp(&s->kv, src, dst, p0, p1);
    return FFL_OK;
}

int32_t ffl_session_seq_add(ffl_session *s, int32_t seq, int32_t p0, int32_t p1, int32_t delta) {
    int32_t st = check_seq(s, seq, "ffl_session_seq_add");
    if (st != FFL_OK) return st;
    if (delta == 0) return FFL_OK;
    ffl_kv_cache *kv = &s->kv;
    int32_t *cells = malloc((size_t)kv->n_cells * sizeof(int32_t));
    if (!cells) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "out of memory for the context shift");
    /* Positions are checked first so a shift that would overflow changes nothing. */
    int32_t n = 0;
    const uint64_t bit = 1ull << seq;
    for (int32_t i = 0; i < kv->n_cells; i++) {
        const ffl_kv_cell *c = &kv->cells[i];
        if (c->pos < 0 || !(c->seq & bit) || c->pos < (p0 < 0 ? 0 : p0) || (p1 >= 0 && c->pos >= p1)) continue;
        if ((int64_t)c->pos + delta >= INT32_MAX) {
            free(cells);
            return ffl_fail(FFL_ERR_OUT_OF_RANGE, "ffl_session_seq_add: position %d + %d overflows", c->pos, delta);
        }
        cells[n++] = i;
    }
    /* Cells moved below position 0 leave the cache, as in llama.cpp; the rest are re-rotated. */
    int32_t kept = 0;
    for (int32_t i = 0; i < n; i++) {
        ffl_kv_cell *c = &kv->cells[cells[i]];
        if ((int64_t)c->pos + delta < 0) {
            ffl_kv_free_cell(kv, cells[i]);
        } else {
            c->pos += delta;
            cells[kept++] = cells[i];
        }
    }
    st = ffl_forward_shift_keys(s, cells, kept, delta);
    free(cells);
    return st;
}

int32_t ffl_session_seq_keep(ffl_session *s, int32_t seq) {
    int32_t st = check_seq(s, seq, "ffl_session_seq_keep");
    if (st != FFL_OK) return st;
    ffl_kv_seq_keep(&s->kv, seq);
    return FFL_OK;
}

int32_t ffl_session_clear(ffl_session *s) {
    if (!s) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_session_clear: NULL session");
    ffl_kv_clear(&s->kv);
    s->n_outputs = 0;
    s->n_last = 0;
    s->embd_valid = 0;
    return FFL_OK;
}
