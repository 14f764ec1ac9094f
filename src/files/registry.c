/*
 * files/registry.c - the files behind the open views: an mfile per view,
 * built from the reader opened at open time, reference counted, with its
 * channel table and idle in-process readers.
 *
 * An open file is an mfile, kept in a map by canonical path (plus
 * an alias map from the strings callers used), reference counted so that
 * a close never frees what a read or a prefetch still uses.  Each file
 * keeps its channel table (from the reader opened at open time) and a few
 * idle in-process readers: a thread that decodes in process leases one
 * (opening another when all are busy), so no lock is held while it
 * decodes.  File ids are never reused, so a tile of a closed file can
 * never be mistaken for one of a file opened later.
 *
 * Out of descriptors, the idle readers of every file are given back
 * (mef3__files_shed_idle_readers).  Any thread: a file's readers are
 * under its rmu, the files map under fm->mu.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "files/files_impl.h"
#include "util/alloc.h"

#define MAX_TILE_SAMPLES ((int64_t)1 << 28) /* 1 GiB of float32 */

static void wipe_free(char *s) {
  if (!s)
    return;
  for (volatile char *p = s; *p; p++)
    *p = 0;
  mef3__free(s);
}

static void mfile_free(mfile *f) {
  for (size_t i = 0; i < f->n_idle; i++)
    mef3_reader_close(f->idle[i]);
  mef3__free(f->idle);
  for (size_t i = 0; i < f->n_ch; i++) {
    mef3__free(f->ch[i].name);
    mef3__free(f->ch[i].units);
  }
  mef3__free(f->ch);
  mef3__free(f->given);
  mef3__free(f->real);
  mef3__free(f->root);
  mef3__free(f->pkey);
  wipe_free(f->password);
  for (volatile uint8_t *t = f->token; t < f->token + sizeof f->token; t++)
    *t = 0;
  mef3__files_tree_free(f->tree);
  pthread_mutex_destroy(&f->rmu);
  mef3__free(f);
}

void mef3__mfile_unref(mfile *f) {
  if (f && atomic_fetch_sub(&f->refs, 1) == 1)
    mfile_free(f);
}

static int open_reader(const mfile *f, mef3_reader **out) {
  mef3_reader_options ro = MEF3_READER_OPTIONS_INIT;
  ro.password = f->password;
  ro.root = f->root;
  return mef3_reader_open(out, f->real, &ro);
}

int mef3__mfile_lease(mfile *f, mef3_reader **out) {
  pthread_mutex_lock(&f->rmu);
  if (f->n_idle) {
    *out = f->idle[--f->n_idle];
    pthread_mutex_unlock(&f->rmu);
    return 0;
  }
  pthread_mutex_unlock(&f->rmu);
  return open_reader(f, out); /* every idle one is busy: one more */
}

void mef3__mfile_release(mfile *f, mef3_reader *r) {
  pthread_mutex_lock(&f->rmu);
  if (f->n_idle == f->cap_idle) {
    size_t nc = f->cap_idle ? f->cap_idle * 2 : 4;
    mef3_reader **ni = mef3__realloc(f->idle, nc * sizeof *ni);
    if (!ni) {
      pthread_mutex_unlock(&f->rmu);
      mef3_reader_close(r);
      return;
    }
    f->idle = ni;
    f->cap_idle = nc;
  }
  f->idle[f->n_idle++] = r;
  pthread_mutex_unlock(&f->rmu);
}

/* Build an mfile from a freshly opened reader, which it takes (and
 * closes on failure). */
int mef3__mfile_new(mfile **out, mef3_files *fm, const char *given,
                    const char *real, const char *password, mef3_reader *r) {
  *out = NULL;
  mfile *f = mef3__calloc(1, sizeof *f);
  if (!f) {
    mef3_reader_close(r);
    return mef3__error(MEF3_ENOMEM, "out of memory");
  }
  atomic_init(&f->refs, 1);
  pthread_mutex_init(&f->rmu, NULL);
  f->given = mef3__strdup(given);
  f->real = mef3__strdup(real);
  f->root = fm->root ? mef3__strdup(fm->root) : NULL;
  f->password = password && *password ? mef3__strdup(password) : NULL;
  f->access_level = mef3_reader_access_level(r);
  size_t pk = strlen(real) + 16;
  if ((f->pkey = mef3__malloc(pk)) != NULL) {
    /* "//" is in no canonical path: no other file's key */
    if (f->access_level)
      snprintf(f->pkey, pk, "%s//level-%d", real, f->access_level);
    else
      snprintf(f->pkey, pk, "%s", real);
  }
  size_t nch = mef3_reader_channel_count(r);
  f->ch = mef3__calloc(nch ? nch : 1, sizeof *f->ch);
  f->n_ch = f->ch ? nch : 0; /* mfile_free walks what exists */
  int rc = f->given && f->real && f->pkey && f->ch && (!fm->root || f->root) &&
                   (!password || !*password || f->password)
               ? 0
               : MEF3_ENOMEM;
  for (size_t i = 0; !rc && i < f->n_ch; i++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, i);
    fchan *c = &f->ch[i];
    c->name = mef3__strdup(ci->name);
    c->units = mef3__strdup(ci->units_description ? ci->units_description : "");
    if (!c->name || !c->units) {
      rc = MEF3_ENOMEM;
      break;
    }
    c->fs = ci->fs;
    c->n_samples = ci->n_samples;
    c->ufact = ci->units_conversion_factor;
    c->cs = ci->n_blocks ? ci->start_uutc : MEF3_UUTC_NO_ENTRY;
    c->ce = ci->n_blocks ? ci->end_uutc : MEF3_UUTC_NO_ENTRY;
    f->times_relative |= ci->times_relative;
    if (!(c->fs > 0.0) || !isfinite(c->fs)) {
      c->cs = c->ce = MEF3_UUTC_NO_ENTRY; /* unusable rate: no data */
      c->S = 1;
      continue;
    }
    c->S = mef3_tile_samples(fm->o.tile_duration_s, c->fs);
    if (c->S > MAX_TILE_SAMPLES)
      rc = mef3__error(MEF3_EINVAL,
                       "%s: channel %s: a tile of %g s at %g Hz is %lld "
                       "samples, more than %lld; lower tile_duration_s",
                       real, ci->name, fm->o.tile_duration_s, c->fs,
                       (long long)c->S, (long long)MAX_TILE_SAMPLES);
  }
  if (rc) {
    mef3_reader_close(r);
    mfile_free(f);
    return rc == MEF3_ENOMEM ? mef3__error(rc, "out of memory") : rc;
  }
  mef3__mfile_release(f, r);
  if (f->n_idle != 1) { /* could not keep it: it is closed */
    mfile_free(f);
    return mef3__error(MEF3_ENOMEM, "out of memory");
  }
  *out = f;
  return 0;
}

/*
 * Out of descriptors in a read a caller waits for: give back what the
 * manager holds only for later, then the read is tried once more.
 * Prefetches finish first (so those of closed files drop their files),
 * then every idle in-process reader is closed (a reader is reopened when
 * next needed).  Prefetch is best effort: it must not be why a read that
 * fits in the descriptors fails (it did, when the prefetch lane opened
 * extra readers of a file whose one reader was busy, and kept them).
 */
void mef3__files_shed_idle_readers(mef3_files *fm) {
  mef3__files_prefetch_wait(fm);
  size_t cap = 16, n = 0;
  mef3_reader **shed = mef3__malloc(cap * sizeof *shed);
  pthread_mutex_lock(&fm->mu);
  size_t it = 0;
  const char *key;
  void *val;
  while (shed && mef3__strmap_next(&fm->files, &it, &key, &val)) {
    mfile *f = val;
    pthread_mutex_lock(&f->rmu);
    while (f->n_idle) {
      if (n == cap) {
        mef3_reader **ns = mef3__realloc(shed, 2 * cap * sizeof *ns);
        if (!ns)
          break;
        shed = ns;
        cap *= 2;
      }
      shed[n++] = f->idle[--f->n_idle];
    }
    pthread_mutex_unlock(&f->rmu);
  }
  pthread_mutex_unlock(&fm->mu);
  for (size_t i = 0; i < n; i++)
    mef3_reader_close(shed[i]);
  mef3__free(shed);
  mef3__files_log(fm, MEF3_LOG_WARN,
                  "out of descriptors: closed %zu idle readers, trying again",
                  n);
}
