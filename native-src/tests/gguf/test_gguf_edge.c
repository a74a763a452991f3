/* Edge cases of the GGUF reader (header-only files, zero-size tensors, every value type, realigned
 * arrays, special files) and of the writer (exact round trips, alignment rules, refusals, and a
 * failed write leaving neither a partial file nor a temp file behind). */
#include "fflama.h"
#include "gguf_test_image.h"
#include "test_util.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[256];

static void make_tmpdir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ffl_gguf_edge_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        exit(1);
    }
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    char p[512];
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (rmdir(p) != 0) unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* ---- reader ---- */

static int ffl_gguf_last_status_is_range(void) { return ffl_last_status() == FFL_ERR_OUT_OF_RANGE; }

static void header_only(void) {
    gbuf b = {0};
    gb_header(&b, 3, 0, 0);
    ffl_gguf *g = NULL;
    CHECK_MSG(ffl_gguf_open_memory(b.p, b.n, &g) == FFL_OK, "%s", ffl_last_error());
    if (g) {
        CHECK(ffl_gguf_kv_count(g) == 0 && ffl_gguf_tensor_count(g) == 0);
        CHECK(ffl_gguf_alignment(g) == 32);
        CHECK(ffl_gguf_data_offset(g) == 24); /* the padding may be missing when nothing follows */
        CHECK(ffl_gguf_find_key(g, "general.architecture") == -1 && ffl_gguf_find_tensor(g, "x") == -1);
        CHECK(ffl_gguf_kv_key(g, 0) == NULL && ffl_gguf_last_status_is_range());
        CHECK(check_parsed(g, b.n));
        ffl_gguf_close(g);
    }
    /* the same through a real file, mapped and read */
    char path[512];
    snprintf(path, sizeof path, "%s/header.gguf", tmpdir);
    write_bytes(path, b.p, b.n);
    for (int flags = 0; flags <= FFL_GGUF_NO_MMAP; flags += FFL_GGUF_NO_MMAP) {
        g = NULL;
        CHECK_MSG(ffl_gguf_open(path, flags, &g) == FFL_OK, "%s", ffl_last_error());
        CHECK(g && ffl_gguf_version(g) == 3 && ffl_gguf_file_size(g) == 24);
        ffl_gguf_close(g);
    }
    unlink(path);
    /* v2 has the same layout */
    wr32(b.p + 4, 2);
    g = NULL;
    CHECK(ffl_gguf_open_memory(b.p, b.n, &g) == FFL_OK && ffl_gguf_version(g) == 2);
    ffl_gguf_close(g);
    /* every shorter prefix fails, naming an offset */
    for (size_t n = 0; n < b.n; n++) {
        g = (ffl_gguf *)&b;
        int st = ffl_gguf_open_memory(b.p, n, &g);
        CHECK(st == FFL_ERR_FORMAT && g == NULL && strstr(ffl_last_error(), "offset"));
    }
    /* big-endian files are recognised as such */
    wr32(b.p + 4, 0x03000000u);
    CHECK(ffl_gguf_open_memory(b.p, b.n, &g) == FFL_ERR_UNSUPPORTED && strstr(ffl_last_error(), "big-endian"));
    wr32(b.p + 4, 1);
    CHECK(ffl_gguf_open_memory(b.p, b.n, &g) == FFL_ERR_UNSUPPORTED && strstr(ffl_last_error(), "version 1"));
    CHECK(ffl_gguf_open_memory(NULL, 10, &g) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_gguf_open_memory(b.p, b.n, NULL) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_gguf_open_memory(NULL, 0, &g) == FFL_ERR_FORMAT && g == NULL);
    free(b.p);
}

/* Only kvs, or only tensors. */
static void one_sided(void) {
    gbuf b = {0};
    gb_header(&b, 3, 0, 1);
    gb_kv_u32(&b, "a", 1);
    ffl_gguf *g = NULL;
    CHECK(ffl_gguf_open_memory(b.p, b.n, &g) == FFL_OK && ffl_gguf_kv_count(g) == 1 && ffl_gguf_data_offset(g) == b.n);
    ffl_gguf_close(g);
    free(b.p);

    b = (gbuf){0};
    gb_header(&b, 3, 1, 0);
    gb_cstr(&b, "t");
    gb_u32(&b, 1);
    gb_u64(&b, 4);
    gb_u32(&b, FFL_TYPE_F32);
    gb_u64(&b, 0);
    gb_pad(&b, 32);
    float data[4] = {1, 2, 3, 4};
    gb_put(&b, data, sizeof data);
    g = NULL;
    CHECK_MSG(ffl_gguf_open_memory(b.p, b.n, &g) == FFL_OK, "%s", ffl_last_error());
    ffl_tensor_info t;
    CHECK(g && ffl_gguf_tensor_info(g, 0, &t) == FFL_OK && t.offset == 64 && t.n_bytes == 16 &&
          memcmp(t.data, data, 16) == 0);
    ffl_gguf_close(g);
    /* a tensor whose data would start in the missing padding */
    CHECK(ffl_gguf_open_memory(b.p, 60, &g) == FFL_ERR_FORMAT && strstr(ffl_last_error(), "offset 64"));
    free(b.p);
}

static void every_value(void) {
    gbuf b = build_synthetic(64);
    ffl_gguf *g = NULL;
    CHECK_MSG(ffl_gguf_open_memory(b.p, b.n, &g) == FFL_OK, "%s", ffl_last_error());
    if (!g) return;
    CHECK(check_parsed(g, b.n));
    CHECK(ffl_gguf_alignment(g) == 64 && ffl_gguf_data_offset(g) % 64 == 0);
    int64_t v;
    double d;
    const char *s;
    uint64_t len;
#define KEY(k) ffl_gguf_find_key(g, k)
    CHECK(ffl_gguf_kv_get_int(g, KEY("t.u8"), &v) == FFL_OK && v == 200);
    CHECK(ffl_gguf_kv_get_int(g, KEY("t.i8"), &v) == FFL_OK && v == -128);
    CHECK(ffl_gguf_kv_get_int(g, KEY("t.u16"), &v) == FFL_OK && v == 0x1234);
    CHECK(ffl_gguf_kv_get_int(g, KEY("t.i16"), &v) == FFL_OK && v == -1);
    CHECK(ffl_gguf_kv_get_int(g, KEY("t.u32"), &v) == FFL_OK && v == 0xdeadbeefll);
    CHECK(ffl_gguf_kv_get_int(g, KEY("t.i32"), &v) == FFL_OK && v == -7);
    CHECK(ffl_gguf_kv_get_float(g, KEY("t.f32"), &d) == FFL_OK && d == 1.5);
    CHECK(ffl_gguf_kv_get_int(g, KEY("t.f32"), &v) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_gguf_kv_get_int(g, KEY("t.bool"), &v) == FFL_OK && v == 1);
    CHECK(ffl_gguf_kv_get_int(g, KEY("t.u64"), &v) == FFL_ERR_OUT_OF_RANGE);
    CHECK(ffl_gguf_kv_get_float(g, KEY("t.u64"), &d) == FFL_OK && d == 18446744073709551615.0);
    CHECK(ffl_gguf_kv_get_int(g, KEY("t.i64"), &v) == FFL_OK && v == INT64_MIN);
    CHECK(ffl_gguf_kv_get_float(g, KEY("t.f64"), &d) == FFL_OK && d == 2.5);
    CHECK(ffl_gguf_kv_get_string(g, KEY("t.str_nul"), &s, &len) == FFL_OK && len == 3 && memcmp(s, "a\0b", 4) == 0);
    CHECK(ffl_gguf_kv_get_string(g, KEY("t.str_empty"), &s, &len) == FFL_OK && len == 0 && s[0] == 0);
    CHECK(ffl_gguf_kv_get_string(g, KEY("t.u8"), &s, &len) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_gguf_get_int_or(g, "t.u32", 0) == 0xdeadbeefll && ffl_gguf_get_int_or(g, "t.str_nul", 9) == 9);
    CHECK(ffl_gguf_get_float_or(g, "t.f32", 0) == 1.5 && ffl_gguf_get_float_or(g, "missing", 3) == 3);
    CHECK(strcmp(ffl_gguf_get_string_or(g, "general.architecture", ""), "llama") == 0);
    const void *data;
    int64_t i = KEY("t.arr_u8");
    CHECK(ffl_gguf_kv_array_type(g, i) == FFL_GGUF_UINT8 && ffl_gguf_kv_array_length(g, i) == 3);
    CHECK(ffl_gguf_kv_get_array_data(g, i, &data) == FFL_OK && memcmp(data, "\1\2\3", 3) == 0);
    i = KEY("t.arr_f32");
    CHECK(ffl_gguf_kv_get_array_data(g, i, &data) == FFL_OK && (uintptr_t)data % 4 == 0);
    if ((uintptr_t)data % 4 == 0) {
        const float *f = data; /* read in place: the reader promised alignment */
        CHECK(f[0] == 1 && f[1] == 2 && f[2] == 3);
    }
    i = KEY("t.arr_i64");
    CHECK(ffl_gguf_kv_get_array_data(g, i, &data) == FFL_OK && (uintptr_t)data % 8 == 0);
    if ((uintptr_t)data % 8 == 0) CHECK(((const int64_t *)data)[0] == 5 && ((const int64_t *)data)[1] == -5);
    CHECK(ffl_gguf_kv_array_length(g, KEY("t.arr_empty")) == 0);
    CHECK(ffl_gguf_kv_array_length(g, KEY("t.u8")) == -1 && ffl_gguf_kv_array_type(g, KEY("t.u8")) == -1);
    i = KEY("t.arr_str");
    CHECK(ffl_gguf_kv_array_type(g, i) == FFL_GGUF_STRING && ffl_gguf_kv_array_length(g, i) == 4);
    CHECK(ffl_gguf_kv_get_array_string(g, i, 0, &s, &len) == FFL_OK && len == 3 && strcmp(s, "<s>") == 0);
    CHECK(ffl_gguf_kv_get_array_string(g, i, 1, &s, &len) == FFL_OK && len == 0);
    CHECK(ffl_gguf_kv_get_array_string(g, i, 3, &s, &len) == FFL_OK && len == 3 && memcmp(s, "x\0y", 4) == 0);
    CHECK(ffl_gguf_kv_get_array_string(g, i, -1, &s, &len) == FFL_ERR_OUT_OF_RANGE);
    CHECK(ffl_gguf_kv_get_array_data(g, i, &data) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_gguf_kv_array_length(g, KEY("t.arr_str_empty")) == 0);
    CHECK(ffl_gguf_kv_get_array_string(g, KEY("t.arr_str_empty"), 0, &s, &len) == FFL_ERR_OUT_OF_RANGE);
#undef KEY
    ffl_tensor_info t;
    int64_t e = ffl_gguf_find_tensor(g, "empty");
    CHECK(e >= 0 && ffl_gguf_tensor_info(g, e, &t) == FFL_OK && t.n_bytes == 0 && t.ne0 == 0 && t.ne1 == 4);
    int64_t f4 = ffl_gguf_find_tensor(g, "four.dims");
    CHECK(f4 >= 0 && ffl_gguf_tensor_info(g, f4, &t) == FFL_OK && t.n_dims == 4 && t.ne3 == 2 && t.n_bytes == 4 * 34);
    CHECK(t.offset % 64 == 0 && ((const uint8_t *)t.data)[1] == 7 * 1 + 3);
    CHECK(ffl_gguf_find_tensor(g, "four.dim") == -1 && ffl_gguf_find_tensor(g, "four.dimsx") == -1);
    CHECK(ffl_gguf_tensor_info(g, -1, &t) == FFL_ERR_OUT_OF_RANGE && ffl_gguf_tensor_info(NULL, 0, &t) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_gguf_tensor_data(g, 99) == NULL);
    ffl_gguf_close(g);
    free(b.p);
}

static void bad_structures(void) {
    /* nested array */
    gbuf b = {0};
    gb_header(&b, 3, 0, 1);
    gb_cstr(&b, "outer");
    gb_u32(&b, FFL_GGUF_ARRAY);
    gb_u32(&b, FFL_GGUF_ARRAY);
    gb_u64(&b, 1);
    gb_u32(&b, FFL_GGUF_UINT8);
    gb_u64(&b, 0);
    ffl_gguf *g = NULL;
    CHECK(ffl_gguf_open_memory(b.p, b.n, &g) == FFL_ERR_FORMAT && strstr(ffl_last_error(), "nested") &&
          strstr(ffl_last_error(), "'outer'") && strstr(ffl_last_error(), "offset 24"));
    free(b.p);
    /* duplicate key, both offsets named */
    b = (gbuf){0};
    gb_header(&b, 3, 0, 3);
    gb_kv_u32(&b, "k", 1);
    gb_kv_u32(&b, "j", 1);
    gb_kv_u32(&b, "k", 2);
    CHECK(ffl_gguf_open_memory(b.p, b.n, &g) == FFL_ERR_FORMAT && strstr(ffl_last_error(), "duplicate metadata key 'k'") &&
          strstr(ffl_last_error(), "offsets 24 and 58"));
    free(b.p);
    /* duplicate tensor name */
    b = (gbuf){0};
    gb_header(&b, 3, 2, 0);
    for (int k = 0; k < 2; k++) {
        gb_cstr(&b, "w");
        gb_u32(&b, 1);
        gb_u64(&b, 1);
        gb_u32(&b, FFL_TYPE_F32);
        gb_u64(&b, 0);
    }
    gb_pad(&b, 32);
    gb_u32(&b, 0);
    CHECK(ffl_gguf_open_memory(b.p, b.n, &g) == FFL_ERR_FORMAT && strstr(ffl_last_error(), "duplicate tensor name 'w'"));
    free(b.p);
    /* element count overflow across dimensions, and a row that is not whole blocks */
    b = (gbuf){0};
    gb_header(&b, 3, 1, 0);
    gb_cstr(&b, "big");
    gb_u32(&b, 3);
    gb_u64(&b, 1ull << 32);
    gb_u64(&b, 1ull << 32);
    gb_u64(&b, 1ull << 32);
    gb_u32(&b, FFL_TYPE_F32);
    gb_u64(&b, 0);
    CHECK(ffl_gguf_open_memory(b.p, b.n, &g) == FFL_ERR_FORMAT && strstr(ffl_last_error(), "'big'") &&
          strstr(ffl_last_error(), "overflow"));
    wr64(b.p + 24 + 8 + 3 + 4, 33); /* ne0 of a q4_0 tensor must be a multiple of 32 */
    wr64(b.p + 24 + 8 + 3 + 12, 0);
    wr32(b.p + b.n - 12, FFL_TYPE_Q4_0);
    CHECK(ffl_gguf_open_memory(b.p, b.n, &g) == FFL_ERR_FORMAT && strstr(ffl_last_error(), "multiple of q4_0"));
    free(b.p);
    /* a huge claimed count in a small file fails at once, without allocating for it */
    b = (gbuf){0};
    gb_header(&b, 3, 0, 1);
    gb_cstr(&b, "tokens");
    gb_u32(&b, FFL_GGUF_ARRAY);
    gb_u32(&b, FFL_GGUF_STRING);
    gb_u64(&b, 1ull << 40);
    clock_t t0 = clock();
    CHECK(ffl_gguf_open_memory(b.p, b.n, &g) == FFL_ERR_FORMAT && strstr(ffl_last_error(), "'tokens'"));
    wr32(b.p + b.n - 12, FFL_GGUF_FLOAT64);
    CHECK(ffl_gguf_open_memory(b.p, b.n, &g) == FFL_ERR_FORMAT && strstr(ffl_last_error(), "'tokens'"));
    wr64(b.p + b.n - 8, (1ull << 61) + 1); /* 8 * count wraps to 8 */
    CHECK(ffl_gguf_open_memory(b.p, b.n, &g) == FFL_ERR_FORMAT);
    CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 0.5);
    free(b.p);
}

static void special_files(void) {
    ffl_gguf *g = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/fifo", tmpdir);
    CHECK(mkfifo(path, 0600) == 0);
    CHECK(ffl_gguf_open(path, 0, &g) == FFL_ERR_IO && g == NULL); /* returns at once: no writer is awaited */
    unlink(path);
    CHECK(ffl_gguf_open(tmpdir, 0, &g) == FFL_ERR_IO && strstr(ffl_last_error(), "not a regular file"));
    snprintf(path, sizeof path, "%s/empty.gguf", tmpdir);
    write_bytes(path, "", 0);
    CHECK(ffl_gguf_open(path, 0, &g) == FFL_ERR_FORMAT && strstr(ffl_last_error(), "empty"));
    unlink(path);
    snprintf(path, sizeof path, "%s/short.gguf", tmpdir);
    write_bytes(path, "GGUF\3\0\0\0", 8);
    CHECK(ffl_gguf_open(path, 0, &g) == FFL_ERR_FORMAT && strstr(ffl_last_error(), path) && strstr(ffl_last_error(), "offset 8"));
    CHECK(ffl_gguf_open(path, FFL_GGUF_NO_MMAP, &g) == FFL_ERR_FORMAT);
    unlink(path);
    CHECK(ffl_gguf_open(NULL, 0, &g) == FFL_ERR_INVALID_ARGUMENT && ffl_gguf_open(path, 0, NULL) == FFL_ERR_INVALID_ARGUMENT);
    /* NULL handles are harmless */
    ffl_gguf_close(NULL);
    CHECK(ffl_gguf_kv_count(NULL) == 0 && ffl_gguf_find_key(NULL, "a") == -1 && ffl_gguf_find_tensor(NULL, "a") == -1);
    CHECK(ffl_gguf_kv_key(NULL, 0) == NULL && ffl_gguf_get_int_or(NULL, "a", 5) == 5);
}

/* ---- writer ---- */

/* Every key, value, array and tensor of a equals b's. */
static int same_content(const ffl_gguf *a, const ffl_gguf *b) {
    int ok = 1;
#define SAME(c)                                                                       \
    do {                                                                              \
        if (!(c)) {                                                                   \
            if (ok) fprintf(stderr, "%s:%d: differs: %s\n", __FILE__, __LINE__, #c); \
            ok = 0;                                                                   \
        }                                                                             \
    } while (0)
    SAME(a->n_kv == b->n_kv && a->n_tensors == b->n_tensors && a->alignment == b->alignment);
    for (int64_t i = 0; ok && i < a->n_kv; i++) {
        const ffl_gguf_kv *x = &a->kv[i], *y = &b->kv[i];
        SAME(x->key.length == y->key.length && memcmp(x->key.data, y->key.data, x->key.length) == 0);
        SAME(x->type == y->type);
        if (x->type == FFL_GGUF_STRING) SAME(x->str.length == y->str.length && memcmp(x->str.data, y->str.data, x->str.length) == 0);
        else if (x->type != FFL_GGUF_ARRAY) SAME(memcmp(x->raw_scalar, y->raw_scalar, ffl_gguf_scalar_size(x->type)) == 0);
        else {
            SAME(x->array_type == y->array_type && x->array_count == y->array_count);
            if (!ok) break;
            if (x->array_type != FFL_GGUF_STRING)
                SAME(memcmp(x->array_data, y->array_data, x->array_count * ffl_gguf_scalar_size(x->array_type)) == 0);
            else
                for (uint64_t j = 0; j < x->array_count; j++)
                    SAME(x->array_strings[j].length == y->array_strings[j].length &&
                         memcmp(x->array_strings[j].data, y->array_strings[j].data, x->array_strings[j].length) == 0);
        }
    }
    for (int64_t i = 0; ok && i < a->n_tensors; i++) {
        ffl_tensor_info x, y;
        ffl_gguf_tensor_info(a, i, &x);
        ffl_gguf_tensor_info(b, i, &y);
        SAME(strcmp(x.name, y.name) == 0 && x.type == y.type && x.n_dims == y.n_dims && x.ne0 == y.ne0 && x.ne1 == y.ne1 &&
             x.ne2 == y.ne2 && x.ne3 == y.ne3 && x.n_bytes == y.n_bytes && x.offset == y.offset);
        SAME(memcmp(x.data, y.data, x.n_bytes) == 0);
    }
#undef SAME
    return ok;
}

/* Copies every entry and tensor of g into a new writer. */
static ffl_gguf_writer *copy_all(const ffl_gguf *g) {
    ffl_gguf_writer *w = NULL;
    CHECK(ffl_gguf_writer_new(&w) == FFL_OK);
    for (int64_t i = 0; i < ffl_gguf_kv_count(g); i++) CHECK_MSG(ffl_gguf_writer_copy_kv(w, g, i) == FFL_OK, "%s", ffl_last_error());
    for (int64_t i = 0; i < ffl_gguf_tensor_count(g); i++) {
        ffl_tensor_info t;
        ffl_gguf_tensor_info(g, i, &t);
        int64_t ne[4] = {t.ne0, t.ne1, t.ne2, t.ne3};
        CHECK_MSG(ffl_gguf_writer_add_tensor(w, t.name, t.type, t.n_dims, ne, t.data, t.n_bytes) == FFL_OK, "%s", ffl_last_error());
    }
    return w;
}

static uint8_t *slurp(const char *path, size_t *n) { return read_file(path, n); }

/* parse -> copy -> write gives back the input's bytes (llama.cpp's files included: same layout rules). */
static void round_trip_image(const char *label, const uint8_t *img, size_t n) {
    ffl_gguf *g = NULL, *back = NULL;
    CHECK_MSG(ffl_gguf_open_memory(img, n, &g) == FFL_OK, "%s: %s", label, ffl_last_error());
    if (!g) return;
    ffl_gguf_writer *w = copy_all(g);
    char path[512];
    snprintf(path, sizeof path, "%s/round.gguf", tmpdir);
    CHECK_MSG(ffl_gguf_writer_write(w, path) == FFL_OK, "%s: %s", label, ffl_last_error());
    ffl_gguf_writer_free(w);
    CHECK_MSG(ffl_gguf_open(path, 0, &back) == FFL_OK, "%s: %s", label, ffl_last_error());
    if (back) {
        CHECK_MSG(same_content(g, back), "%s: content differs after a round trip", label);
        CHECK(check_parsed(back, ffl_gguf_file_size(back)));
        ffl_gguf_close(back);
    }
    size_t m;
    uint8_t *out = slurp(path, &m);
    {
        /* files without tensors may end before the data section's padding; the writer always pads */
        int same = m >= n && memcmp(out, img, n) == 0 && m - n < ffl_gguf_alignment(g);
        for (size_t k = n; same && k < m; k++) same = out[k] == 0;
        CHECK_MSG(same && (m == n || ffl_gguf_tensor_count(g) == 0), "%s: written bytes differ (%zu vs %zu)", label, m, n);
    }
    free(out);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644); /* 0666 less the umask (022), not mkstemp's 0600 */
    unlink(path);
    CHECK(count_entries(tmpdir) == 0);
    ffl_gguf_close(g);
}

static void writer_round_trips(void) {
    for (uint32_t a = 1; a <= 4096; a *= 4) {
        gbuf b = build_synthetic(a);
        char label[64];
        snprintf(label, sizeof label, "synthetic alignment %u", a);
        round_trip_image(label, b.p, b.n);
        free(b.p);
    }
    gbuf b = {0};
    gb_header(&b, 3, 0, 0);
    gb_pad(&b, 32);
    round_trip_image("empty file", b.p, b.n);
    free(b.p);
    static const char *fixtures[] = {"models/stories260K-f32.gguf", "models/llama-dense-q4_k_m.gguf",
                                     "vocab/ggml-vocab-bert-bge.gguf"};
    for (size_t i = 0; i < sizeof fixtures / sizeof *fixtures; i++) {
        char path[1024];
        size_t n;
        uint8_t *img = read_file(testdata_path(path, sizeof path, fixtures[i]), &n);
        round_trip_image(fixtures[i], img, n);
        free(img);
    }
}

static void writer_rules(void) {
    ffl_gguf_writer *w = NULL;
    CHECK(ffl_gguf_writer_new(&w) == FFL_OK);
    uint32_t a = 3;
    uint64_t a64 = 64;
    CHECK(ffl_gguf_writer_set_alignment(w, 0) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_gguf_writer_set_alignment(w, 48) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_gguf_writer_set_scalar(w, "general.alignment", FFL_GGUF_UINT32, &a) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_gguf_writer_set_scalar(w, "general.alignment", FFL_GGUF_UINT64, &a64) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_gguf_writer_set_string(w, "general.alignment", "64", 2) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_gguf_writer_set_array(w, "general.alignment", FFL_GGUF_UINT32, &a, 1) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_gguf_writer_set_string_array(w, "general.alignment", NULL, NULL, 0) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_gguf_writer_set_alignment(w, 128) == FFL_OK);
    uint32_t one = 1, two = 2;
    CHECK(ffl_gguf_writer_set_scalar(w, "first", FFL_GGUF_UINT32, &one) == FFL_OK);
    CHECK(ffl_gguf_writer_set_string(w, "second", "x", 1) == FFL_OK);
    CHECK(ffl_gguf_writer_set_scalar(w, "first", FFL_GGUF_UINT32, &two) == FFL_OK); /* replaced in place */
    CHECK(ffl_gguf_writer_set_scalar(w, "bad", 99, &one) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_gguf_writer_set_scalar(w, "bad", FFL_GGUF_STRING, &one) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_gguf_writer_set_string(w, "huge", "x", UINT64_MAX) == FFL_ERR_OUT_OF_MEMORY);
    CHECK(ffl_gguf_writer_set_array(w, "huge", FFL_GGUF_UINT64, &a64, UINT64_MAX / 4) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_gguf_writer_set_array(w, "huge", FFL_GGUF_UINT8, &a64, UINT64_MAX) == FFL_ERR_OUT_OF_MEMORY);
    float data[64] = {0};
    int64_t ne[4] = {64, 1, 1, 1};
    CHECK(ffl_gguf_writer_add_tensor(w, "t", FFL_TYPE_F32, 1, ne, data, sizeof data) == FFL_OK);
    CHECK(ffl_gguf_writer_add_tensor(w, "t", FFL_TYPE_F32, 1, ne, data, sizeof data) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_gguf_writer_add_tensor(w, "u", FFL_TYPE_F32, 1, ne, data, 4) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_gguf_writer_add_tensor(w, "u", FFL_TYPE_F32, 0, ne, data, sizeof data) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_gguf_writer_add_tensor(w, "u", FFL_TYPE_F32, 5, ne, data, sizeof data) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_gguf_writer_add_tensor(w, "u", 4, 1, ne, data, sizeof data) == FFL_ERR_INVALID_ARGUMENT);
    int64_t odd[4] = {33, 1, 1, 1}, neg[4] = {-32, 1, 1, 1};
    CHECK(ffl_gguf_writer_add_tensor(w, "u", FFL_TYPE_Q4_0, 1, odd, data, 18) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_gguf_writer_add_tensor(w, "u", FFL_TYPE_Q4_0, 1, neg, data, 18) == FFL_ERR_INVALID_ARGUMENT);
    int64_t zero[4] = {32, 0, 1, 1};
    CHECK(ffl_gguf_writer_add_tensor(w, "zero", FFL_TYPE_Q4_0, 2, zero, NULL, 0) == FFL_OK);
    CHECK(ffl_gguf_writer_add_tensor(w, "last", FFL_TYPE_F32, 1, ne, data, sizeof data) == FFL_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/rules.gguf", tmpdir);
    CHECK(ffl_gguf_writer_write(w, path) == FFL_OK);
    ffl_gguf *g = NULL;
    CHECK_MSG(ffl_gguf_open(path, 0, &g) == FFL_OK, "%s", ffl_last_error());
    if (g) {
        CHECK(ffl_gguf_alignment(g) == 128 && ffl_gguf_kv_count(g) == 3);
        CHECK(strcmp(ffl_gguf_kv_key(g, 1), "first") == 0 && ffl_gguf_get_int_or(g, "first", 0) == 2);
        ffl_tensor_info t;
        CHECK(ffl_gguf_tensor_info(g, 2, &t) == FFL_OK && t.offset % 128 == 0 && strcmp(t.name, "last") == 0);
        ffl_gguf_close(g);
    }
    /* without the key the file must use the default alignment again, or readers would misplace the data */
    CHECK(ffl_gguf_writer_remove_key(w, "general.alignment") == FFL_OK);
    CHECK(ffl_gguf_writer_remove_key(w, "absent") == FFL_OK);
    CHECK(ffl_gguf_writer_write(w, path) == FFL_OK);
    g = NULL;
    CHECK_MSG(ffl_gguf_open(path, 0, &g) == FFL_OK, "%s", ffl_last_error());
    if (g) {
        ffl_tensor_info t;
        CHECK(ffl_gguf_alignment(g) == 32 && ffl_gguf_kv_count(g) == 2);
        CHECK(ffl_gguf_tensor_info(g, 2, &t) == FFL_OK && memcmp(t.data, data, sizeof data) == 0);
        ffl_gguf_close(g);
    }
    unlink(path);
    CHECK(ffl_gguf_writer_copy_kv(w, NULL, 0) == FFL_ERR_OUT_OF_RANGE);
    CHECK(ffl_gguf_writer_write(NULL, path) == FFL_ERR_INVALID_ARGUMENT && ffl_gguf_writer_write(w, NULL) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_gguf_writer_set_scalar(NULL, "k", FFL_GGUF_UINT32, &one) == FFL_ERR_INVALID_ARGUMENT);
    CHECK(ffl_gguf_writer_new(NULL) == FFL_ERR_INVALID_ARGUMENT);
    ffl_gguf_writer_free(w);
    ffl_gguf_writer_free(NULL);
}

/* A write that fails leaves the old file as it was and no temp file behind. */
static void writer_failures(void) {
    ffl_gguf_writer *w = NULL;
    CHECK(ffl_gguf_writer_new(&w) == FFL_OK);
    static uint8_t big[1 << 16];
    int64_t ne[4] = {sizeof big, 1, 1, 1};
    CHECK(ffl_gguf_writer_add_tensor(w, "big", FFL_TYPE_I8, 1, ne, big, sizeof big) == FFL_OK);

    CHECK(ffl_gguf_writer_write(w, "/nonexistent-dir/x.gguf") == FFL_ERR_IO && strstr(ffl_last_error(), "/nonexistent-dir"));

    char path[512];
    snprintf(path, sizeof path, "%s/existing.gguf", tmpdir);
    write_bytes(path, "old", 3);
    /* the file size limit makes the data write fail half way */
    struct rlimit old, small = {4096, 4096};
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
    small.rlim_max = old.rlim_max;
    signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
    int st = ffl_gguf_writer_write(w, path);
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    CHECK_MSG(st == FFL_ERR_IO, "status %d: %s", st, ffl_last_error());
    size_t n;
    uint8_t *kept = slurp(path, &n);
    CHECK(n == 3 && memcmp(kept, "old", 3) == 0);
    free(kept);
    CHECK(count_entries(tmpdir) == 1);
    /* the target is a directory: the rename fails, the temp file goes */
    char dir[512];
    snprintf(dir, sizeof dir, "%s/adir", tmpdir);
    CHECK(mkdir(dir, 0700) == 0);
    char inner[600];
    snprintf(inner, sizeof inner, "%s/f", dir);
    write_bytes(inner, "x", 1);
    CHECK(ffl_gguf_writer_write(w, dir) == FFL_ERR_IO);
    CHECK(count_entries(tmpdir) == 2);
    unlink(inner);
    rmdir(dir);
    /* and a write that succeeds replaces the old file whole */
    CHECK(ffl_gguf_writer_write(w, path) == FFL_OK);
    ffl_gguf *g = NULL;
    CHECK(ffl_gguf_open(path, 0, &g) == FFL_OK && ffl_gguf_tensor_count(g) == 1);
    ffl_gguf_close(g);
    unlink(path);
    CHECK(count_entries(tmpdir) == 0);
    ffl_gguf_writer_free(w);
}

int main(void) {
    umask(022);
    make_tmpdir();
    header_only();
    one_sided();
    every_value();
    bad_structures();
    special_files();
    writer_round_trips();
    writer_rules();
    writer_failures();
    remove_tree(tmpdir);
    return test_finish("test_gguf_edge");
}
