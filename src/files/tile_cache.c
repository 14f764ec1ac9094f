/*
 * files/tile_cache.c - the tile cache: a chained hash table of reference
 * counted tiles, an intrusive LRU list, a byte budget and idle expiry.
 *
 * Everything happens under one mutex, held only for table and list
 * updates: tiles are decoded and copied by the callers, outside it.  The
 * table's own reference and every caller's pin are counted in `refs`; the
 * last one frees the samples.  A tile leaves the LRU list (and the byte
 * count) whenever it leaves the table, so `bytes` is exactly the sum of
 * the READY tiles a later read could find.
 *
 * The condition variable is shared by all tiles: loads finish rarely
 * compared to lookups, and a waiter re-checks its own tile on wake-up.
 */
#include "files/tile_cache.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/error.h"
#include "util/alloc.h"

int64_t mef3__monotonic_ms(void *payload) {
  (void)payload;
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static uint64_t mix(uint64_t x) { /* splitmix64 finalizer */
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

static size_t slot_of(const mef3__tcache *c, uint64_t file, uint32_t ch,
                      int64_t idx) {
  uint64_t h = mix(file * 0x9e3779b97f4a7c15ull ^
                   mix((uint64_t)ch << 40 ^ (uint64_t)idx));
  return (size_t)(h & (c->nb - 1));
}

static int64_t now_ms(mef3__tcache *c) {
  return c->clock(c->clock_payload);
}

int mef3__tcache_init(mef3__tcache *c, int64_t budget, int64_t ttl_ms,
                      mef3_clock_fn clock, void *clock_payload) {
  memset(c, 0, sizeof *c);
  if (budget <= 0)
    return mef3__error(MEF3_EINVAL,
                       "tile cache budget must be positive "
                       "(got %lld bytes)",
                       (long long)budget);
  c->nb = 1024;
  c->buckets = mef3__calloc(c->nb, sizeof *c->buckets);
  if (!c->buckets)
    return mef3__error(MEF3_ENOMEM, "out of memory");
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  if (pthread_mutex_init(&c->mu, NULL) || pthread_cond_init(&c->cv, &ca)) {
    pthread_condattr_destroy(&ca);
    mef3__free(c->buckets);
    return mef3__error(MEF3_ENOMEM, "cannot create the cache lock");
  }
  pthread_condattr_destroy(&ca);
  c->lru.next = c->lru.prev = &c->lru;
  c->budget = budget;
  c->ttl_ms = ttl_ms > 0 ? ttl_ms : 0;
  c->clock = clock ? clock : mef3__monotonic_ms;
  c->clock_payload = clock_payload;
  return 0;
}

static void tile_free(mef3__tile *t) {
  mef3__free(t->data);
  mef3__free(t);
}

void mef3__tcache_dispose(mef3__tcache *c) {
  if (!c->buckets)
    return;
  for (size_t i = 0; i < c->nb; i++)
    for (mef3__tile *t = c->buckets[i], *nx; t; t = nx) {
      nx = t->hnext;
      tile_free(t); /* no pins may remain when the manager goes */
    }
  mef3__free(c->buckets);
  mef3__free(c->files);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->cv);
  memset(c, 0, sizeof *c);
}

/* ---- live files (a sorted array: a handful of open files) ---- */

static int file_pos_locked(const mef3__tcache *c, uint64_t file, size_t *pos) {
  size_t lo = 0, hi = c->n_files;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (c->files[mid] < file)
      lo = mid + 1;
    else
      hi = mid;
  }
  *pos = lo;
  return lo < c->n_files && c->files[lo] == file;
}

int mef3__tcache_file_add(mef3__tcache *c, uint64_t file) {
  pthread_mutex_lock(&c->mu);
  size_t pos;
  int rc = 0;
  if (!file_pos_locked(c, file, &pos)) {
    if (c->n_files == c->cap_files) {
      size_t nc = c->cap_files ? c->cap_files * 2 : 16;
      uint64_t *nf = mef3__realloc(c->files, nc * sizeof *nf);
      if (!nf) {
        pthread_mutex_unlock(&c->mu);
        return mef3__error(MEF3_ENOMEM, "out of memory");
      }
      c->files = nf;
      c->cap_files = nc;
    }
    memmove(c->files + pos + 1, c->files + pos,
            (c->n_files - pos) * sizeof *c->files);
    c->files[pos] = file;
    c->n_files++;
  }
  pthread_mutex_unlock(&c->mu);
  return rc;
}

/* ---- table and list ---- */

static void lru_unlink_locked(mef3__tcache *c, mef3__tile *t) {
  if (!t->linked)
    return;
  t->prev->next = t->next;
  t->next->prev = t->prev;
  t->prev = t->next = NULL;
  t->linked = 0;
  c->bytes -= t->n * sizeof(float);
  c->tiles--;
}

static void lru_front_locked(mef3__tcache *c, mef3__tile *t) {
  if (t->linked) {
    t->prev->next = t->next;
    t->next->prev = t->prev;
  } else {
    c->bytes += t->n * sizeof(float);
    c->tiles++;
    t->linked = 1;
  }
  t->next = c->lru.next;
  t->prev = &c->lru;
  c->lru.next->prev = t;
  c->lru.next = t;
}

static void unref_locked(mef3__tile *t) {
  if (--t->refs == 0)
    tile_free(t);
}

/* Take `t` out of the table (and the list); drops the table's reference. */
static void unhash_locked(mef3__tcache *c, mef3__tile *t) {
  if (!t->hashed)
    return;
  mef3__tile **pp = &c->buckets[slot_of(c, t->file, t->ch, t->idx)];
  while (*pp && *pp != t)
    pp = &(*pp)->hnext;
  if (*pp)
    *pp = t->hnext;
  t->hnext = NULL;
  t->hashed = 0;
  c->count--;
  lru_unlink_locked(c, t);
  if (t->prefetched) {
    c->prefetch_wasted++;
    t->prefetched = 0;
  }
  unref_locked(t);
}

static mef3__tile *find_locked(const mef3__tcache *c, uint64_t file,
                               uint32_t ch, int64_t idx) {
  for (mef3__tile *t = c->buckets[slot_of(c, file, ch, idx)]; t; t = t->hnext)
    if (t->file == file && t->ch == ch && t->idx == idx)
      return t;
  return NULL;
}

static void grow_locked(mef3__tcache *c) {
  if (c->count < c->nb)
    return;
  size_t nb = c->nb * 2;
  mef3__tile **nbk = mef3__calloc(nb, sizeof *nbk);
  if (!nbk)
    return; /* longer chains, still correct */
  mef3__tile **old = c->buckets;
  size_t onb = c->nb;
  c->buckets = nbk;
  c->nb = nb;
  for (size_t i = 0; i < onb; i++)
    for (mef3__tile *t = old[i], *nx; t; t = nx) {
      nx = t->hnext;
      size_t s = slot_of(c, t->file, t->ch, t->idx);
      t->hnext = nbk[s];
      nbk[s] = t;
    }
  mef3__free(old);
}

/* A new LOADING placeholder, pinned by the caller; in the table when its
 * file is live.  NULL when out of memory. */
static mef3__tile *claim_locked(mef3__tcache *c, const mef3__tcache_key *k,
                                mef3__tile_owner *owner) {
  mef3__tile *t = mef3__calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->file = k->file;
  t->ch = k->ch;
  t->idx = k->idx;
  t->state = MEF3__TILE_LOADING;
  t->owner = owner;
  t->refs = 1;
  size_t pos;
  if (file_pos_locked(c, k->file, &pos)) {
    grow_locked(c);
    size_t s = slot_of(c, k->file, k->ch, k->idx);
    t->hnext = c->buckets[s];
    c->buckets[s] = t;
    t->hashed = 1;
    t->refs++;
    c->count++;
  }
  return t;
}

static void touch_locked(mef3__tcache *c, mef3__tile *t, int64_t now) {
  t->atime_ms = now;
  if (t->hashed && t->state == MEF3__TILE_READY)
    lru_front_locked(c, t);
  if (t->prefetched) {
    t->prefetched = 0;
    c->prefetch_used++;
  }
}

int mef3__tcache_acquire(mef3__tcache *c, const mef3__tcache_key *keys,
                         size_t n, mef3__tile_owner *owner, mef3__tile **out,
                         mef3__acq *acq, mef3__tile_owner **owners,
                         int count_stats) {
  pthread_mutex_lock(&c->mu);
  int64_t now = now_ms(c);
  size_t i;
  for (i = 0; i < n; i++) {
    const mef3__tcache_key *k = &keys[i];
    mef3__tile *t = find_locked(c, k->file, k->ch, k->idx);
    if (owners)
      owners[i] = NULL;
    if (t && t->state == MEF3__TILE_READY) {
      t->refs++;
      touch_locked(c, t, now);
      acq[i] = MEF3__ACQ_HIT;
      c->hits += count_stats != 0;
    } else if (t && t->state == MEF3__TILE_LOADING) {
      t->refs++;
      acq[i] = MEF3__ACQ_WAIT;
      c->waits += count_stats != 0;
      if (owners && t->owner) {
        atomic_fetch_add(&t->owner->refs, 1);
        owners[i] = t->owner;
      }
    } else {
      /* FAILED tiles are never in the table: absent */
      t = claim_locked(c, k, owner);
      if (!t)
        break;
      acq[i] = MEF3__ACQ_CLAIMED;
      c->misses += count_stats != 0;
    }
    out[i] = t;
  }
  if (i < n) { /* out of memory: undo */
    for (size_t j = 0; j < i; j++) {
      if (acq[j] == MEF3__ACQ_CLAIMED) {
        out[j]->state = MEF3__TILE_FAILED;
        unhash_locked(c, out[j]);
        c->misses -= count_stats != 0;
      } else if (acq[j] == MEF3__ACQ_HIT) {
        c->hits -= count_stats != 0;
      } else {
        c->waits -= count_stats != 0;
        if (owners && owners[j])
          atomic_fetch_sub(&owners[j]->refs, 1); /* never the last */
      }
      unref_locked(out[j]);
      out[j] = NULL;
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return mef3__error(MEF3_ENOMEM, "out of memory");
  }
  pthread_mutex_unlock(&c->mu);
  return 0;
}

int mef3__tcache_claim(mef3__tcache *c, const mef3__tcache_key *keys, size_t n,
                       mef3__tile_owner *owner, mef3__tile **out, size_t *which,
                       size_t *n_out) {
  *n_out = 0;
  pthread_mutex_lock(&c->mu);
  size_t pos;
  for (size_t i = 0; i < n; i++) {
    const mef3__tcache_key *k = &keys[i];
    if (!file_pos_locked(c, k->file, &pos))
      continue; /* closed meanwhile: nothing to prefetch */
    if (find_locked(c, k->file, k->ch, k->idx))
      continue; /* cached or in flight */
    mef3__tile *t = claim_locked(c, k, owner);
    if (!t) {
      pthread_mutex_unlock(&c->mu);
      return mef3__error(MEF3_ENOMEM, "out of memory");
    }
    out[*n_out] = t;
    which[*n_out] = i;
    (*n_out)++;
  }
  pthread_mutex_unlock(&c->mu);
  return 0;
}

static void evict_to_budget_locked(mef3__tcache *c, mef3__tile *keep) {
  while ((int64_t)c->bytes > c->budget && c->lru.prev != &c->lru) {
    mef3__tile *t = c->lru.prev;
    if (t == keep) /* cannot happen: keep fits the budget on its own */
      break;
    unhash_locked(c, t);
    c->evictions++;
  }
}

void mef3__tcache_publish(mef3__tcache *c, mef3__tile *t, float *data, size_t n,
                          int prefetched) {
  pthread_mutex_lock(&c->mu);
  t->data = data;
  t->n = n;
  t->state = MEF3__TILE_READY;
  t->owner = NULL;
  t->atime_ms = now_ms(c);
  if (prefetched)
    c->prefetched++;
  if (t->hashed) {
    if ((int64_t)(n * sizeof(float)) > c->budget) {
      /* Can never fit: do not empty the cache for it. */
      unhash_locked(c, t);
    } else {
      t->prefetched = prefetched != 0;
      lru_front_locked(c, t);
      evict_to_budget_locked(c, t);
    }
  }
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

void mef3__tcache_fail(mef3__tcache *c, mef3__tile *t) {
  pthread_mutex_lock(&c->mu);
  t->state = MEF3__TILE_FAILED;
  t->owner = NULL;
  unhash_locked(c, t);
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

mef3__tile_state mef3__tcache_wait(mef3__tcache *c, mef3__tile *t) {
  pthread_mutex_lock(&c->mu);
  while (t->state == MEF3__TILE_LOADING)
    pthread_cond_wait(&c->cv, &c->mu);
  mef3__tile_state st = (mef3__tile_state)t->state;
  if (st == MEF3__TILE_READY)
    touch_locked(c, t, now_ms(c));
  pthread_mutex_unlock(&c->mu);
  return st;
}

void mef3__tcache_unpin(mef3__tcache *c, mef3__tile *t) {
  if (!t)
    return;
  pthread_mutex_lock(&c->mu);
  unref_locked(t);
  pthread_mutex_unlock(&c->mu);
}

size_t mef3__tcache_file_drop(mef3__tcache *c, uint64_t file) {
  size_t n = 0;
  pthread_mutex_lock(&c->mu);
  size_t pos;
  if (file_pos_locked(c, file, &pos)) {
    memmove(c->files + pos, c->files + pos + 1,
            (c->n_files - pos - 1) * sizeof *c->files);
    c->n_files--;
  }
  for (size_t i = 0; i < c->nb; i++) {
    mef3__tile *t = c->buckets[i];
    while (t) {
      mef3__tile *nx = t->hnext;
      if (t->file == file) {
        n += t->state == MEF3__TILE_READY;
        c->dropped += t->state == MEF3__TILE_READY;
        unhash_locked(c, t);
      }
      t = nx;
    }
  }
  pthread_mutex_unlock(&c->mu);
  return n;
}

size_t mef3__tcache_expire(mef3__tcache *c) {
  size_t n = 0;
  pthread_mutex_lock(&c->mu);
  if (c->ttl_ms > 0) {
    int64_t cutoff = now_ms(c) - c->ttl_ms;
    /* The list is in access order: the idle tiles are at its tail.  A
     * tile is idle when its last access is before the cutoff. */
    while (c->lru.prev != &c->lru && c->lru.prev->atime_ms < cutoff) {
      unhash_locked(c, c->lru.prev);
      c->expirations++;
      n++;
    }
  }
  pthread_mutex_unlock(&c->mu);
  return n;
}

int mef3__tcache_contains(mef3__tcache *c, const mef3__tcache_key *k) {
  pthread_mutex_lock(&c->mu);
  mef3__tile *t = find_locked(c, k->file, k->ch, k->idx);
  int yes = t && t->state == MEF3__TILE_READY;
  pthread_mutex_unlock(&c->mu);
  return yes;
}

void mef3__tcache_count(mef3__tcache *c, uint64_t hits, uint64_t misses,
                        uint64_t waits) {
  pthread_mutex_lock(&c->mu);
  c->hits += hits;
  c->misses += misses;
  c->waits += waits;
  pthread_mutex_unlock(&c->mu);
}

void mef3__tcache_stats(mef3__tcache *c, mef3_files_stats *out) {
  pthread_mutex_lock(&c->mu);
  out->hits = c->hits;
  out->misses = c->misses;
  out->waits = c->waits;
  out->bytes = c->bytes;
  out->tiles = c->tiles;
  out->evictions = c->evictions;
  out->expirations = c->expirations;
  out->prefetched = c->prefetched;
  out->prefetch_used = c->prefetch_used;
  out->prefetch_wasted = c->prefetch_wasted;
  pthread_mutex_unlock(&c->mu);
}
