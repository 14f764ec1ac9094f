/*
 * mef3pool/reader.h - open MEF 3.0 sessions and read windows of samples.
 *
 * A reader is one opaque handle over a session directory (NAME.mefd) or a
 * single channel directory (NAME.timd).  Opening walks the tree, reads
 * every segment's metadata and index, and keeps them in memory; reads then
 * touch only the data blocks a window needs (binary search in the index,
 * one positioned read per segment of the contiguous byte range).
 *
 * Thread-safety: a reader is used from one thread at a time; any number
 * of readers may be open at once.  There is no global mutable state.
 *
 * Channel order: time-series channels sorted by name in byte order
 * (strcmp), which is stable across runs and file systems.  Video channels
 * and entries the reader does not understand are skipped.
 *
 * Times are absolute µUTC, windows half-open [t0, t1).  When the password
 * does not open metadata section 3, the recording time offset is unknown:
 * times are then relative (the on-disk value negated) and
 * mef3_channel_info.times_relative is 1.
 */
#ifndef MEF3POOL_READER_H
#define MEF3POOL_READER_H

#include "format.h"
#include "grid.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mef3_reader mef3_reader;

#define MEF3_READER_OPTIONS_VERSION 1

typedef struct mef3_reader_options {
  unsigned int version; /* MEF3_READER_OPTIONS_VERSION */
  const char *password; /* NULL or "": none (copied, not kept) */
  int check_block_crc;  /* verify the CRC of every data block (default 1) */
  int check_file_crc;   /* verify header/body CRCs of .tmet/.tidx (1) */
  size_t max_open_data_files; /* data files kept open at once; 0 = 64 */
  /* NULL, or a canonical absolute directory the session lies below: every
   * file is then opened beneath it with openat2(RESOLVE_BENEATH), so no
   * path or link - one swapped in while the reader runs included - leads
   * outside (such an open fails, MEF3_EINVAL).  Copied, not kept. */
  const char *root;
} mef3_reader_options;

#define MEF3_READER_OPTIONS_INIT                                               \
  { MEF3_READER_OPTIONS_VERSION, NULL, 1, 1, 0, NULL }

/* One segment of a channel. */
typedef struct mef3_segment_info {
  int32_t number;
  int64_t start_uutc;   /* first block's start */
  int64_t end_uutc;     /* end of the last sample (exclusive) */
  int64_t start_sample; /* channel-wide index of its first sample */
  int64_t n_samples;
  size_t first_block; /* channel-wide index of its first block */
  size_t n_blocks;
  const mef3_metadata *metadata; /* borrowed from the reader */
} mef3_segment_info;

/* One channel; all pointers are borrowed from the reader. */
typedef struct mef3_channel_info {
  const char *name;
  const char *path; /* the .timd directory */
  double fs;        /* sampling frequency, Hz */
  double units_conversion_factor;
  const char *units_description;
  int64_t start_uutc; /* first sample */
  int64_t end_uutc;   /* after the last sample (exclusive) */
  int64_t n_samples;  /* stored samples, all segments */
  size_t n_blocks;
  size_t n_segments;
  size_t n_contigua; /* contiguous runs (1 + discontinuities) */
  uint32_t max_block_samples;
  int times_relative;  /* 1: recording time offset unknown */
  int data_encryption; /* highest encryption level of its blocks */
  int section_2_encryption, section_3_encryption; /* as on disk, segment 0 */
  const mef3_metadata *metadata;                  /* segment 0 */
} mef3_channel_info;

/* One data block, as the index describes it, times absolute. */
typedef struct mef3_block_info {
  int64_t start_uutc;
  int64_t start_sample; /* channel-wide */
  int64_t file_offset;  /* in its segment's .tdat */
  uint32_t n_samples;
  uint32_t bytes;
  int32_t segment;  /* index into the channel's segments */
  int32_t min, max; /* raw counts, from the index */
  uint8_t flags;    /* MEF3_RED_* */
} mef3_block_info;

/* One contiguous run of samples. */
typedef struct mef3_contiguon {
  int64_t start_sample, end_sample; /* [start, end) channel-wide */
  int64_t start_uutc, end_uutc;     /* [start, end) */
  size_t first_block, n_blocks;
} mef3_contiguon;

/* What went wrong with the blocks of one read (the read itself succeeds). */
#define MEF3_REPORT_MAX_BAD 16
typedef struct mef3_read_report {
  int64_t n_valid;     /* output slots that hold a sample */
  size_t n_bad_blocks; /* blocks whose samples came back as NaN */
  int first_error;     /* code of the first bad block, 0 if none */
  /* The first bad block: the data file, byte offset and what is wrong,
   * then "; block B of channel C (segment S): samples [s0, s1), µUTC
   * [t0, t1) read as NaN" (its index entry's span). */
  char first_message[1024];
  size_t bad_blocks[MEF3_REPORT_MAX_BAD]; /* first bad block indices */
} mef3_read_report;

/*
 * Open a session (.mefd) or a channel (.timd) directory.
 * Returns 0, MEF3_ENOTFOUND (no such path, or no time-series channel),
 * MEF3_EPASSWORD (wrong password, or none for encrypted metadata),
 * MEF3_ECORRUPT / MEF3_ECRC / MEF3_EUNSUPPORTED naming the file,
 * MEF3_EIO, MEF3_ELIMIT (no descriptor left), MEF3_ENOMEM.  `*out` is the
 * caller's; close it with mef3_reader_close.  `opts` may be NULL for the
 * defaults.
 */
MEF3_EXTERN int mef3_reader_open(mef3_reader **out, const char *path,
                                 const mef3_reader_options *opts);

/* Close a reader and free everything it owns; NULL is fine. */
MEF3_EXTERN void mef3_reader_close(mef3_reader *r);

/* The path the reader was opened with and the session name. */
MEF3_EXTERN const char *mef3_reader_path(const mef3_reader *r);
MEF3_EXTERN const char *mef3_reader_session_name(const mef3_reader *r);

/* Access level the password gave: 0 none, 1 or 2. */
MEF3_EXTERN int mef3_reader_access_level(const mef3_reader *r);

MEF3_EXTERN size_t mef3_reader_channel_count(const mef3_reader *r);

/* Channel `i` (borrowed), or NULL when out of range. */
MEF3_EXTERN const mef3_channel_info *mef3_reader_channel(const mef3_reader *r,
                                                         size_t i);

/* Index of the channel named `name`, or MEF3_ENOTFOUND. */
MEF3_EXTERN int mef3_reader_find_channel(const mef3_reader *r,
                                         const char *name);

/* Segment `s` of channel `ch` (borrowed), or NULL. */
MEF3_EXTERN const mef3_segment_info *mef3_reader_segment(const mef3_reader *r,
                                                         size_t ch, size_t s);

/* Block table of a channel (borrowed, valid until close). */
MEF3_EXTERN int mef3_reader_blocks(const mef3_block_info **out, size_t *n,
                                   const mef3_reader *r, size_t ch);

/* Contiguous runs of a channel (borrowed, valid until close).  A run
 * breaks at a block flagged as a discontinuity, or whose start differs
 * from where the previous block ends by at least one sample period. */
MEF3_EXTERN int mef3_reader_contigua(const mef3_contiguon **out, size_t *n,
                                     const mef3_reader *r, size_t ch);

/*
 * Number of samples in the window [t0, t1) at rate fs:
 * round((t1 - t0) * fs / 1e6), halves away from zero; 0 when t1 <= t0
 * (mef3_grid_samples with MEF3_ROUND_AWAY).
 * (The file manager and the server round halves to even, as the original
 * server: mef3_files_window_samples.)
 */
MEF3_EXTERN int64_t mef3_window_samples(int64_t t0, int64_t t1, double fs);

/*
 * Read channel `ch` over the time window [t0, t1).
 * The window has n = mef3_window_samples(t0, t1, fs) slots, slot i
 * standing for t0 + i/fs; each block is placed at the slot nearest its
 * own start time (halves away from zero), its samples in consecutive
 * slots; slots with no sample are NaN (MEF3_RED_NAN for MEF3_I32, and 0
 * in `valid` when given).  Stored NaN/±inf sentinels become NaN/±inf.
 * `out` holds `cap` samples of `type`; `*n_out` receives n.  A block that
 * fails its CRC, cannot be decoded or cannot be decrypted, or whose data
 * file has gone or is too short, leaves NaN in its slots and is listed in
 * `report` (may be NULL); the read succeeds.  A failure of the system
 * rather than of the files fails the read (the output is then all NaN):
 * MEF3_EIO (a read error, naming the data file and offset), MEF3_ELIMIT
 * (no descriptor left to open a data file), MEF3_ENOMEM.
 * Returns 0, MEF3_EINVAL (t1 < t0, bad channel or type), MEF3_EBUFSIZE
 * (cap < n; *n_out is n), MEF3_EIO, MEF3_ELIMIT, MEF3_ENOMEM.
 */
MEF3_EXTERN int mef3_reader_read_time(size_t *n_out, mef3_read_report *report,
                                      mef3_reader *r, size_t ch, int64_t t0,
                                      int64_t t1, mef3_sample_type type,
                                      void *out, size_t cap, uint8_t *valid);

/* (The tile window and tile size: mef3pool/grid.h.) */

/*
 * Read tile `b` of channel `ch` as float32 physical values into `out`
 * (exactly S samples): the tile's time window read with the window rule,
 * NaN-padded (or cut) to S.  `cs` and `fs` are the caller's view of the
 * channel (normally its start and rate).  A failed read (as in
 * mef3_reader_read_time) or a window outside the recording gives an
 * all-NaN tile and still returns 0 unless `strict`; with `strict` the
 * read's error is returned (callers that keep tiles want this: a tile
 * that failed for lack of memory is not a tile of NaN).
 */
MEF3_EXTERN int mef3_reader_read_tile(mef3_read_report *report, mef3_reader *r,
                                      size_t ch, int64_t b, double fs,
                                      int64_t cs, int64_t S, float *out,
                                      int strict);

/*
 * Read stored samples [s0, s1) of channel `ch` (channel-wide indices over
 * all segments, no gaps).  Requires 0 <= s0 <= s1 <= n_samples, else
 * MEF3_EINVAL.  Bad blocks as in mef3_reader_read_time.
 */
MEF3_EXTERN int mef3_reader_read_samples(size_t *n_out,
                                         mef3_read_report *report,
                                         mef3_reader *r, size_t ch, int64_t s0,
                                         int64_t s1, mef3_sample_type type,
                                         void *out, size_t cap);

/*
 * Read several channels over one time window.  Channel k's samples go to
 * `out + k * stride` samples; `n_out[k]` receives its count (rates may
 * differ).  `reports` may be NULL or hold n_channels entries.
 */
MEF3_EXTERN int
mef3_reader_read_time_multi(size_t *n_out, mef3_read_report *reports,
                            mef3_reader *r, const size_t *channels,
                            size_t n_channels, int64_t t0, int64_t t1,
                            mef3_sample_type type, void *out, size_t stride);

/*
 * All records of the session (session, channel and segment levels),
 * ordered by time.  `*out` is the caller's (mef3_records_free).  A record
 * that cannot be decoded is returned flagged `undecodable`, with its type,
 * time, raw body and a `problem` naming its file, index and offset; a
 * records file that cannot be read at all is one flagged entry (index -1)
 * naming the file; the other records are all there.  With `strict`, the
 * first such record or file fails the call instead (its code, its problem
 * as the message).  Returns 0, MEF3_ENOMEM, or (strict) MEF3_ECRC,
 * MEF3_ECORRUPT, MEF3_EIO, ...
 */
MEF3_EXTERN int mef3_reader_records(mef3_record **out, size_t *n,
                                    mef3_reader *r, int strict);

#ifdef __cplusplus
}
#endif
#endif
