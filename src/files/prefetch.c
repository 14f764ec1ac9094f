/*
 * files/prefetch.c - loading the windows around a read in the background.
 *
 * A read hands the tiles ahead and behind it here, nearest first, as
 * groups: one tile index of channels that share their start, rate and
 * tile size.  They are claimed in the tile cache (tiles cached or in
 * flight are skipped, cached ones keep their LRU place) in requests of a
 * few channels each (so a read can take back part of a group), each
 * request the owner of its tiles in the cache.  A request goes either
 *   - to the prefetch pool (a lane of its own, so it never takes a worker
 *     a read needs) as one window read of its channels over the tile's
 *     time window - which is exactly the tile, since that window holds S
 *     samples - or as a tiles request for a single channel; its
 *     done-callback, on the pool's service thread, copies the tiles out of
 *     shared memory into the cache; or
 *   - with the process pool off (or not startable), to a queue served by
 *     a few threads decoding in process with leased readers.
 *
 * Taking tiles back.  A read that needs tiles some requests are loading
 * decides which to wait for and which to take back (files.c,
 * plan_steals): it keeps those the prefetch lane will have finished by
 * the time the read's own lane has decoded the rest, and asks for the
 * others (mef3__prefetch_steal): a request still queued is canceled - its
 * tiles fail, and the read claims and decodes them itself - while one
 * already being decoded is waited for.  A request is submitted after
 * its tiles are claimed, so a steal can arrive before it is in a queue:
 * it then sets cancel_req, which the scheduler checks once the request is
 * queued (both sides write, then read the other's flag, so at least one
 * sees it).
 *
 * Lifetime.  A request is reference counted: one reference until it has
 * completed (its tiles published or failed), one for the scheduler until
 * it is done submitting, and one per read holding it for a steal (the
 * cache hands those out while the request's tiles are LOADING, which its
 * completion reference guarantees is alive).  The last one frees the
 * pool future and drops the request's file reference.
 *
 * Failures are logged (cancellations at debug level) and counted, never
 * returned: prefetch is best effort.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files/files_impl.h"
#include "util/alloc.h"

static void pf_unref(pfreq *r) {
  if (atomic_fetch_sub(&r->owner.refs, 1) != 1)
    return;
  mef3_future_free(atomic_load(&r->fut));
  mef3__mfile_unref(r->file);
  mef3__free(r);
}

void mef3__prefetch_owner_unref(mef3__tile_owner *owner) {
  pf_unref((pfreq *)owner);
}

/* The end of a request: unpin its tiles (each already published or
 * failed), update the counters, drop the completion reference. */
static void pf_finish(pfreq *r, size_t failed) {
  mef3_files *fm = r->fm;
  int64_t bytes =
      (int64_t)r->n * r->file->ch[r->ch[0]].S * (int64_t)sizeof(float);
  for (size_t i = 0; i < r->n; i++)
    mef3__tcache_unpin(&fm->cache, r->tiles[i]);
  if (failed)
    atomic_fetch_add(&fm->prefetch_failed, failed);
  atomic_fetch_add(&fm->pf_completed, r->n);
  pthread_mutex_lock(&fm->pf_mu);
  fm->pf_outstanding--;
  fm->pf_bytes -= bytes;
  if (fm->pf_outstanding == 0)
    pthread_cond_broadcast(&fm->pf_cv);
  pthread_mutex_unlock(&fm->pf_mu);
  pf_unref(r);
}

static void pf_log_failure(pfreq *r, int status, const char *msg) {
  const fchan *c = &r->file->ch[r->ch[0]];
  mef3__files_log(r->fm,
                  status == MEF3_ECANCELED ? MEF3_LOG_DEBUG : MEF3_LOG_ERROR,
                  "prefetch of %s tile %lld of %zu channels (%s...) %s: %s",
                  r->file->real, (long long)r->b, r->n, c->name,
                  status == MEF3_ECANCELED ? "canceled" : "failed", msg);
}

/* Fail every tile of a request that did not run (or failed) and finish. */
static void pf_fail_all(pfreq *r, int status, const char *msg) {
  for (size_t i = 0; i < r->n; i++)
    mef3__tcache_fail(&r->fm->cache, r->tiles[i]);
  pf_log_failure(r, status, msg);
  pf_finish(r, r->n);
}

/* Done-callback of a pool request (the pool's service thread, or the
 * thread that canceled it): its tiles into the cache. */
static void pool_done(mef3_future *f, void *payload) {
  pfreq *r = payload;
  size_t failed = 0;
  if (mef3__lane_publish(r->fm, r->file, f, r->n, r->ch, r->tiles, 1,
                         &failed)) {
    pf_fail_all(r, mef3_error_last()->code, mef3_error_last()->message);
    return;
  }
  if (failed)
    pf_log_failure(r, MEF3_ENOMEM, "out of memory");
  pf_finish(r, failed);
}

/* Decode a request in process (a prefetch thread). */
static void run_local(pfreq *r) {
  mef3_reader *rd = NULL;
  int rc = mef3__lane_check(r->file);
  if (!rc)
    rc = mef3__mfile_lease(r->file, &rd);
  if (rc) {
    pf_fail_all(r, rc, mef3_error_last()->message);
    return;
  }
  size_t failed = 0;
  int first = 0;
  char msg[512] = "";
  for (size_t i = 0; i < r->n; i++) {
    int trc = mef3__lane_decode_tile(r->fm, rd, r->file, r->ch[i], r->b,
                                     r->tiles[i], 1);
    if (trc) {
      if (!first) {
        first = trc;
        snprintf(msg, sizeof msg, "%s", mef3_error_last()->message);
      }
      mef3__tcache_fail(&r->fm->cache, r->tiles[i]);
      failed++;
    }
  }
  mef3__mfile_release(r->file, rd);
  if (failed)
    pf_log_failure(r, first, msg);
  pf_finish(r, failed);
}

static void *thread_main(void *arg) {
  mef3_files *fm = arg;
  pthread_mutex_lock(&fm->pf_mu);
  for (;;) {
    while (!fm->q_head && !fm->pf_stop)
      pthread_cond_wait(&fm->pf_cv, &fm->pf_mu);
    if (fm->pf_stop)
      break;
    pfreq *r = fm->q_head;
    fm->q_head = r->qnext;
    if (!fm->q_head)
      fm->q_tail = NULL;
    r->queued = 0;
    pthread_mutex_unlock(&fm->pf_mu);
    run_local(r);
    pthread_mutex_lock(&fm->pf_mu);
  }
  pthread_mutex_unlock(&fm->pf_mu);
  return NULL;
}

/* Queue a request for the threads (starting them at first use). */
static void enqueue_local(mef3_files *fm, pfreq *r) {
  pthread_mutex_lock(&fm->pf_mu);
  if (!fm->threads && !fm->pf_stop) {
    fm->threads =
        mef3__calloc((size_t)fm->o.prefetch_threads, sizeof *fm->threads);
    for (int i = 0; fm->threads && i < fm->o.prefetch_threads; i++) {
      if (pthread_create(&fm->threads[i], NULL, thread_main, fm) != 0)
        break;
      fm->n_threads++;
    }
  }
  int ok = fm->n_threads > 0 && !fm->pf_stop && !atomic_load(&r->cancel_req);
  if (ok) {
    r->qnext = NULL;
    r->queued = 1;
    if (fm->q_tail)
      fm->q_tail->qnext = r;
    else
      fm->q_head = r;
    fm->q_tail = r;
    pthread_cond_broadcast(&fm->pf_cv);
  }
  pthread_mutex_unlock(&fm->pf_mu);
  if (!ok)
    pf_fail_all(r, MEF3_ECANCELED,
                fm->n_threads ? "taken back by a read or shut down"
                              : "no prefetch thread could start");
}

/* Submit a claimed request to the prefetch pool. */
static void submit_pool(mef3_pool *pool, pfreq *r) {
  mef3_future *fut = NULL;
  int rc = mef3__lane_check(r->file); /* replaced since its open? */
  if (!rc)
    rc = mef3__lane_submit(pool, r->file, r->n, r->ch, &r->b, &fut);
  if (rc) {
    pf_fail_all(r, mef3_error_last()->code, mef3_error_last()->message);
    return;
  }
  atomic_store(&r->fut, fut);
  mef3_future_on_done(fut, pool_done, r); /* may run at once */
  if (atomic_load(&r->cancel_req))
    mef3_future_cancel(fut); /* a read asked meanwhile */
}

void mef3__prefetch_schedule(mef3_files *fm, mfile *f, int64_t b,
                             const size_t *chs, size_t n) {
  const fchan *c = &f->ch[chs[0]];
  int64_t tile_bytes = c->S * (int64_t)sizeof(float);
  mef3_pool *pool = mef3__files_pool(fm, 1); /* NULL: the thread lane */
  /* Requests of a few channels: every prefetch worker gets some, and a
   * read can take back the part still queued. */
  size_t lanes = pool ? (size_t)fm->pf_workers : (size_t)fm->o.prefetch_threads;
  size_t per = (n + 2 * lanes - 1) / (2 * lanes);
  if (per < 1)
    per = 1;
  if (per > PF_MAX_TILES)
    per = PF_MAX_TILES;
  if (per > mef3__req_max_tiles(c->S))
    per = mef3__req_max_tiles(c->S);
  mef3__tcache_key keys[PF_MAX_TILES];
  size_t which[PF_MAX_TILES];
  for (size_t at = 0; at < n; at += per) {
    size_t m = n - at < per ? n - at : per;
    /* Keep what is in flight within half the budget: prefetch that could
     * not stay cached until it is read only evicts what will be. */
    pthread_mutex_lock(&fm->pf_mu);
    int full =
        fm->pf_bytes + (int64_t)m * tile_bytes > fm->o.tile_cache_bytes / 2;
    pthread_mutex_unlock(&fm->pf_mu);
    if (full) {
      mef3__files_log(fm, MEF3_LOG_DEBUG,
                      "prefetch of %s tile %lld skipped: half the cache "
                      "budget is in flight",
                      f->real, (long long)b);
      return;
    }
    pfreq *r = mef3__calloc(1, sizeof *r);
    if (!r) {
      mef3__files_log(fm, MEF3_LOG_ERROR, "prefetch: out of memory");
      return;
    }
    atomic_init(&r->owner.refs, 2); /* completion + this scheduler */
    atomic_init(&r->tiles_end, UINT64_MAX);
    r->fm = fm;
    r->file = f;
    r->b = b;
    r->lane_pool = pool != NULL; /* before the claim publishes r */
    for (size_t i = 0; i < m; i++)
      keys[i] = (mef3__tcache_key){f->id, (uint32_t)chs[at + i], b};
    size_t got = 0;
    if (mef3__tcache_claim(&fm->cache, keys, m, &r->owner, r->tiles, which,
                           &got) != 0 ||
        got == 0) {
      mef3__free(r);
      continue; /* all cached or in flight (or no memory: best effort) */
    }
    atomic_fetch_add(&f->refs, 1);
    r->n = got;
    for (size_t i = 0; i < got; i++)
      r->ch[i] = chs[at + which[i]];
    pthread_mutex_lock(&fm->pf_mu);
    fm->pf_outstanding++;
    fm->pf_bytes += (int64_t)got * tile_bytes;
    fm->pf_submitted += got;
    atomic_store(&r->tiles_end, fm->pf_submitted);
    pthread_mutex_unlock(&fm->pf_mu);
    if (pool)
      submit_pool(pool, r);
    else
      enqueue_local(fm, r);
    pf_unref(r);
  }
}

int mef3__prefetch_steal(mef3_files *fm, mef3__tile_owner *owner) {
  pfreq *r = (pfreq *)owner;
  atomic_store(&r->cancel_req, 1);
  int rc = -1;
  mef3_future *fut = atomic_load(&r->fut);
  if (fut) {
    mef3_error saved = *mef3_error_last();
    /* Queued: canceled now, its callback (pool_done) runs right here and
     * fails the tiles.  Running or done: wait for it instead. */
    rc = mef3_future_cancel(fut) == 0 ? 0 : -1;
    if (rc)
      mef3__error(saved.code, "%s", saved.message);
  } else if (!r->lane_pool) {
    pthread_mutex_lock(&fm->pf_mu);
    int was = r->queued;
    if (was) {
      pfreq **pp = &fm->q_head, *prev = NULL;
      while (*pp && *pp != r) {
        prev = *pp;
        pp = &(*pp)->qnext;
      }
      if (*pp) {
        *pp = r->qnext;
        if (fm->q_tail == r)
          fm->q_tail = prev;
      }
      r->queued = 0;
    }
    pthread_mutex_unlock(&fm->pf_mu);
    if (was) {
      pf_fail_all(r, MEF3_ECANCELED, "taken back by a read");
      rc = 0;
    }
  }
  pf_unref(r);
  return rc;
}

void mef3__prefetch_stop_threads(mef3_files *fm) {
  pthread_mutex_lock(&fm->pf_mu);
  fm->pf_stop = 1;
  pfreq *q = fm->q_head;
  fm->q_head = fm->q_tail = NULL;
  for (pfreq *r = q; r; r = r->qnext)
    r->queued = 0;
  pthread_cond_broadcast(&fm->pf_cv);
  pthread_mutex_unlock(&fm->pf_mu);
  for (pfreq *r = q, *nx; r; r = nx) {
    nx = r->qnext;
    pf_fail_all(r, MEF3_ECANCELED, "the file manager is shutting down");
  }
  for (int i = 0; i < fm->n_threads; i++)
    pthread_join(fm->threads[i], NULL);
  mef3__free(fm->threads);
  fm->threads = NULL;
  fm->n_threads = 0;
}

void mef3__files_prefetch_wait(mef3_files *fm) {
  pthread_mutex_lock(&fm->pf_mu);
  while (fm->pf_outstanding > 0)
    pthread_cond_wait(&fm->pf_cv, &fm->pf_mu);
  pthread_mutex_unlock(&fm->pf_mu);
}

/* ---- planning: which tiles around a read ---- */

/* Tiles of [ta, tb) on channel c's grid: first and last index. */
static int range_tiles(const fchan *c, int64_t ta, int64_t tb, int64_t *ba,
                       int64_t *bb) {
  double ia = (double)mef3__files_slot(ta, c->cs, c->fs);
  double ib = (double)mef3__files_slot(tb, c->cs, c->fs);
  if (!(fabs(ia) < 4e18) || !(fabs(ib) < 4e18) || ib <= ia)
    return 0;
  *ba = mef3__floordiv((int64_t)ia, c->S);
  *bb = mef3__floordiv((int64_t)ib - 1, c->S);
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
void mef3__prefetch_around(mef3_files *fm, mfile *f, const mef3__span *sp,
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
      if (!mef3__fchan_cmp(&f->ch[sp[u].ch], &f->ch[sp[v].ch])) {
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
