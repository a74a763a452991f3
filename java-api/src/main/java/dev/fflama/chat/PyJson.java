package dev.fflama.chat;

import java.lang.reflect.Array;
import java.lang.reflect.RecordComponent;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Python's {@code json.dumps}, byte for byte, as Hugging Face's {@code tojson} filter calls it
 * ({@code ensure_ascii=False} by default, separators {@code ", "} and {@code ": "} without indent,
 * {@code ","} and {@code ": "} with it, floats in {@code repr} form). Jinjava's own {@code tojson}
 * is Jackson's compact form, which does not match what models were trained on.
 */
final class PyJson {

    private PyJson() {}

    /** Options of {@code json.dumps}. {@code indent} is null for single-line output. */
    record Options(String indent, String itemSeparator, String keySeparator, boolean sortKeys, boolean ensureAscii) {
        static Options python(Object indent, List<?> separators, boolean sortKeys, boolean ensureAscii) {
            String ind = null;
            if (indent instanceof Number n) {
                ind = " ".repeat(Math.max(0, n.intValue()));
            } else if (indent instanceof CharSequence cs) {
                ind = cs.toString();
            }
            String item = ind == null ? ", " : ",";
            String key = ": ";
            if (separators != null && separators.size() == 2) {
                item = String.valueOf(separators.get(0));
                key = String.valueOf(separators.get(1));
            }
            return new Options(ind, item, key, sortKeys, ensureAscii);
        }
    }

    static final Options DEFAULT = Options.python(null, null, false, false);

    static String dumps(Object value, Options options) {
        StringBuilder sb = new StringBuilder();
        write(sb, value, options, 0);
        return sb.toString();
    }

    private static void newline(StringBuilder sb, Options o, int level) {
        if (o.indent() != null) {
            sb.append('\n');
            sb.append(o.indent().repeat(level));
        }
    }

    private static void write(StringBuilder sb, Object v, Options o, int level) {
        v = unwrap(v);
        if (v == null) {
            sb.append("null");
        } else if (v instanceof Boolean b) {
            sb.append(b ? "true" : "false");
        } else if (v instanceof CharSequence || v instanceof Character || v instanceof Enum<?>) {
            string(sb, v instanceof Enum<?> e ? e.name() : v.toString(), o.ensureAscii());
        } else if (v instanceof Number num) {
            sb.append(number(num));
        } else if (v instanceof Map<?, ?> map) {
            if (map.isEmpty()) {
                sb.append("{}");
                return;
            }
            List<Map.Entry<String, Object>> entries = new ArrayList<>();
            for (Map.Entry<?, ?> e : map.entrySet()) {
                entries.add(Map.entry(key(e.getKey()), e.getValue() == null ? NULL : e.getValue()));
            }
            if (o.sortKeys()) {
                entries.sort(Comparator.comparing(Map.Entry::getKey));
            }
            sb.append('{');
            boolean first = true;
            for (Map.Entry<String, Object> e : entries) {
                if (!first) {
                    sb.append(o.itemSeparator());
                }
                first = false;
                newline(sb, o, level + 1);
                string(sb, e.getKey(), o.ensureAscii());
                sb.append(o.keySeparator());
                write(sb, e.getValue() == NULL ? null : e.getValue(), o, level + 1);
            }
            newline(sb, o, level);
            sb.append('}');
        } else {
            List<Object> items = sequence(v);
            if (items == null) {
                throw new IllegalArgumentException("Object of type " + v.getClass().getName() + " is not JSON serializable"
                        + " (use maps, lists, records, strings, numbers, booleans or null)");
            }
            if (items.isEmpty()) {
                sb.append("[]");
                return;
            }
            sb.append('[');
            boolean first = true;
            for (Object item : items) {
                if (!first) {
                    sb.append(o.itemSeparator());
                }
                first = false;
                newline(sb, o, level + 1);
                write(sb, item, o, level + 1);
            }
            newline(sb, o, level);
            sb.append(']');
        }
    }

    private static final Object NULL = new Object();

    private static Object unwrap(Object v) {
        if (v instanceof Optional<?> opt) {
            return opt.orElse(null);
        }
        if (v instanceof Record r) {
            Map<String, Object> m = new java.util.LinkedHashMap<>();
            for (RecordComponent c : r.getClass().getRecordComponents()) {
                try {
                    c.getAccessor().setAccessible(true);
                    m.put(c.getName(), c.getAccessor().invoke(r));
                } catch (ReflectiveOperationException | RuntimeException e) {
                    throw new IllegalArgumentException("cannot read record component " + c.getName(), e);
                }
            }
            return m;
        }
        return v;
    }

    private static List<Object> sequence(Object v) {
        if (v instanceof Map.Entry<?, ?> e) {
            List<Object> l = new ArrayList<>(2);
            l.add(e.getKey());
            l.add(e.getValue());
            return l;
        }
        if (v instanceof Iterable<?> it) {
            List<Object> l = new ArrayList<>();
            it.forEach(l::add);
            return l;
        }
        if (v.getClass().isArray()) {
            int n = Array.getLength(v);
            List<Object> l = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                l.add(Array.get(v, i));
            }
            return l;
        }
        return null;
    }

    /** Python coerces dict keys: str stays, numbers/booleans/None become their JSON text. */
    private static String key(Object k) {
        k = unwrap(k);
        if (k == null) {
            return "null";
        }
        if (k instanceof Boolean b) {
            return b ? "true" : "false";
        }
        if (k instanceof Number n) {
            return number(n);
        }
        return k.toString();
    }

    static String number(Number n) {
        if (n instanceof Integer || n instanceof Long || n instanceof Short || n instanceof Byte
                || n instanceof BigInteger || n instanceof java.util.concurrent.atomic.AtomicInteger
                || n instanceof java.util.concurrent.atomic.AtomicLong) {
            return n.toString();
        }
        if (n instanceof BigDecimal bd) {
            return floatRepr(bd.doubleValue());
        }
        if (n instanceof Float f) {
            if (f.isNaN() || f.isInfinite()) {
                return floatRepr(f.doubleValue());
            }
            return repr(new BigDecimal(Float.toString(f)), f < 0 || (f == 0 && 1 / f < 0));
        }
        return floatRepr(n.doubleValue());
    }

    /** Python's {@code repr(float)}: shortest round-trip digits, exponent form outside [1e-4, 1e16). */
    static String floatRepr(double d) {
        if (Double.isNaN(d)) {
            return "NaN";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "Infinity" : "-Infinity";
        }
        // Double.toString gives the shortest round-tripping digits (JDK 19+), like Python's repr
        return repr(new BigDecimal(Double.toString(d)), d < 0 || (d == 0 && 1 / d < 0));
    }

    private static String repr(BigDecimal bd, boolean negative) {
        if (bd.signum() == 0) {
            return negative ? "-0.0" : "0.0";
        }
        bd = bd.abs().stripTrailingZeros();
        String digits = bd.unscaledValue().toString();
        int exp = digits.length() - 1 - bd.scale(); // decimal exponent of the first digit
        StringBuilder sb = new StringBuilder();
        if (negative) {
            sb.append('-');
        }
        if (exp >= -4 && exp < 16) {
            String plain = bd.toPlainString();
            sb.append(plain);
            if (plain.indexOf('.') < 0) {
                sb.append(".0");
            }
        } else {
            sb.append(digits.charAt(0));
            if (digits.length() > 1) {
                sb.append('.').append(digits, 1, digits.length());
            }
            sb.append('e').append(exp < 0 ? '-' : '+');
            int a = Math.abs(exp);
            if (a < 10) {
                sb.append('0');
            }
            sb.append(a);
        }
        return sb.toString();
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    static void string(StringBuilder sb, String s, boolean ensureAscii) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20 || (ensureAscii && c > 0x7e)) {
                        sb.append("\\u").append(HEX[(c >> 12) & 15]).append(HEX[(c >> 8) & 15])
                                .append(HEX[(c >> 4) & 15]).append(HEX[c & 15]);
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
