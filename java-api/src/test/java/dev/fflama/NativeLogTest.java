package dev.fflama;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Native messages reach SLF4J (slf4j-simple writes to stderr in tests), never stdout. */
class NativeLogTest {
    @Test
    void nativeMessagesGoThroughSlf4j() {
        NativeLoader.load();
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            Fflama.logNative(3, "native warning reaches slf4j");
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        String logged = err.toString(StandardCharsets.UTF_8);
        assertTrue(logged.contains("WARN") && logged.contains("dev.fflama.native") && logged.contains("native warning reaches slf4j"), logged);
        assertTrue(out.size() == 0, "nothing may reach stdout");
    }
}
