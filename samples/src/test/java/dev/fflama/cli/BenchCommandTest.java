package dev.fflama.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fflama.Fflama;
import dev.fflama.GgufFile;
import dev.fflama.Model;
import dev.fflama.TensorInfo;
import dev.fflama.TestData;
import dev.fflama.bindings.fflama_h;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Structure and sanity of the bench output; never asserts how fast anything is. */
class BenchCommandTest {
    static final List<String> MODELS = List.of("llama-dense-q4_k_m.gguf", "llama-dense-f16.gguf", "llama-moe-q8_0.gguf");

    static void positiveFinite(JsonNode o, String field) {
        assertTrue(o.has(field), field + " missing in " + o);
        double v = o.get(field).asDouble();
        assertTrue(v > 0 && Double.isFinite(v), field + " = " + v);
    }

    @Test
    void jsonHasOneObjectPerTestWithLlamaBenchFieldsAndRatios() throws IOException {
        CliRunner.Result r = CliRunner.run("bench", "-m", TestData.model(MODELS.get(0)).toString(), "-m", TestData.model(MODELS.get(1)).toString(),
                "-m", TestData.model(MODELS.get(2)).toString(), "-p", "8", "-n", "4", "-r", "2", "-t", "1", "--bandwidth-mib", "8", "--json");
        assertEquals(0, r.exit(), r.err());
        JsonNode a = new ObjectMapper().readTree(r.out());
        assertTrue(a.isArray());
        assertEquals(2 * MODELS.size(), a.size());
        for (int i = 0; i < a.size(); i++) {
            JsonNode o = a.get(i);
            boolean pp = i % 2 == 0;
            assertTrue(o.get("model_filename").asText().endsWith(MODELS.get(i / 2)), o.toString());
            assertEquals(pp ? 8 : 0, o.get("n_prompt").asInt());
            assertEquals(pp ? 0 : 4, o.get("n_gen").asInt());
            assertEquals(1, o.get("n_threads").asInt());
            assertTrue(o.get("model_type").asText().startsWith("llama"), o.toString());
            positiveFinite(o, "model_size");
            positiveFinite(o, "model_n_params");
            positiveFinite(o, "avg_ts");
            positiveFinite(o, "avg_ns");
            positiveFinite(o, "load_ms");
            double sd = o.get("stddev_ts").asDouble();
            assertTrue(sd >= 0 && Double.isFinite(sd));
            assertEquals(2, o.get("samples_ts").size());
            assertEquals(2, o.get("samples_ns").size());
            assertFalse(o.get("cpu_features").asText().isEmpty());
            assertFalse(o.get("kernel_level").asText().isEmpty());
            if (pp) {
                positiveFinite(o, "compute_ratio");
                positiveFinite(o, "peak_ops_per_second");
                assertFalse(o.has("bandwidth_ratio"));
                assertFalse(o.has("bandwidth_ratio_paired"));
                int kind = fflama_h.ffl_matmul_peak_kind(MODELS.get(i / 2).contains("f16") ? fflama_h.FFL_TYPE_F16 : fflama_h.FFL_TYPE_Q4_0);
                assertEquals(BenchCommand.peakKindName(kind), o.get("peak_kind").asText());
            } else {
                positiveFinite(o, "bandwidth_ratio");
                positiveFinite(o, "read_bandwidth");
                positiveFinite(o, "model_bytes_per_token");
                positiveFinite(o, "bandwidth_ratio_paired");
                positiveFinite(o, "read_bandwidth_paired");
                // a further tg4 in one block of 4 tokens: a probe before it and one after
                assertEquals(BenchCommand.PAIRED_BLOCK, o.get("paired_block_tokens").asInt());
                JsonNode probes = o.get("samples_read_bandwidth"), ratios = o.get("samples_bandwidth_ratio_paired");
                assertEquals(2, probes.size());
                assertEquals(1, ratios.size());
                double bw0 = probes.get(0).asDouble(), bw1 = probes.get(1).asDouble();
                assertTrue(bw0 > 0 && Double.isFinite(bw0) && bw1 > 0 && Double.isFinite(bw1), probes.toString());
                assertEquals((bw0 + bw1) / 2, o.get("read_bandwidth_paired").asDouble(), 1e-6 * bw0);
                assertEquals(ratios.get(0).asDouble(), o.get("bandwidth_ratio_paired").asDouble(), 1e-12);
                assertFalse(o.has("compute_ratio"));
            }
        }
        positiveFinite(a.get(0), "first_token_ms");
    }

    @Test
    void pairedRatiosDivideEachBlockByTheProbesAroundIt() {
        // 100 bytes per token; 8 tokens in 4 s (200 B/s) between probes of 400 and 400, 3 tokens in 1 s between 400 and 200
        BenchCommand.PairedRun run = new BenchCommand.PairedRun(new double[] {4e9, 1e9}, new int[] {8, 3}, new double[] {400, 400, 200});
        double[] r = BenchCommand.blockRatios(100, run);
        assertEquals(2, r.length);
        assertEquals(200.0 / 400, r[0], 1e-12);
        assertEquals(300.0 / 300, r[1], 1e-12);
        assertEquals(0.75, BenchCommand.median(r), 1e-12);
        assertEquals(2.0, BenchCommand.median(new double[] {3, 1, 2}), 0);
    }

    @Test
    void textModeShowsTheTableAndTheMachine() {
        CliRunner.Result r = CliRunner.run("bench", "-m", TestData.model("stories260K-f32.gguf").toString(), "-p", "8", "-n", "4", "-r", "1",
                "-t", "1,2", "--bandwidth-mib", "8");
        assertEquals(0, r.exit(), r.err());
        for (String s : List.of("pp8 |", "tg4 |", "bandwidth ", "(paired ", "compute ", "read ", "peak int8", "peak int16", "time to first token", "load average"))
            assertTrue(r.out().contains(s), s + " in\n" + r.out());
        assertEquals(4, r.out().lines().filter(l -> l.startsWith("| llama")).count(), r.out());
        // measured before the model and again at the end, for each thread count; ratios use the best
        assertEquals(2, r.out().lines().filter(l -> l.contains("best of 2 measurements in this run")).count(), r.out());
    }

    /** Weight bytes per token: everything but the embedding table (one row of it), experts by used/total. */
    @Test
    void costsCountWhatOneTokenReads() {
        try (Model m = Model.load(TestData.model("llama-moe-f32.gguf")); GgufFile g = GgufFile.open(TestData.model("llama-moe-f32.gguf"))) {
            BenchCommand.Costs c = BenchCommand.costs(m);
            long experts = 0, rest = 0, embd = 0;
            for (TensorInfo t : g.tensors()) {
                if (t.name().contains("_exps.")) experts += t.byteSize();
                else if (t.name().equals("token_embd.weight")) embd = t.byteSize();
                else rest += t.byteSize();
            }
            assertEquals(rest + experts / 2 + embd / 512, c.bytesPerToken()); // 2 of 4 experts, 512 rows
            assertEquals(fflama_h.FFL_PEAK_F32_FMA, c.peakKind());
            assertEquals(256L * 512, c.outputParams());
            // pp ops: 2 per weight per token plus the output once plus attention
            assertTrue(c.promptOps(8) > 2.0 * c.layerParamsPerToken() * 8);
        }
    }

    /** F16 prompts are bound by the 16-bit integer dot product where the level multiplies in it (AVX-512 VNNI). */
    @Test
    void f16MatricesUseThePeakOfTheirKernels() {
        try (Model m = Model.load(TestData.model("llama-dense-f16.gguf"))) {
            BenchCommand.Costs c = BenchCommand.costs(m);
            assertEquals("f16", c.dominantType());
            boolean vnni = Fflama.kernelLevel().equals("avx512") && Fflama.cpuFeatures().contains("avx512vnni");
            assertEquals(vnni ? fflama_h.FFL_PEAK_INT16_DOT : fflama_h.FFL_PEAK_F32_FMA, c.peakKind());
            assertEquals(vnni ? "int16_dot" : "f32_fma", BenchCommand.peakKindName(c.peakKind()));
        }
        try (Model m = Model.load(TestData.model("llama-dense-q4_0.gguf"))) {
            assertEquals(fflama_h.FFL_PEAK_INT8_DOT, BenchCommand.costs(m).peakKind());
        }
    }

    @Test
    void readProbeOnlyPrintsOneRatePerLineWithoutAModel() {
        CliRunner.Result r = CliRunner.run("bench", "--read-probe", "3", "-t", "1,2", "--bandwidth-mib", "8");
        assertEquals(0, r.exit(), r.err());
        List<String> lines = r.out().lines().toList();
        assertEquals(6, lines.size(), r.out());
        for (String line : lines) {
            double gbs = Double.parseDouble(line);
            assertTrue(gbs > 0 && Double.isFinite(gbs), line);
        }
    }

    @Test
    void badArgumentsExitTwo() {
        String model = TestData.model("stories260K-f32.gguf").toString();
        for (String[] args : new String[][] {{"bench", "-m", "/no/such/model.gguf"}, {"bench", "-m", model, "-r", "0"},
            {"bench", "-m", model, "-t", "0"}, {"bench", "-m", model, "-p", "-1"}, {"bench"}, {"bench", "--read-probe", "0"},
            {"bench", "--read-probe", "2", "-t", "0"}}) {
            CliRunner.Result r = CliRunner.run(args);
            assertEquals(2, r.exit(), String.join(" ", args) + ": " + r.err());
        }
    }
}
