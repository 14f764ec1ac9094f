#!/usr/bin/env bash
# The reading commands as people and scripts use them: mef3pool info,
# read and records on golden sessions, checked against the golden truth,
# and their errors and exit codes (0 success, 1 failure, 2 usage).
# Usage: cli_reader.sh MEF3POOL GOLDEN_DIR SCRATCH_DIR
set -uo pipefail
. "$(dirname "$0")/clitest.bash"

s=$golden/sessions/b_multi_8ch.mefd
truth=$golden/sessions/b_multi_8ch.truth

# info: text and JSON
"$cli" info "$s" >info.txt 2>err.txt
check '[ $? -eq 0 ] && grep -q "^ch07 .*499.7000" info.txt' "info text lists ch07 at 499.7 Hz"
"$cli" info "$s" --json >info.json
check '$py -c "
import json,sys
j=json.load(open(\"info.json\"))
c={x[\"name\"]:x for x in j[\"channels\"]}
sys.exit(0 if [x[\"name\"] for x in j[\"channels\"]]==sorted(c) and c[\"ch07\"][\"fs\"]==499.7 and c[\"ch08\"][\"start_uutc\"]==1600000000250000 and c[\"ch01\"][\"n_samples\"]==15360 else 1)"' \
  "info --json: order, rate, late start, sample count"

# read: stored samples as raw counts equal the truth
"$cli" read "$s" --channels ch05 --samples 0:60000 --format i32 -o ch05.i32
check '[ $? -eq 0 ] && cmp -s ch05.i32 "$truth/ch05.i32"' "read --samples i32 equals the truth"
# two channels, one after another, each complete
"$cli" read "$s" --channels ch01,ch02 --samples 0:15360 --format i32 -o two.i32
check 'cat "$truth/ch01.i32" "$truth/ch02.i32" | cmp -s - two.i32' "two channels concatenated"
# a time window with a relative start: ch08 starts 0.25 s late, so the
# first 0.25 s of [0 s, 1 s) at 5 kHz are NaN (the int32 sentinel)
"$cli" read "$s" --channels ch08 --start 0s --end 1s --format i32 -o ch08.i32
check '$py -c "
import array,sys
a=array.array(\"i\"); a.frombytes(open(\"ch08.i32\",\"rb\").read())
t=array.array(\"i\"); t.frombytes(open(\"$truth/ch08.i32\",\"rb\").read())
sys.exit(0 if len(a)==5000 and all(x==-2147483648 for x in a[:1250]) and list(a[1250:])==list(t[:3750]) else 1)"' \
  "time read: leading NaN of a late channel, then its samples"
# physical units: f64 = raw x units conversion factor (ch05: 0.25)
"$cli" read "$s" --channels ch05 --samples 0:1000 --format f64 -o ch05.f64
check '$py -c "
import array,sys
a=array.array(\"d\"); a.frombytes(open(\"ch05.f64\",\"rb\").read())
t=array.array(\"i\"); t.frombytes(open(\"$truth/ch05.i32\",\"rb\").read()[:4000])
f=[x[\"units_conversion_factor\"] for x in __import__(\"json\").load(open(\"info.json\"))[\"channels\"] if x[\"name\"]==\"ch05\"][0]
sys.exit(0 if list(a)==[v*f for v in t] else 1)"' "f64 is raw x factor"
# csv header and npy shape
"$cli" read "$s" --channels ch01,ch02 --start 0s --end 0.5s --format csv >w.csv
check '[ "$(head -1 w.csv)" = "\"time_uutc\",\"time_s\",\"ch01\",\"ch02\"" ] && [ $(wc -l <w.csv) -eq 129 ]' "csv: header and 128 rows"
"$cli" read "$s" --channels ch01,ch02 --start 0s --end 0.5s --format npy -o w.npy
check 'head -c 128 w.npy >w.hdr && grep -aq "(2, 128)" w.hdr' "npy shape (2, 128)"
"$cli" read "$s" --channels ch01,ch04 --start 0s --end 1s --format npy -o mixed.npy 2>err.txt
check '[ $? -eq 1 ] && grep -q "equal length" err.txt' "npy refuses unequal lengths"

# records
"$cli" records "$golden/mef3io_golden/with_annotations.mefd" --json >rec.json
check '$py -c "
import json,sys
r=json.load(open(\"rec.json\"))
sys.exit(0 if [(x[\"type\"],x[\"time\"],x[\"text\"]) for x in r]==[(\"Note\",1577836800100000,\"onset\"),(\"Note\",1577836800500000,\"offset\")] else 1)"' \
  "records --json: the two Notes"

# passwords
"$cli" info "$golden/sessions/d_encrypted.mefd" >/dev/null 2>err.txt
check '[ $? -eq 1 ] && [ $(wc -l <err.txt) -eq 1 ] && grep -q MEF3_EPASSWORD err.txt' "no password: one-line error, exit 1"
"$cli" info "$golden/sessions/d_encrypted.mefd" --password l1pass >l1.txt
check 'grep -q "relative" l1.txt' "level-1 password: times relative"

# errors and exit codes
"$cli" info /nonexistent.mefd 2>err.txt
check '[ $? -eq 1 ] && [ $(wc -l <err.txt) -eq 1 ] && grep -q "/nonexistent.mefd" err.txt' "missing session: exit 1, names it"
"$cli" read "$s" --channels nope --start 0s --end 1s -o x.f32 2>err.txt
check '[ $? -eq 1 ] && grep -q "nope" err.txt' "unknown channel: exit 1"
"$cli" read "$s" --start 0s 2>/dev/null
check '[ $? -eq 2 ]' "read without --end: exit 2"
"$cli" read "$s" --samples 5:1 -o x.f32 2>/dev/null
check '[ $? -eq 2 ]' "reversed --samples: exit 2"
"$cli" read "$s" --channels ch01 --samples 0:99999 -o x.f32 2>/dev/null
check '[ $? -eq 1 ]' "samples past the end: exit 1"
"$cli" info 2>/dev/null
check '[ $? -eq 2 ]' "info without a session: exit 2"
"$cli" frobnicate 2>/dev/null
check '[ $? -eq 2 ]' "unknown command: exit 2"
"$cli" read --help >h.txt
check '[ $? -eq 0 ] && grep -q "usage: mef3pool read" h.txt' "read --help"
ver=$("$cli" --version)
grep -q "^mef3pool [0-9]" <<<"$ver"
check '[ $? -eq 0 ]' "--version"

finish
