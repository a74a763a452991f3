/* In-core model: hyper-parameters and weight views into the GGUF mapping. Immutable after
 * ffl_model_load, so any number of sessions read it concurrently without locks. */
#ifndef FFL_MODEL_MODEL_H
#define FFL_MODEL_MODEL_H

#include "fflama.h"
#include "model/arch.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { FFL_ROPE_SCALING_NONE = 0, FFL_ROPE_SCALING_LINEAR = 1, FFL_ROPE_SCALING_YARN = 2 } ffl_rope_scaling;

typedef struct {
    int32_t n_vocab;
    int32_t n_ctx_train;
    int32_t n_embd;
    int32_t n_layer;
    int32_t n_head;
    int32_t n_head_kv;
    int32_t head_dim_k;
    int32_t head_dim_v;
    int32_t n_ff;          /* per expert for MoE models */
    int32_t n_rot;         /* leading dimensions of each head that RoPE rotates */
    int32_t n_expert;      /* 0: dense */
    int32_t n_expert_used;
    int32_t rope_style;    /* ffl_rope_style */
    int32_t rope_scaling;  /* ffl_rope_scaling */
    int32_t n_ctx_orig;    /* YaRN: original training context */
    float norm_eps;
    float rope_freq_base;
    float rope_freq_scale; /* 1 / scaling factor */
    float yarn_ext_factor; /* 0 unless YaRN */
    float yarn_attn_factor;
    float yarn_beta_fast;
    float yarn_beta_slow;
    float attn_scale;      /* multiplies q.k before the softmax */
} ffl_hparams;

/* A 2-D (or 3-D for experts) weight: rows of n_cols elements of `type`, straight from the map. */
typedef struct {
    const uint8_t *data; /* NULL: tensor absent */
    int32_t type;
    int64_t n_cols;      /* ne0 */
    int64_t n_rows;      /* ne1 */
    int64_t n_mats;      /* ne2 (experts), 1 otherwise */
    size_t row_bytes;
    size_t mat_bytes;    /* bytes of one ne2 slice */
} ffl_weight;

typedef struct {
    ffl_weight t[FFL_T_LAYER_COUNT]; /* indexed by role - FFL_T_LAYER_FIRST */
} ffl_layer;

struct ffl_model {
    ffl_gguf *gguf;
    const ffl_arch *arch;
    ffl_hparams hp;
    ffl_weight global[FFL_T_GLOBAL_COUNT];
    const ffl_weight *output; /* output.weight, or the tied token embedding */
    ffl_layer *layers;
    uint64_t n_params;
    uint64_t n_bytes;
    int32_t file_type;        /* dominant matmul weight type */
    char desc[128];
    ffl_vocab *vocab;         /* NULL when the file has no tokenizer metadata */
    void *repacked;           /* weights rearranged for the kernels (ffl_model_repack), or NULL */
    size_t repacked_bytes;
};

/* Moves the weights the active kernels prefer in another layout (quant/repack.h) into memory of the
 * model's own; the file's pages for them are released. Only for file-mapped models. */
int32_t ffl_model_repack(ffl_model *m);

static inline const ffl_weight *ffl_layer_w(const ffl_layer *l, int32_t role) {
    return &l->t[role - FFL_T_LAYER_FIRST];
}

#ifdef __cplusplus
}
#endif

#endif
