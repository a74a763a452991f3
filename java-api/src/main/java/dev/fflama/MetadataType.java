package dev.fflama;

/** Value types of GGUF metadata, numbered as the format numbers them. */
public enum MetadataType {
    UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64;

    static MetadataType of(int id) {
        if (id < 0 || id >= values().length) throw new IllegalStateException("unknown metadata type " + id);
        return values()[id];
    }

    public boolean isInteger() {
        return switch (this) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> true;
            default -> false;
        };
    }

    public boolean isFloat() {
        return this == FLOAT32 || this == FLOAT64;
    }
}
