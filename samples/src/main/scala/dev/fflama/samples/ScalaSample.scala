package dev.fflama.samples

import dev.fflama.{Generation, Model, Sampler, SessionOptions}
import java.nio.file.Path
import scala.jdk.CollectionConverters.*
import scala.util.Using

/** fflama from Scala 3: builders, Using for AutoCloseable, the token stream as a Scala iterator. */
object ScalaSample:
  def complete(model: Path, prompt: String, maxTokens: Int): String =
    Using.Manager { use =>
      val m = use(Model.load(model))
      val session = use(m.newSession(SessionOptions.builder().contextSize(512).build()))
      val greedy = Sampler.builder().temperature(0f).build()
      session.generate(prompt, Generation.maxTokens(maxTokens).sampler(greedy)).asScala.map(_.text).mkString
    }.get

  def main(args: Array[String]): Unit =
    require(args.nonEmpty, "usage: ScalaSample MODEL.gguf [PROMPT]")
    println(complete(Path.of(args(0)), args.lift(1).getOrElse("Once upon a time"), 64))
