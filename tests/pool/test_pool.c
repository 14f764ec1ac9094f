/*
 * tests/pool/test_pool.c - the reader process pool with real worker processes
 * on golden sessions: results bit-identical to in-process reads, window
 * splitting and trimming, windows sized by the caller's rates, prefetch
 * keys, cancellation, timeouts,
 * callbacks, warm-up, two pools, a worker killed mid-request, shutdown
 * with work queued, many threads at once, and nothing left behind.
 */
#include <dirent.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "testutil.h"

static const char *session;  /* b_multi_8ch: 8 channels, mixed rates */
static const char *session2; /* a_single_256hz */

/* Process ids of our children (read from /proc). */
static int children(pid_t *out, int cap) {
  int tmp[64];
  int n = tu_children(tmp, cap < 64 ? cap : 64);
  for (int i = 0; i < n && i < cap && i < 64; i++)
    out[i] = (pid_t)tmp[i];
  return n;
}


static mef3_pool *new_pool(int workers, const char *name) {
  mef3_pool_options o = MEF3_POOL_OPTIONS_INIT;
  o.max_workers = workers;
  o.name = name;
  mef3_pool *p = NULL;
  CHECK_RC(mef3_pool_new(&p, &o), 0);
  REQUIRE(p);
  return p;
}

static int same_floats(const float *a, const float *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (isnan(a[i]) != isnan(b[i]))
      return 0;
    if (!isnan(a[i]) && memcmp(&a[i], &b[i], 4) != 0)
      return 0;
  }
  return 1;
}

static void test_tiles_match_in_process(void) {
  mef3_reader *r;
  REQUIRE(mef3_reader_open(&r, session, NULL) == 0);
  mef3_pool *p = new_pool(2, "tiles");
  mef3_pool_stats st;
  mef3_pool_get_stats(&st, p);
  CHECK(st.live_workers == 0); /* constructing is cheap: no process yet */
  for (size_t ch = 0; ch < mef3_reader_channel_count(r); ch++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, ch);
    int64_t S = mef3_tile_samples(10.0, ci->fs);
    /* tiles inside, across the end, far outside and negative */
    int64_t blocks[] = {0, 1, 2, 5, 6, 100, -1};
    size_t n = sizeof blocks / sizeof *blocks;
    mef3_future *f;
    CHECK_RC(mef3_pool_submit_tiles(&f, p, session, ci->name, blocks, n, ci->fs,
                                    ci->start_uutc, S),
             0);
    CHECK_RC(mef3_future_wait(f, -1), 0);
    CHECK_RC(mef3_future_status(f), 0);
    size_t nt = 0, spt = 0;
    const float *got = mef3_future_tiles(&nt, &spt, f);
    REQUIRE(got);
    CHECK(nt == n && spt == (size_t)S);
    float *want = malloc((size_t)S * sizeof *want);
    for (size_t i = 0; i < n; i++) {
      mef3_reader_read_tile(NULL, r, ch, blocks[i], ci->fs, ci->start_uutc, S,
                            want, 0);
      CHECK_MSG(same_floats(got + i * (size_t)S, want, (size_t)S),
                "channel %s tile %lld differs", ci->name, (long long)blocks[i]);
    }
    /* tile 100 lies far after the end: all NaN */
    int all_nan = 1;
    for (int64_t i = 0; i < S; i++)
      all_nan &= isnan(got[5 * (size_t)S + (size_t)i]);
    CHECK(all_nan);
    free(want);
    mef3_future_free(f);
  }
  /* an unknown channel is an error of the request, not a dead worker */
  mef3_future *f;
  int64_t b0 = 0;
  CHECK_RC(
      mef3_pool_submit_tiles(&f, p, session, "nope", &b0, 1, 256.0, 0, 256), 0);
  mef3_future_wait(f, -1);
  CHECK(mef3_future_status(f) == MEF3_ENOTFOUND);
  CHECK(strstr(mef3_future_message(f), "nope") != NULL);
  CHECK(mef3_future_tiles(NULL, NULL, f) == NULL);
  mef3_future_free(f);
  mef3_pool_get_stats(&st, p);
  CHECK(st.worker_restarts == 0);
  CHECK(st.failed == 1);
  CHECK(st.bytes_decoded > 0);
  mef3_pool_free(p);
  mef3_reader_close(r);
}

static void test_window(void) {
  mef3_reader *r;
  REQUIRE(mef3_reader_open(&r, session, NULL) == 0);
  size_t nch = mef3_reader_channel_count(r);
  const char *names[16];
  /* reversed order, to see that the requested order is kept */
  for (size_t i = 0; i < nch; i++)
    names[i] = mef3_reader_channel(r, nch - 1 - i)->name;
  const mef3_channel_info *c0 = mef3_reader_channel(r, 0);
  int64_t t0 = c0->start_uutc + 1000000, t1 = t0 + 2000000;
  mef3_pool *p = new_pool(3, "window");
  for (int splits = 0; splits <= 5; splits += 5) {
    mef3_future *f;
    CHECK_RC(
        mef3_pool_read_window(&f, p, session, names, NULL, nch, t0, t1, splits),
        0);
    CHECK_RC(mef3_future_wait(f, -1), 0);
    CHECK_RC(mef3_future_status(f), 0);
    size_t rows = 0, n = 0;
    const float *w = mef3_future_window(&rows, &n, f);
    REQUIRE(w);
    CHECK(rows == nch);
    /* mixed rates: trimmed to the shortest, 2 s at 256 Hz */
    CHECK(n == 512);
    for (size_t k = 0; k < nch; k++) {
      size_t ch = nch - 1 - k;
      const mef3_channel_info *ci = mef3_reader_channel(r, ch);
      size_t need = (size_t)mef3_window_samples(t0, t1, ci->fs), got;
      float *want = malloc(need * sizeof *want);
      CHECK_RC(mef3_reader_read_time(&got, NULL, r, ch, t0, t1, MEF3_F32, want,
                                     need, NULL),
               0);
      CHECK_MSG(same_floats(w + k * n, want, n), "row %zu (%s) differs", k,
                ci->name);
      free(want);
    }
    mef3_future_free(f);
  }
  mef3_future *f = NULL;
  CHECK_RC(mef3_pool_read_window(&f, p, session, names, NULL, 0, t0, t1, 0),
           MEF3_EINVAL);
  CHECK(f == NULL);
  const char *bad[] = {"ch01", "missing"};
  CHECK_RC(mef3_pool_read_window(&f, p, session, bad, NULL, 2, t0, t1, 0), 0);
  mef3_future_wait(f, -1);
  CHECK(mef3_future_status(f) == MEF3_ENOTFOUND);
  mef3_future_free(f);
  /* a file that does not exist: a clear error, the pool goes on */
  CHECK_RC(mef3_pool_read_window(&f, p, "/nonexistent.mefd", bad, NULL, 1, t0,
                                 t1, 0),
           0);
  mef3_future_wait(f, -1);
  CHECK(mef3_future_status(f) == MEF3_ENOTFOUND);
  CHECK(strstr(mef3_future_message(f), "/nonexistent.mefd") != NULL);
  mef3_future_free(f);
  mef3_pool_free(p);
  mef3_reader_close(r);
}

/* Windows sized by the caller's rates: the same rows as the pool's own
 * table gives, the caller's rates deciding the length, bad rates refused,
 * and an unknown channel or file failing through the future as without
 * rates. */
static void test_window_rates(void) {
  mef3_reader *r;
  REQUIRE(mef3_reader_open(&r, session, NULL) == 0);
  size_t nch = mef3_reader_channel_count(r);
  const char *names[16];
  double fs[16], half[16];
  for (size_t i = 0; i < nch; i++) {
    names[i] = mef3_reader_channel(r, nch - 1 - i)->name;
    fs[i] = mef3_reader_channel(r, nch - 1 - i)->fs;
    half[i] = fs[i] / 2;
  }
  const mef3_channel_info *c0 = mef3_reader_channel(r, 0);
  int64_t t0 = c0->start_uutc + 1000000, t1 = t0 + 2000000;
  mef3_pool *p = new_pool(2, "rates");
  for (int splits = 0; splits <= 5; splits += 5) {
    mef3_future *a, *b;
    CHECK_RC(
        mef3_pool_read_window(&a, p, session, names, fs, nch, t0, t1, splits),
        0);
    CHECK_RC(
        mef3_pool_read_window(&b, p, session, names, NULL, nch, t0, t1, splits),
        0);
    mef3_future_wait(a, -1);
    mef3_future_wait(b, -1);
    CHECK_RC(mef3_future_status(a), 0);
    size_t ra = 0, na = 0, rb = 0, nb = 0;
    const float *wa = mef3_future_window(&ra, &na, a);
    const float *wb = mef3_future_window(&rb, &nb, b);
    REQUIRE(wa && wb);
    CHECK(ra == nch && rb == nch && na == 512 && nb == 512);
    CHECK(same_floats(wa, wb, nch * na));
    mef3_future_free(a);
    mef3_future_free(b);
  }
  /* the caller's rates size the result: at half rate, half the samples,
   * each row the first half of the channel's window */
  mef3_future *f = NULL;
  CHECK_RC(mef3_pool_read_window(&f, p, session, names, half, nch, t0, t1, 0),
           0);
  mef3_future_wait(f, -1);
  CHECK_RC(mef3_future_status(f), 0);
  size_t rows = 0, n = 0;
  const float *w = mef3_future_window(&rows, &n, f);
  REQUIRE(w);
  CHECK(rows == nch && n == 256);
  for (size_t k = 0; k < nch; k++) {
    size_t ch = nch - 1 - k, got;
    size_t need = (size_t)mef3_window_samples(t0, t1, fs[k]);
    float *want = malloc(need * sizeof *want);
    CHECK_RC(mef3_reader_read_time(&got, NULL, r, ch, t0, t1, MEF3_F32, want,
                                   need, NULL),
             0);
    CHECK_MSG(same_floats(w + k * n, want, n), "row %zu differs", k);
    free(want);
  }
  mef3_future_free(f);
  /* rates that are not a positive number */
  const double bad_fs[] = {0.0, -256.0, NAN, INFINITY};
  for (size_t i = 0; i < 4; i++) {
    double rr[2] = {256.0, bad_fs[i]};
    const char *two[] = {"ch01", "ch02"};
    f = NULL;
    CHECK_RC(mef3_pool_read_window(&f, p, session, two, rr, 2, t0, t1, 0),
             MEF3_EINVAL);
    CHECK(f == NULL);
    CHECK(strstr(mef3_error_last()->message, "ch02") != NULL);
  }
  const char *bad[] = {"ch01", "missing"};
  const double rr[] = {256.0, 256.0};
  CHECK_RC(mef3_pool_read_window(&f, p, session, bad, rr, 2, t0, t1, 0), 0);
  mef3_future_wait(f, -1);
  CHECK(mef3_future_status(f) == MEF3_ENOTFOUND);
  CHECK(strstr(mef3_future_message(f), "missing") != NULL);
  mef3_future_free(f);
  CHECK_RC(
      mef3_pool_read_window(&f, p, "/nonexistent.mefd", bad, rr, 1, t0, t1, 0),
      0);
  mef3_future_wait(f, -1);
  CHECK(mef3_future_status(f) == MEF3_ENOTFOUND);
  CHECK(strstr(mef3_future_message(f), "/nonexistent.mefd") != NULL);
  mef3_future_free(f);
  mef3_pool_stats st;
  mef3_pool_get_stats(&st, p);
  CHECK(st.worker_restarts == 0);
  mef3_pool_free(p);
  mef3_reader_close(r);
}

static void test_prefetch(void) {
  mef3_pool *p = new_pool(2, "prefetch");
  const char *chans[] = {"ch01", "ch02"};
  int64_t t0 = 1600000000000000LL, t1 = t0 + 5000000;
  CHECK_RC(mef3_pool_prefetch_chunk(p, "k1", session, chans, 2, t0, t1), 0);
  CHECK_RC(mef3_pool_prefetch_chunk(p, "k1", session, chans, 2, t0, t1), 0);
  CHECK(mef3_pool_is_scheduled(p, "k1") == 1);
  CHECK(mef3_pool_is_scheduled(p, "k2") == 0);
  mef3_pool_stats st;
  mef3_pool_get_stats(&st, p);
  CHECK(st.requests == 1); /* the second schedule was a no-op */
  mef3_future *f;
  CHECK_RC(mef3_pool_take_chunk(&f, p, "k1"), 0);
  CHECK(mef3_future_done(f));
  size_t rows, n;
  const float *w = mef3_future_window(&rows, &n, f);
  CHECK(w && rows == 2 && n == 1280);
  mef3_future_free(f);
  CHECK(mef3_pool_is_scheduled(p, "k1") == 0);
  CHECK_RC(mef3_pool_take_chunk(&f, p, "k1"), MEF3_ENOTFOUND);
  CHECK(strstr(mef3_error_last()->message, "unknown key") != NULL);
  /* chunks never taken are released at shutdown */
  CHECK_RC(mef3_pool_prefetch_chunk(p, "k3", session, chans, 2, t0, t1), 0);
  mef3_pool_free(p);
}

static atomic_int cb_calls;
static void on_done(mef3_future *f, void *payload) {
  (void)f;
  atomic_fetch_add(&cb_calls, 1);
  atomic_store((atomic_int *)payload, 1);
}

/* A long request: many tiles of the 5 kHz channel. */
static mef3_future *long_request(mef3_pool *p, size_t n) {
  int64_t *b = malloc(n * sizeof *b);
  for (size_t i = 0; i < n; i++)
    b[i] = (int64_t)(i % 50);
  mef3_future *f = NULL;
  CHECK_RC(mef3_pool_submit_tiles(&f, p, session, "ch08", b, n, 5000.0,
                                  1600000000250000LL, 5000),
           0);
  free(b);
  return f;
}

static void test_cancel_timeout_callbacks(void) {
  mef3_pool *p = new_pool(1, "cancel");
  mef3_future *a = long_request(p, 6000);
  int64_t blk = 0;
  mef3_future *b;
  CHECK_RC(mef3_pool_submit_tiles(&b, p, session, "ch01", &blk, 1, 256.0,
                                  1600000000000000LL, 256),
           0);
  CHECK_RC(mef3_future_wait(a, 0), MEF3_ETIMEDOUT);
  CHECK_RC(mef3_future_wait(a, 1), MEF3_ETIMEDOUT);
  CHECK(!mef3_future_done(b));
  CHECK_RC(mef3_future_cancel(b), 0);
  CHECK(mef3_future_done(b));
  CHECK(mef3_future_status(b) == MEF3_ECANCELED);
  CHECK_RC(mef3_future_cancel(b), MEF3_EINVAL);
  atomic_int fired = 0;
  CHECK_RC(mef3_future_on_done(a, on_done, &fired), 0);
  CHECK_RC(mef3_future_on_done(a, on_done, &fired), MEF3_EINVAL);
  CHECK_RC(mef3_future_wait(a, -1), 0);
  CHECK_RC(mef3_future_status(a), 0);
  /* the callback ran once, from the pool thread, before or soon after
   * the waiter woke: give it a moment */
  for (int i = 0; i < 1000 && !atomic_load(&fired); i++)
    usleep(1000);
  CHECK(atomic_load(&fired) == 1);
  /* on a future already done, the callback runs at once */
  atomic_int fired2 = 0;
  CHECK_RC(mef3_future_on_done(b, on_done, &fired2), 0);
  CHECK(atomic_load(&fired2) == 1);
  CHECK(atomic_load(&cb_calls) == 2);
  /* the event descriptor became readable */
  struct pollfd pfd = {mef3_pool_event_fd(p), POLLIN, 0};
  CHECK(poll(&pfd, 1, 0) == 1);
  mef3_future_free(a);
  mef3_future_free(b);
  mef3_pool_free(p);
}

static void test_warmup_and_two_pools(void) {
  pid_t kids[64];
  mef3_pool *fg = new_pool(2, "fg");
  mef3_pool *bg = new_pool(3, "bg");
  CHECK_RC(mef3_pool_warmup(fg, session, "ch01", -1), 0);
  CHECK_RC(mef3_pool_warmup(bg, session, "ch01", -1), 0);
  mef3_pool_stats a, b;
  mef3_pool_get_stats(&a, fg);
  mef3_pool_get_stats(&b, bg);
  CHECK(a.live_workers == 2);
  CHECK(b.live_workers == 3);
  /* five distinct worker processes: no worker is shared */
  CHECK(children(kids, 64) == 5);
  CHECK_RC(mef3_pool_warmup(fg, "/nonexistent.mefd", "x", -1), MEF3_ENOTFOUND);
  mef3_pool_free(fg);
  CHECK(children(kids, 64) == 3);
  mef3_pool_free(bg);
  CHECK(children(kids, 64) == 0);
}

static void test_worker_killed(void) {
  mef3_pool *p = new_pool(1, "crash");
  CHECK_RC(mef3_pool_warmup(p, session, "ch08", -1), 0);
  pid_t kids[8];
  REQUIRE(children(kids, 8) == 1);
  mef3_future *f = long_request(p, 20000);
  /* wait until the worker is busy with it, then kill it */
  mef3_pool_stats st;
  for (int i = 0; i < 2000; i++) {
    mef3_pool_get_stats(&st, p);
    if (st.busy_workers)
      break;
    usleep(500);
  }
  CHECK(st.busy_workers == 1);
  kill(kids[0], SIGKILL);
  CHECK_RC(mef3_future_wait(f, -1), 0);
  CHECK(mef3_future_status(f) == MEF3_EWORKER);
  CHECK_MSG(strstr(mef3_future_message(f), "signal 9") != NULL, "message: %s",
            mef3_future_message(f));
  mef3_future_free(f);
  /* the next read succeeds on a replacement worker */
  int64_t blk = 1;
  CHECK_RC(mef3_pool_submit_tiles(&f, p, session, "ch01", &blk, 1, 256.0,
                                  1600000000000000LL, 2560),
           0);
  mef3_future_wait(f, -1);
  CHECK_RC(mef3_future_status(f), 0);
  mef3_future_free(f);
  mef3_pool_get_stats(&st, p);
  CHECK(st.worker_restarts == 1);
  CHECK(st.live_workers == 1);
  pid_t now[8];
  CHECK(children(now, 8) == 1 && now[0] != kids[0]);
  mef3_pool_free(p);
}

static void test_shutdown_with_queue(void) {
  mef3_pool *p = new_pool(1, "shutdown");
  mef3_future *f[20];
  for (int i = 0; i < 20; i++)
    f[i] = long_request(p, 500);
  mef3_pool_free(p); /* the first runs to its end, the rest are canceled */
  int ok = 0, canceled = 0;
  for (int i = 0; i < 20; i++) {
    CHECK(mef3_future_done(f[i]));
    ok += mef3_future_status(f[i]) == 0;
    canceled += mef3_future_status(f[i]) == MEF3_ECANCELED;
    if (mef3_future_status(f[i]) == 0) /* results stay readable */
      CHECK(mef3_future_tiles(NULL, NULL, f[i]) != NULL);
    mef3_future_free(f[i]);
  }
  CHECK(ok + canceled == 20);
  CHECK(canceled >= 18);
}

typedef struct {
  mef3_pool *p;
  int id;
  int errors;
} hammer_arg;

static void *hammer(void *arg) {
  hammer_arg *h = arg;
  const char *chans[] = {"ch01", "ch02", "ch03", "ch04"};
  for (int i = 0; i < 40; i++) {
    mef3_future *f;
    int64_t blk = (h->id + i) % 7;
    int rc;
    if (i % 3 == 0)
      rc = mef3_pool_read_window(&f, h->p, session, chans, NULL, 4,
                                 1600000000000000LL + i * 100000,
                                 1600000001000000LL + i * 100000, 2);
    else
      rc = mef3_pool_submit_tiles(
          &f, h->p, i % 2 ? session : session2, "ch01", &blk, 1, 256.0,
          i % 2 ? 1600000000000000LL : 1600000000123456LL, 2560);
    if (rc) {
      h->errors++;
      continue;
    }
    if (i % 5 == 4 && mef3_future_cancel(f) == 0) {
      mef3_future_free(f);
      continue;
    }
    if (mef3_future_wait(f, -1) || mef3_future_status(f))
      h->errors++;
    if (i % 7 == 0) {
      char key[32];
      snprintf(key, sizeof key, "t%d-%d", h->id, i);
      mef3_pool_prefetch_chunk(h->p, key, session, chans, 2, 1600000000000000LL,
                               1600000002000000LL);
      mef3_future *c;
      if (mef3_pool_take_chunk(&c, h->p, key) == 0) {
        if (mef3_future_status(c))
          h->errors++;
        mef3_future_free(c);
      } else {
        h->errors++;
      }
    }
    mef3_future_free(f);
  }
  return NULL;
}

static void test_threads(void) {
  mef3_pool *p = new_pool(2, "threads");
  pthread_t t[8];
  hammer_arg a[8];
  for (int i = 0; i < 8; i++) {
    a[i] = (hammer_arg){p, i, 0};
    pthread_create(&t[i], NULL, hammer, &a[i]);
  }
  int errors = 0;
  for (int i = 0; i < 8; i++) {
    pthread_join(t[i], NULL);
    errors += a[i].errors;
  }
  CHECK(errors == 0);
  mef3_pool_stats st;
  mef3_pool_get_stats(&st, p);
  CHECK(st.failed == 0);
  CHECK(st.queue_depth == 0);
  mef3_pool_free(p);
}

/* Data files (.tdat) of `session_dir` that process `pid` holds open. */
static int open_data_files(pid_t pid, const char *session_dir) {
  char dir[64], link[4200], target[4096];
  snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  char real[4096];
  if (!realpath(session_dir, real))
    snprintf(real, sizeof real, "%s", session_dir);
  while (d && (e = readdir(d))) {
    snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
    ssize_t k = readlink(link, target, sizeof target - 1);
    if (k <= 0)
      continue;
    target[k] = '\0';
    n += strstr(target, real) == target && strstr(target, ".tdat") != NULL;
  }
  if (d)
    closedir(d);
  return n;
}

/* Readers are bounded per worker (LRU) and forgotten on request: watched
 * through the data files the worker process holds open. */
static void test_reader_bound_and_forget(void) {
  mef3_pool_options o = MEF3_POOL_OPTIONS_INIT;
  o.max_workers = 1;
  o.max_readers_per_worker = 1;
  mef3_pool *p = NULL;
  REQUIRE(mef3_pool_new(&p, &o) == 0);
  int64_t blk = 0;
  mef3_future *f;
  CHECK_RC(mef3_pool_submit_tiles(&f, p, session, "ch01", &blk, 1, 256.0,
                                  1600000000000000LL, 256),
           0);
  mef3_future_wait(f, -1);
  CHECK_RC(mef3_future_status(f), 0);
  mef3_future_free(f);
  pid_t w[4];
  REQUIRE(children(w, 4) == 1);
  CHECK(open_data_files(w[0], session) == 1);
  CHECK(open_data_files(w[0], session2) == 0);
  /* a second file: with room for one reader, the first is closed */
  CHECK_RC(mef3_pool_submit_tiles(&f, p, session2, "ch01", &blk, 1, 256.0,
                                  1600000000123456LL, 256),
           0);
  mef3_future_wait(f, -1);
  CHECK_RC(mef3_future_status(f), 0);
  mef3_future_free(f);
  CHECK(open_data_files(w[0], session) == 0);
  CHECK(open_data_files(w[0], session2) == 1);
  mef3_pool_free(p);

  /* forget: with room for both readers, only the forget closes one (the
   * message is handled before the next request, which makes the check
   * deterministic) */
  o.max_readers_per_worker = 4;
  REQUIRE(mef3_pool_new(&p, &o) == 0);
  const char *paths[2] = {session, session2};
  int64_t starts[2] = {1600000000000000LL, 1600000000123456LL};
  for (int i = 0; i < 3; i++) {
    CHECK_RC(mef3_pool_submit_tiles(&f, p, paths[i % 2], "ch01", &blk, 1,
                                    256.0, starts[i % 2], 256),
             0);
    mef3_future_wait(f, -1);
    CHECK_RC(mef3_future_status(f), 0);
    mef3_future_free(f);
    if (i == 1) {
      REQUIRE(children(w, 4) == 1);
      CHECK(open_data_files(w[0], session) == 1);
      CHECK(open_data_files(w[0], session2) == 1);
      CHECK_RC(mef3_pool_forget(p, session2), 0);
    }
  }
  CHECK(open_data_files(w[0], session2) == 0);
  CHECK(open_data_files(w[0], session) == 1);
  mef3_pool_free(p);
}

/* A host that exits without mef3_pool_free leaves no worker behind: the
 * workers see their sockets close and exit. */
static void test_owner_exits_without_shutdown(void) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(fds[0]);
    mef3_pool *p = new_pool(2, "orphan");
    if (mef3_pool_warmup(p, session, "ch01", 10000) != 0)
      _exit(3);
    pid_t w[4];
    int n = children(w, 4);
    if (write(fds[1], &n, sizeof n) != sizeof n ||
        write(fds[1], w, sizeof w) != sizeof w)
      _exit(4);
    _exit(0); /* no mef3_pool_free */
  }
  close(fds[1]);
  int n = 0;
  pid_t w[4] = {0};
  CHECK(read(fds[0], &n, sizeof n) == sizeof n);
  CHECK(read(fds[0], w, sizeof w) == sizeof w);
  close(fds[0]);
  int st = 0;
  waitpid(child, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK(n == 2);
  /* orphaned workers are re-parented and reaped by init once they exit */
  for (int i = 0; i < n && i < 4; i++) {
    int gone = 0;
    for (int t = 0; t < 5000 && !gone; t++) {
      gone = kill(w[i], 0) != 0;
      if (!gone) {
        char path[64], buf[256] = "";
        snprintf(path, sizeof path, "/proc/%d/stat", (int)w[i]);
        FILE *f = fopen(path, "r");
        if (f) {
          size_t k = fread(buf, 1, sizeof buf - 1, f);
          buf[k] = '\0';
          fclose(f);
        }
        char *rp = strrchr(buf, ')');
        gone = !f || (rp && rp[2] == 'Z'); /* exited, awaiting reaping */
        if (!gone)
          usleep(1000);
      }
    }
    CHECK_MSG(gone, "worker %d still runs after its host exited", (int)w[i]);
  }
}

/* A mapped file whose path holds "mef3pool-" (a checkout unpacked as
 * mef3pool-1.0/) is not pool shared memory: the leak count must not see it. */
static void test_leak_count_ignores_paths(void) {
  char path[4096];
  snprintf(path, sizeof path, "%s/mef3pool-decoy", tu_scratch("mef3pool-1.0 x"));
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(ftruncate(fd, 4096) == 0);
  void *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  REQUIRE(m != MAP_FAILED);
  CHECK_MSG(tu_memfd_maps() == 0, "%d counted", tu_memfd_maps());
  munmap(m, 4096);
}

int main(int argc, char **argv) {
  if (!tu_have_golden()) {
    printf("golden data missing: %s\n", MEF3_GOLDEN_DIR);
    return 1;
  }
  session = tu_golden("sessions/b_multi_8ch.mefd");
  static char s2[4096];
  snprintf(s2, sizeof s2, "%s", tu_golden("sessions/a_single_256hz.mefd"));
  session2 = s2;
  static char s1[4096];
  snprintf(s1, sizeof s1, "%s", session);
  session = s1;
  test_leak_count_ignores_paths();
  int fds0 = tu_fds(NULL);

  static const check_case cases[] = {
      CASE(test_tiles_match_in_process),
      CASE(test_window),
      CASE(test_window_rates),
      CASE(test_prefetch),
      CASE(test_cancel_timeout_callbacks),
      CASE(test_warmup_and_two_pools),
      CASE(test_worker_killed),
      CASE(test_shutdown_with_queue),
      CASE(test_threads),
      CASE(test_reader_bound_and_forget),
      CASE(test_owner_exits_without_shutdown),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);

  /* nothing left behind */
  pid_t kids[8];
  CHECK(children(kids, 8) == 0);
  CHECK_MSG(tu_fds(NULL) == fds0, "%d descriptors open, %d at start",
            tu_fds(NULL), fds0);
  CHECK(tu_memfd_maps() == 0);
  return check_finish();
}
