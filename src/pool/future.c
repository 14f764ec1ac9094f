/*
 * pool/future.c - futures: the one-shot result of one pool request.
 *
 * A future is completed exactly once, by whichever thread ends it: the
 * service thread (a worker answered or died), a caller (cancel, a window
 * that fails before any job runs) or shutdown.  The pool lock decides
 * who: a future leaves MEF3__FUT_QUEUED under it, and only the thread
 * that moved it on may complete it.
 *
 * Futures are reference-counted: one reference for the caller, one for
 * the pool until completion.  Their own mutex and condition variable
 * (waits on CLOCK_MONOTONIC) make wait/on_done independent of the pool's
 * lifetime, and the result region holds its slab, so a result stays
 * readable after the pool is freed, until the future is.  The callback
 * runs once, with no lock held, on the completing thread (or at once in
 * on_done when the future is already done).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pool/pool_impl.h"
#include "util/alloc.h"
#include "util/error.h"

mef3_future *mef3__future_new(mef3_pool *p, mef3__fut_kind kind) {
  mef3_future *f = mef3__calloc(1, sizeof *f);
  if (!f)
    return NULL;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  if (pthread_mutex_init(&f->mu, NULL) || pthread_cond_init(&f->cv, &ca)) {
    pthread_condattr_destroy(&ca);
    mef3__free(f);
    return NULL;
  }
  pthread_condattr_destroy(&ca);
  atomic_init(&f->refs, 2); /* the caller's and the pool's */
  atomic_init(&f->done, 0);
  f->kind = kind;
  f->pool = p;
  f->state = MEF3__FUT_QUEUED;
  return f;
}

/* What a window keeps to build its jobs: not needed once done. */
static void release_fields(mef3_future *f) {
  for (size_t i = 0; i < f->n_names; i++)
    mef3__free(f->names[i]);
  mef3__free(f->names);
  f->names = NULL;
  f->n_names = 0;
  mef3__free(f->path);
  f->path = NULL;
}

void mef3__future_unref(mef3_future *f) {
  if (atomic_fetch_sub(&f->refs, 1) != 1)
    return;
  mef3__region_free(&f->region);
  release_fields(f);
  pthread_mutex_destroy(&f->mu);
  pthread_cond_destroy(&f->cv);
  mef3__free(f);
}

void mef3__future_discard(mef3_future *f) {
  if (!f)
    return;
  atomic_store(&f->refs, 1);
  mef3__future_unref(f);
}

void mef3__future_complete(mef3_pool *p, mef3_future *f, int status,
                           const char *msg) {
  pthread_mutex_lock(&p->mu);
  f->state = MEF3__FUT_DONE;
  if (status == 0)
    p->st.completed++;
  else if (status == MEF3_ECANCELED)
    p->st.canceled++;
  else
    p->st.failed++;
  pthread_mutex_unlock(&p->mu);

  if (status != 0)
    mef3__region_free(&f->region);
  release_fields(f);
  pthread_mutex_lock(&f->mu);
  f->status = status;
  if (status && msg)
    snprintf(f->message, sizeof f->message, "%s", msg);
  mef3_future_cb cb = f->cb;
  void *payload = f->payload;
  atomic_store_explicit(&f->done, 1, memory_order_release);
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
  mef3__pool_wake(p->ev_fd);
  if (cb)
    cb(f, payload);
  mef3__future_unref(f);
}

int mef3_future_wait(mef3_future *f, int64_t timeout_ms) {
  if (!f)
    return mef3__error(MEF3_EINVAL, "no future");
  if (atomic_load_explicit(&f->done, memory_order_acquire))
    return 0;
  if (timeout_ms == 0)
    return MEF3_ETIMEDOUT;
  struct timespec dl;
  clock_gettime(CLOCK_MONOTONIC, &dl);
  if (timeout_ms > 0) {
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (timeout_ms % 1000) * 1000000;
    if (dl.tv_nsec >= 1000000000) {
      dl.tv_sec++;
      dl.tv_nsec -= 1000000000;
    }
  }
  int rc = 0;
  pthread_mutex_lock(&f->mu);
  while (!atomic_load_explicit(&f->done, memory_order_acquire)) {
    if (timeout_ms < 0) {
      pthread_cond_wait(&f->cv, &f->mu);
    } else if (pthread_cond_timedwait(&f->cv, &f->mu, &dl) == ETIMEDOUT) {
      if (!atomic_load(&f->done))
        rc = MEF3_ETIMEDOUT;
      break;
    }
  }
  pthread_mutex_unlock(&f->mu);
  return rc;
}

int mef3_future_done(const mef3_future *f) {
  return f && atomic_load_explicit(&f->done, memory_order_acquire);
}

int mef3_future_status(const mef3_future *f) {
  if (!mef3_future_done(f))
    return MEF3_EINVAL;
  return f->status;
}

const char *mef3_future_message(const mef3_future *f) {
  return mef3_future_done(f) ? f->message : "";
}

int mef3_future_on_done(mef3_future *f, mef3_future_cb cb, void *payload) {
  if (!f || !cb)
    return mef3__error(MEF3_EINVAL, "no future or callback");
  pthread_mutex_lock(&f->mu);
  if (f->cb_set) {
    pthread_mutex_unlock(&f->mu);
    return mef3__error(MEF3_EINVAL, "the future already has a callback");
  }
  f->cb_set = 1;
  int now = atomic_load(&f->done);
  if (!now) {
    f->cb = cb;
    f->payload = payload;
  }
  pthread_mutex_unlock(&f->mu);
  if (now)
    cb(f, payload);
  return 0;
}

const float *mef3_future_tiles(size_t *n_tiles, size_t *samples_per_tile,
                               const mef3_future *f) {
  if (!mef3_future_done(f) || f->status || f->kind != MEF3__FUT_TILES)
    return NULL;
  if (n_tiles)
    *n_tiles = f->dim0;
  if (samples_per_tile)
    *samples_per_tile = f->dim1;
  return (const float *)f->region.ptr;
}

const float *mef3_future_window(size_t *n_channels, size_t *n_samples,
                                const mef3_future *f) {
  if (!mef3_future_done(f) || f->status || f->kind != MEF3__FUT_WINDOW)
    return NULL;
  if (n_channels)
    *n_channels = f->dim0;
  if (n_samples)
    *n_samples = f->dim1;
  return (const float *)f->region.ptr;
}

int mef3_future_cancel(mef3_future *f) {
  if (!f || mef3_future_done(f))
    return mef3__error(MEF3_EINVAL, "the future is done");
  /* The pool pointer is stable while the future is not done: shutdown
   * completes every future before the pool is freed. */
  mef3_pool *p = f->pool;
  if (!p)
    return mef3__error(MEF3_EINVAL, "the future is done");
  pthread_mutex_lock(&p->mu);
  if (f->state != MEF3__FUT_QUEUED) {
    pthread_mutex_unlock(&p->mu);
    return mef3__error(MEF3_EINVAL, "the future is already running");
  }
  mef3__unqueue_locked(p, f);
  mef3__chantab_unwait_locked(p, f);
  f->state = MEF3__FUT_RUNNING; /* nothing else may complete it now */
  pthread_mutex_unlock(&p->mu);
  mef3__future_complete(p, f, MEF3_ECANCELED, "canceled");
  return 0;
}

void mef3_future_free(mef3_future *f) {
  if (!f)
    return;
  if (!mef3_future_done(f)) {
    /* The caller lets go: its callback must not run any more. */
    pthread_mutex_lock(&f->mu);
    f->cb = NULL;
    f->payload = NULL;
    pthread_mutex_unlock(&f->mu);
    mef3_error saved = *mef3_error_last();
    if (mef3_future_cancel(f) != 0) /* running: it completes unseen */
      mef3__error(saved.code, "%s", saved.message);
  }
  mef3__future_unref(f);
}
