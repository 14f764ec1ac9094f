/*
 * writer/writer_impl.h - the writer's private state and the functions
 * its files share.
 *
 * The writer is layered like the library: each file calls only the files
 * above it in this list (lowest first), so its dependencies form no
 * circle.
 *   writer_files.c    append-only MEF files, atomic replacement
 *   writer_header.c   UUIDs and the universal header of every file
 *   writer_fds.c      the descriptor budget (parking channels)
 *   writer_segment.c  a segment's directory, .tdat/.tidx and metadata
 *   writer_time.c     the recording time offset (settling it rewrites
 *                     the metadata of the open segments)
 *   writer_records.c  annotations (.rdat/.ridx)
 *   writer_samples.c  sample intake, blocks, the segment's statistics
 *   writer_session.c  the public API: open, channels, flush, sync, close
 * (gen.c, gen_gaps.c and synth.c use only the public writer API.)
 */
#ifndef MEF3_WRITER_IMPL_H
#define MEF3_WRITER_IMPL_H

#include "mef3pool/writer.h"

/*
 * An append-only MEF file: a universal header and a body that only
 * grows.  The header on disk holds either "no entry" for the entry count
 * and body CRC (during a write) or the true values for the body on disk
 * (see writer_files.c).  The owner sets the other header fields (times,
 * maximum entry size) in `uh`; they go out with the next header write.
 */
typedef struct mef3__wfile {
  int fd;                   /* -1 when closed */
  char *path;               /* for messages */
  mef3_universal_header uh; /* header fields the owner maintains */
  uint64_t body_bytes;      /* appended, written or still buffered */
  uint32_t body_crc;        /* running CRC of the appended body */
  int64_t entries;          /* appended entries */
  int consistent;           /* the header on disk holds true values */
  int failed;               /* a write failed: leave the file alone */
  uint8_t *buf; /* appended bytes not written yet (buffered files) */
  size_t buf_len, buf_cap;
} mef3__wfile;

/* Create `name` in directory `dirfd` (path `dir` for messages) with
 * header `uh` and an empty body, consistent.  Fails if it exists. */
int mef3__wfile_create(mef3__wfile *f, int dirfd, const char *dir,
                       const char *name, const mef3_universal_header *uh);
/* Collect up to `cap` appended bytes before writing them (0: none). */
int mef3__wfile_set_buffer(mef3__wfile *f, size_t cap);
/* Append `len` bytes holding `entries` entries to the body (to the
 * buffer when there is room). */
int mef3__wfile_append(mef3__wfile *f, const uint8_t *buf, size_t len,
                       int64_t entries);
/* 1 when appending `len` bytes would write the buffer out first. */
int mef3__wfile_would_write(const mef3__wfile *f, size_t len);
/* Write out what is buffered. */
int mef3__wfile_write_buffer(mef3__wfile *f);
/* Write the buffer, then the header with f->uh's counts and the body
 * CRC. */
int mef3__wfile_checkpoint(mef3__wfile *f);
int mef3__wfile_sync(mef3__wfile *f);
void mef3__wfile_close(mef3__wfile *f);

/* Replace `name` in `dirfd` with `len` bytes atomically (temporary file
 * and rename); `sync`: fdatasync the file and fsync the directory. */
int mef3__write_atomic(int dirfd, const char *dir, const char *name,
                       const uint8_t *buf, size_t len, int sync);
/* fsync a directory; errors name `dir`. */
int mef3__sync_dir(int dirfd, const char *dir);

/* Records (annotations) of one level: NAME.rdat and NAME.ridx, created at
 * the first record. */
typedef struct mef3__wrecords {
  int dirfd; /* borrowed from the level */
  char *dir;
  char *base;             /* file base name (session or channel name) */
  int32_t segment_number; /* -3 session, -2 channel */
  char *channel_name;     /* "" at session level */
  uint8_t level_uuid[16];
  int created;
  mef3__wfile rdat, ridx;
  int64_t n;
  int64_t max_bytes;
  int64_t t_min, t_max; /* on disk */
  int failed;
} mef3__wrecords;

typedef struct wr_segment {
  int32_t number;
  int dirfd;
  char *dir;  /* the .segd path */
  char *base; /* "name-000000" */
  mef3__wfile tdat, tidx;
  uint8_t level_uuid[16], tmet_uuid[16];
  int64_t start_sample; /* channel-wide */
  int64_t n_samples, n_blocks;
  int64_t max_block_bytes;
  uint32_t max_block_samples, max_difference_bytes;
  int64_t n_discontinuities;
  int64_t run_blocks, run_bytes, run_samples; /* current contiguous run */
  int64_t max_run_blocks, max_run_bytes, max_run_samples;
  int32_t min_raw, max_raw;
  int64_t start_uutc, end_uutc; /* MEF3_UUTC_NO_ENTRY while empty */
  unsigned int since_checkpoint;
} wr_segment;

typedef struct wr_channel {
  char *name;
  char *dir; /* the .timd path */
  int dirfd;
  uint8_t level_uuid[16];
  /* options, copied */
  double fs, ufact;
  uint32_t block_samples;
  int64_t start_opt;
  char *units, *description, *reference;
  int64_t acquisition_channel_number;
  double lf, hf, notch, ac;
  int data_enc; /* 0, 1 or 2 */
  /* the block being assembled */
  int32_t *pend;
  uint32_t n_pend;
  /* time grid: slot k of the current run is at anchor + round(k*1e6/fs) */
  int started;
  int64_t anchor, k, pend_k;
  int disc_next; /* the next block starts a new contiguous run */
  int64_t total_samples;
  wr_segment seg;
  int seg_open;
  int new_segment_pending;
  int32_t next_segment_number;
  mef3__wrecords rec;
  int failed; /* sticky error code */
  int active; /* its descriptors are open (writer_fds.c) */
  uint64_t last_use;
} wr_channel;

struct mef3_writer {
  char *path;
  char *session_name;
  int dirfd;
  mef3_writer_options opts; /* strings point into the copies below */
  char *strings[8];
  mef3_keys keys;
  uint8_t pv1[16], pv2[16];
  int s2_enc, s3_enc, data_enc, rec_enc;
  int rto_resolved;
  int64_t rto; /* MEF3_UUTC_NO_ENTRY for "no offset" */
  uint8_t session_uuid[16];
  uint64_t uuid_state; /* 0: random UUIDs */
  wr_channel **ch;
  size_t n_ch, ch_cap;
  mef3__wrecords rec;
  mef3_red_enc_ctx *enc;
  uint8_t *blk;
  size_t blk_cap;
  mef3_writer_stats stats;
  size_t n_active, max_active; /* channels with descriptors open */
  uint64_t use_clock;
};

/* Headers (writer_header.c).  16 random (or seeded) bytes. */
int mef3__writer_uuid(mef3_writer *w, uint8_t out[16]);
/* The universal header of a new file of `type`: the fields common to the
 * files of a writer, `level` as level UUID, and `file_uuid` (NULL: a new
 * one) as file and provenance UUID.  Fails only when no UUID can be
 * had. */
int mef3__writer_file_header(mef3_writer *w, mef3_universal_header *uh,
                             const char *type, int32_t segment,
                             const char *channel, const uint8_t level[16],
                             const uint8_t *file_uuid);

/* On-disk form of a time already known to be valid (see
 * mef3__writer_disk_time): -(t - offset), "no entry" as it is. */
static inline int64_t mef3__writer_disk(const mef3_writer *w, int64_t t) {
  if (t == MEF3_UUTC_NO_ENTRY)
    return t;
  return -(t - (w->rto == MEF3_UUTC_NO_ENTRY ? 0 : w->rto));
}

/* The descriptor budget (writer_fds.c).  Before touching a channel's
 * files, mef3__channel_use: it reopens them if they were parked, parking
 * the least recently used channel when the budget is spent. */
void mef3__writer_fd_budget(mef3_writer *w);
int mef3__channel_use(mef3_writer *w, wr_channel *c);
/* Park channels until one more fits (not `keep`, which may be NULL). */
void mef3__writer_make_room(mef3_writer *w, const wr_channel *keep);
/* A channel whose descriptors were just opened joins the active set. */
void mef3__writer_activated(mef3_writer *w, wr_channel *c);
/* The directory of c's open segment for one write, whether c is active
 * or parked, without changing the active set: its own descriptor, or one
 * opened now that the caller closes (*opened = 1). */
int mef3__segment_dirfd(mef3_writer *w, wr_channel *c, int *out, int *opened);

/* Segments (writer_segment.c).  Create segment `number` of `c` (its
 * statistics start at the channel's sample count); with `publish` it is
 * built under a temporary name and renamed into place, without it the
 * caller publishes it (the channel's directory is new). */
int mef3__segment_create(mef3_writer *w, wr_channel *c, int32_t number,
                         int publish);
/* Create the next segment of `c` (after mef3_writer_new_segment or the
 * first block). */
int mef3__segment_open_next(mef3_writer *w, wr_channel *c);
/* Rewrite the segment's .tmet from its running statistics. */
int mef3__segment_write_metadata(mef3_writer *w, wr_channel *c);
/* Headers of .tdat/.tidx with true counts, then the .tmet (synced in
 * the sync modes). */
int mef3__segment_checkpoint(mef3_writer *w, wr_channel *c);
/* Checkpoint and close the open segment. */
int mef3__segment_finish(mef3_writer *w, wr_channel *c);
/* Close its descriptors and free its names (no checkpoint). */
void mef3__segment_free(wr_segment *g);

/* The recording time offset (writer_time.c).  On-disk form of `t`:
 * -(t - offset).  Settles an automatic offset at the first time seen.
 * MEF3_EINVAL when t is not after the offset. */
int mef3__writer_disk_time(mef3_writer *w, int64_t t, int64_t *out);

/* Records (writer_records.c). */
int mef3__records_init(mef3__wrecords *r, mef3_writer *w, int dirfd,
                       const char *dir, const char *base, int32_t segment,
                       const char *channel);
int mef3__records_checkpoint(mef3_writer *w, mef3__wrecords *r);
void mef3__records_close(mef3__wrecords *r);

/* Samples (writer_samples.c): write the pending samples as a block. */
int mef3__channel_flush(mef3_writer *w, wr_channel *c);

#endif
