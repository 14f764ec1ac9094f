/*
 * tests/server/test_server_read_into.c - mef3_client_read_into against the real
 * server: the same samples and shape as mef3_client_read, in one chunk and
 * in many (4 KiB chunks: split reads, and the 499.7 Hz channel whose
 * windows are read whole and cut), channel order and repeats, all
 * channels; a buffer one float short is MEF3_ELIMIT, the read is cancelled
 * and the server serves the next read; bad arguments.
 */
#include <math.h>

#include "server_helper.h"

static int same_bits(const float *a, const float *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!(isnan(a[i]) && isnan(b[i])) && memcmp(&a[i], &b[i], sizeof *a))
      return 0;
  return 1;
}

/* Both ways, into a buffer with a guard after the window. */
static void compare(mef3_client *c, const char *path, const char *const *ch,
                    size_t nch, int64_t t0, int64_t t1) {
  mef3_signal *s = NULL;
  int rc = mef3_client_read(&s, c, path, ch, nch, t0, t1, NULL, NULL);
  CHECK_MSG(rc == 0, "%s: %s", path, th_err());
  if (rc)
    return;
  size_t want = s->n_channels * s->n_samples;
  float *buf = malloc((want + 16) * sizeof *buf);
  REQUIRE(buf);
  for (size_t i = 0; i < want + 16; i++)
    buf[i] = 7.25f;
  mef3_client_shape sh;
  CHECK_RC(mef3_client_read_into(&sh, c, path, ch, nch, t0, t1, buf, want + 16,
                                 NULL, NULL),
           0);
  CHECK(sh.n_channels == s->n_channels && sh.n_samples == s->n_samples &&
        sh.fs == s->fs);
  CHECK_MSG(same_bits(buf, s->data, want), "%s [%lld, %lld): samples differ",
            path, (long long)t0, (long long)t1);
  size_t guard_ok = 0;
  for (size_t i = want; i < want + 16; i++)
    guard_ok += buf[i] == 7.25f;
  CHECK(guard_ok == 16);

  /* One float short: refused, and the server is fine afterwards. */
  CHECK_RC(mef3_client_read_into(&sh, c, path, ch, nch, t0, t1, buf, want - 1,
                                 NULL, NULL),
           MEF3_ELIMIT);
  CHECK(strstr(th_err(), "do not fit") != NULL);
  CHECK(sh.n_samples == 0);
  CHECK_RC(mef3_client_read_into(&sh, c, path, ch, nch, t0, t1, buf, want, NULL,
                                 NULL),
           0);
  CHECK(same_bits(buf, s->data, want));
  free(buf);
  mef3_signal_free(s);
}

static void run(const char *chunk_arg) {
  const char *extra[] = {chunk_arg, NULL};
  th_server srv;
  REQUIRE(th_start(&srv, tu_golden(""), extra) == 0);
  mef3_client *c;
  REQUIRE(mef3_client_new(&c, srv.addr, NULL) == 0);
  const char *b8 = "sessions/b_multi_8ch.mefd";
  mef3_file_info *fi = NULL;
  REQUIRE(mef3_client_open(&fi, NULL, c, b8, NULL) == 0);
  int64_t s = fi->start_uutc;
  const char *g256[] = {"ch03", "ch01", "ch03"};
  const char *g499[] = {"ch07"};
  const char *g5000[] = {"ch08"};
  compare(c, b8, g256, 3, s, s + 10000000);
  compare(c, b8, g256, 3, s + 1234567, s + 59000001);
  compare(c, b8, g499, 1, s + 777777, s + 31234567);
  compare(c, b8, g5000, 1, s - 1000000, s + 2000000); /* NaN before */
  const char *a1 = "sessions/a_single_256hz.mefd";
  mef3_file_info *ai = NULL;
  REQUIRE(mef3_client_open(&ai, NULL, c, a1, NULL) == 0);
  compare(c, a1, NULL, 0, ai->start_uutc - 5000000, ai->end_uutc);

  /* Errors come through as from mef3_client_read. */
  float one;
  mef3_client_shape sh;
  const char *bad[] = {"nope"};
  CHECK_RC(mef3_client_read_into(&sh, c, b8, bad, 1, s, s + 1000000, &one, 1,
                                 NULL, NULL),
           MEF3_ENOTFOUND);
  CHECK_RC(mef3_client_read_into(&sh, c, b8, g499, 1, s, s + 1000000, NULL, 1,
                                 NULL, NULL),
           MEF3_EINVAL);
  CHECK_RC(mef3_client_read_into(NULL, c, b8, g499, 1, s, s + 1000000, &one, 1,
                                 NULL, NULL),
           MEF3_EINVAL);
  mef3_file_info_free(fi);
  mef3_file_info_free(ai);
  mef3_client_free(c);
  CHECK(th_stop(&srv, SIGTERM) == 0);
  CHECK(th_no_children());
}

int main(void) {
  if (!tu_have_golden()) {
    printf("no golden data; skipped\n");
    return 0;
  }
  run("--chunk-bytes=2621440");
  run("--chunk-bytes=4096");
  return check_finish();
}
