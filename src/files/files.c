/*
 * files/files.c - the file manager: open files, reads through the tile
 * cache, the foreground lane, the idle sweeper.
 *
 * Files.  An open file is an mfile, kept in a map by canonical path (plus
 * an alias map from the strings callers used), reference counted so that
 * a close never frees what a read or a prefetch still uses.  Each file
 * keeps its channel table (from the reader opened at open time) and a few
 * idle in-process readers: a thread that decodes in process leases one
 * (opening another when all are busy), so no lock is held while it
 * decodes.  File ids are never reused, so a tile of a closed file can
 * never be mistaken for one of a file opened later.
 *
 * A read.  The requested channels are mapped to tiles (ARCHITECTURE.md):
 * channel u needs tiles floor(i1 / S) .. floor((i1 + n - 1) / S), i1 its
 * grid sample at `start`.  All of them are acquired from the cache at
 * once: hits are pinned, absent tiles are claimed (this read decodes
 * them), tiles in flight are waited for - except that a tile whose
 * prefetch is still queued is taken back (the prefetch canceled) and
 * decoded here, so a read never waits behind the prefetch lane.  Claimed
 * tiles go to the foreground pool, a few per request so every worker gets
 * some, when there are at least min_parallel_tiles of them; fewer are
 * decoded in process.  A pool failure falls back to in-process decoding.
 * Once every tile is READY and pinned, rows are cut from them with no
 * lock held, the pins are dropped, and the windows around are handed to
 * the prefetcher (prefetch.c).
 *
 * Order of work inside a read: claim, decode own claims, then wait for
 * others'.  A reader never waits while it holds a claim it has not
 * published, so readers cannot wait on each other in a cycle.
 *
 * Tiles before a channel's first sample (negative indices) are NaN by
 * construction: the tile window ends at or before the channel start, and
 * no block starts before it.  They are filled, not cached.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "files/files_impl.h"
#include "util/fsutil.h"
#include "util/alloc.h"

#define MAX_TILE_SAMPLES ((int64_t)1 << 28) /* 1 GiB of float32 */
#define MAX_READ_SAMPLES ((int64_t)1 << 34) /* channels x samples */
#define MAX_READ_TILES ((size_t)1 << 24)
#define MAX_ROUNDS 16

/* ---- logging ---- */

void mef3__files_log(mef3_files *fm, mef3_log_level level, const char *fmt,
                     ...) {
  if (!fm->o.log)
    return;
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  fm->o.log(level, buf, fm->o.log_payload);
}

/* ---- files ---- */

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
  int rc = f->given && f->real && f->pkey && f->ch &&
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

/* ---- pools ---- */

static mef3_pool *get_pool(mef3_files *fm, int prefetch) {
  if (!fm->o.use_process_pool)
    return NULL;
  pthread_mutex_lock(&fm->pools_mu);
  mef3_pool **pp = prefetch ? &fm->pf : &fm->fg;
  int *broken = prefetch ? &fm->pf_broken : &fm->fg_broken;
  if (!*pp && !*broken) {
    mef3_pool_options po = MEF3_POOL_OPTIONS_INIT;
    po.max_workers = prefetch ? fm->pf_workers : fm->fg_workers;
    po.worker_path = fm->worker_path;
    po.name = prefetch ? "prefetch" : "fg";
    mef3_pool *p = NULL;
    if (mef3_pool_new(&p, &po) != 0) {
      *broken = 1;
      char msg[512];
      snprintf(msg, sizeof msg, "%s", mef3_error_last()->message);
      pthread_mutex_unlock(&fm->pools_mu);
      mef3__files_log(fm, MEF3_LOG_ERROR,
                      "cannot create the %s pool (%s); decoding in process",
                      prefetch ? "prefetch" : "foreground", msg);
      return NULL;
    }
    /* Files opened before the pool existed: their keys and passwords. */
    pthread_mutex_lock(&fm->mu);
    size_t it = 0;
    const char *key;
    void *val;
    while (mef3__strmap_next(&fm->files, &it, &key, &val))
      mef3__files_pool_access(p, val);
    pthread_mutex_unlock(&fm->mu);
    *pp = p;
    pthread_mutex_unlock(&fm->pools_mu);
    mef3__files_log(fm, MEF3_LOG_INFO, "started the %s pool (%d workers)",
                    prefetch ? "prefetch" : "foreground", po.max_workers);
    return p;
  }
  mef3_pool *p = *pp;
  pthread_mutex_unlock(&fm->pools_mu);
  return p;
}

mef3_pool *mef3__files_pf_pool(mef3_files *fm) {
  return get_pool(fm, 1);
}

/* ---- the idle sweeper ---- */

static void *sweeper_main(void *arg) {
  mef3_files *fm = arg;
  pthread_mutex_lock(&fm->sw_mu);
  while (!fm->sw_stop) {
    if (fm->sw_done == fm->sw_kick) {
      struct timespec dl;
      clock_gettime(CLOCK_MONOTONIC, &dl);
      dl.tv_sec += fm->sw_interval_ms / 1000;
      dl.tv_nsec += (fm->sw_interval_ms % 1000) * 1000000;
      if (dl.tv_nsec >= 1000000000) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000;
      }
      pthread_cond_timedwait(&fm->sw_cv, &fm->sw_mu, &dl);
      if (fm->sw_stop)
        break;
    }
    uint64_t kick = fm->sw_kick;
    pthread_mutex_unlock(&fm->sw_mu);
    size_t n = mef3__tcache_expire(&fm->cache);
    if (n)
      mef3__files_log(fm, MEF3_LOG_DEBUG, "idle sweep dropped %zu tiles", n);
    pthread_mutex_lock(&fm->sw_mu);
    fm->sw_done = kick;
    pthread_cond_broadcast(&fm->sw_cv);
  }
  pthread_mutex_unlock(&fm->sw_mu);
  return NULL;
}

int mef3__files_sweep_now(mef3_files *fm) {
  if (!fm->sw_started)
    return -1;
  pthread_mutex_lock(&fm->sw_mu);
  uint64_t want = ++fm->sw_kick;
  pthread_cond_broadcast(&fm->sw_cv);
  while (fm->sw_done < want && !fm->sw_stop)
    pthread_cond_wait(&fm->sw_cv, &fm->sw_mu);
  pthread_mutex_unlock(&fm->sw_mu);
  return 0;
}

/* ---- create and free ---- */

static int cores(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 2;
}

static int check_options(mef3_files_options *o) {
  if (!(o->tile_duration_s > 0.0) || !isfinite(o->tile_duration_s))
    return mef3__error(MEF3_EINVAL,
                       "tile_duration_s must be positive "
                       "(got %g)",
                       o->tile_duration_s);
  if (o->tile_cache_bytes <= 0)
    return mef3__error(MEF3_EINVAL,
                       "tile_cache_bytes must be positive "
                       "(got %lld)",
                       (long long)o->tile_cache_bytes);
  if (!(o->cache_ttl_s >= 0.0) || o->cache_ttl_s > 1e12)
    return mef3__error(MEF3_EINVAL,
                       "cache_ttl_s must be 0 (off) or "
                       "positive (got %g)",
                       o->cache_ttl_s);
  if (o->min_parallel_tiles < 0)
    return mef3__error(MEF3_EINVAL,
                       "min_parallel_tiles must not be "
                       "negative (got %d)",
                       o->min_parallel_tiles);
  if (o->min_parallel_tiles == 0)
    o->min_parallel_tiles = 1;
  if (o->prefetch_ahead_windows < 0 || o->prefetch_behind_windows < 0)
    return mef3__error(MEF3_EINVAL,
                       "prefetch windows must not be negative "
                       "(ahead %d, behind %d)",
                       o->prefetch_ahead_windows, o->prefetch_behind_windows);
  if (o->prefetch_threads < 0 || o->prefetch_threads > 1024)
    return mef3__error(MEF3_EINVAL, "prefetch_threads %d out of [0, 1024]",
                       o->prefetch_threads);
  if (o->prefetch_threads == 0)
    o->prefetch_threads = 4;
  if (o->max_open_files < 0)
    return mef3__error(MEF3_EINVAL, "max_open_files must not be negative");
  if (o->reader_processes < 0 || o->reader_processes > 1024)
    return mef3__error(MEF3_EINVAL, "reader_processes %d out of [0, 1024]",
                       o->reader_processes);
  if (o->prefetch_processes < -1)
    return mef3__error(MEF3_EINVAL,
                       "prefetch_processes must be -1 (half) "
                       "or positive (got %d)",
                       o->prefetch_processes);
  return 0;
}

int mef3_files_new(mef3_files **out, const mef3_files_options *opts) {
  if (!out)
    return mef3__error(MEF3_EINVAL, "no output pointer");
  *out = NULL;
  mef3_files_options o = MEF3_FILES_OPTIONS_INIT;
  if (opts) {
    if (opts->version != MEF3_FILES_OPTIONS_VERSION)
      return mef3__error(MEF3_EINVAL, "files options version %u, expected %u",
                         opts->version, MEF3_FILES_OPTIONS_VERSION);
    o = *opts;
  }
  int rc = check_options(&o);
  if (rc)
    return rc;
  /* The lanes: reader_processes in all, prefetch_processes of them for
   * prefetch, the rest (at least one) for the foreground. */
  int total = o.reader_processes ? o.reader_processes : cores() - 1;
  if (total < 2) {
    if (o.reader_processes && o.use_process_pool)
      return mef3__error(MEF3_EINVAL,
                         "reader_processes must be at least 2 "
                         "(one per lane), got %d",
                         o.reader_processes);
    total = 2;
  }
  int pfw = o.prefetch_processes;
  if (pfw < 0)
    pfw = total / 2 > 0 ? total / 2 : 1;
  if (o.use_process_pool && (pfw < 1 || pfw > total - 1))
    return mef3__error(MEF3_EINVAL,
                       "prefetch_processes must be in [1, %d] "
                       "(reader_processes - 1), got %d",
                       total - 1, pfw);
  char root[PATH_MAX];
  if (o.data_root) {
    if (!realpath(o.data_root, root))
      return mef3__error(errno == ENOENT ? MEF3_ENOTFOUND : MEF3_EINVAL,
                         "data root %s: %s", o.data_root, strerror(errno));
    if (!mef3__is_dir(root))
      return mef3__error(MEF3_EINVAL, "data root %s is not a directory",
                         o.data_root);
  }

  mef3_files *fm = mef3__calloc(1, sizeof *fm);
  if (!fm)
    return mef3__error(MEF3_ENOMEM, "out of memory");
  fm->o = o;
  fm->fg_workers = total - pfw;
  fm->pf_workers = pfw;
  fm->root = o.data_root ? mef3__strdup(root) : NULL;
  fm->worker_path = o.worker_path ? mef3__strdup(o.worker_path) : NULL;
  fm->o.data_root = fm->root;
  fm->o.worker_path = fm->worker_path;
  if ((o.data_root && !fm->root) || (o.worker_path && !fm->worker_path)) {
    mef3__free(fm->root);
    mef3__free(fm->worker_path);
    mef3__free(fm);
    return mef3__error(MEF3_ENOMEM, "out of memory");
  }
  int64_t ttl_ms = (int64_t)llround(o.cache_ttl_s * 1000.0);
  if (o.cache_ttl_s > 0 && ttl_ms < 1)
    ttl_ms = 1;
  rc = mef3__tcache_init(&fm->cache, o.tile_cache_bytes, ttl_ms, o.clock,
                         o.clock_payload);
  if (rc) {
    mef3__free(fm->root);
    mef3__free(fm->worker_path);
    mef3__free(fm);
    return rc;
  }
  /* A reserve of touched tile memory: 8 MiB (a cold 60 s window of 64
   * channels at 256 Hz, or of 16 channels with the windows prefetched
   * around it), at most a quarter of the budget. */
  int64_t reserve = o.tile_cache_bytes / 4;
  mef3__tilemem_init(&fm->tmem, reserve < ((int64_t)8 << 20) ? (size_t)reserve
                                                             : (size_t)8 << 20);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_mutex_init(&fm->pools_mu, NULL);
  pthread_mutex_init(&fm->mu, NULL);
  pthread_mutex_init(&fm->pf_mu, NULL);
  pthread_cond_init(&fm->pf_cv, &ca);
  pthread_mutex_init(&fm->sw_mu, NULL);
  pthread_cond_init(&fm->sw_cv, &ca);
  pthread_condattr_destroy(&ca);
  if (mef3__envcache_new(&fm->env, o.tile_cache_bytes / 4)) {
    mef3_files_free(fm);
    return mef3__error(MEF3_ENOMEM, "out of memory");
  }
  if (ttl_ms > 0) {
    fm->sw_interval_ms = ttl_ms / 10 > 1000 ? ttl_ms / 10 : 1000;
    if (pthread_create(&fm->sweeper, NULL, sweeper_main, fm) != 0) {
      mef3_files_free(fm);
      return mef3__error(MEF3_ELIMIT, "cannot start the sweeper thread");
    }
    fm->sw_started = 1;
  }
  mef3__files_log(fm, MEF3_LOG_DEBUG,
                  "file manager: tiles of %g s, cache of %lld bytes, idle "
                  "expiry %g s, %s (%d foreground + %d prefetch)",
                  o.tile_duration_s, (long long)o.tile_cache_bytes,
                  o.cache_ttl_s,
                  o.use_process_pool ? "process pool" : "in process",
                  fm->fg_workers, fm->pf_workers);
  *out = fm;
  return 0;
}

void mef3_files_free(mef3_files *fm) {
  if (!fm)
    return;
  if (fm->sw_started) {
    pthread_mutex_lock(&fm->sw_mu);
    fm->sw_stop = 1;
    pthread_cond_broadcast(&fm->sw_cv);
    pthread_mutex_unlock(&fm->sw_mu);
    pthread_join(fm->sweeper, NULL);
  }
  /* Prefetch first: its completions touch the cache and the files. */
  mef3__prefetch_stop_threads(fm);
  pthread_mutex_lock(&fm->pools_mu);
  mef3_pool *pf = fm->pf, *fg = fm->fg;
  fm->pf = fm->fg = NULL;
  fm->pf_broken = fm->fg_broken = 1;
  pthread_mutex_unlock(&fm->pools_mu);
  mef3_pool_free(pf); /* runs the callbacks of what it cancels */
  mef3_pool_free(fg);
  mef3__files_prefetch_wait(fm);

  size_t it = 0;
  const char *key;
  void *val;
  while (mef3__strmap_next(&fm->files, &it, &key, &val)) {
    mfile *f = val;
    mef3__tcache_file_drop(&fm->cache, f->id);
    mef3__mfile_unref(f);
  }
  mef3__strmap_dispose(&fm->files);
  mef3__strmap_dispose(&fm->aliases);
  mef3__tcache_dispose(&fm->cache);
  mef3__envcache_free(fm->env);
  mef3__tilemem_destroy(&fm->tmem);
  pthread_mutex_destroy(&fm->pools_mu);
  pthread_mutex_destroy(&fm->mu);
  pthread_mutex_destroy(&fm->pf_mu);
  pthread_cond_destroy(&fm->pf_cv);
  pthread_mutex_destroy(&fm->sw_mu);
  pthread_cond_destroy(&fm->sw_cv);
  mef3__free(fm->root);
  mef3__free(fm->worker_path);
  mef3__free(fm);
}

/* ---- open, close, info, list ---- */

int mef3_files_info(mef3_files *fm, const char *path, mef3_file_info **out) {
  return mef3_files_info_as(fm, path, NULL, out);
}

int mef3_files_info_as(mef3_files *fm, const char *path, const char *token,
                       mef3_file_info **out) {
  if (!out)
    return mef3__error(MEF3_EINVAL, "no output pointer");
  *out = NULL;
  if (!fm || !path)
    return mef3__error(MEF3_EINVAL, "no file manager or path");
  mfile *f = mef3__files_lookup(fm, path, token);
  if (!f)
    return mef3_error_last()->code;
  mef3_file_info *info = mef3__calloc(1, sizeof *info);
  int rc = 0;
  if (!info || !(info->path = mef3__strdup(f->given)) ||
      !(info->real_path = mef3__strdup(f->real)) ||
      !(info->channels =
            mef3__calloc(f->n_ch ? f->n_ch : 1, sizeof *info->channels)))
    rc = mef3__error(MEF3_ENOMEM, "out of memory");
  if (!rc) {
    info->n_channels = f->n_ch;
    info->start_uutc = info->end_uutc = MEF3_UUTC_NO_ENTRY;
    for (size_t i = 0; i < f->n_ch; i++) {
      const fchan *c = &f->ch[i];
      mef3_file_channel *o = &info->channels[i];
      snprintf(o->name, sizeof o->name, "%s", c->name);
      snprintf(o->units, sizeof o->units, "%s", c->units);
      o->fs = c->fs;
      o->start_uutc = c->cs;
      o->end_uutc = c->ce;
      o->n_samples = c->n_samples;
      o->units_conversion_factor = c->ufact;
      if (c->cs == MEF3_UUTC_NO_ENTRY)
        continue;
      if (info->start_uutc == MEF3_UUTC_NO_ENTRY || c->cs < info->start_uutc)
        info->start_uutc = c->cs;
      if (info->end_uutc == MEF3_UUTC_NO_ENTRY || c->ce > info->end_uutc)
        info->end_uutc = c->ce;
    }
    info->duration_s = info->start_uutc == MEF3_UUTC_NO_ENTRY
                           ? 0.0
                           : (double)(info->end_uutc - info->start_uutc) / 1e6;
    info->access_level = f->access_level;
    info->times_relative = f->times_relative;
  }
  mef3__mfile_unref(f);
  if (rc) {
    mef3_file_info_free(info);
    return rc;
  }
  *out = info;
  return 0;
}

void mef3_file_info_free(mef3_file_info *info) {
  if (!info)
    return;
  mef3__free(info->path);
  mef3__free(info->real_path);
  mef3__free(info->channels);
  mef3__free(info);
}

void mef3_files_stats_get(mef3_files *fm, mef3_files_stats *out) {
  if (!out)
    return;
  memset(out, 0, sizeof *out);
  if (!fm)
    return;
  mef3__tcache_stats(&fm->cache, out);
  out->reads = atomic_load(&fm->reads);
  out->pool_tiles = atomic_load(&fm->pool_tiles);
  out->local_tiles = atomic_load(&fm->local_tiles);
  out->prefetch_failed = atomic_load(&fm->prefetch_failed);
  pthread_mutex_lock(&fm->mu);
  out->open_files = fm->files.used;
  pthread_mutex_unlock(&fm->mu);
}

/* ---- decoding claimed tiles ---- */

/* A tile this read claimed and must publish or fail. */
typedef struct claim {
  size_t key; /* index into the read's keys */
  mef3__tile *t;
  int done;
} claim;

/*
 * Out of descriptors in a read a caller waits for: give back what the
 * manager holds only for later, then the read is tried once more.
 * Prefetches finish first (so those of closed files drop their files),
 * then every idle in-process reader is closed (a reader is reopened when
 * next needed).  Prefetch is best effort: it must not be why a read that
 * fits in the descriptors fails (it did, when the prefetch lane opened
 * extra readers of a file whose one reader was busy, and kept them).
 */
static void shed_descriptors(mef3_files *fm) {
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

/* Decode claims in process, with a leased reader; after a failure the
 * claims left fail too (their reader is gone, or memory or descriptors
 * ran out once more after giving some back). */
static int decode_local(mef3_files *fm, mfile *f, const mef3__tcache_key *keys,
                        claim *cl, size_t n) {
  mef3_reader *r = NULL;
  int rc = 0, shed = 0;
  for (size_t i = 0; i < n; i++) {
    if (cl[i].done)
      continue;
    const mef3__tcache_key *k = &keys[cl[i].key];
    for (;;) {
      if (!rc && !r)
        rc = mef3__mfile_lease(f, &r);
      if (!rc)
        rc = mef3__lane_decode_tile(fm, r, f, k->ch, k->idx, cl[i].t, 0);
      if (rc != MEF3_ELIMIT || shed)
        break;
      shed = 1;
      shed_descriptors(fm);
      rc = 0;
    }
    cl[i].done = 1;
    if (rc) {
      mef3__tcache_fail(&fm->cache, cl[i].t);
      continue;
    }
    atomic_fetch_add(&fm->local_tiles, 1);
  }
  if (r)
    mef3__mfile_release(f, r);
  return rc;
}

static int cmp_fchan(const fchan *x, const fchan *y) {
  if (x->cs != y->cs)
    return x->cs < y->cs ? -1 : 1;
  if (x->fs != y->fs)
    return x->fs < y->fs ? -1 : 1;
  if (x->S != y->S)
    return x->S < y->S ? -1 : 1;
  return 0;
}

static int same_group(const mfile *f, const mef3__tcache_key *a,
                      const mef3__tcache_key *b) {
  return a->idx == b->idx && !cmp_fchan(&f->ch[a->ch], &f->ch[b->ch]);
}

typedef struct sort_ctx {
  const mfile *f;
  const mef3__tcache_key *keys;
  const claim *cl;
} sort_ctx;

/* Claims by tile, then by the channel properties that make one window read
 * give the tiles of a group, then by channel. */
static int cmp_claims(const void *a, const void *b, void *ctx) {
  const sort_ctx *sc = ctx;
  const mef3__tcache_key *x = &sc->keys[sc->cl[*(const size_t *)a].key];
  const mef3__tcache_key *y = &sc->keys[sc->cl[*(const size_t *)b].key];
  if (x->idx != y->idx)
    return x->idx < y->idx ? -1 : 1;
  int c = cmp_fchan(&sc->f->ch[x->ch], &sc->f->ch[y->ch]);
  if (c)
    return c;
  return x->ch < y->ch ? -1 : x->ch > y->ch;
}

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

typedef struct req {
  mef3_future *fut;
  size_t first; /* into the batch arrays */
  size_t count;
} req;

/* The batch arrays of a request: claims ord[0..m) go to [at, at + m). */
typedef struct batches {
  size_t *cl;     /* claim of each */
  size_t *ch;     /* its channel */
  int64_t *idx;   /* its tile */
  mef3__tile **t; /* its tile in the cache */
} batches;

static void batch_fill(batches *b, size_t at, const size_t *ord, size_t m,
                       const mef3__tcache_key *keys, const claim *cl) {
  for (size_t k = 0; k < m; k++) {
    const claim *x = &cl[ord[k]];
    b->cl[at + k] = ord[k];
    b->ch[at + k] = keys[x->key].ch;
    b->idx[at + k] = keys[x->key].idx;
    b->t[at + k] = x->t;
  }
}

/* Submit claims ord[0..m) as one request into slot `at` of the batches;
 * 1 when submitted (rq[*nr] set), 0 when left to decode_local. */
static int submit(mef3_files *fm, mef3_pool *pool, mfile *f, batches *b,
                  size_t at, const size_t *ord, size_t m,
                  const mef3__tcache_key *keys, const claim *cl, req *rq,
                  size_t *nr) {
  batch_fill(b, at, ord, m, keys, cl);
  mef3_future *fut = NULL;
  if (mef3__lane_submit(pool, f, m, b->ch + at, b->idx + at, &fut)) {
    mef3__files_log(fm, MEF3_LOG_ERROR,
                    "%s: channel %s: foreground pool submit failed (%s); "
                    "decoding in process",
                    f->real, f->ch[b->ch[at]].name, mef3_error_last()->message);
    return 0;
  }
  rq[(*nr)++] = (req){fut, at, m};
  return 1;
}

/* Decode claims in the foreground pool.  Tile b of channels that share
 * start, rate and tile size is one window read (lane.c), split among the
 * workers; the other tiles go as tiles requests of one channel, at most
 * ceil(n / workers) each; every request under REQ_MAX_BYTES.  Whatever
 * fails here is left for decode_local. */
static void decode_pool(mef3_files *fm, mef3_pool *pool, mfile *f,
                        const mef3__tcache_key *keys, claim *cl, size_t n) {
  size_t W = (size_t)(fm->fg_workers > 0 ? fm->fg_workers : 1);
  size_t *ord = mef3__malloc(n * sizeof *ord);
  size_t *single = mef3__malloc(n * sizeof *single);
  req *rq = mef3__calloc(n, sizeof *rq);
  batches b = {mef3__malloc(n * sizeof *b.cl), mef3__malloc(n * sizeof *b.ch),
               mef3__malloc(n * sizeof *b.idx), mef3__malloc(n * sizeof *b.t)};
  if (!ord || !single || !rq || !b.cl || !b.ch || !b.idx || !b.t)
    goto out; /* all left to decode_local */
  for (size_t i = 0; i < n; i++)
    ord[i] = i;
  sort_ctx sc = {f, keys, cl};
  qsort_r(ord, n, sizeof *ord, cmp_claims, &sc);
  size_t nr = 0, n_single = 0, used = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && same_group(f, &keys[cl[ord[i]].key], &keys[cl[ord[j]].key]))
      j++;
    if (j - i == 1) {
      single[n_single++] = ord[i];
      i = j;
      continue;
    }
    /* a request per worker at least */
    const fchan *c = &f->ch[keys[cl[ord[i]].key].ch];
    size_t per = (j - i + W - 1) / W, cap = mef3__req_max_tiles(c->S);
    if (per > cap)
      per = cap;
    for (size_t a = i; a < j; a += per) {
      size_t m = j - a < per ? j - a : per;
      if (submit(fm, pool, f, &b, used, ord + a, m, keys, cl, rq, &nr))
        used += m;
    }
    i = j;
  }
  /* The single tiles by channel, then tile: the claims' own order. */
  qsort(single, n_single, sizeof *single, cmp_size);
  size_t per_single = (n_single + W - 1) / W;
  for (size_t i = 0; i < n_single;) {
    uint32_t ch = keys[cl[single[i]].key].ch;
    size_t per = per_single, cap = mef3__req_max_tiles(f->ch[ch].S);
    if (per > cap)
      per = cap;
    size_t j = i;
    while (j < n_single && j - i < per && keys[cl[single[j]].key].ch == ch)
      j++;
    if (submit(fm, pool, f, &b, used, single + i, j - i, keys, cl, rq, &nr))
      used += j - i;
    i = j;
  }
  for (size_t q = 0; q < nr; q++) {
    mef3_future_wait(rq[q].fut, -1);
    size_t at = rq[q].first, failed = 0;
    if (mef3__lane_publish(fm, f, rq[q].fut, rq[q].count, b.ch + at, b.t + at,
                           0, &failed)) {
      mef3__files_log(fm, MEF3_LOG_ERROR,
                      "%s: foreground pool decode failed (%s); decoding "
                      "in process",
                      f->real, mef3_error_last()->message);
    } else {
      /* (a tile that failed for memory is claimed again by the read) */
      for (size_t k = 0; k < rq[q].count; k++)
        cl[b.cl[at + k]].done = 1;
      atomic_fetch_add(&fm->pool_tiles, rq[q].count - failed);
    }
    mef3_future_free(rq[q].fut);
  }
out:
  mef3__free(ord);
  mef3__free(single);
  mef3__free(rq);
  mef3__free(b.cl);
  mef3__free(b.ch);
  mef3__free(b.idx);
  mef3__free(b.t);
}

/* ---- reads ---- */

static int64_t floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* A tile a read found being loaded by a prefetch request. */
typedef struct cand {
  size_t k;
  mef3__tile *t;
  mef3__tile_owner *o; /* with a reference from the cache */
} cand;

static int cmp_cand_owner(const void *a, const void *b) {
  const cand *x = a, *y = b;
  uint64_t ex = atomic_load(&((pfreq *)x->o)->tiles_end);
  uint64_t ey = atomic_load(&((pfreq *)y->o)->tiles_end);
  if (ex != ey)
    return ex < ey ? -1 : 1;
  return x->o < y->o ? -1 : x->o > y->o;
}

/*
 * Which prefetch requests to take back.  The lane works through its
 * requests in order; `own` tiles are this read's already.  Starting from
 * "take everything back", keep the earliest requests as long as the
 * prefetch lane (P workers) is expected to finish them no later than the
 * read's lane (F workers) finishes what is left to it, counting in tiles.
 * Sets steal[i] for every candidate (sorted by request).
 */
static void plan_steals(mef3_files *fm, const cand *cd, size_t n, size_t own,
                        uint8_t *steal) {
  uint64_t P = (uint64_t)(fm->o.use_process_pool ? fm->pf_workers
                                                 : fm->o.prefetch_threads);
  uint64_t F = (uint64_t)(fm->o.use_process_pool ? fm->fg_workers : 1);
  if (P < 1)
    P = 1;
  if (F < 1)
    F = 1;
  uint64_t done = atomic_load(&fm->pf_completed);
  uint64_t fg = own + n;
  int keeping = 1;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && cd[j].o == cd[i].o)
      j++;
    uint64_t end = atomic_load(&((pfreq *)cd[i].o)->tiles_end);
    uint64_t mine = j - i;
    uint64_t ahead = end == UINT64_MAX ? UINT64_MAX
                     : end > done      ? end - done
                                       : 0;
    if (keeping && ahead != UINT64_MAX && ahead * F <= (fg - mine) * P)
      fg -= mine;
    else
      keeping = 0;
    for (size_t k = i; k < j; k++)
      steal[k] = !keeping;
    i = j;
  }
}

/*
 * Get every key READY and pinned into `tiles`.  Counts each key once: a
 * hit when found READY at first, a miss when this read decoded it, a wait
 * otherwise.  On failure nothing stays pinned.
 */
static int load_tiles(mef3_files *fm, mfile *f, const mef3__tcache_key *keys,
                      size_t nk, mef3__tile **tiles, uint64_t counts[3]) {
  size_t *pend = mef3__malloc(nk * sizeof *pend);
  mef3__tcache_key *sub = mef3__malloc(nk * sizeof *sub);
  mef3__tile **got = mef3__malloc(nk * sizeof *got);
  mef3__acq *acq = mef3__malloc(nk * sizeof *acq);
  mef3__tile_owner **own = mef3__malloc(nk * sizeof *own);
  claim *cl = mef3__malloc(nk * sizeof *cl);
  size_t *wait = mef3__malloc(nk * sizeof *wait);
  cand *cd = mef3__malloc(nk * sizeof *cd);
  uint8_t *claimed_once = mef3__calloc(nk, 1), *first = mef3__calloc(nk, 1);
  uint8_t *stl = mef3__malloc(nk);
  int rc = 0;
  if (!pend || !sub || !got || !acq || !own || !cl || !wait || !cd ||
      !claimed_once || !first || !stl) {
    rc = mef3__error(MEF3_ENOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < nk; i++) {
    pend[i] = i;
    tiles[i] = NULL;
  }
  size_t np = nk;
  for (int round = 0; np > 0 && !rc; round++) {
    if (round == MAX_ROUNDS) {
      rc = mef3__error(MEF3_EIO,
                       "%s: tiles could not be loaded after %d "
                       "attempts",
                       f->real, MAX_ROUNDS);
      break;
    }
    size_t ncl = 0, nw = 0, nsteal = 0;
    /* Acquire the pending keys; tiles whose prefetch is still queued are
     * taken back and acquired again at once. */
    for (int pass = 0; pass < 2 && np > 0 && !rc; pass++) {
      for (size_t i = 0; i < np; i++)
        sub[i] = keys[pend[i]];
      rc = mef3__tcache_acquire(&fm->cache, sub, np, NULL, got, acq,
                                pass == 0 ? own : NULL, 0);
      if (rc)
        break;
      size_t ncd = 0;
      for (size_t i = 0; i < np; i++) {
        size_t k = pend[i];
        if (round == 0 && pass == 0 && acq[i] == MEF3__ACQ_HIT)
          first[k] = 1;
        if (acq[i] == MEF3__ACQ_HIT) {
          tiles[k] = got[i];
        } else if (acq[i] == MEF3__ACQ_CLAIMED) {
          tiles[k] = got[i];
          cl[ncl++] = (claim){k, got[i], 0};
          claimed_once[k] = 1;
        } else if (pass == 0 && own[i]) {
          cd[ncd++] = (cand){k, got[i], own[i]};
        } else {
          tiles[k] = got[i];
          wait[nw++] = k;
        }
      }
      /* Tiles of prefetch requests: wait for some, take back others. */
      nsteal = 0;
      if (ncd)
        qsort(cd, ncd, sizeof *cd, cmp_cand_owner);
      plan_steals(fm, cd, ncd, ncl, stl);
      for (size_t i = 0; i < ncd;) {
        size_t j = i;
        while (j < ncd && cd[j].o == cd[i].o)
          j++;
        /* the cache gave a reference per tile; a steal drops one */
        int taken = stl[i] && mef3__prefetch_steal(fm, cd[i].o) == 0;
        for (size_t x = i + (stl[i] ? 1 : 0); x < j; x++)
          mef3__prefetch_owner_unref(cd[x].o);
        for (size_t x = i; x < j; x++) {
          if (taken) { /* canceled: the tile failed; claim it next pass */
            mef3__tcache_unpin(&fm->cache, cd[x].t);
            pend[nsteal++] = cd[x].k;
          } else {
            tiles[cd[x].k] = cd[x].t;
            wait[nw++] = cd[x].k;
          }
        }
        i = j;
      }
      np = nsteal;
    }
    if (rc)
      break;
    /* Before decoding, the file must still be where it was opened (it may
     * have been replaced by a link leading out since: paths.c). */
    if (ncl && (rc = mef3__lane_check(f))) {
      for (size_t i = 0; i < ncl; i++)
        mef3__tcache_fail(&fm->cache, cl[i].t);
      break;
    }
    /* Decode our claims: in the foreground pool when there are enough. */
    if (ncl) {
      mef3_pool *pool =
          (int)ncl >= fm->o.min_parallel_tiles ? get_pool(fm, 0) : NULL;
      if (pool)
        decode_pool(fm, pool, f, keys, cl, ncl);
      rc = decode_local(fm, f, keys, cl, ncl);
      for (size_t i = 0; i < ncl; i++) {
        size_t k = cl[i].key;
        if (tiles[k]->state != MEF3__TILE_READY) { /* failed (memory) */
          mef3__tcache_unpin(&fm->cache, tiles[k]);
          tiles[k] = NULL;
          pend[np++] = k;
        }
      }
    }
    /* Then wait for the tiles others load. */
    for (size_t i = 0; i < nw; i++) {
      size_t k = wait[i];
      if (mef3__tcache_wait(&fm->cache, tiles[k]) != MEF3__TILE_READY) {
        mef3__tcache_unpin(&fm->cache, tiles[k]);
        tiles[k] = NULL;
        pend[np++] = k; /* its loader gave up: claim it again */
      }
    }
  }
out:
  if (rc) {
    for (size_t i = 0; i < nk; i++) {
      mef3__tcache_unpin(&fm->cache, tiles[i]);
      tiles[i] = NULL;
    }
  } else {
    for (size_t i = 0; i < nk; i++) {
      if (first[i])
        counts[0]++;
      else if (claimed_once[i])
        counts[1]++;
      else
        counts[2]++;
    }
  }
  mef3__free(pend);
  mef3__free(sub);
  mef3__free(got);
  mef3__free(acq);
  mef3__free(own);
  mef3__free(cl);
  mef3__free(wait);
  mef3__free(cd);
  mef3__free(stl);
  mef3__free(claimed_once);
  mef3__free(first);
  return rc;
}

/* What a read needs of one distinct channel. */
typedef struct span {
  size_t ch;
  int has_data;
  int64_t i1;     /* grid sample of `start` */
  int64_t b1, b2; /* tiles */
  size_t key0;    /* its first key (tile max(b1, 0)) */
} span;

static void nan_fill(float *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    p[i] = NAN;
}

/* Cut row [i1, i1 + n) of a channel out of its pinned tiles. */
static void cut_row(float *row, const span *sp, int64_t n, int64_t S,
                    mef3__tile *const *tiles) {
  if (!sp->has_data) {
    nan_fill(row, (size_t)n);
    return;
  }
  for (int64_t b = sp->b1; b <= sp->b2; b++) {
    int64_t lo = b * S > sp->i1 ? b * S : sp->i1;
    int64_t hi = (b + 1) * S < sp->i1 + n ? (b + 1) * S : sp->i1 + n;
    if (hi <= lo)
      continue;
    float *dst = row + (lo - sp->i1);
    if (b < 0) {
      nan_fill(dst, (size_t)(hi - lo));
      continue;
    }
    const mef3__tile *t =
        tiles[sp->key0 + (size_t)(b - (sp->b1 > 0 ? sp->b1 : 0))];
    memcpy(dst, t->data + (lo - b * S), (size_t)(hi - lo) * sizeof *dst);
  }
}

/* Tiles of [ta, tb) on channel c's grid: first and last index. */
static int range_tiles(const fchan *c, int64_t ta, int64_t tb, int64_t *ba,
                       int64_t *bb) {
  double ia = round(((double)ta - (double)c->cs) * c->fs / 1e6);
  double ib = round(((double)tb - (double)c->cs) * c->fs / 1e6);
  if (!(fabs(ia) < 4e18) || !(fabs(ib) < 4e18) || ib <= ia)
    return 0;
  *ba = floordiv((int64_t)ia, c->S);
  *bb = floordiv((int64_t)ib - 1, c->S);
  return 1;
}

typedef struct pfent {
  int64_t b;
  size_t cls; /* first span with the same start, rate and tile size */
  size_t ch;
} pfent;

static int cmp_ahead(const void *a, const void *b) {
  const pfent *x = a, *y = b;
  if (x->b != y->b)
    return x->b < y->b ? -1 : 1;
  if (x->cls != y->cls)
    return x->cls < y->cls ? -1 : 1;
  return x->ch < y->ch ? -1 : x->ch > y->ch;
}

static int cmp_behind(const void *a, const void *b) {
  const pfent *x = a, *y = b;
  if (x->b != y->b)
    return x->b > y->b ? -1 : 1; /* nearest the window first */
  return cmp_ahead(a, b);
}

/*
 * Prefetch the windows ahead and behind [start, end): ahead first (the
 * usual direction), each nearest tile first, tiles of one index of
 * channels alike handed over together.  Never the window's own tiles,
 * nothing before a channel's start or from its end on.
 */
static void schedule_prefetch(mef3_files *fm, mfile *f, const span *sp,
                              size_t nsp, int64_t start, int64_t end) {
  int A = fm->o.prefetch_ahead_windows, B = fm->o.prefetch_behind_windows;
  int64_t W = end - start, reach;
  enum { MAX_PER_RANGE = 4096 };
  pfent *list = NULL;
  size_t cap = 0;
  size_t *chs = mef3__malloc((nsp ? nsp : 1) * sizeof *chs);
  size_t *cls = mef3__malloc((nsp ? nsp : 1) * sizeof *cls);
  if (!chs || !cls)
    goto out;
  for (size_t u = 0; u < nsp; u++) {
    cls[u] = u;
    for (size_t v = 0; v < u; v++)
      if (!cmp_fchan(&f->ch[sp[u].ch], &f->ch[sp[v].ch])) {
        cls[u] = v;
        break;
      }
  }
  for (int dir = 0; dir < 2; dir++) {
    int k = dir == 0 ? A : B;
    if (k <= 0 || __builtin_mul_overflow(W, (int64_t)k, &reach))
      continue;
    int64_t ta, tb;
    if (dir == 0) {
      ta = end;
      if (__builtin_add_overflow(end, reach, &tb))
        continue;
    } else {
      tb = start;
      if (__builtin_sub_overflow(start, reach, &ta))
        continue;
    }
    size_t n = 0;
    for (size_t u = 0; u < nsp; u++) {
      const fchan *c = &f->ch[sp[u].ch];
      int64_t ba, bb;
      if (!sp[u].has_data || !range_tiles(c, ta, tb, &ba, &bb))
        continue;
      if (ba < 0)
        ba = 0;
      if (bb - ba >= MAX_PER_RANGE)
        bb = ba + MAX_PER_RANGE - 1;
      for (int64_t b = ba; b <= bb; b++) {
        if (b >= sp[u].b1 && b <= sp[u].b2)
          continue; /* the window itself: read just now */
        int64_t t0, t1;
        mef3_tile_window(c->cs, c->fs, b, c->S, &t0, &t1);
        if (t0 >= c->ce)
          break; /* past the end of the channel: nothing to load */
        if (n == cap) {
          size_t nc = cap ? cap * 2 : 64;
          pfent *nl = mef3__realloc(list, nc * sizeof *nl);
          if (!nl)
            goto out;
          list = nl;
          cap = nc;
        }
        list[n++] = (pfent){b, cls[u], sp[u].ch};
      }
    }
    if (n)
      qsort(list, n, sizeof *list, dir == 0 ? cmp_ahead : cmp_behind);
    for (size_t i = 0; i < n;) {
      size_t j = i, m = 0;
      while (j < n && list[j].b == list[i].b && list[j].cls == list[i].cls)
        chs[m++] = list[j++].ch;
      mef3__prefetch_schedule(fm, f, list[i].b, chs, m);
      i = j;
    }
  }
out:
  mef3__free(list);
  mef3__free(chs);
  mef3__free(cls);
}

/*
 * The read behind mef3_files_read (dst NULL: a new signal in *out) and
 * mef3_files_read_into (the rows go to dst, `cap` floats; *out untouched).
 */
static int read_window(mef3_files *fm, const char *path, const char *token,
                       const char *const *channels, size_t n_channels,
                       int64_t start_uutc, int64_t end_uutc, float *dst,
                       size_t cap, size_t *n_out, mef3_signal **out) {
  if (!fm || !path || (n_channels && !channels))
    return mef3__error(MEF3_EINVAL, "missing argument");
  int64_t span_us;
  if (end_uutc <= start_uutc)
    return mef3__error(MEF3_EINVAL,
                       "window [%lld, %lld) is empty or "
                       "reversed",
                       (long long)start_uutc, (long long)end_uutc);
  if (__builtin_sub_overflow(end_uutc, start_uutc, &span_us))
    return mef3__error(MEF3_EINVAL, "window [%lld, %lld) is too long",
                       (long long)start_uutc, (long long)end_uutc);
  mfile *f = mef3__files_lookup(fm, path, token);
  if (!f)
    return mef3_error_last()->code;

  size_t nrow = n_channels ? n_channels : f->n_ch;
  size_t *row_u = mef3__calloc(nrow ? nrow : 1, sizeof *row_u);
  span *sp = mef3__calloc(nrow ? nrow : 1, sizeof *sp);
  mef3__tcache_key *keys = NULL;
  mef3__tile **tiles = NULL;
  mef3_signal *sig = NULL;
  int64_t n = 0; /* samples per channel */
  size_t nsp = 0, nk = 0;
  int rc = 0;
  if (!row_u || !sp) {
    rc = mef3__error(MEF3_ENOMEM, "out of memory");
    goto done;
  }
  if (nrow == 0) {
    rc = mef3__error(MEF3_ENOTFOUND, "%s: no channels", path);
    goto done;
  }
  /* Channels: names to indices; distinct ones become spans. */
  for (size_t r = 0; r < nrow && !rc; r++) {
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
    while (u < nsp && sp[u].ch != ch)
      u++;
    if (u == nsp)
      sp[nsp++].ch = ch;
    row_u[r] = u;
  }
  if (rc)
    goto done;
  double fs = f->ch[sp[0].ch].fs;
  for (size_t u = 1; u < nsp; u++)
    if (fabs(f->ch[sp[u].ch].fs - fs) >= 5e-7) {
      rc = mef3__error(MEF3_EINVAL,
                       "%s: channels %s (%g Hz) and %s (%g Hz) "
                       "do not share a sampling rate",
                       path, f->ch[sp[0].ch].name, fs, f->ch[sp[u].ch].name,
                       f->ch[sp[u].ch].fs);
      goto done;
    }
  n = mef3_files_window_samples(start_uutc, end_uutc, fs);
  if (n <= 0) {
    rc = mef3__error(MEF3_EINVAL,
                     "window [%lld, %lld) is shorter than one "
                     "sample at %g Hz",
                     (long long)start_uutc, (long long)end_uutc, fs);
    goto done;
  }
  if (n > MAX_READ_SAMPLES / (int64_t)nrow) {
    rc = mef3__error(MEF3_ELIMIT,
                     "%s: %zu channels x %lld samples is too "
                     "large a read",
                     path, nrow, (long long)n);
    goto done;
  }
  if (dst && (uint64_t)n * nrow > cap) {
    rc = mef3__error(MEF3_ELIMIT,
                     "%s: %zu channels x %lld samples do not fit the "
                     "%zu floats given",
                     path, nrow, (long long)n, cap);
    goto done;
  }
  /* Tiles per span. */
  for (size_t u = 0; u < nsp; u++) {
    const fchan *c = &f->ch[sp[u].ch];
    int64_t d;
    sp[u].has_data = c->cs != MEF3_UUTC_NO_ENTRY;
    if (!sp[u].has_data)
      continue;
    double i1 = 0;
    if (__builtin_sub_overflow(start_uutc, c->cs, &d) ||
        !(fabs(i1 = (double)mef3__files_slot(start_uutc, c->cs, c->fs)) <
          4e18)) {
      sp[u].has_data = 0; /* absurdly far from the recording: NaN */
      continue;
    }
    sp[u].i1 = (int64_t)i1;
    sp[u].b1 = floordiv(sp[u].i1, c->S);
    sp[u].b2 = floordiv(sp[u].i1 + n - 1, c->S);
    sp[u].key0 = nk;
    if (sp[u].b2 >= 0) {
      int64_t from = sp[u].b1 > 0 ? sp[u].b1 : 0;
      if ((uint64_t)(sp[u].b2 - from + 1) > MAX_READ_TILES - nk) {
        rc = mef3__error(MEF3_ELIMIT,
                         "%s: the read needs more than %zu "
                         "tiles",
                         path, MAX_READ_TILES);
        goto done;
      }
      nk += (size_t)(sp[u].b2 - from + 1);
    }
  }
  keys = mef3__malloc((nk ? nk : 1) * sizeof *keys);
  tiles = mef3__calloc(nk ? nk : 1, sizeof *tiles);
  if (!keys || !tiles) {
    rc = mef3__error(MEF3_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t u = 0, k = 0; u < nsp; u++) {
    if (!sp[u].has_data)
      continue;
    for (int64_t b = sp[u].b1 > 0 ? sp[u].b1 : 0; b <= sp[u].b2; b++)
      keys[k++] = (mef3__tcache_key){f->id, (uint32_t)sp[u].ch, b};
  }
  uint64_t counts[3] = {0, 0, 0};
  if (nk && (rc = load_tiles(fm, f, keys, nk, tiles, counts)) != 0)
    goto done;
  mef3__tcache_count(&fm->cache, counts[0], counts[1], counts[2]);

  /* Cut the rows, no lock held: the tiles are pinned. */
  float *data = dst;
  if (!dst) {
    sig = mef3__calloc(1, sizeof *sig);
    if (sig) {
      sig->channel_names = mef3__calloc(nrow, sizeof *sig->channel_names);
      sig->data = mef3__malloc((size_t)n * nrow * sizeof *sig->data);
    }
    if (!sig || !sig->channel_names || !sig->data) {
      rc = mef3__error(MEF3_ENOMEM, "out of memory for %zu x %lld samples",
                       nrow, (long long)n);
      goto done;
    }
    sig->n_channels = nrow;
    sig->n_samples = (size_t)n;
    sig->fs = fs;
    sig->start_uutc = start_uutc;
    sig->end_uutc = end_uutc;
    data = sig->data;
  }
  for (size_t r = 0; r < nrow; r++) {
    size_t u = row_u[r];
    float *row = data + r * (size_t)n;
    size_t r0 = 0;
    while (row_u[r0] != u)
      r0++;
    if (r0 < r)
      memcpy(row, data + r0 * (size_t)n, (size_t)n * sizeof *row);
    else
      cut_row(row, &sp[u], n, f->ch[sp[u].ch].S, tiles);
    if (sig && !(sig->channel_names[r] = mef3__strdup(f->ch[sp[u].ch].name))) {
      rc = mef3__error(MEF3_ENOMEM, "out of memory");
      goto done;
    }
  }
  for (size_t k = 0; k < nk; k++) {
    mef3__tcache_unpin(&fm->cache, tiles[k]);
    tiles[k] = NULL;
  }
  atomic_fetch_add(&fm->reads, 1);
  mef3__files_log(fm, MEF3_LOG_DEBUG,
                  "read %s [%lld, %lld) %zu channels: %llu tiles cached, "
                  "%llu decoded, %llu waited for",
                  f->given, (long long)start_uutc, (long long)end_uutc, nrow,
                  (unsigned long long)counts[0], (unsigned long long)counts[1],
                  (unsigned long long)counts[2]);
  schedule_prefetch(fm, f, sp, nsp, start_uutc, end_uutc);

done:
  if (tiles)
    for (size_t k = 0; k < nk; k++)
      mef3__tcache_unpin(&fm->cache, tiles[k]);
  if (rc) {
    mef3_signal_free(sig);
    sig = NULL;
  }
  mef3__free(tiles);
  mef3__free(keys);
  mef3__free(sp);
  mef3__free(row_u);
  mef3__mfile_unref(f);
  if (!dst)
    *out = sig;
  else if (!rc)
    *n_out = (size_t)n;
  return rc;
}

int mef3_files_read(mef3_files *fm, const char *path,
                    const char *const *channels, size_t n_channels,
                    int64_t start_uutc, int64_t end_uutc, mef3_signal **out) {
  return mef3_files_read_as(fm, path, NULL, channels, n_channels, start_uutc,
                            end_uutc, out);
}

int mef3_files_read_as(mef3_files *fm, const char *path, const char *token,
                       const char *const *channels, size_t n_channels,
                       int64_t start_uutc, int64_t end_uutc,
                       mef3_signal **out) {
  if (!out)
    return mef3__error(MEF3_EINVAL, "no output pointer");
  *out = NULL;
  return read_window(fm, path, token, channels, n_channels, start_uutc,
                     end_uutc, NULL, 0, NULL, out);
}

int mef3_files_read_into(mef3_files *fm, const char *path,
                         const char *const *channels, size_t n_channels,
                         int64_t start_uutc, int64_t end_uutc, float *data,
                         size_t cap, size_t *n_samples) {
  return mef3_files_read_into_as(fm, path, NULL, channels, n_channels,
                                 start_uutc, end_uutc, data, cap, n_samples);
}

int mef3_files_read_into_as(mef3_files *fm, const char *path, const char *token,
                            const char *const *channels, size_t n_channels,
                            int64_t start_uutc, int64_t end_uutc, float *data,
                            size_t cap, size_t *n_samples) {
  if (!data || !n_samples)
    return mef3__error(MEF3_EINVAL, "no output buffer");
  *n_samples = 0;
  return read_window(fm, path, token, channels, n_channels, start_uutc,
                     end_uutc, data, cap, n_samples, NULL);
}

void mef3_signal_free(mef3_signal *s) {
  if (!s)
    return;
  if (s->channel_names)
    for (size_t i = 0; i < s->n_channels; i++)
      mef3__free(s->channel_names[i]);
  mef3__free(s->channel_names);
  mef3__free(s->data);
  mef3__free(s);
}

const char *mef3_files_root(const mef3_files *fm) {
  return fm ? fm->root : NULL;
}

/* ---- hooks ---- */

int mef3__files_pin_tiles(mef3_files *fm, mfile *f,
                          const mef3__tcache_key *keys, size_t nk,
                          mef3__tile **tiles) {
  uint64_t counts[3] = {0, 0, 0};
  int rc = load_tiles(fm, f, keys, nk, tiles, counts);
  if (rc) {
    for (size_t k = 0; k < nk; k++) {
      mef3__tcache_unpin(&fm->cache, tiles[k]);
      tiles[k] = NULL;
    }
    return rc;
  }
  mef3__tcache_count(&fm->cache, counts[0], counts[1], counts[2]);
  return 0;
}

int mef3__files_tile_cached(mef3_files *fm, const char *path,
                            const char *channel, int64_t tile) {
  mfile *f = mef3__files_lookup(fm, path, NULL);
  if (!f)
    return 0;
  int yes = 0;
  for (size_t i = 0; i < f->n_ch; i++)
    if (!strcmp(f->ch[i].name, channel)) {
      mef3__tcache_key k = {f->id, (uint32_t)i, tile};
      yes = mef3__tcache_contains(&fm->cache, &k);
    }
  mef3__mfile_unref(f);
  return yes;
}
