/*
 * pool/pool.c - the reader process pool: the handle.
 *
 * Creating a pool is cheap (no process, no thread); the service thread
 * (service.c) starts with the first request and workers (process.c) as
 * work appears.  This file holds what a caller does to the pool as a
 * whole: make it, tell it the passwords and access keys of files, make
 * workers forget a file, warm it up, read its counters, free it.  The
 * pool's parts and their locks are described in pool_impl.h.
 *
 * Out of memory or descriptors.  Whatever the service thread needs every
 * time comes with the pool (poll set, input buffer, the CONFIG frame),
 * and FORGET frames are built here by the caller, so the thread never
 * fails silently; a request that cannot be carried on fails with
 * MEF3_ENOMEM and the worker stays.  No descriptor for the pool's
 * eventfds is MEF3_ELIMIT.
 *
 * Shutdown (mef3_pool_free) cancels what is queued or waits for a channel
 * table, frees the chunks nobody took, then lets the service thread
 * finish the running jobs (killing a worker that does not finish within
 * the grace period), close every socket and reap every worker.  Futures
 * outlive the pool: their results stay readable until each is freed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "pool/pool_impl.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/version.h"

#define SLAB_BYTES ((size_t)64 << 20)

void mef3__pool_wake(int fd) {
  uint64_t one = 1;
  ssize_t k = write(fd, &one, sizeof one);
  (void)k; /* a full counter is still a wake-up */
}

int64_t mef3__now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void mef3__forget_free(mef3__forget_msg *m) {
  mef3__buf_free(&m->frame);
  mef3__free(m);
}

/* ---- creating ---- */

/* Free what pool_alloc made (also a half-made pool). */
static void pool_release(mef3_pool *p, int mu, int shm) {
  if (shm)
    mef3__shm_dispose(&p->shm);
  if (mu)
    pthread_mutex_destroy(&p->mu);
  if (p->wake_fd >= 0)
    close(p->wake_fd);
  if (p->ev_fd >= 0)
    close(p->ev_fd);
  mef3__buf_free(&p->config);
  mef3__buf_free(&p->in);
  mef3__free(p->pfds);
  mef3__free(p->pfd_worker);
  mef3__free(p->w);
  mef3__free(p->name);
  mef3__free(p->worker_path);
  mef3__free(p);
}

/* Allocate pool `p`'s parts for options `o` and worker program `wp`. */
static int pool_alloc(mef3_pool *p, const mef3_pool_options *o,
                      const char *wp) {
  int rc = 0, mu = 0, shm = 0;
  p->worker_path = mef3__strdup(wp);
  p->name = mef3__strdup(o->name ? o->name : "reader");
  p->w = mef3__calloc((size_t)p->nw, sizeof *p->w);
  p->pfds = mef3__calloc((size_t)p->nw + 1, sizeof *p->pfds);
  p->pfd_worker = mef3__calloc((size_t)p->nw + 1, sizeof *p->pfd_worker);
  /* The CONFIG frame, and an input buffer large enough for any answer
   * (a worker's MEF3__MSG_DONE is at most a few hundred bytes). */
  mef3__buf_u32(&p->config, MEF3__MSG_CONFIG);
  mef3__buf_u32(&p->config, (uint32_t)o->max_readers_per_worker);
  mef3__buf_u32(&p->config, (uint32_t)(o->check_block_crc != 0));
  mef3__buf_str(&p->config, o->root ? o->root : ""); /* "": no root */
  p->in.p = mef3__malloc(4096);
  p->in.cap = p->in.p ? 4096 : 0;
  if (!p->worker_path || !p->name || !p->w || !p->pfds || !p->pfd_worker ||
      p->config.oom || !p->in.p)
    rc = mef3__error(MEF3_ENOMEM, "out of memory for a pool");
  if (!rc && ((p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
              (p->ev_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0))
    rc = mef3__error(mef3__errno_code(errno),
                     "cannot create a pool: eventfd: %s", strerror(errno));
  if (!rc && !(mu = pthread_mutex_init(&p->mu, NULL) == 0))
    rc = mef3__error(MEF3_ENOMEM, "cannot create a pool: no mutex");
  if (!rc && !(shm = mef3__shm_init(&p->shm, SLAB_BYTES) == 0))
    rc = mef3__error(MEF3_ENOMEM, "cannot create a pool: no mutex");
  if (rc)
    pool_release(p, mu, shm);
  return rc;
}

int mef3_pool_new(mef3_pool **out, const mef3_pool_options *opts) {
  *out = NULL;
  mef3_pool_options o = MEF3_POOL_OPTIONS_INIT;
  if (opts) {
    if (mef3__version_check("mef3_pool_options", opts->version,
                            MEF3_POOL_OPTIONS_VERSION))
      return MEF3_EINVAL;
    o = *opts;
  }
  if (o.max_workers <= 0)
    o.max_workers = 4;
  if (o.max_workers > 1024)
    return mef3__error(MEF3_EINVAL, "max_workers %d is too many",
                       o.max_workers);
  if (o.max_readers_per_worker <= 0)
    o.max_readers_per_worker = 64;
  char self[PATH_MAX];
  const char *wp = mef3__find_worker(o.worker_path, self);
  if (!wp)
    return mef3__error(MEF3_ENOTFOUND,
                       "worker program not found (tried %s, "
                       "$MEF3POOL_WORKER, next to the executable, %s)",
                       o.worker_path ? o.worker_path : "no option",
                       mef3_pool_default_worker_path());
  mef3_pool *p = mef3__calloc(1, sizeof *p);
  if (!p)
    return mef3__error(MEF3_ENOMEM, "out of memory for a pool");
  p->opts = o;
  p->opts.worker_path = NULL;
  p->opts.name = NULL;
  p->opts.root = NULL; /* (copied into the CONFIG frame) */
  p->nw = o.max_workers;
  p->wake_fd = p->ev_fd = -1;
  int rc = pool_alloc(p, &o, wp);
  if (rc)
    return rc;
  for (int i = 0; i < p->nw; i++) {
    p->w[i].sock = -1;
    p->w[i].state = MEF3__W_DOWN;
  }
  *out = p;
  return 0;
}

int mef3_pool_size(const mef3_pool *p) {
  return p ? p->nw : 0;
}

int mef3_pool_event_fd(mef3_pool *p) {
  return p ? p->ev_fd : -1;
}

void mef3_pool_get_stats(mef3_pool_stats *out, mef3_pool *pool) {
  memset(out, 0, sizeof *out);
  if (!pool)
    return;
  pthread_mutex_lock(&pool->mu);
  *out = pool->st;
  out->queue_depth = (uint32_t)pool->qlen;
  for (int i = 0; i < pool->nw; i++) {
    out->busy_workers += pool->w[i].state == MEF3__W_BUSY;
    out->live_workers += pool->w[i].state != MEF3__W_DOWN;
  }
  pthread_mutex_unlock(&pool->mu);
  pthread_mutex_lock(&pool->shm.mu);
  out->shm_bytes = pool->shm.mapped;
  pthread_mutex_unlock(&pool->shm.mu);
}

/* ---- files: access and forgetting ---- */

/* Drop what the pool knows of `key` and make every worker close its
 * readers of `path`. */
static int forget_path(mef3_pool *p, const char *key, const char *path) {
  /* The frame is built here, where running out of memory can be said:
   * the service thread then only sends it. */
  mef3__forget_msg *m = mef3__calloc(1, sizeof *m);
  if (m) {
    mef3__buf_u32(&m->frame, MEF3__MSG_FORGET);
    mef3__buf_str(&m->frame, path);
  }
  if (!m || m->frame.oom) {
    if (m)
      mef3__forget_free(m);
    return mef3__error(MEF3_ENOMEM, "%s: out of memory to forget it", path);
  }
  pthread_mutex_lock(&p->mu);
  mef3__chantab_drop_locked(p, key);
  int started = p->thread_started;
  if (started) {
    m->next = p->forgets;
    p->forgets = m;
  }
  pthread_mutex_unlock(&p->mu);
  if (!started) { /* no worker has ever run: nothing to forget */
    mef3__forget_free(m);
  } else {
    mef3__pool_wake(p->wake_fd);
  }
  return 0;
}

int mef3_pool_set_password(mef3_pool *p, const char *path,
                           const char *password) {
  return mef3_pool_set_access(p, path, path, password);
}

int mef3_pool_set_access(mef3_pool *p, const char *key, const char *path,
                         const char *password) {
  if (!p || !key)
    return mef3__error(MEF3_EINVAL, "no pool or key");
  mef3__file_access *a = NULL;
  int same = !path || !strcmp(path, key);
  int keep = path && (!same || (password && *password));
  if (keep) {
    a = mef3__calloc(1, sizeof *a);
    if (!a || (!same && !(a->path = mef3__strdup(path))) ||
        (password && *password && !(a->password = mef3__strdup(password)))) {
      mef3__access_free(a);
      return mef3__error(MEF3_ENOMEM, "out of memory");
    }
  }
  pthread_mutex_lock(&p->mu);
  void *old = NULL;
  int rc = 0;
  if (a)
    rc = mef3__strmap_put(&p->passwords, key, a, &old);
  else
    old = mef3__strmap_del(&p->passwords, key);
  /* Readers opened for the old entry must go: forget its path. */
  char *forget = mef3__strdup(old && ((mef3__file_access *)old)->path
                                  ? ((mef3__file_access *)old)->path
                              : path ? path
                                     : key);
  pthread_mutex_unlock(&p->mu);
  mef3__access_free(old);
  if (rc) {
    mef3__free(forget);
    mef3__access_free(a);
    return mef3__error(MEF3_ENOMEM, "out of memory");
  }
  rc = forget ? forget_path(p, key, forget)
              : mef3__error(MEF3_ENOMEM, "out of memory");
  mef3__free(forget);
  return rc;
}

int mef3_pool_forget(mef3_pool *p, const char *path) {
  if (!p || !path)
    return mef3__error(MEF3_EINVAL, "no pool or path");
  pthread_mutex_lock(&p->mu);
  const mef3__file_access *a = mef3__strmap_get(&p->passwords, path);
  char *real = mef3__strdup(a && a->path ? a->path : path);
  pthread_mutex_unlock(&p->mu);
  if (!real)
    return mef3__error(MEF3_ENOMEM, "%s: out of memory to forget it", path);
  int rc = forget_path(p, path, real);
  mef3__free(real);
  return rc;
}

/* ---- warm-up ---- */

/* Queue an INFO job for every worker, its future in `fs[i]` (pool
 * locked).  0 or the first error; the futures made so far are queued. */
static int warmup_queue_locked(mef3_pool *p, const char *path,
                               mef3_future **fs) {
  if (p->stopping)
    return mef3__error(MEF3_ECANCELED, "the pool is shutting down");
  int rc = mef3__service_start_locked(p);
  if (rc)
    return rc;
  p->warm = 1;
  p->st.requests += (uint64_t)p->nw;
  for (int i = 0; i < p->nw; i++) {
    fs[i] = mef3__future_new(p, MEF3__FUT_INFO);
    mef3__job *j =
        fs[i] ? mef3__info_job_locked(p, path, i, fs[i], MEF3__INFO_BYTES)
              : NULL;
    if (!j) {
      rc = fs[i] ? mef3_error_last()->code
                 : mef3__error(MEF3_ENOMEM, "out of memory for a request");
      mef3__future_discard(fs[i]);
      fs[i] = NULL;
      return rc;
    }
    fs[i]->parts_left = 1;
    mef3__enqueue_locked(p, j);
  }
  return 0;
}

int mef3_pool_warmup(mef3_pool *p, const char *path, const char *channel,
                     int64_t timeout_ms) {
  if (!p || !path)
    return mef3__error(MEF3_EINVAL, "missing argument");
  (void)channel; /* opening the reader reads every channel's metadata */
  mef3_future **fs = mef3__calloc((size_t)p->nw, sizeof *fs);
  if (!fs)
    return mef3__error(MEF3_ENOMEM, "out of memory");
  pthread_mutex_lock(&p->mu);
  int first = warmup_queue_locked(p, path, fs);
  pthread_mutex_unlock(&p->mu);
  mef3__pool_wake(p->wake_fd);
  for (int i = 0; i < p->nw; i++) {
    if (!fs[i])
      continue;
    int w = mef3_future_wait(fs[i], timeout_ms);
    if (!first && w)
      first = mef3__error(MEF3_ETIMEDOUT, "warm-up of %s timed out", path);
    else if (!first && fs[i]->status)
      first = mef3__error(fs[i]->status, "%s", fs[i]->message);
    mef3_future_free(fs[i]);
  }
  mef3__free(fs);
  return first;
}

/* ---- shutdown ---- */

/* Cancel the jobs taken off the queue (a list): their futures complete
 * as canceled, a window some of whose parts already run once those end. */
static void cancel_jobs(mef3_pool *p, mef3__job *q) {
  for (mef3__job *j = q, *nx; j; j = nx) {
    nx = j->next;
    mef3_future *f = j->fut;
    if (j->type == MEF3__MSG_INFO) {
      if (f)
        mef3__future_complete(p, f, MEF3_ECANCELED, "canceled: pool shut down");
    } else {
      pthread_mutex_lock(&p->mu);
      if (f->status == 0) {
        f->status = MEF3_ECANCELED;
        snprintf(f->message, sizeof f->message, "canceled: pool shut down");
      }
      int last = --f->parts_left == 0;
      pthread_mutex_unlock(&p->mu);
      if (last)
        mef3__future_complete(p, f, MEF3_ECANCELED, "canceled: pool shut down");
    }
    mef3__job_free(j);
  }
}

/* Stop taking work and cancel every request not yet running. */
static void cancel_pending(mef3_pool *p) {
  pthread_mutex_lock(&p->mu);
  p->stopping = 1;
  mef3__job *q = p->qhead;
  p->qhead = p->qtail = NULL;
  p->qlen = 0;
  mef3_future *waiting = mef3__chantab_take_waiting_locked(p);
  mef3_future **chunks;
  size_t nchunks;
  mef3__chunks_take_all_locked(p, &chunks, &nchunks);
  pthread_mutex_unlock(&p->mu);

  cancel_jobs(p, q);
  for (mef3_future *f = waiting, *nx; f; f = nx) {
    nx = f->next_waiting;
    mef3__future_complete(p, f, MEF3_ECANCELED, "canceled: pool shut down");
  }
  for (size_t i = 0; i < nchunks; i++)
    mef3_future_free(chunks[i]);
  mef3__free(chunks);
}

void mef3_pool_free(mef3_pool *p) {
  if (!p)
    return;
  cancel_pending(p);
  if (p->thread_started) {
    mef3__pool_wake(p->wake_fd);
    pthread_join(p->thread, NULL);
  }
  for (int i = 0; i < p->nw; i++)
    mef3__free(p->w[i].slabs);
  for (mef3__forget_msg *m = p->forgets, *nx; m; m = nx) {
    nx = m->next;
    mef3__forget_free(m);
  }
  mef3__chantab_dispose(p);
  size_t it = 0;
  const char *key;
  void *val;
  while (mef3__strmap_next(&p->passwords, &it, &key, &val))
    mef3__access_free(val);
  mef3__strmap_dispose(&p->passwords);
  pool_release(p, 1, 1);
}
