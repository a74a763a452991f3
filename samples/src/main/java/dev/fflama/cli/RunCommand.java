package dev.fflama.cli;

import dev.fflama.Generation;
import dev.fflama.KvType;
import dev.fflama.Model;
import dev.fflama.Session;
import dev.fflama.SessionOptions;
import dev.fflama.Token;
import dev.fflama.TokenStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code fflama run -m MODEL -p PROMPT}: streams a completion to stdout, speed to stderr. */
@Command(name = "run", mixinStandardHelpOptions = true, description = "Generate text after a prompt.")
final class RunCommand implements Callable<Integer> {
    @Option(names = {"-m", "--model"}, required = true, description = "GGUF model file")
    Path model;

    @Option(names = {"-p", "--prompt"}, description = "prompt text")
    String prompt;

    @Option(names = {"-f", "--file"}, description = "read the prompt from a file")
    Path promptFile;

    @Option(names = {"-n", "--n-predict"}, description = "tokens to generate (default: ${DEFAULT-VALUE})")
    int maxTokens = 256;

    @Option(names = {"-c", "--ctx-size"}, description = "context size in tokens (default: ${DEFAULT-VALUE}; 0 = the model's)")
    int contextSize = 4096;

    @Option(names = {"-t", "--threads"}, description = "threads (default: physical cores)")
    int threads;

    @Option(names = {"-b", "--batch-size"}, description = "prompt batch size (default: ${DEFAULT-VALUE})")
    int batchSize = 512;

    @Option(names = "--kv-type", description = "KV cache type F16 or F32 (default: ${DEFAULT-VALUE})")
    KvType kvType = KvType.F16;

    @Option(names = "--stop", description = "stop string (repeatable)")
    List<String> stops = new ArrayList<>();

    @Option(names = "--ignore-eos", description = "keep going past end-of-generation tokens")
    boolean ignoreEos;

    @Option(names = "--echo", description = "print the prompt before the completion")
    boolean echo;

    @Option(names = "--no-mmap", description = "read the model into memory instead of mapping it")
    boolean noMmap;

    @Option(names = "--no-repack", description = "keep every weight as the file stores it (by default the weights "
            + "whose layout the CPU's kernels multiply faster, Q4_0, Q8_0, Q4_K and Q6_K with AVX-512, are rearranged in memory at load "
            + "and the other weight matrices copied onto huge pages)")
    boolean noRepack;

    @Mixin
    SamplingOptions sampling;

    @Override
    public Integer call() throws Exception {
        if ((prompt == null) == (promptFile == null)) throw new IllegalArgumentException("give exactly one of -p or -f");
        String text = prompt != null ? prompt : Files.readString(promptFile);
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), false, StandardCharsets.UTF_8);
        Generation generation = Generation.maxTokens(maxTokens).sampler(sampling.build())
                .stopAt(stops.toArray(String[]::new)).stopAtEndToken(!ignoreEos);
        SessionOptions options = SessionOptions.builder().contextSize(contextSize).threads(threads).batchSize(batchSize)
                .kvType(kvType).build();
        try (Model m = Model.load(model, dev.fflama.ModelOptions.builder().mmap(!noMmap).repack(!noRepack).build());
             Session session = m.newSession(options)) {
            Thread main = Thread.currentThread();
            Runtime.getRuntime().addShutdownHook(new Thread(main::interrupt)); // Ctrl-C ends cleanly
            if (echo) {
                out.print(text);
                out.flush();
            }
            try (TokenStream tokens = session.generate(text, generation)) {
                while (tokens.hasNext()) {
                    Token t = tokens.next();
                    out.print(t.text());
                    out.flush();
                }
                out.flush();
                System.err.printf("%n%nprompt: %d tokens, %.1f tok/s | generation: %d tokens, %.1f tok/s | finish: %s%n",
                        tokens.promptTokenCount(), tokens.promptTokensPerSecond(), tokens.generatedTokenCount(),
                        tokens.generationTokensPerSecond(), tokens.finishReason().name().toLowerCase(java.util.Locale.ROOT));
            }
        }
        return 0;
    }
}
