/*
 * server/server_range.c - GetSignalRange: a window of channels streamed as
 * SignalChunk messages, one chunk per job.
 *
 * Work threads run a stream's jobs, one at a time: the first checks the
 * request and plans the chunks (server_range_begin.c); each reads one
 * chunk's window straight into reused send memory (sendbuf.h) and starts
 * its send; the completion-queue thread that sees the send done queues the
 * next job (mef3__range_sent).  So a stream has at most one message in flight: the
 * next chunk is read only once the previous one has been taken by the
 * transport, a slow client holds back only its own stream (gRPC flow
 * control delays the SEND completion), and a stream holds about two
 * chunks of memory.
 *
 * Cancellation: the call's cancelled flag, the server's cancel_all and the
 * deadline are checked before every chunk's read, so a cancelled request
 * stops its decode work at the next chunk boundary.  A window longer than
 * one chunk is read chunk by chunk, each chunk a window of its own whose
 * samples are exactly those of the whole window (mef3_grid_split);
 * when no exact split exists, it is read whole and cut.  At most
 * max_streams streams hold a slot; the slot is given back when the last
 * batch starts (mef3__call_finish).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_impl.h"

void mef3__range_error(mef3__call *c, int rc, const char *msg) {
  mef3_server *s = c->s;
  SignalChunk ch = SIGNAL_CHUNK__INIT;
  const char *path =
      c->st.req && c->st.req->file_path ? c->st.req->file_path : "";
  ch.file_path = (char *)path;
  ch.error_message = (char *)msg;
  ch.error_code = (char *)mef3_errname(rc);
  mef3__server_log(s,
                   rc == MEF3_ELIMIT || rc == MEF3_EINVAL ||
                           rc == MEF3_EPASSWORD
                       ? MEF3_LOG_WARN
                       : MEF3_LOG_ERROR,
                   "range %s failed: %s (%s)", path, msg, mef3_errname(rc));
  grpc_byte_buffer *bb = mef3__rpc_pack(&ch.base);
  grpc_status_code st = mef3__rpc_status_of(rc);
  mef3__call_finish(c, bb, st, msg);
}

/*
 * A SignalChunk as a byte buffer without copying the samples: the packed
 * header fields, then field 2 (array_bytes) as its own slice pointing at
 * `data`; `owner` is freed with `destroy` when gRPC releases it.
 */
static grpc_byte_buffer *chunk_buffer(const SignalChunk *hdr, const float *data,
                                      size_t nbytes, void *owner,
                                      void (*destroy)(void *)) {
  size_t hn = signal_chunk__get_packed_size(hdr);
  uint8_t *h = malloc(hn + 11);
  if (!h) {
    destroy(owner);
    return NULL;
  }
  signal_chunk__pack(hdr, h);
  h[hn++] = (2 << 3) | 2; /* field 2, length-delimited */
  hn += mef3__rpc_varint(h + hn, nbytes);
  grpc_slice sl[2];
  sl[0] = grpc_slice_new(h, hn, free);
  sl[1] = grpc_slice_new_with_user_data((void *)data, nbytes, destroy, owner);
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(sl, 2);
  grpc_slice_unref(sl[0]);
  grpc_slice_unref(sl[1]);
  return bb;
}

/* ---- each job: one chunk ---- */

/* 1 when the stream stops before its next chunk (mef3__call_stopped). */
static int stream_stopped(mef3_server *s, mef3__call *c) {
  mef3__stream *st = &c->st;
  if (!mef3__call_stopped(s, c))
    return 0;
  mef3__server_log(s, MEF3_LOG_INFO,
                   "range %s: cancelled after %" PRId64 " of %" PRId64
                   " samples; decoding stopped",
                   st->req->file_path ? st->req->file_path : "", st->next,
                   st->total);
  return 1;
}

/*
 * Samples [s0, s0 + len) of every channel into send memory (*out, handed
 * on to gRPC or given back with mef3__sendbuf_put): one read of exactly
 * this chunk when the window is split (or is one chunk), else a cut of
 * the whole window, read once.  0, or an error was sent.
 */
static int read_chunk(mef3_server *s, mef3__call *c, int64_t s0, size_t len,
                      float **out) {
  mef3__stream *st = &c->st;
  const SignalRangeRequest *rq = st->req;
  const char *path = rq->file_path ? rq->file_path : "";
  size_t nbytes = st->nch * len * sizeof(float);
  int rc = 0;
  float *buf = NULL;
  if (st->split || (s0 == 0 && (int64_t)len == st->total)) {
    int64_t t0 = st->split ? st->ts[s0 / st->per_chunk] : rq->start_uutc;
    int64_t t1 = st->split ? st->te[s0 / st->per_chunk] : rq->end_uutc;
    if (!(buf = mef3__sendbuf_get(s->bufs, nbytes))) {
      mef3__range_error(c, MEF3_ENOMEM, "out of memory");
      return -1;
    }
    size_t got = 0;
    rc = mef3_files_read_into_as(&got, s->fm, path, st->token, st->chans,
                                 st->nch, t0, t1, buf, st->nch * len);
    if (!rc && got != len) {
      mef3__sendbuf_put(buf);
      mef3__range_error(c, MEF3_ERROR,
                        "internal error: a chunk's read had the wrong size");
      return -1;
    }
  } else {
    if (!st->whole)
      rc = mef3_files_read_as(&st->whole, s->fm, path, st->token, st->chans,
                              st->nch, rq->start_uutc, rq->end_uutc);
    if (!rc && ((int64_t)st->whole->n_samples != st->total ||
                st->whole->n_channels != st->nch)) {
      mef3__range_error(c, MEF3_ERROR,
                        "internal error: the window's read had the wrong size");
      return -1;
    }
    if (!rc && !(buf = mef3__sendbuf_get(s->bufs, nbytes))) {
      mef3__range_error(c, MEF3_ENOMEM, "out of memory");
      return -1;
    }
    for (size_t i = 0; !rc && i < st->nch; i++)
      memcpy(buf + i * len, st->whole->data + i * st->whole->n_samples + s0,
             len * sizeof *buf);
  }
  if (rc) {
    if (buf)
      mef3__sendbuf_put(buf);
    mef3__range_error(c, rc, mef3__server_err_msg(rc));
    return -1;
  }
  *out = buf;
  return 0;
}

/* The SignalChunk of samples [s0, s1) held in `buf` (taken) as a byte
 * buffer; NULL when out of memory. */
static grpc_byte_buffer *chunk_message(const mef3__stream *st, int64_t s0,
                                       int64_t s1, float *buf) {
  const SignalRangeRequest *rq = st->req;
  size_t len = (size_t)(s1 - s0);
  SignalChunk ch = SIGNAL_CHUNK__INIT;
  int64_t shape[2] = {(int64_t)st->nch, (int64_t)len};
  int64_t span = rq->end_uutc - rq->start_uutc;
  /* Each chunk's span as the original computes it. */
  double a =
      (double)rq->start_uutc + ((double)s0 / (double)st->total) * (double)span;
  double b =
      (double)rq->start_uutc + ((double)s1 / (double)st->total) * (double)span;
  ch.file_path = rq->file_path ? rq->file_path : "";
  ch.dtype = "float32";
  ch.n_shape = 2;
  ch.shape = shape;
  ch.start_uutc = (int64_t)a;
  ch.end_uutc = (int64_t)b;
  ch.fs = st->fs;
  ch.n_channel_names = st->nch;
  ch.channel_names = (char **)st->chans;
  ch.sample_offset = s0;
  ch.total_samples = st->total;
  return chunk_buffer(&ch, buf, st->nch * len * sizeof(float), buf,
                      mef3__sendbuf_put);
}

void mef3__range_step(mef3_server *s, mef3__call *c) {
  mef3__stream *st = &c->st;
  if (!st->req && mef3__range_begin(s, c))
    return;
  if (stream_stopped(s, c))
    return;
  const SignalRangeRequest *rq = st->req;
  const char *path = rq->file_path ? rq->file_path : "";
  int64_t s0 = st->next;
  int64_t s1 = s0 + st->per_chunk < st->total ? s0 + st->per_chunk : st->total;
  size_t len = (size_t)(s1 - s0);
  mef3_files_stats before, after;
  int debug = mef3__server_logs(s, MEF3_LOG_DEBUG);
  if (debug)
    mef3_files_get_stats(&before, s->fm);
  int64_t t_read = mef3__server_now_ns();
  float *buf;
  if (read_chunk(s, c, s0, len, &buf))
    return;
  t_read = mef3__server_now_ns() - t_read;
  if (debug) {
    mef3_files_get_stats(&after, s->fm);
    mef3__server_log(
        s, MEF3_LOG_DEBUG,
        "range %s chunk %" PRId64 "/%" PRId64 ": %zu x %zu read in %.2f ms, "
        "tiles: %" PRIu64 " hit, %" PRIu64 " missed (server-wide)",
        path, s0 / st->per_chunk + 1,
        (st->total + st->per_chunk - 1) / st->per_chunk, st->nch, len,
        t_read / 1e6, after.hits - before.hits, after.misses - before.misses);
  }
  grpc_byte_buffer *bb = chunk_message(st, s0, s1, buf);
  if (!bb) {
    mef3__range_error(c, MEF3_ENOMEM, "out of memory");
    return;
  }
  st->next = s1;
  pthread_mutex_lock(&s->mu);
  s->stats.chunks_sent++;
  s->stats.bytes_sent += st->nch * len * sizeof(float);
  pthread_mutex_unlock(&s->mu);
  if (s1 < st->total) {
    mef3__call_send(c, bb);
    return;
  }
  /* The last chunk and the status in one batch: one wake-up fewer here
   * and in the client, which gets both in one read. */
  mef3__server_log(s, MEF3_LOG_INFO,
                   "range %s [%" PRId64 ", %" PRId64 "): %zu ch x %" PRId64
                   " samples in %.1f ms",
                   path, rq->start_uutc, rq->end_uutc, st->nch, st->total,
                   (mef3__server_now_ns() - st->t0_ns) / 1e6);
  mef3__call_finish(c, bb, GRPC_STATUS_OK, NULL);
}

void mef3__range_sent(mef3_server *s, mef3__call *c, int ok) {
  mef3__stream *st = &c->st;
  pthread_mutex_lock(&c->mu);
  int cancelled = c->cancelled || !ok;
  pthread_mutex_unlock(&c->mu);
  if (cancelled) {
    mef3__server_log(s, MEF3_LOG_INFO,
                     "range %s: client gone after %" PRId64 " of %" PRId64
                     " samples",
                     st->req->file_path, st->next, st->total);
    pthread_mutex_lock(&s->mu);
    s->stats.cancelled++;
    pthread_mutex_unlock(&s->mu);
    return;
  }
  /* Only chunks before the last come here (the last one finishes). */
  if (st->next < st->total)
    mef3__call_enqueue(s, c);
}
