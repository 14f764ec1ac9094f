/* reader/reader_impl.h - the reader's private state, shared by
 * reader/session.c (opening, tables) and reader/window.c (reads). */
#ifndef MEF3_READER_IMPL_H
#define MEF3_READER_IMPL_H

#include "util/beneath.h"
#include "mef3pool/reader.h"

struct mef3__tar;

/* Sampling rates the reader accepts (others are a corrupt field). */
#define MEF3_MIN_FS 1e-3
#define MEF3_MAX_FS 1e9
/* A block claiming more samples than this is damaged: it is reported and
 * lost, and never sizes a buffer. */
#define MEF3_MAX_BLOCK_SAMPLES ((uint32_t)1 << 24)

typedef struct rd_segment {
  mef3_segment_info info;
  mef3_metadata md;
  mef3_keys keys; /* keys of this segment's files */
  char *dir;      /* the .segd directory */
  char *tdat_path;
  int fd;                     /* -1 until first read (directories only) */
  uint64_t tar_off, tar_size; /* the data file's member (archives only) */
  uint64_t last_use;        /* for closing the least recently used data file */
  int64_t uh_start, uh_end; /* the metadata header's times, on disk */
  int64_t rto;              /* recording time offset of its times (or 0) */
  int32_t number;           /* segment number (metadata header; -1: none) */
  uint32_t ident;           /* fingerprint of the metadata header's session,
                               channel, segment number and level UUID: the
                               index and data files must carry the same */
  uint64_t data_ino;        /* the data file when last checked (0: never) */
  int64_t data_size, data_mtime_ns;
} rd_segment;

typedef struct rd_channel {
  mef3_channel_info info;
  char *name;
  char *path;
  rd_segment *segs;
  size_t n_segs;
  mef3_block_info *blocks;
  int64_t *end_max; /* running maximum of block end times, µs */
  size_t n_blocks;
  mef3_contiguon *contigua;
  size_t n_contigua;
} rd_channel;

struct mef3_reader {
  char *path;
  char *session_name;
  int is_session;        /* opened a .mefd (1) or a single .timd (0) */
  struct mef3__tar *tar; /* a session read from a tar archive, else NULL */
  mef3__beneath *root;   /* opts.root opened, else NULL (util/beneath.h) */
  mef3_reader_options opts;
  char *password;
  int access_level;
  rd_channel *ch;
  size_t n_ch;
  /* read state, reused across reads */
  mef3_red_ctx *red;
  uint8_t *io;
  size_t io_cap;
  int32_t *dec;
  size_t dec_cap;
  size_t open_fds;
  uint64_t use_clock;
};

/* reader/source.c: the files of a session, in a directory or an archive
 * (paths below the archive's path name its members). */
int mef3__rd_is_dir(const mef3_reader *r, const char *path);
/* As mef3__list_dir. */
int mef3__rd_list(const mef3_reader *r, char ***out, size_t *n, const char *dir,
                  const char *suffix);
/* As mef3__read_file. */
int mef3__rd_read_file(const mef3_reader *r, uint8_t **out, size_t *len,
                       const char *path, size_t max);
/* At open: the data file of `s` exists (and, in an archive, where it
 * lies); MEF3_ENOTFOUND naming it otherwise. */
int mef3__rd_locate_data(const mef3_reader *r, rd_segment *s);

/* Make sure the data file of `s` is open; returns 0 or an error. */
int mef3__reader_data_fd(mef3_reader *r, rd_segment *s);

/* pread of the data file of `s` (open): bytes read, short at the end of
 * the file (of the member, in an archive), or -1 with errno set. */
long long mef3__reader_data_pread(mef3_reader *r, rd_segment *s, void *buf,
                                  size_t len, uint64_t off);

/* With the data file of `s` open: check that it is this segment's (its
 * universal header, when it has one that parses, names the same session,
 * channel, segment and level UUID as the metadata).  Checked again only
 * when the file's inode, size or modification time has changed.  Returns
 * 0 or MEF3_ECORRUPT naming the file (it is closed). */
int mef3__reader_data_check(mef3_reader *r, rd_segment *s);

/* reader/session.c: what makes a segment's files one segment's (a
 * fingerprint of a universal header), and the error for a file of
 * another segment. */
uint32_t mef3__uh_ident(const mef3_universal_header *uh);
int mef3__foreign_file(const char *path, const mef3_universal_header *uh,
                       const char *kind);

#endif
