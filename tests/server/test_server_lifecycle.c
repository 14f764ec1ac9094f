/*
 * tests/server/test_server_lifecycle.c - streams that end early, against the real
 * `mef3pool serve`: a client process that dies mid-stream, a client that
 * cancels, a deadline that passes, SIGTERM during a stream.  After each the
 * server must stay healthy (or exit 0 on SIGTERM) with nothing left
 * behind.  No timing is asserted: every wait is for an event.
 */
#include <pthread.h>

#include "server_helper.h"

static const char *A1 = "sessions/a_single_256hz.mefd";


/* Open and read a whole session. */
static int read_all(const char *addr, const char *path, int64_t timeout_ms,
                    mef3_client_progress_fn cb, void *payload) {
  mef3_client_options o = MEF3_CLIENT_OPTIONS_INIT;
  o.timeout_ms = timeout_ms;
  mef3_client *c;
  if (mef3_client_new(&c, addr, &o))
    return MEF3_ERROR;
  mef3_file_info *fi = NULL;
  int rc = mef3_client_open(&fi, NULL, c, path, NULL);
  mef3_signal *sig = NULL;
  if (!rc)
    rc = mef3_client_read(&sig, c, path, NULL, 0, fi->start_uutc, fi->end_uutc,
                          cb, payload);
  mef3_signal_free(sig);
  mef3_file_info_free(fi);
  mef3_client_free(c);
  return rc;
}

static int die_after_first(int64_t done, int64_t total, void *payload) {
  _exit(0); /* the connection drops with the stream half sent */
}

static int cancel_after_first(int64_t done, int64_t total, void *payload) {
  return 1;
}

/* A client that stalls after its first chunk until the server is gone. */
typedef struct {
  const char *addr, *path;
  _Atomic int chunks, server_gone;
  int rc;
} slow_arg;

static int slow_progress(int64_t done, int64_t total, void *payload) {
  slow_arg *a = payload;
  if (a->chunks++ == 0)
    while (!a->server_gone)
      th_sleep_ms(5);
  return 0;
}

static void *slow_main(void *p) {
  slow_arg *a = p;
  mef3_client *c;
  a->rc = MEF3_ERROR;
  if (mef3_client_new(&c, a->addr, NULL))
    return NULL;
  mef3_file_info *fi = NULL;
  mef3_signal *sig = NULL;
  a->rc = mef3_client_open(&fi, NULL, c, a->path, NULL);
  if (!a->rc)
    a->rc = mef3_client_read(&sig, c, a->path, NULL, 0, fi->start_uutc,
                             fi->end_uutc, slow_progress, a);
  mef3_signal_free(sig);
  mef3_file_info_free(fi);
  mef3_client_free(c);
  return NULL;
}

int main(void) {
  if (!tu_have_golden()) {
    printf("no golden data at %s: skipped\n", MEF3_GOLDEN_DIR);
    return 0;
  }
  /* The data root: a golden session, and a generated 16-channel one
   * (15 MB a read) when `mef3pool gen` is there: streams larger than what
   * gRPC flow control lets the server send ahead, so that the early ends
   * below happen mid-stream. */
  const char *root = tu_scratch("root");
  REQUIRE(tu_copy_tree(tu_golden(A1), root) == 0);
  A1 = "a_single_256hz.mefd";
  int big = tu_system("'%s' gen '%s/big.mefd' --channels 16 --fs 256 "
                      "--duration 900s --seed 5 >/dev/null 2>&1",
                      MEF3_CLI, root) == 0;
  const char *path = big ? "big.mefd" : A1;
  if (!big)
    printf("no mef3pool gen: early ends on a small golden session, which "
           "may be sent whole before they happen\n");
  th_server srv;
  const char *extra[] = {"--chunk-bytes=65536", "--grace-s=0.2", NULL};
  REQUIRE(th_start(&srv, root, extra) == 0);

  /* 1. A client process that dies mid-stream.  Forked before this process
   * starts any gRPC thread. */
  pid_t kid = fork();
  if (kid == 0) {
    int rc = read_all(srv.addr, path, -1, die_after_first, NULL);
    /* not reached unless the read failed before a chunk: say why */
    fprintf(stderr, "the dying client's read failed before a chunk: %s: %s\n",
            mef3_errname(rc), mef3_error_last()->message);
    _exit(3);
  }
  int st;
  waitpid(kid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  if (big)
    CHECK(th_log_has(&srv, "client gone") ||
          th_log_has(&srv, "decoding stopped"));

  /* 2. A client that cancels after the first chunk. */
  CHECK_RC(read_all(srv.addr, path, -1, cancel_after_first, NULL),
           MEF3_ECANCELED);
  /* 3. A deadline far too short for the whole read. */
  CHECK_RC(read_all(srv.addr, path, 1, NULL, NULL), MEF3_ETIMEDOUT);
  /* The server is healthy: whole reads work. */
  CHECK_RC(read_all(srv.addr, path, -1, NULL, NULL), 0);
  CHECK_RC(read_all(srv.addr, A1, -1, NULL, NULL), 0);

  /* 4. SIGTERM while a client is mid-stream (stalled after its first
   * chunk): the server cancels it after the grace period and exits 0 with
   * no process left. */
  slow_arg a;
  a.addr = srv.addr;
  a.path = path;
  a.chunks = 0;
  a.server_gone = 0;
  a.rc = 0;
  pthread_t t;
  pthread_create(&t, NULL, slow_main, &a);
  while (a.chunks == 0)
    th_sleep_ms(5);
  CHECK(th_stop(&srv, SIGTERM) == 0);
  a.server_gone = 1;
  pthread_join(t, NULL);
  if (big) {
    CHECK_MSG(a.rc != 0, "the stream was not cut short (%d chunks)",
              (int)a.chunks);
    CHECK(th_log_has(&srv, "cancelling the calls still running"));
  }
  CHECK(th_no_children());
  CHECK(th_log_has(&srv, "received SIGTERM"));
  CHECK(th_log_has(&srv, "stopped"));
  return check_finish();
}
