/*
 * fuzz/fuzz_records.c - the record parser (mef3_records_parse) with no
 * keys and with level-1 and level-2 keys, on the input as given and on
 * a copy whose record CRCs, body CRC and header CRC are repaired, so that
 * mutated records reach the type-specific decoding.  Invariants: every
 * record returned has its body, and a text only when available and
 * decoded; an undecodable record has a problem naming its index and
 * offset, a decoded one none; offsets increase and lie inside the input.
 */
#include "fuzz_common.h"

static void run(const uint8_t *buf, size_t size) {
  for (int level = 0; level <= 2; level++) {
    mef3_keys k = fuzz_keys(level);
    mef3_record *r = NULL;
    size_t n = 0;
    if (mef3_records_parse(&r, &n, buf, size, level ? &k : NULL, "fuzz") == 0) {
      for (size_t i = 0; i < n; i++) {
        if (!r[i].body || (r[i].text && !r[i].available))
          abort();
        if (r[i].text)
          (void)strlen(r[i].text);
        if (!r[i].undecodable != !r[i].problem ||
            (r[i].undecodable && (r[i].text || r[i].has_duration)))
          abort();
        if (r[i].problem && !strstr(r[i].problem, "at offset"))
          abort();
        if (r[i].index != (int64_t)i || r[i].offset < 1024 ||
            (size_t)r[i].offset >= size ||
            (i && r[i].offset <= r[i - 1].offset) ||
            r[i].body_bytes > size - (size_t)r[i].offset)
          abort();
      }
    }
    mef3_records_free(r, n);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  run(data, size);
  if (size < 1024)
    return 0;
  uint8_t *c = malloc(size);
  if (!c)
    abort();
  memcpy(c, data, size);
  /* Repair each record's CRC (over bytes 4.. of its header and body). */
  size_t pos = 1024;
  while (size - pos >= MEF3_RECORD_HEADER_BYTES) {
    uint32_t bytes;
    memcpy(&bytes, c + pos + 12, 4);
    if (bytes > size - pos - MEF3_RECORD_HEADER_BYTES)
      break;
    uint32_t crc =
        mef3_crc32(c + pos + 4, MEF3_RECORD_HEADER_BYTES - 4 + bytes);
    memcpy(c + pos, &crc, 4);
    pos += MEF3_RECORD_HEADER_BYTES + bytes;
  }
  uint8_t *fixed = fuzz_fix_crcs(c, size);
  run(c, size);
  if (fixed)
    run(fixed, size);
  free(fixed);
  free(c);
  return 0;
}
