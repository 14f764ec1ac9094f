/*
 * codec/red_encode.c - lossless RED encoding of one block of samples, the
 * exact inverse of codec/red_decode.c.
 *
 * A block is encoded in three passes over the data.  The first turns the
 * samples into a byte stream of differences: the first sample's four bytes
 * (its -128 escape is implicit and not stored), then one signed byte per
 * difference that fits in [-127, 127] after 32-bit wrapping subtraction,
 * or -128 followed by the sample's four bytes; the same pass counts the
 * bytes and finds the block's minimum and maximum.  The second scales the
 * counts into the 256-byte statistics table exactly as the reference
 * encoder does (ceil(count * 254.999999999 / max) in double precision when
 * a count exceeds 255), so that its decoder, ours and every other
 * implementation build the same model.  The third range-codes the stream
 * with the reference's 31-bit coder: carry and underflow handling, the
 * special case of symbol 255 (it takes the rest of the range instead of
 * r * count), the junk first output byte (written over the last
 * statistics byte and then restored), the two flush bytes and a zero.
 * The result is bit-identical to meflib's RED_encode_exec, which the tests
 * check block by block against sessions written by pymef - except for a
 * rare block whose last symbol the bytes after the flush (pad bytes) would
 * move in every decoder: that one is decoded as it is made and, if it does
 * not read back, flushed with three zero bytes more (mef3_red_encode).
 *
 * Division by the block's constant total count uses a reciprocal with one
 * exact correction step.  A context owns the growing difference buffer and
 * the AES state for encrypted statistics; one context per thread.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec/crypto.h"
#include "mef3pool/format.h"
#include "util/bytes.h"
#include "util/error.h"
#include "util/alloc.h"

#define RED_TOP 0x80000000u
#define RED_TOP_MINUS_1 0x7FFFFFFFu
#define RED_CARRY_CHECK 0x7F800000u
#define RED_SHIFT_BITS 23
#define RED_BOTTOM 0x800000u

struct mef3_red_enc_ctx {
  uint8_t *diff; /* difference stream of the block being encoded */
  size_t diff_cap;
  mef3__aes aes[2]; /* level-1 and level-2 statistics keys */
  mef3_red_ctx *check; /* decodes the blocks whose ending may not hold */
  int32_t *back;       /* what it decoded */
  size_t back_cap;
};

int mef3_red_enc_ctx_new(mef3_red_enc_ctx **out) {
  *out = mef3__calloc(1, sizeof **out);
  return *out ? 0 : mef3__error(MEF3_ENOMEM, "cannot allocate a RED encoder");
}

void mef3_red_enc_ctx_free(mef3_red_enc_ctx *ctx) {
  if (!ctx)
    return;
  mef3__free(ctx->diff);
  mef3_red_ctx_free(ctx->check);
  mef3__free(ctx->back);
  mef3__aes_dispose(&ctx->aes[0]);
  mef3__aes_dispose(&ctx->aes[1]);
  mef3__free(ctx);
}

size_t mef3_red_max_block_bytes(size_t n) {
  /* At most 5 bytes of differences per sample; the coder spends at most
   * log2(total/count) + 2^-7 bits (< 16.1) on a symbol, i.e. about 2
   * bytes; then 3 flush bytes and up to 7 pad bytes. */
  return MEF3_RED_HEADER_BYTES + 11 * n + 64;
}

/* floor(n / d) for the block's constant d by multiply-high and one
 * correction: m = floor(2^32 / d) underestimates n / d by less than 1. */
typedef struct {
  uint64_t m;
  uint32_t d;
} recip;

static inline uint32_t recip_div(recip r, uint32_t n) {
  uint32_t q = (uint32_t)(((uint64_t)n * r.m) >> 32);
  if ((uint64_t)(q + 1) * r.d <= n)
    q++;
  return q;
}

/* Differences, byte counts and extremes of `n` >= 1 samples; returns the
 * number of difference bytes written to `d`. */
static size_t make_differences(uint8_t *d, uint32_t counts[256],
                               const int32_t *x, size_t n, int32_t *min_out,
                               int32_t *max_out) {
  uint8_t *p = d;
  int32_t mn = x[0], mx = x[0];
  st_i32(p, x[0]);
  counts[p[0]]++;
  counts[p[1]]++;
  counts[p[2]]++;
  counts[p[3]]++;
  p += 4;
  for (size_t i = 1; i < n; i++) {
    int32_t v = x[i];
    /* 32-bit wrapping difference; the decoder wraps the same way. */
    int32_t diff = (int32_t)((uint32_t)v - (uint32_t)x[i - 1]);
    if (v < mn)
      mn = v;
    if (v > mx)
      mx = v;
    if (diff >= -127 && diff <= 127) {
      uint8_t b = (uint8_t)(int8_t)diff;
      *p++ = b;
      counts[b]++;
    } else {
      p[0] = 0x80;
      st_i32(p + 1, v);
      counts[0x80]++;
      counts[p[1]]++;
      counts[p[2]]++;
      counts[p[3]]++;
      counts[p[4]]++;
      p += 5;
    }
  }
  *min_out = mn;
  *max_out = mx;
  return (size_t)(p - d);
}

/* Emit one byte of output during renormalization, resolving pending
 * carries (the reference's out_byte / underflow_bytes scheme). */
#define RED_SHIFT_OUT()                                                        \
  do {                                                                         \
    if (low < RED_CARRY_CHECK) {                                               \
      *o++ = out_byte;                                                         \
      for (; underflow; underflow--)                                           \
        *o++ = 0xff;                                                           \
      out_byte = (uint8_t)(low >> RED_SHIFT_BITS);                             \
    } else if (low & RED_TOP) {                                                \
      *o++ = (uint8_t)(out_byte + 1);                                          \
      for (; underflow; underflow--)                                           \
        *o++ = 0;                                                              \
      out_byte = (uint8_t)(low >> RED_SHIFT_BITS);                             \
    } else {                                                                   \
      underflow++;                                                             \
    }                                                                          \
    range <<= 8;                                                               \
    low = (low << 8) & RED_TOP_MINUS_1;                                        \
  } while (0)

/* The coder's last bytes from `o` on: the pending byte (with its carry)
 * and underflow bytes, the reference's byte of low + 1 and a zero, then
 * `zeros` more.  Returns the end. */
static uint8_t *flush(uint8_t *o, uint32_t low, uint8_t out_byte,
                      uint32_t underflow, int zeros) {
  uint32_t last = (low >> RED_SHIFT_BITS) + 1;
  if (last > 0xff) {
    *o++ = (uint8_t)(out_byte + 1);
    for (; underflow; underflow--)
      *o++ = 0;
  } else {
    *o++ = out_byte;
    for (; underflow; underflow--)
      *o++ = 0xff;
  }
  *o++ = (uint8_t)(last & 0xff);
  *o++ = 0;
  while (zeros-- > 0)
    *o++ = 0;
  return o;
}

/* Pad the block ending at `end` to 8 bytes and write the fixed header's
 * counts, unencrypted and without its CRC yet (the statistics are in
 * place).  Returns the block's bytes. */
static size_t finish_block(uint8_t *out, uint8_t *end, size_t nd, size_t n,
                           int64_t start_time) {
  size_t bytes = (size_t)(end - out);
  while (bytes % 8)
    out[bytes++] = MEF3_PAD_BYTE;
  memset(out, 0, MEF3_RED_STATS_OFFSET);
  st_f32(out + 24, 1.0f); /* scale factor: lossless */
  /* The first key sample's escape counts although it is not coded. */
  st_u32(out + 28, (uint32_t)(nd + 1));
  st_u32(out + 32, (uint32_t)n);
  st_u32(out + 36, (uint32_t)bytes);
  st_i64(out + 40, start_time);
  return bytes;
}

/* 1 when the block (unencrypted, CRC not checked) decodes to x[0..n), 0
 * when not, -1 out of memory. */
static int reads_back(mef3_red_enc_ctx *ctx, const uint8_t *blk, size_t len,
                      const int32_t *x, size_t n) {
  if (!ctx->check && mef3_red_ctx_new(&ctx->check) != 0)
    return -1;
  if (n > ctx->back_cap) {
    int32_t *b = mef3__realloc(ctx->back, n * sizeof *b);
    if (!b)
      return mef3__error(MEF3_ENOMEM, "cannot allocate %zu samples", n), -1;
    ctx->back = b;
    ctx->back_cap = n;
  }
  size_t got = 0;
  int rc = mef3_red_decode(ctx->check, ctx->back, n, &got, blk, len, NULL, 0,
                           "(encoder check)", 0);
  mef3_error_clear();
  return rc == 0 && got == n && memcmp(ctx->back, x, n * sizeof *x) == 0;
}

int mef3_red_encode(mef3_red_enc_ctx *ctx, uint8_t *out, size_t cap,
                    mef3_red_enc_info *info, const int32_t *samples, size_t n,
                    int64_t start_time, uint8_t flags, const mef3_keys *keys) {
  memset(info, 0, sizeof *info);
  if (n == 0 || n > UINT32_MAX / 8)
    return mef3__error(MEF3_EINVAL, "RED block of %zu samples", n);
  int level = 0;
  if (flags & MEF3_RED_LEVEL_1)
    level = 1;
  if (flags & MEF3_RED_LEVEL_2)
    level = level ? -1 : 2;
  if (level < 0 ||
      (flags & ~(MEF3_RED_DISCONTINUITY | MEF3_RED_LEVEL_1 | MEF3_RED_LEVEL_2)))
    return mef3__error(MEF3_EINVAL, "invalid RED block flags 0x%02x", flags);
  if (level && (!keys || keys->access_level < level))
    return mef3__error(MEF3_EPASSWORD,
                       "encrypting a RED block at level %d needs the "
                       "level-%d key",
                       level, level);
  size_t need = mef3_red_max_block_bytes(n);
  if (cap < need) {
    info->block_bytes = (uint32_t)need;
    return mef3__error(MEF3_EBUFSIZE,
                       "RED block of %zu samples needs %zu bytes, room for "
                       "%zu",
                       n, need, cap);
  }
  size_t diff_need = 5 * n;
  if (diff_need > ctx->diff_cap) {
    size_t nc = ctx->diff_cap ? ctx->diff_cap : 4096;
    while (nc < diff_need)
      nc *= 2;
    uint8_t *nd = mef3__realloc(ctx->diff, nc);
    if (!nd)
      return mef3__error(MEF3_ENOMEM, "cannot allocate %zu bytes", nc);
    ctx->diff = nd;
    ctx->diff_cap = nc;
  }

  uint32_t counts[256] = {0};
  int32_t mn, mx;
  size_t nd = make_differences(ctx->diff, counts, samples, n, &mn, &mx);

  /* Statistics: scaled so that every count fits a byte and no used symbol
   * gets a zero count. */
  uint8_t *stats = out + MEF3_RED_STATS_OFFSET;
  uint32_t max_count = 0;
  for (int s = 0; s < 256; s++)
    if (counts[s] > max_count)
      max_count = counts[s];
  if (max_count > 255) {
    double scale = 254.999999999 / (double)max_count;
    for (int s = 0; s < 256; s++)
      stats[s] = counts[s] ? (uint8_t)ceil((double)counts[s] * scale) : 0;
  } else {
    for (int s = 0; s < 256; s++)
      stats[s] = (uint8_t)counts[s];
  }
  uint32_t cum[257];
  cum[0] = 0;
  for (int s = 0; s < 256; s++)
    cum[s + 1] = cum[s] + stats[s];
  uint32_t total = cum[256];
  recip rt = {((uint64_t)1 << 32) / total, total};

  /* Range coding.  Output starts one byte early, over the last statistics
   * byte: the coder's first byte is junk by construction. */
  uint8_t saved = out[MEF3_RED_HEADER_BYTES - 1];
  uint8_t *o = out + MEF3_RED_HEADER_BYTES - 1;
  uint32_t low = 0, range = RED_TOP, underflow = 0;
  uint8_t out_byte = 0;
  const uint8_t *d = ctx->diff;
  for (size_t i = 0; i < nd; i++) {
    while (range <= RED_BOTTOM)
      RED_SHIFT_OUT();
    uint32_t s = d[i];
    uint32_t r = recip_div(rt, range);
    uint32_t base = r * cum[s];
    low += base;
    range = s < 255 ? r * stats[s] : range - base;
  }
  while (range <= RED_BOTTOM)
    RED_SHIFT_OUT();
  uint8_t *end = flush(o, low, out_byte, underflow, 0);
  out[MEF3_RED_HEADER_BYTES - 1] = saved;
  size_t bytes = finish_block(out, end, nd, n, start_time);
  /* The reference's flush leaves the decoder's value (1 << 23) - (low &
   * 0x7FFFFF) above low, plus what the bytes after it add (pad bytes, or
   * zeros past the block: less than 2^15).  Where that may reach past
   * the range (rare), decode the block: if its last symbol moved, flush with
   * zeros after it instead, so that nothing after can move it.  Every
   * other block stays byte for byte the reference's. */
  uint32_t reach = RED_BOTTOM - (low & (RED_BOTTOM - 1));
  if (range - reach <= 0x10000u) {
    int ok = reads_back(ctx, out, bytes, samples, n);
    if (ok < 0)
      return MEF3_ENOMEM;
    if (!ok) {
      end = flush(o, low, out_byte, underflow, 3);
      out[MEF3_RED_HEADER_BYTES - 1] = saved;
      bytes = finish_block(out, end, nd, n, start_time);
    }
  }

  uint8_t fl = flags & MEF3_RED_DISCONTINUITY;
  if (level == 1)
    fl |= MEF3_RED_LEVEL_1;
  else if (level == 2)
    fl |= MEF3_RED_LEVEL_2;
  out[4] = fl;
  if (level) {
    const uint8_t *key = level == 1 ? keys->level_1 : keys->level_2;
    int rc = mef3__aes_run(&ctx->aes[level - 1], key, 1, stats, 16);
    if (rc)
      return rc;
  }
  st_u32(out, mef3_crc32(out + 4, bytes - 4));

  info->block_bytes = (uint32_t)bytes;
  info->difference_bytes = (uint32_t)(nd + 1);
  info->minimum = mn;
  info->maximum = mx;
  return 0;
}
