/*
 * rpc/call.h - one client call on the gRPC C core, driven step by step:
 * the request sent (with metadata, half-closed) and the reply's initial
 * metadata received, then messages one at a time, then the status.  The
 * C client, the tests that send raw requests and the server fuzzer all
 * call the server through it.
 *
 * Two ways to wait.  A call opened without a completion queue gets its own
 * (a pluck queue) and the blocking steps (begin, next, end) wait for
 * themselves; any thread may run such a call, one thread at a time.  A
 * call opened on the caller's queue (a "next" queue serving many calls at
 * once) is driven with the starting steps (send, recv, status), each
 * taking the caller's tag, and the caller waits for its events.
 *
 * Private to the mef3pool-rpc library and its tests.  No error detail is
 * kept here: the caller says what failed in its own words.
 */
#ifndef MEF3_RPC_CALL_H
#define MEF3_RPC_CALL_H

#include "rpc/rpc.h"

typedef struct {
  grpc_call *call;
  grpc_completion_queue *cq;
  int own_cq;                   /* cq is ours (pluck), freed with us */
  grpc_metadata_array md_in;    /* the reply's initial metadata */
  grpc_metadata_array trailers; /* and its trailing metadata */
  grpc_status_code status;      /* set by the status step */
  grpc_slice details;           /* the status details (owned) */
  int sent;                     /* the request's batch was started */
  int batch_error;              /* grpc_call_error of a refused batch */
} mef3__rpc_call;

/* A metadata entry of a request: both strings copied when sent. */
typedef struct {
  const char *key, *value;
} mef3__rpc_md;

/*
 * Create the call of `method` on channel `ch`, ending at `deadline`.
 * `cq` NULL: the call gets its own queue.  Returns 0 or MEF3_ENOMEM;
 * dispose the call either way.
 */
int mef3__rpc_call_open(mef3__rpc_call *c, grpc_channel *ch,
                        grpc_completion_queue *cq, const char *method,
                        gpr_timespec deadline);

/*
 * Start sending `md` (`nmd` entries), the request `req` (not taken) and
 * the half-close, and receiving the initial metadata and, when `first` is
 * not NULL, the first reply message (NULL at the end of the stream), all
 * in one batch: the stream has a read pending from its start, so the reply
 * never waits for the application to ask for it.  0, or MEF3_ERROR when
 * the core refuses the batch.
 */
int mef3__rpc_call_send(mef3__rpc_call *c, const mef3__rpc_md *md, size_t nmd,
                        grpc_byte_buffer *req, grpc_byte_buffer **first,
                        void *tag);

/* Start receiving one message into `*msg` (NULL at the end of the
 * stream).  0, or MEF3_ERROR. */
int mef3__rpc_call_recv(mef3__rpc_call *c, grpc_byte_buffer **msg, void *tag);

/* Start receiving the status (c->status, c->details) and, when `extra` is
 * not NULL, in the same batch one more message (NULL when none).  0, or
 * MEF3_ERROR. */
int mef3__rpc_call_status(mef3__rpc_call *c, grpc_byte_buffer **extra,
                          void *tag);

/* Wait for `tag` on the call's own queue: 1 when the batch succeeded. */
int mef3__rpc_call_wait(mef3__rpc_call *c, void *tag);

/* ---- blocking steps (calls with their own queue) ---- */

/* open + send + wait.  The result is the first failing step's. */
int mef3__rpc_call_begin(mef3__rpc_call *c, grpc_channel *ch,
                         const char *method, gpr_timespec deadline,
                         const mef3__rpc_md *md, size_t nmd,
                         grpc_byte_buffer *req, grpc_byte_buffer **first);

/* The next message: 1 (in *msg), 0 (the end of the stream, or failed). */
int mef3__rpc_call_next(mef3__rpc_call *c, grpc_byte_buffer **msg);

/* The status into c->status and c->details (and `extra`, as in
 * mef3__rpc_call_status).  0, or MEF3_ERROR when the core refuses. */
int mef3__rpc_call_end(mef3__rpc_call *c, grpc_byte_buffer **extra);

/* Cancel the call (its pending steps complete, unsuccessfully). */
void mef3__rpc_call_cancel(mef3__rpc_call *c);

/* Free the call and its own queue (after its last event).  A call that
 * failed to open, or was zeroed, is fine. */
void mef3__rpc_call_dispose(mef3__rpc_call *c);

#endif
