package dev.fflama.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fflama.TestData;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ChatCommandTest {
    @Test
    void multiTurnChatOverStdin() throws Exception {
        Path javaBin = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> cmd = new ArrayList<>(List.of(javaBin.toString(), "--enable-native-access=ALL-UNNAMED",
                "-Dfflama.library.path=" + System.getProperty("fflama.library.path"), "-cp", System.getProperty("java.class.path"),
                "dev.fflama.cli.Main", "chat", "-m", TestData.model("stories260K-f32.gguf").toString(), "-n", "10", "--seed", "1",
                "--system", "Be nice."));
        Process p = new ProcessBuilder(cmd).start();
        p.getOutputStream().write("Hello\n/reset\nOnce more\n/exit\n".getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), err);
        assertTrue(out.contains("(conversation cleared)"), out);
        assertEquals(2, err.lines().filter(l -> l.contains("tok/s")).count(), err);
        assertEquals(4, out.split("> ", -1).length - 1, out); // four prompts: two answers, reset, exit
    }
}
