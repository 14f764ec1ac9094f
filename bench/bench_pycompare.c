/*
 * bench/bench_pycompare.c - the C calls under mef3pool's Python API,
 * timed on the window bench/python/bench_python.py times, so that it can
 * show each Python call beside the C call it wraps, in the same run:
 *  - reader_window_ms: mef3_reader_read_time_multi of every channel over
 *    [T0, T0 + 60 s), float32 (Reader.read of the same window);
 *  - reader_tile_ms: mef3_reader_read_time of the first channel over it
 *    (Reader.read of one channel);
 *  - pool_window_ms: mef3_pool_read_window over every channel with 2
 *    workers, warmed up, waited for (ReaderProcessPool(2).read_window);
 *  - pool_tile_ms: mef3_pool_submit_tiles of tile 0 of the first channel
 *    from T0, 60 s long, on the same pool (submit_read_tiles().result()).
 * With --client ADDR PATH instead of SESSION (for bench_wire.py), the
 * call under mef3pool.Client.get_signal_range:
 *  - client_window_ms: mef3_client_read of every channel of PATH on the
 *    server at ADDR over the same window, the signal freed each time.
 * Each is the median of REPS calls after one untimed call; printed as one
 * JSON object on stdout.
 *
 * usage: bench_pycompare SESSION T0_UUTC REPS
 *        bench_pycompare --client ADDR PATH T0_UUTC REPS
 */
#include "bench_util.h"
#include "mef3pool.h"
#include "mef3pool/client.h"

#define WINDOW_US 60000000LL

static void die(const char *what) {
  fprintf(stderr, "bench_pycompare: %s: %s\n", what,
          mef3_error_last()->message);
  exit(1);
}

typedef struct {
  const char *path;
  mef3_client *client;
  mef3_reader *r;
  mef3_pool *pool;
  size_t nch;
  const char **names;
  double *rates;
  size_t *chs, *ns;
  float *buf;
  size_t n; /* samples per channel in the window (channel 0's rate) */
  int64_t t0;
} ctx;

static void reader_window(ctx *c) {
  if (mef3_reader_read_time_multi(c->ns, NULL, c->r, c->chs, c->nch, c->t0,
                                  c->t0 + WINDOW_US, MEF3_F32, c->buf, c->n))
    die("read_time_multi");
}

static void reader_tile(ctx *c) {
  size_t got;
  mef3_read_report rep;
  if (mef3_reader_read_time(&got, &rep, c->r, 0, c->t0, c->t0 + WINDOW_US,
                            MEF3_F32, c->buf, c->n, NULL))
    die("read_time");
}

static void pool_window(ctx *c) {
  mef3_future *f;
  if (mef3_pool_read_window(&f, c->pool, c->path, c->names, c->rates, c->nch,
                            c->t0, c->t0 + WINDOW_US, 0))
    die("read_window");
  mef3_future_wait(f, -1);
  size_t rows, cols;
  if (mef3_future_status(f) || !mef3_future_window(&rows, &cols, f))
    die("window future");
  mef3_future_free(f);
}

static void pool_tile(ctx *c) {
  mef3_future *f;
  int64_t b = 0;
  if (mef3_pool_submit_tiles(&f, c->pool, c->path, c->names[0], &b, 1,
                             c->rates[0], c->t0, (int64_t)c->n))
    die("submit_tiles");
  mef3_future_wait(f, -1);
  if (mef3_future_status(f))
    die("tile future");
  mef3_future_free(f);
}

static void client_window(ctx *c) {
  mef3_signal *sig;
  if (mef3_client_read(&sig, c->client, c->path, NULL, 0, c->t0,
                       c->t0 + WINDOW_US, NULL, NULL))
    die("client read");
  mef3_signal_free(sig);
}

static double median_ms(ctx *c, void (*fn)(ctx *), int reps) {
  fn(c);
  double *t = malloc((size_t)reps * sizeof *t);
  if (!t)
    die("memory");
  for (int i = 0; i < reps; i++) {
    double a = bench_now();
    fn(c);
    t[i] = (bench_now() - a) * 1e3;
  }
  double m = bench_median(t, (size_t)reps);
  free(t);
  return m;
}

static int client_main(char **argv) {
  ctx c = {.path = argv[1], .t0 = strtoll(argv[2], NULL, 10)};
  int reps = atoi(argv[3]);
  if (mef3_client_new(&c.client, argv[0], NULL))
    die(argv[0]);
  mef3_file_info *info;
  int already;
  if (mef3_client_open(&info, &already, c.client, c.path, NULL))
    die(c.path);
  mef3_file_info_free(info);
  /* A new connection's flow-control window grows over its first reads
   * (BDP probing): those are not what a long-lived client sees. */
  for (int i = 0; i < 10; i++)
    client_window(&c);
  double cw = median_ms(&c, client_window, reps < 1 ? 1 : reps);
  printf("{\"client_window_ms\": %.4f}\n", cw);
  mef3_client_free(c.client);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 6 && !strcmp(argv[1], "--client"))
    return client_main(argv + 2);
  if (argc != 4) {
    fprintf(stderr, "usage: bench_pycompare SESSION T0_UUTC REPS\n"
                    "       bench_pycompare --client ADDR PATH T0_UUTC "
                    "REPS\n");
    return 2;
  }
  ctx c = {.path = argv[1], .t0 = strtoll(argv[2], NULL, 10)};
  int reps = atoi(argv[3]);
  if (reps < 1)
    reps = 1;
  if (mef3_reader_open(&c.r, c.path, NULL))
    die(c.path);
  c.nch = mef3_reader_channel_count(c.r);
  c.names = malloc(c.nch * sizeof *c.names);
  c.rates = malloc(c.nch * sizeof *c.rates);
  c.chs = malloc(c.nch * sizeof *c.chs);
  c.ns = malloc(c.nch * sizeof *c.ns);
  if (!c.names || !c.rates || !c.chs || !c.ns)
    die("memory");
  for (size_t i = 0; i < c.nch; i++) {
    c.names[i] = mef3_reader_channel(c.r, i)->name;
    c.rates[i] = mef3_reader_channel(c.r, i)->fs;
    c.chs[i] = i;
  }
  c.n = (size_t)mef3_window_samples(c.t0, c.t0 + WINDOW_US, c.rates[0]);
  if (!(c.buf = malloc(c.nch * c.n * sizeof *c.buf)))
    die("memory");
  mef3_pool_options o = MEF3_POOL_OPTIONS_INIT;
  o.max_workers = 2;
  o.worker_path = getenv("MEF3POOL_WORKER") ? NULL : MEF3_WORKER;
  if (mef3_pool_new(&c.pool, &o))
    die("pool");
  if (mef3_pool_warmup(c.pool, c.path, c.names[0], -1))
    die("warmup");
  double rw = median_ms(&c, reader_window, reps);
  double rt = median_ms(&c, reader_tile, reps);
  double pw = median_ms(&c, pool_window, reps);
  double pt = median_ms(&c, pool_tile, reps);
  printf("{\"reader_window_ms\": %.4f, \"reader_tile_ms\": %.4f, "
         "\"pool_window_ms\": %.4f, \"pool_tile_ms\": %.4f}\n",
         rw, rt, pw, pt);
  mef3_pool_free(c.pool);
  mef3_reader_close(c.r);
  free(c.buf);
  free(c.names);
  free(c.rates);
  free(c.chs);
  free(c.ns);
  return 0;
}
