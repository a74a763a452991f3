package dev.fflama.bindings;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * Where the generated bindings find their symbols. The Java API's loader installs the loaded
 * library here once; downcall handles are created lazily, so a binding is looked up on first use.
 */
public final class NativeLibrary {
    private static volatile SymbolLookup lookup;

    private NativeLibrary() {}

    /** Makes symbols resolve through the given lookup (the loaded libfflama). */
    public static void install(SymbolLookup symbols) {
        lookup = symbols;
    }

    public static boolean isInstalled() {
        return lookup != null;
    }

    /** Address of an exported symbol, if the loaded library has it. */
    public static Optional<MemorySegment> find(String name) {
        SymbolLookup l = lookup;
        return l == null ? Optional.empty() : l.find(name);
    }

    static MethodHandle downcall(String name, FunctionDescriptor descriptor) {
        SymbolLookup l = lookup;
        if (l == null) {
            throw new IllegalStateException("the fflama native library is not loaded (dev.fflama.NativeLoader loads it)");
        }
        MemorySegment symbol = l.find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libfflama has no symbol " + name));
        return Linker.nativeLinker().downcallHandle(symbol, descriptor);
    }

    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException("native call failed", t);
    }
}
