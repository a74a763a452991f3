/*
 * fflama.h - the one public C API of the fflama core.
 *
 * Rules every declaration here follows, because bindings/ generates the Java
 * FFM bindings from this file with a small parser for exactly this subset:
 *   - integer constants:   #define FFL_NAME <integer literal>
 *   - opaque handles:      typedef struct ffl_x ffl_x;
 *   - plain structs:       typedef struct ffl_x { <scalar or pointer field>; ... } ffl_x;
 *   - enums:               typedef enum ffl_x { FFL_A = <int>, ... } ffl_x;   (passed as int32_t)
 *   - callbacks:           typedef <ret> (*ffl_x_fn)(<params>);
 *   - functions:           FFL_API <ret> ffl_name(<params>);   one declaration per line
 *   - scalar types: void, int8_t..int64_t, uint8_t..uint64_t, float, double, size_t;
 *     everything else is passed by pointer.
 * Every entry point returns a status (FFL_OK or a negative ffl_status) or a value
 * whose failure is documented; ffl_last_error() explains the last failure of the
 * calling thread. No entry point aborts, asserts or lets a C++ exception escape.
 */
#ifndef FFLAMA_H
#define FFLAMA_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define FFL_API __declspec(dllexport)
#else
#define FFL_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ==== core: version, status, errors, logging ==== */

#define FFL_VERSION_MAJOR 0
#define FFL_VERSION_MINOR 1
#define FFL_VERSION_PATCH 0

typedef enum ffl_status {
    FFL_OK = 0,
    FFL_ERR_INVALID_ARGUMENT = -1,
    FFL_ERR_IO = -2,
    FFL_ERR_FORMAT = -3,
    FFL_ERR_UNSUPPORTED = -4,
    FFL_ERR_OUT_OF_MEMORY = -5,
    FFL_ERR_OUT_OF_RANGE = -6,
    FFL_ERR_CONTEXT_FULL = -7,
    FFL_ERR_ABORTED = -8,
    FFL_ERR_STATE = -9,
    FFL_ERR_INTERNAL = -10
} ffl_status;

/* "0.1.0" */
FFL_API const char *ffl_version(void);
/* Message of the calling thread's last failure ("" if none). Valid until the next failing call on this thread. */
FFL_API const char *ffl_last_error(void);
/* Status of the calling thread's last failure (FFL_OK if none). */
FFL_API int32_t ffl_last_status(void);
/* Symbolic name of a status code, e.g. "FFL_ERR_FORMAT". */
FFL_API const char *ffl_status_name(int32_t status);

typedef enum ffl_log_level {
    FFL_LOG_TRACE = 0,
    FFL_LOG_DEBUG = 1,
    FFL_LOG_INFO = 2,
    FFL_LOG_WARN = 3,
    FFL_LOG_ERROR = 4,
    FFL_LOG_OFF = 5
} ffl_log_level;

/* Receives every log message at or above the set level. Without a callback the core is silent. */
typedef void (*ffl_log_fn)(int32_t level, const char *message, void *user_data);
FFL_API void ffl_log_set_callback(ffl_log_fn callback, void *user_data);
FFL_API void ffl_log_set_level(int32_t min_level);
/* Sends one message through the logger (used by binding tests and by callers that share the sink). */
FFL_API void ffl_log_message(int32_t level, const char *message);

/* Long calls report progress through this; returning non-zero cancels the call (FFL_ERR_ABORTED). */
typedef int32_t (*ffl_progress_fn)(float fraction, void *user_data);
/* Checked between units of work (layers); returning non-zero aborts the call with FFL_ERR_ABORTED. */
typedef int32_t (*ffl_abort_fn)(void *user_data);

/* ==== cpu: features and kernel dispatch ==== */

typedef enum ffl_kernel_level {
    FFL_CPU_SCALAR = 0,
    FFL_CPU_AVX2 = 1,
    FFL_CPU_AVX512 = 2,
    FFL_CPU_NEON = 3,
    FFL_CPU_NEON_DOTPROD = 4
} ffl_kernel_level;

/* Space separated features this CPU has, e.g. "sse3 avx avx2 fma f16c avx512f avx512bw avx512vnni". */
FFL_API const char *ffl_cpu_features(void);
/* Kernel level in use: the best the CPU supports, lowered by FFLAMA_CPU=scalar|avx2|avx512. */
FFL_API int32_t ffl_cpu_level(void);
/* Best kernel level the CPU supports, ignoring FFLAMA_CPU. */
FFL_API int32_t ffl_cpu_max_level(void);
/* Selects a kernel level (must be <= ffl_cpu_max_level()); for tests and benchmarks. Not thread-safe with running work. */
FFL_API int32_t ffl_cpu_set_level(int32_t level);
/* "scalar", "avx2", "avx512", "neon", "neon-dotprod" */
FFL_API const char *ffl_cpu_level_name(int32_t level);
FFL_API int32_t ffl_cpu_physical_cores(void);

/* Machine measurements, so benchmarks can report fractions of this machine's limits. */
typedef enum ffl_peak_kind {
    FFL_PEAK_F32_FMA = 0,
    FFL_PEAK_INT8_DOT = 1,
    FFL_PEAK_INT16_DOT = 2
} ffl_peak_kind;

/* Streaming read bandwidth: n_threads (<= 0: ffl_cpu_physical_cores()) sum their share of a buffer of
 * `bytes` bytes (0: 1 GiB, far beyond any last-level cache) with the widest loads of ffl_cpu_level();
 * the best of a few runs. Allocates and touches the buffer for the duration of the call. */
FFL_API int32_t ffl_measure_read_bandwidth(int32_t n_threads, uint64_t bytes, double *out_bytes_per_second);
/* The same measurement kept ready, to be repeated next to other work (e.g. before and after every
 * repetition of a benchmark on a machine whose bandwidth other tenants move): _new allocates and
 * touches the buffer once (arguments as above), each _run times one streaming read of it (at least
 * 256 MiB in all), _free releases it. A probe is used by one thread at a time. */
typedef struct ffl_bandwidth_probe ffl_bandwidth_probe;
FFL_API int32_t ffl_bandwidth_probe_new(int32_t n_threads, uint64_t bytes, ffl_bandwidth_probe **out);
FFL_API int32_t ffl_bandwidth_probe_run(ffl_bandwidth_probe *probe, double *out_bytes_per_second);
FFL_API void ffl_bandwidth_probe_free(ffl_bandwidth_probe *probe);
/* Peak arithmetic throughput of n_threads running a register-only kernel of the level in use:
 * FFL_PEAK_F32_FMA counts 2 ops per fused multiply-add lane; FFL_PEAK_INT8_DOT counts 2 ops per
 * byte-pair multiply-accumulate (vpdpbusd with AVX-512 VNNI, vpmaddubsw+vpmaddwd with AVX2);
 * FFL_PEAK_INT16_DOT 2 ops per 16-bit pair multiply-accumulate (vpdpwssd with AVX-512 VNNI,
 * vpmaddwd+vpaddd without). Takes about half a second. */
FFL_API int32_t ffl_measure_peak_flops(int32_t n_threads, int32_t kind, double *out_ops_per_second);
/* Instructions ffl_measure_peak_flops uses for a kind at the current level, e.g. "vpdpbusd zmm"; NULL for an unknown kind. */
FFL_API const char *ffl_measure_peak_kernel_name(int32_t kind);
/* The peak (ffl_peak_kind) that products of many tokens with weights of type wtype are bound by at the
 * current level: FFL_PEAK_INT8_DOT for block-quantized types, FFL_PEAK_F32_FMA for float ones except
 * F16 with AVX-512 VNNI, which multiplies in 16-bit integers (FFL_PEAK_INT16_DOT); -1 for a type
 * without kernels. */
FFL_API int32_t ffl_matmul_peak_kind(int32_t wtype);

/* ==== tensor types (ggml's numbering, as stored in GGUF) ==== */

typedef enum ffl_type {
    FFL_TYPE_F32 = 0,
    FFL_TYPE_F16 = 1,
    FFL_TYPE_Q4_0 = 2,
    FFL_TYPE_Q4_1 = 3,
    FFL_TYPE_Q5_0 = 6,
    FFL_TYPE_Q5_1 = 7,
    FFL_TYPE_Q8_0 = 8,
    FFL_TYPE_Q8_1 = 9,
    FFL_TYPE_Q2_K = 10,
    FFL_TYPE_Q3_K = 11,
    FFL_TYPE_Q4_K = 12,
    FFL_TYPE_Q5_K = 13,
    FFL_TYPE_Q6_K = 14,
    FFL_TYPE_Q8_K = 15,
    FFL_TYPE_IQ2_XXS = 16,
    FFL_TYPE_IQ2_XS = 17,
    FFL_TYPE_IQ3_XXS = 18,
    FFL_TYPE_IQ1_S = 19,
    FFL_TYPE_IQ4_NL = 20,
    FFL_TYPE_IQ3_S = 21,
    FFL_TYPE_IQ2_S = 22,
    FFL_TYPE_IQ4_XS = 23,
    FFL_TYPE_I8 = 24,
    FFL_TYPE_I16 = 25,
    FFL_TYPE_I32 = 26,
    FFL_TYPE_I64 = 27,
    FFL_TYPE_F64 = 28,
    FFL_TYPE_IQ1_M = 29,
    FFL_TYPE_BF16 = 30,
    FFL_TYPE_TQ1_0 = 34,
    FFL_TYPE_TQ2_0 = 35,
    FFL_TYPE_COUNT = 39
} ffl_type;

/* Name as ggml spells it ("q4_K", "f16"), or NULL for an unknown type. */
FFL_API const char *ffl_type_name(int32_t type);
/* Elements per block (1 for plain types), or 0 for an unknown type. */
FFL_API int64_t ffl_type_block_size(int32_t type);
/* Bytes per block, or 0 for an unknown type. */
FFL_API int64_t ffl_type_block_bytes(int32_t type);
/* Bytes of a row of n elements, or -1 when n is not a multiple of the block size or the type is unknown. */
FFL_API int64_t ffl_type_row_bytes(int32_t type, int64_t n);
/* Type of a name ("Q4_K", "q4_k", "f16"; case-insensitive), or -1. */
FFL_API int32_t ffl_type_from_name(const char *name);

/* ==== gguf: reader and writer ==== */

typedef struct ffl_gguf ffl_gguf;
typedef struct ffl_gguf_writer ffl_gguf_writer;

typedef enum ffl_gguf_value_type {
    FFL_GGUF_UINT8 = 0,
    FFL_GGUF_INT8 = 1,
    FFL_GGUF_UINT16 = 2,
    FFL_GGUF_INT16 = 3,
    FFL_GGUF_UINT32 = 4,
    FFL_GGUF_INT32 = 5,
    FFL_GGUF_FLOAT32 = 6,
    FFL_GGUF_BOOL = 7,
    FFL_GGUF_STRING = 8,
    FFL_GGUF_ARRAY = 9,
    FFL_GGUF_UINT64 = 10,
    FFL_GGUF_INT64 = 11,
    FFL_GGUF_FLOAT64 = 12
} ffl_gguf_value_type;

/* ffl_gguf_open flags */
#define FFL_GGUF_NO_MMAP 1

typedef struct ffl_tensor_info {
    const char *name;      /* NUL-terminated, owned by the ffl_gguf */
    int32_t type;          /* ffl_type */
    int32_t n_dims;        /* 1..4 */
    int64_t ne0;           /* elements per row */
    int64_t ne1;
    int64_t ne2;
    int64_t ne3;
    uint64_t offset;       /* absolute offset of the data in the file */
    uint64_t n_bytes;
    const void *data;      /* points into the mapped (or loaded) file */
} ffl_tensor_info;

/* Opens and validates a GGUF file (v2 or v3). Memory-mapped unless FFL_GGUF_NO_MMAP. */
FFL_API int32_t ffl_gguf_open(const char *path, int32_t flags, ffl_gguf **out);
/* Parses a GGUF image held in memory; the bytes are copied. */
FFL_API int32_t ffl_gguf_open_memory(const void *data, uint64_t size, ffl_gguf **out);
FFL_API void ffl_gguf_close(ffl_gguf *gguf);
FFL_API uint32_t ffl_gguf_version(const ffl_gguf *gguf);
FFL_API uint64_t ffl_gguf_file_size(const ffl_gguf *gguf);
FFL_API uint64_t ffl_gguf_alignment(const ffl_gguf *gguf);
/* Absolute offset of the tensor data section. */
FFL_API uint64_t ffl_gguf_data_offset(const ffl_gguf *gguf);

FFL_API int64_t ffl_gguf_kv_count(const ffl_gguf *gguf);
/* Index of a key, or -1 when absent. */
FFL_API int64_t ffl_gguf_find_key(const ffl_gguf *gguf, const char *key);
/* Key of entry i (NUL-terminated), or NULL when i is out of range. */
FFL_API const char *ffl_gguf_kv_key(const ffl_gguf *gguf, int64_t index);
/* ffl_gguf_value_type of entry i, or -1 when i is out of range. */
FFL_API int32_t ffl_gguf_kv_type(const ffl_gguf *gguf, int64_t index);
/* Element type of an array entry (-1 if not an array). */
FFL_API int32_t ffl_gguf_kv_array_type(const ffl_gguf *gguf, int64_t index);
/* Element count of an array entry (-1 if not an array). */
FFL_API int64_t ffl_gguf_kv_array_length(const ffl_gguf *gguf, int64_t index);
/* Integer or bool value widened to int64 (uint64 values above INT64_MAX fail with FFL_ERR_OUT_OF_RANGE). */
FFL_API int32_t ffl_gguf_kv_get_int(const ffl_gguf *gguf, int64_t index, int64_t *out);
/* Any numeric or bool value as double. */
FFL_API int32_t ffl_gguf_kv_get_float(const ffl_gguf *gguf, int64_t index, double *out);
/* String value: NUL-terminated copy owned by the ffl_gguf; *length excludes the NUL (strings may hold NULs). */
FFL_API int32_t ffl_gguf_kv_get_string(const ffl_gguf *gguf, int64_t index, const char **out, uint64_t *length);
/* Raw little-endian elements of a numeric or bool array (packed, element size from its type). */
FFL_API int32_t ffl_gguf_kv_get_array_data(const ffl_gguf *gguf, int64_t index, const void **out);
/* Element j of a string array. */
FFL_API int32_t ffl_gguf_kv_get_array_string(const ffl_gguf *gguf, int64_t index, int64_t element, const char **out, uint64_t *length);

FFL_API int64_t ffl_gguf_tensor_count(const ffl_gguf *gguf);
/* Index of a tensor, or -1 when absent. */
FFL_API int64_t ffl_gguf_find_tensor(const ffl_gguf *gguf, const char *name);
FFL_API int32_t ffl_gguf_tensor_info(const ffl_gguf *gguf, int64_t index, ffl_tensor_info *out);

/* Writer: collects metadata and tensors, then writes a GGUF v3 file. Tensor data is
 * referenced, not copied: it must stay valid until ffl_gguf_writer_write returns. */
FFL_API int32_t ffl_gguf_writer_new(ffl_gguf_writer **out);
FFL_API void ffl_gguf_writer_free(ffl_gguf_writer *writer);
FFL_API int32_t ffl_gguf_writer_set_alignment(ffl_gguf_writer *writer, uint32_t alignment);
/* Scalar of a numeric or bool ffl_gguf_value_type; value points to one element of that type. Replaces an existing key. */
FFL_API int32_t ffl_gguf_writer_set_scalar(ffl_gguf_writer *writer, const char *key, int32_t value_type, const void *value);
FFL_API int32_t ffl_gguf_writer_set_string(ffl_gguf_writer *writer, const char *key, const char *value, uint64_t length);
/* Array of numeric or bool elements, packed. */
FFL_API int32_t ffl_gguf_writer_set_array(ffl_gguf_writer *writer, const char *key, int32_t element_type, const void *data, uint64_t count);
/* Array of strings: strings[i] with lengths[i] bytes. */
FFL_API int32_t ffl_gguf_writer_set_string_array(ffl_gguf_writer *writer, const char *key, const char **strings, const uint64_t *lengths, uint64_t count);
/* Copies entry `index` of an open file (any type, arrays included). */
FFL_API int32_t ffl_gguf_writer_copy_kv(ffl_gguf_writer *writer, const ffl_gguf *source, int64_t index);
FFL_API int32_t ffl_gguf_writer_remove_key(ffl_gguf_writer *writer, const char *key);
/* ne points to n_dims extents, innermost first. n_bytes must equal the size the type and shape imply. */
FFL_API int32_t ffl_gguf_writer_add_tensor(ffl_gguf_writer *writer, const char *name, int32_t type, int32_t n_dims, const int64_t *ne, const void *data, uint64_t n_bytes);
/* Writes to a temporary file beside path and renames it into place. */
FFL_API int32_t ffl_gguf_writer_write(ffl_gguf_writer *writer, const char *path);

/* ==== quant: reference quantizers and dequantizers ==== */

/* Quantizes n floats into dst in the block format of `type`, byte-identical to llama.cpp's
 * llama-quantize without an importance matrix. n must be a multiple of the type's block size
 * (FFL_ERR_INVALID_ARGUMENT otherwise); dst needs ffl_type_row_bytes(type, n) bytes.
 * Types: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS. */
FFL_API int32_t ffl_quantize_row(int32_t type, const float *src, void *dst, int64_t n);
/* Converts n elements of `type` back to floats (the types above plus Q8_1 and Q8_K). */
FFL_API int32_t ffl_dequantize_row(int32_t type, const void *src, float *dst, int64_t n);
/* 1 if ffl_quantize_row can produce the type, else 0. */
FFL_API int32_t ffl_quantize_supported(int32_t type);
/* 1 if ffl_dequantize_row can read the type, else 0. */
FFL_API int32_t ffl_dequantize_supported(int32_t type);

/* Quantizes a GGUF model like llama.cpp's llama-quantize (same per-tensor types, metadata, tensor
 * order and alignment). ftype: a llama.cpp file type name (case-insensitive): Q4_0, Q4_1, Q5_0,
 * Q5_1, Q8_0, F16, BF16, F32, Q2_K, Q3_K_S, Q3_K_M, Q3_K_L, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K,
 * IQ4_NL, IQ4_XS (and the aliases Q3_K, Q4_K, Q5_K for the _M mixes). n_threads <= 0: all cores.
 * progress (may be NULL) gets the fraction of input bytes done; a non-zero return cancels with
 * FFL_ERR_ABORTED. On any failure no output file is left behind. */
FFL_API int32_t ffl_quantize_model(const char *in_path, const char *out_path, const char *ftype, int32_t n_threads, ffl_progress_fn progress, void *user_data);
/* llama.cpp's LLAMA_FTYPE number of a file type name accepted by ffl_quantize_model, or -1. */
FFL_API int32_t ffl_quantize_ftype_from_name(const char *ftype);

/* ==== model: loading, sessions, forward pass ==== */

/* A loaded model: immutable and thread-safe; any number of sessions (on any threads) share it.
 * Weights are used straight from the file mapping. */
typedef struct ffl_model ffl_model;
/* A session: KV cache, scratch buffers, thread pool and the outputs of the last decode.
 * One thread at a time per session. */
typedef struct ffl_session ffl_session;

typedef struct ffl_model_params {
    int32_t use_mmap;                /* 1 (default): map the file; 0: read it into memory */
    int32_t repack;                  /* 1 (default): with use_mmap, move the weights whose layout the CPU's
                                        kernels multiply faster (Q4_0, Q8_0, Q4_K, Q6_K on AVX-512) into that
                                        layout in memory of the model's own, and copy the other weight
                                        matrices there as they are when the system has transparent huge
                                        pages (streamed faster from them); skipped when that memory would
                                        not fit in what the system has free; 0: use every weight where
                                        the file maps it */
    ffl_progress_fn progress;        /* loading progress in [0, 1], may be NULL; non-zero return cancels */
    void *progress_user_data;
} ffl_model_params;

FFL_API void ffl_model_default_params(ffl_model_params *out);
/* Loads and validates a GGUF model (architectures: llama incl. Mixtral-style experts, qwen2).
 * params may be NULL for the defaults. Hostile or unsupported files fail with FFL_ERR_FORMAT / FFL_ERR_UNSUPPORTED. */
FFL_API int32_t ffl_model_load(const char *path, const ffl_model_params *params, ffl_model **out);
/* Frees the model; every session on it must be freed first. NULL is ignored. */
FFL_API void ffl_model_free(ffl_model *model);
/* general.architecture, e.g. "llama" (NULL for a NULL model). */
FFL_API const char *ffl_model_arch(const ffl_model *model);
/* Short description, e.g. "llama 4x256 q4_K": copied into buf (NUL-terminated, truncated to buf_size); returns the full length or a negative status. */
FFL_API int32_t ffl_model_desc(const ffl_model *model, char *buf, size_t buf_size);
FFL_API int32_t ffl_model_n_vocab(const ffl_model *model);
FFL_API int32_t ffl_model_n_ctx_train(const ffl_model *model);
FFL_API int32_t ffl_model_n_embd(const ffl_model *model);
FFL_API int32_t ffl_model_n_layer(const ffl_model *model);
FFL_API int32_t ffl_model_n_head(const ffl_model *model);
FFL_API int32_t ffl_model_n_head_kv(const ffl_model *model);
/* Experts per MoE layer (0 for a dense model). */
FFL_API int32_t ffl_model_n_expert(const ffl_model *model);
/* Bytes of all weight tensors. */
FFL_API uint64_t ffl_model_size(const ffl_model *model);
/* Number of weight parameters. */
FFL_API uint64_t ffl_model_n_params(const ffl_model *model);
/* The model's GGUF file (metadata, tensors); owned by the model. */
FFL_API const ffl_gguf *ffl_model_gguf(const ffl_model *model);
/* The vocabulary (declared again in the tokenizer section). */
typedef struct ffl_vocab ffl_vocab;
/* The model's vocabulary and tokenizer, owned by the model; NULL (error recorded) when the file has no tokenizer.ggml.model. */
FFL_API const ffl_vocab *ffl_model_vocab(const ffl_model *model);

typedef struct ffl_session_params {
    int32_t n_ctx;                   /* KV cache cells shared by all sequences; 0: the model's training context. Default 4096 */
    int32_t n_batch;                 /* tokens per forward step; longer decode calls are split. Default 512 */
    int32_t n_threads;               /* default ffl_cpu_physical_cores() */
    int32_t kv_type;                 /* FFL_TYPE_F16 (default) or FFL_TYPE_F32 */
    int32_t n_seq_max;               /* sequence ids are [0, n_seq_max), at most 64. Default 1 */
    int32_t embeddings;              /* 1: also keep the final hidden state (after the output norm) of output tokens */
    ffl_abort_fn abort_callback;     /* checked between layers; may be NULL */
    void *abort_user_data;
} ffl_session_params;

FFL_API void ffl_session_default_params(ffl_session_params *out);
/* params may be NULL for the defaults. */
FFL_API int32_t ffl_session_new(const ffl_model *model, const ffl_session_params *params, ffl_session **out);
FFL_API void ffl_session_free(ffl_session *session);
FFL_API const ffl_model *ffl_session_model(const ffl_session *session);
FFL_API int32_t ffl_session_n_ctx(const ffl_session *session);
FFL_API int32_t ffl_session_n_batch(const ffl_session *session);
FFL_API int32_t ffl_session_n_seq_max(const ffl_session *session);
FFL_API int32_t ffl_session_n_threads(const ffl_session *session);
/* Resizes the session's thread pool (n_threads >= 1; 0 = ffl_cpu_physical_cores()). */
FFL_API int32_t ffl_session_set_threads(ffl_session *session, int32_t n_threads);
FFL_API int32_t ffl_session_set_abort_callback(ffl_session *session, ffl_abort_fn callback, void *user_data);

/* Runs the model over n_tokens tokens and stores them in the KV cache.
 *   pos:         position of each token; NULL continues each token's sequence (its largest position + 1).
 *   seq_id:      sequence of each token in [0, n_seq_max); NULL = all sequence 0.
 *   want_logits: non-zero for tokens whose logits (and embeddings) are wanted; NULL = the last token only.
 * A token attends to the cached tokens of its sequence at positions <= its own.
 * Errors leave the KV cache exactly as before the call and clear the outputs:
 * FFL_ERR_CONTEXT_FULL (not enough free cells), FFL_ERR_OUT_OF_RANGE (token, position or sequence id),
 * FFL_ERR_ABORTED (the abort callback returned non-zero). */
FFL_API int32_t ffl_session_decode(ffl_session *session, const int32_t *tokens, const int32_t *pos, const int32_t *seq_id, const int8_t *want_logits, int32_t n_tokens);
/* Rows of output (tokens that wanted logits) of the last decode. */
FFL_API int32_t ffl_session_n_outputs(const ffl_session *session);
/* Logits (n_vocab floats) of token i of the last decode call (its index in that call's arrays);
 * negative i counts output rows from the end (-1 = last output). NULL (error recorded) when that
 * token did not want logits or i is out of range. Valid until the next decode or state load. */
FFL_API const float *ffl_session_logits(ffl_session *session, int32_t i);
/* All output rows of the last decode, in token order: ffl_session_n_outputs() x n_vocab floats (NULL if none). */
FFL_API const float *ffl_session_logits_all(ffl_session *session);
/* Like ffl_session_logits for the final hidden states (n_embd floats); needs params.embeddings. */
FFL_API const float *ffl_session_embeddings(ffl_session *session, int32_t i);
FFL_API const float *ffl_session_embeddings_all(ffl_session *session);

/* KV cache and sequences. p0 < 0 means 0, p1 < 0 means infinity; ranges are [p0, p1). seq_id < 0 in seq_rm means every sequence. */
/* Number of tokens of the sequence's continuation point: its largest position + 1 (0 when empty), or a negative status. */
FFL_API int32_t ffl_session_n_past(const ffl_session *session, int32_t seq_id);
/* Largest position of the sequence, -1 when it is empty. */
FFL_API int32_t ffl_session_seq_pos_max(const ffl_session *session, int32_t seq_id, int32_t *out_pos);
FFL_API int32_t ffl_session_seq_rm(ffl_session *session, int32_t seq_id, int32_t p0, int32_t p1);
/* Makes dst share src's cached tokens in [p0, p1) (no copy of K/V data). */
FFL_API int32_t ffl_session_seq_cp(ffl_session *session, int32_t src_seq, int32_t dst_seq, int32_t p0, int32_t p1);
/* Context shift: moves the sequence's cached tokens in [p0, p1) by delta positions (keys are
 * re-rotated; cells shared with other sequences move for them too). Tokens moved below 0 are removed.
 * Typical use: seq_rm(s, 0, keep, keep + n_discard) then seq_add(s, 0, keep + n_discard, -1, -n_discard). */
FFL_API int32_t ffl_session_seq_add(ffl_session *session, int32_t seq_id, int32_t p0, int32_t p1, int32_t delta);
/* Removes every sequence except seq_id. */
FFL_API int32_t ffl_session_seq_keep(ffl_session *session, int32_t seq_id);
/* Empties the KV cache and the outputs. */
FFL_API int32_t ffl_session_clear(ffl_session *session);
/* Cells in use in the KV cache. */
FFL_API int32_t ffl_session_kv_used(const ffl_session *session);

/* Session state (KV cache contents and the outputs of the last decode) as a versioned, checksummed byte blob.
 * Loading needs a session of the same model with the same kv_type, enough cells and sequence ids. */
FFL_API uint64_t ffl_session_state_size(const ffl_session *session);
/* Writes the state into buf (buf_size >= ffl_session_state_size); *written = bytes written. */
FFL_API int32_t ffl_session_state_save(const ffl_session *session, void *buf, uint64_t buf_size, uint64_t *written);
/* Replaces the session's state; a malformed or corrupted blob fails with FFL_ERR_STATE and leaves the session unchanged. */
FFL_API int32_t ffl_session_state_load(ffl_session *session, const void *buf, uint64_t size);


/* ==== tokenizer ==== */

/* A vocabulary with its tokenizer, built from tokenizer.ggml.* metadata. Immutable once loaded:
 * every function below may be called from any number of threads at once on the same vocabulary.
 * Token ids are int32_t; -1 means "no such token" wherever a function returns an id. */
typedef struct ffl_vocab ffl_vocab;

typedef enum ffl_vocab_type {
    FFL_VOCAB_NONE = 0,
    FFL_VOCAB_SPM = 1,
    FFL_VOCAB_BPE = 2,
    FFL_VOCAB_WPM = 3
} ffl_vocab_type;

typedef enum ffl_special_token {
    FFL_TOKEN_BOS = 0,
    FFL_TOKEN_EOS = 1,
    FFL_TOKEN_EOT = 2,
    FFL_TOKEN_EOM = 3,
    FFL_TOKEN_UNK = 4,
    FFL_TOKEN_SEP = 5,
    FFL_TOKEN_PAD = 6,
    FFL_TOKEN_MASK = 7,
    FFL_TOKEN_CLS = 8,
    FFL_TOKEN_NL = 9,
    FFL_TOKEN_FIM_PRE = 10,
    FFL_TOKEN_FIM_SUF = 11,
    FFL_TOKEN_FIM_MID = 12,
    FFL_TOKEN_FIM_PAD = 13,
    FFL_TOKEN_FIM_REP = 14,
    FFL_TOKEN_FIM_SEP = 15
} ffl_special_token;

/* Token attribute bits (ffl_vocab_token_attr). */
#define FFL_TOKEN_ATTR_UNKNOWN 1
#define FFL_TOKEN_ATTR_UNUSED 2
#define FFL_TOKEN_ATTR_NORMAL 4
#define FFL_TOKEN_ATTR_CONTROL 8
#define FFL_TOKEN_ATTR_USER_DEFINED 16
#define FFL_TOKEN_ATTR_BYTE 32

/* Vocabulary flags (ffl_vocab_flags). */
#define FFL_VOCAB_FLAG_ADD_BOS 1
#define FFL_VOCAB_FLAG_ADD_EOS 2
#define FFL_VOCAB_FLAG_ADD_SEP 4
#define FFL_VOCAB_FLAG_ADD_SPACE_PREFIX 8
#define FFL_VOCAB_FLAG_REMOVE_EXTRA_WHITESPACES 16
#define FFL_VOCAB_FLAG_CLEAN_SPACES 32
#define FFL_VOCAB_FLAG_IGNORE_MERGES 64

/* ffl_tokenize flags */
#define FFL_TOKENIZE_ADD_SPECIAL 1
#define FFL_TOKENIZE_PARSE_SPECIAL 2

/* ffl_detokenize / ffl_vocab_token_piece / ffl_utf8_stream_push_token flags */
#define FFL_DETOKENIZE_RENDER_SPECIAL 1
#define FFL_DETOKENIZE_REMOVE_SPECIAL 2
#define FFL_DETOKENIZE_REMOVE_LEADING_SPACE 4
#define FFL_DETOKENIZE_CLEAN_SPACES 8

/* Loads only the vocabulary of a GGUF file (vocab-only or full model; tensor data is never read). */
FFL_API int32_t ffl_vocab_load(const char *path, ffl_vocab **out);
FFL_API void ffl_vocab_free(ffl_vocab *vocab);
/* Number of tokens, or FFL_ERR_INVALID_ARGUMENT for NULL. */
FFL_API int32_t ffl_vocab_n_tokens(const ffl_vocab *vocab);
/* ffl_vocab_type, or FFL_ERR_INVALID_ARGUMENT for NULL. */
FFL_API int32_t ffl_vocab_get_type(const ffl_vocab *vocab);
/* tokenizer.ggml.model ("llama", "gpt2", "bert") and tokenizer.ggml.pre ("default" when absent); owned by the vocabulary. */
FFL_API const char *ffl_vocab_model_name(const ffl_vocab *vocab);
FFL_API const char *ffl_vocab_pre_name(const ffl_vocab *vocab);
/* FFL_VOCAB_FLAG_* bits, or FFL_ERR_INVALID_ARGUMENT for NULL. */
FFL_API int32_t ffl_vocab_flags(const ffl_vocab *vocab);
/* Id of a special token (ffl_special_token), or -1 when the vocabulary has none. */
FFL_API int32_t ffl_vocab_special_token(const ffl_vocab *vocab, int32_t which);
/* 1 if the token ends generation (EOS, EOT, EOM and the end/FIM tokens llama.cpp treats so), 0 otherwise (also for ids out of range). */
FFL_API int32_t ffl_vocab_is_eog(const ffl_vocab *vocab, int32_t token);
/* FFL_TOKEN_ATTR_* bits of a token, or FFL_ERR_OUT_OF_RANGE. */
FFL_API int32_t ffl_vocab_token_attr(const ffl_vocab *vocab, int32_t token);
/* GGUF token type (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte), or FFL_ERR_OUT_OF_RANGE. */
FFL_API int32_t ffl_vocab_token_type(const ffl_vocab *vocab, int32_t token);
FFL_API int32_t ffl_vocab_token_score(const ffl_vocab *vocab, int32_t token, float *out);
/* The token's text as stored in the vocabulary (e.g. "\xe2\x96\x81Hello" or "\xc4\xa0world"); owned by the vocabulary. */
FFL_API int32_t ffl_vocab_token_text(const ffl_vocab *vocab, int32_t token, const char **out, uint64_t *length);
/* Id of the token whose vocabulary text is exactly text[0..length), or -1. */
FFL_API int32_t ffl_vocab_find_token(const ffl_vocab *vocab, const char *text, int64_t length);
/* Bytes the token decodes to, written to buf when they fit. Returns the piece's length in bytes
 * (like snprintf: a result > capacity means nothing was written; buf may be NULL when capacity is 0),
 * or FFL_ERR_OUT_OF_RANGE for a bad id. Control and unknown tokens decode to nothing unless
 * FFL_DETOKENIZE_RENDER_SPECIAL; FFL_DETOKENIZE_REMOVE_LEADING_SPACE drops one leading space. */
FFL_API int32_t ffl_vocab_token_piece(const ffl_vocab *vocab, int32_t token, char *buf, int32_t capacity, int32_t flags);
/* Tokenizes text[0..text_len) (text_len -1: NUL-terminated). Returns the number of tokens the text
 * encodes to; the first min(count, capacity) are written to tokens (which may be NULL when capacity
 * is 0), so a result > capacity tells the size to allocate. Negative: an ffl_status.
 * FFL_TOKENIZE_ADD_SPECIAL adds BOS/EOS/SEP as the vocabulary asks; FFL_TOKENIZE_PARSE_SPECIAL
 * turns the text of control tokens (e.g. "<|im_start|>") into those tokens (user-defined tokens
 * are always matched, as in llama.cpp). Any bytes are accepted: NUL is an ordinary character and
 * invalid UTF-8 is tokenized byte by byte (SPM byte fallback) or read as U+FFFD (BPE, WPM). */
FFL_API int32_t ffl_tokenize(const ffl_vocab *vocab, const char *text, int64_t text_len, int32_t *tokens, int32_t capacity, int32_t flags);
/* Writes the text of n_tokens tokens to buf (FFL_DETOKENIZE_* flags). Returns the text's length
 * in bytes like ffl_vocab_token_piece (result > capacity: nothing written), or a negative status
 * (FFL_ERR_OUT_OF_RANGE for a bad id). REMOVE_SPECIAL drops a leading BOS and trailing EOS the
 * vocabulary would add; REMOVE_LEADING_SPACE removes the space SentencePiece and WordPiece vocabularies
 * put in front of the text (byte-level BPE keeps every byte); CLEAN_SPACES applies clean_up_tokenization_spaces when the vocabulary asks. */
FFL_API int32_t ffl_detokenize(const ffl_vocab *vocab, const int32_t *tokens, int32_t n_tokens, char *buf, int32_t capacity, int32_t flags);

/* Streaming UTF-8 decoder: push the bytes of successive pieces and get back only complete,
 * valid UTF-8; an incomplete sequence at the end is held until the next push. Bytes that can
 * never form a valid character come out as U+FFFD. Output pointers stay valid until the next
 * call on the same stream. One stream per thread. */
typedef struct ffl_utf8_stream ffl_utf8_stream;
FFL_API int32_t ffl_utf8_stream_new(ffl_utf8_stream **out);
FFL_API void ffl_utf8_stream_free(ffl_utf8_stream *stream);
FFL_API int32_t ffl_utf8_stream_push(ffl_utf8_stream *stream, const char *bytes, int64_t length, const char **out, int64_t *out_length);
/* Pushes the piece of a token (FFL_DETOKENIZE_* flags as for ffl_vocab_token_piece). */
FFL_API int32_t ffl_utf8_stream_push_token(ffl_utf8_stream *stream, const ffl_vocab *vocab, int32_t token, int32_t flags, const char **out, int64_t *out_length);
/* Ends the stream: a held incomplete sequence comes out as U+FFFD. The stream can be reused. */
FFL_API int32_t ffl_utf8_stream_flush(ffl_utf8_stream *stream, const char **out, int64_t *out_length);
/* Bytes currently held back. */
FFL_API int32_t ffl_utf8_stream_pending(const ffl_utf8_stream *stream);

/* ==== sample: samplers and grammars ==== */

/* A sampler chain: samplers run in the order they were added, over the candidate tokens
 * (at first every token with its logit); the last one must select a token (greedy, dist or
 * mirostat_v2). Semantics follow llama.cpp's samplers. Sampling is single-threaded and
 * deterministic: the same seed, chain and inputs give the same tokens on any machine. A chain
 * is used by one thread at a time; clone it for another thread. Random samplers (dist, xtc,
 * mirostat_v2) draw from generators derived from the chain seed and their position. */
typedef struct ffl_sampler ffl_sampler;

FFL_API int32_t ffl_sampler_chain_new(uint64_t seed, ffl_sampler **out);
FFL_API void ffl_sampler_free(ffl_sampler *chain);
/* Deep copy, state included (histories, grammar position, generator state). */
FFL_API int32_t ffl_sampler_clone(const ffl_sampler *chain, ffl_sampler **out);
/* Back to the state after construction: histories cleared, grammar at its start, generators re-seeded. */
FFL_API int32_t ffl_sampler_reset(ffl_sampler *chain);
/* Re-seeds every random sampler of the chain (and restarts its sequence). */
FFL_API int32_t ffl_sampler_set_seed(ffl_sampler *chain, uint64_t seed);
/* Number of samplers in the chain. */
FFL_API int32_t ffl_sampler_chain_length(const ffl_sampler *chain);
/* Name of sampler i ("top-k", "grammar", ...), or NULL when out of range. */
FFL_API const char *ffl_sampler_chain_name(const ffl_sampler *chain, int32_t index);

/* Selects the most likely candidate. */
FFL_API int32_t ffl_sampler_chain_add_greedy(ffl_sampler *chain);
/* Draws from softmax of the candidates. */
FFL_API int32_t ffl_sampler_chain_add_dist(ffl_sampler *chain);
/* Divides logits by temp; temp <= 0 keeps only the most likely candidate. */
FFL_API int32_t ffl_sampler_chain_add_temp(ffl_sampler *chain, float temp);
/* Dynamic temperature in [temp - delta, temp + delta] from the normalised entropy^exponent; delta <= 0 is plain temp. */
FFL_API int32_t ffl_sampler_chain_add_temp_ext(ffl_sampler *chain, float temp, float delta, float exponent);
/* Keeps the k most likely (k <= 0: no-op). */
FFL_API int32_t ffl_sampler_chain_add_top_k(ffl_sampler *chain, int32_t k);
/* Keeps the smallest most-likely set whose probability reaches p (at least min_keep). p >= 1: no-op. */
FFL_API int32_t ffl_sampler_chain_add_top_p(ffl_sampler *chain, float p, int32_t min_keep);
/* Keeps candidates with probability >= p * the top probability (at least min_keep). p <= 0: no-op. */
FFL_API int32_t ffl_sampler_chain_add_min_p(ffl_sampler *chain, float p, int32_t min_keep);
/* Locally typical sampling with mass p (at least min_keep). p >= 1: no-op. */
FFL_API int32_t ffl_sampler_chain_add_typical(ffl_sampler *chain, float p, int32_t min_keep);
/* Over the last last_n accepted tokens: repeat divides positive / multiplies negative logits (1 = off),
 * frequency subtracts count * frequency, presence subtracts presence once (0 = off). last_n = 0: off. */
FFL_API int32_t ffl_sampler_chain_add_penalties(ffl_sampler *chain, int32_t last_n, float repeat, float frequency, float presence);
/* Adds biases[i] to the logit of tokens[i] (-INFINITY bans a token). */
FFL_API int32_t ffl_sampler_chain_add_logit_bias(ffl_sampler *chain, int32_t n_biases, const int32_t *tokens, const float *biases);
/* Mirostat 2.0: target surprise tau, learning rate eta; selects a token. mu moves when the token is accepted. */
FFL_API int32_t ffl_sampler_chain_add_mirostat_v2(ffl_sampler *chain, float tau, float eta);
/* Exclude top choices: with the given probability, removes every candidate with p >= threshold except the least likely of them. */
FFL_API int32_t ffl_sampler_chain_add_xtc(ffl_sampler *chain, float probability, float threshold, int32_t min_keep);

/* DRY ("don't repeat yourself"): penalises a token that would extend a repeat of length >= allowed_length
 * found in the last last_n accepted tokens (-1: context_size) by multiplier * base^(length - allowed_length).
 * breakers (e.g. "\n", ":", "\"", "*") end repeats; they are matched through the vocabulary's tokens, so
 * vocab is required when n_breakers > 0. multiplier 0 turns it off. */
FFL_API int32_t ffl_sampler_chain_add_dry(ffl_sampler *chain, const ffl_vocab *vocab, int32_t context_size, float multiplier, float base, int32_t allowed_length, int32_t last_n, const char **breakers, int32_t n_breakers);
/* Constrains output to a GBNF grammar (llama.cpp's format) starting at rule root (NULL: "root"):
 * candidates the grammar cannot continue with get -inf, end-of-generation tokens are allowed only
 * where the grammar may end, tokens may end inside a UTF-8 character. Add it first in the chain for
 * exact constrained sampling. The vocabulary is read once here and not kept.
 * Syntax errors: FFL_ERR_INVALID_ARGUMENT with "grammar: line:column: reason" in ffl_last_error(). */
FFL_API int32_t ffl_sampler_chain_add_grammar(ffl_sampler *chain, const ffl_vocab *vocab, const char *grammar, const char *root);

/* Runs the chain over n_vocab logits; *out_token is the chosen token. out_logprob (may be NULL)
 * receives its log-probability under the final candidate distribution. Does not accept the token. */
FFL_API int32_t ffl_sampler_sample(ffl_sampler *chain, const float *logits, int32_t n_vocab, int32_t *out_token, float *out_logprob);
/* Records the token appended to the sequence: penalty and DRY histories, grammar position,
 * mirostat's mu. A token the grammar does not allow fails with FFL_ERR_INVALID_ARGUMENT and changes nothing. */
FFL_API int32_t ffl_sampler_accept(ffl_sampler *chain, int32_t token);
/* Feeds prompt tokens to the penalty and DRY histories only (grammar state is unaffected). */
FFL_API int32_t ffl_sampler_accept_prompt(ffl_sampler *chain, const int32_t *tokens, int32_t n_tokens);

/* Checks GBNF text (llama.cpp's grammar format) with the given root rule (NULL: "root").
 * Syntax errors: FFL_ERR_INVALID_ARGUMENT, ffl_last_error() says "grammar: line:column: reason". */
FFL_API int32_t ffl_grammar_validate(const char *grammar, const char *root);
/* Converts a JSON Schema to GBNF (root rule "root"). Writes a NUL-terminated grammar when it
 * fits in capacity bytes; *out_length (may be NULL) always receives its length without the NUL,
 * so a first call with out = NULL, capacity = 0 sizes the buffer (that call returns FFL_ERR_OUT_OF_RANGE).
 * The schema "{}" gives a grammar for any JSON value. Invalid JSON or schema: FFL_ERR_INVALID_ARGUMENT;
 * keywords the converter cannot enforce (pattern, not, if, ...): FFL_ERR_UNSUPPORTED. */
FFL_API int32_t ffl_json_schema_to_grammar(const char *schema_json, char *out, int64_t capacity, int64_t *out_length);

/* ==== generate: the core's own decode + sample loop, cheap abort checks ==== */

/* ffl_generate flags: stop when the sampled token is an end-of-generation token of the model's vocabulary. */
#define FFL_GENERATE_STOP_AT_EOG 1

/* Generation with the whole loop inside the core (no call across the API per token), for callers that
 * need no per-token work of their own and as the yardstick of binding overhead. Evaluates the n_prompt
 * tokens on sequence 0 and feeds them to the chain's penalty and DRY histories (n_prompt = 0 continues
 * from the last decode's logits), then repeats: sample, accept, evaluate, until n_max tokens are in
 * out_tokens. The last token written is sampled but not evaluated (evaluate it to continue, as after
 * ffl_sampler_sample). With FFL_GENERATE_STOP_AT_EOG an end-of-generation token ends the loop; it is
 * accepted but neither written nor evaluated. out_logprobs (may be NULL) receives each token's
 * log-probability as ffl_sampler_sample gives it. Returns the number of tokens written, or a negative
 * status: a failed decode (FFL_ERR_CONTEXT_FULL, FFL_ERR_ABORTED, ...) leaves the tokens written so far. */
FFL_API int32_t ffl_generate(ffl_session *session, ffl_sampler *chain, const int32_t *prompt, int32_t n_prompt, int32_t *out_tokens, float *out_logprobs, int32_t n_max, int32_t flags);

/* An abort check that costs no call into a binding per check, for bindings whose own callbacks are
 * slow to enter (a JVM upcall costs about a microsecond, a token of a small model a few hundred):
 * set ffl_abort_flag_check as a session's abort callback with an ffl_abort_flag as its user data.
 * It aborts while flag is non-zero (written from any thread, e.g. to cancel); otherwise it calls
 * poll (may be NULL) only once poll_interval_us microseconds have passed since its last call, so a
 * slow check (say, "was the thread interrupted") runs a few times per second however often the core
 * checks. In a zeroed struct the first interval starts at the first check (check your own condition
 * before starting a call). */
typedef struct ffl_abort_flag {
    int32_t flag;                    /* non-zero: abort */
    int32_t poll_interval_us;        /* least time between two calls of poll */
    ffl_abort_fn poll;               /* the slow check, may be NULL */
    void *poll_user_data;
    int64_t last_poll_us;            /* managed by ffl_abort_flag_check: monotonic time of the last poll */
} ffl_abort_flag;

/* An ffl_abort_fn over an ffl_abort_flag (its user_data); NULL never aborts. */
FFL_API int32_t ffl_abort_flag_check(void *abort_flag);

#ifdef __cplusplus
}
#endif

#endif /* FFLAMA_H */
