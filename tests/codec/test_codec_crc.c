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
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
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
  CHECK(reference(0xFFFFFFFFu, (const uint8_t *)"123456789", 9) ==
        0xD2C22F51u);
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
      CHECK_MSG(mef3_crc32(b + 4, MEF3_UH_BYTES - 4) == head,
                "%s: header CRC", path);
    }
    /* A .tdat's body CRC as pymef's meflib leaves it is over no range of
     * the body we could find, and no reader checks it: not a vector. */
    if (body && memcmp(b + 8, "tdat", 4) != 0) {
      n_bodies++;
      CHECK_MSG(mef3_crc32(b + MEF3_UH_BYTES, len - MEF3_UH_BYTES) == body,
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
}

static void against_reference(void) {
  uint8_t buf[300 + 8];
  for (size_t i = 0; i < sizeof buf; i++)
    buf[i] = (uint8_t)rnd();
  size_t bad = 0;
  for (size_t align = 0; align < 8; align++)
    for (size_t n = 0; n <= 300; n++)
      bad += mef3_crc32(buf + align, n) !=
             reference(0xFFFFFFFFu, buf + align, n);
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

int main(int argc, char **argv) {
  static const check_case cases[] = {
      CASE(known_vectors),
      CASE(golden_vectors),
      CASE(against_reference),
      CASE(incremental),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  return check_finish();
}
