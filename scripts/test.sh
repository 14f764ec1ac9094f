#!/usr/bin/env bash
# Build mef3pool and run every test: the normal build, the whole suite
# again under ASan+UBSan, and the threaded tests (pool, file manager,
# server, the nodes behind nginx and their benchmark smoke) under TSan.  Usage: scripts/test.sh [--quick]
# (--quick skips the sanitizer passes).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

run_suite() { # build-dir, ctest-args, extra cmake args...
  local dir=$1 filter=$2; shift 2
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
  ctest --test-dir "$dir" --output-on-failure -j"$jobs" $filter
}

run_suite build "" -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${1:-}" != "--quick" ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite build-asan "" -DCMAKE_BUILD_TYPE=Debug -DMEF3_SANITIZE=ON
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    run_suite build-tsan "-R pool|files|server|deploy|proxy" -DCMAKE_BUILD_TYPE=Debug \
      -DMEF3_TSAN=ON
fi
