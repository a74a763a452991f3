/* Architecture table: what differs between transformer families (hyper-parameter defaults,
 * which tensors exist, RoPE style) is data here, so the forward pass stays one function.
 * Adding an architecture = one table row (plus, for a genuinely new operation, a flag the
 * forward pass tests). */
#ifndef FFL_MODEL_ARCH_H
#define FFL_MODEL_ARCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* RoPE pairing: NORM rotates (x[2i], x[2i+1]); NEOX rotates (x[i], x[i + n_rot/2]). */
typedef enum { FFL_ROPE_NORM = 0, FFL_ROPE_NEOX = 2 } ffl_rope_style;

/* Tensor roles. Global ones come first, then per-layer ones ("blk.%d."). */
typedef enum {
    FFL_T_TOKEN_EMBD = 0,
    FFL_T_OUTPUT_NORM,
    FFL_T_OUTPUT,
    FFL_T_ROPE_FREQS, /* per-dimension frequency divisors (Llama 3.1 style), n_rot/2 floats */
    FFL_T_GLOBAL_COUNT,
    FFL_T_ATTN_NORM = FFL_T_GLOBAL_COUNT,
    FFL_T_ATTN_Q,
    FFL_T_ATTN_K,
    FFL_T_ATTN_V,
    FFL_T_ATTN_Q_BIAS,
    FFL_T_ATTN_K_BIAS,
    FFL_T_ATTN_V_BIAS,
    FFL_T_ATTN_OUT,
    FFL_T_ATTN_OUT_BIAS,
    FFL_T_ATTN_Q_NORM, /* per-head RMSNorm of q (qwen3 style) */
    FFL_T_ATTN_K_NORM,
    FFL_T_FFN_NORM,
    FFL_T_FFN_GATE,
    FFL_T_FFN_UP,
    FFL_T_FFN_DOWN,
    FFL_T_FFN_GATE_INP, /* MoE router */
    FFL_T_FFN_GATE_EXPS,
    FFL_T_FFN_UP_EXPS,
    FFL_T_FFN_DOWN_EXPS,
    FFL_T_COUNT
} ffl_tensor_role;

#define FFL_T_LAYER_FIRST FFL_T_GLOBAL_COUNT
#define FFL_T_LAYER_COUNT (FFL_T_COUNT - FFL_T_GLOBAL_COUNT)

/* Symbolic extents a tensor's shape is written in; resolved from the hyper-parameters. */
typedef enum {
    FFL_D_NONE = 0, /* dimension absent */
    FFL_D_EMBD,     /* n_embd */
    FFL_D_VOCAB,    /* n_vocab */
    FFL_D_Q,        /* n_head * head_dim_k */
    FFL_D_K,        /* n_head_kv * head_dim_k */
    FFL_D_V,        /* n_head_kv * head_dim_v */
    FFL_D_O,        /* n_head * head_dim_v */
    FFL_D_HEAD_K,   /* head_dim_k */
    FFL_D_FF,       /* n_ff */
    FFL_D_EXPERT,   /* n_expert */
    FFL_D_ROT_HALF, /* n_rot / 2 */
    FFL_D_COUNT
} ffl_dim_sym;

typedef struct {
    const char *name;  /* "token_embd.weight" or "blk.%d.attn_q.weight" */
    uint8_t shape[3];  /* ffl_dim_sym, innermost first */
    uint8_t is_vector; /* 1-D parameter (norm weight, bias): must be F32 */
} ffl_tensor_desc;

/* How an architecture needs a tensor. */
typedef enum {
    FFL_NEED_NO = 0,    /* not used (ignored if present) */
    FFL_NEED_REQUIRED,  /* must be present */
    FFL_NEED_OPTIONAL,  /* used when present */
    FFL_NEED_DENSE,     /* required when the model has no experts, unused otherwise */
    FFL_NEED_MOE        /* required when the model has experts, unused otherwise */
} ffl_need;

typedef struct {
    const char *name;        /* general.architecture value, also the metadata key prefix */
    int32_t rope_style;      /* ffl_rope_style */
    int32_t moe_allowed;     /* "<arch>.expert_count" > 0 is accepted */
    int32_t tied_output;     /* without output.weight, the token embedding is the output matrix */
    float default_rope_base; /* when "<arch>.rope.freq_base" is absent */
    uint8_t need[FFL_T_COUNT];
} ffl_arch;

/* NULL when the architecture is unknown. */
const ffl_arch *ffl_arch_find(const char *name);
const ffl_tensor_desc *ffl_tensor_desc_get(int32_t role);
/* Space-separated names of the supported architectures (for error messages). */
void ffl_arch_supported_list(char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
