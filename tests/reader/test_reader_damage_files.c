/*
 * test_reader_damage_files - damaged, truncated, empty and missing
 * metadata (.tmet), index (.tidx) and data (.tdat) files in scratch
 * copies of golden sessions.  Opening must fail with the exact code, the
 * thread's last error must carry that code and name the file, and no
 * reader may be returned.  Where the damage is behind a CRC the test
 * recomputes the CRCs it must get past (mef3_crc32 / mef3_uh_write), so
 * that each case reaches the check it is about.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "golden_check.h"

#define A_REL "sessions/a_single_256hz.mefd"
#define SEG "/ch01.timd/ch01-000000.segd/ch01-000000"

static char *path2(const char *a, const char *b) {
  static char buf[4][4096];
  static int slot;
  char *p = buf[slot++ & 3];
  snprintf(p, 4096, "%s%s", a, b);
  return p;
}

/* Open `path` and expect `want`, with a message naming `file`. */
static void expect_open(const char *label, const char *path, int want,
                        const char *file, int check_file_crc) {
  mef3_reader_options o = MEF3_READER_OPTIONS_INIT;
  o.check_file_crc = check_file_crc;
  mef3_reader *r = (mef3_reader *)&o; /* must be reset to NULL */
  mef3_error_clear();
  int rc = mef3_reader_open(&r, path, &o);
  CHECK_MSG(rc == want, "%s: open gave %s (%s), want %s", label,
            mef3_errname(rc), mef3_error_last()->message, mef3_errname(want));
  if (rc == 0)
    mef3_reader_close(r);
  if (rc == 0 || rc != want)
    return;
  CHECK_MSG(r == NULL, "%s: *out not NULL after a failed open", label);
  CHECK_MSG(mef3_error_last()->code == want, "%s: last error code %s", label,
            mef3_errname(mef3_error_last()->code));
  if (file)
    CHECK_MSG(strstr(mef3_error_last()->message, file) != NULL,
              "%s: message does not name %s: %s", label, file,
              mef3_error_last()->message);
}

/* Rewrite a file after `edit`; the CRCs are recomputed when asked:
 * body (bytes 1024..end into 4..7) then header (4..1023 into 0..3). */
static void rewrite(const char *path, void (*edit)(uint8_t *, size_t *),
                    int fix_body, int fix_header) {
  size_t len = 0;
  uint8_t *buf = tu_read_file(path, &len);
  REQUIRE(buf && len >= 1024);
  buf = realloc(buf, len + 4096);
  edit(buf, &len);
  if (fix_body) {
    uint32_t c = mef3_crc32(buf + 1024, len - 1024);
    memcpy(buf + 4, &c, 4);
  }
  if (fix_header) {
    uint32_t c = mef3_crc32(buf + 4, 1020);
    memcpy(buf, &c, 4);
  }
  FILE *f = fopen(path, "wb");
  REQUIRE(f && fwrite(buf, 1, len, f) == len);
  fclose(f);
  free(buf);
}

/* ---- edits ---- */
static void e_big_endian(uint8_t *b, size_t *n) {
  b[15] = 0;
  (void)n;
}
static void e_byte_order_2(uint8_t *b, size_t *n) {
  b[15] = 2;
  (void)n;
}
static void e_version_2(uint8_t *b, size_t *n) {
  b[13] = 2;
  (void)n;
}
static void e_file_type(uint8_t *b, size_t *n) {
  memcpy(b + 8, "tdat", 4);
  (void)n;
}
static void e_fs_zero(uint8_t *b, size_t *n) {
  double z = 0.0;
  memcpy(b + 8720, &z, 8);
  (void)n;
}
static void e_fs_nan(uint8_t *b, size_t *n) {
  double z = NAN;
  memcpy(b + 8720, &z, 8);
  (void)n;
}
static void e_entries_plus1(uint8_t *b, size_t *n) {
  int64_t e;
  memcpy(&e, b + 32, 8);
  e++;
  memcpy(b + 32, &e, 8);
  (void)n;
}
static void e_drop_last_entry(uint8_t *b, size_t *n) {
  *n -= 56;
  (void)b;
}
static void e_cut_10(uint8_t *b, size_t *n) {
  *n -= 10;
  (void)b;
}
static void e_offset_low(uint8_t *b, size_t *n) {
  int64_t off = 512; /* entry 4 inside the universal header */
  memcpy(b + 1024 + 4 * 56, &off, 8);
  (void)n;
}
static void e_bytes_tiny(uint8_t *b, size_t *n) {
  uint32_t v = 100; /* entry 6 smaller than a block header */
  memcpy(b + 1024 + 6 * 56 + 28, &v, 4);
  (void)n;
}
static void e_start_sample(uint8_t *b, size_t *n) {
  int64_t s; /* entry 9 does not follow entry 8 */
  memcpy(&s, b + 1024 + 9 * 56 + 16, 8);
  s += 1;
  memcpy(b + 1024 + 9 * 56 + 16, &s, 8);
  (void)n;
}
static void e_body_byte(uint8_t *b, size_t *n) {
  b[1024 + 3 * 56 + 40] ^= 1;
  (void)n;
}
static void e_grow(uint8_t *b, size_t *n) {
  memset(b + *n, 0, 100);
  *n += 100;
}

/* A fresh copy of session `rel` with one file of it replaced by `edit`. */
static const char *copy_edit(const char *tag, const char *rel, const char *file,
                             void (*edit)(uint8_t *, size_t *), int fix_body,
                             int fix_header) {
  const char *s = gc_scratch_copy(tag, rel);
  rewrite(path2(s, file), edit, fix_body, fix_header);
  return s;
}

static void test_tmet(void) {
  const char *s;
  /* A byte of the universal header (inside the channel name). */
  s = gc_scratch_copy("tmet-uh", A_REL);
  REQUIRE(gc_flip(path2(s, SEG ".tmet"), 60, 0x01) == 0);
  expect_open("tmet header byte", s, MEF3_ECRC, "ch01-000000.tmet", 1);
  /* ... the same, with file CRCs not checked, opens (the header is read
   * for the password check before the metadata; the option covers it). */
  expect_open("tmet header byte, unchecked", s, 0, NULL, 0);
  /* The stored header CRC. */
  s = gc_scratch_copy("tmet-uh-crc", A_REL);
  REQUIRE(gc_flip(path2(s, SEG ".tmet"), 2, 0x10) == 0);
  expect_open("tmet header CRC", s, MEF3_ECRC, "ch01-000000.tmet", 1);
  /* A byte of the body (section 2's channel description). */
  s = gc_scratch_copy("tmet-body", A_REL);
  REQUIRE(gc_flip(path2(s, SEG ".tmet"), 3000, 0x01) == 0);
  expect_open("tmet body byte", s, MEF3_ECRC, "ch01-000000.tmet", 1);
  expect_open("tmet body byte, unchecked", s, 0, NULL, 0);
  /* A byte of section 3. */
  s = gc_scratch_copy("tmet-s3", A_REL);
  REQUIRE(gc_flip(path2(s, SEG ".tmet"), 13400, 0x04) == 0);
  expect_open("tmet section 3 byte", s, MEF3_ECRC, "ch01-000000.tmet", 1);

  /* Header fields with valid CRCs. */
  s = copy_edit("tmet-be", A_REL, SEG ".tmet", e_big_endian, 0, 1);
  expect_open("big-endian tmet", s, MEF3_EUNSUPPORTED, "ch01-000000.tmet", 1);
  s = copy_edit("tmet-bo2", A_REL, SEG ".tmet", e_byte_order_2, 0, 1);
  expect_open("byte order 2", s, MEF3_ECORRUPT, "ch01-000000.tmet", 1);
  s = copy_edit("tmet-v2", A_REL, SEG ".tmet", e_version_2, 0, 1);
  expect_open("MEF version 2", s, MEF3_EUNSUPPORTED, "ch01-000000.tmet", 1);
  s = copy_edit("tmet-type", A_REL, SEG ".tmet", e_file_type, 0, 1);
  expect_open("tmet typed tdat", s, MEF3_ECORRUPT, "ch01-000000.tmet", 1);
  /* Section 2 with an impossible rate (body CRC recomputed). */
  s = copy_edit("tmet-fs0", A_REL, SEG ".tmet", e_fs_zero, 1, 1);
  expect_open("rate 0", s, MEF3_ECORRUPT, "ch01-000000.tmet", 1);
  s = copy_edit("tmet-fsnan", A_REL, SEG ".tmet", e_fs_nan, 1, 1);
  expect_open("rate NaN", s, MEF3_ECORRUPT, "ch01-000000.tmet", 1);

  /* Sizes. */
  s = gc_scratch_copy("tmet-cut", A_REL);
  REQUIRE(truncate(path2(s, SEG ".tmet"), 10000) == 0);
  expect_open("tmet cut to 10000", s, MEF3_ECORRUPT, "ch01-000000.tmet", 1);
  s = gc_scratch_copy("tmet-cut-uh", A_REL);
  REQUIRE(truncate(path2(s, SEG ".tmet"), 500) == 0);
  expect_open("tmet cut to 500", s, MEF3_ECORRUPT, "ch01-000000.tmet", 1);
  s = gc_scratch_copy("tmet-empty", A_REL);
  REQUIRE(truncate(path2(s, SEG ".tmet"), 0) == 0);
  expect_open("zero-length tmet", s, MEF3_ECORRUPT, "ch01-000000.tmet", 1);
  s = copy_edit("tmet-long", A_REL, SEG ".tmet", e_grow, 0, 0);
  expect_open("tmet of 16484 bytes", s, MEF3_ECORRUPT, "ch01-000000.tmet", 1);
  s = gc_scratch_copy("tmet-missing", A_REL);
  REQUIRE(unlink(path2(s, SEG ".tmet")) == 0);
  expect_open("missing tmet", s, MEF3_ENOTFOUND, "ch01-000000.tmet", 1);
}

static void test_tidx(void) {
  const char *s;
  s = gc_scratch_copy("tidx-uh", A_REL);
  REQUIRE(gc_flip(path2(s, SEG ".tidx"), 100, 0x01) == 0);
  expect_open("tidx header byte", s, MEF3_ECRC, "ch01-000000.tidx", 1);
  s = gc_scratch_copy("tidx-body", A_REL);
  REQUIRE(gc_flip(path2(s, SEG ".tidx"), 1024 + 5 * 56 + 9, 0x01) == 0);
  expect_open("tidx body byte", s, MEF3_ECRC, "ch01-000000.tidx", 1);
  /* A body byte that changes nothing the reader checks (the index's
   * reserved bytes) gets through only without the CRC check. */
  s = copy_edit("tidx-body-pad", A_REL, SEG ".tidx", e_body_byte, 0, 0);
  expect_open("tidx reserved byte", s, MEF3_ECRC, "ch01-000000.tidx", 1);
  expect_open("tidx reserved byte, unchecked", s, 0, NULL, 0);

  s = copy_edit("tidx-be", A_REL, SEG ".tidx", e_big_endian, 0, 1);
  expect_open("big-endian tidx", s, MEF3_EUNSUPPORTED, "ch01-000000.tidx", 1);
  s = copy_edit("tidx-type", A_REL, SEG ".tidx", e_file_type, 0, 1);
  expect_open("tidx typed tdat", s, MEF3_ECORRUPT, "ch01-000000.tidx", 1);

  /* Size not a multiple of 56 (the CRCs made to match the cut file). */
  s = copy_edit("tidx-cut10", A_REL, SEG ".tidx", e_cut_10, 1, 1);
  expect_open("tidx cut by 10 bytes", s, MEF3_ECORRUPT, "ch01-000000.tidx", 1);
  s = gc_scratch_copy("tidx-cut10-raw", A_REL);
  REQUIRE(truncate(path2(s, SEG ".tidx"), 1024 + 56 * 10 + 30) == 0);
  expect_open("tidx truncated mid-entry", s, MEF3_ECORRUPT, "ch01-000000.tidx",
              1);
  /* One whole entry missing, or one too many announced. */
  s = copy_edit("tidx-drop", A_REL, SEG ".tidx", e_drop_last_entry, 1, 1);
  expect_open("tidx one entry short", s, MEF3_ECORRUPT, "ch01-000000.tidx", 1);
  s = copy_edit("tidx-count", A_REL, SEG ".tidx", e_entries_plus1, 0, 1);
  expect_open("tidx entry count + 1", s, MEF3_ECORRUPT, "ch01-000000.tidx", 1);
  /* Entries that cannot be right. */
  s = copy_edit("tidx-offlow", A_REL, SEG ".tidx", e_offset_low, 1, 1);
  expect_open("entry inside the header", s, MEF3_ECORRUPT, "ch01-000000.tidx",
              1);
  s = copy_edit("tidx-tiny", A_REL, SEG ".tidx", e_bytes_tiny, 1, 1);
  expect_open("entry of 100 bytes", s, MEF3_ECORRUPT, "ch01-000000.tidx", 1);
  s = copy_edit("tidx-sample", A_REL, SEG ".tidx", e_start_sample, 1, 1);
  expect_open("entry start sample", s, MEF3_ECORRUPT, "ch01-000000.tidx", 1);

  s = gc_scratch_copy("tidx-cut-uh", A_REL);
  REQUIRE(truncate(path2(s, SEG ".tidx"), 700) == 0);
  expect_open("tidx cut to 700", s, MEF3_ECORRUPT, "ch01-000000.tidx", 1);
  s = gc_scratch_copy("tidx-empty", A_REL);
  REQUIRE(truncate(path2(s, SEG ".tidx"), 0) == 0);
  expect_open("zero-length tidx", s, MEF3_ECORRUPT, "ch01-000000.tidx", 1);
  s = gc_scratch_copy("tidx-missing", A_REL);
  REQUIRE(unlink(path2(s, SEG ".tidx")) == 0);
  expect_open("missing tidx", s, MEF3_ENOTFOUND, "ch01-000000.tidx", 1);
}

static void test_tdat_and_tree(void) {
  const char *s;
  s = gc_scratch_copy("tdat-missing", A_REL);
  REQUIRE(unlink(path2(s, SEG ".tdat")) == 0);
  expect_open("missing tdat", s, MEF3_ENOTFOUND, "ch01-000000.tdat", 1);

  /* A later segment's files, in a multi-segment session. */
  const char *c = "sessions/c_discontinuities.mefd";
  s = gc_scratch_copy("seg2-tidx", c);
  REQUIRE(gc_flip(path2(s, "/ch02.timd/ch02-000002.segd/ch02-000002.tidx"),
                  1024 + 20, 0x02) == 0);
  expect_open("segment 2 tidx body", s, MEF3_ECRC, "ch02-000002.tidx", 1);
  s = gc_scratch_copy("seg1-tmet", c);
  REQUIRE(truncate(path2(s, "/ch01.timd/ch01-000001.segd/ch01-000001.tmet"),
                   16000) == 0);
  expect_open("segment 1 tmet cut", s, MEF3_ECORRUPT, "ch01-000001.tmet", 1);

  /* Trees without what a channel needs. */
  s = gc_scratch_copy("no-segments", A_REL);
  REQUIRE(tu_system("rm -rf '%s/ch01.timd/ch01-000000.segd'", s) == 0);
  expect_open("channel without segments", s, MEF3_ECORRUPT, "ch01.timd", 1);
  s = gc_scratch_copy("empty-segment", A_REL);
  REQUIRE(tu_system("mkdir '%s/ch01.timd/ch01-000001.segd'", s) == 0);
  expect_open("empty second segment", s, MEF3_ENOTFOUND, "ch01-000001.tmet", 1);
  s = gc_scratch_copy("no-channels", A_REL);
  REQUIRE(tu_system("rm -rf '%s/ch01.timd'", s) == 0);
  expect_open("session without channels", s, MEF3_ENOTFOUND, NULL, 1);
  expect_open("no such path", path2(s, "/nope.mefd"), MEF3_ENOTFOUND,
              "nope.mefd", 1);
  /* A regular file where the session should be. */
  expect_open("a file, not a directory",
              tu_golden("sessions/a_single_256hz.json"), MEF3_ENOTFOUND,
              "a_single_256hz.json", 1);
}

/* mef3_uh_write round trip: a header rewritten from its parsed fields
 * opens like the original (the test above relies on recomputing CRCs by
 * hand; this checks the library's writer agrees). */
static void test_uh_rewrite(void) {
  const char *s = gc_scratch_copy("uh-rewrite", A_REL);
  const char *p = path2(s, SEG ".tidx");
  size_t len = 0;
  uint8_t *b = tu_read_file(p, &len);
  REQUIRE(b);
  mef3_universal_header uh;
  CHECK_RC(mef3_uh_parse(&uh, b, len, "tidx", p), 0);
  uh.number_of_entries += 5;
  mef3_uh_write(b, &uh);
  FILE *f = fopen(p, "wb");
  REQUIRE(f && fwrite(b, 1, len, f) == len);
  fclose(f);
  free(b);
  expect_open("tidx count + 5 via mef3_uh_write", s, MEF3_ECORRUPT,
              "ch01-000000.tidx", 1);
}

/* A damaged record: flagged, the others listed; strict reports it. */
static void test_records_damage(void) {
  const char *s =
      gc_scratch_copy("rdat", "mef3io_golden/with_annotations.mefd");
  REQUIRE(gc_flip(path2(s, "/ch1.timd/ch1.rdat"), 1024 + 24 + 1, 0x01) == 0);
  mef3_reader *r = gc_must_open(s, NULL);
  mef3_record *recs = NULL;
  size_t n = 9;
  CHECK_RC(mef3_reader_records(&recs, &n, r, 1), MEF3_ECRC);
  CHECK(recs == NULL && n == 0);
  CHECK_MSG(strstr(mef3_error_last()->message, "ch1.rdat") != NULL,
            "records error does not name the file: %s",
            mef3_error_last()->message);
  CHECK_RC(mef3_reader_records(&recs, &n, r, 0), 0);
  CHECK(n == 2 && recs[0].undecodable == MEF3_ECRC &&
        strstr(recs[0].problem, "ch1.rdat: record 0 at offset 1024") &&
        !recs[1].undecodable && !strcmp(recs[1].text, "offset"));
  mef3_records_free(recs, n);
  /* The signal is unaffected. */
  int32_t v[100];
  size_t got;
  mef3_read_report rep;
  CHECK_RC(mef3_reader_read_samples(&got, &rep, r, 0, 0, 100, MEF3_I32, v, 100),
           0);
  CHECK(rep.n_bad_blocks == 0);
  mef3_reader_close(r);

  /* Truncated inside the second record. */
  s = gc_scratch_copy("rdat-cut", "mef3io_golden/with_annotations.mefd");
  REQUIRE(truncate(path2(s, "/ch1.timd/ch1.rdat"), 1024 + 40 + 30) == 0);
  r = gc_must_open(s, NULL);
  CHECK_RC(mef3_reader_records(&recs, &n, r, 1), MEF3_ECORRUPT);
  CHECK_RC(mef3_reader_records(&recs, &n, r, 0), 0);
  CHECK(n == 2 && !recs[0].undecodable && !strcmp(recs[0].text, "onset") &&
        recs[1].undecodable == MEF3_ECORRUPT && recs[1].body_bytes == 6 &&
        strstr(recs[1].problem, "record 1 at offset 1064"));
  mef3_records_free(recs, n);
  mef3_reader_close(r);
}

int main(int argc, char **argv) {
  REQUIRE(tu_have_golden());
  static const check_case cases[] = {
      CASE(test_tmet),
      CASE(test_tidx),
      CASE(test_tdat_and_tree),
      CASE(test_uh_rewrite),
      CASE(test_records_damage),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  return check_finish();
}
