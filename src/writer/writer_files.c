/*
 * writer/writer_files.c - the file primitives of the writer: append-only
 * MEF files whose universal header is kept valid at every moment, and
 * atomic replacement of whole files.
 *
 * Append-only files (.tdat, .tidx, .rdat, .ridx) follow one protocol so
 * that a process killed at any point leaves files a reader accepts: the
 * body only grows, and the header's entry count and body CRC are either
 * "no entry" (-1 and 0) or exactly right for the body on disk.  Every
 * write of body bytes is bracketed by two header writes: "no entry"
 * before it, the real count and CRC after it.  So the header is right
 * except during a write (our reader accepts "no entry" at any body
 * length; meflib does not, so keeping the real values between writes
 * lets the reference library open an interrupted session too).  The body
 * CRC is kept as a running CRC, so no write re-reads anything.
 *
 * A file may collect appended bytes in a buffer and write them in one go
 * (io_buffer_bytes); its owner then writes the data file's buffer before
 * the index file's, so that the index never names bytes that are not
 * written.  After a failed write the file is left alone: its header says
 * "no entry" and later checkpoints do not claim what may be missing.
 *
 * Whole files (.tmet) are replaced by writing NAME.tmp and renaming it
 * over NAME, which a reader sees as either the old or the new file.
 * The bottom of the writer: it knows nothing of sessions or channels.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "writer/writer_impl.h"
#include "util/alloc.h"

#define CRC_EMPTY 0xFFFFFFFFu /* the MEF CRC of no bytes */

static int pwrite_full(int fd, const uint8_t *buf, size_t len, uint64_t off) {
  size_t done = 0;
  while (done < len) {
    ssize_t k = pwrite(fd, buf + done, len - done, (off_t)(off + done));
    if (k < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    if (k == 0) {
      errno = EIO;
      return -1;
    }
    done += (size_t)k;
  }
  return 0;
}

static int write_header(mef3__wfile *f, int consistent) {
  if (f->failed)
    return f->failed;
  mef3_universal_header uh = f->uh;
  uint8_t b[MEF3_UH_BYTES];
  if (consistent) {
    uh.number_of_entries = f->entries;
    uh.body_crc = f->body_crc;
  } else {
    uh.number_of_entries = -1;
    uh.body_crc = 0;
  }
  mef3_uh_write(b, &uh);
  if (pwrite_full(f->fd, b, sizeof b, 0) != 0)
    return f->failed =
               mef3__error_at(MEF3_EIO, f->path, 0, "cannot write header: %s",
                              strerror(errno));
  f->consistent = consistent;
  return 0;
}

int mef3__wfile_create(mef3__wfile *f, int dirfd, const char *dir,
                       const char *name, const mef3_universal_header *uh) {
  memset(f, 0, sizeof *f);
  f->fd = -1;
  size_t len = strlen(dir) + strlen(name) + 2;
  f->path = mef3__malloc(len);
  if (!f->path)
    return mef3__error(MEF3_ENOMEM, "out of memory");
  snprintf(f->path, len, "%s/%s", dir, name);
  f->fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (f->fd < 0)
    return mef3__error(errno == EEXIST ? MEF3_EEXIST : MEF3_EIO,
                       "%s: cannot create: %s", f->path, strerror(errno));
  f->uh = *uh;
  f->body_crc = CRC_EMPTY;
  return write_header(f, 1);
}

int mef3__wfile_set_buffer(mef3__wfile *f, size_t cap) {
  if (!cap)
    return 0;
  f->buf = mef3__malloc(cap);
  if (!f->buf)
    return mef3__error(MEF3_ENOMEM, "%s: cannot allocate %zu bytes", f->path,
                       cap);
  f->buf_cap = cap;
  return 0;
}

/* Write the last `len` bytes of the (logical) body, everything before
 * them being on disk, between a "no entry" header and a true one. */
static int write_tail(mef3__wfile *f, const uint8_t *buf, size_t len) {
  int rc = write_header(f, 0);
  if (rc)
    return rc;
  uint64_t off = MEF3_UH_BYTES + f->body_bytes - len;
  if (pwrite_full(f->fd, buf, len, off) != 0)
    return f->failed = mef3__error_at(MEF3_EIO, f->path, off,
                                      "cannot write %zu bytes: %s", len,
                                      strerror(errno));
  return write_header(f, 1);
}

int mef3__wfile_write_buffer(mef3__wfile *f) {
  if (!f->buf_len)
    return 0;
  int rc = write_tail(f, f->buf, f->buf_len);
  if (!rc)
    f->buf_len = 0;
  return rc;
}

int mef3__wfile_would_write(const mef3__wfile *f, size_t len) {
  return f->buf_cap == 0 || f->buf_len + len > f->buf_cap;
}

int mef3__wfile_append(mef3__wfile *f, const uint8_t *buf, size_t len,
                       int64_t entries) {
  if (f->buf_len + len > f->buf_cap) {
    int rc = mef3__wfile_write_buffer(f);
    if (rc)
      return rc;
  }
  if (f->failed)
    return f->failed;
  f->body_crc = mef3_crc32_update(f->body_crc, buf, len);
  f->body_bytes += len;
  f->entries += entries;
  if (len <= f->buf_cap) {
    memcpy(f->buf + f->buf_len, buf, len);
    f->buf_len += len;
    return 0;
  }
  return write_tail(f, buf, len);
}

int mef3__wfile_checkpoint(mef3__wfile *f) {
  int rc = mef3__wfile_write_buffer(f);
  return rc ? rc : write_header(f, 1);
}

int mef3__wfile_sync(mef3__wfile *f) {
  int rc = mef3__wfile_write_buffer(f);
  if (rc)
    return rc;
  if (f->fd >= 0 && fdatasync(f->fd) != 0)
    return mef3__error(MEF3_EIO, "%s: fdatasync: %s", f->path, strerror(errno));
  return 0;
}

void mef3__wfile_close(mef3__wfile *f) {
  if (f->fd >= 0)
    close(f->fd);
  f->fd = -1;
  mef3__free(f->path);
  f->path = NULL;
  mef3__free(f->buf);
  f->buf = NULL;
  f->buf_len = f->buf_cap = 0;
}

int mef3__sync_dir(int dirfd, const char *dir) {
  if (fsync(dirfd) != 0)
    return mef3__error(MEF3_EIO, "%s: fsync: %s", dir, strerror(errno));
  return 0;
}

int mef3__write_atomic(int dirfd, const char *dir, const char *name,
                       const uint8_t *buf, size_t len, int sync) {
  char tmp[512];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", name) >= (int)sizeof tmp)
    return mef3__error(MEF3_EINVAL, "%s/%s: name too long", dir, name);
  int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return mef3__error(MEF3_EIO, "%s/%s: cannot create: %s", dir, tmp,
                       strerror(errno));
  int rc = 0;
  if (pwrite_full(fd, buf, len, 0) != 0)
    rc = mef3__error(MEF3_EIO, "%s/%s: cannot write: %s", dir, tmp,
                     strerror(errno));
  else if (sync && fdatasync(fd) != 0)
    rc = mef3__error(MEF3_EIO, "%s/%s: fdatasync: %s", dir, tmp,
                     strerror(errno));
  close(fd);
  if (!rc && renameat(dirfd, tmp, dirfd, name) != 0)
    rc = mef3__error(MEF3_EIO, "%s/%s: cannot rename into place: %s", dir, name,
                     strerror(errno));
  if (rc)
    unlinkat(dirfd, tmp, 0);
  else if (sync)
    rc = mef3__sync_dir(dirfd, dir);
  return rc;
}
