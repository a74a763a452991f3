package dev.fflama.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fflama.FflamaException;
import dev.fflama.GgufFile;
import dev.fflama.Quantizer;
import dev.fflama.TensorInfo;
import dev.fflama.TensorType;
import dev.fflama.TestData;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QuantizeCommandTest {
    /** The CLI reproduces llama-quantize's Q4_K_M file of the fixture, tensor for tensor and byte for byte. */
    @Test
    void reproducesTheFixtureMix(@TempDir Path dir) {
        Path out = dir.resolve("out.gguf");
        CliRunner.Result r = CliRunner.run("quantize", "--no-progress", "-t", "2",
                TestData.model("llama-dense-f32.gguf").toString(), out.toString(), "Q4_K_M");
        assertEquals(0, r.exit(), r.err());
        try (GgufFile got = GgufFile.open(out); GgufFile want = GgufFile.open(TestData.model("llama-dense-q4_k_m.gguf"))) {
            assertEquals(want.tensors().size(), got.tensors().size());
            for (TensorInfo w : want.tensors()) {
                TensorInfo g = got.tensor(w.name()).orElseThrow();
                assertEquals(w.type(), g.type(), w.name());
                assertArrayEquals(want.tensorData(w).toArray(ValueLayout.JAVA_BYTE), got.tensorData(g).toArray(ValueLayout.JAVA_BYTE), w.name());
            }
            assertEquals(want.getLong("general.file_type"), got.getLong("general.file_type"));
        }
    }

    @Test
    void progressIsReportedAndBadInputIsAnError(@TempDir Path dir) {
        List<Double> progress = new ArrayList<>();
        Quantizer.quantize(TestData.model("qwen2-f32.gguf"), dir.resolve("q.gguf"), "Q8_0", 2, progress::add);
        assertFalse(progress.isEmpty());
        assertEquals(1.0, progress.get(progress.size() - 1), 1e-6);
        CliRunner.Result r = CliRunner.run("quantize", "--no-progress", TestData.model("qwen2-f32.gguf").toString(),
                dir.resolve("x.gguf").toString(), "Q9_9");
        assertEquals(2, r.exit());
        assertTrue(r.err().startsWith("error: "), r.err());
        assertFalse(Files.exists(dir.resolve("x.gguf")));
    }

    @Test
    void interruptingCancelsAndLeavesNoFile(@TempDir Path dir) {
        Thread.currentThread().interrupt();
        try {
            FflamaException e = org.junit.jupiter.api.Assertions.assertThrows(FflamaException.class,
                    () -> Quantizer.quantize(TestData.model("llama-dense-f32.gguf"), dir.resolve("c.gguf"), "IQ4_XS", 1, null));
            assertEquals(FflamaException.Status.ABORTED, e.status());
        } finally {
            Thread.interrupted();
        }
        assertFalse(Files.exists(dir.resolve("c.gguf")));
    }

    @Test
    void rowsRoundTrip() {
        float[] row = new float[64];
        for (int i = 0; i < row.length; i++) row[i] = (float) Math.cos(i * 0.3);
        byte[] q = Quantizer.quantizeRow(TensorType.Q8_0, row);
        assertEquals(2 * 34, q.length);
        float[] back = Quantizer.dequantizeRow(TensorType.Q8_0, java.lang.foreign.MemorySegment.ofArray(q), 64);
        for (int i = 0; i < row.length; i++) assertEquals(row[i], back[i], 0.01);
    }
}
