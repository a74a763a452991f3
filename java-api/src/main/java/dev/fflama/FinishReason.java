package dev.fflama;

/** Why a generation ended. */
public enum FinishReason {
    /** The token limit was reached. */
    LENGTH,
    /** A stop string appeared (it is not part of the text). */
    STOP_STRING,
    /** The model produced an end-of-generation token (not part of the text). */
    END_TOKEN,
    /** The context (KV cache) is full. */
    CONTEXT_FULL,
    /** The thread was interrupted, or the stream closed or cancelled. */
    CANCELLED
}
