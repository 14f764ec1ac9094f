/*
 * tests/files/test_files_cache.c - the file manager's tile cache on its own:
 * hits, claims and waits; LRU eviction order under a byte budget shared
 * by files; the tile larger than the budget; idle expiry with an injected
 * clock; dropping one file's tiles; pinned tiles outliving eviction; one
 * decode for many waiting threads; the prefetch accounting.
 */
#include <math.h>
#include <pthread.h>
#include <unistd.h>

#include "check.h"
#include "files/tile_cache.h"

static int64_t fake_now;
static int64_t fake_clock(void *payload) {
  (void)payload;
  return __atomic_load_n(&fake_now, __ATOMIC_SEQ_CST);
}
static void set_clock(int64_t v) {
  __atomic_store_n(&fake_now, v, __ATOMIC_SEQ_CST);
}

static float *filled(size_t n, float v) {
  float *p = malloc(n * sizeof *p);
  for (size_t i = 0; i < n; i++)
    p[i] = v;
  return p;
}

static mef3__tcache_key key(uint64_t f, uint32_t ch, int64_t idx) {
  return (mef3__tcache_key){f, ch, idx};
}

/* Load one tile of n floats of value v through claim + publish. */
static void put(mef3__tcache *c, uint64_t f, uint32_t ch, int64_t idx, size_t n,
                float v) {
  mef3__tcache_key k = key(f, ch, idx);
  mef3__tile *t;
  mef3__acq a;
  REQUIRE(mef3__tcache_acquire(c, &k, 1, NULL, &t, &a, NULL, 1) == 0);
  REQUIRE(a == MEF3__ACQ_CLAIMED);
  mef3__tcache_publish(c, t, filled(n, v), n, 0);
  mef3__tcache_unpin(c, t);
}

/* Touch a tile (a read that finds it). */
static int get(mef3__tcache *c, uint64_t f, uint32_t ch, int64_t idx,
               float *first) {
  mef3__tcache_key k = key(f, ch, idx);
  mef3__tile *t;
  mef3__acq a;
  REQUIRE(mef3__tcache_acquire(c, &k, 1, NULL, &t, &a, NULL, 1) == 0);
  if (a != MEF3__ACQ_HIT) { /* we claimed it: give it back */
    mef3__tcache_fail(c, t);
    mef3__tcache_unpin(c, t);
    return 0;
  }
  if (first)
    *first = t->data[0];
  mef3__tcache_unpin(c, t);
  return 1;
}

static int has(mef3__tcache *c, uint64_t f, uint32_t ch, int64_t idx) {
  mef3__tcache_key k = key(f, ch, idx);
  return mef3__tcache_contains(c, &k);
}

static void test_basics(void) {
  mef3__tcache c;
  CHECK_RC(mef3__tcache_init(&c, 0, 0, NULL, NULL), MEF3_EINVAL);
  CHECK_RC(mef3__tcache_init(&c, -5, 0, NULL, NULL), MEF3_EINVAL);
  REQUIRE(mef3__tcache_init(&c, 10000, 0, NULL, NULL) == 0);
  mef3__tcache_file_add(&c, 1);
  float v = 0;
  CHECK(!get(&c, 1, 0, 0, NULL)); /* a miss */
  CHECK(!has(&c, 1, 0, 0));       /* and the failed claim left nothing */
  put(&c, 1, 0, 0, 4, 2.5f);
  CHECK(has(&c, 1, 0, 0));
  CHECK(get(&c, 1, 0, 0, &v) && v == 2.5f);
  /* a tile with a gap: present, and its NaN kept */
  mef3__tcache_key k = key(1, 0, 1);
  mef3__tile *t;
  mef3__acq a;
  REQUIRE(mef3__tcache_acquire(&c, &k, 1, NULL, &t, &a, NULL, 1) == 0);
  float *d = filled(4, 1.0f);
  d[1] = d[2] = NAN;
  mef3__tcache_publish(&c, t, d, 4, 0);
  mef3__tcache_unpin(&c, t);
  REQUIRE(mef3__tcache_acquire(&c, &k, 1, NULL, &t, &a, NULL, 1) == 0);
  CHECK(a == MEF3__ACQ_HIT && isnan(t->data[1]) && isnan(t->data[2]) &&
        t->data[3] == 1.0f);
  mef3__tcache_unpin(&c, t);
  /* negative tile indices and large channel numbers are plain keys */
  put(&c, 1, 70000, -3, 4, 7.0f);
  CHECK(has(&c, 1, 70000, -3) && !has(&c, 1, 70000, 3));
  mef3_files_stats st;
  memset(&st, 0, sizeof st);
  mef3__tcache_stats(&c, &st);
  CHECK(st.tiles == 3 && st.bytes == 3 * 4 * sizeof(float));
  CHECK(st.hits == 2);
  CHECK(st.misses == 4); /* the failed get and the three puts */
  /* a file that is not registered: claims are private, nothing cached */
  put(&c, 99, 0, 0, 4, 1.0f);
  CHECK(!has(&c, 99, 0, 0));
  mef3__tcache_stats(&c, &st);
  CHECK(st.tiles == 3);
  mef3__tcache_dispose(&c);
}

static void test_lru_order(void) {
  mef3__tcache c;
  /* each tile: 4 floats = 16 bytes; the budget holds two */
  REQUIRE(mef3__tcache_init(&c, 32, 0, NULL, NULL) == 0);
  mef3__tcache_file_add(&c, 1);
  mef3__tcache_file_add(&c, 2);
  put(&c, 1, 0, 0, 4, 0);
  put(&c, 1, 0, 1, 4, 1);
  mef3_files_stats st;
  mef3__tcache_stats(&c, &st);
  CHECK(st.tiles == 2 && st.bytes == 32 && st.evictions == 0);
  CHECK(get(&c, 1, 0, 0, NULL)); /* tile 1 is now the least recent */
  put(&c, 1, 0, 2, 4, 2);
  CHECK(has(&c, 1, 0, 0));
  CHECK(!has(&c, 1, 0, 1));
  CHECK(has(&c, 1, 0, 2));
  mef3__tcache_stats(&c, &st);
  CHECK(st.bytes == 32 && st.evictions == 1);
  /* the budget is shared: another file's tile evicts the oldest (0) */
  put(&c, 2, 0, 0, 4, 3);
  CHECK(!has(&c, 1, 0, 0) && has(&c, 1, 0, 2) && has(&c, 2, 0, 0));
  /* a bigger tile evicts as many as it needs, oldest first */
  put(&c, 2, 1, 0, 8, 4); /* 32 bytes: everything else goes */
  CHECK(!has(&c, 1, 0, 2) && !has(&c, 2, 0, 0) && has(&c, 2, 1, 0));
  mef3__tcache_stats(&c, &st);
  CHECK(st.evictions == 4 && st.tiles == 1 && st.bytes == 32);
  mef3__tcache_dispose(&c);
}

static void test_oversized(void) {
  mef3__tcache c;
  REQUIRE(mef3__tcache_init(&c, 16, 0, NULL, NULL) == 0);
  mef3__tcache_file_add(&c, 1);
  put(&c, 1, 0, 0, 4, 1); /* 16 bytes: fits exactly */
  /* 400 bytes can never fit: not cached, evicts nothing, but the loader
   * and anyone waiting for it still get its samples */
  mef3__tcache_key k = key(1, 0, 1);
  mef3__tile *t, *w;
  mef3__acq a, b;
  REQUIRE(mef3__tcache_acquire(&c, &k, 1, NULL, &t, &a, NULL, 1) == 0);
  REQUIRE(mef3__tcache_acquire(&c, &k, 1, NULL, &w, &b, NULL, 1) == 0);
  CHECK(a == MEF3__ACQ_CLAIMED && b == MEF3__ACQ_WAIT && t == w);
  mef3__tcache_publish(&c, t, filled(100, 9.0f), 100, 0);
  CHECK(mef3__tcache_wait(&c, w) == MEF3__TILE_READY);
  CHECK(w->n == 100 && w->data[99] == 9.0f);
  mef3__tcache_unpin(&c, w);
  mef3__tcache_unpin(&c, t);
  CHECK(!has(&c, 1, 0, 1));
  CHECK(has(&c, 1, 0, 0));
  mef3_files_stats st;
  mef3__tcache_stats(&c, &st);
  CHECK(st.evictions == 0 && st.bytes == 16 && st.tiles == 1);
  mef3__tcache_dispose(&c);
}

static void test_ttl(void) {
  mef3__tcache c;
  set_clock(1000);
  REQUIRE(mef3__tcache_init(&c, 10000, 100, fake_clock, NULL) == 0);
  mef3__tcache_file_add(&c, 1);
  put(&c, 1, 0, 0, 4, 0);
  put(&c, 1, 0, 1, 4, 1);
  set_clock(1050);
  CHECK(mef3__tcache_expire(&c) == 0);
  CHECK(get(&c, 1, 0, 1, NULL)); /* an access restarts its idle time */
  set_clock(1120);
  CHECK(mef3__tcache_expire(&c) == 1); /* tile 0: idle 120 ms > 100 */
  CHECK(!has(&c, 1, 0, 0) && has(&c, 1, 0, 1));
  set_clock(1149);
  CHECK(mef3__tcache_expire(&c) == 0); /* tile 1: idle 99 ms */
  set_clock(1151);
  CHECK(mef3__tcache_expire(&c) == 1);
  mef3_files_stats st;
  mef3__tcache_stats(&c, &st);
  CHECK(st.expirations == 2 && st.bytes == 0 && st.tiles == 0);
  CHECK(st.evictions == 0);
  mef3__tcache_dispose(&c);
  /* ttl 0: nothing ever expires */
  REQUIRE(mef3__tcache_init(&c, 10000, 0, fake_clock, NULL) == 0);
  mef3__tcache_file_add(&c, 1);
  put(&c, 1, 0, 0, 4, 0);
  set_clock(INT64_MAX / 2);
  CHECK(mef3__tcache_expire(&c) == 0 && has(&c, 1, 0, 0));
  mef3__tcache_dispose(&c);
}

static void test_file_drop(void) {
  mef3__tcache c;
  REQUIRE(mef3__tcache_init(&c, 10000, 0, NULL, NULL) == 0);
  mef3__tcache_file_add(&c, 1);
  mef3__tcache_file_add(&c, 2);
  put(&c, 1, 0, 0, 4, 0);
  put(&c, 1, 1, 0, 4, 0);
  put(&c, 2, 0, 0, 4, 0);
  /* a tile of file 1 being loaded while the file goes */
  mef3__tcache_key k = key(1, 0, 5);
  mef3__tile *t, *w;
  mef3__acq a;
  REQUIRE(mef3__tcache_acquire(&c, &k, 1, NULL, &t, &a, NULL, 1) == 0);
  REQUIRE(mef3__tcache_acquire(&c, &k, 1, NULL, &w, &a, NULL, 1) == 0);
  CHECK(a == MEF3__ACQ_WAIT);
  CHECK(mef3__tcache_file_drop(&c, 1) == 2);
  CHECK(!has(&c, 1, 0, 0) && !has(&c, 1, 1, 0) && has(&c, 2, 0, 0));
  mef3__tcache_publish(&c, t, filled(4, 5.0f), 4, 0);
  CHECK(mef3__tcache_wait(&c, w) == MEF3__TILE_READY && w->data[0] == 5.0f);
  mef3__tcache_unpin(&c, w);
  mef3__tcache_unpin(&c, t);
  CHECK(!has(&c, 1, 0, 5)); /* the orphan was not cached */
  mef3_files_stats st;
  mef3__tcache_stats(&c, &st);
  CHECK(st.tiles == 1 && st.bytes == 16);
  /* new claims for the dropped file stay private */
  put(&c, 1, 0, 0, 4, 0);
  CHECK(!has(&c, 1, 0, 0));
  mef3__tcache_dispose(&c);
}

static void test_pinned_outlives_eviction(void) {
  mef3__tcache c;
  REQUIRE(mef3__tcache_init(&c, 16, 0, NULL, NULL) == 0);
  mef3__tcache_file_add(&c, 1);
  put(&c, 1, 0, 0, 4, 3.0f);
  mef3__tcache_key k = key(1, 0, 0);
  mef3__tile *t;
  mef3__acq a;
  REQUIRE(mef3__tcache_acquire(&c, &k, 1, NULL, &t, &a, NULL, 1) == 0);
  CHECK(a == MEF3__ACQ_HIT);
  put(&c, 1, 0, 1, 4, 4.0f); /* evicts tile 0 while it is pinned */
  CHECK(!has(&c, 1, 0, 0));
  CHECK(t->data[3] == 3.0f); /* still readable (ASan would object) */
  mef3__tcache_unpin(&c, t);
  mef3__tcache_dispose(&c);
}

/* Many threads want one missing tile: one decodes, the others wait. */
typedef struct {
  mef3__tcache *c;
  int claimed;
  float value;
} racer;

static void *race(void *arg) {
  racer *r = arg;
  mef3__tcache_key k = key(1, 0, 42);
  mef3__tile *t;
  mef3__acq a;
  if (mef3__tcache_acquire(r->c, &k, 1, NULL, &t, &a, NULL, 1) != 0)
    return NULL;
  if (a == MEF3__ACQ_CLAIMED) {
    r->claimed = 1;
    usleep(20000); /* a slow decode: the others arrive meanwhile */
    mef3__tcache_publish(r->c, t, filled(8, 42.0f), 8, 0);
  } else if (a == MEF3__ACQ_WAIT) {
    mef3__tcache_wait(r->c, t);
  }
  r->value = t->data[7];
  mef3__tcache_unpin(r->c, t);
  return NULL;
}

static void test_one_decode_many_waiters(void) {
  mef3__tcache c;
  REQUIRE(mef3__tcache_init(&c, 1 << 20, 0, NULL, NULL) == 0);
  mef3__tcache_file_add(&c, 1);
  enum { N = 8 };
  pthread_t th[N];
  racer r[N];
  for (int i = 0; i < N; i++) {
    r[i] = (racer){&c, 0, 0};
    pthread_create(&th[i], NULL, race, &r[i]);
  }
  int claimed = 0;
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    claimed += r[i].claimed;
    CHECK(r[i].value == 42.0f);
  }
  CHECK(claimed == 1);
  mef3_files_stats st;
  mef3__tcache_stats(&c, &st);
  CHECK(st.misses == 1 && st.hits + st.waits == N - 1);
  mef3__tcache_dispose(&c);
}

/* A failed load: the waiter wakes and claims the tile itself. */
static void test_failed_load(void) {
  mef3__tcache c;
  REQUIRE(mef3__tcache_init(&c, 1 << 20, 0, NULL, NULL) == 0);
  mef3__tcache_file_add(&c, 1);
  mef3__tcache_key k = key(1, 0, 0);
  mef3__tile *t, *w;
  mef3__acq a, b;
  mef3__tile_owner owner;
  atomic_init(&owner.refs, 1);
  mef3__tile_owner *seen = NULL;
  REQUIRE(mef3__tcache_acquire(&c, &k, 1, &owner, &t, &a, NULL, 0) == 0);
  REQUIRE(mef3__tcache_acquire(&c, &k, 1, NULL, &w, &b, &seen, 1) == 0);
  CHECK(b == MEF3__ACQ_WAIT && seen == &owner);
  CHECK(atomic_load(&owner.refs) == 2); /* the waiter's reference */
  mef3__tcache_fail(&c, t);
  mef3__tcache_unpin(&c, t);
  CHECK(mef3__tcache_wait(&c, w) == MEF3__TILE_FAILED);
  mef3__tcache_unpin(&c, w);
  CHECK(!has(&c, 1, 0, 0));
  REQUIRE(mef3__tcache_acquire(&c, &k, 1, NULL, &w, &b, NULL, 1) == 0);
  CHECK(b == MEF3__ACQ_CLAIMED);
  mef3__tcache_publish(&c, w, filled(4, 1), 4, 0);
  mef3__tcache_unpin(&c, w);
  CHECK(has(&c, 1, 0, 0));
  mef3__tcache_dispose(&c);
}

static void test_prefetch_accounting(void) {
  mef3__tcache c;
  REQUIRE(mef3__tcache_init(&c, 48, 0, NULL, NULL) == 0);
  mef3__tcache_file_add(&c, 1);
  mef3__tile_owner owner;
  atomic_init(&owner.refs, 1);
  /* tile 0 cached by a read; claim 0..2 for prefetch: 0 is skipped */
  put(&c, 1, 0, 0, 4, 0);
  mef3__tcache_key ks[3] = {key(1, 0, 0), key(1, 0, 1), key(1, 0, 2)};
  mef3__tile *t[3];
  size_t which[3], n = 0;
  REQUIRE(mef3__tcache_claim(&c, ks, 3, &owner, t, which, &n) == 0);
  CHECK(n == 2 && which[0] == 1 && which[1] == 2);
  /* claiming again while in flight: nothing */
  mef3__tile *t2[3];
  size_t n2 = 9;
  REQUIRE(mef3__tcache_claim(&c, ks, 3, &owner, t2, which, &n2) == 0);
  CHECK(n2 == 0);
  for (size_t i = 0; i < n; i++) {
    mef3__tcache_publish(&c, t[i], filled(4, 1), 4, 1);
    mef3__tcache_unpin(&c, t[i]);
  }
  CHECK(get(&c, 1, 0, 1, NULL)); /* used */
  put(&c, 1, 0, 3, 4, 0);        /* evicts tile 0 (read), then 2 */
  put(&c, 1, 0, 4, 4, 0);
  mef3_files_stats st;
  mef3__tcache_stats(&c, &st);
  CHECK(st.prefetched == 2);
  CHECK(st.prefetch_used == 1);
  CHECK(st.prefetch_wasted == 1);
  CHECK(!has(&c, 1, 0, 2));
  mef3__tcache_dispose(&c);
}

int main(int argc, char **argv) {
  static const check_case cases[] = {
      CASE(test_basics),
      CASE(test_lru_order),
      CASE(test_oversized),
      CASE(test_ttl),
      CASE(test_file_drop),
      CASE(test_pinned_outlives_eviction),
      CASE(test_one_decode_many_waiters),
      CASE(test_failed_load),
      CASE(test_prefetch_accounting),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  return check_finish();
}
