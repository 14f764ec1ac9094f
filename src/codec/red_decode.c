/*
 * codec/red_decode.c - decoding of RED (range-encoded differences) blocks.
 *
 * A RED block is a 304-byte header (CRC, flags, lossy-compression fields,
 * counts, start time, a 256-byte table of scaled symbol counts) followed
 * by a range-coded byte stream.  The decoded bytes are signed 8-bit
 * differences; -128 (0x80) escapes a 4-byte little-endian key sample.  The
 * first key sample's escape is implicit.  Sums wrap in 32 bits.
 *
 * Design: the decoder writes samples straight from the range decoder,
 * with no intermediate difference buffer; the symbol of a cumulative count
 * comes from a lookup table built per block (one byte per count, at most
 * 65280 entries), instead of the linear search of the reference library.
 * The division by the block's constant total count uses a precomputed
 * reciprocal with an exact correction step.  The arithmetic mirrors the
 * reference encoder bit for bit, including its quirk for symbol 255.
 *
 * A context is reused across blocks: it owns the lookup table and the
 * cached AES contexts for encrypted statistics.  One context per thread.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec/crypto.h"
#include "mef3pool/format.h"
#include "util/bytes.h"
#include "util/error.h"

#define RED_BOTTOM 0x800000u
#define RED_EXTRA_BITS 7
#define RED_MAX_TOTAL (256u * 255u)

struct mef3_red_ctx {
  uint8_t sym[RED_MAX_TOTAL]; /* cumulative count -> symbol */
  mef3__aes aes[2];           /* level-1 and level-2 statistics keys */
};

int mef3_red_ctx_new(mef3_red_ctx **out) {
  *out = calloc(1, sizeof **out);
  return *out ? 0 : mef3__error(MEF3_ENOMEM, "cannot allocate RED context");
}

void mef3_red_ctx_free(mef3_red_ctx *ctx) {
  if (!ctx)
    return;
  mef3__aes_dispose(&ctx->aes[0]);
  mef3__aes_dispose(&ctx->aes[1]);
  free(ctx);
}

int mef3_red_header_parse(mef3_red_header *out, const uint8_t *b, size_t len,
                          const char *path, uint64_t offset) {
  if (len < MEF3_RED_HEADER_BYTES)
    return mef3__error_at(MEF3_ECORRUPT, path, offset,
                          "RED block header truncated (%zu of 304 bytes)",
                          len);
  out->block_crc = ld_u32(b);
  out->flags = b[4];
  out->detrend_slope = ld_f32(b + 16);
  out->detrend_intercept = ld_f32(b + 20);
  out->scale_factor = ld_f32(b + 24);
  out->difference_bytes = ld_u32(b + 28);
  out->number_of_samples = ld_u32(b + 32);
  out->block_bytes = ld_u32(b + 36);
  out->start_time = ld_i64(b + 40);
  return 0;
}

/* RED's rounding: halves away from zero, saturating at the infinities. */
static int32_t red_round(double v) {
  if (v >= 0.0) {
    v += 0.5;
    if (v >= (double)MEF3_RED_POS_INF)
      return MEF3_RED_POS_INF;
  } else {
    v -= 0.5;
    if (v <= (double)MEF3_RED_NEG_INF)
      return MEF3_RED_NEG_INF;
  }
  return (int32_t)v;
}

/* q = n / d for the constant d, by multiply-high and one correction. */
typedef struct {
  uint64_t m;
  uint32_t d;
} recip;

static inline recip recip_make(uint32_t d) {
  recip r = {((uint64_t)1 << 32) / d, d};
  return r;
}

static inline uint32_t recip_div(recip r, uint32_t n) {
  uint32_t q = (uint32_t)(((uint64_t)n * r.m) >> 32);
  /* m = floor(2^32 / d) underestimates by less than one. */
  if ((uint64_t)(q + 1) * r.d <= n)
    q++;
  return q;
}

int mef3_red_decode(mef3_red_ctx *ctx, int32_t *out, size_t cap,
                    size_t *n_out, const uint8_t *block, size_t len,
                    const mef3_keys *keys, int check_crc, const char *path,
                    uint64_t offset) {
  mef3_red_header h;
  int rc = mef3_red_header_parse(&h, block, len, path, offset);
  *n_out = 0;
  if (rc)
    return rc;
  if (h.block_bytes < MEF3_RED_HEADER_BYTES || h.block_bytes > len)
    return mef3__error_at(MEF3_ECORRUPT, path, offset,
                          "RED block claims %u bytes, %zu available",
                          h.block_bytes, len);
  if (check_crc && mef3_crc32(block + 4, h.block_bytes - 4) != h.block_crc)
    return mef3__error_at(MEF3_ECRC, path, offset, "RED block CRC mismatch");
  if (h.number_of_samples > cap) {
    *n_out = h.number_of_samples;
    return mef3__error_at(MEF3_EBUFSIZE, path, offset,
                          "RED block of %u samples, room for %zu",
                          h.number_of_samples, cap);
  }
  size_t n = h.number_of_samples;
  if (n == 0)
    return 0;

  /* Statistics, decrypted into a local copy when the block is encrypted. */
  uint8_t counts[256];
  memcpy(counts, block + MEF3_RED_STATS_OFFSET, 256);
  if (h.flags & (MEF3_RED_LEVEL_1 | MEF3_RED_LEVEL_2)) {
    int level = (h.flags & MEF3_RED_LEVEL_1) ? 1 : 2;
    if (!keys || keys->access_level < level)
      return mef3__error_at(MEF3_EACCESS, path, offset,
                            "RED block is encrypted at level %d; the "
                            "password gives level %d",
                            level, keys ? keys->access_level : 0);
    const uint8_t *key = level == 1 ? keys->level_1 : keys->level_2;
    rc = mef3__aes_run(&ctx->aes[level - 1], key, 0, counts, 16);
    if (rc)
      return rc;
  }

  uint32_t cum[257];
  cum[0] = 0;
  for (int s = 0; s < 256; s++)
    cum[s + 1] = cum[s] + counts[s];
  uint32_t total = cum[256];
  if (total == 0 || h.difference_bytes < 2)
    return mef3__error_at(MEF3_ECORRUPT, path, offset,
                          "RED block of %zu samples has no symbol "
                          "statistics or differences",
                          n);
  for (int s = 0; s < 256; s++)
    if (counts[s])
      memset(ctx->sym + cum[s], s, counts[s]);

  const uint8_t *in = block + MEF3_RED_HEADER_BYTES;
  const uint8_t *end = block + h.block_bytes;
  recip rt = recip_make(total);
  uint32_t in_byte = in < end ? *in++ : 0;
  uint32_t low = in_byte >> (8 - RED_EXTRA_BITS);
  uint32_t range = 1u << RED_EXTRA_BITS;
  /* The implicit escape of the first key sample. */
  int key_left = 4;
  uint32_t key = 0, cur = 0;
  size_t i = 0;
  /* Symbols coded = difference_bytes - 1 (the first escape is not coded). */
  uint32_t symbols = h.difference_bytes - 1;
  for (uint32_t k = 0; k < symbols; k++) {
    while (range <= RED_BOTTOM) {
      low = (low << 8) | ((in_byte << RED_EXTRA_BITS) & 0xff);
      in_byte = in < end ? *in++ : 0;
      low |= in_byte >> (8 - RED_EXTRA_BITS);
      range <<= 8;
    }
    uint32_t rpc = recip_div(rt, range);
    uint32_t cc = low / rpc;
    if (cc >= total)
      cc = total - 1;
    uint32_t s = ctx->sym[cc];
    uint32_t base = rpc * cum[s];
    low -= base;
    range = s < 255 ? rpc * counts[s] : range - base;

    if (key_left) {
      key |= s << (8 * (4 - key_left));
      if (--key_left == 0) {
        cur = key;
        out[i++] = (int32_t)cur;
        if (i == n)
          break;
      }
    } else if (s == 0x80) {
      key_left = 4;
      key = 0;
    } else {
      cur += (uint32_t)(int32_t)(int8_t)s;
      out[i++] = (int32_t)cur;
      if (i == n)
        break;
    }
  }
  if (i != n)
    return mef3__error_at(MEF3_ECORRUPT, path, offset,
                          "RED block decodes to %zu of %zu samples", i, n);

  if (h.scale_factor > 1.0f) {
    double sf = h.scale_factor;
    for (size_t j = 0; j < n; j++)
      out[j] = red_round((double)out[j] * sf);
  }
  if (h.detrend_slope != 0.0f || h.detrend_intercept != 0.0f) {
    double m = h.detrend_slope, b = h.detrend_intercept;
    for (size_t j = 0; j < n; j++)
      out[j] = red_round((double)out[j] + m * (double)(j + 1) + b);
  }
  *n_out = n;
  return 0;
}
