/*
 * format/records.c - record data files (.rdat): a universal header and a
 * sequence of records, each a 24-byte header and a body padded to 16
 * bytes.  Known types (Note, SyLg, EDFA, Seiz, Curs, Epoc, ...) are
 * decoded into mef3_record fields; every record keeps its raw body.
 * The record index (.ridx) only repeats what the headers say, so the data
 * file alone is parsed.
 *
 * Damage is local: a record whose CRC fails or whose body does not fit its
 * type is returned flagged undecodable with what was found, and the walk
 * goes on with the next header (its size field is all there is to find
 * it).  Only a file whose universal header fails, or the file ending
 * inside a record, stops the walk.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/crypto.h"
#include "mef3pool/format.h"
#include "util/bytes.h"
#include "util/error.h"
#include "util/alloc.h"

/* Bytes of a Seiz body before its per-channel entries. */
#define SEIZ_FIXED_BYTES 1312

void mef3_records_free(mef3_record *r, size_t n) {
  if (!r)
    return;
  for (size_t i = 0; i < n; i++) {
    mef3__free(r[i].body);
    mef3__free(r[i].text);
    mef3__free(r[i].problem);
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

/* Fill the typed fields of `r` from its (readable) body: 0, -1 when the
 * body is too short for its type, -2 when out of memory. */
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
    r->has_duration = 1;
    r->text = dup_field(b + 8, n - 8);
  } else if (!strcmp(t, "Seiz")) {
    /* An empty body is written in the wild for a seizure marked with no
     * channels and no details: a valid record with nothing to decode. */
    if (n == 0)
      return 0;
    if (n < SEIZ_FIXED_BYTES)
      return -1;
    r->end_time = ld_i64(b + 8);
    r->duration = ld_i64(b + 16);
    r->has_duration = 1;
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
    r->has_duration = 1;
    r->text = dup_field(b + 64, 128);
  } else {
    return 0; /* unknown type: raw body only */
  }
  return r->text ? 0 : -2;
}

/* The smallest body a known type decodes from (for messages). */
static const char *needs(const char *type) {
  return !strcmp(type, "EDFA")   ? "8"
         : !strcmp(type, "Seiz") ? "0 or at least 1312"
         : !strcmp(type, "Curs") ? "160"
                                 : "192";
}

/*
 * Flag `r` undecodable with `code` and a problem naming the file, the
 * record's index and offset: the decoded fields are cleared (a partial
 * decode of damaged bytes is not offered as fact).  Returns 0, or
 * MEF3_ENOMEM.
 */
static int flag(mef3_record *r, const char *path, int code, const char *fmt,
                ...) MEF3__PRINTF(4, 5);
static int flag(mef3_record *r, const char *path, int code, const char *fmt,
                ...) {
  mef3__free(r->text);
  r->text = NULL;
  r->has_duration = 0;
  r->duration = r->end_time = 0;
  r->onset_code = r->number_of_channels = 0;
  r->undecodable = code;
  char what[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  const char *p = path ? path : "<buffer>";
  int len = snprintf(NULL, 0, "%s: record %lld at offset %lld: %s", p,
                     (long long)r->index, (long long)r->offset, what);
  mef3__free(r->problem);
  r->problem = mef3__malloc((size_t)len + 1);
  if (!r->problem)
    return mef3__error(MEF3_ENOMEM, "cannot allocate a record's problem");
  snprintf(r->problem, (size_t)len + 1, "%s: record %lld at offset %lld: %s", p,
           (long long)r->index, (long long)r->offset, what);
  return 0;
}

/* A copy of `n` bytes (never NULL for n == 0 unless out of memory). */
static uint8_t *dup_bytes(const uint8_t *p, size_t n) {
  uint8_t *c = mef3__malloc(n ? n : 1);
  if (c && n)
    memcpy(c, p, n);
  return c;
}

int mef3_records_parse(mef3_record **out, size_t *n_out, const uint8_t *buf,
                       size_t len, const mef3_keys *keys, const char *path) {
  mef3_universal_header uh;
  *out = NULL;
  *n_out = 0;
  int rc = mef3_uh_parse(&uh, buf, len, "rdat", path);
  if (rc)
    return rc;
  /* The body CRC covers every record at once, so it cannot say which one
   * is damaged; each record's own CRC does.  When the body CRC fails, only
   * records with a CRC of their own are trusted. */
  int body_bad =
      uh.body_crc != 0 &&
      mef3_crc32(buf + MEF3_UH_BYTES, len - MEF3_UH_BYTES) != uh.body_crc;
  size_t cap = 0, n = 0;
  mef3_record *recs = NULL;
  size_t pos = MEF3_UH_BYTES;
  while (pos < len) {
    if (uh.number_of_entries >= 0 && (int64_t)n >= uh.number_of_entries)
      break;
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
    r->index = (int64_t)n;
    r->offset = (int64_t)pos;
    r->segment = -1;
    r->time = MEF3_UUTC_NO_ENTRY;
    n++;
    const uint8_t *h = buf + pos;
    size_t left = len - pos;
    if (left < MEF3_RECORD_HEADER_BYTES) {
      /* What there is of the header: the type when it is there. */
      if (left >= 8)
        memcpy(r->type, h + 4, 4);
      r->body_bytes = (uint32_t)left;
      r->body = dup_bytes(h, left);
      r->available = 1;
      rc = r->body ? flag(r, path, MEF3_ECORRUPT,
                          "header cut short: %zu of %d bytes before the end "
                          "of the file",
                          left, MEF3_RECORD_HEADER_BYTES)
                   : mef3__error(MEF3_ENOMEM, "cannot allocate a record body");
      if (rc)
        goto fail;
      break;
    }
    memcpy(r->type, h + 4, 4);
    r->version_major = h[9];
    r->version_minor = h[10];
    r->encryption = (int8_t)h[11];
    r->time = ld_i64(h + 16);
    uint32_t bytes = ld_u32(h + 12);
    size_t there = left - MEF3_RECORD_HEADER_BYTES;
    int cut = bytes > there;
    r->body_bytes = cut ? (uint32_t)there : bytes;
    r->body = dup_bytes(h + MEF3_RECORD_HEADER_BYTES, r->body_bytes);
    if (!r->body) {
      rc = mef3__error(MEF3_ENOMEM, "cannot allocate a record body");
      goto fail;
    }
    r->available = r->encryption <= 0;
    if (cut) {
      /* Nothing after it can be found: its size is the only way on. */
      rc = flag(r, path, MEF3_ECORRUPT,
                "body of %u bytes runs past the end of the file (%zu there)",
                bytes, there);
      if (rc)
        goto fail;
      break;
    }
    pos += MEF3_RECORD_HEADER_BYTES + bytes;
    uint32_t crc = ld_u32(h);
    if (crc != 0 &&
        mef3_crc32(h + 4, MEF3_RECORD_HEADER_BYTES - 4 + bytes) != crc) {
      if ((rc = flag(r, path, MEF3_ECRC, "record CRC mismatch")))
        goto fail;
      continue;
    }
    if (crc == 0 && body_bad) {
      if ((rc = flag(r, path, MEF3_ECRC,
                     "the file's body CRC fails and this record has no CRC "
                     "of its own")))
        goto fail;
      continue;
    }
    if (r->encryption > 0) {
      if (r->encryption <= 2 && keys && keys->access_level >= r->encryption) {
        if (bytes % 16 != 0) {
          if ((rc = flag(r, path, MEF3_ECORRUPT,
                         "encrypted body of %u bytes is not a multiple of 16",
                         bytes)))
            goto fail;
          continue;
        }
        const uint8_t *key = r->encryption == 1 ? keys->level_1 : keys->level_2;
        rc = mef3__aes_ecb(key, 0, r->body, bytes);
        if (rc)
          goto fail;
        r->available = 1;
      }
    }
    if (r->available) {
      int d = decode_body(r);
      if (d == -2) {
        rc = mef3__error(MEF3_ENOMEM, "cannot allocate record text");
        goto fail;
      }
      if (d == -1 && (rc = flag(r, path, MEF3_ECORRUPT,
                                "%s body of %u bytes is too short (a %s body "
                                "holds %s)",
                                r->type, bytes, r->type, needs(r->type))))
        goto fail;
    }
  }
  *out = recs;
  *n_out = n;
  return 0;
fail:
  mef3_records_free(recs, n);
  return rc;
}
