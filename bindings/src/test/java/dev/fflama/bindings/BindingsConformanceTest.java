package dev.fflama.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Proves the generated bindings match the compiled library and what the C compiler says of fflama.h. */
class BindingsConformanceTest {
    static Path library;
    static Path nativeBuild;

    @BeforeAll
    static void load() {
        library = Path.of(System.getProperty("fflama.library.path"));
        nativeBuild = Path.of(System.getProperty("fflama.native.build"));
        NativeLibrary.install(SymbolLookup.libraryLookup(library, Arena.global()));
    }

    static List<String> run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), () -> String.join(" ", command) + " failed:\n" + out);
        return out.lines().toList();
    }

    @Test
    void everyExportedSymbolHasABindingAndEveryBindingResolves() throws Exception {
        Set<String> exported = new TreeSet<>();
        for (String line : run("nm", "-D", "--defined-only", library.toString())) {
            String[] parts = line.trim().split("\\s+");
            String name = parts[parts.length - 1];
            if (parts.length >= 3 && parts[1].equals("T") && name.startsWith("ffl_")) exported.add(name);
        }
        assertFalse(exported.isEmpty(), "no ffl_ symbols exported");
        Set<String> bound = new TreeSet<>(fflama_h.FUNCTIONS);
        Set<String> unbound = new TreeSet<>(exported);
        unbound.removeAll(bound);
        assertTrue(unbound.isEmpty(), "exported but not declared in fflama.h / not bound: " + unbound);
        Set<String> missing = new TreeSet<>(bound);
        missing.removeAll(exported);
        assertTrue(missing.isEmpty(), "declared in fflama.h but not exported by the library: " + missing);
        for (String f : bound) assertTrue(NativeLibrary.find(f).isPresent(), f);
    }

    @Test
    void structLayoutsAndConstantsMatchTheCompiler() throws Exception {
        Path probe = nativeBuild.resolve("ffl_layout_probe");
        assertTrue(Files.isExecutable(probe), "layout probe not built: " + probe);
        int structs = 0, fields = 0, constants = 0;
        List<String> problems = new ArrayList<>();
        for (String line : run(probe.toString())) {
            String[] p = line.split(" ");
            switch (p[0]) {
                case "struct" -> {
                    StructLayout layout = layoutOf(p[1]);
                    if (layout.byteSize() != Long.parseLong(p[2])) problems.add(p[1] + " size " + layout.byteSize() + " != " + p[2]);
                    if (layout.byteAlignment() != Long.parseLong(p[3])) problems.add(p[1] + " alignment " + layout.byteAlignment() + " != " + p[3]);
                    structs++;
                }
                case "field" -> {
                    String[] sf = p[1].split("\\.");
                    long offset = layoutOf(sf[0]).byteOffset(MemoryLayout.PathElement.groupElement(sf[1]));
                    if (offset != Long.parseLong(p[2])) problems.add(p[1] + " offset " + offset + " != " + p[2]);
                    fields++;
                }
                case "const" -> {
                    Number value = (Number) fflama_h.class.getField(p[1]).get(null);
                    if (value.longValue() != Long.parseLong(p[2])) problems.add(p[1] + " = " + value + " != " + p[2]);
                    constants++;
                }
                default -> problems.add("unexpected probe line: " + line);
            }
        }
        assertTrue(problems.isEmpty(), problems.toString());
        assertEquals(fflama_h.STRUCTS.size(), structs);
        assertEquals(fflama_h.CONSTANTS.size(), constants);
        assertTrue(fields > 0);
    }

    static StructLayout layoutOf(String struct) throws ReflectiveOperationException {
        return (StructLayout) Class.forName("dev.fflama.bindings." + struct).getField("LAYOUT").get(null);
    }

    @Test
    void callsReachTheLibrary() {
        assertEquals("0.1.0", fflama_h.ffl_version().reinterpret(64).getString(0));
        assertEquals("FFL_ERR_FORMAT", fflama_h.ffl_status_name(fflama_h.FFL_ERR_FORMAT).reinterpret(64).getString(0));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(java.lang.foreign.ValueLayout.ADDRESS);
            int st = fflama_h.ffl_gguf_open(arena.allocateFrom("/no/such/file.gguf"), 0, out);
            assertEquals(fflama_h.FFL_ERR_IO, st);
            assertEquals(fflama_h.FFL_ERR_IO, fflama_h.ffl_last_status());
            String msg = fflama_h.ffl_last_error().reinterpret(1024).getString(0);
            assertTrue(msg.contains("/no/such/file.gguf"), msg);
        }
    }

    @Test
    void logCallbackIsAnUpcall() {
        List<String> seen = new ArrayList<>();
        try (Arena arena = Arena.ofShared()) {
            MemorySegment stub = ffl_log_fn.allocate(
                    (level, message, user) -> seen.add(level + ":" + message.reinterpret(4096).getString(0)), arena);
            fflama_h.ffl_log_set_callback(stub, MemorySegment.NULL);
            fflama_h.ffl_log_set_level(fflama_h.FFL_LOG_INFO);
            fflama_h.ffl_log_message(fflama_h.FFL_LOG_WARN, arena.allocateFrom("hello from C"));
            fflama_h.ffl_log_message(fflama_h.FFL_LOG_DEBUG, arena.allocateFrom("filtered"));
            fflama_h.ffl_log_set_callback(MemorySegment.NULL, MemorySegment.NULL);
        }
        assertEquals(List.of(fflama_h.FFL_LOG_WARN + ":hello from C"), seen);
    }
}
