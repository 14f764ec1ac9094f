/*
 * reader/tar.c - indexing an uncompressed tar archive of a session.
 *
 * The members of an uncompressed tar are contiguous byte ranges of the
 * archive, so once their offsets are known a reader reads a member (or a
 * range of one: a window's data blocks) with a positioned read of the
 * archive, without extracting anything.  Opening walks the headers once
 * (one 512-byte read per member, skipping the data) and keeps a sorted
 * table of regular files and directories.
 *
 * Formats read: POSIX ustar (name + prefix), GNU (long names in 'L'
 * members, base-256 sizes), pax extended headers ('x': path and size are
 * honoured; 'g' is skipped), v7 headers, and the signed-checksum variant
 * some old tars wrote.  Links, devices and FIFOs are skipped; a sparse
 * member is refused (its data is not one byte range).  Later members of
 * the same path replace earlier ones, as tar extracts them.
 *
 * Damage is an error naming the archive and the header's offset: a
 * checksum that does not match, a field that is not a number, a member
 * whose data runs past the end of the file, and an archive that ends
 * without its end-of-archive (zero) block, which is what an archive cut
 * short looks like; reading on would silently give a partial session.
 *
 * A mef3__tar is immutable after mef3__tar_open, so any number of threads
 * may look members up at once; reads of its descriptor are pread.
 */
#include "reader/tar.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mef3pool/common.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/fsutil.h"

#define BLK 512
/* Bounds on metadata members, so a damaged size never sizes a buffer. */
#define MAX_LONG_NAME ((uint64_t)1 << 16)
#define MAX_PAX_HEADER ((uint64_t)1 << 20)

typedef struct {
  char *path; /* normalized, root-relative */
  uint64_t offset, size;
  size_t seq; /* position in the archive: the last of a path wins */
  int is_dir;
} tar_entry;

struct mef3__tar {
  int fd;
  char *path;
  tar_entry *e;
  size_t n, cap;
};

/* Pending extended-header state: applies to the next file member. */
typedef struct {
  char *long_name; /* GNU 'L' */
  char *pax_path;
  int64_t pax_size; /* -1: none */
  int pax_sparse;
} pending;

static void pending_clear(pending *p) {
  mef3__free(p->long_name);
  mef3__free(p->pax_path);
  memset(p, 0, sizeof *p);
  p->pax_size = -1;
}

void mef3__tar_close(mef3__tar *t) {
  if (!t)
    return;
  if (t->fd >= 0)
    close(t->fd);
  for (size_t i = 0; i < t->n; i++)
    mef3__free(t->e[i].path);
  mef3__free(t->e);
  mef3__free(t->path);
  mef3__free(t);
}

int mef3__tar_fd(const mef3__tar *t) {
  return t->fd;
}

/* An octal field: optional leading spaces, digits, then only spaces or
 * NULs.  -1 when it is not one. */
static int64_t octal(const uint8_t *f, size_t len) {
  size_t i = 0;
  while (i < len && f[i] == ' ')
    i++;
  int64_t v = 0;
  size_t digits = 0;
  for (; i < len && f[i] >= '0' && f[i] <= '7'; i++, digits++) {
    if (v > (INT64_MAX >> 3))
      return -1;
    v = v * 8 + (f[i] - '0');
  }
  for (; i < len; i++)
    if (f[i] != ' ' && f[i] != '\0')
      return -1;
  return digits ? v : -1;
}

/* The size field: octal, or GNU base-256 (high bit of the first byte). */
static int64_t size_field(const uint8_t *h) {
  const uint8_t *f = h + 124;
  if (!(f[0] & 0x80))
    return octal(f, 12);
  if (f[0] & 0x40)
    return -1; /* negative */
  uint64_t v = f[0] & 0x3f;
  for (int i = 1; i < 12; i++) {
    if (v >> 55)
      return -1;
    v = (v << 8) | f[i];
  }
  return (int64_t)v;
}

/* 1 when the header's checksum matches (unsigned or signed sum). */
static int checksum_ok(const uint8_t *h, int64_t *stored, int64_t *sum) {
  *stored = octal(h + 148, 8);
  int64_t u = 0, s = 0;
  for (int i = 0; i < BLK; i++) {
    uint8_t b = (i >= 148 && i < 156) ? ' ' : h[i];
    u += b;
    s += (int8_t)b;
  }
  *sum = u;
  return *stored >= 0 && (*stored == u || *stored == s);
}

static int all_zero(const uint8_t *h) {
  for (int i = 0; i < BLK; i++)
    if (h[i])
      return 0;
  return 1;
}

/* The compression a file's first bytes announce, or NULL. */
static const char *compressed(const uint8_t *h) {
  if (h[0] == 0x1f && h[1] == 0x8b)
    return "gzip";
  if (h[0] == 'B' && h[1] == 'Z' && h[2] == 'h')
    return "bzip2";
  if (!memcmp(h,
              "\xfd"
              "7zXZ",
              5))
    return "xz";
  if (!memcmp(h, "\x28\xb5\x2f\xfd", 4))
    return "zstd";
  if (!memcmp(h, "\x04\x22\x4d\x18", 4))
    return "lz4";
  return NULL;
}

/* `raw` (len bytes, NUL-terminated earlier perhaps) normalized: components
 * joined with '/', without "", "." and leading "/".  NULL for no memory;
 * *dotdot set when a ".." component makes the name unusable. */
static char *normalize(const char *raw, size_t len, int *dotdot) {
  size_t n = strnlen(raw, len);
  char *o = mef3__malloc(n + 1);
  if (!o)
    return NULL;
  size_t w = 0, i = 0;
  *dotdot = 0;
  while (i < n) {
    size_t j = i;
    while (j < n && raw[j] != '/')
      j++;
    size_t cl = j - i;
    if (cl == 2 && raw[i] == '.' && raw[i + 1] == '.')
      *dotdot = 1;
    if (cl && !(cl == 1 && raw[i] == '.')) {
      if (w)
        o[w++] = '/';
      memcpy(o + w, raw + i, cl);
      w += cl;
    }
    i = j + 1;
  }
  o[w] = '\0';
  return o;
}

/* The member name a header gives by itself (ustar prefix + name). */
static char *header_name(const uint8_t *h, int *dotdot) {
  char buf[156 + 1 + 100 + 1];
  size_t w = 0;
  /* Only POSIX ustar has the prefix field; GNU keeps times there. */
  if (!memcmp(h + 257, "ustar\0", 6) && h[345]) {
    size_t pl = strnlen((const char *)h + 345, 155);
    memcpy(buf, h + 345, pl);
    w = pl;
    buf[w++] = '/';
  }
  size_t nl = strnlen((const char *)h, 100);
  memcpy(buf + w, h, nl);
  w += nl;
  return normalize(buf, w, dotdot);
}

/* Read `size` bytes of a metadata member's data at `off` into a
 * NUL-terminated buffer. */
static int read_meta(mef3__tar *t, char **out, uint64_t off, uint64_t size,
                     uint64_t hdr, const char *what) {
  *out = mef3__malloc((size_t)size + 1);
  if (!*out)
    return mef3__error(MEF3_ENOMEM, "out of memory");
  long long k = mef3__pread_full(t->fd, *out, (size_t)size, off);
  if (k != (long long)size) {
    int err = errno;
    mef3__free(*out);
    *out = NULL;
    if (k < 0)
      return mef3__error_at(mef3__errno_code(err), t->path, off,
                            "read of the %s failed: %s", what, strerror(err));
    return mef3__error_at(MEF3_ECORRUPT, t->path, hdr, "%s cut short", what);
  }
  (*out)[size] = '\0';
  return 0;
}

/* Parse the records ("LEN key=value\n") of a pax extended header. */
static int parse_pax(mef3__tar *t, pending *p, const char *d, size_t len,
                     uint64_t hdr) {
  size_t i = 0;
  while (i < len) {
    size_t j = i, rl = 0;
    while (j < len && d[j] >= '0' && d[j] <= '9' && rl < len)
      rl = rl * 10 + (size_t)(d[j++] - '0');
    if (j == i || j >= len || d[j] != ' ' || rl <= j - i || rl > len - i ||
        d[i + rl - 1] != '\n')
      return mef3__error_at(MEF3_ECORRUPT, t->path, hdr,
                            "damaged pax extended header (record at byte %zu)",
                            i);
    const char *k = d + j + 1, *end = d + i + rl - 1;
    const char *eq = memchr(k, '=', (size_t)(end - k));
    if (!eq)
      return mef3__error_at(MEF3_ECORRUPT, t->path, hdr,
                            "damaged pax extended header (record without '=')");
    size_t kl = (size_t)(eq - k), vl = (size_t)(end - eq - 1);
    const char *v = eq + 1;
    if (kl == 4 && !memcmp(k, "path", 4)) {
      mef3__free(p->pax_path);
      int dd;
      if (!(p->pax_path = normalize(v, vl, &dd)))
        return mef3__error(MEF3_ENOMEM, "out of memory");
      if (dd)
        p->pax_path[0] = '\0'; /* unusable: the member is skipped */
    } else if (kl == 4 && !memcmp(k, "size", 4)) {
      int64_t s = 0;
      size_t q = 0;
      for (; q < vl && v[q] >= '0' && v[q] <= '9'; q++) {
        if (s > (INT64_MAX - 9) / 10)
          break;
        s = s * 10 + (v[q] - '0');
      }
      if (q == 0 || q != vl)
        return mef3__error_at(MEF3_ECORRUPT, t->path, hdr,
                              "pax size \"%.*s\" is not a number", (int)vl, v);
      p->pax_size = s;
    } else if (kl > 11 && !memcmp(k, "GNU.sparse.", 11)) {
      p->pax_sparse = 1;
    }
    i += rl;
  }
  return 0;
}

static int add_entry(mef3__tar *t, char *path, uint64_t off, uint64_t size,
                     int is_dir) {
  if (t->n == t->cap) {
    size_t nc = t->cap ? 2 * t->cap : 64;
    tar_entry *ne = mef3__realloc(t->e, nc * sizeof *ne);
    if (!ne) {
      mef3__free(path);
      return mef3__error(MEF3_ENOMEM, "out of memory");
    }
    t->e = ne;
    t->cap = nc;
  }
  t->e[t->n] = (tar_entry){path, off, size, t->n, is_dir};
  t->n++;
  return 0;
}

static int parse(mef3__tar *t, uint64_t fsize) {
  uint8_t h[BLK];
  uint64_t pos = 0;
  pending p = {0};
  p.pax_size = -1;
  int rc = 0;
  for (;;) {
    if (pos >= fsize) {
      rc = mef3__error_at(MEF3_ECORRUPT, t->path, pos,
                          "the archive ends without its end-of-archive block "
                          "(cut short?)");
      break;
    }
    if (fsize - pos < BLK) {
      rc = mef3__error_at(MEF3_ECORRUPT, t->path, pos,
                          "the archive ends inside a member header (%llu of "
                          "%d bytes): cut short",
                          (unsigned long long)(fsize - pos), BLK);
      break;
    }
    long long k = mef3__pread_full(t->fd, h, BLK, pos);
    if (k != BLK) {
      int err = errno;
      rc = mef3__error_at(k < 0 ? mef3__errno_code(err) : MEF3_ECORRUPT,
                          t->path, pos, "reading a member header: %s",
                          k < 0 ? strerror(err) : "the file shrank");
      break;
    }
    if (all_zero(h))
      break; /* end of archive */
    const char *z = pos == 0 ? compressed(h) : NULL;
    if (z) {
      rc = mef3__error(MEF3_EUNSUPPORTED,
                       "%s: a %s-compressed archive; only an uncompressed tar "
                       "is read in place (decompress it first)",
                       t->path, z);
      break;
    }
    int64_t stored, sum;
    if (!checksum_ok(h, &stored, &sum)) {
      if (pos == 0)
        rc = mef3__error(MEF3_ECORRUPT,
                         "%s: not a tar archive (its first header does not "
                         "check out)",
                         t->path);
      else if (stored < 0)
        rc = mef3__error_at(MEF3_ECORRUPT, t->path, pos,
                            "damaged tar header: the checksum field is not a "
                            "number");
      else
        rc =
            mef3__error_at(MEF3_ECORRUPT, t->path, pos,
                           "damaged tar header: checksum %llo, the header "
                           "sums to %llo",
                           (unsigned long long)stored, (unsigned long long)sum);
      break;
    }
    int64_t size = size_field(h);
    char type = (char)h[156];
    int dd = 0;
    if (size < 0) {
      rc = mef3__error_at(MEF3_ECORRUPT, t->path, pos,
                          "damaged tar header: the size field is not a "
                          "number");
      break;
    }
    int is_file = type == '0' || type == '\0' || type == '7';
    if (is_file && p.pax_size >= 0)
      size = p.pax_size;
    uint64_t data = pos + BLK;
    if ((uint64_t)size > fsize - data) {
      char *nm = header_name(h, &dd);
      rc = mef3__error_at(MEF3_ECORRUPT, t->path, pos,
                          "member \"%.200s\" of %llu bytes runs past the end "
                          "of the archive (%llu bytes): cut short",
                          p.long_name  ? p.long_name
                          : p.pax_path ? p.pax_path
                          : nm         ? nm
                                       : "?",
                          (unsigned long long)size, (unsigned long long)fsize);
      mef3__free(nm);
      break;
    }
    if (type == 'L') {
      if ((uint64_t)size > MAX_LONG_NAME) {
        rc = mef3__error_at(MEF3_ECORRUPT, t->path, pos,
                            "a long name of %lld bytes", (long long)size);
        break;
      }
      char *raw;
      if ((rc = read_meta(t, &raw, data, (uint64_t)size, pos, "long name")))
        break;
      mef3__free(p.long_name);
      p.long_name = normalize(raw, (size_t)size, &dd);
      mef3__free(raw);
      if (!p.long_name) {
        rc = mef3__error(MEF3_ENOMEM, "out of memory");
        break;
      }
      if (dd)
        p.long_name[0] = '\0';
    } else if (type == 'x') {
      if ((uint64_t)size > MAX_PAX_HEADER) {
        rc = mef3__error_at(MEF3_ECORRUPT, t->path, pos,
                            "a pax header of %lld bytes", (long long)size);
        break;
      }
      char *raw;
      if ((rc = read_meta(t, &raw, data, (uint64_t)size, pos, "pax header")))
        break;
      rc = parse_pax(t, &p, raw, (size_t)size, pos);
      mef3__free(raw);
      if (rc)
        break;
    } else if (type == 'K' || type == 'g') {
      /* a long link name, global pax header: nothing a reader needs */
    } else {
      if (type == 'S' || (is_file && p.pax_sparse)) {
        char *nm = header_name(h, &dd);
        rc = mef3__error_at(MEF3_EUNSUPPORTED, t->path, pos,
                            "member \"%.200s\" is a sparse file; its data is "
                            "not one byte range (archive without "
                            "--sparse)",
                            nm ? nm : "?");
        mef3__free(nm);
        break;
      }
      if (is_file || type == '5') {
        char *name;
        if (p.long_name) {
          name = p.long_name;
          p.long_name = NULL;
        } else if (p.pax_path) {
          name = p.pax_path;
          p.pax_path = NULL;
        } else {
          name = header_name(h, &dd);
          if (name && dd)
            name[0] = '\0';
        }
        if (!name) {
          rc = mef3__error(MEF3_ENOMEM, "out of memory");
          break;
        }
        if (!name[0]) /* the root itself, or a name with ".." */
          mef3__free(name);
        else if ((rc = add_entry(t, name, data, is_file ? (uint64_t)size : 0,
                                 !is_file)))
          break;
      }
      pending_clear(&p);
    }
    uint64_t padded = ((uint64_t)size + BLK - 1) / BLK * BLK;
    pos = data + padded;
  }
  pending_clear(&p);
  return rc;
}

static int cmp_entry(const void *a, const void *b) {
  const tar_entry *x = a, *y = b;
  int c = strcmp(x->path, y->path);
  if (c)
    return c;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int ends_with(const char *s, size_t n, const char *suffix) {
  size_t l = strlen(suffix);
  return n >= l && !memcmp(s + n - l, suffix, l);
}

/* Drop the session's root directories (see tar.h). */
static void strip_root(mef3__tar *t) {
  while (t->n) {
    const char *f = t->e[0].path;
    size_t L = strcspn(f, "/");
    int child = 0;
    for (size_t i = 0; i < t->n; i++) {
      const char *p = t->e[i].path;
      if (strncmp(p, f, L) || (p[L] != '/' && p[L] != '\0'))
        return;
      child |= p[L] == '/';
    }
    if (!child || ends_with(f, L, ".timd"))
      return;
    size_t w = 0;
    for (size_t i = 0; i < t->n; i++) {
      char *p = t->e[i].path;
      if (p[L] == '\0') { /* the root's own directory member */
        mef3__free(p);
        continue;
      }
      memmove(p, p + L + 1, strlen(p + L + 1) + 1);
      t->e[w++] = t->e[i];
    }
    t->n = w;
  }
}

int mef3__tar_open(mef3__tar **out, const mef3__beneath *root,
                   const char *path) {
  *out = NULL;
  mef3__tar *t = mef3__calloc(1, sizeof *t);
  if (!t)
    return mef3__error(MEF3_ENOMEM, "out of memory");
  t->fd = -1;
  if (!(t->path = mef3__strdup(path))) {
    mef3__tar_close(t);
    return mef3__error(MEF3_ENOMEM, "out of memory");
  }
  t->fd = mef3__open_in(root, path, O_RDONLY);
  if (t->fd < 0) {
    int err = errno;
    mef3__tar_close(t);
    return mef3__error(mef3__errno_code(err), "%s: cannot open: %s", path,
                       mef3__beneath_strerror(err));
  }
  struct stat st;
  if (fstat(t->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    mef3__tar_close(t);
    return mef3__error(MEF3_EIO, "%s: not a regular file", path);
  }
  int rc = parse(t, (uint64_t)st.st_size);
  if (rc) {
    mef3__tar_close(t);
    return rc;
  }
  if (t->n)
    qsort(t->e, t->n, sizeof *t->e, cmp_entry);
  /* keep the last member of each path */
  size_t w = 0;
  for (size_t i = 0; i < t->n; i++) {
    if (i + 1 < t->n && !strcmp(t->e[i].path, t->e[i + 1].path)) {
      mef3__free(t->e[i].path);
      continue;
    }
    t->e[w++] = t->e[i];
  }
  t->n = w;
  strip_root(t);
  *out = t;
  return 0;
}

/* Index of the first entry not less than `key`. */
static size_t lower_bound(const mef3__tar *t, const char *key) {
  size_t lo = 0, hi = t->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (strcmp(t->e[mid].path, key) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

int mef3__tar_find(const mef3__tar *t, const char *rel, uint64_t *offset,
                   uint64_t *size) {
  size_t i = lower_bound(t, rel);
  if (i == t->n || strcmp(t->e[i].path, rel) || t->e[i].is_dir)
    return MEF3_ENOTFOUND;
  *offset = t->e[i].offset;
  *size = t->e[i].size;
  return 0;
}

int mef3__tar_is_dir(const mef3__tar *t, const char *rel) {
  if (!rel[0])
    return 1;
  size_t i = lower_bound(t, rel);
  if (i < t->n && !strcmp(t->e[i].path, rel) && t->e[i].is_dir)
    return 1;
  /* else a directory when a member lies below it: the paths that start
   * with rel are contiguous ("rel-x" sorts before "rel/x") */
  size_t l = strlen(rel);
  for (; i < t->n && !strncmp(t->e[i].path, rel, l); i++)
    if (t->e[i].path[l] == '/')
      return 1;
  return 0;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int mef3__tar_list(const mef3__tar *t, char ***out, size_t *n_out,
                   const char *rel, const char *suffix) {
  *out = NULL;
  *n_out = 0;
  if (!mef3__tar_is_dir(t, rel))
    return mef3__error(MEF3_ENOTFOUND,
                       "%s/%s: cannot list: no such directory "
                       "in the archive",
                       t->path, rel);
  size_t l = strlen(rel);
  char **names = NULL;
  size_t n = 0, cap = 0;
  for (size_t i = l ? lower_bound(t, rel) : 0; i < t->n; i++) {
    const char *p = t->e[i].path;
    if (l && strncmp(p, rel, l))
      break; /* past every path that starts with rel */
    if (l && p[l] != '/')
      continue;
    const char *c = l ? p + l + 1 : p;
    size_t cl = strcspn(c, "/");
    if (c[0] == '.' || !ends_with(c, cl, suffix))
      continue;
    if (n == cap) {
      size_t nc = cap ? 2 * cap : 16;
      char **nn = mef3__realloc(names, nc * sizeof *nn);
      if (!nn)
        goto oom;
      names = nn;
      cap = nc;
    }
    if (!(names[n] = mef3__malloc(cl + 1)))
      goto oom;
    memcpy(names[n], c, cl);
    names[n][cl] = '\0';
    n++;
  }
  if (n)
    qsort(names, n, sizeof *names, cmp_names);
  size_t w = 0;
  for (size_t i = 0; i < n; i++) {
    if (w && !strcmp(names[w - 1], names[i])) {
      mef3__free(names[i]);
      continue;
    }
    names[w++] = names[i];
  }
  *out = names;
  *n_out = w;
  return 0;
oom:
  mef3__free_list(names, n);
  return mef3__error(MEF3_ENOMEM, "%s: out of memory listing", t->path);
}
