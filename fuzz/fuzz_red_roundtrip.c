/*
 * fuzz/fuzz_red_roundtrip.c - RED encode -> decode: every block the
 * encoder makes decodes to exactly its input.
 *
 * Input: one control byte, then the samples' source.  Control bits 0-2
 * pick how the rest becomes samples (so that mutations reach every kind
 * of block: raw int32s, a walk of signed-byte steps, 16-bit steps that
 * cross the escape boundary, picks from the int32 extremes and sentinels,
 * one value repeated, or a mix chosen per sample); bit 3 sets the
 * discontinuity flag; bits 4-5 encrypt the statistics at level 1 or 2
 * (3: none).  At most 2^16 samples; an input giving none checks that the
 * encoder refuses an empty block.
 *
 * Invariants: the block fits mef3_red_max_block_bytes(n), is padded to
 * a multiple of 8, and its header says what was encoded; the encoder's
 * minimum and maximum are the samples'; the vector (AVX2) and scalar
 * decoders, CRC checked, into exactly n samples, both give the samples
 * back, and the batch decoder too; the same samples encode to the same
 * bytes again; a block cut short decodes to an error, not a crash.
 */
#include "fuzz_common.h"
#include "codec/red_lanes.h"

#define MAX_SAMPLES 65536

static mef3_red_enc_ctx *enc;
static mef3_red_ctx *vec, *sca;

static const int32_t extremes[] = {
    INT32_MAX,     INT32_MIN,    INT32_MIN + 1,    INT32_MIN + 2,
    INT32_MAX - 1, 0,            -1,               1,
    127,           -127,         128,              -128,
    MEF3_RED_NAN,  MEF3_RED_NEG_INF, MEF3_RED_POS_INF, 0x7f7f7f7f};

static int32_t le32(const uint8_t *p) {
  return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 |
                   (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

/* The samples of `kind` made from p[0..len); returns how many. */
static size_t make_samples(int32_t *x, int kind, const uint8_t *p,
                           size_t len) {
  size_t n = 0;
  uint32_t v = 0;
  switch (kind) {
  case 0: /* raw */
  default:
    for (; n < MAX_SAMPLES && 4 * n + 4 <= len; n++)
      x[n] = le32(p + 4 * n);
    return n;
  case 1: /* a walk of small steps */
    for (; n < MAX_SAMPLES && n < len; n++)
      x[n] = (int32_t)(v += (uint32_t)(int32_t)(int8_t)p[n]);
    return n;
  case 2: /* steps of up to +-32767: escapes and the boundary */
    for (; n < MAX_SAMPLES && 2 * n + 2 <= len; n++)
      x[n] = (int32_t)(v += (uint32_t)(int32_t)(int16_t)(p[2 * n] |
                                                         p[2 * n + 1] << 8));
    return n;
  case 3: /* extremes and sentinels */
    for (; n < MAX_SAMPLES && n < len; n++)
      x[n] = extremes[p[n] % (sizeof extremes / sizeof *extremes)];
    return n;
  case 4: /* one value, repeated: the count from the next two bytes */
    if (len < 6)
      return 0;
    n = 1 + ((size_t)p[4] | (size_t)p[5] << 8);
    for (size_t i = 0; i < n; i++)
      x[i] = le32(p);
    return n;
  case 5: /* a mix: a tag byte per sample */
    for (size_t i = 0; n < MAX_SAMPLES && i + 1 < len; n++) {
      uint8_t tag = p[i++];
      if (tag < 64 || i + 4 > len)
        v += (uint32_t)(int32_t)(int8_t)p[i++];
      else if (tag < 128)
        v = extremes[p[i++] % (sizeof extremes / sizeof *extremes)];
      else {
        v = (uint32_t)le32(p + i);
        i += 4;
      }
      x[n] = (int32_t)v;
    }
    return n;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!enc && (mef3_red_enc_ctx_new(&enc) || mef3_red_ctx_new(&vec) ||
               mef3_red_ctx_new(&sca)))
    abort();
  mef3__red_ctx_vector(sca, 0);
  if (size < 1)
    return 0;
  int kind = data[0] & 7;
  uint8_t flags = (data[0] & 8) ? MEF3_RED_DISCONTINUITY : 0;
  int level = (data[0] >> 4) & 3;
  if (level == 1)
    flags |= MEF3_RED_LEVEL_1;
  else if (level == 2)
    flags |= MEF3_RED_LEVEL_2;
  mef3_keys keys = fuzz_keys(2);
  const mef3_keys *k = level == 1 || level == 2 ? &keys : NULL;
  int64_t start = -(int64_t)size * 1000003;

  int32_t *x = malloc(MAX_SAMPLES * sizeof *x);
  if (!x)
    abort();
  size_t n = make_samples(x, kind, data + 1, size - 1);
  mef3_red_enc_info info;
  if (n == 0) {
    uint8_t b[1024];
    if (mef3_red_encode(enc, b, sizeof b, &info, x, 0, start, flags, k) !=
        MEF3_EINVAL)
      abort();
    free(x);
    return 0;
  }
  size_t cap = mef3_red_max_block_bytes(n);
  uint8_t *blk = malloc(cap), *again = malloc(cap);
  int32_t *y = malloc(n * sizeof *y);
  if (!blk || !again || !y)
    abort();
  if (mef3_red_encode(enc, blk, cap, &info, x, n, start, flags, k) != 0)
    abort();
  if (info.block_bytes > cap || info.block_bytes % 8 ||
      info.block_bytes < MEF3_RED_HEADER_BYTES)
    abort();
  int32_t mn = x[0], mx = x[0];
  for (size_t i = 1; i < n; i++) {
    mn = x[i] < mn ? x[i] : mn;
    mx = x[i] > mx ? x[i] : mx;
  }
  if (info.minimum != mn || info.maximum != mx)
    abort();
  mef3_red_header h;
  if (mef3_red_header_parse(&h, blk, info.block_bytes, "fuzz", 0) != 0 ||
      h.number_of_samples != n || h.block_bytes != info.block_bytes ||
      h.flags != flags || h.start_time != start ||
      h.difference_bytes != info.difference_bytes)
    abort();

  mef3_red_ctx *ctxs[2] = {vec, sca};
  for (int c = 0; c < 2; c++) {
    size_t got = 0;
    if (mef3_red_decode(ctxs[c], y, n, &got, blk, info.block_bytes, k, 1,
                        "fuzz", 0) != 0 ||
        got != n || memcmp(x, y, n * sizeof *x) != 0)
      abort();
    mef3_red_job job;
    memset(&job, 0, sizeof job);
    job.block = blk;
    job.len = info.block_bytes;
    job.out = y;
    job.cap = n;
    memset(y, 0, n * sizeof *y);
    if (mef3_red_decode_batch(ctxs[c], &job, 1, k, 1, "fuzz") != 0 ||
        job.rc != 0 || job.n_out != n || job.min != mn || job.max != mx ||
        memcmp(x, y, n * sizeof *x) != 0)
      abort();
    /* Cut short: an error, whatever it is. */
    if (mef3_red_decode(ctxs[c], y, n, &got, blk, info.block_bytes - 1, k, 1,
                        "fuzz", 0) == 0)
      abort();
  }

  mef3_red_enc_info info2;
  if (mef3_red_encode(enc, again, cap, &info2, x, n, start, flags, k) != 0 ||
      info2.block_bytes != info.block_bytes ||
      memcmp(blk, again, info.block_bytes) != 0)
    abort();
  free(blk);
  free(again);
  free(y);
  free(x);
  return 0;
}
