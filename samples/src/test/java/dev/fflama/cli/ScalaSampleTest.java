package dev.fflama.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.fflama.TestData;
import dev.fflama.samples.ScalaSample;
import org.junit.jupiter.api.Test;

/** The Scala sample compiles against the API as Scala users write it, and produces the reference text. */
class ScalaSampleTest {
    @Test
    void scalaSampleGeneratesTheGreedyContinuation() {
        String text = ScalaSample.complete(TestData.model("stories260K-f32.gguf"), "Once upon a time there was a", 8);
        assertEquals(" little girl named Lily", text.substring(0, Math.min(text.length(), 23)));
    }
}
