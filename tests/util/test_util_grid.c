/*
 * test_util_grid.c - the sample grid (mef3pool/grid.h), the one module
 * every layer computes slots, window lengths, tile windows and chunk
 * splits with.
 *
 * Before it, the file manager computed a slot with two formulas: a read
 * rounded halves to even on an integer difference, its prefetch planning
 * halves away from zero on a double difference; the HTTP API and the
 * envelopes rounded halves away while the reads behind them rounded to
 * even, so on a tie a window's announced start was one sample off its
 * data.  The first cases pin the tie where those formulas parted.
 */
#include <math.h>
#include <stdint.h>

#include "check.h"
#include "mef3pool/grid.h"

/* A deterministic stream of numbers (xorshift). */
static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void ties(void) {
  const int64_t cs = 1600000000000000;
  /* 250 Hz, 2 ms after the start: position 0.5.  The old prefetch rule
   * (round on doubles) said 1, the read's rule 0: they disagreed. */
  double old_prefetch = round(((double)(cs + 2000) - (double)cs) * 250 / 1e6);
  CHECK(old_prefetch == 1.0);
  CHECK(mef3_grid_slot(cs + 2000, cs, 250, MEF3_ROUND_EVEN) == 0);
  CHECK(mef3_grid_slot(cs + 2000, cs, 250, MEF3_ROUND_AWAY) == 1);
  CHECK(mef3_grid_slot(cs + 6000, cs, 250, MEF3_ROUND_EVEN) == 2); /* 1.5 */
  CHECK(mef3_grid_slot(cs + 6000, cs, 250, MEF3_ROUND_AWAY) == 2);
  CHECK(mef3_grid_slot(cs - 2000, cs, 250, MEF3_ROUND_EVEN) == 0); /* -0.5 */
  CHECK(mef3_grid_slot(cs - 2000, cs, 250, MEF3_ROUND_AWAY) == -1);
  /* 1000 Hz, 2500 µs: 2 samples for the original server, 3 for a reader. */
  CHECK(mef3_grid_samples(cs, cs + 2500, 1000, MEF3_ROUND_EVEN) == 2);
  CHECK(mef3_grid_samples(cs, cs + 2500, 1000, MEF3_ROUND_AWAY) == 3);
  CHECK(mef3_files_window_samples(cs, cs + 2500, 1000) == 2);
  CHECK(mef3_window_samples(cs, cs + 2500, 1000) == 3);
  CHECK(mef3_grid_samples(cs, cs, 1000, MEF3_ROUND_EVEN) == 0);
  CHECK(mef3_grid_samples(cs + 1, cs, 1000, MEF3_ROUND_AWAY) == 0);
  CHECK(mef3_grid_samples(cs, cs + 10, 0.0, MEF3_ROUND_AWAY) == 0);
  CHECK(mef3_grid_samples(cs, cs + 10, NAN, MEF3_ROUND_EVEN) == 0);
}

static void extremes(void) {
  /* Saturated, never undefined (UBSan runs this). */
  CHECK(mef3_grid_slot(INT64_MAX, INT64_MIN, 1e6, MEF3_ROUND_EVEN) ==
        INT64_MAX);
  CHECK(mef3_grid_slot(INT64_MIN, INT64_MAX, 1e6, MEF3_ROUND_AWAY) ==
        INT64_MIN);
  CHECK(mef3_grid_time(INT64_MAX - 5, INT64_MAX, 1.0) == INT64_MAX);
  int64_t t0, t1;
  mef3_tile_window(INT64_MAX - 10, 1.0, INT64_MAX / 4, 1000, &t0, &t1);
  CHECK(t0 == INT64_MAX && t1 == INT64_MAX);
  CHECK(mef3_tile_samples(0.0, 256) == 1);
  CHECK(mef3_tile_samples(10.0, 256) == 2560);
}

static const double rates[] = {256, 1000, 250, 499.7, 30000, 0.1, 5000.5,
                               32768};

/* A slot's time is on that slot; a tile's window holds exactly S. */
static void inverse(void) {
  int bad_time = 0, bad_tile = 0;
  for (size_t r = 0; r < sizeof rates / sizeof *rates; r++) {
    double fs = rates[r];
    int64_t cs = 1500000000000000 + (int64_t)(next() % 1000000000);
    for (int k = 0; k < 2000; k++) {
      int64_t i = (int64_t)(next() % 100000000) - 1000;
      int64_t t = mef3_grid_time(cs, i, fs);
      bad_time += mef3_grid_slot(t, cs, fs, MEF3_ROUND_AWAY) != i ||
                  mef3_grid_slot(t, cs, fs, MEF3_ROUND_EVEN) != i;
      int64_t S = mef3_tile_samples(1.0 + (double)(next() % 60), fs);
      int64_t b = (int64_t)(next() % 100000), a0, a1;
      mef3_tile_window(cs, fs, b, S, &a0, &a1);
      bad_tile += mef3_grid_samples(a0, a1, fs, MEF3_ROUND_AWAY) != S ||
                  mef3_grid_slot(a0, cs, fs, MEF3_ROUND_AWAY) != b * S;
    }
  }
  CHECK_MSG(bad_time == 0, "%d slot times off their slot", bad_time);
  CHECK_MSG(bad_tile == 0, "%d tile windows not S samples", bad_tile);
}

/* Each chunk of a split reads exactly its part of the whole window, on
 * every channel, under the file manager's rule. */
static void split(void) {
  int bad = 0, refused = 0, runs = 0;
  for (size_t r = 0; r < sizeof rates / sizeof *rates; r++) {
    double fs = rates[r];
    for (int k = 0; k < 200; k++, runs++) {
      int64_t cs[5];
      size_t nch = 1 + next() % 5;
      int64_t base = 1600000000000000 + (int64_t)(next() % 100000000);
      for (size_t i = 0; i < nch; i++) /* channels started at other times */
        cs[i] = base + (int64_t)(next() % 4000);
      int64_t start = base + 5000000 + (int64_t)(next() % 10000000);
      int64_t total = 1 + (int64_t)(next() % 200000);
      int64_t per = 1 + (int64_t)(next() % 20000);
      int64_t n = (total + per - 1) / per;
      int64_t *ts = malloc((size_t)n * sizeof *ts);
      int64_t *te = malloc((size_t)n * sizeof *te);
      REQUIRE(ts && te);
      if (mef3_grid_split(start, total, per, cs, nch, fs, ts, te)) {
        refused++;
      } else {
        CHECK(ts[0] == start);
        for (int64_t c = 0; c < n; c++) {
          int64_t len = c + 1 < n ? per : total - c * per;
          bad += mef3_files_window_samples(ts[c], te[c], fs) != len;
          for (size_t i = 0; i < nch; i++)
            bad += mef3_grid_slot(ts[c], cs[i], fs, MEF3_ROUND_EVEN) !=
                   mef3_grid_slot(start, cs[i], fs, MEF3_ROUND_EVEN) + c * per;
        }
      }
      free(ts);
      free(te);
    }
  }
  CHECK_MSG(bad == 0, "%d chunk boundaries off the grid", bad);
  /* Refusals are for ties and odd grids only: rare. */
  CHECK_MSG(refused * 10 < runs, "%d of %d splits refused", refused, runs);
  /* A start on a tie is refused (the window is then read whole). */
  int64_t cs0 = 1600000000000000, ts[4], te[4];
  CHECK(mef3_grid_split(cs0 + 2000, 1000, 300, &cs0, 1, 250, ts, te) == -1);
  int64_t none = MEF3_UUTC_NO_ENTRY;
  CHECK(mef3_grid_split(cs0, 1000, 300, &none, 1, 250, ts, te) == -1);
  CHECK(mef3_grid_split(cs0, 1000, 300, &cs0, 1, 250, ts, te) == 0);
}

int main(int argc, char **argv) {
  static const check_case cases[] = {
      CASE(ties),
      CASE(extremes),
      CASE(inverse),
      CASE(split),
  };
  check_run(argc, argv, cases, sizeof cases / sizeof *cases);
  return check_finish();
}
