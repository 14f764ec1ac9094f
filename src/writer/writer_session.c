/*
 * writer/writer_session.c - the writer's public face: opening a session,
 * adding channels, new segments, flush, sync, statistics and close.
 *
 * Layout written: NAME.mefd/ holds NAME.rdat/.ridx (session records, once
 * there is one) and one CH.timd/ per channel, which holds CH.rdat/.ridx
 * (channel records) and CH-000000.segd/, CH-000001.segd/, ... each with
 * CH-00000N.tmet, .tdat and .tidx (writer_segment.c).  Every file starts
 * with a universal header (writer_header.c).
 *
 * A new channel directory is built under a temporary name (".tmp"
 * appended) with its first segment inside and renamed into place, so a
 * reader never sees a channel without a segment.  The writer keeps
 * directory file descriptors (openat/renameat), so renaming a directory
 * does not disturb the files open inside it.
 *
 * This file is the top of the writer (the order is in writer_impl.h):
 * it calls into every other part and none calls into it.  Everything
 * here runs on the caller's thread; a writer has no threads of its own.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "writer/writer_impl.h"
#include "util/version.h"

#define DEFAULT_CHECKPOINT_BLOCKS 60
#define MAX_NAME_BYTES 200

static char *dup_or_empty(const char *s) {
  return mef3__strdup(s ? s : "");
}

/* ------------------------------------------------------------------ */
/* Opening and closing                                                 */

static int level_ok(int level, int allow_default) {
  return (allow_default && level == -1) || (level >= 0 && level <= 2);
}

static int check_options(const char *path, const mef3_writer_options *opts) {
  if (mef3__version_check("mef3_writer_options", opts->version,
                          MEF3_WRITER_OPTIONS_VERSION))
    return MEF3_EINVAL;
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
  return 0;
}

/* A writer holding copies of the options (without the passwords) and
 * its names; nothing on disk yet. */
static int writer_new(mef3_writer **out, const char *path,
                      const mef3_writer_options *opts) {
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
  *out = w;
  return 0;
}

/* The keys of the passwords and the encryption levels: each section's
 * default follows the passwords given; no level beyond them. */
static int settle_encryption(mef3_writer *w, const mef3_writer_options *opts) {
  int rc = mef3_keys_for_writing(
      &w->keys, w->pv1, w->pv2, opts->level_1_password, opts->level_2_password);
  if (rc)
    return rc;
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
    return mef3__error(MEF3_EINVAL,
                       "%s: encryption at level %d needs a level-%d "
                       "password",
                       w->path, al + 1, al + 1);
  return 0;
}

/* The recording time offset as far as the options fix it; an automatic
 * one is settled by writer_time.c at the first time seen. */
static void settle_offset_mode(mef3_writer *w,
                               const mef3_writer_options *opts) {
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
}

/* Create the session directory, or take an existing empty one (never
 * write into a session), and keep it open. */
static int open_session_dir(mef3_writer *w) {
  if (mkdir(w->path, 0755) != 0 && errno != EEXIST)
    return mef3__error(MEF3_EIO, "%s: cannot create: %s", w->path,
                       strerror(errno));
  w->dirfd = open(w->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (w->dirfd < 0)
    return mef3__error(errno == ENOTDIR ? MEF3_EEXIST : MEF3_EIO,
                       "%s: cannot open: %s", w->path, strerror(errno));
  int probe = dup(w->dirfd);
  DIR *d = probe >= 0 ? fdopendir(probe) : NULL;
  if (!d) {
    if (probe >= 0)
      close(probe);
    return mef3__error(MEF3_EIO, "%s: cannot list: %s", w->path,
                       strerror(errno));
  }
  int rc = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      rc = mef3__error(MEF3_EEXIST, "%s: exists and is not empty", w->path);
      break;
    }
  closedir(d);
  return rc;
}

/* fsync the directory holding the session, so that its entry lasts. */
static int sync_parent(mef3_writer *w) {
  char *parent = mef3__strdup(w->path);
  if (!parent)
    return 0;
  char *s = strrchr(parent, '/');
  if (s == parent)
    s[1] = '\0';
  else if (s)
    *s = '\0';
  else
    strcpy(parent, ".");
  int rc = 0;
  int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (pfd >= 0) {
    rc = mef3__sync_dir(pfd, parent);
    close(pfd);
  }
  mef3__free(parent);
  return rc;
}

int mef3_writer_open(mef3_writer **out, const char *path,
                     const mef3_writer_options *opts) {
  *out = NULL;
  mef3_writer_options defaults = MEF3_WRITER_OPTIONS_INIT;
  if (!opts)
    opts = &defaults;
  int rc = check_options(path, opts);
  mef3_writer *w = NULL;
  if (!rc)
    rc = writer_new(&w, path, opts);
  if (rc)
    return rc;
  rc = settle_encryption(w, opts);
  settle_offset_mode(w, opts);
  if (!rc)
    rc = mef3__writer_uuid(w, w->session_uuid);
  if (!rc)
    rc = mef3_red_enc_ctx_new(&w->enc);
  if (!rc)
    rc = open_session_dir(w);
  if (!rc)
    rc = mef3__records_init(&w->rec, w, w->dirfd, w->path, w->session_name, -3,
                            "");
  if (!rc && w->opts.sync_mode != MEF3_SYNC_NONE)
    rc = sync_parent(w);
  if (rc) {
    /* Do not leave the descriptor to be reused for the directory we may
     * not own. */
    mef3_writer_close(w);
    return rc;
  }
  *out = w;
  return 0;
}

static void channel_free(wr_channel *c) {
  if (!c)
    return;
  mef3__segment_free(&c->seg);
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

/* What a channel's options settle once checked. */
typedef struct channel_settings {
  double ufact;
  uint32_t block_samples;
  int data_enc;
} channel_settings;

static int check_channel_options(channel_settings *out, const mef3_writer *w,
                                 const mef3_channel_options *o) {
  if (!o)
    return mef3__error(MEF3_EINVAL, "%s: channel options missing", w->path);
  if (mef3__version_check("mef3_channel_options", o->version,
                          MEF3_CHANNEL_OPTIONS_VERSION))
    return mef3__error(MEF3_EINVAL, "%s: %s", w->path,
                       mef3_error_last()->message);
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
  out->ufact = ufact;
  out->block_samples = (uint32_t)bs;
  out->data_enc = enc;
  return 0;
}

/* Room in w->ch for one more channel. */
static int reserve_channel(mef3_writer *w) {
  if (w->n_ch < w->ch_cap)
    return 0;
  size_t nc = w->ch_cap ? 2 * w->ch_cap : 16;
  wr_channel **nv = mef3__realloc(w->ch, nc * sizeof *nv);
  if (!nv)
    return mef3__error(MEF3_ENOMEM, "out of memory");
  w->ch = nv;
  w->ch_cap = nc;
  return 0;
}

/* A channel holding copies of its options; nothing on disk yet. */
static int channel_new(wr_channel **out, const mef3_writer *w,
                       const mef3_channel_options *o,
                       const channel_settings *s) {
  wr_channel *c = mef3__calloc(1, sizeof *c);
  if (!c)
    return mef3__error(MEF3_ENOMEM, "out of memory");
  c->dirfd = -1;
  c->seg.dirfd = c->seg.tdat.fd = c->seg.tidx.fd = -1;
  c->rec.rdat.fd = c->rec.ridx.fd = -1;
  c->fs = o->fs;
  c->ufact = s->ufact;
  c->block_samples = s->block_samples;
  c->start_opt = o->start_uutc;
  c->acquisition_channel_number = o->acquisition_channel_number;
  c->lf = o->low_frequency_filter;
  c->hf = o->high_frequency_filter;
  c->notch = o->notch_filter;
  c->ac = o->ac_line_frequency;
  c->data_enc = s->data_enc;
  c->name = mef3__strdup(o->name);
  c->units = dup_or_empty(o->units_description);
  c->description =
      dup_or_empty(o->channel_description ? o->channel_description : o->name);
  c->reference = dup_or_empty(o->reference_description);
  char final[256];
  snprintf(final, sizeof final, "%s.timd", o->name);
  c->dir = mef3__join(w->path, final);
  c->pend = mef3__malloc((size_t)c->block_samples * sizeof *c->pend);
  if (!c->name || !c->units || !c->description || !c->reference || !c->dir ||
      !c->pend) {
    channel_free(c);
    return mef3__error(MEF3_ENOMEM, "out of memory");
  }
  *out = c;
  return 0;
}

/* The channel's directory, its records and its first segment, built
 * under CH.timd.tmp and renamed into place. */
static int channel_create_dir(mef3_writer *w, wr_channel *c) {
  char final[256], tmp[264];
  snprintf(final, sizeof final, "%s.timd", c->name);
  snprintf(tmp, sizeof tmp, "%s.tmp", final);
  mef3__writer_make_room(w, NULL); /* its six descriptors */
  int sync = w->opts.sync_mode != MEF3_SYNC_NONE;
  if (mkdirat(w->dirfd, tmp, 0755) != 0)
    return mef3__error(errno == EEXIST ? MEF3_EEXIST : MEF3_EIO,
                       "%s/%s: cannot create: %s", w->path, tmp,
                       strerror(errno));
  c->dirfd = openat(w->dirfd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (c->dirfd < 0)
    return mef3__error(MEF3_EIO, "%s/%s: cannot open: %s", w->path, tmp,
                       strerror(errno));
  int rc = mef3__writer_uuid(w, c->level_uuid);
  if (!rc)
    rc = mef3__records_init(&c->rec, w, c->dirfd, c->dir, c->name, -2, c->name);
  if (!rc) {
    c->next_segment_number = 1;
    rc = mef3__segment_create(w, c, 0, 0);
  }
  if (!rc && sync)
    rc = mef3__sync_dir(c->dirfd, c->dir);
  if (!rc && renameat(w->dirfd, tmp, w->dirfd, final) != 0)
    rc = mef3__error(
        errno == EEXIST || errno == ENOTEMPTY ? MEF3_EEXIST : MEF3_EIO,
        "%s: cannot rename into place: %s", c->dir, strerror(errno));
  if (!rc && sync)
    rc = mef3__sync_dir(w->dirfd, w->path);
  return rc;
}

int mef3_writer_add_channel(size_t *out, mef3_writer *w,
                            const mef3_channel_options *o) {
  channel_settings s = {0};
  wr_channel *c = NULL;
  int rc = check_channel_options(&s, w, o);
  if (!rc)
    rc = reserve_channel(w);
  if (!rc)
    rc = channel_new(&c, w, o, &s);
  if (rc)
    return rc;
  rc = channel_create_dir(w, c);
  if (rc) {
    channel_free(c);
    return rc;
  }
  mef3__writer_activated(w, c);
  w->ch[w->n_ch++] = c;
  /* A known start time may settle an automatic offset now (which
   * rewrites the metadata of every channel, this one included). */
  if (!w->rto_resolved && c->start_opt != MEF3_UUTC_NO_ENTRY) {
    int64_t dummy;
    rc = mef3__writer_disk_time(w, c->start_opt, &dummy);
    if (rc) {
      w->n_ch--;
      w->n_active--;
      channel_free(c);
      return rc;
    }
  }
  *out = w->n_ch - 1;
  return 0;
}

/* ------------------------------------------------------------------ */
/* Segments, flush, sync, statistics                                   */

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
