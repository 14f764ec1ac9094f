/*
 * tests/client/test_client_session_header.c - the C client sends the session
 * path of every call in the header x-mef3-session (the key a proxy hashes
 * for session affinity, docs/deploy.md), encoded so that any path is a
 * valid header value; ListOpenFiles, which names no session, sends none.
 *
 * A bare gRPC server on a free loopback port takes each call, records the
 * header and answers UNIMPLEMENTED; the client's calls run on a thread of
 * their own meanwhile.
 */
#include <pthread.h>

#include "check.h"
#include "mef3pool/client.h"
#include "rpc/rpc.h"

typedef struct {
  const char *path; /* NULL: ListOpenFiles */
  int rc;
} job;

static const char *addr_of(int port) {
  static char a[64];
  snprintf(a, sizeof a, "127.0.0.1:%d", port);
  return a;
}

static job jobs[] = {
    {"a/b c.mefd", 0},       {"p%41t\x7f\xc3\xa9.mefd", 0},
    {NULL, 0},               {"", 0},
};
static const char *want[] = {"a/b%20c.mefd", "p%2541t%7F%C3%A9.mefd", NULL,
                             NULL};
static int port;

/* The header, spelled out here: it is a contract with proxies' configs. */
#define HEADER "x-mef3-session"

static void *client_thread(void *arg) {
  (void)arg;
  mef3_client_options o = MEF3_CLIENT_OPTIONS_INIT;
  o.timeout_ms = 20000;
  mef3_client *c;
  if (mef3_client_new(&c, addr_of(port), &o))
    return NULL;
  for (size_t i = 0; i < sizeof jobs / sizeof *jobs; i++) {
    mef3_file_info *fi = NULL;
    char **v = NULL;
    size_t n = 0;
    if (i == 1) { /* a read goes the same way as a unary call */
      mef3_signal *s = NULL;
      jobs[i].rc = mef3_client_read(&s, c, jobs[i].path, NULL, 0, 0, 1000000,
                                    NULL, NULL);
      mef3_signal_free(s);
    } else if (jobs[i].path) {
      jobs[i].rc = mef3_client_info(&fi, c, jobs[i].path);
    } else {
      jobs[i].rc = mef3_client_list(&v, &n, c);
    }
    mef3_file_info_free(fi);
    mef3_files_list_free(v, n);
  }
  mef3_client_free(c);
  return NULL;
}

/* The header's value among `md`, copied to `out` ("" when absent);
 * returns how many times it occurs. */
static int header_of(const grpc_metadata_array *md, char *out, size_t cap) {
  int n = 0;
  out[0] = '\0';
  for (size_t i = 0; i < md->count; i++) {
    const grpc_slice *k = &md->metadata[i].key, *v = &md->metadata[i].value;
    if (GRPC_SLICE_LENGTH(*k) == strlen(HEADER) &&
        !memcmp(GRPC_SLICE_START_PTR(*k), HEADER,
                GRPC_SLICE_LENGTH(*k))) {
      n++;
      snprintf(out, cap, "%.*s", (int)GRPC_SLICE_LENGTH(*v),
               (const char *)GRPC_SLICE_START_PTR(*v));
    }
  }
  return n;
}

int main(void) {
  grpc_init();
  grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
  grpc_server *srv = grpc_server_create(NULL, NULL);
  grpc_server_register_completion_queue(srv, cq, NULL);
  grpc_server_credentials *cred = grpc_insecure_server_credentials_create();
  port = grpc_server_add_http2_port(srv, "127.0.0.1:0", cred);
  grpc_server_credentials_release(cred);
  REQUIRE(port > 0);
  grpc_server_start(srv);

  pthread_t th;
  REQUIRE(pthread_create(&th, NULL, client_thread, NULL) == 0);
  for (size_t i = 0; i < sizeof jobs / sizeof *jobs; i++) {
    grpc_call *call = NULL;
    grpc_call_details det;
    grpc_metadata_array md;
    grpc_call_details_init(&det);
    grpc_metadata_array_init(&md);
    REQUIRE(grpc_server_request_call(srv, &call, &det, &md, cq, cq,
                                     (void *)1) == GRPC_CALL_OK);
    grpc_event ev = grpc_completion_queue_next(
        cq, gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                         gpr_time_from_seconds(30, GPR_TIMESPAN)),
        NULL);
    REQUIRE(ev.type == GRPC_OP_COMPLETE && ev.success);
    char got[4096];
    int n = header_of(&md, got, sizeof got);
    if (want[i]) {
      CHECK_MSG(n == 1 && !strcmp(got, want[i]),
                "call %zu: %d header(s), \"%s\", wanted \"%s\"", i, n, got,
                want[i]);
    } else {
      CHECK_MSG(n == 0, "call %zu: %d header(s) \"%s\", wanted none", i, n,
                got);
    }
    /* Answer UNIMPLEMENTED without reading the request. */
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[1].data.send_status_from_server.status = GRPC_STATUS_UNIMPLEMENTED;
    grpc_slice d = grpc_slice_from_static_string("test");
    ops[1].data.send_status_from_server.status_details = &d;
    REQUIRE(grpc_call_start_batch(call, ops, 2, (void *)2, NULL) ==
            GRPC_CALL_OK);
    ev = grpc_completion_queue_next(
        cq, gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                         gpr_time_from_seconds(30, GPR_TIMESPAN)),
        NULL);
    CHECK(ev.type == GRPC_OP_COMPLETE);
    grpc_call_unref(call);
    grpc_call_details_destroy(&det);
    grpc_metadata_array_destroy(&md);
  }
  pthread_join(th, NULL);
  for (size_t i = 0; i < sizeof jobs / sizeof *jobs; i++)
    CHECK_MSG(jobs[i].rc < 0, /* the server answered UNIMPLEMENTED */
              "call %zu returned %d", i, jobs[i].rc);

  grpc_server_shutdown_and_notify(srv, cq, (void *)3);
  grpc_server_cancel_all_calls(srv);
  for (;;) {
    grpc_event ev =
        grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_OP_COMPLETE && ev.tag == (void *)3)
      break;
  }
  grpc_server_destroy(srv);
  grpc_completion_queue_shutdown(cq);
  while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME),
                                    NULL)
             .type != GRPC_QUEUE_SHUTDOWN)
    ;
  grpc_completion_queue_destroy(cq);
  grpc_shutdown();
  return check_finish();
}
