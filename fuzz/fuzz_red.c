/*
 * fuzz/fuzz_red.c - the RED block decoder: mef3_red_header_parse, then
 * mef3_red_decode on the whole input (CRC checked and not, so that
 * mutations reach the range decoder; no keys, level-1 and level-2 keys;
 * a small and a large output buffer), then mef3_red_decode_batch on the
 * input cut into consecutive blocks by their own byte counts.  Output
 * buffers are exactly `cap` samples so that ASan catches any overrun.
 * Invariants: a success decodes exactly the header's sample count, the
 * input is never modified, and the vector (AVX2) and scalar paths agree
 * on every job of the batch: code, sample count, range and samples.
 */
#include "fuzz_common.h"
#include "codec/red_lanes.h"

#define BIG_CAP 70000
#define MAX_JOBS 8

static mef3_red_ctx *ctx, *sca;

/* The same batch on the scalar path must give the same results. */
static void differential(const mef3_red_job *jobs, size_t nj,
                         const mef3_keys *k, int crc) {
  mef3_red_job sj[MAX_JOBS];
  int32_t *o[MAX_JOBS];
  for (size_t i = 0; i < nj; i++) {
    sj[i] = jobs[i];
    o[i] = malloc(jobs[i].cap * sizeof(int32_t));
    if (!o[i])
      abort();
    sj[i].out = o[i];
  }
  mef3_red_decode_batch(sca, sj, nj, k, crc, "fuzz");
  for (size_t i = 0; i < nj; i++) {
    if (sj[i].rc != jobs[i].rc || sj[i].n_out != jobs[i].n_out)
      abort();
    if (!jobs[i].rc && (sj[i].min != jobs[i].min || sj[i].max != jobs[i].max ||
                        memcmp(sj[i].out, jobs[i].out,
                               jobs[i].n_out * sizeof(int32_t))))
      abort();
    free(o[i]);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!ctx && (mef3_red_ctx_new(&ctx) != 0 || mef3_red_ctx_new(&sca) != 0))
    abort();
  mef3__red_ctx_vector(sca, 0);
  mef3_red_header h;
  int have_header = mef3_red_header_parse(&h, data, size, "fuzz", 0) == 0;
  uint8_t *copy = malloc(size ? size : 1);
  int32_t *small = malloc(64 * sizeof *small);
  int32_t *big = malloc(BIG_CAP * sizeof *big);
  if (!copy || !small || !big)
    abort();
  memcpy(copy, data, size);
  for (int level = 0; level <= 2; level++) {
    mef3_keys k = fuzz_keys(level);
    for (int crc = 0; crc <= 1; crc++) {
      size_t n = 0;
      int rc = mef3_red_decode(ctx, big, BIG_CAP, &n, data, size,
                               level ? &k : NULL, crc, "fuzz", 0);
      if (rc == 0 && (!have_header || n != h.number_of_samples))
        abort();
      mef3_red_decode(ctx, small, 64, &n, data, size, level ? &k : NULL, crc,
                      "fuzz", 0);
    }
  }
  /* Consecutive blocks, each as long as it says (or the rest). */
  mef3_red_job jobs[MAX_JOBS];
  int32_t *outs[MAX_JOBS] = {0};
  size_t nj = 0, pos = 0;
  while (nj < MAX_JOBS && size - pos >= MEF3_RED_HEADER_BYTES) {
    uint32_t bb;
    memcpy(&bb, data + pos + 36, 4);
    size_t len =
        bb >= MEF3_RED_HEADER_BYTES && bb <= size - pos ? bb : size - pos;
    memset(&jobs[nj], 0, sizeof jobs[nj]);
    jobs[nj].block = data + pos;
    jobs[nj].len = len;
    jobs[nj].offset = pos;
    jobs[nj].cap = nj % 2 ? 4096 : 256;
    outs[nj] = malloc(jobs[nj].cap * sizeof(int32_t));
    if (!outs[nj])
      abort();
    jobs[nj].out = outs[nj];
    nj++;
    pos += len;
  }
  if (nj) {
    mef3_keys k = fuzz_keys(2);
    mef3_red_decode_batch(ctx, jobs, nj, &k, 0, "fuzz");
    for (size_t i = 0; i < nj; i++)
      if (jobs[i].rc == 0 && jobs[i].n_out > jobs[i].cap)
        abort();
    differential(jobs, nj, &k, 0);
    mef3_red_decode_batch(ctx, jobs, nj, NULL, 1, "fuzz");
    differential(jobs, nj, NULL, 1);
  }
  for (size_t i = 0; i < nj; i++)
    free(outs[i]);
  if (memcmp(copy, data, size) != 0)
    abort();
  free(copy);
  free(small);
  free(big);
  return 0;
}
