/*
 * Generates the FFM bindings of fflama.h (jextract-style Java) and a C layout probe.
 *
 * jextract is the model for the output but cannot be fetched from the package registries, so this
 * small generator understands exactly the C subset fflama.h is written in (see the header's top
 * comment): integer #defines, opaque struct typedefs, plain structs of scalars and pointers, enums,
 * function-pointer typedefs and FFL_API function declarations. Anything else is an error, so the
 * header cannot silently drift out of what the bindings cover.
 *
 * Usage: java BindingsGenerator.java <fflama.h> <java-output-dir> <package> <probe.c>
 */
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public class BindingsGenerator {

    record CType(String base, int pointers) {
        boolean isVoid() { return base.equals("void") && pointers == 0; }
    }

    record Param(CType type, String name) {}

    record Function(String name, CType ret, List<Param> params) {}

    record Field(String name, CType type) {}

    record Struct(String name, List<Field> fields) {}

    record Callback(String name, CType ret, List<Param> params) {}

    record Constant(String name, long value) {}

    final List<Constant> constants = new ArrayList<>();
    final List<String> opaque = new ArrayList<>();
    final Map<String, Struct> structs = new LinkedHashMap<>();
    final List<String> enums = new ArrayList<>();
    final Map<String, Callback> callbacks = new LinkedHashMap<>();
    final List<Function> functions = new ArrayList<>();

    public static void main(String[] args) throws IOException {
        if (args.length != 4) {
            System.err.println("usage: BindingsGenerator <fflama.h> <java-output-dir> <package> <probe.c>");
            System.exit(2);
        }
        BindingsGenerator g = new BindingsGenerator();
        g.parse(Files.readString(Path.of(args[0])));
        g.writeJava(Path.of(args[1]), args[2]);
        g.writeProbe(Path.of(args[3]));
    }

    // ---------------------------------------------------------------- parsing

    static String stripComments(String s) {
        s = s.replaceAll("(?s)/\\*.*?\\*/", " ");
        return s.replaceAll("//[^\n]*", "");
    }

    void parse(String header) {
        String text = stripComments(header);
        StringBuilder body = new StringBuilder();
        int depth = 0; // conditional nesting below the include guard
        boolean guardSeen = false;
        Pattern define = Pattern.compile("#\\s*define\\s+(FFL_[A-Z0-9_]+)\\s+(-?(?:0x[0-9a-fA-F]+|\\d+))[uUlL]*\\s*");
        for (String line : text.split("\n")) {
            String t = line.trim();
            if (t.startsWith("#")) {
                String directive = t.substring(1).trim();
                if (directive.startsWith("ifndef") && !guardSeen) {
                    guardSeen = true;
                } else if (directive.startsWith("if")) {
                    depth++;
                } else if (directive.startsWith("endif")) {
                    if (depth > 0) depth--;
                } else if (depth == 0 && directive.startsWith("define")) {
                    Matcher m = define.matcher(t);
                    if (m.matches()) {
                        constants.add(new Constant(m.group(1), Long.decode(m.group(2))));
                    } else if (!t.matches("#\\s*define\\s+FFLAMA_H\\s*")) {
                        throw new IllegalArgumentException("unsupported #define: " + t);
                    }
                }
                continue;
            }
            if (depth == 0) body.append(line).append('\n');
        }
        for (String stmt : splitStatements(body.toString())) parseStatement(stmt.replaceAll("\\s+", " ").trim());
    }

    static List<String> splitStatements(String s) {
        List<String> out = new ArrayList<>();
        int braces = 0;
        StringBuilder cur = new StringBuilder();
        for (char c : s.toCharArray()) {
            if (c == '{') braces++;
            if (c == '}') braces--;
            if (c == ';' && braces == 0) {
                if (!cur.toString().isBlank()) out.add(cur.toString());
                cur.setLength(0);
            } else {
                cur.append(c);
            }
        }
        if (!cur.toString().isBlank()) throw new IllegalArgumentException("trailing text: " + cur);
        return out;
    }

    static final Pattern OPAQUE = Pattern.compile("typedef struct (\\w+) (\\w+)");
    static final Pattern STRUCT = Pattern.compile("typedef struct (\\w+) \\{(.*)\\} (\\w+)");
    static final Pattern ENUM = Pattern.compile("typedef enum (\\w+) \\{(.*)\\} (\\w+)");
    static final Pattern CALLBACK = Pattern.compile("typedef (.+?) ?\\( ?\\* ?(\\w+) ?\\) ?\\((.*)\\)");
    static final Pattern FUNCTION = Pattern.compile("FFL_API (.+?) ?(\\w+) ?\\((.*)\\)");

    void parseStatement(String s) {
        Matcher m;
        if ((m = STRUCT.matcher(s)).matches()) {
            List<Field> fields = new ArrayList<>();
            for (String f : m.group(2).split(";")) {
                if (f.isBlank()) continue;
                Param p = parseDecl(f.trim());
                fields.add(new Field(p.name(), p.type()));
            }
            structs.put(m.group(3), new Struct(m.group(3), fields));
        } else if ((m = OPAQUE.matcher(s)).matches()) {
            opaque.add(m.group(2));
        } else if ((m = ENUM.matcher(s)).matches()) {
            enums.add(m.group(3));
            for (String e : m.group(2).split(",")) {
                String[] kv = e.split("=");
                if (kv.length != 2) throw new IllegalArgumentException("enum constants need explicit values: " + e);
                constants.add(new Constant(kv[0].trim(), Long.decode(kv[1].trim())));
            }
        } else if ((m = CALLBACK.matcher(s)).matches()) {
            callbacks.put(m.group(2), new Callback(m.group(2), parseType(m.group(1)), parseParams(m.group(3))));
        } else if ((m = FUNCTION.matcher(s)).matches()) {
            functions.add(new Function(m.group(2), parseType(m.group(1)), parseParams(m.group(3))));
        } else if (s.equals("extern \"C\" {") || s.equals("}")) {
            // C++ linkage braces are inside #ifdef blocks and never reach here; tolerate them anyway.
        } else {
            throw new IllegalArgumentException("unsupported declaration in fflama.h: " + s);
        }
    }

    List<Param> parseParams(String s) {
        List<Param> out = new ArrayList<>();
        s = s.trim();
        if (s.isEmpty() || s.equals("void")) return out;
        for (String p : s.split(",")) out.add(parseDecl(p.trim()));
        return out;
    }

    /** Parses "const char **name" into a type and a name. */
    Param parseDecl(String s) {
        Matcher m = Pattern.compile("(.*?)(\\w+)$").matcher(s.trim());
        if (!m.matches()) throw new IllegalArgumentException("cannot parse declaration: " + s);
        return new Param(parseType(m.group(1)), m.group(2));
    }

    CType parseType(String s) {
        String t = s.replace("const", " ").trim();
        int pointers = 0;
        for (char c : t.toCharArray()) if (c == '*') pointers++;
        String base = t.replace("*", " ").trim().replaceAll("\\s+", " ");
        if (base.startsWith("struct ")) base = base.substring(7);
        if (base.contains(" ")) throw new IllegalArgumentException("unsupported type: " + s);
        if (!isKnown(base)) throw new IllegalArgumentException("unknown type '" + base + "' in: " + s);
        if (pointers == 0 && (structs.containsKey(base) || opaque.contains(base)))
            throw new IllegalArgumentException("structs must be passed by pointer: " + s);
        return new CType(base, pointers);
    }

    boolean isKnown(String base) {
        return switch (base) {
            case "void", "char", "int8_t", "uint8_t", "int16_t", "uint16_t", "int32_t", "uint32_t", "int64_t",
                 "uint64_t", "size_t", "float", "double" -> true;
            default -> structs.containsKey(base) || opaque.contains(base) || enums.contains(base)
                    || callbacks.containsKey(base);
        };
    }

    // ---------------------------------------------------------------- mapping

    /** The ValueLayout constant (as Java source) for a C type. */
    String layout(CType t) {
        if (t.pointers() > 0 || callbacks.containsKey(t.base())) return "ValueLayout.ADDRESS";
        if (enums.contains(t.base())) return "ValueLayout.JAVA_INT";
        return switch (t.base()) {
            case "char", "int8_t", "uint8_t" -> "ValueLayout.JAVA_BYTE";
            case "int16_t", "uint16_t" -> "ValueLayout.JAVA_SHORT";
            case "int32_t", "uint32_t" -> "ValueLayout.JAVA_INT";
            case "int64_t", "uint64_t", "size_t" -> "ValueLayout.JAVA_LONG";
            case "float" -> "ValueLayout.JAVA_FLOAT";
            case "double" -> "ValueLayout.JAVA_DOUBLE";
            default -> throw new IllegalArgumentException("no layout for " + t);
        };
    }

    String carrier(CType t) {
        return switch (layout(t)) {
            case "ValueLayout.ADDRESS" -> "MemorySegment";
            case "ValueLayout.JAVA_BYTE" -> "byte";
            case "ValueLayout.JAVA_SHORT" -> "short";
            case "ValueLayout.JAVA_INT" -> "int";
            case "ValueLayout.JAVA_LONG" -> "long";
            case "ValueLayout.JAVA_FLOAT" -> "float";
            case "ValueLayout.JAVA_DOUBLE" -> "double";
            default -> throw new IllegalStateException();
        };
    }

    static long size(String layout) {
        return switch (layout) {
            case "ValueLayout.JAVA_BYTE" -> 1;
            case "ValueLayout.JAVA_SHORT" -> 2;
            case "ValueLayout.JAVA_INT", "ValueLayout.JAVA_FLOAT" -> 4;
            default -> 8;
        };
    }

    String descriptor(CType ret, List<Param> params) {
        StringBuilder sb = new StringBuilder(ret.isVoid() ? "FunctionDescriptor.ofVoid(" : "FunctionDescriptor.of(" + layout(ret));
        boolean first = ret.isVoid();
        for (Param p : params) {
            sb.append(first ? "" : ", ").append(layout(p.type()));
            first = false;
        }
        return sb.append(")").toString();
    }

    static String javaName(String name) {
        return switch (name) {
            case "default", "class", "new", "int", "long", "char", "byte", "short", "float", "double", "final",
                 "package", "public", "private", "static", "interface", "this", "super", "void", "boolean" -> name + "_";
            default -> name;
        };
    }

    // ---------------------------------------------------------------- output

    void writeJava(Path outDir, String pkg) throws IOException {
        Path dir = outDir.resolve(pkg.replace('.', '/'));
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("fflama_h.java"), mainClass(pkg));
        for (Struct s : structs.values()) Files.writeString(dir.resolve(s.name() + ".java"), structClass(pkg, s));
        for (Callback c : callbacks.values()) Files.writeString(dir.resolve(c.name() + ".java"), callbackClass(pkg, c));
    }

    static final String HEADER = "// Generated from fflama.h by bindings/generator/BindingsGenerator.java. Do not edit.\n";

    String mainClass(String pkg) {
        StringBuilder sb = new StringBuilder(HEADER);
        sb.append("package ").append(pkg).append(";\n\n");
        sb.append("import java.lang.foreign.*;\nimport java.lang.invoke.MethodHandle;\nimport java.util.List;\n\n");
        sb.append("/** Downcalls and constants of fflama.h. Symbols are looked up on first use. */\n");
        sb.append("public final class fflama_h {\n    private fflama_h() {}\n\n");
        for (Constant c : constants) {
            boolean fitsInt = c.value() >= Integer.MIN_VALUE && c.value() <= Integer.MAX_VALUE;
            sb.append("    public static final ").append(fitsInt ? "int " : "long ").append(c.name()).append(" = ")
                    .append(c.value()).append(fitsInt ? "" : "L").append(";\n");
        }
        sb.append("\n    /** Every function declared in fflama.h. */\n    public static final List<String> FUNCTIONS = List.of(");
        sb.append(String.join(", ", functions.stream().map(f -> "\"" + f.name() + "\"").toList())).append(");\n");
        sb.append("\n    /** Every constant (enum value or #define) of fflama.h, in declaration order. */\n");
        sb.append("    public static final List<String> CONSTANTS = List.of(");
        sb.append(String.join(", ", constants.stream().map(c -> "\"" + c.name() + "\"").toList())).append(");\n");
        sb.append("\n    /** Every struct of fflama.h that Java can allocate. */\n    public static final List<String> STRUCTS = List.of(");
        sb.append(String.join(", ", structs.keySet().stream().map(n -> "\"" + n + "\"").toList())).append(");\n");
        for (Function f : functions) {
            sb.append("\n    private static final class ").append(f.name()).append("$ {\n");
            sb.append("        static final FunctionDescriptor DESC = ").append(descriptor(f.ret(), f.params())).append(";\n");
            sb.append("        static final MethodHandle HANDLE = NativeLibrary.downcall(\"").append(f.name()).append("\", DESC);\n    }\n\n");
            String ret = f.ret().isVoid() ? "void" : carrier(f.ret());
            sb.append("    public static ").append(ret).append(" ").append(f.name()).append("(");
            List<String> decl = new ArrayList<>(), names = new ArrayList<>();
            for (Param p : f.params()) {
                decl.add(carrier(p.type()) + " " + javaName(p.name()));
                names.add(javaName(p.name()));
            }
            sb.append(String.join(", ", decl)).append(") {\n        try {\n            ");
            if (!f.ret().isVoid()) sb.append("return (").append(ret).append(") ");
            sb.append(f.name()).append("$.HANDLE.invokeExact(").append(String.join(", ", names)).append(");\n");
            sb.append("        } catch (Throwable t) {\n            throw NativeLibrary.rethrow(t);\n        }\n    }\n");
        }
        return sb.append("}\n").toString();
    }

    String structClass(String pkg, Struct s) {
        StringBuilder sb = new StringBuilder(HEADER);
        sb.append("package ").append(pkg).append(";\n\n");
        sb.append("import java.lang.foreign.*;\n\n");
        sb.append("/** Layout and accessors of the C struct ").append(s.name()).append(". */\n");
        sb.append("public final class ").append(s.name()).append(" {\n    private ").append(s.name()).append("() {}\n\n");
        StringBuilder layout = new StringBuilder();
        long offset = 0, maxAlign = 1;
        List<String> offsets = new ArrayList<>();
        int pad = 0;
        for (Field f : s.fields()) {
            String l = layout(f.type());
            long sz = size(l);
            maxAlign = Math.max(maxAlign, sz);
            if (offset % sz != 0) {
                long p = sz - offset % sz;
                layout.append("        MemoryLayout.paddingLayout(").append(p).append("),\n");
                offset += p;
                pad++;
            }
            layout.append("        ").append(l).append(".withName(\"").append(f.name()).append("\"),\n");
            offsets.add("    public static final long " + f.name() + "$OFFSET = " + offset + ";\n");
            offset += sz;
        }
        if (offset % maxAlign != 0) {
            layout.append("        MemoryLayout.paddingLayout(").append(maxAlign - offset % maxAlign).append("),\n");
        }
        String body = layout.toString();
        body = body.substring(0, body.length() - 2) + "\n";
        sb.append("    public static final StructLayout LAYOUT = MemoryLayout.structLayout(\n").append(body)
                .append("    ).withName(\"").append(s.name()).append("\");\n\n");
        offsets.forEach(sb::append);
        sb.append("\n    public static MemorySegment allocate(SegmentAllocator allocator) {\n        return allocator.allocate(LAYOUT);\n    }\n");
        for (Field f : s.fields()) {
            String l = layout(f.type()), c = carrier(f.type()), n = javaName(f.name());
            sb.append("\n    public static ").append(c).append(" ").append(n).append("(MemorySegment struct) {\n")
                    .append("        return struct.get(").append(l).append(", ").append(f.name()).append("$OFFSET);\n    }\n");
            sb.append("\n    public static void ").append(n).append("(MemorySegment struct, ").append(c).append(" value) {\n")
                    .append("        struct.set(").append(l).append(", ").append(f.name()).append("$OFFSET, value);\n    }\n");
        }
        return sb.append("}\n").toString();
    }

    String callbackClass(String pkg, Callback c) {
        StringBuilder sb = new StringBuilder(HEADER);
        sb.append("package ").append(pkg).append(";\n\n");
        sb.append("import java.lang.foreign.*;\nimport java.lang.invoke.MethodHandle;\nimport java.lang.invoke.MethodHandles;\n\n");
        sb.append("/** The C callback type ").append(c.name()).append(". */\n");
        sb.append("public final class ").append(c.name()).append(" {\n    private ").append(c.name()).append("() {}\n\n");
        String ret = c.ret().isVoid() ? "void" : carrier(c.ret());
        List<String> decl = new ArrayList<>();
        for (Param p : c.params()) decl.add(carrier(p.type()) + " " + javaName(p.name()));
        sb.append("    @FunctionalInterface\n    public interface Function {\n        ").append(ret).append(" apply(")
                .append(String.join(", ", decl)).append(");\n    }\n\n");
        sb.append("    public static final FunctionDescriptor DESCRIPTOR = ").append(descriptor(c.ret(), c.params())).append(";\n\n");
        sb.append("    private static final MethodHandle APPLY;\n    static {\n        try {\n");
        sb.append("            APPLY = MethodHandles.lookup().findVirtual(Function.class, \"apply\", DESCRIPTOR.toMethodType());\n");
        sb.append("        } catch (ReflectiveOperationException e) {\n            throw new ExceptionInInitializerError(e);\n        }\n    }\n\n");
        sb.append("    /** An upcall stub calling fn, valid while arena is alive. fn must not throw. */\n");
        sb.append("    public static MemorySegment allocate(Function fn, Arena arena) {\n");
        sb.append("        return Linker.nativeLinker().upcallStub(APPLY.bindTo(fn), DESCRIPTOR, arena);\n    }\n");
        return sb.append("}\n").toString();
    }

    void writeProbe(Path probe) throws IOException {
        StringBuilder sb = new StringBuilder("/* Generated by BindingsGenerator: prints what the C compiler thinks of fflama.h's layouts. */\n");
        sb.append("#include <stddef.h>\n#include <stdio.h>\n#include \"fflama.h\"\n\nint main(void) {\n");
        for (Struct s : structs.values()) {
            sb.append("    printf(\"struct ").append(s.name()).append(" %zu %zu\\n\", sizeof(").append(s.name())
                    .append("), _Alignof(").append(s.name()).append("));\n");
            for (Field f : s.fields())
                sb.append("    printf(\"field ").append(s.name()).append('.').append(f.name()).append(" %zu\\n\", offsetof(")
                        .append(s.name()).append(", ").append(f.name()).append("));\n");
        }
        for (Constant c : constants)
            sb.append("    printf(\"const ").append(c.name()).append(" %lld\\n\", (long long)").append(c.name()).append(");\n");
        sb.append("    return 0;\n}\n");
        if (probe.getParent() != null) Files.createDirectories(probe.getParent());
        Files.writeString(probe, sb.toString());
    }
}
