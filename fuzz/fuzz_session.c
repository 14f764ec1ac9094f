/*
 * fuzz/fuzz_session.c - the whole reader on a one-channel, one-segment
 * session built from the input in a private temporary directory: open,
 * tables, every sample by number and by time, records.
 *
 * Input layout: byte 0 flags (bit 0: repair the .tmet/.tidx CRCs; bit 1:
 * do not check block CRCs; bit 2: password "l2pass"; bit 3: password
 * "l1pass"), then three little-endian uint32 lengths of the .tmet, .tidx
 * and .rdat parts (cut to what is there), the three parts, and the rest
 * as the .tdat.  fuzz/make_seeds.py builds seeds from golden sessions.
 */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"

#define MAX_READ 2000000 /* samples per read, to bound the work */

static char dir[64], sess[128], chan[192], seg[256];
static char f_tmet[320], f_tidx[320], f_tdat[320], f_rdat[320];

static void cleanup(void) {
  unlink(f_tmet);
  unlink(f_tidx);
  unlink(f_tdat);
  unlink(f_rdat);
  rmdir(seg);
  rmdir(chan);
  rmdir(sess);
  rmdir(dir);
}

static int setup(void) {
  if (dir[0])
    return 0;
  snprintf(dir, sizeof dir, "/tmp/mef3fuzz-XXXXXX");
  if (!mkdtemp(dir))
    return -1;
  snprintf(sess, sizeof sess, "%s/s.mefd", dir);
  snprintf(chan, sizeof chan, "%s/c.timd", sess);
  snprintf(seg, sizeof seg, "%s/c-000000.segd", chan);
  snprintf(f_tmet, sizeof f_tmet, "%s/c-000000.tmet", seg);
  snprintf(f_tidx, sizeof f_tidx, "%s/c-000000.tidx", seg);
  snprintf(f_tdat, sizeof f_tdat, "%s/c-000000.tdat", seg);
  snprintf(f_rdat, sizeof f_rdat, "%s/c.rdat", chan);
  if (mkdir(sess, 0700) || mkdir(chan, 0700) || mkdir(seg, 0700))
    return -1;
  atexit(cleanup);
  return 0;
}

static void put(const char *path, const uint8_t *p, size_t n, int fix) {
  uint8_t *fixed = fix ? fuzz_fix_crcs(p, n) : NULL;
  FILE *f = fopen(path, "wb");
  if (!f)
    abort();
  if (n && fwrite(fixed ? fixed : p, 1, n, f) != n)
    abort();
  fclose(f);
  free(fixed);
}

static size_t take(const uint8_t **p, size_t *left, size_t want) {
  size_t n = want < *left ? want : *left;
  *p += n;
  *left -= n;
  return n;
}

static void read_channel(mef3_reader *r, size_t ch) {
  const mef3_channel_info *ci = mef3_reader_channel(r, ch);
  const mef3_block_info *b;
  const mef3_contiguon *cg;
  size_t nb, nc, got;
  mef3_reader_blocks(&b, &nb, r, ch);
  mef3_reader_contigua(&cg, &nc, r, ch);
  mef3_read_report rep;
  int64_t n = ci->n_samples < MAX_READ ? ci->n_samples : MAX_READ;
  if (n > 0) {
    int32_t *v = malloc((size_t)n * sizeof *v);
    if (v) {
      mef3_reader_read_samples(&got, &rep, r, ch, 0, n, MEF3_I32, v, (size_t)n);
      free(v);
    }
  }
  if (ci->start_uutc == MEF3_UUTC_NO_ENTRY || ci->end_uutc <= ci->start_uutc)
    return;
  int64_t w = mef3_window_samples(ci->start_uutc, ci->end_uutc, ci->fs);
  if (w <= 0 || w > MAX_READ)
    w = MAX_READ;
  float *f = malloc((size_t)w * sizeof *f);
  uint8_t *valid = malloc((size_t)w);
  if (f && valid) {
    int64_t t1 = ci->end_uutc;
    if (mef3_window_samples(ci->start_uutc, t1, ci->fs) > w)
      t1 = ci->start_uutc + (int64_t)((double)w * 1e6 / ci->fs);
    mef3_reader_read_time(&got, &rep, r, ch, ci->start_uutc, t1, MEF3_F32, f,
                          (size_t)w, valid);
  }
  free(f);
  free(valid);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 13 || setup() != 0)
    return 0;
  uint8_t flags = data[0];
  uint32_t l[3];
  memcpy(l, data + 1, 12);
  const uint8_t *p = data + 13;
  size_t left = size - 13;
  const uint8_t *tmet = p;
  size_t n_tmet = take(&p, &left, l[0]);
  const uint8_t *tidx = p;
  size_t n_tidx = take(&p, &left, l[1]);
  const uint8_t *rdat = p;
  size_t n_rdat = take(&p, &left, l[2]);
  put(f_tmet, tmet, n_tmet, flags & 1);
  put(f_tidx, tidx, n_tidx, flags & 1);
  put(f_tdat, p, left, 0);
  if (n_rdat)
    put(f_rdat, rdat, n_rdat, 0);
  else
    unlink(f_rdat);

  mef3_reader_options o = MEF3_READER_OPTIONS_INIT;
  o.check_block_crc = !(flags & 2);
  o.password = flags & 4 ? "l2pass" : flags & 8 ? "l1pass" : NULL;
  mef3_reader *r = NULL;
  if (mef3_reader_open(&r, sess, &o) == 0) {
    for (size_t ch = 0; ch < mef3_reader_channel_count(r); ch++)
      read_channel(r, ch);
    mef3_record *rec = NULL;
    size_t nr = 0;
    mef3_reader_records(&rec, &nr, r, 0);
    mef3_records_free(rec, nr);
    mef3_reader_close(r);
  }
  return 0;
}
