package dev.fflama;

import java.util.Arrays;

/**
 * One tensor of a GGUF file.
 *
 * @param name   tensor name, e.g. {@code blk.0.attn_q.weight}
 * @param typeId GGUF type number (see {@link #type()})
 * @param shape  extents, innermost (row length) first, as GGUF stores them
 * @param offset absolute file offset of the data
 * @param byteSize bytes of data
 */
public record TensorInfo(String name, int typeId, long[] shape, long offset, long byteSize) {
    public TensorInfo {
        shape = shape.clone();
    }

    /** The element type. */
    public TensorType type() {
        return TensorType.fromId(typeId).orElseThrow(() -> new IllegalStateException("unknown tensor type " + typeId));
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements. */
    public long elementCount() {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && t.name.equals(name) && t.typeId == typeId && Arrays.equals(t.shape, shape)
                && t.offset == offset && t.byteSize == byteSize;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + type() + " " + Arrays.toString(shape) + " (" + byteSize + " bytes)";
    }
}
