#!/usr/bin/env bash
# The shape of src/ for a design review (docs/design.md): lines per
# folder, the largest files, which folders include which, and the longest
# functions (by universal-ctags, `apt-get install universal-ctags`).
# Usage: tools/house.sh [SRC_DIR]   (default: src/ of this checkout)
set -euo pipefail
src=${1:-$(cd "$(dirname "$0")/.." && pwd)/src}
cd "$src"

echo "== folders (files, lines)"
for d in */; do
  d=${d%/}
  n=$(find "$d" -name '*.[ch]' | wc -l)
  l=$(find "$d" -name '*.[ch]' -exec cat {} + | wc -l)
  printf '%-10s %3d files %6d lines\n' "$d" "$n" "$l"
done

echo "== files over 500 lines"
find . -name '*.[ch]' -exec wc -l {} + | grep -v ' total$' |
  awk '$1 > 500 {printf "%6d %s\n", $1, substr($2, 3)}' | sort -rn

echo "== includes between folders (from -> to: count)"
for f in $(find . -name '*.[ch]'); do
  from=$(echo "${f#./}" | cut -d/ -f1)
  grep -oE '^#include "[a-z0-9_]+/' "$f" | sed -E 's/#include "//; s#/##' |
    sed "s/^mef3pool$/include/" | while read -r to; do [ "$to" != "$from" ] && echo "$from -> $to"; done || true
done | sort | uniq -c | awk '{printf "%-24s %3d\n", $2 " " $3 " " $4, $1}'

echo "== longest functions (lines)"
if command -v ctags >/dev/null; then
  find . -name '*.c' -print0 |
    xargs -0 ctags --c-kinds=f --fields=+ne -o - 2>/dev/null |
    awk -F'\t' '{ln = en = 0
      for (i = 4; i <= NF; i++) {
        if ($i ~ /^line:/) ln = substr($i, 6)
        if ($i ~ /^end:/) en = substr($i, 5)
      }
      if (en) printf "%5d %s %s:%d\n", en - ln + 1, $1, substr($2, 3), ln}' |
    sort -rn | awk 'NR <= 20'
else
  echo "(universal-ctags not installed)"
fi
