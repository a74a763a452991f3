package dev.fflama.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fflama.Reference;
import dev.fflama.TestData;
import java.util.Arrays;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class LogitsCommandTest {
    @Test
    void jsonLogitsMatchTheReferenceAtEveryPosition() throws Exception {
        Reference ref = Reference.load(TestData.reference("stories260K-f32.ref.json"));
        String tokens = Arrays.stream(ref.promptTokens()).mapToObj(Integer::toString).collect(Collectors.joining(","));
        CliRunner.Result r = CliRunner.run("logits", "-m", TestData.model("stories260K-f32.gguf").toString(),
                "--tokens", tokens, "--json", "-t", "2");
        assertEquals(0, r.exit(), r.err());
        JsonNode rows = new ObjectMapper().readTree(r.out());
        assertEquals(ref.promptTokens().length, rows.size());
        for (int i = 0; i < rows.size(); i++) {
            float[] got = new float[rows.get(i).size()];
            for (int k = 0; k < got.length; k++) got[k] = (float) rows.get(i).get(k).asDouble();
            assertTrue(Reference.nmse(got, ref.logitsAt(i)) <= 1e-6, "position " + i);
        }
    }

    @Test
    void badTokenIsAnErrorLine() {
        CliRunner.Result r = CliRunner.run("logits", "-m", TestData.model("stories260K-f32.gguf").toString(), "--tokens", "1,70000");
        assertEquals(2, r.exit());
        assertTrue(r.err().startsWith("error: "), r.err());
    }
}
