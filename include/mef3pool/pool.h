/*
 * mef3pool/pool.h - the reader process pool: parallel decode in worker
 * processes, results in shared memory, returned through futures.
 *
 * A pool owns up to `max_workers` worker processes.  Each worker keeps its
 * own reader per file, opened lazily at first use and reused (at most
 * `max_readers_per_worker`, least recently used closed first).  Workers
 * write decoded samples straight into shared memory that the caller reads
 * in place; only small control messages cross the socket between the two.
 *
 * Process model: workers are started with posix_spawn() of the worker
 * program (mef3pool-worker), never by fork() of the host, so creating or
 * growing a pool is safe in a process that already runs many threads.
 * The program is found, in order: options.worker_path; the environment
 * variable MEF3POOL_WORKER; "mef3pool-worker" next to the running
 * executable; ../libexec/mef3pool/mef3pool-worker from the executable's
 * folder (an installed copy, wherever its prefix); the configured libexec
 * path (mef3_pool_default_worker_path).
 * Workers run in their own process group (a terminal's Ctrl-C goes to the
 * host, which shuts the pool down) and exit when their socket closes, so
 * none outlives its host, even one that exits without mef3_pool_free().
 * Shared memory is made of anonymous memfds: nothing has a name, nothing
 * can be left behind in /dev/shm.
 *
 * A crash stays a crash of one request: when a worker dies (SIGKILL, a
 * segfault), the futures it was serving fail with MEF3_EWORKER and a
 * message naming the worker and the request, the worker is replaced, and
 * the pool goes on serving.
 *
 * Threads: any number of threads may submit, wait, cancel and free at
 * once.  Each pool runs one service thread that feeds workers, collects
 * results, replaces dead workers and runs done-callbacks.
 *
 * Requests carry their geometry: tiles their rate, start and size,
 * windows their channels' rates (or NULL, and the pool learns them from
 * a worker once per file).  docs/pool.md maps the implementation.
 */
#ifndef MEF3POOL_POOL_H
#define MEF3POOL_POOL_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mef3_pool mef3_pool;
typedef struct mef3_future mef3_future;

#define MEF3_POOL_OPTIONS_VERSION 1

typedef struct mef3_pool_options {
  unsigned int version;       /* MEF3_POOL_OPTIONS_VERSION */
  int max_workers;            /* worker processes; 0 = 4 (at least 1) */
  int max_readers_per_worker; /* open readers kept per worker; 0 = 64 */
  const char *worker_path;    /* NULL = search (see above) */
  const char *name;           /* shown in messages ("fg", "prefetch") */
  int check_block_crc;        /* workers verify block CRCs (default 1) */
  /* NULL, or a canonical directory: workers open every file beneath it
   * (mef3_reader_options.root).  Copied. */
  const char *root;
} mef3_pool_options;

#define MEF3_POOL_OPTIONS_INIT                                                 \
  { MEF3_POOL_OPTIONS_VERSION, 4, 64, NULL, NULL, 1, NULL }

/* Counters, readable at any time (a consistent snapshot). */
typedef struct mef3_pool_stats {
  uint64_t requests;  /* requests submitted */
  uint64_t completed; /* completed successfully */
  uint64_t failed;    /* completed with an error */
  uint64_t canceled;
  uint64_t bytes_decoded;   /* result bytes written by workers */
  uint64_t worker_restarts; /* workers replaced after dying */
  uint32_t queue_depth;     /* requests waiting for a worker */
  uint32_t busy_workers;    /* workers serving a request now */
  uint32_t live_workers;    /* worker processes running */
  uint64_t shm_bytes;       /* shared memory mapped for results */
} mef3_pool_stats;

/*
 * Create a pool.  Cheap: no process starts until the first request or
 * mef3_pool_warmup().  `opts` may be NULL.  Returns 0, MEF3_EINVAL,
 * MEF3_ENOTFOUND (no worker program), MEF3_ENOMEM.
 */
MEF3_EXTERN int mef3_pool_new(mef3_pool **out, const mef3_pool_options *opts);

/*
 * Shut down and free: queued requests are canceled (their futures fail
 * with MEF3_ECANCELED), running ones are waited for, every worker is
 * ended and reaped.  Futures stay valid (and their results readable)
 * until each is freed.  NULL is fine.  Call from a thread that is not a
 * done-callback of this pool.
 */
MEF3_EXTERN void mef3_pool_free(mef3_pool *pool);

/* The compiled-in install path of the worker program. */
MEF3_EXTERN const char *mef3_pool_default_worker_path(void);

/* Number of worker processes the pool runs at full size. */
MEF3_EXTERN int mef3_pool_size(const mef3_pool *pool);

/*
 * Remember the password of a file (a session or channel path) for every
 * worker: passed once, used by all.  NULL or "" forgets it.  The password
 * never appears in a command line or a log.
 */
MEF3_EXTERN int mef3_pool_set_password(mef3_pool *pool, const char *path,
                                       const char *password);

/*
 * Make requests that name `key` as their path open `path` with
 * `password` (NULL or "": none): one file read under several keys, each
 * with its own password, e.g. one key per access level (files.h).
 * Workers keep one reader per path and password, so the keys never share
 * a reader.  `path` NULL forgets the key.  Changing or forgetting a key
 * makes every worker close its readers of the old path.  Returns 0,
 * MEF3_EINVAL, MEF3_ENOMEM.
 */
MEF3_EXTERN int mef3_pool_set_access(mef3_pool *pool, const char *key,
                                     const char *path, const char *password);

/*
 * Submit a decode of tiles of one channel: for each of the `n` block
 * indices, a float32 tile of exactly `samples_per_tile` samples read with
 * the tile math of mef3_tile_window() (NaN-padded; an all-NaN tile when
 * the range is outside the recording or the read fails).  The future's
 * result is n x samples_per_tile floats (mef3_future_tiles).
 */
MEF3_EXTERN int mef3_pool_submit_tiles(mef3_future **out, mef3_pool *pool,
                                       const char *path, const char *channel,
                                       const int64_t *block_indices, size_t n,
                                       double fs, int64_t channel_start_uutc,
                                       int64_t samples_per_tile);

/*
 * Start every worker and open `path` in each (reading `channel`'s
 * metadata), so the first real read pays no start-up.  Blocks until done
 * or `timeout_ms` (-1: no limit).  Returns 0 or the first error.
 */
MEF3_EXTERN int mef3_pool_warmup(mef3_pool *pool, const char *path,
                                 const char *channel, int64_t timeout_ms);

/*
 * Read `n_channels` channels over [t0, t1): the channel list is split
 * into up to `n_splits` contiguous, order-preserving groups (0: the
 * number of workers) decoded in parallel.  The result
 * (mef3_future_window) is a (n_channels, n_samples) float32 array in the
 * requested order, n_samples being the shortest of the channels' window
 * lengths (mef3_window_samples; edges trimmed, a longer channel keeps its
 * first n_samples).
 *
 * `fs` gives the channels' sampling rates (fs[i] for channels[i]), which
 * size the result, the way mef3_pool_submit_tiles takes its geometry: a
 * caller that knows them (the file manager) passes them, and the window
 * goes to the workers at once.  NULL when the caller does not know them:
 * the pool then asks a worker for the file's channel table (one INFO
 * round trip before the first window of a file; the table is kept until
 * mef3_pool_forget()).  Either way an unknown channel or file fails
 * through the future (MEF3_ENOTFOUND).
 *
 * Returns 0, MEF3_EINVAL (no channels, a NULL name, t1 < t0, a rate that
 * is not a positive number), MEF3_ENOMEM, MEF3_ECANCELED (shutting
 * down).
 */
MEF3_EXTERN int mef3_pool_read_window(mef3_future **out, mef3_pool *pool,
                                      const char *path,
                                      const char *const *channels,
                                      const double *fs, size_t n_channels,
                                      int64_t t0, int64_t t1, int n_splits);

/*
 * Prefetch a chunk in the background under `key`: a window read as above
 * (one group, rates from the file's channel table, as with `fs` NULL).
 * Idempotent per key: scheduling a key that is already scheduled does
 * nothing and returns 0.
 */
MEF3_EXTERN int mef3_pool_prefetch_chunk(mef3_pool *pool, const char *key,
                                         const char *path,
                                         const char *const *channels,
                                         size_t n_channels, int64_t t0,
                                         int64_t t1);

/* 1 when `key` is scheduled (and not yet taken), else 0. */
MEF3_EXTERN int mef3_pool_is_scheduled(mef3_pool *pool, const char *key);

/*
 * Take a prefetched chunk: blocks until it is ready, removes it from the
 * pool and hands its future to the caller (`*out`, to be freed).
 * Returns 0 or MEF3_ENOTFOUND ("unknown key").
 */
MEF3_EXTERN int mef3_pool_take_chunk(mef3_future **out, mef3_pool *pool,
                                     const char *key);

/*
 * Make every worker close its readers of `path` (and the pool drop what
 * it knows of it).  Requests already queued still run.
 */
MEF3_EXTERN int mef3_pool_forget(mef3_pool *pool, const char *path);

/* Counters. */
MEF3_EXTERN void mef3_pool_get_stats(mef3_pool_stats *out, mef3_pool *pool);

/*
 * A descriptor that becomes readable whenever a future of this pool
 * completes (an eventfd; read 8 bytes to reset it), for event loops.
 * Owned by the pool.
 */
MEF3_EXTERN int mef3_pool_event_fd(mef3_pool *pool);

/* ---- futures ---- */

/*
 * Wait until the future completes or `timeout_ms` passes (-1: no limit,
 * 0: poll).  Returns 0 when it has completed (whatever its status) or
 * MEF3_ETIMEDOUT.
 */
MEF3_EXTERN int mef3_future_wait(mef3_future *f, int64_t timeout_ms);

/* 1 when completed (successfully, with an error, or canceled). */
MEF3_EXTERN int mef3_future_done(const mef3_future *f);

/* The result code once done: 0, MEF3_ECANCELED, MEF3_EWORKER, ... */
MEF3_EXTERN int mef3_future_status(const mef3_future *f);

/* The error message once done with an error ("" otherwise); borrowed. */
MEF3_EXTERN const char *mef3_future_message(const mef3_future *f);

/*
 * Cancel a future still queued: it completes with MEF3_ECANCELED.
 * Returns 0, or MEF3_EINVAL when it is already running or done.
 */
MEF3_EXTERN int mef3_future_cancel(mef3_future *f);

typedef void (*mef3_future_cb)(mef3_future *f, void *payload);

/*
 * Run `cb(f, payload)` once when the future completes: from the pool's
 * service thread, or at once from the calling thread when it already
 * has.  One callback per future (a second call is MEF3_EINVAL).  The
 * callback must not block for long, and must not free the pool; it may
 * free the future.
 */
MEF3_EXTERN int mef3_future_on_done(mef3_future *f, mef3_future_cb cb,
                                    void *payload);

/*
 * The result of a tiles future: `*n_tiles` tiles of `*samples_per_tile`
 * floats, one after another, read in place from shared memory.  NULL
 * unless done with status 0.  Valid until the future is freed.
 */
MEF3_EXTERN const float *mef3_future_tiles(size_t *n_tiles,
                                           size_t *samples_per_tile,
                                           const mef3_future *f);

/* The result of a window or chunk future: (n_channels, n_samples) float32,
 * row-major, in place.  NULL unless done with status 0. */
MEF3_EXTERN const float *
mef3_future_window(size_t *n_channels, size_t *n_samples, const mef3_future *f);

/*
 * Release a future.  A queued one is canceled; a running one completes
 * unseen.  Its result memory returns to the pool.  NULL is fine.
 */
MEF3_EXTERN void mef3_future_free(mef3_future *f);

/*
 * Run a worker on `fd` (a connected socket) until it closes: the body of
 * the mef3pool-worker program, exported for hosts that ship their own
 * worker executable.  Returns the process exit status.
 */
MEF3_EXTERN int mef3_pool_worker_main(int fd);

#ifdef __cplusplus
}
#endif
#endif
