/*
 * tests/faults_helper.h - what the fault tests of the pool and the file
 * manager share: the sessions they read (golden and generated), a mixed
 * request of the pool (tiles, a window split across workers, a prefetched
 * chunk) checked against a direct in-process read, and counts of what a
 * process holds (children, descriptors, memfds).
 */
#ifndef MEF3_TESTS_FAULTS_HELPER_H
#define MEF3_TESTS_FAULTS_HELPER_H

#include <dirent.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "testutil.h"

/* ---- what a process holds ---- */

/* Children of this process still running (zombies are not counted). */
static inline int fh_children(int *out, int cap) {
  int all[256];
  int n = tu_children(all, 256), k = 0;
  for (int i = 0; i < n && i < 256; i++) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", all[i]);
    FILE *f = fopen(path, "r");
    if (!f)
      continue;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    char *rp = strrchr(buf, ')');
    if (!rp || rp[1] != ' ' || rp[2] == 'Z')
      continue;
    if (out && k < cap)
      out[k] = all[i];
    k++;
  }
  return k;
}

static inline double fh_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- sessions ---- */

#define FH_MAX_SESSIONS 4

typedef struct fh_session {
  char path[4096];
  const char *password;
} fh_session;

static fh_session fh_sessions[FH_MAX_SESSIONS];
static int fh_n_sessions;

/* Two golden sessions (mixed rates; one channel with a short last
 * block) and a generated one (4 channels, 3 segments, gaps). */
static inline void fh_setup_sessions(const char *tag) {
  snprintf(fh_sessions[0].path, sizeof fh_sessions[0].path, "%s",
           tu_golden("sessions/b_multi_8ch.mefd"));
  snprintf(fh_sessions[1].path, sizeof fh_sessions[1].path, "%s",
           tu_golden("sessions/c_discontinuities.mefd"));
  snprintf(fh_sessions[2].path, sizeof fh_sessions[2].path, "%s/gen.mefd",
           tu_scratch(tag));
  mef3_gen_options go = MEF3_GEN_OPTIONS_INIT;
  go.n_channels = 4;
  go.fs = 500.0;
  go.duration_us = 300000000; /* 5 min */
  go.seed = 42;
  go.n_random_gaps = 3;
  go.segment_us = 120000000;
  REQUIRE(mef3_gen_session(NULL, fh_sessions[2].path, &go, NULL, NULL) == 0);
  fh_n_sessions = 3;
}

/* ---- one mixed request, checked against a direct read ---- */

typedef struct fh_rng {
  uint64_t s;
} fh_rng;

static inline uint64_t fh_next(fh_rng *r) {
  uint64_t x = (r->s += 0x9e3779b97f4a7c15ULL);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

static inline int64_t fh_range(fh_rng *r, int64_t lo, int64_t hi) {
  return lo + (int64_t)(fh_next(r) % (uint64_t)(hi - lo + 1));
}

/* A thread's readers of the sessions, for the expected results. */
typedef struct fh_refs {
  mef3_reader *r[FH_MAX_SESSIONS];
} fh_refs;

static inline void fh_refs_open(fh_refs *x) {
  for (int i = 0; i < fh_n_sessions; i++) {
    mef3_reader_options o = MEF3_READER_OPTIONS_INIT;
    o.password = fh_sessions[i].password;
    REQUIRE(mef3_reader_open(&x->r[i], fh_sessions[i].path, &o) == 0);
  }
}

static inline void fh_refs_close(fh_refs *x) {
  for (int i = 0; i < fh_n_sessions; i++)
    mef3_reader_close(x->r[i]);
}

enum { FH_TILES, FH_WINDOW, FH_CHUNK };

typedef struct fh_req {
  int kind, sess;
  mef3_future *f;
  char key[64];
  /* tiles */
  size_t ch;
  int64_t S, idx[6];
  size_t n_idx;
  /* window, chunk */
  size_t chans[8];
  const char *names[8];
  double fs[8];
  size_t n_chans;
  int64_t t0, t1;
  int splits;
} fh_req;

static atomic_long fh_key_seq;

/* Draw a request and submit it to `p`; 0 or the submit's error. */
static inline int fh_submit(fh_req *q, mef3_pool *p, const fh_refs *x,
                            fh_rng *g) {
  memset(q, 0, sizeof *q);
  q->sess = (int)fh_range(g, 0, fh_n_sessions - 1);
  mef3_reader *r = x->r[q->sess];
  const char *path = fh_sessions[q->sess].path;
  size_t nch = mef3_reader_channel_count(r);
  q->kind = (int)fh_range(g, 0, 2);
  if (q->kind == FH_TILES) {
    q->ch = (size_t)fh_range(g, 0, (int64_t)nch - 1);
    const mef3_channel_info *ci = mef3_reader_channel(r, q->ch);
    q->S = mef3_tile_samples((double)fh_range(g, 2, 20), ci->fs);
    int64_t last = ci->n_samples / q->S + 1;
    q->n_idx = (size_t)fh_range(g, 1, 6);
    for (size_t i = 0; i < q->n_idx; i++)
      q->idx[i] = fh_range(g, -1, last);
    return mef3_pool_submit_tiles(&q->f, p, path, ci->name, q->idx, q->n_idx,
                                  ci->fs, ci->start_uutc, q->S);
  }
  /* a window of a few channels (in a random order) over up to 30 s, from
   * before the start to after the end */
  q->n_chans = (size_t)fh_range(g, 1, (int64_t)(nch < 8 ? nch : 8));
  for (size_t i = 0; i < q->n_chans; i++) {
    q->chans[i] = (size_t)fh_range(g, 0, (int64_t)nch - 1);
    q->names[i] = mef3_reader_channel(r, q->chans[i])->name;
    q->fs[i] = mef3_reader_channel(r, q->chans[i])->fs;
  }
  const mef3_channel_info *c0 = mef3_reader_channel(r, q->chans[0]);
  q->t0 = fh_range(g, c0->start_uutc - 5000000, c0->end_uutc);
  q->t1 = q->t0 + fh_range(g, 100000, 30000000);
  if (q->kind == FH_WINDOW) {
    q->splits = (int)fh_range(g, 0, 3);
    /* half with the rates (as the file manager reads), half learning
     * them from a worker */
    return mef3_pool_read_window(&q->f, p, path, q->names,
                                 q->splits % 2 ? q->fs : NULL, q->n_chans,
                                 q->t0, q->t1, q->splits);
  }
  snprintf(q->key, sizeof q->key, "chunk-%ld",
           atomic_fetch_add(&fh_key_seq, 1));
  int rc = mef3_pool_prefetch_chunk(p, q->key, path, q->names, q->n_chans,
                                    q->t0, q->t1);
  return rc ? rc : mef3_pool_take_chunk(&q->f, p, q->key);
}

static inline int fh_same(const float *a, const float *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (isnan(a[i]) != isnan(b[i]) ||
        (!isnan(a[i]) && memcmp(&a[i], &b[i], 4) != 0))
      return 0;
  return 1;
}

/* Floats of the scratch buffer fh_check_data needs. */
#define FH_SCRATCH ((size_t)1 << 20)

/* 1 when the done future of `q` holds exactly what a direct read gives;
 * `want` is a scratch buffer of FH_SCRATCH floats. */
static inline int fh_check_data(const fh_req *q, const fh_refs *x,
                                float *want) {
  mef3_reader *r = x->r[q->sess];
  size_t rows = 0, cols = 0;
  if (q->kind == FH_TILES) {
    const float *got = mef3_future_tiles(&rows, &cols, q->f);
    const mef3_channel_info *ci = mef3_reader_channel(r, q->ch);
    if (!got || rows != q->n_idx || cols != (size_t)q->S)
      return 0;
    for (size_t i = 0; i < q->n_idx; i++) {
      if ((size_t)q->S > FH_SCRATCH ||
          mef3_reader_read_tile(NULL, r, q->ch, q->idx[i], ci->fs,
                                ci->start_uutc, q->S, want, 1) != 0 ||
          !fh_same(got + i * cols, want, cols))
        return 0;
    }
    return 1;
  }
  const float *got = mef3_future_window(&rows, &cols, q->f);
  if (!got || rows != q->n_chans)
    return 0;
  size_t nmin = SIZE_MAX;
  for (size_t k = 0; k < q->n_chans; k++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, q->chans[k]);
    size_t n = (size_t)mef3_window_samples(q->t0, q->t1, ci->fs);
    nmin = n < nmin ? n : nmin;
  }
  if (cols != nmin)
    return 0;
  for (size_t k = 0; k < q->n_chans; k++) {
    size_t n = 0;
    if (mef3_reader_read_time(&n, NULL, r, q->chans[k], q->t0, q->t1, MEF3_F32,
                              want, FH_SCRATCH, NULL) != 0 ||
        n < cols || !fh_same(got + k * cols, want, cols))
      return 0;
  }
  return 1;
}

static inline const char *fh_kind(int k) {
  return k == FH_TILES ? "tiles" : k == FH_WINDOW ? "window" : "chunk";
}

#endif
