/* Model loading and validation: variants of the real stories260K file with one thing broken
 * (hyper-parameters, missing or misshapen tensors, wrong types, unknown architecture) must
 * fail with a clear status, never crash; valid variants (tied output) must load and run. */
#include "fflama.h"
#include "test_util.h"

#include <unistd.h>

static const ffl_gguf *g_src;
static char tmp_path[256];

typedef struct {
    const char *drop_key;      /* metadata key left out */
    const char *int_key;       /* key set to int_value (uint32) */
    int64_t int_value;
    const char *str_key;       /* key set to a string */
    const char *str_value;
    const char *drop_tensor;   /* tensor left out */
    const char *swap_tensor;   /* this tensor takes the shape and data of swap_with */
    const char *swap_with;
    const char *f16_tensor;    /* stored as f16 instead of f32 */
} variant;

static void free_buffers(void **bufs, int n) {
    for (int i = 0; i < n; i++) free(bufs[i]);
}

/* Writes the source model with the variant applied to tmp_path. */
static int write_variant(const variant *v) {
    ffl_gguf_writer *w = NULL;
    if (ffl_gguf_writer_new(&w) != FFL_OK) return 0;
    for (int64_t i = 0; i < ffl_gguf_kv_count(g_src); i++) {
        const char *key = ffl_gguf_kv_key(g_src, i);
        if ((v->drop_key && strcmp(key, v->drop_key) == 0) || (v->int_key && strcmp(key, v->int_key) == 0) ||
            (v->str_key && strcmp(key, v->str_key) == 0))
            continue;
        ffl_gguf_writer_copy_kv(w, g_src, i);
    }
    if (v->int_key) {
        uint32_t val = (uint32_t)v->int_value;
        ffl_gguf_writer_set_scalar(w, v->int_key, FFL_GGUF_UINT32, &val);
    }
    if (v->str_key) ffl_gguf_writer_set_string(w, v->str_key, v->str_value, strlen(v->str_value));
    void *bufs[256];
    int n_bufs = 0;
    for (int64_t i = 0; i < ffl_gguf_tensor_count(g_src); i++) {
        ffl_tensor_info ti;
        ffl_gguf_tensor_info(g_src, i, &ti);
        if (v->drop_tensor && strcmp(ti.name, v->drop_tensor) == 0) continue;
        ffl_tensor_info src = ti;
        if (v->swap_tensor && strcmp(ti.name, v->swap_tensor) == 0)
            ffl_gguf_tensor_info(g_src, ffl_gguf_find_tensor(g_src, v->swap_with), &src);
        int64_t ne[4] = {src.ne0, src.ne1, src.ne2, src.ne3};
        const void *data = src.data;
        uint64_t n_bytes = src.n_bytes;
        int32_t type = src.type;
        if (v->f16_tensor && strcmp(ti.name, v->f16_tensor) == 0 && n_bufs < 256) {
            uint64_t n = src.n_bytes / 4;
            uint16_t *h = malloc(n * 2);
            for (uint64_t k = 0; k < n; k++) h[k] = 0x3c00; /* 1.0 */
            bufs[n_bufs++] = h;
            data = h;
            n_bytes = n * 2;
            type = FFL_TYPE_F16;
        }
        if (ffl_gguf_writer_add_tensor(w, ti.name, type, src.n_dims, ne, data, n_bytes) != FFL_OK) {
            fprintf(stderr, "add_tensor %s: %s\n", ti.name, ffl_last_error());
        }
    }
    int ok = ffl_gguf_writer_write(w, tmp_path) == FFL_OK;
    if (!ok) fprintf(stderr, "write: %s\n", ffl_last_error());
    ffl_gguf_writer_free(w);
    free_buffers(bufs, n_bufs);
    return ok;
}

static void expect(const char *what, const variant *v, int32_t want) {
    CHECK_MSG(write_variant(v), "%s: cannot write the variant", what);
    ffl_model *m = NULL;
    int32_t st = ffl_model_load(tmp_path, NULL, &m);
    CHECK_MSG(st == want, "%s: status %s (%s), expected %s", what, ffl_status_name(st), ffl_last_error(),
              ffl_status_name(want));
    if (st != FFL_OK) {
        CHECK(m == NULL);
        CHECK_MSG(strlen(ffl_last_error()) > 10, "%s: no error message", what);
        printf("  %-40s -> %s: %s\n", what, ffl_status_name(st), ffl_last_error());
        return;
    }
    /* valid variants must also run */
    ffl_session *s = NULL;
    CHECK(ffl_session_new(m, NULL, &s) == FFL_OK);
    int32_t toks[3] = {1, 403, 407};
    CHECK(ffl_session_decode(s, toks, NULL, NULL, NULL, 3) == FFL_OK);
    CHECK(ffl_session_logits(s, -1) != NULL);
    ffl_session_free(s);
    ffl_model_free(m);
}

static int32_t progress_calls;
static int32_t cancel_progress(float fraction, void *ud) {
    (void)ud;
    (void)fraction;
    return ++progress_calls >= 2;
}
static int32_t count_progress(float fraction, void *ud) {
    float *last = ud;
    CHECK(fraction >= *last && fraction <= 1.0f);
    *last = fraction;
    progress_calls++;
    return 0;
}

int main(void) {
    char src_path[1024];
    testdata_path(src_path, sizeof src_path, "models/stories260K-f32.gguf");
    ffl_gguf *g = NULL;
    CHECK_MSG(ffl_gguf_open(src_path, 0, &g) == FFL_OK, "%s", ffl_last_error());
    if (!g) return test_finish("test_model_load");
    g_src = g;
    snprintf(tmp_path, sizeof tmp_path, "/tmp/ffl_model_load_%d.gguf", (int)getpid());

    expect("unchanged copy", &(variant){0}, FFL_OK);
    expect("tied output (no output.weight)", &(variant){.drop_tensor = "output.weight"}, FFL_OK);
    expect("head_count 0", &(variant){.int_key = "llama.attention.head_count", .int_value = 0}, FFL_ERR_FORMAT);
    expect("head_count 7 (64 not divisible)", &(variant){.int_key = "llama.attention.head_count", .int_value = 7},
           FFL_ERR_FORMAT);
    expect("head_count 16 (q shape mismatch)", &(variant){.int_key = "llama.attention.head_count", .int_value = 16},
           FFL_ERR_FORMAT);
    expect("head_count_kv 3", &(variant){.int_key = "llama.attention.head_count_kv", .int_value = 3}, FFL_ERR_FORMAT);
    expect("head_count_kv 0", &(variant){.int_key = "llama.attention.head_count_kv", .int_value = 0}, FFL_ERR_FORMAT);
    expect("embedding_length 0", &(variant){.int_key = "llama.embedding_length", .int_value = 0}, FFL_ERR_FORMAT);
    expect("embedding_length 128", &(variant){.int_key = "llama.embedding_length", .int_value = 128}, FFL_ERR_FORMAT);
    expect("block_count 6 (tensors missing)", &(variant){.int_key = "llama.block_count", .int_value = 6},
           FFL_ERR_FORMAT);
    expect("block_count 4000000000", &(variant){.int_key = "llama.block_count", .int_value = 4000000000u},
           FFL_ERR_FORMAT);
    expect("feed_forward_length 173", &(variant){.int_key = "llama.feed_forward_length", .int_value = 173},
           FFL_ERR_FORMAT);
    expect("rope.dimension_count 7", &(variant){.int_key = "llama.rope.dimension_count", .int_value = 7},
           FFL_ERR_FORMAT);
    expect("rope.dimension_count 64", &(variant){.int_key = "llama.rope.dimension_count", .int_value = 64},
           FFL_ERR_FORMAT);
    expect("head_count as a string", &(variant){.str_key = "llama.attention.head_count", .str_value = "8"},
           FFL_ERR_FORMAT);
    expect("rope scaling 'longrope'", &(variant){.str_key = "llama.rope.scaling.type", .str_value = "longrope"},
           FFL_ERR_UNSUPPORTED);
    expect("rope scaling 'yarn'", &(variant){.str_key = "llama.rope.scaling.type", .str_value = "yarn"}, FFL_OK);
    expect("no rms epsilon", &(variant){.drop_key = "llama.attention.layer_norm_rms_epsilon"}, FFL_ERR_FORMAT);
    expect("no context_length", &(variant){.drop_key = "llama.context_length"}, FFL_ERR_FORMAT);
    expect("no architecture", &(variant){.drop_key = "general.architecture"}, FFL_ERR_FORMAT);
    expect("architecture 'gpt5'", &(variant){.str_key = "general.architecture", .str_value = "gpt5"},
           FFL_ERR_UNSUPPORTED);
    expect("expert_count 4 on a dense model", &(variant){.int_key = "llama.expert_count", .int_value = 4},
           FFL_ERR_FORMAT);
    expect("missing blk.2.ffn_up.weight", &(variant){.drop_tensor = "blk.2.ffn_up.weight"}, FFL_ERR_FORMAT);
    expect("missing token_embd.weight", &(variant){.drop_tensor = "token_embd.weight"}, FFL_ERR_FORMAT);
    expect("missing output_norm.weight", &(variant){.drop_tensor = "output_norm.weight"}, FFL_ERR_FORMAT);
    expect("attn_q shaped like attn_k",
           &(variant){.swap_tensor = "blk.0.attn_q.weight", .swap_with = "blk.0.attn_k.weight"}, FFL_ERR_FORMAT);
    expect("ffn_down shaped like ffn_up",
           &(variant){.swap_tensor = "blk.4.ffn_down.weight", .swap_with = "blk.4.ffn_up.weight"}, FFL_ERR_FORMAT);
    expect("norm weight stored as f16", &(variant){.f16_tensor = "blk.1.attn_norm.weight"}, FFL_ERR_UNSUPPORTED);
    expect("attn_v stored as f16", &(variant){.f16_tensor = "blk.1.attn_v.weight"}, FFL_OK);

    /* qwen2: Q/K/V biases are required */
    char other[1024];
    testdata_path(other, sizeof other, "models/qwen2-f32.gguf");
    ffl_gguf *gq = NULL;
    CHECK(ffl_gguf_open(other, 0, &gq) == FFL_OK);
    if (gq) {
        g_src = gq;
        expect("qwen2 copy", &(variant){0}, FFL_OK);
        expect("qwen2 without blk.1.attn_k.bias", &(variant){.drop_tensor = "blk.1.attn_k.bias"}, FFL_ERR_FORMAT);
        expect("qwen2 with experts", &(variant){.int_key = "qwen2.expert_count", .int_value = 2}, FFL_ERR_UNSUPPORTED);
        ffl_gguf_close(gq);
    }
    /* mixture of experts */
    testdata_path(other, sizeof other, "models/llama-moe-q8_0.gguf");
    ffl_gguf *gm = NULL;
    CHECK(ffl_gguf_open(other, 0, &gm) == FFL_OK);
    if (gm) {
        g_src = gm;
        expect("moe copy", &(variant){0}, FFL_OK);
        expect("moe expert_used_count 5 > 4", &(variant){.int_key = "llama.expert_used_count", .int_value = 5},
               FFL_ERR_FORMAT);
        expect("moe expert_used_count 0", &(variant){.int_key = "llama.expert_used_count", .int_value = 0},
               FFL_ERR_FORMAT);
        expect("moe expert_count 3", &(variant){.int_key = "llama.expert_count", .int_value = 3}, FFL_ERR_FORMAT);
        expect("moe expert_count 0 (dense tensors missing)", &(variant){.int_key = "llama.expert_count", .int_value = 0},
               FFL_ERR_FORMAT);
        expect("moe without router", &(variant){.drop_tensor = "blk.1.ffn_gate_inp.weight"}, FFL_ERR_FORMAT);
        expect("moe up_exps shaped like down_exps",
               &(variant){.swap_tensor = "blk.0.ffn_up_exps.weight", .swap_with = "blk.0.ffn_down_exps.weight"},
               FFL_ERR_FORMAT);
        ffl_gguf_close(gm);
    }
    g_src = g;

    /* progress callback: monotone, ends at 1; cancelling aborts the load */
    ffl_model_params mp;
    ffl_model_default_params(&mp);
    CHECK(mp.use_mmap == 1);
    float last = 0;
    mp.progress = count_progress;
    mp.progress_user_data = &last;
    ffl_model *m = NULL;
    progress_calls = 0;
    CHECK(ffl_model_load(src_path, &mp, &m) == FFL_OK);
    CHECK(progress_calls >= 2 && last == 1.0f);
    ffl_model_free(m);
    mp.progress = cancel_progress;
    progress_calls = 0;
    m = NULL;
    CHECK(ffl_model_load(src_path, &mp, &m) == FFL_ERR_ABORTED && m == NULL);
    /* read into memory instead of mapping */
    ffl_model_default_params(&mp);
    mp.use_mmap = 0;
    CHECK(ffl_model_load(src_path, &mp, &m) == FFL_OK);
    ffl_model_free(m);
    CHECK(ffl_model_load("/nonexistent/x.gguf", NULL, &m) == FFL_ERR_IO);
    CHECK(ffl_model_load(NULL, NULL, &m) == FFL_ERR_INVALID_ARGUMENT);
    ffl_model_free(NULL);

    unlink(tmp_path);
    ffl_gguf_close(g);
    return test_finish("test_model_load");
}
