package dev.fflama.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The published chat templates of popular models (test resources {@code templates/*.jinja}, as
 * found in their {@code tokenizer_config.json} and GGUF {@code tokenizer.chat_template}), rendered
 * with and without the generation prompt. The expected strings are what Hugging Face's
 * {@code apply_chat_template} produces: they were generated with Python's jinja2 in HF's
 * configuration by {@code reference_render.py} (next to the templates) and are kept here as
 * literals, so the test needs no Python.
 */
class ChatTemplateModelsTest {

    static final List<ChatMessage> CONVERSATION = List.of(
            ChatMessage.system("You are a helpful assistant."),
            ChatMessage.user("Hello!"),
            ChatMessage.assistant(" Hi there! How can I help? "),
            ChatMessage.user("What is 2+2?"));

    static final List<ChatMessage> NO_SYSTEM = CONVERSATION.subList(1, CONVERSATION.size());

    static final List<Map<String, Object>> TOOLS = List.of(map(
            "type", "function",
            "function", map(
                    "name", "get_weather",
                    "description", "Get the weather ü <b>",
                    "parameters", map(
                            "type", "object",
                            "properties", map(
                                    "city", map("type", "string", "description", "City name"),
                                    "unit", map("type", "string", "enum", List.of("celsius", "fahrenheit"))),
                            "required", List.of("city")),
                    "return", map("type", "string"))));

    static final List<Map<String, Object>> TOOL_CONVERSATION = List.of(
            map("role", "system", "content", "You are a bot."),
            map("role", "user", "content", "What's the weather in Paris?"),
            map("role", "assistant", "content", "", "tool_calls", List.of(map(
                    "id", "abc123XYZ",
                    "type", "function",
                    "function", map("name", "get_weather", "arguments", map(
                            "city", "Paris", "unit", "celsius", "days", 3, "ratio", 0.5, "flag", true,
                            "nothing", null))))),
            map("role", "tool", "tool_call_id", "abc123XYZ", "name", "get_weather",
                    "content", "sunny, 22°C \"nice\""),
            map("role", "assistant", "content", "It is sunny."),
            map("role", "user", "content", "Thanks!"));

    static final List<Map<String, Object>> BUILTIN_TOOL_CONVERSATION = List.of(
            map("role", "system", "content", "Sys"),
            map("role", "user", "content", "Weather?"),
            map("role", "assistant", "content", "", "tool_calls", List.of(map(
                    "type", "function",
                    "function", map("name", "brave_search", "arguments", map("query", "weather"))))),
            map("role", "ipython", "content", "{\"temp\": 3}"));

    static final List<ChatMessage> THINKING_CONVERSATION = List.of(
            ChatMessage.system("You are a helpful assistant."),
            ChatMessage.user("Hello!"),
            ChatMessage.assistant("<think>\nThe user greets.\n</think>\n\nHi there!"),
            ChatMessage.user("What is 2+2?"),
            ChatMessage.assistant("<think>\nSimple.\n</think>\n\n4"));

    /** An ordered map, nulls allowed: {@code map(k1, v1, k2, v2, ...)}. */
    static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    static String resource(String name) {
        try (InputStream in = ChatTemplateModelsTest.class.getResourceAsStream("templates/" + name + ".jinja")) {
            if (in == null) {
                throw new IllegalStateException("missing test resource templates/" + name + ".jinja");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static ChatTemplate template(String name, String bos, String eos) {
        return ChatTemplate.of(resource(name), bos, eos);
    }

    /** Meta-Llama-3-8B-Instruct: content trimmed by <code>|trim</code> inside string concatenation, BOS on the first message only. */
    @Test
    void llama3Instruct() {
        ChatTemplate t = template("llama3-instruct", "<|begin_of_text|>", "<|eot_id|>");
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "You are a helpful assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "Hello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
                + "Hi there! How can I help?<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "What is 2+2?<|eot_id|>",
                t.render(CONVERSATION, false));
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "You are a helpful assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "Hello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
                + "Hi there! How can I help?<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "What is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
                t.render(CONVERSATION, true));
    }

    /** Llama 3.1 8B Instruct: system block with the default date, system message hoisted out of <code>messages</code>. */
    @Test
    void llama31Instruct() {
        ChatTemplate t = template("llama3.1-instruct", "<|begin_of_text|>", "<|eot_id|>");
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Cutting Knowledge Date: December 2023\n"
                + "Today Date: 26 Jul 2024\n\n"
                + "You are a helpful assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "Hello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
                + "Hi there! How can I help?<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "What is 2+2?<|eot_id|>",
                t.render(CONVERSATION, false));
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Cutting Knowledge Date: December 2023\n"
                + "Today Date: 26 Jul 2024\n\n"
                + "You are a helpful assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "Hello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
                + "Hi there! How can I help?<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "What is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
                t.render(CONVERSATION, true));
    }

    @Test
    void llama31InstructWithoutSystemMessage() {
        ChatTemplate t = template("llama3.1-instruct", "<|begin_of_text|>", "<|eot_id|>");
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Cutting Knowledge Date: December 2023\n"
                + "Today Date: 26 Jul 2024\n\n"
                + "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "Hello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
                + "Hi there! How can I help?<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "What is 2+2?<|eot_id|>",
                t.render(NO_SYSTEM, false));
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Cutting Knowledge Date: December 2023\n"
                + "Today Date: 26 Jul 2024\n\n"
                + "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "Hello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
                + "Hi there! How can I help?<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "What is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
                t.render(NO_SYSTEM, true));
    }

    /** Llama 3.1 tool calling: <code>tojson(indent=4)</code>, <code>not x|length == 1</code>, <code>'tool_calls' in message</code>, a tool result string being <code>iterable</code>. */
    @Test
    void llama31InstructWithTools() {
        ChatTemplate t = template("llama3.1-instruct", "<|begin_of_text|>", "<|eot_id|>");
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Environment: ipython\n"
                + "Cutting Knowledge Date: December 2023\n"
                + "Today Date: 26 Jul 2024\n\n"
                + "You are a bot.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "Given the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\n"
                + "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.Do not use variables.\n\n"
                + "{\n"
                + "    \"type\": \"function\",\n"
                + "    \"function\": {\n"
                + "        \"name\": \"get_weather\",\n"
                + "        \"description\": \"Get the weather ü <b>\",\n"
                + "        \"parameters\": {\n"
                + "            \"type\": \"object\",\n"
                + "            \"properties\": {\n"
                + "                \"city\": {\n"
                + "                    \"type\": \"string\",\n"
                + "                    \"description\": \"City name\"\n"
                + "                },\n"
                + "                \"unit\": {\n"
                + "                    \"type\": \"string\",\n"
                + "                    \"enum\": [\n"
                + "                        \"celsius\",\n"
                + "                        \"fahrenheit\"\n"
                + "                    ]\n"
                + "                }\n"
                + "            },\n"
                + "            \"required\": [\n"
                + "                \"city\"\n"
                + "            ]\n"
                + "        },\n"
                + "        \"return\": {\n"
                + "            \"type\": \"string\"\n"
                + "        }\n"
                + "    }\n"
                + "}\n\n"
                + "What's the weather in Paris?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
                + "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"unit\": \"celsius\", \"days\": 3, \"ratio\": 0.5, \"flag\": true, \"nothing\": null}}<|eot_id|><|start_header_id|>ipython<|end_header_id|>\n\n"
                + "\"sunny, 22°C \\\"nice\\\"\"<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
                + "It is sunny.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "Thanks!<|eot_id|>",
                t.renderMaps(TOOL_CONVERSATION, false, Map.of("tools", TOOLS)));
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Environment: ipython\n"
                + "Cutting Knowledge Date: December 2023\n"
                + "Today Date: 26 Jul 2024\n\n"
                + "You are a bot.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "Given the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\n"
                + "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.Do not use variables.\n\n"
                + "{\n"
                + "    \"type\": \"function\",\n"
                + "    \"function\": {\n"
                + "        \"name\": \"get_weather\",\n"
                + "        \"description\": \"Get the weather ü <b>\",\n"
                + "        \"parameters\": {\n"
                + "            \"type\": \"object\",\n"
                + "            \"properties\": {\n"
                + "                \"city\": {\n"
                + "                    \"type\": \"string\",\n"
                + "                    \"description\": \"City name\"\n"
                + "                },\n"
                + "                \"unit\": {\n"
                + "                    \"type\": \"string\",\n"
                + "                    \"enum\": [\n"
                + "                        \"celsius\",\n"
                + "                        \"fahrenheit\"\n"
                + "                    ]\n"
                + "                }\n"
                + "            },\n"
                + "            \"required\": [\n"
                + "                \"city\"\n"
                + "            ]\n"
                + "        },\n"
                + "        \"return\": {\n"
                + "            \"type\": \"string\"\n"
                + "        }\n"
                + "    }\n"
                + "}\n\n"
                + "What's the weather in Paris?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
                + "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"unit\": \"celsius\", \"days\": 3, \"ratio\": 0.5, \"flag\": true, \"nothing\": null}}<|eot_id|><|start_header_id|>ipython<|end_header_id|>\n\n"
                + "\"sunny, 22°C \\\"nice\\\"\"<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
                + "It is sunny.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "Thanks!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
                t.renderMaps(TOOL_CONVERSATION, true, Map.of("tools", TOOLS)));
    }

    /** Llama 3.1 built-in tools: <code>reject</code>, <code>|items</code> unpacking, <code>&lt;|python_tag|&gt;</code>. */
    @Test
    void llama31InstructWithBuiltinTools() {
        ChatTemplate t = template("llama3.1-instruct", "<|begin_of_text|>", "<|eot_id|>");
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Environment: ipython\n"
                + "Tools: brave_search, wolfram_alpha\n\n"
                + "Cutting Knowledge Date: December 2023\n"
                + "Today Date: 26 Jul 2024\n\n"
                + "Sys<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "Weather?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
                + "<|python_tag|>brave_search.call(query=\"weather\")<|eom_id|><|start_header_id|>ipython<|end_header_id|>\n\n"
                + "\"{\\\"temp\\\": 3}\"<|eot_id|>",
                t.renderMaps(BUILTIN_TOOL_CONVERSATION, false, Map.of("builtin_tools", List.of("brave_search", "wolfram_alpha", "code_interpreter"))));
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Environment: ipython\n"
                + "Tools: brave_search, wolfram_alpha\n\n"
                + "Cutting Knowledge Date: December 2023\n"
                + "Today Date: 26 Jul 2024\n\n"
                + "Sys<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "Weather?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
                + "<|python_tag|>brave_search.call(query=\"weather\")<|eom_id|><|start_header_id|>ipython<|end_header_id|>\n\n"
                + "\"{\\\"temp\\\": 3}\"<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
                t.renderMaps(BUILTIN_TOOL_CONVERSATION, true, Map.of("builtin_tools", List.of("brave_search", "wolfram_alpha", "code_interpreter"))));
    }

    /** Mistral-7B-Instruct-v0.3: the system message goes in front of the last user message; no generation prompt exists. */
    @Test
    void mistralInstructV03() {
        ChatTemplate t = template("mistral-instruct-v0.3", "<s>", "</s>");
        String expected = "<s>[INST] Hello![/INST] Hi there! How can I help?</s>[INST] You are a helpful assistant.\n\n"
                + "What is 2+2?[/INST]";
        assertEquals(expected, t.render(CONVERSATION, false));
        assertEquals(expected, t.render(CONVERSATION, true), "this template has no generation prompt");
    }

    /** Mistral v0.3 tool calling: <code>for key, val in tool.items() if key != "return"</code>, <code>out[:-1]</code>, dict equality. */
    @Test
    void mistralInstructV03WithTools() {
        ChatTemplate t = template("mistral-instruct-v0.3", "<s>", "</s>");
        String expected = "<s>[INST] What's the weather in Paris?[/INST][TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\", \"days\": 3, \"ratio\": 0.5, \"flag\": true, \"nothing\": null}, \"id\": \"abc123XYZ\"}]</s>[TOOL_RESULTS] {\"content\": sunny, 22°C \"nice\", \"call_id\": \"abc123XYZ\"}[/TOOL_RESULTS] It is sunny.</s>[AVAILABLE_TOOLS] [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the weather ü <b>\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"City name\"}, \"unit\": {\"type\": \"string\", \"enum\": [\"celsius\", \"fahrenheit\"]}}, \"required\": [\"city\"]}}}][/AVAILABLE_TOOLS][INST] You are a bot.\n\n"
                + "Thanks![/INST]";
        assertEquals(expected, t.renderMaps(TOOL_CONVERSATION, false, Map.of("tools", TOOLS)));
        assertEquals(expected, t.renderMaps(TOOL_CONVERSATION, true, Map.of("tools", TOOLS)), "this template has no generation prompt");
    }

    /** Qwen2-7B-Instruct: ChatML, default system prompt only when there is no system message. */
    @Test
    void qwen2Instruct() {
        ChatTemplate t = template("qwen2-instruct", "", "<|im_end|>");
        assertEquals("<|im_start|>system\n"
                + "You are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\n"
                + "Hello!<|im_end|>\n"
                + "<|im_start|>assistant\n"
                + " Hi there! How can I help? <|im_end|>\n"
                + "<|im_start|>user\n"
                + "What is 2+2?<|im_end|>\n",
                t.render(CONVERSATION, false));
        assertEquals("<|im_start|>system\n"
                + "You are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\n"
                + "Hello!<|im_end|>\n"
                + "<|im_start|>assistant\n"
                + " Hi there! How can I help? <|im_end|>\n"
                + "<|im_start|>user\n"
                + "What is 2+2?<|im_end|>\n"
                + "<|im_start|>assistant\n",
                t.render(CONVERSATION, true));
    }

    @Test
    void qwen2InstructWithoutSystemMessage() {
        ChatTemplate t = template("qwen2-instruct", "", "<|im_end|>");
        assertEquals("<|im_start|>system\n"
                + "You are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\n"
                + "Hello!<|im_end|>\n"
                + "<|im_start|>assistant\n"
                + " Hi there! How can I help? <|im_end|>\n"
                + "<|im_start|>user\n"
                + "What is 2+2?<|im_end|>\n",
                t.render(NO_SYSTEM, false));
        assertEquals("<|im_start|>system\n"
                + "You are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\n"
                + "Hello!<|im_end|>\n"
                + "<|im_start|>assistant\n"
                + " Hi there! How can I help? <|im_end|>\n"
                + "<|im_start|>user\n"
                + "What is 2+2?<|im_end|>\n"
                + "<|im_start|>assistant\n",
                t.render(NO_SYSTEM, true));
    }

    /** Qwen2.5-7B-Instruct: ChatML with its default "You are Qwen" system prompt. */
    @Test
    void qwen25Instruct() {
        ChatTemplate t = template("qwen2.5-instruct", "", "<|im_end|>");
        assertEquals("<|im_start|>system\n"
                + "You are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\n"
                + "Hello!<|im_end|>\n"
                + "<|im_start|>assistant\n"
                + " Hi there! How can I help? <|im_end|>\n"
                + "<|im_start|>user\n"
                + "What is 2+2?<|im_end|>\n",
                t.render(CONVERSATION, false));
        assertEquals("<|im_start|>system\n"
                + "You are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\n"
                + "Hello!<|im_end|>\n"
                + "<|im_start|>assistant\n"
                + " Hi there! How can I help? <|im_end|>\n"
                + "<|im_start|>user\n"
                + "What is 2+2?<|im_end|>\n"
                + "<|im_start|>assistant\n",
                t.render(CONVERSATION, true));
    }

    @Test
    void qwen25InstructWithoutSystemMessage() {
        ChatTemplate t = template("qwen2.5-instruct", "", "<|im_end|>");
        assertEquals("<|im_start|>system\n"
                + "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\n"
                + "Hello!<|im_end|>\n"
                + "<|im_start|>assistant\n"
                + " Hi there! How can I help? <|im_end|>\n"
                + "<|im_start|>user\n"
                + "What is 2+2?<|im_end|>\n",
                t.render(NO_SYSTEM, false));
        assertEquals("<|im_start|>system\n"
                + "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\n"
                + "Hello!<|im_end|>\n"
                + "<|im_start|>assistant\n"
                + " Hi there! How can I help? <|im_end|>\n"
                + "<|im_start|>user\n"
                + "What is 2+2?<|im_end|>\n"
                + "<|im_start|>assistant\n",
                t.render(NO_SYSTEM, true));
    }

    @Test
    void qwen25InstructWithTools() {
        ChatTemplate t = template("qwen2.5-instruct", "", "<|im_end|>");
        assertEquals("<|im_start|>system\n"
                + "You are a bot.\n\n"
                + "# Tools\n\n"
                + "You may call one or more functions to assist with the user query.\n\n"
                + "You are provided with function signatures within <tools></tools> XML tags:\n"
                + "<tools>\n"
                + "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the weather ü <b>\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"City name\"}, \"unit\": {\"type\": \"string\", \"enum\": [\"celsius\", \"fahrenheit\"]}}, \"required\": [\"city\"]}, \"return\": {\"type\": \"string\"}}}\n"
                + "</tools>\n\n"
                + "For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n"
                + "<tool_call>\n"
                + "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n"
                + "</tool_call><|im_end|>\n"
                + "<|im_start|>user\n"
                + "What's the weather in Paris?<|im_end|>\n"
                + "<|im_start|>assistant\n"
                + "<tool_call>\n"
                + "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\", \"days\": 3, \"ratio\": 0.5, \"flag\": true, \"nothing\": null}}\n"
                + "</tool_call><|im_end|>\n"
                + "<|im_start|>user\n"
                + "<tool_response>\n"
                + "sunny, 22°C \"nice\"\n"
                + "</tool_response><|im_end|>\n"
                + "<|im_start|>assistant\n"
                + "It is sunny.<|im_end|>\n"
                + "<|im_start|>user\n"
                + "Thanks!<|im_end|>\n",
                t.renderMaps(TOOL_CONVERSATION, false, Map.of("tools", TOOLS)));
        assertEquals("<|im_start|>system\n"
                + "You are a bot.\n\n"
                + "# Tools\n\n"
                + "You may call one or more functions to assist with the user query.\n\n"
                + "You are provided with function signatures within <tools></tools> XML tags:\n"
                + "<tools>\n"
                + "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the weather ü <b>\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"City name\"}, \"unit\": {\"type\": \"string\", \"enum\": [\"celsius\", \"fahrenheit\"]}}, \"required\": [\"city\"]}, \"return\": {\"type\": \"string\"}}}\n"
                + "</tools>\n\n"
                + "For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n"
                + "<tool_call>\n"
                + "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n"
                + "</tool_call><|im_end|>\n"
                + "<|im_start|>user\n"
                + "What's the weather in Paris?<|im_end|>\n"
                + "<|im_start|>assistant\n"
                + "<tool_call>\n"
                + "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\", \"days\": 3, \"ratio\": 0.5, \"flag\": true, \"nothing\": null}}\n"
                + "</tool_call><|im_end|>\n"
                + "<|im_start|>user\n"
                + "<tool_response>\n"
                + "sunny, 22°C \"nice\"\n"
                + "</tool_response><|im_end|>\n"
                + "<|im_start|>assistant\n"
                + "It is sunny.<|im_end|>\n"
                + "<|im_start|>user\n"
                + "Thanks!<|im_end|>\n"
                + "<|im_start|>assistant\n",
                t.renderMaps(TOOL_CONVERSATION, true, Map.of("tools", TOOLS)));
    }

    /** Qwen3: <code>messages[::-1]</code>, <code>namespace(last_query_index=messages|length - 1)</code>, string methods. */
    @Test
    void qwen3() {
        ChatTemplate t = template("qwen3", "", "<|im_end|>");
        assertEquals("<|im_start|>system\n"
                + "You are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\n"
                + "Hello!<|im_end|>\n"
                + "<|im_start|>assistant\n"
                + " Hi there! How can I help? <|im_end|>\n"
                + "<|im_start|>user\n"
                + "What is 2+2?<|im_end|>\n",
                t.render(CONVERSATION, false));
        assertEquals("<|im_start|>system\n"
                + "You are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\n"
                + "Hello!<|im_end|>\n"
                + "<|im_start|>assistant\n"
                + " Hi there! How can I help? <|im_end|>\n"
                + "<|im_start|>user\n"
                + "What is 2+2?<|im_end|>\n"
                + "<|im_start|>assistant\n",
                t.render(CONVERSATION, true));
    }

    /** Qwen3 reasoning: <code>split('&lt;/think&gt;')[-1]</code>, <code>rstrip('\n')</code>, <code>enable_thinking is false</code>. */
    @Test
    void qwen3WithThinking() {
        ChatTemplate t = template("qwen3", "", "<|im_end|>");
        assertEquals("<|im_start|>system\n"
                + "You are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\n"
                + "Hello!<|im_end|>\n"
                + "<|im_start|>assistant\n"
                + "Hi there!<|im_end|>\n"
                + "<|im_start|>user\n"
                + "What is 2+2?<|im_end|>\n"
                + "<|im_start|>assistant\n"
                + "<think>\n"
                + "Simple.\n"
                + "</think>\n\n"
                + "4<|im_end|>\n",
                t.render(THINKING_CONVERSATION, false, Map.of("enable_thinking", false)));
        assertEquals("<|im_start|>system\n"
                + "You are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\n"
                + "Hello!<|im_end|>\n"
                + "<|im_start|>assistant\n"
                + "Hi there!<|im_end|>\n"
                + "<|im_start|>user\n"
                + "What is 2+2?<|im_end|>\n"
                + "<|im_start|>assistant\n"
                + "<think>\n"
                + "Simple.\n"
                + "</think>\n\n"
                + "4<|im_end|>\n"
                + "<|im_start|>assistant\n"
                + "<think>\n\n"
                + "</think>\n\n",
                t.render(THINKING_CONVERSATION, true, Map.of("enable_thinking", false)));
    }

    /** Gemma 2 2B/9B it: assistant becomes "model", content trimmed. */
    @Test
    void gemma2ItWithoutSystemMessage() {
        ChatTemplate t = template("gemma2-it", "<bos>", "<eos>");
        assertEquals("<bos><start_of_turn>user\n"
                + "Hello!<end_of_turn>\n"
                + "<start_of_turn>model\n"
                + "Hi there! How can I help?<end_of_turn>\n"
                + "<start_of_turn>user\n"
                + "What is 2+2?<end_of_turn>\n",
                t.render(NO_SYSTEM, false));
        assertEquals("<bos><start_of_turn>user\n"
                + "Hello!<end_of_turn>\n"
                + "<start_of_turn>model\n"
                + "Hi there! How can I help?<end_of_turn>\n"
                + "<start_of_turn>user\n"
                + "What is 2+2?<end_of_turn>\n"
                + "<start_of_turn>model\n",
                t.render(NO_SYSTEM, true));
    }

    /** Phi-3-mini-4k-instruct: EOS closes the prompt when no generation prompt is asked for. */
    @Test
    void phi3MiniInstruct() {
        ChatTemplate t = template("phi3-mini-instruct", "<s>", "<|endoftext|>");
        assertEquals("<|system|>\n"
                + "You are a helpful assistant.<|end|>\n"
                + "<|user|>\n"
                + "Hello!<|end|>\n"
                + "<|assistant|>\n"
                + " Hi there! How can I help? <|end|>\n"
                + "<|user|>\n"
                + "What is 2+2?<|end|>\n"
                + "<|endoftext|>",
                t.render(CONVERSATION, false));
        assertEquals("<|system|>\n"
                + "You are a helpful assistant.<|end|>\n"
                + "<|user|>\n"
                + "Hello!<|end|>\n"
                + "<|assistant|>\n"
                + " Hi there! How can I help? <|end|>\n"
                + "<|user|>\n"
                + "What is 2+2?<|end|>\n"
                + "<|assistant|>\n",
                t.render(CONVERSATION, true));
    }

    /** TinyLlama-1.1B-Chat-v1.0 (Zephyr format): one tag per line, relies on trim_blocks and lstrip_blocks. */
    @Test
    void tinyLlamaChat() {
        ChatTemplate t = template("tinyllama-chat", "<s>", "</s>");
        assertEquals("<|system|>\n"
                + "You are a helpful assistant.</s>\n"
                + "<|user|>\n"
                + "Hello!</s>\n"
                + "<|assistant|>\n"
                + " Hi there! How can I help? </s>\n"
                + "<|user|>\n"
                + "What is 2+2?</s>\n",
                t.render(CONVERSATION, false));
        assertEquals("<|system|>\n"
                + "You are a helpful assistant.</s>\n"
                + "<|user|>\n"
                + "Hello!</s>\n"
                + "<|assistant|>\n"
                + " Hi there! How can I help? </s>\n"
                + "<|user|>\n"
                + "What is 2+2?</s>\n"
                + "<|assistant|>\n",
                t.render(CONVERSATION, true));
    }

    /** SmolLM2-Instruct: ChatML written with raw newlines inside string literals. */
    @Test
    void smolLm2Instruct() {
        ChatTemplate t = template("smollm2-instruct", "<|im_start|>", "<|im_end|>");
        assertEquals("<|im_start|>system\n"
                + "You are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\n"
                + "Hello!<|im_end|>\n"
                + "<|im_start|>assistant\n"
                + " Hi there! How can I help? <|im_end|>\n"
                + "<|im_start|>user\n"
                + "What is 2+2?<|im_end|>\n",
                t.render(CONVERSATION, false));
        assertEquals("<|im_start|>system\n"
                + "You are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\n"
                + "Hello!<|im_end|>\n"
                + "<|im_start|>assistant\n"
                + " Hi there! How can I help? <|im_end|>\n"
                + "<|im_start|>user\n"
                + "What is 2+2?<|im_end|>\n"
                + "<|im_start|>assistant\n",
                t.render(CONVERSATION, true));
    }

    @Test
    void smolLm2InstructWithoutSystemMessage() {
        ChatTemplate t = template("smollm2-instruct", "<|im_start|>", "<|im_end|>");
        assertEquals("<|im_start|>system\n"
                + "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                + "<|im_start|>user\n"
                + "Hello!<|im_end|>\n"
                + "<|im_start|>assistant\n"
                + " Hi there! How can I help? <|im_end|>\n"
                + "<|im_start|>user\n"
                + "What is 2+2?<|im_end|>\n",
                t.render(NO_SYSTEM, false));
        assertEquals("<|im_start|>system\n"
                + "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                + "<|im_start|>user\n"
                + "Hello!<|im_end|>\n"
                + "<|im_start|>assistant\n"
                + " Hi there! How can I help? <|im_end|>\n"
                + "<|im_start|>user\n"
                + "What is 2+2?<|im_end|>\n"
                + "<|im_start|>assistant\n",
                t.render(NO_SYSTEM, true));
    }

    /** Llama-2-7b-chat: <code>&lt;&lt;SYS&gt;&gt;</code> block in the first turn, <code>content.strip()</code>. */
    @Test
    void llama2Chat() {
        ChatTemplate t = template("llama2-chat", "<s>", "</s>");
        String expected = "<s>[INST] <<SYS>>\n"
                + "You are a helpful assistant.\n"
                + "<</SYS>>\n\n"
                + "Hello! [/INST] Hi there! How can I help? </s><s>[INST] What is 2+2? [/INST]";
        assertEquals(expected, t.render(CONVERSATION, false));
        assertEquals(expected, t.render(CONVERSATION, true), "this template has no generation prompt");
    }

    /** Llama 3.2: today's date from {@code strftime_now("%d %b %Y")}, here from a fixed clock. */
    @Test
    void llama32InstructDatesTheSystemPromptWithStrftimeNow() {
        Clock clock = Clock.fixed(Instant.parse("2025-03-05T10:30:00Z"), ZoneOffset.UTC);
        ChatTemplate t = template("llama3.2-instruct", "<|begin_of_text|>", "<|eot_id|>").withClock(clock);
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Cutting Knowledge Date: December 2023\n"
                + "Today Date: 05 Mar 2025\n\n"
                + "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "Hello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
                + "Hi there! How can I help?<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "What is 2+2?<|eot_id|>",
                t.render(NO_SYSTEM, false));
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Cutting Knowledge Date: December 2023\n"
                + "Today Date: 05 Mar 2025\n\n"
                + "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "Hello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
                + "Hi there! How can I help?<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "What is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
                t.render(NO_SYSTEM, true));
    }
}
