/*
 * test_reader_damage_segments - the damage table's rows about how a
 * session's pieces fit together, on scratch copies of golden sessions:
 *
 * - segments: a duplicated segment directory, two segments claiming one
 *   number, segments overlapping in time, a missing first or middle
 *   segment, a gap in the segment numbers, a missing last segment;
 * - metadata against index: a segment's start sample that disagrees with
 *   the samples before it, sample and block counts above or below the
 *   index's;
 * - index against data: entries that overlap (one pointing at the block
 *   before it, or inside it), two entries swapped, an entry whose start
 *   time disagrees with its block.
 *
 * Damage that makes the session's layout ambiguous ends the open with
 * MEF3_ECORRUPT and a message naming the file or directory.  Damage
 * confined to blocks gives NaN for exactly those blocks, reported with
 * their code and a message naming the data file and offset, and every
 * other sample equal to the truth, wherever it lands (time and sample
 * reads).  Edits behind a CRC recompute it so the case reaches the check
 * it is about.  Run under ASan as well.
 */
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "golden_check.h"

#define A_REL "sessions/a_single_256hz.mefd"
#define C_REL "sessions/c_discontinuities.mefd"
#define A_SEG "/ch01.timd/ch01-000000.segd/ch01-000000"
#define C_CH1 "/ch01.timd"
#define C_SEG(n) "/ch01.timd/ch01-00000" #n ".segd/ch01-00000" #n

static char *path2(const char *a, const char *b) {
  static char buf[8][4096];
  static int slot;
  char *p = buf[slot++ & 7];
  snprintf(p, 4096, "%s%s", a, b);
  return p;
}

/* ---- editing files ---- */

/* Load `path`, let `edit` change it (and its length), recompute the body
 * CRC (bytes 1024.. into 4..7) when `body` and the header CRC, write it
 * back. */
static void rewrite(const char *path, void (*edit)(uint8_t *, size_t *),
                    int body) {
  size_t len = 0;
  uint8_t *b = tu_read_file(path, &len);
  REQUIRE(b && len >= 1024);
  edit(b, &len);
  if (body) {
    uint32_t c = mef3_crc32(b + 1024, len - 1024);
    memcpy(b + 4, &c, 4);
  }
  uint32_t h = mef3_crc32(b + 4, 1020);
  memcpy(b, &h, 4);
  FILE *f = fopen(path, "wb");
  REQUIRE(f && fwrite(b, 1, len, f) == len);
  fclose(f);
  free(b);
}

static int32_t g_int; /* parameter of the edits below */
static int64_t g_i64;
static size_t g_k;

static void e_segment_number(uint8_t *b, size_t *n) {
  memcpy(b + 48, &g_int, 4); /* universal header: segment number */
  (void)n;
}
static void e_entries_drop(uint8_t *b, size_t *n) { /* drop g_k entries */
  *n -= g_k * 56;
  int64_t e = (int64_t)((*n - 1024) / 56);
  memcpy(b + 32, &e, 8);
}
static void e_md_i64(uint8_t *b, size_t *n) { /* metadata field g_k */
  memcpy(b + g_k, &g_i64, 8);
  (void)n;
}
/* Every index entry's time, and every block header's, moved g_i64 µs
 * earlier (times on disk are negated). */
static void e_index_times(uint8_t *b, size_t *n) {
  for (size_t at = 1024; at + 56 <= *n; at += 56) {
    int64_t t;
    memcpy(&t, b + at + 8, 8);
    t += g_i64;
    memcpy(b + at + 8, &t, 8);
  }
}
static const char *g_tidx; /* the index the block edit follows */
static void e_block_times(uint8_t *b, size_t *n) {
  size_t ilen = 0;
  uint8_t *ix = tu_read_file(g_tidx, &ilen);
  REQUIRE(ix);
  for (size_t at = 1024; at + 56 <= ilen; at += 56) {
    int64_t off, t;
    uint32_t bytes;
    memcpy(&off, ix + at, 8);
    memcpy(&bytes, ix + at + 28, 4);
    REQUIRE((size_t)off + bytes <= *n);
    memcpy(&t, b + off + 40, 8);
    t += g_i64;
    memcpy(b + off + 40, &t, 8);
    uint32_t c = mef3_crc32(b + off + 4, bytes - 4);
    memcpy(b + off, &c, 4);
  }
  free(ix);
}

/* Index entry edits on a_single (entries of 56 bytes from 1024). */
static void e_entry_to_previous(uint8_t *b, size_t *n) {
  uint8_t *e = b + 1024 + g_k * 56, *p = e - 56;
  memcpy(e, p, 8);           /* the previous block's offset */
  memcpy(e + 28, p + 28, 4); /* and size */
  (void)n;
}
static void e_entry_inside_previous(uint8_t *b, size_t *n) {
  uint8_t *e = b + 1024 + g_k * 56;
  int64_t off;
  memcpy(&off, e - 56, 8);
  off += 200;
  memcpy(e, &off, 8);
  (void)n;
}
static void e_entries_swapped(uint8_t *b, size_t *n) {
  uint8_t *x = b + 1024 + g_k * 56, *y = x + 56, t[8];
  memcpy(t, x, 8), memcpy(x, y, 8), memcpy(y, t, 8);
  memcpy(t, x + 28, 4), memcpy(x + 28, y + 28, 4), memcpy(y + 28, t, 4);
  (void)n;
}
static void e_entry_time(uint8_t *b, size_t *n) { /* g_i64 µs later */
  uint8_t *e = b + 1024 + g_k * 56;
  int64_t t;
  memcpy(&t, e + 8, 8);
  t -= g_i64;
  memcpy(e + 8, &t, 8);
  (void)n;
}

/* ---- checks ---- */

static void expect_open_fails(const char *label, const char *path, int want,
                              const char *names) {
  mef3_reader *r = NULL;
  mef3_error_clear();
  int rc = mef3_reader_open(&r, path, NULL);
  CHECK_MSG(rc == want, "%s: open gave %s (%s), want %s", label,
            mef3_errname(rc), mef3_error_last()->message, mef3_errname(want));
  if (rc == 0) {
    mef3_reader_close(r);
    return;
  }
  CHECK_MSG(r == NULL, "%s: *out set after a failed open", label);
  CHECK_MSG(strstr(mef3_error_last()->message, names) != NULL,
            "%s: message does not name %s: %s", label, names,
            mef3_error_last()->message);
  printf("  %-44s %s: %s\n", label, mef3_errname(rc),
         mef3_error_last()->message);
}

static int in_set(const size_t *set, size_t n, size_t k) {
  for (size_t i = 0; i < n; i++)
    if (set[i] == k)
      return 1;
  return 0;
}

/*
 * Read channel `ch` whole by sample number and by time and check it
 * against `truth` (its samples in storage order): blocks in `bad` NaN and
 * reported (first error in `codes`, message naming `file`, the first
 * bad block's offset, the block, its channel and segment), every other
 * block's samples equal to the truth.
 * The expected time read is built with the reader's placement rule from
 * the damaged session's own block table: each block at the slot nearest
 * its start, later blocks over earlier ones, empty slots NaN.
 */
static void expect_blocks(const char *label, mef3_reader *r, size_t ch,
                          const int32_t *truth, size_t n_truth,
                          const size_t *bad, size_t nbad, const int *codes,
                          const char *file) {
  const mef3_channel_info *ci = mef3_reader_channel(r, ch);
  const mef3_block_info *b;
  size_t nb;
  REQUIRE(mef3_reader_blocks(&b, &nb, r, ch) == 0);
  size_t n = (size_t)ci->n_samples;
  REQUIRE(n <= n_truth);
  mef3_read_report rep;

  /* By sample number. */
  int32_t *v = gc_read_all_i32(r, ch, &rep);
  size_t wrong = 0;
  for (size_t k = 0; k < nb; k++)
    for (int64_t i = b[k].start_sample;
         i < b[k].start_sample + (int64_t)b[k].n_samples; i++)
      wrong += v[i] != (in_set(bad, nbad, k) ? MEF3_RED_NAN : truth[i]);
  CHECK_MSG(wrong == 0, "%s: sample read: %zu samples wrong", label, wrong);
  free(v);
  const mef3_read_report sample_rep = rep;

  /* By time. */
  int64_t w = mef3_window_samples(ci->start_uutc, ci->end_uutc, ci->fs);
  int32_t *t = malloc((size_t)w * sizeof *t), *want = malloc((size_t)w * 4);
  size_t got = 0;
  CHECK_RC(mef3_reader_read_time(&got, &rep, r, ch, ci->start_uutc,
                                 ci->end_uutc, MEF3_I32, t, (size_t)w, NULL),
           0);
  for (int64_t i = 0; i < w; i++)
    want[i] = MEF3_RED_NAN;
  for (size_t k = 0; k < nb; k++) {
    int64_t s =
        llround((double)(b[k].start_uutc - ci->start_uutc) * ci->fs / 1e6);
    for (int64_t i = 0; i < (int64_t)b[k].n_samples; i++)
      if (s + i >= 0 && s + i < w)
        want[s + i] =
            in_set(bad, nbad, k) ? MEF3_RED_NAN : truth[b[k].start_sample + i];
  }
  size_t tw = 0;
  for (int64_t i = 0; i < w; i++)
    if (t[i] != want[i] && tw++ < 3)
      fprintf(stderr, "  %s: time slot %lld: %d, want %d\n", label,
              (long long)i, t[i], want[i]);
  CHECK_MSG(tw == 0, "%s: time read: %zu slots wrong", label, tw);
  free(t);
  free(want);

  /* Both reads report the bad blocks alike. */
  const mef3_read_report *reps[2] = {&sample_rep, &rep};
  for (int q = 0; q < 2; q++) {
    const mef3_read_report *p = reps[q];
    CHECK_MSG(p->n_bad_blocks == nbad, "%s: %zu bad blocks reported, want %zu",
              label, p->n_bad_blocks, nbad);
    for (size_t i = 0; i < nbad && i < p->n_bad_blocks; i++)
      CHECK_MSG(p->bad_blocks[i] == bad[i], "%s: bad block %zu, want %zu",
                label, p->bad_blocks[i], bad[i]);
    if (!nbad)
      continue;
    int ok = 0;
    for (const int *c = codes; *c; c++)
      ok |= p->first_error == *c;
    CHECK_MSG(ok, "%s: first error %s (%s)", label,
              mef3_errname(p->first_error), p->first_message);
    char off[64];
    snprintf(off, sizeof off, "offset %lld", (long long)b[bad[0]].file_offset);
    CHECK_MSG(strstr(p->first_message, file) && strstr(p->first_message, off),
              "%s: message does not name %s at %s: %s", label, file, off,
              p->first_message);
    char which[128];
    snprintf(which, sizeof which,
             "; block %zu of channel %s (segment %d): samples [%lld, ", bad[0],
             ci->name, (int)b[bad[0]].segment,
             (long long)b[bad[0]].start_sample);
    CHECK_MSG(strstr(p->first_message, which), "%s: message does not say %s: %s",
              label, which, p->first_message);
  }
  if (nbad)
    printf("  %-44s %zu bad: %s: %s\n", label, nbad,
           mef3_errname(rep.first_error), rep.first_message);
  else
    printf("  %-44s all blocks read\n", label);
}

static mef3_reader *must_open(const char *label, const char *path) {
  mef3_reader *r = NULL;
  int rc = mef3_reader_open(&r, path, NULL);
  CHECK_MSG(rc == 0, "%s: open: %s (%s)", label, mef3_errname(rc),
            mef3_error_last()->message);
  return r;
}

static const int ECORRUPT_ONLY[] = {MEF3_ECORRUPT, 0};
static const int CRC_OR_CORRUPT[] = {MEF3_ECRC, MEF3_ECORRUPT, 0};

static int32_t *a_truth, *c_truth1, *c_truth2;
static size_t a_n, c_n1, c_n2;

/* ---- segments ---- */

/* Rewrite the segment number of segment `seg` of c's ch01 in its three
 * files' universal headers. */
static void renumber(const char *s, const char *seg_base, int32_t number) {
  static const char *ext[] = {".tmet", ".tidx", ".tdat"};
  g_int = number;
  for (int i = 0; i < 3; i++) {
    char p[4200];
    snprintf(p, sizeof p, "%s%s%s", s, seg_base, ext[i]);
    rewrite(p, e_segment_number, 0);
  }
}

static void test_segments(void) {
  printf("segments:\n");
  const char *s;

  /* Segment 1 copied whole under the next free name, files renamed to
   * match: two directories hold segment 1. */
  s = gc_scratch_copy("dup-dir", C_REL);
  REQUIRE(tu_system("cd '%s' && cp -a ch01-000001.segd ch01-000003.segd && "
                    "cd ch01-000003.segd && for e in tmet tidx tdat; do "
                    "mv ch01-000001.$e ch01-000003.$e; done",
                    path2(s, C_CH1)) == 0);
  expect_open_fails("segment 1 copied as ch01-000003.segd", s, MEF3_ECORRUPT,
                    "ch01-000003.segd");
  /* A copy whose files keep their old names is not a segment at all. */
  s = gc_scratch_copy("stray-copy", C_REL);
  REQUIRE(tu_system("cp -a '%s' '%s'", path2(s, C_CH1 "/ch01-000001.segd"),
                    path2(s, C_CH1 "/ch01-000001-copy.segd")) == 0);
  expect_open_fails("segment 1 copied as ch01-000001-copy.segd", s,
                    MEF3_ENOTFOUND, "ch01-000001-copy.tmet");

  s = gc_scratch_copy("dup-number", C_REL);
  renumber(s, C_SEG(2), 1);
  expect_open_fails("two segments numbered 1", s, MEF3_ECORRUPT,
                    "ch01-000002.segd");

  /* Segment 1 moved 20 s earlier, index and blocks alike (CRCs redone):
   * it starts before segment 0's last block. */
  s = gc_scratch_copy("overlap", C_REL);
  g_i64 = 20000000;
  g_tidx = path2(s, C_SEG(1) ".tidx");
  rewrite(path2(s, C_SEG(1) ".tdat"), e_block_times, 0);
  rewrite(path2(s, C_SEG(1) ".tidx"), e_index_times, 1);
  expect_open_fails("segment 1 overlapping segment 0 in time", s, MEF3_ECORRUPT,
                    "ch01-000001.segd: segment 1 starts");

  s = gc_scratch_copy("no-middle", C_REL);
  REQUIRE(tu_system("rm -rf '%s'", path2(s, C_CH1 "/ch01-000001.segd")) == 0);
  expect_open_fails("missing middle segment directory", s, MEF3_ECORRUPT,
                    "ch01.timd");
  s = gc_scratch_copy("no-first", C_REL);
  REQUIRE(tu_system("rm -rf '%s'", path2(s, C_CH1 "/ch01-000000.segd")) == 0);
  expect_open_fails("missing first segment directory", s, MEF3_ECORRUPT,
                    "ch01.timd");
  s = gc_scratch_copy("number-gap", C_REL);
  renumber(s, C_SEG(2), 3);
  expect_open_fails("segment numbers 0, 1, 3", s, MEF3_ECORRUPT, "ch01.timd");

  /* The last segment gone cannot be told from a shorter recording: the
   * session opens with what is left, and reads exactly that. */
  s = gc_scratch_copy("no-last", C_REL);
  REQUIRE(tu_system("rm -rf '%s'", path2(s, C_CH1 "/ch01-000002.segd")) == 0);
  mef3_reader *r = must_open("missing last segment", s);
  if (r) {
    CHECK(mef3_reader_channel(r, 0)->n_segments == 2 &&
          mef3_reader_channel(r, 0)->n_samples == 54500);
    expect_blocks("missing last segment (ch01)", r, 0, c_truth1, c_n1, NULL, 0,
                  ECORRUPT_ONLY, "");
    expect_blocks("missing last segment (ch02 intact)", r, 1, c_truth2, c_n2,
                  NULL, 0, ECORRUPT_ONLY, "");
  }
  mef3_reader_close(r);
}

/* ---- metadata against index ---- */

static void test_counts(void) {
  printf("metadata against index:\n");
  const char *s;
  mef3_reader *r;

  /* Segment 0's index lost its last two entries (CRCs and entry count
   * made consistent): segment 1's metadata says it starts 2000 samples
   * later than segment 0 now ends, so sample numbers would shift. */
  s = gc_scratch_copy("start-sample", C_REL);
  g_k = 2;
  rewrite(path2(s, C_SEG(0) ".tidx"), e_entries_drop, 1);
  expect_open_fails("index of segment 0 two entries short", s, MEF3_ECORRUPT,
                    "ch01-000001.tmet");
  /* Segment 1's metadata start sample below what segment 0 holds. */
  s = gc_scratch_copy("start-sample-low", C_REL);
  g_k = 8912;
  g_i64 = 39000;
  rewrite(path2(s, C_SEG(1) ".tmet"), e_md_i64, 1);
  expect_open_fails("segment 1 start sample 500 too low", s, MEF3_ECORRUPT,
                    "ch01-000001.tmet");

  /* The last segment's metadata counts above the index's (an index that
   * lost its last entry): the index wins; the lost block's time reads
   * NaN, nothing shifts. */
  s = gc_scratch_copy("md-above", A_REL);
  g_k = 1;
  rewrite(path2(s, A_SEG ".tidx"), e_entries_drop, 1);
  r = must_open("metadata counts above the index", s);
  if (r) {
    const mef3_channel_info *ci = mef3_reader_channel(r, 0);
    CHECK(ci->n_blocks == 46 && ci->n_samples == 46000 &&
          ci->metadata->number_of_samples == 46080);
    expect_blocks("metadata counts above the index", r, 0, a_truth, a_n, NULL,
                  0, ECORRUPT_ONLY, "");
    /* The window of the lost last block (80 samples): NaN. */
    const mef3_block_info *b;
    size_t nb;
    REQUIRE(mef3_reader_blocks(&b, &nb, r, 0) == 0 && nb == 46);
    float x[80];
    size_t got = 0;
    mef3_read_report rep;
    int64_t t0 = b[45].start_uutc + 3906250;
    CHECK_RC(mef3_reader_read_time(&got, &rep, r, 0, t0, t0 + 312500, MEF3_F32,
                                   x, 80, NULL),
             0);
    CHECK(got == 80 && rep.n_valid == 0);
  }
  mef3_reader_close(r);

  /* Counts below the index's (a writer killed between checkpoints leaves
   * this): every indexed block reads. */
  s = gc_scratch_copy("md-below", A_REL);
  g_k = 8920;
  g_i64 = 30000;
  rewrite(path2(s, A_SEG ".tmet"), e_md_i64, 1);
  g_k = 8928;
  g_i64 = 30;
  rewrite(path2(s, A_SEG ".tmet"), e_md_i64, 1);
  r = must_open("metadata counts below the index", s);
  if (r) {
    CHECK(mef3_reader_channel(r, 0)->n_samples == 46080);
    expect_blocks("metadata counts below the index", r, 0, a_truth, a_n, NULL,
                  0, ECORRUPT_ONLY, "");
  }
  mef3_reader_close(r);
}

/* ---- index against data ---- */

typedef struct idx_case {
  const char *label;
  void (*edit)(uint8_t *, size_t *);
  size_t k;
  int64_t dt;
  size_t bad[2];
  size_t nbad;
  const int *codes;
} idx_case;

static void test_index_data(void) {
  printf("index against data:\n");
  /* a_single: 47 blocks of 1000 samples (3.906 s) at 256 Hz. */
  const idx_case cases[] = {
      {"entry 10 points at block 9 (same size)",
       e_entry_to_previous,
       10,
       0,
       {10},
       1,
       ECORRUPT_ONLY},
      {"entry 30 starts inside block 29",
       e_entry_inside_previous,
       30,
       0,
       {30},
       1,
       CRC_OR_CORRUPT},
      {"entries 20 and 21 swapped",
       e_entries_swapped,
       20,
       0,
       {20, 21},
       2,
       ECORRUPT_ONLY},
      {"entry 40 half a block late",
       e_entry_time,
       40,
       1953125,
       {40},
       1,
       ECORRUPT_ONLY},
      {"entry 5 a second early",
       e_entry_time,
       5,
       -1000000,
       {5},
       1,
       ECORRUPT_ONLY},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const idx_case *c = &cases[i];
    char tag[32];
    snprintf(tag, sizeof tag, "idx-%zu", i);
    const char *s = gc_scratch_copy(tag, A_REL);
    g_k = c->k;
    g_i64 = c->dt;
    rewrite(path2(s, A_SEG ".tidx"), c->edit, 1);
    mef3_reader *r = must_open(c->label, s);
    if (r)
      expect_blocks(c->label, r, 0, a_truth, a_n, c->bad, c->nbad, c->codes,
                    "ch01-000000.tdat");
    mef3_reader_close(r);
  }
}

int main(int argc, char **argv) {
  REQUIRE(tu_have_golden());
  a_truth =
      gc_load_i32(tu_golden("sessions/a_single_256hz.truth/ch01.i32"), &a_n);
  c_truth1 = gc_load_i32(tu_golden("sessions/c_discontinuities.truth/ch01.i32"),
                         &c_n1);
  c_truth2 = gc_load_i32(tu_golden("sessions/c_discontinuities.truth/ch02.i32"),
                         &c_n2);
  REQUIRE(a_truth && c_truth1 && c_truth2);
  static const check_case cases[] = {
      CASE(test_segments),
      CASE(test_counts),
      CASE(test_index_data),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  free(a_truth);
  free(c_truth1);
  free(c_truth2);
  return check_finish();
}
