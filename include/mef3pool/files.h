/*
 * mef3pool/files.h - the file manager: open sessions, a byte-budgeted tile
 * cache, two decode lanes and window prefetch.
 *
 * This is the layer a server (or any host) reads through.  Every read is
 * oriented purely in channels and time: "channels C over [start, end)".
 * Reads are served from one tile cache shared by every open file: a tile
 * is S = max(1, round(tile_duration_s * fs)) samples of one channel (see
 * mef3_tile_window), only missing tiles are decoded, and the result is
 * cut sample-exactly from the tiles on the channel's own grid.
 *
 * Decoding runs in two disjoint reader process pools: a foreground lane
 * for reads a caller waits for, and a prefetch lane for the windows ahead
 * and behind the one just read, so prefetch never takes a worker a
 * foreground read needs.  With use_process_pool = 0 everything decodes in
 * process (prefetch on background threads).
 *
 * Threads: any number of threads may open, read, close and query at once.
 * No lock is held across a decode or a copy of sample data.
 */
#ifndef MEF3POOL_FILES_H
#define MEF3POOL_FILES_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mef3_files mef3_files;

/* Log levels of the optional log callback. */
typedef enum mef3_log_level {
  MEF3_LOG_DEBUG = 0,
  MEF3_LOG_INFO = 1,
  MEF3_LOG_WARN = 2,
  MEF3_LOG_ERROR = 3
} mef3_log_level;

typedef void (*mef3_log_fn)(mef3_log_level level, const char *message,
                            void *payload);

/* A clock in milliseconds (monotonic); injectable for tests. */
typedef int64_t (*mef3_clock_fn)(void *payload);

#define MEF3_FILES_OPTIONS_VERSION 1

typedef struct mef3_files_options {
  unsigned int version;          /* MEF3_FILES_OPTIONS_VERSION */
  double tile_duration_s;        /* tile length, seconds (60) */
  int64_t tile_cache_bytes;      /* byte budget of the tile cache (512 MiB);
                                    zero or negative is MEF3_EINVAL */
  double cache_ttl_s;            /* drop tiles idle this long (1800); 0 off */
  int use_process_pool;          /* decode in worker processes (1) */
  int reader_processes;          /* both lanes; 0 = cores - 1, at least 2 */
  int prefetch_processes;        /* prefetch lane; -1 = half (at least 1);
                                    the foreground lane keeps at least 1 */
  int min_parallel_tiles;        /* pool only when this many tiles miss (2) */
  int prefetch_ahead_windows;    /* windows prefetched ahead (1) */
  int prefetch_behind_windows;   /* windows prefetched behind (1) */
  int prefetch_threads;          /* threads when the pool is off (4) */
  const char *data_root;         /* confine every path to this folder */
  const char *worker_path;       /* worker program (see pool.h) */
  mef3_clock_fn clock;           /* NULL: CLOCK_MONOTONIC */
  void *clock_payload;
  mef3_log_fn log;               /* NULL: no logging */
  void *log_payload;
  int64_t max_open_files;        /* 0: no limit (else MEF3_ELIMIT) */
} mef3_files_options;

#define MEF3_FILES_OPTIONS_INIT                                                \
  {                                                                            \
    MEF3_FILES_OPTIONS_VERSION, 60.0, (int64_t)512 << 20, 1800.0, 1, 0, -1,   \
        2, 1, 1, 4, NULL, NULL, NULL, NULL, NULL, NULL, 0                      \
  }

/* One channel of an open file. */
typedef struct mef3_file_channel {
  char name[256];
  double fs;             /* sampling rate as a double */
  int64_t start_uutc;    /* first sample */
  int64_t end_uutc;      /* after the last sample */
  int64_t n_samples;
  double units_conversion_factor;
  char units[128];
} mef3_file_channel;

/* What mef3_files_info returns (caller frees with mef3_file_info_free). */
typedef struct mef3_file_info {
  char *path;             /* as the file was opened */
  size_t n_channels;
  mef3_file_channel *channels; /* stable order (see reader.h) */
  int64_t start_uutc;     /* earliest channel start */
  int64_t end_uutc;       /* latest channel end */
  double duration_s;
  int access_level;
  int times_relative;
} mef3_file_info;

/* A window of signal (caller frees with mef3_signal_free). */
typedef struct mef3_signal {
  size_t n_channels;
  size_t n_samples;
  double fs;
  int64_t start_uutc, end_uutc; /* as requested */
  char **channel_names;   /* n_channels names, in the order returned */
  float *data;            /* (n_channels, n_samples), row-major, NaN gaps */
} mef3_signal;

/* Counters. */
typedef struct mef3_files_stats {
  uint64_t hits, misses;          /* tiles found / decoded for reads */
  uint64_t bytes;                 /* bytes held by the cache now */
  uint64_t tiles;                 /* tiles held now */
  uint64_t evictions;             /* tiles dropped for the budget */
  uint64_t expirations;           /* tiles dropped for idleness */
  uint64_t prefetched;            /* tiles loaded by prefetch */
  uint64_t prefetch_used;         /* prefetched tiles later read */
  uint64_t prefetch_wasted;       /* prefetched tiles dropped unread */
  uint64_t reads;                 /* read calls */
  uint64_t open_files;
} mef3_files_stats;

/* Create a manager.  Cheap: pools start at the first read that needs
 * them.  Returns 0, MEF3_EINVAL (bad option), MEF3_ENOMEM. */
MEF3_EXTERN int mef3_files_new(mef3_files **out,
                               const mef3_files_options *opts);

/* Close every file, stop the sweeper, shut both pools down, free.  NULL is
 * fine. */
MEF3_EXTERN void mef3_files_free(mef3_files *fm);

/*
 * Open a session.  Opening a file already open succeeds and sets
 * *already_open (may be NULL) to 1.  A missing path, a directory that is
 * not MEF, a wrong or missing password, or a path outside the data root
 * fail with a clear message and change nothing.
 */
MEF3_EXTERN int mef3_files_open(mef3_files *fm, const char *path,
                                const char *password, int *already_open);

/* Close a file: its tiles are dropped (only its own) and both pools
 * forget it.  MEF3_ENOTFOUND when it is not open. */
MEF3_EXTERN int mef3_files_close(mef3_files *fm, const char *path);

/* Describe an open file.  MEF3_ENOTFOUND when it is not open. */
MEF3_EXTERN int mef3_files_info(mef3_files *fm, const char *path,
                                mef3_file_info **out);
MEF3_EXTERN void mef3_file_info_free(mef3_file_info *info);

/* The paths of the open files (malloc'd array of malloc'd strings). */
MEF3_EXTERN int mef3_files_list(mef3_files *fm, char ***out, size_t *n);
MEF3_EXTERN void mef3_files_list_free(char **paths, size_t n);

/*
 * Read channels over [start_uutc, end_uutc).  An empty channel list means
 * all channels.  Unknown channels, channels of different rates, a file
 * not open and an empty or reversed window are errors.  The result has
 * n = round((end - start) * fs / 1e6) samples per channel, sample i on the
 * channel's own grid at sample round((start - cs) * fs / 1e6) + i, NaN
 * where there is no data.  After the read, windows of the same length
 * ahead and behind are prefetched in the background.
 */
MEF3_EXTERN int mef3_files_read(mef3_files *fm, const char *path,
                                const char *const *channels,
                                size_t n_channels, int64_t start_uutc,
                                int64_t end_uutc, mef3_signal **out);
MEF3_EXTERN void mef3_signal_free(mef3_signal *s);

/* Counters (a consistent snapshot). */
MEF3_EXTERN void mef3_files_stats_get(mef3_files *fm, mef3_files_stats *out);

/*
 * Resolve `path` inside `root` (no "..", no symlink escape): writes the
 * canonical path to `out` (PATH_MAX bytes).  With root NULL, only
 * canonicalizes.  Returns 0, MEF3_EINVAL (outside the root, NUL, too
 * long) or MEF3_ENOTFOUND.
 */
MEF3_EXTERN int mef3_files_resolve(const char *root, const char *path,
                                   char *out, size_t out_len);

#ifdef __cplusplus
}
#endif
#endif
