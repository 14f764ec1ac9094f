#!/usr/bin/env bash
# The main job on a built-in default: build mef3pool, then show what it
# does on a MEF 3.0 session.  Usage: scripts/demo.sh [SESSION.mefd]
# Without an argument it uses a golden session from ../shared/golden.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
bin=build/mef3pool
session=${1:-../shared/golden/sessions/b_multi_8ch.mefd}
echo "== mef3pool info $session"
$bin info "$session"
echo
echo "== the first 10 ms of every channel (CSV, physical units)"
$bin read "$session" --start 0s --end 0.01s --format csv
echo
echo "== records"
$bin records "$session"
