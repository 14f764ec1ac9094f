/*
 * server/server.c - the server object of the gRPC service
 * "gRPCMef3Server" (server.h): start, shutdown, counters, and the log.
 * The calls themselves run in server_threads.c, server_call.c,
 * server_unary.c and server_range.c (see server_impl.h for the map).
 *
 * Threads.  Start, shutdown and free run on the caller's thread; start
 * launches the `cq_threads` completion-queue threads and the
 * `work_threads` work threads (server_threads.c).  The counters and the
 * log may be used from any thread.
 *
 * Shutdown: grpc_server_shutdown_and_notify (no new calls), wait up to the
 * grace period for running calls, cancel the rest
 * (grpc_server_cancel_all_calls, and work threads stop between chunks),
 * wait for every call to be freed, then stop the work threads, the queue
 * and its threads, and free the file manager (which shuts both pools
 * down).  A second shutdown waits for the first to finish.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/listen.h"
#include "server/server_impl.h"
#include "util/error.h"
#include "util/version.h"

/* ---- logging, times, messages ---- */

void mef3__server_log(mef3_server *s, mef3_log_level lv, const char *fmt, ...) {
  if (!mef3__server_logs(s, lv))
    return;
  va_list ap;
  va_start(ap, fmt);
  mef3_log_vprintf(s->o.log, s->o.log_payload, lv, fmt, ap);
  va_end(ap);
}

/* The file manager logs through the server's logger and level. */
static void files_log(mef3_log_level lv, const char *msg, void *payload) {
  mef3__server_log(payload, lv, "%s", msg);
}

int64_t mef3__server_now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

const char *mef3__server_err_msg(int rc) {
  const mef3_error *e = mef3_error_last();
  return e->code == rc && e->message[0] ? e->message : mef3_strerror(rc);
}

/* ---- start ---- */

/* Free what server_new and the start set up (NULL fields are skipped). */
static void server_dispose(mef3_server *s) {
  mef3__server_tls_drop(s);
  mef3_files_free(s->fm);
  mef3__sendbufs_release(s->bufs); /* freed once gRPC gave all back */
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->work_cv);
  pthread_cond_destroy(&s->done_cv);
  free(s->cqt);
  free(s->wt);
  free(s->bind);
  free(s->root);
  free(s->worker);
  free(s);
}

/* The server object with its own copy of the options; NULL when out of
 * memory. */
static mef3_server *server_new(const mef3_server_options *opts) {
  mef3_server *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->o = *opts;
  s->bind = strdup(opts->bind_address ? opts->bind_address : "127.0.0.1");
  s->root = opts->files.data_root ? strdup(opts->files.data_root) : NULL;
  s->worker = opts->files.worker_path ? strdup(opts->files.worker_path) : NULL;
  s->o.bind_address = s->bind;
  s->o.files.data_root = s->root;
  s->o.files.worker_path = s->worker;
  s->o.files.log = files_log;
  s->o.files.log_payload = s;
  s->n_cqt = opts->cq_threads > 0 ? opts->cq_threads : 2;
  s->n_wt = opts->work_threads > 0 ? opts->work_threads : 8;
  atomic_store(&s->shutdown_tag.c, NULL);
  atomic_store(&s->shutdown_tag.kind, MEF3__T_SHUTDOWN);
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->work_cv, NULL);
  pthread_condattr_t ca_mono;
  pthread_condattr_init(&ca_mono);
  pthread_condattr_setclock(&ca_mono, CLOCK_MONOTONIC);
  pthread_cond_init(&s->done_cv, &ca_mono);
  pthread_condattr_destroy(&ca_mono);
  /* Idle chunk memory kept: a few chunks, at most 16 MiB. */
  size_t keep = (size_t)opts->chunk_bytes * 4;
  s->bufs =
      mef3__sendbufs_new(keep < ((size_t)16 << 20) ? keep : (size_t)16 << 20);
  if (!s->bind || (opts->files.data_root && !s->root) ||
      (opts->files.worker_path && !s->worker) || !s->bufs) {
    server_dispose(s);
    return NULL;
  }
  return s;
}

/* The gRPC server listening on `addr`, its queue and its methods; 0, or
 * MEF3_EIO with gRPC shut down again. */
static int grpc_up(mef3_server *s, const char *addr) {
  grpc_init();
  /* Chunks are about 2.5 MiB; leave room for larger --chunk settings.  No
   * SO_REUSEPORT: a second server on a port in use must fail, not share. */
  grpc_arg args[3];
  args[0].type = GRPC_ARG_INTEGER;
  args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
  args[0].value.integer = 16 << 20;
  args[1].type = GRPC_ARG_INTEGER;
  args[1].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
  args[1].value.integer = -1;
  args[2].type = GRPC_ARG_INTEGER;
  args[2].key = GRPC_ARG_ALLOW_REUSEPORT;
  args[2].value.integer = 0;
  grpc_channel_args ca = {3, args};
  s->gs = grpc_server_create(&ca, NULL);
  s->cq = grpc_completion_queue_create_for_next(NULL);
  grpc_server_register_completion_queue(s->gs, s->cq, NULL);
  for (int m = 0; m < MEF3__M_COUNT; m++)
    s->rm[m] = grpc_server_register_method(
        s->gs, mef3__method_names[m], NULL,
        GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
  grpc_server_credentials *cred = mef3__server_tls_creds(s);
  s->port = cred ? grpc_server_add_http2_port(s->gs, addr, cred) : 0;
  grpc_server_credentials_release(cred);
  mef3__server_tls_drop(s); /* gRPC keeps its own copy */
  if (s->port > 0)
    return 0;
  /* The address passed our check, so with TLS the likely cause is what
   * gRPC's TLS library made of the files (it parses them only here). */
  if (s->tls)
    mef3__error(MEF3_EIO,
                "cannot listen on %s with TLS: the certificate or key was "
                "refused (not a certificate and key gRPC can use, or the key "
                "does not belong to the certificate)",
                addr);
  else
    mef3__error(MEF3_EIO, "cannot listen on %s", addr);
  grpc_server_destroy(s->gs);
  grpc_completion_queue_shutdown(s->cq);
  while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME),
                                    NULL)
             .type != GRPC_QUEUE_SHUTDOWN)
    ;
  grpc_completion_queue_destroy(s->cq);
  s->gs = NULL;
  s->cq = NULL;
  grpc_shutdown();
  return MEF3_EIO;
}

/* The options' own checks (the file manager checks its own). */
static int check_options(const mef3_server_options *o) {
  if (mef3__version_check("mef3_server_options", o->version,
                          MEF3_SERVER_OPTIONS_VERSION))
    return MEF3_EINVAL;
  if (o->port < 0 || o->port > 65535)
    return mef3__error(MEF3_EINVAL, "server: port %d is not 0 to 65535",
                       o->port);
  if (o->max_streams < 1)
    return mef3__error(MEF3_EINVAL, "server: max_streams %d, at least 1",
                       o->max_streams);
  if (o->max_samples < 1)
    return mef3__error(MEF3_EINVAL,
                       "server: max_samples %" PRId64 ", at least 1",
                       (int64_t)o->max_samples);
  if (o->chunk_bytes < 4)
    return mef3__error(MEF3_EINVAL,
                       "server: chunk_bytes %" PRId64 ", at least 4",
                       (int64_t)o->chunk_bytes);
  return 0;
}

/* The detail of a failed start is the thread's last error; this is the
 * name server.h promised before the library had one channel. */
const mef3_error *mef3_server_error_last(void) {
  return mef3_error_last();
}

int mef3_server_start(mef3_server **out, const mef3_server_options *opts) {
  *out = NULL;
  mef3_server_options dflt = MEF3_SERVER_OPTIONS_INIT;
  if (!opts)
    opts = &dflt;
  int rc = check_options(opts);
  if (rc)
    return rc;
  /* Version 1 ends before the TLS files: plain text, as it always was. */
  mef3_server_options full = MEF3_SERVER_OPTIONS_INIT;
  memcpy(&full, opts,
         opts->version >= 2 ? sizeof full
                            : offsetof(mef3_server_options, tls_cert_file));
  opts = &full;
  mef3_server *s = server_new(opts);
  if (!s)
    return mef3__error(MEF3_ENOMEM, "server: out of memory");
  /* The TLS files are read now (the caller's paths are not kept). */
  rc = mef3__server_tls_load(s);
  s->o.tls_cert_file = s->o.tls_key_file = s->o.tls_client_ca_file = NULL;
  if (rc) {
    server_dispose(s);
    return rc;
  }
  rc = mef3_files_new(&s->fm, &s->o.files);
  if (rc) {
    mef3__server_log(s, MEF3_LOG_ERROR, "file manager: %s",
                     mef3__server_err_msg(rc));
    server_dispose(s);
    return rc;
  }
  char addr[300];
  rc = mef3__listen_check(s->bind, opts->port, addr, sizeof addr);
  if (!rc)
    rc = grpc_up(s, addr);
  if (rc) {
    server_dispose(s);
    return rc;
  }
  grpc_server_start(s->gs);
  for (int m = 0; m < MEF3__M_COUNT; m++)
    for (int k = 0; k < 2; k++) /* two calls of each method pending */
      mef3__call_request(s, (mef3__method)m);
  mef3__call_request(s, MEF3__M_OTHER);
  s->cqt = calloc((size_t)s->n_cqt, sizeof *s->cqt);
  s->wt = calloc((size_t)s->n_wt, sizeof *s->wt);
  for (int i = 0; i < s->n_cqt; i++)
    pthread_create(&s->cqt[i], NULL, mef3__server_cq_main, s);
  for (int i = 0; i < s->n_wt; i++)
    pthread_create(&s->wt[i], NULL, mef3__server_work_main, s);
  mef3__server_log(
      s, MEF3_LOG_INFO,
      "serving gRPCMef3Server on %s:%d (%s, tiles %.0f s, cache %" PRId64
      " MiB, ttl %.0f s, %s, %d stream(s) max, root %s)",
      s->bind, s->port,
      s->tls == 2 ? "mutual TLS" : s->tls ? "TLS" : "plain text",
      s->o.files.tile_duration_s,
      s->o.files.tile_cache_bytes >> 20, s->o.files.cache_ttl_s,
      s->o.files.use_process_pool ? "process pool" : "in-process decode",
      s->o.max_streams, s->root ? s->root : "(none)");
  mef3__server_tls_warn(s);
  *out = s;
  return 0;
}

int mef3_server_port(const mef3_server *s) {
  return s ? s->port : 0;
}

/* ---- shutdown ---- */

/* Wait on done_cv (a CLOCK_MONOTONIC condition) until `deadline_ns`. */
static void wait_until(mef3_server *s, int64_t deadline_ns) {
  struct timespec until = {deadline_ns / 1000000000, deadline_ns % 1000000000};
  pthread_cond_timedwait(&s->done_cv, &s->mu, &until);
}

/* Let running calls end within the grace period, then cancel the rest and
 * wait until every call is freed and the core has seen the shutdown. */
static void drain_calls(mef3_server *s, int64_t grace_ms) {
  grpc_server_shutdown_and_notify(s->gs, s->cq, &s->shutdown_tag);
  int64_t until =
      mef3__server_now_ns() + (grace_ms > 0 ? grace_ms : 0) * 1000000;
  pthread_mutex_lock(&s->mu);
  while (s->stats.active_calls > 0 && mef3__server_now_ns() < until)
    wait_until(s, until);
  int cancel = s->stats.active_calls > 0;
  if (cancel)
    s->cancel_all = 1;
  pthread_mutex_unlock(&s->mu);
  if (cancel) {
    mef3__server_log(s, MEF3_LOG_INFO, "cancelling the calls still running");
    grpc_server_cancel_all_calls(s->gs);
  }
  pthread_mutex_lock(&s->mu);
  while (s->stats.active_calls > 0 || !s->shutdown_seen)
    pthread_cond_wait(&s->done_cv, &s->mu);
  s->stop_workers = 1;
  pthread_cond_broadcast(&s->work_cv);
  pthread_mutex_unlock(&s->mu);
  mef3__server_log(s, MEF3_LOG_DEBUG, "shutdown: every call is done");
}

void mef3_server_shutdown(mef3_server *s, int64_t grace_ms) {
  if (!s)
    return;
  pthread_mutex_lock(&s->mu);
  if (s->shutting_down) {
    while (!s->finished)
      pthread_cond_wait(&s->done_cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    return;
  }
  s->shutting_down = 1;
  uint64_t active = s->stats.active_calls;
  pthread_mutex_unlock(&s->mu);
  mef3__server_log(s, MEF3_LOG_INFO,
                   "shutting down (%" PRIu64 " call(s) running)", active);
  drain_calls(s, grace_ms);
  for (int i = 0; i < s->n_wt; i++)
    pthread_join(s->wt[i], NULL);
  grpc_completion_queue_shutdown(s->cq);
  for (int i = 0; i < s->n_cqt; i++)
    pthread_join(s->cqt[i], NULL);
  grpc_server_destroy(s->gs);
  grpc_completion_queue_destroy(s->cq);
  s->gs = NULL;
  s->cq = NULL;
  mef3__server_log(s, MEF3_LOG_DEBUG,
                   "shutdown: gRPC server down; stopping the pools");
  mef3_files_free(s->fm);
  s->fm = NULL;
  mef3__server_log(s, MEF3_LOG_DEBUG, "shutdown: file manager down");
  grpc_shutdown();
  mef3__server_log(s, MEF3_LOG_INFO, "stopped");
  pthread_mutex_lock(&s->mu);
  s->finished = 1;
  pthread_cond_broadcast(&s->done_cv);
  pthread_mutex_unlock(&s->mu);
}

void mef3_server_free(mef3_server *s) {
  if (!s)
    return;
  mef3_server_shutdown(s, 0);
  server_dispose(s);
}

/* ---- counters ---- */

void mef3_server_get_stats(mef3_server_stats *out, mef3_server *srv) {
  pthread_mutex_lock(&srv->mu);
  *out = srv->stats;
  pthread_mutex_unlock(&srv->mu);
}

void mef3_server_get_files_stats(mef3_files_stats *out, mef3_server *srv) {
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&srv->mu);
  int live = srv->fm && !srv->finished;
  pthread_mutex_unlock(&srv->mu);
  if (live)
    mef3_files_get_stats(out, srv->fm);
}

mef3_files *mef3_server_files(mef3_server *s) {
  return s ? s->fm : NULL;
}

grpc_server *mef3__server_grpc(mef3_server *s) {
  return s->gs;
}
