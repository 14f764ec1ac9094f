/*
 * cli/out_npy.c - NumPy's .npy array format: the header (magic, version
 * 1.0, a Python dict literal giving dtype, order and shape, padded so the
 * data starts on a 64-byte boundary), string arrays as '<U' (UTF-32), and
 * `read --format npy`, a (channels, samples) float32 array written from
 * the channels' own buffers, one after another (C order), without a copy.
 * Values are the host's, little-endian (the library requires that host).
 */
#include <stdlib.h>
#include <string.h>

#include "cli_out.h"

size_t cli_npy_header(char *buf, size_t cap, const char *descr, int ndim,
                      uint64_t d0, uint64_t d1) {
  char dict[200];
  int k = ndim == 1
              ? snprintf(dict, sizeof dict,
                         "{'descr': '%s', 'fortran_order': False, "
                         "'shape': (%llu,), }",
                         descr, (unsigned long long)d0)
              : snprintf(dict, sizeof dict,
                         "{'descr': '%s', 'fortran_order': False, "
                         "'shape': (%llu, %llu), }",
                         descr, (unsigned long long)d0, (unsigned long long)d1);
  if (k < 0 || (size_t)k >= sizeof dict)
    return 0;
  /* magic (6) + version (2) + header length (2) + dict + pad + '\n' */
  size_t total = 10 + (size_t)k + 1;
  size_t pad = (64 - total % 64) % 64;
  total += pad;
  if (total > cap)
    return 0;
  uint16_t hlen = (uint16_t)(total - 10);
  memcpy(buf, "\x93NUMPY\x01\x00", 8);
  buf[8] = (char)(hlen & 0xff);
  buf[9] = (char)(hlen >> 8);
  memcpy(buf + 10, dict, (size_t)k);
  memset(buf + 10 + k, ' ', pad);
  buf[total - 1] = '\n';
  return total;
}

/* The next code point of UTF-8 `*p` (advancing it); U+FFFD for a byte
 * that does not start a well-formed sequence. */
static uint32_t next_code_point(const unsigned char **p) {
  const unsigned char *s = *p;
  uint32_t c = s[0];
  int more = c < 0x80                ? 0
             : c >= 0xC2 && c < 0xE0 ? 1
             : c >= 0xE0 && c < 0xF0 ? 2
             : c >= 0xF0 && c < 0xF5 ? 3
                                     : -1;
  *p = s + 1;
  if (more <= 0)
    return more < 0 ? 0xFFFD : c;
  c &= 0x7Fu >> (more + 1); /* the lead byte's payload bits */
  for (int i = 1; i <= more; i++) {
    if ((s[i] & 0xC0) != 0x80) {
      *p = s + i; /* resume there: it may start a sequence */
      return 0xFFFD;
    }
    c = (c << 6) | (s[i] & 0x3F);
  }
  /* overlong, surrogate or past U+10FFFF */
  if ((more == 2 && c < 0x800) ||
      (more == 3 && (c < 0x10000 || c > 0x10FFFF)) ||
      (c >= 0xD800 && c < 0xE000))
    c = 0xFFFD;
  *p = s + 1 + more;
  return c;
}

static size_t count_code_points(const char *s) {
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)s; p && *p; n++)
    next_code_point(&p);
  return n;
}

int cli_npy_strings(const char *const *s, size_t n, uint32_t **out,
                    size_t *width) {
  size_t w = 1;
  for (size_t i = 0; i < n; i++) {
    size_t k = count_code_points(s[i]);
    if (k > w)
      w = k;
  }
  uint32_t *u = calloc(n ? n * w : 1, sizeof *u);
  if (!u)
    return -1;
  for (size_t i = 0; i < n; i++) {
    size_t j = 0;
    for (const unsigned char *p = (const unsigned char *)s[i]; p && *p;)
      u[i * w + j++] = next_code_point(&p);
  }
  *out = u;
  *width = w;
  return 0;
}

int cli_out_npy(FILE *f, const cli_out_channel *ch, size_t n) {
  char h[256];
  size_t len = cli_npy_header(h, sizeof h, "<f4", 2, n, n ? ch[0].n : 0);
  if (fwrite(h, 1, len, f) != len)
    return -1;
  for (size_t c = 0; c < n; c++)
    if (fwrite(ch[c].data, sizeof(float), ch[c].n, f) != ch[c].n)
      return -1;
  return 0;
}
