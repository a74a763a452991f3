#!/usr/bin/env bash
# Builds the C library and every C test with AddressSanitizer + UndefinedBehaviorSanitizer (gcc)
# in build/sanitize and runs ctest there. Any sanitizer report fails the test that triggered it,
# and any failing test fails this script.
#   FFLAMA_TESTDATA          fixtures (default: ../shared/testdata from the repository root)
#   FFLAMA_TEST_TIMEOUT      seconds allowed per test that sets no TIMEOUT of its own (default 1800)
#   FFLAMA_SANITIZE_JOBS     parallel build and test jobs (default 2)
#   FFLAMA_CTEST_ARGS        extra ctest arguments, e.g. "-R gguf"
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export FFLAMA_TESTDATA="${FFLAMA_TESTDATA:-$root/../shared/testdata}"
build="$root/build/sanitize"
jobs="${FFLAMA_SANITIZE_JOBS:-2}"

log() { echo "sanitize: $*" >&2; }

if [ ! -d "$FFLAMA_TESTDATA" ]; then
  log "test data not found at $FFLAMA_TESTDATA (set FFLAMA_TESTDATA)"
  exit 1
fi
FFLAMA_TESTDATA="$(cd "$FFLAMA_TESTDATA" && pwd)"

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    log "missing $*; install them (apt-get install -y $*) or run as root"
    exit 1
  fi
  log "installing $*"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# The toolchain: cmake, make, gcc/g++ and their sanitizer runtimes (libasan, libubsan come with gcc).
missing=()
for tool in cmake make gcc g++; do command -v "$tool" >/dev/null || missing+=("$tool"); done
[ ${#missing[@]} -eq 0 ] || apt_install cmake make gcc g++ libc6-dev

probe_dir="$(mktemp -d)"
trap 'rm -rf "$probe_dir"' EXIT
echo 'int main(void) { return 0; }' >"$probe_dir/p.c"
if ! gcc -fsanitize=address,undefined "$probe_dir/p.c" -o "$probe_dir/p" 2>/dev/null; then
  gcc_major="$(gcc -dumpversion | cut -d. -f1)"
  apt_install "libgcc-$gcc_major-dev" libasan8 libubsan1
  gcc -fsanitize=address,undefined "$probe_dir/p.c" -o "$probe_dir/p"
fi

# Sanitizer instrumentation makes gcc warn where the plain build does not (false -Wmaybe-uninitialized
# inside libstdc++, for one). The plain build is the -Werror gate; here warnings stay visible but do
# not stop the run: wrappers append -Wno-error after the project's -Werror.
toolchain="$build/toolchain"
if [ -f "$build/CMakeCache.txt" ] && ! grep -q "^CMAKE_C_COMPILER:.*$toolchain/gcc\$" "$build/CMakeCache.txt"; then
  rm -rf "$build" # configured with another compiler: start afresh
fi
mkdir -p "$toolchain"
for cc in gcc g++; do
  printf '#!/bin/sh\nexec %s "$@" -Wno-error\n' "$(command -v "$cc")" >"$toolchain/$cc"
  chmod +x "$toolchain/$cc"
done

cmake -S "$root" -B "$build" \
  -DCMAKE_C_COMPILER="$toolchain/gcc" -DCMAKE_CXX_COMPILER="$toolchain/g++" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DFFLAMA_SANITIZE=ON -DFFLAMA_TESTS=ON -DFFLAMA_FUZZ=OFF >/dev/null
cmake --build "$build" -j "$jobs"

# halt_on_error everywhere: a report is a failure, never a warning that scrolls by.
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1:detect_invalid_pointer_pairs=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-}"

log "running ctest in $build (ASAN_OPTIONS=$ASAN_OPTIONS UBSAN_OPTIONS=$UBSAN_OPTIONS)"
cd "$build"
# shellcheck disable=SC2086
ctest --output-on-failure --no-tests=error -j "$jobs" --timeout "${FFLAMA_TEST_TIMEOUT:-1800}" ${FFLAMA_CTEST_ARGS:-}
