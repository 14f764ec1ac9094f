/*
 * codec/crc.c - the MEF CRC-32: reflected, generator Koopman's
 * P = x^32 + 0x741B8CD7 (reflected 0xEB31D82E; not CRC-32C's), start
 * 0xFFFFFFFF, no final xor.  Two paths with the same results:
 *  - slicing by eight bytes with tables generated at build time
 *    (tools/gen_crc_table.c), for any CPU and for short buffers;
 *  - folding by carry-less multiplication (PCLMULQDQ) for buffers of 64
 *    bytes and more, on CPUs that have it (checked at run time).
 * Stateless and thread-safe; the CPU check is cached in one atomic int.
 *
 * Folding, as derived here.  Bit j of a 16-byte little-endian load
 * (j = 8 * byte + bit) is the coefficient of x^(127 - j): a reflected CRC
 * takes each byte's low bit first, so the first bit has the highest
 * degree.  The state of the CRC after a prefix M of the message is
 * M(x) * x^32 mod P (with the start value xored into its first 32 bits),
 * so any A with A = M mod P, aligned the same way, will do: at the end,
 * the table path run from 0 over the 16 bytes of A gives A * x^32 mod P,
 * the state.  To move A (128 bits: H, bytes 0-7, of degree 64 to 127,
 * and L, bytes 8-15, of degree 0 to 63) T bits further on, where the next
 * data lies,
 *     A * x^T = H * x^(64 + T) + L * x^T = H * k1 + L * k2 (mod P)
 * with k1 = x^(T + 64) mod P and k2 = x^T mod P, both under 32 bits.
 * PCLMULQDQ on 64-bit halves whose bit i means x^(63 - i) (H and L as
 * loaded) and a constant whose bit i means x^(63 - i) gives a product
 * whose bit m means x^(126 - m): one degree short of the 128-bit layout,
 * so each constant holds one power of x less: reflect32(x^(T + 63) mod P)
 * in its high 32 bits and reflect32(x^(T - 1) mod P) likewise; the
 * products have degree < 96 and fit.  Four 16-byte accumulators fold
 * 64 bytes ahead (T = 512: x^575, x^511), then merge one into the next
 * and take the remaining 16-byte pieces (T = 128: x^191, x^127).
 * tests/codec/test_codec_crc.c computes the constants from P again.
 */
#include "codec/crc.h"

#include "mef3pool/format.h"
#include "util/bytes.h"

extern const uint32_t mef3__crc_table[8][256];

const unsigned mef3__crc_fold_exp[MEF3__CRC_FOLD_N] = {575, 511, 191, 127};
const uint64_t mef3__crc_fold_k[MEF3__CRC_FOLD_N] = {
    0x59A3813400000000ull, 0x2EEB9F8500000000ull, 0xCBB06D5500000000ull,
    0x69F48E4D00000000ull};

uint32_t mef3__crc32_table(uint32_t crc, const uint8_t *p, size_t len) {
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

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define TGT __attribute__((target("pclmul,sse4.1")))

int mef3__crc32_clmul_usable(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}

/* A * x^T mod P, T as k's constants say (low half: H's, high: L's). */
TGT static inline __m128i fold(__m128i a, __m128i k) {
  return _mm_xor_si128(_mm_clmulepi64_si128(a, k, 0x00),
                       _mm_clmulepi64_si128(a, k, 0x11));
}

TGT static inline __m128i load(const uint8_t *p) {
  return _mm_loadu_si128((const __m128i *)(const void *)p);
}

TGT uint32_t mef3__crc32_clmul(uint32_t crc, const uint8_t *p, size_t len) {
  if (len < 64)
    return mef3__crc32_table(crc, p, len);
  const uint64_t *k = mef3__crc_fold_k;
  const __m128i k512 = _mm_set_epi64x((long long)k[1], (long long)k[0]);
  const __m128i k128 = _mm_set_epi64x((long long)k[3], (long long)k[2]);
  __m128i x0 = _mm_xor_si128(load(p), _mm_cvtsi32_si128((int)crc));
  __m128i x1 = load(p + 16), x2 = load(p + 32), x3 = load(p + 48);
  p += 64;
  len -= 64;
  for (; len >= 64; p += 64, len -= 64) {
    x0 = _mm_xor_si128(fold(x0, k512), load(p));
    x1 = _mm_xor_si128(fold(x1, k512), load(p + 16));
    x2 = _mm_xor_si128(fold(x2, k512), load(p + 32));
    x3 = _mm_xor_si128(fold(x3, k512), load(p + 48));
  }
  __m128i x = _mm_xor_si128(fold(x0, k128), x1);
  x = _mm_xor_si128(fold(x, k128), x2);
  x = _mm_xor_si128(fold(x, k128), x3);
  for (; len >= 16; p += 16, len -= 16)
    x = _mm_xor_si128(fold(x, k128), load(p));
  uint8_t a[16];
  _mm_storeu_si128((__m128i *)(void *)a, x);
  return mef3__crc32_table(mef3__crc32_table(0, a, 16), p, len);
}

#else

int mef3__crc32_clmul_usable(void) {
  return 0;
}

uint32_t mef3__crc32_clmul(uint32_t crc, const uint8_t *p, size_t len) {
  return mef3__crc32_table(crc, p, len);
}

#endif

uint32_t mef3_crc32_update(uint32_t crc, const uint8_t *p, size_t len) {
  /* 0: not looked yet, 1: table only, 2: carry-less multiply. */
  static int path;
  int w = __atomic_load_n(&path, __ATOMIC_RELAXED);
  if (!w) {
    w = mef3__crc32_clmul_usable() ? 2 : 1;
    __atomic_store_n(&path, w, __ATOMIC_RELAXED);
  }
  return w == 2 && len >= 64 ? mef3__crc32_clmul(crc, p, len)
                             : mef3__crc32_table(crc, p, len);
}

uint32_t mef3_crc32(const uint8_t *buf, size_t len) {
  return mef3_crc32_update(0xFFFFFFFFu, buf, len);
}
