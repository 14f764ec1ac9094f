/*
 * mef3pool/gen.h - synthetic EEG-like data and whole generated sessions,
 * for tests, benchmarks and demonstrations.
 *
 * The synthesizer makes a realistic-looking scalp EEG channel: a 1/f
 * background (equal power per octave-spaced band), an alpha rhythm that
 * waxes and wanes, stronger towards the "posterior" channels, occasional
 * epileptiform spikes (spike and slow wave) around a focus, eye blinks on
 * the "frontal" channels, muscle bursts, electrode pops, line noise and
 * amplifier noise.  Channels of one seed share their common sources
 * (background, alpha, spikes, blinks), mixed with channel-specific ones,
 * so they are correlated like real montages.  Everything is a pure
 * function of (seed, channel, channel count, rate): the same arguments
 * give the same samples on every run, whatever the chunk sizes.
 *
 * Thread-safety: a synthesizer is used by one thread at a time; any
 * number may run at once.  mef3_gen_session runs on the caller's thread.
 */
#ifndef MEF3POOL_GEN_H
#define MEF3POOL_GEN_H

#include "writer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mef3_synth mef3_synth;

/*
 * A synthesizer for channel `channel` (0-based) of `n_channels` at `fs`
 * Hz.  Returns 0, MEF3_EINVAL (channel >= n_channels, fs not positive) or
 * MEF3_ENOMEM.  `*out` is the caller's (mef3_synth_free).
 */
MEF3_EXTERN int mef3_synth_new(mef3_synth **out, uint64_t seed, size_t channel,
                               size_t n_channels, double fs);
MEF3_EXTERN void mef3_synth_free(mef3_synth *s);

/* The next `n` samples of the channel, in µV. */
MEF3_EXTERN void mef3_synth_fill(mef3_synth *s, double *out, size_t n);

/* A gap: no channel records during [start, start + length) µs, relative
 * to the session start. */
typedef struct mef3_gen_gap {
  int64_t start_us;
  int64_t length_us;
} mef3_gen_gap;

#define MEF3_GEN_OPTIONS_VERSION 1

typedef struct mef3_gen_options {
  unsigned int version; /* MEF3_GEN_OPTIONS_VERSION */
  size_t n_channels;    /* >= 1 */
  double fs;            /* Hz, > 0 */
  int64_t duration_us;  /* > 0 */
  uint64_t seed;
  double block_seconds;           /* block length; 0: 1 s */
  int64_t start_uutc;             /* 0: 2021-01-01T00:00:00Z */
  double units_conversion_factor; /* µV per count; 0: 0.1 */
  /* Gaps: the `n_gaps` given plus `n_random_gaps` drawn from the seed
   * (0.5 s to 60 s each, in the middle 90% of the recording, beside the
   * given ones, together at most half of that room).  Every gap is placed
   * with samples before, after and between, or the options are refused
   * (see mef3_gen_check_options): a session made with N gaps has N. */
  size_t n_random_gaps;
  const mef3_gen_gap *gaps;
  size_t n_gaps;
  /* Encryption (see mef3_writer_options): passwords, and the level of
   * the data blocks (0, 1 or 2). */
  const char *level_1_password;
  const char *level_2_password;
  int data_encryption;
  int64_t segment_us; /* 0: one segment; else a new one every this long */
  /* Blocks per checkpoint of the writer (0: its default). */
  unsigned int checkpoint_blocks;
} mef3_gen_options;

#define MEF3_GEN_OPTIONS_INIT                                                  \
  {                                                                            \
    MEF3_GEN_OPTIONS_VERSION, 1, 256.0, 60000000, 0, 0.0, 0, 0.0, 0, NULL, 0,  \
        NULL, NULL, 0, 0, 0                                                    \
  }

/* What mef3_gen_session wrote. */
typedef struct mef3_gen_result {
  int64_t samples; /* stored samples, all channels */
  int64_t slots;   /* samples and gap slots, all channels */
  int64_t blocks;
  uint64_t bytes; /* bytes of data blocks (ratio: 4 * samples / bytes) */
  size_t n_gaps;  /* gaps written: n_gaps + n_random_gaps */
} mef3_gen_result;

/* Progress callback: `done` in [0, 1]; return non-zero to stop (the call
 * then returns MEF3_ECANCELED, leaving a valid, shorter session). */
typedef int (*mef3_gen_progress_cb)(double done, void *payload);

/*
 * Check `opts` as mef3_gen_session does before it writes anything: 0, or
 * MEF3_EINVAL with a one-line message saying what is wrong (invalid
 * options; a given gap that holds no sample slot, starts at the first
 * sample, does not end before the recording does, or overlaps or touches
 * another; more random gaps than fit, saying how many do), or
 * MEF3_ENOMEM.  Callers taking options from a user report a failure
 * here as a usage error.  Thread-safe.
 */
MEF3_EXTERN int mef3_gen_check_options(const mef3_gen_options *opts);

/*
 * Generate a session at `path` (a new .mefd, as mef3_writer_open): the
 * channels "ch01".. (zero-padded to the width of the count), EEG-like
 * data from `opts->seed`, float values converted to counts by the writer,
 * gaps as NaN runs (so they become discontinuities), a session Note at
 * the start and one at each gap.  UUIDs derive from the seed too, so the
 * same options give byte-identical files.  `cb` (may be NULL) is called
 * about a hundred times; when it returns nonzero, generation stops and
 * what was written stays a valid, shorter session (MEF3_ECANCELED).  On
 * any other failure the session directory is removed: nothing is left
 * that looks like a session.  `out` may be NULL.
 * Returns 0, MEF3_EINVAL, MEF3_EEXIST, MEF3_EIO, MEF3_ENOMEM,
 * MEF3_ECANCELED.
 */
MEF3_EXTERN int mef3_gen_session(mef3_gen_result *out, const char *path,
                                 const mef3_gen_options *opts,
                                 mef3_gen_progress_cb cb, void *payload);

#ifdef __cplusplus
}
#endif
#endif
