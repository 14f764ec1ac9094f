/*
 * bench/bench_red.c - the RED block decoder against a plain baseline,
 * "spec-plain", on the blocks of a generated EEG-like session; and the two
 * CRC paths of ours against each other.
 *
 * spec-plain is a decoder of ours written the way the MEF 3.0
 * specification describes decoding (and the reference library, meflib,
 * does it): a byte-wise table CRC, one block at a time, two divisions per
 * symbol and a linear search of the cumulative counts for the symbol,
 * differences into a byte buffer, then samples, then float32.  It runs at
 * about meflib's speed (docs/performance.md has the ratio measured once
 * against meflib built outside the repository), so "x spec-plain" here
 * reads as "x meflib" on any machine.
 *
 * Both decoders take the same blocks, already in memory (the data files
 * are read once up front), with the CRC checked, float32 out (one double
 * multiply by a units factor, rounded to float, as the reader does) or
 * int32.  The outputs are compared sample for sample before anything is
 * timed.  Rounds alternate the two, each keeps its best (the machine is
 * shared and noisy): the ratio is the figure to read.
 *
 * usage: bench_red [--reps N] [--only MODE] [SESSION.mefd]
 * --only runs one pass of one decoder (for callgrind / perf stat): MODE
 * base, base-i32 (spec-plain), ours or ours-i32; -i32 gives int32
 * samples, no float32 conversion.
 */
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "bench_util.h"
#include "codec/crc.h"
#include "mef3pool.h"

typedef struct {
  uint8_t *data; /* all blocks of all data files, back to back */
  size_t len;
  size_t *off; /* start of each block */
  uint32_t *ns;
  size_t n;
  size_t samples;
  uint32_t max_ns; /* of one block */
} blockset;

static void add_file(blockset *bs, const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0)
    return;
  struct stat st;
  fstat(fd, &st);
  size_t flen = (size_t)st.st_size;
  if (flen <= 1024) {
    close(fd);
    return;
  }
  bs->data = realloc(bs->data, bs->len + flen);
  ssize_t got = pread(fd, bs->data + bs->len, flen, 0);
  close(fd);
  if (got != (ssize_t)flen) {
    fprintf(stderr, "bench: short read of %s\n", path);
    exit(1);
  }
  /* Skip the 1024-byte universal header, then walk the blocks by their
   * own byte counts. */
  size_t at = bs->len + 1024, end = bs->len + flen;
  while (at + MEF3_RED_HEADER_BYTES <= end) {
    mef3_red_header h;
    mef3_red_header_parse(&h, bs->data + at, end - at, path, at);
    if (h.block_bytes < MEF3_RED_HEADER_BYTES || at + h.block_bytes > end)
      break;
    bs->off = realloc(bs->off, (bs->n + 1) * sizeof *bs->off);
    bs->ns = realloc(bs->ns, (bs->n + 1) * sizeof *bs->ns);
    bs->off[bs->n] = at;
    bs->ns[bs->n] = h.number_of_samples;
    bs->samples += h.number_of_samples;
    if (h.number_of_samples > bs->max_ns)
      bs->max_ns = h.number_of_samples;
    bs->n++;
    at += h.block_bytes;
  }
  bs->len += flen;
}

/* Every .tdat under dir, in name order so runs are repeatable. */
static void walk(blockset *bs, const char *dir) {
  struct dirent **ents;
  int n = scandir(dir, &ents, NULL, alphasort);
  for (int i = 0; i < n; i++) {
    const char *nm = ents[i]->d_name;
    if (nm[0] != '.') {
      char p[4096];
      snprintf(p, sizeof p, "%s/%s", dir, nm);
      size_t l = strlen(nm);
      struct stat st;
      if (l > 5 && !strcmp(nm + l - 5, ".tdat"))
        add_file(bs, p);
      else if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
        walk(bs, p);
    }
    free(ents[i]);
  }
  free(ents);
}

/* ---- the baseline: the specification's decoder, plainly ---- */

static uint32_t base_crc_table[256];

static void base_crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = c & 1 ? (c >> 1) ^ 0xEB31D82Eu : c >> 1;
    base_crc_table[i] = c;
  }
}

static uint32_t base_crc(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++)
    c = (c >> 8) ^ base_crc_table[(c ^ p[i]) & 0xff];
  return c;
}

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

/* Decode one lossless block into outf (float32, times ufact) or, when
 * outf is NULL, into outi (int32); returns the number of samples or -1.
 * `diff` has room for the difference bytes. */
static long base_decode(const uint8_t *b, float *outf, int32_t *outi,
                        double ufact, uint8_t *diff) {
  uint32_t crc = le32(b), nd = le32(b + 28), ns = le32(b + 32),
           bytes = le32(b + 36);
  if (base_crc(b + 4, bytes - 4) != crc)
    return -1;
  const uint8_t *counts = b + 48;
  uint32_t cum[257];
  cum[0] = 0;
  for (int s = 0; s < 256; s++)
    cum[s + 1] = cum[s] + counts[s];
  uint32_t total = cum[256];
  const uint8_t *ib = b + MEF3_RED_HEADER_BYTES,
                *ie = b + bytes; /* past the end: zeros */
  uint32_t low = ib[0] >> 1, range = 1u << 7;
  /* diff[0] is the first key sample's implicit escape. */
  for (uint32_t i = 1; i < nd; i++) {
    while (range <= 0x800000u) {
      uint32_t c0 = ib < ie ? ib[0] : 0, c1 = ib + 1 < ie ? ib[1] : 0;
      ib++;
      low = (low << 8) | ((c0 << 7) & 0xff) | (c1 >> 1);
      range <<= 8;
    }
    uint32_t rpc = range / total;
    uint32_t cc = low / rpc;
    if (cc >= total)
      cc = total - 1;
    /* Linear search, from whichever end of the table is nearer the
     * middle count (small differences sit at both ends). */
    uint32_t s;
    if (cc > cum[128]) {
      s = 256;
      while (cum[s] > cc)
        s--;
    } else {
      s = 0;
      while (cum[s + 1] <= cc)
        s++;
    }
    low -= rpc * cum[s];
    range = s < 255 ? rpc * counts[s] : range - rpc * cum[s];
    diff[i] = (uint8_t)s;
  }
  /* Differences -> samples. */
  uint32_t k = 1, cur = 0;
  for (uint32_t i = 0; i < ns; i++) {
    if (k >= nd)
      return -1;
    if (i == 0 || diff[k] == 0x80) {
      k += i != 0;
      cur = le32(diff + k);
      k += 4;
    } else {
      cur += (uint32_t)(int32_t)(int8_t)diff[k++];
    }
    if (outf)
      outf[i] = (float)((double)(int32_t)cur * ufact);
    else
      outi[i] = (int32_t)cur;
  }
  return ns;
}

/* ---- the CRC alone, by either path of ours ---- */

static double run_crc(const blockset *bs, int clmul, uint32_t *sum,
                      double *bytes) {
  uint32_t x = 0;
  *bytes = 0;
  double t = bench_cpu();
  for (size_t i = 0; i < bs->n; i++) {
    const uint8_t *b = bs->data + bs->off[i];
    size_t n = le32(b + 36) - 4;
    *bytes += (double)n;
    x ^= clmul ? mef3__crc32_clmul(0xFFFFFFFFu, b + 4, n)
               : mef3__crc32_table(0xFFFFFFFFu, b + 4, n);
  }
  t = bench_cpu() - t;
  *sum = x;
  return t;
}

/* ---- the two passes ---- */

static const double UFACT = 0.25;

/* f32 = 0: int32 samples into out (as int32_t). */
static double run_base(const blockset *bs, float *out, int f32) {
  uint8_t *diff = malloc((size_t)5 * bs->max_ns + 64);
  double t = bench_cpu();
  size_t at = 0;
  for (size_t i = 0; i < bs->n; i++) {
    long n = base_decode(bs->data + bs->off[i], f32 ? out + at : NULL,
                         f32 ? NULL : (int32_t *)(void *)out + at, UFACT, diff);
    if (n < 0) {
      fprintf(stderr, "bench: baseline fails on block %zu\n", i);
      exit(1);
    }
    at += (size_t)n;
  }
  t = bench_cpu() - t;
  free(diff);
  return t;
}

/* f32 = 0: int32 samples copied into out (as int32_t), as the reader
 * does for int32 reads. */
static double run_ours(const blockset *bs, float *out, mef3_red_ctx *ctx,
                       int32_t *tmp, int f32) {
  enum { BATCH = 64 };
  mef3_red_job jobs[BATCH];
  double t = bench_cpu();
  size_t at = 0;
  for (size_t i = 0; i < bs->n; i += BATCH) {
    size_t m = bs->n - i < BATCH ? bs->n - i : BATCH, ta = 0;
    for (size_t j = 0; j < m; j++) {
      jobs[j].block = bs->data + bs->off[i + j];
      jobs[j].len = bs->len - bs->off[i + j];
      jobs[j].offset = bs->off[i + j];
      jobs[j].out = tmp + ta;
      jobs[j].cap = bs->ns[i + j];
      ta += bs->ns[i + j];
    }
    mef3_red_decode_batch(ctx, jobs, m, NULL, 1, "bench");
    for (size_t j = 0; j < m; j++) {
      if (jobs[j].rc) {
        fprintf(stderr, "bench: %s\n", jobs[j].message);
        exit(1);
      }
      const int32_t *s = jobs[j].out;
      float *o = out + at;
      if (!f32) {
        memcpy((int32_t *)(void *)out + at, s, jobs[j].n_out * sizeof *s);
        at += jobs[j].n_out;
        continue;
      }
      size_t k = 0, n = jobs[j].n_out;
#if defined(__SSE2__)
      /* As the reader converts (reader/window.c): four at a time, the same
       * double multiply and rounding to float as the plain loop. */
      __m128d f = _mm_set1_pd(UFACT);
      for (; k + 4 <= n; k += 4) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + k));
        __m128d lo = _mm_mul_pd(_mm_cvtepi32_pd(v), f);
        __m128d hi = _mm_mul_pd(
            _mm_cvtepi32_pd(_mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 3, 2))), f);
        _mm_storeu_ps(o + k, _mm_movelh_ps(_mm_cvtpd_ps(lo), _mm_cvtpd_ps(hi)));
      }
#endif
      for (; k < n; k++)
        o[k] = (float)((double)s[k] * UFACT);
      at += jobs[j].n_out;
    }
  }
  return bench_cpu() - t;
}

int main(int argc, char **argv) {
  const char *session = NULL, *only = NULL;
  int reps = 5;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--only") && i + 1 < argc)
      only = argv[++i];
    else if (argv[i][0] != '-')
      session = argv[i];
    else {
      fprintf(
          stderr,
          "usage: bench_red [--reps N] [--only base|base-i32|ours|ours-i32] "
          "[SESSION]\n");
      return 2;
    }
  }
  char eeg16[2048];
  if (!session) {
    snprintf(eeg16, sizeof eeg16, "%s/eeg16_256hz_1h.mefd", MEF3_BENCH_DIR);
    mkdir(MEF3_BENCH_DIR, 0755);
    if (bench_gen(MEF3_CLI, eeg16, 16, 256, "1h", NULL))
      return 1;
    session = eeg16;
  }
  blockset bs = {0};
  walk(&bs, session);
  if (!bs.n) {
    fprintf(stderr, "bench: no RED blocks under %s\n", session);
    return 1;
  }
  base_crc_init();
  float *a = malloc(bs.samples * sizeof *a),
        *b = malloc(bs.samples * sizeof *b);
  int32_t *tmp = malloc(((size_t)64 * bs.max_ns) * sizeof *tmp);
  mef3_red_ctx *ctx;
  if (!a || !b || !tmp || mef3_red_ctx_new(&ctx))
    return 1;
  double ms = (double)bs.samples / 1e6;
  if (only) {
    int f32 = strstr(only, "-i32") == NULL;
    double t = !strncmp(only, "base", 4) ? run_base(&bs, a, f32)
                                         : run_ours(&bs, a, ctx, tmp, f32);
    printf("%s: %zu blocks, %zu samples, %.1f MS/s\n", only, bs.n, bs.samples,
           ms / t);
    return 0;
  }
  /* [f32]: spec-plain and ours, each its best of the interleaved rounds
   * (float32 and int32 share the buffers; both have 4-byte samples). */
  double tb[2] = {1e30, 1e30}, to[2] = {1e30, 1e30};
  for (int f32 = 0; f32 < 2; f32++) {
    run_base(&bs, a, f32);
    run_ours(&bs, b, ctx, tmp, f32);
    if (memcmp(a, b, bs.samples * sizeof *a)) {
      fprintf(stderr, "bench: the decoders disagree (%s)\n",
              f32 ? "f32" : "i32");
      return 1;
    }
  }
  for (int r = 0; r < reps; r++)
    for (int f32 = 0; f32 < 2; f32++) {
      double t = run_base(&bs, a, f32);
      tb[f32] = t < tb[f32] ? t : tb[f32];
      t = run_ours(&bs, b, ctx, tmp, f32);
      to[f32] = t < to[f32] ? t : to[f32];
    }
  double tc[2] = {1e30, 1e30};
  uint32_t sums[2] = {0, 0};
  double crc_bytes = 0;
  int clmul = mef3__crc32_clmul_usable();
  for (int r = 0; r < reps; r++)
    for (int p = 0; p <= clmul; p++) {
      double t = run_crc(&bs, p, &sums[p], &crc_bytes);
      tc[p] = t < tc[p] ? t : tc[p];
    }
  if (clmul && sums[0] != sums[1]) {
    fprintf(stderr, "bench: the CRC paths disagree\n");
    return 1;
  }
  printf("session: %s (%zu blocks, %zu samples)\n", session, bs.n, bs.samples);
  double gb = crc_bytes / 1e9;
  printf("crc table  (slicing by 8):          %7.2f GB/s per core\n",
         gb / tc[0]);
  if (clmul)
    printf("crc clmul  (PCLMULQDQ folding):     %7.2f GB/s per core  "
           "(%.2fx table)\n",
           gb / tc[1], tc[0] / tc[1]);
  for (int f32 = 1; f32 >= 0; f32--) {
    const char *ty = f32 ? "f32" : "i32";
    printf("red spec-plain (one block, linear search), CRC on, %s: %7.1f MS/s "
           "per core\n",
           ty, ms / tb[f32]);
    printf("red ours       (16-lane batch decoder),   CRC on, %s: %7.1f MS/s "
           "per core  (ours vs spec-plain %.2fx)\n",
           ty, ms / to[f32], tb[f32] / to[f32]);
  }
  mef3_red_ctx_free(ctx);
  free(a);
  free(b);
  free(tmp);
  free(bs.data);
  free(bs.off);
  free(bs.ns);
  return 0;
}
