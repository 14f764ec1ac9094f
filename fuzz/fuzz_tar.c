/*
 * fuzz/fuzz_tar.c - the reader on a session packed as an uncompressed tar
 * (NAME.mefd.tar, read in place: reader/tar.c): the input is the archive,
 * written to a private temporary directory, then opened, every channel's
 * first samples read by time and by number, and the records listed.
 *
 * Input layout: byte 0 flags (bit 0: password "l1pass", bit 1: "l2pass",
 * bit 2: do not check block CRCs), the rest the archive.  Seeds are tars
 * of golden sessions and cut or damaged copies (fuzz/make_seeds.py).
 */
#include <stdio.h>
#include <unistd.h>

#include "fuzz_common.h"

#define MAX_READ 100000 /* samples per read, to bound the work */

static char dir[64], path[128];

static void cleanup(void) {
  unlink(path);
  rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  if (!dir[0]) {
    snprintf(dir, sizeof dir, "/tmp/mef3fuzz-tar-XXXXXX");
    if (!mkdtemp(dir))
      return 0;
    snprintf(path, sizeof path, "%s/s.mefd.tar", dir);
    atexit(cleanup);
  }
  FILE *f = fopen(path, "wb");
  if (!f)
    return 0;
  fwrite(data + 1, 1, size - 1, f);
  fclose(f);
  mef3_reader_options o = MEF3_READER_OPTIONS_INIT;
  o.password = data[0] & 2 ? "l2pass" : data[0] & 1 ? "l1pass" : NULL;
  o.check_block_crc = !(data[0] & 4);
  mef3_reader *r = NULL;
  if (mef3_reader_open(&r, path, &o) != 0)
    return 0;
  static float buf[MAX_READ];
  for (size_t c = 0; c < mef3_reader_channel_count(r); c++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, c);
    size_t n = 0;
    if (ci->n_samples > 0 && ci->fs > 0) {
      int64_t t1 = ci->start_uutc + (int64_t)(1e6 * 1000.0 / ci->fs);
      mef3_reader_read_time(&n, NULL, r, c, ci->start_uutc, t1, MEF3_F32, buf,
                            MAX_READ, NULL);
      int64_t s1 = ci->n_samples < 1000 ? ci->n_samples : 1000;
      mef3_reader_read_samples(&n, NULL, r, c, 0, s1, MEF3_F32, buf, MAX_READ);
    }
  }
  mef3_record *recs = NULL;
  size_t nr = 0;
  if (mef3_reader_records(&recs, &nr, r, 0) == 0)
    mef3_records_free(recs, nr);
  mef3_reader_close(r);
  return 0;
}
