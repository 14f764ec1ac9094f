#!/usr/bin/env bash
# The viewer in a real browser (tests/browser/viewer_test.mjs), against two
# `mef3pool view` servers on loopback: a generated session with gaps and
# the encrypted golden one, and a copy of the first with a damaged block.  Skips (exit 77) only when chromium is absent.
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
# A copy with one block of ch01 damaged (bytes overwritten in the middle
# of its data: that block's CRC fails, it reads as NaN).
cp -a "$work/gen.mefd" "$work/damaged.mefd"
tdat=$(find "$work/damaged.mefd/ch01.timd" -name '*.tdat')
printf '\x55\xaa\x55\xaa\x55\xaa\x55\xaa' |
  dd of="$tdat" bs=1 seek=$(($(stat -c %s "$tdat") / 2)) conv=notrunc 2>/dev/null
start_view "$work/gen.mefd" "$work/port1"; pid1=$pid
start_view "$golden/sessions/d_encrypted.mefd" "$work/port2"
start_view "$work/damaged.mefd" "$work/port3"
browser_script "$src/tests/browser/viewer_test.mjs"
CHROMIUM=$chromium node "$tools/viewer_test.mjs" test "$(cat "$work/port1.url")" \
  "$(cat "$work/port2.url")" "$out" "$pid1" "$(cat "$work/port3.url")"
echo "screenshots: $out"
