package dev.fflama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The allocation-free way through a generation ({@link TokenStream#advance()} and the current-token
 * accessors) gives exactly what the iterator gives, allocates nothing per token once compiled, and
 * reusing a session's sampler chain across generations changes no result.
 */
class GenerationHotPathTest {
    static final String PROMPT = "Once upon a time there was a";
    static Model model;

    @BeforeAll
    static void load() {
        model = Model.load(TestData.model("stories260K-f32.gguf"));
    }

    @AfterAll
    static void close() {
        model.close();
    }

    static Session session() {
        return model.newSession(SessionOptions.builder().contextSize(512).threads(1).kvType(KvType.F32).build());
    }

    record Seen(int id, String text, float logprob) {}

    static List<Seen> viaIterator(Session s, Generation g) {
        s.clear();
        List<Seen> out = new ArrayList<>();
        try (TokenStream t = s.generate(PROMPT, g)) {
            t.forEachRemaining(k -> out.add(new Seen(k.id(), k.text(), k.logprob())));
        }
        return out;
    }

    static List<Seen> viaAdvance(Session s, Generation g) {
        s.clear();
        List<Seen> out = new ArrayList<>();
        try (TokenStream t = s.generate(PROMPT, g)) {
            while (t.advance()) out.add(new Seen(t.tokenId(), t.tokenText().toString(), t.tokenLogprob()));
            assertFalse(t.advance());
        }
        return out;
    }

    @Test
    void advanceSeesWhatTheIteratorSees() {
        String target = "é€😀 the end";
        List<Generation> cases = List.of(
                Generation.maxTokens(60).sampler(Sampler.builder().seed(3).temperature(1).repeatPenalty(1.2f).build()),
                Generation.maxTokens(32).sampler(Sampler.greedy()).stopAt("l named"),
                Generation.maxTokens(30).sampler(Sampler.builder().seed(5).temperature(1).grammar("root ::= \"" + target + "\"").build()),
                Generation.maxTokens(4).sampler(Sampler.greedy()).stopAt("girls")); // " little", " g", "ir", "l": "girl" held, then released
        try (Session s = session()) {
            for (Generation g : cases) {
                List<Seen> a = viaIterator(s, g);
                List<Seen> b = viaAdvance(s, g);
                assertEquals(a, b, g.toString());
                assertFalse(a.isEmpty());
            }
            String text = viaAdvance(s, cases.get(2)).stream().map(Seen::text).reduce("", String::concat);
            assertEquals(target, text);
            assertEquals(List.of(" little", " ", "", "girl"), viaAdvance(s, cases.get(3)).stream().map(Seen::text).toList());
        }
        // a full context ends it; the held text comes out as a last token with id -1
        try (Session s = model.newSession(SessionOptions.builder().contextSize(9).threads(1).kvType(KvType.F32).build())) {
            Generation g = Generation.maxTokens(20).sampler(Sampler.greedy()).stopAt("girls");
            List<Seen> a = viaIterator(s, g);
            assertEquals(a, viaAdvance(s, g));
            assertEquals(List.of(" little", " ", "g"), a.stream().map(Seen::text).toList());
            assertEquals(-1, a.get(2).id());
            assertTrue(Float.isNaN(a.get(2).logprob()));
        }
    }

    @Test
    void hasNextLooksAheadAndTheViewFollowsTheStream() {
        try (Session s = session(); TokenStream t = s.generate(PROMPT, Generation.maxTokens(10).sampler(Sampler.greedy()))) {
            assertTrue(t.hasNext());
            int peeked = t.tokenId();
            CharSequence view = t.tokenText();
            String peekedText = view.toString();
            Token first = t.next();
            assertEquals(peeked, first.id());
            assertEquals(peekedText, first.text());
            assertTrue(t.advance());
            assertEquals(view.toString(), t.tokenText().toString()); // one view, always the current token
            if (view.length() > 0) assertEquals(view.toString().charAt(0), view.charAt(0));
            StringBuilder sb = new StringBuilder().append(view);
            assertEquals(view.toString(), sb.toString());
        }
    }

    @Test
    void aSessionReusesChainsWithoutChangingResults() {
        Sampler random = Sampler.builder().seed(11).temperature(0.9f).repeatPenalty(1.3f).build();
        Sampler grammar = Sampler.builder().seed(4).temperature(1).grammar("root ::= (\"cat\" | \"dog\") (\" \" (\"cat\" | \"dog\"))*").build();
        for (Sampler sampler : List.of(random, grammar)) {
            Generation g = Generation.maxTokens(24).sampler(sampler);
            String fresh;
            try (Session s = session()) {
                fresh = s.generate(PROMPT, g).text();
            }
            try (Session s = session()) {
                for (int i = 0; i < 3; i++) {
                    s.clear();
                    assertEquals(fresh, s.generate(PROMPT, g).text(), "generation " + i);
                    s.clear();
                    // a half-consumed generation in between must not leak its state into the next
                    try (TokenStream t = s.generate(PROMPT, g)) {
                        t.advance();
                    }
                }
            }
        }
    }

    /** A worker evaluating a long prompt again and again; returns how its first failing evaluation failed. */
    static FflamaException abortedWhile(Session s, java.util.function.Consumer<Thread> stop) throws Exception {
        int[] prompt = new int[400];
        for (int i = 0; i < prompt.length; i++) prompt[i] = 1 + (i * 7) % 500;
        var failure = new java.util.concurrent.atomic.AtomicReference<FflamaException>();
        var started = new java.util.concurrent.CountDownLatch(1);
        Thread worker = new Thread(() -> {
            for (int round = 0; round < 100_000; round++) {
                s.clear();
                started.countDown();
                try {
                    s.evaluate(prompt);
                } catch (FflamaException e) {
                    failure.set(e);
                    Thread.interrupted();
                    return;
                }
            }
        });
        worker.start();
        assertTrue(started.await(30, java.util.concurrent.TimeUnit.SECONDS));
        Thread.sleep(30);
        // a request that lands after an evaluation's last check is rightly lost (that evaluation had
        // finished its work); the next evaluation of the loop then has to be stopped by the next request
        long deadline = System.nanoTime() + 30_000_000_000L;
        do {
            stop.accept(worker);
            worker.join(50);
        } while (worker.isAlive() && System.nanoTime() < deadline);
        assertFalse(worker.isAlive());
        return failure.get();
    }

    @Test
    void cancelAndInterruptAbortAnEvaluationAndLeaveTheCache() throws Exception {
        try (Session s = model.newSession(SessionOptions.builder().contextSize(512).batchSize(512).threads(1).build())) {
            FflamaException cancelled = abortedWhile(s, w -> s.cancel());
            assertEquals(FflamaException.Status.ABORTED, cancelled.status());
            assertEquals(0, s.position());
            FflamaException interrupted = abortedWhile(s, Thread::interrupt);
            assertEquals(FflamaException.Status.ABORTED, interrupted.status());
            assertEquals(0, s.position());
            s.evaluate(1, 403, 407); // and it works on
            assertEquals(3, s.position());
        }
    }

    @Test
    void steadyStateGenerationAllocatesNothingPerToken() {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().threadId();
        Generation g = Generation.maxTokens(240).sampler(Sampler.builder().seed(7).temperature(1.0f).build()).stopAtEndToken(false);
        long deadline = System.nanoTime() + 60_000_000_000L;
        int zeroRounds = 0;
        long last = -1;
        try (Session s = model.newSession(SessionOptions.builder().contextSize(256).threads(1).build())) {
            // until the JIT has compiled the loop (tens of rounds); then three rounds in a row must allocate nothing
            while (zeroRounds < 3 && System.nanoTime() < deadline) {
                s.clear();
                try (TokenStream tokens = s.generate(new int[] {1}, g)) {
                    for (int i = 0; i < 40; i++) assertTrue(tokens.advance());
                    long before = threads.getThreadAllocatedBytes(tid);
                    int chars = 0;
                    for (int i = 0; i < 180; i++) {
                        assertTrue(tokens.advance());
                        chars += tokens.tokenText().length();
                    }
                    last = threads.getThreadAllocatedBytes(tid) - before;
                    assertTrue(chars > 0);
                }
                zeroRounds = last == 0 ? zeroRounds + 1 : 0;
            }
        }
        assertEquals(3, zeroRounds, "bytes allocated over 180 tokens in the last round: " + last);
    }
}
