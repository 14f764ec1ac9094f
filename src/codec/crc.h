/*
 * codec/crc.h - the two paths of the MEF CRC-32 (private to the library;
 * mef3_crc32 and mef3_crc32_update in mef3pool/format.h pick one).
 */
#ifndef MEF3_CODEC_CRC_H
#define MEF3_CODEC_CRC_H

#include <stddef.h>
#include <stdint.h>

/* The generator's low 32 bits, x^32 implied (Koopman's 0x741B8CD7). */
#define MEF3__CRC_POLY 0x741B8CD7u

/* The table path: slicing by eight, any CPU. */
uint32_t mef3__crc32_table(uint32_t crc, const uint8_t *p, size_t len);

/* The carry-less multiply path (PCLMULQDQ); only where
 * mef3__crc32_clmul_usable() says so.  Same results as the table path. */
uint32_t mef3__crc32_clmul(uint32_t crc, const uint8_t *p, size_t len);
int mef3__crc32_clmul_usable(void);

/* The folding constants and the power of x each one holds (see crc.c):
 * entry i is reflect32(x^mef3__crc_fold_exp[i] mod P) << 32. */
#define MEF3__CRC_FOLD_N 4
extern const uint64_t mef3__crc_fold_k[MEF3__CRC_FOLD_N];
extern const unsigned mef3__crc_fold_exp[MEF3__CRC_FOLD_N];

#endif
