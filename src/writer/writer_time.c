/*
 * writer/writer_time.c - the recording time offset: every time the
 * writer stores goes through here to take its on-disk form
 * -(t - offset).
 *
 * The offset is fixed at open (none, or a value given) or, in automatic
 * mode, settled at the first time seen: meflib's rule, local midnight at
 * or before it.  Settling it rewrites the metadata of every open segment,
 * which said "no offset" until then, before any time stored with the
 * offset lands next to it; that is why this file sits above
 * writer_segment.c and below the files that store times (samples,
 * records, session).  Times already known to be valid take their form
 * from mef3__writer_disk (writer_impl.h).  Runs on the caller's thread.
 */
#include <stdint.h>

#include "util/error.h"
#include "writer/writer_impl.h"

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* meflib's automatic offset: local midnight (by the GMT offset) at or
 * before t, kept strictly before t so that no time is stored as 0. */
static int64_t auto_offset(int64_t t, int32_t gmt) {
  if (gmt == MEF3_GMT_OFFSET_NO_ENTRY)
    gmt = 0;
  int64_t sec = floor_div(t, 1000000);
  int64_t off = floor_div(sec, 86400) * 86400 + 86400 - gmt;
  while (off > sec)
    off -= 86400;
  int64_t us = off * 1000000;
  while (us >= t)
    us -= (int64_t)86400 * 1000000;
  return us;
}

int mef3__writer_disk_time(mef3_writer *w, int64_t t, int64_t *out) {
  if (t == MEF3_UUTC_NO_ENTRY) {
    *out = t;
    return 0;
  }
  if (!w->rto_resolved) {
    w->rto = auto_offset(t, w->opts.gmt_offset);
    w->rto_resolved = 1;
    /* Metadata already on disk says "no offset"; say the truth before any
     * time stored with the offset lands next to it. */
    for (size_t i = 0; i < w->n_ch; i++) {
      if (!w->ch[i]->seg_open)
        continue;
      int rc = mef3__segment_write_metadata(w, w->ch[i]);
      if (rc)
        return rc;
    }
  }
  int64_t base = w->rto == MEF3_UUTC_NO_ENTRY ? 0 : w->rto;
  if (t <= base || t - base > INT64_MAX / 2)
    return mef3__error(MEF3_EINVAL,
                       "%s: time %lld is not after the recording time "
                       "offset %lld",
                       w->path, (long long)t, (long long)base);
  *out = -(t - base);
  return 0;
}
