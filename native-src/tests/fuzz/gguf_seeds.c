/* Writes small valid GGUF seeds for fuzz_gguf: each fixture shrunk (arrays cut to a few elements,
 * tensors cut to one row of their type, so every tensor type and every key survives), plus the
 * hand-made image of the GGUF tests. Built and run by ci/fuzz-smoke.sh; not part of the library.
 * Usage: gguf_seeds OUT_DIR FILE.gguf... */
#include "fflama.h"
#include "../gguf/gguf_test_image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEEP_ELEMENTS 12
#define KEEP_TENSORS 12

static int shrink(const char *in, const char *out) {
    ffl_gguf *g = NULL;
    ffl_gguf_writer *w = NULL;
    int st = ffl_gguf_open(in, 0, &g);
    if (st == FFL_OK) st = ffl_gguf_writer_new(&w);
    for (int64_t i = 0; st == FFL_OK && i < ffl_gguf_kv_count(g); i++) {
        const ffl_gguf_kv *kv = &g->kv[i];
        if (kv->type != FFL_GGUF_ARRAY || kv->array_count <= KEEP_ELEMENTS) {
            st = ffl_gguf_writer_copy_kv(w, g, i);
        } else if (kv->array_type != FFL_GGUF_STRING) {
            st = ffl_gguf_writer_set_array(w, kv->key.data, kv->array_type, kv->array_data, KEEP_ELEMENTS);
        } else {
            const char *s[KEEP_ELEMENTS];
            uint64_t len[KEEP_ELEMENTS];
            for (int j = 0; j < KEEP_ELEMENTS; j++) {
                s[j] = kv->array_strings[j].data;
                len[j] = kv->array_strings[j].length;
            }
            st = ffl_gguf_writer_set_string_array(w, kv->key.data, s, len, KEEP_ELEMENTS);
        }
    }
    /* one row of each tensor, preferring a new type each time */
    int seen[FFL_TYPE_COUNT] = {0}, kept = 0;
    int64_t n_tensors = ffl_gguf_tensor_count(g);
    char *added = calloc((size_t)n_tensors + 1, 1);
    for (int pass = 0; pass < 2 && added; pass++) {
        for (int64_t i = 0; st == FFL_OK && i < n_tensors && kept < KEEP_TENSORS; i++) {
            ffl_tensor_info t;
            st = ffl_gguf_tensor_info(g, i, &t);
            if (st || added[i] || (pass == 0 && seen[t.type])) continue;
            seen[t.type] = 1;
            added[i] = 1;
            int64_t ne[4] = {t.ne0, 1, 1, 1};
            int64_t row = ffl_type_row_bytes(t.type, t.ne0);
            st = ffl_gguf_writer_add_tensor(w, t.name, t.type, t.n_dims, ne, t.data, (uint64_t)row);
            kept++;
        }
    }
    free(added);
    if (st == FFL_OK) st = ffl_gguf_writer_write(w, out);
    if (st) fprintf(stderr, "gguf_seeds: %s: %s\n", in, ffl_last_error());
    ffl_gguf_writer_free(w);
    ffl_gguf_close(g);
    return st;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: gguf_seeds OUT_DIR FILE.gguf...\n");
        return 2;
    }
    char path[4096];
    int failed = 0;
    for (int i = 2; i < argc; i++) {
        const char *base = strrchr(argv[i], '/');
        snprintf(path, sizeof path, "%s/small-%s", argv[1], base ? base + 1 : argv[i]);
        failed |= shrink(argv[i], path) != FFL_OK;
    }
    for (uint32_t a = 1; a <= 64; a *= 8) {
        gbuf b = build_synthetic(a);
        snprintf(path, sizeof path, "%s/synthetic-%u.gguf", argv[1], a);
        FILE *f = fopen(path, "wb");
        failed |= !f || fwrite(b.p, 1, b.n, f) != b.n || fclose(f) != 0;
        free(b.p);
    }
    return failed;
}
