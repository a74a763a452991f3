/* In-core session: KV cache, per-step scratch buffers, thread pool, outputs. */
#ifndef FFL_MODEL_SESSION_H
#define FFL_MODEL_SESSION_H

#include "cpu/threadpool.h"
#include "fflama.h"
#include "model/kv_cache.h"
#include "model/model.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FFL_ACT_SLOTS 3   /* distinct activation encodings one input may need (e.g. q, k, v weights of different types) */
#define FFL_ATT_BLOCK 32  /* query tokens per attention work item */

/* One forward step's tokens (at most n_batch). */
typedef struct {
    int32_t n;
    const int32_t *tok;
    const int32_t *pos;
    const int32_t *seq;
    const int32_t *cell;    /* KV cell each token is stored in */
    const int32_t *out_row; /* output row of each token, -1 = no output */
    int32_t n_out;
} ffl_ubatch;

/* The rows of the current few-token matmul one thread owns and nobody has claimed yet: first | end << 32,
 * and how many of them are not finished yet, on a cache line of its own. */
typedef struct {
    _Alignas(64) atomic_ullong left;
    atomic_llong todo;
} ffl_row_share;

struct ffl_session {
    const ffl_model *model;
    ffl_session_params params;
    ffl_threadpool *pool;
    int32_t n_threads;
    ffl_kv_cache kv;

    /* Scratch for one step of up to n_batch tokens. */
    int32_t n_ub;
    float *x;       /* [n_ub][n_embd] residual stream */
    float *xn;      /* [n_ub][max(n_embd, n_q, n_o)] normalised input of the current block */
    float *q;       /* [n_ub][n_q] */
    float *k;       /* [n_ub][n_k] */
    float *v;       /* [n_ub][n_v] */
    float *att;     /* [n_ub][n_o] attention output */
    float *delta;   /* [n_ub][n_embd] block output, added to x at the next step */
    float *gate;    /* [n_ub][n_ff] */
    float *up;      /* [n_ub][n_ff] */
    float *rope_cs; /* [n_ub][n_rot] each token's RoPE cos / sin pairs, the same in every layer */
    int32_t *att_cell_pos; /* [n_ctx] steps of one sequence: a cell's position if the sequence holds it,
                            * INT32_MAX otherwise (positions are below INT32_MAX) */
    uint8_t *act[FFL_ACT_SLOTS]; /* encoded activations for the matmul kernels */
    size_t act_bytes;
    int pending_delta; /* delta holds a block output not yet added to x */
    int32_t *out_tok;  /* [n_ub] step token index of each output row */
    int32_t *blk_lo;   /* per attention query block: visible cell range */
    int32_t *blk_hi;
    double *norm_sums; /* [n_embd / 256 rounded up] a single token's sums of squares per column block */
    int norm_sums_ready; /* x has the last block output added and norm_sums are its sums (forward.c) */

    /* Mixture of experts. */
    float *router;    /* [n_ub][n_expert] */
    int32_t *sel;     /* [n_ub][n_expert_used] chosen experts */
    float *sel_w;     /* [n_ub][n_expert_used] their weights */
    float *moe_out;   /* [n_ub * n_expert_used][n_embd] each chosen expert's output */
    float *ex_out;    /* [n_ub][n_embd] */
    int32_t *ex_rows; /* [n_ub] rows (t * n_expert_used + slot) routed to the current expert */

    /* Per-thread scratch (attention, RoPE). */
    uint8_t *thread_scratch;
    size_t thread_scratch_bytes;
    int32_t thread_scratch_count;
    ffl_row_share *row_share; /* [thread_scratch_count] few-token matmuls' row claims (forward.c) */

    /* Per-token data of the current call. */
    int32_t call_cap;
    int32_t *call_pos;
    int32_t *call_seq;
    int32_t *call_cell;
    int32_t *call_out;

    /* Outputs of the last decode. */
    int32_t n_outputs;
    int32_t n_last;        /* tokens in the last decode call */
    int32_t *out_index;    /* [n_last] output row of each token, -1 none */
    int32_t out_index_cap;
    float *logits;         /* [n_outputs][n_vocab] */
    float *embd;           /* [n_outputs][n_embd] when params.embeddings */
    int32_t embd_valid;    /* embd holds the rows of the current outputs */
    int64_t out_cap;       /* rows the output buffers hold */
};

/* Grows the per-call and output buffers for a call of n tokens with n_out outputs (contents kept). */
int32_t ffl_session_reserve(ffl_session *s, int32_t n, int32_t n_out);
/* Runs one step (the ubatch's tokens are already placed in their KV cells). */
int32_t ffl_forward(ffl_session *s, const ffl_ubatch *ub);
/* Allocates the step scratch buffers for the session's n_batch and thread count. */
int32_t ffl_forward_alloc(ffl_session *s);
void ffl_forward_free(ffl_session *s);
/* Re-rotates the cached keys of the given cells as if their positions moved by delta. */
int32_t ffl_forward_shift_keys(ffl_session *s, const int32_t *cells, int32_t n_cells, int32_t delta);
int32_t ffl_forward_alloc_thread_scratch(ffl_session *s, int32_t n_threads);

#ifdef __cplusplus
}
#endif

#endif
