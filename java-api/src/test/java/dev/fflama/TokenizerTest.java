package dev.fflama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

public class TokenizerTest {
    /** The test vocabularies of the fixtures (llama.cpp's tokenizer tests). */
    public static final List<String> VOCABS = List.of("llama-spm", "gpt-2", "falcon", "starcoder", "mpt", "deepseek-coder",
            "bert-bge");

    /** llama.cpp's tokenizer test vectors: the strings of a .inp file and the id lines of its .out file. */
    public record Vectors(List<String> inputs, List<int[]> outputs) {
        public static Vectors of(String vocab) {
            try {
                Path base = TestData.vocab("ggml-vocab-" + vocab + ".gguf");
                String all = Files.readString(Path.of(base + ".inp"), StandardCharsets.UTF_8);
                String sep = "\n__ggml_vocab_test__\n";
                List<String> inputs = new ArrayList<>();
                int pos = 0;
                for (int hit; (hit = all.indexOf(sep, pos)) >= 0; pos = hit + sep.length()) inputs.add(all.substring(pos, hit));
                List<int[]> outputs = new ArrayList<>();
                for (String line : Files.readAllLines(Path.of(base + ".out"), StandardCharsets.UTF_8)) {
                    String t = line.trim();
                    outputs.add(t.isEmpty() ? new int[0] : Arrays.stream(t.split(" ")).mapToInt(Integer::parseInt).toArray());
                }
                return new Vectors(inputs, outputs);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    static Tokenizer load(String vocab) {
        return Tokenizer.load(TestData.vocab("ggml-vocab-" + vocab + ".gguf"));
    }

    @Test
    void everyVocabularyGivesLlamaCppsIds() {
        for (String name : VOCABS) {
            Vectors vec = Vectors.of(name);
            assertEquals(vec.inputs().size(), vec.outputs().size(), name);
            assertTrue(vec.inputs().size() > 40, name);
            try (Tokenizer t = load(name)) {
                for (int i = 0; i < vec.inputs().size(); i++) {
                    String s = vec.inputs().get(i);
                    assertArrayEquals(vec.outputs().get(i), t.encode(s, false, false), name + ": '" + s + "'");
                    if (t.type() != Tokenizer.Type.WPM) assertEquals(s, t.decode(t.encode(s, false, false)), name);
                }
            }
        }
    }

    @Test
    void factsAndSpecialTokens() {
        try (Tokenizer t = load("llama-spm")) {
            assertEquals(32000, t.vocabularySize());
            assertEquals(Tokenizer.Type.SPM, t.type());
            assertEquals("llama", t.modelName());
            assertEquals("default", t.preTokenizer());
            assertTrue(t.addsBos());
            assertFalse(t.addsEos());
            assertEquals(1, t.bos().orElseThrow());
            assertEquals(2, t.eos().orElseThrow());
            assertEquals(0, t.special(Tokenizer.Special.UNK).orElseThrow());
            assertTrue(t.special(Tokenizer.Special.SEP).isEmpty());
            assertTrue(t.isEndOfGeneration(2));
            assertFalse(t.isEndOfGeneration(1));
            assertTrue(t.isControl(1));
            assertEquals(3, t.tokenType(1));
            assertEquals("<s>", t.tokenText(1));
            assertEquals("<s>", t.piece(1));
            assertEquals(0, t.pieceBytes(1, false).length);
            assertEquals("▁Hello", t.tokenText(t.find("▁Hello").orElseThrow()));
            assertEquals(" Hello", t.piece(t.find("▁Hello").orElseThrow()));
            assertTrue(t.find("no such token").isEmpty());
            assertEquals(-1.0f, t.score(260));
            int[] ids = t.encode("Hello world");
            assertEquals(1, ids[0]);
            assertEquals("Hello world", t.decode(ids));
            assertEquals(" Hello world", t.decode(ids, Tokenizer.DecodeOption.KEEP_LEADING_SPACE));
            assertEquals("<s> Hello world", t.decode(ids, Tokenizer.DecodeOption.RENDER_SPECIAL));
            assertArrayEquals(new int[] {1, 15043, 2}, t.encode("<s>Hello</s>", false, true));
        }
        try (Tokenizer t = load("gpt-2")) {
            assertEquals(Tokenizer.Type.BPE, t.type());
            assertEquals("gpt-2", t.preTokenizer());
            assertEquals(50256, t.eos().orElseThrow());
            assertTrue(t.isEndOfGeneration(50256));
            assertArrayEquals(new int[] {50256}, t.encode("<|endoftext|>", false, true));
            assertTrue(t.encode("<|endoftext|>", false, false).length > 1);
            assertEquals("Hello, world!", t.decode(t.encode("Hello , world !", false, false), Tokenizer.DecodeOption.CLEAN_SPACES));
        }
        try (Tokenizer t = load("bert-bge")) {
            assertEquals(Tokenizer.Type.WPM, t.type());
            int[] ids = t.encode("Hello");
            assertEquals(101, ids[0]);
            assertEquals(102, ids[ids.length - 1]);
            assertEquals(101, t.special(Tokenizer.Special.CLS).orElseThrow());
            assertEquals("hello world", t.decode(t.encode("Hello   World")));
        }
    }

    @Test
    void modelTokenizerGivesTheReferencePrompt() {
        Reference ref = Reference.load(TestData.reference("stories260K-f32.ref.json"));
        try (Model m = Model.load(TestData.model("stories260K-f32.gguf"))) {
            Tokenizer t = Tokenizer.of(m);
            assertArrayEquals(ref.promptTokens(), t.encode("Once upon a time there was a"));
            assertEquals(m.vocabSize(), t.vocabularySize());
            t.close(); // no-op: the model owns it
            assertEquals(512, t.vocabularySize());
            m.close();
            assertThrows(IllegalStateException.class, t::vocabularySize);
        }
        try (Tokenizer t = Tokenizer.load(TestData.model("stories260K-f16.gguf"))) {
            assertArrayEquals(ref.promptTokens(), t.encode("Once upon a time there was a"));
        }
    }

    @Test
    void encodesIntoNativeMemory() {
        try (Tokenizer t = load("gpt-2"); Arena a = Arena.ofConfined()) {
            int[] expected = t.encode("Hello world, again", false, false);
            MemorySegment out = a.allocate(ValueLayout.JAVA_INT, 16);
            assertEquals(expected.length, t.encode("Hello world, again", false, false, out));
            assertArrayEquals(expected, out.asSlice(0, expected.length * 4L).toArray(ValueLayout.JAVA_INT));
            MemorySegment small = a.allocate(ValueLayout.JAVA_INT, 2);
            assertEquals(expected.length, t.encode("Hello world, again", false, false, small)); // count, first 2 written
            assertEquals(expected[1], small.getAtIndex(ValueLayout.JAVA_INT, 1));
            MemorySegment heap = MemorySegment.ofArray(new int[8]);
            assertEquals(expected.length, t.encode("Hello world, again", false, false, heap));
            assertEquals(expected[0], heap.getAtIndex(ValueLayout.JAVA_INT, 0));
        }
    }

    @Test
    void streamDecoderNeverSplitsACharacter() {
        String text = "Llamas 🦙 say 你好!";
        try (Tokenizer t = load("llama-spm"); Tokenizer.StreamDecoder d = t.newStreamDecoder()) {
            int[] ids = t.encode(text, false, false);
            StringBuilder sb = new StringBuilder();
            for (int id : ids) {
                String part = d.push(id);
                assertFalse(part.contains("\uFFFD"), part);
                sb.append(part);
            }
            sb.append(d.flush());
            assertEquals(" " + text, sb.toString());
            assertEquals("", d.pushBytes(new byte[] {(byte) 0xF0, (byte) 0x9F}));
            assertEquals(2, d.pending());
            assertEquals("🦙", d.pushBytes(new byte[] {(byte) 0xA6, (byte) 0x99}));
            d.pushBytes(new byte[] {(byte) 0xE4});
            assertEquals("\uFFFD", d.flush());
        }
    }

    @Test
    void errorsAndClosing() {
        Tokenizer t = load("gpt-2");
        FflamaException e = assertThrows(FflamaException.class, () -> t.piece(50257));
        assertEquals(FflamaException.Status.OUT_OF_RANGE, e.status());
        assertThrows(FflamaException.class, () -> t.decode(new int[] {1, -4}));
        assertEquals("", t.decode(new int[0]));
        assertEquals(0, t.encode("", false, false).length);
        t.close();
        t.close();
        assertThrows(IllegalStateException.class, () -> t.encode("x"));
        assertThrows(FflamaException.class, () -> Tokenizer.load(Path.of("/nonexistent.gguf")));
    }

    @Test
    void concurrentEncodingAgrees() throws Exception {
        try (Tokenizer t = load("falcon")) {
            Vectors vec = Vectors.of("falcon");
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<Boolean>> results = new ArrayList<>();
                for (int k = 0; k < 8; k++) {
                    results.add(pool.submit(() -> {
                        for (int i = 0; i < vec.inputs().size(); i++) {
                            if (!Arrays.equals(vec.outputs().get(i), t.encode(vec.inputs().get(i), false, false))) return false;
                        }
                        return true;
                    }));
                }
                for (Future<Boolean> f : results) assertTrue(f.get());
            } finally {
                pool.shutdown();
            }
        }
    }
}
