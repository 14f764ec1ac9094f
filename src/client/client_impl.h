/*
 * client/client_impl.h - what the C client's files share.
 *
 *   client.c        the client object, its access tokens, the unary
 *                   methods (OpenFile, FileInfo, CloseFile, ListOpenFiles)
 *   client_call.c   a call of this client: its metadata (session header,
 *                   token) through rpc/call.h, its status as our error
 *   client_range.c  GetSignalRange: chunks reassembled into one window
 *   client_envelope.c  GetEnvelope: column chunks joined into one envelope
 *   client_tls.c    the channel's credentials: TLS or plain text
 *
 * Errors are set with the core's mef3__error (util/error.h): one
 * per-thread channel, read with mef3_error_last().
 *
 * Private to mef3pool (not installed).
 */
#ifndef MEF3_CLIENT_IMPL_H
#define MEF3_CLIENT_IMPL_H

#include <pthread.h>

#include "mef3pool/client.h"
#include "rpc/call.h"
#include "util/error.h"

/* The token of one path opened through this client. */
typedef struct mef3__client_token {
  struct mef3__client_token *next;
  char *path;
  char token[MEF3_FILES_TOKEN_CHARS + 1];
} mef3__client_token;

struct mef3_client {
  grpc_channel *ch;
  int64_t timeout_ms;
  int tls;            /* the channel speaks TLS */
  char *address;
  pthread_mutex_t mu; /* guards tokens */
  mef3__client_token *tokens;
};

/* ---- client_tls.c ---- */

/* The channel credentials of `o` (TLS when it names a CA; *tls set) into
 * *out; 0, or the error (detail naming the file). */
int mef3__client_creds(const mef3_client_options *o,
                       grpc_channel_credentials **out, int *tls);

/* ---- client.c ---- */

/* The token kept for `path` into `out` ("" when none). */
void mef3__client_token_of(mef3_client *c, const char *path,
                           char out[MEF3_FILES_TOKEN_CHARS + 1]);

/* Zero a buffer that held a token (not optimized away). */
void mef3__client_wipe(void *p, size_t n);

/* ---- client_call.c ---- */

/* A server's error_message (and error_code, NULL or unknown: MEF3_ERROR)
 * as this thread's last error; returns the code. */
int mef3__client_server_error(const char *msg, const char *code);

/*
 * Start a call of `method` with the request `req`, sending the session
 * header for `session` (NULL: none) and the token this client keeps for
 * it, and receive the initial metadata and, when `first` is not NULL, the
 * first reply message (NULL at the end of the stream).  0, or the error
 * (detail set); dispose `r` either way.
 */
int mef3__client_begin(mef3__rpc_call *r, mef3_client *cl, const char *method,
                       const char *session, const ProtobufCMessage *req,
                       grpc_byte_buffer **first);

/*
 * Receive the status; 0 when OK, else the error (detail set).  With
 * `no_more`, the stream is expected to hold no further message: one is
 * read in the same batch (one wait, not two) and any is an error.
 */
int mef3__client_end(mef3__rpc_call *r, mef3_client *cl, int no_more);

/* A unary call: request in, one reply of descriptor `rd` out (NULL on
 * error, *rc and the detail set). */
ProtobufCMessage *mef3__client_unary(mef3_client *cl, const char *method,
                                     const char *session,
                                     const ProtobufCMessage *req,
                                     const ProtobufCMessageDescriptor *rd,
                                     int *rc);

#endif
