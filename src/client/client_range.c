/*
 * client/client_range.c - GetSignalRange on the client side: the streamed
 * SignalChunk messages reassembled into one (channels, samples) float32
 * window, a new signal or the caller's memory.
 *
 * Streams are read one message at a time and copied into place as they
 * arrive, straight from the slices gRPC received (rpc.h, mef3__rpc_msg):
 * when the server says the window's total length (our addition), the
 * result is allocated once up front and each chunk placed at its
 * sample_offset; otherwise (the original server) chunks are kept and
 * joined at the end.  Any error chunk, or chunks that do not fit together,
 * void the whole read, as in the original client; the call is then
 * cancelled rather than read to its end.  The caller's thread; nothing
 * shared but the client's channel and tokens.
 */
#include <stdlib.h>
#include <string.h>

#include "client/client_impl.h"

/* Chunks kept when the total is not known in advance. */
typedef struct {
  SignalChunk **v;
  size_t n, cap;
} chunk_list;

/* A window being reassembled. */
typedef struct {
  mef3_client *c;
  float *dst; /* the caller's memory (`cap` floats), or NULL */
  size_t cap;
  mef3_signal view; /* dst as a signal (data not its own) */
  mef3_signal *sig; /* the result: &view, or a new signal */
  chunk_list kept;
  size_t nch, got; /* channels; samples per channel received */
  int complete;    /* every sample the server announced has come */
  int stop;        /* the progress callback asked to stop */
  mef3_client_progress_fn progress;
  void *payload;
} assembly;

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
static int sig_view(mef3_signal *v, const SignalChunk *ch, size_t nch, size_t n,
                    float *dst, size_t cap) {
  if (n && nch > cap / n)
    return mef3__error(MEF3_ELIMIT,
                       "client: %zu channels x %zu samples do not fit the %zu "
                       "floats given",
                       nch, n, cap);
  *v = (mef3_signal){
      .n_channels = nch, .n_samples = n, .fs = ch->fs, .data = dst};
  return 0;
}

/*
 * Parse a SignalChunk in place: the small fields through protobuf-c, the
 * samples left where gRPC received them, readable through `m` (which must
 * be closed); array_bytes.len is their length, array_bytes.data NULL
 * (clear it again before freeing the chunk).  NULL when it does not
 * parse (*oom set when memory was short).
 */
static SignalChunk *unpack_chunk_inplace(grpc_byte_buffer *bb, mef3__rpc_msg *m,
                                         int *oom) {
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
static int place_msg(mef3_signal *s, mef3__rpc_msg *m, size_t off, size_t len) {
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

/* A kept chunk (total not known) gets its own copy of its samples; -1
 * when memory is short (the chunk is freed then). */
static int own_samples(SignalChunk *ch, mef3__rpc_msg *m) {
  if (!ch->array_bytes.len) {
    ch->array_bytes.data = NULL;
    return 0;
  }
  uint8_t *own = malloc(ch->array_bytes.len);
  if (own && mef3__rpc_msg_read(m, own, ch->array_bytes.len)) {
    free(own);
    own = NULL;
  }
  ch->array_bytes.data = own;
  if (own)
    return 0;
  ch->array_bytes.len = 0;
  signal_chunk__free_unpacked(ch, NULL);
  return -1;
}

/* A chunk that is an error, or that does not fit the ones before: the
 * error (detail set); else 0. */
static int check_chunk(const assembly *a, const SignalChunk *ch) {
  if (ch->error_message && *ch->error_message)
    return mef3__client_server_error(ch->error_message, ch->error_code);
  size_t rows = ch->n_shape == 2 ? (size_t)ch->shape[0] : 0;
  size_t len = ch->n_shape == 2 ? (size_t)ch->shape[1] : 0;
  if (!ch->dtype || strcmp(ch->dtype, "float32") || ch->n_shape != 2 ||
      ch->shape[0] < 0 || ch->shape[1] < 0 ||
      ch->array_bytes.len != rows * len * sizeof(float) ||
      (a->got && rows != a->nch))
    return mef3__error(MEF3_EIO,
                       "%s: a chunk is not a float32 (channels, "
                       "samples) array matching the others",
                       a->c->address);
  return 0;
}

/* A chunk of a stream that says its total: placed at its offset, its
 * samples read from `m`. */
static int place_chunk(assembly *a, const SignalChunk *ch, mef3__rpc_msg *m) {
  size_t len = (size_t)ch->shape[1];
  size_t total = (size_t)ch->total_samples;
  int rc;
  if (!a->sig && a->dst &&
      (rc = sig_view(&a->view, ch, a->nch, total, a->dst, a->cap)))
    return rc;
  if (a->dst)
    a->sig = &a->view;
  else if (!a->sig && !(a->sig = sig_new(ch, a->nch, total)))
    return mef3__error(MEF3_ENOMEM, "client: out of memory");
  if (ch->sample_offset != (int64_t)a->got || a->got + len > a->sig->n_samples)
    return mef3__error(MEF3_EIO, "%s: chunks out of order", a->c->address);
  if (place_msg(a->sig, m, a->got, len))
    return mef3__error(MEF3_EIO, "%s: malformed SignalChunk", a->c->address);
  a->got += len;
  a->complete = a->got == a->sig->n_samples;
  return 0;
}

/* A chunk of a stream that does not say its total: kept (taken) for the
 * join at the end. */
static int keep_chunk(assembly *a, SignalChunk *ch) {
  chunk_list *k = &a->kept;
  if (k->n == k->cap) {
    size_t ncap = k->cap ? k->cap * 2 : 8;
    SignalChunk **v = realloc(k->v, ncap * sizeof *v);
    if (!v)
      return mef3__error(MEF3_ENOMEM, "client: out of memory");
    k->v = v;
    k->cap = ncap;
  }
  k->v[k->n++] = ch;
  a->got += (size_t)ch->shape[1];
  return 0;
}

/* One message of the stream: 0, or the error that voids the read (detail
 * set; MEF3_ECANCELED and a->stop when the progress callback asked to
 * stop). */
static int take_message(assembly *a, grpc_byte_buffer *bb) {
  mef3__rpc_msg msg = {0};
  int oom = 0, rc = 0;
  SignalChunk *ch = unpack_chunk_inplace(bb, &msg, &oom);
  int inplace = ch && ch->total_samples > 0;
  if (ch && !inplace && own_samples(ch, &msg)) {
    ch = NULL; /* freed */
    rc = mef3__error(MEF3_ENOMEM, "client: out of memory");
  } else if (!ch && oom) {
    rc = mef3__error(MEF3_ENOMEM, "client: out of memory for a message");
  } else if (!ch) {
    rc = mef3__error(MEF3_EIO, "%s: malformed SignalChunk", a->c->address);
  } else if (!(rc = check_chunk(a, ch))) {
    a->nch = (size_t)ch->shape[0];
    rc = inplace ? place_chunk(a, ch, &msg) : keep_chunk(a, ch);
    if (!rc && !inplace)
      ch = NULL; /* kept */
  }
  if (ch && inplace)
    chunk_free_inplace(ch);
  else if (ch)
    signal_chunk__free_unpacked(ch, NULL);
  mef3__rpc_msg_close(&msg);
  if (!rc && a->progress &&
      a->progress((int64_t)a->got, inplace ? (int64_t)a->sig->n_samples : 0,
                  a->payload)) {
    a->stop = 1;
    rc = mef3__error(MEF3_ECANCELED, "read cancelled");
  }
  return rc;
}

/* The chunks kept of a stream that did not say its total, joined into the
 * result. */
static int join_kept(assembly *a) {
  int rc = 0;
  if (a->dst &&
      !(rc = sig_view(&a->view, a->kept.v[0], a->nch, a->got, a->dst, a->cap)))
    a->sig = &a->view;
  else if (!a->dst && !(a->sig = sig_new(a->kept.v[0], a->nch, a->got)))
    rc = mef3__error(MEF3_ENOMEM, "client: out of memory");
  if (a->sig) {
    size_t off = 0;
    for (size_t k = 0; k < a->kept.n; k++) {
      size_t len = (size_t)a->kept.v[k]->shape[1];
      place(a->sig, a->kept.v[k], off, len);
      off += len;
    }
  }
  return rc;
}

/* The stream's end: its status, unless an error came first (whose detail
 * is the one kept), and the checks of what came. */
static int finish_stream(assembly *a, mef3__rpc_call *r, int rc) {
  /* After a failure, stop the call rather than wait for messages nobody
   * reads (the status would never come). */
  if (rc && r->sent)
    mef3__rpc_call_cancel(r);
  mef3_error first = *mef3_error_last(); /* the one to tell */
  int st = r->sent ? mef3__client_end(r, a->c, a->complete && !rc) : 0;
  if (rc)
    mef3__error(first.code, "%s", first.message);
  else
    rc = st;
  mef3__rpc_call_dispose(r);
  if (!rc && !a->sig && !a->kept.n)
    rc = mef3__error(MEF3_EIO, "%s: no data returned", a->c->address);
  if (!rc && a->sig && a->got != a->sig->n_samples)
    rc = mef3__error(
        MEF3_EIO, "%s: the stream ended after %zu of %zu samples per channel",
        a->c->address, a->got, a->sig->n_samples);
  if (!rc && a->kept.n)
    rc = join_kept(a);
  for (size_t k = 0; k < a->kept.n; k++)
    signal_chunk__free_unpacked(a->kept.v[k], NULL);
  free(a->kept.v);
  return rc;
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
  assembly a = {
      .c = c, .dst = dst, .cap = cap, .progress = progress, .payload = payload};
  mef3__rpc_call r;
  grpc_byte_buffer *bb;
  int rc = mef3__client_begin(&r, c, MEF3_RPC_RANGE, path, &req.base, &bb);
  int failed = rc != 0;
  for (int more = !rc && bb; more;
       more = !a.complete && mef3__rpc_call_next(&r, &bb)) {
    if (!failed && (rc = take_message(&a, bb))) {
      failed = 1; /* the rest is drained */
      if (a.stop)
        mef3__rpc_call_cancel(&r);
    }
    grpc_byte_buffer_destroy(bb);
  }
  rc = finish_stream(&a, &r, rc);
  if (rc) {
    if (a.sig != &a.view)
      mef3_signal_free(a.sig);
    return rc;
  }
  if (dst) {
    shape->n_channels = a.view.n_channels;
    shape->n_samples = a.view.n_samples;
    shape->fs = a.view.fs;
    return 0;
  }
  /* As mef3_files_read: the window as requested (the chunks' own spans
   * are rounded). */
  a.sig->start_uutc = start_uutc;
  a.sig->end_uutc = end_uutc;
  *out = a.sig;
  return 0;
}

int mef3_client_read(mef3_signal **out, mef3_client *c, const char *path,
                     const char *const *channels, size_t n_channels,
                     int64_t start_uutc, int64_t end_uutc,
                     mef3_client_progress_fn progress, void *payload) {
  *out = NULL;
  return read_range(c, path, channels, n_channels, start_uutc, end_uutc, NULL,
                    0, NULL, out, progress, payload);
}

int mef3_client_read_into(mef3_client_shape *shape, mef3_client *c,
                          const char *path, const char *const *channels,
                          size_t n_channels, int64_t start_uutc,
                          int64_t end_uutc, float *data, size_t cap,
                          mef3_client_progress_fn progress, void *payload) {
  if (!data || !shape)
    return mef3__error(MEF3_EINVAL, "client: no output buffer");
  *shape = (mef3_client_shape){0, 0, 0};
  return read_range(c, path, channels, n_channels, start_uutc, end_uutc, data,
                    cap, shape, NULL, progress, payload);
}
