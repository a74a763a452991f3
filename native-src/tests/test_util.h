/* Minimal test harness for the C tests: CHECK records failures, test_finish prints the summary. */
#ifndef FFL_TEST_UTIL_H
#define FFL_TEST_UTIL_H

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

static inline int test_finish(const char *name) {
    printf("%s: %d checks, %d failed\n", name, test_checks, test_failures);
    return test_failures ? 1 : 0;
}

#endif
