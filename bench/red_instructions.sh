#!/usr/bin/env bash
# Instructions per sample of the RED decoders, counted by callgrind (stable
# on a shared machine, where times are not): one pass of bench_red --only
# MODE, counting only inside the decode loop of the benchmark (run_base or
# run_ours, so neither loading the blocks nor generating the session
# counts).  MODE: base, base-i32 (spec-plain: the specification's plain
# decoder, f32 or int32 out), ours, ours-i32.
# Usage: bench/red_instructions.sh BUILD_DIR [SESSION.mefd] [MODE...]
set -euo pipefail
build=${1:?usage: red_instructions.sh BUILD_DIR [SESSION] [MODE...]}
shift
session=
if [ $# -gt 0 ] && [ -d "$1" ]; then
  session=$1
  shift
fi
modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(base base-i32 ours ours-i32)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for m in "${modes[@]}"; do
  fn=run_ours
  case $m in base*) fn=run_base ;; esac
  log=$(valgrind --tool=callgrind --toggle-collect="$fn" \
    --callgrind-out-file="$out/cg.$m" "$build/bench/bench_red" --only "$m" \
    ${session:+"$session"} 2>&1)
  ir=$(printf '%s\n' "$log" | sed -n 's/.*I *refs: *//p' | tr -d ,)
  samples=$(printf '%s\n' "$log" | sed -n 's/.* blocks, \([0-9]*\) samples.*/\1/p')
  awk -v m="$m" -v ir="$ir" -v n="$samples" 'BEGIN {
    printf "red %-9s %14.0f instructions, %9d samples: %6.2f per sample\n",
           m, ir, n, ir / n }'
done
