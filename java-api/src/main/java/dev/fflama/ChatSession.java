package dev.fflama;

import dev.fflama.chat.ChatMessage;
import dev.fflama.chat.ChatTemplate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A multi-turn chat on a {@link Session}: role messages are rendered with the model's
 * {@code tokenizer.chat_template} (Jinja, see {@link ChatTemplate}), or ChatML when the model has
 * none. The KV cache is reused across turns: each turn evaluates only the tokens after the longest
 * prefix the cache already holds. Like its session, one thread at a time.
 *
 * <pre>{@code
 * try (ChatSession chat = ChatSession.open(model, SessionOptions.defaults(), "You are brief.")) {
 *     chat.send("Hello!", Generation.maxTokens(200)).forEachRemaining(t -> System.out.print(t.text()));
 * }
 * }</pre>
 */
public final class ChatSession implements AutoCloseable {
    private final Session session;
    private final boolean ownsSession;
    private final ChatTemplate template;
    private final List<ChatMessage> messages = new ArrayList<>();
    private int[] cached = new int[0]; // tokens of sequence 0, in order
    private int lastPromptEvaluated;

    /** A chat on an existing session (which it clears first and does not close). */
    public ChatSession(Session session, ChatTemplate template, String systemPrompt) {
        this(session, false, template, systemPrompt);
    }

    private ChatSession(Session session, boolean owns, ChatTemplate template, String systemPrompt) {
        this.session = session;
        this.ownsSession = owns;
        this.template = template;
        session.clear();
        if (systemPrompt != null && !systemPrompt.isBlank()) messages.add(ChatMessage.system(systemPrompt));
    }

    /** Opens a session on the model and chats with the model's own template. */
    public static ChatSession open(Model model, SessionOptions options, String systemPrompt) {
        ChatTemplate template = ChatTemplate.fromGguf(model.gguf());
        Session s = model.newSession(options);
        try {
            return new ChatSession(s, true, template, systemPrompt);
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
    }

    public static ChatSession open(Model model, SessionOptions options) {
        return open(model, options, null);
    }

    /**
     * Adds a user message and generates the assistant's answer. When the stream ends (or is
     * closed) the answer so far becomes part of the history.
     */
    public TokenStream send(String userMessage, Generation generation) {
        messages.add(ChatMessage.user(userMessage));
        String prompt = template.render(messages, true);
        boolean addSpecial = generation.addSpecial() && !startsWithBos(prompt);
        int[] tokens = session.tokenize(prompt, addSpecial, true);
        int shared = commonPrefix(cached, tokens);
        final int common = shared == tokens.length ? shared - 1 : shared; // evaluate at least one token for fresh logits
        session.rewind(common);
        int[] fresh = Arrays.copyOfRange(tokens, common, tokens.length);
        cached = Arrays.copyOf(tokens, common);
        TokenStream stream = session.generate(fresh, generation);
        stream.onFinish(done -> {
            int[] gen = done.decodedTokens();
            int[] next = Arrays.copyOf(tokens, tokens.length + gen.length);
            System.arraycopy(gen, 0, next, tokens.length, gen.length);
            cached = done.promptEvaluated() ? next : Arrays.copyOf(tokens, common);
            if (!done.promptEvaluated()) session.rewind(common);
            messages.add(ChatMessage.assistant(done.emittedText()));
        });
        lastPromptEvaluated = fresh.length;
        return stream;
    }

    /** Sends a message and returns the whole answer. */
    public String reply(String userMessage, Generation generation) {
        return send(userMessage, generation).text();
    }

    /** Tokens the last {@link #send} had to evaluate before generating (the rest came from the cache). */
    public int lastPromptTokensEvaluated() {
        return lastPromptEvaluated;
    }

    /** The conversation so far (system, user and assistant messages). */
    public List<ChatMessage> history() {
        return List.copyOf(messages);
    }

    /** Forgets the conversation except the system prompt. */
    public void reset() {
        ChatMessage system = !messages.isEmpty() && messages.get(0).role().equals(ChatMessage.SYSTEM) ? messages.get(0) : null;
        messages.clear();
        if (system != null) messages.add(system);
        session.clear();
        cached = new int[0];
    }

    public Session session() {
        return session;
    }

    public ChatTemplate template() {
        return template;
    }

    private boolean startsWithBos(String prompt) {
        String bos = template.bosToken();
        return bos != null && !bos.isEmpty() && prompt.startsWith(bos);
    }

    static int commonPrefix(int[] a, int[] b) {
        int n = Math.min(a.length, b.length), i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }

    /** Closes the session if this chat opened it. */
    @Override
    public void close() {
        if (ownsSession) session.close();
    }
}
