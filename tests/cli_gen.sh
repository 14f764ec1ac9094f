#!/usr/bin/env bash
# mef3pool gen as a user runs it: many channels under a low descriptor
# limit, nothing left behind by a failure, and gaps placed as asked or
# refused as a usage error.
# Usage: cli_gen.sh MEF3POOL GOLDEN_DIR SCRATCH_DIR
set -uo pipefail
cli=$1 golden=$2 tmp=$3
work=$tmp/cli_gen
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }

# 1,000 channels under `ulimit -n 256`: the writer does not hold
# descriptors per channel for the whole write.
(ulimit -n 256 && "$cli" gen many.mefd --channels 1000 --fs 64 --duration 3s) \
  >out 2>err
rc=$?
check '[ $rc -eq 0 ]' "1000 channels under ulimit -n 256: rc $rc: $(cat err)"
"$cli" info many.mefd --json >many.json 2>err
check '/usr/bin/python3 -c "
import json, sys
j = json.load(open(\"many.json\"))
c = j[\"channels\"]
sys.exit(0 if len(c) == 1000 and all(x[\"n_samples\"] == 192 for x in c) else 1)"' \
  "1000 channels all written: $(head -c 300 err)"

# Parking and reopening descriptors loses nothing: byte-identical to the
# same session written with descriptors to spare (gen is deterministic).
mkdir cmp && "$cli" gen cmp/many.mefd --channels 1000 --fs 64 --duration 3s \
  >/dev/null 2>&1
check 'diff -r many.mefd cmp/many.mefd >/dev/null' \
  "the data of a parked channel equals the unparked write"

# A gen that fails mid-write (the file size limit) leaves nothing.
(trap '' XFSZ && ulimit -f 16 &&
  "$cli" gen big.mefd --channels 4 --fs 1000 --duration 60s) >out 2>err
rc=$?
check '[ $rc -eq 1 ] && [ "$(wc -l <err)" -eq 1 ] && [ ! -e big.mefd ]' \
  "a failed gen leaves nothing: rc $rc, $(cat err), $(ls)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
