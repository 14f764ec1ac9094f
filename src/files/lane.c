/*
 * files/lane.c - how either lane decodes claimed tiles and publishes them
 * to the cache: the one place for the foreground reads (read.c) and the
 * prefetch lane (prefetch.c).
 *
 * A batch is tile b of channels that share their start, rate and tile
 * size - one window read over the tile's time window, which holds
 * exactly S samples of each, so its rows are the tiles - or tiles of a
 * single channel, one tiles request.  In a pool a batch is submitted
 * (mef3__lane_submit) and its result published (mef3__lane_publish: the
 * shape checked, each row copied out of shared memory into a tile); in
 * process each tile is read with a leased reader and published
 * (mef3__lane_decode_tile; on failure the caller retries or fails it).
 * Before a batch is decoded either way, the file must still be where it
 * was opened (mef3__lane_check: with a data root, paths.c).
 *
 * Rules kept here and nowhere else:
 *   - strict: a read that fails (memory, a disk error) fails the tile
 *     rather than caching NaN for data that exists; damaged blocks are
 *     NaN either way (the reader's report);
 *   - memory: a foreground tile comes from the touched reserve (a user
 *     waits for it, tilemem.h), a prefetched one from the allocator, so
 *     that prefetch never drains the reserve the next read needs;
 *   - a tile published by prefetch is marked so (the cache counts it).
 * Any thread; no lock is held here except inside the cache.
 */
#include <string.h>

#include "files/files_impl.h"
#include "util/alloc.h"

int mef3__lane_check(const mfile *f) {
  return f->tree ? mef3__files_tree_check(f->tree) : 0;
}

/* A window read when the batch holds several channels. */
static int is_window(size_t n, const size_t *ch) {
  return n > 1 && ch[0] != ch[1];
}

static float *tile_buffer(mef3_files *fm, int64_t S, int prefetched) {
  return prefetched ? mef3__malloc((size_t)S * sizeof(float))
                    : mef3__tilemem_get(&fm->tmem, (size_t)S);
}

int mef3__lane_submit(mef3_pool *pool, const mfile *f, size_t n,
                      const size_t *ch, const int64_t *idx, mef3_future **out) {
  const fchan *c = &f->ch[ch[0]];
  if (!is_window(n, ch))
    return mef3_pool_submit_tiles(out, pool, f->pkey, c->name, idx, n, c->fs,
                                  c->cs, c->S);
  /* the rates go along, so the pool asks no worker for them */
  enum { STACK_NAMES = 64 };
  const char *stack[STACK_NAMES];
  double stack_fs[STACK_NAMES];
  const char **names =
      n <= STACK_NAMES ? stack : mef3__malloc(n * sizeof *names);
  double *fs = n <= STACK_NAMES ? stack_fs : mef3__malloc(n * sizeof *fs);
  int rc = 0;
  if (!names || !fs) {
    rc = mef3__error(MEF3_ENOMEM, "out of memory");
  } else {
    for (size_t i = 0; i < n; i++) {
      names[i] = f->ch[ch[i]].name;
      fs[i] = f->ch[ch[i]].fs;
    }
    int64_t t0, t1;
    mef3_tile_window(c->cs, c->fs, idx[0], c->S, &t0, &t1);
    rc = mef3_pool_read_window(out, pool, f->pkey, names, fs, n, t0, t1, 1);
  }
  if (names != stack)
    mef3__free(names);
  if (fs != stack_fs)
    mef3__free(fs);
  return rc;
}

int mef3__lane_publish(mef3_files *fm, const mfile *f, mef3_future *fut,
                       size_t n, const size_t *ch, mef3__tile *const *tiles,
                       int prefetched, size_t *n_failed) {
  *n_failed = 0;
  int st = mef3_future_status(fut);
  if (st)
    return mef3__error(st, "%s", mef3_future_message(fut));
  size_t rows = 0, cols = 0;
  const float *src = is_window(n, ch) ? mef3_future_window(&rows, &cols, fut)
                                      : mef3_future_tiles(&rows, &cols, fut);
  int64_t S = f->ch[ch[0]].S;
  if (!src || rows != n || cols != (size_t)S)
    return mef3__error(MEF3_ERROR,
                       "%s: channel %s: the pool's result is %zu x %zu, "
                       "not %zu x %lld",
                       f->real, f->ch[ch[0]].name, rows, cols, n, (long long)S);
  for (size_t i = 0; i < n; i++) {
    float *buf = tile_buffer(fm, S, prefetched);
    if (!buf) { /* that tile fails; a read claims it again */
      mef3__tcache_fail(&fm->cache, tiles[i]);
      (*n_failed)++;
      continue;
    }
    memcpy(buf, src + i * cols, (size_t)S * sizeof *buf);
    mef3__tcache_publish(&fm->cache, tiles[i], buf, (size_t)S, prefetched);
  }
  return 0;
}

int mef3__lane_decode_tile(mef3_files *fm, mef3_reader *r, const mfile *f,
                           size_t ch, int64_t idx, mef3__tile *t,
                           int prefetched) {
  const fchan *c = &f->ch[ch];
  float *buf = tile_buffer(fm, c->S, prefetched);
  int rc =
      buf ? mef3_reader_read_tile(NULL, r, ch, idx, c->fs, c->cs, c->S, buf, 1)
          : mef3__error(MEF3_ENOMEM,
                        "%s: channel %s: out of memory "
                        "for a tile",
                        f->real, c->name);
  if (rc) {
    mef3__free(buf);
    return rc; /* the tile is the caller's still: retried or failed */
  }
  mef3__tcache_publish(&fm->cache, t, buf, (size_t)c->S, prefetched);
  return 0;
}
