package dev.fflama.cli;

import dev.fflama.Tokenizer;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code fflama tokenize -m FILE (-p TEXT | -f FILE | --test-file X.inp)}: a model's token ids.
 * With {@code --test-file} it reads llama.cpp's tokenizer test strings and prints one line of ids per
 * string, byte for byte in the format of the matching .out file (each id preceded by a space).
 */
@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = "Print the token ids (and pieces) of a text with a model's tokenizer.")
final class TokenizeCommand implements Callable<Integer> {
    @Option(names = {"-m", "--model"}, required = true, paramLabel = "FILE",
            description = "GGUF model or vocabulary-only GGUF file")
    Path model;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = {"-p", "--prompt"}, paramLabel = "TEXT", description = "text to tokenize")
        String prompt;

        @Option(names = {"-f", "--file"}, paramLabel = "FILE", description = "tokenize the contents of a UTF-8 file")
        Path file;

        @Option(names = "--test-file", paramLabel = "X.inp",
                description = "llama.cpp test strings (separated by \"\\n__ggml_vocab_test__\\n\"); prints one line of ids per string")
        Path testFile;
    }

    @Option(names = "--add-special", negatable = true, fallbackValue = "true",
            description = "add BOS/EOS as the vocabulary asks (default: on, off with --test-file)")
    Boolean addSpecial;

    @Option(names = "--parse-special", description = "turn the text of control tokens (e.g. <|im_start|>) into those tokens")
    boolean parseSpecial;

    @Option(names = "--ids", description = "print only the ids, space separated, on one line")
    boolean idsOnly;

    @Override
    public Integer call() throws Exception {
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        try (Tokenizer tokenizer = Tokenizer.load(model)) {
            if (input.testFile != null) {
                boolean add = addSpecial != null && addSpecial;
                String all = Files.readString(input.testFile, StandardCharsets.UTF_8);
                String sep = "\n__ggml_vocab_test__\n";
                int pos = 0;
                for (int hit; (hit = all.indexOf(sep, pos)) >= 0; pos = hit + sep.length()) {
                    out.println(outLine(tokenizer.encode(all.substring(pos, hit), add, parseSpecial)));
                }
            } else {
                String text = input.prompt != null ? input.prompt : Files.readString(input.file, StandardCharsets.UTF_8);
                int[] ids = tokenizer.encode(text, addSpecial == null || addSpecial, parseSpecial);
                if (idsOnly) {
                    out.println(join(ids));
                } else {
                    for (int id : ids) out.printf("%6d -> '%s'%n", id, escape(tokenizer.piece(id)));
                    out.printf("%d tokens%n", ids.length);
                }
            }
        }
        out.flush();
        return 0;
    }

    /** A line as llama.cpp's test-tokenizer-0 writes its .out files: every id preceded by one space. */
    static String outLine(int[] ids) {
        StringBuilder sb = new StringBuilder();
        for (int id : ids) sb.append(' ').append(id);
        return sb.toString();
    }

    static String join(int[] ids) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < ids.length; i++) {
            if (i > 0) sb.append(' ');
            sb.append(ids[i]);
        }
        return sb.toString();
    }

    /** Control characters shown as escapes so each token stays on its line. */
    static String escape(String s) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\\' -> sb.append("\\\\");
                default -> {
                    if (c < 0x20) sb.append(String.format("\\x%02x", (int) c));
                    else sb.append(c);
                }
            }
        }
        return sb.toString();
    }
}
