#!/usr/bin/env bash
# Interoperability with Python gRPC (Debian's python3-grpcio): stubs are
# generated now from proto/mef3pool.proto with protoc and
# grpc_python_plugin, `mef3pool serve` runs on a free loopback port, and
# tests/server_interop.py talks to it as the original's client does.
# Usage: cli_server_python.sh MEF3POOL GOLDEN_DIR SCRATCH_DIR
# Skips (exit 0, saying so) only where there is no Python at all.
set -euo pipefail
cli=$1 golden=$2 tmp=$3
here=$(cd "$(dirname "$0")" && pwd)
proto=$here/../proto/mef3pool.proto

# Debian's interpreter first: it is the one python3-grpcio installs into.
py=""
for p in /usr/bin/python3 "$(command -v python3 || true)"; do
  if [ -n "$p" ] && [ -x "$p" ]; then py=$p; break; fi
done
if [ -z "$py" ]; then
  echo "skipped: no Python 3 on this machine"
  exit 0
fi
for p in /usr/bin/python3 "$(command -v python3 || true)"; do
  if [ -x "$p" ] && "$p" -c "import grpc, numpy, google.protobuf" 2>/dev/null
  then py=$p; break; fi
done

work=$tmp/server_python
rm -rf "$work" && mkdir -p "$work/stubs" "$work/root" "$work/scratch"
protoc --python_out="$work/stubs" --grpc_python_out="$work/stubs" \
  --plugin=protoc-gen-grpc_python="$(command -v grpc_python_plugin)" \
  -I"$(dirname "$proto")" "$proto"

cp -a "$golden/sessions/b_multi_8ch.mefd" "$golden/sessions/a_single_256hz.mefd" \
  "$work/root/"
"$cli" gen "$work/root/gen16.mefd" --channels 16 --fs 256 --duration 900s \
  --seed 7 >/dev/null 2>&1 || rm -rf "$work/root/gen16.mefd"
"$cli" gen "$work/root/gen250.mefd" --channels 1 --fs 250 --duration 20s \
  --seed 3 >/dev/null

"$cli" serve --port 0 --port-file "$work/port" --root "$work/root" \
  --log-file "$work/server.log" --reader-processes 2 --prefetch-processes 1 \
  2>/dev/null &
pid=$!
stop() { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" || true; }
trap stop EXIT
for _ in $(seq 600); do
  [ -s "$work/port" ] && break
  kill -0 "$pid" 2>/dev/null || { echo "the server did not start"; exit 1; }
  sleep 0.1
done
port=$(cat "$work/port")

rc=0
"$py" "$here/server_interop.py" "$cli" "$work/stubs" "127.0.0.1:$port" \
  "$work/root" "$work/scratch" || rc=$?
trap - EXIT
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
if [ "$status" -ne 0 ]; then
  echo "the server exited with status $status on SIGTERM"
  rc=1
fi

# The other way round: our C client against a server that answers as the
# original does (float32 rates, no additions, chunks joined by the client).
"$py" "$here/server_interop_pyserver.py" "$work/stubs" "$work/pyport" \
  "$work/scratch" &
pypid=$!
trap 'kill -TERM $pypid 2>/dev/null || true' EXIT
for _ in $(seq 300); do [ -s "$work/pyport" ] && break; sleep 0.1; done
paddr=127.0.0.1:$(cat "$work/pyport")
ok=0 bad=0
t() { if "$@"; then ok=$((ok + 1)); else bad=$((bad + 1)); echo "FAILED: $*"; fi; }
"$cli" client "$paddr" open fake.mefd --json > "$work/pyinfo.json"
t grep -q '"name": "a1"' "$work/pyinfo.json"
t "$cli" client "$paddr" read fake.mefd --start 0s --end 1400.5s --format npy \
  -o "$work/scratch/whole.npy"
t "$cli" client "$paddr" read fake.mefd --channels c3,a1 --start 100s \
  --end 200s --format npy -o "$work/scratch/part.npy"
t "$py" - "$work/scratch" <<'PY'
import sys, numpy as np
d = sys.argv[1]
ref = np.load(d + "/fake.npy")
whole = np.load(d + "/whole.npy")
part = np.load(d + "/part.npy")
i0 = n = int(round(100 * 499.7))
assert whole.shape == (3, int(round(1400.5 * 499.7))), whole.shape
assert np.array_equal(whole, ref[:, :whole.shape[1]])
assert np.array_equal(part, ref[[2, 0], i0:i0 + n])
PY
if "$cli" client "$paddr" read nope.mefd --start 0 --end 1000000 --format f32 -o /dev/null \
  2>"$work/err.txt"; then bad=$((bad + 1)); echo "FAILED: read of nope.mefd";
else ok=$((ok + 1)); fi
t "$cli" client "$paddr" list
t "$cli" client "$paddr" close fake.mefd
kill -TERM $pypid; wait $pypid || true
trap - EXIT
echo "client against an original-style server: $ok passed, $bad failed"
[ $bad -eq 0 ] || rc=1
exit $rc
