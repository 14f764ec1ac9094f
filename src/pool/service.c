/*
 * pool/service.c - the service thread: one per pool, started with the
 * first request.
 *
 * It is the only thread that sends to or receives from a worker.  Each
 * turn it takes the FORGET frames callers left, starts workers for the
 * work that waits (process.c), hands every idle worker the next job it
 * may take (first the descriptor of a slab the worker has not mapped
 * yet), then sleeps in poll() on the workers' sockets and its wake-up
 * eventfd.  An answer (MEF3__MSG_DONE) completes its job's part of a future;
 * end of stream or a frame that breaks the protocol is a lost worker,
 * whose job fails with what its exit status says, and which the next turn
 * replaces.  Futures complete and callbacks run here with no pool lock
 * held.
 *
 * Shutdown: when the pool is stopping the thread takes no new job, gives
 * running ones SHUTDOWN_GRACE_MS and then kills their workers, and ends
 * once no worker is busy and the queue is empty, closing every socket and
 * reaping every worker.
 *
 * Memory: what the thread needs every turn (the poll set, the input
 * buffer, the CONFIG frame) comes with the pool and bounded frames are
 * built on its stack, so it never fails silently; a worker's slab table
 * that cannot grow fails that one job with MEF3_ENOMEM.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pool/pool_impl.h"
#include "util/alloc.h"
#include "util/error.h"

#define SHUTDOWN_GRACE_MS 10000

void mef3__job_done(mef3_pool *p, mef3__job *j, int rc, uint64_t bytes,
                    const char *msg) {
  if (j->type == MEF3__MSG_INFO) {
    mef3__chantab_info_done(p, j, rc, bytes, msg);
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
    mef3__future_complete(p, f, f->status, m);
  }
}

void mef3__jobs_fail(mef3_pool *p, mef3__job *list, int rc, const char *msg) {
  for (mef3__job *j = list, *nx; j; j = nx) {
    nx = j->next;
    mef3__job_done(p, j, rc, 0, msg);
    mef3__job_free(j);
  }
}

static void *service(void *arg);

int mef3__service_start_locked(mef3_pool *p) {
  if (p->thread_started)
    return 0;
  if (pthread_create(&p->thread, NULL, service, p) != 0)
    return mef3__error(MEF3_ELIMIT, "cannot start the pool thread");
  p->thread_started = 1;
  return 0;
}

/* ---- talking to one worker ---- */

static int worker_has_slab(mef3__pworker *w, uint32_t id) {
  for (size_t i = 0; i < w->n_slabs; i++)
    if (w->slabs[i] == id)
      return 1;
  return 0;
}

static int worker_note_slab(mef3__pworker *w, uint32_t id) {
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

/* Send job j to worker w: its slab first if needed.  Returns 0, -1 when
 * the worker is lost (a send failed), or MEF3_ENOMEM when the slab table
 * cannot grow (nothing sent; the worker stays). */
static int dispatch(mef3__pworker *w, mef3__job *j) {
  mef3__slab *s = j->slab;
  if (s->dedicated || !worker_has_slab(w, s->id)) {
    /* Room to note the slab first: once sent, it must be remembered. */
    if (!s->dedicated && worker_note_slab(w, s->id) != 0)
      return MEF3_ENOMEM;
    uint8_t space[32];
    mef3__buf b = MEF3__BUF_ON(space);
    mef3__buf_u32(&b, MEF3__MSG_SLAB);
    mef3__buf_u32(&b, s->id);
    mef3__buf_u64(&b, s->size);
    mef3__buf_u32(&b, (uint32_t)s->dedicated);
    if (mef3__frame_send(w->sock, &b, s->fd) != 0)
      return -1;
  }
  return mef3__frame_send(w->sock, &j->body, -1);
}

/* Worker i died or broke the protocol (no lock held): `kill_it` for one
 * that may still run (a protocol error, the end of the shutdown grace
 * period), else it is gone (its socket closed).  Its job fails with what
 * its exit status says. */
static void worker_lost(mef3_pool *p, int i, int kill_it) {
  mef3__pworker *w = &p->w[i];
  pthread_mutex_lock(&p->mu);
  mef3__job *j = w->cur;
  w->cur = NULL;
  int stopping = p->stopping;
  if (!stopping)
    p->st.worker_restarts++;
  pthread_mutex_unlock(&p->mu);
  pid_t pid = w->pid;
  int st = mef3__worker_end(p, w, kill_it, stopping);
  /* A turn must plan again after any loss: a send that found the worker
   * dead (hand_out) is followed by a wait, which without this would sleep
   * with requests queued and no worker to start (test_pool_faults, "kill
   * while busy"). */
  mef3__pool_wake(p->wake_fd);
  if (j) {
    char why[128], msg[512];
    int code = mef3__describe_exit(why, sizeof why, st);
    /* the request's file: the first field after its head (body_head) */
    mef3__cur c = {j->body.p, j->body.len, 28, 0};
    const char *path = mef3__cur_str(&c);
    snprintf(msg, sizeof msg,
             "%s pool: worker %d (pid %d) %s while serving a request%s%s",
             p->name, i, (int)pid, why, *path ? " for " : "", path);
    mef3__job_done(p, j, code, 0, msg);
    mef3__job_free(j);
  }
}

/* Worker i's socket is readable: its answer, or its end. */
static void on_readable(mef3_pool *p, int i) {
  mef3__pworker *w = &p->w[i];
  mef3__buf *in = &p->in;
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
  if (r != 1 || c.bad || type != MEF3__MSG_DONE || !w->cur ||
      w->cur->id != id) {
    /* end of stream, or reset: it is gone; else it broke the protocol
     * (a frame too long, one it should not send) and is ended */
    int gone = r == 0 || (r < 0 && rerr != EPROTO && rerr != ENOMEM);
    worker_lost(p, i, !gone);
    return;
  }
  mef3__job *j = w->cur;
  pthread_mutex_lock(&p->mu);
  w->cur = NULL;
  w->state = MEF3__W_IDLE;
  pthread_mutex_unlock(&p->mu);
  w->served++;
  p->early_deaths = 0;
  mef3__job_done(p, j, rc, bytes, msg);
  mef3__job_free(j);
}

/* ---- one turn ---- */

static void send_forgets(mef3_pool *p, mef3__forget_msg *list) {
  for (mef3__forget_msg *m = list, *nx; m; m = nx) {
    nx = m->next;
    for (int i = 0; i < p->nw; i++)
      if (p->w[i].state != MEF3__W_DOWN) /* a dead one shows in poll */
        mef3__frame_send(p->w[i].sock, &m->frame, -1);
    mef3__forget_free(m);
  }
}

/* The start of a turn: FORGET frames sent, workers started.  Returns 0
 * when the thread is done (stopping, nothing running or queued); else
 * sets how long the back-off wants the poll to wait (-1: no limit) and,
 * once stopping, when the grace period ends. */
static int begin_turn(mef3_pool *p, int64_t *stop_at, int64_t *respawn_wait) {
  pthread_mutex_lock(&p->mu);
  mef3__forget_msg *forgets = p->forgets;
  p->forgets = NULL;
  int busy = 0, live = 0;
  for (int i = 0; i < p->nw; i++) {
    busy += p->w[i].state == MEF3__W_BUSY;
    live += p->w[i].state != MEF3__W_DOWN;
  }
  int done = p->stopping && busy == 0 && p->qlen == 0;
  if (p->stopping && *stop_at < 0)
    *stop_at = mef3__now_ms() + SHUTDOWN_GRACE_MS;
  int n = mef3__workers_wanted_locked(p, live, respawn_wait);
  if (p->stopping)
    n = 0;
  pthread_mutex_unlock(&p->mu);
  send_forgets(p, forgets);
  if (done)
    return 0;
  mef3__workers_start(p, live, n);
  return 1;
}

/* Give every idle worker the next job it may take. */
static void hand_out(mef3_pool *p) {
  for (int i = 0; i < p->nw; i++) {
    mef3__pworker *w = &p->w[i];
    if (w->state != MEF3__W_IDLE)
      continue;
    pthread_mutex_lock(&p->mu);
    mef3__job *j = p->stopping ? NULL : mef3__take_locked(p, i);
    if (j) {
      w->state = MEF3__W_BUSY;
      w->cur = j;
    }
    pthread_mutex_unlock(&p->mu);
    int rc = j ? dispatch(w, j) : 0;
    if (rc == MEF3_ENOMEM) { /* nothing sent: the worker stays idle */
      pthread_mutex_lock(&p->mu);
      w->cur = NULL;
      w->state = MEF3__W_IDLE;
      pthread_mutex_unlock(&p->mu);
      char msg[512];
      snprintf(msg, sizeof msg,
               "%s pool: out of memory for the table of shared memory "
               "a worker has mapped",
               p->name);
      mef3__job_done(p, j, MEF3_ENOMEM, 0, msg);
      mef3__job_free(j);
    } else if (rc != 0) {
      worker_lost(p, i, 0); /* the send failed: it is gone */
    }
  }
}

/* Sleep until an answer, a death, a wake-up or the timeout; then serve
 * what happened.  Returns -1 when poll fails for good. */
static int wait_and_serve(mef3_pool *p, int64_t stop_at, int64_t respawn_wait) {
  struct pollfd *pf = p->pfds;
  int *who = p->pfd_worker;
  int n = 0;
  pf[n].fd = p->wake_fd;
  pf[n].events = POLLIN;
  who[n++] = -1;
  for (int i = 0; i < p->nw; i++)
    if (p->w[i].state != MEF3__W_DOWN) {
      pf[n].fd = p->w[i].sock;
      pf[n].events = POLLIN;
      who[n++] = i;
    }
  int timeout = -1;
  if (stop_at >= 0) {
    int64_t left = stop_at - mef3__now_ms();
    timeout = left > 0 ? (int)left : 0;
  } else if (respawn_wait >= 0) {
    timeout = (int)respawn_wait + 1;
  }
  int k = poll(pf, (nfds_t)n, timeout);
  if (k < 0 && errno != EINTR)
    return -1;
  if (k == 0 && stop_at >= 0) {
    /* Grace period over: end the workers still busy. */
    for (int i = 0; i < p->nw; i++)
      if (p->w[i].state == MEF3__W_BUSY)
        worker_lost(p, i, 1);
    return 0;
  }
  for (int x = 0; x < n && k > 0; x++) {
    if (!pf[x].revents)
      continue;
    if (who[x] < 0) {
      uint64_t v;
      ssize_t r = read(p->wake_fd, &v, sizeof v);
      (void)r;
      continue;
    }
    on_readable(p, who[x]);
  }
  return 0;
}

static void *service(void *arg) {
  mef3_pool *p = arg;
  int64_t stop_at = -1, respawn_wait = -1;
  while (begin_turn(p, &stop_at, &respawn_wait)) {
    hand_out(p);
    if (wait_and_serve(p, stop_at, respawn_wait) < 0)
      break;
  }
  mef3__workers_close_all(p);
  return NULL;
}
