#!/usr/bin/env bash
# The decoder library and the command's local subcommands build without
# gRPC and protobuf-c (-DMEF3_WITH_GRPC=OFF): configure and build a copy
# of this source tree that way, then check that nothing links gRPC, that
# `info` and `read` answer as the full build does, that `serve`/`client`
# say they are not built, and that the install holds no gRPC parts.
# Usage: cli_build_nogrpc.sh MEF3POOL GOLDEN_DIR SCRATCH_DIR
set -euo pipefail
cli=$1 golden=$2 tmp=$3
src=$(cd "$(dirname "$0")/.." && pwd)
work=$tmp/nogrpc
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }

cmake -S "$src" -B "$work/build" -DMEF3_WITH_GRPC=OFF \
  -DCMAKE_BUILD_TYPE=Release >"$work/configure.log" 2>&1 ||
  fail "configure: $(tail -5 "$work/configure.log")"
cmake --build "$work/build" -j2 >"$work/build.log" 2>&1 ||
  fail "build: $(grep -m5 -i error "$work/build.log")"
bin=$work/build/mef3pool
[ -x "$bin" ] || fail "no command built"
for f in "$bin" "$work"/build/libmef3pool.so.1 "$work"/build/mef3pool-worker; do
  deps=$(ldd "$f")
  case $deps in *grpc* | *protobuf*) fail "$f links gRPC: $deps" ;; esac
done
[ ! -e "$work"/build/libmef3pool-rpc.so ] || fail "mef3pool-rpc was built"

s=$golden/sessions/b_multi_8ch.mefd
export MEF3POOL_WORKER=$work/build/mef3pool-worker
"$bin" info "$s" >"$work/info.txt" || fail "info"
"$cli" info "$s" >"$work/info.full.txt"
cmp -s "$work/info.txt" "$work/info.full.txt" || fail "info differs from the full build"
"$bin" read "$s" --channels ch01,ch05 --start 0s --end 2s --format f64 \
  -o "$work/w.f64" || fail "read"
"$cli" read "$s" --channels ch01,ch05 --start 0s --end 2s --format f64 \
  -o "$work/w.full.f64"
cmp -s "$work/w.f64" "$work/w.full.f64" || fail "read differs from the full build"
for cmd in serve client; do
  rc=0
  "$bin" $cmd --port 0 >/dev/null 2>"$work/$cmd.err" || rc=$?
  [ $rc = 1 ] || fail "$cmd exit status $rc"
  grep -q "built without gRPC" "$work/$cmd.err" || fail "$cmd: $(cat "$work/$cmd.err")"
done

cmake --install "$work/build" --prefix "$work/prefix" >/dev/null
[ -e "$work"/prefix/include/mef3pool.h ] || fail "headers not installed"
for f in include/mef3pool/server.h include/mef3pool/client.h \
  lib/pkgconfig/mef3pool-rpc.pc; do
  [ ! -e "$work/prefix/$f" ] || fail "installed $f"
done
# The installed headers stand alone: the umbrella header compiles.
printf '#include <mef3pool.h>\nint main(void){return mef3_version()==0;}\n' >"$work/h.c"
cc -fsyntax-only -I"$work/prefix/include" "$work/h.c" || fail "installed headers"
echo "1 passed, 0 failed"
