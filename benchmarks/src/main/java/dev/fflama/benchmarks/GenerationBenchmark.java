package dev.fflama.benchmarks;

import dev.fflama.Generation;
import dev.fflama.KvType;
import dev.fflama.Model;
import dev.fflama.Sampler;
import dev.fflama.Session;
import dev.fflama.SessionOptions;
import dev.fflama.Token;
import dev.fflama.TokenStream;
import dev.fflama.bindings.ffl_session_params;
import dev.fflama.bindings.fflama_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.runner.IterationType;

/**
 * Greedy generation speed through the Java API against the core's own loop, in tokens per second (one
 * JMH operation = one token). Every invocation starts from an empty cache, evaluates BOS and generates
 * {@link #TOKENS} tokens, so all variants do the same native work and differ only in what happens
 * around it:
 * <ul>
 *   <li>{@code coreLoop}: {@code ffl_generate}, the decode + sample loop run entirely in C (logprobs on,
 *       as the Java API computes them), on a native session with the same options: the yardstick;</li>
 *   <li>{@code generate}: {@code Session.generate} with the native greedy sampler, consuming the
 *       {@link TokenStream} as an iterator of {@link Token}s (text decoded, stop-string and UTF-8 handling);</li>
 *   <li>{@code generateAdvance}: the same generation read in place with {@link TokenStream#advance()}
 *       (id and text of each token, no object per token);</li>
 *   <li>{@code evaluateArgmax}: {@code Session.evaluate} with a Java argmax over the zero-copy logits view;</li>
 *   <li>{@code evaluateArgmaxCopy}: the same with {@code logitsArray()}, a float[] copy per token.</li>
 * </ul>
 * The Java overhead is {@code 1 - generate / coreLoop}. The machine's load drifts between benchmarks, so
 * {@code paired} measures both in the same invocation (alternating which runs first): its counters
 * {@code coreMs} and {@code javaMs} are the time each spent on the same tokens; it prints the speed
 * ratio java/core after each iteration, and at the end the median ratio over all measured pairs. With {@code -prof gc}, {@code gc.alloc.rate.norm}
 * is the Java garbage per token (a generation's fixed setup spread over its tokens included).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class GenerationBenchmark {
    static final int TOKENS = 256;

    /** Model file; empty: llama-dense-q4_k_m.gguf of the test data ($FFLAMA_TESTDATA or ../shared/testdata). */
    @Param("")
    public String model;

    @Param("2")
    public int threads;

    Model loaded;
    Session session;
    int bos;
    Generation greedy;

    // the core's own loop: a native session and greedy chain, nothing of the Java API
    Arena arena;
    MemorySegment nativeModel, nativeSession, nativeChain, bosToken, outTokens, outLogprobs;

    @Setup(Level.Trial)
    public void setup() {
        Path path = model.isEmpty() ? defaultModel() : Path.of(model);
        SessionOptions options = SessionOptions.builder().contextSize(TOKENS + 16).batchSize(16).threads(threads)
                .kvType(KvType.F16).build();
        loaded = Model.load(path);
        session = loaded.newSession(options);
        bos = (int) loaded.gguf().getLong("tokenizer.ggml.bos_token_id").orElse(1);
        greedy = Generation.maxTokens(TOKENS).sampler(Sampler.greedy()).stopAtEndToken(false);

        arena = Arena.ofShared();
        MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
        check(fflama_h.ffl_model_load(arena.allocateFrom(path.toString()), MemorySegment.NULL, out));
        nativeModel = out.get(ValueLayout.ADDRESS, 0);
        MemorySegment params = ffl_session_params.allocate(arena);
        fflama_h.ffl_session_default_params(params);
        ffl_session_params.n_ctx(params, options.contextSize());
        ffl_session_params.n_batch(params, options.batchSize());
        ffl_session_params.n_threads(params, options.threads());
        ffl_session_params.kv_type(params, options.kvType() == KvType.F16 ? fflama_h.FFL_TYPE_F16 : fflama_h.FFL_TYPE_F32);
        check(fflama_h.ffl_session_new(nativeModel, params, out));
        nativeSession = out.get(ValueLayout.ADDRESS, 0);
        check(fflama_h.ffl_sampler_chain_new(0, out));
        nativeChain = out.get(ValueLayout.ADDRESS, 0);
        check(fflama_h.ffl_sampler_chain_add_greedy(nativeChain));
        bosToken = arena.allocateFrom(ValueLayout.JAVA_INT, bos);
        outTokens = arena.allocate(ValueLayout.JAVA_INT, TOKENS);
        outLogprobs = arena.allocate(ValueLayout.JAVA_FLOAT, TOKENS);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        session.close();
        loaded.close();
        fflama_h.ffl_sampler_free(nativeChain);
        fflama_h.ffl_session_free(nativeSession);
        fflama_h.ffl_model_free(nativeModel);
        arena.close();
    }

    static void check(int status) {
        if (status < 0) throw new IllegalStateException("fflama status " + status + ": " + fflama_h.ffl_last_error().getString(0));
    }

    static Path defaultModel() {
        String env = System.getenv("FFLAMA_TESTDATA");
        Path root = env != null && !env.isBlank() ? Path.of(env) : Path.of("..", "shared", "testdata");
        Path p = root.resolve("models").resolve("llama-dense-q4_k_m.gguf");
        if (!Files.isRegularFile(p)) throw new IllegalStateException("no model at " + p.toAbsolutePath() + "; pass -p model=FILE");
        return p;
    }

    static int argmax(MemorySegment logits) {
        long n = logits.byteSize() / Float.BYTES;
        int best = 0;
        float max = Float.NEGATIVE_INFINITY;
        for (long i = 0; i < n; i++) {
            float v = logits.getAtIndex(ValueLayout.JAVA_FLOAT, i);
            if (v > max) {
                max = v;
                best = (int) i;
            }
        }
        return best;
    }

    static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }

    /**
     * Time of each side of {@code paired}: summed per iteration (the aux counters), and the speed ratio of
     * every pair of the measurement iterations, whose median the trial prints (robust to load spikes that
     * hit one side of a pair).
     */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Pair {
        public double coreMs;
        public double javaMs;
        boolean coreFirst;
        boolean measuring;
        double[] ratios = new double[1 << 16];
        int count;

        @Setup(Level.Iteration)
        public void reset(IterationParams iteration) {
            coreMs = 0;
            javaMs = 0;
            measuring = iteration.getType() == IterationType.MEASUREMENT;
        }

        void add(long coreNs, long javaNs) {
            coreMs += coreNs / 1e6;
            javaMs += javaNs / 1e6;
            if (measuring && count < ratios.length) ratios[count++] = (double) coreNs / javaNs;
        }

        @TearDown(Level.Iteration)
        public void report() {
            System.out.printf("  [paired: core %.1f ms, java %.1f ms, java/core speed %.4f]%n", coreMs, javaMs, coreMs / javaMs);
        }

        @TearDown(Level.Trial)
        public void summary() {
            if (count == 0) return;
            double[] r = ratios; // sorted in place: a copy would show in the last iteration's allocation
            Arrays.sort(r, 0, count);
            System.out.printf("%n  [paired: java/core speed over %d measured pairs: median %.4f, quartiles %.4f .. %.4f]%n",
                    count, r[count / 2], r[count / 4], r[(3 * count) / 4]);
        }
    }

    @Benchmark
    @OperationsPerInvocation(2 * TOKENS)
    public int paired(Pair pair) {
        pair.coreFirst = !pair.coreFirst;
        long t0 = System.nanoTime();
        int a = pair.coreFirst ? coreLoop() : generateAdvance();
        long t1 = System.nanoTime();
        int b = pair.coreFirst ? generateAdvance() : coreLoop();
        long t2 = System.nanoTime();
        pair.add(pair.coreFirst ? t1 - t0 : t2 - t1, pair.coreFirst ? t2 - t1 : t1 - t0);
        return a + b;
    }

    @Benchmark
    @OperationsPerInvocation(TOKENS)
    public int coreLoop() {
        check(fflama_h.ffl_session_clear(nativeSession));
        check(fflama_h.ffl_sampler_reset(nativeChain));
        int n = fflama_h.ffl_generate(nativeSession, nativeChain, bosToken, 1, outTokens, outLogprobs, TOKENS, 0);
        if (n != TOKENS) check(n < 0 ? n : -10);
        return outTokens.getAtIndex(ValueLayout.JAVA_INT, TOKENS - 1);
    }

    @Benchmark
    @OperationsPerInvocation(TOKENS)
    public int generate() {
        session.clear();
        int last = 0;
        try (TokenStream tokens = session.generate(new int[] {bos}, greedy)) {
            while (tokens.hasNext()) {
                Token t = tokens.next();
                last += t.id() + t.text().length();
            }
        }
        return last;
    }

    @Benchmark
    @OperationsPerInvocation(TOKENS)
    public int generateAdvance() {
        session.clear();
        int last = 0;
        try (TokenStream tokens = session.generate(new int[] {bos}, greedy)) {
            while (tokens.advance()) last += tokens.tokenId() + tokens.tokenText().length();
        }
        return last;
    }

    @Benchmark
    @OperationsPerInvocation(TOKENS)
    public int evaluateArgmax() {
        session.clear();
        int token = bos;
        for (int i = 0; i < TOKENS; i++) {
            session.evaluate(token);
            token = argmax(session.logits());
        }
        return token;
    }

    @Benchmark
    @OperationsPerInvocation(TOKENS)
    public int evaluateArgmaxCopy() {
        session.clear();
        int token = bos;
        for (int i = 0; i < TOKENS; i++) {
            session.evaluate(token);
            token = argmax(session.logitsArray());
        }
        return token;
    }
}
