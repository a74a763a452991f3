package dev.fflama;

import dev.fflama.bindings.NativeLibrary;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * Finds and loads libfflama once per JVM.
 *
 * <p>Order: the system property {@value #LIBRARY_PATH_PROPERTY}, then the environment variable
 * {@value #LIBRARY_PATH_ENV} (each a path to the library file); otherwise the platform's library
 * is extracted from this JAR into a per-user cache folder named by the library's SHA-256
 * (so two JVMs starting at once, or two versions side by side, never clash) and loaded from there.
 * The build ships that SHA-256 beside the library, so later start-ups find the extracted file without
 * reading the bundled one.
 */
public final class NativeLoader {
    public static final String LIBRARY_PATH_PROPERTY = "fflama.library.path";
    public static final String LIBRARY_PATH_ENV = "FFLAMA_LIBRARY_PATH";
    public static final String CACHE_DIR_PROPERTY = "fflama.cache.dir";
    /** Platforms the naming scheme knows; the JAR holds the ones it was built for. */
    public static final List<String> KNOWN_PLATFORMS = List.of("linux-x86_64", "linux-aarch64", "macos-aarch64",
            "macos-x86_64", "windows-x86_64");

    private static volatile Path loadedFrom;

    private NativeLoader() {}

    /** Loads the library if it is not loaded yet and returns the file it came from. */
    public static Path load() {
        Path p = loadedFrom;
        if (p != null) return p;
        synchronized (NativeLoader.class) {
            if (loadedFrom == null) {
                Path file = locate();
                NativeLibrary.install(SymbolLookup.libraryLookup(file, Arena.global()));
                NativeLog.install();
                loadedFrom = file;
            }
            return loadedFrom;
        }
    }

    static Path locate() {
        String explicit = System.getProperty(LIBRARY_PATH_PROPERTY);
        if (explicit == null || explicit.isBlank()) explicit = System.getenv(LIBRARY_PATH_ENV);
        if (explicit != null && !explicit.isBlank()) {
            Path file = Path.of(explicit);
            if (!Files.isRegularFile(file)) {
                throw new FflamaException(FflamaException.Status.IO, "fflama native library not found at " + file
                        + " (from -D" + LIBRARY_PATH_PROPERTY + " or " + LIBRARY_PATH_ENV + ")");
            }
            return file;
        }
        return extractFromJar(platform());
    }

    /** The running platform in the JAR's folder naming, e.g. linux-x86_64. */
    public static String platform() {
        return platform(System.getProperty("os.name"), System.getProperty("os.arch"));
    }

    static String platform(String osName, String osArch) {
        String os = osName.toLowerCase(Locale.ROOT);
        String family = os.contains("linux") ? "linux" : os.contains("mac") || os.contains("darwin") ? "macos"
                : os.contains("windows") ? "windows" : os.replaceAll("[^a-z0-9]", "");
        String arch = switch (osArch.toLowerCase(Locale.ROOT)) {
            case "amd64", "x86_64", "x64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> osArch.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9_]", "");
        };
        return family + "-" + arch;
    }

    static String libraryFileName(String platform) {
        if (platform.startsWith("windows")) return "fflama.dll";
        if (platform.startsWith("macos")) return "libfflama.dylib";
        return "libfflama.so";
    }

    static String resourceName(String platform) {
        return "dev/fflama/native/" + platform + "/" + libraryFileName(platform);
    }

    /** Platforms whose library this class loader can see. */
    public static List<String> bundledPlatforms() {
        List<String> found = new ArrayList<>();
        for (String p : KNOWN_PLATFORMS) {
            if (NativeLoader.class.getClassLoader().getResource(resourceName(p)) != null) found.add(p);
        }
        return found;
    }

    static Path extractFromJar(String platform) {
        ClassLoader loader = NativeLoader.class.getClassLoader();
        URL resource = loader.getResource(resourceName(platform));
        if (resource == null) throw new UnsupportedPlatformException(platform, bundledPlatforms());
        // fast path: the build ships the library's SHA-256, so a library extracted before is found without
        // reading and hashing the bundled one again (that costs ~150 ms of a cold JVM's start-up)
        String shipped = shippedSha256(loader, platform);
        if (shipped != null) {
            Path target = cacheRoot().resolve(shipped.substring(0, 32)).resolve(libraryFileName(platform));
            try {
                long size = resource.openConnection().getContentLengthLong();
                if (size > 0 && Files.isRegularFile(target) && Files.size(target) == size) return target;
            } catch (IOException e) {
                // extract below
            }
        }
        byte[] bytes;
        try (InputStream in = resource.openStream()) {
            bytes = in.readAllBytes();
        } catch (IOException e) {
            throw new FflamaException(FflamaException.Status.IO, "cannot read the bundled native library: " + e, e);
        }
        Path dir = cacheRoot().resolve(sha256(bytes).substring(0, 32));
        Path target = dir.resolve(libraryFileName(platform));
        try {
            if (Files.isRegularFile(target) && Files.size(target) == bytes.length) return target;
            Files.createDirectories(dir);
            // Write beside the target, then move atomically: a concurrent JVM sees either nothing or the whole file.
            Path tmp = Files.createTempFile(dir, "fflama-", ".tmp");
            try {
                Files.write(tmp, bytes);
                try {
                    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
                } catch (FileAlreadyExistsException | AtomicMoveNotSupportedException e) {
                    if (!Files.isRegularFile(target)) Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
                }
            } finally {
                Files.deleteIfExists(tmp);
            }
            return target;
        } catch (IOException e) {
            throw new FflamaException(FflamaException.Status.IO, "cannot extract the native library to " + dir + ": " + e, e);
        }
    }

    /** The hex SHA-256 the build wrote beside the library ({@code cmake -E sha256sum} output), or null. */
    static String shippedSha256(ClassLoader loader, String platform) {
        try (InputStream in = loader.getResourceAsStream(resourceName(platform) + ".sha256")) {
            if (in == null) return null;
            String text = new String(in.readNBytes(256), java.nio.charset.StandardCharsets.US_ASCII).trim();
            String hex = text.split("\\s+", 2)[0].toLowerCase(Locale.ROOT);
            return hex.matches("[0-9a-f]{64}") ? hex : null;
        } catch (IOException e) {
            return null;
        }
    }

    static Path cacheRoot() {
        String configured = System.getProperty(CACHE_DIR_PROPERTY);
        if (configured != null && !configured.isBlank()) return Path.of(configured);
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("fflama").resolve("native");
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
