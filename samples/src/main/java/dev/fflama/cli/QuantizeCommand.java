package dev.fflama.cli;

import dev.fflama.Quantizer;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code fflama quantize IN.gguf OUT.gguf TYPE}: llama-quantize's job, with a progress bar. */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = "Quantize a GGUF model (types: F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K_S Q3_K_M Q3_K_L "
                + "Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K IQ4_NL IQ4_XS).")
final class QuantizeCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IN") Path in;
    @Parameters(index = "1", paramLabel = "OUT") Path out;
    @Parameters(index = "2", paramLabel = "TYPE") String type;

    @Option(names = {"-t", "--threads"}, description = "threads (default: physical cores)")
    int threads;

    @Option(names = "--no-progress", description = "no progress bar")
    boolean noProgress;

    @Override
    public Integer call() {
        long start = System.nanoTime();
        if (noProgress) {
            Quantizer.quantize(in, out, type, threads, null);
        } else {
            try (ProgressBar bar = new ProgressBarBuilder().setTaskName("quantize " + type).setInitialMax(1000)
                    .setStyle(ProgressBarStyle.ASCII).setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err))
                    .build()) {
                Quantizer.quantize(in, out, type, threads, f -> bar.stepTo(Math.round(f * 1000)));
            }
        }
        System.err.printf("quantized %s -> %s (%s) in %.1f s%n", in, out, type, (System.nanoTime() - start) / 1e9);
        return 0;
    }
}
