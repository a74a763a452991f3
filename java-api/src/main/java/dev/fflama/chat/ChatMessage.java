package dev.fflama.chat;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * One message of a conversation, as chat templates see it: {@code message.role} and
 * {@code message.content} (or {@code message['role']} / {@code message['content']}).
 *
 * <p>Roles are free-form strings; the usual ones have factories. Templates differ in what they
 * accept: some reject a {@code system} message or require user and assistant turns to
 * alternate, which {@link ChatTemplate#render} reports as a {@link ChatTemplateException}. For
 * messages with more fields (tool calls, tool call ids) use {@link ChatTemplate#renderMaps}.
 *
 * @param role    the speaker: {@code "system"}, {@code "user"}, {@code "assistant"}, {@code "tool"}, ...
 * @param content the text of the message
 */
public record ChatMessage(String role, String content) {

    /** The system role. */
    public static final String SYSTEM = "system";
    /** The user role. */
    public static final String USER = "user";
    /** The assistant role. */
    public static final String ASSISTANT = "assistant";
    /** The tool role, for results of tool calls. */
    public static final String TOOL = "tool";

    /**
     * Creates a message.
     *
     * @throws NullPointerException if role or content is null
     */
    public ChatMessage {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
    }

    /**
     * A system message (instructions for the assistant).
     *
     * @param content the text
     * @return the message
     */
    public static ChatMessage system(String content) {
        return new ChatMessage(SYSTEM, content);
    }

    /**
     * A user message.
     *
     * @param content the text
     * @return the message
     */
    public static ChatMessage user(String content) {
        return new ChatMessage(USER, content);
    }

    /**
     * An assistant message (an earlier answer of the model).
     *
     * @param content the text
     * @return the message
     */
    public static ChatMessage assistant(String content) {
        return new ChatMessage(ASSISTANT, content);
    }

    /**
     * A tool message (the result of a tool call, fed back to the model).
     *
     * @param content the text
     * @return the message
     */
    public static ChatMessage tool(String content) {
        return new ChatMessage(TOOL, content);
    }

    /**
     * This message as the mutable dict a template sees: {@code {"role": ..., "content": ...}}.
     *
     * @return a new map with the keys {@code role} and {@code content}, in that order
     */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>(4);
        m.put("role", role);
        m.put("content", content);
        return m;
    }
}
