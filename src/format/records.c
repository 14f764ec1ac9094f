/*
 * format/records.c - record data files (.rdat): a universal header and a
 * sequence of records, each a 24-byte header and a body padded to 16
 * bytes.  Known types (Note, SyLg, EDFA, Seiz, Curs, Epoc, ...) are
 * decoded into mef3_record fields; every record keeps its raw body.
 * The record index (.ridx) only repeats what the headers say, so the data
 * file alone is parsed.
 */
#include <stdlib.h>
#include <string.h>

#include "codec/crypto.h"
#include "mef3pool/format.h"
#include "util/bytes.h"
#include "util/error.h"
#include "util/alloc.h"

void mef3_records_free(mef3_record *r, size_t n) {
  if (!r)
    return;
  for (size_t i = 0; i < n; i++) {
    mef3__free(r[i].body);
    mef3__free(r[i].text);
  }
  mef3__free(r);
}

/* A NUL-terminated copy of at most `len` bytes of a string field. */
static char *dup_field(const uint8_t *p, size_t len) {
  size_t n = 0;
  while (n < len && p[n])
    n++;
  char *s = mef3__malloc(n + 1);
  if (s) {
    memcpy(s, p, n);
    s[n] = '\0';
  }
  return s;
}

/* Fill the typed fields of `r` from its (readable) body. */
static int decode_body(mef3_record *r) {
  const uint8_t *b = r->body;
  size_t n = r->body_bytes;
  const char *t = r->type;
  if (!strcmp(t, "Note") || !strcmp(t, "SyLg")) {
    r->text = dup_field(b, n);
  } else if (!strcmp(t, "EDFA")) {
    if (n < 8)
      return -1;
    r->duration = ld_i64(b);
    r->text = dup_field(b + 8, n - 8);
  } else if (!strcmp(t, "Seiz")) {
    if (n < 1312)
      return -1;
    r->end_time = ld_i64(b + 8);
    r->duration = ld_i64(b + 16);
    r->number_of_channels = ld_i32(b + 24);
    r->onset_code = ld_i32(b + 28);
    r->text = dup_field(b + 288, 1024);
  } else if (!strcmp(t, "Curs")) {
    if (n < 160)
      return -1;
    r->text = dup_field(b + 32, 128);
  } else if (!strcmp(t, "Epoc")) {
    if (n < 192)
      return -1;
    r->end_time = ld_i64(b + 16);
    r->duration = ld_i64(b + 24);
    r->text = dup_field(b + 64, 128);
  } else {
    return 0; /* unknown type: raw body only */
  }
  return r->text ? 0 : -2;
}

int mef3_records_parse(mef3_record **out, size_t *n_out, const uint8_t *buf,
                       size_t len, const mef3_keys *keys, const char *path) {
  mef3_universal_header uh;
  *out = NULL;
  *n_out = 0;
  int rc = mef3_uh_parse(&uh, buf, len, "rdat", path);
  if (rc)
    return rc;
  if (uh.body_crc != 0 &&
      mef3_crc32(buf + MEF3_UH_BYTES, len - MEF3_UH_BYTES) != uh.body_crc)
    return mef3__error_at(MEF3_ECRC, path, MEF3_UH_BYTES,
                          "records body CRC mismatch");
  size_t cap = 0, n = 0;
  mef3_record *recs = NULL;
  size_t pos = MEF3_UH_BYTES;
  while (pos < len) {
    if (uh.number_of_entries >= 0 && (int64_t)n >= uh.number_of_entries)
      break;
    if (len - pos < MEF3_RECORD_HEADER_BYTES) {
      rc = mef3__error_at(MEF3_ECORRUPT, path, pos, "truncated record header");
      goto fail;
    }
    const uint8_t *h = buf + pos;
    uint32_t bytes = ld_u32(h + 12);
    if (bytes > len - pos - MEF3_RECORD_HEADER_BYTES) {
      rc = mef3__error_at(MEF3_ECORRUPT, path, pos + 12,
                          "record body of %u bytes runs past the end of "
                          "the file",
                          bytes);
      goto fail;
    }
    uint32_t crc = ld_u32(h);
    if (crc != 0 &&
        mef3_crc32(h + 4, MEF3_RECORD_HEADER_BYTES - 4 + bytes) != crc) {
      rc = mef3__error_at(MEF3_ECRC, path, pos, "record CRC mismatch");
      goto fail;
    }
    if (n == cap) {
      size_t nc = cap ? cap * 2 : 16;
      mef3_record *nr = mef3__realloc(recs, nc * sizeof *nr);
      if (!nr) {
        rc = mef3__error(MEF3_ENOMEM, "cannot allocate records");
        goto fail;
      }
      recs = nr;
      cap = nc;
    }
    mef3_record *r = &recs[n];
    memset(r, 0, sizeof *r);
    n++;
    memcpy(r->type, h + 4, 4);
    r->type[4] = '\0';
    r->version_major = h[9];
    r->version_minor = h[10];
    r->encryption = (int8_t)h[11];
    r->body_bytes = bytes;
    r->time = ld_i64(h + 16);
    r->segment = -1;
    r->body = mef3__malloc(bytes ? bytes : 1);
    if (!r->body) {
      rc = mef3__error(MEF3_ENOMEM, "cannot allocate a record body");
      goto fail;
    }
    memcpy(r->body, h + MEF3_RECORD_HEADER_BYTES, bytes);
    r->available = 1;
    if (r->encryption > 0) {
      if (r->encryption <= 2 && keys && keys->access_level >= r->encryption &&
          bytes % 16 == 0) {
        const uint8_t *key = r->encryption == 1 ? keys->level_1 : keys->level_2;
        rc = mef3__aes_ecb(key, 0, r->body, bytes);
        if (rc)
          goto fail;
      } else {
        r->available = 0;
      }
    }
    if (r->available) {
      int d = decode_body(r);
      if (d == -2) {
        rc = mef3__error(MEF3_ENOMEM, "cannot allocate record text");
        goto fail;
      }
      if (d == -1) {
        rc = mef3__error_at(MEF3_ECORRUPT, path, pos,
                            "%s record body of %u bytes is too short", r->type,
                            bytes);
        goto fail;
      }
    }
    pos += MEF3_RECORD_HEADER_BYTES + bytes;
  }
  *out = recs;
  *n_out = n;
  return 0;
fail:
  mef3_records_free(recs, n);
  return rc;
}
