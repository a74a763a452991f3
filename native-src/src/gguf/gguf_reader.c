/* GGUF v2/v3 reader: maps the file, validates every count, length and offset before use. */
#include "common/ffl_internal.h"
#include "gguf/gguf_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_MAGIC "GGUF"
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4

/* ---- string arena: every string copied out of the file is NUL-terminated here ---- */

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    char data[];
} arena_chunk;

typedef struct {
    arena_chunk *head;
} arena;

static char *arena_alloc(arena *a, size_t n) {
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > (1u << 20) ? n : (1u << 20);
        arena_chunk *c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    char *p = a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

static void arena_free(arena *a) {
    for (arena_chunk *c = a->head; c;) {
        arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

/* ---- bounded cursor over the file image ---- */

typedef struct {
    const uint8_t *base;
    uint64_t size, pos;
    arena strings;
} cursor;

static int need(cursor *c, uint64_t n, const char *what) {
    if (n > c->size - c->pos)
        return ffl_fail(FFL_ERR_FORMAT, "gguf: %s at offset %llu needs %llu bytes but the file ends at %llu", what,
                        (unsigned long long)c->pos, (unsigned long long)n, (unsigned long long)c->size);
    return FFL_OK;
}

static int read_bytes(cursor *c, void *out, uint64_t n, const char *what) {
    int st = need(c, n, what);
    if (st) return st;
    memcpy(out, c->base + c->pos, n);
    c->pos += n;
    return FFL_OK;
}

static int read_u32(cursor *c, uint32_t *v, const char *what) { return read_bytes(c, v, 4, what); }
static int read_u64(cursor *c, uint64_t *v, const char *what) { return read_bytes(c, v, 8, what); }

static int read_string(cursor *c, ffl_gguf_str *out, const char *what) {
    uint64_t start = c->pos, len;
    int st = read_u64(c, &len, what);
    if (st) return st;
    if (len > c->size - c->pos)
        return ffl_fail(FFL_ERR_FORMAT, "gguf: %s at offset %llu has length %llu beyond the end of the file (%llu)",
                        what, (unsigned long long)start, (unsigned long long)len, (unsigned long long)c->size);
    char *s = arena_alloc(&c->strings, (size_t)len + 1);
    if (!s) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf: out of memory copying %s", what);
    memcpy(s, c->base + c->pos, len);
    s[len] = '\0';
    c->pos += len;
    out->data = s;
    out->length = len;
    return FFL_OK;
}

uint64_t ffl_gguf_scalar_size(int32_t t) {
    switch (t) {
    case FFL_GGUF_UINT8: case FFL_GGUF_INT8: case FFL_GGUF_BOOL: return 1;
    case FFL_GGUF_UINT16: case FFL_GGUF_INT16: return 2;
    case FFL_GGUF_UINT32: case FFL_GGUF_INT32: case FFL_GGUF_FLOAT32: return 4;
    case FFL_GGUF_UINT64: case FFL_GGUF_INT64: case FFL_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

const char *ffl_gguf_type_name(int32_t t) {
    static const char *names[] = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                                  "bool", "string", "array", "uint64", "int64", "float64"};
    return t >= 0 && t <= FFL_GGUF_FLOAT64 ? names[t] : "unknown";
}

/* Widens a little-endian scalar into the kv's number union. */
static void decode_scalar(ffl_gguf_kv *kv, const uint8_t *p) {
    memcpy(kv->raw_scalar, p, ffl_gguf_scalar_size(kv->type));
    switch (kv->type) {
    case FFL_GGUF_UINT8: kv->num.u64 = p[0]; break;
    case FFL_GGUF_INT8: kv->num.i64 = (int8_t)p[0]; break;
    case FFL_GGUF_BOOL: kv->num.u64 = p[0] != 0; break;
    case FFL_GGUF_UINT16: { uint16_t v; memcpy(&v, p, 2); kv->num.u64 = v; break; }
    case FFL_GGUF_INT16: { int16_t v; memcpy(&v, p, 2); kv->num.i64 = v; break; }
    case FFL_GGUF_UINT32: { uint32_t v; memcpy(&v, p, 4); kv->num.u64 = v; break; }
    case FFL_GGUF_INT32: { int32_t v; memcpy(&v, p, 4); kv->num.i64 = v; break; }
    case FFL_GGUF_FLOAT32: { float v; memcpy(&v, p, 4); kv->num.f64 = v; break; }
    case FFL_GGUF_UINT64: { uint64_t v; memcpy(&v, p, 8); kv->num.u64 = v; break; }
    case FFL_GGUF_INT64: { int64_t v; memcpy(&v, p, 8); kv->num.i64 = v; break; }
    case FFL_GGUF_FLOAT64: { double v; memcpy(&v, p, 8); kv->num.f64 = v; break; }
    default: break;
    }
}

static int read_kv(cursor *c, ffl_gguf_kv *kv, int64_t index) {
    uint64_t at = c->pos;
    int st = read_string(c, &kv->key, "metadata key");
    if (st) return st;
    uint32_t type;
    if ((st = read_u32(c, &type, "metadata value type"))) return st;
    if (type > FFL_GGUF_FLOAT64)
        return ffl_fail(FFL_ERR_FORMAT, "gguf: metadata entry %lld '%s' at offset %llu has unknown value type %u",
                        (long long)index, kv->key.data, (unsigned long long)at, type);
    kv->type = (int32_t)type;
    if (type == FFL_GGUF_STRING) return read_string(c, &kv->str, kv->key.data);
    if (type != FFL_GGUF_ARRAY) {
        uint64_t n = ffl_gguf_scalar_size(kv->type);
        if ((st = need(c, n, kv->key.data))) return st;
        decode_scalar(kv, c->base + c->pos);
        c->pos += n;
        return FFL_OK;
    }
    uint32_t elem;
    uint64_t count;
    if ((st = read_u32(c, &elem, kv->key.data))) return st;
    if ((st = read_u64(c, &count, kv->key.data))) return st;
    if (elem > FFL_GGUF_FLOAT64 || elem == FFL_GGUF_ARRAY)
        return ffl_fail(FFL_ERR_FORMAT, "gguf: array '%s' at offset %llu has unsupported element type %u",
                        kv->key.data, (unsigned long long)at, elem);
    kv->array_type = (int32_t)elem;
    kv->array_count = count;
    if (elem != FFL_GGUF_STRING) {
        uint64_t bytes;
        if (!ffl_mul_u64(count, ffl_gguf_scalar_size((int32_t)elem), &bytes) || bytes > c->size - c->pos)
            return ffl_fail(FFL_ERR_FORMAT, "gguf: array '%s' at offset %llu claims %llu elements, beyond the end of the file",
                            kv->key.data, (unsigned long long)at, (unsigned long long)count);
        kv->array_data = c->base + c->pos;
        c->pos += bytes;
        return FFL_OK;
    }
    /* every string takes at least its 8-byte length, which bounds the allocation by the file size */
    if (count > (c->size - c->pos) / 8)
        return ffl_fail(FFL_ERR_FORMAT, "gguf: string array '%s' at offset %llu claims %llu elements, beyond the end of the file",
                        kv->key.data, (unsigned long long)at, (unsigned long long)count);
    kv->array_strings = calloc(count ? count : 1, sizeof *kv->array_strings);
    if (!kv->array_strings) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf: out of memory for array '%s'", kv->key.data);
    for (uint64_t i = 0; i < count; i++)
        if ((st = read_string(c, &kv->array_strings[i], kv->key.data))) return st;
    return FFL_OK;
}

static int read_tensor_info(cursor *c, ffl_gguf_tensor *t, int64_t index) {
    uint64_t at = c->pos;
    int st = read_string(c, &t->name, "tensor name");
    if (st) return st;
    uint32_t n_dims, type;
    if ((st = read_u32(c, &n_dims, t->name.data))) return st;
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return ffl_fail(FFL_ERR_FORMAT, "gguf: tensor %lld '%s' at offset %llu has %u dimensions (1 to %d allowed)",
                        (long long)index, t->name.data, (unsigned long long)at, n_dims, GGUF_MAX_DIMS);
    t->n_dims = (int32_t)n_dims;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        uint64_t ne;
        if ((st = read_u64(c, &ne, t->name.data))) return st;
        if (ne > (uint64_t)INT64_MAX)
            return ffl_fail(FFL_ERR_FORMAT, "gguf: tensor '%s' dimension %u is %llu, out of range", t->name.data, d,
                            (unsigned long long)ne);
        t->ne[d] = (int64_t)ne;
    }
    if ((st = read_u32(c, &type, t->name.data))) return st;
    int64_t block = ffl_type_block_size((int32_t)type);
    if (block == 0)
        return ffl_fail(FFL_ERR_FORMAT, "gguf: tensor '%s' at offset %llu has unknown type %u", t->name.data,
                        (unsigned long long)at, type);
    t->type = (int32_t)type;
    if (t->ne[0] % block != 0)
        return ffl_fail(FFL_ERR_FORMAT, "gguf: tensor '%s' has rows of %lld elements, not a multiple of %s's block of %lld",
                        t->name.data, (long long)t->ne[0], ffl_type_name(t->type), (long long)block);
    uint64_t rows = 1;
    for (int d = 1; d < GGUF_MAX_DIMS; d++)
        if (!ffl_mul_u64(rows, (uint64_t)t->ne[d], &rows))
            return ffl_fail(FFL_ERR_FORMAT, "gguf: tensor '%s' shape overflows", t->name.data);
    int64_t row_bytes = ffl_type_row_bytes(t->type, t->ne[0]);
    if (row_bytes < 0 || !ffl_mul_u64(rows, (uint64_t)row_bytes, &t->n_bytes))
        return ffl_fail(FFL_ERR_FORMAT, "gguf: tensor '%s' byte size overflows", t->name.data);
    return read_u64(c, &t->rel_offset, t->name.data);
}

static int compare_tensor_names(const void *a, const void *b, void *ctx) {
    const ffl_gguf *g = ctx;
    const ffl_gguf_str *x = &g->tensors[*(const int64_t *)a].name, *y = &g->tensors[*(const int64_t *)b].name;
    uint64_t n = x->length < y->length ? x->length : y->length;
    int r = memcmp(x->data, y->data, n);
    if (r) return r;
    return x->length < y->length ? -1 : x->length > y->length;
}

static int compare_keys(const void *a, const void *b) {
    const ffl_gguf_kv *x = *(ffl_gguf_kv *const *)a, *y = *(ffl_gguf_kv *const *)b;
    uint64_t n = x->key.length < y->key.length ? x->key.length : y->key.length;
    int r = memcmp(x->key.data, y->key.data, n);
    if (r) return r;
    return x->key.length < y->key.length ? -1 : x->key.length > y->key.length;
}

static int check_alignment(ffl_gguf *g) {
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    int64_t i = ffl_gguf_find_key(g, "general.alignment");
    if (i < 0) return FFL_OK;
    const ffl_gguf_kv *kv = &g->kv[i];
    if (kv->type != FFL_GGUF_UINT32)
        return ffl_fail(FFL_ERR_FORMAT, "gguf: general.alignment has type %s, expected uint32", ffl_gguf_type_name(kv->type));
    uint64_t a = kv->num.u64;
    if (a == 0 || (a & (a - 1)) != 0)
        return ffl_fail(FFL_ERR_FORMAT, "gguf: general.alignment %llu is not a power of two", (unsigned long long)a);
    g->alignment = a;
    return FFL_OK;
}

static int check_unique(ffl_gguf *g) {
    if (g->n_kv > 1) {
        ffl_gguf_kv **order = malloc((size_t)g->n_kv * sizeof *order);
        if (!order) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf: out of memory");
        for (int64_t i = 0; i < g->n_kv; i++) order[i] = &g->kv[i];
        qsort(order, (size_t)g->n_kv, sizeof *order, compare_keys);
        for (int64_t i = 1; i < g->n_kv; i++) {
            if (compare_keys(&order[i - 1], &order[i]) == 0) {
                int st = ffl_fail(FFL_ERR_FORMAT, "gguf: duplicate metadata key '%s'", order[i]->key.data);
                free(order);
                return st;
            }
        }
        free(order);
    }
    g->sorted_tensors = malloc((size_t)(g->n_tensors ? g->n_tensors : 1) * sizeof *g->sorted_tensors);
    if (!g->sorted_tensors) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf: out of memory");
    for (int64_t i = 0; i < g->n_tensors; i++) g->sorted_tensors[i] = i;
    qsort_r(g->sorted_tensors, (size_t)g->n_tensors, sizeof *g->sorted_tensors, compare_tensor_names, g);
    for (int64_t i = 1; i < g->n_tensors; i++)
        if (compare_tensor_names(&g->sorted_tensors[i - 1], &g->sorted_tensors[i], g) == 0)
            return ffl_fail(FFL_ERR_FORMAT, "gguf: duplicate tensor name '%s'", g->tensors[g->sorted_tensors[i]].name.data);
    return FFL_OK;
}

static int parse(ffl_gguf *g) {
    cursor c = {.base = g->base, .size = g->size, .pos = 0};
    int st;
    char magic[4];
    if ((st = read_bytes(&c, magic, 4, "magic"))) goto done;
    if (memcmp(magic, GGUF_MAGIC, 4) != 0) {
        st = ffl_fail(FFL_ERR_FORMAT, "gguf: bad magic at offset 0 (not a GGUF file)");
        goto done;
    }
    if ((st = read_u32(&c, &g->version, "version"))) goto done;
    if (g->version != 2 && g->version != 3) {
        if ((g->version & 0xffff) == 0 && g->version != 0)
            st = ffl_fail(FFL_ERR_UNSUPPORTED, "gguf: version field at offset 4 looks big-endian; only little-endian files are supported");
        else
            st = ffl_fail(g->version == 1 ? FFL_ERR_UNSUPPORTED : FFL_ERR_FORMAT,
                          "gguf: version %u at offset 4 is not supported (2 and 3 are)", g->version);
        goto done;
    }
    uint64_t n_tensors, n_kv;
    if ((st = read_u64(&c, &n_tensors, "tensor count"))) goto done;
    if ((st = read_u64(&c, &n_kv, "metadata count"))) goto done;
    /* a metadata entry takes at least 12 bytes and a tensor entry at least 28: bound both by the file */
    if (n_kv > (g->size - c.pos) / 12) {
        st = ffl_fail(FFL_ERR_FORMAT, "gguf: metadata count %llu at offset 16 is larger than the file can hold",
                      (unsigned long long)n_kv);
        goto done;
    }
    if (n_tensors > (g->size - c.pos) / 28) {
        st = ffl_fail(FFL_ERR_FORMAT, "gguf: tensor count %llu at offset 8 is larger than the file can hold",
                      (unsigned long long)n_tensors);
        goto done;
    }
    g->kv = calloc(n_kv ? n_kv : 1, sizeof *g->kv);
    g->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *g->tensors);
    if (!g->kv || !g->tensors) {
        st = ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf: out of memory for the header tables");
        goto done;
    }
    for (uint64_t i = 0; i < n_kv; i++) {
        g->n_kv = (int64_t)i + 1; /* so close() frees what was read so far */
        if ((st = read_kv(&c, &g->kv[i], (int64_t)i))) goto done;
    }
    g->n_kv = (int64_t)n_kv;
    for (uint64_t i = 0; i < n_tensors; i++)
        if ((st = read_tensor_info(&c, &g->tensors[i], (int64_t)i))) goto done;
    g->n_tensors = (int64_t)n_tensors;
    if ((st = check_alignment(g))) goto done;
    if ((st = check_unique(g))) goto done;
    uint64_t pad = (g->alignment - c.pos % g->alignment) % g->alignment;
    g->data_offset = c.pos + pad;
    if (n_tensors > 0 && g->data_offset > g->size) {
        st = ffl_fail(FFL_ERR_FORMAT, "gguf: tensor data section at offset %llu starts past the end of the file (%llu)",
                      (unsigned long long)g->data_offset, (unsigned long long)g->size);
        goto done;
    }
    for (int64_t i = 0; i < g->n_tensors; i++) {
        ffl_gguf_tensor *t = &g->tensors[i];
        uint64_t start, end;
        if (t->rel_offset % g->alignment != 0) {
            st = ffl_fail(FFL_ERR_FORMAT, "gguf: tensor '%s' offset %llu is not a multiple of the alignment %llu",
                          t->name.data, (unsigned long long)t->rel_offset, (unsigned long long)g->alignment);
            goto done;
        }
        if (!ffl_add_u64(g->data_offset, t->rel_offset, &start) || !ffl_add_u64(start, t->n_bytes, &end) || end > g->size) {
            st = ffl_fail(FFL_ERR_FORMAT, "gguf: tensor '%s' data (offset %llu, %llu bytes) lies outside the file (%llu bytes)",
                          t->name.data, (unsigned long long)t->rel_offset, (unsigned long long)t->n_bytes,
                          (unsigned long long)g->size);
            goto done;
        }
    }
    st = FFL_OK;
done:
    g->string_pool = (char *)c.strings.head; /* the arena's chunk list is freed with the file */
    return st;
}

static void free_parsed(ffl_gguf *g) {
    if (g->kv)
        for (int64_t i = 0; i < g->n_kv; i++) free(g->kv[i].array_strings);
    free(g->kv);
    free(g->tensors);
    free(g->sorted_tensors);
    arena a = {.head = (arena_chunk *)g->string_pool};
    arena_free(&a);
}

void ffl_gguf_close(ffl_gguf *g) {
    if (!g) return;
    free_parsed(g);
    if (g->mapped) munmap((void *)g->base, g->size);
    else free((void *)g->base);
    free(g);
}

static int finish_open(ffl_gguf *g, ffl_gguf **out) {
    int st = parse(g);
    if (st) {
        ffl_gguf_close(g);
        return st;
    }
    *out = g;
    return FFL_OK;
}

int32_t ffl_gguf_open(const char *path, int32_t flags, ffl_gguf **out) {
    if (!out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: out is NULL");
    *out = NULL;
    if (!path) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ffl_fail(FFL_ERR_IO, "gguf: cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return ffl_fail(FFL_ERR_IO, "gguf: '%s' is not a regular file", path);
    }
    ffl_gguf *g = calloc(1, sizeof *g);
    if (!g) {
        close(fd);
        return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf: out of memory");
    }
    g->size = (uint64_t)sb.st_size;
    if (g->size == 0) {
        close(fd);
        free(g);
        return ffl_fail(FFL_ERR_FORMAT, "gguf: '%s' is empty", path);
    }
    if (!(flags & FFL_GGUF_NO_MMAP)) {
        void *p = mmap(NULL, g->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p != MAP_FAILED) {
            g->base = p;
            g->mapped = 1;
        }
    }
    if (!g->base) {
        uint8_t *buf = malloc(g->size);
        uint64_t done = 0;
        while (buf && done < g->size) {
            ssize_t r = pread(fd, buf + done, g->size - done, (off_t)done);
            if (r <= 0) {
                if (r < 0 && errno == EINTR) continue;
                break;
            }
            done += (uint64_t)r;
        }
        if (!buf || done != g->size) {
            free(buf);
            close(fd);
            free(g);
            return ffl_fail(buf ? FFL_ERR_IO : FFL_ERR_OUT_OF_MEMORY, "gguf: cannot read '%s'", path);
        }
        g->base = buf;
    }
    close(fd);
    int st = finish_open(g, out);
    if (st) {
        /* prefix the path so the message says which file */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", ffl_last_error());
        ffl_fail(st, "%s: %s", path, msg);
    }
    return st;
}

int32_t ffl_gguf_open_memory(const void *data, uint64_t size, ffl_gguf **out) {
    if (!out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: out is NULL");
    *out = NULL;
    if (!data && size) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: data is NULL");
    ffl_gguf *g = calloc(1, sizeof *g);
    uint8_t *copy = malloc(size ? size : 1);
    if (!g || !copy) {
        free(g);
        free(copy);
        return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf: out of memory");
    }
    if (size) memcpy(copy, data, size);
    g->base = copy;
    g->size = size;
    return finish_open(g, out);
}

/* ---- accessors ---- */

uint32_t ffl_gguf_version(const ffl_gguf *g) { return g ? g->version : 0; }
uint64_t ffl_gguf_file_size(const ffl_gguf *g) { return g ? g->size : 0; }
uint64_t ffl_gguf_alignment(const ffl_gguf *g) { return g ? g->alignment : 0; }
uint64_t ffl_gguf_data_offset(const ffl_gguf *g) { return g ? g->data_offset : 0; }
int64_t ffl_gguf_kv_count(const ffl_gguf *g) { return g ? g->n_kv : 0; }
int64_t ffl_gguf_tensor_count(const ffl_gguf *g) { return g ? g->n_tensors : 0; }

int64_t ffl_gguf_find_key(const ffl_gguf *g, const char *key) {
    if (!g || !key) return -1;
    size_t n = strlen(key);
    for (int64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key.length == n && memcmp(g->kv[i].key.data, key, n) == 0) return i;
    return -1;
}

static const ffl_gguf_kv *kv_at(const ffl_gguf *g, int64_t i) {
    if (!g) {
        ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: handle is NULL");
        return NULL;
    }
    if (i < 0 || i >= g->n_kv) {
        ffl_fail(FFL_ERR_OUT_OF_RANGE, "gguf: metadata index %lld out of range [0, %lld)", (long long)i, (long long)g->n_kv);
        return NULL;
    }
    return &g->kv[i];
}

const char *ffl_gguf_kv_key(const ffl_gguf *g, int64_t i) {
    const ffl_gguf_kv *kv = kv_at(g, i);
    return kv ? kv->key.data : NULL;
}

int32_t ffl_gguf_kv_type(const ffl_gguf *g, int64_t i) {
    const ffl_gguf_kv *kv = kv_at(g, i);
    return kv ? kv->type : -1;
}

int32_t ffl_gguf_kv_array_type(const ffl_gguf *g, int64_t i) {
    const ffl_gguf_kv *kv = kv_at(g, i);
    return kv && kv->type == FFL_GGUF_ARRAY ? kv->array_type : -1;
}

int64_t ffl_gguf_kv_array_length(const ffl_gguf *g, int64_t i) {
    const ffl_gguf_kv *kv = kv_at(g, i);
    return kv && kv->type == FFL_GGUF_ARRAY ? (int64_t)kv->array_count : -1;
}

static int is_signed(int32_t t) {
    return t == FFL_GGUF_INT8 || t == FFL_GGUF_INT16 || t == FFL_GGUF_INT32 || t == FFL_GGUF_INT64;
}

int32_t ffl_gguf_kv_get_int(const ffl_gguf *g, int64_t i, int64_t *out) {
    const ffl_gguf_kv *kv = kv_at(g, i);
    if (!kv) return ffl_last_status();
    if (!out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: out is NULL");
    if (is_signed(kv->type)) {
        *out = kv->num.i64;
        return FFL_OK;
    }
    switch (kv->type) {
    case FFL_GGUF_UINT8: case FFL_GGUF_UINT16: case FFL_GGUF_UINT32: case FFL_GGUF_UINT64: case FFL_GGUF_BOOL:
        if (kv->num.u64 > (uint64_t)INT64_MAX)
            return ffl_fail(FFL_ERR_OUT_OF_RANGE, "gguf: '%s' = %llu does not fit in int64", kv->key.data,
                            (unsigned long long)kv->num.u64);
        *out = (int64_t)kv->num.u64;
        return FFL_OK;
    default:
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: '%s' is %s, not an integer", kv->key.data, ffl_gguf_type_name(kv->type));
    }
}

int32_t ffl_gguf_kv_get_float(const ffl_gguf *g, int64_t i, double *out) {
    const ffl_gguf_kv *kv = kv_at(g, i);
    if (!kv) return ffl_last_status();
    if (!out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: out is NULL");
    if (kv->type == FFL_GGUF_FLOAT32 || kv->type == FFL_GGUF_FLOAT64) *out = kv->num.f64;
    else if (is_signed(kv->type)) *out = (double)kv->num.i64;
    else if (ffl_gguf_scalar_size(kv->type) > 0) *out = (double)kv->num.u64;
    else return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: '%s' is %s, not a number", kv->key.data, ffl_gguf_type_name(kv->type));
    return FFL_OK;
}

int32_t ffl_gguf_kv_get_string(const ffl_gguf *g, int64_t i, const char **out, uint64_t *length) {
    const ffl_gguf_kv *kv = kv_at(g, i);
    if (!kv) return ffl_last_status();
    if (!out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: out is NULL");
    if (kv->type != FFL_GGUF_STRING)
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: '%s' is %s, not a string", kv->key.data, ffl_gguf_type_name(kv->type));
    *out = kv->str.data;
    if (length) *length = kv->str.length;
    return FFL_OK;
}

int32_t ffl_gguf_kv_get_array_data(const ffl_gguf *g, int64_t i, const void **out) {
    const ffl_gguf_kv *kv = kv_at(g, i);
    if (!kv) return ffl_last_status();
    if (!out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: out is NULL");
    if (kv->type != FFL_GGUF_ARRAY || kv->array_type == FFL_GGUF_STRING)
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: '%s' is not a numeric array", kv->key.data);
    *out = kv->array_data;
    return FFL_OK;
}

int32_t ffl_gguf_kv_get_array_string(const ffl_gguf *g, int64_t i, int64_t j, const char **out, uint64_t *length) {
    const ffl_gguf_kv *kv = kv_at(g, i);
    if (!kv) return ffl_last_status();
    if (!out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: out is NULL");
    if (kv->type != FFL_GGUF_ARRAY || kv->array_type != FFL_GGUF_STRING)
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: '%s' is not a string array", kv->key.data);
    if (j < 0 || (uint64_t)j >= kv->array_count)
        return ffl_fail(FFL_ERR_OUT_OF_RANGE, "gguf: element %lld of '%s' out of range [0, %llu)", (long long)j,
                        kv->key.data, (unsigned long long)kv->array_count);
    *out = kv->array_strings[j].data;
    if (length) *length = kv->array_strings[j].length;
    return FFL_OK;
}

int64_t ffl_gguf_find_tensor(const ffl_gguf *g, const char *name) {
    if (!g || !name) return -1;
    ffl_gguf_str key = {name, strlen(name)};
    int64_t lo = 0, hi = g->n_tensors - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        const ffl_gguf_str *s = &g->tensors[g->sorted_tensors[mid]].name;
        uint64_t n = s->length < key.length ? s->length : key.length;
        int r = memcmp(s->data, key.data, n);
        if (r == 0) r = s->length < key.length ? -1 : s->length > key.length;
        if (r == 0) return g->sorted_tensors[mid];
        if (r < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

const void *ffl_gguf_tensor_data(const ffl_gguf *g, int64_t i) {
    return g->base + g->data_offset + g->tensors[i].rel_offset;
}

int32_t ffl_gguf_tensor_info(const ffl_gguf *g, int64_t i, ffl_tensor_info *out) {
    if (!g || !out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: NULL argument");
    if (i < 0 || i >= g->n_tensors)
        return ffl_fail(FFL_ERR_OUT_OF_RANGE, "gguf: tensor index %lld out of range [0, %lld)", (long long)i,
                        (long long)g->n_tensors);
    const ffl_gguf_tensor *t = &g->tensors[i];
    out->name = t->name.data;
    out->type = t->type;
    out->n_dims = t->n_dims;
    out->ne0 = t->ne[0];
    out->ne1 = t->ne[1];
    out->ne2 = t->ne[2];
    out->ne3 = t->ne[3];
    out->offset = g->data_offset + t->rel_offset;
    out->n_bytes = t->n_bytes;
    out->data = ffl_gguf_tensor_data(g, i);
    return FFL_OK;
}

int64_t ffl_gguf_get_int_or(const ffl_gguf *g, const char *key, int64_t def) {
    int64_t i = ffl_gguf_find_key(g, key), v;
    if (i < 0) return def;
    const ffl_gguf_kv *kv = &g->kv[i];
    if (kv->type == FFL_GGUF_STRING || kv->type == FFL_GGUF_ARRAY || kv->type == FFL_GGUF_FLOAT32 ||
        kv->type == FFL_GGUF_FLOAT64)
        return def;
    return ffl_gguf_kv_get_int(g, i, &v) == FFL_OK ? v : def;
}

double ffl_gguf_get_float_or(const ffl_gguf *g, const char *key, double def) {
    int64_t i = ffl_gguf_find_key(g, key);
    double v;
    if (i < 0 || ffl_gguf_scalar_size(g->kv[i].type) == 0) return def;
    return ffl_gguf_kv_get_float(g, i, &v) == FFL_OK ? v : def;
}

const char *ffl_gguf_get_string_or(const ffl_gguf *g, const char *key, const char *def) {
    int64_t i = ffl_gguf_find_key(g, key);
    if (i < 0 || g->kv[i].type != FFL_GGUF_STRING) return def;
    return g->kv[i].str.data;
}
