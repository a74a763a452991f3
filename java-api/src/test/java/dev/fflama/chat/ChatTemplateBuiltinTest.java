package dev.fflama.chat;

import static dev.fflama.chat.ChatTemplateModelsTest.CONVERSATION;
import static dev.fflama.chat.ChatTemplateModelsTest.NO_SYSTEM;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fflama.GgufFile;
import dev.fflama.TestData;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The ChatML fallback for models without a template, and the built-in named templates (their
 * expected strings come from Python's jinja2 via {@code reference_render.py}, like the model tests).
 */
class ChatTemplateBuiltinTest {

    @Test
    void fallbackIsChatMl() {
        ChatTemplate t = ChatTemplate.fallback();
        String turns = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\nHello!<|im_end|>\n"
                + "<|im_start|>assistant\n Hi there! How can I help? <|im_end|>\n"
                + "<|im_start|>user\nWhat is 2+2?<|im_end|>\n";
        assertEquals(turns, t.render(CONVERSATION, false));
        assertEquals(turns + "<|im_start|>assistant\n", t.render(CONVERSATION, true));
        assertEquals("<|im_start|>tool\n42<|im_end|>\n", t.render(List.of(ChatMessage.tool("42")), false));
        assertEquals("", t.bosToken());
        assertEquals("", t.eosToken());
    }

    @Test
    void fallbackKeepsTheModelsTokensForTheTemplateButDoesNotInsertThem() {
        ChatTemplate t = ChatTemplate.fallback("<s>", "</s>");
        assertEquals("<s>", t.bosToken());
        assertEquals("</s>", t.eosToken());
        assertEquals("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
                t.render(List.of(ChatMessage.user("Hi")), true));
    }

    @Test
    void orFallbackUsesTheModelsTemplateWhenThereIsOne() {
        String chatml = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
        List<ChatMessage> hi = List.of(ChatMessage.user("Hi"));
        assertEquals(chatml, ChatTemplate.orFallback(null, "<s>", "</s>").render(hi, true));
        assertEquals(chatml, ChatTemplate.orFallback("  \n", "<s>", "</s>").render(hi, true));
        assertEquals("<s>Hi", ChatTemplate.orFallback("{{ bos_token }}{{ messages[0].content }}", "<s>", "</s>")
                .render(hi, true));
    }

    @Test
    void fromGgufWithoutTemplateFallsBackWithTheModelsTokens() {
        try (GgufFile gguf = GgufFile.open(TestData.model("stories260K-f32.gguf"))) {
            ChatTemplate t = ChatTemplate.fromGguf(gguf);
            assertEquals("<s>", t.bosToken());
            assertEquals("</s>", t.eosToken());
            assertEquals("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
                    t.render(List.of(ChatMessage.user("Hi")), true));
        }
    }

    @Test
    void builtinNames() {
        assertEquals(Set.of("chatml", "llama2", "llama3", "mistral", "mistral-instruct", "gemma", "phi3", "zephyr"),
                ChatTemplate.builtinNames());
        for (String name : ChatTemplate.builtinNames()) {
            assertTrue(ChatTemplate.builtin(name).source().contains("messages"), name);
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ChatTemplate.builtin("vicuna"));
        assertTrue(e.getMessage().contains("vicuna") && e.getMessage().contains("chatml"), e.getMessage());
    }

    @Test
    void builtinNamesAreCaseInsensitiveAndMistralInstructIsMistral() {
        assertEquals(ChatTemplate.builtin("mistral").render(CONVERSATION, true),
                ChatTemplate.builtin("Mistral-Instruct").render(CONVERSATION, true));
        assertEquals(ChatTemplate.builtin("llama3").source(), ChatTemplate.builtin("LLAMA3").source());
    }

    @Test
    void builtinWithOtherTokens() {
        ChatTemplate t = ChatTemplate.builtin("llama2", "<BOS>", "<EOS>");
        assertEquals("<BOS>[INST] Hi [/INST] Yo <EOS>",
                t.render(List.of(ChatMessage.user("Hi"), ChatMessage.assistant("Yo")), false));
    }

    @Test
    void builtinLlama3RendersLikeThePublishedTemplate() {
        ChatTemplate published = ChatTemplateModelsTest.template("llama3-instruct", "<|begin_of_text|>", "<|eot_id|>");
        for (boolean gen : new boolean[] {false, true}) {
            assertEquals(published.render(CONVERSATION, gen), ChatTemplate.builtin("llama3").render(CONVERSATION, gen));
        }
    }

    @Test
    void builtinMistralAndGemmaStillEnforceAlternation() {
        List<ChatMessage> twoUsers = List.of(ChatMessage.user("a"), ChatMessage.user("b"));
        for (String name : List.of("mistral", "gemma", "llama2")) {
            ChatTemplateException e = assertThrows(ChatTemplateException.class,
                    () -> ChatTemplate.builtin(name).render(twoUsers, true), name);
            assertTrue(e.raisedByTemplate());
        }
    }

    @Test
    void chatml() {
        ChatTemplate t = ChatTemplate.builtin("chatml");
        assertEquals("", t.bosToken());
        assertEquals("<|im_end|>", t.eosToken());
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
    void chatmlWithoutSystemMessage() {
        ChatTemplate t = ChatTemplate.builtin("chatml");
        assertEquals("", t.bosToken());
        assertEquals("<|im_end|>", t.eosToken());
        assertEquals("<|im_start|>user\n"
                + "Hello!<|im_end|>\n"
                + "<|im_start|>assistant\n"
                + " Hi there! How can I help? <|im_end|>\n"
                + "<|im_start|>user\n"
                + "What is 2+2?<|im_end|>\n",
                t.render(NO_SYSTEM, false));
        assertEquals("<|im_start|>user\n"
                + "Hello!<|im_end|>\n"
                + "<|im_start|>assistant\n"
                + " Hi there! How can I help? <|im_end|>\n"
                + "<|im_start|>user\n"
                + "What is 2+2?<|im_end|>\n"
                + "<|im_start|>assistant\n",
                t.render(NO_SYSTEM, true));
    }

    @Test
    void llama2() {
        ChatTemplate t = ChatTemplate.builtin("llama2");
        assertEquals("<s>", t.bosToken());
        assertEquals("</s>", t.eosToken());
        String expected = "<s>[INST] <<SYS>>\n"
                + "You are a helpful assistant.\n"
                + "<</SYS>>\n\n"
                + "Hello! [/INST] Hi there! How can I help? </s><s>[INST] What is 2+2? [/INST]";
        assertEquals(expected, t.render(CONVERSATION, false));
        assertEquals(expected, t.render(CONVERSATION, true), "no generation prompt in this format");
    }

    @Test
    void llama2WithoutSystemMessage() {
        ChatTemplate t = ChatTemplate.builtin("llama2");
        assertEquals("<s>", t.bosToken());
        assertEquals("</s>", t.eosToken());
        String expected = "<s>[INST] Hello! [/INST] Hi there! How can I help? </s><s>[INST] What is 2+2? [/INST]";
        assertEquals(expected, t.render(NO_SYSTEM, false));
        assertEquals(expected, t.render(NO_SYSTEM, true), "no generation prompt in this format");
    }

    @Test
    void llama3() {
        ChatTemplate t = ChatTemplate.builtin("llama3");
        assertEquals("<|begin_of_text|>", t.bosToken());
        assertEquals("<|eot_id|>", t.eosToken());
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

    @Test
    void llama3WithoutSystemMessage() {
        ChatTemplate t = ChatTemplate.builtin("llama3");
        assertEquals("<|begin_of_text|>", t.bosToken());
        assertEquals("<|eot_id|>", t.eosToken());
        assertEquals("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n"
                + "Hello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
                + "Hi there! How can I help?<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "What is 2+2?<|eot_id|>",
                t.render(NO_SYSTEM, false));
        assertEquals("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n"
                + "Hello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
                + "Hi there! How can I help?<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "What is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
                t.render(NO_SYSTEM, true));
    }

    @Test
    void mistral() {
        ChatTemplate t = ChatTemplate.builtin("mistral");
        assertEquals("<s>", t.bosToken());
        assertEquals("</s>", t.eosToken());
        String expected = "<s>[INST] Hello![/INST] Hi there! How can I help?</s>[INST] You are a helpful assistant.\n\n"
                + "What is 2+2?[/INST]";
        assertEquals(expected, t.render(CONVERSATION, false));
        assertEquals(expected, t.render(CONVERSATION, true), "no generation prompt in this format");
    }

    @Test
    void mistralWithoutSystemMessage() {
        ChatTemplate t = ChatTemplate.builtin("mistral");
        assertEquals("<s>", t.bosToken());
        assertEquals("</s>", t.eosToken());
        String expected = "<s>[INST] Hello![/INST] Hi there! How can I help?</s>[INST] What is 2+2?[/INST]";
        assertEquals(expected, t.render(NO_SYSTEM, false));
        assertEquals(expected, t.render(NO_SYSTEM, true), "no generation prompt in this format");
    }

    @Test
    void gemma() {
        ChatTemplate t = ChatTemplate.builtin("gemma");
        assertEquals("<bos>", t.bosToken());
        assertEquals("<eos>", t.eosToken());
        assertEquals("<bos><start_of_turn>user\n"
                + "You are a helpful assistant.\n\n"
                + "Hello!<end_of_turn>\n"
                + "<start_of_turn>model\n"
                + "Hi there! How can I help?<end_of_turn>\n"
                + "<start_of_turn>user\n"
                + "What is 2+2?<end_of_turn>\n",
                t.render(CONVERSATION, false));
        assertEquals("<bos><start_of_turn>user\n"
                + "You are a helpful assistant.\n\n"
                + "Hello!<end_of_turn>\n"
                + "<start_of_turn>model\n"
                + "Hi there! How can I help?<end_of_turn>\n"
                + "<start_of_turn>user\n"
                + "What is 2+2?<end_of_turn>\n"
                + "<start_of_turn>model\n",
                t.render(CONVERSATION, true));
    }

    @Test
    void gemmaWithoutSystemMessage() {
        ChatTemplate t = ChatTemplate.builtin("gemma");
        assertEquals("<bos>", t.bosToken());
        assertEquals("<eos>", t.eosToken());
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

    @Test
    void phi3() {
        ChatTemplate t = ChatTemplate.builtin("phi3");
        assertEquals("<s>", t.bosToken());
        assertEquals("<|endoftext|>", t.eosToken());
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

    @Test
    void phi3WithoutSystemMessage() {
        ChatTemplate t = ChatTemplate.builtin("phi3");
        assertEquals("<s>", t.bosToken());
        assertEquals("<|endoftext|>", t.eosToken());
        assertEquals("<|user|>\n"
                + "Hello!<|end|>\n"
                + "<|assistant|>\n"
                + " Hi there! How can I help? <|end|>\n"
                + "<|user|>\n"
                + "What is 2+2?<|end|>\n"
                + "<|endoftext|>",
                t.render(NO_SYSTEM, false));
        assertEquals("<|user|>\n"
                + "Hello!<|end|>\n"
                + "<|assistant|>\n"
                + " Hi there! How can I help? <|end|>\n"
                + "<|user|>\n"
                + "What is 2+2?<|end|>\n"
                + "<|assistant|>\n",
                t.render(NO_SYSTEM, true));
    }

    @Test
    void zephyr() {
        ChatTemplate t = ChatTemplate.builtin("zephyr");
        assertEquals("<s>", t.bosToken());
        assertEquals("</s>", t.eosToken());
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

    @Test
    void zephyrWithoutSystemMessage() {
        ChatTemplate t = ChatTemplate.builtin("zephyr");
        assertEquals("<s>", t.bosToken());
        assertEquals("</s>", t.eosToken());
        assertEquals("<|user|>\n"
                + "Hello!</s>\n"
                + "<|assistant|>\n"
                + " Hi there! How can I help? </s>\n"
                + "<|user|>\n"
                + "What is 2+2?</s>\n",
                t.render(NO_SYSTEM, false));
        assertEquals("<|user|>\n"
                + "Hello!</s>\n"
                + "<|assistant|>\n"
                + " Hi there! How can I help? </s>\n"
                + "<|user|>\n"
                + "What is 2+2?</s>\n"
                + "<|assistant|>\n",
                t.render(NO_SYSTEM, true));
    }

}
