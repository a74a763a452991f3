package dev.fflama.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fflama.GgufFile;
import dev.fflama.Model;
import dev.fflama.Session;
import dev.fflama.SessionOptions;
import dev.fflama.TensorInfo;
import dev.fflama.TestData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SynthCommandTest {
    static final String STORIES_VOCAB = TestData.model("stories260K-f32.gguf").toString(); // 512 tokens: small files

    static Path synth(Path dir, String name, String... args) {
        Path out = dir.resolve(name);
        String[] all = Stream.concat(Stream.of("synth", "--no-progress"), Stream.concat(Stream.of(args), Stream.of(out.toString())))
                .toArray(String[]::new);
        CliRunner.Result r = CliRunner.run(all);
        assertEquals(0, r.exit(), r.err());
        return out;
    }

    static long params(List<SynthCommand.TensorSpec> specs) {
        return specs.stream().mapToLong(SynthCommand.TensorSpec::elements).sum();
    }

    @Test
    void shapesHaveTheRealModelsParameterCounts() {
        // published counts: TinyLlama-1.1B 1,100,048,384; Llama-3.2-1B (128256 tokens, tied) 1,235,814,400
        assertEquals(1_100_048_384L, params(SynthCommand.tensors(SynthCommand.SHAPES.get("tinyllama-1.1b"), 32000)));
        assertEquals(1_235_814_400L, params(SynthCommand.tensors(SynthCommand.SHAPES.get("llama-3.2-1b"), 128256)));
        List<SynthCommand.TensorSpec> tiny = SynthCommand.tensors(SynthCommand.SHAPES.get("tinyllama-1.1b"), 32000);
        assertEquals(22 * 9 + 3, tiny.size());
        List<SynthCommand.TensorSpec> moe = SynthCommand.tensors(SynthCommand.SHAPES.get("moe-small"), 32000);
        assertTrue(moe.stream().anyMatch(t -> t.name().equals("blk.7.ffn_down_exps.weight")
                && java.util.Arrays.equals(t.ne(), new long[] {1024, 1024, 8})));
    }

    @Test
    void quantizedTypesGetLlamaQuantizesMixAndTheVocabulary(@TempDir Path dir) throws IOException {
        Path out = synth(dir, "q4_0.gguf", "--like", "tiny", "--type", "Q4_0", "--vocab", STORIES_VOCAB, "-t", "2");
        try (GgufFile g = GgufFile.open(out); GgufFile vocab = GgufFile.open(Path.of(STORIES_VOCAB))) {
            assertEquals("llama", g.architecture());
            assertEquals(2 * 9 + 3, g.tensors().size());
            assertEquals(2L, g.getLong("general.file_type").orElseThrow()); // LLAMA_FTYPE_MOSTLY_Q4_0
            assertEquals(256L, g.getLong("llama.embedding_length").orElseThrow());
            assertEquals(512L, g.getLong("llama.vocab_size").orElseThrow());
            for (TensorInfo t : g.tensors()) {
                String want = t.shape().length == 1 ? "f32" : t.name().equals("output.weight") ? "q6_K" : "q4_0";
                assertEquals(want, t.type().ggmlName(), t.name());
            }
            for (Map.Entry<String, Object> e : vocab.metadata().entrySet()) {
                if (e.getKey().startsWith("tokenizer.")) assertEquals(e.getValue(), g.metadata().get(e.getKey()), e.getKey());
            }
        }
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(out), s.toList(), "no temporary files left");
        }
    }

    @Test
    void aSeedGivesTheSameFileWithAnyThreadCount(@TempDir Path dir) throws IOException {
        Path a = synth(dir, "a.gguf", "--like", "tiny", "--type", "F16", "--vocab", STORIES_VOCAB, "-t", "1", "--seed", "7");
        Path b = synth(dir, "b.gguf", "--like", "tiny", "--type", "F16", "--vocab", STORIES_VOCAB, "-t", "2", "--seed", "7");
        Path c = synth(dir, "c.gguf", "--like", "tiny", "--type", "F16", "--vocab", STORIES_VOCAB, "-t", "2", "--seed", "8");
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b));
        assertFalse(java.util.Arrays.equals(Files.readAllBytes(a), Files.readAllBytes(c)));
    }

    @Test
    void pureWritesEveryMatrixInOneType(@TempDir Path dir) {
        Path out = synth(dir, "pure.gguf", "--like", "tiny", "--type", "Q8_0", "--pure", "--vocab", STORIES_VOCAB, "--layers", "1");
        try (GgufFile g = GgufFile.open(out)) {
            assertEquals(9 + 3, g.tensors().size());
            for (TensorInfo t : g.tensors()) assertEquals(t.shape().length == 1 ? "f32" : "q8_0", t.type().ggmlName(), t.name());
        }
    }

    /** The engine loads every shape's file and the random weights keep the logits finite and not all equal. */
    @Test
    void modelsLoadAndGiveFiniteLogits(@TempDir Path dir) {
        for (String[] c : new String[][] {{"tiny", "F32"}, {"tiny", "BF16"}, {"tiny-moe", "Q4_K_M"}, {"tiny", "Q5_1"}}) {
            Path out = synth(dir, c[0] + "-" + c[1] + ".gguf", "--like", c[0], "--type", c[1], "--vocab", STORIES_VOCAB);
            try (Model m = Model.load(out); Session s = m.newSession(SessionOptions.builder().contextSize(64).threads(2).build())) {
                assertEquals(512, m.vocabSize());
                if (c[0].endsWith("moe")) assertEquals(4, m.expertCount());
                s.evaluate(1, 100, 200, 300, 400, 500, 3, 4);
                float[] logits = s.logitsArray();
                float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
                for (float v : logits) {
                    assertTrue(Float.isFinite(v), c[0] + " " + c[1]);
                    min = Math.min(min, v);
                    max = Math.max(max, v);
                }
                assertTrue(max - min > 1e-3, c[0] + " " + c[1] + ": logits all equal");
            }
        }
    }

    @Test
    void badArgumentsExitTwoAndLeaveNothing(@TempDir Path dir) throws IOException {
        String out = dir.resolve("x.gguf").toString();
        String[][] bad = {
            {"synth", "--like", "gpt-5", out},
            {"synth", "--like", "tiny", "--type", "Q9_9", "--vocab", STORIES_VOCAB, out},
            {"synth", "--like", "tiny", "--type", "Q4_K_M", "--pure", "--vocab", STORIES_VOCAB, out},
            {"synth", "--like", "tiny", "--vocab", dir.resolve("missing.gguf").toString(), out},
            {"synth", "--like", "tiny", "--layers", "0", "--vocab", STORIES_VOCAB, out},
        };
        for (String[] args : bad) {
            CliRunner.Result r = CliRunner.run(args);
            assertEquals(2, r.exit(), String.join(" ", args) + ": " + r.err());
            assertTrue(r.err().startsWith("error: "), r.err());
        }
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(0, s.count());
        }
    }
}
