/*
 * test_reader_damage_blocks - damaged data blocks in scratch copies of
 * golden sessions.  Each case corrupts a copy at an offset computed from
 * the block table, opens it, reads the whole channel by sample number
 * (int32 and float32) and by time (int32 with valid[]), and asserts:
 * exactly the damaged blocks come back NaN and are listed in the report
 * with the expected code and a message naming the data file, the
 * block's offset, the block (index, channel, segment) and the samples and
 * µUTC span that read as NaN; every other sample equals the truth
 * (nothing shifts), and nothing crashes or reads out of bounds (run under
 * ASan too).  test_message_names_the_block checks one message whole
 * against the golden session's JSON.
 */
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "golden_check.h"

#define A_REL "sessions/a_single_256hz.mefd"
#define A_TDAT "/ch01.timd/ch01-000000.segd/ch01-000000.tdat"
#define A_TIDX "/ch01.timd/ch01-000000.segd/ch01-000000.tidx"

static int32_t *a_truth;
static size_t a_n;

/* Is block k in the sorted list `bad`? */
static int in_set(const size_t *bad, size_t nbad, size_t k) {
  for (size_t i = 0; i < nbad; i++)
    if (bad[i] == k)
      return 1;
  return 0;
}

static int code_in(int code, const int *codes) {
  for (; *codes; codes++)
    if (code == *codes)
      return 1;
  return 0;
}

static void check_report(const char *label, const mef3_read_report *rep,
                         const size_t *bad, size_t nbad, const int *codes,
                         const char *file, const mef3_block_info *blocks,
                         const mef3_channel_info *ci) {
  CHECK_MSG(rep->n_bad_blocks == nbad, "%s: %zu bad blocks reported, want %zu",
            label, rep->n_bad_blocks, nbad);
  for (size_t i = 0;
       i < nbad && i < MEF3_REPORT_MAX_BAD && i < rep->n_bad_blocks; i++)
    CHECK_MSG(rep->bad_blocks[i] == bad[i],
              "%s: bad block [%zu] is %zu, want %zu", label, i,
              rep->bad_blocks[i], bad[i]);
  if (!nbad) {
    CHECK_MSG(rep->first_error == 0, "%s: first error %s", label,
              mef3_errname(rep->first_error));
    return;
  }
  CHECK_MSG(code_in(rep->first_error, codes), "%s: first error %s (%s)", label,
            mef3_errname(rep->first_error), rep->first_message);
  CHECK_MSG(strstr(rep->first_message, file) != NULL,
            "%s: message does not name %s: %s", label, file,
            rep->first_message);
  char off[64];
  snprintf(off, sizeof off, "offset %lld",
           (long long)blocks[bad[0]].file_offset);
  CHECK_MSG(strstr(rep->first_message, off) != NULL,
            "%s: message does not give the block's %s: %s", label, off,
            rep->first_message);
  const mef3_block_info *bk = &blocks[bad[0]];
  char which[256];
  snprintf(which, sizeof which,
           "; block %zu of channel %s (segment %d): samples [%lld, %lld), "
           "µUTC [%lld, %lld) read as NaN",
           bad[0], ci->name, (int)bk->segment, (long long)bk->start_sample,
           (long long)(bk->start_sample + bk->n_samples),
           (long long)bk->start_uutc,
           (long long)(bk->start_uutc +
                       llround(bk->n_samples * 1e6 / ci->fs)));
  CHECK_MSG(strstr(rep->first_message, which) != NULL,
            "%s: message does not say \"%s\": %s", label, which,
            rep->first_message);
}

/*
 * Read channel `ch` of an open reader every way and check that exactly
 * the blocks in `bad` are NaN.  `codes` is a 0-terminated list of
 * acceptable first errors.
 */
static void expect_bad(const char *label, mef3_reader *r, size_t ch,
                       const int32_t *truth, const size_t *bad, size_t nbad,
                       const int *codes, const char *file) {
  const mef3_channel_info *ci = mef3_reader_channel(r, ch);
  const mef3_block_info *b;
  size_t nb;
  REQUIRE(mef3_reader_blocks(&b, &nb, r, ch) == 0);
  size_t n = (size_t)ci->n_samples;

  /* By sample number, raw. */
  mef3_read_report rep;
  int32_t *v = gc_read_all_i32(r, ch, &rep);
  size_t wrong_nan = 0, wrong_val = 0, bad_samples = 0;
  for (size_t k = 0; k < nb; k++) {
    int isbad = in_set(bad, nbad, k);
    for (int64_t i = b[k].start_sample;
         i < b[k].start_sample + (int64_t)b[k].n_samples; i++) {
      if (isbad) {
        bad_samples++;
        wrong_nan += v[i] != MEF3_RED_NAN;
      } else {
        wrong_val += v[i] != truth[i];
      }
    }
  }
  CHECK_MSG(wrong_nan == 0 && wrong_val == 0,
            "%s: sample read: %zu samples of bad blocks not NaN, %zu others "
            "differ from the truth",
            label, wrong_nan, wrong_val);
  CHECK_MSG(rep.n_valid == (int64_t)(n - bad_samples),
            "%s: n_valid %lld, want %zu", label, (long long)rep.n_valid,
            n - bad_samples);
  check_report(label, &rep, bad, nbad, codes, file, b, ci);

  /* By sample number, float32: the same positions NaN. */
  float *f = malloc(n * sizeof *f);
  size_t got = 0;
  CHECK_RC(mef3_reader_read_samples(&got, &rep, r, ch, 0, (int64_t)n, MEF3_F32,
                                    f, n),
           0);
  size_t fbad = 0;
  for (size_t i = 0; i < n; i++)
    fbad += (v[i] == MEF3_RED_NAN) != (isnan(f[i]) != 0);
  CHECK_MSG(fbad == 0, "%s: float32 NaN positions differ in %zu", label, fbad);
  check_report(label, &rep, bad, nbad, codes, file, b, ci);
  free(f);

  /* By time: each block at the slot of its start time. */
  int64_t w = mef3_window_samples(ci->start_uutc, ci->end_uutc, ci->fs);
  int32_t *t = malloc((size_t)w * sizeof *t);
  uint8_t *valid = malloc((size_t)w);
  CHECK_RC(mef3_reader_read_time(&got, &rep, r, ch, ci->start_uutc,
                                 ci->end_uutc, MEF3_I32, t, (size_t)w, valid),
           0);
  size_t tbad = 0;
  for (size_t k = 0; k < nb; k++) {
    int64_t s =
        llround((double)(b[k].start_uutc - ci->start_uutc) * ci->fs / 1e6);
    int isbad = in_set(bad, nbad, k);
    for (uint32_t i = 0; i < b[k].n_samples && s + i < w; i++) {
      int32_t want = isbad ? MEF3_RED_NAN : truth[b[k].start_sample + i];
      if (t[s + i] != want || valid[s + i] != (want != MEF3_RED_NAN)) {
        if (tbad++ < 3)
          fprintf(stderr, "  %s: time slot %lld (block %zu): %d, want %d\n",
                  label, (long long)(s + i), k, t[s + i], want);
      }
    }
  }
  CHECK_MSG(tbad == 0, "%s: time read: %zu slots wrong", label, tbad);
  check_report(label, &rep, bad, nbad, codes, file, b, ci);
  free(t);
  free(valid);
  free(v);
}

static mef3_reader *open_copy(const char *path, int check_crc) {
  mef3_reader_options o = MEF3_READER_OPTIONS_INIT;
  o.check_block_crc = check_crc;
  mef3_reader *r = NULL;
  int rc = mef3_reader_open(&r, path, &o);
  CHECK_MSG(rc == 0, "open %s: %s (%s)", path, mef3_errname(rc),
            mef3_error_last()->message);
  return r;
}

/* Offset of block k in the pristine session. */
static mef3_block_info block_of(const char *rel, size_t ch, size_t k) {
  mef3_reader *r = gc_must_open(tu_golden(rel), NULL);
  const mef3_block_info *b;
  size_t nb;
  REQUIRE(mef3_reader_blocks(&b, &nb, r, ch) == 0 && k < nb);
  mef3_block_info x = b[k];
  mef3_reader_close(r);
  return x;
}

static char *path2(const char *a, const char *b) {
  static char buf[4][4096];
  static int slot;
  char *p = buf[slot++ & 3];
  snprintf(p, 4096, "%s%s", a, b);
  return p;
}

static const int ECRC_ONLY[] = {MEF3_ECRC, 0};
static const int ECORRUPT_ONLY[] = {MEF3_ECORRUPT, 0};
static const int CRC_OR_CORRUPT[] = {MEF3_ECRC, MEF3_ECORRUPT, 0};

/* One byte of block k flipped at `where` (offset inside the block). */
static void flip_case(const char *tag, size_t k, long where, uint8_t mask,
                      const int *codes_on, const int *codes_off) {
  const char *s = gc_scratch_copy(tag, A_REL);
  mef3_block_info bk = block_of(A_REL, 0, k);
  REQUIRE(gc_flip(path2(s, A_TDAT), (long)bk.file_offset + where, mask) == 0);
  size_t bad[] = {k};
  char label[128];
  snprintf(label, sizeof label, "%s (CRC checked)", tag);
  mef3_reader *r = open_copy(s, 1);
  if (r)
    expect_bad(label, r, 0, a_truth, bad, 1, codes_on, "ch01-000000.tdat");
  mef3_reader_close(r);
  if (!codes_off)
    return;
  /* Without the CRC check the damage reaches the decoder. */
  snprintf(label, sizeof label, "%s (CRC not checked)", tag);
  r = open_copy(s, 0);
  if (r)
    expect_bad(label, r, 0, a_truth, bad, 1, codes_off, "ch01-000000.tdat");
  mef3_reader_close(r);
}

/* Flipped compressed data without the CRC check: different output for
 * that block (or a decode error), never a crash, other blocks intact. */
static void test_data_flip_unchecked(void) {
  const char *s = gc_scratch_copy("data-nocrc", A_REL);
  size_t k = 9;
  mef3_block_info bk = block_of(A_REL, 0, k);
  REQUIRE(gc_flip(path2(s, A_TDAT), (long)bk.file_offset + 304 + 200, 0x5a) ==
          0);
  mef3_reader *r = open_copy(s, 0);
  if (!r)
    return;
  mef3_read_report rep;
  int32_t *v = gc_read_all_i32(r, 0, &rep);
  size_t other = 0, differ = 0;
  for (size_t i = 0; i < a_n; i++) {
    int inblock = (int64_t)i >= bk.start_sample &&
                  (int64_t)i < bk.start_sample + bk.n_samples;
    if (inblock)
      differ += v[i] != a_truth[i];
    else
      other += v[i] != a_truth[i];
  }
  CHECK_MSG(other == 0, "unchecked flip: %zu samples outside block %zu differ",
            other, k);
  CHECK_MSG(differ > 0, "unchecked flip: block %zu decodes to the truth", k);
  CHECK_MSG(rep.n_bad_blocks == 0 ||
                (rep.n_bad_blocks == 1 && rep.bad_blocks[0] == k &&
                 rep.first_error == MEF3_ECORRUPT),
            "unchecked flip: %zu bad blocks, %s", rep.n_bad_blocks,
            mef3_errname(rep.first_error));
  /* A window that does not touch the block is clean. */
  int32_t w[500];
  size_t got = 0;
  CHECK_RC(mef3_reader_read_samples(&got, &rep, r, 0, 0, 500, MEF3_I32, w, 500),
           0);
  CHECK(rep.n_bad_blocks == 0 && memcmp(w, a_truth, sizeof w) == 0);
  free(v);
  mef3_reader_close(r);
}

/* A read that touches only part of a bad block, and reads around it. */
static void test_partial_windows(void) {
  const char *s = gc_scratch_copy("partial", A_REL);
  mef3_block_info bk = block_of(A_REL, 0, 5);
  REQUIRE(gc_flip(path2(s, A_TDAT), (long)bk.file_offset + 304 + 17, 0x01) ==
          0);
  mef3_reader *r = open_copy(s, 1);
  if (!r)
    return;
  int32_t v[300];
  size_t got = 0;
  mef3_read_report rep;
  /* Inside block 5 only. */
  CHECK_RC(
      mef3_reader_read_samples(&got, &rep, r, 0, 5100, 5200, MEF3_I32, v, 300),
      0);
  int all_nan = 1;
  for (int i = 0; i < 100; i++)
    all_nan &= v[i] == MEF3_RED_NAN;
  CHECK_MSG(got == 100 && all_nan && rep.n_bad_blocks == 1 &&
                rep.bad_blocks[0] == 5 && rep.first_error == MEF3_ECRC &&
                rep.n_valid == 0,
            "inside bad block: %zu bad, %s, %lld valid", rep.n_bad_blocks,
            mef3_errname(rep.first_error), (long long)rep.n_valid);
  /* Straddling blocks 4|5|6: only the middle part NaN. */
  static int32_t big[1200];
  CHECK_RC(mef3_reader_read_samples(&got, &rep, r, 0, 4900, 6100, MEF3_I32, big,
                                    1200),
           0);
  size_t wrong = 0;
  for (int i = 0; i < 1200; i++) {
    int64_t sn = 4900 + i;
    int32_t want = sn >= 5000 && sn < 6000 ? MEF3_RED_NAN : a_truth[sn];
    wrong += big[i] != want;
  }
  CHECK_MSG(wrong == 0 && rep.n_bad_blocks == 1 && rep.n_valid == 200,
            "straddling read: %zu wrong, %zu bad blocks", wrong,
            rep.n_bad_blocks);
  /* Neighbouring blocks alone are clean. */
  CHECK_RC(mef3_reader_read_samples(&got, &rep, r, 0, 4000, 5000, MEF3_I32, big,
                                    1200),
           0);
  CHECK(rep.n_bad_blocks == 0 && memcmp(big, a_truth + 4000, 4000) == 0);
  /* The same read twice gives the same (no state left behind). */
  CHECK_RC(mef3_reader_read_samples(&got, &rep, r, 0, 6000, 7000, MEF3_I32, big,
                                    1200),
           0);
  CHECK(rep.n_bad_blocks == 0 && memcmp(big, a_truth + 6000, 4000) == 0);
  mef3_reader_close(r);
}

/* Rewrite the .tidx after changing entries: body CRC, then header CRC,
 * so that the reader gets past the file checks to the intended one. */
static void rewrite_index(const char *tidx, void (*edit)(uint8_t *, size_t)) {
  size_t len = 0;
  uint8_t *buf = tu_read_file(tidx, &len);
  REQUIRE(buf && len > 1024);
  edit(buf, len);
  uint32_t body = mef3_crc32(buf + 1024, len - 1024);
  memcpy(buf + 4, &body, 4);
  uint32_t head = mef3_crc32(buf + 4, 1020);
  memcpy(buf, &head, 4);
  FILE *f = fopen(tidx, "wb");
  REQUIRE(f && fwrite(buf, 1, len, f) == len);
  fclose(f);
  free(buf);
}

static int64_t g_tdat_len;

static void edit_offset_past_end(uint8_t *b, size_t len) {
  int64_t off = g_tdat_len + 4096; /* entry 7 */
  memcpy(b + 1024 + 7 * 56, &off, 8);
  (void)len;
}

static void edit_offset_misaligned(uint8_t *b, size_t len) {
  int64_t off;
  memcpy(&off, b + 1024 + 11 * 56, 8); /* entry 11, 8 bytes late */
  off += 8;
  memcpy(b + 1024 + 11 * 56, &off, 8);
  (void)len;
}

static void edit_last_bytes_past_end(uint8_t *b, size_t len) {
  size_t last = (len - 1024) / 56 - 1; /* the last block grows by 100 */
  uint32_t bytes;
  memcpy(&bytes, b + 1024 + last * 56 + 28, 4);
  bytes += 100;
  memcpy(b + 1024 + last * 56 + 28, &bytes, 4);
}

static void edit_bytes_short(uint8_t *b, size_t len) {
  uint32_t bytes; /* entry 3 claims 100 bytes fewer than its block */
  memcpy(&bytes, b + 1024 + 3 * 56 + 28, 4);
  bytes -= 100;
  memcpy(b + 1024 + 3 * 56 + 28, &bytes, 4);
  (void)len;
}

static void test_index_points_past_end(void) {
  const char *s = gc_scratch_copy("idx-past-end", A_REL);
  struct stat st;
  REQUIRE(stat(path2(s, A_TDAT), &st) == 0);
  g_tdat_len = st.st_size;
  rewrite_index(path2(s, A_TIDX), edit_offset_past_end);
  mef3_reader *r = open_copy(s, 1);
  size_t bad[] = {7};
  if (r) {
    const mef3_block_info *b;
    size_t nb;
    mef3_reader_blocks(&b, &nb, r, 0);
    CHECK(b[7].file_offset == g_tdat_len + 4096);
    expect_bad("index entry past the end", r, 0, a_truth, bad, 1, ECORRUPT_ONLY,
               "ch01-000000.tdat");
  }
  mef3_reader_close(r);

  s = gc_scratch_copy("idx-misaligned", A_REL);
  rewrite_index(path2(s, A_TIDX), edit_offset_misaligned);
  r = open_copy(s, 1);
  size_t bad2[] = {11};
  if (r)
    expect_bad("index entry 8 bytes off", r, 0, a_truth, bad2, 1,
               CRC_OR_CORRUPT, "ch01-000000.tdat");
  mef3_reader_close(r);

  s = gc_scratch_copy("idx-last-long", A_REL);
  rewrite_index(path2(s, A_TIDX), edit_last_bytes_past_end);
  r = open_copy(s, 1);
  size_t bad3[] = {46};
  if (r)
    expect_bad("last block runs past the end", r, 0, a_truth, bad3, 1,
               ECORRUPT_ONLY, "ch01-000000.tdat");
  mef3_reader_close(r);

  s = gc_scratch_copy("idx-short-bytes", A_REL);
  rewrite_index(path2(s, A_TIDX), edit_bytes_short);
  r = open_copy(s, 1);
  size_t bad4[] = {3};
  if (r)
    expect_bad("index entry shorter than its block", r, 0, a_truth, bad4, 1,
               ECORRUPT_ONLY, "ch01-000000.tdat");
  mef3_reader_close(r);
}

/* The data file cut inside block k: blocks k.. are NaN. */
static void test_tdat_truncated(void) {
  const char *s = gc_scratch_copy("tdat-cut", A_REL);
  size_t k = 20;
  mef3_block_info bk = block_of(A_REL, 0, k);
  REQUIRE(truncate(path2(s, A_TDAT), bk.file_offset + bk.bytes / 2) == 0);
  mef3_reader *r = open_copy(s, 1);
  size_t bad[64], nbad = 0;
  for (size_t i = k; i < 47; i++)
    bad[nbad++] = i;
  if (r)
    expect_bad("tdat cut in block 20", r, 0, a_truth, bad, nbad, ECORRUPT_ONLY,
               "ch01-000000.tdat");
  mef3_reader_close(r);

  /* Cut just after the header of block k (all its data missing). */
  s = gc_scratch_copy("tdat-cut-hdr", A_REL);
  REQUIRE(truncate(path2(s, A_TDAT), bk.file_offset + 304) == 0);
  r = open_copy(s, 1);
  if (r)
    expect_bad("tdat cut after block 20's header", r, 0, a_truth, bad, nbad,
               ECORRUPT_ONLY, "ch01-000000.tdat");
  mef3_reader_close(r);

  /* Cut one byte short of the end: only the last block. */
  mef3_block_info last = block_of(A_REL, 0, 46);
  s = gc_scratch_copy("tdat-cut-1", A_REL);
  REQUIRE(truncate(path2(s, A_TDAT), last.file_offset + last.bytes - 1) == 0);
  r = open_copy(s, 1);
  size_t bad1[] = {46};
  if (r)
    expect_bad("tdat one byte short", r, 0, a_truth, bad1, 1, ECORRUPT_ONLY,
               "ch01-000000.tdat");
  mef3_reader_close(r);

  /* Zero-length data file: the channel opens (the index is intact), every
   * block is NaN. */
  s = gc_scratch_copy("tdat-empty", A_REL);
  REQUIRE(truncate(path2(s, A_TDAT), 0) == 0);
  r = open_copy(s, 1);
  size_t all[47];
  for (size_t i = 0; i < 47; i++)
    all[i] = i;
  if (r)
    expect_bad("zero-length tdat", r, 0, a_truth, all, 47, ECORRUPT_ONLY,
               "ch01-000000.tdat");
  mef3_reader_close(r);

  /* Only the universal header left. */
  s = gc_scratch_copy("tdat-header-only", A_REL);
  REQUIRE(truncate(path2(s, A_TDAT), 1024) == 0);
  r = open_copy(s, 1);
  if (r)
    expect_bad("tdat of 1024 bytes", r, 0, a_truth, all, 47, ECORRUPT_ONLY,
               "ch01-000000.tdat");
  mef3_reader_close(r);
}

/* Several bad blocks in one channel, including more than the report
 * lists, and a bad block in a later segment of a multi-segment channel. */
static void test_many_and_segments(void) {
  const char *rel = "sessions/b_multi_8ch.mefd";
  const char *s = gc_scratch_copy("many", rel);
  size_t nt = 0;
  int32_t *t2 =
      gc_load_i32(tu_golden("sessions/b_multi_8ch.truth/ch02.i32"), &nt);
  REQUIRE(t2);
  mef3_reader *r0 = gc_must_open(tu_golden(rel), NULL);
  const mef3_block_info *b;
  size_t nb;
  REQUIRE(mef3_reader_blocks(&b, &nb, r0, 1) == 0 && nb == 60);
  size_t bad[30], nbad = 0;
  for (size_t k = 3; k < 60; k += 2) /* every other block from 3 on */
    bad[nbad++] = k;
  const char *tdat = path2(s, "/ch02.timd/ch02-000000.segd/ch02-000000.tdat");
  for (size_t i = 0; i < nbad; i++)
    REQUIRE(gc_flip(tdat, (long)b[bad[i]].file_offset + 310, 0x80) == 0);
  mef3_reader_close(r0);
  mef3_reader *r = open_copy(s, 1);
  if (r) {
    expect_bad("29 bad blocks", r, 1, t2, bad, nbad, ECRC_ONLY,
               "ch02-000000.tdat");
    /* The other channels are untouched. */
    mef3_read_report rep;
    size_t n1 = 0;
    int32_t *t1 =
        gc_load_i32(tu_golden("sessions/b_multi_8ch.truth/ch01.i32"), &n1);
    int32_t *v = gc_read_all_i32(r, 0, &rep);
    CHECK(t1 && rep.n_bad_blocks == 0 && memcmp(v, t1, n1 * 4) == 0);
    free(v);
    free(t1);
  }
  mef3_reader_close(r);
  free(t2);

  /* c_discontinuities ch01: block 4 of segment 1. */
  rel = "sessions/c_discontinuities.mefd";
  s = gc_scratch_copy("segment1", rel);
  int32_t *tc =
      gc_load_i32(tu_golden("sessions/c_discontinuities.truth/ch01.i32"), &nt);
  REQUIRE(tc);
  r0 = gc_must_open(tu_golden(rel), NULL);
  const mef3_segment_info *si = mef3_reader_segment(r0, 0, 1);
  REQUIRE(si && mef3_reader_blocks(&b, &nb, r0, 0) == 0);
  size_t k = si->first_block + 4;
  REQUIRE(gc_flip(path2(s, "/ch01.timd/ch01-000001.segd/ch01-000001.tdat"),
                  (long)b[k].file_offset + 400, 0x10) == 0);
  mef3_reader_close(r0);
  r = open_copy(s, 1);
  size_t badc[] = {k};
  if (r)
    expect_bad("segment 1 block 4", r, 0, tc, badc, 1, ECRC_ONLY,
               "ch01-000001.tdat");
  mef3_reader_close(r);
  free(tc);
}

/*
 * One message whole, against the golden JSON (not the reader's own
 * table): a CRC failure in block 3 of ch02's segment 1 of
 * c_discontinuities (block 23 of the channel) names the data file and
 * offset, then the block, its channel and segment, and the samples and
 * µUTC span that read as NaN; `mef3pool read` prints the same.
 */
static void test_message_names_the_block(void) {
  const char *rel = "sessions/c_discontinuities.mefd";
  const char *s = gc_scratch_copy("message", rel);
  cJSON *j = tu_read_json(tu_golden("sessions/c_discontinuities.json"));
  REQUIRE(j);
  const cJSON *ch =
      cJSON_GetObjectItem(cJSON_GetObjectItem(j, "channels"), "ch02");
  const cJSON *seg = cJSON_GetArrayItem(cJSON_GetObjectItem(ch, "segments"), 1);
  const cJSON *blk = cJSON_GetArrayItem(cJSON_GetObjectItem(seg, "blocks"), 3);
  REQUIRE(ch && seg && blk && gc_i64(seg, "segment_number") == 1);
  size_t before = (size_t)cJSON_GetArraySize(cJSON_GetObjectItem(
      cJSON_GetArrayItem(cJSON_GetObjectItem(ch, "segments"), 0), "blocks"));
  int64_t off = gc_i64(blk, "file_offset");
  int64_t s0 = gc_i64(seg, "start_sample") +
               gc_i64(blk, "start_sample_in_segment");
  int64_t n = gc_i64(blk, "number_of_samples");
  int64_t t0 = gc_i64(blk, "start_uutc");
  int64_t t1 = t0 + llround((double)n * 1e6 / gc_num(ch, "fs"));
  const char *tdat = path2(s, "/ch02.timd/ch02-000001.segd/ch02-000001.tdat");
  REQUIRE(gc_flip(tdat, (long)off + 304 + 10, 0x01) == 0);
  char want[1024];
  snprintf(want, sizeof want,
           "%s: at offset %lld: RED block CRC mismatch; block %zu of channel "
           "ch02 (segment 1): samples [%lld, %lld), µUTC [%lld, %lld) read "
           "as NaN",
           tdat, (long long)off, before + 3, (long long)s0,
           (long long)(s0 + n), (long long)t0, (long long)t1);

  mef3_reader *r = open_copy(s, 1);
  REQUIRE(r);
  int found = mef3_reader_find_channel(r, "ch02");
  REQUIRE(found >= 0);
  size_t ci = (size_t)found;
  const mef3_channel_info *info = mef3_reader_channel(r, ci);
  size_t cap = (size_t)info->n_samples + 1000, got = 0;
  int32_t *v = malloc(cap * sizeof *v);
  mef3_read_report rep;
  CHECK_RC(mef3_reader_read_samples(&got, &rep, r, ci, 0, info->n_samples,
                                    MEF3_I32, v, cap),
           0);
  CHECK_MSG(rep.n_bad_blocks == 1 && rep.first_error == MEF3_ECRC &&
                !strcmp(rep.first_message, want),
            "sample read:\n  got  %s\n  want %s", rep.first_message, want);
  CHECK(v[s0] == MEF3_RED_NAN && v[s0 + n - 1] == MEF3_RED_NAN &&
        v[s0 - 1] != MEF3_RED_NAN && v[s0 + n] != MEF3_RED_NAN);
  CHECK_RC(mef3_reader_read_time(&got, &rep, r, ci, t0 - 1000000, t1 + 1000000,
                                 MEF3_I32, v, cap, NULL),
           0);
  CHECK_MSG(rep.n_bad_blocks == 1 && !strcmp(rep.first_message, want),
            "time read:\n  got  %s\n  want %s", rep.first_message, want);
  free(v);
  mef3_reader_close(r);

  const char *dir = tu_scratch("message-cli");
  char out[4200], err[4200];
  snprintf(out, sizeof out, "%s/x.f32", dir);
  snprintf(err, sizeof err, "%s/err.txt", dir);
  CHECK(tu_system("'%s' read '%s' --channels ch02 --samples 0:%lld -o '%s' "
                  "2>'%s'",
                  MEF3_CLI, s, (long long)(s0 + n + 10), out, err) == 0);
  size_t len = 0;
  char *e = tu_read_file(err, &len);
  CHECK_MSG(e && strstr(e, want), "mef3pool read: %s", e ? e : "(no stderr)");
  free(e);
  cJSON_Delete(j);
}

int main(int argc, char **argv) {
  REQUIRE(tu_have_golden());
  a_truth =
      gc_load_i32(tu_golden("sessions/a_single_256hz.truth/ch01.i32"), &a_n);
  REQUIRE(a_truth && a_n == 46080);

  /* Compressed data of block 5: CRC; unchecked, see below. */
  flip_case("data", 5, 304 + 100, 0x01, ECRC_ONLY, NULL);
  /* The stored CRC itself. */
  flip_case("crc-field", 12, 0, 0xff, ECRC_ONLY, NULL);
  /* The sample count in the block header (1000 -> 1001 and 1000 -> 992):
   * CRC when checked; unchecked, the block disagrees with its index. */
  flip_case("count-up", 30, 32, 0x01, ECRC_ONLY, ECORRUPT_ONLY);
  flip_case("count-down", 31, 32, 0x08, ECRC_ONLY, ECORRUPT_ONLY);
  flip_case("count-huge", 32, 35, 0x40, ECRC_ONLY, ECORRUPT_ONLY);
  /* The block's own byte count (larger than its index entry, smaller). */
  flip_case("bytes-up", 40, 37, 0x01, CRC_OR_CORRUPT, ECORRUPT_ONLY);
  flip_case("bytes-down", 41, 36, 0x80, CRC_OR_CORRUPT, NULL);
  /* The statistics table (symbol counts) and the difference count. */
  flip_case("stats", 2, 48 + 129, 0xff, ECRC_ONLY, NULL);
  flip_case("diff-bytes", 3, 30, 0x01, ECRC_ONLY, NULL);
  /* The first and the last block. */
  flip_case("first", 0, 304, 0x01, ECRC_ONLY, NULL);
  flip_case("last", 46, 304 + 20, 0x01, ECRC_ONLY, NULL);
  static const check_case cases[] = {
      CASE(test_data_flip_unchecked),
      CASE(test_partial_windows),
      CASE(test_index_points_past_end),
      CASE(test_tdat_truncated),
      CASE(test_many_and_segments),
      CASE(test_message_names_the_block),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  free(a_truth);
  return check_finish();
}
