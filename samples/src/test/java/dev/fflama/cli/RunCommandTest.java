package dev.fflama.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fflama.TestData;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunCommandTest {
    /** Runs the CLI in a child JVM, as a user would (stdout is written through its own stream). */
    static String[] runChild(String... args) throws Exception {
        Path javaBin = Path.of(System.getProperty("java.home"), "bin", "java");
        var cmd = new java.util.ArrayList<String>(java.util.List.of(javaBin.toString(), "--enable-native-access=ALL-UNNAMED",
                "-Dfflama.library.path=" + System.getProperty("fflama.library.path"),
                "-cp", System.getProperty("java.class.path"), "dev.fflama.cli.Main"));
        cmd.addAll(java.util.List.of(args));
        Process p = new ProcessBuilder(cmd).start();
        byte[] out = p.getInputStream().readAllBytes();
        byte[] err = p.getErrorStream().readAllBytes();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        return new String[] {Integer.toString(p.exitValue()), new String(out, StandardCharsets.UTF_8),
            new String(err, StandardCharsets.UTF_8)};
    }

    @Test
    void greedyRunPrintsExactlyTheReferenceContinuation() throws Exception {
        String hex = new ObjectMapper().readTree(TestData.reference("stories260K-f32.ref.json").toFile())
                .get("generated_bytes_hex").asText();
        String expected = new String(HexFormat.of().parseHex(hex), StandardCharsets.UTF_8);
        String[] r = runChild("run", "-m", TestData.model("stories260K-f32.gguf").toString(), "-p",
                "Once upon a time there was a", "-n", "32", "--temp", "0");
        assertEquals("0", r[0], r[2]);
        assertEquals(expected, r[1]);
        assertTrue(r[2].contains("tok/s"), r[2]);
    }

    @Test
    void jsonSchemaRunPrintsValidJson(@TempDir Path dir) throws Exception {
        Path schema = Files.writeString(dir.resolve("s.json"),
                "{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"}},\"required\":[\"ok\"],\"additionalProperties\":false}");
        String[] r = runChild("run", "-m", TestData.model("stories260K-f32.gguf").toString(), "-p", "Once", "-n", "64",
                "--seed", "3", "--temp", "1", "--json-schema", schema.toString());
        assertEquals("0", r[0], r[2]);
        assertTrue(new ObjectMapper().readTree(r[1]).get("ok").isBoolean(), r[1]);
    }

    @Test
    void missingModelIsAnErrorLine() throws Exception {
        String[] r = runChild("run", "-m", "/no/such/model.gguf", "-p", "hi");
        assertEquals("2", r[0]);
        assertTrue(r[2].startsWith("error: "), r[2]);
    }
}
