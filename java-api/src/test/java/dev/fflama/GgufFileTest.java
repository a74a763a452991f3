package dev.fflama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GgufFileTest {
    @Test
    void readsTheRealModelsMetadataAndTensors() {
        try (GgufFile g = GgufFile.open(TestData.model("stories260K-f32.gguf"))) {
            assertEquals(3, g.version());
            assertEquals("llama", g.architecture());
            assertEquals(64, g.getLong("llama.embedding_length").orElseThrow());
            assertEquals(5, g.getLong("llama.block_count").orElseThrow());
            assertEquals(8, g.getLong("llama.attention.head_count").orElseThrow());
            assertEquals(4, g.getLong("llama.attention.head_count_kv").orElseThrow());
            assertEquals(172, g.getLong("llama.feed_forward_length").orElseThrow());
            assertEquals(1e-5, g.getDouble("llama.attention.layer_norm_rms_epsilon").orElseThrow(), 1e-9);
            assertEquals("llama", g.getString("tokenizer.ggml.model").orElseThrow());
            List<String> tokens = g.getStringArray("tokenizer.ggml.tokens").orElseThrow();
            assertEquals(512, tokens.size());
            assertEquals("<0x0A>", tokens.get(13));
            assertEquals(tokens, List.copyOf(tokens));
            assertThrows(IndexOutOfBoundsException.class, () -> tokens.get(512));
            List<?> scores = g.getArray("tokenizer.ggml.scores").orElseThrow();
            assertEquals(512, scores.size());
            assertTrue(scores.get(300) instanceof Double);
            List<?> types = g.getArray("tokenizer.ggml.token_type").orElseThrow();
            assertEquals(3L, types.get(1)); // <s> is a control token
            assertEquals(MetadataType.FLOAT32, g.arrayType("tokenizer.ggml.scores").orElseThrow());
            assertEquals(48, g.tensors().size());
            TensorInfo emb = g.tensor("token_embd.weight").orElseThrow();
            assertEquals(TensorType.F32, emb.type());
            assertArrayEquals(new long[] {64, 512}, emb.shape());
            assertEquals(64L * 512 * 4, emb.byteSize());
            assertEquals(g.tensors().stream().mapToLong(TensorInfo::elementCount).sum(), g.parameterCount());
            MemorySegment data = g.tensorData(emb);
            assertEquals(emb.byteSize(), data.byteSize());
            assertTrue(data.isReadOnly());
            float first = data.get(ValueLayout.JAVA_FLOAT_UNALIGNED, 0);
            assertTrue(Float.isFinite(first));
        }
    }

    @Test
    void quantizedFileReportsItsTypes() {
        try (GgufFile g = GgufFile.open(TestData.model("llama-dense-q4_k_m.gguf"))) {
            assertEquals(TensorType.Q6_K, g.tensor("output.weight").orElseThrow().type());
            assertTrue(g.tensors().stream().anyMatch(t -> t.type() == TensorType.Q4_K));
            assertEquals(39, g.tensors().size());
        }
    }

    @Test
    void closedFileThrowsAndViewsDie() {
        GgufFile g = GgufFile.open(TestData.model("stories260K-f16.gguf"));
        TensorInfo t = g.tensors().get(0);
        MemorySegment view = g.tensorData(t);
        List<?> scores = g.getArray("tokenizer.ggml.scores").orElseThrow();
        List<String> tokens = g.getStringArray("tokenizer.ggml.tokens").orElseThrow();
        String kept = tokens.get(13);
        g.close();
        g.close(); // idempotent
        assertThrows(IllegalStateException.class, g::tensors);
        // arrays are read from the mapping on demand: never after it is gone
        assertThrows(IllegalStateException.class, () -> scores.get(0));
        assertThrows(IllegalStateException.class, () -> tokens.get(14));
        assertEquals("<0x0A>", kept);
        assertThrows(IllegalStateException.class, () -> g.tensorData(t));
        assertThrows(IllegalStateException.class, () -> view.get(ValueLayout.JAVA_BYTE, 0));
    }

    @Test
    void badFilesAreExceptionsWithTheCoresMessage(@TempDir Path dir) throws IOException {
        FflamaException missing = assertThrows(FflamaException.class, () -> GgufFile.open(dir.resolve("none.gguf")));
        assertEquals(FflamaException.Status.IO, missing.status());
        Path text = Files.writeString(dir.resolve("text.gguf"), "hello, not a model");
        FflamaException magic = assertThrows(FflamaException.class, () -> GgufFile.open(text));
        assertEquals(FflamaException.Status.FORMAT, magic.status());
        assertTrue(magic.getMessage().contains("magic"), magic.getMessage());

        byte[] good = Files.readAllBytes(TestData.model("stories260K-f32.gguf"));
        Random random = new Random(42);
        int opened = 0;
        for (int i = 0; i < 300; i++) {
            byte[] bad = java.util.Arrays.copyOf(good, 1 + random.nextInt(200_000));
            for (int k = 0; k < 4; k++) bad[random.nextInt(Math.min(bad.length, 8192))] = (byte) random.nextInt();
            Path f = Files.write(dir.resolve("m" + i + ".gguf"), bad);
            try (GgufFile g = GgufFile.open(f)) {
                opened++;
                for (TensorInfo t : g.tensors()) assertTrue(t.offset() + t.byteSize() <= bad.length);
            } catch (FflamaException e) {
                assertTrue(e.status() < 0);
                assertTrue(!e.getMessage().isBlank());
            }
        }
        assertTrue(opened < 300, "truncated files must not all open");
    }
}
