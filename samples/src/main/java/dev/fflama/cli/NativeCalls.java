package dev.fflama.cli;

import dev.fflama.FflamaException;
import dev.fflama.NativeLoader;
import dev.fflama.bindings.fflama_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

/** Direct calls into the core for the commands that need parts the Java API does not wrap (yet). */
final class NativeCalls {
    private NativeCalls() {}

    static void load() {
        NativeLoader.load();
    }

    /** Throws the core's error for a negative status. */
    static int check(int status) {
        if (status < 0) {
            String message = string(fflama_h.ffl_last_error());
            throw new FflamaException(status, message.isEmpty() ? string(fflama_h.ffl_status_name(status)) : message);
        }
        return status;
    }

    @SuppressWarnings("restricted") // the core owns the string: NUL-terminated, bounded below
    static String string(MemorySegment cString) {
        if (cString.equals(MemorySegment.NULL)) return "";
        return cString.reinterpret(1 << 20).getString(0, StandardCharsets.UTF_8);
    }

    static MemorySegment cString(Arena arena, String s) {
        return arena.allocateFrom(s, StandardCharsets.UTF_8);
    }

    /** Calls a function that writes one double through a pointer. */
    interface DoubleOut {
        int call(MemorySegment out);
    }

    static double measure(DoubleOut f) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.JAVA_DOUBLE);
            check(f.call(out));
            return out.get(ValueLayout.JAVA_DOUBLE, 0);
        }
    }
}
