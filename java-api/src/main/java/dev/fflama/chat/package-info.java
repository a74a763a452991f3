/**
 * Chat templates: turning a conversation into the prompt text a model was trained on.
 *
 * <p>{@link dev.fflama.chat.ChatTemplate} renders the Jinja templates that Hugging Face tokenizers
 * and GGUF files ({@code tokenizer.chat_template}) carry, exactly as {@code transformers}'
 * {@code apply_chat_template} does, using the Jinjava engine plus the Python semantics those
 * templates rely on. It also offers a ChatML fallback for models without a template and a few
 * built-in named templates. {@link dev.fflama.chat.ChatMessage} is one turn of the conversation.
 *
 * <pre>{@code
 * ChatTemplate template = ChatTemplate.orFallback(chatTemplateFromGguf, "<s>", "</s>");
 * String prompt = template.render(List.of(
 *         ChatMessage.system("You are terse."),
 *         ChatMessage.user("Name a prime.")), true);
 * }</pre>
 */
package dev.fflama.chat;
