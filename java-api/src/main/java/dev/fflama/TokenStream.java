package dev.fflama;

import dev.fflama.bindings.fflama_h;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.function.Consumer;
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
 *
 * <p><b>Without garbage:</b> {@link #next()} makes a {@link Token} (and its text) per token. Where that
 * matters, step with {@link #advance()} and read the current token in place with {@link #tokenId()},
 * {@link #tokenText()} and {@link #tokenLogprob()}: in the steady state a generation then allocates
 * nothing on the Java heap per token.
 * <pre>{@code
 * try (TokenStream tokens = session.generate(prompt, generation)) {
 *     while (tokens.advance()) out.append(tokens.tokenText());
 * }
 * }</pre>
 * Both styles can be mixed; {@link #hasNext()} looks ahead, so after it the accessors already describe
 * the token that {@link #advance()} or {@link #next()} will return.
 */
public final class TokenStream implements Iterator<Token>, AutoCloseable {
    private final Session session;
    private final Generation generation;
    private final int[] prompt;
    private final Sampler.NativeChain chain;
    private final MemorySegment vocab;
    private TextAssembler text;
    private final CharSequence currentText = new CurrentText();

    private boolean promptDone;
    private int pendingDecode = -1;
    private int generated;
    private boolean ready; // a token was computed and not yet consumed
    private int currentId = -1;
    private float currentLogprob = Float.NaN;
    private Token currentToken; // the current token as a Token, once one was made for it
    private FinishReason finish;
    private boolean closed; // the chain went back to the session
    private long promptNanos, generationNanos;
    // kept only for a finish callback (ChatSession), so plain generation records nothing per token
    private StringBuilder emitted;
    private int[] decoded;
    private int decodedCount;
    private Consumer<TokenStream> onFinish;

    TokenStream(Session session, int[] prompt, Generation generation) {
        this.session = session;
        this.generation = generation;
        this.prompt = prompt.clone();
        this.vocab = session.vocab();
        this.chain = session.borrowChain(generation.sampler());
        this.text = session.borrowText(generation.stopStrings());
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
        if (ready) return true;
        if (finish != null || closed) {
            returnText();
            return false;
        }
        ready = step();
        currentToken = null;
        if (ready) {
            if (emitted != null) emitted.append(text.released(), 0, text.releasedLength());
            Consumer<Token> callback = generation.onToken();
            if (callback != null) callback.accept(currentToken());
        }
        if (finish != null && onFinish != null) {
            var f = onFinish;
            onFinish = null;
            f.accept(this);
        }
        return ready;
    }

    @Override
    public Token next() {
        if (!hasNext()) throw new NoSuchElementException();
        ready = false;
        return currentToken();
    }

    /**
     * Moves to the next token without allocating; false when generation has ended. The token is then
     * read with {@link #tokenId()}, {@link #tokenText()} and {@link #tokenLogprob()}.
     */
    public boolean advance() {
        if (!hasNext()) return false;
        ready = false;
        return true;
    }

    /** Id of the current token: the last one {@link #advance()}, {@link #next()} or {@link #hasNext()} reached (-1 for the text released at the end). */
    public int tokenId() {
        return currentId;
    }

    /** Log-probability of the current token under the sampler's final distribution (NaN for the text released at the end). */
    public float tokenLogprob() {
        return currentLogprob;
    }

    /**
     * The text the current token releases (see {@link Token#text()}), as a view into a buffer that the
     * next {@link #advance()}, {@link #next()} or {@link #hasNext()} overwrites: append it somewhere, or
     * call {@code toString()} to keep it.
     */
    public CharSequence tokenText() {
        return currentText;
    }

    private Token currentToken() {
        if (currentToken == null) currentToken = new Token(currentId, currentText.toString(), currentLogprob);
        return currentToken;
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
            while (advance()) sb.append(text.released(), 0, text.releasedLength());
        }
        return sb.toString();
    }

    /** Ends generation; true when there is still held-back text to release as a last token (id -1). */
    private boolean end(FinishReason reason) {
        finish = reason;
        boolean rest = reason != FinishReason.CANCELLED && reason != FinishReason.STOP_STRING && text.finishChars() > 0;
        release();
        if (!rest) return false;
        currentId = -1;
        currentLogprob = Float.NaN;
        return true;
    }

    /** Computes the next token into the current-token fields; false when generation ended without one. */
    private boolean step() {
        long t0 = System.nanoTime();
        if (Thread.currentThread().isInterrupted()) return end(FinishReason.CANCELLED);
        session.enterInternal();
        try {
            if (!promptDone) {
                promptDone = true;
                if (prompt.length > 0) {
                    int st = session.decodeLocked(prompt, prompt.length);
                    promptNanos = System.nanoTime() - t0;
                    if (st != 0) return failed(st);
                    Native.check(session.acceptPromptLocked(chain, prompt.length));
                } else if (fflama_h.ffl_session_n_outputs(session.handle()) == 0) {
                    throw new IllegalStateException("nothing to continue from: give a prompt or evaluate tokens first");
                }
                t0 = System.nanoTime();
            }
            if (pendingDecode >= 0) {
                int token = pendingDecode;
                pendingDecode = -1;
                int st = session.decodeOneLocked(token);
                if (st != 0) {
                    generationNanos += System.nanoTime() - t0;
                    return failed(st);
                }
                if (decoded != null) {
                    if (decodedCount == decoded.length) decoded = Arrays.copyOf(decoded, decodedCount * 2);
                    decoded[decodedCount++] = token;
                }
            }
            if (generated >= generation.maxTokens()) return end(FinishReason.LENGTH);
            session.sampleLocked(chain);
            int token = session.sampledToken();
            float logprob = session.sampledLogprob();
            Native.check(fflama_h.ffl_sampler_accept(chain.handle, token));
            if (generation.stopAtEndToken() && fflama_h.ffl_vocab_is_eog(vocab, token) > 0) {
                generationNanos += System.nanoTime() - t0;
                return end(FinishReason.END_TOKEN);
            }
            generated++;
            boolean last = generated >= generation.maxTokens();
            int n = session.pieceLocked(vocab, token);
            text.pushChars(session.pieceBytes(), n, last);
            generationNanos += System.nanoTime() - t0;
            currentId = token;
            currentLogprob = logprob;
            if (text.stopped() || last) {
                finish = text.stopped() ? FinishReason.STOP_STRING : FinishReason.LENGTH;
                release();
            } else {
                pendingDecode = token;
            }
            return true;
        } finally {
            session.exitInternal();
        }
    }

    private boolean failed(int status) {
        if (status == FflamaException.Status.CONTEXT_FULL) return end(FinishReason.CONTEXT_FULL);
        if (status == FflamaException.Status.ABORTED) return end(FinishReason.CANCELLED);
        FflamaException e = Native.error(status);
        finish = FinishReason.CANCELLED;
        release();
        throw e;
    }

    /** Gives the sampler chain back to the session (the text assembler follows once the last token is consumed). */
    private void release() {
        if (closed) return;
        closed = true;
        session.giveBackChain(generation.sampler(), chain);
    }

    private void returnText() {
        if (text == null) return;
        session.giveBackText(text);
        text = EMPTY;
    }

    /** Stands in for the assembler once given back, so a stale view reads as empty. */
    private static final TextAssembler EMPTY = new TextAssembler(java.util.List.of());

    /** Stops generation; later {@link #hasNext()} returns false. Idempotent. */
    @Override
    public void close() {
        if (finish == null) finish = FinishReason.CANCELLED;
        ready = false;
        release();
        returnText();
        if (onFinish != null) {
            var f = onFinish;
            onFinish = null;
            f.accept(this);
        }
    }

    /** The text emitted so far (recorded once {@link #onFinish} is set). */
    String emittedText() {
        return emitted == null ? "" : emitted.toString();
    }

    /** Generated tokens that were evaluated into the cache (the last sampled one may not be; recorded once {@link #onFinish} is set). */
    int[] decodedTokens() {
        return decoded == null ? new int[0] : Arrays.copyOf(decoded, decodedCount);
    }

    /** Whether the prompt made it into the cache. */
    boolean promptEvaluated() {
        return promptDone && promptNanos > 0;
    }

    /** Calls back once generation has ended; from then on the stream records its text and decoded tokens for it. */
    void onFinish(Consumer<TokenStream> callback) {
        this.onFinish = callback;
        if (emitted == null) {
            emitted = new StringBuilder();
            decoded = new int[64];
        }
    }

    /** A live view of the current token's text in the assembler's buffer. */
    private final class CurrentText implements CharSequence {
        @Override
        public int length() {
            return text.releasedLength();
        }

        @Override
        public char charAt(int index) {
            Objects.checkIndex(index, text.releasedLength());
            return text.released()[index];
        }

        @Override
        public CharSequence subSequence(int start, int end) {
            Objects.checkFromToIndex(start, end, text.releasedLength());
            return new String(text.released(), start, end - start);
        }

        @Override
        public String toString() {
            int n = text.releasedLength();
            return n == 0 ? "" : new String(text.released(), 0, n);
        }
    }
}
