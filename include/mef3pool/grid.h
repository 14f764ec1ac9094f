/*
 * mef3pool/grid.h - the sample grid: where a time falls among a
 * channel's samples, how many samples a window holds, the time window of
 * a tile, and a long window's split into chunks on sample boundaries.
 * One module for every layer (reader, file manager, server, HTTP): no
 * layer computes a slot by hand.  Pure functions, any thread.
 *
 * Two roundings of a position x = (t - t0) * fs / 1e6 exist, and only on
 * exact ties (x = k + 0.5) do they differ:
 *   MEF3_ROUND_AWAY  halves away from zero: direct reader reads
 *                    (mef3_reader_read_time, the golden sessions' rule);
 *   MEF3_ROUND_EVEN  halves to the even integer: the file manager and the
 *                    server, as the original server's Python int(round(x)).
 * The difference t - t0 is taken exactly in integers (as a double only
 * when it does not fit in int64), so both are exact for any real
 * recording; results saturate to the int64 range, NaN rates give 0.
 */
#ifndef MEF3POOL_GRID_H
#define MEF3POOL_GRID_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mef3_rounding {
  MEF3_ROUND_AWAY = 0,
  MEF3_ROUND_EVEN = 1
} mef3_rounding;

/* The slot of time `t` on a grid starting at `t0` with rate `fs`:
 * round((t - t0) * fs / 1e6). */
MEF3_EXTERN int64_t mef3_grid_slot(int64_t t, int64_t t0, double fs,
                                   mef3_rounding rounding);

/* The time of slot `i` on a grid starting at `t0`: t0 + round(i * 1e6 /
 * fs), halves away from zero (the writer places samples so, and a
 * reader's window slot i stands for this time). */
MEF3_EXTERN int64_t mef3_grid_time(int64_t t0, int64_t i, double fs);

/* Samples in the window [t0, t1): mef3_grid_slot(t1, t0, fs, rounding);
 * 0 when t1 <= t0 or fs is not positive. */
MEF3_EXTERN int64_t mef3_grid_samples(int64_t t0, int64_t t1, double fs,
                                      mef3_rounding rounding);

/*
 * The time window of tile `b` of a channel starting at `cs` µUTC with
 * rate `fs` and `S` samples per tile (ARCHITECTURE.md):
 * [cs + round(b*S*1e6/fs), cs + round((b+1)*S*1e6/fs)), halves away from
 * zero.
 */
MEF3_EXTERN void mef3_tile_window(int64_t cs, double fs, int64_t b, int64_t S,
                                  int64_t *t0, int64_t *t1);

/* Samples per tile of `seconds` at `fs`: max(1, round(seconds * fs)). */
MEF3_EXTERN int64_t mef3_tile_samples(double seconds, double fs);

/*
 * Split the window [start, end), which holds `total` samples per channel
 * under MEF3_ROUND_EVEN, into windows of `per_chunk` samples (the last
 * one the rest), read one by one on channels starting at cs[0..n_ch) of
 * one rate `fs`: chunk k is [ts[k], te[k]), and on every channel its
 * samples are exactly samples [k*per_chunk, ...) of the whole window.
 * ts and te hold (total + per_chunk - 1) / per_chunk entries.  Returns 0,
 * or -1 when no such times exist - a start on a rounding tie, a channel
 * with no data (cs MEF3_UUTC_NO_ENTRY), times too far apart for exact
 * arithmetic, or channels whose grids leave no common boundary - and the
 * window must be read whole.
 */
MEF3_EXTERN int mef3_grid_split(int64_t start, int64_t total, int64_t per_chunk,
                                const int64_t *cs, size_t n_ch, double fs,
                                int64_t *ts, int64_t *te);

#ifdef __cplusplus
}
#endif

#endif
