/*
 * writer/writer_fds.c - the writer's descriptor budget.
 *
 * A channel being written holds six descriptors: its .timd and .segd
 * directories, the segment's .tdat and .tidx, and its records' .rdat and
 * .ridx once it has a record.  Held for every channel for the whole
 * write, 255 channels exhaust `ulimit -n 1024`.  So only a bounded set of
 * channels is "active" (descriptors open); touching another one parks
 * the least recently used (closes its descriptors, keeping every byte of
 * state: offsets, running CRCs, buffers) and reopens the one touched.
 * Parking is safe at any point between two writer calls: the append
 * protocol (writer_files.c) leaves each header true between writes, and
 * nothing buffered is lost since buffers live in memory.  Directories are
 * reopened by name below the session directory, which by then has its
 * final name (channel and segment directories are renamed into place
 * before the call that creates them returns).
 *
 * The budget is a quarter of the descriptor limit (RLIMIT_NOFILE) at
 * open, in channels of six; when the system still says "too many open
 * files" on reopening, more channels are parked and it is tried again.
 * One write touches a parked channel without reopening it: settling an
 * automatic recording time offset rewrites every segment's metadata
 * (writer_time.c), and a parked one's directory is opened for that write
 * alone, since parking others could park the channel being written.
 * Everything runs on the caller's thread, as the rest of the writer.
 * It calls no other part of the writer (only closes and reopens the
 * descriptors of the state in writer_impl.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util/error.h"
#include "writer/writer_impl.h"

#define FDS_PER_CHANNEL 6

void mef3__writer_fd_budget(mef3_writer *w) {
  struct rlimit rl;
  size_t n = 64;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    n = (size_t)rl.rlim_cur / 4 / FDS_PER_CHANNEL;
  w->max_active = n < 2 ? 2 : n > 1024 ? 1024 : n;
}

static void close_fd(int *fd) {
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

static void park(mef3_writer *w, wr_channel *c) {
  close_fd(&c->seg.tdat.fd);
  close_fd(&c->seg.tidx.fd);
  close_fd(&c->seg.dirfd);
  close_fd(&c->rec.rdat.fd);
  close_fd(&c->rec.ridx.fd);
  c->rec.dirfd = -1; /* borrowed from c->dirfd */
  close_fd(&c->dirfd);
  c->active = 0;
  w->n_active--;
}

/* Park the least recently used active channel other than `keep`; 0 when
 * there is none. */
static int park_lru(mef3_writer *w, const wr_channel *keep) {
  wr_channel *lru = NULL;
  for (size_t i = 0; i < w->n_ch; i++) {
    wr_channel *c = w->ch[i];
    if (c->active && c != keep && (!lru || c->last_use < lru->last_use))
      lru = c;
  }
  if (lru)
    park(w, lru);
  return lru != NULL;
}

void mef3__writer_make_room(mef3_writer *w, const wr_channel *keep) {
  while (w->n_active >= w->max_active && park_lru(w, keep))
    ;
}

void mef3__writer_activated(mef3_writer *w, wr_channel *c) {
  c->active = 1;
  c->last_use = ++w->use_clock;
  w->n_active++;
}

/* openat, parking other channels while the process is out of
 * descriptors. */
static int open_at(mef3_writer *w, wr_channel *c, int dirfd, const char *dir,
                   const char *name, int flags, int *out) {
  for (;;) {
    *out = openat(dirfd, name, flags | O_CLOEXEC);
    if (*out >= 0)
      return 0;
    if ((errno != EMFILE && errno != ENFILE) || !park_lru(w, c))
      return mef3__error(errno == EMFILE || errno == ENFILE ? MEF3_ELIMIT
                                                             : MEF3_EIO,
                         "%s/%s: cannot reopen: %s", dir, name,
                         strerror(errno));
  }
}

static int unpark(mef3_writer *w, wr_channel *c) {
  char name[320];
  snprintf(name, sizeof name, "%s.timd", c->name);
  int rc = open_at(w, c, w->dirfd, w->path, name, O_RDONLY | O_DIRECTORY,
                   &c->dirfd);
  c->rec.dirfd = c->dirfd;
  wr_segment *g = &c->seg;
  if (!rc && c->seg_open) {
    snprintf(name, sizeof name, "%s.segd", g->base);
    rc = open_at(w, c, c->dirfd, c->dir, name, O_RDONLY | O_DIRECTORY,
                 &g->dirfd);
    if (!rc) {
      snprintf(name, sizeof name, "%s.tdat", g->base);
      rc = open_at(w, c, g->dirfd, g->dir, name, O_WRONLY, &g->tdat.fd);
    }
    if (!rc) {
      snprintf(name, sizeof name, "%s.tidx", g->base);
      rc = open_at(w, c, g->dirfd, g->dir, name, O_WRONLY, &g->tidx.fd);
    }
  }
  if (!rc && c->rec.created) {
    snprintf(name, sizeof name, "%s.rdat", c->rec.base);
    rc = open_at(w, c, c->dirfd, c->dir, name, O_WRONLY, &c->rec.rdat.fd);
    if (!rc) {
      snprintf(name, sizeof name, "%s.ridx", c->rec.base);
      rc = open_at(w, c, c->dirfd, c->dir, name, O_WRONLY, &c->rec.ridx.fd);
    }
  }
  mef3__writer_activated(w, c);
  if (rc)
    park(w, c); /* all or nothing */
  return rc;
}

int mef3__segment_dirfd(mef3_writer *w, wr_channel *c, int *out, int *opened) {
  *opened = 0;
  *out = c->seg.dirfd;
  if (*out >= 0)
    return 0;
  /* Parked: open it for this write only.  Parking others to make room
   * could park the channel the caller is writing, so a full table is an
   * error here. */
  char name[600];
  snprintf(name, sizeof name, "%s.timd/%s.segd", c->name, c->seg.base);
  *out = openat(w->dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (*out < 0)
    return mef3__error(
        errno == EMFILE || errno == ENFILE ? MEF3_ELIMIT : MEF3_EIO,
        "%s/%s: cannot reopen: %s", w->path, name, strerror(errno));
  *opened = 1;
  return 0;
}

int mef3__channel_use(mef3_writer *w, wr_channel *c) {
  if (c->active) {
    c->last_use = ++w->use_clock;
    return 0;
  }
  mef3__writer_make_room(w, c);
  return unpark(w, c);
}
