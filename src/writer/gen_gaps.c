/*
 * writer/gen_gaps.c - where the gaps of a generated session go.
 *
 * Every gap asked for is placed, or the generation is refused: a gap that
 * would hold no slot, start at the first sample, reach the end, or touch
 * another is an error naming it, never silently dropped or merged (a gap
 * at either end would only make the recording shorter, and two gaps with
 * no sample between would read as one).  So a session made with N gaps
 * shows exactly N.
 *
 * Given gaps are slot ranges: the slots whose times fall in
 * [start, start + length).  Random gaps are drawn from the seed: lengths
 * log-uniform from 0.5 s to 60 s, in the middle 90% of the recording,
 * beside the given gaps.  They never take more than half of the room they
 * share, which is how they are guaranteed to fit whatever the seed: the
 * room (middle 90% less the given gaps and a sample around each) splits
 * into free intervals; an interval of F slots takes at most F / (2 m)
 * random gaps, m being the shortest length (0.5 s); the gaps are shared
 * among the intervals in proportion to that capacity (largest remainder);
 * in an interval holding n, each is at most F / (2 n) long, and the
 * spare room is cut at n uniformly drawn points (stars and bars), so
 * gaps keep a sample between them and the positions are as random as the
 * lengths allow.  More random gaps than the capacity is an error saying
 * how many fit.  Single-threaded, pure function of the options.
 */
#include <math.h>
#include <stdlib.h>

#include "util/alloc.h"
#include "util/error.h"
#include "writer/gen_gaps.h"

static uint64_t mix(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static double u01(uint64_t *x) {
  return (double)(mix(x) >> 11) * (1.0 / 9007199254740992.0);
}

/* First slot whose time, start + round(k * 1e6 / fs) µs (the writer's
 * grid), is at or after `t` µs from the start. */
static int64_t slot_at(int64_t t, double fs) {
  int64_t k = (int64_t)ceil((double)t * fs / 1e6);
  if (k < 0)
    k = 0;
  while (k > 0 && llround((double)(k - 1) * 1e6 / fs) >= t)
    k--;
  while (llround((double)k * 1e6 / fs) < t)
    k++;
  return k;
}

static double secs(int64_t us) {
  return (double)us / 1e6;
}

typedef struct given {
  mef3__gen_span s;
  int64_t start_us, length_us; /* as asked, for messages */
} given;

static int cmp_given(const void *a, const void *b) {
  const given *x = a, *y = b;
  return x->s.k0 < y->s.k0 ? -1 : x->s.k0 > y->s.k0;
}

static int cmp_span(const void *a, const void *b) {
  const mef3__gen_span *x = a, *y = b;
  return x->k0 < y->k0 ? -1 : x->k0 > y->k0;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* A free interval [a, a + len) and its share of the random gaps. */
typedef struct room {
  int64_t a, len, cap, n;
  unsigned __int128 frac; /* remainder of n_random * cap / total cap */
} room;

static int cmp_frac_desc(const void *a, const void *b) {
  const room *const *x = a, *const *y = b;
  if ((*x)->frac != (*y)->frac)
    return (*x)->frac > (*y)->frac ? -1 : 1;
  return (*x)->a < (*y)->a ? -1 : 1;
}

/* The given gaps as sorted slot ranges into `g`, each checked. */
static int place_given(given *g, const mef3_gen_options *o, int64_t n_slots) {
  for (size_t i = 0; i < o->n_gaps; i++) {
    int64_t t0 = o->gaps[i].start_us, len = o->gaps[i].length_us;
    if (len <= 0 || t0 < 0)
      return mef3__error(MEF3_EINVAL,
                         "gap at %g s for %g s: start and length must be "
                         "positive",
                         secs(t0), secs(len));
    if (t0 >= o->duration_us)
      return mef3__error(MEF3_EINVAL,
                         "gap at %g s for %g s starts after the %g s "
                         "recording ends",
                         secs(t0), secs(len), secs(o->duration_us));
    if (len >= o->duration_us - t0 || slot_at(t0 + len, o->fs) >= n_slots)
      return mef3__error(MEF3_EINVAL,
                         "gap at %g s for %g s does not end before the %g s "
                         "recording does (a gap needs samples after it)",
                         secs(t0), secs(len), secs(o->duration_us));
    int64_t k0 = slot_at(t0, o->fs), k1 = slot_at(t0 + len, o->fs);
    if (k0 == 0)
      return mef3__error(MEF3_EINVAL,
                         "gap at %g s for %g s starts at the first sample (a "
                         "gap needs samples before it)",
                         secs(t0), secs(len));
    if (k1 == k0)
      return mef3__error(MEF3_EINVAL,
                         "gap at %g s for %g s holds no sample slot at %g Hz "
                         "(it is shorter than the slots around it are apart)",
                         secs(t0), secs(len), o->fs);
    g[i] = (given){{k0, k1}, t0, len};
  }
  qsort(g, o->n_gaps, sizeof *g, cmp_given);
  for (size_t i = 1; i < o->n_gaps; i++)
    if (g[i].s.k0 <= g[i - 1].s.k1)
      return mef3__error(MEF3_EINVAL,
                         "gaps at %g s for %g s and at %g s for %g s overlap "
                         "or leave no sample between them",
                         secs(g[i - 1].start_us), secs(g[i - 1].length_us),
                         secs(g[i].start_us), secs(g[i].length_us));
  return 0;
}

/* The free intervals of the middle 90% beside the given gaps `g`. */
static size_t free_rooms(room *rm, const given *g, size_t ng, int64_t n_slots) {
  int64_t r0 = llround(0.05 * (double)n_slots), r1;
  if (r0 < 1)
    r0 = 1;
  r1 = n_slots - r0;
  if (r1 > n_slots - 1)
    r1 = n_slots - 1;
  size_t n = 0;
  int64_t a = r0;
  for (size_t i = 0; i <= ng; i++) {
    /* A sample stays on either side of a given gap. */
    int64_t b = i < ng ? g[i].s.k0 - 1 : r1;
    if (b > r1)
      b = r1;
    if (b > a)
      rm[n++] = (room){a, b - a, 0, 0, 0};
    if (i < ng && g[i].s.k1 + 1 > a)
      a = g[i].s.k1 + 1;
  }
  return n;
}

int mef3__gen_plan_gaps(mef3__gen_span **out, size_t *n_out,
                        const mef3_gen_options *o, int64_t n_slots) {
  *out = NULL;
  *n_out = 0;
  size_t ng = o->n_gaps, nr = o->n_random_gaps, total = ng + nr;
  if (total < ng)
    return mef3__error(MEF3_EINVAL, "too many gaps");
  given *g = mef3__calloc(ng ? ng : 1, sizeof *g);
  room *rm = mef3__calloc(ng + 1, sizeof *rm);
  room **order = mef3__calloc(ng + 1, sizeof *order);
  mef3__gen_span *spans = mef3__calloc(total ? total : 1, sizeof *spans);
  int64_t *tmp = mef3__calloc(nr ? nr : 1, sizeof *tmp);
  int rc = (!g || !rm || !order || !spans || !tmp)
               ? mef3__error(MEF3_ENOMEM, "out of memory")
               : place_given(g, o, n_slots);
  if (rc || !nr)
    goto done;

  /* Lengths in slots: m (0.5 s) to hi (60 s), at least one slot. */
  int64_t m = llround(0.5 * o->fs), hi = llround(60.0 * o->fs);
  if (m < 1)
    m = 1;
  if (hi < m)
    hi = m;
  size_t n_rooms = free_rooms(rm, g, ng, n_slots);
  unsigned __int128 cap = 0;
  for (size_t j = 0; j < n_rooms; j++)
    cap += (unsigned __int128)(rm[j].cap = rm[j].len / (2 * m));
  if ((unsigned __int128)nr > cap) {
    rc = mef3__error(MEF3_EINVAL,
                     "%zu random gaps of 0.5 s or more do not fit in the %g s "
                     "recording: at most %llu do (together they take at most "
                     "half of its middle 90%%%s)",
                     nr, secs(o->duration_us), (unsigned long long)cap,
                     ng ? " beside the gaps given" : "");
    goto done;
  }
  /* Shares in proportion to capacity: the floors, then one more to the
   * largest remainders (never past a capacity, as nr <= cap). */
  size_t left = nr;
  for (size_t j = 0; j < n_rooms; j++) {
    unsigned __int128 q = (unsigned __int128)nr * (uint64_t)rm[j].cap;
    rm[j].n = (int64_t)(q / cap);
    rm[j].frac = q % cap;
    left -= (size_t)rm[j].n;
    order[j] = &rm[j];
  }
  qsort(order, n_rooms, sizeof *order, cmp_frac_desc);
  for (size_t j = 0; j < left; j++)
    order[j]->n++;

  uint64_t st = o->seed ^ 0x6761707300000000ull;
  size_t w = ng;
  for (size_t j = 0; j < n_rooms; j++) {
    int64_t n = rm[j].n, sum = 0;
    if (!n)
      continue;
    int64_t top = rm[j].len / (2 * n); /* >= m, as n <= cap */
    if (top > hi)
      top = hi;
    for (int64_t i = 0; i < n; i++) {
      int64_t len = llround((double)m * pow((double)top / (double)m, u01(&st)));
      len = len < m ? m : len > top ? top : len;
      spans[w + (size_t)i].k1 = len; /* the length, for now */
      sum += len;
    }
    /* The spare room, cut at n sorted points: a gap's offset past the
     * previous one's end plus its separating sample. */
    int64_t spare = rm[j].len - sum - (n - 1);
    for (int64_t i = 0; i < n; i++) {
      int64_t p = (int64_t)(u01(&st) * (double)(spare + 1));
      tmp[i] = p > spare ? spare : p;
    }
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_i64);
    int64_t at = rm[j].a;
    for (int64_t i = 0; i < n; i++) {
      mef3__gen_span *s = &spans[w + (size_t)i];
      int64_t len = s->k1;
      s->k0 = at + tmp[i];
      s->k1 = s->k0 + len;
      at += len + 1;
    }
    w += (size_t)n;
  }
done:
  if (!rc) {
    for (size_t i = 0; i < ng; i++)
      spans[i] = g[i].s;
    qsort(spans, total, sizeof *spans, cmp_span);
    *out = spans;
    *n_out = total;
    spans = NULL;
  }
  mef3__free(spans);
  mef3__free(g);
  mef3__free(rm);
  mef3__free(order);
  mef3__free(tmp);
  return rc;
}
