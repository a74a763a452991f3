/* Tokenizer throughput: encodes >= 1 MB of English text with each test vocabulary and prints MB/s.
 *
 *   bench_tokenizer [TEXT_FILE]
 *
 * Vocabularies come from $FFLAMA_TESTDATA/vocab (default ../shared/testdata). Without TEXT_FILE the
 * text is the English licence texts of /usr/share/common-licenses (or a built-in paragraph when that
 * folder is missing), repeated with a running number until it reaches 1 MiB. */
#include "fflama.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct {
    char *data;
    size_t len, cap;
} buffer;

static void append(buffer *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->data = realloc(b->data, b->cap);
        if (!b->data) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

static void append_file(buffer *b, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) append(b, chunk, n);
    fclose(f);
}

static const char *k_paragraph =
    "Once upon a time there was a little girl named Lily. She loved to play outside in the park with her "
    "friends, and every morning she asked her mother whether the sun would shine. \"It depends on the "
    "clouds,\" her mother said, smiling. Lily didn't mind the rain; she'd put on her yellow boots and "
    "jump into every puddle she could find, counting them: one, two, three... 42 puddles in all!\n";

static buffer english_text(const char *file) {
    buffer seed = {0}, text = {0};
    if (file) {
        append_file(&seed, file);
        if (!seed.len) {
            fprintf(stderr, "cannot read %s\n", file);
            exit(1);
        }
    } else {
        const char *dir = "/usr/share/common-licenses";
        DIR *d = opendir(dir);
        if (d) {
            struct dirent *e;
            char path[4096];
            while ((e = readdir(d)) != NULL) {
                if (e->d_name[0] == '.') continue;
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                append_file(&seed, path);
            }
            closedir(d);
        }
        if (seed.len < 1000) append(&seed, k_paragraph, strlen(k_paragraph));
    }
    for (int round = 1; text.len < (1u << 20); ++round) {
        char header[64];
        int n = snprintf(header, sizeof header, "\n\nChapter %d\n\n", round);
        append(&text, header, (size_t)n);
        append(&text, seed.data, seed.len);
    }
    free(seed.data);
    return text;
}

int main(int argc, char **argv) {
    const char *td = getenv("FFLAMA_TESTDATA");
    if (!td || !*td) td = "../shared/testdata";
    buffer text = english_text(argc > 1 ? argv[1] : NULL);
    printf("text: %.2f MB, CPU level %s\n", (double)text.len / 1e6, ffl_cpu_level_name(ffl_cpu_level()));

    static const char *const names[] = {"llama-spm", "gpt-2", "falcon", "starcoder", "mpt", "deepseek-coder", "bert-bge"};
    int32_t *tokens = malloc(sizeof(int32_t) * (text.len + 16));
    char *decoded = malloc(text.len * 2 + 16);
    if (!tokens || !decoded) return 1;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; ++k) {
        char path[4096];
        snprintf(path, sizeof path, "%s/vocab/ggml-vocab-%s.gguf", td, names[k]);
        ffl_vocab *v = NULL;
        double t0 = now();
        if (ffl_vocab_load(path, &v) != FFL_OK) {
            fprintf(stderr, "%s: %s\n", names[k], ffl_last_error());
            continue;
        }
        double t_load = now() - t0;
        double best = 1e9;
        int32_t n = 0;
        for (int rep = 0; rep < 3; ++rep) {
            t0 = now();
            n = ffl_tokenize(v, text.data, (int64_t)text.len, tokens, (int32_t)text.len + 16, 0);
            double t = now() - t0;
            if (t < best) best = t;
        }
        if (n < 0) {
            fprintf(stderr, "%s: tokenize failed: %s\n", names[k], ffl_last_error());
            ffl_vocab_free(v);
            continue;
        }
        t0 = now();
        int32_t m = ffl_detokenize(v, tokens, n, decoded, (int32_t)(text.len * 2 + 16), FFL_DETOKENIZE_REMOVE_LEADING_SPACE);
        double t_dec = now() - t0;
        int lossless = m == (int32_t)text.len && memcmp(decoded, text.data, text.len) == 0;
        printf("%-15s load %6.1f ms  encode %7.2f MB/s (%d tokens, %.2f Mtok/s)  decode %7.1f MB/s  round trip %s\n",
               names[k], t_load * 1e3, (double)text.len / best / 1e6, n, n / best / 1e6, (double)text.len / t_dec / 1e6,
               lossless ? "exact" : "differs");
        ffl_vocab_free(v);
    }
    free(tokens);
    free(decoded);
    free(text.data);
    return 0;
}
