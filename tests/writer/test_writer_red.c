/*
 * test_writer_red - the RED encoder.
 *
 * 1. Every data block of every golden session (written by meflib through
 *    pymef) is decoded and encoded again with the same flags and start
 *    time: the bytes must be identical, CRC and pad bytes included, also
 *    for blocks whose statistics are encrypted (d2_encrypted_blocks).
 * 2. Round trips through our decoder for the hard cases: int32 limits,
 *    differences of exactly +-127 / +-128, sentinels, wrapping
 *    differences, full-range random data, one-sample and long blocks.
 * 3. Argument errors: no samples, bad flags, missing key, small buffer.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "testutil.h"
#include "util/bytes.h"

static mef3_red_enc_ctx *enc;
static mef3_red_ctx *dec;

/* Re-encode every block of one .tdat; returns the number of blocks. */
static size_t reencode_tdat(const char *tdat, const mef3_keys *keys,
                            size_t *mismatches) {
  size_t len = 0;
  uint8_t *buf = tu_read_file(tdat, &len);
  REQUIRE(buf != NULL);
  size_t pos = MEF3_UH_BYTES, blocks = 0;
  int32_t *samples = NULL;
  size_t cap = 0;
  uint8_t *out = NULL;
  size_t out_cap = 0;
  while (pos + MEF3_RED_HEADER_BYTES <= len) {
    mef3_red_header h;
    REQUIRE(mef3_red_header_parse(&h, buf + pos, len - pos, tdat, pos) == 0);
    REQUIRE(h.block_bytes >= MEF3_RED_HEADER_BYTES &&
            pos + h.block_bytes <= len);
    if (h.number_of_samples > cap) {
      cap = h.number_of_samples;
      samples = realloc(samples, cap * sizeof *samples);
      REQUIRE(samples != NULL);
    }
    size_t n = 0;
    CHECK_RC(mef3_red_decode(dec, samples, cap, &n, buf + pos, h.block_bytes,
                             keys, 1, tdat, pos),
             0);
    size_t need = mef3_red_max_block_bytes(n);
    if (need > out_cap) {
      out_cap = need;
      out = realloc(out, out_cap);
      REQUIRE(out != NULL);
    }
    mef3_red_enc_info info;
    CHECK_RC(mef3_red_encode(enc, out, out_cap, &info, samples, n, h.start_time,
                             h.flags, keys),
             0);
    if (info.block_bytes != h.block_bytes ||
        memcmp(out, buf + pos, h.block_bytes) != 0) {
      if ((*mismatches)++ < 3)
        fprintf(stderr, "  %s block at %zu: %u bytes, re-encoded %u%s\n", tdat,
                pos, h.block_bytes, info.block_bytes,
                info.block_bytes == h.block_bytes ? " (bytes differ)" : "");
    }
    CHECK(info.difference_bytes == h.difference_bytes);
    pos += h.block_bytes;
    blocks++;
  }
  CHECK_MSG(pos == len, "%s: %zu trailing bytes", tdat, len - pos);
  free(samples);
  free(out);
  free(buf);
  return blocks;
}

/* Walk NAME.mefd/<ch>.timd/<seg>.segd/<seg>.tdat. */
static void reencode_session(const char *name, const char *password) {
  char path[1024];
  snprintf(path, sizeof path, "%s/sessions/%s.mefd", MEF3_GOLDEN_DIR, name);
  DIR *sd = opendir(path);
  REQUIRE(sd != NULL);
  size_t blocks = 0, bad = 0;
  struct dirent *ce;
  while ((ce = readdir(sd))) {
    size_t cl = strlen(ce->d_name);
    if (cl < 6 || strcmp(ce->d_name + cl - 5, ".timd"))
      continue;
    char cpath[2048];
    snprintf(cpath, sizeof cpath, "%s/%s", path, ce->d_name);
    DIR *cd = opendir(cpath);
    REQUIRE(cd != NULL);
    struct dirent *ge;
    while ((ge = readdir(cd))) {
      size_t gl = strlen(ge->d_name);
      if (gl < 6 || strcmp(ge->d_name + gl - 5, ".segd"))
        continue;
      char base[256], tdat[4096], tmet[4096];
      snprintf(base, sizeof base, "%.*s", (int)(gl - 5), ge->d_name);
      snprintf(tdat, sizeof tdat, "%s/%s/%s.tdat", cpath, ge->d_name, base);
      snprintf(tmet, sizeof tmet, "%s/%s/%s.tmet", cpath, ge->d_name, base);
      mef3_keys keys = {0};
      if (password) {
        size_t ml = 0;
        uint8_t *m = tu_read_file(tmet, &ml);
        REQUIRE(m != NULL);
        mef3_universal_header uh;
        REQUIRE(mef3_uh_parse(&uh, m, ml, "tmet", tmet) == 0);
        CHECK_RC(mef3_keys_from_password(&keys, password, &uh), 0);
        free(m);
      }
      blocks += reencode_tdat(tdat, &keys, &bad);
    }
    closedir(cd);
  }
  closedir(sd);
  printf("%s: %zu blocks re-encoded, %zu differ\n", name, blocks, bad);
  CHECK(blocks > 0);
  CHECK_MSG(bad == 0, "%s: %zu of %zu blocks differ from meflib's", name, bad,
            blocks);
}

/* Encode, decode, compare. */
static void roundtrip(const char *label, const int32_t *x, size_t n,
                      uint8_t flags, const mef3_keys *keys) {
  size_t cap = mef3_red_max_block_bytes(n);
  uint8_t *blk = malloc(cap);
  int32_t *y = malloc(n * sizeof *y);
  REQUIRE(blk && y);
  mef3_red_enc_info info;
  int rc = mef3_red_encode(enc, blk, cap, &info, x, n, -123456789, flags, keys);
  CHECK_MSG(rc == 0, "%s: encode: %s", label, mef3_error_last()->message);
  if (rc == 0) {
    CHECK_MSG(info.block_bytes % 8 == 0 && info.block_bytes <= cap,
              "%s: %u bytes", label, info.block_bytes);
    size_t got = 0;
    rc = mef3_red_decode(dec, y, n, &got, blk, info.block_bytes, keys, 1, label,
                         0);
    CHECK_MSG(rc == 0 && got == n, "%s: decode rc %d, %zu of %zu", label, rc,
              got, n);
    CHECK_MSG(rc == 0 && memcmp(x, y, n * sizeof *x) == 0, "%s: samples differ",
              label);
    int32_t mn = x[0], mx = x[0];
    for (size_t i = 1; i < n; i++) {
      mn = x[i] < mn ? x[i] : mn;
      mx = x[i] > mx ? x[i] : mx;
    }
    CHECK(info.minimum == mn && info.maximum == mx);
    mef3_red_header h;
    CHECK(mef3_red_header_parse(&h, blk, info.block_bytes, NULL, 0) == 0);
    CHECK(h.number_of_samples == n && h.block_bytes == info.block_bytes &&
          h.start_time == -123456789 && h.flags == flags &&
          h.difference_bytes == info.difference_bytes);
    /* Pad bytes are 0x7e. */
    uint32_t coded = info.block_bytes;
    while (coded > MEF3_RED_HEADER_BYTES && blk[coded - 1] == MEF3_PAD_BYTE)
      coded--;
    CHECK(info.block_bytes - coded < 8 || n == 0);
  }
  free(blk);
  free(y);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 16);
}

static void hard_cases(void) {
  enum { N = 5000 };
  int32_t *x = malloc(N * sizeof *x);
  REQUIRE(x != NULL);

  int32_t one = INT32_MIN;
  roundtrip("one NaN sentinel", &one, 1, 0, NULL);
  one = 42;
  roundtrip("one sample", &one, 1, MEF3_RED_DISCONTINUITY, NULL);

  /* Differences of exactly +-127 and +-128, alternating and in runs. */
  static const int32_t steps[] = {127, -127, 128, -128, 126, -126, 129, -129};
  int32_t v = 0;
  for (size_t i = 0; i < N; i++) {
    x[i] = v;
    v += steps[(i / 3) % 8];
  }
  roundtrip("+-127/+-128", x, N, 0, NULL);

  /* int32 limits and sentinels next to each other. */
  static const int32_t ext[] = {INT32_MAX, INT32_MIN,     INT32_MIN + 1, 0,
                                -1,        INT32_MAX - 1, INT32_MIN + 2, 1};
  for (size_t i = 0; i < N; i++)
    x[i] = ext[(i * 7 + i / 5) % 8];
  roundtrip("extremes", x, N, 0, NULL);

  /* Differences that only make sense when sums wrap. */
  v = INT32_MAX - 3;
  for (size_t i = 0; i < N; i++) {
    x[i] = v;
    v = (int32_t)((uint32_t)v + (uint32_t)((int32_t)(rnd() % 255) - 127));
  }
  roundtrip("wrapping", x, N, 0, NULL);

  /* Full-range random: every difference escaped. */
  for (size_t i = 0; i < N; i++)
    x[i] = (int32_t)rnd() ^ (int32_t)(rnd() << 16);
  roundtrip("random", x, N, 0, NULL);

  /* Constant blocks: one symbol dominates (statistics scaling). */
  for (size_t i = 0; i < N; i++)
    x[i] = INT32_MIN;
  roundtrip("constant NaN", x, N, 0, NULL);
  for (size_t i = 0; i < N; i++)
    x[i] = -7;
  roundtrip("constant", x, N, 0, NULL);

  /* Symbol 255 (difference -1) dominant, and as the only difference. */
  for (size_t i = 0; i < N; i++)
    x[i] = 1000000 - (int32_t)i;
  roundtrip("ramp -1", x, N, 0, NULL);
  for (size_t i = 0; i < N; i++)
    x[i] = (int32_t)(rnd() % 5) - 2 - (int32_t)i;
  roundtrip("mostly 255", x, N, 0, NULL);

  /* Small noise, many block sizes. */
  for (size_t n = 1; n < 300; n += 7) {
    for (size_t i = 0; i < n; i++)
      x[i] = (int32_t)(rnd() % 41) - 20;
    char label[64];
    snprintf(label, sizeof label, "noise %zu", n);
    roundtrip(label, x, n, 0, NULL);
  }

  /* Encrypted statistics at both levels. */
  mef3_keys keys;
  uint8_t f1[16], f2[16];
  REQUIRE(mef3_keys_for_writing(&keys, f1, f2, "one", "two") == 0);
  for (size_t i = 0; i < N; i++)
    x[i] = (int32_t)(rnd() % 301) - 150;
  roundtrip("level 1", x, N, MEF3_RED_LEVEL_1 | MEF3_RED_DISCONTINUITY, &keys);
  roundtrip("level 2", x, N, MEF3_RED_LEVEL_2, &keys);

  /* A long block. */
  size_t big = 1 << 20;
  int32_t *y = malloc(big * sizeof *y);
  REQUIRE(y != NULL);
  v = 0;
  for (size_t i = 0; i < big; i++) {
    v += (int32_t)(rnd() % 61) - 30;
    y[i] = (i % 10007) == 0 ? INT32_MAX : v;
  }
  roundtrip("long", y, big, 0, NULL);
  free(y);
  free(x);
}

static void errors(void) {
  int32_t x[4] = {1, 2, 3, 4};
  uint8_t buf[1024];
  mef3_red_enc_info info;
  CHECK_RC(mef3_red_encode(enc, buf, sizeof buf, &info, x, 0, 0, 0, NULL),
           MEF3_EINVAL);
  CHECK_RC(mef3_red_encode(enc, buf, sizeof buf, &info, x, 4, 0, 0x08, NULL),
           MEF3_EINVAL);
  CHECK_RC(mef3_red_encode(enc, buf, sizeof buf, &info, x, 4, 0,
                           MEF3_RED_LEVEL_1 | MEF3_RED_LEVEL_2, NULL),
           MEF3_EINVAL);
  CHECK_RC(mef3_red_encode(enc, buf, sizeof buf, &info, x, 4, 0,
                           MEF3_RED_LEVEL_1, NULL),
           MEF3_EPASSWORD);
  CHECK_RC(mef3_red_encode(enc, buf, 100, &info, x, 4, 0, 0, NULL),
           MEF3_EBUFSIZE);
  CHECK(info.block_bytes == mef3_red_max_block_bytes(4));
}

int main(int argc, char **argv) {
  REQUIRE(mef3_red_enc_ctx_new(&enc) == 0);
  REQUIRE(mef3_red_ctx_new(&dec) == 0);
  if (tu_have_golden()) {
    reencode_session("a_single_256hz", NULL);
    reencode_session("b_multi_8ch", NULL);
    reencode_session("c_discontinuities", NULL);
    reencode_session("d_encrypted", "l2pass");
    reencode_session("d2_encrypted_blocks", "l2pass");
    reencode_session("f_escapes_extremes", NULL);
  } else {
    fprintf(stderr, "golden folder missing: %s\n", MEF3_GOLDEN_DIR);
    check_failed++;
  }
  static const check_case cases[] = {
      CASE(hard_cases),
      CASE(errors),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  mef3_red_enc_ctx_free(enc);
  mef3_red_ctx_free(dec);
  return check_finish();
}
