/*
 * test_reader_confine_race - a link swapped in during reads under a data
 * root never leads a read outside: one thread flips a channel directory
 * of a session inside the root between the real one and a symbolic link
 * to a copy outside, as fast as it can, while readers open the session
 * with the root (mef3_reader_options.root) and read, and a file manager
 * with its worker pool opens, reads and closes it again and again.
 * inotify watches every directory of the copy outside: not one open may
 * happen there, by this process or its workers.  Reads either succeed
 * with the session's own samples or fail cleanly (the channel missing, or
 * MEF3_EINVAL: leading outside) - the check-then-open this replaced
 * could be led out between its check and its open.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "check.h"
#include "testutil.h"

static char root[PATH_MAX], outside[PATH_MAX], session[PATH_MAX + 16];
static atomic_int stop;
static int ino = -1;

/* Flip root/s.mefd/ch01.timd: real directory <-> link to the copy. */
static void *swapper(void *arg) {
  (void)arg;
  char real[PATH_MAX + 32], parked[PATH_MAX + 32], target[PATH_MAX + 32];
  snprintf(real, sizeof real, "%s/ch01.timd", session);
  snprintf(parked, sizeof parked, "%s/ch01.parked", session);
  snprintf(target, sizeof target, "%s/s.mefd/ch01.timd", outside);
  while (!atomic_load(&stop)) {
    if (rename(real, parked) || symlink(target, real))
      break;
    usleep(50);
    if (unlink(real) || rename(parked, real))
      break;
    usleep(50);
  }
  return NULL;
}

static void watch_outside(void) {
  ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  REQUIRE(ino >= 0);
  char cmd[PATH_MAX + 64];
  snprintf(cmd, sizeof cmd, "find '%s' -type d", outside);
  FILE *p = popen(cmd, "r");
  REQUIRE(p);
  char line[PATH_MAX];
  while (fgets(line, sizeof line, p)) {
    line[strcspn(line, "\n")] = '\0';
    REQUIRE(inotify_add_watch(ino, line, IN_OPEN) >= 0);
  }
  pclose(p);
  char buf[4096];
  while (read(ino, buf, sizeof buf) > 0) /* find's own opens */
    ;
}

static int opened_outside(void) {
  char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
  ssize_t n = read(ino, buf, sizeof buf);
  if (n <= 0)
    return 0;
  const struct inotify_event *e = (const void *)buf;
  fprintf(stderr, "opened outside the root: %s\n",
          e->len ? e->name : "(a watched directory)");
  return 1;
}

/* Samples that differ from the session's (a block refused reads as NaN:
 * not a difference). */
static int differs(const float *got, const float *want, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isnan(got[i]) && got[i] != want[i])
      return 1;
  return 0;
}

/* The codes a read may fail with while the tree changes under it. */
static int clean_failure(int rc) {
  return rc == MEF3_EINVAL || rc == MEF3_ENOTFOUND || rc == MEF3_ECORRUPT;
}

int main(void) {
  if (!tu_have_golden())
    return 77;
  REQUIRE(realpath(tu_scratch("race root"), root));
  REQUIRE(realpath(tu_scratch("race outside"), outside));
  snprintf(session, sizeof session, "%s/s.mefd", root);
  char out_s[PATH_MAX + 16];
  snprintf(out_s, sizeof out_s, "%s/s.mefd", outside);
  REQUIRE(tu_copy_tree(tu_golden("sessions/b_multi_8ch.mefd"), session) == 0);
  REQUIRE(tu_copy_tree(tu_golden("sessions/b_multi_8ch.mefd"), out_s) == 0);

  /* The session's own window, read before anything moves. */
  mef3_reader *r = NULL;
  REQUIRE(mef3_reader_open(&r, session, NULL) == 0);
  const mef3_channel_info *ci = mef3_reader_channel(r, 0);
  int64_t t0 = ci->start_uutc, t1 = t0 + 2000000;
  float want[600], got[600];
  size_t n = 0;
  REQUIRE(mef3_reader_read_time(&n, NULL, r, 0, t0, t1, MEF3_F32, want, 600,
                                NULL) == 0);
  mef3_reader_close(r);

  watch_outside();
  pthread_t th;
  REQUIRE(pthread_create(&th, NULL, swapper, NULL) == 0);
  int ok = 0, refused = 0, wrong = 0, other = 0;
  mef3_reader_options ro = MEF3_READER_OPTIONS_INIT;
  ro.root = root;
  for (int i = 0; i < 3000; i++) {
    int rc = mef3_reader_open(&r, session, &ro);
    if (!rc) {
      size_t k = mef3_reader_channel_count(r);
      size_t ch = 0;
      while (ch < k && strcmp(mef3_reader_channel(r, ch)->name, "ch01"))
        ch++;
      mef3_read_report rep;
      rc = ch == k ? MEF3_ENOTFOUND
                   : mef3_reader_read_time(&n, &rep, r, ch, t0, t1, MEF3_F32,
                                           got, 600, NULL);
      if (!rc && differs(got, want, n))
        wrong++;
      if (!rc && rep.n_bad_blocks)
        refused++; /* its data file was refused: NaN */
      mef3_reader_close(r);
    }
    rc ? (clean_failure(rc) ? refused++ : other++) : ok++;
    if (rc && !clean_failure(rc))
      fprintf(stderr, "reader: %s: %s\n", mef3_errname(rc),
              mef3_error_last()->message);
  }

  CHECK_MSG(!opened_outside(), "the reader opened a file outside the root");

  /* The file manager with its pool: every open a new file, so the workers
   * open new readers. */
  mef3_files_options fo = MEF3_FILES_OPTIONS_INIT;
  fo.data_root = root;
  fo.use_process_pool = 1;
  fo.reader_processes = 2;
  fo.prefetch_processes = 1;
  fo.min_parallel_tiles = 1;
  fo.prefetch_ahead_windows = 0;
  fo.prefetch_behind_windows = 0;
  fo.tile_duration_s = 1.0;
  mef3_files *fm = NULL;
  REQUIRE(mef3_files_new(&fm, &fo) == 0);
  const char *chans[] = {"ch01", "ch02"};
  int fm_ok = 0, fm_refused = 0;
  for (int i = 0; i < 300; i++) {
    int rc = mef3_files_open(NULL, fm, session, NULL);
    mef3_signal *sig = NULL;
    if (!rc)
      rc = mef3_files_read(&sig, fm, session, chans, 2, t0, t1);
    if (!rc && differs(sig->data, want, sig->n_samples))
      wrong++;
    mef3_signal_free(sig);
    mef3_files_close(fm, session);
    rc ? (clean_failure(rc) || rc == MEF3_EIO ? fm_refused++ : other++)
       : fm_ok++;
    if (rc && !clean_failure(rc))
      fprintf(stderr, "file manager: %s: %s\n", mef3_errname(rc),
              mef3_error_last()->message);
  }
  mef3_files_free(fm);
  atomic_store(&stop, 1);
  pthread_join(th, NULL);
  printf("reader: %d read, %d refused; file manager: %d read, %d refused\n",
         ok, refused, fm_ok, fm_refused);
  CHECK_MSG(!opened_outside(),
            "the file manager opened a file outside the root");
  CHECK_MSG(wrong == 0, "%d reads returned other samples", wrong);
  CHECK_MSG(other == 0, "%d reads failed unexpectedly", other);
  CHECK(ok > 0 && refused > 0); /* both sides of the swap were seen */
  return check_finish();
}
