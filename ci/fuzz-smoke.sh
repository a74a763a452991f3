#!/usr/bin/env bash
# Builds the libFuzzer targets (native-src/tests/fuzz/fuzz_*.c) with clang, ASan and UBSan in
# build/fuzz, and runs each for a short while, seeded from the test fixtures: the real files
# (cut to -max_len by libFuzzer) and small valid files made from them by gguf_seeds. The corpus
# lives under build/fuzz and is made afresh each run, never in the repository.
#   FFLAMA_TESTDATA       fixtures (default: ../shared/testdata from the repository root)
#   FFLAMA_FUZZ_SECONDS   run time per target (default 60)
#   FFLAMA_FUZZ_MAX_LEN   largest input in bytes (default 65536)
# Exits non-zero when the build fails or a target finds a crash, leak, hang or sanitizer report;
# the reproducer is left in build/fuzz/artifacts/.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export FFLAMA_TESTDATA="${FFLAMA_TESTDATA:-$root/../shared/testdata}"
build="$root/build/fuzz"
seconds="${FFLAMA_FUZZ_SECONDS:-60}"
max_len="${FFLAMA_FUZZ_MAX_LEN:-65536}"

log() { echo "fuzz-smoke: $*" >&2; }

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

missing=()
for tool in cmake make; do command -v "$tool" >/dev/null || missing+=("$tool"); done
[ ${#missing[@]} -eq 0 ] || apt_install cmake make
command -v clang >/dev/null && command -v clang++ >/dev/null || apt_install clang libc6-dev

# libFuzzer ships in libclang-rt-<major>-dev on Debian 12 (clang 14); probe before installing.
probe_dir="$(mktemp -d)"
trap 'rm -rf "$probe_dir"' EXIT
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe_dir/p.c"
if ! clang -fsanitize=fuzzer,address,undefined "$probe_dir/p.c" -o "$probe_dir/p" 2>/dev/null; then
  clang_major="$(clang -dumpversion | cut -d. -f1)"
  apt_install "libclang-rt-$clang_major-dev"
  clang -fsanitize=fuzzer,address,undefined "$probe_dir/p.c" -o "$probe_dir/p"
fi
symbolizer="$(command -v llvm-symbolizer || ls /usr/bin/llvm-symbolizer-* /usr/lib/llvm-*/bin/llvm-symbolizer 2>/dev/null | head -n1 || true)"

# The whole library is instrumented for coverage and sanitizers, not just the target file.
san="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
# clang warns about things gcc does not; the plain gcc build is the -Werror gate, so here warnings
# stay visible but do not stop the fuzzing: wrappers append -Wno-error after the project's -Werror.
toolchain="$build/toolchain"
if [ -f "$build/CMakeCache.txt" ] && ! grep -q "^CMAKE_C_COMPILER:.*$toolchain/clang\$" "$build/CMakeCache.txt"; then
  rm -rf "$build" # configured with another compiler: start afresh
fi
mkdir -p "$toolchain"
for cc in clang clang++; do
  printf '#!/bin/sh\nexec %s "$@" -Wno-error\n' "$(command -v "$cc")" >"$toolchain/$cc"
  chmod +x "$toolchain/$cc"
done
cmake -S "$root" -B "$build" \
  -DCMAKE_C_COMPILER="$toolchain/clang" -DCMAKE_CXX_COMPILER="$toolchain/clang++" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DFFLAMA_FUZZ=ON -DFFLAMA_TESTS=OFF -DFFLAMA_SANITIZE=OFF \
  -DCMAKE_C_FLAGS="$san" -DCMAKE_CXX_FLAGS="$san" >/dev/null

targets=()
for src in "$root"/native-src/tests/fuzz/fuzz_*.c; do
  [ -e "$src" ] || continue
  targets+=("$(basename "$src" .c)")
done
if [ ${#targets[@]} -eq 0 ]; then
  log "no fuzz targets found in native-src/tests/fuzz"
  exit 1
fi
# Only the static library and the targets: the shared library cannot link the sanitizer runtimes here.
cmake --build "$build" -j 2 --target fflama_static "${targets[@]}"

# Seeds: the fixtures themselves and shrunk valid copies of them.
seeds="$build/seeds"
rm -rf "$seeds" "$build/corpus"
mkdir -p "$seeds/raw" "$seeds/small" "$build/artifacts"
fixtures=()
while IFS= read -r -d '' f; do fixtures+=("$f"); done < <(find "$FFLAMA_TESTDATA" -name '*.gguf' -type f -print0 | sort -z)
if [ ${#fixtures[@]} -eq 0 ]; then
  log "no .gguf fixtures under $FFLAMA_TESTDATA"
  exit 1
fi
for f in "${fixtures[@]}"; do ln -s "$f" "$seeds/raw/$(basename "$f")"; done
clang $san -fsanitize=address,undefined -std=gnu11 \
  -I"$root/native-src/include" -I"$root/native-src/src" \
  "$root/native-src/tests/fuzz/gguf_seeds.c" "$build/libfflama_static.a" -lpthread -lm -o "$build/gguf_seeds"
ASAN_OPTIONS=detect_leaks=1 "$build/gguf_seeds" "$seeds/small" "${fixtures[@]}"
log "seeds: ${#fixtures[@]} fixtures, $(find "$seeds/small" -type f | wc -l) small files"

export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:allocator_may_return_null=1${symbolizer:+:external_symbolizer_path=$symbolizer}${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

status=0
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  mkdir -p "$corpus"
  log "running $t for ${seconds}s (max_len $max_len)"
  set +e
  "$build/$t" "$corpus" "$seeds/small" "$seeds/raw" \
    -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" >"$build/$t.log" 2>&1
  rc=$?
  set -e
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/$t.log" | tail -n1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$build/$t.log" | tail -n1)"
  cov="$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$build/$t.log" | tail -n1 || true)"
  if [ "$rc" -ne 0 ]; then
    tail -n 60 "$build/$t.log" >&2
    log "$t FAILED (exit $rc); reproducer in $build/artifacts/, full log $build/$t.log"
    status=1
  else
    echo "fuzz-smoke: $t: ${execs:-?} executions, ${rate:-?} exec/s, ${cov:-no coverage line}, corpus $(find "$corpus" -type f | wc -l) files"
  fi
done
exit "$status"
