/*
 * test_writer_roundtrip - sessions written by the writer, read back by
 * the reader.
 *
 * One session exercises the sample paths: int32 in one call and in many
 * appended calls of odd sizes, float input with NaN runs, clamping and
 * infinities, a gap by start time, segments with and without a gap,
 * extremes (int32 limits, +-127/+-128 differences, sentinels), rates that
 * do not divide a second (499.7 Hz), a recording time offset and a GMT
 * offset.  Every stored sample must come back bit for bit; every block
 * must start where the time grid says (anchor + round(k * 1e6 / fs)), with
 * the discontinuity flag exactly where a run begins; the metadata of each
 * segment must agree with its index; a time-window read must show NaN in
 * the gaps; annotations must come back with their times and fields.
 *
 * Then: the three recording-time-offset modes (checked in the raw index
 * bytes too), encryption at both levels (metadata, data blocks, records)
 * read with each password, argument errors, and byte-identical output for
 * identical input with a UUID seed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "testutil.h"

#define T0 1600000000123456LL
#define RTO (T0 - 3600000000LL - 17)

typedef struct {
  int64_t start, n;
  int seg, disc;
} xblock;

typedef struct {
  const char *name;
  double fs, ufact;
  int32_t *samples; /* expected stored samples, channel order */
  int64_t n;
  xblock blocks[64];
  size_t n_blocks;
} xchan;

static void add_block(xchan *c, int64_t anchor, int64_t k, int64_t n, int seg,
                      int disc) {
  xblock *b = &c->blocks[c->n_blocks++];
  b->start = anchor + llround((double)k * 1e6 / c->fs);
  b->n = n;
  b->seg = seg;
  b->disc = disc;
}

static void push(xchan *c, const int32_t *x, int64_t n) {
  c->samples = realloc(c->samples, (size_t)(c->n + n) * sizeof *x);
  REQUIRE(c->samples != NULL);
  memcpy(c->samples + c->n, x, (size_t)n * sizeof *x);
  c->n += n;
}

/* The writer's float conversion, written independently. */
static int32_t expect_count(double v, double ufact) {
  if (isinf(v))
    return v > 0 ? INT32_MAX : INT32_MIN + 1;
  double x = v / ufact;
  if (x >= 2147483646.0)
    return 2147483646;
  if (x <= -2147483646.0)
    return -2147483646;
  double a = floor(fabs(x));
  if (fabs(x) - a >= 0.5) /* halves away from zero */
    a += 1.0;
  return (int32_t)(x < 0 ? -a : a);
}

static uint64_t rs = 88172645463325252ull;
static uint32_t rnd(void) {
  rs ^= rs << 13;
  rs ^= rs >> 7;
  rs ^= rs << 17;
  return (uint32_t)rs;
}

/* Compare the reader's view of channel `c` with the expectation. */
static void check_channel(mef3_reader *r, const xchan *x) {
  int idx = mef3_reader_find_channel(r, x->name);
  REQUIRE(idx >= 0);
  size_t ch = (size_t)idx;
  const mef3_channel_info *ci = mef3_reader_channel(r, ch);
  CHECK_MSG(ci->n_samples == x->n, "%s: %lld samples, want %lld", x->name,
            (long long)ci->n_samples, (long long)x->n);
  CHECK(ci->fs == x->fs && ci->units_conversion_factor == x->ufact);
  CHECK(!ci->times_relative);

  /* Every stored sample, bit for bit. */
  int32_t *got = malloc((size_t)x->n * sizeof *got + 4);
  size_t n = 0;
  CHECK_RC(mef3_reader_read_samples(&n, NULL, r, ch, 0, x->n, MEF3_I32, got,
                                    (size_t)x->n),
           0);
  CHECK(n == (size_t)x->n);
  int64_t first_bad = -1;
  for (int64_t i = 0; i < x->n && first_bad < 0; i++)
    if (got[i] != x->samples[i])
      first_bad = i;
  CHECK_MSG(first_bad < 0, "%s: sample %lld is %d, want %d", x->name,
            (long long)first_bad, first_bad >= 0 ? got[first_bad] : 0,
            first_bad >= 0 ? x->samples[first_bad] : 0);
  free(got);

  /* Blocks: start times, sizes, flags, segments, extremes. */
  const mef3_block_info *b;
  size_t nb;
  CHECK_RC(mef3_reader_blocks(&b, &nb, r, ch), 0);
  CHECK_MSG(nb == x->n_blocks, "%s: %zu blocks, want %zu", x->name, nb,
            x->n_blocks);
  int64_t s = 0;
  for (size_t i = 0; i < nb && i < x->n_blocks; i++) {
    const xblock *e = &x->blocks[i];
    int disc = (b[i].flags & MEF3_RED_DISCONTINUITY) != 0;
    CHECK_MSG(b[i].start_uutc == e->start && b[i].n_samples == e->n &&
                  b[i].segment == e->seg && disc == e->disc,
              "%s block %zu: start %lld n %u seg %d disc %d, want %lld %lld "
              "%d %d",
              x->name, i, (long long)b[i].start_uutc, b[i].n_samples,
              b[i].segment, disc, (long long)e->start, (long long)e->n, e->seg,
              e->disc);
    int32_t mn = INT32_MAX, mx = INT32_MIN;
    for (int64_t k = s; k < s + (int64_t)b[i].n_samples && k < x->n; k++) {
      mn = x->samples[k] < mn ? x->samples[k] : mn;
      mx = x->samples[k] > mx ? x->samples[k] : mx;
    }
    CHECK(b[i].min == mn && b[i].max == mx);
    CHECK(b[i].bytes % 8 == 0);
    s += b[i].n_samples;
  }

  /* Metadata of every segment agrees with its blocks. */
  for (size_t g = 0; g < ci->n_segments; g++) {
    const mef3_segment_info *si = mef3_reader_segment(r, ch, g);
    const mef3_metadata *md = si->metadata;
    int64_t ns = 0, nbk = 0, maxbb = 0, ndisc = 0, run_b = 0, run_by = 0,
            run_s = 0, mrb = 0, mrby = 0, mrs = 0;
    uint32_t maxbs = 0;
    int32_t mn = INT32_MAX, mx = INT32_MIN;
    for (size_t i = si->first_block; i < si->first_block + si->n_blocks; i++) {
      ns += b[i].n_samples;
      nbk++;
      maxbb = b[i].bytes > maxbb ? b[i].bytes : maxbb;
      maxbs = b[i].n_samples > maxbs ? b[i].n_samples : maxbs;
      if (b[i].flags & MEF3_RED_DISCONTINUITY) {
        ndisc++;
        run_b = run_by = run_s = 0;
      }
      run_b++;
      run_by += b[i].bytes;
      run_s += b[i].n_samples;
      mrb = run_b > mrb ? run_b : mrb;
      mrby = run_by > mrby ? run_by : mrby;
      mrs = run_s > mrs ? run_s : mrs;
      mn = b[i].min < mn ? b[i].min : mn;
      mx = b[i].max > mx ? b[i].max : mx;
    }
    CHECK_MSG(md->number_of_samples == ns && md->number_of_blocks == nbk &&
                  md->start_sample == si->start_sample &&
                  md->maximum_block_bytes == maxbb &&
                  md->maximum_block_samples == maxbs &&
                  md->number_of_discontinuities == ndisc &&
                  md->maximum_contiguous_blocks == mrb &&
                  md->maximum_contiguous_block_bytes == mrby &&
                  md->maximum_contiguous_samples == mrs,
              "%s segment %zu: metadata counts disagree with the index",
              x->name, g);
    CHECK(ndisc >= 1);
    double a = mx * x->ufact, c = mn * x->ufact;
    CHECK(md->maximum_native_sample_value == (a > c ? a : c) &&
          md->minimum_native_sample_value == (a > c ? c : a));
    CHECK(md->recording_duration == si->end_uutc - si->start_uutc);
    CHECK(md->block_interval > 0);
    CHECK(md->sampling_frequency == x->fs);
    CHECK(md->recording_time_offset == RTO);
    CHECK(md->gmt_offset == -18000);
    CHECK(!strcmp(md->session_description, "round trip"));
    CHECK(!strcmp(md->subject_id, "S-001"));
    CHECK(!strcmp(md->units_description, "uV"));
    CHECK(md->maximum_difference_bytes > 0);
  }
}

/* With `io_buffer` > 0 the writer collects blocks before writing them;
 * 700 bytes is less than some blocks, so both paths run. */
static void sample_paths(size_t io_buffer) {
  const char *dir = tu_scratch(io_buffer ? "paths-buffered" : "paths");
  char path[3000];
  snprintf(path, sizeof path, "%s/rt.mefd", dir);
  mef3_writer_options o = MEF3_WRITER_OPTIONS_INIT;
  o.rto_mode = MEF3_RTO_VALUE;
  o.recording_time_offset = RTO;
  o.gmt_offset = -18000;
  o.session_description = "round trip";
  o.subject_id = "S-001";
  o.checkpoint_blocks = 3; /* many checkpoints on the way */
  o.io_buffer_bytes = io_buffer;
  mef3_writer *w;
  REQUIRE(mef3_writer_open(&w, path, &o) == 0);

  xchan xa = {"a", 256.0, 1.0, NULL, 0, {{0}}, 0};
  xchan xb = {"b", 1000.0, 0.25, NULL, 0, {{0}}, 0};
  xchan xc = {"c", 499.7, 0.5, NULL, 0, {{0}}, 0};
  xchan xx = {"x", 1000.0, 1.0, NULL, 0, {{0}}, 0};
  size_t ca, cb, cc, cx;
  mef3_channel_options co = MEF3_CHANNEL_OPTIONS_INIT;
  co.units_description = "uV";
  co.name = "a";
  co.fs = 256;
  co.start_uutc = T0;
  REQUIRE(mef3_writer_add_channel(&ca, w, &co) == 0);
  co.name = "b";
  co.fs = 1000;
  co.units_conversion_factor = 0.25;
  co.block_samples = 1000;
  REQUIRE(mef3_writer_add_channel(&cb, w, &co) == 0);
  co.name = "c";
  co.fs = 499.7;
  co.units_conversion_factor = 0.5;
  co.block_samples = 100;
  REQUIRE(mef3_writer_add_channel(&cc, w, &co) == 0);
  co.name = "x";
  co.fs = 1000;
  co.units_conversion_factor = 1.0;
  co.block_samples = 333;
  co.start_uutc = MEF3_UUTC_NO_ENTRY; /* the first write gives it */
  REQUIRE(mef3_writer_add_channel(&cx, w, &co) == 0);

  /* a: 3000 samples in one call, then 1000 after a gap. */
  int32_t *buf = malloc(10000 * sizeof *buf);
  REQUIRE(buf != NULL);
  for (int i = 0; i < 3000; i++)
    buf[i] = (int32_t)(rnd() % 201) - 100;
  CHECK_RC(mef3_writer_write_i32(w, ca, MEF3_UUTC_NO_ENTRY, buf, 3000), 0);
  push(&xa, buf, 3000);
  for (int k = 0; k < 3000; k += 256)
    add_block(&xa, T0, k, k + 256 <= 3000 ? 256 : 3000 - k, 0, k == 0);
  int64_t t_gap = T0 + 20000000;
  for (int i = 0; i < 1000; i++)
    buf[i] = (int32_t)(rnd() % 2001) - 1000;
  CHECK_RC(mef3_writer_write_i32(w, ca, t_gap, buf, 1000), 0);
  push(&xa, buf, 1000);
  for (int k = 0; k < 1000; k += 256)
    add_block(&xa, t_gap, k, k + 256 <= 1000 ? 256 : 1000 - k, 0, k == 0);
  /* A write at exactly the next slot continues the run. */
  int64_t next = t_gap + llround(1000 * 1e6 / 256);
  CHECK_RC(mef3_writer_write_i32(w, ca, next, buf, 0), 0);

  /* b: appended calls of odd sizes, a segment break without a gap. */
  int64_t done = 0;
  while (done < 5500) {
    int64_t m = 1 + rnd() % 700;
    if (m > 5500 - done)
      m = 5500 - done;
    for (int64_t i = 0; i < m; i++)
      buf[i] = (int32_t)(done + i) * 3 - 7000;
    CHECK_RC(mef3_writer_write_i32(w, cb, MEF3_UUTC_NO_ENTRY, buf, (size_t)m),
             0);
    push(&xb, buf, m);
    done += m;
  }
  for (int k = 0; k < 5500; k += 1000)
    add_block(&xb, T0, k, k + 1000 <= 5500 ? 1000 : 500, 0, k == 0);
  CHECK_RC(mef3_writer_new_segment(w, cb), 0);
  CHECK_RC(mef3_writer_new_segment(w, cb), 0); /* nothing new: a no-op */
  for (int i = 0; i < 2500; i++)
    buf[i] = (int32_t)(rnd() % 255) - 127;
  CHECK_RC(mef3_writer_write_i32(w, cb, MEF3_UUTC_NO_ENTRY, buf, 2500), 0);
  push(&xb, buf, 2500);
  for (int k = 5500; k < 8000; k += 1000)
    add_block(&xb, T0, k, k + 1000 <= 8000 ? 1000 : 500, 1, k == 5500);

  /* c: float values with NaN runs, halves, clamping and infinities. */
  double *v = malloc(1200 * sizeof *v);
  REQUIRE(v != NULL);
  for (int i = 0; i < 1000; i++) {
    v[i] = (double)((int)(rnd() % 2001) - 1000) * 0.25; /* x.0, x.5 counts */
    if ((i >= 300 && i < 350) || i == 820 || i >= 990)
      v[i] = NAN;
  }
  v[10] = 2e9;           /* clamps to 2147483646 */
  v[11] = -2e9;          /* clamps to -2147483646 */
  v[12] = INFINITY;      /* +inf sentinel */
  v[13] = -INFINITY;     /* -inf sentinel */
  v[14] = 0.25;          /* 0.5 count: rounds away from zero to 1 */
  v[15] = -0.25;         /* -1 */
  v[16] = 1073741822.75; /* 2147483645.5 -> 2147483646 */
  CHECK_RC(mef3_writer_write_f64(w, cc, MEF3_UUTC_NO_ENTRY, v, 1000), 0);
  for (int i = 0; i < 1000; i++)
    if (!isnan(v[i])) {
      int32_t q = expect_count(v[i], 0.5);
      push(&xc, &q, 1);
    }
  CHECK(expect_count(0.25, 0.5) == 1 && expect_count(-0.25, 0.5) == -1);
  static const int c_runs[][2] = {{0, 300}, {350, 820}, {821, 990}};
  for (int r = 0; r < 3; r++)
    for (int k = c_runs[r][0]; k < c_runs[r][1]; k += 100)
      add_block(&xc, T0, k, k + 100 <= c_runs[r][1] ? 100 : c_runs[r][1] - k, 0,
                k == c_runs[r][0]);
  /* The next write continues after the trailing NaN slots (float32). */
  float *f = malloc(200 * sizeof *f);
  REQUIRE(f != NULL);
  for (int i = 0; i < 200; i++)
    f[i] = (float)((int)(rnd() % 64) - 32) * 0.5f;
  CHECK_RC(mef3_writer_write_f32(w, cc, MEF3_UUTC_NO_ENTRY, f, 200), 0);
  for (int i = 0; i < 200; i++) {
    int32_t q = expect_count(f[i], 0.5);
    push(&xc, &q, 1);
  }
  add_block(&xc, T0, 1000, 100, 0, 1);
  add_block(&xc, T0, 1100, 100, 0, 0);

  /* x: extremes. */
  static const int32_t ext[] = {
      INT32_MAX, INT32_MIN,     INT32_MIN + 1, 0, 127, -1, -129, -1,
      126,       INT32_MAX - 1, INT32_MIN + 2};
  int64_t tx = T0 + 250000;
  for (int i = 0; i < 2000; i++) {
    if (i % 50 < 11)
      buf[i] = ext[i % 50];
    else
      buf[i] = (i % 2 ? 128 : -128) * (i % 7) + (int32_t)(i / 3);
  }
  CHECK_RC(mef3_writer_write_i32(w, cx, tx, buf, 2000), 0);
  push(&xx, buf, 2000);
  for (int k = 0; k < 2000; k += 333)
    add_block(&xx, tx, k, k + 333 <= 2000 ? 333 : 2000 - k, 0, k == 0);

  /* Every channel gets a new segment; x's next block then starts after a
   * gap in segment 1. */
  CHECK_RC(mef3_writer_new_segment(w, MEF3_WRITER_ALL_CHANNELS), 0);
  int64_t tx2 = tx + 10 * 1000000 + 3;
  for (int i = 0; i < 400; i++)
    buf[i] = -(int32_t)i;
  CHECK_RC(mef3_writer_write_i32(w, cx, tx2, buf, 400), 0);
  push(&xx, buf, 400);
  add_block(&xx, tx2, 0, 333, 1, 1);
  add_block(&xx, tx2, 333, 67, 1, 0);

  /* Annotations at both levels. */
  CHECK_RC(mef3_writer_add_note(w, MEF3_WRITER_SESSION, T0 + 1000000,
                                "session start"),
           0);
  mef3_seizure sz = MEF3_SEIZURE_INIT;
  const char *names[] = {"a", "b"};
  sz.onset_uutc = T0 + 2000000;
  sz.offset_uutc = T0 + 7500000;
  sz.onset_code = 1;
  sz.annotation = "focal onset";
  sz.marker_name_1 = "EEG";
  sz.channels = names;
  sz.n_channels = 2;
  CHECK_RC(mef3_writer_add_seizure(w, MEF3_WRITER_SESSION, &sz), 0);
  CHECK_RC(mef3_writer_add_note(w, cb, T0 + 3000000, "b: electrode check"), 0);
  CHECK_RC(mef3_writer_add_note(w, cx, T0 + 500000, ""), 0);

  mef3_writer_stats st;
  mef3_writer_get_stats(&st, w);
  CHECK_RC(mef3_writer_close(w), 0);

  mef3_reader *r;
  REQUIRE(mef3_reader_open(&r, path, NULL) == 0);
  CHECK(mef3_reader_channel_count(r) == 4);
  check_channel(r, &xa);
  check_channel(r, &xb);
  check_channel(r, &xc);
  check_channel(r, &xx);
  CHECK(mef3_reader_channel(r, 1)->n_segments == 2);
  CHECK(mef3_reader_channel(r, 3)->n_segments == 2);
  /* Pending before close: 67 of x (new_segment wrote the others). */
  CHECK(st.samples == xa.n + xb.n + xc.n + xx.n - 67);

  /* Contiguous runs: a has two, c four, b one per segment. */
  const mef3_contiguon *k;
  size_t nk;
  CHECK_RC(mef3_reader_contigua(&k, &nk, r, 0), 0);
  CHECK(nk == 2);
  CHECK_RC(mef3_reader_contigua(&k, &nk, r, 2), 0);
  CHECK(nk == 4);

  /* Time window over a's gap: NaN where nothing was recorded. */
  int64_t t1 = T0 + 25000000;
  size_t nw = (size_t)mef3_window_samples(T0, t1, 256.0), got = 0;
  CHECK(nw == 6400);
  double *win = malloc(nw * sizeof *win);
  CHECK_RC(
      mef3_reader_read_time(&got, NULL, r, 0, T0, t1, MEF3_F64, win, nw, NULL),
      0);
  int ok = got == nw;
  for (size_t i = 0; ok && i < nw; i++) {
    if (i < 3000)
      ok = win[i] == xa.samples[i];
    else if (i < 5120)
      ok = isnan(win[i]);
    else if (i < 6120)
      ok = win[i] == xa.samples[3000 + i - 5120];
    else
      ok = isnan(win[i]);
  }
  CHECK_MSG(ok, "time window over the gap of channel a");
  free(win);

  /* c over its NaN runs, in physical units: slot k holds sample k's
   * value, NaN in the runs. */
  nw = (size_t)mef3_window_samples(T0, T0 + llround(1200 * 1e6 / 499.7), 499.7);
  CHECK(nw == 1200);
  win = malloc(nw * sizeof *win);
  CHECK_RC(mef3_reader_read_time(&got, NULL, r, 2, T0,
                                 T0 + llround(1200 * 1e6 / 499.7), MEF3_F64,
                                 win, nw, NULL),
           0);
  int64_t si = 0;
  ok = 1;
  for (size_t i = 0; i < 1200 && ok; i++) {
    int gap = (i >= 300 && i < 350) || i == 820 || (i >= 990 && i < 1000);
    if (gap) {
      ok = isnan(win[i]);
    } else {
      int32_t q = xc.samples[si++];
      double want = q == INT32_MAX       ? INFINITY
                    : q == INT32_MIN + 1 ? -INFINITY
                                         : q * 0.5;
      ok = win[i] == want;
    }
  }
  CHECK_MSG(ok, "time window over the NaN runs of channel c");
  free(win);

  /* Annotations. */
  mef3_record *rec;
  size_t nr;
  CHECK_RC(mef3_reader_records(&rec, &nr, r, 1), 0);
  CHECK(nr == 4);
  if (nr == 4) {
    CHECK(rec[0].time == T0 + 500000 && !strcmp(rec[0].type, "Note") &&
          rec[0].level == MEF3_LEVEL_CHANNEL && !strcmp(rec[0].channel, "x") &&
          !strcmp(rec[0].text, ""));
    CHECK(rec[1].time == T0 + 1000000 &&
          !strcmp(rec[1].text, "session start") &&
          rec[1].level == MEF3_LEVEL_SESSION);
    CHECK(rec[2].time == T0 + 2000000 && !strcmp(rec[2].type, "Seiz") &&
          rec[2].end_time == T0 + 7500000 && rec[2].duration == 5500000 &&
          rec[2].onset_code == 1 && rec[2].number_of_channels == 2 &&
          !strcmp(rec[2].text, "focal onset"));
    CHECK(rec[3].time == T0 + 3000000 && !strcmp(rec[3].channel, "b") &&
          !strcmp(rec[3].text, "b: electrode check"));
    for (size_t i = 0; i < nr; i++)
      CHECK(rec[i].available && rec[i].body_bytes % 16 == 0);
  }
  mef3_records_free(rec, nr);
  mef3_reader_close(r);

  /* On disk every time is -(t - offset). */
  char tidx[4200];
  snprintf(tidx, sizeof tidx, "%s/a.timd/a-000000.segd/a-000000.tidx", path);
  size_t len = 0;
  uint8_t *raw = tu_read_file(tidx, &len);
  REQUIRE(raw != NULL);
  mef3_index_entry *e;
  size_t ne;
  mef3_universal_header uh;
  CHECK_RC(mef3_index_parse(&e, &ne, &uh, raw, len, 0, tidx), 0);
  CHECK(ne == xa.n_blocks && uh.number_of_entries == (int64_t)ne &&
        uh.body_crc != 0 && uh.start_time == -(T0 - RTO));
  for (size_t i = 0; i < ne; i++)
    CHECK(e[i].start_time == -(xa.blocks[i].start - RTO));
  free(e);
  free(raw);

  free(xa.samples);
  free(xb.samples);
  free(xc.samples);
  free(xx.samples);
  free(buf);
  free(v);
  free(f);
}

/* Write a tiny session with the given options; returns its path. */
static const char *tiny(const char *tag, const mef3_writer_options *o,
                        int64_t start) {
  const char *dir = tu_scratch(tag);
  static char path[4][4096];
  static int slot;
  char *p = path[slot++ & 3];
  snprintf(p, 4096, "%s/t.mefd", dir);
  mef3_writer *w;
  REQUIRE(mef3_writer_open(&w, p, o) == 0);
  mef3_channel_options co = MEF3_CHANNEL_OPTIONS_INIT;
  co.name = "ch";
  co.fs = 100;
  co.start_uutc = start;
  size_t ch;
  REQUIRE(mef3_writer_add_channel(&ch, w, &co) == 0);
  int32_t x[250];
  for (int i = 0; i < 250; i++)
    x[i] = i * i - 3000;
  CHECK_RC(mef3_writer_write_i32(w, ch, MEF3_UUTC_NO_ENTRY, x, 250), 0);
  CHECK_RC(mef3_writer_add_note(w, MEF3_WRITER_SESSION, start + 10, "n"), 0);
  CHECK_RC(mef3_writer_close(w), 0);
  return p;
}

static int64_t first_disk_time(const char *session) {
  char tidx[4200];
  snprintf(tidx, sizeof tidx, "%s/ch.timd/ch-000000.segd/ch-000000.tidx",
           session);
  size_t len = 0;
  uint8_t *raw = tu_read_file(tidx, &len);
  REQUIRE(raw != NULL);
  mef3_index_entry *e;
  size_t ne;
  int64_t t = 0;
  if (mef3_index_parse(&e, &ne, NULL, raw, len, 0, tidx) == 0 && ne) {
    t = e[0].start_time;
    free(e);
  }
  free(raw);
  return t;
}

static void rto_modes(void) {
  mef3_writer_options o = MEF3_WRITER_OPTIONS_INIT;
  /* none: -t */
  const char *p = tiny("rto-none", &o, T0);
  CHECK(first_disk_time(p) == -T0);
  mef3_reader *r;
  REQUIRE(mef3_reader_open(&r, p, NULL) == 0);
  CHECK(mef3_reader_channel(r, 0)->start_uutc == T0);
  CHECK(mef3_reader_channel(r, 0)->metadata->recording_time_offset ==
        MEF3_UUTC_NO_ENTRY);
  mef3_reader_close(r);
  /* value 0: also -t, but the field says 0 */
  o.rto_mode = MEF3_RTO_VALUE;
  o.recording_time_offset = 0;
  p = tiny("rto-zero", &o, T0);
  CHECK(first_disk_time(p) == -T0);
  REQUIRE(mef3_reader_open(&r, p, NULL) == 0);
  CHECK(mef3_reader_channel(r, 0)->start_uutc == T0);
  CHECK(mef3_reader_channel(r, 0)->metadata->recording_time_offset == 0);
  mef3_reader_close(r);
  /* auto: local midnight by the GMT offset, strictly before the start */
  o.rto_mode = MEF3_RTO_AUTO;
  o.gmt_offset = 3600;
  p = tiny("rto-auto", &o, T0);
  REQUIRE(mef3_reader_open(&r, p, NULL) == 0);
  const mef3_channel_info *ci = mef3_reader_channel(r, 0);
  int64_t off = ci->metadata->recording_time_offset;
  CHECK(off != MEF3_UUTC_NO_ENTRY && off < T0 && T0 - off <= 86400000000LL &&
        (off / 1000000 + 3600) % 86400 == 0);
  CHECK(ci->start_uutc == T0);
  CHECK(first_disk_time(p) == -(T0 - off));
  mef3_record *rec;
  size_t nr;
  CHECK_RC(mef3_reader_records(&rec, &nr, r, 1), 0);
  CHECK(nr == 1 && rec[0].time == T0 + 10);
  mef3_records_free(rec, nr);
  mef3_reader_close(r);
  /* auto, starting exactly at local midnight: the offset moves a day back
   * so that no time is stored as 0 */
  int64_t midnight = (T0 / 86400000000LL) * 86400000000LL - 3600000000LL;
  p = tiny("rto-auto-midnight", &o, midnight);
  REQUIRE(mef3_reader_open(&r, p, NULL) == 0);
  ci = mef3_reader_channel(r, 0);
  CHECK(ci->metadata->recording_time_offset == midnight - 86400000000LL);
  CHECK(ci->start_uutc == midnight);
  mef3_reader_close(r);
}

static void encryption(void) {
  const char *dir = tu_scratch("enc");
  char path[3000];
  snprintf(path, sizeof path, "%s/enc.mefd", dir);
  mef3_writer_options o = MEF3_WRITER_OPTIONS_INIT;
  o.level_1_password = "l1pass";
  o.level_2_password = "l2pass";
  o.rto_mode = MEF3_RTO_VALUE;
  o.recording_time_offset = RTO;
  o.record_encryption = 1;
  o.subject_name_1 = "Doe";
  mef3_writer *w;
  REQUIRE(mef3_writer_open(&w, path, &o) == 0);
  mef3_channel_options co = MEF3_CHANNEL_OPTIONS_INIT;
  co.fs = 512;
  co.start_uutc = T0;
  size_t c1, c2;
  co.name = "e1";
  co.data_encryption = 1;
  REQUIRE(mef3_writer_add_channel(&c1, w, &co) == 0);
  co.name = "e2";
  co.data_encryption = 2;
  REQUIRE(mef3_writer_add_channel(&c2, w, &co) == 0);
  int32_t x[2000];
  for (int i = 0; i < 2000; i++)
    x[i] = (int32_t)(rnd() % 1001) - 500;
  CHECK_RC(mef3_writer_write_i32(w, c1, MEF3_UUTC_NO_ENTRY, x, 2000), 0);
  CHECK_RC(mef3_writer_write_i32(w, c2, MEF3_UUTC_NO_ENTRY, x, 2000), 0);
  CHECK_RC(mef3_writer_add_note(w, c1, T0 + 5, "secret note"), 0);
  CHECK_RC(mef3_writer_close(w), 0);

  /* No password: metadata section 2 is encrypted. */
  mef3_reader *r;
  CHECK_RC(mef3_reader_open(&r, path, NULL), MEF3_EPASSWORD);
  mef3_reader_options ro = MEF3_READER_OPTIONS_INIT;
  ro.password = "wrong";
  CHECK_RC(mef3_reader_open(&r, path, &ro), MEF3_EPASSWORD);

  /* Level 2: everything. */
  ro.password = "l2pass";
  REQUIRE(mef3_reader_open(&r, path, &ro) == 0);
  CHECK(mef3_reader_access_level(r) == 2);
  int32_t y[2000];
  size_t n;
  for (size_t c = 0; c < 2; c++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, c);
    CHECK(!ci->times_relative && ci->start_uutc == T0);
    CHECK(ci->data_encryption == (int)c + 1);
    CHECK(ci->section_2_encryption == 1 && ci->section_3_encryption == 2);
    CHECK(!strcmp(ci->metadata->subject_name_1, "Doe"));
    mef3_read_report rep;
    CHECK_RC(
        mef3_reader_read_samples(&n, &rep, r, c, 0, 2000, MEF3_I32, y, 2000),
        0);
    CHECK(n == 2000 && rep.n_bad_blocks == 0 && !memcmp(x, y, sizeof x));
  }
  mef3_record *rec;
  size_t nr;
  CHECK_RC(mef3_reader_records(&rec, &nr, r, 1), 0);
  CHECK(nr == 1 && rec[0].available && rec[0].encryption == 1 &&
        !strcmp(rec[0].text, "secret note") && rec[0].time == T0 + 5);
  mef3_records_free(rec, nr);
  mef3_reader_close(r);

  /* Level 1: section 2 and level-1 data, no section 3 (times relative),
   * no level-2 data. */
  ro.password = "l1pass";
  REQUIRE(mef3_reader_open(&r, path, &ro) == 0);
  CHECK(mef3_reader_access_level(r) == 1);
  const mef3_channel_info *ci = mef3_reader_channel(r, 0);
  CHECK(ci->times_relative && ci->start_uutc == T0 - RTO);
  CHECK(ci->fs == 512);
  mef3_read_report rep;
  CHECK_RC(mef3_reader_read_samples(&n, &rep, r, 0, 0, 2000, MEF3_I32, y, 2000),
           0);
  CHECK(rep.n_bad_blocks == 0 && !memcmp(x, y, sizeof x));
  CHECK_RC(mef3_reader_read_samples(&n, &rep, r, 1, 0, 2000, MEF3_I32, y, 2000),
           0);
  CHECK(rep.n_bad_blocks == 4 && rep.first_error == MEF3_EACCESS &&
        y[0] == MEF3_RED_NAN);
  CHECK_RC(mef3_reader_records(&rec, &nr, r, 1), 0);
  CHECK(nr == 1 && rec[0].available && !strcmp(rec[0].text, "secret note"));
  mef3_records_free(rec, nr);
  mef3_reader_close(r);

  /* Password fields: a level-2 password needs a level-1 password, and
   * encryption needs the password of its level. */
  mef3_writer_options bad = MEF3_WRITER_OPTIONS_INIT;
  bad.level_2_password = "x";
  snprintf(path, sizeof path, "%s/bad.mefd", dir);
  CHECK_RC(mef3_writer_open(&w, path, &bad), MEF3_EINVAL);
  bad.level_2_password = NULL;
  bad.level_1_password = "one";
  bad.data_encryption = 2;
  CHECK_RC(mef3_writer_open(&w, path, &bad), MEF3_EINVAL);
  bad.level_1_password = "this is sixteen!";
  bad.data_encryption = 0;
  CHECK_RC(mef3_writer_open(&w, path, &bad), MEF3_EINVAL);
}

static void errors(void) {
  const char *dir = tu_scratch("errors");
  char path[3000];
  mef3_writer *w;
  snprintf(path, sizeof path, "%s/x.mef", dir);
  CHECK_RC(mef3_writer_open(&w, path, NULL), MEF3_EINVAL);
  snprintf(path, sizeof path, "%s/no/such/x.mefd", dir);
  CHECK_RC(mef3_writer_open(&w, path, NULL), MEF3_EIO);
  /* An existing, non-empty directory is never written into. */
  snprintf(path, sizeof path, "%s/full.mefd", dir);
  REQUIRE(tu_system("mkdir -p '%s' && touch '%s/keep'", path, path) == 0);
  CHECK_RC(mef3_writer_open(&w, path, NULL), MEF3_EEXIST);
  /* An empty one is fine. */
  snprintf(path, sizeof path, "%s/empty.mefd", dir);
  REQUIRE(tu_system("mkdir -p '%s'", path) == 0);
  REQUIRE(mef3_writer_open(&w, path, NULL) == 0);
  mef3_channel_options co = MEF3_CHANNEL_OPTIONS_INIT;
  size_t ch;
  co.name = "../evil";
  co.fs = 100;
  CHECK_RC(mef3_writer_add_channel(&ch, w, &co), MEF3_EINVAL);
  co.name = "ok";
  co.fs = 0;
  CHECK_RC(mef3_writer_add_channel(&ch, w, &co), MEF3_EINVAL);
  co.fs = 100;
  co.data_encryption = 1; /* no password */
  CHECK_RC(mef3_writer_add_channel(&ch, w, &co), MEF3_EINVAL);
  co.data_encryption = -1;
  REQUIRE(mef3_writer_add_channel(&ch, w, &co) == 0);
  CHECK_RC(mef3_writer_add_channel(&ch, w, &co), MEF3_EEXIST);
  int32_t x[10] = {0};
  /* No start time anywhere. */
  CHECK_RC(mef3_writer_write_i32(w, 0, MEF3_UUTC_NO_ENTRY, x, 10), MEF3_EINVAL);
  CHECK_RC(mef3_writer_write_i32(w, 7, T0, x, 10), MEF3_EINVAL);
  /* Times are after the offset ("no offset": after 0). */
  CHECK_RC(mef3_writer_write_i32(w, 0, -5, x, 10), MEF3_EINVAL);
  CHECK_RC(mef3_writer_write_i32(w, 0, T0, x, 10), 0);
  /* Going back in time is refused, and changes nothing. */
  CHECK_RC(mef3_writer_write_i32(w, 0, T0 + 50000, x, 10), MEF3_EINVAL);
  CHECK_RC(mef3_writer_write_i32(w, 0, T0 + 100000, x, 10), 0);
  CHECK_RC(mef3_writer_add_note(w, 3, T0, "x"), MEF3_EINVAL);
  mef3_seizure sz = MEF3_SEIZURE_INIT;
  sz.onset_uutc = T0 + 10;
  sz.offset_uutc = T0;
  CHECK_RC(mef3_writer_add_seizure(w, MEF3_WRITER_SESSION, &sz), MEF3_EINVAL);
  CHECK_RC(mef3_writer_new_segment(w, 9), MEF3_EINVAL);
  CHECK_RC(mef3_writer_close(w), 0);
  CHECK_RC(mef3_writer_close(NULL), 0);
  mef3_reader *r;
  REQUIRE(mef3_reader_open(&r, path, NULL) == 0);
  CHECK(mef3_reader_channel(r, 0)->n_samples == 20);
  mef3_reader_close(r);
}

/* Same input and UUID seed: the same bytes in every file. */
static void deterministic(void) {
  mef3_writer_options o = MEF3_WRITER_OPTIONS_INIT;
  o.uuid_seed = 42;
  o.level_1_password = "pw";
  o.data_encryption = 1;
  const char *a = tiny("det-a", &o, T0);
  const char *b = tiny("det-b", &o, T0);
  CHECK(tu_system("diff -r '%s' '%s' > /dev/null", a, b) == 0);
  o.uuid_seed = 43;
  const char *c = tiny("det-c", &o, T0);
  CHECK(tu_system("cmp -s '%s/ch.timd/ch-000000.segd/ch-000000.tmet' "
                  "'%s/ch.timd/ch-000000.segd/ch-000000.tmet'",
                  a, c) != 0);
}

int main(int argc, char **argv) {
  sample_paths(0);
  sample_paths(700);
  static const check_case cases[] = {
      CASE(rto_modes),
      CASE(encryption),
      CASE(errors),
      CASE(deterministic),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  return check_finish();
}
