/*
 * server/server_threads.c - the server's threads: the completion-queue
 * threads that run the calls' state machines, and the work threads that
 * run the jobs.
 *
 * One completion queue, polled by `cq_threads` threads; they never block
 * on a decode or on a client.  Work that may block (every file-manager
 * call) goes to a FIFO served by `work_threads` threads, which start the
 * call's next gRPC batch themselves when done.  So:
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
 * A stream has at most one message in flight (server_range.c), so a slow
 * client holds back only its own stream.  RECV_CLOSE_ON_SERVER completes
 * when the client cancels, disconnects or passes its deadline; the flag it
 * sets is checked before every chunk's read.  Each event's call holds the
 * reference of its batch, dropped here once the event is handled.
 */
#include <string.h>

#include "server/server_impl.h"

/* Run one job of a call (work thread). */
static void run_job(mef3_server *s, mef3__call *c) {
  /* Paths and passwords are C strings below: refuse any a NUL would cut
   * (files.h asks callers taking paths from the wire to). */
  if ((c->m == MEF3__M_RANGE || c->m == MEF3__M_ENVELOPE) && !c->st.req &&
      !c->st.ereq &&
      mef3__rpc_field_has_nul(c->payload, 1)) {
    mef3__server_log(s, MEF3_LOG_WARN, "%s: refused a path holding a NUL byte",
                     mef3__method_names[c->m]);
    mef3__call_finish(c, NULL, GRPC_STATUS_INVALID_ARGUMENT,
                      "file_path (or password) holds a NUL byte");
    return;
  }
  switch (c->m) {
  case MEF3__M_OPEN:
    mef3__unary_open(s, c);
    break;
  case MEF3__M_CLOSE:
  case MEF3__M_INFO:
    mef3__unary_info_or_close(s, c);
    break;
  case MEF3__M_LIST:
    mef3__unary_list(s, c);
    break;
  case MEF3__M_RANGE:
    mef3__range_step(s, c);
    break;
  case MEF3__M_ENVELOPE:
    mef3__envelope_step(s, c);
    break;
  default:
    break;
  }
}

void *mef3__server_work_main(void *arg) {
  mef3_server *s = arg;
  for (;;) {
    pthread_mutex_lock(&s->mu);
    while (!s->qhead && !s->stop_workers)
      pthread_cond_wait(&s->work_cv, &s->mu);
    mef3__call *c = s->qhead;
    if (!c) {
      pthread_mutex_unlock(&s->mu);
      return NULL;
    }
    s->qhead = c->next;
    if (!s->qhead)
      s->qtail = NULL;
    pthread_mutex_unlock(&s->mu);
    run_job(s, c);
    mef3__call_unref(c);
  }
}

/* A new call has come (cq thread). */
static void on_new(mef3_server *s, mef3__call *c) {
  pthread_mutex_lock(&s->mu);
  int down = s->shutting_down;
  s->stats.calls++;
  s->stats.active_calls++;
  pthread_mutex_unlock(&s->mu);
  if (!down)
    mef3__call_request(s, c->m);
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  op.data.recv_close_on_server.cancelled = &c->cancelled_flag;
  mef3__call_start_batch(c, &op, 1, &c->t_close);
  if (c->m == MEF3__M_OTHER) {
    /* Unanswered, the core would keep such a call until its deadline (or
     * forever); answer as every gRPC server does. */
    mef3__server_log(s, MEF3_LOG_WARN, "unknown method %.*s",
                     (int)(GRPC_SLICE_LENGTH(c->other.method) < 200
                               ? GRPC_SLICE_LENGTH(c->other.method)
                               : 200),
                     (const char *)GRPC_SLICE_START_PTR(c->other.method));
    mef3__call_finish(c, NULL, GRPC_STATUS_UNIMPLEMENTED, "unknown method");
  } else {
    mef3__call_enqueue(s, c);
  }
}

/* The core's answer to the shutdown request (cq thread). */
static void on_shutdown(mef3_server *s) {
  pthread_mutex_lock(&s->mu);
  s->shutdown_seen = 1;
  pthread_cond_broadcast(&s->done_cv);
  pthread_mutex_unlock(&s->mu);
}

void *mef3__server_cq_main(void *arg) {
  mef3_server *s = arg;
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(
        s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN)
      return NULL;
    if (ev.type != GRPC_OP_COMPLETE)
      continue;
    mef3__tag *t = ev.tag;
    mef3__call *c = atomic_load_explicit(&t->c, memory_order_acquire);
    int kind = atomic_load_explicit(&t->kind, memory_order_relaxed);
    if (kind == MEF3__T_SHUTDOWN) {
      on_shutdown(s);
      continue;
    }
    /* Pairs with the lock the thread that started the batch took after
     * its last write to the call (start_batch, call_ref). */
    pthread_mutex_lock(&c->mu);
    pthread_mutex_unlock(&c->mu);
    switch (kind) {
    case MEF3__T_NEW:
      if (!ev.success) { /* the server is shutting down: no call */
        if (c->call) {
          grpc_call_unref(c->call);
          c->call = NULL;
        }
        mef3__call_free(c);
        continue;
      }
      on_new(s, c);
      break;
    case MEF3__T_CLOSE:
      pthread_mutex_lock(&c->mu);
      if (c->cancelled_flag)
        c->cancelled = 1;
      pthread_mutex_unlock(&c->mu);
      break;
    case MEF3__T_SEND:
      if (c->m == MEF3__M_ENVELOPE)
        mef3__envelope_sent(s, c, ev.success);
      else
        mef3__range_sent(s, c, ev.success);
      break;
    default:
      break;
    }
    mef3__call_unref(c); /* the reference of the batch (or of the request) */
  }
}
