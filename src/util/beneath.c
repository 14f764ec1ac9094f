/*
 * util/beneath.c - opens confined to a root directory (util/beneath.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/beneath.h"
#include "util/error.h"

struct mef3__beneath {
  int fd; /* O_PATH descriptor of the root */
  size_t len;
  char path[]; /* canonical, no trailing '/' (but "/" itself) */
};

static atomic_int racy;

int mef3__beneath_new(mef3__beneath **out, const char *dir) {
  *out = NULL;
  size_t len = strlen(dir);
  if (dir[0] != '/')
    return mef3__error(MEF3_EINVAL, "%s: the data root must be absolute", dir);
  while (len > 1 && dir[len - 1] == '/')
    len--;
  mef3__beneath *b = mef3__malloc(sizeof *b + len + 1);
  if (!b)
    return mef3__error(MEF3_ENOMEM, "out of memory");
  memcpy(b->path, dir, len);
  b->path[len] = '\0';
  b->len = len;
  b->fd = open(b->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (b->fd < 0) {
    int err = errno;
    mef3__free(b);
    return mef3__error(err == ENOENT ? MEF3_ENOTFOUND : MEF3_EINVAL,
                       "%s: cannot open the data root: %s", dir, strerror(err));
  }
  *out = b;
  return 0;
}

void mef3__beneath_free(mef3__beneath *b) {
  if (!b)
    return;
  close(b->fd);
  mef3__free(b);
}

const char *mef3__beneath_path(const mef3__beneath *b) {
  return b->path;
}

/* `path` relative to the root ("." for the root), or NULL when it is not
 * below the root as strings go. */
static const char *relative(const mef3__beneath *b, const char *path) {
  if (b->len == 1) /* root "/" */
    return path[0] == '/' ? (path[1] ? path + 1 : ".") : NULL;
  if (strncmp(path, b->path, b->len))
    return NULL;
  if (path[b->len] == '\0')
    return ".";
  if (path[b->len] != '/')
    return NULL;
  const char *rel = path + b->len;
  while (*rel == '/')
    rel++;
  return *rel ? rel : ".";
}

/* No openat2: resolve, check, open (the race the kernel closes above). */
static int fallback(const mef3__beneath *b, const char *path, int flags) {
  atomic_store(&racy, 1);
  char real[PATH_MAX];
  if (!realpath(path, real))
    return -1;
  if (!relative(b, real)) {
    errno = EXDEV;
    return -1;
  }
  return open(real, flags);
}

int mef3__beneath_open(const mef3__beneath *b, const char *path, int flags) {
  const char *rel = relative(b, path);
  if (!rel) {
    errno = EXDEV;
    return -1;
  }
  struct open_how how = {0};
  how.flags = (unsigned long long)(flags | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  long fd = syscall(SYS_openat2, b->fd, rel, &how, sizeof how);
  if (fd >= 0)
    return (int)fd;
  if (errno == ENOSYS || errno == EPERM)
    return fallback(b, path, flags | O_CLOEXEC);
  if (errno == EAGAIN) /* a rename raced the lookup: once more */
    fd = syscall(SYS_openat2, b->fd, rel, &how, sizeof how);
  return (int)fd;
}

int mef3__beneath_stat(const mef3__beneath *b, const char *path,
                       struct stat *st) {
  int fd = mef3__beneath_open(b, path, O_PATH);
  if (fd < 0)
    return -1;
  int rc = fstat(fd, st);
  int err = errno;
  close(fd);
  errno = err;
  return rc;
}

int mef3__beneath_racy(void) {
  return atomic_load(&racy);
}

const char *mef3__beneath_strerror(int err) {
  return err == EXDEV ? "leads outside the data root" : strerror(err);
}
