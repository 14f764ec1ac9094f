/*
 * writer/writer_session.c - the session writer: the session directory,
 * channels, segments, metadata files and checkpoints.
 *
 * Layout written: NAME.mefd/ holds NAME.rdat/.ridx (session records, once
 * there is one) and one CH.timd/ per channel, which holds CH.rdat/.ridx
 * (channel records) and CH-000000.segd/, CH-000001.segd/, ... each with
 * CH-00000N.tmet, .tdat and .tidx.  Every file starts with a universal
 * header carrying the session and channel names, the level UUID shared by
 * the files of its level, its own file UUID and the password validation
 * fields.
 *
 * A new channel or segment directory is built under a temporary name
 * (".tmp" appended) and renamed into place once its three files exist, so
 * a reader never sees a segment without its metadata, index or data file
 * or a channel without a segment.  The writer keeps directory file
 * descriptors (openat/renameat), so renaming a directory does not disturb
 * the files open inside it.
 *
 * Metadata (.tmet) is rebuilt from the segment's running statistics at
 * every checkpoint and replaced atomically; the counts it holds always
 * describe a prefix of what the index holds.  Everything here runs on the
 * caller's thread; a writer has no threads of its own.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/crypto.h"
#include "util/bytes.h"
#include "util/error.h"
#include "writer/writer_impl.h"
#include "util/alloc.h"

#define DEFAULT_CHECKPOINT_BLOCKS 60
#define MAX_NAME_BYTES 200

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static char *dup_or_empty(const char *s) {
  return mef3__strdup(s ? s : "");
}

static char *join2(const char *a, const char *b) {
  size_t len = strlen(a) + strlen(b) + 2;
  char *s = mef3__malloc(len);
  if (s)
    snprintf(s, len, "%s/%s", a, b);
  return s;
}

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int mef3__writer_uuid(mef3_writer *w, uint8_t out[16]) {
  if (w->uuid_state) {
    uint64_t a = splitmix64(&w->uuid_state), b = splitmix64(&w->uuid_state);
    memcpy(out, &a, 8);
    memcpy(out + 8, &b, 8);
    return 0;
  }
  size_t got = 0;
  while (got < 16) {
    ssize_t k = getrandom(out + got, 16 - got, 0);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      return mef3__error(MEF3_EIO, "getrandom: %s", strerror(errno));
    }
    got += (size_t)k;
  }
  return 0;
}

void mef3__writer_uh_init(mef3_writer *w, mef3_universal_header *uh,
                          const char *type, int32_t segment,
                          const char *channel, const uint8_t level[16]) {
  memset(uh, 0, sizeof *uh);
  memcpy(uh->file_type, type, 4);
  uh->version_major = 3;
  uh->version_minor = 0;
  uh->byte_order = 1;
  uh->start_time = uh->end_time = MEF3_UUTC_NO_ENTRY;
  uh->number_of_entries = 0;
  uh->maximum_entry_size = -1;
  uh->segment_number = segment;
  snprintf(uh->channel_name, sizeof uh->channel_name, "%s",
           channel ? channel : "");
  snprintf(uh->session_name, sizeof uh->session_name, "%s", w->session_name);
  snprintf(uh->anonymized_name, sizeof uh->anonymized_name, "%s",
           w->opts.anonymized_name ? w->opts.anonymized_name : "");
  memcpy(uh->level_uuid, level, 16);
  memcpy(uh->level_1_password_validation, w->pv1, 16);
  memcpy(uh->level_2_password_validation, w->pv2, 16);
}

/* A file UUID that is also the provenance UUID: these files are their
 * own origin. */
static int file_uuid(mef3_writer *w, mef3_universal_header *uh) {
  int rc = mef3__writer_uuid(w, uh->file_uuid);
  memcpy(uh->provenance_uuid, uh->file_uuid, 16);
  return rc;
}

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* meflib's automatic offset: local midnight (by the GMT offset) at or
 * before t, kept strictly before t so that no time is stored as 0. */
static int64_t auto_offset(int64_t t, int32_t gmt) {
  if (gmt == MEF3_GMT_OFFSET_NO_ENTRY)
    gmt = 0;
  int64_t sec = floor_div(t, 1000000);
  int64_t off = floor_div(sec, 86400) * 86400 + 86400 - gmt;
  while (off > sec)
    off -= 86400;
  int64_t us = off * 1000000;
  while (us >= t)
    us -= (int64_t)86400 * 1000000;
  return us;
}

/* On-disk form of a time already known to be valid. */
static int64_t disk(const mef3_writer *w, int64_t t) {
  if (t == MEF3_UUTC_NO_ENTRY)
    return t;
  return -(t - (w->rto == MEF3_UUTC_NO_ENTRY ? 0 : w->rto));
}

static int write_tmet(mef3_writer *w, wr_channel *c);

int mef3__writer_disk_time(mef3_writer *w, int64_t t, int64_t *out) {
  if (t == MEF3_UUTC_NO_ENTRY) {
    *out = t;
    return 0;
  }
  if (!w->rto_resolved) {
    w->rto = auto_offset(t, w->opts.gmt_offset);
    w->rto_resolved = 1;
    /* Metadata already on disk says "no offset"; say the truth before any
     * time stored with the offset lands next to it. */
    for (size_t i = 0; i < w->n_ch; i++) {
      if (!w->ch[i]->seg_open)
        continue;
      int rc = write_tmet(w, w->ch[i]);
      if (rc)
        return rc;
    }
  }
  int64_t base = w->rto == MEF3_UUTC_NO_ENTRY ? 0 : w->rto;
  if (t <= base || t - base > INT64_MAX / 2)
    return mef3__error(MEF3_EINVAL,
                       "%s: time %lld is not after the recording time "
                       "offset %lld",
                       w->path, (long long)t, (long long)base);
  *out = -(t - base);
  return 0;
}

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

static int write_tmet(mef3_writer *w, wr_channel *c) {
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
    mef3_universal_header uh;
    mef3__writer_uh_init(w, &uh, "tmet", g->number, c->name, g->level_uuid);
    memcpy(uh.file_uuid, g->tmet_uuid, 16);
    memcpy(uh.provenance_uuid, g->tmet_uuid, 16);
    uh.start_time = disk(w, g->start_uutc);
    uh.end_time = disk(w, g->end_uutc);
    uh.number_of_entries = 1;
    uh.maximum_entry_size = MEF3_METADATA_BYTES;
    uh.body_crc =
        mef3_crc32(m + MEF3_UH_BYTES, MEF3_METADATA_BYTES - MEF3_UH_BYTES);
    mef3_uh_write(m, &uh);
    char name[256];
    snprintf(name, sizeof name, "%s.tmet", g->base);
    rc = mef3__write_atomic(g->dirfd, g->dir, name, m, MEF3_METADATA_BYTES,
                            w->opts.sync_mode != MEF3_SYNC_NONE);
  }
  mef3__free(m);
  return rc;
}

/* ------------------------------------------------------------------ */
/* Segments                                                            */

static void segment_free(wr_segment *g) {
  mef3__wfile_close(&g->tdat);
  mef3__wfile_close(&g->tidx);
  if (g->dirfd >= 0)
    close(g->dirfd);
  g->dirfd = -1;
  mef3__free(g->dir);
  mef3__free(g->base);
  g->dir = g->base = NULL;
}

/* Create segment `number` of channel `c`.  With `publish`, the directory
 * is built under a temporary name and renamed into place at the end;
 * without, the caller publishes it (the channel directory is new). */
static int segment_create(mef3_writer *w, wr_channel *c, int32_t number,
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
  g->dir = join2(c->dir, final);
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
  mef3_universal_header uh;
  char name[300];
  if (!rc) {
    mef3__writer_uh_init(w, &uh, "tdat", number, c->name, g->level_uuid);
    rc = file_uuid(w, &uh);
  }
  if (!rc) {
    snprintf(name, sizeof name, "%s.tdat", base);
    rc = mef3__wfile_create(&g->tdat, g->dirfd, g->dir, name, &uh);
  }
  if (!rc)
    rc = mef3__wfile_set_buffer(&g->tdat, w->opts.io_buffer_bytes);
  if (!rc) {
    mef3__writer_uh_init(w, &uh, "tidx", number, c->name, g->level_uuid);
    uh.maximum_entry_size = MEF3_INDEX_BYTES;
    rc = file_uuid(w, &uh);
  }
  if (!rc) {
    snprintf(name, sizeof name, "%s.tidx", base);
    rc = mef3__wfile_create(&g->tidx, g->dirfd, g->dir, name, &uh);
  }
  /* Index entries are 56 bytes per block of a few hundred bytes or more:
   * a smaller buffer fills at about the same pace. */
  if (!rc)
    rc = mef3__wfile_set_buffer(&g->tidx, w->opts.io_buffer_bytes / 4);
  if (!rc)
    rc = write_tmet(w, c);
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
  int rc = segment_create(w, c, number, 1);
  if (rc) {
    segment_free(&c->seg);
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
  g->tdat.uh.start_time = g->tidx.uh.start_time = disk(w, g->start_uutc);
  g->tdat.uh.end_time = g->tidx.uh.end_time = disk(w, g->end_uutc);
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
    rc = write_tmet(w, c);
  g->since_checkpoint = 0;
  return rc;
}

int mef3__segment_finish(mef3_writer *w, wr_channel *c) {
  if (!c->seg_open)
    return 0;
  int rc = mef3__segment_checkpoint(w, c);
  segment_free(&c->seg);
  c->seg_open = 0;
  return rc;
}

/* ------------------------------------------------------------------ */
/* Opening and closing                                                 */

static int level_ok(int level, int allow_default) {
  return (allow_default && level == -1) || (level >= 0 && level <= 2);
}

int mef3_writer_open(mef3_writer **out, const char *path,
                     const mef3_writer_options *opts) {
  *out = NULL;
  mef3_writer_options defaults = MEF3_WRITER_OPTIONS_INIT;
  if (!opts)
    opts = &defaults;
  if (opts->version != MEF3_WRITER_OPTIONS_VERSION)
    return mef3__error(MEF3_EINVAL, "writer options version %u, expected %u",
                       opts->version, MEF3_WRITER_OPTIONS_VERSION);
  if (!path || strlen(path) < 6 || strcmp(path + strlen(path) - 5, ".mefd"))
    return mef3__error(MEF3_EINVAL, "%s: a session path must end in .mefd",
                       path ? path : "(null)");
  if (!level_ok(opts->section_2_encryption, 1) ||
      !level_ok(opts->section_3_encryption, 1) ||
      !level_ok(opts->data_encryption, 0) ||
      !level_ok(opts->record_encryption, 0) ||
      (unsigned)opts->rto_mode > MEF3_RTO_AUTO ||
      (unsigned)opts->sync_mode > MEF3_SYNC_BLOCK ||
      (opts->gmt_offset != MEF3_GMT_OFFSET_NO_ENTRY &&
       (opts->gmt_offset < -86400 || opts->gmt_offset > 86400)))
    return mef3__error(MEF3_EINVAL, "%s: invalid writer options", path);

  mef3_writer *w = mef3__calloc(1, sizeof *w);
  if (!w)
    return mef3__error(MEF3_ENOMEM, "out of memory");
  w->dirfd = -1;
  mef3__writer_fd_budget(w);
  w->opts = *opts;
  w->opts.level_1_password = w->opts.level_2_password = NULL;
  const char **fields[] = {
      &w->opts.session_description, &w->opts.anonymized_name,
      &w->opts.subject_name_1,      &w->opts.subject_name_2,
      &w->opts.subject_id,          &w->opts.recording_location};
  int rc = 0;
  for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
    w->strings[i] = dup_or_empty(*fields[i]);
    if (!w->strings[i])
      rc = MEF3_ENOMEM;
    *fields[i] = w->strings[i];
  }
  if (!w->opts.checkpoint_blocks)
    w->opts.checkpoint_blocks = DEFAULT_CHECKPOINT_BLOCKS;
  w->uuid_state = opts->uuid_seed;
  w->path = mef3__strdup(path);
  if (rc || !w->path) {
    mef3_writer_close(w);
    return mef3__error(MEF3_ENOMEM, "out of memory");
  }
  /* Session name: the last component without ".mefd". */
  const char *slash = strrchr(w->path, '/');
  const char *base = slash ? slash + 1 : w->path;
  w->session_name = mef3__strndup(base, strlen(base) - 5);
  if (!w->session_name || !*w->session_name) {
    rc = w->session_name
             ? mef3__error(MEF3_EINVAL, "%s: empty session name", path)
             : mef3__error(MEF3_ENOMEM, "out of memory");
    mef3_writer_close(w);
    return rc;
  }

  rc = mef3_keys_for_writing(&w->keys, w->pv1, w->pv2, opts->level_1_password,
                             opts->level_2_password);
  if (!rc) {
    int al = w->keys.access_level;
    w->s2_enc = opts->section_2_encryption >= 0 ? opts->section_2_encryption
                : al >= 1                       ? 1
                                                : 0;
    w->s3_enc = opts->section_3_encryption >= 0 ? opts->section_3_encryption
                : al >= 2                       ? 2
                : al >= 1                       ? 1
                                                : 0;
    w->data_enc = opts->data_encryption;
    w->rec_enc = opts->record_encryption;
    if (w->s2_enc > al || w->s3_enc > al || w->data_enc > al || w->rec_enc > al)
      rc = mef3__error(MEF3_EINVAL,
                       "%s: encryption at level %d needs a level-%d "
                       "password",
                       path, al + 1, al + 1);
  }
  switch (opts->rto_mode) {
  case MEF3_RTO_NONE:
    w->rto = MEF3_UUTC_NO_ENTRY;
    w->rto_resolved = 1;
    break;
  case MEF3_RTO_VALUE:
    w->rto = opts->recording_time_offset;
    w->rto_resolved = 1;
    break;
  case MEF3_RTO_AUTO:
    w->rto = MEF3_UUTC_NO_ENTRY;
    w->rto_resolved = 0;
    break;
  }
  if (!rc)
    rc = mef3__writer_uuid(w, w->session_uuid);
  if (!rc)
    rc = mef3_red_enc_ctx_new(&w->enc);
  if (rc) {
    mef3_writer_close(w);
    return rc;
  }

  if (mkdir(path, 0755) != 0) {
    int err = errno;
    if (err != EEXIST) {
      mef3_writer_close(w);
      return mef3__error(MEF3_EIO, "%s: cannot create: %s", path,
                         strerror(err));
    }
  }
  w->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (w->dirfd < 0) {
    rc = mef3__error(errno == ENOTDIR ? MEF3_EEXIST : MEF3_EIO,
                     "%s: cannot open: %s", path, strerror(errno));
    mef3_writer_close(w);
    return rc;
  }
  /* An existing directory must be empty: never write into a session. */
  int probe = dup(w->dirfd);
  DIR *d = probe >= 0 ? fdopendir(probe) : NULL;
  if (!d) {
    if (probe >= 0)
      close(probe);
    rc = mef3__error(MEF3_EIO, "%s: cannot list: %s", path, strerror(errno));
  } else {
    struct dirent *e;
    while ((e = readdir(d)))
      if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
        rc = mef3__error(MEF3_EEXIST, "%s: exists and is not empty", path);
        break;
      }
    closedir(d);
  }
  if (!rc)
    rc = mef3__records_init(&w->rec, w, w->dirfd, w->path, w->session_name, -3,
                            "");
  if (rc) {
    /* Do not leave the descriptor to be reused for the directory we may
     * not own. */
    mef3_writer_close(w);
    return rc;
  }
  if (w->opts.sync_mode != MEF3_SYNC_NONE) {
    int pfd = -1;
    char *parent = mef3__strdup(w->path);
    if (parent) {
      char *s = strrchr(parent, '/');
      if (s == parent)
        s[1] = '\0';
      else if (s)
        *s = '\0';
      else
        strcpy(parent, ".");
      pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (pfd >= 0) {
        rc = mef3__sync_dir(pfd, parent);
        close(pfd);
      }
      mef3__free(parent);
    }
    if (rc) {
      mef3_writer_close(w);
      return rc;
    }
  }
  *out = w;
  return 0;
}

static void channel_free(wr_channel *c) {
  if (!c)
    return;
  segment_free(&c->seg);
  mef3__records_close(&c->rec);
  if (c->dirfd >= 0)
    close(c->dirfd);
  mef3__free(c->pend);
  mef3__free(c->name);
  mef3__free(c->dir);
  mef3__free(c->units);
  mef3__free(c->description);
  mef3__free(c->reference);
  mef3__free(c);
}

int mef3_writer_close(mef3_writer *w) {
  if (!w)
    return 0;
  int first = 0;
  for (size_t i = 0; i < w->n_ch; i++) {
    wr_channel *c = w->ch[i];
    int urc = mef3__channel_use(w, c);
    if (urc) { /* its files cannot be reopened: leave them as they are */
      if (!first)
        first = urc;
      continue;
    }
    int rc = c->failed;
    if (!rc)
      rc = mef3__channel_flush(w, c);
    /* Even after a failure, the blocks that were written get headers and
     * metadata that describe them. */
    int rc2 = c->seg_open ? mef3__segment_finish(w, c) : 0;
    int rc3 = mef3__records_checkpoint(w, &c->rec);
    if (!first)
      first = rc ? rc : rc2 ? rc2 : rc3;
  }
  if (w->dirfd >= 0) {
    int rc = mef3__records_checkpoint(w, &w->rec);
    if (!first)
      first = rc;
  }
  if (w->dirfd >= 0 && w->opts.sync_mode != MEF3_SYNC_NONE) {
    int rc = mef3__sync_dir(w->dirfd, w->path);
    if (!first)
      first = rc;
  }
  for (size_t i = 0; i < w->n_ch; i++)
    channel_free(w->ch[i]);
  mef3__free(w->ch);
  mef3__records_close(&w->rec);
  if (w->dirfd >= 0)
    close(w->dirfd);
  mef3_red_enc_ctx_free(w->enc);
  mef3__free(w->blk);
  for (size_t i = 0; i < sizeof w->strings / sizeof *w->strings; i++)
    mef3__free(w->strings[i]);
  /* do not leave the keys in freed memory */
  volatile uint8_t *k = (volatile uint8_t *)&w->keys;
  for (size_t i = 0; i < sizeof w->keys; i++)
    k[i] = 0;
  mef3__free(w->path);
  mef3__free(w->session_name);
  mef3__free(w);
  return first;
}

/* ------------------------------------------------------------------ */
/* Channels                                                            */

static int name_ok(const char *name) {
  size_t n = name ? strlen(name) : 0;
  if (n == 0 || n > MAX_NAME_BYTES || name[0] == '.')
    return 0;
  for (size_t i = 0; i < n; i++)
    if (name[i] == '/' || (unsigned char)name[i] < 0x20)
      return 0;
  return 1;
}

int mef3_writer_add_channel(size_t *out, mef3_writer *w,
                            const mef3_channel_options *o) {
  if (!o || o->version != MEF3_CHANNEL_OPTIONS_VERSION)
    return mef3__error(MEF3_EINVAL,
                       "%s: channel options missing or of "
                       "another version",
                       w->path);
  if (!name_ok(o->name))
    return mef3__error(MEF3_EINVAL, "%s: invalid channel name \"%s\"", w->path,
                       o->name ? o->name : "(null)");
  if (!(o->fs > 0.0) || !isfinite(o->fs) || o->fs > 1e9)
    return mef3__error(MEF3_EINVAL,
                       "%s: channel %s: invalid sampling "
                       "frequency %g",
                       w->path, o->name, o->fs);
  double ufact =
      o->units_conversion_factor == 0.0 ? 1.0 : o->units_conversion_factor;
  if (!isfinite(ufact))
    return mef3__error(MEF3_EINVAL,
                       "%s: channel %s: invalid units "
                       "conversion factor",
                       w->path, o->name);
  double bs = o->block_samples ? (double)o->block_samples : round(o->fs);
  if (bs < 1)
    bs = 1;
  if (bs > (1 << 24))
    return mef3__error(MEF3_EINVAL,
                       "%s: channel %s: blocks of %.0f samples "
                       "are too long",
                       w->path, o->name, bs);
  int enc = o->data_encryption < 0 ? w->data_enc : o->data_encryption;
  if (enc > 2 || enc > w->keys.access_level)
    return mef3__error(MEF3_EINVAL,
                       "%s: channel %s: data encryption at level %d needs "
                       "a level-%d password",
                       w->path, o->name, enc, enc);
  for (size_t i = 0; i < w->n_ch; i++)
    if (!strcmp(w->ch[i]->name, o->name))
      return mef3__error(MEF3_EEXIST, "%s: channel \"%s\" added twice", w->path,
                         o->name);
  if (w->n_ch == w->ch_cap) {
    size_t nc = w->ch_cap ? 2 * w->ch_cap : 16;
    wr_channel **nv = mef3__realloc(w->ch, nc * sizeof *nv);
    if (!nv)
      return mef3__error(MEF3_ENOMEM, "out of memory");
    w->ch = nv;
    w->ch_cap = nc;
  }

  wr_channel *c = mef3__calloc(1, sizeof *c);
  if (!c)
    return mef3__error(MEF3_ENOMEM, "out of memory");
  c->dirfd = -1;
  c->seg.dirfd = c->seg.tdat.fd = c->seg.tidx.fd = -1;
  c->rec.rdat.fd = c->rec.ridx.fd = -1;
  c->fs = o->fs;
  c->ufact = ufact;
  c->block_samples = (uint32_t)bs;
  c->start_opt = o->start_uutc;
  c->acquisition_channel_number = o->acquisition_channel_number;
  c->lf = o->low_frequency_filter;
  c->hf = o->high_frequency_filter;
  c->notch = o->notch_filter;
  c->ac = o->ac_line_frequency;
  c->data_enc = enc;
  c->name = mef3__strdup(o->name);
  c->units = dup_or_empty(o->units_description);
  c->description =
      dup_or_empty(o->channel_description ? o->channel_description : o->name);
  c->reference = dup_or_empty(o->reference_description);
  char final[256], tmp[264];
  snprintf(final, sizeof final, "%s.timd", o->name);
  snprintf(tmp, sizeof tmp, "%s.tmp", final);
  c->dir = join2(w->path, final);
  c->pend = mef3__malloc((size_t)c->block_samples * sizeof *c->pend);
  if (!c->name || !c->units || !c->description || !c->reference || !c->dir ||
      !c->pend) {
    channel_free(c);
    return mef3__error(MEF3_ENOMEM, "out of memory");
  }
  mef3__writer_make_room(w, NULL); /* its six descriptors */
  int rc = 0;
  if (mkdirat(w->dirfd, tmp, 0755) != 0)
    rc = mef3__error(errno == EEXIST ? MEF3_EEXIST : MEF3_EIO,
                     "%s/%s: cannot create: %s", w->path, tmp, strerror(errno));
  if (!rc) {
    c->dirfd = openat(w->dirfd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (c->dirfd < 0)
      rc = mef3__error(MEF3_EIO, "%s/%s: cannot open: %s", w->path, tmp,
                       strerror(errno));
  }
  if (!rc)
    rc = mef3__writer_uuid(w, c->level_uuid);
  if (!rc)
    rc = mef3__records_init(&c->rec, w, c->dirfd, c->dir, c->name, -2, c->name);
  if (!rc) {
    c->next_segment_number = 1;
    rc = segment_create(w, c, 0, 0);
  }
  if (!rc && w->opts.sync_mode != MEF3_SYNC_NONE)
    rc = mef3__sync_dir(c->dirfd, c->dir);
  if (!rc && renameat(w->dirfd, tmp, w->dirfd, final) != 0)
    rc = mef3__error(
        errno == EEXIST || errno == ENOTEMPTY ? MEF3_EEXIST : MEF3_EIO,
        "%s: cannot rename into place: %s", c->dir, strerror(errno));
  if (!rc && w->opts.sync_mode != MEF3_SYNC_NONE)
    rc = mef3__sync_dir(w->dirfd, w->path);
  if (rc) {
    channel_free(c);
    return rc;
  }
  mef3__writer_activated(w, c);
  /* A known start time may settle an automatic offset now. */
  if (!w->rto_resolved && c->start_opt != MEF3_UUTC_NO_ENTRY) {
    int64_t dummy;
    w->ch[w->n_ch++] = c;
    rc = mef3__writer_disk_time(w, c->start_opt, &dummy);
    if (rc) {
      w->n_ch--;
      w->n_active--;
      channel_free(c);
      return rc;
    }
  } else {
    w->ch[w->n_ch++] = c;
  }
  *out = w->n_ch - 1;
  return 0;
}

/* ------------------------------------------------------------------ */
/* Segments, sync, statistics                                          */

static int new_segment_one(mef3_writer *w, wr_channel *c) {
  if (c->failed)
    return c->failed;
  int rc = mef3__channel_use(w, c);
  if (!rc)
    rc = mef3__channel_flush(w, c);
  if (rc)
    return rc;
  if (!c->seg_open || c->seg.n_blocks == 0)
    return 0;
  rc = mef3__segment_finish(w, c);
  if (rc)
    return c->failed = rc;
  c->new_segment_pending = 1;
  return 0;
}

int mef3_writer_new_segment(mef3_writer *w, size_t ch) {
  if (ch == MEF3_WRITER_ALL_CHANNELS) {
    int first = 0;
    for (size_t i = 0; i < w->n_ch; i++) {
      int rc = new_segment_one(w, w->ch[i]);
      if (!first)
        first = rc;
    }
    return first;
  }
  if (ch >= w->n_ch)
    return mef3__error(MEF3_EINVAL, "%s: no channel %zu", w->path, ch);
  return new_segment_one(w, w->ch[ch]);
}

int mef3_writer_flush(mef3_writer *w, size_t ch) {
  if (ch != MEF3_WRITER_ALL_CHANNELS && ch >= w->n_ch)
    return mef3__error(MEF3_EINVAL, "%s: no channel %zu", w->path, ch);
  int first = 0;
  for (size_t i = 0; i < w->n_ch; i++) {
    if (ch != MEF3_WRITER_ALL_CHANNELS && i != ch)
      continue;
    wr_channel *c = w->ch[i];
    int rc = c->failed ? c->failed : mef3__channel_use(w, c);
    if (!rc)
      rc = mef3__channel_flush(w, c);
    if (!rc && c->seg_open) {
      rc = mef3__wfile_write_buffer(&c->seg.tdat);
      if (!rc)
        rc = mef3__wfile_write_buffer(&c->seg.tidx);
    }
    if (!first)
      first = rc;
  }
  return first;
}

int mef3_writer_sync(mef3_writer *w) {
  int first = 0;
  for (size_t i = 0; i < w->n_ch; i++) {
    wr_channel *c = w->ch[i];
    int rc = mef3__channel_use(w, c);
    if (!rc)
      rc = mef3__segment_checkpoint(w, c);
    int rc2 = rc ? 0 : mef3__records_checkpoint(w, &c->rec);
    if (!first)
      first = rc ? rc : rc2;
  }
  int rc = mef3__records_checkpoint(w, &w->rec);
  if (!first)
    first = rc;
  return first;
}

void mef3_writer_get_stats(mef3_writer_stats *out, const mef3_writer *w) {
  *out = w->stats;
}
