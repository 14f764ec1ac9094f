/*
 * tests/server/test_server_access.c - every call checked, on the wire: the real
 * `mef3pool serve` (worker pool, --root) and two C clients on loopback,
 * on d_encrypted and d2_encrypted_blocks.
 *  - a second client with no, a wrong, a level-1 and a level-2 password:
 *    only the right ones open, the wrong ones are PERMISSION_DENIED
 *    (MEF3_EPASSWORD) and change nothing;
 *  - FileInfo, GetSignalRange and CloseFile without the token, with a
 *    token of another file, with a token after its view's close: refused;
 *  - a level-1 and a level-2 client reading the same session at once get
 *    each, bit for bit, what a direct read with their own password gives;
 *  - a session without encryption reads by path alone (no token sent).
 */
#include <math.h>
#include <pthread.h>

#include "server_helper.h"

static char root_dir[4096];

typedef struct {
  mef3_client *c;
  const char *rel, *pw;
  int failures;
  size_t nan_rows, rows;
} reader_job;

/* Read every channel whole and in a middle window, compare with direct
 * reads with the job's password. */
static void *read_job(void *arg) {
  reader_job *j = arg;
  char full[8192];
  snprintf(full, sizeof full, "%s/%s", root_dir, j->rel);
  mef3_reader_options ro = MEF3_READER_OPTIONS_INIT;
  ro.password = j->pw;
  mef3_reader *r = NULL;
  mef3_file_info *fi = NULL;
  if (mef3_reader_open(&r, full, &ro) || mef3_client_info(&fi, j->c, j->rel)) {
    j->failures++;
    mef3_reader_close(r);
    return NULL;
  }
  for (size_t ch = 0; ch < fi->n_channels; ch++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, ch);
    if (strcmp(ci->name, fi->channels[ch].name) ||
        ci->start_uutc != fi->channels[ch].start_uutc) {
      j->failures++;
      continue;
    }
    for (int w = 0; w < 2; w++) {
      int64_t t0 =
          w ? ci->start_uutc +
                  (int64_t)llround((double)(ci->n_samples / 3) * 1e6 / ci->fs)
            : ci->start_uutc;
      int64_t t1 = w ? t0 + 7000000 : ci->end_uutc;
      const char *one[] = {ci->name};
      mef3_signal *s = NULL;
      size_t n = (size_t)mef3_window_samples(t0, t1, ci->fs), got = 0;
      float *want = malloc(n * sizeof *want);
      int ok =
          want &&
          mef3_client_read(&s, j->c, j->rel, one, 1, t0, t1, NULL, NULL) == 0 &&
          mef3_reader_read_time(&got, NULL, r, ch, t0, t1, MEF3_F32, want, n,
                                NULL) == 0 &&
          got == n && s->n_samples == n;
      size_t nan = 0;
      for (size_t i = 0; ok && i < n; i++) {
        if (isnan(want[i]) && isnan(s->data[i]))
          nan++;
        else
          ok = !memcmp(&want[i], &s->data[i], sizeof *want);
      }
      if (!ok) {
        fprintf(stderr, "%s (%s) %s window %d differs or failed: %s\n", j->rel,
                j->pw, ci->name, w, th_err());
        j->failures++;
      }
      j->rows++;
      j->nan_rows += nan == n;
      mef3_signal_free(s);
      free(want);
    }
  }
  mef3_file_info_free(fi);
  mef3_reader_close(r);
  return NULL;
}

static int denied(int rc) {
  return rc == MEF3_EPASSWORD && strstr(th_err(), "PERMISSION_DENIED") != NULL;
}

static void check_session(const char *addr, const char *rel, int data_enc) {
  mef3_client *a, *b;
  REQUIRE(mef3_client_new(&a, addr, NULL) == 0);
  REQUIRE(mef3_client_new(&b, addr, NULL) == 0);
  mef3_file_info *fi = NULL;
  int already = -1;

  CHECK_RC(mef3_client_open(&fi, &already, a, rel, "l1pass"), 0);
  CHECK(fi && already == 0);
  mef3_file_info_free(fi);
  char ta[MEF3_FILES_TOKEN_CHARS + 1];
  CHECK_RC(mef3_client_token_get(a, rel, ta), 0);

  /* the second client: without a token nothing is given away */
  CHECK(denied(mef3_client_info(&fi, b, rel)));
  CHECK(fi == NULL);
  const char *c1[] = {"ch01"};
  mef3_signal *s = NULL;
  /* (a stream's refusal is its one error chunk, status PERMISSION_DENIED) */
  CHECK_RC(
      mef3_client_read(&s, b, rel, c1, 1, 3600000123, 3601000123, NULL, NULL),
      MEF3_EPASSWORD);
  CHECK(s == NULL);
  CHECK(denied(mef3_client_close_file(b, rel)));
  CHECK(denied(mef3_client_open(&fi, &already, b, rel, "WRONGpw")));
  CHECK(denied(mef3_client_open(&fi, &already, b, rel, NULL)));
  CHECK(denied(mef3_client_info(&fi, b, rel)));
  /* a did not lose anything */
  CHECK_RC(mef3_client_info(&fi, a, rel), 0);
  mef3_file_info_free(fi);

  /* level 2 for b: its own view, while a stays at level 1 */
  CHECK_RC(mef3_client_open(&fi, &already, b, rel, "l2pass"), 0);
  CHECK(fi && already == 0 && fi->start_uutc == 1600000000000000);
  mef3_file_info_free(fi);
  CHECK_RC(mef3_client_info(&fi, a, rel), 0);
  CHECK(fi && fi->start_uutc == 3600000123);
  mef3_file_info_free(fi);
  reader_job ja = {a, rel, "l1pass", 0, 0, 0};
  reader_job jb = {b, rel, "l2pass", 0, 0, 0};
  pthread_t t1, t2;
  REQUIRE(pthread_create(&t1, NULL, read_job, &ja) == 0);
  REQUIRE(pthread_create(&t2, NULL, read_job, &jb) == 0);
  pthread_join(t1, NULL);
  pthread_join(t2, NULL);
  CHECK(ja.failures == 0 && jb.failures == 0);
  CHECK(ja.rows > 0 && jb.rows > 0 && jb.nan_rows == 0);
  CHECK(data_enc ? ja.nan_rows == ja.rows / 2 : ja.nan_rows == 0);

  /* replay: a's token in b's hands after a closed its view */
  CHECK_RC(mef3_client_close_file(a, rel), 0);
  char gone[MEF3_FILES_TOKEN_CHARS + 1];
  CHECK_RC(mef3_client_token_get(a, rel, gone), MEF3_ENOTFOUND);
  mef3_client *e;
  REQUIRE(mef3_client_new(&e, addr, NULL) == 0);
  char tb[MEF3_FILES_TOKEN_CHARS + 1];
  CHECK_RC(mef3_client_token_get(b, rel, tb), 0);
  CHECK_RC(mef3_client_token_set(e, rel, ta), 0);
  CHECK(denied(mef3_client_info(&fi, e, rel)));
  CHECK(denied(mef3_client_close_file(e, rel)));
  CHECK_RC(mef3_client_token_set(e, rel, tb), 0); /* a live one works */
  CHECK_RC(mef3_client_info(&fi, e, rel), 0);
  CHECK(fi && fi->start_uutc == 1600000000000000);
  mef3_file_info_free(fi);
  CHECK_RC(mef3_client_close_file(b, rel), 0);
  CHECK(denied(mef3_client_info(&fi, e, rel))); /* died with the close */
  mef3_client_free(e);
  mef3_client_free(a);
  mef3_client_free(b);
}

int main(void) {
  if (!tu_have_golden()) {
    printf("no golden data at %s: skipped\n", MEF3_GOLDEN_DIR);
    return 0;
  }
  snprintf(root_dir, sizeof root_dir, "%s", tu_scratch("root"));
  REQUIRE(tu_system("cp -a '%s' '%s/d1.mefd' && cp -a '%s' '%s/d2.mefd' && "
                    "cp -a '%s' '%s/plain.mefd'",
                    tu_golden("sessions/d_encrypted.mefd"), root_dir,
                    tu_golden("sessions/d2_encrypted_blocks.mefd"), root_dir,
                    tu_golden("sessions/a_single_256hz.mefd"), root_dir) == 0);
  th_server srv;
  const char *extra[] = {"--tile-duration-s=5", "--min-parallel-tiles=1", NULL};
  REQUIRE(th_start(&srv, root_dir, extra) == 0);
  check_session(srv.addr, "d1.mefd", 0);
  check_session(srv.addr, "d2.mefd", 1);

  /* a token of one file opens no other */
  mef3_client *a;
  REQUIRE(mef3_client_new(&a, srv.addr, NULL) == 0);
  CHECK_RC(mef3_client_open(NULL, NULL, a, "d1.mefd", "l1pass"), 0);
  CHECK_RC(mef3_client_open(NULL, NULL, a, "d2.mefd", "l1pass"), 0);
  char t1[MEF3_FILES_TOKEN_CHARS + 1], t2[MEF3_FILES_TOKEN_CHARS + 1];
  CHECK_RC(mef3_client_token_get(a, "d1.mefd", t1), 0);
  CHECK_RC(mef3_client_token_get(a, "d2.mefd", t2), 0);
  CHECK(strcmp(t1, t2) != 0);
  CHECK_RC(mef3_client_token_set(a, "d2.mefd", t1), 0);
  mef3_file_info *fi = NULL;
  CHECK(denied(mef3_client_info(&fi, a, "d2.mefd")));
  CHECK_RC(mef3_client_token_set(a, "d2.mefd", t2), 0);
  CHECK_RC(mef3_client_close_file(a, "d2.mefd"), 0);
  CHECK_RC(mef3_client_close_file(a, "d1.mefd"), 0);

  /* plain: by path alone, no token */
  CHECK_RC(mef3_client_open(&fi, NULL, a, "plain.mefd", NULL), 0);
  CHECK(mef3_client_token_get(a, "plain.mefd", t1) == MEF3_ENOTFOUND);
  mef3_file_info_free(fi);
  mef3_client *b;
  REQUIRE(mef3_client_new(&b, srv.addr, NULL) == 0);
  CHECK_RC(mef3_client_info(&fi, b, "plain.mefd"), 0);
  mef3_file_info_free(fi);
  CHECK_RC(mef3_client_close_file(b, "plain.mefd"), 0);
  mef3_client_free(a);
  mef3_client_free(b);
  CHECK(th_stop(&srv, SIGTERM) == 0);
  CHECK(th_no_children());
  return check_finish();
}
