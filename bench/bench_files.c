/*
 * bench/bench_files.c - the file manager (files.h) against direct
 * in-process reads measured in the same run, in the three use cases of
 * mef3io-server's benchmarks, on generated 16- and 64-channel x 256 Hz x
 * 1 h sessions (or the sessions given):
 *
 *  A. interactive viewing: scroll forward through 60 s windows of every
 *     channel with a pause ("think time") between them; the file manager
 *     cold (prefetch loads the next window during the pause), then warm
 *     (the same windows again, from the cache);
 *  B. several tools on one session: four clients read the same windows at
 *     once; direct, each decodes everything; through one file manager,
 *     each tile is decoded once and served to all;
 *  C. one automated pass over the whole file as fast as possible.
 *
 * Figures are per-window medians (ms) and whole-pass times, with the
 * ratio files / direct (below 1: the file manager is faster).  Every
 * direct read runs after the files were read once, so both sides find
 * them in the page cache; nothing is asserted.  The direct reader reuses
 * one buffer while the file manager keeps what it decodes, so the cost
 * of first touching memory (printed at the start) weighs on the file
 * manager's cold passes.
 *
 * usage: bench_files [--dir DIR] [--windows N] [--pause-ms MS]
 *                    [--session PATH]... [--processes N]
 *                    [--prefetch-processes N] [--ahead N] [--behind N]
 *                    [--no-pool]
 * (the last five set the file manager's options; defaults otherwise)
 */
#include <malloc.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench_util.h"
#include "files/files_impl.h"
#include "mef3pool.h"


#define WIN_US 60000000LL

static void die(const char *what) {
  fprintf(stderr, "bench_files: %s: %s\n", what, mef3_error_last()->message);
  exit(1);
}

static void sleep_ms(int ms) {
  struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

typedef struct {
  const char *path;
  size_t nch;
  size_t *chs;
  double fs;
  int64_t start, end;
  size_t n; /* samples of one window */
} sess;

static void sess_open(sess *s, const char *path) {
  mef3_reader *r;
  if (mef3_reader_open(&r, path, NULL))
    die(path);
  s->path = path;
  s->nch = mef3_reader_channel_count(r);
  s->chs = malloc(s->nch * sizeof *s->chs);
  s->start = INT64_MAX;
  s->end = INT64_MIN;
  for (size_t i = 0; i < s->nch; i++) {
    const mef3_channel_info *ci = mef3_reader_channel(r, i);
    s->chs[i] = i;
    s->start = ci->start_uutc < s->start ? ci->start_uutc : s->start;
    s->end = ci->end_uutc > s->end ? ci->end_uutc : s->end;
  }
  s->fs = mef3_reader_channel(r, 0)->fs;
  s->n = (size_t)mef3_window_samples(0, WIN_US, s->fs);
  mef3_reader_close(r);
}

static int n_windows(const sess *s, int want) {
  int all = (int)((s->end - s->start) / WIN_US);
  return want > 0 && want < all ? want : all;
}

/* One direct read of window w of every channel. */
static void direct_window(const sess *s, mef3_reader *r, float *buf, int w) {
  size_t *ns = malloc(s->nch * sizeof *ns);
  int64_t t0 = s->start + (int64_t)w * WIN_US;
  if (mef3_reader_read_time_multi(ns, NULL, r, s->chs, s->nch, t0, t0 + WIN_US,
                                  MEF3_F32, buf, s->n))
    die("direct read");
  free(ns);
}

static void fm_window(const sess *s, mef3_files *fm, int w) {
  int64_t t0 = s->start + (int64_t)w * WIN_US;
  mef3_signal *sig;
  if (mef3_files_read(&sig, fm, s->path, NULL, 0, t0, t0 + WIN_US))
    die("files read");
  mef3_signal_free(sig);
}

static mef3_files_options fm_opts; /* the command line's knobs */

static mef3_files *new_fm(void) {
  mef3_files_options o = fm_opts;
  o.worker_path = getenv("MEF3POOL_WORKER") ? NULL : MEF3_WORKER;
  mef3_files *fm;
  if (mef3_files_new(&fm, &o))
    die("files_new");
  return fm;
}

/* Scroll: per-window ms into t[]; direct (fm NULL) or through fm. */
static void scroll(const sess *s, mef3_files *fm, int nw, int pause_ms,
                   double *t) {
  mef3_reader *r = NULL;
  float *buf = NULL;
  if (!fm) {
    if (mef3_reader_open(&r, s->path, NULL))
      die("reader");
    buf = malloc(s->nch * s->n * sizeof *buf);
  }
  for (int w = 0; w < nw; w++) {
    double a = bench_now();
    if (fm)
      fm_window(s, fm, w);
    else
      direct_window(s, r, buf, w);
    t[w] = (bench_now() - a) * 1e3;
    if (pause_ms)
      sleep_ms(pause_ms);
  }
  free(buf);
  mef3_reader_close(r);
}

typedef struct {
  const sess *s;
  mef3_files *fm;
  int nw;
  double *t;
} client;

static void *client_main(void *p) {
  client *c = p;
  scroll(c->s, c->fm, c->nw, 0, c->t);
  return NULL;
}

/* Four clients at once; returns the wall time (s), per-window ms of all
 * clients into t (4 * nw). */
static double clients4(const sess *s, mef3_files *fm, int nw, double *t) {
  pthread_t th[4];
  client c[4];
  double a = bench_now();
  for (int i = 0; i < 4; i++) {
    c[i] = (client){s, fm, nw, t + i * nw};
    pthread_create(&th[i], NULL, client_main, &c[i]);
  }
  for (int i = 0; i < 4; i++)
    pthread_join(th[i], NULL);
  return bench_now() - a;
}

static double med(double *v, int n) {
  return bench_median(v, (size_t)n);
}

/* Median ms to copy 4 MiB into memory already in use, or into memory
 * just mapped (page faults on first touch). */
static double copy_ms(int fresh) {
  size_t n = (size_t)4 << 20;
  char *src = malloc(n), *dst = malloc(n);
  memset(src, 1, n);
  memset(dst, 2, n);
  double t[9];
  for (int i = 0; i < 9; i++) {
    char *d = dst;
    if (fresh)
      d = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
               0);
    double a = bench_now();
    memcpy(d, src, n);
    t[i] = (bench_now() - a) * 1e3;
    volatile char sink = d[n / 2];
    (void)sink;
    if (fresh)
      munmap(d, n);
  }
  free(src);
  free(dst);
  return bench_median(t, 9);
}

static void run(const char *path, int want_windows, int pause_ms) {
  sess s;
  sess_open(&s, path);
  int nw = n_windows(&s, want_windows);
  int nall = n_windows(&s, 0);
  double *t = malloc((size_t)(4 * nall) * sizeof *t);
  mef3_files *probe = new_fm();
  printf("\n== %s\n   %zu channels x %.0f Hz, %.0f min; windows of 60 s "
         "(%zu samples x %zu channels); tiles of 60 s; pool %d foreground + "
         "%d prefetch workers\n",
         path, s.nch, s.fs, (double)(s.end - s.start) / 60e6, s.n, s.nch,
         probe->fg_workers, probe->pf_workers);
  mef3_files_free(probe);

  /* Page cache: read the whole file once, unmeasured. */
  scroll(&s, NULL, nall, 0, t);

  /* A: scroll with think time. */
  scroll(&s, NULL, nw, pause_ms, t);
  double a_direct = med(t, nw);
  mef3_files *fm = new_fm();
  if (mef3_files_open(NULL, fm, path, NULL))
    die("open");
  scroll(&s, fm, nw, pause_ms, t);
  double a_first = t[0];
  double a_cold = med(t, nw);
  mef3__files_prefetch_wait(fm);
  scroll(&s, fm, nw, pause_ms, t);
  double a_warm = med(t, nw);
  mef3_files_stats st;
  mef3_files_get_stats(&st, fm);
  mef3_files_free(fm);
  printf("A scroll %d windows, pause %d ms: direct %.2f ms/window; files "
         "cold %.2f ms (%.2fx; first window %.2f ms), warm %.2f ms (%.2fx); "
         "prefetched tiles used %llu of %llu\n",
         nw, pause_ms, a_direct, a_cold, a_cold / a_direct, a_first, a_warm,
         a_warm / a_direct, (unsigned long long)st.prefetch_used,
         (unsigned long long)st.prefetched);

  /* B: four clients, the same windows. */
  double b_direct_s = clients4(&s, NULL, nw, t);
  double b_direct = med(t, 4 * nw);
  fm = new_fm();
  if (mef3_files_open(NULL, fm, path, NULL))
    die("open");
  double b_fm_s = clients4(&s, fm, nw, t);
  double b_fm = med(t, 4 * nw);
  mef3_files_get_stats(&st, fm);
  mef3_files_free(fm);
  printf("B 4 clients x %d windows: direct %.2f s (%.2f ms/window); files "
         "%.2f s (%.2f ms/window): %.2fx the time; tiles decoded %llu for "
         "%llu tile reads (%llu prefetched)\n",
         nw, b_direct_s, b_direct, b_fm_s, b_fm, b_fm_s / b_direct_s,
         (unsigned long long)st.misses,
         (unsigned long long)(st.hits + st.misses + st.waits),
         (unsigned long long)st.prefetched);

  /* C: one pass over the whole file, no pause; the file manager twice,
   * with a new manager each time: its cache's memory is new to the
   * process the first time, and reused (freed by the first) the second. */
  double c0 = bench_now();
  scroll(&s, NULL, nall, 0, t);
  double c_direct_s = bench_now() - c0;
  double c_direct = med(t, nall);
  double c_fm_s[2], c_fm[2];
  for (int pass = 0; pass < 2; pass++) {
    fm = new_fm();
    if (mef3_files_open(NULL, fm, path, NULL))
      die("open");
    c0 = bench_now();
    scroll(&s, fm, nall, 0, t);
    c_fm_s[pass] = bench_now() - c0;
    c_fm[pass] = med(t, nall);
    mef3_files_get_stats(&st, fm);
    mef3_files_free(fm);
  }
  printf("C one pass, %d windows: direct %.2f s (%.2f ms/window); files "
         "%.2f s (%.2f ms/window, %.2fx the time) with new memory, %.2f s "
         "(%.2f ms/window, %.2fx) with memory reused; second pass: %llu "
         "tiles from prefetch, %llu waited for, %llu decoded by reads\n",
         nall, c_direct_s, c_direct, c_fm_s[0], c_fm[0], c_fm_s[0] / c_direct_s,
         c_fm_s[1], c_fm[1], c_fm_s[1] / c_direct_s,
         (unsigned long long)st.hits, (unsigned long long)st.waits,
         (unsigned long long)st.misses);
  free(t);
  free(s.chs);
}

int main(int argc, char **argv) {
  const char *dir = MEF3_BENCH_DIR;
  int windows = 20, pause_ms = 300;
  const char *sessions[16];
  int n_sessions = 0;
  fm_opts = (mef3_files_options)MEF3_FILES_OPTIONS_INIT;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--dir") && i + 1 < argc)
      dir = argv[++i];
    else if (!strcmp(argv[i], "--windows") && i + 1 < argc)
      windows = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--pause-ms") && i + 1 < argc)
      pause_ms = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--session") && i + 1 < argc && n_sessions < 16)
      sessions[n_sessions++] = argv[++i];
    else if (!strcmp(argv[i], "--processes") && i + 1 < argc)
      fm_opts.reader_processes = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--prefetch-processes") && i + 1 < argc)
      fm_opts.prefetch_processes = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--ahead") && i + 1 < argc)
      fm_opts.prefetch_ahead_windows = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--behind") && i + 1 < argc)
      fm_opts.prefetch_behind_windows = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--no-pool"))
      fm_opts.use_process_pool = 0;
    else {
      fprintf(stderr,
              "usage: bench_files [--dir DIR] [--windows N] [--pause-ms MS]\n"
              "         [--session PATH]... [--processes N] "
              "[--prefetch-processes N]\n"
              "         [--ahead N] [--behind N] [--no-pool]\n");
      return 2;
    }
  }
  static char eeg16[4096], eeg64[4096];
  if (n_sessions == 0) {
    snprintf(eeg16, sizeof eeg16, "%s/eeg16_256hz_1h.mefd", dir);
    snprintf(eeg64, sizeof eeg64, "%s/eeg64_256hz_1h.mefd", dir);
    mkdir(dir, 0755);
    if (bench_gen(MEF3_CLI, eeg16, 16, 256, "1h", NULL) ||
        bench_gen(MEF3_CLI, eeg64, 64, 256, "1h", NULL))
      return 1;
    sessions[n_sessions++] = eeg16;
    sessions[n_sessions++] = eeg64;
  }
  /* Freed heap memory stays with the process, as in a long-running
   * server whose heap has warmed up; what first touching memory costs
   * here is printed, since the cache keeps what it decodes. */
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  printf("bench_files: file manager vs direct in-process reads, %ld "
         "cores; copying 4 MiB: %.2f ms into memory in use, %.2f ms into "
         "new memory\n",
         sysconf(_SC_NPROCESSORS_ONLN), copy_ms(0), copy_ms(1));
  for (int i = 0; i < n_sessions; i++)
    run(sessions[i], windows, pause_ms);
  return 0;
}
