/*
 * client/client.c - the C client of gRPCMef3Server (see client.h).
 *
 * One gRPC channel per client, shared by every thread; each call creates
 * its own completion queue and waits on it with grpc_completion_queue_pluck,
 * so calls from different threads never share state beyond the channel
 * (which gRPC makes thread-safe).  Streams are read one message at a time
 * and copied into place as they arrive; when the server says the window's
 * total length (our addition), the result is allocated once up front,
 * otherwise chunks are kept and joined at the end.
 *
 * Access tokens: the token an OpenFile returns is kept per path (as the
 * caller spelled it, under `mu`) and sent as the metadata
 * "mef3-access-token" on every later FileInfo, GetSignalRange and
 * CloseFile of that path; a close forgets it.  Paths opened without a
 * password have none and send none, as the original's clients do.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mef3pool/client.h"
#include "rpc/rpc.h"

/* The token of one path opened through this client. */
typedef struct ctoken {
  struct ctoken *next;
  char *path;
  char token[MEF3_FILES_TOKEN_CHARS + 1];
} ctoken;

struct mef3_client {
  grpc_channel *ch;
  int64_t timeout_ms;
  char *address;
  pthread_mutex_t mu; /* guards tokens */
  ctoken *tokens;
};

static _Thread_local mef3_error client_err;

const mef3_error *mef3_client_error_last(void) {
  return &client_err;
}

static int cerr(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int cerr(int code, const char *fmt, ...) {
  client_err.code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(client_err.message, sizeof client_err.message, fmt, ap);
  va_end(ap);
  return code;
}

static void wipe(void *p, size_t n) {
  volatile unsigned char *b = p;
  while (n--)
    *b++ = 0;
}

/* The token of `path` into `out` ("" when none). */
static void token_get(mef3_client *c, const char *path,
                      char out[MEF3_FILES_TOKEN_CHARS + 1]) {
  out[0] = '\0';
  pthread_mutex_lock(&c->mu);
  for (ctoken *t = c->tokens; t; t = t->next)
    if (!strcmp(t->path, path)) {
      memcpy(out, t->token, sizeof t->token);
      break;
    }
  pthread_mutex_unlock(&c->mu);
}

int mef3_client_token_set(mef3_client *c, const char *path,
                          const char *token) {
  if (!c || !path)
    return cerr(MEF3_EINVAL, "client: no client or path");
  if (token && *token && strlen(token) != MEF3_FILES_TOKEN_CHARS)
    return cerr(MEF3_EINVAL, "client: an access token has %d characters",
                MEF3_FILES_TOKEN_CHARS);
  ctoken *fresh = NULL;
  if (token && *token) {
    fresh = calloc(1, sizeof *fresh);
    if (!fresh || !(fresh->path = strdup(path))) {
      free(fresh);
      return cerr(MEF3_ENOMEM, "client: out of memory");
    }
    memcpy(fresh->token, token, sizeof fresh->token);
  }
  pthread_mutex_lock(&c->mu);
  for (ctoken **pp = &c->tokens; *pp; pp = &(*pp)->next)
    if (!strcmp((*pp)->path, path)) {
      ctoken *old = *pp;
      *pp = old->next;
      wipe(old->token, sizeof old->token);
      free(old->path);
      free(old);
      break;
    }
  if (fresh) {
    fresh->next = c->tokens;
    c->tokens = fresh;
  }
  pthread_mutex_unlock(&c->mu);
  return 0;
}

int mef3_client_token_get(mef3_client *c, const char *path,
                          char out[MEF3_FILES_TOKEN_CHARS + 1]) {
  out[0] = '\0';
  if (!c || !path)
    return cerr(MEF3_EINVAL, "client: no client or path");
  token_get(c, path, out);
  return out[0] ? 0 : cerr(MEF3_ENOTFOUND, "%s: no access token", path);
}

/* gRPC is initialized once per client and shut down with it. */
int mef3_client_new(mef3_client **out, const char *address,
                    const mef3_client_options *opts) {
  *out = NULL;
  mef3_client_options d = MEF3_CLIENT_OPTIONS_INIT;
  if (!opts)
    opts = &d;
  if (!address || !*address || opts->version != MEF3_CLIENT_OPTIONS_VERSION)
    return cerr(MEF3_EINVAL, "client: an address HOST:PORT is needed");
  mef3_client *c = calloc(1, sizeof *c);
  if (!c || !(c->address = strdup(address))) {
    free(c);
    return cerr(MEF3_ENOMEM, "client: out of memory");
  }
  grpc_init();
  grpc_arg args[3];
  args[0].type = GRPC_ARG_INTEGER;
  args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
  args[0].value.integer = 64 << 20;
  /* Let a whole window arrive without waiting for flow-control updates
   * (the default 64 KiB start makes a 1 MB reply wait on round trips). */
  args[1].type = GRPC_ARG_INTEGER;
  args[1].key = GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES;
  args[1].value.integer = 8 << 20;
  /* The BDP probe grows the window a new stream starts with past 64 KiB
   * within a few reads; without it the first 64 KiB of every window waits
   * for a WINDOW_UPDATE round trip (warm 60 s window, median: 1.1-1.2 ms
   * with it, 1.5 ms without, measured in one run). */
  args[2].type = GRPC_ARG_INTEGER;
  args[2].key = GRPC_ARG_HTTP2_BDP_PROBE;
  args[2].value.integer = 1;
  grpc_channel_args ca = {3, args};
  grpc_channel_credentials *cred = grpc_insecure_credentials_create();
  c->ch = grpc_channel_create(address, cred, &ca);
  grpc_channel_credentials_release(cred);
  c->timeout_ms = opts->timeout_ms;
  pthread_mutex_init(&c->mu, NULL);
  *out = c;
  return 0;
}

void mef3_client_free(mef3_client *c) {
  if (!c)
    return;
  grpc_channel_destroy(c->ch);
  free(c->address);
  while (c->tokens) {
    ctoken *t = c->tokens;
    c->tokens = t->next;
    wipe(t->token, sizeof t->token);
    free(t->path);
    free(t);
  }
  pthread_mutex_destroy(&c->mu);
  free(c);
  grpc_shutdown();
}

/* One call in progress. */
typedef struct {
  mef3_client *cl;
  grpc_completion_queue *cq;
  grpc_call *call;
  grpc_metadata_array md_in, trailers;
  grpc_status_code status;
  grpc_slice details;
  int started;
} rpc;

static int rpc_wait(rpc *r, void *tag) {
  grpc_event ev = grpc_completion_queue_pluck(
      r->cq, tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  return ev.type == GRPC_OP_COMPLETE && ev.success;
}

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

/*
 * Start a call, send the request (and half-close) and receive the initial
 * metadata and, when `first` is not NULL, the first reply message (NULL at
 * the end of the stream), all in one batch: the stream has a read pending
 * from its start, so the reply never waits for the application to ask for
 * it.
 */
static int rpc_begin(rpc *r, mef3_client *cl, const char *method,
                     const char *session, const ProtobufCMessage *req,
                     grpc_byte_buffer **first) {
  if (first)
    *first = NULL;
  memset(r, 0, sizeof *r);
  r->cl = cl;
  r->cq = grpc_completion_queue_create_for_pluck(NULL);
  grpc_slice m = grpc_slice_from_static_string(method);
  r->call = grpc_channel_create_call(cl->ch, NULL, GRPC_PROPAGATE_DEFAULTS,
                                     r->cq, m, NULL,
                                     mef3__rpc_deadline(cl->timeout_ms), NULL);
  grpc_metadata_array_init(&r->md_in);
  grpc_metadata_array_init(&r->trailers);
  r->details = grpc_empty_slice();
  grpc_byte_buffer *bb = mef3__rpc_pack(req);
  if (!r->call || !bb) {
    if (bb)
      grpc_byte_buffer_destroy(bb);
    return cerr(MEF3_ENOMEM, "client: cannot start a call");
  }
  /* The session path as a header, for a proxy's session affinity
   * (docs/deploy.md); longer than 2 KiB encoded, none is sent (a proxy's
   * header limits are 4 KiB or more) and the call is spread instead. */
  char hv[MEF3_RPC_SESSION_HEADER_MAX + 1];
  grpc_metadata md[2];
  memset(md, 0, sizeof md);
  size_t nmd = 0;
  if (session && session_header(hv, sizeof hv, session)) {
    md[nmd].key = grpc_slice_from_static_string(MEF3_RPC_SESSION_HEADER);
    md[nmd++].value = grpc_slice_from_static_string(hv);
  }
  /* The path's access token, if this client opened it with one. */
  char token[MEF3_FILES_TOKEN_CHARS + 1] = "";
  if (session)
    token_get(cl, session, token);
  size_t tok_at = nmd;
  if (token[0]) {
    md[nmd].key = grpc_slice_from_static_string(MEF3_RPC_TOKEN_KEY);
    md[nmd++].value = grpc_slice_from_copied_string(token);
    wipe(token, sizeof token);
  }
  grpc_op ops[5];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[0].data.send_initial_metadata.count = nmd;
  ops[0].data.send_initial_metadata.metadata = nmd ? md : NULL;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = bb;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &r->md_in;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = first;
  grpc_call_error e =
      grpc_call_start_batch(r->call, ops, first ? 5 : 4, (void *)1, NULL);
  grpc_byte_buffer_destroy(bb);
  for (size_t i = tok_at; i < nmd; i++) /* the batch copied what it sends */
    grpc_slice_unref(md[i].value);
  if (e != GRPC_CALL_OK)
    return cerr(MEF3_ERROR, "client: grpc_call_start_batch failed (%d)",
                (int)e);
  r->started = 1;
  rpc_wait(r, (void *)1); /* fails only when the call does */
  return 0;
}

/* Receive one message: 1 (got one), 0 (end of stream). */
static int rpc_recv(rpc *r, grpc_byte_buffer **msg) {
  *msg = NULL;
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_MESSAGE;
  op.data.recv_message.recv_message = msg;
  if (grpc_call_start_batch(r->call, &op, 1, (void *)2, NULL) != GRPC_CALL_OK)
    return 0;
  rpc_wait(r, (void *)2);
  return *msg != NULL;
}

/*
 * Receive the status; 0 when OK, else the error (detail set).  With
 * `no_more`, the stream is expected to hold no further message: one is
 * read in the same batch (one wait, not two) and any is an error.
 */
static int rpc_end(rpc *r, int no_more) {
  grpc_op op[2];
  grpc_byte_buffer *extra = NULL;
  memset(op, 0, sizeof op);
  op[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  op[0].data.recv_status_on_client.trailing_metadata = &r->trailers;
  op[0].data.recv_status_on_client.status = &r->status;
  op[0].data.recv_status_on_client.status_details = &r->details;
  op[1].op = GRPC_OP_RECV_MESSAGE;
  op[1].data.recv_message.recv_message = &extra;
  if (grpc_call_start_batch(r->call, op, no_more ? 2 : 1, (void *)3, NULL) !=
      GRPC_CALL_OK)
    return cerr(MEF3_ERROR, "client: cannot receive the status");
  rpc_wait(r, (void *)3);
  if (extra) {
    grpc_byte_buffer_destroy(extra);
    return cerr(MEF3_EIO, "%s: the server sent chunks past the window",
                r->cl->address);
  }
  if (r->status == GRPC_STATUS_OK)
    return 0;
  int code = mef3__rpc_code_of_status(r->status);
  int len = (int)GRPC_SLICE_LENGTH(r->details);
  const char *txt = (const char *)GRPC_SLICE_START_PTR(r->details);
  if (r->status == GRPC_STATUS_UNAVAILABLE)
    return cerr(code, "%s: server unavailable (%.*s)", r->cl->address, len,
                txt);
  return cerr(code, "%s: %s%s%.*s", r->cl->address,
              mef3__rpc_status_name(r->status), len ? ": " : "", len, txt);
}

static void rpc_dispose(rpc *r) {
  if (r->call) {
    grpc_call_unref(r->call);
    r->call = NULL;
  }
  grpc_metadata_array_destroy(&r->md_in);
  grpc_metadata_array_destroy(&r->trailers);
  grpc_slice_unref(r->details);
  if (r->cq) {
    grpc_completion_queue_shutdown(r->cq);
    while (grpc_completion_queue_pluck(r->cq, NULL,
                                       gpr_inf_future(GPR_CLOCK_REALTIME),
                                       NULL)
               .type != GRPC_QUEUE_SHUTDOWN)
      ;
    grpc_completion_queue_destroy(r->cq);
  }
}

/* A unary call: request in, one reply out (NULL on error, detail set). */
static ProtobufCMessage *unary(mef3_client *cl, const char *method,
                               const char *session,
                               const ProtobufCMessage *req,
                               const ProtobufCMessageDescriptor *rd,
                               int *rc) {
  rpc r;
  grpc_byte_buffer *bb;
  *rc = rpc_begin(&r, cl, method, session, req, &bb);
  ProtobufCMessage *reply = NULL;
  if (!*rc) {
    int got = bb != NULL;
    *rc = rpc_end(&r, 1);
    if (got) {
      if (!*rc && !(reply = mef3__rpc_unpack(rd, bb)))
        *rc = cerr(MEF3_EIO, "%s: malformed reply to %s", cl->address,
                   method);
      grpc_byte_buffer_destroy(bb);
    } else if (!*rc) {
      *rc = cerr(MEF3_EIO, "%s: no reply to %s", cl->address, method);
    }
  }
  rpc_dispose(&r);
  return reply;
}

/* A server's error_message (and error_code) as our error. */
static int server_error(const char *msg, const char *code) {
  int c = mef3__rpc_code_of_name(code);
  return cerr(c ? c : MEF3_ERROR, "%s", msg);
}

static int info_from_reply(const FileInfoResponse *r, mef3_file_info **out) {
  mef3_file_info *fi = mef3_calloc(1, sizeof *fi);
  size_t n = r->n_channel_names;
  if (!fi || !(fi->path = mef3_strdup(r->file_path ? r->file_path : "")) ||
      !(fi->channels = mef3_calloc(n ? n : 1, sizeof *fi->channels))) {
    mef3_file_info_free(fi);
    return cerr(MEF3_ENOMEM, "client: out of memory");
  }
  fi->n_channels = n;
  for (size_t i = 0; i < n; i++) {
    mef3_file_channel *ch = &fi->channels[i];
    snprintf(ch->name, sizeof ch->name, "%s", r->channel_names[i]);
    /* Exact rates when the server sends them (our addition). */
    ch->fs = i < r->n_channel_fs ? r->channel_fs[i]
             : i < r->n_channel_sampling_rates
                 ? (double)r->channel_sampling_rates[i]
                 : 0;
    ch->start_uutc = i < r->n_channel_start_uutc ? r->channel_start_uutc[i]
                                                 : r->start_uutc;
    ch->end_uutc =
        i < r->n_channel_end_uutc ? r->channel_end_uutc[i] : r->end_uutc;
    ch->n_samples = i < r->n_channel_n_samples ? r->channel_n_samples[i] : 0;
    ch->units_conversion_factor = 1.0; /* values come in physical units */
    if (i < r->n_channel_units)
      snprintf(ch->units, sizeof ch->units, "%s", r->channel_units[i]);
  }
  fi->start_uutc = r->start_uutc;
  fi->end_uutc = r->end_uutc;
  fi->duration_s = r->duration_s;
  *out = fi;
  return 0;
}

int mef3_client_open(mef3_client *c, const char *path, const char *password,
                     mef3_file_info **out, int *already_open) {
  if (out)
    *out = NULL;
  if (already_open)
    *already_open = 0;
  OpenFileRequest req = OPEN_FILE_REQUEST__INIT;
  req.file_path = (char *)path;
  req.password = (char *)(password ? password : "");
  int rc;
  FileInfoResponse *r = (FileInfoResponse *)unary(
      c, MEF3_RPC_OPEN, path, &req.base, &file_info_response__descriptor, &rc);
  if (!r)
    return rc;
  int already = r->file_opened && r->error_code &&
                !strcmp(r->error_code, mef3_errname(MEF3_EEXIST));
  /* The original says "File already open" without a code. */
  if (r->file_opened && r->error_message &&
      !strncmp(r->error_message, "File already open", 17))
    already = 1;
  if (!r->file_opened)
    rc = server_error(r->error_message && *r->error_message
                          ? r->error_message
                          : "the server did not open the file",
                      r->error_code);
  else if (r->error_message && *r->error_message && !already)
    rc = server_error(r->error_message, r->error_code);
  if (!rc && already_open)
    *already_open = already;
  /* The token of this open (none: the session needs no password). */
  if (!rc)
    rc = mef3_client_token_set(
        c, path,
        r->access_token && strlen(r->access_token) == MEF3_FILES_TOKEN_CHARS
            ? r->access_token
            : NULL);
  if (!rc && out)
    rc = info_from_reply(r, out);
  if (r->access_token)
    wipe(r->access_token, strlen(r->access_token));
  file_info_response__free_unpacked(r, NULL);
  return rc;
}

int mef3_client_info(mef3_client *c, const char *path, mef3_file_info **out) {
  *out = NULL;
  FileInfoRequest req = FILE_INFO_REQUEST__INIT;
  req.file_path = (char *)path;
  int rc;
  FileInfoResponse *r = (FileInfoResponse *)unary(
      c, MEF3_RPC_INFO, path, &req.base, &file_info_response__descriptor, &rc);
  if (!r)
    return rc;
  if (r->error_message && *r->error_message)
    rc = server_error(r->error_message, r->error_code);
  else if (!r->file_opened)
    rc = cerr(MEF3_ENOTFOUND, "%s: not open", path);
  else
    rc = info_from_reply(r, out);
  file_info_response__free_unpacked(r, NULL);
  return rc;
}

int mef3_client_close_file(mef3_client *c, const char *path) {
  FileInfoRequest req = FILE_INFO_REQUEST__INIT;
  req.file_path = (char *)path;
  int rc;
  FileInfoResponse *r = (FileInfoResponse *)unary(
      c, MEF3_RPC_CLOSE, path, &req.base, &file_info_response__descriptor, &rc);
  if (!r)
    return rc;
  if (r->error_message && *r->error_message)
    rc = server_error(r->error_message, r->error_code);
  if (!rc) /* a closed view's token is dead */
    mef3_client_token_set(c, path, NULL);
  file_info_response__free_unpacked(r, NULL);
  return rc;
}

int mef3_client_list(mef3_client *c, char ***out, size_t *n) {
  *out = NULL;
  *n = 0;
  ListOpenFilesRequest req = LIST_OPEN_FILES_REQUEST__INIT;
  int rc;
  ListOpenFilesResponse *r = (ListOpenFilesResponse *)unary(
      c, MEF3_RPC_LIST, NULL, &req.base, &list_open_files_response__descriptor, &rc);
  if (!r)
    return rc;
  if (r->error_message && *r->error_message) {
    rc = server_error(r->error_message, NULL);
  } else {
    char **v = mef3_calloc(r->n_file_paths ? r->n_file_paths : 1, sizeof *v);
    if (!v)
      rc = cerr(MEF3_ENOMEM, "client: out of memory");
    for (size_t i = 0; v && i < r->n_file_paths; i++)
      if (!(v[i] = mef3_strdup(r->file_paths[i]))) {
        mef3_files_list_free(v, i);
        v = NULL;
        rc = cerr(MEF3_ENOMEM, "client: out of memory");
      }
    if (v) {
      *out = v;
      *n = r->n_file_paths;
    }
  }
  list_open_files_response__free_unpacked(r, NULL);
  return rc;
}

/* ---- GetSignalRange ---- */

/* Chunks kept when the total is not known in advance. */
typedef struct {
  SignalChunk **v;
  size_t n, cap;
} chunk_list;

static void sig_free_names(mef3_signal *s) {
  if (!s)
    return;
  mef3_signal_free(s);
}

static mef3_signal *sig_new(const SignalChunk *ch, size_t nch, size_t n) {
  mef3_signal *s = mef3_calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->n_channels = nch;
  s->n_samples = n;
  s->fs = ch->fs;
  s->channel_names = mef3_calloc(nch ? nch : 1, sizeof *s->channel_names);
  s->data = mef3_malloc((nch * n > 0 ? nch * n : 1) * sizeof(float));
  if (!s->channel_names || !s->data) {
    mef3_free(s->channel_names);
    mef3_free(s->data);
    mef3_free(s);
    return NULL;
  }
  for (size_t i = 0; i < nch; i++)
    if (!(s->channel_names[i] = mef3_strdup(
              i < ch->n_channel_names ? ch->channel_names[i] : ""))) {
      mef3_signal_free(s);
      return NULL;
    }
  return s;
}

/* The caller's buffer as the result: MEF3_ELIMIT when it is too small. */
static int sig_view(mef3_signal *v, const SignalChunk *ch, size_t nch,
                    size_t n, float *dst, size_t cap) {
  if (n && nch > cap / n)
    return cerr(MEF3_ELIMIT,
                "client: %zu channels x %zu samples do not fit the %zu "
                "floats given",
                nch, n, cap);
  *v = (mef3_signal){.n_channels = nch, .n_samples = n, .fs = ch->fs,
                     .data = dst};
  return 0;
}

/*
 * Parse a SignalChunk in place: the small fields through protobuf-c, the
 * samples left where gRPC received them, readable through `m` (which must
 * be closed); array_bytes.len is their length, array_bytes.data NULL
 * (clear it again before freeing the chunk).  NULL when it does not
 * parse (*oom set when memory was short).
 */
static SignalChunk *unpack_chunk_inplace(grpc_byte_buffer *bb,
                                         mef3__rpc_msg *m, int *oom) {
  uint8_t *h;
  size_t hn;
  int r = mef3__rpc_msg_open(m, bb, 2, &h, &hn);
  *oom = r == -2;
  if (r)
    return NULL;
  SignalChunk *ch = signal_chunk__unpack(NULL, hn, h);
  free(h);
  if (ch) {
    free(ch->array_bytes.data); /* an earlier occurrence of the field */
    ch->array_bytes.data = NULL;
    ch->array_bytes.len = m->left;
  }
  return ch;
}

/* Free a chunk from unpack_chunk_inplace (its samples are not its own). */
static void chunk_free_inplace(SignalChunk *ch) {
  if (!ch)
    return;
  ch->array_bytes.data = NULL;
  ch->array_bytes.len = 0;
  signal_chunk__free_unpacked(ch, NULL);
}

/* Copy a chunk's (nch, len) block, read from `m`, into columns
 * [off, off+len) of s. */
static int place_msg(mef3_signal *s, mef3__rpc_msg *m, size_t off,
                     size_t len) {
  for (size_t i = 0; i < s->n_channels; i++)
    if (mef3__rpc_msg_read(m, s->data + i * s->n_samples + off,
                           len * sizeof(float)))
      return -1;
  return 0;
}

/* Copy a chunk's (nch, len) block into columns [off, off+len) of s. */
static void place(mef3_signal *s, const SignalChunk *ch, size_t off,
                  size_t len) {
  const uint8_t *src = ch->array_bytes.data;
  for (size_t i = 0; i < s->n_channels; i++)
    memcpy(s->data + i * s->n_samples + off, src + i * len * sizeof(float),
           len * sizeof(float));
}

/*
 * The read behind mef3_client_read (dst NULL: a new signal in *out) and
 * mef3_client_read_into (samples to dst, `cap` floats; shape to *shape).
 */
static int read_range(mef3_client *c, const char *path,
                      const char *const *channels, size_t n_channels,
                      int64_t start_uutc, int64_t end_uutc, float *dst,
                      size_t cap, mef3_client_shape *shape, mef3_signal **out,
                      mef3_client_progress_fn progress, void *payload) {
  SignalRangeRequest req = SIGNAL_RANGE_REQUEST__INIT;
  req.file_path = (char *)path;
  req.channel_names = (char **)channels;
  req.n_channel_names = n_channels;
  req.start_uutc = start_uutc;
  req.end_uutc = end_uutc;
  rpc r;
  grpc_byte_buffer *bb;
  int rc = rpc_begin(&r, c, MEF3_RPC_RANGE, path, &req.base, &bb);
  mef3_signal *sig = NULL;
  mef3_signal view = {0}; /* dst as a signal (data not its own) */
  chunk_list kept = {0};
  size_t nch = 0, got = 0;
  int64_t first_start = 0, last_end = 0;
  int failed = 0, stop = 0;
  int complete = 0; /* every sample the server announced has come */
  for (int more = !rc && bb; more;
       more = !complete && rpc_recv(&r, &bb)) {
    mef3__rpc_msg msg = {0};
    int oom = 0;
    SignalChunk *ch = failed ? NULL : unpack_chunk_inplace(bb, &msg, &oom);
    int flat_ok = !oom;
    /* Chunks kept for later (servers that do not say the total) get a
     * copy of their samples. */
    if (ch && ch->total_samples <= 0 && ch->array_bytes.len) {
      uint8_t *own = malloc(ch->array_bytes.len);
      if (own && mef3__rpc_msg_read(&msg, own, ch->array_bytes.len)) {
        free(own);
        own = NULL;
      }
      ch->array_bytes.data = own;
      if (!own) {
        ch->array_bytes.len = 0;
        signal_chunk__free_unpacked(ch, NULL);
        ch = NULL;
        rc = cerr(MEF3_ENOMEM, "client: out of memory");
        failed = 1;
      }
    } else if (ch && ch->total_samples <= 0) {
      ch->array_bytes.data = NULL;
    }
    int inplace = ch && ch->total_samples > 0;
#define CHUNK_FREE(x) (inplace ? chunk_free_inplace(x) : signal_chunk__free_unpacked(x, NULL))
    if (failed) /* drain after an error */
      goto next;
    if (!ch && !flat_ok) {
      rc = cerr(MEF3_ENOMEM, "client: out of memory for a message");
      failed = 1;
      goto next;
    }
    if (!ch) {
      rc = cerr(MEF3_EIO, "%s: malformed SignalChunk", c->address);
      failed = 1;
      goto next;
    }
    if (ch->error_message && *ch->error_message) {
      /* Any error voids the whole read, as in the original client. */
      rc = server_error(ch->error_message, ch->error_code);
      CHUNK_FREE(ch);
      failed = 1;
      goto next;
    }
    size_t rows = ch->n_shape == 2 ? (size_t)ch->shape[0] : 0;
    size_t len = ch->n_shape == 2 ? (size_t)ch->shape[1] : 0;
    if (!ch->dtype || strcmp(ch->dtype, "float32") || ch->n_shape != 2 ||
        ch->shape[0] < 0 || ch->shape[1] < 0 ||
        ch->array_bytes.len != rows * len * sizeof(float) ||
        (got && rows != nch)) {
      rc = cerr(MEF3_EIO, "%s: a chunk is not a float32 (channels, samples) "
                          "array matching the others",
                c->address);
      CHUNK_FREE(ch);
      failed = 1;
      goto next;
    }
    if (!got && !kept.n)
      first_start = ch->start_uutc;
    last_end = ch->end_uutc;
    nch = rows;
    if (ch->total_samples > 0) { /* our server: place as it comes */
      if (!sig && dst &&
          (rc = sig_view(&view, ch, nch, (size_t)ch->total_samples, dst,
                         cap))) {
        CHUNK_FREE(ch);
        failed = 1;
        goto next;
      }
      if (dst)
        sig = &view;
      else if (!sig &&
               !(sig = sig_new(ch, nch, (size_t)ch->total_samples))) {
        rc = cerr(MEF3_ENOMEM, "client: out of memory");
        CHUNK_FREE(ch);
        failed = 1;
        goto next;
      }
      if (ch->sample_offset != (int64_t)got ||
          got + len > sig->n_samples) {
        rc = cerr(MEF3_EIO, "%s: chunks out of order", c->address);
        CHUNK_FREE(ch);
        failed = 1;
        goto next;
      }
      if (place_msg(sig, &msg, got, len)) {
        rc = cerr(MEF3_EIO, "%s: malformed SignalChunk", c->address);
        CHUNK_FREE(ch);
        failed = 1;
        goto next;
      }
      got += len;
      complete = got == sig->n_samples;
      CHUNK_FREE(ch);
      if (progress && progress((int64_t)got, (int64_t)sig->n_samples, payload))
        stop = 1;
    } else { /* another server: keep, join at the end */
      if (kept.n == kept.cap) {
        size_t ncap = kept.cap ? kept.cap * 2 : 8;
        SignalChunk **v = realloc(kept.v, ncap * sizeof *v);
        if (!v) {
          rc = cerr(MEF3_ENOMEM, "client: out of memory");
          CHUNK_FREE(ch);
          failed = 1;
          goto next;
        }
        kept.v = v;
        kept.cap = ncap;
      }
      kept.v[kept.n++] = ch;
      got += len;
      if (progress && progress((int64_t)got, 0, payload))
        stop = 1;
    }
    if (stop) {
      grpc_call_cancel(r.call, NULL);
      rc = cerr(MEF3_ECANCELED, "read cancelled");
      failed = 1;
    }
  next:
    mef3__rpc_msg_close(&msg);
    grpc_byte_buffer_destroy(bb);
  }
#undef CHUNK_FREE
  /* After a failure, stop the call rather than wait for messages nobody
   * reads (the status would never come). */
  if (failed && r.call)
    grpc_call_cancel(r.call, NULL);
  mef3_error keep = client_err; /* the first failure is the one to tell */
  int st = r.started ? rpc_end(&r, complete && !failed) : 0;
  if (rc)
    client_err = keep;
  if (!rc && !failed)
    rc = st;
  rpc_dispose(&r);
  if (!rc && !sig && !kept.n)
    rc = cerr(MEF3_EIO, "%s: no data returned", c->address);
  if (!rc && sig && got != sig->n_samples)
    rc = cerr(MEF3_EIO,
              "%s: the stream ended after %zu of %zu samples per channel",
              c->address, got, sig->n_samples);
  if (!rc && kept.n) {
    if (dst)
      rc = sig_view(&view, kept.v[0], nch, got, dst, cap);
    if (dst && !rc)
      sig = &view;
    else if (!dst && !(sig = sig_new(kept.v[0], nch, got)))
      rc = cerr(MEF3_ENOMEM, "client: out of memory");
    if (sig) {
      size_t off = 0;
      for (size_t k = 0; k < kept.n; k++) {
        size_t len = (size_t)kept.v[k]->shape[1];
        place(sig, kept.v[k], off, len);
        off += len;
      }
    }
  }
  for (size_t k = 0; k < kept.n; k++)
    signal_chunk__free_unpacked(kept.v[k], NULL);
  free(kept.v);
  if (rc) {
    if (sig != &view)
      sig_free_names(sig);
    return rc;
  }
  /* As mef3_files_read: the window as requested (the chunks' own spans
   * are rounded). */
  (void)first_start;
  (void)last_end;
  if (dst) {
    shape->n_channels = view.n_channels;
    shape->n_samples = view.n_samples;
    shape->fs = view.fs;
    return 0;
  }
  sig->start_uutc = start_uutc;
  sig->end_uutc = end_uutc;
  *out = sig;
  return 0;
}

int mef3_client_read(mef3_client *c, const char *path,
                     const char *const *channels, size_t n_channels,
                     int64_t start_uutc, int64_t end_uutc, mef3_signal **out,
                     mef3_client_progress_fn progress, void *payload) {
  *out = NULL;
  return read_range(c, path, channels, n_channels, start_uutc, end_uutc, NULL,
                    0, NULL, out, progress, payload);
}

int mef3_client_read_into(mef3_client *c, const char *path,
                          const char *const *channels, size_t n_channels,
                          int64_t start_uutc, int64_t end_uutc, float *data,
                          size_t cap, mef3_client_shape *shape,
                          mef3_client_progress_fn progress, void *payload) {
  if (!data || !shape)
    return cerr(MEF3_EINVAL, "client: no output buffer");
  *shape = (mef3_client_shape){0, 0, 0};
  return read_range(c, path, channels, n_channels, start_uutc, end_uutc, data,
                    cap, shape, NULL, progress, payload);
}
