/* Helpers for GGUF tests: a byte builder for hand-made images, a walker that records where every
 * field of a valid image lives (so tests can corrupt exactly one field), and a checker that walks
 * every accessor of a parsed file and verifies the reader's invariants. */
#ifndef FFL_GGUF_TEST_IMAGE_H
#define FFL_GGUF_TEST_IMAGE_H

#include "fflama.h"
#include "gguf/gguf_internal.h"
#include "../test_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- byte builder ---- */

typedef struct {
    uint8_t *p;
    size_t n, cap;
} gbuf;

static void gb_put(gbuf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void gb_u8(gbuf *b, uint8_t v) { gb_put(b, &v, 1); }
static void gb_u32(gbuf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    gb_put(b, x, 4);
}
static void gb_u64(gbuf *b, uint64_t v) {
    gb_u32(b, (uint32_t)v);
    gb_u32(b, (uint32_t)(v >> 32));
}
static void gb_str(gbuf *b, const char *s, size_t n) {
    gb_u64(b, n);
    gb_put(b, s, n);
}
static void gb_cstr(gbuf *b, const char *s) { gb_str(b, s, strlen(s)); }
static void gb_pad(gbuf *b, uint64_t align) {
    while (b->n % align) gb_u8(b, 0);
}
static void gb_header(gbuf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    gb_put(b, "GGUF", 4);
    gb_u32(b, version);
    gb_u64(b, n_tensors);
    gb_u64(b, n_kv);
}
static void gb_kv_u32(gbuf *b, const char *key, uint32_t v) {
    gb_cstr(b, key);
    gb_u32(b, FFL_GGUF_UINT32);
    gb_u32(b, v);
}

static uint64_t rd64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static void wr64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void wr32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* A small image holding every value type, arrays of every element type (empty ones too), a string
 * with a NUL inside, general.alignment, tensors of several types and ranks, and a zero-size tensor. */
static gbuf build_synthetic(uint32_t alignment) {
    gbuf b = {0};
    enum { N_TENSORS = 5, N_KV = 22 };
    gb_header(&b, 3, N_TENSORS, N_KV);
    gb_kv_u32(&b, "general.alignment", alignment);
    gb_cstr(&b, "general.architecture"); gb_u32(&b, FFL_GGUF_STRING); gb_cstr(&b, "llama");
    gb_cstr(&b, "t.u8"); gb_u32(&b, FFL_GGUF_UINT8); gb_u8(&b, 200);
    gb_cstr(&b, "t.i8"); gb_u32(&b, FFL_GGUF_INT8); gb_u8(&b, 0x80);
    gb_cstr(&b, "t.u16"); gb_u32(&b, FFL_GGUF_UINT16); gb_u8(&b, 0x34); gb_u8(&b, 0x12);
    gb_cstr(&b, "t.i16"); gb_u32(&b, FFL_GGUF_INT16); gb_u8(&b, 0xff); gb_u8(&b, 0xff);
    gb_kv_u32(&b, "t.u32", 0xdeadbeefu);
    gb_cstr(&b, "t.i32"); gb_u32(&b, FFL_GGUF_INT32); gb_u32(&b, (uint32_t)-7);
    gb_cstr(&b, "t.f32"); gb_u32(&b, FFL_GGUF_FLOAT32); gb_u32(&b, 0x3fc00000u); /* 1.5 */
    gb_cstr(&b, "t.bool"); gb_u32(&b, FFL_GGUF_BOOL); gb_u8(&b, 1);
    gb_cstr(&b, "t.u64"); gb_u32(&b, FFL_GGUF_UINT64); gb_u64(&b, UINT64_MAX);
    gb_cstr(&b, "t.i64"); gb_u32(&b, FFL_GGUF_INT64); gb_u64(&b, (uint64_t)INT64_MIN);
    gb_cstr(&b, "t.f64"); gb_u32(&b, FFL_GGUF_FLOAT64); gb_u64(&b, 0x4004000000000000ull); /* 2.5 */
    gb_cstr(&b, "t.str_nul"); gb_u32(&b, FFL_GGUF_STRING); gb_str(&b, "a\0b", 3);
    gb_cstr(&b, "t.str_empty"); gb_u32(&b, FFL_GGUF_STRING); gb_str(&b, "", 0);
    gb_cstr(&b, "t.arr_u8"); gb_u32(&b, FFL_GGUF_ARRAY); gb_u32(&b, FFL_GGUF_UINT8); gb_u64(&b, 3);
    gb_u8(&b, 1); gb_u8(&b, 2); gb_u8(&b, 3);
    /* after three bytes the next array's elements are misaligned in the file: the reader must realign them */
    gb_cstr(&b, "t.arr_f32"); gb_u32(&b, FFL_GGUF_ARRAY); gb_u32(&b, FFL_GGUF_FLOAT32); gb_u64(&b, 3);
    gb_u32(&b, 0x3f800000u); gb_u32(&b, 0x40000000u); gb_u32(&b, 0x40400000u);
    gb_cstr(&b, "t.arr_i64"); gb_u32(&b, FFL_GGUF_ARRAY); gb_u32(&b, FFL_GGUF_INT64); gb_u64(&b, 2);
    gb_u64(&b, 5); gb_u64(&b, (uint64_t)-5);
    gb_cstr(&b, "t.arr_empty"); gb_u32(&b, FFL_GGUF_ARRAY); gb_u32(&b, FFL_GGUF_UINT32); gb_u64(&b, 0);
    gb_cstr(&b, "t.arr_str"); gb_u32(&b, FFL_GGUF_ARRAY); gb_u32(&b, FFL_GGUF_STRING); gb_u64(&b, 4);
    gb_cstr(&b, "<s>"); gb_str(&b, "", 0); gb_cstr(&b, "hello"); gb_str(&b, "x\0y", 3);
    gb_cstr(&b, "t.arr_str_empty"); gb_u32(&b, FFL_GGUF_ARRAY); gb_u32(&b, FFL_GGUF_STRING); gb_u64(&b, 0);
    gb_cstr(&b, "t.arr_bool"); gb_u32(&b, FFL_GGUF_ARRAY); gb_u32(&b, FFL_GGUF_BOOL); gb_u64(&b, 2);
    gb_u8(&b, 0); gb_u8(&b, 1);

    /* tensors: name, dims, extents, type, bytes */
    static const struct {
        const char *name;
        int32_t type;
        uint32_t n_dims;
        uint64_t ne[4];
    } T[N_TENSORS] = {
        {"tok_embd.weight", FFL_TYPE_F32, 2, {8, 2, 1, 1}},
        {"blk.0.attn_q.weight", FFL_TYPE_Q4_0, 1, {32, 1, 1, 1}},
        {"empty", FFL_TYPE_F16, 2, {0, 4, 1, 1}},
        {"four.dims", FFL_TYPE_Q8_0, 4, {64, 1, 1, 2}},
        {"bytes", FFL_TYPE_I8, 1, {3, 1, 1, 1}},
    };
    uint64_t offset = 0, sizes[N_TENSORS];
    for (int i = 0; i < N_TENSORS; i++) {
        gb_cstr(&b, T[i].name);
        gb_u32(&b, T[i].n_dims);
        for (uint32_t d = 0; d < T[i].n_dims; d++) gb_u64(&b, T[i].ne[d]);
        gb_u32(&b, (uint32_t)T[i].type);
        gb_u64(&b, offset);
        sizes[i] = (uint64_t)ffl_type_row_bytes(T[i].type, (int64_t)T[i].ne[0]) * T[i].ne[1] * T[i].ne[2] * T[i].ne[3];
        offset = (offset + sizes[i] + alignment - 1) / alignment * alignment;
    }
    gb_pad(&b, alignment);
    for (int i = 0; i < N_TENSORS; i++) {
        for (uint64_t j = 0; j < sizes[i]; j++) gb_u8(&b, (uint8_t)(j * 7 + (uint64_t)i));
        gb_pad(&b, alignment);
    }
    return b;
}

/* ---- field map of a valid image ---- */

enum field_kind {
    F_KEY_LEN,     /* length of a metadata key */
    F_KV_TYPE,     /* value type of a metadata entry */
    F_STR_LEN,     /* length of a string value */
    F_ARR_TYPE,    /* element type of an array */
    F_ARR_COUNT,   /* element count of an array */
    F_ARR_STR_LEN, /* length of a string array element */
    F_SCALAR,      /* a scalar value */
    F_NAME_LEN,    /* length of a tensor name */
    F_N_DIMS,
    F_NE,
    F_T_TYPE,
    F_T_OFFSET,
    F_KIND_COUNT
};

typedef struct {
    uint64_t pos;
    int32_t index; /* metadata entry or tensor */
    int32_t aux;   /* value type / element type / element size, by kind */
} field;

typedef struct {
    field *f[F_KIND_COUNT];
    size_t n[F_KIND_COUNT], cap[F_KIND_COUNT];
    uint64_t kv_end, header_end;
} field_map;

static void fm_add(field_map *m, int kind, uint64_t pos, int32_t index, int32_t aux) {
    if (m->n[kind] == m->cap[kind]) {
        m->cap[kind] = m->cap[kind] ? m->cap[kind] * 2 : 64;
        m->f[kind] = realloc(m->f[kind], m->cap[kind] * sizeof(field));
        if (!m->f[kind]) exit(2);
    }
    m->f[kind][m->n[kind]++] = (field){pos, index, aux};
}

static void fm_free(field_map *m) {
    for (int k = 0; k < F_KIND_COUNT; k++) free(m->f[k]);
    memset(m, 0, sizeof *m);
}

/* Walks an image that is known to be valid (it parsed), recording each field's position. */
static field_map map_fields(const uint8_t *p) {
    field_map m;
    memset(&m, 0, sizeof m);
    uint64_t n_tensors = rd64(p + 8), n_kv = rd64(p + 16), pos = 24;
    for (uint64_t i = 0; i < n_kv; i++) {
        fm_add(&m, F_KEY_LEN, pos, (int32_t)i, 0);
        pos += 8 + rd64(p + pos);
        uint32_t type = rd32(p + pos);
        fm_add(&m, F_KV_TYPE, pos, (int32_t)i, (int32_t)type);
        pos += 4;
        if (type == FFL_GGUF_STRING) {
            fm_add(&m, F_STR_LEN, pos, (int32_t)i, 0);
            pos += 8 + rd64(p + pos);
        } else if (type == FFL_GGUF_ARRAY) {
            uint32_t elem = rd32(p + pos);
            fm_add(&m, F_ARR_TYPE, pos, (int32_t)i, (int32_t)elem);
            uint64_t count = rd64(p + pos + 4);
            fm_add(&m, F_ARR_COUNT, pos + 4, (int32_t)i, (int32_t)elem);
            pos += 12;
            if (elem == FFL_GGUF_STRING) {
                for (uint64_t j = 0; j < count; j++) {
                    fm_add(&m, F_ARR_STR_LEN, pos, (int32_t)i, 0);
                    pos += 8 + rd64(p + pos);
                }
            } else {
                pos += count * ffl_gguf_scalar_size((int32_t)elem);
            }
        } else {
            fm_add(&m, F_SCALAR, pos, (int32_t)i, (int32_t)ffl_gguf_scalar_size((int32_t)type));
            pos += ffl_gguf_scalar_size((int32_t)type);
        }
    }
    m.kv_end = pos;
    for (uint64_t i = 0; i < n_tensors; i++) {
        fm_add(&m, F_NAME_LEN, pos, (int32_t)i, 0);
        pos += 8 + rd64(p + pos);
        uint32_t n_dims = rd32(p + pos);
        fm_add(&m, F_N_DIMS, pos, (int32_t)i, 0);
        pos += 4;
        for (uint32_t d = 0; d < n_dims; d++, pos += 8) fm_add(&m, F_NE, pos, (int32_t)i, (int32_t)d);
        fm_add(&m, F_T_TYPE, pos, (int32_t)i, 0);
        fm_add(&m, F_T_OFFSET, pos + 4, (int32_t)i, 0);
        pos += 12;
    }
    m.header_end = pos;
    return m;
}

/* ---- invariants of a successful parse, checked through every accessor ---- */

static volatile uint64_t sink_sum; /* keeps the reads below from being optimised away */

static int is_pow2(uint64_t a) { return a && !(a & (a - 1)); }

/* Returns 1 when g satisfies every invariant the reader promises for an image of `size` bytes. */
static int check_parsed(const ffl_gguf *g, uint64_t size) {
    int ok = 1;
#define INV(c)                                                                         \
    do {                                                                               \
        if (!(c)) {                                                                    \
            if (ok) fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c); \
            ok = 0;                                                                    \
        }                                                                              \
    } while (0)
    INV(ffl_gguf_file_size(g) == size);
    INV(ffl_gguf_version(g) == 2 || ffl_gguf_version(g) == 3);
    INV(is_pow2(ffl_gguf_alignment(g)));
    INV(ffl_gguf_data_offset(g) <= size);
    const uint8_t *base = g->base;
    uint64_t sum = 0;
    int64_t n_kv = ffl_gguf_kv_count(g);
    INV(n_kv >= 0);
    for (int64_t i = 0; i < n_kv; i++) {
        const char *key = ffl_gguf_kv_key(g, i);
        INV(key != NULL);
        if (!key) continue;
        if (strlen(key) == g->kv[i].key.length) INV(ffl_gguf_find_key(g, key) == i);
        int32_t type = ffl_gguf_kv_type(g, i);
        INV(type >= 0 && type <= FFL_GGUF_FLOAT64);
        int64_t iv;
        double dv;
        const char *s;
        uint64_t len;
        if (type == FFL_GGUF_STRING) {
            INV(ffl_gguf_kv_get_string(g, i, &s, &len) == FFL_OK && s[len] == '\0');
            INV(len <= size);
            for (uint64_t j = 0; j < len; j++) sum += (uint8_t)s[j];
            INV(ffl_gguf_kv_get_int(g, i, &iv) != FFL_OK);
        } else if (type == FFL_GGUF_ARRAY) {
            int32_t et = ffl_gguf_kv_array_type(g, i);
            int64_t count = ffl_gguf_kv_array_length(g, i);
            INV(count >= 0 && et >= 0 && et <= FFL_GGUF_FLOAT64 && et != FFL_GGUF_ARRAY);
            if (et == FFL_GGUF_STRING) {
                INV(count <= (int64_t)(size / 8));
                for (int64_t j = 0; j < count; j++) {
                    INV(ffl_gguf_kv_get_array_string(g, i, j, &s, &len) == FFL_OK && s[len] == '\0');
                    sum += len ? (uint8_t)s[0] + (uint8_t)s[len - 1] : 0;
                }
                INV(ffl_gguf_kv_get_array_string(g, i, count, &s, &len) == FFL_ERR_OUT_OF_RANGE);
            } else {
                const void *data = NULL;
                uint64_t es = ffl_gguf_scalar_size(et);
                INV(ffl_gguf_kv_get_array_data(g, i, &data) == FFL_OK && data != NULL);
                INV((uint64_t)count * es <= size);
                INV(((uintptr_t)data % es) == 0); /* elements may be read in place as their C type */
                const uint8_t *d = data;
                for (uint64_t j = 0; j < (uint64_t)count * es; j++) sum += d[j];
            }
        } else {
            INV(ffl_gguf_kv_get_float(g, i, &dv) == FFL_OK);
            int st = ffl_gguf_kv_get_int(g, i, &iv);
            if (type == FFL_GGUF_FLOAT32 || type == FFL_GGUF_FLOAT64) INV(st == FFL_ERR_INVALID_ARGUMENT);
            else INV(st == FFL_OK || (type == FFL_GGUF_UINT64 && st == FFL_ERR_OUT_OF_RANGE));
        }
    }
    INV(ffl_gguf_kv_key(g, n_kv) == NULL && ffl_gguf_kv_type(g, -1) == -1);
    int64_t n_t = ffl_gguf_tensor_count(g);
    INV(n_t >= 0);
    for (int64_t i = 0; i < n_t; i++) {
        ffl_tensor_info t;
        INV(ffl_gguf_tensor_info(g, i, &t) == FFL_OK);
        INV(t.name != NULL);
        if (!t.name) continue;
        if (strlen(t.name) == g->tensors[i].name.length) INV(ffl_gguf_find_tensor(g, t.name) == i);
        INV(t.n_dims >= 1 && t.n_dims <= 4);
        INV(ffl_type_block_size(t.type) > 0);
        INV(t.ne0 >= 0 && t.ne1 >= 0 && t.ne2 >= 0 && t.ne3 >= 0);
        int64_t row = ffl_type_row_bytes(t.type, t.ne0);
        INV(row >= 0);
        INV(t.offset >= ffl_gguf_data_offset(g) && t.offset % ffl_gguf_alignment(g) == 0);
        INV(t.offset <= size && t.n_bytes <= size - t.offset); /* the data range lies inside the image */
        INV((const uint8_t *)t.data == base + t.offset);
        if (row >= 0 && t.ne1 && t.ne2 && t.ne3)
            INV(t.n_bytes / (uint64_t)t.ne1 / (uint64_t)t.ne2 / (uint64_t)t.ne3 == (uint64_t)row);
        if (t.n_bytes && t.offset <= size && t.n_bytes <= size - t.offset) {
            const uint8_t *d = t.data;
            sum += d[0] + d[t.n_bytes - 1];
        }
    }
    INV(ffl_gguf_tensor_info(g, n_t, &(ffl_tensor_info){0}) == FFL_ERR_OUT_OF_RANGE);
    /* lookups of names that may or may not be present agree with a linear scan */
    static const char *probes[] = {"\x01no such name", "general.alignment", "output.weight", "", "a"};
    for (size_t p = 0; p < sizeof probes / sizeof *probes; p++) {
        size_t n = strlen(probes[p]);
        int64_t key = -1, tensor = -1;
        for (int64_t i = 0; i < n_kv && key < 0; i++)
            if (g->kv[i].key.length == n && memcmp(g->kv[i].key.data, probes[p], n) == 0) key = i;
        for (int64_t i = 0; i < n_t && tensor < 0; i++)
            if (g->tensors[i].name.length == n && memcmp(g->tensors[i].name.data, probes[p], n) == 0) tensor = i;
        INV(ffl_gguf_find_key(g, probes[p]) == key && ffl_gguf_find_tensor(g, probes[p]) == tensor);
    }
    (void)ffl_gguf_get_int_or(g, "general.alignment", 0);
    (void)ffl_gguf_get_float_or(g, "t.f32", 0);
    (void)ffl_gguf_get_string_or(g, "general.architecture", "");
    sink_sum += sum;
#undef INV
    return ok;
}

/* Reads a whole file; exits the test when it cannot. */
static uint8_t *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open fixture %s\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(n > 0 ? (size_t)n : 1);
    if (!p || fread(p, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "cannot read fixture %s\n", path);
        exit(1);
    }
    fclose(f);
    *size = (size_t)n;
    return p;
}

#endif
