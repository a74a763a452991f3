package dev.fflama.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The Jinja features real HF chat templates use, one at a time. Every expected string here is what
 * Python's jinja2 prints for the same template in HF's configuration (checked with
 * {@code reference_render.py}), except where a test says it documents a known difference.
 */
class ChatTemplateFeaturesTest {

    private static final List<ChatMessage> TWO = List.of(ChatMessage.user("x"), ChatMessage.assistant("y"));

    private static String render(String template) {
        return ChatTemplate.of(template, "<s>", "</s>").render(TWO, false);
    }

    private static void assertRenders(String expected, String template) {
        assertEquals(expected, render(template), template);
    }

    @Test
    void messagesAndSpecialTokens() {
        ChatTemplate t = ChatTemplate.of(
                "{{ bos_token }}{% for m in messages %}{{ m.role }}={{ m['content'] }};{% endfor %}"
                        + "{{ add_generation_prompt }}{{ eos_token }}", "<B>", "<E>");
        assertEquals("<B>user=x;assistant=y;False<E>", t.render(TWO, false));
        assertEquals("<B>user=x;assistant=y;True<E>", t.render(TWO, true));
        assertEquals("<B>True<E>", t.render(List.of(), true));
    }

    @Test
    void pythonStringMethods() {
        assertRenders("a b|a|a|a", "{{ '  a b  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  a'.lstrip() }}|{{ 'a  '.rstrip() }}");
        assertRenders("True|True|True|False", "{{ 'abc'.startswith('ab') }}|{{ 'abc'.startswith(('x', 'a')) }}"
                + "|{{ 'abc'.endswith('bc') }}|{{ 'abc'.endswith('b') }}");
        assertRenders("ABC|abc|Hello World|Hello", "{{ 'aBc'.upper() }}|{{ 'aBc'.lower() }}|{{ 'hello world'.title() }}"
                + "|{{ 'hELLO'.capitalize() }}");
        assertRenders("['a', 'b', '', 'c']|['a', 'b']|['a', 'b,c']|['a,b', 'c']",
                "{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a,b,c'.split(',', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}");
        assertRenders("z|x", "{{ 'x</think>y</think>z'.split('</think>')[-1] }}|{{ 'x</think>y'.split('</think>')[0] }}");
        assertRenders("bbb|bba|2|5|2|a-b", "{{ 'aaa'.replace('a', 'b') }}|{{ 'aaa'.replace('a', 'b', 2) }}"
                + "|{{ 'abcabc'.find('c') }}|{{ 'abcabc'.rfind('c') }}|{{ 'abcabc'.count('bc') }}|{{ '-'.join(['a', 'b']) }}");
        assertRenders("a|c|bc|ab|cba", "{{ 'abc'[0] }}|{{ 'abc'[-1] }}|{{ 'abc'[1:] }}|{{ 'abc'[:-1] }}|{{ 'abc'[::-1] }}");
        assertRenders("['l1', 'l2', 'l3']|True|True|x", "{{ 'l1\\nl2\\r\\nl3'.splitlines() }}|{{ '123'.isdigit() }}"
                + "|{{ '  '.isspace() }}|{{ 'prefix_x'.removeprefix('prefix_') }}");
        // Qwen3's reasoning split
        assertRenders("Simple.|4", "{% set c = '<think>\\nSimple.\\n</think>\\n\\n4' %}"
                + "{{ c.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}|"
                + "{{ c.split('</think>')[-1].lstrip('\\n') }}");
    }

    @Test
    void notBindsLooserThanComparisonsTestsAndFilters() {
        assertRenders("False|True|False|False|True|True|True|True|a|True|yes",
                "{% set xs = [1] %}{{ not xs|length == 1 }}|{{ not xs|length == 2 }}|{{ not 1 in xs }}|{{ 1 not in xs }}"
                        + "|{{ xs is not none }}|{{ not xs is none }}|{{ not false and true }}|{{ not (false and true) }}"
                        + "|{{ 'a' if not xs|length > 3 else 'b' }}|{{ not not xs }}"
                        + "|{% if not xs[0] == 2 and not xs|length == 3 %}yes{% endif %}");
        assertRenders("ok", "{% if not(messages[0].content.startswith('<a>') and messages[0].content.endswith('</a>')) %}"
                + "ok{% endif %}");
    }

    @Test
    void loopVariablesAndLoopControls() {
        assertRenders("10TrueFalse33a;21FalseFalse32|32FalseTrue31c;",
                "{% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}"
                        + "{{ loop.length }}{{ loop.revindex }}{% if x == 'b' %}|{% continue %}{% endif %}{{ x }};{% endfor %}");
        assertRenders("12", "{% for x in [1, 2, 3, 4] %}{% if x > 2 %}{% break %}{% endif %}{{ x }}{% endfor %}");
        assertRenders("zy", "{% for k in {'z': 1, 'y': 2} %}{{ k }}{% endfor %}");
        assertRenders("z=1;y=2;", "{% for k, v in {'z': 1, 'y': 2}.items() %}{{ k }}={{ v }};{% endfor %}");
        assertRenders("z=1;y=2;", "{% for k, v in {'z': 1, 'y': 2}|items %}{{ k }}={{ v }};{% endfor %}");
    }

    @Test
    void loopFiltersCountOnlyTheKeptItems() {
        assertRenders("11False,32False,53True,",
                "{% for x in [1, 2, 3, 4, 5] if x % 2 == 1 %}{{ x }}{{ loop.index }}{{ loop.last }},{% endfor %}");
        assertRenders("b=2", "{% for k, v in {'a': 1, 'b': 2}.items() if v > 1 %}{{ k }}={{ v }}{% endfor %}");
        assertRenders("user", "{% for m in messages if m.role != 'assistant' and not m.content == 'z' %}{{ m.role }}{% endfor %}");
    }

    @Test
    void forElseRunsOnlyForEmptyLoops() {
        assertRenders("a1a2|b|yE|none|23",
                "{% for x in [1, 2] %}a{{ x }}{% else %}b{% endfor %}|{% for x in [] -%}\n a{{ x }}\n{%- else -%}\n b\n"
                        + "{%- endfor %}|{% for x in [1] %}{% if x %}y{% else %}n{% endif %}{% for z in [] %}{% else %}E"
                        + "{% endfor %}{% endfor %}|{% for x in [1, 2, 3] if x > 5 %}{{ x }}{% else %}none{% endfor %}"
                        + "|{% for x in [1, 2, 3] if x > 1 %}{{ x }}{% else %}none{% endfor %}");
    }

    @Test
    void namespaceSurvivesLoopsWhilePlainSetDoesNot() {
        assertRenders("True2ab|1",
                "{% set ns = namespace(found=false, n=0, s='') %}{% for m in ['a', 'b'] %}{% set ns.found = true %}"
                        + "{% set ns.n = ns.n + 1 %}{% set ns.s = ns.s + m %}{% endfor %}{{ ns.found }}{{ ns.n }}{{ ns.s }}"
                        + "|{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{% endfor %}{{ x }}");
        // keyword arguments with operators (Qwen3): namespace(last=messages|length - 1)
        assertRenders("1|6|xy", "{% set ns = namespace(a=messages|length - 1, b=2 * 3, c='x' ~ 'y') %}"
                + "{{ ns.a }}|{{ ns.b }}|{{ ns.c }}");
    }

    @Test
    void tojsonPrintsLikePythonJsonDumps() {
        assertRenders("{\"a\": [1, 2.5, null, true, \"\u00fc\\n\\\"\"], \"b\": {}}",
                "{{ {'a': [1, 2.5, none, true, '\u00fc\\n\"'], 'b': {}} | tojson }}");
        assertRenders("{\n  \"b\": 1,\n  \"a\": {\n    \"c\": []\n  }\n}", "{{ {'b': 1, 'a': {'c': []}} | tojson(indent=2) }}");
        assertRenders("{\"a\": 2, \"b\": 1}|\"\\u00fc\"|[1,2]",
                "{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}|{{ '\u00fc' | tojson(ensure_ascii=true) }}"
                        + "|{{ [1, 2] | tojson(separators=(',', ':')) }}");
        assertRenders("1e+20|0.1|3.0|1e-07|\"<b>&'\"", "{{ 1e20 | tojson }}|{{ 0.1 | tojson }}|{{ 3.0 | tojson }}"
                + "|{{ 1e-7 | tojson }}|{{ \"<b>&'\" | tojson }}");
    }

    @Test
    void dictLiteralsEndingInBraces() {
        assertRenders("{\"a\": {\"b\": 1}}", "{{ {'a': {'b': 1}} | tojson }}");
        assertRenders("}}", "{{ '}}' }}");
        assertRenders("{'a': 1}", "{{ {'a': 1}}}");
    }

    @Test
    void dictMethodsAndFilters() {
        assertRenders("1|dflt|True|a|1,2,3|AB|1|3|x|hi",
                "{{ {'a': 1}.get('a') }}|{{ {'a': 1}.get('b', 'dflt') }}|{{ {'a': 1}.get('b') is none }}"
                        + "|{{ ({'a': 1}|items|list)[0][0] }}|{{ [3, 1, 2]|sort|join(',') }}|{{ ['a', 'b']|map('upper')|join }}"
                        + "|{{ [{'r': 'u'}, {'r': 's'}]|selectattr('r', 'equalto', 's')|list|length }}|{{ 'abc'|length }}"
                        + "|{{ '  x '|trim }}|{{ 'xxhixx'|trim('x') }}");
        assertRenders("318|[2, 3]|3|TrueTrue|heLLo|12",
                "{{ 7 // 2 }}{{ 7 % 3 }}{{ 2 ** 3 }}|{{ [1, 2, 3][1:] }}|{{ [1, 2, 3][-1] }}"
                        + "|{{ 'x' in 'xyz' }}{{ 'k' in {'k': 1} }}|{{ 'Hello'|lower|replace('l', 'L') }}|{{ [1, 2]|first }}{{ [1, 2]|last }}");
        assertRenders("TrueTrueTrueTrueTrue", "{{ messages is sequence }}{{ 'str' is string }}{{ {} is mapping }}"
                + "{{ 'str' is iterable }}{{ 1 is number }}");
        assertRenders(">x#y", "{% macro fmt(m, p='>') %}{{ p }}{{ m }}{% endmacro %}{{ fmt('x') }}{{ fmt('y', p='#') }}");
    }

    @Test
    void extendedSlices() {
        assertRenders("assistant,user|cba|[2, 4]|[3, 2]",
                "{{ messages[::-1]|map(attribute='role')|join(',') }}|{{ 'abc'[::-1] }}|{{ [1, 2, 3, 4][1::2] }}"
                        + "|{{ [1, 2, 3, 4][2:0:-1] }}");
        assertRenders("1|0", "{% for m in messages[::-1] %}{{ (messages|length - 1) - loop.index0 }}{% if not loop.last %}|"
                + "{% endif %}{% endfor %}");
    }

    @Test
    void undefinedVariablesAndGlobalFunctions() {
        // HF templates test "strftime_now is defined" before calling it
        assertRenders("True|True|False|dflt|2",
                "{{ raise_exception is defined }}|{{ strftime_now is defined }}|{{ tools is defined }}"
                        + "|{{ undefined_thing | default('dflt') }}|{{ messages | length }}");
        assertRenders("", "{{ messages[0].tool_calls }}");
        assertRenders("no tools", "{% if tools %}tools{% else %}no tools{% endif %}");
    }

    @Test
    void extraVariables() {
        ChatTemplate t = ChatTemplate.of("{{ date_string }}|{{ tools|length }}|{{ enable_thinking }}|{{ messages|length }}",
                null, null);
        Map<String, Object> vars = new LinkedHashMap<>();
        vars.put("date_string", "1 Jan 2025");
        vars.put("tools", List.of(Map.of("name", "a"), Map.of("name", "b")));
        vars.put("enable_thinking", false);
        vars.put("messages", List.of()); // cannot override the conversation
        assertEquals("1 Jan 2025|2|False|2", t.render(TWO, false, vars));
    }

    @Test
    void whitespaceControlTrimBlocksAndLstripBlocksAsInHf() {
        assertRenders("a\n  b\n  cde\n12{{ not a == b }}",
                "a\n  {% if true %}\n  b\n  {% endif %}\n  {{ 'c' }}\n  {#- comment #}\n  {{- 'd' -}}\n  e\n"
                        + "{% for x in [1, 2] -%}\n  {{ x }}\n{%- endfor %}\n{% raw %}{{ not a == b }}{% endraw %}\n");
        assertRenders("x y z", "x  {{- ' y ' -}}  z");
        assertRenders("xz", "x  {#- c -#}  z");
    }

    @Test
    void lineBreaksAreNormalisedAndOneTrailingNewlineDropped() {
        assertRenders("a\nb\n", "a\r\nb\r\n\r\n");
        assertRenders("x", "{{ 'x' }}\n");
    }

    @Test
    void messageContentIsNeverInterpretedAsTemplate() {
        String content = "{{ raise_exception('no') }} {% if true %}X{% endif %} {# c #}";
        String out = ChatTemplate.fallback().render(List.of(ChatMessage.user(content)), false);
        assertEquals("<|im_start|>user\n" + content + "<|im_end|>\n", out);
    }

    @Test
    void booleansPrintLikePython() {
        assertRenders("True|False|a", "{{ true }}|{{ 1 == 2 }}|{{ 'a' if true }}");
    }

    @Test
    void generationBlockIsTransparent() {
        assertRenders("[user][assistant]",
                "{% for m in messages %}{% generation %}[{{ m.role }}]{% endgeneration %}{% endfor %}");
    }

    @Test
    void strftimeNowFormatsTheClockLikePython() {
        Clock clock = Clock.fixed(Instant.parse("2025-03-05T10:30:07Z"), ZoneOffset.UTC);
        ChatTemplate t = ChatTemplate.of("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d') }}"
                + "|{{ strftime_now('%-d %B %Y') }}|{{ strftime_now('%A %H:%M') }}"
                + "|{{ strftime_now('%a %j %U %W %p %I %y %e|%%|%m/%d/%y') }}|{{ strftime_now('%c') }}", null, null)
                .withClock(clock);
        assertEquals("05 Mar 2025|2025-03-05|5 March 2025|Wednesday 10:30|Wed 064 09 09 AM 10 25  5|%|03/05/25"
                + "|Wed Mar  5 10:30:07 2025", t.render(TWO, false));
        Clock newYear = Clock.fixed(Instant.parse("2024-01-01T00:05:00Z"), ZoneOffset.UTC);
        assertEquals("Mon 001 00 01 AM 12 12 0 1 1 01 2024",
                ChatTemplate.of("{{ strftime_now('%a %j %U %W %p %I %-I %-H %u %w %V %G') }}", null, null)
                        .withClock(newYear).render(TWO, false));
    }

    @Test
    void renderMapsCopiesTheCallersMessages() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", "user");
        m.put("content", "hi");
        List<Map<String, Object>> messages = new ArrayList<>(List.of(m));
        ChatTemplate t = ChatTemplate.of(
                "{% for m in messages %}{% do m.update({'role': 'x'}) %}{{ m.role }}{% endfor %}", null, null);
        assertEquals("x", t.renderMaps(messages, false, Map.of()));
        assertEquals("user", m.get("role"));
        assertEquals(1, messages.size());
    }

    @Test
    void recordsAndNestedStructuresAsToolDefinitions() {
        record Param(String type, String description) {}
        record Tool(String name, Map<String, Param> parameters) {}
        ChatTemplate t = ChatTemplate.of("{% for tool in tools %}{{ tool | tojson }}{% endfor %}", null, null);
        assertEquals("{\"name\": \"f\", \"parameters\": {\"q\": {\"type\": \"string\", \"description\": \"query\"}}}",
                t.render(TWO, false, Map.of("tools", List.of(new Tool("f", Map.of("q", new Param("string", "query")))))));
    }

    @Test
    void chatMessages() {
        assertEquals(new ChatMessage("system", "s"), ChatMessage.system("s"));
        assertEquals("user", ChatMessage.user("u").role());
        assertEquals("assistant", ChatMessage.assistant("a").role());
        assertEquals("tool", ChatMessage.tool("t").role());
        assertEquals(List.of("role", "content"), new ArrayList<>(ChatMessage.user("u").toMap().keySet()));
        assertThrows(NullPointerException.class, () -> ChatMessage.user(null));
        assertThrows(NullPointerException.class, () -> new ChatMessage(null, "x"));
    }
}
