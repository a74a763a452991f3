package dev.fflama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class GenerationTest {
    static Model model;
    static final String PROMPT = "Once upon a time there was a";

    @BeforeAll
    static void load() {
        model = Model.load(TestData.model("stories260K-f32.gguf"));
    }

    @AfterAll
    static void close() {
        model.close();
    }

    static Session session(int threads) {
        return model.newSession(SessionOptions.builder().contextSize(512).threads(threads).kvType(KvType.F32).build());
    }

    @Test
    void greedyGenerationReproducesTheReferenceText() {
        Reference ref = Reference.load(TestData.reference("stories260K-f32.ref.json"));
        String expected = new String(HexFormat.of().parseHex(
                new ObjectMapperHolder().hex("stories260K-f32.ref.json")), java.nio.charset.StandardCharsets.UTF_8);
        try (Session s = session(2)) {
            TokenStream tokens = s.generate(PROMPT, Generation.maxTokens(32).sampler(Sampler.greedy()));
            List<Integer> ids = new ArrayList<>();
            StringBuilder text = new StringBuilder();
            tokens.forEachRemaining(t -> {
                ids.add(t.id());
                text.append(t.text());
                assertTrue(Float.isFinite(t.logprob()) && t.logprob() <= 0);
            });
            assertEquals(expected, text.toString());
            assertEquals(ref.generatedTokens().length, ids.size());
            for (int i = 0; i < ids.size(); i++) assertEquals(ref.generatedTokens()[i], ids.get(i));
            assertEquals(FinishReason.LENGTH, tokens.finishReason());
            assertEquals(ref.promptTokens().length, tokens.promptTokenCount());
        }
    }

    /** Reads generated_bytes_hex without the float arrays' cost twice. */
    static final class ObjectMapperHolder {
        String hex(String file) {
            try {
                return new ObjectMapper().readTree(TestData.reference(file).toFile()).get("generated_bytes_hex").asText();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }

    @Test
    void sameSeedSameTokensOnAnyThreadCount() {
        Sampler sampler = Sampler.builder().seed(1234).temperature(1.0f).build();
        String one, two;
        try (Session s = session(1)) {
            one = s.generate(PROMPT, Generation.maxTokens(40).sampler(sampler)).text();
        }
        try (Session s = session(2)) {
            two = s.generate(PROMPT, Generation.maxTokens(40).sampler(sampler)).text();
        }
        assertEquals(one, two);
        try (Session s = session(2)) {
            String other = s.generate(PROMPT, Generation.maxTokens(40).sampler(sampler.toBuilder().seed(99).build())).text();
            assertFalse(other.equals(one), "another seed should give another text");
        }
    }

    @Test
    void stopStringSpanningTwoTokensEndsGenerationAndIsNotEmitted() {
        // greedy continuation: " little girl named Lily." — "girl named" spans the tokens " girl" and " named"
        try (Session s = session(2)) {
            List<Token> seen = new ArrayList<>();
            TokenStream tokens = s.generate(PROMPT, Generation.maxTokens(32).sampler(Sampler.greedy()).stopAt("l named"));
            tokens.forEachRemaining(seen::add);
            String text = seen.stream().map(Token::text).reduce("", String::concat);
            assertEquals(" little gir", text);
            assertEquals(FinishReason.STOP_STRING, tokens.finishReason());
        }
    }

    @Test
    void multiByteCharactersFromByteTokensAreNeverBroken() {
        // the 512-token vocabulary spells these with byte-fallback tokens, one byte per token
        String target = "é€😀";
        try (Session s = session(2)) {
            Sampler forced = Sampler.builder().seed(5).temperature(1).grammar("root ::= \"" + target + "\"").build();
            List<Token> tokens = new ArrayList<>();
            TokenStream stream = s.generate(PROMPT, Generation.maxTokens(20).sampler(forced));
            stream.forEachRemaining(tokens::add);
            assertTrue(tokens.size() >= 4, "expected byte tokens, got " + tokens.size());
            StringBuilder all = new StringBuilder();
            for (Token t : tokens) {
                assertFalse(t.text().contains("\uFFFD"), "broken character in " + t);
                all.append(t.text());
            }
            assertEquals(target, all.toString());
            assertTrue(tokens.stream().anyMatch(t -> t.text().isEmpty()), "some tokens must hold their bytes back");
        }
    }

    @Test
    void grammarOfFixedWordsYieldsOnlyThoseWords() {
        Set<String> words = Set.of("cat", "dog", "bird");
        String grammar = "root ::= word (\" \" word)*\nword ::= \"cat\" | \"dog\" | \"bird\"\n";
        try (Session s = session(2)) {
            for (int seed = 0; seed < 10; seed++) {
                s.clear();
                TokenStream stream = s.generate(PROMPT, Generation.maxTokens(24)
                        .sampler(Sampler.builder().seed(seed).temperature(1).grammar(grammar).build()));
                String text = stream.text();
                assertFalse(text.isBlank(), "seed " + seed);
                String[] parts = text.split(" ", -1);
                for (int i = 0; i < parts.length; i++) {
                    String w = parts[i];
                    boolean cutShort = i == parts.length - 1 && stream.finishReason() == FinishReason.LENGTH;
                    assertTrue(words.contains(w) || (cutShort && words.stream().anyMatch(x -> x.startsWith(w))),
                            "seed " + seed + ": '" + text + "'");
                }
            }
        }
    }

    @Test
    void jsonSchemaGenerationsAllValidate() throws Exception {
        String schema = """
                {"type": "object",
                 "properties": {
                   "name": {"type": "string", "maxLength": 8},
                   "happy": {"type": "boolean"},
                   "color": {"enum": ["red", "green", "blue"]},
                   "tags": {"type": "array", "items": {"type": "string", "maxLength": 4}, "maxItems": 3}
                 },
                 "required": ["name", "happy", "color"],
                 "additionalProperties": false}
                """;
        ObjectMapper json = new ObjectMapper();
        int valid = 0;
        try (Session s = session(2)) {
            for (int seed = 0; seed < 50; seed++) {
                s.clear();
                TokenStream stream = s.generate(PROMPT, Generation.maxTokens(200)
                        .sampler(Sampler.builder().seed(seed).temperature(1).topK(0).topP(1).minP(0).jsonSchema(schema).build()));
                String text = stream.text();
                assertEquals(FinishReason.END_TOKEN, stream.finishReason(), "seed " + seed + " did not finish: " + text);
                JsonNode node = json.readTree(text);
                assertTrue(node.isObject(), text);
                assertTrue(node.get("name").isTextual() && node.get("name").asText().length() <= 8, text);
                assertTrue(node.get("happy").isBoolean(), text);
                assertTrue(Set.of("red", "green", "blue").contains(node.get("color").asText()), text);
                node.fieldNames().forEachRemaining(f -> assertTrue(Set.of("name", "happy", "color", "tags").contains(f), text));
                if (node.has("tags")) {
                    assertTrue(node.get("tags").isArray() && node.get("tags").size() <= 3, text);
                    node.get("tags").forEach(t -> assertTrue(t.isTextual() && t.asText().length() <= 4, text));
                }
                valid++;
            }
        }
        assertEquals(50, valid);
    }

    @Test
    void interruptingTheGeneratingThreadEndsItWithinOneToken() throws Exception {
        try (Session s = session(2)) {
            AtomicInteger count = new AtomicInteger();
            TokenStream stream = s.generate(PROMPT, Generation.maxTokens(200).sampler(Sampler.builder().seed(1).build())
                    .stopAtEndToken(false).onToken(t -> {
                        if (count.incrementAndGet() == 5) Thread.currentThread().interrupt();
                    }));
            try {
                stream.forEachRemaining(t -> { });
            } finally {
                assertTrue(Thread.interrupted());
            }
            assertEquals(5, count.get());
            assertEquals(FinishReason.CANCELLED, stream.finishReason());
        }
        // from another thread, while it runs
        try (Session s = session(2)) {
            CountDownLatch started = new CountDownLatch(1);
            AtomicInteger afterInterrupt = new AtomicInteger();
            AtomicReference<FinishReason> reason = new AtomicReference<>();
            Thread worker = new Thread(() -> {
                TokenStream stream = s.generate(PROMPT, Generation.maxTokens(100_000).stopAtEndToken(false)
                        .sampler(Sampler.builder().seed(2).build()));
                while (stream.hasNext()) {
                    stream.next();
                    started.countDown();
                    if (Thread.currentThread().isInterrupted()) afterInterrupt.incrementAndGet();
                }
                reason.set(stream.finishReason());
            });
            worker.start();
            assertTrue(started.await(30, TimeUnit.SECONDS));
            worker.interrupt();
            worker.join(10_000);
            assertFalse(worker.isAlive());
            assertEquals(FinishReason.CANCELLED, reason.get());
            assertTrue(afterInterrupt.get() <= 1, "tokens after the interrupt: " + afterInterrupt.get());
        }
    }

    @Test
    void closingTheStreamStopsAndTheSessionContinues() {
        try (Session s = session(2)) {
            TokenStream stream = s.generate(PROMPT, Generation.maxTokens(50).sampler(Sampler.greedy()));
            Token first = stream.next();
            assertNotNull(first);
            stream.close();
            assertFalse(stream.hasNext());
            assertEquals(FinishReason.CANCELLED, stream.finishReason());
            // the session continues from where it is (prompt evaluated, first token pending)
            String more = s.generate(" and", Generation.maxTokens(5).sampler(Sampler.greedy())).text();
            assertFalse(more.isEmpty());
        }
    }

    @Test
    void publisherHonoursDemandAndMatchesTheIterator() throws Exception {
        Sampler sampler = Sampler.builder().seed(77).build();
        String expected;
        try (Session s = session(2)) {
            expected = s.generate(PROMPT, Generation.maxTokens(30).sampler(sampler)).text();
        }
        try (Session s = session(2); var executor = Executors.newSingleThreadExecutor()) {
            CompletableFuture<String> done = new CompletableFuture<>();
            s.publish(PROMPT, Generation.maxTokens(30).sampler(sampler), executor).subscribe(new Flow.Subscriber<>() {
                final StringBuilder sb = new StringBuilder();
                Flow.Subscription sub;

                @Override
                public void onSubscribe(Flow.Subscription subscription) {
                    sub = subscription;
                    sub.request(1);
                }

                @Override
                public void onNext(Token item) {
                    sb.append(item.text());
                    sub.request(1);
                }

                @Override
                public void onError(Throwable throwable) {
                    done.completeExceptionally(throwable);
                }

                @Override
                public void onComplete() {
                    done.complete(sb.toString());
                }
            });
            assertEquals(expected, done.get(60, TimeUnit.SECONDS));
        }
    }

    @Test
    void badGrammarIsAClearError() {
        FflamaException e = org.junit.jupiter.api.Assertions.assertThrows(FflamaException.class,
                () -> Sampler.builder().grammar("root ::= \"unterminated"));
        assertTrue(e.getMessage().contains("1:"), e.getMessage());
    }
}
