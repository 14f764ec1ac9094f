/*
 * mef3pool/writer.h - write MEF 3.0 sessions.
 *
 * A writer creates one new session directory (NAME.mefd) and fills it:
 * time-series channels (NAME.timd, one or more segments NAME-000000.segd
 * each), samples, and annotations (records) at session and channel level.
 * Samples go into RED blocks of a fixed number of samples per channel
 * (default: one second of data), encoded losslessly, bit for bit as the
 * reference implementation (meflib) encodes them.
 *
 * Times.  All times passed in are absolute µUTC.  On disk they are stored
 * negated with the recording time offset applied, -(t - offset), as the
 * reference writers do; see mef3_writer_options.rto_mode.  Within a
 * contiguous run of samples, sample k of the run stands for
 * run_start + round(k * 1e6 / fs) µs; a block starts at the time of its
 * first sample, computed that way (no accumulated truncation).
 *
 * Gaps.  A write whose start time is not exactly where the previous
 * sample's successor would be starts a new contiguous run: the pending
 * block is closed early and the next block carries the discontinuity flag
 * and its true start time.  In float input NaN means "no sample": a run
 * of NaN becomes such a gap too, not stored values.  The first block of
 * every segment is a discontinuity, as the format requires.
 *
 * Crash safety.  Each block is appended to the segment's .tdat and then
 * its entry to the .tidx as soon as the block is complete, before the
 * call that completed it returns (or, with io_buffer_bytes, when the
 * channel's buffer fills).  Each such write is bracketed by header
 * writes: the universal header says "no entry" for the entry count and
 * body CRC during the write and the true values after it, so a process
 * killed at any moment leaves files our reader accepts (it reads every
 * complete block), and one killed between writes leaves true headers
 * that stricter readers (meflib) accept as well.  A checkpoint (every
 * checkpoint_blocks blocks of a channel, at mef3_writer_sync, at a new
 * segment and at close) replaces the metadata file (.tmet) atomically
 * (a temporary file, then a rename) with counts for everything written;
 * readers that take counts from the metadata see the blocks up to the
 * last checkpoint.  New channel and segment directories appear by a
 * rename once their files exist.  Samples of a block not yet complete
 * live only in memory and are lost with the process.  Against power loss
 * set sync_mode.
 *
 * Thread-safety: a writer is used by one thread at a time; any number of
 * writers may be open at once.  There is no global mutable state.
 */
#ifndef MEF3POOL_WRITER_H
#define MEF3POOL_WRITER_H

#include "format.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mef3_writer mef3_writer;

/* How times are stored (mef3_writer_options.rto_mode). */
typedef enum mef3_rto_mode {
  /* Recording time offset "no entry": times are stored as -t. */
  MEF3_RTO_NONE = 0,
  /* Use mef3_writer_options.recording_time_offset (0 is allowed). */
  MEF3_RTO_VALUE = 1,
  /* As meflib: the local midnight (by gmt_offset) at or before the first
   * time written, moved a day earlier if it is not strictly before it. */
  MEF3_RTO_AUTO = 2
} mef3_rto_mode;

/* Durability (mef3_writer_options.sync_mode). */
typedef enum mef3_sync_mode {
  MEF3_SYNC_NONE = 0,       /* rely on the OS: survives a process kill */
  MEF3_SYNC_CHECKPOINT = 1, /* fdatasync files and directories at each
                               checkpoint: survives power loss up to the
                               last checkpoint */
  MEF3_SYNC_BLOCK = 2       /* also fdatasync after every block */
} mef3_sync_mode;

/* No GMT offset (metadata "no entry" value). */
#define MEF3_GMT_OFFSET_NO_ENTRY (-86401)

/* `ch` value of mef3_writer_add_note / add_seizure for the session level,
 * and of mef3_writer_new_segment for every channel. */
#define MEF3_WRITER_SESSION ((size_t)-1)
#define MEF3_WRITER_ALL_CHANNELS ((size_t)-1)

#define MEF3_WRITER_OPTIONS_VERSION 1

typedef struct mef3_writer_options {
  unsigned int version; /* MEF3_WRITER_OPTIONS_VERSION */
  /* Passwords (NULL or "": none; at most 15 characters).  A level-2
   * password requires a level-1 password. */
  const char *level_1_password;
  const char *level_2_password;
  /* Encryption of metadata sections 2 and 3: -1 chooses the default
   * (section 2 at level 1 when there is a level-1 password; section 3 at
   * level 2 when there is a level-2 password, else at level 1 when there
   * is a level-1 password), 0 none, 1 or 2. */
  int section_2_encryption;
  int section_3_encryption;
  /* Encryption of the data blocks' statistics (0, 1 or 2) and of record
   * bodies (0, 1 or 2). */
  int data_encryption;
  int record_encryption;
  mef3_rto_mode rto_mode;
  int64_t recording_time_offset; /* µs, for MEF3_RTO_VALUE */
  int32_t gmt_offset;            /* seconds east of UTC, or _NO_ENTRY */
  /* Metadata text (NULL: empty). */
  const char *session_description;
  const char *anonymized_name;
  const char *subject_name_1;
  const char *subject_name_2;
  const char *subject_id;
  const char *recording_location;
  /* Blocks of a channel between checkpoints; 0 = 60. */
  unsigned int checkpoint_blocks;
  mef3_sync_mode sync_mode;
  /* 0: random UUIDs; otherwise UUIDs derived from this seed, so that the
   * same input gives byte-identical files (tests, generators). */
  uint64_t uuid_seed;
  /* 0: every block goes to disk (the page cache) as soon as it is
   * complete.  Otherwise each channel collects up to this many bytes of
   * blocks and index entries before writing them, which saves system
   * calls for bulk writing; a killed writer then loses the blocks still
   * collected (the session still opens: the index is written after the
   * blocks it names).  Checkpoints, flush, sync and close write them. */
  size_t io_buffer_bytes;
} mef3_writer_options;

#define MEF3_WRITER_OPTIONS_INIT                                               \
  {                                                                            \
    MEF3_WRITER_OPTIONS_VERSION, NULL, NULL, -1, -1, 0, 0, MEF3_RTO_NONE, 0,   \
        MEF3_GMT_OFFSET_NO_ENTRY, NULL, NULL, NULL, NULL, NULL, NULL, 0,       \
        MEF3_SYNC_NONE, 0, 0                                                   \
  }

#define MEF3_CHANNEL_OPTIONS_VERSION 1

/* One time-series channel. */
typedef struct mef3_channel_options {
  unsigned int version; /* MEF3_CHANNEL_OPTIONS_VERSION */
  const char *name;     /* required: a file name without '/', not starting
                           with '.', at most 200 bytes, unique */
  double fs;            /* sampling frequency, Hz (> 0) */
  /* Time of the first sample, µUTC; MEF3_UUTC_NO_ENTRY: the first write
   * must give one. */
  int64_t start_uutc;
  const char *units_description;     /* e.g. "uV"; NULL: empty */
  double units_conversion_factor;    /* physical value of one count; 0: 1.0 */
  uint32_t block_samples;            /* samples per block; 0: round(fs), >= 1 */
  const char *channel_description;   /* NULL: the channel name */
  const char *reference_description; /* NULL: empty */
  int64_t acquisition_channel_number; /* -1: no entry */
  /* Filter settings and AC line frequency, Hz; -1: no entry. */
  double low_frequency_filter;
  double high_frequency_filter;
  double notch_filter;
  double ac_line_frequency;
  /* Encryption of this channel's data blocks: -1 the writer's
   * data_encryption, else 0, 1 or 2. */
  int data_encryption;
} mef3_channel_options;

#define MEF3_CHANNEL_OPTIONS_INIT                                              \
  {                                                                            \
    MEF3_CHANNEL_OPTIONS_VERSION, NULL, 0.0, MEF3_UUTC_NO_ENTRY, NULL, 1.0, 0, \
        NULL, NULL, -1, -1.0, -1.0, -1.0, -1.0, -1                             \
  }

/*
 * Create the session directory `path` (must end in ".mefd"; its parent
 * must exist; it must not exist, or be an empty directory) and open a
 * writer on it.  `opts` may be NULL for the defaults.
 * Returns 0, MEF3_EINVAL (bad path or options, bad password),
 * MEF3_EEXIST (`path` exists and is not empty), MEF3_EIO, MEF3_ENOMEM.
 * `*out` is the caller's; finish it with mef3_writer_close.
 */
MEF3_EXTERN int mef3_writer_open(mef3_writer **out, const char *path,
                                 const mef3_writer_options *opts);

/*
 * Add a time-series channel; its directory and first segment are created
 * at once (empty).  `*out` receives the channel's index for the other
 * calls (0, 1, ... in the order added).
 * Returns 0, MEF3_EINVAL (bad options), MEF3_EEXIST (name in use),
 * MEF3_EIO, MEF3_ENOMEM.
 */
MEF3_EXTERN int mef3_writer_add_channel(size_t *out, mef3_writer *w,
                                        const mef3_channel_options *opts);

/*
 * Append `n` raw samples (int32 counts, stored as given, sentinels
 * included) to channel `ch`.  `start_uutc` is the time of samples[0], or
 * MEF3_UUTC_NO_ENTRY to continue right after the previous sample (or at
 * the channel's start_uutc for the first write).  A start time other
 * than that continuation begins a new contiguous run (see the file
 * comment); a start time earlier than it is MEF3_EINVAL.  Every block
 * completed by the call is on disk when it returns.
 * Returns 0, MEF3_EINVAL, MEF3_EIO, MEF3_ENOMEM.  After an I/O failure
 * the channel refuses further samples (the error repeats).
 */
MEF3_EXTERN int mef3_writer_write_i32(mef3_writer *w, size_t ch,
                                      int64_t start_uutc,
                                      const int32_t *samples, size_t n);

/*
 * Append `n` values in physical units: each is stored as
 * value / units_conversion_factor rounded to the nearest integer (halves
 * away from zero) and clamped to [-2147483646, 2147483646], the range
 * that excludes RED's sentinels; +-infinity are stored as RED's +-inf
 * sentinels; NaN is no sample: a run of NaN is a gap (the next stored
 * sample starts a new contiguous run at its own time).  Otherwise as
 * mef3_writer_write_i32.
 */
MEF3_EXTERN int mef3_writer_write_f64(mef3_writer *w, size_t ch,
                                      int64_t start_uutc, const double *values,
                                      size_t n);
MEF3_EXTERN int mef3_writer_write_f32(mef3_writer *w, size_t ch,
                                      int64_t start_uutc, const float *values,
                                      size_t n);

/*
 * End the current segment of channel `ch` (or of every channel with
 * MEF3_WRITER_ALL_CHANNELS): samples pending in a partial block are
 * written as a short block, the segment's files are finished, and the
 * next block starts segment number + 1 (created when that block is
 * written, so a segment is never empty).  A no-op for a segment without
 * blocks.  Returns 0, MEF3_EINVAL, MEF3_EIO.
 */
MEF3_EXTERN int mef3_writer_new_segment(mef3_writer *w, size_t ch);

/*
 * Write the samples pending in the partial block of channel `ch` (or of
 * every channel with MEF3_WRITER_ALL_CHANNELS) now, as a short block, so
 * that they are on disk (a recorder pausing, for instance).  The next
 * samples start a new block that continues the same contiguous run.
 * Returns 0, MEF3_EINVAL, MEF3_EIO.
 */
MEF3_EXTERN int mef3_writer_flush(mef3_writer *w, size_t ch);

/*
 * Checkpoint every channel and records file now (counts, CRCs,
 * metadata; see the file comment) and, unless sync_mode is
 * MEF3_SYNC_NONE, flush them to stable storage.  Samples pending in
 * partial blocks stay pending.  Returns 0 or MEF3_EIO.
 */
MEF3_EXTERN int mef3_writer_sync(mef3_writer *w);

/*
 * Add a "Note" record (UTF-8 text) at `time_uutc` to channel `ch`, or to
 * the session with MEF3_WRITER_SESSION.  Written at once (crash-safe like
 * blocks).  Returns 0, MEF3_EINVAL (bad channel, time not after the
 * recording time offset), MEF3_EIO, MEF3_ENOMEM.
 */
MEF3_EXTERN int mef3_writer_add_note(mef3_writer *w, size_t ch,
                                     int64_t time_uutc, const char *text);

#define MEF3_SEIZURE_VERSION 1

/* A seizure ("Seiz" record). */
typedef struct mef3_seizure {
  unsigned int version;      /* MEF3_SEIZURE_VERSION */
  int64_t onset_uutc;        /* earliest onset; the record's time */
  int64_t offset_uutc;       /* latest offset (>= onset) */
  int32_t onset_code;        /* -1 no entry, 0 unknown, 1 focal, 2 generalized,
                                3 propagated, 4 mixed */
  const char *marker_name_1; /* NULL: empty (at most 127 bytes kept) */
  const char *marker_name_2;
  const char *annotation; /* NULL: empty (at most 1023 bytes kept) */
  /* Channels involved (names; each gets the onset and offset above). */
  const char *const *channels;
  size_t n_channels;
} mef3_seizure;

#define MEF3_SEIZURE_INIT                                                      \
  { MEF3_SEIZURE_VERSION, 0, 0, -1, NULL, NULL, NULL, NULL, 0 }

/* Add a "Seiz" record to channel `ch` or the session; as add_note. */
MEF3_EXTERN int mef3_writer_add_seizure(mef3_writer *w, size_t ch,
                                        const mef3_seizure *s);

/*
 * Finish the session: write pending samples as final (short) blocks,
 * checkpoint everything, close all files and free the writer.  The writer
 * is gone even when this fails.  NULL is fine (returns 0).
 * Returns 0 or the first error (MEF3_EIO, or a sticky earlier error).
 */
MEF3_EXTERN int mef3_writer_close(mef3_writer *w);

/* Statistics of a writer so far (for progress and benchmarks). */
typedef struct mef3_writer_stats {
  int64_t samples; /* stored samples, all channels */
  int64_t blocks;  /* blocks written */
  uint64_t bytes;  /* bytes of blocks written */
} mef3_writer_stats;

/* Fill `out` with the writer's statistics; never fails. */
MEF3_EXTERN void mef3_writer_get_stats(mef3_writer_stats *out,
                                       const mef3_writer *w);

#ifdef __cplusplus
}
#endif
#endif
