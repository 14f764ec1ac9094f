// bench/bench_viewer.mjs - the viewer's figures (issue 15), measured in
// Debian's chromium (headless, through playwright-core) against two
// `mef3pool view` servers of the same session on loopback, started by
// bench/bench_viewer.sh:
//
//   node bench_viewer.mjs URL_A URL_B OUTDIR [ROUNDS]
//
// Each figure is printed with its goal and a ratio against a baseline
// measured in the same run, from the same page:
//  - key press -> next 30 s x 16 ch page drawn (warm server, the page's
//    prefetch running at a reader's pace); baseline: the bare HTTP fetch
//    of that same window from the page (no browser cache; the server's
//    tiles warm), so the ratio says what the page adds to a fetch;
//  - the overview of the whole hour x 16 ch from a cold server (A, just
//    started); baseline: the bare fetch of the same envelope from server
//    B, cold too, just before;
//  - frames per second while dragging (two moves a frame); baseline:
//    the page's own requestAnimationFrame rate with nothing to draw (the
//    display's);
//  - a jump to a page never read (no prefetch); baseline: a bare fetch of
//    another unread window of the same size.
import { launch, ready } from './browser_common.mjs';
import { writeFileSync } from 'node:fs';

const [urlA, urlB, out, roundsArg] = process.argv.slice(2);
const ROUNDS = +(roundsArg || 30);
const VIEW = { width: 1600, height: 1000 };

const sorted = (a) => a.slice().sort((x, y) => x - y);
const q = (a, p) => { const s = sorted(a); return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN; };
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Fetch every URL (relative to the page) with no browser cache and read
// the bodies: ms.
async function bareFetch(page, urls) {
  return page.evaluate(async (us) => {
    const t = performance.now();
    await Promise.all(us.map((u) => fetch(u, { cache: 'no-store' }).then((r) => {
      if (!r.ok) throw new Error(u + ': ' + r.status);
      return r.arrayBuffer();
    })));
    return performance.now() - t;
  }, urls);
}

// The URL of the view `hash` adds to (the session's path kept).
function withView(url, extra) {
  const [base, hash] = url.split('#');
  const p = new URLSearchParams(hash || '');
  for (const [k, v] of Object.entries(extra)) p.set(k, v);
  return base + '#' + p.toString();
}

async function main() {
  const browser = await launch();
  const page = await browser.newPage({ viewport: VIEW });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  // 1. The cold overview.  First the baseline, alone on the machine: the
  // bare fetch from server B of the envelope the page will ask A for (the
  // page's rule: its first 16 channels, the whole recording, a column a
  // pixel of the strip); then the page on A, as a reader opening the
  // session meets it.  (The other way round, B's fetch met A still busy
  // with the pages the viewer prefetches.)
  const pageB = await browser.newPage({ viewport: VIEW });
  const baseB = urlB.split('#')[0];
  await pageB.goto(baseB + 'api/sessions'); // JSON: no viewer runs on B
  const pathB = new URLSearchParams(urlB.split('#')[1] || '').get('path');
  const infoB = await pageB.evaluate(async (q) => (await fetch('/api/info?path=' + q)).json(),
    encodeURIComponent(pathB));
  const ovUrl = 'api/envelope?path=' + encodeURIComponent(pathB) + '&channels=' +
    infoB.channels.slice(0, 16).map((c) => encodeURIComponent(c.name)).join(',') +
    '&start=' + infoB.start_uutc + '&end=' + infoB.end_uutc + '&columns=' +
    Math.min(4096, Math.max(64, VIEW.width - 128));
  const ovBase = await bareFetch(pageB, [baseB + ovUrl]);

  await page.goto(withView(urlA, { t: '0', w: '30' }));
  await ready(page);
  await page.waitForFunction(() => window.__mef3.overviewMs != null);
  const ov = await page.evaluate(() => ({ ms: window.__mef3.overviewMs, first: window.__mef3.firstPageMs,
    urls: window.__mef3.overviewUrls, n: window.__mef3.state.ch.length,
    dur: (window.__mef3.info.end_uutc - window.__mef3.info.start_uutc) / 1e6 }));
  if (ov.urls.length !== 1 || ov.urls[0] !== ovUrl)
    errors.push('the baseline fetched ' + ovUrl + ', the page ' + ov.urls.join(' '));

  // 2. Key press -> next page drawn, warm: a few pages first.
  for (let i = 0; i < 5; i++) { await page.keyboard.press('ArrowRight'); await ready(page); }
  await page.evaluate(() => { window.__mef3.inputLatencies.length = 0; window.__mef3.inputDrawMs.length = 0; });
  const fetchMs = [];
  for (let i = 0; i < ROUNDS; i++) {
    await page.keyboard.press('ArrowRight');
    const d = await ready(page);
    fetchMs.push(await bareFetch(page, d.urls));
    await sleep(150); // a reader's pace: the prefetch of the next page runs
  }
  const lat = await page.evaluate(() => window.__mef3.inputLatencies.slice());
  const drawMs = await page.evaluate(() => window.__mef3.inputDrawMs.slice());
  const drawnKind = (await ready(page)).kind;

  // 3. A jump to a page never read, against a bare fetch of another
  // window never read: places 180 s apart (a page, the page's and the
  // server's prefetch touch less than that) past what step 2 read,
  // alternately.
  const jump = [], jumpBase = [];
  const urls0 = (await ready(page)).urls;
  const from = 30 * (ROUNDS + 8) + 120;
  for (let k = 0; from + (k + 1) * 180 + 60 < ov.dur && k < 20; k += 2) {
    // timed by the page, as a key press: from the click to the page drawn
    await page.evaluate((s) => {
      const S = window.__mef3.state;
      S.t0 = S.info.start_uutc + s * 1e6;
      document.getElementById('fwd').click(); // (pages forward to from + k * 180)
    }, from + k * 180 - 30);
    const d = await ready(page);
    jump.push(await page.evaluate(() => window.__mef3.inputLatencies.pop()));
    const shifted = urls0.map((u) => u.replace(/start=(\d+)&end=(\d+)/, (m, a, b) => {
      const a1 = Math.round(d.start + 180e6);
      return 'start=' + a1 + '&end=' + (a1 + (+b - +a));
    }));
    jumpBase.push(await bareFetch(page, shifted));
  }

  // 4. Dragging: frames drawn per second; the idle rAF rate first.
  const rafRate = await page.evaluate(() => new Promise((res) => {
    let n = 0; const t0 = performance.now();
    const tick = () => { n++; if (performance.now() - t0 < 2000) requestAnimationFrame(tick); else res(n / ((performance.now() - t0) / 1000)); };
    requestAnimationFrame(tick);
  }));
  const box = await page.$eval('#traces', (c) => { const r = c.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; });
  await page.evaluate(() => { window.__mef3.dragFrames.length = 0; window.__mef3.dragMoves = 0; });
  // A real press, then two moves a display frame (a 120 Hz mouse, as the
  // browser coalesces it) dispatched in the page for 3 s (playwright's own
  // moves are round trips: 20/s on a loaded machine), then a real release.
  await page.mouse.move(box[0] + box[2] * 0.8, box[1] + box[3] / 2);
  await page.mouse.down();
  const tDrag = Date.now();
  await page.evaluate(([x0, y]) => new Promise((res) => {
    let i = 0;
    const t0 = performance.now();
    const move = () => window.dispatchEvent(new MouseEvent('mousemove', { clientX: x0 - (i++ % 600), clientY: y }));
    const tick = () => {
      move();
      setTimeout(move, 8);
      if (performance.now() - t0 < 3000) requestAnimationFrame(tick); else res();
    };
    requestAnimationFrame(tick);
  }), [box[0] + box[2] * 0.8, box[1] + box[3] / 2]);
  await page.mouse.up();
  const fr = await page.evaluate(() => window.__mef3.dragFrames.slice());
  const moves = await page.evaluate(() => window.__mef3.dragMoves) / ((Date.now() - tDrag) / 1000);
  const span = fr.length > 1 ? (fr[fr.length - 1].at - fr[0].at) / 1000 : NaN;
  const fps = (fr.length - 1) / span;
  await page.screenshot({ path: out + '/bench-viewer.png' });
  await browser.close();

  const goal = (ok) => (ok ? 'met' : 'missed');
  const L = [
    'viewer bench: ' + ov.n + ' ch x ' + f1(ov.dur / 60) + ' min, chromium headless ' + VIEW.width + 'x' + VIEW.height +
      ', servers on loopback, ' + ROUNDS + ' pages',
    'key press -> next 30 s x ' + ov.n + ' ch page drawn (' + drawnKind + '): median ' + f1(q(lat, 0.5)) +
      ' ms, p90 ' + f1(q(lat, 0.9)) + ' ms (goal < 50 ms: ' + goal(q(lat, 0.5) < 50) + '); baseline bare fetch of that window ' +
      'from the page: median ' + f1(q(fetchMs, 0.5)) + ' ms; ratio ' + (q(lat, 0.5) / q(fetchMs, 0.5)).toFixed(2) +
      '; of it drawing: median ' + f1(q(drawMs, 0.5)) + ' ms',
    'overview ' + f1(ov.dur / 60) + ' min x ' + ov.n + ' ch, cold server: ' + f1(ov.ms) + ' ms (goal < 300 ms: ' +
      goal(ov.ms < 300) + '); baseline bare fetch of the same envelope from a second cold server, just before: ' + f1(ovBase) +
      ' ms; ratio ' + (ov.ms / ovBase).toFixed(2) + '; the first page, drawn meanwhile: ' + f1(ov.first) + ' ms',
    'dragging: ' + f1(fps) + ' frames/s over ' + f1(span) + ' s (goal 60: ' + goal(fps >= 58) +
      '); baseline requestAnimationFrame rate with nothing to draw: ' + f1(rafRate) + '/s; ratio ' +
      (fps / rafRate).toFixed(2) + '; draw median ' + f1(q(fr.map((f) => f.ms), 0.5)) + ' ms, p90 ' +
      f1(q(fr.map((f) => f.ms), 0.9)) + ' ms; the mouse moved ' + f1(moves) + ' times/s',
    'jump to an unread 30 s page -> drawn: median ' + f1(q(jump, 0.5)) + ' ms (no goal); baseline bare fetch of ' +
      'another unread window: median ' + f1(q(jumpBase, 0.5)) + ' ms; ratio ' + (q(jump, 0.5) / q(jumpBase, 0.5)).toFixed(2),
  ];
  if (errors.length) L.push('page errors: ' + errors.join('; '));
  console.log(L.join('\n'));
  writeFileSync(out + '/bench-viewer.txt', L.join('\n') + '\n');
  return errors.length ? 1 : 0;
}

let rc = 1;
try { rc = await main(); } catch (e) { console.error('error: ' + (e.stack || e)); }
process.exit(rc);
