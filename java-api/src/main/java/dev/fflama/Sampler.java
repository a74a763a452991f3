package dev.fflama;

import dev.fflama.bindings.fflama_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How to pick each next token: an immutable description of a native sampler chain with
 * llama.cpp's semantics. Thread-safe and reusable; every generation builds its own native chain
 * from it.
 *
 * <p>The chain runs in this order: logit bias, penalties, DRY, grammar, top-k, typical, top-p,
 * min-p, XTC, temperature, then a final pick (greedy when temperature is 0, mirostat v2 when set,
 * otherwise a seeded random draw).
 */
public final class Sampler {
    final long seed;
    final float temperature, dynatempRange, dynatempExponent;
    final int topK;
    final float topP, minP, typicalP;
    final int penaltyLastN;
    final float repeatPenalty, frequencyPenalty, presencePenalty;
    final Map<Integer, Float> logitBias;
    final float mirostatTau, mirostatEta;
    final boolean mirostat;
    final float xtcProbability, xtcThreshold;
    final float dryMultiplier, dryBase;
    final int dryAllowedLength, dryLastN;
    final List<String> dryBreakers;
    final String grammar;
    final String grammarRoot;

    private Sampler(Builder b) {
        seed = b.seed;
        temperature = b.temperature;
        dynatempRange = b.dynatempRange;
        dynatempExponent = b.dynatempExponent;
        topK = b.topK;
        topP = b.topP;
        minP = b.minP;
        typicalP = b.typicalP;
        penaltyLastN = b.penaltyLastN;
        repeatPenalty = b.repeatPenalty;
        frequencyPenalty = b.frequencyPenalty;
        presencePenalty = b.presencePenalty;
        logitBias = Map.copyOf(b.logitBias);
        mirostat = b.mirostat;
        mirostatTau = b.mirostatTau;
        mirostatEta = b.mirostatEta;
        xtcProbability = b.xtcProbability;
        xtcThreshold = b.xtcThreshold;
        dryMultiplier = b.dryMultiplier;
        dryBase = b.dryBase;
        dryAllowedLength = b.dryAllowedLength;
        dryLastN = b.dryLastN;
        dryBreakers = List.copyOf(b.dryBreakers);
        grammar = b.grammar;
        grammarRoot = b.grammarRoot;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Always the most likely token. */
    public static Sampler greedy() {
        return builder().temperature(0).build();
    }

    /** llama.cpp's defaults: top-k 40, top-p 0.95, min-p 0.05, temperature 0.8, random seed. */
    public static Sampler defaults() {
        return builder().build();
    }

    public long seed() {
        return seed;
    }

    public float temperature() {
        return temperature;
    }

    public String grammar() {
        return grammar;
    }

    /** A builder preset with this sampler's settings. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.seed = seed;
        b.temperature = temperature;
        b.dynatempRange = dynatempRange;
        b.dynatempExponent = dynatempExponent;
        b.topK = topK;
        b.topP = topP;
        b.minP = minP;
        b.typicalP = typicalP;
        b.penaltyLastN = penaltyLastN;
        b.repeatPenalty = repeatPenalty;
        b.frequencyPenalty = frequencyPenalty;
        b.presencePenalty = presencePenalty;
        b.logitBias.putAll(logitBias);
        b.mirostat = mirostat;
        b.mirostatTau = mirostatTau;
        b.mirostatEta = mirostatEta;
        b.xtcProbability = xtcProbability;
        b.xtcThreshold = xtcThreshold;
        b.dryMultiplier = dryMultiplier;
        b.dryBase = dryBase;
        b.dryAllowedLength = dryAllowedLength;
        b.dryLastN = dryLastN;
        b.dryBreakers = new ArrayList<>(dryBreakers);
        b.grammar = grammar;
        b.grammarRoot = grammarRoot;
        return b;
    }

    /**
     * Builds the native chain for one generation over a vocabulary (a native ffl_vocab, needed by
     * DRY and grammars). The caller frees it with {@link NativeChain#close()}.
     */
    NativeChain newChain(MemorySegment vocab, int contextSize) {
        Native.ensureLoaded();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            Native.check(fflama_h.ffl_sampler_chain_new(seed, out));
            NativeChain chain = new NativeChain(out.get(ValueLayout.ADDRESS, 0));
            try {
                MemorySegment c = chain.handle;
                if (!logitBias.isEmpty()) {
                    MemorySegment toks = a.allocate(ValueLayout.JAVA_INT, logitBias.size());
                    MemorySegment bias = a.allocate(ValueLayout.JAVA_FLOAT, logitBias.size());
                    int i = 0;
                    for (var e : logitBias.entrySet()) {
                        toks.setAtIndex(ValueLayout.JAVA_INT, i, e.getKey());
                        bias.setAtIndex(ValueLayout.JAVA_FLOAT, i++, e.getValue());
                    }
                    Native.check(fflama_h.ffl_sampler_chain_add_logit_bias(c, logitBias.size(), toks, bias));
                }
                if (penaltyLastN != 0 && (repeatPenalty != 1f || frequencyPenalty != 0f || presencePenalty != 0f)) {
                    int lastN = penaltyLastN < 0 ? contextSize : penaltyLastN; // -1: the whole context
                    Native.check(fflama_h.ffl_sampler_chain_add_penalties(c, lastN, repeatPenalty, frequencyPenalty, presencePenalty));
                }
                if (dryMultiplier > 0f) {
                    MemorySegment breakers = a.allocate(ValueLayout.ADDRESS, Math.max(1, dryBreakers.size()));
                    for (int i = 0; i < dryBreakers.size(); i++) {
                        breakers.setAtIndex(ValueLayout.ADDRESS, i, Native.cString(a, dryBreakers.get(i)));
                    }
                    Native.check(fflama_h.ffl_sampler_chain_add_dry(c, vocab, contextSize, dryMultiplier, dryBase,
                            dryAllowedLength, dryLastN, breakers, dryBreakers.size()));
                }
                if (grammar != null) {
                    Native.check(fflama_h.ffl_sampler_chain_add_grammar(c, vocab, Native.cString(a, grammar),
                            Native.cString(a, grammarRoot)));
                }
                if (temperature <= 0f) {
                    Native.check(fflama_h.ffl_sampler_chain_add_greedy(c));
                    return chain;
                }
                if (mirostat) {
                    Native.check(fflama_h.ffl_sampler_chain_add_temp(c, temperature));
                    Native.check(fflama_h.ffl_sampler_chain_add_mirostat_v2(c, mirostatTau, mirostatEta));
                    return chain;
                }
                if (topK > 0) Native.check(fflama_h.ffl_sampler_chain_add_top_k(c, topK));
                if (typicalP < 1f) Native.check(fflama_h.ffl_sampler_chain_add_typical(c, typicalP, 1));
                if (topP < 1f) Native.check(fflama_h.ffl_sampler_chain_add_top_p(c, topP, 1));
                if (minP > 0f) Native.check(fflama_h.ffl_sampler_chain_add_min_p(c, minP, 1));
                if (xtcProbability > 0f) Native.check(fflama_h.ffl_sampler_chain_add_xtc(c, xtcProbability, xtcThreshold, 1));
                if (dynatempRange > 0f) {
                    Native.check(fflama_h.ffl_sampler_chain_add_temp_ext(c, temperature, dynatempRange, dynatempExponent));
                } else {
                    Native.check(fflama_h.ffl_sampler_chain_add_temp(c, temperature));
                }
                Native.check(fflama_h.ffl_sampler_chain_add_dist(c));
                return chain;
            } catch (RuntimeException e) {
                chain.close();
                throw e;
            }
        }
    }

    /** Describes the settings, e.g. for logs. */
    @Override
    public String toString() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("seed", seed);
        m.put("temperature", temperature);
        m.put("top_k", topK);
        m.put("top_p", topP);
        m.put("min_p", minP);
        if (typicalP < 1) m.put("typical_p", typicalP);
        if (repeatPenalty != 1) m.put("repeat_penalty", repeatPenalty);
        if (frequencyPenalty != 0) m.put("frequency_penalty", frequencyPenalty);
        if (presencePenalty != 0) m.put("presence_penalty", presencePenalty);
        if (mirostat) m.put("mirostat_v2", mirostatTau + "/" + mirostatEta);
        if (xtcProbability > 0) m.put("xtc", xtcProbability + "/" + xtcThreshold);
        if (dryMultiplier > 0) m.put("dry", dryMultiplier);
        if (grammar != null) m.put("grammar", grammar.length() + " chars");
        return "Sampler" + m;
    }

    /** A native sampler chain owned by one generation. */
    static final class NativeChain implements AutoCloseable {
        final MemorySegment handle;
        private boolean closed;

        NativeChain(MemorySegment handle) {
            this.handle = handle;
        }

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                fflama_h.ffl_sampler_free(handle);
            }
        }
    }

    /** Builder with llama.cpp's default values; usable from Java, Kotlin and Scala. */
    public static final class Builder {
        private long seed = System.nanoTime() ^ 0x5DEECE66DL;
        private float temperature = 0.8f, dynatempRange = 0f, dynatempExponent = 1f;
        private int topK = 40;
        private float topP = 0.95f, minP = 0.05f, typicalP = 1f;
        private int penaltyLastN = 64;
        private float repeatPenalty = 1f, frequencyPenalty = 0f, presencePenalty = 0f;
        private final Map<Integer, Float> logitBias = new LinkedHashMap<>();
        private boolean mirostat;
        private float mirostatTau = 5f, mirostatEta = 0.1f;
        private float xtcProbability = 0f, xtcThreshold = 0.1f;
        private float dryMultiplier = 0f, dryBase = 1.75f;
        private int dryAllowedLength = 2, dryLastN = -1;
        private List<String> dryBreakers = new ArrayList<>(List.of("\n", ":", "\"", "*"));
        private String grammar;
        private String grammarRoot = "root";

        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** 0 or less: greedy. */
        public Builder temperature(float t) {
            this.temperature = t;
            return this;
        }

        /** Dynamic temperature in [t - range, t + range] by entropy^exponent. */
        public Builder dynamicTemperature(float range, float exponent) {
            this.dynatempRange = range;
            this.dynatempExponent = exponent;
            return this;
        }

        /** 0 disables. */
        public Builder topK(int k) {
            this.topK = k;
            return this;
        }

        /** 1 disables. */
        public Builder topP(float p) {
            this.topP = p;
            return this;
        }

        /** 0 disables. */
        public Builder minP(float p) {
            this.minP = p;
            return this;
        }

        /** 1 disables. */
        public Builder typicalP(float p) {
            this.typicalP = p;
            return this;
        }

        /** 1 disables. Applies over the last {@link #penaltyLastN(int)} tokens. */
        public Builder repeatPenalty(float p) {
            this.repeatPenalty = p;
            return this;
        }

        public Builder frequencyPenalty(float p) {
            this.frequencyPenalty = p;
            return this;
        }

        public Builder presencePenalty(float p) {
            this.presencePenalty = p;
            return this;
        }

        /** How many recent tokens the penalties look at (-1: the whole context; 0: off). */
        public Builder penaltyLastN(int n) {
            this.penaltyLastN = n;
            return this;
        }

        /** Adds bias to a token's logit ({@code Float.NEGATIVE_INFINITY} bans it). */
        public Builder logitBias(int token, float bias) {
            this.logitBias.put(token, bias);
            return this;
        }

        /** Mirostat 2.0 with target surprise tau and learning rate eta (replaces top-k/p/min-p). */
        public Builder mirostatV2(float tau, float eta) {
            this.mirostat = true;
            this.mirostatTau = tau;
            this.mirostatEta = eta;
            return this;
        }

        /** Exclude Top Choices: with this probability, drop top tokens above threshold but the least likely. */
        public Builder xtc(float probability, float threshold) {
            this.xtcProbability = probability;
            this.xtcThreshold = threshold;
            return this;
        }

        /** DRY repetition penalty ("don't repeat yourself"); multiplier 0 disables. */
        public Builder dry(float multiplier, float base, int allowedLength, int lastN) {
            this.dryMultiplier = multiplier;
            this.dryBase = base;
            this.dryAllowedLength = allowedLength;
            this.dryLastN = lastN;
            return this;
        }

        public Builder drySequenceBreakers(List<String> breakers) {
            this.dryBreakers = new ArrayList<>(breakers);
            return this;
        }

        /** Constrains output to a GBNF grammar (llama.cpp's format) starting at rule "root". */
        public Builder grammar(String gbnf) {
            return grammar(gbnf, "root");
        }

        public Builder grammar(String gbnf, String rootRule) {
            Native.ensureLoaded();
            try (Arena a = Arena.ofConfined()) {
                Native.check(fflama_h.ffl_grammar_validate(Native.cString(a, gbnf), Native.cString(a, rootRule)));
            }
            this.grammar = gbnf;
            this.grammarRoot = rootRule;
            return this;
        }

        /** Constrains output to JSON valid for a JSON Schema ("{}" for any JSON value). */
        public Builder jsonSchema(String schema) {
            return grammar(jsonSchemaToGrammar(schema));
        }

        public Sampler build() {
            return new Sampler(this);
        }
    }

    /** Converts a JSON Schema to GBNF (the native converter). */
    public static String jsonSchemaToGrammar(String schema) {
        Native.ensureLoaded();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = Native.cString(a, schema);
            MemorySegment len = a.allocate(ValueLayout.JAVA_LONG);
            int st = fflama_h.ffl_json_schema_to_grammar(s, MemorySegment.NULL, 0, len);
            if (st < 0 && st != FflamaException.Status.OUT_OF_RANGE) throw Native.error(st);
            long n = len.get(ValueLayout.JAVA_LONG, 0);
            MemorySegment buf = a.allocate(n + 1);
            Native.check(fflama_h.ffl_json_schema_to_grammar(s, buf, n + 1, len));
            return buf.getString(0);
        }
    }
}
