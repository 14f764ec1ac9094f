#!/usr/bin/env bash
# mef3pool info as a user reads it: real gaps only (a discontinuity flag
# on contiguous blocks or a segment boundary with no time jump is not a
# gap), each gap listed, encryption said per channel when it differs,
# no "no entry" time shown as a date, and the descriptive metadata.
# Usage: cli_info.sh MEF3POOL GOLDEN_DIR SCRATCH_DIR
set -uo pipefail
. "$(dirname "$0")/clitest.bash"
S=$golden/sessions

# c_discontinuities: the manifest lists 3 gaps per channel (5 s, 2.3 ms,
# 15.5 s); there are 5 breaks (a flagged contiguous append, a segment
# boundary with no jump).
"$cli" info "$S/c_discontinuities.mefd" >c.txt 2>&1
check 'grep -Eq "^ch01 .* 3  uV" c.txt && grep -Eq "^ch02 .* 3  uV" c.txt' \
  "c_discontinuities: 3 gaps in the table: $(grep '^ch0' c.txt)"
check 'grep -q "^gaps: 3 in every channel" c.txt &&
  grep -Eq "^  2020-09-13T12:27:20.500000Z +2020-09-13T12:27:20.502300Z +0.002300 s$" c.txt' \
  "c_discontinuities: each gap listed: $(cat c.txt)"
"$cli" info "$S/c_discontinuities.mefd" --json >c.json
check '$py - "$S/c_discontinuities.json" <<PY
import json, sys
want = json.load(open(sys.argv[1]))["channels"]
got = json.load(open("c.json"))["channels"]
ok = len(got) == 2
for g in got:
    w = want[g["name"]] if isinstance(want, dict) else None
    exp = [(int(x["gap_start_uutc_expected"]), x["next_block_start_uutc"])
           for x in (w or want[got.index(g)])["gaps"]]
    ok &= [(x["start_uutc"], x["end_uutc"]) for x in g["gaps"]] == exp
sys.exit(0 if ok else 1)
PY' "info --json gaps equal the manifest's"

# gen --segment 30s with two gaps: 2 gaps, not 4.
"$cli" gen s30.mefd --channels 2 --fs 256 --duration 120s --segment 30s \
  --gap 10s:2s --gap 70s:3s >/dev/null
"$cli" info s30.mefd >s30.txt
check 'grep -Eq "^ch01 .* 4 +2  uV" s30.txt && grep -q "^gaps: 2 in every channel" s30.txt' \
  "gen --segment 30s, 2 gaps: $(cat s30.txt)"
check '[ "$(grep -c "^  2021-01-01T00:0" s30.txt)" -eq 2 ]' "s30 gaps listed"

# Encryption per channel when it differs (ch01 data level 1, ch02 level 2).
"$cli" info "$S/d2_encrypted_blocks.mefd" --password l1pass >d2.txt
check 'grep -Eq "^  ch01 .*data level 1$" d2.txt && grep -Eq "^  ch02 .*data level 2$" d2.txt' \
  "d2 encryption per channel: $(cat d2.txt)"
"$cli" info "$S/b_multi_8ch.mefd" >b.txt
check 'grep -q "^encryption: metadata section 2 none, section 3 none; data none$" b.txt' \
  "uniform encryption on one line"

# Descriptive metadata: the session's description, subject and place
# (section 3: only when the password opens it), channels' references and
# filters; text and JSON.  The golden writer put "Oracle Tester", ORC-001.
"$cli" info "$S/b_multi_8ch.mefd" >desc.txt
check 'grep -q "^description  MEF3 oracle session$" desc.txt &&
  grep -q "^subject      Oracle Tester (id ORC-001)$" desc.txt &&
  grep -q "^location     tmp-oracle$" desc.txt &&
  grep -Eq "^ch08 +8 oracle-ref +0.1 +1250 +60 +60  ch08$" desc.txt' \
  "descriptive metadata: $(cat desc.txt)"
"$cli" info "$S/d_encrypted.mefd" --password l1pass >d1.txt
"$cli" info "$S/d_encrypted.mefd" --password l1pass --json >d1.json
check '! grep -q "ORC-001\|Oracle Tester\|tmp-oracle" d1.txt d1.json &&
  grep -q "^subject      (in metadata section 3, which the password does not open)$" d1.txt' \
  "level 1 shows nothing of section 3: $(cat d1.txt)"
"$cli" info "$S/d_encrypted.mefd" --password l2pass --json >d2.json
check '/usr/bin/python3 - d1.json d2.json <<PY
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
ok = a["subject"] is None and a["session_description"] == "MEF3 oracle session"
ok &= b["subject"] == {"name_1": "Oracle", "name_2": "Tester", "id": "ORC-001",
                       "recording_location": "tmp-oracle"}
c = b["channels"][1]
ok &= c["reference_description"] == "oracle-ref" and c["filters"] == {
    "low": 0.1, "high": 250, "notch": 60, "ac_line": 60}
sys.exit(0 if ok else 1)
PY' "info --json descriptive metadata by access level"

finish
