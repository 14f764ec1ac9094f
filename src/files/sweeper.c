/*
 * files/sweeper.c - the idle sweeper: a thread that drops tiles idle for
 * longer than cache_ttl_s, waking every tenth of it (at least 1 s), or at
 * once when a test kicks it (mef3__files_sweep_now).  Only with a TTL.
 */
#include <time.h>

#include "files/files_impl.h"
#include "util/alloc.h"

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

int mef3__sweeper_start(mef3_files *fm, int64_t ttl_ms) {
  fm->sw_interval_ms = ttl_ms / 10 > 1000 ? ttl_ms / 10 : 1000;
  if (pthread_create(&fm->sweeper, NULL, sweeper_main, fm) != 0)
    return MEF3_ELIMIT;
  fm->sw_started = 1;
  return 0;
}

void mef3__sweeper_stop(mef3_files *fm) {
  if (!fm->sw_started)
    return;
  pthread_mutex_lock(&fm->sw_mu);
  fm->sw_stop = 1;
  pthread_cond_broadcast(&fm->sw_cv);
  pthread_mutex_unlock(&fm->sw_mu);
  pthread_join(fm->sweeper, NULL);
  fm->sw_started = 0;
}
