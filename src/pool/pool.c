/*
 * pool/pool.c - the reader process pool: the host side.
 *
 * Threads and ownership.  Callers (any threads) build a request in full -
 * the frame a worker will read, and the shared-memory region it will
 * write - and queue it under the pool mutex.  One service thread per pool
 * owns the worker processes and their sockets: it is the only thread that
 * sends to or receives from a worker.  It starts workers with posix_spawn
 * as work appears (never fork: the host may run many threads), hands each
 * idle worker the next request it may take, sends a slab's descriptor the
 * first time a worker needs it, reads completions, replaces dead workers,
 * completes futures and runs their callbacks (with no pool lock held).
 *
 * Requests.  A tiles request is one job.  A window is one job per channel
 * group, all writing rows of one region; it needs each channel's rate to
 * size that region, which the pool learns once per file with an INFO job
 * (windows wait for it) and caches until the file is forgotten.
 *
 * Futures are reference-counted: one reference for the caller, one for
 * the pool until completion.  Their own mutex and condition variable make
 * wait/on_done independent of the pool's lifetime.
 *
 * Shutdown cancels what is queued, lets running jobs finish (killing a
 * worker that does not finish within a grace period), closes every socket
 * and reaps every worker.
 *
 * Out of memory or descriptors.  The service thread never fails silently
 * for memory: what it needs every time (poll set, input buffer, the
 * CONFIG frame) is allocated when the pool is made, frames of bounded size
 * are built on its stack, FORGET frames are built by the caller; the rest
 * (a slab table that must grow, a channel table) fails the one request
 * with MEF3_ENOMEM, and the worker stays.  A worker that cannot start (no
 * descriptor for its socket) fails the work only it could do with the
 * reason; one that exits because it ran out of memory or descriptors
 * (proto.h) fails its request with MEF3_ENOMEM or MEF3_ELIMIT.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mef3pool/pool.h"
#include "mef3pool/reader.h"
#include "pool/proto.h"
#include "pool/shm.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/strmap.h"
#include "util/alloc.h"

extern char **environ;

#ifndef MEF3_WORKER_INSTALL_PATH
#define MEF3_WORKER_INSTALL_PATH "/usr/local/libexec/mef3pool/mef3pool-worker"
#endif

#define SLAB_BYTES ((size_t)64 << 20)
#define INFO_BYTES ((size_t)64 << 10)
#define SHUTDOWN_GRACE_MS 10000

typedef enum { K_TILES, K_WINDOW, K_INFO } fut_kind;
typedef enum { F_QUEUED, F_RUNNING, F_DONE } fut_state;

struct mef3_future {
  atomic_int refs;
  atomic_int done;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  fut_kind kind;
  int status;
  char message[512];
  mef3__region region;
  size_t dim0, dim1;
  mef3_future_cb cb;
  void *payload;
  int cb_set;
  /* under the pool mutex while not done */
  mef3_pool *pool;
  fut_state state;
  int parts_left;
  /* a window waiting for its file's channel table */
  char *path;
  char **names;
  size_t n_names;
  int64_t t0, t1;
  int n_splits;
  struct mef3_future *next_waiting;
};

typedef struct job {
  struct job *next;
  int type; /* MSG_INFO, MSG_TILES, MSG_WINDOW */
  uint32_t id;
  mef3_future *fut; /* NULL for an internal INFO job */
  int target;       /* worker index, or -1 for any */
  char *path;       /* INFO: whose table this is */
  mef3__region info_region;
  mef3__slab *slab;
  mef3__buf body;
} job;

typedef enum { W_DOWN, W_IDLE, W_BUSY } wstate;

typedef struct pworker {
  pid_t pid;
  int sock;
  wstate state;
  job *cur;
  uint32_t *slabs; /* ids of slabs this worker has mapped */
  size_t n_slabs, cap_slabs;
  uint64_t served; /* requests answered since it started */
} pworker;

typedef struct finfo {
  size_t n;
  char **names;
  double *fs;
} finfo;

typedef struct forget_msg {
  struct forget_msg *next;
  mef3__buf frame; /* the MSG_FORGET frame, built by the caller */
} forget_msg;

struct mef3_pool {
  mef3_pool_options opts;
  char *worker_path;
  char *name;
  pthread_mutex_t mu;
  job *qhead, *qtail;
  size_t qlen;
  pworker *w;
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
  mef3__strmap passwords; /* key -> file_access* (set_access) */
  mef3__strmap info;      /* path -> finfo* */
  mef3__strmap waiting;   /* path -> mef3_future* (list) */
  mef3__strmap chunks;    /* key -> mef3_future* */
  forget_msg *forgets;
  uint32_t next_id;
  mef3_pool_stats st;
  /* The service thread's own, allocated with the pool. */
  struct pollfd *pfds;
  int *pfd_worker;
  mef3__buf in;
  mef3__buf config; /* the MSG_CONFIG frame every new worker gets */
};

/* ---- small helpers ---- */

static void wake(int fd) {
  uint64_t one = 1;
  ssize_t k = write(fd, &one, sizeof one);
  (void)k; /* a full counter is still a wake-up */
}

static void drain(int fd) {
  uint64_t v;
  ssize_t k = read(fd, &v, sizeof v);
  (void)k;
}

static void finfo_free(finfo *fi) {
  if (!fi)
    return;
  for (size_t i = 0; i < fi->n; i++)
    mef3__free(fi->names[i]);
  mef3__free(fi->names);
  mef3__free(fi->fs);
  mef3__free(fi);
}

static void job_free(job *j) {
  if (!j)
    return;
  mef3__buf_free(&j->body);
  mef3__region_free(&j->info_region);
  mef3__free(j->path);
  mef3__free(j);
}

/* ---- futures ---- */

static mef3_future *future_new(mef3_pool *p, fut_kind kind) {
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
  f->state = F_QUEUED;
  return f;
}

static void future_release_fields(mef3_future *f) {
  for (size_t i = 0; i < f->n_names; i++)
    mef3__free(f->names[i]);
  mef3__free(f->names);
  f->names = NULL;
  f->n_names = 0;
  mef3__free(f->path);
  f->path = NULL;
}

static void future_unref(mef3_future *f) {
  if (atomic_fetch_sub(&f->refs, 1) != 1)
    return;
  mef3__region_free(&f->region);
  future_release_fields(f);
  pthread_mutex_destroy(&f->mu);
  pthread_cond_destroy(&f->cv);
  mef3__free(f);
}

/*
 * Complete `f` with `status`: wake waiters, signal the event descriptor,
 * run the callback, drop the pool's reference.  Called with no pool lock
 * held.  `p` is the pool it belonged to (for counters and the event fd).
 */
static void future_complete(mef3_pool *p, mef3_future *f, int status,
                            const char *msg) {
  pthread_mutex_lock(&p->mu);
  f->state = F_DONE;
  if (status == 0)
    p->st.completed++;
  else if (status == MEF3_ECANCELED)
    p->st.canceled++;
  else
    p->st.failed++;
  pthread_mutex_unlock(&p->mu);

  if (status != 0)
    mef3__region_free(&f->region);
  future_release_fields(f);
  pthread_mutex_lock(&f->mu);
  f->status = status;
  if (status && msg)
    snprintf(f->message, sizeof f->message, "%s", msg);
  mef3_future_cb cb = f->cb;
  void *payload = f->payload;
  atomic_store_explicit(&f->done, 1, memory_order_release);
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
  wake(p->ev_fd);
  if (cb)
    cb(f, payload);
  future_unref(f);
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

const float *mef3_future_tiles(const mef3_future *f, size_t *n_tiles,
                               size_t *samples_per_tile) {
  if (!mef3_future_done(f) || f->status || f->kind != K_TILES)
    return NULL;
  if (n_tiles)
    *n_tiles = f->dim0;
  if (samples_per_tile)
    *samples_per_tile = f->dim1;
  return (const float *)f->region.ptr;
}

const float *mef3_future_window(const mef3_future *f, size_t *n_channels,
                                size_t *n_samples) {
  if (!mef3_future_done(f) || f->status || f->kind != K_WINDOW)
    return NULL;
  if (n_channels)
    *n_channels = f->dim0;
  if (n_samples)
    *n_samples = f->dim1;
  return (const float *)f->region.ptr;
}

/* Remove every queued job of `f` (pool locked); returns how many. */
static int unqueue_locked(mef3_pool *p, mef3_future *f) {
  int n = 0;
  job **pp = &p->qhead, *last = NULL;
  while (*pp) {
    job *j = *pp;
    if (j->fut == f) {
      *pp = j->next;
      job_free(j);
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

/* Remove `f` from the windows waiting for a channel table (pool locked). */
static int unwait_locked(mef3_pool *p, mef3_future *f) {
  if (!f->path)
    return 0;
  mef3_future *head = mef3__strmap_get(&p->waiting, f->path);
  mef3_future **pp = &head;
  while (*pp && *pp != f)
    pp = &(*pp)->next_waiting;
  if (!*pp)
    return 0;
  *pp = f->next_waiting;
  if (head)
    mef3__strmap_put(&p->waiting, f->path, head, NULL);
  else
    mef3__strmap_del(&p->waiting, f->path);
  return 1;
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
  if (f->state != F_QUEUED) {
    pthread_mutex_unlock(&p->mu);
    return mef3__error(MEF3_EINVAL, "the future is already running");
  }
  unqueue_locked(p, f);
  unwait_locked(p, f);
  f->state = F_RUNNING; /* nothing else may complete it now */
  pthread_mutex_unlock(&p->mu);
  future_complete(p, f, MEF3_ECANCELED, "canceled");
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
  future_unref(f);
}

/* ---- workers ---- */

/* The worker program (see pool.h), or NULL when none is found; the
 * string is `opt`, the environment's, the compiled-in one or `self`. */
static const char *find_worker(const char *opt, char self[PATH_MAX]) {
  if (opt)
    return access(opt, X_OK) == 0 ? opt : NULL;
  const char *env = getenv("MEF3POOL_WORKER");
  if (env && *env)
    return access(env, X_OK) == 0 ? env : NULL;
  ssize_t n = readlink("/proc/self/exe", self, PATH_MAX - 64);
  if (n > 0) {
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) {
      /* next to the executable (a build tree), then the install layout
       * relative to it (PREFIX/bin -> PREFIX/libexec), so that an
       * installed copy moved to another prefix still finds its worker */
      strcpy(slash + 1, "mef3pool-worker");
      if (access(self, X_OK) == 0)
        return self;
      strcpy(slash + 1, "../libexec/mef3pool/mef3pool-worker");
      if (access(self, X_OK) == 0)
        return self;
    }
  }
  if (access(MEF3_WORKER_INSTALL_PATH, X_OK) == 0)
    return MEF3_WORKER_INSTALL_PATH;
  return NULL;
}

const char *mef3_pool_default_worker_path(void) {
  return MEF3_WORKER_INSTALL_PATH;
}

static int send_frame(pworker *w, mef3__buf *b, int fd) {
  return mef3__frame_send(w->sock, b, fd);
}

/* Start worker `i` (service thread, no lock held). */
static int spawn_worker(mef3_pool *p, pworker *w) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return mef3__error(errno == ENOMEM ? MEF3_ENOMEM : MEF3_ELIMIT,
                       "%s pool: cannot start a worker: socketpair: %s",
                       p->name, strerror(errno));
  int child = sv[1];
  if (child == 3) { /* dup2(3, 3) would leave close-on-exec set */
    child = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
    close(sv[1]);
    if (child < 0) {
      int e = errno;
      close(sv[0]);
      return mef3__error(MEF3_ELIMIT, "%s pool: cannot start a worker: %s",
                         p->name, strerror(e));
    }
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, child, 3);
  posix_spawn_file_actions_addclosefrom_np(&fa, 4);
  posix_spawnattr_init(&at);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &all);
  posix_spawnattr_setpgroup(&at, 0);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                    POSIX_SPAWN_SETPGROUP);
  char *argv[] = {"mef3pool-worker", "3", NULL};
  pid_t pid;
  int rc = posix_spawn(&pid, p->worker_path, &fa, &at, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  close(child);
  if (rc != 0) {
    close(sv[0]);
    return mef3__error(
        rc == EMFILE || rc == ENFILE || rc == EAGAIN ? MEF3_ELIMIT
        : rc == ENOMEM                               ? MEF3_ENOMEM
                                                     : MEF3_EWORKER,
        "%s pool: cannot start %s: %s", p->name, p->worker_path, strerror(rc));
  }
  pthread_mutex_lock(&p->mu); /* stats read the workers' state */
  w->pid = pid;
  w->sock = sv[0];
  w->n_slabs = 0;
  w->cur = NULL;
  w->served = 0;
  w->state = W_IDLE; /* a failed send shows up as a hang-up in poll */
  pthread_mutex_unlock(&p->mu);
  (void)send_frame(w, &p->config, -1);
  return 0;
}

/* Reap worker w (its socket is already closed or to be closed). */
static int64_t now_ms(void);

/* Reap worker w (its socket is already closed or to be closed): killed at
 * once with `kill_it`, else given up to 2 s to finish exiting first (a
 * worker that closed its socket is exiting, with a status that says why;
 * a kill would overwrite it). */
static int reap(mef3_pool *p, pworker *w, int kill_it) {
  int st = 0;
  if (w->sock >= 0)
    close(w->sock);
  w->sock = -1;
  if (!kill_it) {
    int64_t until = now_ms() + 2000;
    pid_t r;
    while ((r = waitpid(w->pid, &st, WNOHANG)) == 0 && now_ms() < until) {
      struct timespec ts = {0, 1000000};
      nanosleep(&ts, NULL);
    }
    kill_it = r == 0;
    if (r == w->pid)
      goto done;
  }
  if (kill_it)
    kill(w->pid, SIGKILL);
  while (waitpid(w->pid, &st, 0) < 0 && errno == EINTR)
    ;
done:
  pthread_mutex_lock(&p->mu);
  w->state = W_DOWN;
  pthread_mutex_unlock(&p->mu);
  w->n_slabs = 0;
  return st;
}

static int worker_has_slab(pworker *w, uint32_t id) {
  for (size_t i = 0; i < w->n_slabs; i++)
    if (w->slabs[i] == id)
      return 1;
  return 0;
}

static int worker_note_slab(pworker *w, uint32_t id) {
  if (w->n_slabs == w->cap_slabs) {
    size_t nc = w->cap_slabs ? w->cap_slabs * 2 : 8;
    uint32_t *ns = mef3__realloc(w->slabs, nc * sizeof *ns);
    if (!ns)
      return -1;
    w->slabs = ns;
    w->cap_slabs = nc;
  }
  w->slabs[w->n_slabs++] = id;
  return 0;
}

/* Send job j to worker w (service thread): its slab first if needed.
 * Returns 0, -1 when the worker is lost (a send failed), or MEF3_ENOMEM
 * when the slab table cannot grow (nothing sent; the worker stays). */
static int dispatch(pworker *w, job *j) {
  mef3__slab *s = j->slab;
  if (s->dedicated || !worker_has_slab(w, s->id)) {
    /* Room to note the slab first: once sent, it must be remembered. */
    if (!s->dedicated && worker_note_slab(w, s->id) != 0)
      return MEF3_ENOMEM;
    uint8_t space[32];
    mef3__buf b = MEF3__BUF_ON(space);
    mef3__buf_u32(&b, MSG_SLAB);
    mef3__buf_u32(&b, s->id);
    mef3__buf_u64(&b, s->size);
    mef3__buf_u32(&b, (uint32_t)s->dedicated);
    if (send_frame(w, &b, s->fd) != 0)
      return -1;
  }
  return send_frame(w, &j->body, -1);
}

/* ---- building requests ---- */

/* Start of every request body: type, id, region. */
static void body_head(mef3__buf *b, int type, uint32_t id,
                      const mef3__region *r, size_t off, size_t len) {
  mef3__buf_u32(b, (uint32_t)type);
  mef3__buf_u32(b, id);
  mef3__buf_u32(b, r->slab->id);
  mef3__buf_u64(b, r->off + off);
  mef3__buf_u64(b, len);
}

/* What a request naming `key` opens: a path and a password. */
typedef struct file_access {
  char *path;     /* NULL: the key itself */
  char *password; /* NULL: none */
} file_access;

static void wipe(char *s) {
  if (!s)
    return;
  for (volatile char *c = s; *c; c++)
    *c = 0;
  mef3__free(s);
}

static void access_free(file_access *a) {
  if (!a)
    return;
  mef3__free(a->path);
  wipe(a->password);
  mef3__free(a);
}

/* The file a request names, as its body carries it: the path a worker
 * opens, then the password (pool locked). */
static void body_file_locked(mef3_pool *p, mef3__buf *b, const char *key) {
  const file_access *a = mef3__strmap_get(&p->passwords, key);
  mef3__buf_str(b, a && a->path ? a->path : key);
  mef3__buf_str(b, a && a->password ? a->password : "");
}

static void enqueue_locked(mef3_pool *p, job *j) {
  j->next = NULL;
  if (p->qtail)
    p->qtail->next = j;
  else
    p->qhead = j;
  p->qtail = j;
  p->qlen++;
}

static void *service(void *arg);

static int ensure_thread_locked(mef3_pool *p) {
  if (p->thread_started)
    return 0;
  if (pthread_create(&p->thread, NULL, service, p) != 0)
    return mef3__error(MEF3_ELIMIT, "cannot start the pool thread");
  p->thread_started = 1;
  return 0;
}

/* An INFO job for `path` (pool locked), targeted at worker `target`;
 * NULL with the error set (MEF3_ENOMEM, or the shared memory's). */
static job *info_job_locked(mef3_pool *p, const char *path, int target,
                            mef3_future *fut, size_t bytes) {
  job *j = mef3__calloc(1, sizeof *j);
  if (!j) {
    mef3__error(MEF3_ENOMEM, "%s: out of memory for a request", path);
    return NULL;
  }
  j->type = MSG_INFO;
  j->id = ++p->next_id;
  j->fut = fut;
  j->target = target;
  j->path = mef3__strdup(path);
  if (!j->path) {
    mef3__error(MEF3_ENOMEM, "%s: out of memory for a request", path);
    job_free(j);
    return NULL;
  }
  if (mef3__shm_alloc(&p->shm, bytes, &j->info_region)) {
    job_free(j);
    return NULL;
  }
  j->slab = j->info_region.slab;
  body_head(&j->body, MSG_INFO, j->id, &j->info_region, 0, j->info_region.len);
  body_file_locked(p, &j->body, path);
  if (j->body.oom) {
    mef3__error(MEF3_ENOMEM, "%s: out of memory for a request", path);
    job_free(j);
    return NULL;
  }
  return j;
}

/* Split [0, n) into up to k contiguous groups, sizes differing by one at
 * most, larger first (as the original). */
static size_t group_start(size_t n, size_t k, size_t g) {
  size_t q = n / k, r = n % k;
  return g * q + (g < r ? g : r);
}

/* Turn a window future into jobs, its file's table known (pool locked).
 * Returns 0 or an error with which the caller completes the future. */
static int expand_window_locked(mef3_pool *p, mef3_future *f, const finfo *fi) {
  int64_t nmin = -1;
  for (size_t k = 0; k < f->n_names; k++) {
    size_t i = 0;
    while (i < fi->n && strcmp(fi->names[i], f->names[k]))
      i++;
    if (i == fi->n)
      return mef3__error(MEF3_ENOTFOUND, "%s: no channel named \"%s\"", f->path,
                         f->names[k]);
    int64_t n = mef3_window_samples(f->t0, f->t1, fi->fs[i]);
    if (nmin < 0 || n < nmin)
      nmin = n;
  }
  size_t n = (size_t)(nmin < 0 ? 0 : nmin);
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
  job **made = mef3__calloc(groups, sizeof *made);
  size_t nm = 0;
  if (!made)
    return mef3__error(MEF3_ENOMEM, "%s: out of memory for a request", f->path);
  for (size_t g = 0; g < groups; g++) {
    size_t a = group_start(f->n_names, groups, g);
    size_t b = group_start(f->n_names, groups, g + 1);
    if (a == b)
      continue;
    job *j = mef3__calloc(1, sizeof *j);
    if (!j)
      goto nomem;
    made[nm++] = j;
    j->type = MSG_WINDOW;
    j->id = ++p->next_id;
    j->fut = f;
    j->target = -1;
    j->slab = f->region.slab;
    body_head(&j->body, MSG_WINDOW, j->id, &f->region, a * row, (b - a) * row);
    body_file_locked(p, &j->body, f->path);
    mef3__buf_u64(&j->body, (uint64_t)f->t0);
    mef3__buf_u64(&j->body, (uint64_t)f->t1);
    mef3__buf_u64(&j->body, n);
    mef3__buf_u32(&j->body, (uint32_t)(b - a));
    for (size_t k = a; k < b; k++)
      mef3__buf_str(&j->body, f->names[k]);
    if (j->body.oom)
      goto nomem;
  }
  f->parts_left = (int)nm;
  for (size_t i = 0; i < nm; i++)
    enqueue_locked(p, made[i]);
  mef3__free(made);
  return 0;
nomem:
  for (size_t i = 0; i < nm; i++)
    job_free(made[i]);
  mef3__free(made);
  return mef3__error(MEF3_ENOMEM, "%s: out of memory for a request", f->path);
}

/* ---- the service thread ---- */

static int parse_info(const uint8_t *p, size_t len, finfo **out) {
  mef3__cur c = {p, len, 0, 0};
  uint32_t n = mef3__cur_u32(&c);
  if (c.bad || n > len)
    return MEF3_ECORRUPT;
  finfo *fi = mef3__calloc(1, sizeof *fi);
  if (!fi)
    return MEF3_ENOMEM;
  fi->names = mef3__calloc(n ? n : 1, sizeof *fi->names);
  fi->fs = mef3__calloc(n ? n : 1, sizeof *fi->fs);
  if (!fi->names || !fi->fs) {
    finfo_free(fi);
    return MEF3_ENOMEM;
  }
  for (uint32_t i = 0; i < n; i++) {
    const char *name = mef3__cur_str(&c);
    fi->fs[i] = mef3__cur_f64(&c);
    mef3__cur_u64(&c);
    mef3__cur_u64(&c);
    mef3__cur_u64(&c);
    if (c.bad || !(fi->names[i] = mef3__strdup(name))) {
      fi->n = i;
      finfo_free(fi);
      return c.bad ? MEF3_ECORRUPT : MEF3_ENOMEM;
    }
    fi->n = i + 1;
  }
  *out = fi;
  return 0;
}

/* A finished INFO job (service thread, no lock held). */
static void info_done(mef3_pool *p, job *j, int rc, uint64_t bytes,
                      const char *msg) {
  finfo *fi = NULL;
  char buf[512];
  snprintf(buf, sizeof buf, "%s", msg ? msg : "");
  if (rc == MEF3_EBUFSIZE && bytes > j->info_region.len &&
      bytes < ((uint64_t)1 << 30)) {
    /* The table did not fit: ask again with room for it. */
    pthread_mutex_lock(&p->mu);
    job *again = info_job_locked(p, j->path, j->target, j->fut, bytes);
    if (again) {
      enqueue_locked(p, again);
      pthread_mutex_unlock(&p->mu);
      return;
    }
    pthread_mutex_unlock(&p->mu);
    rc = mef3_error_last()->code;
    snprintf(buf, sizeof buf, "%s", mef3_error_last()->message);
  }
  if (rc == 0) {
    rc = parse_info(j->info_region.ptr, (size_t)bytes, &fi);
    if (rc)
      snprintf(buf, sizeof buf, "%s: %s", j->path,
               rc == MEF3_ENOMEM ? "out of memory for its channel table"
                                 : "malformed channel table from a worker");
  }
  pthread_mutex_lock(&p->mu);
  mef3_future *w = NULL;
  finfo *unkept = NULL;
  if (rc == 0) {
    void *old = NULL;
    if (mef3__strmap_put(&p->info, j->path, fi, &old) == 0)
      finfo_free(old);
    else /* no room to keep it: the waiting windows still use it, and
            the next window of this file asks again */
      unkept = fi;
  }
  w = mef3__strmap_del(&p->waiting, j->path);
  /* Expand the waiting windows now, or fail them. */
  mef3_future *fail = NULL;
  for (mef3_future *f = w, *nx; f; f = nx) {
    nx = f->next_waiting;
    f->next_waiting = NULL;
    int e = rc;
    if (!e)
      e = expand_window_locked(p, f, fi);
    if (e) {
      if (e != rc)
        snprintf(f->message, sizeof f->message, "%s",
                 mef3_error_last()->message);
      else
        snprintf(f->message, sizeof f->message, "%s", buf);
      f->status = e;
      f->state = F_RUNNING;
      f->next_waiting = fail;
      fail = f;
    }
  }
  pthread_mutex_unlock(&p->mu);
  finfo_free(unkept);
  for (mef3_future *f = fail, *nx; f; f = nx) {
    nx = f->next_waiting;
    char m[512];
    snprintf(m, sizeof m, "%s", f->message);
    future_complete(p, f, f->status, m);
  }
  if (j->fut)
    future_complete(p, j->fut, rc, buf);
}

/* A finished job of a future (service thread, no lock held). */
static void job_done(mef3_pool *p, job *j, int rc, uint64_t bytes,
                     const char *msg) {
  if (j->type == MSG_INFO) {
    info_done(p, j, rc, bytes, msg);
    return;
  }
  mef3_future *f = j->fut;
  pthread_mutex_lock(&p->mu);
  p->st.bytes_decoded += rc == 0 ? bytes : 0;
  if (rc && f->status == 0) {
    f->status = rc;
    snprintf(f->message, sizeof f->message, "%s", msg);
  }
  int last = --f->parts_left == 0;
  pthread_mutex_unlock(&p->mu);
  if (last) {
    char m[512];
    snprintf(m, sizeof m, "%s", f->message);
    future_complete(p, f, f->status, m);
  }
}

static void forget_free(forget_msg *m) {
  mef3__buf_free(&m->frame);
  mef3__free(m);
}

static void send_forgets(mef3_pool *p, forget_msg *list) {
  for (forget_msg *m = list, *nx; m; m = nx) {
    nx = m->next;
    for (int i = 0; i < p->nw; i++)
      if (p->w[i].state != W_DOWN)
        send_frame(&p->w[i], &m->frame, -1); /* a dead one shows in poll */
    forget_free(m);
  }
}

/* What a worker's end means for its request: the code and the words. */
static int describe_exit(char *buf, size_t len, int st) {
  if (WIFSIGNALED(st)) {
    snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(st),
             strsignal(WTERMSIG(st)));
    return MEF3_EWORKER;
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == MEF3__WORKER_EXIT_NOMEM) {
    snprintf(buf, len, "ran out of memory (exit status %d)", WEXITSTATUS(st));
    return MEF3_ENOMEM;
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == MEF3__WORKER_EXIT_NOFD) {
    snprintf(buf, len,
             "ran out of descriptors for shared memory (exit status %d)",
             WEXITSTATUS(st));
    return MEF3_ELIMIT;
  }
  if (WIFEXITED(st))
    snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
  else
    snprintf(buf, len, "ended");
  return MEF3_EWORKER;
}

/* Worker i died or broke the protocol (service thread, no lock held):
 * `kill_it` for one that may still run (a protocol error, the end of the
 * shutdown grace period), else it is gone (its socket closed). */
static void worker_lost(mef3_pool *p, int i, int kill_it) {
  pworker *w = &p->w[i];
  pthread_mutex_lock(&p->mu);
  job *j = w->cur;
  w->cur = NULL;
  int stopping = p->stopping;
  if (!stopping)
    p->st.worker_restarts++;
  pthread_mutex_unlock(&p->mu);
  pid_t pid = w->pid;
  if (w->served == 0 && !stopping) {
    int k = p->early_deaths < 7 ? p->early_deaths : 7;
    p->early_deaths++;
    p->respawn_at = now_ms() + ((int64_t)10 << k); /* 10 ms .. 1.3 s */
  }
  int st = reap(p, w, kill_it);
  if (j) {
    char why[128], msg[512];
    int code = describe_exit(why, sizeof why, st);
    /* the request's file: the first field after its head (body_head) */
    mef3__cur c = {j->body.p, j->body.len, 28, 0};
    const char *path = mef3__cur_str(&c);
    snprintf(msg, sizeof msg,
             "%s pool: worker %d (pid %d) %s while serving a request%s%s",
             p->name, i, (int)pid, why, *path ? " for " : "", path);
    job_done(p, j, code, 0, msg);
    job_free(j);
  }
}

/* Pick the next job worker i may take (pool locked). */
static job *take_locked(mef3_pool *p, int i) {
  job **pp = &p->qhead, *prev = NULL;
  for (job *j = p->qhead; j; prev = j, j = j->next) {
    if (j->target >= 0 && j->target != i) {
      pp = &j->next;
      continue;
    }
    *pp = j->next;
    if (p->qtail == j)
      p->qtail = prev;
    p->qlen--;
    if (j->fut && j->fut->state == F_QUEUED)
      j->fut->state = F_RUNNING;
    return j;
  }
  return NULL;
}

static int64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void *service(void *arg) {
  mef3_pool *p = arg;
  struct pollfd *pf = p->pfds;
  int *who = p->pfd_worker;
  mef3__buf *in = &p->in;
  int64_t stop_at = -1;
  for (;;) {
    pthread_mutex_lock(&p->mu);
    forget_msg *forgets = p->forgets;
    p->forgets = NULL;
    int busy = 0, live = 0;
    for (int i = 0; i < p->nw; i++) {
      busy += p->w[i].state == W_BUSY;
      live += p->w[i].state != W_DOWN;
    }
    if (p->stopping && busy == 0 && p->qlen == 0) {
      pthread_mutex_unlock(&p->mu);
      send_forgets(p, forgets);
      break;
    }
    if (p->stopping && stop_at < 0)
      stop_at = now_ms() + SHUTDOWN_GRACE_MS;
    /* Start workers for the work that waits, and to keep the size (all
     * of them when warming; replacing those that died), the latter not
     * before respawn_at. */
    int want = live + (int)p->qlen;
    int keep = p->warm ? p->nw : p->high;
    int64_t respawn_wait = -1;
    if (keep > want) {
      int64_t now = now_ms();
      if (p->respawn_at <= now)
        want = keep;
      else
        respawn_wait = p->respawn_at - now;
    }
    if (want > p->nw)
      want = p->nw;
    int to_spawn = p->stopping ? 0 : want - live;
    pthread_mutex_unlock(&p->mu);
    send_forgets(p, forgets);
    for (int i = 0; i < p->nw && to_spawn > 0; i++) {
      if (p->w[i].state != W_DOWN)
        continue;
      int src = spawn_worker(p, &p->w[i]);
      if (src != 0) {
        /* Cannot start a worker: fail the work only it could do (all of
         * it when no worker runs) rather than leave it waiting, with the
         * reason (MEF3_ELIMIT when descriptors ran out). */
        char msg[512];
        snprintf(msg, sizeof msg, "%s", mef3_error_last()->message);
        job *failed = NULL;
        pthread_mutex_lock(&p->mu);
        job **pp = &p->qhead, *last = NULL;
        while (*pp) {
          job *j = *pp;
          if (j->target == i || live == 0) {
            *pp = j->next;
            p->qlen--;
            if (j->fut && j->fut->state == F_QUEUED)
              j->fut->state = F_RUNNING;
            j->next = failed;
            failed = j;
          } else {
            last = j;
            pp = &j->next;
          }
        }
        p->qtail = last;
        if (live == 0)
          p->high = 0;
        pthread_mutex_unlock(&p->mu);
        for (job *j = failed, *nx; j; j = nx) {
          nx = j->next;
          job_done(p, j, src, 0, msg);
          job_free(j);
        }
        break;
      }
      live++;
      to_spawn--;
    }
    pthread_mutex_lock(&p->mu);
    if (live > p->high)
      p->high = live;
    pthread_mutex_unlock(&p->mu);
    /* Hand work to idle workers. */
    for (int i = 0; i < p->nw; i++) {
      pworker *w = &p->w[i];
      if (w->state != W_IDLE)
        continue;
      pthread_mutex_lock(&p->mu);
      job *j = p->stopping ? NULL : take_locked(p, i);
      if (j) {
        w->state = W_BUSY;
        w->cur = j;
      }
      pthread_mutex_unlock(&p->mu);
      int drc = j ? dispatch(w, j) : 0;
      if (drc == MEF3_ENOMEM) { /* nothing sent: the worker stays idle */
        pthread_mutex_lock(&p->mu);
        w->cur = NULL;
        w->state = W_IDLE;
        pthread_mutex_unlock(&p->mu);
        char msg[512];
        snprintf(msg, sizeof msg,
                 "%s pool: out of memory for the table of shared memory "
                 "a worker has mapped",
                 p->name);
        job_done(p, j, MEF3_ENOMEM, 0, msg);
        job_free(j);
      } else if (drc != 0) {
        worker_lost(p, i, 0); /* the send failed: it is gone */
      }
    }
    /* Wait for completions, deaths and wake-ups. */
    int n = 0;
    pf[n].fd = p->wake_fd;
    pf[n].events = POLLIN;
    who[n++] = -1;
    for (int i = 0; i < p->nw; i++)
      if (p->w[i].state != W_DOWN) {
        pf[n].fd = p->w[i].sock;
        pf[n].events = POLLIN;
        who[n++] = i;
      }
    int timeout = -1;
    if (stop_at >= 0) {
      int64_t left = stop_at - now_ms();
      timeout = left > 0 ? (int)left : 0;
    } else if (respawn_wait >= 0) {
      timeout = (int)respawn_wait + 1;
    }
    int k = poll(pf, (nfds_t)n, timeout);
    if (k < 0 && errno != EINTR)
      break;
    if (k == 0 && stop_at >= 0) {
      /* Grace period over: end the workers still busy. */
      for (int i = 0; i < p->nw; i++)
        if (p->w[i].state == W_BUSY)
          worker_lost(p, i, 1);
      continue;
    }
    for (int x = 0; x < n && k > 0; x++) {
      if (!pf[x].revents)
        continue;
      if (who[x] < 0) {
        drain(p->wake_fd);
        continue;
      }
      int i = who[x];
      pworker *w = &p->w[i];
      int fd = -1;
      int r = mef3__frame_recv(w->sock, in, &fd);
      int rerr = errno;
      if (fd >= 0)
        close(fd);
      mef3__cur c = {in->p, in->len, 0, 0};
      uint32_t type = r == 1 ? mef3__cur_u32(&c) : 0;
      uint32_t id = mef3__cur_u32(&c);
      int rc = (int)mef3__cur_u32(&c);
      uint64_t bytes = mef3__cur_u64(&c);
      const char *msg = mef3__cur_str(&c);
      if (r != 1 || c.bad || type != MSG_DONE || !w->cur || w->cur->id != id) {
        /* end of stream, or reset: it is gone; else it broke the protocol
         * (a frame too long, one it should not send) and is ended */
        int gone = r == 0 || (r < 0 && rerr != EPROTO && rerr != ENOMEM);
        worker_lost(p, i, !gone);
        continue;
      }
      job *j = w->cur;
      pthread_mutex_lock(&p->mu);
      w->cur = NULL;
      w->state = W_IDLE;
      pthread_mutex_unlock(&p->mu);
      w->served++;
      p->early_deaths = 0;
      job_done(p, j, rc, bytes, msg);
      job_free(j);
    }
  }
  /* Close every socket (workers exit on end of stream) and reap. */
  for (int i = 0; i < p->nw; i++) {
    pworker *w = &p->w[i];
    if (w->state == W_DOWN)
      continue;
    close(w->sock);
    w->sock = -1;
    int st;
    int64_t until = now_ms() + 2000;
    while (waitpid(w->pid, &st, WNOHANG) == 0) {
      if (now_ms() > until) {
        kill(w->pid, SIGKILL);
        while (waitpid(w->pid, &st, 0) < 0 && errno == EINTR)
          ;
        break;
      }
      struct timespec ts = {0, 1000000};
      nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&p->mu);
    w->state = W_DOWN;
    pthread_mutex_unlock(&p->mu);
  }
  return NULL;
}

/* ---- the pool API ---- */

int mef3_pool_new(mef3_pool **out, const mef3_pool_options *opts) {
  *out = NULL;
  mef3_pool_options o = MEF3_POOL_OPTIONS_INIT;
  if (opts) {
    if (opts->version != MEF3_POOL_OPTIONS_VERSION)
      return mef3__error(MEF3_EINVAL, "pool options version %u, expected %u",
                         opts->version, MEF3_POOL_OPTIONS_VERSION);
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
  const char *wp = find_worker(o.worker_path, self);
  if (!wp)
    return mef3__error(MEF3_ENOTFOUND,
                       "worker program not found (tried %s, "
                       "$MEF3POOL_WORKER, next to the executable, %s)",
                       o.worker_path ? o.worker_path : "no option",
                       MEF3_WORKER_INSTALL_PATH);
  mef3_pool *p = mef3__calloc(1, sizeof *p);
  if (!p)
    return mef3__error(MEF3_ENOMEM, "out of memory for a pool");
  p->opts = o;
  p->opts.worker_path = NULL;
  p->opts.name = NULL;
  p->nw = o.max_workers;
  p->wake_fd = p->ev_fd = -1;
  int rc = 0, mu = 0, shm = 0;
  p->worker_path = mef3__strdup(wp);
  p->name = mef3__strdup(o.name ? o.name : "reader");
  p->w = mef3__calloc((size_t)p->nw, sizeof *p->w);
  p->pfds = mef3__calloc((size_t)p->nw + 1, sizeof *p->pfds);
  p->pfd_worker = mef3__calloc((size_t)p->nw + 1, sizeof *p->pfd_worker);
  /* The CONFIG frame, and an input buffer large enough for any answer
   * (a worker's MSG_DONE is at most a few hundred bytes). */
  mef3__buf_u32(&p->config, MSG_CONFIG);
  mef3__buf_u32(&p->config, (uint32_t)o.max_readers_per_worker);
  mef3__buf_u32(&p->config, (uint32_t)(o.check_block_crc != 0));
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
  if (rc) {
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
    return rc;
  }
  for (int i = 0; i < p->nw; i++) {
    p->w[i].sock = -1;
    p->w[i].state = W_DOWN;
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

void mef3_pool_stats_get(mef3_pool *p, mef3_pool_stats *out) {
  memset(out, 0, sizeof *out);
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  *out = p->st;
  out->queue_depth = (uint32_t)p->qlen;
  for (int i = 0; i < p->nw; i++) {
    out->busy_workers += p->w[i].state == W_BUSY;
    out->live_workers += p->w[i].state != W_DOWN;
  }
  pthread_mutex_unlock(&p->mu);
  pthread_mutex_lock(&p->shm.mu);
  out->shm_bytes = p->shm.mapped;
  pthread_mutex_unlock(&p->shm.mu);
}

int mef3_pool_set_password(mef3_pool *p, const char *path,
                           const char *password) {
  return mef3_pool_set_access(p, path, path, password);
}

static int forget_path(mef3_pool *p, const char *key, const char *path);

int mef3_pool_set_access(mef3_pool *p, const char *key, const char *path,
                         const char *password) {
  if (!p || !key)
    return mef3__error(MEF3_EINVAL, "no pool or key");
  file_access *a = NULL;
  int same = !path || !strcmp(path, key);
  int keep = path && (!same || (password && *password));
  if (keep) {
    a = mef3__calloc(1, sizeof *a);
    if (!a || (!same && !(a->path = mef3__strdup(path))) ||
        (password && *password && !(a->password = mef3__strdup(password)))) {
      access_free(a);
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
  char *forget = mef3__strdup(old && ((file_access *)old)->path
                                  ? ((file_access *)old)->path
                                  : path ? path : key);
  pthread_mutex_unlock(&p->mu);
  access_free(old);
  if (rc) {
    mef3__free(forget);
    access_free(a);
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
  const file_access *a = mef3__strmap_get(&p->passwords, path);
  char *real = mef3__strdup(a && a->path ? a->path : path);
  pthread_mutex_unlock(&p->mu);
  if (!real)
    return mef3__error(MEF3_ENOMEM, "%s: out of memory to forget it", path);
  int rc = forget_path(p, path, real);
  mef3__free(real);
  return rc;
}

/* Drop what the pool knows of `key` and make every worker close its
 * readers of `path`. */
static int forget_path(mef3_pool *p, const char *key, const char *path) {
  /* The frame is built here, where running out of memory can be said:
   * the service thread then only sends it. */
  forget_msg *m = mef3__calloc(1, sizeof *m);
  if (m) {
    mef3__buf_u32(&m->frame, MSG_FORGET);
    mef3__buf_str(&m->frame, path);
  }
  if (!m || m->frame.oom) {
    if (m)
      forget_free(m);
    return mef3__error(MEF3_ENOMEM, "%s: out of memory to forget it", path);
  }
  pthread_mutex_lock(&p->mu);
  finfo_free(mef3__strmap_del(&p->info, key));
  int started = p->thread_started;
  if (started) {
    m->next = p->forgets;
    p->forgets = m;
  }
  pthread_mutex_unlock(&p->mu);
  if (!started) { /* no worker has ever run: nothing to forget */
    forget_free(m);
  } else {
    wake(p->wake_fd);
  }
  return 0;
}

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
  mef3_future *f = future_new(p, K_TILES);
  job *j = mef3__calloc(1, sizeof *j);
  int rc = MEF3_ENOMEM;
  if (!f || !j)
    goto fail;
  f->dim0 = n;
  f->dim1 = (size_t)S;
  if ((rc = mef3__shm_alloc(&p->shm, n * (size_t)S * sizeof(float),
                            &f->region)) != 0)
    goto fail;
  j->type = MSG_TILES;
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
  body_head(&j->body, MSG_TILES, j->id, &f->region, 0, f->region.len);
  body_file_locked(p, &j->body, path);
  mef3__buf_str(&j->body, channel);
  mef3__buf_f64(&j->body, fs);
  mef3__buf_u64(&j->body, (uint64_t)cs);
  mef3__buf_u64(&j->body, (uint64_t)S);
  mef3__buf_u32(&j->body, (uint32_t)n);
  for (size_t i = 0; i < n; i++)
    mef3__buf_u64(&j->body, (uint64_t)blocks[i]);
  if (j->body.oom || ensure_thread_locked(p) != 0) {
    pthread_mutex_unlock(&p->mu);
    rc = j->body.oom ? mef3__error(MEF3_ENOMEM, "out of memory") : MEF3_ELIMIT;
    goto fail;
  }
  f->parts_left = 1;
  enqueue_locked(p, j);
  p->st.requests++;
  pthread_mutex_unlock(&p->mu);
  wake(p->wake_fd);
  *out = f;
  return 0;
fail:
  job_free(j);
  if (f) {
    atomic_store(&f->refs, 1);
    future_unref(f);
  }
  return rc == MEF3_ENOMEM ? mef3__error(rc, "out of memory") : rc;
}

/* Submit a window future (also used for prefetch chunks). */
static int submit_window(mef3_future **out, mef3_pool *p, const char *path,
                         const char *const *channels, size_t nch, int64_t t0,
                         int64_t t1, int n_splits) {
  *out = NULL;
  if (!p || !path || (nch && !channels))
    return mef3__error(MEF3_EINVAL, "missing argument");
  if (nch == 0)
    return mef3__error(MEF3_EINVAL, "channels must be non-empty");
  if (t1 < t0)
    return mef3__error(MEF3_EINVAL, "window end before its start");
  mef3_future *f = future_new(p, K_WINDOW);
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
    atomic_store(&f->refs, 1);
    future_unref(f);
    return mef3__error(rc, rc == MEF3_EINVAL ? "a channel name is NULL"
                                             : "out of memory");
  }
  pthread_mutex_lock(&p->mu);
  if (p->stopping) {
    pthread_mutex_unlock(&p->mu);
    atomic_store(&f->refs, 1);
    future_unref(f);
    return mef3__error(MEF3_ECANCELED, "the pool is shutting down");
  }
  if ((rc = ensure_thread_locked(p)) != 0) {
    pthread_mutex_unlock(&p->mu);
    atomic_store(&f->refs, 1);
    future_unref(f);
    return rc;
  }
  finfo *fi = mef3__strmap_get(&p->info, path);
  if (fi) {
    rc = expand_window_locked(p, f, fi);
    if (rc && rc != MEF3_ENOMEM) {
      /* A bad request (an unknown channel) fails through its future, as
       * it does when the file's table is not known yet. */
      char msg[512];
      snprintf(msg, sizeof msg, "%s", mef3_error_last()->message);
      f->state = F_RUNNING;
      p->st.requests++;
      pthread_mutex_unlock(&p->mu);
      future_complete(p, f, rc, msg);
      *out = f;
      return 0;
    }
  } else {
    mef3_future *head = mef3__strmap_get(&p->waiting, path);
    if (!head) { /* first window of this file: learn its channels */
      job *ij = info_job_locked(p, path, -1, NULL, INFO_BYTES);
      if (!ij)
        rc = mef3_error_last()->code;
      else
        enqueue_locked(p, ij);
    }
    if (!rc) {
      f->next_waiting = head;
      if (mef3__strmap_put(&p->waiting, path, f, NULL) != 0)
        rc = mef3__error(MEF3_ENOMEM, "out of memory");
    }
  }
  if (rc) {
    pthread_mutex_unlock(&p->mu);
    atomic_store(&f->refs, 1);
    future_unref(f);
    return rc;
  }
  p->st.requests++;
  pthread_mutex_unlock(&p->mu);
  wake(p->wake_fd);
  *out = f;
  return 0;
}

int mef3_pool_read_window(mef3_future **out, mef3_pool *p, const char *path,
                          const char *const *channels, size_t n, int64_t t0,
                          int64_t t1, int n_splits) {
  return submit_window(out, p, path, channels, n, t0, t1, n_splits);
}

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
  int rc = submit_window(&f, p, path, channels, n, t0, t1, 1);
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

int mef3_pool_warmup(mef3_pool *p, const char *path, const char *channel,
                     int64_t timeout_ms) {
  if (!p || !path)
    return mef3__error(MEF3_EINVAL, "missing argument");
  (void)channel; /* opening the reader reads every channel's metadata */
  mef3_future **fs = mef3__calloc((size_t)p->nw, sizeof *fs);
  if (!fs)
    return mef3__error(MEF3_ENOMEM, "out of memory");
  int rc = 0;
  pthread_mutex_lock(&p->mu);
  if (p->stopping)
    rc = mef3__error(MEF3_ECANCELED, "the pool is shutting down");
  if (!rc)
    rc = ensure_thread_locked(p);
  if (!rc) {
    p->warm = 1;
    p->st.requests += (uint64_t)p->nw;
  }
  for (int i = 0; !rc && i < p->nw; i++) {
    fs[i] = future_new(p, K_INFO);
    job *j = fs[i] ? info_job_locked(p, path, i, fs[i], INFO_BYTES) : NULL;
    if (!j) {
      rc = fs[i] ? mef3_error_last()->code
                 : mef3__error(MEF3_ENOMEM, "out of memory for a request");
      if (fs[i]) {
        atomic_store(&fs[i]->refs, 1);
        future_unref(fs[i]);
        fs[i] = NULL;
      }
      break;
    }
    fs[i]->parts_left = 1;
    enqueue_locked(p, j);
  }
  pthread_mutex_unlock(&p->mu);
  wake(p->wake_fd);
  int first = rc;
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

void mef3_pool_free(mef3_pool *p) {
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  p->stopping = 1;
  /* Queued jobs: their futures are canceled (or, for a window some of
   * whose parts already run, finish as canceled). */
  job *q = p->qhead;
  p->qhead = p->qtail = NULL;
  p->qlen = 0;
  /* Windows waiting for a channel table. */
  mef3_future *waiting = NULL;
  size_t it = 0;
  const char *key;
  void *val;
  while (mef3__strmap_next(&p->waiting, &it, &key, &val)) {
    mef3_future *f = val;
    while (f) {
      mef3_future *nx = f->next_waiting;
      f->next_waiting = waiting;
      waiting = f;
      f = nx;
    }
  }
  mef3__strmap_dispose(&p->waiting);
  /* Prefetched chunks nobody took. */
  mef3_future **chunks = NULL;
  size_t nchunks = 0;
  if (p->chunks.used) {
    chunks = mef3__calloc(p->chunks.used, sizeof *chunks);
    it = 0;
    while (chunks && mef3__strmap_next(&p->chunks, &it, &key, &val))
      chunks[nchunks++] = val;
  }
  mef3__strmap_dispose(&p->chunks);
  pthread_mutex_unlock(&p->mu);

  for (job *j = q, *nx; j; j = nx) {
    nx = j->next;
    mef3_future *f = j->fut;
    if (j->type == MSG_INFO) {
      if (f)
        future_complete(p, f, MEF3_ECANCELED, "canceled: pool shut down");
    } else {
      pthread_mutex_lock(&p->mu);
      if (f->status == 0) {
        f->status = MEF3_ECANCELED;
        snprintf(f->message, sizeof f->message, "canceled: pool shut down");
      }
      int last = --f->parts_left == 0;
      pthread_mutex_unlock(&p->mu);
      if (last)
        future_complete(p, f, MEF3_ECANCELED, "canceled: pool shut down");
    }
    job_free(j);
  }
  for (mef3_future *f = waiting, *nx; f; f = nx) {
    nx = f->next_waiting;
    future_complete(p, f, MEF3_ECANCELED, "canceled: pool shut down");
  }
  for (size_t i = 0; i < nchunks; i++)
    mef3_future_free(chunks[i]);
  mef3__free(chunks);

  if (p->thread_started) {
    wake(p->wake_fd);
    pthread_join(p->thread, NULL);
  }
  for (int i = 0; i < p->nw; i++)
    mef3__free(p->w[i].slabs);
  mef3__free(p->w);
  for (forget_msg *m = p->forgets, *nx; m; m = nx) {
    nx = m->next;
    forget_free(m);
  }
  it = 0;
  while (mef3__strmap_next(&p->info, &it, &key, &val))
    finfo_free(val);
  mef3__strmap_dispose(&p->info);
  it = 0;
  while (mef3__strmap_next(&p->passwords, &it, &key, &val))
    access_free(val);
  mef3__strmap_dispose(&p->passwords);
  mef3__shm_dispose(&p->shm);
  close(p->wake_fd);
  close(p->ev_fd);
  pthread_mutex_destroy(&p->mu);
  mef3__buf_free(&p->config);
  mef3__buf_free(&p->in);
  mef3__free(p->pfds);
  mef3__free(p->pfd_worker);
  mef3__free(p->worker_path);
  mef3__free(p->name);
  mef3__free(p);
}
