/* Whole-model quantization, reproducing llama.cpp's llama-quantize (early 2025, no importance
 * matrix): the same per-tensor type choices (llama_tensor_get_type), the same tensor order
 * (non-layer tensors first, then layer by layer, each group by name), metadata copied with
 * general.quantization_version and general.file_type appended, 32-byte alignment. The output is
 * byte-identical to llama-quantize's for the supported file types. */
#include "common/ffl_internal.h"
#include "cpu/threadpool.h"
#include "gguf/gguf_internal.h"
#include "quant/kernels.h"
#include "quant/quant_ref.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

/* llama.cpp's LLAMA_FTYPE numbers (stored as general.file_type). */
enum {
    FT_ALL_F32 = 0, FT_F16 = 1, FT_Q4_0 = 2, FT_Q4_1 = 3, FT_Q8_0 = 7, FT_Q5_0 = 8, FT_Q5_1 = 9,
    FT_Q2_K = 10, FT_Q3_K_S = 11, FT_Q3_K_M = 12, FT_Q3_K_L = 13, FT_Q4_K_S = 14, FT_Q4_K_M = 15,
    FT_Q5_K_S = 16, FT_Q5_K_M = 17, FT_Q6_K = 18, FT_IQ4_NL = 25, FT_IQ4_XS = 30, FT_BF16 = 32,
};

typedef struct {
    const char *name;
    int32_t ftype;
    int32_t default_type;
} ftype_entry;

static const ftype_entry FTYPES[] = {
    {"F32", FT_ALL_F32, FFL_TYPE_F32},     {"F16", FT_F16, FFL_TYPE_F16},         {"BF16", FT_BF16, FFL_TYPE_BF16},
    {"Q4_0", FT_Q4_0, FFL_TYPE_Q4_0},      {"Q4_1", FT_Q4_1, FFL_TYPE_Q4_1},      {"Q5_0", FT_Q5_0, FFL_TYPE_Q5_0},
    {"Q5_1", FT_Q5_1, FFL_TYPE_Q5_1},      {"Q8_0", FT_Q8_0, FFL_TYPE_Q8_0},      {"Q2_K", FT_Q2_K, FFL_TYPE_Q2_K},
    {"Q3_K_S", FT_Q3_K_S, FFL_TYPE_Q3_K},  {"Q3_K_M", FT_Q3_K_M, FFL_TYPE_Q3_K},  {"Q3_K_L", FT_Q3_K_L, FFL_TYPE_Q3_K},
    {"Q4_K_S", FT_Q4_K_S, FFL_TYPE_Q4_K},  {"Q4_K_M", FT_Q4_K_M, FFL_TYPE_Q4_K},  {"Q5_K_S", FT_Q5_K_S, FFL_TYPE_Q5_K},
    {"Q5_K_M", FT_Q5_K_M, FFL_TYPE_Q5_K},  {"Q6_K", FT_Q6_K, FFL_TYPE_Q6_K},      {"IQ4_NL", FT_IQ4_NL, FFL_TYPE_IQ4_NL},
    {"IQ4_XS", FT_IQ4_XS, FFL_TYPE_IQ4_XS},
    /* llama-quantize's aliases */
    {"Q3_K", FT_Q3_K_M, FFL_TYPE_Q3_K},    {"Q4_K", FT_Q4_K_M, FFL_TYPE_Q4_K},    {"Q5_K", FT_Q5_K_M, FFL_TYPE_Q5_K},
};

static const ftype_entry *find_ftype(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof FTYPES / sizeof *FTYPES; i++)
        if (strcasecmp(FTYPES[i].name, name) == 0) return &FTYPES[i];
    return NULL;
}

int32_t ffl_quantize_ftype_from_name(const char *ftype) {
    const ftype_entry *e = find_ftype(ftype);
    return e ? e->ftype : -1;
}

static int is_block_quantized(int32_t type) {
    return type != FFL_TYPE_F32 && type != FFL_TYPE_F16 && type != FFL_TYPE_BF16 && ffl_type_block_size(type) > 1;
}

/* ---- model facts the type rules look at ---- */

typedef struct {
    int32_t ftype;
    int is_falcon;
    int is_70b;
    int n_layer;
    int n_expert; /* as stored (0 for dense models) */
    int n_gqa;
    int has_output;
    int n_attention_wv, i_attention_wv;
    int i_ffn_down, i_ffn_gate, i_ffn_up;
} quant_state;

/* An integer hyperparameter that may be stored per layer as an array: element 0 (layer 0). */
static int64_t hparam_int(const ffl_gguf *g, const char *arch, const char *suffix, int64_t def) {
    char key[256];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t i = ffl_gguf_find_key(g, key);
    if (i < 0) return def;
    if (ffl_gguf_kv_type(g, i) == FFL_GGUF_ARRAY) {
        const ffl_gguf_kv *kv = &g->kv[i];
        if (kv->array_count == 0) return def;
        switch (kv->array_type) {
        case FFL_GGUF_INT32: { int32_t v; memcpy(&v, kv->array_data, 4); return v; }
        case FFL_GGUF_UINT32: { uint32_t v; memcpy(&v, kv->array_data, 4); return v; }
        default: return def;
        }
    }
    return ffl_gguf_get_int_or(g, key, def);
}

static int use_more_bits(int i_layer, int n_layers) {
    return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

static int contains(const char *s, const char *part) { return strstr(s, part) != NULL; }

/* The block number of "blk.<n>...." as llama.cpp's sscanf("blk.%d.") reads it, or -1 when the
 * name has none. Huge numbers saturate instead of overflowing. */
static int block_number(const char *name) {
    if (strncmp(name, "blk.", 4) != 0) return -1;
    const char *p = name + 4;
    while (*p == ' ' || (*p >= '\t' && *p <= '\r')) p++;
    int negative = *p == '-';
    if (*p == '-' || *p == '+') p++;
    if (*p < '0' || *p > '9') return -1;
    long long v = 0;
    for (; *p >= '0' && *p <= '9'; p++)
        if (v < 1000000000) v = v * 10 + (*p - '0');
    if (v > 1000000000) v = 1000000000;
    return negative ? (v ? -2 : 0) : (int)v; /* a negative block number is never valid: keep it off -1 */
}

/* Layer of an FFN tensor: the running counter for dense models, the name's block number for MoE
 * models (whose expert tensors need not come in layer order). -1 on a bad name. */
static int layer_of(const quant_state *qs, int counter, const char *name) {
    if (qs->n_expert <= 1) return counter;
    const int layer = block_number(name);
    return layer >= 0 && layer < qs->n_layer ? layer : -1;
}

/* llama_tensor_get_type for the supported file types. Returns the type, or -1 with an error set. */
static int32_t choose_type(quant_state *qs, int32_t new_type, const char *name, int64_t ne0) {
    const int32_t ft = qs->ftype;
    if (strcmp(name, "output.weight") == 0 || (!qs->has_output && strcmp(name, "token_embd.weight") == 0)) {
        if (qs->is_falcon || ne0 % ffl_type_block_size(new_type) != 0) new_type = FFL_TYPE_Q8_0;
        else if (new_type != FFL_TYPE_Q8_0) new_type = FFL_TYPE_Q6_K;
    } else if (strcmp(name, "token_embd.weight") == 0) {
        /* only the IQ1/IQ2/IQ3/TQ file types change it */
    } else if (contains(name, "attn_v.weight")) {
        if (ft == FT_Q2_K) new_type = qs->n_gqa >= 4 ? FFL_TYPE_Q4_K : FFL_TYPE_Q3_K;
        else if (ft == FT_Q3_K_M) new_type = qs->i_attention_wv < 2 ? FFL_TYPE_Q5_K : FFL_TYPE_Q4_K;
        else if (ft == FT_Q3_K_L) new_type = FFL_TYPE_Q5_K;
        else if ((ft == FT_IQ4_NL || ft == FT_IQ4_XS) && qs->n_gqa >= 4) new_type = FFL_TYPE_Q5_K;
        else if ((ft == FT_Q4_K_M || ft == FT_Q5_K_M) && use_more_bits(qs->i_attention_wv, qs->n_attention_wv))
            new_type = FFL_TYPE_Q6_K;
        else if (ft == FT_Q4_K_S && qs->i_attention_wv < 4) new_type = FFL_TYPE_Q5_K;
        if (qs->is_70b && (new_type == FFL_TYPE_Q3_K || new_type == FFL_TYPE_Q4_K)) new_type = FFL_TYPE_Q5_K;
        if (qs->n_expert == 8) new_type = FFL_TYPE_Q8_0;
        qs->i_attention_wv++;
    } else if (contains(name, "attn_k.weight")) {
        if (qs->n_expert == 8) new_type = FFL_TYPE_Q8_0;
    } else if (contains(name, "attn_q.weight")) {
        /* only the IQ3_XS/IQ3_XXS file types change it */
    } else if (contains(name, "ffn_down")) {
        const int i_layer = layer_of(qs, qs->i_ffn_down, name), n_layer = qs->n_layer;
        if (i_layer < 0) return ffl_fail(FFL_ERR_FORMAT, "quantize: cannot tell the layer of tensor '%s'", name), -1;
        if (ft == FT_Q2_K) new_type = FFL_TYPE_Q3_K;
        else if (ft == FT_Q3_K_M)
            new_type = i_layer < n_layer / 16                             ? FFL_TYPE_Q5_K
                       : !qs->is_falcon || use_more_bits(i_layer, n_layer) ? FFL_TYPE_Q4_K
                                                                          : FFL_TYPE_Q3_K;
        else if (ft == FT_Q3_K_L) new_type = qs->is_falcon ? FFL_TYPE_Q4_K : FFL_TYPE_Q5_K;
        else if (ft == FT_Q4_K_M) {
            if (qs->is_falcon)
                new_type = i_layer < n_layer / 16          ? FFL_TYPE_Q6_K
                           : use_more_bits(i_layer, n_layer) ? FFL_TYPE_Q5_K
                                                           : FFL_TYPE_Q4_K;
            else if (use_more_bits(i_layer, n_layer)) new_type = FFL_TYPE_Q6_K;
        } else if (i_layer < n_layer / 8 && (ft == FT_IQ4_NL || ft == FT_IQ4_XS)) new_type = FFL_TYPE_Q5_K;
        else if (ft == FT_Q5_K_M && use_more_bits(i_layer, n_layer)) new_type = FFL_TYPE_Q6_K;
        else if (ft == FT_Q4_K_S && !qs->is_falcon && i_layer < n_layer / 8) new_type = FFL_TYPE_Q5_K;
        qs->i_ffn_down++;
    } else if (contains(name, "attn_output.weight")) {
        if (!qs->is_falcon) {
            if (qs->n_expert == 8) {
                if (ft == FT_Q2_K || ft == FT_Q3_K_S || ft == FT_Q3_K_M || ft == FT_IQ4_NL || ft == FT_Q4_K_S ||
                    ft == FT_Q4_K_M || ft == FT_IQ4_XS)
                    new_type = FFL_TYPE_Q5_K;
            } else {
                if (ft == FT_Q2_K) new_type = FFL_TYPE_Q3_K;
                else if (ft == FT_Q3_K_M) new_type = FFL_TYPE_Q4_K;
                else if (ft == FT_Q3_K_L) new_type = FFL_TYPE_Q5_K;
            }
        } else if (ft == FT_Q3_K_L) {
            new_type = FFL_TYPE_Q4_K;
        }
    } else if (contains(name, "attn_qkv.weight")) {
        if (ft == FT_Q3_K_M || ft == FT_Q3_K_L) new_type = FFL_TYPE_Q4_K;
        else if (ft == FT_Q4_K_M) new_type = FFL_TYPE_Q5_K;
        else if (ft == FT_Q5_K_M) new_type = FFL_TYPE_Q6_K;
    } else if (contains(name, "ffn_gate") || contains(name, "ffn_up")) {
        int *counter = contains(name, "ffn_gate") ? &qs->i_ffn_gate : &qs->i_ffn_up;
        if (layer_of(qs, *counter, name) < 0)
            return ffl_fail(FFL_ERR_FORMAT, "quantize: cannot tell the layer of tensor '%s'", name), -1;
        (*counter)++;
    }

    /* rows whose length is not a whole number of blocks fall back to a type with smaller blocks */
    if (ne0 % ffl_type_block_size(new_type) != 0) {
        switch (new_type) {
        case FFL_TYPE_Q2_K: case FFL_TYPE_Q3_K: case FFL_TYPE_IQ4_XS: new_type = FFL_TYPE_IQ4_NL; break;
        case FFL_TYPE_Q4_K: new_type = FFL_TYPE_Q5_0; break;
        case FFL_TYPE_Q5_K: new_type = FFL_TYPE_Q5_1; break;
        case FFL_TYPE_Q6_K: new_type = FFL_TYPE_Q8_0; break;
        default:
            return ffl_fail(FFL_ERR_UNSUPPORTED, "quantize: tensor '%s' has rows of %lld elements, not a multiple of the %s block",
                            name, (long long)ne0, ffl_type_name(new_type)),
                   -1;
        }
        if (ne0 % ffl_type_block_size(new_type) != 0) new_type = FFL_TYPE_F16;
        FFL_LOGW("quantize: %s has rows of %lld elements: using fallback type %s", name, (long long)ne0,
                 ffl_type_name(new_type));
    }
    return new_type;
}

/* llama.cpp's tensor order: tensors outside blocks first, then block by block; by name within a group. */
static int layer_key(const char *name) { return block_number(name); }

typedef struct {
    int layer;
    const char *name;
    int64_t index;
} order_key;

static int compare_tensors(const void *a, const void *b) {
    const order_key *x = a, *y = b;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Fills order[] with the source indices in llama.cpp's order. */
static int32_t sort_tensors(const ffl_gguf *g, int64_t *order) {
    const int64_t nt = g->n_tensors;
    order_key *keys = malloc((size_t)(nt ? nt : 1) * sizeof *keys);
    if (!keys) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "quantize: out of memory");
    for (int64_t i = 0; i < nt; i++) keys[i] = (order_key){layer_key(g->tensors[i].name.data), g->tensors[i].name.data, i};
    qsort(keys, (size_t)nt, sizeof *keys, compare_tensors);
    for (int64_t i = 0; i < nt; i++) order[i] = keys[i].index;
    free(keys);
    return FFL_OK;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Whether llama-quantize considers a tensor for quantization at all. */
static int is_quantizable(const char *name, int n_dims) {
    static const char *const never[] = {
        "_norm.weight", "ffn_gate_inp.weight", "ssm_conv1d.weight", "time_mix_first.weight", "time_mix_w1.weight",
        "time_mix_w2.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
        "attn_rel_b.weight",
    };
    if (!ends_with(name, "weight") || n_dims < 2) return 0;
    for (size_t i = 0; i < sizeof never / sizeof *never; i++)
        if (contains(name, never[i])) return 0;
    return strcmp(name, "position_embd.weight") != 0 && strcmp(name, "token_types.weight") != 0;
}

/* ---- per-tensor plan and parallel conversion ---- */

typedef struct {
    int64_t index;      /* in the source file */
    int32_t src_type, dst_type;
    int n_dims;
    int64_t ne[4];
    int64_t n_rows;
    uint64_t out_offset; /* in the scratch buffer; unused for copied tensors */
    uint64_t out_bytes;
    int convert;
} tensor_plan;

typedef struct {
    const uint8_t *src;
    uint8_t *dst;
    int32_t src_type, dst_type;
    int64_t ne0;
    size_t src_row_bytes, dst_row_bytes;
    int64_t row0, row1;
    float *row_buf; /* ne0 floats per thread */
    int bad_value;  /* a NaN or infinity was found */
} convert_job;

static void convert_rows(void *ctx, int ith, int nth) {
    convert_job *job = ctx;
    int64_t b, e;
    ffl_split_range(job->row1 - job->row0, ith, nth, &b, &e);
    float *buf = job->row_buf + (size_t)ith * (size_t)job->ne0;
    for (int64_t r = job->row0 + b; r < job->row0 + e; r++) {
        const void *src = job->src + (size_t)r * job->src_row_bytes;
        const float *row;
        if (job->src_type == FFL_TYPE_F32) {
            row = src;
        } else {
            ffl_dequantize_row_internal(job->src_type, src, buf, job->ne0);
            row = buf;
        }
        for (int64_t k = 0; k < job->ne0; k++) {
            if (!isfinite(row[k])) {
                __atomic_store_n(&job->bad_value, 1, __ATOMIC_RELAXED);
                return;
            }
        }
        ffl_quant_ref_row(job->dst_type, row, job->dst + (size_t)r * job->dst_row_bytes, job->ne0);
    }
}

/* Output data lives in a file-backed mapping beside the output (unlinked at once, so nothing is left
 * behind on any exit) when possible, else in memory. */
typedef struct {
    uint8_t *base;
    uint64_t size;
    int mapped;
} scratch;

static int32_t scratch_open(scratch *s, const char *out_path, uint64_t size) {
    memset(s, 0, sizeof *s);
    s->size = size;
    if (size == 0) return FFL_OK;
#if defined(__linux__)
    size_t plen = strlen(out_path) + 48;
    char *path = malloc(plen);
    if (path) {
        snprintf(path, plen, "%s.scratch.%ld", out_path, (long)getpid());
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            unlink(path);
            /* reserve the blocks now: a full disk must be an error here, not a SIGBUS later */
            if (posix_fallocate(fd, 0, (off_t)size) == 0) {
                void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                if (p != MAP_FAILED) {
                    s->base = p;
                    s->mapped = 1;
                }
            }
            close(fd);
        }
        free(path);
    }
#else
    (void)out_path;
#endif
    if (!s->base) {
        if (size > (uint64_t)SIZE_MAX) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "quantize: output too large");
        s->base = malloc((size_t)size);
        if (!s->base) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "quantize: cannot allocate %llu bytes", (unsigned long long)size);
    }
    return FFL_OK;
}

static void scratch_close(scratch *s) {
    if (!s->base) return;
    if (s->mapped) munmap(s->base, (size_t)s->size);
    else free(s->base);
    s->base = NULL;
}

/* Elements per parallel batch: progress and cancellation are checked between batches. */
#define BATCH_ELEMENTS (1 << 22)

typedef struct {
    ffl_gguf *in;
    ffl_gguf_writer *writer;
    tensor_plan *plans;
    int64_t *order;
    float *row_bufs;
    ffl_threadpool *pool;
    scratch out;
} quant_run;

static int32_t plan_tensors(quant_run *run, const ftype_entry *ft, uint64_t *scratch_bytes) {
    ffl_gguf *g = run->in;
    const char *arch = ffl_gguf_get_string_or(g, "general.architecture", NULL);
    if (!arch) return ffl_fail(FFL_ERR_FORMAT, "quantize: the model has no general.architecture");
    if (ffl_gguf_get_int_or(g, "split.count", 1) > 1)
        return ffl_fail(FFL_ERR_UNSUPPORTED, "quantize: split models are not supported; merge the parts first");

    quant_state qs;
    memset(&qs, 0, sizeof qs);
    qs.ftype = ft->ftype;
    qs.is_falcon = strcmp(arch, "falcon") == 0;
    const int64_t n_layer = hparam_int(g, arch, "block_count", -1);
    if (n_layer < 0 || n_layer > 100000) return ffl_fail(FFL_ERR_FORMAT, "quantize: the model has no valid %s.block_count", arch);
    qs.n_layer = (int)n_layer;
    const int64_t n_expert = hparam_int(g, arch, "expert_count", 0);
    qs.n_expert = n_expert > 0 && n_expert < 100000 ? (int)n_expert : 0;
    const int64_t n_head = hparam_int(g, arch, "attention.head_count", 0);
    const int64_t n_head_kv = hparam_int(g, arch, "attention.head_count_kv", n_head);
    qs.n_gqa = n_head_kv > 0 ? (int)(n_head / n_head_kv) : 0;
    /* the 70B shapes get a larger attn_v type in llama.cpp */
    qs.is_70b = n_layer == 80 && ((strcmp(arch, "llama") == 0 && n_head != n_head_kv) || strcmp(arch, "qwen2") == 0);

    const int64_t nt = ffl_gguf_tensor_count(g);
    int32_t st = sort_tensors(g, run->order);
    if (st != FFL_OK) return st;

    for (int64_t i = 0; i < nt; i++) {
        const char *name = g->tensors[i].name.data;
        if (contains(name, "attn_v.weight") || contains(name, "attn_qkv.weight") || contains(name, "attn_kv_b.weight"))
            qs.n_attention_wv++;
        else if (strcmp(name, "output.weight") == 0)
            qs.has_output = 1;
    }

    uint64_t offset = 0;
    for (int64_t k = 0; k < nt; k++) {
        const int64_t i = run->order[k];
        const ffl_gguf_tensor *t = &g->tensors[i];
        tensor_plan *p = &run->plans[k];
        memset(p, 0, sizeof *p);
        p->index = i;
        p->src_type = t->type;
        p->n_dims = 1;
        for (int d = 0; d < 4; d++) {
            p->ne[d] = d < t->n_dims ? t->ne[d] : 1;
            if (p->ne[d] > 1) p->n_dims = d + 1; /* ggml_n_dims: trailing extents of 1 do not count */
        }
        uint64_t rows = 1;
        for (int d = 1; d < 4; d++)
            if (p->ne[d] < 0 || !ffl_mul_u64(rows, (uint64_t)p->ne[d], &rows) || rows > (uint64_t)INT64_MAX)
                return ffl_fail(FFL_ERR_FORMAT, "quantize: tensor '%s' has a bad shape", t->name.data);
        p->n_rows = (int64_t)rows;
        int32_t new_type = t->type;
        if (is_quantizable(t->name.data, p->n_dims)) {
            new_type = ft->default_type;
            if (is_block_quantized(new_type)) {
                new_type = choose_type(&qs, new_type, t->name.data, p->ne[0]);
                if (new_type < 0) return ffl_last_status();
            }
        }
        p->dst_type = new_type;
        p->convert = new_type != t->type;
        if (!p->convert) {
            p->out_bytes = t->n_bytes;
            continue;
        }
        if (t->type != FFL_TYPE_F32 && t->type != FFL_TYPE_F16 && t->type != FFL_TYPE_BF16)
            return ffl_fail(FFL_ERR_UNSUPPORTED, "quantize: tensor '%s' is %s; requantizing a quantized tensor is not supported",
                            t->name.data, ffl_type_name(t->type) ? ffl_type_name(t->type) : "of an unknown type");
        if (!ffl_quant_ref_supported(new_type))
            return ffl_fail(FFL_ERR_UNSUPPORTED, "quantize: tensor '%s' would need type %s, which cannot be produced",
                            t->name.data, ffl_type_name(new_type));
        const int64_t row_bytes = ffl_type_row_bytes(new_type, p->ne[0]);
        if (row_bytes < 0 || !ffl_mul_u64((uint64_t)p->n_rows, (uint64_t)row_bytes, &p->out_bytes))
            return ffl_fail(FFL_ERR_FORMAT, "quantize: tensor '%s' has a bad shape", t->name.data);
        p->out_offset = offset;
        if (!ffl_add_u64(offset, (p->out_bytes + 63) & ~(uint64_t)63, &offset))
            return ffl_fail(FFL_ERR_FORMAT, "quantize: model too large");
    }
    *scratch_bytes = offset;
    return FFL_OK;
}

static int32_t write_output(quant_run *run, const ftype_entry *ft, const char *out_path) {
    ffl_gguf *g = run->in;
    int32_t st = ffl_gguf_writer_new(&run->writer);
    for (int64_t i = 0; st == FFL_OK && i < ffl_gguf_kv_count(g); i++) st = ffl_gguf_writer_copy_kv(run->writer, g, i);
    /* llama-quantize re-adds these two at the end and drops the split keys */
    const uint32_t qv = 2, ftv = (uint32_t)ft->ftype;
    static const char *const dropped[] = {"general.quantization_version", "general.file_type", "split.no", "split.count",
                                          "split.tensors.count"};
    for (size_t i = 0; st == FFL_OK && i < sizeof dropped / sizeof *dropped; i++)
        st = ffl_gguf_writer_remove_key(run->writer, dropped[i]);
    if (st == FFL_OK) st = ffl_gguf_writer_set_scalar(run->writer, "general.quantization_version", FFL_GGUF_UINT32, &qv);
    if (st == FFL_OK) st = ffl_gguf_writer_set_scalar(run->writer, "general.file_type", FFL_GGUF_UINT32, &ftv);
    for (int64_t k = 0; st == FFL_OK && k < ffl_gguf_tensor_count(g); k++) {
        const tensor_plan *p = &run->plans[k];
        const void *data = p->convert ? run->out.base + p->out_offset : ffl_gguf_tensor_data(g, p->index);
        st = ffl_gguf_writer_add_tensor(run->writer, g->tensors[p->index].name.data, p->dst_type, p->n_dims, p->ne, data,
                                        p->out_bytes);
    }
    if (st == FFL_OK) st = ffl_gguf_writer_write(run->writer, out_path);
    return st;
}

static int32_t quantize_model(quant_run *run, const char *in_path, const char *out_path, const ftype_entry *ft,
                              int32_t n_threads, ffl_progress_fn progress, void *user_data) {
    int32_t st = ffl_gguf_open(in_path, 0, &run->in);
    if (st != FFL_OK) return st;
    ffl_gguf *g = run->in;
    const int64_t nt = ffl_gguf_tensor_count(g);
    run->plans = calloc((size_t)(nt ? nt : 1), sizeof *run->plans);
    run->order = calloc((size_t)(nt ? nt : 1), sizeof *run->order);
    if (!run->plans || !run->order) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "quantize: out of memory");

    uint64_t scratch_bytes = 0, total_bytes = 0, done_bytes = 0;
    st = plan_tensors(run, ft, &scratch_bytes);
    if (st != FFL_OK) return st;

    int64_t max_ne0 = 1;
    for (int64_t k = 0; k < nt; k++) {
        total_bytes += g->tensors[run->plans[k].index].n_bytes;
        if (run->plans[k].convert && run->plans[k].out_bytes && run->plans[k].ne[0] > max_ne0) max_ne0 = run->plans[k].ne[0];
    }
    if (total_bytes == 0) total_bytes = 1;

    if (n_threads <= 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = online > 0 ? (int32_t)online : 1;
    }
    if (n_threads > 512) n_threads = 512;
    if (n_threads > 1) {
        run->pool = ffl_threadpool_new(n_threads);
        if (!run->pool) return ffl_last_status();
    }
    run->row_bufs = malloc((size_t)n_threads * (size_t)max_ne0 * sizeof(float));
    if (!run->row_bufs) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "quantize: out of memory");
    st = scratch_open(&run->out, out_path, scratch_bytes);
    if (st != FFL_OK) return st;

    if (progress && progress(0.0f, user_data) != 0) return ffl_fail(FFL_ERR_ABORTED, "quantize: cancelled");
    for (int64_t k = 0; k < nt; k++) {
        const tensor_plan *p = &run->plans[k];
        const uint64_t in_bytes = g->tensors[p->index].n_bytes;
        if (p->convert && p->out_bytes) {
            convert_job job = {
                .src = ffl_gguf_tensor_data(g, p->index),
                .dst = run->out.base + p->out_offset,
                .src_type = p->src_type,
                .dst_type = p->dst_type,
                .ne0 = p->ne[0],
                .src_row_bytes = (size_t)ffl_type_row_bytes(p->src_type, p->ne[0]),
                .dst_row_bytes = (size_t)ffl_type_row_bytes(p->dst_type, p->ne[0]),
                .row_buf = run->row_bufs,
            };
            int64_t rows_per_batch = BATCH_ELEMENTS / (p->ne[0] > 0 ? p->ne[0] : 1);
            if (rows_per_batch < 1) rows_per_batch = 1;
            for (int64_t r = 0; r < p->n_rows; r += rows_per_batch) {
                job.row0 = r;
                job.row1 = r + rows_per_batch < p->n_rows ? r + rows_per_batch : p->n_rows;
                ffl_threadpool_run(run->pool, convert_rows, &job);
                if (job.bad_value)
                    return ffl_fail(FFL_ERR_FORMAT, "quantize: tensor '%s' holds NaN or infinite values",
                                    g->tensors[p->index].name.data);
                const uint64_t part = (uint64_t)((double)in_bytes * (double)(job.row1 - r) / (double)p->n_rows);
                if (progress && progress((float)((double)(done_bytes + part) / (double)total_bytes), user_data) != 0)
                    return ffl_fail(FFL_ERR_ABORTED, "quantize: cancelled");
                if (job.row1 == p->n_rows) break;
            }
            FFL_LOGD("quantize: %s %s -> %s", g->tensors[p->index].name.data, ffl_type_name(p->src_type),
                     ffl_type_name(p->dst_type));
        }
        done_bytes += in_bytes;
        if (progress && progress((float)((double)done_bytes / (double)total_bytes), user_data) != 0)
            return ffl_fail(FFL_ERR_ABORTED, "quantize: cancelled");
    }
    return write_output(run, ft, out_path);
}

int32_t ffl_quantize_model(const char *in_path, const char *out_path, const char *ftype, int32_t n_threads,
                           ffl_progress_fn progress, void *user_data) {
    if (!in_path || !out_path || !ftype) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_quantize_model: NULL argument");
    const ftype_entry *ft = find_ftype(ftype);
    if (!ft) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_quantize_model: unknown file type '%.64s'", ftype);
    quant_run run;
    memset(&run, 0, sizeof run);
    int32_t st = quantize_model(&run, in_path, out_path, ft, n_threads, progress, user_data);
    scratch_close(&run.out);
    ffl_gguf_writer_free(run.writer);
    ffl_threadpool_free(run.pool);
    free(run.row_bufs);
    free(run.plans);
    free(run.order);
    ffl_gguf_close(run.in);
    if (st == FFL_OK) ffl_clear_error();
    return st;
}
