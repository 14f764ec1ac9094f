/*
 * pool/process.c - the worker processes of a pool, from the host's side:
 * finding the worker program, starting workers, keeping the pool's size,
 * the back-off for workers that die young, reaping.
 *
 * Workers are started with posix_spawn() of the worker program, never by
 * fork(): the host may run many threads.  A worker gets its socket as
 * descriptor 3 and nothing else, default signal handlers, an empty signal
 * mask and its own process group (a terminal's Ctrl-C reaches only the
 * host).  It exits when its socket closes.
 *
 * Threads: everything here but mef3__find_worker runs on the service
 * thread, which alone starts and reaps workers; a worker's `state` is
 * written under the pool lock because the counters read it.
 *
 * Size and back-off.  Workers start as work appears, up to max_workers; a
 * pool keeps as many running as it has ever run at once (all with
 * warm-up).  Replacing workers that died before answering anything waits
 * 10 ms, then 20, 40, ... up to 1.3 s, so that a broken program or
 * environment is not restarted in a busy loop; work that waits starts a
 * worker at once all the same, and fails with the reason if none can.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pool/pool_impl.h"
#include "util/error.h"

extern char **environ;

#ifndef MEF3_WORKER_INSTALL_PATH
#define MEF3_WORKER_INSTALL_PATH "/usr/local/libexec/mef3pool/mef3pool-worker"
#endif

/* A worker whose socket closed is exiting, with a status that says why:
 * it gets this long before a kill would overwrite that status. */
#define EXIT_GRACE_MS 2000

const char *mef3__find_worker(const char *opt, char self[PATH_MAX]) {
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

/* Spawn the worker program on the child end `child` of its socket. */
static int spawn_program(mef3_pool *p, int child, pid_t *pid) {
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
  int rc = posix_spawn(pid, p->worker_path, &fa, &at, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  return rc;
}

/* Start worker `w` (no lock held): 0, or the reason with the error set. */
static int spawn_worker(mef3_pool *p, mef3__pworker *w) {
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
  pid_t pid;
  int rc = spawn_program(p, child, &pid);
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
  w->state = MEF3__W_IDLE; /* a failed send shows up as a hang-up in poll */
  pthread_mutex_unlock(&p->mu);
  (void)mef3__frame_send(w->sock, &p->config, -1);
  return 0;
}

/* Close worker w's socket and reap it: killed at once with `kill_it`,
 * else given EXIT_GRACE_MS to finish exiting first. */
static int reap(mef3_pool *p, mef3__pworker *w, int kill_it) {
  int st = 0;
  if (w->sock >= 0)
    close(w->sock);
  w->sock = -1;
  if (!kill_it) {
    int64_t until = mef3__now_ms() + EXIT_GRACE_MS;
    pid_t r;
    while ((r = waitpid(w->pid, &st, WNOHANG)) == 0 && mef3__now_ms() < until) {
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
  w->state = MEF3__W_DOWN;
  pthread_mutex_unlock(&p->mu);
  w->n_slabs = 0;
  return st;
}

int mef3__worker_end(mef3_pool *p, mef3__pworker *w, int kill_it,
                     int stopping) {
  if (w->served == 0 && !stopping) {
    int k = p->early_deaths < 7 ? p->early_deaths : 7;
    p->early_deaths++;
    p->respawn_at = mef3__now_ms() + ((int64_t)10 << k); /* 10 ms .. 1.3 s */
  }
  return reap(p, w, kill_it);
}

int mef3__workers_wanted_locked(mef3_pool *p, int live, int64_t *wait_ms) {
  /* For the work that waits, and to keep the size (all of them when
   * warming; replacing those that died), the latter not before
   * respawn_at. */
  int want = live + (int)p->qlen;
  int keep = p->warm ? p->nw : p->high;
  *wait_ms = -1;
  if (keep > want) {
    int64_t now = mef3__now_ms();
    if (p->respawn_at <= now)
      want = keep;
    else
      *wait_ms = p->respawn_at - now;
  }
  if (want > p->nw)
    want = p->nw;
  return want - live;
}

/* Worker i cannot start: fail the work only it could do (all of it when
 * no worker runs) rather than leave it waiting, with the reason in the
 * error (MEF3_ELIMIT when descriptors ran out). */
static void fail_unstartable(mef3_pool *p, int i, int live, int rc) {
  char msg[512];
  snprintf(msg, sizeof msg, "%s", mef3_error_last()->message);
  mef3__job *failed = NULL;
  pthread_mutex_lock(&p->mu);
  mef3__job **pp = &p->qhead, *last = NULL;
  while (*pp) {
    mef3__job *j = *pp;
    if (j->target == i || live == 0) {
      *pp = j->next;
      p->qlen--;
      if (j->fut && j->fut->state == MEF3__FUT_QUEUED)
        j->fut->state = MEF3__FUT_RUNNING;
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
  mef3__jobs_fail(p, failed, rc, msg);
}

int mef3__workers_start(mef3_pool *p, int live, int n) {
  for (int i = 0; i < p->nw && n > 0; i++) {
    if (p->w[i].state != MEF3__W_DOWN)
      continue;
    int rc = spawn_worker(p, &p->w[i]);
    if (rc != 0) {
      fail_unstartable(p, i, live, rc);
      break;
    }
    live++;
    n--;
  }
  pthread_mutex_lock(&p->mu);
  if (live > p->high)
    p->high = live;
  pthread_mutex_unlock(&p->mu);
  return live;
}

int mef3__describe_exit(char *buf, size_t len, int st) {
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

void mef3__workers_close_all(mef3_pool *p) {
  /* Workers exit on end of stream; one that does not is killed. */
  for (int i = 0; i < p->nw; i++)
    if (p->w[i].state != MEF3__W_DOWN)
      reap(p, &p->w[i], 0);
}
