/* util/timemath.h - µUTC arithmetic that saturates instead of
 * overflowing: times come from files and callers, and any int64 is
 * possible. */
#ifndef MEF3_UTIL_TIMEMATH_H
#define MEF3_UTIL_TIMEMATH_H

#include <math.h>
#include <stdint.h>

static inline int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r))
    return b > 0 ? INT64_MAX : INT64_MIN;
  return r;
}

static inline int64_t sat_sub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r))
    return b < 0 ? INT64_MAX : INT64_MIN;
  return r;
}

/* round(v), halves away from zero, clamped to the int64 range; NaN -> 0. */
static inline int64_t sat_round(double v) {
  if (!(v == v))
    return 0;
  if (v >= 9.2e18)
    return INT64_MAX;
  if (v <= -9.2e18)
    return INT64_MIN;
  return (int64_t)llround(v);
}

/* a - b as a double, exact whenever the difference fits in int64. */
static inline double diff_d(int64_t a, int64_t b) {
  int64_t r;
  if (!__builtin_sub_overflow(a, b, &r))
    return (double)r;
  return (double)a - (double)b;
}

#endif
