/*
 * files/grid.c - the file manager's window arithmetic: how many samples a
 * window [start, end) holds and on which grid sample it starts.
 *
 * The file manager answers as the original server does, whose Python
 * computes int(round(x)) on doubles: halves go to the even integer.
 * (1000 Hz, 2500 µs: 2.5 -> 2 samples; a start 2 ms after a 250 Hz
 * channel's first sample, 0.5 -> grid sample 0.)  The reader keeps its
 * own rule, halves away from zero (mef3_window_samples); the two differ
 * only on exact ties.  Pure functions, any thread.
 */
#include <math.h>
#include <stdint.h>

#include "files/files_impl.h"

/* x rounded to nearest, halves to even; saturated to int64. */
static int64_t round_even(double x) {
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

/* t1 - t0 as a double, as Python's int - int then float() would have it. */
static double diff(int64_t t1, int64_t t0) {
  int64_t d;
  if (!__builtin_sub_overflow(t1, t0, &d))
    return (double)d;
  return (double)t1 - (double)t0;
}

int64_t mef3_files_window_samples(int64_t start_uutc, int64_t end_uutc,
                                  double fs) {
  if (end_uutc <= start_uutc || !(fs > 0.0))
    return 0;
  return round_even(diff(end_uutc, start_uutc) * fs / 1e6);
}

int64_t mef3__files_slot(int64_t t, int64_t cs, double fs) {
  return round_even(diff(t, cs) * fs / 1e6);
}
