package dev.fflama;

import dev.fflama.bindings.fflama_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * The tokens of one generation, produced lazily as they are consumed: an {@link Iterator}, a
 * {@link Stream} ({@link #stream()}) or one blocking string ({@link #text()}).
 *
 * <p>Each step evaluates the previous token, samples the next one natively and releases its text.
 * Interrupting the consuming thread, or closing the stream, ends generation promptly (between
 * tokens, and between layers while the prompt is evaluated) with {@link FinishReason#CANCELLED}.
 * Text held back at the end (a possible stop-string prefix, an unfinished character) is released by
 * a last token with id -1. Consume it from one thread at a time, like its {@link Session}.
 */
public final class TokenStream implements Iterator<Token>, AutoCloseable {
    private final Session session;
    private final Generation generation;
    private final int[] prompt;
    private final Sampler.NativeChain chain;
    private final TextAssembler text;
    private final MemorySegment vocab;
    private final int vocabSize;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment outToken = arena.allocate(ValueLayout.JAVA_INT);
    private final MemorySegment outLogprob = arena.allocate(ValueLayout.JAVA_FLOAT);
    private MemorySegment pieceBuffer = arena.allocate(64);
    private byte[] pieceBytes = new byte[64];
    private final int[] one = new int[1];

    private boolean promptDone;
    private int pendingDecode = -1;
    private int generated;
    private Token next;
    private FinishReason finish;
    private boolean closed;
    private long promptNanos, generationNanos;
    private final StringBuilder emitted = new StringBuilder();
    private int[] decoded = new int[64];
    private int decodedCount;
    private java.util.function.Consumer<TokenStream> onFinish;

    TokenStream(Session session, int[] prompt, Generation generation) {
        this.session = session;
        this.generation = generation;
        this.prompt = prompt.clone();
        this.vocab = session.vocab();
        this.vocabSize = session.model().vocabSize();
        this.text = new TextAssembler(generation.stopStrings());
        Sampler.NativeChain c = null;
        try {
            c = generation.sampler().newChain(vocab, session.contextSize());
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
        this.chain = c;
    }

    /** Why generation ended, or null while it is running. */
    public FinishReason finishReason() {
        return finish;
    }

    public int promptTokenCount() {
        return prompt.length;
    }

    public int generatedTokenCount() {
        return generated;
    }

    /** Prompt evaluation speed in tokens per second (0 before it ran). */
    public double promptTokensPerSecond() {
        return promptNanos == 0 ? 0 : prompt.length * 1e9 / promptNanos;
    }

    /** Generation speed in tokens per second, sampling included. */
    public double generationTokensPerSecond() {
        return generationNanos == 0 ? 0 : generated * 1e9 / generationNanos;
    }

    @Override
    public boolean hasNext() {
        if (next != null) return true;
        if (finish != null || closed) return false;
        next = step();
        if (next != null) emitted.append(next.text());
        if (next != null && generation.onToken() != null) generation.onToken().accept(next);
        if (finish != null && onFinish != null) {
            var f = onFinish;
            onFinish = null;
            f.accept(this);
        }
        return next != null;
    }

    @Override
    public Token next() {
        if (!hasNext()) throw new NoSuchElementException();
        Token t = next;
        next = null;
        return t;
    }

    /** The remaining tokens as a sequential stream; closing the stream closes this. */
    public Stream<Token> stream() {
        return StreamSupport.stream(Spliterators.spliteratorUnknownSize(this, Spliterator.ORDERED | Spliterator.NONNULL), false)
                .onClose(this::close);
    }

    /** Generates to the end and returns the whole text (stop strings and end tokens excluded). */
    public String text() {
        StringBuilder sb = new StringBuilder();
        try (this) {
            while (hasNext()) sb.append(next().text());
        }
        return sb.toString();
    }

    private Token end(FinishReason reason) {
        finish = reason;
        String rest = reason == FinishReason.CANCELLED || reason == FinishReason.STOP_STRING ? "" : text.finish();
        release();
        return rest.isEmpty() ? null : new Token(-1, rest, Float.NaN);
    }

    private Token step() {
        long t0 = System.nanoTime();
        if (Thread.currentThread().isInterrupted()) return end(FinishReason.CANCELLED);
        if (!promptDone) {
            promptDone = true;
            if (prompt.length > 0) {
                int st = session.tryEvaluate(prompt, prompt.length);
                promptNanos = System.nanoTime() - t0;
                if (st != 0) return failed(st);
                Native.check(feedPromptToPenalties());
            } else if (session.outputCount() == 0) {
                throw new IllegalStateException("nothing to continue from: give a prompt or evaluate tokens first");
            }
            t0 = System.nanoTime();
        }
        if (pendingDecode >= 0) {
            one[0] = pendingDecode;
            pendingDecode = -1;
            int st = session.tryEvaluate(one, 1);
            if (st != 0) {
                generationNanos += System.nanoTime() - t0;
                return failed(st);
            }
            if (decodedCount == decoded.length) decoded = java.util.Arrays.copyOf(decoded, decodedCount * 2);
            decoded[decodedCount++] = one[0];
        }
        if (generated >= generation.maxTokens()) return end(FinishReason.LENGTH);
        Native.check(fflama_h.ffl_sampler_sample(chain.handle, session.lastLogitsAddress(), vocabSize, outToken, outLogprob));
        int token = outToken.get(ValueLayout.JAVA_INT, 0);
        float logprob = outLogprob.get(ValueLayout.JAVA_FLOAT, 0);
        Native.check(fflama_h.ffl_sampler_accept(chain.handle, token));
        if (generation.stopAtEndToken() && fflama_h.ffl_vocab_is_eog(vocab, token) > 0) {
            generationNanos += System.nanoTime() - t0;
            return end(FinishReason.END_TOKEN);
        }
        generated++;
        int n = piece(token);
        String released = text.push(pieceBytes, n);
        generationNanos += System.nanoTime() - t0;
        if (text.stopped()) {
            finish = FinishReason.STOP_STRING;
            release();
            return new Token(token, released, logprob);
        }
        if (generated >= generation.maxTokens()) {
            finish = FinishReason.LENGTH;
            released += text.finish();
            release();
            return new Token(token, released, logprob);
        }
        pendingDecode = token;
        return new Token(token, released, logprob);
    }

    private int feedPromptToPenalties() {
        MemorySegment toks = arena.allocate(ValueLayout.JAVA_INT, Math.max(1, prompt.length));
        MemorySegment.copy(prompt, 0, toks, ValueLayout.JAVA_INT, 0, prompt.length);
        return fflama_h.ffl_sampler_accept_prompt(chain.handle, toks, prompt.length);
    }

    private Token failed(int status) {
        if (status == FflamaException.Status.CONTEXT_FULL) return end(FinishReason.CONTEXT_FULL);
        if (status == FflamaException.Status.ABORTED) return end(FinishReason.CANCELLED);
        FflamaException e = Native.error(status);
        finish = FinishReason.CANCELLED;
        release();
        throw e;
    }

    /** The token's bytes into pieceBytes; returns their count. */
    private int piece(int token) {
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

    private void release() {
        if (closed) return;
        closed = true;
        chain.close();
        arena.close();
    }

    /** Stops generation; later {@link #hasNext()} returns false. Idempotent. */
    @Override
    public void close() {
        if (finish == null) finish = FinishReason.CANCELLED;
        next = null;
        release();
        if (onFinish != null) {
            var f = onFinish;
            onFinish = null;
            f.accept(this);
        }
    }

    /** The text emitted so far. */
    String emittedText() {
        return emitted.toString();
    }

    /** Generated tokens that were evaluated into the cache (the last sampled one may not be). */
    int[] decodedTokens() {
        return java.util.Arrays.copyOf(decoded, decodedCount);
    }

    /** Whether the prompt made it into the cache. */
    boolean promptEvaluated() {
        return promptDone && promptNanos > 0;
    }

    void onFinish(java.util.function.Consumer<TokenStream> callback) {
        this.onFinish = callback;
    }
}
