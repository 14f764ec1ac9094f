/*
 * server/server.c - the gRPC service "gRPCMef3Server" on the gRPC C core,
 * serving a file manager (files.h).
 *
 * Threads.  One completion queue, polled by `cq_threads` threads; they run
 * the calls' state machines and never block on a decode or on a client.
 * Work that may block (every file-manager call) goes to a FIFO served by
 * `work_threads` threads, which start the call's next gRPC batch
 * themselves when done.  So:
 *
 *   request_registered_call --NEW--> cq thread: start RECV_CLOSE_ON_SERVER,
 *                                    re-arm the method, queue a job
 *   unary job (work thread)  -------> SEND_INITIAL_METADATA + SEND_MESSAGE +
 *                                    SEND_STATUS --FINISH--> done
 *   stream job (work thread) -------> read one chunk's window, SEND_MESSAGE
 *                                    (the last chunk: + SEND_STATUS)
 *                            --SEND--> cq thread: cancelled? stop : queue
 *                                    the next job
 *
 * A stream has at most one message in flight: the next chunk is read only
 * once the previous one has been taken by the transport, so a slow client
 * holds back only its own stream (gRPC flow control delays the SEND
 * completion) and a stream holds about two chunks of memory.
 *
 * Cancellation.  RECV_CLOSE_ON_SERVER completes when the client cancels,
 * disconnects or passes its deadline; the flag it sets is checked (with the
 * deadline) before every chunk's read, so a cancelled request stops its
 * decode work at the next chunk boundary.  A window longer than one chunk
 * is read chunk by chunk, each chunk a window of its own whose samples are
 * exactly those of the whole window (see plan_pieces); when no exact split
 * exists, it is read whole and cut.
 *
 * Lifetime.  A call is reference-counted: one reference per batch in flight
 * and one per queued or running job; the last one frees it.  Each call's
 * state is guarded by its own mutex; the server's queue and counters by
 * the server mutex.  Shutdown: grpc_server_shutdown_and_notify (no new
 * calls), wait up to the grace period for running calls, cancel the rest
 * (grpc_server_cancel_all_calls, and work threads stop between chunks),
 * wait for every call to be freed, then stop the work threads, the queue
 * and its threads, and free the file manager (which shuts both pools down).
 */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mef3pool/reader.h"
#include "mef3pool/server.h"
#include "rpc/rpc.h"
#include "server/listen.h"
#include "server/sendbuf.h"
#include "server/server_internal.h"

/* M_OTHER: a call of a method the service does not have. */
typedef enum {
  M_OPEN,
  M_CLOSE,
  M_INFO,
  M_RANGE,
  M_LIST,
  M_COUNT,
  M_OTHER = M_COUNT
} method;

static const char *const method_names[M_COUNT + 1] = {
    MEF3_RPC_OPEN, MEF3_RPC_CLOSE, MEF3_RPC_INFO, MEF3_RPC_RANGE,
    MEF3_RPC_LIST, "(unknown method)"};

typedef enum { T_NEW, T_CLOSE, T_SEND, T_FINISH, T_SHUTDOWN } tag_kind;

typedef struct call call;

/* A tag travels through the gRPC core, which synchronizes in code TSan
 * cannot see: its fields are written once, before the call is handed to
 * gRPC, with release stores, and read with acquire loads. */
typedef struct {
  _Atomic(call *) c;
  _Atomic int kind;
} tag;

/* A GetSignalRange in progress. */
typedef struct {
  SignalRangeRequest *req;
  mef3_file_info *info;
  const char **chans; /* the channels read, in order */
  size_t nch;
  double fs;
  int64_t total;     /* samples per channel in the window */
  int64_t per_chunk; /* samples per chunk */
  int64_t next;      /* first sample of the next chunk */
  int64_t *ts, *te;  /* per chunk: the window read (split reads) */
  int split;         /* 1: read chunk by chunk; 0: read whole, cut */
  mef3_signal *whole;
  int counted; /* holds one of max_streams (guarded by the server's mu) */
  int64_t t0_ns;
  char token[MEF3__SERVER_TOKEN_MAX]; /* the caller's access token or "" */
} stream;

struct call {
  mef3_server *s;
  method m;
  grpc_call *call;
  gpr_timespec deadline;
  grpc_metadata_array md;
  grpc_byte_buffer *payload;
  int cancelled_flag; /* written by the core (RECV_CLOSE_ON_SERVER) */
  grpc_slice details; /* status details; live until the call is freed */
  int has_details;
  grpc_call_details other; /* M_OTHER: the method and host asked for */
  tag t_new, t_close, t_send, t_finish;
  pthread_mutex_t mu; /* guards what follows */
  int refs;
  int cancelled;
  int sent_md;
  call *next; /* job queue */
  stream st;
};

struct mef3_server {
  mef3_server_options o;
  char *bind, *root, *worker;
  mef3_files *fm;
  mef3__sendbufs *bufs; /* chunk memory, reused (sendbuf.h) */
  grpc_server *gs;
  grpc_completion_queue *cq;
  void *rm[M_COUNT];
  int port;
  pthread_t *cqt, *wt;
  int n_cqt, n_wt;
  tag shutdown_tag;

  pthread_mutex_t mu; /* guards what follows */
  pthread_cond_t work_cv, done_cv;
  call *qhead, *qtail;
  int stop_workers;
  int shutting_down, cancel_all, shutdown_seen, finished;
  mef3_server_stats stats;
};

/* ---- logging ---- */

static void slog(mef3_server *s, mef3_log_level lv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void slog(mef3_server *s, mef3_log_level lv, const char *fmt, ...) {
  if (!s->o.log || lv < s->o.log_level)
    return;
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  s->o.log(lv, buf, s->o.log_payload);
}

/* The file manager logs through the server's logger and level. */
static void files_log(mef3_log_level lv, const char *msg, void *payload) {
  mef3_server *s = payload;
  if (s->o.log && lv >= s->o.log_level)
    s->o.log(lv, msg, s->o.log_payload);
}

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* The message of a failed library call on this thread. */
static const char *err_msg(int rc) {
  const mef3_error *e = mef3_error_last();
  return e->code == rc && e->message[0] ? e->message : mef3_strerror(rc);
}

/* ---- calls ---- */

static void call_free(call *c) {
  if (c->call)
    grpc_call_unref(c->call);
  grpc_metadata_array_destroy(&c->md);
  if (c->m == M_OTHER)
    grpc_call_details_destroy(&c->other);
  if (c->payload)
    grpc_byte_buffer_destroy(c->payload);
  if (c->has_details)
    grpc_slice_unref(c->details);
  stream *st = &c->st;
  if (st->req)
    signal_range_request__free_unpacked(st->req, NULL);
  mef3_file_info_free(st->info);
  mef3__server_wipe(st->token, sizeof st->token);
  free(st->chans);
  free(st->ts);
  free(st->te);
  mef3_signal_free(st->whole);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

static void call_unref(call *c) {
  pthread_mutex_lock(&c->mu);
  int left = --c->refs;
  pthread_mutex_unlock(&c->mu);
  if (left)
    return;
  mef3_server *s = c->s;
  int was_call = c->call != NULL;
  pthread_mutex_lock(&s->mu);
  int counted = c->st.counted;
  pthread_mutex_unlock(&s->mu);
  call_free(c);
  if (!was_call)
    return;
  pthread_mutex_lock(&s->mu);
  s->stats.active_calls--;
  if (counted)
    s->stats.active_streams--;
  pthread_cond_broadcast(&s->done_cv);
  pthread_mutex_unlock(&s->mu);
}

static void call_ref(call *c) {
  pthread_mutex_lock(&c->mu);
  c->refs++;
  pthread_mutex_unlock(&c->mu);
}

/* Ask the core for the next call of method m. */
static void request_call(mef3_server *s, method m) {
  call *c = calloc(1, sizeof *c);
  if (!c) {
    slog(s, MEF3_LOG_ERROR, "out of memory: %s no longer served",
         method_names[m]);
    return;
  }
  c->s = s;
  c->m = m;
  c->refs = 1;
  pthread_mutex_init(&c->mu, NULL);
  grpc_metadata_array_init(&c->md);
  if (m == M_OTHER)
    grpc_call_details_init(&c->other);
  /* t_new last: its release store publishes everything before it. */
  tag *tags[] = {&c->t_finish, &c->t_send, &c->t_close, &c->t_new};
  for (int k = 0; k < 4; k++) {
    atomic_store_explicit(&tags[k]->kind, T_FINISH - k, memory_order_relaxed);
    atomic_store_explicit(&tags[k]->c, c, memory_order_release);
  }
  grpc_call_error e =
      m == M_OTHER
          ? grpc_server_request_call(s->gs, &c->call, &c->other, &c->md,
                                     s->cq, s->cq, &c->t_new)
          : grpc_server_request_registered_call(
                s->gs, s->rm[m], &c->call, &c->deadline, &c->md, &c->payload,
                s->cq, s->cq, &c->t_new);
  if (e != GRPC_CALL_OK) {
    slog(s, MEF3_LOG_ERROR, "cannot request calls of %s (error %d)",
         method_names[m], (int)e);
    call_free(c);
  }
}

static void enqueue(mef3_server *s, call *c) {
  call_ref(c);
  pthread_mutex_lock(&s->mu);
  c->next = NULL;
  if (s->qtail)
    s->qtail->next = c;
  else
    s->qhead = c;
  s->qtail = c;
  pthread_cond_signal(&s->work_cv);
  pthread_mutex_unlock(&s->mu);
}

/* Start a batch on the call, holding one reference until it completes. */
static void start_batch(call *c, const grpc_op *ops, size_t n, tag *t) {
  call_ref(c);
  grpc_call_error e = grpc_call_start_batch(c->call, ops, n, t, NULL);
  if (e != GRPC_CALL_OK) {
    slog(c->s, MEF3_LOG_ERROR, "%s: grpc_call_start_batch failed (%d)",
         method_names[c->m], (int)e);
    call_unref(c);
  }
}

/*
 * Send `msg` (may be NULL) and the status: the reply of a unary call, or
 * the end of a stream.  Takes `msg`.
 */
static void finish(call *c, grpc_byte_buffer *msg, grpc_status_code st,
                   const char *details) {
  /* A stream's slot is free once its last batch starts: the client can
   * see the status only after this, so a client reading one window after
   * another is never refused by its own previous stream. */
  mef3_server *s = c->s;
  pthread_mutex_lock(&s->mu);
  if (c->st.counted) {
    c->st.counted = 0;
    s->stats.active_streams--;
  }
  pthread_mutex_unlock(&s->mu);
  grpc_op ops[3];
  size_t n = 0;
  memset(ops, 0, sizeof ops);
  pthread_mutex_lock(&c->mu);
  int need_md = !c->sent_md;
  c->sent_md = 1;
  if (details && st != GRPC_STATUS_OK && !c->has_details) {
    c->details = grpc_slice_from_copied_string(details);
    c->has_details = 1;
  }
  pthread_mutex_unlock(&c->mu);
  if (need_md)
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
  if (msg) {
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = msg;
  }
  ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  ops[n].data.send_status_from_server.status = st;
  ops[n++].data.send_status_from_server.status_details =
      c->has_details ? &c->details : NULL;
  start_batch(c, ops, n, &c->t_finish);
  /* The batch holds its own reference to the message. */
  if (msg)
    grpc_byte_buffer_destroy(msg);
}

/* ---- FileInfoResponse ---- */

typedef struct {
  FileInfoResponse r;
  float *rates;
  double *fs;
  int64_t *starts, *ends, *ns;
  char **names, **units;
} info_reply;

static void info_reply_free(info_reply *ir) {
  free(ir->rates);
  free(ir->fs);
  free(ir->starts);
  free(ir->ends);
  free(ir->ns);
  free(ir->names);
  free(ir->units);
}

/* Fill a reply from `info` (borrowed until the reply is packed). */
static int info_reply_fill(info_reply *ir, const char *path,
                           mef3_file_info *info) {
  memset(ir, 0, sizeof *ir);
  file_info_response__init(&ir->r);
  ir->r.file_path = (char *)path;
  if (!info)
    return 0;
  size_t n = info->n_channels;
  size_t k = n ? n : 1;
  ir->rates = malloc(k * sizeof *ir->rates);
  ir->fs = malloc(k * sizeof *ir->fs);
  ir->starts = malloc(k * sizeof *ir->starts);
  ir->ends = malloc(k * sizeof *ir->ends);
  ir->ns = malloc(k * sizeof *ir->ns);
  ir->names = malloc(k * sizeof *ir->names);
  ir->units = malloc(k * sizeof *ir->units);
  if (!ir->rates || !ir->fs || !ir->starts || !ir->ends || !ir->ns ||
      !ir->names || !ir->units) {
    info_reply_free(ir);
    return MEF3_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    const mef3_file_channel *ch = &info->channels[i];
    ir->names[i] = (char *)ch->name;
    ir->units[i] = (char *)ch->units;
    ir->rates[i] = (float)ch->fs;
    ir->fs[i] = ch->fs;
    ir->starts[i] = ch->start_uutc;
    ir->ends[i] = ch->end_uutc;
    ir->ns[i] = ch->n_samples;
  }
  FileInfoResponse *r = &ir->r;
  r->file_opened = 1;
  r->number_of_channels = (int64_t)n;
  r->n_channel_names = r->n_channel_sampling_rates = r->n_channel_start_uutc =
      r->n_channel_end_uutc = r->n_channel_fs = r->n_channel_n_samples =
          r->n_channel_units = n;
  r->channel_names = ir->names;
  r->channel_sampling_rates = ir->rates;
  r->channel_start_uutc = ir->starts;
  r->channel_end_uutc = ir->ends;
  r->channel_fs = ir->fs;
  r->channel_n_samples = ir->ns;
  r->channel_units = ir->units;
  r->start_uutc = info->start_uutc;
  r->end_uutc = info->end_uutc;
  r->duration_s = info->duration_s;
  r->access_level = info->access_level;
  return 0;
}

/* ---- unary methods ---- */

static void reply_info(call *c, info_reply *ir, int rc, const char *msg) {
  if (rc) {
    ir->r.error_message = (char *)msg;
    ir->r.error_code = (char *)mef3_errname(rc);
  }
  grpc_byte_buffer *bb = mef3__rpc_pack(&ir->r.base);
  grpc_status_code st = mef3__rpc_status_of(rc);
  if (!bb)
    finish(c, NULL, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  else
    finish(c, bb, st, msg);
}

/*
 * OpenFile, FileInfo or CloseFile of an empty path, or of a path or
 * password holding a NUL byte (which C strings would cut): answered in
 * the reply, file_opened = false and a message, with status OK, as the
 * original answers (its client raises on any other status).  1 when it
 * answered.
 */
static int bad_path_reply(mef3_server *s, call *c, const char *path) {
  int nul = mef3__rpc_field_has_nul(c->payload, 1);
  /* (a path is cut at its NUL: the message shows what came before) */
  int pw_nul = c->m == M_OPEN && mef3__rpc_field_has_nul(c->payload, 2);
  if ((path[0] || c->m == M_CLOSE) && !nul && !pw_nul)
    return 0; /* closing "" closes nothing, no error (as the original) */
  char msg[1200];
  const char *why = pw_nul ? "the password holds a NUL byte"
                    : nul  ? "the path holds a NUL byte"
                           : "an empty path";
  if (c->m == M_OPEN && pw_nul)
    snprintf(msg, sizeof msg, "Cannot open %s: %s", path, why);
  else
    snprintf(msg, sizeof msg, "%s: %s (%s)",
             c->m == M_OPEN ? "File does not exist" : "File not open", path,
             why);
  slog(s, MEF3_LOG_WARN, "%s: %s", method_names[c->m], msg);
  info_reply ir;
  info_reply_fill(&ir, path, NULL);
  if (pw_nul) {
    /* a password that cannot be right is a wrong password: refused with
     * the status of every other (PERMISSION_DENIED), never cut short */
    reply_info(c, &ir, MEF3_EPASSWORD, msg);
    info_reply_free(&ir);
    return 1;
  }
  ir.r.error_message = msg;
  ir.r.error_code = (char *)mef3_errname(MEF3_ENOTFOUND); /* status OK */
  grpc_byte_buffer *bb = mef3__rpc_pack(&ir.r.base);
  if (!bb)
    finish(c, NULL, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  else
    finish(c, bb, GRPC_STATUS_OK, NULL);
  info_reply_free(&ir);
  return 1;
}

static void do_open(mef3_server *s, call *c) {
  OpenFileRequest *rq = (OpenFileRequest *)mef3__rpc_unpack(
      &open_file_request__descriptor, c->payload);
  if (!rq) {
    finish(c, NULL, GRPC_STATUS_INVALID_ARGUMENT, "malformed OpenFileRequest");
    return;
  }
  const char *path = rq->file_path ? rq->file_path : "";
  const char *pw = rq->password && rq->password[0] ? rq->password : NULL;
  if (bad_path_reply(s, c, path)) {
    open_file_request__free_unpacked(rq, NULL);
    return;
  }
  int already = 0;
  int64_t t0 = now_ns();
  mef3_files_access acc;
  int rc = mef3_files_open_as(s->fm, path, pw, &acc, &already);
  info_reply ir;
  mef3_file_info *info = NULL;
  char msg[PATH_MAX + 1200];
  msg[0] = '\0';
  /* Another client's CloseFile can come between the open and the info
   * (the token then is dead): open again (a few times) rather than fail
   * an open that succeeded with "not open". */
  for (int again = 0;
       !rc &&
       ((rc = mef3_files_info_as(s->fm, path, acc.token, &info)) ==
            MEF3_ENOTFOUND ||
        rc == MEF3_EPASSWORD) &&
       again < 8;
       again++)
    rc = mef3_files_open_as(s->fm, path, pw, &acc, &already);
  if (rc) {
    char why[PATH_MAX + 1100], real[PATH_MAX];
    snprintf(why, sizeof why, "%s", err_msg(rc));
    size_t pl = strlen(path);
    const char *w = why;
    if (!strncmp(w, path, pl) && !strncmp(w + pl, ": ", 2))
      w += pl + 2;
    /* A path that is not there: the original's words first, then ours. */
    if (rc == MEF3_ENOTFOUND &&
        mef3_files_resolve(s->root, path, real, sizeof real) == MEF3_ENOTFOUND)
      /* (a very long path shortened: the detail must still fit a
       * client's message) */
      snprintf(msg, sizeof msg, "File does not exist: %.*s%s (%s)",
               pl > 300 ? 200 : (int)pl, path, pl > 300 ? "..." : "", w);
    else
      snprintf(msg, sizeof msg, "%s", why);
  }
  if (rc) {
    slog(s, MEF3_LOG_WARN, "open %s failed: %s (%s)", path, msg,
         mef3_errname(rc));
    info_reply_fill(&ir, path, NULL);
  } else {
    if (info_reply_fill(&ir, path, info)) {
      rc = MEF3_ENOMEM;
      snprintf(msg, sizeof msg, "out of memory");
      info_reply_fill(&ir, path, NULL);
    } else if (acc.token[0]) {
      ir.r.access_token = acc.token; /* only to whoever gave the password */
    }
    if (rc) {
      /* out of memory: said above */
    } else if (already) {
      /* As the original: the file's info, with a note. */
      snprintf(msg, sizeof msg, "File already open: %s", path);
      ir.r.error_message = msg;
      ir.r.error_code = (char *)mef3_errname(MEF3_EEXIST);
    } else {
      slog(s, MEF3_LOG_DEBUG,
           "opened %s: %zu channels, %.1f s, %.1f ms%s", path,
           info->n_channels, info->duration_s, (now_ns() - t0) / 1e6,
           pw ? " (with a password)" : "");
    }
  }
  reply_info(c, &ir, rc, msg);
  info_reply_free(&ir);
  mef3_file_info_free(info);
  mef3__server_wipe(acc.token, sizeof acc.token);
  open_file_request__free_unpacked(rq, NULL);
}

static void do_info_or_close(mef3_server *s, call *c) {
  FileInfoRequest *rq = (FileInfoRequest *)mef3__rpc_unpack(
      &file_info_request__descriptor, c->payload);
  if (!rq) {
    finish(c, NULL, GRPC_STATUS_INVALID_ARGUMENT, "malformed FileInfoRequest");
    return;
  }
  const char *path = rq->file_path ? rq->file_path : "";
  if (bad_path_reply(s, c, path)) {
    file_info_request__free_unpacked(rq, NULL);
    return;
  }
  info_reply ir;
  mef3_file_info *info = NULL;
  char msg[1100];
  msg[0] = '\0';
  int rc;
  char token[MEF3__SERVER_TOKEN_MAX];
  mef3__server_token(&c->md, token, sizeof token);
  if (c->m == M_CLOSE) {
    rc = mef3_files_close_as(s->fm, path, token);
    if (rc == MEF3_ENOTFOUND) /* as the original: closed already, fine */
      rc = 0;
    else if (rc)
      snprintf(msg, sizeof msg, "%s", err_msg(rc));
    if (rc)
      slog(s, MEF3_LOG_WARN, "close %s failed: %s", path, msg);
    else
      slog(s, MEF3_LOG_INFO, "closed %s", path);
    info_reply_fill(&ir, path, NULL);
  } else {
    rc = mef3_files_info_as(s->fm, path, token, &info);
    if (rc == MEF3_ENOTFOUND) { /* as the original: not open, no error */
      rc = 0;
      info = NULL;
    } else if (rc) {
      snprintf(msg, sizeof msg, "%s", err_msg(rc));
    }
    if (info_reply_fill(&ir, path, info)) {
      rc = MEF3_ENOMEM;
      snprintf(msg, sizeof msg, "out of memory");
      info_reply_fill(&ir, path, NULL);
    }
    slog(s, MEF3_LOG_DEBUG, "info %s: %s", path,
         rc ? msg : info ? "open" : "not open");
  }
  reply_info(c, &ir, rc, msg);
  info_reply_free(&ir);
  mef3_file_info_free(info);
  mef3__server_wipe(token, sizeof token);
  file_info_request__free_unpacked(rq, NULL);
}

static void do_list(mef3_server *s, call *c) {
  ListOpenFilesResponse r = LIST_OPEN_FILES_RESPONSE__INIT;
  char **paths = NULL;
  size_t n = 0;
  int rc = mef3_files_list(s->fm, &paths, &n);
  char msg[600] = "";
  if (rc)
    snprintf(msg, sizeof msg, "%s", err_msg(rc));
  r.file_paths = paths;
  r.n_file_paths = n;
  r.error_message = msg;
  grpc_byte_buffer *bb = mef3__rpc_pack(&r.base);
  slog(s, MEF3_LOG_DEBUG, "list: %zu open files", n);
  if (!bb)
    finish(c, NULL, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  else
    finish(c, bb, mef3__rpc_status_of(rc), msg);
  mef3_files_list_free(paths, n);
}

/* ---- GetSignalRange ---- */

static void stream_error(call *c, int rc, const char *msg) {
  mef3_server *s = c->s;
  SignalChunk ch = SIGNAL_CHUNK__INIT;
  const char *path =
      c->st.req && c->st.req->file_path ? c->st.req->file_path : "";
  ch.file_path = (char *)path;
  ch.error_message = (char *)msg;
  ch.error_code = (char *)mef3_errname(rc);
  slog(s, rc == MEF3_ELIMIT || rc == MEF3_EINVAL || rc == MEF3_EPASSWORD
              ? MEF3_LOG_WARN
                                                   : MEF3_LOG_ERROR,
       "range %s failed: %s (%s)", path, msg, mef3_errname(rc));
  grpc_byte_buffer *bb = mef3__rpc_pack(&ch.base);
  grpc_status_code st = mef3__rpc_status_of(rc);
  finish(c, bb, st, msg);
}

/* Position of time t on the grid of a channel starting at cs, before the
 * files layer rounds it. */
static double grid_pos(int64_t t, int64_t cs, double fs) {
  return (double)(t - cs) * fs / 1e6;
}

/*
 * A time t whose slot is exactly (window start's slot + s) on every
 * channel read, with a safe margin from a rounding tie; 0 on success.
 */
static int find_boundary(const stream *st, const int64_t *cs,
                         const int64_t *base, int64_t s, int64_t *out) {
  int64_t start = st->req->start_uutc;
  int64_t t = start + (int64_t)llround((double)s * 1e6 / st->fs);
  static const int step[] = {0, 1, -1, 2, -2, 3, -3};
  for (size_t k = 0; k < sizeof step / sizeof *step; k++) {
    int64_t cand = t + step[k];
    size_t i;
    for (i = 0; i < st->nch; i++) {
      double d = grid_pos(cand, cs[i], st->fs) - (double)(base[i] + s);
      if (fabs(d) >= 0.5 - 1e-6)
        break;
    }
    if (i == st->nch) {
      *out = cand;
      return 0;
    }
  }
  return -1;
}

/*
 * Plan the reads of a window longer than one chunk: chunk k is the window
 * [ts[k], te[k]) whose samples are exactly samples [k*per_chunk, ...) of
 * the whole window on every channel.  Returns 0, or -1 when some boundary
 * has no such time (the window is then read whole and cut).
 */
static int plan_pieces(stream *st) {
  int64_t n_pieces = (st->total + st->per_chunk - 1) / st->per_chunk;
  int64_t *cs = malloc(st->nch * sizeof *cs);
  int64_t *base = malloc(st->nch * sizeof *base);
  st->ts = malloc((size_t)n_pieces * sizeof *st->ts);
  st->te = malloc((size_t)n_pieces * sizeof *st->te);
  int ok = cs && base && st->ts && st->te;
  for (size_t i = 0; ok && i < st->nch; i++) {
    cs[i] = MEF3_UUTC_NO_ENTRY;
    for (size_t j = 0; j < st->info->n_channels; j++)
      if (!strcmp(st->info->channels[j].name, st->chans[i]))
        cs[i] = st->info->channels[j].start_uutc;
    /* A channel without data, or times far apart: no exact grid math. */
    if (cs[i] == MEF3_UUTC_NO_ENTRY ||
        fabs((double)st->req->start_uutc - (double)cs[i]) > 0x1p52 ||
        fabs((double)st->req->end_uutc - (double)cs[i]) > 0x1p52) {
      ok = 0;
      break;
    }
    double x = grid_pos(st->req->start_uutc, cs[i], st->fs);
    base[i] = (int64_t)rint(x); /* the files layer's rule (ties excluded) */
    /* A start on a rounding tie: leave it to one whole read. */
    if (fabs(x - (double)base[i]) >= 0.5 - 1e-6)
      ok = 0;
  }
  for (int64_t k = 0; ok && k < n_pieces; k++) {
    int64_t s0 = k * st->per_chunk;
    int64_t len = s0 + st->per_chunk > st->total ? st->total - s0
                                                 : st->per_chunk;
    if (k == 0)
      st->ts[0] = st->req->start_uutc;
    else if (find_boundary(st, cs, base, s0, &st->ts[k]))
      ok = 0;
    if (!ok)
      break;
    int64_t te = st->ts[k] + (int64_t)llround((double)len * 1e6 / st->fs);
    int found = 0;
    static const int step[] = {0, 1, -1, 2, -2, 3, -3};
    for (size_t j = 0; j < sizeof step / sizeof *step && !found; j++)
      if (mef3_files_window_samples(st->ts[k], te + step[j], st->fs) ==
          len) {
        st->te[k] = te + step[j];
        found = 1;
      }
    ok = found;
  }
  free(cs);
  free(base);
  if (!ok) {
    free(st->ts);
    free(st->te);
    st->ts = st->te = NULL;
    return -1;
  }
  return 0;
}

/*
 * A SignalChunk as a byte buffer without copying the samples: the packed
 * header fields, then field 2 (array_bytes) as its own slice pointing at
 * `data`; `owner` is freed with `destroy` when gRPC releases it.
 */
static grpc_byte_buffer *chunk_buffer(const SignalChunk *hdr,
                                      const float *data, size_t nbytes,
                                      void *owner, void (*destroy)(void *)) {
  size_t hn = signal_chunk__get_packed_size(hdr);
  uint8_t *h = malloc(hn + 11);
  if (!h) {
    destroy(owner);
    return NULL;
  }
  signal_chunk__pack(hdr, h);
  h[hn++] = (2 << 3) | 2; /* field 2, length-delimited */
  hn += mef3__rpc_varint(h + hn, nbytes);
  grpc_slice sl[2];
  sl[0] = grpc_slice_new(h, hn, free);
  sl[1] = grpc_slice_new_with_user_data((void *)data, nbytes, destroy, owner);
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(sl, 2);
  grpc_slice_unref(sl[0]);
  grpc_slice_unref(sl[1]);
  return bb;
}

/* A rate as Python's repr(round(fs, 6)) shows it: "256.0", "499.7". */
static void py_rate(char *buf, size_t cap, double fs) {
  char six[64], e[64];
  snprintf(six, sizeof six, "%.6f", fs); /* exact value, rounded: round() */
  double r = strtod(six, NULL);
  int p = 1; /* the fewest significant digits that read back */
  for (; p < 17; p++) {
    snprintf(e, sizeof e, "%.*e", p - 1, r);
    if (strtod(e, NULL) == r)
      break;
  }
  snprintf(e, sizeof e, "%.*e", p - 1, r);
  int x = atoi(strchr(e, 'e') + 1);
  if (x < -4 || x >= 16 || !isfinite(r)) { /* repr's exponent form */
    snprintf(buf, cap, "%s", e);
    return;
  }
  int dec = p - 1 - x;
  snprintf(buf, cap, "%.*f%s", dec > 0 ? dec : 0, r, dec > 0 ? "" : ".0");
}

/*
 * "Requested channels do not share a sampling rate: {256.0, 1000.0}" as
 * the original says it (its set of the rates rounded to 6 decimals, here
 * ascending), then which channel has which rate.
 */
static void rates_message(char *msg, size_t cap, const mef3_file_info *info,
                          const char *const *chans, size_t nch) {
  double seen[16];
  const char *who[16];
  size_t n = 0;
  for (size_t i = 0; i < nch; i++) {
    double fs = 0;
    for (size_t j = 0; j < info->n_channels; j++)
      if (!strcmp(info->channels[j].name, chans[i]))
        fs = info->channels[j].fs;
    char a[64], b[64];
    py_rate(a, sizeof a, fs);
    size_t k = 0;
    for (; k < n; k++) {
      py_rate(b, sizeof b, seen[k]);
      if (!strcmp(a, b))
        break;
    }
    if (k == n && n < sizeof seen / sizeof *seen) {
      /* insertion into the ascending list */
      size_t at = n++;
      while (at > 0 && seen[at - 1] > fs) {
        seen[at] = seen[at - 1];
        who[at] = who[at - 1];
        at--;
      }
      seen[at] = fs;
      who[at] = chans[i];
    }
  }
  size_t len = (size_t)snprintf(
      msg, cap, "Requested channels do not share a sampling rate: {");
  for (size_t k = 0; k < n && len < cap; k++) {
    char a[64];
    py_rate(a, sizeof a, seen[k]);
    len += (size_t)snprintf(msg + len, cap - len, "%s%s", k ? ", " : "", a);
  }
  if (len < cap)
    len += (size_t)snprintf(msg + len, cap - len, "} (");
  for (size_t k = 0; k < n && len < cap; k++)
    len += (size_t)snprintf(msg + len, cap - len, "%s%s at %.10g Hz",
                            k ? ", " : "", who[k], seen[k]);
  if (len < cap)
    snprintf(msg + len, cap - len, ")");
}

/* First step of a stream: parse, check, plan.  0, or an error was sent. */
static int range_begin(mef3_server *s, call *c) {
  stream *st = &c->st;
  st->t0_ns = now_ns();
  st->req = (SignalRangeRequest *)mef3__rpc_unpack(
      &signal_range_request__descriptor, c->payload);
  if (!st->req) {
    finish(c, NULL, GRPC_STATUS_INVALID_ARGUMENT,
           "malformed SignalRangeRequest");
    return -1;
  }
  SignalRangeRequest *rq = st->req;
  const char *path = rq->file_path ? rq->file_path : "";
  char msg[1100];

  pthread_mutex_lock(&s->mu);
  int busy = s->stats.active_streams >= (uint64_t)s->o.max_streams;
  if (busy) {
    s->stats.refused++;
  } else {
    s->stats.active_streams++;
    st->counted = 1;
  }
  pthread_mutex_unlock(&s->mu);
  if (busy) {
    snprintf(msg, sizeof msg,
             "server busy: %d streams are running, the limit "
             "(--max-streams); try again",
             s->o.max_streams);
    stream_error(c, MEF3_ELIMIT, msg);
    return -1;
  }
  if (rq->end_uutc <= rq->start_uutc) {
    stream_error(c, MEF3_EINVAL, "end_uutc must be greater than start_uutc");
    return -1;
  }
  /* 2^60 µs is 36,000 years: beyond it, differences of times overflow. */
  if (rq->start_uutc < -((int64_t)1 << 60) ||
      rq->end_uutc > ((int64_t)1 << 60)) {
    stream_error(c, MEF3_EINVAL, "start_uutc/end_uutc out of range");
    return -1;
  }
  mef3__server_token(&c->md, st->token, sizeof st->token);
  int rc = mef3_files_info_as(s->fm, path, st->token, &st->info);
  if (rc == MEF3_ENOTFOUND) {
    snprintf(msg, sizeof msg, "File not open: %s", path);
    stream_error(c, rc, msg);
    return -1;
  }
  if (rc) {
    stream_error(c, rc, err_msg(rc));
    return -1;
  }
  mef3_file_info *info = st->info;
  st->nch = rq->n_channel_names ? rq->n_channel_names : info->n_channels;
  st->chans = calloc(st->nch ? st->nch : 1, sizeof *st->chans);
  if (!st->chans) {
    stream_error(c, MEF3_ENOMEM, "out of memory");
    return -1;
  }
  /* Unknown channels, all of them named in one message. */
  size_t len = 0;
  int unknown = 0;
  len += (size_t)snprintf(msg, sizeof msg, "Unknown channels: [");
  double fs = 0;
  int mixed = 0;
  for (size_t i = 0; i < st->nch; i++) {
    const char *name =
        rq->n_channel_names ? rq->channel_names[i] : info->channels[i].name;
    const mef3_file_channel *ch = NULL;
    for (size_t j = 0; j < info->n_channels && !ch; j++)
      if (!strcmp(info->channels[j].name, name))
        ch = &info->channels[j];
    if (!ch) {
      if (len < sizeof msg)
        len += (size_t)snprintf(msg + len, sizeof msg - len, "%s'%s'",
                                unknown ? ", " : "", name);
      unknown++;
      continue;
    }
    st->chans[i] = ch->name;
    if (i == 0 || fs == 0)
      fs = ch->fs;
    else if (fabs(ch->fs - fs) > 1e-6 * fs)
      mixed = 1;
  }
  if (unknown) {
    if (len < sizeof msg)
      snprintf(msg + len, sizeof msg - len, "]");
    stream_error(c, MEF3_ENOTFOUND, msg);
    return -1;
  }
  if (st->nch == 0) {
    stream_error(c, MEF3_EINVAL, "the file has no channels");
    return -1;
  }
  st->fs = fs;
  if (mixed) {
    rates_message(msg, sizeof msg, info, st->chans, st->nch);
    stream_error(c, MEF3_EINVAL, msg);
    return -1;
  }
  st->total = mef3_files_window_samples(rq->start_uutc, rq->end_uutc, fs);
  if (st->total <= 0) {
    stream_error(c, MEF3_EINVAL, "Requested window is shorter than one sample");
    return -1;
  }
  if ((double)st->total * (double)st->nch > (double)s->o.max_samples) {
    snprintf(msg, sizeof msg,
             "request too large: %zu channels x %" PRId64
             " samples exceeds the limit of %" PRId64
             " samples per request (--max-samples); read shorter windows",
             st->nch, st->total, s->o.max_samples);
    stream_error(c, MEF3_ELIMIT, msg);
    return -1;
  }
  int64_t per = s->o.chunk_bytes / (int64_t)(st->nch * sizeof(float));
  st->per_chunk = per < 1 ? 1 : per;
  st->split = st->total > st->per_chunk && plan_pieces(st) == 0;
  slog(s, MEF3_LOG_DEBUG,
       "range %s [%" PRId64 ", %" PRId64 "): %zu ch x %" PRId64
       " samples, %" PRId64 " chunk(s)%s",
       path, rq->start_uutc, rq->end_uutc, st->nch, st->total,
       (st->total + st->per_chunk - 1) / st->per_chunk,
       st->total > st->per_chunk ? (st->split ? ", read per chunk"
                                              : ", read whole")
                                 : "");
  return 0;
}

/* Read and send the next chunk of a stream (a work-thread job). */
static void range_step(mef3_server *s, call *c) {
  stream *st = &c->st;
  if (!st->req && range_begin(s, c))
    return;
  SignalRangeRequest *rq = st->req;
  const char *path = rq->file_path ? rq->file_path : "";

  pthread_mutex_lock(&c->mu);
  int cancelled = c->cancelled;
  pthread_mutex_unlock(&c->mu);
  pthread_mutex_lock(&s->mu);
  cancelled |= s->cancel_all;
  pthread_mutex_unlock(&s->mu);
  if (!cancelled && mef3__rpc_past(c->deadline)) {
    grpc_call_cancel_with_status(c->call, GRPC_STATUS_DEADLINE_EXCEEDED,
                                 "deadline exceeded", NULL);
    cancelled = 1;
  }
  if (cancelled) {
    slog(s, MEF3_LOG_INFO,
         "range %s: cancelled after %" PRId64 " of %" PRId64
         " samples; decoding stopped",
         path, st->next, st->total);
    pthread_mutex_lock(&s->mu);
    s->stats.cancelled++;
    pthread_mutex_unlock(&s->mu);
    return;
  }

  int64_t s0 = st->next;
  int64_t s1 = s0 + st->per_chunk < st->total ? s0 + st->per_chunk : st->total;
  size_t len = (size_t)(s1 - s0);
  size_t nbytes = st->nch * len * sizeof(float);
  mef3_files_stats before, after;
  int debug = s->o.log && s->o.log_level <= MEF3_LOG_DEBUG;
  if (debug)
    mef3_files_stats_get(s->fm, &before);
  int64_t t_read = now_ns();
  const float *data = NULL;
  void *owner = NULL;
  void (*destroy)(void *) = mef3__sendbuf_put;
  int rc = 0;
  if (st->split || (s0 == 0 && s1 == st->total)) {
    /* One read of exactly this chunk, into reused memory. */
    int64_t t0 = st->split ? st->ts[s0 / st->per_chunk] : rq->start_uutc;
    int64_t t1 = st->split ? st->te[s0 / st->per_chunk] : rq->end_uutc;
    float *buf = mef3__sendbuf_get(s->bufs, nbytes);
    if (!buf) {
      stream_error(c, MEF3_ENOMEM, "out of memory");
      return;
    }
    size_t got = 0;
    rc = mef3_files_read_into_as(s->fm, path, st->token, st->chans, st->nch,
                                 t0, t1, buf, st->nch * len, &got);
    if (!rc && got != len) {
      mef3__sendbuf_put(buf);
      stream_error(c, MEF3_ERROR,
                   "internal error: a chunk's read had the wrong size");
      return;
    }
    if (rc)
      mef3__sendbuf_put(buf);
    data = buf;
    owner = buf;
  } else {
    /* No exact split: the window is read whole once and cut. */
    if (!st->whole)
      rc = mef3_files_read_as(s->fm, path, st->token, st->chans, st->nch,
                              rq->start_uutc, rq->end_uutc, &st->whole);
    if (!rc && ((int64_t)st->whole->n_samples != st->total ||
                st->whole->n_channels != st->nch)) {
      stream_error(c, MEF3_ERROR,
                   "internal error: the window's read had the wrong size");
      return;
    }
    if (!rc) {
      float *buf = mef3__sendbuf_get(s->bufs, nbytes);
      if (!buf) {
        stream_error(c, MEF3_ENOMEM, "out of memory");
        return;
      }
      for (size_t i = 0; i < st->nch; i++)
        memcpy(buf + i * len, st->whole->data + i * st->whole->n_samples + s0,
               len * sizeof *buf);
      data = buf;
      owner = buf;
    }
  }
  if (rc) {
    stream_error(c, rc, err_msg(rc));
    return;
  }
  t_read = now_ns() - t_read;
  if (debug) {
    mef3_files_stats_get(s->fm, &after);
    slog(s, MEF3_LOG_DEBUG,
         "range %s chunk %" PRId64 "/%" PRId64 ": %zu x %zu read in %.2f ms, "
         "tiles: %" PRIu64 " hit, %" PRIu64 " missed (server-wide)",
         path, s0 / st->per_chunk + 1,
         (st->total + st->per_chunk - 1) / st->per_chunk, st->nch, len,
         t_read / 1e6, after.hits - before.hits,
         after.misses - before.misses);
  }

  SignalChunk ch = SIGNAL_CHUNK__INIT;
  int64_t shape[2] = {(int64_t)st->nch, (int64_t)len};
  int64_t span = rq->end_uutc - rq->start_uutc;
  /* Each chunk's span as the original computes it. */
  double a = (double)rq->start_uutc +
             ((double)s0 / (double)st->total) * (double)span;
  double b = (double)rq->start_uutc +
             ((double)s1 / (double)st->total) * (double)span;
  ch.file_path = (char *)path;
  ch.dtype = "float32";
  ch.n_shape = 2;
  ch.shape = shape;
  ch.start_uutc = (int64_t)a;
  ch.end_uutc = (int64_t)b;
  ch.fs = st->fs;
  ch.n_channel_names = st->nch;
  ch.channel_names = (char **)st->chans;
  ch.sample_offset = s0;
  ch.total_samples = st->total;
  grpc_byte_buffer *bb = chunk_buffer(&ch, data, nbytes, owner, destroy);
  if (!bb) {
    stream_error(c, MEF3_ENOMEM, "out of memory");
    return;
  }
  st->next = s1;
  pthread_mutex_lock(&s->mu);
  s->stats.chunks_sent++;
  s->stats.bytes_sent += nbytes;
  pthread_mutex_unlock(&s->mu);

  if (s1 == st->total) {
    /* The last chunk and the status in one batch: one wake-up fewer here
     * and in the client, which gets both in one read. */
    slog(s, MEF3_LOG_INFO,
         "range %s [%" PRId64 ", %" PRId64 "): %zu ch x %" PRId64
         " samples in %.1f ms",
         path, rq->start_uutc, rq->end_uutc, st->nch, st->total,
         (now_ns() - st->t0_ns) / 1e6);
    finish(c, bb, GRPC_STATUS_OK, NULL);
    return;
  }
  grpc_op ops[2];
  size_t n = 0;
  memset(ops, 0, sizeof ops);
  pthread_mutex_lock(&c->mu);
  if (!c->sent_md)
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
  c->sent_md = 1;
  pthread_mutex_unlock(&c->mu);
  ops[n].op = GRPC_OP_SEND_MESSAGE;
  ops[n++].data.send_message.send_message = bb;
  start_batch(c, ops, n, &c->t_send);
  grpc_byte_buffer_destroy(bb);
}

/* A chunk has left: go on, finish, or stop (cq thread). */
static void range_sent(mef3_server *s, call *c, int ok) {
  stream *st = &c->st;
  pthread_mutex_lock(&c->mu);
  int cancelled = c->cancelled || !ok;
  pthread_mutex_unlock(&c->mu);
  if (cancelled) {
    slog(s, MEF3_LOG_INFO,
         "range %s: client gone after %" PRId64 " of %" PRId64 " samples",
         st->req->file_path, st->next, st->total);
    pthread_mutex_lock(&s->mu);
    s->stats.cancelled++;
    pthread_mutex_unlock(&s->mu);
    return;
  }
  /* Only chunks before the last come here (the last one finishes). */
  if (st->next < st->total)
    enqueue(s, c);
}

/* ---- threads ---- */

static void run_job(mef3_server *s, call *c) {
  /* Paths and passwords are C strings below: refuse any a NUL would cut
   * (files.h asks callers taking paths from the wire to). */
  if (c->m == M_RANGE && !c->st.req &&
      mef3__rpc_field_has_nul(c->payload, 1)) {
    slog(s, MEF3_LOG_WARN, "%s: refused a path holding a NUL byte",
         method_names[c->m]);
    finish(c, NULL, GRPC_STATUS_INVALID_ARGUMENT,
           "file_path (or password) holds a NUL byte");
    return;
  }
  switch (c->m) {
  case M_OPEN:
    do_open(s, c);
    break;
  case M_CLOSE:
  case M_INFO:
    do_info_or_close(s, c);
    break;
  case M_LIST:
    do_list(s, c);
    break;
  case M_RANGE:
    range_step(s, c);
    break;
  default:
    break;
  }
}

static void *work_main(void *arg) {
  mef3_server *s = arg;
  for (;;) {
    pthread_mutex_lock(&s->mu);
    while (!s->qhead && !s->stop_workers)
      pthread_cond_wait(&s->work_cv, &s->mu);
    call *c = s->qhead;
    if (!c) {
      pthread_mutex_unlock(&s->mu);
      return NULL;
    }
    s->qhead = c->next;
    if (!s->qhead)
      s->qtail = NULL;
    pthread_mutex_unlock(&s->mu);
    run_job(s, c);
    call_unref(c);
  }
}

static void on_new(mef3_server *s, call *c) {
  pthread_mutex_lock(&s->mu);
  int down = s->shutting_down;
  s->stats.calls++;
  s->stats.active_calls++;
  pthread_mutex_unlock(&s->mu);
  if (!down)
    request_call(s, c->m);
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  op.data.recv_close_on_server.cancelled = &c->cancelled_flag;
  start_batch(c, &op, 1, &c->t_close);
  if (c->m == M_OTHER) {
    /* Unanswered, the core would keep such a call until its deadline (or
     * forever); answer as every gRPC server does. */
    slog(s, MEF3_LOG_WARN, "unknown method %.*s",
         (int)(GRPC_SLICE_LENGTH(c->other.method) < 200
                   ? GRPC_SLICE_LENGTH(c->other.method)
                   : 200),
         (const char *)GRPC_SLICE_START_PTR(c->other.method));
    finish(c, NULL, GRPC_STATUS_UNIMPLEMENTED, "unknown method");
  } else {
    enqueue(s, c);
  }
}

static void *cq_main(void *arg) {
  mef3_server *s = arg;
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(
        s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN)
      return NULL;
    if (ev.type != GRPC_OP_COMPLETE)
      continue;
    tag *t = ev.tag;
    call *c = atomic_load_explicit(&t->c, memory_order_acquire);
    int kind = atomic_load_explicit(&t->kind, memory_order_relaxed);
    if (kind == T_SHUTDOWN) {
      pthread_mutex_lock(&s->mu);
      s->shutdown_seen = 1;
      pthread_cond_broadcast(&s->done_cv);
      pthread_mutex_unlock(&s->mu);
      continue;
    }
    /* Pairs with the lock the thread that started the batch took after
     * its last write to the call (start_batch, call_ref). */
    pthread_mutex_lock(&c->mu);
    pthread_mutex_unlock(&c->mu);
    switch (kind) {
    case T_NEW:
      if (!ev.success) { /* the server is shutting down: no call */
        if (c->call) {
          grpc_call_unref(c->call);
          c->call = NULL;
        }
        call_free(c);
        continue;
      }
      on_new(s, c);
      break;
    case T_CLOSE:
      pthread_mutex_lock(&c->mu);
      if (c->cancelled_flag)
        c->cancelled = 1;
      pthread_mutex_unlock(&c->mu);
      break;
    case T_SEND:
      range_sent(s, c, ev.success);
      break;
    default:
      break;
    }
    call_unref(c); /* the reference of the batch (or of the request) */
  }
}

/* ---- lifecycle ---- */

int mef3_server_start(mef3_server **out, const mef3_server_options *opts) {
  *out = NULL;
  mef3_server_options dflt = MEF3_SERVER_OPTIONS_INIT;
  if (!opts)
    opts = &dflt;
  if (opts->version != MEF3_SERVER_OPTIONS_VERSION || opts->port < 0 ||
      opts->port > 65535 || opts->max_streams < 1 || opts->max_samples < 1 ||
      opts->chunk_bytes < 4)
    return MEF3_EINVAL;
  mef3_server *s = calloc(1, sizeof *s);
  if (!s)
    return MEF3_ENOMEM;
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
  atomic_store(&s->shutdown_tag.kind, T_SHUTDOWN);
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->work_cv, NULL);
  pthread_condattr_t ca_mono;
  pthread_condattr_init(&ca_mono);
  pthread_condattr_setclock(&ca_mono, CLOCK_MONOTONIC);
  pthread_cond_init(&s->done_cv, &ca_mono);
  pthread_condattr_destroy(&ca_mono);
  if (!s->bind) {
    free(s);
    return MEF3_ENOMEM;
  }
  /* Idle chunk memory kept: a few chunks, at most 16 MiB. */
  size_t keep = (size_t)opts->chunk_bytes * 4;
  s->bufs = mef3__sendbufs_new(keep < ((size_t)16 << 20) ? keep
                                                        : (size_t)16 << 20);
  int rc = s->bufs ? mef3_files_new(&s->fm, &s->o.files) : MEF3_ENOMEM;
  if (rc) {
    mef3__sendbufs_release(s->bufs);
    slog(s, MEF3_LOG_ERROR, "file manager: %s", err_msg(rc));
    free(s->bind);
    free(s->root);
    free(s->worker);
    free(s);
    return rc;
  }

  char addr[300];
  rc = mef3__listen_check(s->bind, opts->port, addr, sizeof addr);
  if (rc) {
    mef3_files_free(s->fm);
    mef3__sendbufs_release(s->bufs);
    free(s->bind);
    free(s->root);
    free(s->worker);
    free(s);
    return rc;
  }

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
  for (int m = 0; m < M_COUNT; m++)
    s->rm[m] = grpc_server_register_method(
        s->gs, method_names[m], NULL, GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER,
        0);
  grpc_server_credentials *cred = grpc_insecure_server_credentials_create();
  s->port = grpc_server_add_http2_port(s->gs, addr, cred);
  grpc_server_credentials_release(cred);
  if (s->port <= 0) {
    mef3__server_error(MEF3_EIO, "cannot listen on %s", addr);
    grpc_server_destroy(s->gs);
    grpc_completion_queue_shutdown(s->cq);
    while (grpc_completion_queue_next(s->cq,
                                      gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
               .type != GRPC_QUEUE_SHUTDOWN)
      ;
    grpc_completion_queue_destroy(s->cq);
    grpc_shutdown();
    mef3_files_free(s->fm);
    mef3__sendbufs_release(s->bufs);
    free(s->bind);
    free(s->root);
    free(s->worker);
    free(s);
    return MEF3_EIO;
  }
  grpc_server_start(s->gs);
  for (int m = 0; m < M_COUNT; m++)
    for (int k = 0; k < 2; k++) /* two calls of each method pending */
      request_call(s, (method)m);
  request_call(s, M_OTHER);
  s->cqt = calloc((size_t)s->n_cqt, sizeof *s->cqt);
  s->wt = calloc((size_t)s->n_wt, sizeof *s->wt);
  for (int i = 0; i < s->n_cqt; i++)
    pthread_create(&s->cqt[i], NULL, cq_main, s);
  for (int i = 0; i < s->n_wt; i++)
    pthread_create(&s->wt[i], NULL, work_main, s);
  slog(s, MEF3_LOG_INFO,
       "serving gRPCMef3Server on %s:%d (tiles %.0f s, cache %" PRId64
       " MiB, ttl %.0f s, %s, %d stream(s) max, root %s)",
       s->bind, s->port, s->o.files.tile_duration_s,
       s->o.files.tile_cache_bytes >> 20, s->o.files.cache_ttl_s,
       s->o.files.use_process_pool ? "process pool" : "in-process decode",
       s->o.max_streams, s->root ? s->root : "(none)");
  *out = s;
  return 0;
}

int mef3_server_port(const mef3_server *s) {
  return s ? s->port : 0;
}

/* Wait on done_cv (a CLOCK_MONOTONIC condition) until `deadline_ns`. */
static void wait_until(mef3_server *s, int64_t deadline_ns) {
  struct timespec until = {deadline_ns / 1000000000, deadline_ns % 1000000000};
  pthread_cond_timedwait(&s->done_cv, &s->mu, &until);
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
  slog(s, MEF3_LOG_INFO, "shutting down (%" PRIu64 " call(s) running)",
       active);
  grpc_server_shutdown_and_notify(s->gs, s->cq, &s->shutdown_tag);

  int64_t until = now_ns() + (grace_ms > 0 ? grace_ms : 0) * 1000000;
  pthread_mutex_lock(&s->mu);
  while (s->stats.active_calls > 0 && now_ns() < until)
    wait_until(s, until);
  int cancel = s->stats.active_calls > 0;
  if (cancel)
    s->cancel_all = 1;
  pthread_mutex_unlock(&s->mu);
  if (cancel) {
    slog(s, MEF3_LOG_INFO, "cancelling the calls still running");
    grpc_server_cancel_all_calls(s->gs);
  }
  pthread_mutex_lock(&s->mu);
  while (s->stats.active_calls > 0 || !s->shutdown_seen)
    pthread_cond_wait(&s->done_cv, &s->mu);
  s->stop_workers = 1;
  pthread_cond_broadcast(&s->work_cv);
  pthread_mutex_unlock(&s->mu);
  slog(s, MEF3_LOG_DEBUG, "shutdown: every call is done");
  for (int i = 0; i < s->n_wt; i++)
    pthread_join(s->wt[i], NULL);
  grpc_completion_queue_shutdown(s->cq);
  for (int i = 0; i < s->n_cqt; i++)
    pthread_join(s->cqt[i], NULL);
  grpc_server_destroy(s->gs);
  grpc_completion_queue_destroy(s->cq);
  s->gs = NULL;
  s->cq = NULL;
  slog(s, MEF3_LOG_DEBUG, "shutdown: gRPC server down; stopping the pools");
  mef3_files_free(s->fm);
  s->fm = NULL;
  slog(s, MEF3_LOG_DEBUG, "shutdown: file manager down");
  grpc_shutdown();
  slog(s, MEF3_LOG_INFO, "stopped");
  pthread_mutex_lock(&s->mu);
  s->finished = 1;
  pthread_cond_broadcast(&s->done_cv);
  pthread_mutex_unlock(&s->mu);
}

void mef3_server_free(mef3_server *s) {
  if (!s)
    return;
  mef3_server_shutdown(s, 0);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->work_cv);
  pthread_cond_destroy(&s->done_cv);
  mef3__sendbufs_release(s->bufs); /* freed once gRPC gave all back */
  free(s->cqt);
  free(s->wt);
  free(s->bind);
  free(s->root);
  free(s->worker);
  free(s);
}

void mef3_server_stats_get(mef3_server *s, mef3_server_stats *out) {
  pthread_mutex_lock(&s->mu);
  *out = s->stats;
  pthread_mutex_unlock(&s->mu);
}

void mef3_server_files_stats(mef3_server *s, mef3_files_stats *out) {
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&s->mu);
  int live = s->fm && !s->finished;
  pthread_mutex_unlock(&s->mu);
  if (live)
    mef3_files_stats_get(s->fm, out);
}

mef3_files *mef3_server_files(mef3_server *s) {
  return s ? s->fm : NULL;
}

grpc_server *mef3__server_grpc(mef3_server *s) {
  return s->gs;
}
