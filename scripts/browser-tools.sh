#!/usr/bin/env bash
# Install the browser-test driver (playwright-core from npm; the browser
# itself is Debian's chromium, from scripts/deps.sh) into DIR, by default
# build/browser-tools.  Usage: scripts/browser-tools.sh [DIR]
set -euo pipefail
dir=${1:-"$(dirname "$0")/../build/browser-tools"}
mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || echo '{"private": true}' > package.json
if [ ! -d node_modules/playwright-core ]; then
  npm install --no-audit --no-fund --silent playwright-core@1.65.2 >/dev/null
fi
echo "playwright-core $(node -p 'require("playwright-core/package.json").version') in $dir"
