package dev.fflama.samples

import dev.fflama.Generation
import dev.fflama.Model
import dev.fflama.Sampler
import dev.fflama.SessionOptions
import java.nio.file.Path

/** fflama from Kotlin: builders, `use` for AutoCloseable, the token stream as a Sequence. No checked exceptions. */
object KotlinSample {
    @JvmStatic
    fun complete(model: Path, prompt: String, maxTokens: Int): String =
        Model.load(model).use { m ->
            m.newSession(SessionOptions.builder().contextSize(512).build()).use { session ->
                val greedy = Sampler.builder().temperature(0f).build()
                session.generate(prompt, Generation.maxTokens(maxTokens).sampler(greedy))
                    .asSequence()
                    .joinToString("") { it.text() }
            }
        }

    @JvmStatic
    fun main(args: Array<String>) {
        require(args.isNotEmpty()) { "usage: KotlinSample MODEL.gguf [PROMPT]" }
        println(complete(Path.of(args[0]), args.getOrElse(1) { "Once upon a time" }, 64))
    }
}
