package dev.fflama.cli;

import dev.fflama.Quantizer;
import dev.fflama.bindings.fflama_h;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;
import java.util.stream.LongStream;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code fflama synth --like tinyllama-1.1b --type Q4_0 OUT.gguf}: a model of a real model's shape with
 * seeded random weights and a real vocabulary, for benchmarks (throughput does not depend on weight values).
 *
 * <p>F32, F16 and BF16 are written directly. Quantized types go through an F16 intermediate and the
 * quantizer, so each tensor gets the type llama-quantize would give it (e.g. Q6_K for output.weight of
 * a Q4_0 file) and the result is comparable with llama.cpp's files; {@code --pure} instead writes every
 * matrix in the one type given, quantized row by row.
 */
@Command(name = "synth", mixinStandardHelpOptions = true,
        description = "Write a model of a real model's shape with seeded random weights and a real vocabulary.")
final class SynthCommand implements Callable<Integer> {
    /** Hyper-parameters of a llama-family model ("ff" is per expert for a mixture of experts). */
    record Shape(String name, int dim, int layers, int heads, int kvHeads, int ff, int ctx, float ropeBase, float rmsEps,
                 boolean tiedOutput, int experts, int expertsUsed, String note) {
        Shape withLayers(int n) {
            return new Shape(name, dim, n, heads, kvHeads, ff, ctx, ropeBase, rmsEps, tiedOutput, experts, expertsUsed, note);
        }

        int headDim() {
            return dim / heads;
        }
    }

    static final Map<String, Shape> SHAPES = shapes();

    private static Map<String, Shape> shapes() {
        Map<String, Shape> m = new LinkedHashMap<>();
        m.put("tinyllama-1.1b", new Shape("tinyllama-1.1b", 2048, 22, 32, 4, 5632, 2048, 10000f, 1e-5f, false, 0, 0,
                "TinyLlama-1.1B (llama 2 architecture, grouped-query attention)"));
        m.put("llama-3.2-1b", new Shape("llama-3.2-1b", 2048, 16, 32, 8, 8192, 131072, 500000f, 1e-5f, true, 0, 0,
                "Llama-3.2-1B layout with tied embeddings (no llama3 rope scaling; vocabulary from --vocab)"));
        m.put("moe-small", new Shape("moe-small", 1024, 8, 16, 4, 1024, 4096, 10000f, 1e-5f, false, 8, 2,
                "Mixtral-style mixture of experts: 8 experts, 2 used, FFN 1024 per expert"));
        m.put("tiny", new Shape("tiny", 256, 2, 8, 2, 512, 512, 10000f, 1e-5f, false, 0, 0,
                "a few-MB llama for tests"));
        m.put("tiny-moe", new Shape("tiny-moe", 256, 2, 8, 2, 256, 512, 10000f, 1e-5f, false, 4, 2,
                "a few-MB mixture of experts for tests"));
        return java.util.Collections.unmodifiableMap(m);
    }

    static final String DEFAULT_VOCAB = "vocab/ggml-vocab-llama-spm.gguf";

    @Option(names = "--like", required = true, paramLabel = "SHAPE",
            description = "model shape: tinyllama-1.1b, llama-3.2-1b, moe-small, tiny, tiny-moe")
    String like;

    @Option(names = "--type", defaultValue = "F16", paramLabel = "TYPE",
            description = "F32, F16, BF16, or a quantized type or mix (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K_M, ...); default ${DEFAULT-VALUE}")
    String type;

    @Option(names = "--vocab", paramLabel = "FILE.gguf",
            description = "GGUF whose tokenizer.* keys are copied (default: the test data's llama-spm vocabulary, 32000 tokens)")
    Path vocab;

    @Option(names = "--seed", defaultValue = "42", description = "random seed (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--layers", description = "override the layer count (smaller files for quick runs)")
    Integer layers;

    @Option(names = "--pure", description = "every matrix in TYPE, quantized row by row (no llama-quantize mix)")
    boolean pure;

    @Option(names = {"-t", "--threads"}, description = "threads (default: physical cores)")
    int threads;

    @Option(names = "--no-progress", description = "no progress bar")
    boolean noProgress;

    @Parameters(index = "0", paramLabel = "OUT.gguf")
    Path out;

    /** One tensor to generate: values uniform in center ± halfWidth. */
    record TensorSpec(String name, long[] ne, double center, double halfWidth, boolean matrix) {
        long elements() {
            long n = 1;
            for (long d : ne) n *= d;
            return n;
        }

        long rowLength() {
            return ne[0];
        }
    }

    @Override
    public Integer call() throws Exception {
        NativeCalls.load();
        Shape shape = SHAPES.get(like.toLowerCase(Locale.ROOT));
        if (shape == null) throw new IllegalArgumentException("unknown shape '" + like + "' (known: " + String.join(", ", SHAPES.keySet()) + ")");
        if (layers != null) {
            if (layers < 1 || layers > 512) throw new IllegalArgumentException("--layers must be in [1, 512]");
            shape = shape.withLayers(layers);
        }
        Path vocabFile = vocab != null ? vocab : defaultVocab();
        int nThreads = threads > 0 ? threads : Math.max(1, dev.fflama.Fflama.physicalCores());
        String upper = type.toUpperCase(Locale.ROOT);
        long start = System.nanoTime();
        int direct = directType(upper);
        if (direct >= 0) {
            generate(shape, vocabFile, direct, out, nThreads, "synth " + upper);
        } else {
            if (Quantizer.MODEL_TYPES.stream().noneMatch(t -> t.equalsIgnoreCase(upper)))
                throw new IllegalArgumentException("unknown type '" + type + "' (F32, F16, BF16, " + String.join(", ", Quantizer.MODEL_TYPES) + ")");
            Path tmp = out.resolveSibling(out.getFileName() + ".f16.tmp");
            try {
                generate(shape, vocabFile, fflama_h.FFL_TYPE_F16, tmp, nThreads, "synth F16");
                quantize(tmp, upper, nThreads);
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
        System.err.printf(Locale.ROOT, "wrote %s: %s-shaped, %s, %.2f GiB, %.1f s%n", out, shape.name(), upper,
                Files.size(out) / (double) (1L << 30), (System.nanoTime() - start) / 1e9);
        return 0;
    }

    /** The type written directly, or -1 when the type goes through the quantizer. */
    private int directType(String upper) {
        switch (upper) {
            case "F32": return fflama_h.FFL_TYPE_F32;
            case "F16": return fflama_h.FFL_TYPE_F16;
            case "BF16": return fflama_h.FFL_TYPE_BF16;
            default: break;
        }
        if (!pure) return -1;
        int t;
        try (Arena a = Arena.ofConfined()) {
            t = fflama_h.ffl_type_from_name(NativeCalls.cString(a, upper));
        }
        if (t < 0 || fflama_h.ffl_quantize_supported(t) == 0) throw new IllegalArgumentException("--pure needs a single quantizable type, not '" + type + "'");
        return t;
    }

    static Path defaultVocab() {
        List<Path> candidates = new ArrayList<>();
        String env = System.getenv("FFLAMA_TESTDATA");
        if (env != null && !env.isEmpty()) candidates.add(Path.of(env, DEFAULT_VOCAB));
        try {
            // classes or jar under <repo>/samples/target/, the test data at <repo>/../shared/testdata
            Path code = Path.of(SynthCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toAbsolutePath();
            Path repo = code.getParent() == null || code.getParent().getParent() == null ? null : code.getParent().getParent().getParent();
            if (repo != null) candidates.add(repo.resolveSibling("shared").resolve("testdata").resolve(DEFAULT_VOCAB).normalize());
        } catch (Exception ignored) {
            // no code source: fall through to the working directory
        }
        candidates.add(Path.of("..", "shared", "testdata", DEFAULT_VOCAB).toAbsolutePath().normalize());
        for (Path p : candidates) if (Files.isRegularFile(p)) return p;
        throw new IllegalArgumentException("no default vocabulary found (looked at " + candidates + "); pass --vocab FILE.gguf");
    }

    /** Tensors of the shape in llama.cpp's order; matrices scaled so a layer keeps its input's magnitude. */
    static List<TensorSpec> tensors(Shape s, long nVocab) {
        List<TensorSpec> t = new ArrayList<>();
        long kv = (long) s.kvHeads() * s.headDim();
        t.add(matrix("token_embd.weight", s.dim(), nVocab));
        for (int l = 0; l < s.layers(); l++) {
            String p = "blk." + l + ".";
            t.add(norm(p + "attn_norm.weight", s.dim()));
            t.add(matrix(p + "attn_q.weight", s.dim(), s.dim()));
            t.add(matrix(p + "attn_k.weight", s.dim(), kv));
            t.add(matrix(p + "attn_v.weight", s.dim(), kv));
            t.add(matrix(p + "attn_output.weight", s.dim(), s.dim()));
            t.add(norm(p + "ffn_norm.weight", s.dim()));
            if (s.experts() > 0) {
                // the router stays f32, as llama.cpp's converter and quantizer keep it
                t.add(new TensorSpec(p + "ffn_gate_inp.weight", new long[] {s.dim(), s.experts()}, 0, halfWidth(s.dim()), false));
                t.add(matrix(p + "ffn_gate_exps.weight", s.dim(), s.ff(), s.experts()));
                t.add(matrix(p + "ffn_down_exps.weight", s.ff(), s.dim(), s.experts()));
                t.add(matrix(p + "ffn_up_exps.weight", s.dim(), s.ff(), s.experts()));
            } else {
                t.add(matrix(p + "ffn_gate.weight", s.dim(), s.ff()));
                t.add(matrix(p + "ffn_down.weight", s.ff(), s.dim()));
                t.add(matrix(p + "ffn_up.weight", s.dim(), s.ff()));
            }
        }
        t.add(norm("output_norm.weight", s.dim()));
        if (!s.tiedOutput()) t.add(matrix("output.weight", s.dim(), nVocab));
        return t;
    }

    /** Uniform in ±sqrt(3/n_in): standard deviation 1/sqrt(n_in), so y = Wx keeps x's scale. */
    static double halfWidth(long nIn) {
        return Math.sqrt(3.0 / nIn);
    }

    private static TensorSpec matrix(String name, long... ne) {
        return new TensorSpec(name, ne, 0, halfWidth(ne[0]), true);
    }

    /** RMS norm weights near 1. */
    private static TensorSpec norm(String name, long n) {
        return new TensorSpec(name, new long[] {n}, 1.0, 0.05, false);
    }

    /** Writes the model with every matrix in matrixType (vectors and the router in F32). */
    private void generate(Shape shape, Path vocabFile, int matrixType, Path dest, int nThreads, String task)
            throws IOException, InterruptedException, ExecutionException {
        Path scratch = dest.resolveSibling(dest.getFileName() + ".data.tmp");
        MemorySegment writer = MemorySegment.NULL;
        MemorySegment vocabGguf = MemorySegment.NULL;
        try (Arena arena = Arena.ofShared()) {
            MemorySegment ptr = arena.allocate(ValueLayout.ADDRESS);
            NativeCalls.check(fflama_h.ffl_gguf_open(NativeCalls.cString(arena, vocabFile.toString()), 0, ptr));
            vocabGguf = ptr.get(ValueLayout.ADDRESS, 0);
            long tokensKey = fflama_h.ffl_gguf_find_key(vocabGguf, NativeCalls.cString(arena, "tokenizer.ggml.tokens"));
            if (tokensKey < 0) throw new IllegalArgumentException(vocabFile + " has no tokenizer.ggml.tokens");
            long nVocab = fflama_h.ffl_gguf_kv_array_length(vocabGguf, tokensKey);
            if (nVocab <= 0 || nVocab > Integer.MAX_VALUE) throw new IllegalArgumentException(vocabFile + ": bad vocabulary size " + nVocab);

            NativeCalls.check(fflama_h.ffl_gguf_writer_new(ptr));
            writer = ptr.get(ValueLayout.ADDRESS, 0);
            Meta meta = new Meta(arena, writer);
            int ftype;
            try (Arena a = Arena.ofConfined()) {
                String ftypeName = matrixType == fflama_h.FFL_TYPE_F32 ? "F32" : matrixType == fflama_h.FFL_TYPE_F16 ? "F16"
                        : matrixType == fflama_h.FFL_TYPE_BF16 ? "BF16" : NativeCalls.string(fflama_h.ffl_type_name(matrixType));
                ftype = fflama_h.ffl_quantize_ftype_from_name(NativeCalls.cString(a, ftypeName));
            }
            meta.string("general.architecture", "llama");
            meta.string("general.name", shape.name() + "-synth");
            meta.string("general.description", "fflama synth: random weights (seed " + seed + ") in the shape of " + shape.note());
            if (ftype >= 0) meta.u32("general.file_type", ftype);
            if (ffl_is_quantized(matrixType)) meta.u32("general.quantization_version", 2);
            meta.u32("llama.context_length", shape.ctx());
            meta.u32("llama.embedding_length", shape.dim());
            meta.u32("llama.block_count", shape.layers());
            meta.u32("llama.feed_forward_length", shape.ff());
            meta.u32("llama.attention.head_count", shape.heads());
            meta.u32("llama.attention.head_count_kv", shape.kvHeads());
            meta.u32("llama.rope.dimension_count", shape.headDim());
            meta.f32("llama.rope.freq_base", shape.ropeBase());
            meta.f32("llama.attention.layer_norm_rms_epsilon", shape.rmsEps());
            meta.u32("llama.vocab_size", nVocab);
            if (shape.experts() > 0) {
                meta.u32("llama.expert_count", shape.experts());
                meta.u32("llama.expert_used_count", shape.expertsUsed());
            }
            long nKv = fflama_h.ffl_gguf_kv_count(vocabGguf);
            for (long i = 0; i < nKv; i++) {
                String key = NativeCalls.string(fflama_h.ffl_gguf_kv_key(vocabGguf, i));
                if (key.startsWith("tokenizer.")) NativeCalls.check(fflama_h.ffl_gguf_writer_copy_kv(writer, vocabGguf, i));
            }

            List<TensorSpec> specs = tensors(shape, nVocab);
            long[] offsets = new long[specs.size()];
            int[] types = new int[specs.size()];
            long total = 0, elements = 0;
            for (int i = 0; i < specs.size(); i++) {
                TensorSpec s = specs.get(i);
                types[i] = s.matrix() ? matrixType : fflama_h.FFL_TYPE_F32;
                long rowBytes = fflama_h.ffl_type_row_bytes(types[i], s.rowLength());
                if (rowBytes < 0) throw new IllegalArgumentException(s.name() + ": rows of " + s.rowLength() + " do not fit type "
                        + NativeCalls.string(fflama_h.ffl_type_name(types[i])));
                offsets[i] = total;
                total += (rowBytes * (s.elements() / s.rowLength()) + 63) & ~63L;
                elements += s.elements();
            }
            Files.deleteIfExists(scratch);
            try (FileChannel ch = FileChannel.open(scratch, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                    StandardOpenOption.WRITE, StandardOpenOption.SPARSE)) {
                // the data lives in a file mapping, not the heap: 1B-parameter F32 models fit any machine
                MemorySegment data = ch.map(FileChannel.MapMode.READ_WRITE, 0, Math.max(total, 1), arena);
                ForkJoinPool pool = new ForkJoinPool(nThreads);
                try (Progress progress = new Progress(task, elements, noProgress)) {
                    for (int i = 0; i < specs.size(); i++) {
                        TensorSpec s = specs.get(i);
                        long bytes = fflama_h.ffl_type_row_bytes(types[i], s.rowLength()) * (s.elements() / s.rowLength());
                        MemorySegment slice = data.asSlice(offsets[i], bytes);
                        int ty = types[i];
                        pool.submit(() -> fill(s, ty, slice, progress::add)).get();
                        MemorySegment ne = arena.allocateFrom(ValueLayout.JAVA_LONG, s.ne());
                        NativeCalls.check(fflama_h.ffl_gguf_writer_add_tensor(writer, NativeCalls.cString(arena, s.name()), ty,
                                s.ne().length, ne, slice, bytes));
                    }
                } finally {
                    pool.shutdown();
                }
                NativeCalls.check(fflama_h.ffl_gguf_writer_write(writer, NativeCalls.cString(arena, dest.toString())));
            }
        } finally {
            if (!writer.equals(MemorySegment.NULL)) fflama_h.ffl_gguf_writer_free(writer);
            if (!vocabGguf.equals(MemorySegment.NULL)) fflama_h.ffl_gguf_close(vocabGguf);
            Files.deleteIfExists(scratch);
        }
    }

    private static boolean ffl_is_quantized(int type) {
        return fflama_h.ffl_type_block_size(type) > 1;
    }

    /** Rows per generated chunk: fixed by the tensor alone, so a seed gives the same file with any thread count. */
    static long chunkRows(TensorSpec s) {
        return Math.max(1, (1L << 18) / s.rowLength());
    }

    /** Generates one tensor into dst (in its final type), chunk by chunk in parallel. */
    private void fill(TensorSpec s, int type, MemorySegment dst, LongConsumer progress) {
        long rowLen = s.rowLength();
        long rows = s.elements() / rowLen;
        long perChunk = chunkRows(s);
        long chunks = (rows + perChunk - 1) / perChunk;
        long rowBytes = fflama_h.ffl_type_row_bytes(type, rowLen);
        long nameHash = fnv1a(s.name());
        boolean f32 = type == fflama_h.FFL_TYPE_F32;
        LongStream.range(0, chunks).parallel().forEach(c -> {
            long r0 = c * perChunk;
            long n = Math.min(perChunk, rows - r0) * rowLen;
            MemorySegment out = dst.asSlice(r0 * rowBytes, (n / rowLen) * rowBytes);
            try (Arena a = Arena.ofConfined()) {
                MemorySegment buf = f32 ? out : a.allocate(n * Float.BYTES, 64);
                long state = seed ^ nameHash ^ (c * 0x632BE59BD9B4E019L);
                for (long i = 0; i < n; i++) {
                    state += 0x9E3779B97F4A7C15L;
                    long z = state;
                    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
                    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
                    z ^= z >>> 31;
                    double u = (z >>> 40) * 0x1.0p-23 - 1.0; // uniform in [-1, 1)
                    buf.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) (s.center() + s.halfWidth() * u));
                }
                if (!f32) NativeCalls.check(fflama_h.ffl_quantize_row(type, buf, out, n));
            }
            progress.accept(n);
        });
    }

    private static long fnv1a(String s) {
        long h = 0xcbf29ce484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return h;
    }

    private void quantize(Path f16, String upper, int nThreads) {
        if (noProgress) {
            Quantizer.quantize(f16, out, upper, nThreads, null);
            return;
        }
        try (ProgressBar bar = bar("quantize " + upper, 1000)) {
            Quantizer.quantize(f16, out, upper, nThreads, f -> bar.stepTo(Math.round(f * 1000)));
        }
    }

    static ProgressBar bar(String task, long max) {
        return new ProgressBarBuilder().setTaskName(task).setInitialMax(max).setStyle(ProgressBarStyle.ASCII)
                .setConsumer(new ConsoleProgressBarConsumer(System.err)).build();
    }

    /** Thread-safe progress in elements, shown as a bar unless disabled. */
    private static final class Progress implements AutoCloseable {
        private final ProgressBar bar;
        private final AtomicLong done = new AtomicLong();

        Progress(String task, long total, boolean quiet) {
            bar = quiet ? null : bar(task, Math.max(1, total / 1_000_000)).setExtraMessage("M params");
        }

        void add(long n) {
            long now = done.addAndGet(n);
            if (bar != null) bar.stepTo(now / 1_000_000);
        }

        @Override
        public void close() {
            if (bar != null) bar.close();
        }
    }

    /** Metadata setters over the writer. */
    private record Meta(Arena arena, MemorySegment writer) {
        void u32(String key, long v) {
            MemorySegment p = arena.allocate(ValueLayout.JAVA_INT);
            p.set(ValueLayout.JAVA_INT, 0, (int) v);
            NativeCalls.check(fflama_h.ffl_gguf_writer_set_scalar(writer, NativeCalls.cString(arena, key), fflama_h.FFL_GGUF_UINT32, p));
        }

        void f32(String key, float v) {
            MemorySegment p = arena.allocate(ValueLayout.JAVA_FLOAT);
            p.set(ValueLayout.JAVA_FLOAT, 0, v);
            NativeCalls.check(fflama_h.ffl_gguf_writer_set_scalar(writer, NativeCalls.cString(arena, key), fflama_h.FFL_GGUF_FLOAT32, p));
        }

        void string(String key, String v) {
            byte[] b = v.getBytes(StandardCharsets.UTF_8);
            MemorySegment p = arena.allocateFrom(ValueLayout.JAVA_BYTE, b);
            NativeCalls.check(fflama_h.ffl_gguf_writer_set_string(writer, NativeCalls.cString(arena, key), p, b.length));
        }
    }
}
