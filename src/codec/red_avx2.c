/*
 * codec/red_avx2.c - the AVX2 stages of the RED decoder: the range
 * decoder for 16 blocks in lock-step, one symbol of each per round (see
 * codec/red_lanes.h for the arithmetic both paths share and why it is
 * exact), and the byte work around it (realigning a stream, moving the
 * kernel's symbols to their blocks, symbols to samples).  Each stage
 * gives exactly what its plain C counterpart in codec/red_decode.c gives;
 * a context on the vector path uses all of them, one on the scalar path
 * none, and the tests compare the two.
 *
 * One round of one group of 8 lanes is a dependent chain (renormalize:
 * compare, gather 4 stream bytes, shift in; two divisions in double
 * precision; gather the table entry; two multiplies and a blend), so two
 * groups run interleaved and the CPU overlaps their chains.  Compiled for
 * AVX2 and FMA by function attributes and called only after
 * mef3__red_avx2_usable(); elsewhere the file compiles to stubs.
 */
#include "codec/red_lanes.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma")))

static inline uint32_t ld32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

int mef3__red_avx2_usable(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

typedef struct {
  __m256i low, range, at, end, tab, tmax;
  __m256d inv_lo, inv_hi;
} group;

/* Unsigned 32-bit lanes to two vectors of doubles, exactly. */
TGT static inline void u32_to_pd(__m256i v, __m256d *lo, __m256d *hi) {
  const __m256d two31 = _mm256_set1_pd(2147483648.0);
  __m256i s = _mm256_xor_si256(v, _mm256_set1_epi32((int)0x80000000u));
  *lo = _mm256_add_pd(_mm256_cvtepi32_pd(_mm256_castsi256_si128(s)), two31);
  *hi =
      _mm256_add_pd(_mm256_cvtepi32_pd(_mm256_extracti128_si256(s, 1)), two31);
}

/* Truncating doubles (< 2^32) back to 32-bit lanes; 2^31 itself comes back
 * as 0x80000000 (the "indefinite" value), which is 2^31 unsigned. */
TGT static inline __m256i pd_to_u32(__m256d lo, __m256d hi) {
  return _mm256_set_m128i(_mm256_cvttpd_epi32(hi), _mm256_cvttpd_epi32(lo));
}

TGT static inline void group_round(group *g, const uint8_t *streams,
                                   const uint32_t *tables, uint8_t *out) {
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i bswap =
      _mm256_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 3,
                       2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
  /* Renormalize: range <= 2^23 (2^15, 2^7) <=> range - 1 < 2^23 ...;
   * range <= 2^31 always, so the signed compare is right. */
  __m256i rm1 = _mm256_sub_epi32(g->range, one);
  __m256i m = _mm256_add_epi32(
      _mm256_add_epi32(_mm256_cmpgt_epi32(_mm256_set1_epi32(0x800000), rm1),
                       _mm256_cmpgt_epi32(_mm256_set1_epi32(0x8000), rm1)),
      _mm256_cmpgt_epi32(_mm256_set1_epi32(0x80), rm1));
  __m256i steps = _mm256_sub_epi32(_mm256_setzero_si256(), m);
  __m256i sh = _mm256_slli_epi32(steps, 3);
  __m256i at = _mm256_min_epu32(g->at, g->end);
  __m256i w = _mm256_i32gather_epi32((const int *)(const void *)streams, at, 1);
  w = _mm256_shuffle_epi8(w, bswap);
  /* A shift by 32 gives 0 in AVX2 (no bytes taken). */
  __m256i bits =
      _mm256_srlv_epi32(w, _mm256_sub_epi32(_mm256_set1_epi32(32), sh));
  __m256i low = _mm256_or_si256(_mm256_sllv_epi32(g->low, sh), bits);
  __m256i range = _mm256_sllv_epi32(g->range, sh);
  g->at = _mm256_add_epi32(g->at, steps);

  /* rpc = floor(range / total), cc = min(floor(low / rpc), total - 1). */
  __m256d r_lo, r_hi, l_lo, l_hi;
  u32_to_pd(range, &r_lo, &r_hi);
  u32_to_pd(low, &l_lo, &l_hi);
  const __m256d eps = _mm256_set1_pd(1.0 / 262144.0);
  /* (a macro: the rounding mode must be an immediate even at -O0) */
#define RED_FLOOR (_MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC)
  __m256d q_lo =
      _mm256_round_pd(_mm256_fmadd_pd(r_lo, g->inv_lo, eps), RED_FLOOR);
  __m256d q_hi =
      _mm256_round_pd(_mm256_fmadd_pd(r_hi, g->inv_hi, eps), RED_FLOOR);
#undef RED_FLOOR
  __m256i rpc = pd_to_u32(q_lo, q_hi);
  __m256i cc = pd_to_u32(_mm256_div_pd(l_lo, q_lo), _mm256_div_pd(l_hi, q_hi));
  cc = _mm256_min_epu32(cc, g->tmax);
  __m256i e = _mm256_i32gather_epi32((const int *)(const void *)tables,
                                     _mm256_add_epi32(g->tab, cc), 4);

  const __m256i ff = _mm256_set1_epi32(0xff);
  __m256i s = _mm256_and_si256(e, ff);
  __m256i cnt = _mm256_and_si256(_mm256_srli_epi32(e, 8), ff);
  __m256i base = _mm256_mullo_epi32(rpc, _mm256_srli_epi32(e, 16));
  __m256i r1 = _mm256_mullo_epi32(rpc, cnt);
  __m256i r2 = _mm256_sub_epi32(range, base);
  g->range = _mm256_blendv_epi8(r1, r2, _mm256_cmpeq_epi32(s, ff));
  g->low = _mm256_sub_epi32(low, base);

  /* The 8 symbol bytes, in lane order. */
  const __m256i pick = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1,
                                        -1, -1, -1, -1, -1, 0, 4, 8, 12, -1, -1,
                                        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  __m256i p = _mm256_shuffle_epi8(s, pick);
  __m128i b = _mm_unpacklo_epi32(_mm256_castsi256_si128(p),
                                 _mm256_extracti128_si256(p, 1));
  _mm_storel_epi64((__m128i *)(void *)out, b);
}

TGT static void load(group *g, const mef3__red_vstate *s, int o) {
  g->low = _mm256_loadu_si256((const __m256i *)(const void *)(s->low + o));
  g->range = _mm256_loadu_si256((const __m256i *)(const void *)(s->range + o));
  g->at = _mm256_loadu_si256((const __m256i *)(const void *)(s->at + o));
  g->end = _mm256_loadu_si256((const __m256i *)(const void *)(s->end + o));
  g->tab = _mm256_loadu_si256((const __m256i *)(const void *)(s->tab + o));
  g->tmax = _mm256_loadu_si256((const __m256i *)(const void *)(s->tmax + o));
  g->inv_lo = _mm256_loadu_pd(s->inv + o);
  g->inv_hi = _mm256_loadu_pd(s->inv + o + 4);
}

TGT static void store(const group *g, mef3__red_vstate *s, int o) {
  _mm256_storeu_si256((__m256i *)(void *)(s->low + o), g->low);
  _mm256_storeu_si256((__m256i *)(void *)(s->range + o), g->range);
  _mm256_storeu_si256((__m256i *)(void *)(s->at + o), g->at);
}

TGT void mef3__red_avx2_run(mef3__red_vstate *s, const uint8_t *streams,
                            const uint32_t *tables, uint32_t rounds,
                            uint8_t *out) {
  group a, b;
  load(&a, s, 0);
  load(&b, s, 8);
  for (uint32_t k = 0; k < rounds; k++) {
    group_round(&a, streams, tables, out + 16 * (size_t)k);
    group_round(&b, streams, tables, out + 16 * (size_t)k + 8);
  }
  store(&a, s, 0);
  store(&b, s, 8);
}

/* d[k] = st[k] << 7 | st[k + 1] >> 1 for k < count: bytes st[0..count]
 * are read.  Returns how many were done (a multiple of 32); the caller
 * does the rest. */
TGT size_t mef3__red_avx2_realign(uint8_t *d, const uint8_t *st, size_t count) {
  const __m256i hi = _mm256_set1_epi8((char)0x80), lo = _mm256_set1_epi8(0x7f);
  size_t k = 0;
  for (; k + 32 <= count; k += 32) {
    __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(st + k));
    __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(st + k + 1));
    /* 16-bit shifts, then the bits that crossed a byte masked away. */
    __m256i v = _mm256_or_si256(_mm256_and_si256(_mm256_slli_epi16(a, 7), hi),
                                _mm256_and_si256(_mm256_srli_epi16(b, 1), lo));
    _mm256_storeu_si256((__m256i *)(void *)(d + k), v);
  }
  return k;
}

/* dst[l][k] = ring[16 k + l] for k < rounds and every l with a dst. */
TGT void mef3__red_avx2_columns(const uint8_t *ring, uint32_t rounds,
                                uint8_t *const dst[16]) {
  uint32_t k = 0;
  for (; k + 16 <= rounds; k += 16) {
    __m128i r[16], t[16];
    for (int i = 0; i < 16; i++)
      r[i] = _mm_loadu_si128(
          (const __m128i *)(const void *)(ring + 16 * (size_t)(k + i)));
    /* A 16 x 16 byte transpose: four rounds of interleaving pairs. */
    for (int i = 0; i < 8; i++) {
      t[2 * i] = _mm_unpacklo_epi8(r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = _mm_unpackhi_epi8(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 2; j++) {
        r[4 * i + 2 * j] = _mm_unpacklo_epi16(t[4 * i + j], t[4 * i + j + 2]);
        r[4 * i + 2 * j + 1] =
            _mm_unpackhi_epi16(t[4 * i + j], t[4 * i + j + 2]);
      }
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 4; j++) {
        t[8 * i + 2 * j] = _mm_unpacklo_epi32(r[8 * i + j], r[8 * i + j + 4]);
        t[8 * i + 2 * j + 1] =
            _mm_unpackhi_epi32(r[8 * i + j], r[8 * i + j + 4]);
      }
    for (int j = 0; j < 8; j++) {
      r[2 * j] = _mm_unpacklo_epi64(t[j], t[j + 8]);
      r[2 * j + 1] = _mm_unpackhi_epi64(t[j], t[j + 8]);
    }
    /* r[l] now holds lane l's 16 symbols. */
    for (int l = 0; l < 16; l++)
      if (dst[l])
        _mm_storeu_si128((__m128i *)(void *)(dst[l] + k), r[l]);
  }
  for (; k < rounds; k++)
    for (int l = 0; l < 16; l++)
      if (dst[l])
        dst[l][k] = ring[16 * (size_t)k + l];
}

/* Inclusive prefix sums of 8 int32 lanes, plus c (broadcast) to each. */
TGT static inline __m256i prefix8(__m256i x, __m256i c) {
  x = _mm256_add_epi32(x, _mm256_slli_si256(x, 4));
  x = _mm256_add_epi32(x, _mm256_slli_si256(x, 8));
  /* The low half's total to every lane of the high half. */
  __m256i t =
      _mm256_permutevar8x32_epi32(x, _mm256_setr_epi32(0, 0, 0, 0, 3, 3, 3, 3));
  t = _mm256_blend_epi32(_mm256_setzero_si256(), t, 0xF0);
  return _mm256_add_epi32(_mm256_add_epi32(x, t), c);
}

/*
 * The lookup table of one block: t[cc] = s | count << 8 | cum << 16 for
 * every cc in [cum, cum + count) of each symbol s; returns the total.
 * The entries rise with cc (cum does), so the table is the running
 * maximum of a zeroed table holding each symbol's entry where its counts
 * start: 256 stores and one vector pass, where filling symbol by symbol
 * costs a loop per symbol.  Writes up to t[total + 7].
 */
TGT uint32_t mef3__red_avx2_table(uint32_t *t, const uint8_t *counts) {
  uint32_t e[256], at[256];
  __m256i carry = _mm256_setzero_si256(),
          sym = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i eight = _mm256_set1_epi32(8), last = _mm256_set1_epi32(7);
  for (int s = 0; s < 256; s += 8) {
    __m128i c8 = _mm_loadl_epi64((const __m128i *)(const void *)(counts + s));
    __m256i c = _mm256_cvtepu8_epi32(c8);
    __m256i incl = prefix8(c, carry);
    __m256i cum = _mm256_sub_epi32(incl, c);
    __m256i v = _mm256_or_si256(_mm256_or_si256(sym, _mm256_slli_epi32(c, 8)),
                                _mm256_slli_epi32(cum, 16));
    _mm256_storeu_si256((__m256i *)(void *)(e + s), v);
    _mm256_storeu_si256((__m256i *)(void *)(at + s), cum);
    carry = _mm256_permutevar8x32_epi32(incl, last);
    sym = _mm256_add_epi32(sym, eight);
  }
  uint32_t total = (uint32_t)_mm256_extract_epi32(carry, 0);
  for (uint32_t k = 0; k < total; k += 8)
    _mm256_storeu_si256((__m256i *)(void *)(t + k), _mm256_setzero_si256());
    /* In symbol order: a symbol of count 0 shares its place with the next
     * one, which overwrites it (or lies at total, past every lookup). */
#pragma GCC unroll 16
  for (int s = 0; s < 256; s++)
    t[at[s]] = e[s];
  __m256i run = _mm256_setzero_si256();
  const __m256i three = _mm256_setr_epi32(0, 0, 0, 0, 3, 3, 3, 3);
  for (uint32_t k = 0; k < total; k += 8) {
    __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(t + k));
    x = _mm256_max_epu32(x, _mm256_slli_si256(x, 4));
    x = _mm256_max_epu32(x, _mm256_slli_si256(x, 8));
    __m256i h = _mm256_blend_epi32(_mm256_setzero_si256(),
                                   _mm256_permutevar8x32_epi32(x, three), 0xF0);
    x = _mm256_max_epu32(_mm256_max_epu32(x, h), run);
    _mm256_storeu_si256((__m256i *)(void *)(t + k), x);
    run = _mm256_permutevar8x32_epi32(x, last);
  }
  return total;
}

/* Symbols to samples, as reconstruct() in codec/red_decode.c: up to 16
 * differences at a time, those before the next escape. */
TGT size_t mef3__red_avx2_samples(const uint8_t *sy, uint32_t ns, int32_t *out,
                                  size_t n, int32_t *mn, int32_t *mx) {
  if (ns < 4)
    return 0;
  size_t i = 0;
  uint32_t k = 4, cur = ld32(sy);
  out[i++] = (int32_t)cur;
  __m256i vlo = _mm256_set1_epi32((int32_t)cur), vhi = vlo;
  const __m256i esc = _mm256_set1_epi8((char)0x80);
  const __m256i last = _mm256_set1_epi32(7);
  const __m256i idx0 = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i idx8 = _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15);
  while (i < n && k < ns) {
    if (i + 16 <= n && k + 16 <= ns) {
      __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(sy + k));
      int m = _mm_movemask_epi8(_mm_cmpeq_epi8(b, _mm256_castsi256_si128(esc)));
      /* The differences before the first escape (all 16 if none): the
       * 16 sums are stored, those past the escape are overwritten by
       * the samples that follow (n is at least i + 16). */
      int e = m ? __builtin_ctz((unsigned)m) : 16;
      if (e) {
        __m256i c = _mm256_set1_epi32((int32_t)cur);
        __m256i a = prefix8(_mm256_cvtepi8_epi32(b), c);
        __m256i h = prefix8(_mm256_cvtepi8_epi32(_mm_srli_si128(b, 8)),
                            _mm256_permutevar8x32_epi32(a, last));
        _mm256_storeu_si256((__m256i *)(void *)(out + i), a);
        _mm256_storeu_si256((__m256i *)(void *)(out + i + 8), h);
        if (e < 16) { /* the range of the first e only */
          __m256i ev = _mm256_set1_epi32(e);
          __m256i f = _mm256_permutevar8x32_epi32(a, _mm256_setzero_si256());
          a = _mm256_blendv_epi8(f, a, _mm256_cmpgt_epi32(ev, idx0));
          h = _mm256_blendv_epi8(f, h, _mm256_cmpgt_epi32(ev, idx8));
        }
        vlo = _mm256_min_epi32(vlo, _mm256_min_epi32(a, h));
        vhi = _mm256_max_epi32(vhi, _mm256_max_epi32(a, h));
        cur = (uint32_t)out[i + (size_t)e - 1];
        i += (size_t)e;
        k += (uint32_t)e;
        continue;
      }
      /* An escape first: the plain step below. */
    }
    uint8_t s = sy[k++];
    if (s == 0x80) {
      if (ns - k < 4)
        break;
      cur = ld32(sy + k);
      k += 4;
    } else {
      cur += (uint32_t)(int32_t)(int8_t)s;
    }
    out[i++] = (int32_t)cur;
    __m256i v = _mm256_set1_epi32((int32_t)cur);
    vlo = _mm256_min_epi32(vlo, v);
    vhi = _mm256_max_epi32(vhi, v);
  }
  int32_t a[8], b[8];
  _mm256_storeu_si256((__m256i *)(void *)a, vlo);
  _mm256_storeu_si256((__m256i *)(void *)b, vhi);
  int32_t lo = a[0], hi = b[0];
  for (int j = 1; j < 8; j++) {
    lo = a[j] < lo ? a[j] : lo;
    hi = b[j] > hi ? b[j] : hi;
  }
  *mn = lo;
  *mx = hi;
  return i;
}

#else

int mef3__red_avx2_usable(void) {
  return 0;
}

size_t mef3__red_avx2_realign(uint8_t *d, const uint8_t *st, size_t count) {
  (void)d, (void)st, (void)count;
  return 0;
}

void mef3__red_avx2_columns(const uint8_t *ring, uint32_t rounds,
                            uint8_t *const dst[16]) {
  (void)ring, (void)rounds, (void)dst;
}

size_t mef3__red_avx2_samples(const uint8_t *sy, uint32_t ns, int32_t *out,
                              size_t n, int32_t *mn, int32_t *mx) {
  (void)sy, (void)ns, (void)out, (void)n, (void)mn, (void)mx;
  return 0;
}

uint32_t mef3__red_avx2_table(uint32_t *t, const uint8_t *counts) {
  (void)t, (void)counts;
  return 0;
}

void mef3__red_avx2_run(mef3__red_vstate *s, const uint8_t *streams,
                        const uint32_t *tables, uint32_t rounds, uint8_t *out) {
  (void)s, (void)streams, (void)tables, (void)rounds, (void)out;
}

#endif
