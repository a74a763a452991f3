package dev.fflama.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fflama.TestData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InspectCommandTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static JsonNode inspect(Path file) throws IOException {
        CliRunner.Result r = CliRunner.run("inspect", "--json", file.toString());
        assertEquals(0, r.exit(), r.err());
        return JSON.readTree(r.out());
    }

    static List<Path> ggufFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.toString().endsWith(".gguf")).sorted().toList();
        }
    }

    @Test
    void everyFixtureOpensWithTheRightArchitectureAndTensorCount() throws IOException {
        // facts from the testdata README: layer counts and families
        Map<String, Integer> tensorsByFamily = Map.of("stories260K", 5 * 9 + 3, "llama-dense", 4 * 9 + 3,
                "llama-moe", 2 * 10 + 3, "qwen2", 2 * 12 + 3);
        List<Path> models = ggufFiles(TestData.root().resolve("models"));
        assertEquals(24, models.size());
        for (Path m : models) {
            JsonNode j = inspect(m);
            String name = m.getFileName().toString();
            String family = name.substring(0, name.lastIndexOf('-'));
            assertEquals(family.equals("qwen2") ? "qwen2" : "llama", j.get("architecture").asText(), name);
            assertEquals(tensorsByFamily.get(family).intValue(), j.get("tensor_count").asInt(), name);
            String type = name.substring(name.lastIndexOf('-') + 1, name.length() - ".gguf".length());
            JsonNode types = j.get("tensor_types");
            switch (type) {
                case "f32" -> assertEquals(List.of("f32"), fieldNames(types), name);
                case "f16", "bf16" -> assertEquals(List.of(type, "f32"), fieldNames(types), name);
                case "q4_k_m", "q5_k_m", "q3_k_m" -> {
                    assertTrue(types.has(type.substring(0, 2) + "_K"), name + " " + types);
                    assertTrue(types.has("q6_K"), name + " " + types); // output.weight
                }
                default -> assertTrue(types.has(type.replace("_k", "_K")), name + " " + types);
            }
            long params = 0;
            for (JsonNode t : j.get("tensors")) {
                long n = 1;
                for (JsonNode d : t.get("shape")) n *= d.asLong();
                params += n;
            }
            assertEquals(params, j.get("parameter_count").asLong(), name);
        }
        JsonNode stories = inspect(TestData.model("stories260K-f32.gguf"));
        assertEquals(64, stories.get("hyper_parameters").get("embedding_length").asInt());
        assertEquals(512, stories.get("metadata").get("tokenizer.ggml.tokens").get("length").asInt());
        assertEquals("string", stories.get("metadata").get("tokenizer.ggml.tokens").get("element_type").asText());
    }

    @Test
    void everyVocabOpens() throws IOException {
        Map<String, String> arch = Map.of("llama-spm", "llama", "gpt-2", "gpt2", "falcon", "falcon", "starcoder",
                "starcoder2", "mpt", "mpt", "deepseek-coder", "llama", "bert-bge", "bert");
        List<Path> vocabs = ggufFiles(TestData.root().resolve("vocab"));
        assertEquals(7, vocabs.size());
        for (Path v : vocabs) {
            JsonNode j = inspect(v);
            String name = v.getFileName().toString().replace("ggml-vocab-", "").replace(".gguf", "");
            assertEquals(arch.get(name), j.get("architecture").asText(), name);
            assertEquals(0, j.get("tensor_count").asInt());
            assertTrue(j.get("metadata").has("tokenizer.ggml.model"), name);
        }
    }

    @Test
    void textModeShowsTheBreakdown() {
        CliRunner.Result r = CliRunner.run("inspect", TestData.model("llama-dense-q4_k_m.gguf").toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("architecture:  llama"), r.out());
        assertTrue(r.out().contains("q6_K"), r.out());
        assertTrue(r.out().contains("block_count"), r.out());
    }

    @Test
    void badFilesExitTwoWithOneErrorLine(@TempDir Path dir) throws IOException {
        byte[] good = Files.readAllBytes(TestData.model("llama-dense-q4_0.gguf"));
        Random random = new Random(7);
        List<Path> bad = new ArrayList<>();
        bad.add(dir.resolve("missing.gguf"));
        bad.add(Files.writeString(dir.resolve("empty.gguf"), ""));
        for (int i = 0; i < 50; i++) {
            byte[] b = java.util.Arrays.copyOf(good, 24 + random.nextInt(4000));
            b[8 + random.nextInt(16)] = (byte) 0xff; // corrupt a count
            bad.add(Files.write(dir.resolve("bad" + i + ".gguf"), b));
        }
        for (Path p : bad) {
            CliRunner.Result r = CliRunner.run("inspect", p.toString());
            assertEquals(2, r.exit(), p + ": " + r.err());
            assertTrue(r.err().startsWith("error: "), r.err());
            assertEquals(1, r.err().lines().count(), r.err());
            assertEquals("", r.out());
        }
    }

    static List<String> fieldNames(JsonNode n) {
        List<String> out = new ArrayList<>();
        n.fieldNames().forEachRemaining(out::add);
        return out;
    }
}
