package dev.fflama;

import dev.fflama.bindings.fflama_h;

/** Facts about the loaded native core: version, CPU features and the kernel level in use. */
public final class Fflama {
    private Fflama() {}

    public static String version() {
        Native.ensureLoaded();
        return Native.string(fflama_h.ffl_version());
    }

    /** Space-separated CPU features the core detected, e.g. "avx2 fma f16c avx512f ...". */
    public static String cpuFeatures() {
        Native.ensureLoaded();
        return Native.string(fflama_h.ffl_cpu_features());
    }

    /** Name of the kernel level in use: scalar, avx2, avx512, neon or neon-dotprod. */
    public static String kernelLevel() {
        Native.ensureLoaded();
        return Native.string(fflama_h.ffl_cpu_level_name(fflama_h.ffl_cpu_level()));
    }

    public static int physicalCores() {
        Native.ensureLoaded();
        return fflama_h.ffl_cpu_physical_cores();
    }

    /** Sends one message through the native logger (reaches SLF4J like the core's own messages). */
    public static void logNative(int level, String message) {
        Native.ensureLoaded();
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            fflama_h.ffl_log_message(level, Native.cString(arena, message));
        }
    }
}
