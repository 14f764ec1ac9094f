/*
 * writer/writer_records.c - annotations: "Note" and "Seiz" records at
 * session and channel level.
 *
 * Records of one level go to NAME.rdat (a universal header, then each
 * record: a 24-byte header and a body padded with 0x7e to a multiple of
 * 16 bytes, encrypted with AES-128-ECB when record_encryption asks) and
 * NAME.ridx (one 24-byte entry per record: type, version, encryption,
 * offset in the .rdat, time).  Both files are created, header first, at
 * the level's first record and follow the append protocol of
 * writer_files.c: the record goes to the .rdat, then its entry to the
 * .ridx before the call returns.  Record times, and
 * the onset and offset inside a Seiz body, are stored in the on-disk form
 * (negated, recording time offset applied), like every other time.
 * Place in the writer: above files, headers, the descriptor budget and
 * writer_time.c; only writer_session.c calls into it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec/crypto.h"
#include "util/bytes.h"
#include "util/alloc.h"
#include "util/error.h"
#include "util/fsutil.h"
#include "writer/writer_impl.h"
#include "util/version.h"

#define SEIZ_BYTES 1312
#define SEIZ_CHANNEL_BYTES 272

int mef3__records_init(mef3__wrecords *r, mef3_writer *w, int dirfd,
                       const char *dir, const char *base, int32_t segment,
                       const char *channel) {
  memset(r, 0, sizeof *r);
  r->rdat.fd = r->ridx.fd = -1;
  r->dirfd = dirfd;
  r->segment_number = segment;
  r->dir = mef3__strdup(dir);
  r->base = mef3__strdup(base);
  r->channel_name = mef3__strdup(channel);
  if (!r->dir || !r->base || !r->channel_name)
    return mef3__error(MEF3_ENOMEM, "out of memory");
  return mef3__writer_uuid(w, r->level_uuid);
}

void mef3__records_close(mef3__wrecords *r) {
  mef3__wfile_close(&r->rdat);
  mef3__wfile_close(&r->ridx);
  mef3__free(r->dir);
  mef3__free(r->base);
  mef3__free(r->channel_name);
  r->dir = r->base = r->channel_name = NULL;
}

/* Create one of the two files under a temporary name, header only, and
 * rename it into place: a reader never sees it without a header. */
static int create_file(mef3_writer *w, mef3__wrecords *r, mef3__wfile *f,
                       const char *type) {
  char name[300], tmp[310];
  snprintf(name, sizeof name, "%s.%s", r->base, type);
  snprintf(tmp, sizeof tmp, "%s.tmp", name);
  mef3_universal_header uh;
  int rc = mef3__writer_file_header(w, &uh, type, r->segment_number,
                                    r->channel_name, r->level_uuid, NULL);
  if (!strcmp(type, "ridx"))
    uh.maximum_entry_size = MEF3_RECORD_INDEX_BYTES;
  unlinkat(r->dirfd, tmp, 0); /* a leftover of an earlier failure */
  if (!rc)
    rc = mef3__wfile_create(f, r->dirfd, r->dir, tmp, &uh);
  if (!rc && w->opts.sync_mode != MEF3_SYNC_NONE)
    rc = mef3__wfile_sync(f);
  if (!rc && renameat(r->dirfd, tmp, r->dirfd, name) != 0)
    rc = mef3__error(MEF3_EIO, "%s/%s: cannot rename into place: %s", r->dir,
                     name, strerror(errno));
  if (!rc) {
    /* Messages name the final file. */
    char *p = mef3__join(r->dir, name);
    if (!p)
      return mef3__error(MEF3_ENOMEM, "out of memory");
    mef3__free(f->path);
    f->path = p;
  }
  if (!rc && w->opts.sync_mode != MEF3_SYNC_NONE)
    rc = mef3__sync_dir(r->dirfd, r->dir);
  return rc;
}

int mef3__records_checkpoint(mef3_writer *w, mef3__wrecords *r) {
  if (!r->created || r->failed)
    return r->failed;
  int sync = w->opts.sync_mode != MEF3_SYNC_NONE;
  int rc = 0;
  mef3__wfile *files[2] = {&r->rdat, &r->ridx};
  for (int i = 0; i < 2 && !rc; i++) {
    mef3__wfile *f = files[i];
    if (sync)
      rc = mef3__wfile_sync(f);
    if (!rc)
      rc = mef3__wfile_checkpoint(f);
    if (!rc && sync)
      rc = mef3__wfile_sync(f);
  }
  return rc ? (r->failed = rc) : 0;
}

/* Append one record of `type` with `body` (len bytes, unpadded). */
static int add_record(mef3_writer *w, mef3__wrecords *r, const char *type,
                      int64_t time_disk, const uint8_t *body, size_t len) {
  if (r->failed)
    return mef3__error(r->failed, "%s: records of %s failed earlier", w->path,
                       r->base);
  size_t padded = (len + 15) / 16 * 16;
  if (padded > UINT32_MAX - MEF3_RECORD_HEADER_BYTES)
    return mef3__error(MEF3_EINVAL, "record of %zu bytes is too long", len);
  uint8_t *rec = mef3__malloc(MEF3_RECORD_HEADER_BYTES + padded);
  if (!rec)
    return mef3__error(MEF3_ENOMEM, "out of memory");
  uint8_t *b = rec + MEF3_RECORD_HEADER_BYTES;
  memcpy(b, body, len);
  memset(b + len, MEF3_PAD_BYTE, padded - len);
  int rc = 0;
  if (w->rec_enc > 0)
    rc = mef3__aes_ecb(w->rec_enc == 1 ? w->keys.level_1 : w->keys.level_2, 1,
                       b, padded);
  memset(rec, 0, MEF3_RECORD_HEADER_BYTES);
  memcpy(rec + 4, type, 4); /* and the NUL at 8 */
  rec[9] = 1;               /* version 1.0 */
  rec[10] = 0;
  rec[11] = (uint8_t)(int8_t)w->rec_enc;
  st_u32(rec + 12, (uint32_t)padded);
  st_i64(rec + 16, time_disk);
  st_u32(rec, mef3_crc32(rec + 4, MEF3_RECORD_HEADER_BYTES - 4 + padded));

  if (!rc && !r->created) {
    rc = create_file(w, r, &r->rdat, "rdat");
    if (!rc)
      rc = create_file(w, r, &r->ridx, "ridx");
    if (!rc)
      r->created = 1;
  }
  if (!rc) {
    uint8_t ix[MEF3_RECORD_INDEX_BYTES] = {0};
    memcpy(ix, type, 4);
    ix[5] = 1;
    ix[6] = 0;
    ix[7] = (uint8_t)(int8_t)w->rec_enc;
    st_i64(ix + 8, (int64_t)(MEF3_UH_BYTES + r->rdat.body_bytes));
    st_i64(ix + 16, time_disk);
    size_t total = MEF3_RECORD_HEADER_BYTES + padded;
    /* Header fields, written with the header after the record.  On disk,
     * later times are more negative: the earliest record has the largest
     * value. */
    if (r->n == 0 || time_disk > r->t_min)
      r->t_min = time_disk;
    if (r->n == 0 || time_disk < r->t_max)
      r->t_max = time_disk;
    if ((int64_t)total > r->max_bytes)
      r->max_bytes = (int64_t)total;
    r->n++;
    r->rdat.uh.start_time = r->ridx.uh.start_time = r->t_min;
    r->rdat.uh.end_time = r->ridx.uh.end_time = r->t_max;
    r->rdat.uh.maximum_entry_size = r->max_bytes;
    r->ridx.uh.maximum_entry_size = MEF3_RECORD_INDEX_BYTES;
    rc = mef3__wfile_append(&r->rdat, rec, total, 1);
    if (!rc)
      rc = mef3__wfile_append(&r->ridx, ix, sizeof ix, 1);
    if (!rc && w->opts.sync_mode == MEF3_SYNC_BLOCK) {
      rc = mef3__wfile_sync(&r->rdat);
      if (!rc)
        rc = mef3__wfile_sync(&r->ridx);
    }
    if (rc)
      r->failed = rc;
  }
  mef3__free(rec);
  return rc;
}

static mef3__wrecords *records_of(mef3_writer *w, size_t ch) {
  if (ch == MEF3_WRITER_SESSION)
    return &w->rec;
  if (ch < w->n_ch)
    return mef3__channel_use(w, w->ch[ch]) ? NULL : &w->ch[ch]->rec;
  mef3__error(MEF3_EINVAL, "%s: no channel %zu", w->path, ch);
  return NULL;
}

int mef3_writer_add_note(mef3_writer *w, size_t ch, int64_t time_uutc,
                         const char *text) {
  mef3__wrecords *r = records_of(w, ch);
  if (!r)
    return mef3_error_last()->code;
  int64_t t;
  int rc = mef3__writer_disk_time(w, time_uutc, &t);
  if (rc)
    return rc;
  if (!text)
    text = "";
  /* The text and its terminating NUL. */
  return add_record(w, r, "Note", t, (const uint8_t *)text, strlen(text) + 1);
}

int mef3_writer_add_seizure(mef3_writer *w, size_t ch, const mef3_seizure *s) {
  if (!s)
    return mef3__error(MEF3_EINVAL, "%s: seizure missing", w->path);
  if (mef3__version_check("mef3_seizure", s->version, MEF3_SEIZURE_VERSION))
    return mef3__error(MEF3_EINVAL, "%s: %s", w->path,
                       mef3_error_last()->message);
  if (s->offset_uutc < s->onset_uutc || (s->n_channels && !s->channels) ||
      s->n_channels > 100000)
    return mef3__error(MEF3_EINVAL, "%s: invalid seizure", w->path);
  mef3__wrecords *r = records_of(w, ch);
  if (!r)
    return mef3_error_last()->code;
  int64_t on, off;
  int rc = mef3__writer_disk_time(w, s->onset_uutc, &on);
  if (!rc)
    rc = mef3__writer_disk_time(w, s->offset_uutc, &off);
  if (rc)
    return rc;
  size_t len = SEIZ_BYTES + s->n_channels * SEIZ_CHANNEL_BYTES;
  uint8_t *b = mef3__calloc(1, len);
  if (!b)
    return mef3__error(MEF3_ENOMEM, "out of memory");
  st_i64(b, on);
  st_i64(b + 8, off);
  st_i64(b + 16, s->offset_uutc - s->onset_uutc);
  st_i32(b + 24, (int32_t)s->n_channels);
  st_i32(b + 28, s->onset_code);
  st_str(b + 32, 128, s->marker_name_1);
  st_str(b + 160, 128, s->marker_name_2);
  st_str(b + 288, 1024, s->annotation);
  for (size_t i = 0; i < s->n_channels; i++) {
    uint8_t *p = b + SEIZ_BYTES + i * SEIZ_CHANNEL_BYTES;
    st_str(p, 256, s->channels[i]);
    st_i64(p + 256, on);
    st_i64(p + 264, off);
  }
  rc = add_record(w, r, "Seiz", on, b, len);
  mef3__free(b);
  return rc;
}
