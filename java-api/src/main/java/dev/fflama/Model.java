package dev.fflama;

import dev.fflama.bindings.ffl_model_params;
import dev.fflama.bindings.ffl_progress_fn;
import dev.fflama.bindings.fflama_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A loaded GGUF model: weights memory-mapped, immutable and thread-safe. Any number of
 * {@link Session}s, on any threads, share one model.
 *
 * <p>Closing a model closes its open sessions first (each one waits for a running evaluation to
 * stop, which it asks to abort), then frees the weights. Any later use of the model or of those
 * sessions throws {@link IllegalStateException}; nothing ever touches freed memory.
 */
public final class Model implements AutoCloseable {
    private final Path path;
    private final MemorySegment handle;
    private final Set<Session> sessions = ConcurrentHashMap.newKeySet();
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private GgufFile gguf; // made on first use: loading reads no metadata on the Java side
    private volatile boolean closed;

    private Model(Path path, MemorySegment handle) {
        this.path = path;
        this.handle = handle;
    }

    /** Loads a model with default options. */
    public static Model load(Path path) {
        return load(path, ModelOptions.defaults());
    }

    /** Loads and validates a model; a bad or unsupported file throws {@link FflamaException}. */
    public static Model load(Path path, ModelOptions options) {
        Native.ensureLoaded();
        try (Arena arena = Arena.ofShared()) {
            MemorySegment params = ffl_model_params.allocate(arena);
            fflama_h.ffl_model_default_params(params);
            ffl_model_params.use_mmap(params, options.mmap() ? 1 : 0);
            ffl_model_params.repack(params, options.repack() ? 1 : 0);
            if (options.progress() != null) {
                Thread caller = Thread.currentThread();
                ffl_model_params.progress(params, ffl_progress_fn.allocate((fraction, user) -> {
                    try {
                        options.progress().accept(fraction);
                        return caller.isInterrupted() ? 1 : 0;
                    } catch (Throwable t) {
                        return 1; // a failing listener cancels the load instead of unwinding through C
                    }
                }, arena));
            }
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            Native.check(fflama_h.ffl_model_load(Native.cString(arena, path.toString()), params, out));
            return new Model(path, out.get(ValueLayout.ADDRESS, 0));
        }
    }

    /** Opens a session (KV cache and state) on this model. */
    public Session newSession(SessionOptions options) {
        return withHandle(() -> {
            Session s = new Session(this, options);
            sessions.add(s);
            return s;
        });
    }

    public Session newSession() {
        return newSession(SessionOptions.defaults());
    }

    void forget(Session s) {
        sessions.remove(s);
    }

    MemorySegment handle() {
        return handle;
    }

    /** Runs f with the model guaranteed open for its duration. */
    <T> T withHandle(java.util.function.Supplier<T> f) {
        lock.readLock().lock();
        try {
            if (closed) throw new IllegalStateException("model " + path + " is closed");
            return f.get();
        } finally {
            lock.readLock().unlock();
        }
    }

    public Path path() {
        return path;
    }

    /** {@code general.architecture}, e.g. "llama". */
    public String architecture() {
        return withHandle(() -> Native.string(fflama_h.ffl_model_arch(handle)));
    }

    /** Short description, e.g. "llama 4x256 q4_K". */
    public String description() {
        return withHandle(() -> {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment buf = a.allocate(256);
                Native.check(fflama_h.ffl_model_desc(handle, buf, buf.byteSize()));
                return buf.getString(0);
            }
        });
    }

    public int vocabSize() {
        return withHandle(() -> fflama_h.ffl_model_n_vocab(handle));
    }

    public int trainedContextLength() {
        return withHandle(() -> fflama_h.ffl_model_n_ctx_train(handle));
    }

    public int embeddingLength() {
        return withHandle(() -> fflama_h.ffl_model_n_embd(handle));
    }

    public int layerCount() {
        return withHandle(() -> fflama_h.ffl_model_n_layer(handle));
    }

    public int headCount() {
        return withHandle(() -> fflama_h.ffl_model_n_head(handle));
    }

    public int kvHeadCount() {
        return withHandle(() -> fflama_h.ffl_model_n_head_kv(handle));
    }

    /** Experts per layer (0 for a dense model). */
    public int expertCount() {
        return withHandle(() -> fflama_h.ffl_model_n_expert(handle));
    }

    /** Bytes of all weights. */
    public long sizeBytes() {
        return withHandle(() -> fflama_h.ffl_model_size(handle));
    }

    public long parameterCount() {
        return withHandle(() -> fflama_h.ffl_model_n_params(handle));
    }

    /** The model's tokenizer (valid while the model is open). */
    public Tokenizer tokenizer() {
        return Tokenizer.of(this);
    }

    /** The model file's metadata and tensor table (a view; valid while the model is open). */
    public GgufFile gguf() {
        return withHandle(() -> {
            synchronized (this) {
                if (gguf == null) gguf = GgufFile.view(path, fflama_h.ffl_model_gguf(handle));
                return gguf;
            }
        });
    }

    /** Sessions currently open on this model. */
    public List<Session> openSessions() {
        return List.copyOf(sessions);
    }

    @Override
    public void close() {
        for (Session s : List.copyOf(sessions)) s.close();
        lock.writeLock().lock();
        try {
            if (closed) return;
            closed = true;
            for (Session s : List.copyOf(sessions)) s.close(); // opened while we waited for the lock
            synchronized (this) {
                if (gguf != null) gguf.close();
            }
            fflama_h.ffl_model_free(handle);
        } finally {
            lock.writeLock().unlock();
        }
    }

    public boolean isClosed() {
        return closed;
    }

    @Override
    public String toString() {
        return "Model[" + path + (closed ? ", closed]" : "]");
    }
}
