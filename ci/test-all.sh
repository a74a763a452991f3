#!/usr/bin/env bash
# Runs every test of the project: the Maven build (CMake build of the core, its C tests via ctest,
# binding conformance, Java API and CLI tests), then the sanitizer build, the fuzz smoke run and the
# emulated AArch64 kernel tests. Exits non-zero on the first failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source ci/find-jdk.sh
export FFLAMA_TESTDATA="${FFLAMA_TESTDATA:-$(cd "$root/.." && pwd)/shared/testdata}"
echo "== JDK: $JAVA_HOME; test data: $FFLAMA_TESTDATA"
if [ ! -f "$FFLAMA_TESTDATA/README.md" ]; then
    echo "error: no test fixtures at $FFLAMA_TESTDATA: check out ../shared beside this clone, or set FFLAMA_TESTDATA" >&2
    exit 1
fi

echo "== Maven build and tests (native build, ctest, JUnit)"
mvn -B -ntp install

for step in sanitize fuzz-smoke cross-aarch64; do
    if [ -f "ci/$step.sh" ]; then
        echo "== ci/$step.sh"
        bash "ci/$step.sh"
    fi
done
echo "== all tests passed"
