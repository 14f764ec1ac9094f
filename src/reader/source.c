/*
 * reader/source.c - where the bytes of a session come from: a directory
 * tree, or an uncompressed tar archive of one (NAME.mefd.tar) read in
 * place.
 *
 * The rest of the reader names every file by path.  For an archive those
 * paths are virtual: the archive's path, then the member's path below the
 * session root ("x/s.mefd.tar/ch.timd/ch-000000.segd/ch-000000.tdat"), so
 * error messages name both the archive and the member.  Listing, whole-
 * file reads and data reads look such a path up in the archive's table
 * (reader/tar.c) and read the archive with pread at the member's offset;
 * a data read is clamped to its member, so a block past the end of a
 * member is "past the end of the data file" exactly as in a directory.
 * An archive costs one descriptor, open for the reader's life; a
 * directory's data files are opened lazily, at most
 * opts.max_open_data_files at once (the least recently used is closed).
 *
 * Every read goes through mef3__pread_full (util/fsutil.c), the one place
 * file contents are read.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reader/reader_impl.h"
#include "reader/tar.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/fsutil.h"

/* The member path of `path` inside the reader's archive, or NULL when it
 * does not lie below the archive's path. */
static const char *rel_of(const mef3_reader *r, const char *path) {
  size_t l = strlen(r->path);
  if (strncmp(path, r->path, l))
    return NULL;
  if (path[l] == '\0')
    return path + l;
  return path[l] == '/' ? path + l + 1 : NULL;
}

int mef3__rd_is_dir(const mef3_reader *r, const char *path) {
  if (!r->tar)
    return mef3__is_dir(r->root, path);
  const char *rel = rel_of(r, path);
  return rel && mef3__tar_is_dir(r->tar, rel);
}

int mef3__rd_list(const mef3_reader *r, char ***out, size_t *n, const char *dir,
                  const char *suffix) {
  if (!r->tar)
    return mef3__list_dir(r->root, out, n, dir, suffix);
  const char *rel = rel_of(r, dir);
  if (!rel) {
    *out = NULL;
    *n = 0;
    return mef3__error(MEF3_ENOTFOUND, "%s: not in the archive", dir);
  }
  return mef3__tar_list(r->tar, out, n, rel, suffix);
}

int mef3__rd_read_file(const mef3_reader *r, uint8_t **out, size_t *len,
                       const char *path, size_t max) {
  if (!r->tar)
    return mef3__read_file(r->root, out, len, path, max);
  *out = NULL;
  *len = 0;
  const char *rel = rel_of(r, path);
  uint64_t off, size;
  if (!rel || mef3__tar_find(r->tar, rel, &off, &size))
    return mef3__error(MEF3_ENOTFOUND,
                       "%s: cannot open: no such member in "
                       "the archive",
                       path);
  if (size > max)
    return mef3__error(MEF3_ECORRUPT, "%s: %llu bytes is larger than %zu", path,
                       (unsigned long long)size, max);
  uint8_t *buf = mef3__malloc((size_t)size);
  if (!buf)
    return mef3__error(MEF3_ENOMEM, "%s: cannot allocate %llu bytes", path,
                       (unsigned long long)size);
  long long k = mef3__pread_full(mef3__tar_fd(r->tar), buf, (size_t)size, off);
  if (k < 0) {
    int err = errno;
    mef3__free(buf);
    return mef3__error(err == ENOMEM ? MEF3_ENOMEM : MEF3_EIO,
                       "%s: read failed: %s", path, strerror(err));
  }
  *out = buf;
  *len = (size_t)k;
  return 0;
}

int mef3__rd_locate_data(const mef3_reader *r, rd_segment *s) {
  if (!r->tar) {
    struct stat st;
    if ((r->root ? mef3__beneath_stat(r->root, s->tdat_path, &st)
                 : stat(s->tdat_path, &st)) != 0)
      return errno == EXDEV
                 ? mef3__error(MEF3_EINVAL, "%s: %s", s->tdat_path,
                               mef3__beneath_strerror(errno))
                 : mef3__error(MEF3_ENOTFOUND, "%s: missing data file",
                               s->tdat_path);
    return 0;
  }
  const char *rel = rel_of(r, s->tdat_path);
  if (!rel || mef3__tar_find(r->tar, rel, &s->tar_off, &s->tar_size))
    return mef3__error(MEF3_ENOTFOUND,
                       "%s: missing data file (no such member "
                       "in the archive)",
                       s->tdat_path);
  return 0;
}

/* The descriptor a segment's data is read from. */
static int data_fd(const mef3_reader *r, const rd_segment *s) {
  return r->tar ? mef3__tar_fd(r->tar) : s->fd;
}

int mef3__reader_data_fd(mef3_reader *r, rd_segment *s) {
  s->last_use = ++r->use_clock;
  if (r->tar || s->fd >= 0)
    return 0;
  if (r->open_fds >= r->opts.max_open_data_files) {
    rd_segment *lru = NULL;
    for (size_t i = 0; i < r->n_ch; i++)
      for (size_t k = 0; k < r->ch[i].n_segs; k++) {
        rd_segment *g = &r->ch[i].segs[k];
        if (g->fd >= 0 && (!lru || g->last_use < lru->last_use))
          lru = g;
      }
    if (lru) {
      close(lru->fd);
      lru->fd = -1;
      r->open_fds--;
    }
  }
  s->fd = mef3__open_in(r->root, s->tdat_path, O_RDONLY);
  if (s->fd < 0)
    return mef3__error(mef3__errno_code(errno), "%s: cannot open: %s",
                       s->tdat_path, mef3__beneath_strerror(errno));
  r->open_fds++;
  return 0;
}

long long mef3__reader_data_pread(mef3_reader *r, rd_segment *s, void *buf,
                                  size_t len, uint64_t off) {
  if (!r->tar)
    return mef3__pread_full(s->fd, buf, len, off);
  if (off >= s->tar_size)
    return 0;
  if (len > s->tar_size - off)
    len = (size_t)(s->tar_size - off);
  return mef3__pread_full(mef3__tar_fd(r->tar), buf, len, s->tar_off + off);
}

int mef3__reader_data_check(mef3_reader *r, rd_segment *s) {
  struct stat st;
  if (fstat(data_fd(r, s), &st) != 0)
    return 0; /* the reads will say what is wrong */
  int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
  if (s->data_ino == (uint64_t)st.st_ino && s->data_size == st.st_size &&
      s->data_mtime_ns == mt)
    return 0;
  s->data_ino = (uint64_t)st.st_ino;
  s->data_size = (int64_t)st.st_size;
  s->data_mtime_ns = mt;
  /* A header that does not parse (damaged, a file cut short) is left to
   * the blocks' own checks. */
  uint8_t h[MEF3_UH_BYTES];
  mef3_universal_header uh;
  if (mef3__reader_data_pread(r, s, h, sizeof h, 0) != (long long)sizeof h)
    return 0;
  if (!r->opts.check_file_crc)
    memset(h, 0, 4);
  if (mef3_uh_parse(&uh, h, sizeof h, "tdat", s->tdat_path) != 0) {
    mef3_error_clear();
    return 0;
  }
  if (mef3__uh_ident(&uh) == s->ident)
    return 0;
  int rc = mef3__foreign_file(s->tdat_path, &uh, "data file");
  s->data_ino = 0;
  if (!r->tar) {
    close(s->fd);
    s->fd = -1;
    r->open_fds--;
  }
  return rc;
}
