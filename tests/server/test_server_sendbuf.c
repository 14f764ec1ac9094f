/*
 * tests/server/test_server_sendbuf.c - the server's pool of chunk buffers
 * (server/sendbuf.h): a buffer given back is handed out again (best fit,
 * sizes rounded so near sizes share), the idle total never passes its
 * limit, buffers still out when the owner lets go stay valid and the pool
 * goes once the last comes back (ASan sees any leak or use after free),
 * and threads taking and giving back at once (TSan).
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "server/sendbuf.h"

static void test_reuse(void) {
  mef3__sendbufs *p = mef3__sendbufs_new(4 << 20);
  REQUIRE(p);
  mef3__sendbufs_stats st;
  char *a = mef3__sendbuf_get(p, 1000000);
  REQUIRE(a);
  CHECK(((uintptr_t)a & 63) == 0);
  memset(a, 1, 1000000);
  mef3__sendbuf_put(a);
  mef3__sendbufs_stats_get(p, &st);
  CHECK(st.gets == 1 && st.reused == 0 && st.out == 0 && st.idle_bytes > 0);
  /* a slightly different size shares the buffer */
  char *b = mef3__sendbuf_get(p, 1000000 - 3000);
  CHECK(b == a);
  /* a larger one cannot */
  char *c = mef3__sendbuf_get(p, 3000000);
  CHECK(c && c != a);
  mef3__sendbufs_stats_get(p, &st);
  CHECK(st.gets == 3 && st.reused == 1 && st.out == 2 && st.idle_bytes == 0);
  mef3__sendbuf_put(c);
  mef3__sendbuf_put(b);
  /* best fit: the small request gets the small buffer */
  char *d = mef3__sendbuf_get(p, 10);
  CHECK(d == a);
  mef3__sendbuf_put(d);
  /* zero bytes is a valid (small) buffer */
  char *z = mef3__sendbuf_get(p, 0);
  CHECK(z != NULL);
  mef3__sendbuf_put(z);
  /* absurd sizes fail cleanly */
  CHECK(mef3__sendbuf_get(p, SIZE_MAX - 10) == NULL);
  mef3__sendbufs_stats_get(p, &st);
  CHECK(st.out == 0);
  mef3__sendbuf_put(NULL);
  mef3__sendbufs_release(p);
}

static void test_limit(void) {
  mef3__sendbufs *p = mef3__sendbufs_new(1 << 20); /* 1 MiB idle at most */
  REQUIRE(p);
  void *v[6];
  for (int i = 0; i < 6; i++)
    REQUIRE((v[i] = mef3__sendbuf_get(p, 300000)));
  for (int i = 0; i < 6; i++)
    mef3__sendbuf_put(v[i]);
  mef3__sendbufs_stats st;
  mef3__sendbufs_stats_get(p, &st);
  CHECK(st.idle_bytes <= (1 << 20) && st.idle_bytes > 0);
  mef3__sendbufs_release(p);
}

static void test_outlives_owner(void) {
  mef3__sendbufs *p = mef3__sendbufs_new(1 << 20);
  REQUIRE(p);
  char *a = mef3__sendbuf_get(p, 5000), *b = mef3__sendbuf_get(p, 5000);
  REQUIRE(a && b);
  mef3__sendbuf_put(a);  /* idle */
  mef3__sendbufs_release(p); /* b is still out */
  memset(b, 2, 5000);        /* and still valid */
  mef3__sendbuf_put(b);      /* the last one: the pool goes */
}

static mef3__sendbufs *shared;

static void *churn(void *arg) {
  size_t base = (size_t)(uintptr_t)arg;
  for (int i = 0; i < 2000; i++) {
    size_t n = base + (size_t)(i % 7) * 70000;
    unsigned char *x = mef3__sendbuf_get(shared, n);
    if (!x)
      continue;
    x[0] = x[n - 1] = (unsigned char)i;
    mef3__sendbuf_put(x);
  }
  return NULL;
}

static void test_threads(void) {
  shared = mef3__sendbufs_new(2 << 20);
  REQUIRE(shared);
  pthread_t t[4];
  for (int i = 0; i < 4; i++)
    pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(1000 + i * 50000));
  for (int i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  mef3__sendbufs_stats st;
  mef3__sendbufs_stats_get(shared, &st);
  CHECK(st.gets == 8000 && st.out == 0 && st.reused > 0);
  CHECK(st.idle_bytes <= (2 << 20));
  mef3__sendbufs_release(shared);
}

int main(int argc, char **argv) {
  static const check_case cases[] = {
      CASE(test_reuse),
      CASE(test_limit),
      CASE(test_outlives_owner),
      CASE(test_threads),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  return check_finish();
}
