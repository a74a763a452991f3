package dev.fflama;

import dev.fflama.bindings.NativeLibrary;
import dev.fflama.bindings.ffl_abort_flag;
import dev.fflama.bindings.ffl_session_params;
import dev.fflama.bindings.fflama_h;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A conversation state on a {@link Model}: the KV cache, the outputs of the last evaluation and a
 * thread pool. <b>One thread at a time:</b> a session is not thread-safe; using it from two threads
 * at once throws {@link IllegalStateException} instead of corrupting it. Open one session per
 * thread to run in parallel on the same model.
 *
 * <p>Long evaluations stop between layers when {@link #cancel()} or {@link #close()} is called from
 * another thread, or when the evaluating thread is interrupted (noticed before the evaluation starts
 * and then within {@value #ABORT_POLL_MICROS} µs); they then throw a {@link FflamaException} with
 * status {@code ABORTED} and leave the cache as it was before. The core checks a native flag between
 * layers, so these checks cost no call into Java per layer.
 */
public final class Session implements AutoCloseable {
    private final Model model;
    private final SessionOptions options;
    private final MemorySegment handle;
    private final Arena arena = Arena.ofShared();
    private final ReentrantLock lock = new ReentrantLock();
    private final int vocabSize;
    private final int embeddingLength;
    private volatile boolean closed;
    /** How often a running evaluation asks Java whether its thread was interrupted. */
    static final int ABORT_POLL_MICROS = 10_000;
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();
    private volatile boolean cancelRequested;
    private volatile Thread evaluatingThread;
    private final MemorySegment abortFlag; // an ffl_abort_flag: cancel() raises its flag, the core reads it
    // reused native buffers: no allocation per token
    private MemorySegment tokenBuffer;
    private MemorySegment positionBuffer;
    private MemorySegment sequenceBuffer;
    private MemorySegment wantBuffer;
    private int bufferCapacity;
    // generation scratch, used by TokenStream under the lock: no allocation per token
    private final MemorySegment sampled = arena.allocate(ValueLayout.JAVA_LONG); // int32 token, float logprob
    private final MemorySegment sampledLogprob = sampled.asSlice(4);
    private MemorySegment pieceBuffer = arena.allocate(64);
    private byte[] pieceBytes = new byte[64];
    private volatile MemorySegment vocab;
    // the sampler chain and text assembler of the last generation, reused by the next one like it
    private final Object idleLock = new Object();
    private Sampler idleSampler;
    private Sampler.NativeChain idleChain;
    private TextAssembler idleText;

    Session(Model model, SessionOptions options) {
        this.model = model;
        this.options = options;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment params = ffl_session_params.allocate(a);
            fflama_h.ffl_session_default_params(params);
            ffl_session_params.n_ctx(params, options.contextSize());
            ffl_session_params.n_batch(params, options.batchSize());
            ffl_session_params.n_threads(params, options.threads());
            ffl_session_params.kv_type(params, options.kvType().tensorType.id());
            ffl_session_params.n_seq_max(params, options.sequences());
            ffl_session_params.embeddings(params, options.embeddings() ? 1 : 0);
            abortFlag = ffl_abort_flag.allocate(arena);
            ffl_abort_flag.poll_interval_us(abortFlag, ABORT_POLL_MICROS);
            ffl_abort_flag.poll(abortFlag, abortPollStub(this, arena));
            ffl_session_params.abort_callback(params, NativeLibrary.find("ffl_abort_flag_check")
                    .orElseThrow(() -> new UnsatisfiedLinkError("libfflama has no symbol ffl_abort_flag_check")));
            ffl_session_params.abort_user_data(params, abortFlag);
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            int st = fflama_h.ffl_session_new(model.handle(), params, out);
            if (st < 0) {
                arena.close();
                throw Native.error(st);
            }
            this.handle = out.get(ValueLayout.ADDRESS, 0);
        }
        this.vocabSize = fflama_h.ffl_model_n_vocab(model.handle());
        this.embeddingLength = fflama_h.ffl_model_n_embd(model.handle());
        ensureCapacity(Math.max(16, Math.min(options.batchSize(), 4096)));
    }

    /**
     * The abort flag's poll, an ffl_abort_fn upcall (at most every ABORT_POLL_MICROS). Its void* user
     * data is taken as an integer of the pointer's size, which the ABIs pass alike, so that a call
     * allocates no segment.
     */
    private static MemorySegment abortPollStub(Session session, Arena arena) {
        try {
            MethodHandle poll = MethodHandles.lookup()
                    .findVirtual(Session.class, "shouldAbort", MethodType.methodType(int.class, long.class)).bindTo(session);
            ValueLayout pointerAsInteger = ValueLayout.ADDRESS.byteSize() == 8 ? ValueLayout.JAVA_LONG : ValueLayout.JAVA_INT;
            if (pointerAsInteger == ValueLayout.JAVA_INT) poll = MethodHandles.explicitCastArguments(poll, MethodType.methodType(int.class, int.class));
            return Linker.nativeLinker().upcallStub(poll, FunctionDescriptor.of(ValueLayout.JAVA_INT, pointerAsInteger), arena);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Runs on the thread that checks; must not throw. */
    private int shouldAbort(long userData) {
        Thread t = evaluatingThread;
        return cancelRequested || (t != null && t.isInterrupted()) ? 1 : 0;
    }

    private void beginEvaluation() {
        Thread t = Thread.currentThread();
        evaluatingThread = t;
        if (cancelRequested || t.isInterrupted()) INT.setVolatile(abortFlag, ffl_abort_flag.flag$OFFSET, 1);
    }

    private void endEvaluation() {
        evaluatingThread = null;
        cancelRequested = false;
        INT.setVolatile(abortFlag, ffl_abort_flag.flag$OFFSET, 0);
    }

    private void ensureCapacity(int n) {
        if (n <= bufferCapacity) return;
        int cap = Math.max(n, bufferCapacity * 2);
        tokenBuffer = arena.allocate(ValueLayout.JAVA_INT, cap);
        positionBuffer = arena.allocate(ValueLayout.JAVA_INT, cap);
        sequenceBuffer = arena.allocate(ValueLayout.JAVA_INT, cap);
        wantBuffer = arena.allocate(ValueLayout.JAVA_BYTE, cap);
        bufferCapacity = cap;
    }

    private void enter() {
        if (!lock.tryLock()) {
            if (closed) throw new IllegalStateException("session is closed");
            throw new IllegalStateException("Session is used by two threads at once; open one session per thread");
        }
        if (closed) {
            lock.unlock();
            throw new IllegalStateException("session is closed");
        }
    }

    private void exit() {
        lock.unlock();
    }

    public Model model() {
        return model;
    }

    public SessionOptions options() {
        return options;
    }

    /** KV cache cells (the context size in tokens, shared by all sequences). */
    public int contextSize() {
        enter();
        try {
            return fflama_h.ffl_session_n_ctx(handle);
        } finally {
            exit();
        }
    }

    public int threads() {
        enter();
        try {
            return fflama_h.ffl_session_n_threads(handle);
        } finally {
            exit();
        }
    }

    public void setThreads(int threads) {
        enter();
        try {
            Native.check(fflama_h.ffl_session_set_threads(handle, threads));
        } finally {
            exit();
        }
    }

    // ------------------------------------------------------------------ evaluation

    /** Appends tokens to sequence 0 and computes the logits of the last one. */
    public void evaluate(int... tokens) {
        decode(tokens, tokens.length, false);
    }

    /** Appends tokens to sequence 0 and computes the logits at every position ({@link #logits(int)}). */
    public void evaluateAll(int... tokens) {
        decode(tokens, tokens.length, true);
    }

    /**
     * Appends the int32 tokens held in a segment to sequence 0 (logits of the last one). A native
     * segment is passed to the core as it is, without a copy.
     */
    public void evaluate(MemorySegment tokens) {
        long n = tokens.byteSize() / Integer.BYTES;
        if (n > Integer.MAX_VALUE) throw new IllegalArgumentException("too many tokens");
        enter();
        try {
            MemorySegment src = tokens;
            if (!tokens.isNative()) {
                ensureCapacity((int) n);
                MemorySegment.copy(tokens, 0, tokenBuffer, 0, n * Integer.BYTES);
                src = tokenBuffer;
            }
            run(src, MemorySegment.NULL, MemorySegment.NULL, MemorySegment.NULL, (int) n);
        } finally {
            exit();
        }
    }

    private void decode(int[] tokens, int n, boolean all) {
        enter();
        try {
            ensureCapacity(n);
            MemorySegment.copy(tokens, 0, tokenBuffer, ValueLayout.JAVA_INT, 0, n);
            MemorySegment want = MemorySegment.NULL;
            if (all) {
                wantBuffer.asSlice(0, n).fill((byte) 1);
                want = wantBuffer;
            }
            run(tokenBuffer, MemorySegment.NULL, MemorySegment.NULL, want, n);
        } finally {
            exit();
        }
    }

    /** Evaluates a batch with explicit positions, sequence ids and output flags. */
    public void evaluate(Batch batch) {
        enter();
        try {
            int n = batch.size();
            ensureCapacity(n);
            MemorySegment.copy(batch.tokens, 0, tokenBuffer, ValueLayout.JAVA_INT, 0, n);
            MemorySegment.copy(batch.positions, 0, positionBuffer, ValueLayout.JAVA_INT, 0, n);
            MemorySegment.copy(batch.sequences, 0, sequenceBuffer, ValueLayout.JAVA_INT, 0, n);
            for (int i = 0; i < n; i++) wantBuffer.set(ValueLayout.JAVA_BYTE, i, batch.logits[i] ? (byte) 1 : 0);
            run(tokenBuffer, positionBuffer, sequenceBuffer, wantBuffer, n);
        } finally {
            exit();
        }
    }

    private void run(MemorySegment tokens, MemorySegment pos, MemorySegment seq, MemorySegment want, int n) {
        if (n == 0) return;
        beginEvaluation();
        try {
            int st = fflama_h.ffl_session_decode(handle, tokens, pos, seq, want, n);
            if (st < 0) throw Native.error(st);
        } finally {
            endEvaluation();
        }
    }

    /** Asks a running evaluation (on another thread) to stop between layers. */
    public void cancel() {
        cancelRequested = true;
        try {
            INT.setVolatile(abortFlag, ffl_abort_flag.flag$OFFSET, 1);
        } catch (IllegalStateException closedMeanwhile) {
            // the session is closed: nothing runs any more
        }
    }

    // ------------------------------------------------------------------ outputs

    /** Rows of logits the last evaluation produced. */
    public int outputCount() {
        enter();
        try {
            return fflama_h.ffl_session_n_outputs(handle);
        } finally {
            exit();
        }
    }

    /**
     * Zero-copy view of the last output's logits ({@code vocabSize} floats). It shows the newest
     * logits after each evaluation and becomes inaccessible when the session closes.
     */
    public MemorySegment logits() {
        return logits(-1);
    }

    /**
     * Logits of output row i of the last evaluation, counted among the tokens that asked for logits
     * (negative i counts from the end). For {@link #evaluateAll} row i is position i of that call.
     */
    public MemorySegment logits(int i) {
        enter();
        try {
            int rows = fflama_h.ffl_session_n_outputs(handle);
            int row = i < 0 ? rows + i : i;
            if (row < 0 || row >= rows) throw new IndexOutOfBoundsException("output " + i + " of " + rows);
            MemorySegment all = fflama_h.ffl_session_logits_all(handle);
            if (all.equals(MemorySegment.NULL)) throw Native.error(fflama_h.ffl_last_status());
            return all.reinterpret((long) rows * vocabSize * Float.BYTES, arena, null)
                    .asSlice((long) row * vocabSize * Float.BYTES, (long) vocabSize * Float.BYTES);
        } finally {
            exit();
        }
    }

    /** Copy of the last output's logits. */
    public float[] logitsArray() {
        return logits().toArray(ValueLayout.JAVA_FLOAT);
    }

    public float[] logitsArray(int i) {
        return logits(i).toArray(ValueLayout.JAVA_FLOAT);
    }

    /** Final hidden state (after the output norm) of the last output; needs {@link SessionOptions#embeddings()}. */
    public float[] embeddings() {
        enter();
        try {
            MemorySegment e = fflama_h.ffl_session_embeddings(handle, -1);
            if (e.equals(MemorySegment.NULL)) throw Native.error(fflama_h.ffl_last_status());
            return e.reinterpret((long) embeddingLength * Float.BYTES).toArray(ValueLayout.JAVA_FLOAT);
        } finally {
            exit();
        }
    }

    // ------------------------------------------------------------------ generation

    /**
     * Generates text after a prompt, continuing this session's sequence 0 (so a chat can go on
     * without re-evaluating what is cached). Tokens come lazily as the stream is consumed.
     */
    public TokenStream generate(String prompt, Generation generation) {
        return generate(tokenize(prompt, generation.addSpecial() && position() == 0, generation.parseSpecial()), generation);
    }

    /** Generates after prompt tokens (an empty array continues from the last evaluation). */
    public TokenStream generate(int[] promptTokens, Generation generation) {
        if (closed) throw new IllegalStateException("session is closed");
        return new TokenStream(this, promptTokens, generation);
    }

    /**
     * Publishes the tokens of a generation to a {@link java.util.concurrent.Flow.Subscriber}, honouring its
     * demand; generation runs on the given executor and stops when the subscription is cancelled.
     */
    public java.util.concurrent.Flow.Publisher<Token> publish(String prompt, Generation generation,
                                                             java.util.concurrent.Executor executor) {
        return new TokenPublisher(() -> generate(prompt, generation), executor);
    }

    /** Token ids of a text with this model's tokenizer. */
    int[] tokenize(String text, boolean addSpecial, boolean parseSpecial) {
        MemorySegment v = vocab();
        byte[] utf8 = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        int flags = (addSpecial ? fflama_h.FFL_TOKENIZE_ADD_SPECIAL : 0) | (parseSpecial ? fflama_h.FFL_TOKENIZE_PARSE_SPECIAL : 0);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment bytes = a.allocate(Math.max(1, utf8.length));
            MemorySegment.copy(utf8, 0, bytes, ValueLayout.JAVA_BYTE, 0, utf8.length);
            int cap = utf8.length + 8;
            MemorySegment out = a.allocate(ValueLayout.JAVA_INT, cap);
            int n = Native.check(fflama_h.ffl_tokenize(v, bytes, utf8.length, out, cap, flags));
            if (n > cap) {
                out = a.allocate(ValueLayout.JAVA_INT, n);
                n = Native.check(fflama_h.ffl_tokenize(v, bytes, utf8.length, out, n, flags));
            }
            return out.asSlice(0, (long) n * Integer.BYTES).toArray(ValueLayout.JAVA_INT);
        }
    }

    MemorySegment vocab() {
        MemorySegment v = vocab;
        if (v != null) return v;
        v = model.withHandle(() -> {
            MemorySegment h = fflama_h.ffl_model_vocab(model.handle());
            if (h.equals(MemorySegment.NULL)) throw Native.error(fflama_h.ffl_last_status());
            return h;
        });
        vocab = v; // the model's, fixed for its life (which outlasts this session)
        return v;
    }

    /** Evaluates tokens on sequence 0 and returns the status instead of throwing (generation decides). */
    int tryEvaluate(int[] tokens, int n) {
        enter();
        try {
            return decodeLocked(tokens, n);
        } finally {
            exit();
        }
    }

    // ---- generation steps: the caller holds the lock (enterInternal); nothing here allocates

    /** Decodes tokens on sequence 0; returns the status. They stay in tokenBuffer for {@link #acceptPromptLocked}. */
    int decodeLocked(int[] tokens, int n) {
        ensureCapacity(n);
        MemorySegment.copy(tokens, 0, tokenBuffer, ValueLayout.JAVA_INT, 0, n);
        return decodeBufferLocked(n);
    }

    int decodeOneLocked(int token) {
        tokenBuffer.set(ValueLayout.JAVA_INT, 0, token);
        return decodeBufferLocked(1);
    }

    private int decodeBufferLocked(int n) {
        beginEvaluation();
        try {
            return fflama_h.ffl_session_decode(handle, tokenBuffer, MemorySegment.NULL, MemorySegment.NULL,
                    MemorySegment.NULL, n);
        } finally {
            endEvaluation();
        }
    }

    /** Feeds the n tokens of the last {@link #decodeLocked} to the chain's penalty histories. */
    int acceptPromptLocked(Sampler.NativeChain chain, int n) {
        return fflama_h.ffl_sampler_accept_prompt(chain.handle, tokenBuffer, n);
    }

    /** Samples from the last output's logits; the result is read with {@link #sampledToken()} and {@link #sampledLogprob()}. */
    void sampleLocked(Sampler.NativeChain chain) {
        MemorySegment logits = fflama_h.ffl_session_logits(handle, -1);
        if (logits.equals(MemorySegment.NULL)) throw Native.error(fflama_h.ffl_last_status());
        Native.check(fflama_h.ffl_sampler_sample(chain.handle, logits, vocabSize, sampled, sampledLogprob));
    }

    int sampledToken() {
        return sampled.get(ValueLayout.JAVA_INT, 0);
    }

    float sampledLogprob() {
        return sampledLogprob.get(ValueLayout.JAVA_FLOAT, 0);
    }

    /** The token's bytes (control tokens give none) into {@link #pieceBytes()}; returns their count. */
    int pieceLocked(MemorySegment vocab, int token) {
        int n = fflama_h.ffl_vocab_token_piece(vocab, token, pieceBuffer, (int) pieceBuffer.byteSize(), 0);
        if (n < 0) throw Native.error(n);
        if (n > pieceBuffer.byteSize()) {
            pieceBuffer = arena.allocate(n * 2L);
            n = fflama_h.ffl_vocab_token_piece(vocab, token, pieceBuffer, (int) pieceBuffer.byteSize(), 0);
            if (n < 0) throw Native.error(n);
        }
        if (n > pieceBytes.length) pieceBytes = new byte[n * 2];
        MemorySegment.copy(pieceBuffer, ValueLayout.JAVA_BYTE, 0, pieceBytes, 0, n);
        return n;
    }

    byte[] pieceBytes() {
        return pieceBytes;
    }

    // ---- reuse across generations: a chain built from the same Sampler, once reset, is the chain it would build

    /** A native chain in its initial state for sampler: the last generation's when it used the same sampler, else a new one. */
    Sampler.NativeChain borrowChain(Sampler sampler) {
        Sampler.NativeChain c = null;
        synchronized (idleLock) {
            if (idleSampler == sampler && idleChain != null) {
                c = idleChain;
                idleChain = null;
                idleSampler = null;
            }
        }
        if (c != null) {
            if (fflama_h.ffl_sampler_reset(c.handle) == 0) return c;
            c.close();
        }
        return sampler.newChain(vocab(), contextSize());
    }

    /** An empty text assembler for these stop strings. */
    TextAssembler borrowText(java.util.List<String> stops) {
        synchronized (idleLock) {
            TextAssembler t = idleText;
            if (t != null && t.stopStrings().equals(stops)) {
                idleText = null;
                t.reset();
                return t;
            }
        }
        return new TextAssembler(stops);
    }

    /** Takes back a finished generation's chain; once the session is closed it is freed instead. */
    void giveBackChain(Sampler sampler, Sampler.NativeChain chain) {
        Sampler.NativeChain drop;
        synchronized (idleLock) {
            if (closed) {
                drop = chain;
            } else {
                drop = idleChain;
                idleChain = chain;
                idleSampler = sampler;
            }
        }
        if (drop != null) drop.close();
    }

    /** Takes back a finished generation's text assembler. */
    void giveBackText(TextAssembler text) {
        synchronized (idleLock) {
            if (!closed) idleText = text;
        }
    }

    MemorySegment handle() {
        return handle;
    }

    void enterInternal() {
        enter();
    }

    void exitInternal() {
        exit();
    }

    // ------------------------------------------------------------------ positions and sequences

    /** Tokens in sequence 0 (its next position). */
    public int position() {
        return position(0);
    }

    public int position(int sequence) {
        enter();
        try {
            return Native.check(fflama_h.ffl_session_n_past(handle, sequence));
        } finally {
            exit();
        }
    }

    /** Forgets sequence 0 from position pos on, so evaluation continues from there. */
    public void rewind(int pos) {
        removeTokens(0, pos, -1);
    }

    /** Removes the positions [from, to) of a sequence (to &lt; 0: to the end; sequence &lt; 0: all sequences). */
    public void removeTokens(int sequence, int from, int to) {
        enter();
        try {
            Native.check(fflama_h.ffl_session_seq_rm(handle, sequence, from, to));
        } finally {
            exit();
        }
    }

    /** Makes dst share src's cached positions [from, to) (no copy of the cache data). */
    public void copySequence(int src, int dst, int from, int to) {
        enter();
        try {
            Native.check(fflama_h.ffl_session_seq_cp(handle, src, dst, from, to));
        } finally {
            exit();
        }
    }

    /** Removes every sequence but one. */
    public void keepSequence(int sequence) {
        enter();
        try {
            Native.check(fflama_h.ffl_session_seq_keep(handle, sequence));
        } finally {
            exit();
        }
    }

    /** Empties the KV cache. */
    public void clear() {
        enter();
        try {
            Native.check(fflama_h.ffl_session_clear(handle));
        } finally {
            exit();
        }
    }

    /** Cache cells in use. */
    public int cacheUsed() {
        enter();
        try {
            return fflama_h.ffl_session_kv_used(handle);
        } finally {
            exit();
        }
    }

    // ------------------------------------------------------------------ state

    /** The KV cache and last outputs as bytes (versioned and checksummed). */
    public byte[] saveState() {
        enter();
        try (Arena a = Arena.ofConfined()) {
            long size = fflama_h.ffl_session_state_size(handle);
            if (size > Integer.MAX_VALUE - 8) throw new FflamaException(FflamaException.Status.UNSUPPORTED,
                    "state of " + size + " bytes does not fit a byte[]; use saveState(Path)");
            MemorySegment buf = a.allocate(size);
            MemorySegment written = a.allocate(ValueLayout.JAVA_LONG);
            Native.check(fflama_h.ffl_session_state_save(handle, buf, size, written));
            return buf.asSlice(0, written.get(ValueLayout.JAVA_LONG, 0)).toArray(ValueLayout.JAVA_BYTE);
        } finally {
            exit();
        }
    }

    /** Restores a state from {@link #saveState()}; a corrupted blob throws and leaves the session unchanged. */
    public void loadState(byte[] state) {
        enter();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocateFrom(ValueLayout.JAVA_BYTE, state);
            Native.check(fflama_h.ffl_session_state_load(handle, buf, state.length));
        } finally {
            exit();
        }
    }

    public void saveState(Path file) {
        enter();
        try (Arena a = Arena.ofConfined()) {
            long size = fflama_h.ffl_session_state_size(handle);
            MemorySegment buf = a.allocate(size);
            MemorySegment written = a.allocate(ValueLayout.JAVA_LONG);
            Native.check(fflama_h.ffl_session_state_save(handle, buf, size, written));
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            try (var ch = java.nio.channels.FileChannel.open(tmp, java.nio.file.StandardOpenOption.CREATE,
                    java.nio.file.StandardOpenOption.TRUNCATE_EXISTING, java.nio.file.StandardOpenOption.WRITE)) {
                var bb = buf.asSlice(0, written.get(ValueLayout.JAVA_LONG, 0)).asByteBuffer();
                while (bb.hasRemaining()) ch.write(bb);
            }
            Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            exit();
        }
    }

    public void loadState(Path file) {
        enter();
        try (Arena a = Arena.ofConfined();
             var ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.READ)) {
            MemorySegment map = ch.map(java.nio.channels.FileChannel.MapMode.READ_ONLY, 0, ch.size(), a);
            Native.check(fflama_h.ffl_session_state_load(handle, map, map.byteSize()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            exit();
        }
    }

    // ------------------------------------------------------------------ lifecycle

    /**
     * Frees the session. From another thread it first asks a running evaluation to abort, then
     * waits for it. Idempotent.
     */
    @Override
    public void close() {
        if (closed) return;
        cancel();
        lock.lock();
        try {
            if (closed) return;
            closed = true;
            fflama_h.ffl_session_free(handle);
            arena.close();
            synchronized (idleLock) {
                if (idleChain != null) idleChain.close();
                idleChain = null;
                idleSampler = null;
                idleText = null;
            }
        } finally {
            lock.unlock();
            model.forget(this);
        }
    }

    public boolean isClosed() {
        return closed;
    }
}
