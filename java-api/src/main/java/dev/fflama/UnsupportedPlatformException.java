package dev.fflama;

import java.util.List;

/** This JAR carries no native library for the running platform. */
public class UnsupportedPlatformException extends FflamaException {
    private static final long serialVersionUID = 1L;
    private final String platform;
    private final List<String> supported;

    public UnsupportedPlatformException(String platform, List<String> supported) {
        super(Status.UNSUPPORTED, "fflama has no native library for platform '" + platform + "'; this JAR supports "
                + (supported.isEmpty() ? "no platform" : String.join(", ", supported))
                + ". Set -D" + NativeLoader.LIBRARY_PATH_PROPERTY + " or " + NativeLoader.LIBRARY_PATH_ENV
                + " to a library built for this platform.");
        this.platform = platform;
        this.supported = List.copyOf(supported);
    }

    public String platform() {
        return platform;
    }

    public List<String> supported() {
        return supported;
    }
}
