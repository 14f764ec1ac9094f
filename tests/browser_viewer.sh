#!/usr/bin/env bash
# The viewer in a real browser (tests/browser/viewer_test.mjs), against two
# `mef3pool view` servers on loopback: a generated session with gaps and
# the encrypted golden one.  Skips (exit 77) only when chromium is absent.
# Screenshots go to OUT (the build's tests/tmp/browser-artifacts).
# Usage: browser_viewer.sh MEF3POOL GOLDEN TMP TOOLS SOURCE_DIR
set -euo pipefail
cli=$1 golden=$2 tmp=$3 tools=$4 src=$5
chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "SKIP: no chromium at $chromium (apt-get install chromium)"
  exit 77
fi
if [ ! -d "$tools/node_modules/playwright-core" ]; then
  "$src/scripts/browser-tools.sh" "$tools" ||
    { echo "cannot install playwright-core into $tools (run scripts/browser-tools.sh)"; exit 1; }
fi
out="$tmp/browser-artifacts"
mkdir -p "$out"
work=$(mktemp -d "$tmp/browser viewer.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
"$cli" gen "$work/gen.mefd" --channels 8 --fs 256 --duration 10m --gaps 2 --seed 3 >/dev/null
start_view() { # session, port file -> pid in $pid
  "$cli" view "$1" --port-file "$2" >"$2.url" 2>"$2.log" &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do [ -s "$2" ] && return 0; sleep 0.1; done
  echo "view did not start: $(cat "$2.log")"; exit 1
}
start_view "$work/gen.mefd" "$work/port1"; pid1=$pid
start_view "$golden/sessions/d_encrypted.mefd" "$work/port2"
cp "$src/tests/browser/viewer_test.mjs" "$tools/viewer_test.mjs"
CHROMIUM=$chromium node "$tools/viewer_test.mjs" test "$(cat "$work/port1.url")" \
  "$(cat "$work/port2.url")" "$out" "$pid1"
echo "screenshots: $out"
