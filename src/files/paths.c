/*
 * files/paths.c - confining paths to a data root.
 *
 * A server serving one folder must not open anything outside it, whatever
 * a client sends.  mef3_files_resolve refuses ".." components outright,
 * canonicalizes with realpath() (following every symbolic link) and
 * checks that the result is the root or lies below it, comparing whole
 * components ("/data2" is not inside "/data").  Since a session is a tree
 * the reader walks on its own, mef3__files_tree_new also looks at every
 * symbolic link inside the session before it is opened.
 *
 * A session is read long after it was opened, and the reader (in this
 * process or in a worker) opens its data files by path when it first
 * needs them.  So the walk at the open also records every directory of
 * the tree (device, inode, modification and change times: a
 * mef3__files_tree), and before every decode mef3__files_tree_check
 * resolves the file's canonical path again and stats those directories:
 * an entry added, removed or replaced changes its directory's times, a
 * directory replaced changes its inode.  Only then is the tree walked
 * again, so the usual check costs one stat per directory.  A session
 * directory replaced by a symbolic link (to anywhere), or a channel or
 * segment directory or a data file replaced by one leading outside the
 * root, makes the read fail instead of being followed; once the tree is
 * put back, the file reads again.  Cached tiles are served without a
 * check (they were read while the tree was still inside).
 *
 * This check gives the early, clear refusal ("a symbolic link leading
 * outside the data root"); it is not what closes the race.  Every open
 * below the root - by the reader, the workers, and this walk's own
 * listings - goes through openat2(RESOLVE_BENEATH) (util/beneath.h), so a
 * link swapped in between a check and the open that follows it cannot
 * lead out either (tests/reader/test_reader_confine_race.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files/files_impl.h"
#include "util/alloc.h"
#include "util/beneath.h"

/* 1 when `p` is `root` or below it (both canonical). */
static int inside(const char *root, const char *p) {
  size_t n = strlen(root);
  if (n == 1 && root[0] == '/')
    return p[0] == '/';
  return strncmp(p, root, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

/*
 * `p` as a message shows it: a path of thousands of bytes would fill the
 * message (mef3_error holds 512) and cut off what is wrong with it, so a
 * long one keeps its head and its tail.  `buf` must hold SHOWN_MAX + 1.
 */
#define SHOWN_MAX 160
static const char *shown(const char *p, char *buf) {
  size_t n = strlen(p);
  if (n <= SHOWN_MAX)
    return p;
  memcpy(buf, p, 80);
  memcpy(buf + 80, "...", 3);
  memcpy(buf + 83, p + n - (SHOWN_MAX - 83), SHOWN_MAX - 83 + 1);
  return buf;
}

static int has_dotdot(const char *p) {
  for (const char *c = p; *c;) {
    const char *e = strchr(c, '/');
    size_t len = e ? (size_t)(e - c) : strlen(c);
    if (len == 2 && c[0] == '.' && c[1] == '.')
      return 1;
    if (!e)
      break;
    c = e + 1;
  }
  return 0;
}

int mef3_files_resolve(const char *root, const char *path, char *out,
                       size_t out_len) {
  if (!path || !out)
    return mef3__error(MEF3_EINVAL, "no path");
  if (out_len)
    out[0] = '\0';
  size_t len = strnlen(path, PATH_MAX);
  if (len == 0)
    return mef3__error(MEF3_EINVAL, "empty path");
  if (len >= PATH_MAX)
    return mef3__error(MEF3_EINVAL, "path longer than %d bytes", PATH_MAX - 1);
  char rroot[PATH_MAX], joined[PATH_MAX], real[PATH_MAX], sb[SHOWN_MAX + 1];
  const char *target = path;
  if (root) {
    if (has_dotdot(path))
      return mef3__error(MEF3_EINVAL, "%s: \"..\" is not allowed in a path",
                         shown(path, sb));
    if (!realpath(root, rroot))
      return mef3__error(errno == ENOENT ? MEF3_ENOTFOUND : MEF3_EINVAL,
                         "data root %s: %s", root, strerror(errno));
    if (path[0] != '/') {
      int k = snprintf(joined, sizeof joined, "%s/%s", rroot, path);
      if (k < 0 || (size_t)k >= sizeof joined)
        return mef3__error(MEF3_EINVAL,
                           "%s: path too long inside the data "
                           "root",
                           shown(path, sb));
      target = joined;
    }
  }
  if (!realpath(target, real)) {
    int e = errno;
    if (e == ENOENT || e == ENOTDIR)
      return mef3__error(MEF3_ENOTFOUND, "%s: no such file or directory",
                         shown(path, sb));
    return mef3__error(MEF3_EINVAL, "%s: %s", shown(path, sb), strerror(e));
  }
  if (root && !inside(rroot, real))
    return mef3__error(MEF3_EINVAL, "%s: outside the data root",
                       shown(path, sb));
  size_t rl = strlen(real);
  if (rl + 1 > out_len)
    return mef3__error(MEF3_EINVAL,
                       "%s: canonical path of %zu bytes does "
                       "not fit %zu",
                       shown(path, sb), rl, out_len);
  memcpy(out, real, rl + 1);
  return 0;
}

/* What a directory of a session looked like when last walked. */
typedef struct {
  char *path; /* as walked (through links that stay inside) */
  dev_t dev;
  ino_t ino;
  struct timespec mtime, ctime;
} dstamp;

typedef struct {
  dstamp *d;
  size_t n, cap;
} dstamps;

struct mef3__files_tree {
  pthread_mutex_t mu; /* guards `dirs` */
  char *root, *real;
  mef3__beneath *beneath; /* the root, for listing beneath it */
  dstamps dirs;
};

static void stamps_free(dstamps *s) {
  for (size_t i = 0; i < s->n; i++)
    mef3__free(s->d[i].path);
  mef3__free(s->d);
  memset(s, 0, sizeof *s);
}

static int same_stat(const dstamp *a, const struct stat *st) {
  return a->dev == st->st_dev && a->ino == st->st_ino &&
         a->mtime.tv_sec == st->st_mtim.tv_sec &&
         a->mtime.tv_nsec == st->st_mtim.tv_nsec &&
         a->ctime.tv_sec == st->st_ctim.tv_sec &&
         a->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

/* Record `dir` (stat before its entries are read: a change after the stat
 * shows at the next check).  0 or MEF3_ENOMEM. */
static int stamp(dstamps *s, const char *dir, const struct stat *st) {
  if (s->n == s->cap) {
    size_t nc = s->cap ? 2 * s->cap : 16;
    dstamp *nd = mef3__realloc(s->d, nc * sizeof *nd);
    if (!nd)
      return mef3__error(MEF3_ENOMEM, "out of memory");
    s->d = nd;
    s->cap = nc;
  }
  dstamp *x = &s->d[s->n];
  if (!(x->path = mef3__strdup(dir)))
    return mef3__error(MEF3_ENOMEM, "out of memory");
  x->dev = st->st_dev;
  x->ino = st->st_ino;
  x->mtime = st->st_mtim;
  x->ctime = st->st_ctim;
  s->n++;
  return 0;
}

/* Depth-first walk below `dir` (a session: session, channel, segment
 * directories), checking the target of every symbolic link and recording
 * every directory into `rec`. */
static int walk(const mef3__beneath *b, const char *root, const char *dir,
                int depth, dstamps *rec) {
  if (depth > 8)
    return 0; /* deeper than any MEF tree; the reader will not go there */
  struct stat st;
  if (stat(dir, &st) != 0)
    return 0; /* the reader will report it */
  int rc = stamp(rec, dir, &st);
  /* Listed through the root's descriptor: a link swapped in since the
   * stat cannot make this list a directory outside. */
  int fd = rc ? -1 : mef3__beneath_open(b, dir, O_RDONLY | O_DIRECTORY);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (!d) {
    if (fd >= 0)
      close(fd);
    return rc; /* the reader will report it */
  }
  struct dirent *e;
  char p[PATH_MAX], real[PATH_MAX], sb[SHOWN_MAX + 1];
  while (!rc && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    int k = snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    if (k < 0 || (size_t)k >= sizeof p)
      continue;
    if (lstat(p, &st) != 0)
      continue;
    if (S_ISLNK(st.st_mode)) {
      /* a dangling link reads as missing; one inside is walked too */
      if (realpath(p, real) && !inside(root, real))
        rc = mef3__error(MEF3_EINVAL,
                         "%s: a symbolic link leading outside "
                         "the data root",
                         shown(p, sb));
      else if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
        rc = walk(b, root, p, depth + 1, rec);
    } else if (S_ISDIR(st.st_mode)) {
      rc = walk(b, root, p, depth + 1, rec);
    }
  }
  closedir(d);
  return rc;
}

int mef3__files_tree_new(mef3__files_tree **out, const char *root,
                         const char *real) {
  *out = NULL;
  mef3__files_tree *t = mef3__calloc(1, sizeof *t);
  if (!t)
    return mef3__error(MEF3_ENOMEM, "out of memory");
  pthread_mutex_init(&t->mu, NULL);
  t->root = mef3__strdup(root);
  t->real = mef3__strdup(real);
  if (!t->root || !t->real) {
    mef3__files_tree_free(t);
    return mef3__error(MEF3_ENOMEM, "out of memory");
  }
  struct stat st;
  int rc = mef3__beneath_new(&t->beneath, root);
  if (!rc && stat(real, &st) == 0 && S_ISDIR(st.st_mode))
    rc = walk(t->beneath, root, real, 0, &t->dirs);
  if (rc) {
    mef3__files_tree_free(t);
    return rc;
  }
  *out = t;
  return 0;
}

void mef3__files_tree_free(mef3__files_tree *t) {
  if (!t)
    return;
  stamps_free(&t->dirs);
  mef3__beneath_free(t->beneath);
  mef3__free(t->root);
  mef3__free(t->real);
  pthread_mutex_destroy(&t->mu);
  mef3__free(t);
}

int mef3__files_tree_check(mef3__files_tree *t) {
  char now[PATH_MAX], sb[SHOWN_MAX + 1];
  if (!realpath(t->real, now))
    return 0; /* gone: the reader reports it, as without a root */
  if (strcmp(now, t->real))
    return mef3__error(MEF3_EINVAL,
                       "%s: replaced since it was opened (its path no longer "
                       "leads to it); not read: close it and open it again",
                       shown(t->real, sb));
  pthread_mutex_lock(&t->mu);
  int changed = 0;
  struct stat st;
  for (size_t i = 0; i < t->dirs.n && !changed; i++)
    changed =
        stat(t->dirs.d[i].path, &st) != 0 || !same_stat(&t->dirs.d[i], &st);
  int rc = 0;
  if (changed) { /* walk again; keep the old record if this fails */
    dstamps fresh = {0};
    rc = walk(t->beneath, t->root, t->real, 0, &fresh);
    if (rc) {
      stamps_free(&fresh);
    } else {
      stamps_free(&t->dirs);
      t->dirs = fresh;
    }
  }
  pthread_mutex_unlock(&t->mu);
  return rc;
}
