/*
 * test_codec_crc - the MEF CRC-32 (codec/crc.c: reflected Koopman
 * polynomial, start 0xFFFFFFFF, no final XOR, sliced by eight).
 *
 * 1. Known vectors: no bytes, one byte, "123456789", 0..255; and every
 *    header CRC, and every body CRC but those of .tdat files, that meflib
 *    stored in the golden sessions' files.
 * 2. The sliced code against a bit-at-a-time reference written here from
 *    the definition: every length 0..300 at every alignment 0..7.
 * 3. Incremental equals one-shot: every split point of a 300-byte buffer,
 *    byte by byte, and random splits of a 1 MiB buffer.
 * 4. The two paths (codec/crc.h): the folding constants recomputed here
 *    from the polynomial; the carry-less multiply path against the table
 *    path and the reference on every length 0..1100 at 16 alignments from
 *    random states, and on 2,000 random lengths up to 64 KiB; both paths
 *    on every golden vector of 1.  On a CPU without PCLMULQDQ the
 *    comparisons say so and check the table path alone.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "codec/crc.h"
#include "testutil.h"
#include "util/bytes.h"

#define POLY_REFLECTED 0xEB31D82Eu /* Koopman's 0x741B8CD7, bit-reversed */

static uint32_t reference(uint32_t crc, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int b = 0; b < 8; b++)
      crc = (crc >> 1) ^ ((crc & 1) ? POLY_REFLECTED : 0);
  }
  return crc;
}

static uint64_t rng = 0x243F6A8885A308D3ull;
static int clmul; /* the carry-less multiply path runs here */

/* The CRC of p[0..n) by both paths, checked equal (counted in `split`). */
static size_t split;
static uint32_t both(const uint8_t *p, size_t n) {
  uint32_t t = mef3__crc32_table(0xFFFFFFFFu, p, n);
  if (clmul && mef3__crc32_clmul(0xFFFFFFFFu, p, n) != t)
    split++;
  return t;
}
static uint32_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}

static void known_vectors(void) {
  CHECK(mef3_crc32(NULL, 0) == 0xFFFFFFFFu);
  const uint8_t zero = 0, a = 'a';
  /* Values of the bit-wise definition (also computed independently in
   * Python when the test was written). */
  CHECK(mef3_crc32(&zero, 1) == 0xC0ADD38Du);
  CHECK(mef3_crc32(&a, 1) == 0xF25D5575u);
  CHECK(mef3_crc32((const uint8_t *)"123456789", 9) == 0xD2C22F51u);
  uint8_t all[256];
  for (int i = 0; i < 256; i++)
    all[i] = (uint8_t)i;
  CHECK(mef3_crc32(all, sizeof all) == 0x543F2C99u);
  CHECK(reference(0xFFFFFFFFu, (const uint8_t *)"123456789", 9) == 0xD2C22F51u);
}

/* Every file of the golden sessions: the header CRC (bytes 0..3, over
 * 4..1023) and, when set, the body CRC (bytes 4..7, over the rest). */
static size_t n_headers, n_bodies;

static int check_file(const char *path, const struct stat *st, int type,
                      struct FTW *ftw) {
  (void)st;
  (void)ftw;
  if (type != FTW_F)
    return 0;
  size_t len = 0;
  uint8_t *b = tu_read_file(path, &len);
  if (!b || len < MEF3_UH_BYTES) {
    free(b);
    return 0;
  }
  /* Only MEF files: a known type at byte 8 and version 3 at byte 13. */
  static const char *types[] = {"tmet", "tidx", "tdat", "rdat", "ridx"};
  int mef = 0;
  for (size_t i = 0; i < sizeof types / sizeof *types; i++)
    mef |= memcmp(b + 8, types[i], 4) == 0;
  if (mef && b[13] == 3) {
    uint32_t head = ld_u32(b), body = ld_u32(b + 4);
    if (head) {
      n_headers++;
      CHECK_MSG(mef3_crc32(b + 4, MEF3_UH_BYTES - 4) == head &&
                    both(b + 4, MEF3_UH_BYTES - 4) == head,
                "%s: header CRC", path);
    }
    /* A .tdat's body CRC as pymef's meflib leaves it is over no range of
     * the body we could find, and no reader checks it: not a vector. */
    if (body && memcmp(b + 8, "tdat", 4) != 0) {
      n_bodies++;
      CHECK_MSG(mef3_crc32(b + MEF3_UH_BYTES, len - MEF3_UH_BYTES) == body &&
                    both(b + MEF3_UH_BYTES, len - MEF3_UH_BYTES) == body,
                "%s: body CRC", path);
    }
  }
  free(b);
  return 0;
}

static void golden_vectors(void) {
  if (!tu_have_golden()) {
    fprintf(stderr, "golden folder missing: %s\n", MEF3_GOLDEN_DIR);
    check_failed++;
    return;
  }
  CHECK(nftw(tu_golden("sessions"), check_file, 16, FTW_PHYS) == 0);
  printf("golden: %zu header CRCs, %zu body CRCs\n", n_headers, n_bodies);
  CHECK(n_headers > 50 && n_bodies > 20);
  CHECK_MSG(split == 0, "%zu golden CRCs differ between the paths", split);
}

static void against_reference(void) {
  uint8_t buf[300 + 8];
  for (size_t i = 0; i < sizeof buf; i++)
    buf[i] = (uint8_t)rnd();
  size_t bad = 0;
  for (size_t align = 0; align < 8; align++)
    for (size_t n = 0; n <= 300; n++)
      bad +=
          mef3_crc32(buf + align, n) != reference(0xFFFFFFFFu, buf + align, n);
  CHECK_MSG(bad == 0, "%zu lengths/alignments differ from the reference", bad);
}

static void incremental(void) {
  uint8_t buf[300];
  for (size_t i = 0; i < sizeof buf; i++)
    buf[i] = (uint8_t)rnd();
  uint32_t whole = mef3_crc32(buf, sizeof buf);
  size_t bad = 0;
  for (size_t cut = 0; cut <= sizeof buf; cut++)
    bad += mef3_crc32_update(mef3_crc32(buf, cut), buf + cut,
                             sizeof buf - cut) != whole;
  CHECK_MSG(bad == 0, "%zu split points differ", bad);
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < sizeof buf; i++)
    c = mef3_crc32_update(c, buf + i, 1);
  CHECK(c == whole);
  CHECK(mef3_crc32_update(whole, buf, 0) == whole);

  size_t big = 1 << 20;
  uint8_t *m = malloc(big);
  REQUIRE(m != NULL);
  for (size_t i = 0; i < big; i++)
    m[i] = (uint8_t)rnd();
  whole = mef3_crc32(m, big);
  CHECK(whole == reference(0xFFFFFFFFu, m, big));
  for (int trial = 0; trial < 20; trial++) {
    c = 0xFFFFFFFFu;
    size_t at = 0;
    while (at < big) {
      size_t k = rnd() % 70000;
      if (k > big - at)
        k = big - at;
      c = mef3_crc32_update(c, m + at, k);
      at += k;
    }
    CHECK(c == whole);
  }
  free(m);
}

/* x^e mod P, P in its normal (unreflected) form, one degree at a time. */
static uint32_t xpow_mod(unsigned e) {
  uint64_t r = 1;
  for (unsigned i = 0; i < e; i++) {
    r <<= 1;
    if (r >> 32)
      r ^= (1ull << 32) | MEF3__CRC_POLY;
  }
  return (uint32_t)r;
}

static uint32_t reflect32(uint32_t v) {
  uint32_t r = 0;
  for (int i = 0; i < 32; i++)
    r |= ((v >> i) & 1u) << (31 - i);
  return r;
}

static void fold_constants(void) {
  CHECK(reflect32(MEF3__CRC_POLY) == POLY_REFLECTED);
  /* T = 512 and T = 128 bits: x^(T + 63) for the high-degree half,
   * x^(T - 1) for the low (see codec/crc.c). */
  static const unsigned want[MEF3__CRC_FOLD_N] = {512 + 63, 512 - 1, 128 + 63,
                                                  128 - 1};
  for (int i = 0; i < MEF3__CRC_FOLD_N; i++) {
    CHECK(mef3__crc_fold_exp[i] == want[i]);
    CHECK_MSG(mef3__crc_fold_k[i] ==
                  (uint64_t)reflect32(xpow_mod(mef3__crc_fold_exp[i])) << 32,
              "folding constant %d (x^%u)", i, mef3__crc_fold_exp[i]);
  }
}

static void paths(void) {
  printf("carry-less multiply path: %s\n", clmul ? "yes" : "no");
  if (!clmul) {
    printf("no PCLMULQDQ on this CPU: the table path alone\n");
    return;
  }
  enum { BIG = 65536 + 64 };
  uint8_t *buf = malloc(BIG);
  REQUIRE(buf != NULL);
  for (size_t i = 0; i < BIG; i++)
    buf[i] = (uint8_t)rnd();
  size_t bad = 0, badref = 0;
  for (size_t align = 0; align < 16; align++)
    for (size_t n = 0; n <= 1100; n++) {
      uint32_t s = rnd();
      uint32_t t = mef3__crc32_table(s, buf + align, n);
      bad += mef3__crc32_clmul(s, buf + align, n) != t;
      if (n % 97 == 0)
        badref += reference(s, buf + align, n) != t;
    }
  for (int trial = 0; trial < 2000; trial++) {
    size_t n = rnd() % 65537, align = rnd() % 64;
    uint32_t s = trial % 3 ? rnd() : 0xFFFFFFFFu;
    bad += mef3__crc32_clmul(s, buf + align, n) !=
           mef3__crc32_table(s, buf + align, n);
  }
  CHECK_MSG(bad == 0, "%zu lengths/alignments differ between the paths", bad);
  CHECK_MSG(badref == 0, "%zu differ from the reference", badref);
  /* All zeros and all ones: the states the folding cannot tell apart by
   * accident if a constant were wrong in a way random data hides. */
  memset(buf, 0, 4096);
  CHECK(mef3__crc32_clmul(0, buf, 4096) == 0);
  CHECK(mef3__crc32_clmul(0xFFFFFFFFu, buf, 4096) ==
        reference(0xFFFFFFFFu, buf, 4096));
  memset(buf, 0xff, 4096);
  CHECK(mef3__crc32_clmul(0x5A5A5A5Au, buf, 4096) ==
        reference(0x5A5A5A5Au, buf, 4096));
  free(buf);
}

int main(int argc, char **argv) {
  clmul = mef3__crc32_clmul_usable();
  static const check_case cases[] = {
      CASE(fold_constants),    CASE(paths),
      CASE(known_vectors),     CASE(golden_vectors),
      CASE(against_reference), CASE(incremental),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  return check_finish();
}
