package dev.fflama;

import java.util.function.DoubleConsumer;

/**
 * How to load a model. Immutable; build with {@link #builder()} or take {@link #defaults()}.
 *
 * @param mmap     map the file (default) instead of reading it into memory
 * @param progress called with the loading fraction in [0, 1] (may be null); runs on the loading thread
 */
public record ModelOptions(boolean mmap, DoubleConsumer progress) {
    public static ModelOptions defaults() {
        return new ModelOptions(true, null);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builder usable from Java, Kotlin and Scala alike. */
    public static final class Builder {
        private boolean mmap = true;
        private DoubleConsumer progress;

        public Builder mmap(boolean mmap) {
            this.mmap = mmap;
            return this;
        }

        public Builder progress(DoubleConsumer progress) {
            this.progress = progress;
            return this;
        }

        public ModelOptions build() {
            return new ModelOptions(mmap, progress);
        }
    }
}
