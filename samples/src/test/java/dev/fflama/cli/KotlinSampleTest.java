package dev.fflama.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.fflama.TestData;
import dev.fflama.samples.KotlinSample;
import org.junit.jupiter.api.Test;

/** The Kotlin sample compiles against the API as Kotlin users write it, and produces the reference text. */
class KotlinSampleTest {
    @Test
    void kotlinSampleGeneratesTheGreedyContinuation() {
        String text = KotlinSample.complete(TestData.model("stories260K-f32.gguf"), "Once upon a time there was a", 8);
        assertEquals(" little girl named Lily", text.substring(0, Math.min(text.length(), 23)));
    }
}
