/*
 * tests/files/test_files_envelope.c - mef3_files_envelope: every column equals
 * the min and max of a direct read (mef3_reader_read_time) of its samples,
 * at every pyramid level and below the base (from samples), on golden
 * sessions (rates whose tiles are not multiples of the base, gaps under
 * and over a column, a late channel) and a generated one with gaps, with
 * and without the process pool; a column inside a gap is NaN; a second
 * envelope is served from cached pyramids even after the tiles are
 * evicted; bad arguments are refused.
 */
#include <math.h>
#include <string.h>

#include "check.h"
#include "testutil.h"

static mef3_files *new_fm(int pool, double tile_s, int64_t budget) {
  mef3_files_options o = MEF3_FILES_OPTIONS_INIT;
  o.use_process_pool = pool;
  o.reader_processes = 2;
  o.prefetch_processes = 1;
  o.tile_duration_s = tile_s;
  o.tile_cache_bytes = budget;
  mef3_files *fm = NULL;
  REQUIRE(mef3_files_new(&fm, &o) == 0);
  return fm;
}

static int same_bits(float a, float b) {
  return (isnan(a) && isnan(b)) || !memcmp(&a, &b, sizeof a);
}

static int levels_seen[8], raw_seen, nan_cols;

/* The envelope of one window against direct reads of each column. */
static void check_window(mef3_files *fm, mef3_reader *r, const char *path,
                         const char *ch, int64_t t0, int64_t t1, size_t W) {
  mef3_envelope *e = NULL;
  const char *chs[1] = {ch};
  int rc = mef3_files_envelope(&e, fm, path, chs, 1, t0, t1, W);
  CHECK_MSG(rc == 0, "%s %s [%lld,%lld) W=%zu: %s", path, ch, (long long)t0,
            (long long)t1, W, mef3_error_last()->message);
  if (rc)
    return;
  int cix = mef3_reader_find_channel(r, ch);
  REQUIRE(cix >= 0);
  size_t ci = (size_t)cix;
  const mef3_channel_info *info = mef3_reader_channel(r, ci);
  int64_t spc = e->samples_per_column;
  int64_t n = mef3_window_samples(t0, t1, info->fs);
  CHECK(e->n_columns <= W);
  CHECK((int64_t)e->n_columns * spc >= n);
  CHECK(e->level >= -1 && e->level < 8);
  if (e->level < 0) {
    raw_seen++;
    CHECK(spc < MEF3_ENVELOPE_BASE);
  } else {
    levels_seen[e->level]++;
    CHECK(spc % MEF3_ENVELOPE_BASE == 0);
  }
  /* The columns' samples, read directly: the window starts on the grid. */
  int64_t a = e->first_sample[0];
  int64_t ta = info->start_uutc + llround((double)a * 1e6 / info->fs);
  CHECK(ta == e->first_uutc[0]);
  CHECK(ta <= t0 + (int64_t)(1e6 / info->fs) + 1);
  int64_t m = (int64_t)e->n_columns * spc;
  int64_t tb = info->start_uutc + llround((double)(a + m) * 1e6 / info->fs);
  float *x = malloc((size_t)m * sizeof *x);
  REQUIRE(x);
  size_t got = 0;
  CHECK_RC(mef3_reader_read_time(&got, NULL, r, ci, ta, tb, MEF3_F32, x,
                                 (size_t)m, NULL),
           0);
  CHECK(got == (size_t)m);
  int bad = 0;
  for (size_t j = 0; j < e->n_columns && !bad; j++) {
    float lo = INFINITY, hi = -INFINITY;
    int any = 0;
    for (int64_t i = (int64_t)j * spc; i < (int64_t)(j + 1) * spc; i++)
      if (!isnan(x[i])) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
        any = 1;
      }
    if (!any) {
      lo = hi = NAN;
      nan_cols++;
    }
    if (!same_bits(lo, e->min[j]) || !same_bits(hi, e->max[j])) {
      bad = 1;
      CHECK_MSG(0,
                "%s %s [%lld,%lld) W=%zu spc=%lld column %zu: (%g, %g), "
                "direct (%g, %g)",
                path, ch, (long long)t0, (long long)t1, W, (long long)spc, j,
                e->min[j], e->max[j], lo, hi);
    }
  }
  if (!bad)
    check_passed++;
  free(x);
  mef3_envelope_free(e);
}

/* Windows of many lengths and offsets, widths that reach every level. */
static void sweep(mef3_files *fm, const char *path, const char *password) {
  mef3_reader_options ro = MEF3_READER_OPTIONS_INIT;
  ro.password = password;
  mef3_reader *r = NULL;
  REQUIRE(mef3_reader_open(&r, path, &ro) == 0);
  for (size_t c = 0; c < mef3_reader_channel_count(r); c++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, c);
    if (!ci->n_blocks)
      continue;
    int64_t s = ci->start_uutc, d = ci->end_uutc - ci->start_uutc;
    static const size_t widths[] = {1, 3, 17, 100, 640, 1500};
    for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
      check_window(fm, r, path, ci->name, s, s + d, widths[w]);
      check_window(fm, r, path, ci->name, s + d / 7 + 3, s + d / 2, widths[w]);
      check_window(fm, r, path, ci->name, s - 2000000, s + d / 3, widths[w]);
      check_window(fm, r, path, ci->name, s + d / 2, s + d + 3000000,
                   widths[w]);
    }
    check_window(fm, r, path, ci->name, s + 123457, s + 2123457, 50);
  }
  mef3_reader_close(r);
}

static void golden(int pool) {
  static const char *rel[] = {"sessions/a_single_256hz.mefd",
                              "sessions/b_multi_8ch.mefd",
                              "sessions/c_discontinuities.mefd"};
  for (size_t i = 0; i < 3; i++) {
    /* Tiles of 7 s: several per window, rarely a multiple of the base. */
    mef3_files *fm = new_fm(pool, 7.0, (int64_t)64 << 20);
    const char *p = tu_golden(rel[i]);
    REQUIRE(mef3_files_open(NULL, fm, p, NULL) == 0);
    sweep(fm, p, NULL);
    mef3_files_free(fm);
  }
}

static void generated(void) {
  const char *dir = tu_scratch("env gen");
  char path[4096];
  snprintf(path, sizeof path, "%s/gen.mefd", dir);
  mef3_gen_options g = MEF3_GEN_OPTIONS_INIT;
  g.n_channels = 3;
  g.fs = 512;
  g.duration_us = (int64_t)30 * 60 * 1000000;
  g.seed = 7;
  mef3_gen_gap gaps[2] = {{(int64_t)300 * 1000000, (int64_t)90 * 1000000},
                          {(int64_t)1000 * 1000000, 700000}};
  g.gaps = gaps;
  g.n_gaps = 2;
  REQUIRE(mef3_gen_session(NULL, path, &g, NULL, NULL) == 0);

  /* A tile budget of 8 tiles (of 90): tiles are evicted soon after use,
   * their pyramids (a quarter of that) stay. */
  mef3_files *fm = new_fm(1, 60.0, (int64_t)8 * 30720 * 4);
  REQUIRE(mef3_files_open(NULL, fm, path, NULL) == 0);
  sweep(fm, path, NULL);

  /* The whole recording twice: the second time from cached pyramids. */
  mef3_file_info *info = NULL;
  REQUIRE(mef3_files_info(&info, fm, path) == 0);
  mef3_envelope *e1 = NULL, *e2 = NULL;
  CHECK_RC(mef3_files_envelope(&e1, fm, path, NULL, 0, info->start_uutc,
                               info->end_uutc, 1000),
           0);
  mef3_files_stats s1, s2;
  mef3_files_get_stats(&s1, fm);
  mef3_envelope_stats es1, es2;
  mef3_files_get_envelope_stats(&es1, fm);
  CHECK_RC(mef3_files_envelope(&e2, fm, path, NULL, 0, info->start_uutc,
                               info->end_uutc, 1000),
           0);
  mef3_files_get_stats(&s2, fm);
  mef3_files_get_envelope_stats(&es2, fm);
  REQUIRE(e1 && e2);
  CHECK(e1->n_channels == 3 && e2->n_columns == e1->n_columns);
  CHECK(s2.misses == s1.misses); /* no tile decoded */
  CHECK(es2.built == es1.built);
  CHECK(es2.hits >= es1.hits + 3 * 30);
  CHECK(es2.pyramids > 0 && es2.bytes > 0);
  size_t nn = e1->n_channels * e1->n_columns, diff = 0, gapcols = 0;
  for (size_t i = 0; i < nn; i++) {
    diff += !same_bits(e1->min[i], e2->min[i]) ||
            !same_bits(e1->max[i], e2->max[i]);
    gapcols += isnan(e1->min[i]) && isnan(e1->max[i]);
  }
  CHECK(diff == 0);
  /* The 90 s gap spans whole columns (of 1024 samples, 2 s) on every
   * channel: at least 40 NaN columns each; no column is half NaN. */
  CHECK_MSG(gapcols >= 3 * 40, "%zu NaN columns", gapcols);
  for (size_t i = 0; i < nn; i++)
    CHECK(isnan(e1->min[i]) == isnan(e1->max[i]));
  CHECK(strcmp(e1->channel_names[2], "ch3") == 0 ||
        strcmp(e1->channel_names[2], "ch03") == 0);

  /* Bad arguments. */
  mef3_envelope *e = NULL;
  const char *nope[1] = {"nope"};
  int64_t t0 = info->start_uutc;
  CHECK_RC(mef3_files_envelope(&e, fm, path, NULL, 0, t0, t0 + 1000000, 0),
           MEF3_EINVAL);
  CHECK_RC(mef3_files_envelope(&e, fm, path, NULL, 0, t0 + 5, t0, 10),
           MEF3_EINVAL);
  CHECK_RC(mef3_files_envelope(&e, fm, path, NULL, 0, t0, t0 + 1, 10),
           MEF3_EINVAL);
  CHECK_RC(mef3_files_envelope(&e, fm, path, nope, 1, t0, t0 + 1000000, 10),
           MEF3_ENOTFOUND);
  CHECK_RC(mef3_files_envelope(&e, fm, "/nonexistent.mefd", NULL, 0, t0,
                               t0 + 1000000, 10),
           MEF3_ENOTFOUND);
  CHECK(e == NULL);
  /* Closing drops the file's pyramids. */
  CHECK_RC(mef3_files_close(fm, path), 0);
  mef3_files_get_envelope_stats(&es1, fm);
  CHECK(es1.pyramids == 0 && es1.bytes == 0);
  mef3_envelope_free(e1);
  mef3_envelope_free(e2);
  mef3_file_info_free(info);
  mef3_files_free(fm);
}

int main(void) {
  if (tu_have_golden()) {
    golden(0);
    golden(1);
  }
  generated();
  for (int l = 0; l < 3; l++)
    CHECK_MSG(levels_seen[l] > 0, "level %d never used", l);
  CHECK(raw_seen > 0);
  CHECK(nan_cols > 0);
  return check_finish();
}
