package dev.fflama;

import dev.fflama.bindings.fflama_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Function;

/**
 * A model's tokenizer: text to token ids and back, special tokens and token pieces. The native core
 * does the work (SentencePiece BPE, byte-level BPE with the model's pre-tokenizer, WordPiece), giving
 * the same ids as llama.cpp.
 *
 * <p>Get one from a model with {@link #of(Model)} (valid while the model is open; closing it is a
 * no-op) or load one from any GGUF file with {@link #load(Path)}, which reads only the vocabulary and
 * must be closed. A tokenizer is immutable and thread-safe; after it (or its model) is closed every
 * method throws {@link IllegalStateException}. Native failures throw {@link FflamaException}.
 */
public final class Tokenizer implements AutoCloseable {
    /** Tokenizer families ({@code tokenizer.ggml.model}). */
    public enum Type {
        /** No vocabulary in the file. */
        NONE,
        /** SentencePiece BPE ("llama"): byte fallback, spaces as U+2581. */
        SPM,
        /** Byte-level BPE ("gpt2") with a regex pre-tokenizer. */
        BPE,
        /** WordPiece ("bert"). */
        WPM
    }

    /** Special tokens a vocabulary may define. */
    public enum Special {
        BOS, EOS, EOT, EOM, UNK, SEP, PAD, MASK, CLS, NEWLINE, FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE, FIM_PAD, FIM_REPO,
        FIM_SEPARATOR
    }

    /** How {@link #decode(int[], DecodeOption...)} turns ids into text. */
    public enum DecodeOption {
        /** Show control tokens such as {@code <s>} (hidden by default). */
        RENDER_SPECIAL(fflama_h.FFL_DETOKENIZE_RENDER_SPECIAL),
        /** Drop a leading BOS and trailing EOS the vocabulary adds by itself. */
        REMOVE_SPECIAL(fflama_h.FFL_DETOKENIZE_REMOVE_SPECIAL),
        /** Keep the space SentencePiece puts in front of the text (removed by default). */
        KEEP_LEADING_SPACE(0),
        /** Apply clean_up_tokenization_spaces (" ," to ",", " 's" to "'s"...) where the vocabulary asks for it. */
        CLEAN_SPACES(fflama_h.FFL_DETOKENIZE_CLEAN_SPACES);

        final int flag;

        DecodeOption(int flag) {
            this.flag = flag;
        }
    }

    private final MemorySegment vocab;
    private final Model model; // null when loaded standalone
    private final Path path;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private boolean closed;

    private Tokenizer(MemorySegment vocab, Model model, Path path) {
        this.vocab = vocab;
        this.model = model;
        this.path = path;
    }

    /** Loads only the vocabulary of a GGUF file (vocab-only or full model; tensor data is never read). */
    public static Tokenizer load(Path path) {
        Native.ensureLoaded();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            Native.check(fflama_h.ffl_vocab_load(Native.cString(a, path.toString()), out));
            return new Tokenizer(out.get(ValueLayout.ADDRESS, 0), null, path);
        }
    }

    /** The tokenizer of a loaded model; it lives as long as the model ({@link #close()} does nothing). */
    public static Tokenizer of(Model model) {
        Objects.requireNonNull(model, "model");
        MemorySegment v = model.withHandle(() -> fflama_h.ffl_model_vocab(model.handle()));
        if (v.equals(MemorySegment.NULL)) throw Native.error(fflama_h.ffl_last_status());
        return new Tokenizer(v, model, model.path());
    }

    /** Runs f on the native vocabulary with it guaranteed alive for the duration. */
    private <T> T call(Function<MemorySegment, T> f) {
        if (model != null) return model.withHandle(() -> f.apply(vocab));
        lock.readLock().lock();
        try {
            if (closed) throw new IllegalStateException("tokenizer " + path + " is closed");
            return f.apply(vocab);
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Frees a standalone tokenizer; a model's tokenizer is freed with its model. Idempotent. */
    @Override
    public void close() {
        if (model != null) return;
        lock.writeLock().lock();
        try {
            if (closed) return;
            closed = true;
            fflama_h.ffl_vocab_free(vocab);
        } finally {
            lock.writeLock().unlock();
        }
    }

    // ------------------------------------------------------------------ vocabulary facts

    /** Number of tokens in the vocabulary. */
    public int vocabularySize() {
        return call(v -> Native.check(fflama_h.ffl_vocab_n_tokens(v)));
    }

    public Type type() {
        return call(v -> Type.values()[Native.check(fflama_h.ffl_vocab_get_type(v))]);
    }

    /** {@code tokenizer.ggml.model}, e.g. "llama", "gpt2", "bert". */
    public String modelName() {
        return call(v -> Native.string(fflama_h.ffl_vocab_model_name(v)));
    }

    /** {@code tokenizer.ggml.pre}, e.g. "llama-bpe", "qwen2"; "default" when the file has none. */
    public String preTokenizer() {
        return call(v -> Native.string(fflama_h.ffl_vocab_pre_name(v)));
    }

    /** True when {@code encode(text, true, ...)} puts BOS in front. */
    public boolean addsBos() {
        return (flags() & fflama_h.FFL_VOCAB_FLAG_ADD_BOS) != 0;
    }

    /** True when {@code encode(text, true, ...)} appends EOS. */
    public boolean addsEos() {
        return (flags() & fflama_h.FFL_VOCAB_FLAG_ADD_EOS) != 0;
    }

    private int flags() {
        return call(v -> Native.check(fflama_h.ffl_vocab_flags(v)));
    }

    /** The id of a special token, if the vocabulary has one. */
    public OptionalInt special(Special kind) {
        int id = call(v -> fflama_h.ffl_vocab_special_token(v, kind.ordinal()));
        return id < 0 ? OptionalInt.empty() : OptionalInt.of(id);
    }

    public OptionalInt bos() {
        return special(Special.BOS);
    }

    public OptionalInt eos() {
        return special(Special.EOS);
    }

    /** True for tokens that end generation (EOS, EOT, EOM and the other end tokens llama.cpp knows). */
    public boolean isEndOfGeneration(int token) {
        return call(v -> Native.check(fflama_h.ffl_vocab_is_eog(v, token)) == 1);
    }

    /** True for control tokens (such as {@code <s>}, {@code <|im_end|>}), which decode to nothing unless rendered. */
    public boolean isControl(int token) {
        return (call(v -> Native.check(fflama_h.ffl_vocab_token_attr(v, token))) & fflama_h.FFL_TOKEN_ATTR_CONTROL) != 0;
    }

    /** GGUF token type: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte. */
    public int tokenType(int token) {
        return call(v -> Native.check(fflama_h.ffl_vocab_token_type(v, token)));
    }

    public float score(int token) {
        return call(v -> {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate(ValueLayout.JAVA_FLOAT);
                Native.check(fflama_h.ffl_vocab_token_score(v, token, out));
                return out.get(ValueLayout.JAVA_FLOAT, 0);
            }
        });
    }

    /** The token's text as stored in the vocabulary (e.g. "▁Hello" or "Ġworld"). */
    public String tokenText(int token) {
        return call(v -> {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment ptr = a.allocate(ValueLayout.ADDRESS);
                MemorySegment len = a.allocate(ValueLayout.JAVA_LONG);
                Native.check(fflama_h.ffl_vocab_token_text(v, token, ptr, len));
                return Native.string(ptr.get(ValueLayout.ADDRESS, 0), len.get(ValueLayout.JAVA_LONG, 0));
            }
        });
    }

    /** The id of the token whose vocabulary text is exactly {@code tokenText}. */
    public OptionalInt find(String tokenText) {
        byte[] b = tokenText.getBytes(StandardCharsets.UTF_8);
        int id = call(v -> {
            try (Arena a = Arena.ofConfined()) {
                return fflama_h.ffl_vocab_find_token(v, bytes(a, b), b.length);
            }
        });
        return id < 0 ? OptionalInt.empty() : OptionalInt.of(id);
    }

    // ------------------------------------------------------------------ encoding

    /** Token ids of a text, with BOS/EOS as the vocabulary asks and special-token text kept as text. */
    public int[] encode(String text) {
        return encode(text, true, false);
    }

    /**
     * Token ids of a text.
     *
     * @param addSpecial   add BOS/EOS (BERT: CLS/SEP) as the vocabulary asks
     * @param parseSpecial turn the text of control tokens (e.g. {@code <|im_start|>}) into those tokens
     */
    public int[] encode(String text, boolean addSpecial, boolean parseSpecial) {
        return encode(text.getBytes(StandardCharsets.UTF_8), addSpecial, parseSpecial);
    }

    /** Token ids of UTF-8 bytes (any bytes are accepted; invalid UTF-8 is handled as the core documents). */
    public int[] encode(byte[] utf8, boolean addSpecial, boolean parseSpecial) {
        int flags = flags(addSpecial, parseSpecial);
        return call(v -> {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment text = bytes(a, utf8);
                int capacity = utf8.length + 8;
                MemorySegment out = a.allocate(ValueLayout.JAVA_INT, capacity);
                int n = Native.check(fflama_h.ffl_tokenize(v, text, utf8.length, out, capacity, flags));
                if (n > capacity) { // rare: invalid UTF-8 can give more tokens than bytes
                    out = a.allocate(ValueLayout.JAVA_INT, n);
                    Native.check(fflama_h.ffl_tokenize(v, text, utf8.length, out, n, flags));
                }
                return out.asSlice(0, (long) n * Integer.BYTES).toArray(ValueLayout.JAVA_INT);
            }
        });
    }

    /**
     * Encodes straight into native memory (e.g. a batch's token buffer). Returns the number of tokens
     * the text encodes to; only the first {@code out.byteSize() / 4} are written, so a result larger
     * than that tells the size to allocate.
     */
    public int encode(String text, boolean addSpecial, boolean parseSpecial, MemorySegment out) {
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        int flags = flags(addSpecial, parseSpecial);
        long capacity = Math.min(out.byteSize() / Integer.BYTES, Integer.MAX_VALUE);
        return call(v -> {
            try (Arena a = Arena.ofConfined()) {
                if (out.isNative()) {
                    return Native.check(fflama_h.ffl_tokenize(v, bytes(a, utf8), utf8.length, out, (int) capacity, flags));
                }
                MemorySegment tmp = a.allocate(ValueLayout.JAVA_INT, Math.max(1, capacity));
                int n = Native.check(fflama_h.ffl_tokenize(v, bytes(a, utf8), utf8.length, tmp, (int) capacity, flags));
                MemorySegment.copy(tmp, 0, out, 0, Math.min(n, capacity) * Integer.BYTES);
                return n;
            }
        });
    }

    private static int flags(boolean addSpecial, boolean parseSpecial) {
        return (addSpecial ? fflama_h.FFL_TOKENIZE_ADD_SPECIAL : 0) | (parseSpecial ? fflama_h.FFL_TOKENIZE_PARSE_SPECIAL : 0);
    }

    // ------------------------------------------------------------------ decoding

    /**
     * Text of a token sequence: control tokens hidden, the SentencePiece leading space removed, so
     * {@code decode(encode(s))} gives {@code s} back for the lossless tokenizers. Invalid UTF-8 (a
     * sequence cut in the middle of a character) becomes U+FFFD.
     */
    public String decode(int[] tokens, DecodeOption... options) {
        byte[] b = decodeBytes(tokens, options);
        return Utf8.decode(b, 0, b.length);
    }

    /** The bytes of a token sequence, exactly (they may end inside a UTF-8 character). */
    public byte[] decodeBytes(int[] tokens, DecodeOption... options) {
        int flags = fflama_h.FFL_DETOKENIZE_REMOVE_LEADING_SPACE;
        for (DecodeOption o : options) {
            if (o == DecodeOption.KEEP_LEADING_SPACE) flags &= ~fflama_h.FFL_DETOKENIZE_REMOVE_LEADING_SPACE;
            else flags |= o.flag;
        }
        int f = flags;
        return call(v -> {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment ids = a.allocate(ValueLayout.JAVA_INT, Math.max(1, tokens.length));
                MemorySegment.copy(tokens, 0, ids, ValueLayout.JAVA_INT, 0, tokens.length);
                int capacity = (int) Math.min(Integer.MAX_VALUE, 16L + tokens.length * 8L);
                MemorySegment buf = a.allocate(capacity);
                int n = Native.check(fflama_h.ffl_detokenize(v, ids, tokens.length, buf, capacity, f));
                if (n > capacity) {
                    buf = a.allocate(n);
                    Native.check(fflama_h.ffl_detokenize(v, ids, tokens.length, buf, n, f));
                }
                return buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
            }
        });
    }

    /** The bytes one token stands for, control tokens included (e.g. "<s>"). */
    public byte[] pieceBytes(int token) {
        return pieceBytes(token, true);
    }

    /** The bytes one token stands for; control tokens give nothing unless {@code renderSpecial}. */
    public byte[] pieceBytes(int token, boolean renderSpecial) {
        int flags = renderSpecial ? fflama_h.FFL_DETOKENIZE_RENDER_SPECIAL : 0;
        return call(v -> {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment buf = a.allocate(64);
                int n = Native.check(fflama_h.ffl_vocab_token_piece(v, token, buf, 64, flags));
                if (n > 64) {
                    buf = a.allocate(n);
                    Native.check(fflama_h.ffl_vocab_token_piece(v, token, buf, n, flags));
                }
                return buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
            }
        });
    }

    /** One token's piece as text (a partial UTF-8 character shows as U+FFFD; use a {@link StreamDecoder} for streams). */
    public String piece(int token) {
        byte[] b = pieceBytes(token);
        return Utf8.decode(b, 0, b.length);
    }

    /** A decoder for a stream of tokens that never splits a character; see {@link StreamDecoder}. */
    public StreamDecoder newStreamDecoder() {
        return new StreamDecoder(this);
    }

    /**
     * Turns tokens, one at a time, into text that never contains a broken character: bytes of an
     * incomplete UTF-8 sequence are held until the next token completes them. Not thread-safe; close
     * it to free its native buffer.
     */
    public static final class StreamDecoder implements AutoCloseable {
        private final Tokenizer tokenizer;
        private final Arena arena = Arena.ofConfined();
        private final MemorySegment stream;
        private final MemorySegment outPtr;
        private final MemorySegment outLen;
        private boolean closed;

        private StreamDecoder(Tokenizer tokenizer) {
            this.tokenizer = tokenizer;
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            try {
                Native.check(fflama_h.ffl_utf8_stream_new(out));
            } catch (RuntimeException e) {
                arena.close();
                throw e;
            }
            this.stream = out.get(ValueLayout.ADDRESS, 0);
            this.outPtr = arena.allocate(ValueLayout.ADDRESS);
            this.outLen = arena.allocate(ValueLayout.JAVA_LONG);
        }

        /** Text that token completes ("" when it only started a character); control tokens give "". */
        public String push(int token) {
            ensureOpen();
            return tokenizer.call(v -> {
                Native.check(fflama_h.ffl_utf8_stream_push_token(stream, v, token, 0, outPtr, outLen));
                return result();
            });
        }

        /** Text the bytes complete, for pieces that do not come from this tokenizer. */
        public String pushBytes(byte[] bytes) {
            ensureOpen();
            MemorySegment b = arena.allocate(Math.max(1, bytes.length));
            MemorySegment.copy(bytes, 0, b, ValueLayout.JAVA_BYTE, 0, bytes.length);
            Native.check(fflama_h.ffl_utf8_stream_push(stream, b, bytes.length, outPtr, outLen));
            return result();
        }

        /** Ends the stream: held bytes come out as U+FFFD. The decoder can be used again afterwards. */
        public String flush() {
            ensureOpen();
            Native.check(fflama_h.ffl_utf8_stream_flush(stream, outPtr, outLen));
            return result();
        }

        /** Bytes held back, waiting for the rest of a character. */
        public int pending() {
            ensureOpen();
            return Native.check(fflama_h.ffl_utf8_stream_pending(stream));
        }

        private String result() {
            long n = outLen.get(ValueLayout.JAVA_LONG, 0);
            if (n == 0) return "";
            return new String(outPtr.get(ValueLayout.ADDRESS, 0).reinterpret(n).toArray(ValueLayout.JAVA_BYTE),
                    StandardCharsets.UTF_8);
        }

        private void ensureOpen() {
            if (closed) throw new IllegalStateException("stream decoder is closed");
        }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            fflama_h.ffl_utf8_stream_free(stream);
            arena.close();
        }
    }

    private static MemorySegment bytes(Arena a, byte[] b) {
        MemorySegment s = a.allocate(Math.max(1, b.length));
        MemorySegment.copy(b, 0, s, ValueLayout.JAVA_BYTE, 0, b.length);
        return s;
    }

    @Override
    public String toString() {
        return "Tokenizer[" + path + "]";
    }
}
