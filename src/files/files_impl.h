/*
 * files/files_impl.h - the file manager's internals, shared by its files
 * (files.c lists them).  Not installed; tests
 * and benchmarks use the few hooks at the end.
 *
 * Locks, in the order they may be taken (never the other way round):
 *   pools_mu  - creating the pools, passwords in the pools, the files map
 *               on open and close (so a close and a re-open of one file
 *               cannot interleave their password updates);
 *   mu        - the files and alias maps, counters;
 *   file->rmu - a file's idle readers;
 *   pf_mu     - prefetch bookkeeping and the prefetch thread queue;
 *   cache.mu  - the tile cache (innermost; see tile_cache.h).
 * None is held across a decode, a copy of samples, a pool call that may
 * run a done-callback, or a log callback.
 */
#ifndef MEF3_FILES_IMPL_H
#define MEF3_FILES_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "files/tile_cache.h"
#include "files/tilemem.h"
#include "mef3pool/files.h"
#include "mef3pool/pool.h"
#include "mef3pool/reader.h"
#include "util/error.h"
#include "util/strmap.h"

/* One channel of an open file, as the tiles see it. */
typedef struct fchan {
  char *name;
  double fs;
  int64_t cs, ce; /* start, end µUTC; cs == MEF3_UUTC_NO_ENTRY: no data */
  int64_t S;      /* samples per tile */
  int64_t n_samples;
  double ufact;
  char *units;
} fchan;

/* Order of channels by what makes one window read give their tiles:
 * start, rate, tile size (0: one grid). */
static inline int mef3__fchan_cmp(const fchan *x, const fchan *y) {
  if (x->cs != y->cs)
    return x->cs < y->cs ? -1 : 1;
  if (x->fs != y->fs)
    return x->fs < y->fs ? -1 : 1;
  if (x->S != y->S)
    return x->S < y->S ? -1 : 1;
  return 0;
}

static inline int64_t mef3__floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* What a read needs of one distinct channel (read.c; prefetch.c plans
 * around it). */
typedef struct mef3__span {
  size_t ch;
  int has_data;
  int64_t i1;     /* grid sample of `start` */
  int64_t b1, b2; /* tiles */
  size_t key0;    /* its first key (tile max(b1, 0)) */
} mef3__span;

#define MEF3__TOKEN_BYTES 16

/* An open view of a file: the file as one access level sees it
 * (access.c).  Reference counted: the files map holds one reference,
 * every read and prefetch request in progress one each. */
typedef struct mfile {
  atomic_int refs;
  uint64_t id;    /* never reused: tiles of a closed file cannot match */
  char *given;    /* the path as first opened */
  char *real;     /* canonical path */
  char *root;     /* the manager's data root (opens beneath it), or NULL */
  char *pkey;     /* its key in the pools: real, or real//level-L */
  char *password; /* NULL: none (always for level 0); wiped when freed */
  uint8_t token[MEF3__TOKEN_BYTES]; /* levels 1 and 2; wiped when freed */
  size_t n_ch;
  fchan *ch;
  int access_level; /* of the view: 0, 1 or 2 */
  int times_relative;
  struct mef3__files_tree *tree; /* with a data root: the open's check */
  /* idle in-process readers (leased to one thread at a time) */
  pthread_mutex_t rmu;
  mef3_reader **idle;
  size_t n_idle, cap_idle;
} mfile;

/*
 * A prefetch request: tile `b` of up to PF_MAX_TILES channels sharing
 * their start, rate and tile size (so one window read in the pool gives
 * all their tiles).
 */
#define PF_MAX_TILES 16
typedef struct pfreq {
  mef3__tile_owner owner; /* first: the cache hands it to readers */
  struct mef3_files *fm;
  mfile *file;
  int64_t b;
  size_t n;
  size_t ch[PF_MAX_TILES];
  mef3__tile *tiles[PF_MAX_TILES];
  _Atomic uint64_t tiles_end; /* prefetch tiles submitted up to and
                                 including this request (UINT64_MAX:
                                 not yet): its place in the lane */
  _Atomic(mef3_future *) fut; /* pool lane, once submitted */
  atomic_int cancel_req;      /* a reader wants the tiles: cancel if queued */
  struct pfreq *qnext;        /* thread lane queue */
  int queued;                 /* in the thread lane queue (pf_mu) */
  int lane_pool;              /* submitted to the prefetch pool */
} pfreq;

struct mef3_files {
  mef3_files_options o; /* strings below are our copies */
  char *root;           /* canonical data root or NULL */
  char *worker_path;
  int fg_workers, pf_workers;

  pthread_mutex_t pools_mu;
  mef3_pool *fg, *pf;
  int fg_broken, pf_broken; /* could not create: decode in process */

  pthread_mutex_t mu;
  mef3__strmap files;   /* "L:" canonical path -> mfile* (access.c) */
  mef3__strmap aliases; /* "L:" path as given -> mfile* (no reference) */
  uint64_t next_id;
  _Atomic uint64_t reads, pool_tiles, local_tiles, prefetch_failed;

  mef3__tcache cache;
  struct mef3__envcache *env; /* tile pyramids (envelope.c) */
  mef3__tilemem tmem;         /* new tiles' memory, touched ahead (tilemem.h) */

  /* prefetch bookkeeping and the thread lane */
  pthread_mutex_t pf_mu;
  pthread_cond_t pf_cv;          /* outstanding reached 0, or queue changed */
  size_t pf_outstanding;         /* requests not completed yet */
  uint64_t pf_submitted;         /* tiles ever handed to a prefetch lane */
  _Atomic uint64_t pf_completed; /* of those, tiles finished */
  int64_t pf_bytes;              /* bytes of the tiles in those */
  pfreq *q_head, *q_tail;        /* thread lane queue */
  pthread_t *threads;
  int n_threads;
  int pf_stop;

  /* idle sweeper */
  pthread_mutex_t sw_mu;
  pthread_cond_t sw_cv;
  pthread_t sweeper;
  int sw_started, sw_stop;
  uint64_t sw_kick, sw_done;
  int64_t sw_interval_ms;
};

/*
 * Most tiles in one pool request.  The pool gives the pages of a result
 * of 1 MiB or more back to the system when it is freed, so the next
 * request faults them in again in both processes; results just under
 * that stay mapped and warm.
 */
#define REQ_MAX_BYTES (((size_t)1 << 20) - 4096)
static inline size_t mef3__req_max_tiles(int64_t S) {
  size_t k = REQ_MAX_BYTES / ((size_t)S * sizeof(float));
  return k ? k : 1;
}

/* ---- registry.c ---- */
/* Build a view from a freshly opened reader, which it takes (and closes
 * on failure); `password` is kept for the view's readers. */
int mef3__mfile_new(mfile **out, mef3_files *fm, const char *given,
                    const char *real, const char *password, mef3_reader *r);
void mef3__mfile_unref(mfile *f);
/* Lease an in-process reader of `f` (opening one if none is idle). */
int mef3__mfile_lease(mfile *f, mef3_reader **out);
void mef3__mfile_release(mfile *f, mef3_reader *r);
/* Out of descriptors: let prefetch finish, then close every idle reader
 * of every file (reopened when next needed); logged. */
void mef3__files_shed_idle_readers(mef3_files *fm);

/* ---- files.c ---- */
void mef3__files_log(mef3_files *fm, mef3_log_level level, const char *fmt, ...)
    MEF3__PRINTF(3, 4);

/* Grid sample of time t on a channel starting at cs: the file manager's
 * rule, halves to even (mef3pool/grid.h), as mef3_files_window_samples. */
static inline int64_t mef3__files_slot(int64_t t, int64_t cs, double fs) {
  return mef3_grid_slot(t, cs, fs, MEF3_ROUND_EVEN);
}

/* ---- pools.c ---- */
/* The foreground (prefetch 0) or prefetch pool, created at first use;
 * NULL: the process pool is off or could not start (decode in process). */
mef3_pool *mef3__files_pool(mef3_files *fm, int prefetch);

/* ---- sweeper.c ---- */
/* Start the idle sweeper (0, or MEF3_ELIMIT: no thread); stop and join it
 * (nothing when it never started). */
int mef3__sweeper_start(mef3_files *fm, int64_t ttl_ms);
void mef3__sweeper_stop(mef3_files *fm);

/* ---- lane.c: decoding claimed tiles, for both lanes ---- */
/* With a data root: 0 when the file is still where it was opened, else
 * MEF3_EINVAL (a message says which link); no root: 0. */
int mef3__lane_check(const mfile *f);
/* Submit a batch of `n` claimed tiles of `f` to `pool`: tile idx[0] of
 * the distinct channels ch[] that share their start, rate and tile size
 * (a window read), or tiles idx[] of the one channel ch[0] == ch[i]. */
int mef3__lane_submit(mef3_pool *pool, const mfile *f, size_t n,
                      const size_t *ch, const int64_t *idx, mef3_future **out);
/* Publish the result of a finished mef3__lane_submit into `tiles` (its
 * batch's order).  0: every tile published, but *n_failed that failed
 * for memory; else the error (the future's, or a result of the wrong
 * shape), no tile touched. */
int mef3__lane_publish(mef3_files *fm, const mfile *f, mef3_future *fut,
                       size_t n, const size_t *ch, mef3__tile *const *tiles,
                       int prefetched, size_t *n_failed);
/* Decode tile `idx` of channel `ch` in process with `r` and publish it
 * into `t`; on failure (the error set) `t` is untouched. */
int mef3__lane_decode_tile(mef3_files *fm, mef3_reader *r, const mfile *f,
                           size_t ch, int64_t idx, mef3__tile *t,
                           int prefetched);

/* ---- access.c ---- */
/* The view a call names: `path` and `token` (NULL or "": the level-0
 * view), with a reference; NULL and the error set (MEF3_ENOTFOUND,
 * MEF3_EPASSWORD, MEF3_EINVAL) if none. */
mfile *mef3__files_lookup(mef3_files *fm, const char *path, const char *token);
/* Tell a new pool what the view's key opens. */
void mef3__files_pool_access(mef3_pool *p, const mfile *f);

/* ---- prefetch.c ---- */
/* Schedule the prefetch of tile `b` of the `n` channels `chs`, which
 * share their start, rate and tile size; tiles cached or in flight are
 * skipped.  Never fails: problems are logged. */
void mef3__prefetch_schedule(mef3_files *fm, mfile *f, int64_t b,
                             const size_t *chs, size_t n);
/* Try to cancel a queued prefetch request; 0 when it was canceled (its
 * tiles failed, so the caller may claim them).  Drops `owner`'s ref the
 * cache took. */
int mef3__prefetch_steal(mef3_files *fm, mef3__tile_owner *owner);
/* Drop a reference the cache handed out with a tile owner. */
void mef3__prefetch_owner_unref(mef3__tile_owner *owner);
/* Hand the windows ahead and behind [start, end) of a read of the `nsp`
 * spans `sp` to the prefetch lanes, nearest first. */
void mef3__prefetch_around(mef3_files *fm, mfile *f, const mef3__span *sp,
                           size_t nsp, int64_t start, int64_t end);
/* Stop the thread lane: cancel what is queued, join the threads. */
void mef3__prefetch_stop_threads(mef3_files *fm);

/* ---- files.c, for envelope.c and file_meta.c ---- */
/* (mef3__files_lookup, access.c, finds the view a call names) */
/* Load and pin the `nk` distinct tiles `keys` of `f` as a read does
 * (cache, claims, both lanes), without prefetch around them; on success
 * tiles[i] is pinned READY (mef3__tcache_unpin each), on failure none is.
 * Counted as hits and misses of the cache. */
int mef3__files_pin_tiles(mef3_files *fm, mfile *f,
                          const mef3__tcache_key *keys, size_t nk,
                          mef3__tile **tiles);

/* ---- plan.c: a request's channels and window against a file ---- */
/* Row r of the request reads distinct channel ch[row[r]] of the file;
 * all nu distinct channels share rate fs; n samples in the window. */
typedef struct mef3__chplan {
  size_t nrow, nu;
  size_t *row; /* nrow entries: index into ch */
  size_t *ch;  /* nu entries: channel index in the file, first seen first */
  double fs;
  int64_t n;
} mef3__chplan;
void mef3__chplan_free(mef3__chplan *p);
/* A request from its arguments: checks them and the window, finds the
 * view `token` names (*f, a reference the caller drops with
 * mef3__mfile_unref) and makes its plan.  On failure nothing is held. */
int mef3__chplan_open(mef3__chplan *p, mfile **f, mef3_files *fm,
                      const char *path, const char *token,
                      const char *const *channels, size_t n_channels,
                      int64_t start_uutc, int64_t end_uutc);

/* ---- envelope.c ---- */
typedef struct mef3__envcache mef3__envcache;
int mef3__envcache_new(mef3__envcache **out, int64_t budget);
void mef3__envcache_free(mef3__envcache *c);
/* Drop the pyramids of a closed file. */
void mef3__envcache_file_drop(mef3__envcache *c, uint64_t file);

/* ---- paths.c ---- */
/* An open file's tree as checked at its open. */
typedef struct mef3__files_tree mef3__files_tree;
/* Check that no symbolic link below `real` (a canonical path) leads
 * outside `root`, and record its directories.  0, MEF3_EINVAL (a message
 * names the link), or MEF3_ENOMEM. */
int mef3__files_tree_new(mef3__files_tree **out, const char *root,
                         const char *real);
void mef3__files_tree_free(mef3__files_tree *t);
/* Before a decode: 0 when the path still resolves to itself and no link
 * below it leads outside the root (walked again only when a directory
 * changed); else MEF3_EINVAL (a message says which).  Any thread. */
int mef3__files_tree_check(mef3__files_tree *t);

/* ---- hooks for tests and benchmarks ---- */
/* 1 when tile `tile` of `channel` of the open file `path` is cached. */
int mef3__files_tile_cached(mef3_files *fm, const char *path,
                            const char *channel, int64_t tile);
/* Wait until no prefetch request is outstanding. */
void mef3__files_prefetch_wait(mef3_files *fm);
/* Make the sweeper run once now and wait for it; -1 when there is none. */
int mef3__files_sweep_now(mef3_files *fm);

#endif
