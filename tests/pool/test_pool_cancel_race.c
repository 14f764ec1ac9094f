/*
 * tests/pool/test_pool_cancel_race.c - mef3_future_cancel racing with the
 * completion of the same future on the pool's service thread.
 *
 * pool.h promises that any number of threads may submit, wait, cancel and
 * free at once.  The file manager cancels queued prefetch requests from
 * reader threads while the service thread completes them.  future_complete
 * used to clear f->pool under the pool lock while mef3_future_cancel read
 * it without one: a data race that ThreadSanitizer reports (this test
 * fails under -DMEF3_TSAN=ON without the fix), and a use-after-free in the
 * making had the pool been freed in between.  The outcome of each race is
 * checked too: a future either completes normally or is canceled, never
 * both, and every callback runs exactly once.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "check.h"
#include "testutil.h"

typedef struct {
  pthread_mutex_t mu; /* keeps f alive while the canceller uses it */
  mef3_future *f;
  atomic_int stop;
  atomic_int cancels;
} canceller;

static void *cancel_loop(void *p) {
  canceller *c = p;
  while (!atomic_load(&c->stop)) {
    pthread_mutex_lock(&c->mu);
    if (c->f && mef3_future_cancel(c->f) == 0)
      atomic_fetch_add(&c->cancels, 1);
    pthread_mutex_unlock(&c->mu);
  }
  return NULL;
}

static atomic_int callbacks;
static void on_done(mef3_future *f, void *payload) {
  (void)f;
  (void)payload;
  atomic_fetch_add(&callbacks, 1);
}

int main(void) {
  if (!tu_have_golden()) {
    printf("no golden data; skipped\n");
    return 0;
  }
  const char *path = tu_golden("sessions/a_single_256hz.mefd");
  mef3_pool_options o = MEF3_POOL_OPTIONS_INIT;
  o.max_workers = 1;
  mef3_pool *p;
  REQUIRE(mef3_pool_new(&p, &o) == 0);
  canceller c;
  pthread_mutex_init(&c.mu, NULL);
  c.f = NULL;
  atomic_init(&c.stop, 0);
  atomic_init(&c.cancels, 0);
  pthread_t th;
  pthread_create(&th, NULL, cancel_loop, &c);
  enum { N = 300 };
  int ok = 0, canceled = 0, other = 0;
  for (int i = 0; i < N; i++) {
    mef3_future *f;
    int64_t b = i % 18;
    REQUIRE(mef3_pool_submit_tiles(&f, p, path, "ch01", &b, 1, 256.0,
                                   1600000000123456LL, 2560) == 0);
    CHECK_RC(mef3_future_on_done(f, on_done, NULL), 0);
    pthread_mutex_lock(&c.mu);
    c.f = f;
    pthread_mutex_unlock(&c.mu);
    mef3_future_wait(f, -1);
    pthread_mutex_lock(&c.mu);
    c.f = NULL;
    pthread_mutex_unlock(&c.mu);
    int st = mef3_future_status(f);
    ok += st == 0;
    canceled += st == MEF3_ECANCELED;
    other += st != 0 && st != MEF3_ECANCELED;
    if (st == 0)
      CHECK(mef3_future_tiles(NULL, NULL, f) != NULL);
    mef3_future_free(f);
  }
  atomic_store(&c.stop, 1);
  pthread_join(th, NULL);
  CHECK(ok + canceled == N && other == 0);
  CHECK(canceled == atomic_load(&c.cancels));
  CHECK(atomic_load(&callbacks) == N);
  printf("%d completed, %d canceled\n", ok, canceled);
  mef3_pool_free(p);
  return check_finish();
}
