/*
 * test_writer_gen - the EEG-like synthesizer, generated sessions and the
 * `mef3pool gen` command.
 *
 * - The synthesizer is deterministic and independent of chunk sizes;
 *   its output is finite, EEG-sized, differs between channels and seeds,
 *   and neighbouring channels are correlated (common sources).
 * - mef3_gen_session: the same options give byte-identical files; the
 *   session holds the channels, samples, gaps (NaN in windows, exactly the
 *   gap slots), segments and notes it should; passwords and data
 *   encryption work; the stored samples are the synthesizer's values
 *   converted to counts.
 * - The command: --help, usage errors (exit 2), failure (exit 1, one line
 *   on stderr), and a session written through it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "testutil.h"

#define START 1609459200000000LL

static void synth(void) {
  enum { N = 20000 };
  double *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
  double *c = malloc(N * sizeof *c), *d = malloc(N * sizeof *d);
  REQUIRE(a && b && c && d);
  mef3_synth *s1, *s2, *s3, *s4;
  REQUIRE(mef3_synth_new(&s1, 5, 3, 16, 256.0) == 0);
  REQUIRE(mef3_synth_new(&s2, 5, 3, 16, 256.0) == 0);
  mef3_synth_fill(s1, a, N);
  /* The same channel in odd pieces. */
  size_t done = 0, step = 1;
  while (done < N) {
    size_t m = step < N - done ? step : N - done;
    mef3_synth_fill(s2, b + done, m);
    done += m;
    step = step * 3 % 1021 + 1;
  }
  CHECK(!memcmp(a, b, N * sizeof *a));
  /* A neighbour and another seed. */
  REQUIRE(mef3_synth_new(&s3, 5, 4, 16, 256.0) == 0);
  REQUIRE(mef3_synth_new(&s4, 6, 3, 16, 256.0) == 0);
  mef3_synth_fill(s3, c, N);
  mef3_synth_fill(s4, d, N);
  double ma = 0, mc = 0;
  int finite = 1;
  for (int i = 0; i < N; i++) {
    finite &= isfinite(a[i]) && isfinite(c[i]) && isfinite(d[i]);
    ma += a[i];
    mc += c[i];
  }
  CHECK(finite);
  ma /= N;
  mc /= N;
  double va = 0, vc = 0, cov = 0, diff_d = 0;
  for (int i = 0; i < N; i++) {
    va += (a[i] - ma) * (a[i] - ma);
    vc += (c[i] - mc) * (c[i] - mc);
    cov += (a[i] - ma) * (c[i] - mc);
    diff_d += fabs(a[i] - d[i]);
  }
  double sd = sqrt(va / N), corr = cov / sqrt(va * vc);
  printf("synth: sd %.1f uV, neighbour correlation %.2f\n", sd, corr);
  CHECK(sd > 3 && sd < 200);
  CHECK(corr > 0.2 && corr < 0.999);
  CHECK(diff_d / N > 1.0);
  mef3_synth_free(s4);
  CHECK_RC(mef3_synth_new(&s4, 1, 16, 16, 256.0), MEF3_EINVAL);
  CHECK_RC(mef3_synth_new(&s4, 1, 0, 16, 0.0), MEF3_EINVAL);
  mef3_synth_free(s1);
  mef3_synth_free(s2);
  mef3_synth_free(s3);
  mef3_synth_free(NULL);
  free(a);
  free(b);
  free(c);
  free(d);
}

static const mef3_gen_gap gap_list[] = {{10000000, 2500000},
                                        {30000000, 700000}};

static void gen_options(mef3_gen_options *o) {
  mef3_gen_options d = MEF3_GEN_OPTIONS_INIT;
  *o = d;
  o->n_channels = 3;
  o->fs = 250.0;
  o->duration_us = 75000000;
  o->seed = 11;
  o->block_seconds = 2.0;
  o->gaps = gap_list;
  o->n_gaps = 2;
  o->n_random_gaps = 2;
  o->segment_us = 40000000;
}

static void session(void) {
  mef3_gen_options o;
  gen_options(&o);
  const char *d1 = tu_scratch("gen1"), *d2 = tu_scratch("gen2");
  char p1[3000], p2[3000];
  snprintf(p1, sizeof p1, "%s/g.mefd", d1);
  snprintf(p2, sizeof p2, "%s/g.mefd", d2);
  mef3_gen_result r1, r2;
  REQUIRE(mef3_gen_session(&r1, p1, &o, NULL, NULL) == 0);
  REQUIRE(mef3_gen_session(&r2, p2, &o, NULL, NULL) == 0);
  CHECK(tu_system("diff -r '%s' '%s' > /dev/null", p1, p2) == 0);
  CHECK(r1.samples == r2.samples && r1.bytes == r2.bytes);
  CHECK(r1.slots == 3 * 18750 && r1.n_gaps == 4); /* every gap asked */
  CHECK_RC(mef3_gen_session(NULL, p1, &o, NULL, NULL), MEF3_EEXIST);

  mef3_reader *r;
  REQUIRE(mef3_reader_open(&r, p1, NULL) == 0);
  CHECK(mef3_reader_channel_count(r) == 3);
  int64_t stored = 0;
  for (size_t c = 0; c < 3; c++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, c);
    char want[8];
    snprintf(want, sizeof want, "ch%02zu", c + 1);
    CHECK(!strcmp(ci->name, want));
    CHECK(ci->fs == 250.0 && ci->units_conversion_factor == 0.1);
    CHECK(ci->n_segments == 2);
    CHECK(ci->start_uutc == START);
    CHECK(ci->max_block_samples == 500);
    stored += ci->n_samples;
    /* The whole recording by time: NaN exactly in the gap slots, and the
     * values are the synthesizer's, converted to counts. */
    size_t n = 18750, got = 0;
    int32_t *x = malloc(n * sizeof *x);
    double *v = malloc(n * sizeof *v);
    REQUIRE(x && v);
    CHECK_RC(mef3_reader_read_time(&got, NULL, r, c, START, START + 75000000,
                                   MEF3_I32, x, n, NULL),
             0);
    CHECK(got == n);
    mef3_synth *s;
    REQUIRE(mef3_synth_new(&s, 11, c, 3, 250.0) == 0);
    mef3_synth_fill(s, v, n);
    mef3_synth_free(s);
    size_t bad = 0, nan = 0;
    for (size_t i = 0; i < n; i++) {
      int in_gap = (i >= 2500 && i < 3125) || (i >= 7500 && i < 7675);
      if (x[i] == MEF3_RED_NAN) {
        nan++;
        continue;
      }
      if (in_gap || x[i] != (int32_t)round(v[i] / 0.1))
        bad++;
    }
    CHECK_MSG(bad == 0, "ch%zu: %zu slots differ from the synthesizer", c, bad);
    CHECK(nan >= 625 + 175 && (int64_t)(n - nan) == ci->n_samples);
    free(x);
    free(v);
  }
  CHECK(stored == r1.samples);
  mef3_record *rec;
  size_t nr;
  CHECK_RC(mef3_reader_records(&rec, &nr, r, 1), 0);
  CHECK(nr == 1 + r1.n_gaps);
  CHECK(nr > 0 && rec[0].time == START && strstr(rec[0].text, "seed 11"));
  mef3_records_free(rec, nr);
  mef3_reader_close(r);

  /* A gap that cannot be placed refuses the options before anything is
   * written: past the end, or more random gaps than fit. */
  static const mef3_gen_gap late[] = {{80000000, 1000000}};
  mef3_gen_options bad = o;
  bad.gaps = late;
  bad.n_gaps = 1;
  CHECK_RC(mef3_gen_check_options(&bad), MEF3_EINVAL);
  CHECK(strstr(mef3_error_last()->message, "80 s") != NULL);
  const char *dbad = tu_scratch("gen_bad");
  char pbad[3000];
  snprintf(pbad, sizeof pbad, "%s/g.mefd", dbad);
  CHECK_RC(mef3_gen_session(NULL, pbad, &bad, NULL, NULL), MEF3_EINVAL);
  CHECK(tu_system("test -e '%s'", pbad) != 0);
  bad = o;
  bad.n_random_gaps = 1000;
  CHECK_RC(mef3_gen_check_options(&bad), MEF3_EINVAL);
  CHECK(strstr(mef3_error_last()->message, "at most") != NULL);
  CHECK_RC(mef3_gen_check_options(&o), 0);

  /* Another seed, other data. */
  o.seed = 12;
  const char *d3 = tu_scratch("gen3");
  char p3[3000];
  snprintf(p3, sizeof p3, "%s/g.mefd", d3);
  REQUIRE(mef3_gen_session(NULL, p3, &o, NULL, NULL) == 0);
  CHECK(tu_system("cmp -s '%s/ch01.timd/ch01-000000.segd/ch01-000000.tdat' "
                  "'%s/ch01.timd/ch01-000000.segd/ch01-000000.tdat'",
                  p1, p3) != 0);

  /* Encrypted. */
  gen_options(&o);
  o.level_1_password = "one";
  o.level_2_password = "two";
  o.data_encryption = 2;
  const char *d4 = tu_scratch("gen4");
  char p4[3000];
  snprintf(p4, sizeof p4, "%s/g.mefd", d4);
  REQUIRE(mef3_gen_session(NULL, p4, &o, NULL, NULL) == 0);
  CHECK_RC(mef3_reader_open(&r, p4, NULL), MEF3_EPASSWORD);
  mef3_reader_options ro = MEF3_READER_OPTIONS_INIT;
  ro.password = "two";
  REQUIRE(mef3_reader_open(&r, p4, &ro) == 0);
  const mef3_channel_info *ci = mef3_reader_channel(r, 0);
  CHECK(ci->data_encryption == 2 && ci->section_2_encryption == 1 &&
        ci->section_3_encryption == 2);
  int32_t *x = malloc((size_t)ci->n_samples * sizeof *x);
  size_t got;
  mef3_read_report rep;
  CHECK_RC(mef3_reader_read_samples(&got, &rep, r, 0, 0, ci->n_samples,
                                    MEF3_I32, x, (size_t)ci->n_samples),
           0);
  CHECK(rep.n_bad_blocks == 0);
  /* Same data as the unencrypted session of the same seed. */
  mef3_reader *r0;
  REQUIRE(mef3_reader_open(&r0, p1, NULL) == 0);
  int32_t *y = malloc((size_t)ci->n_samples * sizeof *y);
  CHECK_RC(mef3_reader_read_samples(&got, NULL, r0, 0, 0, ci->n_samples,
                                    MEF3_I32, y, (size_t)ci->n_samples),
           0);
  CHECK(!memcmp(x, y, (size_t)ci->n_samples * sizeof *x));
  free(x);
  free(y);
  mef3_reader_close(r0);
  mef3_reader_close(r);

  gen_options(&o);
  o.n_channels = 0;
  CHECK_RC(mef3_gen_session(NULL, p4, &o, NULL, NULL), MEF3_EINVAL);
}

static int stop_at_half(double done, void *payload) {
  (*(int *)payload)++;
  return done >= 0.5;
}

static void cancel(void) {
  mef3_gen_options o;
  gen_options(&o);
  const char *d = tu_scratch("cancel");
  char p[3000];
  snprintf(p, sizeof p, "%s/c.mefd", d);
  int calls = 0;
  mef3_gen_result res;
  CHECK_RC(mef3_gen_session(&res, p, &o, stop_at_half, &calls), MEF3_ECANCELED);
  CHECK(calls > 1);
  /* What was written is a valid, shorter session. */
  mef3_reader *r;
  REQUIRE(mef3_reader_open(&r, p, NULL) == 0);
  const mef3_channel_info *ci = mef3_reader_channel(r, 0);
  CHECK(ci->n_samples > 0 && ci->n_samples < 18750);
  mef3_reader_close(r);
}

static void command(void) {
  const char *d = tu_scratch("cli");
  CHECK(tu_system("'%s' gen --help > '%s/help.txt'", MEF3_CLI, d) == 0);
  CHECK(tu_system("grep -q -- '--channels N' '%s/help.txt'", d) == 0);
  CHECK(tu_system("'%s' gen '%s/x.mefd' --fs 100 --duration 1m "
                  "2> /dev/null",
                  MEF3_CLI, d) == 2);
  CHECK(tu_system("'%s' gen '%s/x.mefd' --channels 2 --fs 100 --duration 1m "
                  "--bogus 2> /dev/null",
                  MEF3_CLI, d) == 2);
  CHECK(tu_system("'%s' gen '%s/x.mefd' --channels 2 --fs 100 --duration "
                  "1parsec 2> /dev/null",
                  MEF3_CLI, d) == 2);
  CHECK(tu_system("'%s' gen '%s/x.mefd' --channels 2 --fs 100 --duration 1m "
                  "--encrypt-data 2> /dev/null",
                  MEF3_CLI, d) == 2);
  CHECK(tu_system("'%s' gen '%s/s.mefd' --channels 4 --fs 200 --duration 90s "
                  "--seed 3 --block-seconds 0.5 --gaps 1 --gap 20s:1.5s "
                  "--segment 45s --password pw1,pw2 --encrypt-data=1 "
                  "> '%s/out.txt' 2> '%s/err.txt'",
                  MEF3_CLI, d, d, d) == 0);
  CHECK(tu_system("grep -q 'MS/s' '%s/out.txt'", d) == 0);
  CHECK(tu_system("test ! -s '%s/err.txt'", d) == 0); /* not a terminal */
  /* The directory exists now: failure, one line on stderr. */
  CHECK(tu_system("'%s' gen '%s/s.mefd' --channels 1 --fs 100 --duration 1s "
                  "2> '%s/err2.txt'",
                  MEF3_CLI, d, d) == 1);
  CHECK(tu_system("test $(wc -l < '%s/err2.txt') -eq 1", d) == 0);
  char p[3000];
  snprintf(p, sizeof p, "%s/s.mefd", d);
  mef3_reader_options ro = MEF3_READER_OPTIONS_INIT;
  ro.password = "pw1";
  mef3_reader *r;
  REQUIRE(mef3_reader_open(&r, p, &ro) == 0);
  CHECK(mef3_reader_channel_count(r) == 4);
  const mef3_channel_info *ci = mef3_reader_channel(r, 3);
  CHECK(ci->fs == 200 && ci->n_segments == 2 && ci->max_block_samples == 100 &&
        ci->data_encryption == 1 && ci->times_relative);
  CHECK(ci->n_samples < 18000 && ci->n_samples > 18000 - 300 - 12000);
  mef3_reader_close(r);
}

int main(int argc, char **argv) {
  static const check_case cases[] = {
      CASE(synth),
      CASE(session),
      CASE(cancel),
      CASE(command),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  return check_finish();
}
