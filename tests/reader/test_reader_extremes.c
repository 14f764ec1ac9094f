/*
 * test_reader_extremes - values at the edges of their types, from damaged
 * files and from callers: an index entry claiming billions of samples,
 * block times and a sampling rate whose arithmetic overflows, windows at
 * the ends of the int64 range.  Either the damage is refused at open
 * (with MEF3_ECORRUPT naming the file) or the reader goes on with only
 * the damaged block lost; never a huge allocation for one bad entry, and
 * never signed overflow (the ASan+UBSan build traps on it).
 *
 * Allocation failures must not abort under ASan here: a request the
 * allocator cannot serve returns NULL, so a reader that asks for
 * terabytes fails the checks below instead of killing the test.
 */
#include <math.h>
#include <stdint.h>

#include "golden_check.h"

const char *__asan_default_options(void);
const char *__asan_default_options(void) {
  return "allocator_may_return_null=1";
}

#define A_REL "sessions/a_single_256hz.mefd"
#define B_REL "sessions/b_multi_8ch.mefd"
#define SEG "/ch01.timd/ch01-000000.segd/ch01-000000"

static char *path2(const char *a, const char *b) {
  static char buf[4][4096];
  static int slot;
  char *p = buf[slot++ & 3];
  snprintf(p, 4096, "%s%s", a, b);
  return p;
}

/* Patch `len` bytes at `off` of a MEF file and recompute its body and
 * header CRCs. */
static void patch_fix(const char *path, size_t off, const void *v, size_t len) {
  size_t n = 0;
  uint8_t *b = tu_read_file(path, &n);
  REQUIRE(b && off + len <= n);
  memcpy(b + off, v, len);
  uint32_t c = mef3_crc32(b + 1024, n - 1024);
  memcpy(b + 4, &c, 4);
  c = mef3_crc32(b + 4, 1020);
  memcpy(b, &c, 4);
  FILE *f = fopen(path, "wb");
  REQUIRE(f && fwrite(b, 1, n, f) == n);
  fclose(f);
  free(b);
}

/* Open; 1 when open, 0 when refused as corrupt naming `file` (checked). */
static int open_or_refused(mef3_reader **r, const char *path, const char *file,
                           const char *label) {
  int rc = gc_open(r, path, NULL);
  if (rc == 0)
    return 1;
  CHECK_MSG(rc == MEF3_ECORRUPT &&
                strstr(mef3_error_last()->message, file) != NULL,
            "%s: open gave %s (%s); want success or MEF3_ECORRUPT naming %s",
            label, mef3_errname(rc), mef3_error_last()->message, file);
  return 0;
}

/* The last index entry of a_single claims 3e9 samples. */
static void test_huge_sample_count(void) {
  const char *s = gc_scratch_copy("huge-count", A_REL);
  uint32_t huge = 3000000000u;
  patch_fix(path2(s, SEG ".tidx"), 1024 + 46 * 56 + 24, &huge, 4);
  mef3_reader *r = NULL;
  if (!open_or_refused(&r, s, "ch01-000000.tidx", "3e9-sample entry"))
    return;
  size_t n = 0;
  int32_t *t =
      gc_load_i32(tu_golden("sessions/a_single_256hz.truth/ch01.i32"), &n);
  REQUIRE(t);
  /* Blocks before it read as always. */
  int32_t v[1080];
  size_t got = 0;
  mef3_read_report rep;
  int rc =
      mef3_reader_read_samples(&got, &rep, r, 0, 0, 1000, MEF3_I32, v, 1080);
  CHECK_MSG(rc == 0 && memcmp(v, t, 4000) == 0 && rep.n_bad_blocks == 0,
            "one entry claiming 3e9 samples must not make every read of "
            "the channel fail: %s (%s)",
            mef3_errname(rc), mef3_error_last()->message);
  /* The block itself is lost, its neighbour is not. */
  rc = mef3_reader_read_samples(&got, &rep, r, 0, 45000, 46080, MEF3_I32, v,
                                1080);
  CHECK_MSG(rc == 0 && memcmp(v, t + 45000, 4000) == 0 &&
                rep.n_bad_blocks == 1 && rep.bad_blocks[0] == 46 &&
                rep.first_error == MEF3_ECORRUPT && v[1000] == MEF3_RED_NAN,
            "block with a 3e9-sample entry: %s, %zu bad blocks, first %s",
            mef3_errname(rc), rep.n_bad_blocks, mef3_errname(rep.first_error));
  free(t);
  mef3_reader_close(r);
}

/* Section 2 with a rate that makes block durations overflow. */
static void test_absurd_rates(void) {
  double rates[] = {1e-300, 1e-9, 1e300};
  for (size_t i = 0; i < sizeof rates / sizeof *rates; i++) {
    char tag[32];
    snprintf(tag, sizeof tag, "rate-%zu", i);
    const char *s = gc_scratch_copy(tag, A_REL);
    patch_fix(path2(s, SEG ".tmet"), 8720, &rates[i], 8);
    mef3_reader *r = NULL;
    char label[64];
    snprintf(label, sizeof label, "rate %g", rates[i]);
    if (!open_or_refused(&r, s, "ch01-000000.tmet", label))
      continue;
    const mef3_channel_info *ci = mef3_reader_channel(r, 0);
    float f[64];
    size_t got = 0;
    mef3_read_report rep;
    int64_t t0 = ci->start_uutc;
    int rc = mef3_reader_read_time(&got, &rep, r, 0, t0, t0 + 1000, MEF3_F32, f,
                                   64, NULL);
    CHECK_MSG(rc == 0 || rc == MEF3_EBUFSIZE || rc == MEF3_EINVAL,
              "%s: read gave %s", label, mef3_errname(rc));
    int32_t v[16];
    rc = mef3_reader_read_samples(&got, &rep, r, 0, 0, 16, MEF3_I32, v, 16);
    CHECK_MSG(rc == 0, "%s: sample read gave %s", label, mef3_errname(rc));
    mef3_reader_close(r);
  }
}

/* Block times near the ends of int64 (with b_multi's recording time
 * offset added to them). */
static void test_extreme_block_times(void) {
  const char *s = gc_scratch_copy("times", B_REL);
  int64_t t = INT64_MIN + 5; /* on disk: -t + offset overflows */
  patch_fix(path2(s, SEG ".tidx"), 1024 + 2 * 56 + 8, &t, 8);
  mef3_reader *r = NULL;
  if (!open_or_refused(&r, s, "ch01-000000.tidx", "block time INT64_MIN+5"))
    return;
  int32_t v[256];
  size_t got = 0;
  mef3_read_report rep;
  const mef3_channel_info *ci = mef3_reader_channel(r, 0);
  int rc =
      mef3_reader_read_time(&got, &rep, r, 0, ci->start_uutc,
                            ci->start_uutc + 1000000, MEF3_I32, v, 256, NULL);
  CHECK_MSG(rc == 0, "extreme block time: read gave %s", mef3_errname(rc));
  mef3_reader_close(r);
}

/* Callers' windows at the ends of the int64 range: all NaN. */
static void test_extreme_windows(void) {
  mef3_reader *r = gc_must_open(tu_golden(A_REL), NULL);
  static int32_t v[512];
  size_t got = 0;
  mef3_read_report rep;
  struct {
    int64_t t0, t1;
    size_t n;
  } w[] = {{INT64_MIN, INT64_MIN + 1000000, 256},
           {INT64_MAX - 1000000, INT64_MAX, 256},
           {INT64_MIN + 1, INT64_MIN + 1000001, 256},
           {INT64_MIN, INT64_MIN, 0},
           {INT64_MAX, INT64_MAX, 0}};
  for (size_t i = 0; i < sizeof w / sizeof *w; i++) {
    int rc = mef3_reader_read_time(&got, &rep, r, 0, w[i].t0, w[i].t1, MEF3_I32,
                                   v, 512, NULL);
    int nan = 1;
    for (size_t k = 0; k < got && k < 512; k++)
      nan &= v[k] == MEF3_RED_NAN;
    CHECK_MSG(rc == 0 && got == w[i].n && nan && rep.n_valid == 0,
              "window [%lld, %lld): %s, %zu samples", (long long)w[i].t0,
              (long long)w[i].t1, mef3_errname(rc), got);
  }
  /* The whole int64 range: about 4.7e15 samples at 256 Hz, too many for
   * the buffer (not an overflowed, wrapped length). */
  int64_t n = mef3_window_samples(INT64_MIN, INT64_MAX, 256.0);
  CHECK_MSG(n > 4000000000000000 && n < 5000000000000000,
            "window over all of int64 at 256 Hz: %lld samples", (long long)n);
  int rc = mef3_reader_read_time(&got, &rep, r, 0, INT64_MIN, INT64_MAX,
                                 MEF3_I32, v, 512, NULL);
  CHECK_MSG(rc == MEF3_EBUFSIZE, "window over all of int64: %s",
            mef3_errname(rc));
  mef3_reader_close(r);
}

int main(int argc, char **argv) {
  REQUIRE(tu_have_golden());
  static const check_case cases[] = {
      CASE(test_huge_sample_count),
      CASE(test_absurd_rates),
      CASE(test_extreme_windows),
      CASE(test_extreme_block_times),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  return check_finish();
}
