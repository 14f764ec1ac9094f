/*
 * test_util_strmap - the string-keyed hash map of util/strmap.c.
 *
 * 1. Basics: an empty map, put / get / replace (the old value comes
 *    back), keys copied, the empty key, delete and put again.
 * 2. 200,000 random puts, replaces and deletes over 700 keys against a
 *    plain array model: every get agrees, the count of live keys agrees,
 *    and iteration visits each live key exactly once.
 * 3. Tombstones: 100,000 keys put and deleted with at most 8 alive at a
 *    time leave the table small (deleted slots are reclaimed, it does not
 *    grow without bound).
 * 4. Out of memory at each allocation of a run of puts (through the
 *    allocator hook): put says MEF3_ENOMEM, the keys already in stay
 *    there, nothing leaks (ASan).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "util/strmap.h"

#define V(i) ((void *)(uintptr_t)((i) + 1))

static uint64_t rng = 0x853C49E6748FEA9Bull;
static uint32_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}

/* The allocator hook: fail the allocation numbered `fail_at` (1-based;
 * 0 never). */
static long n_allocs, fail_at;
static int should_fail(void) { return ++n_allocs == fail_at; }
static void *t_malloc(size_t n, void *p) {
  (void)p;
  return should_fail() ? NULL : malloc(n);
}
static void *t_realloc(void *q, size_t n, void *p) {
  (void)p;
  return should_fail() ? NULL : realloc(q, n);
}
static void t_free(void *q, void *p) {
  (void)p;
  free(q);
}

static void basics(void) {
  mef3__strmap m = {0};
  CHECK(mef3__strmap_get(&m, "x") == NULL);
  CHECK(mef3__strmap_del(&m, "x") == NULL);
  size_t it = 0;
  const char *k;
  void *v;
  CHECK(mef3__strmap_next(&m, &it, &k, &v) == 0);

  void *old = V(99);
  CHECK(mef3__strmap_put(&m, "a", V(1), &old) == 0 && old == NULL);
  CHECK(mef3__strmap_put(&m, "a", V(2), &old) == 0 && old == V(1));
  CHECK(mef3__strmap_put(&m, "a", V(3), NULL) == 0);
  CHECK(mef3__strmap_get(&m, "a") == V(3) && m.used == 1);

  char key[16] = "copied";
  CHECK(mef3__strmap_put(&m, key, V(4), NULL) == 0);
  memset(key, 'z', 6);
  CHECK(mef3__strmap_get(&m, "copied") == V(4));
  CHECK(mef3__strmap_get(&m, key) == NULL);

  CHECK(mef3__strmap_put(&m, "", V(5), NULL) == 0);
  CHECK(mef3__strmap_get(&m, "") == V(5));
  /* Prefixes are other keys. */
  CHECK(mef3__strmap_get(&m, "cop") == NULL &&
        mef3__strmap_get(&m, "copied ") == NULL);

  CHECK(mef3__strmap_del(&m, "a") == V(3));
  CHECK(mef3__strmap_get(&m, "a") == NULL && mef3__strmap_del(&m, "a") == NULL);
  CHECK(mef3__strmap_put(&m, "a", V(6), &old) == 0 && old == NULL);
  CHECK(mef3__strmap_get(&m, "a") == V(6) && m.used == 3);
  mef3__strmap_dispose(&m);
  CHECK(m.cap == 0 && m.used == 0 && m.slots == NULL);
  mef3__strmap_dispose(&m); /* twice is fine */
}

static void against_model(void) {
  enum { KEYS = 700, OPS = 200000 };
  static void *model[KEYS];
  char name[32];
  mef3__strmap m = {0};
  size_t live = 0, bad_get = 0, bad_old = 0;
  for (long op = 0; op < OPS; op++) {
    size_t i = rnd() % KEYS;
    snprintf(name, sizeof name, "key-%zu/%zu", i, i * 7919);
    switch (rnd() % 4) {
    case 0:
    case 1: {
      void *old, *nv = V(rnd());
      REQUIRE(mef3__strmap_put(&m, name, nv, &old) == 0);
      bad_old += old != model[i];
      live += model[i] == NULL;
      model[i] = nv;
      break;
    }
    case 2:
      bad_old += mef3__strmap_del(&m, name) != model[i];
      live -= model[i] != NULL;
      model[i] = NULL;
      break;
    default:
      bad_get += mef3__strmap_get(&m, name) != model[i];
    }
  }
  CHECK_MSG(bad_get == 0 && bad_old == 0, "%zu gets and %zu old values wrong",
            bad_get, bad_old);
  CHECK(m.used == live);
  /* Iteration: each live key once, with its value. */
  static int seen[KEYS];
  size_t it = 0, visited = 0, bad = 0;
  const char *k;
  void *v;
  while (mef3__strmap_next(&m, &it, &k, &v)) {
    size_t i, j;
    if (sscanf(k, "key-%zu/%zu", &i, &j) != 2 || i >= KEYS || seen[i]++ ||
        model[i] != v)
      bad++;
    visited++;
  }
  CHECK_MSG(visited == live && bad == 0, "visited %zu of %zu, %zu wrong",
            visited, live, bad);
  mef3__strmap_dispose(&m);
}

static void tombstones(void) {
  mef3__strmap m = {0};
  char name[32];
  for (long i = 0; i < 100000; i++) {
    snprintf(name, sizeof name, "t%ld", i);
    REQUIRE(mef3__strmap_put(&m, name, V(i), NULL) == 0);
    if (i >= 8) {
      snprintf(name, sizeof name, "t%ld", i - 8);
      CHECK(mef3__strmap_del(&m, name) == V(i - 8));
    }
  }
  CHECK(m.used == 8);
  CHECK_MSG(m.cap <= 64, "%zu slots for 8 keys", m.cap);
  for (long i = 100000 - 8; i < 100000; i++) {
    snprintf(name, sizeof name, "t%ld", i);
    CHECK(mef3__strmap_get(&m, name) == V(i));
  }
  mef3__strmap_dispose(&m);
}

static void out_of_memory(void) {
  enum { PUTS = 200 };
  char name[32];
  /* Count the allocations of the whole run first. */
  fail_at = 0;
  n_allocs = 0;
  mef3__strmap m = {0};
  for (int i = 0; i < PUTS; i++) {
    snprintf(name, sizeof name, "oom%d", i);
    REQUIRE(mef3__strmap_put(&m, name, V(i), NULL) == 0);
  }
  mef3__strmap_dispose(&m);
  long total = n_allocs;
  CHECK(total > PUTS);
  size_t bad = 0;
  for (long f = 1; f <= total; f++) {
    fail_at = f;
    n_allocs = 0;
    memset(&m, 0, sizeof m);
    int failed_at = -1;
    for (int i = 0; i < PUTS && failed_at < 0; i++) {
      snprintf(name, sizeof name, "oom%d", i);
      int rc = mef3__strmap_put(&m, name, V(i), NULL);
      if (rc) {
        bad += rc != MEF3_ENOMEM || mef3__strmap_get(&m, name) != NULL;
        failed_at = i;
      }
    }
    bad += failed_at < 0;
    for (int i = 0; i < failed_at; i++) {
      snprintf(name, sizeof name, "oom%d", i);
      bad += mef3__strmap_get(&m, name) != V(i);
    }
    bad += m.used != (size_t)(failed_at < 0 ? PUTS : failed_at);
    mef3__strmap_dispose(&m);
  }
  fail_at = 0;
  CHECK_MSG(bad == 0, "%zu wrong results over %ld failure points", bad, total);
}

int main(int argc, char **argv) {
  mef3_allocator a = MEF3_ALLOCATOR_INIT;
  a.malloc_fn = t_malloc;
  a.realloc_fn = t_realloc;
  a.free_fn = t_free;
  REQUIRE(mef3_set_allocator(&a) == 0);
  static const check_case cases[] = {
      CASE(basics),
      CASE(against_model),
      CASE(tombstones),
      CASE(out_of_memory),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  REQUIRE(mef3_set_allocator(NULL) == 0);
  return check_finish();
}
