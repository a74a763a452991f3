package dev.fflama;

/**
 * How to create a {@link Session}. Immutable; build with {@link #builder()} or take {@link #defaults()}.
 *
 * @param contextSize KV cache cells shared by all sequences (0: the model's training context)
 * @param batchSize   tokens per forward step (longer evaluations are split)
 * @param threads     worker threads (0: the machine's physical cores)
 * @param kvType      KV cache precision
 * @param sequences   number of sequence ids the session can hold at once
 * @param embeddings  keep the final hidden states for {@link Session#embeddings()}
 */
public record SessionOptions(int contextSize, int batchSize, int threads, KvType kvType, int sequences, boolean embeddings) {
    public SessionOptions {
        if (contextSize < 0) throw new IllegalArgumentException("contextSize must be >= 0");
        if (batchSize < 1) throw new IllegalArgumentException("batchSize must be >= 1");
        if (threads < 0) throw new IllegalArgumentException("threads must be >= 0");
        if (sequences < 1 || sequences > 64) throw new IllegalArgumentException("sequences must be in [1, 64]");
        if (kvType == null) throw new IllegalArgumentException("kvType is null");
    }

    public static SessionOptions defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builder usable from Java, Kotlin and Scala alike. */
    public static final class Builder {
        private int contextSize = 4096;
        private int batchSize = 512;
        private int threads = 0;
        private KvType kvType = KvType.F16;
        private int sequences = 1;
        private boolean embeddings;

        public Builder contextSize(int n) {
            this.contextSize = n;
            return this;
        }

        public Builder batchSize(int n) {
            this.batchSize = n;
            return this;
        }

        public Builder threads(int n) {
            this.threads = n;
            return this;
        }

        public Builder kvType(KvType t) {
            this.kvType = t;
            return this;
        }

        public Builder sequences(int n) {
            this.sequences = n;
            return this;
        }

        public Builder embeddings(boolean on) {
            this.embeddings = on;
            return this;
        }

        public SessionOptions build() {
            return new SessionOptions(contextSize, batchSize, threads, kvType, sequences, embeddings);
        }
    }
}
