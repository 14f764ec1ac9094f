// tests/browser/viewer_test.mjs - the viewer in a real browser (Debian's
// chromium driven by playwright-core), against `mef3pool view` servers
// started by tests/browser_viewer.sh.
//
//   node viewer_test.mjs test URL_PLAIN URL_ENCRYPTED OUTDIR SERVER_PID URL_DAMAGED
//
// test: the channel list, the drawn data against the API's numbers (the
// page's test hook, window.__mef3, exposes what was drawn), page forward
// and back, zoom out to the whole recording (envelopes), channel picking,
// a wrong then a right password, a lost server; what a reader of EEG
// needs on it: a first gain that fits the data, units as µV, a
// calibration mark, gaps named, annotation labels that do not cover each
// other, a damaged block marked; screenshots go to OUTDIR.
// (The figures: bench/bench_viewer.mjs.)
import { launch, ready } from './browser_common.mjs';

const [mode, ...args] = process.argv.slice(2);
let failed = 0, passed = 0;
function check(cond, what) {
  if (cond) passed++;
  else { failed++; console.error('CHECK failed: ' + what); }
}

function sameBits(a, b) { // arrays of numbers, NaN equal to NaN
  if (a.length !== b.length) return false;
  const fa = new Float32Array(a), fb = new Float32Array(b);
  const ua = new Uint32Array(fa.buffer), ub = new Uint32Array(fb.buffer);
  for (let i = 0; i < fa.length; i++)
    if (ua[i] !== ub[i] && !(fa[i] !== fa[i] && fb[i] !== fb[i])) return false;
  return true;
}

// Every drawn row equals a fresh API read of that channel alone.
async function checkDrawn(base, page, drawn, label) {
  const info = await page.evaluate(() => window.__mef3.info);
  const path = info.path;
  for (const name of drawn.channels) {
    const row = drawn.rows[name];
    check(row, label + ': channel ' + name + ' drawn');
    if (!row) continue;
    let url = base + 'api/' + (drawn.kind === 'raw' ? 'window' : 'envelope') +
      '?path=' + encodeURIComponent(path) + '&channels=' + encodeURIComponent(name) +
      '&start=' + Math.round(drawn.start) + '&end=' + Math.round(drawn.start + (drawn.end - drawn.start));
    if (drawn.kind !== 'raw') url += '&columns=' + drawn.key.split('|')[0].slice(1);
    const r = await fetch(url);
    check(r.ok, label + ': ' + url + ' ' + r.status);
    const vals = Array.from(new Float32Array(await r.arrayBuffer()));
    check(sameBits(row.values, vals), label + ': ' + name + ' drawn values equal the API\'s (' +
      row.values.length + ' vs ' + vals.length + ')');
    const t = drawn.kind === 'raw' ? +r.headers.get('X-Mef3-Start-Uutc')
      : +r.headers.get('X-Mef3-First-Uutc');
    check(t === row.t0, label + ': ' + name + ' time base ' + row.t0 + ' = ' + t);
  }
}

// The gain fitted to the first page: one lane holds the 2nd to 98th
// percentile of the median channel, within one step of GAINS (at most
// x2.5).
function fitsLane(d, gain, label) {
  const spans = Object.values(d.rows).map((r) => {
    const v = r.values.filter((x) => x === x).sort((a, b) => a - b);
    return v[Math.floor(v.length * 0.98)] - v[Math.floor(v.length * 0.02)];
  }).sort((a, b) => a - b);
  const m = spans[Math.floor(spans.length / 2)];
  check(m <= gain && m > gain / 2.5, label + ': the first gain fits the data (' + m.toFixed(1) +
    ' within ' + gain + ' per lane)');
}

async function test(urlPlain, urlEnc, out, serverPid, urlDmg) {
  const base = urlPlain.split('#')[0];
  const browser = await launch();
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('pageerror', (e) => { failed++; console.error('page error: ' + e.message); });
  await page.goto(urlPlain);
  let d = await ready(page);
  const info = await page.evaluate(() => window.__mef3.info);
  const names = info.channels.map((c) => c.name);
  check(names.length === 8, 'eight channels listed, got ' + names.length);
  check(JSON.stringify(d.channels) === JSON.stringify(names), 'all channels drawn in order');
  check(d.kind === 'raw', 'a 10 s window is drawn from samples');
  await checkDrawn(base, page, d, 'first page');
  const g0 = await page.evaluate(() => window.__mef3.state.gain);
  fitsLane(d, g0, 'first page');
  check(Object.values(d.rows).every((r) => !r.inLane), 'a page of seconds is not clipped to its lanes');
  const gtext = await page.$eval('#gain', (x) => x.textContent);
  check(/ µV\/div$/.test(gtext), 'the gain is in µV/div: ' + gtext);
  check(d.scale && d.scale.uv > 0 && d.scale.uv <= g0 / 2 && d.scale.units === 'µV' && d.scale.s === 1,
    'a calibration mark of a round µV and 1 s: ' + JSON.stringify(d.scale));
  const opts = await page.$$eval('#chlist li', (l) => l.map((x) => x.textContent));
  check(opts.length === 8 && opts[0].includes(names[0]), 'the channel panel lists them');
  await page.screenshot({ path: out + '/viewer-first-page.png' });

  // page forward and back with the keys
  const s0 = d.start, w = d.end - d.start;
  await page.keyboard.press('ArrowRight');
  d = await ready(page);
  check(d.start === s0 + w, 'page forward moves one window (' + (d.start - s0) + ' µs)');
  await checkDrawn(base, page, d, 'page forward');
  const hash = await page.evaluate(() => location.hash);
  check(hash.includes('t=10.000') && hash.includes('w=10'), 'the view is in the URL: ' + hash);
  await page.keyboard.press('ArrowLeft');
  d = await ready(page);
  check(d.start === s0, 'page back returns');
  await page.click('#fwd');
  d = await ready(page);
  check(d.start === s0 + w, 'the forward button pages too');

  // the whole recording: envelopes
  await page.keyboard.press('0');
  d = await ready(page);
  check(d.kind === 'envelope', 'the whole recording is drawn from envelopes');
  check(d.start === info.start_uutc && d.end === info.end_uutc, 'it spans the recording');
  await checkDrawn(base, page, d, 'whole recording');
  check(Object.values(d.rows).every((r) => r.inLane), 'zoomed out, each channel stays in its lane');
  check(d.annotations.length >= 3 && new Set(d.annotations.map((a) => a.row)).size >= 2,
    'annotation labels close together take rows of their own: ' + JSON.stringify(d.annotations.map((a) => a.row)));
  await page.screenshot({ path: out + '/viewer-whole-recording.png' });

  // a URL restores the view: 30 s at 120 s
  await page.goto(base + '#path=' + encodeURIComponent(info.path) + '&t=120&w=30&ch=' +
    names[2] + ',' + names[0] + '&g=200');
  await page.reload();
  d = await ready(page);
  check(d.start === info.start_uutc + 120e6 && d.end - d.start === 30e6, 'the URL gives the view');
  check(JSON.stringify(d.channels) === JSON.stringify([names[2], names[0]]), 'and its channels');

  // pick channels
  await page.evaluate((n) => window.__mef3.pickChannels(n), [names[5], names[1], names[3]]);
  d = await ready(page);
  check(JSON.stringify(d.channels) === JSON.stringify([names[5], names[1], names[3]]), 'picked channels drawn in order');
  await checkDrawn(base, page, d, 'picked channels');
  // a gap is drawn as a break: the generated session has gaps
  await page.evaluate((t) => { window.__mef3.state.t0 = t; }, 0);
  const gapRun = info.channels[0].runs;
  check(gapRun.length >= 2, 'the session has gaps');
  const gapAt = gapRun[0][1];
  await page.goto(base + '#path=' + encodeURIComponent(info.path) + '&t=' +
    ((gapAt - info.start_uutc) / 1e6 - 5).toFixed(3) + '&w=30');
  await page.reload();
  d = await ready(page);
  const row = d.rows[names[0]];
  const nan = row.values.filter((v) => v !== v).length;
  check(nan > 0 && row.damaged.length === 0, 'a gap is NaN in the data and not called damage');
  const gapS = ((gapRun[1][0] - gapRun[0][1]) / 1e6).toFixed(2).replace(/\.?0+$/, '');
  check(d.gapLabels.length === 1 && d.gapLabels[0] === 'gap ' + gapS + ' s',
    'the gap is named with its length: ' + JSON.stringify(d.gapLabels) + ' (' + gapS + ' s)');
  await page.screenshot({ path: out + '/viewer-gap.png' });

  // zoom in to 1 s
  for (let i = 0; i < 6; i++) await page.keyboard.press('+');
  d = await ready(page);
  check(d.end - d.start === 1e6, 'zoom in reaches 1 s, got ' + (d.end - d.start));

  // encrypted: a wrong password, then the right one
  const p2 = await browser.newPage({ viewport: { width: 1200, height: 700 } });
  await p2.goto(urlEnc);
  await p2.waitForSelector('#pwform:not([hidden])');
  await p2.fill('#pw', 'wrong');
  await p2.press('#pw', 'Enter');
  await p2.waitForFunction(() => /Wrong password/.test(document.getElementById('pwerr').textContent));
  const pwerr = await p2.$eval('#pwerr', (x) => x.textContent);
  check(pwerr === 'Wrong password: the password is not valid for this session.',
    'a wrong password is named, in words: ' + pwerr);
  await p2.screenshot({ path: out + '/viewer-wrong-password.png' });
  await p2.fill('#pw', 'l2pass');
  await p2.press('#pw', 'Enter');
  const d2 = await ready(p2);
  check(d2.channels.length === 2, 'the right password opens the session');
  const g2 = await p2.evaluate(() => window.__mef3.state.gain);
  fitsLane(d2, g2, 'encrypted session');
  const g2text = await p2.$eval('#gain', (x) => x.textContent);
  check(g2 >= 1000 ? g2text === g2 / 1000 + ' mV/div' : g2text === g2 + ' µV/div',
    'a gain of ' + g2 + ' µV reads ' + g2text);
  check(await p2.$eval('#pwform', (f) => f.hidden), 'the form goes away');
  await p2.screenshot({ path: out + '/viewer-encrypted.png' });

  // a damaged block: marked and named where it is
  const p3 = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const base3 = urlDmg.split('#')[0];
  await p3.goto(urlDmg);
  await ready(p3);
  const info3 = await p3.evaluate(() => window.__mef3.info);
  const c0 = info3.channels[0];
  const wr = await fetch(base3 + 'api/window?path=' + encodeURIComponent(info3.path) + '&channels=' +
    encodeURIComponent(c0.name) + '&start=' + c0.start_uutc + '&end=' + c0.end_uutc);
  const nS = +wr.headers.get('X-Mef3-Samples'), tS = +wr.headers.get('X-Mef3-Start-Uutc');
  const all = new Float32Array(await wr.arrayBuffer());
  // a NaN run of at least 100 samples with its middle inside a run of data
  // (a gap's edges are NaN too)
  let bad = -1;
  for (let i = 0, from = -1; i <= nS && bad < 0; i++) {
    if (i < nS && all[i] !== all[i]) { if (from < 0) from = i; continue; }
    const mid = tS + (((from + i) / 2) * 1e6) / c0.fs;
    if (from >= 0 && i - from >= 100 && c0.runs.some(([a, b]) => mid >= a && mid < b))
      bad = tS + (from * 1e6) / c0.fs;
    from = -1;
  }
  check(bad > 0, 'the damaged copy reads NaN inside its data');
  await p3.goto(base3 + '#path=' + encodeURIComponent(info3.path) + '&t=' +
    ((bad - info3.start_uutc) / 1e6 - 10).toFixed(3) + '&w=30');
  await p3.reload();
  const d3 = await ready(p3);
  // (one block of 256 samples, to a column of the envelope drawn)
  const dm = d3.rows[c0.name].damaged, col = ((d3.rows[c0.name].spc + 1) * 1e6) / c0.fs;
  check(dm.length === 1 && Math.abs(dm[0][0] - bad) <= col &&
    Math.abs(dm[0][1] - dm[0][0] - 256e6 / c0.fs) <= 2 * col, 'the damaged block is marked: ' + JSON.stringify(dm));
  check(Object.entries(d3.rows).every(([n, r]) => n === c0.name || r.damaged.length === 0),
    'only its channel is marked');
  await p3.screenshot({ path: out + '/viewer-damaged-block.png' });

  // the server goes away
  process.kill(+serverPid, 'SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  await page.keyboard.press('ArrowRight');
  await page.waitForFunction(() => /Lost the server/.test(window.__mef3.message), null, { timeout: 10000 });
  check(true, 'a lost server is reported');
  await page.screenshot({ path: out + '/viewer-lost-server.png' });
  await browser.close();
}

try {
  if (mode === 'test') await test(...args);
  else { console.error('usage: viewer_test.mjs test ...'); process.exit(2); }
} catch (e) {
  failed++;
  console.error('error: ' + (e.stack || e));
}
if (mode === 'test') console.log(passed + ' passed, ' + failed + ' failed');
process.exit(failed ? 1 : 0);
