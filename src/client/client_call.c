/*
 * client/client_call.c - one call of the C client, through the generic
 * call driver (rpc/call.h): what this client sends with every request
 * and how a call's failure becomes its error.
 *
 * Every call that names a session sends its path in the header
 * x-mef3-session (for a proxy's session affinity, docs/deploy.md) and
 * the access token this client keeps for it (mef3-access-token).  Each
 * call has its own completion queue, so calls from different threads
 * share only the channel.
 */
#include <string.h>

#include "client/client_impl.h"

/*
 * The value of the session header: the path with every byte that is not
 * printable ASCII, a space or '%' written %XX, so any path is a valid
 * header value and a proxy hashes the same bytes every client sends.
 * 0 when the path is empty or does not fit (no header is sent then).
 */
static int session_header(char *dst, size_t cap, const char *path) {
  static const char hex[] = "0123456789ABCDEF";
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
    if (n + 4 > cap)
      return 0;
    if (*p > 0x20 && *p < 0x7f && *p != '%') {
      dst[n++] = (char)*p;
    } else {
      dst[n++] = '%';
      dst[n++] = hex[*p >> 4];
      dst[n++] = hex[*p & 15];
    }
  }
  dst[n] = '\0';
  return n > 0;
}

int mef3__client_server_error(const char *msg, const char *code) {
  int c = mef3__rpc_code_of_name(code);
  return mef3__error(c ? c : MEF3_ERROR, "%s", msg);
}

/* 1 when the `n` bytes at `txt` contain `word`. */
static int has(const char *txt, size_t n, const char *word) {
  size_t w = strlen(word);
  for (size_t i = 0; i + w <= n; i++)
    if (!memcmp(txt + i, word, w))
      return 1;
  return 0;
}

/*
 * What to add to an UNAVAILABLE whose details are `txt`: a connection
 * that was made and then closed.  A plain-text client meets that from a
 * TLS server (gRPC says "Socket closed"); a TLS client from a server
 * asking for a client certificate it did not send (TLS 1.3 ends the
 * handshake first), or from a plain-text server ("wrong version number").
 * Nothing when no connection was made (refused, no such host).
 */
static const char *tls_hint(int tls, const char *txt, size_t n) {
  if (has(txt, n, "refused") || has(txt, n, "DNS") || has(txt, n, "resol"))
    return "";
  if (!tls)
    return "; the server may require TLS";
  if (has(txt, n, "wrong version number"))
    return "; the server may not speak TLS";
  if (has(txt, n, "Socket closed") || has(txt, n, "certificate required"))
    return "; the server may require a client certificate";
  return "";
}

int mef3__client_begin(mef3__rpc_call *r, mef3_client *cl, const char *method,
                       const char *session, const ProtobufCMessage *req,
                       grpc_byte_buffer **first) {
  if (first)
    *first = NULL;
  memset(r, 0, sizeof *r);
  grpc_byte_buffer *bb = mef3__rpc_pack(req);
  if (!bb)
    return mef3__error(MEF3_ENOMEM, "client: cannot start a call");
  /* The session path as a header; longer than 2 KiB encoded, none is sent
   * (a proxy's header limits are 4 KiB or more) and the call is spread
   * instead. */
  char hv[MEF3_RPC_SESSION_HEADER_MAX + 1];
  mef3__rpc_md md[2];
  size_t nmd = 0;
  if (session && session_header(hv, sizeof hv, session))
    md[nmd++] = (mef3__rpc_md){MEF3_RPC_SESSION_HEADER, hv};
  /* The path's access token, if this client opened it with one. */
  char token[MEF3_FILES_TOKEN_CHARS + 1] = "";
  if (session)
    mef3__client_token_of(cl, session, token);
  if (token[0])
    md[nmd++] = (mef3__rpc_md){MEF3_RPC_TOKEN_KEY, token};
  int rc = mef3__rpc_call_begin(r, cl->ch, method,
                                mef3__rpc_deadline(cl->timeout_ms), md, nmd, bb,
                                first);
  mef3__client_wipe(token, sizeof token);
  grpc_byte_buffer_destroy(bb);
  if (rc == MEF3_ENOMEM)
    return mef3__error(MEF3_ENOMEM, "client: cannot start a call");
  if (rc)
    return mef3__error(MEF3_ERROR, "client: grpc_call_start_batch failed (%d)",
                       r->batch_error);
  return 0;
}

int mef3__client_end(mef3__rpc_call *r, mef3_client *cl, int no_more) {
  grpc_byte_buffer *extra = NULL;
  if (mef3__rpc_call_end(r, no_more ? &extra : NULL))
    return mef3__error(MEF3_ERROR, "client: cannot receive the status");
  if (extra) {
    grpc_byte_buffer_destroy(extra);
    return mef3__error(MEF3_EIO, "%s: the server sent chunks past the window",
                       cl->address);
  }
  if (r->status == GRPC_STATUS_OK)
    return 0;
  int code = mef3__rpc_code_of_status(r->status);
  int len = (int)GRPC_SLICE_LENGTH(r->details);
  const char *txt = (const char *)GRPC_SLICE_START_PTR(r->details);
  if (r->status == GRPC_STATUS_UNAVAILABLE)
    return mef3__error(code, "%s: server unavailable (%.*s)%s", cl->address,
                       len, txt, tls_hint(cl->tls, txt, (size_t)len));
  return mef3__error(code, "%s: %s%s%.*s", cl->address,
                     mef3__rpc_status_name(r->status), len ? ": " : "", len,
                     txt);
}

ProtobufCMessage *mef3__client_unary(mef3_client *cl, const char *method,
                                     const char *session,
                                     const ProtobufCMessage *req,
                                     const ProtobufCMessageDescriptor *rd,
                                     int *rc) {
  mef3__rpc_call r;
  grpc_byte_buffer *bb;
  *rc = mef3__client_begin(&r, cl, method, session, req, &bb);
  ProtobufCMessage *reply = NULL;
  if (!*rc) {
    int got = bb != NULL;
    *rc = mef3__client_end(&r, cl, 1);
    if (got) {
      if (!*rc && !(reply = mef3__rpc_unpack(rd, bb)))
        *rc = mef3__error(MEF3_EIO, "%s: malformed reply to %s", cl->address,
                          method);
      grpc_byte_buffer_destroy(bb);
    } else if (!*rc) {
      *rc = mef3__error(MEF3_EIO, "%s: no reply to %s", cl->address, method);
    }
  }
  mef3__rpc_call_dispose(&r);
  return reply;
}
