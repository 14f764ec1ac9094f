/*
 * writer/writer_samples.c - sample intake: the time grid of each channel,
 * assembling blocks, encoding them and appending them to the segment.
 *
 * Each channel keeps one partial block in memory (`pend`, block_samples
 * long) and a time grid: a contiguous run starts at `anchor` µUTC, and
 * slot k of the run stands for anchor + round(k * 1e6 / fs).  Stored
 * samples and NaN (no sample) both take a slot, so a run of NaN leaves
 * the grid in place and the next stored sample starts a new block, flagged
 * as a discontinuity, at its own slot's time.  An explicit start time
 * that is not the next slot's time moves the anchor.  Block start times
 * are always computed from the anchor, never accumulated, so they carry
 * no drift.
 *
 * A completed block is encoded into the writer's block buffer and written
 * at once: the block to .tdat, then its entry to .tidx, so that the index
 * never names bytes that are not on disk (with io_buffer_bytes, both are
 * collected and the .tdat buffer is always written before the .tidx
 * buffer).  The segment's running statistics (counts, extremes,
 * contiguous runs) feed the metadata written at checkpoints.
 *
 * Place in the writer: it opens segments and checkpoints them
 * (writer_segment.c) and stores times through writer_time.c; only
 * writer_session.c calls into it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "writer/writer_impl.h"
#include "util/alloc.h"

static int64_t slot_time(const wr_channel *c, int64_t k) {
  return c->anchor + (int64_t)llround((double)k * 1e6 / c->fs);
}

/* Room in the writer's block buffer for a block of `n` samples. */
static int reserve_block(mef3_writer *w, uint32_t n) {
  size_t need = mef3_red_max_block_bytes(n);
  if (need <= w->blk_cap)
    return 0;
  uint8_t *nb = mef3__realloc(w->blk, need);
  if (!nb)
    return mef3__error(MEF3_ENOMEM, "out of memory");
  w->blk = nb;
  w->blk_cap = need;
  return 0;
}

/* Encode the pending samples as one block into w->blk (room reserved)
 * and make its index entry. */
static int encode_block(mef3_writer *w, wr_channel *c, int64_t on_disk,
                        uint8_t flags, mef3_red_enc_info *info,
                        uint8_t entry[MEF3_INDEX_BYTES]) {
  uint32_t n = c->n_pend;
  int rc = mef3_red_encode(w->enc, w->blk, w->blk_cap, info, c->pend, n,
                           on_disk, flags, &w->keys);
  if (rc)
    return rc;
  wr_segment *g = &c->seg;
  mef3_index_entry e;
  e.file_offset = (int64_t)(MEF3_UH_BYTES + g->tdat.body_bytes);
  e.start_time = on_disk;
  e.start_sample = g->n_samples; /* within the segment, as pymef writes */
  e.number_of_samples = n;
  e.block_bytes = info->block_bytes;
  e.maximum_sample_value = info->maximum;
  e.minimum_sample_value = info->minimum;
  e.flags = flags;
  mef3_index_write(entry, &e);
  return 0;
}

/* Append the block in w->blk to the .tdat and its entry to the .tidx,
 * with the header fields that go out with the header written after it. */
static int append_block(mef3_writer *w, wr_channel *c, int64_t on_disk,
                        int64_t t1, const mef3_red_enc_info *info,
                        const uint8_t entry[MEF3_INDEX_BYTES]) {
  wr_segment *g = &c->seg;
  uint32_t n = c->n_pend;
  int64_t first = g->n_blocks ? g->tdat.uh.start_time : on_disk;
  int64_t last = mef3__writer_disk(w, t1);
  if (g->n_blocks && g->tdat.uh.end_time < last)
    last = g->tdat.uh.end_time; /* on disk, later is more negative */
  g->tdat.uh.start_time = g->tidx.uh.start_time = first;
  g->tdat.uh.end_time = g->tidx.uh.end_time = last;
  if (n > g->tdat.uh.maximum_entry_size)
    g->tdat.uh.maximum_entry_size = n;
  int rc = mef3__wfile_append(&g->tdat, w->blk, info->block_bytes, 1);
  /* The index reaches the disk only after the blocks it names. */
  if (!rc && mef3__wfile_would_write(&g->tidx, MEF3_INDEX_BYTES))
    rc = mef3__wfile_write_buffer(&g->tdat);
  if (!rc)
    rc = mef3__wfile_append(&g->tidx, entry, MEF3_INDEX_BYTES, 1);
  if (!rc && w->opts.sync_mode == MEF3_SYNC_BLOCK) {
    rc = mef3__wfile_sync(&g->tdat);
    if (!rc)
      rc = mef3__wfile_sync(&g->tidx);
  }
  return rc;
}

/* The segment's running statistics (the metadata's), after a block of
 * the pending samples over [t0, t1) went out. */
static void count_block(wr_segment *g, uint32_t n, int64_t t0, int64_t t1,
                        int disc, const mef3_red_enc_info *info) {
  if (g->n_blocks == 0) {
    g->start_uutc = t0;
    g->min_raw = info->minimum;
    g->max_raw = info->maximum;
  } else {
    if (info->minimum < g->min_raw)
      g->min_raw = info->minimum;
    if (info->maximum > g->max_raw)
      g->max_raw = info->maximum;
  }
  if (t1 > g->end_uutc || g->n_blocks == 0)
    g->end_uutc = t1;
  g->n_blocks++;
  g->n_samples += n;
  if (info->block_bytes > g->max_block_bytes)
    g->max_block_bytes = info->block_bytes;
  if (n > g->max_block_samples)
    g->max_block_samples = n;
  if (info->difference_bytes > g->max_difference_bytes)
    g->max_difference_bytes = info->difference_bytes;
  if (disc) {
    g->n_discontinuities++;
    g->run_blocks = g->run_bytes = g->run_samples = 0;
  }
  g->run_blocks++;
  g->run_bytes += info->block_bytes;
  g->run_samples += n;
  if (g->run_blocks > g->max_run_blocks)
    g->max_run_blocks = g->run_blocks;
  if (g->run_bytes > g->max_run_bytes)
    g->max_run_bytes = g->run_bytes;
  if (g->run_samples > g->max_run_samples)
    g->max_run_samples = g->run_samples;
}

int mef3__channel_flush(mef3_writer *w, wr_channel *c) {
  if (c->n_pend == 0)
    return 0;
  if (c->failed)
    return c->failed;
  int rc = 0;
  if (!c->seg_open || c->new_segment_pending) {
    rc = mef3__segment_open_next(w, c);
    if (rc)
      return c->failed = rc;
  }
  wr_segment *g = &c->seg;
  uint32_t n = c->n_pend;
  int64_t t0 = slot_time(c, c->pend_k);
  int64_t t1 = slot_time(c, c->pend_k + n);
  int64_t on_disk;
  rc = mef3__writer_disk_time(w, t0, &on_disk); /* valid: see begin_write */
  if (rc)
    return c->failed = rc;
  rc = reserve_block(w, n); /* not sticky: nothing was written */
  if (rc)
    return rc;
  int disc = c->disc_next || g->n_blocks == 0;
  uint8_t flags = disc ? MEF3_RED_DISCONTINUITY : 0;
  if (c->data_enc == 1)
    flags |= MEF3_RED_LEVEL_1;
  else if (c->data_enc == 2)
    flags |= MEF3_RED_LEVEL_2;
  mef3_red_enc_info info;
  uint8_t entry[MEF3_INDEX_BYTES];
  rc = encode_block(w, c, on_disk, flags, &info, entry);
  if (!rc)
    rc = append_block(w, c, on_disk, t1, &info, entry);
  if (rc)
    return c->failed = rc;
  count_block(g, n, t0, t1, disc, &info);

  c->total_samples += n;
  c->n_pend = 0;
  c->disc_next = 0;
  w->stats.samples += n;
  w->stats.blocks++;
  w->stats.bytes += info.block_bytes;
  if (++g->since_checkpoint >= w->opts.checkpoint_blocks) {
    rc = mef3__segment_checkpoint(w, c);
    if (rc)
      return c->failed = rc;
  }
  return 0;
}

/* Settle where the samples of a write begin. */
static int begin_write(mef3_writer *w, wr_channel *c, int64_t start) {
  int urc = c->failed ? 0 : mef3__channel_use(w, c);
  if (urc)
    return urc;
  if (c->failed)
    return mef3__error(c->failed, "%s: channel %s failed earlier", w->path,
                       c->name);
  if (start == MEF3_UUTC_NO_ENTRY) {
    if (c->started)
      return 0;
    if (c->start_opt == MEF3_UUTC_NO_ENTRY)
      return mef3__error(MEF3_EINVAL,
                         "%s: channel %s has no start time: the first "
                         "write must give one",
                         w->path, c->name);
    start = c->start_opt;
  }
  /* Every later time is larger, so checking the run's start is enough
   * (and settles an automatic recording time offset). */
  int64_t on_disk;
  int rc = mef3__writer_disk_time(w, start, &on_disk);
  if (rc)
    return rc;
  if (c->started) {
    int64_t expect = slot_time(c, c->k);
    if (start == expect)
      return 0;
    if (start < expect)
      return mef3__error(MEF3_EINVAL,
                         "%s: channel %s: write at %lld starts before the "
                         "end of the previous one (%lld)",
                         w->path, c->name, (long long)start, (long long)expect);
    rc = mef3__channel_flush(w, c);
    if (rc)
      return rc;
  }
  c->anchor = start;
  c->k = 0;
  c->started = 1;
  c->disc_next = 1;
  return 0;
}

static int check_channel(mef3_writer *w, size_t ch, const void *p, size_t n) {
  if (ch >= w->n_ch)
    return mef3__error(MEF3_EINVAL, "%s: no channel %zu", w->path, ch);
  if (n && !p)
    return mef3__error(MEF3_EINVAL, "%s: no samples given", w->path);
  return 0;
}

int mef3_writer_write_i32(mef3_writer *w, size_t ch, int64_t start_uutc,
                          const int32_t *x, size_t n) {
  int rc = check_channel(w, ch, x, n);
  if (rc)
    return rc;
  wr_channel *c = w->ch[ch];
  rc = begin_write(w, c, start_uutc);
  if (rc)
    return rc;
  uint32_t bs = c->block_samples;
  while (n) {
    if (c->n_pend == 0)
      c->pend_k = c->k;
    size_t take = bs - c->n_pend;
    if (take > n)
      take = n;
    memcpy(c->pend + c->n_pend, x, take * sizeof *x);
    c->n_pend += (uint32_t)take;
    c->k += (int64_t)take;
    x += take;
    n -= take;
    if (c->n_pend == bs && (rc = mef3__channel_flush(w, c)) != 0)
      return rc;
  }
  return 0;
}

/* value / ufact to counts: nearest, halves away from zero, clamped to the
 * non-sentinel range; infinities to the sentinels. */
static inline int32_t to_count(double v, double ufact) {
  if (isinf(v)) /* the reader maps the sentinels to +-inf directly */
    return v > 0 ? MEF3_RED_POS_INF : MEF3_RED_NEG_INF;
  double x = v / ufact;
  if (x >= 2147483646.0)
    return 2147483646;
  if (x <= -2147483646.0)
    return -2147483646;
  return (int32_t)round(x);
}

/* The float paths, one loop for both element types. */
#define WRITE_FLOAT_BODY(T)                                                    \
  int rc = check_channel(w, ch, x, n);                                         \
  if (rc)                                                                      \
    return rc;                                                                 \
  wr_channel *c = w->ch[ch];                                                   \
  rc = begin_write(w, c, start_uutc);                                          \
  if (rc)                                                                      \
    return rc;                                                                 \
  uint32_t bs = c->block_samples;                                              \
  double ufact = c->ufact;                                                     \
  for (size_t i = 0; i < n; i++) {                                             \
    T v = x[i];                                                                \
    if (isnan(v)) {                                                            \
      if (c->n_pend && (rc = mef3__channel_flush(w, c)) != 0)                  \
        return rc;                                                             \
      c->disc_next = 1;                                                        \
      c->k++;                                                                  \
      continue;                                                                \
    }                                                                          \
    if (c->n_pend == 0)                                                        \
      c->pend_k = c->k;                                                        \
    c->pend[c->n_pend++] = to_count((double)v, ufact);                         \
    c->k++;                                                                    \
    if (c->n_pend == bs && (rc = mef3__channel_flush(w, c)) != 0)              \
      return rc;                                                               \
  }                                                                            \
  return 0;

int mef3_writer_write_f64(mef3_writer *w, size_t ch, int64_t start_uutc,
                          const double *x, size_t n) {
  WRITE_FLOAT_BODY(double)
}

int mef3_writer_write_f32(mef3_writer *w, size_t ch, int64_t start_uutc,
                          const float *x, size_t n) {
  WRITE_FLOAT_BODY(float)
}
