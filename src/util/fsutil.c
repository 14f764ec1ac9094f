/* util/fsutil.c - small file-system helpers: whole-file reads, sorted
 * directory listings, path joins and positioned reads that retry on EINTR
 * and short counts.  The positioned read is the one place where file
 * contents are read, so that is where a read-fault hook (tests, the
 * worker's MEF3POOL_WORKER_FAULTS) makes reads fail. */
#include "util/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mef3pool/common.h"
#include "util/error.h"
#include "util/alloc.h"

static mef3__read_fault_fn read_fault;
static void *read_fault_payload;

void mef3__set_read_fault(mef3__read_fault_fn fn, void *payload) {
  read_fault_payload = payload;
  read_fault = fn;
}

int mef3__errno_code(int err) {
  switch (err) {
  case ENOENT:
  case ENOTDIR:
    return MEF3_ENOTFOUND;
  case EMFILE:
  case ENFILE:
    return MEF3_ELIMIT;
  case ENOMEM:
    return MEF3_ENOMEM;
  case EXDEV:
    return MEF3_EINVAL;
  default:
    return MEF3_EIO;
  }
}

long long mef3__pread_full(int fd, void *buf, size_t len, uint64_t off) {
  if (__builtin_expect(read_fault != NULL, 0)) {
    int e = read_fault(fd, len, off, read_fault_payload);
    if (e) {
      errno = e;
      return -1;
    }
  }
  size_t got = 0;
  while (got < len) {
    ssize_t k = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
    if (k < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    if (k == 0)
      break;
    got += (size_t)k;
  }
  return (long long)got;
}

int mef3__open_in(const mef3__beneath *root, const char *path, int flags) {
  return root ? mef3__beneath_open(root, path, flags)
              : open(path, flags | O_CLOEXEC);
}

int mef3__read_file(const mef3__beneath *root, uint8_t **out, size_t *len,
                    const char *path, size_t max) {
  *out = NULL;
  *len = 0;
  int fd = mef3__open_in(root, path, O_RDONLY);
  if (fd < 0)
    return mef3__error(mef3__errno_code(errno), "%s: cannot open: %s", path,
                       mef3__beneath_strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return mef3__error(MEF3_EIO, "%s: not a regular file", path);
  }
  if ((uint64_t)st.st_size > max) {
    close(fd);
    return mef3__error(MEF3_ECORRUPT, "%s: %lld bytes is larger than %zu", path,
                       (long long)st.st_size, max);
  }
  size_t n = (size_t)st.st_size;
  uint8_t *buf = mef3__malloc(n ? n : 1);
  if (!buf) {
    close(fd);
    return mef3__error(MEF3_ENOMEM, "%s: cannot allocate %zu bytes", path, n);
  }
  long long k = mef3__pread_full(fd, buf, n, 0);
  int err = errno;
  close(fd);
  if (k < 0) {
    mef3__free(buf);
    return mef3__error(err == ENOMEM ? MEF3_ENOMEM : MEF3_EIO,
                       "%s: read failed: %s", path, strerror(err));
  }
  *out = buf;
  *len = (size_t)k;
  return 0;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int mef3__list_dir(const mef3__beneath *root, char ***out, size_t *n_out,
                   const char *dir, const char *suffix) {
  *out = NULL;
  *n_out = 0;
  int fd = mef3__open_in(root, dir, O_RDONLY | O_DIRECTORY);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (!d) {
    int err = errno;
    if (fd >= 0)
      close(fd);
    return mef3__error(mef3__errno_code(err), "%s: cannot list: %s", dir,
                       mef3__beneath_strerror(err));
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || !mef3__ends_with(e->d_name, suffix))
      continue;
    if (n == cap) {
      size_t nc = cap ? cap * 2 : 16;
      char **nn = mef3__realloc(names, nc * sizeof *nn);
      if (!nn) {
        rc = MEF3_ENOMEM;
        break;
      }
      names = nn;
      cap = nc;
    }
    if (!(names[n] = mef3__strdup(e->d_name))) {
      rc = MEF3_ENOMEM;
      break;
    }
    n++;
  }
  closedir(d);
  if (rc) {
    mef3__free_list(names, n);
    return mef3__error(rc, "%s: out of memory listing", dir);
  }
  if (n)
    qsort(names, n, sizeof *names, cmp_names);
  *out = names;
  *n_out = n;
  return 0;
}

void mef3__free_list(char **names, size_t n) {
  if (!names)
    return;
  for (size_t i = 0; i < n; i++)
    mef3__free(names[i]);
  mef3__free(names);
}

char *mef3__join(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  while (la > 1 && a[la - 1] == '/')
    la--;
  char *s = mef3__malloc(la + 1 + lb + 1);
  if (!s)
    return NULL;
  memcpy(s, a, la);
  s[la] = '/';
  memcpy(s + la + 1, b, lb + 1);
  return s;
}

char *mef3__base_name(const char *path) {
  size_t len = strlen(path);
  while (len > 1 && path[len - 1] == '/')
    len--;
  size_t start = len;
  while (start > 0 && path[start - 1] != '/')
    start--;
  size_t end = len;
  for (size_t i = len; i > start; i--)
    if (path[i - 1] == '.') {
      end = i - 1;
      break;
    }
  if (end == start)
    end = len;
  char *s = mef3__malloc(end - start + 1);
  if (!s)
    return NULL;
  memcpy(s, path + start, end - start);
  s[end - start] = '\0';
  return s;
}

char *mef3__child_named(const char *dir, const char *ext) {
  char *base = mef3__base_name(dir);
  if (!base)
    return NULL;
  size_t lb = strlen(base), le = strlen(ext);
  char *name = mef3__malloc(lb + le + 1);
  char *full = NULL;
  if (name) {
    memcpy(name, base, lb);
    memcpy(name + lb, ext, le + 1);
    full = mef3__join(dir, name);
  }
  mef3__free(name);
  mef3__free(base);
  return full;
}

int mef3__ends_with(const char *s, const char *suffix) {
  size_t ls = strlen(s), lx = strlen(suffix);
  return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

int mef3__is_dir(const mef3__beneath *root, const char *path) {
  struct stat st;
  int rc = root ? mef3__beneath_stat(root, path, &st) : stat(path, &st);
  return rc == 0 && S_ISDIR(st.st_mode);
}
