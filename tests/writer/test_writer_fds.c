/*
 * test_writer_fds - the writer's descriptor budget (writer/writer_fds.c)
 * meets the automatic recording time offset.
 *
 * Under a limit of 100 descriptors the writer keeps 4 channels' files
 * open and parks the others.  A session of 20 channels added without
 * start times leaves the offset to the first time written; settling it
 * rewrites the metadata of every channel's open segment, the parked ones
 * too (before the fix the first write failed: the metadata of a parked
 * channel was written through its closed directory descriptor).  Right
 * after that write every channel's .tmet on disk must already name the
 * offset; after writing every channel and closing, the session must read
 * back sample for sample with the offset in every channel's metadata,
 * and the writer must have closed every descriptor it opened.
 * The limit is set in this process only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "check.h"
#include "faults_helper.h"
#include "testutil.h"

#define NCH 20
#define FS 256
#define T0 1650000123456789LL
/* meflib's automatic offset for T0 with no GMT offset: midnight UTC
 * before it. */
#define RTO (T0 / 86400000000LL * 86400000000LL)

static int32_t value(int ch, int i) {
  return (ch + 1) * 1000 + i % 97 - 48;
}

/* The recording time offset in channel ch's first .tmet on disk. */
static int64_t rto_on_disk(const char *session, int ch) {
  char path[2048];
  snprintf(path, sizeof path,
           "%s/ch%02d.timd/ch%02d-000000.segd/ch%02d-000000.tmet", session, ch,
           ch, ch);
  size_t len = 0;
  uint8_t *b = tu_read_file(path, &len);
  if (!b)
    return 0;
  mef3_metadata m;
  mef3_universal_header uh;
  int rc = mef3_metadata_parse(&m, &uh, b, len, NULL, path);
  free(b);
  return rc ? 0 : m.recording_time_offset;
}

int main(void) {
  struct rlimit rl;
  REQUIRE(getrlimit(RLIMIT_NOFILE, &rl) == 0);
  rl.rlim_cur = 100;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &rl) == 0);

  char session[1024];
  snprintf(session, sizeof session, "%s/s.mefd", tu_scratch("fds"));
  mef3_writer_options o = MEF3_WRITER_OPTIONS_INIT;
  o.rto_mode = MEF3_RTO_AUTO;
  int fds = tu_fds(NULL);
  mef3_writer *w;
  CHECK_RC(mef3_writer_open(&w, session, &o), 0);
  REQUIRE(w != NULL);
  for (int c = 0; c < NCH; c++) {
    char name[16];
    snprintf(name, sizeof name, "ch%02d", c);
    mef3_channel_options co = MEF3_CHANNEL_OPTIONS_INIT;
    co.name = name;
    co.fs = FS;
    size_t id;
    CHECK_RC(mef3_writer_add_channel(&id, w, &co), 0);
  }
  CHECK(rto_on_disk(session, 0) == MEF3_UUTC_NO_ENTRY);

  int32_t x[FS];
  /* The last channel added first: the earliest are parked. */
  for (int i = 0; i < FS; i++)
    x[i] = value(NCH - 1, i);
  CHECK_RC(mef3_writer_write_i32(w, NCH - 1, T0, x, FS), 0);
  size_t said = 0;
  for (int c = 0; c < NCH; c++)
    said += rto_on_disk(session, c) == RTO;
  CHECK_MSG(said == NCH, "%zu of %d channels' metadata name the offset", said,
            NCH);

  for (int c = 0; c < NCH - 1; c++) {
    for (int i = 0; i < FS; i++)
      x[i] = value(c, i);
    CHECK_RC(mef3_writer_write_i32(w, c, T0, x, FS), 0);
  }
  CHECK_RC(mef3_writer_close(w), 0);
  CHECK_MSG(tu_fds(NULL) == fds, "%d descriptors open, %d before", tu_fds(NULL),
            fds);

  mef3_reader *r;
  CHECK_RC(mef3_reader_open(&r, session, NULL), 0);
  REQUIRE(r != NULL);
  CHECK(mef3_reader_channel_count(r) == NCH);
  size_t good = 0;
  for (size_t c = 0; c < mef3_reader_channel_count(r); c++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, c);
    int ch = atoi(ci->name + 2);
    int32_t y[FS];
    size_t n = 0;
    int ok =
        ci->n_samples == FS && ci->start_uutc == T0 &&
        ci->metadata->recording_time_offset == RTO &&
        mef3_reader_read_samples(&n, NULL, r, c, 0, FS, MEF3_I32, y, FS) == 0 &&
        n == FS;
    for (int i = 0; ok && i < FS; i++)
      ok = y[i] == value(ch, i);
    good += ok;
  }
  CHECK_MSG(good == NCH, "%zu of %d channels read back", good, NCH);
  mef3_reader_close(r);
  return check_finish();
}
