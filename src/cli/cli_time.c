/*
 * cli/cli_time.c - the one time parser of every command's --start/--end
 * (and gen --start), and the ISO 8601 form times are printed in.
 *
 * Accepted, in this order of recognition:
 *   -1234567890123456         an integer: absolute µUTC
 *   2021-01-01T00:10:00.25Z   ISO 8601, UTC: date, then optional T (or a
 *                             space) hh:mm[:ss[.fraction]], then an
 *                             optional Z or +hh:mm / -hh:mm offset (no
 *                             zone is UTC; the tool never uses local time)
 *   01:02:03.5                hh:mm:ss[.f] after `base`
 *   10s 2.5ms 250us 3m 1h     a number with a unit after `base`
 *                             (negative numbers reach before it)
 * Fractions finer than a microsecond round to the nearest one.  Pure
 * functions: no state, safe from any thread.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define US_PER_DAY INT64_C(86400000000)

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (the usual era arithmetic: 400-year cycles of 146097 days). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static int leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Exactly `n` digits at *p into *out, advancing *p. */
static int digits(const char **p, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)(*p)[i]))
      return -1;
    v = v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *out = v;
  return 0;
}

/* ".ddd" at *p as µs (rounded at the 7th digit); none is 0. */
static int fraction_us(const char **p, int64_t *us) {
  *us = 0;
  if (**p != '.')
    return 0;
  (*p)++;
  if (!isdigit((unsigned char)**p))
    return -1;
  int64_t scale = 100000;
  int round_up = 0, n = 0;
  for (; isdigit((unsigned char)**p); (*p)++, n++) {
    if (n < 6) {
      *us += (**p - '0') * scale;
      scale /= 10;
    } else if (n == 6) {
      round_up = **p >= '5';
    }
  }
  *us += round_up;
  return 0;
}

static int parse_iso(const char *s, int64_t *out) {
  const char *p = s;
  int y, mo, d, h = 0, mi = 0, se = 0;
  int64_t frac = 0;
  if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
      digits(&p, 2, &d))
    return -1;
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap(y)))
    return -1;
  if (*p == 'T' || *p == 't' || *p == ' ') {
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
      return -1;
    if (*p == ':') {
      p++;
      if (digits(&p, 2, &se) || fraction_us(&p, &frac))
        return -1;
    }
    if (h > 23 || mi > 59 || se > 59)
      return -1;
  }
  int64_t offset_us = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
    if (digits(&p, 2, &oh))
      return -1;
    if (*p == ':')
      p++;
    if (*p && digits(&p, 2, &om))
      return -1;
    if (oh > 23 || om > 59)
      return -1;
    offset_us = sign * ((int64_t)oh * 3600 + om * 60) * 1000000;
  }
  if (*p)
    return -1;
  *out = days_from_civil(y, mo, d) * US_PER_DAY +
         ((int64_t)h * 3600 + mi * 60 + se) * 1000000 + frac - offset_us;
  return 0;
}

/* hh:mm:ss[.f] (hours may exceed 23) as µs. */
static int parse_clock(const char *s, int64_t *out) {
  const char *p = s;
  char *end;
  errno = 0;
  long long h = strtoll(p, &end, 10);
  if (errno || end == p || h < 0 || h > 2000000000 || *end != ':' ||
      !isdigit((unsigned char)*p))
    return -1;
  p = end + 1;
  int mi, se;
  int64_t frac;
  if (digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &se) ||
      fraction_us(&p, &frac) || *p || mi > 59 || se > 59)
    return -1;
  *out = ((int64_t)h * 3600 + mi * 60 + se) * 1000000 + frac;
  return 0;
}

/* A number with a unit (us, ms, s, m or min, h) as µs; a bare number
 * counts in `bare` µs, or is refused when `bare` is 0. */
static int parse_number_unit(const char *s, double bare, int64_t *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || !isfinite(v) ||
      strspn(s, "+-0123456789.eE") != (size_t)(end - s))
    return -1;
  double unit;
  if (!*end && bare > 0)
    unit = bare;
  else if (!strcmp(end, "us"))
    unit = 1;
  else if (!strcmp(end, "ms"))
    unit = 1e3;
  else if (!strcmp(end, "s"))
    unit = 1e6;
  else if (!strcmp(end, "m") || !strcmp(end, "min"))
    unit = 60e6;
  else if (!strcmp(end, "h"))
    unit = 3600e6;
  else
    return -1;
  if (fabs(v * unit) > 4e18)
    return -1;
  *out = (int64_t)llround(v * unit);
  return 0;
}

int cli_parse_duration(const char *s, int64_t *out) {
  int64_t v;
  if (!s || !*s || parse_number_unit(s, 1e6, &v) || v < 0)
    return -1;
  *out = v;
  return 0;
}

int cli_parse_time(const char *s, int64_t base, int64_t *out) {
  if (!s || !*s)
    return -1;
  int64_t v;
  if (cli_parse_i64(s, &v) == 0) {
    *out = v;
    return 0;
  }
  if (isdigit((unsigned char)s[0]) && strlen(s) >= 10 && s[4] == '-')
    return parse_iso(s, out);
  if (parse_clock(s, &v) && parse_number_unit(s, 0, &v))
    return -1;
  if (__builtin_add_overflow(base, v, out))
    return -1;
  return 0;
}

void cli_format_time(int64_t uutc, char *buf, size_t cap) {
  int64_t days = uutc / US_PER_DAY, us = uutc % US_PER_DAY;
  if (us < 0) {
    us += US_PER_DAY;
    days--;
  }
  int64_t y;
  int m, d;
  civil_from_days(days, &y, &m, &d);
  int64_t secs = us / 1000000, frac = us % 1000000;
  int n = snprintf(buf, cap, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d", y, m, d,
                   (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
  if (n < 0 || (size_t)n >= cap)
    return;
  if (frac)
    snprintf(buf + n, cap - (size_t)n, ".%06" PRId64 "Z", frac);
  else
    snprintf(buf + n, cap - (size_t)n, "Z");
}

void cli_note_outside(int64_t t0, int64_t t1, int64_t rec0, int64_t rec1) {
  if (rec0 >= rec1 || (t1 > rec0 && t0 < rec1))
    return;
  char a[48], b[48];
  cli_format_time(rec0, a, sizeof a);
  cli_format_time(rec1, b, sizeof b);
  fprintf(stderr,
          "mef3pool: note: the window [%" PRId64 ", %" PRId64
          ") lies wholly outside the recording (%s to %s, µUTC %" PRId64
          " to %" PRId64 ") and reads as NaN; a plain integer is µUTC, "
          "times after the start look like 10s or 00:00:10\n",
          t0, t1, a, b, rec0, rec1);
}
