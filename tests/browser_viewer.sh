#!/usr/bin/env bash
# The viewer in a real browser (tests/browser/viewer_test.mjs), against two
# `mef3pool view` servers on loopback: a generated session with gaps and
# the encrypted golden one.  Skips (exit 77) only when chromium is absent.
# Screenshots go to OUT (the build's tests/tmp/browser-artifacts).
# Usage: browser_viewer.sh MEF3POOL GOLDEN TMP TOOLS SOURCE_DIR
set -euo pipefail
cli=$1 golden=$2 tmp=$3 tools=$4 src=$5
out="$tmp/browser-artifacts"
mkdir -p "$out"
work=$(mktemp -d "$tmp/browser viewer.XXXXXX")
. "$src/tests/browser/browser_env.sh"
browser_env_init "$cli" "$tools" "$src" "$work"
"$cli" gen "$work/gen.mefd" --channels 8 --fs 256 --duration 10m --gaps 2 --seed 3 >/dev/null
start_view "$work/gen.mefd" "$work/port1"; pid1=$pid
start_view "$golden/sessions/d_encrypted.mefd" "$work/port2"
browser_script "$src/tests/browser/viewer_test.mjs"
CHROMIUM=$chromium node "$tools/viewer_test.mjs" test "$(cat "$work/port1.url")" \
  "$(cat "$work/port2.url")" "$out" "$pid1"
echo "screenshots: $out"
