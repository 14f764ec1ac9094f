/*
 * tests/files/test_files.c - the file manager (files.h) with real sessions and
 * real worker processes: open/info/list/close and their errors, data-root
 * confinement, read errors, results bit-identical to direct reads (golden
 * sessions with gaps, segments, mixed rates, a late channel, encryption;
 * a generated session), the off-grid rule, prefetch of the windows ahead
 * and behind (never the window itself), in-flight deduplication, the
 * foreground lane threshold, eviction order, the oversized tile, idle
 * expiry with an injected clock, close purging one file, five threads
 * reading the whole file, open/read/close racing, logging without
 * passwords, and many managers created and freed with nothing left
 * behind.  No timing is asserted.
 */
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "files/files_impl.h"
#include "testutil.h"

static char gen_path[PATH_MAX];   /* generated: 8 ch x 256 Hz, gaps */
static char gen16_path[PATH_MAX]; /* generated: 16 ch x 256 Hz */

/* ---- helpers ---- */

/* golden() has four buffers; tests here hold more paths at once. */
static const char *golden(const char *rel) {
  static char buf[64][PATH_MAX];
  static int slot;
  char *b = buf[slot++ & 63];
  snprintf(b, PATH_MAX, "%s", tu_golden(rel));
  return b;
}

static mef3_files *new_fm(int pool, double tile_s, int ahead, int behind) {
  mef3_files_options o = MEF3_FILES_OPTIONS_INIT;
  o.use_process_pool = pool;
  o.tile_duration_s = tile_s;
  o.prefetch_ahead_windows = ahead;
  o.prefetch_behind_windows = behind;
  o.reader_processes = 3;
  o.prefetch_processes = 1;
  o.cache_ttl_s = 0;
  mef3_files *fm = NULL;
  CHECK_RC(mef3_files_new(&fm, &o), 0);
  REQUIRE(fm);
  return fm;
}

static int same_bits(const float *a, const float *b, size_t n, size_t *where) {
  for (size_t i = 0; i < n; i++) {
    if (isnan(a[i]) && isnan(b[i]))
      continue;
    if (memcmp(&a[i], &b[i], sizeof *a) != 0) {
      if (where)
        *where = i;
      return 0;
    }
  }
  return 1;
}

static int64_t on_grid(int64_t cs, double fs, int64_t k) {
  return cs + (int64_t)llround((double)k * 1e6 / fs);
}

/* Compare a manager read of one channel with a direct reader read. */
static void check_window_as(mef3_files *fm, const char *path,
                            const char *token, mef3_reader *r, size_t ch,
                            int64_t t0, int64_t t1) {
  const mef3_channel_info *ci = mef3_reader_channel(r, ch);
  const char *names[1] = {ci->name};
  mef3_signal *s = NULL;
  int rc = mef3_files_read_as(&s, fm, path, token, names, 1, t0, t1);
  CHECK_MSG(rc == 0, "%s %s [%lld, %lld): %s", path, ci->name, (long long)t0,
            (long long)t1, mef3_error_last()->message);
  if (rc)
    return;
  size_t n = (size_t)mef3_window_samples(t0, t1, ci->fs), got = 0;
  float *want = malloc((n ? n : 1) * sizeof *want);
  CHECK_RC(
      mef3_reader_read_time(&got, NULL, r, ch, t0, t1, MEF3_F32, want, n, NULL),
      0);
  size_t at = 0;
  CHECK(s->n_channels == 1 && s->n_samples == n && got == n);
  CHECK(!strcmp(s->channel_names[0], ci->name));
  CHECK(s->fs == ci->fs && s->start_uutc == t0 && s->end_uutc == t1);
  CHECK_MSG(s->n_samples == n && same_bits(s->data, want, n, &at),
            "%s %s [%lld, %lld) differs from a direct read at sample %zu "
            "(%g vs %g)",
            path, ci->name, (long long)t0, (long long)t1, at,
            (double)s->data[at], (double)want[at]);
  free(want);
  mef3_signal_free(s);
}

static void check_window(mef3_files *fm, const char *path, mef3_reader *r,
                         size_t ch, int64_t t0, int64_t t1) {
  check_window_as(fm, path, NULL, r, ch, t0, t1);
}

/* Windows of every channel of `path` against direct reads. */
static void check_session(mef3_files *fm, const char *path, const char *pw) {
  mef3_reader *r = NULL;
  mef3_reader_options ro = MEF3_READER_OPTIONS_INIT;
  ro.password = pw;
  REQUIRE(mef3_reader_open(&r, path, &ro) == 0);
  int already = -1;
  mef3_files_access acc;
  CHECK_RC(mef3_files_open_as(&acc, &already, fm, path, pw), 0);
  CHECK(already == 0);
  for (size_t ch = 0; ch < mef3_reader_channel_count(r); ch++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, ch);
    if (!ci->n_blocks)
      continue;
    double fs = ci->fs;
    int64_t cs = ci->start_uutc;
    int64_t total = ci->n_samples;
    /* starts: at the start, inside, before the start, near the end;
     * lengths: one sample, under a tile, several tiles, past the end */
    int64_t ks[] = {0, 777, total / 2 + 13, -2000, total - 10};
    int64_t lens[] = {1, 2000, total / 4 + 7, total + 5000};
    for (size_t a = 0; a < sizeof ks / sizeof *ks; a++)
      for (size_t b = 0; b < sizeof lens / sizeof *lens; b++) {
        int64_t t0 = on_grid(cs, fs, ks[a]);
        int64_t t1 = on_grid(cs, fs, ks[a] + lens[b]);
        check_window_as(fm, path, acc.token, r, ch, t0, t1);
      }
    /* the whole channel, twice: the second time from the cache */
    check_window_as(fm, path, acc.token, r, ch, cs, ci->end_uutc);
    check_window_as(fm, path, acc.token, r, ch, cs, ci->end_uutc);
  }
  mef3_reader_close(r);
  CHECK_RC(mef3_files_close_as(fm, path, acc.token), 0);
}

/* Deterministic counts: a random walk with a sine. */
static void synth(int32_t *out, size_t n, uint64_t *seed, int32_t *level) {
  for (size_t i = 0; i < n; i++) {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *level += (int32_t)(*seed % 41) - 20;
    out[i] = *level + (int32_t)(300.0 * sin((double)i * 0.05));
  }
}

/*
 * A session: `nch` channels at `fs`, `seconds` long, 1 s blocks.  With
 * `gaps`: a 3.3 s gap at 60 s in every channel, a new segment at 100 s,
 * the last channel at twice the rate and starting 2.5 s late.
 */
static void gen_session(const char *path, int nch, double fs, int seconds,
                        int gaps) {
  mef3_writer_options wo = MEF3_WRITER_OPTIONS_INIT;
  wo.uuid_seed = 7;
  mef3_writer *w = NULL;
  REQUIRE(mef3_writer_open(&w, path, &wo) == 0);
  int64_t T0 = 1600000000000000LL;
  for (int c = 0; c < nch; c++) {
    char name[32];
    snprintf(name, sizeof name, "ch%02d", c);
    mef3_channel_options co = MEF3_CHANNEL_OPTIONS_INIT;
    int late = gaps && c == nch - 1;
    co.name = name;
    co.fs = late ? 2 * fs : fs;
    co.start_uutc = T0 + (late ? 2500000 : 0);
    co.units_conversion_factor = 0.25;
    co.units_description = "uV";
    size_t ci;
    REQUIRE(mef3_writer_add_channel(&ci, w, &co) == 0);
    uint64_t seed = 1234567u + (uint64_t)c;
    int32_t level = 0;
    size_t chunk = (size_t)(co.fs * 10);
    int32_t *buf = malloc(chunk * sizeof *buf);
    for (int s = 0; s < seconds; s += 10) {
      int64_t at = MEF3_UUTC_NO_ENTRY;
      if (gaps && s == 100)
        REQUIRE(mef3_writer_new_segment(w, ci) == 0);
      if (gaps && s == 60) /* resume 3.3 s after the 50..60 s chunk */
        at = co.start_uutc + 63300000LL;
      synth(buf, chunk, &seed, &level);
      REQUIRE(mef3_writer_write_i32(w, ci, at, buf, chunk) == 0);
    }
    free(buf);
  }
  REQUIRE(mef3_writer_close(w) == 0);
}

static int children(void) { return tu_children(NULL, 0); }


/* ---- open, info, list, close ---- */

static void test_open_info_list_close(void) {
  const char *b = golden("sessions/b_multi_8ch.mefd");
  mef3_files *fm = new_fm(0, 60, 0, 0);
  int already = -1;
  CHECK_RC(mef3_files_open(&already, fm, b, NULL), 0);
  CHECK(already == 0);
  /* the same session by another spelling: already open, nothing new */
  char alias[PATH_MAX];
  snprintf(alias, sizeof alias, "%s/../sessions/./b_multi_8ch.mefd",
           golden("sessions"));
  CHECK_RC(mef3_files_open(&already, fm, alias, "ignored"), 0);
  CHECK(already == 1);
  CHECK_RC(mef3_files_open(NULL, fm, b, NULL), 0);

  mef3_file_info *info = NULL;
  CHECK_RC(mef3_files_info(&info, fm, alias), 0);
  REQUIRE(info);
  mef3_reader *r;
  REQUIRE(mef3_reader_open(&r, b, NULL) == 0);
  CHECK(info->n_channels == mef3_reader_channel_count(r));
  CHECK(!strcmp(info->path, b));
  char real[PATH_MAX];
  CHECK(realpath(b, real) && !strcmp(info->real_path, real));
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (size_t i = 0; i < info->n_channels; i++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, i);
    const mef3_file_channel *fc = &info->channels[i];
    CHECK(!strcmp(fc->name, ci->name)); /* the reader's (stable) order */
    CHECK(fc->fs == ci->fs);
    CHECK(fc->start_uutc == ci->start_uutc && fc->end_uutc == ci->end_uutc);
    CHECK(fc->n_samples == ci->n_samples);
    CHECK(fc->units_conversion_factor == ci->units_conversion_factor);
    lo = ci->start_uutc < lo ? ci->start_uutc : lo;
    hi = ci->end_uutc > hi ? ci->end_uutc : hi;
  }
  CHECK(info->start_uutc == lo && info->end_uutc == hi);
  CHECK(info->duration_s == (double)(hi - lo) / 1e6);
  CHECK(info->channels[7].start_uutc > info->start_uutc); /* late channel */
  CHECK(info->channels[6].fs > 499.6 && info->channels[6].fs < 499.8);
  CHECK(info->access_level == mef3_reader_access_level(r));
  mef3_file_info_free(info);
  mef3_reader_close(r);

  const char *a = golden("sessions/a_single_256hz.mefd");
  CHECK_RC(mef3_files_open(NULL, fm, a, NULL), 0);
  char **list = NULL;
  size_t n = 0;
  CHECK_RC(mef3_files_list(&list, &n, fm), 0);
  /* in opening order, as the original's dict keeps them */
  CHECK(n == 2 && !strcmp(list[0], b) && !strcmp(list[1], a));
  mef3_files_list_free(list, n);
  /* closed and opened again: last */
  CHECK_RC(mef3_files_close(fm, b), 0);
  CHECK_RC(mef3_files_open(NULL, fm, b, NULL), 0);
  CHECK_RC(mef3_files_list(&list, &n, fm), 0);
  CHECK(n == 2 && !strcmp(list[0], a) && !strcmp(list[1], b));
  mef3_files_list_free(list, n);
  mef3_files_stats st;
  mef3_files_get_stats(&st, fm);
  CHECK(st.open_files == 2);

  /* failures: clear messages, nothing changes */
  CHECK_RC(mef3_files_open(&already, fm, "/nonexistent/x.mefd", NULL),
           MEF3_ENOTFOUND);
  CHECK(already == 0);
  CHECK(strstr(mef3_error_last()->message, "/nonexistent/x.mefd") != NULL);
  const char *empty = tu_scratch("notmef");
  CHECK_RC(mef3_files_open(NULL, fm, empty, NULL), MEF3_ENOTFOUND);
  CHECK(strstr(mef3_error_last()->message, "channel") != NULL);
  const char *d = golden("sessions/d_encrypted.mefd");
  CHECK_RC(mef3_files_open(NULL, fm, d, NULL), MEF3_EPASSWORD);
  CHECK_RC(mef3_files_open(NULL, fm, d, "wrong"), MEF3_EPASSWORD);
  CHECK(strstr(mef3_error_last()->message, "wrong") == NULL);
  CHECK_RC(mef3_files_info(&info, fm, d), MEF3_ENOTFOUND);
  CHECK(info == NULL);
  CHECK_RC(mef3_files_open(NULL, fm, "", NULL), MEF3_EINVAL);
  mef3_files_get_stats(&st, fm);
  CHECK(st.open_files == 2);
  mef3_files_access dacc;
  CHECK_RC(mef3_files_open_as(&dacc, NULL, fm, d, "l1pass"), 0);
  CHECK_RC(mef3_files_info(&info, fm, d), MEF3_EPASSWORD); /* no token */
  CHECK_RC(mef3_files_info_as(&info, fm, d, dacc.token), 0);
  CHECK(info && info->access_level == 1 && info->times_relative == 1);
  mef3_file_info_free(info);

  CHECK_RC(mef3_files_close(fm, alias), 0); /* any spelling closes it */
  CHECK_RC(mef3_files_close(fm, b), MEF3_ENOTFOUND);
  CHECK_RC(mef3_files_info(&info, fm, b), MEF3_ENOTFOUND);
  CHECK_RC(mef3_files_list(&list, &n, fm), 0);
  CHECK(n == 2 && !strcmp(list[0], a) && !strcmp(list[1], d));
  mef3_files_list_free(list, n);
  CHECK_RC(mef3_files_close(fm, a), 0);
  CHECK_RC(mef3_files_close_as(fm, d, dacc.token), 0);
  CHECK_RC(mef3_files_list(&list, &n, fm), 0);
  CHECK(n == 0);
  mef3_files_list_free(list, n);
  mef3_files_free(fm);

  /* max_open_files */
  mef3_files_options o = MEF3_FILES_OPTIONS_INIT;
  o.max_open_files = 1;
  o.use_process_pool = 0;
  REQUIRE(mef3_files_new(&fm, &o) == 0);
  CHECK_RC(mef3_files_open(NULL, fm, a, NULL), 0);
  CHECK_RC(mef3_files_open(NULL, fm, b, NULL), MEF3_ELIMIT);
  CHECK_RC(mef3_files_open(&already, fm, a, NULL), 0);
  CHECK(already == 1);
  mef3_files_free(fm);
}

static void test_options(void) {
  mef3_files *fm = NULL;
  mef3_files_options o = MEF3_FILES_OPTIONS_INIT;
  o.tile_cache_bytes = 0;
  CHECK_RC(mef3_files_new(&fm, &o), MEF3_EINVAL);
  CHECK(strstr(mef3_error_last()->message, "tile_cache_bytes") != NULL);
  o.tile_cache_bytes = -1;
  CHECK_RC(mef3_files_new(&fm, &o), MEF3_EINVAL);
  o = (mef3_files_options)MEF3_FILES_OPTIONS_INIT;
  o.tile_duration_s = 0;
  CHECK_RC(mef3_files_new(&fm, &o), MEF3_EINVAL);
  o = (mef3_files_options)MEF3_FILES_OPTIONS_INIT;
  o.reader_processes = 1;
  CHECK_RC(mef3_files_new(&fm, &o), MEF3_EINVAL);
  o.reader_processes = 4;
  o.prefetch_processes = 4;
  CHECK_RC(mef3_files_new(&fm, &o), MEF3_EINVAL);
  o.prefetch_processes = 0;
  CHECK_RC(mef3_files_new(&fm, &o), MEF3_EINVAL);
  o = (mef3_files_options)MEF3_FILES_OPTIONS_INIT;
  o.cache_ttl_s = -1;
  CHECK_RC(mef3_files_new(&fm, &o), MEF3_EINVAL);
  o = (mef3_files_options)MEF3_FILES_OPTIONS_INIT;
  o.data_root = "/nonexistent/root";
  CHECK_RC(mef3_files_new(&fm, &o), MEF3_ENOTFOUND);
  o = (mef3_files_options)MEF3_FILES_OPTIONS_INIT;
  o.version = 99;
  CHECK_RC(mef3_files_new(&fm, &o), MEF3_EINVAL);
  CHECK(fm == NULL);
  CHECK_RC(mef3_files_new(&fm, NULL), 0); /* the defaults */
  mef3_files_free(fm);
  mef3_files_free(NULL);
}

/* ---- paths and the data root ---- */

static void test_data_root(void) {
  const char *root = tu_scratch("root");
  const char *outside = tu_scratch("outside");
  const char *a = golden("sessions/a_single_256hz.mefd");
  REQUIRE(tu_system("cp -a '%s' '%s/a.mefd'", a, root) == 0);
  REQUIRE(tu_system("mkdir -p '%s/sub' && ln -s ../a.mefd '%s/sub/link.mefd'",
                    root, root) == 0);
  REQUIRE(tu_system("ln -s '%s' '%s/escape.mefd'", a, root) == 0);
  REQUIRE(tu_system("cp -a '%s' '%s/b.mefd'", a, outside) == 0);
  /* a session inside whose channel is a link to one outside */
  REQUIRE(tu_system("mkdir '%s/sneaky.mefd' && ln -s '%s/b.mefd/ch01.timd' "
                    "'%s/sneaky.mefd/ch01.timd'",
                    root, outside, root) == 0);
  char rroot[PATH_MAX], out[PATH_MAX];
  REQUIRE(realpath(root, rroot));

  CHECK_RC(mef3_files_resolve(root, "a.mefd", out, sizeof out), 0);
  char want[PATH_MAX + 16];
  snprintf(want, sizeof want, "%s/a.mefd", rroot);
  CHECK(!strcmp(out, want));
  CHECK_RC(mef3_files_resolve(root, "sub/link.mefd", out, sizeof out), 0);
  CHECK(!strcmp(out, want)); /* a link that stays inside is fine */
  CHECK_RC(mef3_files_resolve(root, want, out, sizeof out), 0);
  CHECK_RC(mef3_files_resolve(root, "escape.mefd", out, sizeof out),
           MEF3_EINVAL);
  CHECK(strstr(mef3_error_last()->message, "outside") != NULL);
  CHECK_RC(mef3_files_resolve(root, "../outside/b.mefd", out, sizeof out),
           MEF3_EINVAL);
  CHECK_RC(mef3_files_resolve(root, "sub/../a.mefd", out, sizeof out),
           MEF3_EINVAL);
  CHECK_RC(mef3_files_resolve(root, a, out, sizeof out), MEF3_EINVAL);
  CHECK_RC(mef3_files_resolve(root, "missing.mefd", out, sizeof out),
           MEF3_ENOTFOUND);
  CHECK_RC(mef3_files_resolve(root, "", out, sizeof out), MEF3_EINVAL);
  CHECK_RC(mef3_files_resolve(root, "a.mefd", out, 8), MEF3_EINVAL);
  char *longp = malloc(PATH_MAX + 10);
  memset(longp, 'x', PATH_MAX + 9);
  longp[PATH_MAX + 9] = '\0';
  CHECK_RC(mef3_files_resolve(root, longp, out, sizeof out), MEF3_EINVAL);
  CHECK_RC(mef3_files_resolve(NULL, longp, out, sizeof out), MEF3_EINVAL);
  free(longp);
  /* "/root2" is not inside "/root" */
  char sibling[PATH_MAX + 8];
  snprintf(sibling, sizeof sibling, "%s2", rroot);
  REQUIRE(tu_system("mkdir -p '%s'", sibling) == 0);
  CHECK_RC(mef3_files_resolve(rroot, sibling, out, sizeof out), MEF3_EINVAL);
  /* no root: only canonicalize */
  CHECK_RC(mef3_files_resolve(NULL, a, out, sizeof out), 0);
  CHECK(out[0] == '/');

  mef3_files_options o = MEF3_FILES_OPTIONS_INIT;
  o.data_root = root;
  o.use_process_pool = 0;
  mef3_files *fm;
  REQUIRE(mef3_files_new(&fm, &o) == 0);
  CHECK_RC(mef3_files_open(NULL, fm, "a.mefd", NULL), 0);
  int already = 0;
  CHECK_RC(mef3_files_open(&already, fm, "sub/link.mefd", NULL), 0);
  CHECK(already == 1);
  CHECK_RC(mef3_files_open(NULL, fm, "escape.mefd", NULL), MEF3_EINVAL);
  CHECK_RC(mef3_files_open(NULL, fm, a, NULL), MEF3_EINVAL);
  CHECK_RC(mef3_files_open(NULL, fm, "sneaky.mefd", NULL), MEF3_EINVAL);
  CHECK(strstr(mef3_error_last()->message, "symbolic link") != NULL);
  char **list;
  size_t n;
  CHECK_RC(mef3_files_list(&list, &n, fm), 0);
  CHECK(n == 1 && !strcmp(list[0], "a.mefd"));
  mef3_files_list_free(list, n);
  mef3_file_info *info;
  CHECK_RC(mef3_files_info(&info, fm, want), 0); /* by its canonical path */
  mef3_file_info_free(info);
  mef3_signal *s;
  CHECK_RC(mef3_files_read(&s, fm, "a.mefd", NULL, 0, 1600000000123456LL,
                           1600000001123456LL),
           0);
  CHECK(s && s->n_samples == 256);
  mef3_signal_free(s);
  CHECK_RC(mef3_files_close(fm, "sub/link.mefd"), 0);
  mef3_files_free(fm);
}

/* ---- reads ---- */

static void test_read_errors(void) {
  const char *b = golden("sessions/b_multi_8ch.mefd");
  mef3_files *fm = new_fm(0, 60, 0, 0);
  REQUIRE(mef3_files_open(NULL, fm, b, NULL) == 0);
  mef3_file_info *info;
  REQUIRE(mef3_files_info(&info, fm, b) == 0);
  int64_t t = info->start_uutc;
  mef3_signal *s = (mef3_signal *)1;
  const char *bad[] = {"ch01", "nope"};
  CHECK_RC(mef3_files_read(&s, fm, b, bad, 2, t, t + 1000000), MEF3_ENOTFOUND);
  CHECK(s == NULL);
  CHECK(strstr(mef3_error_last()->message, "nope") != NULL);
  const char *mixed[] = {"ch01", "ch04"};
  CHECK_RC(mef3_files_read(&s, fm, b, mixed, 2, t, t + 1000000), MEF3_EINVAL);
  CHECK(strstr(mef3_error_last()->message, "sampling rate") != NULL);
  /* an empty list is every channel: mixed rates here */
  CHECK_RC(mef3_files_read(&s, fm, b, NULL, 0, t, t + 1000000), MEF3_EINVAL);
  const char *one[] = {"ch01"};
  CHECK_RC(mef3_files_read(&s, fm, b, one, 1, t, t), MEF3_EINVAL);
  CHECK_RC(mef3_files_read(&s, fm, b, one, 1, t, t - 5), MEF3_EINVAL);
  CHECK_RC(mef3_files_read(&s, fm, b, one, 1, t, t + 1000), MEF3_EINVAL);
  CHECK(strstr(mef3_error_last()->message, "one sample") != NULL);
  const char *nul[] = {NULL};
  CHECK_RC(mef3_files_read(&s, fm, b, nul, 1, t, t + 1000000), MEF3_EINVAL);
  CHECK_RC(mef3_files_read(&s, fm, "/not/open.mefd", one, 1, t, t + 1000000),
           MEF3_ENOTFOUND);
  CHECK(strstr(mef3_error_last()->message, "not open") != NULL);
  CHECK_RC(mef3_files_read(&s, fm, b, one, 1, INT64_MIN + 10, INT64_MAX - 10),
           MEF3_EINVAL);
  /* duplicates and order are kept */
  const char *dup[] = {"ch03", "ch01", "ch03"};
  CHECK_RC(mef3_files_read(&s, fm, b, dup, 3, t, t + 2000000), 0);
  if (s) {
    CHECK(s->n_channels == 3 && s->n_samples == 512);
    CHECK(!strcmp(s->channel_names[0], "ch03") &&
          !strcmp(s->channel_names[1], "ch01") &&
          !strcmp(s->channel_names[2], "ch03"));
    CHECK(same_bits(s->data, s->data + 2 * 512, 512, NULL));
    CHECK(!same_bits(s->data, s->data + 512, 512, NULL));
  }
  mef3_signal_free(s);
  mef3_files_stats st;
  mef3_files_get_stats(&st, fm);
  CHECK(st.reads == 1);
  mef3_file_info_free(info);
  mef3_files_free(fm);
}

static void test_reads_match_direct(void) {
  struct {
    const char *path;
    const char *pw;
    int all; /* 1: in every configuration, 0: only the first */
  } cases[] = {
      {golden("sessions/a_single_256hz.mefd"), NULL, 0},
      {golden("sessions/b_multi_8ch.mefd"), NULL, 1},
      {golden("sessions/c_discontinuities.mefd"), NULL, 1},
      {golden("sessions/d_encrypted.mefd"), "l2pass", 1},
      {golden("sessions/d_encrypted.mefd"), "l1pass", 0},
      {golden("sessions/d2_encrypted_blocks.mefd"), "l1pass", 1},
      {golden("sessions/f_escapes_extremes.mefd"), NULL, 0},
      {golden("mef3io_golden/fractional_fs.mefd"), NULL, 0},
      {golden("mef3io_golden/nan_gap_long.mefd"), NULL, 0},
      {golden("mef3io_golden/multi_segment.mefd"), NULL, 0},
      {golden("mef3io_golden/enc_both.mefd"), "pass2", 0},
      {gen_path, NULL, 1},
  };
  /* tiles of 2.5 s (many boundaries) in process, then through the pool,
   * then tiles of 60 s */
  struct {
    int pool;
    double tile_s;
  } cfg[] = {{0, 2.5}, {1, 2.5}, {0, 60.0}};
  for (size_t k = 0; k < sizeof cfg / sizeof *cfg; k++) {
    mef3_files *fm = new_fm(cfg[k].pool, cfg[k].tile_s, 1, 1);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
      if (k == 0 || cases[i].all)
        check_session(fm, cases[i].path, cases[i].pw);
    mef3_files_stats st;
    mef3_files_get_stats(&st, fm);
    CHECK(st.hits > 0 && st.misses > 0);
    if (cfg[k].pool)
      CHECK(st.pool_tiles > 0);
    else
      CHECK(st.pool_tiles == 0);
    mef3_files_free(fm);
  }
}

/* Several channels at once, all equal to direct reads, repeated reads
 * bit-identical. */
static void test_multichannel(void) {
  mef3_files *fm = new_fm(1, 10.0, 1, 1);
  REQUIRE(mef3_files_open(NULL, fm, gen_path, NULL) == 0);
  mef3_reader *r;
  REQUIRE(mef3_reader_open(&r, gen_path, NULL) == 0);
  size_t nch = mef3_reader_channel_count(r) - 1; /* the last is faster */
  const char **names = malloc(nch * sizeof *names);
  for (size_t i = 0; i < nch; i++)
    names[i] = mef3_reader_channel(r, i)->name;
  const mef3_channel_info *c0 = mef3_reader_channel(r, 0);
  int64_t t0 = on_grid(c0->start_uutc, c0->fs, 45 * 256 + 3);
  int64_t t1 = on_grid(c0->start_uutc, c0->fs, 85 * 256);
  mef3_signal *s1 = NULL, *s2 = NULL;
  CHECK_RC(mef3_files_read(&s1, fm, gen_path, names, nch, t0, t1), 0);
  CHECK_RC(mef3_files_read(&s2, fm, gen_path, names, nch, t0, t1), 0);
  REQUIRE(s1 && s2);
  size_t n = s1->n_samples;
  CHECK(s1->n_channels == nch && n == (size_t)(40 * 256 - 3));
  CHECK(memcmp(s1->data, s2->data, nch * n * sizeof(float)) == 0);
  float *want = malloc(n * sizeof *want);
  int nan_seen = 0;
  for (size_t i = 0; i < nch; i++) {
    size_t got;
    REQUIRE(mef3_reader_read_time(&got, NULL, r, i, t0, t1, MEF3_F32, want, n,
                                  NULL) == 0);
    CHECK(got == n && same_bits(s1->data + i * n, want, n, NULL));
    for (size_t k = 0; k < n; k++)
      nan_seen |= isnan(want[k]);
  }
  CHECK(nan_seen); /* the window holds the gap */
  free(want);
  mef3_signal_free(s1);
  mef3_signal_free(s2);
  /* an empty list means all channels: here, mixed rates */
  CHECK_RC(mef3_files_read(&s1, fm, gen_path, NULL, 0, t0, t1), MEF3_EINVAL);
  free(names);
  mef3_reader_close(r);
  mef3_files_free(fm);
}

/* A start off the grid: the window is the grid samples from the one
 * nearest to the start, the same as a read from that grid point. */
static void test_off_grid(void) {
  const char *b = golden("sessions/b_multi_8ch.mefd");
  mef3_files *fm = new_fm(0, 7.0, 0, 0);
  REQUIRE(mef3_files_open(NULL, fm, b, NULL) == 0);
  mef3_reader *r;
  REQUIRE(mef3_reader_open(&r, b, NULL) == 0);
  for (size_t ch = 0; ch < mef3_reader_channel_count(r); ch++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, ch);
    const char *names[1] = {ci->name};
    int64_t offs[] = {1, 1000, 1499, -1501, 2600, 777777};
    for (size_t i = 0; i < sizeof offs / sizeof *offs; i++) {
      int64_t t0 = ci->start_uutc + 10000000 + offs[i];
      int64_t t1 = t0 + 9000000;
      int64_t k =
          (int64_t)llround((double)(t0 - ci->start_uutc) * ci->fs / 1e6);
      int64_t g0 = on_grid(ci->start_uutc, ci->fs, k);
      mef3_signal *s = NULL, *g = NULL;
      CHECK_RC(mef3_files_read(&s, fm, b, names, 1, t0, t1), 0);
      CHECK_RC(mef3_files_read(&g, fm, b, names, 1, g0, g0 + (t1 - t0)), 0);
      if (s && g) {
        size_t n = s->n_samples < g->n_samples ? s->n_samples : g->n_samples;
        CHECK(s->n_samples == (size_t)mef3_window_samples(t0, t1, ci->fs));
        CHECK_MSG(same_bits(s->data, g->data, n, NULL),
                  "%s off-grid start %lld", ci->name, (long long)offs[i]);
      }
      mef3_signal_free(s);
      mef3_signal_free(g);
    }
  }
  mef3_reader_close(r);
  mef3_files_free(fm);
}

/* ---- prefetch ---- */

static void test_prefetch_ahead_behind(void) {
  const char *a = golden("sessions/a_single_256hz.mefd");
  const char *names[1] = {"ch01"};
  int64_t cs = 1600000000123456LL;
  for (int pool = 0; pool < 2; pool++) {
    /* a 10 s window on tile 10 of 10 s tiles */
    mef3_files *fm = new_fm(pool, 10.0, 1, 1);
    REQUIRE(mef3_files_open(NULL, fm, a, NULL) == 0);
    mef3_signal *s;
    CHECK_RC(
        mef3_files_read(&s, fm, a, names, 1, cs + 100000000, cs + 110000000),
        0);
    mef3_signal_free(s);
    mef3__files_prefetch_wait(fm);
    CHECK(mef3__files_tile_cached(fm, a, "ch01", 9));
    CHECK(mef3__files_tile_cached(fm, a, "ch01", 10));
    CHECK(mef3__files_tile_cached(fm, a, "ch01", 11));
    CHECK(!mef3__files_tile_cached(fm, a, "ch01", 8));
    CHECK(!mef3__files_tile_cached(fm, a, "ch01", 12));
    mef3_files_stats st;
    mef3_files_get_stats(&st, fm);
    CHECK(st.prefetched == 2); /* never the window itself */
    CHECK(st.misses == 1 && st.tiles == 3);
    /* the next page is a hit on a prefetched tile */
    CHECK_RC(
        mef3_files_read(&s, fm, a, names, 1, cs + 110000000, cs + 120000000),
        0);
    mef3_signal_free(s);
    mef3__files_prefetch_wait(fm);
    mef3_files_get_stats(&st, fm);
    CHECK(st.hits == 1 && st.prefetch_used == 1);
    CHECK(st.prefetched == 3); /* tile 12 now; 10 was cached */
    CHECK(mef3__files_tile_cached(fm, a, "ch01", 12));
    mef3_files_free(fm);

    /* a window across tiles 9 and 10, two windows ahead, none behind */
    fm = new_fm(pool, 10.0, 2, 0);
    REQUIRE(mef3_files_open(NULL, fm, a, NULL) == 0);
    CHECK_RC(
        mef3_files_read(&s, fm, a, names, 1, cs + 95000000, cs + 105000000), 0);
    mef3_signal_free(s);
    mef3__files_prefetch_wait(fm);
    /* ahead: [105, 125) s = tiles 10..12; 10 is the window's own */
    CHECK(mef3__files_tile_cached(fm, a, "ch01", 11));
    CHECK(mef3__files_tile_cached(fm, a, "ch01", 12));
    CHECK(!mef3__files_tile_cached(fm, a, "ch01", 8));
    CHECK(!mef3__files_tile_cached(fm, a, "ch01", 13));
    mef3_files_get_stats(&st, fm);
    CHECK(st.prefetched == 2 && st.misses == 2);
    /* near the end: nothing past the channel is prefetched */
    CHECK_RC(
        mef3_files_read(&s, fm, a, names, 1, cs + 165000000, cs + 175000000),
        0);
    mef3_signal_free(s);
    mef3__files_prefetch_wait(fm);
    mef3_files_get_stats(&st, fm);
    CHECK(st.prefetched == 2); /* tile 17 was read; 18 starts at the end */
    mef3_files_free(fm);

    /* behind only, at the start: nothing before tile 0 */
    fm = new_fm(pool, 10.0, 0, 1);
    REQUIRE(mef3_files_open(NULL, fm, a, NULL) == 0);
    CHECK_RC(mef3_files_read(&s, fm, a, names, 1, cs, cs + 10000000), 0);
    mef3_signal_free(s);
    CHECK_RC(mef3_files_read(&s, fm, a, names, 1, cs + 50000000, cs + 60000000),
             0);
    mef3_signal_free(s);
    mef3__files_prefetch_wait(fm);
    mef3_files_get_stats(&st, fm);
    CHECK(st.prefetched == 1 && mef3__files_tile_cached(fm, a, "ch01", 4));
    mef3_files_free(fm);
  }
}

/* Scrolling forward with prefetch: every tile is decoded once, by the
 * read or by prefetch, never by both. */
static void test_no_double_decode(void) {
  for (int pool = 0; pool < 2; pool++) {
    mef3_files *fm = new_fm(pool, 10.0, 1, 1);
    REQUIRE(mef3_files_open(NULL, fm, gen16_path, NULL) == 0);
    mef3_file_info *info;
    REQUIRE(mef3_files_info(&info, fm, gen16_path) == 0);
    for (int i = 0; i < 20; i++) {
      int64_t t0 = info->start_uutc + (int64_t)i * 10000000;
      mef3_signal *s;
      CHECK_RC(mef3_files_read(&s, fm, gen16_path, NULL, 0, t0, t0 + 10000000),
               0);
      mef3_signal_free(s);
      if (i % 4 == 0) /* now and then, a pause long enough for prefetch */
        mef3__files_prefetch_wait(fm);
    }
    mef3__files_prefetch_wait(fm);
    mef3_files_stats st;
    mef3_files_get_stats(&st, fm);
    CHECK_MSG(st.tiles == st.misses + st.prefetched,
              "tiles %llu, misses %llu, prefetched %llu",
              (unsigned long long)st.tiles, (unsigned long long)st.misses,
              (unsigned long long)st.prefetched);
    CHECK(st.hits + st.misses + st.waits == 20 * 16);
    CHECK(st.prefetched > 0 && st.prefetch_used > 0);
    CHECK(st.evictions == 0);
    mef3_file_info_free(info);
    mef3_files_free(fm);
  }
}

typedef struct {
  mef3_files *fm;
  const char *path;
  int64_t t0, t1;
  mef3_signal *s;
  int rc;
  atomic_int *gate;
} rd_arg;

static void *read_once(void *p) {
  rd_arg *a = p;
  atomic_fetch_sub(a->gate, 1);
  while (atomic_load(a->gate) > 0)
    ; /* start together */
  a->rc = mef3_files_read(&a->s, a->fm, a->path, NULL, 0, a->t0, a->t1);
  return NULL;
}

/* Six threads want the same cold window: each tile decoded once. */
static void test_inflight_dedup(void) {
  for (int pool = 0; pool < 2; pool++) {
    mef3_files *fm = new_fm(pool, 5.0, 0, 0);
    REQUIRE(mef3_files_open(NULL, fm, gen16_path, NULL) == 0);
    mef3_file_info *info;
    REQUIRE(mef3_files_info(&info, fm, gen16_path) == 0);
    enum { N = 6 };
    pthread_t th[N];
    rd_arg a[N];
    atomic_int gate;
    atomic_init(&gate, N);
    int64_t t0 = info->start_uutc + 30000000;
    for (int i = 0; i < N; i++) {
      a[i] = (rd_arg){fm, gen16_path, t0, t0 + 40000000, NULL, -1, &gate};
      pthread_create(&th[i], NULL, read_once, &a[i]);
    }
    for (int i = 0; i < N; i++)
      pthread_join(th[i], NULL);
    size_t tiles = 16 * 8;
    mef3_files_stats st;
    mef3_files_get_stats(&st, fm);
    CHECK_MSG(st.misses == tiles, "misses %llu", (unsigned long long)st.misses);
    CHECK(st.hits + st.waits == (N - 1) * tiles);
    CHECK(st.pool_tiles + st.local_tiles == tiles);
    for (int i = 0; i < N; i++) {
      CHECK(a[i].rc == 0 && a[i].s);
      if (i && a[i].s && a[0].s)
        CHECK(memcmp(a[i].s->data, a[0].s->data,
                     16 * a[0].s->n_samples * sizeof(float)) == 0);
    }
    for (int i = 0; i < N; i++)
      mef3_signal_free(a[i].s);
    mef3_file_info_free(info);
    mef3_files_free(fm);
  }
}

/* Fewer than min_parallel_tiles missing: in process; more: the pool. */
static void test_foreground_lane(void) {
  mef3_files *fm = new_fm(1, 10.0, 0, 0);
  REQUIRE(mef3_files_open(NULL, fm, gen16_path, NULL) == 0);
  const char *one[] = {"ch03"};
  const char *two[] = {"ch04", "ch05"};
  int64_t cs = 1600000000000000LL;
  mef3_signal *s;
  CHECK_RC(mef3_files_read(&s, fm, gen16_path, one, 1, cs, cs + 10000000), 0);
  mef3_signal_free(s);
  mef3_files_stats st;
  mef3_files_get_stats(&st, fm);
  CHECK(st.local_tiles == 1 && st.pool_tiles == 0);
  CHECK_RC(mef3_files_read(&s, fm, gen16_path, two, 2, cs, cs + 10000000), 0);
  mef3_signal_free(s);
  CHECK_RC(
      mef3_files_read(&s, fm, gen16_path, one, 1, cs + 20000000, cs + 50000000),
      0);
  mef3_signal_free(s);
  mef3_files_get_stats(&st, fm);
  CHECK(st.local_tiles == 1 && st.pool_tiles == 5);
  mef3_files_free(fm);

  /* min_parallel_tiles 1: everything through the pool */
  mef3_files_options o = MEF3_FILES_OPTIONS_INIT;
  o.min_parallel_tiles = 1;
  o.reader_processes = 2;
  o.prefetch_ahead_windows = o.prefetch_behind_windows = 0;
  o.tile_duration_s = 10;
  REQUIRE(mef3_files_new(&fm, &o) == 0);
  REQUIRE(mef3_files_open(NULL, fm, gen16_path, NULL) == 0);
  CHECK_RC(mef3_files_read(&s, fm, gen16_path, one, 1, cs, cs + 10000000), 0);
  mef3_signal_free(s);
  mef3_files_get_stats(&st, fm);
  CHECK(st.local_tiles == 0 && st.pool_tiles == 1);
  mef3_files_free(fm);
}

/* ---- the cache through the manager ---- */

static void test_eviction_order(void) {
  const char *a = golden("sessions/a_single_256hz.mefd");
  mef3_files_options o = MEF3_FILES_OPTIONS_INIT;
  o.use_process_pool = 0;
  o.tile_duration_s = 10;
  o.tile_cache_bytes = 2 * 2560 * 4; /* two tiles */
  o.prefetch_ahead_windows = o.prefetch_behind_windows = 0;
  mef3_files *fm;
  REQUIRE(mef3_files_new(&fm, &o) == 0);
  REQUIRE(mef3_files_open(NULL, fm, a, NULL) == 0);
  const char *names[1] = {"ch01"};
  int64_t cs = 1600000000123456LL;
  int order[] = {0, 1, 0, 2};
  mef3_signal *s;
  for (int i = 0; i < 4; i++) {
    int64_t t0 = on_grid(cs, 256.0, (int64_t)order[i] * 2560);
    CHECK_RC(mef3_files_read(&s, fm, a, names, 1, t0, t0 + 10000000), 0);
    mef3_signal_free(s);
  }
  CHECK(mef3__files_tile_cached(fm, a, "ch01", 0));
  CHECK(!mef3__files_tile_cached(fm, a, "ch01", 1));
  CHECK(mef3__files_tile_cached(fm, a, "ch01", 2));
  mef3_files_stats st;
  mef3_files_get_stats(&st, fm);
  CHECK(st.evictions == 1 && st.tiles == 2 && st.bytes == 2 * 2560 * 4);
  CHECK(st.hits == 1 && st.misses == 3);
  /* a read larger than the budget still returns every sample */
  mef3_reader *r;
  REQUIRE(mef3_reader_open(&r, a, NULL) == 0);
  check_window(fm, a, r, 0, cs, cs + 180000000);
  mef3_reader_close(r);
  mef3_files_get_stats(&st, fm);
  CHECK(st.bytes <= 2 * 2560 * 4);
  mef3_files_free(fm);
}

static void test_oversized_tile(void) {
  const char *b = golden("sessions/b_multi_8ch.mefd");
  mef3_files_options o = MEF3_FILES_OPTIONS_INIT;
  o.use_process_pool = 0;
  o.tile_duration_s = 1;
  o.tile_cache_bytes = 4096; /* a 256 Hz tile fits, a 5000 Hz one not */
  o.prefetch_ahead_windows = o.prefetch_behind_windows = 0;
  mef3_files *fm;
  REQUIRE(mef3_files_new(&fm, &o) == 0);
  REQUIRE(mef3_files_open(NULL, fm, b, NULL) == 0);
  mef3_reader *r;
  REQUIRE(mef3_reader_open(&r, b, NULL) == 0);
  const mef3_channel_info *c1 = mef3_reader_channel(r, 0);
  const mef3_channel_info *c8 = mef3_reader_channel(r, 7);
  check_window(fm, b, r, 0, c1->start_uutc, c1->start_uutc + 1000000);
  CHECK(mef3__files_tile_cached(fm, b, "ch01", 0));
  check_window(fm, b, r, 7, c8->start_uutc, c8->start_uutc + 1000000);
  check_window(fm, b, r, 7, c8->start_uutc, c8->start_uutc + 1000000);
  CHECK(!mef3__files_tile_cached(fm, b, "ch08", 0));
  CHECK(mef3__files_tile_cached(fm, b, "ch01", 0));
  mef3_files_stats st;
  mef3_files_get_stats(&st, fm);
  CHECK(st.evictions == 0 && st.tiles == 1 && st.bytes == 256 * 4);
  CHECK(st.misses == 3);
  mef3_reader_close(r);
  mef3_files_free(fm);
}

static _Atomic int64_t fake_ms;
static int64_t fake_clock(void *payload) {
  (void)payload;
  return atomic_load(&fake_ms);
}

static void test_idle_expiry(void) {
  const char *a = golden("sessions/a_single_256hz.mefd");
  atomic_store(&fake_ms, 5000);
  mef3_files_options o = MEF3_FILES_OPTIONS_INIT;
  o.use_process_pool = 0;
  o.tile_duration_s = 10;
  o.cache_ttl_s = 100;
  o.clock = fake_clock;
  o.prefetch_ahead_windows = o.prefetch_behind_windows = 0;
  mef3_files *fm;
  REQUIRE(mef3_files_new(&fm, &o) == 0);
  REQUIRE(mef3_files_open(NULL, fm, a, NULL) == 0);
  const char *names[1] = {"ch01"};
  int64_t cs = 1600000000123456LL;
  mef3_signal *s;
  CHECK_RC(mef3_files_read(&s, fm, a, names, 1, cs, on_grid(cs, 256, 3 * 2560)),
           0); /* tiles 0, 1, 2 */
  mef3_signal_free(s);
  atomic_store(&fake_ms, 5000 + 60000);
  CHECK(mef3__files_sweep_now(fm) == 0);
  mef3_files_stats st;
  mef3_files_get_stats(&st, fm);
  CHECK(st.tiles == 3 && st.expirations == 0);
  CHECK_RC(mef3_files_read(&s, fm, a, names, 1, on_grid(cs, 256, 2560),
                           on_grid(cs, 256, 2 * 2560)),
           0); /* tile 1 touched at 65 s */
  mef3_signal_free(s);
  atomic_store(&fake_ms, 5000 + 130000);
  CHECK(mef3__files_sweep_now(fm) == 0); /* the sweeper thread runs */
  mef3_files_get_stats(&st, fm);
  CHECK(st.expirations == 2 && st.tiles == 1);
  CHECK(mef3__files_tile_cached(fm, a, "ch01", 1));
  CHECK(!mef3__files_tile_cached(fm, a, "ch01", 0));
  atomic_store(&fake_ms, 5000 + 170000);
  mef3__files_sweep_now(fm);
  mef3_files_get_stats(&st, fm);
  CHECK(st.expirations == 3 && st.tiles == 0 && st.bytes == 0);
  mef3_files_free(fm);

  /* ttl 0: no sweeper at all */
  fm = new_fm(0, 10, 0, 0);
  CHECK(mef3__files_sweep_now(fm) == -1);
  mef3_files_free(fm);
}

static void test_close_purges_one(void) {
  const char *a = golden("sessions/a_single_256hz.mefd");
  const char *c = golden("sessions/c_discontinuities.mefd");
  for (int pool = 0; pool < 2; pool++) {
    mef3_files *fm = new_fm(pool, 10.0, 1, 1);
    REQUIRE(mef3_files_open(NULL, fm, a, NULL) == 0);
    REQUIRE(mef3_files_open(NULL, fm, c, NULL) == 0);
    mef3_file_info *ia, *ic;
    REQUIRE(mef3_files_info(&ia, fm, a) == 0);
    REQUIRE(mef3_files_info(&ic, fm, c) == 0);
    mef3_signal *s;
    CHECK_RC(mef3_files_read(&s, fm, a, NULL, 0, ia->start_uutc,
                             ia->start_uutc + 30000000),
             0);
    mef3_signal_free(s);
    const char *c1[] = {"ch01"};
    CHECK_RC(mef3_files_read(&s, fm, c, c1, 1, ic->start_uutc,
                             ic->start_uutc + 30000000),
             0);
    mef3_signal_free(s);
    mef3__files_prefetch_wait(fm);
    mef3_files_stats st;
    mef3_files_get_stats(&st, fm);
    uint64_t before = st.tiles;
    CHECK(mef3__files_tile_cached(fm, c, "ch01", 0));
    CHECK(before == 6 + 6); /* each: 3 read + 3 ahead */
    CHECK_RC(mef3_files_close(fm, a), 0);
    mef3_files_get_stats(&st, fm);
    CHECK(st.tiles == 6 && st.bytes == 6 * 10000 * 4);
    CHECK(mef3__files_tile_cached(fm, c, "ch01", 0));
    CHECK_RC(mef3_files_read(&s, fm, a, NULL, 0, ia->start_uutc,
                             ia->start_uutc + 30000000),
             MEF3_ENOTFOUND);
    /* reopened: a new file, read again from disk */
    REQUIRE(mef3_files_open(NULL, fm, a, NULL) == 0);
    CHECK_RC(mef3_files_read(&s, fm, a, NULL, 0, ia->start_uutc,
                             ia->start_uutc + 30000000),
             0);
    mef3_signal_free(s);
    mef3_file_info_free(ia);
    mef3_file_info_free(ic);
    mef3_files_free(fm);
  }
}

/* ---- threads ---- */

typedef struct {
  mef3_files *fm;
  const char *path;
  int64_t start, end, win;
  float *out;
  size_t n_out;
  int errors;
} whole_arg;

static void *read_whole(void *p) {
  whole_arg *a = p;
  size_t nch = 16, cap = 0;
  for (int64_t t = a->start; t < a->end; t += a->win) {
    int64_t e = t + a->win < a->end ? t + a->win : a->end;
    mef3_signal *s = NULL;
    if (mef3_files_read(&s, a->fm, a->path, NULL, 0, t, e) != 0) {
      a->errors++;
      continue;
    }
    size_t need = (a->n_out + s->n_samples) * nch;
    if (need > cap) {
      cap = need * 2;
      a->out = realloc(a->out, cap * sizeof *a->out);
    }
    /* channel-major within a window, windows one after another */
    memcpy(a->out + a->n_out * nch, s->data,
           s->n_samples * nch * sizeof *a->out);
    a->n_out += s->n_samples;
    mef3_signal_free(s);
  }
  return NULL;
}

static void test_five_threads_whole_file(void) {
  mef3_files *fm = new_fm(1, 20.0, 1, 1);
  REQUIRE(mef3_files_open(NULL, fm, gen16_path, NULL) == 0);
  mef3_file_info *info;
  REQUIRE(mef3_files_info(&info, fm, gen16_path) == 0);
  enum { N = 5 };
  pthread_t th[N];
  whole_arg a[N];
  for (int i = 0; i < N; i++) {
    a[i] = (whole_arg){
        fm, gen16_path, info->start_uutc, info->end_uutc, 30000000, NULL, 0, 0};
    pthread_create(&th[i], NULL, read_whole, &a[i]);
  }
  for (int i = 0; i < N; i++)
    pthread_join(th[i], NULL);
  for (int i = 0; i < N; i++) {
    CHECK(a[i].errors == 0 && a[i].n_out == a[0].n_out);
    if (i && a[i].n_out == a[0].n_out)
      CHECK(memcmp(a[i].out, a[0].out, a[0].n_out * 16 * sizeof(float)) == 0);
  }
  /* and the same as direct reads window by window */
  mef3_reader *r;
  REQUIRE(mef3_reader_open(&r, gen16_path, NULL) == 0);
  size_t at = 0, bad = 0;
  float *buf = malloc(30 * 256 * sizeof *buf);
  for (int64_t t = info->start_uutc; t < info->end_uutc; t += 30000000) {
    int64_t e = t + 30000000 < info->end_uutc ? t + 30000000 : info->end_uutc;
    size_t n = (size_t)mef3_window_samples(t, e, 256.0), got;
    for (size_t ch = 0; ch < 16; ch++) {
      mef3_reader_read_time(&got, NULL, r, ch, t, e, MEF3_F32, buf, 30 * 256,
                            NULL);
      bad += !(got == n && at + n <= a[0].n_out &&
               same_bits(a[0].out + at * 16 + ch * n, buf, n, NULL));
    }
    at += n;
  }
  CHECK(bad == 0 && at == a[0].n_out);
  free(buf);
  mef3_reader_close(r);
  mef3_files_stats st;
  mef3_files_get_stats(&st, fm);
  CHECK(st.reads == (uint64_t)N * 10);
  for (int i = 0; i < N; i++)
    free(a[i].out);
  mef3_file_info_free(info);
  mef3_files_free(fm);
}

typedef struct {
  mef3_files *fm;
  int id;
  atomic_int *stop;
  int reads_ok, wrong;
  float *want; /* 10 s of ch00 from 60 s, in physical units */
} churn_arg;

static void *churn(void *p) {
  churn_arg *a = p;
  const char *one[] = {"ch00"};
  int64_t cs = 1600000000000000LL;
  for (int i = 0; !atomic_load(a->stop) && i < 150; i++) {
    int what = (a->id + i) % 5;
    if (what == 0) {
      mef3_files_open(NULL, a->fm, gen16_path, NULL);
    } else if (what == 1 && a->id == 0) {
      mef3_files_close(a->fm, gen16_path);
    } else {
      mef3_signal *s = NULL;
      int64_t t0 = cs + 60000000 - (int64_t)(what - 2) * 10000000;
      if (mef3_files_read(&s, a->fm, gen16_path, one, 1, t0, t0 + 10000000) ==
          0) {
        a->reads_ok++;
        if (what == 2 && !same_bits(s->data, a->want, 2560, NULL))
          a->wrong++;
        mef3_signal_free(s);
      }
    }
  }
  return NULL;
}

/* Opens, closes and reads of one file racing: no crash, no wrong data. */
static void test_open_close_race(void) {
  for (int pool = 0; pool < 2; pool++) {
    mef3_files *fm = new_fm(pool, 5.0, 1, 1);
    mef3_reader *r;
    REQUIRE(mef3_reader_open(&r, gen16_path, NULL) == 0);
    float want[2560];
    size_t got;
    int64_t cs = 1600000000000000LL;
    REQUIRE(mef3_reader_read_time(&got, NULL, r, 0, cs + 60000000,
                                  cs + 70000000, MEF3_F32, want, 2560,
                                  NULL) == 0);
    mef3_reader_close(r);
    enum { N = 4 };
    pthread_t th[N];
    churn_arg a[N];
    atomic_int stop;
    atomic_init(&stop, 0);
    for (int i = 0; i < N; i++) {
      a[i] = (churn_arg){fm, i, &stop, 0, 0, want};
      pthread_create(&th[i], NULL, churn, &a[i]);
    }
    int ok = 0, wrong = 0;
    for (int i = 0; i < N; i++) {
      pthread_join(th[i], NULL);
      ok += a[i].reads_ok;
      wrong += a[i].wrong;
    }
    CHECK(wrong == 0);
    fprintf(stderr, "  open/close race (%s): %d reads succeeded\n",
            pool ? "pool" : "in process", ok);
    /* whatever state the race left, the manager still works */
    mef3_files_open(NULL, fm, gen16_path, NULL);
    const char *one[] = {"ch00"};
    mef3_signal *s = NULL;
    CHECK_RC(mef3_files_read(&s, fm, gen16_path, one, 1, cs + 60000000,
                             cs + 70000000),
             0);
    CHECK(s && same_bits(s->data, want, 2560, NULL));
    mef3_signal_free(s);
    mef3_files_free(fm);
  }
}

/* ---- logging ---- */

typedef struct {
  pthread_mutex_t mu;
  int n, opened, errors;
  int leaked;
} log_sink;

static void sink(mef3_log_level level, const char *msg, void *payload) {
  log_sink *s = payload;
  pthread_mutex_lock(&s->mu);
  s->n++;
  s->opened += strstr(msg, "opened") != NULL;
  s->errors += level == MEF3_LOG_ERROR;
  s->leaked += strstr(msg, "l2pass") != NULL || strstr(msg, "wrongpw") != NULL;
  pthread_mutex_unlock(&s->mu);
}

static void test_logging(void) {
  log_sink ls = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0};
  mef3_files_options o = MEF3_FILES_OPTIONS_INIT;
  o.log = sink;
  o.log_payload = &ls;
  o.reader_processes = 2;
  o.tile_duration_s = 5;
  mef3_files *fm;
  REQUIRE(mef3_files_new(&fm, &o) == 0);
  const char *d = golden("sessions/d_encrypted.mefd");
  CHECK_RC(mef3_files_open(NULL, fm, d, "wrongpw"), MEF3_EPASSWORD);
  mef3_files_access acc;
  CHECK_RC(mef3_files_open_as(&acc, NULL, fm, d, "l2pass"), 0);
  /* through both pools, which get the password */
  mef3_signal *s;
  mef3_file_info *info;
  REQUIRE(mef3_files_info_as(&info, fm, d, acc.token) == 0);
  const char *c1[] = {"ch01"};
  CHECK_RC(mef3_files_read_as(&s, fm, d, acc.token, c1, 1, info->start_uutc,
                              info->start_uutc + 20000000),
           0);
  mef3_signal_free(s);
  mef3__files_prefetch_wait(fm);
  mef3_files_stats st;
  mef3_files_get_stats(&st, fm);
  CHECK(st.pool_tiles == 4 && st.prefetched > 0 && st.prefetch_failed == 0);
  CHECK_RC(mef3_files_close_as(fm, d, acc.token), 0);
  mef3_file_info_free(info);
  mef3_files_free(fm);
  CHECK(ls.n > 0 && ls.opened == 1);
  CHECK(ls.errors == 0);
  CHECK(ls.leaked == 0);
}

/* ---- lifecycle ---- */

static void test_many_managers(void) {
  int fds = tu_fds(NULL);
  for (int i = 0; i < 12; i++) {
    mef3_files_options o = MEF3_FILES_OPTIONS_INIT;
    o.reader_processes = 2;
    o.tile_duration_s = 10;
    o.use_process_pool = i % 3 != 2;
    o.cache_ttl_s = i % 2 ? 0 : 600;
    mef3_files *fm;
    REQUIRE(mef3_files_new(&fm, &o) == 0);
    if (i % 4 != 3) { /* some are freed unused */
      REQUIRE(mef3_files_open(NULL, fm, gen16_path, NULL) == 0);
      mef3_signal *s;
      int64_t cs = 1600000000000000LL;
      CHECK_RC(mef3_files_read(&s, fm, gen16_path, NULL, 0, cs + 20000000,
                               cs + 40000000),
               0);
      mef3_signal_free(s);
      /* free with prefetch still in flight */
    }
    mef3_files_free(fm);
    CHECK(children() == 0);
  }
  CHECK(tu_fds(NULL) == fds);
}

int main(int argc, char **argv) {
  if (!tu_have_golden()) {
    printf("no golden data; skipped\n");
    return 0;
  }
  snprintf(gen_path, sizeof gen_path, "%s/gen8.mefd", tu_scratch("gen8"));
  snprintf(gen16_path, sizeof gen16_path, "%s/gen16.mefd", tu_scratch("gen16"));
  gen_session(gen_path, 8, 256.0, 150, 1);
  gen_session(gen16_path, 16, 256.0, 300, 0);

  static const check_case cases[] = {
      CASE(test_options),
      CASE(test_open_info_list_close),
      CASE(test_data_root),
      CASE(test_read_errors),
      CASE(test_reads_match_direct),
      CASE(test_multichannel),
      CASE(test_off_grid),
      CASE(test_prefetch_ahead_behind),
      CASE(test_no_double_decode),
      CASE(test_inflight_dedup),
      CASE(test_foreground_lane),
      CASE(test_eviction_order),
      CASE(test_oversized_tile),
      CASE(test_idle_expiry),
      CASE(test_close_purges_one),
      CASE(test_five_threads_whole_file),
      CASE(test_open_close_race),
      CASE(test_logging),
      CASE(test_many_managers),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  return check_finish();
}
