#!/usr/bin/env bash
# The CLI as a user types it: one time syntax for every command (µUTC,
# ISO 8601 UTC, relative with units or hh:mm:ss), the note for a window
# wholly outside the recording, --channels with spaces, an unknown
# channel's error naming the channels there are, and usage errors of one
# line pointing at `mef3pool CMD --help`.
# Usage: cli_times.sh MEF3POOL GOLDEN_DIR SCRATCH_DIR
set -uo pipefail
. "$(dirname "$0")/clitest.bash"

s=$golden/sessions/b_multi_8ch.mefd # starts at 1600000000000000 µUTC
rd() { "$cli" read "$s" --channels ch01 --format i32 "$@"; }

# One window, written six ways: the same samples.
rd --start 1600000000500000 --end 1600000002000000 -o abs.i32
check '[ $(stat -c %s abs.i32) -eq $((384 * 4)) ]' "µUTC window: 1.5 s at 256 Hz"
i=0
for a in "2020-09-13T12:26:40.5Z 2020-09-13T12:26:42Z" \
  "2020-09-13T12:26:40.500000Z 2020-09-13T14:26:42+02:00" \
  "500ms 2s" "00:00:00.5 00:00:02" "500000us 0.0333333333333333333m" \
  "2020-09-13 12:26:40.5 2s"; do
  set -- $a
  [ $# -eq 3 ] && set -- "$1 $2" "$3"
  i=$((i + 1))
  rd --start "$1" --end "$2" -o w$i.i32 2>err$i.txt
  check 'cmp -s abs.i32 w$i.i32 && [ ! -s err$i.txt ]' "times \"$1\" \"$2\" read the µUTC window"
done
# Relative times before the start, and hours past 23
rd --start -1s --end 0.5s -o before.i32 2>err.txt
check '[ $(stat -c %s before.i32) -eq 1536 ] && [ ! -s err.txt ]' "-1s..0.5s: 384 slots, no note"
rd --start -1s --end 0s -o before.i32 2>err.txt
check '[ $(stat -c %s before.i32) -eq 1024 ] && grep -q "outside the recording" err.txt' "-1s..0s: ends where the recording starts: a note"
"$cli" read "$s" --channels ch01 --start 25:00:00 --end 25:00:01 -o late.f32 2>err.txt
check '[ $? -eq 0 ] && [ $(wc -l <err.txt) -eq 1 ] && grep -q "outside the recording" err.txt' "25:00:00 is relative and outside"
for t in 2020-13-01T00:00:00Z 2020-02-30T00:00:00Z 2020-09-13T24:00:00Z 10x 0x10s 1:2:3 nan s ""; do
  "$cli" read "$s" --channels ch01 --start "$t" --end 1s -o x.f32 2>err.txt
  check '[ $? -eq 2 ] && [ $(wc -l <err.txt) -eq 1 ] && grep -q "ISO 8601" err.txt' "bad time \"$t\": exit 2, one line naming the forms"
done

# A window wholly outside: NaN, exit 0, one note naming the span.
rd --start 5 --end 4000000 -o out.i32 2>err.txt
check '[ $? -eq 0 ] && [ $(wc -l <err.txt) -eq 1 ] &&
  grep -q "outside the recording (2020-09-13T12:26:40Z to 2020-09-13T12:27:40Z, µUTC 1600000000000000 to 1600000060000000)" err.txt' \
  "outside window: one note with the recording's span"
check '$py -c "
import array,sys
a=array.array(\"i\"); a.frombytes(open(\"out.i32\",\"rb\").read())
sys.exit(0 if len(a)==1024 and set(a)=={-2147483648} else 1)"' "outside window: all NaN"
rd --start 59s --end 61s -o edge.i32 2>err.txt
check '[ $? -eq 0 ] && [ ! -s err.txt ]' "a window overlapping the end: no note"
# A huge window (µUTC taken for seconds): an error, not an allocation.
rd --start 5 --end 1s -o big.i32 2>err.txt
check '[ $? -eq 1 ] && [ $(wc -l <err.txt) -eq 1 ] && grep -q "plain integer time is µUTC" err.txt' \
  "absurd window: one-line error"

# --channels: spaces trimmed; an unknown name lists what there is.
"$cli" read "$s" --channels " ch01 , ch02 " --samples 0:100 --format i32 -o sp.i32
"$cli" read "$s" --channels ch01,ch02 --samples 0:100 --format i32 -o nosp.i32
check 'cmp -s sp.i32 nosp.i32' "--channels \" ch01 , ch02 \" is ch01,ch02"
"$cli" read "$s" --channels "ch01,eeg9" --samples 0:10 -o x.f32 2>err.txt
check '[ $? -eq 1 ] && [ $(wc -l <err.txt) -eq 1 ] &&
  grep -q "no channel named \"eeg9\"; it has 8: ch01, ch02, ch03, ch04, ch05, ch06, ch07, ch08$" err.txt' \
  "unknown channel: the 8 there are"
"$cli" gen g20.mefd --channels 20 --fs 100 --duration 2s >/dev/null
"$cli" read g20.mefd --channels ch21 --samples 0:10 -o x.f32 2>err.txt
check '[ $? -eq 1 ] && grep -q "it has 20: ch01, ch02, ch03, ch04, ch05, ch06, ch07, ch08, \.\.\.$" err.txt' \
  "unknown channel of 20: the first few and the count"

# gen --start takes the same times.
"$cli" gen iso.mefd --channels 1 --fs 100 --duration 1s --start 2022-03-01T08:00:00.25Z >/dev/null
"$cli" gen rel.mefd --channels 1 --fs 100 --duration 1s --start 1h >/dev/null
"$cli" gen num.mefd --channels 1 --fs 100 --duration 1s --start 1700000000000000 >/dev/null
check '$py -c "
import json,subprocess,sys
st=lambda p: json.loads(subprocess.check_output([\"$cli\",\"info\",p,\"--json\"]))[\"channels\"][0][\"start_uutc\"]
sys.exit(0 if (st(\"iso.mefd\"),st(\"rel.mefd\"),st(\"num.mefd\"))==(1646121600250000,1609459200000000+3600000000,1700000000000000) else 1)"' \
  "gen --start: ISO, relative to the default, µUTC"
"$cli" gen bad.mefd --channels 1 --fs 100 --duration 1s --start yesterday 2>err.txt
check '[ $? -eq 2 ] && [ $(wc -l <err.txt) -eq 1 ] && [ ! -e bad.mefd ]' "gen --start yesterday: usage error"

# Usage errors: one line, pointing at the command's --help.
usage_err() { # CMD-FOR-HINT ARGS...
  local hint=$1
  shift
  "$cli" "$@" >out.txt 2>err.txt
  local rc=$?
  if [ $rc -eq 2 ] && [ $(wc -l <err.txt) -eq 1 ] && [ ! -s out.txt ] &&
    grep -q "; see \`mef3pool $hint--help\`$" err.txt && ! grep -q "usage:" err.txt; then ok
  else bad "usage error of \"$*\": rc $rc, $(wc -l <err.txt) lines: $(head -c 300 err.txt)"; fi
}
usage_err "" 
usage_err "" frobnicate
usage_err "read " read
usage_err "read " read "$s" --start 0s
usage_err "read " read "$s" --bogus
usage_err "info " info
usage_err "info " info "$s" --bogus
usage_err "records " records
usage_err "gen " gen
usage_err "gen " gen x.mefd --channels 1
usage_err "serve " serve --bogus
usage_err "client " client
usage_err "client " client 127.0.0.1:1 frob
usage_err "client " client 127.0.0.1:1 read PATH --start 0s

finish
