package dev.fflama.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fflama.TestData;
import dev.fflama.TokenizerTest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class TokenizeCommandTest {
    @Test
    void testFilesGiveTheirOutFilesExactly() throws IOException {
        for (String name : TokenizerTest.VOCABS) {
            Path gguf = TestData.vocab("ggml-vocab-" + name + ".gguf");
            CliRunner.Result r = CliRunner.run("tokenize", "-m", gguf.toString(), "--test-file", gguf + ".inp");
            assertEquals(0, r.exit(), r.err());
            List<String> expected = Files.readAllLines(Path.of(gguf + ".out"), StandardCharsets.UTF_8);
            List<String> got = r.out().lines().toList();
            assertEquals(expected.size(), got.size(), name);
            for (int i = 0; i < expected.size(); i++) assertEquals(expected.get(i), got.get(i), name + " line " + (i + 1));
            assertEquals(Files.readString(Path.of(gguf + ".out"), StandardCharsets.UTF_8), r.out().replace("\r\n", "\n"), name);
        }
    }

    @Test
    void promptPrintsIdsAndPieces() {
        CliRunner.Result r = CliRunner.run("tokenize", "-m", TestData.model("stories260K-f32.gguf").toString(), "-p",
                "Once upon a time there was a");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("     1 -> '<s>'"), r.out());
        assertTrue(r.out().contains("   403 -> ' Once'"), r.out());
        assertTrue(r.out().contains("8 tokens"), r.out());
        r = CliRunner.run("tokenize", "-m", TestData.model("stories260K-f32.gguf").toString(), "--ids", "-p",
                "Once upon a time there was a");
        assertEquals("1 403 407 261 378 383 286 261", r.out().strip());
        r = CliRunner.run("tokenize", "-m", TestData.vocab("ggml-vocab-gpt-2.gguf").toString(), "--ids", "--parse-special",
                "-p", "<|endoftext|>");
        assertEquals("50256", r.out().strip());
    }

    @Test
    void badInputIsAnErrorNotACrash() {
        CliRunner.Result r = CliRunner.run("tokenize", "-m", "/nonexistent.gguf", "-p", "x");
        assertEquals(Main.EXIT_BAD_INPUT, r.exit());
        assertTrue(r.err().contains("error:"), r.err());
        assertNotEquals(0, CliRunner.run("tokenize", "-m", TestData.vocab("ggml-vocab-gpt-2.gguf").toString()).exit());
    }
}
