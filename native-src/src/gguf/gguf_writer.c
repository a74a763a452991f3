/* GGUF v3 writer: metadata and tensors collected in memory, written to a temp file and renamed. */
#include "common/ffl_internal.h"
#include "gguf/gguf_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char *key;
    int32_t type;
    uint8_t scalar[8];
    char *str;
    uint64_t str_len;
    int32_t array_type;
    uint64_t array_count;
    uint8_t *array_data;    /* numeric arrays, packed */
    char **array_strings;   /* string arrays */
    uint64_t *array_lengths;
} writer_kv;

typedef struct {
    char *name;
    int32_t type;
    int32_t n_dims;
    int64_t ne[4];
    const void *data;
    uint64_t n_bytes;
} writer_tensor;

struct ffl_gguf_writer {
    uint32_t alignment;
    writer_kv *kv;
    int64_t n_kv, cap_kv;
    writer_tensor *tensors;
    int64_t n_tensors, cap_tensors;
};

static char *copy_bytes(const char *s, uint64_t n) {
    char *p = malloc(n + 1);
    if (!p) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void free_kv(writer_kv *kv) {
    free(kv->key);
    free(kv->str);
    free(kv->array_data);
    if (kv->array_strings)
        for (uint64_t i = 0; i < kv->array_count; i++) free(kv->array_strings[i]);
    free(kv->array_strings);
    free(kv->array_lengths);
    memset(kv, 0, sizeof *kv);
}

int32_t ffl_gguf_writer_new(ffl_gguf_writer **out) {
    if (!out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: out is NULL");
    *out = calloc(1, sizeof **out);
    if (!*out) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf writer: out of memory");
    (*out)->alignment = 32;
    return FFL_OK;
}

void ffl_gguf_writer_free(ffl_gguf_writer *w) {
    if (!w) return;
    for (int64_t i = 0; i < w->n_kv; i++) free_kv(&w->kv[i]);
    for (int64_t i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    free(w->kv);
    free(w->tensors);
    free(w);
}

int32_t ffl_gguf_writer_set_alignment(ffl_gguf_writer *w, uint32_t alignment) {
    if (!w) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: handle is NULL");
    if (alignment == 0 || (alignment & (alignment - 1)))
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: alignment %u is not a power of two", alignment);
    w->alignment = alignment;
    return ffl_gguf_writer_set_scalar(w, "general.alignment", FFL_GGUF_UINT32, &alignment);
}

/* Returns the entry for key (replacing an existing one in place), or NULL after setting an error. */
static writer_kv *slot_for(ffl_gguf_writer *w, const char *key) {
    if (!w || !key) {
        ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: NULL argument");
        return NULL;
    }
    for (int64_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, key) == 0) {
            free_kv(&w->kv[i]);
            w->kv[i].key = copy_bytes(key, strlen(key));
            if (!w->kv[i].key) {
                ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf writer: out of memory");
                return NULL;
            }
            return &w->kv[i];
        }
    }
    if (w->n_kv == w->cap_kv) {
        int64_t cap = w->cap_kv ? w->cap_kv * 2 : 32;
        writer_kv *grown = realloc(w->kv, (size_t)cap * sizeof *grown);
        if (!grown) {
            ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf writer: out of memory");
            return NULL;
        }
        w->kv = grown;
        w->cap_kv = cap;
    }
    writer_kv *kv = &w->kv[w->n_kv];
    memset(kv, 0, sizeof *kv);
    kv->key = copy_bytes(key, strlen(key));
    if (!kv->key) {
        ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf writer: out of memory");
        return NULL;
    }
    w->n_kv++;
    return kv;
}

int32_t ffl_gguf_writer_remove_key(ffl_gguf_writer *w, const char *key) {
    if (!w || !key) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: NULL argument");
    for (int64_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, key) == 0) {
            free_kv(&w->kv[i]);
            memmove(&w->kv[i], &w->kv[i + 1], (size_t)(w->n_kv - i - 1) * sizeof *w->kv);
            w->n_kv--;
            return FFL_OK;
        }
    }
    return FFL_OK;
}

int32_t ffl_gguf_writer_set_scalar(ffl_gguf_writer *w, const char *key, int32_t type, const void *value) {
    uint64_t n = ffl_gguf_scalar_size(type);
    if (n == 0) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: type %d of '%s' is not a scalar", type, key ? key : "");
    if (!value) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: value is NULL");
    if (key && strcmp(key, "general.alignment") == 0) {
        uint32_t a;
        if (type != FFL_GGUF_UINT32) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: general.alignment must be uint32");
        memcpy(&a, value, 4);
        if (a == 0 || (a & (a - 1))) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: alignment %u is not a power of two", a);
        if (w) w->alignment = a;
    }
    writer_kv *kv = slot_for(w, key);
    if (!kv) return ffl_last_status();
    kv->type = type;
    memcpy(kv->scalar, value, n);
    return FFL_OK;
}

int32_t ffl_gguf_writer_set_string(ffl_gguf_writer *w, const char *key, const char *value, uint64_t length) {
    if (!value && length) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: value is NULL");
    char *copy = copy_bytes(value ? value : "", length);
    if (!copy) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf writer: out of memory");
    writer_kv *kv = slot_for(w, key);
    if (!kv) {
        free(copy);
        return ffl_last_status();
    }
    kv->type = FFL_GGUF_STRING;
    kv->str = copy;
    kv->str_len = length;
    return FFL_OK;
}

int32_t ffl_gguf_writer_set_array(ffl_gguf_writer *w, const char *key, int32_t element_type, const void *data, uint64_t count) {
    uint64_t n = ffl_gguf_scalar_size(element_type), bytes;
    if (n == 0) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: element type %d is not numeric", element_type);
    if (!ffl_mul_u64(n, count, &bytes)) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: array too large");
    if (!data && count) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: data is NULL");
    uint8_t *copy = malloc(bytes ? bytes : 1);
    if (!copy) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf writer: out of memory");
    if (bytes) memcpy(copy, data, bytes);
    writer_kv *kv = slot_for(w, key);
    if (!kv) {
        free(copy);
        return ffl_last_status();
    }
    kv->type = FFL_GGUF_ARRAY;
    kv->array_type = element_type;
    kv->array_count = count;
    kv->array_data = copy;
    return FFL_OK;
}

int32_t ffl_gguf_writer_set_string_array(ffl_gguf_writer *w, const char *key, const char **strings, const uint64_t *lengths,
                                         uint64_t count) {
    if (count && (!strings || !lengths)) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: NULL strings");
    char **copies = calloc(count ? count : 1, sizeof *copies);
    uint64_t *lens = calloc(count ? count : 1, sizeof *lens);
    if (!copies || !lens) goto oom;
    for (uint64_t i = 0; i < count; i++) {
        copies[i] = copy_bytes(strings[i] ? strings[i] : "", strings[i] ? lengths[i] : 0);
        if (!copies[i]) goto oom;
        lens[i] = strings[i] ? lengths[i] : 0;
    }
    writer_kv *kv = slot_for(w, key);
    if (!kv) {
        for (uint64_t i = 0; i < count; i++) free(copies[i]);
        free(copies);
        free(lens);
        return ffl_last_status();
    }
    kv->type = FFL_GGUF_ARRAY;
    kv->array_type = FFL_GGUF_STRING;
    kv->array_count = count;
    kv->array_strings = copies;
    kv->array_lengths = lens;
    return FFL_OK;
oom:
    if (copies)
        for (uint64_t i = 0; i < count; i++) free(copies[i]);
    free(copies);
    free(lens);
    return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf writer: out of memory");
}

int32_t ffl_gguf_writer_copy_kv(ffl_gguf_writer *w, const ffl_gguf *src, int64_t i) {
    if (!src || i < 0 || i >= src->n_kv) return ffl_fail(FFL_ERR_OUT_OF_RANGE, "gguf writer: no metadata entry %lld", (long long)i);
    const ffl_gguf_kv *kv = &src->kv[i];
    const char *key = kv->key.data;
    if (kv->type == FFL_GGUF_STRING) return ffl_gguf_writer_set_string(w, key, kv->str.data, kv->str.length);
    if (kv->type != FFL_GGUF_ARRAY) return ffl_gguf_writer_set_scalar(w, key, kv->type, kv->raw_scalar);
    if (kv->array_type != FFL_GGUF_STRING)
        return ffl_gguf_writer_set_array(w, key, kv->array_type, kv->array_data, kv->array_count);
    const char **strs = malloc((kv->array_count ? kv->array_count : 1) * sizeof *strs);
    uint64_t *lens = malloc((kv->array_count ? kv->array_count : 1) * sizeof *lens);
    if (!strs || !lens) {
        free(strs);
        free(lens);
        return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf writer: out of memory");
    }
    for (uint64_t j = 0; j < kv->array_count; j++) {
        strs[j] = kv->array_strings[j].data;
        lens[j] = kv->array_strings[j].length;
    }
    int32_t st = ffl_gguf_writer_set_string_array(w, key, strs, lens, kv->array_count);
    free(strs);
    free(lens);
    return st;
}

int32_t ffl_gguf_writer_add_tensor(ffl_gguf_writer *w, const char *name, int32_t type, int32_t n_dims, const int64_t *ne,
                                   const void *data, uint64_t n_bytes) {
    if (!w || !name || !ne || (!data && n_bytes)) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: NULL argument");
    if (n_dims < 1 || n_dims > 4) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: tensor '%s' has %d dimensions", name, n_dims);
    uint64_t rows = 1;
    for (int d = 1; d < n_dims; d++) {
        if (ne[d] < 0 || !ffl_mul_u64(rows, (uint64_t)ne[d], &rows))
            return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: tensor '%s' has a bad shape", name);
    }
    int64_t row_bytes = ne[0] < 0 ? -1 : ffl_type_row_bytes(type, ne[0]);
    uint64_t expect;
    if (row_bytes < 0 || !ffl_mul_u64(rows, (uint64_t)row_bytes, &expect))
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: tensor '%s' shape does not fit type %d", name, type);
    if (expect != n_bytes)
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: tensor '%s' has %llu bytes, its shape needs %llu", name,
                        (unsigned long long)n_bytes, (unsigned long long)expect);
    for (int64_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: duplicate tensor name '%s'", name);
    if (w->n_tensors == w->cap_tensors) {
        int64_t cap = w->cap_tensors ? w->cap_tensors * 2 : 64;
        writer_tensor *grown = realloc(w->tensors, (size_t)cap * sizeof *grown);
        if (!grown) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf writer: out of memory");
        w->tensors = grown;
        w->cap_tensors = cap;
    }
    writer_tensor *t = &w->tensors[w->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = copy_bytes(name, strlen(name));
    if (!t->name) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf writer: out of memory");
    t->type = type;
    t->n_dims = n_dims;
    for (int d = 0; d < 4; d++) t->ne[d] = d < n_dims ? ne[d] : 1;
    t->data = data;
    t->n_bytes = n_bytes;
    w->n_tensors++;
    return FFL_OK;
}

/* ---- output ---- */

typedef struct {
    FILE *f;
    uint64_t written;
    int failed;
} sink;

static void put(sink *s, const void *p, uint64_t n) {
    if (s->failed || n == 0) return;
    if (fwrite(p, 1, n, s->f) != n) s->failed = 1;
    s->written += n;
}
static void put_u32(sink *s, uint32_t v) { put(s, &v, 4); }
static void put_u64(sink *s, uint64_t v) { put(s, &v, 8); }
static void put_str(sink *s, const char *p, uint64_t n) {
    put_u64(s, n);
    put(s, p, n);
}
static void put_pad(sink *s, uint64_t alignment) {
    static const uint8_t zeros[64] = {0};
    uint64_t pad = (alignment - s->written % alignment) % alignment;
    while (pad > 0) {
        uint64_t n = pad < sizeof zeros ? pad : sizeof zeros;
        put(s, zeros, n);
        pad -= n;
    }
}

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

int32_t ffl_gguf_writer_write(ffl_gguf_writer *w, const char *path) {
    if (!w || !path) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: NULL argument");
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf writer: out of memory");
    snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
    sink s = {.f = fopen(tmp, "wb")};
    if (!s.f) {
        int32_t st = ffl_fail(FFL_ERR_IO, "gguf writer: cannot create '%s': %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    put(&s, "GGUF", 4);
    put_u32(&s, 3);
    put_u64(&s, (uint64_t)w->n_tensors);
    put_u64(&s, (uint64_t)w->n_kv);
    for (int64_t i = 0; i < w->n_kv; i++) {
        const writer_kv *kv = &w->kv[i];
        put_str(&s, kv->key, strlen(kv->key));
        put_u32(&s, (uint32_t)kv->type);
        if (kv->type == FFL_GGUF_STRING) put_str(&s, kv->str, kv->str_len);
        else if (kv->type != FFL_GGUF_ARRAY) put(&s, kv->scalar, ffl_gguf_scalar_size(kv->type));
        else {
            put_u32(&s, (uint32_t)kv->array_type);
            put_u64(&s, kv->array_count);
            if (kv->array_type == FFL_GGUF_STRING)
                for (uint64_t j = 0; j < kv->array_count; j++) put_str(&s, kv->array_strings[j], kv->array_lengths[j]);
            else put(&s, kv->array_data, kv->array_count * ffl_gguf_scalar_size(kv->array_type));
        }
    }
    uint64_t offset = 0;
    for (int64_t i = 0; i < w->n_tensors; i++) {
        const writer_tensor *t = &w->tensors[i];
        put_str(&s, t->name, strlen(t->name));
        put_u32(&s, (uint32_t)t->n_dims);
        for (int d = 0; d < t->n_dims; d++) put_u64(&s, (uint64_t)t->ne[d]);
        put_u32(&s, (uint32_t)t->type);
        put_u64(&s, offset);
        offset = align_up(offset + t->n_bytes, w->alignment);
    }
    put_pad(&s, w->alignment);
    for (int64_t i = 0; i < w->n_tensors; i++) {
        put(&s, w->tensors[i].data, w->tensors[i].n_bytes);
        put_pad(&s, w->alignment);
    }
    if (fclose(s.f) != 0) s.failed = 1;
    if (s.failed || rename(tmp, path) != 0) {
        int32_t st = ffl_fail(FFL_ERR_IO, "gguf writer: cannot write '%s': %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return st;
    }
    free(tmp);
    return FFL_OK;
}
