package dev.fflama;

/**
 * One generated token.
 *
 * @param id      token id
 * @param text    the text this token releases: always valid UTF-8 and never part of a stop string.
 *                It may be empty (an unfinished character or a possible stop string is held back and
 *                released with a later token); the concatenation of all texts is the generated text
 * @param logprob log-probability of the token under the sampler's final distribution
 */
public record Token(int id, String text, float logprob) {}
