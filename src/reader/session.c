/*
 * reader/session.c - opening a session or channel directory and building
 * the in-memory tables every read uses.
 *
 * Opening reads, for every segment of every time-series channel, the
 * metadata file (all of it) and the index file (all of it), converts
 * every block's start time to absolute µUTC, and builds per channel:
 * the block table (all segments, channel-wide sample numbers), a running
 * maximum of block end times (for the binary search of a time window) and
 * the table of contiguous runs.  Data files are opened lazily at the
 * first read that needs them, and at most opts.max_open_data_files stay
 * open (the least recently used is closed first).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reader/reader_impl.h"
#include "reader/tar.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "util/timemath.h"
#include "util/alloc.h"
#include "util/version.h"

#define MAX_INDEX_FILE_BYTES ((size_t)1 << 31)
#define MAX_RECORD_FILE_BYTES ((size_t)1 << 30)

/* 1 when `path` names a compressed tar (which is not read in place). */
static int compressed_tar_name(const char *path) {
  static const char *const ext[] = {".tar.gz", ".tgz", ".tar.bz2", ".tbz2",
                                    ".tar.xz", ".txz", ".tar.zst", ".tar.lz4"};
  for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
    if (mef3__ends_with(path, ext[i]))
      return 1;
  return 0;
}

static void free_channel(rd_channel *c) {
  for (size_t s = 0; s < c->n_segs; s++) {
    rd_segment *g = &c->segs[s];
    if (g->fd >= 0)
      close(g->fd);
    mef3__free(g->dir);
    mef3__free(g->tdat_path);
  }
  mef3__free(c->segs);
  mef3__free(c->blocks);
  mef3__free(c->end_max);
  mef3__free(c->contigua);
  mef3__free(c->name);
  mef3__free(c->path);
}

void mef3_reader_close(mef3_reader *r) {
  if (!r)
    return;
  for (size_t i = 0; i < r->n_ch; i++)
    free_channel(&r->ch[i]);
  mef3__free(r->ch);
  mef3__tar_close(r->tar);
  mef3__beneath_free(r->root);
  mef3_red_ctx_free(r->red);
  mef3__free(r->io);
  mef3__free(r->dec);
  if (r->password) {
    /* do not leave the password in freed memory */
    volatile char *p = r->password;
    while (*p)
      *p++ = 0;
    mef3__free(r->password);
  }
  mef3__free(r->path);
  mef3__free(r->session_name);
  mef3__free(r);
}

/* Keys for one metadata file: reuse the session's password, validated
 * against this file's own fields. */
static int keys_for(mef3_reader *r, mef3_keys *keys,
                    const mef3_universal_header *uh, const char *path) {
  int rc = mef3_keys_from_password(keys, r->password, uh);
  if (rc == MEF3_EPASSWORD)
    return mef3__error(MEF3_EPASSWORD,
                       "%s: the password is not valid for this session", path);
  return rc;
}

/* What makes a segment's three files one segment's: the session and
 * channel names, the segment number and the level UUID of their universal
 * headers (every writer we know sets them alike; a file of another
 * segment or recording differs in one of them). */
uint32_t mef3__uh_ident(const mef3_universal_header *uh) {
  uint8_t num[4];
  memcpy(num, &uh->segment_number, 4);
  uint32_t c = mef3_crc32((const uint8_t *)uh->session_name,
                          strnlen(uh->session_name, 256) + 1);
  c = mef3_crc32_update(c, (const uint8_t *)uh->channel_name,
                        strnlen(uh->channel_name, 256) + 1);
  c = mef3_crc32_update(c, num, 4);
  return mef3_crc32_update(c, uh->level_uuid, 16);
}

int mef3__foreign_file(const char *path, const mef3_universal_header *uh,
                       const char *kind) {
  return mef3__error_at(MEF3_ECORRUPT, path, 0,
                        "%s belongs to session \"%.64s\", channel \"%.64s\", "
                        "segment %d (level UUID %02x%02x%02x%02x...), not to "
                        "the segment its metadata file describes",
                        kind, uh->session_name, uh->channel_name,
                        (int)uh->segment_number, uh->level_uuid[0],
                        uh->level_uuid[1], uh->level_uuid[2],
                        uh->level_uuid[3]);
}

static int open_segment(mef3_reader *r, rd_channel *c, rd_segment *g,
                        mef3_index_entry **idx, size_t *n_idx) {
  uint8_t *buf = NULL;
  size_t len = 0;
  char *tmet = mef3__child_named(g->dir, ".tmet");
  char *tidx = mef3__child_named(g->dir, ".tidx");
  g->tdat_path = mef3__child_named(g->dir, ".tdat");
  int rc = (!tmet || !tidx || !g->tdat_path) ? MEF3_ENOMEM : 0;
  if (rc) {
    mef3__error(rc, "out of memory");
    goto done;
  }
  rc = mef3__rd_read_file(r, &buf, &len, tmet, MEF3_METADATA_BYTES);
  if (rc == MEF3_ECORRUPT)
    rc = mef3__error_at(MEF3_ECORRUPT, tmet, MEF3_METADATA_BYTES,
                        "metadata file is longer than 16384 bytes");
  if (rc)
    goto done;
  if (!r->opts.check_file_crc && len >= 8) {
    /* CRC fields of 0 mean "no entry": not checked. */
    memset(buf, 0, 8);
  }
  /* Keys come from this file's own universal header. */
  mef3_universal_header uh;
  rc = mef3_uh_parse(&uh, buf, len, "tmet", tmet);
  if (rc)
    goto done;
  rc = keys_for(r, &g->keys, &uh, tmet);
  if (rc)
    goto done;
  g->number = uh.segment_number >= 0 ? uh.segment_number : -1;
  g->ident = mef3__uh_ident(&uh);
  g->uh_start = uh.start_time;
  g->uh_end = uh.end_time;
  rc = mef3_metadata_parse(&g->md, NULL, buf, len, &g->keys, tmet);
  if (rc)
    goto done;
  if (!g->md.section_2_available) {
    rc = mef3__error(MEF3_EPASSWORD,
                     "%s: metadata section 2 is encrypted at level %d; %s",
                     tmet, g->md.section_2_encryption,
                     r->password ? "the password does not reach it"
                                 : "a password is required");
    goto done;
  }
  if (r->access_level < g->keys.access_level)
    r->access_level = g->keys.access_level;
  double fs = g->md.sampling_frequency;
  if (!(fs >= MEF3_MIN_FS && fs <= MEF3_MAX_FS)) {
    rc = mef3__error_at(MEF3_ECORRUPT, tmet, 8720,
                        "sampling frequency %g Hz is outside [%g, %g]", fs,
                        MEF3_MIN_FS, MEF3_MAX_FS);
    goto done;
  }
  mef3__free(buf);
  buf = NULL;

  if ((rc = mef3__rd_locate_data(r, g)) != 0)
    goto done;
  rc = mef3__rd_read_file(r, &buf, &len, tidx, MAX_INDEX_FILE_BYTES);
  if (rc)
    goto done;
  if (!r->opts.check_file_crc && len >= 8)
    memset(buf, 0, 8);
  /* Offsets past the data file are reported per block at read time,
   * so that the rest of the channel stays readable. */
  g->rto = g->md.section_3_available &&
                   g->md.recording_time_offset != MEF3_UUTC_NO_ENTRY
               ? g->md.recording_time_offset
               : 0;
  mef3_universal_header iuh;
  rc = mef3_index_parse(idx, n_idx, &iuh, buf, len, 0, tidx);
  if (!rc && mef3__uh_ident(&iuh) != g->ident) /* the entries are freed later */
    rc = mef3__foreign_file(tidx, &iuh, "index file");
done:
  mef3__free(buf);
  mef3__free(tmet);
  mef3__free(tidx);
  (void)c;
  return rc;
}

/* Time in µs that `n` samples at `fs` last. */
static int64_t span_us(int64_t n, double fs) {
  return sat_round((double)n * 1e6 / fs);
}

static int build_tables(rd_channel *c, mef3_index_entry **idx, size_t *n_idx) {
  size_t total = 0;
  for (size_t s = 0; s < c->n_segs; s++)
    total += n_idx[s];
  c->blocks = mef3__calloc(total ? total : 1, sizeof *c->blocks);
  c->end_max = mef3__calloc(total ? total : 1, sizeof *c->end_max);
  c->contigua = mef3__calloc(total ? total : 1, sizeof *c->contigua);
  if (!c->blocks || !c->end_max || !c->contigua)
    return mef3__error(MEF3_ENOMEM, "%s: out of memory", c->path);
  double fs = c->segs[0].md.sampling_frequency;
  int64_t sample = 0;
  size_t b = 0;
  int max_enc = 0;
  uint32_t max_block = 0;
  for (size_t s = 0; s < c->n_segs; s++) {
    rd_segment *g = &c->segs[s];
    int64_t rto = g->md.section_3_available &&
                          g->md.recording_time_offset != MEF3_UUTC_NO_ENTRY
                      ? g->md.recording_time_offset
                      : 0;
    g->info.number = (int32_t)s;
    g->info.start_sample = sample;
    g->info.first_block = b;
    g->info.n_blocks = n_idx[s];
    g->info.metadata = &g->md;
    for (size_t i = 0; i < n_idx[s]; i++, b++) {
      const mef3_index_entry *e = &idx[s][i];
      mef3_block_info *bi = &c->blocks[b];
      bi->start_uutc = mef3_time_to_uutc(e->start_time, rto);
      bi->start_sample = sample;
      bi->file_offset = e->file_offset;
      bi->n_samples = e->number_of_samples;
      bi->bytes = e->block_bytes;
      bi->segment = (int32_t)s;
      bi->min = e->minimum_sample_value;
      bi->max = e->maximum_sample_value;
      bi->flags = e->flags;
      sample += e->number_of_samples;
      int enc = (e->flags & MEF3_RED_LEVEL_2)   ? 2
                : (e->flags & MEF3_RED_LEVEL_1) ? 1
                                                : 0;
      if (enc > max_enc)
        max_enc = enc;
      if (e->number_of_samples > max_block &&
          e->number_of_samples <= MEF3_MAX_BLOCK_SAMPLES)
        max_block = e->number_of_samples;
      int64_t end = sat_add(bi->start_uutc, span_us(bi->n_samples, fs));
      c->end_max[b] = b && c->end_max[b - 1] > end ? c->end_max[b - 1] : end;
    }
    g->info.n_samples = sample - g->info.start_sample;
    if (g->info.n_blocks) {
      const mef3_block_info *first = &c->blocks[g->info.first_block];
      const mef3_block_info *last = &c->blocks[b - 1];
      g->info.start_uutc = first->start_uutc;
      g->info.end_uutc =
          sat_add(last->start_uutc, span_us(last->n_samples, fs));
      /* The writer's own end time, from the metadata header, wins when it
       * is plausible: block start times may drift from the sample clock
       * (pymef truncates per-block increments at fractional rates), and
       * the writers' end times are what users and other readers see. */
      int64_t e = mef3_time_to_uutc(g->uh_end, rto);
      if (g->uh_end != MEF3_UUTC_NO_ENTRY && e > last->start_uutc &&
          fabs(diff_d(e, g->info.end_uutc)) <=
              (double)span_us(last->n_samples, fs))
        g->info.end_uutc = e;
    } else {
      g->info.start_uutc = g->info.end_uutc = MEF3_UUTC_NO_ENTRY;
    }
  }
  c->n_blocks = total;

  /* Contiguous runs. */
  size_t nc = 0;
  double period_us = 1e6 / fs;
  for (size_t i = 0; i < total; i++) {
    const mef3_block_info *bi = &c->blocks[i];
    int brk = i == 0 || (bi->flags & MEF3_RED_DISCONTINUITY);
    if (!brk) {
      const mef3_block_info *pv = &c->blocks[i - 1];
      double gap =
          diff_d(bi->start_uutc, pv->start_uutc) - pv->n_samples * period_us;
      brk = fabs(gap) >= period_us;
    }
    if (brk) {
      mef3_contiguon *k = &c->contigua[nc++];
      k->start_sample = bi->start_sample;
      k->start_uutc = bi->start_uutc;
      k->first_block = i;
    }
    mef3_contiguon *k = &c->contigua[nc - 1];
    k->n_blocks++;
    k->end_sample = bi->start_sample + bi->n_samples;
    k->end_uutc = sat_add(bi->start_uutc, span_us(bi->n_samples, fs));
  }
  c->n_contigua = nc;

  mef3_channel_info *ci = &c->info;
  const mef3_metadata *md = &c->segs[0].md;
  ci->name = c->name;
  ci->path = c->path;
  ci->fs = fs;
  ci->units_conversion_factor = md->units_conversion_factor;
  ci->units_description = md->units_description;
  ci->n_samples = sample;
  ci->n_blocks = total;
  ci->n_segments = c->n_segs;
  ci->n_contigua = nc;
  ci->max_block_samples = max_block;
  ci->times_relative = !md->section_3_available;
  ci->data_encryption = max_enc;
  ci->section_2_encryption = md->section_2_encryption;
  ci->section_3_encryption = md->section_3_encryption;
  ci->metadata = md;
  ci->start_uutc = total ? c->blocks[0].start_uutc : MEF3_UUTC_NO_ENTRY;
  ci->end_uutc = MEF3_UUTC_NO_ENTRY;
  for (size_t s = 0; s < c->n_segs; s++)
    if (c->segs[s].info.n_blocks && (ci->end_uutc == MEF3_UUTC_NO_ENTRY ||
                                     c->segs[s].info.end_uutc > ci->end_uutc))
      ci->end_uutc = c->segs[s].info.end_uutc;
  return 0;
}

static const char *base_of(const char *path) {
  const char *b = strrchr(path, '/');
  return b ? b + 1 : path;
}

/*
 * The segments of a channel must fit together, else which data is right
 * cannot be told and the open fails with MEF3_ECORRUPT: numbered 0, 1, 2,
 * ... in the order of their directories (a number twice is a duplicated
 * segment, a number skipped a missing one); each starting at the sample
 * where those before it end, by its metadata (else samples are missing or
 * counted twice, and every later sample number would shift); and each
 * starting after the last block of the one before it (not overlapping it
 * in time).  A missing last segment cannot be told from a shorter
 * recording.
 */
static int check_segments(const rd_channel *c, mef3_index_entry *const *idx,
                          const size_t *n_idx) {
  int64_t samples = 0, prev_last = 0;
  const rd_segment *prev = NULL; /* the last segment with blocks */
  for (size_t s = 0; s < c->n_segs; s++) {
    const rd_segment *g = &c->segs[s];
    int32_t want = s == 0 ? 0 : c->segs[s - 1].number + 1;
    if (g->number >= 0 && (s == 0 || c->segs[s - 1].number >= 0) &&
        g->number != want) {
      for (size_t t = 0; t < s; t++)
        if (c->segs[t].number == g->number)
          return mef3__error(MEF3_ECORRUPT, "%s: %s and %s are both segment %d",
                             c->path, base_of(c->segs[t].dir), base_of(g->dir),
                             (int)g->number);
      if (g->number > want)
        return mef3__error(
            MEF3_ECORRUPT, "%s: segment %d%s is missing (%s is segment %d)",
            c->path, (int)want, g->number > want + 1 ? " and more" : "",
            base_of(g->dir), (int)g->number);
      return mef3__error(
          MEF3_ECORRUPT, "%s: %s is segment %d, out of order after segment %d",
          c->path, base_of(g->dir), (int)g->number, (int)(want - 1));
    }
    if (g->md.start_sample >= 0 && g->md.start_sample != samples) {
      const char *b = base_of(g->dir);
      size_t lb = strlen(b) > 5 ? strlen(b) - 5 : strlen(b); /* no .segd */
      return mef3__error(
          MEF3_ECORRUPT,
          "%s/%.*s.tmet: at offset 8912: segment %zu starts at sample %lld by "
          "its metadata, but the segments before it hold %lld samples (%s)",
          g->dir, (int)lb, b, s, (long long)g->md.start_sample,
          (long long)samples,
          g->md.start_sample > samples
              ? "a segment or index entries are missing"
              : "segments overlap");
    }
    for (size_t i = 0; i < n_idx[s]; i++)
      samples += idx[s][i].number_of_samples;
    if (!n_idx[s])
      continue;
    int64_t first = mef3_time_to_uutc(idx[s][0].start_time, g->rto);
    if (prev && first <= prev_last)
      return mef3__error(
          MEF3_ECORRUPT,
          "%s: segment %zu starts at %lld us, not after the last "
          "block of %s (%lld us): segments overlap in time",
          g->dir, s, (long long)first, base_of(prev->dir),
          (long long)prev_last);
    prev = g;
    prev_last = mef3_time_to_uutc(idx[s][n_idx[s] - 1].start_time, g->rto);
  }
  return 0;
}

static int open_channel(mef3_reader *r, rd_channel *c) {
  char **segs = NULL;
  size_t n = 0;
  int rc = mef3__rd_list(r, &segs, &n, c->path, ".segd");
  if (rc)
    return rc;
  if (n == 0) {
    mef3__free_list(segs, n);
    return mef3__error(MEF3_ECORRUPT, "%s: channel has no segments", c->path);
  }
  mef3_index_entry **idx = mef3__calloc(n, sizeof *idx);
  size_t *n_idx = mef3__calloc(n, sizeof *n_idx);
  c->segs = mef3__calloc(n, sizeof *c->segs);
  if (!idx || !n_idx || !c->segs) {
    rc = mef3__error(MEF3_ENOMEM, "%s: out of memory", c->path);
    goto done;
  }
  for (size_t s = 0; s < n; s++)
    c->segs[s].fd = -1;
  c->n_segs = n;
  for (size_t s = 0; s < n && !rc; s++) {
    c->segs[s].dir = mef3__join(c->path, segs[s]);
    if (!c->segs[s].dir)
      rc = mef3__error(MEF3_ENOMEM, "out of memory");
    else
      rc = open_segment(r, c, &c->segs[s], &idx[s], &n_idx[s]);
  }
  if (!rc) {
    double fs0 = c->segs[0].md.sampling_frequency;
    for (size_t s = 1; s < n && !rc; s++)
      if (c->segs[s].md.sampling_frequency != fs0)
        rc = mef3__error(MEF3_EUNSUPPORTED,
                         "%s: segment %zu has rate %g Hz, segment 0 %g Hz",
                         c->path, s, c->segs[s].md.sampling_frequency, fs0);
  }
  if (!rc)
    rc = check_segments(c, idx, n_idx);
  if (!rc)
    rc = build_tables(c, idx, n_idx);
done:
  if (idx)
    for (size_t s = 0; s < n; s++)
      mef3__free(idx[s]);
  mef3__free(idx);
  mef3__free(n_idx);
  mef3__free_list(segs, n);
  return rc;
}

int mef3_reader_open(mef3_reader **out, const char *path,
                     const mef3_reader_options *opts) {
  *out = NULL;
  if (!path || !*path)
    return mef3__error(MEF3_EINVAL, "no path given");
  if (opts && mef3__version_check("mef3_reader_options", opts->version,
                                  MEF3_READER_OPTIONS_VERSION))
    return MEF3_EINVAL;
  mef3__beneath *root = NULL;
  if (opts && opts->root && mef3__beneath_new(&root, opts->root))
    return mef3_error_last()->code;
  int is_tar = 0;
  if (!mef3__is_dir(root, path)) {
    struct stat st;
    if ((root ? mef3__beneath_stat(root, path, &st) : stat(path, &st)) != 0) {
      int err = errno;
      mef3__beneath_free(root);
      return mef3__error(err == EXDEV ? MEF3_EINVAL : MEF3_ENOTFOUND,
                         "%s: no such session: %s", path,
                         mef3__beneath_strerror(err));
    }
    is_tar = S_ISREG(st.st_mode) && mef3__ends_with(path, ".tar");
    if (!is_tar)
      mef3__beneath_free(root);
    if (!is_tar && S_ISREG(st.st_mode) && compressed_tar_name(path))
      return mef3__error(MEF3_EUNSUPPORTED,
                         "%s: a compressed archive; only an uncompressed tar "
                         "(NAME.mefd.tar) is read in place (decompress it "
                         "first)",
                         path);
    if (!is_tar)
      return mef3__error(MEF3_ENOTFOUND,
                         "%s: not a MEF 3.0 session or channel directory, nor "
                         "an uncompressed tar of a session",
                         path);
  }
  mef3_reader *r = mef3__calloc(1, sizeof *r);
  if (!r) {
    mef3__beneath_free(root);
    return mef3__error(MEF3_ENOMEM, "out of memory");
  }
  mef3_reader_options defaults = MEF3_READER_OPTIONS_INIT;
  r->opts = opts ? *opts : defaults;
  r->opts.password = NULL;
  r->opts.root = NULL; /* (the caller's string; r->root holds it) */
  r->root = root;
  if (!r->opts.max_open_data_files)
    r->opts.max_open_data_files = 64;
  int rc = 0;
  r->path = mef3__strdup(path);
  if (is_tar) { /* "x/NAME.mefd.tar" is session NAME */
    char *bare = mef3__strdup(path);
    if (bare) {
      bare[strlen(bare) - 4] = '\0';
      r->session_name = mef3__base_name(bare);
    }
    mef3__free(bare);
  } else {
    r->session_name = mef3__base_name(path);
  }
  if (opts && opts->password && *opts->password &&
      !(r->password = mef3__strdup(opts->password)))
    rc = MEF3_ENOMEM;
  if (rc || !r->path || !r->session_name ||
      (rc = mef3_red_ctx_new(&r->red)) != 0) {
    mef3_reader_close(r);
    return mef3__error(MEF3_ENOMEM, "out of memory");
  }

  if (is_tar && (rc = mef3__tar_open(&r->tar, r->root, path)) != 0) {
    mef3_reader_close(r);
    return rc;
  }

  char **names = NULL;
  size_t n = 0;
  if (!is_tar && (mef3__ends_with(r->path, ".timd") ||
                  mef3__ends_with(r->path, ".timd/"))) {
    names = mef3__calloc(1, sizeof *names);
    if (names && (names[0] = mef3__strdup(r->path)))
      n = 1;
    else
      rc = mef3__error(MEF3_ENOMEM, "out of memory");
  } else {
    rc = mef3__rd_list(r, &names, &n, r->path, ".timd");
    r->is_session = 1;
  }
  if (!rc && n == 0)
    rc = mef3__error(MEF3_ENOTFOUND, "%s: no time-series channel (.timd) found",
                     path);
  if (!rc) {
    r->ch = mef3__calloc(n, sizeof *r->ch);
    if (!r->ch)
      rc = mef3__error(MEF3_ENOMEM, "out of memory");
  }
  for (size_t i = 0; !rc && i < n; i++) {
    rd_channel *c = &r->ch[r->n_ch];
    c->path =
        r->is_session ? mef3__join(r->path, names[i]) : mef3__strdup(names[i]);
    c->name = c->path ? mef3__base_name(c->path) : NULL;
    r->n_ch++;
    if (!c->path || !c->name) {
      rc = mef3__error(MEF3_ENOMEM, "out of memory");
      break;
    }
    if (!mef3__rd_is_dir(r, c->path)) { /* a stray file named *.timd */
      free_channel(c);
      memset(c, 0, sizeof *c);
      r->n_ch--;
      continue;
    }
    rc = open_channel(r, c);
  }
  mef3__free_list(names, n);
  if (!rc && r->n_ch == 0)
    rc = mef3__error(MEF3_ENOTFOUND, "%s: no time-series channel (.timd) found",
                     path);
  if (rc) {
    mef3_reader_close(r);
    return rc;
  }
  *out = r;
  return 0;
}

const char *mef3_reader_path(const mef3_reader *r) {
  return r->path;
}
const char *mef3_reader_session_name(const mef3_reader *r) {
  return r->session_name;
}
int mef3_reader_access_level(const mef3_reader *r) {
  return r->access_level;
}
size_t mef3_reader_channel_count(const mef3_reader *r) {
  return r->n_ch;
}

const mef3_channel_info *mef3_reader_channel(const mef3_reader *r, size_t i) {
  return i < r->n_ch ? &r->ch[i].info : NULL;
}

int mef3_reader_find_channel(const mef3_reader *r, const char *name) {
  for (size_t i = 0; i < r->n_ch; i++)
    if (strcmp(r->ch[i].name, name) == 0)
      return (int)i;
  return mef3__error(MEF3_ENOTFOUND, "%s: no channel named \"%s\"", r->path,
                     name);
}

const mef3_segment_info *mef3_reader_segment(const mef3_reader *r, size_t ch,
                                             size_t s) {
  if (ch >= r->n_ch || s >= r->ch[ch].n_segs)
    return NULL;
  return &r->ch[ch].segs[s].info;
}

int mef3_reader_blocks(const mef3_block_info **out, size_t *n,
                       const mef3_reader *r, size_t ch) {
  if (ch >= r->n_ch)
    return mef3__error(MEF3_EINVAL, "channel %zu out of range", ch);
  *out = r->ch[ch].blocks;
  *n = r->ch[ch].n_blocks;
  return 0;
}

int mef3_reader_contigua(const mef3_contiguon **out, size_t *n,
                         const mef3_reader *r, size_t ch) {
  if (ch >= r->n_ch)
    return mef3__error(MEF3_EINVAL, "channel %zu out of range", ch);
  *out = r->ch[ch].contigua;
  *n = r->ch[ch].n_contigua;
  return 0;
}
