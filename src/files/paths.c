/*
 * files/paths.c - confining paths to a data root.
 *
 * A server serving one folder must not open anything outside it, whatever
 * a client sends.  mef3_files_resolve refuses ".." components outright,
 * canonicalizes with realpath() (following every symbolic link) and
 * checks that the result is the root or lies below it, comparing whole
 * components ("/data2" is not inside "/data").  Since a session is a tree
 * the reader walks on its own, mef3__files_check_tree also looks at every
 * symbolic link inside the session before it is opened.
 *
 * What this does not cover: a tree changed between the check and the
 * open by someone who can write inside the root.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "files/files_impl.h"

/* 1 when `p` is `root` or below it (both canonical). */
static int inside(const char *root, const char *p) {
  size_t n = strlen(root);
  if (n == 1 && root[0] == '/')
    return p[0] == '/';
  return strncmp(p, root, n) == 0 && (p[n] == '\0' || p[n] == '/');
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
  char rroot[PATH_MAX], joined[PATH_MAX], real[PATH_MAX];
  const char *target = path;
  if (root) {
    if (has_dotdot(path))
      return mef3__error(MEF3_EINVAL, "%s: \"..\" is not allowed in a path",
                         path);
    if (!realpath(root, rroot))
      return mef3__error(errno == ENOENT ? MEF3_ENOTFOUND : MEF3_EINVAL,
                         "data root %s: %s", root, strerror(errno));
    if (path[0] != '/') {
      int k = snprintf(joined, sizeof joined, "%s/%s", rroot, path);
      if (k < 0 || (size_t)k >= sizeof joined)
        return mef3__error(MEF3_EINVAL,
                           "%s: path too long inside the data "
                           "root",
                           path);
      target = joined;
    }
  }
  if (!realpath(target, real)) {
    int e = errno;
    if (e == ENOENT || e == ENOTDIR)
      return mef3__error(MEF3_ENOTFOUND, "%s: no such file or directory", path);
    return mef3__error(MEF3_EINVAL, "%s: %s", path, strerror(e));
  }
  if (root && !inside(rroot, real))
    return mef3__error(MEF3_EINVAL, "%s: outside the data root", path);
  size_t rl = strlen(real);
  if (rl + 1 > out_len)
    return mef3__error(MEF3_EINVAL,
                       "%s: canonical path of %zu bytes does "
                       "not fit %zu",
                       path, rl, out_len);
  memcpy(out, real, rl + 1);
  return 0;
}

/* Depth-first walk below `dir` (a session: session, channel, segment
 * directories), checking the target of every symbolic link. */
static int walk(const char *root, const char *dir, int depth) {
  if (depth > 8)
    return 0; /* deeper than any MEF tree; the reader will not go there */
  DIR *d = opendir(dir);
  if (!d)
    return 0; /* the reader will report it */
  int rc = 0;
  struct dirent *e;
  char p[PATH_MAX], real[PATH_MAX];
  while (!rc && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    int k = snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    if (k < 0 || (size_t)k >= sizeof p)
      continue;
    struct stat st;
    if (lstat(p, &st) != 0)
      continue;
    if (S_ISLNK(st.st_mode)) {
      /* a dangling link reads as missing; one inside is walked too */
      if (realpath(p, real) && !inside(root, real))
        rc = mef3__error(MEF3_EINVAL,
                         "%s: a symbolic link leading outside "
                         "the data root",
                         p);
      else if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
        rc = walk(root, p, depth + 1);
    } else if (S_ISDIR(st.st_mode)) {
      rc = walk(root, p, depth + 1);
    }
  }
  closedir(d);
  return rc;
}

int mef3__files_check_tree(const char *root, const char *dir) {
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return 0;
  return walk(root, dir, 0);
}
