/* GGUF v3 writer: metadata and tensors collected in memory, written to a temp file and renamed. */
#include "common/ffl_internal.h"
#include "gguf/gguf_internal.h"

#include <errno.h>
#include <fcntl.h>
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
    if (n >= (uint64_t)(SIZE_MAX / 2)) return NULL; /* n + 1 must not wrap */
    char *p = malloc((size_t)n + 1);
    if (!p) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* Frees the value, keeps the key (so an entry being replaced never loses its key). */
static void free_value(writer_kv *kv) {
    char *key = kv->key;
    free(kv->str);
    free(kv->array_data);
    if (kv->array_strings)
        for (uint64_t i = 0; i < kv->array_count; i++) free(kv->array_strings[i]);
    free(kv->array_strings);
    free(kv->array_lengths);
    memset(kv, 0, sizeof *kv);
    kv->key = key;
}

static void free_kv(writer_kv *kv) {
    free_value(kv);
    free(kv->key);
    kv->key = NULL;
}

static const char ALIGNMENT_KEY[] = "general.alignment";

/* general.alignment decides where the writer puts tensor data: only set_scalar (uint32) may set it. */
static int32_t refuse_alignment_key(const char *key, const char *how) {
    if (key && strcmp(key, ALIGNMENT_KEY) == 0)
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: %s must be a uint32 scalar, not %s", ALIGNMENT_KEY, how);
    return FFL_OK;
}

int32_t ffl_gguf_writer_new(ffl_gguf_writer **out) {
    if (!out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: out is NULL");
    *out = calloc(1, sizeof **out);
    if (!*out) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf writer: out of memory");
    (*out)->alignment = FFL_GGUF_DEFAULT_ALIGNMENT;
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
            free_value(&w->kv[i]);
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
            if (strcmp(key, ALIGNMENT_KEY) == 0) w->alignment = FFL_GGUF_DEFAULT_ALIGNMENT; /* what a reader will assume */
            free_kv(&w->kv[i]);
            memmove(&w->kv[i], &w->kv[i + 1], (size_t)(w->n_kv - i - 1) * sizeof *w->kv);
            w->n_kv--;
            return FFL_OK;
        }
    }
    return FFL_OK;
}

int32_t ffl_gguf_writer_set_scalar(ffl_gguf_writer *w, const char *key, int32_t type, const void *value) {
    if (!w || !key) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: NULL argument");
    uint64_t n = ffl_gguf_scalar_size(type);
    if (n == 0) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: type %d of '%s' is not a scalar", type, key ? key : "");
    if (!value) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: value is NULL");
    if (strcmp(key, ALIGNMENT_KEY) == 0) {
        uint32_t a;
        if (type != FFL_GGUF_UINT32) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: general.alignment must be uint32");
        memcpy(&a, value, 4);
        if (a == 0 || (a & (a - 1))) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: alignment %u is not a power of two", a);
        w->alignment = a;
    }
    writer_kv *kv = slot_for(w, key);
    if (!kv) return ffl_last_status();
    kv->type = type;
    memcpy(kv->scalar, value, (size_t)n);
    return FFL_OK;
}

int32_t ffl_gguf_writer_set_string(ffl_gguf_writer *w, const char *key, const char *value, uint64_t length) {
    if (!value && length) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: value is NULL");
    int32_t st = refuse_alignment_key(key, "a string");
    if (st) return st;
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
    int32_t st = refuse_alignment_key(key, "an array");
    if (st) return st;
    if (bytes >= (uint64_t)(SIZE_MAX / 2)) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf writer: array too large");
    uint8_t *copy = malloc(bytes ? (size_t)bytes : 1);
    if (!copy) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf writer: out of memory");
    if (bytes) memcpy(copy, data, (size_t)bytes);
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
    int32_t st = refuse_alignment_key(key, "an array");
    if (st) return st;
    if (count >= (uint64_t)(SIZE_MAX / sizeof(uint64_t))) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf writer: array too large");
    char **copies = calloc(count ? (size_t)count : 1, sizeof *copies);
    uint64_t *lens = calloc(count ? (size_t)count : 1, sizeof *lens);
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
    if (strlen(key) != kv->key.length) /* the writer's keys are C strings: it could not write this one back */
        return ffl_fail(FFL_ERR_UNSUPPORTED, "gguf writer: metadata key '%s...' holds a NUL byte", key);
    if (kv->type == FFL_GGUF_STRING) return ffl_gguf_writer_set_string(w, key, kv->str.data, kv->str.length);
    if (kv->type != FFL_GGUF_ARRAY) return ffl_gguf_writer_set_scalar(w, key, kv->type, kv->raw_scalar);
    if (kv->array_type != FFL_GGUF_STRING)
        return ffl_gguf_writer_set_array(w, key, kv->array_type, kv->array_data, kv->array_count);
    size_t n = kv->array_count ? (size_t)kv->array_count : 1; /* the reader bounded it by the file size */
    const char **strs = malloc(n * sizeof *strs);
    uint64_t *lens = malloc(n * sizeof *lens);
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
    for (int64_t i = 0; i < w->n_tensors; i++) /* linear: tensor counts are in the thousands at most */
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
    int error; /* errno of the first failure, or EIO */
} sink;

static void put(sink *s, const void *p, uint64_t n) {
    if (s->error || n == 0) return;
    if (fwrite(p, 1, (size_t)n, s->f) != n) s->error = errno ? errno : EIO;
    s->written += n;
}
static void put_u32(sink *s, uint32_t v) {
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(s, b, 4);
}
static void put_u64(sink *s, uint64_t v) {
    put_u32(s, (uint32_t)v);
    put_u32(s, (uint32_t)(v >> 32));
}
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

/* Relative offsets of every tensor in the data section; fails when they would overflow. */
static int32_t layout_tensors(const ffl_gguf_writer *w, uint64_t *offsets) {
    uint64_t offset = 0, a = w->alignment;
    for (int64_t i = 0; i < w->n_tensors; i++) {
        uint64_t end;
        offsets[i] = offset;
        if (!ffl_add_u64(offset, w->tensors[i].n_bytes, &end) || !ffl_add_u64(end, a - 1, &end))
            return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: tensor data exceeds 2^64 bytes at '%s'", w->tensors[i].name);
        offset = end / a * a;
    }
    return FFL_OK;
}

#define WRITE_BUFFER_BYTES ((size_t)2 << 20)

/* Creates "<path>.tmp.<pid>.<n>" exclusively, so concurrent writers never share a temp file. */
static FILE *create_temp(const char *path, char **tmp_out) {
    static unsigned counter;
    size_t cap = strlen(path) + 48;
    char *tmp = malloc(cap);
    if (!tmp) {
        ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf writer: out of memory");
        return NULL;
    }
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
        snprintf(tmp, cap, "%s.tmp.%ld.%u", path, (long)getpid(), n);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno == EEXIST) continue;
        if (fd < 0) break;
        FILE *f = fdopen(fd, "wb");
        if (!f) {
            int e = errno;
            close(fd);
            unlink(tmp);
            errno = e;
            break;
        }
        *tmp_out = tmp;
        return f;
    }
    ffl_fail(FFL_ERR_IO, "gguf writer: cannot create a temporary file beside '%s': %s", path, strerror(errno));
    free(tmp);
    return NULL;
}

int32_t ffl_gguf_writer_write(ffl_gguf_writer *w, const char *path) {
    if (!w || !path) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf writer: NULL argument");
    uint64_t *offsets = malloc((size_t)(w->n_tensors ? w->n_tensors : 1) * sizeof *offsets);
    if (!offsets) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf writer: out of memory");
    int32_t st = layout_tensors(w, offsets);
    if (st) {
        free(offsets);
        return st;
    }
    char *tmp = NULL;
    sink s = {.f = create_temp(path, &tmp)};
    if (!s.f) {
        free(offsets);
        return ffl_last_status();
    }
    /* With a 2 MiB buffer stdio writes whole 2 MiB-aligned pieces; the page cache keeps them as 2 MiB
     * folios, which a later mmap of the model maps with huge pages (fewer TLB misses while streaming
     * the weights). glibc ignores the size unless it is given the buffer. */
    char *buffer = malloc(WRITE_BUFFER_BYTES);
    if (buffer) (void)setvbuf(s.f, buffer, _IOFBF, WRITE_BUFFER_BYTES);
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
    for (int64_t i = 0; i < w->n_tensors; i++) {
        const writer_tensor *t = &w->tensors[i];
        put_str(&s, t->name, strlen(t->name));
        put_u32(&s, (uint32_t)t->n_dims);
        for (int d = 0; d < t->n_dims; d++) put_u64(&s, (uint64_t)t->ne[d]);
        put_u32(&s, (uint32_t)t->type);
        put_u64(&s, offsets[i]);
    }
    put_pad(&s, w->alignment);
    uint64_t data_start = s.written;
    for (int64_t i = 0; i < w->n_tensors && !s.error; i++) {
        put_pad(&s, w->alignment); /* lands exactly on data_start + offsets[i] */
        if (s.written - data_start != offsets[i]) s.error = EINVAL;
        put(&s, w->tensors[i].data, w->tensors[i].n_bytes);
    }
    if (w->n_tensors) put_pad(&s, w->alignment);
    free(offsets);
    /* flush and sync before the rename, so a crash never leaves a short file under the final name */
    if (!s.error && (fflush(s.f) != 0 || fsync(fileno(s.f)) != 0)) s.error = errno ? errno : EIO;
    if (fclose(s.f) != 0 && !s.error) s.error = errno ? errno : EIO;
    free(buffer);
    if (!s.error && rename(tmp, path) != 0) s.error = errno ? errno : EIO;
    if (s.error) {
        st = ffl_fail(FFL_ERR_IO, "gguf writer: cannot write '%s': %s", path, strerror(s.error));
        unlink(tmp);
    }
    free(tmp);
    return st;
}
