/* The transformer forward pass for one step of tokens, following llama.cpp's arithmetic:
 * F32 activations, activations encoded to each weight's dot-product type for the matmuls,
 * RMSNorm as x / sqrt(mean(x^2) + eps) * w, RoPE as ggml defines it, F32 softmax.
 *
 * Work is split over the session's thread pool in phases: per-token phases (norms, RoPE,
 * activation encoding) split tokens, matmul phases split weight rows, the attention phase
 * splits (head, query block) pairs. Each phase is one ffl_threadpool_run, which is the barrier;
 * phases too small to repay a barrier run on the calling thread alone. A single token's phases
 * after a matmul split its columns (heads, blocks of 256) the way the matmul split its rows, and
 * run on the thread that finished those rows, mostly as part of the matmul's own run (part_done). */
#include "common/ffl_internal.h"
#include "common/fp16.h"
#include "model/session.h"
#include "quant/kernels.h"
#include "vecmath/vecmath.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN64(n) (((n) + 63) & ~(size_t)63)

/* Rough multiply-adds below which a phase runs on the calling thread: waking the pool and
 * waiting for it costs more than the work (especially single-token steps of small models). */
#define PARALLEL_MIN_WORK 65536.0

/* Columns of the largest activation block (Q8_K): ranges of whole ones encode apart. */
#define ACT_BLOCK_MAX 256

static void run(ffl_session *s, ffl_task_fn fn, void *ctx, double work) {
    ffl_threadpool_run(work < PARALLEL_MIN_WORK ? NULL : s->pool, fn, ctx);
}

/* A phase after a few-token matmul: a single token's always splits (unit_range), as its inputs lie in
 * the caches of all the threads that wrote them.
 *
 * Splitting a single token's phases this way (and running most as matmul epilogues) took TinyLlama
 * Q4_K_M's time outside the matmuls per tg64 run from 37.7 to 20.3 ms when the host's memory was slow
 * and from ~52 to ~29 ms when fast (Zen 4, 2 threads, phase timers). Tokens/s gained less: 51.0 ->
 * 52.5 when slow (medians of 12 and 8 runs in turns); the old and the new way in alternating 8-token
 * blocks of one process for 120 s, memory mostly fast: 1.005x. With more threads the serial phases
 * would weigh more (they do not shrink with the thread count). */
static void run_after_mm(ffl_session *s, ffl_task_fn fn, void *ctx, int32_t n, double work) {
    ffl_threadpool_run(n == 1 || work >= PARALLEL_MIN_WORK ? s->pool : NULL, fn, ctx);
}

/* Thread ith's part of n rows split in whole units (the last unit may be short). The matmuls of
 * few-token steps and the per-token phases after them split alike, so a thread mostly reads the
 * outputs it wrote: between cores each cache line costs far more than the work on it (Zen 4). */
static void unit_range(int64_t n, int64_t unit, int ith, int nth, int64_t *b, int64_t *e) {
    ffl_split_range((n + unit - 1) / unit, ith, nth, b, e);
    *b = *b * unit < n ? *b * unit : n;
    *e = *e * unit < n ? *e * unit : n;
}

/* ---- activation encodings ------------------------------------------------------------- */

/* Which encodings of one input the next matmuls need: weights whose dot-product types agree share one.
 * Encoding i goes to s->act[first + i]. */
typedef struct {
    int32_t wtype[FFL_ACT_SLOTS];
    int n;
    int first;
} act_plan;

/* The act slot of the encoding wtype's weights take. */
static int plan_slot(act_plan *p, int32_t wtype) {
    int32_t vt = ffl_vec_dot_type(wtype);
    for (int i = 0; i < p->n; i++)
        if (ffl_vec_dot_type(p->wtype[i]) == vt) return p->first + i;
    p->wtype[p->n] = wtype;
    return p->first + p->n++;
}

/* x rounded to the nearest F16 value (ties to even). Normal halves take a bit trick on the F32
 * pattern (keep 10 mantissa bits); subnormals, overflow and NaN go through the exact conversion. */
static inline float round_to_half(float x) {
    uint32_t u = ffl_f32_bits(x), a = u & 0x7fffffffu;
    if (a - 0x38800000u < 0x477fe000u - 0x38800000u) { /* [2^-14, 65504) */
        a += 0xfffu + ((a >> 13) & 1u);
        return ffl_bits_f32((a & ~0x1fffu) | (u & 0x80000000u));
    }
    return ffl_half_to_float(ffl_float_to_half(x));
}

static inline float round_to_bf16(float x) {
    uint32_t u = ffl_f32_bits(x);
    if ((u & 0x7fffffffu) >= 0x7f800000u) return ffl_bf16_to_float(ffl_float_to_bf16(x)); /* inf, NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return ffl_bits_f32(u & 0xffff0000u);
}

/* Encodes rows [r0, r1) of x for a product with weights of wtype. ggml multiplies F16 and BF16
 * weights with activations rounded to F16 / BF16 (their vec_dot_type); when the kernels take F32
 * activations for these types, the rounding is applied here so results match llama.cpp's. */
static void encode_rows(int32_t wtype, const float *x, int64_t ldx, void *xq, int64_t n_cols, int64_t r0, int64_t r1) {
    ffl_quantize_activations(wtype, x, ldx, xq, n_cols, r0, r1);
    if ((wtype != FFL_TYPE_F16 && wtype != FFL_TYPE_BF16) || ffl_vec_dot_type(wtype) != FFL_TYPE_F32) return;
    float *y = (float *)xq + r0 * n_cols;
    const int64_t n = (r1 - r0) * n_cols;
    if (wtype == FFL_TYPE_F16)
        for (int64_t i = 0; i < n; i++) y[i] = round_to_half(y[i]);
    else
        for (int64_t i = 0; i < n; i++) y[i] = round_to_bf16(y[i]);
}

/* Columns [c0, c1) of row t: c0 a multiple of ACT_BLOCK_MAX, c1 too or n_cols (col_part). */
static void encode_cols(ffl_session *s, const act_plan *p, const float *x, int64_t n_cols, int64_t t, int64_t c0, int64_t c1) {
    if (c0 >= c1) return;
    for (int i = 0; i < p->n; i++) {
        const int32_t wt = p->wtype[i];
        char *row = (char *)s->act[p->first + i] + (size_t)t * ffl_activation_row_bytes(wt, n_cols);
        encode_rows(wt, x + t * n_cols + c0, n_cols, row + ffl_activation_row_bytes(wt, c0), c1 - c0, 0, 1);
    }
}

/* All of row t. */
static void encode_row(ffl_session *s, const act_plan *p, const float *x, int64_t n_cols, int64_t t) { encode_cols(s, p, x, n_cols, t, 0, n_cols); }

/* Part ith of a single token's row of n_cols: whole activation blocks (the last part ends at n_cols),
 * as the matmul rows that wrote them. */
static void col_part(int64_t n_cols, int ith, int nth, int64_t *b, int64_t *e) { unit_range(n_cols, ACT_BLOCK_MAX, ith, nth, b, e); }

/* ---- matmul phase ---------------------------------------------------------------------- */

typedef struct {
    int32_t type;
    const uint8_t *w;
    size_t row_bytes;
    int64_t n_rows;
    int64_t n_cols;
    const void *xq;
    float *y;
    int64_t ldy;
    int64_t unit; /* few-token steps: each thread's share of the rows is whole units of this many */
} mm_task;

typedef struct {
    mm_task t[3];
    int n;
    int64_t n_tok;
    int64_t total;        /* rows of all tasks, set by mm_run */
    ffl_row_share *share; /* per thread (few-token steps) */
    int nth;              /* with share: the rows run in parts, part p = thread p's units of every task */
    /* with share: run by the thread that finishes the last rows of part p (a single token's phase
     * after the matmul, on the part's outputs while they are in that thread's cache) */
    void (*part_done)(void *ctx, int part, int ith, int nth);
    void *done_ctx;
} mm_job;

static void task_rows(const mm_task *t, int64_t n_tok, int64_t lo, int64_t hi) {
    if (lo < hi) ffl_matmul_rows(t->type, t->w, t->row_bytes, t->xq, t->n_cols, n_tok, t->y, t->ldy, lo, hi);
}

/* Rows [b, e) of the job: of its concatenated matrices, or of its parts one after another. */
static void mm_rows(const mm_job *j, int64_t b, int64_t e) {
    int64_t off = 0;
    for (int p = 0; p < (j->share ? j->nth : 1) && b < e; p++)
        for (int i = 0; i < j->n && b < e; i++) {
            const mm_task *t = &j->t[i];
            int64_t r0 = 0, r1 = t->n_rows;
            if (j->share) unit_range(t->n_rows, t->unit, p, j->nth, &r0, &r1);
            const int64_t lo = b > off ? b : off, hi = e < off + r1 - r0 ? e : off + r1 - r0;
            if (lo < hi) task_rows(t, j->n_tok, r0 + lo - off, r0 + hi - off);
            off += r1 - r0;
        }
}

/* Few-token steps stream the weights once and are bound by memory. Each thread owns a share of the
 * rows (its part of every matrix of the job, unit_range, one after the other) and claims half of
 * what is left of it at a time, from the front, so its chunks follow each other in memory and the
 * hardware prefetcher keeps one stream going; a thread done with its share takes halves from the
 * back of the others' (a thread the OS delays on a shared machine does not hold the rest at the
 * barrier). Against guided chunks from one shared front (each thread's next
 * chunk past the other's), TinyLlama tg64 with 2 threads (Zen 4) read 0.825 -> 0.850 (Q4_0),
 * 0.906 -> 0.943 (Q8_0), 0.747 -> 0.771 (Q4_K_M) of the read bandwidth when the host's memory was in its
 * fast state, and the same when it was slow. Many-token steps keep one contiguous share per thread
 * (each call packs the activations once). */
#define MM_DYNAMIC_MAX_TOKENS 4
#define MM_MIN_CHUNK_BYTES (64 << 10)

/* Claims half of the rows left in *r, at least min_rows (whole 16-row tiles): from the front for the
 * owner, from the back for another thread. Returns 0 once nothing is left. */
static int claim_rows(atomic_ullong *r, int64_t min_rows, int front, int64_t *b, int64_t *e) {
    unsigned long long v = atomic_load_explicit(r, memory_order_relaxed);
    for (;;) {
        const int64_t lo = (int64_t)(v & 0xFFFFFFFFu), hi = (int64_t)(v >> 32);
        if (lo >= hi) return 0;
        int64_t c = ((hi - lo) / 2 + 15) & ~(int64_t)15;
        if (c < min_rows) c = min_rows;
        if (c > hi - lo) c = hi - lo;
        *b = front ? lo : hi - c;
        *e = *b + c;
        const unsigned long long nv = front ? (unsigned long long)*e | (unsigned long long)hi << 32
                                            : (unsigned long long)lo | (unsigned long long)*b << 32;
        /* on failure v is reloaded with what another thread left */
        if (atomic_compare_exchange_weak_explicit(r, &v, nv, memory_order_relaxed, memory_order_relaxed)) return 1;
    }
}

static void mm_worker_rows(mm_job *j, int ith, int nth) {
    const int64_t total = j->total;
    if (j->n_tok <= MM_DYNAMIC_MAX_TOKENS && nth > 1 && j->share) {
        int64_t min_rows = ((int64_t)(MM_MIN_CHUNK_BYTES / j->t[0].row_bytes) + 15) & ~(int64_t)15;
        if (min_rows < 16) min_rows = 16;
        int64_t b, e;
        for (int k = 0; k < nth; k++) { /* its own share from the front, then the others' from the back */
            const int p = (ith + k) % nth;
            while (claim_rows(&j->share[p].left, min_rows, k == 0, &b, &e)) {
                mm_rows(j, b, e);
                /* acq_rel: the rows other threads finished of this part are visible to the one that runs part_done */
                if (j->part_done && atomic_fetch_sub_explicit(&j->share[p].todo, e - b, memory_order_acq_rel) == e - b)
                    j->part_done(j->done_ctx, p, ith, nth);
            }
        }
        return;
    }
    int64_t per = (total + nth - 1) / nth;
    if (total >= 16 * (int64_t)nth) per = (per + 15) & ~(int64_t)15; /* whole row tiles per thread */
    int64_t b = per * ith, e = b + per < total ? b + per : total;
    mm_rows(j, b, e);
}

/* The job's activations stay as they are while it runs (its epilogues write other buffers), so the
 * kernels prepare each one once per thread instead of once per chunk of rows: a TinyLlama Q4_K_M
 * single-token step makes ~28 calls per layer on each of 2 threads, 0.2-0.4 us of preparing each.
 * Zen 4, tg in alternating 8-token blocks for 150-180 s: Q4_K_M 1.002-1.016x in five runs (the last
 * 1.016x in its faster third of block pairs, 1.010x in its slower), Q4_0 1.007x, Q8_0 1.001x. */
static void mm_worker(void *ctx, int ith, int nth) {
    ffl_kernel_act_span(1);
    mm_worker_rows(ctx, ith, nth);
    ffl_kernel_act_span(0);
}

/* unit: rows of an output group the phase after the matmul splits by (0: whole activation blocks) */
static void mm_add(mm_job *j, const ffl_weight *w, int64_t mat, const void *xq, float *y, int64_t ldy, int64_t unit) {
    mm_task *t = &j->t[j->n++];
    t->unit = unit > 0 ? unit : ACT_BLOCK_MAX;
    t->type = w->type;
    t->w = w->data + (size_t)mat * w->mat_bytes;
    t->row_bytes = w->row_bytes;
    t->n_rows = w->n_rows;
    t->n_cols = w->n_cols;
    t->xq = xq;
    t->y = y;
    t->ldy = ldy;
}

static void mm_run(ffl_session *s, mm_job *j) {
    int64_t total = 0;
    double work = 0;
    for (int i = 0; i < j->n; i++) {
        total += j->t[i].n_rows;
        work += (double)j->t[i].n_rows * (double)j->t[i].n_cols;
    }
    j->total = total;
    const int pooled = work * (double)j->n_tok >= PARALLEL_MIN_WORK, nth = pooled ? ffl_threadpool_size(s->pool) : 1;
    j->share = NULL;
    if (j->n_tok <= MM_DYNAMIC_MAX_TOKENS && nth > 1 && nth <= s->thread_scratch_count && total < (1ll << 32)) {
        j->share = s->row_share;
        j->nth = nth;
        int64_t lo = 0;
        for (int p = 0; p < nth; p++) {
            int64_t hi = lo;
            for (int i = 0; i < j->n; i++) {
                int64_t r0, r1;
                unit_range(j->t[i].n_rows, j->t[i].unit, p, nth, &r0, &r1);
                hi += r1 - r0;
            }
            atomic_store_explicit(&j->share[p].left, (unsigned long long)lo | (unsigned long long)hi << 32, memory_order_relaxed);
            atomic_store_explicit(&j->share[p].todo, hi - lo, memory_order_relaxed);
            lo = hi;
        }
    }
    if (!j->share) j->part_done = NULL; /* the caller runs the phase itself */
    ffl_threadpool_run(pooled ? s->pool : NULL, mm_worker, j);
}

/* ---- elementwise helpers --------------------------------------------------------------- */

/* ggml's rms_norm: squares in float, summed in double; then the weight multiply. The double sum
 * runs in eight partial sums, which the compiler vectorizes, instead of one chain of dependent adds
 * (TinyLlama, one token: the two norm phases of all layers 112 -> 82 us each), per block of
 * ACT_BLOCK_MAX columns, the blocks' sums added in order: a single token's norm split by blocks over
 * threads (norm_in) sums exactly as one thread does. It can differ from the chained sum only in the
 * double's last bits. */
static double sum_squares_block(const float *x, int64_t n) {
    double part[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) part[k] += (double)(x[i + k] * x[i + k]);
    double sum = ((part[0] + part[4]) + (part[1] + part[5])) + ((part[2] + part[6]) + (part[3] + part[7]));
    for (; i < n; i++) sum += (double)(x[i] * x[i]);
    return sum;
}

static float rms_scale(double sum_squares, int64_t n, float eps) {
    const float mean = (float)(sum_squares / (double)n);
    return 1.0f / sqrtf(mean + eps);
}

static void rms_apply(const float *x, const float *w, float *y, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i++) y[i] = (x[i] * scale) * w[i];
}

static void rms_norm(const float *x, const float *w, float *y, int64_t n, float eps) {
    double sum = 0;
    for (int64_t b = 0; b < n; b += ACT_BLOCK_MAX) sum += sum_squares_block(x + b, n - b < ACT_BLOCK_MAX ? n - b : ACT_BLOCK_MAX);
    rms_apply(x, w, y, n, rms_scale(sum, n, eps));
}

/* ---- RoPE ------------------------------------------------------------------------------ */

static float yarn_corr_dim(int n_dims, int n_ctx_orig, float n_rot, float base) {
    return n_dims * logf(n_ctx_orig / (n_rot * 2 * (float)M_PI)) / (2 * logf(base));
}

static void yarn_corr_dims(const ffl_hparams *hp, float dims[2]) {
    float start = floorf(yarn_corr_dim(hp->n_rot, hp->n_ctx_orig, hp->yarn_beta_fast, hp->rope_freq_base));
    float end = ceilf(yarn_corr_dim(hp->n_rot, hp->n_ctx_orig, hp->yarn_beta_slow, hp->rope_freq_base));
    dims[0] = start > 0 ? start : 0;
    dims[1] = end < hp->n_rot - 1 ? end : (float)(hp->n_rot - 1);
}

/* cos/sin of every rotated pair for one position: cs[2i] = cos, cs[2i+1] = sin. Theta advances by
 * repeated multiplication in float, as ggml does, so angles match it bit for bit. */
static void rope_angles_scaled(const ffl_hparams *hp, const float *freq_factors, int32_t pos, int magnitude,
                               float *cs) {
    const float theta_scale = powf(hp->rope_freq_base, -2.0f / (float)hp->n_rot);
    float corr[2] = {0, 0};
    if (hp->yarn_ext_factor != 0.0f) yarn_corr_dims(hp, corr);
    float theta = (float)pos;
    for (int32_t i0 = 0; i0 < hp->n_rot; i0 += 2) {
        const float ff = freq_factors ? freq_factors[i0 / 2] : 1.0f;
        const float extrap = theta / ff;
        const float interp = hp->rope_freq_scale * extrap;
        float th = interp, mscale = magnitude ? hp->yarn_attn_factor : 1.0f;
        if (hp->yarn_ext_factor != 0.0f) {
            float y = ((float)(i0 / 2) - corr[0]) / fmaxf(0.001f, corr[1] - corr[0]);
            float ramp = (1.0f - fminf(1.0f, fmaxf(0.0f, y))) * hp->yarn_ext_factor;
            th = interp * (1 - ramp) + extrap * ramp;
            if (magnitude) mscale *= 1.0f + 0.1f * logf(1.0f / hp->rope_freq_scale);
        }
        cs[i0] = cosf(th) * mscale;
        cs[i0 + 1] = sinf(th) * mscale;
        theta *= theta_scale;
    }
}

static void rope_angles(const ffl_hparams *hp, const float *freq_factors, int32_t pos, float *cs) {
    rope_angles_scaled(hp, freq_factors, pos, 1, cs);
}

static void rope_apply(const ffl_hparams *hp, const float *cs, float *x, int32_t n_heads, int32_t head_dim) {
    const int32_t n_rot = hp->n_rot, half = n_rot / 2;
    for (int32_t h = 0; h < n_heads; h++) {
        float *v = x + (size_t)h * head_dim;
        if (hp->rope_style == FFL_ROPE_NEOX) {
            for (int32_t i0 = 0; i0 < n_rot; i0 += 2) {
                const int32_t ic = i0 / 2;
                const float x0 = v[ic], x1 = v[ic + half];
                v[ic] = x0 * cs[i0] - x1 * cs[i0 + 1];
                v[ic + half] = x0 * cs[i0 + 1] + x1 * cs[i0];
            }
        } else {
            for (int32_t i0 = 0; i0 < n_rot; i0 += 2) {
                const float x0 = v[i0], x1 = v[i0 + 1];
                v[i0] = x0 * cs[i0] - x1 * cs[i0 + 1];
                v[i0 + 1] = x0 * cs[i0 + 1] + x1 * cs[i0];
            }
        }
    }
}

/* ---- per-token phases ------------------------------------------------------------------- */

typedef struct {
    ffl_session *s;
    const ffl_ubatch *ub;
    const ffl_layer *layer;
    int32_t il;
    act_plan plan;
    int32_t n_rows;    /* rows of the current phase (tokens, or rows routed to an expert) */
    int32_t expert_k;  /* MoE: experts per token */
    const ffl_weight *bias, *norm; /* norm_in: the bias added with the pending block output, the norm */
} step_ctx;

static uint8_t *thread_scratch(ffl_session *s, int ith) {
    return s->thread_scratch + (size_t)ith * s->thread_scratch_bytes;
}

static void phase_embed(void *ctx, int ith, int nth) {
    step_ctx *c = ctx;
    ffl_session *s = c->s;
    const ffl_model *m = s->model;
    const ffl_weight *te = &m->global[FFL_T_TOKEN_EMBD];
    const int64_t E = m->hp.n_embd;
    int64_t b, e;
    ffl_split_range(c->ub->n, ith, nth, &b, &e);
    for (int64_t t = b; t < e; t++)
        ffl_dequantize_row_internal(te->type, te->data + (size_t)c->ub->tok[t] * te->row_bytes, s->x + t * E, E);
}

/* Columns [b, e) of token t: x += the last block's output (+ bias). */
static void add_delta(ffl_session *s, const ffl_weight *bias, int64_t t, int64_t b, int64_t e) {
    const int64_t E = s->model->hp.n_embd;
    float *x = s->x + t * E;
    const float *d = s->delta + t * E;
    if (bias && bias->data) {
        const float *bb = (const float *)bias->data;
        for (int64_t i = b; i < e; i++) x[i] += d[i] + bb[i];
    } else {
        for (int64_t i = b; i < e; i++) x[i] += d[i];
    }
}

/* x += pending block output (+ bias); xn = rmsnorm(x) * norm; encode xn. Tokens split over threads. */
static void phase_norm_in(void *ctx, int ith, int nth) {
    step_ctx *c = ctx;
    ffl_session *s = c->s;
    const int64_t E = s->model->hp.n_embd;
    int64_t b, e;
    ffl_split_range(c->ub->n, ith, nth, &b, &e);
    for (int64_t t = b; t < e; t++) {
        if (s->pending_delta) add_delta(s, c->bias, t, 0, E);
        rms_norm(s->x + t * E, (const float *)c->norm->data, s->xn + t * E, E, s->model->hp.norm_eps);
        encode_row(s, &c->plan, s->xn, E, t);
    }
}

/* The same for a single token split by column blocks (col_part): first each part's residual columns
 * and their blocks' sums of squares (as the epilogue of the matmul that wrote the block output, or a
 * phase of its own), */
static void residual_sums(step_ctx *c, int part, int nth, int add) {
    ffl_session *s = c->s;
    const int64_t E = s->model->hp.n_embd;
    int64_t b, e;
    col_part(E, part, nth, &b, &e);
    if (add) add_delta(s, c->bias, 0, b, e);
    for (int64_t k = b; k < e; k += ACT_BLOCK_MAX)
        s->norm_sums[k / ACT_BLOCK_MAX] = sum_squares_block(s->x + k, e - k < ACT_BLOCK_MAX ? e - k : ACT_BLOCK_MAX);
}

static void phase_norm_in_sums(void *ctx, int ith, int nth) {
    step_ctx *c = ctx;
    residual_sums(c, ith, nth, c->s->pending_delta);
}

static void part_residual_sums(void *ctx, int part, int ith, int nth) {
    (void)ith;
    residual_sums(ctx, part, nth, 1);
}

/* then the norm of the same columns from all the blocks' sums, and their encoding. */
static void phase_norm_in_apply(void *ctx, int ith, int nth) {
    step_ctx *c = ctx;
    ffl_session *s = c->s;
    const int64_t E = s->model->hp.n_embd;
    int64_t b, e;
    col_part(E, ith, nth, &b, &e);
    if (b >= e) return;
    double sum = 0;
    for (int64_t k = 0; k < (E + ACT_BLOCK_MAX - 1) / ACT_BLOCK_MAX; k++) sum += s->norm_sums[k];
    rms_apply(s->x + b, (const float *)c->norm->data + b, s->xn + b, e - b, rms_scale(sum, E, s->model->hp.norm_eps));
    encode_cols(s, &c->plan, s->xn, E, 0, b, e);
}

/* A block's input: the residual with the last block's output (+ bias) added, normalised, encoded for
 * the plan's matmuls. A single token's goes by column blocks, each thread on the columns whose block
 * output it wrote: the residual and sums as the epilogue of that matmul (mm_block_output) or a run of
 * their own, then the norm and encoding in a second run. */
static void norm_in(ffl_session *s, step_ctx *c, const ffl_weight *bias, const ffl_weight *norm) {
    c->bias = bias;
    c->norm = norm;
    const int32_t n = c->ub->n;
    if (n == 1 && ffl_threadpool_size(s->pool) > 1) {
        if (!s->norm_sums_ready) run_after_mm(s, phase_norm_in_sums, c, n, 0);
        run_after_mm(s, phase_norm_in_apply, c, n, 0);
    } else {
        run(s, phase_norm_in, c, (double)n * s->model->hp.n_embd * 8);
    }
    s->pending_delta = 0;
    s->norm_sums_ready = 0;
}

/* A single token's phase after the job, run per part as its rows finish; mm_run clears part_done when
 * it cannot (the caller then runs the phase itself). */
static void mm_epilogue(mm_job *j, step_ctx *c, void (*part_done)(void *, int, int, int)) {
    if (c->ub->n != 1) return;
    j->part_done = part_done;
    j->done_ctx = c;
}

/* The job's output is the next block output: a single token's residual and sums of squares go with it
 * (part_residual_sums, bias: the one added with it). Call mm_block_done after mm_run. */
static void mm_block_output(mm_job *j, step_ctx *c, const ffl_weight *bias) {
    c->bias = bias;
    mm_epilogue(j, c, part_residual_sums);
}

static void mm_block_done(ffl_session *s, const mm_job *j) {
    s->norm_sums_ready = j->part_done != NULL; /* then added to x already */
    s->pending_delta = !s->norm_sums_ready;
}

static void add_bias(float *y, const ffl_weight *b, int64_t off, int64_t n) {
    if (!b->data) return;
    const float *bb = (const float *)b->data + off;
    for (int64_t i = 0; i < n; i++) y[i] += bb[i];
}

static void head_norm(float *x, const ffl_weight *w, int32_t n_heads, int32_t head_dim, float eps) {
    if (!w->data) return;
    for (int32_t h = 0; h < n_heads; h++) {
        float *v = x + (size_t)h * head_dim;
        rms_norm(v, (const float *)w->data, v, head_dim, eps);
    }
}

/* Each token's RoPE angles, once per step: they depend on the position only, not on the layer. */
static void phase_rope_angles(void *ctx, int ith, int nth) {
    step_ctx *c = ctx;
    const ffl_model *m = c->s->model;
    const float *freq_factors = m->global[FFL_T_ROPE_FREQS].data ? (const float *)m->global[FFL_T_ROPE_FREQS].data : NULL;
    int64_t b, e;
    ffl_split_range(c->ub->n, ith, nth, &b, &e);
    for (int64_t t = b; t < e; t++) rope_angles(&m->hp, freq_factors, c->ub->pos[t], c->s->rope_cs + t * m->hp.n_rot);
}

/* Token t's query heads [q0, q1) and KV heads [k0, k1): biases, per-head norms, RoPE on q and k; k and
 * v go into their KV cells. vh: room for the values as halves. */
static void qkv_post_heads(step_ctx *c, int64_t t, int64_t q0, int64_t q1, int64_t k0, int64_t k1, uint16_t *vh) {
    ffl_session *s = c->s;
    const ffl_hparams *hp = &s->model->hp;
    const ffl_layer *L = c->layer;
    const int64_t hdk = hp->head_dim_k, hdv = hp->head_dim_v;
    const int64_t NQ = hp->n_head * hdk, NK = hp->n_head_kv * hdk, NV = hp->n_head_kv * hdv;
    float *q = s->q + t * NQ + q0 * hdk, *k = s->k + t * NK + k0 * hdk, *v = s->v + t * NV + k0 * hdv;
    const int64_t nq = (q1 - q0) * hdk, nk = (k1 - k0) * hdk, nv = (k1 - k0) * hdv;
    ffl_kv_cache *kv = &s->kv;
    add_bias(q, ffl_layer_w(L, FFL_T_ATTN_Q_BIAS), q0 * hdk, nq);
    add_bias(k, ffl_layer_w(L, FFL_T_ATTN_K_BIAS), k0 * hdk, nk);
    add_bias(v, ffl_layer_w(L, FFL_T_ATTN_V_BIAS), k0 * hdv, nv);
    head_norm(q, ffl_layer_w(L, FFL_T_ATTN_Q_NORM), (int32_t)(q1 - q0), (int32_t)hdk, hp->norm_eps);
    head_norm(k, ffl_layer_w(L, FFL_T_ATTN_K_NORM), (int32_t)(k1 - k0), (int32_t)hdk, hp->norm_eps);
    const float *cs = s->rope_cs + t * hp->n_rot;
    rope_apply(hp, cs, q, (int32_t)(q1 - q0), (int32_t)hdk);
    rope_apply(hp, cs, k, (int32_t)(k1 - k0), (int32_t)hdk);

    const int32_t cell = c->ub->cell[t];
    /* keys go to each head's rows; values, stored transposed (a row per channel), each to a row
     * of its own, so an F16 cache converts them in one vector pass first */
    const void *vsrc = v;
    for (int64_t h = k0; h < k1; h++) {
        uint8_t *kh = ffl_kv_k_head(kv, c->il, (int32_t)h, cell);
        const float *kr = k + (h - k0) * hdk;
        if (kv->type == FFL_TYPE_F16) ffl_vec_to_half((uint16_t *)kh, kr, hdk);
        else memcpy(kh, kr, (size_t)hdk * sizeof(float));
    }
    if (kv->type == FFL_TYPE_F16) {
        ffl_vec_to_half(vh, v, nv);
        vsrc = vh;
    }
    /* one element per channel row; sizes the compiler knows make each copy a single store, not a
     * call to memcpy (256 a layer on TinyLlama; Zen 4, Q4_K_M tg64, this phase 9.3 -> 6.8 ms a run) */
    uint8_t *vcell = ffl_kv_v_row(kv, c->il, k0 * hdv) + (size_t)cell * kv->elt;
    const size_t vstride = (size_t)kv->n_cells * kv->elt;
    if (kv->elt == 2)
        for (int64_t i = 0; i < nv; i++) memcpy(vcell + (size_t)i * vstride, (const uint16_t *)vsrc + i, 2);
    else
        for (int64_t i = 0; i < nv; i++) memcpy(vcell + (size_t)i * vstride, (const float *)vsrc + i, 4);
}

/* A single token's heads of part `part`, as its q, k, v matmul rows were split; on thread ith. */
static void part_qkv_post(void *ctx, int part, int ith, int nth) {
    step_ctx *c = ctx;
    const ffl_hparams *hp = &c->s->model->hp;
    int64_t q0, q1, k0, k1;
    unit_range(hp->n_head, 1, part, nth, &q0, &q1);
    unit_range(hp->n_head_kv, 1, part, nth, &k0, &k1);
    if (q0 < q1 || k0 < k1) qkv_post_heads(c, 0, q0, q1, k0, k1, (uint16_t *)thread_scratch(c->s, ith));
}

/* Tokens split over the threads; a single token's heads by parts. */
static void phase_qkv_post(void *ctx, int ith, int nth) {
    step_ctx *c = ctx;
    const ffl_hparams *hp = &c->s->model->hp;
    if (c->ub->n == 1) {
        part_qkv_post(c, ith, ith, nth);
        return;
    }
    int64_t b, e;
    ffl_split_range(c->ub->n, ith, nth, &b, &e);
    for (int64_t t = b; t < e; t++) qkv_post_heads(c, t, 0, hp->n_head, 0, hp->n_head_kv, (uint16_t *)thread_scratch(c->s, ith));
}

/* ---- attention -------------------------------------------------------------------------- */

typedef struct {
    ffl_session *s;
    const ffl_ubatch *ub;
    int32_t il;
    int32_t n_kv;          /* cells [0, n_kv) may be visible */
    const int32_t *blk_lo; /* per query block: the cells any of its tokens sees lie in [lo, hi) */
    const int32_t *blk_hi;
    const int32_t *cell_pos; /* steps of one sequence: s->att_cell_pos, else NULL (visibility checked per cell) */
    /* a single token: each thread encodes the output columns of its heads for these matmuls when they
     * are whole activation blocks, and sets encode_left if they are not (the caller then does all) */
    const act_plan *encode;
    atomic_int encode_left;
} att_ctx;

static int cell_visible(const ffl_kv_cell *cell, int32_t pos, uint64_t seq_bit) {
    return cell->pos >= 0 && cell->pos <= pos && (cell->seq & seq_bit);
}

/* The visible cell range of every query block; the same for all layers of a step. With one
 * sequence filled in order this is the causal triangle's bounding box, halving prompt attention. */
static void block_ranges(const ffl_kv_cache *kv, const ffl_ubatch *ub, int32_t n_kv, int32_t *lo, int32_t *hi) {
    for (int32_t t0 = 0, blk = 0; t0 < ub->n; t0 += FFL_ATT_BLOCK, blk++) {
        const int32_t nt = ub->n - t0 < FFL_ATT_BLOCK ? ub->n - t0 : FFL_ATT_BLOCK;
        int32_t l = n_kv, h = 0;
        for (int32_t j = 0; j < n_kv; j++)
            for (int32_t i = 0; i < nt; i++)
                if (cell_visible(&kv->cells[j], ub->pos[t0 + i], 1ull << ub->seq[t0 + i])) {
                    if (j < l) l = j;
                    h = j + 1;
                    break;
                }
        lo[blk] = l < h ? l : 0;
        hi[blk] = h;
    }
}

/* Masked softmax of n_rows score rows of w cells [lo, lo + w); row r belongs to query token tok[r]. */
static void softmax_rows(const att_ctx *c, float *scores, int32_t w, int32_t lo, int32_t n_rows, const int32_t *tok) {
    const ffl_kv_cache *kv = &c->s->kv;
    const float scale = c->s->model->hp.attn_scale;
    for (int32_t r = 0; r < n_rows; r++) {
        const int32_t pos = c->ub->pos[tok[r]];
        const uint64_t bit = 1ull << c->ub->seq[tok[r]];
        float *row = scores + (size_t)r * w;
        float mx = -INFINITY;
        if (c->cell_pos) {
            mx = ffl_vec_scale_causal_max(row, c->cell_pos + lo, w, pos, scale);
        } else {
            for (int32_t j = 0; j < w; j++) {
                if (cell_visible(&kv->cells[lo + j], pos, bit)) {
                    row[j] *= scale;
                    if (row[j] > mx) mx = row[j];
                } else {
                    row[j] = -INFINITY;
                }
            }
        }
        double sum = 0;
        if (mx == -INFINITY) /* no visible cell: the row stays all zero */
            memset(row, 0, (size_t)w * sizeof(float));
        else
            sum = ffl_vec_exp_shift(row, w, mx); /* masked cells: exp(-inf) = 0 */
        const float inv = sum > 0 ? (float)(1.0 / sum) : 0.0f;
        for (int32_t j = 0; j < w; j++) row[j] *= inv;
    }
}

/* One work item: scores = K q over the visible cells, masked softmax, out = V^T p, for either a
 * block of query tokens of one head or, for a single query token, all the query heads that share
 * one KV head (grouped-query attention reads each K and V row once for the group). Both take the
 * attention kernels where the level has them (ffl_attn_scores / ffl_attn_values: TinyLlama Q4_0,
 * 2 threads, AVX-512, single-token attention per layer 152 -> 109 us after 1024 tokens, 22 -> 13 us
 * after 64; prompts pp512 / pp2048 in turns, median 1.04x / 1.03x); otherwise the products go
 * through the matmul kernels with the cache's type, like ggml's mul_mat on the cache. */
static void phase_attention(void *ctx, int ith, int nth) {
    att_ctx *c = ctx;
    ffl_session *s = c->s;
    const ffl_hparams *hp = &s->model->hp;
    const ffl_kv_cache *kv = &s->kv;
    const int32_t n = c->ub->n, hdk = hp->head_dim_k, hdv = hp->head_dim_v;
    const int32_t group = hp->n_head / hp->n_head_kv;
    const int64_t NQ = (int64_t)hp->n_head * hdk, NO = (int64_t)hp->n_head * hdv;
    const int32_t n_blocks = (n + FFL_ATT_BLOCK - 1) / FFL_ATT_BLOCK;
    const int32_t kvt = kv->type;
    const int grouped = n == 1 && group <= FFL_ATT_BLOCK;
    int32_t heads_per_item = grouped ? group : 1;
    while (hp->n_head / heads_per_item < nth && heads_per_item % 2 == 0) heads_per_item /= 2; /* keep every thread busy */

    uint8_t *scratch = thread_scratch(s, ith);
    uint8_t *qbuf = scratch;
    float *scores = (float *)(scratch + ALIGN64((size_t)FFL_ATT_BLOCK * ffl_activation_row_bytes(kvt, hdk)));
    uint8_t *pbuf = (uint8_t *)scores + ALIGN64((size_t)FFL_ATT_BLOCK * (size_t)kv->n_cells * sizeof(float));
    float *tbuf = (float *)(pbuf + ALIGN64((size_t)FFL_ATT_BLOCK * ffl_activation_row_bytes(kvt, kv->n_cells)));
    /* One token without the attention kernels, several heads per KV head: the heads' rows are the
     * matmul kernels' weight rows and the cache rows, read in place, their tokens, so the token tiles
     * fill with cells (4-8 heads would leave most of each tile empty). TinyLlama Q4_0 tg, 2 threads,
     * in turns per token: 1.03-1.09x after a 1024-token prompt, 1.01-1.04x after 256. */
    const int swap = grouped && heads_per_item >= 4 && (kvt == FFL_TYPE_F16 || kvt == FFL_TYPE_F32);
    int32_t tok[FFL_ATT_BLOCK];

    int64_t b, e;
    ffl_split_range((int64_t)(hp->n_head / heads_per_item) * n_blocks, ith, nth, &b, &e);
    for (int64_t item = b; item < e; item++) {
        const int32_t h = (int32_t)(item / n_blocks) * heads_per_item, blk = (int32_t)(item % n_blocks);
        const int32_t kvh = h / group;
        const int32_t t0 = blk * FFL_ATT_BLOCK, nt = n - t0 < FFL_ATT_BLOCK ? n - t0 : FFL_ATT_BLOCK;
        const int32_t lo = c->blk_lo[blk], w = c->blk_hi[blk] - lo;
        /* rows: the block's tokens of head h, or heads h .. h + heads_per_item - 1 (sharing KV head
         * kvh) of the one token; both are rows of hdk (hdv) floats at a fixed stride in q (att) */
        const int32_t rows = grouped ? heads_per_item : nt;
        const int64_t q_stride = grouped ? hdk : NQ, out_stride = grouped ? hdv : NO;
        float *out = s->att + (int64_t)t0 * NO + (int64_t)h * hdv;
        if (w <= 0) { /* nothing visible (cannot happen for tokens stored in the cache) */
            for (int32_t i = 0; i < rows; i++) memset(out + (int64_t)i * out_stride, 0, (size_t)hdv * sizeof(float));
            continue;
        }
        for (int32_t i = 0; i < rows; i++) tok[i] = grouped ? t0 : t0 + i;

        const uint8_t *kr = ffl_kv_k_head(kv, c->il, kvh, lo);
        const uint8_t *vr = ffl_kv_v_row(kv, c->il, (int64_t)kvh * hdv) + (size_t)lo * kv->elt;
        const size_t k_stride = (size_t)hdk * kv->elt, v_stride = (size_t)kv->n_cells * kv->elt;
        const float *qrows = s->q + (int64_t)t0 * NQ + (int64_t)h * hdk;
        const int kernels = ffl_attn_scores(kvt, qrows, rows, hdk, q_stride, kr, k_stride, w, scores);
        if (!kernels) {
            encode_rows(kvt, qrows, q_stride, qbuf, hdk, 0, rows);
            if (swap) { /* products transposed: tbuf[cell][head] */
                ffl_matmul_rows_strided(kvt, qbuf, ffl_activation_row_bytes(kvt, hdk), kr, k_stride, hdk, w, tbuf, rows, 0, rows);
                for (int32_t r = 0; r < rows; r++)
                    for (int32_t j = 0; j < w; j++) scores[(size_t)r * w + j] = tbuf[(size_t)j * rows + r];
            } else {
                ffl_matmul_rows(kvt, kr, k_stride, qbuf, hdk, rows, scores, w, 0, w);
            }
        }
        softmax_rows(c, scores, w, lo, rows, tok);
        if (kernels && ffl_attn_values(kvt, scores, rows, w, vr, v_stride, hdv, out, out_stride)) continue;
        encode_rows(kvt, scores, w, pbuf, w, 0, rows);
        if (swap) {
            ffl_matmul_rows_strided(kvt, pbuf, ffl_activation_row_bytes(kvt, w), vr, v_stride, w, hdv, tbuf, rows, 0, rows);
            for (int32_t r = 0; r < rows; r++)
                for (int32_t d = 0; d < hdv; d++) out[(int64_t)r * out_stride + d] = tbuf[(size_t)d * rows + r];
        } else {
            ffl_matmul_rows(kvt, vr, v_stride, pbuf, w, rows, out, out_stride, 0, hdv);
        }
    }
    if (c->encode && n == 1 && b < e) {
        const int64_t c0 = b * heads_per_item * hdv, c1 = e * heads_per_item * hdv;
        if (c0 % ACT_BLOCK_MAX == 0 && (c1 % ACT_BLOCK_MAX == 0 || c1 == NO)) encode_cols(s, c->encode, s->att, NO, 0, c0, c1);
        else atomic_store_explicit(&c->encode_left, 1, memory_order_relaxed);
    }
}

static void phase_encode_att(void *ctx, int ith, int nth) {
    step_ctx *c = ctx;
    ffl_session *s = c->s;
    const int64_t NO = (int64_t)s->model->hp.n_head * s->model->hp.head_dim_v;
    int64_t b, e;
    if (c->ub->n == 1) {
        col_part(NO, ith, nth, &b, &e);
        encode_cols(s, &c->plan, s->att, NO, 0, b, e);
        return;
    }
    ffl_split_range(c->ub->n, ith, nth, &b, &e);
    for (int64_t t = b; t < e; t++) encode_row(s, &c->plan, s->att, NO, t);
}

/* A single row's columns of part `part` (col_part). */
static void part_swiglu(void *ctx, int part, int ith, int nth) {
    (void)ith;
    step_ctx *c = ctx;
    ffl_session *s = c->s;
    const int64_t F = s->model->hp.n_ff;
    int64_t b, e;
    col_part(F, part, nth, &b, &e);
    ffl_vec_swiglu(s->gate + b, s->up + b, e - b);
    encode_cols(s, &c->plan, s->gate, F, 0, b, e);
}

/* gate = silu(gate) * up, then encode for the down projection. */
static void phase_swiglu(void *ctx, int ith, int nth) {
    step_ctx *c = ctx;
    ffl_session *s = c->s;
    const int64_t F = s->model->hp.n_ff;
    int64_t b, e;
    if (c->n_rows == 1) {
        part_swiglu(c, ith, ith, nth);
        return;
    }
    ffl_split_range(c->n_rows, ith, nth, &b, &e);
    for (int64_t t = b; t < e; t++) {
        float *g = s->gate + t * F;
        const float *u = s->up + t * F;
        ffl_vec_swiglu(g, u, F);
        encode_row(s, &c->plan, s->gate, F, t);
    }
}

/* ---- mixture of experts ----------------------------------------------------------------- */

/* Router: softmax over all experts, keep the top k, renormalise their weights to sum to 1. */
static void route_tokens(ffl_session *s, int32_t n) {
    const ffl_hparams *hp = &s->model->hp;
    const int32_t X = hp->n_expert, K = hp->n_expert_used;
    for (int32_t t = 0; t < n; t++) {
        float *p = s->router + (size_t)t * X;
        float mx = -INFINITY;
        for (int32_t i = 0; i < X; i++) mx = p[i] > mx ? p[i] : mx;
        double sum = 0;
        for (int32_t i = 0; i < X; i++) {
            p[i] = expf(p[i] - mx);
            sum += (double)p[i];
        }
        const float inv = (float)(1.0 / sum);
        for (int32_t i = 0; i < X; i++) p[i] *= inv;
        int32_t *sel = s->sel + (size_t)t * K;
        float *w = s->sel_w + (size_t)t * K;
        float wsum = 0;
        for (int32_t k = 0; k < K; k++) {
            int32_t best = -1;
            for (int32_t i = 0; i < X; i++) {
                int taken = 0;
                for (int32_t j = 0; j < k; j++) taken |= sel[j] == i;
                if (!taken && (best < 0 || p[i] > p[best])) best = i;
            }
            sel[k] = best;
            w[k] = p[best];
            wsum += w[k];
        }
        for (int32_t k = 0; k < K; k++) w[k] /= wsum;
    }
}

/* Gathers the normalised inputs routed to the current expert and encodes them. */
static void phase_moe_gather(void *ctx, int ith, int nth) {
    step_ctx *c = ctx;
    ffl_session *s = c->s;
    const int64_t E = s->model->hp.n_embd;
    int64_t b, e;
    ffl_split_range(c->n_rows, ith, nth, &b, &e);
    for (int64_t i = b; i < e; i++) {
        const int32_t t = s->ex_rows[i] / c->expert_k;
        memcpy(s->ex_out + i * E, s->xn + (int64_t)t * E, (size_t)E * sizeof(float));
        encode_row(s, &c->plan, s->ex_out, E, i);
    }
}

/* delta[t] = sum over the token's experts, in rank order, of weight * expert output. */
static void phase_moe_combine(void *ctx, int ith, int nth) {
    step_ctx *c = ctx;
    ffl_session *s = c->s;
    const int64_t E = s->model->hp.n_embd;
    const int32_t K = c->expert_k;
    int64_t b, e;
    ffl_split_range(c->ub->n, ith, nth, &b, &e);
    for (int64_t t = b; t < e; t++) {
        float *d = s->delta + t * E;
        for (int32_t k = 0; k < K; k++) {
            const float w = s->sel_w[t * K + k];
            const float *o = s->moe_out + (t * K + k) * E;
            if (k == 0)
                for (int64_t i = 0; i < E; i++) d[i] = o[i] * w;
            else
                for (int64_t i = 0; i < E; i++) d[i] += o[i] * w;
        }
    }
}

static void run_moe(ffl_session *s, step_ctx *c) {
    const ffl_hparams *hp = &s->model->hp;
    const ffl_layer *L = c->layer;
    const int32_t n = c->ub->n, K = hp->n_expert_used;
    const int64_t E = hp->n_embd, F = hp->n_ff;
    const ffl_weight *wg = ffl_layer_w(L, FFL_T_FFN_GATE_EXPS), *wu = ffl_layer_w(L, FFL_T_FFN_UP_EXPS),
                     *wd = ffl_layer_w(L, FFL_T_FFN_DOWN_EXPS);

    route_tokens(s, n);
    for (int32_t x = 0; x < hp->n_expert; x++) {
        int32_t m = 0;
        for (int32_t t = 0; t < n; t++)
            for (int32_t k = 0; k < K; k++)
                if (s->sel[t * K + k] == x) s->ex_rows[m++] = t * K + k;
        if (m == 0) continue;

        step_ctx g = *c;
        g.plan = (act_plan){.n = 0};
        int sg = plan_slot(&g.plan, wg->type), su = plan_slot(&g.plan, wu->type);
        g.n_rows = m;
        g.expert_k = K;
        run(s, phase_moe_gather, &g, (double)m * E * 4);

        mm_job j = {.n = 0, .n_tok = m};
        mm_add(&j, wg, x, s->act[sg], s->gate, F, 0);
        mm_add(&j, wu, x, s->act[su], s->up, F, 0);
        mm_run(s, &j);

        step_ctx d = *c;
        d.plan = (act_plan){.n = 0};
        plan_slot(&d.plan, wd->type);
        d.n_rows = m;
        run_after_mm(s, phase_swiglu, &d, m, (double)m * F * 8);

        mm_job jd = {.n = 0, .n_tok = m};
        mm_add(&jd, wd, x, s->act[0], s->ex_out, E, 0);
        mm_run(s, &jd);
        for (int32_t i = 0; i < m; i++)
            memcpy(s->moe_out + (int64_t)s->ex_rows[i] * E, s->ex_out + (int64_t)i * E, (size_t)E * sizeof(float));
    }
    c->expert_k = K;
    run(s, phase_moe_combine, c, (double)n * E * K);
}

/* ---- output ----------------------------------------------------------------------------- */

/* Output rows: final residual add, output norm, kept as embeddings if asked, encoded for the output matmul. */

typedef struct {
    ffl_session *s;
    const ffl_ubatch *ub;
    const int32_t *out_tok; /* ubatch token index of each output row of this step */
    int32_t n_out;
    int32_t row0;           /* global output row of this step's first output */
    act_plan plan;
} out_ctx;

static void phase_output_norm(void *ctx, int ith, int nth) {
    out_ctx *c = ctx;
    ffl_session *s = c->s;
    const ffl_model *m = s->model;
    const int64_t E = m->hp.n_embd;
    int64_t b, e;
    ffl_split_range(c->n_out, ith, nth, &b, &e);
    for (int64_t i = b; i < e; i++) {
        const int64_t t = c->out_tok[i];
        float *x = s->x + t * E, *y = s->xn + i * E;
        if (s->pending_delta) {
            const float *d = s->delta + t * E;
            for (int64_t k = 0; k < E; k++) x[k] += d[k];
        }
        rms_norm(x, (const float *)m->global[FFL_T_OUTPUT_NORM].data, y, E,
                 m->hp.norm_eps);
        if (s->params.embeddings) memcpy(s->embd + (int64_t)(c->row0 + i) * E, y, (size_t)E * sizeof(float));
        encode_row(s, &c->plan, s->xn, E, i);
    }
}

/* ---- the step --------------------------------------------------------------------------- */

static int aborted(const ffl_session *s) {
    return s->params.abort_callback && s->params.abort_callback(s->params.abort_user_data) != 0;
}

int32_t ffl_forward(ffl_session *s, const ffl_ubatch *ub) {
    const ffl_model *m = s->model;
    const ffl_hparams *hp = &m->hp;
    const int32_t n = ub->n;
    const int64_t E = hp->n_embd, F = hp->n_ff;
    const int64_t NQ = (int64_t)hp->n_head * hp->head_dim_k, NK = (int64_t)hp->n_head_kv * hp->head_dim_k,
                  NV = (int64_t)hp->n_head_kv * hp->head_dim_v;

    step_ctx c = {.s = s, .ub = ub, .n_rows = n};
    s->pending_delta = 0;
    s->norm_sums_ready = 0;
    run(s, phase_embed, &c, (double)n * E * 2);

    run(s, phase_rope_angles, &c, (double)n * hp->n_rot * 16);
    att_ctx ac = {.s = s, .ub = ub, .n_kv = ffl_kv_n_active(&s->kv), .blk_lo = s->blk_lo, .blk_hi = s->blk_hi};
    block_ranges(&s->kv, ub, ac.n_kv, s->blk_lo, s->blk_hi);
    /* a step of one sequence: its cells, the same in every layer and head, decided once; each query
     * then sees those up to its own position */
    int one_seq = 1;
    for (int32_t t = 1; t < n; t++) one_seq &= ub->seq[t] == ub->seq[0];
    if (one_seq) {
        const uint64_t bit = 1ull << ub->seq[0];
        for (int32_t j = 0; j < ac.n_kv; j++) {
            const ffl_kv_cell *cell = &s->kv.cells[j];
            s->att_cell_pos[j] = cell->pos >= 0 && (cell->seq & bit) ? cell->pos : INT32_MAX;
        }
        ac.cell_pos = s->att_cell_pos;
    }
    for (int32_t il = 0; il < hp->n_layer; il++) {
        if (aborted(s)) return ffl_fail(FFL_ERR_ABORTED, "decode aborted by the abort callback");
        const ffl_layer *L = &m->layers[il];
        c.layer = L;
        c.il = il;

        /* attention block */
        const ffl_weight *wq = ffl_layer_w(L, FFL_T_ATTN_Q), *wk = ffl_layer_w(L, FFL_T_ATTN_K),
                         *wv = ffl_layer_w(L, FFL_T_ATTN_V), *wo = ffl_layer_w(L, FFL_T_ATTN_OUT);
        c.plan = (act_plan){.n = 0};
        int sq = plan_slot(&c.plan, wq->type), sk = plan_slot(&c.plan, wk->type), sv = plan_slot(&c.plan, wv->type);
        norm_in(s, &c, NULL, ffl_layer_w(L, FFL_T_ATTN_NORM));
        mm_job j = {.n = 0, .n_tok = n};
        mm_add(&j, wq, 0, s->act[sq], s->q, NQ, hp->head_dim_k);
        mm_add(&j, wk, 0, s->act[sk], s->k, NK, hp->head_dim_k);
        mm_add(&j, wv, 0, s->act[sv], s->v, NV, hp->head_dim_v);
        mm_epilogue(&j, &c, part_qkv_post);
        mm_run(s, &j);
        if (!j.part_done) run_after_mm(s, phase_qkv_post, &c, n, (double)n * (NQ + NK + NV) * 4);
        c.plan = (act_plan){.n = 0};
        plan_slot(&c.plan, wo->type);
        ac.il = il;
        ac.encode = n == 1 ? &c.plan : NULL;
        atomic_store_explicit(&ac.encode_left, 0, memory_order_relaxed);
        run(s, phase_attention, &ac, (double)n * hp->n_head * ac.n_kv * (hp->head_dim_k + hp->head_dim_v));
        if (!ac.encode || atomic_load_explicit(&ac.encode_left, memory_order_relaxed))
            run_after_mm(s, phase_encode_att, &c, n, (double)n * hp->n_head * hp->head_dim_v * 4);
        j = (mm_job){.n = 0, .n_tok = n};
        mm_add(&j, wo, 0, s->act[0], s->delta, E, 0);
        mm_block_output(&j, &c, ffl_layer_w(L, FFL_T_ATTN_OUT_BIAS));
        mm_run(s, &j);
        mm_block_done(s, &j);

        /* feed-forward block */
        c.plan = (act_plan){.n = 0};
        if (hp->n_expert > 0) {
            const ffl_weight *wr = ffl_layer_w(L, FFL_T_FFN_GATE_INP);
            plan_slot(&c.plan, wr->type);
            norm_in(s, &c, ffl_layer_w(L, FFL_T_ATTN_OUT_BIAS), ffl_layer_w(L, FFL_T_FFN_NORM));
            j = (mm_job){.n = 0, .n_tok = n};
            mm_add(&j, wr, 0, s->act[0], s->router, hp->n_expert, 0);
            mm_run(s, &j);
            run_moe(s, &c);
        } else {
            const ffl_weight *wg = ffl_layer_w(L, FFL_T_FFN_GATE), *wu = ffl_layer_w(L, FFL_T_FFN_UP),
                             *wd = ffl_layer_w(L, FFL_T_FFN_DOWN);
            int sg = plan_slot(&c.plan, wg->type), su = plan_slot(&c.plan, wu->type);
            norm_in(s, &c, ffl_layer_w(L, FFL_T_ATTN_OUT_BIAS), ffl_layer_w(L, FFL_T_FFN_NORM));
            /* the down projection's input: a single token's is encoded as the gate and up rows of each part
             * finish (part_swiglu), into a slot the gate and up matmuls do not read */
            c.plan = (act_plan){.first = FFL_ACT_SLOTS - 1};
            const int sd = plan_slot(&c.plan, wd->type);
            c.n_rows = n;
            j = (mm_job){.n = 0, .n_tok = n};
            mm_add(&j, wg, 0, s->act[sg], s->gate, F, 0);
            mm_add(&j, wu, 0, s->act[su], s->up, F, 0);
            mm_epilogue(&j, &c, part_swiglu);
            mm_run(s, &j);
            if (!j.part_done) run_after_mm(s, phase_swiglu, &c, n, (double)n * F * 8);
            j = (mm_job){.n = 0, .n_tok = n};
            mm_add(&j, wd, 0, s->act[sd], s->delta, E, 0);
            mm_block_output(&j, &c, NULL);
            mm_run(s, &j);
        }
        mm_block_done(s, &j);
    }

    /* the last layer ran since the check above: a cancel that came meanwhile still stops before the output */
    if (aborted(s)) return ffl_fail(FFL_ERR_ABORTED, "decode aborted by the abort callback");
    if (ub->n_out == 0) return FFL_OK;
    int32_t k = 0, row0 = -1;
    for (int32_t t = 0; t < n; t++)
        if (ub->out_row[t] >= 0) {
            if (row0 < 0) row0 = ub->out_row[t];
            s->out_tok[k++] = t;
        }
    out_ctx oc = {.s = s, .ub = ub, .out_tok = s->out_tok, .n_out = k, .row0 = row0};
    plan_slot(&oc.plan, m->output->type);
    run(s, phase_output_norm, &oc, (double)k * E * 8);
    s->pending_delta = 0;
    mm_job j = {.n = 0, .n_tok = k};
    mm_add(&j, m->output, 0, s->act[0], s->logits + (int64_t)row0 * hp->n_vocab, hp->n_vocab, 0);
    mm_run(s, &j);
    return FFL_OK;
}

/* ---- buffers ---------------------------------------------------------------------------- */

static size_t max_act_row(const ffl_model *m) {
    size_t best = 0;
    const ffl_weight *ws[FFL_T_GLOBAL_COUNT + 1];
    for (int32_t r = 0; r < FFL_T_GLOBAL_COUNT; r++) ws[r] = &m->global[r];
    ws[FFL_T_GLOBAL_COUNT] = m->output;
    for (int32_t r = 0; r <= FFL_T_GLOBAL_COUNT; r++)
        if (ws[r]->data && ws[r]->n_rows > 1) {
            size_t b = ffl_activation_row_bytes(ws[r]->type, ws[r]->n_cols);
            if (b > best) best = b;
        }
    for (int32_t il = 0; il < m->hp.n_layer; il++)
        for (int32_t i = 0; i < FFL_T_LAYER_COUNT; i++) {
            const ffl_weight *w = &m->layers[il].t[i];
            if (!w->data || w->n_rows <= 1) continue;
            size_t b = ffl_activation_row_bytes(w->type, w->n_cols);
            if (b > best) best = b;
        }
    return best;
}

int32_t ffl_forward_alloc_thread_scratch(ffl_session *s, int32_t n_threads) {
    const ffl_hparams *hp = &s->model->hp;
    const int32_t kvt = s->kv.type;
    const size_t t_cols = (size_t)(s->kv.n_cells > hp->head_dim_v ? s->kv.n_cells : hp->head_dim_v);
    size_t att = ALIGN64((size_t)FFL_ATT_BLOCK * ffl_activation_row_bytes(kvt, hp->head_dim_k)) +
                 ALIGN64((size_t)FFL_ATT_BLOCK * (size_t)s->kv.n_cells * sizeof(float)) +
                 ALIGN64((size_t)FFL_ATT_BLOCK * ffl_activation_row_bytes(kvt, s->kv.n_cells)) +
                 ALIGN64((size_t)FFL_ATT_BLOCK * t_cols * sizeof(float)); /* transposed products */
    size_t post = ALIGN64((size_t)hp->n_head_kv * hp->head_dim_v * sizeof(uint16_t)); /* a token's values as halves */
    size_t per = att > post ? att : post;
    uint8_t *p = aligned_alloc(64, per * (size_t)n_threads);
    ffl_row_share *rs = aligned_alloc(64, sizeof *rs * (size_t)n_threads);
    if (!p || !rs) {
        free(p);
        free(rs);
        return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "out of memory for per-thread scratch");
    }
    free(s->thread_scratch);
    free(s->row_share);
    s->row_share = rs;
    s->thread_scratch = p;
    s->thread_scratch_bytes = per;
    s->thread_scratch_count = n_threads;
    return FFL_OK;
}

static float *falloc(int64_t rows, int64_t cols, int *ok) {
    float *p = aligned_alloc(64, ALIGN64((size_t)rows * (size_t)cols * sizeof(float)));
    if (!p) *ok = 0;
    return p;
}

int32_t ffl_forward_alloc(ffl_session *s) {
    const ffl_hparams *hp = &s->model->hp;
    const int64_t n = s->n_ub, E = hp->n_embd, F = hp->n_ff;
    const int64_t NQ = (int64_t)hp->n_head * hp->head_dim_k, NK = (int64_t)hp->n_head_kv * hp->head_dim_k,
                  NV = (int64_t)hp->n_head_kv * hp->head_dim_v, NO = (int64_t)hp->n_head * hp->head_dim_v;
    int ok = 1;
    s->x = falloc(n, E, &ok);
    s->xn = falloc(n, E, &ok);
    s->q = falloc(n, NQ, &ok);
    s->k = falloc(n, NK, &ok);
    s->v = falloc(n, NV, &ok);
    s->att = falloc(n, NO, &ok);
    s->delta = falloc(n, E, &ok);
    s->gate = falloc(n, F, &ok);
    s->up = falloc(n, F, &ok);
    s->out_tok = malloc((size_t)n * sizeof(int32_t));
    s->att_cell_pos = malloc((size_t)s->kv.n_cells * sizeof(int32_t));
    s->rope_cs = falloc(n, hp->n_rot, &ok);
    s->blk_lo = malloc((size_t)(n / FFL_ATT_BLOCK + 1) * sizeof(int32_t));
    s->blk_hi = malloc((size_t)(n / FFL_ATT_BLOCK + 1) * sizeof(int32_t));
    s->norm_sums = malloc((size_t)((E + ACT_BLOCK_MAX - 1) / ACT_BLOCK_MAX) * sizeof(double));
    if (!s->out_tok || !s->att_cell_pos || !s->blk_lo || !s->blk_hi || !s->norm_sums) ok = 0;
    s->act_bytes = ALIGN64(max_act_row(s->model) * (size_t)n);
    for (int i = 0; i < FFL_ACT_SLOTS; i++) {
        s->act[i] = aligned_alloc(64, s->act_bytes);
        if (!s->act[i]) ok = 0;
    }
    if (hp->n_expert > 0) {
        const int64_t K = hp->n_expert_used;
        s->router = falloc(n, hp->n_expert, &ok);
        s->sel_w = falloc(n, K, &ok);
        s->moe_out = falloc(n * K, E, &ok);
        s->ex_out = falloc(n, E, &ok);
        s->sel = malloc((size_t)(n * K) * sizeof(int32_t));
        s->ex_rows = malloc((size_t)n * sizeof(int32_t));
        if (!s->sel || !s->ex_rows) ok = 0;
    }
    if (!ok) {
        ffl_forward_free(s);
        return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "out of memory for the session's scratch buffers");
    }
    return ffl_forward_alloc_thread_scratch(s, s->n_threads);
}

void ffl_forward_free(ffl_session *s) {
    float **fs[] = {&s->x, &s->xn, &s->q, &s->k, &s->v, &s->att, &s->delta, &s->gate, &s->up, &s->rope_cs,
                    &s->router, &s->sel_w, &s->moe_out, &s->ex_out};
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) {
        free(*fs[i]);
        *fs[i] = NULL;
    }
    for (int i = 0; i < FFL_ACT_SLOTS; i++) {
        free(s->act[i]);
        s->act[i] = NULL;
    }
    free(s->sel);
    free(s->ex_rows);
    free(s->out_tok);
    free(s->att_cell_pos);
    free(s->blk_lo);
    free(s->blk_hi);
    free(s->norm_sums);
    s->norm_sums = NULL;
    s->out_tok = NULL;
    s->att_cell_pos = NULL;
    s->blk_lo = NULL;
    s->blk_hi = NULL;
    free(s->thread_scratch);
    free(s->row_share);
    s->row_share = NULL;
    s->sel = NULL;
    s->ex_rows = NULL;
    s->thread_scratch = NULL;
}

/* ---- context shift ---------------------------------------------------------------------- */

/* Every angle is linear in the position, so moving a cached key from p to p + delta is one more
 * rotation by the angles of delta (without the YaRN magnitude, which the key already carries). */
int32_t ffl_forward_shift_keys(ffl_session *s, const int32_t *cells, int32_t n_cells, int32_t delta) {
    if (n_cells == 0 || delta == 0) return FFL_OK;
    const ffl_model *m = s->model;
    const ffl_hparams *hp = &m->hp;
    ffl_kv_cache *kv = &s->kv;
    const int64_t D = kv->head_dim_k;
    const float *freq_factors = m->global[FFL_T_ROPE_FREQS].data ? (const float *)m->global[FFL_T_ROPE_FREQS].data : NULL;
    float *cs = malloc((size_t)(hp->n_rot + D) * sizeof(float));
    if (!cs) return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "out of memory for the context shift");
    float *k = cs + hp->n_rot;
    rope_angles_scaled(hp, freq_factors, delta, 0, cs);
    for (int32_t il = 0; il < kv->n_layer; il++)
        for (int32_t i = 0; i < n_cells; i++)
            for (int32_t h = 0; h < kv->n_head_kv; h++) {
                uint8_t *kh = ffl_kv_k_head(kv, il, h, cells[i]);
                if (kv->type == FFL_TYPE_F16) {
                    const uint16_t *src = (const uint16_t *)kh;
                    for (int64_t j = 0; j < D; j++) k[j] = ffl_half_to_float(src[j]);
                } else {
                    memcpy(k, kh, (size_t)D * sizeof(float));
                }
                rope_apply(hp, cs, k, 1, (int32_t)D);
                if (kv->type == FFL_TYPE_F16) ffl_vec_to_half((uint16_t *)kh, k, D);
                else memcpy(kh, k, (size_t)D * sizeof(float));
            }
    free(cs);
    return FFL_OK;
}
