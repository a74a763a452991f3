package dev.fflama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class TextAssemblerTest {
    static List<String> feed(TextAssembler a, byte[]... pieces) {
        List<String> out = new ArrayList<>();
        for (byte[] p : pieces) out.add(a.push(p, p.length));
        out.add(a.finish());
        return out;
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void multiByteCharactersSplitAcrossTokensAreNeverEmittedBroken() {
        byte[] euro = b("€"); // e2 82 ac
        byte[] emoji = b("😀"); // f0 9f 98 80
        TextAssembler a = new TextAssembler(List.of());
        List<String> out = feed(a, new byte[] {'a', euro[0]}, new byte[] {euro[1]}, new byte[] {euro[2], emoji[0], emoji[1]},
                new byte[] {emoji[2], emoji[3], 'z'});
        assertEquals(List.of("a", "", "€", "😀z", ""), out);
        for (String s : out) assertFalse(s.contains("\uFFFD"));
    }

    @Test
    void invalidBytesBecomeReplacementCharacters() {
        TextAssembler a = new TextAssembler(List.of());
        assertEquals("x\uFFFDy", String.join("", feed(a, new byte[] {'x', (byte) 0xff, 'y'})));
        TextAssembler c = new TextAssembler(List.of());
        assertEquals("\uFFFD", String.join("", feed(c, new byte[] {(byte) 0xe2, (byte) 0x82}))); // cut short at the end
    }

    @Test
    void stopStringsSpanningTokensAreHonouredAndNeverEmitted() {
        TextAssembler a = new TextAssembler(List.of("\n\n", "END"));
        List<String> out = new ArrayList<>();
        out.add(a.push(b("Hello E"), 7));
        out.add(a.push(b("N"), 1));
        assertEquals(List.of("Hello ", ""), out);
        assertEquals("", a.push(b("D and more"), 10));
        assertTrue(a.stopped());
        assertEquals("", a.finish());

        TextAssembler n = new TextAssembler(List.of("\n\n"));
        assertEquals("one\n", n.push(b("one\n"), 4).concat(n.push(b("x"), 1)).substring(0, 4));
        TextAssembler m = new TextAssembler(List.of("\n\n"));
        String s1 = m.push(b("line\n"), 5);
        String s2 = m.push(b("\nnext"), 5);
        assertEquals("line", s1 + s2);
        assertTrue(m.stopped());
    }

    @Test
    void heldPrefixIsReleasedWhenItStopsMatching() {
        TextAssembler a = new TextAssembler(List.of("STOP"));
        assertEquals("go ", a.push(b("go ST"), 5));
        assertEquals("STart", a.push(b("art"), 3));
        assertEquals("ST", a.push(b("ST"), 2).isEmpty() ? a.finish() : "wrong");
    }
}
