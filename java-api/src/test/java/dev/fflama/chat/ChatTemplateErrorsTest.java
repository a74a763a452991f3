package dev.fflama.chat;

import static dev.fflama.chat.ChatTemplateModelsTest.map;
import static dev.fflama.chat.ChatTemplateModelsTest.template;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code raise_exception} in real templates, and what happens to templates that do not parse or
 * fail while rendering: always a {@link ChatTemplateException}, an unchecked
 * {@link IllegalArgumentException}.
 */
class ChatTemplateErrorsTest {

    private static ChatTemplateException raised(ChatTemplate t, List<ChatMessage> messages) {
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> t.render(messages, true));
        assertTrue(e.raisedByTemplate(), e::toString);
        assertInstanceOf(IllegalArgumentException.class, e);
        return e;
    }

    @Test
    void gemma2RejectsTheSystemRole() {
        ChatTemplate t = template("gemma2-it", "<bos>", "<eos>");
        assertEquals("System role not supported", raised(t, ChatTemplateModelsTest.CONVERSATION).getMessage());
    }

    @Test
    void rolesMustAlternate() {
        List<ChatMessage> twoUsers = List.of(ChatMessage.user("a"), ChatMessage.user("b"));
        assertEquals("Conversation roles must alternate user/assistant/user/assistant/...",
                raised(template("gemma2-it", "<bos>", "<eos>"), twoUsers).getMessage());
        assertEquals("Conversation roles must alternate user/assistant/user/assistant/...",
                raised(template("llama2-chat", "<s>", "</s>"), twoUsers).getMessage());
        assertEquals("After the optional system message, conversation roles must alternate "
                        + "user/assistant/user/assistant/...",
                raised(template("mistral-instruct-v0.3", "<s>", "</s>"), twoUsers).getMessage());
        assertEquals("Conversation roles must alternate user/assistant/user/assistant/...",
                raised(ChatTemplate.builtin("llama2"), List.of(ChatMessage.assistant("first"))).getMessage());
    }

    @Test
    void mistralRejectsUnknownRolesAndBadToolCallIds() {
        ChatTemplate t = template("mistral-instruct-v0.3", "<s>", "</s>");
        // the alternation check skips tool messages, so the role check further down fires
        assertEquals("Only user and assistant roles are supported, with the exception of an initial optional "
                + "system message!", raised(t, List.of(ChatMessage.user("a"), ChatMessage.assistant("b"),
                        ChatMessage.user("c"), new ChatMessage("critic", "d"))).getMessage());
        List<Map<String, Object>> badId = List.of(
                map("role", "user", "content", "weather?"),
                map("role", "assistant", "tool_calls", List.of(map("id", "short",
                        "function", map("name", "get_weather", "arguments", map("city", "Paris"))))));
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> t.renderMaps(badId, false, null));
        assertTrue(e.raisedByTemplate());
        assertEquals("Tool call IDs should be alphanumeric strings with length 9!", e.getMessage());
    }

    @Test
    void llama31RejectsParallelToolCalls() {
        ChatTemplate t = template("llama3.1-instruct", "<|begin_of_text|>", "<|eot_id|>");
        Map<String, Object> call = map("function", map("name", "f", "arguments", map()));
        List<Map<String, Object>> messages = List.of(
                map("role", "user", "content", "do two things"),
                map("role", "assistant", "tool_calls", List.of(call, call)));
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> t.renderMaps(messages, true, Map.of()));
        assertEquals("This model only supports single tool-calls at once!", e.getMessage());
        assertTrue(e.raisedByTemplate());
    }

    @Test
    void messageBuiltByTheTemplate() {
        ChatTemplate t = ChatTemplate.of("{% for m in messages %}{% if m.role not in ['user', 'assistant'] %}"
                + "{{ raise_exception('Unsupported role: ' ~ m.role ~ ' at ' ~ loop.index0) }}{% endif %}{% endfor %}ok",
                null, null);
        assertEquals("ok", t.render(List.of(ChatMessage.user("a")), false));
        assertEquals("Unsupported role: critic at 1",
                raised(t, List.of(ChatMessage.user("a"), new ChatMessage("critic", "b"))).getMessage());
    }

    @Test
    void raiseInsideSetAndMacro() {
        ChatTemplate t = ChatTemplate.of("{% macro check(m) %}{% if m.content == '' %}{{ raise_exception('empty') }}"
                + "{% endif %}{% endmacro %}{% for m in messages %}{{ check(m) }}{% endfor %}", null, null);
        assertEquals("empty", raised(t, List.of(ChatMessage.user(""))).getMessage());
        ChatTemplate s = ChatTemplate.of("{% set x = raise_exception('from set') %}", null, null);
        assertEquals("from set", raised(s, List.of()).getMessage());
    }

    @Test
    void unparsableTemplatesFailAtCompileTime() {
        ChatTemplateException e = assertThrows(ChatTemplateException.class,
                () -> ChatTemplate.of("{% for m in messages %}{{ m.content }}", null, null));
        assertFalse(e.raisedByTemplate());
        assertThrows(ChatTemplateException.class, () -> ChatTemplate.of("{% if x %}a{% endfor %}", null, null));
    }

    @Test
    void evaluationErrorsFailTheRender() {
        ChatTemplate unknownFunction = ChatTemplate.of("{{ no_such_function(1) }}", null, null);
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> unknownFunction.render(List.of(), false));
        assertFalse(e.raisedByTemplate());
        ChatTemplate unknownMethod = ChatTemplate.of("{{ 'abc'.no_such_method() }}", null, null);
        assertThrows(ChatTemplateException.class, () -> unknownMethod.render(List.of(), false));
        ChatTemplate badExpression = ChatTemplate.of("{{ 1 + }}", null, null);
        assertThrows(ChatTemplateException.class, () -> badExpression.render(List.of(), false));
    }

    @Test
    void nullArguments() {
        assertThrows(NullPointerException.class, () -> ChatTemplate.of(null, "", ""));
        ChatTemplate t = ChatTemplate.fallback();
        assertThrows(NullPointerException.class, () -> t.render(null, false));
        assertThrows(NullPointerException.class, () -> t.render(java.util.Arrays.asList((ChatMessage) null), false));
        assertEquals("<|im_start|>assistant\n", t.render(List.of(), true, null));
    }
}
