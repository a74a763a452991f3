/* ffl_abort_flag_check: an abort callback that reads a flag, and asks the binding's own (slow)
 * callback only every poll_interval_us, so the core may check between every layer for free. */
#include "common/ffl_internal.h"

#include <time.h>

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

FFL_API int32_t ffl_abort_flag_check(void *abort_flag) {
    ffl_abort_flag *f = (ffl_abort_flag *)abort_flag;
    if (!f) return 0;
    /* written by other threads to cancel: an atomic read, so it is never cached across checks */
    if (__atomic_load_n(&f->flag, __ATOMIC_RELAXED) != 0) return 1;
    if (!f->poll) return 0;
    int64_t now = now_us();
    if (f->last_poll_us == 0) { /* a zeroed struct: the first interval starts now */
        f->last_poll_us = now;
        return 0;
    }
    /* a clock that went back polls at once */
    if (now >= f->last_poll_us && now - f->last_poll_us < f->poll_interval_us) return 0;
    f->last_poll_us = now;
    return f->poll(f->poll_user_data) != 0;
}
