/*
 * tests/server/test_server.c - the real `mef3pool serve` on a loopback port,
 * through the C client: every RPC and its error paths, results equal to
 * direct reads of golden (and, when `mef3pool gen` exists, generated)
 * sessions, reads split into many chunks, two concurrent clients with
 * identical results, the limits, and a clean exit on SIGTERM with nothing
 * left behind.
 */
#include <math.h>
#include <pthread.h>

#include "server_helper.h"

static mef3_files *direct; /* in-process file manager: the reference */

static mef3_files *direct_new(const char *root) {
  mef3_files_options o = MEF3_FILES_OPTIONS_INIT;
  o.use_process_pool = 0;
  o.data_root = root;
  mef3_files *fm = NULL;
  REQUIRE(mef3_files_new(&fm, &o) == 0);
  return fm;
}

/* Read through the server and directly; 1 when bit-identical. */
static int same_as_direct(mef3_client *c, const char *path,
                          const char *const *ch, size_t nch, int64_t t0,
                          int64_t t1) {
  mef3_signal *a = NULL, *b = NULL;
  int ra = mef3_client_read(&a, c, path, ch, nch, t0, t1, NULL, NULL);
  int rb = mef3_files_read(&b, direct, path, ch, nch, t0, t1);
  int same = ra == 0 && rb == 0 && a->n_channels == b->n_channels &&
             a->n_samples == b->n_samples &&
             !memcmp(a->data, b->data,
                     a->n_channels * a->n_samples * sizeof(float));
  if (!same)
    fprintf(stderr,
            "  %s [%lld, %lld) x %zu: server rc %d (%s) %zux%zu, direct rc %d "
            "%zux%zu\n",
            path, (long long)t0, (long long)t1, nch, ra, ra ? th_err() : "",
            a ? a->n_channels : 0, a ? a->n_samples : 0, rb,
            b ? b->n_channels : 0, b ? b->n_samples : 0);
  for (size_t i = 0; same && i < a->n_channels; i++)
    same = !strcmp(a->channel_names[i], b->channel_names[i]);
  mef3_signal_free(a);
  mef3_signal_free(b);
  return same;
}

static void test_rpcs(const char *addr) {
  mef3_client *c;
  REQUIRE(mef3_client_new(&c, addr, NULL) == 0);
  char **paths;
  size_t n;
  CHECK_RC(mef3_client_list(&paths, &n, c), 0);
  CHECK(n == 0);
  mef3_files_list_free(paths, n);

  /* Open: the info is the file's, and equals FileInfo's. */
  const char *b8 = "sessions/b_multi_8ch.mefd";
  mef3_file_info *fi = NULL, *fi2 = NULL, *ref = NULL;
  int already = -1;
  CHECK_MSG(mef3_client_open(&fi, &already, c, b8, NULL) == 0, "%s", th_err());
  REQUIRE(fi);
  CHECK(already == 0);
  REQUIRE(mef3_files_open(NULL, direct, b8, NULL) == 0);
  REQUIRE(mef3_files_info(&ref, direct, b8) == 0);
  CHECK(fi->n_channels == 8 && ref->n_channels == 8);
  CHECK(fi->start_uutc == ref->start_uutc && fi->end_uutc == ref->end_uutc);
  for (size_t i = 0; i < fi->n_channels && i < ref->n_channels; i++) {
    CHECK(!strcmp(fi->channels[i].name, ref->channels[i].name));
    CHECK(fi->channels[i].fs == ref->channels[i].fs); /* exact doubles */
    CHECK(fi->channels[i].start_uutc == ref->channels[i].start_uutc);
    CHECK(fi->channels[i].end_uutc == ref->channels[i].end_uutc);
    CHECK(fi->channels[i].n_samples == ref->channels[i].n_samples);
    CHECK(!strcmp(fi->channels[i].units, ref->channels[i].units));
  }
  CHECK_MSG(mef3_client_info(&fi2, c, b8) == 0, "%s", th_err());
  CHECK(fi2 && fi2->n_channels == fi->n_channels &&
        fi2->start_uutc == fi->start_uutc);
  mef3_file_info_free(fi2);
  fi2 = NULL;
  CHECK(mef3_client_open(&fi2, &already, c, b8, NULL) == 0 && already == 1);
  mef3_file_info_free(fi2);

  CHECK_RC(mef3_client_list(&paths, &n, c), 0);
  CHECK(n == 1 && !strcmp(paths[0], b8));
  mef3_files_list_free(paths, n);

  /* Windows: per rate group, all channels, several lengths and offsets
   * (ch07 is 499.7 Hz: chunk boundaries off the µs grid). */
  const char *g256[] = {"ch01", "ch02", "ch03"};
  const char *g1000[] = {"ch06", "ch04"};
  const char *g499[] = {"ch07"};
  const char *g5000[] = {"ch08"};
  int64_t s = ref->channels[0].start_uutc;
  CHECK(same_as_direct(c, b8, g256, 3, s, s + 10000000));
  CHECK(same_as_direct(c, b8, g256, 3, s + 1234567, s + 59000001));
  CHECK(same_as_direct(c, b8, g1000, 2, s - 500000, s + 61000000));
  CHECK(same_as_direct(c, b8, g499, 1, s + 3, s + 60000000));
  CHECK(same_as_direct(c, b8, g499, 1, s + 777777, s + 31234567));
  CHECK(same_as_direct(c, b8, g5000, 1, s, s + 50000000));
  CHECK(same_as_direct(c, b8, g5000, 1, s + 100, s + 100 + 199));
  /* Empty list: all channels, which here mix rates: an error. */
  mef3_signal *sig = NULL;
  CHECK_RC(mef3_client_read(&sig, c, b8, NULL, 0, s, s + 1000000, NULL, NULL),
           MEF3_EINVAL);

  /* A single-rate session with no channel list: all channels. */
  const char *a1 = "sessions/a_single_256hz.mefd";
  CHECK(mef3_client_open(NULL, NULL, c, a1, NULL) == 0);
  REQUIRE(mef3_files_open(NULL, direct, a1, NULL) == 0);
  mef3_file_info *ai = NULL;
  REQUIRE(mef3_files_info(&ai, direct, a1) == 0);
  CHECK(same_as_direct(c, a1, NULL, 0, ai->start_uutc, ai->end_uutc));
  CHECK(same_as_direct(c, a1, NULL, 0, ai->start_uutc - 5000000,
                       ai->end_uutc + 5000000));
  /* On the channel's grid, a direct reader read is bit-identical too. */
  {
    mef3_reader *r;
    char full[4096];
    snprintf(full, sizeof full, "%s", tu_golden(a1));
    REQUIRE(mef3_reader_open(&r, full, NULL) == 0);
    int64_t t0 = ai->start_uutc + 1000000, t1 = t0 + 30000000;
    size_t cap = (size_t)mef3_window_samples(t0, t1, 256.0), got = 0;
    float *x = malloc(cap * sizeof *x);
    mef3_read_report rep;
    CHECK_RC(
        mef3_reader_read_time(&got, &rep, r, 0, t0, t1, MEF3_F32, x, cap, NULL),
        0);
    CHECK(mef3_client_read(&sig, c, a1, NULL, 0, t0, t1, NULL, NULL) == 0);
    CHECK(sig && sig->n_samples == got &&
          !memcmp(sig->data, x, got * sizeof *x));
    mef3_signal_free(sig);
    sig = NULL;
    free(x);
    mef3_reader_close(r);
  }
  mef3_file_info_free(ai);

  /* Encrypted: no password is an error, the level-2 one opens it. */
  const char *enc = "sessions/d_encrypted.mefd";
  CHECK_RC(mef3_client_open(NULL, NULL, c, enc, NULL), MEF3_EPASSWORD);
  CHECK_RC(mef3_client_open(NULL, NULL, c, enc, "wr0ngPa55"), MEF3_EPASSWORD);
  CHECK_MSG(mef3_client_open(NULL, NULL, c, enc, "l2pass") == 0, "%s",
            th_err());
  CHECK_RC(mef3_client_close_file(c, enc), 0);

  /* Error paths: each a clear message, and the server goes on. */
  CHECK_RC(mef3_client_open(NULL, NULL, c, "sessions/nope.mefd", NULL),
           MEF3_ENOTFOUND);
  CHECK(strstr(th_err(), "File does not exist: sessions/nope.mefd (") != NULL);
  CHECK_RC(mef3_client_open(NULL, NULL, c, "../../etc", NULL), MEF3_EINVAL);
  CHECK_RC(mef3_client_open(NULL, NULL, c, "/etc", NULL), MEF3_EINVAL);
  /* answered in the reply, status OK, as the original */
  CHECK_RC(mef3_client_open(NULL, NULL, c, "", NULL), MEF3_ENOTFOUND);
  CHECK(strstr(th_err(), "File does not exist: ") != NULL);
  CHECK_RC(mef3_client_info(&fi2, c, "sessions/c_discontinuities.mefd"),
           MEF3_ENOTFOUND);
  const char *bad[] = {"ch01", "nope", "nix"};
  CHECK_RC(mef3_client_read(&sig, c, b8, bad, 3, s, s + 1000000, NULL, NULL),
           MEF3_ENOTFOUND);
  CHECK(strstr(th_err(), "nope") && strstr(th_err(), "nix"));
  CHECK_RC(mef3_client_read(&sig, c, b8, g256, 3, s + 10, s, NULL, NULL),
           MEF3_EINVAL);
  CHECK_RC(mef3_client_read(&sig, c, b8, g256, 3, s, s + 1, NULL, NULL),
           MEF3_EINVAL); /* shorter than one sample */
  const char *mixed[] = {"ch04", "ch01", "ch07", "ch02"};
  CHECK_RC(mef3_client_read(&sig, c, b8, mixed, 4, s, s + 1000000, NULL, NULL),
           MEF3_EINVAL);
  CHECK_MSG(strstr(th_err(), "Requested channels do not share a sampling "
                             "rate: {256.0, 499.7, 1000.0} (ch01 at 256 Hz, "
                             "ch07 at 499.7 Hz, ch04 at 1000 Hz)"),
            "%s", th_err());
  CHECK_RC(mef3_client_read(&sig, c, "sessions/c_discontinuities.mefd", NULL, 0,
                            s, s + 1000000, NULL, NULL),
           MEF3_ENOTFOUND);
  CHECK(strstr(th_err(), "File not open: sessions/c_discontinuities.mefd"));
  CHECK_RC(
      mef3_client_read(&sig, c, b8, g256, 3, INT64_MIN, INT64_MAX, NULL, NULL),
      MEF3_EINVAL);
  /* A request for more samples than --max-samples allows. */
  CHECK_RC(mef3_client_read(&sig, c, b8, g5000, 1, s, s + 7200LL * 1000000,
                            NULL, NULL),
           MEF3_ELIMIT);
  CHECK(strstr(th_err(), "max-samples") != NULL);
  CHECK(sig == NULL);

  /* Still healthy after all that. */
  CHECK(same_as_direct(c, b8, g256, 3, s, s + 2000000));

  /* Close; closing again is fine; the list follows. */
  CHECK_RC(mef3_client_close_file(c, b8), 0);
  CHECK_RC(mef3_client_close_file(c, b8), 0);
  CHECK_RC(mef3_client_info(&fi2, c, b8), MEF3_ENOTFOUND);
  CHECK_RC(mef3_client_list(&paths, &n, c), 0);
  CHECK(n == 1 && !strcmp(paths[0], a1));
  mef3_files_list_free(paths, n);
  CHECK_RC(mef3_client_close_file(c, a1), 0);

  mef3_file_info_free(fi);
  mef3_file_info_free(ref);
  mef3_client_free(c);
}

/* Two clients reading the same windows at once get identical data. */
typedef struct {
  const char *addr;
  int64_t s;
  mef3_signal *out[6];
  int rc;
} reader_arg;

static void *reader_main(void *p) {
  reader_arg *a = p;
  mef3_client *c;
  if ((a->rc = mef3_client_new(&c, a->addr, NULL)))
    return NULL;
  const char *g[] = {"ch01", "ch02", "ch03"};
  for (int k = 0; k < 6 && !a->rc; k++)
    a->rc = mef3_client_read(&a->out[k], c, "sessions/b_multi_8ch.mefd", g, 3,
                             a->s + k * 7000000LL,
                             a->s + k * 7000000LL + 20000000, NULL, NULL);
  mef3_client_free(c);
  return NULL;
}

static void test_concurrent(const char *addr) {
  mef3_client *c;
  REQUIRE(mef3_client_new(&c, addr, NULL) == 0);
  mef3_file_info *fi = NULL;
  REQUIRE(mef3_client_open(&fi, NULL, c, "sessions/b_multi_8ch.mefd", NULL) ==
          0);
  reader_arg a[2];
  memset(a, 0, sizeof a);
  pthread_t t[2];
  for (int i = 0; i < 2; i++) {
    a[i].addr = addr;
    a[i].s = fi->start_uutc;
    pthread_create(&t[i], NULL, reader_main, &a[i]);
  }
  for (int i = 0; i < 2; i++)
    pthread_join(t[i], NULL);
  CHECK_MSG(a[0].rc == 0 && a[1].rc == 0, "%d %d", a[0].rc, a[1].rc);
  for (int k = 0; k < 6; k++) {
    mef3_signal *x = a[0].out[k], *y = a[1].out[k];
    CHECK(x && y && x->n_samples == y->n_samples &&
          !memcmp(x->data, y->data,
                  x->n_channels * x->n_samples * sizeof(float)));
    if (x && y) {
      const char *g[] = {"ch01", "ch02", "ch03"};
      mef3_signal *d = NULL;
      CHECK(mef3_files_read(&d, direct, "sessions/b_multi_8ch.mefd", g, 3,
                            x->start_uutc, x->end_uutc) == 0);
      CHECK(d && d->n_samples == x->n_samples &&
            !memcmp(d->data, x->data, d->n_samples * 3 * sizeof(float)));
      mef3_signal_free(d);
    }
    mef3_signal_free(x);
    mef3_signal_free(y);
  }
  CHECK_RC(mef3_client_close_file(c, "sessions/b_multi_8ch.mefd"), 0);
  mef3_file_info_free(fi);
  mef3_client_free(c);
}

/* One client shared by four threads: each read flattens its messages in
 * the client's reusable buffer or, when another thread holds it, in one of
 * its own; windows of growing and shrinking sizes (the buffer grows, then
 * is reused for smaller messages) come back bit-identical to direct
 * reads. */
typedef struct {
  mef3_client *c;
  int64_t s;
  int id;
  int same; /* windows that matched */
} shared_arg;

static void *shared_main(void *p) {
  shared_arg *a = p;
  const char *g[] = {"ch01", "ch02", "ch03"};
  static const int64_t len_s[] = {2, 20, 1, 30, 5, 3};
  for (int k = 0; k < 6; k++) {
    int64_t t0 = a->s + (int64_t)(a->id * 3 + k) * 4000000LL;
    a->same += same_as_direct(a->c, "sessions/b_multi_8ch.mefd", g,
                              (size_t)(1 + (a->id + k) % 3), t0,
                              t0 + len_s[k] * 1000000LL);
  }
  return NULL;
}

static void test_shared_client(const char *addr) {
  mef3_client *c;
  REQUIRE(mef3_client_new(&c, addr, NULL) == 0);
  mef3_file_info *fi = NULL;
  REQUIRE(mef3_client_open(&fi, NULL, c, "sessions/b_multi_8ch.mefd", NULL) ==
          0);
  shared_arg a[4];
  pthread_t t[4];
  for (int i = 0; i < 4; i++) {
    a[i] = (shared_arg){c, fi->start_uutc, i, 0};
    pthread_create(&t[i], NULL, shared_main, &a[i]);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    CHECK_MSG(a[i].same == 6, "thread %d: %d of 6 windows matched", i,
              a[i].same);
  }
  CHECK_RC(mef3_client_close_file(c, "sessions/b_multi_8ch.mefd"), 0);
  mef3_file_info_free(fi);
  mef3_client_free(c);
}

/* A generated session, when the command can make one. */
static void test_generated(const char *addr, const char *root) {
  char path[4200];
  snprintf(path, sizeof path, "%s/gen16.mefd", root);
  if (tu_system("'%s' gen '%s' --channels 16 --fs 256 --duration 900s "
                "--seed 3 >/dev/null 2>&1",
                MEF3_CLI, path) != 0) {
    printf("generated sessions: skipped (mef3pool gen not available)\n");
    return;
  }
  mef3_client *c;
  REQUIRE(mef3_client_new(&c, addr, NULL) == 0);
  mef3_file_info *fi = NULL;
  CHECK_MSG(mef3_client_open(&fi, NULL, c, "gen16.mefd", NULL) == 0, "%s",
            th_err());
  REQUIRE(fi);
  REQUIRE(mef3_files_open(NULL, direct, "gen16.mefd", NULL) == 0);
  int64_t s = fi->start_uutc;
  /* 10 minutes of 16 channels: 9.8 MB, several 2.5 MiB chunks. */
  CHECK(same_as_direct(c, "gen16.mefd", NULL, 0, s, s + 600000000));
  CHECK(same_as_direct(c, "gen16.mefd", NULL, 0, s + 12345, s + 420012345));
  const char *two[] = {fi->channels[3].name, fi->channels[9].name};
  CHECK(same_as_direct(c, "gen16.mefd", two, 2, s + 60000000,
                       s + 120000000));
  CHECK_RC(mef3_client_close_file(c, "gen16.mefd"), 0);
  mef3_file_info_free(fi);
  mef3_client_free(c);
}

/* --max-open-files and --max-streams refuse with clear errors.  The held
 * stream is far larger than what flow control and the socket buffers let
 * the server send ahead (64 ch x 15 min: 59 MB), so the server is still
 * working on it while it is held; it is then cancelled. */
static int hold_stream(int64_t done, int64_t total, void *payload) {
  (void)done;
  (void)total;
  _Atomic int *phase = payload;
  if (*phase == 0)
    *phase = 1;
  while (*phase == 1) /* held until the other stream was refused */
    th_sleep_ms(5);
  return 1;
}

typedef struct {
  const char *addr;
  _Atomic int phase;
  int rc;
} hold_arg;

static void *hold_main(void *p) {
  hold_arg *h = p;
  mef3_client *c;
  mef3_client_new(&c, h->addr, NULL);
  mef3_signal *sig = NULL;
  mef3_file_info *fi = NULL;
  mef3_client_open(&fi, NULL, c, "gen64.mefd", NULL);
  h->rc =
      mef3_client_read(&sig, c, "gen64.mefd", NULL, 0, fi ? fi->start_uutc : 0,
                       fi ? fi->end_uutc : 1000000, hold_stream, &h->phase);
  if (h->phase == 0)
    h->phase = 2;
  mef3_signal_free(sig);
  mef3_file_info_free(fi);
  mef3_client_free(c);
  return NULL;
}

static void test_limits(const char *root) {
  char path[4200];
  snprintf(path, sizeof path, "%s/gen64.mefd", root);
  if (tu_system("'%s' gen '%s' --channels 64 --fs 256 --duration 900s "
                "--seed 5 >/dev/null 2>&1",
                MEF3_CLI, path) != 0) {
    printf("limits: skipped (mef3pool gen not available)\n");
    return;
  }
  snprintf(path, sizeof path, "%s/a_single_256hz.mefd", root);
  REQUIRE(tu_copy_tree(tu_golden("sessions/a_single_256hz.mefd"), path) == 0);
  th_server srv;
  const char *extra[] = {"--max-open-files=2", "--max-streams=1",
                         "--chunk-bytes=4096", NULL};
  REQUIRE(th_start(&srv, root, extra) == 0);
  mef3_client *c;
  REQUIRE(mef3_client_new(&c, srv.addr, NULL) == 0);
  CHECK_RC(mef3_client_open(NULL, NULL, c, "a_single_256hz.mefd", NULL), 0);
  CHECK_RC(mef3_client_open(NULL, NULL, c, "gen64.mefd", NULL), 0);
  CHECK_RC(mef3_client_open(NULL, NULL, c, "gen16.mefd", NULL), MEF3_ELIMIT);
  hold_arg h;
  h.addr = srv.addr;
  h.phase = 0;
  h.rc = 0;
  pthread_t t;
  pthread_create(&t, NULL, hold_main, &h);
  while (h.phase == 0)
    th_sleep_ms(5);
  mef3_signal *sig = NULL;
  mef3_file_info *fi = NULL;
  REQUIRE(mef3_client_info(&fi, c, "a_single_256hz.mefd") == 0);
  CHECK_RC(mef3_client_read(&sig, c, "a_single_256hz.mefd", NULL, 0,
                            fi->start_uutc, fi->start_uutc + 1000000, NULL,
                            NULL),
           MEF3_ELIMIT);
  CHECK(strstr(th_err(), "max-streams") != NULL);
  h.phase = 2;
  pthread_join(t, NULL);
  CHECK_MSG(h.rc == MEF3_ECANCELED, "held stream: %s", mef3_errname(h.rc));
  /* Once the first stream is gone, the next one runs; and one client
   * reading window after window is never refused by its own previous
   * stream (its slot is free before the client sees the status).  The
   * cancelled stream's slot is freed by the server asynchronously: wait
   * for the first read to pass. */
  int rc = MEF3_ELIMIT;
  for (int i = 0; i < 200 && rc == MEF3_ELIMIT; i++) {
    rc = mef3_client_read(&sig, c, "a_single_256hz.mefd", NULL, 0,
                          fi->start_uutc, fi->start_uutc + 1000000, NULL, NULL);
    if (rc == MEF3_ELIMIT)
      th_sleep_ms(50);
  }
  CHECK_RC(rc, 0);
  mef3_signal_free(sig);
  int refused = 0;
  for (int i = 0; i < 300; i++) {
    sig = NULL;
    rc = mef3_client_read(&sig, c, "a_single_256hz.mefd", NULL, 0,
                          fi->start_uutc + i * 10000,
                          fi->start_uutc + i * 10000 + 500000, NULL, NULL);
    refused += rc == MEF3_ELIMIT;
    CHECK_RC(rc, 0);
    mef3_signal_free(sig);
  }
  CHECK_MSG(refused == 0, "%d of 300 back-to-back reads refused", refused);
  mef3_file_info_free(fi);
  mef3_client_free(c);
  CHECK(th_stop(&srv, SIGTERM) == 0);
  CHECK(th_no_children());
}

int main(void) {
  if (!tu_have_golden()) {
    printf("no golden data at %s: skipped\n", MEF3_GOLDEN_DIR);
    return 0;
  }
  /* The data root: the golden folder, plus a scratch copy area for
   * generated sessions (a root of its own). */
  const char *root = MEF3_GOLDEN_DIR;
  char groot[4096];
  snprintf(groot, sizeof groot, "%s", tu_scratch("gen"));
  direct = direct_new(root);

  th_server srv;
  /* Small chunks: every window is split into many (split reads are
   * checked against whole direct reads). */
  const char *extra[] = {"--chunk-bytes=8192", "--max-samples=20000000",
                         NULL};
  REQUIRE(th_start(&srv, root, extra) == 0);
  test_rpcs(srv.addr);
  test_concurrent(srv.addr);
  test_shared_client(srv.addr);
  CHECK(th_log_has(&srv, "b_multi_8ch.mefd (8 channels"));
  CHECK(th_stop(&srv, SIGTERM) == 0);
  CHECK(th_no_children());
  CHECK(th_log_has(&srv, "stopped"));
  /* Never a password in the log. */
  char *log = tu_read_file(srv.log, NULL);
  CHECK(log && !strstr(log, "l2pass") && !strstr(log, "wr0ngPa55"));
  free(log);

  /* Default chunks on a generated session. */
  mef3_files_free(direct);
  direct = direct_new(groot);
  REQUIRE(th_start(&srv, groot, NULL) == 0);
  test_generated(srv.addr, groot);
  CHECK(th_stop(&srv, SIGINT) == 0);
  CHECK(th_no_children());
  mef3_files_free(direct);

  test_limits(groot);
  return check_finish();
}
