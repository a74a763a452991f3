package dev.fflama.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The source pre-pass that gives Jinjava Python Jinja's grammar where they differ. */
class ChatTemplateRewriterTest {

    private static String rw(String src) {
        return TemplateRewriter.rewrite(src).source();
    }

    @Test
    void notTakesTheWholeComparisonAsOperand() {
        assertEquals("not (x|length == 1)", TemplateRewriter.rewriteNot("not x|length == 1"));
        assertEquals("not (a.b is defined) and not (c == d)",
                TemplateRewriter.rewriteNot("not a.b is defined and not c == d"));
        assertEquals("x is not none", TemplateRewriter.rewriteNot("x is not none"));
        assertEquals("a not in b", TemplateRewriter.rewriteNot("a not in b"));
        assertEquals("not x", TemplateRewriter.rewriteNot("not x"));
        assertEquals("not (not (x == 1))", TemplateRewriter.rewriteNot("not not x == 1"));
        assertEquals("f(not (a == b), c)", TemplateRewriter.rewriteNot("f(not a == b, c)"));
        assertEquals("'a' if not (x > 1) else 'b'", TemplateRewriter.rewriteNot("'a' if not x > 1 else 'b'"));
        assertEquals("'not a == b'", TemplateRewriter.rewriteNot("'not a == b'"));
        assertEquals("nothing == notable", TemplateRewriter.rewriteNot("nothing == notable"));
    }

    @Test
    void extendedSlicesBecomeAFunction() {
        assertEquals("_fflama_slice(messages, none, none, -1)", TemplateRewriter.rewriteSlices("messages[::-1]"));
        assertEquals("_fflama_slice(a.b[0].c(1), 1, none, 2)|length",
                TemplateRewriter.rewriteSlices("a.b[0].c(1)[1::2]|length"));
        assertEquals("_fflama_slice(_fflama_slice(s, none, none, -1), none, none, 2)",
                TemplateRewriter.rewriteSlices("s[::-1][::2]"));
        assertEquals("x[1:]", TemplateRewriter.rewriteSlices("x[1:]"));
        assertEquals("{'a': b[1:2]}", TemplateRewriter.rewriteSlices("{'a': b[1:2]}"));
    }

    @Test
    void keywordArgumentValuesAreParenthesised() {
        assertEquals("namespace(a=(messages|length - 1), b=true, c={'x': 1, 'y': 2})",
                TemplateRewriter.rewriteNamedArgs("namespace(a=messages|length - 1, b=true, c={'x': 1, 'y': 2})"));
        assertEquals("x == y", TemplateRewriter.rewriteNamedArgs("x == y"));
    }

    @Test
    void bracesAreKeptOffTheTagEnd() {
        assertEquals("{{ {'a': {'b': 1} } }}", rw("{{ {'a': {'b': 1}} }}"));
        assertEquals("{{ {'a': 1} }}", rw("{{ {'a': 1}}}"));
        assertEquals("{{ '}}' }}", rw("{{ '}}' }}"));
    }

    @Test
    void loopConditionsMoveOutOfTheForTag() {
        TemplateRewriter.Result r = TemplateRewriter.rewrite("{%- for k, v in d.items() if k != 'return' %}{{ k }}{% endfor %}");
        assertEquals("{%- for k, v in _fflama_loop_if(d.items(), 0) %}{{ k }}{% endfor %}", r.source());
        assertEquals(List.of(new TemplateRewriter.LoopCondition(List.of("k", "v"), "k != 'return'")), r.loopConditions());
    }

    @Test
    void forElseBecomesAnIfAfterTheLoop() {
        assertEquals("{%- set _fflama_for0 = xs %}{% for x in _fflama_for0 -%}a{%- endfor %}{% if not _fflama_for0 %}b{% endif %}",
                rw("{%- for x in xs -%}a{%- else %}b{% endfor %}"));
        // an else of an if inside the loop is left alone
        assertEquals("{% for x in xs %}{% if x %}a{% else %}b{% endif %}{% endfor %}",
                rw("{% for x in xs %}{% if x %}a{% else %}b{% endif %}{% endfor %}"));
    }

    @Test
    void textCommentsAndRawBlocksAreUntouched() {
        String src = "not a == b {# not a == b #}{% raw %}{{ not a == b }}{% for x in y if z %}{% endraw %} x[::-1] }}";
        assertEquals(src, rw(src));
    }
}
