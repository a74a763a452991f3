package dev.fflama.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code tojson} output compared with Python's {@code json.dumps} (values printed by CPython 3). */
class ChatTemplatePyJsonTest {

    private static String dumps(Object o) {
        return PyJson.dumps(o, PyJson.DEFAULT);
    }

    @Test
    void floatsUsePythonRepr() {
        assertEquals("0.1", dumps(0.1));
        assertEquals("1.0", dumps(1.0));
        assertEquals("1e+16", dumps(1e16));
        assertEquals("1000000000000000.0", dumps(1e15));
        assertEquals("1e-05", dumps(1e-5));
        assertEquals("0.00025", dumps(2.5e-4));
        assertEquals("123456789.123", dumps(123456789.123));
        assertEquals("1e+22", dumps(1e22));
        assertEquals("-1.5e-10", dumps(-1.5e-10));
        assertEquals("-0.0", dumps(-0.0));
        assertEquals("NaN", dumps(Double.NaN));
        assertEquals("Infinity", dumps(Double.POSITIVE_INFINITY));
        assertEquals("0.1", dumps(0.1f));
        assertEquals("2.5", dumps(new BigDecimal("2.50")));
        assertEquals("3", dumps(3L));
    }

    @Test
    void stringsEscapeLikePython() {
        assertEquals("\"a\\u0001\u007f\u2028\\\"\\\\/\\n\\t\\r\\b\\f\"", dumps("a\u0001\u007f\u2028\"\\/\n\t\r\b\f"));
        assertEquals("\"\u00fc\uD83D\uDE00\"", dumps("\u00fc\uD83D\uDE00"));
        assertEquals("\"\\u00fc\\ud83d\\ude00\"",
                PyJson.dumps("\u00fc\uD83D\uDE00", PyJson.Options.python(null, null, false, true)));
    }

    @Test
    void containersAndKeys() {
        Map<Object, Object> keys = new LinkedHashMap<>();
        keys.put(1, 3);
        keys.put(null, 4);
        keys.put(1.5, 5);
        keys.put(true, 6);
        assertEquals("{\"1\": 3, \"null\": 4, \"1.5\": 5, \"true\": 6}", dumps(keys));
        assertEquals("[]", dumps(List.of()));
        assertEquals("{}", dumps(Map.of()));
        assertEquals("[1, \"a\", null, true]", dumps(Arrays.asList(1, "a", null, true)));
        assertEquals("[1, 2]", dumps(new int[] {1, 2}));
        assertEquals("[\"k\", \"v\"]", dumps(Map.entry("k", "v")));
    }

    @Test
    void indentSortKeysAndSeparators() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("b", new ArrayList<>(List.of(1, Map.of())));
        m.put("a", Map.of("c", List.of()));
        assertEquals("{\n  \"a\": {\n    \"c\": []\n  },\n  \"b\": [\n    1,\n    {}\n  ]\n}",
                PyJson.dumps(m, PyJson.Options.python(2, null, true, false)));
        assertEquals("[\n1,\n[\n2,\n3\n]\n]", PyJson.dumps(List.of(1, List.of(2, 3)), PyJson.Options.python(0, null, false, false)));
        assertEquals("{\"a\":[1,2]}", PyJson.dumps(Map.of("a", List.of(1, 2)), PyJson.Options.python(null, List.of(",", ":"), false, false)));
    }

    @Test
    void recordsAreObjectsAndOtherObjectsAreRejected() {
        record Point(int x, double y) {}
        assertEquals("{\"x\": 1, \"y\": 2.0}", dumps(new Point(1, 2)));
        assertThrows(IllegalArgumentException.class, () -> dumps(new Object()));
    }
}
