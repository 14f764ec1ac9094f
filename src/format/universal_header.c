/*
 * format/universal_header.c - the 1024-byte header of every MEF file, and
 * the password machinery whose validation fields live in it.
 */
#include <string.h>

#include "codec/crypto.h"
#include "mef3pool/format.h"
#include "util/bytes.h"
#include "util/error.h"

int mef3_uh_parse(mef3_universal_header *out, const uint8_t *b, size_t len,
                  const char *expect_type, const char *path) {
  memset(out, 0, sizeof *out);
  if (len < MEF3_UH_BYTES)
    return mef3__error_at(MEF3_ECORRUPT, path, 0,
                          "file too short for a universal header (%zu of "
                          "1024 bytes)",
                          len);
  out->header_crc = ld_u32(b);
  out->body_crc = ld_u32(b + 4);
  memcpy(out->file_type, b + 8, 4);
  out->file_type[4] = '\0';
  out->version_major = b[13];
  out->version_minor = b[14];
  out->byte_order = b[15];
  if (out->byte_order == 0)
    return mef3__error_at(MEF3_EUNSUPPORTED, path, 15,
                          "big-endian MEF files are not supported");
  if (out->byte_order != 1)
    return mef3__error_at(MEF3_ECORRUPT, path, 15, "invalid byte order code %u",
                          out->byte_order);
  if (out->version_major != 3)
    return mef3__error_at(MEF3_EUNSUPPORTED, path, 13,
                          "MEF version %u.%u, expected 3.x", out->version_major,
                          out->version_minor);
  if (expect_type && memcmp(out->file_type, expect_type, 4) != 0)
    return mef3__error_at(MEF3_ECORRUPT, path, 8,
                          "file type \"%.4s\", expected \"%s\"", out->file_type,
                          expect_type);
  if (out->header_crc != 0 &&
      mef3_crc32(b + 4, MEF3_UH_BYTES - 4) != out->header_crc)
    return mef3__error_at(MEF3_ECRC, path, 0, "universal header CRC mismatch");
  out->start_time = ld_i64(b + 16);
  out->end_time = ld_i64(b + 24);
  out->number_of_entries = ld_i64(b + 32);
  out->maximum_entry_size = ld_i64(b + 40);
  out->segment_number = ld_i32(b + 48);
  ld_str(out->channel_name, sizeof out->channel_name, b + 52, 256);
  ld_str(out->session_name, sizeof out->session_name, b + 308, 256);
  ld_str(out->anonymized_name, sizeof out->anonymized_name, b + 564, 256);
  memcpy(out->level_uuid, b + 820, 16);
  memcpy(out->file_uuid, b + 836, 16);
  memcpy(out->provenance_uuid, b + 852, 16);
  memcpy(out->level_1_password_validation, b + 868, 16);
  memcpy(out->level_2_password_validation, b + 884, 16);
  return 0;
}

void mef3_uh_write(uint8_t *b, const mef3_universal_header *uh) {
  memset(b, 0, MEF3_UH_BYTES);
  st_u32(b + 4, uh->body_crc);
  memcpy(b + 8, uh->file_type, 4);
  b[13] = uh->version_major ? uh->version_major : 3;
  b[14] = uh->version_minor;
  b[15] = 1;
  st_i64(b + 16, uh->start_time);
  st_i64(b + 24, uh->end_time);
  st_i64(b + 32, uh->number_of_entries);
  st_i64(b + 40, uh->maximum_entry_size);
  st_i32(b + 48, uh->segment_number);
  st_str(b + 52, 256, uh->channel_name);
  st_str(b + 308, 256, uh->session_name);
  st_str(b + 564, 256, uh->anonymized_name);
  memcpy(b + 820, uh->level_uuid, 16);
  memcpy(b + 836, uh->file_uuid, 16);
  memcpy(b + 852, uh->provenance_uuid, 16);
  memcpy(b + 868, uh->level_1_password_validation, 16);
  memcpy(b + 884, uh->level_2_password_validation, 16);
  st_u32(b, mef3_crc32(b + 4, MEF3_UH_BYTES - 4));
}

int64_t mef3_time_to_uutc(int64_t t, int64_t offset) {
  if (t == MEF3_UUTC_NO_ENTRY || t >= 0)
    return t;
  int64_t r; /* -t is safe: t > INT64_MIN here */
  if (__builtin_add_overflow(-t, offset, &r))
    return offset > 0 ? INT64_MAX : INT64_MIN;
  return r;
}

/* Decode one UTF-8 character; returns its length or 0 when invalid. */
static int utf8_next(const unsigned char *s, uint32_t *cp) {
  if (s[0] < 0x80) {
    *cp = s[0];
    return 1;
  }
  int n = (s[0] & 0xE0) == 0xC0   ? 2
          : (s[0] & 0xF0) == 0xE0 ? 3
          : (s[0] & 0xF8) == 0xF0 ? 4
                                  : 0;
  if (!n)
    return 0;
  uint32_t c = s[0] & (0x7F >> n);
  for (int i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80)
      return 0;
    c = (c << 6) | (s[i] & 0x3F);
  }
  *cp = c;
  return n;
}

int mef3_password_bytes(uint8_t out[MEF3_PASSWORD_BYTES], const char *pw) {
  memset(out, 0, MEF3_PASSWORD_BYTES);
  const unsigned char *s = (const unsigned char *)pw;
  int j = 0;
  while (*s) {
    uint32_t cp;
    int n = utf8_next(s, &cp);
    if (!n)
      return mef3__error(MEF3_EINVAL, "password is not valid UTF-8");
    if (j == MEF3_PASSWORD_BYTES - 1)
      return mef3__error(MEF3_EINVAL, "password longer than 15 characters");
    out[j++] = (uint8_t)(cp & 0xFF);
    s += n;
  }
  return 0;
}

int mef3_keys_from_password(mef3_keys *out, const char *pw,
                            const mef3_universal_header *uh) {
  memset(out, 0, sizeof *out);
  if (!pw || !*pw)
    return 0;
  uint8_t bytes[16], sha[32], putative[16];
  int rc = mef3_password_bytes(bytes, pw);
  if (rc)
    return rc;
  static const uint8_t zero[16];
  int has_l1 = memcmp(uh->level_1_password_validation, zero, 16) != 0;
  if (!has_l1)
    return 0; /* nothing is encrypted: a password opens nothing, harmlessly */
  mef3__sha256(bytes, 16, sha);
  if (memcmp(sha, uh->level_1_password_validation, 16) == 0) {
    out->access_level = 1;
    memcpy(out->level_1, bytes, 16);
    return 0;
  }
  /* A level-2 password: its hash xor the level-2 field is the level-1
   * password, which must hash to the level-1 field. */
  for (int i = 0; i < 16; i++)
    putative[i] = sha[i] ^ uh->level_2_password_validation[i];
  mef3__sha256(putative, 16, sha);
  if (memcmp(sha, uh->level_1_password_validation, 16) == 0) {
    out->access_level = 2;
    memcpy(out->level_1, putative, 16);
    memcpy(out->level_2, bytes, 16);
    return 0;
  }
  return mef3__error(MEF3_EPASSWORD, "password is not valid for level 1 or "
                                     "level 2 access");
}

int mef3_keys_for_writing(mef3_keys *keys, uint8_t l1_field[16],
                          uint8_t l2_field[16], const char *level_1,
                          const char *level_2) {
  memset(keys, 0, sizeof *keys);
  memset(l1_field, 0, 16);
  memset(l2_field, 0, 16);
  if (level_2 && *level_2 && !(level_1 && *level_1))
    return mef3__error(MEF3_EINVAL,
                       "a level-2 password requires a level-1 password");
  if (!level_1 || !*level_1)
    return 0;
  uint8_t sha[32];
  int rc = mef3_password_bytes(keys->level_1, level_1);
  if (rc)
    return rc;
  mef3__sha256(keys->level_1, 16, sha);
  memcpy(l1_field, sha, 16);
  keys->access_level = 1;
  if (level_2 && *level_2) {
    rc = mef3_password_bytes(keys->level_2, level_2);
    if (rc)
      return rc;
    mef3__sha256(keys->level_2, 16, sha);
    for (int i = 0; i < 16; i++)
      l2_field[i] = sha[i] ^ keys->level_1[i];
    keys->access_level = 2;
  }
  return 0;
}
