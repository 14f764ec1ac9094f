/*
 * fuzz/fuzz_red_lanes.c - the RED decoder's two paths against each other
 * and against the encoder's input, on batches of many blocks (so that the
 * vector path really runs 16 blocks in lock-step and refills lanes, which
 * one block at a time never does: fewer than 6 live lanes go scalar).
 *
 * Input: one control byte, then the sources of FUZZ_LANES_BLOCKS (40)
 * blocks: the rest of the input cut into 40 equal pieces (some may be
 * empty).  A piece's byte 0 picks the kind of samples (a small random
 * walk, large steps with many escapes, full-range noise, a constant, a
 * slow walk with rare jumps, steps at the ends of the escape range,
 * extremes and sentinels, the piece's own bytes as int32s), bytes 1-2
 * the count (1 to 3000), and all its bytes seed the generator that makes
 * the samples.  Control bits 0-1 both set: every block is damaged (one
 * byte of its statistics or stream changed, CRC not checked); bits 2-7:
 * the batches' size (1 to 40) in a second decode.
 *
 * Invariants: on a context forced to the vector path and one forced to
 * the scalar path, decoding the 40 blocks as one batch and in batches of
 * the given size, every job agrees between the paths (code, count,
 * minimum, maximum, samples); undamaged, each gives back exactly the
 * encoder's input with its true minimum and maximum.
 * The replay harness's --random mode feeds it random inputs (CTest:
 * 250 of them, 10,000 blocks).
 */
#include "fuzz_common.h"
#include "codec/red_lanes.h"

#define FUZZ_LANES_BLOCKS 40
#define MAX_N 3000

static mef3_red_enc_ctx *enc;
static mef3_red_ctx *vec, *sca;

typedef struct {
  uint64_t s;
} prng;

static uint32_t next(prng *r) {
  r->s ^= r->s >> 12;
  r->s ^= r->s << 25;
  r->s ^= r->s >> 27;
  return (uint32_t)((r->s * 2685821657736338717ull) >> 32);
}

static const int32_t extremes[] = {INT32_MAX,
                                   INT32_MIN,
                                   INT32_MIN + 1,
                                   0,
                                   -1,
                                   1,
                                   127,
                                   -128,
                                   128,
                                   -129,
                                   MEF3_RED_NAN,
                                   MEF3_RED_NEG_INF,
                                   MEF3_RED_POS_INF,
                                   INT32_MAX - 1,
                                   0x7f7f7f7f,
                                   -0x7f7f7f7f};

/* Samples of piece p[0..len) into x; returns their count (>= 1). */
static size_t make_samples(int32_t *x, const uint8_t *p, size_t len,
                           size_t index) {
  uint64_t h = 1469598103934665603ull ^ (index * 0x9E3779B97F4A7C15ull);
  for (size_t i = 0; i < len; i++)
    h = (h ^ p[i]) * 1099511628211ull;
  prng r = {h | 1};
  int kind = len ? p[0] & 7 : (int)(index & 7);
  size_t n =
      len >= 3 ? 1 + (size_t)(p[1] | p[2] << 8) % MAX_N : 1 + next(&r) % 600;
  /* Walks wrap in 32 bits (unsigned: no overflow), as the coder's sums. */
  uint32_t v = (uint32_t)((int32_t)next(&r) >> (next(&r) % 31));
  for (size_t i = 0; i < n; i++) {
    switch (kind) {
    case 0: /* EEG-like: a small random walk */
      v += next(&r) % 41 - 20;
      break;
    case 1: /* large steps: many escapes */
      v += next(&r) % 601 - 300;
      break;
    case 2: /* full range */
      v = next(&r);
      break;
    case 3: /* constant */
      break;
    case 4: /* slow walk, rare jumps */
      v += next(&r) % 7 - 3;
      if (next(&r) % 97 == 0)
        v ^= next(&r) & 0xffff;
      break;
    case 5: /* the ends of the escape range */
      v += (next(&r) & 1) ? 127u : (uint32_t)-128;
      break;
    case 6: /* extremes and sentinels */
      v = (uint32_t)extremes[next(&r) % (sizeof extremes / sizeof *extremes)];
      break;
    default: /* the piece's bytes, then the generator's */
      if (4 * i + 7 <= len)
        v = (uint32_t)p[4 * i + 3] | (uint32_t)p[4 * i + 4] << 8 |
            (uint32_t)p[4 * i + 5] << 16 | (uint32_t)p[4 * i + 6] << 24;
      else
        v += next(&r) % 255 - 127;
      break;
    }
    x[i] = (int32_t)v;
  }
  return n;
}

typedef struct {
  uint8_t *blk;
  size_t len;
  int32_t *in;
  size_t n;
  int32_t mn, mx;
} block;

/* Decode all blocks with ctx in batches of `per`; jobs[i].out is out[i]. */
static void decode(mef3_red_ctx *ctx, const block *b, mef3_red_job *jobs,
                   int32_t **out, size_t per, int crc) {
  for (size_t i = 0; i < FUZZ_LANES_BLOCKS; i++) {
    memset(&jobs[i], 0, sizeof jobs[i]);
    jobs[i].block = b[i].blk;
    jobs[i].len = b[i].len;
    jobs[i].offset = i;
    jobs[i].out = out[i];
    jobs[i].cap = MAX_N;
  }
  for (size_t at = 0; at < FUZZ_LANES_BLOCKS; at += per) {
    size_t m = FUZZ_LANES_BLOCKS - at < per ? FUZZ_LANES_BLOCKS - at : per;
    if (mef3_red_decode_batch(ctx, jobs + at, m, NULL, crc, "fuzz") != 0)
      abort(); /* only allocation fails the batch itself */
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!enc) {
    if (mef3_red_enc_ctx_new(&enc) || mef3_red_ctx_new(&vec) ||
        mef3_red_ctx_new(&sca))
      abort();
    mef3__red_ctx_vector(vec, 1);
    mef3__red_ctx_vector(sca, 0);
  }
  if (size < 1)
    return 0;
  int damage = (data[0] & 3) == 3;
  size_t per = 1 + (size_t)(data[0] >> 2) % FUZZ_LANES_BLOCKS;
  const uint8_t *src = data + 1;
  size_t slen = size - 1;

  block b[FUZZ_LANES_BLOCKS];
  int32_t *outs[2][FUZZ_LANES_BLOCKS];
  for (size_t i = 0; i < FUZZ_LANES_BLOCKS; i++) {
    size_t p0 = slen * i / FUZZ_LANES_BLOCKS,
           p1 = slen * (i + 1) / FUZZ_LANES_BLOCKS;
    b[i].in = malloc(MAX_N * sizeof *b[i].in);
    outs[0][i] = malloc(MAX_N * sizeof(int32_t));
    outs[1][i] = malloc(MAX_N * sizeof(int32_t));
    if (!b[i].in || !outs[0][i] || !outs[1][i])
      abort();
    b[i].n = make_samples(b[i].in, src + p0, p1 - p0, i);
    size_t cap = mef3_red_max_block_bytes(b[i].n);
    b[i].blk = malloc(cap);
    if (!b[i].blk)
      abort();
    mef3_red_enc_info info;
    if (mef3_red_encode(enc, b[i].blk, cap, &info, b[i].in, b[i].n, 0, 0,
                        NULL) != 0)
      abort();
    b[i].len = info.block_bytes;
    b[i].mn = info.minimum;
    b[i].mx = info.maximum;
    if (damage) {
      prng r = {(uint64_t)b[i].n * 0x9E3779B97F4A7C15ull + i + size};
      size_t stream = b[i].len - MEF3_RED_HEADER_BYTES;
      size_t at = next(&r) % 4 == 0 || stream == 0
                      ? MEF3_RED_STATS_OFFSET + next(&r) % 256
                      : MEF3_RED_HEADER_BYTES + next(&r) % stream;
      b[i].blk[at] ^= (uint8_t)(1 + next(&r) % 255);
    }
  }

  mef3_red_job jv[FUZZ_LANES_BLOCKS], js[FUZZ_LANES_BLOCKS];
  size_t sizes[2] = {FUZZ_LANES_BLOCKS, per};
  for (int pass = 0; pass < 2; pass++) {
    decode(vec, b, jv, outs[0], sizes[pass], !damage);
    decode(sca, b, js, outs[1], sizes[pass], !damage);
    for (size_t i = 0; i < FUZZ_LANES_BLOCKS; i++) {
      if (jv[i].rc != js[i].rc || jv[i].n_out != js[i].n_out)
        abort();
      if (jv[i].rc == 0 &&
          (jv[i].min != js[i].min || jv[i].max != js[i].max ||
           memcmp(outs[0][i], outs[1][i], jv[i].n_out * sizeof(int32_t))))
        abort();
      if (!damage && (jv[i].rc != 0 || jv[i].n_out != b[i].n ||
                      jv[i].min != b[i].mn || jv[i].max != b[i].mx ||
                      memcmp(outs[0][i], b[i].in, b[i].n * sizeof(int32_t))))
        abort();
    }
  }
  for (size_t i = 0; i < FUZZ_LANES_BLOCKS; i++) {
    free(b[i].blk);
    free(b[i].in);
    free(outs[0][i]);
    free(outs[1][i]);
  }
  return 0;
}
