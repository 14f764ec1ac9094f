/*
 * mef3pool/files.h - the file manager: open sessions, a byte-budgeted tile
 * cache, two decode lanes and window prefetch.
 *
 * This is the layer a server (or any host) reads through.  Every read is
 * oriented purely in channels and time: "channels C over [start, end)".
 * Reads are served from one tile cache shared by every open file: a tile
 * is S = max(1, round(tile_duration_s * fs)) samples of one channel (see
 * mef3_tile_window), only missing tiles are decoded, and the result is
 * cut sample-exactly from the tiles on the channel's own grid.  Readers
 * that need a tile another reader (or the prefetcher) is decoding wait
 * for that decode instead of repeating it.
 *
 * Decoding runs in two disjoint reader process pools: a foreground lane
 * for reads a caller waits for, and a prefetch lane for the windows ahead
 * and behind the one just read, so prefetch never takes a worker a
 * foreground read needs.  A read that needs tiles the prefetcher is
 * loading waits only for those being decoded or due to be done before
 * the read's own lane could decode the rest; prefetch still queued beyond
 * that is canceled and the read decodes those tiles itself.  With
 * use_process_pool = 0 everything decodes in process (prefetch on
 * background threads).  Pools and threads start at first use.
 *
 * Paths.  Every path is resolved (mef3_files_resolve) inside the data
 * root when one is set.  A file is known by its canonical path; the
 * string a caller opened it with, and its canonical path, name it in
 * later calls until it is closed.
 *
 * Access (who may read what; every edge follows these rules by calling
 * the _as functions with the caller's credential, never by rules of its
 * own; docs/security.md):
 *  - Every open checks the password it carries, whether the file is open
 *    already or not: a wrong one, or none where the metadata needs one,
 *    is MEF3_EPASSWORD and changes nothing.
 *  - An open file is one view per access level its openers' passwords
 *    gave (0: none needed, 1, 2).  A view is read only with its own
 *    password: a level-1 view never holds metadata section 3, absolute
 *    times or blocks encrypted at level 2, whoever else opened the file;
 *    a level-2 open gets a level-2 view even while a level-1 one is
 *    open.  Views share the tile cache's budget, never tiles.
 *  - A view of level 1 or 2 has an access token (MEF3_FILES_TOKEN_CHARS
 *    hex digits, 128 random bits), which mef3_files_open_as gives to
 *    each opener whose password reaches that level.  Every later call on
 *    the view (info, read, close) must present it; a call without a token
 *    reaches only the level-0 view, so files without encryption work by
 *    path alone.  A token names one view of one file: another file's, or
 *    one of a closed view (even if the file is opened again), is
 *    MEF3_EPASSWORD.  Tokens and passwords never appear in a log or a
 *    message.
 *  - A close closes the view its token (or no token: level 0) names.
 *  The functions without _as are the _as ones with no token.
 *
 * Threads: any number of threads may open, read, close and query at once;
 * mef3_files_free must come after every other call has returned.  No
 * lock is held across a decode or a copy of sample data.  The log
 * callback may run on any thread, including a pool's service thread: it
 * must not block for long nor call back into the manager.
 */
#ifndef MEF3POOL_FILES_H
#define MEF3POOL_FILES_H

#include "common.h"
#include "format.h"
#include "log.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mef3_files mef3_files;

/* A clock in milliseconds (monotonic); injectable for tests.  It may be
 * called from any thread, with the cache lock held: keep it trivial. */
typedef int64_t (*mef3_clock_fn)(void *payload);

#define MEF3_FILES_OPTIONS_VERSION 1

typedef struct mef3_files_options {
  unsigned int version;        /* MEF3_FILES_OPTIONS_VERSION */
  double tile_duration_s;      /* tile length, seconds (60) */
  int64_t tile_cache_bytes;    /* byte budget of the tile cache (512 MiB);
                                  zero or negative is MEF3_EINVAL */
  double cache_ttl_s;          /* drop tiles idle this long (1800); 0 off */
  int use_process_pool;        /* decode in worker processes (1) */
  int reader_processes;        /* both lanes; 0 = cores - 1, at least 2 */
  int prefetch_processes;      /* prefetch lane; -1 = half (at least 1);
                                  the foreground lane keeps at least 1 */
  int min_parallel_tiles;      /* pool only when this many tiles miss (2) */
  int prefetch_ahead_windows;  /* windows prefetched ahead (1) */
  int prefetch_behind_windows; /* windows prefetched behind (1) */
  int prefetch_threads;        /* threads when the pool is off (4) */
  const char *data_root;       /* confine every path to this folder
                                  (must exist); NULL: no confinement */
  const char *worker_path;     /* worker program (see pool.h); NULL:
                                  $MEF3POOL_WORKER, next to the
                                  executable, the installed one */
  mef3_clock_fn clock;         /* NULL: CLOCK_MONOTONIC */
  void *clock_payload;
  mef3_log_fn log; /* NULL: no logging */
  void *log_payload;
  int64_t max_open_files; /* 0: no limit (else MEF3_ELIMIT) */
} mef3_files_options;

#define MEF3_FILES_OPTIONS_INIT                                                \
  {                                                                            \
    MEF3_FILES_OPTIONS_VERSION, 60.0, (int64_t)512 << 20, 1800.0, 1, 0, -1, 2, \
        1, 1, 4, NULL, NULL, NULL, NULL, NULL, NULL, 0                         \
  }

/* Hex digits of an access token. */
#define MEF3_FILES_TOKEN_CHARS 32

/* What an open gave (mef3_files_open_as). */
typedef struct mef3_files_access {
  int level; /* 0, 1 or 2 */
  char token[MEF3_FILES_TOKEN_CHARS + 1]; /* "" for level 0 (none needed) */
} mef3_files_access;

/* One channel of an open file.  A channel without any block has
 * MEF3_UUTC_NO_ENTRY times and reads as NaN. */
typedef struct mef3_file_channel {
  char name[256];
  double fs;          /* sampling rate as a double */
  int64_t start_uutc; /* first sample (the origin of its tile grid) */
  int64_t end_uutc;   /* after the last sample */
  int64_t n_samples;
  double units_conversion_factor;
  char units[128];
} mef3_file_channel;

/* What mef3_files_info returns (caller frees with mef3_file_info_free). */
typedef struct mef3_file_info {
  char *path; /* as the file was first opened */
  size_t n_channels;
  mef3_file_channel *channels; /* stable order (see reader.h) */
  int64_t start_uutc;          /* earliest channel start */
  int64_t end_uutc;            /* latest channel end */
  double duration_s;           /* (end_uutc - start_uutc) / 1e6 */
  int access_level;            /* what the password gave: 0, 1 or 2 */
  int times_relative;          /* 1: recording time offset unknown (reader.h) */
  char *real_path;             /* canonical path: the file's key */
} mef3_file_info;

/* A window of signal (caller frees with mef3_signal_free). */
typedef struct mef3_signal {
  size_t n_channels;
  size_t n_samples;
  double fs;
  int64_t start_uutc, end_uutc; /* as requested */
  char **channel_names;         /* n_channels names, in the order returned */
  float *data; /* (n_channels, n_samples), row-major, NaN gaps */
} mef3_signal;

/* Counters.  Tiles before a channel's start are NaN by construction and
 * are neither cached nor counted. */
typedef struct mef3_files_stats {
  uint64_t hits, misses;    /* tiles of reads found cached / decoded
                               for them */
  uint64_t bytes;           /* bytes of samples cached now */
  uint64_t tiles;           /* tiles cached now */
  uint64_t evictions;       /* tiles dropped for the budget */
  uint64_t expirations;     /* tiles dropped for idleness */
  uint64_t prefetched;      /* tiles loaded by prefetch */
  uint64_t prefetch_used;   /* prefetched tiles later read */
  uint64_t prefetch_wasted; /* prefetched tiles dropped unread */
  uint64_t reads;           /* successful read calls */
  uint64_t open_files;      /* open views (one per file and level) */
  uint64_t waits;           /* tiles of reads found being decoded
                               (by a read or a prefetch), waited for */
  uint64_t pool_tiles;      /* misses decoded in the foreground pool */
  uint64_t local_tiles;     /* misses decoded in process */
  uint64_t prefetch_failed; /* prefetch tiles not loaded: failed or
                               canceled by a read */
} mef3_files_stats;

/*
 * Create a manager.  Cheap: pools start at the first read that needs
 * them; the idle sweeper thread starts when cache_ttl_s > 0.  `opts` may
 * be NULL for the defaults; its strings are copied.  Returns 0,
 * MEF3_EINVAL (bad option, named in the message: a budget of zero or
 * less, a non-positive tile duration, reader_processes of 1 with the
 * pool on, prefetch_processes outside [1, reader_processes - 1], ...),
 * MEF3_ENOTFOUND (data root missing), MEF3_ENOMEM.  `*out` is the
 * caller's (mef3_files_free).
 */
MEF3_EXTERN int mef3_files_new(mef3_files **out,
                               const mef3_files_options *opts);

/* Stop the sweeper and the prefetch threads, shut both pools down
 * (queued prefetch is canceled, running decodes are waited for), close
 * every file, free.  Call once, after every other call has returned.
 * NULL is fine. */
MEF3_EXTERN void mef3_files_free(mef3_files *fm);

/*
 * Open a session (NAME.mefd) or channel (NAME.timd) directory, with an
 * optional password (NULL or "": none; kept in memory for the workers,
 * never logged), and get the view of the level it gives (see Access
 * above): `*out` (may be NULL) receives the level and, for levels 1 and
 * 2, the token every later call on the view must present.  The password
 * is checked on every open.  Opening a view already open (by any path
 * that resolves to its file) succeeds, sets *already_open (may be NULL;
 * else set to 0) to 1, gives the same token and changes nothing else.
 * Returns 0, MEF3_ENOTFOUND (no such path, or no time-series channel in
 * it), MEF3_EPASSWORD (wrong or missing password), MEF3_EINVAL (outside
 * the data root, a symbolic link inside the session leading out of it),
 * MEF3_ECORRUPT / MEF3_ECRC / MEF3_EUNSUPPORTED (from the reader),
 * MEF3_ELIMIT (max_open_files, which counts views), MEF3_ENOMEM; on
 * failure nothing changes and mef3_error_last() says what is wrong.
 */
MEF3_EXTERN int mef3_files_open_as(mef3_files_access *out, int *already_open,
                                   mef3_files *fm, const char *path,
                                   const char *password);
MEF3_EXTERN int mef3_files_open(int *already_open, mef3_files *fm,
                                const char *path, const char *password);

/* Close the view `path` and `token` name: its tiles are dropped (only its
 * own), reads and prefetches of it still running finish without caching
 * anything, both pools forget it (and its password), and its token is
 * dead.  Other views of the file stay open.  Returns 0, MEF3_ENOTFOUND
 * when it is not open, MEF3_EPASSWORD (token missing or not the view's). */
MEF3_EXTERN int mef3_files_close_as(mef3_files *fm, const char *path,
                                    const char *token);
MEF3_EXTERN int mef3_files_close(mef3_files *fm, const char *path);

/* Describe the view `path` and `token` name: `*out` is the caller's
 * (mef3_file_info_free).  Returns 0, MEF3_ENOTFOUND when it is not open,
 * MEF3_EPASSWORD (token missing or not the view's), MEF3_ENOMEM. */
MEF3_EXTERN int mef3_files_info_as(mef3_file_info **out, mef3_files *fm,
                                   const char *path, const char *token);
MEF3_EXTERN int mef3_files_info(mef3_file_info **out, mef3_files *fm,
                                const char *path);
MEF3_EXTERN void mef3_file_info_free(mef3_file_info *info);

/* The paths of the open files (one per file, whatever its views: the path
 * it was first opened by), in opening order (a file closed and opened
 * again goes last; an allocated
 * array of allocated strings, the caller's: mef3_files_list_free).
 * Returns 0 or MEF3_ENOMEM. */
MEF3_EXTERN int mef3_files_list(char ***out, size_t *n, mef3_files *fm);
MEF3_EXTERN void mef3_files_list_free(char **paths, size_t n);

/*
 * Samples the file manager serves for [start_uutc, end_uutc) at rate fs:
 * round((end - start) * fs / 1e6) with halves to even, as the original
 * server's Python round() (1000 Hz, 2500 µs: 2 samples; 250 Hz,
 * 10.002 s: 2500); 0 when end <= start.  The reader's
 * mef3_window_samples rounds halves away from zero: the two differ only
 * on exact ties.  Any thread.
 */
MEF3_EXTERN int64_t mef3_files_window_samples(int64_t start_uutc,
                                              int64_t end_uutc, double fs);

/*
 * Read channels over [start_uutc, end_uutc).  An empty channel list
 * (n_channels 0) means all channels, in the file's order; a name may
 * appear more than once.  The result has n =
 * mef3_files_window_samples(start, end, fs) samples per channel, sample i
 * being grid sample round((start - cs) * fs / 1e6) + i of the channel's
 * own grid (cs: its start; grid sample k stands for cs + k/fs; halves
 * rounded to even, as the original: a start 2 ms after a 250 Hz
 * channel's first sample is grid sample 0), NaN where there is no data.
 *
 * Against a direct read (mef3_reader_read_time of the same window): the
 * result is bit-identical whenever `start` lies on the channel's grid,
 * i.e. start = cs + round(k * 1e6 / fs) for an integer k.  Otherwise the
 * window is snapped to the grid sample nearest to `start` (halves to
 * even), while a direct read places each block at the slot nearest
 * to its start time measured from `start` itself; the two still agree
 * when the blocks lie on the grid and `start` is not exactly half a
 * sample off it, and otherwise a block may sit one slot apart.  Repeated
 * reads are bit-identical either way.
 *
 * After the read, the windows of the same length ahead and behind
 * (prefetch_ahead_windows, prefetch_behind_windows) are loaded in the
 * background; failures there are logged, never returned.
 *
 * The view read is the one `path` and `token` name (mef3_files_read_as;
 * mef3_files_read reads the level-0 view).
 *
 * Returns 0, MEF3_ENOTFOUND (file not open, unknown channel),
 * MEF3_EPASSWORD (token missing or not the view's), MEF3_EINVAL (end <= start, a window shorter than one sample, channels
 * of different rates; with a data root, a file replaced since its open so
 * that its path, or a link in its tree, now leads elsewhere: see
 * mef3_files_resolve), MEF3_ELIMIT (result too large), MEF3_ENOMEM.  A
 * block that cannot be read or decoded is NaN, as in the reader.  `*out`
 * is the caller's (mef3_signal_free).
 */
MEF3_EXTERN int mef3_files_read_as(mef3_signal **out, mef3_files *fm,
                                   const char *path, const char *token,
                                   const char *const *channels,
                                   size_t n_channels, int64_t start_uutc,
                                   int64_t end_uutc);
MEF3_EXTERN int mef3_files_read(mef3_signal **out, mef3_files *fm,
                                const char *path, const char *const *channels,
                                size_t n_channels, int64_t start_uutc,
                                int64_t end_uutc);
MEF3_EXTERN void mef3_signal_free(mef3_signal *s);

/*
 * As mef3_files_read, into the caller's memory: `data` (`cap` floats)
 * receives the (channels, samples) window row-major and `*n_samples` its
 * length per channel, which is mef3_files_window_samples(start, end, fs) of the
 * channels' rate.  A window that does not fit is MEF3_ELIMIT, nothing
 * written.  For callers that read window after window into memory they
 * keep (a server's send buffers, a viewer's display): fresh memory costs
 * page faults on every read, reused memory does not.
 */
MEF3_EXTERN int mef3_files_read_into_as(size_t *n_samples, mef3_files *fm,
                                        const char *path, const char *token,
                                        const char *const *channels,
                                        size_t n_channels, int64_t start_uutc,
                                        int64_t end_uutc, float *data,
                                        size_t cap);
MEF3_EXTERN int mef3_files_read_into(size_t *n_samples, mef3_files *fm,
                                     const char *path,
                                     const char *const *channels,
                                     size_t n_channels, int64_t start_uutc,
                                     int64_t end_uutc, float *data, size_t cap);

/* The canonical data root (borrowed, valid until mef3_files_free), or
 * NULL when paths are not confined. */
MEF3_EXTERN const char *mef3_files_root(const mef3_files *fm);

/* Counters (the cache's are one consistent snapshot). */
MEF3_EXTERN void mef3_files_get_stats(mef3_files_stats *out, mef3_files *fm);

/*
 * Resolve `path` inside `root`: writes the canonical path (symbolic links
 * followed, no "." or "..") to `out` (`out_len` bytes, PATH_MAX is
 * enough).  With a root, a relative path is taken relative to the root,
 * an absolute one must lie inside it, no component may be "..", and the
 * canonical result must be the root or lie below it (so no symbolic link
 * leads out).  With root NULL, only canonicalizes.  A C string cannot
 * carry a NUL: callers taking paths from the wire must reject strings
 * whose length differs from strlen().  Returns 0, MEF3_EINVAL (outside
 * the root, "..", empty, longer than PATH_MAX, out_len too small) or
 * MEF3_ENOTFOUND (does not exist).
 */
MEF3_EXTERN int mef3_files_resolve(const char *root, const char *path,
                                   char *out, size_t out_len);


/* ---- envelopes: min/max overviews (src/files/envelope.c) ---- */

/* Bin width, in samples, of the finest level of the envelope pyramid;
 * level k has bins of MEF3_ENVELOPE_BASE * 4^k samples. */
#define MEF3_ENVELOPE_BASE 256

/*
 * A window reduced to columns of (min, max) per channel (caller frees
 * with mef3_envelope_free).  Column j of channel c covers the grid
 * samples [first_sample[c] + j * samples_per_column, ... +
 * samples_per_column) of that channel (grid sample k stands for cs +
 * k/fs, cs the channel's start); its min and max are those of the
 * samples there that are not NaN, and NaN when there is none (a gap stays
 * a gap at every level).
 */
typedef struct mef3_envelope {
  size_t n_channels;
  size_t n_columns;
  double fs;
  int64_t samples_per_column;
  int level;             /* -1: from samples; k: from pyramid level k */
  int64_t start_uutc, end_uutc; /* as requested */
  int64_t *first_sample; /* n_channels grid samples where column 0 starts */
  int64_t *first_uutc;   /* their times: cs + round(first * 1e6 / fs) */
  char **channel_names;  /* n_channels names, in the order returned */
  float *min, *max;      /* (n_channels, n_columns), row-major */
} mef3_envelope;

/*
 * The envelope of channels over [start_uutc, end_uutc) in at most
 * `max_columns` columns.  Channels as in mef3_files_read (empty list: all;
 * one rate).  With n samples in the window, samples_per_column is
 * ceil(n / max_columns); below MEF3_ENVELOPE_BASE the columns start at
 * the window's first grid sample and are reduced from the samples;
 * otherwise it is rounded up to a multiple of MEF3_ENVELOPE_BASE, column
 * 0 starts at the multiple of MEF3_ENVELOPE_BASE at or before the
 * window's first grid sample, and the columns come from the pyramid: per
 * tile, min/max bins of every level, built once from the tile's samples
 * and kept in a cache of their own (a quarter of tile_cache_bytes), so
 * that they outlive the tiles; tiles are decoded only for pyramids not
 * cached.  Columns cover the window (the last may reach past its end).
 *
 * The values equal the min and max of a direct read of each column's
 * samples.  Returns what mef3_files_read returns, and MEF3_EINVAL for
 * max_columns 0 or over 1 << 20.  The view is the one `path` and `token`
 * name (mef3_files_envelope_as; see Access).  `*out` is the caller's.
 */
MEF3_EXTERN int mef3_files_envelope_as(mef3_envelope **out, mef3_files *fm,
                                       const char *path, const char *token,
                                       const char *const *channels,
                                       size_t n_channels, int64_t start_uutc,
                                       int64_t end_uutc, size_t max_columns);
MEF3_EXTERN int mef3_files_envelope(mef3_envelope **out, mef3_files *fm,
                                    const char *path,
                                    const char *const *channels,
                                    size_t n_channels, int64_t start_uutc,
                                    int64_t end_uutc, size_t max_columns);
MEF3_EXTERN void mef3_envelope_free(mef3_envelope *e);

/* Counters of the envelope cache. */
typedef struct mef3_envelope_stats {
  uint64_t pyramids;  /* tile pyramids cached now */
  uint64_t bytes;     /* their bytes */
  uint64_t built;     /* pyramids ever built */
  uint64_t hits;      /* pyramids of envelope calls found cached */
  uint64_t evictions; /* dropped for the budget */
} mef3_envelope_stats;
MEF3_EXTERN void mef3_files_get_envelope_stats(mef3_envelope_stats *out,
                                               mef3_files *fm);

/* ---- what else a viewer shows of a file (src/files/file_meta.c) ---- */
/* Each reads the view `path` names with no token; its _as twin the view
 * `path` and `token` name (see Access; MEF3_EPASSWORD as there). */

/* A run of a channel with data, [start_uutc, end_uutc). */
typedef struct mef3_time_run {
  int64_t start_uutc, end_uutc;
} mef3_time_run;

/*
 * The contiguous runs of channel `channel` of an open file (gaps lie
 * between them), in time order: `*out` is an allocated array of `*n`
 * (the caller's: mef3_free).  Returns 0, MEF3_ENOTFOUND (not open, no
 * such channel), MEF3_ENOMEM.
 */
MEF3_EXTERN int mef3_files_contigua(mef3_time_run **out, size_t *n,
                                    mef3_files *fm, const char *path,
                                    const char *channel);
MEF3_EXTERN int mef3_files_contigua_as(mef3_time_run **out, size_t *n,
                                       mef3_files *fm, const char *path,
                                       const char *token, const char *channel);

/*
 * The records (annotations) of an open file whose time lies in
 * [start_uutc, end_uutc), or whose span (time + duration) meets it,
 * ordered by time (mef3_reader_records; records files that fail to parse
 * are left out).  `*out` is the caller's (mef3_records_free).  Returns 0,
 * MEF3_ENOTFOUND, MEF3_EINVAL (end < start), MEF3_ENOMEM.
 */
MEF3_EXTERN int mef3_files_records(mef3_record **out, size_t *n, mef3_files *fm,
                                   const char *path, int64_t start_uutc,
                                   int64_t end_uutc);
MEF3_EXTERN int mef3_files_records_as(mef3_record **out, size_t *n,
                                      mef3_files *fm, const char *path,
                                      const char *token, int64_t start_uutc,
                                      int64_t end_uutc);

/* The recording's offset of local time from UTC, seconds (metadata
 * section 3 of the first channel's first segment); *known 0 when not
 * given or not readable at the access level.  Returns 0 or
 * MEF3_ENOTFOUND. */
MEF3_EXTERN int mef3_files_gmt_offset(int32_t *seconds, int *known,
                                      mef3_files *fm, const char *path);
MEF3_EXTERN int mef3_files_gmt_offset_as(int32_t *seconds, int *known,
                                         mef3_files *fm, const char *path,
                                         const char *token);

#ifdef __cplusplus
}
#endif
#endif
