package dev.fflama.chat;

import dev.fflama.GgufFile;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A chat template: turns a list of {@link ChatMessage}s into the prompt text a model was trained
 * on. Templates are the Jinja sources that Hugging Face tokenizers carry and GGUF files store under
 * {@code tokenizer.chat_template}; they are rendered by <a href="https://github.com/HubSpot/jinjava">Jinjava</a>
 * configured the way {@code transformers}' {@code apply_chat_template} configures Jinja
 * ({@code trim_blocks} and {@code lstrip_blocks} on, loop controls, {@code raise_exception},
 * {@code strftime_now}, a {@code tojson} that prints exactly like Python's {@code json.dumps}).
 *
 * <h2>Variables a template sees</h2>
 * {@code messages} (list of dicts with {@code role} and {@code content}), {@code add_generation_prompt},
 * {@code bos_token}, {@code eos_token}, plus any extra variables given to
 * {@link #render(List, boolean, Map)} (for example {@code tools}, {@code date_string},
 * {@code enable_thinking}). Variables not given are undefined, so {@code tools is defined} is false
 * and {@code tools is none} is true unless tools were passed.
 *
 * <h2>Python semantics on top of Jinjava</h2>
 * Real templates are written against Python's Jinja, so this class adds what Jinjava lacks or
 * does differently: Python string methods ({@code strip lstrip rstrip startswith endswith upper
 * lower title capitalize split rsplit splitlines replace find rfind count join removeprefix
 * removesuffix isdigit ...}), string indexing ({@code s[-1]}), extended slices
 * ({@code messages[::-1]}), {@code dict.get(k, default)}/{@code items()}/{@code keys()}/{@code values()},
 * the {@code items} filter, Python's {@code strip()} for {@code |trim}, Python's answer for
 * {@code is iterable}/{@code is sequence} on strings, {@code not} binding looser than comparisons
 * ({@code not x|length == 1}), keyword arguments holding expressions
 * ({@code namespace(i=messages|length - 1)}), {@code for x in xs if cond} loop filters,
 * {@code for ... else}, dict literals ending in {@code }}}, {@code True}/{@code False} output, the
 * {@code {% generation %}} block, and Jinja's line-break handling (CR LF becomes LF, one trailing
 * newline of the template is dropped). The published templates of Llama 2/3/3.1/3.2, Mistral v0.3,
 * Qwen2/2.5/3, Gemma 2, Phi-3, Zephyr/TinyLlama and SmolLM2 render byte for byte as
 * {@code transformers} renders them, tool calls included.
 *
 * <p>Known differences, none of which those templates depend on: Jinjava has one null for both
 * Python's {@code None} and "undefined", so an undefined variable {@code is none}, {@code none is
 * defined} is false, {@code {{ none }}} prints nothing (Python: {@code None}), and an attribute of an
 * undefined value is undefined rather than an error; chained comparisons ({@code a < b < c}) and
 * the {@code %} string-formatting operator are not supported; tuples print as lists.
 *
 * <h2>Errors</h2>
 * A template that does not parse fails in {@link #of}; a template that calls
 * {@code raise_exception('...')} or fails while rendering makes {@code render} throw a
 * {@link ChatTemplateException} (an {@link IllegalArgumentException}) whose message is the
 * template's own message. No method throws a checked exception.
 *
 * <h2>Threads and cost</h2>
 * Instances are immutable and thread-safe: the template is parsed once, and each render uses its
 * own interpreter, so any number of threads may render with one instance at once. Rendering a
 * typical conversation takes tens of microseconds.
 *
 * <pre>{@code
 * ChatTemplate t = ChatTemplate.fromGguf(gguf);   // or ChatTemplate.of(source, bosText, eosText)
 * String prompt = t.render(List.of(ChatMessage.system("Be brief."), ChatMessage.user("Hi!")), true);
 * }</pre>
 */
public final class ChatTemplate {

    private static final String RESOURCE_DIR = "/dev/fflama/chat/templates/";

    /** Built-in templates: name -> resource file, default BOS and EOS tokens. */
    private record Builtin(String file, String bos, String eos) {}

    private static final Map<String, Builtin> BUILTINS = Map.of(
            "chatml", new Builtin("chatml.jinja", "", "<|im_end|>"),
            "llama2", new Builtin("llama2.jinja", "<s>", "</s>"),
            "llama3", new Builtin("llama3.jinja", "<|begin_of_text|>", "<|eot_id|>"),
            "mistral", new Builtin("mistral.jinja", "<s>", "</s>"),
            "mistral-instruct", new Builtin("mistral.jinja", "<s>", "</s>"),
            "gemma", new Builtin("gemma.jinja", "<bos>", "<eos>"),
            "phi3", new Builtin("phi3.jinja", "<s>", "<|endoftext|>"),
            "zephyr", new Builtin("zephyr.jinja", "<s>", "</s>"));

    private static final Map<String, JinjaEnvironment.Compiled> BUILTIN_CACHE = new ConcurrentHashMap<>();

    private final String source;
    private final String name;
    private final JinjaEnvironment.Compiled compiled;
    private final String bosToken;
    private final String eosToken;
    private final Clock clock;

    private ChatTemplate(String source, String name, JinjaEnvironment.Compiled compiled, String bosToken,
            String eosToken, Clock clock) {
        this.source = source;
        this.name = name;
        this.compiled = compiled;
        this.bosToken = bosToken == null ? "" : bosToken;
        this.eosToken = eosToken == null ? "" : eosToken;
        this.clock = clock;
    }

    /**
     * Compiles a Jinja chat template, for example the {@code tokenizer.chat_template} value of a
     * GGUF file or the {@code chat_template} of a {@code tokenizer_config.json}.
     *
     * @param jinjaSource the template source
     * @param bosToken    the model's beginning-of-sequence token text ({@code bos_token}); null means ""
     * @param eosToken    the model's end-of-sequence token text ({@code eos_token}); null means ""
     * @return the compiled template
     * @throws ChatTemplateException if the source does not parse
     * @throws NullPointerException  if jinjaSource is null
     */
    public static ChatTemplate of(String jinjaSource, String bosToken, String eosToken) {
        Objects.requireNonNull(jinjaSource, "jinjaSource");
        return new ChatTemplate(jinjaSource, null, JinjaEnvironment.compile(jinjaSource), bosToken, eosToken, null);
    }

    /**
     * The model's template if it has one, else {@link #fallback(String, String) the ChatML fallback}:
     * what to use for a model whose metadata may lack {@code tokenizer.chat_template}.
     *
     * @param jinjaSourceOrNull the template source, or null/blank when the model has none
     * @param bosToken          the BOS token text; null means ""
     * @param eosToken          the EOS token text; null means ""
     * @return the compiled template or the fallback
     * @throws ChatTemplateException if a source is given and does not parse
     */
    public static ChatTemplate orFallback(String jinjaSourceOrNull, String bosToken, String eosToken) {
        if (jinjaSourceOrNull == null || jinjaSourceOrNull.isBlank()) {
            return fallback(bosToken, eosToken);
        }
        return of(jinjaSourceOrNull, bosToken, eosToken);
    }

    /**
     * The template of a GGUF model: its {@code tokenizer.chat_template} with the texts of its BOS
     * and EOS tokens ({@code tokenizer.ggml.tokens} at {@code tokenizer.ggml.bos_token_id} /
     * {@code eos_token_id}), or the {@link #fallback(String, String) ChatML fallback} with those
     * tokens when the file has no template.
     *
     * @param gguf an open GGUF file; only its metadata is read
     * @return the compiled template or the fallback
     * @throws ChatTemplateException if the file's template does not parse
     */
    public static ChatTemplate fromGguf(GgufFile gguf) {
        Objects.requireNonNull(gguf, "gguf");
        List<String> tokens = gguf.getStringArray("tokenizer.ggml.tokens").orElse(List.of());
        return orFallback(gguf.getString("tokenizer.chat_template").orElse(null),
                tokenText(gguf, tokens, "tokenizer.ggml.bos_token_id"),
                tokenText(gguf, tokens, "tokenizer.ggml.eos_token_id"));
    }

    private static String tokenText(GgufFile gguf, List<String> tokens, String idKey) {
        OptionalLong id = gguf.getLong(idKey);
        if (id.isEmpty() || id.getAsLong() < 0 || id.getAsLong() >= tokens.size()) {
            return "";
        }
        return tokens.get((int) id.getAsLong());
    }

    /**
     * The template for models without one: ChatML, that is
     * {@code <|im_start|>role\ncontent<|im_end|>\n} per message and {@code <|im_start|>assistant\n}
     * as the generation prompt (no BOS or EOS is inserted).
     *
     * @param bosToken the BOS token text, visible to the template as {@code bos_token}
     * @param eosToken the EOS token text, visible to the template as {@code eos_token}
     * @return the ChatML template
     */
    public static ChatTemplate fallback(String bosToken, String eosToken) {
        return builtin("chatml", bosToken, eosToken);
    }

    /**
     * The ChatML {@link #fallback(String, String) fallback} with empty BOS and EOS tokens.
     *
     * @return the ChatML template
     */
    public static ChatTemplate fallback() {
        return fallback("", "");
    }

    /**
     * A well-known template by name, with that family's usual BOS and EOS tokens. Names (case
     * insensitive): {@code chatml}, {@code llama2}, {@code llama3}, {@code mistral} (alias
     * {@code mistral-instruct}), {@code gemma}, {@code phi3}, {@code zephyr}; see
     * {@link #builtinNames()}.
     *
     * @param name the template name
     * @return the template
     * @throws IllegalArgumentException if the name is unknown
     */
    public static ChatTemplate builtin(String name) {
        Builtin b = lookup(name);
        return builtin(name, b.bos(), b.eos());
    }

    /**
     * A well-known template by name with the given BOS and EOS tokens.
     *
     * @param name     the template name, see {@link #builtin(String)}
     * @param bosToken the BOS token text; null means ""
     * @param eosToken the EOS token text; null means ""
     * @return the template
     * @throws IllegalArgumentException if the name is unknown
     */
    public static ChatTemplate builtin(String name, String bosToken, String eosToken) {
        Builtin b = lookup(name);
        String src = builtinSource(b.file());
        JinjaEnvironment.Compiled c = BUILTIN_CACHE.computeIfAbsent(b.file(), f -> JinjaEnvironment.compile(src));
        return new ChatTemplate(src, name.toLowerCase(Locale.ROOT), c, bosToken, eosToken, null);
    }

    /**
     * The names {@link #builtin(String)} accepts.
     *
     * @return the names, sorted
     */
    public static Set<String> builtinNames() {
        return new TreeSet<>(BUILTINS.keySet());
    }

    private static Builtin lookup(String name) {
        Objects.requireNonNull(name, "name");
        Builtin b = BUILTINS.get(name.toLowerCase(Locale.ROOT));
        if (b == null) {
            throw new IllegalArgumentException("unknown chat template '" + name + "', known: " + builtinNames());
        }
        return b;
    }

    private static String builtinSource(String file) {
        try (InputStream in = ChatTemplate.class.getResourceAsStream(RESOURCE_DIR + file)) {
            if (in == null) {
                throw new IllegalStateException("missing resource " + RESOURCE_DIR + file);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * This template with another clock for {@code strftime_now} (templates such as Llama 3.2's put
     * today's date in the system prompt); useful for reproducible prompts and tests.
     *
     * @param clock the clock; its zone is the one dates are printed in
     * @return a template that shares this one's compiled form
     */
    public ChatTemplate withClock(Clock clock) {
        return new ChatTemplate(source, name, compiled, bosToken, eosToken, Objects.requireNonNull(clock, "clock"));
    }

    /**
     * Renders a conversation.
     *
     * @param messages            the conversation, oldest first
     * @param addGenerationPrompt whether to end with the header that starts the assistant's reply
     *                            (true when the prompt is fed to the model for generation)
     * @return the prompt text, with special tokens as text (tokenize it with special-token parsing on)
     * @throws ChatTemplateException if the template rejects the conversation or fails
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /**
     * Renders a conversation with extra template variables, such as {@code tools} (a list of tool
     * definitions as maps or records), {@code date_string} or {@code enable_thinking}.
     *
     * @param messages            the conversation, oldest first
     * @param addGenerationPrompt whether to end with the header that starts the assistant's reply
     * @param variables           extra variables; {@code messages}, {@code add_generation_prompt},
     *                            {@code bos_token} and {@code eos_token} cannot be overridden
     * @return the prompt text
     * @throws ChatTemplateException if the template rejects the conversation or fails
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, Map<String, ?> variables) {
        Objects.requireNonNull(messages, "messages");
        List<Map<String, Object>> maps = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            maps.add(Objects.requireNonNull(m, "message").toMap());
        }
        return renderInternal(maps, addGenerationPrompt, variables);
    }

    /**
     * Renders messages given as maps, for what {@link ChatMessage} does not carry: assistant
     * {@code tool_calls}, a tool message's {@code tool_call_id} or {@code name}, structured
     * {@code content}. Values may be maps, lists, strings, numbers, booleans, null or records.
     * The caller's maps are copied, never modified.
     *
     * @param messages            the conversation as dicts with at least {@code role}
     * @param addGenerationPrompt whether to end with the header that starts the assistant's reply
     * @param variables           extra variables, as for {@link #render(List, boolean, Map)}
     * @return the prompt text
     * @throws ChatTemplateException if the template rejects the conversation or fails
     */
    public String renderMaps(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt,
            Map<String, ?> variables) {
        Objects.requireNonNull(messages, "messages");
        List<Map<String, Object>> maps = new ArrayList<>(messages.size());
        for (Map<String, ?> m : messages) {
            maps.add(new LinkedHashMap<>(Objects.requireNonNull(m, "message")));
        }
        return renderInternal(maps, addGenerationPrompt, variables);
    }

    private String renderInternal(List<Map<String, Object>> messages, boolean addGenerationPrompt,
            Map<String, ?> variables) {
        Map<String, Object> bindings = new HashMap<>();
        for (String f : JinjaEnvironment.FUNCTION_GLOBALS) {
            bindings.put(f, f); // so that "raise_exception is defined" holds, as in HF
        }
        if (variables != null) {
            bindings.putAll(variables);
        }
        bindings.put("messages", messages);
        bindings.put("add_generation_prompt", addGenerationPrompt);
        bindings.put("bos_token", bosToken);
        bindings.put("eos_token", eosToken);
        if (clock != null) {
            bindings.put(JinjaEnvironment.CLOCK_VAR, clock);
        }
        return JinjaEnvironment.render(compiled, bindings);
    }

    /**
     * The Jinja source this template was compiled from.
     *
     * @return the source, as given (before any internal rewriting)
     */
    public String source() {
        return source;
    }

    /**
     * The text bound to {@code bos_token}.
     *
     * @return the BOS token text, possibly empty
     */
    public String bosToken() {
        return bosToken;
    }

    /**
     * The text bound to {@code eos_token}.
     *
     * @return the EOS token text, possibly empty
     */
    public String eosToken() {
        return eosToken;
    }

    @Override
    public String toString() {
        if (name != null) {
            return "ChatTemplate[builtin " + name + "]";
        }
        String s = source.length() > 48 ? source.substring(0, 48) + "..." : source;
        return "ChatTemplate[" + s.replace("\n", "\\n") + "]";
    }
}
