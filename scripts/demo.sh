#!/usr/bin/env bash
# The main job: build mef3pool, generate a demo session (16 channels x
# 256 Hz x 1 h of EEG-like data), serve it over gRPC on a free loopback
# port, read a few windows through the client, and stop the server.
# Usage: scripts/demo.sh [--keep]   (--keep leaves the server running and
# says how to stop it)
set -euo pipefail
cd "$(dirname "$0")/.."
keep=0
[ "${1:-}" = "--keep" ] && keep=1
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
bin=$PWD/build/mef3pool
demo=$PWD/build/demo
mkdir -p "$demo"

if [ ! -d "$demo/demo.mefd" ]; then
  echo "== mef3pool gen: 16 channels x 256 Hz x 1 h"
  "$bin" gen "$demo/demo.mefd" --channels 16 --fs 256 --duration 1h --seed 1
fi

echo "== mef3pool serve --root $demo (127.0.0.1, a free port)"
rm -f "$demo/port"
"$bin" serve --port 0 --port-file "$demo/port" --root "$demo" \
  --log-file "$demo/server.log" --log-level info 2>/dev/null &
pid=$!
stop() { kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; }
[ $keep -eq 1 ] || trap stop EXIT
for _ in $(seq 300); do [ -s "$demo/port" ] && break; sleep 0.1; done
addr=127.0.0.1:$(cat "$demo/port")
echo "   listening on $addr (log: $demo/server.log)"
cl() { "$bin" client "$addr" "$@"; }

echo
echo "== client open demo.mefd"
cl open demo.mefd
echo
echo "== a 60 s window of all channels, cold (decoded in the worker pool)"
cl read demo.mefd --start 600s --end 660s --format summary
echo
echo "== the same window again (tile cache)"
cl read demo.mefd --start 600s --end 660s --format summary
echo
echo "== the next window (prefetched while we looked at the last one)"
cl read demo.mefd --start 660s --end 720s --format summary
echo
echo "== 10 s of two channels"
cl read demo.mefd --channels ch03,ch11 --start 605s --end 615s --format summary
echo
echo "== the first 5 samples of ch01 and ch02 at 30 min, as CSV"
cl read demo.mefd --channels ch01,ch02 --start 30m --end 1800.0196s --format csv
echo
echo "== client list"
cl list
cl close demo.mefd

if [ $keep -eq 1 ]; then
  echo
  echo "The server keeps running (pid $pid) on $addr; stop it with: kill $pid"
else
  echo
  echo "== stopping the server (SIGTERM)"
  stop
  trap - EXIT
  tail -n 3 "$demo/server.log"
fi
