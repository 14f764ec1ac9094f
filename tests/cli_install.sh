#!/usr/bin/env bash
# An installed copy works from any folder, even after its prefix is moved:
# `cmake --install` into a scratch prefix, move the prefix, then run the
# installed command from another folder: --version, a decode, and the
# server (whose reader pools must find the installed worker program), read
# through the installed client; and a small program compiled and linked
# against the moved prefix with nothing but what pkg-config says.
# Usage: cli_install.sh MEF3POOL GOLDEN_DIR SCRATCH_DIR
set -euo pipefail
cli=$1 golden=$2 tmp=$3
build=$(cd "$(dirname "$cli")" && pwd)
work=$tmp/install
rm -rf "$work" && mkdir -p "$work/elsewhere"
cmake --install "$build" --prefix "$work/p1" >/dev/null
mv "$work/p1" "$work/p2"
bin=$work/p2/bin/mef3pool
unset MEF3POOL_WORKER
cd "$work/elsewhere"

fail() { echo "FAIL: $*"; exit 1; }
ver=$("$bin" --version)
grep -q "^mef3pool " <<<"$ver" || fail "--version"
test -x "$work/p2/libexec/mef3pool/mef3pool-worker" || fail "worker not installed"
ls "$work/p2/include/mef3pool.h" >/dev/null || fail "headers not installed"
ls "$work"/p2/lib*/libmef3pool.so.1 >/dev/null || fail "shared library"
ls "$work"/p2/lib*/pkgconfig/mef3pool.pc >/dev/null || fail "pkg-config file"

# pkg-config alone finds the moved headers and library (no -I/usr/local).
pcdir=$(echo "$work"/p2/lib*/pkgconfig)
cat > pc.c <<'C'
#include <mef3pool.h>
#include <stdio.h>
int main(int argc, char **argv) {
  mef3_reader *r = NULL;
  if (argc < 2 || mef3_reader_open(&r, argv[1], NULL) != 0)
    return 1;
  printf("%s %zu\n", mef3_version(), mef3_reader_channel_count(r));
  mef3_reader_close(r);
  return 0;
}
C
flags=$(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs mef3pool) ||
  fail "pkg-config mef3pool"
case " $flags " in *" -I/usr/local/include "*) fail "pkg-config: $flags" ;; esac
# (a sanitizer build's library needs its runtime in the program too)
# (ldd's output is read whole first: `ldd | grep -q` under pipefail fails
# when grep stops reading early and ldd dies of SIGPIPE)
san=
deps=$(ldd "$work"/p2/lib*/libmef3pool.so.1)
case $deps in *libasan*) san="-fsanitize=address,undefined" ;; esac
eval "cc $san pc.c $flags -o pc" || fail "compile against the moved prefix: $flags"
# (pkg-config escapes spaces in what it prints, for a shell to read back)
eval "libdir=$(PKG_CONFIG_PATH=$pcdir pkg-config --variable=libdir mef3pool)"
out=$(LD_LIBRARY_PATH=$libdir ./pc "$golden/sessions/b_multi_8ch.mefd") ||
  fail "program built with pkg-config"
[ "${out#* }" = 8 ] || fail "program built with pkg-config printed: $out"
PKG_CONFIG_PATH=$pcdir pkg-config --cflags mef3pool-rpc >/dev/null ||
  fail "pkg-config mef3pool-rpc"

s=$golden/sessions/b_multi_8ch.mefd
"$bin" read "$s" --channels ch01 --start 0s --end 1s --format i32 -o direct.i32

"$bin" serve --port 0 --port-file port --root "$golden/sessions" \
  --reader-processes 2 --prefetch-processes 1 --min-parallel-tiles 1 \
  2>server.log &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' EXIT
for _ in $(seq 300); do [ -s port ] && break; sleep 0.1; done
[ -s port ] || fail "server did not start: $(cat server.log)"
addr=127.0.0.1:$(cat port)
"$bin" client "$addr" open b_multi_8ch.mefd >/dev/null
"$bin" client "$addr" read b_multi_8ch.mefd --channels ch01 --start 0s \
  --end 1s --format f32 -o served.f32
kill -TERM $pid
wait $pid || fail "server exit status $?"
trap - EXIT
grep -qi "worker" server.log && grep -i "error" server.log && fail "worker errors"
# The served window (f32 physical) equals the direct read (i32 x 1.0).
python3 - <<'PY' || fail "served window differs from the direct read"
import array, sys
a = array.array('i'); a.frombytes(open('direct.i32', 'rb').read())
b = array.array('f'); b.frombytes(open('served.f32', 'rb').read())
sys.exit(0 if len(a) == len(b) == 256 and all(float(x) == y for x, y in zip(a, b)) else 1)
PY
echo "1 passed, 0 failed"
