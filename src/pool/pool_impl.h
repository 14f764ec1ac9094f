/*
 * pool/pool_impl.h - what the host side of the reader pool shares between
 * its files.  Not installed.
 *
 *   pool.c     the pool handle: create, configure (passwords, access
 *              keys, forget), warm up, counters, shut down
 *   future.c   futures: one-shot results, waits, callbacks, cancel
 *   request.c  building requests (frames, regions, window groups) and
 *              the queue they wait in
 *   chantab.c  the per-file channel-table cache fed by INFO jobs, and the
 *              windows waiting for a table
 *   chunks.c   the keyed chunk registry (prefetch_chunk / take_chunk)
 *   service.c  the service thread: hands jobs to workers, reads answers,
 *              completes futures
 *   process.c  worker processes: finding the program, spawning, the
 *              back-off for workers that die young, reaping
 * The worker side is worker.c; frames are proto.c, shared memory shm.c.
 *
 * Locks.  `mef3_pool.mu` guards the queue, the maps (access, channel
 * tables, waiting windows, chunks), the counters, every future's
 * `state`/`parts_left`/`next_waiting` until it is done, and the workers'
 * `state` (which the counters read).  A future's own `mu` guards its
 * status, message and callback.  The pool lock is never held while a
 * future completes (its callback runs), a process starts or is reaped,
 * or a frame is sent.  Functions named `_locked` want the pool lock held.
 */
#ifndef MEF3_POOL_IMPL_H
#define MEF3_POOL_IMPL_H

#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "mef3pool/pool.h"
#include "pool/proto.h"
#include "pool/shm.h"
#include "util/strmap.h"

/* Room asked for a channel table at first (an INFO job asks again with
 * more when the table does not fit). */
#define MEF3__INFO_BYTES ((size_t)64 << 10)

typedef enum {
  MEF3__FUT_TILES,
  MEF3__FUT_WINDOW,
  MEF3__FUT_INFO
} mef3__fut_kind;

typedef enum {
  MEF3__FUT_QUEUED,  /* may still be canceled */
  MEF3__FUT_RUNNING, /* a worker has a part of it, or it is being failed */
  MEF3__FUT_DONE
} mef3__fut_state;

struct mef3_future {
  atomic_int refs;
  atomic_int done;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  mef3__fut_kind kind;
  int status;
  char message[512];
  mef3__region region;
  size_t dim0, dim1;
  mef3_future_cb cb;
  void *payload;
  int cb_set;
  /* under the pool mutex while not done */
  mef3_pool *pool;
  mef3__fut_state state;
  int parts_left;
  /* a window: what its jobs are built from, kept while it waits for its
   * file's channel table */
  char *path;
  char **names;
  size_t n_names;
  int64_t t0, t1;
  int n_splits;
  struct mef3_future *next_waiting;
};

/* One frame for one worker: a tiles request, one group of a window, or
 * an INFO request. */
typedef struct mef3__job {
  struct mef3__job *next;
  int type; /* MEF3__MSG_INFO, MEF3__MSG_TILES, MEF3__MSG_WINDOW */
  uint32_t id;
  mef3_future *fut; /* NULL for an internal INFO job */
  int target;       /* worker index, or -1 for any */
  char *path;       /* INFO: whose table this is */
  mef3__region info_region;
  mef3__slab *slab;
  mef3__buf body;
} mef3__job;

typedef enum { MEF3__W_DOWN, MEF3__W_IDLE, MEF3__W_BUSY } mef3__wstate;

/* A worker process as the host sees it.  Everything but `state` belongs
 * to the service thread. */
typedef struct mef3__pworker {
  pid_t pid;
  int sock;
  mef3__wstate state;
  mef3__job *cur;
  uint32_t *slabs; /* ids of slabs this worker has mapped */
  size_t n_slabs, cap_slabs;
  uint64_t served; /* requests answered since it started */
} mef3__pworker;

/* A file's channel table, as an INFO job returned it. */
typedef struct mef3__chantab {
  size_t n;
  char **names;
  double *fs;
} mef3__chantab;

/* What a request naming `key` opens: a path and a password. */
typedef struct mef3__file_access {
  char *path;     /* NULL: the key itself */
  char *password; /* NULL: none */
} mef3__file_access;

typedef struct mef3__forget_msg {
  struct mef3__forget_msg *next;
  mef3__buf frame; /* the MEF3__MSG_FORGET frame, built by the caller */
} mef3__forget_msg;

struct mef3_pool {
  mef3_pool_options opts;
  char *worker_path;
  char *name;
  pthread_mutex_t mu;
  mef3__job *qhead, *qtail;
  size_t qlen;
  mef3__pworker *w;
  int nw;
  int warm; /* start every worker even without work */
  int high; /* most workers that ran at once: the size to keep */
  /* Workers that died before answering anything, in a row, and when the
   * next one may start to keep the size (service thread only): a worker
   * that cannot start (a broken program, a bad environment) is retried
   * ever more slowly, not in a busy loop.  Work that waits starts a
   * worker at once all the same. */
  int early_deaths;
  int64_t respawn_at;
  pthread_t thread;
  int thread_started;
  int stopping;
  int wake_fd;
  int ev_fd;
  mef3__shm shm;
  mef3__strmap passwords; /* key -> mef3__file_access* (set_access) */
  mef3__strmap info;      /* path -> mef3__chantab* */
  mef3__strmap waiting;   /* path -> mef3_future* (list) */
  mef3__strmap chunks;    /* key -> mef3_future* */
  mef3__forget_msg *forgets;
  uint32_t next_id;
  mef3_pool_stats st;
  /* The service thread's own, allocated with the pool. */
  struct pollfd *pfds;
  int *pfd_worker;
  mef3__buf in;
  mef3__buf config; /* the MEF3__MSG_CONFIG frame every new worker gets */
};

/* ---- pool.c ---- */
/* Signal an eventfd (the service thread's wake-up, the event fd). */
void mef3__pool_wake(int fd);
int64_t mef3__now_ms(void); /* CLOCK_MONOTONIC */
void mef3__forget_free(mef3__forget_msg *m);

/* ---- future.c ---- */
/* A future with two references (the caller's and the pool's), queued. */
mef3_future *mef3__future_new(mef3_pool *p, mef3__fut_kind kind);
void mef3__future_unref(mef3_future *f);
/* Free a future that was never handed out (both references at once). */
void mef3__future_discard(mef3_future *f);
/* Complete `f` (no pool lock held): counters, waiters, the event fd, the
 * callback, then the pool's reference is dropped. */
void mef3__future_complete(mef3_pool *p, mef3_future *f, int status,
                           const char *msg);

/* ---- request.c ---- */
void mef3__job_free(mef3__job *j);
void mef3__enqueue_locked(mef3_pool *p, mef3__job *j);
/* Remove every queued job of `f`; returns how many. */
int mef3__unqueue_locked(mef3_pool *p, mef3_future *f);
/* The next job worker `i` may take, marked running; NULL when none. */
mef3__job *mef3__take_locked(mef3_pool *p, int i);
/* An INFO job for `path` aimed at worker `target` (-1: any), with room
 * for `bytes` of answer; NULL with the error set. */
mef3__job *mef3__info_job_locked(mef3_pool *p, const char *path, int target,
                                 mef3_future *fut, size_t bytes);
/* Turn a window future into jobs, each channel's window `n` samples long
 * (the shortest): its region, one job per group, queued.  0 or an error
 * with which the caller completes the future. */
int mef3__expand_window_locked(mef3_pool *p, mef3_future *f, size_t n);
/* A window future (read_window, prefetch_chunk); `fs` NULL: sized by the
 * file's channel table. */
int mef3__submit_window(mef3_future **out, mef3_pool *p, const char *path,
                        const char *const *channels, const double *fs,
                        size_t nch, int64_t t0, int64_t t1, int n_splits);
void mef3__access_free(mef3__file_access *a);

/* ---- chantab.c ---- */
void mef3__chantab_free(mef3__chantab *t);
/* The channel table of `path` when the pool knows it, else NULL. */
const mef3__chantab *mef3__chantab_get_locked(mef3_pool *p, const char *path);
/* The length of window `f` (the shortest of its channels' windows) by
 * table `t`: 0, or MEF3_ENOTFOUND naming a channel the file lacks. */
int mef3__chantab_samples(const mef3__chantab *t, const mef3_future *f,
                          size_t *n);
/* Make window `f` wait for its file's table, the first such window
 * queueing the INFO job that asks for it.  0, or an error (`f` not
 * waiting). */
int mef3__chantab_wait_locked(mef3_pool *p, mef3_future *f);
/* Remove `f` from the windows waiting for a table; 1 when it was. */
int mef3__chantab_unwait_locked(mef3_pool *p, mef3_future *f);
/* Every waiting window, as one list through next_waiting; the map is
 * emptied (shutdown). */
mef3_future *mef3__chantab_take_waiting_locked(mef3_pool *p);
/* Drop the table of `path` (forget). */
void mef3__chantab_drop_locked(mef3_pool *p, const char *path);
/* A finished INFO job (service thread, no lock held): the table kept,
 * the windows that waited for it expanded or failed. */
void mef3__chantab_info_done(mef3_pool *p, mef3__job *j, int rc, uint64_t bytes,
                             const char *msg);
/* Free every table (shutdown). */
void mef3__chantab_dispose(mef3_pool *p);

/* ---- chunks.c ---- */
/* Detach every chunk nobody took (shutdown): `*out` (to be freed) holds
 * `*n` futures for the caller to free with no lock held. */
void mef3__chunks_take_all_locked(mef3_pool *p, mef3_future ***out, size_t *n);

/* ---- service.c ---- */
/* Start the service thread if it is not running. */
int mef3__service_start_locked(mef3_pool *p);
/* A finished job (no lock held): its part of its future, or an INFO job's
 * table. */
void mef3__job_done(mef3_pool *p, mef3__job *j, int rc, uint64_t bytes,
                    const char *msg);
/* Fail jobs taken off the queue (a list through next), then free them. */
void mef3__jobs_fail(mef3_pool *p, mef3__job *list, int rc, const char *msg);

/* ---- process.c ---- */
/* The worker program (see pool.h), or NULL when none is found; the
 * string is `opt`, the environment's, the compiled-in one or `self`. */
const char *mef3__find_worker(const char *opt, char self[PATH_MAX]);
/* How many workers to start now for `live` running ones; `*wait_ms` is
 * set to when the back-off allows more (-1: no wait). */
int mef3__workers_wanted_locked(mef3_pool *p, int live, int64_t *wait_ms);
/* Start up to `n` workers (service thread); returns how many run now.
 * One that cannot start fails the work only it could do. */
int mef3__workers_start(mef3_pool *p, int live, int n);
/* Worker `w` is gone or must go: note an early death for the back-off
 * (unless the pool is `stopping`), reap it (killed at once with
 * `kill_it`); returns its wait status. */
int mef3__worker_end(mef3_pool *p, mef3__pworker *w, int kill_it, int stopping);
/* What a worker's wait status means for its request: the code and the
 * words ("killed by signal 9 (Killed)"). */
int mef3__describe_exit(char *buf, size_t len, int st);
/* Close every worker's socket and reap them all (shutdown). */
void mef3__workers_close_all(mef3_pool *p);

#endif
