/*
 * files/file_meta.c - what a viewer shows of an open file besides its
 * samples: contiguous runs (so gaps can be drawn as breaks), records in a
 * time range, the recording's offset from UTC.
 *
 * Each call leases one of the file's idle in-process readers (files.c),
 * so it runs on the caller's thread with no lock held and never waits for
 * a decode; records are read from their files on every call (they are
 * small, and a session being written gains records).
 */
#include <stdint.h>
#include <string.h>

#include "files/files_impl.h"
#include "util/alloc.h"

/* GMT offsets beyond a day are "no entry" (MEF uses -86401). */
#define GMT_LIMIT 86400

int mef3_files_contigua(mef3_time_run **out, size_t *n, mef3_files *fm,
                        const char *path, const char *channel) {
  return mef3_files_contigua_as(out, n, fm, path, NULL, channel);
}

int mef3_files_contigua_as(mef3_time_run **out, size_t *n, mef3_files *fm,
                           const char *path, const char *token,
                           const char *channel) {
  if (!out || !n || !fm || !path || !channel)
    return mef3__error(MEF3_EINVAL, "missing argument");
  *out = NULL;
  *n = 0;
  mfile *f = mef3__files_lookup(fm, path, token);
  if (!f)
    return mef3_error_last()->code;
  mef3_reader *r = NULL;
  int rc = mef3__mfile_lease(f, &r);
  if (rc) {
    mef3__mfile_unref(f);
    return rc;
  }
  int ch = mef3_reader_find_channel(r, channel);
  const mef3_contiguon *cg = NULL;
  size_t k = 0;
  if (ch < 0)
    rc = mef3__error(MEF3_ENOTFOUND, "%s: no channel named \"%s\"", path,
                     channel);
  else
    rc = mef3_reader_contigua(&cg, &k, r, (size_t)ch);
  mef3_time_run *runs = NULL;
  if (!rc && k) {
    runs = mef3__malloc(k * sizeof *runs);
    if (!runs)
      rc = mef3__error(MEF3_ENOMEM, "out of memory");
    for (size_t i = 0; runs && i < k; i++)
      runs[i] = (mef3_time_run){cg[i].start_uutc, cg[i].end_uutc};
  }
  mef3__mfile_release(f, r);
  mef3__mfile_unref(f);
  if (rc)
    return rc;
  *out = runs;
  *n = k;
  return 0;
}

int mef3_files_records(mef3_record **out, size_t *n, mef3_files *fm,
                       const char *path, int64_t start_uutc, int64_t end_uutc) {
  return mef3_files_records_as(out, n, fm, path, NULL, start_uutc, end_uutc);
}

int mef3_files_records_as(mef3_record **out, size_t *n, mef3_files *fm,
                          const char *path, const char *token,
                          int64_t start_uutc, int64_t end_uutc) {
  if (!out || !n || !fm || !path)
    return mef3__error(MEF3_EINVAL, "missing argument");
  *out = NULL;
  *n = 0;
  if (end_uutc < start_uutc)
    return mef3__error(MEF3_EINVAL, "records: range [%lld, %lld) is reversed",
                       (long long)start_uutc, (long long)end_uutc);
  mfile *f = mef3__files_lookup(fm, path, token);
  if (!f)
    return mef3_error_last()->code;
  mef3_reader *r = NULL;
  int rc = mef3__mfile_lease(f, &r);
  if (rc) {
    mef3__mfile_unref(f);
    return rc;
  }
  mef3_record *all = NULL;
  size_t k = 0;
  rc = mef3_reader_records(&all, &k, r, 0);
  mef3__mfile_release(f, r);
  mef3__mfile_unref(f);
  if (rc)
    return rc;
  /* Keep those that meet the range, in place; free the others' parts. */
  size_t m = 0;
  for (size_t i = 0; i < k; i++) {
    int64_t t = all[i].time, e = t;
    if (all[i].duration > 0 && __builtin_add_overflow(t, all[i].duration, &e))
      e = INT64_MAX;
    int keep = t < end_uutc && e >= start_uutc;
    if (keep) {
      if (m != i)
        all[m] = all[i];
      m++;
    } else {
      mef3__free(all[i].body);
      mef3__free(all[i].text);
      mef3__free(all[i].problem);
    }
  }
  *out = all;
  *n = m;
  if (!m) {
    mef3_records_free(all, 0);
    *out = NULL;
  }
  return 0;
}

int mef3_files_gmt_offset(int32_t *seconds, int *known, mef3_files *fm,
                          const char *path) {
  return mef3_files_gmt_offset_as(seconds, known, fm, path, NULL);
}

int mef3_files_gmt_offset_as(int32_t *seconds, int *known, mef3_files *fm,
                             const char *path, const char *token) {
  if (!seconds || !known || !fm || !path)
    return mef3__error(MEF3_EINVAL, "missing argument");
  *seconds = 0;
  *known = 0;
  mfile *f = mef3__files_lookup(fm, path, token);
  if (!f)
    return mef3_error_last()->code;
  mef3_reader *r = NULL;
  int rc = mef3__mfile_lease(f, &r);
  if (!rc) {
    if (mef3_reader_channel_count(r)) {
      const mef3_metadata *md = mef3_reader_channel(r, 0)->metadata;
      if (md && md->section_3_available && md->gmt_offset >= -GMT_LIMIT &&
          md->gmt_offset <= GMT_LIMIT) {
        *seconds = md->gmt_offset;
        *known = 1;
      }
    }
    mef3__mfile_release(f, r);
  }
  mef3__mfile_unref(f);
  return rc;
}
