/*
 * rpc/call.c - one client call on the gRPC C core (see call.h).
 *
 * A call touches nothing but itself and its channel (which gRPC makes
 * thread-safe), so calls on different threads never share state.  The
 * blocking steps use fixed tags on the call's own queue, one step pending
 * at a time; the starting steps use the caller's.
 */
#include <string.h>

#include "rpc/call.h"
#include "util/error.h"

/* The tags of the blocking steps (own queue only). */
#define TAG_BEGIN ((void *)1)
#define TAG_NEXT ((void *)2)
#define TAG_END ((void *)3)

/* At most this many metadata entries per request. */
#define MAX_MD 4

/* A batch gRPC refused, as this thread's last error; MEF3_ERROR. */
static int batch_failed(grpc_call_error e, const char *what) {
  return mef3__error(MEF3_ERROR, "rpc: cannot %s (grpc_call_error %d)", what,
                     (int)e);
}

int mef3__rpc_call_open(mef3__rpc_call *c, grpc_channel *ch,
                        grpc_completion_queue *cq, const char *method,
                        gpr_timespec deadline) {
  memset(c, 0, sizeof *c);
  grpc_metadata_array_init(&c->md_in);
  grpc_metadata_array_init(&c->trailers);
  c->details = grpc_empty_slice();
  c->own_cq = cq == NULL;
  c->cq = cq ? cq : grpc_completion_queue_create_for_pluck(NULL);
  if (!c->cq)
    return mef3__error(MEF3_ENOMEM, "rpc: %s: no completion queue", method);
  /* The method's name outlives the call (a string literal, or the
   * caller's for the call's life). */
  grpc_slice m = grpc_slice_from_static_string(method);
  c->call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq,
                                     m, NULL, deadline, NULL);
  return c->call ? 0
                 : mef3__error(MEF3_ENOMEM, "rpc: %s: cannot create the call",
                               method);
}

int mef3__rpc_call_send(mef3__rpc_call *c, const mef3__rpc_md *md, size_t nmd,
                        grpc_byte_buffer *req, grpc_byte_buffer **first,
                        void *tag) {
  if (first)
    *first = NULL;
  if (!c->call || nmd > MAX_MD)
    return mef3__error(MEF3_ERROR, "rpc: no call, or more than %d metadata",
                       MAX_MD);
  grpc_metadata m[MAX_MD];
  memset(m, 0, sizeof m);
  for (size_t i = 0; i < nmd; i++) {
    m[i].key = grpc_slice_from_copied_string(md[i].key);
    m[i].value = grpc_slice_from_copied_string(md[i].value);
  }
  grpc_op ops[5];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[0].data.send_initial_metadata.count = nmd;
  ops[0].data.send_initial_metadata.metadata = nmd ? m : NULL;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = req;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &c->md_in;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = first;
  grpc_call_error e =
      grpc_call_start_batch(c->call, ops, first ? 5 : 4, tag, NULL);
  for (size_t i = 0; i < nmd; i++) { /* the batch took its own copies */
    grpc_slice_unref(m[i].key);
    grpc_slice_unref(m[i].value);
  }
  if (e != GRPC_CALL_OK) {
    c->batch_error = (int)e;
    return batch_failed(e, "send the request");
  }
  c->sent = 1;
  return 0;
}

int mef3__rpc_call_recv(mef3__rpc_call *c, grpc_byte_buffer **msg, void *tag) {
  *msg = NULL;
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_MESSAGE;
  op.data.recv_message.recv_message = msg;
  grpc_call_error e = grpc_call_start_batch(c->call, &op, 1, tag, NULL);
  c->batch_error = (int)e;
  return e == GRPC_CALL_OK ? 0 : batch_failed(e, "receive a message");
}

int mef3__rpc_call_status(mef3__rpc_call *c, grpc_byte_buffer **extra,
                          void *tag) {
  if (extra)
    *extra = NULL;
  grpc_op op[2];
  memset(op, 0, sizeof op);
  op[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  op[0].data.recv_status_on_client.trailing_metadata = &c->trailers;
  op[0].data.recv_status_on_client.status = &c->status;
  op[0].data.recv_status_on_client.status_details = &c->details;
  op[1].op = GRPC_OP_RECV_MESSAGE;
  op[1].data.recv_message.recv_message = extra;
  grpc_call_error e =
      grpc_call_start_batch(c->call, op, extra ? 2 : 1, tag, NULL);
  c->batch_error = (int)e;
  return e == GRPC_CALL_OK ? 0 : batch_failed(e, "receive the status");
}

int mef3__rpc_call_wait(mef3__rpc_call *c, void *tag) {
  grpc_event ev = grpc_completion_queue_pluck(
      c->cq, tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  return ev.type == GRPC_OP_COMPLETE && ev.success;
}

int mef3__rpc_call_begin(mef3__rpc_call *c, grpc_channel *ch,
                         const char *method, gpr_timespec deadline,
                         const mef3__rpc_md *md, size_t nmd,
                         grpc_byte_buffer *req, grpc_byte_buffer **first) {
  if (first)
    *first = NULL;
  int rc = mef3__rpc_call_open(c, ch, NULL, method, deadline);
  if (!rc)
    rc = mef3__rpc_call_send(c, md, nmd, req, first, TAG_BEGIN);
  if (!rc)
    mef3__rpc_call_wait(c, TAG_BEGIN); /* fails only when the call does */
  return rc;
}

int mef3__rpc_call_next(mef3__rpc_call *c, grpc_byte_buffer **msg) {
  if (mef3__rpc_call_recv(c, msg, TAG_NEXT))
    return 0;
  mef3__rpc_call_wait(c, TAG_NEXT);
  return *msg != NULL;
}

int mef3__rpc_call_end(mef3__rpc_call *c, grpc_byte_buffer **extra) {
  int rc = mef3__rpc_call_status(c, extra, TAG_END);
  if (!rc)
    mef3__rpc_call_wait(c, TAG_END);
  return rc;
}

void mef3__rpc_call_cancel(mef3__rpc_call *c) {
  if (c->call)
    grpc_call_cancel(c->call, NULL);
}

void mef3__rpc_call_dispose(mef3__rpc_call *c) {
  if (c->call) {
    grpc_call_unref(c->call);
    c->call = NULL;
  }
  grpc_metadata_array_destroy(&c->md_in);
  grpc_metadata_array_destroy(&c->trailers);
  grpc_metadata_array_init(&c->md_in); /* disposing twice is fine */
  grpc_metadata_array_init(&c->trailers);
  grpc_slice_unref(c->details);
  c->details = grpc_empty_slice();
  if (c->own_cq && c->cq) {
    grpc_completion_queue_shutdown(c->cq);
    while (grpc_completion_queue_pluck(c->cq, NULL,
                                       gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
               .type != GRPC_QUEUE_SHUTDOWN)
      ;
    grpc_completion_queue_destroy(c->cq);
  }
  c->cq = NULL;
}
