/*
 * fuzz/fuzz_common.h - shared by the fuzz targets: the keys they try
 * (those of golden/sessions/d_encrypted: level 1 "l1pass", level 2
 * "l2pass"), and CRC repair, so that a mutated input also reaches the
 * checks behind the header and body CRCs.
 */
#ifndef MEF3_FUZZ_COMMON_H
#define MEF3_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mef3pool.h"

/* Keys of access level `level` (0, 1 or 2). */
static inline mef3_keys fuzz_keys(int level) {
  mef3_keys k;
  memset(&k, 0, sizeof k);
  k.access_level = level;
  if (level >= 1)
    memcpy(k.level_1, "l1pass", 6);
  if (level >= 2)
    memcpy(k.level_2, "l2pass", 6);
  return k;
}

/* A malloc'd copy of a whole MEF file with its body CRC (bytes 4..7,
 * over 1024..end) and header CRC (bytes 0..3, over 4..1023) recomputed;
 * NULL when it is shorter than a universal header. */
static inline uint8_t *fuzz_fix_crcs(const uint8_t *data, size_t size) {
  if (size < 1024)
    return NULL;
  uint8_t *c = malloc(size);
  if (!c)
    return NULL;
  memcpy(c, data, size);
  uint32_t body = mef3_crc32(c + 1024, size - 1024);
  memcpy(c + 4, &body, 4);
  uint32_t head = mef3_crc32(c + 4, 1020);
  memcpy(c, &head, 4);
  return c;
}

#endif
