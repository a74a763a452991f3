package dev.fflama.cli;

import dev.fflama.ChatSession;
import dev.fflama.Generation;
import dev.fflama.KvType;
import dev.fflama.Model;
import dev.fflama.SessionOptions;
import dev.fflama.Token;
import dev.fflama.TokenStream;
import dev.fflama.chat.ChatTemplate;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code fflama chat -m MODEL}: an interactive multi-turn chat. Ctrl-C stops the current answer and
 * returns to the prompt; Ctrl-D, {@code /exit} or Ctrl-C at the prompt leaves; {@code /reset} forgets.
 */
@Command(name = "chat", mixinStandardHelpOptions = true, description = "Chat with a model in the terminal.")
final class ChatCommand implements Callable<Integer> {
    @Option(names = {"-m", "--model"}, required = true, description = "GGUF model file")
    Path model;

    @Option(names = {"-sys", "--system"}, description = "system prompt")
    String system;

    @Option(names = "--chat-template", description = "built-in template name instead of the model's (chatml, llama3, ...)")
    String templateName;

    @Option(names = {"-n", "--n-predict"}, description = "most tokens per answer (default: ${DEFAULT-VALUE})")
    int maxTokens = 512;

    @Option(names = {"-c", "--ctx-size"}, description = "context size (default: ${DEFAULT-VALUE})")
    int contextSize = 4096;

    @Option(names = {"-t", "--threads"}, description = "threads (default: physical cores)")
    int threads;

    @Mixin
    SamplingOptions sampling;

    @Override
    public Integer call() throws Exception {
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        Generation generation = Generation.maxTokens(maxTokens).sampler(sampling.build());
        SessionOptions options = SessionOptions.builder().contextSize(contextSize).threads(threads).kvType(KvType.F16).build();
        try (Model m = Model.load(model); ChatSession chat = templateName == null ? ChatSession.open(m, options, system)
                : new ChatSession(m.newSession(options), ChatTemplate.builtin(templateName), system)) {
            AtomicReference<Thread> answering = new AtomicReference<>();
            installInterruptHandler(answering);
            out.println("fflama chat: " + m.description() + ". Ctrl-C stops an answer; /reset forgets; /exit or Ctrl-D leaves.");
            while (true) {
                out.print("> ");
                out.flush();
                String line = in.readLine();
                if (line == null || line.strip().equals("/exit")) break;
                if (line.isBlank()) continue;
                if (line.strip().equals("/reset")) {
                    chat.reset();
                    out.println("(conversation cleared)");
                    continue;
                }
                answering.set(Thread.currentThread());
                try (TokenStream answer = chat.send(line, generation)) {
                    while (answer.hasNext()) {
                        Token t = answer.next();
                        out.print(t.text());
                    }
                    out.println();
                    if (answer.finishReason() == dev.fflama.FinishReason.CANCELLED) out.println("(stopped)");
                    System.err.printf("[%d tokens, %.1f tok/s]%n", answer.generatedTokenCount(), answer.generationTokensPerSecond());
                } finally {
                    answering.set(null);
                    Thread.interrupted(); // a Ctrl-C that arrived after the answer ended must not cancel the next
                }
            }
        }
        return 0;
    }

    /** Ctrl-C interrupts the answering thread (ending the answer) or, at the prompt, exits. */
    @SuppressWarnings("removal")
    private static void installInterruptHandler(AtomicReference<Thread> answering) {
        try {
            sun.misc.Signal.handle(new sun.misc.Signal("INT"), sig -> {
                Thread t = answering.get();
                if (t != null) t.interrupt();
                else System.exit(130);
            });
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            // no SIGINT on this platform: Ctrl-C keeps its default meaning
        }
    }
}
