/* Every fixture opens; key facts match the testdata README; a written copy reads back identically. */
#include "fflama.h"
#include "test_util.h"

#include <unistd.h>

static void check_dense(void) {
    char path[1024];
    ffl_gguf *g = NULL;
    CHECK(ffl_gguf_open(testdata_path(path, sizeof path, "models/llama-dense-q4_k_m.gguf"), 0, &g) == FFL_OK);
    if (!g) return;
    CHECK(ffl_gguf_version(g) == 3);
    int64_t arch = ffl_gguf_find_key(g, "general.architecture");
    const char *s = NULL;
    CHECK(arch >= 0 && ffl_gguf_kv_get_string(g, arch, &s, NULL) == FFL_OK && strcmp(s, "llama") == 0);
    int64_t emb = ffl_gguf_find_key(g, "llama.embedding_length"), v = 0;
    CHECK(emb >= 0 && ffl_gguf_kv_get_int(g, emb, &v) == FFL_OK && v == 256);
    int64_t t = ffl_gguf_find_tensor(g, "output.weight");
    ffl_tensor_info info;
    CHECK(t >= 0 && ffl_gguf_tensor_info(g, t, &info) == FFL_OK && info.type == FFL_TYPE_Q6_K);
    CHECK(ffl_gguf_find_tensor(g, "no.such.tensor") == -1);
    int64_t toks = ffl_gguf_find_key(g, "tokenizer.ggml.tokens");
    CHECK(toks >= 0 && ffl_gguf_kv_array_length(g, toks) == 512);
    CHECK(ffl_gguf_kv_get_array_string(g, toks, 512, &s, NULL) == FFL_ERR_OUT_OF_RANGE);
    ffl_gguf_close(g);
}

/* Copies every key and tensor of a file through the writer and compares the result. */
static void check_round_trip(const char *rel) {
    char path[1024], out[1024];
    ffl_gguf *g = NULL, *back = NULL;
    CHECK(ffl_gguf_open(testdata_path(path, sizeof path, rel), 0, &g) == FFL_OK);
    if (!g) return;
    ffl_gguf_writer *w = NULL;
    CHECK(ffl_gguf_writer_new(&w) == FFL_OK);
    for (int64_t i = 0; i < ffl_gguf_kv_count(g); i++) CHECK(ffl_gguf_writer_copy_kv(w, g, i) == FFL_OK);
    for (int64_t i = 0; i < ffl_gguf_tensor_count(g); i++) {
        ffl_tensor_info t;
        CHECK(ffl_gguf_tensor_info(g, i, &t) == FFL_OK);
        int64_t ne[4] = {t.ne0, t.ne1, t.ne2, t.ne3};
        CHECK(ffl_gguf_writer_add_tensor(w, t.name, t.type, t.n_dims, ne, t.data, t.n_bytes) == FFL_OK);
    }
    snprintf(out, sizeof out, "/tmp/ffl_roundtrip_%ld.gguf", (long)getpid());
    CHECK(ffl_gguf_writer_write(w, out) == FFL_OK);
    ffl_gguf_writer_free(w);
    CHECK_MSG(ffl_gguf_open(out, FFL_GGUF_NO_MMAP, &back) == FFL_OK, "%s", ffl_last_error());
    if (back) {
        CHECK(ffl_gguf_kv_count(back) == ffl_gguf_kv_count(g));
        CHECK(ffl_gguf_tensor_count(back) == ffl_gguf_tensor_count(g));
        for (int64_t i = 0; i < ffl_gguf_kv_count(g); i++) {
            CHECK(strcmp(ffl_gguf_kv_key(g, i), ffl_gguf_kv_key(back, i)) == 0);
            CHECK(ffl_gguf_kv_type(g, i) == ffl_gguf_kv_type(back, i));
            CHECK(ffl_gguf_kv_array_length(g, i) == ffl_gguf_kv_array_length(back, i));
        }
        for (int64_t i = 0; i < ffl_gguf_tensor_count(g); i++) {
            ffl_tensor_info a, b;
            ffl_gguf_tensor_info(g, i, &a);
            ffl_gguf_tensor_info(back, i, &b);
            CHECK(strcmp(a.name, b.name) == 0 && a.type == b.type && a.n_bytes == b.n_bytes && a.ne0 == b.ne0 &&
                  a.ne1 == b.ne1 && memcmp(a.data, b.data, a.n_bytes) == 0);
        }
        ffl_gguf_close(back);
    }
    unlink(out);
    ffl_gguf_close(g);
}

int main(void) {
    static const char *files[] = {
        "models/stories260K-f32.gguf", "models/stories260K-f16.gguf", "models/stories260K-bf16.gguf",
        "models/llama-dense-f32.gguf", "models/llama-dense-q4_0.gguf", "models/llama-dense-iq4_xs.gguf",
        "models/llama-moe-q4_k_m.gguf", "models/qwen2-q8_0.gguf", "vocab/ggml-vocab-bert-bge.gguf",
        "vocab/ggml-vocab-gpt-2.gguf", "vocab/ggml-vocab-llama-spm.gguf",
    };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[1024];
        ffl_gguf *g = NULL;
        int st = ffl_gguf_open(testdata_path(path, sizeof path, files[i]), 0, &g);
        CHECK_MSG(st == FFL_OK, "%s: %s", files[i], ffl_last_error());
        ffl_gguf_close(g);
    }
    check_dense();
    check_round_trip("models/llama-dense-q4_k_m.gguf");
    check_round_trip("vocab/ggml-vocab-gpt-2.gguf");
    ffl_gguf *g = NULL;
    CHECK(ffl_gguf_open("/nonexistent/file.gguf", 0, &g) == FFL_ERR_IO && g == NULL);
    CHECK(strstr(ffl_last_error(), "/nonexistent/file.gguf") != NULL);
    return test_finish("test_gguf_fixtures");
}
