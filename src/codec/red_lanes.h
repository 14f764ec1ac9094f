/*
 * codec/red_lanes.h - the range-decoding kernel shared by the scalar and
 * the AVX2 paths of codec/red_decode.c (private to codec).
 *
 * Both paths run the same arithmetic on the same prepared data, so a lane
 * can move from one to the other between rounds:
 *  - every block's coded stream is copied "realigned": the decoder's reads
 *    always start 7 bits into a byte, so byte k of the copy is bits
 *    [8k + 7, 8k + 15) of the stream, and a renormalization takes whole
 *    bytes; the copy is followed by zero bytes, and a read at or past its
 *    end sees zeros (the reference decoder feeds zeros there too);
 *  - a per-lane table maps a cumulative count to the packed entry
 *    symbol | count << 8 | cumulative count << 16;
 *  - floor(range / total) is exact in both: the scalar path multiplies by
 *    a 33-bit reciprocal, the vector path takes floor(range * (1/total) +
 *    2^-18) in double precision, exact because the product's error
 *    (< 2^-21) stays below the offset and the offset below the smallest
 *    fraction a quotient by total <= 65280 can have (> 2^-16);
 *    floor(low / rpc) of two 32-bit integers is exact as a correctly
 *    rounded double division.
 */
#ifndef MEF3_CODEC_RED_LANES_H
#define MEF3_CODEC_RED_LANES_H

#include <stddef.h>
#include <stdint.h>

#define MEF3__RED_VLANES 16 /* lanes of the vector kernel (two groups of 8) */

/* The vector kernel's state, one entry per lane; offsets are in bytes
 * into the stream arena and in entries into the table arena. */
typedef struct mef3__red_vstate {
  uint32_t low[MEF3__RED_VLANES], range[MEF3__RED_VLANES];
  uint32_t at[MEF3__RED_VLANES];   /* next stream byte */
  uint32_t end[MEF3__RED_VLANES];  /* end of the stream: reads clamp here */
  uint32_t tab[MEF3__RED_VLANES];  /* the lane's table */
  uint32_t tmax[MEF3__RED_VLANES]; /* total - 1 */
  double inv[MEF3__RED_VLANES];    /* 1 / total */
} mef3__red_vstate;

struct mef3_red_ctx;

/* Use the vector kernel in ctx when on = 1 and the CPU has it, never when
 * on = 0, leave as is when on < 0; returns whether it is used (tests). */
int mef3__red_ctx_vector(struct mef3_red_ctx *ctx, int on);

/* 1 when this CPU runs the AVX2 kernel. */
int mef3__red_avx2_usable(void);

/*
 * Decode `rounds` symbols in each of the 16 lanes; symbol k of lane l goes
 * to out[k * 16 + l].  Every lane must have a valid table and stream
 * (an idle lane points at a one-entry table and an empty stream).
 */
void mef3__red_avx2_run(mef3__red_vstate *s, const uint8_t *streams,
                        const uint32_t *tables, uint32_t rounds, uint8_t *out);

/* The byte stages around the kernel (codec/red_avx2.c says what each
 * does; each equals its plain counterpart in codec/red_decode.c). */
size_t mef3__red_avx2_realign(uint8_t *d, const uint8_t *st, size_t count);
void mef3__red_avx2_columns(const uint8_t *ring, uint32_t rounds,
                            uint8_t *const dst[16]);
uint32_t mef3__red_avx2_table(uint32_t *t, const uint8_t *counts);
size_t mef3__red_avx2_samples(const uint8_t *sy, uint32_t ns, int32_t *out,
                              size_t n, int32_t *mn, int32_t *mx);

#endif
