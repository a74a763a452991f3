/* In-core view of a parsed GGUF file, shared by the reader, the writer and the model loader. */
#ifndef FFL_GGUF_INTERNAL_H
#define FFL_GGUF_INTERNAL_H

#include "fflama.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FFL_GGUF_MAX_DIMS 4
#define FFL_GGUF_DEFAULT_ALIGNMENT 32

typedef struct {
    const char *data; /* NUL-terminated copy */
    uint64_t length;  /* bytes, excluding the NUL (the string itself may hold NULs) */
} ffl_gguf_str;

typedef struct {
    ffl_gguf_str key;
    uint64_t file_offset; /* where the entry starts, for messages */
    int32_t type;         /* ffl_gguf_value_type */
    union {
        uint64_t u64;
        int64_t i64;
        double f64;
    } num;                 /* scalar numbers and bools, widened by their signedness */
    uint8_t raw_scalar[8]; /* the scalar's own bytes, little-endian */
    ffl_gguf_str str;      /* FFL_GGUF_STRING */
    int32_t array_type;    /* FFL_GGUF_ARRAY: element type */
    uint64_t array_count;
    /* numeric arrays: packed little-endian elements, aligned to the element size (inside the
     * file image when it is aligned there, else an aligned copy owned by the ffl_gguf) */
    const uint8_t *array_data;
    ffl_gguf_str *array_strings; /* string arrays */
} ffl_gguf_kv;

typedef struct {
    ffl_gguf_str name;
    uint64_t file_offset; /* where the tensor info starts, for messages */
    int32_t type;
    int32_t n_dims;
    int64_t ne[FFL_GGUF_MAX_DIMS];
    uint64_t rel_offset; /* from the start of the data section; a multiple of the alignment */
    uint64_t n_bytes;
} ffl_gguf_tensor;

/* Invariants after a successful parse: every string, array and tensor range lies inside
 * [base, base + size); keys and tensor names are unique; alignment is a power of two;
 * data_offset <= size and is a multiple of alignment (or equals size when there are no tensors).
 * Tensor data is aligned to `alignment` relative to the image start (mmap is page aligned,
 * in-memory copies are malloc aligned); alignment may legally be as small as 1. */
struct ffl_gguf {
    const uint8_t *base; /* file image */
    uint64_t size;
    int mapped;          /* base came from mmap */
    int file_mapped;     /* base maps the file itself: dropped pages read back from it */
    int borrowed;        /* base belongs to the caller (ffl_gguf_open_view) */
    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset;
    int64_t n_kv;
    ffl_gguf_kv *kv;
    int64_t n_tensors;
    ffl_gguf_tensor *tensors;
    char *string_pool;       /* arena holding every copied string and aligned array copy */
    int64_t *sorted_tensors; /* tensor indices sorted by name, for lookup */
    int64_t *sorted_kv;      /* metadata indices sorted by key, for lookup */
};

/* Parses size bytes at data without copying them: they must stay alive and unchanged until
 * ffl_gguf_close. Same validation as ffl_gguf_open_memory. */
int32_t ffl_gguf_open_view(const void *data, uint64_t size, ffl_gguf **out);
/* Byte size of one element of a numeric/bool value type, 0 for string/array/unknown. */
uint64_t ffl_gguf_scalar_size(int32_t value_type);
const char *ffl_gguf_type_name(int32_t value_type);
/* Pointer to a tensor's bytes, or NULL when index is out of range. */
const void *ffl_gguf_tensor_data(const ffl_gguf *g, int64_t index);
/* Convenience lookups used by loaders: return def when the key is absent or has another type. */
int64_t ffl_gguf_get_int_or(const ffl_gguf *g, const char *key, int64_t def);
double ffl_gguf_get_float_or(const ffl_gguf *g, const char *key, double def);
const char *ffl_gguf_get_string_or(const ffl_gguf *g, const char *key, const char *def);

#ifdef __cplusplus
}
#endif

#endif
