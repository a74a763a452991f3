package dev.fflama;

import dev.fflama.bindings.fflama_h;
import java.util.Locale;
import java.util.Optional;

/** Tensor element types, numbered as ggml and GGUF number them. */
public enum TensorType {
    F32(0), F16(1), Q4_0(2), Q4_1(3), Q5_0(6), Q5_1(7), Q8_0(8), Q8_1(9), Q2_K(10), Q3_K(11), Q4_K(12), Q5_K(13),
    Q6_K(14), Q8_K(15), IQ2_XXS(16), IQ2_XS(17), IQ3_XXS(18), IQ1_S(19), IQ4_NL(20), IQ3_S(21), IQ2_S(22), IQ4_XS(23),
    I8(24), I16(25), I32(26), I64(27), F64(28), IQ1_M(29), BF16(30), TQ1_0(34), TQ2_0(35);

    private final int id;

    TensorType(int id) {
        this.id = id;
    }

    /** The GGUF/ggml type number. */
    public int id() {
        return id;
    }

    /** The name ggml and llama.cpp print, e.g. {@code q4_K}, {@code f16}. */
    public String ggmlName() {
        Native.ensureLoaded();
        return Native.string(fflama_h.ffl_type_name(id));
    }

    /** Elements per block (1 for plain types). */
    public long blockSize() {
        Native.ensureLoaded();
        return fflama_h.ffl_type_block_size(id);
    }

    /** Bytes per block. */
    public long blockBytes() {
        Native.ensureLoaded();
        return fflama_h.ffl_type_block_bytes(id);
    }

    /** Bytes of a row of n elements; throws if n is not a multiple of the block size. */
    public long rowBytes(long n) {
        Native.ensureLoaded();
        long bytes = fflama_h.ffl_type_row_bytes(id, n);
        if (bytes < 0) throw new IllegalArgumentException(n + " elements do not fill whole " + this + " blocks");
        return bytes;
    }

    public static Optional<TensorType> fromId(int id) {
        for (TensorType t : values()) if (t.id == id) return Optional.of(t);
        return Optional.empty();
    }

    /** Parses "q4_k", "Q4_K", "f16" and the like. */
    public static TensorType fromName(String name) {
        String upper = name.trim().toUpperCase(Locale.ROOT);
        for (TensorType t : values()) if (t.name().equals(upper)) return t;
        throw new IllegalArgumentException("unknown tensor type '" + name + "'");
    }
}
