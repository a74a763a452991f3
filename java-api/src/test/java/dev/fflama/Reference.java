package dev.fflama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/** One of llama.cpp's reference files (see the testdata README). */
public record Reference(String model, int[] promptTokens, int[] generatedTokens, float[][] promptLogits,
                        float[][] generatedLogits) {

    public static Reference load(Path file) {
        try {
            JsonNode j = new ObjectMapper().readTree(file.toFile());
            return new Reference(j.get("model").asText(), ints(j.get("prompt_tokens")), ints(j.get("generated_tokens")),
                    floats(j.get("prompt_logits")), floats(j.get("generated_logits")));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }

    static float[][] floats(JsonNode a) {
        float[][] out = new float[a.size()][];
        for (int i = 0; i < out.length; i++) {
            JsonNode row = a.get(i);
            out[i] = new float[row.size()];
            for (int k = 0; k < out[i].length; k++) out[i][k] = (float) row.get(k).asDouble();
        }
        return out;
    }

    /** All tokens fed teacher-forced: the prompt then the generated continuation. */
    public int[] allTokens() {
        int[] all = java.util.Arrays.copyOf(promptTokens, promptTokens.length + generatedTokens.length);
        System.arraycopy(generatedTokens, 0, all, promptTokens.length, generatedTokens.length);
        return all;
    }

    /** Reference logits after feeding allTokens()[0..i]. */
    public float[] logitsAt(int i) {
        return i < promptLogits.length ? promptLogits[i] : generatedLogits[i - promptLogits.length];
    }

    public static double nmse(float[] x, float[] ref) {
        double num = 0, den = 0;
        for (int i = 0; i < x.length; i++) {
            double d = x[i] - ref[i];
            num += d * d;
            den += (double) ref[i] * ref[i];
        }
        return num / den;
    }

    public static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    /** Top-1 minus top-2 of the reference. */
    public static double margin(float[] v) {
        float a = Float.NEGATIVE_INFINITY, b = Float.NEGATIVE_INFINITY;
        for (float x : v) {
            if (x > a) {
                b = a;
                a = x;
            } else if (x > b) {
                b = x;
            }
        }
        return a - b;
    }
}
