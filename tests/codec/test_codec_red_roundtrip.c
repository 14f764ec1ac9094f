/*
 * test_codec_red_roundtrip - RED encode -> decode gives back every
 * sample, for every block size from 1 to 1100 and each kind of content:
 * a small random walk, full-range random (every difference escaped),
 * all-equal at each extreme and sentinel, differences on both sides of
 * the escape boundary (+-127 / +-128), int32 limits next to each other
 * (wrapping differences), and a random mix of these within a block.
 *
 * For every block: the encoder fits in mef3_red_max_block_bytes(n) and
 * pads to a multiple of 8; the header says what was encoded (samples,
 * bytes, flags, start time, difference bytes); the encoder's minimum and
 * maximum are the samples'; the decoder, into a buffer of exactly n
 * samples (ASan sees an overrun), gives the samples back with the CRC
 * checked, says EBUFSIZE and the size needed for n - 1; a flipped byte
 * is a CRC failure; encoding the same samples again gives the same
 * bytes (nothing of the previous block stays in the context).  Flags
 * travel: discontinuity, and level-1 / level-2 encrypted statistics,
 * which decode with the key and not without.  Blocks of one size run
 * through mef3_red_decode_batch in one go as well.
 * (test_writer_red checks the bytes against meflib's; test_codec_red_lanes
 * the vector decoder against the scalar one.)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define MAX_N 1100
#define START_TIME (-1234567890123LL)

static mef3_red_enc_ctx *enc;
static mef3_red_ctx *dec;
static mef3_keys keys;

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}

static const int32_t extremes[] = {
    INT32_MAX,     INT32_MIN, INT32_MIN + 1, INT32_MIN + 2, INT32_MAX - 1, 0,
    -1,            1,         127,           -127,          128,           -128,
    MEF3_RED_NAN, MEF3_RED_NEG_INF, MEF3_RED_POS_INF};
#define N_EXTREMES (sizeof extremes / sizeof *extremes)

enum kind { WALK, RANDOM, EQUAL, BOUNDARY, LIMITS, MIX, N_KINDS };
static const char *kind_name[] = {"walk",     "random", "all-equal",
                                  "boundary", "limits", "mix"};

/* One sample after `prev` of the given kind. */
static int32_t next(enum kind k, int32_t prev, int32_t equal) {
  static const int32_t steps[] = {127, -127, 128, -128, 126, -126, 129, -129};
  switch (k) {
  case WALK:
    return (int32_t)((uint32_t)prev + (uint32_t)((int32_t)(rnd() % 61) - 30));
  case RANDOM:
    return (int32_t)(rnd() ^ (rnd() << 16));
  case EQUAL:
    return equal;
  case BOUNDARY:
    return (int32_t)((uint32_t)prev + (uint32_t)steps[rnd() % 8]);
  case LIMITS:
    return extremes[rnd() % N_EXTREMES];
  default:
    return next((enum kind)(rnd() % MIX), prev, equal);
  }
}

static void fill(int32_t *x, size_t n, enum kind k) {
  int32_t equal = extremes[rnd() % N_EXTREMES];
  int32_t v = (int32_t)(rnd() % 2001) - 1000;
  for (size_t i = 0; i < n; i++)
    x[i] = v = next(k, v, equal);
}

typedef struct stats {
  size_t blocks, failed;
} stats;

/* Encode x[0..n) with `flags` and check everything said at the top;
 * the block (malloc'd) goes to *out for the batch check. */
static void roundtrip(stats *st, const char *label, const int32_t *x, size_t n,
                      uint8_t flags, uint8_t **out, uint32_t *out_len) {
  int before = check_failed;
  size_t cap = mef3_red_max_block_bytes(n);
  uint8_t *blk = malloc(cap);
  uint8_t *again = malloc(cap);
  int32_t *y = malloc(n * sizeof *y);
  REQUIRE(blk && again && y);
  const mef3_keys *k = flags & (MEF3_RED_LEVEL_1 | MEF3_RED_LEVEL_2) ? &keys
                                                                     : NULL;
  mef3_red_enc_info info, info2;
  int rc = mef3_red_encode(enc, blk, cap, &info, x, n, START_TIME, flags, k);
  CHECK_MSG(rc == 0, "%s n=%zu: encode: %s", label, n,
            mef3_error_last()->message);
  if (rc == 0) {
    CHECK_MSG(info.block_bytes <= cap && info.block_bytes % 8 == 0 &&
                  info.block_bytes >= MEF3_RED_HEADER_BYTES,
              "%s n=%zu: %u bytes of %zu", label, n, info.block_bytes, cap);
    int32_t mn = x[0], mx = x[0];
    for (size_t i = 1; i < n; i++) {
      mn = x[i] < mn ? x[i] : mn;
      mx = x[i] > mx ? x[i] : mx;
    }
    CHECK_MSG(info.minimum == mn && info.maximum == mx,
              "%s n=%zu: range %d..%d, encoder says %d..%d", label, n, mn, mx,
              info.minimum, info.maximum);
    mef3_red_header h;
    CHECK(mef3_red_header_parse(&h, blk, info.block_bytes, label, 0) == 0);
    CHECK_MSG(h.number_of_samples == n && h.block_bytes == info.block_bytes &&
                  h.start_time == START_TIME && h.flags == flags &&
                  h.difference_bytes == info.difference_bytes,
              "%s n=%zu: header fields", label, n);

    size_t got = 0;
    rc = mef3_red_decode(dec, y, n, &got, blk, info.block_bytes, k, 1, label,
                         0);
    CHECK_MSG(rc == 0 && got == n && memcmp(x, y, n * sizeof *x) == 0,
              "%s n=%zu: decode rc %s, %zu samples, %s", label, n,
              mef3_errname(rc), got,
              rc ? mef3_error_last()->message : "samples differ");
    if (n > 1) {
      got = 0;
      CHECK(mef3_red_decode(dec, y, n - 1, &got, blk, info.block_bytes, k, 1,
                            label, 0) == MEF3_EBUFSIZE &&
            got == n);
    }
    if (k) /* encrypted statistics need their key */
      CHECK(mef3_red_decode(dec, y, n, &got, blk, info.block_bytes, NULL, 1,
                            label, 0) != 0);

    /* Deterministic, whatever the context saw before. */
    CHECK(mef3_red_encode(enc, again, cap, &info2, x, n, START_TIME, flags,
                          k) == 0 &&
          info2.block_bytes == info.block_bytes &&
          memcmp(blk, again, info.block_bytes) == 0);

    /* One flipped bit after the CRC field fails the block: the CRC, or
     * for a fixed header field a check made before it (a byte count, a
     * non-finite scale). */
    size_t at = 4 + rnd() % (info.block_bytes - 4);
    blk[at] ^= (uint8_t)(1u << (rnd() % 8));
    rc = mef3_red_decode(dec, y, n, &got, blk, info.block_bytes, k, 1, label,
                         0);
    CHECK_MSG(at < MEF3_RED_STATS_OFFSET ? rc != 0 : rc == MEF3_ECRC,
              "%s n=%zu: byte %zu flipped: %s", label, n, at,
              mef3_errname(rc));
    blk[at] = again[at];
    rc = 0;
  }
  st->blocks++;
  if (check_failed != before)
    st->failed++;
  *out_len = rc == 0 ? info.block_bytes : 0;
  *out = blk;
  free(again);
  free(y);
}

/* Decode the blocks of one size in one batch. */
static void batch(uint8_t **blk, const uint32_t *len, size_t nb,
                  int32_t *const *want, size_t n, const mef3_keys *k) {
  mef3_red_job *jobs = calloc(nb, sizeof *jobs);
  int32_t *out = malloc(nb * n * sizeof *out);
  REQUIRE(jobs && out);
  for (size_t i = 0; i < nb; i++) {
    jobs[i].block = blk[i];
    jobs[i].len = len[i];
    jobs[i].out = out + i * n;
    jobs[i].cap = n;
  }
  CHECK(mef3_red_decode_batch(dec, jobs, nb, k, 1, "batch") == 0);
  for (size_t i = 0; i < nb; i++)
    CHECK_MSG(jobs[i].rc == 0 && jobs[i].n_out == n &&
                  memcmp(jobs[i].out, want[i], n * sizeof(int32_t)) == 0,
              "batch n=%zu block %zu: %s", n, i, jobs[i].message);
  free(jobs);
  free(out);
}

static void sizes_and_kinds(void) {
  int32_t *x[N_KINDS];
  for (int k = 0; k < N_KINDS; k++) {
    x[k] = malloc(MAX_N * sizeof *x[k]);
    REQUIRE(x[k] != NULL);
  }
  static const uint8_t flag_sets[] = {0, MEF3_RED_DISCONTINUITY,
                                      MEF3_RED_LEVEL_1,
                                      MEF3_RED_LEVEL_2 | MEF3_RED_DISCONTINUITY};
  stats st[N_KINDS] = {{0}};
  for (size_t n = 1; n <= MAX_N; n++) {
    uint8_t *blk[N_KINDS];
    uint32_t len[N_KINDS];
    uint8_t flags = flag_sets[n % 4];
    for (int k = 0; k < N_KINDS; k++) {
      fill(x[k], n, (enum kind)k);
      roundtrip(&st[k], kind_name[k], x[k], n, flags, &blk[k], &len[k]);
    }
    batch(blk, len, N_KINDS, x, n,
          flags & (MEF3_RED_LEVEL_1 | MEF3_RED_LEVEL_2) ? &keys : NULL);
    for (int k = 0; k < N_KINDS; k++)
      free(blk[k]);
  }
  for (int k = 0; k < N_KINDS; k++) {
    printf("%-10s %zu blocks, %zu failed\n", kind_name[k], st[k].blocks,
           st[k].failed);
    free(x[k]);
  }
}

/* All-equal at every extreme, and long blocks, decreasing in size (a
 * context that grew must still encode small blocks right). */
static void equal_and_long(void) {
  static const size_t lens[] = {1 << 20, 300000, 65536, 4097, 2, 1};
  size_t big = lens[0];
  int32_t *x = malloc(big * sizeof *x);
  REQUIRE(x != NULL);
  stats st = {0};
  for (size_t e = 0; e < N_EXTREMES; e++)
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i += 2) {
      for (size_t j = 0; j < lens[i]; j++)
        x[j] = extremes[e];
      uint8_t *blk;
      uint32_t len;
      char label[64];
      snprintf(label, sizeof label, "all %d", extremes[e]);
      roundtrip(&st, label, x, lens[i], 0, &blk, &len);
      free(blk);
    }
  for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
    fill(x, lens[i], MIX);
    uint8_t *blk;
    uint32_t len;
    roundtrip(&st, "long mix", x, lens[i], MEF3_RED_LEVEL_2, &blk, &len);
    free(blk);
  }
  CHECK_MSG(st.failed == 0, "%zu of %zu blocks failed", st.failed, st.blocks);
  free(x);
}

/* Blocks whose coder ends where the bytes after its flush (MEF's pad
 * bytes, 0x7e, or the decoder's zeros past the block) can move the last
 * symbol: 1,417 samples of 60955 read back with the last one 60982 before
 * the encoder checked such endings (fuzz_red_lanes found it).  All-equal
 * blocks of every length to 3,000 over a few values, and short random
 * walks, reach many flush states; every one must read back exactly. */
static void flush_and_padding(void) {
  static const int32_t values[] = {60955, 0, 1, -1, 127, -128, 32767, 1 << 20};
  enum { LONGEST = 3000 };
  int32_t *x = malloc(LONGEST * sizeof *x);
  REQUIRE(x != NULL);
  stats st = {0};
  for (size_t v = 0; v < sizeof values / sizeof *values; v++)
    for (size_t n = 1; n <= LONGEST; n++) {
      for (size_t j = 0; j < n; j++)
        x[j] = values[v];
      uint8_t *blk;
      uint32_t len;
      char label[64];
      snprintf(label, sizeof label, "all %d", values[v]);
      roundtrip(&st, label, x, n, 0, &blk, &len);
      free(blk);
    }
  for (int r = 0; r < 4000; r++) {
    size_t n = 1 + rnd() % 600;
    int32_t v = (int32_t)(rnd() % 100000);
    for (size_t j = 0; j < n; j++)
      x[j] = v += (int32_t)(rnd() % 7) - 3;
    uint8_t *blk;
    uint32_t len;
    roundtrip(&st, "walk", x, n, 0, &blk, &len);
    free(blk);
  }
  printf("flush and padding: %zu blocks, %zu failed\n", st.blocks, st.failed);
  free(x);
}

int main(int argc, char **argv) {
  REQUIRE(mef3_red_enc_ctx_new(&enc) == 0);
  REQUIRE(mef3_red_ctx_new(&dec) == 0);
  uint8_t f1[16], f2[16];
  REQUIRE(mef3_keys_for_writing(&keys, f1, f2, "one", "two") == 0);
  static const check_case cases[] = {
      CASE(sizes_and_kinds),
      CASE(equal_and_long),
      CASE(flush_and_padding),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  mef3_red_enc_ctx_free(enc);
  mef3_red_ctx_free(dec);
  return check_finish();
}
