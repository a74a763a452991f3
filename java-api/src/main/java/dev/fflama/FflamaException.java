package dev.fflama;

/**
 * A failure reported by the native core: the status code of fflama.h and the core's message.
 * Unchecked, so Kotlin and Scala callers meet no checked-exception walls.
 */
public class FflamaException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int status;

    public FflamaException(int status, String message) {
        super(message);
        this.status = status;
    }

    public FflamaException(int status, String message, Throwable cause) {
        super(message, cause);
        this.status = status;
    }

    /** The negative ffl_status code (for example -3 for FFL_ERR_FORMAT). */
    public int status() {
        return status;
    }

    /** The symbolic name of {@link #status()}, for example {@code FFL_ERR_FORMAT}. */
    public String statusName() {
        return Status.nameOf(status);
    }

    /** Status codes of fflama.h. */
    public static final class Status {
        public static final int OK = 0;
        public static final int INVALID_ARGUMENT = -1;
        public static final int IO = -2;
        public static final int FORMAT = -3;
        public static final int UNSUPPORTED = -4;
        public static final int OUT_OF_MEMORY = -5;
        public static final int OUT_OF_RANGE = -6;
        public static final int CONTEXT_FULL = -7;
        public static final int ABORTED = -8;
        public static final int STATE = -9;
        public static final int INTERNAL = -10;

        private Status() {}

        static String nameOf(int status) {
            return switch (status) {
                case OK -> "FFL_OK";
                case INVALID_ARGUMENT -> "FFL_ERR_INVALID_ARGUMENT";
                case IO -> "FFL_ERR_IO";
                case FORMAT -> "FFL_ERR_FORMAT";
                case UNSUPPORTED -> "FFL_ERR_UNSUPPORTED";
                case OUT_OF_MEMORY -> "FFL_ERR_OUT_OF_MEMORY";
                case OUT_OF_RANGE -> "FFL_ERR_OUT_OF_RANGE";
                case CONTEXT_FULL -> "FFL_ERR_CONTEXT_FULL";
                case ABORTED -> "FFL_ERR_ABORTED";
                case STATE -> "FFL_ERR_STATE";
                case INTERNAL -> "FFL_ERR_INTERNAL";
                default -> "FFL_ERR_UNKNOWN(" + status + ")";
            };
        }
    }
}
