package dev.fflama;

import dev.fflama.bindings.fflama_h;
import dev.fflama.bindings.ffl_log_fn;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Routes the core's log messages to SLF4J (logger "dev.fflama.native") through an upcall. */
final class NativeLog {
    static final Logger LOG = LoggerFactory.getLogger("dev.fflama.native");
    private static MemorySegment stub;

    private NativeLog() {}

    static synchronized void install() {
        if (stub != null) return;
        stub = ffl_log_fn.allocate(NativeLog::receive, Arena.global());
        fflama_h.ffl_log_set_callback(stub, MemorySegment.NULL);
        fflama_h.ffl_log_set_level(minimumLevel());
    }

    /** The lowest native level SLF4J would print, so the core does not format messages nobody reads. */
    static int minimumLevel() {
        if (LOG.isTraceEnabled()) return fflama_h.FFL_LOG_TRACE;
        if (LOG.isDebugEnabled()) return fflama_h.FFL_LOG_DEBUG;
        if (LOG.isInfoEnabled()) return fflama_h.FFL_LOG_INFO;
        if (LOG.isWarnEnabled()) return fflama_h.FFL_LOG_WARN;
        if (LOG.isErrorEnabled()) return fflama_h.FFL_LOG_ERROR;
        return fflama_h.FFL_LOG_OFF;
    }

    /** Upcall target: must never throw back into C. */
    private static void receive(int level, MemorySegment message, MemorySegment userData) {
        try {
            String text = Native.string(message);
            switch (level) {
                case fflama_h.FFL_LOG_TRACE -> LOG.trace(text);
                case fflama_h.FFL_LOG_DEBUG -> LOG.debug(text);
                case fflama_h.FFL_LOG_INFO -> LOG.info(text);
                case fflama_h.FFL_LOG_WARN -> LOG.warn(text);
                default -> LOG.error(text);
            }
        } catch (Throwable ignored) {
            // a failing logger must not unwind through native frames
        }
    }
}
