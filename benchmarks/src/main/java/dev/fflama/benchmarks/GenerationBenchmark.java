package dev.fflama.benchmarks;

import dev.fflama.Generation;
import dev.fflama.Model;
import dev.fflama.Sampler;
import dev.fflama.Session;
import dev.fflama.Token;
import dev.fflama.TokenStream;
import dev.fflama.SessionOptions;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
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

/**
 * Greedy generation speed through the Java API, in tokens per second (one JMH operation = one token).
 * Every invocation starts from an empty cache, evaluates BOS and generates {@link #TOKENS} tokens, so
 * all variants do the same native work and differ only in what the Java side does around it:
 * <ul>
 *   <li>{@code evaluateArgmax}: the tight loop, argmax read straight from the zero-copy logits view;</li>
 *   <li>{@code evaluateArgmaxCopy}: the same with {@code logitsArray()}, a float[] copy per token;</li>
 *   <li>{@code generate}: {@code Session.generate} with the native greedy sampler, consuming the
 *       {@link TokenStream} (each token also decoded to text, stop-string and UTF-8 handling).</li>
 * </ul>
 * With {@code -prof gc}, {@code gc.alloc.rate.norm} is the Java garbage per token.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class GenerationBenchmark {
    static final int TOKENS = 64;

    /** Model file; empty: llama-dense-q4_k_m.gguf of the test data ($FFLAMA_TESTDATA or ../shared/testdata). */
    @Param("")
    public String model;

    @Param("2")
    public int threads;

    Model loaded;
    Session session;
    int bos;
    Generation greedy;

    @Setup(Level.Trial)
    public void setup() {
        Path path = model.isEmpty() ? defaultModel() : Path.of(model);
        loaded = Model.load(path);
        session = loaded.newSession(SessionOptions.builder().contextSize(TOKENS + 16).batchSize(16).threads(threads).build());
        bos = (int) loaded.gguf().getLong("tokenizer.ggml.bos_token_id").orElse(1);
        greedy = Generation.maxTokens(TOKENS).sampler(Sampler.greedy()).stopAtEndToken(false);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        session.close();
        loaded.close();
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

    @Benchmark
    @OperationsPerInvocation(TOKENS)
    public int generate() {
        session.clear();
        int last = 0;
        try (TokenStream tokens = session.generate(new int[] {bos}, greedy)) {
            while (tokens.hasNext()) {
                Token t = tokens.next();
                last += t.id();
            }
        }
        return last;
    }
}
