/*
 * test_codec_red_lanes - the vector (AVX2) and scalar paths of the RED
 * decoder against each other and against the encoder's input.
 *
 * 1. 10,000 random blocks (EEG-like random walks, full-range noise, runs
 *    of key samples, constant blocks, 1 to 5000 samples) are encoded, then
 *    decoded in batches of random sizes (so that lanes are refilled at
 *    every point) by a context on the vector path and one on the scalar
 *    path: both must give back exactly the encoder's input.
 * 2. The same blocks, damaged (random bytes of the coded stream or of the
 *    statistics changed, CRC not checked): both paths must agree on every
 *    job's code, sample count and samples, whatever they decode to.
 * 3. Every block of every golden session, with its password where it has
 *    one: both paths agree bit for bit (the golden tests check the values).
 * On a CPU without AVX2 both contexts are scalar and the test still checks
 * the round trip.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "codec/red_lanes.h"
#include "util/bytes.h"
#include "testutil.h"

static mef3_red_ctx *vec, *sca;
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return (uint32_t)((rng * 2685821657736338717ull) >> 32);
}

static void make_samples(int32_t *x, size_t n) {
  int kind = (int)(rnd() % 6);
  int32_t v = (int32_t)rnd() >> (rnd() % 31);
  for (size_t i = 0; i < n; i++) {
    switch (kind) {
    case 0: /* small random walk */
      v += (int32_t)(rnd() % 41) - 20;
      break;
    case 1: /* larger steps: many key samples */
      v += (int32_t)(rnd() % 601) - 300;
      break;
    case 2: /* full range */
      v = (int32_t)rnd();
      break;
    case 3: /* constant */
      break;
    case 4: /* a sine-like walk with rare jumps */
      v += (int32_t)(rnd() % 7) - 3;
      if (rnd() % 97 == 0)
        v ^= (int32_t)(rnd() & 0xffff);
      break;
    default: /* around the ends of the escape range */
      v += (rnd() & 1) ? 127 : -128;
      break;
    }
    x[i] = v;
  }
}

typedef struct {
  uint8_t *blk;
  size_t len;
  int32_t *in;
  size_t n;
} block;

/* Decode blocks [0, nb) with both contexts, in batches of random sizes;
 * `exact`: each must give back its input; otherwise the paths must
 * merely agree.  Returns the number of disagreements. */
static size_t decode_both(block *b, size_t nb, int exact, int crc) {
  size_t bad = 0;
  mef3_red_job *jv = calloc(64, sizeof *jv), *js = calloc(64, sizeof *js);
  REQUIRE(jv && js);
  for (size_t at = 0; at < nb;) {
    size_t m = 1 + rnd() % 64;
    if (m > nb - at)
      m = nb - at;
    for (size_t j = 0; j < m; j++) {
      block *k = &b[at + j];
      size_t cap = k->n + (rnd() % 3 == 0 ? 0 : 7);
      jv[j] = (mef3_red_job){k->blk, k->len, at + j, malloc(cap * 4 + 4),
                             cap, 0, 0, 0, 0, {0}};
      js[j] = jv[j];
      js[j].out = malloc(cap * 4 + 4);
      REQUIRE(jv[j].out && js[j].out);
    }
    CHECK_RC(mef3_red_decode_batch(vec, jv, m, NULL, crc, "vec"), 0);
    CHECK_RC(mef3_red_decode_batch(sca, js, m, NULL, crc, "sca"), 0);
    for (size_t j = 0; j < m; j++) {
      int same = jv[j].rc == js[j].rc && jv[j].n_out == js[j].n_out &&
                 jv[j].min == js[j].min && jv[j].max == js[j].max &&
                 (jv[j].rc || !memcmp(jv[j].out, js[j].out, jv[j].n_out * 4));
      if (exact)
        same = same && jv[j].rc == 0 && jv[j].n_out == b[at + j].n &&
               !memcmp(jv[j].out, b[at + j].in, b[at + j].n * 4);
      if (!same && bad++ < 5)
        fprintf(stderr, "block %zu: vector rc %d n %zu, scalar rc %d n %zu\n",
                at + j, jv[j].rc, jv[j].n_out, js[j].rc, js[j].n_out);
      free(jv[j].out);
      free(js[j].out);
    }
    at += m;
  }
  free(jv);
  free(js);
  return bad;
}

static void random_blocks(void) {
  enum { NB = 10000 };
  block *b = calloc(NB, sizeof *b);
  REQUIRE(b != NULL);
  mef3_red_enc_ctx *enc;
  REQUIRE(mef3_red_enc_ctx_new(&enc) == 0);
  size_t samples = 0;
  for (size_t i = 0; i < NB; i++) {
    size_t n = rnd() % 8 == 0 ? 1 + rnd() % 5000 : 1 + rnd() % 600;
    b[i].n = n;
    b[i].in = malloc(n * 4);
    size_t cap = mef3_red_max_block_bytes(n);
    b[i].blk = malloc(cap);
    REQUIRE(b[i].in && b[i].blk);
    make_samples(b[i].in, n);
    mef3_red_enc_info info;
    REQUIRE(mef3_red_encode(enc, b[i].blk, cap, &info, b[i].in, n, 0, 0,
                            NULL) == 0);
    b[i].len = info.block_bytes;
    samples += n;
  }
  size_t bad = decode_both(b, NB, 1, 1);
  printf("random blocks: %d blocks, %zu samples, %zu wrong\n", NB, samples,
         bad);
  CHECK(bad == 0);
  /* Damaged: a few bytes of the statistics or the stream changed. */
  for (size_t i = 0; i < NB; i++) {
    int hits = 1 + (int)(rnd() % 4);
    for (int h = 0; h < hits; h++) {
      size_t at = rnd() % 4 == 0 ? MEF3_RED_STATS_OFFSET + rnd() % 256
                                 : MEF3_RED_HEADER_BYTES +
                                       rnd() % (b[i].len -
                                                MEF3_RED_HEADER_BYTES + 1);
      if (at < b[i].len)
        b[i].blk[at] = (uint8_t)rnd();
    }
    if (rnd() % 16 == 0) /* a header that promises more than is there */
      st_u32(b[i].blk + 28, (uint32_t)(5 * b[i].n));
  }
  bad = decode_both(b, NB, 0, 0);
  printf("damaged blocks: %d blocks, %zu disagreements\n", NB, bad);
  CHECK(bad == 0);
  for (size_t i = 0; i < NB; i++) {
    free(b[i].in);
    free(b[i].blk);
  }
  free(b);
  mef3_red_enc_ctx_free(enc);
}

/* Every block of one .tdat, both paths; returns the number of blocks. */
static size_t golden_tdat(const char *tdat, const mef3_keys *keys,
                          size_t *bad) {
  size_t len = 0;
  uint8_t *buf = tu_read_file(tdat, &len);
  REQUIRE(buf != NULL);
  mef3_red_job jv[64], js[64];
  size_t nb = 0, pos = MEF3_UH_BYTES;
  while (pos + MEF3_RED_HEADER_BYTES <= len) {
    size_t m = 0;
    while (m < 64 && pos + MEF3_RED_HEADER_BYTES <= len) {
      mef3_red_header h;
      REQUIRE(mef3_red_header_parse(&h, buf + pos, len - pos, tdat, pos) == 0);
      REQUIRE(h.block_bytes >= MEF3_RED_HEADER_BYTES &&
              pos + h.block_bytes <= len);
      size_t cap = h.number_of_samples;
      jv[m] = (mef3_red_job){buf + pos, h.block_bytes, pos, malloc(cap * 4 + 4),
                             cap, 0, 0, 0, 0, {0}};
      js[m] = jv[m];
      js[m].out = malloc(cap * 4 + 4);
      REQUIRE(jv[m].out && js[m].out);
      pos += h.block_bytes;
      m++;
    }
    CHECK_RC(mef3_red_decode_batch(vec, jv, m, keys, 1, tdat), 0);
    CHECK_RC(mef3_red_decode_batch(sca, js, m, keys, 1, tdat), 0);
    for (size_t j = 0; j < m; j++) {
      if (jv[j].rc != js[j].rc || jv[j].n_out != js[j].n_out ||
          memcmp(jv[j].out, js[j].out, jv[j].n_out * 4))
        (*bad)++;
      CHECK_MSG(jv[j].rc == 0, "%s", jv[j].message);
      free(jv[j].out);
      free(js[j].out);
    }
    nb += m;
  }
  free(buf);
  return nb;
}

/* Walk a golden folder for .tdat files; segments of encrypted sessions
 * get the keys of the first password that opens them. */
static void golden_walk(const char *dir, size_t *blocks, size_t *bad) {
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    struct stat st;
    size_t l = strlen(e->d_name);
    if (l > 5 && !strcmp(e->d_name + l - 5, ".tdat")) {
      char tmet[4096];
      snprintf(tmet, sizeof tmet, "%.*s.tmet", (int)(strlen(p) - 5), p);
      mef3_keys keys = {0};
      size_t ml = 0;
      uint8_t *m = tu_read_file(tmet, &ml);
      mef3_universal_header uh;
      if (m && mef3_uh_parse(&uh, m, ml, "tmet", tmet) == 0) {
        const char *pw[] = {"l2pass", "pass2"};
        for (int i = 0; i < 2; i++)
          if (mef3_keys_from_password(&keys, pw[i], &uh) == 0 &&
              keys.access_level > 0)
            break;
      }
      free(m);
      *blocks += golden_tdat(p, &keys, bad);
    } else if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
      golden_walk(p, blocks, bad);
    }
  }
  closedir(d);
}

int main(void) {
  REQUIRE(mef3_red_ctx_new(&vec) == 0);
  REQUIRE(mef3_red_ctx_new(&sca) == 0);
  int have = mef3__red_ctx_vector(vec, 1);
  CHECK(mef3__red_ctx_vector(sca, 0) == 0);
  printf("vector path: %s\n", have ? "AVX2" : "not on this CPU (scalar)");
  random_blocks();
  if (tu_have_golden()) {
    size_t blocks = 0, bad = 0;
    golden_walk(MEF3_GOLDEN_DIR, &blocks, &bad);
    printf("golden: %zu blocks, %zu differ between the paths\n", blocks, bad);
    CHECK(blocks > 500);
    CHECK(bad == 0);
  } else {
    fprintf(stderr, "golden folder missing: %s\n", MEF3_GOLDEN_DIR);
    check_failed++;
  }
  mef3_red_ctx_free(vec);
  mef3_red_ctx_free(sca);
  return check_finish();
}
