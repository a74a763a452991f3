/* Thousands of seeded corruptions of real fixtures and of a hand-made image: truncations, byte flips,
 * huge counts and lengths, bad types, out-of-range offsets, bad alignment, duplicate names. Each must
 * parse (and then satisfy every reader invariant, data ranges inside the image) or fail with a
 * format error whose message names the offset, and the key or tensor where one is involved.
 * Large fixtures are parsed in place (ffl_gguf_open_view: same parser, no 2 MB copy per mutation);
 * the hand-made image goes through ffl_gguf_open_memory, so both entry points are covered.
 * FFLAMA_CORRUPTION_SEED changes the seed; FFLAMA_CORRUPTION_SCALE (default 1) multiplies the counts. */
#include "fflama.h"
#include "gguf_test_image.h"
#include "test_util.h"

#include <inttypes.h>
#include <time.h>

typedef enum { EXPECT_ANY, EXPECT_ERROR, EXPECT_OK } expect;

static struct {
    long runs, accepted, rejected;
} totals, per_file;

static uint64_t rng_state;
static uint64_t rng(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint64_t rng_below(uint64_t n) { return n ? rng() % n : 0; }

static long reported;
#define FAIL(...)                                                  \
    do {                                                           \
        test_failures++;                                           \
        if (reported++ < 40) {                                     \
            fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);        \
            fprintf(stderr, __VA_ARGS__);                          \
            fputc('\n', stderr);                                   \
        }                                                          \
    } while (0)

/* Images of exactly view_size bytes (a whole allocation, so reads past its end still trip ASan) are
 * parsed in place when use_view is set; prefixes and shifted copies always go through a copy of
 * exactly their own length. */
static int use_view;
static size_t view_size;

/* Parses img[0..n) and checks the outcome. `mention` must appear in an error message (NULL: only "offset"). */
static void run(const uint8_t *img, size_t n, expect e, const char *mention, const char *what, uint64_t where) {
    ffl_gguf *g = (ffl_gguf *)(uintptr_t)1; /* must be reset to NULL on failure */
    int st = use_view && n == view_size ? ffl_gguf_open_view(img, n, &g) : ffl_gguf_open_memory(img, n, &g);
    test_checks++;
    per_file.runs++;
    if (st == FFL_OK) {
        per_file.accepted++;
        if (!g) FAIL("%s @%" PRIu64 ": FFL_OK without a handle", what, where);
        else {
            if (e == EXPECT_ERROR) FAIL("%s @%" PRIu64 ": accepted, expected an error", what, where);
            if (!check_parsed(g, n)) FAIL("%s @%" PRIu64 ": invariants broken after a successful parse", what, where);
            ffl_gguf_close(g);
        }
        return;
    }
    per_file.rejected++;
    const char *msg = ffl_last_error();
    if (g) FAIL("%s @%" PRIu64 ": error %d left a handle", what, where, st);
    if (st != FFL_ERR_FORMAT && st != FFL_ERR_UNSUPPORTED)
        FAIL("%s @%" PRIu64 ": unexpected status %s (%s)", what, where, ffl_status_name(st), msg);
    if (e == EXPECT_OK) FAIL("%s @%" PRIu64 ": rejected, expected success: %s", what, where, msg);
    if (!msg[0]) FAIL("%s @%" PRIu64 ": empty error message", what, where);
    if (!strstr(msg, "offset")) FAIL("%s @%" PRIu64 ": message names no offset: %s", what, where, msg);
    if (mention && !strstr(msg, mention)) FAIL("%s @%" PRIu64 ": message does not mention '%s': %s", what, where, mention, msg);
}

/* ---- what a parse of the original tells us ---- */

typedef struct {
    const char *label;
    uint8_t *img; /* working copy, mutated in place and restored */
    size_t size;
    field_map m;
    uint64_t data_offset, alignment, required_end;
    int64_t n_kv, n_tensors;
    char **keys;        /* printable key of entry i, or NULL when it holds a NUL or is too long to appear whole */
    char **names;       /* same for tensors */
    uint64_t *t_bytes;  /* n_bytes of tensor i */
    int64_t alignment_kv;
} subject;

static char *printable(const char *s, uint64_t len) {
    if (strlen(s) != len || len > 90) return NULL;
    return strdup(s);
}

static int load_subject(subject *s, const char *label, uint8_t *img, size_t size) {
    memset(s, 0, sizeof *s);
    s->label = label;
    s->img = img;
    s->size = size;
    ffl_gguf *g = NULL;
    int st = ffl_gguf_open_memory(img, size, &g);
    CHECK_MSG(st == FFL_OK, "%s: original does not parse: %s", label, ffl_last_error());
    if (st) return 0;
    s->m = map_fields(img);
    s->data_offset = ffl_gguf_data_offset(g);
    s->alignment = ffl_gguf_alignment(g);
    s->n_kv = ffl_gguf_kv_count(g);
    s->n_tensors = ffl_gguf_tensor_count(g);
    CHECK(s->m.header_end <= size && s->m.n[F_KEY_LEN] == (size_t)s->n_kv && s->m.n[F_NAME_LEN] == (size_t)s->n_tensors);
    s->keys = calloc((size_t)s->n_kv + 1, sizeof *s->keys);
    s->names = calloc((size_t)s->n_tensors + 1, sizeof *s->names);
    s->t_bytes = calloc((size_t)s->n_tensors + 1, sizeof *s->t_bytes);
    s->alignment_kv = ffl_gguf_find_key(g, "general.alignment");
    for (int64_t i = 0; i < s->n_kv; i++) s->keys[i] = printable(ffl_gguf_kv_key(g, i), g->kv[i].key.length);
    s->required_end = s->m.header_end;
    for (int64_t i = 0; i < s->n_tensors; i++) {
        ffl_tensor_info t;
        ffl_gguf_tensor_info(g, i, &t);
        s->names[i] = printable(t.name, g->tensors[i].name.length);
        s->t_bytes[i] = t.n_bytes;
        if (t.offset + t.n_bytes > s->required_end) s->required_end = t.offset + t.n_bytes;
    }
    CHECK(check_parsed(g, size));
    ffl_gguf_close(g);
    return 1;
}

static void free_subject(subject *s) {
    for (int64_t i = 0; i < s->n_kv; i++) free(s->keys[i]);
    for (int64_t i = 0; i < s->n_tensors; i++) free(s->names[i]);
    free(s->keys);
    free(s->names);
    free(s->t_bytes);
    fm_free(&s->m);
}

/* ---- mutation helpers: write, run, restore ---- */

static void with_u64(subject *s, uint64_t pos, uint64_t v, expect e, const char *mention, const char *what) {
    uint8_t save[8];
    memcpy(save, s->img + pos, 8);
    wr64(s->img + pos, v);
    run(s->img, s->size, e, mention, what, pos);
    memcpy(s->img + pos, save, 8);
}

static void with_u32(subject *s, uint64_t pos, uint32_t v, expect e, const char *mention, const char *what) {
    uint8_t save[4];
    memcpy(save, s->img + pos, 4);
    wr32(s->img + pos, v);
    run(s->img, s->size, e, mention, what, pos);
    memcpy(s->img + pos, save, 4);
}

/* Indices of up to k fields of a kind: all when there are few, else a seeded sample. */
static size_t pick(const subject *s, int kind, size_t k, size_t *out) {
    size_t n = s->m.n[kind];
    if (n <= k) {
        for (size_t i = 0; i < n; i++) out[i] = i;
        return n;
    }
    for (size_t i = 0; i < k; i++) out[i] = (size_t)rng_below(n);
    return k;
}

static uint64_t interesting(subject *s, uint64_t orig) {
    static const uint64_t fixed[] = {0, 1, 2, 3, 7, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000,
                                     0xffffffff, 0x100000000ull, 0x7fffffffffffffffull, 0x8000000000000000ull,
                                     0xffffffffffffffffull, 0x2000000000000000ull, 0x4000000000000000ull};
    switch (rng_below(6)) {
    case 0: return orig + 1;
    case 1: return orig - 1;
    case 2: return orig ^ (1ull << rng_below(64));
    case 3: return (uint64_t)s->size + rng_below(3) - 1;
    case 4: return orig + 0x100000000ull; /* same low 32 bits: catches 32-bit truncation */
    default: return fixed[rng_below(sizeof fixed / sizeof *fixed)];
    }
}

/* ---- mutation families ---- */

static void truncations(subject *s, uint64_t every_up_to, long sampled) {
    uint64_t limit = every_up_to < s->size ? every_up_to : s->size;
    for (uint64_t t = 0; t <= limit; t++)
        run(s->img, (size_t)t, t < s->required_end ? EXPECT_ERROR : EXPECT_OK, NULL, "truncation", t);
    for (long k = 0; k < sampled && limit < s->size; k++) {
        uint64_t t = limit + 1 + rng_below(s->size - limit);
        run(s->img, (size_t)t, t < s->required_end ? EXPECT_ERROR : EXPECT_OK, NULL, "sampled truncation", t);
    }
}

static void header_fields(subject *s) {
    for (int i = 0; i < 4; i++) {
        uint8_t save = s->img[i];
        s->img[i] ^= (uint8_t)(1 + rng_below(255));
        run(s->img, s->size, EXPECT_ERROR, "offset 0", "magic", (uint64_t)i);
        s->img[i] = save;
    }
    static const uint32_t bad_versions[] = {0, 1, 4, 5, 0x02000000, 0x03000000, 0xffffffff, 0x80000003};
    for (size_t i = 0; i < sizeof bad_versions / sizeof *bad_versions; i++)
        with_u32(s, 4, bad_versions[i], EXPECT_ERROR, "offset 4", "version");
    with_u32(s, 4, 2, EXPECT_OK, NULL, "version 2"); /* v2 has the v3 layout */
    uint64_t huge[] = {UINT64_MAX, 1ull << 63, 1ull << 32, (uint64_t)s->size, (uint64_t)s->size / 13 + 1};
    for (size_t i = 0; i < sizeof huge / sizeof *huge; i++) {
        with_u64(s, 8, huge[i], EXPECT_ERROR, "offset", "tensor count");
        with_u64(s, 16, huge[i], EXPECT_ERROR, "offset", "metadata count");
    }
    uint64_t n_t = rd64(s->img + 8), n_kv = rd64(s->img + 16);
    with_u64(s, 8, n_t + 1, EXPECT_ANY, NULL, "tensor count + 1");
    with_u64(s, 16, n_kv + 1, EXPECT_ANY, NULL, "metadata count + 1");
    with_u64(s, 8, n_t + 0x100000000ull, EXPECT_ERROR, NULL, "tensor count + 2^32");
    with_u64(s, 16, n_kv + 0x100000000ull, EXPECT_ERROR, NULL, "metadata count + 2^32");
    if (n_t) with_u64(s, 8, n_t - 1, EXPECT_ANY, NULL, "tensor count - 1");
    if (n_kv) with_u64(s, 16, n_kv - 1, EXPECT_ANY, NULL, "metadata count - 1");
}

/* Lengths of keys, names and strings: past the bytes left is always an error. */
static void lengths(subject *s, size_t per_kind) {
    static const int kinds[] = {F_KEY_LEN, F_STR_LEN, F_ARR_STR_LEN, F_NAME_LEN};
    size_t idx[512];
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        size_t n = pick(s, kinds[k], per_kind, idx);
        for (size_t i = 0; i < n; i++) {
            const field *f = &s->m.f[kinds[k]][idx[i]];
            uint64_t orig = rd64(s->img + f->pos), left = s->size - f->pos - 8;
            uint64_t vals[] = {UINT64_MAX, 1ull << 63, orig + 0x100000000ull, left + 1, (uint64_t)s->size, interesting(s, orig),
                               interesting(s, orig)};
            for (size_t v = 0; v < sizeof vals / sizeof *vals; v++)
                with_u64(s, f->pos, vals[v], vals[v] > left ? EXPECT_ERROR : EXPECT_ANY, NULL, "string length");
        }
    }
}

static void kv_types(subject *s, size_t per_kind) {
    size_t idx[512];
    size_t n = pick(s, F_KV_TYPE, per_kind, idx);
    for (size_t i = 0; i < n; i++) {
        const field *f = &s->m.f[F_KV_TYPE][idx[i]];
        const char *key = s->keys[f->index];
        uint32_t bad[] = {13, 14, 255, 0x80000000u, 0xffffffffu};
        for (size_t v = 0; v < sizeof bad / sizeof *bad; v++) with_u32(s, f->pos, bad[v], EXPECT_ERROR, key, "value type");
        with_u32(s, f->pos, (uint32_t)rng_below(13), EXPECT_ANY, NULL, "other value type");
    }
    n = pick(s, F_ARR_TYPE, per_kind, idx);
    for (size_t i = 0; i < n; i++) {
        const field *f = &s->m.f[F_ARR_TYPE][idx[i]];
        const char *key = s->keys[f->index];
        with_u32(s, f->pos, FFL_GGUF_ARRAY, EXPECT_ERROR, "nested", "nested array");
        with_u32(s, f->pos, 13, EXPECT_ERROR, key, "element type");
        with_u32(s, f->pos, 0xffffffffu, EXPECT_ERROR, key, "element type");
        with_u32(s, f->pos, (uint32_t)rng_below(13), EXPECT_ANY, NULL, "other element type");
    }
    n = pick(s, F_ARR_COUNT, per_kind, idx);
    for (size_t i = 0; i < n; i++) {
        const field *f = &s->m.f[F_ARR_COUNT][idx[i]];
        uint64_t left = s->size - f->pos - 8, orig = rd64(s->img + f->pos);
        uint64_t es = f->aux == FFL_GGUF_STRING ? 8 : ffl_gguf_scalar_size(f->aux);
        /* counts whose byte size wraps around 2^64 to something small */
        uint64_t vals[] = {UINT64_MAX, UINT64_MAX / es + 1, (UINT64_MAX / es + 1) + 1, 1ull << 61, 1ull << 62,
                           orig + 0x100000000ull, left / es + 1, interesting(s, orig), orig + 1};
        for (size_t v = 0; v < sizeof vals / sizeof *vals; v++) {
            int too_big = vals[v] > left / es;
            with_u64(s, f->pos, vals[v], too_big ? EXPECT_ERROR : EXPECT_ANY, NULL, "array count");
        }
    }
    n = pick(s, F_SCALAR, per_kind, idx);
    for (size_t i = 0; i < n; i++) {
        const field *f = &s->m.f[F_SCALAR][idx[i]];
        uint8_t save[8];
        memcpy(save, s->img + f->pos, (size_t)f->aux);
        for (int b = 0; b < f->aux; b++) s->img[f->pos + b] = (uint8_t)rng();
        run(s->img, s->size, f->index == s->alignment_kv ? EXPECT_ANY : EXPECT_OK, NULL, "scalar value", f->pos);
        memcpy(s->img + f->pos, save, (size_t)f->aux);
    }
}

static void tensor_fields(subject *s, size_t per_kind) {
    size_t idx[512];
    size_t n = pick(s, F_N_DIMS, per_kind, idx);
    for (size_t i = 0; i < n; i++) {
        const field *f = &s->m.f[F_N_DIMS][idx[i]];
        const char *name = s->names[f->index];
        uint32_t bad[] = {0, 5, 64, 0x80000000u, 0xffffffffu};
        for (size_t v = 0; v < sizeof bad / sizeof *bad; v++) with_u32(s, f->pos, bad[v], EXPECT_ERROR, name, "n_dims");
        with_u32(s, f->pos, 1 + (uint32_t)rng_below(4), EXPECT_ANY, NULL, "other n_dims");
    }
    n = pick(s, F_NE, per_kind, idx);
    for (size_t i = 0; i < n; i++) {
        const field *f = &s->m.f[F_NE][idx[i]];
        const char *name = s->names[f->index];
        uint64_t orig = rd64(s->img + f->pos);
        with_u64(s, f->pos, 0, EXPECT_OK, NULL, "zero extent"); /* a zero-size tensor is valid */
        with_u64(s, f->pos, 1ull << 63, EXPECT_ERROR, name, "extent 2^63");
        with_u64(s, f->pos, UINT64_MAX, EXPECT_ERROR, name, "extent 2^64-1");
        /* a tensor that stays empty (another extent is 0) may grow any extent without needing bytes */
        expect grows = s->t_bytes[f->index] ? EXPECT_ERROR : EXPECT_ANY;
        with_u64(s, f->pos, 1ull << 40, grows, NULL, "extent 2^40");
        with_u64(s, f->pos, orig + 0x100000000ull, grows, NULL, "extent + 2^32");
        with_u64(s, f->pos, interesting(s, orig), EXPECT_ANY, NULL, "other extent");
        if (f->aux == 0) {
            /* the tensor's type field follows its extents */
            const field *t = NULL;
            for (size_t j = 0; j < s->m.n[F_T_TYPE]; j++)
                if (s->m.f[F_T_TYPE][j].index == f->index) t = &s->m.f[F_T_TYPE][j];
            int64_t block = t ? ffl_type_block_size((int32_t)rd32(s->img + t->pos)) : 1;
            if (block > 1) with_u64(s, f->pos, orig + 1, EXPECT_ERROR, name, "row not a multiple of the block");
        }
    }
    n = pick(s, F_T_TYPE, per_kind, idx);
    for (size_t i = 0; i < n; i++) {
        const field *f = &s->m.f[F_T_TYPE][idx[i]];
        const char *name = s->names[f->index];
        uint32_t unknown[] = {4, 5, 31, 32, 33, 36, 37, 38, 39, 40, 1000, 0x80000000u, 0xffffffffu};
        for (size_t v = 0; v < sizeof unknown / sizeof *unknown; v++)
            with_u32(s, f->pos, unknown[v], EXPECT_ERROR, name, "unknown tensor type");
        uint32_t known;
        do known = (uint32_t)rng_below(FFL_TYPE_COUNT);
        while (ffl_type_block_size((int32_t)known) == 0);
        with_u32(s, f->pos, known, EXPECT_ANY, NULL, "other tensor type");
    }
    n = pick(s, F_T_OFFSET, per_kind, idx);
    for (size_t i = 0; i < n; i++) {
        const field *f = &s->m.f[F_T_OFFSET][idx[i]];
        const char *name = s->names[f->index];
        uint64_t orig = rd64(s->img + f->pos), D = s->data_offset, A = s->alignment, N = s->t_bytes[f->index];
        uint64_t vals[] = {UINT64_MAX, UINT64_MAX - D + 1 /* wraps to 0 */, (UINT64_MAX - D + 1) & ~(A - 1), 1ull << 63,
                           (uint64_t)s->size, s->size - D, (s->size - D) & ~(A - 1), orig + 1, orig + A, orig - A,
                           orig + 0x100000000ull, interesting(s, orig), 0};
        for (size_t v = 0; v < sizeof vals / sizeof *vals; v++) {
            uint64_t start, end;
            int ok = vals[v] % A == 0 && !__builtin_add_overflow(D, vals[v], &start) &&
                     !__builtin_add_overflow(start, N, &end) && end <= s->size;
            with_u64(s, f->pos, vals[v], ok ? EXPECT_OK : EXPECT_ERROR, ok ? NULL : name, "tensor offset");
        }
    }
}

/* Makes entry j's name equal to entry i's (same length): always a duplicate error naming it. */
static void duplicates(subject *s, int kind, char **printable_names, const char *label, size_t max_pairs) {
    size_t n = s->m.n[kind], done = 0;
    for (size_t tries = 0; tries < 20000 && done < max_pairs && n > 1; tries++) {
        size_t i = (size_t)rng_below(n), j = (size_t)rng_below(n);
        if (i == j) continue;
        const field *a = &s->m.f[kind][i], *b = &s->m.f[kind][j];
        uint64_t len = rd64(s->img + a->pos);
        if (rd64(s->img + b->pos) != len || memcmp(s->img + a->pos + 8, s->img + b->pos + 8, (size_t)len) == 0) continue;
        uint8_t *save = malloc(len ? (size_t)len : 1);
        memcpy(save, s->img + b->pos + 8, (size_t)len);
        memcpy(s->img + b->pos + 8, s->img + a->pos + 8, (size_t)len);
        run(s->img, s->size, EXPECT_ERROR, "duplicate", label, b->pos);
        if (printable_names[a->index]) run(s->img, s->size, EXPECT_ERROR, printable_names[a->index], label, b->pos);
        memcpy(s->img + b->pos + 8, save, (size_t)len);
        free(save);
        done++;
    }
}

/* general.alignment: the real key when the image has one, else a uint32 key of the same length renamed to it. */
static void alignment_values(subject *s) {
    static const char KEY[] = "general.alignment";
    const field *val = NULL, *type = NULL;
    uint64_t key_pos = 0;
    uint8_t saved_key[sizeof KEY - 1];
    int renamed = 0;
    for (size_t i = 0; i < s->m.n[F_KV_TYPE] && !val; i++) {
        const field *t = &s->m.f[F_KV_TYPE][i];
        const field *k = &s->m.f[F_KEY_LEN][t->index];
        int is_it = t->index == s->alignment_kv;
        int can_rename = s->alignment_kv < 0 && t->aux == FFL_GGUF_UINT32 && rd64(s->img + k->pos) == sizeof KEY - 1;
        if (!is_it && !can_rename) continue;
        type = t;
        for (size_t j = 0; j < s->m.n[F_SCALAR]; j++)
            if (s->m.f[F_SCALAR][j].index == t->index) val = &s->m.f[F_SCALAR][j];
        if (can_rename) {
            key_pos = k->pos + 8;
            memcpy(saved_key, s->img + key_pos, sizeof saved_key);
            memcpy(s->img + key_pos, KEY, sizeof saved_key);
            renamed = 1;
        }
    }
    if (!val) return;
    uint32_t bad[] = {0, 3, 5, 6, 12, 48, 96, 100, 0x80000001u, 0xffffffffu};
    for (size_t v = 0; v < sizeof bad / sizeof *bad; v++) with_u32(s, val->pos, bad[v], EXPECT_ERROR, KEY, "bad alignment");
    for (uint32_t a = 1; a <= (1u << 31) && a; a <<= 1) with_u32(s, val->pos, a, EXPECT_ANY, NULL, "power-of-two alignment");
    if (s->n_tensors) with_u32(s, val->pos, 1u << 31, EXPECT_ERROR, NULL, "alignment past the end");
    /* same-sized wrong types must be refused by name; other sizes shift the parse and just must not crash */
    with_u32(s, type->pos, FFL_GGUF_INT32, EXPECT_ERROR, KEY, "alignment as int32");
    with_u32(s, type->pos, FFL_GGUF_FLOAT32, EXPECT_ERROR, KEY, "alignment as float32");
    for (uint32_t t = 0; t <= FFL_GGUF_FLOAT64; t++) with_u32(s, type->pos, t, EXPECT_ANY, NULL, "alignment type");
    if (renamed) {
        uint32_t orig = rd32(s->img + val->pos);
        run(s->img, s->size, is_pow2(orig) ? EXPECT_ANY : EXPECT_ERROR, is_pow2(orig) ? NULL : KEY, "renamed alignment key",
            key_pos);
        memcpy(s->img + key_pos, saved_key, sizeof saved_key);
    }
}

/* Random damage: 1 to 4 bytes in the header region (sometimes anywhere), or a random field overwritten. */
static void random_damage(subject *s, long count) {
    uint64_t region = s->m.header_end ? s->m.header_end : s->size;
    for (long k = 0; k < count; k++) {
        uint64_t pos[4];
        uint8_t save[4];
        int n = 1 + (int)rng_below(4);
        for (int i = 0; i < n; i++) {
            pos[i] = rng_below(8) == 0 ? rng_below(s->size) : rng_below(region);
            save[i] = s->img[pos[i]];
            s->img[pos[i]] = rng_below(2) ? (uint8_t)(s->img[pos[i]] ^ (1u << rng_below(8))) : (uint8_t)rng();
        }
        run(s->img, s->size, EXPECT_ANY, NULL, "random bytes", pos[0]);
        for (int i = n - 1; i >= 0; i--) s->img[pos[i]] = save[i];
    }
    for (long k = 0; k < count / 2; k++) {
        int kind = (int)rng_below(F_KIND_COUNT);
        if (!s->m.n[kind]) continue;
        const field *f = &s->m.f[kind][rng_below(s->m.n[kind])];
        int wide = kind == F_KEY_LEN || kind == F_STR_LEN || kind == F_ARR_STR_LEN || kind == F_NAME_LEN ||
                   kind == F_ARR_COUNT || kind == F_NE || kind == F_T_OFFSET;
        if (wide) with_u64(s, f->pos, interesting(s, rd64(s->img + f->pos)), EXPECT_ANY, NULL, "random field");
        else if (kind != F_SCALAR) with_u32(s, f->pos, (uint32_t)interesting(s, rd32(s->img + f->pos)), EXPECT_ANY, NULL, "random field");
    }
}

/* Inserted or deleted bytes shift everything after them. */
static void shifts(subject *s, long count) {
    uint8_t *buf = malloc(s->size + 8);
    for (long k = 0; k < count; k++) {
        uint64_t at = rng_below(s->m.header_end ? s->m.header_end : s->size);
        size_t n;
        if (rng_below(2)) { /* delete 1..8 bytes */
            uint64_t d = 1 + rng_below(8);
            if (at + d > s->size) d = s->size - at;
            memcpy(buf, s->img, (size_t)at);
            memcpy(buf + at, s->img + at + d, (size_t)(s->size - at - d));
            n = s->size - (size_t)d;
        } else { /* insert 1..8 random bytes */
            uint64_t d = 1 + rng_below(8);
            memcpy(buf, s->img, (size_t)at);
            for (uint64_t i = 0; i < d; i++) buf[at + i] = (uint8_t)rng();
            memcpy(buf + at + d, s->img + at, (size_t)(s->size - at));
            n = s->size + (size_t)d;
        }
        run(buf, n, EXPECT_ANY, NULL, "shifted bytes", at);
    }
    free(buf);
}

typedef struct {
    uint64_t every_truncation; /* every truncation point up to here */
    long sampled_truncations, per_kind, random, shifts, dup_pairs;
} budget;

static long scale = 1;

static void mutate(const char *label, uint8_t *img, size_t size, budget b) {
    subject s;
    memset(&per_file, 0, sizeof per_file);
    clock_t t0 = clock();
    if (!load_subject(&s, label, img, size)) return;
    truncations(&s, b.every_truncation, b.sampled_truncations * scale);
    header_fields(&s);
    lengths(&s, (size_t)b.per_kind);
    kv_types(&s, (size_t)b.per_kind);
    tensor_fields(&s, (size_t)b.per_kind);
    duplicates(&s, F_KEY_LEN, s.keys, "duplicate key", (size_t)b.dup_pairs);
    duplicates(&s, F_NAME_LEN, s.names, "duplicate tensor", (size_t)b.dup_pairs);
    alignment_values(&s);
    random_damage(&s, b.random * scale);
    shifts(&s, b.shifts * scale);
    printf("%-28s %7ld mutations: %6ld parsed, %6ld rejected (%.2f s)\n", label, per_file.runs, per_file.accepted,
           per_file.rejected, (double)(clock() - t0) / CLOCKS_PER_SEC);
    totals.runs += per_file.runs;
    totals.accepted += per_file.accepted;
    totals.rejected += per_file.rejected;
    free_subject(&s);
}

static void fixture(const char *rel, budget b) {
    char path[1024];
    size_t size;
    uint8_t *img = read_file(testdata_path(path, sizeof path, rel), &size);
    uint8_t *orig = malloc(size);
    memcpy(orig, img, size);
    use_view = 1;
    view_size = size;
    mutate(rel, img, size, b);
    use_view = 0;
    CHECK_MSG(memcmp(orig, img, size) == 0, "%s: a mutation was not restored", rel);
    free(orig);
    free(img);
}

int main(void) {
    const char *seed_env = getenv("FFLAMA_CORRUPTION_SEED"), *scale_env = getenv("FFLAMA_CORRUPTION_SCALE");
    uint64_t seed = seed_env && *seed_env ? strtoull(seed_env, NULL, 0) : 0x6767756675ull;
    if (scale_env && atol(scale_env) > 0) scale = atol(scale_env);
    printf("seed %" PRIu64 " scale %ld\n", seed, scale);

    /* the hand-made image: every value type, alignment 64, a zero-size tensor; cheap, so mutated hardest */
    for (uint32_t align = 8; align <= 64; align *= 8) {
        rng_state = seed + align;
        gbuf syn = build_synthetic(align);
        char label[64];
        snprintf(label, sizeof label, "synthetic (alignment %u)", align);
        mutate(label, syn.p, syn.n, (budget){UINT64_MAX, 0, 64, 6000, 1000, 50});
        free(syn.p);
    }
    rng_state = seed + 1;
    fixture("models/stories260K-f32.gguf", (budget){16384, 150, 64, 4000, 300, 60});
    rng_state = seed + 2;
    fixture("models/llama-dense-q4_k_m.gguf", (budget){4096, 100, 48, 3000, 200, 60});
    rng_state = seed + 3;
    fixture("vocab/ggml-vocab-gpt-2.gguf", (budget){2048, 60, 16, 150, 20, 20});

    printf("total: %ld mutations, %ld parsed, %ld rejected\n", totals.runs, totals.accepted, totals.rejected);
    CHECK(totals.runs > 10000);
    return test_finish("test_gguf_corruption");
}
