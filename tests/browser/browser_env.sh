# tests/browser/browser_env.sh - what the browser test (tests/browser_viewer.sh)
# and the viewer benchmark (bench/bench_viewer.sh) share, sourced by both:
# Debian's chromium found (exit 77 without it), playwright-core installed
# into TOOLS (scripts/browser-tools.sh), `mef3pool view` servers started
# on loopback and stopped at exit, and the driver scripts copied beside
# node_modules (node resolves playwright-core from the script's folder).
#
#   browser_env_init CLI TOOLS SRC WORKDIR   (sets $chromium)
#   start_view SESSION PORTFILE [ARGS...]   (pid in $pid, URL in PORTFILE.url)
#   browser_script FILE...                   (copies into TOOLS, with the
#                                             shared browser_common.mjs)

browser_env_init() {
  be_cli=$1 be_tools=$2 be_src=$3 be_work=$4
  be_pids=()
  trap browser_env_cleanup EXIT
  chromium=${CHROMIUM:-/usr/bin/chromium}
  if [ ! -x "$chromium" ]; then
    echo "SKIP: no chromium at $chromium (apt-get install chromium)"
    exit 77
  fi
  if [ ! -d "$be_tools/node_modules/playwright-core" ]; then
    "$be_src/scripts/browser-tools.sh" "$be_tools" ||
      { echo "cannot install playwright-core into $be_tools (run scripts/browser-tools.sh)"; exit 1; }
  fi
}

browser_env_cleanup() {
  for p in "${be_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${be_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$be_work"
}

start_view() {
  local session=$1 port_file=$2
  shift 2
  "$be_cli" view "$session" --port-file "$port_file" "$@" >"$port_file.url" 2>"$port_file.log" &
  pid=$!
  be_pids+=("$pid")
  for _ in $(seq 100); do [ -s "$port_file" ] && return 0; sleep 0.1; done
  echo "view did not start: $(cat "$port_file.log")"
  exit 1
}

browser_script() {
  cp "$be_src/tests/browser/browser_common.mjs" "$be_tools/browser_common.mjs"
  for f in "$@"; do cp "$f" "$be_tools/"; done
}
