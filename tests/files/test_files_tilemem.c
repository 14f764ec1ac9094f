/*
 * tests/files/test_files_tilemem.c - the reserve of touched tile buffers
 * (files/tilemem.h): buffers of the size asked for, from the reserve once
 * the thread has filled it; another size switches the reserve; no reserve
 * when off; destroy while the thread refills; many threads taking at
 * once (TSan); every buffer freed (ASan).
 */
#include <pthread.h>
#include <time.h>

#include "check.h"
#include "files/tilemem.h"
#include "util/alloc.h"

static void sleep_ms(int ms) {
  struct timespec t = {0, (long)ms * 1000000};
  nanosleep(&t, NULL);
}

/* Wait (up to 10 s) until the reserve holds at least `n` buffers. */
static int wait_ready(mef3__tilemem *tm, size_t n) {
  for (int i = 0; i < 1000; i++) {
    pthread_mutex_lock(&tm->mu);
    size_t r = tm->n_ready;
    pthread_mutex_unlock(&tm->mu);
    if (r >= n)
      return 1;
    sleep_ms(10);
  }
  return 0;
}

static void test_reserve(void) {
  mef3__tilemem tm;
  mef3__tilemem_init(&tm, 40 * 1000 * sizeof(float)); /* 40 buffers */
  float *a = mef3__tilemem_get(&tm, 1000); /* first get: a miss */
  REQUIRE(a);
  a[0] = a[999] = 1.0f;
  CHECK(tm.missed == 1 && tm.taken == 0);
  CHECK(wait_ready(&tm, 40));
  float *b[10];
  for (int i = 0; i < 10; i++) {
    b[i] = mef3__tilemem_get(&tm, 1000);
    REQUIRE(b[i]);
    b[i][999] = 2.0f; /* the full size is usable */
  }
  CHECK(tm.taken == 10);
  /* another size once: allocated apart, the reserve stays */
  float *c = mef3__tilemem_get(&tm, 3000);
  REQUIRE(c);
  c[2999] = 3.0f;
  CHECK(tm.missed == 2);
  pthread_mutex_lock(&tm.mu);
  CHECK(tm.n_floats == 1000 && tm.n_ready > 0);
  pthread_mutex_unlock(&tm.mu);
  mef3__free(c);
  /* the eighth in a row (this one) switches the reserve to the new size */
  for (int i = 0; i < 6; i++)
    mef3__free(mef3__tilemem_get(&tm, 3000));
  c = mef3__tilemem_get(&tm, 3000);
  REQUIRE(c);
  c[2999] = 3.0f;
  CHECK(tm.missed == 9);
  CHECK(wait_ready(&tm, 13)); /* 40000 floats / 3000 */
  pthread_mutex_lock(&tm.mu);
  CHECK(tm.n_floats == 3000 && tm.n_ready <= 13);
  pthread_mutex_unlock(&tm.mu);
  mef3__free(a);
  for (int i = 0; i < 10; i++)
    mef3__free(b[i]);
  mef3__free(c);
  mef3__tilemem_destroy(&tm);
}

static void test_off_and_zero(void) {
  mef3__tilemem tm;
  mef3__tilemem_init(&tm, 0);
  float *a = mef3__tilemem_get(&tm, 500);
  REQUIRE(a);
  a[499] = 1.0f;
  CHECK(!tm.started && tm.n_ready == 0);
  mef3__free(a);
  mef3__tilemem_destroy(&tm);
  /* a reserve smaller than one buffer still keeps one */
  mef3__tilemem_init(&tm, 16);
  float *b = mef3__tilemem_get(&tm, 100);
  REQUIRE(b);
  CHECK(wait_ready(&tm, 1));
  mef3__free(b);
  mef3__tilemem_destroy(&tm);
}

static void test_destroy_while_refilling(void) {
  for (int k = 0; k < 20; k++) {
    mef3__tilemem tm;
    mef3__tilemem_init(&tm, (size_t)8 << 20);
    float *a = mef3__tilemem_get(&tm, 15360);
    mef3__free(a);
    if (k & 1)
      sleep_ms(1);
    mef3__tilemem_destroy(&tm); /* joins the thread mid-refill */
  }
}

static mef3__tilemem shared;

static void *taker(void *arg) {
  size_t n = (size_t)(uintptr_t)arg;
  for (int i = 0; i < 300; i++) {
    float *x = mef3__tilemem_get(&shared, n + (size_t)(i % 3 == 0));
    if (x) {
      x[0] = 1.0f;
      mef3__free(x);
    }
  }
  return NULL;
}

static void test_threads(void) {
  mef3__tilemem_init(&shared, (size_t)1 << 20);
  pthread_t t[4];
  for (int i = 0; i < 4; i++)
    pthread_create(&t[i], NULL, taker, (void *)(uintptr_t)4096);
  for (int i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  CHECK(shared.taken + shared.missed == 1200);
  mef3__tilemem_destroy(&shared);
}

int main(int argc, char **argv) {
  static const check_case cases[] = {
      CASE(test_reserve),
      CASE(test_off_and_zero),
      CASE(test_destroy_while_refilling),
      CASE(test_threads),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  return check_finish();
}
