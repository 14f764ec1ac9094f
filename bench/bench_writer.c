/*
 * bench/bench_writer.c - how fast sessions are written (issue 3).
 *
 * Prints, next to the memory-copy bandwidth measured in the same run:
 *  - the RED encoder alone on EEG-like blocks of one second at 256 Hz
 *    (mega-samples per second, one core);
 *  - the EEG-like synthesizer alone;
 *  - mef3_gen_session for 64 channels x 256 Hz x 1 h (what
 *    `mef3pool gen OUT --channels 64 --fs 256 --duration 1h` does):
 *    wall and CPU seconds, mega-samples per second, the compression
 *    ratio; then the same session written through the writer without I/O
 *    buffering (every block written as it completes, as a recorder
 *    would).
 *
 * usage: bench_writer [--dir DIR] [--minutes M]
 * The sessions go to DIR (default: the build folder's bench-data) and are
 * removed afterwards.
 */
#include <stdint.h>

#include "bench_util.h"
#include "mef3pool.h"


static void die(const char *what) {
  fprintf(stderr, "bench_writer: %s: %s\n", what, mef3_error_last()->message);
  exit(1);
}

static void encoder(void) {
  enum { FS = 256, SECONDS = 600 };
  size_t n = (size_t)FS * SECONDS;
  double *v = malloc(n * sizeof *v);
  int32_t *x = malloc(n * sizeof *x);
  mef3_synth *s = NULL;
  if (!v || !x || mef3_synth_new(&s, 1, 0, 1, FS))
    die("setup");
  double t = bench_now();
  mef3_synth_fill(s, v, n);
  double synth = bench_now() - t;
  mef3_synth_free(s);
  for (size_t i = 0; i < n; i++)
    x[i] = (int32_t)(v[i] * 10.0 + (v[i] < 0 ? -0.5 : 0.5));
  mef3_red_enc_ctx *e;
  size_t cap = mef3_red_max_block_bytes(FS);
  uint8_t *blk = malloc(cap);
  if (!blk || mef3_red_enc_ctx_new(&e))
    die("setup");
  double best = 1e30;
  uint64_t bytes = 0;
  for (int rep = 0; rep < 5; rep++) {
    bytes = 0;
    t = bench_now();
    for (size_t b = 0; b + FS <= n; b += FS) {
      mef3_red_enc_info info;
      if (mef3_red_encode(e, blk, cap, &info, x + b, FS, -1, 0, NULL))
        die("encode");
      bytes += info.block_bytes;
    }
    double dt = bench_now() - t;
    best = dt < best ? dt : best;
  }
  printf("RED encoder, 1-s blocks at 256 Hz:   %7.1f MS/s (ratio %.2f)\n",
         (double)n / best / 1e6, 4.0 * (double)n / (double)bytes);
  printf("EEG-like synthesizer:                 %7.1f MS/s\n",
         (double)n / synth / 1e6);
  mef3_red_enc_ctx_free(e);
  free(blk);
  free(v);
  free(x);
}

/* Write the 64-channel session; `buffered` picks the generator's bulk
 * mode, else a plain writer fed one second per call per channel. */
static void session(const char *dir, int minutes, int buffered) {
  char path[4096];
  snprintf(path, sizeof path, "%s/bench_writer_%d.mefd", dir, buffered);
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
  if (system(cmd) != 0)
    die("rm");
  enum { NCH = 64, FS = 256 };
  double t = bench_now(), c = bench_cpu();
  mef3_gen_result res = {0, 0, 0, 0, 0};
  if (buffered) {
    mef3_gen_options o = MEF3_GEN_OPTIONS_INIT;
    o.n_channels = NCH;
    o.fs = FS;
    o.duration_us = (int64_t)minutes * 60000000;
    o.seed = 7;
    if (mef3_gen_session(&res, path, &o, NULL, NULL))
      die(path);
  } else {
    /* One synthesizer per channel, one second per call, as a recorder
     * would deliver it, and no I/O buffering. */
    mef3_writer *w;
    mef3_writer_options o = MEF3_WRITER_OPTIONS_INIT;
    if (mef3_writer_open(&w, path, &o))
      die(path);
    mef3_synth *syn[NCH];
    double v[FS];
    for (size_t ch = 0; ch < NCH; ch++) {
      char name[16];
      snprintf(name, sizeof name, "ch%02zu", ch + 1);
      mef3_channel_options co = MEF3_CHANNEL_OPTIONS_INIT;
      co.name = name;
      co.fs = FS;
      co.start_uutc = 1609459200000000LL;
      co.units_conversion_factor = 0.1;
      size_t idx;
      if (mef3_writer_add_channel(&idx, w, &co) ||
          mef3_synth_new(&syn[ch], 7, ch, NCH, FS))
        die("channel");
    }
    for (int sec = 0; sec < minutes * 60; sec++)
      for (size_t ch = 0; ch < NCH; ch++) {
        mef3_synth_fill(syn[ch], v, FS);
        if (mef3_writer_write_f64(w, ch, MEF3_UUTC_NO_ENTRY, v, FS))
          die("write");
      }
    mef3_writer_stats st;
    if (mef3_writer_flush(w, MEF3_WRITER_ALL_CHANNELS))
      die("flush");
    mef3_writer_get_stats(&st, w);
    res.samples = st.samples;
    res.bytes = st.bytes;
    if (mef3_writer_close(w))
      die("close");
    for (size_t ch = 0; ch < NCH; ch++)
      mef3_synth_free(syn[ch]);
  }
  double wall = bench_now() - t, cpu = bench_cpu() - c;
  printf("%s 64 ch x 256 Hz x %d min: %6.2f s wall, %6.2f s CPU, "
         "%6.1f MS/s, ratio %.2f\n",
         buffered ? "mef3_gen_session (2 threads, buffered)"
                  : "writer, 1 s per call, write-through    ",
         minutes, wall, cpu, (double)res.samples / wall / 1e6,
         4.0 * (double)res.samples / (double)res.bytes);
  if (system(cmd) != 0)
    die("rm");
}

int main(int argc, char **argv) {
  const char *dir = MEF3_BENCH_DIR;
  int minutes = 60;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--dir") && i + 1 < argc)
      dir = argv[++i];
    else if (!strcmp(argv[i], "--minutes") && i + 1 < argc)
      minutes = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_writer [--dir DIR] [--minutes M]\n");
      return 2;
    }
  }
  if (minutes < 1)
    minutes = 1;
  mkdir(dir, 0755);
  printf("memory copy: %.1f GB/s\n", bench_memcpy_bandwidth() / 1e9);
  encoder();
  session(dir, minutes, 1);
  session(dir, minutes, 0);
  return 0;
}
