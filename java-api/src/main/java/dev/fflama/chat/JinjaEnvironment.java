package dev.fflama.chat;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.Context;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.exptest.ExpTest;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.lib.tag.Tag;
import com.hubspot.jinjava.objects.SafeString;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;
import com.hubspot.jinjava.util.ObjectTruthValue;
import java.lang.reflect.Method;
import java.time.Clock;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;
import jinjava.javax.el.CompositeELResolver;

/**
 * The one Jinjava instance every {@link ChatTemplate} shares, configured like Hugging Face's
 * chat-template environment ({@code trim_blocks=True, lstrip_blocks=True}, loop controls, its
 * {@code tojson}, {@code raise_exception} and {@code strftime_now}) plus the Python semantics that
 * Jinjava lacks:
 * <ul>
 *   <li>Jinjava options: Python-style map iteration (keys) and dict-literal keys, whitespace
 *       control trimming {@code {{-}}/{#-} like Jinja, natural operator precedence, no nested
 *       interpretation (text produced by an expression is never rendered again).</li>
 *   <li>{@link PyMethods}: Python {@code str} and {@code dict} methods, string indexing.</li>
 *   <li>{@link PyInterpreter}: {@code True}/{@code False} output.</li>
 *   <li>Filters {@code tojson} ({@link PyJson}), {@code trim} (Python strip), {@code items};
 *       tests {@code iterable}/{@code sequence} (true for strings); tag
 *       {@code generation}; functions {@code raise_exception}, {@code strftime_now}
 *       ({@link Strftime}) and the helpers {@link TemplateRewriter} rewrites to.</li>
 *   <li>Jinja's line-break handling ({@link #normalizeNewlines}).</li>
 * </ul>
 * Registration happens once in the static initialiser; afterwards the instance is only read, and
 * every render runs in its own context and interpreter (on a pooled parent context it has to
 * itself), so concurrent renders share no mutable state.
 */
final class JinjaEnvironment {

    private JinjaEnvironment() {}

    /** Context variable holding the {@link Clock} for {@code strftime_now}. */
    static final String CLOCK_VAR = "_fflama_clock";
    /** Context variable holding the {@code for ... if} conditions of the template being rendered. */
    static final String LOOP_CONDITIONS_VAR = "_fflama_loop_conditions";
    /** Globals that HF templates test with {@code is defined} before calling. */
    static final List<String> FUNCTION_GLOBALS = List.of("raise_exception", "strftime_now");

    static final JinjavaConfig CONFIG = JinjavaConfig.newBuilder()
            .withTrimBlocks(true)
            .withLstripBlocks(true)
            .withNestedInterpretationEnabled(false) // never re-render text produced by an expression
            .withFailOnUnknownTokens(false)
            .withLocale(Locale.ROOT)
            .withMaxRenderDepth(10)
            .withInterperterFactory(new PyInterpreterFactory())
            .withLegacyOverrides(LegacyOverrides.newBuilder()
                    .withEvaluateMapKeys(true)              // {key: v} evaluates key, as in Python
                    .withIterateOverMapKeys(true)           // for k in dict -> keys, as in Python
                    .withUsePyishObjectMapper(true)         // {{ list }} prints ['a', 'b']
                    .withUseNaturalOperatorPrecedence(true)
                    .withParseWhitespaceControlStrictly(true)
                    .withAllowAdjacentTextNodes(true)
                    .withUseTrimmingForNotesAndExpressions(true) // {{- x -}} / {#- -#} trim like Jinja
                    .build())
            .withElResolver(new CompositeELResolver() {
                {
                    add(new PyMethods());
                    add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
                }
            })
            .build();

    static final Jinjava JINJAVA = new Jinjava(CONFIG);

    static {
        JINJAVA.registerFunction(function("raise_exception", "raiseException", Object.class));
        JINJAVA.registerFunction(function("strftime_now", "strftimeNow", String.class));
        JINJAVA.registerFilter(new ToJson());
        JINJAVA.registerFilter(new Trim());
        JINJAVA.registerFilter(new Items());
        JINJAVA.registerFunction(function(TemplateRewriter.LOOP_FUNCTION, "loopIf", Object.class, long.class));
        JINJAVA.registerFunction(function(TemplateRewriter.SLICE_FUNCTION, "slice", Object.class, Object.class,
                Object.class, Object.class));
        JINJAVA.registerExpTest(new PyIterable("iterable"));
        JINJAVA.registerExpTest(new PyIterable("sequence"));
        JINJAVA.registerTag(new GenerationTag());
    }

    private static ELFunctionDefinition function(String name, String method, Class<?>... params) {
        try {
            Method m = JinjaEnvironment.class.getDeclaredMethod(method, params);
            m.setAccessible(true);
            return new ELFunctionDefinition("", name, m);
        } catch (NoSuchMethodException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** A parsed template: Jinjava node tree of the rewritten source plus its loop conditions. */
    record Compiled(Node root, List<TemplateRewriter.LoopCondition> loopConditions) {}

    /** Thrown by {@code raise_exception}; carried out of Jinjava inside its error list. */
    static final class RaisedException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        RaisedException(String message) {
            super(message, null, false, false);
        }
    }

    static Object raiseException(Object message) {
        throw new RaisedException(String.valueOf(message));
    }

    static String strftimeNow(String format) {
        Clock clock = null;
        JinjavaInterpreter interp = JinjavaInterpreter.getCurrent();
        if (interp != null && interp.getContext().get(CLOCK_VAR) instanceof Clock c) {
            clock = c;
        }
        if (clock == null) {
            clock = Clock.systemDefaultZone();
        }
        return Strftime.format(ZonedDateTime.now(clock), format);
    }

    /**
     * What Jinja's lexer does before anything else: every line break becomes {@code \n}, and with
     * {@code keep_trailing_newline=False} (HF's setting) one final line break is dropped.
     */
    static String normalizeNewlines(String source) {
        String s = source.indexOf('\r') < 0 ? source : source.replace("\r\n", "\n").replace('\r', '\n');
        return s.endsWith("\n") ? s.substring(0, s.length() - 1) : s;
    }

    static Compiled compile(String source) {
        TemplateRewriter.Result rw = TemplateRewriter.rewrite(normalizeNewlines(source));
        Context base = borrowBase();
        JinjavaInterpreter interp = newInterpreter(base, Map.of());
        JinjavaInterpreter.pushCurrent(interp);
        Node root;
        try {
            root = interp.parse(rw.source());
        } catch (RuntimeException e) {
            throw new ChatTemplateException("invalid chat template: " + e.getMessage(), e, false);
        } finally {
            JinjavaInterpreter.popCurrent();
            returnBase(base);
        }
        for (TemplateError err : interp.getErrors()) {
            if (err.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw new ChatTemplateException("invalid chat template" + where(err) + ": " + err.getMessage(),
                        err.getException(), false);
            }
        }
        return new Compiled(root, rw.loopConditions());
    }

    static String render(Compiled compiled, Map<String, Object> bindings) {
        bindings.put(LOOP_CONDITIONS_VAR, compiled.loopConditions());
        Context base = borrowBase();
        JinjavaInterpreter interp = newInterpreter(base, bindings);
        JinjavaInterpreter.pushCurrent(interp);
        String out;
        try {
            out = interp.render(compiled.root());
        } catch (RuntimeException e) {
            RaisedException raised = findRaised(e);
            if (raised != null) {
                throw new ChatTemplateException(raised.getMessage(), raised, true);
            }
            throw new ChatTemplateException("chat template failed: " + e.getMessage(), e, false);
        } finally {
            JinjavaInterpreter.popCurrent();
            returnBase(base);
        }
        for (TemplateError err : interp.getErrors()) {
            if (err.getSeverity() != TemplateError.ErrorType.FATAL) {
                continue;
            }
            RaisedException raised = findRaised(err.getException());
            if (raised != null) {
                throw new ChatTemplateException(raised.getMessage(), raised, true);
            }
            throw new ChatTemplateException("chat template error" + where(err) + ": " + err.getMessage(),
                    err.getException(), false);
        }
        return out;
    }

    /**
     * Parents for render contexts: copies of Jinjava's global context with its filter, function,
     * test and tag libraries. Copying them per render (what {@code Jinjava.render} does)
     * re-instantiates every built-in by reflection and costs milliseconds, so copies are pooled.
     * A render has its copy to itself: Jinjava shares some bookkeeping sets between a context and
     * all its children, so one copy must not serve two renders at once.
     */
    private static final ConcurrentLinkedDeque<Context> BASES = new ConcurrentLinkedDeque<>();
    private static final AtomicInteger POOLED = new AtomicInteger();
    private static final int MAX_POOLED = Math.max(4, 4 * Runtime.getRuntime().availableProcessors());

    private static Context borrowBase() {
        Context c = BASES.pollFirst();
        if (c == null) {
            return JINJAVA.getGlobalContextCopy();
        }
        POOLED.decrementAndGet();
        return c;
    }

    private static void returnBase(Context c) {
        if (POOLED.incrementAndGet() <= MAX_POOLED) {
            BASES.offerFirst(c);
        } else {
            POOLED.decrementAndGet();
        }
    }

    private static JinjavaInterpreter newInterpreter(Context base, Map<String, ?> bindings) {
        return CONFIG.getInterpreterFactory().newInstance(JINJAVA, new RenderContext(base, bindings), CONFIG);
    }

    /**
     * A render's root scope. Jinjava records resolved names and dependencies in a context and all
     * its parents; that bookkeeping (unused here) stops at this context, so pooled parents do not
     * accumulate it.
     */
    static final class RenderContext extends Context {
        RenderContext(Context base, Map<String, ?> bindings) {
            super(base, bindings, CONFIG.getDisabled());
        }

        @Override
        public void addResolvedExpression(String expression) {}

        @Override
        public void addResolvedValue(String value) {}

        @Override
        public void addResolvedFunction(String function) {}

        @Override
        public void addDependency(String type, String identification) {}

        @Override
        public void addDependencies(com.google.common.collect.SetMultimap<String, String> dependencies) {}
    }

    private static String where(TemplateError err) {
        return err.getLineno() > 0 ? " at line " + err.getLineno() : "";
    }

    private static RaisedException findRaised(Throwable t) {
        for (int depth = 0; t != null && depth < 20; depth++, t = t.getCause()) {
            if (t instanceof RaisedException r) {
                return r;
            }
        }
        return null;
    }

    // ---- filters, tests and tags ---------------------------------------------------------------

    /** HF's {@code tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)}. */
    static final class ToJson implements Filter {
        @Override
        public String getName() {
            return "tojson";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            Object ensureAscii = kwargs.containsKey("ensure_ascii") ? kwargs.get("ensure_ascii")
                    : args.length > 0 ? args[0] : null;
            Object indent = kwargs.containsKey("indent") ? kwargs.get("indent") : args.length > 1 ? args[1] : null;
            Object separators = kwargs.containsKey("separators") ? kwargs.get("separators")
                    : args.length > 2 ? args[2] : null;
            Object sortKeys = kwargs.containsKey("sort_keys") ? kwargs.get("sort_keys") : args.length > 3 ? args[3] : null;
            List<Object> seps = null;
            if (separators != null) {
                seps = new ArrayList<>();
                for (Object o : PyMethods.iterate(separators)) {
                    seps.add(o);
                }
            }
            return PyJson.dumps(var, PyJson.Options.python(indent, seps, ObjectTruthValue.evaluate(sortKeys),
                    ObjectTruthValue.evaluate(ensureAscii)));
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            return PyJson.dumps(var, PyJson.DEFAULT);
        }
    }

    /** Jinja's {@code trim(value, chars=None)}, i.e. Python's {@code str.strip}. */
    static final class Trim implements Filter {
        @Override
        public String getName() {
            return "trim";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            Object chars = kwargs.containsKey("chars") ? kwargs.get("chars") : args.length > 0 ? args[0] : null;
            return trim(var, chars == null ? null : chars.toString());
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            return trim(var, args.length > 0 ? args[0] : null);
        }

        private static Object trim(Object var, String chars) {
            if (var == null) {
                return "";
            }
            String s = var instanceof SafeString ss ? ss.getValue() : var instanceof String str ? str
                    : com.hubspot.jinjava.objects.serialization.PyishObjectMapper.getAsUnquotedPyishString(var);
            String r = PyMethods.strip(s, chars, true, true);
            return var instanceof SafeString ? new SafeString(r) : r;
        }
    }

    /** Jinja 3.1's {@code items} filter: a mapping's (key, value) pairs. */
    static final class Items implements Filter {
        @Override
        public String getName() {
            return "items";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            List<Object> out = new ArrayList<>();
            if (var == null) {
                return out;
            }
            if (!(var instanceof Map<?, ?> map)) {
                throw new IllegalArgumentException("items filter: can only get item pairs from a mapping");
            }
            for (Map.Entry<?, ?> e : map.entrySet()) {
                out.add(PyMethods.pair(e.getKey(), e.getValue()));
            }
            return out;
        }
    }

    /** Python's extended slice {@code seq[start:stop:step]} on lists and strings (see {@link TemplateRewriter}). */
    static Object slice(Object var, Object start, Object stop, Object step) {
        if (var == null) {
            return null;
        }
        int st = step == null ? 1 : ((Number) step).intValue();
        if (st == 0) {
            throw new IllegalArgumentException("slice step cannot be zero");
        }
        boolean isString = var instanceof CharSequence || var instanceof SafeString;
        List<Object> items = new ArrayList<>();
        for (Object o : PyMethods.iterate(isString ? var.toString() : var)) {
            items.add(o);
        }
        int n = items.size();
        int lower = st < 0 ? -1 : 0;
        int upper = st < 0 ? n - 1 : n;
        int b = start == null ? (st < 0 ? upper : lower) : adjust(((Number) start).intValue(), n, lower, upper);
        int e = stop == null ? (st < 0 ? lower : upper) : adjust(((Number) stop).intValue(), n, lower, upper);
        List<Object> out = new ArrayList<>();
        for (int i = b; st > 0 ? i < e : i > e; i += st) {
            out.add(items.get(i));
        }
        if (isString) {
            StringBuilder sb = new StringBuilder();
            out.forEach(sb::append);
            return sb.toString();
        }
        return out;
    }

    private static int adjust(int i, int n, int lower, int upper) {
        if (i < 0) {
            return Math.max(i + n, lower);
        }
        return Math.min(i, upper);
    }

    /** The items of a {@code for ... if cond} loop for which condition {@code index} holds (see {@link TemplateRewriter}). */
    static List<Object> loopIf(Object seq, long index) {
        JinjavaInterpreter interpreter = JinjavaInterpreter.getCurrent();
        @SuppressWarnings("unchecked")
        List<TemplateRewriter.LoopCondition> conds =
                (List<TemplateRewriter.LoopCondition>) interpreter.getContext().get(LOOP_CONDITIONS_VAR);
        TemplateRewriter.LoopCondition cond = conds.get((int) index);
        List<Object> kept = new ArrayList<>();
        for (Object item : PyMethods.iterate(seq)) {
            JinjavaInterpreter.InterpreterScopeClosable scope = interpreter.enterScope();
            try {
                bindTargets(interpreter.getContext(), cond.targets(), item);
                Object r = interpreter.resolveELExpression(cond.condition(), interpreter.getLineNumber());
                if (ObjectTruthValue.evaluate(r)) {
                    kept.add(item);
                }
            } finally {
                scope.close();
            }
        }
        return kept;
    }

    private static void bindTargets(Context ctx, List<String> targets, Object item) {
        if (targets.size() == 1) {
            ctx.put(targets.get(0), item);
            return;
        }
        List<Object> parts = new ArrayList<>();
        if (item instanceof Map.Entry<?, ?> e) {
            parts.add(e.getKey());
            parts.add(e.getValue());
        } else {
            for (Object o : PyMethods.iterate(item)) {
                parts.add(o);
            }
        }
        for (int i = 0; i < targets.size(); i++) {
            ctx.put(targets.get(i), i < parts.size() ? parts.get(i) : null);
        }
    }

    /**
     * Python's {@code iterable} / {@code sequence} tests: strings, lists, tuples and dicts all
     * qualify (Jinjava says no for strings, and Llama 3.1's template relies on the Python answer).
     */
    static final class PyIterable implements ExpTest {
        private final String name;

        PyIterable(String name) {
            this.name = name;
        }

        @Override
        public String getName() {
            return name;
        }

        @Override
        public boolean evaluate(Object var, JinjavaInterpreter interpreter, Object... args) {
            return var instanceof CharSequence || var instanceof SafeString || var instanceof Iterable<?>
                    || var instanceof Map<?, ?> || (var != null && var.getClass().isArray());
        }
    }

    /** Prints booleans the way Python does ({@code True}/{@code False}); Jinjava prints {@code true}. */
    static final class PyInterpreter extends JinjavaInterpreter {
        PyInterpreter(Jinjava jinjava, Context context, JinjavaConfig config) {
            super(jinjava, context, config);
        }

        PyInterpreter(JinjavaInterpreter parent) {
            super(parent);
        }

        @Override
        public String getAsString(Object object) {
            if (object instanceof Boolean b) {
                return b ? "True" : "False";
            }
            return super.getAsString(object);
        }
    }

    static final class PyInterpreterFactory implements com.hubspot.jinjava.interpret.InterpreterFactory {
        @Override
        public JinjavaInterpreter newInstance(JinjavaInterpreter interpreter) {
            return new PyInterpreter(interpreter);
        }

        @Override
        public JinjavaInterpreter newInstance(Jinjava jinjava, Context context, JinjavaConfig config) {
            return new PyInterpreter(jinjava, context, config);
        }
    }

    /**
     * HF's {@code {% generation %}...{% endgeneration %}} (marks assistant text for training
     * masks); for rendering it is transparent.
     */
    static final class GenerationTag implements Tag {
        private static final long serialVersionUID = 1L;

        @Override
        public String getName() {
            return "generation";
        }

        @Override
        public String interpret(TagNode tagNode, JinjavaInterpreter interpreter) {
            StringBuilder sb = new StringBuilder();
            for (Node child : tagNode.getChildren()) {
                sb.append(child.render(interpreter).getValue());
            }
            return sb.toString();
        }
    }
}
