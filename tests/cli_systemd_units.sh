#!/usr/bin/env bash
# systemd/mef3pool.service and mef3pool@.service pass `systemd-analyze
# verify`, with ExecStart pointed at the command just built (the unit's
# /usr/bin/mef3pool exists only once the package is installed), and carry
# the hardening docs/deploy.md promises.  Skips, saying so, only where
# systemd-analyze is missing.
# Usage: cli_systemd_units.sh MEF3POOL GOLDEN_DIR SCRATCH_DIR
set -euo pipefail
cli=$1 tmp=$3
here=$(cd "$(dirname "$0")" && pwd)
units=$here/../systemd
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "skipped: systemd-analyze is not installed (apt-get install systemd)"
  exit 0
fi
work=$(cd "$(mktemp -d "$tmp/systemd_units.XXXXXX")" && pwd)
trap 'rm -rf "$work"' EXIT
# systemd quotes like a shell: a path with spaces goes in double quotes.
sed "s|^ExecStart=/usr/bin/mef3pool|ExecStart=\"$cli\"|" \
  "$units/mef3pool.service" > "$work/mef3pool.service"
sed "s|^ExecStart=/usr/bin/mef3pool|ExecStart=\"$cli\"|" \
  "$units/mef3pool@.service" > "$work/mef3pool@node1.service"
ok=0 bad=0
t() { if "$@"; then ok=$((ok + 1)); else bad=$((bad + 1)); echo "FAILED: $*"; fi; }
for u in mef3pool.service mef3pool@node1.service; do
  out=$(cd "$work" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify \
    --man=no "$work/$u" 2>&1) || { echo "$out"; bad=$((bad + 1)); continue; }
  # verify exits 0 on some warnings: any line naming our unit is one.
  if grep -q "$u" <<<"$out"; then echo "$out"; bad=$((bad + 1)); else ok=$((ok + 1)); fi
  for want in DynamicUser=yes ProtectSystem=strict NoNewPrivileges=yes \
      PrivateTmp=yes "ReadOnlyPaths=-/srv/mef3" "MemoryMax=" \
      "StandardError=journal" "EnvironmentFile=/etc/mef3pool/"; do
    t grep -q "^$want" "$work/$u"
  done
done
t grep -q "^EnvironmentFile=/etc/mef3pool/%i.env" "$work/mef3pool@node1.service"
# Every name set in the .env file is one the server reads.
for name in $(sed -n 's/^\([A-Z_]*\)=.*/\1/p' "$units/mef3pool.env"); do
  t grep -q "\[$name\]" <("$cli" serve --help)
done
echo "systemd units: $ok passed, $bad failed"
[ "$bad" -eq 0 ]
