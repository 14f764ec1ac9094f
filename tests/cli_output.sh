#!/usr/bin/env bash
# mef3pool read's output files as people use them: the format from the
# -o file's extension, .npz archives NumPy opens (samples, channel names,
# rates, start times, units), CSV with time columns, and the refusals of
# what a format cannot hold.
# Usage: cli_output.sh MEF3POOL GOLDEN_DIR SCRATCH_DIR
set -uo pipefail
. "$(dirname "$0")/clitest.bash"
if ! $py -c 'import numpy' 2>/dev/null; then
  echo "SKIP: $py has no numpy"
  exit 77
fi

s=$golden/sessions/b_multi_8ch.mefd
c=$golden/sessions/c_discontinuities.mefd
rd() { "$cli" read "$s" "$@"; }

# The extension says the format; --format says it louder.
for f in f32 f64 i32 csv npy npz; do
  rd --channels ch01,ch02 --start 1s --end 2s --format $f >ref.$f
  rd --channels ch01,ch02 --start 1s --end 2s -o "by ext.$f"
  check '[ $? -eq 0 ] && cmp -s ref.$f "by ext.$f"' "-o x.$f writes $f"
done
rd --channels ch01 --start 1s --end 2s -o UP.NPZ
check '$py -c "import numpy as np; np.load(\"UP.NPZ\")[\"data\"]"' \
  "the extension's case does not matter"
rd --channels ch01,ch02 --start 1s --end 2s --format i32 -o over.csv
check 'cmp -s ref.i32 over.csv' "--format wins over the extension"
for o in x.dat x.tar.gz noext .npz dir.npz/x; do
  rd --channels ch01 --start 1s --end 2s -o "$o" >out 2>err
  rc=$?
  check '[ $rc -eq 2 ] && [ $(wc -l <err) -eq 1 ] &&
    grep -q "see \`mef3pool read --help\`" err && [ ! -e "$o" ]' \
    "-o $o without --format: usage error, nothing written: rc $rc, $(cat err)"
done
check 'grep -q "\"\.dat\"" <("$cli" read "$s" --start 1s --end 2s -o x.dat 2>&1)' \
  "the error names the unknown extension"

# npz, one rate: data (channels, samples) float64, equal to the f64
# output, and the metadata members equal to info's.
"$cli" info "$s" --json >info.json
rd --channels ch01,ch02,ch03 --start 1s --end 3s -o one.f64
rd --channels ch01,ch02,ch03 --start 1s --end 3s -o one.npz
check '$py -c "
import json, sys, numpy as np
z = np.load(\"one.npz\")
f = np.fromfile(\"one.f64\", dtype=\"<f8\")
info = {c[\"name\"]: c for c in json.load(open(\"info.json\"))[\"channels\"]}
names = [\"ch01\", \"ch02\", \"ch03\"]
t0 = info[\"ch01\"][\"start_uutc\"] + 1000000
assert sorted(z.files) == sorted([\"data\", \"channels\", \"fs\", \"start_uutc\",
    \"units\", \"units_conversion_factor\"]), z.files
d = z[\"data\"]
assert d.dtype == np.float64 and d.shape == (3, 512), d.shape
assert np.array_equal(d.ravel(), f, equal_nan=True)
assert list(z[\"channels\"]) == names
assert list(z[\"fs\"]) == [info[n][\"fs\"] for n in names]
assert z[\"start_uutc\"].dtype == np.int64 and list(z[\"start_uutc\"]) == [t0] * 3
assert list(z[\"units\"]) == [info[n][\"units\"] for n in names]
assert list(z[\"units_conversion_factor\"]) == [info[n][\"units_conversion_factor\"] for n in names]
"' "npz of one rate: data equals the f64 output, metadata equals info's"

# npz, mixed rates: one member per channel, each equal to that channel's
# f64; no 2-D member pretending to be a grid.  ch08 starts 0.25 s late:
# its first slots are NaN.
rd --channels ch01,ch04,ch08 --start 0s --end 1s -o mixed.npz
for ch in ch01 ch04 ch08; do
  rd --channels $ch --start 0s --end 1s -o $ch.f64
done
check '$py -c "
import numpy as np
z = np.load(\"mixed.npz\")
assert \"data\" not in z.files
for i, (n, fs) in enumerate([(\"ch01\", 256), (\"ch04\", 1000), (\"ch08\", 5000)]):
    d = z[\"data_%d\" % i]
    assert d.shape == (fs,) and z[\"channels\"][i] == n and z[\"fs\"][i] == fs
    assert np.array_equal(d, np.fromfile(n + \".f64\"), equal_nan=True), n
assert np.isnan(z[\"data_2\"][:1250]).all() and not np.isnan(z[\"data_2\"][1250:]).any()
"' "npz of mixed rates: data_0.. equal each channel's f64"

# npz to a pipe: the same bytes as to a file (nothing seeks).
rd --channels ch01,ch04,ch08 --start 0s --end 1s --format npz | cat >piped.npz
check 'cmp -s piped.npz mixed.npz' "npz to a pipe equals npz to a file"

# npz of stored samples: start_uutc is the time of stored sample S0.
"$cli" read "$c" --samples 4998:5003 -o samples.npz
check '$py -c "
import numpy as np
z = np.load(\"samples.npz\")
assert list(z[\"start_uutc\"]) == [1600000004998000, 1600000019992000], list(z[\"start_uutc\"])
assert z[\"data_0\"].shape == (5,) and z[\"data_1\"].shape == (5,)
"' "npz --samples: start_uutc of stored sample S0 per channel"

# CSV: a header, then time_uutc, time_s and the values (equal to f32).
rd --channels ch01,ch02 --start 1s --end 2s -o w.csv
check '$py -c "
import csv, numpy as np
rows = list(csv.reader(open(\"w.csv\")))
assert rows[0] == [\"time_uutc\", \"time_s\", \"ch01\", \"ch02\"], rows[0]
t0 = 1600000001000000
assert len(rows) == 257
f = np.fromfile(\"ref.f32\", dtype=\"<f4\").reshape(2, 256)
for i, r in enumerate(rows[1:]):
    assert int(r[0]) == t0 + int(i * 1e6 / 256 + 0.5), r  # halves up
    assert abs(float(r[1]) - (int(r[0]) - t0) / 1e6) < 5e-7, r
    assert np.float32(r[2]) == f[0, i] and np.float32(r[3]) == f[1, i], r
"' "csv: header, µUTC and seconds columns, values equal to f32"
# Stored samples across a gap: the rows' times jump with it (from the
# golden description of c_discontinuities: sample 5000 of ch02 starts the
# run at 1600000025000000).
"$cli" read "$c" --channels ch02 --samples 4998:5003 -o gap.csv
check '[ "$(cut -d, -f1,2 gap.csv | tr "\n" " ")" = "\"time_uutc\",\"time_s\" 1600000019992000,0.000000 1600000019996000,0.004000 1600000025000000,5.008000 1600000025004000,5.012000 1600000025008000,5.016000 " ]' \
  "csv --samples: each row at its stored sample's time, across the gap: $(cut -d, -f1,2 gap.csv | tr '\n' ' ')"
# NaN slots read as nan.
rd --channels ch08 --start 0s --end 0.001s -o nan.csv
check '[ "$(sed -n 2p nan.csv)" = "1600000000000000,0.000000,nan" ]' "csv: nan where there is no sample"

# What CSV and npy cannot hold is refused, before anything is written.
rd --channels ch01,ch04 --start 0s --end 1s -o rates.csv 2>err
rc=$?
check '[ $rc -eq 1 ] && [ $(wc -l <err) -eq 1 ] && grep -q "npz" err &&
  [ ! -e rates.csv ]' "csv of mixed rates refused: rc $rc, $(cat err)"
# Two channels at one rate whose stored samples lie at different times.
"$cli" gen early.mefd --channels 1 --fs 100 --duration 5s >/dev/null
"$cli" gen late.mefd --channels 2 --fs 100 --duration 5s --start 1s >/dev/null
cp -r late.mefd/ch02.timd early.mefd/
"$cli" read early.mefd --samples 0:3 -o times.csv 2>err
rc=$?
check '[ $rc -eq 1 ] && [ $(wc -l <err) -eq 1 ] && grep -q "different times" err &&
  [ ! -e times.csv ]' "csv --samples of channels at other times refused: rc $rc, $(cat err)"
"$cli" read early.mefd --start 0s --end 2s -o times.csv
check '[ $? -eq 0 ] && [ $(wc -l <times.csv) -eq 201 ]' "... and read by time"
rd --channels ch01,ch04 --start 0s --end 1s -o lens.npy 2>err
rc=$?
check '[ $rc -eq 1 ] && grep -q "equal length" err && [ ! -e lens.npy ]' \
  "npy of unequal lengths refused before writing: rc $rc"

# `client read` writes the same files, through the server: the format from
# the extension, and for ch01 (integer counts, factor 1: float32 exact)
# byte for byte what `read` writes of the same window (ch01: counts x 1,
# exact in float32).
"$cli" serve --port 0 --port-file port --root "$golden/sessions" \
  --reader-processes 2 --prefetch-processes 1 2>server.log &
spid=$!
trap 'kill -TERM $spid 2>/dev/null' EXIT
for _ in $(seq 300); do [ -s port ] && break; sleep 0.1; done
addr=127.0.0.1:$(cat port)
"$cli" client "$addr" open b_multi_8ch.mefd >/dev/null
# (f64 and npz of ch02 would differ: x0.1 is exact in double, not in the
# server's float32)
for f in f32 f64 csv npy npz; do
  rd --channels ch01 --start 1s --end 2s --format $f >direct.$f
  "$cli" client "$addr" read b_multi_8ch.mefd --channels ch01 \
    --start 1s --end 2s -o "served.$f"
  check '[ $? -eq 0 ] && cmp -s direct.$f served.$f' \
    "client read -o x.$f equals read --format $f"
done
"$cli" client "$addr" read b_multi_8ch.mefd --start 1s --end 2s -o x.i32 2>err
rc=$?
check '[ $rc -eq 2 ] && grep -q "no i32" err && [ ! -e x.i32 ]' \
  "client read -o x.i32 refused (the server sends float32): rc $rc"
"$cli" client "$addr" read b_multi_8ch.mefd --start 1s --end 2s -o x.dat 2>err
rc=$?
check '[ $rc -eq 2 ] && grep -q "unknown extension" err' \
  "client read -o x.dat refused: rc $rc"
kill -TERM $spid
wait $spid
trap - EXIT

finish
