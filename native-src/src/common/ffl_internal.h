/* Internal helpers shared by every part of the core: error reporting and logging. */
#ifndef FFL_INTERNAL_H
#define FFL_INTERNAL_H

#include "fflama.h"

#include <stdarg.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define FFL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define FFL_PRINTF(a, b)
#endif

/* Records a failure for ffl_last_error() on this thread and returns status. */
int32_t ffl_fail(int32_t status, const char *fmt, ...) FFL_PRINTF(2, 3);
/* Clears this thread's last error (entry points call it on success paths where useful). */
void ffl_clear_error(void);

void ffl_log(int32_t level, const char *fmt, ...) FFL_PRINTF(2, 3);
int ffl_log_enabled(int32_t level);

#define FFL_LOGD(...) ffl_log(FFL_LOG_DEBUG, __VA_ARGS__)
#define FFL_LOGI(...) ffl_log(FFL_LOG_INFO, __VA_ARGS__)
#define FFL_LOGW(...) ffl_log(FFL_LOG_WARN, __VA_ARGS__)
#define FFL_LOGE(...) ffl_log(FFL_LOG_ERROR, __VA_ARGS__)

/* Overflow-checked size arithmetic: return 0 on overflow, 1 on success. */
static inline int ffl_mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline int ffl_add_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_add_overflow(a, b, out);
}

#ifdef __cplusplus
}
#endif

#endif
