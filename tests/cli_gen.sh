#!/usr/bin/env bash
# mef3pool gen as a user runs it: many channels under a low descriptor
# limit, nothing left behind by a failure, and gaps placed as asked or
# refused as a usage error.
# Usage: cli_gen.sh MEF3POOL GOLDEN_DIR SCRATCH_DIR
set -uo pipefail
. "$(dirname "$0")/clitest.bash"

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

# Gaps: every gap asked for is written, or gen refuses with a usage error
# (exit 2, one line naming the gap, pointing at --help) and writes nothing.
refused() { # NAME WHAT ARGS...: exit 2, one line, nothing written
  local name=$1 what=$2
  shift 2
  "$cli" gen "$name.mefd" --channels 2 --fs 256 "$@" >out 2>err
  local rc=$?
  check '[ $rc -eq 2 ] && [ "$(wc -l <err)" -eq 1 ] &&
    grep -q "see \`mef3pool gen --help\`" err && [ ! -e "$name.mefd" ]' \
    "$what refused: rc $rc, $(cat err out)"
}
refused past "a gap after the end (--gap 20s:1s on 10 s)" \
  --duration 10s --gap 20s:1s
check 'grep -q "20 s" err' "the refusal names the gap: $(cat err)"
refused hundred "100 random gaps on 10 s" --duration 10s --gaps 100
check 'grep -q "at most 9" err' "the refusal says how many fit: $(cat err)"
refused tail "a gap reaching the end" --duration 10s --gap 9.5s:0.5s
refused head "a gap at the first sample" --duration 10s --gap 0s:1s
refused overlap "overlapping gaps" --duration 10s --gap 2s:2s --gap 3s:2s
refused touch "gaps with no sample between" --duration 10s --gap 2s:1s \
  --gap 3s:1s
refused slot "a gap between two slots" --duration 10s --gap 2.001s:1ms
refused mixed "random gaps with no room beside given ones" --duration 10s \
  --gap 1s:8s --gaps 1

# N placeable gaps: info lists exactly N in every channel, whatever the
# seed, segments or block length.
ngaps() { # SESSION: the gap counts of its channels, one line
  "$cli" info "$1" --json | /usr/bin/python3 -c "
import json, sys
print(' '.join(str(len(c['gaps'])) for c in json.load(sys.stdin)['channels']))"
}
placed() { # NAME N ARGS...
  local name=$1 n=$2
  shift 2
  "$cli" gen "$name.mefd" --channels 2 "$@" >out 2>err
  local rc=$? got
  got=$(ngaps "$name.mefd" 2>&1)
  check '[ $rc -eq 0 ] && [ "$got" = "$n $n" ] && grep -q ", $n gaps$" out' \
    "$name: $n gaps asked ($*), info shows \"$got\": $(cat err out)"
}
placed full 9 --fs 256 --duration 10s --gaps 9
placed given 3 --fs 256 --duration 10s --gap 1s:0.5s --gap 1.504s:1s \
  --gap 9s:0.99s
placed both 12 --fs 250 --duration 10m --gaps 10 --gap 1m:30s --gap 3m:1s \
  --segment 30s --seed 5
for seed in 1 2 3; do
  placed seed$seed 40 --fs 200 --duration 5m --gaps 40 --seed $seed \
    --block-seconds 0.5
done

# Passwords off the command line: --password-file (line 1: level 1, line
# 2: level 2) and MEF3POOL_PASSWORD=L1,L2 write what --password writes.
printf 'one\ntwo\n' >pw.txt
"$cli" gen pwf.mefd --channels 1 --fs 256 --duration 10s --password-file pw.txt \
  >/dev/null
rc=$?
lvl() { "$cli" info "$1" --password "$2" --json 2>/dev/null |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["access_level"])'; }
check '[ $rc -eq 0 ] && [ "$(lvl pwf.mefd one)" = 1 ] && [ "$(lvl pwf.mefd two)" = 2 ]' \
  "gen --password-file: rc $rc"
MEF3POOL_PASSWORD=one,two "$cli" gen pwe.mefd --channels 1 --fs 256 \
  --duration 10s >/dev/null
check '[ "$(lvl pwe.mefd one)" = 1 ] && [ "$(lvl pwe.mefd two)" = 2 ]' \
  "gen with MEF3POOL_PASSWORD=L1,L2"
check '! "$cli" info pwe.mefd --password wrong >/dev/null 2>&1' \
  "a wrong password does not open what gen encrypted"
"$cli" gen pwboth.mefd --channels 1 --fs 256 --duration 10s --password a \
  --password-file pw.txt >/dev/null 2>err
rc=$?
check '[ $rc -eq 2 ] && [ ! -e pwboth.mefd ]' "--password and --password-file: rc $rc"

finish
