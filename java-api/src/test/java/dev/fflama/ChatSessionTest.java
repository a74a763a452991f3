package dev.fflama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fflama.chat.ChatMessage;
import dev.fflama.chat.ChatTemplate;
import org.junit.jupiter.api.Test;

class ChatSessionTest {
    @Test
    void turnsReuseTheCacheAndKeepTheHistory() {
        try (Model model = Model.load(TestData.model("stories260K-f32.gguf"));
             ChatSession chat = ChatSession.open(model, SessionOptions.builder().contextSize(1024).threads(2).build(), "Be kind.")) {
            Generation gen = Generation.maxTokens(12).sampler(Sampler.builder().seed(4).build());
            String first = chat.reply("Tell me a story.", gen);
            int firstPrompt = chat.lastPromptTokensEvaluated();
            String second = chat.reply("And then?", gen);
            int secondPrompt = chat.lastPromptTokensEvaluated();
            String full = chat.template().render(chat.history().subList(0, 4), true);
            int fullTokens = chat.session().tokenize(full, true, true).length;
            // at least the whole first prompt came from the cache
            assertTrue(secondPrompt <= fullTokens - firstPrompt, firstPrompt + " then " + secondPrompt + " of " + fullTokens);
            assertEquals(5, chat.history().size());
            assertEquals(ChatMessage.assistant(first), chat.history().get(2));
            assertEquals(ChatMessage.assistant(second), chat.history().get(4));

            // same conversation from scratch gives the same second answer: the reused cache is exact
            try (Session fresh = model.newSession(SessionOptions.builder().contextSize(1024).threads(2).build())) {
                ChatSession again = new ChatSession(fresh, chat.template(), "Be kind.");
                assertEquals(first, again.reply("Tell me a story.", gen));
                assertEquals(second, again.reply("And then?", gen));
            }
            chat.reset();
            assertEquals(1, chat.history().size());
        }
    }

    @Test
    void modelWithoutTemplateFallsBackToChatMl() {
        try (Model model = Model.load(TestData.model("stories260K-f32.gguf"))) {
            ChatTemplate t = ChatTemplate.fromGguf(model.gguf());
            assertTrue(t.render(java.util.List.of(ChatMessage.user("hi")), true).contains("<|im_start|>assistant"));
        }
    }
}
