/*
 * tests/server/test_server_client_alloc.c - what the C client hands out (file
 * info, file lists, signals) is allocated through the library's allocator
 * hook, since the caller frees it with the library's free functions: with
 * a hook counting its live blocks, open/info/list/read against a real
 * server and the frees that follow leave the count at zero and never below
 * (a block freed through the hook that the hook did not allocate).
 */
#include <stdatomic.h>

#include "server_helper.h"

static _Atomic long live, lowest;

static void seen_free(void) {
  long v = --live;
  long lo = lowest;
  while (v < lo && !atomic_compare_exchange_weak(&lowest, &lo, v))
    ;
}

static void *h_malloc(size_t n, void *p) {
  (void)p;
  void *x = malloc(n);
  live += x != NULL;
  return x;
}
static void *h_calloc(size_t n, size_t s, void *p) {
  (void)p;
  void *x = calloc(n, s);
  live += x != NULL;
  return x;
}
static void *h_realloc(void *o, size_t n, void *p) {
  (void)p;
  void *x = realloc(o, n);
  live += x != NULL && o == NULL;
  return x;
}
static void h_free(void *x, void *p) {
  (void)p;
  seen_free();
  free(x);
}

int main(void) {
  if (!tu_have_golden()) {
    printf("no golden data; skipped\n");
    return 0;
  }
  mef3_allocator a = MEF3_ALLOCATOR_INIT;
  a.malloc_fn = h_malloc;
  a.calloc_fn = h_calloc;
  a.realloc_fn = h_realloc;
  a.free_fn = h_free;
  REQUIRE(mef3_set_allocator(&a) == 0);

  th_server srv;
  REQUIRE(th_start(&srv, tu_golden(""), NULL) == 0);
  mef3_client *c;
  REQUIRE(mef3_client_new(&c, srv.addr, NULL) == 0);
  const char *b8 = "sessions/b_multi_8ch.mefd";
  mef3_file_info *fi = NULL, *fi2 = NULL;
  CHECK_RC(mef3_client_open(&fi, NULL, c, b8, NULL), 0);
  CHECK_RC(mef3_client_info(&fi2, c, b8), 0);
  char **paths = NULL;
  size_t n = 0;
  CHECK_RC(mef3_client_list(&paths, &n, c), 0);
  CHECK(n == 1);
  const char *g[] = {"ch01", "ch02"};
  mef3_signal *sig = NULL;
  REQUIRE(fi);
  CHECK_RC(mef3_client_read(&sig, c, b8, g, 2, fi->start_uutc,
                            fi->start_uutc + 10000000, NULL, NULL),
           0);
  CHECK(sig && sig->n_samples == 2560 && !strcmp(sig->channel_names[1], "ch02"));
  mef3_signal_free(sig);
  mef3_files_list_free(paths, n);
  mef3_file_info_free(fi);
  mef3_file_info_free(fi2);
  mef3_client_free(c);
  CHECK(th_stop(&srv, SIGTERM) == 0);
  CHECK_MSG(lowest >= 0, "the hook freed %ld block(s) it never allocated",
            -lowest);
  CHECK_MSG(live == 0, "%ld block(s) allocated through the hook not freed",
            (long)live);
  mef3_set_allocator(NULL);
  return check_finish();
}
