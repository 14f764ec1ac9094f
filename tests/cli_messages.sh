#!/usr/bin/env bash
# Failure messages as a user reads them: one line of ours on stderr, each
# path said once, numbers as integers, no raw gRPC log line; exit 1.
# Usage: cli_messages.sh MEF3POOL GOLDEN_DIR SCRATCH_DIR
set -uo pipefail
. "$(dirname "$0")/clitest.bash"
one_line() { [ "$(wc -l <"$1")" -eq 1 ] && grep -q "^mef3pool: " "$1"; }

# gen onto a session that exists: the path once.
"$cli" gen g1.mefd --channels 1 --fs 100 --duration 1s >/dev/null 2>&1
"$cli" gen g1.mefd --channels 1 --fs 100 --duration 1s >out 2>err
rc=$?
check '[ $rc -eq 1 ] && one_line err && [ "$(grep -o g1.mefd err | wc -l)" -eq 1 ]' \
  "gen onto an existing session: $(cat err)"

# A range given as an integer, not 1.67772e+07.
"$cli" serve --tile-cache-mb -1 >out 2>err
rc=$?
check '[ $rc -eq 2 ] && grep -q "from 1 to 16777216" err && ! grep -q "e+" err' \
  "--tile-cache-mb range: $(cat err)"

# Bad --bind: one line of ours, no gRPC log line, exit 1.
for b in nonsense.invalid 999.1.1.1 10.255.255.1; do
  timeout 20 "$cli" serve --bind "$b" --port 0 --root "$work" >out 2>err
  rc=$?
  check '[ $rc -eq 1 ] && one_line err && grep -q "cannot listen on $b:0: " err' \
    "--bind $b: rc $rc: $(cat err)"
done

# A port in use: a second server fails with one line instead of sharing it.
"$cli" serve --port 0 --port-file port --root "$golden/sessions" 2>server.log &
pid=$!
trap 'kill -TERM $pid 2>/dev/null' EXIT
for _ in $(seq 300); do [ -s port ] && break; sleep 0.1; done
port=$(cat port)
timeout 20 "$cli" serve --port "$port" --root "$work" >out 2>err
rc=$?
check '[ $rc -eq 1 ] && one_line err && grep -q ":$port: port in use" err' \
  "second server on port $port: rc $rc: $(cat err)"

# The client: a path not open is named once.
"$cli" client "127.0.0.1:$port" info a_single_256hz.mefd >out 2>err
rc=$?
check '[ $rc -eq 1 ] && one_line err && [ "$(grep -o a_single_256hz.mefd err | wc -l)" -eq 1 ]' \
  "client info of a file not open: $(cat err)"
kill -TERM $pid
wait $pid
trap - EXIT

finish
