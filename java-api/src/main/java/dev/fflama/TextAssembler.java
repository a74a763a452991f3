package dev.fflama;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Turns the byte pieces of generated tokens into text that is safe to emit: never a broken UTF-8
 * character (incomplete sequences are held until the next piece completes them) and never any
 * part of a stop string (text that could still grow into one is held back; a stop string found
 * across any number of token boundaries ends the text just before it).
 *
 * <p>Allocation-free once its buffers have grown to the longest piece: {@link #pushChars} and
 * {@link #finishChars} leave the released text in {@link #released()}, a buffer reused by every call.
 * One decoder is reused, so invalid bytes become U+FFFD exactly as {@code new String(bytes, UTF_8)}
 * would replace them.
 */
final class TextAssembler {
    private final List<String> stopStrings;
    private final char[][] stops;
    private final int longestStop;
    private final CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPLACE).onUnmappableCharacter(CodingErrorAction.REPLACE);
    private byte[] pendingBytes = new byte[16];
    private ByteBuffer pendingView = ByteBuffer.wrap(pendingBytes);
    private int pendingLength;
    private char[] held = new char[64];
    private CharBuffer heldView = CharBuffer.wrap(held);
    private int heldLength;
    private char[] released = new char[64];
    private int releasedLength;
    private boolean stopped;

    TextAssembler(List<String> stopStrings) {
        this.stopStrings = List.copyOf(stopStrings);
        this.stops = stopStrings.stream().filter(s -> !s.isEmpty()).map(String::toCharArray).toArray(char[][]::new);
        int longest = 0;
        for (char[] s : stops) longest = Math.max(longest, s.length);
        this.longestStop = longest;
    }

    List<String> stopStrings() {
        return stopStrings;
    }

    /** Empties it for a new generation with the same stop strings. */
    void reset() {
        pendingLength = 0;
        heldLength = 0;
        releasedLength = 0;
        stopped = false;
    }

    /** True once a stop string has been seen; later pieces are ignored. */
    boolean stopped() {
        return stopped;
    }

    /** The text the last push or finish released: the first {@link #releasedLength()} chars. */
    char[] released() {
        return released;
    }

    int releasedLength() {
        return releasedLength;
    }

    /** Adds one token's bytes and returns the text that can be emitted now ("" if none). */
    String push(byte[] piece, int length) {
        pushChars(piece, length);
        return releasedString();
    }

    /** Ends the text: returns whatever is still held (incomplete UTF-8 becomes U+FFFD). */
    String finish() {
        finishChars();
        return releasedString();
    }

    private String releasedString() {
        return releasedLength == 0 ? "" : new String(released, 0, releasedLength);
    }

    /** Adds one token's bytes; the text that can be emitted now is left in {@link #released()}. Returns its length. */
    int pushChars(byte[] piece, int length) {
        return pushChars(piece, length, false);
    }

    /**
     * Adds one token's bytes, and with last also ends the text (as {@link #finishChars()}), leaving all the
     * text released in {@link #released()}. Returns its length.
     */
    int pushChars(byte[] piece, int length, boolean last) {
        releasedLength = 0;
        if (stopped) return 0;
        if (pendingLength == 0 && isAscii(piece, length)) {
            // most pieces: nothing pending and every byte a whole character, no decoder needed
            if (heldLength + length > held.length) {
                held = java.util.Arrays.copyOf(held, Math.max(heldLength + length, held.length * 2));
                heldView = CharBuffer.wrap(held);
            }
            for (int i = 0; i < length; i++) held[heldLength + i] = (char) piece[i];
            heldLength += length;
            release(false);
            return last ? finishMore() : releasedLength;
        }
        if (pendingLength + length > pendingBytes.length) {
            pendingBytes = java.util.Arrays.copyOf(pendingBytes, Math.max(pendingLength + length, pendingBytes.length * 2));
            pendingView = ByteBuffer.wrap(pendingBytes);
        }
        System.arraycopy(piece, 0, pendingBytes, pendingLength, length);
        pendingLength += length;
        int complete = completePrefix(pendingBytes, pendingLength);
        if (complete > 0) {
            decodePending(complete);
            System.arraycopy(pendingBytes, complete, pendingBytes, 0, pendingLength - complete);
            pendingLength -= complete;
        }
        release(false);
        return last ? finishMore() : releasedLength;
    }

    /** Ends the text: whatever is still held goes to {@link #released()}. Returns its length. */
    int finishChars() {
        releasedLength = 0;
        return finishMore();
    }

    private int finishMore() {
        if (stopped) return releasedLength;
        if (pendingLength > 0) {
            decodePending(pendingLength);
            pendingLength = 0;
        }
        return release(true);
    }

    /** Decodes the first n pending bytes onto the end of held (n bytes never give more than n chars). */
    private void decodePending(int n) {
        if (heldLength + n > held.length) {
            held = java.util.Arrays.copyOf(held, Math.max(heldLength + n, held.length * 2));
            heldView = CharBuffer.wrap(held);
        }
        pendingView.limit(n).position(0);
        heldView.limit(held.length).position(heldLength);
        decoder.reset();
        decoder.decode(pendingView, heldView, true);
        decoder.flush(heldView);
        heldLength = heldView.position();
    }

    private int release(boolean all) {
        if (heldLength == 0) return releasedLength;
        int cut = -1;
        for (char[] s : stops) {
            int at = indexOf(s, cut < 0 ? heldLength : cut);
            if (at >= 0) cut = at;
        }
        if (cut >= 0) {
            stopped = true;
            emit(cut);
            heldLength = 0;
            return releasedLength;
        }
        int keep = all ? 0 : partialStopSuffix();
        // never split a surrogate pair between two emissions
        int n = heldLength - keep;
        if (n > 0 && n < heldLength && Character.isHighSurrogate(held[n - 1])) n--;
        emit(n);
        System.arraycopy(held, n, held, 0, heldLength - n);
        heldLength -= n;
        return releasedLength;
    }

    /** Appends the first n held chars to the released text. */
    private void emit(int n) {
        int total = releasedLength + n;
        if (total > released.length) released = java.util.Arrays.copyOf(released, Math.max(total, released.length * 2));
        System.arraycopy(held, 0, released, releasedLength, n);
        releasedLength = total;
    }

    /** First index of s in held that starts before limit (so it beats an earlier match), or -1. */
    private int indexOf(char[] s, int limit) {
        int last = Math.min(limit - 1, heldLength - s.length);
        for (int i = 0; i <= last; i++) if (startsAt(i, s, s.length)) return i;
        return -1;
    }

    /** Length of the longest suffix of held that is a proper prefix of a stop string. */
    private int partialStopSuffix() {
        int max = Math.min(longestStop - 1, heldLength);
        for (int len = max; len > 0; len--) {
            int start = heldLength - len;
            for (char[] s : stops) {
                if (s.length > len && startsAt(start, s, len)) return len;
            }
        }
        return 0;
    }

    private boolean startsAt(int start, char[] s, int len) {
        for (int i = 0; i < len; i++) if (held[start + i] != s[i]) return false;
        return true;
    }

    private static boolean isAscii(byte[] b, int n) {
        for (int i = 0; i < n; i++) if (b[i] < 0) return false;
        return true;
    }

    /** Bytes from the start that form whole UTF-8 sequences (or bytes that can never become valid). */
    static int completePrefix(byte[] b, int n) {
        // look back at most 3 bytes for the start of an unfinished sequence
        for (int back = 1; back <= Math.min(3, n); back++) {
            int lead = b[n - back] & 0xff;
            if ((lead & 0xc0) == 0x80) continue; // continuation byte: keep looking for its lead
            int need = lead >= 0xf0 && lead <= 0xf4 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc2 && lead < 0xe0 ? 2 : 1;
            if (lead >= 0xf5) need = 1;
            return need > back ? n - back : n;
        }
        return n;
    }
}
