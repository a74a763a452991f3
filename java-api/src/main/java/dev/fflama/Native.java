package dev.fflama;

import dev.fflama.bindings.fflama_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

/** Small helpers shared by the API classes for calling the core. */
final class Native {
    /** Longest C string read back from the core (messages, names, metadata strings are bounded by their files). */
    static final long MAX_C_STRING = Integer.MAX_VALUE - 8;

    private Native() {}

    /** Loads the library (once) before any binding is used. */
    static void ensureLoaded() {
        NativeLoader.load();
    }

    /** Throws the core's error for a failed status; returns the status otherwise. */
    static int check(int status) {
        if (status < 0) throw error(status);
        return status;
    }

    static FflamaException error(int status) {
        String message = string(fflama_h.ffl_last_error());
        return new FflamaException(status, message.isEmpty() ? FflamaException.Status.nameOf(status) : message);
    }

    /** Reads a NUL-terminated UTF-8 string owned by the core; "" for NULL. */
    static String string(MemorySegment cString) {
        if (cString.equals(MemorySegment.NULL)) return "";
        return cString.reinterpret(MAX_C_STRING).getString(0, StandardCharsets.UTF_8);
    }

    /** Reads exactly length bytes (strings may hold NULs). */
    static String string(MemorySegment data, long length) {
        if (length == 0) return "";
        byte[] bytes = data.reinterpret(length).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    static MemorySegment cString(Arena arena, String s) {
        return arena.allocateFrom(s, StandardCharsets.UTF_8);
    }
}
