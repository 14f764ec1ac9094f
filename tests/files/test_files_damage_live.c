/*
 * test_files_damage_live - the damage table's rows for files replaced or
 * deleted while a session is open, through the ways of reading: a
 * mef3_reader, the file manager decoding in process, the file manager with
 * its reader pool (every tile through the pool: the workers open the
 * session only after the damage), and the same confined to a data root
 * (as the server runs it: the tree is checked again before each decode).
 *
 * Each case copies a generated session (2 channels, 256 Hz, 120 s in three
 * 40 s segments of 1 s blocks), opens it, damages it, then reads both
 * channels whole and checks: the blocks the damage reaches are NaN, every
 * other sample equals the pristine session's (nothing shifts), and through
 * the reader the bad blocks are reported with their code and a message
 * naming the file.  What stays readable:
 *
 * - data files are opened at the first read that needs them and their
 *   descriptors kept, so a data file deleted or replaced after a first
 *   read still reads correctly;
 * - before that, a deleted data file (or segment, or session) makes its
 *   blocks NaN (MEF3_ENOTFOUND), a truncated one the blocks past its end
 *   (MEF3_ECORRUPT), and one replaced by another recording's, with the
 *   same session name and the same block layout, all of its blocks
 *   (MEF3_ECORRUPT: its header names another segment);
 * - metadata and index files are read whole at open: replacing or deleting
 *   them later changes nothing for an open reader; pool workers, which
 *   open the session afresh, fail to, and the manager decodes in process;
 * - a data file overwritten in place after a first read is checked again
 *   (its size or time changed): its blocks are NaN (MEF3_ECORRUPT).
 *
 * Run under ASan too.
 */
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "golden_check.h"

#define FS 256.0
#define NCH 2
#define SEG_BLOCKS 40 /* blocks per segment */

enum { VIA_READER, VIA_FILES, VIA_POOL, VIA_ROOT, N_VIA };
static const char *via_name[N_VIA] = {"reader", "files", "files+pool", "+root"};

static char tpl[4096];   /* the pristine session */
static char donor[4096]; /* another recording, same name and layout */
static mef3_reader *pristine;
static float *truth_f[NCH]; /* time read of each whole channel */
static int32_t *truth_i[NCH];
static size_t truth_n; /* slots of that read */
static int64_t cs, ce;
static mef3_files *fm[N_VIA];

static char *path2(const char *a, const char *b) {
  static char buf[8][4200];
  static int slot;
  char *p = buf[slot++ & 7];
  snprintf(p, sizeof buf[0], "%.4095s%.100s", a, b);
  return p;
}

#define SEG1(ch, ext)                                                          \
  "/ch0" #ch ".timd/ch0" #ch "-000001.segd/ch0" #ch "-000001." ext

/* ---- damage ---- */

static void d_none(const char *s) {
  (void)s;
}
static void d_truncate(const char *s) { /* inside segment 1's block 10 */
  const mef3_block_info *b;
  size_t nb;
  REQUIRE(mef3_reader_blocks(&b, &nb, pristine, 0) == 0);
  const mef3_block_info *k = &b[SEG_BLOCKS + 10];
  REQUIRE(truncate(path2(s, SEG1(1, "tdat")), k->file_offset + k->bytes / 2) ==
          0);
}
static void d_unlink_tdat(const char *s) {
  REQUIRE(unlink(path2(s, SEG1(1, "tdat"))) == 0);
}
static void d_rename_tdat(const char *s) { /* another recording's file */
  REQUIRE(tu_system("cp '%s' '%s.new' && mv '%s.new' '%s'",
                    path2(donor, SEG1(1, "tdat")), path2(s, SEG1(1, "tdat")),
                    path2(s, SEG1(1, "tdat")), path2(s, SEG1(1, "tdat"))) == 0);
}
static void d_overwrite_tdat(const char *s) { /* same inode, new bytes */
  REQUIRE(tu_system("cat '%s' > '%s'", path2(donor, SEG1(1, "tdat")),
                    path2(s, SEG1(1, "tdat"))) == 0);
}
static void d_rename_tidx(const char *s) {
  REQUIRE(tu_system("cp '%s' '%s.new' && mv '%s.new' '%s'",
                    path2(donor, SEG1(1, "tidx")), path2(s, SEG1(1, "tidx")),
                    path2(s, SEG1(1, "tidx")), path2(s, SEG1(1, "tidx"))) == 0);
}
static void d_unlink_tmet(const char *s) {
  REQUIRE(unlink(path2(s, SEG1(1, "tmet"))) == 0);
}
static void d_rm_segment(const char *s) {
  REQUIRE(tu_system("rm -rf '%s'", path2(s, "/ch01.timd/ch01-000001.segd")) ==
          0);
}
static void d_rm_session(const char *s) {
  REQUIRE(tu_system("rm -rf '%s'", s) == 0);
}

typedef struct live_case {
  const char *label;
  void (*damage)(const char *);
  int after_read; /* damage after a first read (reader only) */
  int ch;         /* damaged channel, -1 both */
  int seg;        /* damaged segment, -1 all */
  int from;       /* first damaged block of it; -1 nothing damaged */
  int code;
} live_case;

static const live_case cases[] = {
    {"tdat truncated in block 10 of segment 1", d_truncate, 0, 0, 1, 10,
     MEF3_ECORRUPT},
    {"tdat deleted", d_unlink_tdat, 0, 0, 1, 0, MEF3_ENOTFOUND},
    {"tdat replaced by another recording's", d_rename_tdat, 0, 0, 1, 0,
     MEF3_ECORRUPT},
    {"tdat overwritten by another recording's", d_overwrite_tdat, 0, 0, 1, 0,
     MEF3_ECORRUPT},
    {"tidx replaced by another recording's", d_rename_tidx, 0, 0, 1, -1, 0},
    {"tmet deleted", d_unlink_tmet, 0, 0, 1, -1, 0},
    {"segment directory removed", d_rm_segment, 0, 0, 1, 0, MEF3_ENOTFOUND},
    {"session directory removed", d_rm_session, 0, -1, -1, 0, MEF3_ENOTFOUND},
    {"tdat deleted after a first read", d_unlink_tdat, 1, 0, 1, -1, 0},
    {"tdat replaced after a first read", d_rename_tdat, 1, 0, 1, -1, 0},
    {"tdat overwritten after a first read", d_overwrite_tdat, 1, 0, 1, 0,
     MEF3_ECORRUPT},
    {"nothing (control)", d_none, 0, 0, 1, -1, 0},
};

/* The bad blocks of channel ch (indices), in order. */
static size_t bad_blocks(const live_case *c, size_t ch, size_t *out,
                         size_t cap) {
  if (c->from < 0 || (c->ch >= 0 && (size_t)c->ch != ch))
    return 0;
  const mef3_block_info *b;
  size_t nb, n = 0;
  REQUIRE(mef3_reader_blocks(&b, &nb, pristine, ch) == 0);
  size_t lo = 0, hi = nb;
  if (c->seg >= 0) {
    const mef3_segment_info *si = mef3_reader_segment(pristine, ch, c->seg);
    lo = si->first_block + (size_t)c->from;
    hi = si->first_block + si->n_blocks;
  }
  for (size_t k = lo; k < hi && n < cap; k++)
    out[n++] = k;
  return n;
}

/* The expected time read of channel ch: the truth, NaN over bad blocks. */
static void expected(const live_case *c, size_t ch, float *f, int32_t *v) {
  memcpy(f, truth_f[ch], truth_n * sizeof *f);
  memcpy(v, truth_i[ch], truth_n * sizeof *v);
  size_t bad[512];
  size_t nbad = bad_blocks(c, ch, bad, 512);
  const mef3_block_info *b;
  size_t nb;
  REQUIRE(mef3_reader_blocks(&b, &nb, pristine, ch) == 0);
  for (size_t i = 0; i < nbad; i++) {
    int64_t s = llround((double)(b[bad[i]].start_uutc - cs) * FS / 1e6);
    for (int64_t j = 0; j < (int64_t)b[bad[i]].n_samples; j++)
      if (s + j >= 0 && s + j < (int64_t)truth_n) {
        f[s + j] = NAN;
        v[s + j] = MEF3_RED_NAN;
      }
  }
}

static size_t count_diff_f(const float *x, const float *y, size_t n,
                           size_t *first) {
  size_t d = 0;
  for (size_t i = 0; i < n; i++)
    if (memcmp(&x[i], &y[i], sizeof *x) && !(isnan(x[i]) && isnan(y[i])) &&
        d++ == 0)
      *first = i;
  return d;
}

/* Through a reader: time reads (raw) with their reports. */
static void run_reader(const live_case *c, const char *s) {
  mef3_reader *r = NULL;
  REQUIRE(mef3_reader_open(&r, s, NULL) == 0);
  int32_t *v = malloc(truth_n * sizeof *v), *want = malloc(truth_n * 4);
  float *wf = malloc(truth_n * sizeof *wf);
  size_t got = 0;
  mef3_read_report rep;
  if (c->after_read) /* opens every data file */
    for (size_t ch = 0; ch < NCH; ch++)
      REQUIRE(mef3_reader_read_time(&got, &rep, r, ch, cs, ce, MEF3_I32, v,
                                    truth_n, NULL) == 0);
  c->damage(s);
  for (size_t ch = 0; ch < NCH; ch++) {
    char label[160];
    snprintf(label, sizeof label, "%s [reader, ch0%zu]", c->label, ch + 1);
    CHECK_RC(mef3_reader_read_time(&got, &rep, r, ch, cs, ce, MEF3_I32, v,
                                   truth_n, NULL),
             0);
    expected(c, ch, wf, want);
    size_t wrong = 0;
    for (size_t i = 0; i < truth_n; i++)
      wrong += v[i] != want[i];
    CHECK_MSG(got == truth_n && wrong == 0, "%s: %zu of %zu slots wrong", label,
              wrong, truth_n);
    size_t bad[512];
    size_t nbad = bad_blocks(c, ch, bad, 512);
    CHECK_MSG(rep.n_bad_blocks == nbad, "%s: %zu bad blocks reported, want %zu",
              label, rep.n_bad_blocks, nbad);
    for (size_t i = 0; i < nbad && i < MEF3_REPORT_MAX_BAD; i++)
      CHECK_MSG(rep.bad_blocks[i] == bad[i], "%s: bad block %zu, want %zu",
                label, rep.bad_blocks[i], bad[i]);
    if (nbad) {
      const mef3_block_info *b;
      size_t nb;
      REQUIRE(mef3_reader_blocks(&b, &nb, pristine, ch) == 0);
      char file[64];
      snprintf(file, sizeof file, "ch0%zu-%06d.tdat", ch + 1,
               (int)b[bad[0]].segment);
      CHECK_MSG(rep.first_error == c->code, "%s: first error %s (%s), want %s",
                label, mef3_errname(rep.first_error), rep.first_message,
                mef3_errname(c->code));
      CHECK_MSG(strstr(rep.first_message, file) != NULL,
                "%s: message does not name %s: %s", label, file,
                rep.first_message);
      char which[128];
      snprintf(which, sizeof which,
               "; block %zu of channel ch0%zu (segment %d): samples [%lld, ",
               bad[0], ch + 1, (int)b[bad[0]].segment,
               (long long)b[bad[0]].start_sample);
      CHECK_MSG(strstr(rep.first_message, which) != NULL,
                "%s: message does not say %s: %s", label, which,
                rep.first_message);
      if (ch == 0 || c->ch < 0)
        printf("  %-44s %-10s %zu bad: %s: %s\n", c->label, "reader",
               rep.n_bad_blocks, mef3_errname(rep.first_error),
               rep.first_message);
    } else if (ch == 0) {
      printf("  %-44s %-10s all blocks read\n", c->label, "reader");
    }
  }
  free(v);
  free(want);
  free(wf);
  mef3_reader_close(r);
}

/* Through a file manager: one read of both channels. */
static void run_files(const live_case *c, const char *s, int via) {
  mef3_files *m = fm[via];
  REQUIRE(mef3_files_open(NULL, m, s, NULL) == 0);
  c->damage(s);
  mef3_signal *sig = NULL;
  int rc = mef3_files_read(&sig, m, s, NULL, 0, cs, ce);
  CHECK_MSG(rc == 0, "%s [%s]: read: %s (%s)", c->label, via_name[via],
            mef3_errname(rc), mef3_error_last()->message);
  size_t total_bad = 0;
  if (rc == 0) {
    CHECK(sig->n_channels == NCH && sig->n_samples == truth_n);
    float *wf = malloc(truth_n * sizeof *wf);
    int32_t *wi = malloc(truth_n * sizeof *wi);
    for (size_t ch = 0; ch < NCH && sig->n_samples == truth_n; ch++) {
      expected(c, ch, wf, wi);
      size_t first = 0;
      size_t d = count_diff_f(sig->data + ch * truth_n, wf, truth_n, &first);
      CHECK_MSG(d == 0,
                "%s [%s, ch0%zu]: %zu slots differ, first %zu: %g, want %g",
                c->label, via_name[via], ch + 1, d, first,
                sig->data[ch * truth_n + first], wf[first]);
      size_t bad[512];
      total_bad += bad_blocks(c, ch, bad, 512);
    }
    free(wf);
    free(wi);
  }
  printf("  %-44s %-10s %s\n", c->label, via_name[via],
         rc          ? mef3_errname(rc)
         : total_bad ? "NaN over the damaged blocks, the rest exact"
                     : "all exact");
  mef3_signal_free(sig);
  CHECK_RC(mef3_files_close(m, s), 0);
}

static void make_session(const char *path, uint64_t seed) {
  mef3_gen_options o = MEF3_GEN_OPTIONS_INIT;
  o.n_channels = NCH;
  o.fs = FS;
  o.duration_us = 120 * 1000000LL;
  o.seed = seed;
  o.segment_us = SEG_BLOCKS * 1000000LL;
  REQUIRE(mef3_gen_session(NULL, path, &o, NULL, NULL) == 0);
}

int main(void) {
  snprintf(tpl, sizeof tpl, "%s/live.mefd", tu_scratch("tpl"));
  snprintf(donor, sizeof donor, "%s/live.mefd", tu_scratch("donor"));
  make_session(tpl, 11);
  make_session(donor, 12);
  REQUIRE(mef3_reader_open(&pristine, tpl, NULL) == 0);
  const mef3_channel_info *ci = mef3_reader_channel(pristine, 0);
  cs = ci->start_uutc;
  ce = ci->end_uutc;
  REQUIRE(ci->n_segments == 3 &&
          mef3_reader_segment(pristine, 0, 1)->n_blocks == SEG_BLOCKS);
  truth_n = (size_t)mef3_window_samples(cs, ce, FS);
  for (size_t ch = 0; ch < NCH; ch++) {
    truth_f[ch] = malloc(truth_n * sizeof(float));
    truth_i[ch] = malloc(truth_n * sizeof(int32_t));
    size_t got;
    REQUIRE(mef3_reader_read_time(&got, NULL, pristine, ch, cs, ce, MEF3_F32,
                                  truth_f[ch], truth_n, NULL) == 0);
    REQUIRE(mef3_reader_read_time(&got, NULL, pristine, ch, cs, ce, MEF3_I32,
                                  truth_i[ch], truth_n, NULL) == 0);
  }

  for (int via = VIA_FILES; via < N_VIA; via++) {
    mef3_files_options o = MEF3_FILES_OPTIONS_INIT;
    o.tile_duration_s = 10;
    o.use_process_pool = via >= VIA_POOL;
    o.data_root = via == VIA_ROOT ? MEF3_TEST_TMP : NULL;
    o.reader_processes = 2;
    o.prefetch_processes = 1;
    o.min_parallel_tiles = 1; /* every miss through the pool */
    o.prefetch_ahead_windows = 0;
    o.prefetch_behind_windows = 0;
    REQUIRE(mef3_files_new(&fm[via], &o) == 0);
  }
  int n = 0;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const live_case *c = &cases[i];
    for (int via = 0; via < N_VIA; via++) {
      if (c->after_read && via != VIA_READER)
        continue; /* the manager's tile cache would answer */
      char tag[32];
      snprintf(tag, sizeof tag, "case%d", n++);
      char s[4096];
      snprintf(s, sizeof s, "%s/live.mefd", tu_scratch(tag));
      REQUIRE(tu_system("rm -rf '%s' && cp -a '%s' '%s'", s, tpl, s) == 0);
      if (via == VIA_READER)
        run_reader(c, s);
      else
        run_files(c, s, via);
    }
  }
  for (int via = VIA_FILES; via < N_VIA; via++)
    mef3_files_free(fm[via]);
  for (size_t ch = 0; ch < NCH; ch++) {
    free(truth_f[ch]);
    free(truth_i[ch]);
  }
  mef3_reader_close(pristine);
  return check_finish();
}
