/*
 * tests/files/test_files_faults.c - the file manager and the pool out of
 * descriptors, and the file manager while its workers are killed or fail.
 *
 *  - Out of descriptors: in a child process (so the rest of the suite
 *    keeps its limit) with a low RLIMIT_NOFILE, many sessions are opened
 *    and read through the file manager (in process, then with its pools)
 *    and through a pool directly, until descriptors run out: every
 *    failure is MEF3_ELIMIT naming what ran out ("Too many open files"),
 *    nothing crashes, and after closing files or raising the limit every
 *    session reads correctly again.  A pool created or started with no
 *    descriptor left says so (MEF3_ELIMIT), then works once there are.
 *  - Workers killed at random, and workers with injected faults
 *    (MEF3POOL_WORKER_FAULTS), under reads from several threads: the
 *    manager falls back to decoding in process, so every read succeeds
 *    with the data of a direct read; afterwards both lanes are back to
 *    full size; nothing is left behind (processes, descriptors, memfds).
 * No check depends on timing.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "faults_helper.h"

/* ---- out of descriptors ---- */

#define N_COPIES 12
static char copies[N_COPIES][4096];
static float *want[N_COPIES][8]; /* each channel's first 20 s */
static size_t want_n[N_COPIES][8];
static size_t n_ch;
static int64_t t_start, ch_start[8];
static char ch_name[8][16];

static void make_copies(void) {
  const char *dir = tu_scratch("files-faults-copies");
  const char *src = tu_golden("sessions/b_multi_8ch.mefd");
  mef3_reader *r;
  REQUIRE(mef3_reader_open(&r, src, NULL) == 0);
  n_ch = mef3_reader_channel_count(r);
  REQUIRE(n_ch <= 8);
  /* a window every channel covers, on each channel's grid */
  t_start = mef3_reader_channel(r, 0)->start_uutc;
  for (int i = 0; i < N_COPIES; i++) {
    snprintf(copies[i], sizeof copies[i], "%s/copy%02d.mefd", dir, i);
    REQUIRE(tu_copy_tree(src, copies[i]) == 0);
    for (size_t ch = 0; ch < n_ch; ch++) {
      const mef3_channel_info *ci = mef3_reader_channel(r, ch);
      ch_start[ch] = ci->start_uutc;
      snprintf(ch_name[ch], sizeof ch_name[ch], "%s", ci->name);
      size_t n = (size_t)mef3_window_samples(ci->start_uutc,
                                             ci->start_uutc + 20000000, ci->fs);
      want[i][ch] = malloc(n * sizeof(float));
      REQUIRE(want[i][ch]);
      REQUIRE(mef3_reader_read_time(&want_n[i][ch], NULL, r, ch, ci->start_uutc,
                                    ci->start_uutc + 20000000, MEF3_F32,
                                    want[i][ch], n, NULL) == 0);
    }
  }
  mef3_reader_close(r);
}

/* Read every channel of copy i (one channel per read: rates differ).
 * 0, or the first error, with the data checked on success. */
static int read_copy(mef3_files *fm, int i, int *wrong) {
  mef3_file_info *info = NULL;
  int rc = mef3_files_info(&info, fm, copies[i]);
  for (size_t ch = 0; !rc && ch < n_ch; ch++) {
    const mef3_file_channel *c = &info->channels[ch];
    const char *name = c->name;
    mef3_signal *s = NULL;
    rc = mef3_files_read(&s, fm, copies[i], &name, 1, c->start_uutc,
                         c->start_uutc + 20000000);
    if (!rc && (s->n_samples != want_n[i][ch] ||
                !fh_same(s->data, want[i][ch], s->n_samples)))
      (*wrong)++;
    mef3_signal_free(s);
  }
  mef3_file_info_free(info);
  return rc;
}

static int ran_out(int rc, const char *msg) {
  return rc == MEF3_ELIMIT && strstr(msg, "Too many open files") != NULL;
}

/* The RLIMIT_NOFILE that leaves exactly `k` descriptor numbers free (the
 * limit bounds numbers, and there may be holes below the highest). */
static rlim_t limit_leaving(int k) {
  int seen = 0;
  for (int n = 0;; n++)
    if (fcntl(n, F_GETFD) < 0 && errno == EBADF && seen++ == k)
      return (rlim_t)n;
}

static void set_limit(rlim_t soft) {
  struct rlimit rl;
  REQUIRE(getrlimit(RLIMIT_NOFILE, &rl) == 0);
  rl.rlim_cur = soft < rl.rlim_max ? soft : rl.rlim_max;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &rl) == 0);
}

/* Open and read copies until descriptors run out; returns how many are
 * open.  Every failure must be MEF3_ELIMIT saying so. */
static int fill(mef3_files *fm, const char *label, int *limited) {
  int open = 0, wrong = 0;
  for (int i = 0; i < N_COPIES; i++) {
    int rc = mef3_files_open(NULL, fm, copies[i], NULL);
    const char *what = "open";
    if (!rc) {
      open++;
      what = "read";
      rc = read_copy(fm, i, &wrong);
    }
    if (rc) {
      CHECK_MSG(ran_out(rc, mef3_error_last()->message),
                "%s: %s of copy %d: %s (%s)", label, what, i, mef3_errname(rc),
                mef3_error_last()->message);
      (*limited)++;
    }
  }
  CHECK_MSG(wrong == 0, "%s: %d reads with wrong data", label, wrong);
  return open;
}

/* Close every other copy, then all open ones must read correctly; raise
 * the limit, open the rest: all read correctly. */
static void recover(mef3_files *fm, const char *label, rlim_t high) {
  for (int i = 0; i < N_COPIES; i += 2)
    mef3_files_close(fm, copies[i]); /* MEF3_ENOTFOUND if it never opened */
  int wrong = 0, failed = 0;
  char first[600] = ""; /* the first failure's own message */
  for (int i = 1; i < N_COPIES; i += 2) {
    mef3_file_info *info = NULL;
    if (mef3_files_info(&info, fm, copies[i]) != 0)
      continue; /* never opened */
    mef3_file_info_free(info);
    int rc = read_copy(fm, i, &wrong);
    if (rc && !failed++)
      snprintf(first, sizeof first, "copy %d: %s: %s", i, mef3_errname(rc),
               mef3_error_last()->message);
  }
  CHECK_MSG(failed == 0 && wrong == 0,
            "%s: after closing half: %d failed, %d wrong (%s)", label, failed,
            wrong, first);
  set_limit(high);
  failed = 0;
  first[0] = '\0';
  for (int i = 0; i < N_COPIES; i++) {
    int rc = mef3_files_open(NULL, fm, copies[i], NULL);
    if (!rc)
      rc = read_copy(fm, i, &wrong);
    if (rc && !failed++)
      snprintf(first, sizeof first, "copy %d: %s: %s", i, mef3_errname(rc),
               mef3_error_last()->message);
  }
  CHECK_MSG(failed == 0 && wrong == 0,
            "%s: after raising the limit: %d failed, %d wrong (%s)", label,
            failed, wrong, first);
}

static void fd_manager(int use_pool, int base, rlim_t high) {
  const char *label = use_pool ? "manager with pools" : "manager in process";
  mef3_files_options fo = MEF3_FILES_OPTIONS_INIT;
  fo.use_process_pool = use_pool;
  fo.reader_processes = 3;
  fo.prefetch_processes = 1;
  fo.cache_ttl_s = 0;
  fo.tile_duration_s = 5.0;
  mef3_files *fm = NULL;
  REQUIRE(mef3_files_new(&fm, &fo) == 0);
  int fds = tu_fds(NULL);
  set_limit(limit_leaving(base));
  int limited = 0;
  int open = fill(fm, label, &limited);
  printf("%s: %d descriptors to spare: %d of %d copies opened, %d opens "
         "or reads failed with MEF3_ELIMIT\n",
         label, base, open, N_COPIES, limited);
  (void)fds;
  /* Either the descriptors ran out (and were reported as MEF3_ELIMIT) or
   * every copy fit: a read that needs descriptors gives back idle readers
   * first (fd_idle_readers), in process as with pools, so under some
   * schedules the copies never exhaust the limit. */
  CHECK_MSG(limited > 0 || open == N_COPIES,
            "%s: descriptors never ran out", label);
  recover(fm, label, high);
  mef3_files_free(fm);
}

/* Idle readers of other files must not starve a read: four copies read
 * (their readers keep their data files open), a fifth opened but not
 * read, then only a few descriptors left.  Reading the fifth needs its
 * data files: the manager gives back the idle readers' descriptors and
 * the read succeeds (it failed with MEF3_ELIMIT before; the same starving
 * made the TSan run flaky, with the prefetch lane's extra readers). */
static void fd_idle_readers(rlim_t high) {
  mef3_files_options fo = MEF3_FILES_OPTIONS_INIT;
  fo.use_process_pool = 0;
  fo.cache_ttl_s = 0;
  fo.tile_duration_s = 5.0;
  fo.prefetch_ahead_windows = fo.prefetch_behind_windows = 0;
  mef3_files *fm = NULL;
  REQUIRE(mef3_files_new(&fm, &fo) == 0);
  int wrong = 0;
  for (int i = 0; i < 5; i++)
    REQUIRE(mef3_files_open(NULL, fm, copies[i], NULL) == 0);
  for (int i = 0; i < 4; i++)
    CHECK_RC(read_copy(fm, i, &wrong), 0);
  set_limit(limit_leaving(2));
  int rc = read_copy(fm, 4, &wrong);
  CHECK_MSG(rc == 0, "reading a fifth file with 2 descriptors to spare: %s (%s)",
            mef3_errname(rc), mef3_error_last()->message);
  rc = read_copy(fm, 0, &wrong); /* and the first again */
  CHECK_MSG(rc == 0, "reading the first file again: %s (%s)",
            mef3_errname(rc), mef3_error_last()->message);
  CHECK(wrong == 0);
  set_limit(high);
  mef3_files_free(fm);
}

/* A pool with hardly any descriptor: clear errors, then it works. */
static void fd_pool(rlim_t high) {
  mef3_pool_options o = MEF3_POOL_OPTIONS_INIT;
  o.max_workers = 1;
  o.name = "fd";
  mef3_pool *p = NULL;
  /* Room for one of its two event descriptors. */
  set_limit(limit_leaving(1));
  int rc = mef3_pool_new(&p, &o);
  CHECK_MSG(ran_out(rc, mef3_error_last()->message) && !p, "pool_new: %s (%s)",
            mef3_errname(rc), mef3_error_last()->message);
  int early = rc != 0;
  mef3_pool_free(p);
  p = NULL;
  /* Room for those and its result memory, not for a worker's socket. */
  set_limit(limit_leaving(3));
  CHECK_RC(mef3_pool_new(&p, &o), 0);
  REQUIRE(p);
  const char *name = ch_name[0];
  mef3_future *f = NULL;
  CHECK_RC(mef3_pool_read_window(&f, p, copies[0], &name, NULL, 1, t_start,
                                 t_start + 20000000, 1),
           0);
  if (f) {
    mef3_future_wait(f, -1);
    int st = mef3_future_status(f);
    CHECK_MSG(ran_out(st, mef3_future_message(f)) &&
                  strstr(mef3_future_message(f), "cannot start a worker"),
              "worker start: %s (%s)", mef3_errname(st),
              mef3_future_message(f));
    early += st != 0;
    mef3_future_free(f);
  }
  printf("pool with no descriptor to spare: creating it and starting its "
         "worker failed with MEF3_ELIMIT (%d of 2)\n",
         early);
  /* The worker inherits the limit: with room to start it but hardly any
   * for its readers, requests fail with MEF3_ELIMIT naming the file; the
   * worker goes on. */
  set_limit(limit_leaving(8));
  int limited = 0, ok = 0, wrong = 0;
  for (int i = 0; i < N_COPIES; i++) {
    for (size_t ch = 0; ch < n_ch; ch++) {
      const char *pn = ch_name[ch];
      f = NULL;
      rc = mef3_pool_read_window(&f, p, copies[i], &pn, NULL, 1, ch_start[ch],
                                 ch_start[ch] + 20000000, 1);
      if (rc) {
        CHECK_MSG(ran_out(rc, mef3_error_last()->message), "submit: %s (%s)",
                  mef3_errname(rc), mef3_error_last()->message);
        limited++;
        continue;
      }
      mef3_future_wait(f, -1);
      int st = mef3_future_status(f);
      if (st == 0) {
        size_t rows = 0, n = 0;
        const float *w = mef3_future_window(&rows, &n, f);
        ok++;
        wrong += !w || rows != 1 || n != want_n[i][ch] ||
                 !fh_same(w, want[i][ch], n);
      } else {
        CHECK_MSG(ran_out(st, mef3_future_message(f)) &&
                      strstr(mef3_future_message(f), copies[i]),
                  "copy %d %s: %s (%s)", i, pn, mef3_errname(st),
                  mef3_future_message(f));
        limited++;
      }
      mef3_future_free(f);
    }
  }
  printf("pool: %d windows read (%d wrong), %d failed with MEF3_ELIMIT\n", ok,
         wrong, limited);
  CHECK(limited > 0 && wrong == 0);
  /* Forgetting files closes the worker's readers: reads work again; a
   * raised limit reaches workers started from then on. */
  set_limit(high);
  for (int i = 0; i < N_COPIES; i++)
    mef3_pool_forget(p, copies[i]);
  int kids[4];
  if (fh_children(kids, 4) == 1)
    kill(kids[0], SIGKILL); /* its replacement gets the new limit */
  int failed = 0;
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < N_COPIES; i++)
      for (size_t ch = 0; ch < n_ch; ch++) {
        const char *pn = ch_name[ch];
        f = NULL;
        if (mef3_pool_read_window(&f, p, copies[i], &pn, NULL, 1, ch_start[ch],
                                  ch_start[ch] + 20000000, 1) != 0) {
          failed++;
          continue;
        }
        mef3_future_wait(f, -1);
        /* the first request after the kill may meet the dead worker */
        int st = mef3_future_status(f);
        size_t rows = 0, n = 0;
        const float *w = mef3_future_window(&rows, &n, f);
        if (st == 0)
          failed += !w || n != want_n[i][ch] || !fh_same(w, want[i][ch], n);
        else
          failed += !(round == 0 && i == 0 && st == MEF3_EWORKER);
        mef3_future_free(f);
      }
  CHECK_MSG(failed == 0, "pool after the limit was raised: %d failed", failed);
  mef3_pool_free(p);
}

/* The child: everything with low limits; its exit status is the verdict. */
static int fd_child(void) {
  struct rlimit rl;
  REQUIRE(getrlimit(RLIMIT_NOFILE, &rl) == 0);
  rlim_t high = rl.rlim_cur;
  int fds0 = tu_fds(NULL);
  fd_idle_readers(high);
  fd_manager(0, 24, high);
  fd_manager(1, 36, high);
  fd_pool(high);
  set_limit(high);
  CHECK(fh_children(NULL, 0) == 0);
  int memfds = 0;
  CHECK_MSG(tu_fds(&memfds) == fds0, "%d descriptors, %d at start",
            tu_fds(NULL), fds0);
  CHECK(memfds == 0);
  return check_finish();
}

static void test_out_of_descriptors(void) {
  double t0 = fh_now();
  make_copies();
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0)
    exit(fd_child()); /* exit: flushes its output, runs LeakSanitizer */
  int st = 0;
  REQUIRE(waitpid(pid, &st, 0) == pid);
  CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0,
            "the out-of-descriptors child failed (status %d)", st);
  for (int i = 0; i < N_COPIES; i++)
    for (size_t ch = 0; ch < n_ch; ch++)
      free(want[i][ch]);
  printf("out of descriptors: %.1f s\n", fh_now() - t0);
}

/* ---- kills and faults under the file manager ---- */

typedef struct rdr {
  mef3_files *fm;
  uint64_t seed;
  atomic_int *stop;
  long max_reads;
  atomic_long *ok, *bad;
} rdr;

/* Random windows starting on the channels' grid (where the manager and a
 * direct read agree bit for bit, files.h): one channel of a golden
 * session, or every channel of the generated one (one rate). */
static void *rdr_main(void *arg) {
  rdr *a = arg;
  fh_refs x;
  fh_refs_open(&x);
  fh_rng g = {a->seed};
  float *w = malloc(FH_SCRATCH * sizeof *w);
  REQUIRE(w);
  for (long k = 0; k < a->max_reads && !(a->stop && atomic_load(a->stop));
       k++) {
    int s = (int)fh_range(&g, 0, fh_n_sessions - 1);
    mef3_reader *r = x.r[s];
    size_t nch = mef3_reader_channel_count(r);
    size_t chans[8] = {0}, nc = 0;
    if (s == 2) {
      for (size_t c = 0; c < nch && c < 8; c++)
        chans[nc++] = c;
    } else {
      chans[nc++] = (size_t)fh_range(&g, 0, (int64_t)nch - 1);
    }
    const mef3_channel_info *ci = mef3_reader_channel(r, chans[0]);
    int64_t i0 = fh_range(&g, (int64_t)(-5 * ci->fs), ci->n_samples);
    int64_t start = ci->start_uutc + llround((double)i0 * 1e6 / ci->fs);
    int64_t end = start + fh_range(&g, 200000, 30000000);
    const char *names[8];
    for (size_t c = 0; c < nc; c++)
      names[c] = mef3_reader_channel(r, chans[c])->name;
    mef3_signal *sig = NULL;
    int rc = mef3_files_read(&sig, a->fm, fh_sessions[s].path, names, nc, start,
                             end);
    int good = rc == 0 && sig->n_channels == nc;
    /* The manager rounds a half-sample length to even, the reader away
     * from zero: the reader's read may hold one sample more. */
    good = good && (int64_t)sig->n_samples ==
                       mef3_files_window_samples(start, end, ci->fs);
    for (size_t c = 0; good && c < nc; c++) {
      size_t n = 0;
      good = mef3_reader_read_time(&n, NULL, r, chans[c], start, end, MEF3_F32,
                                   w, FH_SCRATCH, NULL) == 0 &&
             n >= sig->n_samples &&
             fh_same(sig->data + c * sig->n_samples, w, sig->n_samples);
    }
    if (good) {
      (*a->ok)++;
    } else if (atomic_fetch_add(a->bad, 1) < 5) {
      fprintf(stderr, "  read of %s [%lld, %lld): %s (%s)\n",
              fh_sessions[s].path, (long long)start, (long long)end,
              rc ? mef3_errname(rc) : "WRONG DATA",
              rc ? mef3_error_last()->message : "");
    }
    mef3_signal_free(sig);
  }
  free(w);
  fh_refs_close(&x);
  return NULL;
}

static mef3_files *new_manager(void) {
  mef3_files_options fo = MEF3_FILES_OPTIONS_INIT;
  fo.reader_processes = 3; /* 2 foreground workers, 1 prefetch */
  fo.prefetch_processes = 1;
  fo.tile_duration_s = 5.0;
  fo.cache_ttl_s = 0;
  fo.tile_cache_bytes = (int64_t)4 << 20; /* small: tiles are decoded again */
  mef3_files *fm = NULL;
  REQUIRE(mef3_files_new(&fm, &fo) == 0);
  for (int i = 0; i < fh_n_sessions; i++)
    REQUIRE(mef3_files_open(NULL, fm, fh_sessions[i].path, NULL) == 0);
  return fm;
}

static void test_manager_kills(void) {
  double t0 = fh_now();
  enum { THREADS = 3, KILLS = 20 };
  mef3_files *fm = new_manager();
  atomic_int stop = 0;
  atomic_long ok = 0, bad = 0;
  rdr a[THREADS];
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    a[i] = (rdr){fm, 100 + (uint64_t)i, &stop, 1L << 30, &ok, &bad};
    REQUIRE(pthread_create(&th[i], NULL, rdr_main, &a[i]) == 0);
  }
  fh_rng g = {7};
  int kills = 0, killed[KILLS];
  long next = 0;
  while (kills < KILLS) {
    /* paced by the reads done, not by time: a kill every 5 to 40 reads */
    next += fh_range(&g, 5, 40);
    while (ok + bad < next)
      usleep(1000);
    int kids[16], fresh[16], nf = 0;
    int n = fh_children(kids, 16);
    for (int i = 0; i < n && i < 16; i++) {
      int seen = 0;
      for (int k = 0; k < kills; k++)
        seen |= killed[k] == kids[i];
      if (!seen)
        fresh[nf++] = kids[i];
    }
    if (nf == 0)
      continue; /* none started yet, or all being replaced */
    int victim = fresh[fh_range(&g, 0, nf - 1)];
    if (kill(victim, SIGKILL) == 0)
      killed[kills++] = victim;
  }
  atomic_store(&stop, 1);
  for (int i = 0; i < THREADS; i++)
    pthread_join(th[i], NULL);
  /* both lanes back to full size (a bounded wait, not a timing check) */
  int live = 0;
  for (int i = 0; i < 20000 && (live = fh_children(NULL, 0)) != 3; i++)
    usleep(1000);
  mef3_files_stats st;
  mef3_files_get_stats(&st, fm);
  printf("manager, %d workers killed: %ld reads correct, %ld not; %llu "
         "tiles from the pool, %llu in process; %d workers live\n",
         kills, (long)ok, (long)bad, (unsigned long long)st.pool_tiles,
         (unsigned long long)st.local_tiles, live);
  CHECK(bad == 0 && ok > 0);
  CHECK(live == 3);
  mef3_files_free(fm);
  CHECK(fh_children(NULL, 0) == 0);
  printf("manager kills: %.1f s\n", fh_now() - t0);
}

static void test_manager_worker_faults(void) {
  double t0 = fh_now();
  REQUIRE(setenv("MEF3POOL_WORKER_FAULTS", "alloc=0.01,read=0.05,seed=3", 1) ==
          0);
  mef3_files *fm = new_manager(); /* its pools start at the first read */
  atomic_long ok = 0, bad = 0;
  rdr a[2];
  pthread_t th[2];
  for (int i = 0; i < 2; i++) {
    a[i] = (rdr){fm, 200 + (uint64_t)i, NULL, 60, &ok, &bad};
    REQUIRE(pthread_create(&th[i], NULL, rdr_main, &a[i]) == 0);
  }
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  mef3_files_stats st;
  mef3_files_get_stats(&st, fm);
  printf("manager, faulty workers: %ld reads correct, %ld not; %llu tiles "
         "from the pool, %llu in process, %llu prefetch tiles failed\n",
         (long)ok, (long)bad, (unsigned long long)st.pool_tiles,
         (unsigned long long)st.local_tiles,
         (unsigned long long)st.prefetch_failed);
  CHECK(bad == 0 && ok == 120);
  mef3_files_free(fm);
  REQUIRE(unsetenv("MEF3POOL_WORKER_FAULTS") == 0);
  printf("manager worker faults: %.1f s\n", fh_now() - t0);
}

int main(int argc, char **argv) {
  if (!tu_have_golden()) {
    printf("golden data missing: %s\n", MEF3_GOLDEN_DIR);
    return 1;
  }
  /* first, while this process has no thread: it forks */
  test_out_of_descriptors();
  fh_setup_sessions("files-faults");
  int memfds0 = 0;
  int fds0 = tu_fds(&memfds0);
  static const check_case cases[] = {
      CASE(test_manager_kills),
      CASE(test_manager_worker_faults),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  CHECK(fh_children(NULL, 0) == 0);
  int memfds = 0, fds = tu_fds(&memfds);
  CHECK_MSG(fds == fds0, "%d descriptors open, %d at start", fds, fds0);
  CHECK_MSG(memfds == memfds0, "%d memfds open, %d at start", memfds, memfds0);
  CHECK(tu_memfd_maps() == 0);
  return check_finish();
}
