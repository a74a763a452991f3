package dev.fflama;

import dev.fflama.bindings.ffl_progress_fn;
import dev.fflama.bindings.fflama_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import java.util.function.DoubleConsumer;

/**
 * Quantizes GGUF models and rows, byte-identical to llama.cpp's reference quantizers.
 *
 * <p>Types: a single type (F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, ...) or one of
 * llama.cpp's mixes (Q4_K_M, Q5_K_M, Q3_K_M, Q4_K_S, Q6_K, ...) with llama.cpp's per-tensor choices.
 */
public final class Quantizer {
    /** Mixes and types {@link #quantize} accepts, as llama-quantize names them. */
    public static final List<String> MODEL_TYPES = List.of("F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1",
            "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ4_NL", "IQ4_XS");

    private Quantizer() {}

    /** Quantizes a model file with all physical cores and no progress reporting. */
    public static void quantize(Path in, Path out, String type) {
        quantize(in, out, type, 0, null);
    }

    /**
     * Quantizes a model file. The output is written to a temporary file and moved into place, so a
     * failure or cancellation (interrupting the calling thread) leaves no partial file.
     *
     * @param threads  worker threads, 0 for the physical cores
     * @param progress receives the fraction done in [0, 1] (may be null)
     */
    public static void quantize(Path in, Path out, String type, int threads, DoubleConsumer progress) {
        Native.ensureLoaded();
        Thread caller = Thread.currentThread();
        try (Arena arena = Arena.ofShared()) {
            MemorySegment callback = ffl_progress_fn.allocate((fraction, user) -> {
                try {
                    if (progress != null) progress.accept(fraction);
                } catch (Throwable t) {
                    return 1;
                }
                return caller.isInterrupted() ? 1 : 0;
            }, arena);
            Native.check(fflama_h.ffl_quantize_model(Native.cString(arena, in.toString()), Native.cString(arena, out.toString()),
                    Native.cString(arena, type), threads, callback, MemorySegment.NULL));
        }
    }

    /** Quantizes one row of floats (length a multiple of the type's block size). */
    public static byte[] quantizeRow(TensorType type, float[] row) {
        Native.ensureLoaded();
        long bytes = type.rowBytes(row.length);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment src = a.allocateFrom(ValueLayout.JAVA_FLOAT, row);
            MemorySegment dst = a.allocate(bytes);
            Native.check(fflama_h.ffl_quantize_row(type.id(), src, dst, row.length));
            return dst.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /** Dequantizes n elements of a row of the given type. */
    public static float[] dequantizeRow(TensorType type, MemorySegment data, int n) {
        Native.ensureLoaded();
        long bytes = type.rowBytes(n);
        if (data.byteSize() < bytes) throw new IllegalArgumentException("row needs " + bytes + " bytes, segment has " + data.byteSize());
        try (Arena a = Arena.ofConfined()) {
            MemorySegment src = data.isNative() ? data : a.allocate(bytes).copyFrom(data.asSlice(0, bytes));
            MemorySegment dst = a.allocate(ValueLayout.JAVA_FLOAT, n);
            Native.check(fflama_h.ffl_dequantize_row(type.id(), src, dst, n));
            return dst.toArray(ValueLayout.JAVA_FLOAT);
        }
    }
}
