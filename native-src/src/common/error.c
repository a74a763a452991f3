/* Thread-local last-error state and status names. */
#include "common/ffl_internal.h"

#include <stdio.h>
#include <string.h>

#define FFL_ERROR_CAPACITY 1024

static _Thread_local char last_message[FFL_ERROR_CAPACITY];
static _Thread_local int32_t last_status = FFL_OK;

int32_t ffl_fail(int32_t status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    last_status = status;
    ffl_log(FFL_LOG_DEBUG, "%s: %s", ffl_status_name(status), last_message);
    return status;
}

void ffl_clear_error(void) {
    last_message[0] = '\0';
    last_status = FFL_OK;
}

const char *ffl_last_error(void) { return last_message; }

int32_t ffl_last_status(void) { return last_status; }

const char *ffl_version(void) { return "0.1.0"; }

const char *ffl_status_name(int32_t status) {
    switch (status) {
    case FFL_OK: return "FFL_OK";
    case FFL_ERR_INVALID_ARGUMENT: return "FFL_ERR_INVALID_ARGUMENT";
    case FFL_ERR_IO: return "FFL_ERR_IO";
    case FFL_ERR_FORMAT: return "FFL_ERR_FORMAT";
    case FFL_ERR_UNSUPPORTED: return "FFL_ERR_UNSUPPORTED";
    case FFL_ERR_OUT_OF_MEMORY: return "FFL_ERR_OUT_OF_MEMORY";
    case FFL_ERR_OUT_OF_RANGE: return "FFL_ERR_OUT_OF_RANGE";
    case FFL_ERR_CONTEXT_FULL: return "FFL_ERR_CONTEXT_FULL";
    case FFL_ERR_ABORTED: return "FFL_ERR_ABORTED";
    case FFL_ERR_STATE: return "FFL_ERR_STATE";
    case FFL_ERR_INTERNAL: return "FFL_ERR_INTERNAL";
    default: return "FFL_ERR_UNKNOWN";
    }
}
