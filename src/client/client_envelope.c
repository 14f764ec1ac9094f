/*
 * client/client_envelope.c - GetEnvelope (an addition; docs/protocol.md)
 * on the client side: the streamed EnvelopeChunk messages, column ranges
 * of every channel, joined into one mef3_envelope like the file
 * manager's.
 *
 * The first chunk sizes the result (channels, total columns, the grid);
 * every later one must agree with it and start where the one before
 * ended.  An error chunk, or chunks that do not fit, void the whole
 * envelope and the call is cancelled.  The caller's thread; nothing shared
 * but the client's channel and tokens.
 */
#include <string.h>

#include "client/client_impl.h"

/* A chunk's floats (shape n) from `b` into `dst`, little-endian on the
 * wire. */
static void take_floats(float *dst, const ProtobufCBinaryData *b, size_t n) {
  memcpy(dst, b->data, n * sizeof *dst);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  for (size_t i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, &dst[i], 4);
    u = __builtin_bswap32(u);
    memcpy(&dst[i], &u, 4);
  }
#endif
}

/* The result, sized from the first chunk. */
static int env_new(mef3_envelope **out, const EnvelopeChunk *ch, size_t nch,
                   size_t ncol) {
  mef3_envelope *e = mef3_calloc(1, sizeof *e);
  if (!e)
    return MEF3_ENOMEM;
  *out = e;
  size_t k = nch ? nch : 1, m = nch * ncol > 0 ? nch * ncol : 1;
  e->channel_names = mef3_calloc(k, sizeof *e->channel_names);
  e->first_sample = mef3_calloc(k, sizeof *e->first_sample);
  e->first_uutc = mef3_calloc(k, sizeof *e->first_uutc);
  e->min = mef3_malloc(m * sizeof *e->min);
  e->max = mef3_malloc(m * sizeof *e->max);
  if (!e->channel_names || !e->first_sample || !e->first_uutc || !e->min ||
      !e->max)
    return MEF3_ENOMEM;
  e->n_channels = nch; /* (names filled below: freed by count) */
  for (size_t i = 0; i < nch; i++) {
    if (!(e->channel_names[i] = mef3_strdup(ch->channel_names[i])))
      return MEF3_ENOMEM;
    e->first_sample[i] = ch->first_sample[i];
    e->first_uutc[i] = ch->first_uutc[i];
  }
  e->n_columns = ncol;
  e->fs = ch->fs;
  e->samples_per_column = ch->samples_per_column;
  e->level = ch->level;
  e->start_uutc = ch->start_uutc;
  e->end_uutc = ch->end_uutc;
  return 0;
}

/* One message: placed into *out (created by the first), or the error
 * that voids the envelope; *done counts the columns received. */
static int take_chunk(mef3_client *c, grpc_byte_buffer *bb,
                      mef3_envelope **out, size_t *done) {
  EnvelopeChunk *ch = (EnvelopeChunk *)mef3__rpc_unpack(
      &envelope_chunk__descriptor, bb);
  if (!ch)
    return mef3__error(MEF3_EIO, "%s: malformed EnvelopeChunk", c->address);
  int rc = 0;
  if (ch->error_message && *ch->error_message) {
    rc = mef3__client_server_error(ch->error_message, ch->error_code);
    envelope_chunk__free_unpacked(ch, NULL);
    return rc;
  }
  size_t nch = ch->n_shape == 2 && ch->shape[0] >= 0 ? (size_t)ch->shape[0] : 0;
  size_t k = ch->n_shape == 2 && ch->shape[1] >= 0 ? (size_t)ch->shape[1] : 0;
  size_t total = ch->total_columns > 0 ? (size_t)ch->total_columns : 0;
  mef3_envelope *e = *out;
  int fits =
      ch->n_shape == 2 && ch->shape[0] >= 0 && ch->shape[1] >= 0 &&
      ch->n_channel_names == nch && ch->n_first_sample == nch &&
      ch->n_first_uutc == nch && ch->min_bytes.len == nch * k * sizeof(float) &&
      ch->max_bytes.len == nch * k * sizeof(float) &&
      ch->column_offset == (int64_t)*done && *done + k <= total &&
      (!e || (e->n_channels == nch && e->n_columns == total));
  if (!fits) {
    rc = mef3__error(MEF3_EIO,
                     "%s: an envelope chunk does not fit the ones before",
                     c->address);
  } else if (!e && env_new(out, ch, nch, total)) {
    rc = mef3__error(MEF3_ENOMEM, "client: out of memory");
  } else {
    e = *out;
    for (size_t i = 0; i < nch; i++) {
      take_floats(e->min + i * total + *done,
                  &(ProtobufCBinaryData){k * sizeof(float),
                                         ch->min_bytes.data +
                                             i * k * sizeof(float)},
                  k);
      take_floats(e->max + i * total + *done,
                  &(ProtobufCBinaryData){k * sizeof(float),
                                         ch->max_bytes.data +
                                             i * k * sizeof(float)},
                  k);
    }
    *done += k;
  }
  envelope_chunk__free_unpacked(ch, NULL);
  return rc;
}

int mef3_client_envelope(mef3_envelope **out, mef3_client *c, const char *path,
                         const char *const *channels, size_t n_channels,
                         int64_t start_uutc, int64_t end_uutc,
                         size_t max_columns) {
  *out = NULL;
  EnvelopeRequest req = ENVELOPE_REQUEST__INIT;
  req.file_path = (char *)path;
  req.channel_names = (char **)channels;
  req.n_channel_names = n_channels;
  req.start_uutc = start_uutc;
  req.end_uutc = end_uutc;
  req.max_columns = max_columns > (size_t)INT64_MAX ? INT64_MAX
                                                    : (int64_t)max_columns;
  mef3__rpc_call r;
  grpc_byte_buffer *bb;
  mef3_envelope *e = NULL;
  size_t done = 0;
  int rc = mef3__client_begin(&r, c, MEF3_RPC_ENVELOPE, path, &req.base, &bb);
  int complete = 0;
  for (int more = !rc && bb; more;
       more = !complete && mef3__rpc_call_next(&r, &bb)) {
    if (!rc)
      rc = take_chunk(c, bb, &e, &done);
    complete = !rc && e && done == e->n_columns;
    grpc_byte_buffer_destroy(bb);
    if (rc)
      break;
  }
  /* After a failure, stop the call rather than read what follows. */
  if (rc && r.sent)
    mef3__rpc_call_cancel(&r);
  mef3_error first = *mef3_error_last();
  int st = r.sent ? mef3__client_end(&r, c, complete) : 0;
  if (rc)
    mef3__error(first.code, "%s", first.message);
  else
    rc = st;
  mef3__rpc_call_dispose(&r);
  if (!rc && !complete && e)
    rc = mef3__error(MEF3_EIO, "%s: the stream ended after %zu of %zu columns",
                     c->address, done, e->n_columns);
  else if (!rc && !complete)
    rc = mef3__error(MEF3_EIO, "%s: no envelope returned", c->address);
  if (rc) {
    mef3_envelope_free(e);
    return rc;
  }
  *out = e;
  return 0;
}
