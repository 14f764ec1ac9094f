/*
 * files/envelope.c - min/max envelopes of windows of any length, for
 * overviews: a pyramid per tile, cached apart from the tiles.
 *
 * A tile's pyramid holds, for levels k = 0, 1, ..., the (min, max) of the
 * samples of every bin of MEF3_ENVELOPE_BASE * 4^k samples that meets the
 * tile, bins lying on the channel's grid (bin g of level k is grid
 * samples [g w, (g+1) w)) and clipped to the tile; NaN samples are left
 * out and a bin with none is (NaN, NaN).  Levels stop at the first one
 * with a single bin.  A pyramid is about 1/100 of its tile, so an
 * envelope cache of a quarter of the tile budget keeps the pyramids of
 * about 25 times as much recording as the tile cache keeps samples.
 *
 * An envelope column [lo, hi) (multiples of the base, or tile edges) is
 * covered greedily per tile: from lo, the coarsest clipped bin that
 * starts there and ends by hi, then on from its end.  Each step is exact,
 * so the result is the min and max of the column's samples.  Columns
 * finer than the base are reduced from the tiles' samples instead.
 *
 * Cold pyramids are built from tiles loaded through the file manager's
 * read path (cache, both lanes, no prefetch), a batch at a time so that
 * an overview of hours pins little memory at once.
 *
 * Threads: the cache has one mutex, never held while building a pyramid
 * or reducing columns; entries are reference counted so that eviction
 * never frees one in use.  Two calls building the same pyramid at once
 * both build it and the first to insert wins.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "files/files_impl.h"
#include "util/alloc.h"

#define MAXL 16
#define BATCH 128 /* tiles loaded at once for pyramids */
#define MAX_ENV_TILES ((size_t)1 << 22)
#define MAX_COLUMNS ((size_t)1 << 20)

typedef struct envp {
  uint64_t file;
  uint32_t ch;
  int64_t b;
  struct envp *hnext, *prev, *next;
  int refs, hashed;
  int nl;
  int64_t g0[MAXL], cnt[MAXL];
  size_t off[MAXL]; /* into v, in pairs */
  size_t bytes;
  float v[]; /* (min, max) pairs */
} envp;

struct mef3__envcache {
  pthread_mutex_t mu;
  envp **buckets;
  size_t nb, count;
  /* Sentinel of the LRU list (lru->next most recent), allocated apart:
   * an envp ends in a flexible array, so it cannot sit inside a struct. */
  envp *lru;
  int64_t budget;
  uint64_t bytes, built, hits, evictions;
};

static int64_t env_fdiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static size_t hash(uint64_t file, uint32_t ch, int64_t b, size_t nb) {
  uint64_t h = file * 0x9E3779B97F4A7C15ull ^
               (uint64_t)ch * 0xC2B2AE3D27D4EB4Full ^
               (uint64_t)b * 0x165667B19E3779F9ull;
  h ^= h >> 29;
  return (size_t)h & (nb - 1);
}

/* ---- the cache ---- */

int mef3__envcache_new(mef3__envcache **out, int64_t budget) {
  mef3__envcache *c = mef3__calloc(1, sizeof *c);
  if (!c)
    return MEF3_ENOMEM;
  c->nb = 1024;
  c->buckets = mef3__calloc(c->nb, sizeof *c->buckets);
  c->lru = mef3__calloc(1, sizeof *c->lru);
  if (!c->buckets || !c->lru) {
    mef3__free(c->buckets);
    mef3__free(c->lru);
    mef3__free(c);
    return MEF3_ENOMEM;
  }
  pthread_mutex_init(&c->mu, NULL);
  c->lru->next = c->lru->prev = c->lru;
  c->budget = budget > 0 ? budget : 1;
  *out = c;
  return 0;
}

static void unhash_locked(mef3__envcache *c, envp *e) {
  envp **pp = &c->buckets[hash(e->file, e->ch, e->b, c->nb)];
  while (*pp != e)
    pp = &(*pp)->hnext;
  *pp = e->hnext;
  e->prev->next = e->next;
  e->next->prev = e->prev;
  e->hashed = 0;
  c->count--;
  c->bytes -= e->bytes;
}

/* Drop a reference; frees on the last.  Lock held. */
static void unref_locked(envp *e) {
  if (--e->refs == 0)
    mef3__free(e);
}

void mef3__envcache_free(mef3__envcache *c) {
  if (!c)
    return;
  for (envp *e = c->lru->next, *nx; e != c->lru; e = nx) {
    nx = e->next;
    mef3__free(e);
  }
  mef3__free(c->buckets);
  mef3__free(c->lru);
  pthread_mutex_destroy(&c->mu);
  mef3__free(c);
}

void mef3__envcache_file_drop(mef3__envcache *c, uint64_t file) {
  pthread_mutex_lock(&c->mu);
  for (envp *e = c->lru->next, *nx; e != c->lru; e = nx) {
    nx = e->next;
    if (e->file == file) {
      unhash_locked(c, e);
      unref_locked(e);
    }
  }
  pthread_mutex_unlock(&c->mu);
}

static envp *get(mef3__envcache *c, uint64_t file, uint32_t ch, int64_t b) {
  pthread_mutex_lock(&c->mu);
  envp *e = c->buckets[hash(file, ch, b, c->nb)];
  while (e && !(e->file == file && e->ch == ch && e->b == b))
    e = e->hnext;
  if (e) {
    e->refs++;
    c->hits++;
    e->prev->next = e->next; /* most recently used */
    e->next->prev = e->prev;
    e->next = c->lru->next;
    e->prev = c->lru;
    c->lru->next->prev = e;
    c->lru->next = e;
  }
  pthread_mutex_unlock(&c->mu);
  return e;
}

static void grow_locked(mef3__envcache *c) {
  size_t nb = c->nb * 2;
  envp **nbk = mef3__calloc(nb, sizeof *nbk);
  if (!nbk)
    return; /* longer chains, still correct */
  for (size_t i = 0; i < c->nb; i++)
    for (envp *e = c->buckets[i], *nx; e; e = nx) {
      nx = e->hnext;
      size_t h = hash(e->file, e->ch, e->b, nb);
      e->hnext = nbk[h];
      nbk[h] = e;
    }
  mef3__free(c->buckets);
  c->buckets = nbk;
  c->nb = nb;
}

/* Insert `e` (one reference, the caller's) unless its key is there;
 * returns the entry to use, with a reference for the caller. */
static envp *insert(mef3__envcache *c, envp *e) {
  pthread_mutex_lock(&c->mu);
  c->built++;
  size_t h = hash(e->file, e->ch, e->b, c->nb);
  envp *x = c->buckets[h];
  while (x && !(x->file == e->file && x->ch == e->ch && x->b == e->b))
    x = x->hnext;
  if (x) {
    x->refs++;
    pthread_mutex_unlock(&c->mu);
    mef3__free(e);
    return x;
  }
  if ((int64_t)e->bytes <= c->budget) {
    if (c->count >= c->nb)
      grow_locked(c);
    h = hash(e->file, e->ch, e->b, c->nb);
    e->hnext = c->buckets[h];
    c->buckets[h] = e;
    e->next = c->lru->next;
    e->prev = c->lru;
    c->lru->next->prev = e;
    c->lru->next = e;
    e->hashed = 1;
    e->refs++; /* the table's */
    c->count++;
    c->bytes += e->bytes;
    while ((int64_t)c->bytes > c->budget && c->lru->prev != e) {
      envp *old = c->lru->prev;
      unhash_locked(c, old);
      unref_locked(old);
      c->evictions++;
    }
  }
  pthread_mutex_unlock(&c->mu);
  return e;
}

static void release(mef3__envcache *c, envp *e) {
  if (!e)
    return;
  pthread_mutex_lock(&c->mu);
  unref_locked(e);
  pthread_mutex_unlock(&c->mu);
}

void mef3_files_get_envelope_stats(mef3_envelope_stats *out, mef3_files *fm) {
  memset(out, 0, sizeof *out);
  if (!fm || !fm->env)
    return;
  mef3__envcache *c = fm->env;
  pthread_mutex_lock(&c->mu);
  out->pyramids = c->count;
  out->bytes = c->bytes;
  out->built = c->built;
  out->hits = c->hits;
  out->evictions = c->evictions;
  pthread_mutex_unlock(&c->mu);
}

/* ---- pyramids ---- */

typedef struct mm {
  float lo, hi;
  int any;
} mm;

static void mm_init(mm *m) {
  m->lo = INFINITY;
  m->hi = -INFINITY;
  m->any = 0;
}

static void mm_samples(mm *m, const float *x, size_t n) {
  float lo = m->lo, hi = m->hi;
  int any = m->any;
  for (size_t i = 0; i < n; i++) {
    float v = x[i];
    if (v == v) {
      lo = v < lo ? v : lo;
      hi = v > hi ? v : hi;
      any = 1;
    }
  }
  m->lo = lo;
  m->hi = hi;
  m->any = any;
}

static void mm_pair(mm *m, const float *p) {
  if (p[0] != p[0])
    return;
  m->lo = p[0] < m->lo ? p[0] : m->lo;
  m->hi = p[1] > m->hi ? p[1] : m->hi;
  m->any = 1;
}

static void mm_store(const mm *m, float *p) {
  p[0] = m->any ? m->lo : NAN;
  p[1] = m->any ? m->hi : NAN;
}

/* The pyramid of tile `b` (S samples `x`) of a channel. */
static envp *build(uint64_t file, uint32_t ch, int64_t b, int64_t S,
                   const float *x) {
  int64_t t0 = b * S, t1 = t0 + S;
  int64_t g0[MAXL], cnt[MAXL];
  size_t off[MAXL], pairs = 0;
  int nl = 0;
  for (int64_t w = MEF3_ENVELOPE_BASE; nl < MAXL; w *= 4) {
    g0[nl] = env_fdiv(t0, w);
    cnt[nl] = env_fdiv(t1 - 1, w) - g0[nl] + 1;
    off[nl] = pairs;
    pairs += (size_t)cnt[nl];
    nl++;
    if (cnt[nl - 1] == 1)
      break;
  }
  size_t bytes = sizeof(envp) + pairs * 2 * sizeof(float);
  envp *e = mef3__malloc(bytes);
  if (!e)
    return NULL;
  memset(e, 0, sizeof *e);
  e->file = file;
  e->ch = ch;
  e->b = b;
  e->refs = 1;
  e->nl = nl;
  e->bytes = bytes;
  memcpy(e->g0, g0, sizeof g0);
  memcpy(e->cnt, cnt, sizeof cnt);
  memcpy(e->off, off, sizeof off);
  int64_t w = MEF3_ENVELOPE_BASE;
  for (int64_t g = g0[0]; g < g0[0] + cnt[0]; g++) {
    int64_t lo = g * w > t0 ? g * w : t0,
            hi = (g + 1) * w < t1 ? (g + 1) * w : t1;
    mm m;
    mm_init(&m);
    mm_samples(&m, x + (lo - t0), (size_t)(hi - lo));
    mm_store(&m, e->v + 2 * (off[0] + (size_t)(g - g0[0])));
  }
  for (int L = 1; L < nl; L++)
    for (int64_t g = g0[L]; g < g0[L] + cnt[L]; g++) {
      mm m;
      mm_init(&m);
      for (int64_t k = 4 * g; k < 4 * g + 4; k++)
        if (k >= g0[L - 1] && k < g0[L - 1] + cnt[L - 1])
          mm_pair(&m, e->v + 2 * (off[L - 1] + (size_t)(k - g0[L - 1])));
      mm_store(&m, e->v + 2 * (off[L] + (size_t)(g - g0[L])));
    }
  return e;
}

/* Fold [lo, hi) (inside tile e->b; ends multiples of the base or tile
 * edges) into m, coarsest bins first. */
static void fold_pyramid(mm *m, const envp *e, int64_t S, int64_t lo,
                         int64_t hi) {
  int64_t t0 = e->b * S, t1 = t0 + S;
  int64_t pos = lo;
  while (pos < hi) {
    int64_t w = (int64_t)MEF3_ENVELOPE_BASE << (2 * (e->nl - 1));
    int L;
    for (L = e->nl - 1; L >= 0; L--, w /= 4) {
      int64_t g = env_fdiv(pos, w);
      int64_t blo = g * w > t0 ? g * w : t0;
      int64_t bhi = (g + 1) * w < t1 ? (g + 1) * w : t1;
      if (blo == pos && bhi <= hi) {
        mm_pair(m, e->v + 2 * (e->off[L] + (size_t)(g - e->g0[L])));
        pos = bhi;
        break;
      }
    }
    if (L < 0)
      break; /* cannot happen for aligned ranges; never loop */
  }
}

/* ---- the call ---- */

typedef struct chan_req {
  size_t ch; /* index in the file */
  int has_data;
  int64_t a;        /* grid sample where column 0 starts */
  int64_t tb0, tb1; /* tiles [tb0, tb1) needed (clipped to the recording) */
  size_t p0;        /* its first slot in the pyramid / tile arrays */
} chan_req;

void mef3_envelope_free(mef3_envelope *e) {
  if (!e)
    return;
  if (e->channel_names)
    for (size_t i = 0; i < e->n_channels; i++)
      mef3__free(e->channel_names[i]);
  mef3__free(e->channel_names);
  mef3__free(e->first_sample);
  mef3__free(e->first_uutc);
  mef3__free(e->min);
  mef3__free(e->max);
  mef3__free(e);
}

/* Load the pyramids of slots [0, np) that are not cached, BATCH tiles at a
 * time. */
static int fill_pyramids(mef3_files *fm, mfile *f, const mef3__tcache_key *keys,
                         envp **pyr, size_t np) {
  mef3__tcache_key kb[BATCH];
  mef3__tile *tb[BATCH];
  size_t slot[BATCH];
  size_t i = 0;
  while (i < np) {
    size_t nb = 0;
    for (; i < np && nb < BATCH; i++) {
      if (pyr[i])
        continue;
      kb[nb] = keys[i];
      slot[nb++] = i;
    }
    if (!nb)
      break;
    int rc = mef3__files_pin_tiles(fm, f, kb, nb, tb);
    if (rc)
      return rc;
    for (size_t k = 0; k < nb && !rc; k++) {
      const fchan *c = &f->ch[kb[k].ch];
      envp *e = build(f->id, kb[k].ch, kb[k].idx, c->S, tb[k]->data);
      if (!e)
        rc = mef3__error(MEF3_ENOMEM, "out of memory for an envelope pyramid");
      else
        pyr[slot[k]] = insert(fm->env, e);
    }
    for (size_t k = 0; k < nb; k++)
      mef3__tcache_unpin(&fm->cache, tb[k]);
    if (rc)
      return rc;
  }
  return 0;
}

static void reduce_row(float *mn, float *mx, size_t ncol, const chan_req *q,
                       const fchan *c, int64_t spc, int raw, envp *const *pyr,
                       mef3__tile *const *tiles) {
  int64_t S = c->S;
  for (size_t j = 0; j < ncol; j++) {
    int64_t lo = q->a + (int64_t)j * spc, hi = lo + spc;
    mm m;
    mm_init(&m);
    if (q->has_data)
      for (int64_t b = env_fdiv(lo, S) > q->tb0 ? env_fdiv(lo, S) : q->tb0;
           b < q->tb1 && b * S < hi; b++) {
        int64_t l = lo > b * S ? lo : b * S;
        int64_t h = hi < (b + 1) * S ? hi : (b + 1) * S;
        size_t s = q->p0 + (size_t)(b - q->tb0);
        if (raw)
          mm_samples(&m, tiles[s]->data + (l - b * S), (size_t)(h - l));
        else
          fold_pyramid(&m, pyr[s], S, l, h);
      }
    float p[2];
    mm_store(&m, p);
    mn[j] = p[0];
    mx[j] = p[1];
  }
}

int mef3_files_envelope(mef3_envelope **out, mef3_files *fm, const char *path,
                        const char *const *channels, size_t n_channels,
                        int64_t start_uutc, int64_t end_uutc,
                        size_t max_columns) {
  return mef3_files_envelope_as(out, fm, path, NULL, channels, n_channels,
                                start_uutc, end_uutc, max_columns);
}

int mef3_files_envelope_as(mef3_envelope **out, mef3_files *fm,
                           const char *path, const char *token,
                           const char *const *channels, size_t n_channels,
                           int64_t start_uutc, int64_t end_uutc,
                           size_t max_columns) {
  if (!out)
    return mef3__error(MEF3_EINVAL, "no output pointer");
  *out = NULL;
  if (max_columns == 0 || max_columns > MAX_COLUMNS)
    return mef3__error(MEF3_EINVAL, "columns %zu out of [1, %zu]", max_columns,
                       MAX_COLUMNS);
  mef3__chplan plan;
  mfile *f;
  int rc = mef3__chplan_open(&plan, &f, fm, path, token, channels, n_channels,
                             start_uutc, end_uutc);
  if (rc)
    return rc;
  chan_req *q = NULL;
  mef3__tcache_key *keys = NULL;
  envp **pyr = NULL;
  mef3__tile **tiles = NULL;
  mef3_envelope *env = NULL;
  size_t np = 0;
  int raw = 0;
  const size_t nrow = plan.nrow, nq = plan.nu;
  const size_t *row_q = plan.row;
  const double fs = plan.fs;
  const int64_t n = plan.n;
  if (!(q = mef3__calloc(nq, sizeof *q))) {
    rc = mef3__error(MEF3_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t u = 0; u < nq; u++)
    q[u].ch = plan.ch[u];
  int64_t spc = (n + (int64_t)max_columns - 1) / (int64_t)max_columns;
  raw = spc < MEF3_ENVELOPE_BASE;
  if (!raw)
    spc = (spc + MEF3_ENVELOPE_BASE - 1) / MEF3_ENVELOPE_BASE *
          MEF3_ENVELOPE_BASE;
  size_t ncol = 0;
  for (;;) {
    ncol = 0;
    for (size_t u = 0; u < nq; u++) {
      const fchan *c = &f->ch[q[u].ch];
      int64_t d;
      double i1 = 0;
      q[u].has_data = c->cs != MEF3_UUTC_NO_ENTRY &&
                      !__builtin_sub_overflow(start_uutc, c->cs, &d) &&
                      fabs(i1 = (double)mef3__files_slot(start_uutc, c->cs,
                                                         fs)) < 4e18;
      int64_t a = q[u].has_data ? (int64_t)i1 : 0;
      if (!raw)
        a = env_fdiv(a, MEF3_ENVELOPE_BASE) * MEF3_ENVELOPE_BASE;
      q[u].a = a;
      int64_t nc = ((int64_t)i1 + n - a + spc - 1) / spc;
      if ((size_t)nc > ncol)
        ncol = (size_t)nc;
    }
    if (ncol <= max_columns || raw)
      break;
    spc += MEF3_ENVELOPE_BASE;
  }
  /* Tiles per channel: those meeting the columns, inside the recording. */
  for (size_t u = 0; u < nq; u++) {
    const fchan *c = &f->ch[q[u].ch];
    q[u].p0 = np;
    if (!q[u].has_data)
      continue;
    int64_t ngrid = mef3__files_slot(c->ce, c->cs, fs);
    int64_t last = env_fdiv(ngrid + 1, c->S); /* a slot past the end, rounded */
    int64_t b0 = env_fdiv(q[u].a, c->S);
    int64_t b1 = env_fdiv(q[u].a + (int64_t)ncol * spc - 1, c->S) + 1;
    q[u].tb0 = b0 > 0 ? b0 : 0;
    q[u].tb1 = b1 < last + 1 ? b1 : last + 1;
    if (q[u].tb1 < q[u].tb0)
      q[u].tb1 = q[u].tb0;
    size_t k = (size_t)(q[u].tb1 - q[u].tb0);
    if (k > MAX_ENV_TILES - np) {
      rc = mef3__error(MEF3_ELIMIT,
                       "%s: the envelope needs more than %zu "
                       "tiles",
                       path, MAX_ENV_TILES);
      goto done;
    }
    np += k;
  }
  keys = mef3__malloc((np ? np : 1) * sizeof *keys);
  pyr = mef3__calloc(np ? np : 1, sizeof *pyr);
  tiles = mef3__calloc(np ? np : 1, sizeof *tiles);
  if (!keys || !pyr || !tiles) {
    rc = mef3__error(MEF3_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t u = 0; u < nq; u++)
    for (int64_t b = q[u].tb0; b < q[u].tb1; b++)
      keys[q[u].p0 + (size_t)(b - q[u].tb0)] =
          (mef3__tcache_key){f->id, (uint32_t)q[u].ch, b};
  if (raw) {
    if (np && (rc = mef3__files_pin_tiles(fm, f, keys, np, tiles)) != 0)
      goto done;
  } else {
    for (size_t i = 0; i < np; i++)
      pyr[i] = get(fm->env, keys[i].file, keys[i].ch, keys[i].idx);
    if ((rc = fill_pyramids(fm, f, keys, pyr, np)) != 0)
      goto done;
  }

  env = mef3__calloc(1, sizeof *env);
  if (env) {
    env->channel_names = mef3__calloc(nrow, sizeof *env->channel_names);
    env->first_sample = mef3__calloc(nrow, sizeof *env->first_sample);
    env->first_uutc = mef3__calloc(nrow, sizeof *env->first_uutc);
    env->min = mef3__malloc(nrow * ncol * sizeof *env->min);
    env->max = mef3__malloc(nrow * ncol * sizeof *env->max);
  }
  if (!env || !env->channel_names || !env->first_sample || !env->first_uutc ||
      !env->min || !env->max) {
    rc = mef3__error(MEF3_ENOMEM, "out of memory for %zu x %zu columns", nrow,
                     ncol);
    goto done;
  }
  env->n_channels = nrow;
  env->n_columns = ncol;
  env->fs = fs;
  env->samples_per_column = spc;
  env->start_uutc = start_uutc;
  env->end_uutc = end_uutc;
  env->level = -1;
  if (!raw)
    for (int64_t w = MEF3_ENVELOPE_BASE; spc % w == 0; w *= 4)
      env->level++;
  for (size_t r = 0; r < nrow; r++) {
    const chan_req *cq = &q[row_q[r]];
    const fchan *c = &f->ch[cq->ch];
    size_t r0 = 0;
    while (row_q[r0] != row_q[r])
      r0++;
    if (r0 < r) {
      memcpy(env->min + r * ncol, env->min + r0 * ncol, ncol * sizeof(float));
      memcpy(env->max + r * ncol, env->max + r0 * ncol, ncol * sizeof(float));
    } else {
      reduce_row(env->min + r * ncol, env->max + r * ncol, ncol, cq, c, spc,
                 raw, pyr, tiles);
    }
    env->first_sample[r] = cq->a;
    env->first_uutc[r] =
        cq->has_data ? mef3_grid_time(c->cs, cq->a, fs) : start_uutc;
    if (!(env->channel_names[r] = mef3__strdup(c->name))) {
      rc = mef3__error(MEF3_ENOMEM, "out of memory");
      goto done;
    }
  }

done:
  if (tiles)
    for (size_t i = 0; i < np; i++)
      mef3__tcache_unpin(&fm->cache, tiles[i]);
  if (pyr)
    for (size_t i = 0; i < np; i++)
      release(fm->env, pyr[i]);
  mef3__free(tiles);
  mef3__free(pyr);
  mef3__free(keys);
  mef3__free(q);
  mef3__chplan_free(&plan);
  mef3__mfile_unref(f);
  if (rc) {
    mef3_envelope_free(env);
    return rc;
  }
  *out = env;
  return 0;
}
