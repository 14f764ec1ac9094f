#!/bin/sh
# Fuzz targets one after another for a fixed time each, in a scratch copy
# of the committed corpus, then merge the inputs that reach new
# coverage back into fuzz/corpus/<target>.  The log of each run stays in WORK.
#
#   fuzz/campaign.sh BUILD_DIR SECONDS TARGET...
#   e.g. fuzz/campaign.sh build-fuzz 1200 fuzz_uh fuzz_red
#
# WORK (default /tmp/mef3pool-fuzz) holds the scratch corpora, logs and
# any crash-* / timeout-* / oom-* artifacts.  A run that finds something
# stops that target early; its artifact is named in the summary line.
set -eu

if [ $# -lt 3 ]; then
    echo "usage: $0 BUILD_DIR SECONDS TARGET..." >&2
    exit 2
fi
build=$1
secs=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
work=${WORK:-/tmp/mef3pool-fuzz}
mkdir -p "$work"

for t in "$@"; do
    bin=$build/fuzz/$t
    [ -x "$bin" ] || { echo "$0: $bin: not built" >&2; exit 2; }
    scratch=$work/$t
    mkdir -p "$scratch"
    cp -r "$here/corpus/$t/." "$scratch/"
    log=$work/$t.log
    start=$(date +%s)
    rc=0
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/$t-" "$scratch" \
        >"$log" 2>&1 || rc=$?
    end=$(date +%s)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "$t: $((end - start)) s, ${runs:-?} runs, $cov, exit $rc" |
        tee -a "$work/summary.txt"
    if [ "$rc" -eq 0 ]; then
        # Adds only inputs reaching new edges (not new hit counts, which
        # would add hundreds); the committed files (and the names of the
        # regression inputs) stay as they are.
        "$bin" -merge=1 -use_counters=0 "$here/corpus/$t" "$scratch" \
            >"$work/$t.merge.log" 2>&1
    else
        ls "$work" | grep "^$t-" | sed 's/^/  artifact: /' |
            tee -a "$work/summary.txt"
    fi
done
