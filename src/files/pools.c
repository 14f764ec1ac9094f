/*
 * files/pools.c - the manager's two process pools, foreground and
 * prefetch, created at first use (a manager that only hits the cache
 * never spawns a worker).  A pool that cannot be created is not tried
 * again: that lane decodes in process from then on, and says so once in
 * the log.  A new pool learns the keys and passwords of the views opened
 * before it.  Any thread (pools_mu).
 */
#include <stdio.h>

#include "files/files_impl.h"
#include "util/alloc.h"

mef3_pool *mef3__files_pool(mef3_files *fm, int prefetch) {
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
    po.root = fm->root;
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
