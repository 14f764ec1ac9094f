// tests/browser/browser_common.mjs - what the viewer's browser test
// (viewer_test.mjs) and its benchmark (bench/bench_viewer.mjs) share:
// Debian's chromium launched headless through playwright-core, and the
// wait for the page's test hook (web/viewer.js, window.__mef3) to have
// drawn the current view completely.  Copied beside node_modules by
// browser_env.sh.
import { chromium } from 'playwright-core';

export const exe = process.env.CHROMIUM || '/usr/bin/chromium';

export async function launch() {
  return chromium.launch({ executablePath: exe, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

// The view drawn from its own data, no request pending: the hook's record
// of what was drawn.
export async function ready(page) {
  return page.evaluate(() => window.__mef3.ready());
}
