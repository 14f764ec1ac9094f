/*
 * pool/chunks.c - the keyed chunk registry: windows prefetched under a
 * caller's key, to be taken later by that key.
 *
 * A key maps to the future of one window read (one group), sized by the
 * file's channel table (chantab.c): the caller gives no rates.  Scheduling a
 * key that is already there does nothing, so many threads may ask for the
 * same chunk and one read runs; taking a key removes it and hands its
 * future (waited for) to the taker.  Chunks nobody took are freed when
 * the pool is.
 *
 * Threads: the map is under the pool lock, never held while a window is
 * submitted or a future is waited for or freed; two threads scheduling
 * one key at once both submit, and the later one frees its own future.
 */
#include "pool/pool_impl.h"
#include "util/alloc.h"
#include "util/error.h"

int mef3_pool_prefetch_chunk(mef3_pool *p, const char *key, const char *path,
                             const char *const *channels, size_t n, int64_t t0,
                             int64_t t1) {
  if (!p || !key)
    return mef3__error(MEF3_EINVAL, "missing argument");
  pthread_mutex_lock(&p->mu);
  int have = mef3__strmap_get(&p->chunks, key) != NULL;
  pthread_mutex_unlock(&p->mu);
  if (have)
    return 0;
  mef3_future *f;
  int rc = mef3__submit_window(&f, p, path, channels, NULL, n, t0, t1, 1);
  if (rc)
    return rc;
  pthread_mutex_lock(&p->mu);
  void *old = NULL;
  if (mef3__strmap_get(&p->chunks, key)) {
    /* another thread scheduled the same key meanwhile: keep theirs */
    pthread_mutex_unlock(&p->mu);
    mef3_future_free(f);
    return 0;
  }
  rc = mef3__strmap_put(&p->chunks, key, f, &old);
  pthread_mutex_unlock(&p->mu);
  if (rc) {
    mef3_future_free(f);
    return mef3__error(MEF3_ENOMEM, "out of memory");
  }
  return 0;
}

int mef3_pool_is_scheduled(mef3_pool *p, const char *key) {
  if (!p || !key)
    return 0;
  pthread_mutex_lock(&p->mu);
  int have = mef3__strmap_get(&p->chunks, key) != NULL;
  pthread_mutex_unlock(&p->mu);
  return have;
}

int mef3_pool_take_chunk(mef3_future **out, mef3_pool *p, const char *key) {
  *out = NULL;
  if (!p || !key)
    return mef3__error(MEF3_EINVAL, "missing argument");
  pthread_mutex_lock(&p->mu);
  mef3_future *f = mef3__strmap_del(&p->chunks, key);
  pthread_mutex_unlock(&p->mu);
  if (!f)
    return mef3__error(MEF3_ENOTFOUND, "unknown key \"%s\"", key);
  mef3_future_wait(f, -1);
  *out = f;
  return 0;
}

void mef3__chunks_take_all_locked(mef3_pool *p, mef3_future ***out, size_t *n) {
  mef3_future **all = NULL;
  size_t k = 0;
  if (p->chunks.used) {
    all = mef3__calloc(p->chunks.used, sizeof *all);
    size_t it = 0;
    const char *key;
    void *val;
    while (all && mef3__strmap_next(&p->chunks, &it, &key, &val))
      all[k++] = val;
  }
  mef3__strmap_dispose(&p->chunks);
  *out = all;
  *n = k;
}
