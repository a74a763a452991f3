package dev.fflama;

import java.util.Arrays;

/**
 * Tokens with explicit positions, sequence ids and output flags, for evaluating several
 * sequences in one step ({@link Session#evaluate(Batch)}). Reusable: {@link #clear()} and refill.
 */
public final class Batch {
    int[] tokens = new int[16];
    int[] positions = new int[16];
    int[] sequences = new int[16];
    boolean[] logits = new boolean[16];
    private int size;

    public Batch add(int token, int position, int sequence, boolean wantLogits) {
        if (size == tokens.length) {
            int cap = size * 2;
            tokens = Arrays.copyOf(tokens, cap);
            positions = Arrays.copyOf(positions, cap);
            sequences = Arrays.copyOf(sequences, cap);
            logits = Arrays.copyOf(logits, cap);
        }
        tokens[size] = token;
        positions[size] = position;
        sequences[size] = sequence;
        logits[size] = wantLogits;
        size++;
        return this;
    }

    public int size() {
        return size;
    }

    public Batch clear() {
        size = 0;
        return this;
    }
}
