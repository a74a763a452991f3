package dev.fflama.chat;

/**
 * A chat template could not be compiled or rendered. It is an {@link IllegalArgumentException}
 * because the cause is always the input: a template with a syntax error, or a conversation the
 * template rejects. In the latter case the template called {@code raise_exception(message)} (for
 * example Gemma's "System role not supported" or Llama 2's "Conversation roles must alternate
 * user/assistant/user/assistant/..."), {@link #raisedByTemplate()} is true, and
 * {@link #getMessage()} is exactly the template's message.
 */
public final class ChatTemplateException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /** Whether the template's {@code raise_exception} produced this exception. */
    private final boolean raisedByTemplate;

    ChatTemplateException(String message, Throwable cause, boolean raisedByTemplate) {
        super(message, cause);
        this.raisedByTemplate = raisedByTemplate;
    }

    /**
     * Whether the template itself rejected the conversation through {@code raise_exception}.
     *
     * @return true for {@code raise_exception}, false for syntax and evaluation errors
     */
    public boolean raisedByTemplate() {
        return raisedByTemplate;
    }
}
