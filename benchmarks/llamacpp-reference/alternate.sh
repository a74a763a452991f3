#!/usr/bin/env bash
# Generation (or, with -p, prompt-processing) speed of llama.cpp and fflama taken in turns: round i runs
# llama.cpp's llama-bench (through run.sh) and then `fflama bench`, one repetition each, and the summary
# compares medians and the median of the per-round ratios. On a shared machine the available bandwidth drifts by tens of percent between
# minutes; a ratio of two runs seconds apart is far steadier than two tables taken one after the other.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

usage() {
    cat >&2 <<EOF
usage: $0 [-n N | -p N] [-k ROUNDS] [-t THREADS] MODEL.gguf [MODEL.gguf ...]
  -n N       single-token decode steps per run (default 64: tg64)
  -p N       a prompt of N tokens in one batch instead (ppN)
  -k ROUNDS  rounds of llama.cpp-then-fflama per model (default 6)
  -t N       threads (default 2)
EOF
    exit 2
}

TG=64 PP=0 ROUNDS=6 THREADS=2
while getopts "n:p:k:t:h" opt; do
    case "$opt" in
        n) TG="$OPTARG" ;;
        p) PP="$OPTARG" ;;
        k) ROUNDS="$OPTARG" ;;
        t) THREADS="$OPTARG" ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
[[ "$TG" =~ ^[1-9][0-9]*$ && "$PP" =~ ^[0-9]+$ && "$ROUNDS" =~ ^[1-9][0-9]*$ && "$THREADS" =~ ^[1-9][0-9]*$ ]] || usage
# the test both sides run, and the column of run.sh's summary row that holds its result
if [ "$PP" -gt 0 ]; then TG=0 TEST="pp$PP" COL=4; else TEST="tg$TG" COL=5; fi
for m in "$@"; do
    [ -r "$m" ] || { echo "error: cannot read model $m" >&2; exit 1; }
done

# median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# one streaming read of the 1 GiB probe buffer with the benchmark's threads, GB/s
probe() { "$ROOT/fflama" bench --read-probe 1 -t "$THREADS" 2>/dev/null; }
# a number from fflama bench's JSON
field() { grep -o "\"$1\" *: *[0-9.eE+-]*" | head -n1 | sed 's/.*: *//'; }
# the median of the numbers on stdin with three decimals
median3() { median | awk '{ printf "%.3f", $1 }'; }

header=(model rounds "llama.cpp $TEST median (max)" "fflama $TEST median (max)" "fflama / llama.cpp (median of rounds)")
rule=("--------------------------------" "-----:" "----------------------------" "----------------------------" "-------------")
fmt='| %-32s | %6s | %-28s | %-28s | %-13s |'
if [ "$TG" -gt 0 ]; then
    header+=("llama.cpp paired bw ratio (median)" "fflama paired bw ratio (median)")
    rule+=("-------------" "-------------")
    fmt+=' %-13s | %-13s |'
fi
printf "$fmt\n" "${header[@]}"
printf "$fmt\n" "${rule[@]}"
for m in "$@"; do
    ref=() ours=() ratio=() ref_bw=() ours_bw=()
    for ((i = 0; i < ROUNDS; i++)); do
        before="" after=""
        [ "$TG" -gt 0 ] && before="$(probe)"
        # run.sh's summary row: | file | size | pp "mean ± sd" | tg "mean ± sd" | threads | variant |
        r="$("$HERE/run.sh" -p "$PP" -n "$TG" -r 1 -t "$THREADS" "$m" 2>/dev/null \
            | awk -F'|' -v f="$(basename "$m")" -v c="$COL" '$2 ~ f && $c ~ /±/ { split($c, a, "±"); print a[1] + 0; exit }')"
        [ "$TG" -gt 0 ] && after="$(probe)"
        json="$("$ROOT/fflama" bench -m "$m" -p "$PP" -n "$TG" -t "$THREADS" -r 1 --json 2>/dev/null)"
        o="$(field avg_ts <<<"$json")"
        [ -n "$r" ] && [ -n "$o" ] || { echo "error: round $i on $m produced no number (llama.cpp '$r', fflama '$o')" >&2; exit 1; }
        ref+=("$r") ours+=("$o") ratio+=("$(awk -v a="$o" -v b="$r" 'BEGIN { printf "%.4f", a / b }')")
        if [ "$TG" -gt 0 ]; then
            # llama.cpp's run against the mean of the reads around it; bytes per token as fflama bench counts them
            bytes="$(field model_bytes_per_token <<<"$json")"
            [ -n "$before" ] && [ -n "$after" ] && [ -n "$bytes" ] || { echo "error: round $i on $m: no probe or byte count" >&2; exit 1; }
            ref_bw+=("$(awk -v t="$r" -v b="$bytes" -v p="$before" -v q="$after" 'BEGIN { printf "%.4f", t * b / ((p + q) / 2 * 1e9) }')")
            ours_bw+=("$(field bandwidth_ratio_paired <<<"$json")")
        fi
    done
    rmed="$(printf '%s\n' "${ref[@]}" | median)" rmax="$(printf '%s\n' "${ref[@]}" | sort -g | tail -n1)"
    omed="$(printf '%s\n' "${ours[@]}" | median)" omax="$(printf '%s\n' "${ours[@]}" | sort -g | tail -n1)"
    row=("$(basename "$m")" "$ROUNDS" "$(printf '%.2f (%.2f)' "$rmed" "$rmax")" "$(printf '%.2f (%.2f)' "$omed" "$omax")"
        "$(printf '%s\n' "${ratio[@]}" | median3)")
    [ "$TG" -gt 0 ] && row+=("$(printf '%s\n' "${ref_bw[@]}" | median3)" "$(printf '%s\n' "${ours_bw[@]}" | median3)")
    printf "$fmt\n" "${row[@]}"
done
