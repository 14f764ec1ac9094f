/*
 * server/server_range_begin.c - the first job of a GetSignalRange: the
 * request parsed and checked, a stream slot taken, the channels resolved
 * and the chunks planned (server_range.c streams them).
 *
 * A work thread, once per stream, before any chunk.  Every refusal is one
 * error chunk with the original server's words where it has them
 * ("Unknown channels: [...]", "Requested channels do not share a sampling
 * rate: {...}", "File not open: ...") and the status of rpc.c's table;
 * the limits (--max-streams, --max-samples) are RESOURCE_EXHAUSTED.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_impl.h"

/* A rate as Python's repr(round(fs, 6)) shows it: "256.0", "499.7". */
static void py_rate(char *buf, size_t cap, double fs) {
  char six[64], e[64];
  snprintf(six, sizeof six, "%.6f", fs); /* exact value, rounded: round() */
  double r = strtod(six, NULL);
  int p = 1; /* the fewest significant digits that read back */
  for (; p < 17; p++) {
    snprintf(e, sizeof e, "%.*e", p - 1, r);
    if (strtod(e, NULL) == r)
      break;
  }
  snprintf(e, sizeof e, "%.*e", p - 1, r);
  int x = atoi(strchr(e, 'e') + 1);
  if (x < -4 || x >= 16 || !isfinite(r)) { /* repr's exponent form */
    snprintf(buf, cap, "%s", e);
    return;
  }
  int dec = p - 1 - x;
  snprintf(buf, cap, "%.*f%s", dec > 0 ? dec : 0, r, dec > 0 ? "" : ".0");
}

/*
 * "Requested channels do not share a sampling rate: {256.0, 1000.0}" as
 * the original says it (its set of the rates rounded to 6 decimals, here
 * ascending), then which channel has which rate.
 */
static void rates_message(char *msg, size_t cap, const mef3_file_info *info,
                          const char *const *chans, size_t nch) {
  double seen[16];
  const char *who[16];
  size_t n = 0;
  for (size_t i = 0; i < nch; i++) {
    double fs = 0;
    for (size_t j = 0; j < info->n_channels; j++)
      if (!strcmp(info->channels[j].name, chans[i]))
        fs = info->channels[j].fs;
    char a[64], b[64];
    py_rate(a, sizeof a, fs);
    size_t k = 0;
    for (; k < n; k++) {
      py_rate(b, sizeof b, seen[k]);
      if (!strcmp(a, b))
        break;
    }
    if (k == n && n < sizeof seen / sizeof *seen) {
      /* insertion into the ascending list */
      size_t at = n++;
      while (at > 0 && seen[at - 1] > fs) {
        seen[at] = seen[at - 1];
        who[at] = who[at - 1];
        at--;
      }
      seen[at] = fs;
      who[at] = chans[i];
    }
  }
  size_t len = (size_t)snprintf(
      msg, cap, "Requested channels do not share a sampling rate: {");
  for (size_t k = 0; k < n && len < cap; k++) {
    char a[64];
    py_rate(a, sizeof a, seen[k]);
    len += (size_t)snprintf(msg + len, cap - len, "%s%s", k ? ", " : "", a);
  }
  if (len < cap)
    len += (size_t)snprintf(msg + len, cap - len, "} (");
  for (size_t k = 0; k < n && len < cap; k++)
    len += (size_t)snprintf(msg + len, cap - len, "%s%s at %.10g Hz",
                            k ? ", " : "", who[k], seen[k]);
  if (len < cap)
    snprintf(msg + len, cap - len, ")");
}

/* ---- the first job: check the request, plan the chunks ---- */

int mef3__range_take_slot(mef3_server *s, mef3__stream *st, char *msg,
                          size_t cap) {
  pthread_mutex_lock(&s->mu);
  int busy = s->stats.active_streams >= (uint64_t)s->o.max_streams;
  if (busy) {
    s->stats.refused++;
  } else {
    s->stats.active_streams++;
    st->counted = 1;
  }
  pthread_mutex_unlock(&s->mu);
  if (!busy)
    return 0;
  snprintf(msg, cap,
           "server busy: %d streams are running, the limit "
           "(--max-streams); try again",
           s->o.max_streams);
  return MEF3_ELIMIT;
}

const char *mef3__range_bad_times(int64_t start_uutc, int64_t end_uutc) {
  if (end_uutc <= start_uutc)
    return "end_uutc must be greater than start_uutc";
  /* 2^60 µs is 36,000 years: beyond it, differences of times overflow. */
  if (start_uutc < -((int64_t)1 << 60) || end_uutc > ((int64_t)1 << 60))
    return "start_uutc/end_uutc out of range";
  return NULL;
}

/* The file's channel named `name`, or NULL. */
static const mef3_file_channel *channel_named(const mef3_file_info *info,
                                              const char *name) {
  for (size_t j = 0; j < info->n_channels; j++)
    if (!strcmp(info->channels[j].name, name))
      return &info->channels[j];
  return NULL;
}

int mef3__range_pick(mef3__stream *st, char *const *names, size_t n_names,
                     char *msg, size_t cap) {
  const mef3_file_info *info = st->info;
  st->nch = n_names ? n_names : info->n_channels;
  st->chans = calloc(st->nch ? st->nch : 1, sizeof *st->chans);
  if (!st->chans) {
    snprintf(msg, cap, "out of memory");
    return MEF3_ENOMEM;
  }
  size_t len = (size_t)snprintf(msg, cap, "Unknown channels: [");
  int unknown = 0, mixed = 0;
  double fs = 0;
  for (size_t i = 0; i < st->nch; i++) {
    const char *name = n_names ? names[i] : info->channels[i].name;
    const mef3_file_channel *ch = channel_named(info, name);
    if (!ch) {
      if (len < cap)
        len += (size_t)snprintf(msg + len, cap - len, "%s'%s'",
                                unknown ? ", " : "", name);
      unknown++;
      continue;
    }
    st->chans[i] = ch->name;
    if (i == 0 || fs == 0)
      fs = ch->fs;
    else if (fabs(ch->fs - fs) > 1e-6 * fs)
      mixed = 1;
  }
  if (unknown) {
    if (len < cap)
      snprintf(msg + len, cap - len, "]");
    return MEF3_ENOTFOUND;
  }
  if (st->nch == 0) {
    snprintf(msg, cap, "the file has no channels");
    return MEF3_EINVAL;
  }
  st->fs = fs;
  if (mixed) {
    rates_message(msg, cap, info, st->chans, st->nch);
    return MEF3_EINVAL;
  }
  return 0;
}

/* The window's length in samples into st->total: 0, or a code and `msg`
 * (shorter than a sample, beyond --max-samples). */
static int size_window(mef3_server *s, mef3__stream *st, char *msg,
                       size_t cap) {
  const SignalRangeRequest *rq = st->req;
  st->total = mef3_files_window_samples(rq->start_uutc, rq->end_uutc, st->fs);
  if (st->total <= 0) {
    snprintf(msg, cap, "Requested window is shorter than one sample");
    return MEF3_EINVAL;
  }
  if ((double)st->total * (double)st->nch > (double)s->o.max_samples) {
    snprintf(msg, cap,
             "request too large: %zu channels x %" PRId64
             " samples exceeds the limit of %" PRId64
             " samples per request (--max-samples); read shorter windows",
             st->nch, st->total, s->o.max_samples);
    return MEF3_ELIMIT;
  }
  return 0;
}

/* Chunks of about chunk_bytes; for a window of more than one, the split
 * into chunk windows (st->ts, st->te, st->split), when there is one. */
static void plan_chunks(mef3_server *s, mef3__stream *st) {
  int64_t per = s->o.chunk_bytes / (int64_t)(st->nch * sizeof(float));
  st->per_chunk = per < 1 ? 1 : per;
  st->split = 0;
  if (st->total <= st->per_chunk)
    return;
  int64_t n = (st->total + st->per_chunk - 1) / st->per_chunk;
  int64_t *cs = malloc(st->nch * sizeof *cs);
  st->ts = malloc((size_t)n * sizeof *st->ts);
  st->te = malloc((size_t)n * sizeof *st->te);
  for (size_t i = 0; cs && i < st->nch; i++) {
    const mef3_file_channel *ch = channel_named(st->info, st->chans[i]);
    cs[i] = ch ? ch->start_uutc : MEF3_UUTC_NO_ENTRY;
  }
  st->split =
      cs && st->ts && st->te &&
      !mef3_grid_split(st->req->start_uutc, st->total, st->per_chunk, cs,
                       st->nch, st->fs, st->ts, st->te); /* mef3pool/grid.h */
  free(cs);
  if (!st->split) {
    free(st->ts);
    free(st->te);
    st->ts = st->te = NULL;
  }
}

/* First step of a stream: parse, check, plan.  0, or an error was sent. */
int mef3__range_begin(mef3_server *s, mef3__call *c) {
  mef3__stream *st = &c->st;
  st->t0_ns = mef3__server_now_ns();
  st->req = (SignalRangeRequest *)mef3__rpc_unpack(
      &signal_range_request__descriptor, c->payload);
  if (!st->req) {
    mef3__call_finish(c, NULL, GRPC_STATUS_INVALID_ARGUMENT,
                      "malformed SignalRangeRequest");
    return -1;
  }
  SignalRangeRequest *rq = st->req;
  const char *path = rq->file_path ? rq->file_path : "";
  char msg[1100];
  int rc = mef3__range_take_slot(s, st, msg, sizeof msg);
  if (rc) {
    mef3__range_error(c, rc, msg);
    return -1;
  }
  const char *why = mef3__range_bad_times(rq->start_uutc, rq->end_uutc);
  if (why) {
    mef3__range_error(c, MEF3_EINVAL, why);
    return -1;
  }
  mef3__server_token(&c->md, st->token, sizeof st->token);
  rc = mef3_files_info_as(&st->info, s->fm, path, st->token);
  if (rc == MEF3_ENOTFOUND) {
    snprintf(msg, sizeof msg, "File not open: %s", path);
    mef3__range_error(c, rc, msg);
    return -1;
  }
  if (rc) {
    mef3__range_error(c, rc, mef3__server_err_msg(rc));
    return -1;
  }
  if ((rc = mef3__range_pick(st, rq->channel_names, rq->n_channel_names, msg,
                             sizeof msg)) ||
      (rc = size_window(s, st, msg, sizeof msg))) {
    mef3__range_error(c, rc, msg);
    return -1;
  }
  plan_chunks(s, st);
  mef3__server_log(s, MEF3_LOG_DEBUG,
                   "range %s [%" PRId64 ", %" PRId64 "): %zu ch x %" PRId64
                   " samples, %" PRId64 " chunk(s)%s",
                   path, rq->start_uutc, rq->end_uutc, st->nch, st->total,
                   (st->total + st->per_chunk - 1) / st->per_chunk,
                   st->total > st->per_chunk
                       ? (st->split ? ", read per chunk" : ", read whole")
                       : "");
  return 0;
}
