/*
 * bench/bench_util.h - timing, statistics and session generation shared
 * by the benchmark programs.  Benchmarks print their figures next to a
 * baseline measured in the same run, since these machines are noisy; they
 * assert nothing.
 */
#ifndef MEF3_BENCH_UTIL_H
#define MEF3_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Paths the build passes in; these defaults serve a build by hand. */
#ifndef MEF3_BENCH_DIR
#define MEF3_BENCH_DIR "bench-data"
#endif
#ifndef MEF3_CLI
#define MEF3_CLI "mef3pool"
#endif
#ifndef MEF3_WORKER
#define MEF3_WORKER NULL
#endif

static inline double bench_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static inline double bench_cpu(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Median of n values (sorts them). */
static inline double bench_median(double *v, size_t n) {
  if (n == 0)
    return 0;
  qsort(v, n, sizeof *v, bench_cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Deterministic pseudo-random numbers (xorshift64*). */
static inline uint64_t bench_rand(uint64_t *s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 2685821657736338717ull;
}

/* Memory-copy bandwidth of this machine in bytes per second (one core):
 * the ceiling any decoder writing samples runs under. */
static inline double bench_memcpy_bandwidth(void) {
  size_t n = (size_t)64 << 20;
  char *a = malloc(n), *b = malloc(n);
  if (!a || !b)
    return 0;
  memset(a, 1, n);
  memset(b, 2, n);
  double best = 1e30;
  for (int r = 0; r < 5; r++) {
    double t = bench_now();
    memcpy(b, a, n);
    t = bench_now() - t;
    if (t < best)
      best = t;
  }
  volatile char sink = b[n / 2];
  (void)sink;
  free(a);
  free(b);
  return (double)n / best;
}

/*
 * Make a session with `mef3pool gen` unless it exists already (kept in
 * the build folder between runs).  Returns 0 on success.
 */
static inline int bench_gen(const char *cli, const char *path, int channels,
                            double fs, const char *duration,
                            const char *extra) {
  struct stat st;
  if (stat(path, &st) == 0)
    return 0;
  char cmd[3 * PATH_MAX];
  snprintf(cmd, sizeof cmd,
           "'%s' gen '%s' --channels %d --fs %g --duration %s --seed 1 %s "
           ">/dev/null",
           cli, path, channels, fs, duration, extra ? extra : "");
  fprintf(stderr, "generating %s (%d ch x %g Hz x %s)...\n", path, channels, fs,
          duration);
  double t = bench_now();
  int rc = system(cmd);
  if (rc != 0) {
    fprintf(stderr, "bench: \"%s\" failed\n", cmd);
    return -1;
  }
  fprintf(stderr, "  done in %.1f s\n", bench_now() - t);
  return 0;
}

extern char **environ;

/* Start `CLI serve` of `root` on a free loopback port with the arguments
 * `extra` (NULL-terminated) added; its port file goes in `dir`.  Returns
 * its pid and *port, or -1 when it did not start within 30 s. */
static inline pid_t bench_serve(const char *cli, const char *root,
                                const char *dir, const char *const *extra,
                                int *port) {
  char port_file[2 * PATH_MAX];
  snprintf(port_file, sizeof port_file, "%s/bench-port", dir);
  unlink(port_file);
  const char *argv[32] = {cli,           "serve", "--port=0",
                          "--port-file", port_file, "--root",
                          root};
  int n = 7;
  for (int i = 0; extra && extra[i] && n < 31; i++)
    argv[n++] = extra[i];
  argv[n] = NULL;
  pid_t pid;
  if (posix_spawn(&pid, cli, NULL, NULL, (char *const *)argv, environ))
    return -1;
  for (int i = 0; i < 300; i++) {
    FILE *f = fopen(port_file, "r");
    if (f) {
      int ok = fscanf(f, "%d", port) == 1;
      fclose(f);
      if (ok)
        return pid;
    }
    struct timespec t = {0, 100000000};
    nanosleep(&t, NULL);
  }
  kill(pid, SIGKILL);
  return -1;
}

#endif
