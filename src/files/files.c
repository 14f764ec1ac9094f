/*
 * files/files.c - the file manager as a whole: options, create and free,
 * file info, statistics, and its log.
 *
 * The rooms, each in its own file: the open views (access.c) and the
 * files behind them (registry.c), the tile cache (tile_cache.c) and its
 * memory (tilemem.c), reads (read.c), the decoding both lanes share
 * (lane.c), prefetch (prefetch.c), the pools (pools.c), the idle sweeper
 * (sweeper.c), path confinement (paths.c), the grid (grid.c), envelopes
 * (envelope.c) and file metadata (file_meta.c).  files_impl.h holds what
 * they share and the lock order.
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
#include "util/version.h"

/* ---- logging ---- */

void mef3__files_log(mef3_files *fm, mef3_log_level level, const char *fmt,
                     ...) {
  va_list ap;
  va_start(ap, fmt);
  mef3_log_vprintf(fm->o.log, fm->o.log_payload, level, fmt, ap);
  va_end(ap);
}

/* ---- the window rule ---- */

/* The file manager answers as the original server, whose Python computes
 * int(round(x)) on doubles: halves to even (mef3pool/grid.h). */
int64_t mef3_files_window_samples(int64_t start_uutc, int64_t end_uutc,
                                  double fs) {
  return mef3_grid_samples(start_uutc, end_uutc, fs, MEF3_ROUND_EVEN);
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
    if (mef3__version_check("mef3_files_options", opts->version,
                            MEF3_FILES_OPTIONS_VERSION))
      return MEF3_EINVAL;
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
    if (!mef3__is_dir(NULL, root))
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
  if (ttl_ms > 0 && mef3__sweeper_start(fm, ttl_ms)) {
    mef3_files_free(fm);
    return mef3__error(MEF3_ELIMIT, "cannot start the sweeper thread");
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
  mef3__sweeper_stop(fm);
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

int mef3_files_info(mef3_file_info **out, mef3_files *fm, const char *path) {
  return mef3_files_info_as(out, fm, path, NULL);
}

int mef3_files_info_as(mef3_file_info **out, mef3_files *fm, const char *path,
                       const char *token) {
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

void mef3_files_get_stats(mef3_files_stats *out, mef3_files *fm) {
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
