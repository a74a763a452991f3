package dev.fflama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NativeLoaderTest {
    @Test
    void platformNamesFollowTheJarLayout() {
        assertEquals("linux-x86_64", NativeLoader.platform("Linux", "amd64"));
        assertEquals("linux-aarch64", NativeLoader.platform("Linux", "aarch64"));
        assertEquals("macos-aarch64", NativeLoader.platform("Mac OS X", "aarch64"));
        assertEquals("windows-x86_64", NativeLoader.platform("Windows 11", "amd64"));
        assertEquals("dev/fflama/native/windows-x86_64/fflama.dll", NativeLoader.resourceName("windows-x86_64"));
        assertEquals("dev/fflama/native/linux-x86_64/libfflama.so", NativeLoader.resourceName("linux-x86_64"));
    }

    @Test
    void theJarCarriesThisPlatformsLibrary() {
        assertTrue(NativeLoader.bundledPlatforms().contains(NativeLoader.platform()), NativeLoader.bundledPlatforms().toString());
    }

    @Test
    void theBuildShipsTheLibrarysSha256() throws Exception {
        byte[] lib;
        try (var in = NativeLoader.class.getClassLoader().getResourceAsStream(NativeLoader.resourceName(NativeLoader.platform()))) {
            lib = in.readAllBytes();
        }
        assertEquals(NativeLoader.sha256(lib), NativeLoader.shippedSha256(NativeLoader.class.getClassLoader(), NativeLoader.platform()));
        assertEquals(null, NativeLoader.shippedSha256(NativeLoader.class.getClassLoader(), "plan9-mips"));
    }

    @Test
    void missingPlatformNamesItAndTheSupportedOnes() {
        UnsupportedPlatformException e = assertThrows(UnsupportedPlatformException.class,
                () -> NativeLoader.extractFromJar("plan9-mips"));
        assertTrue(e.getMessage().contains("plan9-mips"), e.getMessage());
        assertTrue(e.getMessage().contains(NativeLoader.platform()), e.getMessage());
        assertEquals(NativeLoader.bundledPlatforms(), e.supported());
    }

    @Test
    void concurrentExtractionYieldsOneIntactFile(@TempDir Path cache) throws Exception {
        String previous = System.getProperty(NativeLoader.CACHE_DIR_PROPERTY);
        System.setProperty(NativeLoader.CACHE_DIR_PROPERTY, cache.toString());
        try (ExecutorService pool = Executors.newFixedThreadPool(8)) {
            List<Callable<Path>> jobs = new ArrayList<>();
            for (int i = 0; i < 16; i++) jobs.add(() -> NativeLoader.extractFromJar(NativeLoader.platform()));
            List<Path> results = new ArrayList<>();
            for (Future<Path> f : pool.invokeAll(jobs)) results.add(f.get());
            assertEquals(1, results.stream().distinct().count());
            Path lib = results.get(0);
            byte[] expected;
            try (var in = NativeLoader.class.getClassLoader()
                    .getResourceAsStream(NativeLoader.resourceName(NativeLoader.platform()))) {
                expected = in.readAllBytes();
            }
            assertEquals(NativeLoader.sha256(expected), NativeLoader.sha256(Files.readAllBytes(lib)));
            assertTrue(lib.getParent().getFileName().toString().length() == 32);
            try (var files = Files.list(lib.getParent())) {
                assertFalse(files.anyMatch(p -> p.toString().endsWith(".tmp")), "temporary files left behind");
            }
        } finally {
            if (previous == null) System.clearProperty(NativeLoader.CACHE_DIR_PROPERTY);
            else System.setProperty(NativeLoader.CACHE_DIR_PROPERTY, previous);
        }
    }

    @Test
    void loadsAndReportsTheCore() {
        Path from = NativeLoader.load();
        assertTrue(Files.isRegularFile(from));
        assertEquals("0.1.0", Fflama.version());
        assertTrue(List.of("scalar", "avx2", "avx512", "neon", "neon-dotprod").contains(Fflama.kernelLevel()));
        assertTrue(Fflama.physicalCores() >= 1);
    }
}
