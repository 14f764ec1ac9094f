#!/usr/bin/env bash
# The project's own shell scripts under `set -o pipefail` never pipe into
# a reader that may stop early (`grep -q`, `head`): the writer then dies of
# SIGPIPE whenever it has not finished writing, the pipeline fails, and the
# test turns on timing (cli_tls failed so once in CI: `ldd | grep -q`).
# Capture the output first and test that instead.
# Usage: cli_scripts_pipes.sh MEF3POOL GOLDEN_DIR SCRATCH_DIR (only the
# location of this file is used)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bad=0
for f in "$top"/tests/*.sh "$top"/tests/*.bash "$top"/scripts/*.sh \
         "$top"/tools/*.sh "$top"/.ci/run; do
  [ -f "$f" ] && [ "$f" != "$top/tests/cli_scripts_pipes.sh" ] || continue
  grep -q 'pipefail' "$f" || continue
  # A pipe into grep -q/-m or head, outside comments.
  hits=$(grep -nE '\|[[:space:]]*(grep[[:space:]]+(-[a-zA-Z]*[qm]|--quiet|--max-count)|head)\b' "$f" |
         grep -vE '^[0-9]+:[[:space:]]*#' || true)
  if [ -n "$hits" ]; then
    printf '%s: a pipe into a reader that stops early, under pipefail:\n%s\n' \
      "${f#"$top"/}" "$hits"
    bad=$((bad + 1))
  fi
done
[ "$bad" -eq 0 ] && echo "cli_scripts_pipes: no early-stopping reader behind a pipe"
exit $((bad > 0))
