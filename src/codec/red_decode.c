/*
 * codec/red_decode.c - decoding of RED (range-encoded differences) blocks.
 *
 * A RED block is a 304-byte header (CRC, flags, lossy-compression fields,
 * counts, start time, a 256-byte table of scaled symbol counts) followed
 * by a range-coded byte stream.  The decoded bytes are signed 8-bit
 * differences; -128 (0x80) escapes a 4-byte little-endian key sample.  The
 * first key sample's escape is implicit.  Sums wrap in 32 bits.
 *
 * Design.  Range decoding is one long chain of dependent operations per
 * symbol (a division by the block's total count, a division of `low` by
 * the result, a table load, a multiply), so one block cannot keep a core
 * busy.  Blocks are independent, though: the batch decoder runs up to
 * LANES blocks in lock-step, one symbol of each per round, and the CPU
 * overlaps their chains.  Symbols land in a byte buffer per block; a
 * second, cheap pass turns them into samples.  Per block, a lookup table
 * maps a cumulative count to (symbol, count, cumulative count) in one
 * load; the division by the block's constant total is a multiply by an
 * exact 33-bit reciprocal; renormalization takes up to three bytes
 * without branches from a zero-padded copy of the stream.  The arithmetic
 * mirrors the reference encoder bit for bit, including its treatment of
 * symbol 255 and of bytes past the end of the block (read as zero).
 *
 * A context is reused across calls and owns every buffer; one context per
 * thread.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "codec/crypto.h"
#include "mef3pool/format.h"
#include "util/bytes.h"
#include "util/error.h"
#include "util/alloc.h"

#define RED_BOTTOM 0x800000u
#define RED_EXTRA_BITS 7
#define RED_MAX_TOTAL (256u * 255u)
#define LANES 4
#define STREAM_PAD 64 /* zero bytes after each stream copy */

/* Per-lane decode state (also the prepared form of one block). */
typedef struct lane {
  uint32_t low, range;
  uint64_t pos;      /* bits of the stream consumed */
  const uint8_t *st; /* zero-padded stream */
  uint64_t lim;      /* its length: reads from here on see zeros */
  uint64_t magic;    /* exact reciprocal of total */
  uint32_t shift;
  uint32_t total;
  const uint32_t *sym; /* cumulative count -> packed entry */
  uint8_t *dst;        /* decoded symbols */
  uint32_t left;       /* symbols still to decode */
  size_t job;
} lane;

struct mef3_red_ctx {
  uint32_t *sym[LANES];   /* RED_MAX_TOTAL entries each, lazily */
  uint8_t *stream[LANES]; /* zero-padded stream copies */
  size_t stream_cap[LANES];
  uint8_t *symbols; /* decoded symbols of the whole batch */
  size_t symbols_cap;
  mef3__aes aes[2]; /* level-1 and level-2 statistics keys */
};

int mef3_red_ctx_new(mef3_red_ctx **out) {
  *out = mef3__calloc(1, sizeof **out);
  return *out ? 0 : mef3__error(MEF3_ENOMEM, "cannot allocate RED context");
}

void mef3_red_ctx_free(mef3_red_ctx *ctx) {
  if (!ctx)
    return;
  for (int l = 0; l < LANES; l++) {
    mef3__free(ctx->sym[l]);
    mef3__free(ctx->stream[l]);
  }
  mef3__free(ctx->symbols);
  mef3__aes_dispose(&ctx->aes[0]);
  mef3__aes_dispose(&ctx->aes[1]);
  mef3__free(ctx);
}

int mef3_red_header_parse(mef3_red_header *out, const uint8_t *b, size_t len,
                          const char *path, uint64_t offset) {
  if (len < MEF3_RED_HEADER_BYTES)
    return mef3__error_at(MEF3_ECORRUPT, path, offset,
                          "RED block header truncated (%zu of 304 bytes)", len);
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

/* RED's rounding: halves away from zero, saturating at the infinities
 * (the block's parameters are checked finite, so NaN cannot reach here
 * but still maps to the NaN sentinel rather than undefined behaviour). */
static int32_t red_round(double v) {
  if (v != v)
    return MEF3_RED_NAN;
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

/*
 * Exact division of any 32-bit n by d (Granlund-Montgomery): with
 * l = ceil(log2 d), m = floor(2^(32+l) / d) + 1 (at most 33 bits),
 * floor(n / d) = floor(n * m / 2^(32+l)).
 */
static void recip_make(lane *L, uint32_t d) {
  uint32_t l = 0;
  while (((uint64_t)1 << l) < d)
    l++;
  L->magic = (uint64_t)((((unsigned __int128)1) << (32 + l)) / d) + 1;
  L->shift = 32 + l;
}

static inline uint32_t recip_div(const lane *L, uint32_t n) {
  return (uint32_t)(((unsigned __int128)n * L->magic) >> L->shift);
}

/*
 * Decode one symbol of lane L into dst[k].  With `clamp`, reads at or past
 * the end of the stream see the zero padding (a header may promise more
 * symbols than the stream holds; the reference decoder feeds zeros there
 * too); without it the caller has checked that the next read stays inside
 * the padding.  `left` and `dst` are advanced by the caller per chunk.
 */
static inline void lane_step(lane *L, uint32_t k, int clamp) {
  uint32_t range = L->range, low = L->low;
  uint32_t steps = (range <= RED_BOTTOM) + (range <= (RED_BOTTOM >> 8)) +
                   (range <= (RED_BOTTOM >> 16));
  uint64_t w, pos = L->pos, at = pos >> 3;
  if (clamp)
    at = at < L->lim ? at : L->lim;
  memcpy(&w, L->st + at, 8);
  w = __builtin_bswap64(w) << (pos & 7);
  uint32_t bits = (uint32_t)((w >> 40) >> (24 - 8 * steps));
  low = (low << (8 * steps)) | bits;
  range <<= 8 * steps;
  L->pos = pos + 8 * steps;
  uint32_t rpc = recip_div(L, range);
  uint32_t cc = low / rpc;
  cc = cc < L->total ? cc : L->total - 1;
  uint32_t e = L->sym[cc];
  uint32_t s = e & 0xff;
  uint32_t base = rpc * (e >> 16);
  uint32_t r1 = rpc * ((e >> 8) & 0xff), r2 = range - base;
  L->low = low - base;
  L->range = s == 255 ? r2 : r1;
  L->dst[k] = (uint8_t)s;
}

/* Symbols lane L can decode without the clamp: each takes at most three
 * bytes, and a read takes 8 bytes from its position. */
static inline uint32_t lane_safe(const lane *L) {
  uint64_t at = L->pos >> 3, end = L->lim + STREAM_PAD - 8;
  return at >= end ? 0
                   : (uint32_t)((end - at) / 3 > UINT32_MAX ? UINT32_MAX
                                                            : (end - at) / 3);
}

typedef struct prepared {
  mef3_red_header h;
  uint8_t counts[256];
  uint32_t symbols;  /* coded symbols */
  size_t sym_offset; /* where its symbols go in ctx->symbols */
} prepared;

/* Validate block j and fill p; returns 0 or an error (block is bad). */
static int prepare(mef3_red_ctx *ctx, mef3_red_job *job, prepared *p,
                   const mef3_keys *keys, int check_crc, const char *path) {
  int rc =
      mef3_red_header_parse(&p->h, job->block, job->len, path, job->offset);
  if (rc)
    return rc;
  const mef3_red_header *h = &p->h;
  if (h->block_bytes < MEF3_RED_HEADER_BYTES || h->block_bytes > job->len)
    return mef3__error_at(MEF3_ECORRUPT, path, job->offset,
                          "RED block claims %u bytes, %zu available",
                          h->block_bytes, job->len);
  if (!isfinite(h->scale_factor) || !isfinite(h->detrend_slope) ||
      !isfinite(h->detrend_intercept))
    return mef3__error_at(MEF3_ECORRUPT, path, job->offset,
                          "RED block has a non-finite scale or trend field");
  if (check_crc &&
      mef3_crc32(job->block + 4, h->block_bytes - 4) != h->block_crc)
    return mef3__error_at(MEF3_ECRC, path, job->offset,
                          "RED block CRC mismatch");
  if (h->number_of_samples > job->cap) {
    job->n_out = h->number_of_samples;
    return mef3__error_at(MEF3_EBUFSIZE, path, job->offset,
                          "RED block of %u samples, room for %zu",
                          h->number_of_samples, job->cap);
  }
  memcpy(p->counts, job->block + MEF3_RED_STATS_OFFSET, 256);
  if (h->flags & (MEF3_RED_LEVEL_1 | MEF3_RED_LEVEL_2)) {
    int level = (h->flags & MEF3_RED_LEVEL_1) ? 1 : 2;
    if (!keys || keys->access_level < level)
      return mef3__error_at(MEF3_EACCESS, path, job->offset,
                            "RED block is encrypted at level %d; the "
                            "password gives level %d",
                            level, keys ? keys->access_level : 0);
    const uint8_t *key = level == 1 ? keys->level_1 : keys->level_2;
    rc = mef3__aes_run(&ctx->aes[level - 1], key, 0, p->counts, 16);
    if (rc)
      return rc;
  }
  p->symbols = 0;
  if (h->number_of_samples == 0)
    return 0;
  uint32_t total = 0;
  for (int s = 0; s < 256; s++)
    total += p->counts[s];
  if (total == 0 || h->difference_bytes < 5)
    return mef3__error_at(MEF3_ECORRUPT, path, job->offset,
                          "RED block of %u samples has no symbol "
                          "statistics or too few differences",
                          h->number_of_samples);
  /* A sample needs at least one symbol and at most five. */
  uint64_t coded = (uint64_t)h->difference_bytes - 1;
  if (coded < 4 + (uint64_t)h->number_of_samples - 1 ||
      coded > 4 + 5 * ((uint64_t)h->number_of_samples - 1))
    return mef3__error_at(MEF3_ECORRUPT, path, job->offset,
                          "RED block: %u difference bytes cannot hold %u "
                          "samples",
                          h->difference_bytes, h->number_of_samples);
  p->symbols = (uint32_t)coded;
  return 0;
}

/* Load block p (job j) into lane slot l. */
static int lane_load(mef3_red_ctx *ctx, lane *L, int l, const prepared *p,
                     const mef3_red_job *job, size_t j) {
  if (!ctx->sym[l] &&
      !(ctx->sym[l] = mef3__malloc((RED_MAX_TOTAL + 16) * sizeof *ctx->sym[l])))
    return mef3__error(MEF3_ENOMEM, "cannot allocate RED tables");
  /* Fill 8 entries per store whatever the count: the overshoot is
   * overwritten by the next symbol (or lies past the last count, where no
   * lookup goes), so a symbol with a count of 0 to 8 costs no loop. */
  uint32_t cum = 0;
  uint32_t *t = ctx->sym[l];
  for (uint32_t s = 0; s < 256; s++) {
    uint32_t c = p->counts[s];
    uint32_t e = s | c << 8 | cum << 16;
    uint32_t *d = t + cum;
#if defined(__SSE2__)
    __m128i v = _mm_set1_epi32((int)e);
    _mm_storeu_si128((__m128i *)d, v);
    _mm_storeu_si128((__m128i *)(d + 4), v);
    for (uint32_t k = 8; k < c; k += 8) {
      _mm_storeu_si128((__m128i *)(d + k), v);
      _mm_storeu_si128((__m128i *)(d + k + 4), v);
    }
#else
    for (uint32_t k = 0; k < (c > 8 ? c : 8); k++)
      d[k] = e;
#endif
    cum += c;
  }
  size_t slen = p->h.block_bytes - MEF3_RED_HEADER_BYTES;
  if (slen + STREAM_PAD > ctx->stream_cap[l]) {
    size_t nc = ctx->stream_cap[l] ? ctx->stream_cap[l] : 4096;
    while (nc < slen + STREAM_PAD)
      nc *= 2;
    uint8_t *ns = mef3__realloc(ctx->stream[l], nc);
    if (!ns)
      return mef3__error(MEF3_ENOMEM, "cannot allocate %zu bytes", nc);
    ctx->stream[l] = ns;
    ctx->stream_cap[l] = nc;
  }
  /* Bytes past the block read as zero, as in the reference decoder. */
  memcpy(ctx->stream[l], job->block + MEF3_RED_HEADER_BYTES, slen);
  memset(ctx->stream[l] + slen, 0, STREAM_PAD);
  L->st = ctx->stream[l];
  L->lim = slen;
  L->low = L->st[0] >> (8 - RED_EXTRA_BITS);
  L->range = 1u << RED_EXTRA_BITS;
  L->pos = RED_EXTRA_BITS;
  L->total = cum;
  recip_make(L, cum);
  L->sym = ctx->sym[l];
  L->dst = ctx->symbols + p->sym_offset;
  L->left = p->symbols;
  L->job = j;
  return 0;
}

/* Symbols -> samples; returns the number of samples produced and their
 * range (which tells the reader whether sentinels need patching). */
static size_t reconstruct(const uint8_t *sy, uint32_t ns, int32_t *out,
                          size_t n, int32_t *mn, int32_t *mx) {
  size_t i = 0;
  uint32_t k = 0, cur = 0;
  if (ns < 4)
    return 0;
  cur = ld_u32(sy);
  k = 4;
  out[i++] = (int32_t)cur;
  int32_t lo = (int32_t)cur, hi = (int32_t)cur;
  while (i < n && k < ns) {
    uint8_t s = sy[k++];
    if (s == 0x80) {
      if (ns - k < 4)
        break;
      cur = ld_u32(sy + k);
      k += 4;
    } else {
      cur += (uint32_t)(int32_t)(int8_t)s;
    }
    int32_t v = (int32_t)cur;
    out[i++] = v;
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  *mn = lo;
  *mx = hi;
  return i;
}

int mef3_red_decode_batch(mef3_red_ctx *ctx, mef3_red_job *jobs, size_t n,
                          const mef3_keys *keys, int check_crc,
                          const char *path) {
  enum { CHUNK = 64 };
  prepared pp[CHUNK];
  for (size_t base = 0; base < n; base += CHUNK) {
    size_t m = n - base < CHUNK ? n - base : CHUNK;
    size_t need = 0;
    for (size_t j = 0; j < m; j++) {
      mef3_red_job *job = &jobs[base + j];
      job->n_out = 0;
      job->min = INT32_MIN;
      job->max = INT32_MAX;
      job->rc = prepare(ctx, job, &pp[j], keys, check_crc, path);
      if (job->rc) {
        snprintf(job->message, sizeof job->message, "%s",
                 mef3_error_last()->message);
        pp[j].symbols = 0;
      }
      pp[j].sym_offset = need;
      need += pp[j].symbols + 8;
      if (job->rc == 0 && pp[j].symbols == 0)
        job->n_out = 0; /* an empty block */
    }
    if (need > ctx->symbols_cap) {
      uint8_t *nb = mef3__realloc(ctx->symbols, need);
      if (!nb)
        return mef3__error(MEF3_ENOMEM, "cannot allocate %zu bytes", need);
      ctx->symbols = nb;
      ctx->symbols_cap = need;
    }
    /* Range-decode in lanes. */
    lane L[LANES];
    int active = 0;
    size_t next = 0;
    for (;;) {
      while (active < LANES && next < m) {
        size_t j = next++;
        if (jobs[base + j].rc || pp[j].symbols == 0)
          continue;
        int rc = lane_load(ctx, &L[active], active, &pp[j], &jobs[base + j], j);
        if (rc)
          return rc;
        active++;
      }
      if (active == 0)
        break;
      uint32_t steps = L[0].left;
      for (int l = 1; l < active; l++)
        if (L[l].left < steps)
          steps = L[l].left;
      for (int l = 0; l < active; l++) {
        uint32_t safe = lane_safe(&L[l]);
        if (safe < steps)
          steps = safe;
      }
      if (steps == 0) {
        /* A lane near the end of its padding (a damaged block): one
         * clamped symbol for every lane. */
        for (int l = 0; l < active; l++) {
          lane_step(&L[l], 0, 1);
          L[l].dst++;
          L[l].left--;
        }
      } else if (active == LANES) {
        for (uint32_t k = 0; k < steps; k++) {
          lane_step(&L[0], k, 0);
          lane_step(&L[1], k, 0);
          lane_step(&L[2], k, 0);
          lane_step(&L[3], k, 0);
        }
      } else {
        for (uint32_t k = 0; k < steps; k++)
          for (int l = 0; l < active; l++)
            lane_step(&L[l], k, 0);
      }
      if (steps)
        for (int l = 0; l < active; l++) {
          L[l].dst += steps;
          L[l].left -= steps;
        }
      /* Retire finished lanes, keeping the others (and their tables). */
      for (int l = 0; l < active;) {
        if (L[l].left == 0) {
          active--;
          if (l != active) {
            /* Swap the finished lane's buffers with the last active one,
             * so that every active lane keeps its own table. */
            uint32_t *ts = ctx->sym[l];
            uint8_t *ss = ctx->stream[l];
            size_t sc = ctx->stream_cap[l];
            ctx->sym[l] = ctx->sym[active];
            ctx->stream[l] = ctx->stream[active];
            ctx->stream_cap[l] = ctx->stream_cap[active];
            ctx->sym[active] = ts;
            ctx->stream[active] = ss;
            ctx->stream_cap[active] = sc;
            L[l] = L[active];
          }
        } else {
          l++;
        }
      }
    }
    /* Symbols -> samples, then the lossy-compression fields. */
    for (size_t j = 0; j < m; j++) {
      mef3_red_job *job = &jobs[base + j];
      const prepared *p = &pp[j];
      size_t ns = p->h.number_of_samples;
      if (job->rc || ns == 0)
        continue;
      size_t got = reconstruct(ctx->symbols + p->sym_offset, p->symbols,
                               job->out, ns, &job->min, &job->max);
      if (got != ns) {
        job->rc =
            mef3__error_at(MEF3_ECORRUPT, path, job->offset,
                           "RED block decodes to %zu of %zu samples", got, ns);
        snprintf(job->message, sizeof job->message, "%s",
                 mef3_error_last()->message);
        continue;
      }
      int lossy = 0;
      if (p->h.scale_factor > 1.0f) {
        double sf = p->h.scale_factor;
        for (size_t i = 0; i < ns; i++)
          job->out[i] = red_round((double)job->out[i] * sf);
        lossy = 1;
      }
      if (p->h.detrend_slope != 0.0f || p->h.detrend_intercept != 0.0f) {
        double mm = p->h.detrend_slope, b = p->h.detrend_intercept;
        for (size_t i = 0; i < ns; i++)
          job->out[i] =
              red_round((double)job->out[i] + mm * (double)(i + 1) + b);
        lossy = 1;
      }
      if (lossy) { /* the range changed: say "may hold sentinels" */
        job->min = INT32_MIN;
        job->max = INT32_MAX;
      }
      job->n_out = ns;
    }
  }
  return 0;
}

int mef3_red_decode(mef3_red_ctx *ctx, int32_t *out, size_t cap, size_t *n_out,
                    const uint8_t *block, size_t len, const mef3_keys *keys,
                    int check_crc, const char *path, uint64_t offset) {
  mef3_red_job job = {block, len, offset, out, cap, 0, 0, 0, 0, {0}};
  int rc = mef3_red_decode_batch(ctx, &job, 1, keys, check_crc, path);
  *n_out = job.n_out;
  if (rc)
    return rc;
  return job.rc;
}
