/*
 * server/server_call.c - the life of one call: asked of the core, queued
 * as jobs, its batches started, its reply sent, and freed.
 *
 * A call is reference-counted: one reference per batch in flight and one
 * per queued or running job; the last one frees it and takes it off the
 * server's counters (waking a shutdown that waits for them).  Any thread:
 * completion-queue threads ask for calls and queue jobs, work threads
 * start batches and finish calls.  The call's mutex guards its references,
 * flags and details; the server's mutex the queue and counters.
 */
#include <stdlib.h>
#include <string.h>

#include "server/server_impl.h"

const char *const mef3__method_names[MEF3__M_COUNT + 1] = {
    MEF3_RPC_OPEN,  MEF3_RPC_CLOSE, MEF3_RPC_INFO,
    MEF3_RPC_RANGE, MEF3_RPC_LIST,  MEF3_RPC_ENVELOPE, "(unknown method)"};

void mef3__call_free(mef3__call *c) {
  if (c->call)
    grpc_call_unref(c->call);
  grpc_metadata_array_destroy(&c->md);
  if (c->m == MEF3__M_OTHER)
    grpc_call_details_destroy(&c->other);
  if (c->payload)
    grpc_byte_buffer_destroy(c->payload);
  if (c->has_details)
    grpc_slice_unref(c->details);
  mef3__stream *st = &c->st;
  if (st->req)
    signal_range_request__free_unpacked(st->req, NULL);
  if (st->ereq)
    envelope_request__free_unpacked(st->ereq, NULL);
  mef3_envelope_free(st->env);
  mef3_file_info_free(st->info);
  mef3__server_wipe(st->token, sizeof st->token);
  free(st->chans);
  free(st->ts);
  free(st->te);
  mef3_signal_free(st->whole);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

void mef3__call_unref(mef3__call *c) {
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
  mef3__call_free(c);
  if (!was_call)
    return;
  pthread_mutex_lock(&s->mu);
  s->stats.active_calls--;
  if (counted)
    s->stats.active_streams--;
  pthread_cond_broadcast(&s->done_cv);
  pthread_mutex_unlock(&s->mu);
}

void mef3__call_ref(mef3__call *c) {
  pthread_mutex_lock(&c->mu);
  c->refs++;
  pthread_mutex_unlock(&c->mu);
}

void mef3__call_request(mef3_server *s, mef3__method m) {
  mef3__call *c = calloc(1, sizeof *c);
  if (!c) {
    mef3__server_log(s, MEF3_LOG_ERROR, "out of memory: %s no longer served",
                     mef3__method_names[m]);
    return;
  }
  c->s = s;
  c->m = m;
  c->refs = 1;
  pthread_mutex_init(&c->mu, NULL);
  grpc_metadata_array_init(&c->md);
  if (m == MEF3__M_OTHER)
    grpc_call_details_init(&c->other);
  /* t_new last: its release store publishes everything before it. */
  mef3__tag *tags[] = {&c->t_finish, &c->t_send, &c->t_close, &c->t_new};
  for (int k = 0; k < 4; k++) {
    atomic_store_explicit(&tags[k]->kind, MEF3__T_FINISH - k,
                          memory_order_relaxed);
    atomic_store_explicit(&tags[k]->c, c, memory_order_release);
  }
  grpc_call_error e =
      m == MEF3__M_OTHER
          ? grpc_server_request_call(s->gs, &c->call, &c->other, &c->md, s->cq,
                                     s->cq, &c->t_new)
          : grpc_server_request_registered_call(
                s->gs, s->rm[m], &c->call, &c->deadline, &c->md, &c->payload,
                s->cq, s->cq, &c->t_new);
  if (e != GRPC_CALL_OK) {
    mef3__server_log(s, MEF3_LOG_ERROR, "cannot request calls of %s (error %d)",
                     mef3__method_names[m], (int)e);
    mef3__call_free(c);
  }
}

void mef3__call_enqueue(mef3_server *s, mef3__call *c) {
  mef3__call_ref(c);
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

void mef3__call_start_batch(mef3__call *c, const grpc_op *ops, size_t n,
                            mef3__tag *t) {
  mef3__call_ref(c);
  grpc_call_error e = grpc_call_start_batch(c->call, ops, n, t, NULL);
  if (e != GRPC_CALL_OK) {
    mef3__server_log(c->s, MEF3_LOG_ERROR,
                     "%s: grpc_call_start_batch failed (%d)",
                     mef3__method_names[c->m], (int)e);
    mef3__call_unref(c);
  }
}

void mef3__call_finish(mef3__call *c, grpc_byte_buffer *msg,
                       grpc_status_code st, const char *details) {
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
  mef3__call_start_batch(c, ops, n, &c->t_finish);
  /* The batch holds its own reference to the message. */
  if (msg)
    grpc_byte_buffer_destroy(msg);
}

void mef3__call_send(mef3__call *c, grpc_byte_buffer *msg) {
  grpc_op ops[2];
  size_t n = 0;
  memset(ops, 0, sizeof ops);
  pthread_mutex_lock(&c->mu);
  if (!c->sent_md)
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
  c->sent_md = 1;
  pthread_mutex_unlock(&c->mu);
  ops[n].op = GRPC_OP_SEND_MESSAGE;
  ops[n++].data.send_message.send_message = msg;
  mef3__call_start_batch(c, ops, n, &c->t_send);
  grpc_byte_buffer_destroy(msg);
}

int mef3__call_stopped(mef3_server *s, mef3__call *c) {
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
  if (!cancelled)
    return 0;
  pthread_mutex_lock(&s->mu);
  s->stats.cancelled++;
  pthread_mutex_unlock(&s->mu);
  return 1;
}
