/*
 * codec/red_avx2.c - the range decoder for 16 RED blocks in lock-step with
 * AVX2, one symbol of each per round (see codec/red_lanes.h for the
 * arithmetic both paths share and why it is exact).
 *
 * One round of one group of 8 lanes is a dependent chain (renormalize:
 * compare, gather 4 stream bytes, shift in; two divisions in double
 * precision; gather the table entry; two multiplies and a blend), so two
 * groups run interleaved and the CPU overlaps their chains.  Compiled for
 * AVX2 and FMA by function attributes and called only after
 * mef3__red_avx2_usable(); elsewhere the file compiles to stubs.
 */
#include "codec/red_lanes.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma")))

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
  *hi = _mm256_add_pd(_mm256_cvtepi32_pd(_mm256_extracti128_si256(s, 1)),
                      two31);
}

/* Truncating doubles (< 2^32) back to 32-bit lanes; 2^31 itself comes back
 * as 0x80000000 (the "indefinite" value), which is 2^31 unsigned. */
TGT static inline __m256i pd_to_u32(__m256d lo, __m256d hi) {
  return _mm256_set_m128i(_mm256_cvttpd_epi32(hi), _mm256_cvttpd_epi32(lo));
}

TGT static inline void group_round(group *g, const uint8_t *streams,
                                   const uint32_t *tables, uint8_t *out) {
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i bswap = _mm256_setr_epi8(
      3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 3, 2, 1, 0, 7, 6,
      5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
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
  __m256i cc =
      pd_to_u32(_mm256_div_pd(l_lo, q_lo), _mm256_div_pd(l_hi, q_hi));
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
  const __m256i pick = _mm256_setr_epi8(
      0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12,
      -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
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

#else

int mef3__red_avx2_usable(void) { return 0; }

void mef3__red_avx2_run(mef3__red_vstate *s, const uint8_t *streams,
                        const uint32_t *tables, uint32_t rounds,
                        uint8_t *out) {
  (void)s, (void)streams, (void)tables, (void)rounds, (void)out;
}

#endif
