package dev.fflama;

import java.util.function.DoubleConsumer;

/**
 * How to load a model. Immutable; build with {@link #builder()} or take {@link #defaults()}.
 *
 * @param mmap     map the file (default) instead of reading it into memory
 * @param repack   with {@code mmap}, move the weights that the CPU's kernels multiply faster in another
 *                 layout (Q4_0, Q8_0, Q4_K and Q6_K with AVX-512) into that layout in memory of the model's own,
 *                 and copy the other weight matrices there as they are when the system has transparent huge
 *                 pages, as far as free memory allows (default); false keeps every weight where the file maps
 *                 it (no copy, slower generation)
 * @param progress called with the loading fraction in [0, 1] (may be null); runs on the loading thread
 */
public record ModelOptions(boolean mmap, boolean repack, DoubleConsumer progress) {
    public static ModelOptions defaults() {
        return new ModelOptions(true, true, null);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builder usable from Java, Kotlin and Scala alike. */
    public static final class Builder {
        private boolean mmap = true;
        private boolean repack = true;
        private DoubleConsumer progress;

        public Builder mmap(boolean mmap) {
            this.mmap = mmap;
            return this;
        }

        public Builder repack(boolean repack) {
            this.repack = repack;
            return this;
        }

        public Builder progress(DoubleConsumer progress) {
            this.progress = progress;
            return this;
        }

        public ModelOptions build() {
            return new ModelOptions(mmap, repack, progress);
        }
    }
}
