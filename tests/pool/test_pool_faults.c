/*
 * tests/pool/test_pool_faults.c - the reader pool under faults, with real
 * worker processes on golden and generated sessions:
 *  - workers with injected faults (MEF3POOL_WORKER_FAULTS: allocations
 *    failing, disk reads failing with EIO): every request either
 *    succeeds with the data of a direct in-process read or fails with
 *    MEF3_ENOMEM / MEF3_EIO naming what failed; once the workers are
 *    replaced without faults, everything reads correctly again; a
 *    malformed setting is a clear worker failure;
 *  - workers killed at random (SIGKILL) under a load of mixed requests
 *    (tiles, windows split across workers, prefetched chunks) from
 *    several threads: every request either succeeds with correct data or
 *    fails with MEF3_EWORKER naming the signal; the pool is back to full
 *    size afterwards;
 *  - the host out of memory: the Nth allocation of the pool's own side
 *    (callers and service thread) fails, for every N: each run ends in
 *    MEF3_ENOMEM or correct data, nothing leaks, nothing hangs;
 * and at the end nothing is left behind: no child process, descriptor,
 * memfd or shared-memory mapping.  No check depends on timing.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "faults_helper.h"

static mef3_pool *new_pool(int workers, const char *name) {
  mef3_pool_options o = MEF3_POOL_OPTIONS_INIT;
  o.max_workers = workers;
  o.name = name;
  mef3_pool *p = NULL;
  CHECK_RC(mef3_pool_new(&p, &o), 0);
  REQUIRE(p);
  return p;
}

/* Wait (bounded: a liveness check, not a timing one) until the pool runs
 * `n` workers; returns how many it runs. */
static int wait_live(mef3_pool *p, int n) {
  mef3_pool_stats st;
  for (int i = 0; i < 20000; i++) {
    mef3_pool_get_stats(&st, p);
    if ((int)st.live_workers == n && fh_children(NULL, 0) == n)
      break;
    usleep(1000);
  }
  mef3_pool_get_stats(&st, p);
  return (int)st.live_workers;
}

/* ---- a load of mixed requests from several threads ---- */

typedef struct tally {
  atomic_long ok, wrong, enomem, eio, eworker, other, submit_failed;
} tally;

typedef struct loader {
  mef3_pool *p;
  tally *t;
  uint64_t seed;
  long max_requests; /* or until *stop */
  atomic_int *stop;
  /* which failures are expected */
  int allow_faults, allow_kills;
} loader;

static void report_bad(const fh_req *q, const char *what) {
  static atomic_int shown;
  if (atomic_fetch_add(&shown, 1) < 8)
    fprintf(stderr, "  %s request on %s: %s: %s (%s)\n", fh_kind(q->kind),
            fh_sessions[q->sess].path, what,
            mef3_errname(mef3_future_status(q->f)), mef3_future_message(q->f));
}

/* Classify a finished request; 1 when it is acceptable. */
static int judge(const loader *l, const fh_req *q, const fh_refs *x,
                 float *scratch) {
  int st = mef3_future_status(q->f);
  const char *msg = mef3_future_message(q->f);
  if (st == 0) {
    if (fh_check_data(q, x, scratch)) {
      l->t->ok++;
      return 1;
    }
    l->t->wrong++;
    report_bad(q, "WRONG DATA");
    return 0;
  }
  /* out of memory, for the request's file (a path inside the session) */
  if (l->allow_faults && st == MEF3_ENOMEM &&
      (strstr(msg, "memory") || strstr(msg, "allocate")) &&
      strstr(msg, ".mefd")) {
    l->t->enomem++;
    return 1;
  }
  /* a read error names the file: a path inside the session */
  if (l->allow_faults && st == MEF3_EIO && strstr(msg, ".mefd/") &&
      strstr(msg, "Input/output error")) {
    l->t->eio++;
    return 1;
  }
  if (l->allow_kills && st == MEF3_EWORKER && strstr(msg, "signal 9")) {
    l->t->eworker++;
    return 1;
  }
  l->t->other++;
  report_bad(q, "unexpected failure");
  return 0;
}

static void *load_main(void *arg) {
  loader *l = arg;
  fh_refs x;
  fh_refs_open(&x);
  fh_rng g = {l->seed};
  float *scratch = malloc(FH_SCRATCH * sizeof *scratch);
  REQUIRE(scratch);
  for (long done = 0;
       done < l->max_requests && !(l->stop && atomic_load(l->stop));) {
    fh_req q[3];
    int n = (int)fh_range(&g, 1, 3);
    int ok = 0;
    for (int i = 0; i < n; i++) {
      int rc = fh_submit(&q[ok], l->p, &x, &g);
      if (rc == 0 && q[ok].f)
        ok++;
      else
        l->t->submit_failed++;
    }
    for (int i = 0; i < ok; i++) {
      mef3_future_wait(q[i].f, -1);
      judge(l, &q[i], &x, scratch);
      mef3_future_free(q[i].f);
    }
    done += n;
  }
  free(scratch);
  fh_refs_close(&x);
  return NULL;
}

/* Run `threads` loaders on `p` until each made `per_thread` requests or
 * *stop (when given) is set. */
static void run_load(mef3_pool *p, tally *t, int threads, long per_thread,
                     atomic_int *stop, int allow_faults, int allow_kills,
                     uint64_t seed, pthread_t *th, loader *ls) {
  for (int i = 0; i < threads; i++) {
    ls[i] = (loader){p,          t,    seed * 1000 + (uint64_t)i,
                     per_thread, stop, allow_faults,
                     allow_kills};
    REQUIRE(pthread_create(&th[i], NULL, load_main, &ls[i]) == 0);
  }
}

static void join_load(int threads, pthread_t *th) {
  for (int i = 0; i < threads; i++)
    pthread_join(th[i], NULL);
}

static long total(tally *t) {
  return t->ok + t->wrong + t->enomem + t->eio + t->eworker + t->other;
}

/* ---- injected faults in the workers ---- */

static void test_worker_faults(void) {
  double t0 = fh_now();
  REQUIRE(setenv("MEF3POOL_WORKER_FAULTS", "alloc=0.02,read=0.05,seed=7", 1) ==
          0);
  mef3_pool *p = new_pool(2, "faults");
  tally t = {0};
  pthread_t th[2];
  loader ls[2];
  run_load(p, &t, 2, 150, NULL, 1, 0, 7, th, ls);
  join_load(2, th);
  printf("faults (alloc 2%%, read 5%%): %ld requests: %ld correct, %ld "
         "MEF3_ENOMEM, %ld MEF3_EIO, %ld wrong, %ld other\n",
         total(&t), (long)t.ok, (long)t.enomem, (long)t.eio, (long)t.wrong,
         (long)t.other);
  CHECK(t.wrong == 0 && t.other == 0 && t.submit_failed == 0);
  CHECK(t.ok > 0 && t.enomem > 0 && t.eio > 0); /* the faults were hit */

  /* Faults off: workers replaced (killed while idle; the replacements
   * start without the variable) read everything correctly again. */
  REQUIRE(unsetenv("MEF3POOL_WORKER_FAULTS") == 0);
  mef3_pool_stats st;
  mef3_pool_get_stats(&st, p);
  uint64_t restarts = st.worker_restarts;
  int kids[8];
  int n = fh_children(kids, 8);
  for (int i = 0; i < n && i < 8; i++)
    kill(kids[i], SIGKILL);
  /* until the pool has seen them die (a request sent to a worker killed
   * a moment ago fails, rightly, with MEF3_EWORKER) */
  for (int i = 0; i < 20000 && st.worker_restarts < restarts + (uint64_t)n;
       i++) {
    usleep(1000);
    mef3_pool_get_stats(&st, p);
  }
  CHECK(st.worker_restarts == restarts + (uint64_t)n);
  tally after = {0};
  run_load(p, &after, 2, 60, NULL, 0, 0, 8, th, ls);
  join_load(2, th);
  printf("faults off, workers replaced: %ld requests, %ld correct\n",
         total(&after), (long)after.ok);
  CHECK(after.ok == total(&after) && after.ok > 0);
  mef3_pool_free(p);

  /* A malformed setting: the worker says so and stops; the request fails
   * with MEF3_EWORKER, not a hang. */
  REQUIRE(setenv("MEF3POOL_WORKER_FAULTS", "alloc=2", 1) == 0);
  p = new_pool(1, "bad-faults");
  int64_t b = 0;
  mef3_future *f = NULL;
  CHECK_RC(mef3_pool_submit_tiles(&f, p, fh_sessions[0].path, "ch01", &b, 1,
                                  256.0, 0, 256),
           0);
  mef3_future_wait(f, -1);
  CHECK(mef3_future_status(f) == MEF3_EWORKER);
  CHECK_MSG(strstr(mef3_future_message(f), "exited with status 2") != NULL,
            "%s", mef3_future_message(f));
  mef3_future_free(f);
  mef3_pool_free(p);
  REQUIRE(unsetenv("MEF3POOL_WORKER_FAULTS") == 0);
  printf("worker faults: %.1f s\n", fh_now() - t0);
}

/* ---- workers killed at random ---- */

static void test_kills(void) {
  double t0 = fh_now();
  enum { WORKERS = 3, THREADS = 3, KILLS = 30 };
  mef3_pool *p = new_pool(WORKERS, "kills");
  CHECK_RC(mef3_pool_warmup(p, fh_sessions[0].path, NULL, -1), 0);
  REQUIRE(wait_live(p, WORKERS) == WORKERS);
  tally t = {0};
  atomic_int stop = 0;
  pthread_t th[THREADS];
  loader ls[THREADS];
  run_load(p, &t, THREADS, 1L << 30, &stop, 0, 1, 3, th, ls);
  fh_rng g = {99};
  int kills = 0, killed[KILLS];
  long next = 0;
  while (kills < KILLS) {
    /* paced by the requests done, not by time: a kill every 5 to 40
     * requests, however fast the machine is */
    next += fh_range(&g, 5, 40);
    while (total(&t) < next)
      usleep(1000);
    /* a worker not killed before (one killed a moment ago may not be a
     * zombie yet) */
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
      continue; /* all being replaced right now */
    int victim = fresh[fh_range(&g, 0, nf - 1)];
    if (kill(victim, SIGKILL) == 0)
      killed[kills++] = victim;
  }
  atomic_store(&stop, 1);
  join_load(THREADS, th);
  int live = wait_live(p, WORKERS);
  mef3_pool_stats st;
  mef3_pool_get_stats(&st, p);
  printf("kills: %d workers killed under %ld requests: %ld correct, %ld "
         "MEF3_EWORKER, %ld wrong, %ld other; %llu restarts, %d live\n",
         kills, total(&t), (long)t.ok, (long)t.eworker, (long)t.wrong,
         (long)t.other, (unsigned long long)st.worker_restarts, live);
  CHECK(t.wrong == 0 && t.other == 0 && t.submit_failed == 0);
  CHECK(t.ok > 0);
  CHECK(live == WORKERS);                       /* back to full size */
  CHECK(st.worker_restarts == (uint64_t)kills); /* each death seen once */
  CHECK(fh_children(NULL, 0) == WORKERS);
  /* and it serves correctly */
  tally after = {0};
  run_load(p, &after, 2, 30, NULL, 0, 0, 4, th, ls);
  join_load(2, th);
  CHECK(after.ok == total(&after) && after.ok > 0);
  mef3_pool_free(p);
  CHECK(fh_children(NULL, 0) == 0);
  printf("kills: %.1f s\n", fh_now() - t0);
}

/*
 * A worker that dies while the service thread is busy elsewhere (here, in
 * a done-callback, which runs on it) is found dead only when the next
 * request is handed to it: the send fails and that request fails with
 * the worker.  The service thread must then plan again - start a worker
 * for what still waits - rather than sleep with requests queued and no
 * worker, which it did (one time in about fifty runs of
 * test_files_faults, a prefetch lane of one worker stayed dead for good
 * and the reads waiting for its tiles hung).  Every queued request must
 * complete; a 30 s bound on each wait turns the hang into a failure (it
 * is not a timing check).
 */
static void kill_in_callback(mef3_future *f, void *payload) {
  (void)f;
  pid_t pid = *(pid_t *)payload;
  kill(pid, SIGKILL);
  /* wait until it is gone (a zombie): the next send must fail */
  char path[64], st = 0;
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  for (int i = 0; i < 2000 && st != 'Z'; i++) {
    FILE *fp = fopen(path, "r");
    if (!fp || fscanf(fp, "%*d %*s %c", &st) != 1)
      st = 'Z';
    if (fp)
      fclose(fp);
    if (st != 'Z')
      usleep(500);
  }
}

static void test_kill_while_busy(void) {
  double t0 = fh_now();
  enum { ROUNDS = 20, QUEUED = 3 };
  mef3_pool *p = new_pool(1, "kill while busy");
  int64_t b = 0;
  int hung = 0, done = 0;
  for (int r = 0; r < ROUNDS && !hung; r++) {
    mef3_future *a = NULL, *q[QUEUED];
    /* a served request first, so the worker is up */
    CHECK_RC(mef3_pool_submit_tiles(&a, p, fh_sessions[0].path, "ch01", &b, 1,
                                    256.0, 0, 256),
             0);
    hung += mef3_future_wait(a, 30000) != 0;
    int kid = 0;
    REQUIRE(fh_children(&kid, 1) == 1);
    pid_t pid = kid;
    mef3_future_free(a);
    /* the first one's callback kills the worker; the others wait behind */
    for (int k = 0; k < QUEUED; k++)
      CHECK_RC(mef3_pool_submit_tiles(&q[k], p, fh_sessions[0].path, "ch01",
                                      &b, 1, 256.0, 0, 256),
               0);
    mef3_future_on_done(q[0], kill_in_callback, &pid);
    for (int k = 0; k < QUEUED; k++) {
      hung += mef3_future_wait(q[k], 30000) != 0;
      done += mef3_future_done(q[k]);
    }
    for (int k = 0; k < QUEUED; k++)
      mef3_future_free(q[k]);
  }
  printf("kill while busy: %d rounds, %d queued requests completed, %d "
         "waited with no worker\n",
         ROUNDS, done, hung);
  CHECK_MSG(hung == 0, "requests waited with no worker to serve them");
  mef3_pool_free(p);
  CHECK(fh_children(NULL, 0) == 0);
  printf("kill while busy: %.1f s\n", fh_now() - t0);
}

/* ---- the host out of memory ---- */

static atomic_long h_calls, h_fail_at, h_live;

static int h_refuse(void) {
  long n = atomic_fetch_add(&h_calls, 1) + 1;
  return n == atomic_load(&h_fail_at);
}

static void *h_malloc(size_t n, void *payload) {
  (void)payload;
  if (h_refuse())
    return NULL;
  void *p = malloc(n);
  if (p)
    h_live++;
  return p;
}

static void *h_calloc(size_t n, size_t size, void *payload) {
  (void)payload;
  if (h_refuse())
    return NULL;
  void *p = calloc(n, size);
  if (p)
    h_live++;
  return p;
}

static void *h_realloc(void *old, size_t n, void *payload) {
  (void)payload;
  if (h_refuse())
    return NULL;
  void *p = realloc(old, n);
  if (p && !old)
    h_live++;
  return p;
}

static void h_free(void *p, void *payload) {
  (void)payload;
  h_live--;
  free(p);
}

static char h_msg[512]; /* the message of the first error */

/* One life of a pool: requests of every kind; the first error (its
 * message in h_msg), data checked on success. */
static int host_scenario(const fh_refs *x, float *scratch, int *wrong) {
  h_msg[0] = '\0';
  mef3_pool_options o = MEF3_POOL_OPTIONS_INIT;
  o.max_workers = 1;
  o.name = "host";
  mef3_pool *p = NULL;
  int rc = mef3_pool_new(&p, &o);
  if (rc) {
    snprintf(h_msg, sizeof h_msg, "%s", mef3_error_last()->message);
    return rc;
  }
  fh_rng g = {5};
  for (int i = 0; i < 6 && !rc; i++) {
    fh_req q;
    rc = fh_submit(&q, p, x, &g);
    if (rc) {
      snprintf(h_msg, sizeof h_msg, "%s", mef3_error_last()->message);
      break;
    }
    mef3_future_wait(q.f, -1);
    rc = mef3_future_status(q.f);
    if (rc)
      snprintf(h_msg, sizeof h_msg, "%s", mef3_future_message(q.f));
    else if (!fh_check_data(&q, x, scratch))
      (*wrong)++;
    mef3_future_free(q.f);
    if (!rc && i == 2 && (rc = mef3_pool_forget(p, fh_sessions[q.sess].path)))
      snprintf(h_msg, sizeof h_msg, "%s", mef3_error_last()->message);
  }
  mef3_pool_free(p);
  return rc;
}

static void test_host_out_of_memory(void) {
  double t0 = fh_now();
  fh_refs x;
  fh_refs_open(&x);
  float *scratch = malloc(FH_SCRATCH * sizeof *scratch);
  REQUIRE(scratch);
  mef3_allocator a = MEF3_ALLOCATOR_INIT;
  a.malloc_fn = h_malloc;
  a.calloc_fn = h_calloc;
  a.realloc_fn = h_realloc;
  a.free_fn = h_free;
  long runs = 0, enomem = 0, ok = 0, bad = 0;
  /* A run without the hook first: it must succeed, and it leaves the
   * test's own readers (the expected data) with every buffer they need,
   * so that under the hook only the pool allocates. */
  int wrong = 0;
  CHECK_RC(host_scenario(&x, scratch, &wrong), 0);
  CHECK(wrong == 0);
  for (long n = 1;; n++) {
    h_calls = 0;
    h_live = 0;
    h_fail_at = n;
    wrong = 0;
    REQUIRE(mef3_set_allocator(&a) == 0);
    int rc = host_scenario(&x, scratch, &wrong);
    long made = h_calls;
    REQUIRE(mef3_set_allocator(NULL) == 0);
    runs++;
    const char *m = h_msg;
    if (rc == 0)
      ok++;
    else if (rc == MEF3_ENOMEM && (strstr(m, "memory") || strstr(m, "alloc")))
      enomem++;
    else if (bad++ < 5)
      CHECK_MSG(0, "host allocation %ld failed: %s (%s)", n, mef3_errname(rc),
                m);
    if (wrong && bad++ < 5)
      CHECK_MSG(0, "host allocation %ld failed: wrong data", n);
    if (h_live != 0 && bad++ < 5)
      CHECK_MSG(0, "host allocation %ld failed: %ld allocations leaked", n,
                (long)h_live);
    if (made < n)
      break;
  }
  CHECK(bad == 0);
  CHECK(fh_children(NULL, 0) == 0);
  printf("host out of memory: %ld runs, %ld MEF3_ENOMEM, %ld succeeded "
         "(same data); %.1f s\n",
         runs, enomem, ok, fh_now() - t0);
  free(scratch);
  fh_refs_close(&x);
}

int main(int argc, char **argv) {
  if (!tu_have_golden()) {
    printf("golden data missing: %s\n", MEF3_GOLDEN_DIR);
    return 1;
  }
  fh_setup_sessions("pool-faults");
  int memfds0 = 0;
  int fds0 = tu_fds(&memfds0);

  static const check_case cases[] = {
      CASE(test_worker_faults),
      CASE(test_kills),
      CASE(test_kill_while_busy),
      CASE(test_host_out_of_memory),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);

  CHECK(fh_children(NULL, 0) == 0);
  int memfds = 0, fds = tu_fds(&memfds);
  CHECK_MSG(fds == fds0, "%d descriptors open, %d at start", fds, fds0);
  CHECK_MSG(memfds == memfds0, "%d memfds open, %d at start", memfds, memfds0);
  CHECK(tu_memfd_maps() == 0);
  return check_finish();
}
