#!/usr/bin/env bash
# Measures real llama.cpp on this machine with its own llama-bench, so fflama's numbers can be compared
# with numbers taken in the same session. A measuring aid only: not part of the build, never run by CI.
#
# The prebuilt llama.cpp CPU libraries come from the npm package @node-llama-cpp/linux-x64; llama-bench
# is compiled from the llama.cpp sources of that exact build, which node-llama-cpp ships as a git bundle.
# Everything is installed once into a cache directory outside the repository.
set -euo pipefail

NLC_VERSION=3.22.1
CACHE_ROOT="${FFLAMA_LLAMACPP_REF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fflama/llamacpp-ref}"
INSTALL="$CACHE_ROOT/$NLC_VERSION"

usage() {
    cat >&2 <<EOF
usage: $0 [-p N] [-n N] [-r N] [-t N] MODEL.gguf [MODEL.gguf ...]
  -p N  prompt tokens, one batch into an empty context (default 512: pp512)
  -n N  single-token decode steps (default 128: tg128)
  -r N  repetitions, reported as mean ± stddev (default 3)
  -t N  threads (default 2)
env: LLAMACPP_CPU_VARIANT=haswell|skylakex|zen4|...  force one ggml CPU variant instead of the best one
     FFLAMA_LLAMACPP_REF_CACHE=DIR                     cache directory (default ~/.cache/fflama/llamacpp-ref)
EOF
    exit 2
}

PP=512 TG=128 REPS=3 THREADS=2
while getopts "p:n:r:t:h" opt; do
    case "$opt" in
        p) PP="$OPTARG" ;;
        n) TG="$OPTARG" ;;
        r) REPS="$OPTARG" ;;
        t) THREADS="$OPTARG" ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
for m in "$@"; do
    [ -r "$m" ] || { echo "error: cannot read model $m" >&2; exit 1; }
done

install_llamacpp() {
    for tool in npm g++ git tar; do
        command -v "$tool" >/dev/null || { echo "error: '$tool' is needed for the first-time install" >&2; exit 1; }
    done
    echo "installing llama.cpp reference (node-llama-cpp $NLC_VERSION prebuilt) into $INSTALL ..." >&2
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm pack --silent "node-llama-cpp@$NLC_VERSION" "@node-llama-cpp/linux-x64@$NLC_VERSION" >/dev/null)
    mkdir -p "$tmp/prebuilt" "$tmp/wrapper"
    tar xzf "$tmp/node-llama-cpp-linux-x64-$NLC_VERSION.tgz" -C "$tmp/prebuilt"
    tar xzf "$tmp/node-llama-cpp-$NLC_VERSION.tgz" -C "$tmp/wrapper" \
        package/llama/gitRelease.bundle package/llama/llama.cpp.info.json
    git -c advice.detachedHead=false clone -q "$tmp/wrapper/package/llama/gitRelease.bundle" "$tmp/src"

    local stage="$INSTALL.partial"
    rm -rf "$stage"
    mkdir -p "$stage/bin"
    cp "$tmp/prebuilt/package/bins/linux-x64/"* "$stage/bin/"
    cp "$tmp/wrapper/package/llama/llama.cpp.info.json" "$stage/"
    # Only the benchmark driver is compiled here; every kernel it times lives in the prebuilt libraries.
    local s="$tmp/src"
    g++ -std=c++17 -O2 -DNDEBUG -pthread \
        -I"$s/include" -I"$s/ggml/include" -I"$s/common" -I"$s/vendor" -I"$s/tools/llama-bench" \
        "$s/tools/llama-bench/main.cpp" "$s/tools/llama-bench/llama-bench.cpp" -o "$stage/bin/llama-bench" \
        -L"$stage/bin" -l:libllama-common.so -l:libllama.v0.5.0.so -l:libggml.v0.5.0.so -l:libggml-base.so \
        -Wl,-rpath,'$ORIGIN'
    "$stage/bin/llama-bench" --version >"$stage/version.txt" 2>&1
    rm -rf "$INSTALL"
    mv "$stage" "$INSTALL"
}

[ -x "$INSTALL/bin/llama-bench" ] || install_llamacpp

# ggml picks the best CPU variant among the libggml-cpu-*.so next to the executable; to force one, run a
# hard-linked copy from a directory holding only that variant.
BIN="$INSTALL/bin"
if [ -n "${LLAMACPP_CPU_VARIANT:-}" ]; then
    [ -f "$BIN/libggml-cpu-$LLAMACPP_CPU_VARIANT.so" ] || { echo "error: no CPU variant $LLAMACPP_CPU_VARIANT in $BIN" >&2; exit 1; }
    VDIR="$INSTALL/only-$LLAMACPP_CPU_VARIANT"
    if [ ! -x "$VDIR/llama-bench" ]; then
        mkdir -p "$VDIR"
        for f in llama-bench libllama-common.so libllama.v0.5.0.so libggml.v0.5.0.so libggml-base.so \
                 "libggml-cpu-$LLAMACPP_CPU_VARIANT.so"; do
            ln -f "$BIN/$f" "$VDIR/$f" 2>/dev/null || cp "$BIN/$f" "$VDIR/$f"
        done
    fi
    BIN="$VDIR"
fi

# CPU use over 2 s from /proc/stat (the load average lags by a minute).
cpu_times() { awk '/^cpu / { print $2 + $3 + $4 + $5 + $6 + $7 + $8, $5 + $6 }' /proc/stat; }
read -r total0 idle0 < <(cpu_times); sleep 2; read -r total1 idle1 < <(cpu_times)
busy=$(( 100 - 100 * (idle1 - idle0) / (total1 - total0 > 0 ? total1 - total0 : 1) ))
if [ "$busy" -gt 10 ]; then
    echo "warning: the CPUs are ${busy}% busy with other work; that will distort the numbers" >&2
fi

RUN_DIR="$CACHE_ROOT/runs/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$RUN_DIR"
args=()
for m in "$@"; do args+=(-m "$(realpath "$m")"); done
echo "running llama-bench: pp$PP tg$TG, $THREADS threads, $REPS repetitions, ${#} model(s) ..." >&2
# Run from the binary's directory so no stray libggml-cpu-*.so in the caller's directory is picked up.
(cd "$BIN" && ./llama-bench "${args[@]}" -p "$PP" -n "$TG" -r "$REPS" -t "$THREADS" -o jsonl -oe md) \
    >"$RUN_DIR/results.jsonl" 2>"$RUN_DIR/llama-bench.log" \
    || { cat "$RUN_DIR/llama-bench.log" >&2; echo "error: llama-bench failed (log: $RUN_DIR/llama-bench.log)" >&2; exit 1; }

variant="$(sed -n 's|.*loaded CPU backend from .*/libggml-cpu-\(.*\)\.so.*|\1|p' "$RUN_DIR/llama-bench.log" | head -n1)"
echo "llama.cpp: $(sed -n 's/^version: //p' "$INSTALL/version.txt"), prebuilt by node-llama-cpp $NLC_VERSION"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), ggml CPU variant: ${variant:-unknown}"
echo
echo "llama-bench output:"
grep '^|' "$RUN_DIR/llama-bench.log"
echo
# One row per model from the JSON lines (mawk-compatible: plain regex field extraction).
awk -v variant="${variant:-?}" -v pp="$PP" -v tg="$TG" '
    function field(name,   re) {
        re = "\"" name "\": (\"[^\"]*\"|[-0-9.eE+]+)"
        if (!match($0, re)) return ""
        v = substr($0, RSTART + length(name) + 4, RLENGTH - length(name) - 4)
        gsub(/"/, "", v)
        return v
    }
    function human(bytes) {
        bytes += 0
        return bytes >= 1073741824 ? sprintf("%.2f GiB", bytes / 1073741824) : sprintf("%.1f MiB", bytes / 1048576)
    }
    {
        file = field("model_filename"); sub(/.*\//, "", file)
        if (!(file in seen)) { seen[file] = 1; order[++n] = file }
        size[file] = human(field("model_size")); threads[file] = field("n_threads")
        cell = sprintf("%.2f ± %.2f", field("avg_ts"), field("stddev_ts"))
        if (field("n_gen") + 0 == 0) ppres[file] = cell; else tgres[file] = cell
    }
    END {
        # the data format is one byte wider in the t/s columns: "±" is two bytes in one column
        fmt = "| %-32s | %10s | %18s | %18s | %7s | %-10s |\n"
        dfmt = "| %-32s | %10s | %19s | %19s | %7s | %-10s |\n"
        printf fmt, "model", "size", "pp" pp " t/s", "tg" tg " t/s", "threads", "variant"
        printf fmt, "--------------------------------", "---------:", "-----------------:", "-----------------:", "------:", "----------"
        for (i = 1; i <= n; i++) {
            f = order[i]
            printf dfmt, f, size[f], (f in ppres ? ppres[f] : "-"), (f in tgres ? tgres[f] : "-"), threads[f], variant
        }
    }' "$RUN_DIR/results.jsonl"
echo
echo "raw results: $RUN_DIR"
