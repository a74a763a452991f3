/* GGUF v2/v3 reader: maps the file and validates every count, length, offset and type before
 * anything is used. A hostile file ends in an error status naming the offset (and key or tensor),
 * never in a crash, an allocation larger than the file justifies, or a loop longer than the file. */
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
/* Smallest possible encodings, used to bound counts by the bytes left before allocating:
 * a metadata entry is key length (8) + type (4) + a one-byte value; a tensor info is
 * name length (8) + n_dims (4) + one extent (8) + type (4) + offset (8). */
#define GGUF_MIN_KV_BYTES 13
#define GGUF_MIN_TENSOR_BYTES 32
/* Key and tensor names are cut to this many bytes inside messages. */
#define NAME_IN_MSG "%.96s"

typedef unsigned long long ull;

/* ---- arena: copied strings and aligned array copies; freed all at once with the file ---- */

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    char data[];
} arena_chunk;

typedef struct {
    arena_chunk *head;
    size_t next_cap; /* chunks start small (tiny files stay cheap) and double up to ARENA_CHUNK_BYTES */
} arena;

#define ARENA_FIRST_CHUNK_BYTES ((size_t)4 << 10)
#define ARENA_CHUNK_BYTES ((size_t)1 << 20)

static arena_chunk *chunk_new(size_t cap) {
    arena_chunk *c = malloc(sizeof *c + cap);
    if (c) {
        c->next = NULL;
        c->used = 0;
        c->cap = cap;
    }
    return c;
}

/* n bytes aligned to align (a power of two up to 16), or NULL when out of memory. */
static void *arena_alloc(arena *a, uint64_t n, size_t align) {
    if (n > (uint64_t)(SIZE_MAX / 2)) return NULL;
    size_t need = (size_t)n + align;
    arena_chunk *h = a->head;
    if (h) {
        uintptr_t p = (uintptr_t)(h->data + h->used);
        size_t pad = (size_t)(-p & (uintptr_t)(align - 1));
        if (h->cap - h->used >= pad && h->cap - h->used - pad >= (size_t)n) {
            char *r = h->data + h->used + pad;
            h->used += pad + (size_t)n;
            return r;
        }
    }
    if (need > a->next_cap / 4 && h) {
        /* a large block gets a chunk of its own behind the head, so the head's free space stays usable */
        arena_chunk *c = chunk_new(need);
        if (!c) return NULL;
        c->next = h->next;
        h->next = c;
        char *r = c->data + (size_t)(-(uintptr_t)c->data & (uintptr_t)(align - 1));
        c->used = c->cap;
        return r;
    }
    size_t cap = a->next_cap < ARENA_FIRST_CHUNK_BYTES ? ARENA_FIRST_CHUNK_BYTES : a->next_cap;
    arena_chunk *c = chunk_new(need > cap ? need : cap);
    if (!c) return NULL;
    a->next_cap = cap < ARENA_CHUNK_BYTES ? cap * 2 : ARENA_CHUNK_BYTES;
    c->next = h;
    a->head = c;
    size_t pad = (size_t)(-(uintptr_t)c->data & (uintptr_t)(align - 1));
    c->used = pad + (size_t)n;
    return c->data + pad;
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
    arena *strings;
} cursor;

static uint64_t remaining(const cursor *c) { return c->size - c->pos; }

static int need(const cursor *c, uint64_t n, const char *what) {
    if (n > remaining(c))
        return ffl_fail(FFL_ERR_FORMAT, "gguf: %s at offset %llu needs %llu bytes, but the file ends at %llu", what,
                        (ull)c->pos, (ull)n, (ull)c->size);
    return FFL_OK;
}

/* Little-endian decoding by bytes: no unaligned loads, no dependence on the host's byte order. */
static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static int read_u32(cursor *c, uint32_t *v, const char *what) {
    int st = need(c, 4, what);
    if (st) return st;
    *v = le32(c->base + c->pos);
    c->pos += 4;
    return FFL_OK;
}

static int read_u64(cursor *c, uint64_t *v, const char *what) {
    int st = need(c, 8, what);
    if (st) return st;
    *v = le64(c->base + c->pos);
    c->pos += 8;
    return FFL_OK;
}

static int read_string(cursor *c, ffl_gguf_str *out, const char *what) {
    uint64_t at = c->pos, len;
    int st = read_u64(c, &len, what);
    if (st) return st;
    if (len > remaining(c))
        return ffl_fail(FFL_ERR_FORMAT, "gguf: %s at offset %llu has length %llu, past the end of the file (%llu bytes)",
                        what, (ull)at, (ull)len, (ull)c->size);
    char *s = arena_alloc(c->strings, len + 1, 1);
    if (!s) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf: out of memory copying %s at offset %llu", what, (ull)at);
    if (len) memcpy(s, c->base + c->pos, (size_t)len);
    s[len] = '\0';
    c->pos += len;
    out->data = s;
    out->length = len;
    return FFL_OK;
}

/* Returns items grown (zero-filled, capacity doubling) so that index n fits, or NULL when out of
 * memory (items is then still valid and owned by the caller). */
static void *grow(void *items, int64_t *cap, size_t elem, int64_t n) {
    if (n < *cap) return items;
    int64_t next = *cap ? *cap * 2 : 16;
    if ((uint64_t)next > SIZE_MAX / elem) return NULL;
    char *p = realloc(items, (size_t)next * elem);
    if (!p) return NULL;
    memset(p + (size_t)*cap * elem, 0, (size_t)(next - *cap) * elem);
    *cap = next;
    return p;
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
    memcpy(kv->raw_scalar, p, (size_t)ffl_gguf_scalar_size(kv->type));
    switch (kv->type) {
    case FFL_GGUF_UINT8: kv->num.u64 = p[0]; break;
    case FFL_GGUF_INT8: kv->num.i64 = (int8_t)p[0]; break;
    case FFL_GGUF_BOOL: kv->num.u64 = p[0] != 0; break;
    case FFL_GGUF_UINT16: kv->num.u64 = (uint16_t)(p[0] | p[1] << 8); break;
    case FFL_GGUF_INT16: kv->num.i64 = (int16_t)(uint16_t)(p[0] | p[1] << 8); break;
    case FFL_GGUF_UINT32: kv->num.u64 = le32(p); break;
    case FFL_GGUF_INT32: kv->num.i64 = (int32_t)le32(p); break;
    case FFL_GGUF_FLOAT32: { uint32_t b = le32(p); float v; memcpy(&v, &b, 4); kv->num.f64 = v; break; }
    case FFL_GGUF_UINT64: kv->num.u64 = le64(p); break;
    case FFL_GGUF_INT64: kv->num.i64 = (int64_t)le64(p); break;
    case FFL_GGUF_FLOAT64: { uint64_t b = le64(p); double v; memcpy(&v, &b, 8); kv->num.f64 = v; break; }
    default: break;
    }
}

static int read_string_array(cursor *c, ffl_gguf_kv *kv, uint64_t count) {
    const char *key = kv->key.data;
    /* every element takes at least its 8-byte length: the count is bounded by the bytes left */
    if (count > remaining(c) / 8)
        return ffl_fail(FFL_ERR_FORMAT, "gguf: metadata key '" NAME_IN_MSG "' at offset %llu: string array of %llu elements "
                        "cannot fit in the %llu bytes left", key, (ull)kv->file_offset, (ull)count, (ull)remaining(c));
    int64_t cap = 0;
    char what[160];
    snprintf(what, sizeof what, "element of string array '" NAME_IN_MSG "'", key);
    for (uint64_t i = 0; i < count; i++) {
        ffl_gguf_str *grown = grow(kv->array_strings, &cap, sizeof *grown, (int64_t)i);
        if (!grown) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf: out of memory for array '" NAME_IN_MSG "'", key);
        kv->array_strings = grown;
        int st = read_string(c, &kv->array_strings[i], what);
        if (st) return st;
    }
    kv->array_count = count;
    return FFL_OK;
}

static int read_array(cursor *c, ffl_gguf_kv *kv) {
    const char *key = kv->key.data;
    char what[160];
    snprintf(what, sizeof what, "array header of metadata key '" NAME_IN_MSG "'", key);
    uint32_t elem;
    uint64_t count;
    int st;
    if ((st = read_u32(c, &elem, what)) || (st = read_u64(c, &count, what))) return st;
    if (elem == FFL_GGUF_ARRAY)
        return ffl_fail(FFL_ERR_FORMAT, "gguf: metadata key '" NAME_IN_MSG "' at offset %llu: nested arrays are not supported",
                        key, (ull)kv->file_offset);
    if (elem > FFL_GGUF_FLOAT64)
        return ffl_fail(FFL_ERR_FORMAT, "gguf: metadata key '" NAME_IN_MSG "' at offset %llu: unknown array element type %u",
                        key, (ull)kv->file_offset, elem);
    kv->array_type = (int32_t)elem;
    if (elem == FFL_GGUF_STRING) return read_string_array(c, kv, count);
    uint64_t esize = ffl_gguf_scalar_size((int32_t)elem), bytes;
    if (!ffl_mul_u64(count, esize, &bytes) || bytes > remaining(c))
        return ffl_fail(FFL_ERR_FORMAT, "gguf: metadata key '" NAME_IN_MSG "' at offset %llu: array of %llu %s elements runs "
                        "past the end of the file (%llu bytes)", key, (ull)kv->file_offset, (ull)count,
                        ffl_gguf_type_name((int32_t)elem), (ull)c->size);
    const uint8_t *p = c->base + c->pos;
    if ((uintptr_t)p % esize != 0) {
        /* callers may read the elements in place as their C type: give them an aligned copy */
        uint8_t *copy = arena_alloc(c->strings, bytes, (size_t)esize);
        if (!copy) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf: out of memory for array '" NAME_IN_MSG "'", key);
        memcpy(copy, p, (size_t)bytes);
        p = copy;
    }
    kv->array_data = p;
    kv->array_count = count;
    c->pos += bytes;
    return FFL_OK;
}

static int read_kv(cursor *c, ffl_gguf_kv *kv, int64_t index) {
    kv->file_offset = c->pos;
    char what[160];
    snprintf(what, sizeof what, "key of metadata entry %lld", (long long)index);
    int st = read_string(c, &kv->key, what);
    if (st) return st;
    const char *key = kv->key.data;
    snprintf(what, sizeof what, "value of metadata key '" NAME_IN_MSG "'", key);
    uint32_t type;
    if ((st = read_u32(c, &type, what))) return st;
    if (type > FFL_GGUF_FLOAT64)
        return ffl_fail(FFL_ERR_FORMAT, "gguf: metadata key '" NAME_IN_MSG "' at offset %llu has unknown value type %u", key,
                        (ull)kv->file_offset, type);
    kv->type = (int32_t)type;
    if (type == FFL_GGUF_STRING) return read_string(c, &kv->str, what);
    if (type == FFL_GGUF_ARRAY) return read_array(c, kv);
    uint64_t n = ffl_gguf_scalar_size(kv->type);
    if ((st = need(c, n, what))) return st;
    decode_scalar(kv, c->base + c->pos);
    c->pos += n;
    return FFL_OK;
}

static int read_tensor_info(cursor *c, ffl_gguf_tensor *t, int64_t index) {
    uint64_t at = t->file_offset = c->pos;
    char what[160];
    snprintf(what, sizeof what, "name of tensor %lld", (long long)index);
    int st = read_string(c, &t->name, what);
    if (st) return st;
    const char *name = t->name.data;
    snprintf(what, sizeof what, "info of tensor '" NAME_IN_MSG "'", name);
    uint32_t n_dims, type;
    if ((st = read_u32(c, &n_dims, what))) return st;
    if (n_dims < 1 || n_dims > FFL_GGUF_MAX_DIMS)
        return ffl_fail(FFL_ERR_FORMAT, "gguf: tensor '" NAME_IN_MSG "' at offset %llu has %u dimensions (1 to %d allowed)",
                        name, (ull)at, n_dims, FFL_GGUF_MAX_DIMS);
    t->n_dims = (int32_t)n_dims;
    for (int d = 0; d < FFL_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    int64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        uint64_t ne;
        if ((st = read_u64(c, &ne, what))) return st;
        if (ne > (uint64_t)INT64_MAX)
            return ffl_fail(FFL_ERR_FORMAT, "gguf: tensor '" NAME_IN_MSG "' at offset %llu: extent %u is %llu, out of range",
                            name, (ull)at, d, (ull)ne);
        t->ne[d] = (int64_t)ne;
        if (__builtin_mul_overflow(elements, t->ne[d], &elements))
            return ffl_fail(FFL_ERR_FORMAT, "gguf: tensor '" NAME_IN_MSG "' at offset %llu: element count overflows", name,
                            (ull)at);
    }
    if ((st = read_u32(c, &type, what))) return st;
    int64_t block = type < FFL_TYPE_COUNT ? ffl_type_block_size((int32_t)type) : 0;
    if (block <= 0)
        return ffl_fail(FFL_ERR_FORMAT, "gguf: tensor '" NAME_IN_MSG "' at offset %llu has unknown type %u", name, (ull)at,
                        type);
    t->type = (int32_t)type;
    if (t->ne[0] % block != 0)
        return ffl_fail(FFL_ERR_FORMAT, "gguf: tensor '" NAME_IN_MSG "' at offset %llu has rows of %lld elements, not a "
                        "multiple of %s's block of %lld", name, (ull)at, (long long)t->ne[0], ffl_type_name(t->type),
                        (long long)block);
    uint64_t rows = 1;
    for (int d = 1; d < FFL_GGUF_MAX_DIMS; d++) /* checked: with ne0 == 0 the element count says nothing */
        if (!ffl_mul_u64(rows, (uint64_t)t->ne[d], &rows))
            return ffl_fail(FFL_ERR_FORMAT, "gguf: tensor '" NAME_IN_MSG "' at offset %llu: row count overflows", name,
                            (ull)at);
    int64_t row_bytes = ffl_type_row_bytes(t->type, t->ne[0]);
    if (row_bytes < 0 || !ffl_mul_u64(rows, (uint64_t)row_bytes, &t->n_bytes))
        return ffl_fail(FFL_ERR_FORMAT, "gguf: tensor '" NAME_IN_MSG "' at offset %llu: byte size overflows", name, (ull)at);
    return read_u64(c, &t->rel_offset, what);
}

/* ---- uniqueness and lookup tables ---- */

typedef struct {
    const ffl_gguf_str *name;
    int64_t index;
} named_index;

static int compare_str(const ffl_gguf_str *x, const ffl_gguf_str *y) {
    uint64_t n = x->length < y->length ? x->length : y->length;
    int r = n ? memcmp(x->data, y->data, (size_t)n) : 0;
    if (r) return r;
    return x->length < y->length ? -1 : x->length > y->length;
}

static int compare_named(const void *a, const void *b) {
    const named_index *x = a, *y = b;
    int r = compare_str(x->name, y->name);
    if (r) return r;
    return x->index < y->index ? -1 : x->index > y->index; /* equal names: file order */
}

/* Sorts n names into *sorted (indices); returns the index of a duplicate's second occurrence, -1 if none,
 * -2 when out of memory. */
static int64_t sort_names(const ffl_gguf_str *(*name_of)(const ffl_gguf *, int64_t), const ffl_gguf *g, int64_t n,
                          int64_t **sorted) {
    *sorted = malloc((size_t)(n ? n : 1) * sizeof **sorted);
    named_index *tmp = malloc((size_t)(n ? n : 1) * sizeof *tmp);
    if (!*sorted || !tmp) {
        free(tmp);
        return -2;
    }
    for (int64_t i = 0; i < n; i++) tmp[i] = (named_index){name_of(g, i), i};
    if (n > 1) qsort(tmp, (size_t)n, sizeof *tmp, compare_named);
    int64_t dup = -1;
    for (int64_t i = 0; i < n; i++) {
        (*sorted)[i] = tmp[i].index;
        if (i > 0 && dup < 0 && compare_str(tmp[i - 1].name, tmp[i].name) == 0) dup = tmp[i].index;
    }
    free(tmp);
    return dup;
}

static const ffl_gguf_str *kv_name(const ffl_gguf *g, int64_t i) { return &g->kv[i].key; }
static const ffl_gguf_str *tensor_name(const ffl_gguf *g, int64_t i) { return &g->tensors[i].name; }

static int64_t first_with_name(const ffl_gguf *g, const ffl_gguf_str *(*name_of)(const ffl_gguf *, int64_t), int64_t n,
                               const ffl_gguf_str *name) {
    for (int64_t i = 0; i < n; i++)
        if (compare_str(name_of(g, i), name) == 0) return i;
    return -1;
}

static int check_unique(ffl_gguf *g) {
    int64_t dup = sort_names(kv_name, g, g->n_kv, &g->sorted_kv);
    if (dup == -2) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf: out of memory");
    if (dup >= 0) {
        const ffl_gguf_kv *second = &g->kv[dup], *first = &g->kv[first_with_name(g, kv_name, dup, &second->key)];
        return ffl_fail(FFL_ERR_FORMAT, "gguf: duplicate metadata key '" NAME_IN_MSG "' at offsets %llu and %llu",
                        second->key.data, (ull)first->file_offset, (ull)second->file_offset);
    }
    dup = sort_names(tensor_name, g, g->n_tensors, &g->sorted_tensors);
    if (dup == -2) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf: out of memory");
    if (dup >= 0) {
        const ffl_gguf_tensor *second = &g->tensors[dup],
                              *first = &g->tensors[first_with_name(g, tensor_name, dup, &second->name)];
        return ffl_fail(FFL_ERR_FORMAT, "gguf: duplicate tensor name '" NAME_IN_MSG "' at offsets %llu and %llu",
                        second->name.data, (ull)first->file_offset, (ull)second->file_offset);
    }
    return FFL_OK;
}

static int check_alignment(ffl_gguf *g) {
    g->alignment = FFL_GGUF_DEFAULT_ALIGNMENT;
    int64_t i = ffl_gguf_find_key(g, "general.alignment");
    if (i < 0) return FFL_OK;
    const ffl_gguf_kv *kv = &g->kv[i];
    if (kv->type != FFL_GGUF_UINT32)
        return ffl_fail(FFL_ERR_FORMAT, "gguf: metadata key 'general.alignment' at offset %llu has type %s, expected uint32",
                        (ull)kv->file_offset, ffl_gguf_type_name(kv->type));
    uint64_t a = kv->num.u64;
    if (a == 0 || (a & (a - 1)) != 0)
        return ffl_fail(FFL_ERR_FORMAT, "gguf: metadata key 'general.alignment' at offset %llu is %llu, not a power of two",
                        (ull)kv->file_offset, (ull)a);
    g->alignment = a;
    return FFL_OK;
}

static int check_tensor_ranges(ffl_gguf *g, uint64_t header_end) {
    uint64_t pad = (g->alignment - header_end % g->alignment) % g->alignment;
    g->data_offset = header_end + pad; /* header_end <= size and pad < 2^32: no overflow */
    if (g->n_tensors == 0) {
        /* vocabulary-only files may end without the padding */
        if (g->data_offset > g->size) g->data_offset = g->size;
        return FFL_OK;
    }
    if (g->data_offset > g->size)
        return ffl_fail(FFL_ERR_FORMAT, "gguf: tensor data section at offset %llu starts past the end of the file (%llu bytes)",
                        (ull)g->data_offset, (ull)g->size);
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const ffl_gguf_tensor *t = &g->tensors[i];
        uint64_t start, end;
        if (t->rel_offset % g->alignment != 0)
            return ffl_fail(FFL_ERR_FORMAT, "gguf: tensor '" NAME_IN_MSG "' at offset %llu: data offset %llu is not a multiple "
                            "of the alignment %llu", t->name.data, (ull)t->file_offset, (ull)t->rel_offset, (ull)g->alignment);
        if (!ffl_add_u64(g->data_offset, t->rel_offset, &start) || !ffl_add_u64(start, t->n_bytes, &end) || end > g->size)
            return ffl_fail(FFL_ERR_FORMAT, "gguf: tensor '" NAME_IN_MSG "' at offset %llu: data at offset %llu + %llu (%llu "
                            "bytes) lies outside the file (%llu bytes)", t->name.data, (ull)t->file_offset,
                            (ull)g->data_offset, (ull)t->rel_offset, (ull)t->n_bytes, (ull)g->size);
    }
    return FFL_OK;
}

static int parse_header(ffl_gguf *g, cursor *c) {
    int st;
    if ((st = need(c, 4, "magic"))) return st;
    if (memcmp(c->base, GGUF_MAGIC, 4) != 0) return ffl_fail(FFL_ERR_FORMAT, "gguf: bad magic at offset 0 (not a GGUF file)");
    c->pos = 4;
    if ((st = read_u32(c, &g->version, "version"))) return st;
    if (g->version != 2 && g->version != 3) {
        if ((g->version & 0xffff) == 0 && g->version != 0)
            return ffl_fail(FFL_ERR_UNSUPPORTED, "gguf: version field at offset 4 (%u) looks big-endian; only little-endian "
                            "files are supported", g->version);
        return ffl_fail(g->version == 1 ? FFL_ERR_UNSUPPORTED : FFL_ERR_FORMAT,
                        "gguf: version %u at offset 4 is not supported (2 and 3 are)", g->version);
    }
    uint64_t n_tensors, n_kv;
    if ((st = read_u64(c, &n_tensors, "tensor count")) || (st = read_u64(c, &n_kv, "metadata count"))) return st;
    uint64_t left = remaining(c);
    if (n_kv > left / GGUF_MIN_KV_BYTES)
        return ffl_fail(FFL_ERR_FORMAT, "gguf: metadata count %llu at offset 16 is larger than the %llu bytes left can hold",
                        (ull)n_kv, (ull)left);
    if (n_tensors > (left - n_kv * GGUF_MIN_KV_BYTES) / GGUF_MIN_TENSOR_BYTES)
        return ffl_fail(FFL_ERR_FORMAT, "gguf: tensor count %llu at offset 8 is larger than the %llu bytes left can hold",
                        (ull)n_tensors, (ull)left);
    /* tables grow as entries are actually read, so memory follows the bytes present, not the claims */
    int64_t cap = 0;
    for (uint64_t i = 0; i < n_kv; i++) {
        ffl_gguf_kv *kvs = grow(g->kv, &cap, sizeof *kvs, (int64_t)i);
        if (!kvs) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf: out of memory for the metadata table");
        g->kv = kvs;
        g->n_kv = (int64_t)i + 1; /* so close() frees what was read so far */
        if ((st = read_kv(c, &g->kv[i], (int64_t)i))) return st;
    }
    cap = 0;
    for (uint64_t i = 0; i < n_tensors; i++) {
        ffl_gguf_tensor *ts = grow(g->tensors, &cap, sizeof *ts, (int64_t)i);
        if (!ts) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf: out of memory for the tensor table");
        g->tensors = ts;
        g->n_tensors = (int64_t)i + 1;
        if ((st = read_tensor_info(c, &g->tensors[i], (int64_t)i))) return st;
    }
    if ((st = check_unique(g))) return st;
    if ((st = check_alignment(g))) return st;
    return check_tensor_ranges(g, c->pos);
}

static int parse(ffl_gguf *g) {
    arena strings = {NULL, 0};
    cursor c = {.base = g->base, .size = g->size, .pos = 0, .strings = &strings};
    int st = parse_header(g, &c);
    g->string_pool = (char *)strings.head; /* the arena's chunk list is freed with the file */
    return st;
}

static void free_parsed(ffl_gguf *g) {
    if (g->kv)
        for (int64_t i = 0; i < g->n_kv; i++) free(g->kv[i].array_strings);
    free(g->kv);
    free(g->tensors);
    free(g->sorted_tensors);
    free(g->sorted_kv);
    arena a = {.head = (arena_chunk *)g->string_pool};
    arena_free(&a);
}

void ffl_gguf_close(ffl_gguf *g) {
    if (!g) return;
    free_parsed(g);
    if (g->mapped) munmap((void *)g->base, (size_t)g->size);
    else if (!g->borrowed) free((void *)g->base);
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

static int fits_in_memory(uint64_t size) {
#if SIZE_MAX < UINT64_MAX
    return size <= (uint64_t)SIZE_MAX;
#else
    (void)size;
    return 1;
#endif
}

/* Reads the whole file into memory (FFL_GGUF_NO_MMAP, or when mmap is refused). The buffer is an
 * anonymous mapping that asks for transparent huge pages: weights are streamed once per token, and
 * 2 MiB pages spare the TLB walks and let the hardware prefetcher run past 4 KiB boundaries. */
static int read_whole(int fd, ffl_gguf *g, const char *path) {
    uint8_t *buf = mmap(NULL, (size_t)g->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED)
        return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf: out of memory reading '%s' (%llu bytes)", path, (ull)g->size);
#ifdef MADV_HUGEPAGE
    (void)madvise(buf, (size_t)g->size, MADV_HUGEPAGE); /* a hint: without it the pages are 4 KiB */
#endif
    g->mapped = 1; /* released with munmap */
    uint64_t done = 0;
    while (done < g->size) {
        uint64_t want = g->size - done;
        if (want > ((uint64_t)1 << 30)) want = (uint64_t)1 << 30;
        ssize_t r = pread(fd, buf + done, (size_t)want, (off_t)done);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int32_t st = ffl_fail(FFL_ERR_IO, "gguf: cannot read '%s' at offset %llu: %s", path, (ull)done,
                                  r < 0 ? strerror(errno) : "unexpected end of file");
            munmap(buf, (size_t)g->size);
            g->mapped = 0;
            return st;
        }
        done += (uint64_t)r;
    }
    g->base = buf;
    return FFL_OK;
}

int32_t ffl_gguf_open(const char *path, int32_t flags, ffl_gguf **out) {
    if (!out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: out is NULL");
    *out = NULL;
    if (!path) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: path is NULL");
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is rejected below as not regular */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return ffl_fail(FFL_ERR_IO, "gguf: cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return ffl_fail(FFL_ERR_IO, "gguf: '%s' is not a regular file", path);
    }
    if (sb.st_size <= 0) {
        close(fd);
        return ffl_fail(FFL_ERR_FORMAT, "gguf: '%s' is empty (the magic at offset 0 is missing)", path);
    }
    if (!fits_in_memory((uint64_t)sb.st_size)) {
        close(fd);
        return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf: '%s' is too large for this address space", path);
    }
    ffl_gguf *g = calloc(1, sizeof *g);
    if (!g) {
        close(fd);
        return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf: out of memory");
    }
    g->size = (uint64_t)sb.st_size;
    if (!(flags & FFL_GGUF_NO_MMAP)) {
        void *p = mmap(NULL, (size_t)g->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p != MAP_FAILED) {
#ifdef MADV_HUGEPAGE
            /* pages read from disk for this mapping come as 2 MiB folios, mapped as huge pages */
            (void)madvise(p, (size_t)g->size, MADV_HUGEPAGE);
#endif
            g->base = p;
            g->mapped = 1;
            g->file_mapped = 1;
        }
    }
    if (!g->base) {
        int st = read_whole(fd, g, path);
        if (st) {
            close(fd);
            free(g);
            return st;
        }
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
    if (!fits_in_memory(size)) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf: %llu bytes do not fit in memory", (ull)size);
    ffl_gguf *g = calloc(1, sizeof *g);
    uint8_t *copy = malloc(size ? (size_t)size : 1);
    if (!g || !copy) {
        free(g);
        free(copy);
        return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf: out of memory");
    }
    if (size) memcpy(copy, data, (size_t)size);
    g->base = copy;
    g->size = size;
    return finish_open(g, out);
}

int32_t ffl_gguf_open_view(const void *data, uint64_t size, ffl_gguf **out) {
    if (!out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: out is NULL");
    *out = NULL;
    if (!data && size) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: data is NULL");
    ffl_gguf *g = calloc(1, sizeof *g);
    if (!g) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "gguf: out of memory");
    static const uint8_t nothing[1];
    g->base = data ? data : nothing;
    g->size = size;
    g->borrowed = 1;
    return finish_open(g, out);
}

/* ---- accessors ---- */

uint32_t ffl_gguf_version(const ffl_gguf *g) { return g ? g->version : 0; }
uint64_t ffl_gguf_file_size(const ffl_gguf *g) { return g ? g->size : 0; }
uint64_t ffl_gguf_alignment(const ffl_gguf *g) { return g ? g->alignment : 0; }
uint64_t ffl_gguf_data_offset(const ffl_gguf *g) { return g ? g->data_offset : 0; }
int64_t ffl_gguf_kv_count(const ffl_gguf *g) { return g ? g->n_kv : 0; }
int64_t ffl_gguf_tensor_count(const ffl_gguf *g) { return g ? g->n_tensors : 0; }

/* Binary search of a sorted index table by name. */
static int64_t lookup_sorted(const ffl_gguf *g, const int64_t *sorted, int64_t n,
                             const ffl_gguf_str *(*name_of)(const ffl_gguf *, int64_t), const char *name) {
    if (!g || !name || !sorted) return -1;
    ffl_gguf_str key = {name, strlen(name)};
    int64_t lo = 0, hi = n - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int r = compare_str(name_of(g, sorted[mid]), &key);
        if (r == 0) return sorted[mid];
        if (r < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

int64_t ffl_gguf_find_key(const ffl_gguf *g, const char *key) {
    return g ? lookup_sorted(g, g->sorted_kv, g->n_kv, kv_name, key) : -1;
}

int64_t ffl_gguf_find_tensor(const ffl_gguf *g, const char *name) {
    return g ? lookup_sorted(g, g->sorted_tensors, g->n_tensors, tensor_name, name) : -1;
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
            return ffl_fail(FFL_ERR_OUT_OF_RANGE, "gguf: '" NAME_IN_MSG "' = %llu does not fit in int64", kv->key.data,
                            (ull)kv->num.u64);
        *out = (int64_t)kv->num.u64;
        return FFL_OK;
    default:
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: '" NAME_IN_MSG "' is %s, not an integer", kv->key.data,
                        ffl_gguf_type_name(kv->type));
    }
}

int32_t ffl_gguf_kv_get_float(const ffl_gguf *g, int64_t i, double *out) {
    const ffl_gguf_kv *kv = kv_at(g, i);
    if (!kv) return ffl_last_status();
    if (!out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: out is NULL");
    if (kv->type == FFL_GGUF_FLOAT32 || kv->type == FFL_GGUF_FLOAT64) *out = kv->num.f64;
    else if (is_signed(kv->type)) *out = (double)kv->num.i64;
    else if (ffl_gguf_scalar_size(kv->type) > 0) *out = (double)kv->num.u64;
    else
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: '" NAME_IN_MSG "' is %s, not a number", kv->key.data,
                        ffl_gguf_type_name(kv->type));
    return FFL_OK;
}

int32_t ffl_gguf_kv_get_string(const ffl_gguf *g, int64_t i, const char **out, uint64_t *length) {
    const ffl_gguf_kv *kv = kv_at(g, i);
    if (!kv) return ffl_last_status();
    if (!out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: out is NULL");
    if (kv->type != FFL_GGUF_STRING)
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: '" NAME_IN_MSG "' is %s, not a string", kv->key.data,
                        ffl_gguf_type_name(kv->type));
    *out = kv->str.data;
    if (length) *length = kv->str.length;
    return FFL_OK;
}

int32_t ffl_gguf_kv_get_array_data(const ffl_gguf *g, int64_t i, const void **out) {
    const ffl_gguf_kv *kv = kv_at(g, i);
    if (!kv) return ffl_last_status();
    if (!out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: out is NULL");
    if (kv->type != FFL_GGUF_ARRAY || kv->array_type == FFL_GGUF_STRING)
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: '" NAME_IN_MSG "' is not a numeric array", kv->key.data);
    *out = kv->array_data;
    return FFL_OK;
}

int32_t ffl_gguf_kv_get_array_string(const ffl_gguf *g, int64_t i, int64_t j, const char **out, uint64_t *length) {
    const ffl_gguf_kv *kv = kv_at(g, i);
    if (!kv) return ffl_last_status();
    if (!out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: out is NULL");
    if (kv->type != FFL_GGUF_ARRAY || kv->array_type != FFL_GGUF_STRING)
        return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "gguf: '" NAME_IN_MSG "' is not a string array", kv->key.data);
    if (j < 0 || (uint64_t)j >= kv->array_count)
        return ffl_fail(FFL_ERR_OUT_OF_RANGE, "gguf: element %lld of '" NAME_IN_MSG "' out of range [0, %llu)", (long long)j,
                        kv->key.data, (ull)kv->array_count);
    *out = kv->array_strings[j].data;
    if (length) *length = kv->array_strings[j].length;
    return FFL_OK;
}

const void *ffl_gguf_tensor_data(const ffl_gguf *g, int64_t i) {
    if (!g || i < 0 || i >= g->n_tensors) return NULL;
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
