package dev.fflama.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.fflama.Fflama;
import dev.fflama.GgufFile;
import dev.fflama.Model;
import dev.fflama.ModelOptions;
import dev.fflama.Session;
import dev.fflama.SessionOptions;
import dev.fflama.TensorInfo;
import dev.fflama.TensorType;
import dev.fflama.bindings.fflama_h;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code fflama bench -m MODEL [-p 512] [-n 128] [-t THREADS] [-r REPS] [--json]}: llama-bench's
 * prompt-processing (pp) and generation (tg) tests, plus how close they come to this machine's limits
 * measured in the same run: tg's weight bytes read per second against the streaming read bandwidth,
 * pp's useful operations per second against the peak of the instruction set the kernels use.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Measure prompt processing and generation speed, as fractions of the machine's limits.",
            "pp<P>: one batch of P random tokens in an empty cache. tg<N>: N single-token evaluations in an empty "
                + "cache (after a one-token warm-up). Each test runs REPS times; t/s is mean ± sample stddev."})
final class BenchCommand implements Callable<Integer> {
    @Option(names = {"-m", "--model"}, paramLabel = "MODEL", description = "GGUF model (repeatable; required unless --read-probe)")
    List<Path> models;

    @Option(names = {"-p", "--n-prompt"}, split = ",", defaultValue = "512", paramLabel = "P",
            description = "prompt tokens per pp test, comma-separated; 0 skips (default ${DEFAULT-VALUE})")
    List<Integer> prompts;

    @Option(names = {"-n", "--n-gen"}, split = ",", defaultValue = "128", paramLabel = "N",
            description = "generated tokens per tg test, comma-separated; 0 skips (default ${DEFAULT-VALUE})")
    List<Integer> gens;

    @Option(names = {"-t", "--threads"}, split = ",", paramLabel = "T", description = "threads, comma-separated (default: physical cores)")
    List<Integer> threads;

    @Option(names = {"-r", "--repetitions"}, defaultValue = "5", paramLabel = "REPS", description = "repetitions per test (default ${DEFAULT-VALUE})")
    int reps;

    @Option(names = "--json", description = "print a JSON array, one object per test (llama-bench's field names where they exist)")
    boolean json;

    @Option(names = "--bandwidth-mib", defaultValue = "1024", paramLabel = "MIB",
            description = "buffer for the read-bandwidth measurement, far beyond the last-level cache (default ${DEFAULT-VALUE})")
    long bandwidthMib;

    @Option(names = "--no-mmap", description = "read the model into memory instead of mapping it")
    boolean noMmap;

    @Option(names = "--no-repack", description = "keep every weight as the file stores it (by default the weights "
            + "whose layout the CPU's kernels multiply faster, Q4_0, Q8_0, Q4_K and Q6_K with AVX-512, are rearranged in memory at load "
            + "and the other weight matrices copied onto huge pages)")
    boolean noRepack;

    @Option(names = "--seed", defaultValue = "1234", description = "seed of the random tokens")
    long seed;

    @Option(names = "--read-probe", paramLabel = "COUNT",
            description = "only time COUNT streaming reads of the --bandwidth-mib buffer with each -t thread count and print GB/s,"
                + " one per line: the probe the tg tests are paired with, for bracketing another program's runs")
    Integer readProbes;

    /** What one token costs in weights, from the model's tensor table. */
    record Costs(long bytesPerToken, long layerParamsPerToken, long outputParams, int nLayer, int nHead, int headDim,
                 int peakKind, String dominantType) {
        /** Useful ops of a pp test: 2 per weight per token, the output matrix once (logits of the last token only, as
         *  llama-bench asks), and causal attention (q·k and p·v over the positions each token sees). */
        double promptOps(int p) {
            double matmul = 2.0 * layerParamsPerToken * p + 2.0 * outputParams;
            double attention = 2.0 * 2.0 * nLayer * (double) nHead * headDim * (p * (p + 1.0) / 2.0);
            return matmul + attention;
        }
    }

    /** Machine limits at one thread count. */
    record Machine(double readBandwidth, double peakF32, double peakInt8, double peakInt16) {
        /** Other processes only ever lower these figures, so the best seen is the machine's limit. */
        Machine best(Machine o) {
            return o == null ? this : new Machine(Math.max(readBandwidth, o.readBandwidth), Math.max(peakF32, o.peakF32),
                    Math.max(peakInt8, o.peakInt8), Math.max(peakInt16, o.peakInt16));
        }

        /** The peak a pp test's peak_kind names. */
        double peak(String kindName) {
            return switch (kindName) {
                case "f32_fma" -> peakF32;
                case "int16_dot" -> peakInt16;
                default -> peakInt8;
            };
        }
    }

    /** JSON name of an ffl_peak_kind, and the words for it in the text notes. */
    static String peakKindName(int kind) {
        return kind == fflama_h.FFL_PEAK_F32_FMA ? "f32_fma" : kind == fflama_h.FFL_PEAK_INT16_DOT ? "int16_dot" : "int8_dot";
    }

    @Override
    public Integer call() throws IOException {
        if (reps < 1) throw new IllegalArgumentException("--repetitions must be >= 1");
        if (bandwidthMib < 1) throw new IllegalArgumentException("--bandwidth-mib must be >= 1");
        for (int p : prompts) if (p < 0) throw new IllegalArgumentException("-p must be >= 0");
        for (int n : gens) if (n < 0) throw new IllegalArgumentException("-n must be >= 0");
        if (readProbes != null && readProbes < 1) throw new IllegalArgumentException("--read-probe must be >= 1");
        List<Integer> threadCounts = threads == null || threads.isEmpty() ? List.of(Math.max(1, Fflama.physicalCores())) : threads;
        for (int t : threadCounts) if (t < 1 || t > 512) throw new IllegalArgumentException("-t must be in [1, 512]");
        if (readProbes != null) return readProbesOnly(threadCounts);
        if (models == null || models.isEmpty()) throw new IllegalArgumentException("a model is required (-m MODEL)");
        for (Path m : models) if (!Files.isRegularFile(m)) throw new IllegalArgumentException("no model file " + m);
        NativeCalls.load();

        PrintStream out = System.out;
        PrintStream log = System.err;
        String loadBefore = loadAverage();
        // The machine is measured before every model and once more at the end; all ratios use the best
        // figures of the run, so a busy moment during a measurement cannot inflate them.
        Map<Integer, Machine> machines = new TreeMap<>();
        Map<Integer, Integer> machineRuns = new TreeMap<>();
        List<Map<String, Object>> results = new ArrayList<>();
        List<String> modelNotes = new ArrayList<>();
        for (Path path : models) {
            for (int t : threadCounts) measureInto(machines, machineRuns, t, log);
            long t0 = System.nanoTime();
            try (Model model = Model.load(path, ModelOptions.builder().mmap(!noMmap).repack(!noRepack).build())) {
                double loadMs = (System.nanoTime() - t0) / 1e6;
                Costs costs = costs(model);
                int maxP = prompts.stream().mapToInt(Integer::intValue).max().orElse(0);
                int maxN = gens.stream().mapToInt(Integer::intValue).max().orElse(0);
                boolean firstSession = true;
                for (int t : threadCounts) {
                    SessionOptions opts = SessionOptions.builder().contextSize(Math.max(16, maxP + maxN + 1))
                            .batchSize(Math.max(1, maxP)).threads(t).build();
                    long s0 = System.nanoTime();
                    try (Session session = model.newSession(opts)) {
                        double sessionMs = (System.nanoTime() - s0) / 1e6;
                        SplittableRandom random = new SplittableRandom(seed);
                        int vocab = model.vocabSize();
                        // first evaluation after loading: with a fresh mapping this reads the weights in
                        long f0 = System.nanoTime();
                        session.evaluate(bos(model, random, vocab));
                        double firstTokenMs = (System.nanoTime() - f0) / 1e6;
                        session.clear();
                        Map<String, Object> common = common(path, model, t, opts, loadMs, firstSession ? sessionMs : Double.NaN,
                                firstSession ? firstTokenMs : Double.NaN);
                        firstSession = false;
                        for (int p : prompts) {
                            if (p == 0) continue;
                            double[] ns = runPrompt(session, p, random, vocab, model);
                            Map<String, Object> r = result(common, p, 0, ns, p);
                            r.put("useful_ops_per_test", costs.promptOps(p));
                            r.put("peak_kind", peakKindName(costs.peakKind()));
                            results.add(r);
                            progress(log, r);
                        }
                        for (int n : gens) {
                            if (n == 0) continue;
                            double[] ns = runGen(session, n, random, vocab);
                            PairedRun paired;
                            try (BandwidthProbe probe = new BandwidthProbe(t, bandwidthMib << 20)) {
                                paired = runPaired(session, n, random, vocab, probe);
                            }
                            Map<String, Object> r = result(common, 0, n, ns, n);
                            r.put("model_bytes_per_token", costs.bytesPerToken());
                            double[] ratios = blockRatios(costs.bytesPerToken(), paired);
                            r.put("paired_block_tokens", PAIRED_BLOCK);
                            r.put("samples_read_bandwidth", paired.probes());
                            r.put("samples_bandwidth_ratio_paired", ratios);
                            r.put("read_bandwidth_paired", mean(paired.probes()));
                            r.put("bandwidth_ratio_paired", median(ratios));
                            results.add(r);
                            progress(log, r);
                        }
                    }
                }
                {
                    modelNotes.add(String.format(Locale.ROOT, "%s: load %.0f ms (%s), weights %s, %s matrices (%s peak)", path.getFileName(), loadMs,
                            noMmap ? "read" : noRepack ? "mmap" : "mmap, repack", InspectCommand.human(costs.bytesPerToken()), costs.dominantType(),
                            peakKindName(costs.peakKind()).replace('_', ' ')));
                    for (Map<String, Object> r : results) {
                        if (!r.get("model_filename").equals(path.toString()) || !(r.get("first_token_ms") instanceof Double d)) continue;
                        modelNotes.add(String.format(Locale.ROOT, "  time to first token (load + session + 1 token, %d threads): %.0f ms = %.0f + %.0f + %.0f",
                                (int) r.get("n_threads"), loadMs + (double) r.get("session_ms") + d, loadMs, (double) r.get("session_ms"), d));
                        break;
                    }
                }
            }
        }
        for (int t : threadCounts) measureInto(machines, machineRuns, t, log);
        String loadAfter = loadAverage();
        for (Map<String, Object> r : results) {
            r.put("load_average", loadBefore + " -> " + loadAfter);
            Machine machine = machines.get((int) r.get("n_threads"));
            double seconds = (double) (long) r.get("avg_ns") / 1e9;
            if ((int) r.get("n_prompt") > 0) {
                double peak = machine.peak((String) r.get("peak_kind"));
                r.put("peak_ops_per_second", peak);
                r.put("compute_ratio", (double) r.get("useful_ops_per_test") / seconds / peak);
            } else {
                r.put("read_bandwidth", machine.readBandwidth());
                r.put("bandwidth_ratio", (long) r.get("model_bytes_per_token") * (double) r.get("avg_ts") / machine.readBandwidth());
            }
        }
        if (json) {
            out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(results));
        } else {
            printHeader(out, machines, machineRuns);
            boolean headerPrinted = false;
            for (Map<String, Object> r : results) headerPrinted = printRow(out, r, headerPrinted);
            out.println();
            modelNotes.forEach(out::println);
            out.printf("%nload average (1/5/15 min) before: %s, after: %s  (this machine's cores may be shared)%n", loadBefore, loadAfter);
            out.println("bandwidth ratio = weight bytes read per token x t/s / read bandwidth (best of the run); paired: a further"
                    + " generation of as many tokens in blocks of " + PAIRED_BLOCK + ", each block against the mean of the read"
                    + " bandwidths timed just before and after it, the median over the blocks");
            out.println("compute ratio = useful ops/s (2 x weights x tokens + causal attention) / peak of the instruction set in use");
        }
        return 0;
    }

    private int readProbesOnly(List<Integer> threadCounts) {
        NativeCalls.load();
        for (int t : threadCounts) {
            try (BandwidthProbe probe = new BandwidthProbe(t, bandwidthMib << 20)) {
                for (int i = 0; i < readProbes; i++) System.out.printf(Locale.ROOT, "%.3f%n", probe.run() / 1e9);
            }
        }
        return 0;
    }

    static Machine measureMachine(int threads, long bandwidthBytes) {
        double bw = NativeCalls.measure(o -> fflama_h.ffl_measure_read_bandwidth(threads, bandwidthBytes, o));
        double f32 = NativeCalls.measure(o -> fflama_h.ffl_measure_peak_flops(threads, fflama_h.FFL_PEAK_F32_FMA, o));
        double i8 = NativeCalls.measure(o -> fflama_h.ffl_measure_peak_flops(threads, fflama_h.FFL_PEAK_INT8_DOT, o));
        double i16 = NativeCalls.measure(o -> fflama_h.ffl_measure_peak_flops(threads, fflama_h.FFL_PEAK_INT16_DOT, o));
        return new Machine(bw, f32, i8, i16);
    }

    private void measureInto(Map<Integer, Machine> machines, Map<Integer, Integer> runs, int threads, PrintStream log) {
        log.printf(Locale.ROOT, "measuring the machine with %d thread(s)...%n", threads);
        machines.put(threads, measureMachine(threads, bandwidthMib << 20).best(machines.get(threads)));
        runs.merge(threads, 1, Integer::sum);
    }

    private static void progress(PrintStream log, Map<String, Object> r) {
        int p = (int) r.get("n_prompt"), n = (int) r.get("n_gen");
        log.printf(Locale.ROOT, "%s %s: %.2f ± %.2f t/s%n", r.get("model_type"), p > 0 ? "pp" + p : "tg" + n, (double) r.get("avg_ts"),
                (double) r.get("stddev_ts"));
    }

    /** A first token: BOS when the vocabulary has one (as llama-bench starts its prompts), else a random one. */
    private static int bos(Model model, SplittableRandom random, int vocab) {
        long bos = model.gguf().getLong("tokenizer.ggml.bos_token_id").orElse(-1);
        return bos >= 0 && bos < vocab ? (int) bos : random.nextInt(vocab);
    }

    private double[] runPrompt(Session session, int p, SplittableRandom random, int vocab, Model model) {
        int[] tokens = new int[p];
        tokens[0] = bos(model, random, vocab);
        for (int i = 1; i < p; i++) tokens[i] = random.nextInt(vocab);
        session.evaluate(tokens); // warm-up, as llama-bench does
        session.clear();
        double[] ns = new double[reps];
        for (int r = 0; r < reps; r++) {
            session.clear();
            long t0 = System.nanoTime();
            session.evaluate(tokens);
            ns[r] = System.nanoTime() - t0;
        }
        session.clear();
        return ns;
    }

    private double[] runGen(Session session, int n, SplittableRandom random, int vocab) {
        session.evaluate(random.nextInt(vocab)); // warm-up token
        session.clear();
        int[] tokens = new int[n];
        double[] ns = new double[reps];
        for (int r = 0; r < reps; r++) {
            for (int i = 0; i < n; i++) tokens[i] = random.nextInt(vocab);
            session.clear();
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) session.evaluate(tokens[i]);
            ns[r] = System.nanoTime() - t0;
        }
        session.clear();
        return ns;
    }

    /**
     * Tokens per block of the paired generation. A shared host can move the read bandwidth between states
     * far apart within seconds (the development machine's: ~1.8x); a block of 8 single-token steps (~0.1 s)
     * mostly sees one of them, while a whole tg128 repetition (1-3 s) often saw both, and pairing each
     * repetition with the probes around it gave ratios above 1. The probes' worker threads spin briefly
     * after each probe, which can only slow the block after it (a conservative error).
     */
    static final int PAIRED_BLOCK = 8;

    /** A generation of n tokens in blocks: each block's time and token count, and a read probe before the first and after each. */
    record PairedRun(double[] blockNs, int[] blockTokens, double[] probes) {}

    private PairedRun runPaired(Session session, int n, SplittableRandom random, int vocab, BandwidthProbe probe) {
        int blocks = (n + PAIRED_BLOCK - 1) / PAIRED_BLOCK;
        double[] ns = new double[blocks], probes = new double[blocks + 1];
        int[] counts = new int[blocks];
        int[] tokens = new int[PAIRED_BLOCK];
        session.clear();
        probes[0] = probe.run();
        for (int b = 0; b < blocks; b++) {
            counts[b] = Math.min(PAIRED_BLOCK, n - b * PAIRED_BLOCK);
            for (int i = 0; i < counts[b]; i++) tokens[i] = random.nextInt(vocab);
            long t0 = System.nanoTime();
            for (int i = 0; i < counts[b]; i++) session.evaluate(tokens[i]);
            ns[b] = System.nanoTime() - t0;
            probes[b + 1] = probe.run();
        }
        session.clear();
        return new PairedRun(ns, counts, probes);
    }

    /**
     * Each block's weight bytes per second against the mean of the two probes around it: the fraction of
     * the bandwidth on offer while it ran. {@code bandwidth_ratio} divides the repetitions' mean speed by the
     * best probe of the whole run instead, a bound that a busy moment of the machine can only lower.
     */
    static double[] blockRatios(long bytesPerToken, PairedRun run) {
        double[] ratios = new double[run.blockNs().length];
        for (int b = 0; b < ratios.length; b++) {
            double bytesPerSecond = (double) bytesPerToken * run.blockTokens()[b] / (run.blockNs()[b] / 1e9);
            ratios[b] = bytesPerSecond / ((run.probes()[b] + run.probes()[b + 1]) / 2);
        }
        return ratios;
    }

    static double median(double[] x) {
        double[] s = x.clone();
        Arrays.sort(s);
        int m = s.length / 2;
        return s.length % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2;
    }

    /** Weight bytes and parameters one token uses (experts scaled by used/total; the embedding is a row lookup). */
    static Costs costs(Model model) {
        GgufFile g = model.gguf();
        String arch = model.architecture();
        long nExpert = g.getLong(arch + ".expert_count").orElse(0);
        long nUsed = g.getLong(arch + ".expert_used_count").orElse(nExpert);
        boolean tied = g.tensor("output.weight").isEmpty();
        long bytes = 0, layerParams = 0, outputParams = 0;
        Map<TensorType, Long> bytesByType = new EnumMap<>(TensorType.class);
        for (TensorInfo t : g.tensors()) {
            String name = t.name();
            boolean experts = name.contains("_exps.");
            long tb = experts && nExpert > 0 ? t.byteSize() * nUsed / nExpert : t.byteSize();
            long tp = experts && nExpert > 0 ? t.elementCount() * nUsed / nExpert : t.elementCount();
            if (name.equals("token_embd.weight")) {
                long rows = t.shape().length > 1 ? t.shape()[1] : 1;
                bytes += tied ? t.byteSize() : t.byteSize() / Math.max(1, rows);
                if (tied) outputParams = t.elementCount();
                continue;
            }
            bytes += tb;
            if (name.equals("output.weight")) outputParams = t.elementCount();
            else if (name.startsWith("blk.")) layerParams += tp;
            if (t.shape().length >= 2) bytesByType.merge(t.type(), tb, Long::sum);
        }
        TensorType dominant = bytesByType.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey).orElse(TensorType.F32);
        // the peak the kernels of the level in use are bound by, for the type holding most of the bytes
        int peakKind = fflama_h.ffl_matmul_peak_kind(dominant.id());
        int nHead = model.headCount();
        int headDim = model.embeddingLength() / Math.max(1, nHead);
        return new Costs(bytes, layerParams, outputParams, model.layerCount(), nHead, headDim, peakKind, dominant.ggmlName());
    }

    private Map<String, Object> common(Path path, Model model, int t, SessionOptions opts, double loadMs, double sessionMs,
                                       double firstTokenMs) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("build_commit", "fflama-" + Fflama.version());
        m.put("build_number", 0);
        m.put("cpu_info", cpuModel());
        m.put("cpu_features", Fflama.cpuFeatures());
        m.put("kernel_level", Fflama.kernelLevel());
        m.put("backends", "CPU");
        m.put("model_filename", path.toString());
        m.put("model_type", model.description());
        m.put("model_size", model.sizeBytes());
        m.put("model_n_params", model.parameterCount());
        m.put("n_batch", opts.batchSize());
        m.put("n_ubatch", opts.batchSize());
        m.put("n_threads", t);
        m.put("type_k", "f16");
        m.put("type_v", "f16");
        m.put("use_mmap", !noMmap);
        m.put("repack", !noRepack);
        m.put("load_ms", loadMs);
        if (!Double.isNaN(sessionMs)) m.put("session_ms", sessionMs);
        if (!Double.isNaN(firstTokenMs)) m.put("first_token_ms", firstTokenMs);
        return m;
    }

    private static Map<String, Object> result(Map<String, Object> common, int p, int n, double[] ns, int tokens) {
        Map<String, Object> r = new LinkedHashMap<>(common);
        r.put("n_prompt", p);
        r.put("n_gen", n);
        r.put("test_time", Instant.now().toString());
        double[] ts = new double[ns.length];
        for (int i = 0; i < ns.length; i++) ts[i] = tokens * 1e9 / ns[i];
        r.put("avg_ns", (long) mean(ns));
        r.put("stddev_ns", (long) stddev(ns));
        r.put("avg_ts", mean(ts));
        r.put("stddev_ts", stddev(ts));
        r.put("samples_ns", java.util.Arrays.stream(ns).mapToLong(d -> (long) d).toArray());
        r.put("samples_ts", ts);
        return r;
    }

    static double mean(double[] v) {
        double s = 0;
        for (double x : v) s += x;
        return s / v.length;
    }

    /** Sample standard deviation (n - 1), 0 for one sample, as llama-bench reports it. */
    static double stddev(double[] v) {
        if (v.length < 2) return 0;
        double m = mean(v), s = 0;
        for (double x : v) s += (x - m) * (x - m);
        return Math.sqrt(s / (v.length - 1));
    }

    private void printHeader(PrintStream out, Map<Integer, Machine> machines, Map<Integer, Integer> runs) {
        out.printf("fflama %s, cpu: %s%nfeatures: %s%nkernels: %s%n", Fflama.version(), cpuModel(), Fflama.cpuFeatures(), Fflama.kernelLevel());
        String f32Name = NativeCalls.string(fflama_h.ffl_measure_peak_kernel_name(fflama_h.FFL_PEAK_F32_FMA));
        String i8Name = NativeCalls.string(fflama_h.ffl_measure_peak_kernel_name(fflama_h.FFL_PEAK_INT8_DOT));
        String i16Name = NativeCalls.string(fflama_h.ffl_measure_peak_kernel_name(fflama_h.FFL_PEAK_INT16_DOT));
        machines.forEach((t, m) -> out.printf(Locale.ROOT,
                "machine, %d thread(s), best of %d measurements in this run: read %.1f GB/s (%d MiB buffer), peak f32 %.1f GFLOP/s (%s), "
                        + "peak int8 %.1f Gop/s (%s), peak int16 %.1f Gop/s (%s)%n",
                t, runs.get(t), m.readBandwidth() / 1e9, bandwidthMib, m.peakF32() / 1e9, f32Name, m.peakInt8() / 1e9, i8Name,
                m.peakInt16() / 1e9, i16Name));
        out.println();
    }

    private static boolean printRow(PrintStream out, Map<String, Object> r, boolean headerPrinted) {
        if (!headerPrinted) {
            out.printf("| %-24s | %10s | %8s | %7s | %7s | %16s | %-35s |%n", "model", "size", "params", "threads", "test", "t/s", "ratio");
            out.printf("| %-24s | %10s | %8s | %7s | %7s | %16s | %-35s |%n", "-".repeat(24), "-".repeat(10) + ":", "-".repeat(7) + ":",
                    "-".repeat(6) + ":", "-".repeat(6) + ":", "-".repeat(15) + ":", "-".repeat(35));
        }
        int p = (int) r.get("n_prompt"), n = (int) r.get("n_gen");
        String test = p > 0 ? "pp" + p : "tg" + n;
        String ratio = r.containsKey("compute_ratio") ? String.format(Locale.ROOT, "compute %.3f", (double) r.get("compute_ratio"))
                : String.format(Locale.ROOT, "bandwidth %.3f (paired %.3f)", (double) r.get("bandwidth_ratio"),
                        (double) r.get("bandwidth_ratio_paired"));
        out.printf(Locale.ROOT, "| %-24s | %10s | %8s | %7d | %7s | %8.2f ± %5.2f | %-35s |%n", r.get("model_type"),
                InspectCommand.human((long) r.get("model_size")), InspectCommand.humanCount((long) r.get("model_n_params")),
                (int) r.get("n_threads"), test, (double) r.get("avg_ts"), (double) r.get("stddev_ts"), ratio);
        out.flush();
        return true;
    }

    static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) return line.substring(line.indexOf(':') + 1).trim();
            }
        } catch (IOException | RuntimeException ignored) {
            // not Linux: the features say enough
        }
        return System.getProperty("os.arch");
    }

    static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }
}
