/*
 * bench/bench_pool.c - the reader process pool against the in-process
 * reader, measured in the same run, on generated 16- and 64-channel
 * x 256 Hz x 1 h sessions:
 *  - a 60 s window over all channels: in process (one thread), through a
 *    pool of 1 worker and of 2 workers (speed-up of 2 over 1, overhead of
 *    1 over in-process);
 *  - one 60 s tile of one channel through the pool versus in process
 *    (the added latency);
 *  - 1000 small requests (1 s tiles) from 4 threads: requests per second;
 *  - a whole pass (every 60 s tile of every channel): one in-process
 *    thread against pools of 1 and 2 workers, with the CPU time and the
 *    page faults of the host process and of the workers (from
 *    /proc/PID/stat), to show where a pass that does not scale spends.
 *
 * usage: bench_pool [--dir DIR] [--reps N]
 */
#include <pthread.h>
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench_util.h"
#include "mef3pool.h"

static void die(const char *what) {
  fprintf(stderr, "bench_pool: %s: %s\n", what, mef3_error_last()->message);
  exit(1);
}

static mef3_pool *pool_of(int n) {
  mef3_pool_options o = MEF3_POOL_OPTIONS_INIT;
  o.max_workers = n;
  o.worker_path = getenv("MEF3POOL_WORKER") ? NULL : MEF3_WORKER;
  mef3_pool *p;
  if (mef3_pool_new(&p, &o))
    die("pool");
  return p;
}

typedef struct {
  const char *path;
  mef3_reader *r;
  size_t nch;
  const char **names;
  double *rates;
  int64_t start, span;
  double fs;
} sess;

static void sess_open(sess *s, const char *path) {
  s->path = path;
  if (mef3_reader_open(&s->r, path, NULL))
    die(path);
  s->nch = mef3_reader_channel_count(s->r);
  s->names = malloc(s->nch * sizeof *s->names);
  s->rates = malloc(s->nch * sizeof *s->rates);
  for (size_t i = 0; i < s->nch; i++) {
    s->names[i] = mef3_reader_channel(s->r, i)->name;
    s->rates[i] = mef3_reader_channel(s->r, i)->fs;
  }
  const mef3_channel_info *c0 = mef3_reader_channel(s->r, 0);
  s->start = c0->start_uutc;
  s->span = c0->end_uutc - c0->start_uutc;
  s->fs = c0->fs;
}

static int64_t random_start(sess *s, uint64_t *seed, int64_t len) {
  int64_t room = (s->span - len) / 1000000;
  return s->start + (int64_t)(bench_rand(seed) % (uint64_t)room) * 1000000;
}

/* Median ms of 60 s all-channel windows: in process (pool NULL) or
 * through `p`. */
static double window_ms(sess *s, mef3_pool *p, int reps) {
  int64_t len = 60 * 1000000LL;
  size_t n = (size_t)mef3_window_samples(0, len, s->fs);
  float *buf = malloc(s->nch * n * sizeof *buf);
  size_t *chs = malloc(s->nch * sizeof *chs), *ns = malloc(s->nch * 8);
  for (size_t i = 0; i < s->nch; i++)
    chs[i] = i;
  double *t = malloc((size_t)reps * sizeof *t);
  uint64_t seed = 7;
  for (int i = 0; i < reps; i++) {
    int64_t t0 = random_start(s, &seed, len);
    double a = bench_now();
    if (!p) {
      if (mef3_reader_read_time_multi(ns, NULL, s->r, chs, s->nch, t0, t0 + len,
                                      MEF3_F32, buf, n))
        die("read");
    } else {
      mef3_future *f;
      if (mef3_pool_read_window(&f, p, s->path, s->names, s->rates, s->nch, t0,
                                t0 + len, 0))
        die("read_window");
      mef3_future_wait(f, -1);
      size_t rows, cols;
      if (mef3_future_status(f) || !mef3_future_window(&rows, &cols, f))
        die("window future");
      mef3_future_free(f);
    }
    t[i] = (bench_now() - a) * 1e3;
  }
  double m = bench_median(t, (size_t)reps);
  free(t);
  free(buf);
  free(chs);
  free(ns);
  return m;
}

/* Median ms of one 60 s tile of channel 0: in process or through p. */
static double tile_ms(sess *s, mef3_pool *p, int reps) {
  int64_t S = mef3_tile_samples(60.0, s->fs);
  float *buf = malloc((size_t)S * sizeof *buf);
  double *t = malloc((size_t)reps * sizeof *t);
  uint64_t seed = 11;
  int64_t tiles = (int64_t)(s->span / 60000000);
  for (int i = 0; i < reps; i++) {
    int64_t b = (int64_t)(bench_rand(&seed) % (uint64_t)tiles);
    double a = bench_now();
    if (!p) {
      mef3_reader_read_tile(NULL, s->r, 0, b, s->fs, s->start, S, buf, 0);
    } else {
      mef3_future *f;
      if (mef3_pool_submit_tiles(&f, p, s->path, s->names[0], &b, 1, s->fs,
                                 s->start, S))
        die("submit_tiles");
      mef3_future_wait(f, -1);
      if (mef3_future_status(f))
        die("tile future");
      mef3_future_free(f);
    }
    t[i] = (bench_now() - a) * 1e3;
  }
  double m = bench_median(t, (size_t)reps);
  free(t);
  free(buf);
  return m;
}

typedef struct {
  sess *s;
  mef3_pool *p;
  int n;
  int id;
  int errors;
} small_arg;

static void *small_requests(void *arg) {
  small_arg *a = arg;
  uint64_t seed = 100 + (uint64_t)a->id;
  int64_t S = mef3_tile_samples(1.0, a->s->fs);
  int64_t tiles = (int64_t)(a->s->span / 1000000);
  for (int i = 0; i < a->n; i++) {
    int64_t b = (int64_t)(bench_rand(&seed) % (uint64_t)tiles);
    size_t ch = bench_rand(&seed) % a->s->nch;
    mef3_future *f;
    if (mef3_pool_submit_tiles(&f, a->p, a->s->path, a->s->names[ch], &b, 1,
                               a->s->fs, a->s->start, S)) {
      a->errors++;
      continue;
    }
    mef3_future_wait(f, -1);
    a->errors += mef3_future_status(f) != 0;
    mef3_future_free(f);
  }
  return NULL;
}

static double tv_s(struct timeval t) {
  return (double)t.tv_sec + (double)t.tv_usec * 1e-6;
}

typedef struct {
  double wall, host_cpu, worker_cpu;
  long host_faults, worker_faults;
} pass_cost;

/* CPU seconds and minor faults of this process's children (the pool's
 * workers), from /proc/PID/stat: they are counted while they run. */
static void children_usage(double *cpu, long *faults) {
  *cpu = 0;
  *faults = 0;
  DIR *d = opendir("/proc");
  if (!d)
    return;
  struct dirent *e;
  long me = (long)getpid(), tick = sysconf(_SC_CLK_TCK);
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9')
      continue;
    char path[300], line[1024];
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f)
      continue;
    size_t k = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[k] = 0;
    const char *q = strrchr(line, ')'); /* the name may hold spaces */
    long ppid, minflt;
    unsigned long ut, st;
    if (q &&
        sscanf(q + 2, "%*c %ld %*d %*d %*d %*d %*u %ld %*u %*u %*u %lu %lu",
               &ppid, &minflt, &ut, &st) == 4 &&
        ppid == me) {
      *cpu += (double)(ut + st) / (double)tick;
      *faults += minflt;
    }
  }
  closedir(d);
}

/* Every 60 s tile of every channel once: in process on this thread (p
 * NULL) or through p. */
static pass_cost whole_pass(sess *s, mef3_pool *p) {
  int64_t S = mef3_tile_samples(60.0, s->fs);
  int64_t tiles = (int64_t)((s->span + 59999999) / 60000000);
  int64_t *idx = malloc((size_t)tiles * sizeof *idx);
  float *buf = malloc((size_t)S * sizeof *buf);
  mef3_future **f = malloc(s->nch * sizeof *f);
  for (int64_t b = 0; b < tiles; b++)
    idx[b] = b;
  struct rusage h0, h1;
  double wc0, wc1;
  long wf0, wf1;
  children_usage(&wc0, &wf0);
  getrusage(RUSAGE_SELF, &h0);
  double t = bench_now();
  if (!p) {
    for (size_t c = 0; c < s->nch; c++)
      for (int64_t b = 0; b < tiles; b++)
        if (mef3_reader_read_tile(NULL, s->r, c, b, s->fs, s->start, S, buf, 0))
          die("read_tile");
  } else {
    for (size_t c = 0; c < s->nch; c++)
      if (mef3_pool_submit_tiles(&f[c], p, s->path, s->names[c], idx,
                                 (size_t)tiles, s->fs, s->start, S))
        die("submit_tiles");
    for (size_t c = 0; c < s->nch; c++) {
      mef3_future_wait(f[c], -1);
      if (mef3_future_status(f[c]))
        die("tiles future");
    }
  }
  pass_cost r = {bench_now() - t, 0, 0, 0, 0};
  getrusage(RUSAGE_SELF, &h1);
  children_usage(&wc1, &wf1);
  if (p)
    for (size_t c = 0; c < s->nch; c++)
      mef3_future_free(f[c]);
  r.host_cpu = tv_s(h1.ru_utime) + tv_s(h1.ru_stime) - tv_s(h0.ru_utime) -
               tv_s(h0.ru_stime);
  r.host_faults = h1.ru_minflt - h0.ru_minflt;
  r.worker_cpu = wc1 - wc0;
  r.worker_faults = wf1 - wf0;
  free(idx);
  free(buf);
  free(f);
  return r;
}

static void run(const char *path, int reps) {
  sess s;
  sess_open(&s, path);
  printf("\n== %s (%zu channels x %.0f Hz, %.0f min)\n", path, s.nch, s.fs,
         (double)s.span / 60e6);
  mef3_pool *p1 = pool_of(1), *p2 = pool_of(2);
  if (mef3_pool_warmup(p1, path, s.names[0], -1) ||
      mef3_pool_warmup(p2, path, s.names[0], -1))
    die("warmup");
  window_ms(&s, p1, 2); /* warm the page cache and the workers' readers */
  window_ms(&s, p2, 2);
  double in = window_ms(&s, NULL, reps);
  double w1 = window_ms(&s, p1, reps);
  double w2 = window_ms(&s, p2, reps);
  printf("60 s window, all channels: in-process %.2f ms, 1 worker %.2f ms, "
         "2 workers %.2f ms\n",
         in, w1, w2);
  printf("  2 workers vs 1: %.2fx faster (target >= 1.8x); 1 worker vs "
         "in-process: %+.1f%% (target <= +10%%)\n",
         w1 / w2, 100 * (w1 - in) / in);
  double ti = tile_ms(&s, NULL, reps * 2);
  double tp = tile_ms(&s, p1, reps * 2);
  printf("one 60 s tile of one channel: in-process %.3f ms, pool %.3f ms: "
         "%+.3f ms (target <= +0.2 ms)\n",
         ti, tp, tp - ti);
  pthread_t th[4];
  small_arg a[4];
  double t0 = bench_now();
  for (int i = 0; i < 4; i++) {
    a[i] = (small_arg){&s, p2, 250, i, 0};
    pthread_create(&th[i], NULL, small_requests, &a[i]);
  }
  int errors = 0;
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    errors += a[i].errors;
  }
  double dt = bench_now() - t0;
  printf("1000 small requests (1 s tiles) from 4 threads, 2 workers: "
         "%.0f requests/s (%d errors)\n",
         1000 / dt, errors);
  /* Whole passes, interleaved, the best of each (by wall time). */
  mef3_pool *pools[3] = {NULL, p1, p2};
  pass_cost best[3];
  for (int k = 0; k < 3; k++)
    best[k].wall = 1e30;
  for (int r = 0; r < 4; r++)
    for (int k = 0; k < 3; k++) {
      pass_cost c = whole_pass(&s, pools[k]);
      if (r > 0 && c.wall < best[k].wall) /* the first warms the slabs */
        best[k] = c;
    }
  mef3_pool_free(p1);
  mef3_pool_free(p2);
  static const char *what[3] = {"in-process, 1 thread", "pool, 1 worker ",
                                "pool, 2 workers"};
  printf("whole pass (every 60 s tile of %zu channels), best of 3 after one:\n",
         s.nch);
  for (int k = 0; k < 3; k++)
    printf("  %s: %.3f s (%.2fx in-process); host CPU %.3f s, %ld faults; "
           "workers CPU %.3f s, %ld faults\n",
           what[k], best[k].wall, best[0].wall / best[k].wall, best[k].host_cpu,
           best[k].host_faults, best[k].worker_cpu, best[k].worker_faults);
  printf("  2 workers vs 1 in-process thread: %.2fx (target >= 1.8x)\n",
         best[0].wall / best[2].wall);
  mef3_reader_close(s.r);
  free(s.names);
  free(s.rates);
}

int main(int argc, char **argv) {
  const char *dir = MEF3_BENCH_DIR;
  int reps = 15;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--dir") && i + 1 < argc)
      dir = argv[++i];
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_pool [--dir DIR] [--reps N]\n");
      return 2;
    }
  }
  char eeg16[4096], eeg64[4096];
  snprintf(eeg16, sizeof eeg16, "%s/eeg16_256hz_1h.mefd", dir);
  snprintf(eeg64, sizeof eeg64, "%s/eeg64_256hz_1h.mefd", dir);
  mkdir(dir, 0755);
  if (bench_gen(MEF3_CLI, eeg16, 16, 256, "1h", NULL) ||
      bench_gen(MEF3_CLI, eeg64, 64, 256, "1h", NULL))
    return 1;
  run(eeg16, reps);
  run(eeg64, reps);
  return 0;
}
