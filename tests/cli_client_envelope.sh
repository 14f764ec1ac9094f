#!/usr/bin/env bash
# `mef3pool client ADDR envelope`: against a real `mef3pool serve` on
# loopback, the csv's columns are the min and max of the same window read
# with `client read` (columns of 128 samples, reduced from the samples),
# f32 holds the same numbers, gaps stay empty, --help and the man page
# name the command, bad arguments are one line and exit 2 (ours) or 1
# (the server's INVALID_ARGUMENT, named).
# Usage: cli_client_envelope.sh MEF3POOL GOLDEN_DIR SCRATCH_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/clitest.bash"
[ -d "$golden/sessions" ] || { echo "no golden data: skipped"; exit 77; }

mkdir root && cp -a "$golden/sessions/a_single_256hz.mefd" \
  "$golden/sessions/c_discontinuities.mefd" root/ || exit 1
"$cli" serve --port 0 --port-file port --root "$work/root" \
  --log-file server.log 2>/dev/null &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
for _ in $(seq 300); do [ -s port ] && break; sleep 0.1; done
addr=127.0.0.1:$(cat port)
c() { "$cli" client "$addr" "$@"; }

c open a_single_256hz.mefd >/dev/null || bad "open"
# 10 s at 256 Hz in 20 columns: 128 samples each, from the samples.
c read a_single_256hz.mefd --start 0s --end 10s --format csv >read.csv
c envelope a_single_256hz.mefd --start 0s --end 10s --columns 20 >env.csv
rc=$?
check '[ $rc -eq 0 ] && [ "$(head -n 1 env.csv)" = "time_uutc,ch01_min,ch01_max" ] && [ "$(wc -l <env.csv)" -eq 21 ]' \
  "envelope csv: rc $rc, $(head -n 2 env.csv)"
awk -F, 'NR > 1 { j = int((NR - 2) / 128); v = $3 + 0;
                  if (!(j in lo) || v < lo[j]) lo[j] = v;
                  if (!(j in hi) || v > hi[j]) hi[j] = v;
                  if (!(j in t)) t[j] = $1 }
         END { print "time_uutc,ch01_min,ch01_max";
               for (j = 0; j < 20; j++) printf "%s,%.9g,%.9g\n", t[j], lo[j], hi[j] }' \
  read.csv >want.csv
check 'cmp -s env.csv want.csv' "envelope csv differs from min/max of the read: $(diff env.csv want.csv)"

# f32: (channels, columns, 2) float32, the same numbers.
c envelope a_single_256hz.mefd --start 0s --end 10s --columns 20 -o env.f32
check '[ "$(stat -c %s env.f32)" -eq 160 ]' "f32 size $(stat -c %s env.f32 2>&1)"
od -An -v -f -w8 env.f32 | awk '{ printf "%.9g,%.9g\n", $1, $2 }' >f32.txt
cut -d, -f2,3 want.csv | tail -n +2 >want_mm.txt
check 'cmp -s f32.txt want_mm.txt' "f32 differs: $(diff f32.txt want_mm.txt)"

# A session with gaps, whole: columns with no sample are empty cells.
c open c_discontinuities.mefd >/dev/null
c envelope c_discontinuities.mefd --channels ch01 --start 0s --end 1h \
  --columns 2000 >gaps.csv
rc=$?
empty=$(grep -c ',,$' gaps.csv)
check '[ $rc -eq 0 ] && [ "$empty" -gt 0 ]' "gaps: rc $rc, $empty empty columns"
c envelope c_discontinuities.mefd --channels ch01 --start 0s --end 1h \
  --columns 50 --format summary >sum.txt
check 'grep -q "^1 channels x [0-9]* columns of [0-9]* samples" sum.txt' \
  "summary: $(cat sum.txt)"

# Bad arguments: ours (exit 2), the server's (exit 1, its words).
c envelope a_single_256hz.mefd --start 0s --end 10s --columns 0 >out 2>err
rc=$?
check '[ $rc -eq 2 ] && grep -q "from 1 to 65536" err' "--columns 0: rc $rc $(cat err)"
c envelope a_single_256hz.mefd --start 10s --end 0s --columns 5 >out 2>err
rc=$?
check '[ $rc -eq 1 ] && grep -q "end_uutc must be greater than start_uutc" err && [ "$(wc -l <err)" -eq 1 ]' \
  "end < start: rc $rc $(cat err)"
c envelope a_single_256hz.mefd --start 0s --end 10s --columns 5 --channels nope >out 2>err
rc=$?
check '[ $rc -ne 0 ] && grep -q "nope" err' "unknown channel: rc $rc $(cat err)"
c envelope a_single_256hz.mefd --start 0s --end 10s >out 2>err
rc=$?
check '[ $rc -eq 2 ] && grep -q -- "--columns" err' "no --columns: rc $rc $(cat err)"

help=$("$cli" client --help)
check '[[ $help == *"envelope PATH"* ]]' "client --help lacks envelope"
man=$(cat "$here/../docs/mef3pool.1")
check '[[ $man == *".B envelope"* ]]' "the man page lacks envelope"

finish
