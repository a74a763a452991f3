package dev.fflama.cli;

import dev.fflama.FflamaException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the fflama command line. Each subcommand lives in its own class. */
@Command(name = "fflama", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Run GGUF language models on the JVM.",
        subcommands = {
            InspectCommand.class,
            LogitsCommand.class,
            QuantizeCommand.class,
        })
public final class Main implements Runnable {
    /** Exit status for bad input (bad file, bad arguments). */
    public static final int EXIT_BAD_INPUT = 2;

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the CLI and returns the exit status (tests call this instead of main). */
    public static int execute(String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler(Main::handle);
        cli.setCaseInsensitiveEnumValuesAllowed(true);
        return cli.execute(args);
    }

    private static int handle(Exception e, CommandLine cmd, CommandLine.ParseResult parsed) {
        PrintWriter err = cmd.getErr();
        String message = e.getMessage() == null ? e.toString() : e.getMessage();
        err.println("error: " + message.replace('\n', ' '));
        err.flush();
        if (e instanceof FflamaException || e instanceof IllegalArgumentException || e instanceof java.io.IOException
                || e instanceof java.io.UncheckedIOException) {
            return EXIT_BAD_INPUT;
        }
        return 1;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"fflama " + dev.fflama.Fflama.version(), "cpu: " + dev.fflama.Fflama.cpuFeatures(),
                "kernels: " + dev.fflama.Fflama.kernelLevel()};
        }
    }
}
