/*
 * files/plan.c - a request's channels and window resolved against an open
 * file: the one place a read and an envelope check their arguments.
 *
 * Rows are what the caller asked for, in its order (every channel when it
 * named none); a channel named twice is one distinct channel read once.
 * All distinct channels share one sampling rate; the window holds at
 * least one sample at it.  Messages name the path and what is wrong.
 *
 * Any thread; reads only the file's immutable channel table.
 */
#include <math.h>
#include <string.h>

#include "files/files_impl.h"
#include "util/alloc.h"

/* 0, or MEF3_EINVAL (empty, reversed, or a span that overflows). */
static int check_window(int64_t start_uutc, int64_t end_uutc) {
  int64_t span_us;
  if (end_uutc <= start_uutc)
    return mef3__error(MEF3_EINVAL, "window [%lld, %lld) is empty or reversed",
                       (long long)start_uutc, (long long)end_uutc);
  if (__builtin_sub_overflow(end_uutc, start_uutc, &span_us))
    return mef3__error(MEF3_EINVAL, "window [%lld, %lld) is too long",
                       (long long)start_uutc, (long long)end_uutc);
  return 0;
}

void mef3__chplan_free(mef3__chplan *p) {
  mef3__free(p->row);
  mef3__free(p->ch);
  memset(p, 0, sizeof *p);
}

/* Resolve `channels` (NULL, 0: all) against `f`; on failure *p holds
 * nothing to free.  Errors name `path`. */
static int chplan_make(mef3__chplan *p, const mfile *f, const char *path,
                       const char *const *channels, size_t n_channels,
                       int64_t start_uutc, int64_t end_uutc) {
  memset(p, 0, sizeof *p);
  p->nrow = n_channels ? n_channels : f->n_ch;
  if (p->nrow == 0)
    return mef3__error(MEF3_ENOTFOUND, "%s: no channels", path);
  p->row = mef3__calloc(p->nrow, sizeof *p->row);
  p->ch = mef3__calloc(p->nrow, sizeof *p->ch);
  if (!p->row || !p->ch) {
    mef3__chplan_free(p);
    return mef3__error(MEF3_ENOMEM, "out of memory");
  }
  int rc = 0;
  for (size_t r = 0; r < p->nrow && !rc; r++) {
    size_t ch = r;
    if (n_channels) {
      const char *name = channels[r];
      if (!name) {
        rc = mef3__error(MEF3_EINVAL, "channel name %zu is NULL", r);
        break;
      }
      for (ch = 0; ch < f->n_ch && strcmp(f->ch[ch].name, name); ch++)
        ;
      if (ch == f->n_ch) {
        rc = mef3__error(MEF3_ENOTFOUND, "%s: no channel named \"%s\"", path,
                         name);
        break;
      }
    }
    size_t u = 0;
    while (u < p->nu && p->ch[u] != ch)
      u++;
    if (u == p->nu)
      p->ch[p->nu++] = ch;
    p->row[r] = u;
  }
  if (!rc) {
    const fchan *c0 = &f->ch[p->ch[0]];
    p->fs = c0->fs;
    for (size_t u = 1; u < p->nu && !rc; u++) {
      const fchan *c = &f->ch[p->ch[u]];
      if (fabs(c->fs - p->fs) >= 5e-7)
        rc = mef3__error(MEF3_EINVAL,
                         "%s: channels %s (%g Hz) and %s (%g Hz) do not share "
                         "a sampling rate",
                         path, c0->name, p->fs, c->name, c->fs);
    }
  }
  if (!rc) {
    p->n = mef3_files_window_samples(start_uutc, end_uutc, p->fs);
    if (p->n <= 0)
      rc = mef3__error(MEF3_EINVAL,
                       "window [%lld, %lld) is shorter than one sample at "
                       "%g Hz",
                       (long long)start_uutc, (long long)end_uutc, p->fs);
  }
  if (rc)
    mef3__chplan_free(p);
  return rc;
}

int mef3__chplan_open(mef3__chplan *p, mfile **f, mef3_files *fm,
                      const char *path, const char *token,
                      const char *const *channels, size_t n_channels,
                      int64_t start_uutc, int64_t end_uutc) {
  memset(p, 0, sizeof *p);
  *f = NULL;
  if (!fm || !path || (n_channels && !channels))
    return mef3__error(MEF3_EINVAL, "missing argument");
  int rc = check_window(start_uutc, end_uutc);
  if (rc)
    return rc;
  mfile *v = mef3__files_lookup(fm, path, token);
  if (!v)
    return mef3_error_last()->code;
  rc = chplan_make(p, v, path, channels, n_channels, start_uutc, end_uutc);
  if (rc) {
    mef3__mfile_unref(v);
    return rc;
  }
  *f = v;
  return 0;
}
