package dev.fflama;

import dev.fflama.bindings.ffl_tensor_info;
import dev.fflama.bindings.fflama_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.AbstractList;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import java.util.RandomAccess;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A GGUF file opened by the native reader: memory-mapped, validated, read-only.
 *
 * <p>Scalar metadata and the tensor table are read once at open; array entries (a vocabulary's
 * tokens, scores, merges) are lists read from the mapping element by element when used, so opening
 * costs nothing per array element. Tensor data stays in the mapping and is reached through
 * {@link #tensorData(TensorInfo)} as a zero-copy segment. Thread-safe; after {@link #close()} every
 * method, and reading an array list, throws {@link IllegalStateException} ({@code List.copyOf} keeps
 * an array beyond the file).
 */
public final class GgufFile implements AutoCloseable {
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path path;
    private final MemorySegment handle;
    private final Map<String, Object> metadata;
    private final Map<String, MetadataType> types;
    private final Map<String, MetadataType> arrayTypes;
    private final List<TensorInfo> tensors;
    private final Map<String, TensorInfo> tensorsByName;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final Arena arena = Arena.ofShared();
    private final boolean owner;
    private boolean closed;

    private GgufFile(Path path, MemorySegment handle, boolean owner) {
        this.path = path;
        this.handle = handle;
        this.owner = owner;
        Map<String, Object> meta = new LinkedHashMap<>();
        Map<String, MetadataType> ty = new LinkedHashMap<>();
        Map<String, MetadataType> aty = new LinkedHashMap<>();
        long n = fflama_h.ffl_gguf_kv_count(handle);
        try (Arena a = Arena.ofConfined()) {
            for (long i = 0; i < n; i++) {
                String key = Native.string(fflama_h.ffl_gguf_kv_key(handle, i));
                MetadataType t = MetadataType.of(fflama_h.ffl_gguf_kv_type(handle, i));
                ty.put(key, t);
                if (t == MetadataType.ARRAY) aty.put(key, MetadataType.of(fflama_h.ffl_gguf_kv_array_type(handle, i)));
                meta.put(key, readValue(a, i, t));
            }
        }
        this.metadata = Collections.unmodifiableMap(meta);
        this.types = Collections.unmodifiableMap(ty);
        this.arrayTypes = Collections.unmodifiableMap(aty);
        List<TensorInfo> list = new ArrayList<>();
        Map<String, TensorInfo> byName = new LinkedHashMap<>();
        long nt = fflama_h.ffl_gguf_tensor_count(handle);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment info = ffl_tensor_info.allocate(a);
            for (long i = 0; i < nt; i++) {
                Native.check(fflama_h.ffl_gguf_tensor_info(handle, i, info));
                int dims = ffl_tensor_info.n_dims(info);
                long[] all = {ffl_tensor_info.ne0(info), ffl_tensor_info.ne1(info), ffl_tensor_info.ne2(info),
                        ffl_tensor_info.ne3(info)};
                long[] shape = java.util.Arrays.copyOf(all, dims);
                TensorInfo t = new TensorInfo(Native.string(ffl_tensor_info.name(info)), ffl_tensor_info.type(info), shape,
                        ffl_tensor_info.offset(info), ffl_tensor_info.n_bytes(info));
                list.add(t);
                byName.put(t.name(), t);
            }
        }
        this.tensors = Collections.unmodifiableList(list);
        this.tensorsByName = Collections.unmodifiableMap(byName);
    }

    /** Opens and validates a GGUF file; a bad file throws {@link FflamaException} naming the problem. */
    public static GgufFile open(Path path) {
        Native.ensureLoaded();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            Native.check(fflama_h.ffl_gguf_open(Native.cString(a, path.toString()), 0, out));
            MemorySegment handle = out.get(ValueLayout.ADDRESS, 0);
            try {
                return new GgufFile(path, handle, true);
            } catch (RuntimeException e) {
                fflama_h.ffl_gguf_close(handle);
                throw e;
            }
        }
    }

    /** A view of a file owned by someone else (a loaded model): closing it leaves the native file open. */
    static GgufFile view(Path path, MemorySegment handle) {
        return new GgufFile(path, handle, false);
    }

    private Object readValue(Arena a, long i, MetadataType t) {
        MemorySegment ptr = a.allocate(ValueLayout.ADDRESS);
        MemorySegment len = a.allocate(ValueLayout.JAVA_LONG);
        switch (t) {
            case STRING -> {
                Native.check(fflama_h.ffl_gguf_kv_get_string(handle, i, ptr, len));
                return Native.string(ptr.get(ValueLayout.ADDRESS, 0), len.get(ValueLayout.JAVA_LONG, 0));
            }
            case BOOL -> {
                MemorySegment v = a.allocate(ValueLayout.JAVA_LONG);
                Native.check(fflama_h.ffl_gguf_kv_get_int(handle, i, v));
                return v.get(ValueLayout.JAVA_LONG, 0) != 0;
            }
            case FLOAT32, FLOAT64 -> {
                MemorySegment v = a.allocate(ValueLayout.JAVA_DOUBLE);
                Native.check(fflama_h.ffl_gguf_kv_get_float(handle, i, v));
                return v.get(ValueLayout.JAVA_DOUBLE, 0);
            }
            case ARRAY -> {
                return readArray(a, i, MetadataType.of(fflama_h.ffl_gguf_kv_array_type(handle, i)));
            }
            default -> {
                if (t == MetadataType.UINT64) {
                    // full unsigned range: read the raw value through the float path would lose bits
                    MemorySegment v = a.allocate(ValueLayout.JAVA_LONG);
                    if (fflama_h.ffl_gguf_kv_get_int(handle, i, v) == 0) return v.get(ValueLayout.JAVA_LONG, 0);
                    MemorySegment d = a.allocate(ValueLayout.JAVA_DOUBLE);
                    Native.check(fflama_h.ffl_gguf_kv_get_float(handle, i, d));
                    return d.get(ValueLayout.JAVA_DOUBLE, 0);
                }
                MemorySegment v = a.allocate(ValueLayout.JAVA_LONG);
                Native.check(fflama_h.ffl_gguf_kv_get_int(handle, i, v));
                return v.get(ValueLayout.JAVA_LONG, 0);
            }
        }
    }

    /**
     * An array entry as a list read from the mapping on demand: opening a model does not turn a
     * 32000-entry vocabulary into Java objects, only what is read is. Elements are boxed when read
     * (strings once). Reading after the file is closed throws {@link IllegalStateException}.
     */
    private List<?> readArray(Arena a, long i, MetadataType element) {
        long n = fflama_h.ffl_gguf_kv_array_length(handle, i);
        if (n > Integer.MAX_VALUE - 8) throw new FflamaException(FflamaException.Status.UNSUPPORTED, "array too long");
        if (element == MetadataType.STRING) return new StringArray(i, (int) n);
        MemorySegment ptr = a.allocate(ValueLayout.ADDRESS);
        Native.check(fflama_h.ffl_gguf_kv_get_array_data(handle, i, ptr));
        int size = switch (element) {
            case UINT8, INT8, BOOL -> 1;
            case UINT16, INT16 -> 2;
            case UINT32, INT32, FLOAT32 -> 4;
            default -> 8;
        };
        // scoped to this file's arena: once closed, a read throws instead of touching the unmapped file
        return new NumericArray(ptr.get(ValueLayout.ADDRESS, 0).reinterpret(n * size, arena, null), element, size, (int) n);
    }

    /** A numeric or bool array entry, read in place. */
    private static final class NumericArray extends AbstractList<Object> implements RandomAccess {
        private final MemorySegment data;
        private final MetadataType element;
        private final int size, length;

        NumericArray(MemorySegment data, MetadataType element, int size, int length) {
            this.data = data;
            this.element = element;
            this.size = size;
            this.length = length;
        }

        @Override
        public int size() {
            return length;
        }

        @Override
        public Object get(int index) {
            long off = (long) Objects.checkIndex(index, length) * size;
            ByteOrder le = ByteOrder.LITTLE_ENDIAN;
            return switch (element) {
                case UINT8 -> (long) Byte.toUnsignedInt(data.get(ValueLayout.JAVA_BYTE, off));
                case INT8 -> (long) data.get(ValueLayout.JAVA_BYTE, off);
                case BOOL -> data.get(ValueLayout.JAVA_BYTE, off) != 0;
                case UINT16 -> (long) Short.toUnsignedInt(data.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(le), off));
                case INT16 -> (long) data.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(le), off);
                case UINT32 -> Integer.toUnsignedLong(data.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(le), off));
                case INT32 -> (long) data.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(le), off);
                case FLOAT32 -> (double) data.get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(le), off);
                case FLOAT64 -> data.get(ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(le), off);
                default -> data.get(I64, off);
            };
        }
    }

    /** A string array entry: each element decoded on first read and kept. */
    private final class StringArray extends AbstractList<String> implements RandomAccess {
        private final long index;
        private final String[] strings;

        StringArray(long index, int length) {
            this.index = index;
            this.strings = new String[length];
        }

        @Override
        public int size() {
            return strings.length;
        }

        @Override
        public String get(int element) {
            String v = strings[Objects.checkIndex(element, strings.length)];
            if (v != null) return v;
            v = read(() -> {
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment ptr = a.allocate(ValueLayout.ADDRESS);
                    MemorySegment len = a.allocate(ValueLayout.JAVA_LONG);
                    Native.check(fflama_h.ffl_gguf_kv_get_array_string(handle, index, element, ptr, len));
                    return Native.string(ptr.get(ValueLayout.ADDRESS, 0), len.get(ValueLayout.JAVA_LONG, 0));
                }
            });
            strings[element] = v; // a String is safe to publish through a race: any thread decodes the same text
            return v;
        }
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("GgufFile " + path + " is closed");
    }

    public Path path() {
        return path;
    }

    public int version() {
        return read(() -> fflama_h.ffl_gguf_version(handle));
    }

    public long fileSize() {
        return read(() -> fflama_h.ffl_gguf_file_size(handle));
    }

    public long alignment() {
        return read(() -> fflama_h.ffl_gguf_alignment(handle));
    }

    /**
     * Every metadata entry in file order. Values are {@code String}, {@code Long} (integers),
     * {@code Double} (floats), {@code Boolean}, or an unmodifiable {@code List} of those (read from the
     * file as its elements are used; see the class notes).
     */
    public Map<String, Object> metadata() {
        ensureOpen();
        return metadata;
    }

    public boolean has(String key) {
        ensureOpen();
        return metadata.containsKey(key);
    }

    public Optional<MetadataType> type(String key) {
        ensureOpen();
        return Optional.ofNullable(types.get(key));
    }

    /** Element type of an array entry. */
    public Optional<MetadataType> arrayType(String key) {
        ensureOpen();
        return Optional.ofNullable(arrayTypes.get(key));
    }

    public Optional<String> getString(String key) {
        return metadata().get(key) instanceof String s ? Optional.of(s) : Optional.empty();
    }

    public OptionalLong getLong(String key) {
        return metadata().get(key) instanceof Long l ? OptionalLong.of(l) : OptionalLong.empty();
    }

    /** Any numeric value as a double. */
    public OptionalDouble getDouble(String key) {
        Object v = metadata().get(key);
        if (v instanceof Double d) return OptionalDouble.of(d);
        if (v instanceof Long l) return OptionalDouble.of(l);
        return OptionalDouble.empty();
    }

    public Optional<Boolean> getBoolean(String key) {
        return metadata().get(key) instanceof Boolean b ? Optional.of(b) : Optional.empty();
    }

    public Optional<List<?>> getArray(String key) {
        return metadata().get(key) instanceof List<?> l ? Optional.of(l) : Optional.empty();
    }

    @SuppressWarnings("unchecked")
    public Optional<List<String>> getStringArray(String key) {
        if (arrayTypes.get(key) != MetadataType.STRING) return Optional.empty();
        return Optional.of((List<String>) metadata().get(key));
    }

    public List<TensorInfo> tensors() {
        ensureOpen();
        return tensors;
    }

    public Optional<TensorInfo> tensor(String name) {
        ensureOpen();
        return Optional.ofNullable(tensorsByName.get(name));
    }

    /** {@code general.architecture}, or "unknown". */
    public String architecture() {
        return getString("general.architecture").orElse("unknown");
    }

    /** Total elements of all tensors. */
    public long parameterCount() {
        ensureOpen();
        long n = 0;
        for (TensorInfo t : tensors) n += t.elementCount();
        return n;
    }

    /** Total bytes of tensor data. */
    public long tensorBytes() {
        ensureOpen();
        long n = 0;
        for (TensorInfo t : tensors) n += t.byteSize();
        return n;
    }

    /** Zero-copy, read-only view of a tensor's bytes, valid until this file is closed. */
    public MemorySegment tensorData(TensorInfo tensor) {
        lock.readLock().lock();
        try {
            ensureOpen();
            try (Arena a = Arena.ofConfined()) {
                MemorySegment info = ffl_tensor_info.allocate(a);
                long index = fflama_h.ffl_gguf_find_tensor(handle, Native.cString(a, tensor.name()));
                if (index < 0) throw new IllegalArgumentException("no tensor " + tensor.name() + " in " + path);
                Native.check(fflama_h.ffl_gguf_tensor_info(handle, index, info));
                return ffl_tensor_info.data(info).reinterpret(tensor.byteSize(), arena, null).asReadOnly();
            }
        } finally {
            lock.readLock().unlock();
        }
    }

    private <T> T read(java.util.function.Supplier<T> f) {
        lock.readLock().lock();
        try {
            ensureOpen();
            return f.get();
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Unmaps the file. Views from {@link #tensorData} become inaccessible (they throw, never read freed memory). */
    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            if (closed) return;
            closed = true;
            arena.close();
            if (owner) fflama_h.ffl_gguf_close(handle);
        } finally {
            lock.writeLock().unlock();
        }
    }

    @Override
    public String toString() {
        return "GgufFile[" + path + ", " + tensors.size() + " tensors, " + metadata.size() + " keys]";
    }
}
