/*
 * reader/window.c - time-window and sample-range reads.
 *
 * A read finds the blocks it needs by binary search (over the running
 * maximum of block end times for time windows, over start samples for
 * sample ranges), reads each run of blocks that lie back to back in one
 * data file with a single pread, decodes block by block into a scratch
 * buffer owned by the reader, and converts into the caller's buffer.
 *
 * Placement rule for time windows (the rule of pymef and mef3io, proven
 * by ../shared/golden): n = round((t1 - t0) * fs / 1e6) slots, slot i at
 * t0 + i/fs; a block goes to the slot nearest its own start time (halves
 * away from zero), its samples to consecutive slots; a later block
 * overwrites an earlier one where they overlap; empty slots are NaN.
 *
 * A block the files spoil - its data file gone or too short, a failed
 * CRC, encryption beyond the password, not decoding to the samples its
 * index promises - is reported and left as NaN; the read goes on, and
 * since every block is placed by its own start, nothing after it shifts.
 * A failure of the system rather than of the files fails the read
 * instead (MEF3_EIO for a read error, MEF3_ELIMIT when no descriptor is
 * left to open a data file, MEF3_ENOMEM): NaN says "no such data", which
 * callers keep (the file manager caches it), and a transient fault must
 * not become a permanent hole.
 */
#include <errno.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reader/reader_impl.h"
#include "util/bytes.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/timemath.h"
#include "util/alloc.h"

#define GROUP_MAX_BYTES ((size_t)4 << 20)

int64_t mef3_window_samples(int64_t t0, int64_t t1, double fs) {
  return mef3_grid_samples(t0, t1, fs, MEF3_ROUND_AWAY);
}

static int64_t slot_of(int64_t t, int64_t t0, double fs) {
  return mef3_grid_slot(t, t0, fs, MEF3_ROUND_AWAY);
}

static void fill_nan(void *out, mef3_sample_type type, size_t pos, size_t n) {
  switch (type) {
  case MEF3_F32: {
    float *o = (float *)out + pos;
    for (size_t i = 0; i < n; i++)
      o[i] = NAN;
    break;
  }
  case MEF3_F64: {
    double *o = (double *)out + pos;
    for (size_t i = 0; i < n; i++)
      o[i] = NAN;
    break;
  }
  case MEF3_I32: {
    int32_t *o = (int32_t *)out + pos;
    for (size_t i = 0; i < n; i++)
      o[i] = MEF3_RED_NAN;
    break;
  }
  }
}

/* The float value of a sentinel count, or 0 for an ordinary count. */
static int is_sentinel(int32_t v) {
  return v == MEF3_RED_NAN || v == MEF3_RED_POS_INF || v == MEF3_RED_NEG_INF;
}

static double sentinel_value(int32_t v) {
  return v == MEF3_RED_NAN ? NAN : v > 0 ? INFINITY : -INFINITY;
}

/*
 * Convert `n` raw counts into `out` at `pos`.  The conversion loop has no
 * branch (it vectorizes); sentinels are patched afterwards, and only when
 * the block's index range says it may hold any (`clean` is 0).
 */
static void put(void *out, mef3_sample_type type, size_t pos,
                const int32_t *src, size_t n, double ufact, uint8_t *valid,
                int clean) {
  switch (type) {
  case MEF3_F32: {
    float *o = (float *)out + pos;
    size_t i = 0;
#if defined(__SSE2__)
    /* Four at a time, with the same double multiply and rounding to float
     * as the scalar loop (bit-identical results). */
    __m128d f = _mm_set1_pd(ufact);
    for (; i + 4 <= n; i += 4) {
      __m128i v = _mm_loadu_si128((const __m128i *)(src + i));
      __m128d lo = _mm_mul_pd(_mm_cvtepi32_pd(v), f);
      __m128d hi = _mm_mul_pd(
          _mm_cvtepi32_pd(_mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 3, 2))), f);
      _mm_storeu_ps(o + i, _mm_movelh_ps(_mm_cvtpd_ps(lo), _mm_cvtpd_ps(hi)));
    }
#endif
    for (; i < n; i++)
      o[i] = (float)((double)src[i] * ufact);
    if (!clean)
      for (i = 0; i < n; i++)
        if (is_sentinel(src[i]))
          o[i] = (float)sentinel_value(src[i]);
    break;
  }
  case MEF3_F64: {
    double *o = (double *)out + pos;
    size_t i = 0;
#if defined(__SSE2__)
    __m128d f = _mm_set1_pd(ufact);
    for (; i + 2 <= n; i += 2) {
      __m128i v = _mm_loadl_epi64((const __m128i *)(src + i));
      _mm_storeu_pd(o + i, _mm_mul_pd(_mm_cvtepi32_pd(v), f));
    }
#endif
    for (; i < n; i++)
      o[i] = (double)src[i] * ufact;
    if (!clean)
      for (i = 0; i < n; i++)
        if (is_sentinel(src[i]))
          o[i] = sentinel_value(src[i]);
    break;
  }
  case MEF3_I32:
    memcpy((int32_t *)out + pos, src, n * sizeof *src);
    break;
  }
  if (valid)
    for (size_t i = 0; i < n; i++)
      valid[pos + i] = src[i] != MEF3_RED_NAN;
}

/* 1 when decoded samples in [mn, mx] cannot hold a sentinel. */
static int range_clean(int32_t mn, int32_t mx) {
  return mn > MEF3_RED_NEG_INF && mx < MEF3_RED_POS_INF;
}

/*
 * Note block `block` of channel `c` as bad in `rep`.  The first one's
 * message is the cause (`message`: the data file, the byte offset, what is
 * wrong) followed by which block of which channel and segment it is and
 * the samples and µUTC span that read as NaN for it, as the index gives
 * them: an offset alone does not tell a user what is missing.
 */
static void report_bad(mef3_read_report *rep, const rd_channel *c,
                       size_t block, int code, const char *message) {
  if (!rep)
    return;
  if (rep->n_bad_blocks < MEF3_REPORT_MAX_BAD)
    rep->bad_blocks[rep->n_bad_blocks] = block;
  if (rep->n_bad_blocks == 0) {
    const mef3_block_info *bi = &c->blocks[block];
    int64_t t1 = sat_add(bi->start_uutc,
                         sat_round((double)bi->n_samples * 1e6 / c->info.fs));
    rep->first_error = code;
    snprintf(rep->first_message, sizeof rep->first_message,
             "%s; block %zu of channel %s (segment %d): samples [%lld, %lld), "
             "µUTC [%lld, %lld) read as NaN",
             message, block, c->name, (int)bi->segment,
             (long long)bi->start_sample,
             (long long)sat_add(bi->start_sample, bi->n_samples),
             (long long)bi->start_uutc, (long long)t1);
  }
  rep->n_bad_blocks++;
}

static int grow(void **buf, size_t *cap, size_t need, size_t elem) {
  if (*cap >= need)
    return 0;
  size_t nc = *cap ? *cap : 4096;
  while (nc < need)
    nc *= 2;
  void *nb = mef3__realloc(*buf, nc * elem);
  if (!nb)
    return mef3__error(MEF3_ENOMEM, "cannot allocate %zu bytes", nc * elem);
  *buf = nb;
  *cap = nc;
  return 0;
}

/* Called with each decoded block; `samples` is NULL for a bad block;
 * `clean` is 1 when the samples hold no sentinel. */
typedef void (*place_fn)(void *ctx, size_t block, const int32_t *samples,
                         size_t n, int clean);

/*
 * Decode blocks [lo, hi) of channel `c` for which want(ctx, b) is true,
 * handing each to place().  Only a failure of the system (memory, a read
 * error, no descriptor for a data file) ends it early, with its code.
 */
static int decode_range(mef3_reader *r, rd_channel *c, size_t lo, size_t hi,
                        int (*want)(void *, size_t), place_fn place, void *ctx,
                        mef3_read_report *rep) {
  /* A batch holds up to BATCH blocks and, unless one block alone is
   * larger, at most DEC_BUDGET decoded samples. */
  enum { BATCH = 64 };
  const size_t DEC_BUDGET = (size_t)1 << 22;
  mef3_red_job jobs[BATCH];
  size_t ids[BATCH];
  size_t b = lo;
  while (b < hi) {
    const mef3_block_info *first = &c->blocks[b];
    if (want && !want(ctx, b)) {
      b++;
      continue;
    }
    if (first->n_samples > MEF3_MAX_BLOCK_SAMPLES) {
      int brc = mef3__error_at(
          MEF3_ECORRUPT, c->segs[first->segment].tdat_path,
          (uint64_t)first->file_offset,
          "index entry claims %u samples (more than %u): damaged index",
          first->n_samples, MEF3_MAX_BLOCK_SAMPLES);
      report_bad(rep, c, b, brc, mef3_error_last()->message);
      place(ctx, b, NULL, 0, 0);
      b++;
      continue;
    }
    /* A group: wanted blocks back to back in one data file, read with one
     * pread and decoded as one batch. */
    rd_segment *g = &c->segs[first->segment];
    size_t e = b + 1;
    uint64_t bytes = first->bytes;
    size_t samples = first->n_samples;
    while (e < hi && e - b < BATCH && c->blocks[e].segment == first->segment &&
           (uint64_t)c->blocks[e].file_offset ==
               (uint64_t)c->blocks[e - 1].file_offset +
                   c->blocks[e - 1].bytes &&
           bytes + c->blocks[e].bytes <= GROUP_MAX_BYTES &&
           samples + c->blocks[e].n_samples <= DEC_BUDGET &&
           (!want || want(ctx, e))) {
      bytes += c->blocks[e].bytes;
      samples += c->blocks[e].n_samples;
      e++;
    }
    int rc = grow((void **)&r->dec, &r->dec_cap, samples, sizeof *r->dec);
    if (rc)
      return rc;
    long long got = -1;
    int io_err = mef3__reader_data_fd(r, g);
    if (io_err && io_err != MEF3_ENOTFOUND)
      return io_err; /* no descriptor, no memory, ...: not the file's doing */
    if (!io_err)
      io_err = mef3__reader_data_check(r, g);
    if (!io_err) {
      if ((rc = grow((void **)&r->io, &r->io_cap, bytes, 1)) != 0)
        return rc;
      got = mef3__reader_data_pread(r, g, r->io, bytes,
                                    (uint64_t)first->file_offset);
      if (got < 0) {
        int err = errno;
        return mef3__error_at(err == ENOMEM ? MEF3_ENOMEM : MEF3_EIO,
                              g->tdat_path, (uint64_t)first->file_offset,
                              "read of %llu bytes failed: %s",
                              (unsigned long long)bytes, strerror(err));
      }
    }
    /* Blocks the read delivered whole go to the decoder; the others are
     * bad right away. */
    size_t nj = 0, at_sample = 0;
    uint64_t at = 0;
    for (size_t k = b; k < e; k++) {
      const mef3_block_info *bi = &c->blocks[k];
      int brc = io_err;
      if (!brc && (long long)(at + bi->bytes) > got)
        brc = mef3__error_at(MEF3_ECORRUPT, g->tdat_path,
                             (uint64_t)bi->file_offset,
                             "block of %u bytes runs past the end of the "
                             "data file",
                             bi->bytes);
      if (brc) {
        report_bad(rep, c, k, brc, mef3_error_last()->message);
        place(ctx, k, NULL, 0, 0);
      } else {
        mef3_red_job *j = &jobs[nj];
        j->block = r->io + at;
        j->len = bi->bytes;
        j->offset = (uint64_t)bi->file_offset;
        j->out = r->dec + at_sample;
        j->cap = bi->n_samples; /* a header claiming more is corrupt */
        ids[nj++] = k;
        at_sample += bi->n_samples;
      }
      at += bi->bytes;
    }
    rc = mef3_red_decode_batch(r->red, jobs, nj, &g->keys,
                               r->opts.check_block_crc, g->tdat_path);
    if (rc)
      return rc;
    for (size_t j = 0; j < nj; j++) {
      size_t k = ids[j];
      const mef3_block_info *bi = &c->blocks[k];
      int brc = jobs[j].rc;
      if (brc == MEF3_EBUFSIZE || (!brc && jobs[j].n_out != bi->n_samples)) {
        brc = mef3__error_at(MEF3_ECORRUPT, g->tdat_path, jobs[j].offset,
                             "block holds %zu samples, its index entry says "
                             "%u",
                             jobs[j].n_out, bi->n_samples);
        snprintf(jobs[j].message, sizeof jobs[j].message, "%s",
                 mef3_error_last()->message);
      }
      /* A block whose own (CRC-protected) start time is not its index
       * entry's is another block (the entry points elsewhere) or the entry
       * is wrong: placing it would shift data. */
      int64_t hs = ld_i64(jobs[j].block + 40);
      if (!brc && hs != MEF3_UUTC_NO_ENTRY &&
          mef3_time_to_uutc(hs, g->rto) != bi->start_uutc) {
        brc = mef3__error_at(MEF3_ECORRUPT, g->tdat_path, jobs[j].offset,
                             "block starts at %lld us by its header, at %lld "
                             "us by its index entry",
                             (long long)mef3_time_to_uutc(hs, g->rto),
                             (long long)bi->start_uutc);
        snprintf(jobs[j].message, sizeof jobs[j].message, "%s",
                 mef3_error_last()->message);
      }
      if (brc) {
        report_bad(rep, c, k, brc, jobs[j].message);
        place(ctx, k, NULL, 0, 0);
      } else {
        place(ctx, k, jobs[j].out, jobs[j].n_out,
              range_clean(jobs[j].min, jobs[j].max));
      }
    }
    b = e;
  }
  return 0;
}

/* ---- time windows ---- */

typedef struct {
  rd_channel *c;
  int64_t t0;
  int64_t n; /* slots */
  void *out;
  mef3_sample_type type;
  uint8_t *valid;
  mef3_read_report *rep;
  /* With blocks in time order, slots are NaN-filled only in the gaps
   * between placed blocks (filled: slots [0, filled) are written), so the
   * output is written once; otherwise it was filled up front. */
  int incremental;
  int64_t filled;
} time_ctx;

/* Slot range [s, s + n) of block b, relative to the window. */
static int block_hits_window(void *p, size_t b) {
  time_ctx *t = p;
  const mef3_block_info *bi = &t->c->blocks[b];
  int64_t s = slot_of(bi->start_uutc, t->t0, t->c->info.fs);
  return s < t->n && sat_add(s, (int64_t)bi->n_samples) > 0;
}

static void place_time(void *p, size_t b, const int32_t *x, size_t n,
                       int clean) {
  time_ctx *t = p;
  const mef3_block_info *bi = &t->c->blocks[b];
  int64_t s = slot_of(bi->start_uutc, t->t0, t->c->info.fs);
  if (s >= t->n || s <= INT64_MIN / 2)
    return; /* entirely after, or absurdly far before, the window */
  int64_t from = s < 0 ? -s : 0;
  int64_t len = (int64_t)(x ? n : bi->n_samples);
  int64_t to = s + len > t->n ? t->n - s : len;
  if (to <= from)
    return;
  if (t->incremental) {
    if (s + from > t->filled)
      fill_nan(t->out, t->type, (size_t)t->filled,
               (size_t)(s + from - t->filled));
    if (s + to > t->filled)
      t->filled = s + to;
  }
  if (!x) { /* bad block: its slots are NaN, even if an earlier block
               overlapped them */
    fill_nan(t->out, t->type, (size_t)(s + from), (size_t)(to - from));
    if (t->valid)
      memset(t->valid + s + from, 0, (size_t)(to - from));
    return;
  }
  put(t->out, t->type, (size_t)(s + from), x + from, (size_t)(to - from),
      t->c->info.units_conversion_factor, t->valid, clean);
}

static int check_args(mef3_reader *r, size_t ch, mef3_sample_type type,
                      void *out) {
  if (!r || ch >= r->n_ch)
    return mef3__error(MEF3_EINVAL, "channel %zu out of range", ch);
  if (!mef3_sample_size(type))
    return mef3__error(MEF3_EINVAL, "unknown sample type %d", (int)type);
  if (!out)
    return mef3__error(MEF3_EINVAL, "no output buffer");
  return 0;
}

static size_t count_valid(const void *out, mef3_sample_type type, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    switch (type) {
    case MEF3_F32:
      k += !isnan(((const float *)out)[i]);
      break;
    case MEF3_F64:
      k += !isnan(((const double *)out)[i]);
      break;
    case MEF3_I32:
      k += ((const int32_t *)out)[i] != MEF3_RED_NAN;
      break;
    }
  }
  return k;
}

/*
 * The first `n` slots of the window starting at t0 (slot i at t0 + i/fs;
 * placement depends on t0 alone), taking blocks that start before
 * t1 + 1/fs.  Arguments are checked by the callers.
 */
static int read_slots(mef3_reader *r, size_t ch, int64_t t0, int64_t t1,
                      int64_t n, mef3_sample_type type, void *out,
                      uint8_t *valid, mef3_read_report *report) {
  int rc;
  rd_channel *c = &r->ch[ch];
  double fs = c->info.fs;
  if (valid)
    memset(valid, 0, (size_t)n);
  if (n == 0 || c->n_blocks == 0) {
    fill_nan(out, type, 0, (size_t)n);
    return 0;
  }

  /* Blocks that can land in [0, n): those ending after t0 - 1/fs and
   * starting before t1 + 1/fs (the margin covers the rounding to slots). */
  int64_t margin = sat_round(ceil(1e6 / fs)) + 1;
  size_t lo = 0, hi = c->n_blocks;
  while (lo < hi) { /* first block whose running end maximum > t0 - m */
    size_t mid = lo + (hi - lo) / 2;
    if (c->end_max[mid] > sat_sub(t0, margin))
      hi = mid;
    else
      lo = mid + 1;
  }
  size_t first = lo;
  lo = first;
  hi = c->n_blocks;
  while (lo < hi) { /* first block starting at or after t1 + m */
    size_t mid = lo + (hi - lo) / 2;
    if (c->blocks[mid].start_uutc >= sat_add(t1, margin))
      hi = mid;
    else
      lo = mid + 1;
  }
  time_ctx t = {c, t0, n, out, type, valid, report, 1, 0};
  for (size_t b = first; b + 1 < lo; b++)
    if (c->blocks[b + 1].start_uutc < c->blocks[b].start_uutc) {
      t.incremental = 0; /* out of order: fill everything first */
      fill_nan(out, type, 0, (size_t)n);
      break;
    }
  rc = decode_range(r, c, first, lo, block_hits_window, place_time, &t, report);
  if (rc) {
    fill_nan(out, type, 0, (size_t)n); /* never hand back garbage */
    return rc;
  }
  if (t.incremental && t.filled < n)
    fill_nan(out, type, (size_t)t.filled, (size_t)(n - t.filled));
  if (report)
    report->n_valid = (int64_t)count_valid(out, type, (size_t)n);
  return 0;
}

int mef3_reader_read_time(size_t *n_out, mef3_read_report *report,
                          mef3_reader *r, size_t ch, int64_t t0, int64_t t1,
                          mef3_sample_type type, void *out, size_t cap,
                          uint8_t *valid) {
  if (n_out)
    *n_out = 0;
  if (report)
    memset(report, 0, sizeof *report);
  int rc = check_args(r, ch, type, out);
  if (rc)
    return rc;
  if (t1 < t0)
    return mef3__error(MEF3_EINVAL, "window end %lld is before its start %lld",
                       (long long)t1, (long long)t0);
  int64_t n = mef3_window_samples(t0, t1, r->ch[ch].info.fs);
  if (n_out)
    *n_out = (size_t)n;
  if ((uint64_t)n > cap)
    return mef3__error(MEF3_EBUFSIZE,
                       "window of %lld samples, buffer holds %zu", (long long)n,
                       cap);
  return read_slots(r, ch, t0, t1, n, type, out, valid, report);
}

/* ---- sample ranges ---- */

typedef struct {
  rd_channel *c;
  int64_t s0, s1;
  void *out;
  mef3_sample_type type;
} sample_ctx;

static void place_samples(void *p, size_t b, const int32_t *x, size_t n,
                          int clean) {
  sample_ctx *t = p;
  const mef3_block_info *bi = &t->c->blocks[b];
  int64_t from = bi->start_sample < t->s0 ? t->s0 - bi->start_sample : 0;
  int64_t to = bi->start_sample + bi->n_samples > t->s1
                   ? t->s1 - bi->start_sample
                   : (int64_t)bi->n_samples;
  if (to <= from)
    return;
  if (!x) { /* a bad block reads as NaN */
    fill_nan(t->out, t->type, (size_t)(bi->start_sample + from - t->s0),
             (size_t)(to - from));
    return;
  }
  put(t->out, t->type, (size_t)(bi->start_sample + from - t->s0), x + from,
      (size_t)(to - from), t->c->info.units_conversion_factor, NULL, clean);
}

int mef3_reader_read_samples(size_t *n_out, mef3_read_report *report,
                             mef3_reader *r, size_t ch, int64_t s0, int64_t s1,
                             mef3_sample_type type, void *out, size_t cap) {
  if (n_out)
    *n_out = 0;
  if (report)
    memset(report, 0, sizeof *report);
  int rc = check_args(r, ch, type, out);
  if (rc)
    return rc;
  rd_channel *c = &r->ch[ch];
  if (s0 < 0 || s1 < s0 || s1 > c->info.n_samples)
    return mef3__error(
        MEF3_EINVAL, "%s: sample range [%lld, %lld) is outside [0, %lld)",
        c->path, (long long)s0, (long long)s1, (long long)c->info.n_samples);
  size_t n = (size_t)(s1 - s0);
  if (n_out)
    *n_out = n;
  if (n > cap)
    return mef3__error(MEF3_EBUFSIZE, "range of %zu samples, buffer holds %zu",
                       n, cap);
  if (n == 0)
    return 0;
  /* Stored samples have no gaps: every slot is written by its block (or
   * filled with NaN when that block is bad), so nothing is filled first. */
  size_t lo = 0, hi = c->n_blocks;
  while (lo < hi) { /* first block ending after s0 */
    size_t mid = lo + (hi - lo) / 2;
    if (c->blocks[mid].start_sample + c->blocks[mid].n_samples > s0)
      hi = mid;
    else
      lo = mid + 1;
  }
  size_t first = lo;
  hi = c->n_blocks;
  while (lo < hi) { /* first block starting at or after s1 */
    size_t mid = lo + (hi - lo) / 2;
    if (c->blocks[mid].start_sample >= s1)
      hi = mid;
    else
      lo = mid + 1;
  }
  sample_ctx t = {c, s0, s1, out, type};
  rc = decode_range(r, c, first, lo, NULL, place_samples, &t, report);
  if (rc) {
    fill_nan(out, type, 0, n); /* never hand back garbage */
    return rc;
  }
  if (report)
    report->n_valid = (int64_t)count_valid(out, type, n);
  return 0;
}

int mef3_reader_read_time_multi(size_t *n_out, mef3_read_report *reports,
                                mef3_reader *r, const size_t *channels,
                                size_t n_channels, int64_t t0, int64_t t1,
                                mef3_sample_type type, void *out,
                                size_t stride) {
  if (!channels || !n_out || (n_channels && !out))
    return mef3__error(MEF3_EINVAL, "missing argument");
  size_t es = mef3_sample_size(type);
  if (!es)
    return mef3__error(MEF3_EINVAL, "unknown sample type %d", (int)type);
  for (size_t k = 0; k < n_channels; k++) {
    int rc = mef3_reader_read_time(&n_out[k], reports ? &reports[k] : NULL, r,
                                   channels[k], t0, t1, type,
                                   (char *)out + k * stride * es, stride, NULL);
    if (rc)
      return rc;
  }
  return 0;
}

int mef3_reader_read_tile(mef3_read_report *report, mef3_reader *r, size_t ch,
                          int64_t b, double fs, int64_t cs, int64_t S,
                          float *out, int strict) {
  if (!r || !out || S <= 0 || !(fs > 0.0))
    return mef3__error(MEF3_EINVAL, "invalid tile request");
  int64_t t0, t1;
  mef3_tile_window(cs, fs, b, S, &t0, &t1);
  if (report)
    memset(report, 0, sizeof *report);
  int rc = check_args(r, ch, MEF3_F32, out);
  if (rc)
    return rc;
  /* Rounding can make the tile's window one slot longer than S; the
   * first S slots are decoded straight into `out` either way. */
  int64_t n = mef3_window_samples(t0, t1, r->ch[ch].info.fs);
  size_t got = (size_t)(n < S ? n : S);
  rc = read_slots(r, ch, t0, t1, (int64_t)got, MEF3_F32, out, NULL, report);
  if (rc) {
    if (strict)
      return rc;
    got = 0;
  }
  for (size_t i = got; i < (size_t)S; i++)
    out[i] = NAN;
  return 0;
}
