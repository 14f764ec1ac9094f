#!/usr/bin/env bash
# The viewer's figures (bench/bench_viewer.mjs) in Debian's chromium, from
# two `mef3pool view` servers on loopback of a generated 16 ch x 1 h
# session at 256 Hz with two gaps (made once, kept in DATA).  The
# session's files are read once first (the OS page cache warm for both
# servers; the servers' own caches start cold).  Shares the browser
# set-up of tests/browser_viewer.sh (tests/browser/browser_env.sh).
# Usage: bench_viewer.sh MEF3POOL SOURCE_DIR TOOLS DATA [--quick]
#   --quick: a 10 min session and 8 pages (a smoke run; figures not
#   meant to be quoted)
set -euo pipefail
cli=$1 src=$2 tools=$3 data=$4 quick=${5:-}
mkdir -p "$data"
work=$(mktemp -d "$data/bench viewer.XXXXXX")
. "$src/tests/browser/browser_env.sh"
browser_env_init "$cli" "$tools" "$src" "$work"
if [ "$quick" = --quick ]; then dur=10m rounds=8; else dur=1h rounds=30; fi
session=$data/viewer-16ch-$dur.mefd
if [ ! -e "$session.done" ]; then # (made whole once: a cut run remakes it)
  rm -rf "$session"
  "$cli" gen "$session" --channels 16 --fs 256 --duration "$dur" --gaps 2 --seed 15 >/dev/null
  touch "$session.done"
fi
find "$session" -type f -exec cat {} + >/dev/null
start_view "$session" "$work/portA"
start_view "$session" "$work/portB"
out=$data/viewer-bench-out
mkdir -p "$out"
browser_script "$src/bench/bench_viewer.mjs"
CHROMIUM=$chromium node "$tools/bench_viewer.mjs" "$(cat "$work/portA.url")" \
  "$(cat "$work/portB.url")" "$out" "$rounds"
