/* Load-time repacking (model/weights_repack.c): which models and tensors are repacked; that every
 * repacked matrix multiplies like the stored one up to summation order; that the logits stay within
 * the fixtures' tolerance of the stored weights' (batch and one token at a time, and after the kernel
 * level is lowered under a repacked model); and that the model's GGUF view still reads the file's own
 * bytes after their pages were released. */
#include "fflama.h"
#include "common/sysmem.h"
#include "model/model.h"
#include "quant/kernels.h"
#include "quant/repack.h"
#include "test_util.h"

#include <math.h>

static const int32_t PROMPT[] = {1, 403, 407, 261, 378, 383, 286, 261}; /* "Once upon a time there was a" */
#define N_PROMPT 8

static ffl_model *load(const char *name, int use_mmap, int repack) {
    char rel[256], path[1024];
    snprintf(rel, sizeof rel, "models/%s", name);
    testdata_path(path, sizeof path, rel);
    ffl_model_params p;
    ffl_model_default_params(&p);
    CHECK(p.use_mmap == 1 && p.repack == 1);
    p.use_mmap = use_mmap;
    p.repack = repack;
    ffl_model *m = NULL;
    const int32_t st = ffl_model_load(path, &p, &m);
    CHECK_MSG(st == FFL_OK, "load %s: %s", path, ffl_last_error());
    return m;
}

/* Number of weight tensors of the model in type t. */
static int count_type(const ffl_model *m, int32_t t) {
    int n = 0;
    for (int r = 0; r < FFL_T_GLOBAL_COUNT; r++) n += m->global[r].data && m->global[r].type == t;
    for (int il = 0; il < m->hp.n_layer; il++)
        for (int i = 0; i < FFL_T_LAYER_COUNT; i++) n += m->layers[il].t[i].data && m->layers[il].t[i].type == t;
    return n;
}

/* Each repacked matrix of a times one token of activations equals b's stored matrix up to float
 * summation order. Returns how many matrices were compared. */
static int compare_matrices(const ffl_model *a, const ffl_model *b) {
    int n = 0;
    for (int il = 0; il <= a->hp.n_layer; il++) /* the layers, then the output matrix */
        for (int i = 0; i < (il < a->hp.n_layer ? FFL_T_LAYER_COUNT : 1); i++) {
            const ffl_weight *wa = il < a->hp.n_layer ? &a->layers[il].t[i] : a->output;
            const ffl_weight *wb = il < a->hp.n_layer ? &b->layers[il].t[i] : b->output;
            if (!wa->data || wa->type == wb->type) continue;
            const int64_t cols = wa->n_cols, rows = wa->n_rows * wa->n_mats;
            float *x = malloc((size_t)cols * sizeof(float)), *ya = malloc((size_t)rows * sizeof(float)),
                  *yb = malloc((size_t)rows * sizeof(float));
            for (int64_t k = 0; k < cols; k++) x[k] = test_rndf(-1, 1);
            void *xq = malloc(ffl_activation_row_bytes(wb->type, cols));
            ffl_quantize_activations(wb->type, x, cols, xq, cols, 0, 1);
            ffl_matmul_rows(wa->type, wa->data, wa->row_bytes, xq, cols, 1, ya, rows, 0, rows);
            ffl_matmul_rows(wb->type, wb->data, wb->row_bytes, xq, cols, 1, yb, rows, 0, rows);
            double worst = 0, scale = 0;
            for (int64_t r = 0; r < rows; r++) {
                /* plain comparisons: aarch64 gcc 12 crashed vectorizing this loop written with fmax */
                const double d = fabs((double)ya[r] - yb[r]), y = fabs((double)yb[r]);
                if (d > worst) worst = d;
                if (y > scale) scale = y;
            }
            CHECK_MSG(worst <= 1e-5 * scale + 1e-6, "layer %d tensor %d (%lld x %lld): repacked differs by %.3g (largest %.3g)", il, i,
                      (long long)rows, (long long)cols, worst, scale);
            free(x), free(ya), free(yb), free(xq);
            n++;
        }
    return n;
}

/* Number of the model's weight tensors in any load-time layout. */
static int count_repacked(const ffl_model *m) {
    int n = 0;
    for (int32_t t = FFL_WTYPE_Q4_0_X16; t < FFL_WTYPE_COUNT; t++) n += count_type(m, t);
    return n;
}

static int in_own_memory(const ffl_model *m, const ffl_weight *w) {
    const uint8_t *b = m->repacked;
    return b && w->data >= b && w->data < b + m->repacked_bytes;
}

/* Logits of the prompt's last token: whole prompt in one batch, or one token per decode. */
static float *prompt_logits(const ffl_model *m, int one_by_one) {
    ffl_session_params sp;
    ffl_session_default_params(&sp);
    sp.n_ctx = 64;
    sp.n_threads = 2;
    sp.kv_type = FFL_TYPE_F32; /* as the fixtures' tolerances assume */
    ffl_session *s = NULL;
    CHECK_MSG(ffl_session_new(m, &sp, &s) == FFL_OK, "session: %s", ffl_last_error());
    if (one_by_one)
        for (int i = 0; i < N_PROMPT; i++) CHECK(ffl_session_decode(s, &PROMPT[i], NULL, NULL, NULL, 1) == FFL_OK);
    else
        CHECK(ffl_session_decode(s, PROMPT, NULL, NULL, NULL, N_PROMPT) == FFL_OK);
    const int nv = ffl_model_n_vocab(m);
    float *out = malloc((size_t)nv * sizeof(float));
    memcpy(out, ffl_session_logits(s, -1), (size_t)nv * sizeof(float));
    ffl_session_free(s);
    return out;
}

/* Only the summation order differs, but activations quantized to 8 bits between layers can turn a
 * last-bit difference into a rounding step: the fixtures' tolerance for quantized types (2e-3). */
static void check_close(const float *a, const float *b, int n, const char *what) {
    double num = 0, den = 0, worst = 0;
    for (int i = 0; i < n; i++) {
        const double d = (double)a[i] - b[i];
        num += d * d, den += (double)b[i] * b[i];
        worst = fabs(d) > worst ? fabs(d) : worst;
    }
    CHECK_MSG(num <= 2e-3 * den, "%s: NMSE %.3g (largest difference %.3g)", what, num / den, worst);
}

static void compare_logits(const ffl_model *a, const ffl_model *b, const char *what) {
    const int nv = ffl_model_n_vocab(a);
    char label[128];
    for (int mode = 0; mode < 2; mode++) {
        float *la = prompt_logits(a, mode), *lb = prompt_logits(b, mode);
        snprintf(label, sizeof label, "%s, %s", what, mode ? "one token at a time" : "prompt batch");
        check_close(la, lb, nv, label);
        free(la), free(lb);
    }
}

/* The GGUF view of a model reads the same tensor bytes as a plain open of the file. */
static void check_gguf_view(const ffl_model *m, const char *name) {
    char rel[256], path[1024];
    snprintf(rel, sizeof rel, "models/%s", name);
    testdata_path(path, sizeof path, rel);
    ffl_gguf *g = NULL;
    CHECK(ffl_gguf_open(path, 0, &g) == FFL_OK);
    const ffl_gguf *view = ffl_model_gguf(m);
    const int64_t nt = ffl_gguf_tensor_count(g);
    int same = 1;
    for (int64_t i = 0; i < nt; i++) {
        ffl_tensor_info a, b;
        CHECK(ffl_gguf_tensor_info(g, i, &a) == FFL_OK && ffl_gguf_tensor_info(view, i, &b) == FFL_OK);
        same &= a.n_bytes == b.n_bytes && memcmp(a.data, b.data, a.n_bytes) == 0;
    }
    CHECK_MSG(same, "%s: the model's GGUF view no longer reads the file's tensor bytes", name);
    ffl_gguf_close(g);
}

/* A model of a type without another layout: with huge pages every weight matrix of that kind (not
 * the token embedding, not the norms) is a byte-for-byte copy of the file's in the model's own memory,
 * in its own type; without them it stays where the file maps it. */
static void check_plain_copy(const char *name, int32_t type) {
    ffl_model *m = load(name, 1, 1), *plain = load(name, 1, 0);
    const int copy = ffl_huge_pages_available();
    int n = 0, n_type = 0;
    for (int il = 0; il <= m->hp.n_layer; il++)
        for (int i = 0; i < (il < m->hp.n_layer ? FFL_T_LAYER_COUNT : FFL_T_GLOBAL_COUNT); i++) {
            const ffl_weight *w = il < m->hp.n_layer ? &m->layers[il].t[i] : &m->global[i];
            const ffl_weight *wp = il < m->hp.n_layer ? &plain->layers[il].t[i] : &plain->global[i];
            if (!w->data) continue;
            if (w->type != wp->type) { /* a layout of its own (the Q6_K output) */
                CHECK(w->type >= FFL_WTYPE_Q4_0_X16 && in_own_memory(m, w));
                continue;
            }
            const int matrix = w->n_rows > 1 && !(il == m->hp.n_layer && i == FFL_T_TOKEN_EMBD);
            CHECK_MSG(in_own_memory(m, w) == (copy && matrix), "%s: layer %d tensor %d copied %d", name, il, i, in_own_memory(m, w));
            if (in_own_memory(m, w)) {
                CHECK_MSG(memcmp(w->data, wp->data, w->mat_bytes * (size_t)w->n_mats) == 0, "%s: layer %d tensor %d differs from the file", name, il, i);
                n++;
                n_type += w->type == type;
            }
        }
    CHECK_MSG(!copy || (n > 0 && n_type > 0), "%s: %d matrices copied, %d of them in the model's type", name, n, n_type);
    compare_logits(m, plain, name);
    check_gguf_view(m, name);
    ffl_model_free(m), ffl_model_free(plain);
}

int main(void) {
    const int32_t top = ffl_cpu_level();
    const int avx512 = top == FFL_CPU_AVX512;
    printf("cpu level %s\n", ffl_cpu_level_name(top));

    /* Q4_0 (dim 256, FFN 768: every matrix fits the layout, 768 columns end in a group of 8) */
    ffl_model *packed = load("llama-dense-q4_0.gguf", 1, 1), *plain = load("llama-dense-q4_0.gguf", 1, 0);
    ffl_model *read = load("llama-dense-q4_0.gguf", 0, 1);
    const int n_q4 = count_type(plain, FFL_TYPE_Q4_0);
    CHECK(n_q4 > 0 && plain->repacked == NULL && read->repacked == NULL && count_type(read, FFL_TYPE_Q4_0) == n_q4);
    if (avx512) {
        /* all but the token embedding, which is looked up by row in its own format */
        const int embd_q4 = plain->global[FFL_T_TOKEN_EMBD].type == FFL_TYPE_Q4_0;
        CHECK_MSG(packed->repacked != NULL && count_type(packed, FFL_WTYPE_Q4_0_X16) == n_q4 - embd_q4,
                  "repacked %d of %d Q4_0 tensors", count_type(packed, FFL_WTYPE_Q4_0_X16), n_q4);
        CHECK(packed->global[FFL_T_TOKEN_EMBD].type == plain->global[FFL_T_TOKEN_EMBD].type);
    } else { /* no layout of its own at this level: copied onto huge pages when there are any */
        CHECK((packed->repacked != NULL) == ffl_huge_pages_available() && count_type(packed, FFL_TYPE_Q4_0) == n_q4);
    }
    CHECK(ffl_model_size(packed) == ffl_model_size(plain));
    char da[128], db[128];
    ffl_model_desc(packed, da, sizeof da), ffl_model_desc(plain, db, sizeof db);
    CHECK_MSG(strcmp(da, db) == 0, "desc '%s' vs '%s'", da, db);
    CHECK(compare_matrices(packed, plain) == count_repacked(packed));
    compare_logits(packed, plain, "q4_0 repacked vs as stored");
    compare_logits(read, plain, "q4_0 read vs mapped");
    check_gguf_view(packed, "llama-dense-q4_0.gguf");

    /* a lower level under a repacked model: its scalar kernel takes over */
    if (avx512) {
        CHECK(ffl_cpu_set_level(FFL_CPU_AVX2) == FFL_OK);
        compare_logits(packed, plain, "q4_0 repacked vs as stored at avx2");
        CHECK(ffl_cpu_set_level(top) == FFL_OK);
    }
    ffl_model_free(packed), ffl_model_free(plain), ffl_model_free(read);

    /* Q8_0 */
    ffl_model *q8 = load("llama-dense-q8_0.gguf", 1, 1), *q8_plain = load("llama-dense-q8_0.gguf", 1, 0);
    const int n_q8 = count_type(q8_plain, FFL_TYPE_Q8_0) - (q8_plain->global[FFL_T_TOKEN_EMBD].type == FFL_TYPE_Q8_0);
    CHECK_MSG(count_type(q8, FFL_WTYPE_Q8_0_X16) == (avx512 ? n_q8 : 0), "repacked %d of %d Q8_0 tensors",
              count_type(q8, FFL_WTYPE_Q8_0_X16), n_q8);
    CHECK(compare_matrices(q8, q8_plain) == count_repacked(q8));
    compare_logits(q8, q8_plain, "q8_0 repacked vs as stored");
    check_gguf_view(q8, "llama-dense-q8_0.gguf");
    ffl_model_free(q8), ffl_model_free(q8_plain);

    /* Q4_K_M: Q4_K and Q6_K matrices */
    ffl_model *k4 = load("llama-dense-q4_k_m.gguf", 1, 1), *k4_plain = load("llama-dense-q4_k_m.gguf", 1, 0);
    const int n_k4 = count_type(k4_plain, FFL_TYPE_Q4_K) - (k4_plain->global[FFL_T_TOKEN_EMBD].type == FFL_TYPE_Q4_K);
    const int n_k6 = count_type(k4_plain, FFL_TYPE_Q6_K) - (k4_plain->global[FFL_T_TOKEN_EMBD].type == FFL_TYPE_Q6_K);
    CHECK(n_k4 > 0 && n_k6 > 0);
    CHECK_MSG(count_type(k4, FFL_WTYPE_Q4_K_X16) == (avx512 ? n_k4 : 0) && count_type(k4, FFL_WTYPE_Q6_K_X16) == (avx512 ? n_k6 : 0),
              "repacked %d of %d Q4_K and %d of %d Q6_K tensors", count_type(k4, FFL_WTYPE_Q4_K_X16), n_k4,
              count_type(k4, FFL_WTYPE_Q6_K_X16), n_k6);
    CHECK(compare_matrices(k4, k4_plain) == count_repacked(k4) && count_repacked(k4) == (avx512 ? n_k4 + n_k6 : 0));
    compare_logits(k4, k4_plain, "q4_k_m repacked vs as stored");
    check_gguf_view(k4, "llama-dense-q4_k_m.gguf");
    ffl_model_free(k4), ffl_model_free(k4_plain);

    /* types without a layout of their own: copied as they are onto huge pages when the system has them */
    check_plain_copy("llama-dense-q4_1.gguf", FFL_TYPE_Q4_1);
    check_plain_copy("llama-dense-f16.gguf", FFL_TYPE_F16);
    return test_finish("test_model_repack");
}
