/*
 * tests/test_faults_alloc.c - the library out of memory, in process.
 *
 * An allocator hook (mef3_set_allocator) fails the Nth allocation, for N
 * = 1, 2, ... until a run makes fewer than N allocations, over whole
 * scenarios: open, read (time windows, sample ranges, tiles, records) and
 * close every kind of golden session; the file manager decoding in
 * process (open, info, list, reads cold and cached, close); a generated
 * session written and read back.  Each run must end either in success
 * with exactly the data of a run without the hook, or in MEF3_ENOMEM with
 * a message saying what could not be allocated; and the hook's count of
 * live allocations must come back to zero (a leak shows at once, without
 * ASan; under ASan a double or a mismatched free shows too).
 */
#include <ftw.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "check.h"
#include "testutil.h"

/* ---- the failing allocator ---- */

/* Atomic: the library allocates from its own threads too (the file
 * manager's reserve of tile memory is filled by one). */
static _Atomic long calls;   /* allocations attempted since the hook was set */
static _Atomic long fail_at; /* the one that fails (0: none) */
static _Atomic long live;    /* allocations not yet freed */
static _Atomic long failed;  /* allocations refused */

static int refuse(void) {
  if (++calls == fail_at) {
    failed++;
    return 1;
  }
  return 0;
}

static void *h_malloc(size_t n, void *payload) {
  (void)payload;
  if (n == 0) /* the library promises never to ask for 0 bytes */
    abort();
  if (refuse())
    return NULL;
  void *p = malloc(n);
  live += p != NULL;
  return p;
}

static void *h_calloc(size_t n, size_t size, void *payload) {
  (void)payload;
  if (n == 0 || size == 0)
    abort();
  if (refuse())
    return NULL;
  void *p = calloc(n, size);
  live += p != NULL;
  return p;
}

static void *h_realloc(void *old, size_t n, void *payload) {
  (void)payload;
  if (n == 0)
    abort();
  if (refuse())
    return NULL;
  void *p = realloc(old, n);
  live += p != NULL && old == NULL;
  return p;
}

static void h_free(void *p, void *payload) {
  (void)payload;
  if (!p) /* the library promises never to free NULL through the hook */
    abort();
  live--;
  free(p);
}

static void hook_on(long n) {
  calls = 0;
  fail_at = n;
  live = 0;
  mef3_allocator a = MEF3_ALLOCATOR_INIT;
  a.malloc_fn = h_malloc;
  a.calloc_fn = h_calloc;
  a.realloc_fn = h_realloc;
  a.free_fn = h_free;
  REQUIRE(mef3_set_allocator(&a) == 0);
}

static void hook_off(void) {
  REQUIRE(mef3_set_allocator(NULL) == 0);
}

/* ---- results compared bit for bit ---- */

typedef struct out {
  float *v;
  size_t n, cap;
} out;

static void out_add(out *o, const float *x, size_t n) {
  if (o->n + n > o->cap) {
    size_t nc = o->cap ? o->cap : 4096;
    while (nc < o->n + n)
      nc *= 2;
    o->v = realloc(o->v, nc * sizeof *o->v);
    REQUIRE(o->v);
    o->cap = nc;
  }
  memcpy(o->v + o->n, x, n * sizeof *x);
  o->n += n;
}

static void out_num(out *o, double x) {
  float f = (float)x;
  out_add(o, &f, 1);
}

static int out_same(const out *a, const out *b) {
  if (a->n != b->n)
    return 0;
  for (size_t i = 0; i < a->n; i++)
    if (isnan(a->v[i]) != isnan(b->v[i]) ||
        (!isnan(a->v[i]) && memcmp(&a->v[i], &b->v[i], 4) != 0))
      return 0;
  return 1;
}

/* ---- the scenarios: each returns 0 or the first error, filling `o` ---- */

typedef struct golden {
  const char *rel;
  const char *password;
} golden;

static const golden sessions[] = {
    {"sessions/a_single_256hz.mefd", NULL},
    {"sessions/b_multi_8ch.mefd", NULL},
    {"sessions/c_discontinuities.mefd", NULL},
    {"sessions/d_encrypted.mefd", "l2pass"},
    {"sessions/d2_encrypted_blocks.mefd", "l1pass"},
    {"sessions/f_escapes_extremes.mefd", NULL},
    {"mef3io_golden/with_annotations.mefd", NULL},
};

static float buf[1 << 18];

#define TRY(call)                                                              \
  do {                                                                         \
    int try_rc_ = (call);                                                      \
    if (try_rc_) {                                                             \
      rc = try_rc_;                                                            \
      goto done;                                                               \
    }                                                                          \
  } while (0)

/* Every kind of read of every channel of an open reader. */
static int reads(mef3_reader *r, out *o) {
  mef3_record *recs = NULL;
  size_t nrec = 0;
  int rc = 0;
  size_t nch = mef3_reader_channel_count(r);
  for (size_t ch = 0; ch < nch; ch++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, ch);
    size_t n = 0;
    mef3_read_report rep;
    /* 40 s from 3 s before the start: gaps, NaN edges, several blocks */
    int64_t t0 = ci->start_uutc - 3000000, t1 = t0 + 40000000;
    TRY(mef3_reader_read_time(&n, &rep, r, ch, t0, t1, MEF3_F32, buf,
                              sizeof buf / sizeof *buf, NULL));
    out_add(o, buf, n);
    out_num(o, (double)rep.n_bad_blocks);
    int64_t s1 = ci->n_samples < 20000 ? ci->n_samples : 20000;
    TRY(mef3_reader_read_samples(&n, NULL, r, ch, s1 / 3, s1, MEF3_F32, buf,
                                 sizeof buf / sizeof *buf));
    out_add(o, buf, n);
    int64_t S = mef3_tile_samples(10.0, ci->fs);
    TRY(mef3_reader_read_tile(NULL, r, ch, 1, ci->fs, ci->start_uutc, S, buf,
                              1));
    out_add(o, buf, (size_t)S);
  }
  TRY(mef3_reader_records(&recs, &nrec, r, 1));
  out_num(o, (double)nrec);
  for (size_t i = 0; i < nrec; i++) {
    out_num(o, (double)recs[i].time);
    out_num(o, (double)recs[i].body_bytes);
    out_num(o, recs[i].text ? (double)strlen(recs[i].text) : -1.0);
  }
done:
  mef3_records_free(recs, nrec);
  return rc;
}

static mef3_reader_options reader_options(const golden *g) {
  mef3_reader_options opts = MEF3_READER_OPTIONS_INIT;
  opts.password = g->password;
  opts.max_open_data_files = 2; /* close and reopen data files too */
  return opts;
}

static int run_reader(const golden *g, out *o) {
  mef3_reader_options opts = reader_options(g);
  mef3_reader *r = NULL;
  int rc = mef3_reader_open(&r, tu_golden(g->rel), &opts);
  if (!rc)
    rc = reads(r, o);
  mef3_reader_close(r);
  return rc;
}

/*
 * A reader that ran out of memory in the middle of reads goes on reading
 * correctly (pool workers keep their readers): allocation N of a first
 * pass of reads fails, a second pass must then give the reference data.
 * Returns the second pass's result; `*first_calls` the first pass's
 * allocations.
 */
static long first_calls;

static int run_reader_reused(const golden *g, out *o) {
  long n = fail_at;
  fail_at = 0;
  mef3_reader_options opts = reader_options(g);
  mef3_reader *r = NULL;
  int rc = mef3_reader_open(&r, tu_golden(g->rel), &opts);
  if (rc) {
    fail_at = n;
    return rc;
  }
  calls = 0;
  fail_at = n;
  out scratch = {0};
  int rc1 = reads(r, &scratch);
  free(scratch.v);
  first_calls = calls;
  fail_at = 0;
  if (rc1 && rc1 != MEF3_ENOMEM) {
    rc = rc1; /* the first pass failed for something else: reported */
  } else {
    rc = reads(r, o);
  }
  mef3_reader_close(r);
  calls = first_calls;
  return rc;
}

static int run_files(out *o) {
  mef3_files_options fo = MEF3_FILES_OPTIONS_INIT;
  fo.use_process_pool = 0;
  fo.cache_ttl_s = 0; /* no sweeper thread */
  fo.prefetch_ahead_windows = fo.prefetch_behind_windows = 0;
  fo.tile_duration_s = 10.0;
  mef3_files *fm = NULL;
  mef3_file_info *info = NULL;
  mef3_signal *sig = NULL;
  char **list = NULL;
  size_t nlist = 0;
  int rc = 0;
  const char *a = tu_golden("sessions/b_multi_8ch.mefd");
  const char *c = tu_golden("sessions/c_discontinuities.mefd");
  TRY(mef3_files_new(&fm, &fo));
  TRY(mef3_files_open(NULL, fm, a, NULL));
  TRY(mef3_files_open(NULL, fm, c, NULL));
  TRY(mef3_files_info(&info, fm, a));
  out_num(o, (double)info->n_channels);
  TRY(mef3_files_list(&list, &nlist, fm));
  out_num(o, (double)nlist);
  for (int pass = 0; pass < 2; pass++) { /* cold, then from the cache */
    const char *names[] = {"ch01", "ch02"};
    int64_t t0 = info->start_uutc + 5000000;
    TRY(mef3_files_read(&sig, fm, a, names, 2, t0, t0 + 25000000));
    out_add(o, sig->data, sig->n_channels * sig->n_samples);
    mef3_signal_free(sig);
    sig = NULL;
    const char *c2[] = {"ch02"};
    TRY(mef3_files_read(&sig, fm, c, c2, 1, 1600000000000000LL,
                        1600000000000000LL + 30000000));
    out_add(o, sig->data, sig->n_channels * sig->n_samples);
    mef3_signal_free(sig);
    sig = NULL;
  }
  TRY(mef3_files_close(fm, a));
done:
  mef3_signal_free(sig);
  mef3_files_list_free(list, nlist);
  mef3_file_info_free(info);
  mef3_files_free(fm);
  return rc;
}

static char gen_dir[4096];
static int gen_runs;

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

/* rm -rf, in process (a shell per run is slow under the sanitizers). */
static void rm_tree(const char *path) {
  nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int run_writer(out *o) {
  char path[4200];
  snprintf(path, sizeof path, "%s/s%d.mefd", gen_dir, gen_runs++);
  mef3_gen_options go = MEF3_GEN_OPTIONS_INIT;
  go.n_channels = 2;
  go.fs = 200.0;
  go.duration_us = 20000000;
  go.seed = 11;
  go.n_random_gaps = 1;
  go.level_1_password = "one";
  go.level_2_password = "two";
  go.data_encryption = 1;
  go.segment_us = 8000000;
  mef3_reader *r = NULL;
  int rc = 0;
  TRY(mef3_gen_session(NULL, path, &go, NULL, NULL));
  mef3_reader_options ro = MEF3_READER_OPTIONS_INIT;
  ro.password = "two";
  TRY(mef3_reader_open(&r, path, &ro));
  for (size_t ch = 0; ch < mef3_reader_channel_count(r); ch++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, ch);
    size_t n = 0;
    TRY(mef3_reader_read_time(&n, NULL, r, ch, ci->start_uutc, ci->end_uutc,
                              MEF3_F32, buf, sizeof buf / sizeof *buf, NULL));
    out_add(o, buf, n);
  }
done:
  mef3_reader_close(r);
  rm_tree(path);
  return rc;
}

/* ---- the loop ---- */

typedef struct tally {
  long runs, enomem, ok;
} tally;

static int is_memory_message(const char *m) {
  return strstr(m, "memory") || strstr(m, "allocate");
}

/* Run `fn` failing allocation 1, 2, ... until a run completes without
 * reaching the failing one; check every outcome against `ref`. */
static void sweep(const char *label, int (*fn)(void *, out *), void *arg,
                  tally *t) {
  out ref = {0};
  hook_on(0);
  int rc = fn(arg, &ref);
  long total = calls;
  hook_off();
  CHECK_MSG(rc == 0, "%s: reference run failed: %s", label,
            mef3_error_last()->message);
  CHECK_MSG(live == 0, "%s: reference run leaks %ld allocations", label, live);
  int bad = 0;
  for (long n = 1;; n++) {
    out got = {0};
    mef3_error_clear();
    hook_on(n);
    rc = fn(arg, &got);
    long made = calls;
    hook_off();
    t->runs++;
    if (rc == 0) {
      t->ok++;
      if (!out_same(&got, &ref) && bad++ < 5)
        CHECK_MSG(0,
                  "%s: allocation %ld failed, the run succeeded with "
                  "different data",
                  label, n);
    } else {
      t->enomem += rc == MEF3_ENOMEM;
      const mef3_error *e = mef3_error_last();
      if ((rc != MEF3_ENOMEM || e->code != MEF3_ENOMEM ||
           !is_memory_message(e->message)) &&
          bad++ < 5)
        CHECK_MSG(0,
                  "%s: allocation %ld failed: %s (%s), wanted "
                  "MEF3_ENOMEM and a message",
                  label, n, mef3_errname(rc), e->message);
    }
    if (live != 0 && bad++ < 5)
      CHECK_MSG(0, "%s: allocation %ld failed: %ld allocations leaked", label,
                n, live);
    free(got.v);
    if (made < n)
      break; /* this run never reached allocation n: all covered */
  }
  CHECK(bad == 0);
  printf("%s: %ld allocations, %ld runs\n", label, total, t->runs);
  free(ref.v);
}

static int reader_fn(void *arg, out *o) {
  return run_reader(arg, o);
}
static int reader_reused_fn(void *arg, out *o) {
  return run_reader_reused(arg, o);
}
static int files_fn(void *arg, out *o) {
  (void)arg;
  return run_files(o);
}
static int writer_fn(void *arg, out *o) {
  (void)arg;
  return run_writer(o);
}

static void test_hook_api(void) {
  mef3_allocator a = MEF3_ALLOCATOR_INIT;
  CHECK_RC(mef3_set_allocator(&a), MEF3_EINVAL); /* no functions */
  a.malloc_fn = h_malloc;
  a.realloc_fn = h_realloc;
  a.free_fn = h_free;
  a.version = 99;
  CHECK_RC(mef3_set_allocator(&a), MEF3_EINVAL);
  a.version = MEF3_ALLOCATOR_VERSION;
  /* calloc_fn may be NULL: malloc_fn and zeroing */
  calls = live = 0;
  fail_at = 0;
  CHECK_RC(mef3_set_allocator(&a), 0);
  unsigned char *p = mef3_calloc(100, 3);
  CHECK(p && live == 1);
  int zero = 1;
  for (int i = 0; p && i < 300; i++)
    zero &= p[i] == 0;
  CHECK(zero);
  CHECK(mef3_calloc(SIZE_MAX / 2, 3) == NULL); /* overflow, no call */
  char *s = mef3_strdup("abc");
  CHECK(s && !strcmp(s, "abc") && live == 2);
  p = mef3_realloc(p, 5000);
  CHECK(p && live == 2);
  mef3_free(p);
  mef3_free(s);
  mef3_free(NULL);
  CHECK(live == 0 && calls == 3);
  CHECK_RC(mef3_set_allocator(NULL), 0);
  p = mef3_malloc(10); /* the C library's again */
  CHECK(p && calls == 3);
  free(p);
}

int main(void) {
  if (!tu_have_golden()) {
    printf("golden data missing: %s\n", MEF3_GOLDEN_DIR);
    return 1;
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  test_hook_api();
  tally t = {0};
  for (size_t i = 0; i < sizeof sessions / sizeof *sessions; i++) {
    tally ts = {0};
    sweep(sessions[i].rel, reader_fn, (void *)&sessions[i], &ts);
    t.runs += ts.runs;
    t.enomem += ts.enomem;
    t.ok += ts.ok;
  }
  tally tr = {0};
  for (size_t i = 0; i < 3; i++) {
    char label[300];
    snprintf(label, sizeof label, "%s, reused after a failure",
             sessions[i].rel);
    sweep(label, reader_reused_fn, (void *)&sessions[i], &tr);
  }
  tally tf = {0};
  sweep("file manager in process", files_fn, NULL, &tf);
  snprintf(gen_dir, sizeof gen_dir, "%s", tu_scratch("faults-alloc-gen"));
  tally tw = {0};
  sweep("generated session", writer_fn, NULL, &tw);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("reader: %ld runs, %ld MEF3_ENOMEM, %ld succeeded (same data)\n",
         t.runs, t.enomem, t.ok);
  printf("reader reused after a failure: %ld runs, every second pass "
         "correct\n",
         tr.runs);
  printf("file manager: %ld runs, %ld MEF3_ENOMEM, %ld succeeded\n", tf.runs,
         tf.enomem, tf.ok);
  printf("writer: %ld runs, %ld MEF3_ENOMEM, %ld succeeded\n", tw.runs,
         tw.enomem, tw.ok);
  printf("%.1f s\n", (double)(t1.tv_sec - t0.tv_sec) +
                         (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
  return check_finish();
}
