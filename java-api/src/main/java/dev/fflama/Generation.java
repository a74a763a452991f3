package dev.fflama;

import java.util.List;
import java.util.function.Consumer;

/**
 * Options of one generation. Immutable: every method returns a changed copy, so presets can be
 * shared. Start from {@link #maxTokens(int)} or {@link #defaults()}:
 * <pre>{@code Generation.maxTokens(128).sampler(sampler).stopAt("\n\n")}</pre>
 *
 * @param maxTokens      most tokens to generate
 * @param sampler        how to pick tokens
 * @param stopStrings    text that ends generation (matched across token boundaries, never emitted)
 * @param stopAtEndToken end at the model's end-of-generation tokens (default true)
 * @param addSpecial     add BOS/EOS to a text prompt as the vocabulary says (default true)
 * @param parseSpecial   read special-token text such as {@code <|im_start|>} in a text prompt as those tokens (default true)
 * @param onToken        called with every token on the generating thread (may be null)
 */
public record Generation(int maxTokens, Sampler sampler, List<String> stopStrings, boolean stopAtEndToken,
                         boolean addSpecial, boolean parseSpecial, Consumer<Token> onToken) {
    public Generation {
        if (maxTokens < 0) throw new IllegalArgumentException("maxTokens must be >= 0");
        if (sampler == null) throw new IllegalArgumentException("sampler is null");
        stopStrings = List.copyOf(stopStrings);
    }

    /** 256 tokens, {@link Sampler#defaults()}, no stop strings. */
    public static Generation defaults() {
        return new Generation(256, Sampler.defaults(), List.of(), true, true, true, null);
    }

    public static Generation maxTokens(int n) {
        return defaults().withMaxTokens(n);
    }

    public Generation withMaxTokens(int n) {
        return new Generation(n, sampler, stopStrings, stopAtEndToken, addSpecial, parseSpecial, onToken);
    }

    public Generation sampler(Sampler s) {
        return new Generation(maxTokens, s, stopStrings, stopAtEndToken, addSpecial, parseSpecial, onToken);
    }

    public Generation stopAt(String... stops) {
        return new Generation(maxTokens, sampler, List.of(stops), stopAtEndToken, addSpecial, parseSpecial, onToken);
    }

    public Generation stopAtEndToken(boolean on) {
        return new Generation(maxTokens, sampler, stopStrings, on, addSpecial, parseSpecial, onToken);
    }

    public Generation addSpecial(boolean on) {
        return new Generation(maxTokens, sampler, stopStrings, stopAtEndToken, on, parseSpecial, onToken);
    }

    public Generation parseSpecial(boolean on) {
        return new Generation(maxTokens, sampler, stopStrings, stopAtEndToken, addSpecial, on, onToken);
    }

    public Generation onToken(Consumer<Token> callback) {
        return new Generation(maxTokens, sampler, stopStrings, stopAtEndToken, addSpecial, parseSpecial, callback);
    }
}
