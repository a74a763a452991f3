/* In-core view of a parsed GGUF file, shared by the reader, the writer and the model loader. */
#ifndef FFL_GGUF_INTERNAL_H
#define FFL_GGUF_INTERNAL_H

#include "fflama.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *data; /* NUL-terminated copy */
    uint64_t length;  /* bytes, excluding the NUL */
} ffl_gguf_str;

typedef struct {
    ffl_gguf_str key;
    int32_t type; /* ffl_gguf_value_type */
    union {
        uint64_t u64;
        int64_t i64;
        double f64;
    } num;                 /* scalar numbers and bools, widened by their signedness */
    uint8_t raw_scalar[8]; /* the scalar's own bytes, little-endian */
    ffl_gguf_str str;      /* FFL_GGUF_STRING */
    int32_t array_type;    /* FFL_GGUF_ARRAY: element type */
    uint64_t array_count;
    const uint8_t *array_data; /* numeric arrays: packed elements inside the file image */
    ffl_gguf_str *array_strings; /* string arrays */
} ffl_gguf_kv;

typedef struct {
    ffl_gguf_str name;
    int32_t type;
    int32_t n_dims;
    int64_t ne[4];
    uint64_t rel_offset; /* from the start of the data section */
    uint64_t n_bytes;
} ffl_gguf_tensor;

struct ffl_gguf {
    const uint8_t *base; /* file image */
    uint64_t size;
    int mapped;          /* base came from mmap */
    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset;
    int64_t n_kv;
    ffl_gguf_kv *kv;
    int64_t n_tensors;
    ffl_gguf_tensor *tensors;
    char *string_pool; /* every copied string lives here */
    int64_t *sorted_tensors; /* tensor indices sorted by name, for lookup */
};

/* Byte size of one element of a numeric/bool value type, 0 for string/array/unknown. */
uint64_t ffl_gguf_scalar_size(int32_t value_type);
const char *ffl_gguf_type_name(int32_t value_type);
/* Pointer to a tensor's bytes. */
const void *ffl_gguf_tensor_data(const ffl_gguf *g, int64_t index);
/* Convenience lookups used by loaders: return def when the key is absent or has another type. */
int64_t ffl_gguf_get_int_or(const ffl_gguf *g, const char *key, int64_t def);
double ffl_gguf_get_float_or(const ffl_gguf *g, const char *key, double def);
const char *ffl_gguf_get_string_or(const ffl_gguf *g, const char *key, const char *def);

#ifdef __cplusplus
}
#endif

#endif
