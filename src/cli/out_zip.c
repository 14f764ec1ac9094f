/*
 * cli/out_zip.c - a zip archive written front to back, members stored
 * uncompressed: the container of .npz files (NumPy's np.load reads stored
 * members as readily as deflated ones, and float samples barely deflate).
 *
 * Written from PKWARE's APPNOTE (local header, member bytes, central
 * directory, end record).  A member's CRC-32 and size go in its local
 * header, so both are computed from the member's pieces before its bytes
 * are written: nothing seeks, and the archive can go to a pipe.  Sizes
 * and offsets that do not fit 32 bits (reads of 4 GiB and more) get zip64
 * extra fields and the zip64 end records; below that the archive is the
 * classic format every tool reads.  Times are fixed (1980-01-01), so the
 * same read gives the same bytes.  One thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli_out.h"

#define U16_MAX 0xFFFFu
#define U32_MAX 0xFFFFFFFFu
#define DOS_DATE_1980 0x0021 /* 1980-01-01; time 00:00:00 is 0 */

/* A little-endian field writer over a small buffer. */
typedef struct le {
  uint8_t b[128];
  size_t n;
} le;

static void put(le *o, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++)
    o->b[o->n++] = (uint8_t)(v >> (8 * i));
}

static int out(cli_zip *z, const void *p, size_t n) {
  if (n && fwrite(p, 1, n, z->f) != n) {
    if (!errno)
      errno = EIO;
    return -1;
  }
  z->offset += n;
  return 0;
}

void cli_zip_init(cli_zip *z, FILE *f, uint64_t zip64_from) {
  memset(z, 0, sizeof *z);
  z->f = f;
  z->zip64_from = zip64_from < U32_MAX ? zip64_from : U32_MAX;
  /* CRC-32 of zip: reflected polynomial 0xEDB88320. */
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    z->crc_table[i] = c;
  }
}

static uint32_t crc_update(const cli_zip *z, uint32_t c, const uint8_t *p,
                           uint64_t n) {
  for (uint64_t i = 0; i < n; i++)
    c = z->crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c;
}

int cli_zip_add(cli_zip *z, const char *name, const cli_piece *p, size_t n) {
  if (z->n == z->cap) {
    size_t cap = z->cap ? 2 * z->cap : 8;
    cli_zip_entry *e = realloc(z->e, cap * sizeof *e);
    if (!e)
      return -1;
    z->e = e;
    z->cap = cap;
  }
  size_t name_len = strlen(name);
  char *copy = strdup(name);
  if (!copy || name_len > U16_MAX) {
    free(copy);
    errno = copy ? EINVAL : ENOMEM;
    return -1;
  }
  uint32_t crc = U32_MAX;
  uint64_t size = 0;
  for (size_t i = 0; i < n; i++) {
    crc = crc_update(z, crc, p[i].p, p[i].len);
    size += p[i].len;
  }
  crc ^= U32_MAX;
  cli_zip_entry *e = &z->e[z->n++];
  *e = (cli_zip_entry){copy, z->offset, size, crc};

  int big = size >= z->zip64_from;
  le h = {{0}, 0};
  put(&h, 0x04034b50, 4);
  put(&h, big ? 45 : 20, 2); /* version needed: zip64 is 4.5 */
  put(&h, 0, 2);             /* flags */
  put(&h, 0, 2);             /* stored */
  put(&h, 0, 2);
  put(&h, DOS_DATE_1980, 2);
  put(&h, crc, 4);
  put(&h, big ? U32_MAX : size, 4); /* compressed size */
  put(&h, big ? U32_MAX : size, 4); /* uncompressed size */
  put(&h, name_len, 2);
  put(&h, big ? 20 : 0, 2); /* extra field length */
  le x = {{0}, 0};
  if (big) { /* in a local header both sizes, uncompressed first */
    put(&x, 0x0001, 2);
    put(&x, 16, 2);
    put(&x, size, 8);
    put(&x, size, 8);
  }
  if (out(z, h.b, h.n) || out(z, name, name_len) || out(z, x.b, x.n))
    return -1;
  for (size_t i = 0; i < n; i++)
    if (out(z, p[i].p, (size_t)p[i].len))
      return -1;
  return 0;
}

int cli_zip_finish(cli_zip *z) {
  uint64_t cd_start = z->offset;
  for (size_t i = 0; i < z->n; i++) {
    const cli_zip_entry *e = &z->e[i];
    int big_size = e->size >= z->zip64_from,
        big_off = e->offset >= z->zip64_from;
    le x = {{0}, 0};
    if (big_size || big_off) {
      /* Only the fields the header marks, in this order. */
      put(&x, 0x0001, 2);
      put(&x, 8 * (2 * big_size + big_off), 2);
      if (big_size) {
        put(&x, e->size, 8); /* uncompressed */
        put(&x, e->size, 8); /* compressed */
      }
      if (big_off)
        put(&x, e->offset, 8);
    }
    int need = (big_size || big_off) ? 45 : 20;
    le h = {{0}, 0};
    put(&h, 0x02014b50, 4);
    put(&h, (3u << 8) | (unsigned)need, 2); /* made by: Unix */
    put(&h, need, 2);
    put(&h, 0, 2);
    put(&h, 0, 2);
    put(&h, 0, 2);
    put(&h, DOS_DATE_1980, 2);
    put(&h, e->crc, 4);
    put(&h, big_size ? U32_MAX : e->size, 4);
    put(&h, big_size ? U32_MAX : e->size, 4);
    size_t name_len = strlen(e->name);
    put(&h, name_len, 2);
    put(&h, x.n, 2);
    put(&h, 0, 2);              /* comment */
    put(&h, 0, 2);              /* disk */
    put(&h, 0, 2);              /* internal attributes */
    put(&h, 0100644u << 16, 4); /* external: a regular file, rw-r--r-- */
    put(&h, big_off ? U32_MAX : e->offset, 4);
    if (out(z, h.b, h.n) || out(z, e->name, name_len) || out(z, x.b, x.n))
      return -1;
  }
  uint64_t cd_size = z->offset - cd_start;
  int big =
      z->n >= U16_MAX || cd_size >= z->zip64_from || cd_start >= z->zip64_from;
  le h = {{0}, 0};
  if (big) {
    uint64_t at = z->offset;
    put(&h, 0x06064b50, 4);
    put(&h, 44, 8); /* size of the rest of this record */
    put(&h, (3u << 8) | 45u, 2);
    put(&h, 45, 2);
    put(&h, 0, 4); /* this disk */
    put(&h, 0, 4); /* disk of the central directory */
    put(&h, z->n, 8);
    put(&h, z->n, 8);
    put(&h, cd_size, 8);
    put(&h, cd_start, 8);
    put(&h, 0x07064b50, 4); /* locator */
    put(&h, 0, 4);
    put(&h, at, 8);
    put(&h, 1, 4); /* disks */
  }
  put(&h, 0x06054b50, 4);
  put(&h, 0, 2);
  put(&h, 0, 2);
  put(&h, big ? U16_MAX : z->n, 2);
  put(&h, big ? U16_MAX : z->n, 2);
  put(&h, big ? U32_MAX : cd_size, 4);
  put(&h, big ? U32_MAX : cd_start, 4);
  put(&h, 0, 2); /* comment */
  return out(z, h.b, h.n);
}

void cli_zip_dispose(cli_zip *z) {
  for (size_t i = 0; i < z->n; i++)
    free(z->e[i].name);
  free(z->e);
  z->e = NULL;
  z->n = z->cap = 0;
}
