/*
 * util/grid.c - the sample grid (mef3pool/grid.h): slots, window lengths,
 * tile windows and chunk splits, for every layer.  Pure functions.
 */
#include <math.h>
#include <stdint.h>

#include "mef3pool/grid.h"
#include "util/timemath.h"

/* x rounded to nearest, halves to even; saturated to int64, NaN -> 0. */
static int64_t sat_round_even(double x) {
  if (!(x == x))
    return 0;
  if (x >= 9.2e18)
    return INT64_MAX;
  if (x <= -9.2e18)
    return INT64_MIN;
  /* rint rounds in the current mode; nothing here changes it from the
   * default, round to nearest even. */
  return (int64_t)rint(x);
}

static double position(int64_t t, int64_t t0, double fs) {
  return diff_d(t, t0) * fs / 1e6;
}

int64_t mef3_grid_slot(int64_t t, int64_t t0, double fs,
                       mef3_rounding rounding) {
  double x = position(t, t0, fs);
  return rounding == MEF3_ROUND_EVEN ? sat_round_even(x) : sat_round(x);
}

int64_t mef3_grid_samples(int64_t t0, int64_t t1, double fs,
                          mef3_rounding rounding) {
  if (t1 <= t0 || !(fs > 0.0))
    return 0;
  return mef3_grid_slot(t1, t0, fs, rounding);
}

int64_t mef3_grid_time(int64_t t0, int64_t i, double fs) {
  return sat_add(t0, sat_round((double)i * 1e6 / fs));
}

void mef3_tile_window(int64_t cs, double fs, int64_t b, int64_t S, int64_t *t0,
                      int64_t *t1) {
  *t0 = sat_add(cs, sat_round((double)b * (double)S * 1e6 / fs));
  *t1 = sat_add(cs, sat_round((double)(b + 1) * (double)S * 1e6 / fs));
}

int64_t mef3_tile_samples(double seconds, double fs) {
  int64_t s = sat_round(seconds * fs);
  return s < 1 ? 1 : s;
}

/* ---- splitting a window into chunks ---- */

/* How far (in samples) a position may come to a tie and still count as
 * clearly on one side: the split keeps off ties, where the two roundings
 * (and a reader's double arithmetic) could part. */
#define TIE_MARGIN 1e-6
/* Candidate boundaries tried around the ideal time, in µs. */
static const int steps[] = {0, 1, -1, 2, -2, 3, -3};

/* The slot of the window's start on channel i (the split checked that
 * it is clear of a tie). */
static int64_t base_slot(int64_t start, int64_t cs, double fs) {
  return sat_round_even(position(start, cs, fs));
}

/* A time whose slot is (the start's slot + s) on every channel, clear of
 * ties. */
static int boundary(int64_t start, int64_t s, const int64_t *cs, size_t n_ch,
                    double fs, int64_t *out) {
  int64_t t = mef3_grid_time(start, s, fs);
  for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
    int64_t cand = t + steps[k];
    size_t i = 0;
    while (i < n_ch &&
           fabs(position(cand, cs[i], fs) -
                (double)(base_slot(start, cs[i], fs) + s)) < 0.5 - TIE_MARGIN)
      i++;
    if (i == n_ch) {
      *out = cand;
      return 0;
    }
  }
  return -1;
}

int mef3_grid_split(int64_t start, int64_t total, int64_t per_chunk,
                    const int64_t *cs, size_t n_ch, double fs, int64_t *ts,
                    int64_t *te) {
  if (total <= 0 || per_chunk <= 0 || !(fs > 0.0) || n_ch == 0 ||
      !((double)total * 1e6 / fs < 0x1p52))
    return -1;
  for (size_t i = 0; i < n_ch; i++) {
    /* A channel without data, or times far apart: no exact grid math. */
    if (cs[i] == MEF3_UUTC_NO_ENTRY ||
        fabs((double)start - (double)cs[i]) > 0x1p52)
      return -1;
    double x = position(start, cs[i], fs);
    if (fabs(x - (double)base_slot(start, cs[i], fs)) >= 0.5 - TIE_MARGIN)
      return -1; /* a start on a rounding tie */
  }
  int64_t n = (total + per_chunk - 1) / per_chunk;
  for (int64_t k = 0; k < n; k++) {
    int64_t s0 = k * per_chunk;
    int64_t len = s0 + per_chunk > total ? total - s0 : per_chunk;
    if (k == 0)
      ts[0] = start;
    else if (boundary(start, s0, cs, n_ch, fs, &ts[k]))
      return -1;
    /* The end only fixes the count: a time that gives `len` samples. */
    int64_t e = sat_add(ts[k], sat_round((double)len * 1e6 / fs));
    size_t j = 0;
    while (j < sizeof steps / sizeof *steps &&
           mef3_grid_samples(ts[k], e + steps[j], fs, MEF3_ROUND_EVEN) != len)
      j++;
    if (j == sizeof steps / sizeof *steps)
      return -1;
    te[k] = e + steps[j];
  }
  return 0;
}
