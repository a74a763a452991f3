package dev.fflama.cli;

import dev.fflama.Sampler;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Sampling flags shared by run and chat, named as llama.cpp's CLI names them. */
final class SamplingOptions {
    @Option(names = "--temp", description = "temperature; 0 = greedy (default: ${DEFAULT-VALUE})")
    float temperature = 0.8f;

    @Option(names = {"-s", "--seed"}, description = "random seed (default: random)")
    Long seed;

    @Option(names = "--top-k", description = "top-k, 0 = off (default: ${DEFAULT-VALUE})")
    int topK = 40;

    @Option(names = "--top-p", description = "top-p, 1 = off (default: ${DEFAULT-VALUE})")
    float topP = 0.95f;

    @Option(names = "--min-p", description = "min-p, 0 = off (default: ${DEFAULT-VALUE})")
    float minP = 0.05f;

    @Option(names = "--typical", description = "locally typical p, 1 = off (default: ${DEFAULT-VALUE})")
    float typical = 1f;

    @Option(names = "--repeat-penalty", description = "repetition penalty, 1 = off (default: ${DEFAULT-VALUE})")
    float repeatPenalty = 1f;

    @Option(names = "--repeat-last-n", description = "tokens the penalties look back at (default: ${DEFAULT-VALUE})")
    int repeatLastN = 64;

    @Option(names = "--frequency-penalty", description = "frequency penalty (default: ${DEFAULT-VALUE})")
    float frequencyPenalty = 0f;

    @Option(names = "--presence-penalty", description = "presence penalty (default: ${DEFAULT-VALUE})")
    float presencePenalty = 0f;

    @Option(names = "--dynatemp-range", description = "dynamic temperature range (default: ${DEFAULT-VALUE})")
    float dynatempRange = 0f;

    @Option(names = "--dynatemp-exp", description = "dynamic temperature exponent (default: ${DEFAULT-VALUE})")
    float dynatempExponent = 1f;

    @Option(names = "--mirostat-v2", description = "use mirostat 2.0 sampling")
    boolean mirostat;

    @Option(names = "--mirostat-ent", description = "mirostat target entropy tau (default: ${DEFAULT-VALUE})")
    float mirostatTau = 5f;

    @Option(names = "--mirostat-lr", description = "mirostat learning rate eta (default: ${DEFAULT-VALUE})")
    float mirostatEta = 0.1f;

    @Option(names = "--xtc-probability", description = "XTC probability, 0 = off (default: ${DEFAULT-VALUE})")
    float xtcProbability = 0f;

    @Option(names = "--xtc-threshold", description = "XTC threshold (default: ${DEFAULT-VALUE})")
    float xtcThreshold = 0.1f;

    @Option(names = "--dry-multiplier", description = "DRY multiplier, 0 = off (default: ${DEFAULT-VALUE})")
    float dryMultiplier = 0f;

    @Option(names = "--dry-base", description = "DRY base (default: ${DEFAULT-VALUE})")
    float dryBase = 1.75f;

    @Option(names = "--dry-allowed-length", description = "DRY allowed length (default: ${DEFAULT-VALUE})")
    int dryAllowedLength = 2;

    @Option(names = "--dry-penalty-last-n", description = "DRY look-back, -1 = context (default: ${DEFAULT-VALUE})")
    int dryLastN = -1;

    @Option(names = {"--grammar-file", "--grammar"}, description = "GBNF grammar file constraining the output")
    Path grammarFile;

    @Option(names = {"-j", "--json-schema"}, description = "JSON Schema file (or inline JSON) constraining the output")
    String jsonSchema;

    Sampler build() throws IOException {
        Sampler.Builder b = Sampler.builder().temperature(temperature).topK(topK).topP(topP).minP(minP).typicalP(typical)
                .repeatPenalty(repeatPenalty).penaltyLastN(repeatLastN).frequencyPenalty(frequencyPenalty)
                .presencePenalty(presencePenalty).dynamicTemperature(dynatempRange, dynatempExponent)
                .xtc(xtcProbability, xtcThreshold).dry(dryMultiplier, dryBase, dryAllowedLength, dryLastN);
        if (seed != null) b.seed(seed);
        if (mirostat) b.mirostatV2(mirostatTau, mirostatEta);
        if (grammarFile != null && jsonSchema != null) throw new IllegalArgumentException("give --grammar or --json-schema, not both");
        if (grammarFile != null) b.grammar(Files.readString(grammarFile));
        if (jsonSchema != null) {
            String schema = jsonSchema.trim().startsWith("{") ? jsonSchema : Files.readString(Path.of(jsonSchema));
            b.jsonSchema(schema);
        }
        return b.build();
    }
}
