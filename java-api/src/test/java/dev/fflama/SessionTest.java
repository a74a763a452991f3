package dev.fflama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SessionTest {
    static final SessionOptions F32_KV = SessionOptions.builder().contextSize(256).kvType(KvType.F32).threads(2).build();

    /** Teacher-forced comparison against llama.cpp, as the testdata README prescribes. */
    static void assertMatchesReference(String refFile, double maxNmse, boolean argmaxEverywhere) {
        Reference ref = Reference.load(TestData.reference(refFile));
        try (Model model = Model.load(TestData.model(ref.model())); Session s = model.newSession(F32_KV)) {
            int[] all = ref.allTokens();
            s.evaluateAll(all);
            int rows = ref.promptLogits().length + ref.generatedLogits().length;
            for (int i = 0; i < rows; i++) {
                float[] got = s.logitsArray(i), want = ref.logitsAt(i);
                double nmse = Reference.nmse(got, want);
                assertTrue(nmse <= maxNmse, refFile + " position " + i + " nmse " + nmse);
                if (argmaxEverywhere || Reference.margin(want) >= 0.25) {
                    assertEquals(Reference.argmax(want), Reference.argmax(got), refFile + " argmax at " + i);
                }
            }
        }
    }

    @Test
    void realModelMatchesLlamaCpp() {
        assertMatchesReference("stories260K-f32.ref.json", 1e-6, true);
    }

    @Test
    void quantizedModelMatchesLlamaCpp() {
        assertMatchesReference("llama-dense-q4_k_m.ref.json", 2e-3, false);
    }

    @Test
    void greedyDecodingReproducesTheReferenceContinuation() {
        Reference ref = Reference.load(TestData.reference("stories260K-f32.ref.json"));
        try (Model model = Model.load(TestData.model("stories260K-f32.gguf")); Session s = model.newSession(F32_KV)) {
            s.evaluate(ref.promptTokens());
            int[] got = new int[ref.generatedTokens().length];
            for (int i = 0; i < got.length; i++) {
                got[i] = Reference.argmax(s.logitsArray());
                s.evaluate(got[i]);
            }
            assertArrayEquals(ref.generatedTokens(), got);
            assertEquals(ref.promptTokens().length + got.length, s.position());
        }
    }

    @Test
    void parallelSessionsOnOneModelAgreeWithOneAlone() throws Exception {
        Reference ref = Reference.load(TestData.reference("llama-dense-q8_0.ref.json"));
        try (Model model = Model.load(TestData.model(ref.model()))) {
            SessionOptions one = SessionOptions.builder().contextSize(256).kvType(KvType.F32).threads(1).build();
            float[] alone;
            try (Session s = model.newSession(one)) {
                for (int tok : ref.allTokens()) s.evaluate(tok);
                alone = s.logitsArray();
            }
            try (ExecutorService pool = Executors.newFixedThreadPool(4)) {
                List<Future<float[]>> results = new ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    results.add(pool.submit(() -> {
                        try (Session s = model.newSession(one)) {
                            for (int tok : ref.allTokens()) s.evaluate(tok);
                            return s.logitsArray();
                        }
                    }));
                }
                for (Future<float[]> f : results) {
                    float[] got = f.get();
                    assertArrayEquals(alone, got, "a session running beside others must compute exactly what it computes alone");
                }
            }
        }
    }

    @Test
    void zeroCopyLogitsAndSegmentInput() {
        try (Model model = Model.load(TestData.model("stories260K-f32.gguf")); Session s = model.newSession(F32_KV);
             Arena arena = Arena.ofConfined()) {
            MemorySegment tokens = arena.allocateFrom(ValueLayout.JAVA_INT, 1, 403, 407);
            s.evaluate(tokens);
            MemorySegment logits = s.logits();
            assertEquals(model.vocabSize() * 4L, logits.byteSize());
            float[] copy = s.logitsArray();
            assertEquals(copy[7], logits.getAtIndex(ValueLayout.JAVA_FLOAT, 7));
            s.close();
            assertThrows(IllegalStateException.class, () -> logits.getAtIndex(ValueLayout.JAVA_FLOAT, 0));
        }
    }

    @Test
    void errorsAreExceptionsAndTheSessionSurvives() {
        try (Model model = Model.load(TestData.model("stories260K-f32.gguf"));
             Session s = model.newSession(SessionOptions.builder().contextSize(16).kvType(KvType.F32).build())) {
            FflamaException range = assertThrows(FflamaException.class, () -> s.evaluate(1, 99999));
            assertEquals(FflamaException.Status.OUT_OF_RANGE, range.status());
            assertThrows(FflamaException.class, () -> s.evaluate(-1));
            assertEquals(0, s.position());
            s.evaluate(new int[10]);
            FflamaException full = assertThrows(FflamaException.class, () -> s.evaluate(new int[10]));
            assertEquals(FflamaException.Status.CONTEXT_FULL, full.status());
            assertEquals(10, s.position());
            s.rewind(4);
            assertEquals(4, s.position());
            s.evaluate(1, 2, 3);
            assertEquals(7, s.position());
        }
    }

    @Test
    void interruptedThreadAbortsTheEvaluation() {
        try (Model model = Model.load(TestData.model("llama-dense-f32.gguf")); Session s = model.newSession(F32_KV)) {
            Thread.currentThread().interrupt();
            try {
                FflamaException e = assertThrows(FflamaException.class, () -> s.evaluate(1, 2, 3, 4));
                assertEquals(FflamaException.Status.ABORTED, e.status());
            } finally {
                assertTrue(Thread.interrupted()); // the flag stays set for the caller; clear it here
            }
            assertEquals(0, s.position(), "an aborted evaluation leaves the cache as it was");
            s.evaluate(1, 2, 3, 4);
            assertEquals(4, s.position());
        }
    }

    @Test
    void stateSavesAndRestores(@TempDir Path dir) {
        try (Model model = Model.load(TestData.model("stories260K-f32.gguf")); Session s = model.newSession(F32_KV)) {
            s.evaluate(1, 403, 407, 261);
            byte[] state = s.saveState();
            s.saveState(dir.resolve("state.bin"));
            s.evaluate(500);
            float[] after = s.logitsArray();
            s.loadState(state);
            assertEquals(4, s.position());
            s.evaluate(500);
            assertArrayEquals(after, s.logitsArray());
            s.clear();
            s.loadState(dir.resolve("state.bin"));
            s.evaluate(500);
            assertArrayEquals(after, s.logitsArray());
            byte[] bad = state.clone();
            bad[bad.length / 2] ^= 0x5a;
            FflamaException e = assertThrows(FflamaException.class, () -> s.loadState(bad));
            assertTrue(e.status() < 0);
        }
    }

    @Test
    void closingTheModelClosesItsSessions() {
        Model model = Model.load(TestData.model("stories260K-f32.gguf"));
        Session a = model.newSession(F32_KV), b = model.newSession(F32_KV);
        a.evaluate(1, 2);
        assertEquals(2, model.openSessions().size());
        model.close();
        assertTrue(a.isClosed() && b.isClosed());
        assertThrows(IllegalStateException.class, () -> a.evaluate(3));
        assertThrows(IllegalStateException.class, model::vocabSize);
        assertThrows(IllegalStateException.class, () -> model.newSession(F32_KV));
        model.close();
    }

    @Test
    void repackedWeightsGiveTheLogitsOfTheStoredOnes() {
        Reference ref = Reference.load(TestData.reference("llama-dense-q4_0.ref.json"));
        int[] all = ref.allTokens();
        float[][] logits = new float[2][];
        for (int k = 0; k < 2; k++) {
            try (Model model = Model.load(TestData.model(ref.model()), ModelOptions.builder().repack(k == 0).build());
                 Session s = model.newSession(F32_KV)) {
                s.evaluateAll(all);
                logits[k] = s.logitsArray(all.length - 1);
            }
        }
        // only the float summation order differs, which 8-bit activations between layers can turn into
        // a rounding step: the fixtures' tolerance for quantized models
        double nmse = Reference.nmse(logits[0], logits[1]);
        assertTrue(nmse <= 2e-3, "repacked vs stored NMSE " + nmse);
        assertTrue(ModelOptions.defaults().repack() && !ModelOptions.builder().repack(false).build().repack());
    }

    @Test
    void modelFacts() {
        try (Model model = Model.load(TestData.model("llama-moe-q8_0.gguf"), ModelOptions.builder().mmap(false).build())) {
            assertEquals("llama", model.architecture());
            assertEquals(512, model.vocabSize());
            assertEquals(256, model.embeddingLength());
            assertEquals(2, model.layerCount());
            assertEquals(4, model.expertCount());
            assertTrue(model.parameterCount() > 0);
            assertEquals("llama", model.gguf().architecture());
            assertArrayEquals(new int[] {1, 403, 407, 261, 378, 383, 286, 261},
                    model.tokenizer().encode("Once upon a time there was a", true, false));
        }
        List<Double> progress = new ArrayList<>();
        try (Model model = Model.load(TestData.model("qwen2-q4_k_m.gguf"), ModelOptions.builder().progress(progress::add).build())) {
            assertEquals("qwen2", model.architecture());
        }
        assertTrue(!progress.isEmpty() && progress.get(progress.size() - 1) == 1.0, progress.toString());
    }
}
