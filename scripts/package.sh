#!/usr/bin/env bash
# Build the Debian packages (debian/), check them with lintian (no
# errors), install them on this machine and use the installed files: the
# command's --version, a read of a generated session, a read served by the
# installed `mef3pool serve` with its installed worker (none of the build
# tree on PATH or in MEF3POOL_WORKER), and the same read in Python by the
# installed module; the systemd units and their configuration in place.
# Run as root (CI is) or with sudo.  Usage: scripts/package.sh [--no-install]
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"

out=$(mktemp -d "${TMPDIR:-/tmp}/mef3pool-deb.XXXXXX")
trap 'rm -rf "$out"' EXIT
# dpkg-buildpackage writes next to the source: build in a copy.
mkdir "$out/mef3pool"
git ls-files -z --cached --others --exclude-standard 2>/dev/null |
  tar --null -T - -cf - | tar -xf - -C "$out/mef3pool" ||
  tar --exclude=./build --exclude=./.git -cf - . | tar -xf - -C "$out/mef3pool"
(cd "$out/mef3pool" &&
  DEB_BUILD_OPTIONS="parallel=$(nproc) nocheck" dpkg-buildpackage -us -uc -b)
ls "$out"/*.deb
# lintian: errors fail (warnings and notes are printed).
lintian --fail-on error --suppress-tags-from-file /dev/null "$out"/*.changes
[ "${1:-}" = "--no-install" ] && exit 0

export DEBIAN_FRONTEND=noninteractive
# --reinstall: a machine that has this version already (an earlier run)
# gets these files, not "already the newest version".
$sudo apt-get install -y -qq --no-install-recommends --reinstall "$out"/*.deb
unset MEF3POOL_WORKER
cd "$out"
# The systemd units and their configuration from the mef3pool package:
# /etc/mef3pool/mef3pool.env a conffile, as shipped; the units as in
# systemd/, passing `systemd-analyze verify` (which needs no running
# systemd: CI's machine may not boot with it); installed but not enabled
# (debian/rules says why).
conffiles=$(dpkg-query -W -f='${Conffiles}\n' mef3pool)
case "$conffiles" in
  *" /etc/mef3pool/mef3pool.env "*) ;;
  *) echo "package.sh: /etc/mef3pool/mef3pool.env is not a conffile of mef3pool:" >&2
     echo "$conffiles" >&2; exit 1 ;;
esac
cmp /etc/mef3pool/mef3pool.env "$src/systemd/mef3pool.env"
for u in mef3pool.service mef3pool@.service; do
  cmp "/lib/systemd/system/$u" "$src/systemd/$u"
done
if [ -e /etc/systemd/system/multi-user.target.wants/mef3pool.service ]; then
  echo "package.sh: mef3pool.service was enabled on installation" >&2
  exit 1
fi
if command -v systemd-analyze >/dev/null 2>&1; then
  # The template through an instance name, resolved in the unit path;
  # verify exits 0 on some warnings: a line naming our units is one.
  verify=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no \
    /lib/systemd/system/mef3pool.service mef3pool@node1.service 2>&1) ||
    { echo "$verify" >&2; exit 1; }
  case "$verify" in
    *mef3pool*) echo "$verify" >&2; exit 1 ;;
  esac
  echo "systemd units: installed, not enabled, systemd-analyze verify clean"
else
  echo "systemd units: installed, not enabled (no systemd-analyze: not verified)"
fi
/usr/bin/mef3pool --version
/usr/bin/mef3pool gen "$out/s.mefd" --channels 4 --fs 256 --duration 120s >/dev/null
/usr/bin/mef3pool read "$out/s.mefd" --start 10s --end 20s --format npy -o "$out/direct.npy"
/usr/bin/mef3pool serve --port 0 --port-file "$out/port" --root "$out" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$out"' EXIT
for _ in $(seq 300); do [ -s "$out/port" ] && break; sleep 0.1; done
addr=127.0.0.1:$(cat "$out/port")
/usr/bin/mef3pool client "$addr" open s.mefd >/dev/null
/usr/bin/mef3pool client "$addr" read s.mefd --start 10s --end 20s --format npy \
  -o "$out/served.npy"
cmp "$out/direct.npy" "$out/served.npy"
# python3-mef3pool from its installed files: Debian's interpreter isolated
# (-I: no PYTHONPATH, no user site, not the current folder) in a folder
# outside the source; its extension on the packaged shared libraries; a
# read by the Reader, one by the process pool (the worker of the mef3pool
# package) and one by the Client from the server above, equal to
# `mef3pool read`.
core=$(echo /usr/lib/python3/dist-packages/mef3pool/_core.*.so)
deps=$(ldd "$core")
case "$deps" in
  *"libmef3pool.so.1 => /"*"libmef3pool-rpc.so.1 => /"* | \
  *"libmef3pool-rpc.so.1 => /"*"libmef3pool.so.1 => /"*) ;;
  *) echo "package.sh: $core is not linked to the packaged libraries:" >&2
     echo "$deps" >&2; exit 1 ;;
esac
/usr/bin/python3 -I -c '
import sys
import numpy as np
import mef3pool
here = "/usr/lib/python3/dist-packages/mef3pool/"
assert mef3pool.__file__ == here + "__init__.py", mef3pool.__file__
path, direct = sys.argv[1], np.load(sys.argv[2])
with mef3pool.Reader(path) as r:
    chs = r.channels
    base = min(r.info(c)["start_time"] for c in chs)
    t0, t1 = base + 10_000_000, base + 20_000_000
    x = r.read(chs, t0, t1, dtype=np.float32)
with mef3pool.ReaderProcessPool(2) as pool:
    y = pool.read_window(path, chs, t0, t1)
with mef3pool.Client(sys.argv[3]) as c:
    c.open_file("s.mefd")
    z = c.get_signal_range("s.mefd", None, t0, t1)["array"]
for name, a in (("Reader.read", x), ("ReaderProcessPool.read_window", y),
                ("Client.get_signal_range", z)):
    if a is None or a.shape != direct.shape or not np.array_equal(a, direct, equal_nan=True):
        sys.exit(f"{name} of {path} differs from mef3pool read: "
                 f"{None if a is None else a.shape} vs {direct.shape}")
print("python3-mef3pool", mef3pool.__version__, "from", here, "reads", x.shape)
' "$out/s.mefd" "$out/direct.npy" "$addr"
kill -TERM $pid
wait $pid
# Headers and pkg-config of the -dev package build a program.
cat > "$out/t.c" <<'C'
#include <mef3pool.h>
#include <stdio.h>
int main(void) { printf("%s\n", mef3_strerror(MEF3_ENOTFOUND)); return 0; }
C
cc "$out/t.c" -o "$out/t" $(pkg-config --cflags --libs mef3pool)
"$out/t"
echo "packages: built, lintian clean of errors, installed; --version, a read, a served read and a read in Python from the installed files work"
