/*
 * files/tile_cache.h - the tile cache of the file manager (internal).
 *
 * One table maps (file id, channel index, tile index) to a tile: a
 * float32 array of S samples.  A tile is either LOADING (a placeholder: one
 * thread or one prefetch request decodes it, everyone else who needs it
 * waits on it instead of decoding it again), READY (its samples are set
 * once and never change) or FAILED (its loader gave up; a waiter then
 * claims it again).  READY tiles in the table sit on an LRU list by last
 * access and count against a byte budget.
 *
 * Lifetime: a tile is reference counted.  The table holds one reference
 * while the tile is in it; every caller that acquires, claims or waits for
 * a tile holds one (a "pin") until it calls mef3__tcache_unpin.  Eviction,
 * expiry and file drops only take tiles out of the table: a pinned tile's
 * samples stay valid until its last pin goes, so samples are copied out
 * with no lock held.
 *
 * Files: tiles can only be cached for file ids registered with
 * mef3__tcache_file_add and not yet dropped.  A claim for an unknown file
 * gives a private placeholder (decoded, handed to the waiters it has,
 * never cached), so a file closed during a read leaves nothing behind.
 *
 * Threads: every function may be called from any thread; one mutex guards
 * the table and is never held across a decode, a copy of samples, or a
 * call out of this module.
 */
#ifndef MEF3_FILES_TILE_CACHE_H
#define MEF3_FILES_TILE_CACHE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "mef3pool/files.h"

typedef enum {
  MEF3__TILE_LOADING = 0,
  MEF3__TILE_READY = 1,
  MEF3__TILE_FAILED = 2
} mef3__tile_state;

/*
 * Who is loading a tile, when it is not a reader thread: the first member
 * of a prefetch request.  The cache takes a reference (refs + 1) when it
 * hands an owner to a reader that wants to cancel it; the owner's code
 * drops it.  An owner is alive while any tile it loads is LOADING.
 */
typedef struct mef3__tile_owner {
  atomic_int refs;
} mef3__tile_owner;

typedef struct mef3__tile {
  /* key */
  uint64_t file;
  uint32_t ch;
  int64_t idx;
  /* under the cache lock */
  struct mef3__tile *hnext;       /* hash chain */
  struct mef3__tile *prev, *next; /* LRU list (READY and hashed only) */
  int refs;
  uint8_t state;
  uint8_t hashed;
  uint8_t linked;
  uint8_t prefetched; /* loaded by prefetch and not read since */
  int64_t atime_ms;
  mef3__tile_owner *owner; /* NULL: a reader thread loads it */
  /* set once when it becomes READY, read-only afterwards */
  float *data;
  size_t n;
} mef3__tile;

typedef struct mef3__tcache_key {
  uint64_t file;
  uint32_t ch;
  int64_t idx;
} mef3__tcache_key;

/* What mef3__tcache_acquire found for one key. */
typedef enum {
  MEF3__ACQ_HIT = 0,     /* READY: copy it */
  MEF3__ACQ_CLAIMED = 1, /* absent: the caller loads it (publish or fail) */
  MEF3__ACQ_WAIT = 2     /* LOADING by someone else: wait for it */
} mef3__acq;

typedef struct mef3__tcache {
  pthread_mutex_t mu;
  pthread_cond_t cv; /* a tile left LOADING */
  mef3__tile **buckets;
  size_t nb;       /* power of two */
  size_t count;    /* tiles in the table (any state) */
  mef3__tile lru;  /* sentinel: lru.next is the most recently used */
  uint64_t *files; /* live file ids, sorted */
  size_t n_files, cap_files;
  int64_t budget;
  int64_t ttl_ms; /* 0: no expiry */
  mef3_clock_fn clock;
  void *clock_payload;
  /* counters (under mu) */
  uint64_t bytes, tiles;
  uint64_t hits, misses, waits;
  uint64_t evictions, expirations, dropped;
  uint64_t prefetched, prefetch_used, prefetch_wasted;
} mef3__tcache;

/* The default clock: CLOCK_MONOTONIC in milliseconds. */
int64_t mef3__monotonic_ms(void *payload);

/* Set up an empty cache.  budget > 0; ttl_ms 0 disables expiry; clock
 * NULL is mef3__monotonic_ms.  Returns 0, MEF3_EINVAL or MEF3_ENOMEM. */
int mef3__tcache_init(mef3__tcache *c, int64_t budget, int64_t ttl_ms,
                      mef3_clock_fn clock, void *clock_payload);

/* Free every tile (none may be pinned any more) and the table. */
void mef3__tcache_dispose(mef3__tcache *c);

/* Register a file id: its tiles may be cached from now on. */
int mef3__tcache_file_add(mef3__tcache *c, uint64_t file);

/* Unregister a file id and drop its tiles: READY ones leave the table
 * (counted as `dropped`), LOADING ones are orphaned (their loader and
 * waiters still get them, the table no more).  Returns tiles dropped. */
size_t mef3__tcache_file_drop(mef3__tcache *c, uint64_t file);

/*
 * For each of `n` keys: a READY tile is a hit (touched: most recently
 * used, access time now), a LOADING one is a wait (`owners[i]` receives
 * its owner with a reference taken, or NULL), an absent one is claimed:
 * a LOADING placeholder owned by the caller (`owner`, NULL for a reader).
 * Every tile returned in `out[i]` is pinned.  `count_stats`: count hits,
 * misses and waits (reads do, prefetch does not).  `owners` may be NULL.
 * Returns 0 or MEF3_ENOMEM (then nothing is pinned or claimed).
 */
int mef3__tcache_acquire(mef3__tcache *c, const mef3__tcache_key *keys,
                         size_t n, mef3__tile_owner *owner, mef3__tile **out,
                         mef3__acq *acq, mef3__tile_owner **owners,
                         int count_stats);

/*
 * For prefetch: claim every key that is neither cached nor in flight and
 * whose file is live, with `owner`; claimed tiles are pinned and listed in
 * `out` (`*n_out` of them, `which` receives their key indices).  Cached
 * tiles are left untouched (their LRU place does not change).
 */
int mef3__tcache_claim(mef3__tcache *c, const mef3__tcache_key *keys, size_t n,
                       mef3__tile_owner *owner, mef3__tile **out, size_t *which,
                       size_t *n_out);

/*
 * A claimed tile is loaded: `data` (n floats, from mef3__malloc) now
 * belongs to the tile.  In the table it becomes most recently used and
 * counts against the budget, least recently used tiles leaving until the
 * budget holds; a tile larger than the whole budget leaves the table
 * instead (evicting nothing).  The caller's pin stays.
 */
void mef3__tcache_publish(mef3__tcache *c, mef3__tile *t, float *data, size_t n,
                          int prefetched);

/* A claimed tile could not be loaded: it leaves the table and its waiters
 * wake up to claim it again.  The caller's pin stays. */
void mef3__tcache_fail(mef3__tcache *c, mef3__tile *t);

/* Wait until `t` is no longer LOADING; returns its state.  A READY tile
 * loaded by prefetch counts as a prefetched tile used. */
mef3__tile_state mef3__tcache_wait(mef3__tcache *c, mef3__tile *t);

/* Drop a pin (NULL is fine). */
void mef3__tcache_unpin(mef3__tcache *c, mef3__tile *t);

/* Drop tiles not touched for the TTL; returns how many. */
size_t mef3__tcache_expire(mef3__tcache *c);

/* 1 when the key is READY in the table (does not touch it). */
int mef3__tcache_contains(mef3__tcache *c, const mef3__tcache_key *key);

/* Add to the read counters (callers that acquire with count_stats 0
 * count each tile once, by how it was finally obtained). */
void mef3__tcache_count(mef3__tcache *c, uint64_t hits, uint64_t misses,
                        uint64_t waits);

/* Counters into the cache fields of `out`. */
void mef3__tcache_stats(mef3__tcache *c, mef3_files_stats *out);

#endif
