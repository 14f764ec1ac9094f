/*
 * server/server_range_split.c - a window's split into chunk windows whose
 * samples are exactly those of the whole window.
 *
 * A stream reads a long window chunk by chunk, each chunk a window of its
 * own, so that a cancelled stream stops decoding at a chunk boundary and
 * memory stays at about two chunks.  That needs, for each boundary, a time
 * whose slot is the boundary sample's on every channel read, under the
 * files layer's rule (a time's slot is round((t - cs) * fs / 1e6), cs the
 * channel's start; docs/ARCHITECTURE.md).  This file redoes that rule: it
 * searches ±3 µs around the boundary's nominal time for a time safely away
 * from a rounding tie, and the same for each chunk's end by asking the
 * files layer for the window's length.
 *
 * It is the one place of the server that knows the grid; once there is a
 * grid module that splits a window on sample boundaries, this file is
 * replaced by a call to it.  Pure: no state, any thread.
 */
#include <math.h>
#include <stdlib.h>

#include "server/server_impl.h"

/* Position of time t on the grid of a channel starting at cs, before the
 * files layer rounds it. */
static double grid_pos(int64_t t, int64_t cs, double fs) {
  return (double)(t - cs) * fs / 1e6;
}

/* The offsets around a nominal time that are tried, nearest first. */
static const int nudge[] = {0, 1, -1, 2, -2, 3, -3};
#define N_NUDGE (sizeof nudge / sizeof *nudge)

/*
 * A time t whose slot is exactly (the window start's slot + s) on every
 * channel, with a safe margin from a rounding tie; 0 on success.
 */
static int find_boundary(int64_t start, double fs, const int64_t *cs,
                         const int64_t *base, size_t nch, int64_t s,
                         int64_t *out) {
  int64_t t = start + (int64_t)llround((double)s * 1e6 / fs);
  for (size_t k = 0; k < N_NUDGE; k++) {
    int64_t cand = t + nudge[k];
    size_t i;
    for (i = 0; i < nch; i++) {
      double d = grid_pos(cand, cs[i], fs) - (double)(base[i] + s);
      if (fabs(d) >= 0.5 - 1e-6)
        break;
    }
    if (i == nch) {
      *out = cand;
      return 0;
    }
  }
  return -1;
}

/* Each channel's slot of the window start into base[]; -1 when a channel
 * has no data, the times are too far apart for exact double arithmetic,
 * or the start lies on a rounding tie (left to one whole read). */
static int start_slots(int64_t start, int64_t end, double fs, const int64_t *cs,
                       size_t nch, int64_t *base) {
  for (size_t i = 0; i < nch; i++) {
    if (cs[i] == MEF3_UUTC_NO_ENTRY ||
        fabs((double)start - (double)cs[i]) > 0x1p52 ||
        fabs((double)end - (double)cs[i]) > 0x1p52)
      return -1;
    double x = grid_pos(start, cs[i], fs);
    base[i] = (int64_t)rint(x); /* the files layer's rule (ties excluded) */
    if (fabs(x - (double)base[i]) >= 0.5 - 1e-6)
      return -1;
  }
  return 0;
}

int mef3__range_split(int64_t start, int64_t end, double fs, const int64_t *cs,
                      size_t nch, int64_t total, int64_t per_chunk, int64_t *ts,
                      int64_t *te) {
  int64_t *base = malloc((nch ? nch : 1) * sizeof *base);
  int ok = base && !start_slots(start, end, fs, cs, nch, base);
  int64_t n_chunks = (total + per_chunk - 1) / per_chunk;
  for (int64_t k = 0; ok && k < n_chunks; k++) {
    int64_t s0 = k * per_chunk;
    int64_t len = s0 + per_chunk > total ? total - s0 : per_chunk;
    if (k == 0)
      ts[0] = start;
    else if (find_boundary(start, fs, cs, base, nch, s0, &ts[k]))
      ok = 0;
    if (!ok)
      break;
    /* The chunk's end: a time that gives exactly `len` samples. */
    int64_t t1 = ts[k] + (int64_t)llround((double)len * 1e6 / fs);
    int found = 0;
    for (size_t j = 0; j < N_NUDGE && !found; j++)
      if (mef3_files_window_samples(ts[k], t1 + nudge[j], fs) == len) {
        te[k] = t1 + nudge[j];
        found = 1;
      }
    ok = found;
  }
  free(base);
  return ok ? 0 : -1;
}
