/*
 * writer/writer_segment.c - one segment of a channel: its directory
 * (CH-00000N.segd), its data and index files (.tdat, .tidx) and its
 * metadata (.tmet), from creation through checkpoints to the end.
 *
 * A segment opened after the channel's first one is built under a
 * temporary name (".tmp" appended) and renamed into place once its three
 * files exist, so a reader never sees a segment without its metadata,
 * index or data file.  The first segment is built inside the channel's
 * own temporary directory, which its creator (writer_session.c) renames.
 *
 * Metadata is rebuilt from the segment's running statistics (kept by
 * writer_samples.c as blocks go out) at every checkpoint and replaced
 * atomically; the counts it holds always describe a prefix of what the
 * index holds, because the data and index files are checkpointed first.
 *
 * Place in the writer: above writer_files.c and writer_header.c, below
 * writer_time.c (settling the offset rewrites metadata) and everything
 * that writes samples; it calls nothing above it.  Runs on the caller's
 * thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/crypto.h"
#include "util/alloc.h"
#include "util/bytes.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "writer/writer_impl.h"

/* ------------------------------------------------------------------ */
/* Metadata                                                            */

static void build_tmet(mef3_writer *w, wr_channel *c, const wr_segment *g,
                       uint8_t *m) {
  memset(m, 0, MEF3_METADATA_BYTES);
  /* section 1 */
  m[1024] = (uint8_t)(int8_t)w->s2_enc;
  m[1025] = (uint8_t)(int8_t)w->s3_enc;

  /* section 2 */
  int empty = g->n_blocks == 0;
  st_str(m + 2560, 2048, c->description);
  st_str(m + 4608, 2048, w->opts.session_description);
  st_i64(m + 6656, empty ? -1 : g->end_uutc - g->start_uutc);
  st_str(m + 6664, 2048, c->reference);
  st_i64(m + 8712, c->acquisition_channel_number);
  st_f64(m + 8720, c->fs);
  st_f64(m + 8728, c->lf);
  st_f64(m + 8736, c->hf);
  st_f64(m + 8744, c->notch);
  st_f64(m + 8752, c->ac);
  st_f64(m + 8760, c->ufact);
  st_str(m + 8768, 128, c->units);
  double hi = NAN, lo = NAN;
  if (!empty) {
    double a = (double)g->max_raw * c->ufact, b = (double)g->min_raw * c->ufact;
    hi = a > b ? a : b;
    lo = a > b ? b : a;
  }
  st_f64(m + 8896, hi);
  st_f64(m + 8904, lo);
  st_i64(m + 8912, g->start_sample);
  st_i64(m + 8920, g->n_samples);
  st_i64(m + 8928, g->n_blocks);
  st_i64(m + 8936, g->max_block_bytes);
  st_u32(m + 8944, g->max_block_samples);
  st_u32(m + 8948, g->max_difference_bytes);
  st_i64(m + 8952, llround((double)c->block_samples * 1e6 / c->fs));
  st_i64(m + 8960, g->n_discontinuities);
  st_i64(m + 8968, g->max_run_blocks);
  st_i64(m + 8976, g->max_run_bytes);
  st_i64(m + 8984, g->max_run_samples);

  /* section 3 */
  st_i64(m + 13312, w->rto_resolved ? w->rto : MEF3_UUTC_NO_ENTRY);
  st_i64(m + 13320, MEF3_UUTC_NO_ENTRY);
  st_i64(m + 13328, MEF3_UUTC_NO_ENTRY);
  st_i32(m + 13336, w->opts.gmt_offset);
  st_str(m + 13340, 128, w->opts.subject_name_1);
  st_str(m + 13468, 128, w->opts.subject_name_2);
  st_str(m + 13596, 128, w->opts.subject_id);
  st_str(m + 13724, 512, w->opts.recording_location);
}

int mef3__segment_write_metadata(mef3_writer *w, wr_channel *c) {
  wr_segment *g = &c->seg;
  uint8_t *m = mef3__malloc(MEF3_METADATA_BYTES);
  if (!m)
    return mef3__error(MEF3_ENOMEM, "out of memory");
  build_tmet(w, c, g, m);
  int rc = 0;
  if (w->s2_enc > 0)
    rc = mef3__aes_ecb(w->s2_enc == 1 ? w->keys.level_1 : w->keys.level_2, 1,
                       m + MEF3_METADATA_S2_OFFSET, MEF3_METADATA_S2_BYTES);
  if (!rc && w->s3_enc > 0)
    rc = mef3__aes_ecb(w->s3_enc == 1 ? w->keys.level_1 : w->keys.level_2, 1,
                       m + MEF3_METADATA_S3_OFFSET, MEF3_METADATA_S3_BYTES);
  if (!rc) {
    /* The same file UUID at every rewrite: it is the same file. */
    mef3_universal_header uh;
    mef3__writer_file_header(w, &uh, "tmet", g->number, c->name, g->level_uuid,
                             g->tmet_uuid);
    uh.start_time = mef3__writer_disk(w, g->start_uutc);
    uh.end_time = mef3__writer_disk(w, g->end_uutc);
    uh.number_of_entries = 1;
    uh.maximum_entry_size = MEF3_METADATA_BYTES;
    uh.body_crc =
        mef3_crc32(m + MEF3_UH_BYTES, MEF3_METADATA_BYTES - MEF3_UH_BYTES);
    mef3_uh_write(m, &uh);
    char name[256];
    snprintf(name, sizeof name, "%s.tmet", g->base);
    /* Settling the offset rewrites parked channels' metadata too. */
    int dirfd, opened;
    rc = mef3__segment_dirfd(w, c, &dirfd, &opened);
    if (!rc)
      rc = mef3__write_atomic(dirfd, g->dir, name, m, MEF3_METADATA_BYTES,
                              w->opts.sync_mode != MEF3_SYNC_NONE);
    if (opened)
      close(dirfd);
  }
  mef3__free(m);
  return rc;
}

/* ------------------------------------------------------------------ */
/* Life of a segment                                                   */

void mef3__segment_free(wr_segment *g) {
  mef3__wfile_close(&g->tdat);
  mef3__wfile_close(&g->tidx);
  if (g->dirfd >= 0)
    close(g->dirfd);
  g->dirfd = -1;
  mef3__free(g->dir);
  mef3__free(g->base);
  g->dir = g->base = NULL;
}

/* The empty .tdat and .tidx of a segment whose directory is open. */
static int create_data_files(mef3_writer *w, wr_channel *c) {
  wr_segment *g = &c->seg;
  mef3_universal_header uh;
  char name[300];
  int rc = mef3__writer_file_header(w, &uh, "tdat", g->number, c->name,
                                    g->level_uuid, NULL);
  if (!rc) {
    snprintf(name, sizeof name, "%s.tdat", g->base);
    rc = mef3__wfile_create(&g->tdat, g->dirfd, g->dir, name, &uh);
  }
  if (!rc)
    rc = mef3__wfile_set_buffer(&g->tdat, w->opts.io_buffer_bytes);
  if (!rc) {
    rc = mef3__writer_file_header(w, &uh, "tidx", g->number, c->name,
                                  g->level_uuid, NULL);
    uh.maximum_entry_size = MEF3_INDEX_BYTES;
  }
  if (!rc) {
    snprintf(name, sizeof name, "%s.tidx", g->base);
    rc = mef3__wfile_create(&g->tidx, g->dirfd, g->dir, name, &uh);
  }
  /* Index entries are 56 bytes per block of a few hundred bytes or more:
   * a smaller buffer fills at about the same pace. */
  if (!rc)
    rc = mef3__wfile_set_buffer(&g->tidx, w->opts.io_buffer_bytes / 4);
  return rc;
}

int mef3__segment_create(mef3_writer *w, wr_channel *c, int32_t number,
                         int publish) {
  wr_segment *g = &c->seg;
  memset(g, 0, sizeof *g);
  g->dirfd = g->tdat.fd = g->tidx.fd = -1;
  g->number = number;
  g->start_sample = c->total_samples;
  g->start_uutc = g->end_uutc = MEF3_UUTC_NO_ENTRY;
  char base[256], final[270], dname[280];
  snprintf(base, sizeof base, "%s-%06d", c->name, (int)number);
  snprintf(final, sizeof final, "%s.segd", base);
  snprintf(dname, sizeof dname, "%s%s", final, publish ? ".tmp" : "");
  g->base = mef3__strdup(base);
  g->dir = mef3__join(c->dir, final);
  if (!g->base || !g->dir)
    return mef3__error(MEF3_ENOMEM, "out of memory");
  if (mkdirat(c->dirfd, dname, 0755) != 0)
    return mef3__error(errno == EEXIST ? MEF3_EEXIST : MEF3_EIO,
                       "%s/%s: cannot create: %s", c->dir, dname,
                       strerror(errno));
  g->dirfd = openat(c->dirfd, dname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (g->dirfd < 0)
    return mef3__error(MEF3_EIO, "%s/%s: cannot open: %s", c->dir, dname,
                       strerror(errno));
  int rc = mef3__writer_uuid(w, g->level_uuid);
  if (!rc)
    rc = mef3__writer_uuid(w, g->tmet_uuid);
  if (!rc)
    rc = create_data_files(w, c);
  if (!rc)
    rc = mef3__segment_write_metadata(w, c);
  if (!rc && w->opts.sync_mode != MEF3_SYNC_NONE) {
    rc = mef3__wfile_sync(&g->tdat);
    if (!rc)
      rc = mef3__wfile_sync(&g->tidx);
    if (!rc)
      rc = mef3__sync_dir(g->dirfd, g->dir);
  }
  if (!rc && publish) {
    if (renameat(c->dirfd, dname, c->dirfd, final) != 0)
      rc = mef3__error(MEF3_EIO, "%s: cannot rename into place: %s", g->dir,
                       strerror(errno));
    else if (w->opts.sync_mode != MEF3_SYNC_NONE)
      rc = mef3__sync_dir(c->dirfd, c->dir);
  }
  if (!rc)
    c->seg_open = 1;
  return rc;
}

int mef3__segment_open_next(mef3_writer *w, wr_channel *c) {
  int32_t number = c->next_segment_number++;
  int rc = mef3__segment_create(w, c, number, 1);
  if (rc) {
    mef3__segment_free(&c->seg);
    c->seg_open = 0;
  }
  c->new_segment_pending = 0;
  return rc;
}

int mef3__segment_checkpoint(mef3_writer *w, wr_channel *c) {
  if (!c->seg_open)
    return 0;
  wr_segment *g = &c->seg;
  int sync = w->opts.sync_mode != MEF3_SYNC_NONE;
  int rc = 0;
  if (sync) {
    rc = mef3__wfile_sync(&g->tdat);
    if (!rc)
      rc = mef3__wfile_sync(&g->tidx);
  }
  g->tdat.uh.start_time = g->tidx.uh.start_time =
      mef3__writer_disk(w, g->start_uutc);
  g->tdat.uh.end_time = g->tidx.uh.end_time = mef3__writer_disk(w, g->end_uutc);
  g->tdat.uh.maximum_entry_size = g->max_block_samples;
  if (!rc)
    rc = mef3__wfile_checkpoint(&g->tdat);
  if (!rc)
    rc = mef3__wfile_checkpoint(&g->tidx);
  if (!rc && sync) {
    rc = mef3__wfile_sync(&g->tdat);
    if (!rc)
      rc = mef3__wfile_sync(&g->tidx);
  }
  if (!rc)
    rc = mef3__segment_write_metadata(w, c);
  g->since_checkpoint = 0;
  return rc;
}

int mef3__segment_finish(mef3_writer *w, wr_channel *c) {
  if (!c->seg_open)
    return 0;
  int rc = mef3__segment_checkpoint(w, c);
  mef3__segment_free(&c->seg);
  c->seg_open = 0;
  return rc;
}
