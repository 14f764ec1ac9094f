// mef3pool viewer: pages through one session of the HTTP API (docs/http.md).
// Plain JavaScript and canvas, no library, nothing fetched but from the
// server that served the page.
//
// Model: the view is (start, window length, channels, gains), kept in the
// URL's fragment.  A frame draws whatever cached data overlaps the view
// (so dragging never waits); the data for the view itself is requested
// at once, the request for a view left meanwhile is aborted, and the
// pages before and after are prefetched.  Windows whose samples would be
// denser than 4 per pixel are drawn from min/max envelopes instead.
'use strict';

const WINDOWS = [1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600,
  7200, 14400, 28800, 86400];
const GAINS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000,
  20000, 50000, 1e5, 2e5, 5e5, 1e6];
const LEFT = 120, RIGHT = 8, RAW_MAX_PER_PX = 4, CACHE_MAX = 64;

const $ = (id) => document.getElementById(id);
const S = { path: null, info: null, t0: 0, w: 10, ch: [], gain: 100, cg: {},
  sel: null, records: [], overview: null };
const hook = window.__mef3 = { state: S, drawn: null, frames: 0, errors: [],
  inputLatencies: [], inputDrawMs: [], dragFrames: [], dragMoves: 0, message: '', pending: 0,
  ready: () => waitIdle() };
const cache = new Map(); // key -> {promise, result, ctl, t}
let fgKey = null, fgCtl = null, inputT = null, lost = false, dirty = false;

// ---------- messages ----------
function say(text, isError) {
  const m = $('msg');
  hook.message = text || '';
  if (!text) { m.hidden = true; return; }
  m.hidden = false;
  m.textContent = text;
  m.className = isError ? 'error' : '';
}

class ApiError extends Error {
  constructor(status, code, msg) { super(msg); this.status = status; this.code = code; }
}

// The open's access token (encrypted sessions): sent in a header on every
// call, never in a URL; kept in memory only.
let token = null;

async function api(url, opts) {
  let r;
  opts = Object.assign({}, opts);
  if (token) opts.headers = Object.assign({}, opts.headers, { 'X-Mef3-Token': token });
  try {
    r = await fetch(url, opts);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    serverLost(e);
    throw e;
  }
  if (lost) serverBack();
  if (!r.ok) {
    let j = {};
    try { j = await r.json(); } catch (e) { /* not JSON */ }
    throw new ApiError(r.status, j.code || 'ERROR', j.error || r.statusText);
  }
  return r;
}

function serverLost(e) {
  if (lost) return;
  lost = true;
  say('Lost the server (' + location.host + '): ' + e.message +
      '. Retrying every 2 s; what is on screen stays.', true);
  const ping = () => fetch('api/sessions', { cache: 'no-store' })
    .then((r) => { if (r.ok) serverBack(); else setTimeout(ping, 2000); })
    .catch(() => setTimeout(ping, 2000));
  setTimeout(ping, 2000);
}

function serverBack() {
  if (!lost) return;
  lost = false;
  say('');
  for (const [k, c] of cache) if (!c.result) cache.delete(k);
  schedule();
}

// ---------- view state in the URL ----------
function readHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  return { path: p.get('path'), t: parseFloat(p.get('t')), w: parseFloat(p.get('w')),
    ch: p.get('ch'), g: parseFloat(p.get('g')), cg: p.get('cg') };
}

function writeHash() {
  if (!S.info) return;
  const p = new URLSearchParams();
  p.set('path', S.path);
  p.set('t', ((S.t0 - S.info.start_uutc) / 1e6).toFixed(3));
  p.set('w', String(S.w));
  p.set('ch', S.ch.join(','));
  p.set('g', String(S.gain));
  const cg = Object.entries(S.cg).filter(([, v]) => v !== 1).map(([k, v]) => k + ':' + v);
  if (cg.length) p.set('cg', cg.join(','));
  history.replaceState(null, '', '#' + p.toString());
}

// ---------- opening ----------
async function start() {
  const h = readHash();
  let path = h.path;
  try {
    if (!path) {
      const s = await (await api('api/sessions')).json();
      path = s.open[0] || s.available[0];
      if (!path) { say('No session is open and none is available.', true); return; }
    }
    S.path = path;
    $('title').textContent = path;
    let info;
    try {
      info = await (await api('api/info?path=' + encodeURIComponent(path))).json();
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 404) throw e;
      info = await openSession(path, null);
    }
    if (info) setInfo(info, h);
  } catch (e) {
    if (e instanceof ApiError && e.code === 'EPASSWORD') askPassword(path, '');
    else if (e.name !== 'AbortError' && !lost) say('Cannot open ' + path + ': ' + e.message, true);
  }
}

async function openSession(path, password) {
  const body = JSON.stringify(password == null ? { path } : { path, password });
  const r = await api('api/open', { method: 'POST', body,
    headers: { 'Content-Type': 'application/json' } });
  const info = await r.json();
  token = info.token || null;
  delete info.token;
  return info;
}

// "P: F: the password is not valid": the reason without the paths (the
// form names the session).
function lastClause(m) { const i = m.lastIndexOf(': '); return i < 0 ? m : m.slice(i + 2); }

function askPassword(path, err) {
  $('pwform').hidden = false;
  $('pwpath').textContent = path;
  $('pwerr').textContent = err;
  hook.message = err || 'password needed';
  $('pw').focus();
}

$('pwform').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const pw = $('pw').value;
  $('pw').value = '';
  try {
    const info = await openSession(S.path, pw);
    $('pwform').hidden = true;
    setInfo(info, readHash());
  } catch (e) {
    if (e instanceof ApiError && e.code === 'EPASSWORD')
      askPassword(S.path, 'Wrong password: ' + lastClause(e.message) + '.');
    else askPassword(S.path, e.message);
  }
});

function setInfo(info, h) {
  S.info = info;
  hook.info = info;
  const names = info.channels.map((c) => c.name);
  S.ch = h.ch ? h.ch.split(',').filter((n) => names.includes(n)) : names.slice(0, 32);
  if (!S.ch.length) S.ch = names.slice(0, 32);
  S.w = h.w > 0 ? h.w : 10;
  S.t0 = info.start_uutc + (isFinite(h.t) ? Math.round(h.t * 1e6) : 0);
  S.autoGain = !(h.g > 0); // set from the first page's data (fitGain)
  if (h.g > 0) S.gain = h.g;
  S.cg = {};
  if (h.cg) for (const kv of h.cg.split(',')) {
    const [k, v] = kv.split(':');
    if (names.includes(k) && parseFloat(v) > 0) S.cg[k] = parseFloat(v);
  }
  const sel = $('win');
  sel.innerHTML = '';
  for (const w of WINDOWS) sel.add(new Option(fmtDur(w), String(w)));
  sel.add(new Option('all', 'all'));
  buildChannelPanel();
  loadRecords();
  clampView();
  hook.openedAt = performance.now();
  schedule();
  loadOverview();
}

async function loadRecords() {
  try {
    const r = await api('api/records?path=' + encodeURIComponent(S.path));
    S.records = await r.json();
  } catch (e) { S.records = []; }
  const a = $('annots');
  a.length = 1;
  for (const x of S.records) {
    const label = fmtFromStart(x.time) + '  ' + x.type + (x.text ? ': ' + x.text : '');
    a.add(new Option(label.slice(0, 80), String(x.time)));
  }
  dirty = true;
}

// ---------- time ----------
function pad(n, k = 2) { return String(n).padStart(k, '0'); }
function fmtDur(s) {
  if (s < 60) return s + ' s';
  if (s < 3600) return s / 60 + ' min';
  return s / 3600 + ' h';
}
function fmtHMS(sec, frac) {
  const neg = sec < 0; sec = Math.abs(sec);
  const h = Math.floor(sec / 3600), m = Math.floor(sec / 60) % 60, s = sec % 60;
  const ss = frac ? s.toFixed(frac).padStart(3 + frac, '0') : pad(Math.floor(s));
  return (neg ? '-' : '') + pad(h) + ':' + pad(m) + ':' + ss;
}
// A duration in µs as a reader says it: 4.16 s, 2 min 5 s, 1 h 3 min.
function fmtSpan(us) {
  const s = us / 1e6;
  if (s < 60) return (s < 10 ? s.toFixed(2) : s.toFixed(1)).replace(/\.?0+$/, '') + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + Math.round(s % 60) + ' s';
  return Math.floor(s / 3600) + ' h ' + Math.round((s % 3600) / 60) + ' min';
}
function fmtFromStart(t) { return '+' + fmtHMS((t - S.info.start_uutc) / 1e6, 0); }
function fmtClock(t, frac) {
  if (S.info.times_relative) return fmtFromStart(t);
  const off = (S.info.gmt_offset_s || 0) * 1e6;
  const d = new Date((t + off) / 1000);
  const s = pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ':' +
    (frac ? (d.getUTCSeconds() + (d.getUTCMilliseconds() / 1000)).toFixed(frac).padStart(3 + frac, '0')
          : pad(d.getUTCSeconds()));
  return s;
}
function fmtDate(t) {
  if (S.info.times_relative) return 'times relative (recording offset unknown)';
  const d = new Date(t / 1000);
  const off = S.info.gmt_offset_s;
  let s = d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  if (off) {
    const sign = off < 0 ? '-' : '+', a = Math.abs(off);
    s += ' · local (UTC' + sign + pad(Math.floor(a / 3600)) + ':' + pad(Math.floor(a / 60) % 60) +
      ') ' + fmtClock(t, 0);
  }
  return s;
}

// Parse "hh:mm:ss", "600s", "10m", "1.5h", "+123" (seconds) or an ISO time.
function parseJump(s) {
  s = s.trim();
  let m;
  if ((m = /^\+?(\d+):(\d\d):(\d\d(?:\.\d+)?)$/.exec(s)))
    return S.info.start_uutc + Math.round((+m[1] * 3600 + +m[2] * 60 + +m[3]) * 1e6);
  if ((m = /^\+?(\d+(?:\.\d+)?)\s*(s|m|min|h)?$/.exec(s))) {
    const f = { s: 1, m: 60, min: 60, h: 3600 }[m[2] || 's'];
    return S.info.start_uutc + Math.round(+m[1] * f * 1e6);
  }
  const d = Date.parse(s);
  if (!isNaN(d)) return d * 1000;
  return null;
}

// ---------- data ----------
function plotWidth() { return Math.max(50, $('traces').clientWidth - LEFT - RIGHT); }
function duration() { return (S.info.end_uutc - S.info.start_uutc) / 1e6; }
function clampView() {
  const d = duration();
  if (S.w > d) S.w = d > 0 ? d : 1;
  const span = S.w * 1e6;
  if (S.t0 + span > S.info.end_uutc) S.t0 = S.info.end_uutc - span;
  if (S.t0 < S.info.start_uutc) S.t0 = S.info.start_uutc;
  S.t0 = Math.round(S.t0);
}

function groups(names) { // channels by rate
  const g = new Map();
  for (const n of names) {
    const c = S.info.channels.find((x) => x.name === n);
    if (!c) continue;
    const k = c.fs;
    if (!g.has(k)) g.set(k, []);
    g.get(k).push(n);
  }
  return [...g.entries()].map(([fs, ns]) => ({ fs, names: ns }));
}

function viewReq(t0, w, pw) {
  const maxFs = Math.max(...groups(S.ch).map((g) => g.fs));
  const raw = (w * maxFs) / pw <= RAW_MAX_PER_PX;
  const cols = Math.min(4096, Math.max(16, Math.round(pw)));
  const t1 = Math.round(t0 + w * 1e6);
  const key = [raw ? 'w' : 'e' + cols, t0, t1, S.ch.join(',')].join('|');
  return { raw, cols, t0: Math.round(t0), t1, key, w };
}

async function fetchGroup(req, g, signal) {
  const q = 'path=' + encodeURIComponent(S.path) + '&channels=' +
    g.names.map(encodeURIComponent).join(',') + '&start=' + req.t0 + '&end=' + req.t1;
  const url = req.raw ? 'api/window?' + q : 'api/envelope?' + q + '&columns=' + req.cols;
  const r = await api(url, { signal });
  const buf = new Float32Array(await r.arrayBuffer());
  const H = (n) => r.headers.get(n);
  const fs = parseFloat(H('X-Mef3-Fs'));
  const out = { url, fs, rows: {} };
  if (req.raw) {
    const n = +H('X-Mef3-Samples'), t = +H('X-Mef3-Start-Uutc');
    g.names.forEach((name, i) => { out.rows[name] = { t0: t, n, data: buf.subarray(i * n, (i + 1) * n) }; });
  } else {
    const nc = +H('X-Mef3-Columns'), spc = +H('X-Mef3-Samples-Per-Column');
    const firsts = H('X-Mef3-First-Uutc').split(',').map(Number);
    g.names.forEach((name, i) => {
      out.rows[name] = { t0: firsts[i], n: nc, spc, env: true,
        data: buf.subarray(i * nc * 2, (i + 1) * nc * 2) };
    });
  }
  return out;
}

function load(req, prefetch) {
  let c = cache.get(req.key);
  if (c) { c.t = performance.now(); return c; }
  const ctl = new AbortController();
  c = { req, ctl, result: null, t: performance.now(), prefetch };
  c.promise = Promise.all(groups(S.ch).map((g) => fetchGroup(req, g, ctl.signal)))
    .then((parts) => {
      const rows = {};
      for (const p of parts) Object.assign(rows, p.rows);
      c.result = { req, rows, urls: parts.map((p) => p.url) };
      dirty = true;
      return c.result;
    })
    .catch((e) => { cache.delete(req.key); throw e; });
  cache.set(req.key, c);
  if (cache.size > CACHE_MAX) { // drop the least recently used finished ones
    const old = [...cache.values()].filter((x) => x.result).sort((a, b) => a.t - b.t);
    for (const x of old.slice(0, cache.size - CACHE_MAX)) cache.delete(x.req.key);
  }
  return c;
}

// The request for the current view; the one for a view left is aborted.
function schedule() {
  if (!S.info || lost) return;
  clampView();
  writeHash();
  const req = viewReq(S.t0, S.w, plotWidth());
  if (fgKey !== req.key && fgCtl) {
    const old = cache.get(fgKey);
    if (old && !old.result) { old.ctl.abort(); cache.delete(fgKey); }
  }
  fgKey = req.key;
  const c = load(req, false);
  fgCtl = c.ctl;
  dirty = true;
  if (!c.result) {
    hook.pending++;
    c.promise.then(() => prefetch(req), (e) => {
      if (e.name !== 'AbortError') report(e);
    }).finally(() => { hook.pending--; dirty = true; });
  } else {
    prefetch(req);
  }
}

function prefetch(req) {
  if (req.key !== fgKey) return;
  // The overview first: on a cold server it decodes the whole recording,
  // and the pages around can wait for it, the one on screen cannot.
  if (overviewLoading) { overviewLoading.then(() => prefetch(req)); return; }
  const span = req.t1 - req.t0;
  for (const t of [req.t1, req.t0 - span, req.t1 + span]) {
    if (t < S.info.start_uutc - span || t >= S.info.end_uutc) continue;
    const r = viewReq(t, S.w, plotWidth());
    load(r, true).promise.catch(() => {});
  }
}

function report(e) {
  hook.errors.push(e.message);
  if (e instanceof ApiError) say('The server refused a window: ' + e.message, true);
}

// ---------- drawing ----------
function fitCanvas(cv) {
  const r = window.devicePixelRatio || 1;
  const w = Math.round(cv.clientWidth * r), h = Math.round(cv.clientHeight * r);
  if (cv.width !== w || cv.height !== h) { cv.width = w; cv.height = h; }
  const ctx = cv.getContext('2d');
  ctx.setTransform(r, 0, 0, r, 0, 0);
  return ctx;
}

function chanInfo(name) { return S.info.channels.find((c) => c.name === name); }

// Which stretches of [t0, t1) hold no sample: gaps between the channel's
// runs.  Returned as [a, b] pairs.
function gapsOf(c, t0, t1) {
  const out = [];
  let prev = c.start_uutc;
  if (t0 < prev) out.push([t0, prev]);
  for (const [a, b] of c.runs) {
    if (a > prev && a > t0 && prev < t1) out.push([Math.max(prev, t0), Math.min(a, t1)]);
    prev = Math.max(prev, b);
  }
  if (prev < t1) out.push([Math.max(prev, t0), t1]);
  return out;
}
function inGap(c, t) {
  if (t < c.start_uutc || t >= c.end_uutc) return true;
  for (const [a, b] of c.runs) if (t >= a && t < b) return false;
  return true;
}

function draw() {
  if (!S.info) return;
  const drawT = performance.now();
  const cv = $('traces'), ctx = fitCanvas(cv);
  const W = cv.clientWidth, H = cv.clientHeight, PW = plotWidth();
  const v0 = S.t0, v1 = S.t0 + S.w * 1e6, req = viewReq(S.t0, S.w, PW);
  const X = (t) => LEFT + ((t - v0) / (v1 - v0)) * PW;
  ctx.clearRect(0, 0, W, H);
  const n = S.ch.length, laneH = H / Math.max(1, n);
  // the cached data that overlaps the view, the exact one last (on top)
  const sets = [...cache.values()].filter((c) => c.result && c.req.t0 < v1 && c.req.t1 > v0 &&
    c.req.raw === req.raw && Math.abs(c.req.w - S.w) < 1e-9 && c.req.key.endsWith('|' + S.ch.join(',')));
  sets.sort((a, b) => (a.req.key === req.key) - (b.req.key === req.key));
  const exact = sets.find((c) => c.req.key === req.key);
  if (exact && S.autoGain) fitGain(exact.result.rows);
  if (exact && hook.firstPageMs == null && hook.openedAt != null)
    hook.firstPageMs = performance.now() - hook.openedAt;
  // grid: seconds
  drawGrid(ctx, X, v0, v1, H);
  const drawn = { kind: req.raw ? 'raw' : 'envelope', start: v0, end: v1, key: req.key,
    complete: !!exact, channels: S.ch.slice(), rows: {}, urls: exact ? exact.result.urls : [],
    gapLabels: [] };
  ctx.save();
  ctx.beginPath();
  ctx.rect(LEFT, 0, PW, H);
  ctx.clip();
  for (let i = 0; i < n; i++) {
    const name = S.ch[i], c = chanInfo(name), y0 = (i + 0.5) * laneH;
    const upd = S.gain * (S.cg[name] || 1), k = laneH / upd; // px per unit
    // gaps grey, named when there is room
    ctx.fillStyle = '#eceef2';
    for (const [a, b] of gapsOf(c, v0, v1)) {
      const xa = X(a), gw = Math.max(1, X(b) - xa);
      ctx.fillStyle = '#eceef2';
      ctx.fillRect(xa, i * laneH, gw, laneH);
      const inside = a > c.start_uutc && b < c.end_uutc; // not before or after the data
      const label = (inside ? 'gap ' : 'no data ') + fmtSpan(b - a);
      ctx.font = '11px system-ui';
      if (laneH >= 16 && gw > ctx.measureText(label).width + 8) {
        if (i === 0) drawn.gapLabels.push(label);
        ctx.fillStyle = '#6a7080';
        ctx.fillText(label, xa + (gw - ctx.measureText(label).width) / 2, (i + 0.5) * laneH + 4);
      }
    }
    ctx.strokeStyle = S.sel === name ? '#b00060' : '#0a2a6a';
    ctx.lineWidth = 1;
    for (const set of sets) {
      const row = set.result.rows[name];
      if (!row) continue;
      // Zoomed out to minutes (columns of a quarter second or more), a
      // channel's envelope stays in its lane: a band per channel, not one
      // mass.  Pages of seconds are not clipped (a spike keeps its height).
      const lane = row.env && row.spc / c.fs >= 0.25;
      if (lane) { ctx.save(); ctx.beginPath(); ctx.rect(LEFT, i * laneH, PW, laneH); ctx.clip(); }
      const damaged = row.env ? drawEnv(ctx, row, c, X, y0, k, v0, v1) : drawRaw(ctx, row, c, X, y0, k, v0, v1);
      if (lane) ctx.restore();
      for (const [a, b] of damaged) { // NaN inside a run: a damaged block
        ctx.fillStyle = 'rgba(220,40,40,0.18)';
        ctx.fillRect(X(a), i * laneH, Math.max(2, X(b) - X(a)), laneH);
        // named on a white ground: over the traces it must stay legible
        ctx.font = '11px system-ui';
        const label = 'damaged block: no data ' + fmtFromStart(a) + '–' + fmtFromStart(b);
        const lx = Math.max(LEFT + 2, X(a) + 2), lw = ctx.measureText(label).width;
        ctx.fillStyle = 'rgba(255,255,255,0.9)';
        ctx.fillRect(lx - 2, i * laneH + 2, lw + 4, 13);
        ctx.fillStyle = '#a00';
        ctx.fillText(label, lx, i * laneH + 12);
      }
      if (set === exact) drawn.rows[name] = { t0: row.t0, n: row.n, spc: row.spc || 1,
        fs: c.fs, values: row.data, damaged, inLane: lane };
    }
  }
  ctx.restore();
  // annotations: a dashed line and a label, labels that would overlap
  // put on the next of three rows (then cut short)
  ctx.font = '11px system-ui';
  const rowEnd = [-1e9, -1e9, -1e9];
  drawn.annotations = [];
  for (const r of S.records) {
    if (r.time < v0 || r.time >= v1) continue;
    const x = X(r.time);
    ctx.strokeStyle = '#d07000';
    ctx.setLineDash([4, 3]);
    ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, H); ctx.stroke();
    ctx.setLineDash([]);
    const label = r.type + (r.text ? ': ' + r.text : '');
    let row = rowEnd.findIndex((e) => e < x);
    const cut = row < 0; // every row taken here: over the oldest, short
    if (cut) row = rowEnd.indexOf(Math.min(...rowEnd));
    const tw = Math.min(ctx.measureText(label).width + 6, cut ? 120 : 320);
    ctx.fillStyle = 'rgba(255,240,215,0.95)';
    ctx.fillRect(x + 1, 1 + row * 16, tw, 15);
    ctx.fillStyle = '#7a3a00';
    ctx.fillText(label, x + 4, 12 + row * 16, tw - 6);
    rowEnd[row] = Math.max(rowEnd[row], x + tw + 2);
    drawn.annotations.push({ time: r.time, label, row });
  }
  // labels
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, LEFT - 2, H);
  for (let i = 0; i < n; i++) {
    const name = S.ch[i], c = chanInfo(name);
    const upd = S.gain * (S.cg[name] || 1);
    ctx.fillStyle = S.sel === name ? '#b00060' : '#111';
    ctx.font = '600 12px system-ui';
    ctx.fillText(name, 6, (i + 0.5) * laneH - 2, LEFT - 10);
    ctx.font = '10px system-ui';
    ctx.fillStyle = '#555';
    if (laneH > 22) ctx.fillText(fmtAmp(upd, c.units) + '/div', 6, (i + 0.5) * laneH + 10, LEFT - 10);
    ctx.strokeStyle = '#e4e6ea';
    ctx.beginPath(); ctx.moveTo(0, (i + 1) * laneH); ctx.lineTo(W, (i + 1) * laneH); ctx.stroke();
  }
  drawn.scale = drawScaleBar(ctx, W, H, PW, laneH);
  if (!exact && hook.pending) {
    ctx.fillStyle = '#888'; ctx.font = '12px system-ui';
    ctx.fillText('loading…', W - 70, H - 6);
  }
  drawAxis(v0, v1);
  drawOverview();
  $('clock').textContent = fmtDate(v0) + '  ·  ' + fmtFromStart(v0) + ' of ' + fmtHMS(duration(), 0);
  $('gain').textContent = fmtAmp(S.gain, (chanInfo(S.ch[0]) || {}).units) + '/div';
  $('win').value = WINDOWS.includes(S.w) ? String(S.w) : 'all';
  hook.drawn = drawn;
  hook.frames++;
  if (exact && inputT != null) {
    hook.inputLatencies.push(performance.now() - inputT);
    hook.inputDrawMs.push(performance.now() - drawT);
    inputT = null;
  }
}

// The first gain, when the URL gives none: one lane (a div) holds the
// 2nd to 98th percentile of a typical channel (the median over those
// shown), rounded up to a step of GAINS, so traces neither overlap their
// neighbours nor look flat, whatever the recording's amplitude.
function fitGain(rows) {
  S.autoGain = false;
  const spans = [];
  for (const name of S.ch) {
    const r = rows[name];
    if (!r) continue;
    const v = Array.from(r.data).filter((x) => x === x).sort((a, b) => a - b);
    if (v.length < 10) continue;
    spans.push(v[Math.floor(v.length * 0.98)] - v[Math.floor(v.length * 0.02)]);
  }
  if (!spans.length) return;
  spans.sort((a, b) => a - b);
  const want = spans[Math.floor(spans.length / 2)];
  if (!(want > 0)) return;
  S.gain = GAINS.find((g) => g >= want) || GAINS[GAINS.length - 1];
  writeHash();
}

// The calibration mark of EEG paper, bottom right: a vertical bar of a
// round amplitude at the global gain (about half a lane) and a horizontal
// one of a round time.
function drawScaleBar(ctx, W, H, PW, laneH) {
  const nice = (x) => { // the largest 1-2-5 step <= x
    const p = Math.pow(10, Math.floor(Math.log10(x)));
    return [5, 2, 1].map((m) => m * p).find((v) => v <= x * (1 + 1e-9)) || p;
  };
  const uv = nice(S.gain * 0.5), hpx = (uv / S.gain) * laneH;
  const secs = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600];
  const sec = secs.filter((x) => x <= S.w / 8).pop() || secs[0], wpx = (sec / S.w) * PW;
  const units = fmtUnits((chanInfo(S.ch[0]) || {}).units);
  ctx.font = '11px system-ui';
  const tl = sec >= 60 ? fmtDur(sec) : sec + ' s', al = fmtAmp(uv, (chanInfo(S.ch[0]) || {}).units);
  const x1 = W - RIGHT - 6, y1 = H - 8, x0 = x1 - wpx;
  // no box over the traces: black on a white halo stays legible on them
  const mark = (color, width) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.beginPath();
    ctx.moveTo(x0, y1 - hpx); ctx.lineTo(x0, y1); ctx.lineTo(x1, y1);
    ctx.stroke();
  };
  mark('rgba(255,255,255,0.9)', 5);
  mark('#000', 2);
  ctx.lineWidth = 1;
  const text = (t, x, y) => {
    ctx.strokeStyle = 'rgba(255,255,255,0.9)';
    ctx.lineWidth = 3;
    ctx.strokeText(t, x, y);
    ctx.lineWidth = 1;
    ctx.fillStyle = '#000';
    ctx.fillText(t, x, y);
  };
  text(al, x0 - ctx.measureText(al).width - 5, y1 - hpx / 2 + 4);
  text(tl, x0 + (wpx - ctx.measureText(tl).width) / 2, y1 - 4);
  return { uv, px: hpx, s: sec, units };
}

// An amplitude with its units: 2000 µV as 2 mV, other units as they are.
function fmtAmp(g, u) {
  const units = fmtUnits(u);
  if (units === 'µV' && g >= 1000) return +(g / 1000).toPrecision(6) + ' mV';
  return +g.toPrecision(6) + (units ? ' ' + units : '');
}
// Units as a reader writes them: MEF files spell micro as "u".
function fmtUnits(u) { return !u ? '' : u === 'uV' ? 'µV' : u === 'uv' ? 'µV' : u; }

// The indices [i0, i1) of a row of step dt that reach into [v0, v1): a
// frame walks only what it shows (a drag shows parts of cached pages).
function visible(row, dt, v0, v1) {
  const i0 = Math.max(0, Math.floor((v0 - row.t0) / dt) - 1);
  return [i0, Math.max(i0, Math.min(row.n, Math.ceil((v1 - row.t0) / dt) + 1))];
}

function drawRaw(ctx, row, c, X, y0, k, v0, v1) {
  const dt = 1e6 / c.fs, d = row.data, damaged = [];
  const [i0, i1] = visible(row, dt, v0, v1);
  let pen = false, nanFrom = -1;
  ctx.beginPath();
  for (let i = i0; i < i1; i++) {
    const v = d[i], t = row.t0 + i * dt;
    if (v !== v) {
      pen = false;
      if (nanFrom < 0) nanFrom = i;
      continue;
    }
    if (nanFrom >= 0) { noteDamage(c, row.t0 + nanFrom * dt, t, damaged); nanFrom = -1; }
    const x = X(t), y = y0 - v * k;
    if (pen) ctx.lineTo(x, y); else { ctx.moveTo(x, y); pen = true; }
  }
  if (nanFrom >= 0) noteDamage(c, row.t0 + nanFrom * dt, row.t0 + i1 * dt, damaged);
  ctx.stroke();
  return damaged;
}

function drawEnv(ctx, row, c, X, y0, k, v0, v1) {
  const dt = (row.spc * 1e6) / c.fs, d = row.data, damaged = [];
  const [j0, j1] = visible(row, dt, v0, v1);
  let pen = false, nanFrom = -1;
  ctx.beginPath();
  for (let j = j0; j < j1; j++) {
    const lo = d[2 * j], hi = d[2 * j + 1], t = row.t0 + j * dt;
    if (lo !== lo) { pen = false; if (nanFrom < 0) nanFrom = j; continue; }
    if (nanFrom >= 0) { noteDamage(c, row.t0 + nanFrom * dt, t, damaged); nanFrom = -1; }
    const x = X(t + dt / 2);
    if (pen) ctx.lineTo(x, y0 - hi * k); else { ctx.moveTo(x, y0 - hi * k); pen = true; }
    ctx.lineTo(x, y0 - lo * k);
  }
  if (nanFrom >= 0) noteDamage(c, row.t0 + nanFrom * dt, row.t0 + j1 * dt, damaged);
  ctx.stroke();
  return damaged;
}

// A NaN stretch that lies inside a run of data is damage, not a gap.
function noteDamage(c, a, b, out) {
  const mid = (a + b) / 2;
  if (!inGap(c, mid) && !inGap(c, a + 1) && b - a > 0) out.push([a, b]);
}

function tickStep(span) {
  const steps = [1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7, 15e6, 3e7, 6e7,
    12e7, 3e8, 6e8, 9e8, 18e8, 36e8, 72e8, 144e8, 288e8, 864e8];
  for (const s of steps) if (span / s <= 12) return s;
  return 864e8;
}

function drawGrid(ctx, X, v0, v1, H) {
  const st = tickStep(v1 - v0), base = S.info.start_uutc;
  ctx.strokeStyle = '#eef0f4';
  ctx.beginPath();
  for (let t = base + Math.ceil((v0 - base) / st) * st; t < v1; t += st) {
    ctx.moveTo(Math.round(X(t)) + 0.5, 0); ctx.lineTo(Math.round(X(t)) + 0.5, H);
  }
  ctx.stroke();
}

function drawAxis(v0, v1) {
  const cv = $('timeaxis'), ctx = fitCanvas(cv), PW = plotWidth();
  const X = (t) => LEFT + ((t - v0) / (v1 - v0)) * PW;
  ctx.clearRect(0, 0, cv.clientWidth, cv.clientHeight);
  const st = tickStep(v1 - v0), base = S.info.start_uutc, frac = st < 1e6 ? (st < 1e5 ? 3 : 1) : 0;
  ctx.font = '11px system-ui';
  ctx.fillStyle = '#333';
  ctx.fillText(S.info.times_relative ? 'from start' : (S.info.gmt_offset_s ? 'local' : 'UTC'), 4, 14);
  ctx.fillText('from start', 4, 30);
  const W = cv.clientWidth;
  for (let t = base + Math.ceil((v0 - base) / st) * st; t < v1; t += st) {
    const x = X(t), a = fmtClock(t, frac), b = '+' + fmtHMS((t - base) / 1e6, frac);
    ctx.fillRect(x, 0, 1, 5);
    // labels centred on their tick, kept inside the strip (the last one
    // would be cut at the right edge) and clear of the row names
    const wa = ctx.measureText(a).width, wb = ctx.measureText(b).width;
    const xa = Math.min(W - wa - 2, x - wa / 2), xb = Math.min(W - wb - 2, x - wb / 2);
    if (xa < 64) continue;
    ctx.fillText(a, xa, 16);
    ctx.fillStyle = '#777';
    ctx.fillText(b, xb, 31);
    ctx.fillStyle = '#333';
  }
}

// ---------- overview ----------
let overviewLoading = null; // the overview's request, while it runs
function loadOverview() {
  const p = overviewLoading = fetchOverview().finally(() => {
    if (overviewLoading === p) overviewLoading = null;
  });
  return p;
}
async function fetchOverview() {
  const cv = $('overview'), cols = Math.min(4096, Math.max(64, cv.clientWidth - LEFT - RIGHT));
  const names = S.ch.slice(0, 16);
  const req = { raw: false, cols, t0: S.info.start_uutc, t1: S.info.end_uutc };
  const t = performance.now();
  try {
    const parts = await Promise.all(groups(names).map((g) => fetchGroup(req, g)));
    const rows = {};
    for (const p of parts) Object.assign(rows, p.rows);
    S.overview = { rows, names };
    hook.overviewMs = performance.now() - t;
    hook.overviewUrls = parts.map((p) => p.url);
    dirty = true;
  } catch (e) { if (!lost) say('No overview: ' + e.message, true); }
}

// The overview's traces change only with its data, the size or the
// records: drawn once into an offscreen canvas, copied every frame under
// the window's marker.
let ovImage = null, ovImageKey = '';

function renderOverview(W, H) {
  const r = window.devicePixelRatio || 1;
  const img = document.createElement('canvas');
  img.width = Math.round(W * r); img.height = Math.round(H * r);
  const ctx = img.getContext('2d');
  ctx.setTransform(r, 0, 0, r, 0, 0);
  const PW = W - LEFT - RIGHT, a = S.info.start_uutc, b = S.info.end_uutc;
  const X = (t) => LEFT + ((t - a) / (b - a)) * PW;
  ctx.fillStyle = '#333';
  ctx.font = '11px system-ui';
  ctx.fillText('whole recording', 4, 14);
  ctx.fillText(fmtHMS(duration(), 0), 4, 28);
  const ov = S.overview;
  if (ov) {
    const n = ov.names.length, lh = H / n;
    ctx.strokeStyle = '#5a6a8a';
    ov.names.forEach((name, i) => {
      const row = ov.rows[name];
      if (!row) return;
      const c = chanInfo(name), dt = (row.spc * 1e6) / c.fs, d = row.data;
      const spans = [];
      for (let j = 0; j < row.n; j++) if (d[2 * j] === d[2 * j]) spans.push(d[2 * j + 1] - d[2 * j]);
      spans.sort((p, q) => p - q);
      const scale = spans.length ? (lh * 0.9) / (spans[Math.floor(spans.length / 2)] * 2 || 1) : 1;
      let mid = 0;
      { let s = 0, m = 0; for (let j = 0; j < row.n; j++) if (d[2 * j] === d[2 * j]) { s += d[2 * j] + d[2 * j + 1]; m += 2; } mid = m ? s / m : 0; }
      const y0 = (i + 0.5) * lh;
      ctx.beginPath();
      for (let j = 0; j < row.n; j++) {
        if (d[2 * j] !== d[2 * j]) continue;
        const x = X(row.t0 + (j + 0.5) * dt);
        ctx.moveTo(x, Math.max(i * lh, y0 - (d[2 * j + 1] - mid) * scale));
        ctx.lineTo(x, Math.min((i + 1) * lh, y0 - (d[2 * j] - mid) * scale) + 0.5);
      }
      ctx.stroke();
    });
  }
  ctx.fillStyle = '#d07000';
  for (const rec of S.records) ctx.fillRect(X(rec.time), H - 6, 1, 6);
  return img;
}

function drawOverview() {
  const cv = $('overview'), ctx = fitCanvas(cv), W = cv.clientWidth, H = cv.clientHeight;
  const key = [W, H, window.devicePixelRatio, S.overview ? S.overview.names.join(',') : '',
    S.overview ? S.overview.cols : 0, S.records.length].join('|');
  if (!ovImage || key !== ovImageKey || ovImage.src !== S.overview) {
    ovImage = { img: renderOverview(W, H), src: S.overview };
    ovImageKey = key;
  }
  ctx.clearRect(0, 0, W, H);
  ctx.drawImage(ovImage.img, 0, 0, W, H);
  const PW = W - LEFT - RIGHT, a = S.info.start_uutc, b = S.info.end_uutc;
  const X = (t) => LEFT + ((t - a) / (b - a)) * PW;
  const x0 = X(S.t0), x1 = X(S.t0 + S.w * 1e6);
  ctx.fillStyle = 'rgba(30,90,200,0.18)';
  ctx.fillRect(x0, 0, Math.max(2, x1 - x0), H);
  ctx.strokeStyle = '#1e5ac8';
  ctx.strokeRect(x0 + 0.5, 0.5, Math.max(2, x1 - x0), H - 1);
}

// ---------- controls ----------
function go(t0, w) {
  if (w !== undefined) S.w = w;
  S.t0 = t0;
  schedule();
}
function page(k) { go(S.t0 + k * S.w * 1e6); }
function zoom(dir) {
  const c = S.t0 + (S.w * 1e6) / 2;
  let i = WINDOWS.findIndex((w) => w >= S.w - 1e-9);
  if (i < 0) i = WINDOWS.length;
  const nw = dir > 0 ? WINDOWS[Math.max(0, (WINDOWS[i] > S.w + 1e-9 ? i : i) - 1)] :
    (WINDOWS[WINDOWS[i] === S.w ? i + 1 : i] || duration());
  go(c - (Math.min(nw, duration()) * 1e6) / 2, Math.min(nw, duration()));
}
function gain(dir) {
  if (S.sel) {
    const f = (S.cg[S.sel] || 1) * (dir > 0 ? 0.5 : 2);
    S.cg[S.sel] = f;
  } else {
    const i = GAINS.indexOf(S.gain);
    const j = i < 0 ? GAINS.findIndex((g) => g >= S.gain) : i + (dir > 0 ? -1 : 1);
    S.gain = GAINS[Math.max(0, Math.min(GAINS.length - 1, j))];
  }
  writeHash();
  dirty = true;
}
function input() { inputT = performance.now(); }

$('fwd').onclick = () => { input(); page(1); };
$('back').onclick = () => { input(); page(-1); };
$('first').onclick = () => go(S.info.start_uutc);
$('last').onclick = () => go(S.info.end_uutc);
$('zin').onclick = () => zoom(1);
$('zout').onclick = () => zoom(-1);
$('zall').onclick = () => go(S.info.start_uutc, duration());
$('gup').onclick = () => gain(1);
$('gdn').onclick = () => gain(-1);
$('win').onchange = (e) => {
  const v = e.target.value, w = v === 'all' ? duration() : parseFloat(v);
  go(S.t0 + (S.w * 1e6) / 2 - (w * 1e6) / 2, w);
};
$('jump').onkeydown = (e) => {
  if (e.key !== 'Enter') return;
  const t = parseJump(e.target.value);
  if (t == null) { say('Cannot read the time "' + e.target.value + '": give 00:10:00, 600s, 10m or an ISO time', true); return; }
  say('');
  go(t);
  e.target.blur();
};
$('annots').onchange = (e) => {
  if (!e.target.value) return;
  go(+e.target.value - (S.w * 1e6) / 4);
  e.target.value = '';
};
document.addEventListener('keydown', (e) => {
  if (!S.info || e.target.tagName === 'INPUT' || e.target.tagName === 'SELECT') return;
  const k = e.key;
  if (k === 'ArrowRight' || k === 'PageDown' || k === ' ') { input(); page(1); }
  else if (k === 'ArrowLeft' || k === 'PageUp') { input(); page(-1); }
  else if (k === 'ArrowUp') gain(1);
  else if (k === 'ArrowDown') gain(-1);
  else if (k === '+' || k === '=') zoom(1);
  else if (k === '-') zoom(-1);
  else if (k === '0') go(S.info.start_uutc, duration());
  else if (k === 'Home') go(S.info.start_uutc);
  else if (k === 'End') go(S.info.end_uutc);
  else if (k === 'c') toggleChannels();
  else if (k === 'Escape') { S.sel = null; dirty = true; }
  else return;
  e.preventDefault();
});

// drag the traces; click a label to select its channel (its own gain)
let drag = null;
$('traces').addEventListener('mousedown', (e) => {
  const r = $('traces').getBoundingClientRect();
  if (e.clientX - r.left < LEFT) {
    const i = Math.floor(((e.clientY - r.top) / r.height) * S.ch.length);
    S.sel = S.sel === S.ch[i] ? null : S.ch[i];
    dirty = true;
    return;
  }
  drag = { x: e.clientX, t0: S.t0, last: performance.now() };
  $('traces').classList.add('drag');
});
window.addEventListener('mousemove', (e) => {
  if (!drag) return;
  hook.dragMoves++;
  S.t0 = drag.t0 - ((e.clientX - drag.x) / plotWidth()) * S.w * 1e6;
  clampView();
  dirty = true;
});
window.addEventListener('mouseup', () => {
  if (!drag) return;
  drag = null;
  $('traces').classList.remove('drag');
  schedule();
});
$('traces').addEventListener('wheel', (e) => {
  if (!S.info) return;
  e.preventDefault();
  if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) page(Math.sign(e.deltaX || e.deltaY) * 0.25);
  else gain(e.deltaY < 0 ? 1 : -1);
}, { passive: false });
function overviewAt(e) {
  const r = $('overview').getBoundingClientRect(), PW = r.width - LEFT - RIGHT;
  const f = (e.clientX - r.left - LEFT) / PW;
  go(S.info.start_uutc + f * (S.info.end_uutc - S.info.start_uutc) - (S.w * 1e6) / 2);
}
let ovDrag = false;
$('overview').addEventListener('mousedown', (e) => { ovDrag = true; overviewAt(e); });
window.addEventListener('mousemove', (e) => { if (ovDrag) overviewAt(e); });
window.addEventListener('mouseup', () => { ovDrag = false; });
window.addEventListener('resize', () => { dirty = true; schedule(); });
window.addEventListener('hashchange', () => {
  const h = readHash();
  if (!S.info || h.path !== S.path) { location.reload(); return; }
  const cur = new URLSearchParams(location.hash.slice(1)).toString();
  setInfo(S.info, h);
  void cur;
});

// channel picking and order
function buildChannelPanel() {
  const ol = $('chlist');
  ol.innerHTML = '';
  const order = S.ch.concat(S.info.channels.map((c) => c.name).filter((n) => !S.ch.includes(n)));
  for (const name of order) {
    const li = document.createElement('li');
    const cb = document.createElement('input');
    cb.type = 'checkbox';
    cb.checked = S.ch.includes(name);
    cb.dataset.name = name;
    cb.onchange = channelsChanged;
    const up = document.createElement('button'), dn = document.createElement('button');
    up.textContent = '↑'; dn.textContent = '↓';
    up.onclick = () => { if (li.previousSibling) ol.insertBefore(li, li.previousSibling); channelsChanged(); };
    dn.onclick = () => { if (li.nextSibling) ol.insertBefore(li.nextSibling, li); channelsChanged(); };
    const c = chanInfo(name);
    li.append(cb, ' ' + name + ' (' + c.fs + ' Hz) ', up, dn);
    ol.append(li);
  }
}
function channelsChanged() {
  const picked = [...$('chlist').querySelectorAll('input')].filter((x) => x.checked).map((x) => x.dataset.name);
  if (!picked.length) { say('Pick at least one channel.', true); return; }
  S.ch = picked;
  say('');
  schedule();
  loadOverview();
}
function toggleChannels() { $('chpanel').hidden = !$('chpanel').hidden; }
$('chbtn').onclick = toggleChannels;
$('chclose').onclick = toggleChannels;
$('chall').onclick = () => { $('chlist').querySelectorAll('input').forEach((x) => { x.checked = true; }); channelsChanged(); };
$('chnone').onclick = () => {
  $('chlist').querySelectorAll('input').forEach((x, i) => { x.checked = i === 0; });
  channelsChanged();
};
hook.pickChannels = (names) => { // for tests: the same path as the panel
  S.ch = names.slice();
  buildChannelPanel();
  channelsChanged();
};

// one frame per display refresh, only when something changed
function frame() {
  if (dirty) {
    dirty = false;
    const t = performance.now();
    draw();
    if (drag) hook.dragFrames.push({ at: t, ms: performance.now() - t });
  }
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);

// What was drawn, as plain arrays for a test's evaluate (frames keep the
// typed arrays: no copy per frame).
function exported(d) {
  const rows = {};
  for (const [k, r] of Object.entries(d.rows)) rows[k] = Object.assign({}, r, { values: Array.from(r.values) });
  return Object.assign({}, d, { rows });
}

function waitIdle() {
  return new Promise((resolve) => {
    const check = () => {
      const d = hook.drawn;
      if (S.info && !hook.pending && !dirty && d && d.complete && d.key === viewReq(S.t0, S.w, plotWidth()).key &&
          (!S.overview || S.overview.names.join(',') === S.ch.slice(0, 16).join(','))) resolve(exported(d));
      else setTimeout(check, 20);
    };
    check();
  });
}

start();
