/*
 * files/read.c - a read through the tile cache, the foreground lane.
 *
 * The requested channels are mapped to tiles (ARCHITECTURE.md):
 * channel u needs tiles floor(i1 / S) .. floor((i1 + n - 1) / S), i1 its
 * grid sample at `start`.  All of them are acquired from the cache at
 * once: hits are pinned, absent tiles are claimed (this read decodes
 * them), tiles in flight are waited for - except that a tile whose
 * prefetch is still queued is taken back (the prefetch canceled) and
 * decoded here, so a read never waits behind the prefetch lane.  Claimed
 * tiles go to the foreground pool, a few per request so every worker gets
 * some, when there are at least min_parallel_tiles of them; fewer are
 * decoded in process.  A pool failure falls back to in-process decoding.
 * Once every tile is READY and pinned, rows are cut from them with no
 * lock held, the pins are dropped, and the windows around are handed to
 * the prefetcher (prefetch.c).
 *
 * Order of work inside a read: claim, decode own claims, then wait for
 * others'.  A reader never waits while it holds a claim it has not
 * published, so readers cannot wait on each other in a cycle.
 *
 * Tiles before a channel's first sample (negative indices) are NaN by
 * construction: the tile window ends at or before the channel start, and
 * no block starts before it.  They are filled, not cached.
 *
 * Any thread; locks as files_impl.h orders them, none held across a
 * decode or a copy.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files/files_impl.h"
#include "util/alloc.h"

#define MAX_READ_SAMPLES ((int64_t)1 << 34) /* channels x samples */
#define MAX_READ_TILES ((size_t)1 << 24)
#define MAX_ROUNDS 16

/* ---- decoding claimed tiles ---- */

/* A tile this read claimed and must publish or fail. */
typedef struct claim {
  size_t key; /* index into the read's keys */
  mef3__tile *t;
  int done;
} claim;

/* Decode claims in process, with a leased reader; after a failure the
 * claims left fail too (their reader is gone, or memory or descriptors
 * ran out once more after giving some back). */
static int decode_local(mef3_files *fm, mfile *f, const mef3__tcache_key *keys,
                        claim *cl, size_t n) {
  mef3_reader *r = NULL;
  int rc = 0, shed = 0;
  for (size_t i = 0; i < n; i++) {
    if (cl[i].done)
      continue;
    const mef3__tcache_key *k = &keys[cl[i].key];
    for (;;) {
      if (!rc && !r)
        rc = mef3__mfile_lease(f, &r);
      if (!rc)
        rc = mef3__lane_decode_tile(fm, r, f, k->ch, k->idx, cl[i].t, 0);
      if (rc != MEF3_ELIMIT || shed)
        break;
      shed = 1;
      mef3__files_shed_idle_readers(fm);
      rc = 0;
    }
    cl[i].done = 1;
    if (rc) {
      mef3__tcache_fail(&fm->cache, cl[i].t);
      continue;
    }
    atomic_fetch_add(&fm->local_tiles, 1);
  }
  if (r)
    mef3__mfile_release(f, r);
  return rc;
}

static int same_group(const mfile *f, const mef3__tcache_key *a,
                      const mef3__tcache_key *b) {
  return a->idx == b->idx && !mef3__fchan_cmp(&f->ch[a->ch], &f->ch[b->ch]);
}

typedef struct sort_ctx {
  const mfile *f;
  const mef3__tcache_key *keys;
  const claim *cl;
} sort_ctx;

/* Claims by tile, then by the channel properties that make one window read
 * give the tiles of a group, then by channel. */
static int cmp_claims(const void *a, const void *b, void *ctx) {
  const sort_ctx *sc = ctx;
  const mef3__tcache_key *x = &sc->keys[sc->cl[*(const size_t *)a].key];
  const mef3__tcache_key *y = &sc->keys[sc->cl[*(const size_t *)b].key];
  if (x->idx != y->idx)
    return x->idx < y->idx ? -1 : 1;
  int c = mef3__fchan_cmp(&sc->f->ch[x->ch], &sc->f->ch[y->ch]);
  if (c)
    return c;
  return x->ch < y->ch ? -1 : x->ch > y->ch;
}

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

typedef struct req {
  mef3_future *fut;
  size_t first; /* into the batch arrays */
  size_t count;
} req;

/* The batch arrays of a request: claims ord[0..m) go to [at, at + m). */
typedef struct batches {
  size_t *cl;     /* claim of each */
  size_t *ch;     /* its channel */
  int64_t *idx;   /* its tile */
  mef3__tile **t; /* its tile in the cache */
} batches;

static void batch_fill(batches *b, size_t at, const size_t *ord, size_t m,
                       const mef3__tcache_key *keys, const claim *cl) {
  for (size_t k = 0; k < m; k++) {
    const claim *x = &cl[ord[k]];
    b->cl[at + k] = ord[k];
    b->ch[at + k] = keys[x->key].ch;
    b->idx[at + k] = keys[x->key].idx;
    b->t[at + k] = x->t;
  }
}

/* Submit claims ord[0..m) as one request into slot `at` of the batches;
 * 1 when submitted (rq[*nr] set), 0 when left to decode_local. */
static int submit(mef3_files *fm, mef3_pool *pool, mfile *f, batches *b,
                  size_t at, const size_t *ord, size_t m,
                  const mef3__tcache_key *keys, const claim *cl, req *rq,
                  size_t *nr) {
  batch_fill(b, at, ord, m, keys, cl);
  mef3_future *fut = NULL;
  if (mef3__lane_submit(pool, f, m, b->ch + at, b->idx + at, &fut)) {
    mef3__files_log(fm, MEF3_LOG_ERROR,
                    "%s: channel %s: foreground pool submit failed (%s); "
                    "decoding in process",
                    f->real, f->ch[b->ch[at]].name, mef3_error_last()->message);
    return 0;
  }
  rq[(*nr)++] = (req){fut, at, m};
  return 1;
}

/* Decode claims in the foreground pool.  Tile b of channels that share
 * start, rate and tile size is one window read (lane.c), split among the
 * workers; the other tiles go as tiles requests of one channel, at most
 * ceil(n / workers) each; every request under REQ_MAX_BYTES.  Whatever
 * fails here is left for decode_local. */
static void decode_pool(mef3_files *fm, mef3_pool *pool, mfile *f,
                        const mef3__tcache_key *keys, claim *cl, size_t n) {
  size_t W = (size_t)(fm->fg_workers > 0 ? fm->fg_workers : 1);
  size_t *ord = mef3__malloc(n * sizeof *ord);
  size_t *single = mef3__malloc(n * sizeof *single);
  req *rq = mef3__calloc(n, sizeof *rq);
  batches b = {mef3__malloc(n * sizeof *b.cl), mef3__malloc(n * sizeof *b.ch),
               mef3__malloc(n * sizeof *b.idx), mef3__malloc(n * sizeof *b.t)};
  if (!ord || !single || !rq || !b.cl || !b.ch || !b.idx || !b.t)
    goto out; /* all left to decode_local */
  for (size_t i = 0; i < n; i++)
    ord[i] = i;
  sort_ctx sc = {f, keys, cl};
  qsort_r(ord, n, sizeof *ord, cmp_claims, &sc);
  size_t nr = 0, n_single = 0, used = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && same_group(f, &keys[cl[ord[i]].key], &keys[cl[ord[j]].key]))
      j++;
    if (j - i == 1) {
      single[n_single++] = ord[i];
      i = j;
      continue;
    }
    /* a request per worker at least */
    const fchan *c = &f->ch[keys[cl[ord[i]].key].ch];
    size_t per = (j - i + W - 1) / W, cap = mef3__req_max_tiles(c->S);
    if (per > cap)
      per = cap;
    for (size_t a = i; a < j; a += per) {
      size_t m = j - a < per ? j - a : per;
      if (submit(fm, pool, f, &b, used, ord + a, m, keys, cl, rq, &nr))
        used += m;
    }
    i = j;
  }
  /* The single tiles by channel, then tile: the claims' own order. */
  qsort(single, n_single, sizeof *single, cmp_size);
  size_t per_single = (n_single + W - 1) / W;
  for (size_t i = 0; i < n_single;) {
    uint32_t ch = keys[cl[single[i]].key].ch;
    size_t per = per_single, cap = mef3__req_max_tiles(f->ch[ch].S);
    if (per > cap)
      per = cap;
    size_t j = i;
    while (j < n_single && j - i < per && keys[cl[single[j]].key].ch == ch)
      j++;
    if (submit(fm, pool, f, &b, used, single + i, j - i, keys, cl, rq, &nr))
      used += j - i;
    i = j;
  }
  for (size_t q = 0; q < nr; q++) {
    mef3_future_wait(rq[q].fut, -1);
    size_t at = rq[q].first, failed = 0;
    if (mef3__lane_publish(fm, f, rq[q].fut, rq[q].count, b.ch + at, b.t + at,
                           0, &failed)) {
      mef3__files_log(fm, MEF3_LOG_ERROR,
                      "%s: foreground pool decode failed (%s); decoding "
                      "in process",
                      f->real, mef3_error_last()->message);
    } else {
      /* (a tile that failed for memory is claimed again by the read) */
      for (size_t k = 0; k < rq[q].count; k++)
        cl[b.cl[at + k]].done = 1;
      atomic_fetch_add(&fm->pool_tiles, rq[q].count - failed);
    }
    mef3_future_free(rq[q].fut);
  }
out:
  mef3__free(ord);
  mef3__free(single);
  mef3__free(rq);
  mef3__free(b.cl);
  mef3__free(b.ch);
  mef3__free(b.idx);
  mef3__free(b.t);
}

/* ---- reads ---- */

/* A tile a read found being loaded by a prefetch request. */
typedef struct cand {
  size_t k;
  mef3__tile *t;
  mef3__tile_owner *o; /* with a reference from the cache */
} cand;

static int cmp_cand_owner(const void *a, const void *b) {
  const cand *x = a, *y = b;
  uint64_t ex = atomic_load(&((pfreq *)x->o)->tiles_end);
  uint64_t ey = atomic_load(&((pfreq *)y->o)->tiles_end);
  if (ex != ey)
    return ex < ey ? -1 : 1;
  return x->o < y->o ? -1 : x->o > y->o;
}

/*
 * Which prefetch requests to take back.  The lane works through its
 * requests in order; `own` tiles are this read's already.  Starting from
 * "take everything back", keep the earliest requests as long as the
 * prefetch lane (P workers) is expected to finish them no later than the
 * read's lane (F workers) finishes what is left to it, counting in tiles.
 * Sets steal[i] for every candidate (sorted by request).
 */
static void plan_steals(mef3_files *fm, const cand *cd, size_t n, size_t own,
                        uint8_t *steal) {
  uint64_t P = (uint64_t)(fm->o.use_process_pool ? fm->pf_workers
                                                 : fm->o.prefetch_threads);
  uint64_t F = (uint64_t)(fm->o.use_process_pool ? fm->fg_workers : 1);
  if (P < 1)
    P = 1;
  if (F < 1)
    F = 1;
  uint64_t done = atomic_load(&fm->pf_completed);
  uint64_t fg = own + n;
  int keeping = 1;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && cd[j].o == cd[i].o)
      j++;
    uint64_t end = atomic_load(&((pfreq *)cd[i].o)->tiles_end);
    uint64_t mine = j - i;
    uint64_t ahead = end == UINT64_MAX ? UINT64_MAX
                     : end > done      ? end - done
                                       : 0;
    if (keeping && ahead != UINT64_MAX && ahead * F <= (fg - mine) * P)
      fg -= mine;
    else
      keeping = 0;
    for (size_t k = i; k < j; k++)
      steal[k] = !keeping;
    i = j;
  }
}

/*
 * Get every key READY and pinned into `tiles`.  Counts each key once: a
 * hit when found READY at first, a miss when this read decoded it, a wait
 * otherwise.  On failure nothing stays pinned.
 */
static int load_tiles(mef3_files *fm, mfile *f, const mef3__tcache_key *keys,
                      size_t nk, mef3__tile **tiles, uint64_t counts[3]) {
  size_t *pend = mef3__malloc(nk * sizeof *pend);
  mef3__tcache_key *sub = mef3__malloc(nk * sizeof *sub);
  mef3__tile **got = mef3__malloc(nk * sizeof *got);
  mef3__acq *acq = mef3__malloc(nk * sizeof *acq);
  mef3__tile_owner **own = mef3__malloc(nk * sizeof *own);
  claim *cl = mef3__malloc(nk * sizeof *cl);
  size_t *wait = mef3__malloc(nk * sizeof *wait);
  cand *cd = mef3__malloc(nk * sizeof *cd);
  uint8_t *claimed_once = mef3__calloc(nk, 1), *first = mef3__calloc(nk, 1);
  uint8_t *stl = mef3__malloc(nk);
  int rc = 0;
  if (!pend || !sub || !got || !acq || !own || !cl || !wait || !cd ||
      !claimed_once || !first || !stl) {
    rc = mef3__error(MEF3_ENOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < nk; i++) {
    pend[i] = i;
    tiles[i] = NULL;
  }
  size_t np = nk;
  for (int round = 0; np > 0 && !rc; round++) {
    if (round == MAX_ROUNDS) {
      rc = mef3__error(MEF3_EIO,
                       "%s: tiles could not be loaded after %d "
                       "attempts",
                       f->real, MAX_ROUNDS);
      break;
    }
    size_t ncl = 0, nw = 0, nsteal = 0;
    /* Acquire the pending keys; tiles whose prefetch is still queued are
     * taken back and acquired again at once. */
    for (int pass = 0; pass < 2 && np > 0 && !rc; pass++) {
      for (size_t i = 0; i < np; i++)
        sub[i] = keys[pend[i]];
      rc = mef3__tcache_acquire(&fm->cache, sub, np, NULL, got, acq,
                                pass == 0 ? own : NULL, 0);
      if (rc)
        break;
      size_t ncd = 0;
      for (size_t i = 0; i < np; i++) {
        size_t k = pend[i];
        if (round == 0 && pass == 0 && acq[i] == MEF3__ACQ_HIT)
          first[k] = 1;
        if (acq[i] == MEF3__ACQ_HIT) {
          tiles[k] = got[i];
        } else if (acq[i] == MEF3__ACQ_CLAIMED) {
          tiles[k] = got[i];
          cl[ncl++] = (claim){k, got[i], 0};
          claimed_once[k] = 1;
        } else if (pass == 0 && own[i]) {
          cd[ncd++] = (cand){k, got[i], own[i]};
        } else {
          tiles[k] = got[i];
          wait[nw++] = k;
        }
      }
      /* Tiles of prefetch requests: wait for some, take back others. */
      nsteal = 0;
      if (ncd)
        qsort(cd, ncd, sizeof *cd, cmp_cand_owner);
      plan_steals(fm, cd, ncd, ncl, stl);
      for (size_t i = 0; i < ncd;) {
        size_t j = i;
        while (j < ncd && cd[j].o == cd[i].o)
          j++;
        /* the cache gave a reference per tile; a steal drops one */
        int taken = stl[i] && mef3__prefetch_steal(fm, cd[i].o) == 0;
        for (size_t x = i + (stl[i] ? 1 : 0); x < j; x++)
          mef3__prefetch_owner_unref(cd[x].o);
        for (size_t x = i; x < j; x++) {
          if (taken) { /* canceled: the tile failed; claim it next pass */
            mef3__tcache_unpin(&fm->cache, cd[x].t);
            pend[nsteal++] = cd[x].k;
          } else {
            tiles[cd[x].k] = cd[x].t;
            wait[nw++] = cd[x].k;
          }
        }
        i = j;
      }
      np = nsteal;
    }
    if (rc)
      break;
    /* Before decoding, the file must still be where it was opened (it may
     * have been replaced by a link leading out since: paths.c). */
    if (ncl && (rc = mef3__lane_check(f))) {
      for (size_t i = 0; i < ncl; i++)
        mef3__tcache_fail(&fm->cache, cl[i].t);
      break;
    }
    /* Decode our claims: in the foreground pool when there are enough. */
    if (ncl) {
      mef3_pool *pool =
          (int)ncl >= fm->o.min_parallel_tiles ? mef3__files_pool(fm, 0) : NULL;
      if (pool)
        decode_pool(fm, pool, f, keys, cl, ncl);
      rc = decode_local(fm, f, keys, cl, ncl);
      for (size_t i = 0; i < ncl; i++) {
        size_t k = cl[i].key;
        if (tiles[k]->state != MEF3__TILE_READY) { /* failed (memory) */
          mef3__tcache_unpin(&fm->cache, tiles[k]);
          tiles[k] = NULL;
          pend[np++] = k;
        }
      }
    }
    /* Then wait for the tiles others load. */
    for (size_t i = 0; i < nw; i++) {
      size_t k = wait[i];
      if (mef3__tcache_wait(&fm->cache, tiles[k]) != MEF3__TILE_READY) {
        mef3__tcache_unpin(&fm->cache, tiles[k]);
        tiles[k] = NULL;
        pend[np++] = k; /* its loader gave up: claim it again */
      }
    }
  }
out:
  if (rc) {
    for (size_t i = 0; i < nk; i++) {
      mef3__tcache_unpin(&fm->cache, tiles[i]);
      tiles[i] = NULL;
    }
  } else {
    for (size_t i = 0; i < nk; i++) {
      if (first[i])
        counts[0]++;
      else if (claimed_once[i])
        counts[1]++;
      else
        counts[2]++;
    }
  }
  mef3__free(pend);
  mef3__free(sub);
  mef3__free(got);
  mef3__free(acq);
  mef3__free(own);
  mef3__free(cl);
  mef3__free(wait);
  mef3__free(cd);
  mef3__free(stl);
  mef3__free(claimed_once);
  mef3__free(first);
  return rc;
}

static void nan_fill(float *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    p[i] = NAN;
}

/* Cut row [i1, i1 + n) of a channel out of its pinned tiles. */
static void cut_row(float *row, const mef3__span *sp, int64_t n, int64_t S,
                    mef3__tile *const *tiles) {
  if (!sp->has_data) {
    nan_fill(row, (size_t)n);
    return;
  }
  for (int64_t b = sp->b1; b <= sp->b2; b++) {
    int64_t lo = b * S > sp->i1 ? b * S : sp->i1;
    int64_t hi = (b + 1) * S < sp->i1 + n ? (b + 1) * S : sp->i1 + n;
    if (hi <= lo)
      continue;
    float *dst = row + (lo - sp->i1);
    if (b < 0) {
      nan_fill(dst, (size_t)(hi - lo));
      continue;
    }
    const mef3__tile *t =
        tiles[sp->key0 + (size_t)(b - (sp->b1 > 0 ? sp->b1 : 0))];
    memcpy(dst, t->data + (lo - b * S), (size_t)(hi - lo) * sizeof *dst);
  }
}

/*
 * The read behind mef3_files_read (dst NULL: a new signal in *out) and
 * mef3_files_read_into (the rows go to dst, `cap` floats; *out untouched).
 */
static int read_window(mef3_files *fm, const char *path, const char *token,
                       const char *const *channels, size_t n_channels,
                       int64_t start_uutc, int64_t end_uutc, float *dst,
                       size_t cap, size_t *n_out, mef3_signal **out) {
  mef3__chplan plan;
  mfile *f;
  int rc = mef3__chplan_open(&plan, &f, fm, path, token, channels, n_channels,
                             start_uutc, end_uutc);
  if (rc)
    return rc;
  mef3__span *sp = NULL;
  mef3__tcache_key *keys = NULL;
  mef3__tile **tiles = NULL;
  mef3_signal *sig = NULL;
  size_t nk = 0;
  const size_t nrow = plan.nrow, nsp = plan.nu;
  const size_t *row_u = plan.row;
  const double fs = plan.fs;
  const int64_t n = plan.n; /* samples per channel */
  if (!(sp = mef3__calloc(nsp, sizeof *sp))) {
    rc = mef3__error(MEF3_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t u = 0; u < nsp; u++)
    sp[u].ch = plan.ch[u];
  if (n > MAX_READ_SAMPLES / (int64_t)nrow) {
    rc = mef3__error(MEF3_ELIMIT,
                     "%s: %zu channels x %lld samples is too "
                     "large a read",
                     path, nrow, (long long)n);
    goto done;
  }
  if (dst && (uint64_t)n * nrow > cap) {
    rc = mef3__error(MEF3_ELIMIT,
                     "%s: %zu channels x %lld samples do not fit the "
                     "%zu floats given",
                     path, nrow, (long long)n, cap);
    goto done;
  }
  /* Tiles per mef3__span. */
  for (size_t u = 0; u < nsp; u++) {
    const fchan *c = &f->ch[sp[u].ch];
    int64_t d;
    sp[u].has_data = c->cs != MEF3_UUTC_NO_ENTRY;
    if (!sp[u].has_data)
      continue;
    double i1 = 0;
    if (__builtin_sub_overflow(start_uutc, c->cs, &d) ||
        !(fabs(i1 = (double)mef3__files_slot(start_uutc, c->cs, c->fs)) <
          4e18)) {
      sp[u].has_data = 0; /* absurdly far from the recording: NaN */
      continue;
    }
    sp[u].i1 = (int64_t)i1;
    sp[u].b1 = mef3__floordiv(sp[u].i1, c->S);
    sp[u].b2 = mef3__floordiv(sp[u].i1 + n - 1, c->S);
    sp[u].key0 = nk;
    if (sp[u].b2 >= 0) {
      int64_t from = sp[u].b1 > 0 ? sp[u].b1 : 0;
      if ((uint64_t)(sp[u].b2 - from + 1) > MAX_READ_TILES - nk) {
        rc = mef3__error(MEF3_ELIMIT,
                         "%s: the read needs more than %zu "
                         "tiles",
                         path, MAX_READ_TILES);
        goto done;
      }
      nk += (size_t)(sp[u].b2 - from + 1);
    }
  }
  keys = mef3__malloc((nk ? nk : 1) * sizeof *keys);
  tiles = mef3__calloc(nk ? nk : 1, sizeof *tiles);
  if (!keys || !tiles) {
    rc = mef3__error(MEF3_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t u = 0, k = 0; u < nsp; u++) {
    if (!sp[u].has_data)
      continue;
    for (int64_t b = sp[u].b1 > 0 ? sp[u].b1 : 0; b <= sp[u].b2; b++)
      keys[k++] = (mef3__tcache_key){f->id, (uint32_t)sp[u].ch, b};
  }
  uint64_t counts[3] = {0, 0, 0};
  if (nk && (rc = load_tiles(fm, f, keys, nk, tiles, counts)) != 0)
    goto done;
  mef3__tcache_count(&fm->cache, counts[0], counts[1], counts[2]);

  /* Cut the rows, no lock held: the tiles are pinned. */
  float *data = dst;
  if (!dst) {
    sig = mef3__calloc(1, sizeof *sig);
    if (sig) {
      sig->channel_names = mef3__calloc(nrow, sizeof *sig->channel_names);
      sig->data = mef3__malloc((size_t)n * nrow * sizeof *sig->data);
    }
    if (!sig || !sig->channel_names || !sig->data) {
      rc = mef3__error(MEF3_ENOMEM, "out of memory for %zu x %lld samples",
                       nrow, (long long)n);
      goto done;
    }
    sig->n_channels = nrow;
    sig->n_samples = (size_t)n;
    sig->fs = fs;
    sig->start_uutc = start_uutc;
    sig->end_uutc = end_uutc;
    data = sig->data;
  }
  for (size_t r = 0; r < nrow; r++) {
    size_t u = row_u[r];
    float *row = data + r * (size_t)n;
    size_t r0 = 0;
    while (row_u[r0] != u)
      r0++;
    if (r0 < r)
      memcpy(row, data + r0 * (size_t)n, (size_t)n * sizeof *row);
    else
      cut_row(row, &sp[u], n, f->ch[sp[u].ch].S, tiles);
    if (sig && !(sig->channel_names[r] = mef3__strdup(f->ch[sp[u].ch].name))) {
      rc = mef3__error(MEF3_ENOMEM, "out of memory");
      goto done;
    }
  }
  for (size_t k = 0; k < nk; k++) {
    mef3__tcache_unpin(&fm->cache, tiles[k]);
    tiles[k] = NULL;
  }
  atomic_fetch_add(&fm->reads, 1);
  mef3__files_log(fm, MEF3_LOG_DEBUG,
                  "read %s [%lld, %lld) %zu channels: %llu tiles cached, "
                  "%llu decoded, %llu waited for",
                  f->given, (long long)start_uutc, (long long)end_uutc, nrow,
                  (unsigned long long)counts[0], (unsigned long long)counts[1],
                  (unsigned long long)counts[2]);
  mef3__prefetch_around(fm, f, sp, nsp, start_uutc, end_uutc);

done:
  if (tiles)
    for (size_t k = 0; k < nk; k++)
      mef3__tcache_unpin(&fm->cache, tiles[k]);
  if (rc) {
    mef3_signal_free(sig);
    sig = NULL;
  }
  mef3__free(tiles);
  mef3__free(keys);
  mef3__free(sp);
  if (!rc && dst)
    *n_out = (size_t)plan.n;
  mef3__chplan_free(&plan);
  mef3__mfile_unref(f);
  if (!dst)
    *out = sig;
  return rc;
}

int mef3_files_read(mef3_signal **out, mef3_files *fm, const char *path,
                    const char *const *channels, size_t n_channels,
                    int64_t start_uutc, int64_t end_uutc) {
  return mef3_files_read_as(out, fm, path, NULL, channels, n_channels,
                            start_uutc, end_uutc);
}

int mef3_files_read_as(mef3_signal **out, mef3_files *fm, const char *path,
                       const char *token, const char *const *channels,
                       size_t n_channels, int64_t start_uutc,
                       int64_t end_uutc) {
  if (!out)
    return mef3__error(MEF3_EINVAL, "no output pointer");
  *out = NULL;
  return read_window(fm, path, token, channels, n_channels, start_uutc,
                     end_uutc, NULL, 0, NULL, out);
}

int mef3_files_read_into(size_t *n_samples, mef3_files *fm, const char *path,
                         const char *const *channels, size_t n_channels,
                         int64_t start_uutc, int64_t end_uutc, float *data,
                         size_t cap) {
  return mef3_files_read_into_as(n_samples, fm, path, NULL, channels,
                                 n_channels, start_uutc, end_uutc, data, cap);
}

int mef3_files_read_into_as(size_t *n_samples, mef3_files *fm, const char *path,
                            const char *token, const char *const *channels,
                            size_t n_channels, int64_t start_uutc,
                            int64_t end_uutc, float *data, size_t cap) {
  if (!data || !n_samples)
    return mef3__error(MEF3_EINVAL, "no output buffer");
  *n_samples = 0;
  return read_window(fm, path, token, channels, n_channels, start_uutc,
                     end_uutc, data, cap, n_samples, NULL);
}

void mef3_signal_free(mef3_signal *s) {
  if (!s)
    return;
  if (s->channel_names)
    for (size_t i = 0; i < s->n_channels; i++)
      mef3__free(s->channel_names[i]);
  mef3__free(s->channel_names);
  mef3__free(s->data);
  mef3__free(s);
}

const char *mef3_files_root(const mef3_files *fm) {
  return fm ? fm->root : NULL;
}

/* ---- hooks ---- */

int mef3__files_pin_tiles(mef3_files *fm, mfile *f,
                          const mef3__tcache_key *keys, size_t nk,
                          mef3__tile **tiles) {
  uint64_t counts[3] = {0, 0, 0};
  int rc = load_tiles(fm, f, keys, nk, tiles, counts);
  if (rc) {
    for (size_t k = 0; k < nk; k++) {
      mef3__tcache_unpin(&fm->cache, tiles[k]);
      tiles[k] = NULL;
    }
    return rc;
  }
  mef3__tcache_count(&fm->cache, counts[0], counts[1], counts[2]);
  return 0;
}

int mef3__files_tile_cached(mef3_files *fm, const char *path,
                            const char *channel, int64_t tile) {
  mfile *f = mef3__files_lookup(fm, path, NULL);
  if (!f)
    return 0;
  int yes = 0;
  for (size_t i = 0; i < f->n_ch; i++)
    if (!strcmp(f->ch[i].name, channel)) {
      mef3__tcache_key k = {f->id, (uint32_t)i, tile};
      yes = mef3__tcache_contains(&fm->cache, &k);
    }
  mef3__mfile_unref(f);
  return yes;
}
