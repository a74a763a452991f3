package dev.fflama;

/** Element type of a session's KV cache. */
public enum KvType {
    /** Half precision: half the memory, the default. */
    F16(TensorType.F16),
    /** Single precision: what reference comparisons use. */
    F32(TensorType.F32);

    final TensorType tensorType;

    KvType(TensorType t) {
        this.tensorType = t;
    }
}
