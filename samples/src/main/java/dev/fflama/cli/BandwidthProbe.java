package dev.fflama.cli;

import dev.fflama.bindings.fflama_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The core's read-bandwidth probe with its buffer kept, so the bench can time a streaming read right
 * before and after every block of generated tokens: on a machine whose memory bandwidth other tenants
 * move by tens of percent, that is the bandwidth the block had on offer.
 */
final class BandwidthProbe implements AutoCloseable {
    private MemorySegment handle;

    BandwidthProbe(int threads, long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            NativeCalls.check(fflama_h.ffl_bandwidth_probe_new(threads, bytes, out));
            handle = out.get(ValueLayout.ADDRESS, 0);
        }
    }

    /** Bytes per second of one streaming read of the buffer. */
    double run() {
        if (handle == null) throw new IllegalStateException("bandwidth probe is closed");
        return NativeCalls.measure(o -> fflama_h.ffl_bandwidth_probe_run(handle, o));
    }

    @Override
    public void close() {
        if (handle != null) fflama_h.ffl_bandwidth_probe_free(handle);
        handle = null;
    }
}
