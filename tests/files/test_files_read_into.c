/*
 * tests/files/test_files_read_into.c - mef3_files_read_into: the same samples as
 * mef3_files_read (bit for bit, NaN gaps included), channel subsets and
 * repeats, with and without the process pool; a buffer too small is
 * MEF3_ELIMIT with nothing written; bad arguments; errors as in
 * mef3_files_read.
 */
#include <math.h>
#include <string.h>

#include "check.h"
#include "testutil.h"

#define B_REL "sessions/b_multi_8ch.mefd"
#define C_REL "sessions/c_discontinuities.mefd"

static mef3_files *new_fm(int pool) {
  mef3_files_options o = MEF3_FILES_OPTIONS_INIT;
  o.use_process_pool = pool;
  o.reader_processes = 2;
  o.prefetch_processes = 1;
  mef3_files *fm = NULL;
  REQUIRE(mef3_files_new(&fm, &o) == 0);
  return fm;
}

/* Equal bits, or both NaN. */
static int same(const float *a, const float *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!(isnan(a[i]) && isnan(b[i])) && memcmp(&a[i], &b[i], sizeof *a))
      return 0;
  return 1;
}

/* One window both ways; the buffer has `slack` floats more than needed,
 * filled with a sentinel that must survive. */
static void compare(mef3_files *fm, const char *path, const char *const *chans,
                    size_t nch, int64_t t0, int64_t t1) {
  mef3_signal *s = NULL;
  REQUIRE(mef3_files_read(&s, fm, path, chans, nch, t0, t1) == 0);
  size_t want = s->n_channels * s->n_samples, slack = 7;
  float *buf = malloc((want + slack) * sizeof *buf);
  REQUIRE(buf);
  for (size_t i = 0; i < want + slack; i++)
    buf[i] = -12345.0f;
  size_t n = 0;
  CHECK_RC(
      mef3_files_read_into(&n, fm, path, chans, nch, t0, t1, buf, want + slack),
      0);
  CHECK(n == s->n_samples);
  CHECK_MSG(same(buf, s->data, want), "%s [%lld, %lld): samples differ",
            path, (long long)t0, (long long)t1);
  for (size_t i = want; i < want + slack; i++)
    CHECK(buf[i] == -12345.0f);

  /* One float short: refused, nothing written. */
  for (size_t i = 0; i < want; i++)
    buf[i] = -12345.0f;
  n = 99;
  CHECK_RC(
      mef3_files_read_into(&n, fm, path, chans, nch, t0, t1, buf, want - 1),
      MEF3_ELIMIT);
  CHECK(n == 0);
  CHECK(strstr(mef3_error_last()->message, "do not fit") != NULL);
  size_t touched = 0;
  for (size_t i = 0; i < want; i++)
    touched += buf[i] != -12345.0f;
  CHECK(touched == 0);
  free(buf);
  mef3_signal_free(s);
}

static void run(int pool) {
  const char *b = tu_golden(B_REL);
  mef3_files *fm = new_fm(pool);
  REQUIRE(mef3_files_open(NULL, fm, b, NULL) == 0);
  const int64_t t = 1600000000000000;
  /* all channels of one rate fail alike both ways (mixed rates) */
  float one;
  size_t n = 1;
  CHECK_RC(mef3_files_read_into(&n, fm, b, NULL, 0, t, t + 1000000, &one, 1),
           MEF3_EINVAL);
  const char *c256[] = {"ch01", "ch02", "ch03"};
  compare(fm, b, c256, 3, t, t + 10000000);
  const char *rep[] = {"ch02", "ch01", "ch02"}; /* order and repeats */
  compare(fm, b, rep, 3, t + 123457, t + 20000000);
  const char *drift[] = {"ch07"}; /* 499.7 Hz */
  compare(fm, b, drift, 1, t + 5000000, t + 35000000);
  const char *late[] = {"ch08"}; /* starts +250 ms: NaN before */
  compare(fm, b, late, 1, t - 1000000, t + 2000000);
  /* errors as mef3_files_read */
  const char *bad[] = {"nope"};
  CHECK_RC(mef3_files_read_into(&n, fm, b, bad, 1, t, t + 1000000, &one, 1),
           MEF3_ENOTFOUND);
  CHECK_RC(mef3_files_read_into(&n, fm, "/not/open.mefd", NULL, 0, t,
                                t + 1000000, &one, 1),
           MEF3_ENOTFOUND);
  CHECK_RC(mef3_files_read_into(&n, fm, b, c256, 3, t, t, &one, 1),
           MEF3_EINVAL);
  CHECK_RC(mef3_files_read_into(&n, fm, b, c256, 3, t, t + 1000000, NULL, 1),
           MEF3_EINVAL);
  CHECK_RC(mef3_files_read_into(NULL, fm, b, c256, 3, t, t + 1000000, &one, 1),
           MEF3_EINVAL);

  /* gaps: NaN where the session has none */
  const char *c = tu_golden(C_REL);
  REQUIRE(mef3_files_open(NULL, fm, c, NULL) == 0);
  mef3_file_info *info = NULL;
  REQUIRE(mef3_files_info(&info, fm, c) == 0);
  const char *c1[] = {"ch01"};
  compare(fm, c, c1, 1, info->start_uutc - 500000, info->end_uutc + 500000);
  mef3_file_info_free(info);
  mef3_files_free(fm);
}

int main(void) {
  if (!tu_have_golden()) {
    printf("no golden data; skipped\n");
    return 0;
  }
  run(0);
  run(1);
  return check_finish();
}
