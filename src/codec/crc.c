/*
 * codec/crc.c - the MEF CRC-32 (reflected Koopman polynomial), sliced by
 * eight bytes at a time with tables generated at build time.
 */
#include "mef3pool/format.h"

#include "util/bytes.h"

extern const uint32_t mef3__crc_table[8][256];

uint32_t mef3_crc32_update(uint32_t crc, const uint8_t *p, size_t len) {
  const uint32_t(*t)[256] = mef3__crc_table;
  while (len >= 8) {
    uint32_t a = ld_u32(p) ^ crc;
    uint32_t b = ld_u32(p + 4);
    crc = t[7][a & 0xff] ^ t[6][(a >> 8) & 0xff] ^ t[5][(a >> 16) & 0xff] ^
          t[4][a >> 24] ^ t[3][b & 0xff] ^ t[2][(b >> 8) & 0xff] ^
          t[1][(b >> 16) & 0xff] ^ t[0][b >> 24];
    p += 8;
    len -= 8;
  }
  while (len--)
    crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xff];
  return crc;
}

uint32_t mef3_crc32(const uint8_t *buf, size_t len) {
  return mef3_crc32_update(0xFFFFFFFFu, buf, len);
}
