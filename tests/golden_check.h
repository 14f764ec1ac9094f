/*
 * tests/golden_check.h - helpers of the reader tests that compare against
 * ../shared/golden: loading the .i32/.f64 arrays, JSON field access,
 * opening readers and comparing sample arrays with a report of the first
 * mismatches.  Header-only (static inline) so that each test program takes
 * what it uses.
 */
#ifndef MEF3_TESTS_GOLDEN_CHECK_H
#define MEF3_TESTS_GOLDEN_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "testutil.h"

/* A golden array file: `n` elements of int32 or float64. */
static inline int32_t *gc_load_i32(const char *path, size_t *n) {
  size_t len = 0;
  int32_t *v = tu_read_file(path, &len);
  *n = v ? len / 4 : 0;
  if (!v)
    fprintf(stderr, "cannot read %s\n", path);
  return v;
}

static inline double *gc_load_f64(const char *path, size_t *n) {
  size_t len = 0;
  double *v = tu_read_file(path, &len);
  *n = v ? len / 8 : 0;
  if (!v)
    fprintf(stderr, "cannot read %s\n", path);
  return v;
}

/* JSON accessors; a missing field is reported by the caller's checks
 * (numbers come back as NAN / INT64_MIN + 1, strings as NULL). */
static inline double gc_num(const cJSON *o, const char *key) {
  const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(j) ? j->valuedouble : NAN;
}

#define GC_MISSING (INT64_MIN + 1)

/* cJSON keeps numbers as doubles: exact for every time in the golden
 * files (< 2^53) and for INT64_MIN (a power of two). */
static inline int64_t gc_i64(const cJSON *o, const char *key) {
  const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsNumber(j))
    return GC_MISSING;
  if (j->valuedouble <= -9223372036854775808.0)
    return INT64_MIN;
  return (int64_t)j->valuedouble;
}

static inline const char *gc_str(const cJSON *o, const char *key) {
  const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(j) ? j->valuestring : NULL;
}

static inline const cJSON *gc_obj(const cJSON *o, const char *key) {
  return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* Open a session with an optional password; returns the code. */
static inline int gc_open(mef3_reader **r, const char *path,
                          const char *password) {
  mef3_reader_options o = MEF3_READER_OPTIONS_INIT;
  o.password = password;
  return mef3_reader_open(r, path, &o);
}

/* Open or end the test with the library's message. */
static inline mef3_reader *gc_must_open(const char *path,
                                        const char *password) {
  mef3_reader *r = NULL;
  int rc = gc_open(&r, path, password);
  if (rc) {
    fprintf(stderr, "cannot open %s: %s: %s\n", path, mef3_errname(rc),
            mef3_error_last()->message);
    check_failed++;
    exit(check_finish());
  }
  return r;
}

/* Number of positions where `got` differs from `want`; prints the first
 * few with `label`. */
static inline size_t gc_diff_i32(const int32_t *got, const int32_t *want,
                                 size_t n, const char *label) {
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) {
    if (got[i] == want[i])
      continue;
    if (bad < 5)
      fprintf(stderr, "  %s: [%zu] got %ld, want %ld\n", label, i, (long)got[i],
              (long)want[i]);
    bad++;
  }
  if (bad)
    fprintf(stderr, "  %s: %zu of %zu samples differ\n", label, bad, n);
  return bad;
}

/* Raw counts read as MEF3_I32 against a golden float64 array of raw
 * counts with NaN where there is no sample: NaN <-> MEF3_RED_NAN, other
 * values exactly equal. */
static inline size_t gc_diff_raw(const int32_t *got, const double *want,
                                 size_t n, const char *label) {
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) {
    int ok = isnan(want[i])
                 ? got[i] == MEF3_RED_NAN
                 : got[i] != MEF3_RED_NAN && (double)got[i] == want[i];
    if (ok)
      continue;
    if (bad < 5)
      fprintf(stderr, "  %s: [%zu] got %ld%s, want %.17g\n", label, i,
              (long)got[i], got[i] == MEF3_RED_NAN ? " (NaN)" : "", want[i]);
    bad++;
  }
  if (bad)
    fprintf(stderr, "  %s: %zu of %zu samples differ\n", label, bad, n);
  return bad;
}

/* float64 physical values against a golden float64 array: NaN positions
 * identical, other values bit-for-bit equal (the same IEEE product). */
static inline size_t gc_diff_f64(const double *got, const double *want,
                                 size_t n, const char *label) {
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) {
    int ok = isnan(want[i]) ? isnan(got[i]) != 0
                            : memcmp(&got[i], &want[i], sizeof got[i]) == 0;
    if (ok)
      continue;
    if (bad < 5)
      fprintf(stderr, "  %s: [%zu] got %.17g, want %.17g\n", label, i, got[i],
              want[i]);
    bad++;
  }
  if (bad)
    fprintf(stderr, "  %s: %zu of %zu samples differ\n", label, bad, n);
  return bad;
}

/* Read the whole channel by sample number as raw counts (malloc'd). */
static inline int32_t *gc_read_all_i32(mef3_reader *r, size_t ch,
                                       mef3_read_report *rep) {
  const mef3_channel_info *ci = mef3_reader_channel(r, ch);
  size_t n = (size_t)ci->n_samples, got = 0;
  int32_t *v = malloc((n ? n : 1) * sizeof *v);
  int rc =
      mef3_reader_read_samples(&got, rep, r, ch, 0, (int64_t)n, MEF3_I32, v, n);
  CHECK_MSG(rc == 0 && got == n, "%s: read_samples [0, %zu): %s (%s)", ci->name,
            n, mef3_errname(rc), mef3_error_last()->message);
  return v;
}

/* Copy golden tree `rel` (relative to the golden folder) into a fresh
 * scratch folder named `tag`, writable; returns the copy's path (static
 * buffer, 4 slots) or ends the test. */
static inline const char *gc_scratch_copy(const char *tag, const char *rel) {
  static char buf[4][4096];
  static int slot;
  char *b = buf[slot++ & 3];
  const char *dir = tu_scratch(tag);
  const char *base = strrchr(rel, '/');
  snprintf(b, 4096, "%s/%s", dir, base ? base + 1 : rel);
  if (tu_copy_tree(tu_golden(rel), dir) != 0 ||
      tu_system("chmod -R u+w '%s'", b) != 0) {
    fprintf(stderr, "cannot copy %s to %s\n", rel, dir);
    check_failed++;
    exit(check_finish());
  }
  return b;
}

/* Write `len` bytes at `off` of a file (for damage tests); 0 on success. */
static inline int gc_patch(const char *path, long off, const void *bytes,
                           size_t len) {
  FILE *f = fopen(path, "r+b");
  if (!f)
    return -1;
  int rc =
      fseek(f, off, SEEK_SET) == 0 && fwrite(bytes, 1, len, f) == len ? 0 : -1;
  return fclose(f) == 0 ? rc : -1;
}

/* XOR one byte of a file with `mask`; 0 on success. */
static inline int gc_flip(const char *path, long off, uint8_t mask) {
  FILE *f = fopen(path, "r+b");
  if (!f)
    return -1;
  int c = -1;
  if (fseek(f, off, SEEK_SET) == 0)
    c = fgetc(f);
  int rc = -1;
  if (c != EOF && fseek(f, off, SEEK_SET) == 0 &&
      fputc((uint8_t)c ^ mask, f) != EOF)
    rc = 0;
  return fclose(f) == 0 ? rc : -1;
}

#endif
