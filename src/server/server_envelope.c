/*
 * server/server_envelope.c - GetEnvelope (an addition to the original
 * service): a window of any length reduced to at most max_columns columns
 * of (min, max) per channel by the file manager's envelope pyramid
 * (mef3_files_envelope_as), streamed as EnvelopeChunk messages of about
 * chunk_bytes, column ranges of every channel.
 *
 * Work threads run a stream's jobs, one at a time, as GetSignalRange's
 * (server_range.c): the first checks the request under the same rules
 * (a stream slot, the window's times, the access token of the call, the
 * channels and their one rate, --max-samples), computes the whole
 * envelope, which is small (at most 65536 columns), and sends its first
 * chunk; each send's completion (a completion-queue thread) queues the
 * job of the next.  Cancellation and the deadline are checked before
 * every chunk.  Refusals are one error chunk and a status from rpc.c's
 * table, except that an unknown channel is INVALID_ARGUMENT here (the
 * original has no such call to stay compatible with; the caller named a
 * channel the session does not have).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_impl.h"

/* The widest envelope served, as the HTTP API's. */
#define MAX_COLUMNS 65536

static const char *req_path(const mef3__stream *st) {
  return st->ereq && st->ereq->file_path ? st->ereq->file_path : "";
}

/* The end of a stream that failed: one EnvelopeChunk carrying `msg` and
 * the code's name, and the code's status (logged). */
static void env_error(mef3__call *c, int rc, const char *msg) {
  mef3_server *s = c->s;
  EnvelopeChunk ch = ENVELOPE_CHUNK__INIT;
  const char *path = req_path(&c->st);
  ch.file_path = (char *)path;
  ch.error_message = (char *)msg;
  ch.error_code = (char *)mef3_errname(rc);
  mef3__server_log(s,
                   rc == MEF3_ELIMIT || rc == MEF3_EINVAL ||
                           rc == MEF3_EPASSWORD
                       ? MEF3_LOG_WARN
                       : MEF3_LOG_ERROR,
                   "envelope %s failed: %s (%s)", path, msg, mef3_errname(rc));
  mef3__call_finish(c, mef3__rpc_pack(&ch.base), mef3__rpc_status_of(rc),
                    msg);
}

/* The limits of one request: 0, or MEF3_ELIMIT and `msg`.  Columns below
 * the pyramid's base are reduced from a read of every sample. */
static int check_size(mef3_server *s, const mef3__stream *st, int64_t columns,
                      char *msg, size_t cap) {
  const EnvelopeRequest *rq = st->ereq;
  int64_t n = mef3_files_window_samples(rq->start_uutc, rq->end_uutc, st->fs);
  double out = (double)st->nch * (double)columns * 2;
  double read = (double)st->nch * (double)n;
  int raw = n <= 0 || (n + columns - 1) / columns < MEF3_ENVELOPE_BASE;
  if (out > (double)s->o.max_samples ||
      (raw && read > (double)s->o.max_samples)) {
    snprintf(msg, cap,
             "request too large: %zu channels x %" PRId64
             " %s exceeds the limit of %" PRId64
             " samples per request (--max-samples); ask for fewer columns",
             st->nch, out > (double)s->o.max_samples ? columns * 2 : n,
             out > (double)s->o.max_samples ? "values" : "samples",
             s->o.max_samples);
    return MEF3_ELIMIT;
  }
  return 0;
}

/* The first job: parse, check, compute.  0, or an error was sent. */
static int env_begin(mef3_server *s, mef3__call *c) {
  mef3__stream *st = &c->st;
  st->t0_ns = mef3__server_now_ns();
  st->ereq = (EnvelopeRequest *)mef3__rpc_unpack(&envelope_request__descriptor,
                                                 c->payload);
  if (!st->ereq) {
    mef3__call_finish(c, NULL, GRPC_STATUS_INVALID_ARGUMENT,
                      "malformed EnvelopeRequest");
    return -1;
  }
  const EnvelopeRequest *rq = st->ereq;
  const char *path = req_path(st);
  char msg[1100];
  int rc = mef3__range_take_slot(s, st, msg, sizeof msg);
  if (rc) {
    env_error(c, rc, msg);
    return -1;
  }
  const char *why = mef3__range_bad_times(rq->start_uutc, rq->end_uutc);
  if (!why && (rq->max_columns < 1 || rq->max_columns > MAX_COLUMNS))
    why = "max_columns must be in [1, 65536]";
  if (why) {
    env_error(c, MEF3_EINVAL, why);
    return -1;
  }
  mef3__server_token(&c->md, st->token, sizeof st->token);
  rc = mef3_files_info_as(&st->info, s->fm, path, st->token);
  if (rc) {
    if (rc == MEF3_ENOTFOUND)
      snprintf(msg, sizeof msg, "File not open: %s", path);
    env_error(c, rc, rc == MEF3_ENOTFOUND ? msg : mef3__server_err_msg(rc));
    return -1;
  }
  rc = mef3__range_pick(st, rq->channel_names, rq->n_channel_names, msg,
                        sizeof msg);
  if (rc == MEF3_ENOTFOUND)
    rc = MEF3_EINVAL;
  if (rc || (rc = check_size(s, st, rq->max_columns, msg, sizeof msg))) {
    env_error(c, rc, msg);
    return -1;
  }
  rc = mef3_files_envelope_as(&st->env, s->fm, path, st->token, st->chans,
                              st->nch, rq->start_uutc, rq->end_uutc,
                              (size_t)rq->max_columns);
  if (rc) {
    env_error(c, rc, mef3__server_err_msg(rc));
    return -1;
  }
  int64_t per = s->o.chunk_bytes / (int64_t)(st->nch * 2 * sizeof(float));
  st->per_chunk = per < 1 ? 1 : per;
  st->total = (int64_t)st->env->n_columns;
  st->next = 0;
  mef3__server_log(s, MEF3_LOG_DEBUG,
                   "envelope %s [%" PRId64 ", %" PRId64 "): %zu ch x %zu "
                   "columns of %" PRId64 " samples (level %d) in %.1f ms",
                   path, rq->start_uutc, rq->end_uutc, st->nch,
                   st->env->n_columns, st->env->samples_per_column,
                   st->env->level, (mef3__server_now_ns() - st->t0_ns) / 1e6);
  return 0;
}

/* 1 when the stream stops before its next chunk (mef3__call_stopped). */
static int env_stopped(mef3_server *s, mef3__call *c) {
  if (!mef3__call_stopped(s, c))
    return 0;
  mef3__server_log(s, MEF3_LOG_INFO, "envelope %s: cancelled", req_path(&c->st));
  return 1;
}

/* Columns [j0, j0 + k) of every channel of `a` ((channels, columns)
 * row-major) into `dst` ((channels, k)), little-endian. */
static void cut_columns(float *dst, const float *a, size_t nch, size_t ncol,
                        size_t j0, size_t k) {
  for (size_t i = 0; i < nch; i++)
    memcpy(dst + i * k, a + i * ncol + j0, k * sizeof *dst);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  for (size_t i = 0; i < nch * k; i++) {
    uint32_t u;
    memcpy(&u, &dst[i], 4);
    u = __builtin_bswap32(u);
    memcpy(&dst[i], &u, 4);
  }
#endif
}

/* The chunk of columns [j0, j1) as a byte buffer; NULL when out of
 * memory. */
static grpc_byte_buffer *env_chunk(const mef3__stream *st, size_t j0,
                                   size_t j1) {
  const mef3_envelope *e = st->env;
  size_t k = j1 - j0, nf = st->nch * k;
  float *lo = malloc((nf ? nf : 1) * sizeof *lo);
  float *hi = malloc((nf ? nf : 1) * sizeof *hi);
  grpc_byte_buffer *bb = NULL;
  if (lo && hi) {
    cut_columns(lo, e->min, e->n_channels, e->n_columns, j0, k);
    cut_columns(hi, e->max, e->n_channels, e->n_columns, j0, k);
    EnvelopeChunk ch = ENVELOPE_CHUNK__INIT;
    int64_t shape[2] = {(int64_t)st->nch, (int64_t)k};
    ch.file_path = (char *)req_path(st);
    ch.n_channel_names = e->n_channels;
    ch.channel_names = e->channel_names;
    ch.fs = e->fs;
    ch.start_uutc = e->start_uutc;
    ch.end_uutc = e->end_uutc;
    ch.samples_per_column = e->samples_per_column;
    ch.level = e->level;
    ch.n_first_sample = ch.n_first_uutc = e->n_channels;
    ch.first_sample = e->first_sample;
    ch.first_uutc = e->first_uutc;
    ch.total_columns = (int64_t)e->n_columns;
    ch.column_offset = (int64_t)j0;
    ch.n_shape = 2;
    ch.shape = shape;
    ch.min_bytes.data = (uint8_t *)lo;
    ch.min_bytes.len = nf * sizeof *lo;
    ch.max_bytes.data = (uint8_t *)hi;
    ch.max_bytes.len = nf * sizeof *hi;
    bb = mef3__rpc_pack(&ch.base);
  }
  free(lo);
  free(hi);
  return bb;
}

void mef3__envelope_step(mef3_server *s, mef3__call *c) {
  mef3__stream *st = &c->st;
  if (!st->ereq && env_begin(s, c))
    return;
  if (env_stopped(s, c))
    return;
  size_t j0 = (size_t)st->next;
  size_t j1 = st->next + st->per_chunk < st->total
                  ? (size_t)(st->next + st->per_chunk)
                  : (size_t)st->total;
  grpc_byte_buffer *bb = env_chunk(st, j0, j1);
  if (!bb) {
    env_error(c, MEF3_ENOMEM, "out of memory");
    return;
  }
  st->next = (int64_t)j1;
  pthread_mutex_lock(&s->mu);
  s->stats.chunks_sent++;
  s->stats.bytes_sent += st->nch * (j1 - j0) * 2 * sizeof(float);
  pthread_mutex_unlock(&s->mu);
  if (st->next < st->total) {
    mef3__call_send(c, bb);
    return;
  }
  mef3__server_log(s, MEF3_LOG_INFO,
                   "envelope %s [%" PRId64 ", %" PRId64
                   "): %zu ch x %zu columns in %.1f ms",
                   req_path(st), st->ereq->start_uutc, st->ereq->end_uutc,
                   st->nch, st->env->n_columns,
                   (mef3__server_now_ns() - st->t0_ns) / 1e6);
  mef3__call_finish(c, bb, GRPC_STATUS_OK, NULL);
}

void mef3__envelope_sent(mef3_server *s, mef3__call *c, int ok) {
  mef3__stream *st = &c->st;
  pthread_mutex_lock(&c->mu);
  int cancelled = c->cancelled || !ok;
  pthread_mutex_unlock(&c->mu);
  if (cancelled) {
    mef3__server_log(s, MEF3_LOG_INFO, "envelope %s: client gone",
                     req_path(st));
    pthread_mutex_lock(&s->mu);
    s->stats.cancelled++;
    pthread_mutex_unlock(&s->mu);
    return;
  }
  if (st->next < st->total)
    mef3__call_enqueue(s, c);
}
