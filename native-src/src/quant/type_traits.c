/* Sizes and names of the ggml tensor types as GGUF stores them. */
#include "common/ffl_internal.h"

#include <ctype.h>
#include <string.h>

typedef struct {
    const char *name;
    int64_t block_size;
    int64_t block_bytes;
} type_info;

static const type_info TYPES[FFL_TYPE_COUNT] = {
    [FFL_TYPE_F32] = {"f32", 1, 4},
    [FFL_TYPE_F16] = {"f16", 1, 2},
    [FFL_TYPE_Q4_0] = {"q4_0", 32, 18},
    [FFL_TYPE_Q4_1] = {"q4_1", 32, 20},
    [FFL_TYPE_Q5_0] = {"q5_0", 32, 22},
    [FFL_TYPE_Q5_1] = {"q5_1", 32, 24},
    [FFL_TYPE_Q8_0] = {"q8_0", 32, 34},
    [FFL_TYPE_Q8_1] = {"q8_1", 32, 36},
    [FFL_TYPE_Q2_K] = {"q2_K", 256, 84},
    [FFL_TYPE_Q3_K] = {"q3_K", 256, 110},
    [FFL_TYPE_Q4_K] = {"q4_K", 256, 144},
    [FFL_TYPE_Q5_K] = {"q5_K", 256, 176},
    [FFL_TYPE_Q6_K] = {"q6_K", 256, 210},
    [FFL_TYPE_Q8_K] = {"q8_K", 256, 292},
    [FFL_TYPE_IQ2_XXS] = {"iq2_xxs", 256, 66},
    [FFL_TYPE_IQ2_XS] = {"iq2_xs", 256, 74},
    [FFL_TYPE_IQ3_XXS] = {"iq3_xxs", 256, 98},
    [FFL_TYPE_IQ1_S] = {"iq1_s", 256, 50},
    [FFL_TYPE_IQ4_NL] = {"iq4_nl", 32, 18},
    [FFL_TYPE_IQ3_S] = {"iq3_s", 256, 110},
    [FFL_TYPE_IQ2_S] = {"iq2_s", 256, 82},
    [FFL_TYPE_IQ4_XS] = {"iq4_xs", 256, 136},
    [FFL_TYPE_I8] = {"i8", 1, 1},
    [FFL_TYPE_I16] = {"i16", 1, 2},
    [FFL_TYPE_I32] = {"i32", 1, 4},
    [FFL_TYPE_I64] = {"i64", 1, 8},
    [FFL_TYPE_F64] = {"f64", 1, 8},
    [FFL_TYPE_IQ1_M] = {"iq1_m", 256, 56},
    [FFL_TYPE_BF16] = {"bf16", 1, 2},
    [FFL_TYPE_TQ1_0] = {"tq1_0", 256, 54},
    [FFL_TYPE_TQ2_0] = {"tq2_0", 256, 66},
};

static const type_info *lookup(int32_t type) {
    if (type < 0 || type >= FFL_TYPE_COUNT || TYPES[type].name == NULL) return NULL;
    return &TYPES[type];
}

const char *ffl_type_name(int32_t type) {
    const type_info *t = lookup(type);
    return t ? t->name : NULL;
}

int64_t ffl_type_block_size(int32_t type) {
    const type_info *t = lookup(type);
    return t ? t->block_size : 0;
}

int64_t ffl_type_block_bytes(int32_t type) {
    const type_info *t = lookup(type);
    return t ? t->block_bytes : 0;
}

int64_t ffl_type_row_bytes(int32_t type, int64_t n) {
    const type_info *t = lookup(type);
    if (!t || n < 0 || n % t->block_size != 0) return -1;
    int64_t bytes;
    if (__builtin_mul_overflow(n / t->block_size, t->block_bytes, &bytes)) return -1;
    return bytes;
}

int32_t ffl_type_from_name(const char *name) {
    if (!name) return -1;
    for (int32_t i = 0; i < FFL_TYPE_COUNT; i++) {
        if (TYPES[i].name && strcasecmp(TYPES[i].name, name) == 0) return i;
    }
    return -1;
}
