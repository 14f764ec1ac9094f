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
#include "codec/red_lanes.h"
#include "mef3pool/format.h"
#include "util/bytes.h"
#include "util/error.h"
#include "util/alloc.h"

#define RED_BOTTOM 0x800000u
#define RED_EXTRA_BITS 7
#define RED_MAX_TOTAL (256u * 255u)
#define SCALAR_LANES 4
#define SLOTS MEF3__RED_VLANES /* table slots: one per lane */
#define TAB_STRIDE (RED_MAX_TOTAL + 16)
#define IDLE_ENTRY ((size_t)SLOTS * TAB_STRIDE) /* an idle lane's table */
#define STREAM_PAD 16     /* zero bytes after each realigned stream */
#define ARENA_HEAD 16     /* zero bytes at the arena's start (idle lanes) */
#define RING_ROUNDS 2048  /* vector rounds per kernel call */
#define VECTOR_MIN_LIVE 6 /* fewer live lanes go scalar */

/* Per-lane decode state (also the prepared form of one block). */
typedef struct lane {
  uint32_t low, range;
  uint64_t at;    /* next byte of the realigned stream, in the arena */
  uint64_t lim;   /* its end: reads from here on see zeros */
  uint64_t magic; /* exact reciprocal of total */
  uint32_t shift;
  uint32_t total;
  const uint32_t *sym; /* cumulative count -> packed entry */
  uint8_t *dst;        /* decoded symbols */
  uint32_t left;       /* symbols still to decode */
} lane;

struct mef3_red_ctx {
  uint32_t *tabs; /* SLOTS tables of TAB_STRIDE entries, the idle entry */
  uint8_t *arena; /* realigned streams of the blocks of a chunk */
  size_t arena_cap;
  uint8_t *symbols; /* decoded symbols of the whole batch */
  size_t symbols_cap;
  uint8_t *ring;    /* vector kernel output, RING_ROUNDS x 16 */
  int vector;       /* the AVX2 kernel is used */
  mef3__aes aes[2]; /* level-1 and level-2 statistics keys */
};

int mef3_red_ctx_new(mef3_red_ctx **out) {
  *out = mef3__calloc(1, sizeof **out);
  if (!*out)
    return mef3__error(MEF3_ENOMEM, "cannot allocate RED context");
  /* MEF3_RED_SCALAR=1 keeps to the scalar path (tests, comparisons). */
  const char *env = getenv("MEF3_RED_SCALAR");
  (*out)->vector = mef3__red_avx2_usable() && !(env && *env && *env != '0');
  return 0;
}

int mef3__red_ctx_vector(mef3_red_ctx *ctx, int on) {
  if (on >= 0)
    ctx->vector = on && mef3__red_avx2_usable();
  return ctx->vector;
}

void mef3_red_ctx_free(mef3_red_ctx *ctx) {
  if (!ctx)
    return;
  mef3__free(ctx->tabs);
  mef3__free(ctx->arena);
  mef3__free(ctx->symbols);
  mef3__free(ctx->ring);
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
 * Decode one symbol of lane L into dst[k] (`left` and `dst` are advanced
 * by the caller per run).  Reads clamp at the end of the realigned stream,
 * where the zero padding lies.
 */
static inline void lane_step(lane *L, const uint8_t *arena, uint32_t k) {
  uint32_t range = L->range, low = L->low;
  uint32_t steps = (range <= RED_BOTTOM) + (range <= (RED_BOTTOM >> 8)) +
                   (range <= (RED_BOTTOM >> 16));
  uint64_t at = L->at < L->lim ? L->at : L->lim;
  uint32_t w = __builtin_bswap32(ld_u32(arena + at));
  uint32_t bits = (uint32_t)((uint64_t)w >> (32 - 8 * steps));
  low = (low << (8 * steps)) | bits;
  range <<= 8 * steps;
  L->at += steps;
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

typedef struct prepared {
  mef3_red_header h;
  uint8_t counts[256];
  uint32_t symbols;  /* coded symbols */
  size_t sym_offset; /* where its symbols go in ctx->symbols */
  uint64_t slen;     /* bytes of its realigned stream */
  size_t so;         /* where that goes in ctx->arena */
} prepared;

/* The sum of a block's 256 symbol counts. */
static uint32_t counts_total(const uint8_t *counts) {
#if defined(__SSE2__)
  __m128i acc = _mm_setzero_si128();
  for (int q = 0; q < 256; q += 16)
    acc = _mm_add_epi64(
        acc, _mm_sad_epu8(
                 _mm_loadu_si128((const __m128i *)(const void *)(counts + q)),
                 _mm_setzero_si128()));
  return (uint32_t)(_mm_cvtsi128_si32(acc) +
                    _mm_cvtsi128_si32(_mm_srli_si128(acc, 8)));
#else
  uint32_t total = 0;
  for (int s = 0; s < 256; s++)
    total += counts[s];
  return total;
#endif
}

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
  uint32_t total = counts_total(p->counts);
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

/* Realigned stream of p's block at ctx->arena + p->so: byte k is bits
 * [8k + 7, 8k + 15) of the coded stream (bytes past the block are zero),
 * then zeros.  Only the bytes the decoder can reach are copied: a symbol
 * takes at most three bytes and a read looks at four. */
static void realign(mef3_red_ctx *ctx, const prepared *p,
                    const mef3_red_job *job) {
  const uint8_t *st = job->block + MEF3_RED_HEADER_BYTES;
  uint64_t n = p->h.block_bytes - MEF3_RED_HEADER_BYTES;
  uint8_t *d = ctx->arena + p->so;
  /* Bytes k < two come from st[k] and st[k + 1]. */
  uint64_t k = 0, two = p->slen + (p->slen < n);
  two = two ? two - 1 : 0;
  if (ctx->vector)
    k = mef3__red_avx2_realign(d, st, (size_t)two);
  for (; k < two; k++)
    d[k] = (uint8_t)(st[k] << 7 | st[k + 1] >> 1);
  if (k < p->slen) /* the last byte of the block */
    d[k] = (uint8_t)(st[k] << 7);
  memset(d + p->slen, 0, STREAM_PAD);
}

/* Bit s of used[s / 64] set when counts[s] is not 0. */
static void used_symbols(uint64_t used[4], const uint8_t *counts) {
#if defined(__SSE2__)
  const __m128i zero = _mm_setzero_si128();
  for (int w = 0; w < 4; w++) {
    uint64_t m = 0;
    for (int q = 0; q < 4; q++) {
      __m128i c = _mm_loadu_si128(
          (const __m128i *)(const void *)(counts + 64 * w + 16 * q));
      m |= (uint64_t)(~_mm_movemask_epi8(_mm_cmpeq_epi8(c, zero)) & 0xffff)
           << (16 * q);
    }
    used[w] = m;
  }
#else
  for (int w = 0; w < 4; w++) {
    used[w] = 0;
    for (int b = 0; b < 64; b++)
      used[w] |= (uint64_t)(counts[64 * w + b] != 0) << b;
  }
#endif
}

/* Load block p into lane slot l (its table goes to table slot l). */
static void lane_load(mef3_red_ctx *ctx, lane *L, int l, const prepared *p,
                      const mef3_red_job *job) {
  /* Fill 8 entries per store whatever the count: the overshoot is
   * overwritten by the next symbol (or lies past the last count, where no
   * lookup goes), so a symbol with a count of 0 to 8 costs no loop. */
  uint32_t cum = 0;
  uint32_t *t = ctx->tabs + (size_t)l * TAB_STRIDE;
  /* Symbols of count 0 are skipped: their entries would be overwritten
   * by the next symbol all the same. */
  uint64_t used[4] = {0, 0, 0, 0};
  if (ctx->vector)
    cum = mef3__red_avx2_table(t, p->counts);
  else
    used_symbols(used, p->counts);
  for (uint32_t w = 0; w < 4; w++)
    for (uint64_t bits = used[w]; bits; bits &= bits - 1) {
      uint32_t s = 64 * w + (uint32_t)__builtin_ctzll(bits);
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
  uint64_t n = p->h.block_bytes - MEF3_RED_HEADER_BYTES;
  L->at = p->so;
  L->lim = p->so + p->slen;
  L->low = n ? job->block[MEF3_RED_HEADER_BYTES] >> (8 - RED_EXTRA_BITS) : 0;
  L->range = 1u << RED_EXTRA_BITS;
  L->total = cum;
  recip_make(L, cum);
  L->sym = t;
  L->dst = ctx->symbols + p->sym_offset;
  L->left = p->symbols;
}

/* `rounds` symbols of every live lane, scalar. */
static void run_scalar(mef3_red_ctx *ctx, lane *L, int nl, uint32_t rounds) {
  const uint8_t *ar = ctx->arena;
  lane *live[SLOTS];
  int n = 0;
  for (int l = 0; l < nl; l++)
    if (L[l].left)
      live[n++] = &L[l];
  if (n == 4) {
    for (uint32_t k = 0; k < rounds; k++) {
      lane_step(live[0], ar, k);
      lane_step(live[1], ar, k);
      lane_step(live[2], ar, k);
      lane_step(live[3], ar, k);
    }
  } else {
    for (uint32_t k = 0; k < rounds; k++)
      for (int i = 0; i < n; i++)
        lane_step(live[i], ar, k);
  }
  for (int i = 0; i < n; i++) {
    live[i]->dst += rounds;
    live[i]->left -= rounds;
  }
}

/* `rounds` symbols of every lane with the AVX2 kernel (all SLOTS lanes;
 * idle ones run on the idle entry and an empty stream). */
static void run_vector(mef3_red_ctx *ctx, lane *L, uint32_t rounds) {
  mef3__red_vstate v;
  for (int l = 0; l < SLOTS; l++) {
    if (L[l].left) {
      v.low[l] = L[l].low;
      v.range[l] = L[l].range;
      v.at[l] = (uint32_t)L[l].at;
      v.end[l] = (uint32_t)L[l].lim;
      v.tab[l] = (uint32_t)(l * TAB_STRIDE);
      v.tmax[l] = L[l].total - 1;
      v.inv[l] = 1.0 / (double)L[l].total;
    } else {
      v.low[l] = 0;
      v.range[l] = 1u << 31;
      v.at[l] = v.end[l] = 0;
      v.tab[l] = (uint32_t)IDLE_ENTRY;
      v.tmax[l] = 0;
      v.inv[l] = 1.0;
    }
  }
  for (uint32_t done = 0; done < rounds;) {
    uint32_t r = rounds - done < RING_ROUNDS ? rounds - done : RING_ROUNDS;
    mef3__red_avx2_run(&v, ctx->arena, ctx->tabs, r, ctx->ring);
    uint8_t *dst[SLOTS];
    for (int l = 0; l < SLOTS; l++)
      dst[l] = L[l].left ? L[l].dst + done : NULL;
    mef3__red_avx2_columns(ctx->ring, r, dst);
    done += r;
  }
  for (int l = 0; l < SLOTS; l++) {
    if (!L[l].left)
      continue;
    L[l].low = v.low[l];
    L[l].range = v.range[l];
    L[l].at = v.at[l];
    L[l].dst += rounds;
    L[l].left -= rounds;
  }
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
    /* Realigned streams, one arena for the chunk. */
    size_t arena = ARENA_HEAD;
    for (size_t j = 0; j < m; j++) {
      if (jobs[base + j].rc || pp[j].symbols == 0)
        continue;
      uint64_t sb = pp[j].h.block_bytes - MEF3_RED_HEADER_BYTES;
      uint64_t reach = 3 * (uint64_t)pp[j].symbols + 8;
      pp[j].slen = sb < reach ? sb : reach;
      pp[j].so = arena;
      arena += (size_t)pp[j].slen + STREAM_PAD;
    }
    if (arena > ctx->arena_cap) {
      size_t nc = ctx->arena_cap ? ctx->arena_cap : 65536;
      while (nc < arena)
        nc *= 2;
      uint8_t *na = mef3__realloc(ctx->arena, nc);
      if (!na)
        return mef3__error(MEF3_ENOMEM, "cannot allocate %zu bytes", nc);
      ctx->arena = na;
      ctx->arena_cap = nc;
    }
    if (!ctx->tabs) {
      ctx->tabs = mef3__malloc((IDLE_ENTRY + 1) * sizeof *ctx->tabs);
      if (!ctx->tabs)
        return mef3__error(MEF3_ENOMEM, "cannot allocate RED tables");
      /* The idle entry: symbol 0 of count 1 at 0, so that an idle lane
       * keeps range 2^31 and low 0. */
      ctx->tabs[IDLE_ENTRY] = 1u << 8;
    }
    memset(ctx->arena, 0, ARENA_HEAD);
    for (size_t j = 0; j < m; j++)
      if (!jobs[base + j].rc && pp[j].symbols)
        realign(ctx, &pp[j], &jobs[base + j]);
    /* The vector kernel addresses the arena with 32-bit offsets. */
    int vec = ctx->vector && arena < ((size_t)1 << 31);
    if (vec && !ctx->ring &&
        !(ctx->ring = mef3__malloc((size_t)RING_ROUNDS * SLOTS)))
      return mef3__error(MEF3_ENOMEM, "cannot allocate RED buffers");
    /* Range-decode in lanes: each lane keeps its slot (and table) until
     * its block is done, then takes the next block. */
    int nl = vec ? SLOTS : SCALAR_LANES;
    lane L[SLOTS];
    for (int l = 0; l < nl; l++)
      L[l].left = 0;
    size_t next = 0;
    for (;;) {
      int live = 0;
      uint32_t rounds = UINT32_MAX;
      for (int l = 0; l < nl; l++) {
        while (L[l].left == 0 && next < m) {
          size_t j = next++;
          if (!jobs[base + j].rc && pp[j].symbols)
            lane_load(ctx, &L[l], l, &pp[j], &jobs[base + j]);
        }
        if (L[l].left) {
          live++;
          rounds = L[l].left < rounds ? L[l].left : rounds;
        }
      }
      if (live == 0)
        break;
      if (vec && live >= VECTOR_MIN_LIVE)
        run_vector(ctx, L, rounds);
      else
        run_scalar(ctx, L, nl, rounds);
    }
    /* Symbols -> samples, then the lossy-compression fields. */
    for (size_t j = 0; j < m; j++) {
      mef3_red_job *job = &jobs[base + j];
      const prepared *p = &pp[j];
      size_t ns = p->h.number_of_samples;
      if (job->rc || ns == 0)
        continue;
      const uint8_t *sy = ctx->symbols + p->sym_offset;
      size_t got =
          ctx->vector
              ? mef3__red_avx2_samples(sy, p->symbols, job->out, ns, &job->min,
                                       &job->max)
              : reconstruct(sy, p->symbols, job->out, ns, &job->min, &job->max);
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
