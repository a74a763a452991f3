package dev.fflama.chat;

import com.hubspot.jinjava.el.ext.NamedParameter;
import com.hubspot.jinjava.objects.SafeString;
import java.beans.FeatureDescriptor;
import java.lang.reflect.Array;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * EL resolver placed in front of Jinjava's own: gives strings Python's {@code str} methods
 * ({@code strip}, {@code startswith}, {@code split}, {@code upper}, ...) and index access
 * ({@code s[0]}, {@code s[-1]}), and dicts {@code get(key, default)}, {@code items()},
 * {@code keys()}, {@code values()}. Without it {@code 'abc'.startswith('a')} is a fatal
 * "cannot find method" in Jinjava, and {@code .split()} returns a Java array with regex semantics.
 */
final class PyMethods extends ELResolver {

    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
        if (base == null || method == null) {
            return null;
        }
        String name = method.toString();
        Object[] args = params == null ? new Object[0] : params;
        if (base instanceof String || base instanceof SafeString) {
            Args a = new Args(args);
            Object r = stringMethod(base.toString(), name, a);
            if (r != NO_SUCH_METHOD) {
                context.setPropertyResolved(true);
                return r;
            }
        } else if (base instanceof Map<?, ?> map) {
            Object r = dictMethod(map, name, new Args(args));
            if (r != NO_SUCH_METHOD) {
                context.setPropertyResolved(true);
                return r;
            }
        }
        return null;
    }

    @Override
    public Object getValue(ELContext context, Object base, Object property) {
        if ((base instanceof String || base instanceof SafeString) && property != null) {
            String s = base.toString();
            Integer idx = asIndex(property);
            if (idx != null) {
                context.setPropertyResolved(true);
                int i = idx < 0 ? idx + s.length() : idx;
                return i >= 0 && i < s.length() ? String.valueOf(s.charAt(i)) : null;
            }
        }
        return null;
    }

    private static Integer asIndex(Object property) {
        if (property instanceof Integer || property instanceof Long || property instanceof Short) {
            return ((Number) property).intValue();
        }
        if (property instanceof String p && !p.isEmpty()) {
            int start = p.charAt(0) == '-' ? 1 : 0;
            if (start == p.length() || p.length() > 10) {
                return null;
            }
            for (int i = start; i < p.length(); i++) {
                if (!Character.isDigit(p.charAt(i))) {
                    return null;
                }
            }
            return Integer.parseInt(p);
        }
        return null;
    }

    @Override
    public Class<?> getType(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public void setValue(ELContext context, Object base, Object property, Object value) {
        // not handled here: the next resolver decides
    }

    @Override
    public boolean isReadOnly(ELContext context, Object base, Object property) {
        return true;
    }

    @Override
    public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
        return null;
    }

    @Override
    public Class<?> getCommonPropertyType(ELContext context, Object base) {
        return null;
    }

    private static final Object NO_SUCH_METHOD = new Object();

    /** Positional and keyword arguments of a call. */
    private static final class Args {
        final List<Object> positional = new ArrayList<>();
        final Map<String, Object> named = new java.util.HashMap<>();

        Args(Object[] raw) {
            for (Object o : raw) {
                if (o instanceof NamedParameter np) {
                    named.put(np.getName(), np.getValue());
                } else {
                    positional.add(o);
                }
            }
        }

        int size() {
            return positional.size() + named.size();
        }

        Object get(int index, String name) {
            if (index < positional.size()) {
                return positional.get(index);
            }
            return named.get(name);
        }

        String str(int index, String name) {
            Object o = get(index, name);
            return o == null ? null : o.toString();
        }

        int integer(int index, String name, int dflt) {
            Object o = get(index, name);
            return o instanceof Number n ? n.intValue() : dflt;
        }
    }

    static boolean isPySpace(char c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u0085';
    }

    static String strip(String s, String chars, boolean left, boolean right) {
        int b = 0;
        int e = s.length();
        if (left) {
            while (b < e && (chars == null ? isPySpace(s.charAt(b)) : chars.indexOf(s.charAt(b)) >= 0)) {
                b++;
            }
        }
        if (right) {
            while (e > b && (chars == null ? isPySpace(s.charAt(e - 1)) : chars.indexOf(s.charAt(e - 1)) >= 0)) {
                e--;
            }
        }
        return s.substring(b, e);
    }

    private static Object stringMethod(String s, String name, Args a) {
        switch (name) {
            case "strip":
                return strip(s, a.str(0, "chars"), true, true);
            case "lstrip":
                return strip(s, a.str(0, "chars"), true, false);
            case "rstrip":
                return strip(s, a.str(0, "chars"), false, true);
            case "upper":
                return s.toUpperCase(Locale.ROOT);
            case "lower":
                return s.toLowerCase(Locale.ROOT);
            case "title":
                return title(s);
            case "capitalize":
                return s.isEmpty() ? s : s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1).toLowerCase(Locale.ROOT);
            case "swapcase": {
                StringBuilder sb = new StringBuilder(s.length());
                for (char c : s.toCharArray()) {
                    sb.append(Character.isUpperCase(c) ? Character.toLowerCase(c) : Character.toUpperCase(c));
                }
                return sb.toString();
            }
            case "startswith":
            case "endswith": {
                Object arg = a.get(0, "prefix");
                String sub = slice(s, a, 1);
                for (String p : stringOrTuple(arg)) {
                    if (name.equals("startswith") ? sub.startsWith(p) : sub.endsWith(p)) {
                        return true;
                    }
                }
                return false;
            }
            case "split":
                return split(s, a.str(0, "sep"), a.integer(1, "maxsplit", -1));
            case "rsplit":
                return rsplit(s, a.str(0, "sep"), a.integer(1, "maxsplit", -1));
            case "splitlines":
                return splitlines(s, Boolean.TRUE.equals(a.get(0, "keepends")));
            case "replace": {
                String old = a.str(0, "old");
                String neu = a.str(1, "new");
                int count = a.integer(2, "count", -1);
                if (old == null || neu == null) {
                    return NO_SUCH_METHOD;
                }
                return replace(s, old, neu, count);
            }
            case "find":
            case "index": {
                String sub = a.str(0, "sub");
                int r = sub == null ? -1 : s.indexOf(sub);
                if (r < 0 && name.equals("index")) {
                    throw new IllegalArgumentException("substring not found");
                }
                return r;
            }
            case "rfind":
            case "rindex": {
                String sub = a.str(0, "sub");
                int r = sub == null ? -1 : s.lastIndexOf(sub);
                if (r < 0 && name.equals("rindex")) {
                    throw new IllegalArgumentException("substring not found");
                }
                return r;
            }
            case "count": {
                String sub = a.str(0, "sub");
                if (sub == null) {
                    return NO_SUCH_METHOD;
                }
                if (sub.isEmpty()) {
                    return s.length() + 1;
                }
                int n = 0;
                for (int i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + sub.length())) {
                    n++;
                }
                return n;
            }
            case "join": {
                StringBuilder sb = new StringBuilder();
                boolean first = true;
                for (Object o : iterate(a.get(0, "iterable"))) {
                    if (!first) {
                        sb.append(s);
                    }
                    first = false;
                    sb.append(o);
                }
                return sb.toString();
            }
            case "removeprefix": {
                String p = a.str(0, "prefix");
                return p != null && s.startsWith(p) ? s.substring(p.length()) : s;
            }
            case "removesuffix": {
                String p = a.str(0, "suffix");
                return p != null && !p.isEmpty() && s.endsWith(p) ? s.substring(0, s.length() - p.length()) : s;
            }
            case "isspace":
                return !s.isEmpty() && s.chars().allMatch(c -> isPySpace((char) c));
            case "isdigit":
                return !s.isEmpty() && s.chars().allMatch(Character::isDigit);
            case "isalpha":
                return !s.isEmpty() && s.chars().allMatch(Character::isLetter);
            case "isalnum":
                return !s.isEmpty() && s.chars().allMatch(Character::isLetterOrDigit);
            case "islower":
                return s.chars().anyMatch(Character::isLetter) && s.equals(s.toLowerCase(Locale.ROOT));
            case "isupper":
                return s.chars().anyMatch(Character::isLetter) && s.equals(s.toUpperCase(Locale.ROOT));
            default:
                return NO_SUCH_METHOD;
        }
    }

    private static Object dictMethod(Map<?, ?> map, String name, Args a) {
        switch (name) {
            case "get":
                if (a.size() < 1 || a.size() > 2) {
                    return NO_SUCH_METHOD;
                }
                Object key = a.get(0, "key");
                return map.containsKey(key) ? map.get(key) : a.get(1, "default");
            case "items": {
                if (a.size() != 0) {
                    return NO_SUCH_METHOD;
                }
                List<Object> l = new ArrayList<>(map.size());
                for (Map.Entry<?, ?> e : map.entrySet()) {
                    l.add(pair(e.getKey(), e.getValue()));
                }
                return l;
            }
            case "keys":
                return a.size() == 0 ? new ArrayList<>(map.keySet()) : NO_SUCH_METHOD;
            case "values":
                return a.size() == 0 ? new ArrayList<>(map.values()) : NO_SUCH_METHOD;
            default:
                return NO_SUCH_METHOD;
        }
    }

    /** A Python 2-tuple: an indexable, unpackable two-element list. */
    static List<Object> pair(Object a, Object b) {
        List<Object> l = new ArrayList<>(2);
        l.add(a);
        l.add(b);
        return l;
    }

    private static String slice(String s, Args a, int from) {
        int n = s.length();
        Object st = a.get(from, "start");
        Object en = a.get(from + 1, "end");
        int b = st instanceof Number x ? x.intValue() : 0;
        int e = en instanceof Number x ? x.intValue() : n;
        if (b < 0) {
            b = Math.max(0, b + n);
        }
        if (e < 0) {
            e = Math.max(0, e + n);
        }
        b = Math.min(b, n);
        e = Math.min(e, n);
        return b >= e ? "" : s.substring(b, e);
    }

    private static List<String> stringOrTuple(Object arg) {
        List<String> l = new ArrayList<>();
        if (arg instanceof String || arg instanceof SafeString) {
            l.add(arg.toString());
        } else if (arg != null) {
            for (Object o : iterate(arg)) {
                l.add(String.valueOf(o));
            }
        }
        return l;
    }

    static Iterable<?> iterate(Object o) {
        if (o == null) {
            return List.of();
        }
        if (o instanceof Map<?, ?> m) {
            return m.keySet();
        }
        if (o instanceof Iterable<?> it) {
            return it;
        }
        if (o.getClass().isArray()) {
            int n = Array.getLength(o);
            List<Object> l = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                l.add(Array.get(o, i));
            }
            return l;
        }
        if (o instanceof CharSequence cs) {
            List<Object> l = new ArrayList<>(cs.length());
            cs.chars().forEach(c -> l.add(String.valueOf((char) c)));
            return l;
        }
        return List.of(o);
    }

    private static String title(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        boolean prevCased = false;
        for (char c : s.toCharArray()) {
            if (Character.isLetter(c)) {
                sb.append(prevCased ? Character.toLowerCase(c) : Character.toUpperCase(c));
                prevCased = true;
            } else {
                sb.append(c);
                prevCased = false;
            }
        }
        return sb.toString();
    }

    static List<String> split(String s, String sep, int maxsplit) {
        List<String> out = new ArrayList<>();
        if (sep == null) {
            int i = 0;
            int n = s.length();
            while (true) {
                while (i < n && isPySpace(s.charAt(i))) {
                    i++;
                }
                if (i >= n) {
                    break;
                }
                if (maxsplit >= 0 && out.size() == maxsplit) {
                    out.add(strip(s.substring(i), null, false, true));
                    break;
                }
                int j = i;
                while (j < n && !isPySpace(s.charAt(j))) {
                    j++;
                }
                out.add(s.substring(i, j));
                i = j;
            }
            return out;
        }
        if (sep.isEmpty()) {
            throw new IllegalArgumentException("empty separator");
        }
        int i = 0;
        while (maxsplit < 0 || out.size() < maxsplit) {
            int j = s.indexOf(sep, i);
            if (j < 0) {
                break;
            }
            out.add(s.substring(i, j));
            i = j + sep.length();
        }
        out.add(s.substring(i));
        return out;
    }

    private static List<String> rsplit(String s, String sep, int maxsplit) {
        if (maxsplit < 0) {
            return split(s, sep, -1);
        }
        List<String> out = new ArrayList<>();
        if (sep == null) {
            int j = s.length();
            while (true) {
                while (j > 0 && isPySpace(s.charAt(j - 1))) {
                    j--;
                }
                if (j <= 0) {
                    break;
                }
                if (out.size() == maxsplit) {
                    out.add(0, strip(s.substring(0, j), null, true, false));
                    break;
                }
                int i = j;
                while (i > 0 && !isPySpace(s.charAt(i - 1))) {
                    i--;
                }
                out.add(0, s.substring(i, j));
                j = i;
            }
            return out;
        }
        if (sep.isEmpty()) {
            throw new IllegalArgumentException("empty separator");
        }
        int end = s.length();
        while (out.size() < maxsplit) {
            int j = s.lastIndexOf(sep, end - sep.length());
            if (j < 0) {
                break;
            }
            out.add(0, s.substring(j + sep.length(), end));
            end = j;
        }
        out.add(0, s.substring(0, end));
        return out;
    }

    private static List<String> splitlines(String s, boolean keepends) {
        List<String> out = new ArrayList<>();
        int i = 0;
        int start = 0;
        int n = s.length();
        while (i < n) {
            char c = s.charAt(i);
            int eol = -1;
            if (c == '\r' && i + 1 < n && s.charAt(i + 1) == '\n') {
                eol = i + 2;
            } else if (c == '\n' || c == '\r' || c == '\u000b' || c == '\u000c' || c == '\u001c' || c == '\u001d'
                    || c == '\u001e' || c == '\u0085' || c == '\u2028' || c == '\u2029') {
                eol = i + 1;
            }
            if (eol < 0) {
                i++;
                continue;
            }
            out.add(s.substring(start, keepends ? eol : i));
            start = eol;
            i = eol;
        }
        if (start < n) {
            out.add(s.substring(start));
        }
        return out;
    }

    private static String replace(String s, String old, String neu, int count) {
        if (count < 0) {
            return s.replace(old, neu);
        }
        StringBuilder sb = new StringBuilder();
        int i = 0;
        int done = 0;
        if (old.isEmpty()) {
            for (; i < s.length() && done < count; i++, done++) {
                sb.append(neu).append(s.charAt(i));
            }
            if (done < count && i == s.length()) {
                sb.append(neu);
            }
            return sb.append(s, i, s.length()).toString();
        }
        while (done < count) {
            int j = s.indexOf(old, i);
            if (j < 0) {
                break;
            }
            sb.append(s, i, j).append(neu);
            i = j + old.length();
            done++;
        }
        return sb.append(s, i, s.length()).toString();
    }
}
