/* The architecture rows. Tensor names and shapes follow llama.cpp's GGUF conventions. */
#include "model/arch.h"

#include <stddef.h>
#include <string.h>

#define V1(a) {a, FFL_D_NONE, FFL_D_NONE}, 1
#define M2(a, b) {a, b, FFL_D_NONE}, 0
#define M3(a, b, c) {a, b, c}, 0

static const ffl_tensor_desc tensor_descs[FFL_T_COUNT] = {
    [FFL_T_TOKEN_EMBD] = {"token_embd.weight", M2(FFL_D_EMBD, FFL_D_VOCAB)},
    [FFL_T_OUTPUT_NORM] = {"output_norm.weight", V1(FFL_D_EMBD)},
    [FFL_T_OUTPUT] = {"output.weight", M2(FFL_D_EMBD, FFL_D_VOCAB)},
    [FFL_T_ROPE_FREQS] = {"rope_freqs.weight", V1(FFL_D_ROT_HALF)},
    [FFL_T_ATTN_NORM] = {"blk.%d.attn_norm.weight", V1(FFL_D_EMBD)},
    [FFL_T_ATTN_Q] = {"blk.%d.attn_q.weight", M2(FFL_D_EMBD, FFL_D_Q)},
    [FFL_T_ATTN_K] = {"blk.%d.attn_k.weight", M2(FFL_D_EMBD, FFL_D_K)},
    [FFL_T_ATTN_V] = {"blk.%d.attn_v.weight", M2(FFL_D_EMBD, FFL_D_V)},
    [FFL_T_ATTN_Q_BIAS] = {"blk.%d.attn_q.bias", V1(FFL_D_Q)},
    [FFL_T_ATTN_K_BIAS] = {"blk.%d.attn_k.bias", V1(FFL_D_K)},
    [FFL_T_ATTN_V_BIAS] = {"blk.%d.attn_v.bias", V1(FFL_D_V)},
    [FFL_T_ATTN_OUT] = {"blk.%d.attn_output.weight", M2(FFL_D_O, FFL_D_EMBD)},
    [FFL_T_ATTN_OUT_BIAS] = {"blk.%d.attn_output.bias", V1(FFL_D_EMBD)},
    [FFL_T_ATTN_Q_NORM] = {"blk.%d.attn_q_norm.weight", V1(FFL_D_HEAD_K)},
    [FFL_T_ATTN_K_NORM] = {"blk.%d.attn_k_norm.weight", V1(FFL_D_HEAD_K)},
    [FFL_T_FFN_NORM] = {"blk.%d.ffn_norm.weight", V1(FFL_D_EMBD)},
    [FFL_T_FFN_GATE] = {"blk.%d.ffn_gate.weight", M2(FFL_D_EMBD, FFL_D_FF)},
    [FFL_T_FFN_UP] = {"blk.%d.ffn_up.weight", M2(FFL_D_EMBD, FFL_D_FF)},
    [FFL_T_FFN_DOWN] = {"blk.%d.ffn_down.weight", M2(FFL_D_FF, FFL_D_EMBD)},
    [FFL_T_FFN_GATE_INP] = {"blk.%d.ffn_gate_inp.weight", M2(FFL_D_EMBD, FFL_D_EXPERT)},
    [FFL_T_FFN_GATE_EXPS] = {"blk.%d.ffn_gate_exps.weight", M3(FFL_D_EMBD, FFL_D_FF, FFL_D_EXPERT)},
    [FFL_T_FFN_UP_EXPS] = {"blk.%d.ffn_up_exps.weight", M3(FFL_D_EMBD, FFL_D_FF, FFL_D_EXPERT)},
    [FFL_T_FFN_DOWN_EXPS] = {"blk.%d.ffn_down_exps.weight", M3(FFL_D_FF, FFL_D_EMBD, FFL_D_EXPERT)},
};

/* Tensors every decoder-only llama-like model has. */
#define NEED_COMMON                                                                                   \
    [FFL_T_TOKEN_EMBD] = FFL_NEED_REQUIRED, [FFL_T_OUTPUT_NORM] = FFL_NEED_REQUIRED,                  \
    [FFL_T_OUTPUT] = FFL_NEED_OPTIONAL, [FFL_T_ATTN_NORM] = FFL_NEED_REQUIRED,                        \
    [FFL_T_ATTN_Q] = FFL_NEED_REQUIRED, [FFL_T_ATTN_K] = FFL_NEED_REQUIRED,                           \
    [FFL_T_ATTN_V] = FFL_NEED_REQUIRED, [FFL_T_ATTN_OUT] = FFL_NEED_REQUIRED,                         \
    [FFL_T_FFN_NORM] = FFL_NEED_REQUIRED

#define NEED_DENSE_FFN                                                                                \
    [FFL_T_FFN_GATE] = FFL_NEED_DENSE, [FFL_T_FFN_UP] = FFL_NEED_DENSE, [FFL_T_FFN_DOWN] = FFL_NEED_DENSE

#define NEED_MOE_FFN                                                                                  \
    [FFL_T_FFN_GATE_INP] = FFL_NEED_MOE, [FFL_T_FFN_GATE_EXPS] = FFL_NEED_MOE,                        \
    [FFL_T_FFN_UP_EXPS] = FFL_NEED_MOE, [FFL_T_FFN_DOWN_EXPS] = FFL_NEED_MOE

static const ffl_arch archs[] = {
    {
        /* Llama 1/2/3, Mistral, Mixtral (experts), TinyLlama, SmolLM. Biases are optional
         * because some converted models carry them. */
        .name = "llama",
        .rope_style = FFL_ROPE_NORM,
        .moe_allowed = 1,
        .tied_output = 1,
        .default_rope_base = 10000.0f,
        .need = {NEED_COMMON, NEED_DENSE_FFN, NEED_MOE_FFN,
                 [FFL_T_ROPE_FREQS] = FFL_NEED_OPTIONAL,
                 [FFL_T_ATTN_Q_BIAS] = FFL_NEED_OPTIONAL, [FFL_T_ATTN_K_BIAS] = FFL_NEED_OPTIONAL,
                 [FFL_T_ATTN_V_BIAS] = FFL_NEED_OPTIONAL, [FFL_T_ATTN_OUT_BIAS] = FFL_NEED_OPTIONAL},
    },
    {
        /* Qwen 2 / 2.5: Q/K/V biases, NEOX RoPE. */
        .name = "qwen2",
        .rope_style = FFL_ROPE_NEOX,
        .moe_allowed = 0,
        .tied_output = 1,
        .default_rope_base = 10000.0f,
        .need = {NEED_COMMON, NEED_DENSE_FFN,
                 [FFL_T_ATTN_Q_BIAS] = FFL_NEED_REQUIRED, [FFL_T_ATTN_K_BIAS] = FFL_NEED_REQUIRED,
                 [FFL_T_ATTN_V_BIAS] = FFL_NEED_REQUIRED},
    },
};

const ffl_arch *ffl_arch_find(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
        if (strcmp(archs[i].name, name) == 0) return &archs[i];
    return NULL;
}

const ffl_tensor_desc *ffl_tensor_desc_get(int32_t role) {
    return role >= 0 && role < FFL_T_COUNT ? &tensor_descs[role] : NULL;
}

void ffl_arch_supported_list(char *buf, size_t cap) {
    size_t used = 0;
    if (cap) buf[0] = 0;
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++) {
        size_t n = strlen(archs[i].name);
        if (used + n + 2 > cap) break;
        if (used) buf[used++] = ' ';
        memcpy(buf + used, archs[i].name, n + 1);
        used += n;
    }
}
