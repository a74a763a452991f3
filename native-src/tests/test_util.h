/* Minimal test harness for the C tests: CHECK records failures, test_finish prints the summary. */
#ifndef FFL_TEST_UTIL_H
#define FFL_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_checks = 0, test_failures = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        test_checks++;                                                               \
        if (!(cond)) {                                                               \
            test_failures++;                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_MSG(cond, ...)                                                         \
    do {                                                                             \
        test_checks++;                                                               \
        if (!(cond)) {                                                               \
            test_failures++;                                                         \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
        }                                                                            \
    } while (0)

/* Folder of the shared fixtures: $FFLAMA_TESTDATA, else ../shared/testdata from the repo root. */
static inline const char *testdata_dir(void) {
    const char *env = getenv("FFLAMA_TESTDATA");
    return env && *env ? env : "../shared/testdata";
}

/* Writes "<testdata>/<rel>" into buf. */
static inline const char *testdata_path(char *buf, size_t cap, const char *rel) {
    snprintf(buf, cap, "%s/%s", testdata_dir(), rel);
    return buf;
}

/* Seeded xorshift64 for test data: the same sequence on every run and machine. */
static inline uint64_t test_rng_next(void) {
    static uint64_t state = 0x9E3779B97F4A7C15ull;
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}
static inline uint32_t test_rnd32(void) { return (uint32_t)(test_rng_next() >> 16); }
/* Uniform in [lo, hi) with 24 random bits. */
static inline float test_rndf(float lo, float hi) {
    return lo + (hi - lo) * (float)(test_rnd32() & 0xFFFFFF) / 16777216.0f;
}

static inline int test_finish(const char *name) {
    printf("%s: %d checks, %d failed\n", name, test_checks, test_failures);
    return test_failures ? 1 : 0;
}

#endif
