/*
 * pool/request.c - building requests, and the queue they wait in.
 *
 * A caller (any thread) builds a request in full before it is queued:
 * the future, the shared-memory region its result goes to, and the frame
 * a worker will read (type, id, region, file, password, then what the
 * request type needs).  The service thread then only sends frames.  A
 * tiles request is one job.  A window is one job per group of channels,
 * all writing rows of one region of (channels, n) floats, n being the
 * shortest of the channels' window lengths; sizing it takes each
 * channel's rate: the caller's when it gives them (the file manager
 * does), else from the file's channel table (chantab.c), which costs an
 * INFO round trip on a file's first window.
 *
 * The queue is FIFO, except that a job aimed at one worker (warm-up, an
 * INFO job asking again) waits for that worker while others pass it.
 *
 * Threads: everything here runs under the pool lock (`_locked`) except
 * the public submit calls, which allocate first and lock to queue.
 * Passwords come from the access map (set_access) into the frame; the
 * map's copies are wiped when they go.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mef3pool/reader.h"
#include "pool/pool_impl.h"
#include "util/alloc.h"
#include "util/error.h"

void mef3__job_free(mef3__job *j) {
  if (!j)
    return;
  mef3__buf_free(&j->body);
  mef3__region_free(&j->info_region);
  mef3__free(j->path);
  mef3__free(j);
}

static void wipe(char *s) {
  if (!s)
    return;
  for (volatile char *c = s; *c; c++)
    *c = 0;
  mef3__free(s);
}

void mef3__access_free(mef3__file_access *a) {
  if (!a)
    return;
  mef3__free(a->path);
  wipe(a->password);
  mef3__free(a);
}

/* ---- the queue ---- */

void mef3__enqueue_locked(mef3_pool *p, mef3__job *j) {
  j->next = NULL;
  if (p->qtail)
    p->qtail->next = j;
  else
    p->qhead = j;
  p->qtail = j;
  p->qlen++;
}

int mef3__unqueue_locked(mef3_pool *p, mef3_future *f) {
  int n = 0;
  mef3__job **pp = &p->qhead, *last = NULL;
  while (*pp) {
    mef3__job *j = *pp;
    if (j->fut == f) {
      *pp = j->next;
      mef3__job_free(j);
      p->qlen--;
      n++;
    } else {
      last = j;
      pp = &j->next;
    }
  }
  p->qtail = last;
  return n;
}

mef3__job *mef3__take_locked(mef3_pool *p, int i) {
  mef3__job **pp = &p->qhead, *prev = NULL;
  for (mef3__job *j = p->qhead; j; prev = j, j = j->next) {
    if (j->target >= 0 && j->target != i) {
      pp = &j->next;
      continue;
    }
    *pp = j->next;
    if (p->qtail == j)
      p->qtail = prev;
    p->qlen--;
    if (j->fut && j->fut->state == MEF3__FUT_QUEUED)
      j->fut->state = MEF3__FUT_RUNNING;
    return j;
  }
  return NULL;
}

/* ---- frames ---- */

/* Start of every request body: type, id, region. */
static void body_head(mef3__buf *b, int type, uint32_t id,
                      const mef3__region *r, size_t off, size_t len) {
  mef3__buf_u32(b, (uint32_t)type);
  mef3__buf_u32(b, id);
  mef3__buf_u32(b, r->slab->id);
  mef3__buf_u64(b, r->off + off);
  mef3__buf_u64(b, len);
}

/* The file a request names, as its body carries it: the path a worker
 * opens, then the password. */
static void body_file_locked(mef3_pool *p, mef3__buf *b, const char *key) {
  const mef3__file_access *a = mef3__strmap_get(&p->passwords, key);
  mef3__buf_str(b, a && a->path ? a->path : key);
  mef3__buf_str(b, a && a->password ? a->password : "");
}

mef3__job *mef3__info_job_locked(mef3_pool *p, const char *path, int target,
                                 mef3_future *fut, size_t bytes) {
  mef3__job *j = mef3__calloc(1, sizeof *j);
  if (!j) {
    mef3__error(MEF3_ENOMEM, "%s: out of memory for a request", path);
    return NULL;
  }
  j->type = MEF3__MSG_INFO;
  j->id = ++p->next_id;
  j->fut = fut;
  j->target = target;
  j->path = mef3__strdup(path);
  if (!j->path) {
    mef3__error(MEF3_ENOMEM, "%s: out of memory for a request", path);
    mef3__job_free(j);
    return NULL;
  }
  if (mef3__shm_alloc(&p->shm, bytes, &j->info_region)) {
    mef3__job_free(j);
    return NULL;
  }
  j->slab = j->info_region.slab;
  body_head(&j->body, MEF3__MSG_INFO, j->id, &j->info_region, 0,
            j->info_region.len);
  body_file_locked(p, &j->body, path);
  if (j->body.oom) {
    mef3__error(MEF3_ENOMEM, "%s: out of memory for a request", path);
    mef3__job_free(j);
    return NULL;
  }
  return j;
}

/* ---- windows ---- */

/* Split [0, n) into up to k contiguous groups, sizes differing by one at
 * most, larger first (as the original). */
static size_t group_start(size_t n, size_t k, size_t g) {
  size_t q = n / k, r = n % k;
  return g * q + (g < r ? g : r);
}

/* The job of channels [a, b) of window `f`, rows of `row` bytes. */
static mef3__job *window_job_locked(mef3_pool *p, mef3_future *f, size_t a,
                                    size_t b, size_t n, size_t row) {
  mef3__job *j = mef3__calloc(1, sizeof *j);
  if (!j)
    return NULL;
  j->type = MEF3__MSG_WINDOW;
  j->id = ++p->next_id;
  j->fut = f;
  j->target = -1;
  j->slab = f->region.slab;
  body_head(&j->body, MEF3__MSG_WINDOW, j->id, &f->region, a * row,
            (b - a) * row);
  body_file_locked(p, &j->body, f->path);
  mef3__buf_u64(&j->body, (uint64_t)f->t0);
  mef3__buf_u64(&j->body, (uint64_t)f->t1);
  mef3__buf_u64(&j->body, n);
  mef3__buf_u32(&j->body, (uint32_t)(b - a));
  for (size_t k = a; k < b; k++)
    mef3__buf_str(&j->body, f->names[k]);
  if (j->body.oom) {
    mef3__job_free(j);
    return NULL;
  }
  return j;
}

int mef3__expand_window_locked(mef3_pool *p, mef3_future *f, size_t n) {
  size_t row = n * sizeof(float);
  int rc = mef3__shm_alloc(&p->shm, row * f->n_names, &f->region);
  if (rc)
    return rc;
  f->dim0 = f->n_names;
  f->dim1 = n;
  size_t groups = (size_t)(f->n_splits > 0 ? f->n_splits : p->nw);
  if (groups > f->n_names)
    groups = f->n_names;
  if (groups < 1)
    groups = 1;
  /* Every job is made before any is queued: all or none. */
  mef3__job **made = mef3__calloc(groups, sizeof *made);
  size_t nm = 0;
  if (!made)
    return mef3__error(MEF3_ENOMEM, "%s: out of memory for a request", f->path);
  for (size_t g = 0; g < groups; g++) {
    size_t a = group_start(f->n_names, groups, g);
    size_t b = group_start(f->n_names, groups, g + 1);
    if (a == b)
      continue;
    if (!(made[nm] = window_job_locked(p, f, a, b, n, row))) {
      for (size_t i = 0; i < nm; i++)
        mef3__job_free(made[i]);
      mef3__free(made);
      return mef3__error(MEF3_ENOMEM, "%s: out of memory for a request",
                         f->path);
    }
    nm++;
  }
  f->parts_left = (int)nm;
  for (size_t i = 0; i < nm; i++)
    mef3__enqueue_locked(p, made[i]);
  mef3__free(made);
  return 0;
}

/* Queue window `f`: expanded now when its length is known - `*known_n`,
 * from the caller's rates, or by its file's channel table - else waiting
 * for the table.  A bad request (an unknown channel) is not an error of
 * the call: `*fail_rc` is set and the caller fails the future, as when
 * the table comes later.  Returns 0 or an error (`f` not queued). */
static int queue_window_locked(mef3_pool *p, mef3_future *f,
                               const size_t *known_n, int *fail_rc) {
  *fail_rc = 0;
  size_t n = known_n ? *known_n : 0;
  int rc = 0;
  if (!known_n) {
    const mef3__chantab *t = mef3__chantab_get_locked(p, f->path);
    if (!t)
      return mef3__chantab_wait_locked(p, f);
    rc = mef3__chantab_samples(t, f, &n);
  }
  if (!rc)
    rc = mef3__expand_window_locked(p, f, n);
  if (rc && rc != MEF3_ENOMEM) {
    *fail_rc = rc;
    return 0;
  }
  return rc;
}

/* The length of window `f` by the caller's rates `fs` (the shortest of
 * its channels' windows): 0, or MEF3_EINVAL for a rate that is not a
 * positive number or a row of more than 2^32 samples. */
static int samples_by_rates(const mef3_future *f, const double *fs, size_t *n) {
  int64_t nmin = -1;
  for (size_t k = 0; k < f->n_names; k++) {
    int64_t m = mef3_window_samples(f->t0, f->t1, fs[k]);
    if (!(fs[k] > 0.0) || isinf(fs[k]) || m > ((int64_t)1 << 32))
      return mef3__error(MEF3_EINVAL,
                         "%s: invalid window request: channel \"%s\" at %g "
                         "Hz over %lld us",
                         f->path, f->names[k], fs[k],
                         (long long)(f->t1 - f->t0));
    if (nmin < 0 || m < nmin)
      nmin = m;
  }
  *n = (size_t)(nmin < 0 ? 0 : nmin);
  return 0;
}

/* A window future holding copies of what its jobs are built from. */
static int window_future(mef3_future **out, mef3_pool *p, const char *path,
                         const char *const *channels, size_t nch, int64_t t0,
                         int64_t t1, int n_splits) {
  mef3_future *f = *out = mef3__future_new(p, MEF3__FUT_WINDOW);
  if (!f)
    return mef3__error(MEF3_ENOMEM, "out of memory");
  f->path = mef3__strdup(path);
  f->names = mef3__calloc(nch, sizeof *f->names);
  int rc = f->path && f->names ? 0 : MEF3_ENOMEM;
  for (size_t i = 0; !rc && i < nch; i++) {
    if (!channels[i])
      rc = MEF3_EINVAL;
    else if (!(f->names[i] = mef3__strdup(channels[i])))
      rc = MEF3_ENOMEM;
    else
      f->n_names = i + 1;
  }
  f->t0 = t0;
  f->t1 = t1;
  f->n_splits = n_splits;
  if (rc) {
    mef3__future_discard(f);
    *out = NULL;
    return mef3__error(rc, rc == MEF3_EINVAL ? "a channel name is NULL"
                                             : "out of memory");
  }
  return 0;
}

int mef3__submit_window(mef3_future **out, mef3_pool *p, const char *path,
                        const char *const *channels, const double *fs,
                        size_t nch, int64_t t0, int64_t t1, int n_splits) {
  *out = NULL;
  if (!p || !path || (nch && !channels))
    return mef3__error(MEF3_EINVAL, "missing argument");
  if (nch == 0)
    return mef3__error(MEF3_EINVAL, "channels must be non-empty");
  if (t1 < t0)
    return mef3__error(MEF3_EINVAL, "window end before its start");
  mef3_future *f;
  int rc = window_future(&f, p, path, channels, nch, t0, t1, n_splits);
  if (rc)
    return rc;
  size_t n = 0;
  if (fs && (rc = samples_by_rates(f, fs, &n)) != 0) {
    mef3__future_discard(f);
    return rc;
  }
  int fail_rc = 0;
  pthread_mutex_lock(&p->mu);
  if (p->stopping)
    rc = mef3__error(MEF3_ECANCELED, "the pool is shutting down");
  if (!rc)
    rc = mef3__service_start_locked(p);
  if (!rc)
    rc = queue_window_locked(p, f, fs ? &n : NULL, &fail_rc);
  if (rc) {
    pthread_mutex_unlock(&p->mu);
    mef3__future_discard(f);
    return rc;
  }
  p->st.requests++;
  if (fail_rc) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", mef3_error_last()->message);
    f->state = MEF3__FUT_RUNNING;
    pthread_mutex_unlock(&p->mu);
    mef3__future_complete(p, f, fail_rc, msg);
    *out = f;
    return 0;
  }
  pthread_mutex_unlock(&p->mu);
  mef3__pool_wake(p->wake_fd);
  *out = f;
  return 0;
}

int mef3_pool_read_window(mef3_future **out, mef3_pool *p, const char *path,
                          const char *const *channels, const double *fs,
                          size_t n_channels, int64_t t0, int64_t t1,
                          int n_splits) {
  return mef3__submit_window(out, p, path, channels, fs, n_channels, t0, t1,
                             n_splits);
}

/* ---- tiles ---- */

int mef3_pool_submit_tiles(mef3_future **out, mef3_pool *p, const char *path,
                           const char *channel, const int64_t *blocks, size_t n,
                           double fs, int64_t cs, int64_t S) {
  *out = NULL;
  if (!p || !path || !channel || (n && !blocks))
    return mef3__error(MEF3_EINVAL, "missing argument");
  if (!(fs > 0.0) || S <= 0 || n > ((size_t)1 << 24) ||
      (uint64_t)S > ((uint64_t)1 << 32))
    return mef3__error(MEF3_EINVAL,
                       "invalid tile request: %zu tiles of "
                       "%lld samples at %g Hz",
                       n, (long long)S, fs);
  mef3_future *f = mef3__future_new(p, MEF3__FUT_TILES);
  mef3__job *j = mef3__calloc(1, sizeof *j);
  int rc = MEF3_ENOMEM;
  if (!f || !j)
    goto fail;
  f->dim0 = n;
  f->dim1 = (size_t)S;
  if ((rc = mef3__shm_alloc(&p->shm, n * (size_t)S * sizeof(float),
                            &f->region)) != 0)
    goto fail;
  j->type = MEF3__MSG_TILES;
  j->fut = f;
  j->target = -1;
  j->slab = f->region.slab;
  pthread_mutex_lock(&p->mu);
  if (p->stopping) {
    pthread_mutex_unlock(&p->mu);
    rc = mef3__error(MEF3_ECANCELED, "the pool is shutting down");
    goto fail;
  }
  j->id = ++p->next_id;
  body_head(&j->body, MEF3__MSG_TILES, j->id, &f->region, 0, f->region.len);
  body_file_locked(p, &j->body, path);
  mef3__buf_str(&j->body, channel);
  mef3__buf_f64(&j->body, fs);
  mef3__buf_u64(&j->body, (uint64_t)cs);
  mef3__buf_u64(&j->body, (uint64_t)S);
  mef3__buf_u32(&j->body, (uint32_t)n);
  for (size_t i = 0; i < n; i++)
    mef3__buf_u64(&j->body, (uint64_t)blocks[i]);
  if (j->body.oom || mef3__service_start_locked(p) != 0) {
    pthread_mutex_unlock(&p->mu);
    rc = j->body.oom ? mef3__error(MEF3_ENOMEM, "out of memory") : MEF3_ELIMIT;
    goto fail;
  }
  f->parts_left = 1;
  mef3__enqueue_locked(p, j);
  p->st.requests++;
  pthread_mutex_unlock(&p->mu);
  mef3__pool_wake(p->wake_fd);
  *out = f;
  return 0;
fail:
  mef3__job_free(j);
  mef3__future_discard(f);
  return rc == MEF3_ENOMEM ? mef3__error(rc, "out of memory") : rc;
}
