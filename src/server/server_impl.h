/*
 * server/server_impl.h - what the files of the gRPC service share: the
 * server object, a call and its tags, a GetSignalRange in progress, and
 * the functions each file offers the others.
 *
 *   server.c             start, shutdown, stats (the server object)
 *   server_threads.c     completion-queue threads, work threads, the job
 *                        queue and the dispatch of a job to its method
 *   server_call.c        a call's life: references, batches, the reply
 *   server_unary.c       OpenFile, FileInfo, CloseFile, ListOpenFiles
 *   server_range_begin.c GetSignalRange's first job: checks, the plan
 *   server_range.c       GetSignalRange's chunks: reads, sends
 *   server_envelope.c    GetEnvelope (an addition): min/max columns
 *   server_creds.c       the access token of a call
 *   server_tls.c         TLS or plain text: the credentials listened with
 *   listen.c, sendbuf.c  the address check, chunk memory
 *
 * Locks: each call's state after `mu` is guarded by the call's mutex; the
 * server's job queue, flags and counters by the server's mutex.  Neither
 * is held while the other is taken, nor across a gRPC or file-manager
 * call.  Private to mef3pool (not installed).
 */
#ifndef MEF3_SERVER_IMPL_H
#define MEF3_SERVER_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "mef3pool/grid.h"
#include "mef3pool/server.h"
#include "rpc/rpc.h"
#include "server/sendbuf.h"
#include "server/server_internal.h"

/* The methods served; MEF3__M_OTHER: a call of a method the service does
 * not have. */
typedef enum {
  MEF3__M_OPEN,
  MEF3__M_CLOSE,
  MEF3__M_INFO,
  MEF3__M_RANGE,
  MEF3__M_LIST,
  MEF3__M_ENVELOPE,
  MEF3__M_COUNT,
  MEF3__M_OTHER = MEF3__M_COUNT
} mef3__method;

/* Full names, MEF3__M_OTHER's a placeholder for logs. */
extern const char *const mef3__method_names[MEF3__M_COUNT + 1];

/* What a completion-queue event is about. */
typedef enum {
  MEF3__T_NEW,
  MEF3__T_CLOSE,
  MEF3__T_SEND,
  MEF3__T_FINISH,
  MEF3__T_SHUTDOWN
} mef3__tag_kind;

typedef struct mef3__call mef3__call;

/* A tag travels through the gRPC core, which synchronizes in code TSan
 * cannot see: its fields are written once, before the call is handed to
 * gRPC, with release stores, and read with acquire loads. */
typedef struct {
  _Atomic(mef3__call *) c;
  _Atomic int kind;
} mef3__tag;

/* A GetSignalRange or GetEnvelope in progress (touched by one job at a
 * time). */
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
  /* GetEnvelope only (total, per_chunk, next count columns there): */
  EnvelopeRequest *ereq;
  mef3_envelope *env;
} mef3__stream;

struct mef3__call {
  mef3_server *s;
  mef3__method m;
  grpc_call *call;
  gpr_timespec deadline;
  grpc_metadata_array md;
  grpc_byte_buffer *payload;
  int cancelled_flag; /* written by the core (RECV_CLOSE_ON_SERVER) */
  grpc_slice details; /* status details; live until the call is freed */
  int has_details;
  grpc_call_details other; /* M_OTHER: the method and host asked for */
  mef3__tag t_new, t_close, t_send, t_finish;
  pthread_mutex_t mu; /* guards what follows */
  int refs;
  int cancelled;
  int sent_md;
  mef3__call *next; /* job queue */
  mef3__stream st;
};

struct mef3_server {
  mef3_server_options o;
  char *bind, *root, *worker;
  mef3_files *fm;
  mef3__sendbufs *bufs; /* chunk memory, reused (sendbuf.h) */
  grpc_server *gs;
  grpc_completion_queue *cq;
  void *rm[MEF3__M_COUNT];
  int port;
  pthread_t *cqt, *wt;
  int n_cqt, n_wt;
  mef3__tag shutdown_tag;
  int tls;                 /* 0 plain text, 1 TLS, 2 mutual TLS */
  char *tls_cert, *tls_key, *tls_ca; /* PEM text until gRPC has it */

  pthread_mutex_t mu; /* guards what follows */
  pthread_cond_t work_cv, done_cv;
  mef3__call *qhead, *qtail;
  int stop_workers;
  int shutting_down, cancel_all, shutdown_seen, finished;
  mef3_server_stats stats;
};

/* ---- server.c ---- */

/* 1 when a line of level `lv` would be logged. */
static inline int mef3__server_logs(const mef3_server *s, mef3_log_level lv) {
  return s->o.log && lv >= s->o.log_level;
}

/* The server's one log line formatter: the line, when `lv` is logged, to
 * the caller's logger.  The file manager's lines come through it too. */
void mef3__server_log(mef3_server *s, mef3_log_level lv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* CLOCK_MONOTONIC in ns. */
int64_t mef3__server_now_ns(void);

/* The message of a failed library call on this thread (mef3_strerror's
 * when the call left none). */
const char *mef3__server_err_msg(int rc);

/* ---- server_tls.c (start's thread) ---- */

/* Read and check the TLS files of the options (none: plain text) and set
 * `tls`; 0, or the error as the last server error naming the file. */
int mef3__server_tls_load(mef3_server *s);

/* The credentials to listen with (TLS from the files loaded, or plain
 * text); release them with grpc_server_credentials_release. */
grpc_server_credentials *mef3__server_tls_creds(mef3_server *s);

/* Wipe and free the PEM text loaded (once gRPC has copied it). */
void mef3__server_tls_drop(mef3_server *s);

/* Log a warning when serving plain text on an address not loopback. */
void mef3__server_tls_warn(mef3_server *s);

/* ---- server_threads.c ---- */

/* The threads' bodies (the argument is the server). */
void *mef3__server_cq_main(void *arg);
void *mef3__server_work_main(void *arg);

/* ---- server_call.c ---- */

/* Ask the core for the next call of method m (logged when it cannot). */
void mef3__call_request(mef3_server *s, mef3__method m);

/* Free a call nobody holds (what the core handed over included). */
void mef3__call_free(mef3__call *c);

/* A reference held by a batch or a job; the last unref frees the call and
 * updates the server's counters. */
void mef3__call_ref(mef3__call *c);
void mef3__call_unref(mef3__call *c);

/* Queue the call's next job (takes a reference for it). */
void mef3__call_enqueue(mef3_server *s, mef3__call *c);

/* Start a batch on the call, holding one reference until it completes. */
void mef3__call_start_batch(mef3__call *c, const grpc_op *ops, size_t n,
                            mef3__tag *t);

/* Send `msg` (may be NULL) and the status: the reply of a unary call, or
 * the end of a stream.  Takes `msg`; frees the call's stream slot. */
void mef3__call_finish(mef3__call *c, grpc_byte_buffer *msg,
                       grpc_status_code st, const char *details);

/* Send one message of a stream (and the initial metadata, the first
 * time); its completion is T_SEND.  Takes `msg`. */
void mef3__call_send(mef3__call *c, grpc_byte_buffer *msg);

/* 1 when a stream stops before its next chunk: the client cancelled or
 * left, the server is cancelling every call, or the deadline has passed
 * (the call is then cancelled with DEADLINE_EXCEEDED); counted in the
 * server's stats.  The caller logs what it stopped. */
int mef3__call_stopped(mef3_server *s, mef3__call *c);

/* ---- server_unary.c (work threads) ---- */

void mef3__unary_open(mef3_server *s, mef3__call *c);
void mef3__unary_info_or_close(mef3_server *s, mef3__call *c);
void mef3__unary_list(mef3_server *s, mef3__call *c);

/* ---- server_range.c ---- */

/* Read and send the next chunk of a stream (a work-thread job; the first
 * one checks the request and plans the chunks). */
void mef3__range_step(mef3_server *s, mef3__call *c);

/* A chunk has left: queue the next one, or stop (cq thread). */
void mef3__range_sent(mef3_server *s, mef3__call *c, int ok);

/* The end of a stream that failed: one SignalChunk carrying `msg` and the
 * code's name, and the code's status (logged). */
void mef3__range_error(mef3__call *c, int rc, const char *msg);

/* ---- server_range_begin.c ---- */

/* The first step of a stream: parse and check the request, take a stream
 * slot, resolve the channels, plan the chunks.  0, or an error was sent. */
int mef3__range_begin(mef3_server *s, mef3__call *c);

/* What GetEnvelope shares with it (st: the call's stream state): */
/* Take one of the max_streams slots: 0, or MEF3_ELIMIT and `msg`. */
int mef3__range_take_slot(mef3_server *s, mef3__stream *st, char *msg,
                          size_t cap);
/* A window's times: NULL when fine, else what is wrong. */
const char *mef3__range_bad_times(int64_t start_uutc, int64_t end_uutc);
/* The channels `names` (none: all of st->info's) into st->chans and
 * their common rate into st->fs: 0, or a code and `msg` (every unknown
 * channel named in one message, MEF3_ENOTFOUND; rates that differ). */
int mef3__range_pick(mef3__stream *st, char *const *names, size_t n_names,
                     char *msg, size_t cap);

/* ---- server_envelope.c (work threads; _sent on a cq thread) ---- */

/* Compute the envelope (first job) and send its next chunk. */
void mef3__envelope_step(mef3_server *s, mef3__call *c);
/* A chunk has left: queue the next one, or stop. */
void mef3__envelope_sent(mef3_server *s, mef3__call *c, int ok);


#endif
