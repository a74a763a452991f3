package dev.fflama.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** One compiled template, rendered from many threads at once, gives every thread its own answer. */
class ChatTemplateConcurrencyTest {

    @Test
    void concurrentRendersOfOneTemplate() throws Exception {
        ChatTemplate t = ChatTemplateModelsTest.template("llama3.1-instruct", "<|begin_of_text|>", "<|eot_id|>");
        ChatTemplate q = ChatTemplateModelsTest.template("mistral-instruct-v0.3", "<s>", "</s>");
        int variants = 16;
        List<List<ChatMessage>> conversations = new ArrayList<>();
        List<String> expected = new ArrayList<>();
        List<String> expectedTools = new ArrayList<>();
        for (int i = 0; i < variants; i++) {
            List<ChatMessage> c = List.of(ChatMessage.system("sys " + i), ChatMessage.user("question " + i),
                    ChatMessage.assistant("answer " + i), ChatMessage.user("again " + i));
            conversations.add(c);
            expected.add(t.render(c, i % 2 == 0));
            expectedTools.add(q.renderMaps(ChatTemplateModelsTest.TOOL_CONVERSATION, false,
                    Map.of("tools", ChatTemplateModelsTest.TOOLS)));
        }
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Integer>> futures = new ArrayList<>();
            for (int thread = 0; thread < 8; thread++) {
                int offset = thread;
                Callable<Integer> task = () -> {
                    for (int n = 0; n < 40; n++) {
                        int i = (n + offset) % variants;
                        assertEquals(expected.get(i), t.render(conversations.get(i), i % 2 == 0));
                        assertEquals(expectedTools.get(i), q.renderMaps(ChatTemplateModelsTest.TOOL_CONVERSATION, false,
                                Map.of("tools", ChatTemplateModelsTest.TOOLS)));
                    }
                    return 40;
                };
                futures.add(pool.submit(task));
            }
            for (Future<Integer> f : futures) {
                assertEquals(40, f.get());
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void templatesSharingACompiledFormKeepTheirOwnTokensAndClock() {
        ChatTemplate a = ChatTemplate.builtin("llama2", "<A>", "</A>");
        ChatTemplate b = ChatTemplate.builtin("llama2", "<B>", "</B>");
        List<ChatMessage> c = List.of(ChatMessage.user("hi"), ChatMessage.assistant("yo"));
        assertEquals("<A>[INST] hi [/INST] yo </A>", a.render(c, false));
        assertEquals("<B>[INST] hi [/INST] yo </B>", b.render(c, false));
    }
}
