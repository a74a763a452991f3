package dev.fflama.chat;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Source-to-source pre-pass that closes the gaps between Jinjava's expression grammar and
 * Python Jinja's, so that HF templates keep their meaning. It only touches the inside of
 * {@code {{ }}} and {@code {% %}} tags (never text, comments or {@code raw} blocks) and leaves
 * everything else byte for byte.
 *
 * <ol>
 *   <li><b>{@code not} precedence.</b> In Jinja {@code not} binds looser than comparisons, tests,
 *       filters and arithmetic: {@code not x|length == 1} is {@code not ((x|length) == 1)}.
 *       Jinjava parses {@code not} as a tight unary operator. The pre-pass parenthesises the
 *       operand of every {@code not} up to the next {@code and}/{@code or}/{@code if}/{@code else},
 *       comma, colon or closing bracket at the same nesting level ({@code is not} and
 *       {@code not in} are left alone).</li>
 *   <li><b>Loop filters.</b> Jinja's {@code {% for x in seq if cond %}} (loop variables count only
 *       the kept items) has no Jinjava equivalent; it is rewritten to
 *       {@code {% for x in _fflama_loop_if(seq, n) %}}, where that function (see
 *       {@link JinjaEnvironment}) evaluates condition {@code n} for each item with the loop targets
 *       bound.</li>
 *   <li><b>Extended slices.</b> {@code x[a:b:c]} (Qwen3 iterates {@code messages[::-1]}) does not
 *       parse in Jinjava; it becomes {@code _fflama_slice(x, a, b, c)}.</li>
 *   <li><b>Keyword arguments.</b> Jinjava binds {@code =} tighter than operators, so
 *       {@code namespace(i=messages|length - 1)} (Qwen3) needs {@code i=(messages|length - 1)}.</li>
 *   <li><b>For-else.</b> Jinjava renders a for loop's {@code else} part inside every iteration;
 *       the loop becomes {@code set v = seq; for x in v ...; if not v ...}.</li>
 *   <li><b>Braces.</b> Jinjava ends {@code {{ }}} at the first {@code }}}, even inside a dict
 *       literal; such brace pairs are separated by a space.</li>
 * </ol>
 *
 * <p>The scan is lexical (strings, brackets, keywords), not a full parse; it is written to be a
 * no-op on anything it does not recognise, leaving errors to Jinjava's parser.
 */
final class TemplateRewriter {

    /** A {@code for ... if cond} condition moved out of the template source. */
    record LoopCondition(List<String> targets, String condition) {}

    /** The rewritten source and the loop conditions it refers to by index. */
    record Result(String source, List<LoopCondition> loopConditions) {}

    static final String LOOP_FUNCTION = "_fflama_loop_if";

    private final String src;
    private final StringBuilder out = new StringBuilder();
    private final List<LoopCondition> conditions = new ArrayList<>();

    private TemplateRewriter(String src) {
        this.src = src;
    }

    static Result rewrite(String source) {
        TemplateRewriter r = new TemplateRewriter(source);
        r.run();
        return new Result(r.out.toString(), List.copyOf(r.conditions));
    }

    private void run() {
        int i = 0;
        int n = src.length();
        while (i < n) {
            int open = src.indexOf('{', i);
            if (open < 0 || open + 1 >= n) {
                out.append(src, i, n);
                return;
            }
            char kind = src.charAt(open + 1);
            if (kind != '{' && kind != '%' && kind != '#') {
                out.append(src, i, open + 1);
                i = open + 1;
                continue;
            }
            out.append(src, i, open);
            if (kind == '#') {
                int end = src.indexOf("#}", open + 2);
                end = end < 0 ? n : end + 2;
                out.append(src, open, end);
                i = end;
                continue;
            }
            int bodyStart = open + 2;
            if (bodyStart < n && (src.charAt(bodyStart) == '-' || src.charAt(bodyStart) == '+')) {
                bodyStart++;
            }
            int close = findClose(bodyStart, kind == '{' ? '}' : '%');
            if (close < 0) { // unterminated tag: leave it to the parser to report
                out.append(src, open, n);
                return;
            }
            int bodyEnd = close;
            if (bodyEnd > bodyStart && (src.charAt(bodyEnd - 1) == '-' || src.charAt(bodyEnd - 1) == '+')) {
                bodyEnd--;
            }
            String body = src.substring(bodyStart, bodyEnd);
            if (kind == '{') {
                out.append(src, open, bodyStart);
                out.append(protectBraces(rewriteExpr(body)));
                out.append(src, bodyEnd, close + 2);
                i = close + 2;
            } else {
                String tag = firstWord(body);
                statement(tag, body, src.substring(open, bodyStart), src.substring(bodyEnd, close + 2));
                i = close + 2;
                if (tag.equals("raw")) { // copy verbatim up to and including {% endraw %}
                    int end = findEndRaw(i);
                    out.append(src, i, end);
                    i = end;
                }
            }
        }
    }

    /** Index of the closing {@code }}}/{@code %}} of a tag, skipping strings and (for {{ }}) brackets. */
    private int findClose(int from, char closer) {
        int depth = 0;
        int n = src.length();
        for (int i = from; i < n; i++) {
            char c = src.charAt(i);
            if (c == '\'' || c == '"') {
                i = skipString(src, i);
                if (i < 0) {
                    return -1;
                }
                continue;
            }
            if (c == closer && i + 1 < n && src.charAt(i + 1) == '}' && (closer == '%' || depth == 0)) {
                return i;
            }
            if (c == '(' || c == '[' || c == '{') {
                depth++;
            } else if ((c == ')' || c == ']' || c == '}') && depth > 0) {
                depth--;
            }
        }
        return -1;
    }

    private int findEndRaw(int from) {
        int i = from;
        while (true) {
            int open = src.indexOf("{%", i);
            if (open < 0) {
                return src.length();
            }
            int bs = open + 2;
            if (bs < src.length() && (src.charAt(bs) == '-' || src.charAt(bs) == '+')) {
                bs++;
            }
            int close = src.indexOf("%}", bs);
            if (close < 0) {
                return src.length();
            }
            String body = src.substring(bs, close);
            if (body.endsWith("-") || body.endsWith("+")) {
                body = body.substring(0, body.length() - 1);
            }
            if (body.strip().equals("endraw")) {
                return open; // the endraw tag itself is copied by the main loop
            }
            i = close + 2;
        }
    }

    /** Returns the index of the closing quote of the string starting at {@code start}, or -1. */
    static int skipString(String s, int start) {
        char q = s.charAt(start);
        for (int i = start + 1; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\') {
                i++;
            } else if (c == q) {
                return i;
            }
        }
        return -1;
    }

    private static String firstWord(String body) {
        int i = 0;
        while (i < body.length() && Character.isWhitespace(body.charAt(i))) {
            i++;
        }
        int s = i;
        while (i < body.length() && Character.isJavaIdentifierPart(body.charAt(i))) {
            i++;
        }
        return body.substring(s, i);
    }

    /** An open block tag; for loops remember where their tag went in the output. */
    private static final class Block {
        final String tag;
        ForParts forParts;
        int tagStart;
        int tagEnd;
        String open;
        String close;
        String elseVar;

        Block(String tag) {
            this.tag = tag;
        }
    }

    /** A for tag split as {@code <beforeIn>in <iter><after>}. */
    private record ForParts(String beforeIn, String iter, String after) {
        String text() {
            return beforeIn + "in " + iter + after;
        }
    }

    private static final Set<String> BLOCK_TAGS = Set.of(
            "for", "if", "macro", "call", "filter", "block", "with", "autoescape", "generation");

    private final ArrayDeque<Block> blocks = new ArrayDeque<>();
    private int elseVars;

    /**
     * Emits a statement tag. Besides the expression rewrites, this turns Jinja's
     * {@code {% for %}...{% else %}...{% endfor %}} (else runs when nothing was iterated; Jinjava
     * would render the else part inside every iteration) into
     * {@code {% set v = seq %}{% for x in v %}...{% endfor %}{% if not v %}...{% endif %}}.
     */
    private void statement(String tag, String body, String open, String close) {
        if (tag.equals("for")) {
            Block b = new Block("for");
            b.tagStart = out.length();
            b.forParts = forParts(body);
            b.open = open;
            b.close = close;
            out.append(open).append(b.forParts == null ? rewriteExpr(body) : b.forParts.text()).append(close);
            b.tagEnd = out.length();
            blocks.push(b);
            return;
        }
        Block top = blocks.peek();
        if (tag.equals("else") && top != null && top.tag.equals("for") && top.forParts != null && top.elseVar == null) {
            top.elseVar = "_fflama_for" + (elseVars++);
            String forTag = top.open + " set " + top.elseVar + " = " + top.forParts.iter().strip() + " %}{%"
                    + top.forParts.beforeIn() + "in " + top.elseVar + " " + top.close;
            out.replace(top.tagStart, top.tagEnd, forTag);
            out.append(open).append(" endfor %}{% if not ").append(top.elseVar).append(' ').append(close);
            return;
        }
        if (tag.startsWith("end") && top != null && top.tag.equals(tag.substring(3))) {
            blocks.pop();
            if (top.elseVar != null) {
                out.append(open).append(" endif ").append(close);
                return;
            }
        } else if (BLOCK_TAGS.contains(tag) || (tag.equals("set") && !hasTopLevelAssign(body))) {
            blocks.push(new Block(tag));
        }
        out.append(open).append(rewriteExpr(body)).append(close);
    }

    private static boolean hasTopLevelAssign(String body) {
        for (Tok t : tokenize(body)) {
            if (t.isPunct("=")) {
                return true;
            }
        }
        return false;
    }

    /** Splits a for tag's body; a {@code for ... if cond} moves its condition out (see class comment). */
    private ForParts forParts(String body) {
        List<Tok> toks = tokenize(body);
        int in = -1;
        int ifAt = -1;
        int depth = 0;
        for (int k = 1; k < toks.size(); k++) {
            Tok t = toks.get(k);
            if (t.isOpen()) {
                depth++;
            } else if (t.isClose()) {
                depth--;
            } else if (depth == 0 && t.isWord("in") && in < 0) {
                in = k;
            } else if (depth == 0 && t.isWord("if") && in > 0 && ifAt < 0) {
                ifAt = k;
            }
        }
        if (in < 0) {
            return null;
        }
        String beforeIn = body.substring(0, toks.get(in).start);
        int iterEnd = body.length();
        Tok last = toks.get(toks.size() - 1);
        String after = " ";
        if (last.isWord("recursive") && toks.size() - 1 > in + 1) {
            iterEnd = last.start;
            after = " recursive ";
        }
        if (ifAt < 0) {
            return new ForParts(beforeIn, rewriteExpr(body.substring(toks.get(in).end, iterEnd)).strip(), after);
        }
        List<String> targets = new ArrayList<>();
        for (int k = 1; k < in; k++) {
            if (toks.get(k).kind == Kind.WORD) {
                targets.add(toks.get(k).text);
            }
        }
        String iter = body.substring(toks.get(in).end, toks.get(ifAt).start);
        String cond = body.substring(toks.get(ifAt).end, iterEnd);
        int index = conditions.size();
        conditions.add(new LoopCondition(List.copyOf(targets), rewriteExpr(cond).strip()));
        return new ForParts(beforeIn, LOOP_FUNCTION + "(" + rewriteExpr(iter).strip() + ", " + index + ")", after);
    }

    static String rewriteExpr(String expr) {
        return rewriteNot(rewriteNamedArgs(rewriteSlices(expr)));
    }

    /**
     * Jinjava binds a keyword argument's {@code =} tighter than arithmetic and filters:
     * {@code namespace(last=messages|length - 1)} (Qwen3) becomes {@code (last=3) - 1}. Each
     * multi-token keyword-argument value is parenthesised.
     */
    static String rewriteNamedArgs(String expr) {
        if (expr.indexOf('=') < 0) {
            return expr;
        }
        List<Tok> toks = tokenize(expr);
        List<int[]> wraps = new ArrayList<>();
        for (int k = 2; k < toks.size(); k++) {
            if (!toks.get(k).isPunct("=") || toks.get(k - 1).kind != Kind.WORD
                    || !(toks.get(k - 2).isPunct("(") || toks.get(k - 2).isPunct(","))) {
                continue;
            }
            int depth = 0;
            int end = k + 1;
            for (; end < toks.size(); end++) {
                Tok u = toks.get(end);
                if (u.isOpen()) {
                    depth++;
                } else if (u.isClose()) {
                    if (depth == 0) {
                        break;
                    }
                    depth--;
                } else if (depth == 0 && u.isPunct(",")) {
                    break;
                }
            }
            int first = k + 1;
            int last = end - 1;
            if (last <= first) {
                continue; // a single token
            }
            if (toks.get(first).isOpen() && matching(toks, first) == last) {
                continue; // one bracketed group: (..), [..] or {..}
            }
            wraps.add(new int[] {toks.get(first).start, toks.get(last).end});
        }
        if (wraps.isEmpty()) {
            return expr;
        }
        StringBuilder sb = new StringBuilder(expr);
        for (int w = wraps.size() - 1; w >= 0; w--) {
            sb.insert(wraps.get(w)[1], ')');
            sb.insert(wraps.get(w)[0], '(');
        }
        return sb.toString();
    }

    private static int matching(List<Tok> toks, int open) {
        int depth = 0;
        for (int j = open; j < toks.size(); j++) {
            if (toks.get(j).isOpen()) {
                depth++;
            } else if (toks.get(j).isClose()) {
                depth--;
                if (depth == 0) {
                    return j;
                }
            }
        }
        return -1;
    }

    /**
     * Jinjava ends a {@code {{ }}} tag at the first {@code }}}, even inside a dict literal such as
     * {@code {{ {'a': {'b': 1}} }}}; Jinja balances brackets. Separates such brace pairs (outside
     * string literals) and keeps a closing brace off the tag end.
     */
    static String protectBraces(String body) {
        if (body.indexOf('}') < 0) {
            return body;
        }
        StringBuilder sb = new StringBuilder(body.length() + 4);
        for (int i = 0; i < body.length(); i++) {
            char c = body.charAt(i);
            if (c == '\'' || c == '"') {
                int e = skipString(body, i);
                e = e < 0 ? body.length() - 1 : e;
                sb.append(body, i, e + 1);
                i = e;
                continue;
            }
            sb.append(c);
            if (c == '}' && (i + 1 == body.length() || body.charAt(i + 1) == '}')) {
                sb.append(' ');
            }
        }
        return sb.toString();
    }

    /**
     * Rewrites subscripts with a step, {@code x[a:b:c]} (Qwen3 iterates {@code messages[::-1]}),
     * which Jinjava cannot parse, to {@code _fflama_slice(x, a, b, c)}.
     */
    static String rewriteSlices(String expr) {
        if (!expr.contains("::") && expr.chars().filter(ch -> ch == ':').count() < 2) {
            return expr;
        }
        for (int guard = 0; guard < 64; guard++) {
            List<Tok> toks = tokenize(expr);
            int found = -1;
            int close = -1;
            List<Integer> colons = null;
            for (int k = toks.size() - 1; k > 0 && found < 0; k--) {
                if (!toks.get(k).isPunct("[") || !isOperandEnd(toks.get(k - 1))) {
                    continue;
                }
                int depth = 0;
                List<Integer> cs = new ArrayList<>();
                int j = k + 1;
                for (; j < toks.size(); j++) {
                    Tok t = toks.get(j);
                    if (t.isOpen()) {
                        depth++;
                    } else if (t.isClose()) {
                        if (depth == 0) {
                            break;
                        }
                        depth--;
                    } else if (depth == 0 && t.isPunct(":")) {
                        cs.add(j);
                    }
                }
                if (j < toks.size() && toks.get(j).isPunct("]") && cs.size() == 2) {
                    found = k;
                    close = j;
                    colons = cs;
                }
            }
            if (found < 0) {
                return expr;
            }
            int start = operandStart(toks, found - 1);
            String target = expr.substring(toks.get(start).start, toks.get(found).start);
            String a = expr.substring(toks.get(found).end, toks.get(colons.get(0)).start).strip();
            String b = expr.substring(toks.get(colons.get(0)).end, toks.get(colons.get(1)).start).strip();
            String c = expr.substring(toks.get(colons.get(1)).end, toks.get(close).start).strip();
            String replacement = SLICE_FUNCTION + "(" + target + ", " + (a.isEmpty() ? "none" : a) + ", "
                    + (b.isEmpty() ? "none" : b) + ", " + (c.isEmpty() ? "none" : c) + ")";
            expr = expr.substring(0, toks.get(start).start) + replacement + expr.substring(toks.get(close).end);
        }
        return expr;
    }

    static final String SLICE_FUNCTION = "_fflama_slice";

    private static boolean isOperandEnd(Tok t) {
        return (t.kind == Kind.WORD && !KEYWORDS.contains(t.text)) || t.kind == Kind.STRING
                || t.isPunct(")") || t.isPunct("]") || t.isPunct("}");
    }

    private static final Set<String> KEYWORDS = Set.of("and", "or", "not", "in", "is", "if", "else", "for");

    /** Index of the first token of the postfix expression (primary, attributes, calls, subscripts) ending at {@code end}. */
    private static int operandStart(List<Tok> toks, int end) {
        int k = end;
        while (k >= 0) {
            Tok t = toks.get(k);
            if (t.isClose()) {
                int depth = 0;
                int j = k;
                for (; j >= 0; j--) {
                    if (toks.get(j).isClose()) {
                        depth++;
                    } else if (toks.get(j).isOpen()) {
                        depth--;
                        if (depth == 0) {
                            break;
                        }
                    }
                }
                if (j < 0) {
                    return 0;
                }
                // a call or subscript continues the chain; a bare (...) / [...] / {...} is the primary
                if ((toks.get(j).isPunct("(") || toks.get(j).isPunct("[")) && j > 0 && isOperandEnd(toks.get(j - 1))) {
                    k = j - 1;
                    continue;
                }
                return j;
            }
            // a name or literal: continue through a preceding '.'
            if (k > 1 && toks.get(k - 1).isPunct(".")) {
                k -= 2;
                continue;
            }
            return k;
        }
        return 0;
    }

    /** Parenthesises the operand of each prefix {@code not} so it binds as loosely as in Jinja. */
    static String rewriteNot(String expr) {
        if (!expr.contains("not")) {
            return expr;
        }
        List<Tok> toks = tokenize(expr);
        List<int[]> inserts = new ArrayList<>(); // {position, 1 for '(' / 0 for ')'}
        for (int k = 0; k < toks.size(); k++) {
            Tok t = toks.get(k);
            if (!t.isWord("not")) {
                continue;
            }
            if (k > 0 && toks.get(k - 1).isWord("is")) {
                continue; // "is not <test>"
            }
            if (k + 1 < toks.size() && toks.get(k + 1).isWord("in")) {
                continue; // "not in"
            }
            int depth = 0;
            int end = k + 1;
            for (; end < toks.size(); end++) {
                Tok u = toks.get(end);
                if (u.isOpen()) {
                    depth++;
                } else if (u.isClose()) {
                    if (depth == 0) {
                        break;
                    }
                    depth--;
                } else if (depth == 0 && (u.isWord("and") || u.isWord("or") || u.isWord("if")
                        || u.isWord("else") || u.isWord("recursive") || u.isPunct(",") || u.isPunct(":"))) {
                    break;
                }
            }
            if (end - (k + 1) <= 1) {
                continue; // a single operand: same meaning either way
            }
            inserts.add(new int[] {toks.get(k + 1).start, 1});
            inserts.add(new int[] {toks.get(end - 1).end, 0});
        }
        if (inserts.isEmpty()) {
            return expr;
        }
        // apply from the end so earlier positions stay valid (an operand never starts where one ends)
        inserts.sort((a, b) -> Integer.compare(b[0], a[0]));
        StringBuilder sb = new StringBuilder(expr);
        for (int[] e : inserts) {
            sb.insert(e[0], e[1] == 1 ? '(' : ')');
        }
        return sb.toString();
    }

    enum Kind { WORD, STRING, NUMBER, PUNCT }

    record Tok(Kind kind, String text, int start, int end) {
        boolean isWord(String w) {
            return kind == Kind.WORD && text.equals(w);
        }

        boolean isPunct(String p) {
            return kind == Kind.PUNCT && text.equals(p);
        }

        boolean isOpen() {
            return kind == Kind.PUNCT && (text.equals("(") || text.equals("[") || text.equals("{"));
        }

        boolean isClose() {
            return kind == Kind.PUNCT && (text.equals(")") || text.equals("]") || text.equals("}"));
        }
    }

    static List<Tok> tokenize(String s) {
        List<Tok> toks = new ArrayList<>();
        int i = 0;
        int n = s.length();
        while (i < n) {
            char c = s.charAt(i);
            if (Character.isWhitespace(c)) {
                i++;
            } else if (c == '\'' || c == '"') {
                int e = skipString(s, i);
                e = e < 0 ? n : e + 1;
                toks.add(new Tok(Kind.STRING, s.substring(i, e), i, e));
                i = e;
            } else if (Character.isLetter(c) || c == '_') {
                int e = i + 1;
                while (e < n && (Character.isLetterOrDigit(s.charAt(e)) || s.charAt(e) == '_')) {
                    e++;
                }
                toks.add(new Tok(Kind.WORD, s.substring(i, e), i, e));
                i = e;
            } else if (Character.isDigit(c)) {
                int e = i + 1;
                while (e < n && (Character.isLetterOrDigit(s.charAt(e)) || s.charAt(e) == '.' || s.charAt(e) == '_')) {
                    e++;
                }
                toks.add(new Tok(Kind.NUMBER, s.substring(i, e), i, e));
                i = e;
            } else {
                int e = i + 1;
                if (e < n && "=!<>*/".indexOf(c) >= 0 && (s.charAt(e) == '=' || s.charAt(e) == c)) {
                    e++;
                }
                toks.add(new Tok(Kind.PUNCT, s.substring(i, e), i, e));
                i = e;
            }
        }
        return toks;
    }
}
