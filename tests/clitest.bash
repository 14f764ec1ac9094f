# tests/clitest.bash - what the command's shell tests share.  A test
# (tests/cli_NAME.sh, run by CTest as `cli_NAME.sh MEF3POOL GOLDEN_DIR
# SCRATCH_DIR`) sets its shell options, then sources this file:
#
#   set -uo pipefail
#   . "$(dirname "$0")/clitest.bash"
#   check 'CONDITION' "what it shows, when it fails"
#   ...
#   finish
#
# which gives it $cli, $golden, $tmp, a fresh scratch folder $work (the
# working directory, $tmp/cli_NAME), $py (Debian's python3), check/ok/bad
# counting passes and failures, and finish: prints "N passed, N failed"
# and exits 0 only when nothing failed.
cli=$1 golden=$2 tmp=$3
work=$tmp/$(basename "$0" .sh)
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
finish() {
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ] && exit 0
  exit 1
}
py=/usr/bin/python3
[ -x "$py" ] || py=python3
