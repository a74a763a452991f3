package dev.fflama.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.fflama.GgufFile;
import dev.fflama.TensorInfo;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code fflama inspect FILE [--json]}: what a GGUF file holds. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Print a GGUF file's architecture, hyper-parameters, tensor types and parameter count.")
final class InspectCommand implements Callable<Integer> {
    /** Arrays longer than this are summarised (type, length, first elements). */
    static final int ARRAY_HEAD = 8;

    @Parameters(index = "0", paramLabel = "FILE", description = "GGUF file")
    Path file;

    @Option(names = "--json", description = "Print JSON with every metadata key (long arrays summarised).")
    boolean json;

    @Option(names = "--tensors", description = "Also list every tensor (text mode).")
    boolean listTensors;

    @Override
    public Integer call() throws Exception {
        try (GgufFile gguf = GgufFile.open(file)) {
            if (json) printJson(gguf);
            else printText(gguf);
        }
        return 0;
    }

    record TypeStats(long count, long bytes, long elements) {}

    static Map<String, TypeStats> typeBreakdown(GgufFile gguf) {
        Map<String, TypeStats> out = new TreeMap<>();
        for (TensorInfo t : gguf.tensors()) {
            out.merge(t.type().ggmlName(), new TypeStats(1, t.byteSize(), t.elementCount()),
                    (a, b) -> new TypeStats(a.count + b.count, a.bytes + b.bytes, a.elements + b.elements));
        }
        return out;
    }

    /** The architecture's own keys ("llama.block_count" → block_count). */
    static Map<String, Object> hyperParameters(GgufFile gguf) {
        String prefix = gguf.architecture() + ".";
        Map<String, Object> out = new LinkedHashMap<>();
        gguf.metadata().forEach((k, v) -> {
            if (k.startsWith(prefix)) out.put(k.substring(prefix.length()), summarise(display(gguf, k, v)));
        });
        return out;
    }

    /** float32 values print as floats (1.0E-5, not 9.999999747378752E-6). */
    static Object display(GgufFile gguf, String key, Object v) {
        if (v instanceof Double d && gguf.type(key).orElse(null) == dev.fflama.MetadataType.FLOAT32) return d.floatValue();
        return v;
    }

    static Object summarise(Object v) {
        if (v instanceof List<?> l && l.size() > ARRAY_HEAD) {
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("length", l.size());
            s.put("head", l.subList(0, ARRAY_HEAD));
            return s;
        }
        return v;
    }

    private void printText(GgufFile gguf) {
        var out = System.out;
        out.printf("file:          %s (%s)%n", file, human(gguf.fileSize()));
        out.printf("format:        GGUF v%d, alignment %d%n", gguf.version(), gguf.alignment());
        out.printf("architecture:  %s%n", gguf.architecture());
        gguf.getString("general.name").ifPresent(n -> out.printf("name:          %s%n", n));
        out.printf("parameters:    %s (%d)%n", humanCount(gguf.parameterCount()), gguf.parameterCount());
        out.printf("tensor data:   %s%n", human(gguf.tensorBytes()));
        Map<String, Object> hp = hyperParameters(gguf);
        if (!hp.isEmpty()) {
            out.println("hyper-parameters:");
            hp.forEach((k, v) -> out.printf("  %-36s %s%n", k, v));
        }
        gguf.getString("tokenizer.ggml.model").ifPresent(m -> out.printf("tokenizer:     %s, %d tokens%n", m,
                gguf.getArray("tokenizer.ggml.tokens").map(List::size).orElse(0)));
        out.printf("tensors:       %d%n", gguf.tensors().size());
        Map<String, TypeStats> types = typeBreakdown(gguf);
        if (!types.isEmpty()) {
            out.println("tensor types:");
            types.forEach((k, s) -> out.printf("  %-8s %5d tensors %12d bytes (%s)%n", k, s.count, s.bytes, human(s.bytes)));
        }
        if (listTensors) {
            for (TensorInfo t : gguf.tensors()) out.printf("  %s%n", t);
        }
    }

    private void printJson(GgufFile gguf) throws Exception {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("file", file.toString());
        root.put("file_size", gguf.fileSize());
        root.put("version", gguf.version());
        root.put("alignment", gguf.alignment());
        root.put("architecture", gguf.architecture());
        root.put("parameter_count", gguf.parameterCount());
        root.put("tensor_count", gguf.tensors().size());
        root.put("tensor_bytes", gguf.tensorBytes());
        root.put("hyper_parameters", hyperParameters(gguf));
        Map<String, Object> types = new LinkedHashMap<>();
        typeBreakdown(gguf).forEach((k, s) -> types.put(k, Map.of("count", s.count, "bytes", s.bytes, "elements", s.elements)));
        root.put("tensor_types", types);
        Map<String, Object> meta = new LinkedHashMap<>();
        gguf.metadata().forEach((k, v) -> {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("type", gguf.type(k).orElseThrow().name().toLowerCase(Locale.ROOT));
            gguf.arrayType(k).ifPresent(t -> entry.put("element_type", t.name().toLowerCase(Locale.ROOT)));
            if (v instanceof List<?> l && l.size() > ARRAY_HEAD) {
                entry.put("length", l.size());
                entry.put("head", l.subList(0, ARRAY_HEAD));
            } else {
                entry.put("value", display(gguf, k, v));
            }
            meta.put(k, entry);
        });
        root.put("metadata", meta);
        List<Map<String, Object>> tensors = gguf.tensors().stream().map(t -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", t.name());
            m.put("type", t.type().ggmlName());
            m.put("shape", t.shape());
            m.put("offset", t.offset());
            m.put("bytes", t.byteSize());
            return m;
        }).toList();
        root.put("tensors", tensors);
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        System.out.println(mapper.writeValueAsString(root));
    }

    static String human(long bytes) {
        if (bytes < 1024) return bytes + " B";
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.2f %s", v, units[u]);
    }

    static String humanCount(long n) {
        if (n >= 1_000_000_000L) return String.format(Locale.ROOT, "%.2f B", n / 1e9);
        if (n >= 1_000_000L) return String.format(Locale.ROOT, "%.2f M", n / 1e6);
        if (n >= 1_000L) return String.format(Locale.ROOT, "%.2f K", n / 1e3);
        return Long.toString(n);
    }
}
