package dev.fflama;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates the shared fixtures: $FFLAMA_TESTDATA, else ../shared/testdata from the repository root. */
public final class TestData {
    private TestData() {}

    public static Path root() {
        String env = System.getenv("FFLAMA_TESTDATA");
        Path p = env != null && !env.isBlank() ? Path.of(env) : Path.of("..", "..", "shared", "testdata");
        if (!Files.isDirectory(p)) throw new IllegalStateException("test data not found at " + p.toAbsolutePath());
        return p;
    }

    public static Path model(String file) {
        return root().resolve("models").resolve(file);
    }

    public static Path vocab(String file) {
        return root().resolve("vocab").resolve(file);
    }

    public static Path reference(String file) {
        return root().resolve("reference").resolve(file);
    }
}
