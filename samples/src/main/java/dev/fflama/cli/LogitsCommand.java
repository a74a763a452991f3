package dev.fflama.cli;

import dev.fflama.KvType;
import dev.fflama.Model;
import dev.fflama.Session;
import dev.fflama.SessionOptions;
import java.io.BufferedWriter;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code fflama logits -m MODEL --tokens 1,403,407 [--json]}: logits at every position of one batch. */
@Command(name = "logits", mixinStandardHelpOptions = true,
        description = "Feed tokens as one batch and print the logits at every position.")
final class LogitsCommand implements Callable<Integer> {
    @Option(names = {"-m", "--model"}, required = true, description = "GGUF model file")
    Path model;

    @Option(names = "--tokens", required = true, split = ",", description = "comma-separated token ids")
    List<Integer> tokens;

    @Option(names = "--json", description = "print a JSON array with one array of floats per position")
    boolean json;

    @Option(names = {"-t", "--threads"}, description = "threads (default: physical cores)")
    int threads;

    @Option(names = "--kv-type", description = "KV cache type: F16 or F32 (default: ${DEFAULT-VALUE})")
    KvType kvType = KvType.F32;

    @Override
    public Integer call() {
        int[] ids = tokens.stream().mapToInt(Integer::intValue).toArray();
        try (Model m = Model.load(model);
             Session s = m.newSession(SessionOptions.builder().contextSize(Math.max(ids.length, 16))
                     .batchSize(Math.max(ids.length, 1)).threads(threads).kvType(kvType).build())) {
            s.evaluateAll(ids);
            PrintWriter out = new PrintWriter(new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8)));
            if (json) out.print('[');
            for (int i = 0; i < ids.length; i++) {
                float[] row = s.logitsArray(i);
                if (json) out.print(i == 0 ? "[" : ",\n[");
                for (int v = 0; v < row.length; v++) {
                    if (v > 0) out.print(json ? "," : " ");
                    // Float.toString is the shortest text that reads back to the same float
                    out.print(json && !Float.isFinite(row[v]) ? "null" : Float.toString(row[v]));
                }
                out.print(json ? "]" : "\n");
            }
            if (json) out.println(']');
            out.flush();
        }
        return 0;
    }
}
