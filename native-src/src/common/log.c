/* Log sink: silent until a callback is installed (the Java side installs an SLF4J upcall). */
#include "common/ffl_internal.h"

#include <stdatomic.h>
#include <stdio.h>

typedef struct {
    ffl_log_fn callback;
    void *user_data;
} log_sink;

static _Atomic(log_sink *) current_sink;
static log_sink sinks[2];
static atomic_int sink_slot;
static atomic_int min_level = FFL_LOG_INFO;

void ffl_log_set_callback(ffl_log_fn callback, void *user_data) {
    /* Two slots so a reader never sees a half-written pair; callers set the callback rarely. */
    int slot = atomic_fetch_add(&sink_slot, 1) & 1;
    sinks[slot].callback = callback;
    sinks[slot].user_data = user_data;
    atomic_store(&current_sink, callback ? &sinks[slot] : NULL);
}

void ffl_log_set_level(int32_t level) { atomic_store(&min_level, level); }

int ffl_log_enabled(int32_t level) {
    return level >= atomic_load(&min_level) && atomic_load(&current_sink) != NULL;
}

void ffl_log(int32_t level, const char *fmt, ...) {
    if (!ffl_log_enabled(level)) return;
    log_sink *sink = atomic_load(&current_sink);
    if (!sink || !sink->callback) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sink->callback(level, buf, sink->user_data);
}

void ffl_log_message(int32_t level, const char *message) {
    if (message) ffl_log(level, "%s", message);
}
