/* libFuzzer target: parse any bytes as GGUF, then walk every accessor and copy the whole file into a
 * writer. A failed parse must leave no handle and explain itself; a successful one must satisfy
 * every reader invariant (checked by check_parsed). Any violation traps, so libFuzzer records it. */
#include "fflama.h"
#include "../gguf/gguf_test_image.h"

#include <stddef.h>
#include <stdint.h>

static void copy_into_writer(const ffl_gguf *g) {
    ffl_gguf_writer *w = NULL;
    if (ffl_gguf_writer_new(&w) != FFL_OK) return;
    /* the writer takes C strings: names holding a NUL may collide once cut there */
    int plain_names = 1;
    for (int64_t i = 0; i < g->n_tensors; i++) plain_names &= strlen(g->tensors[i].name.data) == g->tensors[i].name.length;
    for (int64_t i = 0; i < ffl_gguf_kv_count(g); i++) (void)ffl_gguf_writer_copy_kv(w, g, i);
    for (int64_t i = 0; i < ffl_gguf_tensor_count(g); i++) {
        ffl_tensor_info t;
        if (ffl_gguf_tensor_info(g, i, &t) != FFL_OK) __builtin_trap();
        int64_t ne[4] = {t.ne0, t.ne1, t.ne2, t.ne3};
        /* what the reader accepted, the writer must accept too */
        if (ffl_gguf_writer_add_tensor(w, t.name, t.type, t.n_dims, ne, t.data, t.n_bytes) != FFL_OK && plain_names)
            __builtin_trap();
    }
    ffl_gguf_writer_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ffl_gguf *g = (ffl_gguf *)(uintptr_t)1;
    int32_t st = ffl_gguf_open_memory(data, size, &g);
    if (st != FFL_OK) {
        const char *msg = ffl_last_error();
        if (g != NULL || st >= 0 || msg[0] == '\0') __builtin_trap();
        if (st != FFL_ERR_OUT_OF_MEMORY && !strstr(msg, "offset")) __builtin_trap();
        return 0;
    }
    if (!check_parsed(g, size)) __builtin_trap();
    copy_into_writer(g);
    ffl_gguf_close(g);
    return 0;
}
