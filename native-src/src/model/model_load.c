/* Model loading: reads the hyper-parameters the architecture row names, then checks every
 * tensor it needs (presence, shape, type) so the forward pass can trust the model. */
#include "common/ffl_internal.h"
#include "gguf/gguf_internal.h"
#include "model/model.h"
#include "quant/kernels.h"
#include "tokenizer/vocab.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MAX_EMBD (1 << 20)
#define MAX_LAYERS 4096
#define MAX_HEADS 4096
#define MAX_HEAD_DIM 4096
#define MAX_EXPERTS 1024
#define MAX_FF (1 << 24)

typedef struct {
    const ffl_gguf *g;
    const char *arch;
} hp_reader;

static int key_of(const hp_reader *r, const char *suffix, char *buf, size_t cap) {
    int n = snprintf(buf, cap, "%s.%s", r->arch, suffix);
    return n > 0 && (size_t)n < cap;
}

/* Integer hyper-parameter in [lo, hi]. Absent: def when !required. Present with a wrong type
 * or out of range: an error, never silently the default. */
static int32_t read_int(const hp_reader *r, const char *suffix, int required, int64_t def, int64_t lo, int64_t hi,
                        int32_t *out) {
    char key[256];
    if (!key_of(r, suffix, key, sizeof key)) return ffl_fail(FFL_ERR_FORMAT, "metadata key too long");
    int64_t idx = ffl_gguf_find_key(r->g, key);
    if (idx < 0) {
        if (required) return ffl_fail(FFL_ERR_FORMAT, "model: missing required metadata key '%s'", key);
        *out = (int32_t)def;
        return FFL_OK;
    }
    int32_t type = ffl_gguf_kv_type(r->g, idx);
    if (type == FFL_GGUF_ARRAY)
        return ffl_fail(FFL_ERR_UNSUPPORTED, "model: '%s' is a per-layer array, which is not supported", key);
    int64_t v;
    if (type == FFL_GGUF_STRING || type == FFL_GGUF_FLOAT32 || type == FFL_GGUF_FLOAT64 || type == FFL_GGUF_BOOL ||
        ffl_gguf_kv_get_int(r->g, idx, &v) != FFL_OK)
        return ffl_fail(FFL_ERR_FORMAT, "model: metadata key '%s' is not an integer", key);
    if (v < lo || v > hi)
        return ffl_fail(FFL_ERR_FORMAT, "model: '%s' = %lld is outside [%lld, %lld]", key, (long long)v, (long long)lo,
                        (long long)hi);
    *out = (int32_t)v;
    return FFL_OK;
}

static int32_t read_float(const hp_reader *r, const char *suffix, int required, double def, double lo, double hi,
                          float *out) {
    char key[256];
    if (!key_of(r, suffix, key, sizeof key)) return ffl_fail(FFL_ERR_FORMAT, "metadata key too long");
    int64_t idx = ffl_gguf_find_key(r->g, key);
    if (idx < 0) {
        if (required) return ffl_fail(FFL_ERR_FORMAT, "model: missing required metadata key '%s'", key);
        *out = (float)def;
        return FFL_OK;
    }
    int32_t type = ffl_gguf_kv_type(r->g, idx);
    double v;
    if (type == FFL_GGUF_STRING || type == FFL_GGUF_ARRAY || type == FFL_GGUF_BOOL ||
        ffl_gguf_kv_get_float(r->g, idx, &v) != FFL_OK)
        return ffl_fail(FFL_ERR_FORMAT, "model: metadata key '%s' is not a number", key);
    if (!isfinite(v) || v < lo || v > hi)
        return ffl_fail(FFL_ERR_FORMAT, "model: '%s' = %g is outside [%g, %g]", key, v, lo, hi);
    *out = (float)v;
    return FFL_OK;
}

static const char *read_string(const hp_reader *r, const char *suffix) {
    char key[256];
    if (!key_of(r, suffix, key, sizeof key)) return NULL;
    return ffl_gguf_get_string_or(r->g, key, NULL);
}

#define TRY(expr)                          \
    do {                                   \
        int32_t st_ = (expr);              \
        if (st_ != FFL_OK) return st_;     \
    } while (0)

static int32_t read_hparams(ffl_model *m) {
    hp_reader r = {m->gguf, m->arch->name};
    ffl_hparams *hp = &m->hp;
    TRY(read_int(&r, "context_length", 1, 0, 1, INT32_MAX, &hp->n_ctx_train));
    TRY(read_int(&r, "embedding_length", 1, 0, 1, MAX_EMBD, &hp->n_embd));
    TRY(read_int(&r, "block_count", 1, 0, 1, MAX_LAYERS, &hp->n_layer));
    TRY(read_int(&r, "attention.head_count", 1, 0, 1, MAX_HEADS, &hp->n_head));
    TRY(read_int(&r, "attention.head_count_kv", 0, hp->n_head, 1, MAX_HEADS, &hp->n_head_kv));
    if (hp->n_head % hp->n_head_kv != 0)
        return ffl_fail(FFL_ERR_FORMAT, "model: head_count %d is not a multiple of head_count_kv %d", hp->n_head,
                        hp->n_head_kv);
    int32_t def_head_dim = hp->n_embd % hp->n_head == 0 ? hp->n_embd / hp->n_head : 0;
    TRY(read_int(&r, "attention.key_length", 0, def_head_dim, 0, MAX_HEAD_DIM, &hp->head_dim_k));
    TRY(read_int(&r, "attention.value_length", 0, hp->head_dim_k, 0, MAX_HEAD_DIM, &hp->head_dim_v));
    if (hp->head_dim_k <= 0 || hp->head_dim_v <= 0)
        return ffl_fail(FFL_ERR_FORMAT, "model: embedding_length %d is not a multiple of head_count %d and no key_length",
                        hp->n_embd, hp->n_head);
    TRY(read_int(&r, "rope.dimension_count", 0, hp->head_dim_k, 2, hp->head_dim_k, &hp->n_rot));
    if (hp->n_rot % 2) return ffl_fail(FFL_ERR_FORMAT, "model: rope.dimension_count %d is odd", hp->n_rot);

    TRY(read_int(&r, "expert_count", 0, 0, 0, MAX_EXPERTS, &hp->n_expert));
    if (hp->n_expert > 0) {
        if (!m->arch->moe_allowed)
            return ffl_fail(FFL_ERR_UNSUPPORTED, "model: architecture '%s' does not support experts", m->arch->name);
        TRY(read_int(&r, "expert_used_count", 1, 0, 1, hp->n_expert, &hp->n_expert_used));
    } else {
        hp->n_expert_used = 0;
    }
    TRY(read_int(&r, "feed_forward_length", 1, 0, 1, MAX_FF, &hp->n_ff));
    if (hp->n_expert > 0) TRY(read_int(&r, "expert_feed_forward_length", 0, hp->n_ff, 1, MAX_FF, &hp->n_ff));

    TRY(read_float(&r, "attention.layer_norm_rms_epsilon", 1, 0, 0, 1, &hp->norm_eps));
    TRY(read_float(&r, "rope.freq_base", 0, m->arch->default_rope_base, 1e-6, 1e30, &hp->rope_freq_base));
    hp->rope_style = m->arch->rope_style;

    /* RoPE scaling as llama.cpp reads it: the type defaults to linear, the factor to none. */
    const char *scaling = read_string(&r, "rope.scaling.type");
    hp->rope_scaling = FFL_ROPE_SCALING_LINEAR;
    if (scaling) {
        if (strcmp(scaling, "none") == 0) hp->rope_scaling = FFL_ROPE_SCALING_NONE;
        else if (strcmp(scaling, "linear") == 0) hp->rope_scaling = FFL_ROPE_SCALING_LINEAR;
        else if (strcmp(scaling, "yarn") == 0) hp->rope_scaling = FFL_ROPE_SCALING_YARN;
        else return ffl_fail(FFL_ERR_UNSUPPORTED, "model: rope scaling type '%s' is not supported", scaling);
    }
    float factor = 0;
    TRY(read_float(&r, "rope.scaling.factor", 0, 0, 0, 1e6, &factor));
    if (factor == 0) TRY(read_float(&r, "rope.scale_linear", 0, 0, 0, 1e6, &factor));
    hp->rope_freq_scale = factor == 0 || hp->rope_scaling == FFL_ROPE_SCALING_NONE ? 1.0f : 1.0f / factor;
    TRY(read_int(&r, "rope.scaling.original_context_length", 0, hp->n_ctx_train, 1, INT32_MAX, &hp->n_ctx_orig));
    TRY(read_float(&r, "rope.scaling.attn_factor", 0, 1.0, 0, 1e6, &hp->yarn_attn_factor));
    hp->yarn_ext_factor = hp->rope_scaling == FFL_ROPE_SCALING_YARN ? 1.0f : 0.0f;
    hp->yarn_beta_fast = 32.0f;
    hp->yarn_beta_slow = 1.0f;
    hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim_k);
    return FFL_OK;
}

static int64_t resolve_dim(const ffl_hparams *hp, int sym) {
    switch (sym) {
    case FFL_D_NONE: return 1;
    case FFL_D_EMBD: return hp->n_embd;
    case FFL_D_VOCAB: return hp->n_vocab;
    case FFL_D_Q: return (int64_t)hp->n_head * hp->head_dim_k;
    case FFL_D_K: return (int64_t)hp->n_head_kv * hp->head_dim_k;
    case FFL_D_V: return (int64_t)hp->n_head_kv * hp->head_dim_v;
    case FFL_D_O: return (int64_t)hp->n_head * hp->head_dim_v;
    case FFL_D_HEAD_K: return hp->head_dim_k;
    case FFL_D_FF: return hp->n_ff;
    case FFL_D_EXPERT: return hp->n_expert;
    case FFL_D_ROT_HALF: return hp->n_rot / 2;
    default: return -1;
    }
}

/* Finds a tensor by name and checks it against the role's shape and type rules. *found = 0 when absent. */
static int32_t bind_tensor(ffl_model *m, int32_t role, const char *name, ffl_weight *w, int *found) {
    const ffl_tensor_desc *d = ffl_tensor_desc_get(role);
    memset(w, 0, sizeof *w);
    *found = 0;
    int64_t idx = ffl_gguf_find_tensor(m->gguf, name);
    if (idx < 0) return FFL_OK;
    ffl_tensor_info ti;
    TRY(ffl_gguf_tensor_info(m->gguf, idx, &ti));
    int64_t ne[4] = {ti.ne0, ti.ne1, ti.ne2, ti.ne3};
    int64_t want[4] = {resolve_dim(&m->hp, d->shape[0]), resolve_dim(&m->hp, d->shape[1]),
                       resolve_dim(&m->hp, d->shape[2]), 1};
    for (int i = 0; i < 4; i++)
        if (ne[i] != want[i])
            return ffl_fail(FFL_ERR_FORMAT,
                            "model: tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld, %lld, %lld]",
                            name, (long long)ne[0], (long long)ne[1], (long long)ne[2], (long long)ne[3],
                            (long long)want[0], (long long)want[1], (long long)want[2], (long long)want[3]);
    if (d->is_vector) {
        if (ti.type != FFL_TYPE_F32)
            return ffl_fail(FFL_ERR_UNSUPPORTED, "model: tensor '%s' has type %s; vectors must be f32", name,
                            ffl_type_name(ti.type) ? ffl_type_name(ti.type) : "?");
    } else if (!ffl_matmul_supported(ti.type)) {
        return ffl_fail(FFL_ERR_UNSUPPORTED, "model: tensor '%s' has type %s, which the kernels do not support", name,
                        ffl_type_name(ti.type) ? ffl_type_name(ti.type) : "?");
    }
    int64_t row_bytes = ffl_type_row_bytes(ti.type, ti.ne0);
    if (row_bytes <= 0) return ffl_fail(FFL_ERR_FORMAT, "model: tensor '%s' has an invalid row size", name);
    w->data = ti.data;
    w->type = ti.type;
    w->n_cols = ti.ne0;
    w->n_rows = ti.ne1;
    w->n_mats = ti.ne2;
    w->row_bytes = (size_t)row_bytes;
    w->mat_bytes = (size_t)row_bytes * (size_t)ti.ne1;
    *found = 1;
    return FFL_OK;
}

static int role_needed(const ffl_model *m, int32_t role) {
    switch (m->arch->need[role]) {
    case FFL_NEED_REQUIRED: return 2;
    case FFL_NEED_OPTIONAL: return 1;
    case FFL_NEED_DENSE: return m->hp.n_expert == 0 ? 2 : 0;
    case FFL_NEED_MOE: return m->hp.n_expert > 0 ? 2 : 0;
    default: return 0;
    }
}

static void count_weight(ffl_model *m, const ffl_weight *w, uint64_t *type_bytes) {
    if (!w->data) return;
    uint64_t n = (uint64_t)w->n_cols * (uint64_t)w->n_rows * (uint64_t)w->n_mats;
    m->n_params += n;
    uint64_t bytes = (uint64_t)w->mat_bytes * (uint64_t)w->n_mats;
    m->n_bytes += bytes;
    if (w->n_rows > 1 && w->type >= 0 && w->type < FFL_TYPE_COUNT) type_bytes[w->type] += bytes;
}

static int32_t bind_all(ffl_model *m, const ffl_model_params *p) {
    ffl_hparams *hp = &m->hp;
    /* The vocabulary size comes from the embedding matrix. */
    int64_t idx = ffl_gguf_find_tensor(m->gguf, "token_embd.weight");
    if (idx < 0) return ffl_fail(FFL_ERR_FORMAT, "model: missing tensor 'token_embd.weight'");
    ffl_tensor_info ti;
    TRY(ffl_gguf_tensor_info(m->gguf, idx, &ti));
    if (ti.ne1 < 1 || ti.ne1 > INT32_MAX)
        return ffl_fail(FFL_ERR_FORMAT, "model: token_embd.weight has %lld rows", (long long)ti.ne1);
    hp->n_vocab = (int32_t)ti.ne1;

    int64_t total = FFL_T_GLOBAL_COUNT + (int64_t)hp->n_layer * FFL_T_LAYER_COUNT, done = 0;
    char name[128];
    for (int32_t role = 0; role < FFL_T_GLOBAL_COUNT; role++) {
        int need = role_needed(m, role), found = 0;
        if (need) {
            const char *fmt = ffl_tensor_desc_get(role)->name;
            TRY(bind_tensor(m, role, fmt, &m->global[role], &found));
            if (!found && need == 2) return ffl_fail(FFL_ERR_FORMAT, "model: missing tensor '%s'", fmt);
        }
        done++;
    }
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "model: out of memory");
    for (int32_t il = 0; il < hp->n_layer; il++) {
        for (int32_t role = FFL_T_LAYER_FIRST; role < FFL_T_COUNT; role++, done++) {
            int need = role_needed(m, role), found = 0;
            if (!need) continue;
            snprintf(name, sizeof name, ffl_tensor_desc_get(role)->name, il);
            TRY(bind_tensor(m, role, name, &m->layers[il].t[role - FFL_T_LAYER_FIRST], &found));
            if (!found && need == 2) return ffl_fail(FFL_ERR_FORMAT, "model: missing tensor '%s'", name);
        }
        if (p->progress && p->progress((float)done / (float)total, p->progress_user_data))
            return ffl_fail(FFL_ERR_ABORTED, "model: loading cancelled by the progress callback");
    }
    if (m->global[FFL_T_OUTPUT].data) {
        m->output = &m->global[FFL_T_OUTPUT];
    } else if (m->arch->tied_output) {
        if (!ffl_matmul_supported(m->global[FFL_T_TOKEN_EMBD].type))
            return ffl_fail(FFL_ERR_UNSUPPORTED, "model: tied output uses token_embd.weight of unsupported type %s",
                            ffl_type_name(m->global[FFL_T_TOKEN_EMBD].type));
        m->output = &m->global[FFL_T_TOKEN_EMBD];
    } else {
        return ffl_fail(FFL_ERR_FORMAT, "model: missing tensor 'output.weight'");
    }

    uint64_t type_bytes[FFL_TYPE_COUNT] = {0};
    for (int32_t role = 0; role < FFL_T_GLOBAL_COUNT; role++) count_weight(m, &m->global[role], type_bytes);
    for (int32_t il = 0; il < hp->n_layer; il++)
        for (int32_t i = 0; i < FFL_T_LAYER_COUNT; i++) count_weight(m, &m->layers[il].t[i], type_bytes);
    m->file_type = FFL_TYPE_F32;
    for (int32_t t = 0; t < FFL_TYPE_COUNT; t++)
        if (type_bytes[t] > type_bytes[m->file_type]) m->file_type = t;
    return FFL_OK;
}

static void format_count(uint64_t n, char *buf, size_t cap) {
    if (n >= 1000000000ull) snprintf(buf, cap, "%.1fB", (double)n / 1e9);
    else if (n >= 1000000ull) snprintf(buf, cap, "%.0fM", (double)n / 1e6);
    else if (n >= 1000ull) snprintf(buf, cap, "%.0fK", (double)n / 1e3);
    else snprintf(buf, cap, "%llu", (unsigned long long)n);
}

void ffl_model_default_params(ffl_model_params *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    out->use_mmap = 1;
    out->repack = 1;
}

int32_t ffl_model_load(const char *path, const ffl_model_params *params, ffl_model **out) {
    if (out) *out = NULL;
    if (!path || !out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_model_load: NULL argument");
    ffl_model_params p;
    if (params) p = *params;
    else ffl_model_default_params(&p);

    ffl_model *m = calloc(1, sizeof *m);
    if (!m) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "model: out of memory");
    int32_t st = ffl_gguf_open(path, p.use_mmap ? 0 : FFL_GGUF_NO_MMAP, &m->gguf);
    if (st != FFL_OK) goto fail;

    const char *arch = ffl_gguf_get_string_or(m->gguf, "general.architecture", NULL);
    if (!arch) {
        st = ffl_fail(FFL_ERR_FORMAT, "model: '%s' has no general.architecture", path);
        goto fail;
    }
    m->arch = ffl_arch_find(arch);
    if (!m->arch) {
        char list[256];
        ffl_arch_supported_list(list, sizeof list);
        st = ffl_fail(FFL_ERR_UNSUPPORTED, "model: architecture '%.64s' is not supported (supported: %s)", arch, list);
        goto fail;
    }
    if ((st = read_hparams(m)) != FFL_OK) goto fail;
    if ((st = bind_all(m, &p)) != FFL_OK) goto fail;

    /* The vocabulary, when the file has one; a malformed or unsupported tokenizer fails the load
     * as in llama.cpp. Token ids must all have an embedding row. */
    if (ffl_gguf_find_key(m->gguf, "tokenizer.ggml.model") >= 0) {
        if ((st = ffl_vocab_from_gguf(m->gguf, &m->vocab)) != FFL_OK) goto fail;
        if (ffl_vocab_n_tokens(m->vocab) > m->hp.n_vocab) {
            st = ffl_fail(FFL_ERR_FORMAT, "model: the vocabulary has %d tokens but token_embd.weight only %d rows",
                          ffl_vocab_n_tokens(m->vocab), m->hp.n_vocab);
            goto fail;
        }
    }

    if (p.repack && (st = ffl_model_repack(m)) != FFL_OK) goto fail;

    char count[32];
    format_count(m->n_params, count, sizeof count);
    snprintf(m->desc, sizeof m->desc, "%s%s %s %s", m->arch->name, m->hp.n_expert ? " moe" : "", count,
             ffl_type_name(m->file_type) ? ffl_type_name(m->file_type) : "?");
    if (p.progress && p.progress(1.0f, p.progress_user_data)) {
        st = ffl_fail(FFL_ERR_ABORTED, "model: loading cancelled by the progress callback");
        goto fail;
    }
    FFL_LOGI("loaded %s: %d layers, n_embd %d, %d/%d heads, n_vocab %d", m->desc, m->hp.n_layer, m->hp.n_embd,
             m->hp.n_head, m->hp.n_head_kv, m->hp.n_vocab);
    *out = m;
    return FFL_OK;
fail:
    ffl_model_free(m);
    return st;
}

void ffl_model_free(ffl_model *m) {
    if (!m) return;
    if (m->repacked) munmap(m->repacked, m->repacked_bytes);
    free(m->layers);
    ffl_vocab_free(m->vocab);
    ffl_gguf_close(m->gguf);
    free(m);
}

const char *ffl_model_arch(const ffl_model *m) { return m ? m->arch->name : NULL; }

int32_t ffl_model_desc(const ffl_model *m, char *buf, size_t buf_size) {
    if (!m) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_model_desc: NULL model");
    if (buf && buf_size) snprintf(buf, buf_size, "%s", m->desc);
    return (int32_t)strlen(m->desc);
}

#define MODEL_GETTER(fn, expr)                                                         \
    int32_t fn(const ffl_model *m) {                                                   \
        if (!m) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, #fn ": NULL model");         \
        return (expr);                                                                 \
    }
MODEL_GETTER(ffl_model_n_vocab, m->hp.n_vocab)
MODEL_GETTER(ffl_model_n_ctx_train, m->hp.n_ctx_train)
MODEL_GETTER(ffl_model_n_embd, m->hp.n_embd)
MODEL_GETTER(ffl_model_n_layer, m->hp.n_layer)
MODEL_GETTER(ffl_model_n_head, m->hp.n_head)
MODEL_GETTER(ffl_model_n_head_kv, m->hp.n_head_kv)
MODEL_GETTER(ffl_model_n_expert, m->hp.n_expert)

uint64_t ffl_model_size(const ffl_model *m) { return m ? m->n_bytes : 0; }
uint64_t ffl_model_n_params(const ffl_model *m) { return m ? m->n_params : 0; }
const ffl_gguf *ffl_model_gguf(const ffl_model *m) { return m ? m->gguf : NULL; }

const ffl_vocab *ffl_model_vocab(const ffl_model *m) {
    if (!m) {
        ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_model_vocab: NULL model");
        return NULL;
    }
    if (!m->vocab) ffl_fail(FFL_ERR_STATE, "model has no tokenizer metadata");
    return m->vocab;
}
