/*
 * bench/bench_cold.c - a cold 16 ch x 60 s window, stage by stage, against
 * the pure decode of its blocks on two cores (issue 17: the server's cold
 * read at most 1.3x that).  On a generated 16 ch x 256 Hz x 1 h session,
 * each figure the median over windows nobody read before (a different
 * minute each time; the files are in the page cache, the tiles are not):
 *
 *  D1  pure decode, one thread: the 16 tiles with mef3_reader_read_tile
 *  D2  pure decode, two threads (8 tiles each, a reader each): the
 *      ceiling of two cores, the baseline
 *  P   the process pool (2 workers, warmed up): mef3_pool_submit_tiles,
 *      8 tiles to each worker, waited for
 *  F   the file manager (pool lane, 2 workers, prefetch off), a cold read
 *  S   the server (its file manager as F) through our C client
 *
 * and the steps between them: P - D2 what the pool adds (requests,
 * shared memory, the workers' wake-up), F - P what the file manager adds
 * (claims, the cache, publishing, cutting rows), S - F what serving adds
 * (gRPC, the send, the client).  Ratios are against D2.
 *
 * usage: bench_cold [--dir DIR] [--reps N]
 */
#include <limits.h>
#include <pthread.h>

#include "bench_util.h"
#include "mef3pool.h"
#include "mef3pool/client.h"

#define NCH 16
#define TILE_US 60000000LL

static void die(const char *what) {
  fprintf(stderr, "bench_cold: %s: %s\n", what, mef3_error_last()->message);
  exit(1);
}

typedef struct {
  const char *path;
  int64_t start; /* the session's start */
  double fs;
  int64_t S; /* samples per tile */
  const char *names[NCH];
} sess;

typedef struct {
  const sess *s;
  mef3_reader *r;
  size_t ch0, nch;
  int64_t tile;
  float *buf;
} decode_arg;

static void *decode_tiles(void *p) {
  decode_arg *a = p;
  for (size_t c = a->ch0; c < a->ch0 + a->nch; c++) {
    mef3_read_report rep;
    if (mef3_reader_read_tile(&rep, a->r, c, a->tile, a->s->fs, a->s->start,
                              a->s->S, a->buf, 1))
      die("read_tile");
  }
  return NULL;
}

/* Medians (ms) of the stages over `reps` windows, window k at minute
 * first + k of the recording. */
typedef struct {
  double d1, d2, p, f, srv;
} stages;

static double median_of(double *v, int n) { return bench_median(v, (size_t)n); }

static void measure(const sess *s, const char *addr, const char *server_path,
                    int reps, stages *out) {
  double *t = malloc((size_t)reps * 5 * sizeof *t);
  float *buf[2] = {malloc((size_t)s->S * sizeof(float)),
                   malloc((size_t)s->S * sizeof(float))};
  mef3_reader *r[2];
  mef3_reader_options ro = MEF3_READER_OPTIONS_INIT;
  if (!t || !buf[0] || !buf[1] || mef3_reader_open(&r[0], s->path, &ro) ||
      mef3_reader_open(&r[1], s->path, &ro))
    die("setup");
  mef3_pool_options po = MEF3_POOL_OPTIONS_INIT;
  po.max_workers = 2;
  po.worker_path = getenv("MEF3POOL_WORKER") ? NULL : MEF3_WORKER;
  mef3_pool *pool;
  if (mef3_pool_new(&pool, &po) ||
      mef3_pool_warmup(pool, s->path, s->names[0], -1))
    die("pool");
  mef3_files_options fo = MEF3_FILES_OPTIONS_INIT;
  fo.reader_processes = 2;
  fo.prefetch_processes = 1;
  fo.prefetch_ahead_windows = 0;
  fo.prefetch_behind_windows = 0;
  fo.worker_path = po.worker_path;
  mef3_files *fm;
  if (mef3_files_new(&fm, &fo) || mef3_files_open(NULL, fm, s->path, NULL))
    die("files");
  mef3_client *cl;
  if (mef3_client_new(&cl, addr, NULL) ||
      mef3_client_open(NULL, NULL, cl, server_path, NULL))
    die("client");
  /* Each stage gets windows of its own (nothing any stage decoded
   * before); minute 0 warms every path up. */
  int64_t tile = 0;
  for (int k = 0; k < reps; k++) {
    /* D1 */
    decode_arg one = {s, r[0], 0, NCH, ++tile, buf[0]};
    double a = bench_now();
    decode_tiles(&one);
    t[0 * reps + k] = (bench_now() - a) * 1e3;
    /* D2 */
    decode_arg two[2] = {{s, r[0], 0, NCH / 2, ++tile, buf[0]},
                         {s, r[1], NCH / 2, NCH / 2, tile, buf[1]}};
    pthread_t th;
    a = bench_now();
    pthread_create(&th, NULL, decode_tiles, &two[1]);
    decode_tiles(&two[0]);
    pthread_join(th, NULL);
    t[1 * reps + k] = (bench_now() - a) * 1e3;
    /* P: a tile of each channel, channels split over the two workers */
    ++tile;
    mef3_future *f[NCH];
    a = bench_now();
    for (int c = 0; c < NCH; c++)
      if (mef3_pool_submit_tiles(&f[c], pool, s->path, s->names[c], &tile, 1,
                                 s->fs, s->start, s->S))
        die("submit_tiles");
    for (int c = 0; c < NCH; c++) {
      mef3_future_wait(f[c], -1);
      if (mef3_future_status(f[c]))
        die("tile future");
    }
    t[2 * reps + k] = (bench_now() - a) * 1e3;
    for (int c = 0; c < NCH; c++)
      mef3_future_free(f[c]);
    /* F */
    int64_t w0 = s->start + ++tile * TILE_US;
    mef3_signal *sig;
    a = bench_now();
    if (mef3_files_read(&sig, fm, s->path, NULL, 0, w0, w0 + TILE_US))
      die("files read");
    t[3 * reps + k] = (bench_now() - a) * 1e3;
    mef3_signal_free(sig);
    /* S */
    w0 = s->start + ++tile * TILE_US;
    a = bench_now();
    if (mef3_client_read(&sig, cl, server_path, NULL, 0, w0, w0 + TILE_US,
                         NULL, NULL))
      die("client read");
    t[4 * reps + k] = (bench_now() - a) * 1e3;
    mef3_signal_free(sig);
  }
  out->d1 = median_of(t, reps);
  out->d2 = median_of(t + reps, reps);
  out->p = median_of(t + 2 * reps, reps);
  out->f = median_of(t + 3 * reps, reps);
  out->srv = median_of(t + 4 * reps, reps);
  mef3_client_free(cl);
  mef3_files_free(fm);
  mef3_pool_free(pool);
  mef3_reader_close(r[0]);
  mef3_reader_close(r[1]);
  free(buf[0]);
  free(buf[1]);
  free(t);
}

int main(int argc, char **argv) {
  const char *dir = MEF3_BENCH_DIR;
  int reps = 10;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--dir") && i + 1 < argc)
      dir = argv[++i];
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_cold [--dir DIR] [--reps N]\n");
      return 2;
    }
  }
  /* Five windows a repetition, each a fresh minute: at most 11 fit. */
  if (reps < 1 || reps * 5 > 55)
    reps = reps < 1 ? 1 : 11;
  mkdir(dir, 0755);
  char root[PATH_MAX], path[PATH_MAX + 32];
  if (!realpath(dir, root)) {
    perror(dir);
    return 1;
  }
  snprintf(path, sizeof path, "%s/eeg16_256hz_1h.mefd", root);
  if (bench_gen(MEF3_CLI, path, NCH, 256, "1h", NULL))
    return 1;
  sess s = {.path = path};
  mef3_reader *r;
  if (mef3_reader_open(&r, path, NULL))
    die(path);
  s.start = mef3_reader_channel(r, 0)->start_uutc;
  s.fs = mef3_reader_channel(r, 0)->fs;
  s.S = mef3_tile_samples(60.0, s.fs);
  static char names[NCH][64];
  for (int c = 0; c < NCH; c++) {
    snprintf(names[c], sizeof names[c], "%s", mef3_reader_channel(r, c)->name);
    s.names[c] = names[c];
  }
  mef3_reader_close(r);
  const char *extra[] = {"--prefetch-ahead-windows=0",
                         "--prefetch-behind-windows=0", "--log-level=warn",
                         NULL};
  int port;
  pid_t pid = bench_serve(MEF3_CLI, root, root, extra, &port);
  if (pid < 0) {
    fprintf(stderr, "bench_cold: cannot start %s serve\n", MEF3_CLI);
    return 1;
  }
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
  stages st;
  measure(&s, addr, "eeg16_256hz_1h.mefd", reps, &st);
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
  printf("bench_cold: a cold %d ch x 60 s window (%lld samples a tile), "
         "median of %d windows each\n",
         NCH, (long long)s.S, reps);
  printf("D1 pure decode, one thread          %7.3f ms   %5.2fx D2\n", st.d1,
         st.d1 / st.d2);
  printf("D2 pure decode, two threads         %7.3f ms   baseline\n", st.d2);
  printf("P  pool, 2 workers, 16 tile requests %6.3f ms   %5.2fx D2   "
         "(+%.3f ms: requests, shared memory, wake-ups)\n",
         st.p, st.p / st.d2, st.p - st.d2);
  printf("F  file manager, cold read           %6.3f ms   %5.2fx D2   "
         "(+%.3f ms over P: claims, cache, publish, cut)\n",
         st.f, st.f / st.d2, st.f - st.p);
  printf("S  server through our client         %6.3f ms   %5.2fx D2   "
         "(+%.3f ms over F: gRPC, send, client) [target <= 1.3x]\n",
         st.srv, st.srv / st.d2, st.srv - st.f);
  return 0;
}
