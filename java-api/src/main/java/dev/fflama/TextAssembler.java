package dev.fflama;

import java.util.List;

/**
 * Turns the byte pieces of generated tokens into text that is safe to emit: never a broken UTF-8
 * character (incomplete sequences are held until the next piece completes them) and never any
 * part of a stop string (text that could still grow into one is held back; a stop string found
 * across any number of token boundaries ends the text just before it).
 */
final class TextAssembler {
    private final List<String> stops;
    private final int longestStop;
    private byte[] pendingBytes = new byte[16];
    private int pendingLength;
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;

    TextAssembler(List<String> stopStrings) {
        this.stops = stopStrings.stream().filter(s -> !s.isEmpty()).toList();
        this.longestStop = stops.stream().mapToInt(String::length).max().orElse(0);
    }

    /** True once a stop string has been seen; later pieces are ignored. */
    boolean stopped() {
        return stopped;
    }

    /** Adds one token's bytes and returns the text that can be emitted now ("" if none). */
    String push(byte[] piece, int length) {
        if (stopped) return "";
        ensure(pendingLength + length);
        System.arraycopy(piece, 0, pendingBytes, pendingLength, length);
        pendingLength += length;
        int complete = completePrefix(pendingBytes, pendingLength);
        if (complete > 0) {
            held.append(Utf8.decode(pendingBytes, 0, complete));
            System.arraycopy(pendingBytes, complete, pendingBytes, 0, pendingLength - complete);
            pendingLength -= complete;
        }
        return release(false);
    }

    /** Ends the text: returns whatever is still held (incomplete UTF-8 becomes U+FFFD). */
    String finish() {
        if (stopped) return "";
        if (pendingLength > 0) {
            held.append(Utf8.decode(pendingBytes, 0, pendingLength));
            pendingLength = 0;
        }
        return release(true);
    }

    private String release(boolean all) {
        if (held.isEmpty()) return "";
        int cut = -1;
        for (String s : stops) {
            int at = held.indexOf(s);
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
        }
        if (cut >= 0) {
            stopped = true;
            String out = held.substring(0, cut);
            held.setLength(0);
            return out;
        }
        int keep = all ? 0 : partialStopSuffix();
        // never split a surrogate pair between two emissions
        int emit = held.length() - keep;
        if (emit > 0 && emit < held.length() && Character.isHighSurrogate(held.charAt(emit - 1))) emit--;
        String out = held.substring(0, emit);
        held.delete(0, emit);
        return out;
    }

    /** Length of the longest suffix of held that is a proper prefix of a stop string. */
    private int partialStopSuffix() {
        int max = Math.min(longestStop - 1, held.length());
        for (int len = max; len > 0; len--) {
            int start = held.length() - len;
            for (String s : stops) {
                if (s.length() > len && startsAt(start, s, len)) return len;
            }
        }
        return 0;
    }

    private boolean startsAt(int start, String s, int len) {
        for (int i = 0; i < len; i++) if (held.charAt(start + i) != s.charAt(i)) return false;
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

    private void ensure(int n) {
        if (n > pendingBytes.length) pendingBytes = java.util.Arrays.copyOf(pendingBytes, Math.max(n, pendingBytes.length * 2));
    }
}
